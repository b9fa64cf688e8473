/*
 * dp_frame.h - the binary frame decoder and writer (format in dp_wire.h and
 * docs/formats/binary-frame.md), and per-source sequence tracking.
 *
 * Usage profile: every binary-frame datagram on a dataplane core goes
 * through dp_frame_open() (header + CRC32C over the frame, up to 64 KB),
 * then dp_frame_next() once per record (mostly 24-byte POINTs, a few DEFs)
 * and dp_frame_seq_check() once per frame on the state of its source. All
 * of it is zero-copy and allocation-free, bounded work per byte; bad input
 * gives a status, never a crash; a bad record costs only that record when
 * its length is known (see dp_frame_next). The writer builds frames into a
 * caller buffer for tests, tools and the future sender.
 *
 * Threads: a struct dp_frame, dp_frame_rec, dp_frame_seq or dp_frame_writer
 * belongs to one thread at a time; there is no global state.
 */
#ifndef DP_FRAME_H
#define DP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_wire.h"
#include "st_types.h"
#include "st_series.h"

static_assert(DP_WIRE_DEF_TAGS_MAX <= ST_TAGS_MAX, "a DEF's tags fit a series key");

/* Why a frame or a record was or was not decoded; callers count per status. */
enum dp_frame_status {
	DP_FRAME_OK = 0,
	DP_FRAME_END,            /* no more records (not an error) */
	/* the frame (dp_frame_open): nothing in it is used */
	DP_FRAME_SHORT,          /* fewer bytes than a header */
	DP_FRAME_BAD_MAGIC,
	DP_FRAME_BAD_VERSION,
	DP_FRAME_BAD_HEADER,     /* header_bytes < 32 or past frame_bytes, flags or reserved set */
	DP_FRAME_BAD_LENGTH,     /* frame_bytes is not the datagram length, or over the max */
	DP_FRAME_BAD_CRC,
	/* a record (dp_frame_next): the ones marked "stop" end the walk */
	DP_FRAME_TRUNCATED,      /* stop: the record runs past the frame */
	DP_FRAME_BAD_KIND,       /* stop: unknown kind byte, its length is unknown */
	DP_FRAME_BAD_DEF_LENGTH, /* def_bytes < 10 (stop), > max, or not what name and tags use */
	DP_FRAME_BAD_TYPE,       /* value type not F64 or I64 */
	DP_FRAME_BAD_VALUE,      /* F64 NaN or infinite */
	DP_FRAME_BAD_TIMESTAMP,  /* ts_ns < 0 */
	DP_FRAME_BAD_RESERVED,   /* a POINT's reserved bytes not 0 */
	DP_FRAME_BAD_NAME,       /* empty, past def_bytes, or a blank or control byte */
	DP_FRAME_BAD_TAG,        /* empty key or value, past def_bytes, bad byte */
	DP_FRAME_DUP_TAG,        /* the same tag key twice */
	DP_FRAME_TOO_MANY_TAGS,  /* ntags > DP_WIRE_DEF_TAGS_MAX */
	DP_FRAME_COUNT_MISMATCH, /* once, at the end: records walked != record_count */
	DP_FRAME__COUNT
};

/* Short reason for stats and logs ("bad_crc"); "unknown" when out of range. */
const char *dp_frame_status_name(enum dp_frame_status st);

/*
 * An open frame: the header as decoded and the record cursor. Plain struct,
 * on the caller's stack or per-core state; filled by dp_frame_open().
 */
struct dp_frame {
	uint32_t source_id;
	uint64_t seq;
	uint16_t record_count;   /* as the header says */
	uint16_t header_bytes;
	uint32_t frame_bytes;
	/* cursor: private to dp_frame_next */
	const uint8_t *buf;
	uint32_t off;
	uint32_t nseen;          /* records started, good or bad */
	bool stopped;
};

/*
 * One record. Plain struct, reused for every record (about 2 KB: keep one
 * per core). After DP_FRAME_OK:
 *   kind == DP_WIRE_POINT: type (DP_WIRE_F64/I64), series_ref, ts_ns >= 0,
 *     v (f64 finite, or i64)
 *   kind == DP_WIRE_DEF: type, series_ref, name (1..255 bytes, no blank or
 *     control byte), tags[ntags] in the order sent, keys unique, keys and
 *     values non-empty (keys without blanks, values without control bytes)
 * For every record status (OK and the rejections) off and bytes locate the
 * record in the frame (bytes 0 when it stopped the walk: the length is
 * unknown) and kind is its first byte. Slices borrow the frame buffer.
 */
struct dp_frame_rec {
	uint8_t kind;            /* enum dp_wire_kind (or the bad byte) */
	uint8_t type;            /* enum dp_wire_type */
	uint32_t series_ref;
	uint32_t off;
	uint32_t bytes;
	int64_t ts_ns;
	union st_value v;
	struct st_str name;
	uint32_t ntags;
	struct st_tag tags[DP_WIRE_DEF_TAGS_MAX];
};

