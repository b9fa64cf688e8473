/*
 * test_an_ets.c - Holt-Winters against R's published AirPassengers fits,
 * ETS model selection and parameter recovery on series simulated from known
 * models (fixed seeds, the textbook error-correction recursions written out
 * here), the likelihood and AICc against a recomputation, interval shapes,
 * bad input, and automatic ETS on a long seasonal series.
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
#include <cmocka.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>

#include "an_ets.h"
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

static bool rel_close(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fabs(b);
}

/* A simulated ETS series (Hyndman et al. 2008, Table 2.1, error-correction
 * form): trend 0 none, 1 additive, 2 damped; season 0 none, 1 additive,
 * 2 multiplicative (initial pattern amp * sin); err_mul relative errors. */
struct sim {
	size_t n, m;
	int err_mul, trend, season;
	double alpha, beta, gamma, phi, l, b, amp, sd;
	uint64_t seed;
};

static void simulate(const struct sim *c, double *y)
{
	double s[64], l = c->l, b = c->b;
	uint64_t st = c->seed;

	for (size_t j = 0; j < c->m; j++)
		s[j] = c->season == 2 ? 1 + c->amp * sin(2 * M_PI * j / c->m) :
				       c->amp * sin(2 * M_PI * j / c->m);
	for (size_t i = 0; i < c->n; i++) {
		double phi = c->trend == 2 ? c->phi : 1.0, pb = c->trend ? phi * b : 0.0;
		double q = l + pb, sk = c->season ? s[i % c->m] : 0.0;
		double mu = c->season == 1 ? q + sk : c->season == 2 ? q * sk : q;
		double e = c->sd * cm_rand_gauss(&st);
		y[i] = c->err_mul ? mu * (1 + e) : mu + e;
		/* error-correction updates with r = the state's error term */
		double eps = c->err_mul ? mu * e : e;
		double el = c->season == 2 ? eps / sk : eps;
		l = q + c->alpha * el;
		if (c->trend)
			b = pb + c->beta * el;
		if (c->season == 1)
			s[i % c->m] = sk + c->gamma * eps;
		else if (c->season == 2)
			s[i % c->m] = sk + c->gamma * eps / q;
	}
}

/* ---- Holt-Winters vs R ---- */

static void test_an_ets__hw_mul_airpassengers(void **state)
{
	(void)state;
	need_airpassengers();
	struct an_hw_model m;
	assert_int_equal(an_hw_fit(ap, 144, 12, AN_HW_MUL, &m), 0);
	assert_true(fabs(m.alpha - 0.275592) < 1e-3);
	assert_true(fabs(m.beta - 0.032693) < 1e-3);
	assert_true(fabs(m.gamma - 0.870729) < 1e-3);
	assert_true(rel_close(m.sse, 16570.78, 1e-3));
	/* R's coefficients a and b */
	assert_true(rel_close(m.level, 469.3232, 1e-3));
	assert_true(rel_close(m.trend, 3.021539, 1e-3));
	assert_int_equal(m.n_resid, 132);
	double mean[24], lo[24], up[24];
	struct an_forecast_out o = { mean, lo, up };
	assert_int_equal(an_hw_predict(&m, 24, 0.95, &o), 0);
	assert_true(rel_close(mean[0], 447.0559, 1e-3));
	/* h = 1: psi(0) = alpha + gamma (1 - alpha), as predict.HoltWinters */
	double psi0 = m.alpha + m.gamma * (1 - m.alpha);
	double half = gsl_cdf_ugaussian_Pinv(0.975) * sqrt(m.resid_var) * psi0;
	assert_true(rel_close(up[0] - mean[0], half, 1e-9));
	an_hw_release(&m);
	an_hw_release(&m);
	an_hw_release(NULL);

	struct an_forecast_cfg cfg = { .period = 12, .h = 24, .level = 0.8 };
	assert_int_equal(an_forecast_hw_mul(ap, 144, &cfg, &o), 0);
	assert_true(rel_close(mean[0], 447.0559, 1e-3));
	assert_true(lo[0] < mean[0] && mean[0] < up[0]);
}

