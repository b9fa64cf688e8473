/*
 * dp_worker.c - see dp_worker.h.
 *
 * The decode step appends points to a burst (points plus their keys in a
 * key arena) and hands the burst to st_store_insert_burst when it is full,
 * when the arena could not take another key, and at the end of every pass:
 * the store prefetches series across a burst, which is where its speed
 * comes from.
 */
#include "dp_worker.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "dp_agg.h"
#include "dp_binsrc.h"
#include "dp_inject.h"

#define BURST_MAX 1024u
#define ARENA_BYTES (256u * 1024u)
#define NCTR (sizeof(struct dp_worker_stats) / sizeof(uint64_t))
/* The counter behind a member of struct dp_worker_stats, and element i of an array member. */
#define CTR(w, member) (&(w)->ctr[offsetof(struct dp_worker_stats, member) / sizeof(uint64_t)])
#define CTRI(w, member, i) (CTR(w, member) + (i))

static_assert(sizeof(struct dp_worker_stats) % sizeof(uint64_t) == 0, "counters are u64s");

static const struct cm_cfg_key worker_keys[] = {
	{"dataplane.burst_points", CM_CFG_INT, "256", 16, BURST_MAX, NULL, false,
	 "points per store insert burst"},
	{"dataplane.idle_wait", CM_CFG_DURATION, "200us", 0, 100 * CM_NS_PER_MS, NULL, false,
	 "how long an idle worker waits for input before polling its store again"},
	{"dataplane.inject_points", CM_CFG_INT, "65536", 1024, 1 << 24, NULL, false,
	 "most points a worker takes from its injection rings per pass"},
	{"binary.max_sources", CM_CFG_INT, "4096", 1, 1 << 20, NULL, false,
	 "binary-frame sources a worker tracks"},
	{"binary.max_refs", CM_CFG_INT, "1048576", 1, 1 << 26, NULL, false,
	 "binary-frame series refs a worker remembers"},
};

const struct cm_cfg_table dp_worker_cfg_table = {
	.module = "dataplane",
	.keys = worker_keys,
	.nkeys = CM_ARRAY_SIZE(worker_keys),
};

void dp_worker_cfg_from(const struct cm_config *config, struct dp_worker_cfg *cfg)
{
	cfg->burst_points = (uint32_t)cm_config_int(config, "dataplane.burst_points");
	cfg->idle_wait_ns = cm_config_int(config, "dataplane.idle_wait");
	cfg->inject_points = (uint32_t)cm_config_int(config, "dataplane.inject_points");
	cfg->binary_max_sources = (uint32_t)cm_config_int(config, "binary.max_sources");
	cfg->binary_max_refs = (uint32_t)cm_config_int(config, "binary.max_refs");
}

struct sender_slot {
	uint8_t addr[16];
	_Atomic uint8_t used;      /* 1: addr and proto are set (release) */
	uint8_t proto;
	_Atomic uint64_t msgs, bad;
};

struct dp_worker {
	struct dp_worker_cfg cfg;
	struct dp_binsrc *binsrc;
	_Atomic bool stop_rx, stop;

	/* the burst being built */
	uint32_t n;
	uint32_t arena_used;
	int64_t now_ns;                /* receive time of the current RX burst */
	struct st_shard_point pts[BURST_MAX];
	uint8_t status[BURST_MAX];
	uint8_t *arena;

	/* decoder scratch (one per core) */
	struct dp_line line;
	struct dp_field fields[DP_LINE_FIELDS_DEFAULT];
	struct dp_statsd sd;
	struct dp_frame_rec rec;

	struct sender_slot senders[DP_WORKER_SENDERS];
	_Atomic uint64_t other_msgs, other_bad;
	_Atomic uint64_t ctr[NCTR] CM_CACHE_ALIGNED;
};

const char *dp_worker_drop_name(enum dp_worker_drop d)
{
	static const char *const names[DP_WD__COUNT] = {
		"string_field", "unknown_ref", "type_mismatch", "dup_frame", "source_full",
		"statsd_agg", "no_aggregator", "bad_proto", "bad_def",
	};
	return (unsigned)d < DP_WD__COUNT ? names[d] : "unknown";
}

