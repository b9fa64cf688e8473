/*
 * test_an_arima.c - exact-likelihood ARIMA against independent references:
 * R's airline-model fit of log(AirPassengers), dense-covariance (Cholesky)
 * Gaussian likelihoods and best linear predictors, the closed-form AR(1)
 * likelihood, a naive KPSS, recovery of simulated coefficients (fixed seed)
 * and the automatic order selection on series of known structure.
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
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "an_arima.h"
#include "an_forecast.h"
#include "cm_rand.h"
#include "tst_util.h"

static double ap_log[144]; /* log(AirPassengers) */

/* log(AirPassengers) into ap_log, or skip the calling test when the data
 * set is missing (the tests that do not read it run regardless). */
static void need_airpassengers(void)
{
	if (tst_airpassengers(ap_log) != 0)
		skip();
	for (size_t i = 0; i < 144; i++)
		ap_log[i] = log(ap_log[i]);
}

/* x_t = sum ar_i x_{t-i} + e_t + sum ma_j e_{t-j}, after a burn-in. */
static void simulate_arma(double *x, size_t n, const double *ar, int p, const double *ma, int q,
			  uint64_t seed)
{
	size_t burn = 500, tot = n + burn;
	double *y = calloc(tot, sizeof(double)), *e = calloc(tot, sizeof(double));
	assert_non_null(y);
	assert_non_null(e);
	for (size_t t = 0; t < tot; t++) {
		e[t] = cm_rand_gauss(&seed);
		double v = e[t];
		for (int i = 1; i <= p && (size_t)i <= t; i++)
			v += ar[i - 1] * y[t - (size_t)i];
		for (int j = 1; j <= q && (size_t)j <= t; j++)
			v += ma[j - 1] * e[t - (size_t)j];
		y[t] = v;
	}
	memcpy(x, y + burn, n * sizeof(double));
	free(y);
	free(e);
}

/* Autocovariances of an ARMA (unit variance) by summing psi-weights. */
static void naive_acvf(const double *ar, int p, const double *ma, int q, double *g, size_t lags)
{
	size_t np = 20000;
	double *psi = calloc(np, sizeof(double));
	assert_non_null(psi);
	for (size_t j = 0; j < np; j++) {
		double s = j == 0 ? 1.0 : ((int)j <= q ? ma[j - 1] : 0.0);
		for (int i = 1; i <= p && (size_t)i <= j; i++)
			s += ar[i - 1] * psi[j - (size_t)i];
		psi[j] = s;
	}
	for (size_t k = 0; k < lags; k++) {
		double s = 0;
		for (size_t j = 0; j + k < np; j++)
			s += psi[j] * psi[j + k];
		g[k] = s;
	}
	free(psi);
}

/* Dense exact concentrated Gaussian log-likelihood of a zero-mean series w
 * with autocovariances g (up to a scale): Cholesky of the Toeplitz matrix. */
static double dense_loglik(const double *w, size_t n, const double *g, double *s2)
{
	gsl_matrix *S = gsl_matrix_alloc(n, n);
	gsl_vector *b = gsl_vector_alloc(n), *x = gsl_vector_alloc(n);
	assert_non_null(S);
	for (size_t i = 0; i < n; i++) {
		gsl_vector_set(b, i, w[i]);
		for (size_t j = 0; j < n; j++)
			gsl_matrix_set(S, i, j, g[i > j ? i - j : j - i]);
	}
	assert_int_equal(gsl_linalg_cholesky_decomp1(S), 0);
	double ld = 0, q = 0;
	for (size_t i = 0; i < n; i++)
		ld += 2 * log(gsl_matrix_get(S, i, i));
	assert_int_equal(gsl_linalg_cholesky_solve(S, b, x), 0);
	for (size_t i = 0; i < n; i++)
		q += w[i] * gsl_vector_get(x, i);
	*s2 = q / (double)n;
	gsl_matrix_free(S);
	gsl_vector_free(b);
	gsl_vector_free(x);
	return -0.5 * ((double)n * log(2 * M_PI * *s2) + ld + (double)n);
}

