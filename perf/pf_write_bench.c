/*
 * pf_write_bench.c - the HTTP /write path without HTTP: TSBS cpu-only
 * bodies of 10,000 lines (10 tags, 10 integer fields each; the average line
 * and series key sizes are printed) through mg_writer_write into real
 * stores, as the daemon runs them:
 *
 *   write_tsbs_values_per_s    values stored per second of mg_writer_write
 *   write_tsbs_lines_per_s     the same in lines
 *   write_tsbs_bytes_per_s     and in body bytes
 *
 * Setup: NSHARDS stores with the storage, shard and WAL defaults of the
 * config tables (wal.durability interval) in $TMPDIR/streamflow-bench (or
 * /tmp), removed at the end; the WAL encoded by the owner's st_store_poll
 * (wal.io_thread off: two vCPUs), a flusher thread keeping spare WAL
 * segments ready; one owner thread standing in for the dataplane cores
 * (dp_inject_drain + st_store_poll of every shard, in a loop); the writer on
 * the main thread (cfg.batch_points 5,000, 4 batches in flight per shard).
 * The lines are generated in-process like TSBS's cpu-only data (100 hosts
 * with fixed-seed tags, integer random walks, 10 s apart, time-major), a
 * fresh body before each timed write (untimed), so the store always sees new
 * points in time order. The writes go to the default database, or with
 * --db NAME to database NAME (keys with its prefix: mg_db.h).
 *
 * Yardsticks measured in the same run, on the same bodies, on the calling
 * thread's CPU clock (CLOCK_THREAD_CPUTIME_ID: the machine is shared, and
 * a thread's CPU time does not count the time others take from it):
 *   write_memcpy_bytes_per_s        memcpy of each body into a body-sized
 *                                   buffer, best of 3 (the physical limit
 *                                   of touching the bytes once)
 *   write_decode_only_values_per_s  dp_line_decode + the series key and its
 *     (and _cpu_ns_per_value)       hash per value (dp_line_key, st_key_hash):
 *                                   what the dataplane does before storing
 * The writer's own figures on the same clock: write_writer_cpu_ns_per_value
 * (decode, keys, routing, batches, submit and waits on the main thread) and
 * write_owner_cpu_ns_per_value (the owner thread's CPU per value: drain,
 * shard insert, WAL encoding, polling). Ratios, per round then the median:
 *   write_vs_memcpy_ratio   the writer's body bytes per CPU second over
 *                           memcpy's
 *   write_vs_decode_ratio   decode-only CPU per value over the writer's: the
 *                           share of the writer's work that is the decoder's
 * The wall-clock rates (write_tsbs_*_per_s) include waiting for the owner
 * at the end of each body and whatever else the machine runs.
 *
 * Each figure is the median of REPS rounds of BODIES bodies (min and max on
 * the '#' line).
 *
 * Usage: pf_write_bench [--bodies N] [--reps N] [--shards N] [--durable] [--db NAME]
 * Benchmark code: allocates freely, exits on set-up errors.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "cm_rand.h"
#include "dp_inject.h"
#include "dp_line.h"
#include "mg_write.h"
#include "pf_dataset.h"
#include "st_flush.h"
#include "st_series.h"
#include "st_store.h"

#define LINES_PER_BODY 10000
#define HOSTS 100
#define FIELDS 10
#define MAX_SHARDS 16
#define T0 (1451606400LL * CM_NS_PER_SEC)

static const char *const field_names[FIELDS] = {
	"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};

static struct {
	int bodies, reps;
	uint32_t shards;
	bool durable;
	const char *db;   /* NULL: the default database */
} opt = {.bodies = 20, .reps = 3, .shards = 2};

