/*
 * mg_stats.h - every counter of the daemon as text: one "name value" line
 * each, names dotted by part (rx., decode., worker., statsd., store., ...),
 * summed over workers and shards. The stats file (stats.file), and later
 * the management socket's `stats` command and /metrics, print this.
 *
 * The loss accounting identities (docs/ARCHITECTURE.md) hold between these
 * counters once input has stopped:
 *   rx.packets            = sum rx.msgs.* + sum rx.drop.* (but kernel_overflow:
 *                           the kernel's own drops, never received)
 *   worker.points_in      = worker.points_stored + sum worker.rejected.*
 *
 * Threads: any management thread; reads shards under the daemon's stats
 * reader (one caller at a time).
 */
#ifndef MG_STATS_H
#define MG_STATS_H

#include <stdio.h>

#include "mg_svc.h"

struct mg_daemon;

/* Print every counter to out. */
void mg_stats_print(struct mg_daemon *d, FILE *out);
/* Each numeric counter through fn (gauges marked), in the order printed. */
int mg_stats_each(struct mg_daemon *d, mg_stat_fn fn, void *arg);
/* Write them to path through path.tmp and a rename. 0 or -errno (logged). */
int mg_stats_write_file(struct mg_daemon *d, const char *path);

#endif /* MG_STATS_H */
