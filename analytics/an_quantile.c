/*
 * an_quantile.c - see an_quantile.h. Exact quantiles sort with GSL and
 * interpolate with gsl_stats_quantile_from_sorted_data (which is R's type 7).
 * The sketch is a KLL sketch: a stack of compactors, level h holding items of
 * weight 2^h; a full level is sorted and every other item (odd or even
 * positions by a seeded coin flip) is promoted to level h + 1, the rest
 * dropped. Capacities decay by 2/3 from the top level down (min 8), so the
 * retained total stays below ~3k + 8 * levels.
 */
#include "an_quantile.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "an_util.h"
#include "cm_rand.h"

/* ---- exact quantiles ---- */

static int check_values(const double *x, size_t n)
{
	return !x || n == 0 || an_any_nan(x, n) ? -EINVAL : 0;
}

int an_quantiles(const double *x, size_t n, const double *p, size_t np,
		 double *scratch, double *out)
{
	if (check_values(x, n) < 0 || (np && (!p || !out)))
		return -EINVAL;
	for (size_t i = 0; i < np; i++)
		if (!(p[i] >= 0.0 && p[i] <= 1.0))
			return -EINVAL;
	double *s = scratch ? scratch : malloc(n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (s != x)
		memmove(s, x, n * sizeof(*s));
	gsl_sort(s, 1, n);
	for (size_t i = 0; i < np; i++)
		out[i] = gsl_stats_quantile_from_sorted_data(s, 1, n, p[i]);
	if (!scratch)
		free(s);
	return 0;
}

int an_quantile(const double *x, size_t n, double p, double *out)
{
	return an_quantiles(x, n, &p, 1, NULL, out);
}

int an_median(const double *x, size_t n, double *out)
{
	return an_quantile(x, n, 0.5, out);
}

/* ---- KLL sketch ---- */

struct kll_level {
	double *v;
	size_t len;
	size_t cap;
};

struct an_kll {
	uint32_t k;
	uint64_t rng;         /* splitmix64 state for the compaction coin */
	uint64_t n;           /* values seen (= total weight retained) */
	double min, max;
	size_t nlevels;
	size_t size;          /* retained items over all levels */
	size_t max_size;      /* sum of the level capacities */
	struct kll_level *lv; /* nlevels entries */
};

#define KLL_MIN_CAP 8u

/* Capacity of level h when the sketch has nlevels levels. */
static size_t kll_capacity(const struct an_kll *s, size_t h)
{
	assert(h < s->nlevels);
	double c = ceil((double)s->k * pow(2.0 / 3.0, (double)(s->nlevels - h - 1)));
	return c < KLL_MIN_CAP ? KLL_MIN_CAP : (size_t)c;
}

static int kll_reserve(struct kll_level *l, size_t extra)
{
	if (l->len + extra <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 16;
	while (cap < l->len + extra)
		cap *= 2;
	double *v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

static int kll_grow(struct an_kll *s)
{
	struct kll_level *lv = realloc(s->lv, (s->nlevels + 1) * sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	s->lv = lv;
	memset(&lv[s->nlevels], 0, sizeof(*lv));
	s->nlevels++;
	s->max_size = 0;
	for (size_t h = 0; h < s->nlevels; h++)
		s->max_size += kll_capacity(s, h);
	return 0;
}

int an_kll_create(uint32_t k, uint64_t seed, struct an_kll **out)
{
	if (!out || (k != 0 && (k < 8 || k > 65535)))
		return -EINVAL;
	struct an_kll *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->k = k ? k : AN_KLL_DEFAULT_K;
	s->rng = seed;
	s->min = INFINITY;
	s->max = -INFINITY;
	if (kll_grow(s) < 0) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void an_kll_destroy(struct an_kll *s)
{
	if (!s)
		return;
	for (size_t h = 0; h < s->nlevels; h++)
		free(s->lv[h].v);
	free(s->lv);
	free(s);
}

/* Sorts level h and promotes every other item to level h + 1. */
static int kll_compact(struct an_kll *s, size_t h)
{
	assert(h + 1 < s->nlevels);
	struct kll_level *l = &s->lv[h], *up = &s->lv[h + 1];
	size_t pairs = l->len / 2;
	if (kll_reserve(up, pairs) < 0)
		return -ENOMEM;
	gsl_sort(l->v, 1, l->len);
	/* An odd item out stays: the smallest, at position 0. */
	size_t first = l->len - 2 * pairs + (cm_splitmix64(&s->rng) & 1);
	for (size_t i = 0; i < pairs; i++)
		up->v[up->len++] = l->v[first + 2 * i];
	l->len -= 2 * pairs;
	s->size -= pairs;
	return 0;
}

/* Compacts full levels, bottom up, until the sketch is under its budget. */
static int kll_compress(struct an_kll *s)
{
	for (size_t h = 0; h < s->nlevels && s->size >= s->max_size; h++) {
		if (s->lv[h].len < kll_capacity(s, h))
			continue;
		if (h + 1 >= s->nlevels && kll_grow(s) < 0)
			return -ENOMEM;
		int rc = kll_compact(s, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int an_kll_add(struct an_kll *s, double x)
{
	if (!s || isnan(x))
		return -EINVAL;
	if (kll_reserve(&s->lv[0], 1) < 0)
		return -ENOMEM;
	s->lv[0].v[s->lv[0].len++] = x;
	s->size++;
	s->n++;
	if (x < s->min)
		s->min = x;
	if (x > s->max)
		s->max = x;
	return s->size >= s->max_size ? kll_compress(s) : 0;
}

int an_kll_merge(struct an_kll *dst, const struct an_kll *src)
{
	if (!dst || !src || dst == src || dst->k != src->k)
		return -EINVAL;
	while (dst->nlevels < src->nlevels)
		if (kll_grow(dst) < 0)
			return -ENOMEM;
	for (size_t h = 0; h < src->nlevels; h++) {
		const struct kll_level *l = &src->lv[h];
		if (kll_reserve(&dst->lv[h], l->len) < 0)
			return -ENOMEM;
		memcpy(dst->lv[h].v + dst->lv[h].len, l->v, l->len * sizeof(*l->v));
		dst->lv[h].len += l->len;
		dst->size += l->len;
	}
	dst->n += src->n;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	/* Each pass compacts at least one level (sizes sum past the capacities). */
	while (dst->size >= dst->max_size) {
		int rc = kll_compress(dst);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint64_t an_kll_count(const struct an_kll *s)
{
	return s ? s->n : 0;
}

size_t an_kll_retained(const struct an_kll *s)
{
	return s ? s->size : 0;
}

struct kll_item {
	double v;
	uint64_t w;
};

static int kll_item_cmp(const void *a, const void *b)
{
	double x = ((const struct kll_item *)a)->v, y = ((const struct kll_item *)b)->v;
	return (x > y) - (x < y);
}

int an_kll_quantiles(const struct an_kll *s, const double *p, size_t np, double *out)
{
	if (!s || s->n == 0 || (np && (!p || !out)))
		return -EINVAL;
	for (size_t i = 0; i < np; i++)
		if (!(p[i] >= 0.0 && p[i] <= 1.0))
			return -EINVAL;
	struct kll_item *it = malloc(s->size * sizeof(*it));
	if (!it)
		return -ENOMEM;
	size_t m = 0;
	for (size_t h = 0; h < s->nlevels; h++)
		for (size_t i = 0; i < s->lv[h].len; i++)
			it[m++] = (struct kll_item){ s->lv[h].v[i], (uint64_t)1 << h };
	assert(m == s->size);
	qsort(it, m, sizeof(*it), kll_item_cmp);
	for (size_t q = 0; q < np; q++) {
		if (p[q] == 0.0 || p[q] == 1.0) {
			out[q] = p[q] == 0.0 ? s->min : s->max;
			continue;
		}
		double target = p[q] * (double)s->n, cum = 0;
		size_t i = 0;
		while (i + 1 < m && (cum += (double)it[i].w) < target)
			i++;
		out[q] = it[i].v;
	}
	free(it);
	return 0;
}
