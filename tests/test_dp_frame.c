/*
 * test_dp_frame.c - unit tests for dataplane/dp_frame.c, the binary frame
 * decoder, writer and per-source sequence tracker: round trips through the
 * writer, a table of frames that must be rejected whole (with the status),
 * a table of bad records between two good ones (with whether the walk goes
 * on after them), record-count mismatches, header extensions, and tables of
 * sequence numbers with the results and counters they must give.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "dp_frame.h"
#include "tst_util.h"

static uint8_t buf[DP_WIRE_FRAME_MAX_BYTES + 16];
static struct dp_frame_rec rec;

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})

static union st_value f64v(double d)
{
	return (union st_value){.f64 = d};
}

static union st_value i64v(int64_t i)
{
	return (union st_value){.i64 = i};
}

static void reseal(size_t len)
{
	uint32_t crc = dp_frame_crc(buf, len);
	memcpy(buf + DP_WIRE_CRC_OFF, &crc, 4);
}

/* Walk a frame to END, recording the statuses (at most max). */
static size_t walk(const uint8_t *b, size_t len, enum dp_frame_status *out, size_t max)
{
	struct dp_frame f;
	assert_int_equal(dp_frame_open(&f, b, len), DP_FRAME_OK);
	size_t n = 0;
	for (;;) {
		enum dp_frame_status st = dp_frame_next(&f, &rec);
		assert_true(n < max);
		out[n++] = st;
		if (st == DP_FRAME_END)
			break;
	}
	/* END is sticky */
	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                               */
/* ------------------------------------------------------------------------ */

static void test_dp_frame__round_trip(void **state)
{
	(void)state;
	struct dp_frame_writer w;
	assert_int_equal(dp_frame_writer_init(&w, buf, sizeof(buf), 77, 123456789012345ull), 0);
	struct st_tag tags[] = {{S("venue"), S("XNAS")}, {S("side"), S("bid ask")}};
	assert_int_equal(dp_frame_writer_def(&w, 5, DP_WIRE_F64, S("px.last"), tags, 2), 0);
	assert_int_equal(dp_frame_writer_def(&w, 6, DP_WIRE_I64, S("qty"), NULL, 0), 0);
	assert_int_equal(dp_frame_writer_point(&w, 5, DP_WIRE_F64, 1700000000123456789, f64v(101.25)), 0);
	assert_int_equal(dp_frame_writer_point(&w, 6, DP_WIRE_I64, 0, i64v(-42)), 0);
	assert_int_equal(dp_frame_writer_point(&w, 6, DP_WIRE_I64, INT64_MAX, i64v(INT64_MIN)), 0);
	size_t len = dp_frame_writer_finish(&w);
	assert_int_equal(len, 32 + (10 + 7 + 1 + 5 + 1 + 4 + 1 + 4 + 1 + 7) + (10 + 3) + 3 * 24);

	struct dp_frame f;
	assert_int_equal(dp_frame_open(&f, buf, len), DP_FRAME_OK);
	assert_int_equal(f.source_id, 77);
	assert_int_equal(f.seq, 123456789012345ull);
	assert_int_equal(f.record_count, 5);

	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.kind, DP_WIRE_DEF);
	assert_int_equal(rec.type, DP_WIRE_F64);
	assert_int_equal(rec.series_ref, 5);
	assert_true(tst_str_is(rec.name, "px.last"));
	assert_int_equal(rec.ntags, 2);
	assert_true(tst_str_is(rec.tags[0].key, "venue") && tst_str_is(rec.tags[0].value, "XNAS"));
	assert_true(tst_str_is(rec.tags[1].key, "side") && tst_str_is(rec.tags[1].value, "bid ask"));
	assert_int_equal(rec.off, 32);

	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.kind, DP_WIRE_DEF);
	assert_int_equal(rec.type, DP_WIRE_I64);
	assert_true(tst_str_is(rec.name, "qty"));
	assert_int_equal(rec.ntags, 0);

	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.kind, DP_WIRE_POINT);
	assert_int_equal(rec.bytes, 24);
	assert_int_equal(rec.series_ref, 5);
	assert_int_equal(rec.ts_ns, 1700000000123456789);
	assert_true(rec.v.f64 == 101.25);

	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.type, DP_WIRE_I64);
	assert_int_equal(rec.ts_ns, 0);
	assert_int_equal(rec.v.i64, -42);
	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.ts_ns, INT64_MAX);
	assert_true(rec.v.i64 == INT64_MIN);

	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
}

