/*
 * test_an_online.c - the online EWMA detector: its mean and variance against
 * the closed-form weighted two-pass moments (equal weights over the start,
 * then exponential), the score map's fixed points, spikes flagged, the
 * winsorised variance (one huge spike does not hide the next), missing
 * values, constant series, the batch wrapper and bad parameters.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "an_online.h"
#include "cm_rand.h"

/* Weights of x[0..n) in the state after n values: the first n0 = 1/alpha share
 * equally, each later one gets alpha and shrinks by (1 - alpha) per value. */
static void closed_form(const double *x, int n, double alpha, double *mean, double *var)
{
	int n0 = (int)floor(1.0 / alpha + 1e-9);
	double w[1000], m = 0, v = 0;
	for (int j = 0; j < n; j++) {
		double wj = j < n0 ? 1.0 / (n < n0 ? n : n0) : alpha;
		for (int k = (j < n0 ? n0 : j + 1); k < n; k++)
			wj *= 1.0 - alpha;
		w[j] = wj;
		m += wj * x[j];
	}
	for (int j = 0; j < n; j++)
		v += w[j] * (x[j] - m) * (x[j] - m);
	*mean = m;
	*var = v;
}

static void test_an_online__moments_match_closed_form(void **state)
{
	(void)state;
	double x[1000];
	uint64_t s = 11;
	for (int i = 0; i < 1000; i++)
		x[i] = 100.0 + 3.0 * cm_rand_gauss(&s) + 0.01 * i;
	const double alphas[] = { 0.05, 0.2, 0.01 };
	for (int a = 0; a < 3; a++) {
		/* a threshold no value reaches: nothing is winsorised */
		struct an_detect_cfg c = { .alpha = alphas[a], .threshold = 1e6 };
		struct an_online d;
		assert_int_equal(an_online_init(&d, &c), 0);
		for (int i = 0; i < 1000; i++) {
			uint8_t f;
			an_online_push(&d, x[i], &f);
			if (i % 37 && i != 999)
				continue;
			double m, v;
			closed_form(x, i + 1, alphas[a], &m, &v);
			assert_true(fabs(d.mean - m) < 1e-9 * 100);
			assert_true(fabs(d.var - v) < 1e-9 * (1 + v));
		}
	}
}

static void test_an_online__score_map(void **state)
{
	(void)state;
	/* warm-up 2 values of 0 and 2: mean 1, variance 1; then x = 1 + z */
	const double z[] = { 0.0, 4.0, 8.0, 2.0, 4.01, 3.99 };
	const double want[] = { 0.0, 0.5, 0.8, 0.2, -1, -1 }; /* r^2 / (1 + r^2), r = z / 4 */
	const uint8_t wflag[] = { 0, 0, 1, 0, 1, 0 };
	for (int k = 0; k < 6; k++) {
		struct an_detect_cfg c = { .window = 2, .alpha = 0.5 };
		struct an_online d;
		uint8_t f;
		assert_int_equal(an_online_init(&d, &c), 0);
		assert_true(an_online_push(&d, 0.0, &f) == 0.0 && f == 0);
		assert_true(an_online_push(&d, 2.0, &f) == 0.0 && f == 0);
		assert_true(d.mean == 1.0 && d.var == 1.0);
		double sc = an_online_push(&d, 1.0 + z[k], &f);
		if (want[k] >= 0)
			assert_true(fabs(sc - want[k]) < 1e-12);
		assert_int_equal(f, wflag[k]);
	}
}

