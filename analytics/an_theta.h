/*
 * an_theta.h - the Theta method (Assimakopoulos & Nikolopoulos 2000) as the
 * M4 competition's "Theta" benchmark computes it: the series, seasonally
 * adjusted when it passes the 90% seasonality test (an_decomp.h), is split
 * into theta line 0 (its least squares line, extrapolated) and theta line 2
 * (2 y - line 0, forecast by simple exponential smoothing fitted by least
 * squares over alpha and the initial level, forecast::ses); the forecast is
 * the mean of the two, reseasonalised. This is SES with drift half the
 * regression slope (Hyndman & Billah 2003), whose h-step variance
 * sigma^2 (1 + (h - 1) alpha^2) gives the prediction intervals.
 *
 * Usage profile: one fit per query or backtest fold, up to some thousands of
 * points, well under a millisecond per thousand. Pure numerical code: no I/O,
 * no threads, scratch memory per call; any thread.
 */
#ifndef AN_THETA_H
#define AN_THETA_H

#include <stddef.h>

#include "an_forecast.h"

/* A fitted (non-seasonal) Theta model. */
struct an_theta_model {
	size_t n;               /* points fitted */
	double a, b;            /* theta line 0: a + b t at t = 1..n */
	double alpha;           /* SES smoothing of theta line 2 */
	double level;           /* SES level after the last point */
	double sigma2;          /* one-step variance of the Theta forecasts,
				 * sum e^2 / (n - 3) */
};

/* Fits the Theta lines to y[0..n) as they are (no seasonal adjustment).
 * Needs n >= 7 finite values. Returns 0, -EINVAL, -EDOM (the SES fit did not
 * converge), -ENOMEM. y is borrowed. */
int an_theta_fit(const double *y, size_t n, struct an_theta_model *m);

/* Forecasts h >= 1 steps with intervals of coverage level (0 = 0.95); mean
 * required, lower/upper may be NULL. Returns 0 or -EINVAL. */
int an_theta_predict(const struct an_theta_model *m, size_t h, double level,
		     struct an_forecast_out *out);

#endif /* AN_THETA_H */
