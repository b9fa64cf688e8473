/*
 * pf_store_bench.c - the durable store end to end on the TSBS dataset
 * (1,000 series x 8,640 points, one day), through the same calls the daemon
 * makes:
 *
 *   store_insert_points_per_s      st_store_insert_burst + st_store_poll per
 *                                  burst, WAL in interval mode; the same-run
 *                                  yardstick is the bare shard insert (no WAL)
 *                                  and the ratio is the WAL's cost on the core
 *   checkpoint_points_per_s        one checkpoint of everything into blocks
 *   block_write_mb_per_s           the same as MB/s of points in (16 B each)
 *   disk_bytes_per_value_tsbs      blocks + catalog + CHECKPOINT after the
 *                                  checkpoint and compaction, per value (the
 *                                  WAL's covered segments are gone by then;
 *                                  the preallocated current segment is not
 *                                  counted: it holds no data)
 *   store_open_ms                  recovery: catalog, block indexes, verify
 *                                  every section, WAL tail
 *   store_read_points_per_s        every series read back (blocks)
 *
 * Data goes under $TMPDIR (default /tmp), removed at the end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "pf_dataset.h"
#include "st_flush.h"
#include "st_store.h"
#include "st_walio.h"
#include <time.h>

#define BURST 64

static struct st_rcu *rcu;
static struct st_store *store;
static struct pf_dataset ds;

static void point_at(uint32_t s, uint32_t i, struct st_shard_point *p)
{
	const struct pf_series *se = &ds.series[s];
	p->key = se->key;
	p->keylen = se->keylen;
	p->hash = se->hash;
	p->ts_ns = se->ts[i];
	p->type = se->type;
	p->v.u64 = se->vals[i];
}

/* Time-major, as the points arrive; insert_fn stores a burst. */
static int64_t ingest(void *obj, uint32_t (*insert_fn)(void *, const struct st_shard_point *, uint32_t),
		      void (*poll_fn)(void *))
{
	struct st_shard_point pts[BURST];
	uint32_t n = 0, npts = ds.series[0].n;
	int64_t t0 = cm_mono_ns();
	for (uint32_t i = 0; i < npts; i++) {
		for (uint32_t s = 0; s < ds.nseries; s++) {
			point_at(s, i, &pts[n++]);
			if (n == BURST) {
				while (insert_fn(obj, pts, n) != n)
					poll_fn(obj); /* back-pressure: let the WAL drain */
				poll_fn(obj);
				n = 0;
			}
		}
	}
	if (n)
		insert_fn(obj, pts, n);
	return cm_mono_ns() - t0;
}

static uint32_t store_insert(void *o, const struct st_shard_point *p, uint32_t n)
{
	return st_store_insert_burst(o, p, n, NULL);
}

static void store_poll(void *o)
{
	st_store_poll(o);
}

static uint32_t shard_insert(void *o, const struct st_shard_point *p, uint32_t n)
{
	return st_shard_insert_burst(o, p, n, NULL, NULL);
}

static void shard_poll(void *o)
{
	st_shard_maintain(o);
}

struct flush_job {
	struct st_flush *fl;
	_Atomic bool done;
	int rc;
	int64_t ns;
};

static void *flush_thread(void *arg)
{
	struct flush_job *j = arg;
	int64_t t0 = cm_mono_ns();
	j->rc = st_flush_store_now(j->fl, store, ds.series[0].ts[ds.series[0].n - 1] + 3600 * CM_NS_PER_SEC);
	j->ns = cm_mono_ns() - t0;
	atomic_store(&j->done, true);
	return NULL;
}

