/*
 * test_st_wal.c - the write-ahead log (storage/st_wal.c): every record a
 * WAL takes comes back from st_wal_replay, checked against a reference
 * model that mirrors what the test staged (each series definition, each
 * point's id, time and value bits, in lsn order, with exact lsn numbering
 * and next_lsn), in both durability modes, across segment rollovers, after
 * checkpoints, at several zstd levels, with torn, corrupt and padded tails,
 * corrupt middle segments, unused segments, injected faults (ENOSPC, EIO on
 * fdatasync, short writes, failing preallocation) and with O_DIRECT on the
 * repository's ext4 and without it on tmpfs; crash images copied while the
 * owner runs hold every record durable_lsn promised. Also the payload
 * decoder's must-parse / must-reject table and the stage limits.
 *
 * Timing: about 10 s (a few cases wait out the WAL's 100 ms retry backoff;
 * one waits out close()'s 5 s give-up).
 *
 * Files live in a fresh mkdtemp directory under $TMPDIR (or /tmp), removed
 * after each case. The test thread is the owner and, unless a case says
 * otherwise, also calls st_wal_service. Exits 77 (skip) when the kernel
 * refuses io_uring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "cm_log.h"
#include "cm_rand.h"
#include "st_io.h"
#include "st_io_fault.h"
#include "st_series.h"
#include "st_wal.h"
#include "st_wal_format.h"
#include "tst_util.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define EXT4_MAGIC 0xEF53
#define TMPFS_MAGIC 0x01021994
#define KEY_CAP 64
#define TPATH 1024                  /* test directories' paths */
#define MAX_SEGS 512
#define MAX_RECS 4096

/* ================================================================ the log */

/*
 * What a WAL replays, as a flat sequence of callback events; the model
 * builds the same sequence from what the test staged and committed.
 */
enum ev_kind { EV_SERIES = 1, EV_POINTS };

struct ev {
	uint8_t kind;
	uint64_t lsn;           /* the record's (model); series from replay: 0 */
	uint32_t id;            /* series */
	uint8_t vtype;
	uint16_t keylen;
	uint8_t key[KEY_CAP];
	uint32_t n;             /* points */
	size_t first;           /* index of the first point in the columns */
};

struct log {
	struct ev *ev;
	size_t nev, evcap;
	uint32_t *ids;
	int64_t *ts;
	uint64_t *vals;
	size_t npts, ptcap;
	/* replay only: fail the callback of event fail_at (1-based) with fail_rc */
	size_t fail_at;
	int fail_rc;
};

static struct ev *log_push(struct log *l)
{
	if (l->nev == l->evcap) {
		l->evcap = l->evcap ? 2 * l->evcap : 256;
		l->ev = realloc(l->ev, l->evcap * sizeof(*l->ev));
		assert_non_null(l->ev);
	}
	struct ev *e = &l->ev[l->nev++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void log_reserve_points(struct log *l, size_t n)
{
	if (l->npts + n <= l->ptcap)
		return;
	while (l->npts + n > l->ptcap)
		l->ptcap = l->ptcap ? 2 * l->ptcap : 4096;
	l->ids = realloc(l->ids, l->ptcap * sizeof(*l->ids));
	l->ts = realloc(l->ts, l->ptcap * sizeof(*l->ts));
	l->vals = realloc(l->vals, l->ptcap * sizeof(*l->vals));
	assert_true(l->ids && l->ts && l->vals);
}

static void log_series(struct log *l, uint64_t lsn, uint32_t id, uint8_t vtype,
		       const uint8_t *key, uint16_t keylen)
{
	assert_true(keylen <= KEY_CAP);
	struct ev *e = log_push(l);
	e->kind = EV_SERIES;
	e->lsn = lsn;
	e->id = id;
	e->vtype = vtype;
	e->keylen = keylen;
	memcpy(e->key, key, keylen);
}

static void log_points(struct log *l, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
		       const uint64_t *vals, uint32_t n)
{
	log_reserve_points(l, n);
	struct ev *e = log_push(l);
	e->kind = EV_POINTS;
	e->lsn = lsn;
	e->n = n;
	e->first = l->npts;
	memcpy(l->ids + l->npts, ids, n * sizeof(*ids));
	memcpy(l->ts + l->npts, ts, n * sizeof(*ts));
	memcpy(l->vals + l->npts, vals, n * sizeof(*vals));
	l->npts += n;
}

static void log_clear(struct log *l)
{
	l->nev = 0;
	l->npts = 0;
	l->fail_at = 0;
	l->fail_rc = 0;
}

static void log_release(struct log *l)
{
	free(l->ev);
	free(l->ids);
	free(l->ts);
	free(l->vals);
	memset(l, 0, sizeof(*l));
}

static int cb_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key, uint16_t keylen)
{
	struct log *l = ctx;
	if (keylen > KEY_CAP)
		return -E2BIG;
	if (l->fail_at && l->nev + 1 == l->fail_at)
		return l->fail_rc;
	log_series(l, 0, id, vtype, key, keylen);
	return 0;
}

static int cb_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
		     const uint64_t *vals, uint32_t n)
{
	struct log *l = ctx;
	if (l->fail_at && l->nev + 1 == l->fail_at)
		return l->fail_rc;
	log_points(l, lsn, ids, ts, vals, n);
	return 0;
}

static const struct st_wal_replay_cb log_cb = {.series = cb_series, .points = cb_points};

/* Which model events a replay should have delivered. */
struct keep {
	uint64_t from_lsn;      /* records older than this were skipped (or deleted) */
	uint64_t lost_lo;       /* records in [lost_lo, lost_hi) were cut off */
	uint64_t lost_hi;
};

static bool keeps(const struct keep *k, uint64_t lsn)
{
	return lsn >= k->from_lsn && !(lsn >= k->lost_lo && lsn < k->lost_hi);
}

/* got holds exactly the events of want that k keeps, in order. */
static void assert_log_matches(const struct log *want, const struct log *got,
			       const struct keep *k)
{
	size_t j = 0;
	for (size_t i = 0; i < want->nev; i++) {
		const struct ev *a = &want->ev[i];
		if (!keeps(k, a->lsn))
			continue;
		if (j >= got->nev)
			fail_msg("replay ended at event %zu of the model (lsn %llu)", i,
				 (unsigned long long)a->lsn);
		const struct ev *b = &got->ev[j++];
		assert_int_equal(a->kind, b->kind);
		if (a->kind == EV_SERIES) {
			assert_int_equal(a->id, b->id);
			assert_int_equal(a->vtype, b->vtype);
			assert_int_equal(a->keylen, b->keylen);
			assert_memory_equal(a->key, b->key, a->keylen);
			continue;
		}
		assert_int_equal(a->lsn, b->lsn);
		assert_int_equal(a->n, b->n);
		assert_memory_equal(want->ids + a->first, got->ids + b->first, a->n * sizeof(uint32_t));
		assert_memory_equal(want->ts + a->first, got->ts + b->first, a->n * sizeof(int64_t));
		assert_memory_equal(want->vals + a->first, got->vals + b->first,
				    a->n * sizeof(uint64_t));
	}
	if (j != got->nev)
		fail_msg("replay delivered %zu events more than the model", got->nev - j);
}

/* Records (distinct lsns) of the model that k keeps, and the largest. */
static uint64_t model_records(const struct log *m, const struct keep *k, uint64_t *max_lsn)
{
	uint64_t n = 0, prev = 0;
	*max_lsn = 0;
	for (size_t i = 0; i < m->nev; i++) {
		uint64_t lsn = m->ev[i].lsn;
		if (lsn != prev && keeps(k, lsn)) {
			n++;
			*max_lsn = lsn;
		}
		prev = lsn;
	}
	return n;
}

/* ============================================================== fixture */

struct tw {
	struct st_wal_cfg cfg;
	char dir[TPATH];
	struct st_wal *w;
	struct log model;           /* everything committed */
	struct log stage;           /* staged, not yet committed (lsn 0) */
	uint64_t rng;
	uint32_t nseries;
	int64_t t;
	bool noise;                 /* random ids, times and values: incompressible */
	bool service;               /* pump() calls st_wal_service */
	uint64_t refused;           /* points the stage had no room for */
	uint64_t records;
};

struct fixture {
	char dir[256];
	char extra[TPATH];            /* a case's directory elsewhere (ext4 repo, tmpfs) */
	struct tw tw;
	struct log got;
};

static struct fixture fx;

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	assert_non_null(tst_tmpdir(fx.dir, sizeof(fx.dir), "test_st_wal"));
	st_io_fault_reset();
	return 0;
}

static void tw_release(struct tw *t)
{
	st_wal_close(t->w);
	t->w = NULL;
	log_release(&t->model);
	log_release(&t->stage);
}

static int teardown(void **state)
{
	(void)state;
	st_io_fault_reset();
	tw_release(&fx.tw);
	log_release(&fx.got);
	tst_rm_tree(fx.dir);
	if (fx.extra[0])
		tst_rm_tree(fx.extra);
	return 0;
}

/* out = a/b; fails the case if it does not fit. */
static void path_join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);
	assert_true(n > 0 && (size_t)n < cap);
}

static uint64_t rnd(struct tw *t)
{
	return cm_splitmix64(&t->rng);
}


