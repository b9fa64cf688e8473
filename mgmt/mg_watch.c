/*
 * mg_watch.c - see mg_watch.h. One job thread; per rule a hash table of
 * series (key: measurement and tag set) to their online detector and the
 * newest point scored. A pass is one SELECT per rule over
 * (newest - detect.lateness, now], the rule's events gathered as line
 * protocol and written with one request.
 */
#include "mg_watch.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "an_method.h"
#include "an_online.h"
#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "mg_exec.h"
#include "mg_job.h"
#include "mg_svc.h"
#include "mg_tsql.h"

static const struct cm_cfg_key watch_keys[] = {
	{"detect.rules", CM_CFG_STR, "", 0, 0, NULL, false,
	 "streaming detectors: DETECT ANOMALIES statements with an online method (ewma), "
	 "separated by ';'"},
	{"detect.interval", CM_CFG_DURATION, "100ms", CM_NS_PER_MS, 60 * CM_NS_PER_SEC, NULL, false,
	 "how often the streaming detectors read new points"},
	{"detect.lateness", CM_CFG_DURATION, "2s", 0, 3600 * CM_NS_PER_SEC, NULL, false,
	 "how far behind a rule's newest point a new point may arrive and still be scored"},
	{"detect.measurement", CM_CFG_STR, "anomalies", 0, 0, NULL, false,
	 "where the streaming detectors write their events"},
	{"detect.database", CM_CFG_STR, "", 0, 0, NULL, false,
	 "the database of the events (empty: mgmt.database)"},
};

const struct cm_cfg_table mg_watch_cfg_table = {
	.module = "watch",
	.keys = watch_keys,
	.nkeys = CM_ARRAY_SIZE(watch_keys),
};

struct wseries {
	char *key;                 /* measurement '\0' k '\0' v '\0' ... (keylen bytes) */
	size_t keylen;
	uint64_t hash;
	int64_t last_ts;           /* newest point scored */
	struct an_online det;
};

struct rule {
	const struct mg_stmt *st;  /* in the job's parse of detect.rules */
	const char *field;         /* the field's name */
	const char *detector;
	struct an_detect_cfg cfg;
	int64_t newest;            /* newest point scored in any series; INT64_MIN: none */
	struct wseries *tab;       /* open addressing, cap a power of two */
	size_t n, cap;
};


struct mg_watch {
	struct mg_svc *svc;
	struct mg_tsql *rules_q;
	struct rule *rules;
	uint32_t nrules;
	int64_t lateness_ns;
	const char *meas, *db;
	struct mg_job *job;
	struct mg_result_buf body;    /* a pass's events, line protocol */
	_Atomic uint64_t passes, points, events, errors, future, series, last_lag_ms;
};

#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)

/* ------------------------------------------------------------ series table */

static int key_of(const struct mg_series *se, struct mg_result_buf *k)
{
	k->len = 0;
	int rc = mg_result_buf_printf(k, "%s%c", se->name, 0);
	for (uint32_t i = 0; i < se->ntags && rc == 0; i++)
		rc = mg_result_buf_printf(k, "%s%c%s%c", se->tags[i].key, 0, se->tags[i].value, 0);
	return rc;
}

static int tab_grow(struct rule *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64;
	struct wseries *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < r->cap; i++) {
		if (!r->tab[i].key)
			continue;
		size_t j = r->tab[i].hash & (cap - 1);
		while (t[j].key)
			j = (j + 1) & (cap - 1);
		t[j] = r->tab[i];
	}
	free(r->tab);
	r->tab = t;
	r->cap = cap;
	return 0;
}

