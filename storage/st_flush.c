/*
 * st_flush.c - the storage background thread (contract in st_flush.h).
 *
 * Usage profile: one thread, woken every storage.flush_tick; a checkpoint
 * every few minutes per shard decodes every sealed chunk once (tens of
 * millions of points per second) and writes a block per partition touched;
 * partition rewrites decode and re-encode whole partitions and run rarely.
 */
#include "st_flush.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "st_store_int.h"

struct flush_counters {
	_Atomic uint64_t checkpoints, checkpoint_failures, blocks_written, block_bytes_written;
	_Atomic uint64_t partitions_rewritten, blocks_deleted, points_expired, blocks_quarantined;
	_Atomic int64_t last_checkpoint_ns;
};

struct st_flush {
	struct st_flush_cfg cfg;
	struct st_rcu *rcu;
	int reader;
	struct st_store **stores;
	uint32_t nstores;
	int64_t *next_flush;
	pthread_t thread;
	_Atomic bool stop;
	bool running;
	struct flush_counters ctr;
};

void st_flush_cfg_default(struct st_flush_cfg *cfg)
{
	cfg->interval_ns = 300 * CM_NS_PER_SEC;
	cfg->memory_pct = 50;
	cfg->compact_blocks = 4;
	cfg->cold_after_ns = 7 * 86400 * CM_NS_PER_SEC;
	cfg->min_free_bytes = 256u << 20;
	cfg->tick_ns = 20 * CM_NS_PER_MS;
}

void st_flush_cfg_from(const struct cm_config *config, struct st_flush_cfg *cfg)
{
	st_flush_cfg_default(cfg);
	cfg->interval_ns = cm_config_int(config, "storage.flush_interval");
	cfg->memory_pct = (uint32_t)cm_config_int(config, "storage.flush_memory");
	cfg->compact_blocks = (uint32_t)cm_config_int(config, "storage.compact_blocks");
	cfg->cold_after_ns = cm_config_int(config, "storage.cold_after");
	cfg->min_free_bytes = (uint64_t)cm_config_int(config, "storage.min_free");
}

/* Wait for the owner to answer request number req. 0 or -ETIMEDOUT. */
static int wait_owner(_Atomic uint64_t *done, uint64_t req)
{
	int64_t give_up = cm_mono_ns() + 30 * CM_NS_PER_SEC;
	/* acquire: pairs with the owner's release of done */
	while (atomic_load_explicit(done, memory_order_acquire) < req) {
		if (cm_mono_ns() > give_up)
			return -ETIMEDOUT;
		cm_sleep_ns(100 * CM_NS_PER_US);
	}
	return 0;
}

/* ============================================================ block sets */

/* Retire a block: off the tier now, closed and freed once readers are done. */
static void blk_retire(struct st_store *st, struct st_blk *b, bool remove)
{
	if (remove)
		b->tier->ops->remove(b->tier, b->name);
	b->retire_token = st_rcu_start(st->cfg.rcu);
	b->retire_next = st->retired;
	st->retired = b;
}

static void reclaim(struct st_store *st)
{
	struct st_blk **pp = &st->retired;
	while (*pp) {
		struct st_blk *b = *pp;
		if (st_rcu_done(st->cfg.rcu, b->retire_token)) {
			*pp = b->retire_next;
			st_store_blk_free(b);
		} else {
			pp = &b->retire_next;
		}
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < st->nretired_sets; i++) {
		if (st_rcu_done(st->cfg.rcu, st->retired_set_tokens[i])) {
			free(st->retired_sets[i]);
		} else {
			st->retired_sets[k] = st->retired_sets[i];
			st->retired_set_tokens[k++] = st->retired_set_tokens[i];
		}
	}
	st->nretired_sets = k;
}

