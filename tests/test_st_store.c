/*
 * test_st_store.c - the durable store end to end through its API: WAL
 * replay, checkpoints into blocks, reads across tiers, compaction, the cold
 * tier, retention, quarantine of damaged blocks, and a full disk through the
 * fault-injecting ops table. Every check compares with a reference model
 * (the last value written per series and time).
 *
 * The store has one writer: an "owner" thread polls it and runs the test's
 * inserts between polls, as a dataplane core would.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "st_flush.h"
#include "st_io_fault.h"
#include "st_series.h"
#include "st_store.h"
#include "tst_util.h"

#define HOUR (3600 * CM_NS_PER_SEC)
#define T0 (1451606400LL * CM_NS_PER_SEC) /* 2016-01-01 */

/* ============================================================ the owner */

struct owner {
	struct st_store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*job)(struct owner *o, void *arg);
	void *arg;
	bool stop;
};

static void *owner_main(void *arg)
{
	struct owner *o = arg;
	for (;;) {
		pthread_mutex_lock(&o->mu);
		if (o->stop) {
			pthread_mutex_unlock(&o->mu);
			break;
		}
		if (o->job) {
			o->job(o, o->arg);
			o->job = NULL;
			pthread_cond_broadcast(&o->cv);
		}
		pthread_mutex_unlock(&o->mu);
		st_store_poll(o->st);
		struct timespec ts = {.tv_nsec = 50 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void owner_start(struct owner *o, struct st_store *st)
{
	memset(o, 0, sizeof(*o));
	o->st = st;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	assert_int_equal(pthread_create(&o->thread, NULL, owner_main, o), 0);
}

static void owner_run(struct owner *o, void (*job)(struct owner *, void *), void *arg)
{
	pthread_mutex_lock(&o->mu);
	o->job = job;
	o->arg = arg;
	while (o->job)
		pthread_cond_wait(&o->cv, &o->mu);
	pthread_mutex_unlock(&o->mu);
}

static void owner_stop(struct owner *o)
{
	pthread_mutex_lock(&o->mu);
	o->stop = true;
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
}

/* ================================================================ model */

#define NSER 6
#define NPTS 4000

struct model {
	uint8_t keys[NSER][128];
	uint32_t keylen[NSER];
	uint8_t vtype[NSER];
	/* per series: values by point index; time = T0 + i * step */
	uint64_t vals[NSER][NPTS];
	bool present[NSER][NPTS];
	int64_t step;
};

static void model_init(struct model *m, int64_t step)
{
	memset(m, 0, sizeof(*m));
	m->step = step;
	for (int s = 0; s < NSER; s++) {
		char host[16];
		snprintf(host, sizeof(host), "h%d", s);
		struct st_tag tag = {{"host", 4}, {host, strlen(host)}};
		const char *meas = s % 2 ? "mem" : "cpu";
		int n = st_key_build(m->keys[s], sizeof(m->keys[s]), (struct st_str){meas, 3},
				     (struct st_str){"v", 1}, &tag, 1);
		assert_true(n > 0);
		m->keylen[s] = (uint32_t)n;
		m->vtype[s] = s % 3 == 2 ? ST_VT_F64 : ST_VT_I64;
	}
}

struct ins_job {
	struct model *m;
	int from, to;           /* point indexes */
	uint64_t salt;
	uint64_t lsn;           /* out: commit lsn */
	uint32_t refused;
};

static uint64_t value_of(int s, int i, uint64_t salt, uint8_t vtype)
{
	if (vtype == ST_VT_F64) {
		double d = (double)(s * 1000 + i) / 4.0 + (double)salt;
		uint64_t b;
		memcpy(&b, &d, 8);
		return b;
	}
	return (uint64_t)(int64_t)((s * 7 + i * 3) % 97 - 40 + (int64_t)salt);
}

static void ins_job_fn(struct owner *o, void *arg)
{
	struct ins_job *j = arg;
	struct model *m = j->m;
	struct st_shard_point pts[64];
	uint8_t status[64];
	uint32_t n = 0;
	int idx[64][2];
	for (int i = j->from; i < j->to; i++) {
		for (int s = 0; s < NSER; s++) {
			struct st_shard_point *p = &pts[n];
			p->key = m->keys[s];
			p->keylen = m->keylen[s];
			p->hash = st_key_hash(m->keys[s], m->keylen[s]);
			p->ts_ns = T0 + i * m->step;
			p->type = m->vtype[s];
			p->v.u64 = value_of(s, i, j->salt, m->vtype[s]);
			idx[n][0] = s;
			idx[n][1] = i;
			n++;
			if (n == 64 || (i == j->to - 1 && s == NSER - 1)) {
				st_store_insert_burst(o->st, pts, n, status);
				st_store_poll(o->st); /* as the owner's loop does between bursts */
				for (uint32_t k = 0; k < n; k++) {
					if (status[k] <= ST_INS_OOO) {
						m->vals[idx[k][0]][idx[k][1]] = pts[k].v.u64;
						m->present[idx[k][0]][idx[k][1]] = true;
					} else {
						j->refused++;
					}
				}
				n = 0;
			}
		}
	}
	/* the lsn covering every stored point: never 0 for a vacuous wait */
	while (st_store_commit(o->st, &j->lsn) == -EAGAIN)
		st_store_poll(o->st);
}

static uint64_t insert(struct owner *o, struct model *m, int from, int to, uint64_t salt)
{
	struct ins_job j = {.m = m, .from = from, .to = to, .salt = salt};
	owner_run(o, ins_job_fn, &j);
	return j.lsn;
}

static void wait_durable(struct st_store *st, uint64_t lsn)
{
	for (int i = 0; i < 20000 && st_store_durable_lsn(st) < lsn; i++)
		usleep(500);
	assert_true(st_store_durable_lsn(st) >= lsn);
}

static size_t summarized_chunks; /* over the run: the summarized path was taken */

/* st_store_read_summ's take: every chunk but every third (by start), so both paths run. */
static bool take_most(void *arg, const struct st_block_summary *c)
{
	const struct model *m = arg;
	return ((c->t_min - T0) / m->step) % 3 != 0;
}

/*
 * The summarized read of series s, against the model: the points returned
 * and the chunks answered by summaries together are the model's points,
 * each exactly once; every summary (count, time range, first, last, min,
 * max, sum) is that of the model's points in its range.
 */
static void check_summ(struct st_store *st, uint32_t id, const struct model *m, int s,
		       int keep_from)
{
	struct st_points p;
	struct st_sums sums = {0};
	st_points_init(&p);
	int n = st_store_read_summ(st, id, INT64_MIN, INT64_MAX, take_most, (void *)m, &p, &sums);
	assert_true(n >= 0);
	assert_int_equal((size_t)n, p.n);
	size_t k = 0;
	for (int i = 0; i < NPTS; i++) {
		if (!m->present[s][i] || i < keep_from)
			continue;
		int64_t t = T0 + i * m->step;
		const struct st_block_summary *in = NULL;
		for (size_t j = 0; j < sums.n; j++)
			if (sums.v[j].t_min <= t && t <= sums.v[j].t_max)
				in = &sums.v[j];
		if (in)
			continue;
		if (k >= p.n || p.ts[k] != t || p.vals[k] != m->vals[s][i])
			fail_msg("series %d point %d: not read, nor in a summary", s, i);
		k++;
	}
	assert_int_equal(k, p.n);
	summarized_chunks += sums.n;
	for (size_t j = 0; j < sums.n; j++) {
		const struct st_block_summary *u = &sums.v[j];
		assert_true(take_most((void *)m, u));
		uint32_t count = 0;
		uint64_t first = 0, last = 0, mn = 0, mx = 0, isum = 0;
		int64_t t_last = 0;
		double fsum = 0;
		for (int i = keep_from; i < NPTS; i++) {
			int64_t t = T0 + i * m->step;
			if (!m->present[s][i] || t < u->t_min || t > u->t_max)
				continue;
			uint64_t v = m->vals[s][i];
			double f;
			memcpy(&f, &v, sizeof(f));
			bool f64 = m->vtype[s] == ST_VT_F64;
			if (!count++) {
				first = mn = mx = v;
				assert_int_equal(t, u->t_min);
			} else if (f64) {
				double a, b;
				memcpy(&a, &mn, 8);
				memcpy(&b, &mx, 8);
				mn = f < a ? v : mn;
				mx = f > b ? v : mx;
			} else {
				mn = (int64_t)v < (int64_t)mn ? v : mn;
				mx = (int64_t)v > (int64_t)mx ? v : mx;
			}
			last = v;
			t_last = t;
			isum += v;
			fsum += f;
		}
		assert_int_equal(count, u->count);
		assert_int_equal(t_last, u->t_max);
		assert_int_equal(first, u->first);
		assert_int_equal(last, u->last);
		assert_int_equal(mn, u->min);
		assert_int_equal(mx, u->max);
		if (m->vtype[s] == ST_VT_F64)
			assert_true(fsum == u->sum.f64);
		else
			assert_int_equal(isum, u->sum.u64);
	}
	st_points_release(&p);
	st_sums_release(&sums);
}

/*
 * Every series reads back exactly the model, points with index >= keep_from
 * only, by st_store_read and by st_store_read_summ.
 */
static void check_model(struct st_rcu *rcu, struct st_store *st, const struct model *m,
			int keep_from)
{
	int reader = st_rcu_reader_register(rcu);
	assert_true(reader >= 0);
	for (int s = 0; s < NSER; s++) {
		int id = tst_store_find_series(st, m->keys[s], m->keylen[s]);
		struct st_points p;
		st_points_init(&p);
		st_read_begin(rcu, reader);
		int n = id < 0 ? 0 : st_store_read(st, (uint32_t)id, INT64_MIN, INT64_MAX, &p);
		if (id >= 0)
			check_summ(st, (uint32_t)id, m, s, keep_from);
		st_read_end(rcu, reader);
		assert_true(n >= 0);
		size_t k = 0;
		for (int i = 0; i < NPTS; i++) {
			if (!m->present[s][i] || i < keep_from)
				continue;
			if (k >= p.n || p.ts[k] != T0 + i * m->step || p.vals[k] != m->vals[s][i])
				fail_msg("series %d point %d: got n=%zu k=%zu ts=%lld", s, i, p.n, k,
					 k < p.n ? (long long)p.ts[k] : -1LL);
			k++;
		}
		assert_int_equal(k, p.n);
		st_points_release(&p);
	}
	st_rcu_reader_unregister(rcu, reader);
}

/* ============================================================== fixture */

struct fx {
	char dir[256];
	char cold[300];
	struct st_rcu *rcu;
	struct st_store_cfg cfg;
	struct st_store *st;
	struct st_flush *fl;
	struct owner own;
	struct model m;
	struct st_store_recovery rec;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_non_null(tst_tmpdir(f->dir, sizeof(f->dir), "st_store"));
	snprintf(f->cold, sizeof(f->cold), "%s/cold", f->dir);
	assert_int_equal(st_rcu_create(8, &f->rcu), 0);
	tst_store_cfg(&f->cfg, f->dir, f->rcu);
	f->cfg.shard.chunk_points = 64;
	f->cfg.shard.memory_limit_bytes = 64u << 20;
	f->cfg.wal.batch_points = 4096;
	f->cfg.partition_ns = 2 * HOUR;
	f->cfg.block_chunk_points = 128;
	model_init(&f->m, 10 * CM_NS_PER_SEC);
	*state = f;
	return 0;
}

static void fx_close(struct fx *f);

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (f->st)
		fx_close(f);
	tst_rm_tree(f->dir);
	st_rcu_destroy(f->rcu);
	st_io_fault_reset();
	free(f);
	return 0;
}

static void fx_open(struct fx *f)
{
	assert_int_equal(st_store_open(&f->cfg, &f->st, &f->rec), 0);
	struct st_flush_cfg fc;
	st_flush_cfg_default(&fc);
	fc.min_free_bytes = 0;
	fc.cold_after_ns = 48 * HOUR;
	fc.compact_blocks = 3;
	assert_int_equal(st_flush_create(&fc, f->rcu, &f->st, 1, &f->fl), 0);
	st_flush_service_now(f->fl, f->st); /* a spare WAL segment */
	owner_start(&f->own, f->st);
}

static void fx_close(struct fx *f)
{
	owner_stop(&f->own);
	st_flush_destroy(f->fl);
	st_store_close(f->st);
	f->fl = NULL;
	f->st = NULL;
}

/* Flush now, from the test thread, while the owner polls. */
static void flush_at(struct fx *f, int64_t now_ns)
{
	assert_int_equal(st_flush_store_now(f->fl, f->st, now_ns), 0);
}

/* ================================================================ tests */

static void test_st_store__wal_replay_after_close(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	uint64_t lsn = insert(&f->own, &f->m, 0, 1000, 0);
	wait_durable(f->st, lsn);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
	fx_open(f);
	assert_int_equal(f->rec.series, NSER);
	assert_true(f->rec.wal.points >= 1000 * NSER);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
}

static void test_st_store__checkpoint_moves_points_to_blocks(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	insert(&f->own, &f->m, 0, 2000, 0);
	struct st_store_stats s0, s;
	usleep(20000); /* the owner publishes its memory counters as it polls */
	st_store_stats_read(f->st, &s0);
	flush_at(f, T0 + 24 * HOUR);
	st_store_stats_read(f->st, &s);
	assert_true(s.blocks[ST_TIER_WARM] >= 1);
	assert_true(s.checkpoints == 1);
	check_model(f->rcu, f->st, &f->m, 0);
	/* hot chunks were released: only the open ones (empty after sealing) remain */
	struct st_store_stats s2;
	for (int i = 0; i < 200; i++) {
		usleep(1000);
		st_store_stats_read(f->st, &s2);
		if (s2.shard.memory_used_bytes < s0.shard.memory_used_bytes / 2)
			break;
	}
	assert_true(s2.shard.memory_used_bytes < s0.shard.memory_used_bytes / 2);
	assert_true(s2.checkpoint_lsn > 0);
	/* more points, some overwriting flushed ones (last write wins across tiers) */
	insert(&f->own, &f->m, 1500, 3000, 5);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
	/* after a restart: catalog + blocks + WAL tail */
	fx_open(f);
	assert_int_equal(f->rec.series, NSER);
	assert_true(f->rec.blocks >= 1);
	assert_true(f->rec.checkpoint_lsn > 0);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
}

static void test_st_store__compaction_and_cold_tier(void **state)
{
	struct fx *f = *state;
	f->cfg.cold_dir = f->cold;
	fx_open(f);
	/* four checkpoints of the same partitions: compaction merges them */
	for (int k = 0; k < 4; k++) {
		insert(&f->own, &f->m, k * 100, k * 100 + 300, (uint64_t)k);
		flush_at(f, T0 + 3 * HOUR);
	}
	struct st_store_stats s;
	st_store_stats_read(f->st, &s);
	/* one block per flush; the third flush merged three into one */
	assert_int_equal(s.blocks[ST_TIER_WARM], 2);
	check_model(f->rcu, f->st, &f->m, 0);
	/* far in the future: every partition goes cold (zstd 19), data unchanged */
	flush_at(f, T0 + 30 * 24 * HOUR);
	st_store_stats_read(f->st, &s);
	assert_int_equal(s.blocks[ST_TIER_WARM], 0);
	assert_int_equal(s.blocks[ST_TIER_COLD], 1);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
	fx_open(f);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
}

static void test_st_store__retention_removes_exactly_expired(void **state)
{
	struct fx *f = *state;
	/* cpu keeps 1 h, the rest forever */
	char err[128];
	assert_int_equal(st_retention_parse("cpu=1h", &f->cfg.retention, err, sizeof(err)), 0);
	fx_open(f);
	insert(&f->own, &f->m, 0, NPTS, 0);   /* 40000 s of data = 11.1 h */
	int64_t now = T0 + 1000 * f->m.step + HOUR; /* cutoff at point 1000 for cpu */
	flush_at(f, now);
	/* The store's clock is the wall clock: reads use it for the cutoff. Data from
	 * 2016 with a 1 h retention is all expired for cpu today; check disk instead. */
	struct st_store_stats s;
	st_store_stats_read(f->st, &s);
	uint64_t kept = 0;
	for (int sidx = 0; sidx < NSER; sidx++)
		for (int i = 0; i < NPTS; i++)
			if (f->m.present[sidx][i] && (sidx % 2 == 1 || i >= 1000))
				kept++;
	assert_int_equal(s.block_points[ST_TIER_WARM] + s.block_points[ST_TIER_COLD], kept);
	/* cpu series read back empty (expired by today's clock), mem series whole */
	struct model mem = f->m;
	for (int sidx = 0; sidx < NSER; sidx += 2)
		memset(mem.present[sidx], 0, sizeof(mem.present[sidx]));
	check_model(f->rcu, f->st, &mem, 0);
	fx_close(f);
}

static void test_st_store__damaged_block_is_quarantined(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	insert(&f->own, &f->m, 0, 1500, 0);
	flush_at(f, T0 + 24 * HOUR);
	fx_close(f);
	/* flip a byte of the first data section (after the 64-byte header): its CRC must catch it */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "ls '%s'/blocks/*.blk | head -1", f->dir);
	FILE *p = popen(cmd, "r");
	char path[512] = "";
	assert_non_null(fgets(path, sizeof(path), p));
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat sb;
	fstat(fd, &sb);
	uint8_t b;
	assert_true(sb.st_size >= 4096);
	assert_int_equal(pread(fd, &b, 1, 72), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, 72), 1);
	close(fd);
	fx_open(f);
	assert_int_equal(f->rec.blocks_quarantined, 1);
	snprintf(cmd, sizeof(cmd), "ls '%s'/blocks/quarantine/ | grep -c blk", f->dir);
	p = popen(cmd, "r");
	char out[16] = "";
	assert_non_null(fgets(out, sizeof(out), p));
	pclose(p);
	assert_int_equal(atoi(out), 1);
	/* the rest serves: new writes work, series exist */
	uint64_t lsn = insert(&f->own, &f->m, 1500, 1600, 0);
	wait_durable(f->st, lsn);
	fx_close(f);
}

