/*
 * test_mg_agg.c - unit tests for mgmt/mg_agg.c, InfluxQL's aggregates,
 * selectors and transformations: names; each function on small
 * hand-computed inputs, integers against floats (types kept or changed as
 * InfluxDB 1.x does); empty buckets; the tie rules; percentile's nearest
 * rank at its edges and in InfluxDB's order of operations; integers beyond
 * 2^53; reset, growth and allocation failure of the kept values; nulls,
 * equal times, non-negative forms, windows and units of the
 * transformations; and, with a fixed seed, every accumulator and
 * transformation over 1,000 random inputs against a naive model.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "cm_rand.h"
#include "mg_agg.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

#define ASSERT_NONE(r) assert_false((r).valid)

#define ASSERT_I(r, want)                                                                     \
	do {                                                                                  \
		struct mg_num r_ = (r);                                                       \
		if (!r_.valid || !r_.is_int || r_.i != (int64_t)(want))                       \
			fail_msg("got %s %lld, want integer %lld",                            \
				 !r_.valid ? "none" : r_.is_int ? "integer" : "float",        \
				 (long long)r_.i, (long long)(want));                         \
	} while (0)

#define ASSERT_F(r, want)                                                                     \
	do {                                                                                  \
		struct mg_num r_ = (r);                                                       \
		if (!r_.valid || r_.is_int || !(r_.f == (double)(want)))                      \
			fail_msg("got %s %.17g, want float %.17g",                            \
				 !r_.valid ? "none" : r_.is_int ? "integer" : "float", r_.f,  \
				 (double)(want));                                             \
	} while (0)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* v[i] at T0 + i seconds, values kept. */
static void feed_i(struct mg_acc *a, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mg_acc_add_i64(a, T0 + (int64_t)i * SEC, v[i], true);
}

static void feed_f(struct mg_acc *a, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mg_acc_add_f64(a, T0 + (int64_t)i * SEC, v[i], true);
}

static struct mg_num ni(int64_t i)
{
	return (struct mg_num){.valid = true, .is_int = true, .i = i, .f = (double)i};
}

static struct mg_num nf(double f)
{
	return (struct mg_num){.valid = true, .f = f};
}

static const struct mg_num NUL = {0};

static bool near(double got, double want)
{
	return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want));
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static void test_mg_agg__names(void **state)
{
	(void)state;
	for (int fn = 0; fn < MG_AGG__COUNT; fn++)
		assert_int_equal(mg_agg_lookup(mg_agg_name((enum mg_agg_fn)fn)), fn);
	for (int fn = 0; fn < MG_XF__COUNT; fn++)
		assert_int_equal(mg_xform_lookup(mg_xform_name((enum mg_xform_fn)fn)), fn);
	assert_int_equal(mg_agg_lookup("percentile"), MG_AGG_PERCENTILE);
	assert_int_equal(mg_agg_lookup("MEAN"), MG_AGG_MEAN);
	assert_int_equal(mg_xform_lookup("non_negative_derivative"), MG_XF_NON_NEGATIVE_DERIVATIVE);
	assert_int_equal(mg_agg_lookup("derivative"), -1);
	assert_int_equal(mg_xform_lookup("mean"), -1);
	assert_int_equal(mg_agg_lookup("integral"), -1);
	assert_int_equal(mg_agg_lookup(""), -1);
	assert_int_equal(mg_agg_lookup(NULL), -1);
	assert_string_equal(mg_agg_name(MG_AGG__COUNT), "unknown");
	assert_string_equal(mg_xform_name(MG_XF__COUNT), "unknown");
	int sel = 0, keep = 0;
	for (int fn = 0; fn < MG_AGG__COUNT; fn++) {
		sel += mg_agg_is_selector((enum mg_agg_fn)fn);
		keep += mg_agg_keeps((enum mg_agg_fn)fn);
	}
	assert_int_equal(sel, 5);
	assert_int_equal(keep, 3);
	assert_true(mg_agg_is_selector(MG_AGG_PERCENTILE) && !mg_agg_is_selector(MG_AGG_MODE));
	assert_true(mg_agg_keeps(MG_AGG_MEDIAN) && mg_agg_keeps(MG_AGG_MODE) &&
		    mg_agg_keeps(MG_AGG_PERCENTILE) && !mg_agg_keeps(MG_AGG_STDDEV));
}

/* ------------------------------------------------------------------------ */
/* Aggregates and selectors                                                  */
/* ------------------------------------------------------------------------ */

static void test_mg_agg__integers_keep_their_type(void **state)
{
	(void)state;
	const int64_t v[] = {4, 1, 3, 2};
	struct mg_acc a;
	mg_acc_init(&a);
	feed_i(&a, v, 4);
	ASSERT_I(mg_acc_result(&a, MG_AGG_COUNT, 0), 4);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SUM, 0), 10);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEAN, 0), 2.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 2.5);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SPREAD, 0), 3);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MIN, 0), 1);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MAX, 0), 4);
	ASSERT_I(mg_acc_result(&a, MG_AGG_FIRST, 0), 4);
	ASSERT_I(mg_acc_result(&a, MG_AGG_LAST, 0), 2);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MODE, 0), 1);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 2);
	ASSERT_F(mg_acc_result(&a, MG_AGG_STDDEV, 0), sqrt(5.0 / 3.0));
	assert_int_equal(mg_acc_result(&a, MG_AGG_MIN, 0).ts, T0 + 1 * SEC);
	assert_int_equal(mg_acc_result(&a, MG_AGG_MAX, 0).ts, T0);
	assert_int_equal(mg_acc_result(&a, MG_AGG_LAST, 0).ts, T0 + 3 * SEC);
	mg_acc_release(&a);
}

static void test_mg_agg__floats(void **state)
{
	(void)state;
	const double v[] = {0.5, 4.0, 1.5, -2.0, 1.5};
	struct mg_acc a;
	mg_acc_init(&a);
	feed_f(&a, v, 5);
	ASSERT_I(mg_acc_result(&a, MG_AGG_COUNT, 0), 5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_SUM, 0), 5.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEAN, 0), 1.1);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 1.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MODE, 0), 1.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_SPREAD, 0), 6.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MIN, 0), -2.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MAX, 0), 4.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_FIRST, 0), 0.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_LAST, 0), 1.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 20), -2.0);
	/* sample variance: deviations -0.6 2.9 0.4 -3.1 0.4, squares sum 18.7, / 4 */
	struct mg_num sd = mg_acc_result(&a, MG_AGG_STDDEV, 0);
	assert_true(sd.valid && !sd.is_int && near(sd.f, sqrt(18.7 / 4)));
	mg_acc_release(&a);
}

