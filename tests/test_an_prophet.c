/*
 * test_an_prophet.c - the Prophet-style model on planted structure: a trend
 * whose slope changes mid-series, a sinusoid, holiday bumps (in-sample and
 * future), the coverage of its intervals over simulated futures, and the
 * edge cases (constant, bad parameters, determinism). References are the
 * generating formulas, never the model's own output.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_prophet.h"
#include "cm_rand.h"

static void check_close(double a, double b, double tol)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%.10g != %.10g (tol %g)", a, b, tol);
}

/* Slope 0.05 then -0.03 from t = 250, daily sinusoid, noise sd 0.3. */
static double planted_trend(size_t t)
{
	double g = t < 250 ? 0.05 * (double)t : 12.5 - 0.03 * (double)(t - 250);
	return 20 + g + 2 * sin(2 * M_PI * (double)t / 24);
}

static void test_an_prophet__recovers_trend_change(void **state)
{
	(void)state;
	enum { N = 500, H = 48 };
	double y[N], m[H], l[H], u[H];
	uint64_t seed = 7;
	for (size_t t = 0; t < N; t++)
		y[t] = planted_trend(t) + 0.3 * cm_rand_gauss(&seed);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	struct an_prophet_cfg pc;
	struct an_prophet_fit fit;
	an_prophet_cfg_init(&pc, 24);
	assert_int_equal(an_prophet_forecast(y, N, &c, &pc, &o, &fit), 0);
	check_close(fit.k, 0.05, 0.005);
	check_close(fit.final_rate, -0.03, 0.005);
	check_close(fit.sigma, 0.3, 0.05);
	for (size_t k = 0; k < H; k++) {
		check_close(m[k], planted_trend(N + k), 0.5);
		assert_true(l[k] < m[k] && m[k] < u[k]);
	}
}

static void test_an_prophet__recovers_sinusoid(void **state)
{
	(void)state;
	enum { N = 240, H = 24 };
	double y[N], m[H], l[H], u[H];
	for (size_t t = 0; t < N; t++)
		y[t] = 5 + 3 * sin(2 * M_PI * (double)t / 24 + 0.5) + cos(4 * M_PI * (double)t / 24);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.9 };
	struct an_forecast_out o = { m, l, u };
	assert_int_equal(an_forecast_prophet(y, N, &c, &o), 0);
	for (size_t k = 0; k < H; k++) {
		double t = (double)(N + k);
		check_close(m[k], 5 + 3 * sin(2 * M_PI * t / 24 + 0.5) + cos(4 * M_PI * t / 24), 0.05);
	}
}

/* +5 on the planted days; the future occurrence at 330 is forecast with it. */
static void test_an_prophet__holiday_effect(void **state)
{
	(void)state;
	enum { N = 320, H = 20 };
	static const size_t days[] = { 40, 95, 160, 230, 300, 330 };
	double y[N], m[H], l[H], u[H];
	uint64_t seed = 11;
	for (size_t t = 0; t < N; t++)
		y[t] = 10 + 0.2 * cm_rand_gauss(&seed);
	for (size_t i = 0; i < 5; i++) {
		y[days[i]] += 5;
		y[days[i] + 1] += 2;   /* the day after carries a smaller effect */
	}
	struct an_forecast_cfg c = { .period = 0, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	struct an_prophet_cfg pc;
	an_prophet_cfg_init(&pc, 0);
	pc.holiday[0] = (struct an_prophet_holiday){ days, 6, -1, 1, 0 };
	pc.nholiday = 1;
	assert_int_equal(an_prophet_forecast(y, N, &c, &pc, &o, NULL), 0);
	check_close(m[330 - N - 1], 10, 0.3);
	check_close(m[330 - N], 15, 0.3);
	check_close(m[330 - N + 1], 12, 0.3);
	check_close(m[330 - N + 3], 10, 0.3);
	/* Without the holiday the bump is not forecast. */
	pc.nholiday = 0;
	assert_int_equal(an_prophet_forecast(y, N, &c, &pc, &o, NULL), 0);
	check_close(m[330 - N], 10, 0.5);
}

/* Trend + season + N(0, 1) noise: the 90% bounds of 40 fits should hold about
 * 90% of the simulated future points. */
static void test_an_prophet__interval_coverage(void **state)
{
	(void)state;
	enum { N = 240, H = 24, REPS = 40 };
	double y[N + H], m[H], l[H], u[H];
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.9 };
	struct an_forecast_out o = { m, l, u };
	uint64_t seed = 2024;
	size_t in = 0;
	for (int r = 0; r < REPS; r++) {
		for (size_t t = 0; t < N + H; t++)
			y[t] = 50 + 0.02 * (double)t + 3 * sin(2 * M_PI * (double)t / 24) +
			       cm_rand_gauss(&seed);
		assert_int_equal(an_forecast_prophet(y, N, &c, &o), 0);
		for (size_t k = 0; k < H; k++)
			in += y[N + k] >= l[k] && y[N + k] <= u[k];
	}
	double cover = (double)in / (REPS * H);
	assert_true(cover > 0.84 && cover < 0.96);
}

