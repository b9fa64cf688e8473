/*
 * test_dp_inject.c - unit tests for dataplane/dp_inject.c, the per-shard
 * injection rings: batches (append, reset, full by points and by key
 * bytes), slots (claimed once each, then -ENOSPC), a full ring (-EAGAIN,
 * counted), the drain bound (max_points, whole batches only, FIFO per
 * slot), a batch reused the moment it is done (the owner must not read it
 * afterwards: the drain's count stays exact), and a store end to end: an owner thread that loops dp_inject_drain
 * + st_store_poll as a dataplane core does, two writer threads that submit
 * 200 batches of random points each (fixed seeds) and wait for them, in
 * both WAL durability modes. Every batch's results are checked against a
 * reference model (its stored count and per-status counts; under sync,
 * durable_lsn >= its lsn when the wait returns), and the store is read back
 * (and reopened) against the model: the last value written per series and
 * time.
 *
 * Files live in a fresh mkdtemp directory under $TMPDIR (or /tmp), removed
 * after each case. Exits 77 (skip) when the kernel refuses io_uring (the
 * WAL needs it).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "cm_rand.h"
#include "dp_inject.h"
#include "st_io.h"
#include "st_series.h"
#include "st_store.h"
#include "tst_util.h"

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})
#define T0 (1451606400LL * CM_NS_PER_SEC) /* 2016-01-01 */
#define WAIT_NS (20 * CM_NS_PER_SEC)

/* ============================================================== fixture */

struct fx {
	char dir[256];
	struct st_rcu *rcu;
	struct st_store_cfg cfg;
	struct st_store *st;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_non_null(tst_tmpdir(f->dir, sizeof(f->dir), "dp_inject"));
	assert_int_equal(st_rcu_create(8, &f->rcu), 0);
	tst_store_cfg(&f->cfg, f->dir, f->rcu);
	f->cfg.shard.memory_limit_bytes = 256u << 20;
	f->cfg.wal.durability = ST_WAL_NONE;
	f->cfg.wal.io_thread = false;   /* the owner's st_store_poll runs the encoder */
	f->cfg.wal.segment_bytes = 16u << 20;
	f->cfg.wal.buffer_bytes = 1u << 20;
	f->cfg.wal.fsync_interval_ns = 2 * CM_NS_PER_MS;
	*state = f;
	return 0;
}

static void fx_open(struct fx *f)
{
	struct st_store_recovery rec;
	assert_int_equal(st_store_open(&f->cfg, &f->st, &rec), 0);
}

static void fx_close(struct fx *f)
{
	st_store_close(f->st);
	f->st = NULL;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (f->st)
		fx_close(f);
	tst_rm_tree(f->dir);
	st_rcu_destroy(f->rcu);
	free(f);
	return 0;
}

/* A key of measurement m with tag w=<w>, field f. */
static int make_key(uint8_t *out, size_t cap, const char *m, uint32_t w, const char *field)
{
	char wt[16];
	snprintf(wt, sizeof(wt), "%u", w);
	struct st_tag t = {S("w"), {wt, (uint32_t)strlen(wt)}};
	int n = st_key_build(out, cap, (struct st_str){m, (uint32_t)strlen(m)},
			     (struct st_str){field, (uint32_t)strlen(field)}, &t, 1);
	assert_true(n > 0);
	return n;
}

static void add_point(struct dp_inject_batch *b, const uint8_t *key, int kl, int64_t ts, double v)
{
	assert_int_equal(dp_inject_batch_add(b, key, (uint32_t)kl, st_key_hash(key, (size_t)kl), ts,
					     ST_VT_F64, (union st_value){.f64 = v}),
			 0);
}

/* ================================================================ batches */

