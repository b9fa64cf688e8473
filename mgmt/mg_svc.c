/*
 * mg_svc.c - see mg_svc.h. The service owns what the front-ends share:
 * the series index and its sync job, the database catalog, a pool of QSBR
 * reader slots for queries, a pool of writers for /write and imports, the
 * registry of running queries, and the request counters and latency
 * histograms of /metrics.
 *
 * Pools block (condition variables) when every slot is taken: a query
 * waits for a reader slot rather than failing, bounded by its timeout.
 */
#include "mg_svc.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "mg_daemon_int.h"
#include "mg_db.h"
#include "mg_decode.h"
#include "mg_exec.h"
#include "mg_index.h"
#include "mg_job.h"
#include "mg_stats.h"
#include "mg_tsql.h"
#include "st_index.h"

static const struct cm_cfg_key svc_keys[] = {
	{"mgmt.database", CM_CFG_STR, "streamflow", 0, 0, NULL, false,
	 "the default database: where UDP/TCP ingest and StatsD land, and queries without db="},
	{"mgmt.query_timeout", CM_CFG_DURATION, "60s", CM_NS_PER_MS, 24 * 3600 * CM_NS_PER_SEC,
	 NULL, false, "a statement running longer stops with an error"},
	{"mgmt.query_max_points", CM_CFG_INT, "1000000000", 0, INT64_MAX, NULL, false,
	 "points one statement may read (0: no limit)"},
	{"mgmt.query_max_series", CM_CFG_INT, "10000000", 0, INT64_MAX, NULL, false,
	 "series one statement may read (0: no limit)"},
	{"mgmt.query_max_buckets", CM_CFG_INT, "10000000", 0, INT64_MAX, NULL, false,
	 "GROUP BY time buckets one statement may produce (0: no limit)"},
	{"mgmt.query_max_memory", CM_CFG_SIZE, "4GiB", 0, 0, NULL, false,
	 "memory one statement may hold (points read and its result; 0: no limit)"},
	{"mgmt.decode_threads", CM_CFG_INT, "-1", -1, 64, NULL, false,
	 "helper threads that decode a query's row sets ahead of it (-1: one per management "
	 "core but the first)"},
	{"mgmt.index_interval", CM_CFG_DURATION, "100ms", CM_NS_PER_MS, 3600 * CM_NS_PER_SEC, NULL,
	 false, "how often new series are added to the series index"},
	{"mgmt.writers", CM_CFG_INT, "4", 1, 64, NULL, false,
	 "concurrent writes (HTTP /write, imports, INTO)"},
	{"mgmt.write_timeout", CM_CFG_DURATION, "30s", CM_NS_PER_MS, 3600 * CM_NS_PER_SEC, NULL,
	 false, "a write not acknowledged by the shards in this time fails"},
	{"mgmt.write_batch", CM_CFG_INT, "4096", 64, 1 << 20, NULL, false,
	 "points per injected batch of a write"},
};

const struct cm_cfg_table mg_svc_cfg_table = {
	.module = "svc",
	.keys = svc_keys,
	.nkeys = CM_ARRAY_SIZE(svc_keys),
};

/* A running query. */
struct running {
	struct running *next;
	uint64_t id;
	char *text;
	char *db;
	char *origin;
	int64_t started_ns;
	_Atomic uint64_t points;
	_Atomic bool killed;
};

/* A latency histogram: cumulative at read time. */
struct histo {
	const char *name, *help;
	_Atomic uint64_t counts[MG_HISTO_BUCKETS + 1];
	_Atomic uint64_t sum_ns;
};

static const double histo_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				  0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static_assert(CM_ARRAY_SIZE(histo_le) == MG_HISTO_BUCKETS, "one bound per bucket");

/* Request counters by front-end and kind, and outcome. */
struct reqctr {
	_Atomic uint64_t n[2][3];
	_Atomic uint64_t errors[2][3];
};

/* A pool of small integers (reader slots, writer indexes) with waiting. */
struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *free;
	uint32_t nfree, size;
};

struct mg_svc {
	struct mg_daemon *d;
	const char *default_db;
	struct mg_dbs *dbs;
	struct mg_index *index;
	struct mg_job *index_job;
	int index_reader;
	struct mg_exec_limits limits;

