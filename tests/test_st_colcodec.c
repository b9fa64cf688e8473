/*
 * test_st_colcodec.c - unit tests for the block column codecs
 * (storage/st_colcodec.c).
 *
 * Golden byte vectors, computed by hand from docs/formats/block.md, pin each
 * layout. Every well-formed codec id is run over a table of shaped series
 * (one point, constants, walks, extremes, specials, few distinct values):
 * whatever it accepts must decode back bit for bit from an exact-size heap
 * copy (so ASan sees any over-read). The chooser is checked on the same
 * shapes for both roles and all cost models, and must pick the expected
 * kind where one obviously wins. A must-reject table covers malformed
 * columns, and every truncation and byte flip of encoded columns must give
 * 0 or -EBADMSG, never a crash. Fixed seeds throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_rand.h"
#include "cm_compiler.h"
#include "st_colcodec.h"

#define MAXN 4096
#define T0 INT64_C(1700000000000000000)
#define SEC INT64_C(1000000000)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return cm_splitmix64(&rng_state);
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static uint64_t f2b(double d)
{
	uint64_t b;
	memcpy(&b, &d, sizeof(b));
	return b;
}

static void *work_mem(uint32_t n, size_t *bytes)
{
	*bytes = st_col_work_bytes(n);
	void *w = malloc(*bytes);
	assert_non_null(w);
	return w;
}

/* Decode from an exact-size heap copy; 0 or -EBADMSG, out[n]. */
static int decode_copy(uint8_t codec, const uint8_t *src, size_t len, uint32_t n, uint64_t first,
		       uint64_t last, uint64_t *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, src, len);
	int rc = st_col_decode(codec, copy, len, n, first, last, out);
	free(copy);
	return rc;
}

/* Decode and compare with u; also check that a wrong last value is caught. */
static void check_decodes(uint8_t codec, const uint8_t *src, size_t len, const uint64_t *u,
			  uint32_t n)
{
	static uint64_t out[MAXN];
	char nm[32];
	int rc = decode_copy(codec, src, len, n, u[0], u[n - 1], out);
	if (rc)
		fail_msg("codec %s, n %u: decode %d", st_col_codec_name(codec, nm, sizeof(nm)), n, rc);
	for (uint32_t i = 0; i < n; i++)
		if (out[i] != u[i])
			fail_msg("codec %s, n %u: value %u is %#llx, want %#llx",
				 st_col_codec_name(codec, nm, sizeof(nm)), n, i,
				 (unsigned long long)out[i], (unsigned long long)u[i]);
	/* (a LINEAR column is defined by its ends: another last is another column) */
	if (n > 1 && !(codec & ST_COL_DEC) && codec != ST_COL_LINEAR)
		assert_int_equal(decode_copy(codec, src, len, n, u[0], u[n - 1] ^ 1, out),
				 -EBADMSG);
}

/* A named shape of series. */
enum shape {
	SH_ONE,           /* n = 1 */
	SH_CONST,         /* all equal */
	SH_REGULAR_TS,    /* 10 s apart */
	SH_JITTER_TS,     /* 10 s +- 1 ms */
	SH_GAPS_TS,       /* huge gaps, negative times */
	SH_INT_WALK,      /* steps in -2..2 */
	SH_INT_RANDOM,    /* uniform 0..100 */
	SH_INT_EXTREMES,  /* INT64_MIN / MAX / 0 / -1 */
	SH_FEW_DISTINCT,  /* 5 values in runs */
	SH_BOOL,          /* 0/1 with long runs */
	SH_DEC2,          /* two-decimal float walk, with -0.0 */
	SH_FLOAT_FULL,    /* full-entropy doubles */
	SH_FLOAT_SPECIAL, /* NaN payloads, infinities, -0.0, denormals */
	SH__COUNT
};

