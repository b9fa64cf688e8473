/*
 * mg_daemon.c - see mg_daemon.h. Start-up and shutdown only; nothing here
 * runs per point.
 *
 * Start: data directory lock, reclamation domain, one store per worker
 * (recovered), the database catalog (the stores ask it which series a DROP
 * DATABASE deleted), the receive backend, placement, per worker an injector, an
 * aggregator and a worker thread pinned to its cpu; then, bound to the
 * management cpus, the WAL I/O thread, the flusher, the StatsD job and the
 * stats writer.
 *
 * Stop (nothing acknowledged is lost, nothing received and decoded is
 * dropped): workers stop receiving; the StatsD job flushes a last time
 * through the still-running workers; the flusher stops (then the catalog
 * closes); the workers insert
 * what is pending and leave; the WAL I/O thread stops; the stores close
 * (WAL synced); the backend closes; a last stats file is written.
 */
#include "mg_daemon.h"
#include "mg_daemon_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_compiler.h"
#include "cm_fs.h"
#include "cm_log.h"
#include "cm_clock.h"
#include "dp_dpdk.h"
#include "dp_place.h"
#include "dp_sock.h"
#include "mg_db.h"
#include "mg_ctl.h"
#include "mg_http.h"
#include "mg_stats.h"
#include "mg_svc.h"
#include "mg_watch.h"
#include "st_flush.h"
#include "st_rcu.h"
#include "st_store.h"
#include "st_walio.h"

static const struct cm_cfg_key daemon_keys[] = {
	{"data_dir", CM_CFG_STR, "./var/data", 0, 0, NULL, false,
	 "directory for all stored data (created if missing)"},
	{"log.level", CM_CFG_ENUM, "info", 0, 0, "err|warn|info|debug", true,
	 "log verbosity"},
	{"backend", CM_CFG_ENUM, "socket", 0, 0, "socket|dpdk", false,
	 "receive backend: kernel sockets with io_uring, or DPDK poll-mode ports"},
	{"dataplane.workers", CM_CFG_INT, "1", 1, DP_PLACE_WORKERS_MAX, NULL, false,
	 "dataplane cores, each owning one shard"},
	{"dataplane.pin", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "pin workers to their own cores and management threads to the others"},
	{"dataplane.smt", CM_CFG_BOOL, "false", 0, 0, NULL, false,
	 "workers may use the second hardware thread of a core"},
	{"dataplane.topology", CM_CFG_STR, "", 0, 0, NULL, false,
	 "hwloc synthetic topology to plan on instead of the machine's (tests)"},
	{"mgmt.readers", CM_CFG_INT, "16", 4, ST_RCU_MAX_READERS, NULL, false,
	 "management-plane threads that may read shards concurrently"},
	{"stats.file", CM_CFG_STR, "", 0, 0, NULL, false,
	 "write every counter to this file (replaced atomically) each stats.interval and at stop"},
	{"stats.interval", CM_CFG_DURATION, "10s", 10 * CM_NS_PER_MS, 24 * 3600 * CM_NS_PER_SEC,
	 NULL, false, "how often the stats file is rewritten"},
};

static const struct cm_cfg_table daemon_cfg_table = {
	.module = "daemon",
	.keys = daemon_keys,
	.nkeys = CM_ARRAY_SIZE(daemon_keys),
};

const struct cm_cfg_table *const mg_daemon_cfg_tables[] = {
	&daemon_cfg_table,
	&st_shard_cfg_table,
	&st_wal_cfg_table,
	&st_store_cfg_table,
	&dp_rx_cfg_table,
	&dp_worker_cfg_table,
	&dp_sock_cfg_table,
	&dp_dpdk_cfg_table,
	&dp_agg_cfg_table,
	&mg_svc_cfg_table,
	&mg_http_cfg_table,
	&mg_ctl_cfg_table,
	&mg_watch_cfg_table,
	NULL,
};