int dp_worker_create(const struct dp_worker_cfg *cfg, struct dp_worker **out)
{
	if (!cfg->store || cfg->burst_points == 0 || cfg->burst_points > BURST_MAX ||
	    (cfg->inject && cfg->inject_points == 0))
		return -EINVAL;
	struct dp_worker *w = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(sizeof(*w), CM_CACHE_LINE));
	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	w->arena = malloc(ARENA_BYTES);
	int rc = w->arena ? dp_binsrc_create(cfg->binary_max_sources, cfg->binary_max_refs,
					     &w->binsrc)
			  : -ENOMEM;
	if (rc) {
		free(w->arena);
		free(w);
		return rc;
	}
	dp_line_init(&w->line, w->fields, DP_LINE_FIELDS_DEFAULT);
	*out = w;
	return 0;
}

void dp_worker_destroy(struct dp_worker *w)
{
	if (!w)
		return;
	dp_binsrc_destroy(w->binsrc);
	free(w->arena);
	free(w);
}

/* ------------------------------------------------------------ the burst */

/* HOT PATH */
void dp_worker_flush(struct dp_worker *w)
{
	if (w->n == 0)
		return;
	uint32_t stored = st_store_insert_burst(w->cfg.store, w->pts, w->n, w->status);
	cm_ctr_add(CTR(w, points_in), w->n);
	cm_ctr_add(CTR(w, points_stored), stored);
	if (stored != w->n)
		for (uint32_t i = 0; i < w->n; i++)
			if (w->status[i] != ST_INS_OK && w->status[i] != ST_INS_OOO)
				cm_ctr_add(CTRI(w, rejected, w->status[i]), 1);
	w->n = 0;
	w->arena_used = 0;
	dp_binsrc_reclaim(w->binsrc); /* keys replaced by DEFs since the last flush */
}

/* HOT PATH. Room for one more point with a key of up to keymax bytes. */
static inline uint8_t *burst_key_room(struct dp_worker *w, uint32_t keymax)
{
	if (w->n == w->cfg.burst_points || ARENA_BYTES - w->arena_used < keymax)
		dp_worker_flush(w);
	return w->arena + w->arena_used;
}

/* HOT PATH. Append a point whose key is at w->arena + arena_used (keylen bytes). */
static inline void burst_push(struct dp_worker *w, uint32_t keylen, uint64_t hash, int64_t ts_ns,
			      uint8_t type, union st_value v)
{
	const uint8_t *key = w->arena + w->arena_used;
	w->arena_used += keylen;
	w->pts[w->n++] = (struct st_shard_point){
		.key = key, .keylen = keylen, .hash = hash, .ts_ns = ts_ns, .v = v, .type = type,
	};
}

/* HOT PATH. Append a point whose key lives elsewhere (stays valid until the flush). */
static inline void burst_push_key(struct dp_worker *w, const uint8_t *key, uint32_t keylen,
				  uint64_t hash, int64_t ts_ns, uint8_t type, union st_value v)
{
	if (w->n == w->cfg.burst_points)
		dp_worker_flush(w);
	w->pts[w->n++] = (struct st_shard_point){
		.key = key, .keylen = keylen, .hash = hash, .ts_ns = ts_ns, .v = v, .type = type,
	};
}

/* ------------------------------------------------------------ senders */

static struct sender_slot *sender_of(struct dp_worker *w, const struct dp_rx_msg *m)
{
	uint64_t h = XXH3_64bits(m->src_addr, 16) ^ m->proto;
	for (uint32_t k = 0; k < 4; k++) {
		struct sender_slot *s = &w->senders[(h + k) % DP_WORKER_SENDERS];
		if (!atomic_load_explicit(&s->used, memory_order_relaxed)) {
			memcpy(s->addr, m->src_addr, 16);
			s->proto = m->proto;
			/* pairs with the acquire in dp_worker_senders: addr and proto are set */
			atomic_store_explicit(&s->used, 1, memory_order_release);
			return s;
		}
		if (s->proto == m->proto && !memcmp(s->addr, m->src_addr, 16))
			return s;
	}
	return NULL;
}

