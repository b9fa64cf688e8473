/*
 * tl_floatwalk.h - the float random-walk dataset: deterministic from a seed,
 * shaped like sensor readings or prices. Series i starts at a uniform value
 * in [0, 100) and moves by a normal step (sigma 0.5) every 10 s, rounded to
 * two decimals, so the values behave like real two-decimal readings rather
 * than full-entropy doubles. Same seed, same bytes, on every machine.
 *
 * Used by `sfgen floatwalk` (line protocol out) and by the perf benchmarks
 * (arrays in memory). Any thread; the generator state belongs to its caller.
 */
#ifndef TL_FLOATWALK_H
#define TL_FLOATWALK_H

#include <stdint.h>

#define TL_FLOATWALK_INTERVAL_NS (10LL * 1000000000LL)
#define TL_FLOATWALK_T0_NS (1451606400LL * 1000000000LL) /* 2016-01-01, as TSBS */

struct tl_rng {
	uint64_t s[4];
};

/* xoshiro256** seeded through splitmix64. */
void tl_rng_seed(struct tl_rng *r, uint64_t seed);
uint64_t tl_rng_next(struct tl_rng *r);
/* Uniform in [0, 1). */
double tl_rng_uniform(struct tl_rng *r);
/* Standard normal (Box-Muller). */
double tl_rng_normal(struct tl_rng *r);

/*
 * Fill ts[n] and vals[n] with points of series `series` of the dataset with
 * this seed (series are independent: any one can be generated alone).
 */
void tl_floatwalk_series(uint64_t seed, uint32_t series, uint32_t n, int64_t *ts, double *vals);

#endif /* TL_FLOATWALK_H */
