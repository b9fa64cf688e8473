/*
 * tl_traffic.c - the deterministic traffic generator and its manifest (what
 * is generated and the receiver's rules: tl_traffic.h; manifest format:
 * tl_manifest.h).
 *
 * How it works: every series (StatsD metric, line-protocol tag set, binary
 * series) is fixed at create, with its values still to send and what a
 * receiver must have stored of it so far. Each tl_traffic_next() picks a
 * format by weight (or a junk item, spread over the run in proportion to
 * the work left), then fills a datagram with lines or records of random
 * series of that format. A StatsD or line-protocol line is composed in a
 * scratch buffer with the values it carries and committed to the series
 * (and the datagram) only when it fits, so a line that does not fit costs
 * nothing but random numbers. Expected values are computed from the text
 * as sent (strtod of the same bytes the decoder parses), so they are the
 * decoder's doubles exactly. Binary frames are written with the
 * dataplane's own writer. The second of a swapped pair and a duplicate are
 * kept in a small outbox and returned by the next calls.
 *
 * Threads: one generator per thread; no global state.
 */
#include "tl_traffic.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"
#include "cm_rand.h"
#include "dp_frame.h"
#include "dp_statsd.h"
#include "st_series.h"

#define NEVER UINT64_MAX
#define SD_PACK_MAX 4          /* values in a packed StatsD line */
#define SD_SET_MEMBERS 48      /* set members u0..u47: a 64-bit mask */
#define SD_TAGS_MAX 3
#define LP_TAGS_MAX 3
#define LP_FIELDS_MAX 3
#define BIN_TAGS_MAX 2
#define NAME_BYTES 40
#define LINE_SCRATCH 1024      /* one composed line; lines stay under 400 bytes */
#define JUNK_RESERVE 96        /* room kept for a junk line or bad records */
#define OUTBOX_MAX 2
#define JUNK_SOURCE_ID 0xfffffff0u
#define JUNK_REF 0xffffff00u
#define SEQ_FAR 1000000u       /* a bad frame's seq is this far ahead: never a real one */

static_assert(SD_SET_MEMBERS <= 64, "set members fit a mask");

/* ------------------------------------------------------------------------ */
/* Series                                                                    */
/* ------------------------------------------------------------------------ */

struct kv {
	char k[24];
	char v[24];   /* empty: a valueless DogStatsD tag */
};

struct smetric {                  /* a StatsD metric */
	char name[NAME_BYTES];
	uint8_t type;                 /* enum dp_statsd_type */
	uint8_t ntags;
	struct kv tags[SD_TAGS_MAX];
	uint32_t sent;                /* values */
	double sum, count, min, max;  /* c: sum; ms/h/d: all */
	double gauge;
	uint64_t members;             /* s: bit i = member "u<i>" seen */
};

enum lp_type { LP_FLOAT = 0, LP_INT, LP_UINT, LP_BOOL, LP__COUNT };

struct lgroup {                   /* a line-protocol tag set and its fields */
	char meas[NAME_BYTES];
	uint8_t ntags, nfields;
	struct kv tags[LP_TAGS_MAX];
	char fkey[LP_FIELDS_MAX][24];
	uint8_t ftype[LP_FIELDS_MAX]; /* enum lp_type */
	uint32_t sent;                /* lines */
	struct tl_series_acc acc[LP_FIELDS_MAX];
};

struct bseries {                  /* a binary series */
	char name[NAME_BYTES];
	uint32_t ref;
	uint8_t type;                 /* DP_WIRE_F64, DP_WIRE_I64 */
	uint8_t ntags;
	struct kv tags[BIN_TAGS_MAX];
	uint32_t sent;
	uint32_t serial;              /* global index: timestamp offset */
	uint64_t declared_seq;        /* frame that last carried its DEF; NEVER */
	double walk;
	struct tl_series_acc acc;
};

struct bsource {
	uint32_t id;
	uint64_t seq;                 /* of the next frame */
	uint64_t frames;              /* built, distinct seqs */
	uint32_t *refs, nrefs;        /* indices into t->bs */
	uint32_t *active, nactive;    /* refs with values left */
	uint32_t redef_pos;           /* DEF round cursor over refs; nrefs: no round under way */
	uint64_t round_frame;         /* frames built when the last round began */
	uint64_t gaps, dups, reorders;
};

struct outbox_item {
	struct tl_datagram dg;
	uint8_t *buf;                 /* max_datagram_bytes */
};

struct tl_traffic {
	struct tl_traffic_cfg cfg;
	uint64_t rng;
	bool on[DP_PROTO__COUNT];
	uint64_t left[DP_PROTO__COUNT];   /* values left per format */

	struct smetric *sm;
	uint32_t nsm, *sactive, nsactive;
	struct lgroup *lg;
	uint32_t nlg, *lactive, nlactive;
	struct bseries *bs;
	uint32_t nbs;
	struct bsource *src;
	uint32_t nsrc;

	uint64_t junk_left;
	uint64_t events_left[3];          /* gap, dup, reorder */
	uint8_t junk_kinds[TL_JUNK__COUNT];
	uint32_t njunk_kinds;
	uint64_t bin_frames, bin_points;  /* built so far: points per frame */

	struct outbox_item out[OUTBOX_MAX];
	uint32_t nout;
	uint8_t *frame_a;                 /* scratch for the first of a swapped pair */

	/* what has been returned */
	struct tl_sent sent[DP_PROTO__COUNT];
	uint64_t junk[TL_JUNK__COUNT];
};

enum { EV_GAP = 0, EV_DUP, EV_REORDER, EV_NONE };

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t rnd(struct tl_traffic *t)
{
	return cm_splitmix64(&t->rng);
}

/* Uniform in [0, n), n > 0 (the modulo bias is irrelevant here). */
static uint32_t rnd_below(struct tl_traffic *t, uint64_t n)
{
	assert(n > 0);
	return (uint32_t)(rnd(t) % n);
}

/* A text buffer that refuses to overflow: ok goes false and stays false. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool ok;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!b->ok || n > b->cap - b->len) {
		b->ok = false;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

CM_PRINTF(2, 3)
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof(tmp));
	sb_put(b, tmp, (size_t)n);
}

/* s with a backslash before each byte in special (line-protocol escaping). */
static void sb_escaped(struct sbuf *b, const char *s, const char *special)
{
	for (; *s; s++) {
		if (strchr(special, *s))
			sb_put(b, "\\", 1);
		sb_put(b, s, 1);
	}
}

static struct st_str S(const char *s)
{
	return (struct st_str){s, (uint32_t)strlen(s)};
}

/* Parse back a number exactly as written (the decoders are correctly rounded, as strtod). */
static double num_of(const char *text, size_t len)
{
	char tmp[64];
	assert(len < sizeof(tmp));
	memcpy(tmp, text, len);
	tmp[len] = '\0';
	return strtod(tmp, NULL);
}

