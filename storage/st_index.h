/*
 * st_index.h - the series index of the management plane: an inverted index
 * over every shard's series, from measurement, (measurement, field) and
 * (measurement, tag key, tag value) to the ids of the series that have them,
 * with exact and regex tag matches, listings for SHOW MEASUREMENTS / TAG KEYS
 * / TAG VALUES / FIELD KEYS, and sorted id sets with the set operations a
 * query planner needs to evaluate `WHERE (a = 'x' OR b =~ /y/) AND c != 'z'`.
 *
 * Usage profile: one indexing thread of the management plane adds series as
 * the shards create them (up to millions, in bursts; the ids of one shard
 * arrive in increasing order, shards interleave) and removes them in batches
 * for retention; several query threads read concurrently. Never on the
 * dataplane hot path. About 300 bytes per TSBS-shaped series, most of it the
 * copied key (figures in st_index.c).
 *
 * Threads. One pthread rwlock (writer-preferring) guards the whole index:
 * writers are rare and batched, readers are queries.
 *   - st_index_add and st_index_remove take the write lock themselves. Call
 *     them from one thread at a time, never while that thread holds a read
 *     session (it would deadlock).
 *   - Every other function that takes a `const struct st_index *` is a read
 *     and requires the calling thread to hold a read session:
 *
 *         st_index_read_lock(idx);
 *         st_index_tag_eq(idx, meas, key, value, &set);
 *         st_index_key(idx, set.ids[0], &key, &len);   // borrowed ...
 *         st_index_read_unlock(idx);                   // ... until here
 *
 *     A session is how readers stay safe: no series can be removed (and no
 *     key freed) while any session is open, so a borrowed key stays valid
 *     until the session ends. Sessions do not nest (with a writer queued a
 *     second read lock would wait forever) and should be short: the index
 *     phase of one query; copy keys you need beyond it.
 *   - st_idset_* and st_index_regex_* do not touch an index and need no
 *     session; a compiled regex may be shared by threads, an idset may not.
 *
 * Matching (InfluxQL semantics): a series that lacks tag k is treated as if
 * its value were the empty string (tag values are never empty). So k = 'v'
 * is the series with that value, k = '' the series without the tag, k != 'v'
 * the series of the measurement without the tag or with another value, and
 * k =~ /re/ includes the series without the tag exactly when re matches "".
 * Regexes search anywhere in the value (unanchored), as in Go.
 *
 * Errors: 0 or a negative errno. Unknown measurements, keys and values are
 * not errors: they give empty sets or empty listings.
 */
#ifndef ST_INDEX_H
#define ST_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

/* ------------------------------------------------------------------------ */
/* Id sets                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A sorted set of series ids (strictly increasing), the result of every
 * match. A plain struct because the planner walks ids[0..n) directly. The
 * storage is owned by the caller: st_idset_init, then any number of uses,
 * then st_idset_release. Functions that fill a set replace its contents and
 * reuse its memory.
 */
struct st_idset {
	uint64_t *ids;
	size_t n;
	size_t cap;
};

void st_idset_init(struct st_idset *s);
/* Free the ids; s is empty (and reusable) afterwards. Accepts NULL. */
void st_idset_release(struct st_idset *s);
/* Make s empty, keeping its memory. */
void st_idset_clear(struct st_idset *s);
/* Room for at least n ids. Returns 0 or -ENOMEM (s unchanged). */
int st_idset_reserve(struct st_idset *s, size_t n);
/* dst = src. Returns 0 or -ENOMEM (dst unchanged). */
int st_idset_copy(struct st_idset *dst, const struct st_idset *src);
/* True if id is in s; O(log n). */
bool st_idset_contains(const struct st_idset *s, uint64_t id);

/*
 * In-place set operations: dst = dst op src. src is borrowed and may not be
 * dst. Intersection and difference gallop through the larger set when the
 * sizes are skewed (O(small * log(large))) and never allocate; union may
 * grow dst and returns 0 or -ENOMEM (dst unchanged).
 */
void st_idset_intersect(struct st_idset *dst, const struct st_idset *src);
void st_idset_difference(struct st_idset *dst, const struct st_idset *src);
int st_idset_union(struct st_idset *dst, const struct st_idset *src);

/* ------------------------------------------------------------------------ */
/* Regexes                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A compiled tag-value regex (PCRE2 with JIT when available). InfluxQL
 * regexes are Go RE2 syntax; PCRE2 accepts it, with `$` matching only at
 * the very end as in Go. Values that are not valid UTF-8 are matched byte by
 * byte where they are valid and never crash. Each match is bounded by a
 * match limit (no runaway backtracking). Compile once per query and use it
 * from any number of threads.
 */
