/*
 * cm_rand.h - splitmix64, the seeded generator tests, fuzz drivers and
 * benchmarks use where they need reproducible numbers (the same sequence on
 * every machine), and a standard normal drawn from it. Not for anything that
 * must be unpredictable. Any thread, with its own state.
 */
#ifndef CM_RAND_H
#define CM_RAND_H

#include <math.h>
#include <stdint.h>

static inline uint64_t cm_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A standard normal draw (mean 0, variance 1) by the Box-Muller transform,
 * cos branch only: sqrt(-2 ln u1) cos(2 pi u2), with u1 = (k1 + 0.5) / 2^53
 * in (0, 1) so the log is finite, and u2 = k2 / 2^53 in [0, 1), k1 and k2
 * the top 53 bits of two successive cm_splitmix64 draws. Consumes exactly
 * two draws per call (the sin branch is discarded), so a seed always walks
 * the state the same way. |result| <= sqrt(108 ln 2) ~ 8.66 (at u1 = 2^-54).
 * Callers link libm.
 */
static inline double cm_rand_gauss(uint64_t *state)
{
	double u1 = ((double)(cm_splitmix64(state) >> 11) + 0.5) * 0x1p-53;
	double u2 = (double)(cm_splitmix64(state) >> 11) * 0x1p-53;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif /* CM_RAND_H */