/* A seal that finds no memory must not let a checkpoint cover its points. */
#define MSER 3000
#define MPTS 40

struct mem_job {
	bool stored[MSER][MPTS];
	uint64_t refused;
	uint64_t lsn;
};

static void mem_key(int s, uint8_t *key, uint32_t *keylen)
{
	char host[16];
	snprintf(host, sizeof(host), "m%d", s);
	struct st_tag tag = {{"host", 4}, {host, strlen(host)}};
	*keylen = (uint32_t)st_key_build(key, 128, (struct st_str){"mem", 3},
					 (struct st_str){"v", 1}, &tag, 1);
}

static void mem_job_fn(struct owner *o, void *arg)
{
	struct mem_job *j = arg;
	uint8_t keys[64][128];
	struct st_shard_point pts[64];
	uint8_t status[64];
	for (int i = 0; i < MPTS; i++) {
		for (int s0 = 0; s0 < MSER; s0 += 64) {
			uint32_t n = 0;
			for (int s = s0; s < s0 + 64 && s < MSER; s++, n++) {
				mem_key(s, keys[n], &pts[n].keylen);
				pts[n].key = keys[n];
				pts[n].hash = st_key_hash(keys[n], pts[n].keylen);
				pts[n].ts_ns = T0 + i * 10 * CM_NS_PER_SEC;
				pts[n].type = ST_VT_I64;
				pts[n].v.i64 = s * 1000 + i;
			}
			st_store_insert_burst(o->st, pts, n, status);
			st_store_poll(o->st);
			for (uint32_t k = 0; k < n; k++) {
				j->stored[s0 + k][i] = status[k] <= ST_INS_OOO;
				j->refused += status[k] > ST_INS_OOO;
			}
		}
	}
	while (st_store_commit(o->st, &j->lsn) == -EAGAIN)
		st_store_poll(o->st);
}

