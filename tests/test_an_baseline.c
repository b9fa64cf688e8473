/*
 * test_an_baseline.c - Naive, seasonal naive and Naive2 against values
 * computed by hand (forecast::naive/snaive's lagwalk intervals) and against
 * exactly multiplicative series whose adjusted forecast is known.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_forecast.h"
#include "cm_rand.h"

#define Z95 1.959963984540054

static void check_close(double a, double b, double tol)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%.10g != %.10g (tol %g)", a, b, tol);
}

static void test_an_baseline__naive_hand_values(void **state)
{
	(void)state;
	const double y[] = { 1, 3, 2, 5 };
	double m[3], l[3], u[3];
	struct an_forecast_cfg c = { .period = 0, .h = 3, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	assert_int_equal(an_forecast_naive(y, 4, &c, &o), 0);
	double sigma = sqrt((4.0 + 1 + 9) / 3);   /* residuals 2, -1, 3 */
	for (int k = 0; k < 3; k++) {
		check_close(m[k], 5, 0);
		check_close(l[k], 5 - Z95 * sigma * sqrt(k + 1.0), 1e-9);
		check_close(u[k], 5 + Z95 * sigma * sqrt(k + 1.0), 1e-9);
	}
	c.level = 0.8;   /* z = 1.2815515655446004 */
	assert_int_equal(an_forecast_naive(y, 4, &c, &o), 0);
	check_close(u[0], 5 + 1.2815515655446004 * sigma, 1e-9);
}

static void test_an_baseline__snaive_hand_values(void **state)
{
	(void)state;
	const double y[] = { 1, 2, 3, 2, 4, 5, 3, 5, 8 };
	const double want[] = { 3, 5, 8, 3, 5, 8, 3 };
	double m[7], l[7], u[7];
	struct an_forecast_cfg c = { .period = 3, .h = 7, .level = 0 };
	struct an_forecast_out o = { m, l, u };
	assert_int_equal(an_forecast_snaive(y, 9, &c, &o), 0);
	double sigma = sqrt(20.0 / 6);   /* lag-3 residuals 1 2 2 1 1 3 */
	for (int k = 0; k < 7; k++) {
		double se = sigma * sqrt(k / 3 + 1.0);
		check_close(m[k], want[k], 0);
		check_close(l[k], want[k] - Z95 * se, 1e-9);
		check_close(u[k], want[k] + Z95 * se, 1e-9);
	}
	/* Without a period it is naive. */
	c.period = 1;
	assert_int_equal(an_forecast_snaive(y, 9, &c, &o), 0);
	check_close(m[4], 8, 0);
	/* One period is not enough for a residual. */
	c.period = 9;
	assert_int_equal(an_forecast_snaive(y, 9, &c, &o), -EINVAL);
}

/* Exactly multiplicative series with a 10% level jump on the last point:
 * Naive2 carries the jump into every seasonal position, snaive does not. */
static void test_an_baseline__naive2_reseasonalises(void **state)
{
	(void)state;
	const double s[4] = { 0.5, 1.0, 1.5, 1.0 };
	double y[41];
	for (int t = 0; t < 41; t++)
		y[t] = 100 * s[t % 4];
	y[40] *= 1.1;
	double m[8], l[8], u[8];
	struct an_forecast_cfg c = { .period = 4, .h = 8, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	assert_int_equal(an_forecast_naive2(y, 41, &c, &o), 0);
	for (int k = 0; k < 8; k++) {
		check_close(m[k], 110 * s[(41 + k) % 4], 0.02 * 110 * s[(41 + k) % 4]);
		assert_true(l[k] <= m[k] && m[k] <= u[k]);
	}
	/* The pure periodic series forecasts itself with zero width. */
	y[40] = 100 * s[0];
	assert_int_equal(an_forecast_naive2(y, 41, &c, &o), 0);
	for (int k = 0; k < 8; k++) {
		check_close(m[k], 100 * s[(41 + k) % 4], 1e-9);
		check_close(u[k] - l[k], 0, 1e-9);
	}
}

/* Non-seasonal noise, and seasonal data with non-positive values: naive. */
static void test_an_baseline__naive2_falls_back_to_naive(void **state)
{
	(void)state;
	double y[60], m[5], l[5], u[5], m2[5], l2[5], u2[5];
	uint64_t seed = 42;
	for (int t = 0; t < 60; t++)
		y[t] = 50 + (double)(cm_splitmix64(&seed) >> 11) * 0x1p-53;
	struct an_forecast_cfg c = { .period = 4, .h = 5, .level = 0.9 };
	struct an_forecast_out o = { m, l, u }, o2 = { m2, l2, u2 };
	assert_int_equal(an_forecast_naive2(y, 60, &c, &o), 0);
	assert_int_equal(an_forecast_naive(y, 60, &c, &o2), 0);
	for (int k = 0; k < 5; k++)
		assert_true(m[k] == m2[k] && l[k] == l2[k] && u[k] == u2[k]);
	for (int t = 0; t < 60; t++)
		y[t] = 10 * sin(2 * M_PI * t / 4 + 0.3);   /* seasonal, signs mixed */
	assert_int_equal(an_forecast_naive2(y, 60, &c, &o), 0);
	assert_int_equal(an_forecast_naive(y, 60, &c, &o2), 0);
	for (int k = 0; k < 5; k++)
		assert_true(m[k] == m2[k] && u[k] == u2[k]);
}

static void test_an_baseline__bad_parameters(void **state)
{
	(void)state;
	double y[4] = { 1, 2, 3, 4 }, m[2], l[2], u[2];
	struct an_forecast_cfg c = { .period = 0, .h = 2, .level = 0.95 };
	struct an_forecast_out o = { m, l, u }, bad = { m, NULL, u };
	an_forecast_fn fns[] = { an_forecast_naive, an_forecast_snaive, an_forecast_naive2 };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fns[i](NULL, 4, &c, &o), -EINVAL);
		assert_int_equal(fns[i](y, 4, NULL, &o), -EINVAL);
		assert_int_equal(fns[i](y, 4, &c, &bad), -EINVAL);
		assert_int_equal(fns[i](y, 1, &c, &o), -EINVAL);
		assert_int_equal(fns[i](y, 0, &c, &o), -EINVAL);
		struct an_forecast_cfg c2 = c;
		c2.h = 0;
		assert_int_equal(fns[i](y, 4, &c2, &o), -EINVAL);
		c2 = c;
		c2.level = 1.5;
		assert_int_equal(fns[i](y, 4, &c2, &o), -EINVAL);
		y[2] = NAN;
		assert_int_equal(fns[i](y, 4, &c, &o), -EINVAL);
		y[2] = 3;
		assert_int_equal(fns[i](y, 4, &c, &o), 0);
	}
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_baseline__naive_hand_values),
		cmocka_unit_test(test_an_baseline__snaive_hand_values),
		cmocka_unit_test(test_an_baseline__naive2_reseasonalises),
		cmocka_unit_test(test_an_baseline__naive2_falls_back_to_naive),
		cmocka_unit_test(test_an_baseline__bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
