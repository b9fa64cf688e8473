/*
 * mg_result.h - what a query returns, in InfluxDB 1.x's shape: per
 * statement either an error or a list of series, each with a name, tags,
 * column names and rows of typed cells; and its JSON encoding,
 * which the HTTP API and the management socket both send.
 *
 *   {"results":[{"statement_id":0,"series":[{"name":"cpu",
 *      "tags":{"host":"a"},"columns":["time","max"],
 *      "values":[[1451606400000000000,58]]}]}]}
 *
 * Usage profile: built once per query by the executor (mg_exec.c) on a
 * management thread, encoded once, freed. Results are small next to the
 * data scanned (a TSBS query returns 1 to 4,000 rows); the guardrails
 * (mg_exec.h) bound them. One thread at a time per result.
 *
 * Memory: a result owns everything in it (names, tags, strings in cells)
 * through its own arena; mg_result_free releases it all.
 *
 * Pointers into a result move while it grows: the statements of a result,
 * the series of a statement and the cells of a series are arrays that an
 * add reallocates. A struct mg_stmt_result * (and a struct mg_series *) is
 * valid only until the next add on the same result. Precisely: a statement
 * until the next mg_result_add_stmt on r, a series until the next
 * mg_result_add_series on its statement, a pointer into series->cells
 * until the next mg_result_add_row on that series. Across adds keep
 * indexes (r->stmts[i].series[j]), not pointers. Names, tags and strings
 * (the arena) never move.
 */
#ifndef MG_RESULT_H
#define MG_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mg_cell_type {
	MG_CELL_NULL = 0,
	MG_CELL_F64,
	MG_CELL_I64,
	MG_CELL_U64,
	MG_CELL_BOOL,
	MG_CELL_STR,
	MG_CELL_TIME,     /* i: nanoseconds; printed per the request's epoch */
};

struct mg_cell {
	uint8_t type;     /* enum mg_cell_type */
	int32_t utc_offset_s; /* MG_CELL_TIME: printed in RFC3339 with this offset (tz()) */
	union {
		double f;
		int64_t i;
		uint64_t u;
		bool b;
		const char *s;    /* owned by the result's arena */
	};
};

struct mg_tagpair {
	const char *key, *value;
};

struct mg_series {
	const char *name;
	struct mg_tagpair *tags;      /* sorted by key */
	uint32_t ntags;
	const char **columns;
	uint32_t ncols;
	struct mg_cell *cells;        /* nrows * ncols, row-major */
	uint64_t nrows;
	bool partial;                 /* chunked: more rows of this series follow */
};

struct mg_stmt_result {
	uint32_t statement_id;
	const char *error;            /* NULL: success */
	struct mg_series *series;
	uint32_t nseries;
	const char **messages;        /* informational messages (InfluxDB "messages") */
	uint32_t nmessages;
};

struct mg_result {
	struct mg_stmt_result *stmts;
	uint32_t nstmts;
	/* private arena follows */
};

/* ------------------------------------------------------------- building */

/* An empty result (owned by the caller: mg_result_free). NULL on ENOMEM. */
struct mg_result *mg_result_create(void);
void mg_result_free(struct mg_result *r);