static void test_mg_agg__empty_bucket_has_no_value(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	for (int fn = 0; fn < MG_AGG__COUNT; fn++)
		ASSERT_NONE(mg_acc_result(&a, (enum mg_agg_fn)fn, 50));
	mg_acc_release(&a);
	mg_acc_release(NULL);
}

static void test_mg_agg__single_value(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_i64(&a, T0, 7, true);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_STDDEV, 0));
	ASSERT_I(mg_acc_result(&a, MG_AGG_SPREAD, 0), 0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 7);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MODE, 0), 7);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 100), 7);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 7);  /* floor(1.0) = rank 1 */
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 49)); /* floor(0.99) = rank 0 */
	mg_acc_add_i64(&a, T0 + SEC, 9, true);
	ASSERT_F(mg_acc_result(&a, MG_AGG_STDDEV, 0), sqrt(2.0));
	mg_acc_release(&a);
}

/* Equal values: the earliest time, whatever the order fed; equal times: the first fed. */
static void test_mg_agg__min_max_ties(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_f64(&a, T0 + 5, 2.0, false);
	mg_acc_add_f64(&a, T0 + 3, 9.0, false);
	mg_acc_add_f64(&a, T0 + 2, 2.0, false);  /* min: same value, earlier */
	mg_acc_add_f64(&a, T0 + 4, 2.0, false);  /* later: not taken */
	mg_acc_add_f64(&a, T0 + 1, 9.0, false);  /* max: same value, earlier */
	mg_acc_add_f64(&a, T0 + 1, 9.0, false);  /* same value and time: the first stays */
	struct mg_num mn = mg_acc_result(&a, MG_AGG_MIN, 0), mx = mg_acc_result(&a, MG_AGG_MAX, 0);
	ASSERT_F(mn, 2.0);
	ASSERT_F(mx, 9.0);
	assert_int_equal(mn.ts, T0 + 2);
	assert_int_equal(mx.ts, T0 + 1);
	mg_acc_reset(&a);
	mg_acc_add_i64(&a, T0 + 5, -1, false);
	mg_acc_add_i64(&a, T0 + 2, -1, false);
	mg_acc_add_i64(&a, T0 + 9, 3, false);
	mn = mg_acc_result(&a, MG_AGG_MIN, 0);
	ASSERT_I(mn, -1);
	assert_int_equal(mn.ts, T0 + 2);
	mg_acc_release(&a);
}

static void test_mg_agg__first_last_ties(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_i64(&a, T0 + 20, 1, false);
	mg_acc_add_i64(&a, T0 + 10, 2, false); /* earlier: first */
	mg_acc_add_i64(&a, T0 + 10, 3, false); /* same time, greater: replaces it (InfluxDB) */
	mg_acc_add_i64(&a, T0 + 10, -7, false); /* same time, smaller: does not */
	mg_acc_add_i64(&a, T0 + 30, 5, false); /* later: last */
	mg_acc_add_i64(&a, T0 + 30, 4, false); /* same time, smaller: does not replace it */
	mg_acc_add_i64(&a, T0 + 25, 6, false);
	struct mg_num f = mg_acc_result(&a, MG_AGG_FIRST, 0), l = mg_acc_result(&a, MG_AGG_LAST, 0);
	ASSERT_I(f, 3);
	ASSERT_I(l, 5);
	assert_int_equal(f.ts, T0 + 10);
	assert_int_equal(l.ts, T0 + 30);
	mg_acc_release(&a);
}

static void test_mg_agg__median(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const int64_t odd[] = {9, -3, 5, 5, 1};
	feed_i(&a, odd, 5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 5);
	mg_acc_reset(&a);
	const int64_t even[] = {10, 1, 4, 7, 2, 100};
	feed_i(&a, even, 6); /* sorted 1 2 4 7 10 100: (4 + 7) / 2 */
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 5.5);
	mg_acc_reset(&a);
	const double fe[] = {-0.25, 0.75};
	feed_f(&a, fe, 2);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 0.25);
	mg_acc_reset(&a);
	/* InfluxDB's lo + (hi - lo) / 2 stays finite where (lo + hi) / 2 would not */
	const double big[] = {DBL_MAX, DBL_MAX / 2};
	feed_f(&a, big, 2);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), DBL_MAX / 2 + DBL_MAX / 4);
	mg_acc_release(&a);
}

static void test_mg_agg__mode_smallest_on_ties(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const int64_t v[] = {7, 3, 7, 3, 9, 1};
	feed_i(&a, v, 6); /* 7 and 3 twice each: 3 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_MODE, 0), 3);
	mg_acc_reset(&a);
	const int64_t w[] = {5, 4, 3, 2, 1};
	feed_i(&a, w, 5); /* all once: the smallest */
	ASSERT_I(mg_acc_result(&a, MG_AGG_MODE, 0), 1);
	mg_acc_reset(&a);
	const double f[] = {2.5, -1.0, 2.5, 0.5, -1.0, 2.5};
	feed_f(&a, f, 6);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MODE, 0), 2.5);
	mg_acc_release(&a);
}

static void test_mg_agg__spread_and_stddev(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const int64_t v[] = {2, 4, 4, 4, 5, 5, 7, 9};
	feed_i(&a, v, 8);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SPREAD, 0), 7);
	struct mg_num sd = mg_acc_result(&a, MG_AGG_STDDEV, 0); /* squares sum 32, n - 1 = 7 */
	assert_true(sd.valid && !sd.is_int && near(sd.f, sqrt(32.0 / 7.0)));
	mg_acc_reset(&a);
	const double f[] = {1.25, 1.25, 1.25};
	feed_f(&a, f, 3);
	ASSERT_F(mg_acc_result(&a, MG_AGG_SPREAD, 0), 0.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_STDDEV, 0), 0.0);
	mg_acc_release(&a);
}

