/*
 * test_st_shard.c - the per-core shard: insert and read back, sealing and
 * growth, out-of-order and duplicate policies, type conflicts, limits, a
 * randomized comparison against a naive model, and one writer racing
 * concurrent readers.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "st_series.h"
#include "st_shard.h"

#define SEC 1000000000LL
#define T0 (1451606400LL * SEC)

struct fixture {
	struct st_rcu *rcu;
	struct st_shard *sh;
	struct st_shard_cfg cfg;
};

static struct fixture fx;

static void open_shard(void (*tweak)(struct st_shard_cfg *))
{
	assert_int_equal(st_rcu_create(8, &fx.rcu), 0);
	st_shard_cfg_default(&fx.cfg);
	fx.cfg.rcu = fx.rcu;
	fx.cfg.memory_limit_bytes = 256u << 20;
	fx.cfg.max_series = 1 << 20;
	if (tweak)
		tweak(&fx.cfg);
	assert_int_equal(st_shard_create(&fx.cfg, &fx.sh), 0);
}

static int teardown(void **state)
{
	(void)state;
	st_shard_destroy(fx.sh);
	st_rcu_destroy(fx.rcu);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* A key "m,host=h<i> f" in buf; returns its length. */
static uint32_t make_key(uint8_t *buf, uint32_t i, const char *field)
{
	char host[32];
	int n = snprintf(host, sizeof(host), "h%u", i);
	struct st_tag tags[2] = {
		{{"region", 6}, {"eu", 2}},
		{{"host", 4}, {host, (uint32_t)n}},
	};
	int len = st_key_build(buf, ST_KEY_MAX, (struct st_str){"m", 1},
			       (struct st_str){field, (uint32_t)strlen(field)}, tags, 2);
	assert_true(len > 0);
	return (uint32_t)len;
}

static enum st_insert_status put(uint32_t series, int64_t ts, uint8_t type, uint64_t bits)
{
	uint8_t key[ST_KEY_MAX];
	struct st_shard_point p = {.ts_ns = ts, .type = type};
	p.keylen = make_key(key, series, "v");
	p.key = key;
	p.hash = st_key_hash(key, p.keylen);
	p.v.u64 = bits;
	return st_shard_insert(fx.sh, &p);
}

static enum st_insert_status put_i(uint32_t series, int64_t ts, int64_t v)
{
	return put(series, ts, ST_VT_I64, (uint64_t)v);
}

static enum st_insert_status put_f(uint32_t series, int64_t ts, double v)
{
	uint64_t b;
	memcpy(&b, &v, 8);
	return put(series, ts, ST_VT_F64, b);
}

static int read_all(uint32_t local, struct st_points *pts)
{
	st_points_init(pts);
	int reader = st_rcu_reader_register(fx.rcu);
	assert_true(reader >= 0);
	st_read_begin(fx.rcu, reader);
	int n = st_shard_read(fx.sh, local, INT64_MIN, INT64_MAX, pts);
	st_read_end(fx.rcu, reader);
	st_rcu_reader_unregister(fx.rcu, reader);
	return n;
}

static void test_st_shard__insert_read_back(void **state)
{
	(void)state;
	open_shard(NULL);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(put_i(0, T0 + i * 10 * SEC, i * 3 - 500), ST_INS_OK);
		assert_int_equal(put_f(1, T0 + i * 10 * SEC, i * 0.25), ST_INS_OK);
	}
	assert_int_equal(st_shard_series_count(fx.sh), 2);
	struct st_points p;
	assert_int_equal(read_all(0, &p), 1000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(p.ts[i], T0 + i * 10 * SEC);
		assert_int_equal((int64_t)p.vals[i], i * 3 - 500);
	}
	st_points_release(&p);
	assert_int_equal(read_all(1, &p), 1000);
	for (int i = 0; i < 1000; i++) {
		double d;
		memcpy(&d, &p.vals[i], 8);
		assert_true(d == i * 0.25);
	}
	st_points_release(&p);

	uint32_t keylen;
	enum st_value_type vt;
	const uint8_t *key = st_shard_series_key(fx.sh, 1, &keylen, &vt);
	char text[128];
	assert_non_null(key);
	assert_int_equal(vt, ST_VT_F64);
	assert_true(st_key_format(key, keylen, true, text, sizeof(text)) > 0);
	assert_string_equal(text, "m,host=h1,region=eu v");
	assert_null(st_shard_series_key(fx.sh, 2, NULL, NULL));
	assert_int_equal(st_shard_check(fx.sh), 0);
}

