/*
 * test_an_relate.c - correlations against hand-computed closed forms (with
 * ties) and the closed-form t(3) distribution; cross-correlation against a
 * naive per-lag Pearson and a planted lead; Granger F against a naive OLS by
 * normal equations and the closed-form F(2, d) tail; a causal pair detected
 * one way and not the other.
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

#include <gsl/gsl_errno.h>

#include "an_relate.h"
#include "cm_rand.h"

/* Two-sided p of Student's t with 3 df, closed form. */
static double t3_two_sided(double t)
{
	double th = atan(fabs(t) / sqrt(3.0));
	return 1.0 - 2.0 / M_PI * (th + sin(th) * cos(th));
}

static void test_an_relate__closed_forms_with_ties(void **state)
{
	(void)state;
	const double x[5] = { 1, 2, 3, 4, 5 }, y[5] = { 2, 4, 5, 4, 5 };
	/* Sxy = 6, Sxx = 10, Syy = 6; ranks of y (1, 2.5, 4.5, 2.5, 4.5): 7/sqrt(90). */
	double rp = 6 / sqrt(60.0), rs = 7 / sqrt(90.0);
	struct an_corr c;
	assert_int_equal(an_correlate(x, y, 5, &c), 0);
	assert_int_equal(c.n, 5);
	assert_true(fabs(c.pearson_r - rp) < 1e-12);
	assert_true(fabs(an_pearson(x, y, 5) - rp) < 1e-12);
	assert_true(fabs(c.spearman_r - rs) < 1e-12);
	assert_true(fabs(c.pearson_p - t3_two_sided(rp * sqrt(3 / (1 - rp * rp)))) < 1e-9);
	assert_true(fabs(c.spearman_p - t3_two_sided(rs * sqrt(3 / (1 - rs * rs)))) < 1e-9);
	/* Perfect monotone but non-linear: Spearman 1, p 0. */
	const double z[5] = { 1, 8, 27, 64, 125 };
	assert_int_equal(an_correlate(x, z, 5, &c), 0);
	assert_true(fabs(c.spearman_r - 1.0) < 1e-12 && c.spearman_p < 1e-12 && c.pearson_r < 0.99);
}

static void test_an_relate__constant_and_bad_input(void **state)
{
	(void)state;
	const double x[4] = { 1, 2, 3, 4 }, k[4] = { 2, 2, 2, 2 }, bad[4] = { 1, NAN, 3, 4 };
	struct an_corr c;
	assert_int_equal(an_correlate(x, k, 4, &c), 0);
	assert_true(isnan(c.pearson_r) && isnan(c.pearson_p) && isnan(c.spearman_r));
	assert_true(isnan(an_pearson(x, k, 4)) && isnan(an_pearson(x, bad, 4)));
	assert_int_equal(an_correlate(x, bad, 4, &c), -EINVAL);
	assert_int_equal(an_correlate(x, x, 2, &c), -EINVAL);
	double r[9];
	long bl;
	assert_int_equal(an_xcorr(x, x, 4, 2, r, &bl), -EINVAL); /* overlap of 2 */
	assert_int_equal(an_xcorr(x, bad, 4, 1, r, &bl), -EINVAL);
	struct an_granger g;
	double y[20];
	for (int i = 0; i < 20; i++)
		y[i] = i % 3;
	assert_int_equal(an_granger(y, y, 20, 0, &g), -EINVAL);
	assert_int_equal(an_granger(y, y, 20, 7, &g), -EINVAL); /* df2 < 1 */
	assert_int_equal(an_granger(y, y, 20, 3, &g), -EDOM);   /* y is exactly periodic */
	assert_int_equal(an_granger_auto(y, y, 20, 0, &g), -EINVAL);
}

/* Naive Pearson over n pairs. */
static double naive_r(const double *x, const double *y, size_t n)
{
	double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		mx += x[i] / n;
		my += y[i] / n;
	}
	for (size_t i = 0; i < n; i++) {
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
	}
	return sxy / sqrt(sxx * syy);
}

static void test_an_relate__xcorr_naive_and_planted_lead(void **state)
{
	(void)state;
	enum { N = 300, L = 10 };
	double x[N], y[N], r[2 * L + 1];
	uint64_t st = 31;
	for (int t = 0; t < N; t++)
		x[t] = cm_rand_gauss(&st);
	for (int t = 0; t < N; t++) /* y follows x by 3 points */
		y[t] = (t >= 3 ? 2 * x[t - 3] : 0) + 0.3 * cm_rand_gauss(&st);
	long bl = 99;
	assert_int_equal(an_xcorr(x, y, N, L, r, &bl), 0);
	assert_int_equal(bl, 3);
	assert_true(r[L + 3] > 0.95);
	for (long k = -L; k <= L; k++) {
		size_t a = k < 0 ? (size_t)-k : 0, len = N - (size_t)labs(k);
		assert_true(fabs(r[k + L] - naive_r(x + a, y + a + k, len)) < 1e-12);
	}
	assert_int_equal(an_xcorr(y, x, N, L, r, &bl), 0);
	assert_int_equal(bl, -3);
}