/* The airline model's differenced series and MA(13) autocovariances. */
static size_t airline_w(double *w)
{
	size_t nw = 0;
	for (size_t t = 13; t < 144; t++)
		w[nw++] = ap_log[t] - ap_log[t - 1] - ap_log[t - 12] + ap_log[t - 13];
	return nw;
}

static void airline_acvf(double th, double sth, double *g, size_t lags)
{
	double ma[13] = { th };
	ma[11] = sth;
	ma[12] = th * sth;
	naive_acvf(NULL, 0, ma, 13, g, lags);
}

static const struct an_arima_spec airline = { 0, 1, 1, 0, 1, 1, 12, false, AN_ARIMA_CSS_ML };

static void test_an_arima__airline_matches_r(void **state)
{
	(void)state;
	need_airpassengers();
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_fit(ap_log, 144, &airline, &a), 0);
	assert_int_equal(a->ncoef, 2);
	assert_int_equal(a->n_used, 131);
	/* R 4.x stats::arima(log(AirPassengers), c(0,1,1), list(order = c(0,1,1))) */
	assert_true(fabs(a->coef[0] - -0.401828) < 1e-3);
	assert_true(fabs(a->coef[1] - -0.556945) < 1e-3);
	assert_true(fabs(a->sigma2 - 0.0013480) < 2e-7);
	/* R's value includes its kappa = 1e6 diffuse prior on the undifferenced
	 * level (244.6995); the exact likelihood of the differenced series, which
	 * we maximise, is 0.0030 lower (reproduced by porting ARIMA_Like with
	 * kappa = 1e6 and 1e8: 244.6995 and 244.6965). */
	assert_true(fabs(a->loglik - 244.6995) < 5e-3);
	assert_true(fabs(a->aic - -483.3991) < 1e-2);
	assert_true(fabs(a->aic - (-2 * a->loglik + 6)) < 1e-9);
	/* the exact likelihood at the fitted coefficients, computed densely */
	double w[131], g[131], s2;
	size_t nw = airline_w(w);
	airline_acvf(a->coef[0], a->coef[1], g, nw);
	double ll = dense_loglik(w, nw, g, &s2);
	assert_true(fabs(a->loglik - ll) < 1e-6);
	assert_true(fabs(a->sigma2 - s2) < 1e-10);
	/* and it is a maximum: nudging a coefficient lowers it */
	for (int i = 0; i < 2; i++) {
		double c[2] = { a->coef[0], a->coef[1] }, l2, s22;
		c[i] += 0.01;
		assert_int_equal(an_arima_loglik(ap_log, 144, &airline, c, &l2, &s22), 0);
		assert_true(l2 < a->loglik);
	}
	an_arima_destroy(a);
}

/* Best linear predictor of w_{n+h} from w (dense), integrated back. */
static void test_an_arima__airline_forecast(void **state)
{
	(void)state;
	need_airpassengers();
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_fit(ap_log, 144, &airline, &a), 0);
	enum { H = 12 };
	double mean[H], lo[H], hi[H];
	assert_int_equal(an_arima_forecast(a, H, 0.95, mean, lo, hi), 0);
	double w[131], g[131 + H];
	size_t nw = airline_w(w);
	airline_acvf(a->coef[0], a->coef[1], g, nw + H);
	gsl_matrix *S = gsl_matrix_alloc(nw, nw);
	gsl_vector *b = gsl_vector_alloc(nw), *x = gsl_vector_alloc(nw);
	for (size_t i = 0; i < nw; i++) {
		gsl_vector_set(b, i, w[i]);
		for (size_t j = 0; j < nw; j++)
			gsl_matrix_set(S, i, j, g[i > j ? i - j : j - i]);
	}
	assert_int_equal(gsl_linalg_cholesky_decomp1(S), 0);
	assert_int_equal(gsl_linalg_cholesky_solve(S, b, x), 0);
	double y[144 + H];
	memcpy(y, ap_log, sizeof(ap_log));
	for (size_t h = 0; h < H; h++) {
		double wf = 0;
		for (size_t i = 0; i < nw; i++)
			wf += g[nw + h - i] * gsl_vector_get(x, i);
		size_t t = 144 + h;
		y[t] = wf + y[t - 1] + y[t - 12] - y[t - 13];
		assert_true(fabs(mean[h] - y[t]) < 1e-6);
		assert_true(lo[h] < mean[h] && mean[h] < hi[h]);
		assert_true(mean[h] > 5.9 && mean[h] < 6.7); /* 365..810 passengers */
		if (h > 0)
			assert_true(hi[h] - lo[h] > hi[h - 1] - lo[h - 1]);
	}
	/* one step ahead: sd = sigma, as the filter has converged */
	double z = 1.959963984540054;
	assert_true(fabs((hi[0] - lo[0]) / 2 - z * sqrt(a->sigma2)) < 1e-9);
	/* two steps: psi_1 = ma1 - 1 (the (1 - B) factor) */
	double psi1 = a->coef[0] + 1;
	assert_true(fabs((hi[1] - lo[1]) / 2 - z * sqrt(a->sigma2 * (1 + psi1 * psi1))) < 1e-9);
	gsl_matrix_free(S);
	gsl_vector_free(b);
	gsl_vector_free(x);
	an_arima_destroy(a);
}

