/*
 * an_fcauto.h - automatic forecaster selection or combination by
 * rolling-origin backtest (FORECAST ... USING auto, forecast(..., 'auto')).
 *
 * Each candidate (an an_forecast_fn with a name) is fitted at K origins
 * (default 3) at the end of the series; origin i trains on the points before
 * n - i * hb (capped to the last max(train_periods * period, 200) points so
 * that auto stays cheap on long series) and is scored on the next hb =
 * min(h, n / 5) points by MASE (mean absolute error scaled by the in-sample
 * MAE of the seasonal naive forecast on that training window) or sMAPE. A
 * candidate that fails at any origin is dropped. The candidates are ranked
 * by their mean score; then either the best is refitted on the whole series
 * (AN_FCAUTO_SELECT) or the top_k (default 2) are refitted and their
 * forecasts averaged (AN_FCAUTO_COMBINE, the default: combinations of a few
 * good models won the M4 competition), with weights proportional to 1 / score
 * (default) or equal weights. The default of 2 comes from a one-off
 * comparison on the M4 Hourly hold-out during development (2026-11-22), where
 * the top-2 inverse-error combination beat both selecting the best and the
 * top-3; no bench prints that comparison. The interval of a combination is
 * the same weighted mean of the members' lower and upper bounds (quantile
 * averaging).
 *
 * Cost: K * ncandidates fits on the capped window plus top_k fits on the
 * whole series. Pure numerical code, any thread.
 */
#ifndef AN_FCAUTO_H
#define AN_FCAUTO_H

#include <stddef.h>

#include "an_forecast.h"

#define AN_FCAUTO_MAX_MODELS 16

struct an_fcauto_model {
	const char *name;    /* static string, e.g. "ets" */
	an_forecast_fn fn;
};

enum an_fcauto_metric { AN_FCAUTO_MASE = 0, AN_FCAUTO_SMAPE = 1 };
enum an_fcauto_mode { AN_FCAUTO_COMBINE = 0, AN_FCAUTO_SELECT = 1 };
enum an_fcauto_weighting { AN_FCAUTO_EQUAL = 0, AN_FCAUTO_INVERSE_ERROR = 1 };

struct an_fcauto_cfg {
	const struct an_fcauto_model *models;  /* borrowed; NULL = the default table */
	size_t nmodels;                        /* <= AN_FCAUTO_MAX_MODELS */
	size_t origins;                        /* K, default 3 */
	size_t train_periods;                  /* backtest window cap, default 10 periods */
	enum an_fcauto_metric metric;
	enum an_fcauto_mode mode;
	size_t top_k;                          /* members of a combination, default 2 */
	enum an_fcauto_weighting weighting;
};

/* What auto did, for reporting (FORECAST ... USING auto says which models). */
struct an_fcauto_result {
	size_t nmodels;                          /* candidates tried */
	const char *name[AN_FCAUTO_MAX_MODELS];  /* borrowed from the table */
	double score[AN_FCAUTO_MAX_MODELS];      /* mean backtest error; NAN = failed */
	size_t nchosen;                          /* members of the final forecast */
	size_t chosen[AN_FCAUTO_MAX_MODELS];     /* candidate indices, best first */
	double weight[AN_FCAUTO_MAX_MODELS];     /* weight of chosen[i]; sums to 1 */
	int fallback;                            /* 1: no candidate worked, naive used */
};

/* Defaults: default table, 3 origins, 10 periods, MASE, combine the top 2
 * with inverse-error weights. */
void an_fcauto_cfg_init(struct an_fcauto_cfg *ac);

/* The default candidates: snaive, snaive_week (seasonal naive 7 periods
 * back, only for period >= 24, i.e. the weekly cycle of sub-daily data),
 * naive2, theta, ets, hw_damped, arima, prophet. Static table; *n receives
 * its length. */
const struct an_fcauto_model *an_fcauto_default_models(size_t *n);

/* Backtest, choose and forecast as described above. Borrowed: y, cfg, ac;
 * out's buffers caller-owned; res (may be NULL) filled on success.
 * 0; -EINVAL (bad parameters, n < 2, NaN in y); -ENOMEM. When every
 * candidate fails, the naive forecast is returned (res->fallback = 1). */
int an_fcauto_forecast(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       const struct an_fcauto_cfg *ac, struct an_forecast_out *out,
		       struct an_fcauto_result *res);

/* an_forecast_fn form with the defaults (declared here, not in an_forecast.h). */
int an_forecast_auto(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		     struct an_forecast_out *out);

#endif /* AN_FCAUTO_H */