/* Solves the k x k system A b = v in place (Gaussian elimination, pivoting). */
static void solve(double *A, double *v, size_t k)
{
	for (size_t c = 0; c < k; c++) {
		size_t piv = c;
		for (size_t i = c + 1; i < k; i++)
			if (fabs(A[i * k + c]) > fabs(A[piv * k + c]))
				piv = i;
		for (size_t j = 0; j < k; j++) {
			double t = A[c * k + j];
			A[c * k + j] = A[piv * k + j];
			A[piv * k + j] = t;
		}
		double t = v[c];
		v[c] = v[piv];
		v[piv] = t;
		for (size_t i = c + 1; i < k; i++) {
			double f = A[i * k + c] / A[c * k + c];
			for (size_t j = c; j < k; j++)
				A[i * k + j] -= f * A[c * k + j];
			v[i] -= f * v[c];
		}
	}
	for (size_t c = k; c-- > 0;) {
		for (size_t j = c + 1; j < k; j++)
			v[c] -= A[c * k + j] * v[j];
		v[c] /= A[c * k + c];
	}
}

/* RSS of the lag-p regression by normal equations (reference). */
static double naive_rss(const double *x, const double *y, size_t n, size_t p, int with_x)
{
	size_t k = 1 + p * (with_x ? 2 : 1);
	double A[25] = { 0 }, v[5] = { 0 }, row[5];
	assert_true(k <= 5);
	for (size_t t = p; t < n; t++) {
		row[0] = 1;
		for (size_t j = 1; j <= p; j++) {
			row[j] = y[t - j];
			if (with_x)
				row[p + j] = x[t - j];
		}
		for (size_t i = 0; i < k; i++) {
			v[i] += row[i] * y[t];
			for (size_t j = 0; j < k; j++)
				A[i * k + j] += row[i] * row[j];
		}
	}
	solve(A, v, k);
	double rss = 0;
	for (size_t t = p; t < n; t++) {
		double f = v[0];
		for (size_t j = 1; j <= p; j++)
			f += v[j] * y[t - j] + (with_x ? v[p + j] * x[t - j] : 0);
		rss += (y[t] - f) * (y[t] - f);
	}
	return rss;
}

static void test_an_relate__granger_matches_naive_ols(void **state)
{
	(void)state;
	enum { N = 60 };
	double x[N], y[N];
	uint64_t st = 5;
	for (int t = 0; t < N; t++) {
		x[t] = cm_rand_gauss(&st);
		y[t] = (t ? 0.4 * y[t - 1] + 0.3 * x[t - 1] : 0) + cm_rand_gauss(&st);
	}
	struct an_granger g;
	assert_int_equal(an_granger(x, y, N, 2, &g), 0);
	double rr = naive_rss(x, y, N, 2, 0), ru = naive_rss(x, y, N, 2, 1);
	assert_true(fabs(g.rss_r - rr) < 1e-9 * rr && fabs(g.rss_u - ru) < 1e-9 * ru);
	size_t d2 = (N - 2) - 2 * 2 - 1;
	double f = ((rr - ru) / 2) / (ru / d2);
	assert_int_equal(g.lag, 2);
	assert_int_equal(g.df1, 2);
	assert_int_equal(g.df2, d2);
	assert_true(fabs(g.f - f) < 1e-9 * f);
	/* F(2, d) tail in closed form: (1 + 2F/d)^(-d/2). */
	assert_true(fabs(g.p_value - pow(1 + 2 * f / d2, -(double)d2 / 2)) < 1e-12);
}

static void test_an_relate__granger_causal_pair(void **state)
{
	(void)state;
	enum { N = 500 };
	double x[N], y[N];
	uint64_t st = 2024;
	for (int t = 0; t < N; t++)
		x[t] = cm_rand_gauss(&st);
	for (int t = 0; t < N; t++)
		y[t] = (t ? 0.8 * x[t - 1] : 0) + 0.5 * cm_rand_gauss(&st);
	struct an_granger g;
	for (size_t p = 1; p <= 3; p++) {
		assert_int_equal(an_granger(x, y, N, p, &g), 0);
		assert_true(g.p_value < 1e-6);
		assert_int_equal(an_granger(y, x, N, p, &g), 0);
		assert_true(g.p_value > 0.01);
	}
	assert_int_equal(an_granger_auto(x, y, N, 8, &g), 0);
	assert_int_equal(g.lag, 1); /* AIC finds the true order */
	assert_true(g.p_value < 1e-6);
	assert_int_equal(an_granger_auto(y, x, N, 8, &g), 0);
	assert_true(g.p_value > 0.01);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_relate__closed_forms_with_ties),
		cmocka_unit_test(test_an_relate__constant_and_bad_input),
		cmocka_unit_test(test_an_relate__xcorr_naive_and_planted_lead),
		cmocka_unit_test(test_an_relate__granger_matches_naive_ols),
		cmocka_unit_test(test_an_relate__granger_causal_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