static void test_dp_frame__empty_frame(void **state)
{
	(void)state;
	struct dp_frame_writer w;
	assert_int_equal(dp_frame_writer_init(&w, buf, sizeof(buf), 1, 0), 0);
	size_t len = dp_frame_writer_finish(&w);
	assert_int_equal(len, 32);
	enum dp_frame_status sts[4];
	assert_int_equal(walk(buf, len, sts, 4), 1);
	assert_int_equal(sts[0], DP_FRAME_END);
}

static void test_dp_frame__writer_limits(void **state)
{
	(void)state;
	struct dp_frame_writer w;
	uint8_t small[32 + 24 + 11];
	assert_int_equal(dp_frame_writer_init(&w, small, 31, 1, 0), -ENOSPC);
	assert_int_equal(dp_frame_writer_init(&w, small, sizeof(small), 1, 0), 0);
	/* what the decoder would reject */
	assert_int_equal(dp_frame_writer_point(&w, 1, 3, 0, i64v(0)), -EINVAL);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_I64, -1, i64v(0)), -EINVAL);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_F64, 0, f64v(NAN)), -EINVAL);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_F64, 0, f64v(INFINITY)), -EINVAL);
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S(""), NULL, 0), -EINVAL);
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("a b"), NULL, 0), -EINVAL);
	assert_int_equal(dp_frame_writer_def(&w, 1, 0, S("a"), NULL, 0), -EINVAL);
	struct st_tag dup[] = {{S("k"), S("1")}, {S("k"), S("2")}};
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("a"), dup, 2), -EINVAL);
	struct st_tag empty[] = {{S("k"), S("")}};
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("a"), empty, 1), -EINVAL);
	char longname[256];
	memset(longname, 'n', sizeof(longname));
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64,
					     (struct st_str){longname, 256}, NULL, 0), -EINVAL);
	struct st_tag many[DP_WIRE_DEF_TAGS_MAX + 1] = {{{NULL, 0}, {NULL, 0}}};
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("a"), many, 65), -EINVAL);
	assert_int_equal(w.len, 32);
	/* full: the frame is unchanged */
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_I64, 0, i64v(1)), 0);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_I64, 0, i64v(2)), -ENOSPC);
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("abc"), NULL, 0), -ENOSPC);
	assert_int_equal(dp_frame_writer_def(&w, 1, DP_WIRE_F64, S("a"), NULL, 0), 0);
	assert_int_equal(dp_frame_writer_finish(&w), sizeof(small));
	enum dp_frame_status sts[4];
	assert_int_equal(walk(small, sizeof(small), sts, 4), 3);
	assert_int_equal(sts[0], DP_FRAME_OK);
	assert_int_equal(sts[1], DP_FRAME_OK);

	/* the most tags and the longest strings a DEF may carry (under the max bytes) */
	assert_int_equal(dp_frame_writer_init(&w, buf, sizeof(buf), 1, 0), 0);
	char names[DP_WIRE_DEF_TAGS_MAX][3];
	for (uint32_t i = 0; i < DP_WIRE_DEF_TAGS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "%02u", i);
		many[i] = (struct st_tag){{names[i], 2}, {names[i], 2}};
	}
	assert_int_equal(dp_frame_writer_def(&w, 9, DP_WIRE_F64, (struct st_str){longname, 255},
					     many, DP_WIRE_DEF_TAGS_MAX), 0);
	size_t len = dp_frame_writer_finish(&w);
	struct dp_frame f;
	assert_int_equal(dp_frame_open(&f, buf, len), DP_FRAME_OK);
	assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
	assert_int_equal(rec.ntags, DP_WIRE_DEF_TAGS_MAX);
	assert_int_equal(rec.name.len, 255);
	assert_true(tst_str_is(rec.tags[63].key, "63"));
}

