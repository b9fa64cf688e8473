/*
 * mg_write.c - see mg_write.h. A line-protocol body decoded on the calling
 * management thread into injection batches, one stream of batches per
 * shard, pipelined.
 *
 * Per line: dp_line_decode (DP_LINE_COMPLETE, the request's precision and
 * now_ns), then the series name of the request's database (mg_db.h) and the
 * line's key template built once with st_key_build (tags already sorted by
 * the decoder); each field's key is the template with the field spliced in
 * (st_key_with_field), its shard st_key_hash(key) % nshards, as mg_statsd.c
 * routes. String fields are skipped and counted (line-protocol.md). This is
 * what dp_line_key does for the dataplane (the same st_key_build once per
 * line, the same splice per field), here with the database's series name
 * in the template: splicing the prefix into dp_line_key's keys instead
 * would add work per point, not remove any.
 *
 * Per shard the writer keeps up to WR_BATCHES batches: one being filled and
 * up to WR_INFLIGHT submitted. A full batch is submitted; the next one to
 * fill is an idle batch, a new one (allocated on first need, kept for the
 * writer's life: a small body never costs more than one batch per shard),
 * or, with WR_INFLIGHT in flight, the oldest once the owner is done with
 * it. So a 10,000-line body streams into the shards while it is decoded,
 * and the rings never hold more than WR_INFLIGHT of one writer's batches
 * per shard. At the end every batch is submitted and waited for (durable
 * when cfg.durable), and the report sums their per-status counts.
 *
 * Timeouts: every wait for the owner (a ring full on submit, the oldest
 * batch before its reuse, the final waits, which share one deadline) is
 * bounded by cfg.timeout_ns. On the first one the request stops decoding,
 * records what the batches already done say, and returns -ETIMEDOUT;
 * batches still in flight stay the writer's (tagged with their request):
 * a later request waits for them before reusing them and does not count
 * their results as its own. Batches filled but not submitted are dropped.
 *
 * mg_writer_destroy: a submitted batch belongs to the shard's owner until
 * it is done, so destroy waits up to cfg.timeout_ns (one deadline for all)
 * for the writer's batches in flight and frees those that finished; a batch
 * still in flight after that is deliberately leaked (logged: the owner may
 * dequeue it and write its results later, and freeing it would be a
 * use-after-free in the dataplane). The writer's ring slots stay claimed:
 * dp_inject has no release; writers live as long as the daemon.
 *
 * Usage profile: HTTP /write bodies of 10,000 TSBS lines (~3.4 MB, 100,000
 * values: pf_write_bench's lines average 345 bytes), a few per second per
 * connection. No allocation per line or point: the decoder state, name and
 * key buffers live in the writer.
 *
 * Threads: a writer is used by one thread at a time (mg_write.h); it only
 * talks to the shards through its ring slots and the batches' done flags.
 */
#include "mg_write.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "dp_inject.h"
#include "dp_line.h"
#include "mg_db.h"
#include "st_series.h"

#define WR_INFLIGHT 4                  /* batches of one writer queued per shard, at most */
#define WR_BATCHES (WR_INFLIGHT + 1)   /* plus the one being filled */
/* Arena key bytes per point: pf_write_bench's TSBS keys average 198, plus room for a prefix. */
#define WR_KEY_BYTES_PER_POINT 224u
#define WR_LINE_SHOWN 100u             /* bytes of a bad line quoted in its error */
#define WR_NONE 0xff

/* One shard's stream of batches. */
struct wr_shard {
	struct dp_inject_batch *b[WR_BATCHES];   /* [0, nb) allocated */
	uint64_t req[WR_BATCHES];   /* the request that submitted b[i] */
	bool busy[WR_BATCHES];      /* submitted, not collected: the owner's until done */
	uint8_t fifo[WR_BATCHES];   /* busy batches, oldest first, from head */
	uint8_t head, nbusy, nb;
	uint8_t cur;                /* being filled, or WR_NONE */
	int slot;                   /* our producer slot in the shard's dp_inject */
};

struct mg_writer {
	struct mg_writer_cfg cfg;
	struct wr_shard *sh;
	size_t arena_bytes;
	uint64_t req;                        /* requests so far: tags batches */
	uint64_t refused[ST_INS__COUNT];     /* this request's refusals, by status */
	const char *db;                      /* this request's, NULL: the default */
	struct dp_line line;
	struct dp_field fields[DP_LINE_FIELDS_DEFAULT];
	char name[ST_KEY_MAX + MG_DB_NAME_MAX + 1];   /* the line's series name */
	uint8_t tmpl[ST_KEY_MAX];            /* the line's key with an empty field */
	uint8_t key[ST_KEY_MAX];
};

/* ============================================================== batches */