static void small_chunks(struct st_shard_cfg *c)
{
	c->chunk_points = 100;
	c->chunk_span_ns = 3600 * SEC;
}

static void test_st_shard__seals_by_count_and_span(void **state)
{
	(void)state;
	open_shard(small_chunks);
	/* 1000 points at 1 s: sealed every 100 points (10 chunks) */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(put_i(0, T0 + i * SEC, i), ST_INS_OK);
	/* 50 points at 10 min: crosses an hour boundary every 6 points */
	for (int i = 0; i < 50; i++)
		assert_int_equal(put_i(1, T0 + i * 600 * SEC, i), ST_INS_OK);
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_true(st.chunks_sealed >= 9 + 8);
	assert_int_equal(st.points_stored, 1050);
	assert_int_equal(st_shard_check(fx.sh), 0);

	struct st_points p;
	assert_int_equal(read_all(0, &p), 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(p.vals[i], (uint64_t)i);
	st_points_release(&p);

	/* time range pushdown across chunk boundaries */
	st_points_init(&p);
	int r = st_rcu_reader_register(fx.rcu);
	st_read_begin(fx.rcu, r);
	assert_int_equal(st_shard_read(fx.sh, 0, T0 + 150 * SEC, T0 + 349 * SEC, &p), 200);
	st_read_end(fx.rcu, r);
	st_rcu_reader_unregister(fx.rcu, r);
	assert_int_equal(p.ts[0], T0 + 150 * SEC);
	assert_int_equal(p.ts[199], T0 + 349 * SEC);
	st_points_release(&p);
}

static void test_st_shard__grows_chunks_with_random_floats(void **state)
{
	(void)state;
	open_shard(NULL);
	srand(7);
	double vals[512];
	for (int i = 0; i < 512; i++) {
		uint64_t b = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
		memcpy(&vals[i], &b, 8);
		assert_int_equal(put(0, T0 + i * 7 * SEC + rand() % 1000, ST_VT_F64, b), ST_INS_OK);
	}
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_true(st.chunks_grown > 0);
	st_shard_maintain(fx.sh);
	assert_int_equal(st_shard_check(fx.sh), 0);
	struct st_points p;
	assert_int_equal(read_all(0, &p), 512);
	assert_memory_equal(p.vals, vals, sizeof(vals));
	st_points_release(&p);
}

static void test_st_shard__out_of_order_window(void **state)
{
	(void)state;
	open_shard(NULL); /* window 1 h */
	assert_int_equal(put_i(0, T0 + 100 * SEC, 100), ST_INS_OK);
	assert_int_equal(put_i(0, T0 + 200 * SEC, 200), ST_INS_OK);
	assert_int_equal(put_i(0, T0 + 150 * SEC, 150), ST_INS_OOO);
	assert_int_equal(put_i(0, T0 + 50 * SEC, 50), ST_INS_OOO);
	assert_int_equal(put_i(0, T0 + 300 * SEC, 300), ST_INS_OK);
	assert_int_equal(put_i(0, T0 + 200 * SEC - 3601 * SEC, 1), ST_INS_TOO_OLD);
	assert_int_equal(put_i(0, T0 + 300 * SEC - 3600 * SEC, 2), ST_INS_OOO);

	struct st_points p;
	assert_int_equal(read_all(0, &p), 6);
	int64_t want_t[] = {-3300, 50, 100, 150, 200, 300};
	int64_t want_v[] = {2, 50, 100, 150, 200, 300};
	for (int i = 0; i < 6; i++) {
		assert_int_equal(p.ts[i], T0 + want_t[i] * SEC);
		assert_int_equal((int64_t)p.vals[i], want_v[i]);
	}
	st_points_release(&p);
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_int_equal(st.points_ooo, 3);
	assert_int_equal(st.rejected[ST_INS_TOO_OLD], 1);
	assert_int_equal(st_shard_check(fx.sh), 0);
}

static void test_st_shard__duplicates_last_write_wins(void **state)
{
	(void)state;
	open_shard(NULL);
	assert_int_equal(put_i(0, T0 + 10 * SEC, 1), ST_INS_OK);
	assert_int_equal(put_i(0, T0 + 10 * SEC, 2), ST_INS_OK);   /* in-order duplicate */
	assert_int_equal(put_i(0, T0 + 20 * SEC, 3), ST_INS_OK);
	assert_int_equal(put_i(0, T0 + 10 * SEC, 4), ST_INS_OOO);  /* rewrite, out of order */
	assert_int_equal(put_i(0, T0 + 20 * SEC, 5), ST_INS_OK);   /* newest again */
	assert_int_equal(put_i(0, T0 + 10 * SEC, 6), ST_INS_OOO);  /* and again */
	struct st_points p;
	assert_int_equal(read_all(0, &p), 2);
	assert_int_equal((int64_t)p.vals[0], 6);
	assert_int_equal((int64_t)p.vals[1], 5);
	st_points_release(&p);
}

static void test_st_shard__type_conflict_rejected(void **state)
{
	(void)state;
	open_shard(NULL);
	assert_int_equal(put_i(0, T0, 1), ST_INS_OK);
	assert_int_equal(put_f(0, T0 + SEC, 1.5), ST_INS_TYPE_CONFLICT);
	assert_int_equal(put(0, T0 + SEC, ST_VT_STR, 0), ST_INS_BAD_TYPE);
	assert_int_equal(put(0, T0 + SEC, 99, 0), ST_INS_BAD_TYPE);
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_int_equal(st.rejected[ST_INS_TYPE_CONFLICT], 1);
	assert_int_equal(st.rejected[ST_INS_BAD_TYPE], 2);
	assert_int_equal(st.points_stored, 1);
	assert_string_equal(st_insert_status_name(ST_INS_TYPE_CONFLICT), "type_conflict");
}

static void tiny_memory(struct st_shard_cfg *c)
{
	c->memory_limit_bytes = 4u << 20;
	c->max_series = 1 << 16;
	c->series_hint = 16;
}

static void test_st_shard__memory_limit_refuses_and_counts(void **state)
{
	(void)state;
	open_shard(tiny_memory);
	uint32_t ok = 0, refused = 0;
	for (uint32_t i = 0; i < 60000; i++) {
		enum st_insert_status s = put_i(i, T0, i);
		if (s == ST_INS_OK)
			ok++;
		else {
			assert_int_equal(s, ST_INS_NO_MEMORY);
			refused++;
		}
	}
	assert_true(ok > 1000 && refused > 0);
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_int_equal(st.rejected[ST_INS_NO_MEMORY], refused);
	assert_true(st.memory_bytes <= 4u << 20);
	assert_int_equal(st.series, ok);
	assert_int_equal(st_shard_check(fx.sh), 0);
	/* Existing series keep filling their open chunks. */
	assert_int_equal(put_i(0, T0 + SEC, 1), ST_INS_OK);
	struct st_points p;
	assert_int_equal(read_all(0, &p), 2);
	st_points_release(&p);
}

static void few_series(struct st_shard_cfg *c)
{
	c->max_series = 10;
}

static void test_st_shard__series_limit(void **state)
{
	(void)state;
	open_shard(few_series);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(put_i(i, T0, 1), ST_INS_OK);
	assert_int_equal(put_i(10, T0, 1), ST_INS_SERIES_LIMIT);
	assert_int_equal(put_i(3, T0 + SEC, 1), ST_INS_OK);
}

/* --------------------------------------------------------------- model */

struct model_pt {
	int64_t ts;
	int64_t v;
};

struct model {
	struct model_pt *pts; /* sorted by ts, unique */
	size_t n, cap;
	int64_t newest;
	bool any;
};

static void model_put(struct model *m, int64_t ts, int64_t v)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->pts[mid].ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n && m->pts[lo].ts == ts) {
		m->pts[lo].v = v;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->pts = realloc(m->pts, m->cap * sizeof(*m->pts));
		assert_non_null(m->pts);
	}
	memmove(&m->pts[lo + 1], &m->pts[lo], (m->n - lo) * sizeof(*m->pts));
	m->pts[lo] = (struct model_pt){ts, v};
	m->n++;
}