static void test_an_arima__ar1_closed_form(void **state)
{
	(void)state;
	enum { N = 300 };
	double y[N], ar = 0.6;
	simulate_arma(y, N, &ar, 1, NULL, 0, 42);
	for (size_t t = 0; t < N; t++)
		y[t] += 3.0;
	struct an_arima_spec s = { 1, 0, 0, 0, 0, 0, 0, true, AN_ARIMA_CSS_ML };
	const double phis[] = { -0.9, -0.3, 0.0, 0.5, 0.95 }, mu = 2.9;
	for (size_t k = 0; k < sizeof(phis) / sizeof(phis[0]); k++) {
		double phi = phis[k], S = (1 - phi * phi) * (y[0] - mu) * (y[0] - mu);
		for (size_t t = 1; t < N; t++) {
			double e = (y[t] - mu) - phi * (y[t - 1] - mu);
			S += e * e;
		}
		double s2 = S / N;
		double ref = -0.5 * N * log(2 * M_PI * s2) + 0.5 * log(1 - phi * phi) - 0.5 * N;
		double c[2] = { phi, mu }, ll, sig2;
		assert_int_equal(an_arima_loglik(y, N, &s, c, &ll, &sig2), 0);
		assert_true(fabs(ll - ref) < 1e-8);
		assert_true(fabs(sig2 - s2) < 1e-10);
	}
	double bad[2] = { 1.2, 0 }, ll, sig2;
	assert_int_equal(an_arima_loglik(y, N, &s, bad, &ll, &sig2), -EDOM);
}

/* ARMA(2,1)(1,0,1)_4 with a mean: filter against the dense likelihood. */
static void test_an_arima__seasonal_arma_dense(void **state)
{
	(void)state;
	enum { N = 120 };
	double ar[6] = { 0.5, -0.2, 0, 0.4, -0.2, 0.08 };    /* (1-.5B+.2B2)(1-.4B4) */
	double ma[5] = { 0.3, 0, 0, -0.5, -0.15 };           /* (1+.3B)(1-.5B4) */
	double y[N], g[N];
	simulate_arma(y, N, ar, 6, ma, 5, 7);
	struct an_arima_spec s = { 2, 0, 1, 1, 0, 1, 4, true, AN_ARIMA_CSS_ML };
	double c[6] = { 0.5, -0.2, 0.3, 0.4, -0.5, 0.1 }, ll, s2, s2d;
	assert_int_equal(an_arima_loglik(y, N, &s, c, &ll, &s2), 0);
	double w[N];
	for (size_t t = 0; t < N; t++)
		w[t] = y[t] - 0.1;
	naive_acvf(ar, 6, ma, 5, g, N);
	double ref = dense_loglik(w, N, g, &s2d);
	assert_true(fabs(ll - ref) < 1e-7);
	assert_true(fabs(s2 - s2d) < 1e-9);
	/* an MA(1) and its root-flipped twin have the same concentrated likelihood */
	struct an_arima_spec m1 = { 0, 0, 1, 0, 0, 0, 0, false, AN_ARIMA_CSS_ML };
	double t1 = 0.5, t2 = 2.0, l1, l2;
	assert_int_equal(an_arima_loglik(y, N, &m1, &t1, &l1, &s2), 0);
	assert_int_equal(an_arima_loglik(y, N, &m1, &t2, &l2, &s2d), 0);
	assert_true(fabs(l1 - l2) < 1e-6);
	assert_true(fabs(s2d / s2 - 0.25) < 1e-6);
}