/* A WAL in dir (created if missing) with small segments and buffers. */
static void tw_init(struct tw *t, const char *dir, enum st_wal_durability d)
{
	memset(t, 0, sizeof(*t));
	int n = snprintf(t->dir, sizeof(t->dir), "%s", dir);
	assert_true(n > 0 && (size_t)n < sizeof(t->dir));
	mkdir(t->dir, 0755);
	st_wal_cfg_default(&t->cfg);
	t->cfg.dir = t->dir;
	t->cfg.shard_id = 7;
	t->cfg.durability = d;
	t->cfg.fsync_interval_ns = 2 * CM_NS_PER_MS;
	t->cfg.segment_bytes = 1 * MIB;
	t->cfg.buffer_bytes = 256 * KIB;
	t->cfg.batch_points = 2048;
	t->cfg.zstd_level = -1;
	t->cfg.direct = true;
	t->rng = 42;
	t->t = INT64_C(1700000000000000000);
	t->service = true;
}

static void tw_open(struct tw *t, uint64_t next_lsn)
{
	int rc = st_wal_open(&t->cfg, next_lsn, &t->w);
	if (rc)
		fail_msg("st_wal_open: %s", strerror(-rc));
}

static void tw_close(struct tw *t)
{
	assert_int_equal(st_wal_close(t->w), 0);
	t->w = NULL;
}

static struct st_wal_stats tw_stats(const struct tw *t)
{
	struct st_wal_stats s;
	st_wal_stats_read(t->w, &s);
	return s;
}

/* One owner pass: poll, and service when this case lets the test thread do it. */
static void pump(struct tw *t)
{
	st_wal_poll(t->w);
	if (t->service)
		st_wal_service(t->w);
	cm_sleep_ns(30 * CM_NS_PER_US);
}

static void key_of(uint32_t id, uint8_t *key, uint16_t *keylen)
{
	int n = snprintf((char *)key, KEY_CAP, "cpu,host=host_%u,rack=%u usage_user", id, id % 7);
	*keylen = (uint16_t)n;
}

/*
 * Stage up to n points (a new series now and then), mirrored in t->stage.
 * Returns how many fit; the rest are refused, as a shard refuses them.
 */
static uint32_t stage(struct tw *t, uint32_t n)
{
	uint32_t done = 0;
	for (; done < n; done++) {
		bool make = t->nseries < 4 || (!t->noise && rnd(t) % 32 == 0);
		uint8_t key[KEY_CAP];
		uint16_t keylen = 0;
		if (make)
			key_of(t->nseries, key, &keylen);
		if (!st_wal_room(t->w, 1, keylen)) {
			t->refused += n - done;
			break;
		}
		if (make) {
			uint8_t vt = (uint8_t)(ST_VT_F64 + t->nseries % 4);
			st_wal_add_series(t->w, t->nseries, vt, key, keylen);
			log_series(&t->stage, 0, t->nseries, vt, key, keylen);
			t->nseries++;
		}
		uint32_t id;
		int64_t ts;
		uint64_t v;
		if (t->noise) {
			id = (uint32_t)rnd(t);
			ts = (int64_t)rnd(t);
			v = rnd(t);
		} else {
			id = (uint32_t)(rnd(t) % t->nseries);
			t->t += 10 * CM_NS_PER_MS;
			ts = t->t;
			v = rnd(t) % 100;
		}
		st_wal_add_point(t->w, id, ts, v);
		log_points(&t->stage, 0, &id, &ts, &v, 1);
	}
	return done;
}

/* Try to commit the stage; on success the staged events join the model. */
static int commit(struct tw *t)
{
	uint64_t lsn = 99;
	int rc = st_wal_commit(t->w, &lsn);
	if (rc) {
		assert_int_equal(rc, -EAGAIN);
		assert_int_equal(lsn, 0);
		return rc;
	}
	if (t->stage.nev == 0) {
		assert_int_equal(lsn, 0);
		return 0;
	}
	assert_int_equal(lsn, st_wal_committed_lsn(t->w));
	if (t->model.nev)
		assert_int_equal(lsn, t->model.ev[t->model.nev - 1].lsn + 1);
	/* the record: definitions, then one points event with all of its points */
	uint32_t npts = 0;
	for (size_t i = 0; i < t->stage.nev; i++) {
		const struct ev *e = &t->stage.ev[i];
		if (e->kind == EV_SERIES)
			log_series(&t->model, lsn, e->id, e->vtype, e->key, e->keylen);
		else
			npts += e->n;
	}
	if (npts)
		log_points(&t->model, lsn, t->stage.ids, t->stage.ts, t->stage.vals, npts);
	log_clear(&t->stage);
	t->records++;
	return 0;
}

/* Commit, pumping until the WAL takes the stage (fails after timeout_ms). */
static void commit_wait(struct tw *t, int64_t timeout_ms)
{
	int64_t deadline = cm_mono_ns() + timeout_ms * CM_NS_PER_MS;
	while (commit(t) == -EAGAIN) {
		if (cm_mono_ns() > deadline) {
			struct st_wal_stats s = tw_stats(t);
			fail_msg("commit still -EAGAIN after %lld ms (stall_buffer=%llu "
				 "stall_segment=%llu last_error=%d)", (long long)timeout_ms,
				 (unsigned long long)s.stall_buffer,
				 (unsigned long long)s.stall_segment, s.last_error);
		}
		pump(t);
	}
}

/* Pump until everything committed is durable (fails after timeout_ms). */
static void wait_durable(struct tw *t, int64_t timeout_ms)
{
	int64_t deadline = cm_mono_ns() + timeout_ms * CM_NS_PER_MS;
	uint64_t want = st_wal_committed_lsn(t->w);
	while (st_wal_durable_lsn(t->w) < want) {
		if (cm_mono_ns() > deadline) {
			struct st_wal_stats s = tw_stats(t);
			fail_msg("durable_lsn %llu < committed %llu after %lld ms (writes=%llu "
				 "syncs=%llu errors=%llu last_error=%d)",
				 (unsigned long long)s.durable_lsn, (unsigned long long)want,
				 (long long)timeout_ms, (unsigned long long)s.writes,
				 (unsigned long long)s.syncs, (unsigned long long)s.write_errors,
				 s.last_error);
		}
		pump(t);
	}
	assert_true(st_wal_durable_lsn(t->w) <= st_wal_committed_lsn(t->w));
}

/*
 * Write nrec batches of about per points each, committing and pumping as a
 * shard core would; a batch the stage cannot hold goes out in several records.
 */
static void write_records(struct tw *t, uint32_t nrec, uint32_t per)
{
	for (uint32_t r = 0; r < nrec; r++) {
		uint32_t want = per / 2 + (uint32_t)(rnd(t) % (per + 1));
		do {
			want -= stage(t, want);
			commit_wait(t, 10000);
		} while (want > 0);
		pump(t);
	}
}

static int replay(const struct tw *t, const struct st_io_ops *ops, uint64_t from,
		  struct log *out, struct st_wal_replay_stats *st)
{
	log_clear(out);
	return st_wal_replay(t->dir, ops, t->cfg.shard_id, from, &log_cb, out, st);
}

/*
 * Replay from lsn `from`: it succeeds and delivers exactly the model's events
 * that k keeps, as that many records. Returns the largest lsn k keeps.
 */
static uint64_t replay_keeps(const struct tw *t, uint64_t from, const struct keep *k,
			     struct st_wal_replay_stats *st)
{
	uint64_t max_lsn;
	uint64_t nrec = model_records(&t->model, k, &max_lsn);
	assert_int_equal(replay(t, &st_io_posix, from, &fx.got, st), 0);
	assert_log_matches(&t->model, &fx.got, k);
	assert_int_equal(st->records, nrec);
	return max_lsn;
}

/* Replay everything and check it against the model: nothing lost, nothing torn. */
static void replay_check_all(const struct tw *t, struct st_wal_replay_stats *st)
{
	struct keep k = {0};
	uint64_t max_lsn = replay_keeps(t, 0, &k, st);
	assert_int_equal(st->records_skipped, 0);
	assert_int_equal(st->torn_tails, 0);
	assert_int_equal(st->bad_bytes, 0);
	assert_int_equal(st->lsn_gaps, 0);
	assert_int_equal(st->points, t->model.npts);
	assert_int_equal(st->next_lsn, max_lsn + 1);
}

/* ========================================================= segment files */

static const char *seg_file(const char *dir, uint64_t seq)
{
	static char path[2 * TPATH];
	snprintf(path, sizeof(path), "%s/%016llx.wal", dir, (unsigned long long)seq);
	return path;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment sequence numbers in dir, sorted. */
static size_t seg_list(const char *dir, uint64_t *seqs, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		unsigned long long s;
		char tail[8];
		if (sscanf(e->d_name, "%16llx.%7s", &s, tail) == 2 && !strcmp(tail, "wal")) {
			assert_true(n < max);
			seqs[n++] = s;
		}
	}
	closedir(d);
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	return n;
}

