/*
 * dp_hll.h - distinct counting for StatsD sets: a set of 64-bit member
 * hashes, kept exactly (an open-addressing table of hashes) up to a limit
 * the caller passes, then in a HyperLogLog of 2^DP_HLL_P one-byte registers
 * (index: the top DP_HLL_P bits; value: 1 + the leading zeros of the rest)
 * estimated with Ertl's improved raw estimator (arXiv:1702.01284), which
 * needs no bias tables: about 0.8% standard error. The registers depend
 * only on the set of hashes, so the HyperLogLog of everything is the
 * register-wise max of those of the parts, and sets merge exactly (a
 * union), in any order.
 *
 * Why hand-written: Debian 12 ships no C library for HyperLogLog (only Go,
 * Perl and PostgreSQL-extension ones), and what we need is small: 16384
 * one-byte registers that merge by max.
 *
 * Usage profile: dp_hll_add once per member on a worker's hot path (the
 * exact table doubles a bounded number of times; the registers, 16 KiB,
 * are allocated once and kept across clears); merge, count and clear once
 * per set and flush on the merger's thread.
 *
 * Threads: a set belongs to one thread at a time (the handoff between
 * threads is the caller's); no global state.
 */
#ifndef DP_HLL_H
#define DP_HLL_H

#include <stdbool.h>
#include <stdint.h>

/* HyperLogLog precision: 2^14 one-byte registers. */
#define DP_HLL_P 14

/* A set of member hashes. Opaque. */
struct dp_hll;

/*
 * An empty, exact set. Returns 0 with *out owned by the caller
 * (dp_hll_destroy), or -ENOMEM.
 */
int dp_hll_create(struct dp_hll **out);

/* Free s. NULL is fine. */
void dp_hll_destroy(struct dp_hll *s);

/* Make s empty and exact again; it keeps its memory. */
void dp_hll_clear(struct dp_hll *s);

/*
 * HOT PATH. Add the member with hash h (a 64-bit hash of its bytes, e.g.
 * XXH3). Past exact_max members s counts in the registers from then on.
 * Returns 0, or -ENOMEM: the exact table or the registers could not be
 * allocated (the member may be lost: the count is then low).
 */
int dp_hll_add(struct dp_hll *s, uint64_t h, uint32_t exact_max);

/*
 * dst |= src (src borrowed): dst stays exact while the union has at most
 * exact_max members; anything with registers merges into registers.
 * Returns 0, or -ENOMEM as dp_hll_add.
 */
int dp_hll_merge(struct dp_hll *dst, const struct dp_hll *src, uint32_t exact_max);

/* The number of distinct members: exact, or the estimate rounded to an integer. */
double dp_hll_count(const struct dp_hll *s);

/*
 * Invariant walker (tests): an exact set holds n members (at most
 * exact_max + 1), a set in registers has them. True when all hold.
 */
bool dp_hll_check(const struct dp_hll *s, uint32_t exact_max);

/*
 * h mixed with the state of s (the exact members, whatever their slots, or
 * the registers): equal sets give equal digests. For tests and debugging.
 */
uint64_t dp_hll_digest(const struct dp_hll *s, uint64_t h);

#endif /* DP_HLL_H */