/* Take batch k of shard s back from the owner's results into the report. */
static void wr_tally(struct mg_writer *w, struct wr_shard *s, uint32_t k,
		     struct mg_write_report *rep)
{
	const struct dp_inject_batch *b = s->b[k];
	if (s->req[k] != w->req)
		return; /* a batch of an earlier request that timed out */
	rep->points_stored += b->stored;
	for (uint32_t st = 0; st < ST_INS__COUNT; st++) {
		if (st == ST_INS_OK || st == ST_INS_OOO || !b->status[st])
			continue;
		w->refused[st] += b->status[st];
		rep->points_refused += b->status[st];
	}
}

/*
 * Wait up to timeout_ns for shard i's oldest batch in flight; when done,
 * count it and make it idle. 0 or -ETIMEDOUT (it stays in flight).
 */
static int wr_collect(struct mg_writer *w, uint32_t i, int64_t timeout_ns,
		      struct mg_write_report *rep)
{
	struct wr_shard *s = &w->sh[i];
	assert(s->nbusy > 0);
	uint32_t k = s->fifo[s->head];
	assert(s->busy[k]);
	int rc = dp_inject_wait(s->b[k], w->cfg.stores[i], w->cfg.durable, CM_MAX(timeout_ns, 0));
	if (rc)
		return rc;
	if (rep)
		wr_tally(w, s, k, rep);
	dp_inject_batch_reset(s->b[k]);
	s->busy[k] = false;
	s->head = (uint8_t)((s->head + 1) % WR_BATCHES);
	s->nbusy--;
	return 0;
}

/* Give shard i a batch to fill: an idle one, a new one, or the oldest when done. */
static int wr_take(struct mg_writer *w, uint32_t i, struct mg_write_report *rep)
{
	struct wr_shard *s = &w->sh[i];
	assert(s->cur == WR_NONE);
	if (s->nb > s->nbusy) {
		for (uint8_t k = 0; k < s->nb; k++)
			if (!s->busy[k]) {
				s->cur = k;
				return 0;
			}
	}
	if (s->nb < WR_BATCHES &&
	    dp_inject_batch_create(w->cfg.batch_points, w->arena_bytes, &s->b[s->nb]) == 0) {
		s->cur = s->nb++;
		return 0;
	}
	/* WR_INFLIGHT in flight (or no memory for another): the oldest is next */
	uint8_t k = s->fifo[s->head];
	int rc = wr_collect(w, i, w->cfg.timeout_ns, rep);
	if (rc == 0)
		s->cur = k;
	return rc;
}

/* Submit shard i's batch being filled (not empty). 0 or -ETIMEDOUT (ring full). */
static int wr_send(struct mg_writer *w, uint32_t i, struct mg_write_report *rep)
{
	struct wr_shard *s = &w->sh[i];
	uint8_t k = s->cur;
	assert(k != WR_NONE && s->b[k]->n > 0);
	if (s->nbusy == WR_INFLIGHT) {
		int rc = wr_collect(w, i, w->cfg.timeout_ns, rep);
		if (rc)
			return rc;
	}
	int64_t deadline = cm_mono_ns() + w->cfg.timeout_ns;
	while (dp_inject_submit(w->cfg.injects[i], s->slot, s->b[k]) == -EAGAIN) {
		if (cm_mono_ns() >= deadline)
			return -ETIMEDOUT;
		cm_sleep_ns(50 * CM_NS_PER_US);
	}
	s->req[k] = w->req;
	s->busy[k] = true;
	s->fifo[(s->head + s->nbusy) % WR_BATCHES] = k;
	s->nbusy++;
	s->cur = WR_NONE;
	return 0;
}

/* Append a point (key in w->key) for shard i, submitting a full batch first. */
static int wr_add(struct mg_writer *w, uint32_t i, uint32_t keylen, uint64_t hash, int64_t ts_ns,
		  uint8_t type, union st_value v, struct mg_write_report *rep)
{
	struct wr_shard *s = &w->sh[i];
	int rc;
	if (s->cur == WR_NONE && (rc = wr_take(w, i, rep)) != 0)
		return rc;
	if (dp_inject_batch_add(s->b[s->cur], w->key, keylen, hash, ts_ns, type, v) == 0)
		return 0;
	/* full (points or key bytes): send it, continue in another */
	if ((rc = wr_send(w, i, rep)) != 0 || (rc = wr_take(w, i, rep)) != 0)
		return rc;
	rc = dp_inject_batch_add(s->b[s->cur], w->key, keylen, hash, ts_ns, type, v);
	assert(rc == 0); /* an empty batch takes any key: arena >= ST_KEY_MAX */
	return rc;
}

/* ============================================================== reports */

/* One more error line, if there is room. */
static void CM_PRINTF(2, 3) wr_error(struct mg_write_report *rep, const char *fmt, ...);

