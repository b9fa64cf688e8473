/*
 * test_st_chunk.c - unit tests for the chunk codec (storage/st_chunk.c).
 *
 * Every encoded chunk is checked three ways: bit for bit against a slow
 * reference encoder written from the format text in st_chunk.h (one bit at a
 * time, no shared code), by decoding it back from an exact-size heap copy
 * (so ASan sees any over-read), and by decoding it again in small batches.
 * Tables pin the field length of every bucket boundary; corrupt and
 * truncated chunks must give -EBADMSG; one test runs a writer and a
 * snapshotting reader on two threads. Fixed seeds throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_rand.h"
#include "cm_compiler.h"
#include "st_chunk.h"

#define SEC INT64_C(1000000000)
#define T0 INT64_C(1700000000000000000)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static uint64_t rnd(void)
{
	return cm_splitmix64(&rng_state);
}

/* Uniform in [lo, hi]. */
static int64_t rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / (double)(UINT64_C(1) << 53);
}

static uint64_t f2u(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	return u;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	assert_non_null(p);
	return p;
}

/* Words enough for n points of any content. */
static size_t words_for(uint32_t n)
{
	return ((size_t)n * ST_CHUNK_POINT_MAX_BITS + 63) / 64 + 1;
}

/* ---- reference encoder: the format text, one bit at a time ---- */

struct ref {
	uint64_t *w;
	uint64_t pos;
};

static void ref_put(struct ref *r, uint64_t x, unsigned n)
{
	for (unsigned i = n; i-- > 0; r->pos++)
		if (x >> i & 1)
			r->w[r->pos / 64] |= UINT64_C(1) << (63 - r->pos % 64);
}

static bool in_signed(uint64_t x, unsigned w)
{
	int64_t v = (int64_t)x;
	int64_t half = INT64_C(1) << (w - 1);
	return v >= -half && v < half;
}

static void ref_ts(struct ref *r, uint64_t dod)
{
	static const struct { unsigned prefix, plen, w; } b[] = {
		{0x2, 2, 14}, {0x6, 3, 24}, {0xe, 4, 36}, {0x1e, 5, 48},
	};
	if (dod == 0) {
		ref_put(r, 0, 1);
		return;
	}
	for (size_t i = 0; i < CM_ARRAY_SIZE(b); i++) {
		if (in_signed(dod, b[i].w)) {
			ref_put(r, b[i].prefix, b[i].plen);
			ref_put(r, dod, b[i].w);
			return;
		}
	}
	ref_put(r, 0x1f, 5);
	ref_put(r, dod, 64);
}

static void ref_int(struct ref *r, uint64_t delta)
{
	int64_t d = (int64_t)delta;
	uint64_t zz = d < 0 ? ~(delta << 1) : delta << 1;

	if (zz == 0) {
		ref_put(r, 0, 1);
	} else if (zz >= 1 && zz <= 4) {
		ref_put(r, 0x2, 2);
		ref_put(r, zz - 1, 2);
	} else if (zz < 128) {
		ref_put(r, 0x6, 3);
		ref_put(r, zz, 7);
	} else if (zz < 65536) {
		ref_put(r, 0xe, 4);
		ref_put(r, zz, 16);
	} else if (zz <= UINT32_MAX) {
		ref_put(r, 0x1e, 5);
		ref_put(r, zz, 32);
	} else {
		ref_put(r, 0x1f, 5);
		ref_put(r, zz, 64);
	}
}

static unsigned lead_zeros(uint64_t x)
{
	unsigned n = 0;
	while (n < 64 && !(x >> (63 - n) & 1))
		n++;
	return n;
}

static unsigned trail_zeros(uint64_t x)
{
	unsigned n = 0;
	while (n < 64 && !(x >> n & 1))
		n++;
	return n;
}

/*
 * Encoder policy (docs/formats/chunk.md): reuse the window when the bits fit
 * and 2 + window length <= 13 + new length.
 */
static void ref_f64(struct ref *r, uint64_t x, int *w_lead, unsigned *w_len)
{
	if (x == 0) {
		ref_put(r, 0, 1);
		return;
	}
	unsigned lz = lead_zeros(x), tz = trail_zeros(x);
	unsigned lead = lz > 31 ? 31 : lz;
	unsigned m = 64 - lead - tz;
	if (*w_lead >= 0 && lz >= (unsigned)*w_lead && tz >= 64 - (unsigned)*w_lead - *w_len &&
	    2 + *w_len <= 13 + m) {
		ref_put(r, 0x2, 2);
		ref_put(r, x >> (64 - (unsigned)*w_lead - *w_len), *w_len);
		return;
	}
	ref_put(r, 0x3, 2);
	ref_put(r, lead, 5);
	ref_put(r, m - 1, 6);
	ref_put(r, x >> tz, m);
	*w_lead = (int)lead;
	*w_len = m;
}

/* Reference-encode n points into w (zeroed, words_for(n) words); returns nbits. */
static uint64_t ref_encode(uint64_t *w, const int64_t *ts, const uint64_t *v, uint32_t n,
			   enum st_value_type vt)
{
	struct ref r = {.w = w};
	int w_lead = -1;
	unsigned w_len = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (i == 0) {
			ref_put(&r, (uint64_t)ts[0], 64);
			ref_put(&r, v[0], 64);
			continue;
		}
		uint64_t prev_delta = i >= 2 ? (uint64_t)ts[i - 1] - (uint64_t)ts[i - 2] : 0;
		ref_ts(&r, (uint64_t)ts[i] - (uint64_t)ts[i - 1] - prev_delta);
		if (vt == ST_VT_F64)
			ref_f64(&r, v[i] ^ v[i - 1], &w_lead, &w_len);
		else
			ref_int(&r, v[i] - v[i - 1]);
	}
	return r.pos;
}

/* ---- encode / decode / check ---- */

struct chunk {
	uint64_t *w;       /* exact-size heap copy of the used words */
	uint32_t nwords;
	uint32_t nbits;
	uint32_t count;
};

static void chunk_free(struct chunk *c)
{
	free(c->w);
	c->w = NULL;
}

/* Encode with st_chunk_append (all must fit), check against the reference. */
static struct chunk encode_checked(const int64_t *ts, const uint64_t *v, uint32_t n,
				   enum st_value_type vt)
{
	size_t cap = words_for(n);
	uint64_t *buf = xcalloc(cap, sizeof(uint64_t));
	uint64_t *ref = xcalloc(cap, sizeof(uint64_t));
	struct st_chunk_enc e;

