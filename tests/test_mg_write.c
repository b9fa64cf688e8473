/*
 * test_mg_write.c - unit tests for mgmt/mg_write.c, line-protocol bodies
 * written through the management plane: real stores (NSHARDS of them, in a
 * fresh directory under $TMPDIR or /tmp), real injection rings, and an
 * owner thread that stands in for the dataplane cores (dp_inject_drain +
 * st_store_poll of every shard, in a loop).
 *
 * Cases: a round trip of every numeric type read back with st_store_read;
 * the database prefix in stored keys and the default database without one
 * (the key the dataplane's dp_line_key gives), a measurement holding the
 * separator refused (it would forge another database's series); a
 * database's keys with names unescaped and tags sorted, and the prefix
 * counted against ST_KEY_MAX (a line refused whole); precision
 * s/ms/u/ns/h and a bad one, and a bad database name (nothing stored); lines without a
 * timestamp; a partial write (bad lines counted and reported in InfluxDB's
 * wording, cut to 100 bytes, at most MG_WRITE_ERRORS_MAX, the good lines
 * stored); a type conflict refused and reported; string fields skipped and
 * counted; a body of many batches (small batch_points: pipelining) checked
 * point by point, every series in shard st_key_hash % NSHARDS and nowhere
 * else; durable writes under wal.durability = sync; more writers than ring
 * slots; and nobody draining: -ETIMEDOUT, then the batches left in flight
 * finish once an owner runs, a later write does not count them as its own,
 * and destroy waits for them.
 *
 * Exits 77 (skip) when the kernel refuses io_uring (the WAL needs it).
 */
#include <errno.h>
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

#include <cmocka.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "dp_inject.h"
#include "dp_line.h"
#include "mg_db.h"
#include "mg_write.h"
#include "st_series.h"
#include "st_store.h"
#include "tst_util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define lsan_disable() __lsan_disable()
#define lsan_enable() __lsan_enable()
#else
#define lsan_disable() ((void)0)
#define lsan_enable() ((void)0)
#endif

#define NSHARDS 3
#define NSLOTS 2
#define DEF "streamflow"
#define T0 (1451606400LL * CM_NS_PER_SEC) /* 2016-01-01 */
#define WAIT_NS (20 * CM_NS_PER_SEC)

/* ============================================================== fixture */

struct fx {
	char dir[256];
	char sdir[NSHARDS][300];
	struct st_rcu *rcu;
	int reader;
	struct st_store *st[NSHARDS];
	struct dp_inject *inj[NSHARDS];
	pthread_t owner;
	bool owner_running;
	_Atomic bool stop;
	struct mg_writer_cfg wcfg;
	struct mg_writer *w;
};

static void *owner_main(void *arg)
{
	struct fx *f = arg;
	while (!atomic_load_explicit(&f->stop, memory_order_acquire)) {
		uint32_t k = 0;
		for (int i = 0; i < NSHARDS; i++) {
			k += dp_inject_drain(f->inj[i], f->st[i], 4096);
			st_store_poll(f->st[i]);
		}
		if (!k)
			cm_sleep_ns(20 * CM_NS_PER_US);
	}
	return NULL;
}

/* Run fn(arg) as the owner thread (owner_main(f), or one that calls it later). */
static void owner_start_fn(struct fx *f, void *(*fn)(void *), void *arg)
{
	atomic_store(&f->stop, false);
	assert_int_equal(pthread_create(&f->owner, NULL, fn, arg), 0);
	f->owner_running = true;
}

static void owner_start(struct fx *f)
{
	owner_start_fn(f, owner_main, f);
}

static void owner_stop(struct fx *f)
{
	if (!f->owner_running)
		return;
	atomic_store_explicit(&f->stop, true, memory_order_release);
	pthread_join(f->owner, NULL);
	f->owner_running = false;
}

static void fx_open_stores(struct fx *f, enum st_wal_durability d)
{
	for (int i = 0; i < NSHARDS; i++) {
		struct st_store_cfg cfg;
		tst_store_cfg(&cfg, f->sdir[i], f->rcu);
		cfg.shard_id = (uint32_t)i;
		cfg.shard.memory_limit_bytes = 64u << 20;
		cfg.wal.durability = d;
		cfg.wal.io_thread = false;
		cfg.wal.segment_bytes = 8u << 20;
		struct st_store_recovery rec;
		assert_int_equal(st_store_open(&cfg, &f->st[i], &rec), 0);
	}
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_non_null(tst_tmpdir(f->dir, sizeof(f->dir), "mg_write"));
	assert_int_equal(st_rcu_create(4, &f->rcu), 0);
	f->reader = st_rcu_reader_register(f->rcu);
	assert_true(f->reader >= 0);
	for (int i = 0; i < NSHARDS; i++) {
		char d[sizeof(f->sdir[i])]; /* not straight into f: f->dir is its source */
		snprintf(d, sizeof(d), "%s/shard-%03d", f->dir, i);
		memcpy(f->sdir[i], d, sizeof(d));
		assert_int_equal(dp_inject_create(NSLOTS, 8, &f->inj[i]), 0);
	}
	fx_open_stores(f, ST_WAL_INTERVAL);
	f->wcfg = (struct mg_writer_cfg){
		.injects = f->inj, .stores = f->st, .nshards = NSHARDS, .default_db = DEF,
		.durable = false, .timeout_ns = WAIT_NS, .batch_points = 1000,
	};
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (!f->owner_running && f->w)
		owner_start(f); /* destroy waits for what is in flight */
	mg_writer_destroy(f->w);
	owner_stop(f);
	for (int i = 0; i < NSHARDS; i++) {
		st_store_close(f->st[i]);
		dp_inject_destroy(f->inj[i]);
	}
	st_rcu_reader_unregister(f->rcu, f->reader);
	st_rcu_destroy(f->rcu);
	tst_rm_tree(f->dir);
	free(f);
	return 0;
}