static void test_mg_agg__percentile_edges(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const int64_t ten[] = {7, 3, 10, 1, 9, 2, 8, 4, 6, 5};
	feed_i(&a, ten, 10);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 0));   /* rank floor(0.5) = 0 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 5), 1);   /* floor(1.0) = 1 */
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 4.9)); /* floor(0.99) = 0 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 5);  /* floor(5.5) = 5 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 44), 4);  /* floor(4.9) = 4 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 45), 5);  /* floor(5.0) = 5 */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 90), 9);
	/* a selector: the time of the point (9 was fed 5th) */
	assert_int_equal(mg_acc_result(&a, MG_AGG_PERCENTILE, 90).ts, T0 + 4 * SEC);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 100), 10);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 110)); /* rank 11 > n */
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, -5));
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, NAN));
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 1e300));
	mg_acc_reset(&a);
	const double three[] = {30.5, 10.5, 20.5};
	feed_f(&a, three, 3);
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 99), 30.5); /* floor(3.47) = 3 */
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 20.5); /* floor(2.0) = 2 */
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 34), 10.5); /* floor(1.52) = 1 */
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 16));    /* floor(0.98) = 0 */
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 100), 30.5);
	mg_acc_release(&a);
}

/*
 * InfluxDB computes float64(n)*p/100 + 0.5; p/100*n rounds differently for
 * n = 50, p = 29 (14.5 exactly against 14.499999999999998): rank 15, not 14.
 */
static void test_mg_agg__percentile_order_of_operations(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	for (int64_t i = 1; i <= 50; i++)
		mg_acc_add_i64(&a, T0 + i, 51 - i, true);
	assert_true(floor(29.0 / 100.0 * 50 + 0.5) == 14); /* the pitfall exists */
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 29), 15);
	mg_acc_release(&a);
}

/* Once a float is fed the bucket is float: InfluxDB casts a field's integers to float. */
static void test_mg_agg__mixed_types_are_float(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_i64(&a, T0 + 1, 3, true);
	mg_acc_add_f64(&a, T0 + 2, 0.5, true);
	mg_acc_add_i64(&a, T0 + 3, 3, true);
	mg_acc_add_i64(&a, T0 + 4, -2, true);
	ASSERT_I(mg_acc_result(&a, MG_AGG_COUNT, 0), 4);
	ASSERT_F(mg_acc_result(&a, MG_AGG_SUM, 0), 4.5);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEAN, 0), 1.125);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MIN, 0), -2.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MAX, 0), 3.0);
	assert_int_equal(mg_acc_result(&a, MG_AGG_MAX, 0).ts, T0 + 1);
	ASSERT_F(mg_acc_result(&a, MG_AGG_FIRST, 0), 3.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_LAST, 0), -2.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_SPREAD, 0), 5.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MODE, 0), 3.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 0.5);
	mg_acc_release(&a);
}

/* Sums, min, max, spread exact beyond 2^53; overflow wraps as Go's int64. */
static void test_mg_agg__large_integers(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const int64_t big = (1LL << 60) + 1;
	mg_acc_add_i64(&a, T0, big, true);
	mg_acc_add_i64(&a, T0 + 1, big + 2, true);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SUM, 0), 2 * big + 2);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SPREAD, 0), 2);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MAX, 0), big + 2);
	ASSERT_I(mg_acc_result(&a, MG_AGG_MIN, 0), big);
	mg_acc_reset(&a);
	mg_acc_add_i64(&a, T0, INT64_MAX, true);
	mg_acc_add_i64(&a, T0 + 1, 1, true);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SUM, 0), INT64_MIN);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 100), INT64_MAX); /* kept as 2^63 */
	mg_acc_add_i64(&a, T0 + 2, INT64_MIN, true);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 1 / 3.0 * 100), INT64_MIN);
	ASSERT_I(mg_acc_result(&a, MG_AGG_SPREAD, 0), -1); /* INT64_MAX - INT64_MIN wraps */
	mg_acc_release(&a);
}

static void test_mg_agg__reset_keeps_memory_and_growth(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	for (int64_t i = 0; i < 10001; i++)
		mg_acc_add_i64(&a, T0 + i, (i * 7919) % 10001, true); /* a permutation of 0..10000 */
	assert_int_equal(a.nvals, 10001);
	assert_true(a.capvals >= 10001 && a.capvals < 2 * 10001 + 16);
	assert_false(a.oom);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 5000);
	ASSERT_I(mg_acc_result(&a, MG_AGG_PERCENTILE, 99), 9900); /* rank 9901 */
	double *vals = a.vals;
	size_t cap = a.capvals;
	mg_acc_reset(&a);
	assert_true(a.vals == vals && a.capvals == cap);
	assert_true(a.n == 0 && a.nvals == 0 && a.is_int && !a.oom && a.isum == 0);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_MEDIAN, 0));
	mg_acc_add_f64(&a, T0, 1.5, true);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 1.5);
	mg_acc_release(&a);
	assert_null(a.vals);
	assert_int_equal(a.capvals, 0);
}

/* A vector that cannot grow: oom set, the value dropped, keeping results none. */
static void test_mg_agg__oom_keeps_going(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_i64(&a, T0, 1, true);
	double *vals = a.vals;
	size_t nvals = a.nvals, cap = a.capvals;
	a.nvals = a.capvals = SIZE_MAX / sizeof(double) / 2 + 1; /* doubling would overflow */
	mg_acc_add_i64(&a, T0 + 1, 2, true);
	assert_true(a.oom);
	assert_int_equal(a.nvals, SIZE_MAX / sizeof(double) / 2 + 1);
	a.nvals = nvals;
	a.capvals = cap;
	mg_acc_add_i64(&a, T0 + 2, 3, true); /* no further attempt */
	assert_int_equal(a.nvals, 1);
	assert_true(a.vals == vals);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_MEDIAN, 0));
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_MODE, 0));
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_PERCENTILE, 50));
	ASSERT_I(mg_acc_result(&a, MG_AGG_SUM, 0), 6); /* the rest is unaffected */
	ASSERT_I(mg_acc_result(&a, MG_AGG_COUNT, 0), 3);
	mg_acc_reset(&a);
	assert_false(a.oom);
	mg_acc_release(&a);
}

/* NaN (ingest rejects it; arithmetic may not) orders above every value and breaks nothing. */
static void test_mg_agg__nan_orders_last(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	const double v[] = {NAN, 3.0, 2.0, NAN, 2.0, 1.0};
	feed_f(&a, v, 6);
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEDIAN, 0), 2.5); /* 1 2 2 3 NaN NaN */
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 50), 2.0);
	ASSERT_F(mg_acc_result(&a, MG_AGG_PERCENTILE, 60), 3.0);
	struct mg_num top = mg_acc_result(&a, MG_AGG_PERCENTILE, 100);
	assert_true(top.valid && isnan(top.f));
	ASSERT_F(mg_acc_result(&a, MG_AGG_MODE, 0), 2.0);
	mg_acc_release(&a);
}

