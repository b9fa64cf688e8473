/*
 * an_changept.c - PELT (an_changept.h) and the change-point detectors.
 *
 * an_detect_cusum (causal): two-sided tabular CUSUM (Page 1954; Montgomery's
 * "tabular CUSUM") on standardised values z = (x - mu) / sigma:
 *   S+ = max(0, S+ + z - k),  S- = max(0, S- - z - k),  k = 0.5,
 * alarm when max(S+, S-) > h * an_detect_sensitivity_scale(sensitivity),
 * h = cfg->threshold (default 5). mu and sigma (sample sd) come from a
 * warm-up of w = cfg->window finite values (default 50), during which points
 * score 0; after an alarm both sums reset and mu, sigma are estimated again
 * from the next w values, so each change is reported once, at the alarm
 * point (flag 1 there). Score = an_detect_score_map(max(S+, S-), h): 0.5 at
 * the default decision level. sigma = 0 (a constant warm-up): a differing
 * value raises the alarm at once. Expected false alarms on N(0,1) noise with
 * known mu, sigma at h = 5: one per ~470 monitored points (two-sided ARL0,
 * Siegmund's approximation); estimated parameters raise that somewhat. Mean
 * delay for a 2 sigma shift: ~4 points.
 *
 * an_detect_pelt (batch, NOT causal: PELT segments the whole series): mean
 * cost, sigma estimated (an_pelt_cfg), penalty BIC times cfg->threshold
 * (default 1) times the sensitivity scale, minimum segment cfg->window
 * (default 2). Flag 1 at each change point (the first point of the new
 * segment), score there an_detect_score_map(|mean after - mean before| /
 * sigma, 1) (0.5 for a one-sigma shift); every other point scores 0.
 *
 * Memory: O(n) scratch per call, freed before return. Any thread.
 */
#include "an_changept.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "an_online.h"

#define CUSUM_K 0.5
#define CUSUM_H 5.0
#define CUSUM_WINDOW 50
#define PELT_MINSEG 2
#define PELT_VAR_FLOOR 1e-10

/* ---- PELT ------------------------------------------------------------------- */

struct pelt {
	enum an_pelt_cost cost;
	const double *s1, *s2; /* prefix sums of (y - mean), (y - mean)^2 */
	double inv_var;        /* mean cost: 1 / sigma^2 */
	double vfloor;         /* meanvar cost: least segment variance */
};

/* Cost of y[a..b). */
static double pelt_cost(const struct pelt *p, size_t a, size_t b)
{
	double m = (double)(b - a);
	double s1 = p->s1[b] - p->s1[a], s2 = p->s2[b] - p->s2[a];
	double ss = s2 - s1 * s1 / m;
	if (p->cost == AN_PELT_MEAN)
		return ss * p->inv_var;
	double v = ss / m;
	v = v > p->vfloor ? v : p->vfloor;
	return m * (log(2.0 * M_PI * v) + 1.0);
}

