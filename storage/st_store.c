/*
 * st_store.c - a shard's durable store: open and recovery, the owner's write
 * path and request service, and the tier-spanning read (contract in
 * st_store.h; the flusher's side is st_flush.c).
 *
 * Usage profile: st_store_insert_burst at the shard's full ingest rate (it
 * adds three array stores per point to the shard insert); st_store_poll a
 * few hundred thousand times per second on a poll-mode core;
 * st_store_read a few times per second per series from query threads.
 */
#include "st_store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "cm_fs.h"
#include "cm_log.h"
#include "st_scache.h"
#include "st_series.h"

/* ================================================================ config */

static const struct cm_cfg_key store_keys[] = {
	{"storage.partition", CM_CFG_DURATION, "1d", 3600 * CM_NS_PER_SEC,
	 366 * 86400 * CM_NS_PER_SEC, NULL, false,
	 "time partition of block files (a multiple of shard.chunk_span is best)"},
	{"storage.flush_interval", CM_CFG_DURATION, "5m", CM_NS_PER_SEC, 86400 * CM_NS_PER_SEC,
	 NULL, false, "checkpoint period: hot chunks go to blocks and the WAL is trimmed"},
	{"storage.flush_memory", CM_CFG_INT, "50", 1, 95, NULL, false,
	 "checkpoint early when a shard uses this percentage of shard.memory_limit"},
	{"storage.compact_blocks", CM_CFG_INT, "4", 2, 1024, NULL, false,
	 "merge a partition's blocks when it has this many"},
	{"storage.warm_zstd_level", CM_CFG_INT, "1", 1, 19, NULL, false,
	 "zstd level of blocks in the warm tier (the data directory)"},
	{"storage.cold_dir", CM_CFG_STR, "", 0, 0, NULL, false,
	 "cold tier directory (e.g. a cheaper mount); empty: no cold tier"},
	{"storage.cold_after", CM_CFG_DURATION, "7d", 3600 * CM_NS_PER_SEC,
	 100LL * 366 * 86400 * CM_NS_PER_SEC, NULL, false,
	 "partitions that ended this long ago move to the cold tier"},
	{"storage.cold_zstd_level", CM_CFG_INT, "19", 1, 22, NULL, false,
	 "zstd level of blocks in the cold tier"},
	{"storage.retention", CM_CFG_DURATION, "0", 0, 100LL * 366 * 86400 * CM_NS_PER_SEC, NULL,
	 false, "default retention; 0 keeps data forever"},
	{"storage.retention_rules", CM_CFG_STR, "", 0, 0, NULL, false,
	 "per-measurement retention, e.g. \"cpu=7d,mem=30d\" (overrides storage.retention)"},
	{"storage.min_free", CM_CFG_SIZE, "256MiB", 0, INT64_MAX, NULL, false,
	 "below this much free space a disk takes no more writes (reads go on)"},
	{"storage.block_chunk_points", CM_CFG_INT, "1024", 16, 65536, NULL, false,
	 "points per block chunk (the unit of summaries and of decoding)"},
	{"storage.block_chunk_span", CM_CFG_DURATION, "1h", 0, 7 * 86400 * CM_NS_PER_SEC, NULL, false,
	 "block chunks end at multiples of this span, so GROUP BY time buckets of whole multiples "
	 "of it are answered from chunk summaries; 0: chunks end by point count only"},
	{"storage.section_cache", CM_CFG_SIZE, "64MiB", 0, INT64_MAX, NULL, false,
	 "per shard: decompressed block data sections kept for queries (least recently used "
	 "out first); 0: off, every read decompresses"},
	{"storage.verify_on_open", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "read and check every block section at start (damaged blocks are quarantined)"},
};

const struct cm_cfg_table st_store_cfg_table = {
	.module = "storage",
	.keys = store_keys,
	.nkeys = CM_ARRAY_SIZE(store_keys),
};

void st_store_cfg_default(struct st_store_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->numa_node = -1;
	cfg->ops = &st_io_posix;
	st_shard_cfg_default(&cfg->shard);
	st_wal_cfg_default(&cfg->wal);
	cfg->partition_ns = 86400 * CM_NS_PER_SEC;
	cfg->warm_zstd_level = 1;
	cfg->cold_zstd_level = 19;
	cfg->block_chunk_points = 1024;
	cfg->block_chunk_span_ns = 3600 * CM_NS_PER_SEC;
	cfg->section_cache_bytes = 64u << 20;
	cfg->verify_on_open = true;
}

int st_store_cfg_from(const struct cm_config *config, struct st_store_cfg *cfg, char *err,
		      size_t errlen)
{
	st_shard_cfg_from(config, &cfg->shard);
	st_wal_cfg_from(config, &cfg->wal);
	cfg->partition_ns = cm_config_int(config, "storage.partition");
	cfg->warm_zstd_level = (int)cm_config_int(config, "storage.warm_zstd_level");
	cfg->cold_zstd_level = (int)cm_config_int(config, "storage.cold_zstd_level");
	cfg->block_chunk_points = (uint32_t)cm_config_int(config, "storage.block_chunk_points");
	cfg->block_chunk_span_ns = cm_config_int(config, "storage.block_chunk_span");
	cfg->section_cache_bytes = (size_t)cm_config_int(config, "storage.section_cache");
	cfg->verify_on_open = cm_config_bool(config, "storage.verify_on_open");
	cfg->retention.default_ns = cm_config_int(config, "storage.retention");
	cfg->retention.nrules = 0;
	return st_retention_parse(cm_config_str(config, "storage.retention_rules"), &cfg->retention,
				  err, errlen);
}