/* The fixture's writer, and an owner draining. */
static struct mg_writer *fx_writer(struct fx *f)
{
	assert_int_equal(mg_writer_create(&f->wcfg, &f->w), 0);
	if (!f->owner_running)
		owner_start(f);
	return f->w;
}

static int write_body(struct fx *f, const char *db, const char *precision, const char *body,
		      struct mg_write_report *rep)
{
	struct mg_write_req req = {
		.db = db, .precision = precision, .body = body, .len = strlen(body),
		.now_ns = T0 + 777,
	};
	return mg_writer_write(f->w, &req, rep);
}

/* ============================================================== lookups */

/* The key of (series name, field, tags "k=v,k=v"), built independently of the writer. */
static int build_key(uint8_t *out, const char *name, size_t namelen, const char *field,
		     const char *tags)
{
	int kl = tst_key_build(out, ST_KEY_MAX, name, namelen, field, tags);
	assert_true(kl > 0);
	return kl;
}

/* The key of measurement meas in database db (NULL: default). */
static int db_key(uint8_t *out, const char *db, const char *meas, const char *field,
		  const char *tags)
{
	char name[256];
	int nl = mg_db_series_name(db, DEF, (struct st_str){meas, (uint32_t)strlen(meas)}, name,
				   sizeof(name));
	assert_true(nl > 0);
	return build_key(out, name, (size_t)nl, field, tags);
}

/*
 * The series with this key: its local id, in shard st_key_hash % NSHARDS
 * (checked: and in no other shard), or -1 if no shard has it.
 */
static int find(struct fx *f, const uint8_t *key, int kl, int *shard)
{
	int want = (int)(st_key_hash(key, (size_t)kl) % NSHARDS), id = -1;
	for (int i = 0; i < NSHARDS; i++) {
		st_read_begin(f->rcu, f->reader);
		int k = tst_store_find_series(f->st[i], key, (uint32_t)kl);
		st_read_end(f->rcu, f->reader);
		if (k >= 0 && i != want)
			fail_msg("series found in shard %d, routed to %d", i, want);
		if (i == want)
			id = k;
	}
	*shard = want;
	return id;
}

/* Read the series of key into p (initialized here); returns its point count or -1 (absent). */
static int read_key(struct fx *f, const uint8_t *key, int kl, struct st_points *p,
		    enum st_value_type *vtype)
{
	int shard;
	st_points_init(p);
	int id = find(f, key, kl, &shard);
	if (id < 0)
		return -1;
	st_read_begin(f->rcu, f->reader);
	int n = st_store_read(f->st[shard], (uint32_t)id, INT64_MIN, INT64_MAX, p);
	if (vtype)
		st_shard_series_key(st_store_shard(f->st[shard]), (uint32_t)id, &(uint32_t){0}, vtype);
	st_read_end(f->rcu, f->reader);
	assert_true(n >= 0);
	return n;
}

/* The series (db, meas, field, tags) holds exactly one point (ts, bits) of type vt. */
static void expect_one(struct fx *f, const char *db, const char *meas, const char *field,
		       const char *tags, int64_t ts, uint64_t bits, enum st_value_type vt)
{
	uint8_t key[ST_KEY_MAX];
	int kl = db_key(key, db, meas, field, tags);
	struct st_points p;
	enum st_value_type got_vt = ST_VT_NONE;
	int n = read_key(f, key, kl, &p, &got_vt);
	if (n != 1)
		fail_msg("%s %s %s %s: %d points", db ? db : "(default)", meas, field, tags, n);
	assert_int_equal(p.ts[0], ts);
	assert_true(p.vals[0] == bits);
	assert_int_equal(got_vt, vt);
	st_points_release(&p);
}

static uint32_t series_total(struct fx *f)
{
	uint32_t n = 0;
	st_read_begin(f->rcu, f->reader);
	for (int i = 0; i < NSHARDS; i++)
		n += st_shard_series_count(st_store_shard(f->st[i]));
	st_read_end(f->rcu, f->reader);
	return n;
}

/* Points the owner took from the rings, all shards; and in how many batches (NULL ok). */
static uint64_t drained_points(struct fx *f, uint64_t *batches)
{
	uint64_t n = 0, b = 0;
	for (int i = 0; i < NSHARDS; i++) {
		struct dp_inject_stats s;
		dp_inject_stats_read(f->inj[i], &s);
		n += s.points;
		b += s.batches;
	}
	if (batches)
		*batches = b;
	return n;
}

static uint64_t f64_bits(double d)
{
	union st_value v = {.f64 = d};
	return v.u64;
}

