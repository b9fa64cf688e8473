/*
 * st_store.h - one shard's durable store: the hot shard (st_shard.h), its
 * WAL (st_wal.h), its series catalog (st_catalog.h) and its blocks in the
 * warm and cold tiers (st_block.h, st_tier.h), read as one.
 *
 * Write path (the owning core): st_store_insert_burst() stores points in the
 * shard and stages them, with the definitions of new series, in the WAL;
 * st_store_poll(), once per poll-loop pass, commits the stage as a record,
 * drives the WAL's I/O, reclaims shard memory and answers the flusher
 * (st_flush.h). Nothing here blocks.
 *
 * Durability (docs/DURABILITY.md): a point is acknowledged
 *   none      when st_store_insert_burst() returns OK;
 *   interval  likewise; it is on disk within wal.fsync_interval;
 *   sync      when st_store_durable_lsn() >= the lsn st_store_commit()
 *             returned after the point was inserted.
 *
 * Read path (any reader thread, between st_read_begin/end on the store's
 * st_rcu): st_store_read() merges blocks (oldest generation first) and the
 * hot shard, last write winning, and hides points older than the series'
 * retention.
 *
 * Flushing (st_flush.c, a background thread): checkpoints seal the hot
 * chunks, copy them into blocks, append the catalog, record the checkpoint
 * lsn, let the WAL delete covered segments and ask the owner to free the
 * flushed chunks. st_store_open() recovers: catalog, blocks (a damaged one
 * is quarantined), then the WAL from the checkpoint on.
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_config.h"
#include "st_block.h"
#include "st_io.h"
#include "st_scache.h"
#include "st_shard.h"
#include "st_tier.h"
#include "st_wal.h"

struct st_store;
struct st_block;

/* Retention: a default and per-measurement overrides; 0 keeps forever. */
#define ST_RETENTION_RULES_MAX 64
struct st_retention {
	int64_t default_ns;
	uint32_t nrules;
	struct {
		char measurement[64];
		int64_t keep_ns;
	} rules[ST_RETENTION_RULES_MAX];
};
/* Parse "cpu=7d,mem=30d" into r (default left as is). 0 or -EINVAL with err. */
int st_retention_parse(const char *spec, struct st_retention *r, char *err, size_t errlen);
/* How long a series of this measurement is kept (0: forever). */
int64_t st_retention_for(const struct st_retention *r, const char *measurement, size_t len);

struct st_store_cfg {
	uint32_t shard_id;
	int numa_node;
	const char *dir;              /* borrowed: data_dir/shard-NNN, created if missing */
	const char *cold_dir;         /* borrowed: cold_dir/shard-NNN, or NULL: no cold tier */
	const struct st_io_ops *ops;  /* kept */
	struct st_rcu *rcu;           /* kept */
	struct st_shard_cfg shard;    /* rcu, shard_id, numa_node set from the above */
	struct st_wal_cfg wal;        /* durability NONE: no WAL */
	int64_t partition_ns;         /* block time partition */
	int warm_zstd_level, cold_zstd_level;
	uint32_t block_chunk_points;
	int64_t block_chunk_span_ns;  /* block chunks do not cross multiples of it; 0: off */
	size_t section_cache_bytes;   /* decompressed sections kept for reads; 0: none */
	bool verify_on_open;          /* read every block section at open */
	struct st_retention retention;
};

/* storage.* keys: partition, flush_interval, cold_dir, cold_after, retention, min_free, ... */
extern const struct cm_cfg_table st_store_cfg_table;
/* Fill cfg (everything but dir, cold_dir, ops, rcu) from a registry. 0 or -EINVAL with err. */
int st_store_cfg_from(const struct cm_config *config, struct st_store_cfg *cfg, char *err,
		      size_t errlen);
void st_store_cfg_default(struct st_store_cfg *cfg);

/* What recovery found. */
struct st_store_recovery {
	uint64_t series;
	uint64_t blocks;
	uint64_t blocks_quarantined;
	uint64_t checkpoint_lsn;
	uint64_t catalog_dropped_bytes;
	struct st_wal_replay_stats wal;
	uint64_t replay_rejected;     /* points the shard refused during replay */
	int64_t elapsed_ns;
};

/* Open and recover. Blocking, before the owner runs. 0 or -errno (logged). */
int st_store_open(const struct st_store_cfg *cfg, struct st_store **out,
		  struct st_store_recovery *rec);
/* Commit and sync the WAL, free everything. No owner or flusher may run. NULL ok. */
void st_store_close(struct st_store *st);

struct st_shard *st_store_shard(struct st_store *st);
uint32_t st_store_shard_id(const struct st_store *st);

/* --------------------------------------------------------------- owner */

/*
 * HOT PATH. Store n points; status[i] (optional) gets each outcome. The
 * WAL stages a burst 64 points at a time; a part it cannot stage is
 * refused whole (ST_INS_BACKPRESSURE, or ST_INS_DISK_FULL when the disk is
 * below its floor or the WAL's last error was ENOSPC), and counted.
 * Returns the number stored.
 */