/* The series of key k, created (with a fresh detector) if new; NULL on ENOMEM. */
static struct wseries *tab_get(struct mg_watch *w, struct rule *r, const struct mg_result_buf *k)
{
	if ((r->n + 1) * 4 > r->cap * 3 && tab_grow(r))
		return NULL;
	uint64_t h = XXH3_64bits(k->p, k->len);
	size_t j = h & (r->cap - 1);
	for (; r->tab[j].key; j = (j + 1) & (r->cap - 1))
		if (r->tab[j].hash == h && r->tab[j].keylen == k->len &&
		    !memcmp(r->tab[j].key, k->p, k->len))
			return &r->tab[j];
	struct wseries *s = &r->tab[j];
	s->key = malloc(k->len);
	if (!s->key)
		return NULL;
	memcpy(s->key, k->p, k->len);
	s->keylen = k->len;
	s->hash = h;
	s->last_ts = INT64_MIN;
	int rc = an_online_init(&s->det, &r->cfg);
	assert(rc == 0); /* checked at start */
	(void)rc;
	r->n++;
	ADD(w->series, 1);
	return s;
}

/* ------------------------------------------------------------ a pass */

/* SELECT <field> FROM <sources> WHERE (<where>) AND time > since GROUP BY *, as text
 * (malloc'd: the caller frees it) in *out and its length in *len. */
static int rule_query(const struct rule *r, int64_t since, char **out, size_t *len)
{
	struct mg_select sel = *r->st->select;
	struct mg_expr t = {.kind = MG_EX_REF, .s = "time"};
	struct mg_expr lit = {.kind = MG_EX_INT, .i = since};
	struct mg_expr cmp = {.kind = MG_EX_BINARY, .op = MG_OP_GT, .lhs = &t, .rhs = &lit};
	struct mg_expr and = {.kind = MG_EX_BINARY, .op = MG_OP_AND, .lhs = sel.where, .rhs = &cmp};
	sel.where = sel.where ? &and : &cmp;
	sel.group_all_tags = true;
	sel.ngroup_tags = 0;
	sel.group_regex = NULL;
	struct mg_stmt st = {.kind = MG_STMT_SELECT, .select = &sel};
	int n = mg_tsql_stmt_format(&st, NULL, 0);
	*out = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!*out)
		return -ENOMEM;
	mg_tsql_stmt_format(&st, *out, (size_t)n + 1);
	*len = (size_t)n;
	return 0;
}

/* One event line for a flagged point. */
static int event_line(struct mg_watch *w, const struct rule *r, const struct mg_series *se,
		      int64_t ts, double v, double score, int64_t now)
{
	struct mg_result_buf *b = &w->body;
	double lag_ms = ((double)now - (double)ts) / 1e6;
	int rc = mg_result_buf_lp(b, w->meas, ", ");
	rc = rc ? rc : mg_result_buf_printf(b, ",detector=");
	rc = rc ? rc : mg_result_buf_lp(b, r->detector, ",= ");
	rc = rc ? rc : mg_result_buf_printf(b, ",src_field=");
	rc = rc ? rc : mg_result_buf_lp(b, r->field, ",= ");
	rc = rc ? rc : mg_result_buf_printf(b, ",src_measurement=");
	rc = rc ? rc : mg_result_buf_lp(b, se->name, ",= ");
	for (uint32_t i = 0; i < se->ntags && rc == 0; i++) {
		const char *k = se->tags[i].key;
		/* empty values are absent tags; the event's own tags win over a source's */
		if (!se->tags[i].value[0] || !strcmp(k, "detector") || !strcmp(k, "src_field") ||
		    !strcmp(k, "src_measurement"))
			continue;
		rc = mg_result_buf_printf(b, ",");
		rc = rc ? rc : mg_result_buf_lp(b, se->tags[i].key, ",= ");
		rc = rc ? rc : mg_result_buf_printf(b, "=");
		rc = rc ? rc : mg_result_buf_lp(b, se->tags[i].value, ",= ");
	}
	rc = rc ? rc : mg_result_buf_printf(b, " value=%.17g,score=%.17g,lag_ms=%.3f %" PRId64 "\n", v, score,
				  lag_ms, ts);
	if (rc == 0)
		atomic_store_explicit(&w->last_lag_ms, lag_ms > 0 ? (uint64_t)lag_ms : 0,
				      memory_order_relaxed);
	return rc;
}