/* ------------------------------------------------------------------------ */
/* Frames that must be rejected whole                                        */
/* ------------------------------------------------------------------------ */

/* A good frame of two points; returns its length. */
static size_t good_frame(void)
{
	struct dp_frame_writer w;
	assert_int_equal(dp_frame_writer_init(&w, buf, sizeof(buf), 3, 9), 0);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_F64, 10, f64v(1.5)), 0);
	assert_int_equal(dp_frame_writer_point(&w, 2, DP_WIRE_I64, 11, i64v(7)), 0);
	return dp_frame_writer_finish(&w);
}

struct reject_case {
	const char *what;
	uint32_t off;            /* patch: n bytes at off */
	uint8_t n;
	uint8_t bytes[4];
	int len_delta;           /* datagram length change */
	bool seal;               /* recompute the CRC after the patch */
	enum dp_frame_status want;
};

static const struct reject_case reject_cases[] = {
	{"empty datagram", 0, 0, {0}, -80, false, DP_FRAME_SHORT},
	{"short header", 0, 0, {0}, -49, false, DP_FRAME_SHORT},
	{"bad magic", 0, 1, {'X'}, 0, true, DP_FRAME_BAD_MAGIC},
	{"version 0", 4, 1, {0}, 0, true, DP_FRAME_BAD_VERSION},
	{"version 2", 4, 1, {2}, 0, true, DP_FRAME_BAD_VERSION},
	{"unknown flag", 5, 1, {1}, 0, true, DP_FRAME_BAD_HEADER},
	{"header_bytes 31", 6, 2, {31, 0}, 0, true, DP_FRAME_BAD_HEADER},
	{"header_bytes past frame", 6, 2, {81, 0}, 0, true, DP_FRAME_BAD_HEADER},
	{"reserved set", 14, 1, {1}, 0, true, DP_FRAME_BAD_HEADER},
	{"frame_bytes > datagram", 28, 2, {81, 0}, 0, true, DP_FRAME_BAD_LENGTH},
	{"frame_bytes < datagram", 28, 2, {79, 0}, 0, true, DP_FRAME_BAD_LENGTH},
	{"datagram cut short", 0, 0, {0}, -1, false, DP_FRAME_BAD_LENGTH},
	{"trailing byte", 0, 0, {0}, 1, false, DP_FRAME_BAD_LENGTH},
	{"crc field flipped", 24, 1, {0x55}, 0, false, DP_FRAME_BAD_CRC},
	{"payload byte flipped", 50, 1, {0x55}, 0, false, DP_FRAME_BAD_CRC},
	{"seq changed", 16, 1, {10}, 0, false, DP_FRAME_BAD_CRC},
};

static void test_dp_frame__must_reject(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(reject_cases); i++) {
		const struct reject_case *c = &reject_cases[i];
		size_t len = good_frame();
		assert_int_equal(len, 80);
		memcpy(buf + c->off, c->bytes, c->n);
		len = (size_t)((int)len + c->len_delta);
		if (c->seal)
			reseal(len);
		struct dp_frame f;
		enum dp_frame_status st = dp_frame_open(&f, buf, len);
		if (st != c->want)
			fail_msg("%s: got %s, want %s", c->what, dp_frame_status_name(st),
				 dp_frame_status_name(c->want));
		assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
	}
	/* over the maximum datagram, even when consistent */
	memset(buf, 0, sizeof(buf));
	struct dp_wire_header h = {.magic = DP_WIRE_MAGIC, .version = DP_WIRE_VERSION,
				   .header_bytes = 32, .frame_bytes = DP_WIRE_FRAME_MAX_BYTES + 1};
	memcpy(buf, &h, sizeof(h));
	reseal(DP_WIRE_FRAME_MAX_BYTES + 1);
	struct dp_frame f;
	assert_int_equal(dp_frame_open(&f, buf, DP_WIRE_FRAME_MAX_BYTES + 1), DP_FRAME_BAD_LENGTH);
}

/* ------------------------------------------------------------------------ */
/* Bad records between good ones                                             */
/* ------------------------------------------------------------------------ */