static uint64_t rng = 42;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void model_chunks(struct st_shard_cfg *c)
{
	c->chunk_points = 64;
	c->chunk_span_ns = 600 * SEC;
	c->ooo_window_ns = 300 * SEC;
}

static void test_st_shard__random_ops_match_model(void **state)
{
	(void)state;
	enum { NS = 40, OPS = 60000 };
	open_shard(model_chunks);
	struct model m[NS];
	memset(m, 0, sizeof(m));
	for (int op = 0; op < OPS; op++) {
		uint32_t s = (uint32_t)(rnd() % NS);
		int64_t ts;
		uint64_t r = rnd() % 100;
		if (!m[s].any || r < 80)
			ts = (m[s].any ? m[s].newest : T0) + (int64_t)(rnd() % 30) * SEC; /* forward, maybe equal */
		else if (r < 95)
			ts = m[s].newest - (int64_t)(rnd() % 400) * SEC;  /* back: inside or outside */
		else
			ts = m[s].newest - (int64_t)(rnd() % 20) * SEC * 1000; /* far back */
		int64_t v = (int64_t)(rnd() % 2000) - 1000;
		enum st_insert_status st = put_i(s, ts, v);
		int64_t oldest = m[s].newest - 300 * SEC;
		if (m[s].any && ts < oldest) {
			assert_int_equal(st, ST_INS_TOO_OLD);
			continue;
		}
		assert_true(st == ST_INS_OK || st == ST_INS_OOO);
		assert_int_equal(st == ST_INS_OOO, m[s].any && ts < m[s].newest);
		model_put(&m[s], ts, v);
		if (!m[s].any || ts > m[s].newest)
			m[s].newest = ts;
		m[s].any = true;
		if (op % 1000 == 0) {
			st_shard_maintain(fx.sh);
			assert_int_equal(st_shard_check(fx.sh), 0);
		}
	}
	for (uint32_t s = 0; s < NS; s++) {
		struct st_points p;
		/* local ids follow creation order; find ours by key */
		uint8_t key[ST_KEY_MAX];
		uint32_t klen = make_key(key, s, "v");
		uint32_t id, n = st_shard_series_count(fx.sh);
		for (id = 0; id < n; id++) {
			uint32_t l;
			const uint8_t *k = st_shard_series_key(fx.sh, id, &l, NULL);
			if (l == klen && memcmp(k, key, l) == 0)
				break;
		}
		assert_true(id < n);
		assert_int_equal(read_all(id, &p), (int)m[s].n);
		for (size_t i = 0; i < m[s].n; i++) {
			assert_int_equal(p.ts[i], m[s].pts[i].ts);
			assert_int_equal((int64_t)p.vals[i], m[s].pts[i].v);
		}
		st_points_release(&p);
		free(m[s].pts);
	}
}

