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

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sort.h>

#include "an_fcauto.h"
#include "an_forecast.h"
#include "cm_clock.h"
#include "cm_rand.h"
#include "pf_dataset.h"

#define N 1000
#define H 48
#define RUNS 11

static double gauss(uint64_t *s)
{
	double u1 = ((double)(cm_splitmix64(s) >> 11) + 0.5) * 0x1p-53;
	double u2 = (double)(cm_splitmix64(s) >> 11) * 0x1p-53;
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static void make_series(double *seas, double *walk)
{
	uint64_t seed = 20240607;
	double e = 0, w = 100;
	for (size_t t = 0; t < N; t++) {
		e = 0.6 * e + gauss(&seed);
		seas[t] = 200 + 0.05 * (double)t + 30 * sin(2 * M_PI * (double)t / 24) +
			  10 * cos(4 * M_PI * (double)t / 24) + 3 * e;
		w += 0.1 + gauss(&seed);
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
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		double a = time_ms(models[i].fn, seas, 24);
		double b = time_ms(models[i].fn, walk, 0);
		if (isnan(a) || isnan(b))
			printf("# forecast_%s: failed (not linked or not implemented)\n",
			       models[i].name);
		if (!isnan(a))
			printf("BENCH forecast_%s_1000_ms %.3f ms\n", models[i].name, a);
		if (!isnan(b))
			printf("BENCH forecast_%s_1000_nonseasonal_ms %.3f ms\n", models[i].name, b);
	}
	printf("# median of %d runs, h = %d, seasonal series period 24; goal: each well"
	       " under 100 ms\n", RUNS, H);
	return 0;
}