/* Append a statement result; NULL on ENOMEM. Valid until the next add_stmt on r. */
struct mg_stmt_result *mg_result_add_stmt(struct mg_result *r, uint32_t statement_id);
/* Set its error (printf-style; copied). 0 or -ENOMEM. */
int mg_result_set_error(struct mg_result *r, struct mg_stmt_result *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Drop every series of s (a statement that failed after adding some). */
void mg_result_drop_series(struct mg_result *r, struct mg_stmt_result *s);
/*
 * Append a series with ncols columns (names copied) and tags (copied,
 * sorted here); rows are appended with mg_result_add_row. NULL on ENOMEM.
 * The returned pointer is valid until the next mg_result_add_series on s
 * (the series array is reallocated); s itself must be current (see above).
 */
struct mg_series *mg_result_add_series(struct mg_result *r, struct mg_stmt_result *s,
				       const char *name, const struct mg_tagpair *tags,
				       uint32_t ntags, const char *const *columns,
				       uint32_t ncols);
/*
 * Append one row of series->ncols cells (copied; MG_CELL_STR strings are
 * copied too). 0 or -ENOMEM.
 */
int mg_result_add_row(struct mg_result *r, struct mg_series *series, const struct mg_cell *row);
/*
 * Append n rows (n > 0, series->ncols > 0) that the caller fills: the
 * first of their n * ncols cells, unset, valid as series->cells is (see
 * above); NULL on ENOMEM. They count in nrows at once: a caller that fails
 * before setting them all must free the result, never encode it. Their
 * MG_CELL_STR strings are not copied: each must be the result's own
 * (mg_result_strdup), alive and unchanged until mg_result_free (the JSON
 * encoder remembers encodings by address). One allocation for a whole
 * batch of rows, no per-cell copying: for the executor's large raw answers.
 */
struct mg_cell *mg_result_add_rows(struct mg_result *r, struct mg_series *series, uint64_t n);
/* Copy a string into the result's arena; NULL on ENOMEM. */
const char *mg_result_strdup(struct mg_result *r, const char *s, size_t len);
/* Bytes the result holds (for the query memory guardrail). */
size_t mg_result_bytes(const struct mg_result *r);

/* ------------------------------------------------------------- encoding */

/* InfluxDB's epoch= parameter: how MG_CELL_TIME cells are printed. */
enum mg_epoch {
	MG_EPOCH_RFC3339,     /* no epoch: "2016-01-01T00:00:00Z" (RFC3339Nano, trailing zeros
			       * cut), or with the cell's offset: "2015-12-31T18:00:00-06:00" */
	MG_EPOCH_NS,
	MG_EPOCH_US,          /* u, µ */
	MG_EPOCH_MS,
	MG_EPOCH_S,
	MG_EPOCH_M,
	MG_EPOCH_H,
};
/* Parse "ns", "u", "µ", "ms", "s", "m", "h" (NULL or "": RFC3339). 0 or -EINVAL. */
int mg_epoch_parse(const char *s, enum mg_epoch *out);

/* Where the encoder writes: called with consecutive pieces; nonzero stops it. */
typedef int (*mg_write_fn)(void *arg, const char *buf, size_t len);

struct mg_json_opts {
	enum mg_epoch epoch;
	bool pretty;              /* indented, as InfluxDB's pretty=true */
};

/*
 * A growing malloc'd buffer and the mg_write_fn that appends to it, for
 * front-ends that send an encoded document whole: pass mg_result_buf_write
 * and a zeroed struct. p[0..len) is what was written, NUL-terminated once
 * anything was (p is NULL until then); owned by the caller: free(p). Set
 * len to 0 to reuse it. One thread at a time.
 */
struct mg_result_buf {
	char *p;
	size_t len, cap;
};
/* Append s[0..n) to arg, a struct mg_result_buf *. 0 or -ENOMEM (the buffer unchanged). */
int mg_result_buf_write(void *arg, const char *s, size_t n);
/* Append printf-style (NUL bytes from %c count as text). 0, -EINVAL, -ENOMEM. */
int mg_result_buf_printf(struct mg_result_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Append s with a backslash before each byte in esc: line protocol for
 * INTO and the streaming detectors' events (", " for a measurement, ",= "
 * for tag keys, tag values and field keys; st_lp_escape). 0 or -ENOMEM.
 */
int mg_result_buf_lp(struct mg_result_buf *b, const char *s, const char *esc);

/*
 * Make s valid UTF-8 in place: each byte that is not part of a valid
 * sequence becomes '?' (valid multi-byte text is kept). For messages built
 * from client input that go into JSON through a library that refuses
 * invalid UTF-8 (jansson's json_string).
 */
void mg_utf8_scrub(char *s);

/*
 * Encode r as one JSON document. Returns 0, the writer's nonzero value, or
 * -ENOMEM.
 */
int mg_result_json(const struct mg_result *r, const struct mg_json_opts *o, mg_write_fn fn,
		   void *arg);

/*
 * Chunked encoding (InfluxDB's chunked=true): a sequence of JSON documents,
 * each followed by '\n', each holding one statement's series with at most
 * chunk_size rows per document; a series split across documents has
 * "partial":true on all but its last piece, and a statement's last document
 * is the one without "partial":true at the result level. Returns as
 * mg_result_json.
 */
int mg_result_json_chunked(const struct mg_result *r, const struct mg_json_opts *o,
			   uint64_t chunk_size, mg_write_fn fn, void *arg);

#endif /* MG_RESULT_H */
