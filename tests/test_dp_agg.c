/*
 * test_dp_agg.c - unit tests for dataplane/dp_agg.c, StatsD aggregation
 * (and through it the sketches of dp_sketch.c and the sets of dp_hll.c):
 * the config table and percentile names; per-type semantics (counters with
 * sample rates, gauges with deltas across intervals, timer statistics and
 * percentiles against exact sorted quantiles, sets exact then HyperLogLog,
 * |T points); that two workers' partials merge into exactly what one worker
 * receiving everything gives (digest and points); idle policies and
 * expiry; limits; the flush handoff (late tables, publish_now, and a worker
 * thread adding while the main thread flushes 50 times); and a random
 * reference-model run with the invariant walker.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_config.h"
#include "cm_rand.h"
#include "dp_agg.h"
#include "dp_statsd.h"
#include "st_series.h"

#define T0 (1700000000LL * CM_NS_PER_SEC)
#define IVL 10.0  /* seconds between flushes */
#define IVL_NS (10 * CM_NS_PER_SEC)

/* ------------------------------------------------------------------------ */
/* Rig: n workers, a merger, and the points of the last flush                */
/* ------------------------------------------------------------------------ */

struct pt {
	char key[256];    /* st_key_format: "name,tag=v field" */
	int64_t ts;
	double v;
};

struct pts {
	struct pt *p;
	size_t n, cap;
};

static void on_point(void *ctx, const uint8_t *key, uint32_t keylen, uint64_t hash, int64_t ts,
		     double v)
{
	struct pts *ps = ctx;
	assert_true(hash == st_key_hash(key, keylen));
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->p = realloc(ps->p, ps->cap * sizeof(*ps->p));
		assert_non_null(ps->p);
	}
	struct pt *p = &ps->p[ps->n++];
	assert_true(st_key_format(key, keylen, true, p->key, sizeof(p->key)) > 0);
	p->ts = ts;
	p->v = v;
}

#define WORKERS_MAX 4

struct rig {
	struct dp_agg *a[WORKERS_MAX];
	uint32_t n;
	struct dp_agg_merger *mg;
	struct pts out;
	struct dp_statsd m;
};

static void rig_open(struct rig *r, const struct dp_agg_cfg *cfg, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(dp_agg_create(cfg, -1, &r->a[i]), 0);
	assert_int_equal(dp_agg_merger_create(cfg, r->a, n, &r->mg), 0);
}

static void rig_close(struct rig *r)
{
	dp_agg_merger_destroy(r->mg);
	for (uint32_t i = 0; i < r->n; i++)
		dp_agg_destroy(r->a[i]);
	free(r->out.p);
}

static void decode(struct dp_statsd *m, const char *text)
{
	size_t used;
	enum dp_statsd_status st = dp_statsd_decode(m, text, strlen(text), DP_STATSD_COMPLETE,
						    &used);
	if (st != DP_STATSD_OK)
		fail_msg("'%s' decodes as %s", text, dp_statsd_status_name(st));
}

static enum dp_agg_status add_st(struct rig *r, uint32_t w, const char *text, int64_t now)
{
	decode(&r->m, text);
	return dp_agg_add(r->a[w], &r->m, now);
}

static void add(struct rig *r, uint32_t w, const char *text, int64_t now)
{
	enum dp_agg_status st = add_st(r, w, text, now);
	if (st != DP_AGG_OK)
		fail_msg("'%s': %s", text, dp_agg_status_name(st));
}

/* request, every worker polls, collect, emit at ts into r->out. */
static uint32_t flush(struct rig *r, int64_t ts)
{
	r->out.n = 0;
	dp_agg_merger_request(r->mg);
	for (uint32_t i = 0; i < r->n; i++)
		dp_agg_poll(r->a[i]);
	assert_true(dp_agg_merger_collect(r->mg, 0));
	uint32_t n = dp_agg_merger_emit(r->mg, ts, IVL, on_point, &r->out);
	assert_int_equal(n, r->out.n);
	return n;
}

static const struct pt *find(const struct pts *ps, const char *key)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].key, key) == 0)
			return &ps->p[i];
	return NULL;
}

static double get(const struct rig *r, const char *key)
{
	const struct pt *p = find(&r->out, key);
	if (!p)
		fail_msg("no point '%s'", key);
	return p->v;
}

static double rnd01(uint64_t *s)
{
	return (double)(cm_splitmix64(s) >> 11) * 0x1p-53;
}

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

