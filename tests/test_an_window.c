/*
 * test_an_window.c - rolling statistics against naive recomputation over
 * the trailing window on seeded random data (with ties), skipped positions
 * (gaps) against the same model, variance stability on a large offset over a
 * long stream, and edge cases.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "an_window.h"
#include "cm_rand.h"

static double unif(uint64_t *st)
{
	return (double)(cm_splitmix64(st) >> 11) * 0x1.0p-53;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double med_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Naive stat over x[lo..hi). */
static double naive(const double *x, size_t lo, size_t hi, enum an_window_stat st)
{
	size_t n = hi - lo;
	double v[64], s = 0, ss = 0, mn = INFINITY, mx = -INFINITY;
	assert_true(n <= 64);
	for (size_t i = lo; i < hi; i++) {
		s += x[i];
		mn = fmin(mn, x[i]);
		mx = fmax(mx, x[i]);
		v[i - lo] = x[i];
	}
	for (size_t i = lo; i < hi; i++)
		ss += (x[i] - s / n) * (x[i] - s / n);
	switch (st) {
	case AN_WIN_MEAN: return s / n;
	case AN_WIN_VARIANCE: return n < 2 ? NAN : ss / (n - 1);
	case AN_WIN_STDDEV: return n < 2 ? NAN : sqrt(ss / (n - 1));
	case AN_WIN_MIN: return mn;
	case AN_WIN_MAX: return mx;
	case AN_WIN_MEDIAN: return med_of(v, n);
	case AN_WIN_MAD: {
		double m = med_of(v, n);
		for (size_t i = 0; i < n; i++)
			v[i] = fabs(v[i] - m);
		return med_of(v, n);
	}
	}
	return NAN;
}

static void test_an_window__rolling_matches_naive(void **state)
{
	(void)state;
	enum { N = 2000 };
	static double x[N], out[N];
	uint64_t st = 99;
	for (int i = 0; i < N; i++) /* half the points on a coarse grid: ties */
		x[i] = i % 2 ? floor(unif(&st) * 8) : unif(&st) * 100 - 50 + (i / 500) * 1000;
	const size_t ws[] = { 1, 2, 7, 64 };
	for (size_t k = 0; k < 4; k++) {
		for (int st_i = AN_WIN_MEAN; st_i <= AN_WIN_MAD; st_i++) {
			assert_int_equal(an_rolling(x, N, ws[k], st_i, out), 0);
			for (size_t i = 0; i < N; i++) {
				size_t lo = i + 1 >= ws[k] ? i + 1 - ws[k] : 0;
				double ref = naive(x, lo, i + 1, st_i);
				if (isnan(ref)) {
					assert_true(isnan(out[i]));
					continue;
				}
				assert_true(fabs(out[i] - ref) <= 1e-9 * (1 + fabs(ref)));
			}
		}
	}
}

static void test_an_window__variance_stable_on_offset(void **state)
{
	(void)state;
	/* 1e9 + small noise over 200k pushes: sums of squares would lose it all. */
	enum { W = 100, N = 200000 };
	struct an_window *win;
	assert_int_equal(an_window_create(W, 0, &win), 0);
	double *d = malloc(N * sizeof(*d));
	assert_non_null(d);
	uint64_t st = 5;
	for (int i = 0; i < N; i++) {
		d[i] = unif(&st) - 0.5;
		assert_int_equal(an_window_push(win, 1e9 + d[i]), 0);
		double x = 1e9 + d[i];
		d[i] = x - 1e9; /* what was actually pushed, exactly */
	}
	double s = 0, ss = 0;
	for (int i = N - W; i < N; i++)
		s += d[i];
	for (int i = N - W; i < N; i++)
		ss += (d[i] - s / W) * (d[i] - s / W);
	assert_true(fabs(an_window_variance(win) - ss / (W - 1)) < 1e-6 * ss / (W - 1));
	assert_true(fabs(an_window_mean(win) - (1e9 + s / W)) < 1e-6);
	free(d);
	an_window_destroy(win);
}

/* Pushes and skips at random (runs of skips long enough to empty the window)
 * against the naive model over the values among the last w positions. */
