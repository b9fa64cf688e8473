/*
 * an_mprofile.c - see an_mprofile.h. The profile is kept as the best
 * (largest) correlation per subsequence while the rows run, and turned into
 * distances at the end; rows keep two dot-product buffers (previous and
 * current) so j can run upwards and ties resolve to the smallest index.
 */
#include "an_mprofile.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>

#include "an_util.h"

size_t an_mp_exclusion(size_t m)
{
	return (m + 3) / 4;
}

/* Per-subsequence statistics of the centred series. */
struct mp_ctx {
	const double *x;  /* centred copy, n values */
	size_t n, m, l, excl;
	double *mu;       /* means */
	double *s;        /* 1 / (sqrt(m) std), 0 for flat ones */
	unsigned char *flat;
	double *best;     /* best correlation so far */
	size_t *idx;
};

static void mp_stats(struct mp_ctx *c)
{
	size_t m = c->m;
	for (size_t i = 0; i < c->l; i++) {
		const double *w = c->x + i;
		double sum = 0, ss = 0;
		int flat = 1;
		for (size_t k = 0; k < m; k++) {
			sum += w[k];
			flat &= w[k] == w[0];
		}
		double mu = sum / (double)m;
		for (size_t k = 0; k < m; k++)
			ss += (w[k] - mu) * (w[k] - mu);
		c->mu[i] = mu;
		c->flat[i] = (unsigned char)flat;
		c->s[i] = flat ? 0.0 : 1.0 / sqrt(ss);  /* sqrt(m) std = sqrt(ss) */
		c->best[i] = -INFINITY;
		c->idx[i] = AN_MP_NONE;
	}
}

/* Correlation of subsequences i and j from their dot product q. */
static inline double mp_corr(const struct mp_ctx *c, size_t i, size_t j, double q)
{
	if (c->flat[i] | c->flat[j])
		return c->flat[i] & c->flat[j] ? 1.0 : 0.5; /* distance 0 or sqrt(m) */
	return (q - (double)c->m * c->mu[i] * c->mu[j]) * c->s[i] * c->s[j];
}

static inline void mp_offer(struct mp_ctx *c, size_t i, size_t j, double q)
{
	double r = mp_corr(c, i, j, q);
	if (r > c->best[i]) {
		c->best[i] = r;
		c->idx[i] = j;
	}
	if (r > c->best[j]) {
		c->best[j] = r;
		c->idx[j] = i;
	}
}

/* STOMP over the upper triangle j > i + excl. prev/cur have l entries. */
static void mp_stomp(struct mp_ctx *c, double *prev, double *cur)
{
	const double *x = c->x;
	size_t m = c->m, l = c->l, excl = c->excl;
	/* Row 0: direct sliding dot products. */
	for (size_t j = excl + 1; j < l; j++) {
		double q = 0;
		for (size_t k = 0; k < m; k++)
			q += x[k] * x[j + k];
		prev[j] = q;
		mp_offer(c, 0, j, q);
	}
	for (size_t i = 1; i + excl + 1 < l; i++) {
		double xa = x[i - 1], xb = x[i + m - 1];
		for (size_t j = i + excl + 1; j < l; j++) {
			double q = prev[j - 1] - xa * x[j - 1] + xb * x[j + m - 1];
			cur[j] = q;
			mp_offer(c, i, j, q);
		}
		double *t = prev;
		prev = cur;
		cur = t;
	}
}

static bool mp_args_ok(const double *x, size_t n, size_t m)
{
	return x && m >= 4 && m <= n && an_all_finite(x, n);
}

int an_mprofile(const double *x, size_t n, size_t m, double *profile, size_t *index)
{
	if (!mp_args_ok(x, n, m) || !profile)
		return -EINVAL;
	struct mp_ctx c = { .n = n, .m = m, .l = n - m + 1, .excl = an_mp_exclusion(m) };
	double *xc = malloc(n * sizeof(*xc)), *mu = malloc(c.l * sizeof(*mu));
	double *s = malloc(c.l * sizeof(*s)), *prev = malloc(c.l * sizeof(*prev));
	double *cur = malloc(c.l * sizeof(*cur));
	unsigned char *flat = malloc(c.l);
	size_t *idx = index ? index : malloc(c.l * sizeof(*idx));
	int rc = -ENOMEM;
	if (!xc || !mu || !s || !prev || !cur || !flat || !idx)
		goto out;
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += (x[i] - mean) / (double)(i + 1);
	for (size_t i = 0; i < n; i++)
		xc[i] = x[i] - mean;
	c.x = xc;
	c.mu = mu;
	c.s = s;
	c.flat = flat;
	c.best = profile; /* correlations first, distances below */
	c.idx = idx;
	mp_stats(&c);
	mp_stomp(&c, prev, cur);
	for (size_t i = 0; i < c.l; i++) {
		double d2 = 2.0 * (double)m * (1.0 - profile[i]);
		profile[i] = idx[i] == AN_MP_NONE ? INFINITY : sqrt(d2 > 0 ? d2 : 0.0);
	}
	rc = 0;
out:
	if (idx != index)
		free(idx);
	free(flat);
	free(cur);
	free(prev);
	free(s);
	free(mu);
	free(xc);
	return rc;
}

/* ---- motifs ---- */

static int near_reported(const struct an_motif *out, size_t nout, size_t p, size_t m)
{
	for (size_t r = 0; r < nout; r++) {
		size_t a = out[r].a, b = out[r].b;
		if ((p > a ? p - a : a - p) < m || (p > b ? p - b : b - p) < m)
			return 1;
	}
	return 0;
}

int an_motifs(const double *x, size_t n, size_t m, size_t k, struct an_motif *out,
	      size_t *nout)
{
	if (!mp_args_ok(x, n, m) || k == 0 || !out || !nout)
		return -EINVAL;
	size_t l = n - m + 1;
	double *pr = malloc(l * sizeof(*pr));
	size_t *idx = malloc(l * sizeof(*idx)), *order = malloc(l * sizeof(*order));
	int rc = -ENOMEM;
	*nout = 0;
	if (!pr || !idx || !order)
		goto out;
	rc = an_mprofile(x, n, m, pr, idx);
	if (rc < 0)
		goto out;
	gsl_sort_index(order, pr, 1, l);
	for (size_t r = 0; r < l && *nout < k; r++) {
		size_t i = order[r], j = idx[i];
		if (j == AN_MP_NONE)
			break; /* INFINITY sorts last */
		size_t a = i < j ? i : j, b = i < j ? j : i;
		if (near_reported(out, *nout, a, m) || near_reported(out, *nout, b, m))
			continue;
		out[(*nout)++] = (struct an_motif){ a, b, pr[i] };
	}
out:
	free(order);
	free(idx);
	free(pr);
	return rc;
}