/* Shuffle idx[n] (Fisher-Yates). */
static void shuffle(struct tl_traffic *t, uint8_t *idx, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		idx[i] = (uint8_t)i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rnd_below(t, i);
		uint8_t x = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = x;
	}
}

/* Remove value v from a swap-remove list (it is there). */
static void list_remove(uint32_t *list, uint32_t *n, uint32_t v)
{
	uint32_t i = 0;
	while (i < *n && list[i] != v)
		i++;
	assert(i < *n);
	list[i] = list[--*n];
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const sd_base[DP_STATSD_TYPE__COUNT] = {
	[DP_STATSD_COUNTER] = "app.requests",      [DP_STATSD_GAUGE] = "app.queue_depth",
	[DP_STATSD_TIMER] = "api.latency",         [DP_STATSD_HISTOGRAM] = "api.resp-bytes",
	[DP_STATSD_DISTRIBUTION] = "Job.Duration", [DP_STATSD_SET] = "app.users",
};

/* DogStatsD tag pool: distinct keys; "canary" is valueless, "ver" has a ':' in its value. */
static const struct kv sd_tag_pool[] = {
	{"env", "prod"}, {"region", "eu-1"}, {"canary", ""}, {"ver", "1.2:3"}, {"zone", "b"},
};

static void setup_statsd(struct tl_traffic *t)
{
	uint8_t types[DP_STATSD_TYPE__COUNT];
	uint32_t ntypes = 0;
	for (uint8_t y = 0; y < DP_STATSD_TYPE__COUNT; y++)
		if (!t->cfg.statsd_types || (t->cfg.statsd_types >> y & 1))
			types[ntypes++] = y;
	for (uint32_t i = 0; i < t->nsm; i++) {
		struct smetric *m = &t->sm[i];
		m->type = types[i % ntypes];
		snprintf(m->name, sizeof(m->name), "%s.m%" PRIu32, sd_base[m->type], i);
		uint8_t pick[CM_ARRAY_SIZE(sd_tag_pool)];
		shuffle(t, pick, CM_ARRAY_SIZE(sd_tag_pool));
		m->ntags = (uint8_t)rnd_below(t, SD_TAGS_MAX + 1);
		for (uint32_t k = 0; k < m->ntags; k++)
			m->tags[k] = sd_tag_pool[pick[k]];
		t->sactive[i] = i;
	}
	t->nsactive = t->nsm;
}

static const char *const lp_meas[] = {"cpu", "mem", "disk io", "net,if", "weather"};
static const char *const lp_region[] = {"eu-1", "us west", "a,b", "x=y"};
static const char *const lp_fkey[LP__COUNT][2] = {
	[LP_FLOAT] = {"usage", "a=b"}, [LP_INT] = {"free bytes", "ops"},
	[LP_UINT] = {"count", "x,y"},  [LP_BOOL] = {"ok", "up"},
};

static void setup_line(struct tl_traffic *t)
{
	for (uint32_t i = 0; i < t->nlg; i++) {
		struct lgroup *g = &t->lg[i];
		snprintf(g->meas, sizeof(g->meas), "%s_%" PRIu32,
			 lp_meas[i % CM_ARRAY_SIZE(lp_meas)], i);
		g->ntags = (uint8_t)(1 + rnd_below(t, LP_TAGS_MAX));
		snprintf(g->tags[0].k, sizeof(g->tags[0].k), "host");
		snprintf(g->tags[0].v, sizeof(g->tags[0].v), "h%" PRIu32, i);
		if (g->ntags > 1) {
			snprintf(g->tags[1].k, sizeof(g->tags[1].k), "region");
			snprintf(g->tags[1].v, sizeof(g->tags[1].v), "%s",
				 lp_region[rnd_below(t, CM_ARRAY_SIZE(lp_region))]);
		}
		if (g->ntags > 2) {
			snprintf(g->tags[2].k, sizeof(g->tags[2].k), "%s", i % 2 ? "k=x" : "dc");
			snprintf(g->tags[2].v, sizeof(g->tags[2].v), "dc%" PRIu32, i % 3);
		}
		g->nfields = (uint8_t)(1 + i % LP_FIELDS_MAX);
		for (uint32_t f = 0; f < g->nfields; f++) {
			g->ftype[f] = (uint8_t)((i + f) % LP__COUNT);
			/* keys differ within a group: so do the types of its fields */
			snprintf(g->fkey[f], sizeof(g->fkey[f]), "%s", lp_fkey[g->ftype[f]][(i / 4) % 2]);
		}
		t->lactive[i] = i;
	}
	t->nlactive = t->nlg;
}

static const char *const bin_base[] = {"px.last", "qty", "temp.c", "depth.bid"};

static int setup_binary(struct tl_traffic *t)
{
	for (uint32_t s = 0; s < t->nsrc; s++) {
		struct bsource *src = &t->src[s];
		src->id = TL_TRAFFIC_SOURCE_ID_BASE + s;
		src->seq = rnd(t) >> 40;   /* "starting anywhere", far from wrapping */
		uint32_t n = t->nbs / t->nsrc + (s < t->nbs % t->nsrc);
		src->refs = calloc(n ? n : 1, sizeof(*src->refs));
		src->active = calloc(n ? n : 1, sizeof(*src->active));
		if (!src->refs || !src->active)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < t->nbs; i++) {
		struct bseries *b = &t->bs[i];
		struct bsource *src = &t->src[i % t->nsrc];
		b->serial = i;
		b->type = i % 2 ? DP_WIRE_I64 : DP_WIRE_F64;
		b->ref = 10 + 7 * i;
		snprintf(b->name, sizeof(b->name), "%s.s%" PRIu32,
			 bin_base[i % CM_ARRAY_SIZE(bin_base)], i);
		b->ntags = (uint8_t)rnd_below(t, BIN_TAGS_MAX + 1);
		if (b->ntags > 0) {
			snprintf(b->tags[0].k, sizeof(b->tags[0].k), "feed");
			snprintf(b->tags[0].v, sizeof(b->tags[0].v), "%" PRIu32, src->id);
		}
		if (b->ntags > 1) {
			snprintf(b->tags[1].k, sizeof(b->tags[1].k), "side");
			snprintf(b->tags[1].v, sizeof(b->tags[1].v), "%s", i % 4 < 2 ? "bid ask" : "mid");
		}
		b->declared_seq = NEVER;
		b->walk = 50 + rnd_below(t, 10000) / 100.0;
		src->refs[src->nrefs++] = i;
		src->active[src->nactive++] = i;
	}
	for (uint32_t s = 0; s < t->nsrc; s++)
		t->src[s].redef_pos = t->src[s].nrefs;   /* the first frame has nothing to repeat */
	return 0;
}

static void setup_junk_kinds(struct tl_traffic *t)
{
	if (t->on[DP_PROTO_STATSD])
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_STATSD_BAD_LINE;
	if (t->on[DP_PROTO_LINE])
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_LINE_BAD_LINE;
	if (t->on[DP_PROTO_BINARY]) {
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_BINARY_BAD_FRAME;
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_BINARY_BAD_RECORD;
	}
	if (t->cfg.pcap_junk) {
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_NOT_IP;
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_NOT_UDP;
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_FRAGMENT;
		t->junk_kinds[t->njunk_kinds++] = TL_JUNK_UNKNOWN_PORT;
	}
}

static int cfg_check(struct tl_traffic_cfg *c)
{
	if (!c->max_datagram_bytes)
		c->max_datagram_bytes = TL_TRAFFIC_DATAGRAM_DEFAULT;
	if (!c->start_ns)
		c->start_ns = TL_TRAFFIC_START_NS_DEFAULT;
	if (!c->step_ns)
		c->step_ns = TL_TRAFFIC_STEP_NS_DEFAULT;
	if (!c->sources)
		c->sources = TL_TRAFFIC_SOURCES_DEFAULT;
	if (!c->redef_every)
		c->redef_every = TL_TRAFFIC_REDEF_DEFAULT;
	bool any = false;
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		if (c->series[p] > TL_TRAFFIC_SERIES_MAX)
			return -EINVAL;
		any |= c->series[p] && c->weight[p];
	}
	if (!any || c->values_per_series == 0 || c->start_ns < 0 || c->step_ns < 0 ||
	    c->max_datagram_bytes < TL_TRAFFIC_DATAGRAM_MIN ||
	    c->max_datagram_bytes > TL_TRAFFIC_DATAGRAM_MAX || c->sources > 1000 ||
	    c->statsd_percentiles > 100 ||
	    (c->statsd_types & ~((1u << DP_STATSD_TYPE__COUNT) - 1)))
		return -EINVAL;
	/* the last timestamp (plus the per-series offsets) stays inside int64 */
	double last = (double)c->start_ns + (double)c->step_ns * c->values_per_series + 1e12;
	if (last >= 9.2e18)
		return -EINVAL;
	return 0;
}