/* A write report's counts, every one checked (a report never times out here). */
struct want {
	uint64_t lines, lines_bad, points, stored, refused, strings_skipped, nerrors;
};

static void expect_report(const struct mg_write_report *r, struct want w)
{
	assert_int_equal(r->lines, w.lines);
	assert_int_equal(r->lines_bad, w.lines_bad);
	assert_int_equal(r->points, w.points);
	assert_int_equal(r->points_stored, w.stored);
	assert_int_equal(r->points_refused, w.refused);
	assert_int_equal(r->strings_skipped, w.strings_skipped);
	assert_int_equal(r->nerrors, w.nerrors);
	assert_false(r->timed_out);
}

static void expect_clean(const struct mg_write_report *r, uint64_t lines, uint64_t points)
{
	expect_report(r, (struct want){.lines = lines, .points = points, .stored = points});
}

/* ================================================================ cases */

static void test_mg_write__round_trip(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	const char *body = "# a comment\n"
			   "cpu,host=a,region=eu f=1.5,i=-7i,u=9u,b=true " "1451606400000000001\n"
			   "\n"
			   "cpu,region=eu,host=b f=2.5 1451606400000000002\n"
			   "mem,host=a used=42i 1451606400000000003";   /* no final newline */
	assert_int_equal(write_body(f, NULL, NULL, body, &r), 0);
	expect_clean(&r, 3, 6);
	expect_one(f, NULL, "cpu", "f", "host=a,region=eu", T0 + 1, f64_bits(1.5), ST_VT_F64);
	expect_one(f, NULL, "cpu", "i", "host=a,region=eu", T0 + 1, (uint64_t)-7, ST_VT_I64);
	expect_one(f, NULL, "cpu", "u", "host=a,region=eu", T0 + 1, 9, ST_VT_U64);
	expect_one(f, NULL, "cpu", "b", "host=a,region=eu", T0 + 1, 1, ST_VT_BOOL);
	expect_one(f, NULL, "cpu", "f", "host=b,region=eu", T0 + 2, f64_bits(2.5), ST_VT_F64);
	expect_one(f, NULL, "mem", "used", "host=a", T0 + 3, 42, ST_VT_I64);
	assert_int_equal(series_total(f), 6);

	/* a second request on the same writer: a new report, the same batches */
	assert_int_equal(write_body(f, NULL, NULL, "mem,host=a used=43i 1451606400000000004", &r),
			 0);
	expect_clean(&r, 1, 1);
	uint8_t key[ST_KEY_MAX];
	struct st_points p;
	int kl = db_key(key, NULL, "mem", "used", "host=a");
	assert_int_equal(read_key(f, key, kl, &p, NULL), 2);
	assert_int_equal(p.vals[1], 43);
	st_points_release(&p);

	/* an empty body and one with only comments: nothing, and fine */
	assert_int_equal(write_body(f, NULL, NULL, "", &r), 0);
	expect_clean(&r, 0, 0);
	assert_int_equal(write_body(f, NULL, NULL, "# x\n\n   \n", &r), 0);
	expect_clean(&r, 0, 0);
	struct mg_write_req req = {.body = NULL, .len = 0};
	assert_int_equal(mg_writer_write(f->w, &req, &r), 0);
	expect_clean(&r, 0, 0);
}

/* Databases are namespaces: "db<0x1f>measurement"; the default has no prefix. */
static void test_mg_write__database_prefix(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	const char *line = "cpu,host=a v=1i 1451606400000000000";
	assert_int_equal(write_body(f, "db1", NULL, line, &r), 0);
	expect_clean(&r, 1, 1);
	assert_int_equal(write_body(f, "db2", NULL, "cpu,host=a v=2i 1451606400000000000", &r),
			 0);
	assert_int_equal(write_body(f, DEF, NULL, "cpu,host=a v=3i 1451606400000000000", &r), 0);
	assert_int_equal(write_body(f, "", NULL, "cpu,host=a v=4i 1451606400000000001", &r), 0);
	expect_clean(&r, 1, 1);
	assert_int_equal(series_total(f), 3);

	/* db1 and db2: prefixed keys */
	expect_one(f, "db1", "cpu", "v", "host=a", T0, 1, ST_VT_I64);
	expect_one(f, "db2", "cpu", "v", "host=a", T0, 2, ST_VT_I64);
	uint8_t key[ST_KEY_MAX];
	int kl = build_key(key, "db1\x1f" "cpu", 7, "v", "host=a");
	int shard, id = find(f, key, kl, &shard);
	assert_true(id >= 0);
	/* the stored name splits back into its database and measurement */
	st_read_begin(f->rcu, f->reader);
	uint32_t slen;
	const uint8_t *stored = st_shard_series_key(st_store_shard(f->st[shard]), (uint32_t)id,
						    &slen, NULL);
	struct st_key_view v;
	assert_int_equal(st_key_parse(stored, slen, &v), 0);
	struct st_str db, meas;
	mg_db_split(v.name, DEF, &db, &meas);
	assert_true(st_str_eq(db, (struct st_str){"db1", 3}));
	assert_true(st_str_eq(meas, (struct st_str){"cpu", 3}));
	assert_true(mg_db_owns(v.name, "db1", DEF));
	assert_false(mg_db_owns(v.name, NULL, DEF));
	st_read_end(f->rcu, f->reader);

	/* a measurement holding the separator would forge another database's series: refused */
	uint32_t before = series_total(f);
	const char *forged[] = {NULL, "db1"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(write_body(f, forged[i], NULL,
					    "db1\x1f" "cpu,host=a v=9i 1451606400000000005\n"
					    "fine,host=a v=9i 1451606400000000005\n",
					    &r),
				 0);
		assert_int_equal(r.lines, 2);
		assert_int_equal(r.lines_bad, 1);
		assert_int_equal(r.points_stored, 1);
		assert_int_equal(r.nerrors, 1);
		assert_string_equal(r.errors[0], "unable to parse 'db1\x1f" "cpu,host=a v=9i "
						 "1451606400000000005': measurement contains the "
						 "reserved byte 0x1f");
	}
	assert_int_equal(series_total(f), before + 2);  /* fine, in each database */
	expect_one(f, "db1", "cpu", "v", "host=a", T0, 1, ST_VT_I64);

	/* the default (by name or "") has no prefix: the key the dataplane builds */
	struct dp_line dl;
	struct dp_field fields[4];
	dp_line_init(&dl, fields, 4);
	struct dp_line_opts o = {.unit_ns = 1, .flags = DP_LINE_COMPLETE};
	size_t used;
	assert_int_equal(dp_line_decode(&dl, line, strlen(line), &o, &used), DP_LINE_OK);
	kl = dp_line_key(&dl, 0, key, sizeof(key));
	struct st_points p;
	assert_int_equal(read_key(f, key, kl, &p, NULL), 2);
	assert_int_equal(p.vals[0], 3);
	assert_int_equal(p.vals[1], 4);
	st_points_release(&p);
}