/* The header of a segment; false when it is not a valid one (a zero spare). */
static bool seg_header(const char *dir, uint64_t seq, struct st_wal_seg_hdr *h)
{
	int fd = open(seg_file(dir, seq), O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = pread(fd, h, sizeof(*h), 0);
	close(fd);
	return n == (ssize_t)sizeof(*h) && h->magic == ST_WAL_SEG_MAGIC &&
	       h->crc == cm_crc32c(0, h, offsetof(struct st_wal_seg_hdr, crc));
}

struct rec_pos {
	uint64_t off;
	uint32_t len;               /* header, payload and padding */
	uint32_t stored_len, raw_len;
	uint64_t lsn;
	uint16_t codec;
};

/* The records of a segment, as a reader walks them (stops at the first non-record). */
static uint32_t seg_records(const char *dir, uint64_t seq, struct rec_pos *out, uint32_t max)
{
	int fd = open(seg_file(dir, seq), O_RDONLY);
	struct stat sb;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	uint8_t *buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	uint32_t n = 0;
	size_t off = ST_WAL_PAGE, size = (size_t)sb.st_size;
	while (off + sizeof(struct st_wal_rec_hdr) <= size && n < max) {
		struct st_wal_rec_hdr h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.magic != ST_WAL_REC_MAGIC || h.stored_len > size - off - sizeof(h))
			break;
		out[n] = (struct rec_pos){.off = off, .stored_len = h.stored_len,
					  .raw_len = h.raw_len, .lsn = h.lsn, .codec = h.codec,
					  .len = (uint32_t)CM_ALIGN_UP(sizeof(h) + h.stored_len, (size_t)8)};
		off += out[n++].len;
	}
	free(buf);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void poke(const char *path, off_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* The newest segment holding records, and its records. */
static uint64_t last_segment(const char *dir, struct rec_pos *recs, uint32_t *nrec)
{
	uint64_t seqs[MAX_SEGS];
	size_t n = seg_list(dir, seqs, MAX_SEGS);
	for (size_t i = n; i-- > 0;) {
		*nrec = seg_records(dir, seqs[i], recs, MAX_RECS);
		if (*nrec)
			return seqs[i];
	}
	fail_msg("no segment holds records");
	return 0;
}

/* ================================================================= cases */

static void roundtrip(enum st_wal_durability d)
{
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, d);
	tw_open(t, 1);
	assert_int_equal(st_wal_committed_lsn(t->w), 0);
	assert_int_equal(st_wal_durable_lsn(t->w), 0);
	uint64_t lsn = 7;
	assert_int_equal(st_wal_commit(t->w, &lsn), 0);   /* nothing staged */
	assert_int_equal(lsn, 0);

	/* a record of definitions only, then records with points */
	uint8_t key[KEY_CAP];
	uint16_t keylen;
	key_of(0, key, &keylen);
	assert_true(st_wal_room(t->w, 1, keylen));
	st_wal_add_series(t->w, 0, ST_VT_F64, key, keylen);
	log_series(&t->stage, 0, 0, ST_VT_F64, key, keylen);
	t->nseries = 1;
	commit_wait(t, 1000);
	assert_int_equal(st_wal_committed_lsn(t->w), 1);
	uint64_t prev_durable = 0;
	for (int r = 0; r < 40; r++) {
		stage(t, 1 + (uint32_t)(rnd(t) % 700));
		commit_wait(t, 5000);
		pump(t);
		uint64_t dl = st_wal_durable_lsn(t->w);
		assert_true(dl >= prev_durable);   /* durable_lsn never goes back */
		prev_durable = dl;
	}
	wait_durable(t, 5000);
	struct st_wal_stats s = tw_stats(t);
	assert_int_equal(s.committed_lsn, 41);
	assert_int_equal(s.durable_lsn, 41);
	assert_int_equal(s.records, 41);
	assert_int_equal(s.points, t->model.npts);
	assert_int_equal(s.last_error, 0);
	assert_int_equal(s.write_errors, 0);
	assert_true(s.writes > 0);
	assert_true(s.stored_bytes > 0 && s.raw_bytes > 0);
	if (d == ST_WAL_SYNC)
		assert_int_equal(s.syncs, 0);     /* RWF_DSYNC writes, no fdatasync */
	else
		assert_true(s.syncs > 0);
	tw_close(t);

	replay_check_all(t, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.next_lsn, 42);
	/* a replay changes nothing: the second one sees the same */
	replay_check_all(t, &st);
}

static void test_st_wal__roundtrip_interval(void **state)
{
	(void)state;
	roundtrip(ST_WAL_INTERVAL);
}

static void test_st_wal__roundtrip_sync(void **state)
{
	(void)state;
	roundtrip(ST_WAL_SYNC);
}

/* In interval mode a write alone is not durable: the fdatasync makes it so. */
static void test_st_wal__interval_durable_after_fsync_interval(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	t->cfg.fsync_interval_ns = 300 * CM_NS_PER_MS;
	tw_open(t, 1);
	/* the header page goes out and is synced first */
	int64_t t0 = cm_mono_ns();
	stage(t, 100);
	commit_wait(t, 1000);
	while (tw_stats(t).writes == 0 || st_wal_durable_lsn(t->w) < 1)
		pump(t);
	int64_t waited = cm_mono_ns() - t0;
	assert_true(waited >= 250 * CM_NS_PER_MS);   /* not before the interval */
	assert_true(waited < 5 * CM_NS_PER_SEC);
	struct st_wal_stats s = tw_stats(t);
	assert_int_equal(s.syncs, 1);
	tw_close(t);
}

static void test_st_wal__reopen_continues_lsns(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_SYNC);
	for (int run = 0; run < 3; run++) {
		uint64_t next = 1;
		if (run > 0) {
			replay_check_all(t, &st);
			assert_int_equal(st.segments, (uint64_t)run);
			next = st.next_lsn;
		}
		tw_open(t, next);
		write_records(t, 15, 300);
		tw_close(t);
	}
	replay_check_all(t, &st);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.next_lsn, 46);

	/* a run that commits nothing still leaves a valid, empty segment */
	tw_open(t, st.next_lsn);
	tw_close(t);
	replay_check_all(t, &st);
	assert_int_equal(st.segments, 4);
	assert_int_equal(st.next_lsn, 46);
}

static void test_st_wal__replay_from_lsn_skips_older(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	tw_open(t, 1);
	write_records(t, 30, 200);
	tw_close(t);
	for (uint64_t from = 0; from <= 32; from += 8) {
		struct keep k = {.from_lsn = from};
		replay_keeps(t, from, &k, &st);
		assert_int_equal(st.records_skipped, from > 1 ? CM_MIN(from - 1, (uint64_t)30) : 0);
		assert_int_equal(st.next_lsn, CM_MAX(from, (uint64_t)31));
	}
}

static void test_st_wal__replay_of_missing_or_empty_dir(void **state)
{
	(void)state;
	struct st_wal_replay_stats st;
	char path[2 * TPATH];
	log_clear(&fx.got);
	assert_int_equal(st_wal_replay(fx.dir, &st_io_posix, 1, 0, &log_cb, &fx.got, &st), 0);
	assert_int_equal(st.next_lsn, 1);
	assert_int_equal(st.segments, 0);
	snprintf(path, sizeof(path), "%s/missing", fx.dir);
	assert_int_equal(st_wal_replay(path, &st_io_posix, 1, 5, &log_cb, &fx.got, &st), 0);
	assert_int_equal(st.next_lsn, 5);
	assert_int_equal(fx.got.nev, 0);
}

/* Without st_wal_service the owner is refused at the rollover, never blocked. */
static void test_st_wal__rollover_waits_for_service(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	t->noise = true;          /* incompressible: fills segments quickly */
	t->service = false;
	tw_open(t, 1);
	int64_t deadline = cm_mono_ns() + 20 * CM_NS_PER_SEC;
	int64_t worst = 0;
	for (;;) {
		if (t->stage.nev == 0)
			stage(t, 1000);
		int64_t c0 = cm_mono_ns();
		int rc = commit(t);
		worst = CM_MAX(worst, cm_mono_ns() - c0);
		if (rc == -EAGAIN && tw_stats(t).stall_segment > 0)
			break;
		pump(t);
		assert_true(cm_mono_ns() < deadline);
	}
	/* refused again and again while nobody prepares a segment; the stage is kept */
	uint64_t committed = st_wal_committed_lsn(t->w);
	size_t staged = t->stage.npts;
	for (int i = 0; i < 200; i++) {
		int64_t c0 = cm_mono_ns();
		assert_int_equal(commit(t), -EAGAIN);
		worst = CM_MAX(worst, cm_mono_ns() - c0);
		pump(t);
	}
	assert_true(worst < 100 * CM_NS_PER_MS);
	assert_int_equal(st_wal_committed_lsn(t->w), committed);
	assert_int_equal(t->stage.npts, staged);
	struct st_wal_stats s = tw_stats(t);
	assert_true(s.stall_segment >= 200);
	assert_int_equal(s.segments_created, 1);
	/* all out before the rollover but the batches waiting in the hand-off ring (3 at most) */
	assert_true(s.durable_lsn <= committed && committed - s.durable_lsn <= 3);

	st_wal_service(t->w);
	commit_wait(t, 2000);
	assert_int_equal(st_wal_committed_lsn(t->w), committed + 1);
	assert_int_equal(tw_stats(t).segments_created, 2);

	/* many more records across several segments, the test thread servicing */
	t->service = true;
	t->noise = false;
	write_records(t, 400, 1500);
	wait_durable(t, 10000);
	s = tw_stats(t);
	assert_true(s.segments_created >= 4);
	tw_close(t);
	replay_check_all(t, &st);
	assert_int_equal(st.segments, s.segments_created);
}

/* Segment headers of dir: seqs with a valid header and their first lsns. */
static size_t seg_firsts(const char *dir, uint64_t *seqs, uint64_t *firsts)
{
	uint64_t all[MAX_SEGS];
	size_t n = seg_list(dir, all, MAX_SEGS), k = 0;
	for (size_t i = 0; i < n; i++) {
		struct st_wal_seg_hdr h;
		if (!seg_header(dir, all[i], &h))
			continue;
		assert_int_equal(h.seq, all[i]);
		seqs[k] = all[i];
		firsts[k++] = h.first_lsn;
	}
	return k;
}

static bool seg_exists(const char *dir, uint64_t seq)
{
	return access(seg_file(dir, seq), F_OK) == 0;
}

