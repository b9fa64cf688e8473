/*
 * test_an_changept.c - PELT against brute-force optimal partitioning (the
 * O(n^2) recursion over every admissible last change, same cost and penalty,
 * its own prefix sums) on random piecewise-constant series, both costs, with
 * minimum segments 1, 2 and 5; CUSUM's detection delay for a 2 sigma shift
 * and false-alarm rate on N(0,1) noise against Siegmund's approximations;
 * the detector wrappers, missing values and bad parameters.
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

#include "an_changept.h"
#include "cm_rand.h"

#define NB 400

static double unif(uint64_t *s)
{
	return (double)(cm_splitmix64(s) >> 11) * 0x1p-53;
}

/* Cost of a segment of m values whose squared deviations sum to ss. */
static double bf_cost(double m, double ss, int meanvar, double sigma, double vfloor)
{
	if (!meanvar)
		return ss / (sigma * sigma);
	double v = fmax(ss / m, vfloor);
	return m * (log(2 * M_PI * v) + 1);
}

/* Optimal partitioning: every tau in {0} u [m, t - m]; returns the count. */
static size_t brute_force(const double *y, size_t n, int meanvar, double sigma, double beta,
			  size_t m, size_t *cps)
{
	static double F[NB + 1], C[NB + 1][NB + 1];
	static size_t last[NB + 1];
	double mean = 0, var = 0;
	for (size_t i = 0; i < n; i++)
		mean += y[i] / (double)n;
	for (size_t i = 0; i < n; i++)
		var += (y[i] - mean) * (y[i] - mean) / (double)n;
	for (size_t a = 0; a < n; a++) { /* Welford over y[a..b) */
		double mu = 0, m2 = 0;
		for (size_t b = a + 1; b <= n; b++) {
			double d = y[b - 1] - mu;
			mu += d / (double)(b - a);
			m2 += d * (y[b - 1] - mu);
			C[a][b] = bf_cost((double)(b - a), m2, meanvar, sigma, 1e-10 * var);
		}
	}
	F[0] = -beta;
	for (size_t t = 1; t <= n; t++) {
		F[t] = INFINITY;
		for (size_t tau = 0; tau + m <= t; tau = tau ? tau + 1 : m) {
			double f = F[tau] + C[tau][t] + beta;
			if (f < F[t]) {
				F[t] = f;
				last[t] = tau;
			}
		}
	}
	size_t k = 0, tmp[NB];
	for (size_t t = last[n]; t > 0; t = last[t])
		tmp[k++] = t;
	for (size_t j = 0; j < k; j++)
		cps[j] = tmp[k - 1 - j];
	return k;
}

/* Piecewise constant: segments of 5..80 points, random means (and sds). */
static void piecewise(double *y, size_t n, uint64_t *s, int with_var)
{
	size_t i = 0;
	while (i < n) {
		size_t len = 5 + (size_t)(unif(s) * 76);
		double mu = 4 * cm_rand_gauss(s), sd = with_var ? 0.3 + 3 * unif(s) : 1.0;
		for (size_t j = 0; j < len && i < n; j++)
			y[i++] = mu + sd * cm_rand_gauss(s);
	}
}

static void test_an_changept__pelt_matches_optimal_partitioning(void **state)
{
	(void)state;
	static double y[NB];
	size_t want[NB], got[NB], ng, total = 0;
	uint64_t s = 1;
	for (int trial = 0; trial < 12; trial++) {
		int meanvar = trial % 2;
		size_t m = (size_t[]){ 1, 2, 5 }[trial % 3];
		if (meanvar && m == 1)
			m = 2;
		size_t n = 100 + (size_t)(unif(&s) * 300);
		piecewise(y, n, &s, meanvar);
		/* the BIC penalty, and a small one that finds many changes */
		for (int pk = 0; pk < 2; pk++) {
			double beta = pk ? 3.0 : (meanvar ? 3 : 2) * log((double)n);
			struct an_pelt_cfg c = { .cost = meanvar ? AN_PELT_MEANVAR : AN_PELT_MEAN,
						 .minseg = m, .sigma = 1.0,
						 .penalty = pk ? beta : 0.0 };
			size_t nw = brute_force(y, n, meanvar, 1.0, beta, m, want);
			assert_int_equal(an_pelt(y, n, &c, got, &ng, NB), 0);
			if (ng != nw || memcmp(got, want, nw * sizeof(*got)))
				fail_msg("trial %d pk %d: %zu change points, want %zu", trial, pk,
					 ng, nw);
			total += nw;
		}
	}
	assert_true(total > 100);
}