static void mem_check(struct fx *f, const struct mem_job *j)
{
	int reader = st_rcu_reader_register(f->rcu);
	for (int s = 0; s < MSER; s++) {
		uint8_t key[128];
		uint32_t kl;
		mem_key(s, key, &kl);
		int id = tst_store_find_series(f->st, key, kl);
		struct st_points p;
		st_points_init(&p);
		st_read_begin(f->rcu, reader);
		if (id >= 0)
			st_store_read(f->st, (uint32_t)id, INT64_MIN, INT64_MAX, &p);
		st_read_end(f->rcu, reader);
		size_t k = 0;
		for (int i = 0; i < MPTS; i++) {
			if (!j->stored[s][i])
				continue;
			if (k >= p.n || p.vals[k] != (uint64_t)(s * 1000 + i))
				fail_msg("series %d point %d missing (n=%zu)", s, i, p.n);
			k++;
		}
		st_points_release(&p);
	}
	st_rcu_reader_unregister(f->rcu, reader);
}

static void test_st_store__checkpoint_at_memory_limit_loses_nothing(void **state)
{
	struct fx *f = *state;
	f->cfg.shard.chunk_points = 16;
	f->cfg.shard.memory_limit_bytes = (size_t)2 << 20; /* room for 1 slab of chunks */
	f->cfg.wal.durability = ST_WAL_SYNC;
	fx_open(f);
	struct mem_job *j = calloc(1, sizeof(*j));
	owner_run(&f->own, mem_job_fn, j);
	assert_true(j->refused > 0); /* the shard ran out of memory */
	wait_durable(f->st, j->lsn);
	/* the first checkpoint may be partial; the second, with memory freed, completes */
	flush_at(f, T0 + 24 * HOUR);
	flush_at(f, T0 + 24 * HOUR);
	mem_check(f, j);
	fx_close(f);
	fx_open(f);
	mem_check(f, j);
	fx_close(f);
	free(j);
}