/*
 * HOT PATH. Check the header of the datagram buf[len] and its CRC32C, and
 * set up *f to walk its records. Returns DP_FRAME_OK or one of the frame
 * statuses (SHORT .. BAD_CRC), checked in that order; on failure *f is
 * stopped (dp_frame_next gives END). buf is borrowed and must stay unchanged
 * while records are read.
 */
enum dp_frame_status dp_frame_open(struct dp_frame *f, const void *buf, size_t len);

/*
 * HOT PATH. Decode the next record into *rec. Returns OK or a record
 * rejection, for each record in turn, and then END (forever). A rejected
 * record whose length is known (every POINT, a DEF with a sane def_bytes)
 * is skipped and the walk goes on; TRUNCATED, BAD_KIND and a DEF with
 * def_bytes < 10 stop it: the rest of the frame cannot be framed. When the
 * walk reaches the end of the frame (or stops) having started a different
 * number of records than record_count, one COUNT_MISMATCH comes before
 * END. Each call makes progress (a record is at least 10 bytes), so END
 * comes within frame_bytes / 10 + 2 calls.
 */
enum dp_frame_status dp_frame_next(struct dp_frame *f, struct dp_frame_rec *rec);

/* The CRC32C a frame header carries, over buf[len] minus the crc32c field. */
uint32_t dp_frame_crc(const void *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Per-source sequence tracking                                              */
/* ------------------------------------------------------------------------ */

/* What one frame's sequence number is, against what came before. */
enum dp_frame_seq_result {
	DP_SEQ_NEW = 0,      /* the next expected (or the first ever) */
	DP_SEQ_GAP,          /* ahead of the next expected: the ones between are missing (so far) */
	DP_SEQ_DUPLICATE,    /* seen already (within the window) */
	DP_SEQ_LATE,         /* behind, within the window, not seen: reordered, fills a gap */
	DP_SEQ_STALE,        /* behind the window: cannot tell duplicate from late */
	DP_SEQ_RESTART,      /* DP_FRAME_SEQ_RESTART_RUN stale frames in a row: resynced */
	DP_SEQ__COUNT
};

/* "gap", "late", ...; "unknown" when out of range. */
const char *dp_frame_seq_result_name(enum dp_frame_seq_result r);

/* Frames behind the newest that the window remembers. */
#define DP_FRAME_SEQ_WINDOW 64u
/* Consecutive STALE frames that mean the sender restarted its numbering. */
#define DP_FRAME_SEQ_RESTART_RUN 4u

/*
 * The sequence state of one source. Plain struct (small, one per known
 * source, in the caller's source table); zero it (or dp_frame_seq_init)
 * before the first frame. The counters only grow; the frames lost for good
 * so far are missing - late.
 */
struct dp_frame_seq {
	uint64_t next;           /* the expected next seq (newest + 1) */
	uint64_t seen;           /* bit i: seq next - 1 - i has been received */
	uint32_t stale_run;
	bool started;
	uint64_t count[DP_SEQ__COUNT];  /* frames per result */
	uint64_t missing;        /* frames skipped by GAPs (and by RESTART: none) */
};

void dp_frame_seq_init(struct dp_frame_seq *s);

/*
 * HOT PATH. Classify seq for its source, update the window and counters.
 * The caller decides what to do with the frame's points (the usual policy:
 * drop DUPLICATE, keep everything else).
 */
enum dp_frame_seq_result dp_frame_seq_check(struct dp_frame_seq *s, uint64_t seq);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A frame being built in a caller buffer. Plain struct; buf is kept (not
 * owned) from init until the caller is done with the frame.
 */
struct dp_frame_writer {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;            /* bytes written so far, header included */
	uint16_t nrecords;
};

/*
 * Start a frame for (source_id, seq) in buf[cap] (capped at
 * DP_WIRE_FRAME_MAX_BYTES). Returns 0 or -ENOSPC (cap < 32 bytes).
 */
int dp_frame_writer_init(struct dp_frame_writer *w, void *buf, size_t cap, uint32_t source_id,
			 uint64_t seq);

/*
 * Append a DEF of series_ref with value type (enum dp_wire_type), name and
 * tags[ntags] (borrowed, copied). Returns 0, -EINVAL (anything the decoder
 * would reject: bad type, name or tag, duplicate keys, too many tags, over
 * DP_WIRE_DEF_MAX_BYTES) or -ENOSPC (does not fit; the frame is unchanged).
 */
int dp_frame_writer_def(struct dp_frame_writer *w, uint32_t series_ref, uint8_t type,
			struct st_str name, const struct st_tag *tags, uint32_t ntags);

/*
 * Append a POINT. Returns 0, -EINVAL (bad type, negative ts_ns, non-finite
 * f64) or -ENOSPC (does not fit; the frame is unchanged).
 */
int dp_frame_writer_point(struct dp_frame_writer *w, uint32_t series_ref, uint8_t type,
			  int64_t ts_ns, union st_value v);

/*
 * Fill in record_count, frame_bytes and the CRC. Returns the frame length
 * (the datagram to send). More records may be appended and the frame
 * finished again.
 */
size_t dp_frame_writer_finish(struct dp_frame_writer *w);

#endif /* DP_FRAME_H */
