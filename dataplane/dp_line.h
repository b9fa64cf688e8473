/*
 * dp_line.h - the InfluxDB line protocol decoder: one text line in, one
 * measurement + sorted tag set + typed fields + timestamp out, and the
 * canonical series key (st_series.h) of each field.
 *
 *   weather,location=us\ west,site=3 temp=82.5,hum=51i,ok=t,note="dry" 1465839830100400200
 *
 * Usage profile: every line that reaches StreamFlow over UDP, TCP or the
 * HTTP /write API goes through dp_line_decode() on a dataplane core, tens of
 * millions of values per second per machine; TSBS lines are ~330 bytes with
 * 10 tags and 10 fields. So the decoder is a pure function over the caller's
 * buffer: zero-copy (names and string values are slices of the input), no
 * allocation, no locale, no syscalls, bounded work per byte. Bad input of any
 * kind gives a status, never a crash; a bad line costs only that line.
 *
 * The grammar accepted, the reasons for rejecting and the mapping from a line
 * to series keys and points are in docs/formats/line-protocol.md.
 *
 * Threads: a struct dp_line belongs to one core at a time (it is scratch
 * state, typically one per RX core); the functions keep no global state.
 */
#ifndef DP_LINE_H
#define DP_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_num.h"
#include "st_series.h"
#include "st_types.h"

/* A line longer than this (without its '\n') is DP_LINE_TOO_LONG. */
#define DP_LINE_MAX_BYTES (1u << 20)
/* Room for the unescaped copies of the names of one line that contain escapes. */
#define DP_LINE_SCRATCH_BYTES (2 * ST_KEY_MAX)
/* A sensible size for the caller's field array (TSBS: 10; InfluxDB has no limit). */
#define DP_LINE_FIELDS_DEFAULT 256
/* Float tokens that need the slow (strtod) path are at most this long. */
#define DP_LINE_FLOAT_MAX_BYTES DP_NUM_MAX_BYTES /* dp_num.h */

/* Why a line was or was not decoded; callers count lines per status. */
enum dp_line_status {
	DP_LINE_OK = 0,
	DP_LINE_EMPTY,            /* blank or whitespace-only line, or a '#' comment */
	DP_LINE_TRUNCATED,        /* no complete line in the buffer; nothing consumed */
	DP_LINE_TOO_LONG,         /* line longer than DP_LINE_MAX_BYTES */
	DP_LINE_BAD_MEASUREMENT,  /* empty measurement */
	DP_LINE_BAD_TAG,          /* empty tag key or value, missing or extra '=' */
	DP_LINE_DUP_TAG,          /* the same tag key twice */
	DP_LINE_BAD_FIELD,        /* no field section, empty field key, missing '=' */
	DP_LINE_BAD_VALUE,        /* missing, malformed or out-of-range field value */
	DP_LINE_BAD_TIMESTAMP,    /* not an integer, or out of int64 ns after precision */
	DP_LINE_TOO_MANY_TAGS,    /* more than ST_TAGS_MAX tags */
	DP_LINE_TOO_MANY_FIELDS,  /* more distinct fields than the caller's array holds */
	DP_LINE_KEY_TOO_LONG,     /* a series key over ST_KEY_MAX, or unescaped names over scratch */
	DP_LINE__COUNT
};

/* Short reason for stats and logs ("bad_value"); "unknown" when out of range. */
const char *dp_line_status_name(enum dp_line_status st);

enum dp_line_opt_flags {
	/*
	 * The buffer ends at a line boundary (one UDP datagram, a whole HTTP
	 * body): a last line without '\n' is a line. Without this flag the buffer
	 * is a chunk of a stream and such a tail is DP_LINE_TRUNCATED.
	 */
	DP_LINE_COMPLETE = 1u << 0,
};

/* How to decode; plain struct, built once per buffer (or per connection). */
struct dp_line_opts {
	int64_t now_ns;     /* timestamp of lines that carry none (not scaled) */
	int64_t unit_ns;    /* ns per timestamp unit: 1 (default), 1000 (u), ... */
	uint32_t flags;     /* enum dp_line_opt_flags */
};

enum dp_field_flags {
	/* ST_VT_STR value contains \" or \\ escapes: see dp_line_str_unescape(). */
	DP_FIELD_ESCAPED = 1u << 0,
};

/*
 * One field of a decoded line. Plain struct: the caller walks the array on
 * the hot path. key is unescaped (a slice of the input, or of the line's
 * scratch when the key had escapes). For ST_VT_STR, str holds the raw bytes
 * between the quotes, escapes kept (flag DP_FIELD_ESCAPED).
 */
struct dp_field {
	struct st_str key;
	union {
		union st_value v;   /* F64, I64, U64, BOOL */
		struct st_str str;  /* STR */
	};
	uint8_t type;   /* enum st_value_type */
	uint8_t flags;  /* enum dp_field_flags */
};

