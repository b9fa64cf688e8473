/*
 * pf_wal_bench.c - the write-ahead log (storage/st_wal.c) on the TSBS
 * dataset (1,000 series x 8,640 points, time-major arrival order), staged
 * as a shard core stages it: 256-point bursts, a commit every 8 bursts
 * (2,048 points per record), a poll after every burst, st_wal_service on a
 * background thread. Prints `BENCH` lines:
 *
 *   wal_points_per_s_{interval,sync}     points until all are durable, per s
 *   wal_mb_per_s_{interval,sync}         stored (record) bytes per s
 *   wal_bytes_per_point_{interval,sync}  stored bytes per point
 *   wal_pwrite_mb_per_s_{interval,sync}  the yardstick, same run: the same
 *                                        byte count in the WAL's average
 *                                        write size with pwrite (O_DIRECT
 *                                        when the WAL used it) + fdatasync
 *                                        after each write (sync) or every
 *                                        fsync interval (interval)
 *   wal_vs_pwrite_ratio_{interval,sync}  WAL MB/s over the yardstick's
 *   wal_level<L>_points_per_s, wal_level<L>_bytes_per_point
 *                                        zstd levels 0 (raw), -1, 1, 3
 *                                        (interval mode)
 *   wal_submit_{inline,iothread}_producer_ns_per_point
 *   wal_submit_{inline,iothread}_points_per_s
 *                                        who compresses and submits:
 *                                        (A) the producing thread itself, as
 *                                        st_wal does; (B) a per-node I/O
 *                                        thread fed raw 2,048-point batches
 *                                        through an SPSC ring; producer CPU
 *                                        time (CLOCK_THREAD_CPUTIME_ID) per
 *                                        point, waits excluded, and total
 *                                        throughput
 *   wal_source_ns_per_point              walking the dataset alone (in both
 *                                        producers' figures)
 *   recovery_gb_per_s                    st_wal_replay of ~1 GB of WAL (or
 *                                        what 30 s of writing makes) with
 *                                        callbacks that count
 *   recovery_into_shard_gb_per_s         the same into a st_shard
 *                                        (st_shard_series_restore +
 *                                        st_shard_insert_id)
 *
 * Files go to a fresh directory under $TMPDIR (or /tmp) and are removed.
 * Segment files are dropped from the page cache before each replay.
 * Benchmark code: allocates freely; about two minutes on a 2-core VM.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "pf_dataset.h"
#include "st_io.h"
#include "st_rcu.h"
#include "st_shard.h"
#include "st_wal.h"

#define BURST 256
#define BURSTS_PER_COMMIT 8
#define BATCH (BURST * BURSTS_PER_COMMIT)
#define PASS_SPAN_NS (8640 * 10 * CM_NS_PER_SEC)   /* one TSBS day: 8,640 x 10 s */
#define RECOVERY_BYTES ((uint64_t)1 << 30)
#define RECOVERY_WRITE_NS (30 * CM_NS_PER_SEC)

static struct pf_dataset ds;
static char root[512];
static int run_no;

/* ============================================================== helpers */

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

static void nap_us(long us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
	nanosleep(&ts, NULL);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "wal bench: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* Call fn on the path of each file of dir (dot files skipped). */
static void for_each_file(const char *dir, void (*fn)(const char *path))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fn(path);
	}
	closedir(d);
}

static void unlink_file(const char *path)
{
	unlink(path);
}

static void rm_files(const char *dir)
{
	for_each_file(dir, unlink_file);
	rmdir(dir);
}

/* A fresh, empty directory for one run under root. */
static void run_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/run%d", root, run_no++);
	if (mkdir(out, 0755) != 0)
		die("mkdir", -errno);
}

static void drop_file_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* Drop dir's files from the page cache (cold replay). */
static void drop_cache(const char *dir)
{
	for_each_file(dir, drop_file_cache);
}