/* A new set: the current one without drop[] (by pointer), plus add[]. */
static int set_replace(struct st_store *st, struct st_blk **drop, uint32_t ndrop,
		       struct st_blk **add, uint32_t nadd)
{
	const struct st_blockset *cur = atomic_load_explicit(&st->blocks, memory_order_relaxed);
	uint32_t n = cur ? cur->n : 0;
	struct st_blockset *set = malloc(sizeof(*set) + (n + nadd) * sizeof(set->items[0]));
	if (!set)
		return -ENOMEM;
	set->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool dropped = false;
		for (uint32_t j = 0; j < ndrop && !dropped; j++)
			dropped = cur->items[i] == drop[j];
		if (!dropped)
			set->items[set->n++] = cur->items[i];
	}
	for (uint32_t j = 0; j < nadd; j++)
		set->items[set->n++] = add[j];
	st_store_publish_blocks(st, set);
	return 0;
}

/* ============================================================ block build */

struct part_builder {
	int64_t part;
	struct st_block_builder *b;
};

/* One builder per partition touched (a backfill may touch many). */
struct build {
	struct st_store *st;
	struct st_tier *tier;
	struct part_builder *parts;
	uint32_t nparts, cap;
};

static struct st_block_builder *builder_for(struct build *bd, int64_t part)
{
	for (uint32_t i = bd->nparts; i-- > 0;)
		if (bd->parts[i].part == part)
			return bd->parts[i].b;
	if (bd->nparts == bd->cap) {
		uint32_t cap = bd->cap ? bd->cap * 2 : 8;
		struct part_builder *m = realloc(bd->parts, cap * sizeof(*m));
		if (!m)
			return NULL;
		bd->parts = m;
		bd->cap = cap;
	}
	struct st_block_build_cfg cfg = {
		.shard_id = bd->st->cfg.shard_id,
		.part_start_ns = part,
		.part_end_ns = part + bd->st->cfg.partition_ns,
		.zstd_level = bd->tier->zstd_level,
		.chunk_points = bd->st->cfg.block_chunk_points,
		.chunk_span_ns = bd->st->cfg.block_chunk_span_ns,
		.section_bytes = 0, /* the builder's default (64 KiB): measured in docs/formats/block.md */
	};
	struct part_builder *pb = &bd->parts[bd->nparts];
	if (st_block_builder_create(&cfg, &pb->b))
		return NULL;
	pb->part = part;
	bd->nparts++;
	return pb->b;
}

/* Add a series' sorted points, split at partition boundaries. */
static int build_add(struct build *bd, uint32_t id, enum st_value_type vt, const int64_t *ts,
		     const uint64_t *vals, size_t n)
{
	int64_t span = bd->st->cfg.partition_ns;
	size_t i = 0;
	while (i < n) {
		int64_t part = cm_floor_div(ts[i], span) * span;
		size_t j = i + 1;
		while (j < n && ts[j] < part + span)
			j++;
		struct st_block_builder *b = builder_for(bd, part);
		if (!b)
			return -ENOMEM;
		int rc = st_block_builder_add(b, id, vt, ts + i, vals + i, j - i);
		if (rc)
			return rc;
		i = j;
	}
	return 0;
}

/* Free the builders (those build_finish left) and the partition list. */
static void build_abort(struct build *bd)
{
	for (uint32_t i = 0; i < bd->nparts; i++)
		st_block_builder_destroy(bd->parts[i].b);
	bd->nparts = 0;
	free(bd->parts);
	bd->parts = NULL;
	bd->cap = 0;
}

/*
 * Finish every builder, put its block into the tier, open it. The blocks
 * made go to *out (malloc'd, the caller frees the array), even on error.
 */
