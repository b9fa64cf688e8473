/*
 * test_an_ensemble.c - the ensemble detector (analytics/an_ensemble.c): its
 * an_detect.h contract (scores in [0, 1], deterministic, causal, bad cfg ->
 * -EINVAL, NaN/empty/constant inputs), a planted spike, and the calibration
 * and refractory rule against a brute-force re-implementation of the rules
 * written in an_ensemble.h.
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

#include "an_ensemble.h"

#define N 3000

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Approximately normal noise (sum of 12 uniforms - 6), fixed seed. */
static void noise(double *x, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (int k = 0; k < 12; k++)
			s += (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
		x[i] = 10.0 + s - 6.0;
	}
}

static void test_an_ensemble__scores_in_unit_interval_and_deterministic(void **state)
{
	static double x[N], s1[N], s2[N];
	static uint8_t f1[N], f2[N];
	(void)state;
	noise(x, N, 7);
	x[100] = NAN;
	assert_int_equal(an_detect_ensemble(x, N, NULL, s1, f1), 0);
	assert_int_equal(an_detect_ensemble(x, N, NULL, s2, f2), 0);
	for (size_t i = 0; i < N; i++) {
		assert_true(s1[i] >= 0.0 && s1[i] <= 1.0);
		assert_true(f1[i] == 0 || f1[i] == 1);
	}
	assert_memory_equal(s1, s2, sizeof(s1));
	assert_memory_equal(f1, f2, sizeof(f1));
	assert_true(s1[100] == 0.0 && f1[100] == 0);
}

static void test_an_ensemble__planted_spike_flagged_once(void **state)
{
	static double x[N], s[N];
	static uint8_t f[N];
	size_t flagged = 0;
	(void)state;
	noise(x, N, 11);
	x[2000] += 15.0;
	assert_int_equal(an_detect_ensemble(x, N, NULL, s, f), 0);
	assert_int_equal(f[2000], 1);
	for (size_t i = 0; i < N; i++)
		if (i != 2000 && s[i] >= s[2000])
			fail_msg("point %zu scores %g >= the spike's %g", i, s[i], s[2000]);
	for (size_t i = 1500; i < N; i++)
		flagged += f[i];
	assert_true(flagged <= 3);
}

static void test_an_ensemble__causal(void **state)
{
	static double x[N], y[N], sx[N], sy[N];
	static uint8_t f[N];
	(void)state;
	noise(x, N, 3);
	memcpy(y, x, sizeof(x));
	for (size_t i = 1800; i < N; i++)
		y[i] = 50.0 - y[i];
	assert_int_equal(an_detect_ensemble(x, N, NULL, sx, f), 0);
	assert_int_equal(an_detect_ensemble(y, N, NULL, sy, f), 0);
	assert_memory_equal(sx, sy, 1800 * sizeof(double));
}

static void test_an_ensemble__bad_cfg_einval(void **state)
{
	double x[4] = { 1, 2, 3, 4 }, s[4];
	uint8_t f[4];
	struct an_detect_cfg c = { .threshold = -1 };
	(void)state;
	assert_int_equal(an_detect_ensemble(NULL, 4, NULL, s, f), -EINVAL);
	assert_int_equal(an_detect_ensemble(x, 4, NULL, NULL, f), -EINVAL);
	assert_int_equal(an_detect_ensemble(x, 4, &c, s, f), -EINVAL);
	c.threshold = NAN;
	assert_int_equal(an_detect_ensemble(x, 4, &c, s, f), -EINVAL);
	c = (struct an_detect_cfg){ .sensitivity = 1.5 };
	assert_int_equal(an_detect_ensemble(x, 4, &c, s, f), -EINVAL);
	struct an_ensemble_member m = { .fn = an_detect_zscore, .weight = 0 };
	struct an_ensemble_cfg ec = { .members = &m, .nmembers = 1 };
	assert_int_equal(an_ensemble_run(x, 4, &ec, s, f), -EINVAL);
	m.weight = 1;
	ec.nmembers = 0;
	assert_int_equal(an_ensemble_run(x, 4, &ec, s, f), -EINVAL);
	ec.nmembers = 1;
	ec.combine = (enum an_ensemble_combine)7;
	assert_int_equal(an_ensemble_run(x, 4, &ec, s, f), -EINVAL);
	assert_int_equal(an_ensemble_run(x, 4, NULL, s, f), -EINVAL);
}

