/*
 * an_shesd.c - S-H-ESD (see an_shesd.h), ported from the R code of Twitter's
 * AnomalyDetection package (AnomalyDetectionTs, AnomalyDetectionVec and
 * detect_anoms), with R's stl() from an_stl.c and Student t quantiles from
 * GSL. Tie rules follow R: among equally extreme points the earliest goes
 * first.
 */
#include "an_shesd.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "an_detect.h"
#include "an_spectral.h"
#include "an_stl.h"
#include "an_util.h"

#define NS_PER_DAY INT64_C(86400000000000)
#define NS_PER_HOUR INT64_C(3600000000000)

/* ------------------------------------------------------------------------ */
/* Generalized ESD over a sorted range                                      */
/* ------------------------------------------------------------------------ */

struct esd_pt {
	double v;
	size_t idx;
};

static int esd_pt_cmp(const void *pa, const void *pb)
{
	const struct esd_pt *a = pa, *b = pb;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* State of one ESD run: the remaining points are a[lo..hi), their values
 * also in v[lo..hi) (ascending, for the order statistics). */
struct esd {
	struct esd_pt *a;
	double *v;
	size_t lo, hi;
	bool hybrid;
	double mean, m2; /* plain ESD: mean and sum of squared deviations */
};

static double esd_median(const struct esd *e)
{
	size_t m = e->hi - e->lo, h = e->lo + m / 2;
	return m % 2 ? e->v[h] : (e->v[h - 1] + e->v[h]) / 2.0;
}

/* R's mad(): 1.4826 * median |x - median(x)| of the remaining range. */
static double esd_mad(const struct esd *e, double med)
{
	return 1.4826 * an_sorted_mad(e->v + e->lo, e->hi - e->lo, med);
}

static void esd_center_scale(const struct esd *e, double *c, double *s)
{
	if (e->hybrid) {
		*c = esd_median(e);
		*s = esd_mad(e, *c);
	} else {
		size_t m = e->hi - e->lo;
		*c = e->mean;
		*s = m > 1 ? sqrt(e->m2 / (double)(m - 1)) : 0.0;
	}
}

/* Remove the most extreme point (earliest index among ties); returns its
 * index and the deviation in *dev. */
static size_t esd_remove(struct esd *e, enum an_shesd_direction dir, double c, double *dev)
{
	double dlo = c - e->a[e->lo].v, dhi = e->a[e->hi - 1].v - c;
	bool take_lo, take_hi;
	if (dir == AN_SHESD_POS) {
		take_lo = false;
		take_hi = true;
	} else if (dir == AN_SHESD_NEG) {
		take_lo = true;
		take_hi = false;
	} else {
		take_lo = dlo >= dhi;
		take_hi = dhi >= dlo;
	}
	size_t g = e->hi - 1; /* start of the top group of equal values */
	while (g > e->lo && e->a[g - 1].v == e->a[e->hi - 1].v)
		g--;
	if (take_lo && take_hi)
		take_lo = e->a[e->lo].idx < e->a[g].idx;
	struct esd_pt out;
	if (take_lo) {
		*dev = dlo;
		out = e->a[e->lo++];
	} else {
		*dev = dhi;
		out = e->a[g];
		memmove(&e->a[g], &e->a[g + 1], (e->hi - g - 1) * sizeof(e->a[0]));
		memmove(&e->v[g], &e->v[g + 1], (e->hi - g - 1) * sizeof(e->v[0]));
		e->hi--;
	}
	if (!e->hybrid) { /* downdate mean and m2 (reverse Welford) */
		size_t m = e->hi - e->lo;
		double old = e->mean;
		e->mean = m ? old - (out.v - old) / (double)m : 0.0;
		e->m2 -= (out.v - old) * (out.v - e->mean);
	}
	return out.idx;
}

/* lambda_i of Rosner's procedure for step i (1-based) of n points. */
static double esd_lambda(size_t n, size_t i, double alpha, enum an_shesd_direction dir)
{
	double q = dir == AN_SHESD_BOTH ? alpha / (2.0 * (double)(n - i + 1))
					: alpha / (double)(n - i + 1);
	double p = 1.0 - q; /* as R: qt(1 - q) */
	double df = (double)(n - i - 1);
	double t = gsl_cdf_tdist_Qinv(1.0 - p, df);
	return t * (double)(n - i) / sqrt((df + t * t) * (double)(n - i + 1));
}

int an_gesd(const double *r, size_t n, size_t max_outliers, double alpha,
	    enum an_shesd_direction dir, bool hybrid, size_t *order, double *stat,
	    double *crit, size_t *nsteps, size_t *noutliers)
{
	if (!r || !order || !nsteps || !noutliers || n < 3 || max_outliers == 0 ||
	    max_outliers > n - 2 || !(alpha > 0.0 && alpha < 1.0) || dir > AN_SHESD_NEG)
		return -EINVAL;
	if (!an_all_finite(r, n))
		return -EINVAL;
	struct esd e = { .lo = 0, .hi = n, .hybrid = hybrid };
	e.a = malloc(n * sizeof(*e.a));
	e.v = malloc(n * sizeof(*e.v));
	if (!e.a || !e.v) {
		free(e.a);
		free(e.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		e.a[i] = (struct esd_pt){ r[i], i };
		double d = r[i] - e.mean;
		e.mean += d / (double)(i + 1);
		e.m2 += d * (r[i] - e.mean);
	}
	qsort(e.a, n, sizeof(*e.a), esd_pt_cmp);
	for (size_t i = 0; i < n; i++)
		e.v[i] = e.a[i].v;

	*nsteps = 0;
	*noutliers = 0;
	for (size_t i = 1; i <= max_outliers; i++) {
		double c, s, dev;
		esd_center_scale(&e, &c, &s);
		if (!(s > 0.0))
			break;
		order[i - 1] = esd_remove(&e, dir, c, &dev);
		double R = dev / s, lam = esd_lambda(n, i, alpha, dir);
		if (stat)
			stat[i - 1] = R;
		if (crit)
			crit[i - 1] = lam;
		*nsteps = i;
		if (R > lam)
			*noutliers = i;
	}
	free(e.v);
	free(e.a);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* One chunk: STL, residual, hybrid ESD (detect_anoms)                      */
/* ------------------------------------------------------------------------ */

/* Per-call parameters after defaults. */
struct shesd_par {
	size_t period;
	double k, alpha;
	enum an_shesd_direction dir;
};

/* Scratch and outputs shared by the chunks of one call. */
struct shesd_ctx {
	const struct shesd_par *par;
	const double *v;      /* the series with interior NaNs filled */
	uint8_t *anom;        /* per point: flagged by some chunk */
	uint8_t *covered;     /* per point: a chunk already wrote expected/ratio */
	double *expected;     /* optional */
	double *ratio;        /* optional: R_1-style statistic / lambda_1 */
	double *seasonal, *trend, *resid, *tmp, *dev; /* chunk scratch */
	size_t *order;
};

/* Median of x[0..n) by selection on a copy in tmp (O(n)). */
static double shesd_median(const double *x, size_t n, double *tmp)
{
	memcpy(tmp, x, n * sizeof(*x));
	return gsl_stats_median(tmp, 1, n);
}

/* Hybrid statistic of every point against the whole residual, over lambda_1. */
static void shesd_ratios(struct shesd_ctx *c, size_t lo, size_t m, double med, double mad,
			 double lam1)
{
	for (size_t i = 0; i < m; i++) {
		if (c->covered[lo + i])
			continue;
		double d = c->resid[i] - med;
		if (c->par->dir == AN_SHESD_NEG)
			d = -d;
		else if (c->par->dir == AN_SHESD_BOTH)
			d = fabs(d);
		c->ratio[lo + i] = d > 0 ? d / mad / lam1 : 0.0;
	}
}

/* detect_anoms on v[lo..lo+m): marks anom[], fills expected/ratio where not
 * yet covered. */
static int shesd_chunk(struct shesd_ctx *c, size_t lo, size_t m)
{
	const struct shesd_par *p = c->par;
	struct an_stl_cfg sc;
	size_t nsteps, nout;
	int rc;

	if (m <= 2 * p->period)
		return -EINVAL;
	size_t max_out = (size_t)trunc((double)m * p->k);
	if (max_out == 0)
		return -EINVAL;
	an_stl_cfg_init(&sc, p->period);
	sc.robust = true;
	rc = an_stl(c->v + lo, m, &sc, c->seasonal, c->trend, NULL, NULL);
	if (rc)
		return rc;
	double med = shesd_median(c->v + lo, m, c->resid);
	for (size_t i = 0; i < m; i++)
		c->resid[i] = c->v[lo + i] - c->seasonal[i] - med;
	rc = an_gesd(c->resid, m, max_out, p->alpha, p->dir, true, c->order, NULL, NULL,
		     &nsteps, &nout);
	if (rc)
		return rc;
	for (size_t i = 0; i < nout; i++)
		c->anom[lo + c->order[i]] = 1;
	if (c->ratio) {
		double rmed = shesd_median(c->resid, m, c->tmp);
		for (size_t i = 0; i < m; i++)
			c->dev[i] = fabs(c->resid[i] - rmed);
		double mad = 1.4826 * shesd_median(c->dev, m, c->tmp);
		double lam1 = esd_lambda(m, 1, p->alpha, p->dir);
		if (!(mad > 0)) /* mostly tied residuals: the mean absolute deviation */
			mad = an_meanad_sigma(c->resid, m, rmed);
		if (mad > 0)
			shesd_ratios(c, lo, m, rmed, mad, lam1);
	}
	for (size_t i = 0; i < m; i++) {
		if (c->covered[lo + i])
			continue;
		if (c->expected)
			c->expected[lo + i] = trunc(c->trend[i] + c->seasonal[i]);
		c->covered[lo + i] = 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Chunking (longterm), thresholds, only_last                               */
/* ------------------------------------------------------------------------ */

/* True when the data are daily or coarser (the package's get_gran "day"). */
static bool shesd_daily(const int64_t *ts, size_t n)
{
	return ts && n >= 2 && ts[n - 1] - ts[n - 2] >= NS_PER_DAY;
}

/* The span [*a, *b) of the Ts chunk starting at point j (of a..N). */
static void shesd_ts_chunk(const int64_t *ts, size_t f, size_t N, size_t j, int64_t span,
			   size_t *a, size_t *b)
{
	int64_t start = ts[j], last = ts[N - 1];
	int64_t end = start + span < last ? start + span : last;
	size_t i;
	if (end - start == span) {
		*a = j;
		for (i = j; i < N && ts[i] < end; i++)
			;
		*b = i;
	} else {
		for (i = f; i < N && ts[i] <= last - span; i++)
			;
		*a = i;
		*b = N;
	}
}

/* Run detect_anoms over the chunks of points f..N-1 (usable span). */
static int shesd_chunks(struct shesd_ctx *c, const struct an_shesd_cfg *cfg, size_t f,
			size_t N)
{
	int rc;
	if (!cfg->longterm)
		return shesd_chunk(c, f, N - f);
	size_t per = c->par->period, weeks = cfg->piecewise_weeks ? cfg->piecewise_weeks : 2;
	size_t step;
	int64_t span = 0;
	if (cfg->ts_ns) {
		bool daily = shesd_daily(cfg->ts_ns + f, N - f);
		step = daily ? per * weeks + 1 : per * 7 * weeks;
		span = (int64_t)(daily ? 7 * weeks + 1 : 7 * weeks) * NS_PER_DAY;
	} else {
		step = cfg->longterm_points ? cfg->longterm_points : 14 * per;
	}
	for (size_t j = f; j < N; j += step) {
		size_t a, b;
		if (cfg->ts_ns) {
			shesd_ts_chunk(cfg->ts_ns, f, N, j, span, &a, &b);
		} else if (j + step <= N) {
			a = j;
			b = j + step;
		} else {
			a = N - f > step ? N - step : f;
			b = N;
		}
		rc = shesd_chunk(c, a, b - a);
		if (rc)
			return rc;
	}
	return 0;
}

/* Threshold over the maxima of groups (calendar days with timestamps, else
 * period-point groups of the usable span); NaN when no group. */
static int shesd_threshold(const double *x, size_t f, size_t N, const struct an_shesd_cfg *cfg,
			   size_t period, double *thresh)
{
	double *mx = malloc((N - f) * sizeof(*mx));
	size_t g = 0;
	if (!mx)
		return -ENOMEM;
	for (size_t i = f; i < N;) {
		double m = -INFINITY;
		size_t j = i;
		if (cfg->ts_ns) {
			int64_t ts = cfg->ts_ns[i];
			int64_t day = ts / NS_PER_DAY - (ts % NS_PER_DAY < 0);
			for (; j < N; j++) {
				int64_t t = cfg->ts_ns[j];
				if (t / NS_PER_DAY - (t % NS_PER_DAY < 0) != day)
					break;
				if (!isnan(x[j]) && x[j] > m)
					m = x[j];
			}
		} else {
			for (; j < N && j < i + period; j++)
				if (!isnan(x[j]) && x[j] > m)
					m = x[j];
		}
		if (m > -INFINITY)
			mx[g++] = m;
		i = j;
	}
	gsl_sort(mx, 1, g);
	double q = cfg->threshold == AN_SHESD_THRESH_MED_MAX ? 0.5
		   : cfg->threshold == AN_SHESD_THRESH_P95   ? 0.95
							     : 0.99;
	*thresh = g ? (q == 0.5 ? gsl_stats_median_from_sorted_data(mx, 1, g)
				: gsl_stats_quantile_from_sorted_data(mx, 1, g, q))
		    : NAN;
	free(mx);
	return 0;
}

/* First index of the only_last window over the whole input. */
static size_t shesd_last_start(size_t n, const struct an_shesd_cfg *cfg, size_t period)
{
	if (cfg->only_last == AN_SHESD_LAST_ALL)
		return 0;
	if (!cfg->ts_ns)
		return n > period ? n - period : 0;
	int64_t w = cfg->only_last == AN_SHESD_LAST_HR && !shesd_daily(cfg->ts_ns, n) ? NS_PER_HOUR
										   : NS_PER_DAY;
	size_t i = n;
	while (i > 0 && cfg->ts_ns[i - 1] > cfg->ts_ns[n - 1] - w)
		i--;
	return i;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

static int shesd_check(const double *x, size_t n, const struct an_shesd_cfg *cfg,
		       struct shesd_par *p)
{
	if (!x || !cfg || cfg->period < 2 || cfg->direction > AN_SHESD_NEG ||
	    cfg->threshold > AN_SHESD_THRESH_P99 || cfg->only_last > AN_SHESD_LAST_HR ||
	    !(cfg->max_anoms >= 0.0 && cfg->max_anoms <= 0.49) ||
	    !(cfg->alpha >= 0.0 && cfg->alpha < 1.0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (isinf(x[i]) || (cfg->ts_ns && i > 0 && cfg->ts_ns[i] <= cfg->ts_ns[i - 1]))
			return -EINVAL;
	p->period = cfg->period;
	p->k = cfg->max_anoms > 0.0 ? cfg->max_anoms : 0.02;
	p->alpha = cfg->alpha > 0.0 ? cfg->alpha : 0.05;
	p->dir = cfg->direction;
	if (n > 0 && p->k < 1.0 / (double)n)
		p->k = 1.0 / (double)n;
	return 0;
}

/* Linear interpolation of interior NaNs of x[f..N) into v. */
static void shesd_fill(const double *x, size_t f, size_t N, double *v)
{
	size_t prev = f;
	for (size_t i = f; i < N; i++) {
		v[i] = x[i];
		if (isnan(x[i]))
			continue;
		for (size_t j = prev + 1; j < i; j++)
			v[j] = x[prev] + (x[i] - x[prev]) * (double)(j - prev) / (double)(i - prev);
		prev = i;
	}
}

/* The whole procedure; ratio (optional) gets the per-point statistic over
 * the first critical value. Flags are left in c.anom (caller frees). */
static int shesd_run(const double *x, size_t n, const struct an_shesd_cfg *cfg,
		     struct shesd_par *p, uint8_t *anom, double *ratio)
{
	struct shesd_ctx c = { .par = p, .anom = anom, .ratio = ratio, .expected = cfg->expected };
	size_t f = 0, N = n;
	int rc = -ENOMEM;

	while (f < N && isnan(x[f]))
		f++;
	while (N > f && isnan(x[N - 1]))
		N--;
	if (N - f <= 2 * p->period)
		return -EINVAL;
	double *mem = malloc(6 * n * sizeof(double) + n * sizeof(size_t) + n);
	if (!mem)
		return -ENOMEM;
	double *v = mem;
	c.seasonal = mem + n;
	c.trend = mem + 2 * n;
	c.resid = mem + 3 * n;
	c.tmp = mem + 4 * n;
	c.dev = mem + 5 * n;
	c.order = (size_t *)(mem + 6 * n);
	c.covered = (uint8_t *)(c.order + n);
	memset(c.covered, 0, n);
	memset(anom, 0, n);
	shesd_fill(x, f, N, v);
	c.v = v;
	for (size_t i = 0; c.expected && i < n; i++)
		c.expected[i] = NAN;
	for (size_t i = 0; ratio && i < n; i++)
		ratio[i] = 0.0;

	rc = shesd_chunks(&c, cfg, f, N);
	if (rc)
		goto out_free;
	double thresh = -INFINITY;
	if (cfg->threshold != AN_SHESD_THRESH_NONE) {
		rc = shesd_threshold(x, f, N, cfg, p->period, &thresh);
		if (rc)
			goto out_free;
	}
	size_t last = shesd_last_start(n, cfg, p->period);
	for (size_t i = 0; i < n; i++)
		if (anom[i] && (isnan(x[i]) || !(x[i] >= thresh) || i < last))
			anom[i] = 0;
out_free:
	free(mem);
	return rc;
}

int an_shesd(const double *x, size_t n, const struct an_shesd_cfg *cfg, size_t *anoms,
	     size_t *nanoms, size_t cap)
{
	struct shesd_par p;
	int rc;

	if (!nanoms || (!anoms && cap > 0))
		return -EINVAL;
	rc = shesd_check(x, n, cfg, &p);
	if (rc)
		return rc;
	uint8_t *anom = malloc(n ? n : 1);
	if (!anom)
		return -ENOMEM;
	rc = shesd_run(x, n, cfg, &p, anom, NULL);
	if (rc == 0) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!anom[i])
				continue;
			if (k < cap)
				anoms[k] = i;
			k++;
		}
		*nanoms = k;
		if (k > cap)
			rc = -ENOBUFS;
	}
	free(anom);
	return rc;
}

/*
 * The an_detect.h adapter (batch: every score uses the whole series); cfg
 * NULL means all defaults, as for the other detectors. Vec variant, both directions, no threshold. period 0: an_detect_period()
 * (an_spectral.h) over periods up to (n - 1) / 2; -EINVAL when it finds none
 * (or the series has NaNs, which it rejects). Sensitivity s divides both alpha and max_anoms by
 * an_detect_sensitivity_scale(s) (capped at 0.5 and 0.49), so s > 0.5 flags
 * more. Score, graded by the point's hybrid statistic z = |r - median(r)| /
 * MAD(r) over the first ESD critical value lambda_1 (MAD(r) = 0: 1.2533 times
 * the mean absolute deviation instead): g = z / (z + 1); flagged points
 * score 0.5 + g / 2 (in [0.5, 1)), the others g / 2 (in [0, 0.5)), so the
 * test's verdict ranks first and the statistic ranks within each class;
 * 0 for NaNs.
 */
int an_detect_shesd(const double *x, size_t n, const struct an_detect_cfg *cfg, double *score,
		    uint8_t *flag)
{
	static const struct an_detect_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	if (!x || !score || !flag)
		return -EINVAL;
	size_t period = cfg->period;
	if (period == 0 && n >= 5)
		period = an_detect_period(x, n, (n - 1) / 2);
	if (period == 0)
		return -EINVAL;
	double scale = an_detect_sensitivity_scale(cfg->sensitivity);
	struct an_shesd_cfg sc = {
		.period = period,
		.max_anoms = fmin((cfg->max_anoms > 0 ? cfg->max_anoms : 0.02) / scale, 0.49),
		.alpha = fmin((cfg->alpha > 0 ? cfg->alpha : 0.05) / scale, 0.5),
		.direction = AN_SHESD_BOTH,
	};
	struct shesd_par p;
	int rc = shesd_check(x, n, &sc, &p);
	if (rc)
		return rc;
	rc = shesd_run(x, n, &sc, &p, flag, score);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		double z = score[i];
		double g = isnan(x[i]) || !(z > 0) ? 0.0 : isinf(z) ? 1.0 : z / (z + 1.0);
		score[i] = flag[i] ? 0.5 + 0.5 * g : 0.5 * g;
	}
	return 0;
}
