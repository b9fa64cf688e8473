/*
 * st_flush.h - the storage background thread: everything durable storage
 * does off the shard cores.
 *
 * Every pass (storage.flush_tick) and for every store it serves it:
 *   - keeps a spare WAL segment ready, deletes covered segments, closes
 *     retired descriptors (st_wal_service);
 *   - watches free space: below storage.min_free the store refuses writes
 *     (counted as disk_full) until space returns;
 *   - checkpoints every storage.flush_interval, or early when the shard uses
 *     storage.flush_memory percent of its memory: the owner seals its open
 *     chunks, the sealed chunks are written as blocks into the warm tier, the
 *     catalog and the CHECKPOINT file are made durable, the WAL is trimmed
 *     and the owner frees the flushed chunks;
 *   - rewrites partitions off the hot path: merges a partition's blocks
 *     (compaction), moves old partitions to the cold tier at a higher zstd
 *     level, and drops points past their retention (whole blocks when all of
 *     a block is expired);
 *   - quarantines blocks readers found damaged, and frees retired blocks and
 *     block sets once readers are done with them (QSBR).
 *
 * One flusher per daemon today (per NUMA node when there are several:
 * docs/ARCHITECTURE.md). Its waits on the owner are bounded (the owner
 * answers within a poll pass or two).
 */
#ifndef ST_FLUSH_H
#define ST_FLUSH_H

#include <stdint.h>

#include "cm_config.h"
#include "st_store.h"

struct st_flush;

struct st_flush_cfg {
	int64_t interval_ns;          /* checkpoint period */
	uint32_t memory_pct;          /* checkpoint early above this share of shard memory */
	uint32_t compact_blocks;      /* merge a partition at this many blocks */
	int64_t cold_after_ns;        /* move partitions that ended this long ago */
	uint64_t min_free_bytes;
	int64_t tick_ns;              /* pass period */
};

void st_flush_cfg_default(struct st_flush_cfg *cfg);
void st_flush_cfg_from(const struct cm_config *config, struct st_flush_cfg *cfg);

/* stores: borrowed array, kept (the stores must outlive the flusher). */
int st_flush_create(const struct st_flush_cfg *cfg, struct st_rcu *rcu, struct st_store **stores,
		    uint32_t nstores, struct st_flush **out);
/* Start/stop the background thread. */
int st_flush_start(struct st_flush *f);
void st_flush_stop(struct st_flush *f);
void st_flush_destroy(struct st_flush *f);   /* stops first; NULL ok */

/*
 * Synchronous, for tests and `sfctl flush`: checkpoint store st now and
 * rewrite what its partitions need as of now_ns. The store's owner must be
 * polling meanwhile (another thread). Call from one thread at a time, and
 * not while the background thread runs. 0 or -errno.
 */
int st_flush_store_now(struct st_flush *f, struct st_store *st, int64_t now_ns);
/* Synchronous: one service pass (WAL service, disk check, quarantine, reclaim). */
void st_flush_service_now(struct st_flush *f, struct st_store *st);

struct st_flush_stats {
	uint64_t checkpoints;
	uint64_t checkpoint_failures;
	uint64_t blocks_written;
	uint64_t block_bytes_written;
	uint64_t partitions_rewritten;
	uint64_t blocks_deleted;      /* by retention or replaced */
	uint64_t points_expired;      /* dropped by retention or deletion at a checkpoint or rewrite */
	uint64_t blocks_quarantined;
	int64_t last_checkpoint_ns;   /* how long the last one took */
};
void st_flush_stats_read(const struct st_flush *f, struct st_flush_stats *out);

#endif /* ST_FLUSH_H */
