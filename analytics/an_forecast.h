/*
 * an_forecast.h - the common shape of StreamFlow's forecasters, so FORECAST
 * ... USING <model>, forecast(), the automatic selection by rolling-origin
 * backtest and the M4 benchmark drive every model the same way.
 *
 * A forecaster fits y[0..n) (equally spaced, no NaN: the caller fills gaps)
 * and writes h steps ahead into caller buffers of h entries: the point
 * forecast and the lower/upper bounds of a central prediction interval of
 * cfg->level (e.g. 0.95).
 *
 * Pure numerical code: no I/O, no threads; scratch memory is malloc'd per
 * call and freed before return. Deterministic. Any thread may call.
 * The process calls gsl_set_error_handler_off() once before any of them
 * (streamflowd's main, the tests and benches do): GSL's default handler
 * aborts, and these functions turn GSL's statuses into negative errnos.
 */
#ifndef AN_FORECAST_H
#define AN_FORECAST_H

#include <stddef.h>

struct an_forecast_cfg {
	size_t period;   /* seasonal period in points; 0 or 1 = none */
	size_t h;        /* steps ahead */
	double level;    /* prediction interval coverage in (0, 1); 0 = 0.95 */
};

/* Caller-owned output buffers, each of cfg->h entries. */
struct an_forecast_out {
	double *mean;
	double *lower;
	double *upper;
};

/* One forecaster; returns 0 or a negative errno (-EINVAL: too few points for
 * the model or bad parameters; -EDOM: the fit failed to converge; -ENOMEM). */
typedef int (*an_forecast_fn)(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			      struct an_forecast_out *out);

/*
 * The checks every forecaster makes first: y, cfg and all three output
 * buffers given, h > 0, level 0 (= 0.95) or in (0, 1), every y finite.
 * 0 with *z (when not NULL) the standard normal quantile of the interval's
 * upper bound, 1.96 for 0.95; or -EINVAL.
 */
int an_forecast_check(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      const struct an_forecast_out *out, double *z);

/* The models (each in its own file; model-specific APIs are in their headers). */
int an_forecast_naive(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out);
int an_forecast_snaive(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out);
int an_forecast_naive2(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out);
int an_forecast_hw_add(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out);
int an_forecast_hw_mul(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out);
int an_forecast_hw_damped(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			  struct an_forecast_out *out);
int an_forecast_ets(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		    struct an_forecast_out *out);      /* automatic ETS by AICc */
int an_forecast_arima(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out);    /* automatic (S)ARIMA */
int an_forecast_theta(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out);
int an_forecast_prophet(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out);

#endif /* AN_FORECAST_H */
