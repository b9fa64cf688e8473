/*
 * an_decomp.h - classical seasonal decomposition and the seasonality test
 * the M4 competition's benchmarks use (Naive2, Theta, SES on seasonally
 * adjusted data): a series is called seasonal at period m when its lag-m
 * autocorrelation exceeds the 90% limit
 *   |r_m| > 1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n),
 * and is then adjusted with the multiplicative indices of a classical
 * decomposition (centred moving average of order m, mean ratio per
 * position, indices normalised to average 1). The same decomposition, in
 * its additive or multiplicative form, gives Holt-Winters' and ETS's start
 * values (an_ets.c).
 *
 * Pure numerical code, any thread, no allocation kept past a call.
 */
#ifndef AN_DECOMP_H
#define AN_DECOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "an_forecast.h"

/* True when y[0..n) passes the 90% lag-period ACF test above; false when
 * period < 2, n < 3 * period, the series is constant or not finite. */
bool an_seasonality_test(const double *y, size_t n, size_t period);

/*
 * Classical decomposition of y[0..n) at period as R's decompose(): the
 * centred moving average of order period (2 x period when even) is the
 * trend; figure[j], for positions j = 0..period-1 where y[i] is at position
 * i % period, gets the mean of y - trend (additive; then centred to sum 0)
 * or y / trend (mul; then scaled to average 1) over the points whose window
 * fits. trend, when not NULL, gets n entries: the moving average where the
 * window fits, NaN at the period/2 points of each end.
 * 0, -EINVAL (NULL y or figure, period < 2, n < 2 * period, mul with a
 * non-positive value), -ENOMEM. y borrowed; figure and trend caller-owned.
 */
int an_decompose(const double *y, size_t n, size_t period, bool mul, double *figure,
		 double *trend);

/* The multiplicative figure alone: an_decompose(y, n, period, true, index, NULL). */
int an_decompose_mul(const double *y, size_t n, size_t period, double *index);

/*
 * The M4 benchmarks' seasonal adjustment around a non-seasonal forecaster:
 * when cfg->period >= 2, y passes an_seasonality_test and every value is
 * positive, y is divided by the multiplicative indices, plain forecasts the
 * adjusted series with period 1, and the mean and both bounds are multiplied
 * back by the indices of their positions; otherwise plain forecasts y with
 * period 1. Checks the arguments as an_forecast_check first. Returns 0,
 * plain's error, -EINVAL or -ENOMEM. y borrowed; out as an_forecast.h.
 */
int an_forecast_seasadj(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out, an_forecast_fn plain);

#endif /* AN_DECOMP_H */
