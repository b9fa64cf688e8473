/*
 * test_st_block.c - unit tests for warm-tier blocks (storage/st_block.c).
 *
 * A reference model (plain arrays per series, with a naive filter and naive
 * summaries written here) is built from fixed seeds, turned into a block
 * image, opened through a read callback over the image, and every reader
 * call is checked against the model: whole reads, random ranges across
 * chunk boundaries, summaries, lookups. Edge-case series (one point,
 * constants, NaN/inf/-0.0, INT64 extremes, huge gaps, negative times, few
 * distinct values, bools) go through the same path. Corruption: every
 * single-byte change of a small block must be caught by open or verify (the
 * CRCs), and reads after it must return -EBADMSG or the right points; every
 * truncation must fail to open. The read callback counts calls and can fail
 * on demand (I/O errors), and a test with several threads reads one open
 * block at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_rand.h"
#include "cm_compiler.h"
#include "cm_clock.h"
#include "st_block.h"
#include "st_format.h"

#define SEC INT64_C(1000000000)
#define DAY (86400 * SEC)
#define P0 INT64_C(1700000000000000000)

/* ------------------------------------------------------------------------ */
/* Helpers: random numbers, the model, an in-memory file                    */
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

static double b2f(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof(d));
	return d;
}

struct ref_series {
	uint32_t id;
	enum st_value_type vt;
	size_t n;
	int64_t *ts;
	uint64_t *v;
};

struct model {
	struct ref_series *s;
	uint32_t n;
	int64_t part_start, part_end;
};

static void model_free(struct model *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		free(m->s[i].ts);
		free(m->s[i].v);
	}
	free(m->s);
	memset(m, 0, sizeof(*m));
}

enum kind {
	K_INT_WALK,
	K_DEC_WALK,
	K_FLOAT_FULL,
	K_SPECIALS,
	K_EXTREMES,
	K_FEW,
	K_BOOL,
	K_CONST,
	K_U64,
	K__COUNT
};

/* Append a series of n points of a kind; times from t0, regular or not. */
static struct ref_series *model_add(struct model *m, uint32_t id, enum kind k, size_t n,
				    int64_t t0, int64_t step, bool jitter)
{
	m->s = realloc(m->s, (m->n + 1) * sizeof(*m->s));
	assert_non_null(m->s);
	struct ref_series *s = &m->s[m->n++];
	s->id = id;
	s->n = n;
	s->ts = malloc(n * sizeof(*s->ts));
	s->v = malloc(n * sizeof(*s->v));
	assert_true(s->ts && s->v);
	static const enum st_value_type vts[K__COUNT] = {
		ST_VT_I64, ST_VT_F64, ST_VT_F64, ST_VT_F64, ST_VT_I64, ST_VT_U64, ST_VT_BOOL,
		ST_VT_F64, ST_VT_U64};
	s->vt = vts[k];
	int64_t t = t0, x = rnd_range(0, 100);
	double f = (double)rnd_range(-1000, 1000) / 100.0;
	for (size_t i = 0; i < n; i++) {
		s->ts[i] = t;
		t += step + (jitter ? rnd_range(0, step / 10) : 0);
		switch (k) {
		case K_INT_WALK:
			x += rnd_range(-2, 2);
			s->v[i] = (uint64_t)x;
			break;
		case K_DEC_WALK:
			f = round((f + (double)rnd_range(-30, 30) / 100.0) * 100.0) / 100.0;
			s->v[i] = f2b(f);
			break;
		case K_FLOAT_FULL:
			s->v[i] = f2b((double)rnd() / 7.0e15 - 1000.0);
			break;
		case K_SPECIALS: {
			static const uint64_t sp[] = {0x7ff8000000000000ULL, 0x7ff4000000000001ULL,
						      0xfff8000000000042ULL, 0x7ff0000000000000ULL,
						      0xfff0000000000000ULL, 0x8000000000000000ULL,
						      0x0000000000000001ULL, 0x4045000000000000ULL};
			s->v[i] = sp[rnd() % CM_ARRAY_SIZE(sp)];
			break;
		}
		case K_EXTREMES: {
			static const int64_t ex[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1,
						     INT64_MAX - 1};
			s->v[i] = (uint64_t)ex[rnd() % CM_ARRAY_SIZE(ex)];
			break;
		}
		case K_FEW:
			s->v[i] = (uint64_t[]){3, 3000000000ULL, 17, UINT64_MAX}[(i / 9 + rnd() % 2) % 4];
			break;
		case K_BOOL:
			s->v[i] = rnd() % 5 == 0;
			break;
		case K_CONST:
			s->v[i] = f2b(21.5);
			break;
		case K_U64:
			s->v[i] = rnd() >> (rnd() % 64);
			break;
		default:
			fail();
		}
	}
	return s;
}

struct mem_file {
	const uint8_t *p;
	size_t len;
	atomic_uint reads;
	atomic_ulong bytes;
	int fail_after;      /* > 0: the fail_after-th read and later fail with fail_rc */
	int fail_rc;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct mem_file *f = ctx;
	unsigned k = atomic_fetch_add(&f->reads, 1) + 1;
	atomic_fetch_add(&f->bytes, len);
	if (f->fail_after > 0 && k >= (unsigned)f->fail_after)
		return f->fail_rc;
	if (off > f->len || len > f->len - off)
		return -EIO;
	memcpy(buf, f->p + off, len);
	return 0;
}