/*
 * The record under test, patched: a POINT (24 bytes), or this DEF:
 *   0 kind, 1 type F64, 2-3 def_bytes 23, 4-7 ref 1, 8 ntags 2, 9 name_len 3,
 *   10 "cpu", 13 2 "k1", 16 1 "a", 18 2 "k2", 21 1 "x"   (23 bytes)
 */
struct rec_case {
	const char *what;
	uint8_t kind;            /* DP_WIRE_POINT or DP_WIRE_DEF: the base record */
	uint32_t off;
	uint8_t n;
	uint8_t bytes[8];
	uint16_t extra;          /* zero bytes appended to the record */
	enum dp_frame_status want;
	bool stops;              /* the walk cannot go on after it */
};

#define P DP_WIRE_POINT
#define D DP_WIRE_DEF

static const struct rec_case rec_cases[] = {
	{"good point", P, 0, 0, {0}, 0, DP_FRAME_OK, false},
	{"good def", D, 0, 0, {0}, 0, DP_FRAME_OK, false},
	/* points: fixed size, always skippable */
	{"point type 0", P, 1, 1, {0}, 0, DP_FRAME_BAD_TYPE, false},
	{"point type 3", P, 1, 1, {3}, 0, DP_FRAME_BAD_TYPE, false},
	{"point reserved", P, 2, 1, {1}, 0, DP_FRAME_BAD_RESERVED, false},
	{"point ts < 0", P, 15, 1, {0x80}, 0, DP_FRAME_BAD_TIMESTAMP, false},
	{"point nan", P, 16, 8, {0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, 0, DP_FRAME_BAD_VALUE, false},
	{"point -inf", P, 16, 8, {0, 0, 0, 0, 0, 0, 0xf0, 0xff}, 0, DP_FRAME_BAD_VALUE, false},
	/* defs with a sane def_bytes: skippable */
	{"def type 7", D, 1, 1, {7}, 0, DP_FRAME_BAD_TYPE, false},
	{"def empty name", D, 9, 1, {0}, 0, DP_FRAME_BAD_NAME, false},
	{"def name blank", D, 11, 1, {' '}, 0, DP_FRAME_BAD_NAME, false},
	{"def name control", D, 10, 1, {0x01}, 0, DP_FRAME_BAD_NAME, false},
	{"def name past def", D, 9, 1, {200}, 0, DP_FRAME_BAD_NAME, false},
	{"def 65 tags", D, 8, 1, {65}, 0, DP_FRAME_TOO_MANY_TAGS, false},
	{"def tag past def", D, 8, 1, {3}, 0, DP_FRAME_BAD_TAG, false},
	{"def tag value past def", D, 21, 1, {2}, 0, DP_FRAME_BAD_TAG, false},
	{"def empty tag key", D, 13, 1, {0}, 0, DP_FRAME_BAD_TAG, false},
	{"def empty tag value", D, 16, 1, {0}, 0, DP_FRAME_BAD_TAG, false},
	{"def tag key blank", D, 14, 1, {' '}, 0, DP_FRAME_BAD_TAG, false},
	{"def tag value newline", D, 17, 1, {'\n'}, 0, DP_FRAME_BAD_TAG, false},
	{"def dup tag", D, 20, 1, {'1'}, 0, DP_FRAME_DUP_TAG, false},
	{"def bytes left over", D, 2, 2, {24, 0}, 1, DP_FRAME_BAD_DEF_LENGTH, false},
	{"def fewer tags than bytes", D, 8, 1, {1}, 0, DP_FRAME_BAD_DEF_LENGTH, false},
	{"def over the max", D, 2, 2, {0x01, 0x08}, 2049 - 23, DP_FRAME_BAD_DEF_LENGTH, false},
	/* the length is unknown or impossible: the walk stops */
	{"kind 0", P, 0, 1, {0}, 0, DP_FRAME_BAD_KIND, true},
	{"kind 3", D, 0, 1, {3}, 0, DP_FRAME_BAD_KIND, true},
	{"kind 0xff", D, 0, 1, {0xff}, 0, DP_FRAME_BAD_KIND, true},
	{"def_bytes 9", D, 2, 2, {9, 0}, 0, DP_FRAME_BAD_DEF_LENGTH, true},
	{"def_bytes 0", D, 2, 2, {0, 0}, 0, DP_FRAME_BAD_DEF_LENGTH, true},
	{"def_bytes past frame", D, 2, 2, {0x60, 0}, 0, DP_FRAME_TRUNCATED, true},
};

/* Build [POINT, record under test, POINT]; returns the frame length. */
static size_t frame_with(const struct rec_case *c)
{
	struct dp_frame_writer w;
	uint8_t rbuf[DP_WIRE_DEF_MAX_BYTES + 64];
	struct dp_frame_writer rw;
	assert_int_equal(dp_frame_writer_init(&rw, rbuf, sizeof(rbuf), 0, 0), 0);
	if (c->kind == DP_WIRE_POINT) {
		assert_int_equal(dp_frame_writer_point(&rw, 4, DP_WIRE_F64, 1000, f64v(-2.5)), 0);
	} else {
		struct st_tag tags[] = {{S("k1"), S("a")}, {S("k2"), S("x")}};
		assert_int_equal(dp_frame_writer_def(&rw, 1, DP_WIRE_F64, S("cpu"), tags, 2), 0);
		assert_int_equal(rw.len - 32, 23);
	}
	uint32_t rlen = rw.len - 32;
	uint8_t *r = rbuf + 32;
	memcpy(r + c->off, c->bytes, c->n);
	memset(r + rlen, 0, c->extra);
	rlen += c->extra;

	assert_int_equal(dp_frame_writer_init(&w, buf, sizeof(buf), 3, 9), 0);
	assert_int_equal(dp_frame_writer_point(&w, 1, DP_WIRE_F64, 10, f64v(1.5)), 0);
	memcpy(buf + w.len, r, rlen);
	w.len += rlen;
	w.nrecords++;
	assert_int_equal(dp_frame_writer_point(&w, 2, DP_WIRE_I64, 11, i64v(7)), 0);
	return dp_frame_writer_finish(&w);
}

static void test_dp_frame__bad_record_in_middle(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(rec_cases); i++) {
		const struct rec_case *c = &rec_cases[i];
		size_t len = frame_with(c);
		struct dp_frame f;
		assert_int_equal(dp_frame_open(&f, buf, len), DP_FRAME_OK);
		assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_OK);
		assert_int_equal(rec.series_ref, 1);
		enum dp_frame_status st = dp_frame_next(&f, &rec);
		if (st != c->want)
			fail_msg("%s: got %s, want %s", c->what, dp_frame_status_name(st),
				 dp_frame_status_name(c->want));
		assert_int_equal(rec.off, 32 + 24);
		if (c->stops) {
			assert_int_equal(rec.bytes, 0);
			/* two of three records started */
			assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_COUNT_MISMATCH);
		} else {
			assert_int_equal(rec.bytes, len - 32 - 48);
			st = dp_frame_next(&f, &rec);
			if (st != DP_FRAME_OK)
				fail_msg("%s: next record %s", c->what, dp_frame_status_name(st));
			assert_int_equal(rec.series_ref, 2);
			assert_int_equal(rec.v.i64, 7);
		}
		assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
		assert_int_equal(dp_frame_next(&f, &rec), DP_FRAME_END);
	}
}