int st_retention_parse(const char *spec, struct st_retention *r, char *err, size_t errlen)
{
	const char *p = spec;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		char dur[32];
		if (!eq || eq == p || (size_t)(eq - p) >= sizeof(r->rules[0].measurement) ||
		    len - (size_t)(eq - p) - 1 >= sizeof(dur) || r->nrules >= ST_RETENTION_RULES_MAX) {
			snprintf(err, errlen, "bad retention rule \"%.*s\": want measurement=duration",
				 (int)len, p);
			return -EINVAL;
		}
		memcpy(dur, eq + 1, len - (size_t)(eq - p) - 1);
		dur[len - (size_t)(eq - p) - 1] = 0;
		int64_t ns;
		if (cm_parse_duration_ns(dur, &ns) || ns < 0) {
			snprintf(err, errlen, "bad retention duration \"%s\"", dur);
			return -EINVAL;
		}
		memcpy(r->rules[r->nrules].measurement, p, (size_t)(eq - p));
		r->rules[r->nrules].measurement[eq - p] = 0;
		r->rules[r->nrules].keep_ns = ns;
		r->nrules++;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

int64_t st_retention_for(const struct st_retention *r, const char *m, size_t len)
{
	for (uint32_t i = 0; i < r->nrules; i++)
		if (strlen(r->rules[i].measurement) == len && !memcmp(r->rules[i].measurement, m, len))
			return r->rules[i].keep_ns;
	return r->default_ns;
}

/* The measurement name of series local_id; false when its key cannot be read. */
static bool series_name(const struct st_store *st, uint32_t local_id, struct st_str *name)
{
	uint32_t keylen;
	const uint8_t *key = st_shard_series_key(st->shard, local_id, &keylen, NULL);
	struct st_key_view v;
	if (!key || st_key_parse(key, keylen, &v))
		return false;
	*name = v.name;
	return true;
}

/* Retention's cutoff for a series named name. */
static int64_t cutoff_of(const struct st_retention *r, struct st_str name, int64_t now_ns)
{
	int64_t keep = st_retention_for(r, name.p, name.len);
	return keep ? now_ns - keep : INT64_MIN;
}

int64_t st_store_cutoff(const struct st_store *st, uint32_t local_id, int64_t now_ns)
{
	const struct st_retention *r = &st->cfg.retention;
	struct st_str name;
	if ((!r->default_ns && !r->nrules) || !series_name(st, local_id, &name))
		return INT64_MIN;
	return cutoff_of(r, name, now_ns);
}

void st_store_set_deleted(struct st_store *st, st_deleted_fn fn, void *arg)
{
	atomic_store_explicit(&st->deleted_arg, arg, memory_order_release);
	atomic_store_explicit(&st->deleted, fn, memory_order_release);
}

void st_store_rewrite_soon(struct st_store *st)
{
	atomic_store_explicit(&st->rewrite_due, true, memory_order_release);
}

bool st_store_expiry(const struct st_store *st, uint32_t local_id, int64_t now_ns,
		     int64_t *cutoff)
{
	const struct st_retention *r = &st->cfg.retention;
	st_deleted_fn fn = atomic_load_explicit(&st->deleted, memory_order_acquire);
	struct st_str name;
	*cutoff = INT64_MIN;
	if ((!fn && !r->default_ns && !r->nrules) || !series_name(st, local_id, &name))
		return false;
	if (fn && fn(atomic_load_explicit(&st->deleted_arg, memory_order_acquire), name))
		return true;
	if (r->default_ns || r->nrules)
		*cutoff = cutoff_of(r, name, now_ns);
	return false;
}

/* ================================================================ blocks */

/* Parse "p<part>-g<gen>.blk" (the names build_finish in st_flush.c gives). */
static bool blk_name_parse(const char *name, int64_t *part, uint64_t *gen)
{
	long long p;
	unsigned long long g;
	char tail[8];
	if (sscanf(name, "p%lld-g%llu.%7s", &p, &g, tail) != 3 || strcmp(tail, "blk"))
		return false;
	*part = (int64_t)p;
	*gen = g;
	return true;
}

void st_store_blk_free(struct st_blk *b)
{
	if (!b)
		return;
	st_block_close(b->b);
	if (b->obj)
		b->tier->ops->close(b->obj);
	free(b);
}

/* st_block_open's read callback: through the block's tier (any thread). */
static int blk_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct st_blk *b = ctx;
	return b->tier->ops->read(b->obj, off, buf, len);
}

int st_store_blk_open(struct st_store *st, struct st_tier *tier, const char *name, bool verify,
		      struct st_blk **out)
{
	struct st_blk *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	char err[160] = "";
	b->tier = tier;
	snprintf(b->name, sizeof(b->name), "%s", name);
	if (!blk_name_parse(name, &b->part, &b->gen)) {
		free(b);
		return -EINVAL;
	}
	int rc = tier->ops->open(tier, name, &b->obj, &b->bytes);
	if (!rc)
		rc = st_block_open(b->bytes, blk_read, b, &b->b, err, sizeof(err));
	if (!rc && verify)
		rc = st_block_verify(b->b, err, sizeof(err));
	if (rc) {
		CM_LOG_ERR("store", "event=block_bad tier=%s block=%s err=%d reason=\"%s\"",
			   tier->name, name, rc, err);
		st_store_blk_free(b);
		return rc;
	}
	st_block_get_info(b->b, &b->info);
	st_block_set_cache(b->b, st->scache);
	*out = b;
	return 0;
}