static void test_st_wal__checkpoint_deletes_exactly_covered_segments(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	uint64_t seqs[MAX_SEGS], firsts[MAX_SEGS];

	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->noise = true;
	tw_open(t, 1);
	while (tw_stats(t).segments_created < 6)
		write_records(t, 10, 1500);
	wait_durable(t, 5000);
	size_t n = seg_firsts(t->dir, seqs, firsts);
	assert_true(n >= 6);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal(seqs[i], seqs[i - 1] + 1);
		assert_true(firsts[i] > firsts[i - 1]);
	}
	assert_int_equal(firsts[0], 1);

	/* one lsn short of covering segment 2: segments 0 and 1 go */
	st_wal_checkpoint(t->w, firsts[3] - 2);
	st_wal_service(t->w);
	assert_false(seg_exists(t->dir, seqs[0]));
	assert_false(seg_exists(t->dir, seqs[1]));
	assert_true(seg_exists(t->dir, seqs[2]));
	assert_int_equal(tw_stats(t).segments_deleted, 2);
	/* a checkpoint never goes back */
	st_wal_checkpoint(t->w, 1);
	st_wal_service(t->w);
	assert_true(seg_exists(t->dir, seqs[2]));
	st_wal_checkpoint(t->w, firsts[3] - 1);
	st_wal_service(t->w);
	assert_false(seg_exists(t->dir, seqs[2]));
	assert_true(seg_exists(t->dir, seqs[3]));
	assert_int_equal(tw_stats(t).segments_deleted, 3);

	/* everything covered: all but the current segment go */
	st_wal_checkpoint(t->w, st_wal_committed_lsn(t->w) + 1000);
	st_wal_service(t->w);
	uint64_t cur = seqs[n - 1];
	for (size_t i = 0; i + 1 < n; i++)
		assert_false(seg_exists(t->dir, seqs[i]));
	assert_true(seg_exists(t->dir, cur));
	assert_int_equal(tw_stats(t).segments_deleted, n - 1);

	tw_close(t);
	struct keep k = {.from_lsn = firsts[n - 1]};
	uint64_t max_lsn = replay_keeps(t, 0, &k, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.next_lsn, max_lsn + 1);
}

/* The stage says no when full (points, then definitions); the WAL takes it all. */
static void test_st_wal__room_false_when_stage_full(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->cfg.batch_points = 64;
	tw_open(t, 1);
	assert_true(st_wal_room(t->w, 64, 0));
	assert_false(st_wal_room(t->w, 65, 0));
	assert_int_equal(stage(t, 100), 64);
	assert_int_equal(t->refused, 36);
	assert_false(st_wal_room(t->w, 1, 0));
	commit_wait(t, 1000);
	assert_true(st_wal_room(t->w, 64, 0));
	tw_close(t);

	replay_check_all(t, &st);
	tw_release(t);

	/* definitions: 64 KiB of them at most with a 256 KiB buffer */
	char dir[TPATH + 64];
	path_join(dir, sizeof(dir), fx.dir, "defs");
	tw_init(t, dir, ST_WAL_SYNC);
	t->cfg.batch_points = 65536;
	tw_open(t, 1);
	uint32_t id = 0;
	size_t defs_bytes = 0;
	for (;; id++) {
		uint8_t key[KEY_CAP];
		uint16_t keylen;
		key_of(id, key, &keylen);
		if (!st_wal_room(t->w, 1, keylen))
			break;
		uint8_t vt = ST_VT_I64;
		int64_t ts = (int64_t)id;
		uint64_t v = id;
		st_wal_add_series(t->w, id, vt, key, keylen);
		st_wal_add_point(t->w, id, ts, v);
		log_series(&t->stage, 0, id, vt, key, keylen);
		log_points(&t->stage, 0, &id, &ts, &v, 1);
		defs_bytes += CM_ALIGN_UP(sizeof(struct st_wal_def) + keylen, (size_t)4);
		assert_true(defs_bytes <= 64 * KIB);
	}
	assert_true(defs_bytes > 60 * KIB);
	assert_true(st_wal_room(t->w, 1, 0));      /* points still fit */
	assert_false(st_wal_room(t->w, 1, 8 * KIB));
	/* absurd requests never wrap around to "yes" */
	assert_false(st_wal_room(t->w, 1, UINT32_MAX));
	assert_false(st_wal_room(t->w, UINT32_MAX, 0));
	commit_wait(t, 1000);
	assert_true(st_wal_room(t->w, 1, 8 * KIB));
	tw_close(t);
	replay_check_all(t, &st);
	assert_int_equal(st.records, 1);
}

/*
 * However the stage limits are configured, a full stage makes a record the
 * write buffer can take: filling it until st_wal_room says no, then
 * committing, succeeds (the contract allows only 0 and -EAGAIN).
 */
static void test_st_wal__full_stage_always_fits_the_buffer(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	static const int levels[] = {0, -1, 3};

	for (size_t i = 0; i < CM_ARRAY_SIZE(levels); i++) {
		char dir[TPATH + 64];
		snprintf(dir, sizeof(dir), "%s/l%zu", fx.dir, i);
		tw_init(t, dir, ST_WAL_SYNC);
		t->cfg.batch_points = 65536;   /* the default, with the smallest buffer */
		t->cfg.zstd_level = levels[i];
		t->noise = true;
		tw_open(t, 1);
		for (int r = 0; r < 6; r++) {
			while (st_wal_room(t->w, 1, 0))
				stage(t, 100000);
			commit_wait(t, 5000);
		}
		wait_durable(t, 5000);
		tw_close(t);
		replay_check_all(t, &st);
		tw_release(t);
	}
}

/* zstd off, fast and normal levels: the same records come back. */
static void test_st_wal__zstd_levels(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	static const int levels[] = {0, -1, -7, 1, 3};
	struct rec_pos *recs = malloc(MAX_RECS * sizeof(*recs));
	assert_non_null(recs);

	for (int noise = 0; noise < 2; noise++) {
		for (size_t i = 0; i < CM_ARRAY_SIZE(levels); i++) {
			char dir[TPATH + 64];
			snprintf(dir, sizeof(dir), "%s/n%d_l%zu", fx.dir, noise, i);
			tw_init(t, dir, ST_WAL_INTERVAL);
			t->cfg.zstd_level = levels[i];
			t->noise = noise;
			tw_open(t, 1);
			write_records(t, 20, 800);
			wait_durable(t, 5000);
			struct st_wal_stats s = tw_stats(t);
			tw_close(t);
			/* a clean close leaves no bytes after the last record */
			replay_check_all(t, &st);
			uint64_t seqs[MAX_SEGS];
			size_t nseg = seg_list(dir, seqs, MAX_SEGS);
			assert_int_equal(nseg, 1);
			uint32_t n = seg_records(dir, seqs[0], recs, MAX_RECS);
			assert_int_equal(n, t->records);
			for (uint32_t r = 0; r < n; r++) {
				if (levels[i] == 0 || (noise && recs[r].lsn > 1)) {
					/* off, or incompressible (no keys): stored as is */
					assert_int_equal(recs[r].codec, ST_WAL_CODEC_RAW);
					assert_int_equal(recs[r].stored_len, recs[r].raw_len);
				} else if (!noise) {
					assert_int_equal(recs[r].codec, ST_WAL_CODEC_ZSTD);
					assert_true(recs[r].stored_len < recs[r].raw_len);
				}
			}
			if (levels[i] != 0 && !noise)
				assert_true(s.stored_bytes * 2 < s.raw_bytes);
			tw_release(t);
		}
	}
	free(recs);
}

/* Drop the model's records from lsn on (they were cut off the WAL). */
static void model_cut(struct tw *t, uint64_t lsn)
{
	struct log *m = &t->model;
	size_t i = 0;
	while (i < m->nev && m->ev[i].lsn < lsn)
		i++;
	m->nev = i;
	m->npts = 0;
	for (size_t j = 0; j < i; j++)
		if (m->ev[j].kind == EV_POINTS)
			m->npts = m->ev[j].first + m->ev[j].n;
}

enum damage { CUT_MID_RECORD, CUT_MID_HEADER, FLIP_PAYLOAD, FLIP_HEADER, GARBAGE_AFTER };

/*
 * Damage the last record (or what follows it): replay returns 0, keeps every
 * earlier record, counts the torn tail, truncates the file to the last good
 * record; a second replay is clean, and the WAL goes on from there.
 */
static void tail_case(enum damage how)
{
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	struct rec_pos *recs = malloc(MAX_RECS * sizeof(*recs));
	char path[2 * TPATH];
	uint32_t n;

	assert_non_null(recs);
	tw_init(t, fx.dir, ST_WAL_SYNC);
	tw_open(t, 1);
	write_records(t, 20, 300);
	tw_close(t);
	uint64_t seq = last_segment(t->dir, recs, &n);
	assert_true(n >= 2);
	snprintf(path, sizeof(path), "%s", seg_file(t->dir, seq));
	const struct rec_pos *last = &recs[n - 1];
	uint64_t cut = last->off;
	struct keep k = {.lost_lo = last->lsn, .lost_hi = last->lsn + 1};
	static const uint8_t junk[100] = {0xa5, 0x5a, 1, 2, 3, [50] = 0xff};
	switch (how) {
	case CUT_MID_RECORD:
		assert_int_equal(truncate(path, (off_t)(last->off + 32 + last->stored_len / 2)), 0);
		break;
	case CUT_MID_HEADER:
		assert_int_equal(truncate(path, (off_t)(last->off + 20)), 0);
		break;
	case FLIP_PAYLOAD:
		flip_byte(path, (off_t)(last->off + 32 + last->stored_len / 2));
		break;
	case FLIP_HEADER:
		flip_byte(path, (off_t)(last->off + 16));   /* stored_len */
		break;
	case GARBAGE_AFTER:
		poke(path, (off_t)(last->off + last->len), junk, sizeof(junk));
		cut = last->off + last->len;
		k.lost_lo = k.lost_hi = 0;
		break;
	}
	off_t size = file_size(path);
	uint64_t max_lsn = replay_keeps(t, 0, &k, &st);
	assert_int_equal(st.torn_tails, 1);
	assert_int_equal(st.bad_bytes, (uint64_t)size - cut);
	assert_int_equal(st.next_lsn, max_lsn + 1);
	assert_int_equal(file_size(path), (off_t)cut);

	assert_int_equal(replay(t, &st_io_posix, 0, &fx.got, &st), 0);
	assert_log_matches(&t->model, &fx.got, &k);
	assert_int_equal(st.torn_tails, 0);
	assert_int_equal(st.bad_bytes, 0);
	assert_int_equal(st.next_lsn, max_lsn + 1);

	/* the next run takes over the lost record's lsn in a new segment */
	if (k.lost_hi)
		model_cut(t, k.lost_lo);
	tw_open(t, st.next_lsn);
	write_records(t, 5, 300);
	tw_close(t);
	replay_check_all(t, &st);
	free(recs);
}

