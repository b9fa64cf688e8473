/*
 * st_shard.h - the per-core shard: the hot tier of StreamFlow.
 *
 * One shard per dataplane core. Its owner (that core, or the thread that
 * stands in for it in tests and benchmarks) is the only writer: it resolves a
 * series key to a series, creating it on first sight, and appends the point
 * to the series' open chunk (st_chunk.h). A chunk is sealed when it reaches
 * shard.chunk_points points, when the point's time crosses a multiple of
 * shard.chunk_span, or when it reaches the largest chunk size.
 *
 * Readers on other threads (the management plane) read any series, sealed
 * and open chunks alike, while the writer runs: between st_read_begin() and
 * st_read_end() (st_rcu.h) they get a consistent snapshot of each series as
 * of the moment they load it. The writer takes no lock and touches no shared
 * cache line per point; memory it replaces (a chunk moved to a bigger buffer,
 * a chunk shrunk when sealed) is reclaimed through QSBR.
 *
 * Policies (docs/ARCHITECTURE.md, "Hot tier"):
 * - Types: a series keeps the value type of its first point. A point of
 *   another type is rejected and counted (type_conflict), as InfluxDB does.
 * - Out of order: a point older than the series' newest by at most
 *   shard.ooo_window goes to the series' out-of-order chunk and is read back
 *   in time order; an older point is rejected and counted (too_old).
 * - Duplicates (same series and timestamp): last write wins, in arrival order.
 * - Memory: every byte the shard allocates counts against
 *   shard.memory_limit. At the limit, points that need a new series or a new
 *   chunk are rejected and counted (no_memory); open chunks with room keep
 *   filling. Nothing is evicted (the warm tier frees memory by flushing).
 */
#ifndef ST_SHARD_H
#define ST_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_compiler.h"
#include "cm_config.h"
#include "st_rcu.h"
#include "st_types.h"

struct st_shard;

struct st_shard_cfg {
	uint32_t shard_id;          /* top bits of every series id of this shard */
	int numa_node;              /* allocate here; -1: wherever the caller runs */
	uint32_t chunk_points;      /* seal after this many points */
	int64_t chunk_span_ns;      /* seal at multiples of this time span */
	int64_t ooo_window_ns;      /* accept points this much older than the newest */
	size_t memory_limit_bytes;  /* everything the shard allocates */
	uint32_t max_series;        /* capacity of the series directory */
	uint32_t series_hint;       /* initial hash table size, in series */
	struct st_rcu *rcu;         /* kept: must outlive the shard */
};

/* The keys of shard.* (chunk_points, chunk_span, ooo_window, memory_limit, ...). */
extern const struct cm_cfg_table st_shard_cfg_table;
/* Fill cfg from a config registry (rcu, shard_id, numa_node left untouched). */
void st_shard_cfg_from(const struct cm_config *config, struct st_shard_cfg *cfg);
/* Defaults, as in the table. */
void st_shard_cfg_default(struct st_shard_cfg *cfg);

int st_shard_create(const struct st_shard_cfg *cfg, struct st_shard **out);
/* Free everything. No reader may be inside st_read_begin/end on it. NULL ok. */
void st_shard_destroy(struct st_shard *shard);

/* A point to store, with its canonical series key (st_series.h) already built. */
struct st_shard_point {
	const uint8_t *key;   /* borrowed: copied when the series is new */
	uint32_t keylen;
	uint64_t hash;        /* st_key_hash(key, keylen) */
	int64_t ts_ns;
	union st_value v;
	uint8_t type;         /* enum st_value_type: F64, I64, U64 or BOOL */
};

enum st_insert_status {
	ST_INS_OK = 0,
	ST_INS_OOO,             /* stored, out of order (inside the window) */
	ST_INS_TOO_OLD,         /* rejected: older than the window */
	ST_INS_TYPE_CONFLICT,   /* rejected: the series has another type */
	ST_INS_BAD_TYPE,        /* rejected: a type the shard cannot store */
	ST_INS_NO_MEMORY,       /* rejected: shard.memory_limit reached */
	ST_INS_SERIES_LIMIT,    /* rejected: shard.max_series reached */
	/* Refusals by the store around the shard (st_store.h), counted alike. */
	ST_INS_BACKPRESSURE,    /* rejected: the WAL cannot take more yet */
	ST_INS_DISK_FULL,       /* rejected: the data disk is below its free-space floor */
	ST_INS_UNKNOWN_SERIES,  /* rejected: a series id the shard does not have */
	ST_INS__COUNT
};

const char *st_insert_status_name(enum st_insert_status s);

/* HOT PATH. Store one point. Owner thread only. */
enum st_insert_status st_shard_insert(struct st_shard *shard, const struct st_shard_point *p);

/*
 * HOT PATH. Store n points, prefetching series ahead; status[i] (optional)
 * receives each point's outcome, ids[i] (optional) the series' local id of a
 * stored point, with ST_SHARD_ID_NEW set when this point created the series.
 * Returns the number stored (OK or OOO). Owner thread only.
 */
#define ST_SHARD_ID_NEW (1u << 31)
uint32_t st_shard_insert_burst(struct st_shard *shard, const struct st_shard_point *pts,
			       uint32_t n, uint8_t *status, uint32_t *ids);

/* HOT PATH. Store a point of an existing series by local id (WAL replay). Owner only. */
enum st_insert_status st_shard_insert_id(struct st_shard *shard, uint32_t local_id, int64_t ts_ns,
					 uint64_t bits);

/*
 * Owner, recovery: recreate series local_id (it must be the next id) with its
 * key and type, without points. 0, -EINVAL (not the next id, bad key or
 * type), -ENOSPC (max_series) or -ENOMEM.
 */