static uint32_t make_shape(enum shape sh, uint32_t n, uint64_t *u)
{
	if (sh == SH_ONE)
		n = 1;
	int64_t t = T0, x = 50;
	double f = 0.02;
	static const uint64_t few[] = {7, 1000000, UINT64_C(0xffffffffffffffff), 0, 42};
	static const uint64_t ext[] = {(uint64_t)INT64_MIN, (uint64_t)INT64_MAX, 0,
				       UINT64_C(0xffffffffffffffff), 1, (uint64_t)INT64_MIN + 1};
	for (uint32_t i = 0; i < n; i++) {
		switch (sh) {
		case SH_ONE:
			u[i] = rnd();
			break;
		case SH_CONST:
			u[i] = 0x4059000000000000ULL;
			break;
		case SH_REGULAR_TS:
			u[i] = (uint64_t)(T0 + 10 * SEC * i);
			break;
		case SH_JITTER_TS:
			t += 10 * SEC + rnd_range(-1000000, 1000000);
			u[i] = (uint64_t)t;
			break;
		case SH_GAPS_TS:
			t = i == 0 ? INT64_MIN + 5 : t + 1 + (int64_t)(rnd() >> (2 + rnd() % 62));
			u[i] = (uint64_t)t;
			if (t > INT64_MAX / 2)
				return i + 1;
			break;
		case SH_INT_WALK:
			x += rnd_range(-2, 2);
			u[i] = (uint64_t)x;
			break;
		case SH_INT_RANDOM:
			u[i] = (uint64_t)rnd_range(0, 100);
			break;
		case SH_INT_EXTREMES:
			u[i] = ext[rnd() % CM_ARRAY_SIZE(ext)];
			break;
		case SH_FEW_DISTINCT:
			u[i] = few[(i / 17 + (rnd() % 8 == 0)) % CM_ARRAY_SIZE(few)];
			break;
		case SH_BOOL:
			u[i] = (i / 40) & 1 ? rnd() % 16 != 0 : rnd() % 16 == 0;
			break;
		case SH_DEC2:
			f = round((f + (double)rnd_range(-3, 2) / 100.0) * 100.0) / 100.0;
			u[i] = f2b(i % 97 == 5 ? -0.0 : f);
			break;
		case SH_FLOAT_FULL:
			u[i] = f2b((double)rnd() / 3.0e17);
			break;
		case SH_FLOAT_SPECIAL: {
			static const uint64_t sp[] = {
				0x7ff8000000000000ULL, 0x7ff0000000000001ULL, 0xfff8000000000123ULL,
				0x7ff0000000000000ULL, 0xfff0000000000000ULL, 0x8000000000000000ULL,
				0x0000000000000001ULL, 0x3ff0000000000000ULL, 0x0000000000000000ULL};
			u[i] = sp[rnd() % CM_ARRAY_SIZE(sp)];
			break;
		}
		default:
			fail();
		}
	}
	return n;
}

static bool shape_is_ts(enum shape sh)
{
	return sh == SH_REGULAR_TS || sh == SH_JITTER_TS || sh == SH_GAPS_TS;
}

/* ------------------------------------------------------------------------ */
/* Golden vectors                                                           */
/* ------------------------------------------------------------------------ */

static void expect_bytes(uint8_t codec, const uint64_t *u, uint32_t n, const uint8_t *want,
			 size_t wlen)
{
	size_t wb;
	void *w = work_mem(n, &wb);
	uint8_t buf[256];
	char nm[32];
	int len = st_col_encode(codec, u, n, buf, sizeof(buf), w, wb);
	if (len != (int)wlen || memcmp(buf, want, wlen))
		fail_msg("codec %s: encoded %d bytes, want %zu", st_col_codec_name(codec, nm, sizeof(nm)),
			 len, wlen);
	check_decodes(codec, want, wlen, u, n);
	free(w);
}