static void test_an_prophet__constant_and_deterministic(void **state)
{
	(void)state;
	double y[100], m[10], l[10], u[10], m2[10], l2[10], u2[10];
	struct an_forecast_cfg c = { .period = 7, .h = 10, .level = 0.95 };
	struct an_forecast_out o = { m, l, u }, o2 = { m2, l2, u2 };
	for (int t = 0; t < 100; t++)
		y[t] = 4.25;
	assert_int_equal(an_forecast_prophet(y, 100, &c, &o), 0);
	for (int k = 0; k < 10; k++)
		assert_true(m[k] == 4.25 && l[k] == 4.25 && u[k] == 4.25);
	uint64_t seed = 3;
	for (int t = 0; t < 100; t++)
		y[t] = cm_rand_gauss(&seed) - 100;   /* all negative: max|y| scaling still works */
	assert_int_equal(an_forecast_prophet(y, 100, &c, &o), 0);
	assert_int_equal(an_forecast_prophet(y, 100, &c, &o2), 0);
	assert_memory_equal(m, m2, sizeof(m));
	assert_memory_equal(l, l2, sizeof(l));
	assert_memory_equal(u, u2, sizeof(u));
	for (int k = 0; k < 10; k++)
		check_close(m[k], -100, 2);
}

static void test_an_prophet__bad_parameters(void **state)
{
	(void)state;
	double y[50], m[5], l[5], u[5];
	for (int t = 0; t < 50; t++)
		y[t] = t;
	struct an_forecast_cfg c = { .period = 0, .h = 5, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	struct an_prophet_cfg pc;
	an_prophet_cfg_init(&pc, 0);
	assert_int_equal(an_prophet_forecast(y, 2, &c, &pc, &o, NULL), -EINVAL);
	assert_int_equal(an_prophet_forecast(NULL, 50, &c, &pc, &o, NULL), -EINVAL);
	assert_int_equal(an_prophet_forecast(y, 50, NULL, &pc, &o, NULL), -EINVAL);
	assert_int_equal(an_prophet_forecast(y, 50, &c, NULL, &o, NULL), -EINVAL);
	c.level = -1;
	assert_int_equal(an_prophet_forecast(y, 50, &c, &pc, &o, NULL), -EINVAL);
	c.level = 0.95;
	pc.seasonality[0] = (struct an_prophet_seasonality){ 0.5, 3, 0 };
	pc.nseasonality = 1;
	assert_int_equal(an_prophet_forecast(y, 50, &c, &pc, &o, NULL), -EINVAL);
	pc.nseasonality = 0;
	pc.holiday[0] = (struct an_prophet_holiday){ NULL, 3, 0, 0, 0 };
	pc.nholiday = 1;
	assert_int_equal(an_prophet_forecast(y, 50, &c, &pc, &o, NULL), -EINVAL);
	pc.nholiday = 0;
	y[10] = INFINITY;
	assert_int_equal(an_prophet_forecast(y, 50, &c, &pc, &o, NULL), -EINVAL);
	y[10] = 10;
	/* A straight line is extrapolated. */
	assert_int_equal(an_prophet_forecast(y, 50, &c, &pc, &o, NULL), 0);
	for (int k = 0; k < 5; k++)
		check_close(m[k], 50 + k, 0.05);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_prophet__recovers_trend_change),
		cmocka_unit_test(test_an_prophet__recovers_sinusoid),
		cmocka_unit_test(test_an_prophet__holiday_effect),
		cmocka_unit_test(test_an_prophet__interval_coverage),
		cmocka_unit_test(test_an_prophet__constant_and_deterministic),
		cmocka_unit_test(test_an_prophet__bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