static void die(const char *what, int rc)
{
	fprintf(stderr, "write bench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

/* ------------------------------------------------------------ TSBS lines */

struct gen {
	char tags[HOSTS][256];   /* "cpu,hostname=...,service_environment=..." */
	int64_t vals[HOSTS][FIELDS];
	uint64_t rng;
	int64_t step;            /* next time step (10 s each) */
};

static void gen_init(struct gen *g)
{
	static const char *const regions[] = {"us-east-1", "us-west-1", "us-west-2", "eu-west-1",
					      "eu-central-1", "ap-southeast-1", "ap-southeast-2",
					      "ap-northeast-1", "sa-east-1"};
	static const char *const os[] = {"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"};
	static const char *const arch[] = {"x64", "x86"};
	static const char *const team[] = {"SF", "NYC", "LON", "CHI"};
	static const char *const env[] = {"production", "staging", "test"};
	memset(g, 0, sizeof(*g));
	g->rng = 0x5eed;
#define PICK(a) (a[cm_splitmix64(&g->rng) % CM_ARRAY_SIZE(a)])
	for (int h = 0; h < HOSTS; h++) {
		const char *region = PICK(regions);
		snprintf(g->tags[h], sizeof(g->tags[h]),
			 "cpu,hostname=host_%d,region=%s,datacenter=%s%c,rack=%u,os=%s,arch=%s,"
			 "team=%s,service=%u,service_version=%u,service_environment=%s",
			 h, region, region, (char)('a' + cm_splitmix64(&g->rng) % 3),
			 (unsigned)(cm_splitmix64(&g->rng) % 100), PICK(os), PICK(arch), PICK(team),
			 (unsigned)(cm_splitmix64(&g->rng) % 20),
			 (unsigned)(cm_splitmix64(&g->rng) % 2), PICK(env));
		for (int k = 0; k < FIELDS; k++)
			g->vals[h][k] = (int64_t)(cm_splitmix64(&g->rng) % 100);
	}
#undef PICK
}

/* The next body: LINES_PER_BODY lines, time-major. Returns its length. */
static size_t gen_body(struct gen *g, char *buf, size_t cap)
{
	size_t len = 0;
	for (int l = 0; l < LINES_PER_BODY; l++) {
		int h = l % HOSTS;
		if (h == 0 && l)
			g->step++;
		char *p = buf + len;
		size_t room = cap - len;
		int n = snprintf(p, room, "%s ", g->tags[h]);
		for (int k = 0; k < FIELDS; k++) {
			int64_t *v = &g->vals[h][k];
			*v += (int64_t)(cm_splitmix64(&g->rng) % 11) - 5; /* a random walk in 0..100 */
			*v = *v < 0 ? 0 : *v > 100 ? 100 : *v;
			n += snprintf(p + n, room - (size_t)n, "%s%s=%lldi", k ? "," : "",
				      field_names[k], (long long)*v);
		}
		n += snprintf(p + n, room - (size_t)n, " %lld\n",
			      (long long)(T0 + g->step * 10 * CM_NS_PER_SEC));
		if ((size_t)n >= room)
			die("body buffer", -ENOSPC);
		len += (size_t)n;
	}
	g->step++;
	return len;
}

/* ------------------------------------------------------------ the rig */

static struct st_rcu *rcu;
static struct st_store *stores[MAX_SHARDS];
static struct dp_inject *injects[MAX_SHARDS];
static struct st_flush *flusher;
static _Atomic bool owner_stop;
static char tmpdir[512];

static void *owner_main(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&owner_stop, memory_order_acquire)) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < opt.shards; i++) {
			k += dp_inject_drain(injects[i], stores[i], 65536);
			st_store_poll(stores[i]);
		}
		if (!k)
			cm_sleep_ns(20 * CM_NS_PER_US);
	}
	return NULL;
}