	st_chunk_enc_init(&e, buf, cap, vt);
	for (uint32_t i = 0; i < n; i++) {
		int rc = st_chunk_append(&e, ts[i], v[i]);
		if (rc != ST_CHUNK_OK)
			fail_msg("append %u of %u: rc %d", i, n, rc);
	}
	assert_int_equal(e.count, n);
	uint64_t ref_bits = ref_encode(ref, ts, v, n, vt);
	assert_int_equal(e.nbits, ref_bits);
	for (size_t i = 0; i < cap; i++)
		if (le64toh(buf[i]) != ref[i])
			fail_msg("word %zu: %016llx, reference %016llx", i,
				 (unsigned long long)le64toh(buf[i]), (unsigned long long)ref[i]);

	struct chunk c = {.nbits = e.nbits, .count = n};
	c.nwords = st_chunk_used_words(e.nbits);
	c.w = xcalloc(c.nwords, sizeof(uint64_t));
	memcpy(c.w, buf, c.nwords * sizeof(uint64_t));
	free(ref);
	free(buf);
	return c;
}

/* Decode c in batches of 'batch' points; every point must match. */
static void decode_checked(const struct chunk *c, const int64_t *ts, const uint64_t *v,
			   enum st_value_type vt, uint32_t batch)
{
	struct st_chunk_dec d;
	int64_t *dts = xcalloc(batch, sizeof(int64_t));
	uint64_t *dv = xcalloc(batch, sizeof(uint64_t));
	uint32_t got = 0;

	assert_int_equal(st_chunk_dec_init(&d, c->w, c->nwords, c->count, vt), 0);
	for (;;) {
		int rc = st_chunk_decode(&d, dts, dv, batch);
		if (rc < 0)
			fail_msg("decode at point %u (batch %u): rc %d", got, batch, rc);
		if (rc == 0)
			break;
		assert_true((uint32_t)rc <= batch);
		for (int i = 0; i < rc; i++, got++)
			if (dts[i] != ts[got] || dv[i] != v[got])
				fail_msg("point %u (batch %u): ts %lld val %016llx, want %lld %016llx",
					 got, batch, (long long)dts[i], (unsigned long long)dv[i],
					 (long long)ts[got], (unsigned long long)v[got]);
	}
	assert_int_equal(got, c->count);
	assert_int_equal(st_chunk_decode(&d, dts, dv, batch), 0);
	free(dts);
	free(dv);
}

/* The whole check: reference bits, decode at once and in batches. */
static void roundtrip(const int64_t *ts, const uint64_t *v, uint32_t n, enum st_value_type vt)
{
	static const uint32_t batches[] = {1, 7, 64, 1000};
	struct chunk c = encode_checked(ts, v, n, vt);

	decode_checked(&c, ts, v, vt, n ? n : 1);
	for (size_t i = 0; i < CM_ARRAY_SIZE(batches); i++)
		if (batches[i] < n)
			decode_checked(&c, ts, v, vt, batches[i]);
	chunk_free(&c);
}

/* A generated series: n points of one value type. */
struct series {
	int64_t *ts;
	uint64_t *v;
	uint32_t n;
};

static struct series series_alloc(uint32_t n)
{
	struct series s = {.n = n};
	s.ts = xcalloc(n, sizeof(int64_t));
	s.v = xcalloc(n, sizeof(uint64_t));
	return s;
}

static void series_free(struct series *s)
{
	free(s->ts);
	free(s->v);
}

typedef void (*gen_fn)(struct series *s);

/* Round-trip 'runs' series of gen, lengths 1..max_n, seeds from 'seed'. */
static void roundtrip_many(gen_fn gen, enum st_value_type vt, uint64_t seed, int runs,
			   uint32_t max_n)
{
	for (int r = 0; r < runs; r++) {
		rng_seed(seed + (uint64_t)r);
		uint32_t n = r == 0 ? max_n : 1 + (uint32_t)(rnd() % max_n);
		struct series s = series_alloc(n);
		gen(&s);
		roundtrip(s.ts, s.v, s.n, vt);
		series_free(&s);
	}
}

/* ---- generators (use rnd(); the caller seeds) ---- */

static void ts_regular(struct series *s, int64_t step)
{
	for (uint32_t i = 0; i < s->n; i++)
		s->ts[i] = T0 + (int64_t)i * step;
}

static void gen_const_int(struct series *s)
{
	ts_regular(s, 10 * SEC);
	uint64_t c = rnd();
	for (uint32_t i = 0; i < s->n; i++)
		s->v[i] = c;
}

static void gen_const_float(struct series *s)
{
	ts_regular(s, SEC);
	double c = rnd_unit() * 1e6;
	for (uint32_t i = 0; i < s->n; i++)
		s->v[i] = f2u(c);
}

static void gen_counter(struct series *s)
{
	ts_regular(s, 10 * SEC);
	uint64_t c = rnd() % 1000000;
	for (uint32_t i = 0; i < s->n; i++) {
		c += rnd() % (i % 100 == 0 ? 100000 : 50);
		s->v[i] = c;
	}
}

/* TSBS-like: steps in {-2..2} clamped to 0..100. */
static void gen_walk_int(struct series *s)
{
	ts_regular(s, 10 * SEC);
	int64_t x = rnd_range(0, 100);
	for (uint32_t i = 0; i < s->n; i++) {
		x += rnd_range(-2, 2);
		x = x < 0 ? 0 : x > 100 ? 100 : x;
		s->v[i] = (uint64_t)x;
	}
}

static void gen_walk_float(struct series *s)
{
	ts_regular(s, 10 * SEC);
	double x = rnd_unit() * 100;
	for (uint32_t i = 0; i < s->n; i++) {
		x += rnd_unit() - 0.5;
		s->v[i] = f2u(x);
	}
}

static void gen_int_as_float(struct series *s)
{
	ts_regular(s, 10 * SEC);
	int64_t x = rnd_range(-1000, 1000);
	for (uint32_t i = 0; i < s->n; i++) {
		x += rnd_range(-3, 3);
		s->v[i] = f2u((double)x);
	}
}

static void gen_irregular(struct series *s)
{
	int64_t t = T0 + rnd_range(-SEC, SEC);
	for (uint32_t i = 0; i < s->n; i++) {
		/* jitter from microseconds to tens of seconds */
		int64_t scale = INT64_C(1) << rnd_range(0, 35);
		t += 10 * SEC + rnd_range(-scale, scale) / 2;
		s->ts[i] = t;
		s->v[i] = (uint64_t)rnd_range(-5, 5);
	}
}