static int blk_cmp(const void *a, const void *b)
{
	const struct st_blk *x = *(struct st_blk *const *)a, *y = *(struct st_blk *const *)b;
	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

void st_store_publish_blocks(struct st_store *st, struct st_blockset *set)
{
	qsort(set->items, set->n, sizeof(set->items[0]), blk_cmp);
	/* release: pairs with the acquire in st_store_read */
	struct st_blockset *old = atomic_exchange_explicit(&st->blocks, set, memory_order_acq_rel);
	if (!old)
		return;
	if (st->nretired_sets == CM_ARRAY_SIZE(st->retired_sets)) {
		/* full: wait for readers here (flusher thread; readers are short) */
		while (!st_rcu_done(st->cfg.rcu, st->retired_set_tokens[0]))
			;
		free(st->retired_sets[0]);
		memmove(st->retired_sets, st->retired_sets + 1,
			sizeof(st->retired_sets[0]) * (--st->nretired_sets));
		memmove(st->retired_set_tokens, st->retired_set_tokens + 1,
			sizeof(st->retired_set_tokens[0]) * st->nretired_sets);
	}
	st->retired_sets[st->nretired_sets] = old;
	st->retired_set_tokens[st->nretired_sets++] = st_rcu_start(st->cfg.rcu);
}

/* ============================================================== recovery */

static int restore_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key,
			  uint16_t keylen)
{
	struct st_store *st = ctx;
	uint32_t n = st_shard_series_count(st->shard);
	if (id < n) {
		/* already known (catalog, or an earlier record): it must agree */
		uint32_t kl;
		const uint8_t *k = st_shard_series_key(st->shard, id, &kl, NULL);
		if (kl != keylen || memcmp(k, key, keylen)) {
			CM_LOG_ERR("store", "event=series_mismatch shard=%u id=%u", st->cfg.shard_id, id);
			return -EBADMSG;
		}
		return 0;
	}
	int rc = st_shard_series_restore(st->shard, id, key, keylen, (enum st_value_type)vtype);
	if (rc)
		CM_LOG_ERR("store", "event=series_restore_failed shard=%u id=%u next=%u err=%d",
			   st->cfg.shard_id, id, n, rc);
	return rc;
}

struct replay_ctx {
	struct st_store *st;
	uint64_t rejected;
};

static int replay_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key,
			 uint16_t keylen)
{
	struct replay_ctx *r = ctx;
	return restore_series(r->st, id, vtype, key, keylen);
}

static int replay_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
			 const uint64_t *vals, uint32_t n)
{
	struct replay_ctx *r = ctx;
	(void)lsn;
	for (uint32_t i = 0; i < n; i++) {
		enum st_insert_status s = st_shard_insert_id(r->st->shard, ids[i], ts[i], vals[i]);
		if (s > ST_INS_OOO)
			r->rejected++;
		if ((i & 1023) == 1023)
			st_shard_maintain(r->st->shard);
	}
	return 0;
}

/* The CHECKPOINT file: the lsn up to which every point is in a durable block. */
struct ckpt_file {
	uint64_t magic;
	uint64_t lsn;
	uint32_t series;
	uint32_t crc;
};
#define CKPT_MAGIC 0x54504b4357464653ull /* "SFFWCKPT" */

static int ckpt_read(struct st_store *st, uint64_t *lsn)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/CHECKPOINT", st->dir);
	*lsn = 0;
	int fd = st->cfg.ops->open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	struct ckpt_file c;
	ssize_t n = st->cfg.ops->pread(fd, &c, sizeof(c), 0);
	st->cfg.ops->close(fd);
	if (n != (ssize_t)sizeof(c) || c.magic != CKPT_MAGIC ||
	    c.crc != cm_crc32c(0, &c, offsetof(struct ckpt_file, crc))) {
		CM_LOG_ERR("store", "event=checkpoint_bad shard=%u action=replay_all_wal",
			   st->cfg.shard_id);
		return 0;
	}
	*lsn = c.lsn;
	return 0;
}

int st_store_ckpt_write(struct st_store *st, uint64_t lsn, uint32_t series)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/CHECKPOINT.tmp", st->dir);
	snprintf(path, sizeof(path), "%s/CHECKPOINT", st->dir);
	struct ckpt_file c = {.magic = CKPT_MAGIC, .lsn = lsn, .series = series};
	c.crc = cm_crc32c(0, &c, offsetof(struct ckpt_file, crc));
	const struct st_io_ops *ops = st->cfg.ops;
	int fd = ops->open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fd;
	ssize_t n = ops->pwrite(fd, &c, sizeof(c), 0);
	int rc = n == (ssize_t)sizeof(c) ? ops->fdatasync(fd) : (n < 0 ? (int)n : -EIO);
	ops->close(fd);
	if (!rc)
		rc = ops->rename(tmp, path);
	if (!rc)
		rc = ops->fsync_dir(st->dir);
	return rc;
}

struct load_ctx {
	struct st_store *st;
	struct st_tier *tier;
	struct st_blk **items;
	uint32_t n, cap;
	uint64_t quarantined;
};

static int load_block(void *ctx, const char *name, uint64_t len)
{
	struct load_ctx *l = ctx;
	int64_t part;
	uint64_t gen;
	(void)len;
	if (!blk_name_parse(name, &part, &gen))
		return 0;
	struct st_blk *b;
	int rc = st_store_blk_open(l->st, l->tier, name, l->st->cfg.verify_on_open, &b);
	if (rc == -EBADMSG) {
		/* damaged: set aside; anything else (EMFILE, ENOMEM, EIO) fails the open */
		l->tier->ops->quarantine(l->tier, name);
		l->quarantined++;
		return 0;
	}
	if (rc)
		return rc;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 64;
		struct st_blk **m = realloc(l->items, cap * sizeof(*m));
		if (!m) {
			st_store_blk_free(b);
			return -ENOMEM;
		}
		l->items = m;
		l->cap = cap;
	}
	l->items[l->n++] = b;
	if (gen >= l->st->next_gen)
		l->st->next_gen = gen + 1;
	return 0;
}

