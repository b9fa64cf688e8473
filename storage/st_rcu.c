/*
 * st_rcu.c - see st_rcu.h. A thin wrapper over rte_rcu_qsbr (DPDK), which
 * needs no EAL for these calls: the QSBR variable lives in memory we
 * allocate, and reader slots are handed out from a bitmap here.
 */
#include "st_rcu.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include "cm_compiler.h"

struct st_rcu {
	_Atomic uint64_t slots;   /* bitmap of registered reader ids */
	uint32_t max_readers;
	struct rte_rcu_qsbr *v;   /* cache-aligned, sized by rte_rcu_qsbr_get_memsize */
};

int st_rcu_create(uint32_t max_readers, struct st_rcu **out)
{
	if (max_readers == 0 || max_readers > ST_RCU_MAX_READERS)
		return -EINVAL;
	struct st_rcu *rcu = calloc(1, sizeof(*rcu));
	if (!rcu)
		return -ENOMEM;
	size_t sz = CM_ALIGN_UP(rte_rcu_qsbr_get_memsize(max_readers), (size_t)CM_CACHE_LINE);
	rcu->v = aligned_alloc(CM_CACHE_LINE, sz);
	if (!rcu->v) {
		free(rcu);
		return -ENOMEM;
	}
	memset(rcu->v, 0, sz);
	if (rte_rcu_qsbr_init(rcu->v, max_readers) != 0) {
		free(rcu->v);
		free(rcu);
		return -EINVAL;
	}
	rcu->max_readers = max_readers;
	*out = rcu;
	return 0;
}

void st_rcu_destroy(struct st_rcu *rcu)
{
	if (!rcu)
		return;
	assert(atomic_load(&rcu->slots) == 0);
	free(rcu->v);
	free(rcu);
}

int st_rcu_reader_register(struct st_rcu *rcu)
{
	uint64_t cur = atomic_load_explicit(&rcu->slots, memory_order_relaxed);
	for (;;) {
		uint64_t freebits = ~cur;
		if (rcu->max_readers < 64)
			freebits &= (UINT64_C(1) << rcu->max_readers) - 1;
		if (!freebits)
			return -ENOSPC;
		int id = __builtin_ctzll(freebits);
		/* acq_rel: pairs with the release in unregister of the slot's last owner */
		if (atomic_compare_exchange_weak_explicit(&rcu->slots, &cur, cur | (UINT64_C(1) << id),
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			rte_rcu_qsbr_thread_register(rcu->v, (unsigned int)id);
			return id;
		}
	}
}

uint32_t st_rcu_readers_free(const struct st_rcu *rcu)
{
	uint64_t used = atomic_load_explicit(&rcu->slots, memory_order_relaxed);
	return rcu->max_readers - (uint32_t)__builtin_popcountll(used);
}

void st_rcu_reader_unregister(struct st_rcu *rcu, int reader_id)
{
	assert(reader_id >= 0 && (uint32_t)reader_id < rcu->max_readers);
	rte_rcu_qsbr_thread_unregister(rcu->v, (unsigned int)reader_id);
	/* release: pairs with the acq_rel CAS of the next register */
	atomic_fetch_and_explicit(&rcu->slots, ~(UINT64_C(1) << reader_id), memory_order_release);
}

void st_read_begin(struct st_rcu *rcu, int reader_id)
{
	/* online: a store of the current token plus a full fence (inside DPDK) */
	rte_rcu_qsbr_thread_online(rcu->v, (unsigned int)reader_id);
}

void st_read_end(struct st_rcu *rcu, int reader_id)
{
	/* offline: a release store; the reader holds nothing afterwards */
	rte_rcu_qsbr_thread_offline(rcu->v, (unsigned int)reader_id);
}

uint64_t st_rcu_start(struct st_rcu *rcu)
{
	return rte_rcu_qsbr_start(rcu->v);
}

bool st_rcu_done(struct st_rcu *rcu, uint64_t token)
{
	return rte_rcu_qsbr_check(rcu->v, token, false) == 1;
}
