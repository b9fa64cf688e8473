/*
 * mg_index.h - keeps the series index (st_index.h) in step with the shards.
 *
 * Shards create series on their own cores and never tell anyone; their
 * series ids are dense per shard, so the management plane learns of new
 * series by comparing each shard's series count with how far it has
 * indexed, and indexes the difference. A background job does it every
 * mgmt.index_interval, and every query does it once more before it plans:
 * a series created by a write acknowledged before the query started is in
 * the index when the query looks (the consistency promise of
 * docs/ARCHITECTURE.md, "Queries").
 *
 * Usage profile: bursts of up to millions of series after recovery or a
 * first load, then a trickle; a sync with nothing new costs one load per
 * shard. Threads: any management thread holding a QSBR reader slot; syncs
 * are serialized by a mutex (st_index_add wants one writer).
 */
#ifndef MG_INDEX_H
#define MG_INDEX_H

#include <stdint.h>

struct st_index;
struct st_rcu;
struct st_store;

struct mg_index;

/* stores[nshards] and rcu are kept until destroy. 0 or -ENOMEM. */
int mg_index_create(struct st_store **stores, uint32_t nshards, struct st_rcu *rcu,
		    struct mg_index **out);
/* No sync or reader session may run. Accepts NULL. */
void mg_index_destroy(struct mg_index *mi);

/*
 * Index every series the shards created since the last sync. reader is the
 * caller's QSBR slot (not inside st_read_begin/end, and not inside an index
 * read session). Returns the number of series added, or -ENOMEM (what was
 * added stays; the next sync retries the rest).
 */
int64_t mg_index_sync(struct mg_index *mi, int reader);

/* The index, for read sessions (st_index.h). */
struct st_index *mg_index_get(struct mg_index *mi);

#endif /* MG_INDEX_H */
