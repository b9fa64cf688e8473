/*
 * mg_statsd.c - see mg_statsd.h. One thread; per shard one batch being
 * filled. A full batch is submitted and waited for before it is refilled,
 * so the job never has more than one batch per shard in flight and never
 * drops a point: when a shard is slow, the flush is.
 */
#include "mg_statsd.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "mg_job.h"

#define BATCH_POINTS 8192u
#define BATCH_ARENA (BATCH_POINTS * 128u)

struct mg_statsd {
	struct dp_agg_cfg cfg;
	struct dp_agg_merger *merger;
	uint32_t n;
	struct dp_inject *const *injs;
	struct st_store *const *stores;
	int *slots;                        /* our writer slot in each injector */
	struct dp_inject_batch **batches;  /* one per shard */
	struct mg_job *job;
	int64_t last_flush_mono_ns;        /* the thread's: the interval a flush covers */
	struct {
		_Atomic uint64_t flushes, late_workers, points, stored, rejected, batches;
		_Atomic int64_t last_flush_ns;
	} ctr;
};

/* Submit shard i's batch and wait until it is stored; count its outcome. */
static void batch_send(struct mg_statsd *s, uint32_t i)
{
	struct dp_inject_batch *b = s->batches[i];
	if (b->n == 0)
		return;
	while (dp_inject_submit(s->injs[i], s->slots[i], b) == -EAGAIN)
		cm_sleep_ns(100 * CM_NS_PER_US);
	while (dp_inject_wait(b, s->stores[i], false, 10 * CM_NS_PER_SEC) == -ETIMEDOUT)
		CM_LOG_WARN("statsd", "event=inject_slow shard=%u points=%u", i, b->n);
	cm_ctr_add(&s->ctr.batches, 1);
	cm_ctr_add(&s->ctr.stored, b->stored);
	cm_ctr_add(&s->ctr.rejected, b->n - b->stored);
	dp_inject_batch_reset(b);
}

static void emit(void *ctx, const uint8_t *key, uint32_t keylen, uint64_t hash, int64_t ts_ns,
		 double value)
{
	struct mg_statsd *s = ctx;
	uint32_t i = (uint32_t)(hash % s->n);
	union st_value v = {.f64 = value};
	cm_ctr_add(&s->ctr.points, 1);
	if (dp_inject_batch_add(s->batches[i], key, keylen, hash, ts_ns, ST_VT_F64, v) == 0)
		return;
	batch_send(s, i);
	int rc = dp_inject_batch_add(s->batches[i], key, keylen, hash, ts_ns, ST_VT_F64, v);
	assert(rc == 0); /* an empty batch takes any key */
	(void)rc;
}

/* The job: one flush (also the last one, at stop). */
static void flush_once(void *arg)
{
	struct mg_statsd *s = arg;
	int64_t t0 = cm_mono_ns();
	dp_agg_merger_request(s->merger);
	if (!dp_agg_merger_collect(s->merger, 1 * CM_NS_PER_SEC))
		cm_ctr_add(&s->ctr.late_workers, 1);
	/* rates per second of the interval this flush really covers (the last one is short) */
	double interval_s = (double)(t0 - s->last_flush_mono_ns) / 1e9;
	s->last_flush_mono_ns = t0;
	dp_agg_merger_emit(s->merger, cm_now_ns(), interval_s, emit, s);
	for (uint32_t i = 0; i < s->n; i++)
		batch_send(s, i);
	cm_ctr_add(&s->ctr.flushes, 1);
	atomic_store_explicit(&s->ctr.last_flush_ns, cm_mono_ns() - t0, memory_order_relaxed);
}

static void statsd_free(struct mg_statsd *s)
{
	for (uint32_t i = 0; s->batches && i < s->n; i++)
		dp_inject_batch_destroy(s->batches[i]);
	free(s->batches);
	free(s->slots);
	dp_agg_merger_destroy(s->merger);
	free(s);
}

int mg_statsd_start(const struct dp_agg_cfg *cfg, struct dp_agg *const *aggs,
		    struct dp_inject *const *injs, struct st_store *const *stores, uint32_t n,
		    struct mg_statsd **out)
{
	struct mg_statsd *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->n = n;
	s->injs = injs;
	s->stores = stores;
	s->slots = calloc(n, sizeof(*s->slots));
	s->batches = calloc(n, sizeof(*s->batches));
	int rc = s->slots && s->batches ? dp_agg_merger_create(cfg, aggs, n, &s->merger) : -ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		rc = dp_inject_batch_create(BATCH_POINTS, BATCH_ARENA, &s->batches[i]);
		s->slots[i] = rc ? -1 : dp_inject_writer_claim(injs[i]);
		if (rc == 0 && s->slots[i] < 0)
			rc = s->slots[i];
	}
	s->last_flush_mono_ns = cm_mono_ns();
	if (rc == 0)
		rc = mg_job_start(cfg->flush_interval_ns, true, flush_once, s, &s->job);
	if (rc) {
		statsd_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void mg_statsd_stop(struct mg_statsd *s)
{
	if (!s)
		return;
	mg_job_stop(s->job);
	statsd_free(s);
}

void mg_statsd_stats_read(const struct mg_statsd *s, struct mg_statsd_stats *out)
{
	out->flushes = atomic_load_explicit(&s->ctr.flushes, memory_order_relaxed);
	out->late_workers = atomic_load_explicit(&s->ctr.late_workers, memory_order_relaxed);
	out->points = atomic_load_explicit(&s->ctr.points, memory_order_relaxed);
	out->stored = atomic_load_explicit(&s->ctr.stored, memory_order_relaxed);
	out->rejected = atomic_load_explicit(&s->ctr.rejected, memory_order_relaxed);
	out->batches = atomic_load_explicit(&s->ctr.batches, memory_order_relaxed);
	out->last_flush_ns = atomic_load_explicit(&s->ctr.last_flush_ns, memory_order_relaxed);
}