static struct st_block_build_cfg cfg_for(const struct model *m, uint32_t chunk_points,
					 uint32_t section_bytes)
{
	return (struct st_block_build_cfg){.shard_id = 7, .part_start_ns = m->part_start,
					   .part_end_ns = m->part_end,
					   .chunk_points = chunk_points,
					   .section_bytes = section_bytes};
}

static void build(const struct model *m, const struct st_block_build_cfg *cfg, uint8_t **img,
		  size_t *len)
{
	struct st_block_builder *b;
	assert_int_equal(st_block_builder_create(cfg, &b), 0);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ref_series *s = &m->s[i];
		assert_int_equal(st_block_builder_add(b, s->id, s->vt, s->ts, s->v, s->n), 0);
	}
	assert_int_equal(st_block_builder_finish(b, img, len), 0);
	st_block_builder_destroy(b);
	assert_int_equal(*len % ST_BLOCK_ALIGN, 0);
	assert_int_equal((uintptr_t)*img % ST_BLOCK_ALIGN, 0);
}

static struct st_block *open_ok(struct mem_file *f)
{
	struct st_block *blk;
	char err[256];
	int rc = st_block_open(f->len, mem_read, f, &blk, err, sizeof(err));
	if (rc)
		fail_msg("open: %d %s", rc, err);
	return blk;
}

/* The model's answer to a range read: [*lo, *hi) of s. */
static void ref_range(const struct ref_series *s, int64_t t_min, int64_t t_max, size_t *lo,
		      size_t *hi)
{
	*lo = *hi = 0;
	if (t_min > t_max)
		return;
	size_t i = 0;
	while (i < s->n && s->ts[i] < t_min)
		i++;
	*lo = i;
	while (i < s->n && s->ts[i] <= t_max)
		i++;
	*hi = i;
}

static void check_range(const struct st_block *blk, const struct ref_series *s, int64_t t_min,
			int64_t t_max)
{
	struct st_points p;
	st_points_init(&p);
	/* something already there: reads append */
	assert_int_equal(st_points_reserve(&p, 3), 0);
	p.ts[0] = p.ts[1] = p.ts[2] = -5;
	p.vals[0] = p.vals[1] = p.vals[2] = 9;
	p.n = 3;
	size_t lo, hi;
	ref_range(s, t_min, t_max, &lo, &hi);
	int rc = st_block_read(blk, s->id, t_min, t_max, &p);
	if (rc != (int)(hi - lo))
		fail_msg("series %u [%lld, %lld]: read %d, want %zu", s->id, (long long)t_min,
			 (long long)t_max, rc, hi - lo);
	assert_int_equal(p.n, 3 + hi - lo);
	assert_true(p.ts[2] == -5 && p.vals[2] == 9);
	for (size_t i = lo; i < hi; i++) {
		if (p.ts[3 + i - lo] != s->ts[i] || p.vals[3 + i - lo] != s->v[i])
			fail_msg("series %u point %zu differs", s->id, i);
	}
	st_points_release(&p);
}

__extension__ typedef __int128 i128;

/* The naive summary of points [lo, hi) of s. */
static void ref_summary(const struct ref_series *s, size_t lo, size_t hi,
			struct st_block_summary *w)
{
	memset(w, 0, sizeof(*w));
	w->t_min = s->ts[lo];
	w->t_max = s->ts[hi - 1];
	w->count = (uint32_t)(hi - lo);
	w->first = s->v[lo];
	w->last = s->v[hi - 1];
	if (s->vt == ST_VT_F64) {
		double sum = 0;
		bool any = false;
		for (size_t i = lo; i < hi; i++) {
			double x = b2f(s->v[i]);
			sum += x;
			if (isnan(x)) {
				w->flags |= ST_BLOCK_SUM_NAN;
				continue;
			}
			if (!any || x < b2f(w->min))
				w->min = s->v[i];
			if (!any || x > b2f(w->max))
				w->max = s->v[i];
			any = true;
		}
		if (!any)
			w->min = w->max = 0x7ff8000000000000ULL;
		w->sum.f64 = sum;
		return;
	}
	bool sgn = s->vt == ST_VT_I64;
	uint64_t sum = 0;
	i128 exact = 0;
	for (size_t i = lo; i < hi; i++) {
		uint64_t v = s->v[i];
		sum += v;
		exact += sgn ? (i128)(int64_t)v : (i128)v;
		if (i == lo || (sgn ? (int64_t)v < (int64_t)w->min : v < w->min))
			w->min = v;
		if (i == lo || (sgn ? (int64_t)v > (int64_t)w->max : v > w->max))
			w->max = v;
	}
	w->sum.u64 = sum;
	if (sgn ? (exact < INT64_MIN || exact > INT64_MAX) : exact > (i128)UINT64_MAX)
		w->flags |= ST_BLOCK_SUM_OVERFLOW;
}

/* Where the chunk of s that starts at point from ends: cp points, cut at multiples of span (> 0). */
static size_t ref_chunk_end(const struct ref_series *s, size_t from, uint32_t cp, int64_t span)
{
	size_t end = CM_MIN(from + cp, s->n);
	for (size_t j = from + 1; span > 0 && j < end; j++)
		if (cm_floor_div(s->ts[j], span) != cm_floor_div(s->ts[from], span))
			return j;
	return end;
}