static void test_dp_agg__cfg_table(void **state)
{
	(void)state;
	const struct cm_cfg_table *tables[] = {&dp_agg_cfg_table};
	struct cm_config *config;
	char err[256] = "";
	assert_int_equal(cm_config_create(tables, 1, &config, err, sizeof(err)), 0);
	struct dp_agg_cfg got, want;
	assert_int_equal(dp_agg_cfg_from(config, &got, err, sizeof(err)), 0);
	dp_agg_cfg_default(&want);
	assert_memory_equal(&got, &want, sizeof(got));
	assert_int_equal(got.flush_interval_ns, 10 * CM_NS_PER_SEC);
	assert_int_equal(got.idle_expire_ns, 300 * CM_NS_PER_SEC);
	assert_int_equal(got.npct, 4);
	assert_string_equal(got.pct_field[3], "p99");

	const char *set[] = {"statsd.percentiles=99.9, 50", "statsd.idle=last",
			     "statsd.flush_interval=1s", "statsd.sketch_accuracy=0.001"};
	assert_int_equal(cm_config_set_batch(config, set, 4, err, sizeof(err)), 0);
	assert_int_equal(dp_agg_cfg_from(config, &got, err, sizeof(err)), 0);
	assert_int_equal(got.npct, 2);
	assert_string_equal(got.pct_field[0], "p50");
	assert_string_equal(got.pct_field[1], "p99_9");
	assert_int_equal(got.idle, DP_AGG_IDLE_LAST);
	assert_int_equal(got.flush_interval_ns, CM_NS_PER_SEC);
	assert_true(got.sketch_accuracy == 0.001);

	const char *bad[] = {"statsd.sketch_accuracy=0.5"};
	assert_int_equal(cm_config_set_batch(config, bad, 1, err, sizeof(err)), 0);
	assert_int_equal(dp_agg_cfg_from(config, &got, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "statsd.sketch_accuracy: 0.5 is outside [0.0001, 0.1]");
	const char *bad2[] = {"statsd.set_exact_max=100000"};
	assert_int_equal(cm_config_set_batch(config, bad2, 1, err, sizeof(err)), -EINVAL);
	cm_config_destroy(config);
}

static void test_dp_agg__percentile_names(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	char err[256];
	dp_agg_cfg_default(&cfg);
	assert_int_equal(dp_agg_cfg_percentiles("99.90,050, 0.5,100,0", &cfg, err, sizeof(err)), 0);
	const char *names[] = {"p0", "p0_5", "p50", "p99_9", "p100"};
	const double vals[] = {0, 0.5, 50, 99.9, 100};
	assert_int_equal(cfg.npct, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(cfg.pct_field[i], names[i]);
		assert_true(cfg.pct[i] == vals[i]);
	}
	assert_int_equal(dp_agg_cfg_percentiles("", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.npct, 0);

	static const struct {
		const char *in, *err;
	} bad[] = {
		{",", "statsd.percentiles: '' is not a number in [0, 100]"},
		{"50,", "statsd.percentiles: empty percentile after ','"},
		{"50,,90", "statsd.percentiles: '' is not a number in [0, 100]"},
		{"abc", "statsd.percentiles: 'abc' is not a number in [0, 100]"},
		{"100.5", "statsd.percentiles: '100.5' is not a number in [0, 100]"},
		{"-1", "statsd.percentiles: '-1' is not a number in [0, 100]"},
		{"1e2", "statsd.percentiles: '1e2' is not a number in [0, 100]"},
		{".5", "statsd.percentiles: '.5' is not a number in [0, 100]"},
		{"5.", "statsd.percentiles: '5.' is not a number in [0, 100]"},
		{"50,50.0", "statsd.percentiles: '50.0' is listed twice"},
		{"50 90", "statsd.percentiles: '50' is not followed by ','"},
		{"99.99999999999999", "statsd.percentiles: '99.99999999999999' is not a number in [0, 100]"},
		{"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "statsd.percentiles: more than 16 percentiles"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(bad); i++) {
		dp_agg_cfg_default(&cfg);
		err[0] = '\0';
		assert_int_equal(dp_agg_cfg_percentiles(bad[i].in, &cfg, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(cfg.npct, 4);  /* unchanged */
	}
}

/* ------------------------------------------------------------------------ */
/* Per-type semantics                                                        */
/* ------------------------------------------------------------------------ */

static void test_dp_agg__counter_sample_rates(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	double want = 0;
	for (int i = 0; i < 10; i++) {
		add(&r, 0, "hits:1|c|@0.1", T0);
		want += 1 * (1.0 / 0.1);
	}
	add(&r, 0, "hits:2:3|c", T0);
	want += 2.0 + 3.0;
	add(&r, 0, "hits:0.5|c|@0.3", T0);
	want += 0.5 * (1.0 / 0.3);
	add(&r, 0, "hits:-4|c", T0);
	want += -4.0;
	/* Tags in any order are one series; another tag set is another. */
	add(&r, 0, "req:1|c|#b:2,a:1,flag", T0);
	add(&r, 0, "req:2|c|#flag,a:1,b:2", T0);
	add(&r, 0, "req:5|c|#a:1", T0);

	assert_int_equal(flush(&r, T0 + IVL_NS), 6);
	assert_true(get(&r, "hits value") == want);
	assert_true(get(&r, "hits rate") == want / IVL);
	assert_true(get(&r, "req,a=1,b=2,flag=true value") == 3);
	assert_true(get(&r, "req,a=1 rate") == 0.5);
	for (size_t i = 0; i < r.out.n; i++)
		assert_int_equal(r.out.p[i].ts, T0 + IVL_NS);

	/* A new interval starts from zero; an idle counter says nothing (skip). */
	add(&r, 0, "hits:7|c", T0 + IVL_NS);
	assert_int_equal(flush(&r, T0 + 2 * IVL_NS), 2);
	assert_true(get(&r, "hits value") == 7);

	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.lines[DP_STATSD_COUNTER], 17);
	assert_int_equal(st.values, 18);
	assert_int_equal(st.publishes, 2);

	/* Totals over workers, and the `sfctl stats` lines. */
	struct dp_agg_stats sum = {0};
	dp_agg_stats_sum(&sum, &st);
	dp_agg_stats_sum(&sum, &st);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	dp_agg_stats_print(&sum, "statsd.agg.", f);
	fclose(f);
	assert_non_null(strstr(text, "statsd.agg.lines.c 34\n"));
	assert_non_null(strstr(text, "statsd.agg.lines.ms 0\n"));
	assert_non_null(strstr(text, "statsd.agg.values 36\n"));
	assert_non_null(strstr(text, "statsd.agg.late_publish 0\n"));
	free(text);
	rig_close(&r);
}

static void test_dp_agg__gauge_deltas_across_intervals(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 2);
	int64_t t = T0;
	add(&r, 0, "g:10|g", t);
	add(&r, 0, "g:+5|g", t);
	add(&r, 0, "g:1:2:+0.5|g|@0.1", t);  /* packed, rate ignored: 2 + 0.5 */
	add(&r, 0, "h:-3|g", t);             /* a first delta starts from 0 */
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 2.5);
	assert_true(get(&r, "h value") == -3);

	add(&r, 0, "g:-3|g", t);  /* carries over */
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == -0.5);
	assert_null(find(&r.out, "h value"));  /* idle: skip */

	add(&r, 0, "g:+1|g", t);
	add(&r, 0, "g:7|g", t);  /* a value forgets the deltas before it */
	add(&r, 0, "g:+2|g", t);
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 9);

	flush(&r, t += IVL_NS);  /* idle */
	add(&r, 0, "h:+1|g", t);
	add(&r, 1, "g:+1|g", t);
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 10);
	assert_true(get(&r, "h value") == -2);

	/*
	 * Across workers: the value set last (by arrival) wins; another
	 * worker's deltas count if its last delta arrived at or after it.
	 */
	add(&r, 1, "g:+100|g", t + 1);  /* before the value: lost */
	add(&r, 0, "g:50|g", t + 2);
	add(&r, 0, "g:+1|g", t + 4);
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 51);
	add(&r, 0, "g:50|g", t + 1);
	add(&r, 1, "g:+5|g", t + 3);  /* after the value: counts */
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 55);
	add(&r, 1, "g:20|g", t + 1);
	add(&r, 0, "g:30|g", t + 2);
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 30);
	add(&r, 0, "g:20|g", t + 2);  /* whichever worker merges first */
	add(&r, 1, "g:30|g", t + 1);
	flush(&r, t += IVL_NS);
	assert_true(get(&r, "g value") == 20);
	rig_close(&r);
}

