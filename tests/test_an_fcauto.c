/*
 * test_an_fcauto.c - the rolling-origin selection/combination: backtest
 * scores against a brute-force re-implementation, the combination against
 * the members' own forecasts, the choice on a seasonal series and on a
 * random walk, failing candidates, determinism and bad parameters. The
 * candidates are the baselines, Prophet and test-local models.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_fcauto.h"
#include "cm_rand.h"

/* Test-local candidates: the mean of the history, and one that always fails. */
static int fc_mean(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		   struct an_forecast_out *out)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += y[i];
	for (size_t k = 0; k < cfg->h; k++)
		out->mean[k] = out->lower[k] = out->upper[k] = s / (double)n;
	return 0;
}

static int fc_fail(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		   struct an_forecast_out *out)
{
	(void)y, (void)n, (void)cfg, (void)out;
	return -EDOM;
}

static const struct an_fcauto_model table[] = {
	{ "naive", an_forecast_naive },
	{ "snaive", an_forecast_snaive },
	{ "mean", fc_mean },
	{ "fail", fc_fail },
	{ "prophet", an_forecast_prophet },
};

/* Brute-force MASE backtest of one candidate: origins n - i*hb, i = 1..3,
 * whole history before the origin (cap larger than n), lag-m scale. */
static double ref_score(an_forecast_fn fn, const double *y, size_t n, size_t m, size_t h)
{
	size_t hb = h < n / 5 ? h : n / 5;
	double f[64], lo[64], up[64], tot = 0;
	struct an_forecast_cfg c = { .period = m, .h = hb, .level = 0.95 };
	struct an_forecast_out o = { f, lo, up };
	for (size_t i = 1; i <= 3; i++) {
		size_t end = n - i * hb;
		if (fn(y, end, &c, &o) < 0)
			return NAN;
		double sc = 0, e = 0;
		for (size_t t = m; t < end; t++)
			sc += fabs(y[t] - y[t - m]) / (double)(end - m);
		for (size_t k = 0; k < hb; k++)
			e += fabs(y[end + k] - f[k]) / (double)hb;
		tot += e / sc / 3;
	}
	return tot;
}

static void make_seasonal(double *y, size_t n, uint64_t seed)
{
	for (size_t t = 0; t < n; t++)
		y[t] = 100 + 0.05 * (double)t + 10 * sin(2 * M_PI * (double)t / 24) +
		       cm_rand_gauss(&seed);
}

static void test_an_fcauto__scores_match_brute_force(void **state)
{
	(void)state;
	enum { N = 150, H = 12 };
	double y[N], m[H], l[H], u[H];
	make_seasonal(y, N, 5);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	struct an_fcauto_cfg ac;
	struct an_fcauto_result r;
	an_fcauto_cfg_init(&ac);
	ac.models = table;
	ac.nmodels = 4;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_int_equal(r.nmodels, 4);
	for (size_t i = 0; i < 4; i++) {
		double want = ref_score(table[i].fn, y, N, 24, H);
		assert_string_equal(r.name[i], table[i].name);
		if (isnan(want))
			assert_true(isnan(r.score[i]));
		else if (!(fabs(r.score[i] - want) < 1e-12 * want))
			fail_msg("%s: %g != %g", table[i].name, r.score[i], want);
	}
}

/* Combination of the top 2 = the equal mean of their own full forecasts. */
static void test_an_fcauto__combination_is_weighted_mean(void **state)
{
	(void)state;
	enum { N = 200, H = 10 };
	double y[N], m[H], l[H], u[H], m1[H], l1[H], u1[H], m2[H], l2[H], u2[H];
	make_seasonal(y, N, 9);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.9 };
	struct an_forecast_out o = { m, l, u }, o1 = { m1, l1, u1 }, o2 = { m2, l2, u2 };
	struct an_fcauto_cfg ac;
	struct an_fcauto_result r;
	an_fcauto_cfg_init(&ac);
	ac.models = table;
	ac.nmodels = 4;
	ac.top_k = 2;
	ac.weighting = AN_FCAUTO_EQUAL;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_int_equal(r.nchosen, 2);
	assert_true(r.score[r.chosen[0]] <= r.score[r.chosen[1]]);
	assert_int_equal(table[r.chosen[0]].fn(y, N, &c, &o1), 0);
	assert_int_equal(table[r.chosen[1]].fn(y, N, &c, &o2), 0);
	for (size_t k = 0; k < H; k++) {
		assert_true(fabs(m[k] - (m1[k] + m2[k]) / 2) < 1e-9);
		assert_true(fabs(l[k] - (l1[k] + l2[k]) / 2) < 1e-9);
		assert_true(fabs(u[k] - (u1[k] + u2[k]) / 2) < 1e-9);
	}
	/* Inverse-error weights favour the better member. */
	ac.weighting = AN_FCAUTO_INVERSE_ERROR;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_true(r.weight[0] > r.weight[1]);
	assert_true(fabs(r.weight[0] + r.weight[1] - 1) < 1e-12);
}