static void gen_large_gaps(struct series *s)
{
	uint64_t t = (uint64_t)rnd_range(-SEC, SEC);
	for (uint32_t i = 0; i < s->n; i++) {
		switch (rnd() % 5) {
		case 0: t += rnd() >> rnd_range(1, 40); break; /* up to 2^63 */
		case 1: t += (uint64_t)(3600 * SEC * rnd_range(1, 1000)); break;
		default: t += (uint64_t)SEC; break;
		}
		s->ts[i] = (int64_t)t; /* wraps through INT64_MAX: still round-trips */
		s->v[i] = rnd() >> rnd_range(0, 63);
	}
}

static void gen_out_of_order(struct series *s)
{
	int64_t t = T0;
	for (uint32_t i = 0; i < s->n; i++) {
		t += rnd_range(-60 * SEC, 60 * SEC);
		s->ts[i] = t;
		s->v[i] = f2u((double)rnd_range(-100, 100) / 4);
	}
}

static void gen_duplicates(struct series *s)
{
	int64_t t = T0;
	for (uint32_t i = 0; i < s->n; i++) {
		if (rnd() % 3 == 0)
			t += rnd_range(1, 2) * SEC;
		s->ts[i] = t;
		s->v[i] = rnd() % 4;
	}
}

static void gen_extremes(struct series *s)
{
	static const int64_t vals[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1,
				       INT64_MAX - 1};
	for (uint32_t i = 0; i < s->n; i++) {
		s->ts[i] = vals[rnd() % CM_ARRAY_SIZE(vals)];
		s->v[i] = (uint64_t)vals[rnd() % CM_ARRAY_SIZE(vals)];
	}
}

static void gen_random_bits(struct series *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		s->ts[i] = (int64_t)rnd();
		s->v[i] = rnd() >> (rnd() % 64) << (rnd() % 64);
	}
}

static void gen_special_floats(struct series *s)
{
	static const uint64_t special[] = {
		0x7ff8000000000000ULL, /* quiet NaN */
		0x7ff0000000000001ULL, /* signalling NaN, payload 1 */
		0xfff8000000000000ULL, /* negative quiet NaN */
		0x7fffffffffffffffULL, /* NaN, all payload bits */
		0xfff4000000abcdefULL, /* negative NaN, odd payload */
		0x7ff0000000000000ULL, /* +Inf */
		0xfff0000000000000ULL, /* -Inf */
		0x8000000000000000ULL, /* -0.0 */
		0x0000000000000000ULL, /* +0.0 */
		0x0000000000000001ULL, /* smallest denormal */
		0x7fefffffffffffffULL, /* DBL_MAX */
		0x3ff0000000000000ULL, /* 1.0 */
	};
	ts_regular(s, SEC);
	for (uint32_t i = 0; i < s->n; i++)
		s->v[i] = rnd() % 4 ? special[rnd() % CM_ARRAY_SIZE(special)] : f2u(rnd_unit());
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

static void test_st_chunk__constants(void **state)
{
	(void)state;
	roundtrip_many(gen_const_int, ST_VT_I64, 100, 20, 3000);
	roundtrip_many(gen_const_float, ST_VT_F64, 200, 20, 3000);
	roundtrip_many(gen_const_int, ST_VT_U64, 300, 5, 500);
}

static void test_st_chunk__counters(void **state)
{
	(void)state;
	roundtrip_many(gen_counter, ST_VT_U64, 400, 20, 3000);
	roundtrip_many(gen_counter, ST_VT_I64, 450, 5, 3000);
}

static void test_st_chunk__random_walks(void **state)
{
	(void)state;
	roundtrip_many(gen_walk_int, ST_VT_I64, 500, 30, 5000);
	roundtrip_many(gen_walk_float, ST_VT_F64, 600, 30, 5000);
	roundtrip_many(gen_int_as_float, ST_VT_F64, 700, 30, 5000);
}

static void test_st_chunk__bool(void **state)
{
	(void)state;
	rng_seed(750);
	struct series s = series_alloc(2000);
	ts_regular(&s, SEC);
	for (uint32_t i = 0; i < s.n; i++)
		s.v[i] = rnd() % 5 == 0;
	roundtrip(s.ts, s.v, s.n, ST_VT_BOOL);
	series_free(&s);
}

static void test_st_chunk__nan_inf_negzero_bit_exact(void **state)
{
	(void)state;
	roundtrip_many(gen_special_floats, ST_VT_F64, 800, 30, 2000);

	/* and the same bit patterns through the integer codec */
	roundtrip_many(gen_special_floats, ST_VT_U64, 850, 5, 2000);
	const double nz = -0.0, inf = INFINITY;
	int64_t ts[3] = {0, 1, 2};
	uint64_t v[3] = {f2u(nz), f2u(inf), f2u(-inf)};
	roundtrip(ts, v, 3, ST_VT_F64);
}

static void test_st_chunk__irregular_intervals(void **state)
{
	(void)state;
	roundtrip_many(gen_irregular, ST_VT_I64, 900, 30, 3000);
}

static void test_st_chunk__large_gaps(void **state)
{
	(void)state;
	roundtrip_many(gen_large_gaps, ST_VT_U64, 1000, 30, 3000);
}

static void test_st_chunk__out_of_order_and_duplicates(void **state)
{
	(void)state;
	roundtrip_many(gen_out_of_order, ST_VT_F64, 1100, 30, 3000);
	roundtrip_many(gen_duplicates, ST_VT_I64, 1200, 30, 3000);
}

static void test_st_chunk__int64_extremes(void **state)
{
	(void)state;
	roundtrip_many(gen_extremes, ST_VT_I64, 1300, 30, 2000);
	roundtrip_many(gen_extremes, ST_VT_F64, 1350, 10, 2000);
	roundtrip_many(gen_random_bits, ST_VT_I64, 1400, 10, 2000);
	roundtrip_many(gen_random_bits, ST_VT_F64, 1450, 10, 2000);

	int64_t ts[4] = {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX};
	uint64_t v[4] = {(uint64_t)INT64_MAX, (uint64_t)INT64_MIN, (uint64_t)INT64_MAX, 0};
	roundtrip(ts, v, 4, ST_VT_I64);
}

static void test_st_chunk__one_point(void **state)
{
	(void)state;
	static const int64_t ts[] = {0, -1, INT64_MIN, INT64_MAX, T0};
	static const uint64_t v[] = {0, UINT64_MAX, 0x7ff8000000000001ULL, 1, 42};
	for (size_t i = 0; i < CM_ARRAY_SIZE(ts); i++) {
		roundtrip(&ts[i], &v[i], 1, ST_VT_I64);
		roundtrip(&ts[i], &v[i], 1, ST_VT_F64);
	}

	/* exactly two words: fits; one word: full */
	uint64_t w[2];
	struct st_chunk_enc e;
	st_chunk_enc_init(&e, w, 1, ST_VT_I64);
	assert_int_equal(st_chunk_append(&e, 5, 6), ST_CHUNK_FULL);
	assert_int_equal(e.count, 0);
	st_chunk_enc_init(&e, w, 2, ST_VT_I64);
	assert_int_equal(st_chunk_append(&e, 5, 6), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 128);
	assert_int_equal(st_chunk_append(&e, 5, 6), ST_CHUNK_FULL);
	assert_int_equal(e.nbits, 128);
	assert_int_equal(e.count, 1);
}

static void test_st_chunk__empty(void **state)
{
	(void)state;
	struct st_chunk_dec d;
	int64_t ts[1];
	uint64_t v[1];
	assert_int_equal(st_chunk_dec_init(&d, NULL, 0, 0, ST_VT_I64), 0);
	assert_int_equal(st_chunk_decode(&d, ts, v, 1), 0);
	assert_int_equal(st_chunk_dec_init(&d, NULL, 0, 1, ST_VT_F64), 0);
	assert_int_equal(st_chunk_decode(&d, ts, v, 1), -EBADMSG);
}

/* ------------------------------------------------------------------------ */
/* Bucket boundaries: exact field lengths                                   */
/* ------------------------------------------------------------------------ */

/*
 * Append points one by one and check that each adds want[i] bits (point 0:
 * 128). Then the usual round trip and reference comparison.
 */
static void check_lengths(const int64_t *ts, const uint64_t *v, const uint32_t *want,
			  uint32_t n, enum st_value_type vt)
{
	size_t cap = words_for(n);
	uint64_t *buf = xcalloc(cap, sizeof(uint64_t));
	struct st_chunk_enc e;

	st_chunk_enc_init(&e, buf, cap, vt);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t before = e.nbits;
		assert_int_equal(st_chunk_append(&e, ts[i], v[i]), ST_CHUNK_OK);
		if (e.nbits - before != want[i])
			fail_msg("point %u: %u bits, want %u", i, e.nbits - before, want[i]);
	}
	free(buf);
	roundtrip(ts, v, n, vt);
}

