/*
 * an_arima.h - ARIMA(p,d,q)(P,D,Q)_m models fitted by exact Gaussian maximum
 * likelihood (as R's stats::arima(method = "CSS-ML")), their forecasts with
 * prediction intervals, and the automatic order selection of
 * forecast::auto.arima (Hyndman & Khandakar 2008): d by repeated KPSS tests,
 * D by a seasonal-strength test, then a stepwise AICc search over p,q,P,Q.
 *
 * The model: w_t = (1-B)^d (1-B^m)^D y_t, and w_t - mu follows a stationary
 * ARMA with phi(B) Phi(B^m) and theta(B) Theta(B^m). mu is the intercept when
 * d + D = 0, or the drift (times m when D = 1) when d + D = 1; it is not
 * allowed for d + D >= 2. The likelihood is the exact one of the differenced
 * series (R's diffuse prior on the differenced states gives the same to
 * within 1/kappa), so n_used = n - d - D*m.
 *
 * Usage profile: the query layer fits one model per FORECAST statement on a
 * few hundred to a few thousand points; the M4 benchmark fits 414 series.
 * Pure numerical code: no I/O, no threads, scratch is malloc'd per call.
 * A fitted model is read-only after an_arima_fit()/an_arima_auto() returns
 * and may then be shared between threads. The caller must have switched
 * GSL's error handler off (gsl_set_error_handler_off()).
 */
#ifndef AN_ARIMA_H
#define AN_ARIMA_H

#include <stdbool.h>
#include <stddef.h>

enum an_arima_method {
	AN_ARIMA_CSS_ML = 0, /* CSS start values, then exact ML (R's default) */
	AN_ARIMA_ML,         /* exact ML from zero start values */
	AN_ARIMA_CSS,        /* conditional sum of squares only (no AIC) */
};

/* A model order. Plain struct: callers build them on the stack. */
struct an_arima_spec {
	unsigned p, d, q;
	unsigned P, D, Q;
	unsigned m;             /* seasonal period; 0 or 1 = none (then P = D = Q = 0) */
	bool include_constant;  /* intercept (d + D = 0) or drift (d + D = 1) */
	enum an_arima_method method;
};

struct an_arima_priv;

/* A fitted model; all fields are read-only for the caller. */
struct an_arima {
	struct an_arima_spec spec;
	size_t ncoef;        /* p + q + P + Q + include_constant */
	double *coef;        /* ar[p], ma[q], sar[P], sma[Q], then the intercept or
			      * the drift per step (R / forecast's "intercept"/"drift") */
	double sigma2;       /* innovation variance: ssq / n_used (CSS: ssq / nu) */
	double loglik;       /* exact Gaussian log-likelihood (CSS: conditional) */
	double aic, aicc, bic; /* NaN for AN_ARIMA_CSS */
	size_t n;            /* points fitted */
	size_t n_used;       /* n - d - D*m */
	double *resid;       /* n standardised innovations; the first d + D*m are 0 */
	bool converged;      /* the optimiser met its gradient tolerance */
	struct an_arima_priv *priv;
};

/* Fit spec to y[0..n) (finite values, borrowed). On success *out is owned by
 * the caller (an_arima_destroy). 0; -EINVAL: bad spec (P/D/Q without m >= 2,
 * constant with d + D >= 2, p + m*P > 350) or too few points for the model
 * (n_used must exceed the number of coefficients + 1), non-finite y;
 * -EDOM: the CSS start is not usable and ML failed, or the likelihood is
 * not finite; -ENOMEM. */
int an_arima_fit(const double *y, size_t n, const struct an_arima_spec *spec,
		 struct an_arima **out);

/* Forecast h steps after the fitted series: the point forecast (the Kalman
 * prediction of the differenced ARMA, integrated back) and the central
 * interval of coverage level in (0, 1) from the psi-weights of the
 * integrated model (the state's residual uncertainty at the series end is
 * neglected: it is zero once the filter has converged, as it has after a
 * few seasons). mean/lower/upper: caller buffers of h entries; lower/upper
 * may be NULL. 0 or -EINVAL. */
int an_arima_forecast(const struct an_arima *a, size_t h, double level, double *mean,
		      double *lower, double *upper);

/* Accepts NULL. */
void an_arima_destroy(struct an_arima *a);

/* Exact concentrated log-likelihood of spec at fixed coefficients coef
 * (layout as an_arima.coef; the constant is the intercept / drift per step)
 * on y[0..n); also the sigma^2 estimate ssq / n_used. For tests and tools.
 * 0, -EINVAL, -EDOM (non-stationary AR part), -ENOMEM. */
int an_arima_loglik(const double *y, size_t n, const struct an_arima_spec *spec,
		    const double *coef, double *loglik, double *sigma2);

/* ---- automatic selection ---------------------------------------------- */

struct an_arima_auto_cfg {
	unsigned m;                 /* seasonal period; 0 or 1 = none */
	int d, D;                   /* fixed differencing, or -1 = choose by test */
	unsigned max_p, max_q, max_P, max_Q, max_order, max_d, max_D;
	bool allow_constant;        /* intercept / drift when d + D <= 1 */
	int approximation;          /* CSS during the search: 1, 0, -1 = auto
				     * (n > 150 or m > 12, as auto.arima) */
};

/* Defaults of forecast::auto.arima: d = D = -1, max p,q 5, P,Q 2, order 5,
 * d 2, D 1, constant allowed, approximation auto. */
void an_arima_auto_cfg_init(struct an_arima_auto_cfg *cfg, unsigned m);

/* Select and fit (exactly) the best model of y[0..n) by AICc, stepwise as
 * auto.arima. *out owned by the caller. 0; -EINVAL (n < 3, non-finite y, bad
 * cfg); -EDOM (no model could be fitted); -ENOMEM. */
int an_arima_auto(const double *y, size_t n, const struct an_arima_auto_cfg *cfg,
		  struct an_arima **out);

/* KPSS level-stationarity statistic of y[0..n) with the Newey-West
 * (Bartlett) long-run variance over `lags` lags (urca::ur.kpss type "mu").
 * 0 or -EINVAL (n < 2, lags >= n); a constant series gives *stat = 0. */
int an_arima_kpss(const double *y, size_t n, size_t lags, double *stat);

/* Number of first differences (0..max_d) that make y KPSS-stationary at the
 * 5% level, lag trunc(3 sqrt(n) / 13), as forecast::ndiffs. Negative errno. */
int an_arima_ndiffs(const double *y, size_t n, unsigned max_d);

/* Seasonal strength max(0, 1 - var(R) / var(S + R)) of an STL decomposition
 * (an_stl, s.window 11, not robust: forecast's mstl default for one period)
 * at period m. NaN when m < 2, n <= 2m or STL fails. forecast::nsdiffs
 * (test "seas") differences once when it exceeds 0.64. */
double an_arima_seasonal_strength(const double *y, size_t n, unsigned m);

#endif /* AN_ARIMA_H */
