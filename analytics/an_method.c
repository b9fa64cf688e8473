/*
 * an_method.c - see an_method.h. The tables are the only place that knows
 * every method; adding one is a row here and its file.
 */
#include "an_method.h"

#include <stdio.h>
#include <string.h>

#include "cm_compiler.h"

#include "an_ensemble.h"
#include "an_fcauto.h"

static const struct an_detector_info detectors[] = {
	{"auto", an_detect_ensemble, true, false, "the ensemble of the detectors below"},
	{"ensemble", an_detect_ensemble, true, false, "the ensemble (same as auto)"},
	{"zscore", an_detect_zscore, true, false, "rolling z-score over the previous window"},
	{"mad", an_detect_mad, true, false, "rolling median and MAD (robust z-score)"},
	{"iqr", an_detect_iqr, true, false, "rolling interquartile fences"},
	{"ewma", an_detect_ewma, true, true, "online EWMA mean and variance"},
	{"iforest", an_detect_iforest, false, false, "isolation forest over a window embedding"},
	{"cusum", an_detect_cusum, true, false, "two-sided tabular CUSUM (mean shifts)"},
	{"pelt", an_detect_pelt, false, false, "PELT change points (changes in mean)"},
	{"shesd", an_detect_shesd, false, false, "STL + seasonal hybrid ESD (Twitter)"},
};

static const struct an_forecaster_info forecasters_tab[] = {
	{"auto", an_forecast_auto, "chosen or combined by rolling-origin backtest"},
	{"naive", an_forecast_naive, "the last value"},
	{"snaive", an_forecast_snaive, "the value one period back"},
	{"naive2", an_forecast_naive2, "naive on seasonally adjusted data (M4)"},
	{"holt_winters", an_forecast_hw_add, "Holt-Winters, additive seasonality"},
	{"holt_winters_mul", an_forecast_hw_mul, "Holt-Winters, multiplicative seasonality"},
	{"holt_winters_damped", an_forecast_hw_damped, "damped-trend exponential smoothing"},
	{"ets", an_forecast_ets, "ETS, model chosen by AICc"},
	{"arima", an_forecast_arima, "(seasonal) ARIMA, orders chosen by AICc"},
	{"theta", an_forecast_theta, "the Theta method (M4's benchmark)"},
	{"prophet", an_forecast_prophet, "piecewise-linear trend + Fourier seasonality"},
};

const struct an_detector_info *an_detector_lookup(const char *name)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(detectors); i++)
		if (!strcmp(detectors[i].name, name))
			return &detectors[i];
	return NULL;
}

const struct an_forecaster_info *an_forecaster_lookup(const char *name)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(forecasters_tab); i++)
		if (!strcmp(forecasters_tab[i].name, name))
			return &forecasters_tab[i];
	return NULL;
}

const struct an_detector_info *an_detector_list(size_t *n)
{
	*n = CM_ARRAY_SIZE(detectors);
	return detectors;
}

void an_method_names(bool forecasters, char *buf, size_t cap)
{
	size_t nd = CM_ARRAY_SIZE(detectors);
	size_t nf = CM_ARRAY_SIZE(forecasters_tab);
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < (forecasters ? nf : nd) && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "",
					forecasters ? forecasters_tab[i].name : detectors[i].name);
}