enum dp_line_flags {
	DP_LINE_HAS_TS = 1u << 0,     /* the timestamp came from the line */
	DP_LINE_DUP_FIELD = 1u << 1,  /* a field key repeated; the last value won */
	DP_LINE_UNESCAPED = 1u << 2,  /* some name points into scratch */
};

/*
 * A decoded line. Plain struct: one per core (about 15 KB: keep it in the
 * per-core state, not on a small stack), reused for every line, read directly
 * by the caller. After DP_LINE_OK:
 *   measurement  non-empty, unescaped
 *   tags[ntags]  unescaped, sorted by key (st_series order), keys unique
 *   fields[nfields]  1 <= nfields, keys unique (last occurrence wins)
 *   ts_ns        the line's timestamp times unit_ns, or opts->now_ns
 * Slices point into the input buffer or into scratch[]: valid while both the
 * buffer and this struct are unchanged (the next decode overwrites them).
 * text is the line without its '\n' and surrounding whitespace (every status
 * but TRUNCATED; the first DP_LINE_MAX_BYTES for TOO_LONG); for the other
 * rejections err_off is the offset in text of the offending token, for error
 * messages. The members after tags are the decoder's own.
 */
struct dp_line {
	struct st_str measurement;
	int64_t ts_ns;
	uint32_t ntags;
	uint32_t nfields;
	uint32_t flags;       /* enum dp_line_flags */
	uint32_t err_off;
	struct st_str text;
	struct dp_field *fields;  /* kept from dp_line_init(); owned by the caller */
	uint32_t fields_cap;
	struct st_tag tags[ST_TAGS_MAX];

	uint32_t key_base_bytes;  /* series key bytes without the field key */
	uint32_t key_tmpl_bytes;  /* 0 until dp_line_key() builds key_tmpl */
	uint32_t scratch_used;
	char scratch[DP_LINE_SCRATCH_BYTES];  /* unescaped names */
	uint8_t key_tmpl[ST_KEY_MAX];         /* the line's key with an empty field */
};

/*
 * Prepare line for decoding into fields[fields_cap] (kept: it must outlive
 * every use of line; owned by the caller). fields_cap >= 1. No release
 * function: nothing is allocated.
 */
void dp_line_init(struct dp_line *line, struct dp_field *fields, uint32_t fields_cap);

/*
 * HOT PATH. Decode the first line of buf[len] into *line and set *consumed to
 * the bytes to skip to reach the next line: up to and including its '\n', or
 * all of len for a last line without '\n' when opts has DP_LINE_COMPLETE.
 * Every status but TRUNCATED consumes at least one byte, so a loop of calls
 * always progresses and a bad line never costs the lines after it.
 * TRUNCATED (consumed 0): len == 0, or a stream chunk without '\n' (feed more
 * bytes; a line that outgrows the caller's buffer is the caller's to drop).
 * buf and opts are borrowed; the decoded slices borrow buf (see struct
 * dp_line). The line's contents are meaningful only after DP_LINE_OK.
 */
enum dp_line_status dp_line_decode(struct dp_line *line, const char *buf, size_t len,
				   const struct dp_line_opts *opts, size_t *consumed);

/*
 * HOT PATH. Write the canonical series key of field i (< line->nfields) of a
 * line decoded DP_LINE_OK into out[cap]: the bytes st_key_build() gives for
 * (measurement, field key, tags). The first call per line builds the
 * field-independent part with st_key_build() into line->key_tmpl; each call
 * then splices its field key in (three memcpy). Returns the key length
 * (> 0), or -ENOSPC when cap is too small; with cap >= ST_KEY_MAX it cannot
 * fail (the decoder checked every limit).
 */
int dp_line_key(struct dp_line *line, uint32_t i, uint8_t *out, size_t cap);

/* HOT PATH. Field i of a DP_LINE_OK line as a point (a STR field: type only). */
static inline void dp_line_point(const struct dp_line *line, uint32_t i, struct st_point *out)
{
	const struct dp_field *f = &line->fields[i];
	out->ts_ns = line->ts_ns;
	out->type = f->type;
	if (f->type == ST_VT_STR)
		out->v.u64 = 0;
	else
		out->v = f->v;
}

/*
 * Unescape a string field value (\" -> ", \\ -> \; any other backslash is
 * kept) into out[cap]. Returns the length (<= raw.len) or -ENOSPC when
 * cap < raw.len. raw and out are borrowed and must not overlap.
 */
int dp_line_str_unescape(struct st_str raw, char *out, size_t cap);

/*
 * Parse an HTTP /write precision ("n", "ns", "u", "us", "ms", "s", "m", "h")
 * into ns per unit. Returns 0 or -EINVAL. Any thread.
 */
int dp_line_precision(const char *name, int64_t *unit_ns);

#endif /* DP_LINE_H */