	struct pool readers;
	int *reader_ids;
	struct mg_decode_pool *decode;
	struct pool writer_pool;
	struct mg_writer **writers;
	uint32_t nwriters;

	pthread_mutex_t reg_lock;
	struct running *running;
	uint64_t next_id;
	pthread_mutex_t flush_lock;    /* one flush at a time (it stops the flusher) */

	struct histo query_h, write_h;
	struct reqctr req;
	_Atomic uint64_t queries, query_errors, statements;
	_Atomic uint64_t chunks_summarized;   /* block chunks answered by their summaries */
	_Atomic uint64_t writes, write_lines, write_bad_lines, write_points, write_refused;
	_Atomic uint64_t write_strings;   /* string fields, accepted and not stored */
};

/* ------------------------------------------------------------ pools */

static int pool_init(struct pool *p, uint32_t size)
{
	p->free = calloc(size ? size : 1, sizeof(*p->free));
	if (!p->free)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->size = size;
	return 0;
}

static void pool_put(struct pool *p, int v)
{
	pthread_mutex_lock(&p->lock);
	p->free[p->nfree++] = v;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* A free entry, waiting until deadline_ns (0: forever); -ETIMEDOUT. */
static int pool_get(struct pool *p, int64_t deadline_ns)
{
	pthread_mutex_lock(&p->lock);
	while (p->nfree == 0) {
		if (deadline_ns) {
			struct timespec ts = {deadline_ns / CM_NS_PER_SEC, deadline_ns % CM_NS_PER_SEC};
			if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT &&
			    p->nfree == 0) {
				pthread_mutex_unlock(&p->lock);
				return -ETIMEDOUT;
			}
		} else {
			pthread_cond_wait(&p->cond, &p->lock);
		}
	}
	int v = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void pool_release(struct pool *p)
{
	if (!p->free)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->free);
}

static int64_t wall_deadline(int64_t rel_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec + rel_ns;
}

static void histo_add(struct histo *h, int64_t ns)
{
	double s = (double)ns / 1e9;
	uint32_t b = 0;
	while (b < MG_HISTO_BUCKETS && s > histo_le[b])
		b++;
	atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
}

/* ------------------------------------------------------------ queries */

static struct running *reg_add(struct mg_svc *s, const struct mg_query_req *req, const char *db)
{
	struct running *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->text = strndup(req->text, req->len);
	q->db = strdup(db);
	q->origin = strdup(req->origin ? req->origin : "");
	if (!q->text || !q->db || !q->origin) {
		free(q->text);
		free(q->db);
		free(q->origin);
		free(q);
		return NULL;
	}
	q->started_ns = cm_now_ns();
	pthread_mutex_lock(&s->reg_lock);
	q->id = ++s->next_id;
	q->next = s->running;
	s->running = q;
	pthread_mutex_unlock(&s->reg_lock);
	return q;
}

static void reg_remove(struct mg_svc *s, struct running *q)
{
	pthread_mutex_lock(&s->reg_lock);
	for (struct running **pp = &s->running; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	pthread_mutex_unlock(&s->reg_lock);
	free(q->text);
	free(q->db);
	free(q->origin);
	free(q);
}

int mg_svc_queries(struct mg_svc *s, mg_query_fn fn, void *arg)
{
	int rc = 0;
	pthread_mutex_lock(&s->reg_lock);
	for (struct running *q = s->running; q && rc == 0; q = q->next) {
		struct mg_query_info qi = {
			.id = q->id, .text = q->text, .db = q->db, .origin = q->origin,
			.started_ns = q->started_ns,
			.points_scanned = atomic_load_explicit(&q->points, memory_order_relaxed),
			.killed = atomic_load_explicit(&q->killed, memory_order_relaxed),
		};
		rc = fn(arg, &qi);
	}
	pthread_mutex_unlock(&s->reg_lock);
	return rc;
}

int mg_svc_kill(struct mg_svc *s, uint64_t id)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&s->reg_lock);
	for (struct running *q = s->running; q; q = q->next)
		if (q->id == id) {
			atomic_store_explicit(&q->killed, true, memory_order_relaxed);
			rc = 0;
		}
	pthread_mutex_unlock(&s->reg_lock);
	return rc;
}

struct show_q {
	struct mg_result *r;
	struct mg_series *se;
};

