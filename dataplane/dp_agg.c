/*
 * dp_agg.c - StatsD aggregation (dp_agg.h): per-worker tables of partial
 * series state (sketches from dp_sketch.h, sets from dp_hll.h), and the
 * merger that collects the tables at each flush, merges them and emits the
 * points.
 *
 * Layout of a worker: an open-addressing table (linear probing, at most
 * half full, doubling) of pointers to entries; an entry is one series
 * (template key = st_key_build(name, "", sorted tags), and the type) with
 * the partial state of the interval. Tables keep their entries and the
 * memory of their sketches and sets across intervals: the merger clears
 * them, so a worker in steady state allocates nothing. |T counter and gauge
 * lines go to a bounded list of points in the table instead.
 *
 * The handoff, per worker (no lock; each arrow is one pointer):
 *   merger request:  ctl.req_epoch = e                 (relaxed: a hint)
 *   worker poll:     sees e, outbox = cur               (release)
 *                    cur = exchange(retbox, NULL)       (acquire) or a new table
 *   merger collect:  t = exchange(outbox, NULL)         (acquire)
 *   merger emit:     merge t, clear t, retbox = t       (release)
 * The merged state (gauge values, idle ages) lives in the merger's own
 * table, which only the merger thread touches.
 *
 * Threads: see dp_agg.h. Sketches and sets are plain data that travel
 * with their table (adds on the worker, merges on the merger).
 */
#include "dp_agg.h"

#include <errno.h>
#include <math.h>
#include <numa.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "st_series.h"

#define ACCURACY_MIN 0.0001
#define ACCURACY_MAX 0.1
#define TABLE_SLOTS_MIN 16u
#define TABLE_SLOTS_INIT 1024u
#define TS_POINTS_MIN 64u
#define TS_KEY_BYTES_PER_POINT 256u  /* |T key arena: this much per allowed point */
#define COLLECT_STEP_NS (100 * CM_NS_PER_US)

/* ================================================================ config */

static const struct cm_cfg_key agg_keys[] = {
	{"statsd.flush_interval", CM_CFG_DURATION, "10s", CM_NS_PER_MS, 86400 * CM_NS_PER_SEC, NULL,
	 false, "StatsD flush period: aggregated points are emitted once per interval "
	 "(Etsy statsd's flushInterval)"},
	{"statsd.percentiles", CM_CFG_STR, "50,90,95,99", 0, 0, NULL, false,
	 "percentiles of timers, histograms and distributions, comma-separated (99.9: field p99_9)"},
	{"statsd.sketch_accuracy", CM_CFG_DOUBLE, "0.01", 0, 0, NULL, false,
	 "relative accuracy of those percentiles (DDSketch), 0.0001 to 0.1"},
	{"statsd.set_exact_max", CM_CFG_INT, "1000", 0, 65536, NULL, false,
	 "members a set counts exactly before it switches to HyperLogLog (0.8% error)"},
	{"statsd.max_series", CM_CFG_INT, "1000000", 1, 1 << 26, NULL, false,
	 "series (name, tags, type) one worker aggregates; lines for more are dropped and counted"},
	{"statsd.max_timestamped", CM_CFG_INT, "65536", 1, 1 << 24, NULL, false,
	 "|T counter and gauge lines one worker keeps per interval; more are dropped and counted"},
	{"statsd.idle", CM_CFG_ENUM, "skip", 0, 0, "skip|zero|last", false,
	 "what a series without lines in an interval emits: nothing; counters 0 and gauges their "
	 "value; gauges their value"},
	{"statsd.idle_expire", CM_CFG_DURATION, "5m", CM_NS_PER_SEC, 30 * 86400 * CM_NS_PER_SEC,
	 NULL, false, "forget a series idle this long (a gauge's value with it)"},
};

const struct cm_cfg_table dp_agg_cfg_table = {
	.module = "statsd",
	.keys = agg_keys,
	.nkeys = CM_ARRAY_SIZE(agg_keys),
};

void dp_agg_cfg_default(struct dp_agg_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->flush_interval_ns = 10 * CM_NS_PER_SEC;
	cfg->sketch_accuracy = 0.01;
	cfg->set_exact_max = 1000;
	cfg->max_series = 1000000;
	cfg->max_timestamped = 65536;
	cfg->idle = DP_AGG_IDLE_SKIP;
	cfg->idle_expire_ns = 300 * CM_NS_PER_SEC;
	char err[128];
	int rc = dp_agg_cfg_percentiles("50,90,95,99", cfg, err, sizeof(err));
	assert(rc == 0);
	(void)rc;
}

/* The field name of a percentile token "099.90" -> "p99_9"; false if malformed. */
static bool pct_field(const char *tok, size_t len, char *out)
{
	size_t dot = len, i = 0;
	for (size_t k = 0; k < len; k++) {
		if (tok[k] == '.' && dot == len)
			dot = k;
		else if (tok[k] < '0' || tok[k] > '9')
			return false;
	}
	size_t end = len;
	if (dot == 0 || dot == len - 1 || len > DP_AGG_FIELD_MAX - 2)
		return false;
	if (dot < len) {
		while (tok[end - 1] == '0')  /* "99.90" -> "99.9", "50.0" -> "50." */
			end--;
		if (end == dot + 1)
			end = dot;
	}
	size_t start = 0;
	while (start + 1 < dot && tok[start] == '0')
		start++;
	out[i++] = 'p';
	for (size_t k = start; k < end; k++)
		out[i++] = tok[k] == '.' ? '_' : tok[k];
	out[i] = '\0';
	return true;
}