static int build_finish(struct build *bd, struct st_blk ***outp, uint32_t *nout, uint64_t *bytes)
{
	struct st_store *st = bd->st;
	int rc = 0;
	*nout = 0;
	*bytes = 0;
	struct st_blk **out = *outp = calloc(bd->nparts ? bd->nparts : 1, sizeof(*out));
	if (!out) {
		build_abort(bd);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < bd->nparts; i++) {
		struct part_builder *pb = &bd->parts[i];
		uint8_t *img = NULL;
		size_t len = 0;
		if (!rc)
			rc = st_block_builder_finish(pb->b, &img, &len);
		st_block_builder_destroy(pb->b);
		pb->b = NULL;
		if (rc) {
			free(img);
			continue;
		}
		char name[64];
		snprintf(name, sizeof(name), "p%lld-g%llu.blk", (long long)pb->part,
			 (unsigned long long)st->next_gen++);
		rc = bd->tier->ops->put(bd->tier, name, img, len);
		free(img);
		if (rc) {
			CM_LOG_RL(CM_LOG_ERR, "flush", "event=block_put_failed shard=%u tier=%s err=%d",
				  st->cfg.shard_id, bd->tier->name, rc);
			continue;
		}
		rc = st_store_blk_open(st, bd->tier, name, false, &out[*nout]);
		if (rc)
			continue;
		*bytes += len;
		(*nout)++;
	}
	build_abort(bd);
	return rc;
}


/*
 * Drop from p, points of series id, those past retention (all of them when
 * the series is deleted); returns how many went.
 */
static size_t drop_expired(const struct st_store *st, uint32_t id, int64_t now_ns,
			   struct st_points *p)
{
	int64_t cutoff;
	if (st_store_expiry(st, id, now_ns, &cutoff)) {
		size_t gone = p->n;
		p->n = 0;
		return gone;
	}
	size_t gone = 0;
	while (gone < p->n && p->ts[gone] < cutoff)
		gone++;
	if (gone) {
		memmove(p->ts, p->ts + gone, (p->n - gone) * sizeof(*p->ts));
		memmove(p->vals, p->vals + gone, (p->n - gone) * sizeof(*p->vals));
		p->n -= gone;
	}
	return gone;
}

/* ============================================================= checkpoint */

