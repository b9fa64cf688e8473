/*
 * an_method.h - the analytics methods by name, as TSQL spells them in
 * USING clauses and in the analytics functions' method strings
 * (DETECT ANOMALIES ... USING mad, anomaly_score(x, 'iforest'),
 * FORECAST ... USING holt_winters). One table per kind, constant; any
 * thread.
 */
#ifndef AN_METHOD_H
#define AN_METHOD_H

#include <stdbool.h>
#include <stddef.h>

#include "an_detect.h"
#include "an_forecast.h"

struct an_detector_info {
	const char *name;
	an_detect_fn fn;
	bool causal;        /* score[i] depends on x[0..i] only */
	bool online;        /* has a streaming form (an_online.h) */
	const char *what;   /* one line, for docs and errors */
};

struct an_forecaster_info {
	const char *name;
	an_forecast_fn fn;
	const char *what;
};

/* By name (exact, lower case); "auto" is the ensemble / the automatic
 * selection. NULL when unknown. */
const struct an_detector_info *an_detector_lookup(const char *name);
const struct an_forecaster_info *an_forecaster_lookup(const char *name);

/* The detector table, *n rows (the NAB benchmark runs each). */
const struct an_detector_info *an_detector_list(size_t *n);

/* Every name of one table, ", "-separated, into buf[cap] (truncated to fit;
 * NUL-terminated): for "unknown method" messages. */
void an_method_names(bool forecasters, char *buf, size_t cap);

#endif /* AN_METHOD_H */