/* Without keep nothing is stored: median and friends have no value. */
static void test_mg_agg__no_keep_no_kept_values(void **state)
{
	(void)state;
	struct mg_acc a;
	mg_acc_init(&a);
	mg_acc_add_f64(&a, T0, 1.0, false);
	mg_acc_add_f64(&a, T0 + 1, 2.0, false);
	assert_null(a.vals);
	ASSERT_NONE(mg_acc_result(&a, MG_AGG_MEDIAN, 0));
	ASSERT_F(mg_acc_result(&a, MG_AGG_MEAN, 0), 1.5);
	mg_acc_release(&a);
}

/* ------------------------------------------------------------------------ */
/* Transformations                                                           */
/* ------------------------------------------------------------------------ */

#define XN 8

struct col {
	int64_t ts[XN];
	struct mg_num in[XN], out[XN];
	size_t n;
};

static void col_push(struct col *c, int64_t ts, struct mg_num v)
{
	assert_true(c->n < XN);
	c->ts[c->n] = ts;
	c->in[c->n++] = v;
}

static int col_apply(struct col *c, enum mg_xform_fn fn, int64_t unit_ns, int64_t window)
{
	memset(c->out, 0xa5, sizeof(c->out)); /* every row must be written */
	int rc = mg_xform_apply(fn, c->ts, c->in, c->n, unit_ns, window, c->out);
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		assert_int_equal(c->out[i].ts, c->ts[i]);
	return rc;
}

static void test_mg_agg__derivative(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, nf(1.0));
	col_push(&c, T0 + 1 * SEC, nf(3.0));
	col_push(&c, T0 + 3 * SEC, nf(2.0));
	col_push(&c, T0 + 4 * SEC, nf(2.5));
	assert_int_equal(col_apply(&c, MG_XF_DERIVATIVE, 0, 0), 0); /* 0: per second */
	ASSERT_NONE(c.out[0]);
	ASSERT_F(c.out[1], 2.0);
	ASSERT_F(c.out[2], -0.5);
	ASSERT_F(c.out[3], 0.5);
	assert_int_equal(col_apply(&c, MG_XF_DERIVATIVE, 60 * SEC, 0), 0); /* per minute */
	ASSERT_F(c.out[1], 120.0);
	ASSERT_F(c.out[2], -30.0);
	assert_int_equal(col_apply(&c, MG_XF_NON_NEGATIVE_DERIVATIVE, SEC, 0), 0);
	ASSERT_NONE(c.out[0]);
	ASSERT_F(c.out[1], 2.0);
	ASSERT_NONE(c.out[2]);
	ASSERT_F(c.out[3], 0.5); /* against 2.0, the point whose result was dropped */
	struct col d = {.n = 0};
	col_push(&d, T0, ni(10));
	col_push(&d, T0 + 2 * SEC, ni(15));
	assert_int_equal(col_apply(&d, MG_XF_DERIVATIVE, SEC, 0), 0);
	ASSERT_F(d.out[1], 2.5); /* integers in, float out */
}

/* Nulls are skipped; of equal times the first counts and the others have no value. */
static void test_mg_agg__derivative_nulls_and_equal_times(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, NUL);
	col_push(&c, T0 + 1 * SEC, nf(1.0));
	col_push(&c, T0 + 2 * SEC, NUL);
	col_push(&c, T0 + 3 * SEC, nf(5.0));
	col_push(&c, T0 + 3 * SEC, nf(100.0));
	col_push(&c, T0 + 5 * SEC, nf(9.0));
	assert_int_equal(col_apply(&c, MG_XF_DERIVATIVE, 0, 0), 0);
	ASSERT_NONE(c.out[0]);
	ASSERT_NONE(c.out[1]);
	ASSERT_NONE(c.out[2]);
	ASSERT_F(c.out[3], 2.0); /* (5 - 1) / 2 s */
	ASSERT_NONE(c.out[4]);
	ASSERT_F(c.out[5], 2.0); /* (9 - 5) / 2 s: 100 never entered */
	assert_int_equal(col_apply(&c, MG_XF_DIFFERENCE, 0, 0), 0);
	ASSERT_F(c.out[3], 4.0);
	ASSERT_NONE(c.out[4]);
	ASSERT_F(c.out[5], 4.0);
}

static void test_mg_agg__difference(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, ni(5));
	col_push(&c, T0 + 1, ni(3));
	col_push(&c, T0 + 2, NUL);
	col_push(&c, T0 + 3, ni(4));
	col_push(&c, T0 + 4, ni(4));
	assert_int_equal(col_apply(&c, MG_XF_DIFFERENCE, 0, 0), 0);
	ASSERT_NONE(c.out[0]);
	ASSERT_I(c.out[1], -2);
	ASSERT_NONE(c.out[2]);
	ASSERT_I(c.out[3], 1);
	ASSERT_I(c.out[4], 0);
	assert_int_equal(col_apply(&c, MG_XF_NON_NEGATIVE_DIFFERENCE, 0, 0), 0);
	ASSERT_NONE(c.out[1]);
	ASSERT_I(c.out[3], 1); /* against 3, whose own difference was dropped */
	ASSERT_I(c.out[4], 0); /* zero is not negative */
	struct col f = {.n = 0};
	col_push(&f, T0, nf(0.5));
	col_push(&f, T0 + 1, nf(0.25));
	col_push(&f, T0 + 2, nf(1.0));
	assert_int_equal(col_apply(&f, MG_XF_NON_NEGATIVE_DIFFERENCE, 0, 0), 0);
	ASSERT_NONE(f.out[1]);
	ASSERT_F(f.out[2], 0.75);
}