int st_shard_series_restore(struct st_shard *shard, uint32_t local_id, const uint8_t *key,
			    uint32_t keylen, enum st_value_type vtype);

/* ------------------------------------------------------ flushing to blocks */
/*
 * The flusher (a reader thread) copies sealed chunks into blocks; the owner
 * then releases them. Chunk positions are the per-sequence seq numbers of
 * st_shard.c: "upto" means every sealed chunk with seq < upto.
 */

/*
 * Owner: seal the open chunks (in-order and out-of-order) of series
 * [from, from + n) that hold points, so that everything stored so far is in
 * sealed chunks. Returns the next id to continue from (== count when done).
 */
uint32_t st_shard_seal_range(struct st_shard *shard, uint32_t from, uint32_t n);

struct st_points;

/*
 * Owner: sequences whose last seal found no memory for a new open chunk, so
 * that the sealed chunk stays their `open` one. Such a chunk is not handed
 * to the flusher (st_shard_read_sealed stops before `open`), so a
 * checkpoint is complete only when this is 0 (st_shard_seal_range retries
 * them first).
 */
uint32_t st_shard_stuck_seals(const struct st_shard *shard);

/* Where a series' sealed chunks end now: a reader snapshot for the flusher. */
struct st_shard_sealed {
	uint32_t in_upto;
	uint32_t ooo_upto;
};

/*
 * Reader: append the points of the sealed chunks of series local_id with
 * from->in_upto <= seq and from->ooo_upto <= seq (those not flushed yet),
 * merged in time order, one per timestamp (last write wins), to *out; *upto
 * receives where they end. Returns the number appended or -errno.
 */
int st_shard_read_sealed(const struct st_shard *shard, uint32_t local_id,
			 const struct st_shard_sealed *from, struct st_points *out,
			 struct st_shard_sealed *upto);

/*
 * Owner: free the sealed chunks of local_id before upto (they are in a
 * durable block now). Readers holding them keep them until st_read_end
 * (QSBR). Returns the number of chunks released.
 */
uint32_t st_shard_release_sealed(struct st_shard *shard, uint32_t local_id,
				 const struct st_shard_sealed *upto);

/*
 * Owner thread: reclaim memory that readers can no longer hold. Call it every
 * poll-loop pass or every few bursts; it is cheap when there is nothing to do.
 */
void st_shard_maintain(struct st_shard *shard);

/* Counters; written by the owner only, read by anyone (st_shard_stats_read). */
struct st_shard_stats {
	uint64_t points_stored;
	uint64_t points_ooo;
	uint64_t rejected[ST_INS__COUNT];
	uint64_t series;
	uint64_t chunks_sealed;
	uint64_t chunks_grown;
	uint64_t memory_bytes;       /* allocated from the system */
	uint64_t memory_used_bytes;  /* in live objects */
	uint64_t retired_pending;    /* objects waiting for readers */
};
/* Any thread: a snapshot of the counters (each one atomic, not the set). */
void st_shard_stats_read(const struct st_shard *shard, struct st_shard_stats *out);

/* ------------------------------------------------------------- readers */
/*
 * Reader calls: any thread, between st_read_begin() and st_read_end() on the
 * shard's st_rcu. Pointers returned stay valid until st_read_end().
 */

/* Number of series created so far; ids 0..n-1 (shard-local) are valid. */
uint32_t st_shard_series_count(const struct st_shard *shard);

/* Key bytes and value type of a series (local id < st_shard_series_count). */
const uint8_t *st_shard_series_key(const struct st_shard *shard, uint32_t local_id,
				   uint32_t *keylen, enum st_value_type *vtype);

/* Points read back: growable arrays owned by the caller (st_points_release). */
struct st_points {
	int64_t *ts;
	uint64_t *vals;   /* value bits: double for F64, int64 for I64, ... */
	size_t n;
	size_t cap;
};
void st_points_init(struct st_points *p);
void st_points_release(struct st_points *p);
/* Make room for `more` points after the n held: 0, or -ENOMEM (the points held are kept). */
int st_points_reserve(struct st_points *p, size_t more);
/* The first index i < n with ts[i] >= t (n if none); ts ascending. */
static inline size_t st_ts_lower_bound(const int64_t *ts, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
/*
 * Merge newer (time-ordered, one point per time) into p[from..] (the same),
 * keeping newer's value where both have a time: how tiers of one series
 * combine, oldest first. 0 or -ENOMEM (p unchanged). Any thread.
 */
int st_points_merge_newer(struct st_points *p, size_t from, const struct st_points *newer);

/*
 * Append the points of series local_id with t_min <= ts <= t_max to *out, in
 * time order, one per timestamp (last write wins). Returns the number
 * appended, -ENOENT for an unknown id, -ENOMEM, or -EBADMSG if a chunk fails
 * to decode (a bug: chunks in memory are written by us).
 */
int st_shard_read(const struct st_shard *shard, uint32_t local_id, int64_t t_min, int64_t t_max,
		  struct st_points *out);
/*
 * Reader: like st_shard_read, but of the in-order chunks only those that
 * hold the newest (oldest) point of the range are decoded (the out-of-order
 * ones all): out gets a time-ordered set of points whose last (first) is
 * that point. Same returns.
 */
int st_shard_read_end(const struct st_shard *shard, uint32_t local_id, int64_t t_min,
		      int64_t t_max, bool newest, struct st_points *out);

/* Owner thread, or with the writer stopped: verify every invariant. 0 or -EUCLEAN. */
int st_shard_check(const struct st_shard *shard);

#endif /* ST_SHARD_H */