/* Everything the reader says about the model (chunks of cp points, cut at multiples of span), checked. */
static void check_block_span(const struct st_block *blk, const struct model *m, uint32_t cp,
			     int64_t span)
{
	struct st_block_info info;
	st_block_get_info(blk, &info);
	assert_int_equal(info.shard_id, 7);
	assert_int_equal(info.part_start_ns, m->part_start);
	assert_int_equal(info.part_end_ns, m->part_end);
	assert_int_equal(info.nseries, m->n);
	assert_int_equal(st_block_series_count(blk), m->n);
	uint64_t npoints = 0, nchunks = 0;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ref_series *s = &m->s[i];
		uint32_t id;
		enum st_value_type vt;
		st_block_series_at(blk, i, &id, &vt);
		assert_int_equal(id, s->id);
		assert_int_equal(vt, s->vt);
		assert_true(st_block_has_series(blk, s->id));
		npoints += s->n;
		tmin = CM_MIN(tmin, s->ts[0]);
		tmax = CM_MAX(tmax, s->ts[s->n - 1]);
		const struct st_block_summary *sum;
		uint32_t ns;
		assert_int_equal(st_block_summaries(blk, s->id, &sum, &ns), 0);
		nchunks += ns;
		uint32_t c = 0;
		for (size_t from = 0, end; from < s->n; from = end, c++) {
			end = ref_chunk_end(s, from, cp, span);
			struct st_block_summary w;
			assert_true(c < ns);
			ref_summary(s, from, end, &w);
			if (memcmp(&w, &sum[c], sizeof(w)))
				fail_msg("series %u chunk %u: summary differs", s->id, c);
		}
		assert_int_equal(ns, c);
		check_range(blk, s, INT64_MIN, INT64_MAX);
	}
	assert_int_equal(info.npoints, npoints);
	assert_int_equal(info.nchunks, nchunks);
	assert_int_equal(info.t_min, tmin);
	assert_int_equal(info.t_max, tmax);
	assert_true(info.index_bytes_resident >= nchunks * sizeof(struct st_block_summary));
	assert_true(info.index_bytes_resident <= 4096 + nchunks * 84 + info.nseries * 16 +
							 info.file_bytes / 16);
	char err[256];
	int rc = st_block_verify(blk, err, sizeof(err));
	if (rc)
		fail_msg("verify: %s", err);
}

static void check_block(const struct st_block *blk, const struct model *m, uint32_t cp)
{
	check_block_span(blk, m, cp, 0);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

static void test_st_block__reference_model(void **state)
{
	(void)state;
	static const uint32_t cps[] = {1, 7, 64, 1024};
	for (unsigned ci = 0; ci < CM_ARRAY_SIZE(cps); ci++) {
		rng_state = 100 + ci;
		struct model m = {.part_start = P0, .part_end = P0 + DAY};
		uint32_t id = 0;
		for (int s = 0; s < 40; s++) {
			id += 1 + (uint32_t)(rnd() % 3);
			size_t n = 1 + rnd() % (ci == 0 ? 300 : 3000);
			int64_t step = rnd() % 2 ? 10 * SEC : rnd_range(1, 3 * SEC);
			model_add(&m, id, (enum kind)(rnd() % K__COUNT), n,
				  P0 + rnd_range(0, 1000) * SEC, step, rnd() % 2);
		}
		uint8_t *img;
		size_t len;
		struct st_block_build_cfg cfg = cfg_for(&m, cps[ci], 8192);
		build(&m, &cfg, &img, &len);
		struct mem_file f = {.p = img, .len = len};
		struct st_block *blk = open_ok(&f);
		check_block(blk, &m, cps[ci]);
		/* ids the block does not hold */
		struct st_points p;
		st_points_init(&p);
		assert_false(st_block_has_series(blk, 0));
		assert_int_equal(st_block_read(blk, 0, INT64_MIN, INT64_MAX, &p), 0);
		assert_int_equal(st_block_read(blk, id + 1, INT64_MIN, INT64_MAX, &p), 0);
		const struct st_block_summary *sum = (void *)1;
		uint32_t ns = 5;
		assert_int_equal(st_block_summaries(blk, id + 1, &sum, &ns), -ENOENT);
		assert_null(sum);
		assert_int_equal(ns, 0);
		assert_int_equal(p.n, 0);
		st_points_release(&p);
		st_block_close(blk);
		free(img);
		model_free(&m);
	}
}

static void test_st_block__range_reads_across_chunk_boundaries(void **state)
{
	(void)state;
	rng_state = 200;
	struct model m = {.part_start = P0, .part_end = P0 + DAY};
	model_add(&m, 1, K_INT_WALK, 500, P0, 10 * SEC, false);
	model_add(&m, 2, K_DEC_WALK, 333, P0 + 5 * SEC, 7 * SEC, true);
	model_add(&m, 3, K_BOOL, 100, P0 + 100 * SEC, 1, false);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 16, 0);
	build(&m, &cfg, &img, &len);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	check_block(blk, &m, 16);
	for (uint32_t i = 0; i < m.n; i++) {
		const struct ref_series *s = &m.s[i];
		/* every chunk boundary: ranges ending, starting and straddling there */
		for (size_t k = 0; k + 1 < s->n; k++) {
			if (k % 16 != 15 && k % 16 != 0)
				continue;
			check_range(blk, s, s->ts[k], s->ts[k + 1]);
			check_range(blk, s, s->ts[k] + 1, s->ts[k + 1] - 1);
			check_range(blk, s, s->ts[0], s->ts[k]);
			check_range(blk, s, s->ts[k + 1], INT64_MAX);
			check_range(blk, s, s->ts[k], s->ts[k]);
		}
		/* random ranges, some empty, some outside */
		for (int r = 0; r < 300; r++) {
			int64_t a = s->ts[0] + rnd_range(-20 * SEC, s->ts[s->n - 1] - s->ts[0] + 20 * SEC);
			int64_t b = a + rnd_range(-SEC, 800 * SEC);
			check_range(blk, s, a, b);
		}
		check_range(blk, s, INT64_MIN, s->ts[0] - 1);
		check_range(blk, s, s->ts[s->n - 1] + 1, INT64_MAX);
		check_range(blk, s, INT64_MAX, INT64_MIN);
	}
	st_block_close(blk);
	free(img);
	model_free(&m);
}