/* Exact sorted quantile: the value of rank floor(q * (n - 1)). */
static double exact_quantile(const double *sorted, size_t n, double q)
{
	return sorted[(size_t)floor(q * (double)(n - 1))];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Send vals to one series of each dist type; check stats and percentiles. */
static void check_dist(const double *vals, size_t n, const char *pcts)
{
	struct dp_agg_cfg cfg;
	struct rig r;
	char err[128], line[128], key[64];
	dp_agg_cfg_default(&cfg);
	assert_int_equal(dp_agg_cfg_percentiles(pcts, &cfg, err, sizeof(err)), 0);
	rig_open(&r, &cfg, 1);
	static const char *const types[] = {"ms", "h", "d"};
	double sum = 0, *sorted = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		sum += vals[i];
		sorted[i] = vals[i];
		for (int t = 0; t < 3; t++) {
			snprintf(line, sizeof(line), "lat.%s:%.17g|%s", types[t], vals[i], types[t]);
			add(&r, 0, line, T0);
		}
	}
	assert_int_equal(dp_agg_check(r.a[0]), 0);
	qsort(sorted, n, sizeof(double), cmp_double);
	flush(&r, T0 + IVL_NS);
	assert_int_equal(r.out.n, 3 * (5 + cfg.npct));
	for (int t = 0; t < 3; t++) {
#define FIELD(f) (snprintf(key, sizeof(key), "lat.%s %s", types[t], f), get(&r, key))
		assert_true(FIELD("count") == (double)n);
		assert_true(FIELD("sum") == sum);
		assert_true(FIELD("min") == sorted[0]);
		assert_true(FIELD("max") == sorted[n - 1]);
		assert_true(FIELD("mean") == sum / (double)n);
		for (uint32_t k = 0; k < cfg.npct; k++) {
			double want = exact_quantile(sorted, n, cfg.pct[k] / 100.0);
			double got = FIELD(cfg.pct_field[k]);
			if (fabs(got - want) > cfg.sketch_accuracy * fabs(want) * (1 + 1e-9))
				fail_msg("%s %s: got %.17g want %.17g", types[t], cfg.pct_field[k],
					 got, want);
		}
#undef FIELD
	}
	free(sorted);
	rig_close(&r);
}

static void test_dp_agg__timer_stats_and_percentiles(void **state)
{
	(void)state;
	enum { N = 10000 };
	static double vals[N];
	uint64_t seed = 42;
	for (size_t i = 0; i < N; i++)  /* log-uniform over 0.1 .. 10^4 */
		vals[i] = exp(log(0.1) + rnd01(&seed) * log(1e5));
	check_dist(vals, N, "50,90,95,99");
	check_dist(vals, N, "0,1,10,25,33.3,50,66.6,75,90,95,99,99.9,99.99,100");
}

static void test_dp_agg__percentiles_mixed_signs(void **state)
{
	(void)state;
	enum { N = 10000 };
	static double vals[N];
	uint64_t seed = 7;
	for (size_t i = 0; i < N; i++) {
		double u = rnd01(&seed);
		vals[i] = u < 0.1 ? 0 : (rnd01(&seed) - 0.5) * 2000;  /* 10% zeros */
	}
	check_dist(vals, N, "0,1,5,10,25,40,50,60,75,90,95,99,100");
}

static void test_dp_agg__timer_sample_rate(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	add(&r, 0, "t:10|ms|@0.5", T0);    /* weight 2 */
	add(&r, 0, "t:20:30|ms|@0.25", T0); /* weight 4 each */
	flush(&r, T0 + IVL_NS);
	assert_true(get(&r, "t count") == 10);
	assert_true(get(&r, "t sum") == 10 * 2 + 20 * 4 + 30 * 4);
	assert_true(get(&r, "t min") == 10);
	assert_true(get(&r, "t max") == 30);
	assert_true(get(&r, "t mean") == 220.0 / 10);
	/* ranks 0..9: 10 10 20 20 20 20 30 30 30 30 -> p50 = rank 4.5 -> 20 */
	assert_true(fabs(get(&r, "t p50") - 20) <= 0.01 * 20);
	assert_true(fabs(get(&r, "t p90") - 30) <= 0.01 * 30);
	rig_close(&r);
}

