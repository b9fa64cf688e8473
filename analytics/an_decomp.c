/*
 * an_decomp.c - see an_decomp.h: the M4 benchmarks' seasonality test, R's
 * decompose()$figure (additive and multiplicative), and the seasonal
 * adjustment Naive2, Theta and the damped benchmark wrap around their
 * non-seasonal forecasts. Called once per fit on at most a few thousand
 * points; any thread.
 */
#include "an_decomp.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "an_spectral.h"

bool an_seasonality_test(const double *y, size_t n, size_t period)
{
	if (y == NULL || period < 2 || n < 3 * period)
		return false;
	/* r[k] for lags 0..period; a constant series gets zeros (not seasonal). */
	double *r = malloc((period + 1) * sizeof(*r));
	if (r == NULL)
		return false;
	bool seasonal = false;
	if (an_acf(y, n, period, r) == 0) {
		double s = 1.0;
		for (size_t k = 1; k < period; k++)
			s += 2.0 * r[k] * r[k];
		double clim = 1.645 * sqrt(s / (double)n);
		seasonal = fabs(r[period]) > clim;
	}
	free(r);
	return seasonal;
}

/* Centred moving average of order m at i (2 x m for even m), as R's
 * filter(x, c(.5, 1, ..., 1, .5) / m, sides = 2); requires the window inside. */
static double centred_ma(const double *y, size_t i, size_t m)
{
	size_t half = m / 2;
	double s = 0.0;

	assert(i >= half);
	if (m % 2 == 0) {
		s = 0.5 * (y[i - half] + y[i + half]);
		for (size_t j = i - half + 1; j < i + half; j++)
			s += y[j];
	} else {
		for (size_t j = i - half; j <= i + half; j++)
			s += y[j];
	}
	return s / (double)m;
}

int an_decompose(const double *y, size_t n, size_t period, bool mul, double *figure,
		 double *trend)
{
	if (y == NULL || figure == NULL || period < 2 || n < 2 * period)
		return -EINVAL;
	for (size_t i = 0; mul && i < n; i++)
		if (!(y[i] > 0.0) || !isfinite(y[i]))
			return -EINVAL;

	double *sum = calloc(2 * period, sizeof(*sum));
	if (sum == NULL)
		return -ENOMEM;
	double *cnt = sum + period;
	size_t half = period / 2;
	for (size_t i = 0; trend != NULL && i < n; i++)
		trend[i] = NAN;
	/* The detrended value exists where the whole window fits. */
	for (size_t i = half; i + half < n; i++) {
		double t = centred_ma(y, i, period);
		sum[i % period] += mul ? y[i] / t : y[i] - t;
		cnt[i % period] += 1.0;
		if (trend != NULL)
			trend[i] = t;
	}
	double tot = 0.0;
	for (size_t j = 0; j < period; j++) {
		assert(cnt[j] > 0.0);
		figure[j] = sum[j] / cnt[j];
		tot += figure[j];
	}
	for (size_t j = 0; j < period; j++)
		figure[j] = mul ? figure[j] / (tot / (double)period) : figure[j] - tot / (double)period;
	free(sum);
	return 0;
}

int an_decompose_mul(const double *y, size_t n, size_t period, double *index)
{
	return an_decompose(y, n, period, true, index, NULL);
}

int an_forecast_seasadj(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out, an_forecast_fn plain)
{
	int rc = an_forecast_check(y, n, cfg, out, NULL);
	if (rc < 0)
		return rc;
	if (plain == NULL)
		return -EINVAL;
	struct an_forecast_cfg c1 = *cfg;
	size_t m = cfg->period;
	c1.period = 1;
	if (m < 2 || !an_seasonality_test(y, n, m))
		return plain(y, n, &c1, out);
	double *index = malloc(m * sizeof(*index));
	double *adj = malloc(n * sizeof(*adj));
	rc = -ENOMEM;
	if (index == NULL || adj == NULL)
		goto out_free;
	rc = an_decompose_mul(y, n, m, index);
	if (rc == -EINVAL) {   /* a non-positive value: no multiplicative adjustment */
		rc = plain(y, n, &c1, out);
		goto out_free;
	}
	if (rc < 0)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		adj[i] = y[i] / index[i % m];
	rc = plain(adj, n, &c1, out);
	for (size_t k = 0; rc == 0 && k < cfg->h; k++) {
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
