/*
 * an_online.h - the online EWMA anomaly detector: one small state per series,
 * fed one value at a time, for the management plane's streaming detection
 * (every newly arriving point of every configured series passes through
 * an_online_push; goal >= 10 M points/s per core). an_detect_ewma (an_detect.h)
 * is the batch form over the same code.
 *
 * Method: the state is an exponentially weighted mean m and variance v
 * (weight alpha of the newest value; the first ceil(1/alpha) values are
 * averaged with equal weights, i.e. the weight is max(alpha, 1/count), so the
 * start is the exact mean and population variance instead of a biased EWMA
 * seeded at zero). For each value x, before the update:
 *
 *   z^2    = (x - m)^2 / (v + AN_ONLINE_EPS)
 *   flag   = z > thr * an_detect_sensitivity_scale(sensitivity)  (after warm-up)
 *   score  = an_detect_score_map(zs, thr)         (0 during warm-up), where
 *   zs^2   = (x - m)^2 / max(v, (AN_RES_FRAC * res)^2)
 *
 * res is the series' resolution: the smallest positive difference between
 * consecutive finite values seen so far (this one included). The floor only
 * matters where the variance has (nearly) vanished, in flat stretches: there
 * any differing value is flagged, as before, but its score still grows with
 * its distance (in resolution steps) instead of being 1 for every one.
 *
 * then m and v are updated. A value beyond the flag threshold enters the
 * variance update winsorised, as if it lay exactly at the threshold, so one
 * huge spike does not blind the detector to the next ones (each such value
 * can grow v by at most (1 - alpha)(1 + alpha thr^2), 1.71x by default); the
 * mean still moves by the full weight, so a level shift is adopted at the
 * EWMA's pace. While v is exactly 0 (a constant start) nothing is winsorised.
 * NaN and +-Inf are missing: score 0, no flag, state unchanged.
 *
 * Parameters (struct an_detect_cfg; zero = default): alpha (0.05), threshold
 * thr in z units (4), window = warm-up values scored 0 (default ceil(1/alpha)),
 * sensitivity (an_detect_sensitivity_scale).
 *
 * Thread rules: a state belongs to one thread at a time; no shared data.
 */
#ifndef AN_ONLINE_H
#define AN_ONLINE_H

#include <math.h>
#include <stdint.h>

#include "an_detect.h"

/* Added to the variance in the flag's test: only keeps 0/0 out; a series
 * that has been exactly constant so far flags any differing value. */
#define AN_ONLINE_EPS 1e-300

/* The least spread a score divides by, in units of the series' resolution
 * (shared with the rolling detectors of an_detect_roll.c). */
#define AN_RES_FRAC 0.1

/*
 * The map from a test statistic z >= 0 (z-score, robust z, IQR distance,
 * CUSUM S) and the method's base threshold thr > 0 to a score in [0, 1] that
 * every detector of this family uses (the rolling z/MAD/IQR detectors, the
 * online EWMA detector, CUSUM):
 *
 *   score = q / (1 + q),  q = (z / thr)^2       (computed as 1 - 1 / (1 + q))
 *
 * Smooth and strictly monotone: 0 at z = 0, 0.5 at z = thr, 0.8 at 2 thr,
 * 0.99 at 10 thr, and 1 only for z = inf. Its tail is polynomial so scores
 * stay distinct in double precision up to z ~ 10^7 thr: large deviations
 * still rank against each other (a Gaussian-tail map would round every
 * z > 7.3 thr to exactly 1). The score does not depend on the sensitivity;
 * at sensitivity s a point is flagged when z > thr * an_detect_sensitivity_scale(s).
 */
static inline double an_detect_score_map(double z, double thr)
{
	double r = z / thr;
	return 1.0 - 1.0 / (1.0 + r * r);
}

/* Plain public struct: the streaming detector keeps one per series in a flat
 * array indexed by series and an_online_push must inline into its loop. */
struct an_online {
	double mean;     /* EWMA mean */
	double var;      /* EWMA variance */
	double alpha;    /* weight of the newest value after the start */
	double k_score;  /* 1 / thr^2: score = 1 - 1 / (1 + k_score zs^2) */
	double z2_flag;  /* (thr * sensitivity scale)^2 */
	double prev;     /* last finite value (NaN before the first) */
	double res2;     /* squared resolution (AN_RES_FRAC applied); inf if none yet */
	uint64_t n;      /* finite values seen */
	uint64_t warmup; /* values scored 0 before the test starts */
};

/*
 * Check cfg (borrowed; NULL = all defaults) and set *d to the empty state.
 * Returns 0, or -EINVAL for a bad cfg (alpha outside [0, 1], threshold < 0 or
 * not finite, sensitivity outside [0, 1], window 1); *d is then untouched.
 */
int an_online_init(struct an_online *d, const struct an_detect_cfg *cfg);

/*
 * HOT PATH. Score x against the state, write its flag (0/1) to *flag, then
 * update the state with x. Returns the score in [0, 1]. Non-finite x: returns
 * 0, *flag = 0, state unchanged. No allocation, no calls.
 */
static inline double an_online_push(struct an_online *d, double x, uint8_t *flag)
{
	if (__builtin_expect(!isfinite(x), 0)) {
		*flag = 0;
		return 0.0;
	}
	double step = x - d->prev;
	double step2 = AN_RES_FRAC * AN_RES_FRAC * step * step;
	d->res2 = (step2 > 0.0 && step2 < d->res2) ? step2 : d->res2;
	d->prev = x;
	double dev = x - d->mean;
	double dev2 = dev * dev;
	double z2 = dev2 / (d->var + AN_ONLINE_EPS);
	double vs = d->var > d->res2 ? d->var : d->res2;
	double zs2 = dev2 > 0.0 ? dev2 / vs : 0.0;
	int warm = d->n >= d->warmup;
	double score = (1.0 - 1.0 / (1.0 + d->k_score * zs2)) * (double)warm;
	*flag = (uint8_t)(warm & (z2 > d->z2_flag));
	/* winsorise the variance update once the test runs (not while the
	 * variance is 0: a constant start must be able to learn a spread) */
	double cap = (warm & (d->var > 0.0)) ? d->z2_flag * d->var : INFINITY;
	dev2 = dev2 < cap ? dev2 : cap;
	d->n++;
	double a = 1.0 / (double)d->n;
	a = a > d->alpha ? a : d->alpha;
	d->mean += a * dev;
	d->var = (1.0 - a) * (d->var + a * dev2);
	return score;
}

#endif /* AN_ONLINE_H */