int dp_agg_cfg_percentiles(const char *text, struct dp_agg_cfg *cfg, char *err, size_t errlen)
{
	double pct[DP_AGG_PCT_MAX];
	char name[DP_AGG_PCT_MAX][DP_AGG_FIELD_MAX] = {{0}};  /* zeroed: configs compare bytewise */
	uint32_t n = 0;
	const char *p = text + strspn(text, " ");
	while (*p) {
		p += strspn(p, " ");
		size_t len = strcspn(p, ", ");
		char tok[32], field[DP_AGG_FIELD_MAX] = {0};
		snprintf(tok, sizeof(tok), "%.*s", (int)CM_MIN(len, sizeof(tok) - 1), p);
		double v = strtod(tok, NULL);  /* tok is digits[.digits] once pct_field agrees */
		if (len >= sizeof(tok) || !pct_field(tok, len, field) || v > 100.0) {
			snprintf(err, errlen, "statsd.percentiles: '%s' is not a number in [0, 100]",
				 tok);
			return -EINVAL;
		}
		if (n == DP_AGG_PCT_MAX) {
			snprintf(err, errlen, "statsd.percentiles: more than %u percentiles",
				 DP_AGG_PCT_MAX);
			return -EINVAL;
		}
		uint32_t at = n;  /* insertion in order; an equal value is a duplicate */
		while (at > 0 && pct[at - 1] > v)
			at--;
		if (at > 0 && pct[at - 1] == v) {
			snprintf(err, errlen, "statsd.percentiles: '%s' is listed twice", tok);
			return -EINVAL;
		}
		memmove(&pct[at + 1], &pct[at], (n - at) * sizeof(pct[0]));
		memmove(name[at + 1], name[at], (n - at) * sizeof(name[0]));
		pct[at] = v;
		memcpy(name[at], field, sizeof(field));
		n++;
		p += len;
		p += strspn(p, " ");
		if (*p && *p++ != ',') {
			snprintf(err, errlen, "statsd.percentiles: '%s' is not followed by ','", tok);
			return -EINVAL;
		}
		if (p[-1] == ',' && p[strspn(p, " ")] == '\0') {
			snprintf(err, errlen, "statsd.percentiles: empty percentile after ','");
			return -EINVAL;
		}
	}
	cfg->npct = n;
	memset(cfg->pct, 0, sizeof(cfg->pct));
	memcpy(cfg->pct, pct, n * sizeof(pct[0]));
	memcpy(cfg->pct_field, name, sizeof(name));
	return 0;
}

int dp_agg_cfg_from(const struct cm_config *config, struct dp_agg_cfg *cfg, char *err,
		    size_t errlen)
{
	dp_agg_cfg_default(cfg);
	cfg->flush_interval_ns = cm_config_int(config, "statsd.flush_interval");
	cfg->sketch_accuracy = cm_config_double(config, "statsd.sketch_accuracy");
	if (!(cfg->sketch_accuracy >= ACCURACY_MIN && cfg->sketch_accuracy <= ACCURACY_MAX)) {
		snprintf(err, errlen, "statsd.sketch_accuracy: %g is outside [%g, %g]",
			 cfg->sketch_accuracy, ACCURACY_MIN, ACCURACY_MAX);
		return -EINVAL;
	}
	cfg->set_exact_max = (uint32_t)cm_config_int(config, "statsd.set_exact_max");
	cfg->max_series = (uint32_t)cm_config_int(config, "statsd.max_series");
	cfg->max_timestamped = (uint32_t)cm_config_int(config, "statsd.max_timestamped");
	cfg->idle = (uint8_t)cm_config_enum(config, "statsd.idle");
	cfg->idle_expire_ns = cm_config_int(config, "statsd.idle_expire");
	return dp_agg_cfg_percentiles(cm_config_str(config, "statsd.percentiles"), cfg, err,
				      errlen);
}

static bool cfg_valid(const struct dp_agg_cfg *cfg)
{
	return cfg->sketch_accuracy >= ACCURACY_MIN && cfg->sketch_accuracy <= ACCURACY_MAX &&
	       cfg->npct <= DP_AGG_PCT_MAX && cfg->max_series >= 1 && cfg->max_timestamped >= 1 &&
	       cfg->idle <= DP_AGG_IDLE_LAST && cfg->set_exact_max <= (1u << 24);
}

const char *dp_agg_status_name(enum dp_agg_status st)
{
	static const char *const names[DP_AGG__COUNT] = {
		"ok", "table_full", "ts_full", "key_too_long", "bad_rate", "nomem",
	};
	return (unsigned)st < DP_AGG__COUNT ? names[st] : "unknown";
}

/* ================================================================ memory */

/*
 * Big arrays (table slots) on a NUMA node (node >= 0: the caller checked
 * numa_available) or from the heap, 64-byte aligned and zeroed.
 */
static void *mem_alloc(int node, size_t bytes)
{
	void *p;
	if (node >= 0)
		p = numa_alloc_onnode(bytes, node);
	else
		p = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(bytes, (size_t)CM_CACHE_LINE));
	if (p)
		memset(p, 0, bytes);
	return p;
}

static void mem_free(int node, void *p, size_t bytes)
{
	if (!p)
		return;
	if (node >= 0)
		numa_free(p, bytes);
	else
		free(p);
}

/* ================================================================ entries */

/*
 * A gauge's interval state. Worker: the last value set and the deltas
 * after it (all the deltas when no value was set), with their arrival
 * times. Merger: the same merged over workers, plus the current value.
 */
struct agg_gauge {
	double set_val;
	double delta;
	int64_t set_ns;      /* arrival of set_val */
	int64_t delta_ns;    /* arrival of the last delta */
	double value;        /* merger: the value, carried across intervals */
	bool has_set;
	bool has_value;      /* merger */
};

/* One series: template key and type, and its state (its key's hash is in its slot). */
struct agg_entry {
	int64_t last_ns;     /* worker: arrival of the last line; merger: last flush with data */
	uint64_t gen;        /* merger: the flush its interval state belongs to */
	uint32_t keylen;
	uint8_t type;        /* enum dp_statsd_type */
	bool touched;        /* worker: a line since the last clear */
	union {
		double count;            /* c: sum of v * w */
		struct agg_gauge g;      /* g */
		struct dp_sketch *d;     /* ms, h, d */
		struct dp_hll *s;        /* s */
	} u;
	uint8_t key[];
};
static_assert(sizeof(struct agg_entry) == 72, "the size docs/formats/statsd.md gives");

static bool type_is_dist(uint8_t type)
{
	return type == DP_STATSD_TIMER || type == DP_STATSD_HISTOGRAM ||
	       type == DP_STATSD_DISTRIBUTION;
}

static struct agg_entry *entry_create(uint8_t type, const uint8_t *key, uint32_t len)
{
	struct agg_entry *e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->keylen = len;
	memcpy(e->key, key, len);
	if (type_is_dist(type) && dp_sketch_create(&e->u.d))
		goto err_free;
	if (type == DP_STATSD_SET && dp_hll_create(&e->u.s))
		goto err_free;
	return e;
err_free:
	free(e);
	return NULL;
}

static void entry_destroy(struct agg_entry *e)
{
	if (!e)
		return;
	if (type_is_dist(e->type))
		dp_sketch_destroy(e->u.d);
	else if (e->type == DP_STATSD_SET)
		dp_hll_destroy(e->u.s);
	free(e);
}