static int open_tiers_and_blocks(struct st_store *st, struct st_store_recovery *rec)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/blocks", st->dir);
	int rc = st_tier_dir_create(path, ST_TIER_WARM, st->cfg.warm_zstd_level, st->cfg.ops,
				    &st->warm);
	if (!rc && st->cold_dir[0]) {
		snprintf(path, sizeof(path), "%s/blocks", st->cold_dir);
		rc = st_tier_dir_create(path, ST_TIER_COLD, st->cfg.cold_zstd_level, st->cfg.ops,
					&st->cold);
	}
	if (rc)
		return rc;
	struct load_ctx l = {.st = st, .tier = st->warm};
	rc = st->warm->ops->list(st->warm, load_block, &l);
	if (!rc && st->cold) {
		l.tier = st->cold;
		rc = st->cold->ops->list(st->cold, load_block, &l);
	}
	struct st_blockset *set = rc ? NULL : malloc(sizeof(*set) + l.n * sizeof(set->items[0]));
	if (!set) {
		for (uint32_t i = 0; i < l.n; i++)
			st_store_blk_free(l.items[i]);
		free(l.items);
		return rc ? rc : -ENOMEM;
	}
	set->n = l.n;
	if (l.n)
		memcpy(set->items, l.items, l.n * sizeof(set->items[0]));
	free(l.items);
	st_store_publish_blocks(st, set);
	rec->blocks = l.n;
	rec->blocks_quarantined = l.quarantined;
	atomic_store(&st->ctr.blocks_quarantined, l.quarantined);
	return 0;
}

int st_store_open(const struct st_store_cfg *cfg, struct st_store **out,
		  struct st_store_recovery *rec)
{
	memset(rec, 0, sizeof(*rec));
	int64_t t0 = cm_mono_ns();
	struct st_store *st = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(sizeof(*st), CM_CACHE_LINE));
	if (!st)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	st->cfg = *cfg;
	snprintf(st->dir, sizeof(st->dir), "%s", cfg->dir);
	snprintf(st->cold_dir, sizeof(st->cold_dir), "%s", cfg->cold_dir ? cfg->cold_dir : "");
	st->cfg.dir = st->dir;
	st->cfg.cold_dir = st->cold_dir;
	st->cfg.shard.rcu = cfg->rcu;
	st->cfg.shard.shard_id = cfg->shard_id;
	st->cfg.shard.numa_node = cfg->numa_node;
	st->next_gen = 1;

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/wal", st->dir);
	int rc = cm_mkdir_p(path);
	if (!rc)
		rc = st_shard_create(&st->cfg.shard, &st->shard);
	if (!rc && cfg->section_cache_bytes)
		rc = st_scache_create(cfg->section_cache_bytes, &st->scache);
	if (rc)
		goto err;

	/* 1. series ids from the catalog */
	snprintf(path, sizeof(path), "%s/series.cat", st->dir);
	rc = st_catalog_open(path, cfg->ops, restore_series, st, &st->cat,
			     &rec->catalog_dropped_bytes);
	if (rc)
		goto err;
	/* 2. blocks of every tier (a damaged one is quarantined) */
	rc = open_tiers_and_blocks(st, rec);
	if (rc)
		goto err;
	/* 3. the WAL after the checkpoint */
	uint64_t ckpt;
	rc = ckpt_read(st, &ckpt);
	if (rc)
		goto err;
	rec->checkpoint_lsn = ckpt;
	atomic_store(&st->ctr.checkpoint_lsn, ckpt);
	snprintf(path, sizeof(path), "%s/wal", st->dir);
	struct replay_ctx rctx = {.st = st};
	struct st_wal_replay_cb cb = {.series = replay_series, .points = replay_points};
	rc = st_wal_replay(path, cfg->ops, cfg->shard_id, ckpt + 1, &cb, &rctx, &rec->wal);
	rec->replay_rejected = rctx.rejected;
	if (rc)
		goto err;
	st_shard_maintain(st->shard);
	if (cfg->wal.durability != ST_WAL_NONE) {
		struct st_wal_cfg wcfg = cfg->wal;
		wcfg.dir = path;
		wcfg.shard_id = cfg->shard_id;
		wcfg.ops = cfg->ops;
		rc = st_wal_open(&wcfg, rec->wal.next_lsn, &st->wal);
		if (rc)
			goto err;
		st->commit_points = CM_MAX(wcfg.batch_points / 2, 1u);
	}
	st->replayed_lsn = rec->wal.next_lsn - 1;
	rec->series = st_shard_series_count(st->shard);
	rec->elapsed_ns = cm_mono_ns() - t0;
	CM_LOG_INFO("store", "event=recovered shard=%u series=%llu blocks=%llu quarantined=%llu "
		    "checkpoint_lsn=%llu wal_records=%llu wal_points=%llu torn=%llu ms=%lld",
		    cfg->shard_id, (unsigned long long)rec->series, (unsigned long long)rec->blocks,
		    (unsigned long long)rec->blocks_quarantined, (unsigned long long)ckpt,
		    (unsigned long long)rec->wal.records, (unsigned long long)rec->wal.points,
		    (unsigned long long)rec->wal.torn_tails,
		    (long long)(rec->elapsed_ns / CM_NS_PER_MS));
	*out = st;
	return 0;
err:
	CM_LOG_ERR("store", "event=open_failed shard=%u dir=%s err=%d", cfg->shard_id, cfg->dir, rc);
	st_store_close(st);
	return rc;
}

void st_store_close(struct st_store *st)
{
	if (!st)
		return;
	st_wal_close(st->wal);
	struct st_blockset *set = atomic_load(&st->blocks);
	if (set) {
		for (uint32_t i = 0; i < set->n; i++)
			st_store_blk_free(set->items[i]);
		free(set);
	}
	for (uint32_t i = 0; i < st->nretired_sets; i++)
		free(st->retired_sets[i]);
	while (st->retired) {
		struct st_blk *b = st->retired;
		st->retired = b->retire_next;
		st_store_blk_free(b);
	}
	st_scache_destroy(st->scache); /* after the blocks: each forgets its sections */
	st_tier_destroy(st->warm);
	st_tier_destroy(st->cold);
	st_catalog_close(st->cat);
	st_shard_destroy(st->shard);
	free(st->flushed);
	free(st);
}

