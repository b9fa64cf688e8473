/*
 * dp_inject.h - how points from outside the dataplane (the StatsD
 * aggregator's flushes, HTTP /write, imports) enter a shard: through rings
 * that the shard's owning core drains in its poll loop, so the shard keeps
 * exactly one writer.
 *
 * One struct dp_inject per shard holds one SPSC ring per writer slot
 * (rte_ring, single producer and single consumer: no locked instruction on
 * either side). A writer thread claims a slot once (dp_inject_writer_claim)
 * and from then on is the only producer of that ring. A batch is a set of
 * points with their keys copied into the batch's own arena; the writer
 * submits it and later learns:
 *   stored   the owner inserted it (per-status counts in the batch), and
 *   durable  under wal.durability = sync, the WAL record holding it is on
 *            disk (the batch's lsn <= st_store_durable_lsn()).
 * An HTTP /write therefore answers after dp_inject_wait(.., durable = sync).
 *
 * Usage profile: batches of 1,000 to 10,000 points (an HTTP body, one
 * StatsD flush's share of a shard), a few hundred per second per shard; the
 * owner drains at most a bounded number of points per pass so injection
 * never starves packet RX.
 *
 * Threads: create/destroy on the main thread with nobody using it;
 * dp_inject_writer_claim and the batch functions on the writer; drain on the
 * shard's owner only; dp_inject_wait on the writer.
 */
#ifndef DP_INJECT_H
#define DP_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_clock.h"
#include "st_shard.h"
#include "st_store.h"

struct dp_inject;

/*
 * A batch: allocated by the writer (dp_inject_batch_create), reused after
 * it is done. The members up to `done` are written by the writer before
 * submit; the rest by the owner, published by the release store of `done`.
 */
struct dp_inject_batch {
	struct st_shard_point *pts;   /* keys point into arena */
	uint32_t n, cap;
	uint8_t *arena;
	size_t arena_used, arena_cap;
	/* owner -> writer */
	uint32_t stored;                  /* OK or OOO */
	uint32_t status[ST_INS__COUNT];   /* points per insert status */
	uint64_t lsn;                     /* WAL record holding the batch (0: no WAL) */
	_Atomic uint32_t done;            /* 1: the fields above are final */
};

/* A batch for up to cap points with arena_bytes of keys. 0 or -ENOMEM. */
int dp_inject_batch_create(uint32_t cap, size_t arena_bytes, struct dp_inject_batch **out);
void dp_inject_batch_destroy(struct dp_inject_batch *b);
/* Empty b for reuse (writer; b not submitted or done). */
void dp_inject_batch_reset(struct dp_inject_batch *b);
/*
 * Append a point, copying key[keylen] into the arena (hash: st_key_hash of
 * the key). 0, or -ENOSPC when the batch is full (submit it, then retry on
 * another or after the reset).
 */
int dp_inject_batch_add(struct dp_inject_batch *b, const uint8_t *key, uint32_t keylen,
			uint64_t hash, int64_t ts_ns, uint8_t type, union st_value v);

/*
 * A shard's rings: nslots writers, ring_size batches each (a power of two).
 * A few KiB of pointers, touched once per batch: no NUMA placement.
 */
int dp_inject_create(uint32_t nslots, uint32_t ring_size, struct dp_inject **out);
void dp_inject_destroy(struct dp_inject *inj);

/* Writer, once per thread: the slot this thread produces into, or -ENOSPC. */
int dp_inject_writer_claim(struct dp_inject *inj);

/* Writer: queue b (not reset afterwards until done). 0 or -EAGAIN (ring full). */
int dp_inject_submit(struct dp_inject *inj, int slot, struct dp_inject_batch *b);

/*
 * Owner, every poll-loop pass: insert queued batches, at most max_points
 * points per call (a batch is never split across calls by the budget; one
 * larger than max_points is inserted alone), and mark them done. Returns
 * the points gone through (stored or refused). When the WAL pushes a part
 * of a batch back (its stage is full: what would be ST_INS_BACKPRESSURE),
 * the batch waits at the head of its slot, uncounted, and the next calls
 * go on where it stopped, so a /write or an import is slowed down rather
 * than refused. A stall (the WAL pushes back and takes nothing) is waited
 * out at most DP_INJECT_BACKPRESSURE_WAIT_NS in all, however many batches
 * queue behind it (well under a writer's wait, mgmt.write_timeout); after
 * that, until the WAL takes points again, what it refuses is refused and
 * counted, without waiting.
 */
#define DP_INJECT_BACKPRESSURE_WAIT_NS (1000 * CM_NS_PER_MS)
uint32_t dp_inject_drain(struct dp_inject *inj, struct st_store *st, uint32_t max_points);
/*
 * Owner, once, after its last pass: every queued batch inserted and done,
 * none held (what the WAL cannot take is refused and counted: nothing
 * would drain it). Returns the points gone through.
 */
uint32_t dp_inject_drain_final(struct dp_inject *inj, struct st_store *st);

/*
 * Writer: wait until b is stored and, when durable, until its WAL record is
 * on disk (st may be any thread's view of the shard's store). 0, or
 * -ETIMEDOUT after timeout_ns (b stays in flight: wait again before reuse).
 */
int dp_inject_wait(const struct dp_inject_batch *b, const struct st_store *st, bool durable,
		   int64_t timeout_ns);

/* Counters (owner-written, any reader). */
struct dp_inject_stats {
	uint64_t batches;
	uint64_t points;
	uint64_t stored;
	uint64_t submit_full;   /* dp_inject_submit refused: ring full */
};
void dp_inject_stats_read(const struct dp_inject *inj, struct dp_inject_stats *out);

#endif /* DP_INJECT_H */