static void test_st_block__edge_cases(void **state)
{
	(void)state;
	rng_state = 300;
	struct model m = {.part_start = INT64_MIN, .part_end = INT64_MAX};
	/* one point */
	model_add(&m, 0, K_INT_WALK, 1, 0, SEC, false);
	/* all equal */
	model_add(&m, 1, K_CONST, 2000, SEC, SEC, false);
	/* NaN payloads, infinities, -0.0, denormals */
	model_add(&m, 2, K_SPECIALS, 1500, 2 * SEC, SEC, true);
	/* INT64 extremes */
	model_add(&m, 3, K_EXTREMES, 1500, 3 * SEC, SEC, false);
	/* few distinct values, bools, full-range u64, full-entropy floats */
	model_add(&m, 4, K_FEW, 3000, 4 * SEC, SEC, false);
	model_add(&m, 5, K_BOOL, 3000, 5 * SEC, SEC, false);
	model_add(&m, 6, K_U64, 1000, 6 * SEC, SEC, false);
	model_add(&m, 7, K_FLOAT_FULL, 1000, 7 * SEC, SEC, false);
	/* huge gaps and negative times, from the very first to the very last tick */
	struct ref_series *s = model_add(&m, 8, K_DEC_WALK, 1200, 0, 1, false);
	int64_t t = INT64_MIN;
	for (size_t i = 0; i < s->n; i++) {
		s->ts[i] = t;
		t += (int64_t)(rnd() >> (12 + rnd() % 52)) + 1;
	}
	s->ts[s->n - 1] = INT64_MAX - 1;
	/* timestamps around zero */
	s = model_add(&m, 9, K_INT_WALK, 999, -500, 1, false);
	/* an id at the top of the range */
	model_add(&m, UINT32_MAX, K_INT_WALK, 3, 0, 1, false);
	uint8_t *img;
	size_t len;
	static const uint32_t cps[] = {1024, 3};
	for (unsigned ci = 0; ci < CM_ARRAY_SIZE(cps); ci++) {
		struct st_block_build_cfg cfg = cfg_for(&m, cps[ci], 0);
		build(&m, &cfg, &img, &len);
		struct mem_file f = {.p = img, .len = len};
		struct st_block *blk = open_ok(&f);
		check_block(blk, &m, cps[ci]);
		check_range(blk, &m.s[8], -SEC, SEC);
		check_range(blk, &m.s[9], -10, 10);
		st_block_close(blk);
		free(img);
	}
	model_free(&m);
}

static void test_st_block__summaries(void **state)
{
	(void)state;
	struct model m = {.part_start = 0, .part_end = 1000};
	struct ref_series *s = model_add(&m, 1, K_EXTREMES, 4, 10, 1, false);
	s->v[0] = (uint64_t)INT64_MAX;
	s->v[1] = 1;                    /* overflows ... */
	s->v[2] = (uint64_t)INT64_MIN; /* ... and comes back: exact sum INT64_MAX + 1 + INT64_MIN */
	s->v[3] = (uint64_t)-5;
	s = model_add(&m, 2, K_EXTREMES, 2, 10, 1, false);
	s->v[0] = s->v[1] = (uint64_t)INT64_MAX; /* stays over */
	s = model_add(&m, 3, K_U64, 2, 10, 1, false);
	s->v[0] = s->v[1] = UINT64_MAX;
	s = model_add(&m, 4, K_SPECIALS, 3, 10, 1, false);
	s->v[0] = f2b(NAN);
	s->v[1] = f2b(-0.0);
	s->v[2] = f2b(0.0);
	s = model_add(&m, 5, K_SPECIALS, 2, 10, 1, false);
	s->v[0] = s->v[1] = 0x7ff8000000000123ULL;
	s = model_add(&m, 6, K_BOOL, 5, 10, 1, false);
	memcpy(s->v, (uint64_t[]){1, 0, 1, 1, 0}, 5 * sizeof(uint64_t));
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 0, 0);
	build(&m, &cfg, &img, &len);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	check_block(blk, &m, ST_BLOCK_DEFAULT_CHUNK_POINTS);
	const struct st_block_summary *sum;
	uint32_t n;
	assert_int_equal(st_block_summaries(blk, 1, &sum, &n), 0);
	assert_int_equal(sum->flags, 0);
	assert_int_equal(sum->sum.i64, -5);
	assert_int_equal(sum->min, (uint64_t)INT64_MIN);
	assert_int_equal(sum->max, (uint64_t)INT64_MAX);
	assert_int_equal(st_block_summaries(blk, 2, &sum, &n), 0);
	assert_int_equal(sum->flags, ST_BLOCK_SUM_OVERFLOW);
	assert_int_equal(st_block_summaries(blk, 3, &sum, &n), 0);
	assert_int_equal(sum->flags, ST_BLOCK_SUM_OVERFLOW);
	assert_int_equal(sum->sum.u64, UINT64_MAX - 1);
	assert_int_equal(st_block_summaries(blk, 4, &sum, &n), 0);
	assert_int_equal(sum->flags, ST_BLOCK_SUM_NAN);
	assert_int_equal(sum->min, f2b(-0.0)); /* first of the equal zeros */
	assert_int_equal(sum->max, f2b(-0.0));
	assert_true(isnan(sum->sum.f64));
	assert_int_equal(st_block_summaries(blk, 5, &sum, &n), 0);
	assert_int_equal(sum->min, 0x7ff8000000000000ULL);
	assert_int_equal(sum->first, 0x7ff8000000000123ULL);
	assert_int_equal(st_block_summaries(blk, 6, &sum, &n), 0);
	assert_int_equal(sum->sum.u64, 3);
	assert_int_equal(sum->count, 5);
	assert_int_equal(sum->t_min, 10);
	assert_int_equal(sum->t_max, 14);
	st_block_close(blk);
	free(img);
	model_free(&m);
}

