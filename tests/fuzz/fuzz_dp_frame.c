/*
 * fuzz_dp_frame.c - fuzz target for the binary frame decoder and the
 * sequence tracker (dp_frame.c).
 *
 * Each input is decoded twice: as sent (so the header and CRC checks see
 * the mutations) and sealed, with the header's magic, version, flags,
 * reserved and frame_bytes fixed up and the CRC recomputed, so mutations
 * reach the record walk (there dp_frame_open must say OK). The walk's
 * contract is checked, abort()ing on any violation: a status in range with
 * a name, records back to back from header_bytes (each at least 10 bytes,
 * inside the frame), END within frame_bytes / 10 + 2 calls and sticky, at
 * most one COUNT_MISMATCH and only just before END, OK records within the
 * limits (types, ts_ns >= 0, finite f64, name and tags inside the record,
 * unique non-empty keys). The input bytes also drive a sequence tracker,
 * whose counters must add up.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_frame.h"
#include "fz_driver.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static struct dp_frame_rec rec;
static uint8_t sealed[DP_WIRE_FRAME_MAX_BYTES];

static bool inside(struct st_str s, const uint8_t *b, size_t len)
{
	return s.len > 0 && (const uint8_t *)s.p >= b && (const uint8_t *)s.p + s.len <= b + len;
}

static void check_ok(const uint8_t *r, uint32_t bytes)
{
	CHECK(rec.type == DP_WIRE_F64 || rec.type == DP_WIRE_I64);
	if (rec.kind == DP_WIRE_POINT) {
		CHECK(bytes == DP_WIRE_POINT_BYTES);
		CHECK(rec.ts_ns >= 0);
		CHECK(rec.type != DP_WIRE_F64 || isfinite(rec.v.f64));
		return;
	}
	CHECK(rec.kind == DP_WIRE_DEF);
	CHECK(bytes >= DP_WIRE_DEF_FIXED_BYTES && bytes <= DP_WIRE_DEF_MAX_BYTES);
	CHECK(inside(rec.name, r, bytes));
	CHECK(rec.ntags <= DP_WIRE_DEF_TAGS_MAX);
	for (uint32_t i = 0; i < rec.ntags; i++) {
		CHECK(inside(rec.tags[i].key, r, bytes) && inside(rec.tags[i].value, r, bytes));
		for (uint32_t j = 0; j < i; j++)
			CHECK(rec.tags[j].key.len != rec.tags[i].key.len ||
			      memcmp(rec.tags[j].key.p, rec.tags[i].key.p, rec.tags[i].key.len) != 0);
	}
}

static void walk(const uint8_t *buf, size_t len, bool must_open)
{
	struct dp_frame f;
	enum dp_frame_status st = dp_frame_open(&f, buf, len);
	CHECK((unsigned)st < DP_FRAME__COUNT);
	CHECK(strcmp(dp_frame_status_name(st), "unknown") != 0);
	CHECK(!must_open || st == DP_FRAME_OK);
	if (st != DP_FRAME_OK) {
		CHECK(st >= DP_FRAME_SHORT && st <= DP_FRAME_BAD_CRC);
		CHECK(dp_frame_next(&f, &rec) == DP_FRAME_END);
		return;
	}
	CHECK(f.frame_bytes == len && f.header_bytes >= 32 && f.header_bytes <= len);

	uint32_t off = f.header_bytes, calls = 0, started = 0;
	bool stopped = false, mismatch = false;
	for (;;) {
		st = dp_frame_next(&f, &rec);
		CHECK((unsigned)st < DP_FRAME__COUNT);
		CHECK(strcmp(dp_frame_status_name(st), "unknown") != 0);
		CHECK(++calls <= len / 10 + 2);
		if (st == DP_FRAME_END)
			break;
		CHECK(!mismatch);
		if (st == DP_FRAME_COUNT_MISMATCH) {
			CHECK(started != f.record_count || stopped);
			mismatch = true;
			continue;
		}
		CHECK(!stopped);
		CHECK(st == DP_FRAME_OK || st >= DP_FRAME_TRUNCATED);
		CHECK(rec.off == off);
		started++;
		if (rec.bytes == 0) {
			/* the walk stops here */
			CHECK(st == DP_FRAME_TRUNCATED || st == DP_FRAME_BAD_KIND ||
			      st == DP_FRAME_BAD_DEF_LENGTH);
			stopped = true;
			continue;
		}
		CHECK(rec.bytes >= DP_WIRE_DEF_FIXED_BYTES && rec.bytes <= len - off);
		if (st == DP_FRAME_OK)
			check_ok(buf + off, rec.bytes);
		off += rec.bytes;
	}
	CHECK(stopped || off == len);
	CHECK(mismatch == (started != f.record_count));
	CHECK(dp_frame_next(&f, &rec) == DP_FRAME_END);
}