static void test_st_wal__truncated_tail(void **state)
{
	(void)state;
	tail_case(CUT_MID_RECORD);
}

static void test_st_wal__truncated_tail_inside_header(void **state)
{
	(void)state;
	tail_case(CUT_MID_HEADER);
}

static void test_st_wal__corrupt_tail_payload(void **state)
{
	(void)state;
	tail_case(FLIP_PAYLOAD);
}

static void test_st_wal__corrupt_tail_header(void **state)
{
	(void)state;
	tail_case(FLIP_HEADER);
}

static void test_st_wal__garbage_after_last_record(void **state)
{
	(void)state;
	tail_case(GARBAGE_AFTER);
}

/* A bad record in a middle segment ends that segment; the later ones replay. */
static void test_st_wal__corrupt_record_in_middle_segment(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	uint64_t seqs[MAX_SEGS], firsts[MAX_SEGS];
	struct rec_pos *recs = malloc(MAX_RECS * sizeof(*recs));
	char path[2 * TPATH];

	assert_non_null(recs);
	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->noise = true;
	tw_open(t, 1);
	while (tw_stats(t).segments_created < 4)
		write_records(t, 10, 1500);
	tw_close(t);
	size_t nseg = seg_firsts(t->dir, seqs, firsts);
	assert_true(nseg >= 4);
	uint32_t m = seg_records(t->dir, seqs[1], recs, MAX_RECS);
	assert_true(m >= 3);
	const struct rec_pos *bad = &recs[m / 2];
	snprintf(path, sizeof(path), "%s", seg_file(t->dir, seqs[1]));
	flip_byte(path, (off_t)(bad->off + 40));
	struct keep k = {.lost_lo = bad->lsn, .lost_hi = firsts[2]};
	uint64_t max_lsn = replay_keeps(t, 0, &k, &st);
	assert_int_equal(st.torn_tails, 1);
	assert_int_equal(st.lsn_gaps, 1);
	assert_int_equal(st.segments, nseg);
	assert_int_equal(st.next_lsn, max_lsn + 1);
	assert_int_equal(file_size(path), (off_t)bad->off);

	assert_int_equal(replay(t, &st_io_posix, 0, &fx.got, &st), 0);
	assert_log_matches(&t->model, &fx.got, &k);
	assert_int_equal(st.torn_tails, 0);
	assert_int_equal(st.lsn_gaps, 1);
	free(recs);
}

static void make_file(const char *path, size_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

/* A segment that was never started (zero header) or is shorter than a page goes. */
static void test_st_wal__unused_segment_removed(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	char keep_path[TPATH + 64], spare[TPATH + 64], shorty[TPATH + 64];

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	tw_open(t, 1);
	write_records(t, 6, 200);
	tw_close(t);
	uint64_t seqs[MAX_SEGS];
	assert_int_equal(seg_list(t->dir, seqs, MAX_SEGS), 1);
	char name[64];
	snprintf(name, sizeof(name), "%016llx.wal", (unsigned long long)seqs[0] + 1);
	path_join(spare, sizeof(spare), t->dir, name);
	snprintf(name, sizeof(name), "%016llx.wal", (unsigned long long)seqs[0] + 2);
	path_join(shorty, sizeof(shorty), t->dir, name);
	path_join(keep_path, sizeof(keep_path), t->dir, "notes.txt");
	make_file(spare, MIB);
	make_file(shorty, 100);
	make_file(keep_path, 10);

	replay_check_all(t, &st);
	assert_int_equal(st.segments, 1);
	assert_int_not_equal(access(spare, F_OK), 0);
	assert_int_not_equal(access(shorty, F_OK), 0);
	assert_int_equal(access(keep_path, F_OK), 0);

	/* and the next run numbers its segment after the survivors */
	tw_open(t, st.next_lsn);
	write_records(t, 3, 200);
	tw_close(t);
	assert_int_equal(seg_list(t->dir, seqs, MAX_SEGS), 2);
	replay_check_all(t, &st);
}

/*
 * A segment whose header is bad is skipped and counted (not removed: it may
 * be evidence); it must not stop checkpoints from deleting the segments
 * around it once they are covered.
 */
static void test_st_wal__bad_header_segment_skipped_then_deleted(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	uint64_t seqs[MAX_SEGS];

	tw_init(t, fx.dir, ST_WAL_SYNC);
	for (int run = 0; run < 3; run++) {
		uint64_t next = 1;
		if (run) {
			replay_check_all(t, &st);
			next = st.next_lsn;
		}
		tw_open(t, next);
		write_records(t, 5, 200);
		tw_close(t);
	}
	assert_int_equal(seg_list(t->dir, seqs, MAX_SEGS), 3);
	struct st_wal_seg_hdr h;
	assert_true(seg_header(t->dir, seqs[1], &h));
	uint64_t lost_hi;
	{
		struct st_wal_seg_hdr h2;
		assert_true(seg_header(t->dir, seqs[2], &h2));
		lost_hi = h2.first_lsn;
	}
	flip_byte(seg_file(t->dir, seqs[1]), offsetof(struct st_wal_seg_hdr, created_ns));
	off_t bad_size = file_size(seg_file(t->dir, seqs[1]));
	struct keep k = {.lost_lo = h.first_lsn, .lost_hi = lost_hi};
	uint64_t max_lsn = replay_keeps(t, 0, &k, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.lsn_gaps, 1);
	assert_int_equal(st.bad_bytes, (uint64_t)bad_size);
	assert_int_equal(st.next_lsn, max_lsn + 1);
	assert_true(seg_exists(t->dir, seqs[1]));

	tw_open(t, st.next_lsn);
	write_records(t, 5, 200);
	wait_durable(t, 5000);
	st_wal_checkpoint(t->w, st_wal_committed_lsn(t->w));
	st_wal_service(t->w);
	for (int i = 0; i < 3; i++)
		assert_false(seg_exists(t->dir, seqs[i]));
	assert_int_equal(tw_stats(t).segments_deleted, 3);
	tw_close(t);
}

/* A callback's error stops replay and comes back as is; nothing is cut off. */
static void test_st_wal__callback_error_stops_replay_without_damage(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	uint64_t seqs[MAX_SEGS];
	static const int errs[] = {-EBADMSG, -EIO, -ENOMEM};

	tw_init(t, fx.dir, ST_WAL_SYNC);
	tw_open(t, 1);
	write_records(t, 12, 200);
	tw_close(t);
	assert_int_equal(seg_list(t->dir, seqs, MAX_SEGS), 1);
	off_t size = file_size(seg_file(t->dir, seqs[0]));
	for (size_t i = 0; i < CM_ARRAY_SIZE(errs); i++) {
		log_clear(&fx.got);
		fx.got.fail_at = 3 + 4 * i;
		fx.got.fail_rc = errs[i];
		assert_int_equal(st_wal_replay(t->dir, &st_io_posix, 7, 0, &log_cb, &fx.got, &st),
				 errs[i]);
		assert_int_equal(fx.got.nev, fx.got.fail_at - 1);
		assert_int_equal(st.torn_tails, 0);
		assert_int_equal(st.bad_bytes, 0);
		assert_int_equal(file_size(seg_file(t->dir, seqs[0])), size);
	}
	replay_check_all(t, &st);
}

/* Another shard's WAL in the directory is not ours: skipped, not replayed. */
static void test_st_wal__other_shard_ignored(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_SYNC);
	tw_open(t, 1);
	write_records(t, 4, 100);
	tw_close(t);
	log_clear(&fx.got);
	assert_int_equal(st_wal_replay(t->dir, &st_io_posix, 8, 0, &log_cb, &fx.got, &st), 0);
	assert_int_equal(st.records, 0);
	assert_int_equal(fx.got.nev, 0);
	assert_true(st.bad_bytes > 0);
	replay_check_all(t, &st);
}

/* ================================================================ faults */

/* Copy dir's files into snap (a crash image taken while the WAL runs). */
static void snapshot(const char *dir, const char *snap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char from[TPATH + 512], to[TPATH + 512];
	static uint8_t buf[1 << 16];

	assert_non_null(d);
	mkdir(snap, 0755);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		path_join(from, sizeof(from), dir, e->d_name);
		path_join(to, sizeof(to), snap, e->d_name);
		int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0) {
			/* deleted meanwhile */
			if (out >= 0)
				close(out);
			unlink(to);
			continue;
		}
		assert_true(out >= 0);
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		close(in);
		close(out);
	}
	closedir(d);
}

/*
 * With everything durable and the owner idle, a crash image of the WAL
 * replays to exactly the model.
 */
