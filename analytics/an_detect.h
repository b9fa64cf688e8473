/*
 * an_detect.h - the common shape of StreamFlow's anomaly detectors, so the
 * query layer (DETECT ANOMALIES, anomaly_score()), the streaming detectors and
 * the NAB benchmark drive every method the same way.
 *
 * A detector reads n values x[0..n) (equally spaced in time, NaN = missing)
 * and writes, into caller buffers of n entries:
 *   score[i]  in [0, 1]: how abnormal point i looks to the method, monotone in
 *             its evidence (0 = ordinary, 1 = as abnormal as it can say);
 *   flag[i]   1 when the method's own test flags point i at the given
 *             sensitivity, else 0.
 * Scores are causal where the method is (the rolling, online, CUSUM and
 * ensemble detectors use only x[0..i] for score[i]); batch methods (S-H-ESD,
 * PELT, the isolation forest trained on the whole series) say so in their
 * comments.
 *
 * Pure numerical code: no I/O, no threads; scratch memory is malloc'd per
 * call and freed before return. Deterministic: random methods take cfg->seed.
 * Any thread may call; nothing is shared between calls.
 * The process calls gsl_set_error_handler_off() once before any of them
 * (streamflowd's main, the tests and benches do): GSL's default handler
 * aborts, and these functions turn GSL's statuses into negative errnos.
 */
#ifndef AN_DETECT_H
#define AN_DETECT_H

#include <stddef.h>
#include <stdint.h>

/* Parameters shared by all methods. Zero in a field means "the method's default"
 * so callers fill only what a user wrote (USING mad(window=120)). */
struct an_detect_cfg {
	size_t window;       /* points in a rolling window / training span */
	double threshold;    /* the method's own test level (z units, MADs, IQR k, h in
	                        sigmas for CUSUM, penalty multiplier for PELT) */
	double sensitivity;  /* (0, 1): 0.5 (and 0) is the method's default test; higher
	                        flags more: the threshold is scaled by
	                        an_detect_sensitivity_scale() */
	size_t period;       /* seasonal period in points (S-H-ESD); 0 = detect */
	double max_anoms;    /* S-H-ESD: largest flagged fraction (default 0.02) */
	double alpha;        /* EWMA weight / ESD significance, method-specific */
	uint64_t seed;       /* random methods (isolation forest); 0 = fixed default */
};

/* The factor a method multiplies its threshold by: 2^(1 - 2s), so 1 at
 * s = 0.5 (or 0, unset), 2 at s -> 0 and 0.5 at s = 1. */
static inline double an_detect_sensitivity_scale(double s)
{
	if (!(s > 0.0 && s <= 1.0))
		s = 0.5;
	return __builtin_exp2(1.0 - 2.0 * s);
}

/* One detector; returns 0 or a negative errno (-EINVAL for bad parameters,
 * -ENOMEM). Writes score[0..n) and flag[0..n) on success. */
typedef int (*an_detect_fn)(const double *x, size_t n, const struct an_detect_cfg *cfg,
			    double *score, uint8_t *flag);

/* The methods (each in its own file; see the file's comment for the method). */
int an_detect_zscore(const double *x, size_t n, const struct an_detect_cfg *cfg,
		     double *score, uint8_t *flag);
int an_detect_mad(const double *x, size_t n, const struct an_detect_cfg *cfg,
		  double *score, uint8_t *flag);
int an_detect_iqr(const double *x, size_t n, const struct an_detect_cfg *cfg,
		  double *score, uint8_t *flag);
int an_detect_ewma(const double *x, size_t n, const struct an_detect_cfg *cfg,
		   double *score, uint8_t *flag);
int an_detect_iforest(const double *x, size_t n, const struct an_detect_cfg *cfg,
		      double *score, uint8_t *flag);
int an_detect_cusum(const double *x, size_t n, const struct an_detect_cfg *cfg,
		    double *score, uint8_t *flag);
int an_detect_pelt(const double *x, size_t n, const struct an_detect_cfg *cfg,
		   double *score, uint8_t *flag);
int an_detect_shesd(const double *x, size_t n, const struct an_detect_cfg *cfg,
		    double *score, uint8_t *flag);
int an_detect_ensemble(const double *x, size_t n, const struct an_detect_cfg *cfg,
		       double *score, uint8_t *flag);

#endif /* AN_DETECT_H */