/* Seasonal series: auto beats naive on the held-out day; random walk: naive chosen. */
static void test_an_fcauto__chooses_sensibly(void **state)
{
	(void)state;
	enum { N = 480, H = 24 };
	double y[N + H], m[H], l[H], u[H], mn[H], ln[H], un[H];
	make_seasonal(y, N + H, 77);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u }, on = { mn, ln, un };
	struct an_fcauto_cfg ac;
	struct an_fcauto_result r;
	an_fcauto_cfg_init(&ac);
	ac.models = table;
	ac.nmodels = 5;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_int_equal(an_forecast_naive(y, N, &c, &on), 0);
	double ea = 0, en = 0;
	for (size_t k = 0; k < H; k++) {
		ea += fabs(y[N + k] - m[k]);
		en += fabs(y[N + k] - mn[k]);
	}
	assert_true(ea < 0.5 * en);
	assert_true(isnan(r.score[3]));   /* the failing candidate */
	assert_int_equal(r.nchosen, 2);
	assert_string_not_equal(r.name[r.chosen[0]], "naive");
	assert_string_not_equal(r.name[r.chosen[0]], "mean");

	uint64_t seed = 99;
	y[0] = 500;
	for (size_t t = 1; t < N; t++)
		y[t] = y[t - 1] + 5 * cm_rand_gauss(&seed);
	ac.mode = AN_FCAUTO_SELECT;
	ac.nmodels = 4;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_int_equal(r.nchosen, 1);
	assert_string_equal(r.name[r.chosen[0]], "naive");
	assert_true(m[0] == y[N - 1]);
}

static void test_an_fcauto__fallback_and_determinism(void **state)
{
	(void)state;
	enum { N = 100, H = 6 };
	double y[N], m[H], l[H], u[H], m2[H], l2[H], u2[H];
	make_seasonal(y, N, 1);
	struct an_forecast_cfg c = { .period = 24, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u }, o2 = { m2, l2, u2 };
	struct an_fcauto_cfg ac;
	struct an_fcauto_result r;
	an_fcauto_cfg_init(&ac);
	ac.models = table + 3;   /* only "fail" */
	ac.nmodels = 1;
	assert_int_equal(an_fcauto_forecast(y, N, &c, &ac, &o, &r), 0);
	assert_int_equal(r.fallback, 1);
	assert_int_equal(r.nchosen, 0);
	assert_true(m[0] == y[N - 1]);
	/* The default table (whatever of it is linked) twice: the same answer. */
	assert_int_equal(an_forecast_auto(y, N, &c, &o), 0);
	assert_int_equal(an_forecast_auto(y, N, &c, &o2), 0);
	assert_memory_equal(m, m2, sizeof(m));
	assert_memory_equal(l, l2, sizeof(l));
	assert_memory_equal(u, u2, sizeof(u));
}

static void test_an_fcauto__bad_parameters(void **state)
{
	(void)state;
	double y[30], m[3], l[3], u[3];
	for (int t = 0; t < 30; t++)
		y[t] = t % 5;
	struct an_forecast_cfg c = { .period = 5, .h = 3, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	struct an_fcauto_cfg ac;
	an_fcauto_cfg_init(&ac);
	assert_int_equal(an_fcauto_forecast(NULL, 30, &c, &ac, &o, NULL), -EINVAL);
	assert_int_equal(an_fcauto_forecast(y, 1, &c, &ac, &o, NULL), -EINVAL);
	assert_int_equal(an_fcauto_forecast(y, 30, &c, NULL, &o, NULL), -EINVAL);
	ac.nmodels = AN_FCAUTO_MAX_MODELS + 1;
	assert_int_equal(an_fcauto_forecast(y, 30, &c, &ac, &o, NULL), -EINVAL);
	an_fcauto_cfg_init(&ac);
	y[3] = NAN;
	assert_int_equal(an_forecast_auto(y, 30, &c, &o), -EINVAL);
	y[3] = 3;
	/* Very short series still get an answer. */
	assert_int_equal(an_forecast_auto(y, 4, &c, &o), 0);
	assert_true(isfinite(m[0]));
}

int main(void)
{
	gsl_set_error_handler_off();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_fcauto__scores_match_brute_force),
		cmocka_unit_test(test_an_fcauto__combination_is_weighted_mean),
		cmocka_unit_test(test_an_fcauto__chooses_sensibly),
		cmocka_unit_test(test_an_fcauto__fallback_and_determinism),
		cmocka_unit_test(test_an_fcauto__bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