static void test_dp_agg__set_exact_then_hll(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	char line[128];
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	/* Up to set_exact_max members: exact, duplicates and packing included. */
	for (int i = 0; i < 1000; i += 2) {
		snprintf(line, sizeof(line), "u:m%d:m%d:m%d|s", i, i + 1, i);
		add(&r, 0, line, T0);
	}
	add(&r, 0, "u:m7|s|@0.5", T0);  /* the rate does not matter to a set */
	add(&r, 0, "v:a b@#|s", T0);
	flush(&r, T0 + IVL_NS);
	assert_true(get(&r, "u value") == 1000);
	assert_true(get(&r, "v value") == 1);

	/* One more member: HyperLogLog, still close. */
	for (int i = 0; i <= 1000; i++) {
		snprintf(line, sizeof(line), "u:m%d|s", i);
		add(&r, 0, line, T0);
	}
	assert_int_equal(dp_agg_check(r.a[0]), 0);
	flush(&r, T0 + 2 * IVL_NS);
	double got = get(&r, "u value");
	assert_true(fabs(got - 1001) <= 0.02 * 1001);

	static const int sizes[] = {2000, 10000, 100000};
	for (size_t k = 0; k < CM_ARRAY_SIZE(sizes); k++) {
		for (int i = 0; i < sizes[k]; i++) {
			snprintf(line, sizeof(line), "w:user-%d-%zu|s", i, k);
			add(&r, 0, line, T0);
		}
		flush(&r, T0 + (int64_t)(3 + k) * IVL_NS);
		got = get(&r, "w value");
		if (fabs(got - sizes[k]) > 0.02 * sizes[k])
			fail_msg("%d members: estimate %.0f", sizes[k], got);
	}
	rig_close(&r);
}

static void test_dp_agg__timestamped_points(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	const int64_t ts1 = 1656581400LL * CM_NS_PER_SEC, ts2 = ts1 + CM_NS_PER_SEC;
	add(&r, 0, "c:5|c|T1656581400", T0);
	add(&r, 0, "c:1:2|c|@0.5|T1656581401", T0);  /* (1 + 2) * 2 */
	add(&r, 0, "c:4|c", T0);                     /* aggregated, flush time */
	add(&r, 0, "g:5:+3|g|T1656581400", T0);      /* 8 */
	add(&r, 0, "g:-2|g|T1656581401", T0);        /* a delta from 0 */
	add(&r, 0, "t:5|ms|T1656581400", T0);        /* timestamp ignored */
	add(&r, 0, "s:x|s|T1656581400", T0);
	flush(&r, T0 + IVL_NS);
	/* c value, c rate, t (5 + 4 percentiles), s value, 4 |T points */
	assert_int_equal(r.out.n, 2 + 9 + 1 + 4);
	int seen = 0;
	for (size_t i = 0; i < r.out.n; i++) {
		const struct pt *p = &r.out.p[i];
		if (p->ts == T0 + IVL_NS)
			continue;
		seen++;
		if (strcmp(p->key, "c value") == 0)
			assert_true(p->ts == ts1 ? p->v == 5 : p->ts == ts2 && p->v == 6);
		else if (strcmp(p->key, "g value") == 0)
			assert_true(p->ts == ts1 ? p->v == 8 : p->ts == ts2 && p->v == -2);
		else
			fail_msg("unexpected |T point %s", p->key);
	}
	assert_int_equal(seen, 4);
	assert_true(get(&r, "c value") == 4);
	assert_true(get(&r, "t count") == 1);
	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.timestamped, 4);
	assert_int_equal(st.ts_ignored, 2);
	/* The gauge |T points leave no gauge state behind. */
	flush(&r, T0 + 2 * IVL_NS);
	assert_int_equal(r.out.n, 0);

	/* The per-interval list is bounded. */
	rig_close(&r);
	cfg.max_timestamped = 3;
	rig_open(&r, &cfg, 1);
	for (int i = 0; i < 3; i++)
		add(&r, 0, "c:1|c|T1656581400", T0);
	assert_int_equal(add_st(&r, 0, "c:1|c|T1656581400", T0), DP_AGG_TS_FULL);
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.ts_full, 1);
	assert_int_equal(flush(&r, T0), 3);
	add(&r, 0, "c:1|c|T1656581400", T0);  /* a new interval has room again */
	rig_close(&r);
}

static void test_dp_agg__type_is_part_of_identity(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	add(&r, 0, "x:1|c", T0);
	add(&r, 0, "x:2|g", T0);
	flush(&r, T0 + IVL_NS);
	assert_int_equal(r.out.n, 3);  /* x value (counter), x rate, x value (gauge) */
	int values = 0;
	for (size_t i = 0; i < r.out.n; i++)
		values += strcmp(r.out.p[i].key, "x value") == 0;
	assert_int_equal(values, 2);
	rig_close(&r);
}

/* ------------------------------------------------------------------------ */
/* Merging partials                                                          */
/* ------------------------------------------------------------------------ */

static int cmp_pt(const void *a, const void *b)
{
	const struct pt *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->v < y->v ? -1 : x->v > y->v;
}

/* One line of the merge workload; values are integers so sums are exact. */
static void merge_line(uint64_t *s, char *line, size_t cap)
{
	uint64_t r = cm_splitmix64(s);
	unsigned k = (unsigned)(r % 100), v = (unsigned)((r >> 8) % 100000) + 1;
	if (k < 20)
		snprintf(line, cap, "m.c%u:%u|c%s", k % 4, v % 100, k & 1 ? "|@0.5" : "|@0.25");
	else if (k < 50)
		snprintf(line, cap, "m.t%u:%s%u|%s", k % 3, k % 7 == 0 ? "-" : "",
			 k % 11 == 0 ? 0 : v, k % 3 == 0 ? "ms" : k % 3 == 1 ? "h" : "d");
	else if (k < 60)
		snprintf(line, cap, "m.g:+%u|g", v % 10);
	else if (k < 75)  /* 600 members: exact everywhere */
		snprintf(line, cap, "m.s1:%u|s", v % 600);
	else if (k < 90)  /* 1500: each worker exact, the union HLL */
		snprintf(line, cap, "m.s2:%u|s", v % 1500);
	else              /* HLL everywhere */
		snprintf(line, cap, "m.s3:%u:%u|s", v, v / 3);
}

