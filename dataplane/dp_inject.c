/*
 * dp_inject.c - see dp_inject.h. The rings are rte_rings (SP/SC) in memory
 * of our own (rte_ring_init needs no EAL), so the socket backend, which never
 * starts DPDK, uses them as well.
 */
#include "dp_inject.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "cm_clock.h"
#include "cm_compiler.h"

#define DP_INJECT_SLOTS_MAX 64

struct inject_slot {
	struct rte_ring *ring;
	_Atomic uint64_t submit_full;   /* written by the slot's writer only */
} CM_CACHE_ALIGNED;

struct dp_inject {
	uint32_t nslots;
	_Atomic uint32_t claimed;
	uint32_t next;                  /* owner: round-robin start */
	struct dp_inject_batch *held;   /* owner: dequeued and not finished: first next time */
	uint32_t held_at;               /* owner: its points before this are inserted */
	int64_t stall_since;            /* owner: since when the WAL has pushed back and taken
					 * nothing (0: it takes points) */
	struct {
		_Atomic uint64_t batches, points, stored;
	} ctr CM_CACHE_ALIGNED;         /* owner-written */
	struct inject_slot slot[];
};

int dp_inject_batch_create(uint32_t cap, size_t arena_bytes, struct dp_inject_batch **out)
{
	struct dp_inject_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pts = malloc((size_t)cap * sizeof(*b->pts));
	b->arena = malloc(arena_bytes);
	if (!b->pts || !b->arena) {
		dp_inject_batch_destroy(b);
		return -ENOMEM;
	}
	b->cap = cap;
	b->arena_cap = arena_bytes;
	*out = b;
	return 0;
}

void dp_inject_batch_destroy(struct dp_inject_batch *b)
{
	if (!b)
		return;
	free(b->pts);
	free(b->arena);
	free(b);
}

void dp_inject_batch_reset(struct dp_inject_batch *b)
{
	b->n = 0;
	b->arena_used = 0;
	b->stored = 0;
	b->lsn = 0;
	memset(b->status, 0, sizeof(b->status));
	atomic_store_explicit(&b->done, 0, memory_order_relaxed);
}

int dp_inject_batch_add(struct dp_inject_batch *b, const uint8_t *key, uint32_t keylen,
			uint64_t hash, int64_t ts_ns, uint8_t type, union st_value v)
{
	if (b->n == b->cap || b->arena_cap - b->arena_used < keylen)
		return -ENOSPC;
	uint8_t *k = b->arena + b->arena_used;
	memcpy(k, key, keylen);
	b->arena_used += keylen;
	b->pts[b->n++] = (struct st_shard_point){
		.key = k, .keylen = keylen, .hash = hash, .ts_ns = ts_ns, .v = v, .type = type,
	};
	return 0;
}

int dp_inject_create(uint32_t nslots, uint32_t ring_size, struct dp_inject **out)
{
	if (nslots == 0 || nslots > DP_INJECT_SLOTS_MAX || ring_size < 2 ||
	    (ring_size & (ring_size - 1)))
		return -EINVAL;
	struct dp_inject *inj = aligned_alloc(CM_CACHE_LINE,
					      CM_ALIGN_UP(sizeof(*inj) + nslots * sizeof(inj->slot[0]),
							  CM_CACHE_LINE));
	if (!inj)
		return -ENOMEM;
	memset(inj, 0, sizeof(*inj) + nslots * sizeof(inj->slot[0]));
	inj->nslots = nslots;
	ssize_t bytes = rte_ring_get_memsize(ring_size);
	for (uint32_t i = 0; i < nslots; i++) {
		struct rte_ring *r = bytes > 0 ? aligned_alloc(CM_CACHE_LINE,
							       CM_ALIGN_UP((size_t)bytes, CM_CACHE_LINE))
					       : NULL;
		if (!r || rte_ring_init(r, "sf_inject", ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ)) {
			free(r);
			dp_inject_destroy(inj);
			return -ENOMEM;
		}
		inj->slot[i].ring = r;
	}
	*out = inj;
	return 0;
}

void dp_inject_destroy(struct dp_inject *inj)
{
	if (!inj)
		return;
	for (uint32_t i = 0; i < inj->nslots; i++)
		free(inj->slot[i].ring);
	free(inj);
}

int dp_inject_writer_claim(struct dp_inject *inj)
{
	uint32_t s = atomic_fetch_add(&inj->claimed, 1);
	return s < inj->nslots ? (int)s : -ENOSPC;
}

int dp_inject_submit(struct dp_inject *inj, int slot, struct dp_inject_batch *b)
{
	assert(slot >= 0 && (uint32_t)slot < inj->nslots);
	atomic_store_explicit(&b->done, 0, memory_order_relaxed);
	/* rte_ring's enqueue releases the batch's contents to the dequeuing owner */
	if (rte_ring_sp_enqueue(inj->slot[slot].ring, b) != 0) {
		cm_ctr_add(&inj->slot[slot].submit_full, 1);
		return -EAGAIN;
	}
	return 0;
}

/* Count a part's outcome in its batch; points stored mean the WAL takes them: no stall. */
static void tally(struct dp_inject *inj, struct dp_inject_batch *b, const uint8_t *status,
		  uint32_t went, uint32_t stored)
{
	b->stored += stored;
	if (stored)
		inj->stall_since = 0;
	for (uint32_t j = 0; j < went; j++)
		b->status[status[j]]++;
}

