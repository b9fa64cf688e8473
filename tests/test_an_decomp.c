/*
 * test_an_decomp.c - the M4 seasonality test and the classical multiplicative
 * decomposition against hand-computed indices, R's decompose() of
 * AirPassengers, and seeded white noise.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "an_decomp.h"
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

static void test_an_decomp__hand_example_even_period(void **state)
{
	(void)state;
	/* Period 2: trend by the 2x2 MA at i = 1..4 is 2.25, 3.25, 4.25, 5.25. */
	const double y[6] = { 1, 3, 2, 6, 3, 9 };
	double p0 = (2 / 3.25 + 3 / 5.25) / 2, p1 = (3 / 2.25 + 6 / 4.25) / 2;
	double m = (p0 + p1) / 2, idx[2];
	assert_int_equal(an_decompose_mul(y, 6, 2, idx), 0);
	assert_true(fabs(idx[0] - p0 / m) < 1e-12);
	assert_true(fabs(idx[1] - p1 / m) < 1e-12);
}

static void test_an_decomp__hand_example_odd_period(void **state)
{
	(void)state;
	/* Period 3, trend 2 everywhere: ratios 0.5, 1, 1.5 per position; the
	 * incomplete first/last windows must be skipped (positions 0 and 2 have
	 * two ratios each, position 1 three). */
	const double y[9] = { 1, 2, 3, 1, 2, 3, 1, 2, 3 };
	double idx[3];
	assert_int_equal(an_decompose_mul(y, 9, 3, idx), 0);
	assert_true(fabs(idx[0] - 0.5) < 1e-12);
	assert_true(fabs(idx[1] - 1.0) < 1e-12);
	assert_true(fabs(idx[2] - 1.5) < 1e-12);
}

static void test_an_decomp__airpassengers_matches_r(void **state)
{
	(void)state;
	need_airpassengers();
	/* R: decompose(AirPassengers, type = "multiplicative")$figure */
	const double r[12] = { 0.9102304, 0.8836253, 1.0073663, 0.9759060, 0.9813780, 1.1127758,
			       1.2265555, 1.2199110, 1.0604919, 0.9217572, 0.8011781, 0.8988244 };
	double idx[12];
	assert_int_equal(an_decompose_mul(ap, 144, 12, idx), 0);
	for (int j = 0; j < 12; j++)
		assert_true(fabs(idx[j] - r[j]) < 1e-6);
	assert_true(an_seasonality_test(ap, 144, 12));
}

static void test_an_decomp__white_noise_not_seasonal(void **state)
{
	(void)state;
	uint64_t s = 12345;
	double y[240];
	for (int i = 0; i < 240; i++)
		y[i] = 100 + cm_rand_gauss(&s);
	assert_false(an_seasonality_test(y, 240, 12));
	/* The same noise plus a clear period-12 wave is seasonal. */
	for (int i = 0; i < 240; i++)
		y[i] += 3 * sin(2 * M_PI * i / 12.0);
	assert_true(an_seasonality_test(y, 240, 12));
}

static void test_an_decomp__test_limit_by_hand(void **state)
{
	(void)state;
	/* Period 2 on n = 6 alternating values: r_1 = -5/6, r_2 = 4/6, limit
	 * 1.645 * sqrt((1 + 2 * 25/36) / 6) = 1.038 > 0.667: not seasonal. With
	 * n = 30 the limit drops to 0.509 and r_2 = 28/30 passes. */
	double y[30];
	for (int i = 0; i < 30; i++)
		y[i] = i % 2 ? 1 : -1;
	assert_false(an_seasonality_test(y, 6, 2));
	assert_true(an_seasonality_test(y, 30, 2));
}

static void test_an_decomp__bad_input(void **state)
{
	(void)state;
	double y[24], idx[12];
	for (int i = 0; i < 24; i++)
		y[i] = 5;
	assert_false(an_seasonality_test(y, 24, 12)); /* n < 3 * period */
	assert_false(an_seasonality_test(y, 24, 1));
	assert_false(an_seasonality_test(y, 24, 4));  /* constant */
	assert_false(an_seasonality_test(NULL, 24, 4));
	assert_int_equal(an_decompose_mul(y, 23, 12, idx), -EINVAL);
	assert_int_equal(an_decompose_mul(y, 24, 1, idx), -EINVAL);
	assert_int_equal(an_decompose_mul(y, 24, 12, idx), 0); /* constant: all 1 */
	for (int j = 0; j < 12; j++)
		assert_true(fabs(idx[j] - 1) < 1e-12);
	y[3] = 0;
	assert_int_equal(an_decompose_mul(y, 24, 12, idx), -EINVAL);
	y[3] = NAN;
	assert_int_equal(an_decompose_mul(y, 24, 12, idx), -EINVAL);
	assert_int_equal(an_decompose_mul(NULL, 24, 12, idx), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_decomp__hand_example_even_period),
		cmocka_unit_test(test_an_decomp__hand_example_odd_period),
		cmocka_unit_test(test_an_decomp__airpassengers_matches_r),
		cmocka_unit_test(test_an_decomp__white_noise_not_seasonal),
		cmocka_unit_test(test_an_decomp__test_limit_by_hand),
		cmocka_unit_test(test_an_decomp__bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