/* The input as 16-bit steps of a sequence that mostly moves forward. */
static void seq_run(const uint8_t *data, size_t len, uint64_t start)
{
	struct dp_frame_seq s;
	dp_frame_seq_init(&s);
	uint64_t seq = start, calls = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int step = (int)(int8_t)data[i] * (data[i + 1] & 3 ? 1 : 97);
		seq = step < 0 && (uint64_t)-step > seq ? 0 : seq + (uint64_t)(int64_t)step;
		enum dp_frame_seq_result r = dp_frame_seq_check(&s, seq);
		CHECK((unsigned)r < DP_SEQ__COUNT);
		CHECK(strcmp(dp_frame_seq_result_name(r), "unknown") != 0);
		CHECK(s.started && s.next > 0 && (s.seen & 1));
		if (r == DP_SEQ_NEW || r == DP_SEQ_GAP || r == DP_SEQ_RESTART)
			CHECK(s.next == seq + 1);
		else
			CHECK(seq < s.next);
		calls++;
	}
	uint64_t sum = 0;
	for (int r = 0; r < DP_SEQ__COUNT; r++)
		sum += s.count[r];
	CHECK(sum == calls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	walk(data, len, false);

	if (len >= sizeof(struct dp_wire_header) && len <= sizeof(sealed)) {
		memcpy(sealed, data, len);
		struct dp_wire_header h;
		memcpy(&h, sealed, sizeof(h));
		h.magic = DP_WIRE_MAGIC;
		h.version = DP_WIRE_VERSION;
		h.flags = 0;
		h.reserved = 0;
		h.frame_bytes = (uint32_t)len;
		if (h.header_bytes < sizeof(h) || h.header_bytes > len)
			h.header_bytes = sizeof(h);
		memcpy(sealed, &h, sizeof(h));
		h.crc32c = dp_frame_crc(sealed, len);
		memcpy(sealed, &h, sizeof(h));
		walk(sealed, len, true);
	}

	seq_run(data, len, len > 8 ? data[8] : 0);
	return 0;
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static uint8_t buf[4096];
	struct dp_frame_writer w;
	const struct st_tag tags[] = {
		{{"venue", 5}, {"XNAS", 4}},
		{{"side", 4}, {"bid ask", 7}},
		{{"unit", 4}, {"degC", 4}},
	};

	/* definitions then points */
	dp_frame_writer_init(&w, buf, sizeof(buf), 7, 1000);
	dp_frame_writer_def(&w, 1, DP_WIRE_F64, (struct st_str){"px.last", 7}, tags, 2);
	dp_frame_writer_def(&w, 2, DP_WIRE_I64, (struct st_str){"qty", 3}, NULL, 0);
	for (int i = 0; i < 6; i++) {
		dp_frame_writer_point(&w, 1, DP_WIRE_F64, 1700000000000000000 + i,
				      (union st_value){.f64 = 100.0 + i * 0.25});
		dp_frame_writer_point(&w, 2, DP_WIRE_I64, 1700000000000000000 + i,
				      (union st_value){.i64 = -i * 100});
	}
	emit(arg, buf, dp_frame_writer_finish(&w));

	/* steady state: points only */
	dp_frame_writer_init(&w, buf, sizeof(buf), 8, 1);
	for (int i = 0; i < 20; i++)
		dp_frame_writer_point(&w, (uint32_t)i % 3, DP_WIRE_F64, i,
				      (union st_value){.f64 = i * 1.5});
	emit(arg, buf, dp_frame_writer_finish(&w));

	/* interleaved definitions, and an empty frame */
	dp_frame_writer_init(&w, buf, sizeof(buf), 9, 42);
	dp_frame_writer_point(&w, 3, DP_WIRE_I64, 5, (union st_value){.i64 = 5});
	dp_frame_writer_def(&w, 3, DP_WIRE_I64, (struct st_str){"temp", 4}, tags + 2, 1);
	dp_frame_writer_point(&w, 3, DP_WIRE_I64, 6, (union st_value){.i64 = INT64_MIN});
	dp_frame_writer_def(&w, 4, DP_WIRE_F64, (struct st_str){"x", 1}, tags, 3);
	emit(arg, buf, dp_frame_writer_finish(&w));
	dp_frame_writer_init(&w, buf, sizeof(buf), 0, 0);
	emit(arg, buf, dp_frame_writer_finish(&w));

	/* a DEF with the most tags */
	static char keys[DP_WIRE_DEF_TAGS_MAX][2];
	struct st_tag many[DP_WIRE_DEF_TAGS_MAX];
	for (uint32_t i = 0; i < DP_WIRE_DEF_TAGS_MAX; i++) {
		keys[i][0] = (char)('A' + i / 26);
		keys[i][1] = (char)('a' + i % 26);
		many[i] = (struct st_tag){{keys[i], 2}, {keys[i], 1}};
	}
	dp_frame_writer_init(&w, buf, sizeof(buf), 1, 1);
	dp_frame_writer_def(&w, 9, DP_WIRE_F64, (struct st_str){"wide", 4}, many,
			    DP_WIRE_DEF_TAGS_MAX);
	dp_frame_writer_point(&w, 9, DP_WIRE_F64, 1, (union st_value){.f64 = 1});
	emit(arg, buf, dp_frame_writer_finish(&w));
}
