/*
 * mg_statsd.h - the StatsD flush job: a management-plane thread that, every
 * statsd.flush_interval, asks every worker's aggregator (dp_agg.h) for its
 * interval, merges the partials exactly, and writes the resulting points
 * into the shards through their injection rings (dp_inject.h): a series
 * goes to shard hash(key) % shards, so one series is written by one shard
 * whichever cores its lines arrived on.
 *
 * At stop it flushes once more, so what the workers aggregated since the
 * last interval is stored before the daemon closes its shards; the workers
 * must still be running (in drain mode) when mg_statsd_stop is called.
 *
 * Threads: start and stop on the main thread; stats_read on any.
 */
#ifndef MG_STATSD_H
#define MG_STATSD_H

#include <stdint.h>

#include "dp_agg.h"
#include "dp_inject.h"
#include "st_store.h"

struct mg_statsd;

/*
 * Start the job over n workers: aggs[i], injs[i] and stores[i] belong to
 * worker i (kept: they must outlive the job). 0 or -errno.
 */
int mg_statsd_start(const struct dp_agg_cfg *cfg, struct dp_agg *const *aggs,
		    struct dp_inject *const *injs, struct st_store *const *stores, uint32_t n,
		    struct mg_statsd **out);
/* Flush a last time, stop the thread and free everything. NULL ok. */
void mg_statsd_stop(struct mg_statsd *s);

struct mg_statsd_stats {
	uint64_t flushes;
	uint64_t late_workers;      /* workers that missed a flush's collection */
	uint64_t points;            /* emitted by the merger */
	uint64_t stored;            /* of which the shards stored */
	uint64_t rejected;          /* refused by the shards (type conflicts, limits) */
	uint64_t batches;
	int64_t last_flush_ns;      /* duration of the last flush */
};
void mg_statsd_stats_read(const struct mg_statsd *s, struct mg_statsd_stats *out);

#endif /* MG_STATSD_H */