static void test_an_online__spikes_flagged(void **state)
{
	(void)state;
	double x[20000], score[20000];
	uint8_t flag[20000];
	uint64_t s = 3;
	for (int i = 0; i < 20000; i++)
		x[i] = 10.0 + cm_rand_gauss(&s) + (i % 500 == 250 ? 9.0 : 0.0);
	assert_int_equal(an_detect_ewma(x, 20000, NULL, score, flag), 0);
	int fp = 0;
	for (int i = 0; i < 20000; i++) {
		if (i % 500 == 250) {
			assert_int_equal(flag[i], 1);
			assert_true(score[i] > 0.69); /* z > 1.5 thr */
		} else {
			fp += flag[i];
		}
	}
	/* |z| > 4: 6e-5 for N(0,1); the EWMA estimates widen that */
	assert_true(fp < 20);
	/* the batch wrapper is the push loop */
	struct an_online d;
	assert_int_equal(an_online_init(&d, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		uint8_t f;
		assert_true(an_online_push(&d, x[i], &f) == score[i] && f == flag[i]);
	}
}

static void test_an_online__huge_spike_does_not_blind(void **state)
{
	(void)state;
	double x[400], score[400];
	uint8_t flag[400];
	uint64_t s = 5;
	for (int i = 0; i < 400; i++)
		x[i] = cm_rand_gauss(&s);
	x[200] = 1e6;
	x[210] = 10.0;
	assert_int_equal(an_detect_ewma(x, 400, NULL, score, flag), 0);
	assert_true(flag[200] && flag[210]);
}

static void test_an_online__sensitivity_monotone(void **state)
{
	(void)state;
	static double x[5000], score[5000];
	static uint8_t flag[5000];
	uint64_t s = 9;
	for (int i = 0; i < 5000; i++)
		x[i] = cm_rand_gauss(&s) * (1.0 + (i % 1000 > 900));
	int last = 0;
	for (double sv = 0.05; sv < 1.0; sv += 0.15) {
		struct an_detect_cfg c = { .sensitivity = sv };
		assert_int_equal(an_detect_ewma(x, 5000, &c, score, flag), 0);
		int cnt = 0;
		for (int i = 0; i < 5000; i++)
			cnt += flag[i];
		assert_true(cnt >= last);
		last = cnt;
	}
	assert_true(last > 0);
}

static void test_an_online__missing_and_constant(void **state)
{
	(void)state;
	struct an_online d, before;
	uint8_t f = 7;
	assert_int_equal(an_online_init(&d, NULL), 0);
	for (int i = 0; i < 30; i++)
		assert_true(an_online_push(&d, 5.0, &f) == 0.0 && f == 0);
	memcpy(&before, &d, sizeof(d));
	assert_true(an_online_push(&d, NAN, &f) == 0.0 && f == 0);
	assert_true(an_online_push(&d, INFINITY, &f) == 0.0 && f == 0);
	assert_true(an_online_push(&d, -INFINITY, &f) == 0.0 && f == 0);
	assert_memory_equal(&d, &before, sizeof(d));
	/* constant so far: any other value is flagged; its score measures it in
	 * AN_RES_FRAC = 0.1 resolution steps (the only step seen so far is its
	 * own: z = 10, r = z / 4) */
	assert_true(an_online_push(&d, 5.0, &f) == 0.0 && f == 0);
	assert_true(fabs(an_online_push(&d, 5.5, &f) - 6.25 / 7.25) < 1e-15 && f == 1);
	/* and the detector learns a spread from it (no winsorising at v = 0) */
	assert_true(d.var > 0.0);
	double e[3];
	uint8_t g[3];
	assert_int_equal(an_detect_ewma(NULL, 0, NULL, e, g), 0);
}

static void test_an_online__bad_cfg(void **state)
{
	(void)state;
	const struct an_detect_cfg bad[] = {
		{ .window = 1 },  { .alpha = 1.5 },       { .alpha = -0.1 },
		{ .alpha = NAN }, { .threshold = -1 },   { .threshold = INFINITY },
		{ .sensitivity = 2 },
	};
	struct an_online d;
	double x[4] = { 0 }, score[4];
	uint8_t flag[4];
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		assert_int_equal(an_online_init(&d, &bad[k]), -EINVAL);
		assert_int_equal(an_detect_ewma(x, 4, &bad[k], score, flag), -EINVAL);
	}
	assert_int_equal(an_detect_ewma(NULL, 4, NULL, score, flag), -EINVAL);
	assert_int_equal(an_detect_ewma(x, 4, NULL, NULL, flag), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_online__moments_match_closed_form),
		cmocka_unit_test(test_an_online__score_map),
		cmocka_unit_test(test_an_online__spikes_flagged),
		cmocka_unit_test(test_an_online__huge_spike_does_not_blind),
		cmocka_unit_test(test_an_online__sensitivity_monotone),
		cmocka_unit_test(test_an_online__missing_and_constant),
		cmocka_unit_test(test_an_online__bad_cfg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
