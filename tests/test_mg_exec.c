/*
 * test_mg_exec.c - the query executor (mgmt/mg_exec*.c, mg_eval.c) checked
 * against a brute-force evaluator written here, on real stores: two shards
 * (WAL off: the executor reads the shards, the WAL is not under test), the
 * series index synced by mg_index, and the database catalog (default
 * database "db0", whose series carry no prefix). Exits 77 (skip) when the
 * kernel refuses io_uring (the stores' tiers need it).
 *
 * Dataset (fixed seed): measurement "m", tags host (h0..h5) and region
 * (r0..r2; absent on two series, and host h1 has one series with a region
 * and one without), fields a (integer) and b (float: absent on some rows,
 * and on host h5 entirely), on a 10 s grid over 2 h with random gaps and
 * holes; measurement "n" (tags host and dc, fields a and c). Four keys of m
 * live in both shards, in alternating 230 s runs, so reading them merges two
 * shards. The first 60% of the points are checkpointed into blocks (small
 * block chunks), with decoy values at most later times up to 70% that the
 * hot tier then overrides (insert_model): its points before the last decoy
 * land in the out-of-order chunks, the later ones in order. So reads merge
 * tiers, and the ends of a series (ORDER BY time [DESC] LIMIT: the block
 * summaries, the hot chunk holding the end; series_ends walks them) meet
 * equal times in both. The test keeps its own copy of every point (model.pts) and the
 * brute force reads only that: it filters every point, groups, buckets,
 * aggregates by sorting, fills, orders and limits, simply and slowly.
 *
 * Cases:
 *   show            SHOW MEASUREMENTS / TAG KEYS / TAG VALUES / FIELD KEYS /
 *                   SERIES (with FROM, WHERE, LIMIT/OFFSET) against the model;
 *   hand_checked    queries over a tiny database "hand" (measurement hc)
 *                   whose answers were worked out by hand (insert_hand);
 *   regressions     queries over "hand" (REGRESSIONS), one group per
 *                   executor bug this test once found or fast path that
 *                   could bring one back (shard merge, first/last ties,
 *                   percentile's time, fill per column and its types,
 *                   group order, the GROUP BY time LIMIT window, ...), each
 *                   checking the rule its comment names;
 *   series_ends     LIMIT 1 at both ends of every series, bound every 50 s;
 *   random          NQUERIES random queries (fixed seed): aggregates count,
 *                   sum, mean, min, max, first, last, spread, median, stddev,
 *                   percentile over a or b; WHERE with tag =, !=, <>, =~, !~,
 *                   AND/OR/parentheses, field predicates (integer field vs
 *                   float literal too) and time bounds (>=, >, <, <=;
 *                   RFC3339, "date time", integer ns, 'time' + duration,
 *                   now() - duration, either side of the operator); GROUP BY
 *                   time(1m|5m|17m [, offset]) with or without host, region,
 *                   both (in either order) or *; every fill; ORDER BY time
 *                   DESC; LIMIT/OFFSET; SLIMIT/SOFFSET; raw SELECT of a, b,
 *                   host with WHERE, GROUP BY host and LIMIT. Every result
 *                   is compared exactly: series order, names, tags, columns,
 *                   rows; floats within 1e-9 relative (summation orders
 *                   differ); an integral float equals the same integer (the
 *                   JSON cannot tell them apart). A mismatch fails the
 *                   case; the run stops after REPORT_MAX, each printed with the query,
 *                   the first difference and both results.
 *
 * Semantics assumed (InfluxDB 1.x, read in its query/ and influxql/ sources
 * where the executor's comments are silent):
 *   - A missing tag is "", a missing field null; a comparison with null is
 *     false (also !=); regexes search unanchored.
 *   - Time bounds: >= and <= inclusive, > and < exclusive. An aggregate
 *     without GROUP BY time has one row at the lower bound (0 without one);
 *     a selector alone (min, max, first, last, percentile) reports its
 *     point's time. GROUP BY time buckets are [k*I + offset, +I); rows carry
 *     the bucket start, the first one possibly before the lower bound.
 *   - Types: count integer; mean, median, stddev float; the others keep
 *     the field's type. Ties: min/max the earliest time among equal values;
 *     first/last the earliest/latest time and, on equal times, the greater
 *     value (InfluxDB's FloatFirstReduce etc.). median averages the middle
 *     two as lo + (hi - lo) / 2; stddev is the sample one (null for n < 2);
 *     percentile(N) is the value of rank floor(n * N / 100 + 0.5), 1-based
 *     (as mg_agg.h says; InfluxDB's 0-based `i = floor(...) - 1`).
 *   - Fill works per column, as InfluxDB's fill iterator wraps each call: a
 *     bucket where a column's field has no point is filled for that column
 *     even if another column has data there; a column with no point at all
 *     in a series is null throughout (its fill iterator never sees the
 *     series); a series with no point at all in range is not printed.
 *     count() fills 0 under fill(null). fill(N) is cast to the column's
 *     type (integer columns truncate 2.5 to 2). fill(previous) carries the
 *     column's previous value in output order (with ORDER BY time DESC,
 *     the later bucket's: InfluxDB's fill iterator walks DESC windows
 *     newest first). fill(linear) interpolates between the column's
 *     neighbouring values as InfluxDB's linearInteger and linearFloat do
 *     (integers: the whole value truncated toward zero). stddev and
 *     percentile, which can be null in a non-empty bucket, are not combined
 *     with fill(previous|linear) (InfluxDB treats their nulls inconsistently
 *     there); percentile's N is >= 50 (never rank 0).
 *   - Series order: by measurement, then by the GROUP BY tag values in
 *     sorted key order (InfluxDB's Tags.ID()), whatever order the GROUP BY
 *     names them in. GROUP BY * groups by every tag key of the measurement:
 *     a series lacking one shows it with "" (influxql RewriteFields).
 *   - A key held by both shards reads as one series, its points merged in
 *     time order (raw rows, field conditions, LIMIT). A query matching no
 *     series returns none.
 *   - Raw rows: one per (series, time) with a selected field not null, in
 *     time order; rows of equal times (several series) may come in any
 *     order, so those runs are compared as multisets (with LIMIT cutting a
 *     run: a sub-multiset of the run).
 *   - LIMIT/OFFSET per series; a series left without rows is not printed.
 *     SLIMIT/SOFFSET count the series that have rows before LIMIT/OFFSET
 *     (the executor's reading; InfluxDB applies them per shard).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cm_rand.h"
#include "cm_clock.h"
#include "cm_log.h"
#include "mg_db.h"
#include "mg_decode.h"
#include "mg_exec.h"
#include "mg_index.h"
#include "mg_result.h"
#include "mg_tsql.h"
#include "st_flush.h"
#include "st_rcu.h"
#include "st_series.h"
#include "st_store.h"
#include "tst_util.h"

#define DB "db0"
#define HAND "hand"
#define NSHARDS 2
#define SEC CM_NS_PER_SEC
#define MINUTE (60 * SEC)
#define T0 (1451606400LL * SEC) /* 2016-01-01T00:00:00Z */
#define STEP (10 * SEC)
#define NSLOT 720               /* 2 h of 10 s */
#define SPLIT_RUN 23            /* slots per run of a split key in one shard */
#define NOW (T0 + 3 * 3600 * SEC)
#define NQUERIES 400
#define SEED UINT64_C(0x5eed0fe1c0ffee11)
#define MAXC 3                  /* columns of a generated query, time aside */
#define REPORT_MAX 12           /* mismatches printed in full */

/* ============================================================== PRNG */

static uint64_t rng_state;

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(cm_splitmix64(&rng_state) % n);
}