static void test_mg_agg__moving_average_windows(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	const int64_t v[] = {1, 2, 4, 8, 16, 32};
	for (size_t i = 0; i < 6; i++)
		col_push(&c, T0 + (int64_t)i * SEC, i == 3 ? NUL : ni(v[i]));
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 2), 0);
	ASSERT_NONE(c.out[0]);
	ASSERT_F(c.out[1], 1.5);
	ASSERT_F(c.out[2], 3.0);
	ASSERT_NONE(c.out[3]);
	ASSERT_F(c.out[4], 10.0); /* 4 and 16: the null is no value */
	ASSERT_F(c.out[5], 24.0);
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 3), 0);
	ASSERT_NONE(c.out[0]);
	ASSERT_NONE(c.out[1]);
	ASSERT_F(c.out[2], 7.0 / 3.0);
	ASSERT_F(c.out[4], 22.0 / 3.0);
	ASSERT_F(c.out[5], 52.0 / 3.0);
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 1), 0);
	ASSERT_F(c.out[0], 1.0);
	ASSERT_NONE(c.out[3]);
	ASSERT_F(c.out[5], 32.0);
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 5), 0);
	for (size_t i = 0; i < 5; i++)
		ASSERT_NONE(c.out[i]);
	ASSERT_F(c.out[5], 55.0 / 5.0); /* 1 2 4 16 32 */
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 6), 0); /* 5 values only */
	for (size_t i = 0; i < 6; i++)
		ASSERT_NONE(c.out[i]);
	struct col f = {.n = 0};
	col_push(&f, T0, nf(0.5));
	col_push(&f, T0 + 1, nf(1.5));
	col_push(&f, T0 + 1, nf(2.5)); /* equal times count, as InfluxDB */
	assert_int_equal(col_apply(&f, MG_XF_MOVING_AVERAGE, 0, 2), 0);
	ASSERT_F(f.out[1], 1.0);
	ASSERT_F(f.out[2], 2.0);
}

static void test_mg_agg__cumulative_sum(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, ni(3));
	col_push(&c, T0 + 1, NUL);
	col_push(&c, T0 + 2, ni(-1));
	col_push(&c, T0 + 2, ni(10));
	assert_int_equal(col_apply(&c, MG_XF_CUMULATIVE_SUM, 0, 0), 0);
	ASSERT_I(c.out[0], 3);
	ASSERT_NONE(c.out[1]);
	ASSERT_I(c.out[2], 2);
	ASSERT_I(c.out[3], 12);
	c.in[3] = nf(0.5); /* one float: the column is float */
	assert_int_equal(col_apply(&c, MG_XF_CUMULATIVE_SUM, 0, 0), 0);
	ASSERT_F(c.out[0], 3.0);
	ASSERT_F(c.out[3], 2.5);
}

static void test_mg_agg__elapsed(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, nf(1));
	col_push(&c, T0 + 1500 * 1000000LL, NUL);
	col_push(&c, T0 + 2500 * 1000000LL, nf(1));
	col_push(&c, T0 + 2500 * 1000000LL, ni(7));
	col_push(&c, T0 + 7 * SEC, nf(1));
	assert_int_equal(col_apply(&c, MG_XF_ELAPSED, 0, 0), 0); /* nanoseconds */
	ASSERT_NONE(c.out[0]);
	ASSERT_NONE(c.out[1]);
	ASSERT_I(c.out[2], 2500 * 1000000LL);
	ASSERT_I(c.out[3], 0);
	ASSERT_I(c.out[4], 4500 * 1000000LL);
	assert_int_equal(col_apply(&c, MG_XF_ELAPSED, SEC, 0), 0); /* truncated */
	ASSERT_I(c.out[2], 2);
	ASSERT_I(c.out[4], 4);
}