int tl_traffic_create(const struct tl_traffic_cfg *cfg, struct tl_traffic **out)
{
	struct tl_traffic_cfg c = *cfg;
	int rc = cfg_check(&c);
	if (rc)
		return rc;
	struct tl_traffic *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = c;
	t->rng = c.seed;
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		t->on[p] = c.series[p] && c.weight[p];
		t->left[p] = t->on[p] ? (uint64_t)c.series[p] * c.values_per_series : 0;
	}
	t->nsm = t->on[DP_PROTO_STATSD] ? c.series[DP_PROTO_STATSD] : 0;
	t->nlg = t->on[DP_PROTO_LINE] ? c.series[DP_PROTO_LINE] : 0;
	t->nbs = t->on[DP_PROTO_BINARY] ? c.series[DP_PROTO_BINARY] : 0;
	t->nsrc = t->nbs ? CM_MIN(c.sources, t->nbs) : 0;
	t->sm = calloc(t->nsm + 1, sizeof(*t->sm));
	t->sactive = calloc(t->nsm + 1, sizeof(*t->sactive));
	t->lg = calloc(t->nlg + 1, sizeof(*t->lg));
	t->lactive = calloc(t->nlg + 1, sizeof(*t->lactive));
	t->bs = calloc(t->nbs + 1, sizeof(*t->bs));
	t->src = calloc(t->nsrc + 1, sizeof(*t->src));
	t->frame_a = malloc(c.max_datagram_bytes);
	rc = (t->sm && t->sactive && t->lg && t->lactive && t->bs && t->src && t->frame_a) ? 0
											 : -ENOMEM;
	for (int i = 0; i < OUTBOX_MAX && !rc; i++)
		if (!(t->out[i].buf = malloc(c.max_datagram_bytes)))
			rc = -ENOMEM;
	if (!rc) {
		setup_statsd(t);
		setup_line(t);
		rc = setup_binary(t);
	}
	if (rc) {
		tl_traffic_destroy(t);
		return rc;
	}
	setup_junk_kinds(t);
	t->junk_left = t->njunk_kinds ? c.junk : 0;
	if (t->nbs) {
		t->events_left[EV_GAP] = c.gaps;
		t->events_left[EV_DUP] = c.dups;
		t->events_left[EV_REORDER] = c.reorders;
	}
	*out = t;
	return 0;
}

void tl_traffic_destroy(struct tl_traffic *t)
{
	if (!t)
		return;
	for (uint32_t s = 0; s < t->nsrc; s++) {
		free(t->src[s].refs);
		free(t->src[s].active);
	}
	for (int i = 0; i < OUTBOX_MAX; i++)
		free(t->out[i].buf);
	free(t->frame_a);
	free(t->sm);
	free(t->sactive);
	free(t->lg);
	free(t->lactive);
	free(t->bs);
	free(t->src);
	free(t);
}

/* ------------------------------------------------------------------------ */
/* Junk lines                                                                */
/* ------------------------------------------------------------------------ */

/* StatsD lines the decoder must reject: bad type, bad rate, bad value. */
static const char *const sd_junk[] = {
	"junk.m:1|q",      "junk.m:1|cc",       "junk.m:1|",        "junk.m:1|c|@2",
	"junk.m:1|c|@0",   "junk.m:1|ms|@x",    "junk.m:1|c|@-0.5", "junk.m:abc|c",
	"junk.m:nan|g",    "junk.m:1.2.3|ms",   "junk.m:|c",        "junk.m:1::2|d",
	"junk.m:0x10|h",   "junk.m:1e999|c",
};

/* Line-protocol lines the decoder must reject: bad field values, missing fields. */
static const char *const lp_junk[] = {
	"junk_m,t=1 f=1x 1700000000000000000",  "junk_m,t=1 1700000000000000000",
	"junk_m f=NaN",                         "junk_m,t=1 f=",
	"junk_m f=-1u",                         "junk_m f=tru 1700000000000000000",
	"junk_m,t=1",                           "junk_m f",
	"junk_m f=1,",                          "junk_m f=\"open",
	"junk_m f=99999999999999999999i",       "junk_m =1",
};

static void put_junk_line(struct tl_traffic *t, struct sbuf *b, enum dp_proto p)
{
	if (p == DP_PROTO_STATSD)
		sb_str(b, sd_junk[rnd_below(t, CM_ARRAY_SIZE(sd_junk))]);
	else
		sb_str(b, lp_junk[rnd_below(t, CM_ARRAY_SIZE(lp_junk))]);
	sb_put(b, "\n", 1);
}

/* ------------------------------------------------------------------------ */
/* StatsD                                                                    */
/* ------------------------------------------------------------------------ */

/* A composed line's effect on its metric, applied when the line is kept. */
struct sd_update {
	uint32_t metric;
	uint32_t n;
	double v[SD_PACK_MAX];
	uint64_t delta_mask;
	uint32_t member[SD_PACK_MAX];
	double rate;
};

static const char *const sd_type_text[DP_STATSD_TYPE__COUNT] = {"c", "g", "ms", "h", "d", "s"};