static void test_an_ets__hw_add_airpassengers(void **state)
{
	(void)state;
	need_airpassengers();
	struct an_hw_model m;
	assert_int_equal(an_hw_fit(ap, 144, 12, AN_HW_ADD, &m), 0);
	assert_true(fabs(m.alpha - 0.247959) < 1e-3);
	assert_true(fabs(m.beta - 0.034534) < 1e-3);
	assert_true(fabs(m.gamma - 1.0) < 1e-3);
	assert_true(rel_close(m.sse, 21860.18, 1e-3));
	assert_true(rel_close(m.level, 477.8278, 1e-3));
	assert_true(rel_close(m.trend, 3.127627, 1e-3));
	double mean[36], lo[36], up[36];
	struct an_forecast_out o = { mean, lo, up };
	assert_int_equal(an_hw_predict(&m, 36, 0.95, &o), 0);
	assert_true(rel_close(mean[0], 453.4977, 1e-3));
	/* predict.HoltWinters: var(h) = var(res) (1 + sum_{j<h} psi_j^2),
	 * psi_j = alpha (1 + j beta) + [j % 12 == 0] gamma (1 - alpha). */
	double z = gsl_cdf_ugaussian_Pinv(0.975), v = 1;
	for (int h = 1; h <= 36; h++) {
		if (h > 1) {
			int j = h - 1;
			double psi = m.alpha * (1 + j * m.beta) + (j % 12 == 0) * m.gamma * (1 - m.alpha);
			v += psi * psi;
		}
		assert_true(rel_close(up[h - 1] - mean[h - 1], z * sqrt(m.resid_var * v), 1e-9));
		assert_true(rel_close(mean[h - 1] - lo[h - 1], z * sqrt(m.resid_var * v), 1e-9));
	}
	/* the forecast repeats the seasonal coefficients around the trend line */
	assert_true(fabs((mean[12] - mean[0]) - 12 * m.trend) < 1e-9);
	an_hw_release(&m);
}

static void test_an_ets__hw_holt_exact_on_a_line(void **state)
{
	(void)state;
	double y[20], mean[5];
	for (int i = 0; i < 20; i++)
		y[i] = 3 + 2 * i;
	struct an_hw_model m;
	assert_int_equal(an_hw_fit(y, 20, 0, AN_HW_NONE, &m), 0);
	assert_true(m.sse < 1e-18);
	struct an_forecast_out o = { mean, NULL, NULL };
	assert_int_equal(an_hw_predict(&m, 5, 0, &o), 0);
	for (int h = 0; h < 5; h++)
		assert_true(fabs(mean[h] - (3 + 2 * (20 + h))) < 1e-9);
	an_hw_release(&m);
}

/* ---- ETS ---- */

static void test_an_ets__selects_model_family(void **state)
{
	(void)state;
	static const struct sim cases[] = {
		{ 400, 1, 0, 0, 0, 0.3, 0, 0, 1, 10, 0, 0, 1, 1000 },              /* ANN */
		{ 360, 12, 0, 1, 1, 0.2, 0.05, 0.3, 1, 0, 0.5, 10, 1, 1001 },      /* AAA */
		{ 480, 12, 1, 1, 2, 0.3, 0.002, 0.3, 1, 1000, 2, 0.3, 0.03, 1002 }, /* MAM */
		{ 400, 1, 0, 2, 0, 0.5, 0.1, 0, 0.9, 50, 2, 0, 1, 1004 },          /* AAdN */
	};
	static const struct an_ets_spec want[] = {
		{ AN_ETS_ERR_A, AN_ETS_TREND_N, AN_ETS_SEAS_N },
		{ AN_ETS_ERR_A, AN_ETS_TREND_A, AN_ETS_SEAS_A },
		{ AN_ETS_ERR_M, AN_ETS_TREND_A, AN_ETS_SEAS_M },
		{ AN_ETS_ERR_A, AN_ETS_TREND_AD, AN_ETS_SEAS_N },
	};
	static double y[480];
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct an_ets_model m;
		simulate(&cases[c], y);
		assert_int_equal(an_ets_auto(y, cases[c].n, cases[c].m, &m), 0);
		assert_int_equal(m.spec.error, want[c].error);
		assert_int_equal(m.spec.trend, want[c].trend);
		assert_int_equal(m.spec.season, want[c].season);
		assert_true(fabs(m.alpha - cases[c].alpha) < 0.12);
		if (cases[c].season)
			assert_true(fabs(m.gamma - cases[c].gamma) < 0.15);
		if (cases[c].trend == 2)
			assert_true(fabs(m.phi - cases[c].phi) < 0.08);
		an_ets_release(&m);
	}
}