/* 1.4826 MAD of the first differences / sqrt 2, else their sd / sqrt 2, else 1. */
static int pelt_sigma(const double *y, size_t n, double *sigma)
{
	*sigma = 1.0;
	if (n < 3)
		return 0;
	double *d = malloc(2 * (n - 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < n; i++)
		d[i] = y[i + 1] - y[i];
	double sd = gsl_stats_sd(d, 1, n - 1);
	/* unscaled MAD by selection; 1.4826 as R's mad() (GSL's gsl_stats_mad
	 * uses 1.482602218505602) */
	double mad = 1.4826 * gsl_stats_mad0(d, 1, n - 1, d + (n - 1));
	free(d);
	if (mad > 0.0)
		*sigma = mad / M_SQRT2;
	else if (sd > 0.0)
		*sigma = sd / M_SQRT2;
	return 0;
}

/*
 * The PELT recursion over y[0..n): F[t] = min over candidates tau of
 * F[tau] + C(tau, t) + beta, last[t] = the (smallest) minimising tau. A
 * candidate found prunable at t (F[tau] + C(tau, t) > F[t]) can lose only to
 * a last change at t, which becomes admissible at t + minseg: it is dropped
 * then, not at once (so minimum segments longer than 1 stay exact).
 */
static int pelt_run(const struct pelt *p, size_t n, double beta, size_t m, size_t *last)
{
	double *F = malloc((n + 1) * sizeof(*F));
	size_t *cand = malloc((n + 1) * sizeof(*cand));
	size_t *mark = malloc((n + 1) * sizeof(*mark));
	int rc = -ENOMEM;
	if (!F || !cand || !mark)
		goto out_free;
	size_t nc = 1;
	F[0] = -beta;
	cand[0] = 0;
	mark[0] = SIZE_MAX;
	for (size_t t = 1; t <= n; t++) {
		F[t] = INFINITY;
		last[t] = 0;
		if (t < m)
			continue;
		if (t >= 2 * m) { /* tau = t - m: its segment (tau, t] is now long enough */
			cand[nc] = t - m;
			mark[nc++] = SIZE_MAX;
		}
		size_t keep = 0;
		for (size_t j = 0; j < nc; j++) /* drop what was pruned minseg ago */
			if (mark[j] == SIZE_MAX || t < mark[j] + m) {
				cand[keep] = cand[j];
				mark[keep++] = mark[j];
			}
		nc = keep;
		assert(nc >= 1);
		for (size_t j = 0; j < nc; j++) {
			double f = F[cand[j]] + pelt_cost(p, cand[j], t) + beta;
			if (f < F[t]) {
				F[t] = f;
				last[t] = cand[j];
			}
		}
		for (size_t j = 0; j < nc; j++)
			if (mark[j] == SIZE_MAX && F[cand[j]] + pelt_cost(p, cand[j], t) > F[t])
				mark[j] = t;
	}
	rc = 0;
out_free:
	free(mark);
	free(cand);
	free(F);
	return rc;
}

/* Resolve cfg against y[0..n) and run; last[] as pelt_run; *sigma_out
 * (optional) = the sigma of the mean cost. */
static int pelt_segment(const double *y, size_t n, const struct an_pelt_cfg *cfg, size_t *last,
			double *sigma_out)
{
	double *s1 = malloc((n + 1) * sizeof(*s1)), *s2 = malloc((n + 1) * sizeof(*s2));
	int rc = -ENOMEM;
	if (!s1 || !s2)
		goto out_free;
	double gm = n ? gsl_stats_mean(y, 1, n) : 0.0;
	s1[0] = s2[0] = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = y[i] - gm;
		s1[i + 1] = s1[i] + d;
		s2[i + 1] = s2[i] + d * d;
	}
	struct pelt p = { .cost = cfg->cost, .s1 = s1, .s2 = s2 };
	double sigma = cfg->sigma;
	if (cfg->cost == AN_PELT_MEAN && sigma == 0.0 && (rc = pelt_sigma(y, n, &sigma)))
		goto out_free;
	p.inv_var = 1.0 / (sigma * sigma);
	if (sigma_out)
		*sigma_out = sigma;
	double gvar = n ? s2[n] / (double)n : 0.0;
	p.vfloor = gvar > 0.0 ? PELT_VAR_FLOOR * gvar : 1e-300;
	double beta = cfg->penalty;
	if (beta == 0.0)
		beta = (cfg->cost == AN_PELT_MEAN ? 2.0 : 3.0) * log((double)(n > 1 ? n : 2)) *
		       (cfg->mult > 0.0 ? cfg->mult : 1.0);
	rc = pelt_run(&p, n, beta, cfg->minseg ? cfg->minseg : PELT_MINSEG, last);
out_free:
	free(s2);
	free(s1);
	return rc;
}

/* an_pelt, also returning the sigma it used (unchanged when there are no
 * finite values). */
static int pelt_core(const double *x, size_t n, const struct an_pelt_cfg *cfg, size_t *cps,
		     size_t *ncps, size_t maxcps, double *sigma)
{
	static const struct an_pelt_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	if ((n && !x) || !ncps || (maxcps && !cps) ||
	    (cfg->cost != AN_PELT_MEAN && cfg->cost != AN_PELT_MEANVAR) ||
	    !(cfg->penalty >= 0.0 && isfinite(cfg->penalty)) ||
	    !(cfg->mult >= 0.0 && isfinite(cfg->mult)) ||
	    !(cfg->sigma >= 0.0 && isfinite(cfg->sigma)))
		return -EINVAL;
	*ncps = 0;
	double *y = malloc((n ? n : 1) * sizeof(*y));
	size_t *pos = malloc((n ? n : 1) * sizeof(*pos));
	size_t *last = malloc((n + 1) * sizeof(*last));
	int rc = -ENOMEM;
	if (!y || !pos || !last)
		goto out_free;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i])) {
			y[k] = x[i];
			pos[k++] = i;
		}
	rc = k ? pelt_segment(y, k, cfg, last, sigma) : 0;
	if (rc || !k)
		goto out_free;
	size_t cnt = 0; /* walk back from the end: count, then write in order */
	for (size_t t = last[k]; t > 0; t = last[t])
		cnt++;
	*ncps = cnt;
	size_t j = cnt;
	for (size_t t = last[k]; t > 0; t = last[t])
		if (--j < maxcps)
			cps[j] = pos[t];
	rc = cnt > maxcps ? -ENOSPC : 0;
