/*
 * dp_agg.h - StatsD aggregation: what turns decoded StatsD lines
 * (dp_statsd.h) into points, once per flush interval, as Etsy's statsd
 * and the DogStatsD agent do.
 *
 *   worker 0: dp_agg_add() per line, dp_agg_poll() per loop pass --.
 *   worker 1: dp_agg_add() per line, dp_agg_poll() per loop pass --+--> merger
 *   ...                                        (one table per worker    |
 *                                               and interval)           v
 *   management thread: request -> collect -> emit(fn) -> one fn call per point
 *
 * Each dataplane worker owns a struct dp_agg: a table of series (name,
 * sorted tags, type) with the interval's partial state. A management thread
 * owns the struct dp_agg_merger: at each flush it asks every worker for its
 * table, merges the partials exactly (counters and sums add, sketch bins
 * add, sets unite), emits one point per field and hands the tables back
 * cleared. Gauge values and idle state live in the merger, across intervals.
 * Workers never lock and never wait: the handoff is one pointer each way
 * per flush (a one-slot outbox and a one-slot return box per worker).
 *
 * Semantics (details, and where we differ from Etsy, in docs/formats/
 * statsd.md, "Aggregation"), with w = 1/rate:
 *   c   value = sum of v*w in the interval, rate = value / interval seconds
 *   g   a value sets, a signed value adds to the current value (kept across
 *       intervals); the sample rate is ignored
 *   ms, h, d  count = sum of w, sum = sum of v*w, min, max, mean = sum/count,
 *       p50 p90 p95 p99 (statsd.percentiles) from a DDSketch
 *   s   value = number of distinct members (exact up to statsd.set_exact_max,
 *       then HyperLogLog, precision 14, about 0.8% standard error)
 *   |T  counters and gauges are not aggregated: each line is one point at
 *       its own timestamp; other types ignore the timestamp (counted)
 * The type is part of a series' identity: "x:1|c" and "x:1|g" are two
 * entries. Every emitted value is a double (counts scaled by 1/rate are
 * fractional), so every StatsD field is F64 in storage.
 *
 * The sketches (dp_sketch.h, a DDSketch) and sets (dp_hll.h, exact then
 * HyperLogLog) merge exactly, which is what lets every worker aggregate
 * alone.
 *
 * Usage profile: up to millions of lines per second per worker over up to
 * statsd.max_series series per worker; a flush every statsd.flush_interval
 * (10 s), its cost on the management thread linear in the series.
 *
 * Threads: dp_agg_add, dp_agg_poll and dp_agg_publish_now on the owning
 * worker only; dp_agg_stats_read on any thread; every dp_agg_merger_*
 * function on the one management thread that runs the merger. Create the
 * merger before the workers start polling; destroy the merger and the
 * aggregators after they stopped.
 */
#ifndef DP_AGG_H
#define DP_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cm_config.h"
#include "dp_hll.h"
#include "dp_sketch.h"
#include "dp_statsd.h"

/* Most percentiles statsd.percentiles may list. */
#define DP_AGG_PCT_MAX 16
/* Room for a field name, with its NUL ("p99_9", "count"). */
#define DP_AGG_FIELD_MAX 16
/* Bins per sketch side (positive, negative) before the lowest collapse. */
#define DP_AGG_SKETCH_BINS_MAX DP_SKETCH_BINS_MAX
/* HyperLogLog precision: 2^14 one-byte registers. */
#define DP_AGG_HLL_P DP_HLL_P

/* What an idle series (no line this interval) emits: statsd.idle. */
enum dp_agg_idle {
	DP_AGG_IDLE_SKIP = 0,   /* nothing */
	DP_AGG_IDLE_ZERO,       /* counters 0 (value and rate), gauges their value */
	DP_AGG_IDLE_LAST,       /* gauges their value; nothing else */
};

/* The aggregation config (the statsd.* keys below). Plain struct. */
struct dp_agg_cfg {
	int64_t flush_interval_ns;         /* statsd.flush_interval: the daemon's period */
	double sketch_accuracy;            /* statsd.sketch_accuracy: relative, 0.0001..0.1 */
	uint32_t npct;
	double pct[DP_AGG_PCT_MAX];        /* statsd.percentiles, ascending, 0..100 */
	char pct_field[DP_AGG_PCT_MAX][DP_AGG_FIELD_MAX];  /* "p50", "p99_9" */
	uint32_t set_exact_max;            /* statsd.set_exact_max */
	uint32_t max_series;               /* statsd.max_series: entries per worker */
	uint32_t max_timestamped;          /* statsd.max_timestamped: |T points per worker and interval */
	uint8_t idle;                      /* statsd.idle: enum dp_agg_idle */
	int64_t idle_expire_ns;            /* statsd.idle_expire */
};

/*
 * Keys (module "statsd"): statsd.flush_interval, statsd.percentiles,
 * statsd.sketch_accuracy, statsd.set_exact_max, statsd.max_series,
 * statsd.max_timestamped, statsd.idle, statsd.idle_expire.
 */
extern const struct cm_cfg_table dp_agg_cfg_table;