static int ensure_flushed(struct st_store *st, uint32_t n)
{
	if (n <= st->flushed_cap)
		return 0;
	uint32_t cap = CM_MAX(n, st->flushed_cap * 2);
	struct st_shard_sealed *m = realloc(st->flushed, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(m + st->flushed_cap, 0, (cap - st->flushed_cap) * sizeof(*m));
	st->flushed = m;
	st->flushed_cap = cap;
	return 0;
}

/* Drop blocks made but not published: they are duplicates, safe to lose. */
static void unmake(struct st_blk **made, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		st_store_blk_free(made[i]);
	free(made);
}

/* Make the catalog hold every series below n before any block names them. */
static int catalog_sync(struct st_store *st, uint32_t n)
{
	int rc = 0;
	for (uint32_t id = st_catalog_count(st->cat); !rc && id < n; id++) {
		uint32_t keylen;
		enum st_value_type vt;
		const uint8_t *key = st_shard_series_key(st->shard, id, &keylen, &vt);
		rc = st_catalog_append(st->cat, id, (uint8_t)vt, key, (uint16_t)keylen);
	}
	return rc ? rc : st_catalog_sync(st->cat);
}

/*
 * One checkpoint. Order matters for crash safety (docs/DURABILITY.md): the
 * owner seals (lsn L), the catalog is synced, blocks are written and
 * published, CHECKPOINT(L) is written, then the WAL may be trimmed and the
 * owner frees the flushed chunks. L is 0 when a seal found no memory: the
 * checkpoint then frees memory but covers no WAL.
 */
static int checkpoint(struct st_flush *f, struct st_store *st, int64_t now_ns)
{
	int64_t t0 = cm_mono_ns();
	/* a request the owner has not answered (a timeout) still uses st->flushed */
	if (atomic_load(&st->ckpt_req) > atomic_load(&st->ckpt_done) ||
	    atomic_load(&st->rel_req) > atomic_load(&st->rel_done))
		return -EBUSY;
	/* 1. the owner seals everything; L covers every point before the seal */
	uint64_t req = atomic_load(&st->ckpt_req) + 1;
	atomic_store_explicit(&st->ckpt_req, req, memory_order_release);
	int rc = wait_owner(&st->ckpt_done, req);
	if (rc)
		return rc;
	uint64_t lsn = atomic_load_explicit(&st->ckpt_lsn, memory_order_relaxed);
	uint32_t n = st_shard_series_count(st->shard);
	rc = ensure_flushed(st, n);
	if (!rc)
		rc = catalog_sync(st, n);
	if (rc)
		goto fail;
	struct st_shard_sealed *upto = malloc((n ? n : 1) * sizeof(*upto));
	if (!upto) {
		rc = -ENOMEM;
		goto fail;
	}

	/* 2. sealed chunks into blocks, a partition per block */
	struct build bd = {.st = st, .tier = st->warm};
	struct st_points pts;
	st_points_init(&pts);
	uint64_t expired = 0;
	for (uint32_t id = 0; id < n && !rc; id++) {
		pts.n = 0;
		enum st_value_type vt;
		st_read_begin(f->rcu, f->reader);
		st_shard_series_key(st->shard, id, NULL, &vt);
		rc = st_shard_read_sealed(st->shard, id, &st->flushed[id], &pts, &upto[id]);
		st_read_end(f->rcu, f->reader);
		if (rc < 0)
			break;
		rc = 0;
		expired += drop_expired(st, id, now_ns, &pts);
		if (pts.n)
			rc = build_add(&bd, id, vt, pts.ts, pts.vals, pts.n);
	}
	st_points_release(&pts);
	struct st_blk **made = NULL;
	uint32_t nmade = 0;
	uint64_t bytes = 0;
	if (rc)
		build_abort(&bd);
	else
		rc = build_finish(&bd, &made, &nmade, &bytes);
	if (!rc && nmade)
		rc = set_replace(st, NULL, 0, made, nmade);
	if (rc) {
		unmake(made, nmade);
		free(upto);
		goto fail;
	}
	free(made);
	/* 3. the checkpoint record, then the WAL may go */
	if (lsn) {
		rc = st_store_ckpt_write(st, lsn, n);
		if (rc) {
			free(upto);
			goto fail;
		}
		if (st->wal)
			st_wal_checkpoint(st->wal, lsn);
		atomic_store(&st->ctr.checkpoint_lsn, lsn);
	} else if (st->wal) {
		CM_LOG_WARN("flush", "event=checkpoint_partial shard=%u reason=seal_without_memory "
			    "action=blocks_written_wal_kept", st->cfg.shard_id);
	}
	atomic_fetch_add(&st->ctr.checkpoints, 1);

	/* 4. the owner frees what the blocks now hold */
	memcpy(st->flushed, upto, n * sizeof(*upto));
	free(upto);
	st->rel_arr = st->flushed;
	st->rel_n = n;
	req = atomic_load(&st->rel_req) + 1;
	/* release: rel_arr and rel_n before the request (owner acquires) */
	atomic_store_explicit(&st->rel_req, req, memory_order_release);
	rc = wait_owner(&st->rel_done, req);

	atomic_fetch_add(&f->ctr.checkpoints, 1);
	atomic_fetch_add(&f->ctr.blocks_written, nmade);
	atomic_fetch_add(&f->ctr.block_bytes_written, bytes);
	atomic_fetch_add(&f->ctr.points_expired, expired);
	atomic_store(&f->ctr.last_checkpoint_ns, cm_mono_ns() - t0);
	CM_LOG_INFO("flush", "event=checkpoint shard=%u lsn=%llu series=%u blocks=%u bytes=%llu ms=%lld",
		    st->cfg.shard_id, (unsigned long long)lsn, n, nmade, (unsigned long long)bytes,
		    (long long)((cm_mono_ns() - t0) / CM_NS_PER_MS));
	return rc;
fail:
	atomic_fetch_add(&f->ctr.checkpoint_failures, 1);
	CM_LOG_RL(CM_LOG_ERR, "flush", "event=checkpoint_failed shard=%u err=%d", st->cfg.shard_id,
		  rc);
	return rc;
}

/* ======================================================= partition rewrite */

/*
 * Merge the blocks in[0..n) of one partition (oldest generation first) into
 * one block in tier `to`, dropping points past retention; the inputs leave
 * the set. With nothing left, the inputs just go.
 */
static int rewrite_partition(struct st_flush *f, struct st_store *st, struct st_blk **in,
			     uint32_t n, struct st_tier *to, int64_t now_ns)
{
	struct build bd = {.st = st, .tier = to};
	struct st_points all, one;
	st_points_init(&all);
	st_points_init(&one);
	uint32_t *cursor = calloc(n, sizeof(*cursor));
	int rc = cursor ? 0 : -ENOMEM;
	uint64_t expired = 0;
	/* Walk the union of series ids in order: each block lists its ids sorted. */
	for (;;) {
		uint32_t id = UINT32_MAX;
		for (uint32_t i = 0; !rc && i < n; i++) {
			if (cursor[i] < st_block_series_count(in[i]->b)) {
				uint32_t sid;
				enum st_value_type vt;
				st_block_series_at(in[i]->b, cursor[i], &sid, &vt);
				id = CM_MIN(id, sid);
			}
		}
		if (rc || id == UINT32_MAX)
			break;
		enum st_value_type vt = ST_VT_F64;
		all.n = 0;
		/* oldest generation first: each merged over the ones before */
		for (uint32_t i = 0; i < n && !rc; i++) {
			if (cursor[i] >= st_block_series_count(in[i]->b))
				continue;
			uint32_t sid;
			enum st_value_type v;
			st_block_series_at(in[i]->b, cursor[i], &sid, &v);
			if (sid != id)
				continue;
			cursor[i]++;
			vt = v;
			one.n = 0;
			int r = st_block_read(in[i]->b, id, INT64_MIN, INT64_MAX, &one);
			if (r < 0) {
				rc = r;
				if (r == -EBADMSG)
					atomic_store(&in[i]->bad, 1);
				break;
			}
			if (st_points_merge_newer(&all, 0, &one)) {
				rc = -ENOMEM;
				break;
			}
		}
		if (rc)
			break;
		expired += drop_expired(st, id, now_ns, &all);
		if (all.n)
			rc = build_add(&bd, id, vt, all.ts, all.vals, all.n);
	}
	free(cursor);
	st_points_release(&all);
	st_points_release(&one);
	struct st_blk **made = NULL;
	uint32_t nmade = 0;
	uint64_t bytes = 0;
	if (rc) {
		build_abort(&bd);
		return rc;
	}
	rc = build_finish(&bd, &made, &nmade, &bytes);
	if (!rc)
		rc = set_replace(st, in, n, made, nmade);
	if (rc) {
		for (uint32_t i = 0; i < nmade; i++)
			made[i]->tier->ops->remove(made[i]->tier, made[i]->name);
		unmake(made, nmade);
		return rc;
	}
	free(made);
	for (uint32_t i = 0; i < n; i++)
		blk_retire(st, in[i], true);
	atomic_fetch_add(&f->ctr.partitions_rewritten, 1);
	atomic_fetch_add(&f->ctr.blocks_deleted, n);
	atomic_fetch_add(&f->ctr.blocks_written, nmade);
	atomic_fetch_add(&f->ctr.block_bytes_written, bytes);
	atomic_fetch_add(&f->ctr.points_expired, expired);
	return 0;
}

/* Does block b hold points past retention (per series: its first time) or deleted? */
static bool blk_has_expired(const struct st_store *st, const struct st_blk *b, int64_t now_ns)
{
	uint32_t ns = st_block_series_count(b->b);
	for (uint32_t i = 0; i < ns; i++) {
		uint32_t id;
		enum st_value_type vt;
		st_block_series_at(b->b, i, &id, &vt);
		const struct st_block_summary *sum;
		uint32_t nsum;
		if (st_block_summaries(b->b, id, &sum, &nsum) || !nsum)
			continue;
		int64_t cutoff;
		if (st_store_expiry(st, id, now_ns, &cutoff) || sum[0].t_min < cutoff)
			return true;
	}
	return false;
}

/*
 * Retention rewrites at most this often: reads hide expired points at once;
 * disk space follows within the hour instead of recompressing a partition
 * that straddles the cutoff at every checkpoint.
 */
#define RETENTION_EVERY_NS (3600 * CM_NS_PER_SEC)

/* Decide, partition by partition, what to rewrite; one rewrite per call. */
static int maintain_partitions(struct st_flush *f, struct st_store *st, int64_t now_ns,
			       bool retention)
{
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_relaxed);
	if (!set)
		return 0;
	/* the cold disk has its own floor: below it, partitions stay warm */
	uint64_t cold_free = 0, cold_total;
	bool cold_ok = st->cold && st->cold->ops->space(st->cold, &cold_free, &cold_total) == 0 &&
		       cold_free >= f->cfg.min_free_bytes;
	for (uint32_t i = 0; i < set->n;) {
		uint32_t j = i;
		while (j < set->n && set->items[j]->part == set->items[i]->part)
			j++;
		struct st_blk **in = (struct st_blk **)&set->items[i];
		uint32_t n = j - i;
		int64_t part_end = in[0]->part + st->cfg.partition_ns;
		bool to_cold = cold_ok && part_end <= now_ns - f->cfg.cold_after_ns;
		bool all_cold = true, expired = false;
		for (uint32_t k = 0; k < n; k++) {
			all_cold &= in[k]->tier == st->cold;
			expired |= retention && blk_has_expired(st, in[k], now_ns);
		}
		bool closed = part_end + st->cfg.shard.ooo_window_ns < now_ns;
		bool compact = n >= f->cfg.compact_blocks || (closed && n > 1);
		bool move = to_cold && !all_cold;
		if (compact || move || expired) {
			/* (all_cold: the blocks are in st->cold, so it exists) */
			struct st_tier *to = to_cold || all_cold ? st->cold : st->warm;
			/* copy: the set may be replaced under us by the rewrite */
			struct st_blk **copy = malloc(n * sizeof(*copy));
			if (!copy)
				return -ENOMEM;
			memcpy(copy, in, n * sizeof(*copy));
			int rc = rewrite_partition(f, st, copy, n, to, now_ns);
			free(copy);
			return rc ? rc : 1;
		}
		i = j;
	}
	return 0;
}