static void test_st_chunk__ts_bucket_boundaries(void **state)
{
	(void)state;
	static const struct {
		int64_t dod;
		uint32_t bits; /* ts field; the constant value adds 1 */
	} cases[] = {
		{0, 1},
		{1, 16}, {-1, 16},
		{-(INT64_C(1) << 13), 16}, {(INT64_C(1) << 13) - 1, 16},
		{INT64_C(1) << 13, 27}, {-(INT64_C(1) << 13) - 1, 27},
		{-(INT64_C(1) << 23), 27}, {(INT64_C(1) << 23) - 1, 27},
		{INT64_C(1) << 23, 40}, {-(INT64_C(1) << 23) - 1, 40},
		{-(INT64_C(1) << 35), 40}, {(INT64_C(1) << 35) - 1, 40},
		{INT64_C(1) << 35, 53}, {-(INT64_C(1) << 35) - 1, 53},
		{-(INT64_C(1) << 47), 53}, {(INT64_C(1) << 47) - 1, 53},
		{INT64_C(1) << 47, 69}, {-(INT64_C(1) << 47) - 1, 69},
		{INT64_MAX, 69}, {INT64_MIN, 69}, {INT64_MIN + 1, 69},
	};
	uint32_t n = 1 + 2 * CM_ARRAY_SIZE(cases);
	int64_t *ts = xcalloc(n, sizeof(int64_t));
	uint64_t *v = xcalloc(n, sizeof(uint64_t));
	uint32_t *want = xcalloc(n, sizeof(uint32_t));
	uint64_t t = (uint64_t)T0, delta = 0;

	/* Each case is followed by a dod of 0 (1 bit) so the cases do not mix. */
	ts[0] = T0;
	want[0] = 128;
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		delta += (uint64_t)cases[i].dod;
		t += delta;
		ts[1 + 2 * i] = (int64_t)t;
		want[1 + 2 * i] = cases[i].bits + 1;
		t += delta;
		ts[2 + 2 * i] = (int64_t)t;
		want[2 + 2 * i] = 2;
	}
	for (uint32_t i = 0; i < n; i++)
		v[i] = 7;
	check_lengths(ts, v, want, n, ST_VT_I64);
	check_lengths(ts, v, want, n, ST_VT_F64);

	/* Point 1's dod is its delta (t[-1] = t[0]). */
	int64_t ts2[3] = {T0, T0 + 8191, T0 + 2 * 8191};
	uint64_t v2[3] = {1, 1, 1};
	uint32_t want2[3] = {128, 16 + 1, 1 + 1};
	check_lengths(ts2, v2, want2, 3, ST_VT_I64);

	free(ts);
	free(v);
	free(want);
}

static void test_st_chunk__value_bucket_boundaries(void **state)
{
	(void)state;
	static const struct {
		int64_t delta;
		uint32_t bits; /* value field; the regular ts adds 1 */
	} cases[] = {
		{0, 1},
		{-1, 4}, {1, 4}, {-2, 4}, {2, 4},              /* zz 1..4 */
		{-3, 10}, {3, 10}, {63, 10}, {-64, 10},       /* zz 5..127 */
		{64, 20}, {-65, 20},                          /* zz 128, 129 */
		{-(INT64_C(1) << 13), 20}, {(INT64_C(1) << 13) - 1, 20}, {INT64_C(1) << 13, 20},
		{32767, 20}, {-32768, 20},                    /* zz 65534, 65535 */
		{32768, 37}, {-32769, 37},                    /* zz 65536, 65537 */
		{(INT64_C(1) << 31) - 1, 37}, {-(INT64_C(1) << 31), 37},
		{INT64_C(1) << 31, 69}, {-(INT64_C(1) << 31) - 1, 69},
		{INT64_MAX, 69}, {INT64_MIN, 69}, {INT64_MIN + 1, 69},
	};
	uint32_t n = 1 + CM_ARRAY_SIZE(cases);
	int64_t *ts = xcalloc(n, sizeof(int64_t));
	uint64_t *v = xcalloc(n, sizeof(uint64_t));
	uint32_t *want = xcalloc(n, sizeof(uint32_t));

	ts_regular(&(struct series){.ts = ts, .v = v, .n = n}, 10 * SEC);
	v[0] = (uint64_t)-12345;
	want[0] = 128;
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		v[1 + i] = v[i] + (uint64_t)cases[i].delta;
		want[1 + i] = 1 + cases[i].bits;
	}
	want[1] = 40 + cases[0].bits; /* point 1: dod = 10 s, in [2^23, 2^35) */
	check_lengths(ts, v, want, n, ST_VT_I64);
	check_lengths(ts, v, want, n, ST_VT_U64);

	/* values exactly at the edges of int64 and of the 14-bit ts field */
	static const int64_t edges[] = {
		-(INT64_C(1) << 13), (INT64_C(1) << 13) - 1, INT64_C(1) << 13, INT64_MIN,
		INT64_MAX, 0, -1, INT64_MIN, INT64_MIN, INT64_MAX, INT64_MAX,
	};
	uint64_t ev[CM_ARRAY_SIZE(edges)];
	int64_t ets[CM_ARRAY_SIZE(edges)];
	for (size_t i = 0; i < CM_ARRAY_SIZE(edges); i++) {
		ev[i] = (uint64_t)edges[i];
		ets[i] = edges[i];
	}
	roundtrip(ets, ev, CM_ARRAY_SIZE(edges), ST_VT_I64);
	roundtrip(ets, ev, CM_ARRAY_SIZE(edges), ST_VT_F64);

	free(ts);
	free(v);
	free(want);
}