static void wr_error(struct mg_write_report *rep, const char *fmt, ...)
{
	if (rep->nerrors >= MG_WRITE_ERRORS_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rep->errors[rep->nerrors++], sizeof(rep->errors[0]), fmt, ap);
	va_end(ap);
}

/* "unable to parse '<line>': <reason>[ at char N]", InfluxDB's wording. */
static void wr_error_line(struct mg_write_report *rep, struct st_str text, const char *reason,
			  bool at, uint32_t off)
{
	if (rep->nerrors >= MG_WRITE_ERRORS_MAX)
		return;
	int shown = (int)CM_MIN(text.len, WR_LINE_SHOWN);
	const char *more = text.len > WR_LINE_SHOWN ? "..." : "";
	if (at)
		wr_error(rep, "unable to parse '%.*s%s': %s at char %u", shown, text.p, more, reason,
			 off);
	else
		wr_error(rep, "unable to parse '%.*s%s': %s", shown, text.p, more, reason);
}

/*
 * "<n> points refused: <status>" per cause, after the parse errors; when
 * those filled the list, the refusals take the last places.
 */
static void wr_error_refused(struct mg_writer *w, struct mg_write_report *rep)
{
	uint32_t causes = 0;
	for (uint32_t st = 0; st < ST_INS__COUNT; st++)
		causes += w->refused[st] != 0;
	if (rep->nerrors + causes > MG_WRITE_ERRORS_MAX)
		rep->nerrors = MG_WRITE_ERRORS_MAX - CM_MIN(causes, (uint32_t)MG_WRITE_ERRORS_MAX);
	for (uint32_t st = 0; st < ST_INS__COUNT; st++)
		if (w->refused[st])
			wr_error(rep, "%llu points refused: %s", (unsigned long long)w->refused[st],
				 st_insert_status_name((enum st_insert_status)st));
}

/* ============================================================ the lines */

/*
 * The points of a line decoded OK. 0 or -ETIMEDOUT. The request's inner
 * loop (not a dataplane hot path: it may wait for an owner, and allocates a
 * shard's first few batches once per writer), otherwise copy-only.
 */
static int wr_line(struct mg_writer *w, struct mg_write_report *rep)
{
	struct dp_line *l = &w->line;
	struct st_str name = l->measurement;
	if (memchr(name.p, MG_DB_SEP, name.len)) {
		rep->lines_bad++;
		wr_error_line(rep, l->text, "measurement contains the reserved byte 0x1f", false, 0);
		return 0;
	}
	if (w->db) {
		int nl = mg_db_series_name(w->db, w->cfg.default_db, l->measurement, w->name,
					   sizeof(w->name));
		assert(nl > 0); /* w->name holds any database and measurement */
		name = (struct st_str){w->name, (uint32_t)nl};
	}
	int tl = st_key_build(w->tmpl, sizeof(w->tmpl), name, (struct st_str){"", 0}, l->tags,
			      l->ntags);
	/* the decoder checked the keys without a database prefix: check them with it */
	bool fits = tl > 0;
	for (uint32_t f = 0; fits && f < l->nfields; f++)
		fits = l->fields[f].type == ST_VT_STR ||
		       (size_t)tl + l->fields[f].key.len <= ST_KEY_MAX;
	if (!fits) {
		rep->lines_bad++;
		wr_error_line(rep, l->text, dp_line_status_name(DP_LINE_KEY_TOO_LONG), false, 0);
		return 0;
	}
	for (uint32_t f = 0; f < l->nfields; f++) {
		const struct dp_field *fd = &l->fields[f];
		if (fd->type == ST_VT_STR) {
			rep->strings_skipped++;
			continue;
		}
		int kl = st_key_with_field(w->tmpl, (size_t)tl, fd->key, w->key, sizeof(w->key));
		assert(kl > 0);
		uint64_t h = st_key_hash(w->key, (size_t)kl);
		int rc = wr_add(w, (uint32_t)(h % w->cfg.nshards), (uint32_t)kl, h, l->ts_ns, fd->type,
				fd->v, rep);
		if (rc)
			return rc;
		rep->points++;
	}
	return 0;
}

/* Every line of the body. 0 or -ETIMEDOUT. */
static int wr_body(struct mg_writer *w, const struct mg_write_req *req,
		   const struct dp_line_opts *opts, struct mg_write_report *rep)
{
	const char *p = req->body;
	size_t left = req->body ? req->len : 0;
	while (left) {
		size_t used;
		enum dp_line_status st = dp_line_decode(&w->line, p, left, opts, &used);
		p += used;
		left -= used;
		if (st == DP_LINE_EMPTY)
			continue;
		if (st == DP_LINE_TRUNCATED || used == 0)
			break; /* not with DP_LINE_COMPLETE; be safe */
		rep->lines++;
		if (st != DP_LINE_OK) {
			rep->lines_bad++;
			wr_error_line(rep, w->line.text, dp_line_status_name(st),
				      st != DP_LINE_TOO_LONG, w->line.err_off);
			continue;
		}
		int rc = wr_line(w, rep);
		if (rc)
			return rc;
	}
	return 0;
}