/*
 * A database's keys are the dataplane's with the prefix spliced in: names
 * unescaped, tags sorted. The prefix counts against ST_KEY_MAX: a line whose
 * keys fit only without it is refused in another database (key_too_long,
 * nothing of it stored) and stored in the default one.
 */
static void test_mg_write__database_keys(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	assert_int_equal(write_body(f, "db1", NULL,
				    "we\\ ather,z=1,a=2 v=1i,s=\"x\" 1451606400000000000", &r), 0);
	expect_report(&r, (struct want){.lines = 1, .points = 1, .stored = 1, .strings_skipped = 1});
	expect_one(f, "db1", "we ather", "v", "a=2,z=1", T0, 1, ST_VT_I64);

	/* "m,t=<vlen bytes> v=1i": a key of 2+1 + 2+1 + 2 + 4+1+vlen = 13 + vlen bytes */
	const size_t vlen_max = ST_KEY_MAX - 13;
	char *body = malloc(vlen_max + 64);
	assert_non_null(body);
	static const struct {
		const char *db;
		size_t vlen;
		const char *field;
		bool stored;
	} cases[] = {
		{NULL, ST_KEY_MAX - 13, "v=1i", true},    /* exactly ST_KEY_MAX */
		{"d", ST_KEY_MAX - 13, "v=1i", false},    /* 2 bytes over with "d<US>" */
		{"d", ST_KEY_MAX - 15, "v=2i", true},     /* exactly ST_KEY_MAX with it */
		{"d", ST_KEY_MAX - 13, "s=\"x\"", false}, /* no stored field: the template too */
		{NULL, ST_KEY_MAX - 13, "s=\"x\"", true},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		size_t n = (size_t)snprintf(body, 8, "m,t=");
		memset(body + n, 'x', cases[i].vlen);
		snprintf(body + n + cases[i].vlen, 64, " %s 1451606400000000000", cases[i].field);
		uint32_t before = series_total(f);
		assert_int_equal(write_body(f, cases[i].db, NULL, body, &r), 0);
		assert_int_equal(r.lines, 1);
		bool str = cases[i].field[0] == 's';
		if (!cases[i].stored) {
			assert_int_equal(r.lines_bad, 1);
			assert_int_equal(r.points + r.strings_skipped, 0);
			assert_int_equal(r.nerrors, 1);
			char want[160];
			snprintf(want, sizeof(want), "unable to parse '%.100s...': key_too_long", body);
			assert_string_equal(r.errors[0], want);
		} else if (str) {
			expect_report(&r, (struct want){.lines = 1, .strings_skipped = 1});
		} else {
			expect_clean(&r, 1, 1);
		}
		assert_int_equal(series_total(f), before + (cases[i].stored && !str));
	}
	free(body);
}