/* ---------------------------------------------------------- concurrency */

enum { CS_SERIES = 64, CS_POINTS = 20000 };

struct race {
	_Atomic int64_t acked[CS_SERIES]; /* points the writer has stored, per series */
	_Atomic bool stop;
	_Atomic uint64_t reads;
	_Atomic int failures;
};

static struct race race;

/* The value of point i of series s: a function both sides know. */
static int64_t race_value(uint32_t s, int64_t i)
{
	return (int64_t)s * 1000003 + i * 7 - (i % 5) * 11;
}

static void *race_writer(void *arg)
{
	(void)arg;
	for (int64_t i = 0; i < CS_POINTS; i++) {
		for (uint32_t s = 0; s < CS_SERIES; s++) {
			enum st_insert_status st = put_i(s, T0 + i * SEC, race_value(s, i));
			if (st != ST_INS_OK)
				atomic_fetch_add(&race.failures, 1);
			/* release: pairs with the reader's acquire; the point is acknowledged */
			atomic_store_explicit(&race.acked[s], i + 1, memory_order_release);
		}
		if (i % 64 == 0)
			st_shard_maintain(fx.sh);
	}
	st_shard_maintain(fx.sh);
	atomic_store(&race.stop, true);
	return NULL;
}

static void *race_reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	int r = st_rcu_reader_register(fx.rcu);
	if (r < 0) {
		atomic_fetch_add(&race.failures, 1);
		return NULL;
	}
	struct st_points p;
	st_points_init(&p);
	while (!atomic_load(&race.stop)) {
		uint32_t s = (uint32_t)rand_r(&seed) % CS_SERIES;
		int64_t acked = atomic_load_explicit(&race.acked[s], memory_order_acquire);
		p.n = 0;
		st_read_begin(fx.rcu, r);
		uint32_t n = st_shard_series_count(fx.sh);
		int got = -1;
		/* series were created in order 0..63 by the writer's first pass */
		if (s < n)
			got = st_shard_read(fx.sh, s, INT64_MIN, INT64_MAX, &p);
		st_read_end(fx.rcu, r);
		if (s >= n)
			continue;
		/* Never fewer than acknowledged before the read; every point right. */
		if (got < acked)
			atomic_fetch_add(&race.failures, 1);
		for (int i = 0; i < got; i++)
			if (p.ts[i] != T0 + i * SEC || (int64_t)p.vals[i] != race_value(s, i)) {
				atomic_fetch_add(&race.failures, 1);
				break;
			}
		atomic_fetch_add(&race.reads, 1);
	}
	st_points_release(&p);
	st_rcu_reader_unregister(fx.rcu, r);
	return NULL;
}