static void test_mg_agg__xform_bad_arguments(void **state)
{
	(void)state;
	struct col c = {.n = 0};
	col_push(&c, T0, ni(1));
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, 0), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF_MOVING_AVERAGE, 0, -3), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF_DERIVATIVE, -1, 0), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF_NON_NEGATIVE_DERIVATIVE, -SEC, 0), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF_ELAPSED, -1, 0), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF__COUNT, 0, 1), -EINVAL);
	assert_int_equal(col_apply(&c, MG_XF_DIFFERENCE, 0, 0), 0); /* window, unit unused */
	assert_int_equal(mg_xform_apply(MG_XF_DERIVATIVE, NULL, NULL, 0, 0, 0, NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* Random inputs against a naive model                                       */
/* ------------------------------------------------------------------------ */

#define RN_MAX 300

struct sample {
	size_t n;
	bool ints;
	int64_t ts[RN_MAX], iv[RN_MAX];
	double fv[RN_MAX];
};

static double sample_f(const struct sample *s, size_t i)
{
	return s->ints ? (double)s->iv[i] : s->fv[i];
}

/* Few distinct values and times, so that ties are common; sometimes wide values. */
static void sample_make(struct sample *s, uint64_t *seed, size_t n)
{
	s->n = n;
	s->ints = cm_splitmix64(seed) & 1;
	bool wide = cm_splitmix64(seed) % 4 == 0;
	uint64_t ntimes = n / 2 + 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = cm_splitmix64(seed);
		s->ts[i] = T0 + (int64_t)(cm_splitmix64(seed) % ntimes) * SEC;
		s->iv[i] = wide ? (int64_t)(r >> 12) - (1LL << 51) : (int64_t)(r % 11) - 5;
		s->fv[i] = wide ? (double)(r >> 11) * 0x1p-53 * 2e6 - 1e6 : (double)s->iv[i] / 4;
	}
}

static void sorted_copy(const struct sample *s, double *out)
{
	for (size_t i = 0; i < s->n; i++) { /* insertion sort: nothing shared with the code */
		double x = sample_f(s, i);
		size_t j = i;
		for (; j > 0 && out[j - 1] > x; j--)
			out[j] = out[j - 1];
		out[j] = x;
	}
}

/*
 * The point a selector must pick: best by value (min, max; the earliest of
 * equal values) or by time (first, last; the greater of equal times).
 */
static size_t naive_select(const struct sample *s, enum mg_agg_fn fn)
{
	size_t best = 0;
	for (size_t i = 1; i < s->n; i++) {
		double v = sample_f(s, i), b = sample_f(s, best);
		bool take = fn == MG_AGG_MIN	  ? v < b || (v == b && s->ts[i] < s->ts[best])
			    : fn == MG_AGG_MAX	  ? v > b || (v == b && s->ts[i] < s->ts[best])
			    : fn == MG_AGG_FIRST ? s->ts[i] < s->ts[best] ||
						       (s->ts[i] == s->ts[best] && v > b)
						 : s->ts[i] > s->ts[best] ||
						       (s->ts[i] == s->ts[best] && v > b);
		if (take)
			best = i;
	}
	return best;
}

static double naive_mode(const double *sorted, size_t n)
{
	double best = sorted[0];
	size_t best_cnt = 0;
	for (size_t i = 0; i < n; i++) {
		size_t cnt = 0;
		for (size_t j = 0; j < n; j++)
			cnt += sorted[j] == sorted[i];
		if (cnt > best_cnt || (cnt == best_cnt && sorted[i] < best)) {
			best_cnt = cnt;
			best = sorted[i];
		}
	}
	return best;
}

static void check_num(struct mg_num got, bool ints, double want, const char *what, size_t n)
{
	if (!got.valid || got.is_int != ints || (ints ? (double)got.i : got.f) != want)
		fail_msg("%s over %zu values: got %s %.17g, want %.17g", what, n,
			 got.valid ? "value" : "none", got.is_int ? (double)got.i : got.f, want);
}

static void check_selectors(struct mg_acc *a, const struct sample *s)
{
	const enum mg_agg_fn sel[] = {MG_AGG_MIN, MG_AGG_MAX, MG_AGG_FIRST, MG_AGG_LAST};
	for (size_t k = 0; k < CM_ARRAY_SIZE(sel); k++) {
		size_t j = naive_select(s, sel[k]);
		struct mg_num r = mg_acc_result(a, sel[k], 0);
		check_num(r, s->ints, sample_f(s, j), mg_agg_name(sel[k]), s->n);
		assert_int_equal(r.ts, s->ts[j]);
	}
}

static void check_sums(struct mg_acc *a, const struct sample *s)
{
	int64_t isum = 0;
	double fsum = 0;
	for (size_t i = 0; i < s->n; i++) {
		isum += s->iv[i];
		fsum += s->fv[i];
	}
	double mean = (s->ints ? (double)isum : fsum) / (double)s->n;
	ASSERT_I(mg_acc_result(a, MG_AGG_COUNT, 0), s->n);
	check_num(mg_acc_result(a, MG_AGG_SUM, 0), s->ints, s->ints ? (double)isum : fsum, "sum",
		  s->n);
	check_num(mg_acc_result(a, MG_AGG_MEAN, 0), false, mean, "mean", s->n);
	double ss = 0;
	for (size_t i = 0; i < s->n; i++)
		ss += (sample_f(s, i) - mean) * (sample_f(s, i) - mean);
	struct mg_num sd = mg_acc_result(a, MG_AGG_STDDEV, 0);
	if (s->n < 2)
		ASSERT_NONE(sd);
	else if (!sd.valid || sd.is_int || !near(sd.f, sqrt(ss / (double)(s->n - 1))))
		fail_msg("stddev over %zu: got %.17g want %.17g", s->n, sd.f,
			 sqrt(ss / (double)(s->n - 1)));
}

static void check_kept(struct mg_acc *a, const struct sample *s, uint64_t *seed, bool minmax)
{
	double sorted[RN_MAX];
	size_t n = s->n;
	sorted_copy(s, sorted);
	double med = n % 2 ? sorted[n / 2]
			   : sorted[n / 2 - 1] + (sorted[n / 2] - sorted[n / 2 - 1]) / 2;
	check_num(mg_acc_result(a, MG_AGG_MEDIAN, 0), false, med, "median", n);
	check_num(mg_acc_result(a, MG_AGG_MODE, 0), s->ints, naive_mode(sorted, n), "mode", n);
	if (minmax)
		check_num(mg_acc_result(a, MG_AGG_SPREAD, 0), s->ints, sorted[n - 1] - sorted[0],
			  "spread", n);
	const double pcts[] = {0, 1, 5, 25, 29, 33.3, 50, 57, 75, 90, 95, 99, 99.9, 100,
			       (double)(cm_splitmix64(seed) % 10001) / 100};
	for (size_t k = 0; k < CM_ARRAY_SIZE(pcts); k++) {
		double rank = floor((double)n * pcts[k] / 100.0 + 0.5);
		struct mg_num r = mg_acc_result(a, MG_AGG_PERCENTILE, pcts[k]);
		if (rank < 1)
			ASSERT_NONE(r);
		else
			check_num(r, s->ints, sorted[(size_t)rank - 1], "percentile", n);
	}
}

static void test_mg_agg__random_accumulators_vs_naive(void **state)
{
	(void)state;
	uint64_t seed = 0x5eedf00dULL;
	struct sample *s = malloc(sizeof(*s));
	assert_non_null(s);
	struct mg_acc a;
	mg_acc_init(&a);
	for (int round = 0; round < 1000; round++) {
		size_t n = round % 50 == 0 ? RN_MAX : cm_splitmix64(&seed) % 65;
		sample_make(s, &seed, n);
		mg_acc_reset(&a);
		for (size_t i = 0; i < n; i++) {
			if (s->ints)
				mg_acc_add_i64(&a, s->ts[i], s->iv[i], true);
			else
				mg_acc_add_f64(&a, s->ts[i], s->fv[i], true);
		}
		if (n == 0) {
			for (int fn = 0; fn < MG_AGG__COUNT; fn++)
				ASSERT_NONE(mg_acc_result(&a, (enum mg_agg_fn)fn, 50));
			continue;
		}
		check_sums(&a, s);
		check_selectors(&a, s);
		check_kept(&a, s, &seed, true);
		assert_false(a.oom);
	}
	mg_acc_release(&a);
	free(s);
}

/*
 * A sample as 1 to 3 series (returned): series k holds a random ascending
 * subset of 80 shared times, points [start[k], start[k + 1]); bits are the
 * values as stored.
 */
static uint32_t sample_series(struct sample *s, uint64_t *seed, uint64_t *bits, size_t *start)
{
	sample_make(s, seed, RN_MAX);
	uint32_t nser = 1 + (uint32_t)(cm_splitmix64(seed) % 3);
	size_t n = 0;
	for (uint32_t k = 0; k < nser; k++) {
		start[k] = n;
		for (int64_t t = 0; t < 80 && n < RN_MAX; t++)
			if (cm_splitmix64(seed) % 3 == 0)
				s->ts[n++] = T0 + t * SEC;
	}
	start[nser] = n;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		if (s->ints)
			bits[i] = (uint64_t)s->iv[i];
		else
			memcpy(&bits[i], &s->fv[i], sizeof(bits[i]));
	}
	return nser;
}

/* What a block chunk's summary says of points [i, j) of s (the storage's rules). */
static struct mg_run_sum naive_summary(const struct sample *s, const uint64_t *bits, size_t i,
				       size_t j)
{
	struct mg_run_sum u = {.n = j - i, .t_first = s->ts[i], .t_last = s->ts[j - 1],
			       .first = bits[i], .last = bits[j - 1], .min = bits[i],
			       .max = bits[i]};
	__extension__ __int128 exact = 0;
	for (size_t k = i; k < j; k++) {
		exact += s->ints ? s->iv[k] : 0;
		u.fsum += s->ints ? 0 : s->fv[k];
	}
	size_t mn = i, mx = i; /* the first of equal values */
	for (size_t k = i + 1; k < j; k++) {
		mn = sample_f(s, k) < sample_f(s, mn) ? k : mn;
		mx = sample_f(s, k) > sample_f(s, mx) ? k : mx;
	}
	u.min = bits[mn];
	u.max = bits[mx];
	if (s->ints) {
		u.isum = (int64_t)(uint64_t)exact;
		u.fsum = (double)exact;
	}
	return u;
}