/* The defaults of dp_agg_cfg_table, without a registry (tests, tools). */
void dp_agg_cfg_default(struct dp_agg_cfg *cfg);

/*
 * Fill cfg from a registry holding dp_agg_cfg_table. Returns 0, or -EINVAL
 * with err ("statsd.sketch_accuracy: 0.5 is outside [0.0001, 0.1]"); cfg is
 * then unspecified. config is borrowed.
 */
int dp_agg_cfg_from(const struct cm_config *config, struct dp_agg_cfg *cfg, char *err,
		    size_t errlen);

/*
 * Parse a percentile list ("50,90,95,99.9": numbers in [0, 100], at most
 * DP_AGG_PCT_MAX, no duplicates) into cfg->pct (sorted) and cfg->pct_field
 * ("p" and the number with '.' as '_': "p99_9"). Returns 0, or -EINVAL with
 * err; cfg is left unchanged then. text is borrowed.
 */
int dp_agg_cfg_percentiles(const char *text, struct dp_agg_cfg *cfg, char *err, size_t errlen);

/* Why dp_agg_add did or did not take a line; counted per worker. */
enum dp_agg_status {
	DP_AGG_OK = 0,
	DP_AGG_TABLE_FULL,    /* statsd.max_series entries in this worker's table */
	DP_AGG_TS_FULL,       /* statsd.max_timestamped |T points this interval */
	DP_AGG_KEY_TOO_LONG,  /* name and tags leave no room for a field name */
	DP_AGG_BAD_RATE,      /* 1/rate is not finite (a rate below about 1e-308) */
	DP_AGG_NOMEM,         /* an allocation failed */
	DP_AGG__COUNT
};

/* "ok", "table_full", ...; "unknown" when out of range. */
const char *dp_agg_status_name(enum dp_agg_status st);

/* One worker's aggregator. Opaque. */
struct dp_agg;

/*
 * Create a worker's aggregator; its tables are allocated on numa_node (-1:
 * wherever the caller runs). cfg is copied. Returns 0 with *out owned by
 * the caller (dp_agg_destroy), -EINVAL (cfg out of range) or -ENOMEM.
 * Any thread; the worker may be another thread once it is started after
 * this returns.
 */
int dp_agg_create(const struct dp_agg_cfg *cfg, int numa_node, struct dp_agg **out);

/* Free a (and the tables it holds). NULL is fine. No other call may run on a. */
void dp_agg_destroy(struct dp_agg *a);

/*
 * HOT PATH. Aggregate one line that dp_statsd_decode() returned
 * DP_STATSD_OK for: find or create the entry of (name, tags, type) and fold
 * every value in. now_ns is the arrival time (cm_now_ns(), read once per
 * burst): it orders gauge values across workers and ages idle entries, so
 * it must be on the clock the merger's ts_ns comes from. m is borrowed.
 * Allocates only when it creates an entry, or when an entry's sketch or
 * set grows (a bounded number of times per entry; tables keep that memory
 * across intervals). Returns DP_AGG_OK or the reason the line was dropped
 * (nothing of it is kept; a line is never half applied, except that a
 * sketch or set that could not grow loses accuracy, counted as nomem).
 * Owning worker only.
 */
enum dp_agg_status dp_agg_add(struct dp_agg *a, const struct dp_statsd *m, int64_t now_ns);

/*
 * HOT PATH. Call once per loop pass: one relaxed load. When the merger has
 * requested a flush since the last call, publish the current table to the
 * merger and go on with a fresh one (the one the merger handed back, or a
 * new allocation if it has not yet). If the merger has not yet taken the
 * previous table, the current one keeps filling and the next call tries
 * again. Owning worker only.
 */
void dp_agg_poll(struct dp_agg *a);

/*
 * Publish the current table now, whatever the merger requested (for a
 * worker leaving its loop: the merger collects it at its next flush).
 * Returns 0, -EBUSY (the merger has not taken the previous table yet) or
 * -ENOMEM (no fresh table). On the owning worker, or on any thread once
 * the worker has stopped (with a happens-before, as pthread_join gives).
 * Shutdown: dp_agg_merger_request, dp_agg_poll (or this) for every worker,
 * dp_agg_merger_collect, dp_agg_merger_emit.
 */
int dp_agg_publish_now(struct dp_agg *a);

/*
 * Invariant walker (tests): every entry is found by its key, keys hash to
 * their slot hash, sketches keep their bins within their range and bound,
 * set sizes match their members. Returns 0 or -EUCLEAN. Owning worker.
 */
int dp_agg_check(const struct dp_agg *a);