static void crash_check(struct tw *t, const char *name)
{
	struct st_wal_replay_stats st;
	struct tw img;

	assert_int_equal(st_wal_durable_lsn(t->w), st_wal_committed_lsn(t->w));
	memset(&img, 0, sizeof(img));
	path_join(img.dir, sizeof(img.dir), fx.dir, name);
	snapshot(t->dir, img.dir);
	img.cfg.shard_id = t->cfg.shard_id;
	img.model = t->model;
	replay_check_all(&img, &st);
	tst_rm_tree(img.dir);
}

/*
 * Crash images taken while the owner runs (writes in flight, spares made,
 * segments rolling over): each replays to a prefix of the model that holds
 * at least every record durable_lsn claimed before the image was taken.
 */
static void crash_images(enum st_wal_durability d)
{
	struct tw *t = &fx.tw;
	struct tw img;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, d);
	t->noise = true;
	tw_open(t, 1);
	for (int shot = 0; shot < 8; shot++) {
		write_records(t, 5 + (uint32_t)(rnd(t) % 20), 1500);
		uint64_t durable = st_wal_durable_lsn(t->w);
		memset(&img, 0, sizeof(img));
		char name[32];
		snprintf(name, sizeof(name), "img%d", shot);
		path_join(img.dir, sizeof(img.dir), fx.dir, name);
		img.cfg.shard_id = t->cfg.shard_id;
		snapshot(t->dir, img.dir);
		assert_int_equal(replay(&img, &st_io_posix, 0, &fx.got, &st), 0);
		assert_true(st.next_lsn >= durable + 1);
		struct keep k = {.lost_lo = st.next_lsn, .lost_hi = UINT64_MAX};
		assert_log_matches(&t->model, &fx.got, &k);
		assert_int_equal(st.lsn_gaps, 0);
		tst_rm_tree(img.dir);
	}
	wait_durable(t, 5000);
	tw_close(t);
	replay_check_all(t, &st);
}

static void test_st_wal__crash_images_hold_durable_records_interval(void **state)
{
	(void)state;
	crash_images(ST_WAL_INTERVAL);
}

static void test_st_wal__crash_images_hold_durable_records_sync(void **state)
{
	(void)state;
	crash_images(ST_WAL_SYNC);
}

/* A write error that never clears: close gives up after a while and says so. */
static void test_st_wal__close_gives_up_on_persistent_errors(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;

	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->cfg.ops = st_io_fault_ops();
	tw_open(t, 1);
	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 1, .persist = true,
					      .write_errno = EIO, .path_filter = fx.dir});
	stage(t, 100);
	commit_wait(t, 1000);
	int64_t t0 = cm_mono_ns();
	int rc = st_wal_close(t->w);
	t->w = NULL;
	int64_t took = cm_mono_ns() - t0;
	assert_int_equal(rc, -EIO);
	assert_true(took < 30 * CM_NS_PER_SEC);
	st_io_fault_reset();
}

static void enospc_case(enum st_wal_durability d)
{
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	struct st_io_fault_counts c;

	tw_init(t, fx.dir, d);
	t->cfg.ops = st_io_fault_ops();
	tw_open(t, 1);
	write_records(t, 5, 500);
	wait_durable(t, 5000);

	st_io_fault_set(&(struct st_io_fault){.fail_after_bytes = 48 * KIB,
					      .write_errno = ENOSPC, .path_filter = fx.dir});
	bool saw_enospc = false;
	int64_t end = cm_mono_ns() + 700 * CM_NS_PER_MS;
	while (cm_mono_ns() < end) {
		stage(t, 300);
		commit(t);
		pump(t);
		saw_enospc |= tw_stats(t).last_error == -ENOSPC;
	}
	st_io_fault_counts(&c);
	struct st_wal_stats s = tw_stats(t);
	assert_true(c.write_errors > 0);
	assert_true(saw_enospc);
	assert_true(s.write_errors > 0);
	assert_true(s.stall_buffer > 0);
	assert_true(t->refused > 0);
	assert_true(s.durable_lsn < s.committed_lsn);

	st_io_fault_reset();
	commit_wait(t, 10000);
	wait_durable(t, 10000);
	s = tw_stats(t);
	assert_int_equal(s.last_error, 0);
	crash_check(t, "crash");
	write_records(t, 5, 500);
	wait_durable(t, 5000);
	tw_close(t);
	replay_check_all(t, &st);
}

static void test_st_wal__enospc_then_recovery_interval(void **state)
{
	(void)state;
	enospc_case(ST_WAL_INTERVAL);
}

static void test_st_wal__enospc_then_recovery_sync(void **state)
{
	(void)state;
	enospc_case(ST_WAL_SYNC);
}

/* A failed fdatasync: nothing becomes durable, the bytes are written again. */
static void test_st_wal__eio_on_fdatasync_rewrites(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	struct st_io_fault_counts c;

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	t->cfg.ops = st_io_fault_ops();
	tw_open(t, 1);
	write_records(t, 5, 300);
	wait_durable(t, 5000);
	uint64_t d0 = st_wal_durable_lsn(t->w);

	st_io_fault_set(&(struct st_io_fault){.fail_fsync = EIO, .path_filter = fx.dir});
	write_records(t, 5, 300);
	int64_t end = cm_mono_ns() + 400 * CM_NS_PER_MS;
	while (cm_mono_ns() < end)
		pump(t);
	struct st_wal_stats s = tw_stats(t);
	st_io_fault_counts(&c);
	assert_true(c.fsync_errors > 0);
	assert_int_equal(s.durable_lsn, d0);
	assert_int_equal(s.last_error, -EIO);
	assert_true(s.write_errors > 0);
	uint64_t w1 = s.writes;
	end = cm_mono_ns() + 400 * CM_NS_PER_MS;
	while (cm_mono_ns() < end)
		pump(t);
	s = tw_stats(t);
	assert_true(s.writes >= w1 + 2);     /* rewritten after each failed sync */
	assert_int_equal(s.durable_lsn, d0);

	st_io_fault_reset();
	wait_durable(t, 5000);
	assert_int_equal(tw_stats(t).last_error, 0);
	crash_check(t, "crash");
	tw_close(t);
	replay_check_all(t, &st);
}

/* Short writes, of the data or of only the page's zero padding after it. */
static void short_writes_case(enum st_wal_durability d)
{
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	struct st_io_fault_counts c;
	static const uint32_t sizes[] = {3, 40, 1500, 600, 1};

	tw_init(t, fx.dir, d);
	t->cfg.ops = st_io_fault_ops();
	tw_open(t, 1);
	for (int round = 0; round < 15; round++) {
		st_io_fault_set(&(struct st_io_fault){.short_write_nth = 1, .path_filter = fx.dir});
		uint32_t n = sizes[round % CM_ARRAY_SIZE(sizes)];
		assert_int_equal(stage(t, n), n);
		commit_wait(t, 1000);
		wait_durable(t, 5000);
		st_io_fault_counts(&c);
		assert_int_equal(c.short_writes, 1);
	}
	struct st_wal_stats s = tw_stats(t);
	assert_true(s.write_errors >= 15);
	assert_int_equal(s.last_error, 0);
	crash_check(t, "crash");
	st_io_fault_reset();
	tw_close(t);
	replay_check_all(t, &st);
}

static void test_st_wal__short_writes_sync(void **state)
{
	(void)state;
	short_writes_case(ST_WAL_SYNC);
}

static void test_st_wal__short_writes_interval(void **state)
{
	(void)state;
	short_writes_case(ST_WAL_INTERVAL);
}

/* Every nth write fails now and then: a long run loses and repeats nothing. */
static void test_st_wal__intermittent_write_errors(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->cfg.ops = st_io_fault_ops();
	tw_open(t, 1);
	for (int round = 0; round < 8; round++) {
		struct st_io_fault_counts c;
		st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 2 + (uint32_t)round % 3,
						      .write_errno = round % 2 ? EIO : ENOSPC,
						      .path_filter = fx.dir});
		do {
			write_records(t, 3, 400);
			wait_durable(t, 5000);
			st_io_fault_counts(&c);
		} while (c.write_errors == 0);
	}
	st_io_fault_reset();
	wait_durable(t, 10000);
	assert_true(tw_stats(t).write_errors >= 8);
	tw_close(t);
	replay_check_all(t, &st);
}

/* The background cannot preallocate: the owner stalls, then goes on. */
static void test_st_wal__spare_failure_stalls_then_recovers(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	struct st_io_fault_counts c;
	uint64_t seqs[MAX_SEGS];

	tw_init(t, fx.dir, ST_WAL_SYNC);
	t->cfg.ops = st_io_fault_ops();
	t->noise = true;
	tw_open(t, 1);
	st_io_fault_set(&(struct st_io_fault){.fail_fallocate = ENOSPC, .path_filter = fx.dir});
	int64_t deadline = cm_mono_ns() + 20 * CM_NS_PER_SEC;
	for (;;) {
		if (t->stage.nev == 0)
			stage(t, 1000);
		if (commit(t) == -EAGAIN && tw_stats(t).stall_segment > 10)
			break;
		pump(t);
		assert_true(cm_mono_ns() < deadline);
	}
	st_io_fault_counts(&c);
	assert_true(c.other_errors > 0);
	assert_int_equal(seg_list(t->dir, seqs, MAX_SEGS), 1);   /* failed spares removed */
	st_io_fault_reset();
	commit_wait(t, 5000);
	write_records(t, 20, 1000);
	wait_durable(t, 5000);
	assert_true(tw_stats(t).segments_created >= 2);
	tw_close(t);
	replay_check_all(t, &st);
}

/* ============================================================ direct I/O */

static long fs_type(const char *dir)
{
	struct statfs sf;
	return statfs(dir, &sf) == 0 ? (long)sf.f_type : -1;
}

