/*
 * an_decomp.c - see an_decomp.h: the M4 benchmarks' seasonality test and
 * R's decompose(type = "multiplicative")$figure, which Naive2, Theta and the
 * damped benchmark use to seasonally adjust a series before a non-seasonal
 * method. Called once per fit on at most a few thousand points; any thread.
 */
#include "an_decomp.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* Sample autocorrelation r_1..r_kmax as R's acf(): sums over the available
 * pairs divided by the full sum of squares about the mean. Returns false when
 * the series is constant (no defined correlation). */
static bool acf(const double *y, size_t n, size_t kmax, double *r)
{
	double mean = 0.0, ss = 0.0;

	assert(kmax < n);
	for (size_t i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (y[i] - mean) * (y[i] - mean);
	if (!(ss > 0.0) || !isfinite(ss))
		return false;
	for (size_t k = 1; k <= kmax; k++) {
		double s = 0.0;
		for (size_t i = 0; i + k < n; i++)
			s += (y[i] - mean) * (y[i + k] - mean);
		r[k - 1] = s / ss;
	}
	return true;
}

bool an_seasonality_test(const double *y, size_t n, size_t period)
{
	if (y == NULL || period < 2 || n < 3 * period)
		return false;
	double *r = malloc(period * sizeof(*r));
	if (r == NULL)
		return false;
	bool seasonal = false;
	if (acf(y, n, period, r)) {
		double s = 1.0;
		for (size_t k = 0; k + 1 < period; k++)
			s += 2.0 * r[k] * r[k];
		double clim = 1.645 * sqrt(s / (double)n);
		seasonal = fabs(r[period - 1]) > clim;
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

int an_decompose_mul(const double *y, size_t n, size_t period, double *index)
{
	if (y == NULL || index == NULL || period < 2 || n < 2 * period)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!(y[i] > 0.0) || !isfinite(y[i]))
			return -EINVAL;

	double *sum = calloc(2 * period, sizeof(*sum));
	if (sum == NULL)
		return -ENOMEM;
	double *cnt = sum + period;
	size_t half = period / 2;
	/* The ratio y / trend exists where the whole window fits. */
	for (size_t i = half; i + half < n; i++) {
		sum[i % period] += y[i] / centred_ma(y, i, period);
		cnt[i % period] += 1.0;
	}
	double tot = 0.0;
	for (size_t j = 0; j < period; j++) {
		assert(cnt[j] > 0.0);
		index[j] = sum[j] / cnt[j];
		tot += index[j];
	}
	for (size_t j = 0; j < period; j++)
		index[j] /= tot / (double)period;
	free(sum);
	return 0;
}