/* Skip the chunks that start at an even multiple of 100 (st_block_read_skip). */
static bool skip_even(void *arg, const struct st_block_summary *c)
{
	(*(int *)arg)++;
	return cm_floor_div(c->t_min, 100) % 2 == 0;
}

/*
 * chunk_span_ns: no chunk holds points of two spans (nor more than
 * chunk_points), and the spans are cut exactly: one chunk per span that has
 * points and up to chunk_points of them, also with a negative start. And
 * st_block_read_skip leaves out exactly the chunks it is told to skip.
 */
static void test_st_block__chunks_cut_at_span_multiples(void **state)
{
	(void)state;
	/* the span arithmetic itself, against literals (negative times floor down) */
	assert_int_equal(cm_floor_div(-1, 100), -1);
	assert_int_equal(cm_floor_div(-100, 100), -1);
	assert_int_equal(cm_floor_div(-101, 100), -2);
	assert_int_equal(cm_floor_div(99, 100), 0);
	assert_int_equal(cm_next_multiple(-100, 100), 0);
	assert_int_equal(cm_next_multiple(-101, 100), -100);
	assert_int_equal(cm_next_multiple(100, 100), 200);
	assert_int_equal(cm_next_multiple(INT64_MAX - 1, 10), INT64_MAX);
	assert_int_equal(cm_next_multiple(INT64_MAX, 1), INT64_MAX);
	/* a span far below the point spacing crosses ~2^62 boundaries between two points:
	 * still one chunk a point, never refused for a chunk count it cannot have */
	struct model wide = {.part_start = INT64_MIN / 2, .part_end = INT64_MAX / 2};
	model_add(&wide, 1, K_INT_WALK, 3, -(INT64_C(1) << 61), INT64_C(1) << 61, false);
	uint8_t *wimg;
	size_t wlen;
	struct st_block_build_cfg wcfg = cfg_for(&wide, 10, 0);
	wcfg.chunk_span_ns = 1;
	build(&wide, &wcfg, &wimg, &wlen);
	struct mem_file wf = {.p = wimg, .len = wlen};
	struct st_block *wblk = open_ok(&wf);
	check_block_span(wblk, &wide, 10, 1);
	st_block_close(wblk);
	free(wimg);
	model_free(&wide);
	struct model m = {.part_start = -1000, .part_end = 1000};
	model_add(&m, 1, K_INT_WALK, 280, -990, 7, false); /* -990 .. 963 */
	model_add(&m, 2, K_FLOAT_FULL, 50, -300, 3, false);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 10, 0);
	cfg.chunk_span_ns = 100;
	build(&m, &cfg, &img, &len);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	check_block_span(blk, &m, 10, 100);
	for (uint32_t i = 0; i < m.n; i++) {
		const struct ref_series *s = &m.s[i];
		const struct st_block_summary *sum;
		uint32_t n;
		assert_int_equal(st_block_summaries(blk, s->id, &sum, &n), 0);
		for (uint32_t c = 0; c < n; c++) {
			assert_int_equal(cm_floor_div(sum[c].t_min, 100), cm_floor_div(sum[c].t_max, 100));
			assert_true(sum[c].count <= 10);
		}
		/* skip the chunks of even spans: the points of odd ones come back */
		struct st_points p;
		st_points_init(&p);
		int seen = 0;
		int got = st_block_read_skip(blk, s->id, INT64_MIN, INT64_MAX, skip_even, &seen, &p);
		assert_int_equal(seen, (int)n);
		size_t k = 0;
		for (size_t j = 0; j < s->n; j++) {
			if (cm_floor_div(s->ts[j], 100) % 2 == 0)
				continue;
			assert_true(k < p.n);
			assert_int_equal(p.ts[k], s->ts[j]);
			assert_int_equal(p.vals[k], s->v[j]);
			k++;
		}
		assert_int_equal(k, p.n);
		assert_int_equal(got, (int)k);
		st_points_release(&p);
	}
	st_block_close(blk);
	free(img);
	model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* The builder's contract                                                   */
/* ------------------------------------------------------------------------ */

