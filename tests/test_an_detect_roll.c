/*
 * test_an_detect_roll.c - the rolling z-score, MAD and IQR detectors against
 * a naive model that recomputes every statistic from scratch per point
 * (qsort, two-pass moments, its own type-7 quantiles), on random data with
 * planted spikes, missing values, ties and a large offset; plus planted
 * spikes flagged, monotone sensitivity, zero spread and bad parameters.
 * The naive model keeps the deviation and the spread apart: the flag tests
 * dev / spread (inf for zero spread), the score dev / max(spread, res), res
 * being 0.1 (AN_RES_FRAC) times the smallest positive step between consecutive finite values so far.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "an_detect.h"
#include "cm_rand.h"

#define N 3000

enum method { M_Z, M_MAD, M_IQR };

static const double default_thr[] = { 3.0, 3.5, 1.5 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double q7(const double *s, size_t n, double p)
{
	double h = (double)(n - 1) * p;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return s[n - 1];
	return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

static double median_sorted(const double *s, size_t n)
{
	return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* The deviation of x from the values w[0..k), from scratch; *sp = spread. */
static double naive_dev(enum method m, double *w, size_t k, double x, double *sp)
{
	qsort(w, k, sizeof(*w), cmp_double);
	*sp = 0.0;
	if (m != M_IQR && w[0] == w[k - 1])
		return fabs(x - w[0]);
	if (m == M_Z) {
		double mean = 0, ss = 0;
		for (size_t j = 0; j < k; j++)
			mean += w[j];
		mean /= (double)k;
		for (size_t j = 0; j < k; j++)
			ss += (w[j] - mean) * (w[j] - mean);
		*sp = sqrt(ss / (double)(k - 1));
		return fabs(x - mean);
	}
	if (m == M_MAD) {
		double med = median_sorted(w, k), dev[N], mad, sad = 0;
		for (size_t j = 0; j < k; j++) {
			dev[j] = fabs(w[j] - med);
			sad += dev[j];
		}
		qsort(dev, k, sizeof(*dev), cmp_double);
		mad = 1.4826 * median_sorted(dev, k);
		if (mad == 0)
			mad = sqrt(M_PI / 2) * sad / (double)k;
		*sp = mad;
		return fabs(x - med);
	}
	double q1 = q7(w, k, 0.25), q3 = q7(w, k, 0.75);
	*sp = q3 - q1;
	return fmax(fmax(q1 - x, x - q3), 0);
}

static int run(enum method m, const double *x, size_t n, const struct an_detect_cfg *c,
	       double *score, uint8_t *flag)
{
	an_detect_fn f[] = { an_detect_zscore, an_detect_mad, an_detect_iqr };
	return f[m](x, n, c, score, flag);
}

/* Compare the detector with the naive model point by point. */
static void check_naive(enum method m, const double *x, size_t n, size_t win, double sens,
			double tol)
{
	static double score[N], w[N];
	static uint8_t flag[N];
	struct an_detect_cfg c = { .window = win, .sensitivity = sens };
	assert_int_equal(run(m, x, n, &c, score, flag), 0);
	double thr = default_thr[m], zf = thr * an_detect_sensitivity_scale(sens);
	size_t minh = win < 10 ? win : 10;
	double res = INFINITY, prev = NAN;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		if (isfinite(x[i])) {
			double st = 0.1 * fabs(x[i] - prev);
			if (st > 0 && st < res)
				res = st;
			prev = x[i];
		}
		for (size_t j = i > win ? i - win : 0; j < i; j++)
			if (isfinite(x[j]))
				w[k++] = x[j];
		if (!isfinite(x[i]) || k < minh) {
			assert_true(score[i] == 0.0 && flag[i] == 0);
			continue;
		}
		double sp, dev = naive_dev(m, w, k, x[i], &sp);
		double z = sp > 0 ? dev / sp : dev > 0 ? INFINITY : 0;
		double zs = dev > 0 ? dev / fmax(sp, res) : 0, r = zs / thr;
		double want = r * r / (1 + r * r);
		if (fabs(score[i] - want) > tol)
			fail_msg("win %zu sens %g method %d point %zu: score %.12g want %.12g (z %g)", win, sens, m, i,
				 score[i], want, z);
		if (fabs(z - zf) > 100 * tol * (1 + z))
			assert_int_equal(flag[i], z > zf);
	}
}