static const char *fs_name(const char *dir)
{
	struct statfs sf;
	if (statfs(dir, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53:
		return "ext4";
	case 0x01021994:
		return "tmpfs";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	default:
		return "other";
	}
}

/* ============================================================== source */

/* The dataset in arrival order (time-major), bursts of up to BURST points. */
struct src {
	uint32_t i, s;              /* next point: index i of series s */
	uint32_t pass, passes;      /* pass p shifts times by p days; series are new in pass 0 */
};

struct burst {
	uint32_t n, nnew;
	uint32_t ids[BURST];
	int64_t ts[BURST];
	uint64_t vals[BURST];
	uint32_t new_ids[BURST];
};

static bool next_burst(struct src *sr, struct burst *b)
{
	b->n = b->nnew = 0;
	while (b->n < BURST && sr->pass < sr->passes) {
		const struct pf_series *se = &ds.series[sr->s];
		if (sr->i < se->n) {
			if (sr->i == 0 && sr->pass == 0)
				b->new_ids[b->nnew++] = sr->s;
			b->ids[b->n] = sr->s;
			b->ts[b->n] = se->ts[sr->i] + (int64_t)sr->pass * PASS_SPAN_NS;
			b->vals[b->n] = se->vals[sr->i];
			b->n++;
		}
		if (++sr->s == ds.nseries) {
			sr->s = 0;
			if (++sr->i == 8640) {
				sr->i = 0;
				sr->pass++;
			}
		}
	}
	return b->n > 0;
}

/*
 * CPU per point of producing the points alone (walking the dataset into
 * bursts): part of both producers' figures below, printed so the WAL's share
 * can be told apart.
 */
static double source_ns_per_point(void)
{
	struct src sr = {.passes = 1};
	struct burst b;
	uint64_t sum = 0, n = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	while (next_burst(&sr, &b)) {
		sum += b.ids[b.n - 1] + (uint64_t)b.ts[0] + b.vals[b.n / 2];
		n += b.n;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	__asm__ volatile("" : : "r"(sum) : "memory");
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	return ns / (double)n;
}

/* ============================================================== service */

struct svc {
	struct st_wal *_Atomic w;
	atomic_bool stop;
	pthread_t th;
};

/* The background thread every WAL has: spare segments, retired descriptors. */
static void *svc_main(void *arg)
{
	struct svc *s = arg;
	while (!atomic_load(&s->stop)) {
		struct st_wal *w = atomic_load(&s->w);
		if (w)
			st_wal_service(w);
		nap_us(500);
	}
	return NULL;
}

static void svc_start(struct svc *s, struct st_wal *w)
{
	atomic_init(&s->w, w);
	atomic_init(&s->stop, false);
	if (pthread_create(&s->th, NULL, svc_main, s))
		die("pthread_create", -EAGAIN);
}

static void svc_stop(struct svc *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
}

/* ============================================================ the owner */

struct owner_stats {
	uint64_t points;
	uint64_t stalls;            /* passes spent waiting for the WAL to take a batch */
	int64_t wait_cpu_ns;        /* CPU time of those waits */
};

static void wal_cfg(struct st_wal_cfg *cfg, const char *dir, enum st_wal_durability d, int level)
{
	st_wal_cfg_default(cfg);
	cfg->dir = dir;
	cfg->shard_id = 1;
	cfg->durability = d;
	cfg->zstd_level = level;
}

/* Poll until the WAL takes the stage as a record. */
static void commit_all(struct st_wal *w, struct owner_stats *os)
{
	uint64_t lsn;
	if (st_wal_commit(w, &lsn) == 0)
		return;
	int64_t c0 = thread_cpu_ns();
	while (st_wal_commit(w, &lsn) == -EAGAIN) {
		os->stalls++;
		st_wal_poll(w);
		nap_us(20);
	}
	os->wait_cpu_ns += thread_cpu_ns() - c0;
}

static void wait_durable(struct st_wal *w, struct owner_stats *os)
{
	int64_t c0 = thread_cpu_ns();
	while (st_wal_durable_lsn(w) < st_wal_committed_lsn(w)) {
		st_wal_poll(w);
		nap_us(20);
	}
	os->wait_cpu_ns += thread_cpu_ns() - c0;
}

/*
 * Stage n points and the nnew series they create, as the shard core does
 * after storing them (both producers, (A) and (B), stage through here).
 */
static void stage_points(struct st_wal *w, const uint32_t *ids, const int64_t *ts,
			 const uint64_t *vals, uint32_t n, const uint32_t *new_ids, uint32_t nnew,
			 struct owner_stats *os)
{
	uint32_t key_bytes = 0;
	for (uint32_t k = 0; k < nnew; k++)
		key_bytes += ds.series[new_ids[k]].keylen;
	if (!st_wal_room(w, n, key_bytes))
		commit_all(w, os);
	for (uint32_t k = 0; k < nnew; k++) {
		const struct pf_series *se = &ds.series[new_ids[k]];
		st_wal_add_series(w, new_ids[k], se->type, se->key, (uint16_t)se->keylen);
	}
	for (uint32_t k = 0; k < n; k++)
		st_wal_add_point(w, ids[k], ts[k], vals[k]);
	os->points += n;
}

/*
 * (A) The producing thread owns the WAL: stage, commit (compress), poll.
 * Stops after `passes` passes, or earlier once stop_bytes are stored or
 * stop_ns have passed (0: no limit). Returns the wall time until durable.
 */
static int64_t run_inline(struct st_wal *w, uint32_t passes, uint64_t stop_bytes, int64_t stop_ns,
			  struct owner_stats *os, int64_t *producer_cpu_ns)
{
	struct src sr = {.passes = passes};
	struct burst b;
	uint32_t bursts = 0, pass = 0;
	int64_t t0 = cm_mono_ns(), c0 = thread_cpu_ns();
	while (next_burst(&sr, &b)) {
		stage_points(w, b.ids, b.ts, b.vals, b.n, b.new_ids, b.nnew, os);
		if (++bursts % BURSTS_PER_COMMIT == 0)
			commit_all(w, os);
		st_wal_poll(w);
		if (sr.pass != pass) {
			/* a pass ended: a size- or time-limited run may stop here */
			struct st_wal_stats s;
			pass = sr.pass;
			st_wal_stats_read(w, &s);
			if ((stop_bytes && s.stored_bytes >= stop_bytes) ||
			    (stop_ns && cm_mono_ns() - t0 >= stop_ns))
				break;
		}
	}
	commit_all(w, os);
	wait_durable(w, os);
	int64_t wall = cm_mono_ns() - t0;
	if (producer_cpu_ns)
		*producer_cpu_ns = thread_cpu_ns() - c0 - os->wait_cpu_ns;
	return wall;
}

struct mode_result {
	double points_per_s, mb_per_s, bytes_per_point;
	double avg_write_bytes;
	uint64_t stalls, stall_buffer, stall_segment, writes, syncs;
	int64_t producer_cpu_ns;
	bool direct;
};

/* One full pass of the dataset into a fresh WAL (A). */
static struct mode_result run_mode(enum st_wal_durability d, int level)
{
	char dir[600];
	struct st_wal_cfg cfg;
	struct st_wal *w;
	struct svc sv;
	struct owner_stats os = {0};
	struct mode_result r = {0};

	run_dir(dir, sizeof(dir));
	wal_cfg(&cfg, dir, d, level);
	int rc = st_wal_open(&cfg, 1, &w);
	if (rc)
		die("st_wal_open", rc);
	svc_start(&sv, w);
	int64_t wall = run_inline(w, 1, 0, 0, &os, &r.producer_cpu_ns);
	struct st_wal_stats s;
	st_wal_stats_read(w, &s);
	svc_stop(&sv);
	if ((rc = st_wal_close(w)))
		die("st_wal_close", rc);
	rm_files(dir);
	r.points_per_s = (double)os.points / ((double)wall / 1e9);
	r.mb_per_s = (double)s.stored_bytes / 1e6 / ((double)wall / 1e9);
	r.bytes_per_point = (double)s.stored_bytes / (double)os.points;
	r.avg_write_bytes = (double)s.stored_bytes / (double)(s.writes ? s.writes : 1);
	r.stalls = os.stalls;
	r.stall_buffer = s.stall_buffer;
	r.stall_segment = s.stall_segment;
	r.writes = s.writes;
	r.syncs = s.syncs;
	r.direct = s.direct;
	return r;
}

/* ==================================================== the I/O thread (B) */

struct batch {
	uint32_t n, nnew;
	uint32_t ids[BATCH];
	int64_t ts[BATCH];
	uint64_t vals[BATCH];
	uint32_t new_ids[BATCH];
};

#define RING_SLOTS 64u   /* a power of two; also the number of batches */

/* Single-producer single-consumer ring of pointers. */
struct spsc {
	_Atomic uint32_t head CM_CACHE_ALIGNED;   /* written by the consumer */
	_Atomic uint32_t tail CM_CACHE_ALIGNED;   /* written by the producer */
	void *slot[RING_SLOTS] CM_CACHE_ALIGNED;
};

static bool spsc_push(struct spsc *q, void *p)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* acquire: pairs with the release in spsc_pop (the slot is free again) */
	if (t - atomic_load_explicit(&q->head, memory_order_acquire) == RING_SLOTS)
		return false;
	q->slot[t & (RING_SLOTS - 1)] = p;
	/* release: pairs with the acquire in spsc_pop (the slot is written) */
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

static bool spsc_pop(struct spsc *q, void **p)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	/* acquire: pairs with the release in spsc_push */
	if (h == atomic_load_explicit(&q->tail, memory_order_acquire))
		return false;
	*p = q->slot[h & (RING_SLOTS - 1)];
	/* release: pairs with the acquire in spsc_push */
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return true;
}

struct iot {
	struct spsc full, empty;    /* producer -> I/O thread, and back */
	const char *dir;
	struct st_wal_stats stats;
	struct owner_stats os;
	int64_t cpu_ns;
	int rc;
};

/* The I/O thread: owns its WAL; stages, commits and polls what comes in. */
static void *iot_main(void *arg)
{
	struct iot *io = arg;
	struct st_wal_cfg cfg;
	struct st_wal *w;
	struct svc sv;
	int64_t c0 = thread_cpu_ns();

	wal_cfg(&cfg, io->dir, ST_WAL_INTERVAL, -1);
	io->rc = st_wal_open(&cfg, 1, &w);
	if (io->rc)
		return NULL;
	svc_start(&sv, w);
	uint32_t idle = 0;
	for (;;) {
		void *p;
		if (!spsc_pop(&io->full, &p)) {
			st_wal_poll(w);
			if (++idle > 64)
				nap_us(5);
			continue;
		}
		idle = 0;
		struct batch *b = p;
		if (!b)
			break;
		stage_points(w, b->ids, b->ts, b->vals, b->n, b->new_ids, b->nnew, &io->os);
		commit_all(w, &io->os);
		st_wal_poll(w);
		while (!spsc_push(&io->empty, b))
			nap_us(5);   /* cannot happen: as many slots as batches */
	}
	commit_all(w, &io->os);
	wait_durable(w, &io->os);
	st_wal_stats_read(w, &io->stats);
	svc_stop(&sv);
	io->rc = st_wal_close(w);
	io->cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

struct iot_result {
	double points_per_s;
	double producer_ns_per_point;
	double iothread_ns_per_point;
	uint64_t producer_waits;
};

/* (B) The producer stages raw batches only; the I/O thread does the rest. */
static struct iot_result run_iothread(void)
{
	char dir[600];
	struct iot *io = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(sizeof(*io), CM_CACHE_LINE));
	struct batch *pool = malloc(RING_SLOTS * sizeof(*pool));
	struct iot_result r = {0};
	pthread_t th;

	if (!io || !pool)
		die("malloc", -ENOMEM);
	memset(io, 0, sizeof(*io));
	run_dir(dir, sizeof(dir));
	io->dir = dir;
	for (uint32_t i = 0; i < RING_SLOTS; i++)
		spsc_push(&io->empty, &pool[i]);
	int64_t t0 = cm_mono_ns();
	if (pthread_create(&th, NULL, iot_main, io))
		die("pthread_create", -EAGAIN);

	struct src sr = {.passes = 1};
	struct burst bu;
	struct batch *b = NULL;
	uint64_t points = 0, waits = 0;
	int64_t wait_cpu = 0, c0 = thread_cpu_ns();
	while (next_burst(&sr, &bu)) {
		if (!b) {
			void *p;
			if (!spsc_pop(&io->empty, &p)) {
				int64_t w0 = thread_cpu_ns();
				while (!spsc_pop(&io->empty, &p)) {
					waits++;
					nap_us(20);
				}
				wait_cpu += thread_cpu_ns() - w0;
			}
			b = p;
			b->n = b->nnew = 0;
		}
		memcpy(b->ids + b->n, bu.ids, bu.n * sizeof(bu.ids[0]));
		memcpy(b->ts + b->n, bu.ts, bu.n * sizeof(bu.ts[0]));
		memcpy(b->vals + b->n, bu.vals, bu.n * sizeof(bu.vals[0]));
		memcpy(b->new_ids + b->nnew, bu.new_ids, bu.nnew * sizeof(bu.new_ids[0]));
		b->n += bu.n;
		b->nnew += bu.nnew;
		points += bu.n;
		if (b->n + BURST > BATCH) {
			spsc_push(&io->full, b);   /* never full: RING_SLOTS batches in all */
			b = NULL;
		}
	}
	if (b)
		spsc_push(&io->full, b);
	int64_t producer_cpu = thread_cpu_ns() - c0 - wait_cpu;
	while (!spsc_push(&io->full, NULL))
		nap_us(20);
	pthread_join(th, NULL);
	int64_t wall = cm_mono_ns() - t0;
	if (io->rc)
		die("I/O thread WAL", io->rc);
	if (io->os.points != points)
		die("I/O thread lost points", -EIO);
	r.points_per_s = (double)points / ((double)wall / 1e9);
	r.producer_ns_per_point = (double)producer_cpu / (double)points;
	r.iothread_ns_per_point = (double)(io->cpu_ns - io->os.wait_cpu_ns) / (double)points;
	r.producer_waits = waits;
	rm_files(dir);
	free(pool);
	free(io);
	return r;
}

/* ============================================================ yardstick */

/*
 * The same byte count written with plain pwrite into a preallocated file,
 * chunk bytes at a time: fdatasync after each write (sync) or once every
 * interval_ns (interval). O_DIRECT when direct. Returns MB/s.
 */
static double pwrite_rate(uint64_t total, size_t chunk, bool sync_each, int64_t interval_ns,
			  bool direct)
{
	char dir[600], path[700];
	run_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/yardstick", dir);
	chunk = CM_ALIGN_UP(chunk, (size_t)4096);
	total = CM_ALIGN_UP(total, (uint64_t)chunk);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
	void *buf;
	if (fd < 0 || posix_memalign(&buf, 4096, chunk))
		die("yardstick open", -errno);
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < chunk / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		((uint64_t *)buf)[i] = x;
	}
	if (fallocate(fd, 0, 0, (off_t)total) != 0 || fdatasync(fd) != 0)
		die("yardstick fallocate", -errno);
	int64_t t0 = cm_mono_ns(), next_sync = t0 + interval_ns;
	for (uint64_t off = 0; off < total; off += chunk) {
		if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk)
			die("yardstick pwrite", -errno);
		if (sync_each || cm_mono_ns() >= next_sync) {
			fdatasync(fd);
			next_sync = cm_mono_ns() + interval_ns;
		}
	}
	fdatasync(fd);
	int64_t wall = cm_mono_ns() - t0;
	close(fd);
	free(buf);
	rm_files(dir);
	return (double)total / 1e6 / ((double)wall / 1e9);
}

