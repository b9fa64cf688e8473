/*
 * pf_forecast_bench.c - wall time of one fit + forecast (h = 48, 95%
 * intervals) on 1,000 points for the automatic forecasters: auto-ETS
 * (an_forecast_ets), auto-ARIMA (an_forecast_arima), the rolling-origin
 * auto (an_forecast_auto) and Prophet, on a fixed-seed seasonal series
 * (period 24: daily cycle + trend + AR(1) noise) and a non-seasonal one
 * (random walk with drift). Median of 11 runs after one warm-up; the naive
 * forecast's time is printed beside as the floor. Goal: each well under
 * 100 ms. Prints `BENCH <metric> <value> <unit>`.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sort.h>

#include "an_arima.h"
#include "an_ets.h"
#include "an_fcauto.h"
#include "an_forecast.h"
#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_rand.h"
#include "pf_dataset.h"

#define N 1000
#define H 48
#define RUNS 11

static void make_series(double *seas, double *walk)
{
	uint64_t seed = 20240607;
	double e = 0, w = 100;
	for (size_t t = 0; t < N; t++) {
		e = 0.6 * e + cm_rand_gauss(&seed);
		seas[t] = 200 + 0.05 * (double)t + 30 * sin(2 * M_PI * (double)t / 24) +
			  10 * cos(4 * M_PI * (double)t / 24) + 3 * e;
		w += 0.1 + cm_rand_gauss(&seed);
		walk[t] = w;
	}
}

/* Median wall time in ms of RUNS calls; NAN when the model fails. */
static double time_ms(an_forecast_fn fn, const double *y, size_t period)
{
	double m[H], l[H], u[H], ms[RUNS];
	struct an_forecast_cfg c = { .period = period, .h = H, .level = 0.95 };
	struct an_forecast_out o = { m, l, u };
	if (fn(y, N, &c, &o) < 0)
		return NAN;
	for (int r = 0; r < RUNS; r++) {
		int64_t t0 = cm_mono_ns();
		if (fn(y, N, &c, &o) < 0)
			return NAN;
		ms[r] = (double)(cm_mono_ns() - t0) / 1e6;
	}
	gsl_sort(ms, 1, RUNS);
	return ms[RUNS / 2];
}

/* ------------------------------------------------------------ AirPassengers */

/* The 144 monthly values, from ../shared/data/airpassengers; 0 when missing. */
static size_t load_airpassengers(double *y, size_t cap)
{
	char path[512], line[128];
	snprintf(path, sizeof(path), "%s/airpassengers/AirPassengers.csv", pf_shared_dir());
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (!f)
		return 0;
	while (n < cap && fgets(line, sizeof(line), f)) {
		char *comma = strchr(line, ',');
		if (comma && line[0] == '"' && line[1] != 'm')
			y[n++] = strtod(comma + 1, NULL);
	}
	fclose(f);
	return n;
}

/* Ours beside the reference (R, ../shared/data/README.md), and the relative gap. */
static void ref_line(const char *metric, double ours, double ref)
{
	printf("BENCH airpassengers_%s %.6f value\n", metric, ours);
	printf("# airpassengers_%s reference %.6f, ours %.6f, abs diff %.2g, rel diff %.2g\n",
	       metric, ref, ours, fabs(ours - ref), fabs(ours - ref) / fabs(ref));
}

static void hw_ref(const double *y, size_t n, enum an_hw_season type, const char *tag,
		   const double ref[5])
{
	struct an_hw_model m;
	double mean[1];
	struct an_forecast_out out = {mean, NULL, NULL};
	char name[64];
	if (an_hw_fit(y, n, 12, type, &m) || an_hw_predict(&m, 1, 0.95, &out)) {
		printf("# airpassengers %s: the fit failed\n", tag);
		return;
	}
	const double ours[5] = {m.alpha, m.beta, m.gamma, m.sse, mean[0]};
	static const char *const what[5] = {"alpha", "beta", "gamma", "sse", "jan1961"};
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "%s_%s", tag, what[i]);
		ref_line(name, ours[i], ref[i]);
	}
	an_hw_release(&m);
}

static void airline_ref(const double *y, size_t n)
{
	double logy[144];
	struct an_arima *a = NULL;
	struct an_arima_spec spec = {.q = 1, .d = 1, .Q = 1, .D = 1, .m = 12};
	for (size_t i = 0; i < n; i++)
		logy[i] = log(y[i]);
	if (an_arima_fit(logy, n, &spec, &a)) {
		printf("# airpassengers airline: the fit failed\n");
		return;
	}
	ref_line("airline_ma1", a->coef[0], -0.401828);
	ref_line("airline_sma1", a->coef[1], -0.556945);
	ref_line("airline_sigma2", a->sigma2, 0.0013480);
	ref_line("airline_loglik", a->loglik, 244.6995);
	ref_line("airline_aic", a->aic, -483.3991);
	an_arima_destroy(a);
}

/* The reference fits of the issue: Holt-Winters (both) and the airline model. */
static void airpassengers(void)
{
	double y[144];
	if (load_airpassengers(y, 144) != 144) {
		printf("SKIP: no AirPassengers under %s/airpassengers\n", pf_shared_dir());
		return;
	}
	static const double mul[5] = {0.275592, 0.032693, 0.870729, 16570.78, 447.0559};
	static const double add[5] = {0.247959, 0.034534, 1.0, 21860.18, 453.4977};
	hw_ref(y, 144, AN_HW_MUL, "hw_mul", mul);
	hw_ref(y, 144, AN_HW_ADD, "hw_add", add);
	airline_ref(y, 144);
}

int main(void)
{
	gsl_set_error_handler_off();
	pf_print_machine("forecast");
	static double seas[N], walk[N];
	make_series(seas, walk);
	static const struct {
		const char *name;
		an_forecast_fn fn;
	} models[] = {
		{ "naive", an_forecast_naive },
		{ "auto_ets", an_forecast_ets },
		{ "auto_arima", an_forecast_arima },
		{ "auto", an_forecast_auto },
		{ "prophet", an_forecast_prophet },
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(models); i++) {
		double a = time_ms(models[i].fn, seas, 24);
		double b = time_ms(models[i].fn, walk, 0);
		if (isnan(a) || isnan(b))
			printf("# forecast_%s: the model failed on a series\n", models[i].name);
		if (!isnan(a))
			printf("BENCH forecast_%s_1000_ms %.3f ms\n", models[i].name, a);
		if (!isnan(b))
			printf("BENCH forecast_%s_1000_nonseasonal_ms %.3f ms\n", models[i].name, b);
	}
	printf("# median of %d runs, h = %d, seasonal series period 24; goal: each well"
	       " under 100 ms\n", RUNS, H);
	airpassengers();
	return 0;
}