static int show_one(void *arg, const struct mg_query_info *q)
{
	struct show_q *a = arg;
	char dur[32];
	int64_t us = (cm_now_ns() - q->started_ns) / 1000;
	if (us < 1000)
		snprintf(dur, sizeof(dur), "%lldµs", (long long)us);
	else if (us < 1000000)
		snprintf(dur, sizeof(dur), "%lldms", (long long)(us / 1000));
	else
		snprintf(dur, sizeof(dur), "%llds", (long long)(us / 1000000));
	struct mg_cell row[5] = {
		{.type = MG_CELL_I64, .i = (int64_t)q->id}, {.type = MG_CELL_STR, .s = q->text},
		{.type = MG_CELL_STR, .s = q->db}, {.type = MG_CELL_STR, .s = dur},
		{.type = MG_CELL_STR, .s = q->killed ? "killed" : "running"}};
	return mg_result_add_row(a->r, a->se, row);
}

static int exec_show_queries(void *arg, struct mg_result *r, struct mg_stmt_result *sr)
{
	static const char *const cols[] = {"qid", "query", "database", "duration", "status"};
	struct show_q a = {r, mg_result_add_series(r, sr, "", NULL, 0, cols, 5)};
	return a.se ? mg_svc_queries(arg, show_one, &a) : -ENOMEM;
}

static int exec_kill(void *arg, uint64_t id)
{
	return mg_svc_kill(arg, id);
}

static int exec_write(void *arg, const char *db, const char *body, size_t len,
		      struct mg_write_report *rep)
{
	struct mg_write_req req = {.db = db, .body = body, .len = len, .now_ns = cm_now_ns()};
	return mg_svc_write(arg, &req, rep);
}

int mg_svc_query(struct mg_svc *s, const struct mg_query_req *req, struct mg_result **out,
		 char *err, size_t errlen)
{
	int64_t t0 = cm_now_ns();
	struct mg_tsql *q;
	struct mg_tsql_error perr;
	atomic_fetch_add_explicit(&s->queries, 1, memory_order_relaxed);
	int rc = mg_tsql_parse(req->text, req->len, &q, &perr);
	if (rc) {
		snprintf(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : perr.msg);
		atomic_fetch_add_explicit(&s->query_errors, 1, memory_order_relaxed);
		return rc;
	}
	const char *db = req->db && req->db[0] ? req->db : s->default_db;
	struct mg_result *r = mg_result_create();
	struct running *run = r ? reg_add(s, req, db) : NULL;
	int slot = run ? pool_get(&s->readers, wall_deadline(s->limits.timeout_ns)) : -ENOMEM;
	if (slot < 0) {
		snprintf(err, errlen, "%s", slot == -ETIMEDOUT ? "timeout waiting for a query slot"
							       : "out of memory");
		rc = slot;
		goto out;
	}
	int reader = s->reader_ids[slot];
	/* every series a write acknowledged before now is indexed before we plan */
	mg_index_sync(s->index, reader);
	for (uint32_t i = 0; i < q->nstmts && rc == 0; i++) {
		struct mg_stmt_result *sr = mg_result_add_stmt(r, i);
		struct mg_exec_ctx cx = {
			.stores = s->d->stores, .nshards = s->d->nshards, .rcu = s->d->rcu,
			.reader = reader, .decode = s->decode, .idx = mg_index_get(s->index),
			.dbs = s->dbs, .db = db,
			.default_db = s->default_db, .now_ns = req->now_ns ? req->now_ns : cm_now_ns(),
			.limits = s->limits, .killed = &run->killed, .points_scanned = &run->points,
			.chunks_summarized = &s->chunks_summarized,
			.write = exec_write, .show_queries = exec_show_queries, .kill = exec_kill,
			.arg = s,
		};
		rc = sr ? mg_exec_stmt(&cx, &q->stmts[i], r, sr) : -ENOMEM;
		atomic_fetch_add_explicit(&s->statements, 1, memory_order_relaxed);
		if (sr && sr->error)
			atomic_fetch_add_explicit(&s->query_errors, 1, memory_order_relaxed);
	}
	pool_put(&s->readers, slot);
	if (rc)
		snprintf(err, errlen, "out of memory");
out:
	if (run)
		reg_remove(s, run);
	mg_tsql_free(q);
	if (rc) {
		mg_result_free(r);
		return rc;
	}
	*out = r;
	histo_add(&s->query_h, cm_now_ns() - t0);
	return 0;
}