/* A checkpoint spanning many partitions (a backfill) writes them all. */
static void test_st_store__checkpoint_of_many_partitions(void **state)
{
	struct fx *f = *state;
	model_init(&f->m, 60 * CM_NS_PER_SEC); /* 4000 minutes: 34 two-hour partitions */
	fx_open(f);
	insert(&f->own, &f->m, 0, NPTS, 0);
	flush_at(f, T0 + 3 * 24 * HOUR);
	struct st_store_stats s;
	st_store_stats_read(f->st, &s);
	assert_int_equal(s.blocks[ST_TIER_WARM], 34);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
	fx_open(f);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
}

static void test_st_store__catalog_torn_tail_is_cut(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	insert(&f->own, &f->m, 0, 500, 0);
	flush_at(f, T0 + 24 * HOUR);
	fx_close(f);
	char path[400];
	snprintf(path, sizeof(path), "%s/series.cat", f->dir);
	FILE *fp = fopen(path, "ab");
	assert_non_null(fp);
	fputs("SFCF torn frame, a crash in the middle of an append", fp);
	fclose(fp);
	fx_open(f);
	assert_true(f->rec.catalog_dropped_bytes > 0);
	assert_int_equal(f->rec.series, NSER);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
	fx_open(f);
	assert_int_equal(f->rec.catalog_dropped_bytes, 0);
	fx_close(f);
}

