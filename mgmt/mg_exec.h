/*
 * mg_exec.h - the query executor: runs one parsed TSQL statement
 * (mg_tsql.h) against the shards and the series index and fills its part
 * of a result (mg_result.h).
 *
 * SELECT, in order (docs/TSQL.md, "Semantics"):
 *   1. sources -> measurements of the request's database (names, /regex/
 *      through the index listing, subqueries run first into rows);
 *   2. WHERE split into time bounds, tag conditions (pushed down to the
 *      series index as id-set operations) and a residual field condition;
 *   3. the series of each measurement that have a needed field, grouped
 *      into row sets (one per tag set) and into output groups (GROUP BY
 *      tags, or *);
 *   4. each row set's fields read from every tier (st_store_read) over the
 *      time bounds, several shards' copies of a key merged;
 *   5. raw queries join fields on time, filter rows, project expressions;
 *      aggregate queries feed per-bucket accumulators (mg_agg.h) directly
 *      from the field columns (or from the filtered rows with a residual
 *      condition), then fill, transformations, ORDER, LIMIT/OFFSET per
 *      series, SLIMIT/SOFFSET;
 *   6. INTO writes the rows back through the write path.
 *
 * Guardrails (mgmt.query_*): points scanned, series, memory and time per
 * statement; a statement over any limit stops with a clear error, as does
 * one killed through the registry (mg_svc_kill).
 *
 * Threads: the calling management thread, which owns the QSBR reader slot
 * in the context. Reads shards between st_read_begin/end one series at a
 * time (retired shard memory is never held long) and holds index read
 * sessions only while planning. With a decode pool in the context, its
 * helpers read row sets ahead on their own slots (mg_decode.h); the
 * statement waits for them to leave before it returns.
 */
#ifndef MG_EXEC_H
#define MG_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_result.h"
#include "mg_tsql.h"
#include "mg_write.h"

struct st_store;
struct st_rcu;
struct st_index;
struct mg_dbs;
struct mg_decode_pool;

struct mg_exec_limits {
	uint64_t max_points;      /* points read per statement (0: no limit) */
	uint64_t max_series;      /* series read per statement */
	uint64_t max_buckets;     /* GROUP BY time buckets per statement */
	size_t max_memory_bytes;  /* points held, bucket accumulators and the plan's arena;
				   * not yet the values median/percentile/mode keep, the
				   * result (bounded by max_points, max_buckets), nor the
				   * row sets helpers read ahead and the statement has not
				   * taken yet (at most MG_DECODE_AHEAD past it) */
	int64_t timeout_ns;       /* per statement */
};

/* How the executor reaches the rest of the daemon; filled by mg_svc. */
struct mg_exec_ctx {
	struct st_store **stores;
	uint32_t nshards;
	struct st_rcu *rcu;
	int reader;                   /* the calling thread's QSBR slot */
	struct mg_decode_pool *decode; /* helpers reading row sets ahead (mg_decode.h); may be NULL */
	struct st_index *idx;
	struct mg_dbs *dbs;
	const char *db;               /* the request's database (never NULL) */
	const char *default_db;
	int64_t now_ns;               /* now() of this request */
	struct mg_exec_limits limits;
	const _Atomic bool *killed;   /* set by mg_svc_kill; may be NULL */
	_Atomic uint64_t *points_scanned;   /* progress for SHOW QUERIES; may be NULL */
	_Atomic uint64_t *chunks_summarized; /* block chunks answered by summaries (the
					      * query.chunks_summarized counter); may be NULL */
	/* INTO: store a line-protocol body in database db */
	int (*write)(void *arg, const char *db, const char *body, size_t len,
		     struct mg_write_report *rep);
	/* SHOW QUERIES, KILL QUERY */
	int (*show_queries)(void *arg, struct mg_result *r, struct mg_stmt_result *sr);
	int (*kill)(void *arg, uint64_t id);
	void *arg;
};

/*
 * Run statement st into sr (a statement result of r already added by the
 * caller): series on success, sr->error on a statement error (bad query,
 * guardrail, killed). Returns 0 either way, or -ENOMEM when the result
 * itself could not be built.
 */
int mg_exec_stmt(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
		 struct mg_stmt_result *sr);

/* The SHOW, CREATE, DROP and KILL statements (mg_exec_show.c). Same contract. */
int mg_exec_meta(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
		 struct mg_stmt_result *sr);

struct an_detector_info;
struct an_detect_cfg;
/*
 * The detector a DETECT statement's method names (NULL: auto) and its
 * parameters with SENSITIVITY s (0: none), as DETECT runs them; duration
 * parameters are refused (no series step to convert them). For the
 * streaming detectors (mg_watch.h). 0, or -EINVAL with err.
 */
int mg_exec_detect_cfg(const struct mg_expr *method, double sensitivity,
		       const struct an_detector_info **det, struct an_detect_cfg *cfg, char *err,
		       size_t errlen);

#endif /* MG_EXEC_H */