static void merge_equals_single(double accuracy)
{
	enum { LINES = 40000 };
	struct dp_agg_cfg cfg;
	struct rig one, two;
	char line[128];
	dp_agg_cfg_default(&cfg);
	cfg.sketch_accuracy = accuracy;
	rig_open(&one, &cfg, 1);
	rig_open(&two, &cfg, 2);
	for (int interval = 0; interval < 2; interval++) {
		uint64_t s = 1234 + (uint64_t)interval, pick = 99;
		for (int i = 0; i < LINES; i++) {
			merge_line(&s, line, sizeof(line));
			add(&one, 0, line, T0);
			add(&two, (uint32_t)(cm_splitmix64(&pick) & 1), line, T0);
		}
		for (uint32_t w = 0; w < 2; w++)
			assert_int_equal(dp_agg_check(two.a[w]), 0);
		assert_int_equal(dp_agg_check(one.a[0]), 0);
		int64_t ts = T0 + (interval + 1) * IVL_NS;
		flush(&one, ts);
		flush(&two, ts);
		assert_true(dp_agg_merger_digest(one.mg) != 0);
		assert_true(dp_agg_merger_digest(one.mg) == dp_agg_merger_digest(two.mg));
		assert_int_equal(one.out.n, two.out.n);
		qsort(one.out.p, one.out.n, sizeof(struct pt), cmp_pt);
		qsort(two.out.p, two.out.n, sizeof(struct pt), cmp_pt);
		for (size_t i = 0; i < one.out.n; i++)
			if (cmp_pt(&one.out.p[i], &two.out.p[i]))
				fail_msg("point %zu: %s %.17g vs %s %.17g", i, one.out.p[i].key,
					 one.out.p[i].v, two.out.p[i].key, two.out.p[i].v);
	}
	/* The workload did what it says: s1 exact, s2 and s3 estimated. */
	assert_true(get(&one, "m.s1 value") == 600);
	assert_true(fabs(get(&one, "m.s2 value") - 1500) <= 0.05 * 1500);
	rig_close(&one);
	rig_close(&two);
}

static void test_dp_agg__merge_equals_single_worker(void **state)
{
	(void)state;
	merge_equals_single(0.01);
	/* 0.0001: 2048 bins cover values within a factor 1.5, so 1..10^5 collapses */
	merge_equals_single(0.0001);
}

static void test_dp_agg__digest_sees_differences(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig a, b;
	dp_agg_cfg_default(&cfg);
	rig_open(&a, &cfg, 1);
	rig_open(&b, &cfg, 1);
	add(&a, 0, "t:100|ms", T0);
	add(&b, 0, "t:101|ms", T0);  /* same count and percentiles' bin, not the same sum */
	flush(&a, T0);
	flush(&b, T0);
	assert_true(dp_agg_merger_digest(a.mg) != dp_agg_merger_digest(b.mg));
	add(&a, 0, "s:1|s", T0);
	add(&b, 0, "s:2|s", T0);
	flush(&a, T0);
	flush(&b, T0);
	assert_true(dp_agg_merger_digest(a.mg) != dp_agg_merger_digest(b.mg));
	rig_close(&a);
	rig_close(&b);
}

/* ------------------------------------------------------------------------ */
/* Idle series, expiry, limits                                               */
/* ------------------------------------------------------------------------ */

static void test_dp_agg__idle_policies(void **state)
{
	(void)state;
	static const struct {
		uint8_t idle;
		uint32_t points;
	} cases[] = {
		{DP_AGG_IDLE_SKIP, 0},
		{DP_AGG_IDLE_ZERO, 3},  /* counter value and rate 0, gauge 7 */
		{DP_AGG_IDLE_LAST, 1},  /* gauge 7 */
	};
	for (size_t k = 0; k < CM_ARRAY_SIZE(cases); k++) {
		struct dp_agg_cfg cfg;
		struct rig r;
		dp_agg_cfg_default(&cfg);
		cfg.idle = cases[k].idle;
		rig_open(&r, &cfg, 1);
		add(&r, 0, "i.c:3|c", T0);
		add(&r, 0, "i.g:7|g", T0);
		add(&r, 0, "i.t:5|ms", T0);
		add(&r, 0, "i.s:a|s", T0);
		assert_int_equal(flush(&r, T0 + IVL_NS), 2 + 1 + 9 + 1);
		for (int i = 2; i <= 3; i++) {
			assert_int_equal(flush(&r, T0 + i * IVL_NS), cases[k].points);
			if (cases[k].idle == DP_AGG_IDLE_ZERO) {
				assert_true(get(&r, "i.c value") == 0);
				assert_true(get(&r, "i.c rate") == 0);
			}
			if (cases[k].idle != DP_AGG_IDLE_SKIP)
				assert_true(get(&r, "i.g value") == 7);
		}
		rig_close(&r);
	}
}