static void test_dp_inject__batch_add_reset_full(void **state)
{
	(void)state;
	struct dp_inject_batch *b;
	assert_int_equal(dp_inject_batch_create(4, 64, &b), 0);
	uint8_t key[64];
	memset(key, 'k', sizeof(key));
	/* points cap: 4 keys of 10 bytes fit, the 5th point does not */
	for (int i = 0; i < 4; i++) {
		key[0] = (uint8_t)('a' + i);
		assert_int_equal(dp_inject_batch_add(b, key, 10, 7, i, ST_VT_I64,
						     (union st_value){.i64 = i * 3}),
				 0);
	}
	assert_int_equal(dp_inject_batch_add(b, key, 1, 7, 9, ST_VT_I64, (union st_value){.i64 = 0}),
			 -ENOSPC);
	assert_int_equal(b->n, 4);
	assert_int_equal(b->arena_used, 40);
	/* the keys were copied into the arena, one after the other */
	for (uint32_t i = 0; i < 4; i++) {
		const struct st_shard_point *p = &b->pts[i];
		assert_ptr_equal(p->key, b->arena + 10 * i);
		assert_int_equal(p->keylen, 10);
		assert_int_equal(p->key[0], 'a' + i);
		assert_int_equal(p->ts_ns, i);
		assert_int_equal(p->v.i64, i * 3);
		assert_int_equal(p->type, ST_VT_I64);
		assert_true(p->hash == 7);
	}
	key[0] = 'z';
	assert_int_equal(b->pts[0].key[0], 'a');

	/* reset: empty again, results cleared */
	b->stored = 3;
	b->status[ST_INS_OK] = 3;
	b->lsn = 9;
	atomic_store(&b->done, 1);
	dp_inject_batch_reset(b);
	assert_int_equal(b->n, 0);
	assert_int_equal(b->arena_used, 0);
	assert_int_equal(b->stored, 0);
	assert_int_equal(b->status[ST_INS_OK], 0);
	assert_int_equal(b->lsn, 0);
	assert_int_equal(atomic_load(&b->done), 0);

	/* arena cap: 40 + 24 fills it exactly, then not even one more byte */
	assert_int_equal(dp_inject_batch_add(b, key, 40, 1, 0, ST_VT_F64, (union st_value){0}), 0);
	assert_int_equal(dp_inject_batch_add(b, key, 25, 1, 0, ST_VT_F64, (union st_value){0}),
			 -ENOSPC);
	assert_int_equal(b->n, 1);
	assert_int_equal(b->arena_used, 40);
	assert_int_equal(dp_inject_batch_add(b, key, 24, 1, 0, ST_VT_F64, (union st_value){0}), 0);
	assert_int_equal(b->arena_used, 64);
	assert_int_equal(dp_inject_batch_add(b, key, 1, 1, 0, ST_VT_F64, (union st_value){0}),
			 -ENOSPC);
	assert_int_equal(b->n, 2);
	dp_inject_batch_destroy(b);
	dp_inject_batch_destroy(NULL);
}

static void test_dp_inject__create_and_claim(void **state)
{
	(void)state;
	struct dp_inject *inj;
	assert_int_equal(dp_inject_create(0, 8, &inj), -EINVAL);
	assert_int_equal(dp_inject_create(2, 6, &inj), -EINVAL);  /* not a power of two */
	assert_int_equal(dp_inject_create(2, 1, &inj), -EINVAL);
	assert_int_equal(dp_inject_create(3, 8, &inj), 0);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		int s = dp_inject_writer_claim(inj);
		assert_true(s >= 0 && s < 3);
		assert_false(seen & (1 << s));
		seen |= 1 << s;
	}
	/* more claims than slots */
	assert_int_equal(dp_inject_writer_claim(inj), -ENOSPC);
	assert_int_equal(dp_inject_writer_claim(inj), -ENOSPC);
	struct dp_inject_stats s;
	dp_inject_stats_read(inj, &s);
	assert_int_equal(s.batches + s.points + s.stored + s.submit_full, 0);
	dp_inject_destroy(inj);
	dp_inject_destroy(NULL);
}