static void check_recovery(const double *ar, int p, const double *ma, int q, const double *se,
			   uint64_t seed)
{
	enum { N = 2000 };
	double *y = malloc(N * sizeof(double));
	assert_non_null(y);
	simulate_arma(y, N, ar, p, ma, q, seed);
	struct an_arima_spec s = { (unsigned)p, 0, (unsigned)q, 0, 0, 0, 0, true,
				   AN_ARIMA_CSS_ML };
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_fit(y, N, &s, &a), 0);
	assert_true(a->converged);
	for (int i = 0; i < p; i++)
		assert_true(fabs(a->coef[i] - ar[i]) < 3 * se[i]);
	for (int j = 0; j < q; j++)
		assert_true(fabs(a->coef[p + j] - ma[j]) < 3 * se[p + j]);
	assert_true(fabs(a->coef[p + q]) < 0.2);  /* the mean is 0 */
	assert_true(fabs(a->sigma2 - 1.0) < 0.1);
	an_arima_destroy(a);
	free(y);
}

static void test_an_arima__recovers_simulated(void **state)
{
	(void)state;
	/* asymptotic standard errors (Brockwell & Davis, section 8.8) */
	double n = 2000, phi = 0.6, th = 0.3;
	double k = (1 + phi * th) * (1 + phi * th) / (n * (phi + th) * (phi + th));
	double se11[2] = { sqrt((1 - phi * phi) * k), sqrt((1 - th * th) * k) };
	check_recovery(&phi, 1, &th, 1, se11, 2024);
	double ar2[2] = { 0.5, -0.3 }, s = sqrt((1 - 0.09) / n), se2[2] = { s, s };
	check_recovery(ar2, 2, NULL, 0, se2, 99);
}

/* KPSS by the textbook formulas, written independently. */
static double naive_kpss(const double *y, size_t n, size_t l)
{
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += y[i] / (double)n;
	double num = 0;
	for (size_t t = 0; t < n; t++) {
		double S = 0;
		for (size_t i = 0; i <= t; i++)
			S += y[i] - mean;
		num += S * S;
	}
	double lrv = 0;
	for (size_t s = 0; s <= l; s++) {
		double gs = 0;
		for (size_t t = s; t < n; t++)
			gs += (y[t] - mean) * (y[t - s] - mean);
		gs /= (double)n;
		lrv += s == 0 ? gs : 2 * (1 - (double)s / (double)(l + 1)) * gs;
	}
	return num / ((double)n * (double)n) / lrv;
}

static void test_an_arima__kpss(void **state)
{
	(void)state;
	enum { N = 400 };
	uint64_t seed = 5;
	double wn[N], rw[N], st, ref;
	for (size_t i = 0; i < N; i++) {
		wn[i] = cm_rand_gauss(&seed);
		rw[i] = (i ? rw[i - 1] : 0) + cm_rand_gauss(&seed);
	}
	const size_t lags[] = { 0, 4, 12 };
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(an_arima_kpss(wn, N, lags[k], &st), 0);
		ref = naive_kpss(wn, N, lags[k]);
		assert_true(fabs(st - ref) < 1e-10 * ref);
		assert_int_equal(an_arima_kpss(rw, N, lags[k], &st), 0);
		ref = naive_kpss(rw, N, lags[k]);
		assert_true(fabs(st - ref) < 1e-10 * ref);
	}
	assert_int_equal(an_arima_kpss(wn, N, 4, &st), 0);
	assert_true(st < 0.463);
	assert_int_equal(an_arima_kpss(rw, N, 4, &st), 0);
	assert_true(st > 0.739);
	assert_int_equal(an_arima_kpss(wn, 1, 0, &st), -EINVAL);
	assert_int_equal(an_arima_kpss(wn, 10, 10, &st), -EINVAL);
	assert_int_equal(an_arima_ndiffs(wn, N, 2), 0);
	assert_int_equal(an_arima_ndiffs(rw, N, 2), 1);
}

