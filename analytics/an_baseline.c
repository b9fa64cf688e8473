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
 * O(n + h) time; Naive2 allocates (in an_forecast_seasadj) one period of
 * indices and the adjusted copy of y. Pure numerical code, any thread; the API is in an_forecast.h.
 */
#include "an_forecast.h"

#include <assert.h>
#include <errno.h>
#include <math.h>

#include "an_decomp.h"

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
	int rc = an_forecast_check(y, n, cfg, out, &z);
	if (rc < 0)
		return rc;
	return lagwalk(y, n, 1, cfg->h, z, out);
}

int an_forecast_snaive(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	double z;
	int rc = an_forecast_check(y, n, cfg, out, &z);
	if (rc < 0)
		return rc;
	return lagwalk(y, n, cfg->period > 1 ? cfg->period : 1, cfg->h, z, out);
}

/* Naive2: naive on the series seasonally adjusted by an_forecast_seasadj
 * (multiplicative indices, when the M4 test passes and all values are
 * positive), bounds included; otherwise plain naive. */
int an_forecast_naive2(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	return an_forecast_seasadj(y, n, cfg, out, an_forecast_naive);
}