/* N(0,1) with spikes every 97 points, NaNs every 131, a level shift. */
static void make_series(double *x, size_t n, uint64_t seed, double offset, int round_to_int)
{
	uint64_t s = seed;
	for (size_t i = 0; i < n; i++) {
		x[i] = offset + cm_rand_gauss(&s) + (i > n / 2 ? 3.0 : 0.0);
		if (round_to_int)
			x[i] = round(x[i] * 0.4);
		if (i % 97 == 50)
			x[i] += (i % 2 ? 12.0 : -12.0);
		if (i % 131 == 7)
			x[i] = NAN;
	}
}

static void naive_all(enum method m)
{
	static double x[N];
	make_series(x, N, 1, 0.0, 0);
	check_naive(m, x, N, 60, 0.5, 1e-11);
	check_naive(m, x, N, 2, 0.5, 1e-11);
	check_naive(m, x, N, 17, 0.8, 1e-11);
	check_naive(m, x, N, 200, 0.2, 1e-11);
	/* cancellation in running sums; the values' own ulp (1.2e-7) limits
	 * what the naive model can say */
	make_series(x, N, 2, 1e9, 0);
	check_naive(m, x, N, 60, 0.5, 1e-6);
	make_series(x, N, 3, 0.0, 1); /* ties: MAD = 0, IQR = 0, constant windows */
	check_naive(m, x, N, 8, 0.5, 1e-11);
	check_naive(m, x, N, 60, 0.5, 1e-11);
}

static void test_an_detect_roll__zscore_matches_naive(void **state)
{
	(void)state;
	naive_all(M_Z);
}

static void test_an_detect_roll__mad_matches_naive(void **state)
{
	(void)state;
	naive_all(M_MAD);
}

static void test_an_detect_roll__iqr_matches_naive(void **state)
{
	(void)state;
	naive_all(M_IQR);
}

static void test_an_detect_roll__spikes_flagged(void **state)
{
	(void)state;
	static double x[N], score[N];
	static uint8_t flag[N];
	make_series(x, N, 4, 0.0, 0);
	for (int m = M_Z; m <= M_IQR; m++) {
		assert_int_equal(run(m, x, N, NULL, score, flag), 0);
		size_t spikes = 0, caught = 0, other = 0, fp = 0;
		for (size_t i = 60; i < N; i++) {
			if (!isfinite(x[i]) || (i > N / 2 && i < N / 2 + 60))
				continue; /* the level shift's own window */
			if (i % 97 == 50) {
				spikes++;
				caught += flag[i];
				assert_true(score[i] > 0.75); /* z > 1.7 thr */
			} else {
				other++;
				fp += flag[i];
			}
		}
		print_message("method %d: %zu/%zu spikes, %zu/%zu others flagged\n", m, caught,
			      spikes, fp, other);
		assert_int_equal(caught, spikes);
		/* < 2% of ordinary points (3% for IQR: Tukey's fences flag 0.7% of
		 * normal points with known quartiles, more with 60-point estimates) */
		assert_true(fp * (m == M_IQR ? 33 : 50) < other);
	}
}

static void test_an_detect_roll__sensitivity_monotone(void **state)
{
	(void)state;
	static double x[N], score[N];
	static uint8_t prev[N], flag[N];
	make_series(x, N, 5, 0.0, 0);
	for (int m = M_Z; m <= M_IQR; m++) {
		memset(prev, 0, sizeof(prev));
		size_t last = 0;
		for (double s = 0.05; s < 1.0; s += 0.15) {
			struct an_detect_cfg c = { .sensitivity = s };
			assert_int_equal(run(m, x, N, &c, score, flag), 0);
			size_t cnt = 0;
			for (size_t i = 0; i < N; i++) {
				cnt += flag[i];
				assert_true(flag[i] >= prev[i]); /* nested */
			}
			assert_true(cnt >= last);
			last = cnt;
			memcpy(prev, flag, sizeof(flag));
		}
		assert_true(last > 0);
	}
}