static void test_an_arima__auto_random_walk(void **state)
{
	(void)state;
	enum { N = 300 };
	uint64_t seed = 11;
	double y[N];
	for (size_t i = 0; i < N; i++)
		y[i] = (i ? y[i - 1] : 10) + cm_rand_gauss(&seed);
	struct an_arima_auto_cfg cfg;
	an_arima_auto_cfg_init(&cfg, 1);
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_auto(y, N, &cfg, &a), 0);
	assert_int_equal(a->spec.d, 1);
	assert_true(a->spec.p + a->spec.q <= 1);
	an_arima_destroy(a);
}

/* A forced seasonal difference on fewer points than one period is refused
 * (n - D m once wrapped around). */
static void test_an_arima__auto_shorter_than_season(void **state)
{
	(void)state;
	double y[10] = { 1, 3, 2, 5, 4, 6, 5, 8, 7, 9 };
	struct an_arima_auto_cfg cfg;
	an_arima_auto_cfg_init(&cfg, 12);
	cfg.D = 1;
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_auto(y, 10, &cfg, &a), -EINVAL);
	assert_null(a);
}

/* AR(1), phi 0.7: KPSS with auto.arima's short lag over-differences such a
 * series now and then, and AICc sometimes prefers a near-equivalent ARMA;
 * so over five fixed seeds most selections must be exactly (1,0,0). */
static void test_an_arima__auto_ar1(void **state)
{
	(void)state;
	enum { N = 200 };
	double y[N], ar = 0.7;
	int exact = 0;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		simulate_arma(y, N, &ar, 1, NULL, 0, seed);
		struct an_arima_auto_cfg cfg;
		an_arima_auto_cfg_init(&cfg, 1);
		struct an_arima *a = NULL;
		assert_int_equal(an_arima_auto(y, N, &cfg, &a), 0);
		bool ok = a->spec.d == 0 && a->spec.p == 1 && a->spec.q == 0;
		if (ok && fabs(a->coef[0] - 0.7) < 0.15)
			exact++;
		an_arima_destroy(a);
	}
	assert_true(exact >= 4);
}

static void test_an_arima__auto_airline(void **state)
{
	(void)state;
	need_airpassengers();
	/* forecast::auto.arima(log(AirPassengers)) selects ARIMA(0,1,1)(0,1,1)[12] */
	struct an_arima_auto_cfg cfg;
	an_arima_auto_cfg_init(&cfg, 12);
	struct an_arima *a = NULL;
	assert_int_equal(an_arima_auto(ap_log, 144, &cfg, &a), 0);
	assert_int_equal(a->spec.D, 1);
	assert_int_equal(a->spec.d, 1);
	assert_int_equal(a->spec.p + a->spec.q + a->spec.P + a->spec.Q, 2);
	assert_int_equal(a->spec.q, 1);
	assert_int_equal(a->spec.Q, 1);
	an_arima_destroy(a);
	double strength = an_arima_seasonal_strength(ap_log, 144, 12);
	assert_true(strength > 0.64 && strength <= 1.0);
	assert_true(isnan(an_arima_seasonal_strength(ap_log, 20, 12)));
}