static void test_dp_agg__idle_expiry(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	cfg.idle = DP_AGG_IDLE_ZERO;
	cfg.idle_expire_ns = 30 * CM_NS_PER_SEC;
	rig_open(&r, &cfg, 1);
	add(&r, 0, "e.c:1|c", T0);
	add(&r, 0, "e.g:5|g", T0);
	add(&r, 0, "e.k:1|c", T0);
	assert_int_equal(flush(&r, T0), 5);
	for (int i = 1; i <= 4; i++) {  /* idle 10 s .. 40 s: still emitted */
		if (i == 2)
			add(&r, 0, "e.k:1|c", T0 + i * IVL_NS);  /* keeps e.k alive */
		assert_int_equal(flush(&r, T0 + i * IVL_NS), 5);
		assert_true(get(&r, "e.g value") == 5);
	}
	/* After the flush at 40 s (idle 40 s > 30 s), e.c and e.g are gone. */
	assert_int_equal(flush(&r, T0 + 5 * IVL_NS), 2);
	assert_null(find(&r.out, "e.g value"));
	assert_true(get(&r, "e.k value") == 0);
	struct dp_agg_merger_stats ms;
	dp_agg_merger_stats_read(r.mg, &ms);
	assert_int_equal(ms.series, 1);
	assert_int_equal(ms.expired, 2 + 2);  /* merged entries and the worker table's */
	/* A forgotten gauge starts again from 0. */
	add(&r, 0, "e.g:+1|g", T0 + 6 * IVL_NS);
	flush(&r, T0 + 6 * IVL_NS);
	assert_true(get(&r, "e.g value") == 1);
	rig_close(&r);
}

static void test_dp_agg__table_full(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	cfg.max_series = 4;
	rig_open(&r, &cfg, 1);
	add(&r, 0, "f1:1|c", T0);
	add(&r, 0, "f2:1|c", T0);
	add(&r, 0, "f3:1|g", T0);
	add(&r, 0, "f3:1|c", T0);  /* another type: another entry */
	assert_int_equal(add_st(&r, 0, "f5:1|c", T0), DP_AGG_TABLE_FULL);
	assert_int_equal(add_st(&r, 0, "f1:1|g", T0), DP_AGG_TABLE_FULL);
	add(&r, 0, "f1:2|c", T0);  /* existing entries still take lines */
	add(&r, 0, "f5:1|c|T1656581400", T0);  /* |T points are not entries */
	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.table_full, 2);
	assert_int_equal(st.series, 4);
	assert_int_equal(st.lines[DP_STATSD_COUNTER], 5);
	assert_int_equal(dp_agg_check(r.a[0]), 0);
	flush(&r, T0);
	assert_true(get(&r, "f1 value") == 3);
	rig_close(&r);
}

static void test_dp_agg__rejects(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	/*
	 * The template is 2 + name + 2 + 2 bytes: a 4088-byte name fits a key
	 * (the decoder takes it) but not with "value"; 4085 bytes do.
	 */
	static char line[ST_KEY_MAX + 16];
	memset(line, 'a', ST_KEY_MAX - 8);
	strcpy(line + ST_KEY_MAX - 8, ":1|c");
	assert_int_equal(add_st(&r, 0, line, T0), DP_AGG_KEY_TOO_LONG);
	strcpy(line + ST_KEY_MAX - 11, ":1|c");
	add(&r, 0, line, T0);
	/* A rate whose inverse overflows (the decoder takes a subnormal rate). */
	assert_int_equal(add_st(&r, 0, "b:1|c|@1e-320", T0), DP_AGG_BAD_RATE);
	/* Sums that overflow are not emitted. */
	add(&r, 0, "n:1e308|c", T0);
	add(&r, 0, "n:1e308|c", T0);
	flush(&r, T0);
	assert_null(find(&r.out, "n value"));
	struct dp_agg_merger_stats ms;
	dp_agg_merger_stats_read(r.mg, &ms);
	assert_int_equal(ms.nonfinite, 2);
	assert_int_equal(r.out.n, 2);  /* the long counter's value and rate */
	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.key_too_long, 1);
	assert_int_equal(st.bad_rate, 1);
	assert_string_equal(dp_agg_status_name(DP_AGG_TABLE_FULL), "table_full");
	assert_string_equal(dp_agg_status_name(DP_AGG__COUNT), "unknown");
	rig_close(&r);
}

/* ------------------------------------------------------------------------ */
/* Handoff                                                                   */
/* ------------------------------------------------------------------------ */

static void test_dp_agg__late_publish(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 2);
	add(&r, 0, "l:5|c", T0);
	add(&r, 1, "l:1|c", T0);
	dp_agg_merger_request(r.mg);
	dp_agg_poll(r.a[1]);  /* worker 0 does not answer in time */
	assert_false(dp_agg_merger_collect(r.mg, CM_NS_PER_MS));
	r.out.n = 0;
	dp_agg_merger_emit(r.mg, T0, IVL, on_point, &r.out);
	assert_true(get(&r, "l value") == 1);

	dp_agg_poll(r.a[0]);  /* late: its table waits in the outbox */
	add(&r, 0, "l:2|c", T0);
	dp_agg_merger_request(r.mg);
	dp_agg_poll(r.a[0]);  /* busy: the merger has not taken the late table */
	dp_agg_poll(r.a[1]);
	assert_false(dp_agg_merger_collect(r.mg, 0));  /* takes the late table */
	dp_agg_poll(r.a[0]);
	assert_true(dp_agg_merger_collect(r.mg, 0));
	r.out.n = 0;
	assert_int_equal(dp_agg_merger_emit(r.mg, T0 + IVL_NS, IVL, on_point, &r.out), 2);
	assert_true(get(&r, "l value") == 7);  /* both of worker 0's tables */

	struct dp_agg_merger_stats ms;
	dp_agg_merger_stats_read(r.mg, &ms);
	assert_int_equal(ms.collect_timeouts, 2);
	assert_int_equal(ms.workers_missed, 2);
	assert_int_equal(ms.late_tables, 1);
	assert_int_equal(ms.flushes, 2);
	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.late_publish, 1);
	assert_int_equal(st.publishes, 2);
	assert_int_equal(st.publish_busy, 1);
	rig_close(&r);
}

