/*
 * dp_worker.h - a dataplane worker: the poll loop of one core and the shard
 * it owns. Each pass it
 *   1. polls its receive backend (dp_rx.h) and decodes every message with
 *      the decoder its listener names: line protocol and binary frames
 *      become shard points in bursts; StatsD lines go into the core's
 *      aggregator (dp_agg.h), whose flushes come back through injection;
 *   2. drains its shard's injection rings (dp_inject.h), bounded per pass;
 *   3. answers the aggregator's flush requests (dp_agg_poll);
 *   4. polls its store (WAL group commit, memory reclamation, the flusher's
 *      requests: st_store_poll);
 * and when a pass found nothing, waits in the backend for up to
 * dataplane.idle_wait so an idle core sleeps instead of spinning.
 *
 * Loss accounting (docs/ARCHITECTURE.md, "Loss accounting"): every message
 * is counted by protocol; every line, frame and record by decoder status;
 * every decoded value is either handed to the store (points_in) or counted
 * as dropped by cause (string fields, unknown refs, duplicate frames, ...);
 * every point handed to the store is stored or rejected by insert status:
 *   points_in == points_stored + sum(rejected[]).
 *
 * Threads: dp_worker_run on the worker's own thread (pinned by the caller);
 * dp_worker_rx_burst is its decode step (also driven directly by benchmarks
 * and tests); stop functions and stats_read from any thread.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cm_config.h"
#include "dp_frame.h"
#include "dp_line.h"
#include "dp_rx.h"
#include "dp_statsd.h"
#include "st_store.h"

struct dp_worker;
struct dp_agg;
struct dp_inject;
struct dp_binsrc;

/* dataplane.* keys of the loop: burst_points, idle_wait, inject_points, binary limits. */
extern const struct cm_cfg_table dp_worker_cfg_table;

struct dp_worker_cfg {
	uint32_t id;                   /* worker index == shard index */
	struct dp_backend *backend;    /* kept; NULL: no RX (tests, benchmarks) */
	struct st_store *store;        /* kept */
	struct dp_inject *inject;      /* kept; NULL: none */
	struct dp_agg *agg;            /* kept; NULL: StatsD lines are decoded and counted only */
	uint32_t burst_points;         /* points per st_store_insert_burst */
	uint32_t inject_points;        /* most injected points per pass */
	int64_t idle_wait_ns;
	uint32_t binary_max_sources;
	uint32_t binary_max_refs;
};
/* The loop's settings from a registry (the pointers and id left as they are). */
void dp_worker_cfg_from(const struct cm_config *config, struct dp_worker_cfg *cfg);

int dp_worker_create(const struct dp_worker_cfg *cfg, struct dp_worker **out);
/* Free the worker (not its store, backend, injector or aggregator). NULL ok. */
void dp_worker_destroy(struct dp_worker *w);

/* The worker's thread: attach to the backend, then loop until dp_worker_stop. 0 or -errno. */
int dp_worker_run(struct dp_worker *w);
/* Any thread: stop polling the backend; the loop goes on draining injection. */
void dp_worker_stop_rx(struct dp_worker *w);
/* Any thread: leave the loop after inserting what is pending. */
void dp_worker_stop(struct dp_worker *w);

/* HOT PATH. Decode a burst (a dp_rx_burst_fn; ctx is the worker). */
void dp_worker_rx_burst(void *ctx, const struct dp_rx_msg *msgs, uint32_t n);
/* Worker thread: insert the points decoded so far (run does it every pass). */
void dp_worker_flush(struct dp_worker *w);

/* Why a decoded value did not reach the store (the decoder said OK). */
enum dp_worker_drop {
	DP_WD_STRING_FIELD = 0,   /* line protocol string value: not stored (docs/formats/line-protocol.md) */
	DP_WD_UNKNOWN_REF,        /* binary POINT of a ref no DEF declared */
	DP_WD_TYPE_MISMATCH,      /* binary POINT whose type is not its DEF's */
	DP_WD_DUP_FRAME,          /* binary POINT in a duplicate frame */
	DP_WD_SOURCE_FULL,        /* binary POINT from a source the table has no room for */
	DP_WD_STATSD_AGG,         /* StatsD value refused by the aggregator (table full) */
	DP_WD_NO_AGG,             /* StatsD value with no aggregator configured */
	DP_WD_BAD_PROTO,          /* a message of no known protocol (a backend bug) */
	DP_WD_BAD_DEF,            /* a binary DEF refused: max_refs, or no valid key */
	DP_WD__COUNT
};
const char *dp_worker_drop_name(enum dp_worker_drop d);

/* Counters, summed by dp_worker_stats_read (relaxed; each one atomic, not the set). */
struct dp_worker_stats {
	uint64_t msgs[DP_PROTO__COUNT];
	uint64_t bytes[DP_PROTO__COUNT];
	uint64_t statsd[DP_STATSD__COUNT];     /* lines by decoder status */
	uint64_t statsd_values;                /* values of OK lines (packed values count each) */
	uint64_t statsd_aggregated;            /* values the aggregator took */
	uint64_t line[DP_LINE__COUNT];         /* lines by decoder status */
	uint64_t line_values;                  /* fields of OK lines */
	uint64_t frame[DP_FRAME__COUNT];       /* frames (open) and records (next) by status */
	uint64_t frame_seq[DP_SEQ__COUNT];     /* accepted frames by sequence result */
	uint64_t frame_missing;                /* frames reported missing by gaps */
	uint64_t binary_values;                /* POINT records decoded OK */
	uint64_t binary_defs;
	uint64_t seq_events;                   /* sf_binary_seq points made */
	uint64_t dropped[DP_WD__COUNT];        /* values by cause */
	uint64_t points_in;                    /* handed to the store (RX and events) */
	uint64_t points_stored;
	uint64_t rejected[ST_INS__COUNT];      /* by the store, by status */
	uint64_t inject_points;                /* drained from the injection rings */
	uint64_t passes, idle_passes;
};
/* Any thread: add w's counters into *out. */
void dp_worker_stats_add(const struct dp_worker *w, struct dp_worker_stats *out);

/* Per-sender accounting (statsd and line: source address; binary: dp_binsrc). */
#define DP_WORKER_SENDERS 64
struct dp_worker_sender {
	uint8_t addr[16];
	uint8_t proto;
	uint64_t msgs, bad;        /* messages; lines or records rejected */
};
/* Any thread: the senders seen (at most DP_WORKER_SENDERS, then "other"). Returns the count. */
uint32_t dp_worker_senders(const struct dp_worker *w, struct dp_worker_sender *out, uint32_t cap,
			   uint64_t *other_msgs, uint64_t *other_bad);
/* The worker's binary source map (for per-source reports). */
const struct dp_binsrc *dp_worker_binsrc(const struct dp_worker *w);

#endif /* DP_WORKER_H */