/* ============================================================== recovery */

struct counter {
	uint64_t series, points, sum;
};

static int count_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key, uint16_t keylen)
{
	struct counter *c = ctx;
	(void)vtype;
	(void)key;
	c->series++;
	c->sum += id + keylen;
	return 0;
}

static int count_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
			const uint64_t *vals, uint32_t n)
{
	struct counter *c = ctx;
	(void)lsn;
	(void)ts;
	(void)vals;
	c->points += n;
	c->sum += ids[n - 1];
	return 0;
}

struct into_shard {
	struct st_shard *sh;
	uint64_t points, rejected, records;
};

static int shard_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key, uint16_t keylen)
{
	struct into_shard *s = ctx;
	return st_shard_series_restore(s->sh, id, key, keylen, (enum st_value_type)vtype);
}

static int shard_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
			const uint64_t *vals, uint32_t n)
{
	struct into_shard *s = ctx;
	(void)lsn;
	for (uint32_t k = 0; k < n; k++) {
		enum st_insert_status st = st_shard_insert_id(s->sh, ids[k], ts[k], vals[k]);
		s->rejected += st > ST_INS_OOO;
	}
	s->points += n;
	if (++s->records % 16 == 0)
		st_shard_maintain(s->sh);
	return 0;
}

static void bench_recovery(void)
{
	char dir[600];
	struct st_wal_cfg cfg;
	struct st_wal *w;
	struct svc sv;
	struct owner_stats os = {0};
	struct st_wal_replay_stats rs;

	run_dir(dir, sizeof(dir));
	wal_cfg(&cfg, dir, ST_WAL_INTERVAL, -1);
	int rc = st_wal_open(&cfg, 1, &w);
	if (rc)
		die("st_wal_open", rc);
	svc_start(&sv, w);
	int64_t wall = run_inline(w, 1000, RECOVERY_BYTES, RECOVERY_WRITE_NS, &os, NULL);
	struct st_wal_stats ws;
	st_wal_stats_read(w, &ws);
	svc_stop(&sv);
	if ((rc = st_wal_close(w)))
		die("st_wal_close", rc);
	printf("# recovery: wrote %.3f GB of WAL (%llu points, %llu records, %llu segments) "
	       "in %.1f s\n", (double)ws.stored_bytes / 1e9, (unsigned long long)os.points,
	       (unsigned long long)ws.records, (unsigned long long)ws.segments_created,
	       (double)wall / 1e9);

	/* counting callbacks */
	struct counter c = {0};
	const struct st_wal_replay_cb ccb = {.series = count_series, .points = count_points};
	drop_cache(dir);
	int64_t t0 = cm_mono_ns();
	rc = st_wal_replay(dir, &st_io_posix, 1, 0, &ccb, &c, &rs);
	int64_t t_count = cm_mono_ns() - t0;
	if (rc || c.points != os.points || rs.torn_tails)
		die("replay (count)", rc ? rc : -EIO);
	printf("BENCH recovery_gb_per_s %.3f GB/s\n", (double)rs.bytes / 1e9 / ((double)t_count / 1e9));
	printf("BENCH recovery_points_per_s %.3g points/s\n",
	       (double)rs.points / ((double)t_count / 1e9));

	/* into a shard */
	struct st_rcu *rcu;
	struct st_shard_cfg scfg;
	struct into_shard is = {0};
	if ((rc = st_rcu_create(1, &rcu)))
		die("st_rcu_create", rc);
	st_shard_cfg_default(&scfg);
	scfg.rcu = rcu;
	scfg.memory_limit_bytes = (size_t)16 << 30;
	scfg.series_hint = 2048;
	if ((rc = st_shard_create(&scfg, &is.sh)))
		die("st_shard_create", rc);
	const struct st_wal_replay_cb scb = {.series = shard_series, .points = shard_points};
	drop_cache(dir);
	t0 = cm_mono_ns();
	rc = st_wal_replay(dir, &st_io_posix, 1, 0, &scb, &is, &rs);
	int64_t t_shard = cm_mono_ns() - t0;
	struct st_shard_stats ss;
	st_shard_stats_read(is.sh, &ss);
	if (rc || is.points != os.points || is.rejected || ss.points_stored != os.points)
		die("replay (shard)", rc ? rc : -EIO);
	printf("BENCH recovery_into_shard_gb_per_s %.3f GB/s\n",
	       (double)rs.bytes / 1e9 / ((double)t_shard / 1e9));
	printf("BENCH recovery_into_shard_points_per_s %.3g points/s\n",
	       (double)rs.points / ((double)t_shard / 1e9));
	printf("# recovery: shard holds %llu series, %llu points, %.2f bytes/value\n",
	       (unsigned long long)ss.series, (unsigned long long)ss.points_stored,
	       (double)ss.memory_used_bytes / (double)ss.points_stored);
	st_shard_destroy(is.sh);
	st_rcu_destroy(rcu);
	rm_files(dir);
}