static void test_st_block__builder_rejects(void **state)
{
	(void)state;
	struct st_block_builder *b;
	struct st_block_build_cfg cfg = {.part_start_ns = 0, .part_end_ns = 1000};
	struct st_block_build_cfg bad = cfg;
	bad.part_end_ns = 0;
	assert_int_equal(st_block_builder_create(&bad, &b), -EINVAL);
	assert_null(b);
	bad = cfg;
	bad.chunk_points = ST_BLOCK_MAX_CHUNK_POINTS + 1;
	assert_int_equal(st_block_builder_create(&bad, &b), -EINVAL);
	bad = cfg;
	bad.section_bytes = 100;
	assert_int_equal(st_block_builder_create(&bad, &b), -EINVAL);
	bad = cfg;
	bad.zstd_level = 1000;
	assert_int_equal(st_block_builder_create(&bad, &b), -EINVAL);
	bad = cfg;
	bad.cost = (enum st_block_cost)9;
	assert_int_equal(st_block_builder_create(&bad, &b), -EINVAL);

	assert_int_equal(st_block_builder_create(&cfg, &b), 0);
	uint8_t *img;
	size_t len;
	assert_int_equal(st_block_builder_finish(b, &img, &len), -ENODATA);
	st_block_builder_destroy(b);

	assert_int_equal(st_block_builder_create(&cfg, &b), 0);
	int64_t ts[] = {10, 20, 30};
	uint64_t v[] = {1, 0, 1};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_I64, ts, v, 0), -EINVAL);
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_STR, ts, v, 3), -EINVAL);
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_NONE, ts, v, 3), -EINVAL);
	int64_t dup[] = {10, 10, 30};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_I64, dup, v, 3), -EINVAL);
	int64_t back[] = {10, 30, 20};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_I64, back, v, 3), -EINVAL);
	int64_t out[] = {10, 20, 1000};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_I64, out, v, 3), -ERANGE);
	int64_t before[] = {-1, 20, 30};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_I64, before, v, 3), -ERANGE);
	uint64_t two[] = {0, 2, 1};
	assert_int_equal(st_block_builder_add(b, 1, ST_VT_BOOL, ts, two, 3), -EINVAL);
	/* none of those added anything */
	assert_int_equal(st_block_builder_add(b, 5, ST_VT_BOOL, ts, v, 3), 0);
	assert_int_equal(st_block_builder_add(b, 5, ST_VT_I64, ts, v, 3), -EINVAL);
	assert_int_equal(st_block_builder_add(b, 4, ST_VT_I64, ts, v, 3), -EINVAL);
	assert_int_equal(st_block_builder_add(b, 6, ST_VT_I64, ts, v, 3), 0);
	assert_int_equal(st_block_builder_finish(b, &img, &len), 0);
	assert_int_equal(len, ST_BLOCK_ALIGN);
	uint8_t *img2;
	size_t len2;
	assert_int_equal(st_block_builder_finish(b, &img2, &len2), -EINVAL);
	assert_int_equal(st_block_builder_add(b, 9, ST_VT_I64, ts, v, 3), -EINVAL);
	st_block_builder_destroy(b);
	st_block_builder_destroy(NULL);

	struct st_fmt_block_header h;
	memcpy(&h, img, sizeof(h));
	assert_int_equal(h.magic, ST_BLOCK_MAGIC);
	assert_int_equal(h.nseries, 2);
	struct st_fmt_block_footer ft;
	memcpy(&ft, img + len - sizeof(ft), sizeof(ft));
	assert_int_equal(ft.magic, ST_BLOCK_FOOTER_MAGIC);
	assert_int_equal(ft.file_bytes, len);
	assert_int_equal(ft.npoints, 6);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	uint32_t id;
	enum st_value_type vt;
	st_block_series_at(blk, 0, &id, &vt);
	assert_int_equal(id, 5);
	assert_int_equal(vt, ST_VT_BOOL);
	st_block_series_at(blk, 1, NULL, NULL);
	st_block_close(blk);
	st_block_close(NULL);
	free(img);
}

/* Bigger series than a section: split at chunk boundaries; reads load only what they need. */
static void test_st_block__sections_read_on_demand(void **state)
{
	(void)state;
	rng_state = 400;
	struct model m = {.part_start = P0, .part_end = P0 + DAY};
	for (uint32_t i = 0; i < 6; i++)
		model_add(&m, i, i < 3 ? K_FLOAT_FULL : K_INT_WALK, i == 0 ? 5000 : 400, P0, SEC,
			  false);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 100, 4096);
	build(&m, &cfg, &img, &len);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	check_block(blk, &m, 100);

	/* series 0 (5000 points of 8-byte floats) spans about 10 sections */
	struct st_fmt_block_footer ft;
	memcpy(&ft, img + len - sizeof(ft), sizeof(ft));
	assert_true(ft.nsections >= 12);
	struct st_points p;
	st_points_init(&p);
	atomic_store(&f.reads, 0);
	atomic_store(&f.bytes, 0);
	assert_int_equal(st_block_read(blk, 0, P0 + 2500 * SEC, P0 + 2550 * SEC, &p), 51);
	assert_int_equal(atomic_load(&f.reads), 1);     /* one section */
	assert_true(atomic_load(&f.bytes) <= 4096 + 2000);
	/* the small integer series share one section: one read each */
	atomic_store(&f.reads, 0);
	for (uint32_t i = 3; i < 6; i++)
		assert_int_equal(st_block_read(blk, i, INT64_MIN, INT64_MAX, &p), 400);
	assert_int_equal(atomic_load(&f.reads), 3);
	/* a range between points reads nothing */
	atomic_store(&f.reads, 0);
	assert_int_equal(st_block_read(blk, 3, P0 - 10, P0 - 1, &p), 0);
	assert_int_equal(atomic_load(&f.reads), 0);
	st_points_release(&p);
	st_block_close(blk);
	free(img);
	model_free(&m);
}