/* A ring of 4 holds 3 batches (rte_ring keeps one slot free): the 4th is refused. */
static void test_dp_inject__ring_full(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct dp_inject *inj;
	assert_int_equal(dp_inject_create(2, 4, &inj), 0);
	int slot = dp_inject_writer_claim(inj);
	assert_true(slot >= 0);
	struct dp_inject_batch *b[5];
	uint8_t key[64];
	int kl = make_key(key, sizeof(key), "ring", 0, "v");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(dp_inject_batch_create(8, 512, &b[i]), 0);
		add_point(b[i], key, kl, T0 + i, i);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(dp_inject_submit(inj, slot, b[i]), 0);
	assert_int_equal(dp_inject_submit(inj, slot, b[3]), -EAGAIN);
	assert_int_equal(dp_inject_submit(inj, slot, b[4]), -EAGAIN);
	struct dp_inject_stats s;
	dp_inject_stats_read(inj, &s);
	assert_int_equal(s.submit_full, 2);
	assert_int_equal(s.batches, 0);
	/* a refused batch is not in flight */
	assert_int_equal(dp_inject_wait(b[3], f->st, false, 0), -ETIMEDOUT);
	/* the other slot is a ring of its own */
	int slot2 = dp_inject_writer_claim(inj);
	assert_int_equal(dp_inject_submit(inj, slot2, b[3]), 0);
	assert_int_equal(dp_inject_drain(inj, f->st, 1000), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(dp_inject_wait(b[i], f->st, true, WAIT_NS), 0);
		assert_int_equal(b[i]->stored, 1);
		assert_int_equal(b[i]->status[ST_INS_OK], 1);
		assert_int_equal(b[i]->lsn, 0); /* no WAL */
	}
	/* room again */
	assert_int_equal(dp_inject_submit(inj, slot, b[4]), 0);
	assert_int_equal(dp_inject_drain(inj, f->st, 1000), 1);
	dp_inject_stats_read(inj, &s);
	assert_int_equal(s.submit_full, 2);
	assert_int_equal(s.batches, 5);
	assert_int_equal(s.points, 5);
	assert_int_equal(s.stored, 5);
	for (int i = 0; i < 5; i++)
		dp_inject_batch_destroy(b[i]);
	dp_inject_destroy(inj);
	fx_close(f);
}

static bool is_done(const struct dp_inject_batch *b)
{
	return atomic_load_explicit(&b->done, memory_order_acquire) != 0;
}

/*
 * dp_inject_drain takes whole batches, at most max_points points per call
 * (a single batch larger than that alone), and keeps each slot's order.
 */