static bool chance(uint32_t pct)
{
	return rnd_below(100) < pct;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ============================================================== a string builder */

struct sb {
	char *p;
	size_t n, cap;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (b->p && (size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = 2 * (b->cap + (size_t)n + 64);
		char *q = realloc(b->p, cap);
		assert_non_null(q);
		b->p = q;
		b->cap = cap;
		b->p[b->n] = '\0';
	}
}

static const char *sb_str(struct sb *b)
{
	if (!b->p)
		sb_printf(b, "%s", "");
	return b->p;
}

static void sb_release(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ============================================================== the dataset */

enum { F_A, F_B, F_C, NFIELD };
#define FA (1u << F_A)
#define FB (1u << F_B)
#define FC (1u << F_C)
static const char *const FIELD[NFIELD] = {"a", "b", "c"};
static const bool FIELD_INT[NFIELD] = {true, false, false};

struct mseries {
	const char *meas;
	const char *host, *region, *dc;   /* NULL: the series lacks the tag */
	uint8_t fields;                   /* FA | FB | FC */
	uint8_t split;                    /* fields whose key lives in both shards */
	uint8_t shard;                    /* of the other keys */
	int first, last;                  /* slots that may hold points */
	int hole_from, hole_to;           /* slots without points (inclusive) */
};

static const struct mseries SER[] = {
	{"m", "h0", "r0", NULL, FA | FB, FA, 0, 0, NSLOT - 1, -1, -1},
	{"m", "h1", "r0", NULL, FA | FB, 0, 1, 0, NSLOT - 1, -1, -1},
	{"m", "h1", NULL, NULL, FA | FB, FA | FB, 0, 0, NSLOT - 1, 300, 335},
	{"m", "h2", "r1", NULL, FA | FB, 0, 0, 0, NSLOT - 1, 200, 262},
	{"m", "h3", "r1", NULL, FA | FB, FB, 1, 30, NSLOT - 1, -1, -1},
	{"m", "h4", NULL, NULL, FA | FB, 0, 1, 100, NSLOT - 1, 500, 520},
	{"m", "h5", "r2", NULL, FA, 0, 0, 0, 600, -1, -1},
	{"n", "h0", NULL, "d1", FA | FC, 0, 0, 0, NSLOT - 1, -1, -1},
	{"n", "h7", NULL, "d2", FA | FC, FA | FC, 1, 50, 500, -1, -1},
};
#define NSER ((uint32_t)(sizeof(SER) / sizeof(SER[0])))

/* One row of the model: a series' fields at one time. */
struct mpoint {
	int64_t ts;
	uint32_t sid;
	uint8_t has;      /* FA | FB | FC */
	int64_t a;
	double f;         /* b (m) or c (n) */
};

static struct {
	struct mpoint *pts;   /* sorted by (ts, sid) */
	size_t n;
	uint32_t *of[16];     /* per series: indexes into pts, in time order */
	size_t nof[16];
} model;

static const char *ser_tag(uint32_t sid, const char *key)
{
	const struct mseries *s = &SER[sid];
	const char *v = !strcmp(key, "host")     ? s->host
			: !strcmp(key, "region") ? s->region
			: !strcmp(key, "dc")     ? s->dc
						 : NULL;
	return v ? v : "";
}

/* The tag keys of a measurement, sorted. */
static uint32_t meas_tag_keys(const char *meas, const char **out)
{
	static const char *const all[] = {"dc", "host", "region"}; /* sorted */
	uint32_t n = 0;
	for (uint32_t k = 0; k < 3; k++)
		for (uint32_t s = 0; s < NSER; s++)
			if (!strcmp(SER[s].meas, meas) && ser_tag(s, all[k])[0]) {
				out[n++] = all[k];
				break;
			}
	return n;
}

/* The seed: fixed, or MG_EXEC_SEED from the environment to explore other datasets and queries. */
static uint64_t seed(void)
{
	const char *e = getenv("MG_EXEC_SEED");
	return e && *e ? strtoull(e, NULL, 0) : SEED;
}

static void model_build(void)
{
	rng_state = seed();
	model.pts = calloc((size_t)NSLOT * NSER, sizeof(*model.pts));
	assert_non_null(model.pts);
	model.n = 0;
	for (int slot = 0; slot < NSLOT; slot++) {
		for (uint32_t sid = 0; sid < NSER; sid++) {
			const struct mseries *s = &SER[sid];
			/* the same draws for every (slot, series): holes do not shift the data */
			uint32_t roll = rnd_below(100), roll2 = rnd_below(100);
			bool m = !strcmp(s->meas, "m");
			int64_t a = m ? (int64_t)rnd_below(101) - 40 : (int64_t)rnd_below(50);
			double f = m ? ((double)rnd_below(401) - 150) * 0.25 : rnd_below(100) * 0.5;
			bool on = slot >= s->first && slot <= s->last &&
				  !(slot >= s->hole_from && slot <= s->hole_to);
			if (!on || roll >= 80)
				continue;
			uint8_t ff = s->fields & (FB | FC);
			uint8_t has = s->fields & FA;
			if (ff && roll2 < 85)
				has |= ff;
			else if (ff && roll2 >= 95)
				has = ff; /* a row without a */
			model.pts[model.n++] = (struct mpoint){T0 + slot * STEP, sid, has, a, f};
		}
	}
	_Static_assert(NSER <= 16, "model.of holds 16 series");
	for (uint32_t sid = 0; sid < NSER; sid++) {
		model.of[sid] = calloc(NSLOT, sizeof(*model.of[sid]));
		assert_non_null(model.of[sid]);
		model.nof[sid] = 0;
	}
	for (size_t i = 0; i < model.n; i++)
		model.of[model.pts[i].sid][model.nof[model.pts[i].sid]++] = (uint32_t)i;
}

/* ============================================================== the fixture */

struct burst {
	struct st_shard_point p[64];
	uint32_t n;
};

static struct {
	char dir[256];
	char sdir[NSHARDS][300];
	struct st_rcu *rcu;
	int reader;
	struct st_store *st[NSHARDS];
	struct burst burst[NSHARDS];
	uint64_t keys_put;             /* distinct (shard, key) pairs written */
	struct mg_index *mi;
	struct mg_dbs *dbs;
	struct mg_exec_ctx cx;
	struct mg_decode_pool *decode;  /* two helpers, lent to every other random query */
} fx;

static _Atomic uint64_t chunks_summarized; /* fx.cx counts here: the summaries path ran */

static void flush_burst(uint32_t shard)
{
	struct burst *b = &fx.burst[shard];
	if (!b->n)
		return;
	uint8_t status[64];
	uint32_t ok = st_store_insert_burst(fx.st[shard], b->p, b->n, status);
	st_store_poll(fx.st[shard]);
	for (uint32_t i = 0; i < b->n; i++)
		if (status[i] > ST_INS_OOO)
			fail_msg("insert refused: shard %u status %u", shard, status[i]);
	assert_int_equal(ok, b->n);
	b->n = 0;
}

/* Queue one point; key (borrowed) must stay until the burst is flushed. */
static void put(uint32_t shard, const uint8_t *key, uint32_t keylen, int64_t ts, bool is_int,
		int64_t i, double f)
{
	struct burst *b = &fx.burst[shard];
	struct st_shard_point *p = &b->p[b->n++];
	p->key = key;
	p->keylen = keylen;
	p->hash = st_key_hash(key, keylen);
	p->ts_ns = ts;
	p->type = is_int ? ST_VT_I64 : ST_VT_F64;
	if (is_int)
		p->v.i64 = i;
	else
		p->v.f64 = f;
	if (b->n == 64)
		flush_burst(shard);
}

static struct st_str S(const char *s)
{
	return (struct st_str){s, (uint32_t)strlen(s)};
}

static int build_key(uint8_t *out, size_t cap, const char *name, const char *field,
		     const char *const *kv, uint32_t nkv)
{
	struct st_tag t[4];
	uint32_t n = 0;
	for (uint32_t i = 0; i < nkv; i++)
		if (kv[2 * i + 1])
			t[n++] = (struct st_tag){S(kv[2 * i]), S(kv[2 * i + 1])};
	int len = st_key_build(out, cap, S(name), S(field), t, n);
	assert_true(len > 0);
	return len;
}

static uint8_t model_keys[NSER][NFIELD][256];
static uint32_t model_keylen[NSER][NFIELD];

/*
 * The model reaches the executor through both tiers. Phase 0 (then
 * checkpointed into blocks): the points of the first BLOCK_SLOTS slots, and
 * decoys (wrong values) at some later times. Phase 1 (hot): the later points,
 * which override the decoys (a newer tier wins on an equal time), and again
 * some block points with their own values (REWRITE). Queries must never see a decoy.
 */
#define BLOCK_SLOTS (NSLOT * 3 / 5)
/* decoys stop at 70%: the hot points before that go out of order, those after in order */
#define DECOY(slot) ((slot) % 3 != 0 && (slot) < NSLOT * 7 / 10)
/* block points rewritten hot: only in the second half of the block slots, so the first
 * half is blocks alone, where chunks inside a bucket are answered from their summaries */
#define REWRITE(slot) ((slot) % 5 == 1 && (slot) >= BLOCK_SLOTS / 2)

static void insert_model(int phase)
{
	for (uint32_t s = 0; phase == 0 && s < NSER; s++)
		for (uint32_t f = 0; f < NFIELD; f++) {
			if (!(SER[s].fields & (1u << f)))
				continue;
			const char *kv[] = {"host", SER[s].host, "region", SER[s].region, "dc", SER[s].dc};
			model_keylen[s][f] = (uint32_t)build_key(model_keys[s][f], sizeof(model_keys[s][f]),
								 SER[s].meas, FIELD[f], kv, 3);
			fx.keys_put += (SER[s].split & (1u << f)) ? 2 : 1;
		}
	for (size_t i = 0; i < model.n; i++) {
		const struct mpoint *p = &model.pts[i];
		const struct mseries *s = &SER[p->sid];
		int slot = (int)((p->ts - T0) / STEP);
		bool early = slot < BLOCK_SLOTS, decoy = phase == 0 && !early && DECOY(slot);
		if (phase == 0 ? !early && !decoy : early && !REWRITE(slot))
			continue;
		for (uint32_t f = 0; f < NFIELD; f++) {
			if (!(p->has & (1u << f)))
				continue;
			uint32_t shard = (s->split & (1u << f)) ? (uint32_t)(slot / SPLIT_RUN + (int)p->sid) % 2
								: s->shard;
			put(shard, model_keys[p->sid][f], model_keylen[p->sid][f], p->ts, FIELD_INT[f],
			    decoy ? p->a + 1000 : p->a, decoy ? p->f + 1000.5 : p->f);
		}
	}
	for (uint32_t i = 0; i < NSHARDS; i++)
		flush_burst(i);
}

/* The stores' owner while the flusher checkpoints them (it waits on the owner's polls). */
static atomic_bool owner_run;

static void *owner_main(void *arg)
{
	(void)arg;
	while (atomic_load(&owner_run))
		for (uint32_t i = 0; i < NSHARDS; i++)
			st_store_poll(fx.st[i]);
	return NULL;
}

/* Checkpoint every store: what the shards hold moves into blocks. */
static void checkpoint_all(void)
{
	struct st_flush_cfg fc;
	struct st_flush *fl;
	pthread_t owner;
	st_flush_cfg_default(&fc);
	assert_int_equal(st_flush_create(&fc, fx.rcu, fx.st, NSHARDS, &fl), 0);
	atomic_store(&owner_run, true);
	assert_int_equal(pthread_create(&owner, NULL, owner_main, NULL), 0);
	for (uint32_t i = 0; i < NSHARDS; i++)
		assert_int_equal(st_flush_store_now(fl, fx.st[i], NOW), 0);
	atomic_store(&owner_run, false);
	pthread_join(owner, NULL);
	st_flush_destroy(fl);
	for (uint32_t i = 0; i < NSHARDS; i++) {
		struct st_store_stats ss;
		st_read_begin(fx.rcu, fx.reader);
		st_store_stats_read(fx.st[i], &ss);
		st_read_end(fx.rcu, fx.reader);
		assert_true(ss.blocks[ST_TIER_WARM] > 0);
	}
}

/*
 * Database "hand", measurement hc, for the hand-checked cases (times in s
 * after T0; keys split between the shards as marked):
 *   host=x            v: 0:10 10:20 (shard 1) 20:30 50:40 60:2 90:0 (shard 0)
 *                     w: 0:1.5 50:-0.5
 *   host=y,role=db    v: 0:7 20:7 (shard 1) 60:9 70:1 (shard 0)
 *   host=w,role=api   v: 200:5
 */
struct hpt {
	const char *host, *role, *field;
	bool is_int;
	int64_t i;
	double f;
	int sec;
	uint32_t shard;
};

static const struct hpt HAND_PTS[] = {
	{"x", NULL, "v", true, 10, 0, 0, 1},      {"x", NULL, "v", true, 20, 0, 10, 1},
	{"x", NULL, "v", true, 30, 0, 20, 0},     {"x", NULL, "v", true, 40, 0, 50, 0},
	{"x", NULL, "v", true, 2, 0, 60, 0},      {"x", NULL, "v", true, 0, 0, 90, 0},
	{"x", NULL, "w", false, 0, 1.5, 0, 0},    {"x", NULL, "w", false, 0, -0.5, 50, 0},
	{"y", "db", "v", true, 7, 0, 0, 1},       {"y", "db", "v", true, 7, 0, 20, 1},
	{"y", "db", "v", true, 9, 0, 60, 0},      {"y", "db", "v", true, 1, 0, 70, 0},
	{"w", "api", "v", true, 5, 0, 200, 1},
};
#define NHAND (sizeof(HAND_PTS) / sizeof(HAND_PTS[0]))

static uint8_t hand_keys[NHAND][256];

static void insert_hand(void)
{
	char name[64];
	int n = mg_db_series_name(HAND, DB, S("hc"), name, sizeof(name));
	assert_true(n > 0);
	for (size_t i = 0; i < NHAND; i++) {
		const struct hpt *h = &HAND_PTS[i];
		const char *kv[] = {"host", h->host, "role", h->role};
		int len = build_key(hand_keys[i], sizeof(hand_keys[i]), name, h->field, kv, 2);
		put(h->shard, hand_keys[i], (uint32_t)len, T0 + h->sec * SEC, h->is_int, h->i, h->f);
	}
	fx.keys_put += 6; /* x.v and y.v in both shards, x.w, w.v */
}

/*
 * Database "many": NMANY series of measurement "wide", each with its own
 * host (and one of 7 roles) and one point, v = i at T0 + i s. More distinct
 * tag values than the emit and JSON string memos have slots, so raw answers
 * carrying tags hit memo collisions.
 */
#define MANY "many"
#define NMANY 3000

static uint8_t many_keys[NMANY][64];

static void insert_many(void)
{
	char name[64], host[16], role[8];
	int n = mg_db_series_name(MANY, DB, S("wide"), name, sizeof(name));
	assert_true(n > 0);
	for (uint32_t i = 0; i < NMANY; i++) {
		snprintf(host, sizeof(host), "h%04u", i);
		snprintf(role, sizeof(role), "r%u", i % 7);
		const char *kv[] = {"host", host, "role", role};
		int len = build_key(many_keys[i], sizeof(many_keys[i]), name, "v", kv, 2);
		put(i % NSHARDS, many_keys[i], (uint32_t)len, T0 + (int64_t)i * SEC, true, i, 0);
	}
	fx.keys_put += NMANY;
}

static int fx_setup(void **state)
{
	(void)state;
	model_build();
	assert_non_null(tst_tmpdir(fx.dir, sizeof(fx.dir), "mg_exec"));
	assert_int_equal(st_rcu_create(4, &fx.rcu), 0);
	fx.reader = st_rcu_reader_register(fx.rcu);
	assert_true(fx.reader >= 0);
	assert_int_equal(mg_decode_pool_create(fx.rcu, 2, &fx.decode), 0);
	for (uint32_t i = 0; i < NSHARDS; i++) {
		char d[sizeof(fx.sdir[i])];
		snprintf(d, sizeof(d), "%s/shard-%03u", fx.dir, i);
		memcpy(fx.sdir[i], d, sizeof(d));
		struct st_store_cfg cfg;
		tst_store_cfg(&cfg, fx.sdir[i], fx.rcu);
		cfg.shard_id = i;
		cfg.shard.chunk_points = 64; /* several chunks per series, in both tiers */
		cfg.block_chunk_points = 32;
		/* block chunks end on each 5 minutes: 5m buckets (and no GROUP BY time) are
		 * whole chunks, answered from summaries; 1m and 17m buckets are not */
		cfg.block_chunk_span_ns = 5 * 60 * CM_NS_PER_SEC;
		cfg.shard.memory_limit_bytes = 64u << 20;
		cfg.wal.durability = ST_WAL_NONE;
		struct st_store_recovery rec;
		assert_int_equal(st_store_open(&cfg, &fx.st[i], &rec), 0);
	}
	insert_model(0);
	checkpoint_all();
	insert_model(1);
	insert_hand();
	insert_many();
	for (uint32_t i = 0; i < NSHARDS; i++) {
		uint64_t lsn;
		flush_burst(i);
		assert_int_equal(st_store_commit(fx.st[i], &lsn), 0);
		st_store_poll(fx.st[i]);
	}
	assert_int_equal(mg_index_create(fx.st, NSHARDS, fx.rcu, &fx.mi), 0);
	assert_int_equal(mg_index_sync(fx.mi, fx.reader), (int64_t)fx.keys_put);
	assert_int_equal(mg_dbs_open(fx.dir, DB, &fx.dbs), 0);
	assert_int_equal(mg_dbs_create(fx.dbs, HAND), 0);
	assert_int_equal(mg_dbs_create(fx.dbs, MANY), 0);
	fx.cx = (struct mg_exec_ctx){
		.stores = fx.st, .nshards = NSHARDS, .rcu = fx.rcu, .reader = fx.reader,
		.idx = mg_index_get(fx.mi), .dbs = fx.dbs, .db = DB, .default_db = DB,
		.now_ns = NOW, .chunks_summarized = &chunks_summarized,
	};
	return 0;
}

static int fx_teardown(void **state)
{
	(void)state;
	mg_dbs_close(fx.dbs);
	mg_index_destroy(fx.mi);
	for (uint32_t i = 0; i < NSHARDS; i++)
		st_store_close(fx.st[i]);
	st_rcu_reader_unregister(fx.rcu, fx.reader);
	mg_decode_pool_destroy(fx.decode);
	st_rcu_destroy(fx.rcu);
	tst_rm_tree(fx.dir);
	for (uint32_t sid = 0; sid < NSER; sid++)
		free(model.of[sid]);
	free(model.pts);
	return 0;
}

/* Parse and run one statement of text in database db; the caller frees the result. */
static struct mg_result *run(const char *db, const char *text, struct mg_stmt_result **sr)
{
	struct mg_tsql *q = NULL;
	struct mg_tsql_error e;
	if (mg_tsql_parse(text, strlen(text), &q, &e))
		fail_msg("parse failed: %s\n  query: %s", e.msg, text);
	assert_int_equal(q->nstmts, 1);
	struct mg_result *r = mg_result_create();
	assert_non_null(r);
	*sr = mg_result_add_stmt(r, 0);
	assert_non_null(*sr);
	fx.cx.db = db;
	assert_int_equal(mg_exec_stmt(&fx.cx, &q->stmts[0], r, *sr), 0);
	mg_tsql_free(q);
	return r;
}

/* ============================================================== rendering */

static void render_time(struct sb *b, int64_t ts)
{
	int64_t d = ts - T0;
	if (ts == 0)
		sb_printf(b, "0");
	else if (d % SEC == 0 && d > -1000000 * SEC && d < 1000000 * SEC)
		sb_printf(b, "T%+llds", (long long)(d / SEC));
	else
		sb_printf(b, "%lld", (long long)ts);
}

static void render_cell(struct sb *b, const struct mg_cell *c)
{
	switch (c->type) {
	case MG_CELL_NULL: sb_printf(b, "null"); break;
	case MG_CELL_I64: sb_printf(b, "%lld", (long long)c->i); break;
	case MG_CELL_U64: sb_printf(b, "%llu", (unsigned long long)c->u); break;
	case MG_CELL_F64: sb_printf(b, "%.15g", c->f); break;
	case MG_CELL_BOOL: sb_printf(b, "%s", c->b ? "true" : "false"); break;
	case MG_CELL_STR: sb_printf(b, "'%s'", c->s ? c->s : "(nil)"); break;
	case MG_CELL_TIME: render_time(b, c->i); break;
	default: sb_printf(b, "?%u", c->type);
	}
}

/*
 * One line per series: name{k=v,...} [col,...] (cell,...) (cell,...); an
 * error as "error: msg". At most maxrows rows per series (then "...").
 */
static void render_got(struct sb *b, const struct mg_stmt_result *sr, size_t maxrows)
{
	if (sr->error) {
		sb_printf(b, "error: %s\n", sr->error);
		return;
	}
	for (uint32_t i = 0; i < sr->nseries; i++) {
		const struct mg_series *s = &sr->series[i];
		sb_printf(b, "%s", s->name ? s->name : "(nil)");
		if (s->ntags) {
			sb_printf(b, "{");
			for (uint32_t t = 0; t < s->ntags; t++)
				sb_printf(b, "%s%s=%s", t ? "," : "", s->tags[t].key, s->tags[t].value);
			sb_printf(b, "}");
		}
		sb_printf(b, " [");
		for (uint32_t c = 0; c < s->ncols; c++)
			sb_printf(b, "%s%s", c ? "," : "", s->columns[c]);
		sb_printf(b, "]");
		for (uint64_t r = 0; r < s->nrows && r < maxrows; r++) {
			sb_printf(b, " (");
			for (uint32_t c = 0; c < s->ncols; c++) {
				if (c)
					sb_printf(b, ",");
				render_cell(b, &s->cells[r * s->ncols + c]);
			}
			sb_printf(b, ")");
		}
		if (s->nrows > maxrows)
			sb_printf(b, " ... (%llu rows)", (unsigned long long)s->nrows);
		sb_printf(b, "\n");
	}
}

/* Print text line by line: cmocka's print_message cuts a message at 1 KiB. */
static void print_lines(const char *prefix, const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		print_message("%s%.*s\n", prefix, len > 900 ? 900 : len, p);
		p += len + (nl != NULL);
	}
}

/* Run text in db and compare its rendering with want (all rows). */
static bool check_render(const char *db, const char *text, const char *want)
{
	struct mg_stmt_result *sr;
	struct mg_result *r = run(db, text, &sr);
	struct sb b = {0};
	render_got(&b, sr, SIZE_MAX);
	bool ok = !strcmp(sb_str(&b), want);
	if (!ok) {
		print_message("MISMATCH %s\n  expected:\n", text);
		print_lines("    ", want[0] ? want : "(no series)\n");
		print_message("  got:\n");
		print_lines("    ", b.n ? b.p : "(no series)\n");
	}
	sb_release(&b);
	mg_result_free(r);
	return ok;
}

/* ============================================================== expected results */

struct xcell {
	uint8_t type;        /* MG_CELL_NULL, _I64, _F64 or _STR */
	int64_t i;
	double f;
	const char *s;       /* static: a tag value of SER */
};

struct xrow {
	int64_t ts;
	struct xcell c[MAXC];
};

struct xser {
	const char *name;
	uint32_t ntags;
	const char *tk[3], *tv[3];   /* sorted by key */
	uint32_t ncols;              /* time aside */
	char col[MAXC][24];
	struct xrow *rows;
	size_t nrows, cap;
	bool multiset;               /* raw: rows of one time in any order */
	struct xrow *pool;           /* raw: every row of the series before OFFSET/LIMIT */
	size_t npool;
	int64_t *ts_any;             /* percentile alone: row 0's time may be any of these */
	size_t nts_any;
};

struct xres {
	struct xser *v;
	size_t n, cap;
};

/* v (n elements, room for *cap) with room for one more: doubled when full. */
static void *grow(void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 16;
	v = realloc(v, *cap * elem);
	assert_non_null(v);
	return v;
}

static void xrow_push(struct xser *s, const struct xrow *r)
{
	s->rows = grow(s->rows, s->nrows, &s->cap, sizeof(*s->rows));
	s->rows[s->nrows++] = *r;
}

static void xser_release(struct xser *s)
{
	free(s->rows);
	free(s->pool);
	free(s->ts_any);
	memset(s, 0, sizeof(*s));
}

static void xres_release(struct xres *x)
{
	for (size_t i = 0; i < x->n; i++)
		xser_release(&x->v[i]);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static void xres_push(struct xres *x, struct xser *s)
{
	x->v = grow(x->v, x->n, &x->cap, sizeof(*x->v));
	x->v[x->n++] = *s;
	memset(s, 0, sizeof(*s));
}

static void render_xcell(struct sb *b, const struct xcell *c)
{
	struct mg_cell g = {.type = c->type};
	if (c->type == MG_CELL_I64)
		g.i = c->i;
	else if (c->type == MG_CELL_F64)
		g.f = c->f;
	else if (c->type == MG_CELL_STR)
		g.s = c->s;
	render_cell(b, &g);
}

static void render_exp(struct sb *b, const struct xres *x, size_t maxrows)
{
	for (size_t i = 0; i < x->n; i++) {
		const struct xser *s = &x->v[i];
		sb_printf(b, "%s", s->name);
		if (s->ntags) {
			sb_printf(b, "{");
			for (uint32_t t = 0; t < s->ntags; t++)
				sb_printf(b, "%s%s=%s", t ? "," : "", s->tk[t], s->tv[t]);
			sb_printf(b, "}");
		}
		sb_printf(b, " [time");
		for (uint32_t c = 0; c < s->ncols; c++)
			sb_printf(b, ",%s", s->col[c]);
		sb_printf(b, "]");
		for (size_t r = 0; r < s->nrows && r < maxrows; r++) {
			sb_printf(b, " (");
			render_time(b, s->rows[r].ts);
			if (r == 0 && s->nts_any)
				sb_printf(b, "|any of %zu", s->nts_any);
			for (uint32_t c = 0; c < s->ncols; c++) {
				sb_printf(b, ",");
				render_xcell(b, &s->rows[r].c[c]);
			}
			sb_printf(b, ")");
		}
		if (s->nrows > maxrows)
			sb_printf(b, " ... (%zu rows)", s->nrows);
		sb_printf(b, "\n");
	}
}

/* ------------------------------------------------------------ comparison */

static bool feq(double x, double y)
{
	if (x == y)
		return true;
	return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

/* An integral float equals the same integer: the JSON cannot tell them apart. */
static bool cell_eq(const struct xcell *e, const struct mg_cell *g)
{
	switch (e->type) {
	case MG_CELL_NULL:
		return g->type == MG_CELL_NULL;
	case MG_CELL_STR:
		return g->type == MG_CELL_STR && g->s && !strcmp(g->s, e->s);
	case MG_CELL_I64:
		return (g->type == MG_CELL_I64 && g->i == e->i) ||
		       (g->type == MG_CELL_F64 && g->f == (double)e->i);
	case MG_CELL_F64:
		return (g->type == MG_CELL_F64 && feq(e->f, g->f)) ||
		       (g->type == MG_CELL_I64 && (double)g->i == e->f);
	default:
		return false;
	}
}

static bool row_eq(const struct xrow *e, const struct mg_cell *g, uint32_t ncols)
{
	if (g[0].type != MG_CELL_TIME || g[0].i != e->ts)
		return false;
	for (uint32_t c = 0; c < ncols; c++)
		if (!cell_eq(&e->c[c], &g[c + 1]))
			return false;
	return true;
}

static void why_row(char *why, size_t cap, size_t si, size_t ri, const struct xrow *e,
		    const struct mg_cell *g, uint32_t ncols)
{
	struct sb b = {0};
	sb_printf(&b, "series %zu row %zu: expected (", si, ri);
	render_time(&b, e->ts);
	for (uint32_t c = 0; c < ncols; c++) {
		sb_printf(&b, ",");
		render_xcell(&b, &e->c[c]);
	}
	sb_printf(&b, ") got (");
	for (uint32_t c = 0; c <= ncols; c++) {
		if (c)
			sb_printf(&b, ",");
		render_cell(&b, &g[c]);
	}
	sb_printf(&b, ")");
	snprintf(why, cap, "%s", b.p);
	sb_release(&b);
}

/* Raw rows: the time sequence exactly; each run of one time a sub-multiset of the pool's. */
static bool rows_multiset_eq(const struct xser *e, const struct mg_series *g, size_t si,
			     char *why, size_t cap)
{
	for (size_t r = 0; r < e->nrows; r++)
		if (g->cells[r * g->ncols].i != e->rows[r].ts) {
			why_row(why, cap, si, r, &e->rows[r], &g->cells[r * g->ncols], e->ncols);
			return false;
		}
	bool *used = calloc(e->npool ? e->npool : 1, sizeof(*used));
	assert_non_null(used);
	bool ok = true;
	for (size_t r = 0; r < e->nrows && ok; r++) {
		const struct mg_cell *row = &g->cells[r * g->ncols];
		ok = false;
		for (size_t k = 0; k < e->npool && !ok; k++)
			if (!used[k] && row_eq(&e->pool[k], row, e->ncols))
				ok = used[k] = true;
		if (!ok) {
			why_row(why, cap, si, r, &e->rows[r], row, e->ncols);
			strncat(why, " (no such row at that time)", cap - strlen(why) - 1);
		}
	}
	free(used);
	return ok;
}

static bool compare(const struct xres *x, const struct mg_stmt_result *sr, char *why, size_t cap)
{
	if (sr->error) {
		snprintf(why, cap, "executor error: %s", sr->error);
		return false;
	}
	if (sr->nseries != x->n) {
		snprintf(why, cap, "%u series, expected %zu", sr->nseries, x->n);
		return false;
	}
	for (size_t i = 0; i < x->n; i++) {
		const struct xser *e = &x->v[i];
		const struct mg_series *g = &sr->series[i];
		if (!g->name || strcmp(g->name, e->name)) {
			snprintf(why, cap, "series %zu: name %s, expected %s", i, g->name, e->name);
			return false;
		}
		bool tags_ok = g->ntags == e->ntags;
		for (uint32_t t = 0; tags_ok && t < e->ntags; t++)
			tags_ok = !strcmp(g->tags[t].key, e->tk[t]) && !strcmp(g->tags[t].value, e->tv[t]);
		if (!tags_ok) {
			snprintf(why, cap, "series %zu: tags differ", i);
			return false;
		}
		bool cols_ok = g->ncols == e->ncols + 1 && !strcmp(g->columns[0], "time");
		for (uint32_t c = 0; cols_ok && c < e->ncols; c++)
			cols_ok = !strcmp(g->columns[c + 1], e->col[c]);
		if (!cols_ok) {
			snprintf(why, cap, "series %zu: columns differ", i);
			return false;
		}
		if (g->nrows != e->nrows) {
			snprintf(why, cap, "series %zu: %llu rows, expected %zu", i,
				 (unsigned long long)g->nrows, e->nrows);
			return false;
		}
		if (e->multiset) {
			if (!rows_multiset_eq(e, g, i, why, cap))
				return false;
			continue;
		}
		for (size_t r = 0; r < e->nrows; r++) {
			const struct mg_cell *row = &g->cells[r * g->ncols];
			struct xrow want = e->rows[r];
			if (r == 0 && e->nts_any) /* the time of any point holding the value */
				for (size_t k = 0; k < e->nts_any; k++)
					if (row[0].i == e->ts_any[k])
						want.ts = row[0].i;
			if (!row_eq(&want, row, e->ncols)) {
				why_row(why, cap, i, r, &want, row, e->ncols);
				return false;
			}
		}
	}
	return true;
}

/* ============================================================== queries */

enum fn {
	FN_COUNT, FN_SUM, FN_MEAN, FN_MIN, FN_MAX, FN_FIRST, FN_LAST, FN_SPREAD, FN_MEDIAN,
	FN_STDDEV, FN_PERCENTILE, FN__N
};
static const char *const FN_NAME[FN__N] = {
	"count", "sum", "mean", "min", "max", "first", "last", "spread", "median", "stddev",
	"percentile",
};

#define COL_HOST 100        /* raw: the host tag */

struct qcol {
	int fn;                 /* enum fn; -1: raw */
	int field;              /* F_A, F_B, or COL_HOST */
	double pct;
	const char *pct_text;
};

enum { OP_EQ, OP_NEQ, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_RE, OP_NRE };
static const char *const OP_TEXT[] = {"=", "!=", "<", "<=", ">", ">=", "=~", "!~"};

enum { C_AND, C_OR, C_TAG, C_FIELD };

struct cond {
	int kind;
	int op;
	const char *key;        /* C_TAG */
	const char *val;        /* C_TAG: value or pattern */
	regex_t re;
	int field;              /* C_FIELD */
	bool lit_int;
	int64_t li;
	double lf;
	struct cond *l, *r;
};

enum { FL_NULL, FL_NONE, FL_PREVIOUS, FL_LINEAR, FL_VALUE };

struct query {
	char text[2048];
	bool agg;
	struct qcol col[MAXC];
	uint32_t ncols;
	struct cond *where;
	bool has_lo, has_hi;
	int64_t lo, hi;         /* inclusive */
	int64_t interval, offset;   /* offset in [0, interval) */
	const char *gtags[2];
	uint32_t ngtags;
	bool gall;
	int fill;
	double fill_value;
	bool desc;
	int64_t limit, roffset, slimit, soffset;
};

static void cond_free(struct cond *c)
{
	if (!c)
		return;
	cond_free(c->l);
	cond_free(c->r);
	if (c->kind == C_TAG && (c->op == OP_RE || c->op == OP_NRE))
		regfree(&c->re);
	free(c);
}

/* ------------------------------------------------------------ WHERE, brute force */

static bool eval(const struct cond *c, const struct mpoint *p)
{
	switch (c->kind) {
	case C_AND:
		return eval(c->l, p) && eval(c->r, p);
	case C_OR:
		return eval(c->l, p) || eval(c->r, p);
	case C_TAG: {
		const char *v = ser_tag(p->sid, c->key);
		switch (c->op) {
		case OP_EQ: return !strcmp(v, c->val);
		case OP_NEQ: return strcmp(v, c->val) != 0;
		case OP_RE: return regexec(&c->re, v, 0, NULL, 0) == 0;
		default: return regexec(&c->re, v, 0, NULL, 0) != 0;
		}
	}
	default: {
		if (!(p->has & (1u << c->field)))
			return false; /* null compares false, != too */
		int cmp;
		if (FIELD_INT[c->field] && c->lit_int) {
			cmp = (p->a > c->li) - (p->a < c->li);
		} else {
			double x = FIELD_INT[c->field] ? (double)p->a : p->f;
			double y = c->lit_int ? (double)c->li : c->lf;
			cmp = (x > y) - (x < y);
		}
		switch (c->op) {
		case OP_EQ: return cmp == 0;
		case OP_NEQ: return cmp != 0;
		case OP_LT: return cmp < 0;
		case OP_LTE: return cmp <= 0;
		case OP_GT: return cmp > 0;
		default: return cmp >= 0;
		}
	}
	}
}

static bool in_range(const struct query *q, int64_t ts)
{
	return (!q->has_lo || ts >= q->lo) && (!q->has_hi || ts <= q->hi);
}

/* ------------------------------------------------------------ the rows of a series */

struct rowbuf {
	struct mpoint *v;
	size_t n, cap;
};

static void rowbuf_push(struct rowbuf *b, const struct mpoint *p)
{
	b->v = grow(b->v, b->n, &b->cap, sizeof(*b->v));
	b->v[b->n++] = *p;
}

/* The rows of series sid within the time range, oldest first. */
static void series_rows(const struct query *q, uint32_t sid, struct rowbuf *out)
{
	out->n = 0;
	for (size_t k = 0; k < model.nof[sid]; k++)
		if (in_range(q, model.pts[model.of[sid][k]].ts))
			rowbuf_push(out, &model.pts[model.of[sid][k]]);
}

/* ------------------------------------------------------------ groups */

struct group {
	const char *vals[3];      /* per dimension (sorted keys) */
	uint32_t sids[NSER];
	uint32_t nsids;
};

struct groups {
	const char *dims[3];      /* sorted */
	uint32_t ndims;
	struct group g[NSER];
	uint32_t n;
};

static const struct groups *groups_cmp_ctx;

static int group_cmp(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	for (uint32_t d = 0; d < groups_cmp_ctx->ndims; d++) {
		int c = strcmp(a->vals[d], b->vals[d]);
		if (c)
			return c;
	}
	return 0;
}

static int str_cmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The output groups of measurement meas, in InfluxDB's order (tag values in sorted key order). */
static void make_groups(const struct query *q, const char *meas, struct groups *gs)
{
	memset(gs, 0, sizeof(*gs));
	if (q->gall) {
		gs->ndims = meas_tag_keys(meas, gs->dims);
	} else {
		for (uint32_t i = 0; i < q->ngtags; i++) {
			bool dup = false;
			for (uint32_t k = 0; k < gs->ndims; k++)
				dup |= !strcmp(gs->dims[k], q->gtags[i]);
			if (!dup)
				gs->dims[gs->ndims++] = q->gtags[i];
		}
		qsort(gs->dims, gs->ndims, sizeof(gs->dims[0]), str_cmp_p);
	}
	for (uint32_t s = 0; s < NSER; s++) {
		if (strcmp(SER[s].meas, meas))
			continue;
		const char *vals[3];
		for (uint32_t d = 0; d < gs->ndims; d++)
			vals[d] = ser_tag(s, gs->dims[d]);
		struct group *g = NULL;
		for (uint32_t i = 0; i < gs->n && !g; i++) {
			bool same = true;
			for (uint32_t d = 0; d < gs->ndims; d++)
				same &= !strcmp(gs->g[i].vals[d], vals[d]);
			if (same)
				g = &gs->g[i];
		}
		if (!g) {
			g = &gs->g[gs->n++];
			memcpy(g->vals, vals, sizeof(vals));
		}
		g->sids[g->nsids++] = s;
	}
	groups_cmp_ctx = gs;
	qsort(gs->g, gs->n, sizeof(gs->g[0]), group_cmp);
}

static void xser_head(struct xser *s, const char *meas, const struct groups *gs,
		      const struct group *g)
{
	s->name = meas;
	for (uint32_t d = 0; d < gs->ndims; d++) {
		s->tk[s->ntags] = gs->dims[d];
		s->tv[s->ntags++] = g->vals[d];
	}
}

/*
 * Rows of a series are complete (ascending); apply SOFFSET/SLIMIT (series
 * with rows), ORDER BY DESC, OFFSET/LIMIT, and keep it if rows are left.
 */
static void finish_series(const struct query *q, struct xser *s, int64_t *skip, int64_t *left,
			  struct xres *out)
{
	if (s->nrows == 0 || *left == 0 || (*skip > 0 && (*skip)--)) {
		xser_release(s);
		return;
	}
	(*left)--;
	if (q->desc)
		for (size_t i = 0; i < s->nrows / 2; i++) {
			struct xrow t = s->rows[i];
			s->rows[i] = s->rows[s->nrows - 1 - i];
			s->rows[s->nrows - 1 - i] = t;
		}
	if (s->multiset) {
		s->pool = malloc(s->nrows * sizeof(*s->pool));
		assert_non_null(s->pool);
		memcpy(s->pool, s->rows, s->nrows * sizeof(*s->pool));
		s->npool = s->nrows;
	}
	size_t off = (size_t)q->roffset;
	size_t lim = q->limit > 0 ? (size_t)q->limit : SIZE_MAX;
	size_t n = off >= s->nrows ? 0 : s->nrows - off < lim ? s->nrows - off : lim;
	if (n)
		memmove(s->rows, s->rows + off, n * sizeof(*s->rows));
	s->nrows = n;
	if (n == 0) {
		xser_release(s);
		return;
	}
	xres_push(out, s);
}

/* ------------------------------------------------------------ aggregates */

struct aval {
	int64_t ts;
	int64_t i;
	double f;
};

struct acol {
	struct aval *v;
	size_t n, cap;
};

static void acol_push(struct acol *c, struct aval x)
{
	c->v = grow(c->v, c->n, &c->cap, sizeof(*c->v));
	c->v[c->n++] = x;
}

enum { ABSENT, PRESENT };

struct ares {
	int state;
	struct xcell cell;
	int64_t ts;               /* selectors: the selected point's time */
	int64_t *ts_any;          /* percentile: the times holding its value */
	size_t nts_any;
};

static bool fn_int(int fn, int field)
{
	if (fn == FN_COUNT)
		return true;
	if (fn == FN_MEAN || fn == FN_MEDIAN || fn == FN_STDDEV)
		return false;
	return FIELD_INT[field];
}

static int vcmp(bool isint, const struct aval *a, const struct aval *b)
{
	return isint ? (a->i > b->i) - (a->i < b->i) : (a->f > b->f) - (a->f < b->f);
}

static int cmp_aval_i(const void *x, const void *y)
{
	return vcmp(true, x, y);
}

static int cmp_aval_f(const void *x, const void *y)
{
	return vcmp(false, x, y);
}

static struct xcell typed(bool isint, const struct aval *v)
{
	return isint ? (struct xcell){.type = MG_CELL_I64, .i = v->i}
		     : (struct xcell){.type = MG_CELL_F64, .f = v->f};
}

static double dval(bool isint, const struct aval *v)
{
	return isint ? (double)v->i : v->f;
}

/* A selector's pick: is j better than k? */
static bool better(int fn, bool isint, const struct aval *j, const struct aval *k)
{
	int c = vcmp(isint, j, k);
	switch (fn) {
	case FN_MIN: return c < 0 || (c == 0 && j->ts < k->ts);
	case FN_MAX: return c > 0 || (c == 0 && j->ts < k->ts);
	case FN_FIRST: return j->ts < k->ts || (j->ts == k->ts && c > 0);
	default: return j->ts > k->ts || (j->ts == k->ts && c > 0); /* last */
	}
}

static void compute(const struct qcol *qc, const struct acol *c, struct ares *out)
{
	memset(out, 0, sizeof(*out));
	size_t n = c->n;
	if (n == 0)
		return;
	bool isint = FIELD_INT[qc->field];
	struct xcell *x = &out->cell;
	out->state = PRESENT;
	int64_t isum = 0;
	double fsum = 0;
	for (size_t k = 0; k < n; k++) {
		isum += c->v[k].i;
		fsum += c->v[k].f;
	}
	switch (qc->fn) {
	case FN_COUNT:
		*x = (struct xcell){.type = MG_CELL_I64, .i = (int64_t)n};
		return;
	case FN_SUM:
		*x = isint ? (struct xcell){.type = MG_CELL_I64, .i = isum}
			   : (struct xcell){.type = MG_CELL_F64, .f = fsum};
		return;
	case FN_MEAN:
		*x = (struct xcell){.type = MG_CELL_F64,
				    .f = (isint ? (double)isum : fsum) / (double)n};
		return;
	case FN_MIN:
	case FN_MAX:
	case FN_FIRST:
	case FN_LAST: {
		size_t k = 0;
		for (size_t j = 1; j < n; j++)
			if (better(qc->fn, isint, &c->v[j], &c->v[k]))
				k = j;
		*x = typed(isint, &c->v[k]);
		out->ts = c->v[k].ts;
		return;
	}
	case FN_SPREAD: {
		size_t lo = 0, hi = 0;
		for (size_t j = 1; j < n; j++) {
			if (vcmp(isint, &c->v[j], &c->v[lo]) < 0)
				lo = j;
			if (vcmp(isint, &c->v[j], &c->v[hi]) > 0)
				hi = j;
		}
		*x = isint ? (struct xcell){.type = MG_CELL_I64, .i = c->v[hi].i - c->v[lo].i}
			   : (struct xcell){.type = MG_CELL_F64, .f = c->v[hi].f - c->v[lo].f};
		return;
	}
	case FN_STDDEV: {
		if (n < 2) {
			x->type = MG_CELL_NULL;
			return;
		}
		double mean = (isint ? (double)isum : fsum) / (double)n, ss = 0;
		for (size_t k = 0; k < n; k++) {
			double d = dval(isint, &c->v[k]) - mean;
			ss += d * d;
		}
		*x = (struct xcell){.type = MG_CELL_F64, .f = sqrt(ss / (double)(n - 1))};
		return;
	}
	default:
		break;
	}
	/* median, percentile: over the values sorted */
	struct aval *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	memcpy(v, c->v, n * sizeof(*v));
	qsort(v, n, sizeof(*v), isint ? cmp_aval_i : cmp_aval_f);
	if (qc->fn == FN_MEDIAN) {
		double m = dval(isint, &v[n / 2]);
		if (n % 2 == 0) {
			double lo = dval(isint, &v[n / 2 - 1]);
			m = lo + (m - lo) / 2;
		}
		*x = (struct xcell){.type = MG_CELL_F64, .f = m};
	} else {
		double rank = floor((double)n * qc->pct / 100.0 + 0.5);
		if (!(rank >= 1 && rank <= (double)n)) {
			out->state = ABSENT; /* InfluxDB emits no point */
		} else {
			const struct aval *sel = &v[(size_t)rank - 1];
			*x = typed(isint, sel);
			out->ts_any = malloc(n * sizeof(*out->ts_any));
			assert_non_null(out->ts_any);
			for (size_t k = 0; k < n; k++)
				if (vcmp(isint, &c->v[k], sel) == 0)
					out->ts_any[out->nts_any++] = c->v[k].ts;
			out->ts = out->ts_any[0];
		}
	}
	free(v);
}

static struct xcell fill_value_cell(const struct query *q, uint32_t c)
{
	bool isint = fn_int(q->col[c].fn, q->col[c].field);
	return isint ? (struct xcell){.type = MG_CELL_I64, .i = (int64_t)q->fill_value}
		     : (struct xcell){.type = MG_CELL_F64, .f = q->fill_value};
}

/* InfluxDB's fill iterator, per column: what goes in bucket b where column c has no point. */
static struct xcell fill_cell(const struct query *q, uint32_t c, const struct ares *res,
			      int64_t nb, int64_t b)
{
	uint32_t nc = q->ncols;
	struct xcell null = {.type = MG_CELL_NULL};
	switch (q->fill) {
	case FL_NULL:
		return q->col[c].fn == FN_COUNT ? (struct xcell){.type = MG_CELL_I64, .i = 0} : null;
	case FL_VALUE:
		return fill_value_cell(q, c);
	case FL_PREVIOUS: {
		int64_t dir = q->desc ? 1 : -1; /* DESC: the later bucket's, newest first */
		for (int64_t k = b + dir; k >= 0 && k < nb; k += dir)
			if (res[k * nc + c].state == PRESENT)
				return res[k * nc + c].cell;
		return null;
	}
	default:
		return null; /* linear: a pass over the rows afterwards */
	}
}

/*
 * fill(linear): each run of cells between two values of a column (anchor:
 * a bucket where the column has a value) interpolated. InfluxDB
 * (linearInteger/linearFloat over bucket indexes): trunc(m * x + y0), the
 * whole value truncated.
 */
static void fill_linear(const struct query *q, struct xser *s, const bool *anchor)
{
	uint32_t nc = q->ncols;
	for (uint32_t c = 0; c < nc; c++) {
		size_t prev = SIZE_MAX;
		for (size_t i = 0; i < s->nrows; i++) {
			if (!anchor[i * nc + c])
				continue;
			const struct xcell *y0 = &s->rows[prev == SIZE_MAX ? i : prev].c[c];
			const struct xcell *y1 = &s->rows[i].c[c];
			bool isint = y0->type == MG_CELL_I64 && y1->type == MG_CELL_I64;
			for (size_t k = prev + 1; prev != SIZE_MAX && k < i; k++) {
				struct xcell *y = &s->rows[k].c[c];
				int64_t dk = (s->rows[k].ts - s->rows[prev].ts) / q->interval;
				int64_t dn = (s->rows[i].ts - s->rows[prev].ts) / q->interval;
				double f0 = isint ? (double)y0->i : y0->f, f1 = isint ? (double)y1->i : y1->f;
				double v = (f1 - f0) / (double)dn * (double)dk + f0; /* m * x + y0 */
				*y = isint ? (struct xcell){.type = MG_CELL_I64, .i = (int64_t)v}
					   : (struct xcell){.type = MG_CELL_F64, .f = v};
			}
			prev = i;
		}
	}
}

static bool selector_alone(const struct query *q)
{
	int fn = q->col[0].fn;
	return q->agg && !q->interval && q->ncols == 1 &&
	       (fn == FN_MIN || fn == FN_MAX || fn == FN_FIRST || fn == FN_LAST ||
		fn == FN_PERCENTILE);
}

static void agg_group(const struct query *q, const struct group *g, struct xser *s)
{
	int64_t lo = q->has_lo ? q->lo : INT64_MIN, hi = q->has_hi ? q->hi : INT64_MAX;
	int64_t b0 = 0, nb = 1;
	if (q->interval) {
		b0 = floor_div(lo - q->offset, q->interval);
		nb = floor_div(hi - q->offset, q->interval) - b0 + 1;
	}
	uint32_t nc = q->ncols;
	struct acol *cols = calloc((size_t)(nb * nc), sizeof(*cols));
	struct ares *res = calloc((size_t)(nb * nc), sizeof(*res));
	bool *anchor = calloc((size_t)(nb * nc), sizeof(*anchor));
	assert_true(cols && res && anchor);
	struct rowbuf rb = {0};
	for (uint32_t k = 0; k < g->nsids; k++) {
		series_rows(q, g->sids[k], &rb);
		for (size_t i = 0; i < rb.n; i++) {
			const struct mpoint *p = &rb.v[i];
			if (q->where && !eval(q->where, p))
				continue;
			int64_t b = q->interval ? floor_div(p->ts - q->offset, q->interval) - b0 : 0;
			for (uint32_t c = 0; c < nc; c++)
				if (p->has & (1u << q->col[c].field))
					acol_push(&cols[b * nc + c], (struct aval){p->ts, p->a, p->f});
		}
	}
	free(rb.v);
	bool col_any[MAXC] = {false}, any = false;
	for (int64_t b = 0; b < nb; b++)
		for (uint32_t c = 0; c < nc; c++) {
			compute(&q->col[c], &cols[b * nc + c], &res[b * nc + c]);
			if (res[b * nc + c].state == PRESENT)
				col_any[c] = any = true;
		}
	for (int64_t b = 0; any && b < nb; b++) {
		bool data = false;
		for (uint32_t c = 0; c < nc; c++)
			data |= res[b * nc + c].state == PRESENT;
		if (!data && (!q->interval || q->fill == FL_NONE))
			continue;
		struct xrow row = {.ts = q->interval ? (b0 + b) * q->interval + q->offset
						     : (q->has_lo ? q->lo : 0)};
		for (uint32_t c = 0; c < nc; c++) {
			const struct ares *a = &res[b * nc + c];
			if (a->state == PRESENT)
				row.c[c] = a->cell;
			else if (q->interval && q->fill != FL_NONE && col_any[c])
				row.c[c] = fill_cell(q, c, res, nb, b);
			else
				row.c[c].type = MG_CELL_NULL;
			anchor[s->nrows * nc + c] = a->state == PRESENT && a->cell.type != MG_CELL_NULL;
		}
		if (selector_alone(q)) {
			row.ts = res[0].ts;
			if (res[0].nts_any) {
				s->ts_any = res[0].ts_any;
				s->nts_any = res[0].nts_any;
				res[0].ts_any = NULL;
			}
		}
		xrow_push(s, &row);
	}
	if (q->interval && q->fill == FL_LINEAR)
		fill_linear(q, s, anchor);
	for (int64_t i = 0; i < nb * nc; i++) {
		free(cols[i].v);
		free(res[i].ts_any);
	}
	free(cols);
	free(res);
	free(anchor);
}

struct rawrow {
	struct xrow r;
	size_t seq;
};

static int rawrow_cmp(const void *x, const void *y)
{
	const struct rawrow *a = x, *b = y;
	if (a->r.ts != b->r.ts)
		return a->r.ts < b->r.ts ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void raw_group(const struct query *q, const struct group *g, struct xser *s)
{
	s->multiset = true;
	struct rowbuf rb = {0};
	struct rawrow *all = NULL;
	size_t n = 0, cap = 0;
	for (uint32_t k = 0; k < g->nsids; k++) {
		series_rows(q, g->sids[k], &rb);
		for (size_t i = 0; i < rb.n; i++) {
			const struct mpoint *p = &rb.v[i];
			if (q->where && !eval(q->where, p))
				continue;
			struct xrow row = {.ts = p->ts};
			bool any = false;
			for (uint32_t c = 0; c < q->ncols; c++) {
				int f = q->col[c].field;
				if (f == COL_HOST) {
					row.c[c] = (struct xcell){.type = MG_CELL_STR, .s = ser_tag(p->sid, "host")};
				} else if (p->has & (1u << f)) {
					row.c[c] = typed(FIELD_INT[f], &(struct aval){p->ts, p->a, p->f});
					any = true;
				}
			}
			if (!any)
				continue;
			all = grow(all, n, &cap, sizeof(*all));
			all[n] = (struct rawrow){row, n};
			n++;
		}
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), rawrow_cmp);
	for (size_t i = 0; i < n; i++)
		xrow_push(s, &all[i].r);
	free(all);
	free(rb.v);
}

static void col_names(const struct query *q, struct xser *s)
{
	s->ncols = q->ncols;
	for (uint32_t c = 0; c < q->ncols; c++) {
		const char *base = q->agg ? FN_NAME[q->col[c].fn]
			   : q->col[c].field == COL_HOST ? "host" : FIELD[q->col[c].field];
		uint32_t dup = 0;
		for (uint32_t k = 0; k < c; k++) {
			const char *b2 = q->agg ? FN_NAME[q->col[k].fn]
				 : q->col[k].field == COL_HOST ? "host" : FIELD[q->col[k].field];
			dup += !strcmp(base, b2);
		}
		if (dup)
			snprintf(s->col[c], sizeof(s->col[c]), "%s_%u", base, dup);
		else
			snprintf(s->col[c], sizeof(s->col[c]), "%s", base);
	}
}

/* The brute force: every series the query should return. */
static void expect(const struct query *q, struct xres *out)
{
	struct groups gs;
	make_groups(q, "m", &gs);
	int64_t skip = q->soffset, left = q->slimit > 0 ? q->slimit : INT64_MAX;
	for (uint32_t i = 0; i < gs.n; i++) {
		struct xser s = {0};
		xser_head(&s, "m", &gs, &gs.g[i]);
		col_names(q, &s);
		if (q->agg)
			agg_group(q, &gs.g[i], &s);
		else
			raw_group(q, &gs.g[i], &s);
		finish_series(q, &s, &skip, &left, out);
	}
}

/* ------------------------------------------------------------ generating queries */

static void fmt_rfc3339(char *out, size_t cap, int64_t ns, bool space)
{
	time_t secs = (time_t)floor_div(ns, SEC);
	int64_t frac = ns - (int64_t)secs * SEC;
	struct tm tm;
	gmtime_r(&secs, &tm);
	int n = snprintf(out, cap, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, space ? ' ' : 'T', tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (frac) {
		char f[16];
		snprintf(f, sizeof(f), "%09lld", (long long)frac);
		for (int k = 8; k > 0 && f[k] == '0'; k--)
			f[k] = '\0';
		n += snprintf(out + n, cap - (size_t)n, ".%s", f);
	}
	if (!space)
		snprintf(out + n, cap - (size_t)n, "Z");
}

/* A time value v in one of the written forms (which may move v: now() - Nm). */
static void time_text(char *out, size_t cap, int64_t *v)
{
	char t[64];
	uint32_t r = rnd_below(100);
	if (r < 50) {
		fmt_rfc3339(t, sizeof(t), *v, false);
		snprintf(out, cap, "'%s'", t);
	} else if (r < 75) {
		snprintf(out, cap, "%lld", (long long)*v);
	} else if (r < 82) {
		fmt_rfc3339(t, sizeof(t), *v, true);
		snprintf(out, cap, "'%s'", t);
	} else if (r < 93) {
		int64_t d = 1 + rnd_below(30);
		fmt_rfc3339(t, sizeof(t), *v - d * MINUTE, false);
		snprintf(out, cap, "'%s' + %lldm", t, (long long)d);
	} else {
		int64_t d = (NOW - *v) / MINUTE;
		*v = NOW - d * MINUTE;
		snprintf(out, cap, "now() - %lldm", (long long)d);
	}
}

static int64_t jitter(void)
{
	uint32_t r = rnd_below(10);
	if (r < 5)
		return 0;
	if (r < 7)
		return (int64_t)rnd_below(10) * SEC;
	if (r < 9)
		return (int64_t)rnd_below(10000) * CM_NS_PER_MS;
	return chance(50) ? 1 : -1;
}

/* "time >= X" (or "X <= time"), setting the inclusive bound it means. */
static void bound_text(char *out, size_t cap, bool lower, int64_t v, int64_t *bound)
{
	char t[96];
	bool strict = chance(30);
	time_text(t, sizeof(t), &v);
	const char *op = lower ? (strict ? ">" : ">=") : (strict ? "<" : "<=");
	const char *rev = lower ? (strict ? "<" : "<=") : (strict ? ">" : ">=");
	*bound = strict ? (lower ? v + 1 : v - 1) : v;
	if (chance(12))
		snprintf(out, cap, "%s %s time", t, rev);
	else
		snprintf(out, cap, "time %s %s", op, t);
}

static struct cond *new_cond(int kind)
{
	struct cond *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->kind = kind;
	return c;
}

static struct cond *gen_cond(int depth)
{
	static const char *const hosts[] = {"h0", "h1", "h2", "h3", "h4", "h5", "h9"};
	static const char *const regions[] = {"r0", "r1", "r2", "", "r9"};
	static const char *const host_re[] = {"^h[0-2]$", "h1|h4", "[35]", "^h", "9"};
	static const char *const region_re[] = {"^$", "r[01]", ".", "^r2$", "1"};
	uint32_t r = rnd_below(depth >= 2 ? 6 : 10);
	if (r >= 6) {
		struct cond *c = new_cond(r < 8 ? C_AND : C_OR);
		c->l = gen_cond(depth + 1);
		c->r = gen_cond(depth + 1);
		return c;
	}
	if (r < 4) {
		struct cond *c = new_cond(C_TAG);
		bool host = chance(60);
		c->key = host ? "host" : "region";
		uint32_t o = rnd_below(100);
		c->op = o < 35 ? OP_EQ : o < 55 ? OP_NEQ : o < 85 ? OP_RE : OP_NRE;
		if (c->op == OP_RE || c->op == OP_NRE) {
			c->val = host ? host_re[rnd_below(5)] : region_re[rnd_below(5)];
			assert_int_equal(regcomp(&c->re, c->val, REG_EXTENDED | REG_NOSUB), 0);
		} else {
			c->val = host ? hosts[rnd_below(7)] : regions[rnd_below(5)];
		}
		return c;
	}
	struct cond *c = new_cond(C_FIELD);
	c->field = chance(60) ? F_A : F_B;
	c->op = (int)rnd_below(6);
	c->lit_int = chance(75) == (c->field == F_A);
	if (c->field == F_A) {
		c->li = (int64_t)rnd_below(101) - 40;
		c->lf = (double)c->li + 0.5;
	} else {
		c->li = (int64_t)rnd_below(91) - 30;
		c->lf = ((double)rnd_below(401) - 150) * 0.25;
	}
	return c;
}

static void cond_text(struct sb *b, const struct cond *c)
{
	switch (c->kind) {
	case C_AND:
	case C_OR:
		sb_printf(b, "(");
		cond_text(b, c->l);
		sb_printf(b, c->kind == C_AND ? " AND " : " OR ");
		cond_text(b, c->r);
		sb_printf(b, ")");
		return;
	case C_TAG:
		if (c->op == OP_RE || c->op == OP_NRE)
			sb_printf(b, "%s %s /%s/", c->key, OP_TEXT[c->op], c->val);
		else
			sb_printf(b, "%s %s '%s'", c->key, c->op == OP_NEQ && chance(30) ? "<>"
							     : OP_TEXT[c->op], c->val);
		return;
	default:
		if (c->lit_int)
			sb_printf(b, "%s %s %lld", FIELD[c->field], OP_TEXT[c->op], (long long)c->li);
		else
			sb_printf(b, "%s %s %.2f", FIELD[c->field], OP_TEXT[c->op], c->lf);
	}
}

static void gen_agg_cols(struct query *q)
{
	static const char *const pcts[] = {"50", "66.6", "75", "90", "95", "99", "100"};
	bool no_nullable = q->fill == FL_PREVIOUS || q->fill == FL_LINEAR;
	q->ncols = 1 + rnd_below(MAXC);
	for (uint32_t c = 0; c < q->ncols; c++) {
		struct qcol *k = &q->col[c];
		do
			k->fn = (int)rnd_below(FN__N);
		while (no_nullable && (k->fn == FN_STDDEV || k->fn == FN_PERCENTILE));
		k->field = chance(50) ? F_A : F_B;
		if (k->fn == FN_PERCENTILE) {
			k->pct_text = pcts[rnd_below(7)];
			k->pct = strtod(k->pct_text, NULL);
		}
	}
}

static void gen_raw_cols(struct query *q)
{
	static const int sets[][MAXC] = {
		{F_A, -1, -1}, {F_B, -1, -1}, {F_A, F_B, -1}, {F_B, F_A, -1}, {F_A, F_B, COL_HOST},
		{COL_HOST, F_B, -1}, {F_A, COL_HOST, -1},
	};
	const int *s = sets[rnd_below(7)];
	q->ncols = 0;
	for (uint32_t c = 0; c < MAXC && s[c] >= 0; c++)
		q->col[q->ncols++] = (struct qcol){.fn = -1, .field = s[c]};
}

static void gen_query(struct query *q)
{
	static const int64_t intervals[] = {1 * MINUTE, 5 * MINUTE, 17 * MINUTE};
	static const char *const ivtext[] = {"1m", "5m", "17m"};
	memset(q, 0, sizeof(*q));
	q->agg = chance(78);
	char timedim[48] = "";
	if (q->agg && chance(70)) {
		uint32_t k = rnd_below(3);
		q->interval = intervals[k];
		uint32_t o = rnd_below(10);
		const char *ot = o < 5 ? NULL : o < 7 ? "30s" : o < 8 ? "2m" : o < 9 ? "-3m" : "7m";
		int64_t ov = !ot ? 0 : o < 7 ? 30 * SEC : o < 8 ? 2 * MINUTE : o < 9 ? -3 * MINUTE
										   : 7 * MINUTE;
		q->offset = ((ov % q->interval) + q->interval) % q->interval;
		if (ot)
			snprintf(timedim, sizeof(timedim), "time(%s, %s)", ivtext[k], ot);
		else
			snprintf(timedim, sizeof(timedim), "time(%s)", ivtext[k]);
		uint32_t f = rnd_below(100);
		q->fill = f < 30 ? FL_NULL : f < 45 ? FL_NONE : f < 60 ? FL_PREVIOUS
			: f < 75 ? FL_LINEAR : FL_VALUE;
		if (q->fill == FL_VALUE) {
			static const double fv[] = {0, -1, 2.5};
			q->fill_value = fv[rnd_below(3)];
		}
	}
	char tagdims[32] = "";
	uint32_t g = rnd_below(10);
	if (!q->agg)
		g = chance(15) ? 4 : 0;
	if (g == 4 || g == 6 || g == 7) {
		q->gtags[q->ngtags++] = g == 7 ? "region" : "host";
		if (g != 4)
			q->gtags[q->ngtags++] = g == 7 ? "host" : "region";
		snprintf(tagdims, sizeof(tagdims), "%s%s%s", q->gtags[0], q->ngtags > 1 ? ", " : "",
			 q->ngtags > 1 ? q->gtags[1] : "");
	} else if (g == 5) {
		q->gtags[q->ngtags++] = "region";
		snprintf(tagdims, sizeof(tagdims), "region");
	} else if (g >= 8) {
		q->gall = true;
		snprintf(tagdims, sizeof(tagdims), "*");
	}
	if (q->agg)
		gen_agg_cols(q);
	else
		gen_raw_cols(q);

	/* WHERE: time bounds (both with GROUP BY time: an open end means now()) and a condition */
	char lo_text[128] = "", hi_text[128] = "";
	uint32_t tb = q->interval ? 0 : rnd_below(100);
	bool want_lo = tb < 70, want_hi = tb < 55 || (tb >= 70 && tb < 80);
	int64_t lo = T0 - 10 * MINUTE + (int64_t)rnd_below(126) * MINUTE + jitter();
	int64_t hi = lo + (1 + (int64_t)rnd_below(135)) * MINUTE + jitter();
	if (want_lo) {
		bound_text(lo_text, sizeof(lo_text), true, lo, &q->lo);
		q->has_lo = true;
	}
	if (want_hi) {
		bound_text(hi_text, sizeof(hi_text), false, hi, &q->hi);
		q->has_hi = true;
	}
	if (q->has_lo && q->has_hi && q->hi < q->lo) { /* now() moved one: keep the range sane */
		snprintf(hi_text, sizeof(hi_text), "time <= %lld", (long long)(q->lo + 30 * MINUTE));
		q->hi = q->lo + 30 * MINUTE;
	}
	if (chance(65))
		q->where = gen_cond(0);
	if (q->agg || chance(40)) {
		q->desc = chance(20);
		if (chance(30))
			q->limit = 1 + rnd_below(q->agg ? 15 : 40);
		if (chance(20))
			q->roffset = 1 + rnd_below(q->agg ? 30 : 80);
		if (chance(12))
			q->slimit = 1 + rnd_below(3);
		if (chance(10))
			q->soffset = 1 + rnd_below(3);
	} else {
		/* the newest or oldest few rows: read from the ends of the tiers */
		q->desc = chance(40);
		q->limit = chance(35) ? 1 + rnd_below(3) : 1 + rnd_below(60);
	}

	struct sb b = {0};
	sb_printf(&b, "SELECT ");
	for (uint32_t c = 0; c < q->ncols; c++) {
		const struct qcol *k = &q->col[c];
		if (c)
			sb_printf(&b, ", ");
		if (!q->agg)
			sb_printf(&b, "%s", k->field == COL_HOST ? "host" : FIELD[k->field]);
		else if (k->fn == FN_PERCENTILE)
			sb_printf(&b, "percentile(%s, %s)", FIELD[k->field], k->pct_text);
		else
			sb_printf(&b, "%s(%s)", FN_NAME[k->fn], FIELD[k->field]);
	}
	sb_printf(&b, " FROM m");
	const char *conj[3];
	uint32_t nconj = 0;
	struct sb cb = {0};
	if (q->where) {
		cond_text(&cb, q->where);
		conj[nconj++] = cb.p;
	}
	if (q->has_lo)
		conj[nconj++] = lo_text;
	if (q->has_hi)
		conj[nconj++] = hi_text;
	for (uint32_t i = nconj; i > 1; i--) { /* any order: the planner splits top-level ANDs */
		uint32_t j = rnd_below(i);
		const char *t = conj[i - 1];
		conj[i - 1] = conj[j];
		conj[j] = t;
	}
	for (uint32_t i = 0; i < nconj; i++)
		sb_printf(&b, "%s%s", i ? " AND " : " WHERE ", conj[i]);
	sb_release(&cb);
	if (timedim[0] || tagdims[0]) {
		bool time_first = chance(50);
		sb_printf(&b, " GROUP BY %s%s%s", time_first ? timedim : tagdims,
			  timedim[0] && tagdims[0] ? ", " : "", time_first ? tagdims : timedim);
	}
	if (q->interval) {
		switch (q->fill) {
		case FL_NULL: sb_printf(&b, "%s", chance(20) ? " fill(null)" : ""); break;
		case FL_NONE: sb_printf(&b, " fill(none)"); break;
		case FL_PREVIOUS: sb_printf(&b, " fill(previous)"); break;
		case FL_LINEAR: sb_printf(&b, " fill(linear)"); break;
		default:
			sb_printf(&b, q->fill_value == 2.5 ? " fill(2.5)" : " fill(%d)", (int)q->fill_value);
		}
	}
	if (q->desc)
		sb_printf(&b, " ORDER BY time DESC");
	if (q->limit)
		sb_printf(&b, " LIMIT %lld", (long long)q->limit);
	if (q->roffset)
		sb_printf(&b, " OFFSET %lld", (long long)q->roffset);
	if (q->slimit)
		sb_printf(&b, " SLIMIT %lld", (long long)q->slimit);
	if (q->soffset)
		sb_printf(&b, " SOFFSET %lld", (long long)q->soffset);
	assert_true(b.n < sizeof(q->text));
	memcpy(q->text, b.p, b.n + 1);
	sb_release(&b);
}

/* ============================================================== SHOW */

struct strlist {
	const char *v[64];
	uint32_t n;
};

static void sl_add_unique(struct strlist *l, const char *s)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return;
	assert_true(l->n < 64);
	l->v[l->n++] = s;
}

static void sl_sort(struct strlist *l)
{
	qsort(l->v, l->n, sizeof(l->v[0]), str_cmp_p);
}

typedef bool (*ser_pred)(uint32_t sid);

static bool all_series(uint32_t sid)
{
	(void)sid;
	return true;
}

static bool region_r1(uint32_t sid)
{
	return !strcmp(ser_tag(sid, "region"), "r1");
}

static bool host_h1_h2(uint32_t sid)
{
	const char *h = ser_tag(sid, "host");
	return !strcmp(h, "h1") || !strcmp(h, "h2");
}

static bool host_h0(uint32_t sid)
{
	return !strcmp(ser_tag(sid, "host"), "h0");
}

/* The measurements (sorted) with a series passing pred, optionally only `only`. */
static void show_meas(struct strlist *l, ser_pred pred, const char *only)
{
	memset(l, 0, sizeof(*l));
	for (uint32_t s = 0; s < NSER; s++)
		if (pred(s) && (!only || !strcmp(only, SER[s].meas)))
			sl_add_unique(l, SER[s].meas);
	sl_sort(l);
}

static void want_measurements(struct sb *b, ser_pred pred)
{
	struct strlist l;
	show_meas(&l, pred, NULL);
	if (!l.n)
		return;
	sb_printf(b, "measurements [name]");
	for (uint32_t i = 0; i < l.n; i++)
		sb_printf(b, " ('%s')", l.v[i]);
	sb_printf(b, "\n");
}

static void want_tag_keys(struct sb *b, const char *only)
{
	struct strlist l;
	show_meas(&l, all_series, only);
	for (uint32_t i = 0; i < l.n; i++) {
		const char *keys[3];
		uint32_t n = meas_tag_keys(l.v[i], keys);
		sb_printf(b, "%s [tagKey]", l.v[i]);
		for (uint32_t k = 0; k < n; k++)
			sb_printf(b, " ('%s')", keys[k]);
		sb_printf(b, "\n");
	}
}

static void want_tag_values(struct sb *b, const char *only, const char *key, ser_pred pred)
{
	struct strlist l;
	show_meas(&l, pred, only);
	for (uint32_t i = 0; i < l.n; i++) {
		struct strlist vals = {0};
		for (uint32_t s = 0; s < NSER; s++)
			if (!strcmp(SER[s].meas, l.v[i]) && pred(s) && ser_tag(s, key)[0])
				sl_add_unique(&vals, ser_tag(s, key));
		if (!vals.n)
			continue;
		sl_sort(&vals);
		sb_printf(b, "%s [key,value]", l.v[i]);
		for (uint32_t k = 0; k < vals.n; k++)
			sb_printf(b, " ('%s','%s')", key, vals.v[k]);
		sb_printf(b, "\n");
	}
}

static void want_field_keys(struct sb *b, const char *only)
{
	struct strlist l;
	show_meas(&l, all_series, only);
	for (uint32_t i = 0; i < l.n; i++) {
		uint8_t f = 0;
		for (uint32_t s = 0; s < NSER; s++)
			if (!strcmp(SER[s].meas, l.v[i]))
				f |= SER[s].fields;
		sb_printf(b, "%s [fieldKey,fieldType]", l.v[i]);
		for (uint32_t k = 0; k < NFIELD; k++) /* FIELD is sorted */
			if (f & (1u << k))
				sb_printf(b, " ('%s','%s')", FIELD[k], FIELD_INT[k] ? "integer" : "float");
		sb_printf(b, "\n");
	}
}

static void want_series(struct sb *b, const char *only, ser_pred pred, uint32_t off, uint32_t lim)
{
	static char keys[NSER][96];
	struct strlist l = {0};
	for (uint32_t s = 0; s < NSER; s++) {
		if (!pred(s) || (only && strcmp(only, SER[s].meas)))
			continue;
		const char *tk[3];
		uint32_t n = meas_tag_keys(SER[s].meas, tk);
		int len = snprintf(keys[s], sizeof(keys[s]), "%s", SER[s].meas);
		for (uint32_t k = 0; k < n; k++)
			if (ser_tag(s, tk[k])[0])
				len += snprintf(keys[s] + len, sizeof(keys[s]) - (size_t)len, ",%s=%s", tk[k],
						ser_tag(s, tk[k]));
		sl_add_unique(&l, keys[s]);
	}
	sl_sort(&l);
	if (off >= l.n)
		return;
	sb_printf(b, " [key]");
	for (uint32_t i = off; i < l.n && i - off < lim; i++)
		sb_printf(b, " ('%s')", l.v[i]);
	sb_printf(b, "\n");
}

static void check_show(const char *text, struct sb *want, unsigned *bad)
{
	if (!check_render(DB, text, sb_str(want)))
		(*bad)++;
	sb_release(want);
}

static void test_mg_exec__show(void **state)
{
	(void)state;
	unsigned bad = 0;
	struct sb w = {0};
	want_measurements(&w, all_series);
	check_show("SHOW MEASUREMENTS", &w, &bad);
	want_measurements(&w, region_r1);
	check_show("SHOW MEASUREMENTS WHERE region = 'r1'", &w, &bad);
	want_measurements(&w, host_h0);
	check_show("SHOW MEASUREMENTS WHERE host = 'h0'", &w, &bad);
	want_tag_keys(&w, NULL);
	check_show("SHOW TAG KEYS", &w, &bad);
	want_tag_keys(&w, "n");
	check_show("SHOW TAG KEYS FROM n", &w, &bad);
	want_tag_values(&w, NULL, "host", all_series);
	check_show("SHOW TAG VALUES WITH KEY = \"host\"", &w, &bad);
	want_tag_values(&w, "m", "region", all_series);
	check_show("SHOW TAG VALUES FROM m WITH KEY = region", &w, &bad);
	want_tag_values(&w, "m", "host", region_r1);
	check_show("SHOW TAG VALUES FROM m WITH KEY = \"host\" WHERE region = 'r1'", &w, &bad);
	want_field_keys(&w, NULL);
	check_show("SHOW FIELD KEYS", &w, &bad);
	want_field_keys(&w, "m");
	check_show("SHOW FIELD KEYS FROM m", &w, &bad);
	want_series(&w, NULL, all_series, 0, UINT32_MAX);
	check_show("SHOW SERIES", &w, &bad);
	want_series(&w, "m", host_h1_h2, 0, UINT32_MAX);
	check_show("SHOW SERIES FROM m WHERE host =~ /^h[12]$/", &w, &bad);
	want_series(&w, NULL, all_series, 2, 3);
	check_show("SHOW SERIES LIMIT 3 OFFSET 2", &w, &bad);
	want_series(&w, NULL, region_r1, 0, UINT32_MAX);
	check_show("SHOW SERIES WHERE region = 'r1'", &w, &bad);
	assert_int_equal(bad, 0);
}

/* ============================================================== hand-checked */

/*
 * Database "hand" (see insert_hand): x.v 0:10 10:20 20:30 50:40 60:2 90:0,
 * x.w 0:1.5 50:-0.5, y.v 0:7 20:7 60:9 70:1, w.v 200:5 (seconds after T0).
 */
struct hcase {
	const char *query;
	const char *want;      /* render_got's form; "" for no series */
};

static const struct hcase HAND_CASES[] = {
	/* 10 values in [0 s, 120 s): sum 102 + 24, min 0 (x at 90 s), max 40; one row at the bound */
	{"SELECT count(v), sum(v), mean(v), min(v), max(v), spread(v) FROM hc "
	 "WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T00:02:00Z'",
	 "hc [time,count,sum,mean,min,max,spread] (T+0s,10,126,12.6,0,40,40)\n"},
	/* a selector alone carries its point's time; no bound: everything */
	{"SELECT max(v) FROM hc", "hc [time,max] (T+50s,40)\n"},
	{"SELECT min(v) FROM hc WHERE time >= '2016-01-01T00:00:30Z'", "hc [time,min] (T+90s,0)\n"},
	/* x sorted: 0 2 10 20 30 40: median (10 + 20) / 2, time 0 without a lower bound */
	{"SELECT median(v) FROM hc WHERE host = 'x'", "hc [time,median] (0,15)\n"},
	/* y by 20 s: 7, 7, empty, (9 + 1) / 2; linear between 7 and 5 gives 6 */
	{"SELECT mean(v) FROM hc WHERE host = 'y' AND time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:01:20Z' GROUP BY time(20s) fill(linear)",
	 "hc [time,mean] (T+0s,7) (T+20s,7) (T+40s,6) (T+60s,5)\n"},
	/* count fills 0 under fill(null); the last bucket starts before the upper bound */
	{"SELECT count(v) FROM hc WHERE host = 'y' AND time >= 1451606400000000000 AND "
	 "time <= 1451606460000000000 GROUP BY time(30s)",
	 "hc [time,count] (T+0s,2) (T+30s,0) (T+60s,1)\n"},
	/* GROUP BY host, series in tag order */
	{"SELECT count(v) FROM hc GROUP BY host",
	 "hc{host=w} [time,count] (0,1)\nhc{host=x} [time,count] (0,6)\nhc{host=y} [time,count] (0,4)\n"},
	/* one field of a key split over both shards: rows back in time order */
	{"SELECT v FROM hc WHERE host = 'y' AND v > 5", "hc [time,v] (T+0s,7) (T+20s,7) (T+60s,9)\n"},
	/* DESC with LIMIT: the newest (w lives in one shard) */
	{"SELECT w FROM hc ORDER BY time DESC LIMIT 1", "hc [time,w] (T+50s,-0.5)\n"},
	/* SLIMIT/SOFFSET over the groups */
	{"SELECT count(v) FROM hc GROUP BY host SLIMIT 1 SOFFSET 1", "hc{host=x} [time,count] (0,6)\n"},
	/* an offset of 10 s on 20 s buckets: [-10, 10) [10, 30) ... */
	{"SELECT sum(v) FROM hc WHERE host = 'x' AND time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:00:30Z' GROUP BY time(20s, 10s)",
	 "hc [time,sum] (T-10s,10) (T+10s,50)\n"},
	/* a database that does not exist */
	{"SHOW MEASUREMENTS ON nosuch", "error: database not found: nosuch\n"},
};

/* Run cases over "hand"; check_render prints each that disagrees, then the case fails. */
static void check_hand(const struct hcase *c, size_t n)
{
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !check_render(HAND, c[i].query, c[i].want);
	if (bad)
		fail_msg("%u of %zu queries wrong", bad, n);
}

#define CHECK_HAND(cases) check_hand(cases, sizeof(cases) / sizeof(cases[0]))

static void test_mg_exec__hand_checked(void **state)
{
	(void)state;
	CHECK_HAND(HAND_CASES);
}

/*
 * One case per executor bug this test once found (and per fast path that
 * could bring one back), each checking the rule its comment names.
 */
static const struct hcase REGRESSIONS[] = {
	/* A key held by both shards is read merged in time order: raw join, field test, LIMIT. */
	{"SELECT v, w FROM hc WHERE host = 'x'",
	 "hc [time,v,w] (T+0s,10,1.5) (T+10s,20,null) (T+20s,30,null) (T+50s,40,-0.5) "
	 "(T+60s,2,null) (T+90s,0,null)\n"},
	{"SELECT mean(w) FROM hc WHERE v > 5", "hc [time,mean] (0,0.5)\n"},
	/* SHOW ... FROM db./re/ reads that database (it read the current one) */
	{"SHOW TAG KEYS FROM db0../^m$/", "m [tagKey] ('host') ('region')\n"},
	{"SHOW TAG KEYS FROM nosuch../^m$/", "error: database not found: nosuch\n"},
	/* x.v is 20 50 60 90 in shard 0, 0 10 in shard 1: LIMIT takes the oldest of both */
	{"SELECT v FROM hc WHERE host = 'x' LIMIT 3",
	 "hc [time,v] (T+0s,10) (T+10s,20) (T+20s,30)\n"},
	{"SELECT v FROM hc WHERE host = 'x' ORDER BY time DESC LIMIT 2",
	 "hc [time,v] (T+90s,0) (T+60s,2)\n"},
	/* first()/last() on equal times (x and y at 0 s and 60 s) take the greater value. */
	{"SELECT first(v) FROM hc WHERE time >= '2016-01-01T00:00:00Z'",
	 "hc [time,first] (T+0s,10)\n"},
	{"SELECT first(v) FROM hc WHERE time >= '2016-01-01T00:01:00Z'",
	 "hc [time,first] (T+60s,9)\n"},
	{"SELECT last(v) FROM hc WHERE time <= '2016-01-01T00:01:00Z'",
	 "hc [time,last] (T+60s,9)\n"},
	{"SELECT last(v) FROM hc WHERE time <= '2016-01-01T00:00:00Z'",
	 "hc [time,last] (T+0s,10)\n"},
	/* percentile() alone reports the selected point's time, as the other selectors do. */
	/* x sorted 0 2 10 20 30 40: rank floor(6 * 0.75 + 0.5) = 5: 30, at 20 s */
	{"SELECT percentile(v, 75) FROM hc WHERE host = 'x'", "hc [time,percentile] (T+20s,30)\n"},
	/* fill(linear) on integers truncates the interpolated value, not the step (linearInteger). */
	/* 2 at 60 s, 0 at 90 s: 1.33 and 0.67, truncated as InfluxDB's int64(m*x + b) */
	{"SELECT max(v) FROM hc WHERE host = 'x' AND time >= '2016-01-01T00:01:00Z' AND "
	 "time < '2016-01-01T00:01:40Z' GROUP BY time(10s) fill(linear)",
	 "hc [time,max] (T+60s,2) (T+70s,1) (T+80s,0) (T+90s,0)\n"},
	/* Fill works per column: x.w's empty buckets are filled though x.v has data there. */
	{"SELECT count(v), count(w) FROM hc WHERE host = 'x' AND "
	 "time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T00:00:30Z' GROUP BY time(10s)",
	 "hc [time,count,count_1] (T+0s,1,1) (T+10s,1,0) (T+20s,1,0)\n"},
	{"SELECT mean(v), mean(w) FROM hc WHERE host = 'x' AND "
	 "time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T00:00:30Z' GROUP BY time(10s) "
	 "fill(0)",
	 "hc [time,mean,mean_1] (T+0s,10,1.5) (T+10s,20,0) (T+20s,30,0)\n"},
	{"SELECT last(v), last(w) FROM hc WHERE host = 'x' AND "
	 "time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T00:00:30Z' GROUP BY time(10s) "
	 "fill(previous)",
	 "hc [time,last,last_1] (T+0s,10,1.5) (T+10s,20,1.5) (T+20s,30,1.5)\n"},
	/* A group whose points the field condition all rejects is not printed, filled or not. */
	{"SELECT mean(v) FROM hc WHERE v > 100 AND time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:01:00Z' GROUP BY time(20s)",
	 ""},
	/* GROUP BY * shows every tag key of the measurement, "" where the series lacks it. */
	{"SELECT count(v) FROM hc GROUP BY *",
	 "hc{host=w,role=api} [time,count] (0,1)\nhc{host=x,role=} [time,count] (0,6)\n"
	 "hc{host=y,role=db} [time,count] (0,4)\n"},
	/* Series come in sorted tag key order (Tags.ID()), whatever order GROUP BY names them in. */
	{"SELECT count(v) FROM hc GROUP BY role, host",
	 "hc{host=w,role=api} [time,count] (0,1)\nhc{host=x,role=} [time,count] (0,6)\n"
	 "hc{host=y,role=db} [time,count] (0,4)\n"},
	/* fill(previous) under ORDER BY time DESC takes the later bucket's value (60 s's 9). */
	{"SELECT max(v) FROM hc WHERE host = 'y' AND time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:01:20Z' GROUP BY time(20s) fill(previous) ORDER BY time DESC",
	 "hc [time,max] (T+60s,9) (T+40s,9) (T+20s,7) (T+0s,7)\n"},
	/* fill(N) is cast to the column's type: fill(2.5) gives 2 in an integer column. */
	{"SELECT max(v) FROM hc WHERE host = 'y' AND time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:01:20Z' GROUP BY time(20s) fill(2.5)",
	 "hc [time,max] (T+0s,7) (T+20s,7) (T+40s,2) (T+60s,9)\n"},
	/*
	 * GROUP BY time with LIMIT reads only the printed buckets' window; without
	 * a lower bound the buckets start at the group's first point (x and y at
	 * 0 s; w's only point, 200 s, lies past the range: no series), a window
	 * without values fills with the column's type (v is an integer: fill(2.5)
	 * prints 2), and DESC counts back from the upper bound.
	 */
	{"SELECT max(v) FROM hc WHERE time < '2016-01-01T00:02:00Z' GROUP BY time(20s), host "
	 "LIMIT 2",
	 "hc{host=x} [time,max] (T+0s,20) (T+20s,30)\nhc{host=y} [time,max] (T+0s,7) (T+20s,7)\n"},
	{"SELECT max(v) FROM hc WHERE time < '2016-01-01T00:02:00Z' GROUP BY time(20s), host "
	 "ORDER BY time DESC LIMIT 2",
	 "hc{host=x} [time,max] (T+100s,null) (T+80s,0)\n"
	 "hc{host=y} [time,max] (T+100s,null) (T+80s,null)\n"},
	{"SELECT max(v) FROM hc WHERE host = 'x' AND time < '2016-01-01T00:02:00Z' "
	 "GROUP BY time(20s) fill(2.5) ORDER BY time DESC LIMIT 1",
	 "hc [time,max] (T+100s,2)\n"},
	{"SELECT max(v) FROM hc WHERE time < '2016-01-01T00:02:00Z' GROUP BY time(20s) "
	 "LIMIT 1 OFFSET 2",
	 "hc [time,max] (T+40s,40)\n"},
	/*
	 * tz(): bounds without an offset are wall times in the zone, buckets are
	 * its local days (Chicago midnight is 06:00Z) or hours (Kolkata's start
	 * at half past, UTC); an unknown zone is an error.
	 */
	{"SELECT count(v) FROM hc WHERE time >= '2015-12-31' AND time < '2016-01-02' "
	 "GROUP BY time(1d) tz('America/Chicago')",
	 "hc [time,count] (T-64800s,11) (T+21600s,0)\n"},
	{"SELECT count(v) FROM hc WHERE time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:02:00Z' GROUP BY time(1h) tz('Asia/Kolkata')",
	 "hc [time,count] (T-1800s,10)\n"},
	{"SELECT count(v) FROM hc WHERE time >= '2016-01-01T00:00:00Z' AND "
	 "time < '2016-01-01T00:02:00Z' GROUP BY time(1h) LIMIT 1 tz('Asia/Kolkata')",
	 "hc [time,count] (T-1800s,10)\n"},
	{"SELECT count(v) FROM hc tz('Mars/Olympus')", "error: unknown time zone 'Mars/Olympus'\n"},
	/*
	 * Buckets beyond any memory, with no max-select-buckets: refused before
	 * the accumulators are allocated (their size once wrapped), also where the
	 * bucket count itself overflows.
	 */
	{"SELECT count(v) FROM hc WHERE time >= -9000000000000000000 AND time < 0 GROUP BY time(1ns)",
	 "error: query memory limit exceeded: 9000000000000000000 buckets\n"},
	{"SELECT count(v) FROM hc WHERE time >= -9223372036854775807 AND "
	 "time <= 9223372036854775806 GROUP BY time(1ns)",
	 "error: query memory limit exceeded: 9223372036854775807 buckets\n"},
	/* A bad pattern, a wildcard or a negated minimum time in WHERE: errors, not empty. */
	{"SELECT v FROM hc WHERE host =~ /(/",
	 "error: bad regex \"(\": missing closing parenthesis at 1\n"},
	{"SELECT v FROM hc WHERE v > 1 OR host !~ /[/",
	 "error: bad regex \"[\": missing terminating ] for character class at 1\n"},
	{"SELECT v FROM hc WHERE *", "error: unexpected wildcard in condition\n"},
	{"SELECT v FROM hc WHERE time > -(-9223372036854775808)",
	 "error: invalid time value at char 31\n"},
	/* A series that OFFSET leaves without rows is not printed. */
	{"SELECT v FROM hc WHERE host = 'y' OFFSET 10", ""},
	/* A WHERE matching no series returns none, cleanly under UBSan (no qsort(NULL, 0)). */
	{"SELECT v FROM hc WHERE host = 'nosuch'", ""},
};

static void test_mg_exec__regressions(void **state)
{
	(void)state;
	CHECK_HAND(REGRESSIONS);
}

/* ============================================================== random */

/* One generated query against the brute force; true when they agree (else printed). */
static bool check_query(int i, struct query *q, unsigned *nonempty, uint64_t *rows,
			unsigned *errors)
{
	struct xres x = {0};
	expect(q, &x);
	struct mg_stmt_result *sr;
	struct mg_result *r = run(DB, q->text, &sr);
	char why[1024];
	*nonempty += x.n > 0;
	for (size_t s = 0; s < x.n; s++)
		*rows += x.v[s].nrows;
	*errors += sr->error != NULL;
	bool ok = compare(&x, sr, why, sizeof(why));
	if (!ok) {
		struct sb e = {0}, g = {0};
		render_exp(&e, &x, 6);
		render_got(&g, sr, 6);
		print_message("MISMATCH %d: %s\n  %s\n  expected:\n", i, q->text, why);
		print_lines("    ", e.n ? e.p : "(no series)\n");
		print_message("  got:\n");
		print_lines("    ", g.n ? g.p : "(no series)\n");
		sb_release(&e);
		sb_release(&g);
	}
	mg_result_free(r);
	xres_release(&x);
	return ok;
}

/*
 * The newest (oldest) row of every series up to (from) a bound every 50 s
 * over the whole range: SELECT a, b ... GROUP BY * ORDER BY time [DESC]
 * LIMIT 1 reads only the ends of the tiers (summaries, the chunk of the hot
 * tier that holds the end), which the random queries reach too rarely.
 */
static void test_mg_exec__series_ends(void **state)
{
	(void)state;
	unsigned bad = 0, nonempty = 0, errors = 0;
	uint64_t rows = 0;
	int i = 0;
	for (int64_t t = T0 - 60 * SEC; t <= T0 + NSLOT * STEP + 60 * SEC; t += 50 * SEC, i++)
		for (int desc = 0; desc < 2; desc++) {
			struct query q = {.ncols = 2, .gall = true, .desc = desc, .limit = 1};
			q.col[0] = (struct qcol){.fn = -1, .field = F_A};
			q.col[1] = (struct qcol){.fn = -1, .field = F_B};
			if (desc) {
				q.has_hi = true;
				q.hi = t;
			} else {
				q.has_lo = true;
				q.lo = t;
			}
			snprintf(q.text, sizeof(q.text),
				 "SELECT a, b FROM m WHERE time %s %lld GROUP BY * %sLIMIT 1",
				 desc ? "<=" : ">=", (long long)t, desc ? "ORDER BY time DESC " : "");
			bad += !check_query(i, &q, &nonempty, &rows, &errors);
		}
	print_message("series ends: %d bounds, %u with series, %u errors, %u mismatches\n", i,
		      nonempty, errors, bad);
	assert_true(nonempty > 0);
	assert_int_equal(errors, 0);
	assert_int_equal(bad, 0);
}

static void test_mg_exec__random_vs_brute_force(void **state)
{
	(void)state;
	rng_state = seed() ^ UINT64_C(0x9e3779b97f4a7c15);
	unsigned bad = 0, nonempty = 0, errors = 0;
	uint64_t rows = 0;
	uint64_t summarized0 = atomic_load(&chunks_summarized);
	for (int i = 0; i < NQUERIES; i++) {
		struct query q;
		gen_query(&q);
		/* every other query has two helpers reading its row sets ahead (mg_decode.h) */
		fx.cx.decode = i % 2 ? fx.decode : NULL;
		bool ok = check_query(i, &q, &nonempty, &rows, &errors);
		cond_free(q.where);
		if (!ok && ++bad >= REPORT_MAX)
			break; /* enough printed */
	}
	fx.cx.decode = NULL;
	uint64_t ahead = mg_decode_pool_taken(fx.decode);
	print_message("random: %llu row sets read by the decode helpers and used\n",
		      (unsigned long long)ahead);
	assert_true(ahead > 0);
	print_message("random: %d queries, %u with series, %llu rows expected, %u errors, "
		      "%u mismatches\n", NQUERIES, nonempty, (unsigned long long)rows, errors, bad);
	uint64_t summarized = atomic_load(&chunks_summarized) - summarized0;
	print_message("random: %llu block chunks answered by their summaries\n",
		      (unsigned long long)summarized);
	/* the generator must not be vacuous, and must reach the summaries path */
	assert_true(nonempty > NQUERIES / 2);
	assert_true(summarized > 0);
	assert_int_equal(bad, 0);
}

/*
 * A raw answer with thousands of distinct tag values, in time order across
 * the series: each row's tags are its own series' (the result's string
 * copies and the JSON encoder's memo are keyed by address), through the
 * result and through its JSON.
 */
static void test_mg_exec__raw_many_tag_values(void **state)
{
	(void)state;
	struct mg_stmt_result *sr;
	struct mg_result *r = run(MANY, "SELECT v, host, role FROM wide", &sr);
	assert_null(sr->error);
	assert_int_equal(sr->nseries, 1);
	const struct mg_series *se = &sr->series[0];
	assert_int_equal(se->nrows, NMANY);
	assert_int_equal(se->ncols, 4);
	struct mg_result_buf o = {0};
	struct mg_json_opts opts = {.epoch = MG_EPOCH_S};
	assert_int_equal(mg_result_json(r, &opts, mg_result_buf_write, &o), 0);
	const char *at = strstr(o.p, "\"values\":[");
	assert_non_null(at);
	at += strlen("\"values\":[");
	for (uint32_t i = 0; i < NMANY; i++) {
		const struct mg_cell *c = &se->cells[i * 4];
		char host[16], role[8], want[64];
		snprintf(host, sizeof(host), "h%04u", i);
		snprintf(role, sizeof(role), "r%u", i % 7);
		assert_int_equal(c[0].i, T0 + (int64_t)i * SEC);
		assert_int_equal(c[1].i, i);
		assert_string_equal(c[2].s, host);
		assert_string_equal(c[3].s, role);
		int n = snprintf(want, sizeof(want), "%s[%" PRId64 ",%u,\"%s\",\"%s\"]", i ? "," : "",
				 (int64_t)((T0 + (int64_t)i * SEC) / SEC), i, host, role);
		if (strncmp(at, want, (size_t)n))
			fail_msg("row %u: got %.60s, want %s", i, at, want);
		at += n;
	}
	free(o.p);
	mg_result_free(r);
}

/*
 * tz() buckets under a max-select-buckets high enough to let them through:
 * their edges and accumulators are sized with overflow checks (the edge
 * count once wrapped the allocation and the loop wrote past it).
 */
static void test_mg_exec__tz_buckets_beyond_memory(void **state)
{
	(void)state;
	uint64_t saved = fx.cx.limits.max_buckets;
	fx.cx.limits.max_buckets = INT64_MAX;
	bool ok = check_render(HAND, "SELECT count(v) FROM hc WHERE time >= 0 AND "
			       "time < 4611686018427387904 GROUP BY time(1ns) tz('UTC')",
			       "error: query memory limit exceeded: 4611686018427387907 buckets\n");
	fx.cx.limits.max_buckets = saved;
	assert_true(ok);
}

int main(void)
{
	tst_require_uring();
	cm_log_set_level(CM_LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_exec__show),
		cmocka_unit_test(test_mg_exec__hand_checked),
		cmocka_unit_test(test_mg_exec__regressions),
		cmocka_unit_test(test_mg_exec__raw_many_tag_values),
		cmocka_unit_test(test_mg_exec__tz_buckets_beyond_memory),
		cmocka_unit_test(test_mg_exec__series_ends),
		cmocka_unit_test(test_mg_exec__random_vs_brute_force),
	};
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
