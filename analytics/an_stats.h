/*
 * an_stats.h - streaming summary statistics: count, mean and variance
 * (Welford's update, numerically stable), min and max, and an exponentially
 * weighted moving average. Pure numerical code over values; no I/O, no
 * threads. An accumulator belongs to one thread at a time.
 */
#ifndef AN_STATS_H
#define AN_STATS_H

#include <stdint.h>

/* Plain struct: callers keep accumulators in arrays and on the stack. */
struct an_moments {
	uint64_t n;
	double mean;
	double m2;   /* sum of squared deviations from the mean */
	double min;
	double max;
};

void an_moments_init(struct an_moments *m);
void an_moments_add(struct an_moments *m, double x);
/* Combine b into a (Chan et al.'s parallel update). */
void an_moments_merge(struct an_moments *a, const struct an_moments *b);
/* Sample variance (n - 1 denominator); NaN for n < 2. */
double an_moments_variance(const struct an_moments *m);
double an_moments_stddev(const struct an_moments *m);

struct an_ewma {
	double alpha;  /* weight of the newest value, in (0, 1] */
	double value;
	uint64_t n;
};

void an_ewma_init(struct an_ewma *e, double alpha);
/* Add x; returns the new average (the first value seeds it). */
double an_ewma_add(struct an_ewma *e, double x);

#endif /* AN_STATS_H */