static uint64_t file_bytes(const char *path)
{
	struct stat sb;
	return stat(path, &sb) ? 0 : (uint64_t)sb.st_size;
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

static bool io_thread;

static struct st_store *open_store(const char *dir, struct st_store_recovery *rec)
{
	struct st_store_cfg cfg;
	st_store_cfg_default(&cfg);
	cfg.dir = dir;
	cfg.wal.io_thread = io_thread;
	cfg.rcu = rcu;
	cfg.shard.memory_limit_bytes = (size_t)4 << 30;
	struct st_store *st;
	if (st_store_open(&cfg, &st, rec)) {
		fprintf(stderr, "store bench: open failed\n");
		exit(1);
	}
	return st;
}

int main(void)
{
	cm_log_set_level(CM_LOG_WARN);
	pf_print_machine("store");
	if (pf_dataset_tsbs(pf_shared_dir(), &ds))
		return 1;
	if (st_rcu_create(4, &rcu))
		return 1;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/streamflow-bench/store.XXXXXX", tmp);
	char parent[512];
	snprintf(parent, sizeof(parent), "%s/streamflow-bench", tmp);
	mkdir(parent, 0755);
	if (!mkdtemp(dir))
		return 1;

	/* 1. the yardstick: the bare shard, same points, same order */
	struct st_shard_cfg scfg;
	st_shard_cfg_default(&scfg);
	scfg.rcu = rcu;
	scfg.memory_limit_bytes = (size_t)4 << 30;
	struct st_shard *sh;
	if (st_shard_create(&scfg, &sh))
		return 1;
	int64_t shard_ns = ingest(sh, shard_insert, shard_poll);
	st_shard_destroy(sh);

	/* 2. the store: shard + WAL (interval), the core encoding itself, then a WAL I/O thread */
	struct st_store_recovery rec;
	struct st_flush_cfg fc;
	st_flush_cfg_default(&fc);
	fc.min_free_bytes = 0;
	struct st_flush *fl = NULL;
	struct st_walio *io = NULL;
	int64_t store_ns[2], store_cpu[2];
	struct st_store_stats ss;
	for (int mode = 0; mode < 2; mode++) {
		char d[600];
		snprintf(d, sizeof(d), "%s/%s", dir, mode ? "iothread" : "inline");
		mkdir(d, 0755);
		io_thread = mode == 1;
		store = open_store(d, &rec);
		if (st_flush_create(&fc, rcu, &store, 1, &fl))
			return 1;
		st_flush_service_now(fl, store);
		if (io_thread && st_walio_start(&store, 1, 20 * CM_NS_PER_US, CM_NS_PER_MS, &io))
			return 1;
		int64_t c0 = thread_cpu_ns();
		store_ns[mode] = ingest(store, store_insert, store_poll);
		store_cpu[mode] = thread_cpu_ns() - c0;
		st_store_stats_read(store, &ss);
		if (mode == 0) {
			st_flush_destroy(fl);
			st_store_close(store);
		}
	}
	/* the I/O-thread store goes on; dir itself is removed at the end, both runs with it */
	char live[600];
	snprintf(live, sizeof(live), "%s/iothread", dir);
	double pts = (double)ds.npoints;
	printf("BENCH shard_insert_points_per_s %.4g points/s\n", pts / (shard_ns / 1e9));
	printf("BENCH store_insert_points_per_s_inline %.4g points/s (core: %.1f ns/point)\n",
	       pts / (store_ns[0] / 1e9), store_cpu[0] / pts);
	printf("BENCH store_insert_points_per_s_iothread %.4g points/s (core: %.1f ns/point)\n",
	       pts / (store_ns[1] / 1e9), store_cpu[1] / pts);
	printf("BENCH store_insert_vs_shard_ratio_inline %.3f (1.0: the WAL costs the core nothing)\n",
	       (double)shard_ns / (double)store_ns[0]);
	printf("BENCH store_insert_vs_shard_ratio_iothread %.3f\n",
	       (double)shard_ns / (double)store_ns[1]);
	printf("BENCH store_wal_bytes_per_point %.3f B\n", (double)ss.wal.stored_bytes / pts);

	/* 3. checkpoint into blocks (the owner keeps polling meanwhile) */
	struct flush_job job = {.fl = fl};
	pthread_t th;
	pthread_create(&th, NULL, flush_thread, &job);
	while (!atomic_load(&job.done))
		st_store_poll(store);
	pthread_join(th, NULL);
	if (job.rc) {
		fprintf(stderr, "store bench: checkpoint failed: %d\n", job.rc);
		return 1;
	}
	st_store_stats_read(store, &ss);
	char path[700];
	snprintf(path, sizeof(path), "%s/series.cat", live);
	uint64_t cat = file_bytes(path);
	snprintf(path, sizeof(path), "%s/CHECKPOINT", live);
	uint64_t ck = file_bytes(path);
	uint64_t blocks = ss.block_bytes[ST_TIER_WARM] + ss.block_bytes[ST_TIER_COLD];
	printf("BENCH checkpoint_points_per_s %.4g points/s (%.2f s)\n", pts / (job.ns / 1e9),
	       job.ns / 1e9);
	printf("BENCH block_write_mb_per_s %.1f MB/s (points in, 16 B each, through seal, build, "
	       "write, fdatasync, rename)\n", pts * 16 / 1e6 / (job.ns / 1e9));
	printf("BENCH disk_bytes_per_value_tsbs %.4f B/value (blocks %llu + catalog %llu + "
	       "checkpoint %llu bytes, %llu blocks)\n",
	       (double)(blocks + cat + ck) / pts, (unsigned long long)blocks,
	       (unsigned long long)cat, (unsigned long long)ck,
	       (unsigned long long)(ss.blocks[ST_TIER_WARM] + ss.blocks[ST_TIER_COLD]));
	printf("BENCH block_index_resident_bytes_per_series %.1f B\n",
	       (double)ss.block_index_bytes / ds.nseries);
	st_flush_destroy(fl);
	st_walio_stop(io);
	st_store_close(store);
	io_thread = false;

	/* 4. recovery, then read every series back */
	int64_t t0 = cm_mono_ns();
	store = open_store(live, &rec);
	int64_t open_ns = cm_mono_ns() - t0;
	printf("BENCH store_open_ms %.1f ms (blocks %llu, verified; wal records %llu)\n",
	       open_ns / 1e6, (unsigned long long)rec.blocks, (unsigned long long)rec.wal.records);
	int reader = st_rcu_reader_register(rcu);
	struct st_points p;
	st_points_init(&p);
	uint64_t got = 0;
	t0 = cm_mono_ns();
	for (uint32_t id = 0; id < st_shard_series_count(st_store_shard(store)); id++) {
		p.n = 0;
		st_read_begin(rcu, reader);
		int n = st_store_read(store, id, INT64_MIN, INT64_MAX, &p);
		st_read_end(rcu, reader);
		if (n > 0)
			got += (uint64_t)n;
	}
	int64_t read_ns = cm_mono_ns() - t0;
	st_points_release(&p);
	st_rcu_reader_unregister(rcu, reader);
	printf("BENCH store_read_points_per_s %.4g points/s (%llu of %llu points)\n",
	       (double)got / (read_ns / 1e9), (unsigned long long)got,
	       (unsigned long long)ds.npoints);
	st_store_close(store);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd)) {
	}
	bool all_read = got == ds.npoints; /* (before the release zeroes ds) */
	pf_dataset_release(&ds);
	st_rcu_destroy(rcu);
	return all_read ? 0 : 1;
}
