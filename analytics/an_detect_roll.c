/*
 * an_detect_roll.c - the rolling-window detectors: z-score, robust MAD and
 * IQR (Tukey's fences), for DETECT ANOMALIES ... USING zscore/mad/iqr and
 * anomaly_score(). Batch over a caller array, causal: point i is judged
 * against the finite values among x[i-w .. i-1] (w = cfg->window, default
 * 60; NaN/Inf are missing: they score 0, are never flagged and are left out
 * of every window). Usage profile: one query over up to ~10^6 points. The
 * window is an an_window (an_window.h) of w positions, a gap being an
 * an_window_skip(): the z-score reads its running mean and variance (O(1)
 * per point, any w); MAD and IQR read its sorted copy (O(w) memmove per
 * point, then O(1) median and quartiles and an O(log w) MAD).
 *
 * Statistic z of point x against its window, base threshold thr (default):
 *   zscore: z = |x - mean| / sd (sample sd, n - 1)                  (3)
 *   mad:    z = |x - median| / (1.4826 MAD); when MAD = 0 but the window is
 *           not constant, the spread is 1.2533 * mean |v - median| (the
 *           normal-consistent mean absolute deviation) instead           (3.5)
 *   iqr:    z = max(Q1 - x, x - Q3, 0) / IQR, quartiles as R's type 7
 *           (GSL's gsl_stats_quantile_from_sorted_data); x is outside the
 *           fences [Q1 - k IQR, Q3 + k IQR] exactly when z > k       (k = 1.5)
 * Each statistic is a deviation over a spread (sd, 1.4826 MAD, IQR).
 * Flag when z > thr * an_detect_sensitivity_scale(sensitivity); with zero
 * spread (a constant window, or IQR = 0) a value equal to the window's (for
 * IQR: inside [Q1, Q3]) has z = 0 and any other z = inf, so it is flagged.
 * Score = an_detect_score_map(zs, thr) (an_online.h: 0.5 at zs = thr), where
 * zs divides the same deviation by max(spread, AN_RES_FRAC * res), res being
 * the series' resolution: the smallest positive difference between
 * consecutive finite values so far (this one included). So in flat stretches
 * a differing value is still flagged, but its score grows with its distance
 * in resolution steps instead of being 1 for all of them (scores must rank
 * points, for anomaly_score() and for NAB's threshold). Where the spread
 * exceeds the floor, zs = z. Warm-up: until the window holds min(w, 10)
 * finite values a point scores 0 and is not flagged.
 *
 * Memory: one an_window per call (3 or 4 w doubles), freed before return.
 * Any thread.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_statistics_double.h>

#include "an_detect.h"
#include "an_online.h"
#include "an_util.h"
#include "an_window.h"

#define ROLL_WINDOW 60
#define ROLL_MIN_HIST 10
#define ROLL_MAD_SCALE 1.4826

enum roll_method { ROLL_Z, ROLL_MAD, ROLL_IQR };

/* ---- the statistics ----------------------------------------------------- */

/* Each statistic writes the deviation of x and the window's spread (0 for a
 * constant window, where the deviation is |x - the window's value|). */
static void roll_z(const struct an_window *win, double x, double *dev, double *spread)
{
	double lo = an_window_min(win);
	if (lo == an_window_max(win)) {
		*dev = fabs(x - lo);
		*spread = 0.0;
		return;
	}
	*dev = fabs(x - an_window_mean(win));
	*spread = an_window_stddev(win);
}

static void roll_mad(const struct an_window *win, double x, double *dev, double *spr)
{
	const double *v = an_window_sorted(win);
	size_t n = an_window_count(win);
	if (v[0] == v[n - 1]) {
		*dev = fabs(x - v[0]);
		*spr = 0.0;
		return;
	}
	double med = an_window_median(win);
	double spread = ROLL_MAD_SCALE * an_window_mad(win);
	if (!(spread > 0.0))
		spread = an_meanad_sigma(v, n, med);
	*dev = fabs(x - med);
	*spr = spread;
}