static inline void sender_count(struct dp_worker *w, struct sender_slot *s, uint64_t bad)
{
	cm_ctr_add(s ? &s->msgs : &w->other_msgs, 1);
	if (bad)
		cm_ctr_add(s ? &s->bad : &w->other_bad, bad);
}

/* ------------------------------------------------------------ decoders */

/* HOT PATH. One line-protocol message: every field of every OK line is a point. */
static uint64_t rx_line(struct dp_worker *w, const struct dp_rx_msg *m)
{
	const struct dp_line_opts opts = {
		.now_ns = w->now_ns, .unit_ns = m->unit_ns ? m->unit_ns : 1, .flags = DP_LINE_COMPLETE,
	};
	const char *p = (const char *)m->buf;
	size_t left = m->len;
	uint64_t bad = 0;
	while (left) {
		size_t used;
		enum dp_line_status st = dp_line_decode(&w->line, p, left, &opts, &used);
		p += used;
		left -= used;
		cm_ctr_add(CTRI(w, line, st), 1);
		if (st != DP_LINE_OK) {
			bad += st != DP_LINE_EMPTY;
			if (used == 0)
				break; /* TRUNCATED cannot happen with COMPLETE; be safe */
			continue;
		}
		cm_ctr_add(CTR(w, line_values), w->line.nfields);
		for (uint32_t i = 0; i < w->line.nfields; i++) {
			const struct dp_field *f = &w->line.fields[i];
			if (f->type == ST_VT_STR) {
				cm_ctr_add(CTRI(w, dropped, DP_WD_STRING_FIELD), 1);
				continue;
			}
			uint8_t *key = burst_key_room(w, ST_KEY_MAX);
			int kl = dp_line_key(&w->line, i, key, ST_KEY_MAX);
			assert(kl > 0);
			burst_push(w, (uint32_t)kl, st_key_hash(key, (size_t)kl), w->line.ts_ns, f->type,
				   f->v);
		}
	}
	return bad;
}

/* HOT PATH. One StatsD datagram: OK lines go to the aggregator. */
static uint64_t rx_statsd(struct dp_worker *w, const struct dp_rx_msg *m)
{
	const char *p = (const char *)m->buf;
	size_t left = m->len;
	uint64_t bad = 0;
	while (left) {
		size_t used;
		enum dp_statsd_status st = dp_statsd_decode(&w->sd, p, left, DP_STATSD_COMPLETE, &used);
		p += used;
		left -= used;
		cm_ctr_add(CTRI(w, statsd, st), 1);
		if (st != DP_STATSD_OK) {
			bad += st > DP_STATSD_SERVICE_CHECK;
			if (used == 0)
				break;
			continue;
		}
		cm_ctr_add(CTR(w, statsd_values), w->sd.nvalues);
		if (!w->cfg.agg) {
			cm_ctr_add(CTRI(w, dropped, DP_WD_NO_AGG), w->sd.nvalues);
		} else if (dp_agg_add(w->cfg.agg, &w->sd, w->now_ns) == DP_AGG_OK) {
			cm_ctr_add(CTR(w, statsd_aggregated), w->sd.nvalues);
		} else {
			cm_ctr_add(CTRI(w, dropped, DP_WD_STATSD_AGG), w->sd.nvalues);
		}
	}
	return bad;
}

/* A sequence event of src: a point of sf_binary_seq,source=<id> gap|late. */
static void seq_event(struct dp_worker *w, struct dp_binsrc_source *src, bool gap, double v)
{
	int64_t ts = CM_MAX(w->now_ns, src->last_event_ns + 1);
	src->last_event_ns = ts;
	const struct dp_binsrc_key *k = gap ? &src->gap : &src->late;
	burst_push_key(w, k->key, k->keylen, k->hash, ts, ST_VT_F64, (union st_value){.f64 = v});
	cm_ctr_add(CTR(w, seq_events), 1);
}