size_t mg_daemon_cfg_ntables(void)
{
	return CM_ARRAY_SIZE(mg_daemon_cfg_tables) - 1;
}

/* ------------------------------------------------------------ workers */

static void *worker_main(void *arg)
{
	struct mg_worker *mw = arg;
	if (mw->os_cpu >= 0 && dp_place_bind_self(mw->d->topo, (unsigned)mw->os_cpu))
		CM_LOG_WARN("daemon", "event=bind_failed worker=%u cpu=%d",
			    (unsigned)(mw - mw->d->workers), mw->os_cpu);
	mw->rc = dp_worker_run(mw->w);
	if (mw->rc)
		CM_LOG_ERR("daemon", "event=worker_failed worker=%u err=%s",
			   (unsigned)(mw - mw->d->workers), strerror(-mw->rc));
	return NULL;
}

/*
 * Where threads run: workers on their own cores, the management threads
 * (this one and every thread it starts afterwards) on the others. A machine
 * too small for that runs unpinned, said in the log.
 */
static void plan_placement(struct mg_daemon *d, int port_numa_node)
{
	const struct cm_config *cfg = d->cfg;
	d->pinned = false;
	if (!cm_config_bool(cfg, "dataplane.pin"))
		return;
	const char *synth = cm_config_str(cfg, "dataplane.topology");
	int rc = d->topo ? 0 : dp_topo_load(synth[0] ? synth : NULL, &d->topo);
	if (rc) {
		CM_LOG_WARN("daemon", "event=unpinned reason=\"topology: %s\"", strerror(-rc));
		return;
	}
	struct dp_place_cfg pc = {
		.workers = d->nshards,
		.port_numa_node = port_numa_node,
		.use_smt_siblings = cm_config_bool(cfg, "dataplane.smt"),
		.mgmt_threads = 4,
	};
	char err[256];
	rc = dp_place_plan(d->topo, &pc, &d->plan, err, sizeof(err));
	if (rc) {
		CM_LOG_WARN("daemon", "event=unpinned reason=\"%s\"", err);
		return;
	}
	d->pinned = !synth[0]; /* a synthetic plan is logged, not applied */
	for (uint32_t i = 0; i < d->plan.nworkers; i++)
		CM_LOG_INFO("daemon", "event=placement worker=%u cpu=%u numa=%u%s", i,
			    d->plan.workers[i].os_cpu, d->plan.workers[i].numa_node,
			    d->pinned ? "" : " applied=false");
	CM_LOG_INFO("daemon", "event=placement mgmt_cpus=%u first=%u shared_core=%d remote_workers=%u",
		    d->plan.nmgmt_cpus, d->plan.nmgmt_cpus ? d->plan.mgmt_cpus[0] : 0,
		    d->plan.shared_core, d->plan.remote_workers);
	/* This thread, and every thread it starts from here on (the EAL's among them),
	 * is a management thread; the workers bind themselves to their own cpus. */
	if (d->pinned && dp_place_bind_self_cpus(d->topo, d->plan.mgmt_cpus, d->plan.nmgmt_cpus))
		CM_LOG_WARN("daemon", "event=bind_failed who=mgmt");
}

static int create_backend(struct mg_daemon *d, int eal_argc, char **eal_argv, char *err,
			  size_t errlen)
{
	struct dp_rx_cfg rx;
	int rc = dp_rx_cfg_from(d->cfg, &rx, err, errlen);
	if (rc)
		return rc;
	if (cm_config_enum(d->cfg, "backend") == 1) {
		struct dp_dpdk_cfg dc;
		dp_dpdk_cfg_default(&dc);
		rc = dp_dpdk_cfg_from(d->cfg, &dc, err, errlen);
		if (rc == 0)
			rc = dp_dpdk_create(&rx, &dc, d->nshards, eal_argc, eal_argv, &d->backend, err,
					    errlen);
		return rc;
	}
	if (eal_argc > 0) {
		snprintf(err, errlen, "EAL arguments after '--' need backend=dpdk");
		return -EINVAL;
	}
	struct dp_sock_cfg sc;
	dp_sock_cfg_default(&sc);
	rc = dp_sock_cfg_from(d->cfg, &sc, err, errlen);
	if (rc == 0)
		rc = dp_sock_create(&rx, &sc, d->nshards, &d->backend, err, errlen);
	return rc;
}