static void test_st_colcodec__golden_vectors(void **state)
{
	(void)state;
	static const uint64_t u[] = {10, 11, 9, 9};
	/* residuals: order 0 zz 22 18 18; order 1 deltas 1 -2 0 -> zz 2 3 0; order 2: 1 -3 2 -> 2 5 4 */
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 1), u, 4, (const uint8_t[]){0x02, 0x03, 0x00}, 3);
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 0), u, 4, (const uint8_t[]){0x16, 0x12, 0x12}, 3);
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 2), u, 4, (const uint8_t[]){0x02, 0x05, 0x04}, 3);
	expect_bytes(ST_COL_ID(ST_COL_NIBBLE, 1), u, 4, (const uint8_t[]){0x32, 0x00}, 2);
	expect_bytes(ST_COL_ID(ST_COL_PLANES, 1), u, 4, (const uint8_t[]){0x01, 0x02, 0x03, 0x00}, 4);
	expect_bytes(ST_COL_ID(ST_COL_BITPACK, 1), u, 4, (const uint8_t[]){0x02, 0x0e}, 2);
	expect_bytes(ST_COL_DICT, u, 4,
		     (const uint8_t[]){0x02, 9, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0x02}, 12);
	expect_bytes(ST_COL_RLE, u, 4, (const uint8_t[]){0x02, 0x00, 0x03, 0x01}, 4);
	expect_bytes(ST_COL_GORILLA_DOD, u, 4, (const uint8_t[]){0x80, 0x01, 0xbf, 0xfd, 0x80, 0x02},
		     6);
	expect_bytes(ST_COL_GORILLA_XOR, u, 4,
		     (const uint8_t[]){0xff, 0, 0, 0, 0, 0x06, 0, 0, 0, 0x01, 0}, 11);
	expect_bytes(ST_COL_RAW, u, 2, (const uint8_t[]){10, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0},
		     16);

	/* 300 as a two-byte varint: zz(300) = 600 = 0x258 -> d8 04 */
	static const uint64_t big[] = {0, 300};
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 1), big, 2, (const uint8_t[]){0xd8, 0x04}, 2);
	expect_bytes(ST_COL_ID(ST_COL_PLANES, 1), big, 2, (const uint8_t[]){0x02, 0x58, 0x02}, 3);

	/* Regular timestamps and constants: no bytes at all. */
	static const uint64_t ts[] = {1000, 2000, 3000, 4000};
	expect_bytes(ST_COL_LINEAR, ts, 4, (const uint8_t[]){0}, 0);

	/* Decimals: 12.34 12.35 12.33 -> s = 2, k deltas 1 -2 -> zz 2 3 */
	const uint64_t dec[] = {f2b(12.34), f2b(12.35), f2b(12.33)};
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, dec, 3,
		     (const uint8_t[]){0x02, 0x02, 0x03}, 3);
	/* 0.5 needs s = 1 (k = 5); -0.0 is k = INT64_MIN, which zigzags to 2^64 - 1 */
	const uint64_t nz[] = {f2b(0.5), f2b(-0.0)};
	expect_bytes(ST_COL_ID(ST_COL_VARINT, 0) | ST_COL_DEC, nz, 2,
		     (const uint8_t[]){0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		     11);
}

/* ------------------------------------------------------------------------ */
/* Every codec, every shape                                                 */
/* ------------------------------------------------------------------------ */

static void test_st_colcodec__every_codec_round_trips(void **state)
{
	(void)state;
	static uint64_t u[MAXN];
	static uint8_t buf[MAXN * 10 + 64];
	static const uint32_t sizes[] = {1, 2, 3, 7, 64, 1023, 1024, MAXN};
	size_t wb;
	void *w = work_mem(MAXN, &wb);
	rng_state = 11;
	unsigned accepted = 0;
	for (int sh = 0; sh < SH__COUNT; sh++) {
		for (unsigned si = 0; si < CM_ARRAY_SIZE(sizes); si++) {
			uint32_t n = make_shape((enum shape)sh, sizes[si], u);
			for (unsigned c = 0; c < 128; c++) {
				int len = st_col_encode((uint8_t)c, u, n, buf, sizeof(buf), w, wb);
				if (len == -EINVAL)
					continue;
				assert_true(len >= 0);
				check_decodes((uint8_t)c, buf, (size_t)len, u, n);
				accepted++;
			}
		}
	}
	assert_true(accepted > 1000);
	free(w);
}

static void test_st_colcodec__encode_errors(void **state)
{
	(void)state;
	size_t wb;
	void *w = work_mem(64, &wb);
	uint64_t u[64];
	uint8_t buf[1024];
	for (uint32_t i = 0; i < 64; i++)
		u[i] = i * i * 1000;
	/* malformed ids */
	assert_int_equal(st_col_encode(0x80, u, 4, buf, sizeof(buf), w, wb), -EINVAL);
	assert_int_equal(st_col_encode(ST_COL__KINDS, u, 4, buf, sizeof(buf), w, wb), -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_ID(ST_COL_VARINT, 3), u, 4, buf, sizeof(buf), w, wb),
			 -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_ID(ST_COL_DICT, 1), u, 4, buf, sizeof(buf), w, wb),
			 -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_RAW | ST_COL_DEC, u, 4, buf, sizeof(buf), w, wb),
			 -EINVAL);
	/* values the codec cannot hold */
	assert_int_equal(st_col_encode(ST_COL_ID(ST_COL_NIBBLE, 1), u, 64, buf, sizeof(buf), w, wb),
			 -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_LINEAR, u, 64, buf, sizeof(buf), w, wb), -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, (uint64_t[]){1, 2}, 2,
				       buf, sizeof(buf), w, wb),
			 -EINVAL); /* denormals are no decimals */
	/* no room */
	assert_int_equal(st_col_encode(ST_COL_RAW, u, 64, buf, 511, w, wb), -ENOSPC);
	assert_int_equal(st_col_encode(ST_COL_ID(ST_COL_VARINT, 0), u, 64, buf, 10, w, wb), -ENOSPC);
	assert_int_equal(st_col_encode(ST_COL_GORILLA_XOR, u, 64, buf, 3, w, wb), -ENOSPC);
	/* bad arguments */
	assert_int_equal(st_col_encode(ST_COL_RAW, u, 0, buf, sizeof(buf), w, wb), -EINVAL);
	assert_int_equal(st_col_encode(ST_COL_RAW, u, 64, buf, sizeof(buf), w, wb - 1), -EINVAL);
	struct st_col_chooser ch = {.work = w, .work_bytes = wb};
	uint8_t codec;
	assert_int_equal(st_col_encode_best(&ch, ST_COL_ROLE_VALUES, ST_VT_I64, u, 64, buf, 511,
					    &codec),
			 -EINVAL);
	assert_int_equal(st_col_encode_best(&ch, ST_COL_ROLE_VALUES, ST_VT_STR, u, 64, buf,
					    sizeof(buf), &codec),
			 -EINVAL);
	free(w);
}