static void test_mg_write__precision(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	static const struct {
		const char *prec, *ts;
		int64_t want;
	} cases[] = {
		{NULL, "1451606400000000005", T0 + 5},
		{"", "1451606400000000006", T0 + 6},
		{"n", "1451606400000000007", T0 + 7},
		{"ns", "1451606400000000008", T0 + 8},
		{"u", "1451606400000009", T0 + 9000},
		{"us", "1451606400000010", T0 + 10000},
		{"ms", "1451606400011", T0 + 11000000},
		{"s", "1451606412", T0 + 12 * CM_NS_PER_SEC},
		{"m", "24193441", T0 + 60 * CM_NS_PER_SEC},
		{"h", "403225", T0 + 3600 * CM_NS_PER_SEC},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "p%zu v=1i %s", i, cases[i].ts);
		assert_int_equal(write_body(f, NULL, cases[i].prec, body, &r), 0);
		expect_clean(&r, 1, 1);
		char meas[8];
		snprintf(meas, sizeof(meas), "p%zu", i);
		expect_one(f, NULL, meas, "v", "", cases[i].want, 1, ST_VT_I64);
	}
	/* lines without a timestamp get now_ns, whatever the precision */
	assert_int_equal(write_body(f, NULL, "s", "nots v=5i\nnots2,a=b v=6i", &r), 0);
	expect_clean(&r, 2, 2);
	expect_one(f, NULL, "nots", "v", "", T0 + 777, 5, ST_VT_I64);
	expect_one(f, NULL, "nots2", "v", "a=b", T0 + 777, 6, ST_VT_I64);

	/* a bad precision or database name: -EINVAL, nothing stored */
	uint32_t before = series_total(f);
	const char *bad_prec[] = {"x", "sec", "S", "nsx"};
	for (size_t i = 0; i < 4; i++) {
		memset(&r, 0xab, sizeof(r));
		assert_int_equal(write_body(f, NULL, bad_prec[i], "bad v=1i 1", &r), -EINVAL);
		assert_int_equal(r.lines + r.points + r.nerrors, 0);
	}
	assert_int_equal(write_body(f, "a\nb", NULL, "bad v=1i 1", &r), -EINVAL);
	char longdb[MG_DB_NAME_MAX + 2];
	memset(longdb, 'd', sizeof(longdb) - 1);
	longdb[sizeof(longdb) - 1] = '\0';
	assert_int_equal(write_body(f, longdb, NULL, "bad v=1i 1", &r), -EINVAL);
	longdb[MG_DB_NAME_MAX] = '\0';
	assert_int_equal(write_body(f, longdb, NULL, "good v=1i 1", &r), 0);
	expect_clean(&r, 1, 1);
	/* let the owner drain anything stray before counting */
	cm_sleep_ns(20 * CM_NS_PER_MS);
	assert_int_equal(series_total(f), before + 1);
}

/* InfluxDB's partial write: the good lines are stored, the bad ones counted and quoted. */
static void test_mg_write__partial_write(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	char longline[400];
	memset(longline, 'L', sizeof(longline));
	memcpy(longline, "long,t=", 7);
	memcpy(longline + 300, " v=", 3); /* a value of 'L's: bad */
	longline[sizeof(longline) - 1] = '\0';
	char body[2048];
	snprintf(body, sizeof(body),
		 "ok1 v=1i 1451606400000000000\n"
		 "cpu,host=a x= 1451606400000000000\n"      /* bad_value */
		 "cpu,host v=1i\n"                          /* bad_tag */
		 "ok2 v=2i 1451606400000000000\n"
		 "nofields\n"                               /* bad_field */
		 "cpu v=1i 12x\n"                           /* bad_timestamp */
		 "%s\n"
		 "ok3 v=3i,s=\"str\" 1451606400000000000\n",
		 longline);
	assert_int_equal(write_body(f, NULL, NULL, body, &r), 0);
	expect_report(&r, (struct want){.lines = 8, .lines_bad = 5, .points = 3, .stored = 3,
					.strings_skipped = 1, .nerrors = 5});
	assert_string_equal(r.errors[0], "unable to parse 'cpu,host=a x= 1451606400000000000': "
					 "bad_value at char 13");
	assert_string_equal(r.errors[1], "unable to parse 'cpu,host v=1i': bad_tag at char 8");
	assert_string_equal(r.errors[2], "unable to parse 'nofields': bad_field at char 8");
	assert_string_equal(r.errors[3], "unable to parse 'cpu v=1i 12x': bad_timestamp at char 9");
	/* the long line is cut to 100 bytes */
	char want[200];
	snprintf(want, sizeof(want), "unable to parse '%.100s...': bad_value at char 303", longline);
	assert_string_equal(r.errors[4], want);
	expect_one(f, NULL, "ok1", "v", "", T0, 1, ST_VT_I64);
	expect_one(f, NULL, "ok2", "v", "", T0, 2, ST_VT_I64);
	expect_one(f, NULL, "ok3", "v", "", T0, 3, ST_VT_I64);
	assert_int_equal(series_total(f), 3);

	/* many bad lines: all counted, the first MG_WRITE_ERRORS_MAX quoted */
	char many[1024] = "";
	for (int i = 0; i < 20; i++) {
		size_t n = strlen(many);
		snprintf(many + n, sizeof(many) - n, "bad%d v=\nfine%d v=1i 1\n", i, i);
	}
	assert_int_equal(write_body(f, NULL, NULL, many, &r), 0);
	assert_int_equal(r.lines, 40);
	assert_int_equal(r.lines_bad, 20);
	assert_int_equal(r.points_stored, 20);
	assert_int_equal(r.nerrors, MG_WRITE_ERRORS_MAX);
	assert_string_equal(r.errors[0], "unable to parse 'bad0 v=': bad_value at char 7");
	assert_string_equal(r.errors[MG_WRITE_ERRORS_MAX - 1],
			    "unable to parse 'bad7 v=': bad_value at char 7");

	/* a body of bad lines only: 0 (the report says it all), nothing stored */
	uint32_t before = series_total(f);
	assert_int_equal(write_body(f, NULL, NULL, "x\ny\n", &r), 0);
	assert_int_equal(r.lines_bad, 2);
	assert_int_equal(r.points, 0);
	assert_int_equal(series_total(f), before);
}

