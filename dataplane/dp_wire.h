/*
 * dp_wire.h - the bytes of a StreamFlow binary frame: one UDP datagram of
 * market-data or sensor points from one source. Logic-free: magic, version,
 * layouts and limits, with static_asserts on every size and offset. The
 * prose spec (every byte, what makes a frame valid, what the decoder checks,
 * the per-source sequence rules) is docs/formats/binary-frame.md; the
 * decoder and writer are dataplane/dp_frame.{c,h}.
 *
 *   offset 0    struct dp_wire_header (32 bytes; header_bytes may say more)
 *   hdr_bytes   records, back to back, no padding, record_count of them:
 *               DEF   (struct dp_wire_def + name + tags, def_bytes long)
 *               POINT (struct dp_wire_point, always 24 bytes)
 *
 * All integers are little-endian; the structs have no padding (natural
 * alignment inside, checked below) but records sit at any byte offset, so
 * they are read and written with memcpy on a little-endian host.
 */
#ifndef DP_WIRE_H
#define DP_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define DP_WIRE_MAGIC 0x46574653u       /* "SFWF" as little-endian bytes */
#define DP_WIRE_VERSION 1u

/* Limits: a decoder rejects anything beyond them. */
#define DP_WIRE_FRAME_MAX_BYTES 65535u  /* a UDP payload */
#define DP_WIRE_DEF_MAX_BYTES 2048u     /* one DEF record: its series key fits ST_KEY_MAX */
#define DP_WIRE_DEF_TAGS_MAX 64u        /* tags of one DEF (ST_TAGS_MAX) */

/* ===== frame header ===== */

/* Header flags: none defined in version 1; a frame with any set is rejected. */
#define DP_WIRE_HDR_FLAGS_KNOWN 0u

struct dp_wire_header {
	uint32_t magic;          /* DP_WIRE_MAGIC */
	uint8_t version;         /* DP_WIRE_VERSION */
	uint8_t flags;           /* 0 in version 1 */
	uint16_t header_bytes;   /* >= 32; records start here (room for extensions) */
	uint32_t source_id;      /* the sender; sequence numbers are per source */
	uint16_t record_count;   /* records in the frame */
	uint16_t reserved;       /* 0 */
	uint64_t seq;            /* frame sequence number, +1 per frame per source */
	uint32_t crc32c;         /* cm_crc32c of bytes [0, 24) then [28, frame_bytes) */
	uint32_t frame_bytes;    /* the whole frame: equals the datagram length */
};

static_assert(sizeof(struct dp_wire_header) == 32, "frame header size");
static_assert(offsetof(struct dp_wire_header, magic) == 0, "magic offset");
static_assert(offsetof(struct dp_wire_header, version) == 4, "version offset");
static_assert(offsetof(struct dp_wire_header, flags) == 5, "flags offset");
static_assert(offsetof(struct dp_wire_header, header_bytes) == 6, "header_bytes offset");
static_assert(offsetof(struct dp_wire_header, source_id) == 8, "source_id offset");
static_assert(offsetof(struct dp_wire_header, record_count) == 12, "record_count offset");
static_assert(offsetof(struct dp_wire_header, reserved) == 14, "reserved offset");
static_assert(offsetof(struct dp_wire_header, seq) == 16, "seq offset");
static_assert(offsetof(struct dp_wire_header, crc32c) == 24, "crc32c offset");
static_assert(offsetof(struct dp_wire_header, frame_bytes) == 28, "frame_bytes offset");

#define DP_WIRE_CRC_OFF 24u
#define DP_WIRE_CRC_BYTES 4u

/* ===== records ===== */

/* The first byte of every record. */
enum dp_wire_kind {
	DP_WIRE_DEF = 1,     /* declares a series ref: name, tags, value type */
	DP_WIRE_POINT = 2,   /* one point of a declared series ref */
};

/* Value types: the values of enum st_value_type (st_types.h) they map to. */
enum dp_wire_type {
	DP_WIRE_F64 = 1,     /* IEEE-754 binary64, finite */
	DP_WIRE_I64 = 2,     /* two's complement int64 */
};

/*
 * DEF: the fixed part, then name_len name bytes, then ntags tags, each
 * u8 key_len, key bytes, u8 value_len, value bytes. def_bytes counts all of
 * it (so a reader can skip a DEF it rejects).
 */
struct dp_wire_def {
	uint8_t kind;            /* DP_WIRE_DEF */
	uint8_t type;            /* enum dp_wire_type of the series' points */
	uint16_t def_bytes;      /* the whole record, 10 .. DP_WIRE_DEF_MAX_BYTES */
	uint32_t series_ref;     /* source-scoped series id */
	uint8_t ntags;           /* 0 .. DP_WIRE_DEF_TAGS_MAX */
	uint8_t name_len;        /* 1 .. 255 */
};

static_assert(sizeof(struct dp_wire_def) == 12, "natural size, with tail padding");
static_assert(offsetof(struct dp_wire_def, kind) == 0, "def kind offset");
static_assert(offsetof(struct dp_wire_def, type) == 1, "def type offset");
static_assert(offsetof(struct dp_wire_def, def_bytes) == 2, "def_bytes offset");
static_assert(offsetof(struct dp_wire_def, series_ref) == 4, "def series_ref offset");
static_assert(offsetof(struct dp_wire_def, ntags) == 8, "def ntags offset");
static_assert(offsetof(struct dp_wire_def, name_len) == 9, "def name_len offset");

/* The DEF's fixed part on the wire (the struct has 2 bytes of tail padding). */
#define DP_WIRE_DEF_FIXED_BYTES 10u
static_assert(DP_WIRE_DEF_FIXED_BYTES == offsetof(struct dp_wire_def, name_len) + 1,
	      "name bytes follow name_len");
static_assert(DP_WIRE_DEF_MAX_BYTES <= UINT16_MAX, "def_bytes is a u16");

/* POINT: fixed size, the steady-state record. */
struct dp_wire_point {
	uint8_t kind;            /* DP_WIRE_POINT */
	uint8_t type;            /* enum dp_wire_type of value */
	uint16_t reserved;       /* 0 */
	uint32_t series_ref;     /* declared by a DEF, in this or an earlier frame */
	int64_t ts_ns;           /* nanoseconds since the Unix epoch, >= 0 */
	uint64_t value;          /* the f64 or i64 bits */
};

static_assert(sizeof(struct dp_wire_point) == 24, "point size");
static_assert(offsetof(struct dp_wire_point, kind) == 0, "point kind offset");
static_assert(offsetof(struct dp_wire_point, type) == 1, "point type offset");
static_assert(offsetof(struct dp_wire_point, reserved) == 2, "point reserved offset");
static_assert(offsetof(struct dp_wire_point, series_ref) == 4, "point series_ref offset");
static_assert(offsetof(struct dp_wire_point, ts_ns) == 8, "point ts_ns offset");
static_assert(offsetof(struct dp_wire_point, value) == 16, "point value offset");

#define DP_WIRE_POINT_BYTES 24u

#endif /* DP_WIRE_H */
