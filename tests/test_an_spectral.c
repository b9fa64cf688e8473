/*
 * test_an_spectral.c - ACF against the naive O(n * lag) sum, the
 * periodogram against a naive DFT and a pure sinusoid's closed form, dominant
 * periods of a two-tone signal, period detection on a noisy hourly series
 * with a daily cycle (24), on AirPassengers (12) and on white noise (0), and
 * a concurrent-callers run for the planner lock.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_spectral.h"
#include "cm_rand.h"
#include "tst_util.h"

#define AP_CSV SF_DATA_DIR "/airpassengers/AirPassengers.csv"

static double ap[144];
static int ap_loaded; /* else the AirPassengers test skips itself */

static void naive_acf(const double *x, size_t n, size_t maxlag, double *acf)
{
	double mean = 0, c0 = 0;
	for (size_t i = 0; i < n; i++)
		mean += x[i] / n;
	for (size_t i = 0; i < n; i++)
		c0 += (x[i] - mean) * (x[i] - mean);
	for (size_t k = 0; k <= maxlag; k++) {
		double c = 0;
		for (size_t t = 0; t + k < n; t++)
			c += (x[t] - mean) * (x[t + k] - mean);
		acf[k] = c / c0;
	}
}

static void test_an_spectral__acf_matches_naive(void **state)
{
	(void)state;
	static double x[1000], a[1000], r[1000];
	const size_t ns[] = { 1000, 777, 5 };
	uint64_t st = 3;
	for (size_t c = 0; c < 3; c++) {
		size_t n = ns[c], L = c == 2 ? n - 1 : 200;
		for (size_t i = 0; i < n; i++) /* AR(1) */
			x[i] = 100 + cm_rand_gauss(&st) + (i > 0 ? 0.6 * x[i - 1] - 60 : 0);
		assert_int_equal(an_acf(x, n, L, a), 0);
		naive_acf(x, n, L, r);
		for (size_t k = 0; k <= L; k++)
			assert_true(fabs(a[k] - r[k]) < 1e-10);
	}
	/* Constant: documented 1, 0, 0, ... */
	for (int i = 0; i < 10; i++)
		x[i] = 4.2;
	assert_int_equal(an_acf(x, 10, 3, a), 0);
	assert_true(a[0] == 1 && a[1] == 0 && a[3] == 0);
}

static void test_an_spectral__periodogram_sinusoid_and_naive_dft(void **state)
{
	(void)state;
	enum { N = 256 };
	double x[N], f[N / 2], p[N / 2];
	for (int t = 0; t < N; t++)
		x[t] = 5 + 2 * sin(2 * M_PI * 10 * t / N + 0.3);
	assert_int_equal(an_periodogram_len(N), N / 2);
	assert_int_equal(an_periodogram(x, N, f, p), 0);
	/* Amplitude A at an exact bin: |X_k| = A n / 2, power = A^2 n / 4. */
	for (int k = 1; k <= N / 2; k++) {
		assert_true(fabs(f[k - 1] - (double)k / N) < 1e-15);
		double want = k == 10 ? 4.0 * N / 4 : 0.0;
		assert_true(fabs(p[k - 1] - want) < 1e-9);
	}
	/* Odd n, random data: naive DFT of the centred series. */
	uint64_t st = 8;
	size_t n = 101;
	double mean = 0;
	for (size_t t = 0; t < n; t++) {
		x[t] = cm_rand_gauss(&st);
		mean += x[t] / n;
	}
	assert_int_equal(an_periodogram(x, n, NULL, p), 0);
	for (size_t k = 1; k <= n / 2; k++) {
		double re = 0, im = 0;
		for (size_t t = 0; t < n; t++) {
			re += (x[t] - mean) * cos(2 * M_PI * k * t / n);
			im -= (x[t] - mean) * sin(2 * M_PI * k * t / n);
		}
		assert_true(fabs(p[k - 1] - (re * re + im * im) / n) < 1e-9);
	}
}

static void test_an_spectral__dominant_periods_two_tones(void **state)
{
	(void)state;
	enum { N = 1000 };
	static double x[N];
	uint64_t st = 21;
	for (int t = 0; t < N; t++)
		x[t] = 3 * sin(2 * M_PI * t / 50) + 1.5 * cos(2 * M_PI * t / 20) +
		       0.3 * cm_rand_gauss(&st);
	struct an_period out[4];
	size_t nout;
	assert_int_equal(an_dominant_periods(x, N, 4, out, &nout), 0);
	assert_int_equal(nout, 4);
	assert_true(out[0].period == 50 && out[1].period == 20);
	assert_true(out[0].power > out[1].power && out[1].power > 10 * out[2].power);
	assert_true(out[0].acf > 0.5);
}