/* A chunk table bigger than one index section (4 MiB / 72 bytes per chunk). */
static void test_st_block__index_in_several_sections(void **state)
{
	(void)state;
	rng_state = 500;
	struct model m = {.part_start = P0, .part_end = P0 + DAY};
	for (uint32_t i = 0; i < 7; i++)
		model_add(&m, i * 2, K_INT_WALK, 10000, P0, SEC, false);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 1, 0);
	build(&m, &cfg, &img, &len);
	struct st_fmt_block_footer ft;
	memcpy(&ft, img + len - sizeof(ft), sizeof(ft));
	unsigned chunk_sections = 0;
	for (uint32_t i = 0; i < ft.nsections; i++) {
		struct st_fmt_section s;
		memcpy(&s, img + ft.index_off + i * sizeof(s), sizeof(s));
		chunk_sections += s.kind == ST_SECT_CHUNKS;
	}
	assert_int_equal(chunk_sections, 2);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	check_block(blk, &m, 1);
	check_range(blk, &m.s[3], P0 + 5000 * SEC, P0 + 5003 * SEC);
	st_block_close(blk);
	free(img);
	model_free(&m);
}

static void test_st_block__cost_models_and_levels(void **state)
{
	(void)state;
	rng_state = 600;
	struct model m = {.part_start = P0, .part_end = P0 + DAY};
	for (uint32_t i = 0; i < K__COUNT; i++)
		model_add(&m, i, (enum kind)i, 1500, P0, 10 * SEC, i % 2);
	static const enum st_block_cost costs[] = {ST_BLOCK_COST_DEFAULT, ST_BLOCK_COST_RAW,
						   ST_BLOCK_COST_ENTROPY, ST_BLOCK_COST_ZSTD};
	static const int levels[] = {0, -5, 1, 19};
	for (unsigned c = 0; c < CM_ARRAY_SIZE(costs); c++) {
		struct st_block_build_cfg cfg = cfg_for(&m, 256, 0);
		cfg.cost = costs[c];
		cfg.zstd_level = levels[c];
		uint8_t *img;
		size_t len;
		build(&m, &cfg, &img, &len);
		struct mem_file f = {.p = img, .len = len};
		struct st_block *blk = open_ok(&f);
		check_block(blk, &m, 256);
		st_block_close(blk);
		free(img);
	}
	model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Corruption and I/O errors                                                */
/* ------------------------------------------------------------------------ */

/* A small block: a few series, several chunks, one data section, in one 4 KiB page. */
static void small_model(struct model *m)
{
	rng_state = 700;
	*m = (struct model){.part_start = P0, .part_end = P0 + DAY};
	model_add(m, 3, K_INT_WALK, 100, P0, 10 * SEC, false);
	model_add(m, 4, K_DEC_WALK, 50, P0, 10 * SEC, true);
	model_add(m, 9, K_BOOL, 40, P0 + SEC, SEC, false);
	model_add(m, 10, K_FEW, 30, P0 + SEC, SEC, false);
	model_add(m, 11, K_U64, 1, P0 + SEC, SEC, false);
}

/* After a corruption: each read is -EBADMSG or exactly right. */
static void reads_right_or_ebadmsg(const struct st_block *blk, const struct model *m)
{
	struct st_points p;
	st_points_init(&p);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ref_series *s = &m->s[i];
		p.n = 0;
		int rc = st_block_read(blk, s->id, INT64_MIN, INT64_MAX, &p);
		if (rc == -EBADMSG) {
			assert_int_equal(p.n, 0);
			continue;
		}
		assert_int_equal(rc, (int)s->n);
		for (size_t k = 0; k < s->n; k++)
			assert_true(p.ts[k] == s->ts[k] && p.vals[k] == s->v[k]);
	}
	st_points_release(&p);
}

static void test_st_block__every_byte_flip_is_caught(void **state)
{
	(void)state;
	struct model m;
	small_model(&m);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 16, 0);
	build(&m, &cfg, &img, &len);
	assert_int_equal(len, 4096);
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	unsigned open_caught = 0, verify_caught = 0;
	for (size_t at = 0; at < len; at++) {
		for (int kind = 0; kind < 2; kind++) {
			memcpy(bad, img, len);
			bad[at] ^= kind ? 0xff : (uint8_t)(1u << (at % 8));
			struct mem_file f = {.p = bad, .len = len};
			struct st_block *blk;
			char err[256];
			int rc = st_block_open(len, mem_read, &f, &blk, err, sizeof(err));
			if (rc) {
				assert_int_equal(rc, -EBADMSG);
				assert_true(err[0] != '\0');
				assert_null(blk);
				open_caught++;
				continue;
			}
			reads_right_or_ebadmsg(blk, &m);
			rc = st_block_verify(blk, err, sizeof(err));
			if (rc != -EBADMSG)
				fail_msg("flip at byte %zu not caught by open or verify", at);
			assert_true(err[0] != '\0');
			verify_caught++;
			st_block_close(blk);
		}
	}
	assert_int_equal(open_caught + verify_caught, 2 * len);
	assert_true(verify_caught > 0 && open_caught > 0);
	free(bad);
	free(img);
	model_free(&m);
}

