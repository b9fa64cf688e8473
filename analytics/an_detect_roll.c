/*
 * an_detect_roll.c - the rolling-window detectors: z-score, robust MAD and
 * IQR (Tukey's fences), for DETECT ANOMALIES ... USING zscore/mad/iqr and
 * anomaly_score(). Batch over a caller array, causal: point i is judged
 * against the finite values among x[i-w .. i-1] (w = cfg->window, default
 * 60; NaN/Inf are missing: they score 0, are never flagged and are left out
 * of every window). Usage profile: one query over up to ~10^6 points; all
 * three methods keep the window as a sorted array (O(w) insert/delete by
 * memmove), so the order statistics cost O(1) (median, quartiles) or O(w)
 * (MAD) per point instead of a sort.
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
 * Memory: one w-double buffer per call, freed before return. Any thread.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "an_detect.h"
#include "an_online.h"

#define ROLL_WINDOW 60
#define ROLL_MIN_HIST 10
#define ROLL_MAD_SCALE 1.4826
#define ROLL_MEANAD_SCALE 1.2533141373155003 /* sqrt(pi / 2) */

enum roll_method { ROLL_Z, ROLL_MAD, ROLL_IQR };

/* The window: its finite values sorted, and sums of (v - shift) for the mean
 * and variance (the shift, re-based on the mean every w updates, keeps the
 * sums free of cancellation). */
struct roll {
	double *v;
	size_t n;
	size_t w;
	double shift, sum, sumsq;
	size_t updates;
};

/* ---- the sorted window ---------------------------------------------- */

static size_t roll_lower_bound(const struct roll *r, double x)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void roll_rebase(struct roll *r)
{
	double s = 0.0;
	for (size_t i = 0; i < r->n; i++)
		s += r->v[i];
	r->shift = r->n ? s / (double)r->n : 0.0;
	r->sum = r->sumsq = 0.0;
	for (size_t i = 0; i < r->n; i++) {
		double d = r->v[i] - r->shift;
		r->sum += d;
		r->sumsq += d * d;
	}
	r->updates = 0;
}

static void roll_account(struct roll *r, double x, double sign)
{
	double d = x - r->shift;
	r->sum += sign * d;
	r->sumsq += sign * d * d;
	if (++r->updates >= r->w)
		roll_rebase(r);
}

static void roll_insert(struct roll *r, double x)
{
	assert(r->n < r->w && isfinite(x));
	if (r->n == 0) {
		r->shift = x;
		r->sum = r->sumsq = 0.0;
		r->updates = 0;
	}
	size_t at = roll_lower_bound(r, x);
	memmove(r->v + at + 1, r->v + at, (r->n - at) * sizeof(*r->v));
	r->v[at] = x;
	r->n++;
	roll_account(r, x, 1.0);
}

static void roll_remove(struct roll *r, double x)
{
	size_t at = roll_lower_bound(r, x);
	assert(at < r->n && r->v[at] == x);
	memmove(r->v + at, r->v + at + 1, (r->n - at - 1) * sizeof(*r->v));
	r->n--;
	roll_account(r, x, -1.0);
}

/* ---- the statistics ----------------------------------------------------- */

/* Each statistic writes the deviation of x and the window's spread (0 for a
 * constant window, where the deviation is |x - v[0]|). */
static void roll_z(const struct roll *r, double x, double *dev, double *spread)
{
	const double *v = r->v;
	size_t n = r->n;
	if (v[0] == v[n - 1]) {
		*dev = fabs(x - v[0]);
		*spread = 0.0;
		return;
	}
	double mean = r->shift + r->sum / (double)n;
	double var = (r->sumsq - r->sum * r->sum / (double)n) / (double)(n - 1);
	if (!(var > 0.0)) /* cancellation on a nearly constant window */
		var = gsl_stats_variance(v, 1, n);
	*dev = fabs(x - mean);
	*spread = sqrt(var);
}

/* The k-th and (k+1)-th smallest (0-based) of |v[j] - med|: the values below
 * med (v[0..lo)), walked down, and those from med up, walked up, are both
 * ascending; merge them. */
static void roll_kth_dev(const double *v, size_t n, size_t lo, double med, size_t k,
			 double *dk, double *dk1)
{
	size_t l = lo, h = lo; /* next left is v[l - 1], next right v[h] */
	double d = 0.0;
	for (size_t i = 0; i <= k + 1 && i < n; i++) {
		if (h < n && (l == 0 || v[h] - med <= med - v[l - 1]))
			d = v[h++] - med;
		else
			d = med - v[--l];
		if (i == k)
			*dk = d;
	}
	*dk1 = d;
}

static void roll_mad(const struct roll *r, double x, double *dev, double *spr)
{
	const double *v = r->v;
	size_t n = r->n;
	if (v[0] == v[n - 1]) {
		*dev = fabs(x - v[0]);
		*spr = 0.0;
		return;
	}
	double med = gsl_stats_median_from_sorted_data(v, 1, n), dk = 0.0, dk1 = 0.0;
	roll_kth_dev(v, n, roll_lower_bound(r, med), med, (n - 1) / 2, &dk, &dk1);
	double mad = n % 2 ? dk : 0.5 * (dk + dk1);
	double spread = ROLL_MAD_SCALE * mad;
	if (!(spread > 0.0)) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += fabs(v[i] - med);
		spread = ROLL_MEANAD_SCALE * s / (double)n;
	}
	*dev = fabs(x - med);
	*spr = spread;
}

static void roll_iqr(const struct roll *r, double x, double *dev, double *spread)
{
	double q1 = gsl_stats_quantile_from_sorted_data(r->v, 1, r->n, 0.25);
	double q3 = gsl_stats_quantile_from_sorted_data(r->v, 1, r->n, 0.75);
	*dev = fmax(fmax(q1 - x, x - q3), 0.0);
	*spread = q3 > q1 ? q3 - q1 : 0.0;
}

/* Score and flag of point x: z for the flag, zs (spread floored at fl) for
 * the score. */
static void roll_judge(const struct roll *r, enum roll_method m, double x, double fl,
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
	struct roll r = { .w = cfg->window ? cfg->window : ROLL_WINDOW };
	double thr = cfg->threshold > 0.0 ? cfg->threshold : thr_default;
	double zflag = thr * an_detect_sensitivity_scale(cfg->sensitivity);
	size_t min_hist = r.w < ROLL_MIN_HIST ? r.w : ROLL_MIN_HIST;
	size_t cap = r.w < n ? r.w : n;
	r.v = malloc((cap ? cap : 1) * sizeof(*r.v));
	if (!r.v)
		return -ENOMEM;
	double prev = NAN, fl = INFINITY; /* last finite value, spread floor */
	for (size_t i = 0; i < n; i++) {
		score[i] = 0.0;
		flag[i] = 0;
		if (isfinite(x[i])) {
			double step = AN_RES_FRAC * fabs(x[i] - prev);
			fl = step > 0.0 && step < fl ? step : fl;
			prev = x[i];
		}
		if (isfinite(x[i]) && r.n >= min_hist)
			roll_judge(&r, m, x[i], fl, thr, zflag, &score[i], &flag[i]);
		if (i >= r.w && isfinite(x[i - r.w]))
			roll_remove(&r, x[i - r.w]);
		if (isfinite(x[i]))
			roll_insert(&r, x[i]);
	}
	free(r.v);
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