/* Forget the interval's state (a merger gauge keeps its value). */
static void entry_clear(struct agg_entry *e)
{
	if (type_is_dist(e->type)) {
		dp_sketch_clear(e->u.d);
	} else if (e->type == DP_STATSD_SET) {
		dp_hll_clear(e->u.s);
	} else if (e->type == DP_STATSD_GAUGE) {
		struct agg_gauge *g = &e->u.g;
		*g = (struct agg_gauge){.value = g->value, .has_value = g->has_value};
	} else {
		e->u.count = 0;
	}
	e->touched = false;
}

/* ================================================================ tables */

struct agg_slot {
	uint64_t hash;
	struct agg_entry *e;     /* NULL: free */
};

/* A |T point; its key is ts_keys[key_off, +keylen). */
struct agg_tspoint {
	int64_t ts_ns;
	double value;
	uint32_t key_off;
	uint32_t keylen;
};

struct agg_table {
	struct agg_slot *slots;
	uint32_t mask;           /* slots - 1 */
	uint32_t n;              /* entries */
	uint32_t max;            /* entries allowed */
	int node;                /* where slots live; -1: heap */
	uint64_t epoch;          /* the flush request it was published for */
	uint32_t worker;         /* merger: whose table it is */
	struct agg_table *next;  /* merger: collected tables */
	struct agg_tspoint *ts;  /* |T points of the interval */
	uint32_t nts, ts_cap, ts_max;
	uint8_t *ts_keys;
	size_t ts_keys_len, ts_keys_cap, ts_keys_max;
};

static uint32_t pow2_at_least(uint64_t x)
{
	uint32_t p = 1;
	while (p < x && p < (1u << 31))
		p *= 2;
	return p;
}

static struct agg_table *table_create(int node, uint32_t max, uint32_t nslots, uint32_t ts_max)
{
	struct agg_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	nslots = CM_MAX(nslots, TABLE_SLOTS_MIN);
	t->slots = mem_alloc(node, nslots * sizeof(struct agg_slot));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->mask = nslots - 1;
	t->max = max;
	t->node = node;
	t->ts_max = ts_max;
	t->ts_keys_max = (size_t)ts_max * TS_KEY_BYTES_PER_POINT;
	return t;
}

static void table_destroy(struct agg_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		entry_destroy(t->slots[i].e);
	mem_free(t->node, t->slots, (t->mask + 1) * sizeof(struct agg_slot));
	free(t->ts);
	free(t->ts_keys);
	free(t);
}

/* The slot holding (hash, type, key), or the free slot where it would go. */
static struct agg_slot *table_find(const struct agg_table *t, uint64_t hash, uint8_t type,
				   const uint8_t *key, uint32_t len)
{
	for (uint32_t i = (uint32_t)hash & t->mask;; i = (i + 1) & t->mask) {
		struct agg_slot *s = &t->slots[i];
		if (!s->e)
			return s;
		if (s->hash == hash && s->e->type == type && s->e->keylen == len &&
		    memcmp(s->e->key, key, len) == 0)
			return s;
	}
}

static int table_grow(struct agg_table *t)
{
	uint32_t nslots = (t->mask + 1) * 2;
	struct agg_slot *slots = mem_alloc(t->node, nslots * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i <= t->mask; i++) {
		if (!t->slots[i].e)
			continue;
		uint32_t j = (uint32_t)t->slots[i].hash & (nslots - 1);
		while (slots[j].e)
			j = (j + 1) & (nslots - 1);
		slots[j] = t->slots[i];
	}
	mem_free(t->node, t->slots, (t->mask + 1) * sizeof(*slots));
	t->slots = slots;
	t->mask = nslots - 1;
	return 0;
}