/* ------------------------------------------------------------------------ */
/* The chooser                                                              */
/* ------------------------------------------------------------------------ */

static double cost_len_plus_one(void *arg, const uint8_t *buf, size_t len)
{
	(void)buf;
	(*(unsigned *)arg)++;
	return (double)len + 1;
}

static void test_st_colcodec__chooser_round_trips(void **state)
{
	(void)state;
	static uint64_t u[MAXN];
	static uint8_t buf[MAXN * 8];
	size_t wb;
	void *w = work_mem(MAXN, &wb);
	unsigned calls = 0;
	struct st_col_chooser choosers[] = {
		{.work = w, .work_bytes = wb},
		{.cost = st_col_cost_raw, .work = w, .work_bytes = wb},
		{.cost = cost_len_plus_one, .cost_arg = &calls, .work = w, .work_bytes = wb},
		{.cost = cost_len_plus_one, .cost_arg = &calls, .prune = 1.1, .work = w,
		 .work_bytes = wb},
	};
	static const enum st_value_type vts[] = {ST_VT_F64, ST_VT_I64, ST_VT_U64, ST_VT_BOOL};
	rng_state = 12;
	for (int sh = 0; sh < SH__COUNT; sh++) {
		for (uint32_t want = 1; want <= MAXN; want = want * 3 + 1) {
			uint32_t n = make_shape((enum shape)sh, want, u);
			for (unsigned c = 0; c < CM_ARRAY_SIZE(choosers); c++) {
				/* v == 4: the timestamp role, for the timestamp shapes */
				for (unsigned v = 0; v < 5; v++) {
					if (v == 4 && !shape_is_ts((enum shape)sh))
						continue;
					enum st_col_role role = v == 4 ? ST_COL_ROLE_TS : ST_COL_ROLE_VALUES;
					enum st_value_type vt = v == 4 ? ST_VT_I64 : vts[v];
					uint8_t codec = 0xff;
					int len = st_col_encode_best(&choosers[c], role, vt, u, n, buf,
								     (size_t)n * 8, &codec);
					assert_true(len >= 0 && (size_t)len <= (size_t)n * 8);
					assert_true(st_col_codec_valid(codec, role, vt));
					check_decodes(codec, buf, (size_t)len, u, n);
				}
			}
		}
	}
	assert_true(calls > 100);
	free(w);
}

/* Pruning by the entropy estimate calls the expensive cost less, and still round-trips. */
static void test_st_colcodec__pruning_saves_cost_calls(void **state)
{
	(void)state;
	static uint64_t u[1024];
	static uint8_t buf[1024 * 8];
	size_t wb;
	void *w = work_mem(1024, &wb);
	rng_state = 16;
	unsigned all = 0, pruned = 0;
	struct st_col_chooser a = {.cost = cost_len_plus_one, .cost_arg = &all, .work = w,
				   .work_bytes = wb};
	struct st_col_chooser p = a;
	p.cost_arg = &pruned;
	p.prune = 1.1;
	for (int sh = 0; sh < SH__COUNT; sh++) {
		uint32_t n = make_shape((enum shape)sh, 1024, u);
		uint8_t codec;
		int len = st_col_encode_best(&a, ST_COL_ROLE_VALUES, ST_VT_I64, u, n, buf, sizeof(buf),
					     &codec);
		assert_true(len >= 0);
		len = st_col_encode_best(&p, ST_COL_ROLE_VALUES, ST_VT_I64, u, n, buf, sizeof(buf),
					 &codec);
		assert_true(len >= 0);
		check_decodes(codec, buf, (size_t)len, u, n);
	}
	assert_true(pruned > 0 && pruned * 2 < all);
	free(w);
}