static int start_workers(struct mg_daemon *d, char *err, size_t errlen)
{
	struct dp_agg_cfg ac;
	dp_agg_cfg_default(&ac);
	int rc = dp_agg_cfg_from(d->cfg, &ac, err, errlen);
	if (rc)
		return rc;
	d->injects = calloc(d->nshards, sizeof(*d->injects));
	d->aggs = calloc(d->nshards, sizeof(*d->aggs));
	d->workers = calloc(d->nshards, sizeof(*d->workers));
	if (!d->injects || !d->aggs || !d->workers)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nshards; i++) {
		int node = d->pinned ? (int)d->plan.workers[i].numa_node : -1;
		rc = dp_inject_create(8, 64, &d->injects[i]);
		if (rc == 0)
			rc = dp_agg_create(&ac, node, &d->aggs[i]);
		struct dp_worker_cfg wc = {
			.id = i, .backend = d->backend, .store = d->stores[i],
			.inject = d->injects[i], .agg = d->aggs[i],
		};
		dp_worker_cfg_from(d->cfg, &wc);
		if (rc == 0)
			rc = dp_worker_create(&wc, &d->workers[i].w);
		if (rc) {
			snprintf(err, errlen, "cannot create worker %u: %s", i, strerror(-rc));
			return rc;
		}
		d->workers[i].d = d;
		d->workers[i].os_cpu = d->pinned ? (int)d->plan.workers[i].os_cpu : -1;
	}
	for (uint32_t i = 0; i < d->nshards; i++) {
		if (pthread_create(&d->workers[i].thread, NULL, worker_main, &d->workers[i])) {
			snprintf(err, errlen, "cannot start worker thread %u", i);
			return -EAGAIN;
		}
		d->workers[i].started = true;
	}
	rc = mg_statsd_start(&ac, d->aggs, d->injects, d->stores, d->nshards, &d->statsd);
	if (rc)
		snprintf(err, errlen, "cannot start the StatsD flush job: %s", strerror(-rc));
	return rc;
}

static void stop_workers(struct mg_daemon *d)
{
	for (uint32_t i = 0; d->workers && i < d->nshards; i++)
		if (d->workers[i].started)
			dp_worker_stop(d->workers[i].w);
	for (uint32_t i = 0; d->workers && i < d->nshards; i++)
		if (d->workers[i].started)
			pthread_join(d->workers[i].thread, NULL);
}

/* ------------------------------------------------------------ stats writer */

static void write_stats(void *arg)
{
	struct mg_daemon *d = arg;
	mg_stats_write_file(d, cm_config_str(d->cfg, "stats.file"));
}

static int start_stats(struct mg_daemon *d)
{
	if (!cm_config_str(d->cfg, "stats.file")[0])
		return 0;
	return mg_job_start(cm_config_int(d->cfg, "stats.interval"), false, write_stats, d,
			    &d->stats_job);
}

/* ------------------------------------------------------------ start, stop */

