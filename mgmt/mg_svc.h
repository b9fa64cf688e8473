/*
 * mg_svc.h - the management plane's service: what the front-ends (the HTTP
 * API, mg_http.c; the management socket, mg_ctl.c) may ask of a running
 * daemon. Queries, writes, counters, configuration, flush, tier status,
 * the running-query registry, shutdown. The front-ends only translate
 * requests and responses; every decision is made here or below.
 *
 * Threads: every function may be called from any management thread,
 * concurrently (front-ends run a thread per connection or a pool). None is
 * called from the dataplane. Queries run on the calling thread and read the
 * shards under one of the daemon's QSBR reader slots (mgmt.readers bounds
 * how many run at once; more wait for a slot).
 */
#ifndef MG_SVC_H
#define MG_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_result.h"
#include "mg_write.h"

struct mg_svc;

/* ---------------------------------------------------------------- queries */

struct mg_query_req {
	const char *text;         /* borrowed: TSQL, one or more statements */
	size_t len;
	const char *db;           /* the request's database (db=), NULL: default */
	const char *origin;       /* who asks, for SHOW QUERIES: "http 127.0.0.1:5512" */
	int64_t now_ns;           /* 0: the wall clock when the query starts */
};

/*
 * Run a request. A text that does not parse gives -EINVAL with the parser's
 * message in err (InfluxDB answers that with 400 and {"error": ...}).
 * Otherwise 0 and *out (owned by the caller: mg_result_free) with one
 * result per statement; a statement that fails (unknown function, guardrail,
 * timeout, killed) has its error there and the following statements still
 * run, as in InfluxDB. -ENOMEM.
 */
int mg_svc_query(struct mg_svc *svc, const struct mg_query_req *req, struct mg_result **out,
		 char *err, size_t errlen);

/* A running query, for SHOW QUERIES and the socket's `queries`. */
struct mg_query_info {
	uint64_t id;
	const char *text;         /* borrowed for the callback */
	const char *db;
	const char *origin;
	int64_t started_ns;
	uint64_t points_scanned;
	bool killed;
};
typedef int (*mg_query_fn)(void *arg, const struct mg_query_info *q);
/* Call fn for each running query (under the registry lock: do not call back in). */
int mg_svc_queries(struct mg_svc *svc, mg_query_fn fn, void *arg);
/* Ask query id to stop; it ends with "query killed". 0 or -ENOENT. */
int mg_svc_kill(struct mg_svc *svc, uint64_t id);

/* ----------------------------------------------------------------- writes */

/*
 * Store a line-protocol body (mg_write.h) through one of the service's
 * writers (waits for a free one). Returns what mg_writer_write returns, or
 * -ENOENT when req->db names a database that does not exist (InfluxDB: 404
 * "database not found").
 */
int mg_svc_write(struct mg_svc *svc, const struct mg_write_req *req, struct mg_write_report *rep);

/* Largest body a front-end may accept (http.max_body): 413 above it. */
size_t mg_svc_max_body(const struct mg_svc *svc);

/* --------------------------------------------------------------- counters */

enum mg_stat_kind {
	MG_STAT_COUNTER,          /* only grows */
	MG_STAT_GAUGE,
};

/*
 * One counter. name is dotted and lowercase ("rx.drop.bad_proto",
 * "store.wal.bytes_written"); the Prometheus exporter maps it to
 * streamflow_rx_drop_bad_proto (counters get _total).
 */
struct mg_stat {
	const char *name;
	uint64_t value;
	enum mg_stat_kind kind;
};
typedef int (*mg_stat_fn)(void *arg, const struct mg_stat *s);

/*
 * Every counter of the daemon: dataplane receive and loss accounting by
 * cause, decoders, workers, StatsD, stores, WAL, blocks, index, HTTP,
 * queries. Stops at and returns the callback's nonzero value; else 0.
 */
int mg_svc_stats(struct mg_svc *svc, mg_stat_fn fn, void *arg);

/* A latency histogram (cumulative buckets, as Prometheus wants them). */
#define MG_HISTO_BUCKETS 16
struct mg_histo {
	const char *name;         /* "query.duration_seconds" */
	const char *help;
	uint32_t nbuckets;
	double le[MG_HISTO_BUCKETS];          /* upper bounds, seconds; +Inf implied */
	uint64_t cumulative[MG_HISTO_BUCKETS];
	uint64_t count;
	double sum;               /* seconds */
};
typedef int (*mg_histo_fn)(void *arg, const struct mg_histo *h);
int mg_svc_histograms(struct mg_svc *svc, mg_histo_fn fn, void *arg);

/* Front-ends report their own requests here (for /metrics). */
enum mg_front {
	MG_FRONT_HTTP,
	MG_FRONT_SOCKET,
};
enum mg_req_kind {
	MG_REQ_QUERY,
	MG_REQ_WRITE,
	MG_REQ_OTHER,
};
void mg_svc_note_request(struct mg_svc *svc, enum mg_front front, enum mg_req_kind kind,
			 int status, int64_t elapsed_ns);

/* ------------------------------------------------------------- operations */

/* The whole configuration, one "key = value" line each, through fn. */
int mg_svc_config(struct mg_svc *svc, mg_write_fn fn, void *arg);

/*
 * Checkpoint every shard now (seal hot chunks, write blocks); returns when
 * done. 0 or -errno.
 */
int mg_svc_flush(struct mg_svc *svc);

/*
 * Retention and tiering status, one "name value" line each (per shard and
 * in total: blocks and bytes per tier, oldest and newest block time,
 * retention rules, cold_after, last checkpoint).
 */
int mg_svc_tiers(struct mg_svc *svc, mg_write_fn fn, void *arg);

/* Ask the daemon to stop (as SIGTERM does); returns at once. */
void mg_svc_shutdown(struct mg_svc *svc);

/* The daemon's version string ("0.1.0"), for X-Influxdb-Version. */
const char *mg_svc_version(const struct mg_svc *svc);
/* True while the daemon is up and its stores are open (GET /health). */
bool mg_svc_healthy(const struct mg_svc *svc);

#endif /* MG_SVC_H */