static void test_an_arima__forecast_entry_point(void **state)
{
	(void)state;
	need_airpassengers();
	double mean[24], lo[24], hi[24];
	struct an_forecast_out out = { mean, lo, hi };
	struct an_forecast_cfg cfg = { 12, 24, 0.8 };
	assert_int_equal(an_forecast_arima(ap_log, 144, &cfg, &out), 0);
	for (size_t h = 0; h < 24; h++) {
		assert_true(lo[h] < mean[h] && mean[h] < hi[h]);
		assert_true(mean[h] > 5.9 && mean[h] < 6.9);
	}
	/* a constant series forecasts itself with no spread */
	double c[50];
	for (size_t i = 0; i < 50; i++)
		c[i] = 4.25;
	cfg.period = 0;
	assert_int_equal(an_forecast_arima(c, 50, &cfg, &out), 0);
	for (size_t h = 0; h < 24; h++)
		assert_true(mean[h] == 4.25 && lo[h] == 4.25 && hi[h] == 4.25);
	/* a straight line continues */
	for (size_t i = 0; i < 50; i++)
		c[i] = 2.0 + 0.5 * (double)i;
	assert_int_equal(an_forecast_arima(c, 50, &cfg, &out), 0);
	for (size_t h = 0; h < 24; h++)
		assert_true(fabs(mean[h] - (2.0 + 0.5 * (double)(50 + h))) < 1e-9);
}

static void test_an_arima__bad_parameters(void **state)
{
	(void)state;
	need_airpassengers();
	struct an_arima *a = NULL;
	struct an_arima_spec s = airline;
	double y[30] = { 0 }, out[3];
	assert_int_equal(an_arima_fit(NULL, 144, &s, &a), -EINVAL);
	assert_int_equal(an_arima_fit(ap_log, 144, NULL, &a), -EINVAL);
	assert_int_equal(an_arima_fit(ap_log, 14, &s, &a), -EINVAL);     /* too short */
	s.m = 1;
	assert_int_equal(an_arima_fit(ap_log, 144, &s, &a), -EINVAL);    /* D without m */
	s = airline;
	s.include_constant = true;                                        /* d + D = 2 */
	assert_int_equal(an_arima_fit(ap_log, 144, &s, &a), -EINVAL);
	s = airline;
	s.method = 7;
	assert_int_equal(an_arima_fit(ap_log, 144, &s, &a), -EINVAL);
	memcpy(y, ap_log, sizeof(y));
	y[5] = NAN;
	struct an_arima_spec ar1 = { 1, 0, 0, 0, 0, 0, 0, true, AN_ARIMA_CSS_ML };
	assert_int_equal(an_arima_fit(y, 30, &ar1, &a), -EINVAL);
	for (size_t i = 0; i < 30; i++)
		y[i] = 1.0;
	assert_int_equal(an_arima_fit(y, 30, &ar1, &a), -EDOM);         /* no variance */
	assert_null(a);
	struct an_arima_auto_cfg cfg;
	an_arima_auto_cfg_init(&cfg, 1);
	assert_int_equal(an_arima_auto(y, 2, &cfg, &a), -EINVAL);
	struct an_forecast_cfg fc = { 0, 3, 1.5 };
	struct an_forecast_out fo = { out, out, out };
	assert_int_equal(an_forecast_arima(ap_log, 144, &fc, &fo), -EINVAL);
	fc.level = 0.9;
	fc.h = 0;
	assert_int_equal(an_forecast_arima(ap_log, 144, &fc, &fo), -EINVAL);
	assert_int_equal(an_arima_fit(ap_log, 144, &airline, &a), 0);
	assert_int_equal(an_arima_forecast(a, 3, 1.0, out, NULL, NULL), -EINVAL);
	assert_int_equal(an_arima_forecast(a, 0, 0.9, out, NULL, NULL), -EINVAL);
	assert_int_equal(an_arima_forecast(a, 3, 0.9, out, NULL, NULL), 0);
	an_arima_destroy(a);
	an_arima_destroy(NULL);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_arima__airline_matches_r),
		cmocka_unit_test(test_an_arima__airline_forecast),
		cmocka_unit_test(test_an_arima__ar1_closed_form),
		cmocka_unit_test(test_an_arima__seasonal_arma_dense),
		cmocka_unit_test(test_an_arima__recovers_simulated),
		cmocka_unit_test(test_an_arima__kpss),
		cmocka_unit_test(test_an_arima__auto_random_walk),
		cmocka_unit_test(test_an_arima__auto_shorter_than_season),
		cmocka_unit_test(test_an_arima__auto_ar1),
		cmocka_unit_test(test_an_arima__auto_airline),
		cmocka_unit_test(test_an_arima__forecast_entry_point),
		cmocka_unit_test(test_an_arima__bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
