/*
 * test_an_iforest.c - the isolation forest against closed forms: c(n); three
 * 1-D points whose expected path lengths follow from the uniform split
 * (0, 1, 10: E[h] = 1.9, 2, 1.1); two distinct rows and all-equal rows
 * (s = 0.5 exactly); then outliers in a Gaussian cloud, the time-series
 * detector on planted spikes, determinism by seed, missing values and bad
 * parameters.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "an_iforest.h"
#include "cm_rand.h"

static void test_an_iforest__c(void **state)
{
	(void)state;
	assert_true(an_iforest_c(0) == 0.0 && an_iforest_c(1) == 0.0);
	assert_true(an_iforest_c(2) == 1.0);
	/* 2 (ln 255 + 0.5772156649) - 2 * 255 / 256, by hand */
	assert_true(fabs(an_iforest_c(256) - 10.244770920) < 1e-8);
	/* the approximation of 2 H(n - 1) - 2 (n - 1) / n with the exact H */
	double h = 0;
	for (int i = 1; i < 9999; i++)
		h += 1.0 / i;
	assert_true(fabs(an_iforest_c(9999) - (2 * h - 2.0 * 9998 / 9999)) < 2e-4);
}

static void test_an_iforest__three_points_closed_form(void **state)
{
	(void)state;
	/* split p ~ U(0, 10): p < 1 (0.1) isolates 0 at depth 1, else 10; the
	 * remaining pair splits at depth 2. E[h] = 1.9 (0), 2 (1), 1.1 (10). */
	const double rows[3] = { 0, 1, 10 }, eh[3] = { 1.9, 2.0, 1.1 };
	struct an_iforest_cfg c = { .ntrees = 40000, .seed = 7 };
	struct an_iforest *f;
	assert_int_equal(an_iforest_fit(rows, 3, 1, &c, &f), 0);
	double c3 = an_iforest_c(3);
	for (int i = 0; i < 3; i++) {
		double got = -log2(an_iforest_score(f, &rows[i])) * c3;
		if (fabs(got - eh[i]) > 0.01)
			fail_msg("point %d: E[h] %.4f want %.4f", i, got, eh[i]);
	}
	an_iforest_destroy(f);
}

static void test_an_iforest__indistinct_rows_score_half(void **state)
{
	(void)state;
	double two[4] = { 1, 5, 3, -2 }, same[300 * 2];
	struct an_iforest *f;
	assert_int_equal(an_iforest_fit(two, 2, 2, NULL, &f), 0);
	assert_true(fabs(an_iforest_score(f, two) - 0.5) < 1e-15);
	assert_true(fabs(an_iforest_score(f, two + 2) - 0.5) < 1e-15);
	an_iforest_destroy(f);
	for (int i = 0; i < 600; i++)
		same[i] = i % 2 ? 4.0 : -1.0;
	assert_int_equal(an_iforest_fit(same, 300, 2, NULL, &f), 0);
	assert_true(fabs(an_iforest_score(f, same) - 0.5) < 1e-15);
	an_iforest_destroy(f);
}

static void test_an_iforest__outliers_in_cloud(void **state)
{
	(void)state;
	static double rows[2000 * 2];
	uint64_t s = 3;
	for (int i = 0; i < 2000; i++) {
		rows[2 * i] = cm_rand_gauss(&s);
		rows[2 * i + 1] = cm_rand_gauss(&s);
	}
	for (int i = 0; i < 5; i++) {
		rows[2 * i] = 8.0 + i;
		rows[2 * i + 1] = -7.0;
	}
	struct an_iforest *f;
	assert_int_equal(an_iforest_fit(rows, 2000, 2, NULL, &f), 0);
	double min_out = 1, above = 0;
	for (int i = 0; i < 2000; i++) {
		double sc = an_iforest_score(f, rows + 2 * i);
		assert_true(sc > 0 && sc <= 1);
		if (i < 5)
			min_out = fmin(min_out, sc);
		else
			above += sc > 0.6;
	}
	print_message("outliers >= %.3f, %g inliers above 0.6\n", min_out, above);
	assert_true(min_out > 0.7);
	assert_true(above < 100); /* the cloud's own tail: 4% lie beyond 2.5 sd */
	an_iforest_destroy(f);
}

