/*
 * dp_sketch.c - the DDSketch of StatsD timers, histograms and distributions
 * (mapping, stores and contract in dp_sketch.h).
 *
 * A store's window [lo, hi] lives in an array of cap bins starting at key
 * offset, re-centred (and doubled while needed) when a key falls outside
 * it, never wider than DP_SKETCH_BINS_MAX keys: a key above moves the
 * window up and folds the bins that fall out of it into the lowest kept
 * one, a key below the window's reach is folded into its lowest bin.
 *
 * Threads: see dp_sketch.h.
 */
#include "dp_sketch.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cm_compiler.h"

#define STORE_CAP_MIN 32u            /* bins of a store's first array */

void dp_sketch_map_init(struct dp_sketch_map *mp, double accuracy)
{
	assert(accuracy > 0 && accuracy < 1);
	mp->gamma = (1.0 + accuracy) / (1.0 - accuracy);
	mp->log_gamma = log(mp->gamma);
	mp->inv_log_gamma = 1.0 / mp->log_gamma;
}

static inline int32_t map_key(const struct dp_sketch_map *mp, double absv)
{
	return (int32_t)ceil(log(absv) * mp->inv_log_gamma);
}

static double map_value(const struct dp_sketch_map *mp, int32_t key)
{
	return exp((double)key * mp->log_gamma) * (2.0 / (mp->gamma + 1.0));
}

/* ================================================================ stores */

static inline bool store_empty(const struct dp_sketch_store *s)
{
	return s->lo > s->hi;
}

static inline double *store_bin(const struct dp_sketch_store *s, int32_t key)
{
	return &s->bins[key - s->offset];
}

/* Make the array cover keys [lo, hi] (< BINS_MAX apart), keeping [s->lo, s->hi]. */
static int store_reserve(struct dp_sketch_store *s, int32_t lo, int32_t hi)
{
	if (s->cap && lo >= s->offset && (int64_t)hi < (int64_t)s->offset + s->cap)
		return 0;
	uint32_t need = (uint32_t)(hi - lo + 1), cap = s->cap ? s->cap : STORE_CAP_MIN;
	assert(need <= DP_SKETCH_BINS_MAX);
	while (cap < need)
		cap *= 2;
	int32_t off = lo - (int32_t)((cap - need) / 2);
	double *bins = s->bins;
	if (cap != s->cap) {
		bins = calloc(cap, sizeof(double));
		if (!bins)
			return -ENOMEM;
	}
	if (!store_empty(s)) {
		uint32_t n = (uint32_t)(s->hi - s->lo + 1), at = (uint32_t)(s->lo - off);
		memmove(bins + at, store_bin(s, s->lo), n * sizeof(double));
		if (bins == s->bins) {  /* zero what the move left behind */
			memset(bins, 0, at * sizeof(double));
			memset(bins + at + n, 0, (cap - at - n) * sizeof(double));
		}
	}
	if (bins != s->bins)
		free(s->bins);
	s->bins = bins;
	s->cap = cap;
	s->offset = off;
	return 0;
}

/* Zero the bins below key lo; return their weight. */
static double store_fold_below(struct dp_sketch_store *s, int32_t lo)
{
	double w = 0;
	int32_t top = CM_MIN(lo - 1, s->hi);
	for (int32_t k = s->lo; k <= top; k++) {
		w += *store_bin(s, k);
		*store_bin(s, k) = 0;
	}
	if (lo > s->hi) {
		s->lo = INT32_MAX;
		s->hi = INT32_MIN;
	}
	return w;
}

static int store_add_first(struct dp_sketch_store *s, int32_t key, double w)
{
	if (store_reserve(s, key, key))
		return -ENOMEM;
	s->lo = s->hi = key;
	*store_bin(s, key) += w;
	return 0;
}

/*
 * Add weight w at key. A key too far below the highest is folded into the
 * lowest bin; a key above moves the window and folds the lowest bins.
 * -ENOMEM: the array could not grow; w then went to the nearest kept bin.
 */
static int store_add(struct dp_sketch_store *s, int32_t key, double w)
{
	const int32_t span = DP_SKETCH_BINS_MAX - 1;
	int rc = 0;
	if (store_empty(s))
		return store_add_first(s, key, w);
	if (key < s->lo) {
		if ((int64_t)s->hi - key > span)
			key = s->hi - span;
		if (key < s->lo) {
			if (store_reserve(s, key, s->hi) == 0)
				s->lo = key;
			else
				key = s->lo, rc = -ENOMEM;
		}
	} else if (key > s->hi) {
		if ((int64_t)key - s->lo > span) {
			int32_t lo = key - span;
			double folded = store_fold_below(s, lo);
			if (store_empty(s)) {
				store_add_first(s, lo, folded);  /* the array exists: cannot fail */
			} else {
				s->lo = lo;
				*store_bin(s, lo) += folded;
			}
		}
		if (store_reserve(s, s->lo, key) == 0)
			s->hi = key;
		else
			key = s->hi, rc = -ENOMEM;
	}
	*store_bin(s, key) += w;
	return rc;
}

/*
 * Add every bin of src to dst. When the union fits one window, in place;
 * otherwise bin by bin, highest first (dst collapses at most once).
 */