static void test_dp_frame__truncated_last_record(void **state)
{
	(void)state;
	size_t len = good_frame();
	/* cut the last point to 10 bytes, the count still says 2 */
	len -= 14;
	memcpy(buf + 28, &(uint32_t){(uint32_t)len}, 4);
	reseal(len);
	enum dp_frame_status sts[8];
	assert_int_equal(walk(buf, len, sts, 8), 3);
	assert_int_equal(sts[0], DP_FRAME_OK);
	assert_int_equal(sts[1], DP_FRAME_TRUNCATED);
	assert_int_equal(sts[2], DP_FRAME_END);

	/* a DEF cut inside its fixed part */
	len = good_frame();
	buf[len - 24] = DP_WIRE_DEF;
	len -= 24 - 9;
	memcpy(buf + 28, &(uint32_t){(uint32_t)len}, 4);
	reseal(len);
	assert_int_equal(walk(buf, len, sts, 8), 3);
	assert_int_equal(sts[1], DP_FRAME_TRUNCATED);
}

static void test_dp_frame__count_mismatch(void **state)
{
	(void)state;
	enum dp_frame_status sts[8];
	for (uint16_t count = 0; count < 5; count++) {
		size_t len = good_frame();
		memcpy(buf + 12, &count, 2);
		reseal(len);
		size_t n = walk(buf, len, sts, 8);
		assert_int_equal(sts[0], DP_FRAME_OK);
		assert_int_equal(sts[1], DP_FRAME_OK);
		if (count == 2) {
			assert_int_equal(n, 3);
		} else {
			assert_int_equal(n, 4);
			assert_int_equal(sts[2], DP_FRAME_COUNT_MISMATCH);
		}
		assert_int_equal(sts[n - 1], DP_FRAME_END);
	}
}