static uint8_t best_codec(enum st_col_role role, enum st_value_type vt, const uint64_t *u,
			  uint32_t n, int *len)
{
	static uint8_t buf[MAXN * 8];
	size_t wb;
	void *w = work_mem(n, &wb);
	struct st_col_chooser ch = {.work = w, .work_bytes = wb};
	uint8_t codec;
	*len = st_col_encode_best(&ch, role, vt, u, n, buf, sizeof(buf), &codec);
	assert_true(*len >= 0);
	check_decodes(codec, buf, (size_t)*len, u, n);
	free(w);
	return codec;
}

static void test_st_colcodec__chooser_picks(void **state)
{
	(void)state;
	static uint64_t u[1024];
	int len;
	rng_state = 13;

	/* regular timestamps and constants cost nothing */
	make_shape(SH_REGULAR_TS, 1024, u);
	assert_int_equal(best_codec(ST_COL_ROLE_TS, ST_VT_I64, u, 1024, &len), ST_COL_LINEAR);
	assert_int_equal(len, 0);
	make_shape(SH_CONST, 1024, u);
	assert_int_equal(best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 1024, &len), ST_COL_LINEAR);
	assert_int_equal(len, 0);
	assert_int_equal(best_codec(ST_COL_ROLE_VALUES, ST_VT_I64, u, 1, &len), ST_COL_LINEAR);

	/* jittered timestamps: a delta-of-delta packing, a few bytes a point */
	make_shape(SH_JITTER_TS, 1024, u);
	uint8_t c = best_codec(ST_COL_ROLE_TS, ST_VT_I64, u, 1024, &len);
	assert_true((c & ST_COL_ORDER_MASK) >> ST_COL_ORDER_SHIFT == 2 ||
		    (c & ST_COL_KIND_MASK) == ST_COL_GORILLA_DOD);
	assert_true(len < 1024 * 5);

	/* small integer walk: one nibble a point (what TSBS is) */
	make_shape(SH_INT_WALK, 1024, u);
	assert_int_equal(best_codec(ST_COL_ROLE_VALUES, ST_VT_I64, u, 1024, &len),
			 ST_COL_ID(ST_COL_NIBBLE, 1));
	assert_int_equal(len, 512);

	/* two-decimal floats: decimal scaling */
	make_shape(SH_DEC2, 1024, u);
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 1024, &len);
	assert_true(c & ST_COL_DEC);

	/* full-entropy floats: no decimal scaling is possible */
	make_shape(SH_FLOAT_FULL, 1024, u);
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 1024, &len);
	assert_false(c & ST_COL_DEC);

	/* few distinct values (some of 64 bits): dictionary or run-length, about a nibble a point */
	make_shape(SH_FEW_DISTINCT, 1024, u);
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_U64, u, 1024, &len);
	assert_true((c & ST_COL_KIND_MASK) == ST_COL_DICT || (c & ST_COL_KIND_MASK) == ST_COL_RLE);
	assert_true(len <= 600);

	/* bools with long runs */
	for (uint32_t i = 0; i < 1024; i++)
		u[i] = (i / 100) & 1;
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_BOOL, u, 1024, &len);
	assert_int_equal(c & ST_COL_KIND_MASK, ST_COL_RLE);
	assert_true(len < 32);
}

static void test_st_colcodec__nan_inf_negzero_bit_exact(void **state)
{
	(void)state;
	static uint64_t u[2048];
	rng_state = 14;
	uint32_t n = make_shape(SH_FLOAT_SPECIAL, 2048, u);
	int len;
	best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, n, &len);
	/* the DEC sentinels: decimals mixed with -0.0, +-inf and the canonical NaN */
	static const uint64_t sp[] = {0x8000000000000000ULL, 0x7ff0000000000000ULL,
				      0xfff0000000000000ULL, 0x7ff8000000000000ULL};
	for (uint32_t i = 0; i < 2048; i++)
		u[i] = i % 50 == 3 ? sp[i / 50 % 4] : f2b((double)(int64_t)rnd_range(-500, 500) / 10.0);
	uint8_t c = best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 2048, &len);
	assert_true(c & ST_COL_DEC);
	/* a NaN with a payload is no decimal */
	u[7] = 0x7ff8000000000001ULL;
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 2048, &len);
	assert_false(c & ST_COL_DEC);
	/* sentinels as first and last (the decoder derives k from them) */
	u[0] = sp[0];
	u[2047] = sp[2];
	u[7] = f2b(1.5);
	c = best_codec(ST_COL_ROLE_VALUES, ST_VT_F64, u, 2048, &len);
	assert_true(c & ST_COL_DEC);
}