struct st_shard *st_store_shard(struct st_store *st)
{
	return st->shard;
}

uint32_t st_store_shard_id(const struct st_store *st)
{
	return st->cfg.shard_id;
}

/* ================================================================= owner */

static uint32_t refuse(struct st_store *st, uint32_t n, enum st_insert_status why, uint8_t *status)
{
	cm_ctr_add(&st->ctr.refused[why], n);
	if (status)
		memset(status, why, n);
	return 0;
}

#define PART_POINTS 64u      /* points staged at a time: the WAL takes a part whole or not at all */
#define PART_HELD UINT32_MAX  /* insert_part: pushed back and left alone (hold) */

/*
 * HOT PATH. One part. Where the WAL pushes back (its stage is full, or its
 * write is failing but for ENOSPC), the part is refused and counted as
 * ST_INS_BACKPRESSURE, or with hold left alone: PART_HELD.
 */
static uint32_t insert_part(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			    uint8_t *status, bool hold)
{
	assert(n <= PART_POINTS);
	uint8_t stat[PART_POINTS];
	uint32_t ids[PART_POINTS];
	if (st->wal) {
		int werr = st_wal_last_error(st->wal);
		if (cm_unlikely(werr)) {
			if (werr == -ENOSPC)
				return refuse(st, n, ST_INS_DISK_FULL, status);
			return hold ? PART_HELD : refuse(st, n, ST_INS_BACKPRESSURE, status);
		}
		uint32_t key_bytes = 0;
		for (uint32_t i = 0; i < n; i++)
			key_bytes += pts[i].keylen;
		if (cm_unlikely(!st_wal_room(st->wal, n, key_bytes))) {
			uint64_t lsn;
			if (st_wal_commit(st->wal, &lsn) || !st_wal_room(st->wal, n, key_bytes))
				return hold ? PART_HELD : refuse(st, n, ST_INS_BACKPRESSURE, status);
		}
	}
	uint32_t stored = st_shard_insert_burst(st->shard, pts, n, stat, ids);
	if (st->wal) {
		for (uint32_t i = 0; i < n; i++) {
			if (ids[i] & ST_SHARD_ID_NEW)
				st_wal_add_series(st->wal, ids[i] & ~ST_SHARD_ID_NEW, pts[i].type,
						  pts[i].key, (uint16_t)pts[i].keylen);
			if (stat[i] <= ST_INS_OOO) {
				uint64_t bits = pts[i].type == ST_VT_BOOL ? (uint64_t)pts[i].v.b
									  : pts[i].v.u64;
				st_wal_add_point(st->wal, ids[i] & ~ST_SHARD_ID_NEW, pts[i].ts_ns, bits);
			}
		}
	}
	if (status)
		memcpy(status, stat, n);
	return stored;
}

/* HOT PATH. Parts in order; with hold, up to the first the WAL pushes back: how far it got. */
static uint32_t insert_parts(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			     uint8_t *status, bool hold, uint32_t *stored)
{
	*stored = 0;
	if (cm_unlikely(atomic_load_explicit(&st->disk_low, memory_order_relaxed))) {
		refuse(st, n, ST_INS_DISK_FULL, status);
		return n;
	}
	for (uint32_t i = 0; i < n; i += PART_POINTS) {
		uint32_t k = CM_MIN(PART_POINTS, n - i);
		uint32_t got = insert_part(st, pts + i, k, status ? status + i : NULL, hold);
		if (got == PART_HELD)
			return i;
		*stored += got;
	}
	return n;
}

/* HOT PATH */
uint32_t st_store_insert_burst(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			       uint8_t *status)
{
	uint32_t stored;
	insert_parts(st, pts, n, status, false, &stored);
	return stored;
}

uint32_t st_store_insert_hold(struct st_store *st, const struct st_shard_point *pts, uint32_t n,
			      uint8_t *status, uint32_t *stored)
{
	return insert_parts(st, pts, n, status, true, stored);
}

int st_store_commit(struct st_store *st, uint64_t *lsn)
{
	if (!st->wal) {
		*lsn = 0;
		return 0;
	}
	uint64_t l;
	int rc = st_wal_commit(st->wal, &l);
	if (rc) {
		*lsn = 0; /* nothing covers what is still staged */
		return rc;
	}
	st->stage_since_ns = 0;
	*lsn = st_wal_committed_lsn(st->wal);
	return 0;
}

uint64_t st_store_pending_lsn(const struct st_store *st)
{
	if (!st->wal)
		return 0;
	/* records take consecutive lsns (st_wal_commit): the stage becomes the next */
	return st_wal_committed_lsn(st->wal) + (st_wal_staged(st->wal) ? 1 : 0);
}

uint32_t st_store_io_poll(struct st_store *st)
{
	return st->wal ? st_wal_poll(st->wal) : 0;
}

uint64_t st_store_durable_lsn(const struct st_store *st)
{
	return st->wal ? st_wal_durable_lsn(st->wal) : UINT64_MAX;
}

