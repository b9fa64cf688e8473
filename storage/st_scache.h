/*
 * st_scache.h - the section cache: decompressed block data sections shared
 * by the query threads of a store, bounded in bytes, least recently used
 * out first.
 *
 * A block data section (64 KiB raw, docs/formats/block.md) holds the chunks
 * of several series, so reading one series' chunk once meant reading,
 * checking and decompressing the whole section: a query over all series
 * decompressed each section once per series in it, and every query did it
 * again. The cache keeps the checked, decompressed bytes.
 *
 * An entry is (owner, index): owner a block's serial (st_scache_serial,
 * never reused), index its section. st_scache_get pins an entry; a pinned
 * entry is never freed, even when it is evicted or its block forgotten,
 * until st_scache_release. Thread-safe: one mutex, held for a hash lookup
 * and a list move (not while reading or decompressing).
 */
#ifndef ST_SCACHE_H
#define ST_SCACHE_H

#include <stddef.h>
#include <stdint.h>

struct st_scache;
struct st_scache_entry;

/* A pinned entry: raw is valid until st_scache_release. */
struct st_scache_ref {
	const uint8_t *raw;
	struct st_scache_entry *e;
};

struct st_scache_stats {
	uint64_t hits, misses, evictions;
	uint64_t bytes, entries;
	uint64_t max_bytes;
};

/* max_bytes > 0. 0 or -ENOMEM. */
int st_scache_create(size_t max_bytes, struct st_scache **out);
/* Every entry must be released. NULL ok. */
void st_scache_destroy(struct st_scache *c);

/* A new owner serial (any thread). */
uint64_t st_scache_serial(void);

/* Pin (owner, idx): 0, or -ENOENT (a miss, counted). */
int st_scache_get(struct st_scache *c, uint64_t owner, uint32_t idx, struct st_scache_ref *ref);

/*
 * Add raw (malloc'd, len bytes; the cache owns it from now on) as (owner,
 * idx) and pin it. If another thread added that entry first, raw is freed
 * and theirs is pinned. Entries over max_bytes are evicted, least recently
 * used first. 0, or -ENOMEM (raw freed, nothing pinned).
 */
int st_scache_put(struct st_scache *c, uint64_t owner, uint32_t idx, uint8_t *raw, size_t len,
		  struct st_scache_ref *ref);

void st_scache_release(struct st_scache *c, struct st_scache_ref *ref);

/* Drop every entry of owner (its block is closing). */
void st_scache_forget(struct st_scache *c, uint64_t owner);

void st_scache_stats_read(struct st_scache *c, struct st_scache_stats *out);

#endif /* ST_SCACHE_H */