static void test_an_ensemble__empty_and_constant(void **state)
{
	static double x[500], s[500];
	static uint8_t f[500];
	(void)state;
	assert_int_equal(an_detect_ensemble(NULL, 0, NULL, NULL, NULL), 0);
	for (size_t i = 0; i < 500; i++)
		x[i] = 3.0;
	assert_int_equal(an_detect_ensemble(x, 500, NULL, s, f), 0);
	for (size_t i = 0; i < 500; i++)
		assert_true(s[i] == 0.0 && f[i] == 0);
}

/* A member whose score is the value itself (values in [0, 1]). */
static int identity(const double *x, size_t n, const struct an_detect_cfg *cfg, double *score,
		    uint8_t *flag)
{
	(void)cfg;
	for (size_t i = 0; i < n; i++) {
		score[i] = x[i];
		flag[i] = 0;
	}
	return 0;
}

/* The rules of an_ensemble.h written out: ranks by counting, the refractory
 * rule by scanning, mean of two members with weights 1 and 3. */
static void reference(const double *a, const double *b, size_t n, size_t refr, double *out)
{
	double *u = malloc(n * sizeof(*u));
	assert_non_null(u);
	for (size_t i = 0; i < n; i++) {
		size_t ga = 0, gb = 0;
		for (size_t j = 0; j < i; j++) {
			ga += a[j] >= a[i];
			gb += b[j] >= b[i];
		}
		double ua = -log10((1.0 + ga) / (i + 1.0)), ub = -log10((1.0 + gb) / (i + 1.0));
		u[i] = (1.0 * ua + 3.0 * ub) / 4.0;
	}
	for (size_t i = 0; i < n; i++) {
		int rec = 1;
		for (size_t j = i > refr ? i - refr : 0; j < i; j++)
			rec &= u[i] > u[j];
		out[i] = rec ? 1.0 - pow(10.0, -u[i] / 4.0) : 0.0;
	}
	free(u);
}

/* Second member: the value read backwards in rank (1 - x), coarsened. */
static int coarse_flip(const double *x, size_t n, const struct an_detect_cfg *cfg, double *score,
		       uint8_t *flag)
{
	(void)cfg;
	for (size_t i = 0; i < n; i++) {
		score[i] = floor((1.0 - x[i]) * 8.0) / 8.0;   /* many ties */
		flag[i] = 0;
	}
	return 0;
}

static void test_an_ensemble__matches_brute_force(void **state)
{
	enum { M = 600 };
	static double x[M], a[M], b[M], want[M], got[M];
	static uint8_t f[M];
	uint64_t seed = 99;
	(void)state;
	for (size_t i = 0; i < M; i++)
		x[i] = (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
	const struct an_ensemble_member mem[2] = {
		{ .fn = identity, .weight = 1.0 },
		{ .fn = coarse_flip, .weight = 3.0 },
	};
	identity(x, M, NULL, a, f);
	coarse_flip(x, M, NULL, b, f);
	for (size_t refr = 0; refr <= 40; refr += 20) {
		struct an_ensemble_cfg ec = { .members = mem, .nmembers = 2, .refractory = refr,
					      .threshold = 1.0 };
		assert_int_equal(an_ensemble_run(x, M, &ec, got, f), 0);
		reference(a, b, M, refr, want);
		for (size_t i = 0; i < M; i++) {
			if (fabs(got[i] - want[i]) > 1e-12)
				fail_msg("refractory %zu point %zu: %g, reference %g", refr, i,
					 got[i], want[i]);
			assert_int_equal(f[i], got[i] > an_ensemble_level(1.0));
		}
	}
	/* an exact tie: p = 1/2 at point 1 and 2/4 at point 3; a tie is no record */
	const double t[4] = { 0.5, 0.9, 0.1, 0.8 };
	const struct an_ensemble_member one = { .fn = identity, .weight = 1.0 };
	struct an_ensemble_cfg ec = { .members = &one, .nmembers = 1, .refractory = 5 };
	assert_int_equal(an_ensemble_run(t, 4, &ec, got, f), 0);
	reference(t, t, 4, 5, want);
	assert_true(fabs(got[1] - (1.0 - pow(10.0, -log10(2.0) / 4.0))) < 1e-12);
	assert_true(got[3] == 0.0 && want[3] == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_ensemble__scores_in_unit_interval_and_deterministic),
		cmocka_unit_test(test_an_ensemble__planted_spike_flagged_once),
		cmocka_unit_test(test_an_ensemble__causal),
		cmocka_unit_test(test_an_ensemble__bad_cfg_einval),
		cmocka_unit_test(test_an_ensemble__empty_and_constant),
		cmocka_unit_test(test_an_ensemble__matches_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
