/*
 * an_theta.c - see an_theta.h. The SES part is ETS(A,N,N) fitted by
 * an_ets_fit (what forecast::ses does); the seasonal adjustment is the
 * classical multiplicative one of an_decomp.c, applied like the M4
 * benchmark code: only when the seasonality test passes (and the data are
 * positive), forecasts and bounds multiplied back by the indices of their
 * positions.
 */
#include "an_theta.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>

#include "an_decomp.h"
#include "an_ets.h"

int an_theta_fit(const double *y, size_t n, struct an_theta_model *m)
{
	const struct an_ets_spec ses = { AN_ETS_ERR_A, AN_ETS_TREND_N, AN_ETS_SEAS_N };
	struct an_ets_model fit;
	double *buf, c0, c1, cov00, cov01, cov11, sumsq;
	int rc;

	if (y == NULL || m == NULL || n < 7)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return -EINVAL;
	buf = malloc(2 * n * sizeof(*buf));
	if (buf == NULL)
		return -ENOMEM;
	double *t = buf, *line2 = buf + n;
	for (size_t i = 0; i < n; i++)
		t[i] = (double)(i + 1);
	rc = gsl_fit_linear(t, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq) ? -EDOM : 0;
	if (rc != 0)
		goto out;
	/* Theta line 2: 2 y - line 0, smoothed by SES. */
	for (size_t i = 0; i < n; i++)
		line2[i] = 2.0 * y[i] - (c0 + c1 * t[i]);
	rc = an_ets_fit(line2, n, 1, &ses, &fit);
	if (rc != 0)
		goto out;
	m->n = n;
	m->a = c0;
	m->b = c1;
	m->alpha = fit.alpha;
	m->level = fit.level;
	/* The Theta one-step error is half the SES error on line 2. */
	m->sigma2 = fit.sse / 4.0 / (double)(n - 3);
	an_ets_release(&fit);
out:
	free(buf);
	return rc;
}

int an_theta_predict(const struct an_theta_model *m, size_t h, double level,
		     struct an_forecast_out *out)
{
	if (m == NULL || out == NULL || out->mean == NULL || h == 0 || level < 0.0 || level >= 1.0)
		return -EINVAL;
	double z = gsl_cdf_ugaussian_Pinv(0.5 + (level == 0.0 ? 0.95 : level) / 2.0);
	for (size_t i = 0; i < h; i++) {
		double line0 = m->a + m->b * (double)(m->n + i + 1);
		double f = 0.5 * line0 + 0.5 * m->level;
		double half = z * sqrt(m->sigma2 * (1.0 + (double)i * m->alpha * m->alpha));
		out->mean[i] = f;
		if (out->lower != NULL)
			out->lower[i] = f - half;
		if (out->upper != NULL)
			out->upper[i] = f + half;
	}
	return 0;
}

/* Fits and predicts y (already adjusted), then multiplies by idx if any. */
static int theta_run(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		     const double *idx, struct an_forecast_out *out)
{
	struct an_theta_model m;
	int rc = an_theta_fit(y, n, &m);

	if (rc == 0)
		rc = an_theta_predict(&m, cfg->h, cfg->level, out);
	for (size_t i = 0; rc == 0 && idx != NULL && i < cfg->h; i++) {
		double s = idx[(n + i) % cfg->period];
		out->mean[i] *= s;
		if (out->lower != NULL)
			out->lower[i] *= s;
		if (out->upper != NULL)
			out->upper[i] *= s;
	}
	return rc;
}

/* The M4 Theta benchmark; see an_theta.h. Needs n >= 7. */
int an_forecast_theta(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out)
{
	double *idx = NULL, *adj = NULL;
	bool pos = true;
	int rc;

	if (y == NULL || cfg == NULL || out == NULL || out->mean == NULL || cfg->h == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		pos = pos && y[i] > 0.0;
	if (cfg->period < 2 || !pos || !an_seasonality_test(y, n, cfg->period))
		return theta_run(y, n, cfg, NULL, out);
	idx = malloc(cfg->period * sizeof(*idx));
	adj = malloc(n * sizeof(*adj));
	rc = -ENOMEM;
	if (idx == NULL || adj == NULL)
		goto out_free;
	rc = an_decompose_mul(y, n, cfg->period, idx);
	if (rc != 0)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		adj[i] = y[i] / idx[i % cfg->period];
	rc = theta_run(adj, n, cfg, idx, out);
out_free:
	free(adj);
	free(idx);
	return rc;
}
