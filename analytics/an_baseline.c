/*
 * an_baseline.c - the benchmark forecasters of the M4 competition: Naive
 * (the last value), seasonal naive (the value one period back) and Naive2
 * (naive on the seasonally adjusted series, re-seasonalised), with the
 * prediction intervals of R's forecast::naive / snaive (lagwalk): the
 * residuals are the lag differences, sigma = sqrt(mean(residual^2)), and
 * the standard error h steps ahead is sigma * sqrt(k + 1) where k =
 * floor((h - 1) / lag) full periods lie between the origin and the target.
 *
 * They are the yardsticks every other forecaster is scored against (OWA is
 * relative to Naive2) and cheap candidates of the automatic selection.
 * O(n + h) time; Naive2 allocates one period of indices and the adjusted
 * copy of y. Pure numerical code, any thread; the API is in an_forecast.h.
 */
#include "an_forecast.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "an_decomp.h"

/* Shared validation of the common arguments; returns the normal quantile of
 * the interval through *z, or -EINVAL. */
static int check_args(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      const struct an_forecast_out *out, double *z)
{
	if (!y || !cfg || !out || !out->mean || !out->lower || !out->upper || cfg->h == 0)
		return -EINVAL;
	double level = cfg->level == 0 ? 0.95 : cfg->level;
	if (!(level > 0 && level < 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return -EINVAL;
	*z = gsl_cdf_ugaussian_Pinv(0.5 + level / 2);
	return 0;
}

/* forecast::lagwalk without drift: y[n-lag .. n) repeated, intervals as above. */
static int lagwalk(const double *y, size_t n, size_t lag, size_t h, double z,
		   struct an_forecast_out *out)
{
	assert(lag >= 1);
	if (n < lag + 1)
		return -EINVAL;
	double ss = 0;
	for (size_t t = lag; t < n; t++)
		ss += (y[t] - y[t - lag]) * (y[t] - y[t - lag]);
	double sigma = sqrt(ss / (double)(n - lag));
	for (size_t k = 0; k < h; k++) {
		double se = sigma * sqrt((double)(k / lag + 1));
		out->mean[k] = y[n - lag + k % lag];
		out->lower[k] = out->mean[k] - z * se;
		out->upper[k] = out->mean[k] + z * se;
	}
	return 0;
}

int an_forecast_naive(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out)
{
	double z;
	int rc = check_args(y, n, cfg, out, &z);
	if (rc < 0)
		return rc;
	return lagwalk(y, n, 1, cfg->h, z, out);
}

int an_forecast_snaive(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	double z;
	int rc = check_args(y, n, cfg, out, &z);
	if (rc < 0)
		return rc;
	return lagwalk(y, n, cfg->period > 1 ? cfg->period : 1, cfg->h, z, out);
}

/* Naive2: when the M4 seasonality test passes and the multiplicative indices
 * exist (all values positive), forecast the adjusted series naively and
 * multiply the indices back, bounds included; otherwise plain naive. */
int an_forecast_naive2(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	double z;
	int rc = check_args(y, n, cfg, out, &z);
	if (rc < 0)
		return rc;
	size_t m = cfg->period;
	if (m < 2 || !an_seasonality_test(y, n, m))
		return lagwalk(y, n, 1, cfg->h, z, out);
	double *index = malloc(m * sizeof(*index));
	double *adj = malloc(n * sizeof(*adj));
	if (!index || !adj) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = an_decompose_mul(y, n, m, index);
	if (rc == -EINVAL) {   /* non-positive values: no multiplicative adjustment */
		rc = lagwalk(y, n, 1, cfg->h, z, out);
		goto out_free;
	}
	if (rc < 0)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		adj[i] = y[i] / index[i % m];
	rc = lagwalk(adj, n, 1, cfg->h, z, out);
	if (rc < 0)
		goto out_free;
	for (size_t k = 0; k < cfg->h; k++) {
		double s = index[(n + k) % m];
		out->mean[k] *= s;
		out->lower[k] *= s;
		out->upper[k] *= s;
	}
out_free:
	free(adj);
	free(index);
	return rc;
}