/* ================================================================ service */

static void quarantine_bad(struct st_flush *f, struct st_store *st)
{
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_relaxed);
	for (uint32_t i = 0; set && i < set->n; i++) {
		struct st_blk *b = set->items[i];
		if (!atomic_load_explicit(&b->bad, memory_order_relaxed))
			continue;
		if (set_replace(st, &b, 1, NULL, 0))
			return;
		b->tier->ops->quarantine(b->tier, b->name);
		blk_retire(st, b, false);
		atomic_fetch_add(&st->ctr.blocks_quarantined, 1);
		atomic_fetch_add(&f->ctr.blocks_quarantined, 1);
		return; /* the set changed: again next pass */
	}
}

static void check_space(struct st_flush *f, struct st_store *st)
{
	uint64_t free_b, total;
	if (st->warm->ops->space(st->warm, &free_b, &total))
		return;
	bool low = free_b < f->cfg.min_free_bytes;
	bool was = atomic_load(&st->disk_low);
	if (low != was) {
		atomic_store(&st->disk_low, low);
		CM_LOG_WARN("flush", "event=%s shard=%u free_bytes=%llu floor=%llu",
			    low ? "disk_low_writes_refused" : "disk_ok_writes_resumed",
			    st->cfg.shard_id, (unsigned long long)free_b,
			    (unsigned long long)f->cfg.min_free_bytes);
	}
}