static void test_st_block__truncated_or_extended(void **state)
{
	(void)state;
	struct model m;
	small_model(&m);
	model_add(&m, 20, K_FLOAT_FULL, 600, P0, SEC, false); /* two pages */
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 16, 0);
	build(&m, &cfg, &img, &len);
	assert_true(len >= 8192);
	for (size_t cut = 0; cut < len; cut++) {
		struct mem_file f = {.p = img, .len = cut};
		struct st_block *blk;
		char err[256];
		int rc = st_block_open(cut, mem_read, &f, &blk, err, sizeof(err));
		if (rc != -EBADMSG)
			fail_msg("truncated to %zu: %d", cut, rc);
	}
	/* a longer file (the block written over a longer one) */
	uint8_t *longer = calloc(1, len + 4096);
	memcpy(longer, img, len);
	struct mem_file f = {.p = longer, .len = len + 4096};
	struct st_block *blk;
	assert_int_equal(st_block_open(len + 4096, mem_read, &f, &blk, NULL, 0), -EBADMSG);
	free(longer);
	free(img);
	model_free(&m);
}

static void test_st_block__io_errors(void **state)
{
	(void)state;
	struct model m;
	small_model(&m);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 16, 0);
	build(&m, &cfg, &img, &len);
	/* every read of open fails in turn */
	for (int k = 1; k <= 5; k++) {
		struct mem_file f = {.p = img, .len = len, .fail_after = k, .fail_rc = -EIO};
		struct st_block *blk;
		char err[256];
		assert_int_equal(st_block_open(len, mem_read, &f, &blk, err, sizeof(err)), -EIO);
		assert_non_null(strstr(err, "read of"));
	}
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	f.fail_after = 1;
	f.fail_rc = -EIO;
	struct st_points p;
	st_points_init(&p);
	p.n = 0;
	assert_int_equal(st_block_read(blk, 3, INT64_MIN, INT64_MAX, &p), -EIO);
	assert_int_equal(p.n, 0);
	char err[256];
	assert_int_equal(st_block_verify(blk, err, sizeof(err)), -EIO);
	f.fail_rc = -ENOMEM;
	assert_int_equal(st_block_read(blk, 3, INT64_MIN, INT64_MAX, &p), -ENOMEM);
	f.fail_after = 0;
	assert_int_equal(st_block_read(blk, 3, INT64_MIN, INT64_MAX, &p), 100);
	st_points_release(&p);
	st_block_close(blk);
	free(img);
	model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

struct reader_arg {
	const struct st_block *blk;
	const struct model *m;
	uint64_t seed;
	int failures;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	uint64_t s = a->seed;
	struct st_points pts;
	st_points_init(&pts);
	for (int r = 0; r < 400; r++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		const struct ref_series *rs = &a->m->s[(s >> 33) % a->m->n];
		int64_t span = rs->ts[rs->n - 1] - rs->ts[0] + 1;
		int64_t lo = rs->ts[0] + (int64_t)((s >> 20) % (uint64_t)span);
		int64_t hi = lo + (int64_t)((s >> 7) % (uint64_t)span);
		size_t want_lo, want_hi;
		ref_range(rs, lo, hi, &want_lo, &want_hi);
		pts.n = 0;
		int rc = st_block_read(a->blk, rs->id, lo, hi, &pts);
		if (rc != (int)(want_hi - want_lo) ||
		    memcmp(pts.ts, rs->ts + want_lo, (size_t)rc * 8) ||
		    memcmp(pts.vals, rs->v + want_lo, (size_t)rc * 8))
			a->failures++;
	}
	st_points_release(&pts);
	return NULL;
}

static void test_st_block__concurrent_readers(void **state)
{
	(void)state;
	rng_state = 800;
	struct model m = {.part_start = P0, .part_end = P0 + DAY};
	for (uint32_t i = 0; i < 30; i++)
		model_add(&m, i, (enum kind)(i % K__COUNT), 2000, P0, 10 * SEC, i % 3 == 0);
	uint8_t *img;
	size_t len;
	struct st_block_build_cfg cfg = cfg_for(&m, 128, 8192);
	build(&m, &cfg, &img, &len);
	struct mem_file f = {.p = img, .len = len};
	struct st_block *blk = open_ok(&f);
	pthread_t th[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){.blk = blk, .m = &m, .seed = (uint64_t)i + 1};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	st_block_close(blk);
	free(img);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_block__reference_model),
		cmocka_unit_test(test_st_block__range_reads_across_chunk_boundaries),
		cmocka_unit_test(test_st_block__edge_cases),
		cmocka_unit_test(test_st_block__summaries),
		cmocka_unit_test(test_st_block__chunks_cut_at_span_multiples),
		cmocka_unit_test(test_st_block__builder_rejects),
		cmocka_unit_test(test_st_block__sections_read_on_demand),
		cmocka_unit_test(test_st_block__index_in_several_sections),
		cmocka_unit_test(test_st_block__cost_models_and_levels),
		cmocka_unit_test(test_st_block__every_byte_flip_is_caught),
		cmocka_unit_test(test_st_block__truncated_or_extended),
		cmocka_unit_test(test_st_block__io_errors),
		cmocka_unit_test(test_st_block__concurrent_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