/* ------------------------------------------------------------ writes */

int mg_svc_write(struct mg_svc *s, const struct mg_write_req *req, struct mg_write_report *rep)
{
	int64_t t0 = cm_now_ns();
	const char *db = req->db && req->db[0] ? req->db : s->default_db;
	char ns[MG_DB_NS_MAX];
	if (!mg_db_name_valid(db, strlen(db)))
		return -EINVAL;
	int rc = mg_dbs_namespace(s->dbs, db, ns, sizeof(ns));
	if (rc)
		return rc;
	struct mg_write_req in_ns = *req;
	in_ns.db = ns;
	int w = pool_get(&s->writer_pool, 0);
	rc = mg_writer_write(s->writers[w], &in_ns, rep);
	pool_put(&s->writer_pool, w);
	atomic_fetch_add_explicit(&s->writes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->write_lines, rep->lines, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->write_bad_lines, rep->lines_bad, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->write_points, rep->points_stored, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->write_refused, rep->points_refused, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->write_strings, rep->strings_skipped, memory_order_relaxed);
	histo_add(&s->write_h, cm_now_ns() - t0);
	return rc;
}

size_t mg_svc_max_body(const struct mg_svc *s)
{
	return (size_t)cm_config_int(s->d->cfg, "http.max_body");
}

/* ------------------------------------------------------------ counters */