/* ============================================================ requests */

/*
 * The end of a request: submit what is being filled (unless stopping:
 * then drop it), and wait for every batch in flight until deadline.
 * 0, or -ETIMEDOUT when some batch is still in flight.
 */
static int wr_finish(struct mg_writer *w, bool stopping, int64_t deadline,
		     struct mg_write_report *rep)
{
	int rc = 0;
	for (uint32_t i = 0; i < w->cfg.nshards; i++) {
		struct wr_shard *s = &w->sh[i];
		if (s->cur == WR_NONE || s->b[s->cur]->n == 0)
			continue;
		if (stopping || rc) {
			dp_inject_batch_reset(s->b[s->cur]);
			continue;
		}
		rc = wr_send(w, i, rep);
		if (rc)
			dp_inject_batch_reset(s->b[s->cur]);
	}
	if (rc)
		deadline = cm_mono_ns(); /* from now on only count what is done */
	for (uint32_t i = 0; i < w->cfg.nshards; i++) {
		while (w->sh[i].nbusy) {
			if (wr_collect(w, i, deadline - cm_mono_ns(), rep)) {
				rc = -ETIMEDOUT;
				break;
			}
		}
	}
	return rc;
}

int mg_writer_write(struct mg_writer *w, const struct mg_write_req *req,
		    struct mg_write_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	struct dp_line_opts opts = {.now_ns = req->now_ns, .unit_ns = 1, .flags = DP_LINE_COMPLETE};
	if (req->precision && *req->precision && dp_line_precision(req->precision, &opts.unit_ns))
		return -EINVAL;
	const char *db = req->db && *req->db ? req->db : NULL;
	if (db && !mg_db_ns_valid(db, strlen(db)))
		return -EINVAL;
	if (db && w->cfg.default_db && strcmp(db, w->cfg.default_db) == 0)
		db = NULL;
	w->db = db;
	w->req++;
	memset(w->refused, 0, sizeof(w->refused));

	int rc = wr_body(w, req, &opts, rep);
	int64_t deadline = cm_mono_ns() + (rc ? 0 : w->cfg.timeout_ns);
	int rc2 = wr_finish(w, rc != 0, deadline, rep);
	if (rc == 0)
		rc = rc2;
	rep->timed_out = rc == -ETIMEDOUT;
	wr_error_refused(w, rep);
	return rc;
}

/* ============================================================ lifecycle */

/* Free shard s's batches, waiting until deadline for those in flight. */
static void wr_shard_release(struct mg_writer *w, uint32_t i, int64_t deadline)
{
	struct wr_shard *s = &w->sh[i];
	while (s->nbusy && wr_collect(w, i, deadline - cm_mono_ns(), NULL) == 0)
		;
	if (s->nbusy)
		CM_LOG_WARN("write", "event=destroy_batches_in_flight shard=%u batches=%u "
			    "action=leaked", i, s->nbusy);
	for (uint32_t k = 0; k < s->nb; k++)
		if (!s->busy[k])
			dp_inject_batch_destroy(s->b[k]);
}

void mg_writer_destroy(struct mg_writer *w)
{
	if (!w)
		return;
	int64_t deadline = cm_mono_ns() + w->cfg.timeout_ns;
	for (uint32_t i = 0; w->sh && i < w->cfg.nshards; i++)
		wr_shard_release(w, i, deadline);
	free(w->sh);
	free(w);
}

int mg_writer_create(const struct mg_writer_cfg *cfg, struct mg_writer **out)
{
	if (!cfg->injects || !cfg->stores || cfg->nshards == 0 || cfg->batch_points == 0 ||
	    cfg->timeout_ns < 0)
		return -EINVAL;
	struct mg_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->arena_bytes = CM_MAX((size_t)cfg->batch_points * WR_KEY_BYTES_PER_POINT,
				(size_t)2 * ST_KEY_MAX);
	dp_line_init(&w->line, w->fields, DP_LINE_FIELDS_DEFAULT);
	w->sh = calloc(cfg->nshards, sizeof(*w->sh));
	int rc = w->sh ? 0 : -ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < cfg->nshards; i++) {
		struct wr_shard *s = &w->sh[i];
		rc = dp_inject_batch_create(cfg->batch_points, w->arena_bytes, &s->b[0]);
		if (rc)
			break;
		s->nb = 1;
		s->cur = 0;
		s->slot = dp_inject_writer_claim(cfg->injects[i]);
		if (s->slot < 0)
			rc = s->slot;
	}
	if (rc) {
		mg_writer_destroy(w); /* nothing in flight yet */
		return rc;
	}
	*out = w;
	return 0;
}