uint32_t st_store_insert_burst(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			       uint8_t *status);
/*
 * st_store_insert_burst for points whose sender can wait (injected
 * batches): at the first part the WAL pushes back (what would be refused
 * as ST_INS_BACKPRESSURE) it stops, and that part and the rest are neither
 * stored, nor given a status, nor counted. Returns how many points it went
 * through (stored, or refused for reasons that waiting does not mend);
 * *stored how many of them it stored. pts[returned..n) are the caller's to
 * offer again.
 */
uint32_t st_store_insert_hold(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			      uint8_t *status, uint32_t *stored);

/*
 * Owner: commit what is staged as a WAL record now; *lsn receives the lsn
 * that covers every point inserted so far (sync mode: wait for
 * st_store_durable_lsn() >= *lsn before acknowledging). 0 or -EAGAIN.
 */
int st_store_commit(struct st_store *st, uint64_t *lsn);

/*
 * Owner: the lsn of the WAL record that holds, or will hold, every point
 * inserted so far, without forcing a commit: the group commit writes it
 * within 200 us. 0 without a WAL (nothing to wait for).
 */
uint64_t st_store_pending_lsn(const struct st_store *st);

/* Owner, every poll-loop pass. Never blocks. */
void st_store_poll(struct st_store *st);

/*
 * The WAL's encoder pass (st_wal_poll): called by the owner inside
 * st_store_poll when wal.io_thread is off, else by the WAL I/O thread
 * (st_walio.h) only. Returns the work done (0: idle).
 */
uint32_t st_store_io_poll(struct st_store *st);

/* Any thread: the durable lsn (UINT64_MAX with durability none). */
uint64_t st_store_durable_lsn(const struct st_store *st);

/* -------------------------------------------------------------- readers */

/*
 * Reader (inside st_read_begin/end): append the points of series local_id
 * with t_min <= ts <= t_max from every tier, in time order, one per
 * timestamp, to out. Returns the number appended, -ENOENT, -ENOMEM, or
 * -EIO/-EBADMSG when a block could not be read (counted; the block is
 * quarantined by the flusher).
 */
int st_store_read(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		  struct st_points *out);

/*
 * Reader: like st_store_read, but only the k newest (newest = true) or k
 * oldest points with t_min <= ts <= t_max are needed: what ORDER BY time
 * [DESC] LIMIT k reads. Appends at least those (possibly more, in time
 * order) to out. For k = 1 the answer comes from the block chunk summaries
 * (their first or last point) without decompressing anything where a chunk
 * lies inside the range; otherwise the summaries narrow the range read.
 * Same returns as st_store_read.
 */
int st_store_read_end(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		      uint64_t k, bool newest, struct st_points *out);

/*
 * Reader: st_store_read, except that a block chunk of the series may stand
 * for its points by its summary: one that lies inside [t_min, t_max], that
 * take(arg, chunk) accepts (say, it lies inside one GROUP BY time bucket and
 * the aggregates asked for can be computed from summaries), and where no
 * other tier or block of the series has a point in the chunk's time range
 * (so no merge can change its points). Such a chunk is neither read nor
 * decoded: its summary is appended to sums (in no particular order) and none
 * of its points to out. Returns the points appended to out, or an error as
 * st_store_read (then sums is as it was).
 */
struct st_sums {
	struct st_block_summary *v;
	size_t n, cap;
};
void st_sums_release(struct st_sums *s);
typedef bool (*st_sum_take_fn)(void *arg, const struct st_block_summary *chunk);
int st_store_read_summ(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		       st_sum_take_fn take, void *arg, struct st_points *out, struct st_sums *sums);

struct st_store_stats {
	struct st_shard_stats shard;
	struct st_wal_stats wal;
	uint64_t refused[ST_INS__COUNT];   /* by the store: backpressure, disk_full */
	uint64_t blocks[3];                /* by tier: [ST_TIER_WARM], [ST_TIER_COLD] */
	uint64_t block_bytes[3];
	uint64_t block_points[3];
	uint64_t block_index_bytes;        /* resident */
	uint64_t block_read_errors;
	uint64_t blocks_quarantined;
	struct st_scache_stats scache;     /* storage.section_cache (zeros when off) */
	uint64_t checkpoints;
	uint64_t checkpoint_lsn;
	bool disk_low;
};
/* Reader (inside st_read_begin/end: it walks the published block set). */
void st_store_stats_read(const struct st_store *st, struct st_store_stats *out);

/* ------------------------------------------------------------- deletion */

/*
 * Deleting whole series (DROP DATABASE): the management plane stops naming
 * them at once; the flusher drops their points from what it writes, their
 * hot points at the next checkpoint and their blocks at the next rewrite.
 * fn answers, for a series' measurement name (borrowed), whether all of the
 * series is deleted; it runs on the flusher thread per series at every
 * checkpoint, rewrite and retention scan of blocks, so it must be
 * thread-safe and cheap. Set once, before any
 * series is deleted; fn and arg are kept until st_store_close.
 */
typedef bool (*st_deleted_fn)(void *arg, struct st_str measurement);
void st_store_set_deleted(struct st_store *st, st_deleted_fn fn, void *arg);
/* Ask for a rewrite pass over the blocks at the next checkpoint (any thread). */
void st_store_rewrite_soon(struct st_store *st);

#endif /* ST_STORE_H */