void st_flush_service_now(struct st_flush *f, struct st_store *st)
{
	if (st->wal)
		st_wal_service(st->wal);
	check_space(f, st);
	quarantine_bad(f, st);
	reclaim(st);
}

int st_flush_store_now(struct st_flush *f, struct st_store *st, int64_t now_ns)
{
	st_flush_service_now(f, st);
	if (atomic_load(&st->disk_low))
		return -ENOSPC;
	int rc = checkpoint(f, st, now_ns);
	if (st->wal)
		st_wal_service(st->wal);
	bool due = atomic_exchange(&st->rewrite_due, false);
	bool retention = due || now_ns - st->last_retention_ns >= RETENTION_EVERY_NS;
	bool more = !rc; /* rewrites left after this pass's 64 */
	for (int i = 0; !rc && i < 64; i++) {
		int r = maintain_partitions(f, st, now_ns, retention);
		if (r <= 0) {
			rc = r;
			more = false;
			break;
		}
	}
	if (retention && !rc)
		st->last_retention_ns = now_ns;
	/* a rewrite asked for (st_store_rewrite_soon) and not finished: at the next pass */
	if (due && (rc || more))
		atomic_store(&st->rewrite_due, true);
	reclaim(st);
	return rc;
}

static bool memory_high(const struct st_flush *f, const struct st_store *st)
{
	struct st_shard_stats s;
	st_shard_stats_read(st->shard, &s);
	return s.memory_used_bytes * 100 > (uint64_t)f->cfg.memory_pct * st->cfg.shard.memory_limit_bytes;
}