static void test_st_chunk__f64_windows(void **state)
{
	(void)state;
	/* Each value is the previous one XOR x; bits = expected value field. */
	static const struct {
		uint64_t x;
		uint32_t bits;
	} cases[] = {
		{0, 1},                                  /* same value */
		{0x00ff000000000000ULL, 2 + 11 + 8},     /* first window: lead 8, m 8 */
		{0x0081000000000000ULL, 2 + 8},          /* fits the window */
		{0x0100000000000000ULL, 2 + 11 + 1},     /* lead 7: new window, m 1 */
		{0x0000000000f00000ULL, 2 + 11 + 13},    /* lead 40 capped at 31, m 13 */
		{0x0000000000100000ULL, 2 + 13},         /* fits the capped window */
		{0x8000000000000001ULL, 2 + 11 + 64},    /* m 64: header then payload */
		{0x8000000000000003ULL, 2 + 64},         /* reuse a 64-bit window */
		{0x8000000000000000ULL, 2 + 11 + 1},     /* fits, but a new window is shorter */
		{0x8000000000000002ULL, 2 + 11 + 63},    /* lead 0, m 63 */
		{0xc000000000000002ULL, 2 + 63},         /* reuse a 63-bit window */
		{0x0000000000000001ULL, 2 + 11 + 33},    /* lead 63 capped at 31, m 33 */
		{0x4000000000000002ULL, 2 + 11 + 62},    /* lead 1, m 62 */
		{0x6000000000000002ULL, 2 + 62},         /* reuse: exactly 64 bits */
		{0x00000000000000ffULL, 2 + 11 + 33},    /* trailing bit outside: new */
		{0x0000000000000080ULL, 2 + 33},         /* reuse (2 + 33 <= 13 + 26) */
		{0x0000000100000000ULL, 2 + 11 + 1},     /* fits, new is shorter */
		{0, 1},
	};
	uint32_t n = 1 + CM_ARRAY_SIZE(cases);
	int64_t ts[1 + CM_ARRAY_SIZE(cases)];
	uint64_t v[1 + CM_ARRAY_SIZE(cases)];
	uint32_t want[1 + CM_ARRAY_SIZE(cases)];

	v[0] = f2u(3.25);
	ts[0] = T0;
	want[0] = 128;
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		v[1 + i] = v[i] ^ cases[i].x;
		ts[1 + i] = T0;            /* all duplicates: dod 0 */
		want[1 + i] = 1 + cases[i].bits;
	}
	check_lengths(ts, v, want, n, ST_VT_F64);
}

/* ------------------------------------------------------------------------ */
/* Full buffers and rebase                                                  */
/* ------------------------------------------------------------------------ */

static void test_st_chunk__full(void **state)
{
	(void)state;
	for (int vt_i = 0; vt_i < 2; vt_i++) {
		enum st_value_type vt = vt_i ? ST_VT_F64 : ST_VT_I64;
		rng_seed(1500 + (uint64_t)vt_i);
		struct series s = series_alloc(20000);
		if (vt == ST_VT_F64)
			gen_walk_float(&s);
		else
			gen_large_gaps(&s);

		for (size_t nwords = 1; nwords < 200; nwords += 1 + nwords / 8) {
			uint64_t *w = xcalloc(nwords, sizeof(uint64_t));
			struct st_chunk_enc e;
			uint32_t n = 0;
			st_chunk_enc_init(&e, w, nwords, vt);
			while (n < s.n && st_chunk_append(&e, s.ts[n], s.v[n]) == ST_CHUNK_OK)
				n++;
			assert_true(n < s.n);
			assert_int_equal(e.count, n);

			/* The FULL point wrote nothing: state and words unchanged. */
			uint64_t *snap = xcalloc(nwords, sizeof(uint64_t));
			memcpy(snap, w, nwords * sizeof(uint64_t));
			uint32_t nbits = e.nbits;
			assert_int_equal(st_chunk_append(&e, s.ts[n], s.v[n]), ST_CHUNK_FULL);
			assert_int_equal(e.nbits, nbits);
			assert_int_equal(e.count, n);
			assert_memory_equal(snap, w, nwords * sizeof(uint64_t));
			for (uint32_t b = nbits; b < nwords * 64; b++)
				assert_false(le64toh(w[b / 64]) >> (63 - b % 64) & 1);

			/* Everything before decodes, from the whole buffer. */
			struct chunk c = {.w = snap, .nwords = (uint32_t)nwords, .count = n};
			decode_checked(&c, s.ts, s.v, vt, n ? n : 1);
			decode_checked(&c, s.ts, s.v, vt, 3);
			free(snap);
			free(w);
		}
		series_free(&s);
	}
}

/*
 * A point that needs exactly the bits left fits; one bit more is FULL. The
 * first point needs 128 bits, so after it a 3-word buffer has 64 bits left:
 * a dod of 2^47 (69 bits) never fits, and fields that sum to exactly 64 do.
 */
