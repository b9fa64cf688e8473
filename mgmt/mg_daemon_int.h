/*
 * mg_daemon_int.h - the daemon's parts, for the management-plane modules
 * that read them (mg_stats.c). Not an API: main thread builds it, the
 * readers only read counters through each part's stats function.
 */
#ifndef MG_DAEMON_INT_H
#define MG_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cm_config.h"
#include "dp_agg.h"
#include "dp_inject.h"
#include "dp_place.h"
#include "dp_rx.h"
#include "dp_worker.h"
#include "mg_job.h"
#include "mg_statsd.h"
#include "st_flush.h"
#include "st_rcu.h"
#include "st_store.h"
#include "st_walio.h"

struct mg_worker {
	struct mg_daemon *d;
	struct dp_worker *w;
	pthread_t thread;
	bool started;
	int rc;                 /* dp_worker_run's result */
	int os_cpu;             /* -1: not pinned */
};

struct mg_daemon {
	const struct cm_config *cfg;
	int lock_fd;
	struct st_rcu *rcu;
	int stats_reader;       /* the stats writer's QSBR reader id */
	uint32_t nshards;
	struct st_store **stores;
	struct dp_backend *backend;
	struct dp_topo *topo;
	struct dp_place_plan plan;
	bool pinned;
	struct dp_inject **injects;
	struct dp_agg **aggs;
	struct mg_worker *workers;
	struct mg_statsd *statsd;
	struct st_flush *flush;
	struct mg_dbs *dbs;           /* the database catalog (mg_db.h) */
	struct st_walio *walio;
	int64_t started_ns;
	struct mg_job *stats_job;   /* the stats writer */
	struct mg_svc *svc;         /* queries, writes, counters for the front-ends */
	struct mg_http *http;       /* the InfluxDB-compatible HTTP API */
	struct mg_ctl *ctl;         /* the management socket */
	struct mg_watch *watch;     /* the streaming detectors (detect.rules), or NULL */
};

struct mg_http;
struct mg_ctl;
struct mg_svc;
extern const struct cm_cfg_table mg_svc_cfg_table;
/* The service over a started daemon (stores, workers, flusher running). 0 or -errno with err. */
int mg_svc_create(struct mg_daemon *d, struct mg_svc **out, char *err, size_t errlen);
/* Before the workers stop: its writers wait for their batches. NULL ok. */
void mg_svc_destroy(struct mg_svc *s);

#endif /* MG_DAEMON_INT_H */