static int put(mg_stat_fn fn, void *arg, const char *name, uint64_t v, enum mg_stat_kind k)
{
	struct mg_stat st = {.name = name, .value = v, .kind = k};
	return fn(arg, &st);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int mg_svc_stats(struct mg_svc *s, mg_stat_fn fn, void *arg)
{
	int rc = mg_stats_each(s->d, fn, arg);
	struct st_index_stats is;
	st_index_read_lock(mg_index_get(s->index));
	st_index_stats_read(mg_index_get(s->index), &is);
	st_index_read_unlock(mg_index_get(s->index));
	uint32_t running = 0;
	pthread_mutex_lock(&s->reg_lock);
	for (struct running *q = s->running; q; q = q->next)
		running++;
	pthread_mutex_unlock(&s->reg_lock);
	const struct {
		const char *name;
		uint64_t v;
		enum mg_stat_kind k;
	} own[] = {
		{"index.series", is.series, MG_STAT_GAUGE},
		{"index.measurements", is.measurements, MG_STAT_GAUGE},
		{"index.terms", is.terms, MG_STAT_GAUGE},
		{"index.bytes", is.bytes, MG_STAT_GAUGE},
		{"query.requests", LOAD(s->queries), MG_STAT_COUNTER},
		{"query.statements", LOAD(s->statements), MG_STAT_COUNTER},
		{"query.errors", LOAD(s->query_errors), MG_STAT_COUNTER},
		{"query.running", running, MG_STAT_GAUGE},
		{"query.rowsets_read_ahead", mg_decode_pool_taken(s->decode), MG_STAT_COUNTER},
		{"query.chunks_summarized", LOAD(s->chunks_summarized), MG_STAT_COUNTER},
		{"write.requests", LOAD(s->writes), MG_STAT_COUNTER},
		{"write.lines", LOAD(s->write_lines), MG_STAT_COUNTER},
		{"write.lines_bad", LOAD(s->write_bad_lines), MG_STAT_COUNTER},
		{"write.points_stored", LOAD(s->write_points), MG_STAT_COUNTER},
		{"write.points_refused", LOAD(s->write_refused), MG_STAT_COUNTER},
		{"write.strings_skipped", LOAD(s->write_strings), MG_STAT_COUNTER},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(own) && rc == 0; i++)
		rc = put(fn, arg, own[i].name, own[i].v, own[i].k);
	static const char *const fronts[] = {"http", "socket"};
	static const char *const kinds[] = {"query", "write", "other"};
	for (int f = 0; f < 2 && rc == 0; f++)
		for (int k = 0; k < 3 && rc == 0; k++) {
			char name[64];
			snprintf(name, sizeof(name), "%s.requests.%s", fronts[f], kinds[k]);
			rc = put(fn, arg, name, LOAD(s->req.n[f][k]), MG_STAT_COUNTER);
			snprintf(name, sizeof(name), "%s.errors.%s", fronts[f], kinds[k]);
			if (rc == 0)
				rc = put(fn, arg, name, LOAD(s->req.errors[f][k]), MG_STAT_COUNTER);
		}
	return rc;
}

static int histo_out(struct histo *h, mg_histo_fn fn, void *arg)
{
	struct mg_histo o = {.name = h->name, .help = h->help, .nbuckets = MG_HISTO_BUCKETS};
	uint64_t cum = 0;
	for (uint32_t b = 0; b < MG_HISTO_BUCKETS; b++) {
		cum += LOAD(h->counts[b]);
		o.le[b] = histo_le[b];
		o.cumulative[b] = cum;
	}
	o.count = cum + LOAD(h->counts[MG_HISTO_BUCKETS]);
	o.sum = (double)LOAD(h->sum_ns) / 1e9;
	return fn(arg, &o);
}

int mg_svc_histograms(struct mg_svc *s, mg_histo_fn fn, void *arg)
{
	int rc = histo_out(&s->query_h, fn, arg);
	return rc ? rc : histo_out(&s->write_h, fn, arg);
}

void mg_svc_note_request(struct mg_svc *s, enum mg_front front, enum mg_req_kind kind,
			 int status, int64_t elapsed_ns)
{
	(void)elapsed_ns;
	if ((unsigned)front > 1 || (unsigned)kind > 2)
		return;
	atomic_fetch_add_explicit(&s->req.n[front][kind], 1, memory_order_relaxed);
	/* HTTP statuses >= 400, or a negative errno from the socket */
	if (status >= 400 || status < 0)
		atomic_fetch_add_explicit(&s->req.errors[front][kind], 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ operations */

int mg_svc_config(struct mg_svc *s, mg_write_fn fn, void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	cm_config_dump(s->d->cfg, f);
	if (fclose(f)) {
		free(text);
		return -ENOMEM;
	}
	int rc = fn(arg, text, len);
	free(text);
	return rc;
}

int mg_svc_flush(struct mg_svc *s)
{
	struct mg_daemon *d = s->d;
	int rc = 0;
	pthread_mutex_lock(&s->flush_lock);
	st_flush_stop(d->flush);
	for (uint32_t i = 0; i < d->nshards && rc == 0; i++)
		rc = st_flush_store_now(d->flush, d->stores[i], cm_now_ns());
	int rs = st_flush_start(d->flush);
	pthread_mutex_unlock(&s->flush_lock);
	if (rs)
		CM_LOG_ERR("svc", "event=flusher_restart_failed err=%s", strerror(-rs));
	return rc ? rc : rs;
}

int mg_svc_tiers(struct mg_svc *s, mg_write_fn fn, void *arg)
{
	struct mg_daemon *d = s->d;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	const struct cm_config *c = d->cfg;
	fprintf(f, "storage.retention_ns %lld\nstorage.retention_rules %s\nstorage.cold_dir %s\n"
		"storage.cold_after_ns %lld\n", (long long)cm_config_int(c, "storage.retention"),
		cm_config_str(c, "storage.retention_rules"), cm_config_str(c, "storage.cold_dir"),
		(long long)cm_config_int(c, "storage.cold_after"));
	int slot = pool_get(&s->readers, 0);
	int reader = s->reader_ids[slot];
	for (uint32_t i = 0; i < d->nshards; i++) {
		struct st_store_stats st;
		st_read_begin(d->rcu, reader);
		st_store_stats_read(d->stores[i], &st);
		st_read_end(d->rcu, reader);
		fprintf(f, "shard.%u.warm.blocks %llu\nshard.%u.warm.bytes %llu\n"
			"shard.%u.warm.points %llu\nshard.%u.cold.blocks %llu\n"
			"shard.%u.cold.bytes %llu\nshard.%u.cold.points %llu\n"
			"shard.%u.checkpoints %llu\nshard.%u.checkpoint_lsn %llu\n"
			"shard.%u.quarantined %llu\nshard.%u.disk_low %d\n",
			i, (unsigned long long)st.blocks[ST_TIER_WARM], i,
			(unsigned long long)st.block_bytes[ST_TIER_WARM], i,
			(unsigned long long)st.block_points[ST_TIER_WARM], i,
			(unsigned long long)st.blocks[ST_TIER_COLD], i,
			(unsigned long long)st.block_bytes[ST_TIER_COLD], i,
			(unsigned long long)st.block_points[ST_TIER_COLD], i,
			(unsigned long long)st.checkpoints, i, (unsigned long long)st.checkpoint_lsn, i,
			(unsigned long long)st.blocks_quarantined, i, st.disk_low);
	}
	pool_put(&s->readers, slot);
	int rc = fclose(f) ? -ENOMEM : fn(arg, text, len);
	free(text);
	return rc;
}

void mg_svc_shutdown(struct mg_svc *s)
{
	(void)s;
	kill(getpid(), SIGTERM); /* the main thread waits for it in sigwait */
}

const char *mg_svc_version(const struct mg_svc *s)
{
	(void)s;
	return SF_VERSION_STRING;
}

bool mg_svc_healthy(const struct mg_svc *s)
{
	return s->d->stores != NULL;
}

/* ------------------------------------------------------------ life */

static void index_job(void *arg)
{
	struct mg_svc *s = arg;
	int64_t n = mg_index_sync(s->index, s->index_reader);
	if (n < 0)
		CM_LOG_RL(CM_LOG_WARN, "svc", "event=index_sync_failed err=%s", strerror((int)-n));
}

static int create_writers(struct mg_svc *s)
{
	const struct cm_config *c = s->d->cfg;
	struct mg_writer_cfg wc = {
		.injects = s->d->injects, .stores = s->d->stores, .nshards = s->d->nshards,
		.default_db = s->default_db,
		.durable = cm_config_enum(c, "wal.durability") == ST_WAL_SYNC,
		.timeout_ns = cm_config_int(c, "mgmt.write_timeout"),
		.batch_points = (uint32_t)cm_config_int(c, "mgmt.write_batch"),
	};
	s->nwriters = (uint32_t)cm_config_int(c, "mgmt.writers");
	s->writers = calloc(s->nwriters, sizeof(*s->writers));
	int rc = s->writers ? pool_init(&s->writer_pool, s->nwriters) : -ENOMEM;
	for (uint32_t i = 0; i < s->nwriters && rc == 0; i++) {
		rc = mg_writer_create(&wc, &s->writers[i]);
		if (rc == 0)
			pool_put(&s->writer_pool, (int)i);
	}
	return rc;
}

#define DECODE_THREADS_DEFAULT_MAX 4

/*
 * The decode helpers: by default one per management core but the first
 * (the query thread's), at most DECODE_THREADS_DEFAULT_MAX and at most half
 * the reader slots left, so queries keep the rest (mgmt.readers); with the
 * management plane on one core (a 2-core machine: the other is the
 * worker's), none. They take their slots before the query pool takes the
 * rest; an explicit mgmt.decode_threads that does not fit fails the start.
 */
static int create_decoders(struct mg_svc *s)
{
	int64_t n = cm_config_int(s->d->cfg, "mgmt.decode_threads");
	if (n < 0) {
		/* unpinned: the CPUs the workers leave (they poll), as if pinned */
		cpu_set_t set;
		int64_t online = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
		int64_t cpus = s->d->pinned ? (int64_t)s->d->plan.nmgmt_cpus
					    : online - (int64_t)s->d->nshards;
		int64_t slots = (int64_t)st_rcu_readers_free(s->d->rcu) / 2;
		n = CM_MIN(cpus - 1, (int64_t)DECODE_THREADS_DEFAULT_MAX);
		n = CM_MIN(n, slots);
		n = CM_MAX(n, (int64_t)0);
	}
	int rc = mg_decode_pool_create(s->d->rcu, (uint32_t)n, &s->decode);
	if (rc == 0)
		CM_LOG_INFO("svc", "event=decode_helpers threads=%u", (unsigned)n);
	return rc;
}

static int create_readers(struct mg_svc *s)
{
	/* every reader slot the domain has left, but one for the index job */
	int ids[ST_RCU_MAX_READERS];
	uint32_t n = 0;
	s->index_reader = st_rcu_reader_register(s->d->rcu);
	if (s->index_reader < 0)
		return -ENOSPC;
	for (int id; n < ST_RCU_MAX_READERS && (id = st_rcu_reader_register(s->d->rcu)) >= 0;)
		ids[n++] = id;
	if (n == 0)
		return -ENOSPC;
	s->reader_ids = malloc(n * sizeof(*s->reader_ids));
	int rc = s->reader_ids ? pool_init(&s->readers, n) : -ENOMEM;
	if (rc) { /* mg_svc_destroy only knows the slots in the pool */
		for (uint32_t i = 0; i < n; i++)
			st_rcu_reader_unregister(s->d->rcu, ids[i]);
		return rc;
	}
	for (uint32_t i = 0; i < n; i++) {
		s->reader_ids[i] = ids[i];
		pool_put(&s->readers, (int)i);
	}
	return 0;
}

int mg_svc_create(struct mg_daemon *d, struct mg_svc **out, char *err, size_t errlen)
{
	struct mg_svc *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->index_reader = -1;
	s->default_db = cm_config_str(d->cfg, "mgmt.database");
	pthread_mutex_init(&s->reg_lock, NULL);
	pthread_mutex_init(&s->flush_lock, NULL);
	s->query_h.name = "query.duration_seconds";
	s->query_h.help = "time to answer a query request";
	s->write_h.name = "write.duration_seconds";
	s->write_h.help = "time to store and acknowledge a write request";
	const struct cm_config *c = d->cfg;
	s->limits = (struct mg_exec_limits){
		.max_points = (uint64_t)cm_config_int(c, "mgmt.query_max_points"),
		.max_series = (uint64_t)cm_config_int(c, "mgmt.query_max_series"),
		.max_buckets = (uint64_t)cm_config_int(c, "mgmt.query_max_buckets"),
		.max_memory_bytes = (size_t)cm_config_int(c, "mgmt.query_max_memory"),
		.timeout_ns = cm_config_int(c, "mgmt.query_timeout"),
	};
	s->dbs = d->dbs;
	int rc = 0;
	if ((rc = mg_index_create(d->stores, d->nshards, d->rcu, &s->index)) != 0)
		snprintf(err, errlen, "cannot create the series index: %s", strerror(-rc));
	if (rc == 0 && (rc = create_decoders(s)) != 0)
		snprintf(err, errlen, "cannot start the decode helpers: %s (mgmt.decode_threads, "
			 "mgmt.readers)", strerror(-rc));
	if (rc == 0 && (rc = create_readers(s)) != 0)
		snprintf(err, errlen, "no QSBR reader slots left for queries (mgmt.readers)");
	if (rc == 0 && (rc = create_writers(s)) != 0)
		snprintf(err, errlen, "cannot create writers: %s (mgmt.writers)", strerror(-rc));
	if (rc == 0) {
		int64_t t0 = cm_now_ns();
		int64_t n = mg_index_sync(s->index, s->index_reader);
		CM_LOG_INFO("svc", "event=indexed series=%lld ms=%lld", (long long)n,
			    (long long)((cm_now_ns() - t0) / CM_NS_PER_MS));
		rc = mg_job_start(cm_config_int(c, "mgmt.index_interval"), false, index_job, s,
				  &s->index_job);
		if (rc)
			snprintf(err, errlen, "cannot start the index job: %s", strerror(-rc));
	}
	if (rc) {
		mg_svc_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void mg_svc_destroy(struct mg_svc *s)
{
	if (!s)
		return;
	mg_job_stop(s->index_job);
	mg_decode_pool_destroy(s->decode);
	for (uint32_t i = 0; s->writers && i < s->nwriters; i++)
		mg_writer_destroy(s->writers[i]);
	free(s->writers);
	pool_release(&s->writer_pool);
	for (uint32_t i = 0; s->reader_ids && i < s->readers.size; i++)
		st_rcu_reader_unregister(s->d->rcu, s->reader_ids[i]);
	free(s->reader_ids);
	pool_release(&s->readers);
	if (s->index_reader >= 0)
		st_rcu_reader_unregister(s->d->rcu, s->index_reader);
	mg_index_destroy(s->index);
	pthread_mutex_destroy(&s->reg_lock);
	pthread_mutex_destroy(&s->flush_lock);
	free(s);
}
