/*
 * an_theta.c - see an_theta.h. The SES part is ETS(A,N,N) fitted by
 * an_ets_fit (what forecast::ses does); the seasonal adjustment is
 * an_forecast_seasadj (an_decomp.h), applied like the M4 benchmark code:
 * only when the seasonality test passes (and the data are positive),
 * forecasts and bounds multiplied back by the indices of their positions.
 */
#include "an_theta.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>

#include "an_decomp.h"
#include "an_ets.h"
#include "an_util.h"

int an_theta_fit(const double *y, size_t n, struct an_theta_model *m)
{
	const struct an_ets_spec ses = { AN_ETS_ERR_A, AN_ETS_TREND_N, AN_ETS_SEAS_N };
	struct an_ets_model fit;
	double *buf, c0, c1, cov00, cov01, cov11, sumsq;
	int rc;

	if (y == NULL || m == NULL || n < 7 || !an_all_finite(y, n))
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
	if (m == NULL || out == NULL || out->mean == NULL || h == 0 ||
	    !(level == 0.0 || (level > 0.0 && level < 1.0)))
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

/* The non-seasonal Theta forecast of y as it is (cfg->period unused). */
static int theta_plain(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	struct an_theta_model m;
	int rc = an_theta_fit(y, n, &m);

	if (rc == 0)
		rc = an_theta_predict(&m, cfg->h, cfg->level, out);
	return rc;
}

/* The M4 Theta benchmark (see an_theta.h): theta_plain on the series
 * seasonally adjusted by an_forecast_seasadj. Needs n >= 7. */
int an_forecast_theta(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out)
{
	return an_forecast_seasadj(y, n, cfg, out, theta_plain);
}
