/*
 * dp_statsd.h - the StatsD decoder with the DogStatsD extensions: one text
 * line in, one metric out (name, type, one or more values, sample rate,
 * tags, timestamp), and the canonical series key (st_series.h) of a metric
 * for a field name the caller chooses.
 *
 *   page.views:1|c
 *   api.latency:12.5:13:11|d|@0.5|#env:prod,region:eu,canary|T1656581400
 *
 * Usage profile: every StatsD datagram that reaches StreamFlow over UDP
 * (or a '\n'-framed TCP stream) goes through dp_statsd_decode() on a
 * dataplane core, one call per line; lines are short (20 to 300 bytes).
 * The decoder is a pure function over the caller's buffer: zero-copy (the
 * name, raw values and tags are slices of the input), no allocation, no
 * locale, no syscalls, bounded work per byte. It does not aggregate: a
 * counter line is one metric with its values, whatever came before. Bad
 * input gives a status, never a crash; a bad line costs only that line.
 *
 * The grammar accepted, the reasons for rejecting, the limits and the
 * policy for events and service checks are in docs/formats/statsd.md.
 *
 * Threads: a struct dp_statsd belongs to one core at a time (scratch state,
 * typically one per RX core); the functions keep no global state.
 */
#ifndef DP_STATSD_H
#define DP_STATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_series.h"
#include "st_types.h"

/* A line longer than this (without "\n" or "\r\n") is DP_STATSD_LINE_TOO_LONG
 * (the DogStatsD agent's default datagram buffer). */
#define DP_STATSD_LINE_MAX_BYTES 8192
/* Values in one packed line ("name:1:2:3|d"); one bit each in delta_mask. */
#define DP_STATSD_VALUES_MAX 64
/* Tags in one line: what a series key holds. */
#define DP_STATSD_TAGS_MAX ST_TAGS_MAX
/* A number (value or sample rate) is at most this long. */
#define DP_STATSD_NUM_MAX_BYTES 64
/* The tag value a series key gets for a tag sent without ':' ("|#canary"). */
#define DP_STATSD_TAG_NOVALUE "true"

/* Why a line was or was not decoded; callers count lines per status. */
enum dp_statsd_status {
	DP_STATSD_OK = 0,
	DP_STATSD_EMPTY,             /* blank line (spaces, tabs, a lone '\r') */
	DP_STATSD_TRUNCATED,         /* no complete line in the buffer; nothing consumed */
	DP_STATSD_EVENT,             /* a well-formed DogStatsD event "_e{..}:..": not a metric */
	DP_STATSD_SERVICE_CHECK,     /* a well-formed service check "_sc|..": not a metric */
	DP_STATSD_LINE_TOO_LONG,     /* longer than DP_STATSD_LINE_MAX_BYTES */
	DP_STATSD_BAD_NAME,          /* empty name, or a ':' '|' '@' '#', blank or control byte */
	DP_STATSD_BAD_VALUE,         /* no ':', empty or malformed value, nan/inf, out of range */
	DP_STATSD_BAD_TYPE,          /* no '|type', or not one of c g ms h d s */
	DP_STATSD_BAD_RATE,          /* "|@r" not a number with 0 < r <= 1 */
	DP_STATSD_BAD_TAG,           /* empty tag list, empty tag or tag key, bad byte */
	DP_STATSD_DUP_TAG,           /* the same tag key twice */
	DP_STATSD_BAD_TIMESTAMP,     /* "|T" not decimal seconds within int64 ns */
	DP_STATSD_BAD_SECTION,       /* an empty, unknown or repeated "|..." section */
	DP_STATSD_TOO_MANY_TAGS,     /* more than DP_STATSD_TAGS_MAX tags */
	DP_STATSD_TOO_MANY_VALUES,   /* more than DP_STATSD_VALUES_MAX packed values */
	DP_STATSD_KEY_TOO_LONG,      /* name and tags alone overflow ST_KEY_MAX */
	DP_STATSD_BAD_EVENT,         /* starts "_e{" but is not a well-formed event */
	DP_STATSD_BAD_SERVICE_CHECK, /* starts "_sc|" but is not a well-formed service check */
	DP_STATSD__COUNT
};

/* Short reason for stats and logs ("bad_rate"); "unknown" when out of range. */
const char *dp_statsd_status_name(enum dp_statsd_status st);

/* The metric type, from the "|type" section. */
enum dp_statsd_type {
	DP_STATSD_COUNTER = 0,   /* c */
	DP_STATSD_GAUGE,         /* g */
	DP_STATSD_TIMER,         /* ms */
	DP_STATSD_HISTOGRAM,     /* h */
	DP_STATSD_DISTRIBUTION,  /* d */
	DP_STATSD_SET,           /* s: values are opaque strings */
	DP_STATSD_TYPE__COUNT
};

