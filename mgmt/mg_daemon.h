/*
 * mg_daemon.h - the daemon's life: configuration from defaults, file and
 * command line; start-up (data directory and its lock, the reclamation domain,
 * one shard per dataplane worker); an orderly stop on SIGINT/SIGTERM.
 *
 * The parts (storage, dataplane workers and backend, StatsD job, stats
 * writer) are in mg_daemon_int.h. Main thread only.
 */
#ifndef MG_DAEMON_H
#define MG_DAEMON_H

#include <stddef.h>

#include "cm_config.h"

struct mg_daemon;

/* The config tables of every module the daemon runs, NULL-terminated. */
extern const struct cm_cfg_table *const mg_daemon_cfg_tables[];
size_t mg_daemon_cfg_ntables(void);

/*
 * Start the daemon on a validated config (borrowed; kept until
 * mg_daemon_stop). eal_argv[eal_argc] (borrowed) are extra DPDK EAL
 * arguments from the command line, after dpdk.eal_args (backend=dpdk only).
 * Returns 0, or a negative errno with details in err (e.g. -EBUSY: another
 * daemon holds the data directory).
 */
int mg_daemon_start(const struct cm_config *cfg, int eal_argc, char **eal_argv,
		    struct mg_daemon **out, char *err, size_t errlen);

/* Stop everything started and free the daemon. Accepts NULL. */
void mg_daemon_stop(struct mg_daemon *d);

#endif /* MG_DAEMON_H */
