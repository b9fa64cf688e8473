/*
 * an_prophet.h - a Prophet-style additive forecaster (Taylor & Letham 2018,
 * "Forecasting at scale"):
 *
 *   y(t) = g(t) + s(t) + h(t) + e(t),   t = 0..n-1 in points
 *
 * g: piecewise-linear trend, m + k t + sum_j delta_j (t - s_j)+, with
 *    n_changepoints potential change points s_j spread uniformly over the
 *    first changepoint_range (0.8) of the history, and a Laplace(0, tau)
 *    prior on the rate changes delta_j (an L1 penalty);
 * s: Fourier seasonalities, one (period in points, order) pair each, with a
 *    Normal(0, sigma) prior on the coefficients (ridge);
 * h: holiday effects: for each holiday, one indicator column per offset in
 *    [lower, upper] around each of its (in-sample or future) point indices,
 *    with a Normal(0, sigma) prior;
 * e: Gaussian noise.
 *
 * As in Prophet, y is scaled by max|y| and t by the history length before
 * the priors apply. The fit is the MAP estimate, found by penalised least
 * squares: a ridge solution (GSL Cholesky) warm-starts a coordinate-descent
 * solver for the L1 term, alternating with the noise scale sigma = RMS of
 * the residuals. Intervals follow Prophet: sample paths whose future trend
 * changes rate at the historical change-point frequency by Laplace(0,
 * mean|delta|) steps, plus Gaussian noise of the residual sigma; the bounds
 * are the sample quantiles (fixed seed, so deterministic).
 *
 * Seasonality is additive only; multiplicative seasonality is not
 * implemented (fit on log values for a multiplicative shape). No logistic
 * growth, no MCMC.
 *
 * Cost: O(n p^2) for p = 2 + changepoints + 2*sum(orders) + holiday columns
 * (about 50 by default) plus samples * h for the intervals; for the time of
 * a 1,000-point fit see perf/pf_forecast_bench (forecast_prophet_1000_ms). Pure numerical code, any thread, scratch freed before return.
 */
#ifndef AN_PROPHET_H
#define AN_PROPHET_H

#include <stddef.h>
#include <stdint.h>

#include "an_forecast.h"

#define AN_PROPHET_MAX_SEASONALITIES 8
#define AN_PROPHET_MAX_HOLIDAYS 16

struct an_prophet_seasonality {
	double period;       /* in points, > 1 (need not be an integer) */
	size_t order;        /* Fourier order: 2 * order columns */
	double prior_scale;  /* 0 = seasonality_prior_scale */
};

struct an_prophet_holiday {
	const size_t *at;    /* point indices of the occurrences (borrowed); may be >= n */
	size_t nat;
	int lower;           /* window of offsets around each occurrence, lower <= 0 <= upper */
	int upper;
	double prior_scale;  /* 0 = holidays_prior_scale */
};

struct an_prophet_cfg {
	size_t n_changepoints;          /* default 25 (fewer on short series) */
	double changepoint_range;       /* default 0.8 */
	double changepoint_prior_scale; /* tau, default 0.05 */
	double seasonality_prior_scale; /* default 10 */
	double holidays_prior_scale;    /* default 10 */
	struct an_prophet_seasonality seasonality[AN_PROPHET_MAX_SEASONALITIES];
	size_t nseasonality;            /* 0 = none */
	struct an_prophet_holiday holiday[AN_PROPHET_MAX_HOLIDAYS];
	size_t nholiday;
	size_t samples;                 /* interval sample paths, default 500 */
	uint64_t seed;                  /* default fixed */
};

/* Defaults for a series of the given seasonal period (0/1 = none): period
 * with order min(10, period / 2), no holidays, the Prophet priors above. */
void an_prophet_cfg_init(struct an_prophet_cfg *pc, size_t period);

/* Components of a fit, for callers that want them (may be NULL). */
struct an_prophet_fit {
	double k;           /* initial rate, in y units per point */
	double m;           /* offset at t = 0, in y units */
	double final_rate;  /* k + sum delta: the rate the forecast extrapolates */
	double sigma;       /* residual standard deviation, y units */
	size_t n_changepoints;
};

/* Fit y[0..n) (no NaN) and forecast cfg->h steps with pc's model.
 * Borrowed: y, cfg, pc (and the holiday arrays); out's buffers caller-owned.
 * 0; -EINVAL: bad parameters or n < 3; -EDOM: the linear solve failed;
 * -ENOMEM. A constant series forecasts the constant with zero width. */
int an_prophet_forecast(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			const struct an_prophet_cfg *pc, struct an_forecast_out *out,
			struct an_prophet_fit *fit);

/* an_forecast_prophet (an_forecast.h) uses an_prophet_cfg_init(cfg->period)
 * and, as Prophet does for sub-daily data, adds a weekly seasonality of
 * 7 * period points (order 3) when period >= 24 (taken as the daily cycle of
 * sub-daily data) and the series spans at least two such weeks. */

#endif /* AN_PROPHET_H */
