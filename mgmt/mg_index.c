/*
 * mg_index.c - see mg_index.h.
 */
#include "mg_index.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cm_log.h"
#include "st_index.h"
#include "st_rcu.h"
#include "st_shard.h"
#include "st_store.h"

struct mg_index {
	struct st_index *idx;
	struct st_store **stores;
	struct st_rcu *rcu;
	uint32_t nshards;
	pthread_mutex_t lock;       /* one sync at a time */
	uint32_t *indexed;          /* per shard: local ids below this are indexed */
};

int mg_index_create(struct st_store **stores, uint32_t nshards, struct st_rcu *rcu,
		    struct mg_index **out)
{
	struct mg_index *mi = calloc(1, sizeof(*mi));
	if (!mi)
		return -ENOMEM;
	mi->indexed = calloc(nshards, sizeof(*mi->indexed));
	int rc = mi->indexed ? st_index_create(NULL, &mi->idx) : -ENOMEM;
	if (rc) {
		free(mi->indexed);
		free(mi);
		return rc;
	}
	mi->stores = stores;
	mi->nshards = nshards;
	mi->rcu = rcu;
	pthread_mutex_init(&mi->lock, NULL);
	*out = mi;
	return 0;
}

void mg_index_destroy(struct mg_index *mi)
{
	if (!mi)
		return;
	st_index_destroy(mi->idx);
	pthread_mutex_destroy(&mi->lock);
	free(mi->indexed);
	free(mi);
}

struct st_index *mg_index_get(struct mg_index *mi)
{
	return mi->idx;
}

/* At most this many keys per read section: the shard's writer keeps reclaiming meanwhile. */
#define SYNC_STEP 4096

static int64_t sync_shard(struct mg_index *mi, uint32_t s, int reader)
{
	const struct st_shard *sh = st_store_shard(mi->stores[s]);
	int64_t added = 0;
	for (;;) {
		st_read_begin(mi->rcu, reader);
		uint32_t n = st_shard_series_count(sh);
		uint32_t from = mi->indexed[s];
		uint32_t to = n - from > SYNC_STEP ? from + SYNC_STEP : n;
		int rc = 0;
		for (uint32_t id = from; id < to && rc == 0; id++) {
			uint32_t len;
			enum st_value_type vt;
			const uint8_t *key = st_shard_series_key(sh, id, &len, &vt);
			rc = st_index_add(mi->idx, ST_SERIES_ID(s, id), key, len);
			if (rc == -EEXIST || rc == -EINVAL) {
				if (rc == -EINVAL)
					CM_LOG_RL(CM_LOG_WARN, "index", "event=bad_key shard=%u id=%u", s, id);
				rc = 0;
			}
			if (rc == 0) {
				mi->indexed[s] = id + 1;
				added++;
			}
		}
		st_read_end(mi->rcu, reader);
		if (rc)
			return rc;
		if (to == n)
			return added;
	}
}

int64_t mg_index_sync(struct mg_index *mi, int reader)
{
	int64_t total = 0;
	pthread_mutex_lock(&mi->lock);
	for (uint32_t s = 0; s < mi->nshards; s++) {
		int64_t n = sync_shard(mi, s, reader);
		if (n < 0) {
			total = n;
			break;
		}
		total += n;
	}
	pthread_mutex_unlock(&mi->lock);
	return total;
}