static void test_an_iforest__detector_spikes_and_seed(void **state)
{
	(void)state;
	static double x[5000], s1[5000], s2[5000], s3[5000];
	static uint8_t f1[5000], f2[5000], f3[5000];
	uint64_t s = 4;
	for (int i = 0; i < 5000; i++) {
		x[i] = 5.0 * sin(i * 0.05) + 0.3 * cm_rand_gauss(&s);
		if (i % 500 == 250)
			x[i] += 6.0;
		if (i % 333 == 100)
			x[i] = NAN;
	}
	assert_int_equal(an_detect_iforest(x, 5000, NULL, s1, f1), 0);
	int fp = 0;
	for (int i = 0; i < 5000; i++) {
		if (isnan(x[i]))
			assert_true(s1[i] == 0.0 && f1[i] == 0);
		else if (i % 500 == 250)
			assert_true(f1[i] == 1);
		else
			fp += f1[i];
	}
	print_message("%d ordinary points flagged\n", fp);
	assert_true(fp < 50);
	struct an_detect_cfg c = { .seed = 99 };
	assert_int_equal(an_detect_iforest(x, 5000, NULL, s2, f2), 0);
	assert_memory_equal(s1, s2, sizeof(s1));
	assert_int_equal(an_detect_iforest(x, 5000, &c, s3, f3), 0);
	assert_memory_not_equal(s1, s3, sizeof(s1));
	/* higher sensitivity never flags fewer (same scores, lower bar) */
	int last = 0;
	for (double sv = 0.1; sv < 1.0; sv += 0.2) {
		c.sensitivity = sv;
		assert_int_equal(an_detect_iforest(x, 5000, &c, s3, f3), 0);
		int cnt = 0;
		for (int i = 0; i < 5000; i++)
			cnt += f3[i];
		assert_true(cnt >= last);
		last = cnt;
	}
}

static void test_an_iforest__degenerate_and_bad(void **state)
{
	(void)state;
	double x[5] = { NAN, 3, NAN, NAN, NAN }, sc[5];
	uint8_t fl[5];
	assert_int_equal(an_detect_iforest(x, 5, NULL, sc, fl), 0);
	for (int i = 0; i < 5; i++)
		assert_true(sc[i] == 0.0 && fl[i] == 0);
	assert_int_equal(an_detect_iforest(NULL, 0, NULL, NULL, NULL), 0);
	const struct an_detect_cfg bad[] = {
		{ .window = 1 }, { .threshold = 0.4 }, { .threshold = 1.0 },
		{ .threshold = NAN }, { .sensitivity = -1 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		assert_int_equal(an_detect_iforest(x, 5, &bad[k], sc, fl), -EINVAL);
	assert_int_equal(an_detect_iforest(x, 5, NULL, NULL, fl), -EINVAL);
	struct an_iforest *f;
	struct an_iforest_cfg c = { .psi = 1 };
	assert_int_equal(an_iforest_fit(x, 1, 1, NULL, &f), -EINVAL);
	assert_int_equal(an_iforest_fit(x, 5, 0, NULL, &f), -EINVAL);
	assert_int_equal(an_iforest_fit(x, 5, 17, NULL, &f), -EINVAL);
	assert_int_equal(an_iforest_fit(x, 5, 1, &c, &f), -EINVAL);
	an_iforest_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_iforest__c),
		cmocka_unit_test(test_an_iforest__three_points_closed_form),
		cmocka_unit_test(test_an_iforest__indistinct_rows_score_half),
		cmocka_unit_test(test_an_iforest__outliers_in_cloud),
		cmocka_unit_test(test_an_iforest__detector_spikes_and_seed),
		cmocka_unit_test(test_an_iforest__degenerate_and_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
