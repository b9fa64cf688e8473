/*
 * an_iforest.h - isolation forest (Liu, Ting and Zhou, "Isolation Forest",
 * ICDM 2008) over rows of a few features, and an_detect_iforest (an_detect.h),
 * its use as a detector on one time series (method in an_iforest.c).
 *
 * An anomaly is isolated by few random axis-parallel splits: each of t trees
 * is grown on a subsample of psi rows (without replacement) by picking a
 * feature at random among those not constant in the node and a split value
 * uniformly between the node's min and max, until a node holds one row or the
 * height limit ceil(log2 psi) is reached. A row's path length h is the number
 * of edges to its leaf plus c(leaf size); its score is
 *   s = 2^(-E[h] / c(psi)),   c(n) = 2 H(n - 1) - 2 (n - 1) / n,
 * H(i) ~ ln i + 0.5772156649 (the paper's c; c(1) = 0, c(2) = 1). s is in
 * (0, 1]: near 1 for anomalies, about 0.5 or below for ordinary rows, exactly
 * 0.5 when no row can be told apart (all rows equal).
 *
 * Usage profile: fit once per query (t = 100, psi = 256: ~51,000 nodes,
 * ~2 MB), then score every row (t x <= 8 steps each). Deterministic from the
 * seed. A fitted forest is read-only: any number of threads may score with it.
 */
#ifndef AN_IFOREST_H
#define AN_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#include "an_detect.h"

#define AN_IFOREST_MAX_DIM 16

struct an_iforest_cfg {
	uint32_t ntrees; /* 0 = 100 */
	uint32_t psi;    /* subsample size, 0 = 256; capped at the number of rows */
	uint64_t seed;   /* 0 = a fixed default */
};

struct an_iforest;

/*
 * Grow a forest on rows[0 .. nrows * dim) (row-major, finite values; borrowed,
 * not kept). cfg may be NULL (defaults). On success *out is a forest the
 * caller owns (an_iforest_destroy). Returns 0, -EINVAL (nrows < 2, dim 0 or
 * > AN_IFOREST_MAX_DIM, psi 1, NULL pointers) or -ENOMEM.
 */
int an_iforest_fit(const double *rows, size_t nrows, size_t dim,
		   const struct an_iforest_cfg *cfg, struct an_iforest **out);

/* The anomaly score s in (0, 1] of one row of dim values (borrowed). */
double an_iforest_score(const struct an_iforest *f, const double *row);

/* Free a forest; NULL is a no-op. */
void an_iforest_destroy(struct an_iforest *f);

/* c(n): the average path length of an unsuccessful search in a binary search
 * tree of n keys, the normaliser above (0 for n <= 1). */
double an_iforest_c(size_t n);

#endif /* AN_IFOREST_H */