out_free:
	free(last);
	free(pos);
	free(y);
	return rc;
}

int an_pelt(const double *x, size_t n, const struct an_pelt_cfg *cfg, size_t *cps,
	    size_t *ncps, size_t maxcps)
{
	return pelt_core(x, n, cfg, cps, ncps, maxcps, NULL);
}

/* ---- the detectors -------------------------------------------------------------- */

/* Mean of the finite x[a..b). */
static double finite_mean(const double *x, size_t a, size_t b)
{
	double s = 0.0;
	size_t c = 0;
	for (size_t i = a; i < b; i++)
		if (isfinite(x[i])) {
			s += x[i];
			c++;
		}
	return c ? s / (double)c : 0.0;
}

static int detect_check(const double *x, size_t n, const struct an_detect_cfg *cfg,
			double *score, uint8_t *flag)
{
	if ((n && (!x || !score || !flag)) || cfg->window == 1 ||
	    !(cfg->threshold >= 0.0 && isfinite(cfg->threshold)) ||
	    !(cfg->sensitivity >= 0.0 && cfg->sensitivity <= 1.0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		score[i] = 0.0;
		flag[i] = 0;
	}
	return 0;
}

int an_detect_pelt(const double *x, size_t n, const struct an_detect_cfg *cfg,
		   double *score, uint8_t *flag)
{
	static const struct an_detect_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	int rc = detect_check(x, n, cfg, score, flag);
	if (rc || !n)
		return rc;
	size_t *cps = malloc(n * sizeof(*cps)), ncps;
	if (!cps)
		return -ENOMEM;
	double sigma = 1.0;
	struct an_pelt_cfg pc = {
		.cost = AN_PELT_MEAN,
		.mult = (cfg->threshold > 0.0 ? cfg->threshold : 1.0) *
			an_detect_sensitivity_scale(cfg->sensitivity),
		.minseg = cfg->window,
	};
	rc = pelt_core(x, n, &pc, cps, &ncps, n, &sigma); /* sigma: what PELT used */
	if (rc)
		goto out_free;
	for (size_t j = 0; j < ncps; j++) {
		size_t a = j ? cps[j - 1] : 0, b = cps[j], c = j + 1 < ncps ? cps[j + 1] : n;
		double shift = fabs(finite_mean(x, b, c) - finite_mean(x, a, b)) / sigma;
		score[b] = an_detect_score_map(shift, 1.0);
		flag[b] = 1;
	}
out_free:
	free(cps);
	return rc;
}

/* CUSUM state: the warm-up moments (Welford), then the two sums. */
struct cusum {
	size_t warm, w;
	double mean, m2;
	double mu, sigma, sp, sm;
};

/* One finite value; returns the statistic (-1 during warm-up). */
static double cusum_step(struct cusum *c, double x)
{
	if (c->warm < c->w) {
		c->warm++;
		double d = x - c->mean;
		c->mean += d / (double)c->warm;
		c->m2 += d * (x - c->mean);
		if (c->warm == c->w) {
			c->mu = c->mean;
			c->sigma = sqrt(c->m2 / (double)(c->w - 1));
			c->sp = c->sm = 0.0;
		}
		return -1.0;
	}
	double z = c->sigma > 0.0 ? (x - c->mu) / c->sigma :
		   x == c->mu ? 0.0 : copysign(INFINITY, x - c->mu);
	c->sp = fmax(0.0, c->sp + z - CUSUM_K);
	c->sm = fmax(0.0, c->sm - z - CUSUM_K);
	return fmax(c->sp, c->sm);
}

int an_detect_cusum(const double *x, size_t n, const struct an_detect_cfg *cfg,
		    double *score, uint8_t *flag)
{
	static const struct an_detect_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	int rc = detect_check(x, n, cfg, score, flag);
	if (rc)
		return rc;
	double h = cfg->threshold > 0.0 ? cfg->threshold : CUSUM_H;
	double hflag = h * an_detect_sensitivity_scale(cfg->sensitivity);
	struct cusum c = { .w = cfg->window ? cfg->window : CUSUM_WINDOW };
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			continue;
		double s = cusum_step(&c, x[i]);
		if (s < 0.0)
			continue;
		score[i] = an_detect_score_map(s, h);
		if (s > hflag) {
			flag[i] = 1;
			c = (struct cusum){ .w = c.w }; /* re-estimate after the change */
		}
	}
	return 0;
}