/* Write one value of m into b and record it in u. */
static void sd_value(struct tl_traffic *t, const struct smetric *m, uint32_t i, struct sbuf *b,
		     struct sd_update *u)
{
	char text[48];
	int n = 0;
	switch (m->type) {
	case DP_STATSD_COUNTER:
		if (rnd_below(t, 5) < 3)
			n = snprintf(text, sizeof(text), "%" PRIu32, 1 + rnd_below(t, 20));
		else   /* quarters: exact in binary, so sums are exact */
			n = snprintf(text, sizeof(text), "%.2f", rnd_below(t, 80) / 4.0);
		break;
	case DP_STATSD_GAUGE:
		if ((m->sent == 0 && i == 0) || rnd_below(t, 10) < 3)
			n = snprintf(text, sizeof(text), "%.2f", rnd_below(t, 100000) / 100.0);
		else {
			n = snprintf(text, sizeof(text), "%c%.2f", rnd_below(t, 2) ? '+' : '-',
				     rnd_below(t, 1000) / 100.0);
			u->delta_mask |= UINT64_C(1) << i;
		}
		break;
	case DP_STATSD_SET:
		u->member[i] = rnd_below(t, SD_SET_MEMBERS);
		n = snprintf(text, sizeof(text), "u%" PRIu32, u->member[i]);
		break;
	default:   /* timers, histograms, distributions */
		n = snprintf(text, sizeof(text), "%.1f", (1 + rnd_below(t, 9999)) / 10.0);
		break;
	}
	assert(n > 0 && (size_t)n < sizeof(text));
	u->v[i] = m->type == DP_STATSD_SET ? 0 : num_of(text, (size_t)n);
	sb_put(b, text, (size_t)n);
}

/* Compose one line of metric mi into b (a scratch buffer). */
static void sd_line(struct tl_traffic *t, uint32_t mi, struct sbuf *b, struct sd_update *u)
{
	const struct smetric *m = &t->sm[mi];
	*u = (struct sd_update){.metric = mi, .n = 1, .rate = 1};
	uint32_t left = t->cfg.values_per_series - m->sent;
	if (!t->cfg.statsd_single && left > 1 && rnd_below(t, 4) == 0)
		u->n = 2 + rnd_below(t, CM_MIN(left - 1, (uint32_t)SD_PACK_MAX - 1));
	sb_str(b, m->name);
	for (uint32_t i = 0; i < u->n; i++) {
		sb_put(b, ":", 1);
		sd_value(t, m, i, b, u);
	}
	sb_put(b, "|", 1);
	sb_str(b, sd_type_text[m->type]);
	if (m->type != DP_STATSD_GAUGE && m->type != DP_STATSD_SET) {
		uint32_t r = rnd_below(t, 5);
		if (r == 3) {
			u->rate = 0.5;
			sb_str(b, "|@0.5");
		} else if (r == 4) {
			u->rate = 0.25;
			sb_str(b, "|@0.25");
		}
	}
	if (m->ntags) {
		uint8_t order[SD_TAGS_MAX];
		shuffle(t, order, CM_MIN(m->ntags, SD_TAGS_MAX));   /* CM_MIN: gcc -O2 cannot tell */
		sb_str(b, "|#");
		for (uint32_t k = 0; k < m->ntags; k++) {
			const struct kv *tag = &m->tags[order[k]];
			if (k)
				sb_put(b, ",", 1);
			sb_str(b, tag->k);
			if (tag->v[0]) {
				sb_put(b, ":", 1);
				sb_str(b, tag->v);
			}
		}
	}
}

static void sd_commit(struct tl_traffic *t, const struct sd_update *u)
{
	struct smetric *m = &t->sm[u->metric];
	for (uint32_t i = 0; i < u->n; i++) {
		double v = u->v[i];
		switch (m->type) {
		case DP_STATSD_COUNTER:
			m->sum += v / u->rate;
			break;
		case DP_STATSD_GAUGE:
			m->gauge = (u->delta_mask >> i) & 1 ? m->gauge + v : v;
			break;
		case DP_STATSD_SET:
			m->members |= UINT64_C(1) << u->member[i];
			break;
		default:
			m->count += 1 / u->rate;
			m->sum += v / u->rate;
			if (m->sent + i == 0 || v < m->min)
				m->min = v;
			if (m->sent + i == 0 || v > m->max)
				m->max = v;
			break;
		}
	}
	assert(m->sent + u->n <= t->cfg.values_per_series);
	m->sent += u->n;
	t->left[DP_PROTO_STATSD] -= u->n;
	if (m->sent == t->cfg.values_per_series)
		list_remove(t->sactive, &t->nsactive, u->metric);
}

/* ------------------------------------------------------------------------ */
/* Line protocol                                                             */
/* ------------------------------------------------------------------------ */

struct lp_update {
	uint32_t group;
	int64_t ts_ns;
	double v[LP_FIELDS_MAX];
};

static const char *const lp_true[] = {"t", "T", "true", "True", "TRUE"};
static const char *const lp_false[] = {"f", "F", "false", "False", "FALSE"};

static void lp_value(struct tl_traffic *t, uint8_t type, struct sbuf *b, double *v)
{
	char text[48];
	int n;
	switch (type) {
	case LP_FLOAT: {
		int64_t k = (int64_t)rnd_below(t, 2000001) - 1000000;
		n = snprintf(text, sizeof(text), rnd_below(t, 8) ? "%.3f" : "%.6e", (double)k / 1000.0);
		*v = num_of(text, (size_t)n);
		break;
	}
	case LP_INT: {
		int64_t k = (int64_t)rnd_below(t, 2000001) - 1000000;
		n = snprintf(text, sizeof(text), "%" PRId64 "i", k);
		*v = (double)k;
		break;
	}
	case LP_UINT: {
		uint64_t k = rnd(t) >> 32;   /* < 2^32: sums stay exact in a double */
		n = snprintf(text, sizeof(text), "%" PRIu64 "u", k);
		*v = (double)k;
		break;
	}
	default: {
		bool on = rnd_below(t, 2);
		const char *s = (on ? lp_true : lp_false)[rnd_below(t, CM_ARRAY_SIZE(lp_true))];
		n = snprintf(text, sizeof(text), "%s", s);
		*v = on;
		break;
	}
	}
	assert(n > 0 && (size_t)n < sizeof(text));
	sb_put(b, text, (size_t)n);
}