/* The likelihood by the textbook recursion for ETS(A,Ad,N) and (M,N,N). */
static void test_an_ets__likelihood_and_aicc(void **state)
{
	(void)state;
	static const struct sim aad = { 300, 1, 0, 2, 0, 0.4, 0.1, 0, 0.9, 50, 1, 0, 1, 77 };
	static const struct sim mnn = { 300, 1, 1, 0, 0, 0.4, 0, 0, 1, 100, 0, 0, 0.05, 78 };
	static double y[300];
	struct an_ets_model m;
	const struct an_ets_spec sp1 = { AN_ETS_ERR_A, AN_ETS_TREND_AD, AN_ETS_SEAS_N };
	const struct an_ets_spec sp2 = { AN_ETS_ERR_M, AN_ETS_TREND_N, AN_ETS_SEAS_N };

	simulate(&aad, y);
	assert_int_equal(an_ets_fit(y, 300, 1, &sp1, &m), 0);
	double l = m.l0, b = m.b0, sse = 0;
	for (int i = 0; i < 300; i++) {
		double e = y[i] - (l + m.phi * b);
		sse += e * e;
		l = l + m.phi * b + m.alpha * e;
		b = m.phi * b + m.beta * e;
	}
	assert_true(rel_close(m.sse, sse, 1e-9));
	assert_true(fabs(m.level - l) < 1e-9 * fabs(l) && fabs(m.trend - b) < 1e-6);
	double n = 300, k = 6;  /* alpha beta phi l0 b0 sigma^2 */
	double ll = -0.5 * n * (log(2 * M_PI * sse / n) + 1);
	assert_int_equal(m.npar, 6);
	assert_true(rel_close(m.loglik, ll, 1e-9));
	assert_true(rel_close(m.aicc, -2 * ll + 2 * k + 2 * k * (k + 1) / (n - k - 1), 1e-9));
	assert_true(m.beta < m.alpha && m.phi >= 0.8 && m.phi <= 0.98);
	an_ets_release(&m);

	simulate(&mnn, y);
	assert_int_equal(an_ets_fit(y, 300, 1, &sp2, &m), 0);
	double slog = 0;
	l = m.l0, sse = 0;
	for (int i = 0; i < 300; i++) {
		double e = (y[i] - l) / l;
		sse += e * e;
		slog += log(l);
		l = l * (1 + m.alpha * e);
	}
	ll = -0.5 * n * (log(2 * M_PI * sse / n) + 1) - slog;
	assert_true(rel_close(m.loglik, ll, 1e-9));
	assert_true(rel_close(m.aicc, -2 * ll + 6 + 2 * 3 * 4 / (n - 4), 1e-9));
	an_ets_release(&m);
}

static void check_widening(const double *mean, const double *lo, const double *up, size_t h,
			   bool strict)
{
	for (size_t i = 0; i < h; i++) {
		assert_true(lo[i] < mean[i] && mean[i] < up[i]);
		if (strict && i > 0)
			assert_true(up[i] - lo[i] > up[i - 1] - lo[i - 1]);
	}
	assert_true(up[h - 1] - lo[h - 1] > 1.5 * (up[0] - lo[0]));
}

