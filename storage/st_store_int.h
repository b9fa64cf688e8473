/*
 * st_store_int.h - the inside of struct st_store, shared by st_store.c (the
 * owner's and readers' side) and st_flush.c (the background side). Not for
 * other modules.
 *
 * Owner <-> flusher requests are counters, not rings: the flusher bumps a
 * request number (release) after filling what the request needs; the owner
 * serves it in slices of SLICE series per poll pass and publishes the done
 * number (release). Only one request of each kind is outstanding.
 */
#ifndef ST_STORE_INT_H
#define ST_STORE_INT_H

#include <limits.h>
#include <stdatomic.h>

#include "st_block.h"
#include "st_catalog.h"
#include "st_store.h"

#define ST_STORE_SLICE 4096u

/* One block file, shared by successive block sets; freed through QSBR. */
struct st_blk {
	struct st_block *b;
	struct st_tier *tier;
	struct st_tier_obj *obj;
	int64_t part;                 /* partition start */
	uint64_t gen;                 /* newer blocks win on equal timestamps */
	uint64_t bytes;
	struct st_block_info info;
	_Atomic uint32_t bad;         /* a reader saw a damaged section */
	char name[64];
	struct st_blk *retire_next;
	uint64_t retire_token;
};

/* Immutable once published; sorted by (part, gen). */
struct st_blockset {
	uint32_t n;
	struct st_blk *items[];
};

struct st_store_counters {
	_Atomic uint64_t refused[ST_INS__COUNT];
	_Atomic uint64_t block_read_errors;
	_Atomic uint64_t blocks_quarantined;
	_Atomic uint64_t checkpoints;
	_Atomic uint64_t checkpoint_lsn;
};

struct st_store {
	struct st_store_cfg cfg;
	char dir[PATH_MAX / 2];
	char cold_dir[PATH_MAX / 2];
	struct st_shard *shard;
	struct st_wal *wal;           /* NULL: durability none */
	struct st_catalog *cat;
	struct st_tier *warm, *cold;
	struct st_scache *scache;         /* decompressed sections of reads; NULL: off */
	struct st_blockset *_Atomic blocks;
	_Atomic bool disk_low;
	_Atomic bool rewrite_due;         /* st_store_rewrite_soon: the flusher clears it */
	st_deleted_fn _Atomic deleted;    /* st_store_set_deleted */
	void *_Atomic deleted_arg;

	/* owner: group commit of the WAL stage */
	int64_t stage_since_ns;       /* mono time the stage became non-empty; 0: empty */
	uint32_t commit_points;

	/* owner: request service */
	bool ckpt_active, rel_active;
	uint64_t ckpt_serving, rel_serving;
	uint32_t ckpt_next, rel_next;
	uint64_t ckpt_lsn_pending;
	uint64_t replayed_lsn;        /* the WAL's last lsn at open (all of it is in the shard) */

	/* requests (flusher -> owner) and answers (owner -> flusher) */
	_Atomic uint64_t ckpt_req, ckpt_done;
	_Atomic uint64_t ckpt_lsn;        /* written before ckpt_done */
	_Atomic uint64_t rel_req, rel_done;
	const struct st_shard_sealed *rel_arr;   /* written before rel_req */
	uint32_t rel_n;

	/* flusher-private */
	struct st_shard_sealed *flushed;  /* per series: where flushed chunks end */
	uint32_t flushed_cap;
	uint64_t next_gen;
	int64_t last_retention_ns;        /* wall time of the last retention rewrite pass */
	struct st_blk *retired;           /* blocks waiting for readers */
	struct st_blockset *retired_sets[64];
	uint64_t retired_set_tokens[64];
	uint32_t nretired_sets;

	struct st_store_counters ctr;
};

/* Flusher side (st_flush.c): replace the published block set; the old one is retired. */
void st_store_publish_blocks(struct st_store *st, struct st_blockset *set);
/* Open a block object of a tier and wrap it; -EBADMSG when it is damaged. */
int st_store_blk_open(struct st_store *st, struct st_tier *tier, const char *name, bool verify,
		      struct st_blk **out);
void st_store_blk_free(struct st_blk *b);
/* Flusher: make CHECKPOINT(lsn) durable (temp file, fdatasync, rename, dir fsync). 0 or -errno. */
int st_store_ckpt_write(struct st_store *st, uint64_t lsn, uint32_t series);
/* Retention cutoff of series local_id at now_ns (INT64_MIN: keep all). */
int64_t st_store_cutoff(const struct st_store *st, uint32_t local_id, int64_t now_ns);
/*
 * Flusher: what of series local_id is gone at now_ns: true when all of it
 * (deleted: st_store_set_deleted), else the points before *cutoff (retention;
 * INT64_MIN: none). The key is parsed once for both.
 */
bool st_store_expiry(const struct st_store *st, uint32_t local_id, int64_t now_ns,
		     int64_t *cutoff);

#endif /* ST_STORE_INT_H */