static void lp_line(struct tl_traffic *t, uint32_t gi, struct sbuf *b, struct lp_update *u)
{
	const struct lgroup *g = &t->lg[gi];
	u->group = gi;
	u->ts_ns = t->cfg.start_ns + (int64_t)g->sent * t->cfg.step_ns + (int64_t)gi * 1000 + 1;
	sb_escaped(b, g->meas, ", ");
	uint8_t order[LP_TAGS_MAX];
	shuffle(t, order, CM_MIN(g->ntags, LP_TAGS_MAX));   /* CM_MIN: gcc -O2 cannot tell */
	for (uint32_t k = 0; k < g->ntags; k++) {
		sb_put(b, ",", 1);
		sb_escaped(b, g->tags[order[k]].k, ",= ");
		sb_put(b, "=", 1);
		sb_escaped(b, g->tags[order[k]].v, ",= ");
	}
	sb_put(b, " ", 1);
	for (uint32_t f = 0; f < g->nfields; f++) {
		if (f)
			sb_put(b, ",", 1);
		sb_escaped(b, g->fkey[f], ",= ");
		sb_put(b, "=", 1);
		lp_value(t, g->ftype[f], b, &u->v[f]);
	}
	sb_printf(b, " %" PRId64, u->ts_ns);
}

static void lp_commit(struct tl_traffic *t, const struct lp_update *u)
{
	struct lgroup *g = &t->lg[u->group];
	for (uint32_t f = 0; f < g->nfields; f++)
		tl_series_acc_add(&g->acc[f], u->ts_ns, u->v[f]);
	g->sent++;
	t->left[DP_PROTO_LINE]--;
	if (g->sent == t->cfg.values_per_series)
		list_remove(t->lactive, &t->nlactive, u->group);
}

/* ------------------------------------------------------------------------ */
/* Text datagrams (StatsD and line protocol)                                 */
/* ------------------------------------------------------------------------ */

/*
 * A datagram of up to a random number of lines of random series of format
 * p, with njunk (0 or 1) junk lines at a random position.
 */
static void text_datagram(struct tl_traffic *t, enum dp_proto p, uint32_t njunk, uint8_t *buf,
			  struct tl_datagram *dg)
{
	size_t max = t->cfg.max_datagram_bytes;
	struct sbuf out = {(char *)buf, 0, max, true};
	uint32_t target = 1 + rnd_below(t, p == DP_PROTO_STATSD ? 32 : 16);
	uint32_t junk_at = njunk ? rnd_below(t, target + 1) : UINT32_MAX;
	char scratch[LINE_SCRATCH];
	dg->proto = (uint8_t)p;
	for (uint32_t i = 0; i < target; i++) {
		if (i == junk_at) {
			put_junk_line(t, &out, p);
			dg->nbad++;
		}
		uint32_t *active = p == DP_PROTO_STATSD ? t->sactive : t->lactive;
		uint32_t nactive = p == DP_PROTO_STATSD ? t->nsactive : t->nlactive;
		if (nactive == 0)
			break;
		struct sbuf line = {scratch, 0, sizeof(scratch), true};
		struct sd_update su = {0};
		struct lp_update lu = {0};
		uint32_t pick = active[rnd_below(t, nactive)];
		if (p == DP_PROTO_STATSD)
			sd_line(t, pick, &line, &su);
		else
			lp_line(t, pick, &line, &lu);
		sb_str(&line, rnd_below(t, 16) == 0 ? "\r\n" : "\n");
		assert(line.ok);
		size_t reserve = dg->nbad < njunk ? JUNK_RESERVE : 0;
		if (out.len + line.len + reserve > max)
			break;   /* full; the composed line is dropped uncommitted */
		sb_put(&out, line.p, line.len);
		if (p == DP_PROTO_STATSD)
			sd_commit(t, &su);
		else
			lp_commit(t, &lu);
		dg->nok++;
	}
	if (dg->nbad < njunk) {   /* its place was at the end, or the datagram filled up */
		put_junk_line(t, &out, p);
		dg->nbad++;
	}
	assert(out.ok && out.len > 0 && dg->nbad == njunk);
	/* a datagram's last line needs no terminator: leave it out now and then */
	if (!(p == DP_PROTO_LINE && t->cfg.line_stream) && rnd_below(t, 4) == 0) {
		out.len--;
		if (out.len && buf[out.len - 1] == '\r')
			out.len--;
	}
	dg->len = (uint32_t)out.len;
	if (njunk)
		dg->junk = p == DP_PROTO_STATSD ? TL_JUNK_STATSD_BAD_LINE : TL_JUNK_LINE_BAD_LINE;
}

/* ------------------------------------------------------------------------ */
/* Binary frames                                                             */
/* ------------------------------------------------------------------------ */

static void bin_tags(const struct bseries *b, struct st_tag *tags)
{
	for (uint32_t k = 0; k < b->ntags; k++)
		tags[k] = (struct st_tag){S(b->tags[k].k), S(b->tags[k].v)};
}

static int bin_def(struct dp_frame_writer *w, struct bseries *b, uint64_t seq)
{
	struct st_tag tags[BIN_TAGS_MAX];
	bin_tags(b, tags);
	int rc = dp_frame_writer_def(w, b->ref, b->type, S(b->name), tags, b->ntags);
	assert(rc == 0 || rc == -ENOSPC);
	if (rc == 0)
		b->declared_seq = seq;
	return rc;
}

static size_t bin_def_bytes(const struct bseries *b)
{
	size_t n = DP_WIRE_DEF_FIXED_BYTES + strlen(b->name);
	for (uint32_t k = 0; k < b->ntags; k++)
		n += 2 + strlen(b->tags[k].k) + strlen(b->tags[k].v);
	return n;
}

/* Append one malformed record the decoder skips (its length is sane). */
static void bin_bad_record(struct tl_traffic *t, struct dp_frame_writer *w,
			   const struct bsource *src)
{
	uint32_t kind = rnd_below(t, 5);
	if (kind == 4) {   /* a DEF with a blank in its name */
		int rc = dp_frame_writer_def(w, JUNK_REF, DP_WIRE_F64, S("junk_def"), NULL, 0);
		assert(rc == 0);
		(void)rc;
		w->buf[w->len - 4] = ' ';   /* "junk def": bad_name */
		return;
	}
	/* a POINT of a real series of the source (or a junk ref), then spoiled */
	uint32_t ref = src->nrefs ? t->bs[src->refs[rnd_below(t, src->nrefs)]].ref : JUNK_REF;
	int rc = dp_frame_writer_point(w, ref, DP_WIRE_F64, t->cfg.start_ns, (union st_value){.f64 = 1});
	assert(rc == 0);
	(void)rc;
	uint8_t *p = w->buf + w->len - DP_WIRE_POINT_BYTES;
	if (kind == 0) {
		p[1] = 9;                                    /* bad_type */
	} else if (kind == 1) {
		p[2] = 1;                                    /* bad_reserved */
	} else if (kind == 2) {
		uint64_t nan = UINT64_C(0x7ff8000000000000);
		memcpy(p + offsetof(struct dp_wire_point, value), &nan, 8);   /* bad_value */
	} else {
		int64_t neg = -5;
		memcpy(p + offsetof(struct dp_wire_point, ts_ns), &neg, 8);   /* bad_timestamp */
	}
}

/* A random series of src with values left, or NULL. */
static struct bseries *bin_next_series(struct bsource *src, struct tl_traffic *t)
{
	if (!src->nactive)
		return NULL;
	return &t->bs[src->active[rnd_below(t, src->nactive)]];
}