/* Serve the flusher's checkpoint and release requests, a slice per pass. */
static void serve_requests(struct st_store *st)
{
	uint64_t req = atomic_load_explicit(&st->ckpt_req, memory_order_acquire);
	if (!st->ckpt_active && req > atomic_load_explicit(&st->ckpt_done, memory_order_relaxed)) {
		st->ckpt_active = true;
		st->ckpt_serving = req;
		st->ckpt_next = 0;
		uint64_t lsn = 0;
		if (st->wal)
			st_wal_commit(st->wal, &lsn); /* -EAGAIN: those points get a later lsn */
		/* without a WAL (durability none), the lsn is where replay ended */
		st->ckpt_lsn_pending = st->wal ? st_wal_committed_lsn(st->wal) : st->replayed_lsn;
	}
	if (st->ckpt_active) {
		st->ckpt_next = st_shard_seal_range(st->shard, st->ckpt_next, ST_STORE_SLICE);
		if (st->ckpt_next >= st_shard_series_count(st->shard)) {
			/*
			 * A seal that found no memory leaves points out of the sealed
			 * chunks: then the checkpoint may flush and free, but not cover
			 * the WAL (lsn 0); the next one, with memory freed, completes.
			 */
			uint64_t lsn = st_shard_stuck_seals(st->shard) ? 0 : st->ckpt_lsn_pending;
			atomic_store_explicit(&st->ckpt_lsn, lsn, memory_order_relaxed);
			/* release: the seals and ckpt_lsn before done (flusher acquires) */
			atomic_store_explicit(&st->ckpt_done, st->ckpt_serving, memory_order_release);
			st->ckpt_active = false;
		}
	}
	/* acquire: pairs with the release of rel_req after rel_arr/rel_n are set */
	req = atomic_load_explicit(&st->rel_req, memory_order_acquire);
	if (!st->rel_active && req > atomic_load_explicit(&st->rel_done, memory_order_relaxed)) {
		st->rel_active = true;
		st->rel_serving = req;
		st->rel_next = 0;
	}
	if (st->rel_active) {
		uint32_t end = CM_MIN(st->rel_n, st->rel_next + ST_STORE_SLICE);
		for (uint32_t id = st->rel_next; id < end; id++)
			st_shard_release_sealed(st->shard, id, &st->rel_arr[id]);
		st->rel_next = end;
		if (end >= st->rel_n) {
			/* release: the flusher may reuse rel_arr once it sees done */
			atomic_store_explicit(&st->rel_done, st->rel_serving, memory_order_release);
			st->rel_active = false;
		}
	}
}

/*
 * Group commit: a record per poll pass would be a record per RX burst, tens
 * of points, too small for zstd and too many headers. Commit when the stage
 * holds commit_points or is ST_STORE_COMMIT_NS old; st_store_commit()
 * forces it (sync-mode acknowledgements).
 */
#define ST_STORE_COMMIT_NS (200 * CM_NS_PER_US)

static void group_commit(struct st_store *st)
{
	uint32_t staged = st_wal_staged(st->wal);
	if (!staged) {
		st->stage_since_ns = 0;
		return;
	}
	int64_t now = cm_mono_ns();
	if (!st->stage_since_ns)
		st->stage_since_ns = now;
	if (staged >= st->commit_points || now - st->stage_since_ns >= ST_STORE_COMMIT_NS) {
		uint64_t lsn;
		if (st_wal_commit(st->wal, &lsn) == 0)
			st->stage_since_ns = 0;
	}
}

void st_store_poll(struct st_store *st)
{
	if (st->wal) {
		group_commit(st);
		if (!st->cfg.wal.io_thread)
			st_wal_poll(st->wal);
	}
	st_shard_maintain(st->shard);
	serve_requests(st);
}

/* ================================================================ readers */

/* The blocks of a set that may hold a series in [t_min, t_max], oldest generation first. */
struct cands {
	struct st_blk *few[32], **v;
	uint32_t n;
};

static int cands_get(const struct st_blockset *set, uint32_t local_id, int64_t t_min,
		     int64_t t_max, struct cands *c)
{
	c->v = c->few;
	c->n = 0;
	if (set && set->n > CM_ARRAY_SIZE(c->few) && !(c->v = malloc(set->n * sizeof(*c->v))))
		return -ENOMEM;
	/*
	 * A newer block wins, whatever its partition (storage.partition may
	 * have changed between them): callers merge each over what came before.
	 */
	for (uint32_t i = 0; set && i < set->n; i++) {
		struct st_blk *b = set->items[i];
		if (b->info.t_max < t_min || b->info.t_min > t_max || !st_block_has_series(b->b, local_id))
			continue;
		uint32_t k = c->n++;
		for (; k > 0 && c->v[k - 1]->gen > b->gen; k--)
			c->v[k] = c->v[k - 1];
		c->v[k] = b;
	}
	return 0;
}

static void cands_free(struct cands *c)
{
	if (c->v != c->few)
		free(c->v);
}

/* A block read failed: count it; damage (not EIO, EMFILE) quarantines the block. */
static void block_read_failed(struct st_store *st, struct st_blk *b, int r)
{
	atomic_fetch_add_explicit(&st->ctr.block_read_errors, 1, memory_order_relaxed);
	if (r == -EBADMSG)
		atomic_store_explicit(&b->bad, 1, memory_order_relaxed);
	CM_LOG_RL(CM_LOG_ERR, "store", "event=block_read_failed shard=%u block=%s err=%d",
		  st->cfg.shard_id, b->name, r);
}

/* Narrow [t_min, t_max] by the retention cutoff; false when nothing is left. */
static bool read_range(struct st_store *st, uint32_t local_id, int64_t *t_min, int64_t t_max)
{
	int64_t cutoff = st_store_cutoff(st, local_id, cm_now_ns());
	if (cutoff > *t_min)
		*t_min = cutoff;
	return *t_min <= t_max;
}

/*
 * st_store_read_summ: which block chunks stand for their points by their
 * summaries. A chunk does when it lies inside the read's range, the
 * caller takes it, and no other source of the series (the hot tier, another
 * block) has a point in its time range, so no merge could change it.
 */
struct summ_ctx {
	st_sum_take_fn take;
	void *arg;
	int64_t t_min, t_max;
	uint32_t local_id;
	const struct st_points *hot;
	const struct cands *cand;
	const struct st_blk *self;         /* the block being read */
	struct st_sums *sums;
};

/* Has p a point in [lo, hi]? (p in time order) */
static bool points_within(const struct st_points *p, int64_t lo, int64_t hi)
{
	size_t a = st_ts_lower_bound(p->ts, p->n, lo);
	return a < p->n && p->ts[a] <= hi;
}