struct st_index_regex;

/*
 * Compile pat[len] (borrowed; need not be NUL-terminated) into *out, owned
 * by the caller (st_index_regex_free). Returns 0, -EINVAL with a message in
 * err (e.g. `bad regex "a(": missing closing parenthesis at 2`) or -ENOMEM.
 */
int st_index_regex_compile(const char *pat, size_t len, struct st_index_regex **out,
			   char *err, size_t errlen);
/* Accepts NULL. */
void st_index_regex_free(struct st_index_regex *re);
/* 1 if re matches somewhere in s, 0 if not; -ENOMEM, -E2BIG (match limit). */
int st_index_regex_match(const struct st_index_regex *re, struct st_str s);

/* ------------------------------------------------------------------------ */
/* Lifecycle and writes                                                       */
/* ------------------------------------------------------------------------ */

struct st_index;

/*
 * Allocation goes through this one function so tests can inject failures
 * (realloc semantics: p == NULL allocates, bytes == 0 frees and returns
 * NULL). Must be thread-safe: readers allocate temporaries.
 */
struct st_index_mem_ops {
	void *(*realloc)(void *arg, void *p, size_t bytes);
	void *arg;
};

struct st_index_cfg {
	/* Borrowed and kept until st_index_destroy; NULL: libc. */
	const struct st_index_mem_ops *mem;
};

/*
 * Create an empty index into *out (owned by the caller: st_index_destroy).
 * cfg is borrowed (NULL: defaults). Returns 0 or -ENOMEM. Any thread.
 */
int st_index_create(const struct st_index_cfg *cfg, struct st_index **out);
/* Free the index and every key it holds. No session may be open. Accepts NULL. */
void st_index_destroy(struct st_index *idx);

/*
 * Index series id with the canonical key key[len] (st_series.h; borrowed,
 * copied). The series joins the postings of its measurement, of its field
 * (when the field is not empty) and of each of its tags. Ids of one shard are
 * cheapest in increasing order (O(1) amortized appends); any order is
 * correct. Returns 0, -EEXIST (id already indexed), -EINVAL (malformed key),
 * -EOVERFLOW (a term already has 2^32 - 1 series) or -ENOMEM; on error the
 * index is unchanged. Takes the write lock; writer thread.
 */
int st_index_add(struct st_index *idx, uint64_t id, const uint8_t *key, size_t len);

/*
 * Remove the series ids[0..n) (borrowed; any order; ids that are not indexed
 * and repeats are skipped). Terms left without series disappear from the
 * index and its listings. One pass over each affected posting per call, so
 * remove in batches. Frees the removed keys. Never fails; returns the number
 * of series removed. Takes the write lock; writer thread.
 */
size_t st_index_remove(struct st_index *idx, const uint64_t *ids, size_t n);

/* ------------------------------------------------------------------------ */
/* Read sessions                                                              */
/* ------------------------------------------------------------------------ */

/* Begin/end a read session (see Threads above). Any thread; do not nest. */
void st_index_read_lock(struct st_index *idx);
void st_index_read_unlock(struct st_index *idx);

/* ------------------------------------------------------------------------ */
/* Reads (the caller holds a read session)                                    */
/* ------------------------------------------------------------------------ */

/*
 * The key of series id: *key (borrowed: valid until the session ends) and
 * *len. Returns 0 or -ENOENT.
 */
int st_index_key(const struct st_index *idx, uint64_t id, const uint8_t **key, size_t *len);

/* Number of series indexed. */
uint64_t st_index_cardinality(const struct st_index *idx);

/*
 * Matches. Each replaces the contents of out (caller-owned, initialized)
 * with the sorted ids of the series of measurement meas that ...
 *   st_index_measurement: ... exist;
 *   st_index_field:       ... have field key field (an empty field is never
 *                             indexed: StatsD series have none);
 *   st_index_tag_eq:      ... have tag key = value (value "": lack the tag);
 *   st_index_tag_neq:     ... lack the tag or have another value
 *                             (value "": have the tag);
 *   st_index_tag_regex:   ... whose value of key (or "" if they lack it)
 *                             re matches;
 *   st_index_tag_nregex:  ... whose value of key (or "") re does not match.
 * Strings are borrowed for the call; re (borrowed) is matched once per
 * distinct value of key, not once per series. Return 0, -ENOMEM or (regex)
 * -E2BIG; out is empty on error.
 */
