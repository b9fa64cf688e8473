/*
 * test_an_theta.c - the Theta method against a by-hand recomputation of its
 * lines (closed-form regression, SES fitted by a brute-force alpha grid with
 * the exact least squares initial level), the drift on a noisy line, the
 * seasonal path on AirPassengers, and bad input.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_decomp.h"
#include "an_theta.h"
#include "cm_rand.h"
#include "tst_util.h"

static double ap[144];

/* AirPassengers into ap, or skip the calling test when the data set is
 * missing (the tests that do not read it run regardless). */
static void need_airpassengers(void)
{
	if (tst_airpassengers(ap) != 0)
		skip();
}

/* SES SSE for alpha and initial level l0 on x[0..n); final level out. */
static double ses_sse(const double *x, int n, double alpha, double l0, double *lend)
{
	double l = l0, sse = 0;
	for (int i = 0; i < n; i++) {
		double e = x[i] - l;
		sse += e * e;
		l += alpha * e;
	}
	*lend = l;
	return sse;
}

static void test_an_theta__hand_recomputation(void **state)
{
	(void)state;
	const double y[8] = { 3, 5, 4, 7, 6, 9, 8, 11 };
	int n = 8;
	/* theta line 0: least squares on t = 1..8 (closed form) */
	double st = 0, sy = 0, stt = 0, sty = 0;
	for (int i = 0; i < n; i++) {
		double t = i + 1;
		st += t, sy += y[i], stt += t * t, sty += t * y[i];
	}
	double b = (n * sty - st * sy) / (n * stt - st * st), a = (sy - b * st) / n;
	/* theta line 2 and its SES: the SSE is quadratic in l0 for a given
	 * alpha, so l0 is exact from three evaluations; alpha by grid. */
	double x[8], best = INFINITY, ba = 0, bl = 0, bsse = 0;
	for (int i = 0; i < n; i++)
		x[i] = 2 * y[i] - (a + b * (i + 1));
	for (double al = 1e-4; al <= 0.9999; al += 1e-4) {
		double le, f0 = ses_sse(x, n, al, 0, &le), f1 = ses_sse(x, n, al, 1, &le);
		double f2 = ses_sse(x, n, al, 2, &le);
		double c2 = (f2 - 2 * f1 + f0) / 2, c1 = f1 - f0 - c2;
		double l0 = -c1 / (2 * c2), sse = ses_sse(x, n, al, l0, &le);
		if (sse < best)
			best = sse, ba = al, bl = le, bsse = sse;
	}
	struct an_theta_model m;
	assert_int_equal(an_theta_fit(y, 8, &m), 0);
	assert_true(fabs(m.a - a) < 1e-9 && fabs(m.b - b) < 1e-9);
	assert_true(fabs(m.alpha - ba) < 2e-3);
	assert_true(fabs(m.level - bl) < 1e-3 * fabs(bl));
	assert_true(fabs(m.sigma2 - bsse / 4 / (n - 3)) < 1e-3 * m.sigma2);
	double mean[5], lo[5], up[5];
	struct an_forecast_out o = { mean, lo, up };
	assert_int_equal(an_theta_predict(&m, 5, 0.95, &o), 0);
	for (int h = 1; h <= 5; h++) {
		double f = 0.5 * (a + b * (n + h)) + 0.5 * bl;
		double half = 1.959964 * sqrt(bsse / 4 / (n - 3) * (1 + (h - 1) * ba * ba));
		assert_true(fabs(mean[h - 1] - f) < 1e-3 * fabs(f));
		assert_true(fabs(up[h - 1] - mean[h - 1] - half) < 2e-3 * half);
		assert_true(fabs(mean[h - 1] - lo[h - 1] - half) < 2e-3 * half);
	}
}