static void test_an_window__skip_matches_naive(void **state)
{
	(void)state;
	enum { N = 4000 };
	static double x[N];
	static int gap[N];
	const size_t ws[] = { 1, 2, 7, 30 };
	uint64_t st = 11;
	for (size_t run = 0; run < 8; run++) {
		size_t w = ws[run % 4];
		double offset = run < 4 ? 0.0 : 1e6;
		for (size_t i = 0; i < N; i++) { /* ties; gaps, in bursts that empty the window */
			x[i] = floor(unif(&st) * 20.0) - 5.0 + offset;
			gap[i] = (i / 200) % 5 == 3 ? unif(&st) < 0.9 : unif(&st) < 0.2;
		}
		struct an_window *win;
		assert_int_equal(an_window_create(w, AN_WINDOW_ORDER, &win), 0);
		for (size_t i = 0; i < N; i++) {
			if (gap[i])
				an_window_skip(win);
			else
				assert_int_equal(an_window_push(win, x[i]), 0);
			double v[64];
			size_t k = 0;
			for (size_t j = i + 1 > w ? i + 1 - w : 0; j <= i; j++)
				if (!gap[j])
					v[k++] = x[j];
			assert_int_equal(an_window_count(win), k);
			if (k == 0) {
				assert_true(isnan(an_window_mean(win)) && isnan(an_window_min(win)) &&
					    isnan(an_window_max(win)) && isnan(an_window_median(win)));
				continue;
			}
			for (int s = AN_WIN_MEAN; s <= AN_WIN_MAD; s++) {
				double want = naive(v, 0, k, (enum an_window_stat)s), got;
				switch (s) {
				case AN_WIN_MEAN: got = an_window_mean(win); break;
				case AN_WIN_VARIANCE: got = an_window_variance(win); break;
				case AN_WIN_STDDEV: got = an_window_stddev(win); break;
				case AN_WIN_MIN: got = an_window_min(win); break;
				case AN_WIN_MAX: got = an_window_max(win); break;
				case AN_WIN_MEDIAN: got = an_window_median(win); break;
				default: got = an_window_mad(win); break;
				}
				if (isnan(want)) {
					assert_true(isnan(got));
					continue;
				}
				/* values near 1e6 have an ulp of 1.2e-10: the naive two-pass
				 * moments themselves are good to ~1e-9 there */
				if (fabs(got - want) > 1e-8 * (1.0 + fabs(want)))
					fail_msg("w %zu point %zu stat %d: %.17g want %.17g", w, i, s,
						 got, want);
			}
			const double *sorted = an_window_sorted(win);
			for (size_t j = 1; j < k; j++)
				assert_true(sorted[j - 1] <= sorted[j]);
		}
		an_window_destroy(win);
	}
}

static void test_an_window__edges(void **state)
{
	(void)state;
	struct an_window *win;
	assert_int_equal(an_window_create(0, 0, &win), -EINVAL);
	assert_int_equal(an_window_create(4, 0x80, &win), -EINVAL);
	assert_int_equal(an_window_create(4, 0, &win), 0);
	assert_true(isnan(an_window_mean(win)) && isnan(an_window_min(win)));
	assert_true(isnan(an_window_median(win))); /* no AN_WINDOW_ORDER */
	assert_null(an_window_sorted(win));
	assert_int_equal(an_window_push(win, NAN), -EINVAL);
	assert_int_equal(an_window_push(win, INFINITY), -EINVAL);
	assert_int_equal(an_window_count(win), 0);
	assert_int_equal(an_window_push(win, 3), 0);
	assert_true(isnan(an_window_variance(win)) && an_window_mean(win) == 3);
	for (int i = 0; i < 10; i++)
		assert_int_equal(an_window_push(win, 7), 0); /* constant */
	assert_int_equal(an_window_count(win), 4);
	assert_true(an_window_variance(win) == 0 && an_window_min(win) == 7 && an_window_max(win) == 7);
	an_window_reset(win);
	assert_int_equal(an_window_count(win), 0);
	an_window_destroy(win);
	an_window_destroy(NULL);
	double x[3] = { 1, NAN, 3 }, out[3];
	assert_int_equal(an_rolling(x, 3, 2, AN_WIN_MEAN, out), -EINVAL);
	assert_int_equal(an_rolling(x, 1, 2, (enum an_window_stat)99, out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_window__rolling_matches_naive),
		cmocka_unit_test(test_an_window__skip_matches_naive),
		cmocka_unit_test(test_an_window__variance_stable_on_offset),
		cmocka_unit_test(test_an_window__edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