/* Score the new points of one series, oldest first; events into w->body. */
static int rule_series(struct mg_watch *w, struct rule *r, const struct mg_series *se,
		       struct mg_result_buf *key, int64_t now)
{
	int64_t future;
	if (__builtin_add_overflow(now, w->lateness_ns, &future))
		future = INT64_MAX;
	int rc = key_of(se, key);
	struct wseries *s = rc == 0 ? tab_get(w, r, key) : NULL;
	if (!s)
		return -ENOMEM;
	for (uint64_t i = 0; i < se->nrows && rc == 0; i++) {
		const struct mg_cell *row = &se->cells[i * se->ncols];
		int64_t ts = row[0].i;
		double v = row[1].type == MG_CELL_F64 ? row[1].f
			 : row[1].type == MG_CELL_I64 ? (double)row[1].i
			 : row[1].type == MG_CELL_U64 ? (double)row[1].u : NAN;
		if (ts <= s->last_ts || isnan(v))
			continue; /* scored in an earlier pass (the window overlaps) */
		if (ts > future) {
			ADD(w->future, 1); /* would blind the series (and the rule's window) */
			continue;
		}
		uint8_t flag;
		double score = an_online_push(&s->det, v, &flag);
		s->last_ts = ts;
		if (ts > r->newest)
			r->newest = ts;
		ADD(w->points, 1);
		if (flag) {
			rc = event_line(w, r, se, ts, v, score, now);
			ADD(w->events, rc == 0);
		}
	}
	return rc;
}

static int rule_pass(struct mg_watch *w, struct rule *r, struct mg_result_buf *key)
{
	int64_t now = cm_now_ns(), since;
	int64_t from = r->newest == INT64_MIN || r->newest > now ? now : r->newest;
	if (__builtin_sub_overflow(from, w->lateness_ns, &since))
		since = INT64_MIN;
	char *text = NULL, err[256];
	size_t len = 0;
	int rc = rule_query(r, since, &text, &len);
	struct mg_query_req req = {.text = text, .len = len, .origin = "detect"};
	struct mg_result *res = NULL;
	if (rc == 0)
		rc = mg_svc_query(w->svc, &req, &res, err, sizeof(err));
	free(text);
	const struct mg_stmt_result *sr = rc == 0 ? &res->stmts[0] : NULL;
	if (rc == 0 && sr->error) {
		CM_LOG_RL(CM_LOG_WARN, "watch", "event=query_failed field=%s error=\"%s\"", r->field,
			  sr->error);
		rc = -EINVAL;
	}
	for (uint32_t i = 0; rc == 0 && i < sr->nseries; i++)
		if (sr->series[i].ncols >= 2)
			rc = rule_series(w, r, &sr->series[i], key, now);
	mg_result_free(res);
	return rc;
}

static void watch_pass(void *arg)
{
	struct mg_watch *w = arg;
	struct mg_result_buf key = {0};
	w->body.len = 0;
	for (uint32_t i = 0; i < w->nrules; i++)
		if (rule_pass(w, &w->rules[i], &key))
			ADD(w->errors, 1);
	free(key.p);
	if (w->body.len) {
		struct mg_write_req req = {.db = w->db, .body = w->body.p, .len = w->body.len};
		struct mg_write_report rep;
		memset(&rep, 0, sizeof(rep));
		int rc = mg_svc_write(w->svc, &req, &rep);
		if (rc || rep.lines_bad || rep.points_refused) {
			ADD(w->errors, 1);
			CM_LOG_RL(CM_LOG_WARN, "watch", "event=write_failed db=%s rc=%d bad=%" PRIu64,
				    w->db ? w->db : "(default)", rc, rep.lines_bad);
		}
	}
	ADD(w->passes, 1);
}

/* ------------------------------------------------------------ start, stop */