static void test_an_detect_roll__zero_spread(void **state)
{
	(void)state;
	double x[40], score[40];
	uint8_t flag[40];
	for (int i = 0; i < 40; i++)
		x[i] = 5.0;
	x[20] = 5.001; /* the resolution: 0.001 */
	x[35] = 5.003; /* 3 resolution steps off a constant window again */
	for (int m = M_Z; m <= M_IQR; m++) {
		struct an_detect_cfg c = { .window = 8 };
		assert_int_equal(run(m, x, 40, &c, score, flag), 0);
		for (int i = 0; i < 20; i++)
			assert_true(score[i] == 0.0 && flag[i] == 0);
		/* a differing value after a constant window is flagged, and its
		 * score grows with its distance in tenths of resolution steps */
		double thr = default_thr[m], r20 = 10.0 / thr, r35 = 30.0 / thr;
		assert_true(flag[20] == 1 && flag[35] == 1);
		assert_true(fabs(score[20] - r20 * r20 / (1 + r20 * r20)) < 1e-9);
		assert_true(fabs(score[35] - r35 * r35 / (1 + r35 * r35)) < 1e-9);
		assert_true(score[20] < score[35] && score[35] < 1.0);
	}
}

static void test_an_detect_roll__nan_and_empty(void **state)
{
	(void)state;
	double x[50], score[50];
	uint8_t flag[50];
	for (int i = 0; i < 50; i++)
		x[i] = i % 3 ? NAN : (double)(i % 7);
	x[49] = INFINITY;
	for (int m = M_Z; m <= M_IQR; m++) {
		assert_int_equal(run(m, x, 50, NULL, score, flag), 0);
		for (int i = 0; i < 50; i++)
			if (!isfinite(x[i]))
				assert_true(score[i] == 0.0 && flag[i] == 0);
		assert_int_equal(run(m, NULL, 0, NULL, NULL, NULL), 0);
		for (int i = 0; i < 50; i++)
			x[i] = NAN;
		assert_int_equal(run(m, x, 50, NULL, score, flag), 0);
		for (int i = 0; i < 50; i++)
			assert_true(score[i] == 0.0 && flag[i] == 0);
	}
}

static void test_an_detect_roll__bad_cfg(void **state)
{
	(void)state;
	double x[10] = { 0 }, score[10];
	uint8_t flag[10];
	const struct an_detect_cfg bad[] = {
		{ .window = 1 },
		{ .threshold = -1 },
		{ .threshold = NAN },
		{ .threshold = INFINITY },
		{ .sensitivity = 1.5 },
		{ .sensitivity = -0.1 },
	};
	for (int m = M_Z; m <= M_IQR; m++) {
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			assert_int_equal(run(m, x, 10, &bad[k], score, flag), -EINVAL);
		assert_int_equal(run(m, NULL, 10, NULL, score, flag), -EINVAL);
		assert_int_equal(run(m, x, 10, NULL, NULL, flag), -EINVAL);
		assert_int_equal(run(m, x, 10, NULL, score, NULL), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_detect_roll__zscore_matches_naive),
		cmocka_unit_test(test_an_detect_roll__mad_matches_naive),
		cmocka_unit_test(test_an_detect_roll__iqr_matches_naive),
		cmocka_unit_test(test_an_detect_roll__spikes_flagged),
		cmocka_unit_test(test_an_detect_roll__sensitivity_monotone),
		cmocka_unit_test(test_an_detect_roll__zero_spread),
		cmocka_unit_test(test_an_detect_roll__nan_and_empty),
		cmocka_unit_test(test_an_detect_roll__bad_cfg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