static void test_an_spectral__detects_daily_period_in_hourly(void **state)
{
	(void)state;
	enum { N = 24 * 30 };
	static double x[N];
	uint64_t st = 1234;
	for (int t = 0; t < N; t++) /* trend + daily cycle with a harmonic + noise */
		x[t] = 50 + 0.02 * t + 3 * sin(2 * M_PI * t / 24) + 1.5 * sin(4 * M_PI * t / 24 + 1) +
		       2 * cm_rand_gauss(&st);
	assert_int_equal(an_detect_period(x, N, 0), 24);
	assert_int_equal(an_detect_period(x, N, 200), 24);
	/* With 24 out of range, the harmonic at 12 has a negative ACF: none. */
	assert_int_equal(an_detect_period(x, N, 20), 0);
}

static void test_an_spectral__detects_12_in_airpassengers(void **state)
{
	(void)state;
	double x[144];
	size_t n = 144;
	if (!ap_loaded) {
		print_message("skip: %s missing (see /work/shared/data/README.md)\n", AP_CSV);
		skip();
	}
	memcpy(x, ap, sizeof(x));
	assert_int_equal(an_detect_period(x, n, 0), 12);
	for (size_t i = 0; i < n; i++)
		x[i] = log(x[i]);
	assert_int_equal(an_detect_period(x, n, 0), 12);
}

static void test_an_spectral__white_noise_has_no_period(void **state)
{
	(void)state;
	enum { N = 1000 };
	static double x[N];
	uint64_t st = 77;
	for (int seed = 0; seed < 20; seed++) {
		for (int t = 0; t < N; t++)
			x[t] = cm_rand_gauss(&st);
		assert_int_equal(an_detect_period(x, N, 0), 0);
	}
}

static void test_an_spectral__bad_input(void **state)
{
	(void)state;
	double x[16] = { 0 }, a[16];
	struct an_period per[2];
	size_t nout = 9;
	assert_int_equal(an_acf(x, 16, 16, a), -EINVAL);
	assert_int_equal(an_acf(x, 1, 0, a), -EINVAL);
	assert_int_equal(an_periodogram(x, 3, NULL, a), -EINVAL);
	assert_int_equal(an_dominant_periods(x, 16, 0, per, &nout), -EINVAL);
	assert_int_equal(an_dominant_periods(x, 16, 2, per, &nout), 0); /* constant */
	assert_int_equal(nout, 0);
	assert_int_equal(an_detect_period(x, 16, 0), 0);
	x[3] = NAN;
	assert_int_equal(an_acf(x, 16, 2, a), -EINVAL);
	assert_int_equal(an_periodogram(x, 16, NULL, a), -EINVAL);
	assert_int_equal(an_dominant_periods(x, 16, 2, per, &nout), -EINVAL);
	assert_int_equal(an_detect_period(x, 16, 0), 0);
	x[3] = INFINITY;
	assert_int_equal(an_acf(x, 16, 2, a), -EINVAL);
}

static void *acf_worker(void *arg)
{
	uint64_t st = (uint64_t)(uintptr_t)arg;
	double x[300], a[51], r[51];
	for (int it = 0; it < 50; it++) {
		for (int i = 0; i < 300; i++)
			x[i] = cm_rand_gauss(&st);
		if (an_acf(x, 300, 50, a))
			return (void *)1;
		naive_acf(x, 300, 50, r);
		for (int k = 0; k <= 50; k++)
			if (fabs(a[k] - r[k]) > 1e-10)
				return (void *)1;
	}
	return NULL;
}

static void test_an_spectral__concurrent_callers(void **state)
{
	(void)state;
	pthread_t th[4];
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, acf_worker, (void *)(i + 1)), 0);
	for (int i = 0; i < 4; i++) {
		void *ret;
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
}

int main(void)
{
	gsl_set_error_handler_off();
	ap_loaded = tst_airpassengers(ap) == 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_spectral__acf_matches_naive),
		cmocka_unit_test(test_an_spectral__periodogram_sinusoid_and_naive_dft),
		cmocka_unit_test(test_an_spectral__dominant_periods_two_tones),
		cmocka_unit_test(test_an_spectral__detects_daily_period_in_hourly),
		cmocka_unit_test(test_an_spectral__detects_12_in_airpassengers),
		cmocka_unit_test(test_an_spectral__white_noise_has_no_period),
		cmocka_unit_test(test_an_spectral__bad_input),
		cmocka_unit_test(test_an_spectral__concurrent_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