static void test_an_ets__intervals_widen(void **state)
{
	(void)state;
	static const struct sim aaa = { 240, 12, 0, 1, 1, 0.3, 0.05, 0.2, 1, 20, 0.2, 5, 1, 5 };
	static const struct sim mam = { 240, 12, 1, 1, 2, 0.3, 0.01, 0.2, 1, 500, 1, 0.3, 0.03, 6 };
	double y[240], mean[36], lo[36], up[36];
	struct an_forecast_out o = { mean, lo, up };
	struct an_ets_model m;
	const struct an_ets_spec s1 = { AN_ETS_ERR_A, AN_ETS_TREND_A, AN_ETS_SEAS_A };
	const struct an_ets_spec s2 = { AN_ETS_ERR_M, AN_ETS_TREND_A, AN_ETS_SEAS_M };

	simulate(&aaa, y);
	assert_int_equal(an_ets_fit(y, 240, 12, &s1, &m), 0);
	assert_int_equal(an_ets_predict(&m, 36, 0.95, &o), 0);
	check_widening(mean, lo, up, 36, true);
	/* class 1: v_h = sigma^2 (1 + sum_{j<h} (alpha + beta j + gamma [j % 12 == 0])^2) */
	double v = 1;
	for (int h = 1; h <= 36; h++) {
		if (h > 1) {
			int j = h - 1;
			double c = m.alpha + m.beta * j + (j % 12 == 0) * m.gamma;
			v += c * c;
		}
		assert_true(rel_close(up[h - 1] - mean[h - 1], 1.959964 * sqrt(m.sigma2 * v), 1e-6));
	}
	/* and sigma^2 = SSE / (n - npar), npar = 3 + 2 + 12 (AAA, m = 12) */
	assert_int_equal(m.npar, 17);
	assert_true(rel_close(m.sigma2, m.sse / (240 - 17), 1e-12));
	an_ets_release(&m);

	simulate(&mam, y);
	assert_int_equal(an_ets_fit(y, 240, 12, &s2, &m), 0);
	assert_int_equal(an_ets_predict(&m, 36, 0.9, &o), 0);
	check_widening(mean, lo, up, 36, false);
	/* simulated h = 1 interval ~ mean (1 +- 1.645 sigma) */
	assert_true(rel_close(up[0] - lo[0], 2 * 1.645 * sqrt(m.sigma2) * mean[0], 0.15));
	an_ets_release(&m);

	struct an_forecast_cfg cfg = { .period = 12, .h = 36 };
	assert_int_equal(an_forecast_ets(y, 240, &cfg, &o), 0);
	check_widening(mean, lo, up, 36, false);
}

static void test_an_ets__damped_m4(void **state)
{
	(void)state;
	need_airpassengers();
	double mean[24], lo[24], up[24];
	struct an_forecast_out o = { mean, lo, up };
	struct an_forecast_cfg cfg = { .period = 12, .h = 24 };

	/* Seasonal: forecasts carry the multiplicative pattern (July > Nov). */
	assert_int_equal(an_forecast_hw_damped(ap, 144, &cfg, &o), 0);
	assert_true(mean[6] > 1.2 * mean[10]);
	check_widening(mean, lo, up, 24, false);

	/* A noisy line: a damped trend rises by shrinking steps. */
	double y[100];
	uint64_t s = 9;
	for (int i = 0; i < 100; i++)
		y[i] = 10 + 0.5 * i + 0.5 * cm_rand_gauss(&s);
	cfg.period = 0;
	assert_int_equal(an_forecast_hw_damped(y, 100, &cfg, &o), 0);
	for (int h = 2; h < 24; h++) {
		double d1 = mean[h] - mean[h - 1], d0 = mean[h - 1] - mean[h - 2];
		assert_true(d1 > 0 && d1 < d0);
	}
	assert_true(fabs(mean[0] - (10 + 0.5 * 100)) < 2);
}