/* The type as sent ("ms"); "unknown" when out of range. */
const char *dp_statsd_type_name(enum dp_statsd_type t);

enum dp_statsd_decode_flags {
	/*
	 * The buffer ends at a line boundary (one UDP datagram): a last line
	 * without '\n' is a line. Without it the buffer is a chunk of a stream
	 * and such a tail is DP_STATSD_TRUNCATED.
	 */
	DP_STATSD_COMPLETE = 1u << 0,
};

enum dp_statsd_flags {
	DP_STATSD_HAS_RATE = 1u << 0,       /* "|@r" was present */
	DP_STATSD_HAS_TS = 1u << 1,         /* "|T" was present */
	DP_STATSD_HAS_CONTAINER = 1u << 2,  /* "|c:..." was present (ignored) */
	DP_STATSD_HAS_DELTA = 1u << 3,      /* a gauge value had a leading '+' or '-' */
};

/*
 * A decoded line. Plain struct: one per core (about 4 KB: keep it in the
 * per-core state), reused for every line, read directly by the caller.
 * After DP_STATSD_OK:
 *   name        non-empty, exactly as sent
 *   type        enum dp_statsd_type
 *   raw[nvalues]  1 <= nvalues <= DP_STATSD_VALUES_MAX, each value's bytes
 *               as sent, non-empty (a set's members are only these)
 *   v[nvalues]  the values as finite doubles (not for sets: 0); a gauge
 *               value with a sign is a delta: bit i of delta_mask, and v[i]
 *               is the signed amount to add
 *   rate        the sample rate, 1.0 when absent
 *   ts_ns       "|T" seconds times 1e9, 0 when absent (see flags)
 *   tags[ntags] in the order sent, keys non-empty and unique; a tag sent
 *               without ':' has an empty value
 * After DP_STATSD_EVENT name is the event title, after
 * DP_STATSD_SERVICE_CHECK the check name; nothing else is set.
 * Slices borrow the input buffer: valid while it is unchanged (the next
 * decode overwrites the struct). text is the line without "\n"/"\r\n"
 * (every status but TRUNCATED; the first DP_STATSD_LINE_MAX_BYTES for
 * LINE_TOO_LONG); for other rejections err_off is the offset in text of
 * the offending token, for error messages.
 */
struct dp_statsd {
	struct st_str name;
	uint8_t type;          /* enum dp_statsd_type */
	uint32_t flags;        /* enum dp_statsd_flags */
	uint32_t nvalues;
	uint32_t ntags;
	uint32_t err_off;
	uint64_t delta_mask;   /* bit i: raw[i] of a gauge had a sign */
	double rate;
	int64_t ts_ns;
	struct st_str text;
	struct st_str raw[DP_STATSD_VALUES_MAX];
	double v[DP_STATSD_VALUES_MAX];
	struct st_tag tags[DP_STATSD_TAGS_MAX];
};

/*
 * HOT PATH. Decode the first line of buf[len] into *m and set *consumed to
 * the bytes to skip to reach the next line: up to and including its '\n',
 * or all of len for a last line without '\n' when flags has
 * DP_STATSD_COMPLETE. Every status but TRUNCATED consumes at least one
 * byte, so a loop of calls always progresses and a bad line never costs
 * the lines after it. TRUNCATED (consumed 0): len == 0, or a stream chunk
 * without '\n'. buf is borrowed; the decoded slices borrow it. The metric
 * members are meaningful only after DP_STATSD_OK.
 */
enum dp_statsd_status dp_statsd_decode(struct dp_statsd *m, const char *buf, size_t len,
				       uint32_t flags, size_t *consumed);

/*
 * HOT PATH. Write the canonical series key of a metric decoded DP_STATSD_OK
 * with field name field (the aggregator's choice: "value", "count", "p99";
 * may be empty) into out[cap]: the bytes st_key_build() gives for (name,
 * field, tags), tags sorted, a tag without value keyed with
 * DP_STATSD_TAG_NOVALUE. m and field are borrowed. Returns the key length
 * (> 0) or -ENOSPC (longer than cap or ST_KEY_MAX).
 */
int dp_statsd_key(const struct dp_statsd *m, struct st_str field, uint8_t *out, size_t cap);

/* True when value i of a DP_STATSD_OK gauge is a delta (a sign was sent). */
static inline bool dp_statsd_is_delta(const struct dp_statsd *m, uint32_t i)
{
	return (m->delta_mask >> i) & 1u;
}

#endif /* DP_STATSD_H */
