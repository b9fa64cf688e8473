/*
 * an_ets.h - exponential smoothing forecasters:
 *   - Holt-Winters exactly as R's stats::HoltWinters (additive or
 *     multiplicative season, start values from decompose() of the first two
 *     periods, alpha/beta/gamma in [0,1] minimising the one-step SSE) with
 *     predict.HoltWinters' prediction intervals;
 *   - ETS state space models (Hyndman et al. 2008, as R forecast::ets):
 *     error A/M, trend N/A/Ad, season N/A/M, fitted by maximum likelihood,
 *     and the automatic choice among the admissible ones by AICc.
 * The an_forecast_hw_add/hw_mul/hw_damped/ets entry points of an_forecast.h
 * are built on these.
 *
 * Usage profile: one fit per FORECAST query or per series in a backtest, on
 * up to some thousands of points; an automatic ETS fit of 1,000 points at
 * period 24 takes a few tens of ms. Pure numerical code: no I/O, no threads,
 * scratch memory per call; any thread. Deterministic (simulated intervals
 * use a fixed seed).
 */
#ifndef AN_ETS_H
#define AN_ETS_H

#include <stddef.h>

#include "an_forecast.h"

/* ---- Holt-Winters (R stats::HoltWinters) ---- */

enum an_hw_season {
	AN_HW_NONE,     /* Holt's linear trend (R: gamma = FALSE) */
	AN_HW_ADD,
	AN_HW_MUL,
};

/* A fitted Holt-Winters model. Filled by an_hw_fit(); season is owned by the
 * model and freed by an_hw_release(). */
struct an_hw_model {
	enum an_hw_season type;
	size_t period;          /* 1 for AN_HW_NONE */
	double alpha, beta, gamma;
	double sse;             /* one-step squared errors over the fitted part */
	double resid_var;       /* var() of those errors (denominator count - 1) */
	size_t n_resid;         /* how many one-step errors (n - period, or n - 2) */
	double level, trend;    /* R's coefficients a and b at the last point */
	double *season;         /* R's s1..s_period: season[j] applies at h = j + 1 */
};

/* Fits y[0..n) like HoltWinters(ts(y, frequency = period), seasonal = type).
 * Seasonal types need period >= 2 and n >= 2 * period + 3 (AN_HW_MUL also
 * y > 0); AN_HW_NONE ignores period and needs n >= 5. Returns 0, -EINVAL (too
 * short, NaN/inf, bad type or NULL), -EDOM (the optimiser failed), -ENOMEM.
 * y is borrowed; on success call an_hw_release(m). */
int an_hw_fit(const double *y, size_t n, size_t period, enum an_hw_season type,
	      struct an_hw_model *m);

/* Point forecasts and predict.HoltWinters intervals of coverage level
 * (0 = 0.95) for h >= 1 steps into out (mean required; lower/upper may be
 * NULL). The multiplicative variance divides by the seasonal index of the
 * step's own position, where R reads coefficient b by an off-by-one when that
 * position is the last of the cycle. Returns 0 or -EINVAL. */
int an_hw_predict(const struct an_hw_model *m, size_t h, double level,
		  struct an_forecast_out *out);

/* Frees what an_hw_fit allocated; accepts NULL and released models. */
void an_hw_release(struct an_hw_model *m);

/* ---- ETS state space models (forecast::ets) ---- */

enum an_ets_err { AN_ETS_ERR_A, AN_ETS_ERR_M };
enum an_ets_trend { AN_ETS_TREND_N, AN_ETS_TREND_A, AN_ETS_TREND_AD };
enum an_ets_seas { AN_ETS_SEAS_N, AN_ETS_SEAS_A, AN_ETS_SEAS_M };

struct an_ets_spec {
	enum an_ets_err error;
	enum an_ets_trend trend;
	enum an_ets_seas season;
};

/* A fitted ETS model. season is owned by the model (an_ets_release). */
struct an_ets_model {
	struct an_ets_spec spec;
	size_t period;          /* 1 when non-seasonal */
	size_t n;               /* points fitted */
	double alpha, beta, gamma, phi;   /* beta/gamma 0 and phi 1 when unused */
	double l0, b0;          /* estimated initial level and trend */
	double level, trend;    /* states after the last point */
	double *season;         /* states after the last point by position:
				 * season[t % period] for time t */
	double sse;             /* sum of squared one-step errors (relative
				 * errors for multiplicative error) */
	double loglik;          /* Gaussian log-likelihood, sigma^2 = sse / n */
	size_t npar;            /* estimated parameters incl. sigma^2 */
	double aic, aicc, bic;
	double sigma2;          /* sse / (n - npar), for the intervals */
};

/* Fits one ETS model to y[0..n) by maximum likelihood over the smoothing
 * parameters (alpha in (1e-4, 1 - 1e-4), beta in (1e-4, alpha), gamma in
 * (1e-4, 1 - alpha), phi in [0.8, 0.98]) and the initial level and trend. The
 * initial seasonal states come from a classical decomposition of y (as
 * forecast::ets starts them) and are not re-estimated, though they count in
 * npar. Seasonal models need period >= 2 and n > 2 * period; every model
 * needs n >= npar + 4; multiplicative parts need y > 0. Returns 0, -EINVAL,
 * -EDOM (optimiser failure), -ENOMEM; on success call an_ets_release(m). */
int an_ets_fit(const double *y, size_t n, size_t period, const struct an_ets_spec *spec,
	       struct an_ets_model *m);

/* Fits every admissible model (forecast::ets defaults: no multiplicative
 * trend, no additive error with multiplicative season, no multiplicative
 * parts for non-positive data, no season when period < 2 or n <= 2 * period)
 * and keeps the one of least AICc. Same returns as an_ets_fit. */
int an_ets_auto(const double *y, size_t n, size_t period, struct an_ets_model *m);

/* Point forecasts (the conditional mean of the state equations) and
 * intervals of coverage level (0 = 0.95) for h steps. Additive-error models
 * with no multiplicative part use the analytic variance of Hyndman et al.
 * (2008) class 1; the others take the quantiles of 1,000 simulated sample
 * paths (fixed seed). mean required, lower/upper may be NULL. Returns 0,
 * -EINVAL, -ENOMEM. */
int an_ets_predict(const struct an_ets_model *m, size_t h, double level,
		   struct an_forecast_out *out);

/* Frees what an_ets_fit/an_ets_auto allocated; accepts NULL. */
void an_ets_release(struct an_ets_model *m);

#endif /* AN_ETS_H */
