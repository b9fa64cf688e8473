/*
 * test_an_quantile.c - exact quantiles against R type 7 closed forms and a
 * naive insertion-sort reference; the KLL sketch's rank error against exact
 * ranks of 1e5 seeded random values (adds, merge of two sketches, query),
 * its memory bound, and bad parameters.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_quantile.h"
#include "cm_rand.h"

static double unif(uint64_t *st)
{
	return (double)(cm_splitmix64(st) >> 11) * 0x1.0p-53;
}

/* R type 7 by the book, on an insertion-sorted copy. */
static double naive_q7(const double *x, size_t n, double p)
{
	double *s = malloc(n * sizeof(*s));
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && s[j - 1] > x[i]) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = x[i];
	}
	double h = (double)(n - 1) * p, fl = floor(h);
	size_t lo = (size_t)fl;
	double r = lo + 1 < n ? s[lo] + (h - fl) * (s[lo + 1] - s[lo]) : s[lo];
	free(s);
	return r;
}

static void test_an_quantile__type7_closed_forms(void **state)
{
	(void)state;
	/* 1..10 shuffled: R quantile(1:10, p) = 1 + 9p. */
	const double x[10] = { 7, 3, 10, 1, 5, 9, 2, 8, 6, 4 };
	const double p[5] = { 0, 0.25, 0.5, 0.9, 1 };
	double out[5], scratch[10];
	assert_int_equal(an_quantiles(x, 10, p, 5, scratch, out), 0);
	for (int i = 0; i < 5; i++)
		assert_true(fabs(out[i] - (1 + 9 * p[i])) < 1e-12);
	double med;
	assert_int_equal(an_median(x, 10, &med), 0);
	assert_true(med == 5.5);
	const double odd[5] = { 3, -1, 8, 2, 2 };
	assert_int_equal(an_median(odd, 5, &med), 0);
	assert_true(med == 2.0);
	assert_int_equal(an_quantile(odd, 1, 0.3, &med), 0);
	assert_true(med == 3.0);
}

static void test_an_quantile__exact_matches_naive(void **state)
{
	(void)state;
	uint64_t st = 42;
	double x[257];
	for (int i = 0; i < 257; i++)
		x[i] = floor(unif(&st) * 50) - 25; /* ties */
	for (double p = 0; p <= 1.0; p += 0.0625) {
		double q;
		assert_int_equal(an_quantile(x, 257, p, &q), 0);
		assert_true(fabs(q - naive_q7(x, 257, p)) < 1e-12);
	}
}

static void test_an_quantile__bad_input(void **state)
{
	(void)state;
	double x[3] = { 1, NAN, 2 }, q;
	assert_int_equal(an_quantile(x, 3, 0.5, &q), -EINVAL);
	assert_int_equal(an_quantile(x, 0, 0.5, &q), -EINVAL);
	assert_int_equal(an_quantile(x, 1, 1.5, &q), -EINVAL);
	assert_int_equal(an_quantile(x, 1, NAN, &q), -EINVAL);
	struct an_kll *s;
	assert_int_equal(an_kll_create(3, 1, &s), -EINVAL);
	assert_int_equal(an_kll_create(0, 1, &s), 0);
	double p = 0.5;
	assert_int_equal(an_kll_quantiles(s, &p, 1, &q), -EINVAL); /* empty */
	assert_int_equal(an_kll_add(s, NAN), -EINVAL);
	assert_int_equal(an_kll_count(s), 0);
	assert_int_equal(an_kll_merge(s, s), -EINVAL);
	struct an_kll *o;
	assert_int_equal(an_kll_create(100, 1, &o), 0);
	assert_int_equal(an_kll_merge(s, o), -EINVAL); /* different k */
	an_kll_destroy(o);
	an_kll_destroy(s);
	an_kll_destroy(NULL);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Largest |rank(answer)/n - p| over p = 0.01, 0.05, 0.1..0.9, 0.95, 0.99. */
static double max_rank_error(const struct an_kll *s, const double *sorted, size_t n)
{
	const double p[13] = { 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99 };
	double q[13], worst = 0;
	assert_int_equal(an_kll_quantiles(s, p, 13, q), 0);
	for (int i = 0; i < 13; i++) {
		/* rank = number of values <= q (binary search). */
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (sorted[mid] <= q[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		double e = fabs((double)lo / (double)n - p[i]);
		if (e > worst)
			worst = e;
	}
	return worst;
}

static void test_an_quantile__kll_rank_error_add_merge(void **state)
{
	(void)state;
	enum { N = 100000 };
	double *x = malloc(N * sizeof(*x));
	assert_non_null(x);
	uint64_t st = 7;
	for (int i = 0; i < N; i++) /* skewed: exp of a uniform, plus sorted runs */
		x[i] = i % 10 == 0 ? (double)i : exp(8 * unif(&st));
	struct an_kll *all, *a, *b;
	assert_int_equal(an_kll_create(200, 11, &all), 0);
	assert_int_equal(an_kll_create(200, 12, &a), 0);
	assert_int_equal(an_kll_create(200, 13, &b), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(an_kll_add(all, x[i]), 0);
		assert_int_equal(an_kll_add(i < 40000 ? a : b, x[i]), 0);
	}
	assert_int_equal(an_kll_merge(a, b), 0);
	assert_int_equal(an_kll_count(a), N);
	assert_int_equal(an_kll_count(all), N);
	assert_true(an_kll_retained(all) < 3 * 200 + 8 * 20);
	assert_true(an_kll_retained(a) < 3 * 200 + 8 * 20);

	qsort(x, N, sizeof(*x), cmp_d);
	double e1 = max_rank_error(all, x, N), e2 = max_rank_error(a, x, N);
	assert_true(e1 < 0.02);
	assert_true(e2 < 0.02);
	double p01[2] = { 0, 1 }, mm[2];
	assert_int_equal(an_kll_quantiles(a, p01, 2, mm), 0);
	assert_true(mm[0] == x[0] && mm[1] == x[N - 1]);
	an_kll_destroy(all);
	an_kll_destroy(a);
	an_kll_destroy(b);
	free(x);
}

static void test_an_quantile__kll_small_stream_is_exact(void **state)
{
	(void)state;
	/* Below the first compaction every value is kept with weight 1. */
	struct an_kll *s;
	assert_int_equal(an_kll_create(200, 1, &s), 0);
	for (int i = 100; i >= 1; i--)
		assert_int_equal(an_kll_add(s, i), 0);
	double p[3] = { 0.1, 0.5, 0.905 }, q[3];
	assert_int_equal(an_kll_quantiles(s, p, 3, q), 0);
	assert_true(q[0] == 10 && q[1] == 50 && q[2] == 91);
	an_kll_destroy(s);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_quantile__type7_closed_forms),
		cmocka_unit_test(test_an_quantile__exact_matches_naive),
		cmocka_unit_test(test_an_quantile__bad_input),
		cmocka_unit_test(test_an_quantile__kll_rank_error_add_merge),
		cmocka_unit_test(test_an_quantile__kll_small_stream_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