/* Counters of one worker. Plain struct, filled by dp_agg_stats_read. */
struct dp_agg_stats {
	uint64_t lines[DP_STATSD_TYPE__COUNT]; /* lines taken (DP_AGG_OK), per type */
	uint64_t values;            /* values taken (packed lines have several) */
	uint64_t table_full;        /* lines dropped, per status */
	uint64_t ts_full;
	uint64_t key_too_long;
	uint64_t bad_rate;
	uint64_t nomem;             /* failed allocations: lines dropped, sketches or sets that
				       could not grow, publishes without a fresh table */
	uint64_t timestamped;       /* |T counter and gauge lines kept as points */
	uint64_t ts_ignored;        /* |T on a timer, histogram, distribution or set */
	uint64_t series;            /* entries in the current table */
	uint64_t publishes;         /* tables handed to the merger */
	uint64_t publish_busy;      /* polls that found the previous table not yet taken */
	uint64_t tables_created;    /* tables allocated (2 in steady state) */
	uint64_t late_publish;      /* tables the merger got after it gave up waiting */
};

/*
 * Sum of a's counters, each loaded relaxed (single-writer counters: a
 * snapshot, not one instant). Any thread.
 */
void dp_agg_stats_read(const struct dp_agg *a, struct dp_agg_stats *out);

/* acc += one, field by field (totals over workers). */
void dp_agg_stats_sum(struct dp_agg_stats *acc, const struct dp_agg_stats *one);

/*
 * One "<prefix><name> <value>" line per counter ("statsd.agg.lines.ms 12",
 * "statsd.agg.table_full 0"), for `sfctl stats`. Any thread.
 */
void dp_agg_stats_print(const struct dp_agg_stats *st, const char *prefix, FILE *out);

/* ---------------------------------------------------------------- merger */

/* The merging side, one per daemon. Opaque. */
struct dp_agg_merger;

/*
 * Called once per emitted point, on the merger's thread: key (borrowed,
 * valid during the call) is the full series key (st_series.h) with the
 * field spliced in, hash its st_key_hash, value a double (ST_VT_F64).
 */
typedef void (*dp_agg_emit_fn)(void *ctx, const uint8_t *key, uint32_t keylen, uint64_t hash,
			       int64_t ts_ns, double value);

/*
 * Create the merger of n >= 1 aggregators (aggs[] is copied; each dp_agg
 * is kept: it must outlive the merger, and be attached to no other one).
 * cfg is copied; its sketch_accuracy and set_exact_max must be those the
 * aggregators were created with. Returns 0 with *out owned by the caller
 * (dp_agg_merger_destroy), -EINVAL or -ENOMEM. Before the workers start.
 */
int dp_agg_merger_create(const struct dp_agg_cfg *cfg, struct dp_agg *const *aggs, uint32_t n,
			 struct dp_agg_merger **out);

/* Free mg, the merged state and any table it holds. NULL is fine. */
void dp_agg_merger_destroy(struct dp_agg_merger *mg);

/* Start a flush: the next dp_agg_poll of every worker publishes its table. */
void dp_agg_merger_request(struct dp_agg_merger *mg);

/*
 * Take the tables the workers published, sleeping in steps of at most
 * 100 us, until every worker has published for the current request or
 * timeout_ns has passed (0: take what is there, no wait). Returns true if
 * every worker answered; on false the missing workers' lines simply go
 * into a later flush (counted: collect_timeouts, workers_missed; the table
 * is late_publish when it comes).
 */
bool dp_agg_merger_collect(struct dp_agg_merger *mg, int64_t timeout_ns);

/*
 * Merge the collected tables, then call fn once per point: aggregated
 * fields at ts_ns (the flush time, as Etsy's statsd stamps it), |T points
 * at their own time; interval_s (> 0) divides counter rates. Applies
 * statsd.idle, frees entries idle longer than statsd.idle_expire (ts_ns
 * based), clears the tables and hands them back to their workers. Returns
 * the points emitted. ctx is passed through.
 */
uint32_t dp_agg_merger_emit(struct dp_agg_merger *mg, int64_t ts_ns, double interval_s,
			    dp_agg_emit_fn fn, void *ctx);

/*
 * A digest of the state the last dp_agg_merger_emit merged (keys, types,
 * counts, sums, min, max, sketch bins, set members or registers, gauge
 * values), independent of table layout and merge order: equal digests mean
 * equal merged state. For tests and debugging.
 */
uint64_t dp_agg_merger_digest(const struct dp_agg_merger *mg);

struct dp_agg_merger_stats {
	uint64_t flushes;           /* emits */
	uint64_t points;            /* points emitted */
	uint64_t timestamped;       /* of which |T points */
	uint64_t nonfinite;         /* values not emitted: inf or nan (an overflowing sum) */
	uint64_t series;            /* entries in the merged table */
	uint64_t expired;           /* entries freed after statsd.idle_expire (all tables) */
	uint64_t table_full;        /* worker entries not merged: the merged table was full */
	uint64_t nomem;             /* worker entries not merged, or merged with less accuracy */
	uint64_t collect_timeouts;  /* collects that gave up waiting */
	uint64_t workers_missed;    /* workers missing when they did */
	uint64_t late_tables;       /* tables merged a flush or more late */
	uint64_t tables_freed;      /* tables not handed back: the worker had made a new one */
};

/* The merger's counters, loaded relaxed. Any thread. */
void dp_agg_merger_stats_read(const struct dp_agg_merger *mg, struct dp_agg_merger_stats *out);

#endif /* DP_AGG_H */