static void test_st_colcodec__int64_extremes(void **state)
{
	(void)state;
	static const uint64_t seqs[][4] = {
		{(uint64_t)INT64_MIN, (uint64_t)INT64_MAX, (uint64_t)INT64_MIN, (uint64_t)INT64_MAX},
		{(uint64_t)INT64_MAX, (uint64_t)INT64_MIN, 0, (uint64_t)-1},
		{0, UINT64_MAX, 1, UINT64_MAX - 1},
		{(uint64_t)INT64_MIN, (uint64_t)INT64_MIN + 1, (uint64_t)INT64_MIN + 2,
		 (uint64_t)INT64_MIN + 3},
	};
	size_t wb;
	void *w = work_mem(4, &wb);
	uint8_t buf[256];
	for (unsigned s = 0; s < CM_ARRAY_SIZE(seqs); s++) {
		for (unsigned c = 0; c < 128; c++) {
			int len = st_col_encode((uint8_t)c, seqs[s], 4, buf, sizeof(buf), w, wb);
			if (len >= 0)
				check_decodes((uint8_t)c, buf, (size_t)len, seqs[s], 4);
		}
		int len;
		best_codec(ST_COL_ROLE_VALUES, ST_VT_I64, seqs[s], 4, &len);
		best_codec(ST_COL_ROLE_VALUES, ST_VT_U64, seqs[s], 4, &len);
	}
	/* linear across the wrap: INT64_MAX - 1, INT64_MAX, INT64_MIN is not linear to the decoder */
	static const uint64_t wrap[] = {(uint64_t)INT64_MAX - 1, (uint64_t)INT64_MAX,
					(uint64_t)INT64_MIN};
	int len = st_col_encode(ST_COL_LINEAR, wrap, 3, buf, sizeof(buf), w, wb);
	if (len >= 0)
		check_decodes(ST_COL_LINEAR, buf, 0, wrap, 3);
	/* decreasing linear sequences are linear */
	static const uint64_t down[] = {10, 5, 0, (uint64_t)-5};
	assert_int_equal(st_col_encode(ST_COL_LINEAR, down, 4, buf, sizeof(buf), w, wb), 0);
	check_decodes(ST_COL_LINEAR, buf, 0, down, 4);
	free(w);
}

static void test_st_colcodec__codec_valid(void **state)
{
	(void)state;
	assert_true(st_col_codec_valid(ST_COL_LINEAR, ST_COL_ROLE_TS, ST_VT_I64));
	assert_true(st_col_codec_valid(ST_COL_ID(ST_COL_NIBBLE, 2), ST_COL_ROLE_TS, ST_VT_I64));
	assert_true(st_col_codec_valid(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, ST_COL_ROLE_VALUES,
				       ST_VT_F64));
	assert_false(st_col_codec_valid(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, ST_COL_ROLE_TS,
					ST_VT_I64));
	assert_false(st_col_codec_valid(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, ST_COL_ROLE_VALUES,
					ST_VT_I64));
	assert_false(st_col_codec_valid(ST_COL_ID(ST_COL_VARINT, 3), ST_COL_ROLE_VALUES, ST_VT_I64));
	assert_false(st_col_codec_valid(ST_COL_ID(ST_COL_RLE, 1), ST_COL_ROLE_VALUES, ST_VT_I64));
	assert_false(st_col_codec_valid(ST_COL_DICT | ST_COL_DEC, ST_COL_ROLE_VALUES, ST_VT_F64));
	assert_false(st_col_codec_valid(ST_COL__KINDS, ST_COL_ROLE_VALUES, ST_VT_I64));
	assert_false(st_col_codec_valid(0x80, ST_COL_ROLE_VALUES, ST_VT_I64));
	assert_false(st_col_codec_valid(ST_COL_RAW, ST_COL_ROLE_VALUES, ST_VT_STR));
	assert_false(st_col_codec_valid(ST_COL_RAW, ST_COL_ROLE_VALUES, ST_VT_NONE));
	char nm[32];
	assert_string_equal(st_col_codec_name(ST_COL_ID(ST_COL_NIBBLE, 1), nm, sizeof(nm)), "nibble/1");
	assert_string_equal(st_col_codec_name(ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, nm,
					      sizeof(nm)),
			    "varint/1+dec");
	assert_string_equal(st_col_codec_name(0xff, nm, sizeof(nm)), "bad-0xff");
}

/* ------------------------------------------------------------------------ */
/* Must reject                                                              */
/* ------------------------------------------------------------------------ */

struct reject_case {
	const char *what;
	uint8_t codec;
	uint8_t bytes[24];
	uint8_t len;
	uint32_t n;
	uint64_t first, last;
};