/* The stop order of the file comment; every step accepts a part never started. */
static void stop_all(struct mg_daemon *d)
{
	/* no new requests; writes in flight finish through the running workers */
	mg_http_stop(d->http);
	d->http = NULL;
	mg_ctl_stop(d->ctl);
	d->ctl = NULL;
	mg_watch_stop(d->watch); /* a client of the service */
	d->watch = NULL;
	mg_svc_destroy(d->svc);
	d->svc = NULL;
	for (uint32_t i = 0; d->workers && i < d->nshards; i++)
		if (d->workers[i].w)
			dp_worker_stop_rx(d->workers[i].w);
	mg_statsd_stop(d->statsd);
	d->statsd = NULL;
	mg_job_stop(d->stats_job);
	d->stats_job = NULL;
	st_flush_destroy(d->flush);
	d->flush = NULL;
	mg_dbs_close(d->dbs); /* after the flusher, its last user */
	d->dbs = NULL;
	stop_workers(d);
	st_walio_stop(d->walio);
	d->walio = NULL;
	if (cm_config_str(d->cfg, "stats.file")[0] && d->stores)
		mg_stats_write_file(d, cm_config_str(d->cfg, "stats.file"));
	for (uint32_t i = 0; d->stores && i < d->nshards; i++)
		st_store_close(d->stores[i]);
	if (d->backend)
		d->backend->ops->destroy(d->backend);
	d->backend = NULL;
	for (uint32_t i = 0; i < d->nshards; i++) {
		if (d->workers)
			dp_worker_destroy(d->workers[i].w);
		if (d->aggs)
			dp_agg_destroy(d->aggs[i]);
		if (d->injects)
			dp_inject_destroy(d->injects[i]);
	}
	free(d->workers);
	free(d->aggs);
	free(d->injects);
	free(d->stores);
	d->workers = NULL;
	d->aggs = NULL;
	d->injects = NULL;
	d->stores = NULL;
	dp_topo_destroy(d->topo);
	d->topo = NULL;
}

static bool series_deleted(void *arg, struct st_str name)
{
	return mg_dbs_deleted(arg, name);
}

