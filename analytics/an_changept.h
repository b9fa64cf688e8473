/*
 * an_changept.h - change-point detection: PELT (Killick, Fearnhead and Eckley,
 * "Optimal detection of changepoints with a linear computational cost", JASA
 * 2012) for the query function changepoints() and the DETECT method pelt, and
 * the detectors an_detect_cusum and an_detect_pelt (an_detect.h; methods in
 * an_changept.c).
 *
 * PELT finds the segmentation of x minimising
 *   sum over segments of C(segment) + penalty * (number of changes)
 * exactly (the same optimum as the O(n^2) optimal-partitioning recursion),
 * pruning candidates that can no longer be optimal, so it runs in about
 * linear time when changes keep coming. Costs (twice the negative normal
 * log-likelihood, constants dropped; sums from prefix sums):
 *   AN_PELT_MEAN     change in mean, known noise sd sigma:
 *                    C = sum (x - segment mean)^2 / sigma^2
 *   AN_PELT_MEANVAR  change in mean and variance:
 *                    C = m (ln(2 pi v) + 1), v = the segment's ML variance,
 *                    floored at 1e-10 times the whole series' variance (or
 *                    1e-300) so a constant segment does not cost -inf
 * Default penalty: BIC, (parameters per change + 1) ln n as R's changepoint
 * package counts them: 2 ln n (mean), 3 ln n (mean and variance).
 *
 * Usage profile: one call per query over up to ~10^6 points; O(n) memory.
 * Pure numerical code, any thread.
 */
#ifndef AN_CHANGEPT_H
#define AN_CHANGEPT_H

#include <stddef.h>
#include <stdint.h>

#include "an_detect.h"

enum an_pelt_cost {
	AN_PELT_MEAN = 0,
	AN_PELT_MEANVAR = 1,
};

struct an_pelt_cfg {
	enum an_pelt_cost cost;
	double penalty; /* per change; 0 = BIC (above) times mult */
	double mult;    /* multiplies the BIC penalty; 0 = 1 */
	size_t minseg;  /* shortest segment, 0 = 2 */
	double sigma;   /* AN_PELT_MEAN: noise sd; 0 = estimated as 1.4826 MAD of
			   the first differences / sqrt 2 (robust to the changes
			   themselves), else their sd / sqrt 2, else 1 */
};

/*
 * Segment x[0..n) (NaN/Inf are left out; cfg borrowed, NULL = defaults).
 * Writes the change points, increasing, to cps[0..min(found, maxcps)): each
 * is the index in x of the first point of a new segment (never 0). *ncps =
 * the number found. Returns 0, -ENOSPC when more than maxcps were found (the
 * first maxcps are written), -EINVAL (bad cfg, NULL pointers, minseg 0 after
 * defaults), -ENOMEM.
 */
int an_pelt(const double *x, size_t n, const struct an_pelt_cfg *cfg, size_t *cps,
	    size_t *ncps, size_t maxcps);

#endif /* AN_CHANGEPT_H */
