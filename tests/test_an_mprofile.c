/*
 * test_an_mprofile.c - the STOMP matrix profile against a naive O(l^2 m)
 * computation with explicit z-normalisation (random data, and data with a
 * constant stretch), a planted repeated pattern found as the top motif, the
 * motif exclusion rule, and bad parameters.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "an_mprofile.h"
#include "cm_rand.h"

/* z-normalise x[0..m) into z (population std); a constant one becomes 0s. */
static void znorm(const double *x, size_t m, double *z)
{
	double mu = 0, ss = 0;
	int flat = 1;
	for (size_t k = 0; k < m; k++) {
		mu += x[k] / m;
		flat &= x[k] == x[0];
	}
	for (size_t k = 0; k < m; k++)
		ss += (x[k] - mu) * (x[k] - mu);
	for (size_t k = 0; k < m; k++)
		z[k] = flat ? 0.0 : (x[k] - mu) / sqrt(ss / m);
}

static void naive_mp(const double *x, size_t n, size_t m, double *prof, size_t *idx)
{
	size_t l = n - m + 1, excl = (m + 3) / 4;
	double *z = malloc(l * m * sizeof(*z));
	assert_non_null(z);
	for (size_t i = 0; i < l; i++)
		znorm(x + i, m, z + i * m);
	for (size_t i = 0; i < l; i++) {
		prof[i] = INFINITY;
		idx[i] = AN_MP_NONE;
		for (size_t j = 0; j < l; j++) {
			if ((i > j ? i - j : j - i) <= excl)
				continue;
			double d = 0;
			for (size_t k = 0; k < m; k++)
				d += (z[i * m + k] - z[j * m + k]) * (z[i * m + k] - z[j * m + k]);
			if (sqrt(d) < prof[i]) {
				prof[i] = sqrt(d);
				idx[i] = j;
			}
		}
	}
	free(z);
}

static void check_against_naive(const double *x, size_t n, size_t m)
{
	size_t l = n - m + 1;
	double *p = malloc(l * sizeof(*p)), *rp = malloc(l * sizeof(*rp));
	size_t *ix = malloc(l * sizeof(*ix)), *rx = malloc(l * sizeof(*rx));
	assert_true(p && rp && ix && rx);
	assert_int_equal(an_mprofile(x, n, m, p, ix), 0);
	naive_mp(x, n, m, rp, rx);
	for (size_t i = 0; i < l; i++) {
		assert_true(fabs(p[i] - rp[i]) < 1e-6);
		/* Indices agree unless two neighbours are equally close. */
		if (ix[i] != rx[i]) {
			double zi[64], zj[64];
			assert_true(m <= 64);
			znorm(x + i, m, zi);
			znorm(x + ix[i], m, zj);
			double d = 0;
			for (size_t k = 0; k < m; k++)
				d += (zi[k] - zj[k]) * (zi[k] - zj[k]);
			assert_true(fabs(sqrt(d) - rp[i]) < 1e-6);
		}
	}
	free(p);
	free(rp);
	free(ix);
	free(rx);
}

static void test_an_mprofile__matches_naive(void **state)
{
	(void)state;
	enum { N = 300, M = 16 };
	double x[N];
	uint64_t st = 17;
	for (int i = 0; i < N; i++) /* random walk on a large offset */
		x[i] = (i ? x[i - 1] : 1e4) + cm_rand_gauss(&st);
	check_against_naive(x, N, M);
	/* A constant stretch: flat subsequences at 0 from each other, sqrt(m)
	 * from the rest. */
	for (int i = 100; i < 140; i++)
		x[i] = 5.0;
	for (int i = 200; i < 200 + M; i++) /* exactly one flat subsequence... */
		x[i] = 7.0;
	for (int i = 100; i < 140; i++) /* ...after this stretch is made non-flat */
		x[i] = i % 3;
	check_against_naive(x, N, M);
	double p1[N];
	assert_int_equal(an_mprofile(x, N, M, p1, NULL), 0);
	assert_true(fabs(p1[200] - sqrt(M)) < 1e-9); /* flat vs non-flat: sqrt(m) */
	for (int i = 100; i < 140; i++)
		x[i] = 5.0;
	check_against_naive(x, N, M);
	double p[N];
	size_t ix[N];
	assert_int_equal(an_mprofile(x, N, M, p, ix), 0);
	assert_true(p[110] == 0.0 && ix[110] == 100 && ix[100] == 105);
}

static void test_an_mprofile__planted_motif_is_top(void **state)
{
	(void)state;
	enum { N = 1000, M = 50 };
	double x[N];
	uint64_t st = 4242;
	for (int i = 0; i < N; i++)
		x[i] = cm_rand_gauss(&st);
	const size_t at[2] = { 200, 700 };
	for (int c = 0; c < 2; c++)
		for (int k = 0; k < M; k++) /* a smooth shape, on different offsets/scales, so
					       shifted copies (201, 701) match well too */
			x[at[c] + k] = (c ? 10 : 3) + (c ? 2.0 : 1.0) * (sin(3 * M_PI * k / M) +
				       0.5 * sin(8 * M_PI * k / M)) + 0.05 * cm_rand_gauss(&st);
	struct an_motif mo[3];
	size_t nout;
	assert_int_equal(an_motifs(x, N, M, 3, mo, &nout), 0);
	assert_int_equal(nout, 3);
	assert_true(mo[0].a >= 198 && mo[0].a <= 202 && mo[0].b >= 698 && mo[0].b <= 702);
	assert_true(mo[0].distance < 1.0 && mo[1].distance > 2 * mo[0].distance);
	/* No member of a later pair within m of an earlier pair's members. */
	for (size_t r = 1; r < nout; r++) {
		assert_true(mo[r].distance >= mo[r - 1].distance);
		for (size_t q = 0; q < r; q++) {
			const size_t pr[2] = { mo[r].a, mo[r].b }, pq[2] = { mo[q].a, mo[q].b };
			for (int u = 0; u < 2; u++)
				for (int v = 0; v < 2; v++)
					assert_true((pr[u] > pq[v] ? pr[u] - pq[v] : pq[v] - pr[u]) >= M);
		}
	}
}

static void test_an_mprofile__bad_input_and_edges(void **state)
{
	(void)state;
	double x[20] = { 0 }, p[20];
	size_t ix[20], nout = 7;
	struct an_motif mo[2];
	assert_int_equal(an_mprofile(x, 20, 3, p, ix), -EINVAL);
	assert_int_equal(an_mprofile(x, 20, 21, p, ix), -EINVAL);
	assert_int_equal(an_motifs(x, 20, 4, 0, mo, &nout), -EINVAL);
	/* m = 8: l = 3, excl = 2: no pair qualifies. */
	for (int i = 0; i < 10; i++)
		x[i] = i * i;
	assert_int_equal(an_mprofile(x, 10, 8, p, ix), 0);
	assert_true(isinf(p[0]) && ix[0] == AN_MP_NONE && isinf(p[2]));
	assert_int_equal(an_motifs(x, 10, 8, 2, mo, &nout), 0);
	assert_int_equal(nout, 0);
	x[2] = NAN;
	assert_int_equal(an_mprofile(x, 20, 4, p, NULL), -EINVAL);
	assert_int_equal(an_mp_exclusion(100), 25);
	assert_int_equal(an_mp_exclusion(16), 4);
	assert_int_equal(an_mp_exclusion(17), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_mprofile__matches_naive),
		cmocka_unit_test(test_an_mprofile__planted_motif_is_top),
		cmocka_unit_test(test_an_mprofile__bad_input_and_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