static void test_dp_frame__header_extension(void **state)
{
	(void)state;
	size_t len = good_frame();
	memmove(buf + 40, buf + 32, len - 32);
	memset(buf + 32, 0xee, 8);
	len += 8;
	memcpy(buf + 6, &(uint16_t){40}, 2);
	memcpy(buf + 28, &(uint32_t){(uint32_t)len}, 4);
	reseal(len);
	enum dp_frame_status sts[8];
	assert_int_equal(walk(buf, len, sts, 8), 3);
	assert_int_equal(sts[0], DP_FRAME_OK);
	assert_int_equal(sts[1], DP_FRAME_OK);
	assert_int_equal(rec.v.i64, 7);
}

static void test_dp_frame__names(void **state)
{
	(void)state;
	for (int i = 0; i < DP_FRAME__COUNT; i++)
		assert_string_not_equal(dp_frame_status_name((enum dp_frame_status)i), "unknown");
	assert_string_equal(dp_frame_status_name(DP_FRAME__COUNT), "unknown");
	assert_string_equal(dp_frame_status_name(DP_FRAME_BAD_CRC), "bad_crc");
	for (int i = 0; i < DP_SEQ__COUNT; i++)
		assert_string_not_equal(dp_frame_seq_result_name((enum dp_frame_seq_result)i),
					"unknown");
	assert_string_equal(dp_frame_seq_result_name(DP_SEQ__COUNT), "unknown");
}

/* ------------------------------------------------------------------------ */
/* Sequence tracking                                                         */
/* ------------------------------------------------------------------------ */

#define NEW DP_SEQ_NEW
#define GAP DP_SEQ_GAP
#define DUP DP_SEQ_DUPLICATE
#define LATE DP_SEQ_LATE
#define STALE DP_SEQ_STALE
#define RESTART DP_SEQ_RESTART
#define SEQ_MAX 12

struct seq_case {
	const char *what;
	uint64_t seq[SEQ_MAX];
	enum dp_frame_seq_result want[SEQ_MAX];
	uint32_t n;
	uint64_t missing;
};

static const struct seq_case seq_cases[] = {
	{"in order", {10, 11, 12, 13}, {NEW, NEW, NEW, NEW}, 4, 0},
	{"first frame at any seq", {UINT64_MAX - 5, UINT64_MAX - 4}, {NEW, NEW}, 2, 0},
	{"gap", {10, 13, 14}, {NEW, GAP, NEW}, 3, 2},
	{"gap filled late", {10, 13, 12, 11, 12, 13, 10}, {NEW, GAP, LATE, LATE, DUP, DUP, DUP}, 7, 2},
	{"duplicate", {5, 5, 6, 5, 6}, {NEW, DUP, NEW, DUP, DUP}, 5, 0},
	{"swap", {100, 102, 101, 103}, {NEW, GAP, LATE, NEW}, 4, 1},
	{"window edge", {0, 63, 0, 1, 62, 64, 0}, {NEW, GAP, DUP, LATE, LATE, NEW, STALE}, 7, 62},
	{"late at the edge", {0, 64, 1, 0}, {NEW, GAP, LATE, STALE}, 4, 63},
	{"far jump", {0, 1000000, 999999, 1}, {NEW, GAP, LATE, STALE}, 4, 999999},
	{"stale run broken", {1000, 10, 11, 1001, 12, 13, 14, 1002}, {NEW, STALE, STALE, NEW, STALE,
	 STALE, STALE, NEW}, 8, 0},
	{"stale run broken by a late frame", {1000, 10, 11, 999, 12, 13, 14, 15},
	 {NEW, STALE, STALE, LATE, STALE, STALE, STALE, RESTART}, 8, 0},
	{"stale run broken by a duplicate", {1000, 10, 11, 1000, 12, 13, 14, 15},
	 {NEW, STALE, STALE, DUP, STALE, STALE, STALE, RESTART}, 8, 0},
	{"sender restart", {1000, 0, 1, 2, 3, 4, 5, 999}, {NEW, STALE, STALE, STALE, RESTART, NEW, NEW,
	 GAP}, 8, 993},
	{"stale restart of duplicates", {1000, 1, 1, 1, 1, 1}, {NEW, STALE, STALE, STALE, RESTART, DUP},
	 6, 0},
};