static void test_an_theta__line_drifts_at_half_slope(void **state)
{
	(void)state;
	double y[200], mean[20], lo[20], up[20];
	struct an_forecast_out o = { mean, lo, up };
	struct an_forecast_cfg cfg = { .period = 0, .h = 20 };
	uint64_t s = 3;
	for (int i = 0; i < 200; i++)
		y[i] = 10 + 0.5 * (i + 1) + 0.2 * cm_rand_gauss(&s);
	assert_int_equal(an_forecast_theta(y, 200, &cfg, &o), 0);
	/* SES with drift b / 2 from the trend line's level */
	assert_true(fabs(mean[0] - (10 + 0.5 * 201)) < 1);
	for (int h = 1; h < 20; h++) {
		assert_true(fabs(mean[h] - mean[h - 1] - 0.25) < 0.01);
		assert_true(up[h] - lo[h] > up[h - 1] - lo[h - 1]);
	}
}

static void test_an_theta__seasonal_airpassengers(void **state)
{
	(void)state;
	need_airpassengers();
	double mean[24], lo[24], up[24], m2[24], idx[12], adj[144];
	struct an_forecast_out o = { mean, lo, up }, o2 = { m2, NULL, NULL };
	struct an_forecast_cfg cfg = { .period = 12, .h = 24, .level = 0.8 };
	struct an_theta_model m;

	assert_int_equal(an_forecast_theta(ap, 144, &cfg, &o), 0);
	assert_true(mean[6] > 1.2 * mean[10]); /* July above November */
	/* = Theta on the adjusted series times the indices (M4's SIout) */
	assert_int_equal(an_decompose_mul(ap, 144, 12, idx), 0);
	for (int i = 0; i < 144; i++)
		adj[i] = ap[i] / idx[i % 12];
	assert_int_equal(an_theta_fit(adj, 144, &m), 0);
	assert_int_equal(an_theta_predict(&m, 24, 0.8, &o2), 0);
	for (int h = 0; h < 24; h++) {
		assert_true(fabs(mean[h] - m2[h] * idx[h % 12]) < 1e-9 * mean[h]);
		assert_true(lo[h] < mean[h] && mean[h] < up[h]);
	}
}

static void test_an_theta__bad_input(void **state)
{
	(void)state;
	double y[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, mean[3], lo[3], up[3];
	struct an_forecast_out o = { mean, lo, up }, no_bounds = { mean, NULL, NULL };
	struct an_forecast_cfg cfg = { .period = 0, .h = 3 };
	struct an_theta_model m;

	assert_int_equal(an_forecast_theta(y, 10, &cfg, &no_bounds), -EINVAL);
	cfg.level = NAN;
	assert_int_equal(an_forecast_theta(y, 10, &cfg, &o), -EINVAL);
	assert_int_equal(an_theta_predict(&(struct an_theta_model){ .n = 10 }, 3, NAN, &o),
			 -EINVAL);
	cfg.level = 0;
	assert_int_equal(an_theta_fit(y, 6, &m), -EINVAL);
	assert_int_equal(an_forecast_theta(y, 6, &cfg, &o), -EINVAL);
	assert_int_equal(an_forecast_theta(y, 7, &cfg, &o), 0);
	y[2] = NAN;
	assert_int_equal(an_forecast_theta(y, 10, &cfg, &o), -EINVAL);
	y[2] = 3;
	cfg.h = 0;
	assert_int_equal(an_forecast_theta(y, 10, &cfg, &o), -EINVAL);
	assert_int_equal(an_theta_predict(NULL, 3, 0.9, &o), -EINVAL);
	/* constant series: the constant */
	for (int i = 0; i < 10; i++)
		y[i] = 4;
	cfg.h = 3;
	assert_int_equal(an_forecast_theta(y, 10, &cfg, &o), 0);
	assert_true(fabs(mean[2] - 4) < 1e-6);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_theta__hand_recomputation),
		cmocka_unit_test(test_an_theta__line_drifts_at_half_slope),
		cmocka_unit_test(test_an_theta__seasonal_airpassengers),
		cmocka_unit_test(test_an_theta__bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