static void test_an_changept__pelt_step_nan_and_space(void **state)
{
	(void)state;
	double x[300];
	size_t cps[4], n;
	uint64_t s = 2;
	for (int i = 0; i < 300; i++)
		x[i] = (i >= 100) * 3.0 + (i >= 200) * -6.0 + 0.5 * cm_rand_gauss(&s);
	x[100] = NAN; /* the new segment's first finite point is 101 */
	x[50] = INFINITY;
	assert_int_equal(an_pelt(x, 300, NULL, cps, &n, 4), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cps[0], 101);
	assert_int_equal(cps[1], 200);
	assert_int_equal(an_pelt(x, 300, NULL, cps, &n, 1), -ENOSPC);
	assert_int_equal(n, 2);
	assert_int_equal(cps[0], 101);
	for (int i = 0; i < 300; i++)
		x[i] = 7.0;
	assert_int_equal(an_pelt(x, 300, NULL, cps, &n, 4), 0);
	assert_int_equal(n, 0);
	struct an_pelt_cfg mv = { .cost = AN_PELT_MEANVAR };
	assert_int_equal(an_pelt(x, 300, &mv, cps, &n, 4), 0);
	assert_int_equal(n, 0);
	assert_int_equal(an_pelt(x, 0, NULL, cps, &n, 4), 0);
	assert_int_equal(n, 0);
	const struct an_pelt_cfg bad[] = {
		{ .cost = 7 }, { .penalty = -1 }, { .mult = NAN }, { .sigma = -1 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		assert_int_equal(an_pelt(x, 300, &bad[k], cps, &n, 4), -EINVAL);
	assert_int_equal(an_pelt(x, 300, NULL, cps, NULL, 4), -EINVAL);
	assert_int_equal(an_pelt(x, 300, NULL, NULL, &n, 4), -EINVAL);
}

static void test_an_changept__detect_pelt(void **state)
{
	(void)state;
	double x[400], score[400];
	uint8_t flag[400];
	uint64_t s = 3;
	for (int i = 0; i < 400; i++)
		x[i] = (i >= 150) * 4.0 + cm_rand_gauss(&s);
	assert_int_equal(an_detect_pelt(x, 400, NULL, score, flag), 0);
	for (int i = 0; i < 400; i++) {
		assert_int_equal(flag[i], i == 150);
		if (i != 150)
			assert_true(score[i] == 0.0);
	}
	assert_true(score[150] > 0.9); /* a 4 sigma shift: 16 / 17 */
	struct an_detect_cfg bad = { .window = 1 };
	assert_int_equal(an_detect_pelt(x, 400, &bad, score, flag), -EINVAL);
}

/* Delay of the first alarm after a +2 sigma shift at point 100 (mu, sigma
 * from the 100 points before it). Siegmund: ARL1 ~ 3.9 at k = 0.5, h = 5. */
static void test_an_changept__cusum_delay(void **state)
{
	(void)state;
	double x[200], score[200];
	uint8_t flag[200];
	uint64_t s = 4;
	struct an_detect_cfg c = { .window = 100 };
	double sum = 0;
	for (int trial = 0; trial < 200; trial++) {
		for (int i = 0; i < 200; i++)
			x[i] = cm_rand_gauss(&s) + (i >= 100 ? 2.0 : 0.0);
		assert_int_equal(an_detect_cusum(x, 200, &c, score, flag), 0);
		int d = 0;
		while (100 + d < 200 && !flag[100 + d])
			d++;
		assert_true(d < 20);
		assert_true(score[100 + d] > 0.5);
		sum += d + 1; /* run length: the shifted points seen */
	}
	print_message("mean run length %.2f (Siegmund 3.9)\n", sum / 200);
	assert_true(sum / 200 > 3.0 && sum / 200 < 5.5);
}

/* False alarms on N(0,1): one per ~469 monitored points with known mu, sigma
 * (two-sided ARL0, Siegmund); 500-point warm-ups make the estimates close. */
static void test_an_changept__cusum_false_alarm_rate(void **state)
{
	(void)state;
	static double x[10000], score[10000];
	static uint8_t flag[10000];
	uint64_t s = 5;
	size_t alarms = 0, monitored = 0;
	struct an_detect_cfg c = { .window = 500 };
	for (int rep = 0; rep < 5; rep++) {
		for (int i = 0; i < 10000; i++)
			x[i] = cm_rand_gauss(&s);
		assert_int_equal(an_detect_cusum(x, 10000, &c, score, flag), 0);
		size_t warm = 500;
		for (int i = 0; i < 10000; i++) {
			if (warm) {
				warm--;
				assert_true(score[i] == 0.0 && !flag[i]);
				continue;
			}
			monitored++;
			if (flag[i]) {
				alarms++;
				warm = 500;
			}
		}
	}
	double arl = (double)monitored / (double)(alarms ? alarms : 1);
	print_message("%zu alarms in %zu monitored points: ARL0 %.0f (469)\n", alarms,
		      monitored, arl);
	assert_true(arl > 469 / 2.0 && arl < 469 * 2.0);
	/* the default test at h = 5 is the decision level: score 0.5 */
	c.sensitivity = 0.99;
	size_t more = 0;
	assert_int_equal(an_detect_cusum(x, 10000, &c, score, flag), 0);
	for (int i = 0; i < 10000; i++)
		more += flag[i];
	assert_true(more > alarms / 5);
}

static void test_an_changept__cusum_constant_nan_bad(void **state)
{
	(void)state;
	double x[100], score[100];
	uint8_t flag[100];
	for (int i = 0; i < 100; i++)
		x[i] = i % 10 == 3 ? NAN : 2.0;
	x[80] = 2.5;
	assert_int_equal(an_detect_cusum(x, 100, NULL, score, flag), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(flag[i], i == 80);
		assert_true(score[i] == (i == 80 ? 1.0 : 0.0));
	}
	assert_int_equal(an_detect_cusum(NULL, 0, NULL, NULL, NULL), 0);
	const struct an_detect_cfg bad[] = {
		{ .window = 1 }, { .threshold = -2 }, { .sensitivity = 3 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		assert_int_equal(an_detect_cusum(x, 100, &bad[k], score, flag), -EINVAL);
	assert_int_equal(an_detect_cusum(x, 100, NULL, NULL, flag), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_changept__pelt_matches_optimal_partitioning),
		cmocka_unit_test(test_an_changept__pelt_step_nan_and_space),
		cmocka_unit_test(test_an_changept__detect_pelt),
		cmocka_unit_test(test_an_changept__cusum_delay),
		cmocka_unit_test(test_an_changept__cusum_false_alarm_rate),
		cmocka_unit_test(test_an_changept__cusum_constant_nan_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