/* Sequence bookkeeping of a valid frame. Returns false for a duplicate (skip it). */
static bool rx_frame_seq(struct dp_worker *w, struct dp_binsrc_source *src, uint64_t seq)
{
	uint64_t missing_before = src->seq.missing;
	enum dp_frame_seq_result r = dp_frame_seq_check(&src->seq, seq);
	cm_ctr_add(CTRI(w, frame_seq, r), 1);
	if (r == DP_SEQ_GAP) {
		uint64_t missing = src->seq.missing - missing_before;
		cm_ctr_add(CTR(w, frame_missing), missing);
		seq_event(w, src, true, (double)missing);
	} else if (r == DP_SEQ_LATE) {
		seq_event(w, src, false, 1.0);
	}
	return r != DP_SEQ_DUPLICATE;
}

/* HOT PATH. One binary frame. */
static uint64_t rx_binary(struct dp_worker *w, const struct dp_rx_msg *m)
{
	struct dp_frame f;
	enum dp_frame_status st = dp_frame_open(&f, m->buf, m->len);
	if (st != DP_FRAME_OK) {
		cm_ctr_add(CTRI(w, frame, st), 1);
		return 1;
	}
	cm_ctr_add(CTRI(w, frame, DP_FRAME_OK), 1);
	struct dp_binsrc_source *src = dp_binsrc_source(w->binsrc, f.source_id);
	bool keep = src && rx_frame_seq(w, src, f.seq);
	if (src)
		cm_ctr_add(&src->ctr[keep ? DP_BSC_FRAMES : DP_BSC_DUP_FRAMES], 1);
	uint64_t bad = 0, points = 0;
	struct dp_frame_rec *rec = &w->rec;
	while ((st = dp_frame_next(&f, rec)) != DP_FRAME_END) {
		if (st != DP_FRAME_OK) {
			cm_ctr_add(CTRI(w, frame, st), 1);
			bad++;
			continue;
		}
		if (rec->kind == DP_WIRE_DEF) {
			cm_ctr_add(CTR(w, binary_defs), 1);
			if (keep && dp_binsrc_define(w->binsrc, src, rec)) {
				cm_ctr_add(CTRI(w, dropped, DP_WD_BAD_DEF), 1);
				bad++;
			}
			continue;
		}
		points++;
		if (!keep) {
			cm_ctr_add(CTRI(w, dropped, src ? DP_WD_DUP_FRAME : DP_WD_SOURCE_FULL), 1);
			continue;
		}
		const struct dp_binsrc_ref *ref = dp_binsrc_lookup(w->binsrc, f.source_id, rec->series_ref);
		if (!ref || ref->type != rec->type) {
			cm_ctr_add(CTRI(w, dropped, ref ? DP_WD_TYPE_MISMATCH : DP_WD_UNKNOWN_REF), 1);
			cm_ctr_add(&src->ctr[ref ? DP_BSC_TYPE_MISMATCH : DP_BSC_UNKNOWN_REF], 1);
			continue;
		}
		/* dp_wire_type values are the st_value_type values (dp_wire.h) */
		burst_push_key(w, ref->key, ref->keylen, ref->hash, rec->ts_ns, rec->type, rec->v);
	}
	cm_ctr_add(CTR(w, binary_values), points);
	if (src) {
		cm_ctr_add(&src->ctr[DP_BSC_POINTS], points);
		if (bad)
			cm_ctr_add(&src->ctr[DP_BSC_BAD_RECORDS], bad);
	}
	return bad;
}

/* HOT PATH */
void dp_worker_rx_burst(void *ctx, const struct dp_rx_msg *msgs, uint32_t n)
{
	struct dp_worker *w = ctx;
	w->now_ns = cm_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		const struct dp_rx_msg *m = &msgs[i];
		if (i + 1 < n)
			__builtin_prefetch(msgs[i + 1].buf);
		uint64_t bad;
		switch (m->proto) {
		case DP_PROTO_LINE: bad = rx_line(w, m); break;
		case DP_PROTO_STATSD: bad = rx_statsd(w, m); break;
		case DP_PROTO_BINARY: bad = rx_binary(w, m); break;
		default: /* the backends deliver only the protocols above */
			cm_ctr_add(CTRI(w, dropped, DP_WD_BAD_PROTO), 1);
			continue;
		}
		cm_ctr_add(CTRI(w, msgs, m->proto), 1);
		cm_ctr_add(CTRI(w, bytes, m->proto),
			   m->len);
		if (m->proto != DP_PROTO_BINARY)
			sender_count(w, sender_of(w, m), bad);
	}
}