static void roll_iqr(const struct an_window *win, double x, double *dev, double *spread)
{
	const double *v = an_window_sorted(win);
	size_t n = an_window_count(win);
	double q1 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.25);
	double q3 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.75);
	*dev = fmax(fmax(q1 - x, x - q3), 0.0);
	*spread = q3 > q1 ? q3 - q1 : 0.0;
}

/* Score and flag of point x: z for the flag, zs (spread floored at fl) for
 * the score. */
static void roll_judge(const struct an_window *r, enum roll_method m, double x, double fl,
		       double thr, double zflag, double *score, uint8_t *flag)
{
	double dev = 0.0, spread = 0.0;
	if (m == ROLL_Z)
		roll_z(r, x, &dev, &spread);
	else if (m == ROLL_MAD)
		roll_mad(r, x, &dev, &spread);
	else
		roll_iqr(r, x, &dev, &spread);
	double z = spread > 0.0 ? dev / spread : dev > 0.0 ? INFINITY : 0.0;
	double fs = spread > fl ? spread : fl;
	double zs = dev > 0.0 ? dev / fs : 0.0;
	*score = an_detect_score_map(zs, thr);
	*flag = z > zflag;
}

/* ---- the driver ------------------------------------------------------------ */

static int roll_check(const double *x, size_t n, const struct an_detect_cfg *cfg,
		      const double *score, const uint8_t *flag)
{
	if (n && (!x || !score || !flag))
		return -EINVAL;
	if (!cfg)
		return 0;
	if (cfg->window == 1 || !(cfg->threshold >= 0.0 && isfinite(cfg->threshold)) ||
	    !(cfg->sensitivity >= 0.0 && cfg->sensitivity <= 1.0))
		return -EINVAL;
	return 0;
}

static int roll_run(const double *x, size_t n, const struct an_detect_cfg *cfg,
		    enum roll_method m, double thr_default, double *score, uint8_t *flag)
{
	static const struct an_detect_cfg defaults;
	int rc = roll_check(x, n, cfg, score, flag);
	if (rc)
		return rc;
	if (!cfg)
		cfg = &defaults;
	size_t w = cfg->window ? cfg->window : ROLL_WINDOW;
	double thr = cfg->threshold > 0.0 ? cfg->threshold : thr_default;
	double zflag = thr * an_detect_sensitivity_scale(cfg->sensitivity);
	size_t min_hist = w < ROLL_MIN_HIST ? w : ROLL_MIN_HIST;
	/* A window longer than the series holds the whole series: same values. */
	size_t cap = w < n ? w : n;
	struct an_window *r;
	rc = an_window_create(cap ? cap : 1, m == ROLL_Z ? 0 : AN_WINDOW_ORDER, &r);
	if (rc)
		return rc;
	double prev = NAN, fl = INFINITY; /* last finite value, spread floor */
	for (size_t i = 0; i < n; i++) {
		score[i] = 0.0;
		flag[i] = 0;
		if (isfinite(x[i])) {
			double step = AN_RES_FRAC * fabs(x[i] - prev);
			fl = step > 0.0 && step < fl ? step : fl;
			prev = x[i];
		}
		if (isfinite(x[i]) && an_window_count(r) >= min_hist)
			roll_judge(r, m, x[i], fl, thr, zflag, &score[i], &flag[i]);
		if (an_window_push(r, x[i]) < 0)
			an_window_skip(r); /* a gap: its position still ages out */
	}
	an_window_destroy(r);
	return 0;
}

/* The three methods; contract in an_detect.h, method in the comment above. */
int an_detect_zscore(const double *x, size_t n, const struct an_detect_cfg *cfg,
		     double *score, uint8_t *flag)
{
	return roll_run(x, n, cfg, ROLL_Z, 3.0, score, flag);
}

int an_detect_mad(const double *x, size_t n, const struct an_detect_cfg *cfg,
		  double *score, uint8_t *flag)
{
	return roll_run(x, n, cfg, ROLL_MAD, 3.5, score, flag);
}

int an_detect_iqr(const double *x, size_t n, const struct an_detect_cfg *cfg,
		  double *score, uint8_t *flag)
{
	return roll_run(x, n, cfg, ROLL_IQR, 1.5, score, flag);
}