/* Has block b a chunk of the series that overlaps [lo, hi]? */
static bool block_within(const struct st_blk *b, uint32_t local_id, int64_t lo, int64_t hi)
{
	const struct st_block_summary *sum;
	uint32_t n;
	if (b->info.t_max < lo || b->info.t_min > hi) /* partitions rarely overlap: no lookup */
		return false;
	if (st_block_summaries(b->b, local_id, &sum, &n))
		return false;
	uint32_t a = st_block_chunk_from(sum, n, lo);
	return a < n && sum[a].t_min <= hi;
}

static bool summ_skip(void *arg, const struct st_block_summary *c)
{
	struct summ_ctx *x = arg;
	if (c->t_min < x->t_min || c->t_max > x->t_max || !x->take(x->arg, c) ||
	    points_within(x->hot, c->t_min, c->t_max))
		return false;
	for (uint32_t i = 0; i < x->cand->n; i++)
		if (x->cand->v[i] != x->self && block_within(x->cand->v[i], x->local_id, c->t_min,
							     c->t_max))
			return false;
	struct st_sums *s = x->sums;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct st_block_summary *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return false; /* then the chunk is decoded: the same answer */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *c;
	return true;
}

void st_sums_release(struct st_sums *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* st_store_read, and st_store_read_summ when x is set (its take, arg and sums). */
static int read_points(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		       struct summ_ctx *x, struct st_points *out)
{
	if (local_id >= st_shard_series_count(st->shard))
		return -ENOENT;
	if (!read_range(st, local_id, &t_min, t_max))
		return 0;
	size_t start0 = out->n, sums0 = x ? x->sums->n : 0;
	/* Hot first, then the block set: a chunk released after a block holds it. */
	struct st_points hot;
	st_points_init(&hot);
	int rc = st_shard_read(st->shard, local_id, t_min, t_max, &hot);
	if (rc < 0)
		goto out;
	rc = 0;
	/* acquire: pairs with the release in st_store_publish_blocks */
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_acquire);
	struct cands cand;
	if (cands_get(set, local_id, t_min, t_max, &cand)) {
		rc = -ENOMEM;
		goto out;
	}
	if (x) {
		x->t_min = t_min;
		x->t_max = t_max;
		x->local_id = local_id;
		x->hot = &hot;
		x->cand = &cand;
	}
	/* Each block merged over what came before; the hot tier, newest of all, last. */
	struct st_points blk;
	st_points_init(&blk);
	for (uint32_t i = 0; i < cand.n && rc != -ENOMEM; i++) {
		struct st_blk *b = cand.v[i];
		/* while nothing is held, a block reads straight into out */
		struct st_points *dst = out->n == start0 ? out : &blk;
		blk.n = 0;
		if (x)
			x->self = b;
		int r = st_block_read_skip(b->b, local_id, t_min, t_max, x ? summ_skip : NULL, x,
					   dst);
		if (r < 0) {
			block_read_failed(st, b, r);
			rc = r;
			continue;
		}
		if (dst == &blk && st_points_merge_newer(out, start0, &blk))
			rc = -ENOMEM;
	}
	st_points_release(&blk);
	cands_free(&cand);
	if (rc != -ENOMEM && st_points_merge_newer(out, start0, &hot))
		rc = -ENOMEM;
out:
	st_points_release(&hot);
	if (rc < 0) {
		if (x)
			x->sums->n = sums0;
		return rc;
	}
	return (int)CM_MIN(out->n - start0, (size_t)INT32_MAX);
}

int st_store_read(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		  struct st_points *out)
{
	return read_points(st, local_id, t_min, t_max, NULL, out);
}

int st_store_read_summ(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		       st_sum_take_fn take, void *arg, struct st_points *out, struct st_sums *sums)
{
	struct summ_ctx x = {.take = take, .arg = arg, .sums = sums};
	return read_points(st, local_id, t_min, t_max, &x, out);
}

/*
 * A block's newest (oldest) point of a series in [t_min, t_max]: from the
 * summary of a chunk inside the range, else by decoding the chunk that
 * straddles a bound. 1 (found), 0 (none) or a read error.
 */
static int block_end_point(struct st_store *st, struct st_blk *b, uint32_t local_id,
			   int64_t t_min, int64_t t_max, bool newest, int64_t *ts, uint64_t *val)
{
	const struct st_block_summary *sum;
	uint32_t n;
	if (st_block_summaries(b->b, local_id, &sum, &n))
		return 0;
	struct st_points one;
	st_points_init(&one);
	int rc = 0;
	for (uint32_t j = 0; j < n && rc == 0; j++) {
		const struct st_block_summary *c = &sum[newest ? n - 1 - j : j];
		if (c->t_max < t_min || c->t_min > t_max)
			continue;
		if (c->t_min >= t_min && c->t_max <= t_max) {
			*ts = newest ? c->t_max : c->t_min;
			*val = newest ? c->last : c->first;
			rc = 1;
			break;
		}
		int r = st_block_read(b->b, local_id, CM_MAX(t_min, c->t_min), CM_MIN(t_max, c->t_max),
				      &one);
		if (r < 0) {
			block_read_failed(st, b, r);
			rc = r;
		} else if (one.n) {
			*ts = one.ts[newest ? one.n - 1 : 0];
			*val = one.vals[newest ? one.n - 1 : 0];
			rc = 1;
		}
	}
	st_points_release(&one);
	return rc;
}

/*
 * k > 1: the chunk summaries say how far back (forward) k points lie; read
 * that much. Summaries count points past the range and points another
 * block overrides, so a short answer falls back to the whole range.
 */