static void bin_used(struct tl_traffic *t, struct bsource *src, struct bseries *b)
{
	b->sent++;
	t->left[DP_PROTO_BINARY]--;
	if (b->sent == t->cfg.values_per_series)
		list_remove(src->active, &src->nactive, (uint32_t)(b - t->bs));
}

static union st_value bin_value(struct tl_traffic *t, struct bseries *b, double *as_double)
{
	if (b->type == DP_WIRE_I64) {
		int64_t k = (int64_t)rnd_below(t, 2000001) - 1000000;
		*as_double = (double)k;
		return (union st_value){.i64 = k};
	}
	b->walk += ((double)rnd_below(t, 201) - 100) / 100.0;
	*as_double = b->walk;
	return (union st_value){.f64 = b->walk};
}

/*
 * Build the next frame of src into buf: the DEF round when due, DEFs before
 * first use (and before any use of a ref last declared in frame hidden_seq,
 * which the receiver will not have seen yet), points up to a size limit,
 * nbad bad records at a random place. Returns the length.
 */
static size_t bin_frame(struct tl_traffic *t, struct bsource *src, uint8_t *buf, uint64_t hidden_seq,
			uint32_t nbad, struct tl_datagram *dg)
{
	size_t max = t->cfg.max_datagram_bytes;
	size_t limit = rnd_below(t, 3) ? max : 128 + rnd_below(t, max - 127);
	uint64_t seq = src->seq++;
	struct dp_frame_writer w;
	int rc = dp_frame_writer_init(&w, buf, max, src->id, seq);
	assert(rc == 0);
	(void)rc;
	*dg = (struct tl_datagram){.proto = DP_PROTO_BINARY, .source_id = src->id, .seq = seq};

	/*
	 * DEF round: the refs declared so far, every redef_every frames once the
	 * last round is done; a round takes at most half of each frame (as
	 * tl_sender's), so points keep room however many refs there are.
	 */
	if (src->redef_pos >= src->nrefs && src->frames - src->round_frame >= t->cfg.redef_every) {
		src->redef_pos = 0;
		src->round_frame = src->frames;
	}
	src->frames++;
	t->bin_frames++;
	for (; src->redef_pos < src->nrefs && w.len < limit / 2; src->redef_pos++) {
		struct bseries *b = &t->bs[src->refs[src->redef_pos]];
		if (b->declared_seq == NEVER)
			continue;
		if (w.len + bin_def_bytes(b) + JUNK_RESERVE > limit || bin_def(&w, b, seq))
			break;
		dg->nok++;
	}

	uint32_t bad_at = nbad ? rnd_below(t, 6) : UINT32_MAX;
	for (uint32_t npoints = 0;; npoints++) {
		if (npoints == bad_at && dg->nbad < nbad) {
			bin_bad_record(t, &w, src);
			dg->nbad++;
		}
		size_t reserve = dg->nbad < nbad ? JUNK_RESERVE : 0;
		struct bseries *b = bin_next_series(src, t);
		if (!b)
			break;
		bool need_def = b->declared_seq == NEVER || b->declared_seq == hidden_seq;
		size_t bytes = DP_WIRE_POINT_BYTES + (need_def ? bin_def_bytes(b) : 0);
		if (w.len + bytes + reserve > limit)
			break;
		if (need_def) {
			rc = bin_def(&w, b, seq);
			assert(rc == 0);
			dg->nok++;
		}
		int64_t ts = t->cfg.start_ns + (int64_t)b->sent * t->cfg.step_ns +
			     (int64_t)b->serial * 1000 + 3;
		double d;
		union st_value v = bin_value(t, b, &d);
		rc = dp_frame_writer_point(&w, b->ref, b->type, ts, v);
		assert(rc == 0);
		tl_series_acc_add(&b->acc, ts, d);
		bin_used(t, src, b);
		t->bin_points++;
		dg->nok++;
	}
	while (dg->nbad < nbad) {
		bin_bad_record(t, &w, src);
		dg->nbad++;
	}
	if (nbad)
		dg->junk = TL_JUNK_BINARY_BAD_RECORD;
	dg->len = (uint32_t)dp_frame_writer_finish(&w);
	return dg->len;
}

/*
 * Decide the sequence event of src's next frame: never on a source's first
 * frame, no duplicate of a frame with bad records (a receiver that drops a
 * duplicate unread would not count them again). Events are spread over the
 * binary frames left, estimated from the points per frame so far.
 */
static int bin_event(struct tl_traffic *t, const struct bsource *src, uint32_t nbad)
{
	uint64_t left[3];
	memcpy(left, t->events_left, sizeof(left));
	if (nbad)
		left[EV_DUP] = 0;
	uint64_t e = left[EV_GAP] + left[EV_DUP] + left[EV_REORDER];
	if (!e || src->frames == 0)
		return EV_NONE;
	uint64_t per_frame = t->bin_frames ? t->bin_points / t->bin_frames : 0;
	if (!per_frame)
		per_frame = (t->cfg.max_datagram_bytes - 32) / DP_WIRE_POINT_BYTES;
	/* aim to be done a third of the way through what is left: the tail is uncertain */
	uint64_t frames_left = t->left[DP_PROTO_BINARY] / per_frame / 3 + 1;
	if (e < frames_left && rnd(t) % (e + frames_left) >= e)
		return EV_NONE;
	uint64_t r = rnd(t) % e;
	for (int k = EV_GAP; k < EV_NONE; k++) {
		if (r < left[k])
			return k;
		r -= left[k];
	}
	return EV_NONE;
}

static void outbox_push(struct tl_traffic *t, const uint8_t *buf, const struct tl_datagram *dg)
{
	assert(t->nout < OUTBOX_MAX);
	struct outbox_item *it = &t->out[t->nout++];
	memcpy(it->buf, buf, dg->len);
	it->dg = *dg;
}

/* A binary datagram: a frame of a random source, with nbad bad records and maybe an event. */
static void bin_datagram(struct tl_traffic *t, uint32_t nbad, uint8_t *buf, struct tl_datagram *dg)
{
	/* a source with values left, else any (a frame of only bad records) */
	uint32_t s = rnd_below(t, t->nsrc);
	for (uint32_t k = 0; k < t->nsrc && !t->src[s].nactive; k++)
		s = (s + 1) % t->nsrc;
	struct bsource *src = &t->src[s];
	int ev = bin_event(t, src, nbad);
	if (ev == EV_REORDER && src->nactive == 0)
		ev = EV_NONE;   /* no second frame to swap with */
	if (ev != EV_NONE)
		t->events_left[ev]--;

	if (ev == EV_GAP) {
		src->seq++;
		src->gaps++;
	}
	if (ev != EV_REORDER) {
		bin_frame(t, src, buf, NEVER, nbad, dg);
		if (ev == EV_GAP)
			dg->flags |= TL_DG_AFTER_GAP;
		if (ev == EV_DUP) {
			src->dups++;
			struct tl_datagram copy = *dg;
			copy.flags |= TL_DG_DUPLICATE;
			outbox_push(t, buf, &copy);
		}
		return;
	}
	/* reorder: build A, then B; return B now, A next */
	struct tl_datagram a;
	bin_frame(t, src, t->frame_a, NEVER, nbad, &a);
	bin_frame(t, src, buf, a.seq, 0, dg);
	dg->flags |= TL_DG_AHEAD;
	a.flags |= TL_DG_LATE;
	outbox_push(t, t->frame_a, &a);
	src->reorders++;
}