/*
 * HOT PATH (the owner's loop). Insert the held batch's points from
 * inj->held_at on and, once all are, mark it done and let it go. A part the
 * WAL pushes back stops it there (st_store_insert_hold): the writer is
 * waiting for the batch anyway, so it waits a little longer instead of being
 * told its points were refused; the next call goes on from there. Once the
 * stall has lasted DP_INJECT_BACKPRESSURE_WAIT_NS (the clock is read only
 * on a push-back), the pushed-back points are refused instead, until the
 * WAL takes points again. final: nothing is held. Returns the points gone
 * through in this call.
 */
static uint32_t inject_held(struct dp_inject *inj, struct st_store *st, bool final)
{
	enum { PART = 256 };
	uint8_t status[PART];
	struct dp_inject_batch *b = inj->held;
	uint32_t n = b->n, from = inj->held_at;
	for (uint32_t i = from; i < n;) {
		uint32_t k = CM_MIN((uint32_t)PART, n - i), stored;
		if (final) {
			stored = st_store_insert_burst(st, b->pts + i, k, status);
			tally(inj, b, status, k, stored);
			i += k;
			continue;
		}
		uint32_t went = st_store_insert_hold(st, b->pts + i, k, status, &stored);
		tally(inj, b, status, went, stored);
		i += went;
		if (went == k)
			continue;
		int64_t now = cm_mono_ns();
		if (!inj->stall_since)
			inj->stall_since = now;
		if (now - inj->stall_since <= DP_INJECT_BACKPRESSURE_WAIT_NS) {
			inj->held_at = i; /* the same points again later */
			return i - from;
		}
		/* waited out: the rest of the part goes in or is refused, counted */
		k = CM_MIN((uint32_t)PART, n - i);
		stored = st_store_insert_burst(st, b->pts + i, k, status);
		tally(inj, b, status, k, stored);
		i += k;
	}
	b->lsn = st_store_pending_lsn(st);
	cm_ctr_add(&inj->ctr.batches, 1);
	cm_ctr_add(&inj->ctr.points, n);
	cm_ctr_add(&inj->ctr.stored, b->stored);
	inj->held = NULL;
	/* pairs with the acquire load in dp_inject_wait: the results above are final,
	 * and b is the writer's again (not read after this) */
	atomic_store_explicit(&b->done, 1, memory_order_release);
	return n - from;
}

/* final: nothing is held (the worker stops; writers must not wait for a WAL that will not drain) */
static uint32_t drain(struct dp_inject *inj, struct st_store *st, uint32_t max_points, bool final)
{
	uint32_t points = 0;
	if (inj->held) {
		/* the head of its slot: it goes before anything dequeued after it */
		points = inject_held(inj, st, final);
		if (inj->held)
			return points; /* the WAL still pushes back: nothing more this pass */
	}
	for (uint32_t k = 0; k < inj->nslots && points < max_points; k++) {
		uint32_t s = (inj->next + k) % inj->nslots;
		void *obj;
		/* rte_ring's dequeue acquires what the writer's enqueue released */
		while (points < max_points && rte_ring_sc_dequeue(inj->slot[s].ring, &obj) == 0) {
			struct dp_inject_batch *b = obj;
			inj->held = b; /* the slot's head until it is done */
			inj->held_at = 0;
			if (points && b->n > max_points - points)
				goto out; /* would pass max_points: the next call starts with it */
			points += inject_held(inj, st, final);
			if (inj->held)
				goto out;
		}
	}
out:
	inj->next = (inj->next + 1) % inj->nslots;
	return points;
}

uint32_t dp_inject_drain(struct dp_inject *inj, struct st_store *st, uint32_t max_points)
{
	return drain(inj, st, max_points, false);
}

uint32_t dp_inject_drain_final(struct dp_inject *inj, struct st_store *st)
{
	return drain(inj, st, UINT32_MAX, true);
}

int dp_inject_wait(const struct dp_inject_batch *b, const struct st_store *st, bool durable,
		   int64_t timeout_ns)
{
	int64_t deadline = cm_mono_ns() + timeout_ns;
	int64_t step = 20 * CM_NS_PER_US;
	/* pairs with the release store in inject_held */
	while (!atomic_load_explicit(&b->done, memory_order_acquire) ||
	       (durable && st_store_durable_lsn(st) < b->lsn)) {
		if (cm_mono_ns() >= deadline)
			return -ETIMEDOUT;
		cm_sleep_ns(step);
		step = CM_MIN(step * 2, (int64_t)(1 * CM_NS_PER_MS));
	}
	return 0;
}

void dp_inject_stats_read(const struct dp_inject *inj, struct dp_inject_stats *out)
{
	out->batches = atomic_load_explicit(&inj->ctr.batches, memory_order_relaxed);
	out->points = atomic_load_explicit(&inj->ctr.points, memory_order_relaxed);
	out->stored = atomic_load_explicit(&inj->ctr.stored, memory_order_relaxed);
	out->submit_full = 0;
	for (uint32_t i = 0; i < inj->nslots; i++)
		out->submit_full += atomic_load_explicit(&inj->slot[i].submit_full,
							 memory_order_relaxed);
}