static void rig_open(void)
{
	const char *t = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char parent[480];
	snprintf(parent, sizeof(parent), "%s/streamflow-bench", t);
	mkdir(parent, 0755);
	snprintf(tmpdir, sizeof(tmpdir), "%s/write.XXXXXX", parent);
	if (!mkdtemp(tmpdir))
		die("mkdtemp", -errno);
	if (st_rcu_create(4, &rcu))
		die("st_rcu_create", -ENOMEM);
	static char dirs[MAX_SHARDS][600];
	for (uint32_t i = 0; i < opt.shards; i++) {
		snprintf(dirs[i], sizeof(dirs[i]), "%s/shard-%03u", tmpdir, i);
		struct st_store_cfg sc;
		st_store_cfg_default(&sc);
		sc.shard_id = i;
		sc.dir = dirs[i];
		sc.rcu = rcu;
		sc.wal.io_thread = false;
		sc.wal.durability = opt.durable ? ST_WAL_SYNC : ST_WAL_INTERVAL;
		sc.shard.memory_limit_bytes = (size_t)2 << 30;
		struct st_store_recovery rec;
		int rc = st_store_open(&sc, &stores[i], &rec);
		if (rc)
			die("st_store_open", rc);
		if ((rc = dp_inject_create(4, 16, &injects[i])))
			die("dp_inject_create", rc);
	}
	struct st_flush_cfg fc;
	st_flush_cfg_default(&fc);
	fc.min_free_bytes = 0;
	int rc = st_flush_create(&fc, rcu, stores, opt.shards, &flusher);
	if (rc || (rc = st_flush_start(flusher)))
		die("st_flush", rc);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rig_close(void)
{
	st_flush_destroy(flusher);
	for (uint32_t i = 0; i < opt.shards; i++) {
		st_store_close(stores[i]);
		dp_inject_destroy(injects[i]);
	}
	st_rcu_destroy(rcu);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ measuring */

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of n (sorted in place); min and max out. */
static double median(double *v, int n, double *lo, double *hi)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	*lo = v[0];
	*hi = v[n - 1];
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct round {
	double values_per_s, lines_per_s, bytes_per_s;   /* wall clock */
	double memcpy_bps, decode_vps;                    /* on CPU time */
	double cpu_ns_per_value, owner_cpu_ns_per_value, decode_cpu_ns_per_value;
	double cpu_bps;                                   /* the writer's bytes per CPU second */
	double key_bytes;                                 /* series key bytes per value */
};

static clockid_t owner_clock;

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

/*
 * The decoder's work alone on a body: decode, key and hash of every value.
 * Returns the values; adds their key bytes to *key_bytes.
 */
static uint64_t decode_only(struct dp_line *line, const char *body, size_t len,
			    uint64_t *key_bytes)
{
	static uint8_t key[ST_KEY_MAX];
	const struct dp_line_opts o = {.now_ns = T0, .unit_ns = 1, .flags = DP_LINE_COMPLETE};
	uint64_t values = 0, sink = 0;
	while (len) {
		size_t used;
		enum dp_line_status st = dp_line_decode(line, body, len, &o, &used);
		body += used;
		len -= used;
		if (st != DP_LINE_OK)
			continue;
		for (uint32_t i = 0; i < line->nfields; i++) {
			int kl = dp_line_key(line, i, key, sizeof(key));
			sink += st_key_hash(key, (size_t)kl);
			*key_bytes += (uint64_t)kl;
			values++;
		}
	}
	__asm__ volatile("" : : "r"(sink) : "memory");
	return values;
}

static void run_round(struct gen *g, struct mg_writer *w, char *body, size_t cap, char *copy,
		      struct dp_line *line, struct round *out)
{
	int64_t write_ns = 0, cpu_ns = 0, copy_ns = 0, decode_ns = 0, owner_ns = 0;
	uint64_t values = 0, lines = 0, bytes = 0, dvalues = 0, key_bytes = 0;
	for (int b = 0; b < opt.bodies; b++) {
		size_t len = gen_body(g, body, cap);
		/* yardsticks first, on the same bytes (then the write finds them in cache alike) */
		int64_t best = INT64_MAX;
		for (int k = 0; k < 3; k++) {
			int64_t t0 = thread_cpu_ns();
			memcpy(copy, body, len);
			__asm__ volatile("" : : "r"(copy) : "memory");
			best = CM_MIN(best, thread_cpu_ns() - t0);
		}
		copy_ns += best;
		int64_t t0 = thread_cpu_ns();
		dvalues += decode_only(line, body, len, &key_bytes);
		decode_ns += thread_cpu_ns() - t0;

		struct mg_write_req req = {.db = opt.db, .body = body, .len = len, .now_ns = T0};
		struct mg_write_report rep;
		int64_t c0 = thread_cpu_ns(), o0 = clock_ns(owner_clock);
		t0 = cm_mono_ns();
		int rc = mg_writer_write(w, &req, &rep);
		write_ns += cm_mono_ns() - t0;
		cpu_ns += thread_cpu_ns() - c0;
		owner_ns += clock_ns(owner_clock) - o0;
		if (rc || rep.lines_bad || rep.points_refused || rep.points_stored != rep.points) {
			fprintf(stderr, "write bench: rc=%d bad=%llu refused=%llu stored=%llu/%llu %s\n",
				rc, (unsigned long long)rep.lines_bad,
				(unsigned long long)rep.points_refused,
				(unsigned long long)rep.points_stored, (unsigned long long)rep.points,
				rep.nerrors ? rep.errors[0] : "");
			exit(1);
		}
		values += rep.points_stored;
		lines += rep.lines;
		bytes += len;
	}
	out->values_per_s = (double)values / ((double)write_ns / 1e9);
	out->lines_per_s = (double)lines / ((double)write_ns / 1e9);
	out->bytes_per_s = (double)bytes / ((double)write_ns / 1e9);
	out->memcpy_bps = (double)bytes / ((double)copy_ns / 1e9);
	out->decode_vps = (double)dvalues / ((double)decode_ns / 1e9);
	out->cpu_ns_per_value = (double)cpu_ns / (double)values;
	out->owner_cpu_ns_per_value = (double)owner_ns / (double)values;
	out->decode_cpu_ns_per_value = (double)decode_ns / (double)dvalues;
	out->cpu_bps = (double)bytes / ((double)cpu_ns / 1e9);
	out->key_bytes = (double)key_bytes / (double)dvalues;
}

static void report(const char *metric, double *v, int n, const char *unit)
{
	double lo, hi;
	double m = median(v, n, &lo, &hi);
	printf("BENCH %s %.4g %s\n", metric, m, unit);
	printf("# %s: median of %d, min %.4g max %.4g\n", metric, n, lo, hi);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bodies") && i + 1 < argc)
			opt.bodies = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			opt.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shards") && i + 1 < argc)
			opt.shards = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--durable"))
			opt.durable = true;
		else if (!strcmp(argv[i], "--db") && i + 1 < argc)
			opt.db = argv[++i];
		else {
			fprintf(stderr, "usage: pf_write_bench [--bodies N] [--reps N] [--shards N] "
					"[--durable] [--db NAME]\n");
			exit(2);
		}
	}
	if (opt.bodies < 1 || opt.reps < 1 || opt.reps > 64 || opt.shards < 1 ||
	    opt.shards > MAX_SHARDS)
		die("options out of range", -EINVAL);
}

/* Every figure: the median over the rounds, ratios computed per round first. */
static void report_all(const struct round *r)
{
	double v[64];
#define REPORT(member, metric, unit)                                                             \
	do {                                                                                       \
		for (int i = 0; i < opt.reps; i++)                                                 \
			v[i] = r[i].member;                                                        \
		report(metric, v, opt.reps, unit);                                                 \
	} while (0)
	REPORT(values_per_s, "write_tsbs_values_per_s", "values/s");
	REPORT(lines_per_s, "write_tsbs_lines_per_s", "lines/s");
	REPORT(bytes_per_s, "write_tsbs_bytes_per_s", "B/s");
	REPORT(memcpy_bps, "write_memcpy_bytes_per_s", "B/s");
	REPORT(decode_vps, "write_decode_only_values_per_s", "values/s");
	REPORT(cpu_ns_per_value, "write_writer_cpu_ns_per_value", "ns/value");
	REPORT(owner_cpu_ns_per_value, "write_owner_cpu_ns_per_value", "ns/value");
	REPORT(decode_cpu_ns_per_value, "write_decode_only_cpu_ns_per_value", "ns/value");
#undef REPORT
	for (int i = 0; i < opt.reps; i++)
		v[i] = r[i].cpu_bps / r[i].memcpy_bps;
	report("write_vs_memcpy_ratio", v, opt.reps, "ratio");
	for (int i = 0; i < opt.reps; i++)
		v[i] = r[i].decode_cpu_ns_per_value / r[i].cpu_ns_per_value;
	report("write_vs_decode_ratio", v, opt.reps, "ratio");
}

/* What the stores hold at the end (the owner stopped). */
static void report_stores(void)
{
	struct st_store_stats ss;
	uint64_t stored = 0, series = 0;
	int reader = st_rcu_reader_register(rcu);
	for (uint32_t i = 0; i < opt.shards; i++) {
		st_read_begin(rcu, reader);
		st_store_stats_read(stores[i], &ss);
		st_read_end(rcu, reader);
		stored += ss.shard.points_stored;
		series += ss.shard.series;
	}
	st_rcu_reader_unregister(rcu, reader);
	printf("# stores: %llu points stored, %llu series\n", (unsigned long long)stored,
	       (unsigned long long)series);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	cm_log_set_level(CM_LOG_WARN);
	pf_print_machine("write");
	rig_open();
	pthread_t owner;
	if (pthread_create(&owner, NULL, owner_main, NULL))
		die("pthread_create", -EAGAIN);
	if (pthread_getcpuclockid(owner, &owner_clock))
		die("pthread_getcpuclockid", -EINVAL);
	struct mg_writer_cfg wc = {
		.injects = injects, .stores = stores, .nshards = opt.shards, .default_db = "streamflow",
		.durable = opt.durable, .timeout_ns = 30 * CM_NS_PER_SEC, .batch_points = 5000,
	};
	struct mg_writer *w;
	int rc = mg_writer_create(&wc, &w);
	if (rc)
		die("mg_writer_create", rc);

	static struct gen g;
	gen_init(&g);
	size_t cap = (size_t)LINES_PER_BODY * 400;
	char *body = malloc(cap), *copy = malloc(cap);
	struct dp_line *line = malloc(sizeof(*line));
	struct dp_field *fields = malloc(DP_LINE_FIELDS_DEFAULT * sizeof(*fields));
	if (!body || !copy || !line || !fields)
		die("malloc", -ENOMEM);
	memset(copy, 0, cap);
	dp_line_init(line, fields, DP_LINE_FIELDS_DEFAULT);
	size_t len0 = gen_body(&g, body, cap); /* warm-up body: creates the series */
	struct mg_write_req req = {.db = opt.db, .body = body, .len = len0, .now_ns = T0};
	struct mg_write_report rep;
	if ((rc = mg_writer_write(w, &req, &rep)))
		die("warm-up write", rc);
	printf("# write: %u shards, %d hosts x %d fields, %d lines (%.0f bytes avg) per body, "
	       "%d bodies x %d rounds, durability %s, database %s\n",
	       opt.shards, HOSTS, FIELDS, LINES_PER_BODY, (double)len0 / LINES_PER_BODY,
	       opt.bodies, opt.reps, opt.durable ? "sync" : "interval",
	       opt.db ? opt.db : "default");

	struct round r[64];
	for (int i = 0; i < opt.reps; i++)
		run_round(&g, w, body, cap, copy, line, &r[i]);
	printf("# write: series keys %.0f bytes avg (without a database prefix)\n", r[0].key_bytes);
	report_all(r);
	mg_writer_destroy(w);
	atomic_store_explicit(&owner_stop, true, memory_order_release);
	pthread_join(owner, NULL);
	report_stores();
	free(fields);
	free(line);
	free(copy);
	free(body);
	rig_close();
	return 0;
}