/* A whole frame the decoder must reject: bad magic or bad CRC. */
static void bin_bad_frame(struct tl_traffic *t, uint8_t *buf, struct tl_datagram *dg)
{
	const struct bsource *src = &t->src[rnd_below(t, t->nsrc)];
	struct dp_frame_writer w;
	int rc = dp_frame_writer_init(&w, buf, t->cfg.max_datagram_bytes, src->id,
				      src->seq + SEQ_FAR);
	assert(rc == 0);
	rc = dp_frame_writer_def(&w, JUNK_REF + 1, DP_WIRE_F64, S("junk.badframe"), NULL, 0);
	for (int i = 0; i < 3 && !rc; i++)
		rc = dp_frame_writer_point(&w, JUNK_REF + 1, DP_WIRE_F64, t->cfg.start_ns + i,
					   (union st_value){.f64 = i});
	assert(rc == 0);
	(void)rc;
	size_t len = dp_frame_writer_finish(&w);
	if (rnd_below(t, 2))
		buf[0] ^= 0xff;                                          /* bad_magic */
	else
		buf[sizeof(struct dp_wire_header) + rnd_below(t, len - 32)] ^= 0x10;   /* bad_crc */
	*dg = (struct tl_datagram){.len = (uint32_t)len, .proto = DP_PROTO_BINARY,
				   .junk = TL_JUNK_BINARY_BAD_FRAME, .nbad = 1,
				   .source_id = src->id, .seq = src->seq + SEQ_FAR};
}

/* ------------------------------------------------------------------------ */
/* Frame-level junk (pcap only)                                              */
/* ------------------------------------------------------------------------ */

/* A payload that would be valid on proto's listener, naming a junk series. */
static void pcap_junk(struct tl_traffic *t, enum tl_junk kind, uint8_t *buf, struct tl_datagram *dg)
{
	enum dp_proto on[DP_PROTO__COUNT];
	uint32_t n = 0;
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		if (t->on[p])
			on[n++] = (enum dp_proto)p;
	enum dp_proto p = n ? on[rnd_below(t, n)] : DP_PROTO_STATSD;
	*dg = (struct tl_datagram){.proto = (uint8_t)p, .junk = (uint8_t)kind, .nbad = 1,
				   .flags = TL_DG_PCAP_ONLY};
	const char *what = tl_junk_name(kind);
	size_t max = t->cfg.max_datagram_bytes;
	if (kind == TL_JUNK_NOT_IP)
		return;   /* ARP: no payload */
	if (p == DP_PROTO_BINARY) {
		char name[48];
		snprintf(name, sizeof(name), "junk.%s", what);
		struct dp_frame_writer w;
		int rc = dp_frame_writer_init(&w, buf, max, JUNK_SOURCE_ID, 0);
		rc = rc ? rc : dp_frame_writer_def(&w, JUNK_REF + 2, DP_WIRE_F64, S(name), NULL, 0);
		rc = rc ? rc : dp_frame_writer_point(&w, JUNK_REF + 2, DP_WIRE_F64, t->cfg.start_ns,
						     (union st_value){.f64 = 1});
		assert(rc == 0);
		(void)rc;
		dg->len = (uint32_t)dp_frame_writer_finish(&w);
		return;
	}
	struct sbuf b = {(char *)buf, 0, max, true};
	for (int i = 1; i <= 2; i++) {   /* two lines: a fragment needs 16 bytes or more */
		if (p == DP_PROTO_STATSD)
			sb_printf(&b, "junk.%s:%d|c\n", what, i);
		else
			sb_printf(&b, "junk_%s v=%di %" PRId64 "\n", what, i, t->cfg.start_ns + i);
	}
	assert(b.ok);
	dg->len = (uint32_t)b.len;
}

/* ------------------------------------------------------------------------ */
/* The stream                                                                */
/* ------------------------------------------------------------------------ */

static enum dp_proto pick_format(struct tl_traffic *t)
{
	uint64_t total = 0;
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		if (t->left[p])
			total += t->cfg.weight[p];
	assert(total > 0);
	uint64_t r = rnd(t) % total;
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		if (!t->left[p])
			continue;
		if (r < t->cfg.weight[p])
			return (enum dp_proto)p;
		r -= t->cfg.weight[p];
	}
	assert(0);
	return DP_PROTO_STATSD;
}

static void build_junk(struct tl_traffic *t, uint8_t *buf, struct tl_datagram *dg)
{
	enum tl_junk kind = t->junk_kinds[rnd_below(t, t->njunk_kinds)];
	t->junk_left--;
	*dg = (struct tl_datagram){0};
	switch (kind) {
	case TL_JUNK_STATSD_BAD_LINE:
	case TL_JUNK_LINE_BAD_LINE: {
		enum dp_proto p = kind == TL_JUNK_STATSD_BAD_LINE ? DP_PROTO_STATSD : DP_PROTO_LINE;
		/* inside a valid datagram, or alone */
		if (t->left[p] && rnd_below(t, 2)) {
			text_datagram(t, p, 1, buf, dg);
			return;
		}
		struct sbuf b = {(char *)buf, 0, t->cfg.max_datagram_bytes, true};
		put_junk_line(t, &b, p);
		*dg = (struct tl_datagram){.len = (uint32_t)b.len, .proto = (uint8_t)p,
					   .junk = (uint8_t)kind, .nbad = 1};
		return;
	}
	case TL_JUNK_BINARY_BAD_RECORD:
		bin_datagram(t, 1, buf, dg);
		return;
	case TL_JUNK_BINARY_BAD_FRAME:
		bin_bad_frame(t, buf, dg);
		return;
	default:
		pcap_junk(t, kind, buf, dg);
		return;
	}
}

/* Count a datagram as returned. */
static void account(struct tl_traffic *t, const struct tl_datagram *dg)
{
	if (dg->flags & TL_DG_PCAP_ONLY) {
		t->junk[dg->junk] += dg->nbad;
		return;
	}
	t->sent[dg->proto].datagrams++;
	t->sent[dg->proto].records += dg->nok;
	if (dg->junk != TL_JUNK_NONE)
		t->junk[dg->junk] += dg->nbad;
}