static void test_dp_agg__publish_now(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	dp_agg_cfg_default(&cfg);
	rig_open(&r, &cfg, 1);
	add(&r, 0, "p:1|c", T0);
	assert_int_equal(dp_agg_publish_now(r.a[0]), 0);
	add(&r, 0, "p:2|c", T0);
	assert_int_equal(dp_agg_publish_now(r.a[0]), -EBUSY);  /* not taken yet */
	r.out.n = 0;
	assert_true(dp_agg_merger_collect(r.mg, 0));
	dp_agg_merger_emit(r.mg, T0, IVL, on_point, &r.out);
	assert_true(get(&r, "p value") == 1);
	/* Shutdown: request, then the stopped worker's table is pushed out. */
	dp_agg_merger_request(r.mg);
	assert_int_equal(dp_agg_publish_now(r.a[0]), 0);
	r.out.n = 0;
	assert_true(dp_agg_merger_collect(r.mg, 0));
	dp_agg_merger_emit(r.mg, T0, IVL, on_point, &r.out);
	assert_true(get(&r, "p value") == 2);
	struct dp_agg_stats st;
	dp_agg_stats_read(r.a[0], &st);
	assert_int_equal(st.publish_busy, 1);
	assert_true(st.tables_created <= 3);
	rig_close(&r);
}

struct thr {
	struct dp_agg *a;
	uint32_t lines;
	double sent;            /* read by main after done (acquire) */
	_Atomic int done;
	_Atomic int stop;
};

static void *worker_main(void *arg)
{
	struct thr *t = arg;
	struct dp_statsd m;
	char line[64];
	uint64_t s = 2024;
	for (uint32_t i = 0; i < t->lines; i++) {
		uint64_t r = cm_splitmix64(&s);
		unsigned v = (unsigned)(r % 100) + 1;
		bool half = (r >> 32) & 1;
		snprintf(line, sizeof(line), "tt.c%u:%u|c%s", (unsigned)(r >> 40) % 8, v,
			 half ? "|@0.5" : "");
		decode(&m, line);
		if (dp_agg_add(t->a, &m, cm_now_ns()) != DP_AGG_OK)
			fail_msg("add failed");
		t->sent += half ? 2.0 * v : v;
		if (i % 16 == 0)
			dp_agg_poll(t->a);
	}
	/* Pairs with the acquire load in the main thread: sent is complete. */
	atomic_store_explicit(&t->done, 1, memory_order_release);
	while (!atomic_load_explicit(&t->stop, memory_order_relaxed))
		dp_agg_poll(t->a);
	return NULL;
}

struct sum_ctx {
	double total;
	uint32_t points;
};

static void sum_values(void *ctx, const uint8_t *key, uint32_t keylen, uint64_t hash,
		       int64_t ts, double v)
{
	struct sum_ctx *c = ctx;
	struct st_key_view kv;
	(void)hash;
	(void)ts;
	assert_int_equal(st_key_parse(key, keylen, &kv), 0);
	if (kv.field.len == 5 && memcmp(kv.field.p, "value", 5) == 0)
		c->total += v;
	c->points++;
}

static void test_dp_agg__two_threads_lose_nothing(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct dp_agg *a;
	struct dp_agg_merger *mg;
	dp_agg_cfg_default(&cfg);
	assert_int_equal(dp_agg_create(&cfg, -1, &a), 0);
	assert_int_equal(dp_agg_merger_create(&cfg, &a, 1, &mg), 0);
	struct thr t = {.a = a, .lines = 200000};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, worker_main, &t), 0);
	struct sum_ctx sc = {0};
	uint32_t answered = 0;
	for (int f = 0; f < 50; f++) {
		dp_agg_merger_request(mg);
		/* Every fifth flush does not wait: the worker's table comes late. */
		answered += dp_agg_merger_collect(mg, f % 5 == 4 ? 0 : 100 * CM_NS_PER_MS);
		dp_agg_merger_emit(mg, cm_now_ns(), 0.001, sum_values, &sc);
		cm_sleep_ns(CM_NS_PER_MS);
	}
	while (!atomic_load_explicit(&t.done, memory_order_acquire))
		cm_sleep_ns(CM_NS_PER_MS);
	dp_agg_merger_request(mg);
	assert_true(dp_agg_merger_collect(mg, 10 * CM_NS_PER_SEC));
	dp_agg_merger_emit(mg, cm_now_ns(), 0.001, sum_values, &sc);
	atomic_store_explicit(&t.stop, 1, memory_order_relaxed);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(sc.total == t.sent);
	assert_true(answered >= 30);

	struct dp_agg_stats st;
	struct dp_agg_merger_stats ms;
	dp_agg_stats_read(a, &st);
	dp_agg_merger_stats_read(mg, &ms);
	assert_int_equal(st.lines[DP_STATSD_COUNTER], t.lines);
	assert_int_equal(ms.flushes, 51);
	assert_int_equal(ms.points, sc.points);
	assert_true(st.publishes >= 1 && st.publishes <= 51);
	print_message("two threads: %u lines, %llu publishes, %llu late, %llu tables\n", t.lines,
		      (unsigned long long)st.publishes, (unsigned long long)st.late_publish,
		      (unsigned long long)st.tables_created);
	dp_agg_merger_destroy(mg);
	dp_agg_destroy(a);
}

/* ------------------------------------------------------------------------ */
/* Random operations against a naive model                                   */
/* ------------------------------------------------------------------------ */

enum { MODEL_C = 40, MODEL_G = 12, MODEL_T = 10 };

struct model {
	double c[MODEL_C];
	bool c_seen[MODEL_C];
	double g[MODEL_G];
	int64_t g_last[MODEL_G];  /* the last flush with a line */
	bool g_seen[MODEL_G];
	double t_count[MODEL_T], t_sum[MODEL_T], t_min[MODEL_T], t_max[MODEL_T];
};