static void test_an_ets__bad_input(void **state)
{
	(void)state;
	double y[40], mean[4], lo[4], up[4];
	struct an_forecast_out o = { mean, lo, up };
	struct an_forecast_cfg cfg = { .period = 12, .h = 4 };
	struct an_ets_model m;
	struct an_hw_model hm;
	const struct an_ets_spec ann = { AN_ETS_ERR_A, AN_ETS_TREND_N, AN_ETS_SEAS_N };
	const struct an_ets_spec mnm = { AN_ETS_ERR_M, AN_ETS_TREND_N, AN_ETS_SEAS_M };

	for (int i = 0; i < 40; i++)
		y[i] = 5;
	/* constant data: every forecaster returns the constant */
	assert_int_equal(an_forecast_ets(y, 40, &cfg, &o), 0);
	assert_true(fabs(mean[3] - 5) < 1e-6);
	assert_int_equal(an_forecast_hw_damped(y, 40, &cfg, &o), 0);
	assert_true(fabs(mean[3] - 5) < 1e-6);
	assert_int_equal(an_forecast_hw_add(y, 40, &cfg, &o), 0);
	assert_true(fabs(mean[3] - 5) < 1e-6);

	assert_int_equal(an_ets_fit(y, 6, 1, &ann, &m), -EINVAL);   /* n < 7 */
	assert_int_equal(an_ets_fit(y, 7, 1, &ann, &m), 0);
	an_ets_release(&m);
	assert_int_equal(an_ets_fit(y, 24, 12, &mnm, &m), -EINVAL); /* n <= 2m */
	assert_int_equal(an_ets_auto(y, 6, 1, &m), -EINVAL);
	assert_int_equal(an_hw_fit(y, 26, 12, AN_HW_ADD, &hm), -EINVAL);
	assert_int_equal(an_hw_fit(y, 27, 12, AN_HW_ADD, &hm), 0);
	an_hw_release(&hm);
	assert_int_equal(an_hw_fit(y, 30, 12, 7, &hm), -EINVAL);
	y[3] = -1;
	assert_int_equal(an_ets_fit(y, 40, 12, &mnm, &m), -EINVAL);
	assert_int_equal(an_hw_fit(y, 40, 12, AN_HW_MUL, &hm), -EINVAL);
	assert_int_equal(an_forecast_ets(y, 40, &cfg, &o), 0);      /* additive models */
	y[3] = NAN;
	assert_int_equal(an_forecast_ets(y, 40, &cfg, &o), -EINVAL);
	assert_int_equal(an_forecast_hw_add(y, 40, &cfg, &o), -EINVAL);
	assert_int_equal(an_forecast_hw_damped(y, 40, &cfg, &o), -EINVAL);
	y[3] = 5;
	cfg.h = 0;
	assert_int_equal(an_forecast_ets(y, 40, &cfg, &o), -EINVAL);
	cfg.h = 4, cfg.level = 1.5;
	assert_int_equal(an_forecast_hw_mul(y, 40, &cfg, &o), -EINVAL);
	assert_int_equal(an_forecast_ets(NULL, 40, &cfg, &o), -EINVAL);
	cfg.level = 0;   /* an_forecast.h: all three output buffers are required */
	struct an_forecast_out no_bounds = { mean, NULL, NULL };
	assert_int_equal(an_forecast_ets(y, 40, &cfg, &no_bounds), -EINVAL);
	assert_int_equal(an_forecast_hw_add(y, 40, &cfg, &no_bounds), -EINVAL);
	assert_int_equal(an_forecast_hw_damped(y, 40, &cfg, &no_bounds), -EINVAL);
}

/* Automatic ETS on 1,000 points at m = 24 succeeds (its time is
 * perf/pf_forecast_bench's figure, not a test's). */
static void test_an_ets__auto_long_seasonal(void **state)
{
	(void)state;
	static const struct sim c = { 1000, 24, 1, 1, 2, 0.2, 0.001, 0.3, 1, 1000, 1, 0.3, 0.02, 42 };
	static double y[1000];
	double mean[48], lo[48], up[48];
	struct an_forecast_out o = { mean, lo, up };
	struct an_forecast_cfg cfg = { .period = 24, .h = 48 };

	simulate(&c, y);
	assert_int_equal(an_forecast_ets(y, 1000, &cfg, &o), 0);
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_ets__hw_mul_airpassengers),
		cmocka_unit_test(test_an_ets__hw_add_airpassengers),
		cmocka_unit_test(test_an_ets__hw_holt_exact_on_a_line),
		cmocka_unit_test(test_an_ets__selects_model_family),
		cmocka_unit_test(test_an_ets__likelihood_and_aicc),
		cmocka_unit_test(test_an_ets__intervals_widen),
		cmocka_unit_test(test_an_ets__damped_m4),
		cmocka_unit_test(test_an_ets__bad_input),
		cmocka_unit_test(test_an_ets__auto_long_seasonal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