/* ------------------------------------------------------------ the loop */

int dp_worker_run(struct dp_worker *w)
{
	struct dp_backend *b = w->cfg.backend;
	if (b && b->ops->attach) {
		int rc = b->ops->attach(b, w->cfg.id);
		if (rc)
			return rc;
	}
	uint32_t idle_run = 0;
	while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
		uint32_t got = 0;
		if (b && !atomic_load_explicit(&w->stop_rx, memory_order_acquire))
			got = b->ops->poll(b, w->cfg.id, dp_worker_rx_burst, w);
		dp_worker_flush(w);
		if (w->cfg.inject) {
			uint32_t k = dp_inject_drain(w->cfg.inject, w->cfg.store, w->cfg.inject_points);
			cm_ctr_add(CTR(w, inject_points), k);
			got += k;
		}
		if (w->cfg.agg)
			dp_agg_poll(w->cfg.agg);
		st_store_poll(w->cfg.store);
		cm_ctr_add(CTR(w, passes), 1);
		if (got) {
			idle_run = 0;
			continue;
		}
		cm_ctr_add(CTR(w, idle_passes), 1);
		/* a few empty passes first: a busy core should not pay a wait per gap */
		if (++idle_run >= 8 && w->cfg.idle_wait_ns) {
			if (b && !atomic_load_explicit(&w->stop_rx, memory_order_relaxed))
				b->ops->wait(b, w->cfg.id, w->cfg.idle_wait_ns);
			else
				cm_sleep_ns(w->cfg.idle_wait_ns);
		}
	}
	dp_worker_flush(w);
	if (w->cfg.inject)
		cm_ctr_add(CTR(w, inject_points),
			   dp_inject_drain_final(w->cfg.inject, w->cfg.store));
	return 0;
}

/* The stores pair with the loop's acquire loads: what the caller did before (a batch
 * submitted) is visible to the pass that sees the flag. */
void dp_worker_stop_rx(struct dp_worker *w)
{
	atomic_store_explicit(&w->stop_rx, true, memory_order_release);
}

void dp_worker_stop(struct dp_worker *w)
{
	atomic_store_explicit(&w->stop, true, memory_order_release);
}

/* ------------------------------------------------------------ stats */

void dp_worker_stats_add(const struct dp_worker *w, struct dp_worker_stats *out)
{
	uint64_t *o = (uint64_t *)out;
	for (size_t i = 0; i < NCTR; i++)
		o[i] += atomic_load_explicit(&w->ctr[i], memory_order_relaxed);
}

uint32_t dp_worker_senders(const struct dp_worker *w, struct dp_worker_sender *out, uint32_t cap,
			   uint64_t *other_msgs, uint64_t *other_bad)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < DP_WORKER_SENDERS && n < cap; i++) {
		const struct sender_slot *s = &w->senders[i];
		/* pairs with the release in sender_of */
		if (!atomic_load_explicit(&s->used, memory_order_acquire))
			continue;
		memcpy(out[n].addr, s->addr, 16);
		out[n].proto = s->proto;
		out[n].msgs = atomic_load_explicit(&s->msgs, memory_order_relaxed);
		out[n].bad = atomic_load_explicit(&s->bad, memory_order_relaxed);
		n++;
	}
	*other_msgs = atomic_load_explicit(&w->other_msgs, memory_order_relaxed);
	*other_bad = atomic_load_explicit(&w->other_bad, memory_order_relaxed);
	return n;
}

const struct dp_binsrc *dp_worker_binsrc(const struct dp_worker *w)
{
	return w->binsrc;
}