static void test_st_chunk__exact_fit(void **state)
{
	(void)state;
	uint64_t w[3];
	struct st_chunk_enc e;

	/* ts 27 bits (dod 2^13) + value 37 bits (zz 65536 or 65537) = 64 */
	st_chunk_enc_init(&e, w, 3, ST_VT_I64);
	assert_int_equal(st_chunk_append(&e, 0, 0), ST_CHUNK_OK);
	assert_int_equal(st_chunk_append(&e, 1 << 13, 32768), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 192);
	assert_int_equal(e.count, 2);
	assert_int_equal(st_chunk_append(&e, 2 << 13, 32768), ST_CHUNK_FULL);
	assert_int_equal(e.nbits, 192);
	st_chunk_enc_init(&e, w, 3, ST_VT_I64);
	assert_int_equal(st_chunk_append(&e, 0, 0), ST_CHUNK_OK);
	assert_int_equal(st_chunk_append(&e, 1 << 13, (uint64_t)-32769), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 192);

	st_chunk_enc_init(&e, w, 3, ST_VT_I64);
	assert_int_equal(st_chunk_append(&e, 0, 0), ST_CHUNK_OK);
	assert_int_equal(st_chunk_append(&e, 1 << 23, 32768), ST_CHUNK_FULL); /* 40 + 37 */
	assert_int_equal(e.nbits, 128);
	assert_int_equal(e.count, 1);
	assert_int_equal(w[2], 0);
	assert_int_equal(st_chunk_append(&e, 1 << 23, 1), ST_CHUNK_OK);       /* 40 + 4 */
	assert_int_equal(e.nbits, 172);
	/* 20 bits left: 1 + 20 is FULL, 16 + 4 fits exactly */
	assert_int_equal(st_chunk_append(&e, 2 << 23, 1 + 32767), ST_CHUNK_FULL);
	assert_int_equal(e.nbits, 172);
	assert_int_equal(st_chunk_append(&e, (2 << 23) + 1, 2), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 192);
	assert_int_equal(e.count, 3);
	int64_t its[3] = {0, 1 << 23, (2 << 23) + 1};
	uint64_t iv[3] = {0, 1, 2};
	struct chunk ic = {.w = w, .nwords = 3, .count = 3};
	decode_checked(&ic, its, iv, ST_VT_I64, 3);

	/* F64: 128 + 78 (m 64) + 50 = 256 bits; a 51-bit third point is FULL */
	uint64_t fw[4];
	uint64_t x50 = ((UINT64_C(1) << 35) | 1) << 8; /* m 36: 1 + 13 + 36 */
	uint64_t x51 = ((UINT64_C(1) << 36) | 1) << 8; /* m 37 */
	st_chunk_enc_init(&e, fw, 4, ST_VT_F64);
	assert_int_equal(st_chunk_append(&e, 0, 0), ST_CHUNK_OK);
	assert_int_equal(st_chunk_append(&e, 0, 0x8000000000000001ULL), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 128 + 78);
	assert_int_equal(st_chunk_append(&e, 0, 0x8000000000000001ULL ^ x51), ST_CHUNK_FULL);
	assert_int_equal(e.nbits, 128 + 78);
	assert_int_equal(st_chunk_append(&e, 0, 0x8000000000000001ULL ^ x50), ST_CHUNK_OK);
	assert_int_equal(e.nbits, 256);
	assert_int_equal(st_chunk_append(&e, 0, 0x8000000000000001ULL ^ x50), ST_CHUNK_FULL);

	int64_t fts[3] = {0, 0, 0};
	uint64_t fv[3] = {0, 0x8000000000000001ULL, 0x8000000000000001ULL ^ x50};
	struct chunk fc = {.w = fw, .nwords = 4, .count = 3};
	decode_checked(&fc, fts, fv, ST_VT_F64, 3);
	decode_checked(&fc, fts, fv, ST_VT_F64, 1);
}