static void direct_roundtrip(const char *dir, const struct st_io_ops *ops, bool want_direct)
{
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;

	for (int d = ST_WAL_INTERVAL; d <= ST_WAL_SYNC; d++) {
		char sub[TPATH + 64];
		snprintf(sub, sizeof(sub), "%s/d%d", dir, d);
		tw_init(t, sub, (enum st_wal_durability)d);
		t->cfg.ops = ops;
		tw_open(t, 1);
		assert_int_equal(tw_stats(t).direct, want_direct);
		write_records(t, 40, 1200);
		wait_durable(t, 5000);
		tw_close(t);
		replay_check_all(t, &st);
		tw_release(t);
	}
}

/* On the repository's disk (ext4), O_DIRECT is used. */
static void test_st_wal__direct_io_on_disk(void **state)
{
	(void)state;
	char cwd[TPATH - 64];

	/* meson runs tests inside the build tree, which lives in the repository */
	if (getcwd(cwd, sizeof(cwd)) && fs_type(cwd) == EXT4_MAGIC)
		snprintf(fx.extra, sizeof(fx.extra), "%s/test_st_wal_direct.XXXXXX", cwd);
	else if (fs_type(fx.dir) == EXT4_MAGIC)
		snprintf(fx.extra, sizeof(fx.extra), "%s/direct.XXXXXX", fx.dir);
	else
		skip();
	assert_non_null(mkdtemp(fx.extra));
	direct_roundtrip(fx.extra, &st_io_posix, true);
}

/*
 * On tmpfs: with O_DIRECT refused (as before Linux 6.6) the WAL falls back
 * to buffered writes; with the real calls it uses what the probe finds
 * (Linux 6.6+ tmpfs accepts O_DIRECT).
 */
static void test_st_wal__buffered_fallback_on_tmpfs(void **state)
{
	(void)state;
	const char *dir = fx.extra;
	uint32_t align = 0;

	if (fs_type("/dev/shm") != TMPFS_MAGIC)
		skip();
	snprintf(fx.extra, sizeof(fx.extra), "/dev/shm/test_st_wal.XXXXXX");
	assert_non_null(mkdtemp(fx.extra));
	st_io_fault_set(&(struct st_io_fault){.deny_direct = true, .path_filter = dir});
	char sub[TPATH + 64];
	path_join(sub, sizeof(sub), dir, "denied");
	mkdir(sub, 0755);
	direct_roundtrip(sub, st_io_fault_ops(), false);
	st_io_fault_reset();
	bool probe = st_io_probe_direct(&st_io_posix, dir, &align) == 0 && align <= ST_WAL_PAGE;
	path_join(sub, sizeof(sub), dir, "real");
	mkdir(sub, 0755);
	direct_roundtrip(sub, &st_io_posix, probe);
}

/* ============================================================= threads */

struct svc {
	struct st_wal *w;
	atomic_bool stop;
	uint64_t passes;
	uint64_t went_back;         /* durable_lsn seen to decrease (must stay 0) */
};

/*
 * The background thread: service, checkpoints trailing the durable lsn, and
 * a reader's view of durable_lsn (never decreasing). cmocka's checks are not
 * for other threads: it counts, the test thread asserts.
 */
static void *svc_main(void *arg)
{
	struct svc *s = arg;
	uint64_t last = 0;
	while (!atomic_load(&s->stop)) {
		struct st_wal_stats st;
		st_wal_service(s->w);
		uint64_t d = st_wal_durable_lsn(s->w);
		if (d > 50)
			st_wal_checkpoint(s->w, d - 50);
		st_wal_stats_read(s->w, &st);
		s->went_back += d < last || st.durable_lsn < d;
		last = st.durable_lsn;
		s->passes++;
		cm_sleep_ns(200 * CM_NS_PER_US);
	}
	return NULL;
}

static void test_st_wal__service_thread_with_checkpoints(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal_replay_stats st;
	uint64_t seqs[MAX_SEGS], firsts[MAX_SEGS];
	struct svc s = {0};
	pthread_t th;

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	t->service = false;
	tw_open(t, 1);
	s.w = t->w;
	assert_int_equal(pthread_create(&th, NULL, svc_main, &s), 0);
	int round = 0;
	while (tw_stats(t).segments_created < 8) {
		t->noise = round++ % 3 == 0;
		write_records(t, 20, 1500);
	}
	wait_durable(t, 5000);
	int64_t until = cm_mono_ns() + 50 * CM_NS_PER_MS;
	while (cm_mono_ns() < until)
		pump(t);
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	assert_true(s.passes > 0);
	assert_int_equal(s.went_back, 0);
	struct st_wal_stats ws = tw_stats(t);
	assert_true(ws.segments_deleted > 0);
	tw_close(t);

	size_t n = seg_firsts(t->dir, seqs, firsts);
	assert_true(n >= 1);
	assert_int_equal(n + ws.segments_deleted, ws.segments_created);
	struct keep k = {.from_lsn = firsts[0]};
	uint64_t max_lsn = replay_keeps(t, 0, &k, &st);
	assert_int_equal(st.lsn_gaps, 0);
	assert_int_equal(st.torn_tails, 0);
	assert_int_equal(st.next_lsn, max_lsn + 1);
}

/* ========================================================= configuration */

static void test_st_wal__open_rejects_bad_config(void **state)
{
	(void)state;
	struct tw *t = &fx.tw;
	struct st_wal *w = NULL;
	uint64_t seqs[MAX_SEGS];
	char missing[TPATH + 64];

	tw_init(t, fx.dir, ST_WAL_INTERVAL);
	struct st_wal_cfg c = t->cfg;
	c.durability = ST_WAL_NONE;
	assert_int_equal(st_wal_open(&c, 1, &w), -EINVAL);
	c = t->cfg;
	c.buffer_bytes = 256 * KIB + 512;
	assert_int_equal(st_wal_open(&c, 1, &w), -EINVAL);
	c = t->cfg;
	c.buffer_bytes = 2 * ST_WAL_PAGE;
	assert_int_equal(st_wal_open(&c, 1, &w), -EINVAL);
	c = t->cfg;
	c.segment_bytes = c.buffer_bytes;
	assert_int_equal(st_wal_open(&c, 1, &w), -EINVAL);
	c = t->cfg;
	c.batch_points = 0;
	assert_int_equal(st_wal_open(&c, 1, &w), -EINVAL);
	assert_int_equal(st_wal_open(&t->cfg, 0, &w), -EINVAL);
	snprintf(missing, sizeof(missing), "%s/missing", fx.dir);
	c = t->cfg;
	c.dir = missing;
	assert_int_equal(st_wal_open(&c, 1, &w), -ENOENT);
	assert_null(w);
	assert_int_equal(seg_list(fx.dir, seqs, MAX_SEGS), 0);
	assert_int_equal(st_wal_close(NULL), 0);

	struct st_wal_cfg d;
	st_wal_cfg_default(&d);
	assert_int_equal(d.durability, ST_WAL_INTERVAL);
	assert_ptr_equal(d.ops, &st_io_posix);
	assert_int_equal(d.buffer_bytes % ST_WAL_PAGE, 0);
	assert_true(d.segment_bytes >= 2 * (uint64_t)d.buffer_bytes);
	assert_string_equal(st_wal_durability_name(ST_WAL_NONE), "none");
	assert_string_equal(st_wal_durability_name(ST_WAL_INTERVAL), "interval");
	assert_string_equal(st_wal_durability_name(ST_WAL_SYNC), "sync");
	assert_string_equal(st_wal_durability_name((enum st_wal_durability)9), "unknown");
}

/* ============================================================ the decoder */

static uint32_t put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return 4;
}

static uint32_t put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
	return 8;
}

/* A definition of keylen bytes of 'k', padded to 4 (pad: false leaves it off). */
static uint32_t put_def(uint8_t *p, uint32_t id, uint8_t vt, uint16_t keylen, bool pad)
{
	struct st_wal_def d = {.id = id, .vtype = vt, .keylen = keylen};
	memcpy(p, &d, sizeof(d));
	memset(p + sizeof(d), 'k', keylen);
	uint32_t n = (uint32_t)sizeof(d) + keylen;
	if (pad) {
		memset(p + n, 0, CM_ALIGN_UP(n, 4u) - n);
		n = CM_ALIGN_UP(n, 4u);
	}
	return n;
}

enum pl_case {
	PL_VALID, PL_EMPTY, PL_DEFS_ONLY, PL_TS_WRAP, PL_SHORT_HDR, PL_NPOINTS_ARG,
	PL_ONE_MORE, PL_DEFS_HUGE, PL_KEYLEN0, PL_KEYLEN_MAX, PL_KEYLEN_OVER, PL_NDEFS_MORE,
	PL_NDEFS_HUGE, PL_NDEFS_LESS, PL_NO_PAD, PL_KEY_OVERRUNS, PL_NPOINTS_HUGE,
	PL_NPOINTS_WRAP, PL_SECOND_DEF_BAD,
};