/* The shard refuses a point of another type than its series': refused, reported. */
static void test_mg_write__type_conflict(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	assert_int_equal(write_body(f, NULL, NULL, "tc,h=a v=1i 1451606400000000000", &r), 0);
	expect_clean(&r, 1, 1);
	assert_int_equal(write_body(f, NULL, NULL,
				    "tc,h=a v=1.5 1451606400000000001\n"
				    "tc,h=a v=2i 1451606400000000002\n"
				    "tc,h=a v=true 1451606400000000003\n"
				    "tc,h=b v=2.5 1451606400000000001\n"
				    "cpu v= 1\n",
				    &r),
			 0);
	expect_report(&r, (struct want){.lines = 5, .lines_bad = 1, .points = 4, .stored = 2,
					.refused = 2, .nerrors = 2});
	assert_string_equal(r.errors[0], "unable to parse 'cpu v= 1': bad_value at char 6");
	assert_string_equal(r.errors[1], "2 points refused: type_conflict");
	uint8_t key[ST_KEY_MAX];
	struct st_points p;
	int kl = db_key(key, NULL, "tc", "v", "h=a");
	assert_int_equal(read_key(f, key, kl, &p, NULL), 2);
	assert_int_equal(p.vals[0], 1);
	assert_int_equal(p.vals[1], 2);
	st_points_release(&p);
	expect_one(f, NULL, "tc", "v", "h=b", T0 + 1, f64_bits(2.5), ST_VT_F64);

	/* with the parse errors filling the list, the refusal takes the last place */
	char body[2048] = "";
	for (int i = 0; i < 12; i++) {
		size_t n = strlen(body);
		snprintf(body + n, sizeof(body) - n, "bad%d v=\n", i);
	}
	strcat(body, "tc,h=a v=9.5 1451606400000000009\n");
	assert_int_equal(write_body(f, NULL, NULL, body, &r), 0);
	assert_int_equal(r.lines_bad, 12);
	assert_int_equal(r.points_refused, 1);
	assert_int_equal(r.nerrors, MG_WRITE_ERRORS_MAX);
	assert_string_equal(r.errors[MG_WRITE_ERRORS_MAX - 2],
			    "unable to parse 'bad6 v=': bad_value at char 7");
	assert_string_equal(r.errors[MG_WRITE_ERRORS_MAX - 1], "1 points refused: type_conflict");
}

static void test_mg_write__string_fields_skipped(void **state)
{
	struct fx *f = *state;
	fx_writer(f);
	struct mg_write_report r;
	assert_int_equal(write_body(f, NULL, NULL,
				    "sf,h=a msg=\"hello, world\",v=3i,note=\"x \\\" y\" "
				    "1451606400000000000\n"
				    "sf,h=b msg=\"only a string\" 1451606400000000000\n",
				    &r),
			 0);
	expect_report(&r, (struct want){.lines = 2, .points = 1, .stored = 1, .strings_skipped = 3});
	expect_one(f, NULL, "sf", "v", "h=a", T0, 3, ST_VT_I64);
	assert_int_equal(series_total(f), 1);
}

/*
 * A body of many batches per shard (batch_points 64, 40 hosts x 6 fields x
 * 250 times = 60,000 points): every point stored, read back exactly, each
 * series in its routed shard only; the rings carried many batches.
 */
#define P_HOSTS 40
#define P_FIELDS 6
#define P_TIMES 250

static void test_mg_write__pipelined_body(void **state)
{
	struct fx *f = *state;
	f->wcfg.batch_points = 64;
	fx_writer(f);
	size_t cap = (size_t)P_HOSTS * P_TIMES * 160;
	char *body = malloc(cap);
	assert_non_null(body);
	size_t len = 0;
	for (int t = 0; t < P_TIMES; t++)
		for (int h = 0; h < P_HOSTS; h++) {
			len += (size_t)snprintf(body + len, cap - len, "pl,host=h%d,dc=d%d ", h, h % 3);
			for (int k = 0; k < P_FIELDS; k++)
				len += (size_t)snprintf(body + len, cap - len, "%sf%d=%di", k ? "," : "",
							k, t * 1000 + h * 10 + k);
			len += (size_t)snprintf(body + len, cap - len, " %lld\n",
						(long long)(T0 + (int64_t)t * CM_NS_PER_SEC));
		}
	assert_true(len < cap);
	struct mg_write_report r;
	struct mg_write_req req = {.body = body, .len = len, .now_ns = T0};
	assert_int_equal(mg_writer_write(f->w, &req, &r), 0);
	expect_clean(&r, P_HOSTS * P_TIMES, P_HOSTS * P_TIMES * P_FIELDS);
	free(body);

	uint64_t batches, points = drained_points(f, &batches);
	assert_int_equal(points, P_HOSTS * P_TIMES * P_FIELDS);
	assert_true(batches >= points / 64 && batches <= points / 64 + NSHARDS);

	assert_int_equal(series_total(f), P_HOSTS * P_FIELDS);
	int per_shard[NSHARDS] = {0};
	for (int h = 0; h < P_HOSTS; h++)
		for (int k = 0; k < P_FIELDS; k++) {
			char tags[48], field[16];
			snprintf(tags, sizeof(tags), "dc=d%d,host=h%d", h % 3, h);
			snprintf(field, sizeof(field), "f%d", k);
			uint8_t key[ST_KEY_MAX];
			int kl = db_key(key, NULL, "pl", field, tags);
			int shard;
			assert_true(find(f, key, kl, &shard) >= 0);
			per_shard[shard]++;
			struct st_points p;
			assert_int_equal(read_key(f, key, kl, &p, NULL), P_TIMES);
			for (int t = 0; t < P_TIMES; t++) {
				assert_int_equal(p.ts[t], T0 + (int64_t)t * CM_NS_PER_SEC);
				assert_int_equal((int64_t)p.vals[t], t * 1000 + h * 10 + k);
			}
			st_points_release(&p);
		}
	/* the hash spreads 240 series over every shard */
	for (int i = 0; i < NSHARDS; i++)
		assert_true(per_shard[i] > 0);
}