static void test_dp_inject__drain_respects_max_points(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct dp_inject *inj;
	assert_int_equal(dp_inject_create(2, 16, &inj), 0);
	int s0 = dp_inject_writer_claim(inj), s1 = dp_inject_writer_claim(inj);
	uint8_t key[64];
	int kl = make_key(key, sizeof(key), "drain", 0, "v");
	/* slot 0: 600, 600, 300, 1500, 100 points; slot 1: 400, 400 */
	const uint32_t sizes0[] = {600, 600, 300, 1500, 100}, sizes1[] = {400, 400};
	struct dp_inject_batch *b0[5], *b1[2];
	int64_t ts = T0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(dp_inject_batch_create(sizes0[i], sizes0[i] * (size_t)kl, &b0[i]), 0);
		for (uint32_t k = 0; k < sizes0[i]; k++)
			add_point(b0[i], key, kl, ts++, (double)k);
		assert_int_equal(dp_inject_submit(inj, s0, b0[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(dp_inject_batch_create(sizes1[i], sizes1[i] * (size_t)kl, &b1[i]), 0);
		for (uint32_t k = 0; k < sizes1[i]; k++)
			add_point(b1[i], key, kl, ts++, (double)k);
		assert_int_equal(dp_inject_submit(inj, s1, b1[i]), 0);
	}
	uint32_t total = 0, calls = 0;
	bool done0[5] = {false}, done1[2] = {false};
	while (total < 3900) {
		uint32_t got = dp_inject_drain(inj, f->st, 1000);
		assert_true(++calls < 20);
		/* what finished in this call: whole batches, FIFO per slot */
		uint32_t sum = 0, nb = 0;
		for (int i = 0; i < 5; i++) {
			if (!done0[i] && is_done(b0[i])) {
				for (int j = 0; j < i; j++)
					assert_true(done0[j]);
				assert_int_equal(b0[i]->stored, sizes0[i]);
				done0[i] = true;
				sum += sizes0[i];
				nb++;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (!done1[i] && is_done(b1[i])) {
				for (int j = 0; j < i; j++)
					assert_true(done1[j]);
				assert_int_equal(b1[i]->stored, sizes1[i]);
				done1[i] = true;
				sum += sizes1[i];
				nb++;
			}
		}
		assert_int_equal(got, sum);
		assert_true(nb >= 1);
		/* never more than max_points, unless one batch alone is bigger */
		if (got > 1000) {
			assert_int_equal(nb, 1);
		}
		total += got;
	}
	assert_int_equal(total, 3900);
	assert_int_equal(dp_inject_drain(inj, f->st, 1000), 0);
	assert_true(calls >= 5); /* 3900 points at most 1000 a call, the 1500 alone */
	struct dp_inject_stats s;
	dp_inject_stats_read(inj, &s);
	assert_int_equal(s.batches, 7);
	assert_int_equal(s.points, 3900);
	assert_int_equal(s.stored, 3900);
	for (int i = 0; i < 5; i++)
		dp_inject_batch_destroy(b0[i]);
	for (int i = 0; i < 2; i++)
		dp_inject_batch_destroy(b1[i]);
	dp_inject_destroy(inj);
	fx_close(f);
}

/* Refill b[from..to) with PER points of key i at times from t (seconds) on, and submit them. */
static void refill(struct dp_inject *inj, int slot, struct dp_inject_batch **b, uint8_t (*keys)[64],
		   const int *kl, int from, int to, uint32_t per, int64_t t)
{
	for (int i = from; i < to; i++) {
		dp_inject_batch_reset(b[i]);
		for (uint32_t k = 0; k < per; k++)
			add_point(b[i], keys[i], kl[i], T0 + (t + (int64_t)k) * CM_NS_PER_SEC, (double)k);
		assert_int_equal(dp_inject_submit(inj, slot, b[i]), 0);
	}
}

static uint64_t store_refused(struct st_store *st, enum st_insert_status why)
{
	struct st_store_stats s;
	st_store_stats_read(st, &s);
	return s.refused[why];
}

/*
 * The WAL pushes back (its staged batches fill: the encoder runs only in
 * st_store_poll, which this test holds off):
 * - the batch at the head waits, not done, nothing refused or counted as
 *   refused, and goes on where it stopped once the WAL drains; every point
 *   is stored once, and the drains' returns add up to the points;
 * - a stall longer than DP_INJECT_BACKPRESSURE_WAIT_NS has the rest refused
 *   and counted (in the batch and in the store alike), once for all the
 *   batches queued behind it, not once per batch; once the WAL takes points
 *   again, a push-back is waited out again;
 * - the final drain holds nothing: every queued batch is done at once.
 */
static void test_dp_inject__backpressure_waits(void **state)
{
	struct fx *f = *state;
	f->cfg.wal.durability = ST_WAL_INTERVAL; /* a WAL (none: no WAL to push back) */
	f->cfg.wal.batch_points = 1024; /* 4 staged batches: 4,096 points until the encoder runs */
	fx_open(f);
	struct dp_inject *inj;
	assert_int_equal(dp_inject_create(1, 64, &inj), 0);
	int slot = dp_inject_writer_claim(inj);
	enum { NB = 48, PER = 1000 };
	static uint8_t keys[NB][64];
	int kl[NB];
	struct dp_inject_batch *b[NB];
	for (int i = 0; i < NB; i++) {
		kl[i] = make_key(keys[i], sizeof(keys[i]), "bp", (uint32_t)i, "v");
		assert_int_equal(dp_inject_batch_create(PER, PER * (size_t)kl[i], &b[i]), 0);
	}
	refill(inj, slot, b, keys, kl, 0, NB, PER, 0);
	/* no st_store_poll: the stage fills and a batch stops part way */
	uint64_t drained = 0;
	int blocked = -1;
	for (int pass = 0; pass < NB && blocked < 0; pass++) {
		drained += dp_inject_drain(inj, f->st, UINT32_MAX);
		for (int i = 0; i < NB && blocked < 0; i++)
			if (!is_done(b[i]))
				blocked = i;
	}
	if (blocked <= 0) /* some go in before the stage is full */
		fail_msg("blocked at batch %d", blocked);
	for (int k = 0; k < 5; k++)
		assert_int_equal(dp_inject_drain(inj, f->st, UINT32_MAX), 0);
	assert_false(is_done(b[blocked]));
	assert_int_equal(store_refused(f->st, ST_INS_BACKPRESSURE), 0);
	/* the WAL drains: everything goes in, where it stopped */
	for (int k = 0; k < 100000 && !is_done(b[NB - 1]); k++) {
		st_store_poll(f->st);
		drained += dp_inject_drain(inj, f->st, UINT32_MAX);
	}
	for (int i = 0; i < NB; i++) {
		assert_true(is_done(b[i]));
		assert_int_equal(b[i]->stored, PER);
		assert_int_equal(b[i]->status[ST_INS_BACKPRESSURE], 0);
	}
	assert_int_equal(drained, (uint64_t)NB * PER);
	assert_int_equal(store_refused(f->st, ST_INS_BACKPRESSURE), 0);
	struct dp_inject_stats st;
	dp_inject_stats_read(inj, &st);
	assert_int_equal(st.points, (uint64_t)NB * PER);
	assert_int_equal(st.stored, (uint64_t)NB * PER);

	/* held too long: 6 batches, the stage holds about 4 (no poll) */
	enum { NB2 = 6 };
	refill(inj, slot, b, keys, kl, 0, NB2, PER, PER);
	int64_t t0 = cm_mono_ns();
	while (!is_done(b[NB2 - 1])) {
		dp_inject_drain(inj, f->st, UINT32_MAX);
		assert_true(cm_mono_ns() - t0 < 20 * DP_INJECT_BACKPRESSURE_WAIT_NS);
		usleep(1000);
	}
	int64_t gave_up = cm_mono_ns() - t0;
	assert_true(gave_up >= DP_INJECT_BACKPRESSURE_WAIT_NS);
	assert_true(gave_up < 2 * DP_INJECT_BACKPRESSURE_WAIT_NS);   /* one wait, not one a batch */
	uint64_t refused = 0;
	for (int i = 0; i < NB2; i++)
		refused += b[i]->status[ST_INS_BACKPRESSURE];
	assert_true(refused > 0);
	assert_int_equal(store_refused(f->st, ST_INS_BACKPRESSURE), refused);

	/* the WAL takes points again: the next push-back is waited out, not refused */
	for (int k = 0; k < 1000; k++)
		st_store_poll(f->st);
	refill(inj, slot, b, keys, kl, 0, NB2, PER, 2 * PER);
	for (int k = 0; k < 20; k++)
		dp_inject_drain(inj, f->st, UINT32_MAX);
	assert_false(is_done(b[NB2 - 1]));
	assert_int_equal(store_refused(f->st, ST_INS_BACKPRESSURE), refused);

	/* the final drain, the WAL still full: every queued batch done at once, the rest
	 * refused and counted */
	uint64_t through = 0;
	for (int i = 0; i < NB2; i++)
		for (int j = 0; j < ST_INS__COUNT; j++)
			through += b[i]->status[j];
	t0 = cm_mono_ns();
	assert_int_equal(dp_inject_drain_final(inj, f->st), (uint64_t)NB2 * PER - through);
	assert_true(cm_mono_ns() - t0 < DP_INJECT_BACKPRESSURE_WAIT_NS);
	for (int i = 0; i < NB2; i++)
		assert_true(is_done(b[i]));
	assert_int_equal(b[NB2 - 1]->status[ST_INS_BACKPRESSURE], PER);
	for (int i = 0; i < NB; i++)
		dp_inject_batch_destroy(b[i]);
	dp_inject_destroy(inj);
	fx_close(f);
}

/*
 * A done batch is the writer's again at once: the owner must not read it
 * after marking it done. The writer here reuses each batch the moment it
 * sees done (an acquire load, as dp_inject_wait does, without the naps),
 * and the points the owner's drains report must be the points submitted.
 */
struct handback {
	struct dp_inject *inj;
	struct st_store *st;
	_Atomic bool stop;
	uint64_t drained;
};

static void *handback_owner(void *arg)
{
	struct handback *h = arg;
	for (uint32_t idle = 0; !atomic_load_explicit(&h->stop, memory_order_acquire);) {
		uint32_t k = dp_inject_drain(h->inj, h->st, UINT32_MAX);
		h->drained += k;
		if (k == 0 && ++idle % 4096 == 0)
			sched_yield(); /* a small machine: let the writer run */
	}
	h->drained += dp_inject_drain(h->inj, h->st, UINT32_MAX);
	return NULL;
}

static void test_dp_inject__done_batch_is_the_writers(void **state)
{
	struct fx *f = *state;
	fx_open(f);
	struct handback h = {.st = f->st};
	assert_int_equal(dp_inject_create(1, 8, &h.inj), 0);
	int slot = dp_inject_writer_claim(h.inj);
	struct dp_inject_batch *b;
	assert_int_equal(dp_inject_batch_create(8, 512, &b), 0);
	uint8_t key[64];
	int kl = make_key(key, sizeof(key), "handback", 0, "v");
	pthread_t owner;
	assert_int_equal(pthread_create(&owner, NULL, handback_owner, &h), 0);
	uint64_t sent = 0;
	for (int i = 0; i < 200000; i++) {
		dp_inject_batch_reset(b);
		uint32_t n = 1 + (uint32_t)i % 8;
		for (uint32_t k = 0; k < n; k++)
			add_point(b, key, kl, T0 + (int64_t)i * 8 + k, 1.0);
		while (dp_inject_submit(h.inj, slot, b) == -EAGAIN)
			sched_yield();
		sent += n;
		/* spin (the window is a few instructions), yielding now and then for small machines */
		for (uint32_t spins = 1; !atomic_load_explicit(&b->done, memory_order_acquire); spins++)
			if (spins % 4096 == 0)
				sched_yield();
		b->n = 0; /* reused at once (or freed: then a late read is use-after-free) */
	}
	atomic_store_explicit(&h.stop, true, memory_order_release);
	pthread_join(owner, NULL);
	assert_int_equal(h.drained, sent);
	struct dp_inject_stats s;
	dp_inject_stats_read(h.inj, &s);
	assert_int_equal(s.points, sent);
	assert_int_equal(s.stored, sent);
	dp_inject_batch_destroy(b);
	dp_inject_destroy(h.inj);
	fx_close(f);
}

/* ======================================================= writers and owner */

#define NWRITERS 2
#define NBATCH 200
#define INFLIGHT 4
#define NSER 6           /* series per writer */
#define NTS 1500         /* distinct timestamps per series: repeats happen */
#define BATCH_MAX 160

/* What one writer wrote: per series, the last value per time (series are per writer). */
struct wmodel {
	uint8_t keys[NSER][64];
	uint32_t keylen[NSER];
	uint8_t vtype[NSER];      /* ST_VT_NONE until the first point */
	uint64_t val[NSER][NTS];
	bool present[NSER][NTS];
};

struct expect {
	uint32_t n, stored, conflicts;
};

struct run {
	struct st_store *st;
	struct dp_inject *inj;
	bool sync;
	_Atomic bool stop;
	_Atomic uint32_t writers_failed;
};

struct writer {
	struct run *r;
	uint32_t id;
	uint64_t seed;
	struct wmodel *m;
	uint64_t eagain;
	uint64_t points, stored;
	int64_t status[ST_INS__COUNT];
	const char *fail;
};

static void *owner_main(void *arg)
{
	struct run *r = arg;
	while (!atomic_load(&r->stop)) {
		uint32_t k = dp_inject_drain(r->inj, r->st, 4096);
		st_store_poll(r->st);
		if (!k)
			cm_sleep_ns(20 * CM_NS_PER_US);
	}
	return NULL;
}

/* Build a batch of random points; the model learns what the store must do with each. */
static bool fill_batch(struct writer *w, struct dp_inject_batch *b, uint64_t *rng,
		       struct expect *e)
{
	struct wmodel *m = w->m;
	dp_inject_batch_reset(b);
	uint32_t n = 1 + (uint32_t)(cm_splitmix64(rng) % BATCH_MAX);
	memset(e, 0, sizeof(*e));
	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = cm_splitmix64(rng);
		uint32_t s = (uint32_t)(x % NSER);
		uint32_t t = (uint32_t)((x >> 8) % NTS);
		/* mostly each series' own type; 1 in 40 the other: a type conflict */
		uint8_t type = (s % 2 ? ST_VT_F64 : ST_VT_I64);
		if ((x >> 32) % 40 == 0)
			type = type == ST_VT_F64 ? ST_VT_I64 : ST_VT_F64;
		union st_value v;
		if (type == ST_VT_F64)
			v.f64 = (double)(int64_t)(cm_splitmix64(rng) % 1000000) / 8.0;
		else
			v.i64 = (int64_t)(cm_splitmix64(rng) % 2000001) - 1000000;
		if (dp_inject_batch_add(b, m->keys[s], m->keylen[s],
					st_key_hash(m->keys[s], m->keylen[s]),
					T0 + (int64_t)t * CM_NS_PER_SEC, type, v))
			return false; /* no cmocka asserts off the test thread */
		if (m->vtype[s] == ST_VT_NONE)
			m->vtype[s] = type;
		if (type != m->vtype[s]) {
			e->conflicts++;
			continue;
		}
		m->val[s][t] = v.u64;
		m->present[s][t] = true;
		e->stored++;
	}
	e->n = n;
	return true;
}

#define WCHECK(cond, what)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			w->fail = what;                                                            \
			atomic_fetch_add(&w->r->writers_failed, 1);                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Wait for batch b and check it against what the model expected. */
static void writer_finish(struct writer *w, struct dp_inject_batch *b, const struct expect *e,
			  bool durable)
{
	struct run *r = w->r;
	int rc = dp_inject_wait(b, r->st, durable, WAIT_NS);
	WCHECK(rc == 0, "dp_inject_wait timed out");
	/* checked right after the return: the wait's promise holds now */
	uint64_t durable_lsn = st_store_durable_lsn(r->st);
	if (durable) {
		WCHECK(b->lsn != 0, "a batch with stored points has lsn 0");
		WCHECK(durable_lsn >= b->lsn, "durable wait returned before durable_lsn >= lsn");
	}
	WCHECK(b->n == e->n, "batch size changed");
	WCHECK(b->stored == e->stored, "stored count differs from the model");
	WCHECK(b->status[ST_INS_TYPE_CONFLICT] == e->conflicts, "type conflicts differ");
	uint32_t sum = 0;
	for (int k = 0; k < ST_INS__COUNT; k++) {
		sum += b->status[k];
		w->status[k] += b->status[k];
	}
	WCHECK(sum == b->n, "statuses do not add up to the points");
	WCHECK(b->status[ST_INS_OK] + b->status[ST_INS_OOO] == b->stored,
	       "stored is not OK + OOO");
	w->points += b->n;
	w->stored += b->stored;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct run *r = w->r;
	int slot = dp_inject_writer_claim(r->inj);
	if (slot < 0) {
		w->fail = "no slot";
		atomic_fetch_add(&r->writers_failed, 1);
		return NULL;
	}
	struct dp_inject_batch *b[INFLIGHT];
	struct expect e[INFLIGHT];
	for (int i = 0; i < INFLIGHT; i++)
		if (dp_inject_batch_create(BATCH_MAX, BATCH_MAX * 64, &b[i])) {
			w->fail = "batch_create";
			atomic_fetch_add(&r->writers_failed, 1);
			return NULL;
		}
	uint64_t rng = w->seed;
	for (uint32_t i = 0; i < NBATCH && !w->fail; i++) {
		uint32_t k = i % INFLIGHT;
		if (i >= INFLIGHT)
			writer_finish(w, b[k], &e[k], r->sync);
		if (w->fail)
			break;
		if (!fill_batch(w, b[k], &rng, &e[k])) {
			w->fail = "dp_inject_batch_add refused a point";
			atomic_fetch_add(&r->writers_failed, 1);
			break;
		}
		while (dp_inject_submit(r->inj, slot, b[k]) == -EAGAIN) {
			w->eagain++;
			cm_sleep_ns(50 * CM_NS_PER_US);
		}
	}
	/* the tail: under interval, the very last wait asks for durability too */
	for (uint32_t i = NBATCH; i < NBATCH + INFLIGHT && !w->fail; i++)
		writer_finish(w, b[i % INFLIGHT], &e[i % INFLIGHT],
			      r->sync || i == NBATCH + INFLIGHT - 1);
	for (int i = 0; i < INFLIGHT; i++)
		dp_inject_batch_destroy(b[i]);
	return NULL;
}

/* Every series of every writer reads back exactly its model. */
static void check_store(struct fx *f, struct wmodel *models)
{
	int reader = st_rcu_reader_register(f->rcu);
	assert_true(reader >= 0);
	uint32_t nseries = 0;
	for (int w = 0; w < NWRITERS; w++) {
		struct wmodel *m = &models[w];
		for (int s = 0; s < NSER; s++) {
			int id = tst_store_find_series(f->st, m->keys[s], m->keylen[s]);
			assert_true(id >= 0);
			nseries++;
			struct st_points p;
			st_points_init(&p);
			st_read_begin(f->rcu, reader);
			int n = st_store_read(f->st, (uint32_t)id, INT64_MIN, INT64_MAX, &p);
			st_read_end(f->rcu, reader);
			assert_true(n >= 0);
			size_t k = 0;
			for (int t = 0; t < NTS; t++) {
				if (!m->present[s][t])
					continue;
				if (k >= p.n || p.ts[k] != T0 + (int64_t)t * CM_NS_PER_SEC ||
				    p.vals[k] != m->val[s][t])
					fail_msg("writer %d series %d t %d: got n=%zu k=%zu", w, s, t,
						 p.n, k);
				k++;
			}
			assert_int_equal(k, p.n);
			st_points_release(&p);
		}
	}
	assert_int_equal(st_shard_series_count(st_store_shard(f->st)), nseries);
	st_rcu_reader_unregister(f->rcu, reader);
}

static void writers_run(struct fx *f, enum st_wal_durability d)
{
	f->cfg.wal.durability = d;
	fx_open(f);
	struct run r = {.st = f->st, .sync = d == ST_WAL_SYNC};
	assert_int_equal(dp_inject_create(NWRITERS, 4, &r.inj), 0);
	struct wmodel *models = calloc(NWRITERS, sizeof(*models));
	assert_non_null(models);
	struct writer w[NWRITERS];
	memset(w, 0, sizeof(w));
	for (uint32_t i = 0; i < NWRITERS; i++) {
		for (uint32_t s = 0; s < NSER; s++) {
			char meas[16];
			snprintf(meas, sizeof(meas), "inj%u", s);
			models[i].keylen[s] = (uint32_t)make_key(models[i].keys[s], 64, meas, i, "v");
		}
		w[i] = (struct writer){.r = &r, .id = i, .seed = 0x1234567ull * (i + 1), .m = &models[i]};
	}
	pthread_t owner, wt[NWRITERS];
	assert_int_equal(pthread_create(&owner, NULL, owner_main, &r), 0);
	for (int i = 0; i < NWRITERS; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &w[i]), 0);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(wt[i], NULL);
	atomic_store(&r.stop, true);
	pthread_join(owner, NULL);
	for (int i = 0; i < NWRITERS; i++)
		if (w[i].fail)
			fail_msg("writer %d: %s", i, w[i].fail);
	/* more claims than slots */
	assert_int_equal(dp_inject_writer_claim(r.inj), -ENOSPC);

	struct dp_inject_stats s;
	dp_inject_stats_read(r.inj, &s);
	uint64_t points = 0, stored = 0, eagain = 0, conflicts = 0;
	for (int i = 0; i < NWRITERS; i++) {
		points += w[i].points;
		stored += w[i].stored;
		eagain += w[i].eagain;
		conflicts += (uint64_t)w[i].status[ST_INS_TYPE_CONFLICT];
	}
	assert_int_equal(s.batches, NWRITERS * NBATCH);
	assert_int_equal(s.points, points);
	assert_int_equal(s.stored, stored);
	assert_int_equal(s.submit_full, eagain);
	assert_true(conflicts > 0 && stored < points);
	check_store(f, models);

	/* what was acknowledged comes back after a restart (close syncs the rest) */
	fx_close(f);
	fx_open(f);
	check_store(f, models);
	fx_close(f);
	dp_inject_destroy(r.inj);
	free(models);
}

static void test_dp_inject__writers_interval(void **state)
{
	writers_run(*state, ST_WAL_INTERVAL);
}

static void test_dp_inject__writers_sync(void **state)
{
	writers_run(*state, ST_WAL_SYNC);
}

int main(void)
{
	tst_require_uring();
	cm_log_set_level(CM_LOG_WARN);
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_inject__batch_add_reset_full),
		cmocka_unit_test(test_dp_inject__create_and_claim),
		T(test_dp_inject__ring_full),
		T(test_dp_inject__drain_respects_max_points),
		T(test_dp_inject__backpressure_waits),
		T(test_dp_inject__done_batch_is_the_writers),
		T(test_dp_inject__writers_interval),
		T(test_dp_inject__writers_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