static int rule_init(struct rule *r, const struct mg_stmt *st, uint32_t i, char *err,
		     size_t errlen)
{
	const struct an_detector_info *det;
	const struct mg_select *sel = st->select;
	struct an_online probe;
	char e[256];
	const char *why = NULL;
	r->st = st;
	r->newest = INT64_MIN;
	if (st->kind != MG_STMT_DETECT)
		why = "not DETECT ANOMALIES";
	else if (sel->fields[0].expr->kind != MG_EX_REF || sel->group_time ||
		 sel->fill != MG_FILL_NULL)
		why = "streaming rules read one field's raw points (no function, GROUP BY time or "
		      "fill)";
	else if (mg_exec_detect_cfg(st->method, st->sensitivity, &det, &r->cfg, e, sizeof(e)))
		why = e;
	else if (!det->online || an_online_init(&probe, &r->cfg)) {
		snprintf(e, sizeof(e), "\"%s\" is not an online detector with valid parameters "
			 "(use ewma)", det->name);
		why = e;
	}
	if (why) {
		snprintf(err, errlen, "detect.rules: rule %u: %s", i + 1, why);
		return -EINVAL;
	}
	r->field = sel->fields[0].expr->s;
	r->detector = det->name;
	return 0;
}

int mg_watch_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_watch **out,
		   char *err, size_t errlen)
{
	const char *text = cm_config_str(cfg, "detect.rules");
	*out = NULL;
	if (!text[strspn(text, " \t\r\n;")])
		return 0;
	struct mg_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	struct mg_tsql_error pe;
	int rc = mg_tsql_parse(text, strlen(text), &w->rules_q, &pe);
	if (rc == -EINVAL)
		snprintf(err, errlen, "detect.rules: %s", pe.msg);
	if (rc == 0) {
		w->nrules = w->rules_q->nstmts;
		w->rules = calloc(w->nrules, sizeof(*w->rules));
		rc = w->rules ? 0 : -ENOMEM;
	}
	for (uint32_t i = 0; rc == 0 && i < w->nrules; i++)
		rc = rule_init(&w->rules[i], &w->rules_q->stmts[i], i, err, errlen);
	w->svc = svc;
	w->lateness_ns = cm_config_int(cfg, "detect.lateness");
	w->meas = cm_config_str(cfg, "detect.measurement");
	w->db = cm_config_str(cfg, "detect.database")[0] ? cm_config_str(cfg, "detect.database")
							 : NULL;
	if (rc == 0 && !w->meas[0]) {
		snprintf(err, errlen, "detect.measurement must not be empty");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = mg_job_start(cm_config_int(cfg, "detect.interval"), false, watch_pass, w, &w->job);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "cannot start the streaming detectors: %s", strerror(-rc));
		mg_watch_stop(w);
		return rc;
	}
	CM_LOG_INFO("watch", "event=start rules=%u interval_ms=%lld", w->nrules,
		    (long long)(cm_config_int(cfg, "detect.interval") / CM_NS_PER_MS));
	*out = w;
	return 0;
}

void mg_watch_stop(struct mg_watch *w)
{
	if (!w)
		return;
	mg_job_stop(w->job);
	for (uint32_t i = 0; w->rules && i < w->nrules; i++) {
		for (size_t j = 0; j < w->rules[i].cap; j++)
			free(w->rules[i].tab[j].key);
		free(w->rules[i].tab);
	}
	free(w->rules);
	mg_tsql_free(w->rules_q);
	free(w->body.p);
	free(w);
}

void mg_watch_stats_read(const struct mg_watch *w, struct mg_watch_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!w)
		return;
	struct mg_watch *m = (struct mg_watch *)w; /* atomics are read, not changed */
	out->passes = atomic_load_explicit(&m->passes, memory_order_relaxed);
	out->points = atomic_load_explicit(&m->points, memory_order_relaxed);
	out->events = atomic_load_explicit(&m->events, memory_order_relaxed);
	out->errors = atomic_load_explicit(&m->errors, memory_order_relaxed);
	out->future = atomic_load_explicit(&m->future, memory_order_relaxed);
	out->series = atomic_load_explicit(&m->series, memory_order_relaxed);
	out->last_lag_ms = atomic_load_explicit(&m->last_lag_ms, memory_order_relaxed);
}
