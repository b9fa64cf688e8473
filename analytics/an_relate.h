/*
 * an_relate.h - relationships between two equally spaced series: Pearson and
 * Spearman correlation with p-values, lagged cross-correlation, and Granger
 * causality (F-test of lagged x in an autoregression of y), with a fixed lag
 * or the lag chosen by AIC.
 *
 * Why: correlate(a, b) and causality(a, b) in queries ("what moves with
 * what?"). Distributions come from GSL (t, F), least squares from
 * gsl_multifit_linear (SVD, so collinear regressors do not fail).
 *
 * Usage profile: one call per query over n = 10 .. 10^6 aligned points;
 * correlation O(n log n) (Spearman sorts), cross-correlation O(n * maxlag),
 * Granger O(n p^2). Scratch is malloc'd per call and freed before return.
 *
 * NaN: inputs with NaN or +-inf are rejected with -EINVAL (an_pearson
 * returns NaN); the query layer aligns the two series and drops or fills gaps
 * first. A constant series has no correlation: r and p are NaN (return 0).
 *
 * Threads: pure code, no I/O; any thread, concurrently.
 */
#ifndef AN_RELATE_H
#define AN_RELATE_H

#include <stddef.h>

/* Pearson's r of x[0..n) and y[0..n); NaN if n < 2, either is constant, or any
 * value is NaN or inf. */
double an_pearson(const double *x, const double *y, size_t n);

struct an_corr {
	size_t n;
	double pearson_r;
	double pearson_p;  /* two-sided, H0: rho = 0; t = r sqrt((n-2)/(1-r^2)), df n - 2 */
	double spearman_r; /* Pearson's r of the ranks, ties get their average rank */
	double spearman_p; /* two-sided, the same t approximation (as scipy's spearmanr) */
};

/*
 * Both correlations with p-values. Returns 0 and *out (r and p NaN when a
 * series is constant), -EINVAL (n < 3, NaN or inf, NULL) or -ENOMEM.
 */
int an_correlate(const double *x, const double *y, size_t n, struct an_corr *out);

/*
 * Lagged cross-correlation: r[maxlag + k], k = -maxlag .. maxlag, is Pearson's
 * r of the overlapping pairs (x_t, y_{t+k}), t = max(0, -k) .. min(n, n - k) - 1,
 * so k > 0 means x leads y by k points. *best_lag (may be NULL) is the k of
 * the largest |r| (the smallest |k| on ties; 0 if all are NaN). r has
 * 2 maxlag + 1 entries; a lag whose overlap is constant gets NaN. Returns 0,
 * or -EINVAL (maxlag > n - 3, NaN or inf, NULL).
 */
int an_xcorr(const double *x, const double *y, size_t n, size_t maxlag, double *r,
	     long *best_lag);

struct an_granger {
	size_t lag;      /* p */
	double f;        /* ((RSS_r - RSS_u) / p) / (RSS_u / df2) */
	size_t df1;      /* p */
	size_t df2;      /* (n - p) - 2p - 1: residual df of the unrestricted model */
	double p_value;  /* gsl_cdf_fdist_Q(f, df1, df2) */
	double rss_r;    /* y_t ~ 1 + y_{t-1..t-p} */
	double rss_u;    /* ... + x_{t-1..t-p} */
	double aic;      /* of the unrestricted model: N ln(RSS_u / N) + 2(2p + 1) */
};

/*
 * Granger causality "x Granger-causes y" at lag p over the n - p rows
 * t = p .. n-1. A small p_value rejects "x does not help predict y".
 * Returns 0 and *out, -EINVAL (p == 0, df2 < 1, NaN or inf, NULL), -EDOM
 * (the unrestricted fit is exact, RSS_u == 0: F undefined) or -ENOMEM.
 */
int an_granger(const double *x, const double *y, size_t n, size_t lag, struct an_granger *out);

/*
 * As an_granger, with p in 1 .. maxlag chosen by the smallest AIC of the
 * unrestricted model, all p compared on the same rows t = maxlag .. n-1; the
 * test is then run at that p over its own n - p rows. Same returns.
 */
int an_granger_auto(const double *x, const double *y, size_t n, size_t maxlag,
		    struct an_granger *out);

#endif /* AN_RELATE_H */