/* Find or create the entry; DP_AGG_OK with *out, or TABLE_FULL or NOMEM. */
static enum dp_agg_status table_get(struct agg_table *t, uint64_t hash, uint8_t type,
				    const uint8_t *key, uint32_t len, struct agg_entry **out)
{
	struct agg_slot *s = table_find(t, hash, type, key, len);
	if (cm_likely(s->e != NULL)) {
		*out = s->e;
		return DP_AGG_OK;
	}
	if (t->n >= t->max)
		return DP_AGG_TABLE_FULL;
	if ((uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1) {
		if (table_grow(t))
			return DP_AGG_NOMEM;
		s = table_find(t, hash, type, key, len);
	}
	struct agg_entry *e = entry_create(type, key, len);
	if (!e)
		return DP_AGG_NOMEM;
	s->hash = hash;
	s->e = e;
	t->n++;
	*out = e;
	return DP_AGG_OK;
}

/* Remove slot i (backward-shift deletion: no tombstones). */
static void table_remove_at(struct agg_table *t, uint32_t i)
{
	entry_destroy(t->slots[i].e);
	t->n--;
	for (uint32_t j = i;;) {
		t->slots[i].e = NULL;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slots[j].e)
				return;
			uint32_t k = (uint32_t)t->slots[j].hash & t->mask;
			bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
			if (!stays)
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

/*
 * Free the merged entries without data this flush (gen older than
 * active_gen) whose last data is older than expire_ns at now_ns. A removal
 * can shift a later entry into slot i, so i is looked at again; an entry
 * may be looked at twice (harmless: the test is the same).
 */
static uint32_t table_expire(struct agg_table *t, int64_t now_ns, int64_t expire_ns,
			     uint64_t active_gen)
{
	uint32_t freed = 0;
	for (uint32_t i = 0; i <= t->mask;) {
		struct agg_entry *e = t->slots[i].e;
		if (e && e->gen != active_gen && now_ns - e->last_ns > expire_ns) {
			table_remove_at(t, i);
			freed++;
			continue;
		}
		i++;
	}
	return freed;
}

/* Append a |T point; DP_AGG_OK, TS_FULL or NOMEM. */
static enum dp_agg_status table_add_ts(struct agg_table *t, const uint8_t *key, uint32_t len,
				       int64_t ts_ns, double value)
{
	if (t->nts >= t->ts_max)
		return DP_AGG_TS_FULL;
	if (t->nts == t->ts_cap) {
		uint32_t cap = CM_MAX(t->ts_cap * 2, TS_POINTS_MIN);
		cap = CM_MIN(cap, t->ts_max);
		struct agg_tspoint *ts = realloc(t->ts, cap * sizeof(*ts));
		if (!ts)
			return DP_AGG_NOMEM;
		t->ts = ts;
		t->ts_cap = cap;
	}
	uint32_t off;
	const struct agg_tspoint *last = t->nts ? &t->ts[t->nts - 1] : NULL;
	if (last && last->keylen == len && memcmp(t->ts_keys + last->key_off, key, len) == 0) {
		off = last->key_off;  /* the same series again: share its key */
	} else {
		if (t->ts_keys_len + len > t->ts_keys_max)
			return DP_AGG_TS_FULL;
		if (t->ts_keys_len + len > t->ts_keys_cap) {
			size_t cap = CM_MAX(t->ts_keys_cap * 2, (size_t)ST_KEY_MAX * 4);
			cap = CM_MIN(cap, t->ts_keys_max);
			cap = CM_MAX(cap, t->ts_keys_len + len);
			uint8_t *keys = realloc(t->ts_keys, cap);
			if (!keys)
				return DP_AGG_NOMEM;
			t->ts_keys = keys;
			t->ts_keys_cap = cap;
		}
		off = (uint32_t)t->ts_keys_len;
		memcpy(t->ts_keys + off, key, len);
		t->ts_keys_len += len;
	}
	t->ts[t->nts++] = (struct agg_tspoint){ts_ns, value, off, len};
	return DP_AGG_OK;
}

/* ================================================================ worker */

/* Counters written by the worker only, read by mgmt (cm_ctr_add, relaxed loads). */
struct agg_ctr {
	_Atomic uint64_t lines[DP_STATSD_TYPE__COUNT];
	_Atomic uint64_t values;
	_Atomic uint64_t dropped[DP_AGG__COUNT];
	_Atomic uint64_t nomem_degraded;
	_Atomic uint64_t timestamped;
	_Atomic uint64_t ts_ignored;
	_Atomic uint64_t series;
	_Atomic uint64_t publishes;
	_Atomic uint64_t publish_busy;
	_Atomic uint64_t tables_created;
};

/* Written by the merger, read by the worker (and stats). */
struct agg_ctl {
	_Atomic uint64_t req_epoch;                /* the flush requested last */
	_Atomic(struct agg_table *) retbox;        /* a cleared table for the worker */
	_Atomic uint64_t late_publish;             /* counter; the merger is its writer */
};

struct dp_agg {
	/* Worker-private. */
	struct agg_table *cur;
	uint64_t seen_epoch;       /* the request the current table is for */
	int node;                  /* -1: heap */
	bool attached;             /* to a merger (set by dp_agg_merger_create) */
	struct dp_sketch_map map;
	uint32_t field_max[DP_STATSD_TYPE__COUNT];  /* longest field name per type */
	struct dp_agg_cfg cfg;
	/* The handoff: each line written by one side. */
	struct agg_ctl ctl CM_CACHE_ALIGNED;
	_Atomic(struct agg_table *) outbox CM_CACHE_ALIGNED;  /* the worker's table for the merger */
	struct agg_ctr ctr CM_CACHE_ALIGNED;
	uint8_t tmpl[ST_KEY_MAX] CM_CACHE_ALIGNED;  /* the key template being looked up */
};

static void field_max_init(const struct dp_agg_cfg *cfg, uint32_t *fm)
{
	for (int t = 0; t < DP_STATSD_TYPE__COUNT; t++)
		fm[t] = 5;  /* "value", "rate", "count", "mean" */
	for (uint32_t i = 0; i < cfg->npct; i++) {
		uint32_t len = (uint32_t)strlen(cfg->pct_field[i]);
		fm[DP_STATSD_TIMER] = CM_MAX(fm[DP_STATSD_TIMER], len);
	}
	fm[DP_STATSD_HISTOGRAM] = fm[DP_STATSD_DISTRIBUTION] = fm[DP_STATSD_TIMER];
}

static uint32_t table_slots_init(uint32_t max)
{
	return CM_MIN(TABLE_SLOTS_INIT, pow2_at_least((uint64_t)max * 2));
}

int dp_agg_create(const struct dp_agg_cfg *cfg, int numa_node, struct dp_agg **out)
{
	if (!cfg_valid(cfg))
		return -EINVAL;
	int node = numa_node >= 0 && numa_available() >= 0 ? numa_node : -1;
	struct dp_agg *a = mem_alloc(node, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->node = node;
	a->cfg = *cfg;
	dp_sketch_map_init(&a->map, cfg->sketch_accuracy);
	field_max_init(cfg, a->field_max);
	a->cur = table_create(node, cfg->max_series, table_slots_init(cfg->max_series),
			      cfg->max_timestamped);
	if (!a->cur) {
		mem_free(node, a, sizeof(*a));
		return -ENOMEM;
	}
	cm_ctr_add(&a->ctr.tables_created, 1);
	*out = a;
	return 0;
}

void dp_agg_destroy(struct dp_agg *a)
{
	if (!a)
		return;
	table_destroy(a->cur);
	/* Relaxed: no other thread runs (the caller's join or handover ordered them). */
	table_destroy(atomic_load_explicit(&a->outbox, memory_order_relaxed));
	table_destroy(atomic_load_explicit(&a->ctl.retbox, memory_order_relaxed));
	mem_free(a->node, a, sizeof(*a));
}

static enum dp_agg_status agg_drop(struct dp_agg *a, enum dp_agg_status st)
{
	cm_ctr_add(&a->ctr.dropped[st], 1);
	return st;
}

/* A |T counter or gauge line: one point at its own time. */
static enum dp_agg_status add_timestamped(struct dp_agg *a, const struct dp_statsd *m, double w,
					  uint32_t len)
{
	double x = 0;
	for (uint32_t i = 0; i < m->nvalues; i++) {
		if (m->type == DP_STATSD_COUNTER)
			x += m->v[i] * w;
		else
			x = dp_statsd_is_delta(m, i) ? x + m->v[i] : m->v[i];
	}
	enum dp_agg_status st = table_add_ts(a->cur, a->tmpl, len, m->ts_ns, x);
	if (st != DP_AGG_OK)
		return agg_drop(a, st);
	cm_ctr_add(&a->ctr.timestamped, 1);
	return DP_AGG_OK;
}

static void gauge_add(struct agg_gauge *g, const struct dp_statsd *m, int64_t now_ns)
{
	for (uint32_t i = 0; i < m->nvalues; i++) {
		if (dp_statsd_is_delta(m, i)) {
			g->delta += m->v[i];
		} else {
			g->has_set = true;
			g->set_val = m->v[i];
			g->set_ns = now_ns;
			g->delta = 0;
		}
		g->delta_ns = now_ns;
	}
}

/* Fold a line's values into e; -ENOMEM if a sketch or set could not grow. */
static int entry_add(struct dp_agg *a, struct agg_entry *e, const struct dp_statsd *m, double w,
		     int64_t now_ns)
{
	int rc = 0;
	switch (e->type) {
	case DP_STATSD_COUNTER:
		for (uint32_t i = 0; i < m->nvalues; i++)
			e->u.count += m->v[i] * w;
		break;
	case DP_STATSD_GAUGE:
		gauge_add(&e->u.g, m, now_ns);
		break;
	case DP_STATSD_SET:
		for (uint32_t i = 0; i < m->nvalues; i++)
			rc |= dp_hll_add(e->u.s, XXH3_64bits(m->raw[i].p, m->raw[i].len),
					 a->cfg.set_exact_max);
		break;
	default:
		for (uint32_t i = 0; i < m->nvalues; i++)
			rc |= dp_sketch_add(e->u.d, &a->map, m->v[i], w);
		break;
	}
	return rc;
}

/* HOT PATH */

enum dp_agg_status dp_agg_add(struct dp_agg *a, const struct dp_statsd *m, int64_t now_ns)
{
	assert(m->type < DP_STATSD_TYPE__COUNT);
	assert(m->nvalues >= 1 && m->nvalues <= DP_STATSD_VALUES_MAX);
	double w = 1.0 / m->rate;
	if (cm_unlikely(!isfinite(w)))
		return agg_drop(a, DP_AGG_BAD_RATE);
	int len = dp_statsd_key(m, (struct st_str){"", 0}, a->tmpl, sizeof(a->tmpl));
	if (cm_unlikely(len < 0 || (uint32_t)len + a->field_max[m->type] > ST_KEY_MAX))
		return agg_drop(a, DP_AGG_KEY_TOO_LONG);
	bool has_ts = m->flags & DP_STATSD_HAS_TS;
	enum dp_agg_status st;
	if (cm_unlikely(has_ts) && (m->type == DP_STATSD_COUNTER || m->type == DP_STATSD_GAUGE)) {
		st = add_timestamped(a, m, w, (uint32_t)len);
	} else {
		struct agg_entry *e;
		uint64_t hash = st_key_hash(a->tmpl, (size_t)len);
		uint32_t n = a->cur->n;
		st = table_get(a->cur, hash, m->type, a->tmpl, (uint32_t)len, &e);
		if (cm_unlikely(st != DP_AGG_OK))
			return agg_drop(a, st);
		if (cm_unlikely(a->cur->n != n))  /* a gauge counter: relaxed, read by stats */
			atomic_store_explicit(&a->ctr.series, a->cur->n, memory_order_relaxed);
		if (cm_unlikely(entry_add(a, e, m, w, now_ns) != 0))
			cm_ctr_add(&a->ctr.nomem_degraded, 1);
		e->touched = true;
		e->last_ns = now_ns;
		if (cm_unlikely(has_ts))
			cm_ctr_add(&a->ctr.ts_ignored, 1);
	}
	if (st == DP_AGG_OK) {
		cm_ctr_add(&a->ctr.lines[m->type], 1);
		cm_ctr_add(&a->ctr.values, m->nvalues);
	}
	return st;
}

/* Hand the current table to the merger, tagged with the request epoch. Not hot. */
static __attribute__((noinline)) int agg_publish(struct dp_agg *a, uint64_t epoch)
{
	/* NULL only after the merger's exchange took the last table: nothing to sync. */
	if (atomic_load_explicit(&a->outbox, memory_order_relaxed) != NULL) {
		cm_ctr_add(&a->ctr.publish_busy, 1);
		return -EBUSY;
	}
	/* Pairs with the release store in merger_return: the cleared table's contents. */
	struct agg_table *next = atomic_exchange_explicit(&a->ctl.retbox, NULL,
							  memory_order_acquire);
	if (!next) {
		next = table_create(a->node, a->cfg.max_series, a->cur->mask + 1,
				    a->cfg.max_timestamped);
		if (!next) {
			cm_ctr_add(&a->ctr.nomem_degraded, 1);
			return -ENOMEM;
		}
		cm_ctr_add(&a->ctr.tables_created, 1);
	}
	a->cur->epoch = epoch;
	/* Pairs with the acquire exchange in merger_take: the merger sees the whole table. */
	atomic_store_explicit(&a->outbox, a->cur, memory_order_release);
	a->cur = next;
	a->seen_epoch = epoch;
	atomic_store_explicit(&a->ctr.series, next->n, memory_order_relaxed);  /* stats only */
	cm_ctr_add(&a->ctr.publishes, 1);
	return 0;
}

void dp_agg_poll(struct dp_agg *a)
{
	/*
	 * Relaxed: the epoch is only a doorbell. Everything the worker then
	 * reads from the merger comes through retbox (acquire).
	 */
	uint64_t e = atomic_load_explicit(&a->ctl.req_epoch, memory_order_relaxed);
	if (cm_likely(e == a->seen_epoch))
		return;
	(void)agg_publish(a, e);
}

/* (end of HOT PATH) */

int dp_agg_publish_now(struct dp_agg *a)
{
	/* Relaxed, as in dp_agg_poll: only the tag of the table. */
	return agg_publish(a, atomic_load_explicit(&a->ctl.req_epoch, memory_order_relaxed));
}

void dp_agg_stats_read(const struct dp_agg *a, struct dp_agg_stats *out)
{
#define LD(x) atomic_load_explicit(&a->ctr.x, memory_order_relaxed)
	memset(out, 0, sizeof(*out));
	for (int t = 0; t < DP_STATSD_TYPE__COUNT; t++)
		out->lines[t] = LD(lines[t]);
	out->values = LD(values);
	out->table_full = LD(dropped[DP_AGG_TABLE_FULL]);
	out->ts_full = LD(dropped[DP_AGG_TS_FULL]);
	out->key_too_long = LD(dropped[DP_AGG_KEY_TOO_LONG]);
	out->bad_rate = LD(dropped[DP_AGG_BAD_RATE]);
	out->nomem = LD(dropped[DP_AGG_NOMEM]) + LD(nomem_degraded);
	out->timestamped = LD(timestamped);
	out->ts_ignored = LD(ts_ignored);
	out->series = LD(series);
	out->publishes = LD(publishes);
	out->publish_busy = LD(publish_busy);
	out->tables_created = LD(tables_created);
#undef LD
	/* The merger's counter (cm_ctr_add in merger_take), relaxed like the others. */
	out->late_publish = atomic_load_explicit(&a->ctl.late_publish, memory_order_relaxed);
}

/* The scalar counters after lines[], by name, for sum and print. */
#define AGG_STATS_FIELDS(X)                                                                  \
	X(values) X(table_full) X(ts_full) X(key_too_long) X(bad_rate) X(nomem)             \
	X(timestamped) X(ts_ignored) X(series) X(publishes) X(publish_busy)                 \
	X(tables_created) X(late_publish)

#define ONE(f) +1
static_assert(sizeof(struct dp_agg_stats) ==
		      sizeof(uint64_t) * (DP_STATSD_TYPE__COUNT AGG_STATS_FIELDS(ONE)),
	      "AGG_STATS_FIELDS names every counter of struct dp_agg_stats");
#undef ONE

void dp_agg_stats_sum(struct dp_agg_stats *acc, const struct dp_agg_stats *one)
{
	for (int t = 0; t < DP_STATSD_TYPE__COUNT; t++)
		acc->lines[t] += one->lines[t];
#define SUM(f) acc->f += one->f;
	AGG_STATS_FIELDS(SUM)
#undef SUM
}

void dp_agg_stats_print(const struct dp_agg_stats *st, const char *prefix, FILE *out)
{
	for (int t = 0; t < DP_STATSD_TYPE__COUNT; t++)
		fprintf(out, "%slines.%s %llu\n", prefix, dp_statsd_type_name(t),
			(unsigned long long)st->lines[t]);
#define PRINT(f) fprintf(out, "%s" #f " %llu\n", prefix, (unsigned long long)st->f);
	AGG_STATS_FIELDS(PRINT)
#undef PRINT
}

/* ================================================================ check */

static bool entry_ok(const struct agg_entry *e, uint32_t exact_max)
{
	if (type_is_dist(e->type))
		return dp_sketch_check(e->u.d) && (e->u.d->count == 0) == !e->touched;
	if (e->type == DP_STATSD_SET)
		return dp_hll_check(e->u.s, exact_max);
	return true;
}

int dp_agg_check(const struct dp_agg *a)
{
	const struct agg_table *t = a->cur;
	uint32_t n = 0;
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct agg_entry *e = t->slots[i].e;
		if (!e)
			continue;
		n++;
		uint64_t hash = t->slots[i].hash;
		if (hash != st_key_hash(e->key, e->keylen) ||
		    table_find(t, hash, e->type, e->key, e->keylen) != &t->slots[i] ||
		    !entry_ok(e, a->cfg.set_exact_max))
			return -EUCLEAN;
	}
	if (n != t->n || n > t->max || (uint64_t)n * 2 > (uint64_t)t->mask + 1 ||
	    t->nts > t->ts_max)
		return -EUCLEAN;
	return 0;
}

/* ================================================================ merger */

/* The merger's counters, by name: struct merger_ctr and dp_agg_merger_stats_read. */
#define MERGER_STATS_FIELDS(X)                                                               \
	X(flushes) X(points) X(timestamped) X(nonfinite) X(series) X(expired) X(table_full) \
	X(nomem) X(collect_timeouts) X(workers_missed) X(late_tables) X(tables_freed)

/* Counters written by the merger thread, read by any thread. */
struct merger_ctr {
#define CTR(f) _Atomic uint64_t f;
	MERGER_STATS_FIELDS(CTR)
#undef CTR
};

#define ONE(f) +1
static_assert(sizeof(struct dp_agg_merger_stats) == sizeof(uint64_t) * (0 MERGER_STATS_FIELDS(ONE)),
	      "MERGER_STATS_FIELDS names every counter of struct dp_agg_merger_stats");
#undef ONE

struct dp_agg_merger {
	struct dp_agg_cfg cfg;
	struct dp_sketch_map map;
	double q[DP_AGG_PCT_MAX];        /* cfg.pct / 100 */
	uint32_t n;
	struct dp_agg **aggs;
	uint64_t *got;                   /* per worker: the epoch of its last table */
	uint64_t epoch;                  /* the flush requested last */
	uint64_t gen;                    /* emits so far: tags the merged interval state */
	struct agg_table *held, **held_tail;  /* collected, not yet merged */
	struct agg_table *state;         /* merged entries, across intervals */
	struct merger_ctr ctr CM_CACHE_ALIGNED;
	uint8_t keybuf[ST_KEY_MAX];      /* the key of the point being emitted */
};

int dp_agg_merger_create(const struct dp_agg_cfg *cfg, struct dp_agg *const *aggs, uint32_t n,
			 struct dp_agg_merger **out)
{
	if (!cfg_valid(cfg) || n == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (aggs[i]->cfg.sketch_accuracy != cfg->sketch_accuracy ||
		    aggs[i]->cfg.set_exact_max != cfg->set_exact_max)
			return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (aggs[i]->attached) {  /* to another merger, or listed twice */
			while (i > 0)
				aggs[--i]->attached = false;
			return -EINVAL;
		}
		aggs[i]->attached = true;
	}
	struct dp_agg_merger *mg = aligned_alloc(CM_CACHE_LINE,
						 CM_ALIGN_UP(sizeof(*mg), (size_t)CM_CACHE_LINE));
	if (!mg)
		goto err_detach;
	memset(mg, 0, sizeof(*mg));
	mg->cfg = *cfg;
	dp_sketch_map_init(&mg->map, cfg->sketch_accuracy);
	for (uint32_t i = 0; i < cfg->npct; i++)
		mg->q[i] = cfg->pct[i] / 100.0;
	mg->n = n;
	mg->aggs = calloc(n, sizeof(*mg->aggs));
	mg->got = calloc(n, sizeof(*mg->got));
	uint64_t max = CM_MIN((uint64_t)cfg->max_series * n, (uint64_t)1 << 30);
	mg->state = table_create(-1, (uint32_t)max, table_slots_init((uint32_t)max), 1);
	if (!mg->aggs || !mg->got || !mg->state)
		goto err_free;
	mg->held_tail = &mg->held;
	for (uint32_t i = 0; i < n; i++) {
		mg->aggs[i] = aggs[i];
		/* Relaxed: only a merger stores it, and none other is attached. */
		mg->got[i] = atomic_load_explicit(&aggs[i]->ctl.req_epoch, memory_order_relaxed);
		mg->epoch = CM_MAX(mg->epoch, mg->got[i]);
	}
	*out = mg;
	return 0;
err_free:
	table_destroy(mg->state);
	free(mg->aggs);
	free(mg->got);
	free(mg);
err_detach:
	for (uint32_t i = 0; i < n; i++)
		aggs[i]->attached = false;
	return -ENOMEM;
}

void dp_agg_merger_destroy(struct dp_agg_merger *mg)
{
	if (!mg)
		return;
	while (mg->held) {
		struct agg_table *t = mg->held;
		mg->held = t->next;
		table_destroy(t);
	}
	for (uint32_t i = 0; mg->aggs && i < mg->n; i++)
		if (mg->aggs[i])
			mg->aggs[i]->attached = false;
	table_destroy(mg->state);
	free(mg->aggs);
	free(mg->got);
	free(mg);
}

void dp_agg_merger_request(struct dp_agg_merger *mg)
{
	mg->epoch++;
	for (uint32_t i = 0; i < mg->n; i++)
		/* Relaxed, read by dp_agg_poll: a doorbell; the tables travel by outbox/retbox. */
		atomic_store_explicit(&mg->aggs[i]->ctl.req_epoch, mg->epoch, memory_order_relaxed);
}

/* Take worker i's published table, if any. */
static void merger_take(struct dp_agg_merger *mg, uint32_t i)
{
	struct dp_agg *a = mg->aggs[i];
	/* Pairs with the release store in agg_publish. */
	struct agg_table *t = atomic_exchange_explicit(&a->outbox, NULL, memory_order_acquire);
	if (!t)
		return;
	t->worker = i;
	t->next = NULL;
	*mg->held_tail = t;
	mg->held_tail = &t->next;
	if (t->epoch < mg->epoch) {
		cm_ctr_add(&mg->ctr.late_tables, 1);
		cm_ctr_add(&a->ctl.late_publish, 1);
	}
	mg->got[i] = t->epoch;
}

bool dp_agg_merger_collect(struct dp_agg_merger *mg, int64_t timeout_ns)
{
	int64_t deadline = cm_mono_ns() + timeout_ns;
	for (;;) {
		uint32_t missing = 0;
		for (uint32_t i = 0; i < mg->n; i++) {
			merger_take(mg, i);
			missing += mg->got[i] != mg->epoch;
		}
		if (!missing)
			return true;
		int64_t left = deadline - cm_mono_ns();
		if (left <= 0) {
			cm_ctr_add(&mg->ctr.collect_timeouts, 1);
			cm_ctr_add(&mg->ctr.workers_missed, missing);
			return false;
		}
		cm_sleep_ns(CM_MIN(left, COLLECT_STEP_NS));
	}
}

/*
 * Merge gauge partial q into p. Within a worker the order is exact; across
 * workers the last value set (by arrival time) wins, and a partial's
 * deltas count after it if its last delta arrived at or after that value.
 */
static void gauge_merge(struct agg_gauge *p, const struct agg_gauge *q)
{
	if (q->has_set && (!p->has_set || q->set_ns >= p->set_ns)) {
		double keep = p->delta_ns >= q->set_ns ? p->delta : 0;
		p->has_set = true;
		p->set_val = q->set_val;
		p->set_ns = q->set_ns;
		p->delta = q->delta + keep;
	} else if (!p->has_set || q->delta_ns >= p->set_ns) {
		p->delta += q->delta;
	}
	p->delta_ns = CM_MAX(p->delta_ns, q->delta_ns);
}

static int entry_merge(struct dp_agg_merger *mg, struct agg_entry *dst, const struct agg_entry *src)
{
	switch (dst->type) {
	case DP_STATSD_COUNTER:
		dst->u.count += src->u.count;
		return 0;
	case DP_STATSD_GAUGE:
		gauge_merge(&dst->u.g, &src->u.g);
		return 0;
	case DP_STATSD_SET:
		return dp_hll_merge(dst->u.s, src->u.s, mg->cfg.set_exact_max);
	default:
		return dp_sketch_merge(dst->u.d, src->u.d);
	}
}

/* Merge one worker entry (its key's hash: hash) into the merged state. */
static void merge_entry(struct dp_agg_merger *mg, uint64_t hash, const struct agg_entry *e,
			int64_t ts_ns)
{
	struct agg_entry *me;
	enum dp_agg_status st = table_get(mg->state, hash, e->type, e->key, e->keylen, &me);
	if (st != DP_AGG_OK) {
		cm_ctr_add(st == DP_AGG_TABLE_FULL ? &mg->ctr.table_full : &mg->ctr.nomem, 1);
		return;
	}
	if (me->gen != mg->gen) {
		entry_clear(me);
		me->gen = mg->gen;
	}
	me->last_ns = ts_ns;
	if (entry_merge(mg, me, e))
		cm_ctr_add(&mg->ctr.nomem, 1);
}

/*
 * Merge a worker table's touched entries and clear them; free the others
 * if idle for longer than statsd.idle_expire. A removal can shift a later
 * entry into slot i, so slot i is looked at again (a cleared entry is no
 * longer touched: it is never merged twice).
 */
static void merge_table(struct dp_agg_merger *mg, struct agg_table *t, int64_t ts_ns)
{
	uint32_t freed = 0;
	for (uint32_t i = 0; i <= t->mask;) {
		struct agg_entry *e = t->slots[i].e;
		if (e && e->touched) {
			merge_entry(mg, t->slots[i].hash, e, ts_ns);
			entry_clear(e);
		} else if (e && ts_ns - e->last_ns > mg->cfg.idle_expire_ns) {
			table_remove_at(t, i);
			freed++;
			continue;
		}
		i++;
	}
	cm_ctr_add(&mg->ctr.expired, freed);
}

struct emit_ctx {
	struct dp_agg_merger *mg;
	dp_agg_emit_fn fn;
	void *ctx;
	int64_t ts_ns;
	double interval_s;
	uint32_t points;
};

static void emit_point(struct emit_ctx *ec, const uint8_t *tmpl, uint32_t len, const char *field,
		       int64_t ts_ns, double v)
{
	struct dp_agg_merger *mg = ec->mg;
	if (!isfinite(v)) {
		cm_ctr_add(&mg->ctr.nonfinite, 1);
		return;
	}
	struct st_str f = {field, (uint32_t)strlen(field)};
	int n = st_key_with_field(tmpl, len, f, mg->keybuf, sizeof(mg->keybuf));
	assert(n > 0);  /* dp_agg_add kept room for the longest field */
	if (n <= 0)
		return;
	ec->fn(ec->ctx, mg->keybuf, (uint32_t)n, st_key_hash(mg->keybuf, (size_t)n), ts_ns, v);
	ec->points++;
}

static void emit_dist(struct emit_ctx *ec, const struct agg_entry *e)
{
	const struct dp_sketch *d = e->u.d;
	const struct dp_agg_merger *mg = ec->mg;
	double pv[DP_AGG_PCT_MAX];
	emit_point(ec, e->key, e->keylen, "count", ec->ts_ns, d->count);
	emit_point(ec, e->key, e->keylen, "sum", ec->ts_ns, d->sum);
	emit_point(ec, e->key, e->keylen, "min", ec->ts_ns, d->min);
	emit_point(ec, e->key, e->keylen, "max", ec->ts_ns, d->max);
	emit_point(ec, e->key, e->keylen, "mean", ec->ts_ns, d->sum / d->count);
	dp_sketch_quantiles(d, &mg->map, mg->q, mg->cfg.npct, pv);
	for (uint32_t i = 0; i < mg->cfg.npct; i++)
		emit_point(ec, e->key, e->keylen, mg->cfg.pct_field[i], ec->ts_ns, pv[i]);
}

/* The points of one merged entry, by type, activity and statsd.idle. */
static void emit_entry(struct emit_ctx *ec, struct agg_entry *e)
{
	bool active = e->gen == ec->mg->gen;
	uint8_t idle = ec->mg->cfg.idle;
	switch (e->type) {
	case DP_STATSD_COUNTER: {
		double c = active ? e->u.count : 0;
		if (active || idle == DP_AGG_IDLE_ZERO) {
			emit_point(ec, e->key, e->keylen, "value", ec->ts_ns, c);
			emit_point(ec, e->key, e->keylen, "rate", ec->ts_ns, c / ec->interval_s);
		}
		break;
	}
	case DP_STATSD_GAUGE: {
		struct agg_gauge *g = &e->u.g;
		if (active) {
			g->value = (g->has_set ? g->set_val : g->has_value ? g->value : 0) + g->delta;
			g->has_value = true;
		}
		if (g->has_value && (active || idle != DP_AGG_IDLE_SKIP))
			emit_point(ec, e->key, e->keylen, "value", ec->ts_ns, g->value);
		break;
	}
	case DP_STATSD_SET:
		if (active)
			emit_point(ec, e->key, e->keylen, "value", ec->ts_ns, dp_hll_count(e->u.s));
		break;
	default:
		if (active)
			emit_dist(ec, e);
		break;
	}
}

/* Hand a merged (and so cleared) table back to its worker, or free it. */
static void merger_return(struct dp_agg_merger *mg, struct agg_table *t)
{
	struct dp_agg *a = mg->aggs[t->worker];
	t->nts = 0;
	t->ts_keys_len = 0;
	t->next = NULL;
	/* Only the worker empties retbox (exchange), so NULL stays NULL until our store. */
	if (atomic_load_explicit(&a->ctl.retbox, memory_order_relaxed) == NULL) {
		/* Pairs with the acquire exchange in agg_publish. */
		atomic_store_explicit(&a->ctl.retbox, t, memory_order_release);
	} else {
		table_destroy(t);
		cm_ctr_add(&mg->ctr.tables_freed, 1);
	}
}

uint32_t dp_agg_merger_emit(struct dp_agg_merger *mg, int64_t ts_ns, double interval_s,
			    dp_agg_emit_fn fn, void *ctx)
{
	assert(interval_s > 0 && fn);
	struct emit_ctx ec = {mg, fn, ctx, ts_ns, interval_s, 0};
	struct agg_table *state = mg->state;
	mg->gen++;
	for (struct agg_table *t = mg->held; t; t = t->next)
		merge_table(mg, t, ts_ns);
	for (uint32_t i = 0; i <= state->mask; i++)
		if (state->slots[i].e)
			emit_entry(&ec, state->slots[i].e);
	uint32_t agg_points = ec.points;
	for (struct agg_table *t = mg->held; t; t = t->next)
		for (uint32_t i = 0; i < t->nts; i++)
			emit_point(&ec, t->ts_keys + t->ts[i].key_off, t->ts[i].keylen, "value",
				   t->ts[i].ts_ns, t->ts[i].value);
	uint32_t freed = table_expire(state, ts_ns, mg->cfg.idle_expire_ns, mg->gen);
	while (mg->held) {
		struct agg_table *t = mg->held;
		mg->held = t->next;
		merger_return(mg, t);
	}
	mg->held_tail = &mg->held;
	cm_ctr_add(&mg->ctr.expired, freed);
	cm_ctr_add(&mg->ctr.flushes, 1);
	cm_ctr_add(&mg->ctr.points, ec.points);
	cm_ctr_add(&mg->ctr.timestamped, ec.points - agg_points);
	atomic_store_explicit(&mg->ctr.series, state->n, memory_order_relaxed);  /* stats only */
	return ec.points;
}

/* ================================================================ digest */

static uint64_t entry_digest(const struct agg_entry *e)
{
	uint64_t h = XXH3_64bits_withSeed(&e->type, 1, XXH3_64bits(e->key, e->keylen));
	if (type_is_dist(e->type))
		return dp_sketch_digest(e->u.d, h);
	if (e->type == DP_STATSD_SET)
		return dp_hll_digest(e->u.s, h);
	double v = e->type == DP_STATSD_GAUGE ? e->u.g.value : e->u.count;
	return XXH3_64bits_withSeed(&v, sizeof(v), h);
}

uint64_t dp_agg_merger_digest(const struct dp_agg_merger *mg)
{
	uint64_t sum = 0;
	const struct agg_table *t = mg->state;
	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct agg_entry *e = t->slots[i].e;
		if (e && e->gen == mg->gen && mg->gen)
			sum += entry_digest(e);
	}
	return sum;
}

void dp_agg_merger_stats_read(const struct dp_agg_merger *mg, struct dp_agg_merger_stats *out)
{
#define LD(f) out->f = atomic_load_explicit(&mg->ctr.f, memory_order_relaxed);
	MERGER_STATS_FIELDS(LD)
#undef LD
}