static int read_end_narrow(struct st_store *st, uint32_t local_id, int64_t t_min,
			   int64_t t_max, uint64_t k, bool newest, struct st_points *out)
{
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_acquire);
	struct cands cand;
	if (cands_get(set, local_id, t_min, t_max, &cand))
		return -ENOMEM;
	/* every candidate chunk's bounds, the one toward the wanted end first */
	struct seg {
		int64_t lo, hi;
		uint32_t count;
	} *seg = NULL;
	size_t nseg = 0, capseg = 0;
	int rc = 0;
	for (uint32_t i = 0; i < cand.n && rc == 0; i++) {
		const struct st_block_summary *sum;
		uint32_t n;
		if (st_block_summaries(cand.v[i]->b, local_id, &sum, &n))
			continue;
		for (uint32_t j = 0; j < n && rc == 0; j++) {
			if (sum[j].t_max < t_min || sum[j].t_min > t_max)
				continue;
			if (nseg == capseg) {
				size_t cap = capseg ? 2 * capseg : 64;
				struct seg *v = realloc(seg, cap * sizeof(*v));
				if (!v) {
					rc = -ENOMEM;
					break;
				}
				seg = v;
				capseg = cap;
			}
			seg[nseg++] = (struct seg){sum[j].t_min, sum[j].t_max, sum[j].count};
		}
	}
	cands_free(&cand);
	int64_t lo = t_min, hi = t_max;
	if (rc == 0) {
		/* select, toward the wanted end, the fewest chunks that hold k points */
		uint64_t got = 0;
		size_t m = 0;
		for (; m < nseg && got < k; m++) {
			size_t best = m;
			for (size_t j = m + 1; j < nseg; j++)
				if (newest ? seg[j].hi > seg[best].hi : seg[j].lo < seg[best].lo)
					best = j;
			struct seg t = seg[m];
			seg[m] = seg[best];
			seg[best] = t;
			got += seg[m].count;
		}
		if (got >= k) {
			/* the range those chunks span, from the wanted end */
			if (newest)
				lo = seg[0].lo;
			else
				hi = seg[0].hi;
			for (size_t j = 1; j < m; j++) {
				lo = newest ? CM_MIN(lo, seg[j].lo) : lo;
				hi = newest ? hi : CM_MAX(hi, seg[j].hi);
			}
		}
		lo = CM_MAX(lo, t_min);
		hi = CM_MIN(hi, t_max);
	}
	free(seg);
	if (rc)
		return rc;
	size_t start0 = out->n;
	rc = st_store_read(st, local_id, lo, hi, out);
	if (rc >= 0 && (uint64_t)rc < k && (lo > t_min || hi < t_max)) {
		out->n = start0;
		rc = st_store_read(st, local_id, t_min, t_max, out);
	}
	return rc;
}

int st_store_read_end(struct st_store *st, uint32_t local_id, int64_t t_min, int64_t t_max,
		      uint64_t k, bool newest, struct st_points *out)
{
	if (local_id >= st_shard_series_count(st->shard))
		return -ENOENT;
	if (k == 0 || !read_range(st, local_id, &t_min, t_max))
		return 0;
	if (k > 1)
		return read_end_narrow(st, local_id, t_min, t_max, k, newest, out);
	struct st_points hot;
	st_points_init(&hot);
	int rc = st_shard_read_end(st->shard, local_id, t_min, t_max, newest, &hot);
	if (rc < 0) {
		st_points_release(&hot);
		return rc;
	}
	rc = 0;
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_acquire);
	struct cands cand;
	if (cands_get(set, local_id, t_min, t_max, &cand)) {
		st_points_release(&hot);
		return -ENOMEM;
	}
	/* The end point of each source, oldest generation first: on equal times the newer wins. */
	bool have = false;
	int64_t ts = 0;
	uint64_t val = 0;
	for (uint32_t i = 0; i < cand.n; i++) {
		int64_t t;
		uint64_t v;
		int r = block_end_point(st, cand.v[i], local_id, t_min, t_max, newest, &t, &v);
		if (r < 0)
			rc = r;
		if (r == 1 && (!have || (newest ? t >= ts : t <= ts))) {
			have = true;
			ts = t;
			val = v;
		}
	}
	cands_free(&cand);
	if (hot.n) {
		int64_t t = hot.ts[newest ? hot.n - 1 : 0];
		if (!have || (newest ? t >= ts : t <= ts)) {
			have = true;
			ts = t;
			val = hot.vals[newest ? hot.n - 1 : 0];
		}
	}
	st_points_release(&hot);
	if (rc < 0 || !have)
		return rc;
	if (st_points_reserve(out, 1))
		return -ENOMEM;
	out->ts[out->n] = ts;
	out->vals[out->n++] = val;
	return 1;
}

void st_store_stats_read(const struct st_store *st, struct st_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	st_shard_stats_read(st->shard, &out->shard);
	if (st->wal)
		st_wal_stats_read(st->wal, &out->wal);
	for (int i = 0; i < ST_INS__COUNT; i++)
		out->refused[i] = atomic_load_explicit(&st->ctr.refused[i], memory_order_relaxed);
	out->block_read_errors = atomic_load(&st->ctr.block_read_errors);
	out->blocks_quarantined = atomic_load(&st->ctr.blocks_quarantined);
	out->checkpoints = atomic_load(&st->ctr.checkpoints);
	out->checkpoint_lsn = atomic_load(&st->ctr.checkpoint_lsn);
	out->disk_low = atomic_load(&st->disk_low);
	if (st->scache)
		st_scache_stats_read(st->scache, &out->scache);
	/* the flusher frees a replaced set only after a grace period (callers read under QSBR) */
	const struct st_blockset *set = atomic_load_explicit(&st->blocks, memory_order_acquire);
	for (uint32_t i = 0; set && i < set->n; i++) {
		const struct st_blk *b = set->items[i];
		out->blocks[b->tier->kind]++;
		out->block_bytes[b->tier->kind] += b->bytes;
		out->block_points[b->tier->kind] += b->info.npoints;
		out->block_index_bytes += b->info.index_bytes_resident;
	}
}
