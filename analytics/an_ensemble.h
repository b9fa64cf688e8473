/*
 * an_ensemble.h - an ensemble anomaly detector: several causal member
 * detectors (an_detect.h), each member's score turned into a calibrated
 * surprise against that member's own past, the surprises combined, and a
 * refractory rule so that one anomaly episode is reported once. Built for
 * alerting on operational series (and measured on the Numenta Anomaly
 * Benchmark, perf/pf_nab_bench.c), where an early first detection matters and
 * repeated detections of the same episode are noise.
 *
 * Method, for each point i (every step uses x[0..i] only: causal):
 *   1. member m scores the series with its own causal method: s_m[i]; the
 *      default members are the rolling z-score over 60 points, the z-score
 *      against the last 10,000 points, and the same long z-score of the
 *      series smoothed by a 12-point trailing mean (sustained level shifts);
 *   2. calibration: p_m[i] = (1 + #{j < i : s_m[j] >= s_m[i]}) / (i + 1),
 *      the empirical tail probability of today's score among the member's
 *      past scores (a rank, so members on different scales become
 *      comparable), and u_m[i] = -log10 p_m[i], the surprise in decades;
 *   3. combination: U[i] = sum_m w_m u_m[i] / sum_m w_m (AN_ENSEMBLE_MEAN)
 *      or max_m w_m u_m[i] / max_m w_m (AN_ENSEMBLE_MAX);
 *   4. refractory rule: a point reports only if U[i] beats every U of the
 *      previous `refractory` points (a new local record: the start of an
 *      episode, or an episode that gets worse), otherwise it reports 0;
 *   5. score[i] = 1 - 10^(-R[i] / 4) for the reported surprise R[i]
 *      (0.5 at 1.2 decades, 0.9 at 4 decades), so score is in [0, 1) and
 *      monotone in the surprise.
 * flag[i] = score[i] > level, level = an_ensemble_level(thr * sensitivity
 * scale) with thr the threshold in decades (cfg->threshold, default
 * AN_ENSEMBLE_THRESHOLD).
 *
 * Cost: each member's own cost plus O(n log n) per member for the ranks.
 * Scratch memory is malloc'd per call (about 4 n doubles per member) and freed
 * before return. Pure numerical code; any thread; nothing shared.
 */
#ifndef AN_ENSEMBLE_H
#define AN_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "an_detect.h"

/* Default refractory span in points, and flag threshold in decades. */
#define AN_ENSEMBLE_REFRACTORY 300
#define AN_ENSEMBLE_THRESHOLD 2.0

/* One member: its detector, the cfg it is called with, and its weight (> 0). */
struct an_ensemble_member {
	an_detect_fn fn;
	struct an_detect_cfg cfg;
	double weight;
};

/* How the members' surprises are combined. */
enum an_ensemble_combine {
	AN_ENSEMBLE_MEAN = 0,  /* weighted mean: all members must agree */
	AN_ENSEMBLE_MAX = 1,   /* weighted max: any member may report */
};

/* A member set (borrowed for the call). */
struct an_ensemble_cfg {
	const struct an_ensemble_member *members;
	size_t nmembers;
	size_t refractory;   /* points; 0 = no refractory rule */
	double threshold;    /* flag level in decades of surprise */
	double sensitivity;  /* an_detect_sensitivity_scale() of threshold */
	enum an_ensemble_combine combine;
};

/*
 * The default ensemble with the an_detect_fn signature. cfg (borrowed; NULL =
 * defaults): window = refractory span (default AN_ENSEMBLE_REFRACTORY),
 * threshold = flag level in decades (default AN_ENSEMBLE_THRESHOLD),
 * sensitivity, seed (passed to random members); the other fields are the
 * members' own and left at their defaults. Writes score[0..n) in [0, 1) and
 * flag[0..n). Returns 0, -EINVAL (NULL arrays with n > 0, threshold < 0 or
 * not finite, sensitivity outside [0, 1]), -ENOMEM, or a member's error.
 * NaN/Inf values are missing: score 0, flag 0.
 */
int an_detect_ensemble(const double *x, size_t n, const struct an_detect_cfg *cfg,
		       double *score, uint8_t *flag);

/* The ensemble over an explicit member set (ec borrowed). Same contract. */
int an_ensemble_run(const double *x, size_t n, const struct an_ensemble_cfg *ec,
		    double *score, uint8_t *flag);

/* The score of a reported surprise of `decades`: 1 - 10^(-decades / 4). */
double an_ensemble_level(double decades);

#endif /* AN_ENSEMBLE_H */
