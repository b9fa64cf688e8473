/*
 * sf_crashtest.c - the process the durability tests kill. It drives a real
 * store (WAL in sync mode, the flusher thread checkpointing every 200 ms so
 * kills land in checkpoints too) and acknowledges points on stdout only once
 * st_store_durable_lsn() covers them, as a network acknowledgement would.
 *
 *   sf_crashtest write DIR START     write points START, START+1, ... until
 *                                    killed; print "ack N" when every point
 *                                    below N is durable
 *   sf_crashtest verify DIR ACKED    recover DIR; every point below ACKED
 *                                    must be there exactly once with its
 *                                    value; points at or above ACKED may be
 *                                    there (durable, not yet acknowledged),
 *                                    with their value. Exit 0 or 1.
 *   sf_crashtest fill DIR BALLAST    on a small filesystem: write until the
 *                                    store refuses for lack of space, check
 *                                    reads go on, delete BALLAST, check that
 *                                    writes resume by themselves, verify.
 *
 * Point p is series p % NSERIES at time T0 + (p / NSERIES) s with value p.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "st_flush.h"
#include "st_series.h"
#include "st_store.h"
#include "st_walio.h"

#define NSERIES 50
#define T0 (1451606400LL * CM_NS_PER_SEC)

static uint8_t keys[NSERIES][64];
static uint32_t keylens[NSERIES];

static void make_keys(void)
{
	for (int s = 0; s < NSERIES; s++) {
		char host[16];
		snprintf(host, sizeof(host), "host%02d", s);
		struct st_tag tag = {{"host", 4}, {host, strlen(host)}};
		keylens[s] = (uint32_t)st_key_build(keys[s], sizeof(keys[s]), (struct st_str){"m", 1},
						    (struct st_str){"v", 1}, &tag, 1);
	}
}

static struct st_rcu *rcu;
static struct st_store *the_store; /* the flusher keeps a pointer to its stores array */
static struct st_walio *the_io;

static void close_store(struct st_flush *fl)
{
	st_flush_destroy(fl);
	st_walio_stop(the_io);
	st_store_close(the_store);
}

static struct st_store *open_store(const char *dir, uint64_t min_free, struct st_flush **fl)
{
	struct st_store_cfg cfg;
	st_store_cfg_default(&cfg);
	cfg.dir = dir;
	cfg.rcu = rcu;
	cfg.wal.durability = ST_WAL_SYNC;
	cfg.wal.io_thread = true; /* the daemon's default: a WAL I/O thread encodes */
	cfg.wal.segment_bytes = 1u << 20;
	cfg.wal.buffer_bytes = 256u << 10;
	cfg.wal.batch_points = 4096;
	cfg.shard.memory_limit_bytes = 64u << 20;
	cfg.partition_ns = 3600 * CM_NS_PER_SEC;
	struct st_store_recovery rec;
	if (st_store_open(&cfg, &the_store, &rec)) {
		fprintf(stderr, "crashtest: open %s failed\n", dir);
		exit(2);
	}
	struct st_flush_cfg fc;
	st_flush_cfg_default(&fc);
	fc.interval_ns = 200 * CM_NS_PER_MS;
	fc.min_free_bytes = min_free;
	fc.tick_ns = 5 * CM_NS_PER_MS;
	if (st_walio_start(&the_store, 1, 20 * CM_NS_PER_US, CM_NS_PER_MS, &the_io) ||
	    st_flush_create(&fc, rcu, &the_store, 1, fl) || st_flush_start(*fl)) {
		fprintf(stderr, "crashtest: flusher failed\n");
		exit(2);
	}
	return the_store;
}

static void point(uint64_t p, struct st_shard_point *out)
{
	uint32_t s = (uint32_t)(p % NSERIES);
	out->key = keys[s];
	out->keylen = keylens[s];
	out->hash = st_key_hash(keys[s], keylens[s]);
	out->ts_ns = T0 + (int64_t)(p / NSERIES) * CM_NS_PER_SEC;
	out->type = ST_VT_I64;
	out->v.i64 = (int64_t)p;
}

/*
 * Write one batch of n points from p; poll until durable. Returns how many
 * were stored (0: refused), waiting at most wait_ms for durability.
 */
static uint32_t write_batch(struct st_store *st, uint64_t p, uint32_t n, int wait_ms)
{
	struct st_shard_point pts[256];
	uint8_t status[256];
	for (uint32_t i = 0; i < n; i++)
		point(p + i, &pts[i]);
	uint32_t stored = st_store_insert_burst(st, pts, n, status);
	if (stored != n) {
		st_store_poll(st);
		return 0;
	}
	uint64_t lsn;
	while (st_store_commit(st, &lsn) == -EAGAIN)
		st_store_poll(st);
	int64_t give_up = cm_mono_ns() + (int64_t)wait_ms * CM_NS_PER_MS;
	while (st_store_durable_lsn(st) < lsn) {
		st_store_poll(st);
		if (cm_mono_ns() > give_up)
			return 0;
	}
	return n;
}

static int do_write(const char *dir, uint64_t start)
{
	struct st_flush *fl;
	struct st_store *st = open_store(dir, 0, &fl);
	for (uint64_t p = start;; p += 100) {
		while (!write_batch(st, p, 100, 60000))
			;
		printf("ack %llu\n", (unsigned long long)(p + 100));
		fflush(stdout);
	}
	return 0;
}

