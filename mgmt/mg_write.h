/*
 * mg_write.h - writes from the management plane: a line-protocol body (an
 * HTTP /write, one batch of `sfctl import`) decoded on a management thread,
 * turned into points of the request's database and handed to the shards
 * through their injection rings (dp_inject.h), then acknowledged per
 * wal.durability (docs/DURABILITY.md).
 *
 * Databases are namespaces of series: a point written to database D other
 * than the default database (mgmt.database, where UDP/TCP ingest lands) is
 * stored under the series name "D\0measurement" (mg_db.h); the default
 * database's series carry no prefix.
 *
 * Semantics follow InfluxDB 1.x's /write: every good line is stored even if
 * others are bad (partial write); the report counts lines by outcome and
 * keeps the first few errors as text ("unable to parse 'cpu,host=a x=': bad
 * value at char 12"). Points the shards refuse (type conflict, too old,
 * no memory, back-pressure) are counted by cause and reported the same way.
 *
 * Usage profile: bodies of 10,000 TSBS lines (~3.3 MB, 100,000 values) a few
 * times per second per connection; the decode runs at dp_line's speed on
 * the calling thread, so several HTTP threads decode in parallel.
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
 * Create a writer and claim its producer slot on every shard. 0, -ENOSPC
 * (no free slot: more writers than dp_inject slots) or -ENOMEM.
 */
int mg_writer_create(const struct mg_writer_cfg *cfg, struct mg_writer **out);
/* Waits for its batches in flight. Accepts NULL. */
void mg_writer_destroy(struct mg_writer *w);

/* One request. */
struct mg_write_req {
	const char *db;               /* NULL or "": the default database */
	const char *precision;        /* NULL, "n", "ns", "u", "us", "ms", "s", "m", "h" */
	const char *body;             /* borrowed: line protocol, already gunzipped */
	size_t len;
	int64_t now_ns;               /* time of lines without a timestamp */
};

#define MG_WRITE_ERRORS_MAX 8

/* What happened to a request. */
struct mg_write_report {
	uint64_t lines;               /* non-empty, non-comment lines */
	uint64_t lines_bad;           /* refused by the decoder */
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
 * -EINVAL for a bad precision or database name (nothing stored), or
 * -ETIMEDOUT (the report says how far it got).
 */
int mg_writer_write(struct mg_writer *w, const struct mg_write_req *req,
		    struct mg_write_report *rep);

#endif /* MG_WRITE_H */