static void test_st_chunk__rebase(void **state)
{
	(void)state;
	for (int vt_i = 0; vt_i < 2; vt_i++) {
		enum st_value_type vt = vt_i ? ST_VT_F64 : ST_VT_I64;
		rng_seed(1600 + (uint64_t)vt_i);
		struct series s = series_alloc(5000);
		if (vt == ST_VT_F64)
			gen_walk_float(&s);
		else
			gen_walk_int(&s);

		size_t cap = 4;
		uint64_t *w = xcalloc(cap, sizeof(uint64_t));
		struct st_chunk_enc e;
		uint32_t rebases = 0;
		st_chunk_enc_init(&e, w, cap, vt);
		for (uint32_t i = 0; i < s.n; i++) {
			if (st_chunk_append(&e, s.ts[i], s.v[i]) == ST_CHUNK_OK)
				continue;
			/* Grow: copy the used words into a zeroed, bigger buffer. */
			size_t ncap = cap * 2;
			uint64_t *nw = xcalloc(ncap, sizeof(uint64_t));
			st_chunk_copy_words(nw, w, st_chunk_used_words(e.nbits));
			st_chunk_enc_rebase(&e, nw, ncap);
			free(w);
			w = nw;
			cap = ncap;
			rebases++;
			assert_int_equal(st_chunk_append(&e, s.ts[i], s.v[i]), ST_CHUNK_OK);
		}
		assert_true(rebases >= 3);
		assert_int_equal(e.count, s.n);

		/* Same bits as one encode into a big buffer. */
		struct chunk c = encode_checked(s.ts, s.v, s.n, vt);
		assert_int_equal(c.nbits, e.nbits);
		assert_memory_equal(c.w, w, c.nwords * sizeof(uint64_t));
		decode_checked(&c, s.ts, s.v, vt, 100);
		chunk_free(&c);
		free(w);
		series_free(&s);
	}
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */
/* ------------------------------------------------------------------------ */

static void test_st_chunk__batches_equal_whole(void **state)
{
	(void)state;
	static const gen_fn gens[] = {gen_walk_int, gen_large_gaps, gen_walk_float,
				      gen_special_floats};
	static const uint32_t batches[] = {1, 2, 3, 7, 31, 64, 65, 127, 128, 999};
	for (size_t g = 0; g < CM_ARRAY_SIZE(gens); g++) {
		enum st_value_type vt = g < 2 ? ST_VT_I64 : ST_VT_F64;
		rng_seed(1700 + g);
		struct series s = series_alloc(3001);
		gens[g](&s);
		struct chunk c = encode_checked(s.ts, s.v, s.n, vt);
		for (size_t b = 0; b < CM_ARRAY_SIZE(batches); b++)
			decode_checked(&c, s.ts, s.v, vt, batches[b]);

		/* Mixed batch sizes, and max = 0 in between. */
		struct st_chunk_dec d;
		int64_t dts[50];
		uint64_t dv[50];
		uint32_t got = 0;
		assert_int_equal(st_chunk_dec_init(&d, c.w, c.nwords, c.count, vt), 0);
		while (got < s.n) {
			assert_int_equal(st_chunk_decode(&d, dts, dv, 0), 0);
			int rc = st_chunk_decode(&d, dts, dv, 1 + (uint32_t)(rnd() % 50));
			assert_true(rc > 0);
			for (int i = 0; i < rc; i++, got++) {
				assert_int_equal(dts[i], s.ts[got]);
				assert_int_equal(dv[i], s.v[got]);
			}
		}
		assert_int_equal(st_chunk_decode(&d, dts, dv, 50), 0);
		chunk_free(&c);
		series_free(&s);
	}
}

/* ------------------------------------------------------------------------ */
/* Corrupt input                                                            */
/* ------------------------------------------------------------------------ */

/* Decode all of a (possibly corrupt) chunk in batches; returns the last rc. */
static int decode_any(const uint64_t *w, uint32_t nwords, uint32_t count,
		      enum st_value_type vt, uint32_t batch, uint32_t *got)
{
	struct st_chunk_dec d;
	int64_t ts[64];
	uint64_t v[64];
	int rc;

	assert_true(batch <= 64);
	*got = 0;
	assert_int_equal(st_chunk_dec_init(&d, w, nwords, count, vt), 0);
	while ((rc = st_chunk_decode(&d, ts, v, batch)) > 0)
		*got += (uint32_t)rc;
	assert_true(rc == 0 || rc == -EBADMSG);
	if (rc == -EBADMSG) /* sticky */
		assert_int_equal(st_chunk_decode(&d, ts, v, batch), -EBADMSG);
	return rc;
}

static void test_st_chunk__count_beyond_bits(void **state)
{
	(void)state;
	rng_seed(1800);
	struct series s = series_alloc(1000);
	gen_walk_int(&s);
	for (uint32_t n = 1; n <= s.n; n += 37) {
		struct chunk c = encode_checked(s.ts, s.v, n, ST_VT_I64);
		uint32_t got;
		/* Zero padding in the last word decodes as repeats (2 bits each). */
		uint32_t pad = c.nwords * 64 - c.nbits;
		assert_int_equal(decode_any(c.w, c.nwords, n + pad / 2, ST_VT_I64, 64, &got), 0);
		assert_int_equal(decode_any(c.w, c.nwords, n + pad / 2 + 1, ST_VT_I64, 64, &got),
				 -EBADMSG);
		assert_int_equal(decode_any(c.w, c.nwords, UINT32_MAX, ST_VT_I64, 7, &got),
				 -EBADMSG);
		assert_true(got <= n + pad / 2);
		chunk_free(&c);
	}
	series_free(&s);
}

static void test_st_chunk__truncated(void **state)
{
	(void)state;
	for (int vt_i = 0; vt_i < 2; vt_i++) {
		enum st_value_type vt = vt_i ? ST_VT_F64 : ST_VT_I64;
		rng_seed(1900 + (uint64_t)vt_i);
		struct series s = series_alloc(3000);
		if (vt == ST_VT_F64)
			gen_walk_float(&s);
		else
			gen_large_gaps(&s);
		struct chunk c = encode_checked(s.ts, s.v, s.n, vt);
		for (uint32_t keep = 0; keep < c.nwords; keep += 1 + keep / 4) {
			/* exact-size copy: ASan catches a read past keep words */
			uint64_t *w = keep ? xcalloc(keep, sizeof(uint64_t)) : NULL;
			if (keep)
				memcpy(w, c.w, keep * sizeof(uint64_t));
			uint32_t got;
			assert_int_equal(decode_any(w, keep, c.count, vt, 64, &got), -EBADMSG);
			assert_int_equal(decode_any(w, keep, c.count, vt, 1, &got), -EBADMSG);
			assert_true(got < c.count);
			free(w);
		}
		chunk_free(&c);
		series_free(&s);
	}
}

static void test_st_chunk__bad_f64_fields(void **state)
{
	(void)state;
	uint32_t got;
	/* point 0, then ts '0' and value '10': a window reuse with no window */
	uint64_t w1[3] = {0, 0, htole64(0x2ULL << 61)};
	assert_int_equal(decode_any(w1, 3, 2, ST_VT_F64, 64, &got), -EBADMSG);
	assert_int_equal(decode_any(w1, 3, 1, ST_VT_F64, 64, &got), 0);
	/* as integers those bits are a valid delta */
	assert_int_equal(decode_any(w1, 3, 2, ST_VT_I64, 64, &got), 0);

	/* ts '0', value '11' lead 31, m - 1 = 63: lead + m = 95 > 64 */
	uint64_t w2[3] = {0, 0, htole64((0x3ULL << 61) | (31ULL << 56) | (63ULL << 50))};
	assert_int_equal(decode_any(w2, 3, 2, ST_VT_F64, 1, &got), -EBADMSG);
	/* lead 31, m 33: valid (0 + 1 + 13 + 33 bits fit the word) */
	uint64_t w3[3] = {0, 0, htole64((0x3ULL << 61) | (31ULL << 56) | (32ULL << 50) |
					(1ULL << 17))};
	assert_int_equal(decode_any(w3, 3, 2, ST_VT_F64, 1, &got), 0);
	/* the same in the fast path: the window error far from the end */
	uint64_t w4[16] = {0};
	w4[2] = htole64(0x2ULL << 61);
	assert_int_equal(decode_any(w4, 16, 2, ST_VT_F64, 64, &got), -EBADMSG);

	struct st_chunk_dec d;
	assert_int_equal(st_chunk_dec_init(&d, w1, 3, 1, ST_VT_NONE), -EINVAL);
	assert_int_equal(st_chunk_dec_init(&d, w1, 3, 1, ST_VT_STR), -EINVAL);
	assert_int_equal(st_chunk_dec_init(&d, w1, 3, 1, (enum st_value_type)99), -EINVAL);
}

static void test_st_chunk__corrupt_never_crashes(void **state)
{
	(void)state;
	rng_seed(2000);
	struct series s = series_alloc(400);
	for (int round = 0; round < 3000; round++) {
		enum st_value_type vt = round % 2 ? ST_VT_F64 : ST_VT_I64;
		s.n = 1 + (uint32_t)(rnd() % 400);
		switch (round % 4) {
		case 0: gen_walk_int(&s); break;
		case 1: gen_walk_float(&s); break;
		case 2: gen_large_gaps(&s); break;
		default: gen_special_floats(&s); break;
		}
		struct chunk c = encode_checked(s.ts, s.v, s.n, vt);
		int flips = 1 + (int)(rnd() % 8);
		for (int f = 0; f < flips; f++) {
			uint32_t b = (uint32_t)(rnd() % (c.nwords * 64));
			c.w[b / 64] ^= htole64(UINT64_C(1) << (63 - b % 64));
		}
		if (rnd() % 4 == 0) /* random words */
			for (uint32_t i = 0; i < c.nwords; i++)
				c.w[i] = rnd() % 2 ? rnd() : UINT64_MAX;
		uint32_t count = c.count + (uint32_t)(rnd() % 3) - 1;
		uint32_t got;
		decode_any(c.w, c.nwords, count, vt, 1 + (uint32_t)(rnd() % 64), &got);
		decode_any(c.w, c.nwords, UINT32_MAX, vt, 64, &got);
		chunk_free(&c);
	}
	s.n = 400;
	series_free(&s);
}

/* ------------------------------------------------------------------------ */
/* A writer and a snapshotting reader                                       */
/* ------------------------------------------------------------------------ */

struct conc {
	struct series s;
	enum st_value_type vt;
	uint64_t *words;
	size_t nwords;
	uint64_t published; /* count << 32 | nbits */
	int done;
	uint32_t snapshots; /* written by the reader, polled by the writer */
	uint32_t partial;   /* snapshots with 0 < count < n */
	uint32_t bad;
};

#define CONC_CHECKPOINT 16384

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	struct st_chunk_enc e;

	st_chunk_enc_init(&e, c->words, c->nwords, c->vt);
	for (uint32_t i = 0; i < c->s.n; i++) {
		if (st_chunk_append(&e, c->s.ts[i], c->s.v[i]) != ST_CHUNK_OK) {
			__atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED); /* read after join */
			break;
		}
		/* Release: the words of point i before the count that covers it;
		 * pairs with the acquire load in conc_reader. */
		__atomic_store_n(&c->published, (uint64_t)e.count << 32 | e.nbits,
				 __ATOMIC_RELEASE);
		/* Now and then let the reader catch up, so that some snapshots
		 * land mid-chunk even on a loaded machine. */
		if (i % CONC_CHECKPOINT == 0) {
			uint32_t seen = __atomic_load_n(&c->snapshots, __ATOMIC_RELAXED);
			while (__atomic_load_n(&c->snapshots, __ATOMIC_RELAXED) < seen + 2 &&
			       !__atomic_load_n(&c->bad, __ATOMIC_RELAXED))
				sched_yield();
		}
	}
	/* Pairs with the acquire load of done in conc_reader. */
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *conc_reader(void *arg)
{
	struct conc *c = arg;
	uint64_t *copy = malloc(c->nwords * sizeof(uint64_t));
	int64_t *ts = malloc(c->s.n * sizeof(int64_t));
	uint64_t *v = malloc(c->s.n * sizeof(uint64_t));
	bool last = false;

	if (!copy || !ts || !v) {
		__atomic_store_n(&c->bad, 4, __ATOMIC_RELAXED);
		goto out;
	}
	while (!last) {
		last = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
		/* Pairs with the writer's release store of published. */
		uint64_t pub = __atomic_load_n(&c->published, __ATOMIC_ACQUIRE);
		uint32_t count = (uint32_t)(pub >> 32), nbits = (uint32_t)pub;
		uint32_t nw = st_chunk_used_words(nbits);
		struct st_chunk_dec d;

		st_chunk_copy_words(copy, c->words, nw);
		if (st_chunk_dec_init(&d, copy, nw, count, c->vt) != 0 ||
		    st_chunk_decode(&d, ts, v, c->s.n) != (int)count) {
			__atomic_store_n(&c->bad, 2, __ATOMIC_RELAXED);
			break;
		}
		for (uint32_t i = 0; i < count; i++) {
			if (ts[i] != c->s.ts[i] || v[i] != c->s.v[i]) {
				__atomic_store_n(&c->bad, 3, __ATOMIC_RELAXED);
				last = true;
				break;
			}
		}
		if (count > 0 && count < c->s.n)
			c->partial++;
		__atomic_store_n(&c->snapshots, c->snapshots + 1, __ATOMIC_RELAXED);
	}
out:
	free(copy);
	free(ts);
	free(v);
	return NULL;
}