/* wal.durability = sync: the write returns once the WAL record is on disk. */
static void test_mg_write__durable(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < NSHARDS; i++)
		st_store_close(f->st[i]);
	fx_open_stores(f, ST_WAL_SYNC);
	f->wcfg.durable = true;
	f->wcfg.batch_points = 16;
	fx_writer(f);
	char body[8192] = "";
	for (int i = 0; i < 100; i++) {
		size_t n = strlen(body);
		snprintf(body + n, sizeof(body) - n, "dur,h=h%d v=%di 1451606400000000000\n", i % 7,
			 i);
	}
	struct mg_write_report r;
	assert_int_equal(write_body(f, "d", NULL, body, &r), 0);
	assert_int_equal(r.lines, 100);
	/* same series and time: the last write wins; every point was stored */
	assert_int_equal(r.points_stored, 100);
	for (int i = 0; i < NSHARDS; i++) {
		struct st_store_stats ss;
		st_read_begin(f->rcu, f->reader);
		st_store_stats_read(f->st[i], &ss);
		st_read_end(f->rcu, f->reader);
		assert_true(st_store_durable_lsn(f->st[i]) >= ss.wal.records || ss.wal.records == 0);
	}
	/* what the write acknowledged survives a reopen */
	mg_writer_destroy(f->w);
	f->w = NULL;
	owner_stop(f);
	for (int i = 0; i < NSHARDS; i++)
		st_store_close(f->st[i]);
	fx_open_stores(f, ST_WAL_SYNC);
	for (int h = 0; h < 7; h++) {
		char tags[16];
		snprintf(tags, sizeof(tags), "h=h%d", h);
		int last = 0;
		for (int i = 0; i < 100; i++)
			if (i % 7 == h)
				last = i;
		expect_one(f, "d", "dur", "v", tags, T0, (uint64_t)last, ST_VT_I64);
	}
}

/* Each writer owns a ring slot of every shard: more writers than slots is -ENOSPC. */
static void test_mg_write__slots(void **state)
{
	struct fx *f = *state;
	struct mg_writer *w[NSLOTS + 1];
	for (int i = 0; i < NSLOTS; i++)
		assert_int_equal(mg_writer_create(&f->wcfg, &w[i]), 0);
	assert_int_equal(mg_writer_create(&f->wcfg, &w[NSLOTS]), -ENOSPC);
	struct mg_writer_cfg bad = f->wcfg;
	bad.nshards = 0;
	assert_int_equal(mg_writer_create(&bad, &w[NSLOTS]), -EINVAL);
	bad = f->wcfg;
	bad.batch_points = 0;
	assert_int_equal(mg_writer_create(&bad, &w[NSLOTS]), -EINVAL);
	for (int i = 0; i < NSLOTS; i++)
		mg_writer_destroy(w[i]);
	mg_writer_destroy(NULL);
}

/* A body of n lines "<meas>,h=h<i> v=<i>i 1": one new series per line. */
static char *series_body(const char *meas, int n)
{
	size_t cap = (size_t)n * 64;
	char *body = malloc(cap);
	assert_non_null(body);
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s,h=h%d v=%di 1\n", meas, i, i);
	return body;
}

/*
 * With nobody draining, a new writer (timeout_ns, batch_points) writes n new
 * series of measurement meas: -ETIMEDOUT, its batches left in flight.
 * Returns how long the write took.
 */
static int64_t write_stalled(struct fx *f, int64_t timeout_ns, uint32_t batch_points,
			     const char *meas, int n, struct mg_write_report *r)
{
	f->wcfg.timeout_ns = timeout_ns;
	f->wcfg.batch_points = batch_points;
	assert_int_equal(mg_writer_create(&f->wcfg, &f->w), 0);
	char *body = series_body(meas, n);
	int64_t t0 = cm_mono_ns();
	assert_int_equal(write_body(f, NULL, NULL, body, r), -ETIMEDOUT);
	int64_t took = cm_mono_ns() - t0;
	free(body);
	return took;
}