int tl_traffic_next(struct tl_traffic *t, uint8_t *buf, size_t cap, struct tl_datagram *out)
{
	if (cap < t->cfg.max_datagram_bytes)
		return -ENOSPC;
	if (t->nout) {
		struct outbox_item *it = &t->out[0];
		memcpy(buf, it->buf, it->dg.len);
		*out = it->dg;
		/* rotate: the outbox is tiny */
		struct outbox_item first = t->out[0];
		memmove(&t->out[0], &t->out[1], (OUTBOX_MAX - 1) * sizeof(t->out[0]));
		t->out[OUTBOX_MAX - 1] = first;
		t->nout--;
		account(t, out);
		return 1;
	}
	uint64_t data_left = t->left[0] + t->left[1] + t->left[2];
	if (!data_left && !t->junk_left)
		return 0;
	*out = (struct tl_datagram){0};
	bool junk = false;
	if (t->junk_left) {
		uint64_t est_datagrams = data_left / 16 + 1;
		junk = !data_left || rnd(t) % (t->junk_left + est_datagrams) < t->junk_left;
	}
	if (junk) {
		build_junk(t, buf, out);
	} else {
		enum dp_proto p = pick_format(t);
		if (p == DP_PROTO_BINARY)
			bin_datagram(t, 0, buf, out);
		else
			text_datagram(t, p, 0, buf, out);
	}
	assert(out->len <= t->cfg.max_datagram_bytes);
	account(t, out);
	return 1;
}

uint32_t tl_traffic_pending(const struct tl_traffic *t)
{
	return t->nout;
}

/* ------------------------------------------------------------------------ */
/* Manifest                                                                  */
/* ------------------------------------------------------------------------ */

/* The human form of (name, tags, field), as st_key_format prints it. */
static int key_text(const char *name, const struct kv *kv, uint32_t ntags, const char *field,
		    char *out, size_t cap)
{
	struct st_tag tags[ST_TAGS_MAX];
	for (uint32_t k = 0; k < ntags; k++)
		tags[k] = (struct st_tag){S(kv[k].k), S(kv[k].v[0] ? kv[k].v : DP_STATSD_TAG_NOVALUE)};
	uint8_t key[ST_KEY_MAX];
	int n = st_key_build(key, sizeof(key), S(name), S(field), tags, ntags);
	if (n < 0)
		return n;
	n = st_key_format(key, (size_t)n, true, out, cap);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

#define REL_TOL_FLOAT 1e-9

static int expect_field(struct tl_manifest *m, const struct smetric *sm, const char *field,
			enum tl_agg agg, double v)
{
	char key[ST_KEY_MAX * 2];
	int rc = key_text(sm->name, sm->tags, sm->ntags, field, key, sizeof(key));
	return rc ? rc : tl_manifest_expect(m, key, agg, v, REL_TOL_FLOAT);
}

static int manifest_statsd(const struct tl_traffic *t, struct tl_manifest *m)
{
	int rc = 0;
	for (uint32_t i = 0; i < t->nsm && !rc; i++) {
		const struct smetric *sm = &t->sm[i];
		if (!sm->sent)
			continue;
		switch (sm->type) {
		case DP_STATSD_COUNTER:
			rc = expect_field(m, sm, "value", TL_AGG_SUM, sm->sum);
			m->series += 2;   /* value, rate */
			break;
		case DP_STATSD_GAUGE:
			rc = expect_field(m, sm, "value", TL_AGG_LAST, sm->gauge);
			m->series += 1;
			break;
		case DP_STATSD_SET:
			rc = expect_field(m, sm, "value", TL_AGG_LAST,
					  (double)__builtin_popcountll(sm->members));
			m->series += 1;
			break;
		default:
			rc = expect_field(m, sm, "count", TL_AGG_SUM, sm->count);
			rc = rc ? rc : expect_field(m, sm, "sum", TL_AGG_SUM, sm->sum);
			rc = rc ? rc : expect_field(m, sm, "min", TL_AGG_MIN, sm->min);
			rc = rc ? rc : expect_field(m, sm, "max", TL_AGG_MAX, sm->max);
			rc = rc ? rc : expect_field(m, sm, "mean", TL_AGG_LAST, sm->sum / sm->count);
			m->series += 5 + t->cfg.statsd_percentiles;
			break;
		}
	}
	return rc;
}

static int manifest_points(struct tl_manifest *m, const char *name, const struct kv *tags,
			   uint32_t ntags, const char *field, const struct tl_series_acc *acc,
			   bool is_float)
{
	if (!acc->count)
		return 0;
	char key[ST_KEY_MAX * 2];
	int rc = key_text(name, tags, ntags, field, key, sizeof(key));
	if (rc)
		return rc;
	m->series++;
	return tl_manifest_expect_points(m, key, acc, is_float ? REL_TOL_FLOAT : 0);
}

static int manifest_binary(const struct tl_traffic *t, struct tl_manifest *m)
{
	int rc = 0;
	for (uint32_t i = 0; i < t->nbs && !rc; i++) {
		const struct bseries *b = &t->bs[i];
		rc = manifest_points(m, b->name, b->tags, b->ntags, "value", &b->acc,
				     b->type == DP_WIRE_F64);
	}
	for (uint32_t s = 0; s < t->nsrc && !rc; s++) {
		const struct bsource *src = &t->src[s];
		if (!src->frames)
			continue;
		struct tl_binary_src rec = {src->id, src->frames, src->gaps, src->dups, src->reorders};
		rc = tl_manifest_binary(m, &rec);
		struct kv tag = {"source", ""};
		snprintf(tag.v, sizeof(tag.v), "%" PRIu32, src->id);
		double gap = (double)(src->gaps + src->reorders), late = (double)src->reorders;
		char key[256];
		if (!rc && gap > 0 && !(rc = key_text("sf_binary_seq", &tag, 1, "gap", key, sizeof(key)))) {
			rc = tl_manifest_expect(m, key, TL_AGG_SUM, gap, REL_TOL_FLOAT);
			m->series++;
		}
		if (!rc && late > 0 && !(rc = key_text("sf_binary_seq", &tag, 1, "late", key, sizeof(key)))) {
			rc = tl_manifest_expect(m, key, TL_AGG_SUM, late, REL_TOL_FLOAT);
			m->series++;
		}
	}
	return rc;
}

int tl_traffic_manifest(const struct tl_traffic *t, struct tl_manifest **out)
{
	struct tl_manifest *m;
	int rc = tl_manifest_create(&m);
	if (rc)
		return rc;
	memcpy(m->sent, t->sent, sizeof(m->sent));
	memcpy(m->junk, t->junk, sizeof(m->junk));
	rc = manifest_statsd(t, m);
	for (uint32_t i = 0; i < t->nlg && !rc; i++) {
		const struct lgroup *g = &t->lg[i];
		for (uint32_t f = 0; f < g->nfields && !rc; f++)
			rc = manifest_points(m, g->meas, g->tags, g->ntags, g->fkey[f], &g->acc[f],
					     g->ftype[f] == LP_FLOAT);
	}
	if (!rc)
		rc = manifest_binary(t, m);
	if (rc) {
		tl_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