/* The database catalog; the stores delete the series of dropped databases through it. */
static int open_catalog(struct mg_daemon *d, const char *dir, char *err, size_t errlen)
{
	const char *db = cm_config_str(d->cfg, "mgmt.database");
	if (!mg_db_name_valid(db, strlen(db))) {
		snprintf(err, errlen, "invalid mgmt.database '%s'", db);
		return -EINVAL;
	}
	int rc = mg_dbs_open(dir, db, &d->dbs);
	if (rc) {
		snprintf(err, errlen, "cannot open the database catalog: %s", strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < d->nshards; i++)
		st_store_set_deleted(d->stores[i], series_deleted, d->dbs);
	return 0;
}

static int open_stores(struct mg_daemon *d, const char *dir, char *err, size_t errlen)
{
	const char *cold = cm_config_str(d->cfg, "storage.cold_dir");
	d->stores = calloc(d->nshards, sizeof(*d->stores));
	if (!d->stores)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nshards; i++) {
		struct st_store_cfg sc;
		char sdir[PATH_MAX], cdir[PATH_MAX];
		st_store_cfg_default(&sc);
		int rc = st_store_cfg_from(d->cfg, &sc, err, errlen);
		if (rc)
			return rc;
		snprintf(sdir, sizeof(sdir), "%s/shard-%03u", dir, i);
		snprintf(cdir, sizeof(cdir), "%s/shard-%03u", cold, i);
		sc.shard_id = i;
		sc.numa_node = d->pinned ? (int)d->plan.workers[i].numa_node : -1;
		sc.dir = sdir;
		sc.cold_dir = cold[0] ? cdir : NULL;
		sc.rcu = d->rcu;
		struct st_store_recovery rec;
		rc = st_store_open(&sc, &d->stores[i], &rec);
		if (rc) {
			snprintf(err, errlen, "cannot open shard %u in '%s': %s", i, sdir, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int mg_daemon_start(const struct cm_config *cfg, int eal_argc, char **eal_argv,
		    struct mg_daemon **out, char *err, size_t errlen)
{
	enum cm_log_level lvl;
	static const char *const levels[] = {"err", "warn", "info", "debug"};
	if (cm_log_parse_level(levels[cm_config_enum(cfg, "log.level")], &lvl) == 0)
		cm_log_set_level(lvl);

	/* Every open block keeps a descriptor: take all the descriptors we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	struct mg_daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->lock_fd = -1;
	d->stats_reader = -1;
	d->started_ns = cm_now_ns();
	d->nshards = (uint32_t)cm_config_int(cfg, "dataplane.workers");

	const char *dir = cm_config_str(cfg, "data_dir");
	int rc = cm_mkdir_p(dir);
	if (rc) {
		snprintf(err, errlen, "cannot create data_dir '%s': %s", dir, strerror(-rc));
		goto err_free;
	}
	rc = cm_fs_lock_dir(dir, &d->lock_fd, err, errlen);
	if (rc)
		goto err_free;
	rc = st_rcu_create((uint32_t)cm_config_int(cfg, "mgmt.readers"), &d->rcu);
	if (rc) {
		snprintf(err, errlen, "cannot create the reclamation domain: %s", strerror(-rc));
		goto err_unlock;
	}
	d->stats_reader = st_rcu_reader_register(d->rcu);
	plan_placement(d, -1);
	rc = create_backend(d, eal_argc, eal_argv, err, errlen);
	/* DPDK: workers and their shards go on the NUMA node of the ports when it is known */
	if (rc == 0 && cm_config_enum(cfg, "backend") == 1 && dp_dpdk_numa_node(d->backend) >= 0)
		plan_placement(d, dp_dpdk_numa_node(d->backend));
	if (rc == 0)
		rc = open_stores(d, dir, err, errlen);
	if (rc == 0)
		rc = open_catalog(d, dir, err, errlen);
	if (rc == 0)
		rc = start_workers(d, err, errlen);
	if (rc == 0 && cm_config_bool(cfg, "wal.io_thread") &&
	    cm_config_enum(cfg, "wal.durability") != ST_WAL_NONE) {
		rc = st_walio_start(d->stores, d->nshards,
				    cm_config_int(cfg, "wal.io_idle_us") * CM_NS_PER_US,
				    cm_config_int(cfg, "wal.io_idle_max_us") * CM_NS_PER_US, &d->walio);
		if (rc)
			snprintf(err, errlen, "cannot start the WAL I/O thread: %s", strerror(-rc));
	}
	if (rc == 0) {
		struct st_flush_cfg fc;
		st_flush_cfg_from(cfg, &fc);
		rc = st_flush_create(&fc, d->rcu, d->stores, d->nshards, &d->flush);
		if (!rc)
			rc = st_flush_start(d->flush);
		if (rc)
			snprintf(err, errlen, "cannot start the storage flusher: %s", strerror(-rc));
	}
	if (rc == 0 && (rc = start_stats(d)) != 0)
		snprintf(err, errlen, "cannot start the stats writer");
	if (rc == 0)
		rc = mg_svc_create(d, &d->svc, err, errlen);
	if (rc == 0)
		rc = mg_watch_start(cfg, d->svc, &d->watch, err, errlen);
	if (rc == 0)
		rc = mg_http_start(cfg, d->svc, &d->http, err, errlen);
	if (rc == 0)
		rc = mg_ctl_start(cfg, d->svc, &d->ctl, err, errlen);
	if (rc)
		goto err_stop;
	CM_LOG_INFO("daemon", "event=ready pid=%d data_dir=%s shards=%u backend=%s durability=%s",
		    (int)getpid(), dir, d->nshards, d->backend->ops->name,
		    st_wal_durability_name((enum st_wal_durability)cm_config_enum(cfg, "wal.durability")));
	*out = d;
	return 0;

err_stop:
	stop_all(d);
	if (d->stats_reader >= 0)
		st_rcu_reader_unregister(d->rcu, d->stats_reader);
	st_rcu_destroy(d->rcu);
err_unlock:
	close(d->lock_fd);
err_free:
	free(d);
	return rc;
}

void mg_daemon_stop(struct mg_daemon *d)
{
	if (!d)
		return;
	stop_all(d);
	if (d->stats_reader >= 0)
		st_rcu_reader_unregister(d->rcu, d->stats_reader);
	st_rcu_destroy(d->rcu);
	close(d->lock_fd); /* releases the flock */
	CM_LOG_INFO("daemon", "event=stopped");
	free(d);
}