/* ================================================================== main */

int main(void)
{
	pf_print_machine("wal");
	cm_log_set_level(CM_LOG_WARN);
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/pf_wal_bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		die("mkdtemp", -errno);

	struct st_uring *u;
	struct st_uring_cfg ucfg = {.ops = &st_io_posix, .entries = 4};
	int rc = st_uring_create(&ucfg, &u);
	if (rc) {
		fprintf(stderr, "wal bench: io_uring unavailable (%s)\n", strerror(-rc));
		rmdir(root);
		return 77;
	}
	st_uring_destroy(u);
	if (pf_dataset_tsbs(pf_shared_dir(), &ds)) {
		fprintf(stderr, "wal bench: TSBS data unavailable\n");
		rmdir(root);
		return 77;
	}
	struct st_wal_cfg def;
	st_wal_cfg_default(&def);
	printf("# dataset: TSBS cpu-only, %u series, %llu points; bursts of %d, a record per %d "
	       "points\n", ds.nseries, (unsigned long long)ds.npoints, BURST, BATCH);
	printf("# wal: dir=%s fs=%s segment=%llu MiB buffer=%u MiB fsync_interval=%lld ms\n", root,
	       fs_name(root), (unsigned long long)(def.segment_bytes >> 20), def.buffer_bytes >> 20,
	       (long long)(def.fsync_interval_ns / CM_NS_PER_MS));

	/* durability modes, default level */
	static const struct {
		enum st_wal_durability d;
		const char *name;
	} modes[] = {{ST_WAL_INTERVAL, "interval"}, {ST_WAL_SYNC, "sync"}};
	for (size_t m = 0; m < CM_ARRAY_SIZE(modes); m++) {
		struct mode_result best = {0};
		for (int rep = 0; rep < 2; rep++) {
			struct mode_result r = run_mode(modes[m].d, def.zstd_level);
			if (r.points_per_s > best.points_per_s)
				best = r;
		}
		const char *n = modes[m].name;
		printf("# %s: direct=%d writes=%llu syncs=%llu avg_write=%.0f B stalls=%llu "
		       "(buffer %llu, segment %llu)\n", n, best.direct,
		       (unsigned long long)best.writes, (unsigned long long)best.syncs,
		       best.avg_write_bytes, (unsigned long long)best.stalls,
		       (unsigned long long)best.stall_buffer, (unsigned long long)best.stall_segment);
		printf("BENCH wal_points_per_s_%s %.3g points/s\n", n, best.points_per_s);
		printf("BENCH wal_mb_per_s_%s %.1f MB/s\n", n, best.mb_per_s);
		printf("BENCH wal_bytes_per_point_%s %.3f bytes/point\n", n, best.bytes_per_point);
		uint64_t total = (uint64_t)(best.bytes_per_point * (double)ds.npoints);
		double yard = pwrite_rate(total, (size_t)best.avg_write_bytes, modes[m].d == ST_WAL_SYNC,
					  def.fsync_interval_ns, best.direct);
		printf("BENCH wal_pwrite_mb_per_s_%s %.1f MB/s\n", n, yard);
		printf("BENCH wal_vs_pwrite_ratio_%s %.3f ratio\n", n, best.mb_per_s / yard);
	}

	/* compression levels, interval mode; the better of two runs (a shared VM is noisy) */
	static const int levels[] = {0, -1, 1, 3};
	for (size_t i = 0; i < CM_ARRAY_SIZE(levels); i++) {
		struct mode_result r = run_mode(ST_WAL_INTERVAL, levels[i]);
		struct mode_result r2 = run_mode(ST_WAL_INTERVAL, levels[i]);
		if (r2.points_per_s > r.points_per_s)
			r = r2;
		char name[16];
		snprintf(name, sizeof(name), "%s%d", levels[i] < 0 ? "m" : "", abs(levels[i]));
		printf("BENCH wal_level%s_points_per_s %.3g points/s\n", name, r.points_per_s);
		printf("BENCH wal_level%s_bytes_per_point %.3f bytes/point\n", name, r.bytes_per_point);
		printf("BENCH wal_level%s_producer_ns_per_point %.1f ns/point\n", name,
		       (double)r.producer_cpu_ns / (double)ds.npoints);
	}

	/* who submits: the producing thread, or an I/O thread */
	struct mode_result a = {0};
	struct iot_result b = {0};
	for (int rep = 0; rep < 2; rep++) {
		struct mode_result ra = run_mode(ST_WAL_INTERVAL, def.zstd_level);
		struct iot_result rb = run_iothread();
		if (!rep || ra.producer_cpu_ns < a.producer_cpu_ns)
			a = ra;
		if (!rep || rb.producer_ns_per_point < b.producer_ns_per_point)
			b = rb;
	}
	printf("BENCH wal_source_ns_per_point %.1f ns/point\n", source_ns_per_point());
	printf("BENCH wal_submit_inline_producer_ns_per_point %.1f ns/point\n",
	       (double)a.producer_cpu_ns / (double)ds.npoints);
	printf("BENCH wal_submit_iothread_producer_ns_per_point %.1f ns/point\n",
	       b.producer_ns_per_point);
	printf("BENCH wal_submit_iothread_io_ns_per_point %.1f ns/point\n", b.iothread_ns_per_point);
	printf("BENCH wal_submit_inline_points_per_s %.3g points/s\n", a.points_per_s);
	printf("BENCH wal_submit_iothread_points_per_s %.3g points/s\n", b.points_per_s);
	printf("BENCH wal_submit_iothread_vs_inline_producer_ratio %.3f ratio\n",
	       b.producer_ns_per_point / ((double)a.producer_cpu_ns / (double)ds.npoints));
	printf("# iothread: producer waited for a free batch %llu times\n",
	       (unsigned long long)b.producer_waits);

	bench_recovery();

	pf_dataset_release(&ds);
	rmdir(root);
	return 0;
}