static void test_st_chunk__concurrent_snapshots(void **state)
{
	(void)state;
	for (int vt_i = 0; vt_i < 2; vt_i++) {
		struct conc c = {.vt = vt_i ? ST_VT_F64 : ST_VT_I64};
		rng_seed(2100 + (uint64_t)vt_i);
		c.s = series_alloc(200000);
		if (vt_i)
			gen_walk_float(&c.s);
		else
			gen_irregular(&c.s);
		c.nwords = words_for(c.s.n);
		c.words = xcalloc(c.nwords, sizeof(uint64_t));

		pthread_t w, r;
		assert_int_equal(pthread_create(&r, NULL, conc_reader, &c), 0);
		assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
		assert_int_equal(pthread_join(w, NULL), 0);
		assert_int_equal(pthread_join(r, NULL), 0);
		if (c.bad)
			fail_msg("concurrent snapshot check failed: %u", c.bad);
		assert_true(c.partial >= c.s.n / CONC_CHECKPOINT);
		print_message("vtype %d: %u snapshots, %u mid-chunk\n", (int)c.vt, c.snapshots,
			      c.partial);
		free(c.words);
		series_free(&c.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_chunk__constants),
		cmocka_unit_test(test_st_chunk__counters),
		cmocka_unit_test(test_st_chunk__random_walks),
		cmocka_unit_test(test_st_chunk__bool),
		cmocka_unit_test(test_st_chunk__nan_inf_negzero_bit_exact),
		cmocka_unit_test(test_st_chunk__irregular_intervals),
		cmocka_unit_test(test_st_chunk__large_gaps),
		cmocka_unit_test(test_st_chunk__out_of_order_and_duplicates),
		cmocka_unit_test(test_st_chunk__int64_extremes),
		cmocka_unit_test(test_st_chunk__one_point),
		cmocka_unit_test(test_st_chunk__empty),
		cmocka_unit_test(test_st_chunk__ts_bucket_boundaries),
		cmocka_unit_test(test_st_chunk__value_bucket_boundaries),
		cmocka_unit_test(test_st_chunk__f64_windows),
		cmocka_unit_test(test_st_chunk__full),
		cmocka_unit_test(test_st_chunk__exact_fit),
		cmocka_unit_test(test_st_chunk__rebase),
		cmocka_unit_test(test_st_chunk__batches_equal_whole),
		cmocka_unit_test(test_st_chunk__count_beyond_bits),
		cmocka_unit_test(test_st_chunk__truncated),
		cmocka_unit_test(test_st_chunk__bad_f64_fields),
		cmocka_unit_test(test_st_chunk__corrupt_never_crashes),
		cmocka_unit_test(test_st_chunk__concurrent_snapshots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