/*
 * Feed series [start[k], start[k + 1]) of s to a, each cut into runs of 1
 * to 9 points at random: mg_acc_add_run with flags, or when sums, every
 * other run at random as its summary (mg_acc_add_sum).
 */
static void feed_cut(struct mg_acc *a, const struct sample *s, const uint64_t *bits,
		     const size_t *start, uint32_t nser, uint64_t *seed, unsigned flags, bool sums)
{
	enum mg_run_kind vk = s->ints ? MG_RUN_I64 : MG_RUN_F64;
	for (uint32_t k = 0; k < nser; k++)
		for (size_t i = start[k], j; i < start[k + 1]; i = j) {
			j = i + 1 + (size_t)(cm_splitmix64(seed) % 9);
			if (j > start[k + 1])
				j = start[k + 1];
			if (sums && cm_splitmix64(seed) % 2) {
				struct mg_run_sum u = naive_summary(s, bits, i, j);
				mg_acc_add_sum(a, &u, vk);
			} else {
				mg_acc_add_run(a, s->ts + i, bits + i, j - i, vk, flags);
			}
		}
}

/*
 * mg_acc_add_run, the executor's scan path, against the same naive model:
 * up to 3 series of ascending unique times (shared, so equal times and
 * equal values across series are common), each fed as runs cut at random.
 */
static void test_mg_agg__random_runs_vs_naive(void **state)
{
	(void)state;
	uint64_t seed = 0x7275e5ULL;
	struct sample *s = malloc(sizeof(*s));
	assert_non_null(s);
	uint64_t bits[RN_MAX];
	struct mg_acc a;
	mg_acc_init(&a);
	for (int round = 0; round < 1000; round++) {
		size_t start[4];
		uint32_t nser = sample_series(s, &seed, bits, start);
		size_t n = s->n;
		mg_acc_reset(&a);
		/* every other round without min/max: the summing loop */
		unsigned flags = MG_RUN_KEEP | MG_RUN_M2 | (round % 2 ? 0u : MG_RUN_MINMAX);
		feed_cut(&a, s, bits, start, nser, &seed, flags, false);
		if (n == 0)
			continue;
		check_sums(&a, s);
		if (flags & MG_RUN_MINMAX)
			check_selectors(&a, s);
		check_kept(&a, s, &seed, flags & MG_RUN_MINMAX);
	}
	mg_acc_release(&a);
	free(s);
}

/*
 * mg_acc_add_sum, the executor's path for block chunks inside a bucket,
 * mixed with mg_acc_add_run as the executor mixes them: count, sum, mean,
 * spread, the values of min and max, first and last with their times
 * against the naive model (float sums within 1e-9: a summary's sum is
 * added as one). min and max times are not checked: a summary has none.
 */
static void test_mg_agg__random_summaries_vs_naive(void **state)
{
	(void)state;
	uint64_t seed = 0x5a3aULL;
	struct sample *s = malloc(sizeof(*s));
	assert_non_null(s);
	uint64_t bits[RN_MAX];
	struct mg_acc a;
	mg_acc_init(&a);
	for (int round = 0; round < 1000; round++) {
		size_t start[4];
		uint32_t nser = sample_series(s, &seed, bits, start);
		size_t n = s->n;
		if (n == 0)
			continue;
		mg_acc_reset(&a);
		feed_cut(&a, s, bits, start, nser, &seed, MG_RUN_MINMAX, true);
		int64_t isum = 0;
		double fsum = 0;
		for (size_t i = 0; i < n; i++) {
			isum += s->iv[i];
			fsum += s->fv[i];
		}
		ASSERT_I(mg_acc_result(&a, MG_AGG_COUNT, 0), n);
		struct mg_num sum = mg_acc_result(&a, MG_AGG_SUM, 0);
		struct mg_num mean = mg_acc_result(&a, MG_AGG_MEAN, 0);
		if (s->ints) {
			check_num(sum, true, (double)isum, "sum", n);
			check_num(mean, false, (double)isum / (double)n, "mean", n);
		} else if (!sum.valid || sum.is_int || !near(sum.f, fsum) || !mean.valid ||
			   !near(mean.f, fsum / (double)n)) {
			fail_msg("sum over %zu: got %.17g want %.17g", n, sum.f, fsum);
		}
		const enum mg_agg_fn sel[] = {MG_AGG_MIN, MG_AGG_MAX, MG_AGG_FIRST, MG_AGG_LAST};
		for (size_t k = 0; k < CM_ARRAY_SIZE(sel); k++) {
			size_t j = naive_select(s, sel[k]);
			struct mg_num r = mg_acc_result(&a, sel[k], 0);
			check_num(r, s->ints, sample_f(s, j), mg_agg_name(sel[k]), n);
			if (sel[k] == MG_AGG_FIRST || sel[k] == MG_AGG_LAST)
				assert_int_equal(r.ts, s->ts[j]);
		}
		check_num(mg_acc_result(&a, MG_AGG_SPREAD, 0), s->ints,
			  sample_f(s, naive_select(s, MG_AGG_MAX)) -
				  sample_f(s, naive_select(s, MG_AGG_MIN)),
			  "spread", n);
	}
	mg_acc_release(&a);
	free(s);
}

/* The previous stream point of row i (derivative, difference), or -1. */
static ptrdiff_t naive_stream_prev(const struct col *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (c->in[j].valid && c->ts[j] == c->ts[i])
			return -2; /* row i repeats a time: no value */
	ptrdiff_t p = -1;
	for (size_t j = 0; j < i; j++)
		if (c->in[j].valid && (p < 0 || c->ts[j] != c->ts[p]))
			p = (ptrdiff_t)j; /* the first valid row of each time */
	return p;
}

static double naive_window_mean(const struct col *c, size_t i, int64_t w, bool *ok)
{
	double sum = 0;
	int64_t k = 0;
	for (size_t j = i + 1; j-- > 0 && k < w;)
		if (c->in[j].valid) {
			sum += c->in[j].is_int ? (double)c->in[j].i : c->in[j].f;
			k++;
		}
	*ok = k == w;
	return sum / (double)w;
}

