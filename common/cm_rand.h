/*
 * cm_rand.h - splitmix64, the seeded generator tests, fuzz drivers and
 * benchmarks use where they need reproducible numbers (the same sequence on
 * every machine). Not for anything that must be unpredictable. Any thread,
 * with its own state.
 */
#ifndef CM_RAND_H
#define CM_RAND_H

#include <stdint.h>

static inline uint64_t cm_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif /* CM_RAND_H */
