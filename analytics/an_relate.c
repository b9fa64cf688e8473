/*
 * an_relate.c - see an_relate.h. Correlations use GSL's
 * gsl_stats_correlation and gsl_stats_spearman (average ranks for ties); the
 * Granger regressions are built as GSL matrices and solved with
 * gsl_multifit_linear.
 */
#include "an_relate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_statistics_double.h>

#include "an_util.h"

/* r of finite x, y (n >= 2); NaN if either is constant. */
static double pearson_finite(const double *x, const double *y, size_t n)
{
	if (an_is_constant(x, n) || an_is_constant(y, n))
		return NAN;
	double r = gsl_stats_correlation(x, 1, y, 1, n);
	return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

double an_pearson(const double *x, const double *y, size_t n)
{
	if (!x || !y || n < 2 || !an_all_finite(x, n) || !an_all_finite(y, n))
		return NAN;
	return pearson_finite(x, y, n);
}

/* Two-sided p-value of r over n pairs by Student's t with n - 2 df. */
static double corr_p_value(double r, size_t n)
{
	if (isnan(r))
		return NAN;
	if (fabs(r) >= 1.0)
		return 0.0;
	double df = (double)(n - 2), t = fabs(r) * sqrt(df / (1.0 - r * r));
	return 2.0 * gsl_cdf_tdist_Q(t, df);
}

int an_correlate(const double *x, const double *y, size_t n, struct an_corr *out)
{
	if (!x || !y || !out || n < 3 || !an_all_finite(x, n) || !an_all_finite(y, n))
		return -EINVAL;
	out->n = n;
	out->pearson_r = pearson_finite(x, y, n);
	out->pearson_p = corr_p_value(out->pearson_r, n);
	if (isnan(out->pearson_r)) {
		out->spearman_r = out->spearman_p = NAN;
		return 0;
	}
	double *work = malloc(2 * n * sizeof(*work));
	if (!work)
		return -ENOMEM;
	double rs = gsl_stats_spearman(x, 1, y, 1, n, work);
	free(work);
	/* Ranks of non-constant data are not constant, so rs is defined. */
	out->spearman_r = rs > 1.0 ? 1.0 : rs < -1.0 ? -1.0 : rs;
	out->spearman_p = corr_p_value(out->spearman_r, n);
	return 0;
}

int an_xcorr(const double *x, const double *y, size_t n, size_t maxlag, double *r,
	     long *best_lag)
{
	if (!x || !y || !r || n < 3 || maxlag > n - 3 || !an_all_finite(x, n) || !an_all_finite(y, n))
		return -EINVAL;
	long L = (long)maxlag, best = 0;
	double best_abs = -1;
	for (long k = -L; k <= L; k++) {
		size_t a = k < 0 ? (size_t)-k : 0;   /* first x index */
		size_t len = n - (size_t)labs(k);
		double v = pearson_finite(x + a, y + a + k, len);
		r[k + L] = v;
		/* Ties go to the smaller |k|. */
		if (!isnan(v) && (fabs(v) > best_abs || (fabs(v) == best_abs && labs(k) < labs(best)))) {
			best_abs = fabs(v);
			best = k;
		}
	}
	if (best_lag)
		*best_lag = best;
	return 0;
}

/* ---- Granger ---- */

/*
 * RSS of y_t on [1, y_{t-1..t-p}] and, if with_x, x_{t-1..t-p}, over rows
 * t = t0 .. n-1 (t0 >= p). Returns 0, -ENOMEM or -EDOM (GSL failure).
 */
static int lagged_rss(const double *x, const double *y, size_t n, size_t p, size_t t0,
		      int with_x, double *rss)
{
	assert(t0 >= p && n > t0);
	size_t rows = n - t0, cols = 1 + p * (with_x ? 2 : 1);
	int rc = -ENOMEM;
	gsl_matrix *X = gsl_matrix_alloc(rows, cols), *cov = gsl_matrix_alloc(cols, cols);
	gsl_vector *v = gsl_vector_alloc(rows), *c = gsl_vector_alloc(cols);
	gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(rows, cols);
	if (!X || !cov || !v || !c || !ws)
		goto out;
	for (size_t i = 0; i < rows; i++) {
		size_t t = t0 + i;
		gsl_vector_set(v, i, y[t]);
		gsl_matrix_set(X, i, 0, 1.0);
		for (size_t j = 1; j <= p; j++) {
			gsl_matrix_set(X, i, j, y[t - j]);
			if (with_x)
				gsl_matrix_set(X, i, p + j, x[t - j]);
		}
	}
	rc = gsl_multifit_linear(X, v, c, cov, rss, ws) == GSL_SUCCESS && isfinite(*rss) ? 0 : -EDOM;
out:
	gsl_multifit_linear_free(ws);
	gsl_vector_free(c);
	gsl_vector_free(v);
	gsl_matrix_free(cov);
	gsl_matrix_free(X);
	return rc;
}

int an_granger(const double *x, const double *y, size_t n, size_t lag, struct an_granger *out)
{
	if (!x || !y || !out || lag == 0 || n < 3 * lag + 2 || !an_all_finite(x, n) ||
	    !an_all_finite(y, n))
		return -EINVAL;
	size_t rows = n - lag;
	double rss_r, rss_u;
	int rc = lagged_rss(x, y, n, lag, lag, 0, &rss_r);
	if (rc == 0)
		rc = lagged_rss(x, y, n, lag, lag, 1, &rss_u);
	if (rc < 0)
		return rc;
	/* An exact fit leaves nothing to test (constant or noiseless series):
	 * RSS_u at rounding level of y's total sum of squares. */
	double tss = gsl_stats_tss(y + lag, 1, rows);
	if (!(rss_u > 1e-20 * tss))
		return -EDOM;
	out->lag = lag;
	out->df1 = lag;
	out->df2 = rows - 2 * lag - 1;
	out->rss_r = rss_r;
	out->rss_u = rss_u;
	double f = ((rss_r - rss_u) / (double)lag) / (rss_u / (double)out->df2);
	out->f = f > 0 ? f : 0.0;
	out->p_value = gsl_cdf_fdist_Q(out->f, (double)out->df1, (double)out->df2);
	out->aic = (double)rows * log(rss_u / (double)rows) + 2.0 * (double)(2 * lag + 1);
	return 0;
}

int an_granger_auto(const double *x, const double *y, size_t n, size_t maxlag,
		    struct an_granger *out)
{
	if (!x || !y || !out || maxlag == 0 || n < 3 * maxlag + 2 || !an_all_finite(x, n) ||
	    !an_all_finite(y, n))
		return -EINVAL;
	size_t best = 0, rows = n - maxlag;
	double best_aic = INFINITY;
	for (size_t p = 1; p <= maxlag; p++) {
		double rss;
		int rc = lagged_rss(x, y, n, p, maxlag, 1, &rss);
		if (rc < 0)
			return rc;
		double aic = (double)rows * log(rss / (double)rows) + 2.0 * (double)(2 * p + 1);
		if (aic < best_aic) {
			best_aic = aic;
			best = p;
		}
	}
	if (!best) /* every fit exact: log(0) */
		return -EDOM;
	return an_granger(x, y, n, best, out);
}