static void make_col(struct col *c, uint64_t *seed, bool ints)
{
	c->n = cm_splitmix64(seed) % (XN + 1);
	int64_t t = T0;
	for (size_t i = 0; i < c->n; i++) {
		uint64_t r = cm_splitmix64(seed);
		t += (int64_t)(r % 3) * SEC; /* equal times now and then */
		c->ts[i] = t;
		int64_t v = (int64_t)((r >> 8) % 21) - 10;
		c->in[i] = (r >> 16) % 5 == 0 ? NUL : ints ? ni(v) : nf((double)v / 8);
	}
}

static double numf(const struct mg_num *v)
{
	return v->is_int ? (double)v->i : v->f;
}

/* difference, derivative and their non-negative forms against the stream model */
static void check_diff_deriv(struct col *c, uint64_t *seed, bool ints)
{
	int64_t unit = (int64_t)(cm_splitmix64(seed) % 3) * SEC; /* 0: the default */
	static const enum mg_xform_fn fns[] = {MG_XF_DIFFERENCE, MG_XF_NON_NEGATIVE_DIFFERENCE,
					       MG_XF_DERIVATIVE, MG_XF_NON_NEGATIVE_DERIVATIVE};
	for (size_t k = 0; k < CM_ARRAY_SIZE(fns); k++) {
		bool deriv = fns[k] == MG_XF_DERIVATIVE || fns[k] == MG_XF_NON_NEGATIVE_DERIVATIVE;
		bool nonneg = fns[k] == MG_XF_NON_NEGATIVE_DIFFERENCE ||
			      fns[k] == MG_XF_NON_NEGATIVE_DERIVATIVE;
		assert_int_equal(col_apply(c, fns[k], deriv ? unit : 0, 0), 0);
		for (size_t i = 0; i < c->n; i++) {
			ptrdiff_t p = c->in[i].valid ? naive_stream_prev(c, i) : -1;
			if (p < 0) {
				ASSERT_NONE(c->out[i]);
				continue;
			}
			double d = numf(&c->in[i]) - numf(&c->in[p]);
			double el = (double)(c->ts[i] - c->ts[p]) / (double)(unit ? unit : SEC);
			if (nonneg && d < 0)
				ASSERT_NONE(c->out[i]);
			else if (deriv)
				check_num(c->out[i], false, d / el, mg_xform_name(fns[k]), c->n);
			else
				check_num(c->out[i], ints, d, mg_xform_name(fns[k]), c->n);
		}
	}
}

static void check_ma_cumsum(struct col *c, uint64_t *seed, bool ints)
{
	int64_t w = (int64_t)(cm_splitmix64(seed) % 4) + 1;
	assert_int_equal(col_apply(c, MG_XF_MOVING_AVERAGE, 0, w), 0);
	for (size_t i = 0; i < c->n; i++) {
		bool ok = false;
		double want = c->in[i].valid ? naive_window_mean(c, i, w, &ok) : 0;
		if (!ok)
			ASSERT_NONE(c->out[i]);
		else if (!c->out[i].valid || c->out[i].is_int || !near(c->out[i].f, want))
			fail_msg("moving_average(%lld) row %zu: got %.17g want %.17g",
				 (long long)w, i, c->out[i].f, want);
	}
	assert_int_equal(col_apply(c, MG_XF_CUMULATIVE_SUM, 0, 0), 0);
	double sum = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->in[i].valid) {
			ASSERT_NONE(c->out[i]);
			continue;
		}
		sum += numf(&c->in[i]);
		check_num(c->out[i], ints, sum, "cumulative_sum", c->n);
	}
}

static void check_elapsed(struct col *c, uint64_t *seed)
{
	int64_t unit = (int64_t)(cm_splitmix64(seed) % 3) * SEC / 2; /* 0: nanoseconds */
	assert_int_equal(col_apply(c, MG_XF_ELAPSED, unit, 0), 0);
	ptrdiff_t p = -1;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->in[i].valid || p < 0)
			ASSERT_NONE(c->out[i]);
		else
			ASSERT_I(c->out[i], (c->ts[i] - c->ts[p]) / (unit ? unit : 1));
		if (c->in[i].valid)
			p = (ptrdiff_t)i;
	}
}

static void test_mg_agg__random_xforms_vs_naive(void **state)
{
	(void)state;
	uint64_t seed = 0xc0ffee11ULL;
	for (int round = 0; round < 1000; round++) {
		struct col c;
		bool ints = round % 2;
		make_col(&c, &seed, ints);
		check_diff_deriv(&c, &seed, ints);
		check_ma_cumsum(&c, &seed, ints);
		check_elapsed(&c, &seed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_agg__names),
		cmocka_unit_test(test_mg_agg__integers_keep_their_type),
		cmocka_unit_test(test_mg_agg__floats),
		cmocka_unit_test(test_mg_agg__empty_bucket_has_no_value),
		cmocka_unit_test(test_mg_agg__single_value),
		cmocka_unit_test(test_mg_agg__min_max_ties),
		cmocka_unit_test(test_mg_agg__first_last_ties),
		cmocka_unit_test(test_mg_agg__median),
		cmocka_unit_test(test_mg_agg__mode_smallest_on_ties),
		cmocka_unit_test(test_mg_agg__spread_and_stddev),
		cmocka_unit_test(test_mg_agg__percentile_edges),
		cmocka_unit_test(test_mg_agg__percentile_order_of_operations),
		cmocka_unit_test(test_mg_agg__mixed_types_are_float),
		cmocka_unit_test(test_mg_agg__large_integers),
		cmocka_unit_test(test_mg_agg__reset_keeps_memory_and_growth),
		cmocka_unit_test(test_mg_agg__oom_keeps_going),
		cmocka_unit_test(test_mg_agg__nan_orders_last),
		cmocka_unit_test(test_mg_agg__no_keep_no_kept_values),
		cmocka_unit_test(test_mg_agg__derivative),
		cmocka_unit_test(test_mg_agg__derivative_nulls_and_equal_times),
		cmocka_unit_test(test_mg_agg__difference),
		cmocka_unit_test(test_mg_agg__moving_average_windows),
		cmocka_unit_test(test_mg_agg__cumulative_sum),
		cmocka_unit_test(test_mg_agg__elapsed),
		cmocka_unit_test(test_mg_agg__xform_bad_arguments),
		cmocka_unit_test(test_mg_agg__random_accumulators_vs_naive),
		cmocka_unit_test(test_mg_agg__random_runs_vs_naive),
		cmocka_unit_test(test_mg_agg__random_summaries_vs_naive),
		cmocka_unit_test(test_mg_agg__random_xforms_vs_naive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