static void test_st_store__enospc_refuses_then_resumes(void **state)
{
	struct fx *f = *state;
	f->cfg.ops = st_io_fault_ops();
	fx_open(f);
	uint64_t lsn = insert(&f->own, &f->m, 0, 200, 0);
	wait_durable(f->st, lsn);
	/* the disk fills: WAL writes fail with ENOSPC */
	struct st_io_fault ft = {.write_errno = ENOSPC, .fail_nth_write = 1, .persist = true,
				 .path_filter = ".wal"};
	st_io_fault_set(&ft);
	uint32_t refused = 0;
	for (int k = 0; k < 250 && !refused; k++) {
		struct ins_job j = {.m = &f->m, .from = 200 + k * 10, .to = 210 + k * 10};
		owner_run(&f->own, ins_job_fn, &j);
		refused += j.refused;
		usleep(2000);
	}
	assert_true(refused > 0);
	struct st_store_stats s;
	st_store_stats_read(f->st, &s);
	assert_true(s.refused[ST_INS_DISK_FULL] + s.refused[ST_INS_BACKPRESSURE] > 0);
	assert_int_equal(s.wal.last_error, -ENOSPC);
	/* space returns: the WAL drains by itself and takes writes again */
	st_io_fault_reset();
	uint64_t l2 = 0;
	bool resumed = false;
	for (int k = 0; k < 2000 && !resumed; k++) {
		struct ins_job j = {.m = &f->m, .from = 3000, .to = 3001};
		owner_run(&f->own, ins_job_fn, &j);
		l2 = j.lsn;
		resumed = !j.refused;
		if (!resumed)
			usleep(2000);
	}
	assert_true(resumed);
	wait_durable(f->st, l2);
	fx_close(f);
	/* nothing acknowledged was lost: every point stored before the fault is back */
	f->cfg.ops = &st_io_posix;
	fx_open(f);
	check_model(f->rcu, f->st, &f->m, 0);
	fx_close(f);
}

int main(void)
{
	cm_log_set_level(CM_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_st_store__wal_replay_after_close, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__checkpoint_moves_points_to_blocks,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__compaction_and_cold_tier, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__retention_removes_exactly_expired,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__damaged_block_is_quarantined, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__checkpoint_at_memory_limit_loses_nothing,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__checkpoint_of_many_partitions, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__catalog_torn_tail_is_cut, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_st_store__enospc_refuses_then_resumes, fx_setup,
						fx_teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (summarized_chunks == 0) {
		fprintf(stderr, "st_store_read_summ never answered a chunk from its summary\n");
		return 1;
	}
	printf("st_store_read_summ: %zu chunks answered by summaries\n", summarized_chunks);
	return failed;
}
