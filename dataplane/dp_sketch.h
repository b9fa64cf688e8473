/*
 * dp_sketch.h - a DDSketch (Masson, Rim, Lee, VLDB 2019): the quantiles of
 * a weighted stream of doubles within a relative accuracy, in bins that
 * merge exactly by adding. The StatsD aggregator (dp_agg.h) keeps one per
 * timer, histogram and distribution series, on every worker and in the
 * merger.
 *
 * Mapping: a positive value v goes to bin k = ceil(log_gamma(v)), which
 * covers (gamma^(k-1), gamma^k]; gamma = (1+a)/(1-a), so the bin's
 * representative 2 gamma^k / (gamma+1) is within relative accuracy a of
 * every value in it. Negative values go to a second store by |v|;
 * |v| < DBL_MIN to a zero count. Each store is a dense array of at most
 * DP_SKETCH_BINS_MAX bins over a sliding key window; a key more than that
 * many bins below the highest is folded into the lowest kept bin
 * (DDSketch's "collapsing lowest" store). Where a value lands depends only
 * on its key and the highest key ever added, so stores merge exactly by
 * adding bins, in any order, collapse included.
 *
 * Why hand-written: Debian 12 ships no C library for DDSketch (only Go,
 * Perl and PostgreSQL-extension ones), and what we need is small: a
 * log-gamma index and dense, bounded bin arrays that merge by adding.
 *
 * Usage profile: dp_sketch_add once per value on a worker's hot path (a log
 * and a bin update; a bin array grows a bounded number of times, then
 * stays); merge, quantiles and clear once per series and flush on the
 * merger's thread. At most 2 x DP_SKETCH_BINS_MAX doubles per sketch.
 *
 * Threads: a sketch belongs to one thread at a time (the handoff between
 * threads is the caller's); no global state.
 */
#ifndef DP_SKETCH_H
#define DP_SKETCH_H

#include <stdbool.h>
#include <stdint.h>

/* Bins per store (positive, negative) before the lowest collapse. */
#define DP_SKETCH_BINS_MAX 2048

/* The value <-> bin mapping of one relative accuracy. Plain struct, read-only once made. */
struct dp_sketch_map {
	double gamma;
	double log_gamma;
	double inv_log_gamma;
};

/* One side's bins. The sketch's own (declared here because struct dp_sketch holds two). */
struct dp_sketch_store {
	double *bins;        /* bins[i] is the weight of key offset + i; zero outside [lo, hi] */
	int32_t offset;
	uint32_t cap;        /* a power of two <= DP_SKETCH_BINS_MAX; 0: no array yet */
	int32_t lo, hi;      /* keys in use; lo > hi: empty */
};

/*
 * A sketch. Plain struct: callers read count, sum, min and max directly
 * (empty: count 0, min +inf, max -inf); the rest is the sketch's own.
 */
struct dp_sketch {
	double count;        /* sum of weights */
	double sum;          /* sum of v * weight */
	double min, max;     /* raw values */
	double zero;         /* weight of |v| < DBL_MIN */
	struct dp_sketch_store pos, neg;
};

/* The mapping for relative accuracy in (0, 1). Any thread. */
void dp_sketch_map_init(struct dp_sketch_map *mp, double accuracy);

/*
 * An empty sketch, no bins yet. Returns 0 with *out owned by the caller
 * (dp_sketch_destroy), or -ENOMEM.
 */
int dp_sketch_create(struct dp_sketch **out);

/* Free s and its bins. NULL is fine. */
void dp_sketch_destroy(struct dp_sketch *s);

/* Make s empty again; it keeps its bin arrays. */
void dp_sketch_clear(struct dp_sketch *s);

/*
 * HOT PATH. Add the finite value v with weight w > 0, in the bins of mp
 * (borrowed; every sketch that is merged with s must use the same
 * accuracy). Returns 0, or -ENOMEM when a bin array could not grow: w then
 * went to the nearest kept bin (count, sum, min and max stay exact).
 */
int dp_sketch_add(struct dp_sketch *s, const struct dp_sketch_map *mp, double v, double w);

/*
 * dst += src (src borrowed): counts, sums and bins add, min and max
 * combine. Exact, in any order. Returns 0, or -ENOMEM as dp_sketch_add.
 */
int dp_sketch_merge(struct dp_sketch *dst, const struct dp_sketch *src);

/*
 * The values at quantiles q[0..n) (ascending, in [0, 1]) into out[n]: the
 * representative of the bin holding the value of rank q * (count - 1) in
 * ascending order (negative bins from the most negative, the zero count,
 * positive bins), clamped to [min, max]. s must not be empty.
 */
void dp_sketch_quantiles(const struct dp_sketch *s, const struct dp_sketch_map *mp,
			 const double *q, uint32_t n, double *out);

/*
 * Invariant walker (tests): bins zero outside [lo, hi], nonzero at lo and
 * hi, the window within the array and DP_SKETCH_BINS_MAX, weights adding
 * up to count. True when all hold.
 */
bool dp_sketch_check(const struct dp_sketch *s);

/*
 * h mixed with the state of s (count, sum, min, max, zero count, every
 * nonzero bin): equal sketches give equal digests whatever their arrays'
 * sizes and offsets. For tests and debugging.
 */
uint64_t dp_sketch_digest(const struct dp_sketch *s, uint64_t h);

#endif /* DP_SKETCH_H */