static int store_merge(struct dp_sketch_store *dst, const struct dp_sketch_store *src)
{
	if (store_empty(src))
		return 0;
	int32_t lo = store_empty(dst) ? src->lo : CM_MIN(dst->lo, src->lo);
	int32_t hi = store_empty(dst) ? src->hi : CM_MAX(dst->hi, src->hi);
	if ((int64_t)hi - lo < DP_SKETCH_BINS_MAX && store_reserve(dst, lo, hi) == 0) {
		double *d = store_bin(dst, src->lo);
		const double *b = store_bin(src, src->lo);
		for (uint32_t i = 0; i <= (uint32_t)(src->hi - src->lo); i++)
			d[i] += b[i];
		dst->lo = lo;  /* src's end bins hold weight, so these are dst's ends */
		dst->hi = hi;
		return 0;
	}
	int rc = 0;
	for (int32_t k = src->hi; k >= src->lo; k--) {
		double w = *store_bin(src, k);
		if (w != 0 && store_add(dst, k, w))
			rc = -ENOMEM;
	}
	return rc;
}

static void store_clear(struct dp_sketch_store *s)
{
	if (!store_empty(s))
		memset(store_bin(s, s->lo), 0, (size_t)(s->hi - s->lo + 1) * sizeof(double));
	s->lo = INT32_MAX;
	s->hi = INT32_MIN;
}

/* The store's invariants; adds its weight to *weight. */
static bool store_ok(const struct dp_sketch_store *s, double *weight)
{
	if (store_empty(s)) {
		for (uint32_t i = 0; i < s->cap; i++)
			if (s->bins[i] != 0)
				return false;
		return true;
	}
	if (s->hi - s->lo >= DP_SKETCH_BINS_MAX || s->lo < s->offset ||
	    (int64_t)s->hi >= (int64_t)s->offset + s->cap)
		return false;
	for (uint32_t i = 0; i < s->cap; i++) {
		int32_t k = s->offset + (int32_t)i;
		if ((k < s->lo || k > s->hi) && s->bins[i] != 0)
			return false;
		*weight += s->bins[i];
	}
	return *store_bin(s, s->lo) > 0 && *store_bin(s, s->hi) > 0;
}

static uint64_t store_digest(const struct dp_sketch_store *s, uint64_t h)
{
	for (int32_t k = s->lo; k <= s->hi; k++) {
		double w = *store_bin(s, k);
		if (w != 0) {
			h = XXH3_64bits_withSeed(&k, sizeof(k), h);
			h = XXH3_64bits_withSeed(&w, sizeof(w), h);
		}
	}
	return XXH3_64bits_withSeed("|", 1, h);
}

/* ================================================================ sketch */

void dp_sketch_clear(struct dp_sketch *s)
{
	s->count = s->sum = s->zero = 0;
	s->min = INFINITY;
	s->max = -INFINITY;
	store_clear(&s->pos);
	store_clear(&s->neg);
}

int dp_sketch_create(struct dp_sketch **out)
{
	struct dp_sketch *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pos.lo = s->neg.lo = INT32_MAX;
	s->pos.hi = s->neg.hi = INT32_MIN;
	dp_sketch_clear(s);
	*out = s;
	return 0;
}

void dp_sketch_destroy(struct dp_sketch *s)
{
	if (s) {
		free(s->pos.bins);
		free(s->neg.bins);
		free(s);
	}
}

int dp_sketch_add(struct dp_sketch *s, const struct dp_sketch_map *mp, double v, double w)
{
	s->count += w;
	s->sum += v * w;
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	double av = fabs(v);
	if (av < DBL_MIN) {
		s->zero += w;
		return 0;
	}
	return store_add(v > 0 ? &s->pos : &s->neg, map_key(mp, av), w);
}

int dp_sketch_merge(struct dp_sketch *dst, const struct dp_sketch *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	dst->zero += src->zero;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	int rc = store_merge(&dst->pos, &src->pos);
	return store_merge(&dst->neg, &src->neg) | rc;
}

/* out[*i..] = v while the cumulative weight cum passes their ranks q * last. */
static void quantile_fill(double v, double cum, double last, const double *q, uint32_t n,
			  uint32_t *i, double *out)
{
	while (*i < n && cum > q[*i] * last)
		out[(*i)++] = v;
}

void dp_sketch_quantiles(const struct dp_sketch *s, const struct dp_sketch_map *mp,
			 const double *q, uint32_t n, double *out)
{
	const double last = s->count - 1;  /* the rank of the highest value */
	double cum = 0;
	uint32_t i = 0;
	assert(s->count > 0);
	/* A bin's value (an exp) is computed only for a bin that answers a quantile. */
	for (int32_t k = s->neg.hi; k >= s->neg.lo && i < n; k--) {
		double w = *store_bin(&s->neg, k);
		if (w != 0 && (cum += w) > q[i] * last)
			quantile_fill(-map_value(mp, k), cum, last, q, n, &i, out);
	}
	quantile_fill(0.0, cum += s->zero, last, q, n, &i, out);
	for (int32_t k = s->pos.lo; k <= s->pos.hi && i < n; k++) {
		double w = *store_bin(&s->pos, k);
		if (w != 0 && (cum += w) > q[i] * last)
			quantile_fill(map_value(mp, k), cum, last, q, n, &i, out);
	}
	while (i < n)  /* rounding of fractional weights */
		out[i++] = s->max;
	for (uint32_t k = 0; k < n; k++)
		out[k] = out[k] < s->min ? s->min : out[k] > s->max ? s->max : out[k];
}

bool dp_sketch_check(const struct dp_sketch *s)
{
	double w = s->zero;
	if (!store_ok(&s->pos, &w) || !store_ok(&s->neg, &w))
		return false;
	return fabs(w - s->count) <= 1e-9 * s->count;
}

uint64_t dp_sketch_digest(const struct dp_sketch *s, uint64_t h)
{
	const double summary[] = {s->count, s->sum, s->min, s->max, s->zero};
	for (size_t i = 0; i < CM_ARRAY_SIZE(summary); i++)
		h = XXH3_64bits_withSeed(&summary[i], sizeof(double), h);
	return store_digest(&s->neg, store_digest(&s->pos, h));
}
