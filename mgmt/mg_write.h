/*
 * mg_write.h - writes from the management plane: a line-protocol body (an
 * HTTP /write, one batch of `sfctl import`) decoded on a management thread,
 * turned into points of the request's database and handed to the shards
 * through their injection rings (dp_inject.h), then acknowledged per
 * wal.durability (docs/DURABILITY.md).
 *
 * Databases are namespaces of series: a point written to database D other
 * than the default database (mgmt.database, where UDP/TCP ingest lands) is
 * stored under the series name "D<US>measurement" (US: the byte 0x1f,
 * MG_DB_SEP in mg_db.h); the default database's series carry no prefix.
 *
 * Semantics follow InfluxDB 1.x's /write: every good line is stored even if
 * others are bad (partial write); the report counts lines by outcome and
 * keeps the first few errors as text, one line each:
 *   unable to parse 'cpu,host=a x= 1': bad_value at char 13
 *       (InfluxDB's wording with dp_line_status_name's reason and the offset
 *       in the line; the line cut to 100 bytes and "..."; no offset for
 *       too_long, nor for key_too_long when only the database prefix makes
 *       a key too long)
 *   unable to parse 'a<US>b v=1i': measurement contains the reserved byte 0x1f
 *   2 points refused: type_conflict
 *       (one per cause, st_insert_status_name; after the parse errors, taking
 *       the last places when those filled the list)
 * Points the shards refuse (type conflict, too old, no memory,
 * back-pressure) are counted by cause that way.
 *
 * Usage profile: bodies of 10,000 TSBS lines (~3.4 MB: pf_write_bench's
 * lines average 345 bytes; 100,000 values) a few times per second per
 * connection; the decode runs on the calling thread, so several HTTP
 * threads decode in parallel.
 *
 * Threads: a writer belongs to one thread at a time (the caller serializes;
 * mg_svc keeps a pool). It owns one producer slot of every shard's
 * injection rings, claimed at creation for the daemon's lifetime.
 */
#ifndef MG_WRITE_H
#define MG_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_inject;
struct st_store;

struct mg_writer_cfg {
	struct dp_inject **injects;   /* kept: one per shard */
	struct st_store **stores;     /* kept: one per shard (for the durable lsn) */
	uint32_t nshards;
	const char *default_db;       /* kept: mgmt.database */
	bool durable;                 /* wal.durability = sync: wait for the disk */
	int64_t timeout_ns;           /* give up waiting for the shards (-ETIMEDOUT) */
	uint32_t batch_points;        /* points per injected batch (per shard) */
};

struct mg_writer;

/*
 * Create a writer and claim its producer slot on every shard (the slots stay
 * claimed after destroy: dp_inject has no release). 0, -EINVAL (no injects
 * or stores, nshards or batch_points 0, timeout_ns < 0), -ENOSPC (no free
 * slot: more writers than dp_inject slots) or -ENOMEM. cfg is borrowed; its
 * pointers are kept for the writer's life.
 */
int mg_writer_create(const struct mg_writer_cfg *cfg, struct mg_writer **out);
/*
 * Wait up to cfg.timeout_ns (one deadline for all shards) for the batches
 * still in flight (left by a request that timed out), then free the writer.
 * A batch still in flight after that belongs to the shard's owner, which may
 * yet write its results: it is leaked on purpose, not freed (logged as
 * event=destroy_batches_in_flight). Accepts NULL.
 */
void mg_writer_destroy(struct mg_writer *w);

/* One request. */
struct mg_write_req {
	const char *db;               /* NULL or "": the default database; else the
					 database's namespace (mg_dbs_namespace) */
	const char *precision;        /* NULL, "n", "ns", "u", "us", "ms", "s", "m", "h" */
	const char *body;             /* borrowed: line protocol, already gunzipped */
	size_t len;
	int64_t now_ns;               /* time of lines without a timestamp */
};

#define MG_WRITE_ERRORS_MAX 8

/* What happened to a request. */
struct mg_write_report {
	uint64_t lines;               /* non-empty, non-comment lines */
	uint64_t lines_bad;           /* refused: by the decoder, or see errors */
	uint64_t points;              /* values offered to the shards */
	uint64_t points_stored;
	uint64_t points_refused;      /* by the shards, any cause */
	uint64_t strings_skipped;     /* string fields: not stored (line-protocol.md) */
	bool timed_out;               /* some batch was not acknowledged in time */
	/* the first errors, one line each, NUL-terminated */
	char errors[MG_WRITE_ERRORS_MAX][160];
	uint32_t nerrors;
};

/*
 * Decode and store a request, waiting for every batch it submitted (stored;
 * durable when cfg.durable). Returns 0 when it ran to the end (the report
 * says what was kept: lines_bad or points_refused > 0 is a partial write),
 * -EINVAL for a bad precision or database name (nothing stored, the report
 * zeroed), or -ETIMEDOUT (timed_out set; the report says how far it got).
 */
int mg_writer_write(struct mg_writer *w, const struct mg_write_req *req,
		    struct mg_write_report *rep);

#endif /* MG_WRITE_H */
