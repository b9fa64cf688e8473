/*
 * test_an_stl.c - STL against R's stats::stl outputs (Twitter's raw_data at
 * period 1440 and log AirPassengers at 12, both periodic + robust, in
 * SF_DATA_DIR), closed forms (constant and linear series), robustness weights
 * of a spike, and parameter checks.
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

#include "an_stl.h"

#define TWITTER_STL SF_DATA_DIR "/twitter_ad/stl_raw_data_p1440_periodic_robust.csv"
#define AP_STL SF_DATA_DIR "/airpassengers/stl_logAP_periodic_robust.csv"

/* One R stl() output table: y, seasonal, trend, remainder per row. */
struct rstl {
	size_t n;
	double *y, *s, *t, *r;
};

static void rstl_load(const char *path, struct rstl *o)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t cap = 16384;
	assert_non_null(f);
	o->n = 0;
	o->y = malloc(4 * cap * sizeof(double));
	assert_non_null(o->y);
	o->s = o->y + cap;
	o->t = o->s + cap;
	o->r = o->t + cap;
	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f) && o->n < cap) {
		double i;
		if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &i, &o->y[o->n], &o->s[o->n], &o->t[o->n],
			   &o->r[o->n]) == 5)
			o->n++;
	}
	fclose(f);
}

/* Skips the calling test (cmocka's skip()) when an R reference is missing. */
static void need_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		print_message("skip: %s missing\n", path);
		skip();
	}
	fclose(f);
}

/* Max abs difference of our periodic robust STL from R's table. */
static double stl_vs_r(const char *path, size_t period)
{
	struct rstl r;
	struct an_stl_cfg cfg;
	rstl_load(path, &r);
	double *out = malloc(3 * r.n * sizeof(double));
	assert_non_null(out);
	an_stl_cfg_init(&cfg, period);
	cfg.robust = true;
	assert_int_equal(an_stl(r.y, r.n, &cfg, out, out + r.n, out + 2 * r.n, NULL), 0);
	double e = 0;
	for (size_t i = 0; i < r.n; i++) {
		e = fmax(e, fabs(out[i] - r.s[i]));
		e = fmax(e, fabs(out[r.n + i] - r.t[i]));
		e = fmax(e, fabs(out[2 * r.n + i] - r.r[i]));
	}
	free(out);
	free(r.y);
	return e;
}

static void test_an_stl__matches_r_twitter_p1440(void **state)
{
	(void)state;
	need_file(TWITTER_STL);
	/* R printed 6 decimals: 5e-7 is the rounding floor (series scale ~250). */
	double e = stl_vs_r(TWITTER_STL, 1440);
	print_message("twitter p1440 max abs err %.3g\n", e);
	assert_true(e < 1e-6);
}

static void test_an_stl__matches_r_airpassengers(void **state)
{
	(void)state;
	need_file(AP_STL);
	/* Full-precision reference; we agree to ~2e-4 on a scale of 6.4 (see the
	 * module report: the cause of the residual gap is not identified). */
	double e = stl_vs_r(AP_STL, 12);
	print_message("log AirPassengers max abs err %.3g\n", e);
	assert_true(e < 5e-4);
}

static void test_an_stl__constant_series(void **state)
{
	(void)state;
	double y[100], s[100], t[100], r[100], w[100];
	struct an_stl_cfg cfg;
	for (int i = 0; i < 100; i++)
		y[i] = 7.25;
	an_stl_cfg_init(&cfg, 12);
	cfg.robust = true;
	assert_int_equal(an_stl(y, 100, &cfg, s, t, r, w), 0);
	for (int i = 0; i < 100; i++) {
		assert_true(fabs(s[i]) < 1e-12);
		assert_true(fabs(t[i] - 7.25) < 1e-12);
		assert_true(fabs(r[i]) < 1e-12);
		/* R's weights are 0 where rounding left a residual above 6 MAD = 0 */
		assert_true(w[i] >= 0.0 && w[i] <= 1.0);
	}
}

/* Loess of degree 1 reproduces lines: with s.degree 1 a linear series has a
 * zero seasonal part and is all trend. */
static void test_an_stl__linear_series_is_trend(void **state)
{
	(void)state;
	double y[120], s[120], t[120], r[120];
	struct an_stl_cfg cfg;
	for (int i = 0; i < 120; i++)
		y[i] = 3.0 + 0.5 * i;
	an_stl_cfg_init(&cfg, 10);
	cfg.periodic = false;
	cfg.s_window = 7;
	cfg.s_degree = 1;
	assert_int_equal(an_stl(y, 120, &cfg, s, t, r, NULL), 0);
	for (int i = 0; i < 120; i++) {
		assert_true(fabs(s[i]) < 1e-9);
		assert_true(fabs(t[i] - y[i]) < 1e-9);
	}
}

/* A sine season plus a slow trend and one spike: the robust fit gives the
 * spike weight 0, recovers the season, and keeps the spike in the remainder. */
static void test_an_stl__robust_spike(void **state)
{
	(void)state;
	enum { N = 24 * 10 };
	double y[N], s[N], t[N], r[N], w[N];
	struct an_stl_cfg cfg;
	for (int i = 0; i < N; i++)
		y[i] = 10.0 + 0.01 * i + 2.0 * sin(2 * M_PI * i / 24.0) + 0.05 * sin(i * 1.7);
	y[100] += 50.0;
	an_stl_cfg_init(&cfg, 24);
	cfg.robust = true;
	assert_int_equal(an_stl(y, N, &cfg, s, t, r, w), 0);
	assert_true(w[100] == 0.0);
	assert_true(r[100] > 45.0);
	for (int i = 24; i < N - 24; i++) {
		assert_true(fabs(s[i] - 2.0 * sin(2 * M_PI * i / 24.0)) < 0.1);
		assert_true(fabs(t[i] - 10.0 - 0.01 * i) < 0.1);
		assert_true(fabs(y[i] - s[i] - t[i] - r[i]) < 1e-9);
	}
	/* periodic: exactly the same seasonal at every cycle position */
	for (int i = 0; i + 24 < N; i++)
		assert_true(s[i] == s[i + 24]);
}

static void test_an_stl__bad_parameters(void **state)
{
	(void)state;
	double y[50] = { 0 }, s[50], t[50];
	struct an_stl_cfg cfg;
	an_stl_cfg_init(&cfg, 1);
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	an_stl_cfg_init(&cfg, 25); /* needs n > 2 * period */
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	an_stl_cfg_init(&cfg, 12);
	assert_int_equal(an_stl(NULL, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	assert_int_equal(an_stl(y, 50, &cfg, NULL, t, NULL, NULL), -EINVAL);
	assert_int_equal(an_stl(y, 50, NULL, s, t, NULL, NULL), -EINVAL);
	cfg.t_degree = 2;
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	an_stl_cfg_init(&cfg, 12);
	cfg.periodic = false; /* s_window required */
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	an_stl_cfg_init(&cfg, 12);
	y[7] = NAN;
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
	y[7] = INFINITY;
	assert_int_equal(an_stl(y, 50, &cfg, s, t, NULL, NULL), -EINVAL);
}

/* The R comparisons skip themselves when SF_DATA_DIR lacks the references;
 * the data-free tests always run. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_stl__matches_r_twitter_p1440),
		cmocka_unit_test(test_an_stl__matches_r_airpassengers),
		cmocka_unit_test(test_an_stl__constant_series),
		cmocka_unit_test(test_an_stl__linear_series_is_trend),
		cmocka_unit_test(test_an_stl__robust_spike),
		cmocka_unit_test(test_an_stl__bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