/* Check every series; 0 if good. *present: points found. */
static int verify_store(struct st_store *st, uint64_t acked, uint64_t *present)
{
	int reader = st_rcu_reader_register(rcu);
	int bad = 0;
	*present = 0;
	struct st_shard *sh = st_store_shard(st);
	for (int s = 0; s < NSERIES; s++) {
		int id = -1;
		for (uint32_t i = 0; i < st_shard_series_count(sh); i++) {
			uint32_t kl;
			const uint8_t *k = st_shard_series_key(sh, i, &kl, NULL);
			if (kl == keylens[s] && !memcmp(k, keys[s], kl))
				id = (int)i;
		}
		struct st_points pts;
		st_points_init(&pts);
		if (id >= 0) {
			st_read_begin(rcu, reader);
			int rc = st_store_read(st, (uint32_t)id, INT64_MIN, INT64_MAX, &pts);
			st_read_end(rcu, reader);
			if (rc < 0) {
				fprintf(stderr, "verify: read series %d: %d\n", s, rc);
				bad = 1;
			}
		}
		/* expected points of this series below acked: s, s + N, s + 2N, ... */
		uint64_t want = acked > (uint64_t)s ? (acked - (uint64_t)s + NSERIES - 1) / NSERIES : 0;
		for (size_t i = 0; i < pts.n; i++) {
			uint64_t p = (uint64_t)((pts.ts[i] - T0) / CM_NS_PER_SEC) * NSERIES + (uint64_t)s;
			if ((int64_t)pts.vals[i] != (int64_t)p) {
				fprintf(stderr, "verify: series %d point %llu has value %lld\n", s,
					(unsigned long long)p, (long long)pts.vals[i]);
				bad = 1;
			}
			if (i > 0 && pts.ts[i] <= pts.ts[i - 1]) {
				fprintf(stderr, "verify: series %d not in order / duplicated at %zu\n", s, i);
				bad = 1;
			}
			if (i < want && p != (uint64_t)s + i * NSERIES) {
				fprintf(stderr, "verify: series %d: acknowledged point %llu missing\n", s,
					(unsigned long long)((uint64_t)s + i * NSERIES));
				bad = 1;
				break;
			}
		}
		if (pts.n < want) {
			fprintf(stderr, "verify: series %d has %zu points, %llu acknowledged\n", s, pts.n,
				(unsigned long long)want);
			bad = 1;
		}
		*present += pts.n;
		st_points_release(&pts);
	}
	st_rcu_reader_unregister(rcu, reader);
	return bad;
}

static int do_verify(const char *dir, uint64_t acked)
{
	struct st_flush *fl;
	struct st_store *st = open_store(dir, 0, &fl);
	uint64_t present;
	int bad = verify_store(st, acked, &present);
	close_store(fl);
	printf("verify: acked=%llu present=%llu %s\n", (unsigned long long)acked,
	       (unsigned long long)present, bad ? "FAIL" : "ok");
	return bad;
}

static int do_fill(const char *dir, const char *ballast)
{
	struct st_flush *fl;
	struct st_store *st = open_store(dir, 1u << 20, &fl);
	uint64_t p = 0;
	int64_t give_up = cm_mono_ns() + 60 * CM_NS_PER_SEC;
	/* write until the store refuses: the disk fills */
	for (;;) {
		if (write_batch(st, p, 100, 200)) {
			p += 100;
		} else {
			struct st_store_stats s;
			int reader = st_rcu_reader_register(rcu);
			st_read_begin(rcu, reader); /* the flusher may replace the block set */
			st_store_stats_read(st, &s);
			st_read_end(rcu, reader);
			st_rcu_reader_unregister(rcu, reader);
			if (s.refused[ST_INS_DISK_FULL] > 0)
				break;
		}
		if (cm_mono_ns() > give_up) {
			fprintf(stderr, "fill: the disk never filled (acked %llu)\n",
				(unsigned long long)p);
			return 1;
		}
	}
	uint64_t present;
	printf("fill: refused at acked=%llu\n", (unsigned long long)p);
	if (verify_store(st, p, &present))
		return 1;
	/* space returns: writes resume by themselves */
	if (unlink(ballast)) {
		perror("unlink ballast");
		return 1;
	}
	give_up = cm_mono_ns() + 30 * CM_NS_PER_SEC;
	uint32_t ok = 0;
	while (ok < 20) {
		if (write_batch(st, p, 100, 200)) {
			p += 100;
			ok++;
		}
		if (cm_mono_ns() > give_up) {
			fprintf(stderr, "fill: writes did not resume\n");
			return 1;
		}
	}
	int bad = verify_store(st, p, &present);
	close_store(fl);
	printf("fill: resumed, acked=%llu present=%llu %s\n", (unsigned long long)p,
	       (unsigned long long)present, bad ? "FAIL" : "ok");
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sf_crashtest write|verify|fill DIR N|BALLAST\n");
		return 2;
	}
	cm_log_set_level(CM_LOG_WARN);
	make_keys();
	if (st_rcu_create(8, &rcu))
		return 2;
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], strtoull(argv[3], NULL, 10));
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[2], strtoull(argv[3], NULL, 10));
	if (!strcmp(argv[1], "fill"))
		return do_fill(argv[2], argv[3]);
	return 2;
}