static const struct {
	enum pl_case c;
	int rc;
	uint32_t series;   /* callbacks expected (on success) */
	uint32_t points;
} pl_table[] = {
	{PL_VALID, 0, 2, 3},     {PL_EMPTY, 0, 0, 0},
	{PL_DEFS_ONLY, 0, 2, 0}, {PL_TS_WRAP, 0, 2, 3},
	{PL_KEYLEN_MAX, -E2BIG, 0, 0},   /* valid, but too long for the log's key buffer */
	{PL_SHORT_HDR, -EBADMSG, 0, 0},   {PL_NPOINTS_ARG, -EBADMSG, 0, 0},
	{PL_ONE_MORE, -EBADMSG, 0, 0},    {PL_DEFS_HUGE, -EBADMSG, 0, 0},
	{PL_KEYLEN0, -EBADMSG, 0, 0},     {PL_KEYLEN_OVER, -EBADMSG, 0, 0},
	{PL_NDEFS_MORE, -EBADMSG, 0, 0},  {PL_NDEFS_HUGE, -EBADMSG, 0, 0},
	{PL_NDEFS_LESS, -EBADMSG, 0, 0},  {PL_NO_PAD, -EBADMSG, 0, 0},
	{PL_KEY_OVERRUNS, -EBADMSG, 0, 0}, {PL_NPOINTS_HUGE, -EBADMSG, 0, 0},
	{PL_NPOINTS_WRAP, -EBADMSG, 0, 0}, {PL_SECOND_DEF_BAD, -EBADMSG, 0, 0},
};

/* Build case c into p (room for 8 KiB); its length, and npoints to pass. */
static uint32_t pl_build(enum pl_case c, uint8_t *p, uint32_t *npoints)
{
	uint32_t ndefs = 2, np = 3, off = 16, defs = 0;
	static const int64_t ts[3] = {100, 5, -3};
	uint16_t k1 = 5;

	memset(p, 0, 8192);
	if (c == PL_EMPTY) {
		*npoints = 0;
		return 16;
	}
	if (c == PL_KEYLEN_MAX || c == PL_KEYLEN_OVER) {
		defs = put_def(p + off, 1, ST_VT_I64, c == PL_KEYLEN_MAX ? ST_KEY_MAX : ST_KEY_MAX + 1,
			       true);
		put32(p, 1);
		put32(p + 4, 0);
		put32(p + 8, defs);
		*npoints = 0;
		return 16 + defs;
	}
	if (c == PL_KEYLEN0)
		k1 = 0;
	defs += put_def(p + off + defs, 0, ST_VT_F64, k1, c != PL_NO_PAD);
	defs += put_def(p + off + defs, 1, ST_VT_U64, 8, true);
	if (c == PL_KEY_OVERRUNS) {
		uint16_t big = 200;
		memcpy(p + off + 6, &big, 2);
	}
	if (c == PL_SECOND_DEF_BAD) {
		uint16_t zero = 0;
		memcpy(p + off + 16 + 6, &zero, 2);
	}
	if (c == PL_DEFS_ONLY)
		np = 0;
	off += defs;
	for (uint32_t i = 0; i < np; i++)
		off += put32(p + off, i % 2);
	for (uint32_t i = 0; i < np; i++) {
		int64_t d = ts[i];
		if (c == PL_TS_WRAP)
			d = i == 0 ? INT64_MAX : 2;
		off += put64(p + off, (uint64_t)d);
	}
	for (uint32_t i = 0; i < np; i++)
		off += put64(p + off, 0x1000 + i);
	if (c == PL_NDEFS_MORE)
		ndefs = 3;
	if (c == PL_NDEFS_HUGE)
		ndefs = UINT32_MAX;
	if (c == PL_NDEFS_LESS)
		ndefs = 1;
	put32(p, ndefs);
	uint32_t hdr_np = np;
	if (c == PL_NPOINTS_HUGE)
		hdr_np = 0x0fffffff;
	if (c == PL_NPOINTS_WRAP)
		hdr_np = np + 0x0ccccccdu;   /* 20 * that wraps a u32 back to 20 * np + 4 */
	put32(p + 4, hdr_np);
	put32(p + 8, c == PL_DEFS_HUGE ? UINT32_MAX : defs);
	*npoints = c == PL_NPOINTS_ARG ? np + 1 :
		   (c == PL_NPOINTS_HUGE || c == PL_NPOINTS_WRAP) ? hdr_np : np;
	if (c == PL_SHORT_HDR)
		return 15;
	if (c == PL_ONE_MORE)
		return off + 1;
	return off;
}

static void test_st_wal__payload_decode_table(void **state)
{
	(void)state;
	uint8_t *p = malloc(8192);
	assert_non_null(p);
	for (size_t i = 0; i < CM_ARRAY_SIZE(pl_table); i++) {
		uint32_t np;
		uint32_t len = pl_build(pl_table[i].c, p, &np);
		/* an exact-size copy, so a sanitizer sees any read past it */
		uint8_t *raw = malloc(len ? len : 1);
		assert_non_null(raw);
		memcpy(raw, p, len);
		log_clear(&fx.got);
		int rc = st_wal_payload_decode(raw, len, np, 77, &log_cb, &fx.got);
		if (rc != pl_table[i].rc)
			fail_msg("case %d: rc %d, want %d", (int)pl_table[i].c, rc, pl_table[i].rc);
		/* a rejected payload delivers nothing, not even its good definitions */
		uint32_t nser = 0, npts = 0;
		for (size_t e = 0; e < fx.got.nev; e++) {
			if (fx.got.ev[e].kind == EV_SERIES)
				nser++;
			else
				npts += fx.got.ev[e].n;
		}
		if (nser != pl_table[i].series || npts != pl_table[i].points)
			fail_msg("case %d: %u series %u points, want %u and %u",
				 (int)pl_table[i].c, nser, npts, pl_table[i].series,
				 pl_table[i].points);
		if (pl_table[i].c == PL_VALID) {
			assert_int_equal(fx.got.ev[0].keylen, 5);
			assert_int_equal(fx.got.ev[1].id, 1);
			assert_int_equal(fx.got.ev[2].lsn, 77);
			assert_int_equal(fx.got.ts[0], 100);
			assert_int_equal(fx.got.ts[1], 105);
			assert_int_equal(fx.got.ts[2], 102);
			assert_int_equal(fx.got.ids[1], 1);
			assert_int_equal(fx.got.vals[2], 0x1002);
		}
		if (pl_table[i].c == PL_TS_WRAP) {
			assert_int_equal(fx.got.ts[0], INT64_MAX);
			assert_int_equal(fx.got.ts[1], INT64_MIN + 1);
		}
		free(raw);
	}
	free(p);
}

static int count_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key,
			uint16_t keylen)
{
	(void)id;
	(void)vtype;
	(void)key;
	*(uint32_t *)ctx += keylen;
	return 0;
}

static int fail_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
		       const uint64_t *vals, uint32_t n)
{
	(void)ctx;
	(void)lsn;
	(void)ids;
	(void)ts;
	(void)vals;
	(void)n;
	return -ENOSPC;
}

static void test_st_wal__payload_decode_callback_errors(void **state)
{
	(void)state;
	uint8_t *p = malloc(8192);
	uint32_t np, keys = 0;
	assert_non_null(p);
	uint32_t len = pl_build(PL_KEYLEN_MAX, p, &np);
	const struct st_wal_replay_cb big = {.series = count_series, .points = fail_points};
	assert_int_equal(st_wal_payload_decode(p, len, np, 1, &big, &keys), 0);
	assert_int_equal(keys, ST_KEY_MAX);
	len = pl_build(PL_VALID, p, &np);
	assert_int_equal(st_wal_payload_decode(p, len, np, 1, &big, &keys), -ENOSPC);
	log_clear(&fx.got);
	fx.got.fail_at = 1;
	fx.got.fail_rc = -EIO;
	assert_int_equal(st_wal_payload_decode(p, len, np, 1, &log_cb, &fx.got), -EIO);
	free(p);
}

int main(void)
{
	tst_require_uring();
	if (!getenv("ST_WAL_TEST_LOG"))
		cm_log_set_level(CM_LOG_ERR);

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_st_wal__roundtrip_interval),
		T(test_st_wal__roundtrip_sync),
		T(test_st_wal__interval_durable_after_fsync_interval),
		T(test_st_wal__reopen_continues_lsns),
		T(test_st_wal__replay_from_lsn_skips_older),
		T(test_st_wal__replay_of_missing_or_empty_dir),
		T(test_st_wal__rollover_waits_for_service),
		T(test_st_wal__checkpoint_deletes_exactly_covered_segments),
		T(test_st_wal__room_false_when_stage_full),
		T(test_st_wal__full_stage_always_fits_the_buffer),
		T(test_st_wal__zstd_levels),
		T(test_st_wal__truncated_tail),
		T(test_st_wal__truncated_tail_inside_header),
		T(test_st_wal__corrupt_tail_payload),
		T(test_st_wal__corrupt_tail_header),
		T(test_st_wal__garbage_after_last_record),
		T(test_st_wal__corrupt_record_in_middle_segment),
		T(test_st_wal__unused_segment_removed),
		T(test_st_wal__bad_header_segment_skipped_then_deleted),
		T(test_st_wal__callback_error_stops_replay_without_damage),
		T(test_st_wal__other_shard_ignored),
		T(test_st_wal__enospc_then_recovery_interval),
		T(test_st_wal__enospc_then_recovery_sync),
		T(test_st_wal__eio_on_fdatasync_rewrites),
		T(test_st_wal__short_writes_sync),
		T(test_st_wal__short_writes_interval),
		T(test_st_wal__intermittent_write_errors),
		T(test_st_wal__spare_failure_stalls_then_recovers),
		T(test_st_wal__crash_images_hold_durable_records_interval),
		T(test_st_wal__crash_images_hold_durable_records_sync),
		T(test_st_wal__close_gives_up_on_persistent_errors),
		T(test_st_wal__direct_io_on_disk),
		T(test_st_wal__buffered_fallback_on_tmpfs),
		T(test_st_wal__service_thread_with_checkpoints),
		T(test_st_wal__open_rejects_bad_config),
		T(test_st_wal__payload_decode_table),
		T(test_st_wal__payload_decode_callback_errors),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