/*
 * Nobody drains: the write gives up after timeout_ns with -ETIMEDOUT. Its
 * batches stay in flight (the writer must not reuse or free them); once an
 * owner runs they are stored, and the next write on the same writer waits
 * for them but counts only its own points.
 */
static void test_mg_write__timeout(void **state)
{
	struct fx *f = *state;
	struct mg_write_report r;
	int64_t took = write_stalled(f, 200 * CM_NS_PER_MS, 8, "to", 200, &r);
	assert_true(r.timed_out);
	assert_int_equal(r.points_stored, 0);
	assert_int_equal(r.lines_bad, 0);
	/* it stopped at the first long wait: 4 batches in flight on some shard */
	assert_true(r.points >= 4 * 8 && r.points < 200);
	assert_true(took >= 200 * CM_NS_PER_MS && took < 10 * CM_NS_PER_SEC);
	assert_int_equal(series_total(f), 0);

	/* still nobody: a small body times out too (the old batches are ahead of it) */
	assert_int_equal(write_body(f, NULL, NULL, "to2 v=1i 1", &r), -ETIMEDOUT);
	assert_true(r.timed_out);
	assert_int_equal(r.points, 1);
	assert_int_equal(r.points_stored, 0);

	/* an owner now: the next write waits for the old batches and counts only its own */
	owner_start(f);
	assert_int_equal(write_body(f, NULL, NULL, "to3 v=1i 1", &r), 0);
	expect_clean(&r, 1, 1);
	/* every batch submitted was stored (filled, unsent ones were dropped) */
	uint64_t drained = drained_points(f, NULL);
	assert_true(drained >= 4 * 8 + 1);
	assert_int_equal(series_total(f), drained);
}

struct late_owner {
	struct fx *f;
	int64_t delay_ns;
	_Atomic int64_t started_mono_ns;
};

static void *late_owner_main(void *arg)
{
	struct late_owner *lo = arg;
	cm_sleep_ns(lo->delay_ns);
	lo->started_mono_ns = cm_mono_ns();
	owner_main(lo->f);
	return NULL;
}

/*
 * destroy with batches in flight: it waits (up to timeout_ns) for the owner,
 * which starts late, and frees them only once done (under ASan a batch
 * freed early is a use-after-free in the owner; one never freed, a leak).
 */
static void test_mg_write__destroy_waits_for_batches(void **state)
{
	struct fx *f = *state;
	struct mg_write_report r;
	write_stalled(f, 300 * CM_NS_PER_MS, 4, "dw", 100, &r);
	assert_int_equal(drained_points(f, NULL), 0);

	struct late_owner lo = {.f = f, .delay_ns = 100 * CM_NS_PER_MS};
	owner_start_fn(f, late_owner_main, &lo);
	mg_writer_destroy(f->w);
	f->w = NULL;
	int64_t returned = cm_mono_ns();
	/* it returned after the owner started, with every batch stored */
	assert_true(lo.started_mono_ns > 0 && returned >= lo.started_mono_ns);
	uint64_t drained = drained_points(f, NULL);
	assert_true(drained >= 4 * 4);
	assert_int_equal(series_total(f), drained);
}

/*
 * Nobody drains, even during destroy: destroy gives up after timeout_ns and
 * must not free the batches still in the rings (they are leaked on purpose:
 * LSan is told so). An owner that starts afterwards drains them: under ASan,
 * a batch freed by destroy is a use-after-free here.
 */
static void test_mg_write__destroy_gives_up_without_freeing(void **state)
{
	struct fx *f = *state;
	struct mg_write_report r;
	lsan_disable(); /* the batches this writer allocates are leaked by design */
	write_stalled(f, 100 * CM_NS_PER_MS, 4, "gu", 100, &r);
	lsan_enable();
	int64_t t0 = cm_mono_ns();
	mg_writer_destroy(f->w);
	f->w = NULL;
	int64_t took = cm_mono_ns() - t0;
	assert_true(took >= 100 * CM_NS_PER_MS && took < 10 * CM_NS_PER_SEC);
	assert_int_equal(drained_points(f, NULL), 0);
	/* the owner comes late and finds the batches alive */
	owner_start(f);
	uint64_t drained = 0;
	for (int i = 0; i < 1000 && (drained = drained_points(f, NULL)) < 4 * 4; i++)
		cm_sleep_ns(1 * CM_NS_PER_MS);
	cm_sleep_ns(20 * CM_NS_PER_MS);
	drained = drained_points(f, NULL);
	assert_true(drained >= 4 * 4);
	assert_int_equal(series_total(f), drained);
}

int main(void)
{
	tst_require_uring();
	cm_log_set_level(CM_LOG_ERR);
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_mg_write__round_trip),
		T(test_mg_write__database_prefix),
		T(test_mg_write__database_keys),
		T(test_mg_write__precision),
		T(test_mg_write__partial_write),
		T(test_mg_write__type_conflict),
		T(test_mg_write__string_fields_skipped),
		T(test_mg_write__pipelined_body),
		T(test_mg_write__durable),
		T(test_mg_write__slots),
		T(test_mg_write__timeout),
		T(test_mg_write__destroy_waits_for_batches),
		T(test_mg_write__destroy_gives_up_without_freeing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
