/*
 * test_an_stats.c - streaming moments against two-pass reference values,
 * merging, and the EWMA recurrence.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "an_stats.h"

static void test_an_stats__moments_match_two_pass(void **state)
{
	(void)state;
	/* A large offset that naive sums of squares lose; the reference works on the
	 * small parts, exactly representable next to it. */
	double x[1000], d[1000];
	double sum = 0;
	for (int i = 0; i < 1000; i++) {
		d[i] = sin(i * 0.37) * 3.0 + (i % 7);
		x[i] = 1e9 + d[i];
		d[i] = x[i] - 1e9;
		sum += d[i];
	}
	double mean = 1e9 + sum / 1000, ss = 0;
	for (int i = 0; i < 1000; i++)
		ss += (d[i] - sum / 1000) * (d[i] - sum / 1000);
	struct an_moments m, a, b;
	an_moments_init(&m);
	an_moments_init(&a);
	an_moments_init(&b);
	for (int i = 0; i < 1000; i++) {
		an_moments_add(&m, x[i]);
		an_moments_add(i < 300 ? &a : &b, x[i]);
	}
	assert_int_equal(m.n, 1000);
	assert_true(fabs(m.mean - mean) < 1e-6);
	assert_true(fabs(an_moments_variance(&m) - ss / 999) < 1e-6);
	an_moments_merge(&a, &b);
	assert_int_equal(a.n, 1000);
	assert_true(fabs(a.mean - m.mean) < 1e-6);
	assert_true(fabs(an_moments_variance(&a) - an_moments_variance(&m)) < 1e-6);
	assert_true(a.min == m.min && a.max == m.max);
}

static void test_an_stats__variance_needs_two_values(void **state)
{
	(void)state;
	struct an_moments m;
	an_moments_init(&m);
	assert_true(isnan(an_moments_variance(&m)));
	an_moments_add(&m, 5);
	assert_true(isnan(an_moments_variance(&m)));
	an_moments_add(&m, 7);
	assert_true(an_moments_variance(&m) == 2.0);
}

static void test_an_stats__ewma(void **state)
{
	(void)state;
	struct an_ewma e;
	an_ewma_init(&e, 0.5);
	assert_true(an_ewma_add(&e, 10) == 10);
	assert_true(an_ewma_add(&e, 20) == 15);
	assert_true(an_ewma_add(&e, 15) == 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_stats__moments_match_two_pass),
		cmocka_unit_test(test_an_stats__variance_needs_two_values),
		cmocka_unit_test(test_an_stats__ewma),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
