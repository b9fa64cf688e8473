/*
 * mg_daemon.c - see mg_daemon.h. Start-up and shutdown only; nothing here
 * runs per point.
 */
#include "mg_daemon.h"

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
#include "st_flush.h"
#include "st_rcu.h"
#include "st_store.h"
#include "st_walio.h"

static const struct cm_cfg_key daemon_keys[] = {
	{"data_dir", CM_CFG_STR, "./var/data", 0, 0, NULL, false,
	 "directory for all stored data (created if missing)"},
	{"log.level", CM_CFG_ENUM, "info", 0, 0, "err|warn|info|debug", true,
	 "log verbosity"},
	{"dataplane.workers", CM_CFG_INT, "1", 1, 128, NULL, false,
	 "dataplane cores, each owning one shard"},
	{"mgmt.readers", CM_CFG_INT, "8", 1, ST_RCU_MAX_READERS, NULL, false,
	 "management-plane threads that may read shards concurrently"},
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
	NULL,
};

size_t mg_daemon_cfg_ntables(void)
{
	return CM_ARRAY_SIZE(mg_daemon_cfg_tables) - 1;
}

/*
 * Until the dataplane's poll loops own the stores (they will call
 * st_store_poll between bursts), each store gets a thread that polls it:
 * WAL I/O, memory reclamation and the flusher's requests.
 */
struct owner {
	struct st_store *store;
	pthread_t thread;
	_Atomic bool stop;
	bool started;
};

struct mg_daemon {
	const struct cm_config *cfg;
	int lock_fd;
	struct st_rcu *rcu;
	uint32_t nshards;
	struct st_store **stores;
	struct owner *owners;
	struct st_flush *flush;
	struct st_walio *walio;
};

static void *owner_main(void *arg)
{
	struct owner *o = arg;
	while (!atomic_load_explicit(&o->stop, memory_order_relaxed)) {
		st_store_poll(o->store);
		cm_sleep_ns(200 * CM_NS_PER_US);
	}
	return NULL;
}

/* One daemon per data directory: an flock on data_dir/LOCK holding our pid. */
static int lock_data_dir(const char *dir, int *fd_out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/LOCK", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		char pid[32] = "?";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 1] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "data_dir '%s' is in use by another streamflowd (pid %s)", dir,
			 pid);
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		CM_LOG_WARN("daemon", "event=lock_pid_write_failed path=%s", path);
	*fd_out = fd;
	return 0;
}

/* Stop the flusher, the owners, the WAL I/O thread, then close the stores (WAL synced). */
static void stop_storage(struct mg_daemon *d)
{
	st_flush_destroy(d->flush);
	d->flush = NULL;
	for (uint32_t i = 0; d->owners && i < d->nshards; i++) {
		if (!d->owners[i].started)
			continue;
		atomic_store(&d->owners[i].stop, true);
		pthread_join(d->owners[i].thread, NULL);
	}
	st_walio_stop(d->walio);
	d->walio = NULL;
	for (uint32_t i = 0; d->stores && i < d->nshards; i++)
		st_store_close(d->stores[i]);
	free(d->owners);
	free(d->stores);
	d->owners = NULL;
	d->stores = NULL;
}

int mg_daemon_start(const struct cm_config *cfg, struct mg_daemon **out, char *err, size_t errlen)
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

	const char *dir = cm_config_str(cfg, "data_dir");
	int rc = cm_mkdir_p(dir);
	if (rc) {
		snprintf(err, errlen, "cannot create data_dir '%s': %s", dir, strerror(-rc));
		goto err_free;
	}
	rc = lock_data_dir(dir, &d->lock_fd, err, errlen);
	if (rc)
		goto err_free;

	rc = st_rcu_create((uint32_t)cm_config_int(cfg, "mgmt.readers"), &d->rcu);
	if (rc) {
		snprintf(err, errlen, "cannot create the reclamation domain: %s", strerror(-rc));
		goto err_unlock;
	}

	d->nshards = (uint32_t)cm_config_int(cfg, "dataplane.workers");
	d->stores = calloc(d->nshards, sizeof(*d->stores));
	d->owners = calloc(d->nshards, sizeof(*d->owners));
	if (!d->stores || !d->owners) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_shards;
	}
	const char *cold = cm_config_str(cfg, "storage.cold_dir");
	for (uint32_t i = 0; i < d->nshards; i++) {
		struct st_store_cfg sc;
		char sdir[PATH_MAX], cdir[PATH_MAX];
		st_store_cfg_default(&sc);
		rc = st_store_cfg_from(cfg, &sc, err, errlen);
		if (rc)
			goto err_shards;
		snprintf(sdir, sizeof(sdir), "%s/shard-%03u", dir, i);
		snprintf(cdir, sizeof(cdir), "%s/shard-%03u", cold, i);
		sc.shard_id = i;
		sc.dir = sdir;
		sc.cold_dir = cold[0] ? cdir : NULL;
		sc.rcu = d->rcu;
		struct st_store_recovery rec;
		rc = st_store_open(&sc, &d->stores[i], &rec);
		if (rc) {
			snprintf(err, errlen, "cannot open shard %u in '%s': %s", i, sdir, strerror(-rc));
			goto err_shards;
		}
	}
	for (uint32_t i = 0; i < d->nshards; i++) {
		d->owners[i].store = d->stores[i];
		if (pthread_create(&d->owners[i].thread, NULL, owner_main, &d->owners[i])) {
			rc = -EAGAIN;
			snprintf(err, errlen, "cannot start the owner thread of shard %u", i);
			goto err_shards;
		}
		d->owners[i].started = true;
	}
	if (cm_config_bool(cfg, "wal.io_thread") && cm_config_enum(cfg, "wal.durability") != ST_WAL_NONE) {
		rc = st_walio_start(d->stores, d->nshards, cm_config_int(cfg, "wal.io_idle_us") * CM_NS_PER_US,
				    &d->walio);
		if (rc) {
			snprintf(err, errlen, "cannot start the WAL I/O thread: %s", strerror(-rc));
			goto err_shards;
		}
	}
	struct st_flush_cfg fc;
	st_flush_cfg_from(cfg, &fc);
	rc = st_flush_create(&fc, d->rcu, d->stores, d->nshards, &d->flush);
	if (!rc)
		rc = st_flush_start(d->flush);
	if (rc) {
		snprintf(err, errlen, "cannot start the storage flusher: %s", strerror(-rc));
		goto err_shards;
	}
	CM_LOG_INFO("daemon", "event=ready pid=%d data_dir=%s shards=%u durability=%s", (int)getpid(),
		    dir, d->nshards, st_wal_durability_name((enum st_wal_durability)cm_config_enum(cfg, "wal.durability")));
	*out = d;
	return 0;

err_shards:
	stop_storage(d);
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
	uint64_t points = 0, series = 0;
	for (uint32_t i = 0; i < d->nshards; i++) {
		struct st_shard_stats st;
		st_shard_stats_read(st_store_shard(d->stores[i]), &st);
		points += st.points_stored;
		series += st.series;
	}
	stop_storage(d);
	st_rcu_destroy(d->rcu);
	close(d->lock_fd); /* releases the flock */
	CM_LOG_INFO("daemon", "event=stopped points=%llu series=%llu", (unsigned long long)points,
		    (unsigned long long)series);
	free(d);
}