static void test_st_colcodec__must_reject(void **state)
{
	(void)state;
	static const struct reject_case cases[] = {
		{"reserved bit", 0x80, {0}, 0, 1, 0, 0},
		{"unknown kind", ST_COL__KINDS, {0}, 0, 1, 0, 0},
		{"order 3", ST_COL_ID(ST_COL_VARINT, 3), {0}, 0, 1, 0, 0},
		{"order on dict", ST_COL_ID(ST_COL_DICT, 1), {0}, 0, 1, 0, 0},
		{"dec on raw", ST_COL_RAW | ST_COL_DEC, {0}, 0, 1, 0, 0},
		{"n = 0", ST_COL_LINEAR, {0}, 0, 0, 0, 0},
		{"n too big", ST_COL_LINEAR, {0}, 0, ST_BLOCK_MAX_CHUNK_POINTS + 1, 0, 0},
		{"raw short", ST_COL_RAW, {1, 0, 0, 0, 0, 0, 0}, 7, 1, 1, 1},
		{"raw first differs", ST_COL_RAW, {2, 0, 0, 0, 0, 0, 0, 0}, 8, 1, 1, 2},
		{"linear with bytes", ST_COL_LINEAR, {0}, 1, 2, 0, 2},
		{"linear not divisible", ST_COL_LINEAR, {0}, 0, 3, 0, 3},
		{"linear one point, two values", ST_COL_LINEAR, {0}, 0, 1, 0, 1},
		{"varint runs out", ST_COL_ID(ST_COL_VARINT, 1), {0x80}, 1, 2, 0, 0},
		{"varint too long", ST_COL_ID(ST_COL_VARINT, 1),
		 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11, 2, 0, 0},
		{"varint 10th byte > 1", ST_COL_ID(ST_COL_VARINT, 1),
		 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 10, 2, 0, 0},
		{"varint trailing bytes", ST_COL_ID(ST_COL_VARINT, 1), {0x02, 0x00}, 2, 2, 0, 1},
		{"varint wrong last", ST_COL_ID(ST_COL_VARINT, 1), {0x02}, 1, 2, 0, 2},
		{"nibble length", ST_COL_ID(ST_COL_NIBBLE, 1), {0x22, 0x00}, 2, 3, 0, 2},
		{"planes width 0", ST_COL_ID(ST_COL_PLANES, 1), {0x00}, 1, 1, 0, 0},
		{"planes width 9", ST_COL_ID(ST_COL_PLANES, 1), {0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10, 2, 0, 0},
		{"planes length", ST_COL_ID(ST_COL_PLANES, 1), {0x02, 0x02}, 2, 2, 0, 1},
		{"planes empty", ST_COL_ID(ST_COL_PLANES, 1), {0}, 0, 2, 0, 1},
		{"bitpack width 65", ST_COL_ID(ST_COL_BITPACK, 1), {65, 0, 0, 0, 0, 0, 0, 0, 0}, 9, 2, 0, 0},
		{"bitpack length", ST_COL_ID(ST_COL_BITPACK, 1), {8, 2, 0}, 3, 2, 0, 1},
		{"xor reuse before window", ST_COL_GORILLA_XOR, {0x80}, 1, 2, 0, 0},
		{"xor lead + m > 64", ST_COL_GORILLA_XOR, {0xff, 0xff, 0xff}, 3, 2, 0, 0},
		{"xor runs out", ST_COL_GORILLA_XOR, {0xc0}, 1, 2, 0, 1},
		{"dod runs out", ST_COL_GORILLA_DOD, {0xf8}, 1, 2, 0, 1},
		{"dod empty", ST_COL_GORILLA_DOD, {0}, 0, 9, 0, 0},
		{"dict short", ST_COL_DICT, {0x00, 1, 0, 0}, 4, 2, 1, 1},
		{"dict gap 0", ST_COL_DICT, {0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00}, 11, 2, 1, 1},
		{"dict gap wraps", ST_COL_DICT,
		 {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}, 11, 2, 0, 0},
		{"dict index out of range", ST_COL_DICT, {0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0x03},
		 12, 2, 1, 1},
		{"dict index bytes", ST_COL_DICT, {0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00}, 11, 2, 1, 1},
		{"rle run too long", ST_COL_RLE, {0x00, 0x05}, 2, 3, 0, 0},
		{"rle runs short", ST_COL_RLE, {0x00, 0x00}, 2, 3, 0, 0},
		{"rle trailing", ST_COL_RLE, {0x00, 0x00, 0x00}, 3, 2, 0, 0},
		{"dec scale 16", ST_COL_LINEAR | ST_COL_DEC, {16}, 1, 1, 0, 0},
		{"dec no scale", ST_COL_LINEAR | ST_COL_DEC, {0}, 0, 1, 0, 0},
		{"dec first NaN payload", ST_COL_LINEAR | ST_COL_DEC, {2}, 1, 1, 0x7ff8000000000001ULL,
		 0x7ff8000000000001ULL},
		{"dec first huge", ST_COL_LINEAR | ST_COL_DEC, {2}, 1, 1, 0x4700000000000000ULL,
		 0x4700000000000000ULL},
		{"dec k past the sentinels", ST_COL_ID(ST_COL_VARINT, 0) | ST_COL_DEC,
		 {0, 0xf7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}, 12, 3, 0, 0},
		{"dec k beyond 2^53", ST_COL_ID(ST_COL_VARINT, 0) | ST_COL_DEC,
		 {0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00}, 11, 3, 0, 0},
	};
	static uint64_t out[ST_BLOCK_MAX_CHUNK_POINTS + 1];
	for (unsigned i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		const struct reject_case *c = &cases[i];
		int rc = decode_copy(c->codec, c->bytes, c->len, c->n, c->first, c->last, out);
		if (rc != -EBADMSG)
			fail_msg("case '%s': got %d, want -EBADMSG", c->what, rc);
	}
}

/* Every truncation and every single-byte change of encoded columns: 0 or -EBADMSG. */
static void test_st_colcodec__corrupt_never_crashes(void **state)
{
	(void)state;
	static uint64_t u[300], out[300];
	static uint8_t buf[300 * 10 + 64];
	size_t wb;
	void *w = work_mem(300, &wb);
	rng_state = 15;
	unsigned ok = 0, bad = 0;
	for (int sh = 0; sh < SH__COUNT; sh++) {
		uint32_t n = make_shape((enum shape)sh, 300, u);
		for (unsigned c = 0; c < 128; c++) {
			int len = st_col_encode((uint8_t)c, u, n, buf, sizeof(buf), w, wb);
			if (len < 0)
				continue;
			for (int cut = 0; cut < len; cut += 1 + len / 16) {
				int rc = decode_copy((uint8_t)c, buf, (size_t)cut, n, u[0], u[n - 1], out);
				assert_true(rc == 0 || rc == -EBADMSG);
			}
			for (int at = 0; at < len; at += 1 + len / 32) {
				uint8_t save = buf[at];
				buf[at] ^= (uint8_t)(1u << (rnd() % 8));
				int rc = decode_copy((uint8_t)c, buf, (size_t)len, n, u[0], u[n - 1], out);
				assert_true(rc == 0 || rc == -EBADMSG);
				rc ? bad++ : ok++;
				buf[at] = save;
			}
		}
	}
	assert_true(bad > 0);
	free(w);
}

static void test_st_colcodec__costs(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	assert_true(st_col_cost_raw(NULL, buf, 100) == 100.0);
	assert_true(st_col_cost_entropy(NULL, buf, 0) == 0.0);
	memset(buf, 7, sizeof(buf));
	/* one symbol: no entropy, only the Huffman term */
	assert_true(fabs(st_col_cost_entropy(NULL, buf, 4096) - 64.0) < 1.0);
	/* uniform bytes: a byte each */
	for (unsigned i = 0; i < 4096; i++)
		buf[i] = (uint8_t)i;
	assert_true(fabs(st_col_cost_entropy(NULL, buf, 4096) - (4096 + 64)) < 2.0);
	/* two equally likely symbols: a bit each */
	for (unsigned i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i & 1);
	assert_true(fabs(st_col_cost_entropy(NULL, buf, 4096) - (512 + 64)) < 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_colcodec__golden_vectors),
		cmocka_unit_test(test_st_colcodec__every_codec_round_trips),
		cmocka_unit_test(test_st_colcodec__encode_errors),
		cmocka_unit_test(test_st_colcodec__chooser_round_trips),
		cmocka_unit_test(test_st_colcodec__chooser_picks),
		cmocka_unit_test(test_st_colcodec__pruning_saves_cost_calls),
		cmocka_unit_test(test_st_colcodec__nan_inf_negzero_bit_exact),
		cmocka_unit_test(test_st_colcodec__int64_extremes),
		cmocka_unit_test(test_st_colcodec__codec_valid),
		cmocka_unit_test(test_st_colcodec__must_reject),
		cmocka_unit_test(test_st_colcodec__corrupt_never_crashes),
		cmocka_unit_test(test_st_colcodec__costs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