int st_index_measurement(const struct st_index *idx, struct st_str meas, struct st_idset *out);
int st_index_field(const struct st_index *idx, struct st_str meas, struct st_str field,
		   struct st_idset *out);
int st_index_tag_eq(const struct st_index *idx, struct st_str meas, struct st_str key,
		    struct st_str value, struct st_idset *out);
int st_index_tag_neq(const struct st_index *idx, struct st_str meas, struct st_str key,
		     struct st_str value, struct st_idset *out);
int st_index_tag_regex(const struct st_index *idx, struct st_str meas, struct st_str key,
		       const struct st_index_regex *re, struct st_idset *out);
int st_index_tag_nregex(const struct st_index *idx, struct st_str meas, struct st_str key,
			const struct st_index_regex *re, struct st_idset *out);

/*
 * One condition of a WHERE clause, for st_index_filter: the match of the
 * function of the same name (ST_INDEX_FIELD: st_index_field with field key).
 */
enum st_index_op {
	ST_INDEX_FIELD,
	ST_INDEX_EQ,
	ST_INDEX_NEQ,
	ST_INDEX_RE,
	ST_INDEX_NRE,
};

struct st_index_cond {
	enum st_index_op op;
	struct st_str key;                /* tag key; for FIELD the field key */
	struct st_str value;              /* EQ, NEQ */
	const struct st_index_regex *re;  /* RE, NRE; borrowed */
};

/*
 * set = set AND (the series of meas that match c), by reading the key of
 * each id in set rather than building the match: O(|set|) key reads, no
 * matter how many series match c. The planner evaluates its most selective
 * condition with a match function, then filters by the others while the set
 * is small (`host = 'a' AND field usage_user`: 10 key reads instead of
 * copying 100 k ids). Ids not in the index are dropped. set is caller-owned;
 * c and its strings are borrowed. Returns 0, -ENOMEM or -E2BIG (regex); set
 * is empty on error.
 */
int st_index_filter(const struct st_index *idx, struct st_str meas, const struct st_index_cond *c,
		    struct st_idset *set);

/*
 * Listing callback: one name (borrowed for the call) and the number of
 * series that have it. Return 0 to go on; anything else stops the listing,
 * which returns that value. The callback runs inside the caller's session:
 * it may call other reads, never st_index_add/remove.
 */
typedef int (*st_index_name_fn)(void *arg, struct st_str name, uint64_t nseries);

/*
 * Listings, in increasing memcmp order, optionally filtered by re (borrowed;
 * NULL: all):
 *   st_index_measurements: measurements, with their series counts;
 *   st_index_tag_keys:     tag keys of meas, with the series having each;
 *   st_index_tag_values:   values of tag key in meas, with their series;
 *   st_index_field_keys:   field keys of meas, with their series.
 * Return 0, the callback's non-zero value, -ENOMEM or -E2BIG (regex).
 */
int st_index_measurements(const struct st_index *idx, const struct st_index_regex *re,
			  st_index_name_fn fn, void *arg);
int st_index_tag_keys(const struct st_index *idx, struct st_str meas,
		      const struct st_index_regex *re, st_index_name_fn fn, void *arg);
int st_index_tag_values(const struct st_index *idx, struct st_str meas, struct st_str key,
			const struct st_index_regex *re, st_index_name_fn fn, void *arg);
int st_index_field_keys(const struct st_index *idx, struct st_str meas,
			const struct st_index_regex *re, st_index_name_fn fn, void *arg);

/* Counters for /metrics and sfctl stats (caller holds a session). */
struct st_index_stats {
	uint64_t series;
	uint64_t measurements;
	uint64_t terms;          /* measurements, fields, tag keys, tag values */
	uint64_t postings;       /* (term, series) pairs */
	uint64_t segments;       /* per-shard runs of the large postings */
	uint64_t bytes;          /* requested heap bytes (no allocator overhead) */
};
void st_index_stats_read(const struct st_index *idx, struct st_index_stats *out);

/*
 * Invariant walker for tests: every posting is sorted and points to a live
 * series whose key has that term, every live series is in the postings of
 * each of its terms, the hash tables find every term and page, and the
 * counts agree. Returns 0 or -EUCLEAN with the first violation in err.
 * O(size of the index); the caller holds a session.
 */
int st_index_check(const struct st_index *idx, char *err, size_t errlen);

#endif /* ST_INDEX_H */
