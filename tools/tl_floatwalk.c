/*
 * tl_floatwalk.c - see tl_floatwalk.h.
 */
#include "tl_floatwalk.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tl_rng_seed(struct tl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t tl_rng_next(struct tl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double tl_rng_uniform(struct tl_rng *r)
{
	return (double)(tl_rng_next(r) >> 11) * 0x1.0p-53;
}

double tl_rng_normal(struct tl_rng *r)
{
	double u1 = tl_rng_uniform(r), u2 = tl_rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tl_floatwalk_series(uint64_t seed, uint32_t series, uint32_t n, int64_t *ts, double *vals)
{
	struct tl_rng r;
	tl_rng_seed(&r, seed ^ ((uint64_t)series * 0xd1b54a32d192ed03ULL));
	double v = tl_rng_uniform(&r) * 100.0;
	for (uint32_t i = 0; i < n; i++) {
		ts[i] = TL_FLOATWALK_T0_NS + (int64_t)i * TL_FLOATWALK_INTERVAL_NS;
		vals[i] = round(v * 100.0) / 100.0;
		v += 0.5 * tl_rng_normal(&r);
	}
}