static void *flush_main(void *arg)
{
	struct st_flush *f = arg;
	while (!atomic_load(&f->stop)) {
		int64_t mono = cm_mono_ns();
		for (uint32_t i = 0; i < f->nstores; i++) {
			struct st_store *st = f->stores[i];
			st_flush_service_now(f, st);
			if (atomic_load(&st->disk_low))
				continue;
			if (mono >= f->next_flush[i] || memory_high(f, st)) {
				f->next_flush[i] = mono + f->cfg.interval_ns;
				st_flush_store_now(f, st, cm_now_ns());
			}
		}
		cm_sleep_ns(f->cfg.tick_ns);
	}
	return NULL;
}

/* ============================================================ lifecycle */

int st_flush_create(const struct st_flush_cfg *cfg, struct st_rcu *rcu, struct st_store **stores,
		    uint32_t nstores, struct st_flush **out)
{
	struct st_flush *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->rcu = rcu;
	f->stores = stores;
	f->nstores = nstores;
	f->next_flush = calloc(nstores ? nstores : 1, sizeof(*f->next_flush));
	f->reader = st_rcu_reader_register(rcu);
	if (!f->next_flush || f->reader < 0) {
		int rc = f->reader < 0 ? f->reader : -ENOMEM;
		if (f->reader >= 0)
			st_rcu_reader_unregister(rcu, f->reader);
		free(f->next_flush);
		free(f);
		return rc;
	}
	int64_t now = cm_mono_ns();
	for (uint32_t i = 0; i < nstores; i++)
		f->next_flush[i] = now + cfg->interval_ns;
	*out = f;
	return 0;
}

int st_flush_start(struct st_flush *f)
{
	atomic_store(&f->stop, false);
	int rc = pthread_create(&f->thread, NULL, flush_main, f);
	if (rc)
		return -rc;
	pthread_setname_np(f->thread, "sf-flush");
	f->running = true;
	return 0;
}

void st_flush_stop(struct st_flush *f)
{
	if (!f || !f->running)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	f->running = false;
}

void st_flush_destroy(struct st_flush *f)
{
	if (!f)
		return;
	st_flush_stop(f);
	st_rcu_reader_unregister(f->rcu, f->reader);
	free(f->next_flush);
	free(f);
}

void st_flush_stats_read(const struct st_flush *f, struct st_flush_stats *out)
{
	out->checkpoints = atomic_load(&f->ctr.checkpoints);
	out->checkpoint_failures = atomic_load(&f->ctr.checkpoint_failures);
	out->blocks_written = atomic_load(&f->ctr.blocks_written);
	out->block_bytes_written = atomic_load(&f->ctr.block_bytes_written);
	out->partitions_rewritten = atomic_load(&f->ctr.partitions_rewritten);
	out->blocks_deleted = atomic_load(&f->ctr.blocks_deleted);
	out->points_expired = atomic_load(&f->ctr.points_expired);
	out->blocks_quarantined = atomic_load(&f->ctr.blocks_quarantined);
	out->last_checkpoint_ns = atomic_load(&f->ctr.last_checkpoint_ns);
}