static void race_cfg(struct st_shard_cfg *c)
{
	c->chunk_points = 300; /* many seals, shrinks and grows */
}

static void test_st_shard__writer_races_readers(void **state)
{
	(void)state;
	open_shard(race_cfg);
	memset(&race, 0, sizeof(race));
	pthread_t w, rd[3];
	for (uintptr_t i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&rd[i], NULL, race_reader, (void *)(i + 1)), 0);
	assert_int_equal(pthread_create(&w, NULL, race_writer, NULL), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(rd[i], NULL);
	assert_int_equal(atomic_load(&race.failures), 0);
	assert_true(atomic_load(&race.reads) > 0);
	st_shard_maintain(fx.sh);
	struct st_shard_stats st;
	st_shard_stats_read(fx.sh, &st);
	assert_int_equal(st.retired_pending, 0);
	assert_int_equal(st_shard_check(fx.sh), 0);
	printf("race: %llu reads, %llu chunks sealed, %llu grown\n",
	       (unsigned long long)atomic_load(&race.reads), (unsigned long long)st.chunks_sealed,
	       (unsigned long long)st.chunks_grown);
}

/* Random sorted, unique runs merged against a brute-force model: newer wins ties. */
static void test_st_shard__points_merge_newer_matches_model(void **state)
{
	(void)state;
	uint64_t seed = 12345;
	for (int round = 0; round < 200; round++) {
		struct st_points base, newer;
		st_points_init(&base);
		st_points_init(&newer);
		/* a prefix the merge must leave alone */
		assert_int_equal(st_points_reserve(&base, 1), 0);
		base.ts[0] = -1;
		base.vals[0] = 77;
		base.n = 1;
		int64_t model_val[64];
		int model_src[64]; /* 0: absent, 1: base, 2: newer */
		memset(model_src, 0, sizeof(model_src));
		for (int t = 0; t < 64; t++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			int pick = (int)(seed >> 61) % 4; /* 0 none, 1 base, 2 newer, 3 both */
			if (pick & 1) {
				assert_int_equal(st_points_reserve(&base, 1), 0);
				base.ts[base.n] = t;
				base.vals[base.n++] = (uint64_t)(1000 + t);
				model_val[t] = 1000 + t;
				model_src[t] = 1;
			}
			if (pick & 2) {
				assert_int_equal(st_points_reserve(&newer, 1), 0);
				newer.ts[newer.n] = t;
				newer.vals[newer.n++] = (uint64_t)(2000 + t);
				model_val[t] = 2000 + t;
				model_src[t] = 2;
			}
		}
		assert_int_equal(st_points_merge_newer(&base, 1, &newer), 0);
		size_t k = 1;
		for (int t = 0; t < 64; t++) {
			if (!model_src[t])
				continue;
			assert_true(k < base.n);
			assert_int_equal(base.ts[k], t);
			assert_int_equal(base.vals[k], (uint64_t)model_val[t]);
			k++;
		}
		assert_int_equal(k, base.n);
		assert_int_equal(base.ts[0], -1);
		assert_int_equal(base.vals[0], 77);
		st_points_release(&base);
		st_points_release(&newer);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_st_shard__insert_read_back, teardown),
		cmocka_unit_test_teardown(test_st_shard__seals_by_count_and_span, teardown),
		cmocka_unit_test_teardown(test_st_shard__grows_chunks_with_random_floats, teardown),
		cmocka_unit_test_teardown(test_st_shard__out_of_order_window, teardown),
		cmocka_unit_test_teardown(test_st_shard__duplicates_last_write_wins, teardown),
		cmocka_unit_test_teardown(test_st_shard__type_conflict_rejected, teardown),
		cmocka_unit_test_teardown(test_st_shard__memory_limit_refuses_and_counts, teardown),
		cmocka_unit_test_teardown(test_st_shard__series_limit, teardown),
		cmocka_unit_test_teardown(test_st_shard__random_ops_match_model, teardown),
		cmocka_unit_test_teardown(test_st_shard__writer_races_readers, teardown),
		cmocka_unit_test(test_st_shard__points_merge_newer_matches_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
