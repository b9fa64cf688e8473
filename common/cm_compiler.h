/*
 * cm_compiler.h - compiler and layout helpers shared by every folder.
 *
 * Cache-line alignment for per-core structs, branch hints for hot paths, and
 * small array/min/max helpers. Header only; no state.
 */
#ifndef CM_COMPILER_H
#define CM_COMPILER_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CM_CACHE_LINE 64
#define CM_CACHE_ALIGNED __attribute__((aligned(CM_CACHE_LINE)))

#define cm_likely(x)   __builtin_expect(!!(x), 1)
#define cm_unlikely(x) __builtin_expect(!!(x), 0)

#define CM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CM_UNUSED __attribute__((unused))
#define CM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CM_ALWAYS_INLINE inline __attribute__((always_inline))

/* Each argument is evaluated once (GNU statement expressions, as Linux's min()). */
#define CM_MIN(a, b) __extension__({ __typeof__(a) a_ = (a); __typeof__(b) b_ = (b); a_ < b_ ? a_ : b_; })
#define CM_MAX(a, b) __extension__({ __typeof__(a) a_ = (a); __typeof__(b) b_ = (b); a_ > b_ ? a_ : b_; })

/* Round x up to a multiple of the power of two a. */
#define CM_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))

#define cm_prefetch(p) __builtin_prefetch((p), 0, 3)
#define cm_prefetch_w(p) __builtin_prefetch((p), 1, 3)

/* A slot in [0, 2^bits) for an address (Fibonacci hashing): direct-mapped memos by pointer. */
static inline size_t cm_ptr_slot(const void *p, unsigned bits)
{
	assert(bits >= 1 && bits <= 63); /* a shift by 64 is undefined */
	return (size_t)(((uint64_t)(uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - bits));
}

/*
 * Add to a counter that only one thread writes and any thread reads: a
 * relaxed load and store, no locked instruction. Readers load it relaxed.
 */
static inline void cm_ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

#endif /* CM_COMPILER_H */
