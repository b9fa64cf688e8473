/*
 * an_forecast.c - what every forecaster of an_forecast.h checks first, in
 * one place so they all accept and refuse the same arguments.
 */
#include "an_forecast.h"

#include <errno.h>

#include <gsl/gsl_cdf.h>

#include "an_util.h"

int an_forecast_check(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      const struct an_forecast_out *out, double *z)
{
	if (!y || !cfg || !out || !out->mean || !out->lower || !out->upper || cfg->h == 0)
		return -EINVAL;
	double level = cfg->level == 0 ? 0.95 : cfg->level;
	if (!(level > 0 && level < 1) || !an_all_finite(y, n))
		return -EINVAL;
	if (z)
		*z = gsl_cdf_ugaussian_Pinv(0.5 + level / 2);
	return 0;
}