static void test_dp_agg__random_vs_model(void **state)
{
	(void)state;
	struct dp_agg_cfg cfg;
	struct rig r;
	struct model md;
	char line[160], key[96];
	uint64_t s = 77;
	dp_agg_cfg_default(&cfg);
	cfg.idle_expire_ns = 25 * CM_NS_PER_SEC;  /* entries come and go */
	rig_open(&r, &cfg, 3);
	memset(&md, 0, sizeof(md));
	for (int iv = 1; iv <= 20; iv++) {
		int64_t now = T0 + (iv - 1) * IVL_NS;
		memset(md.c_seen, 0, sizeof(md.c_seen));
		memset(md.g_seen, 0, sizeof(md.g_seen));
		for (int k = 0; k < MODEL_T; k++) {
			md.t_count[k] = md.t_sum[k] = 0;
			md.t_min[k] = INFINITY;
			md.t_max[k] = -INFINITY;
		}
		uint32_t nlines = (uint32_t)(cm_splitmix64(&s) % 3000);
		for (uint32_t i = 0; i < nlines; i++) {
			uint64_t x = cm_splitmix64(&s);
			unsigned v = (unsigned)(x >> 20) % 1000;
			uint32_t w = (uint32_t)(x >> 50) % 3;
			switch (x % 3) {
			case 0: {  /* counter, tags in either order, rate 1, 1/2 or 1/4 */
				unsigned k = (unsigned)(x >> 8) % MODEL_C;
				static const char *const rates[] = {"", "|@0.5", "|@0.25"};
				unsigned ri = (unsigned)(x >> 12) % 3;
				snprintf(line, sizeof(line), (x >> 16) & 1 ? "r.c%u:%u|c%s|#k:%u,z:1"
									 : "r.c%u:%u|c%s|#z:1,k:%u",
					 k / 4, v, rates[ri], k % 4);
				md.c[k] = (md.c_seen[k] ? md.c[k] : 0) + (double)v * (double)(1u << ri);
				md.c_seen[k] = true;
				break;
			}
			case 1: {  /* gauge: each name on one worker, so the order is exact */
				unsigned k = (unsigned)(x >> 8) % MODEL_G;
				bool delta = (x >> 16) & 1;
				w = k % 3;
				snprintf(line, sizeof(line), "r.g%u:%s%u|g", k, delta ? "+" : "", v);
				md.g[k] = (delta ? md.g[k] : 0) + v;
				md.g_seen[k] = true;
				break;
			}
			default: {
				unsigned k = (unsigned)(x >> 8) % MODEL_T;
				snprintf(line, sizeof(line), "r.t%u:%u|ms", k, v);
				md.t_count[k] += 1;
				md.t_sum[k] += v;
				md.t_min[k] = CM_MIN(md.t_min[k], (double)v);
				md.t_max[k] = CM_MAX(md.t_max[k], (double)v);
				break;
			}
			}
			add(&r, w, line, now);
			if (i % 500 == 0)
				assert_int_equal(dp_agg_check(r.a[w]), 0);
		}
		int64_t fts = now + IVL_NS;
		flush(&r, fts);
		size_t want = 0;
		for (unsigned k = 0; k < MODEL_C; k++) {
			if (!md.c_seen[k])
				continue;
			want += 2;
			snprintf(key, sizeof(key), "r.c%u,k=%u,z=1 value", k / 4, k % 4);
			assert_true(get(&r, key) == md.c[k]);
		}
		for (unsigned k = 0; k < MODEL_G; k++) {
			if (!md.g_seen[k])
				continue;
			want++;
			snprintf(key, sizeof(key), "r.g%u value", k);
			assert_true(get(&r, key) == md.g[k]);
		}
		for (unsigned k = 0; k < MODEL_T; k++) {
			if (md.t_count[k] == 0)
				continue;
			want += 9;
			snprintf(key, sizeof(key), "r.t%u count", k);
			assert_true(get(&r, key) == md.t_count[k]);
			snprintf(key, sizeof(key), "r.t%u sum", k);
			assert_true(get(&r, key) == md.t_sum[k]);
			snprintf(key, sizeof(key), "r.t%u min", k);
			assert_true(get(&r, key) == md.t_min[k]);
			snprintf(key, sizeof(key), "r.t%u max", k);
			assert_true(get(&r, key) == md.t_max[k]);
		}
		assert_int_equal(r.out.n, want);
		for (uint32_t w = 0; w < r.n; w++)
			assert_int_equal(dp_agg_check(r.a[w]), 0);
		/* Expiry forgets a gauge idle for more than 25 s: so does the model. */
		for (unsigned k = 0; k < MODEL_G; k++) {
			if (md.g_seen[k])
				md.g_last[k] = fts;
			else if (fts - md.g_last[k] > cfg.idle_expire_ns)
				md.g[k] = 0;
		}
	}
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_agg__cfg_table),
		cmocka_unit_test(test_dp_agg__percentile_names),
		cmocka_unit_test(test_dp_agg__counter_sample_rates),
		cmocka_unit_test(test_dp_agg__gauge_deltas_across_intervals),
		cmocka_unit_test(test_dp_agg__timer_stats_and_percentiles),
		cmocka_unit_test(test_dp_agg__percentiles_mixed_signs),
		cmocka_unit_test(test_dp_agg__timer_sample_rate),
		cmocka_unit_test(test_dp_agg__set_exact_then_hll),
		cmocka_unit_test(test_dp_agg__timestamped_points),
		cmocka_unit_test(test_dp_agg__type_is_part_of_identity),
		cmocka_unit_test(test_dp_agg__merge_equals_single_worker),
		cmocka_unit_test(test_dp_agg__digest_sees_differences),
		cmocka_unit_test(test_dp_agg__idle_policies),
		cmocka_unit_test(test_dp_agg__idle_expiry),
		cmocka_unit_test(test_dp_agg__table_full),
		cmocka_unit_test(test_dp_agg__rejects),
		cmocka_unit_test(test_dp_agg__late_publish),
		cmocka_unit_test(test_dp_agg__publish_now),
		cmocka_unit_test(test_dp_agg__two_threads_lose_nothing),
		cmocka_unit_test(test_dp_agg__random_vs_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
