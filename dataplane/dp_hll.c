/*
 * dp_hll.c - distinct counting for StatsD sets, exact then HyperLogLog
 * (contract in dp_hll.h).
 *
 * The exact table is linear probing over hashes (0 marks a free slot, so a
 * hash of 0 is counted as 1), at most half full, doubling. Moving to the
 * registers adds every exact member to them; from then on the table is
 * left alone until a clear.
 *
 * Threads: see dp_hll.h.
 */
#include "dp_hll.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define SET_CAP_MIN 16u              /* slots of a set's first exact table */
#define HLL_REGS (1u << DP_HLL_P)

struct dp_hll {
	uint64_t *slots;   /* exact members */
	uint32_t cap;      /* slots: a power of two, 0 before the first member */
	uint32_t n;        /* exact members */
	uint8_t *regs;     /* registers; kept across clears once allocated */
	bool is_hll;       /* counting in regs */
};

/* ============================================================= registers */

static inline void regs_add(uint8_t *regs, uint64_t h)
{
	uint32_t idx = (uint32_t)(h >> (64 - DP_HLL_P));
	uint64_t rest = (h << DP_HLL_P) | (UINT64_C(1) << (DP_HLL_P - 1));
	uint8_t rho = (uint8_t)(__builtin_clzll(rest) + 1);
	if (rho > regs[idx])
		regs[idx] = rho;
}

static double hll_sigma(double x)
{
	if (x == 1.0)
		return INFINITY;
	double y = 1.0, z = x, zp;
	do {
		x *= x;
		zp = z;
		z += x * y;
		y += y;
	} while (z != zp);
	return z;
}

static double hll_tau(double x)
{
	if (x == 0.0 || x == 1.0)
		return 0.0;
	double y = 1.0, z = 1.0 - x, zp;
	do {
		x = sqrt(x);
		zp = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != zp);
	return z / 3.0;
}

/* Ertl's improved raw estimate from the register histogram. */
static double regs_count(const uint8_t *regs)
{
	enum { Q = 64 - DP_HLL_P };
	const double m = HLL_REGS;
	uint32_t c[Q + 2] = {0};
	for (uint32_t j = 0; j < HLL_REGS; j++)
		c[regs[j]]++;
	double z = m * hll_tau(1.0 - c[Q + 1] / m);
	for (int k = Q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * hll_sigma(c[0] / m);
	return m * m / (2.0 * log(2.0)) / z;
}

/* ================================================================= exact */

static int exact_grow(struct dp_hll *s)
{
	uint32_t cap = s->cap ? s->cap * 2 : SET_CAP_MIN;
	uint64_t *slots = calloc(cap, sizeof(uint64_t));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->cap; i++) {
		uint64_t h = s->slots[i];
		if (!h)
			continue;
		uint32_t j = (uint32_t)h & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = h;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

static int exact_insert(struct dp_hll *s, uint64_t h)
{
	if ((s->n + 1) * 2 > s->cap && exact_grow(s))
		return -ENOMEM;
	uint32_t j = (uint32_t)h & (s->cap - 1);
	while (s->slots[j]) {
		if (s->slots[j] == h)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slots[j] = h;
	s->n++;
	return 0;
}

/* Move the exact members into the registers. */
static int to_regs(struct dp_hll *s)
{
	if (s->is_hll)
		return 0;
	if (!s->regs && !(s->regs = malloc(HLL_REGS)))
		return -ENOMEM;
	memset(s->regs, 0, HLL_REGS);
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			regs_add(s->regs, s->slots[i]);
	s->is_hll = true;
	return 0;
}

/* ================================================================== sets */

int dp_hll_create(struct dp_hll **out)
{
	struct dp_hll *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

void dp_hll_destroy(struct dp_hll *s)
{
	if (s) {
		free(s->slots);
		free(s->regs);
		free(s);
	}
}

void dp_hll_clear(struct dp_hll *s)
{
	if (s->slots)
		memset(s->slots, 0, s->cap * sizeof(uint64_t));
	s->n = 0;
	s->is_hll = false;
}

int dp_hll_add(struct dp_hll *s, uint64_t h, uint32_t exact_max)
{
	h = h ? h : 1;  /* 0 marks a free slot */
	if (s->is_hll) {
		regs_add(s->regs, h);
		return 0;
	}
	if (exact_insert(s, h))
		return -ENOMEM;
	return s->n > exact_max ? to_regs(s) : 0;
}

int dp_hll_merge(struct dp_hll *dst, const struct dp_hll *src, uint32_t exact_max)
{
	if (src->is_hll || dst->is_hll) {
		if (to_regs(dst))
			return -ENOMEM;
		if (src->is_hll) {
			for (uint32_t j = 0; j < HLL_REGS; j++)
				if (src->regs[j] > dst->regs[j])
					dst->regs[j] = src->regs[j];
			return 0;
		}
	}
	int rc = 0;
	for (uint32_t i = 0; i < src->cap; i++) {
		uint64_t h = src->slots[i];
		if (h && dp_hll_add(dst, h, exact_max))
			rc = -ENOMEM;
	}
	return rc;
}

double dp_hll_count(const struct dp_hll *s)
{
	return s->is_hll ? round(regs_count(s->regs)) : (double)s->n;
}

bool dp_hll_check(const struct dp_hll *s, uint32_t exact_max)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->cap; i++)
		n += s->slots[i] != 0;
	return s->is_hll ? s->regs != NULL : (n == s->n && n <= exact_max + 1);
}

uint64_t dp_hll_digest(const struct dp_hll *s, uint64_t h)
{
	if (s->is_hll)
		return XXH3_64bits_withSeed(s->regs, HLL_REGS, XXH3_64bits_withSeed("H", 1, h));
	uint64_t members = 0;  /* a sum: independent of slot order */
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			members += XXH3_64bits_withSeed(&s->slots[i], sizeof(uint64_t), 0);
	h = XXH3_64bits_withSeed(&s->n, sizeof(s->n), h);
	return XXH3_64bits_withSeed(&members, sizeof(members), h);
}