static void test_dp_frame__seq(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(seq_cases); i++) {
		const struct seq_case *c = &seq_cases[i];
		struct dp_frame_seq s;
		dp_frame_seq_init(&s);
		uint64_t want_count[DP_SEQ__COUNT] = {0};
		for (uint32_t j = 0; j < c->n; j++) {
			enum dp_frame_seq_result r = dp_frame_seq_check(&s, c->seq[j]);
			if (r != c->want[j])
				fail_msg("%s: frame %u seq %llu: got %s, want %s", c->what, j,
					 (unsigned long long)c->seq[j], dp_frame_seq_result_name(r),
					 dp_frame_seq_result_name(c->want[j]));
			want_count[c->want[j]]++;
		}
		for (int r = 0; r < DP_SEQ__COUNT; r++)
			assert_int_equal(s.count[r], want_count[r]);
		if (s.missing != c->missing)
			fail_msg("%s: missing %llu, want %llu", c->what,
				 (unsigned long long)s.missing, (unsigned long long)c->missing);
	}
}

/* Random reordering within the window against a naive model (a seen set). */
static void test_dp_frame__seq_model(void **state)
{
	(void)state;
	enum { N = 4096 };
	static bool seen[N + 64];
	memset(seen, 0, sizeof(seen));
	struct dp_frame_seq s;
	dp_frame_seq_init(&s);
	uint32_t rng = 12345;
	uint64_t newest = 0;
	bool any = false;
	for (int i = 0; i < 20000; i++) {
		rng = rng * 1103515245u + 12345u;
		uint32_t r = rng >> 16;
		/* mostly forward, sometimes up to 40 back, sometimes a jump of up to 5 */
		uint64_t seq = any ? newest + 1 : 0;
		if (any && r % 4 == 0)
			seq = newest >= r % 41 ? newest - r % 41 : 0;
		else if (any && r % 4 == 1)
			seq = newest + 1 + r % 5;
		if (seq >= N)
			break;
		enum dp_frame_seq_result want;
		if (!any)
			want = NEW;
		else if (seq > newest)
			want = seq == newest + 1 ? NEW : GAP;
		else
			want = seen[seq] ? DUP : LATE;
		assert_int_equal(dp_frame_seq_check(&s, seq), want);
		seen[seq] = true;
		if (!any || seq > newest)
			newest = seq;
		any = true;
	}
	assert_true(s.count[DP_SEQ_LATE] > 0 && s.count[DP_SEQ_DUPLICATE] > 0);
	assert_true(s.count[DP_SEQ_GAP] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_frame__round_trip),
		cmocka_unit_test(test_dp_frame__empty_frame),
		cmocka_unit_test(test_dp_frame__writer_limits),
		cmocka_unit_test(test_dp_frame__must_reject),
		cmocka_unit_test(test_dp_frame__bad_record_in_middle),
		cmocka_unit_test(test_dp_frame__truncated_last_record),
		cmocka_unit_test(test_dp_frame__count_mismatch),
		cmocka_unit_test(test_dp_frame__header_extension),
		cmocka_unit_test(test_dp_frame__names),
		cmocka_unit_test(test_dp_frame__seq),
		cmocka_unit_test(test_dp_frame__seq_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
