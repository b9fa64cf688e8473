/*
 * test_tl_traffic.c - unit tests for the traffic tools: tools/tl_traffic.c
 * (the generator), tl_manifest.c (its manifest), tl_pcap.c (the capture
 * writer) and tl_sender.c (the binary-frame sender).
 *
 * The central test plays the receiver: it feeds every generated datagram,
 * in order, to the real decoders (dp_statsd_decode, dp_line_decode,
 * dp_frame_open/next with a dp_frame_seq per source), applies the storage
 * rules the manifest promises (StatsD aggregated over one interval, binary
 * duplicates dropped, sequence gaps and late frames as sf_binary_seq points,
 * last write wins per timestamp) and checks every expectation, the series
 * count and the sent/junk/binary records against what it saw. The others:
 * determinism, the line stream cut at random points, pcap bytes and
 * checksums, manifest round trip and rejects, sender frames (contiguous
 * sequence numbers, DEF before first use, DEF rounds, rounds of more refs
 * than a frame holds, in the sender and the generator) and a real UDP send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "cm_rand.h"
#include "dp_frame.h"
#include "dp_line.h"
#include "dp_statsd.h"
#include "tl_manifest.h"
#include "tl_pcap.h"
#include "tl_sender.h"
#include "tl_traffic.h"

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})

static uint8_t dgbuf[TL_TRAFFIC_DATAGRAM_MAX];

static struct tl_traffic_cfg mix_cfg(uint64_t seed)
{
	return (struct tl_traffic_cfg){
		.seed = seed,
		.weight = {2, 3, 1},
		.series = {14, 9, 30},
		.values_per_series = 60,
		.junk = 60,
		.pcap_junk = true,
		.sources = 3,
		.redef_every = 4,
		.gaps = 4,
		.dups = 3,
		.reorders = 3,
	};
}

/* A fresh file name under $TMPDIR (or /tmp); the file exists, empty. */
static void tmp_path(char *out, size_t cap, const char *what)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(out, cap, "%s/test_tl_traffic.%s.XXXXXX", dir, what);
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
}

/* ------------------------------------------------------------------------ */
/* A reference receiver                                                      */
/* ------------------------------------------------------------------------ */

struct mpoint {
	int64_t ts;
	double v;
	uint64_t order;         /* arrival: the last write wins per timestamp */
};

struct mseries {
	char key[512];           /* st_key_format with the field */
	bool no_expect;          /* a field the manifest counts but does not check */
	struct mpoint *p;
	size_t n, cap;
};

struct mstatsd {               /* one StatsD metric in the interval */
	uint8_t key[ST_KEY_MAX];   /* dp_statsd_key with an empty field */
	int klen;
	uint8_t type;
	char fkey[6][512];         /* formatted keys of its fields */
	uint32_t nvalues;
	double sum, count, min, max, gauge;
	char members[64][16];
	uint32_t nmembers;
};

struct mdef {
	uint32_t source, ref;
	uint8_t type;
	char key[512];
};

struct msource {
	uint32_t id;
	struct dp_frame_seq seq;
	uint64_t seq_lo, seq_hi;   /* distinct seqs seen: max - min + 1 - missing */
	uint64_t nframes;          /* frames with a valid header */
};

struct model {
	struct mseries *s;
	size_t ns, scap;
	struct mstatsd *m;
	size_t nm, mcap;
	struct mdef *d;
	size_t nd, dcap;
	struct msource src[8];
	size_t nsrc;
	uint64_t order;
	int64_t event_ts;
	struct tl_sent sent[DP_PROTO__COUNT];
	uint64_t junk[TL_JUNK__COUNT];
	struct dp_statsd sd;
	struct dp_line line;
	struct dp_field fields[DP_LINE_FIELDS_DEFAULT];
	struct dp_frame_rec rec;
};

static void *grow(void *p, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, *cap * sz);
	assert_non_null(p);
	return p;
}

static struct mseries *series_get(struct model *md, const char *key)
{
	for (size_t i = 0; i < md->ns; i++)
		if (strcmp(md->s[i].key, key) == 0)
			return &md->s[i];
	md->s = grow(md->s, md->ns, &md->scap, sizeof(*md->s));
	struct mseries *s = &md->s[md->ns++];
	memset(s, 0, sizeof(*s));
	assert_true(strlen(key) < sizeof(s->key));
	strcpy(s->key, key);
	return s;
}

static void point(struct model *md, const char *key, int64_t ts, double v)
{
	struct mseries *s = series_get(md, key);
	s->p = grow(s->p, s->n, &s->cap, sizeof(*s->p));
	s->p[s->n++] = (struct mpoint){ts, v, md->order++};
}

static void fmt_key(const uint8_t *key, int len, char *out, size_t cap)
{
	assert_true(len > 0);
	int n = st_key_format(key, (size_t)len, true, out, cap);
	assert_true(n > 0 && (size_t)n < cap);
}

static const char *const sd_fields[DP_STATSD_TYPE__COUNT][6] = {
	[DP_STATSD_COUNTER] = {"value", "rate"},
	[DP_STATSD_GAUGE] = {"value"},
	[DP_STATSD_TIMER] = {"count", "sum", "min", "max", "mean"},
	[DP_STATSD_HISTOGRAM] = {"count", "sum", "min", "max", "mean"},
	[DP_STATSD_DISTRIBUTION] = {"count", "sum", "min", "max", "mean"},
	[DP_STATSD_SET] = {"value"},
};

static struct mstatsd *statsd_get(struct model *md, const struct dp_statsd *m)
{
	uint8_t key[ST_KEY_MAX];
	int klen = dp_statsd_key(m, S(""), key, sizeof(key));
	assert_true(klen > 0);
	for (size_t i = 0; i < md->nm; i++)
		if (md->m[i].klen == klen && memcmp(md->m[i].key, key, (size_t)klen) == 0) {
			assert_int_equal(md->m[i].type, m->type);
			return &md->m[i];
		}
	md->m = grow(md->m, md->nm, &md->mcap, sizeof(*md->m));
	struct mstatsd *a = &md->m[md->nm++];
	memset(a, 0, sizeof(*a));
	memcpy(a->key, key, (size_t)klen);
	a->klen = klen;
	a->type = m->type;
	for (int f = 0; f < 6 && sd_fields[m->type][f]; f++) {
		const char *name = sd_fields[m->type][f];
		uint8_t fk[ST_KEY_MAX];
		int n = dp_statsd_key(m, (struct st_str){name, (uint32_t)strlen(name)}, fk, sizeof(fk));
		fmt_key(fk, n, a->fkey[f], sizeof(a->fkey[f]));
	}
	return a;
}

static void statsd_apply(struct model *md, const struct dp_statsd *m)
{
	struct mstatsd *a = statsd_get(md, m);
	for (uint32_t i = 0; i < m->nvalues; i++, a->nvalues++) {
		double v = m->v[i];
		switch (m->type) {
		case DP_STATSD_COUNTER:
			a->sum += v / m->rate;
			break;
		case DP_STATSD_GAUGE:
			a->gauge = dp_statsd_is_delta(m, i) ? a->gauge + v : v;
			break;
		case DP_STATSD_SET: {
			char mem[16];
			assert_true(m->raw[i].len < sizeof(mem));
			memcpy(mem, m->raw[i].p, m->raw[i].len);
			mem[m->raw[i].len] = '\0';
			uint32_t j;
			for (j = 0; j < a->nmembers && strcmp(a->members[j], mem); j++)
				;
			if (j == a->nmembers) {
				assert_true(a->nmembers < 64);
				strcpy(a->members[a->nmembers++], mem);
			}
			break;
		}
		default:
			a->count += 1 / m->rate;
			a->sum += v / m->rate;
			a->min = a->nvalues == 0 || v < a->min ? v : a->min;
			a->max = a->nvalues == 0 || v > a->max ? v : a->max;
			break;
		}
	}
}

/* The interval ends: each metric's fields become one point each. */
static void statsd_flush(struct model *md)
{
	for (size_t i = 0; i < md->nm; i++) {
		const struct mstatsd *a = &md->m[i];
		switch (a->type) {
		case DP_STATSD_COUNTER:
			point(md, a->fkey[0], 1, a->sum);
			point(md, a->fkey[1], 1, a->sum / 10);   /* any interval */
			series_get(md, a->fkey[1])->no_expect = true;
			break;
		case DP_STATSD_GAUGE:
			point(md, a->fkey[0], 1, a->gauge);
			break;
		case DP_STATSD_SET:
			point(md, a->fkey[0], 1, a->nmembers);
			break;
		default: {
			double v[5] = {a->count, a->sum, a->min, a->max, a->sum / a->count};
			for (int f = 0; f < 5; f++)
				point(md, a->fkey[f], 1, v[f]);
			break;
		}
		}
	}
}

/* Decode a text datagram; returns OK lines, counts bad ones in *bad. */
static uint32_t decode_statsd(struct model *md, const uint8_t *buf, size_t len, uint32_t *bad)
{
	uint32_t ok = 0;
	size_t off = 0, used;
	while (off < len) {
		enum dp_statsd_status st = dp_statsd_decode(&md->sd, (const char *)buf + off, len - off,
							    DP_STATSD_COMPLETE, &used);
		assert_int_not_equal(st, DP_STATSD_TRUNCATED);
		off += used;
		if (st == DP_STATSD_OK) {
			statsd_apply(md, &md->sd);
			ok++;
		} else if (st != DP_STATSD_EMPTY) {
			(*bad)++;
		}
	}
	return ok;
}

static void line_apply(struct model *md)
{
	for (uint32_t i = 0; i < md->line.nfields; i++) {
		uint8_t key[ST_KEY_MAX];
		char text[512];
		fmt_key(key, dp_line_key(&md->line, i, key, sizeof(key)), text, sizeof(text));
		struct st_point p;
		dp_line_point(&md->line, i, &p);
		double v = 0;
		switch (p.type) {
		case ST_VT_F64: v = p.v.f64; break;
		case ST_VT_I64: v = (double)p.v.i64; break;
		case ST_VT_U64: v = (double)p.v.u64; break;
		case ST_VT_BOOL: v = p.v.b; break;
		default: fail_msg("string field in '%s'", text);
		}
		point(md, text, p.ts_ns, v);
	}
}

static uint32_t decode_line(struct model *md, const uint8_t *buf, size_t len, bool complete,
			    uint32_t *bad, size_t *consumed_total)
{
	struct dp_line_opts opts = {.now_ns = 42, .unit_ns = 1,
				    .flags = complete ? DP_LINE_COMPLETE : 0};
	uint32_t ok = 0;
	size_t off = 0, used;
	while (off < len) {
		enum dp_line_status st = dp_line_decode(&md->line, (const char *)buf + off, len - off,
							&opts, &used);
		if (st == DP_LINE_TRUNCATED) {
			assert_false(complete);
			break;
		}
		off += used;
		if (st == DP_LINE_OK) {
			assert_true(md->line.flags & DP_LINE_HAS_TS);
			line_apply(md);
			ok++;
		} else if (st != DP_LINE_EMPTY) {
			(*bad)++;
		}
	}
	if (consumed_total)
		*consumed_total = off;
	return ok;
}

static struct msource *source_get(struct model *md, uint32_t id)
{
	for (size_t i = 0; i < md->nsrc; i++)
		if (md->src[i].id == id)
			return &md->src[i];
	assert_true(md->nsrc < CM_ARRAY_SIZE(md->src));
	struct msource *s = &md->src[md->nsrc++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	dp_frame_seq_init(&s->seq);
	return s;
}

static struct mdef *def_get(struct model *md, uint32_t source, uint32_t ref, bool create)
{
	for (size_t i = 0; i < md->nd; i++)
		if (md->d[i].source == source && md->d[i].ref == ref)
			return &md->d[i];
	if (!create)
		return NULL;
	md->d = grow(md->d, md->nd, &md->dcap, sizeof(*md->d));
	struct mdef *d = &md->d[md->nd++];
	memset(d, 0, sizeof(*d));
	d->source = source;
	d->ref = ref;
	return d;
}

static void seq_event(struct model *md, uint32_t source, const char *field, double v)
{
	char key[128];
	snprintf(key, sizeof(key), "sf_binary_seq,source=%u %s", source, field);
	point(md, key, md->event_ts++, v);
}

/* A binary datagram; returns OK records, bad records in *bad, a bad frame in *bad_frame. */
static uint32_t decode_binary(struct model *md, const uint8_t *buf, size_t len, uint32_t *bad,
			      bool *bad_frame, bool *dup)
{
	struct dp_frame f;
	enum dp_frame_status st = dp_frame_open(&f, buf, len);
	*bad_frame = st != DP_FRAME_OK;
	if (st != DP_FRAME_OK) {
		assert_true(st == DP_FRAME_BAD_MAGIC || st == DP_FRAME_BAD_CRC);
		return 0;
	}
	struct msource *s = source_get(md, f.source_id);
	uint64_t missing = s->seq.missing;
	enum dp_frame_seq_result r = dp_frame_seq_check(&s->seq, f.seq);
	assert_true(r != DP_SEQ_STALE && r != DP_SEQ_RESTART);
	if (r == DP_SEQ_GAP)
		seq_event(md, f.source_id, "gap", (double)(s->seq.missing - missing));
	if (r == DP_SEQ_LATE)
		seq_event(md, f.source_id, "late", 1);
	*dup = r == DP_SEQ_DUPLICATE;
	if (s->nframes++ == 0 || f.seq < s->seq_lo)
		s->seq_lo = f.seq;
	if (f.seq > s->seq_hi)
		s->seq_hi = f.seq;

	uint32_t ok = 0;
	while ((st = dp_frame_next(&f, &md->rec)) != DP_FRAME_END) {
		assert_int_not_equal(st, DP_FRAME_COUNT_MISMATCH);
		if (st != DP_FRAME_OK) {
			(*bad)++;
			continue;
		}
		ok++;
		const struct dp_frame_rec *rec = &md->rec;
		if (rec->kind == DP_WIRE_DEF) {
			struct mdef *d = def_get(md, f.source_id, rec->series_ref, true);
			struct st_tag tags[DP_WIRE_DEF_TAGS_MAX];
			memcpy(tags, rec->tags, rec->ntags * sizeof(tags[0]));
			uint8_t key[ST_KEY_MAX];
			fmt_key(key, st_key_build(key, sizeof(key), rec->name, S("value"), tags, rec->ntags),
				d->key, sizeof(d->key));
			d->type = rec->type;
			continue;
		}
		if (*dup)
			continue;   /* the usual policy: a duplicate's points are not stored again */
		struct mdef *d = def_get(md, f.source_id, rec->series_ref, false);
		if (!d)
			fail_msg("source %u seq %llu: point of ref %u before its DEF", f.source_id,
				 (unsigned long long)f.seq, rec->series_ref);
		assert_int_equal(d->type, rec->type);
		point(md, d->key, rec->ts_ns,
		      rec->type == DP_WIRE_F64 ? rec->v.f64 : (double)rec->v.i64);
	}
	return ok;
}

static int cmp_point(const void *a, const void *b)
{
	const struct mpoint *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* What the store holds of s, reduced by agg (last write wins per timestamp). */
static double series_agg(struct mseries *s, enum tl_agg agg)
{
	qsort(s->p, s->n, sizeof(*s->p), cmp_point);
	double count = 0, sum = 0, min = INFINITY, max = -INFINITY, last = NAN;
	for (size_t i = 0; i < s->n; i++) {
		if (i + 1 < s->n && s->p[i + 1].ts == s->p[i].ts)
			continue;   /* overwritten */
		double v = s->p[i].v;
		count++;
		sum += v;
		min = v < min ? v : min;
		max = v > max ? v : max;
		last = v;
	}
	switch (agg) {
	case TL_AGG_COUNT: return count;
	case TL_AGG_SUM: return sum;
	case TL_AGG_MIN: return min;
	case TL_AGG_MAX: return max;
	default: return last;
	}
}

static void model_free(struct model *md)
{
	for (size_t i = 0; i < md->ns; i++)
		free(md->s[i].p);
	free(md->s);
	free(md->m);
	free(md->d);
	free(md);
}

/* Feed one generated datagram to the model, checking its description. */
static void model_feed(struct model *md, const uint8_t *buf, const struct tl_datagram *dg)
{
	if (dg->flags & TL_DG_PCAP_ONLY) {
		assert_true(dg->junk >= TL_JUNK_NOT_IP && dg->junk <= TL_JUNK_UNKNOWN_PORT);
		md->junk[dg->junk] += dg->nbad;
		return;
	}
	uint32_t bad = 0, ok = 0;
	bool bad_frame = false, dup = false;
	switch (dg->proto) {
	case DP_PROTO_STATSD:
		ok = decode_statsd(md, buf, dg->len, &bad);
		break;
	case DP_PROTO_LINE:
		ok = decode_line(md, buf, dg->len, true, &bad, NULL);
		break;
	case DP_PROTO_BINARY:
		ok = decode_binary(md, buf, dg->len, &bad, &bad_frame, &dup);
		assert_int_equal(dup, !!(dg->flags & TL_DG_DUPLICATE));
		break;
	default:
		fail_msg("proto %u", dg->proto);
	}
	assert_int_equal(ok, dg->nok);
	assert_int_equal(bad + bad_frame, dg->nbad);
	assert_int_equal(dg->junk != TL_JUNK_NONE, dg->nbad > 0);
	if (bad_frame)
		assert_int_equal(dg->junk, TL_JUNK_BINARY_BAD_FRAME);
	md->sent[dg->proto].datagrams++;
	md->sent[dg->proto].records += ok;
	md->junk[dg->junk] += dg->nbad;
}

/* Check a manifest against what the model stored. */
static void model_check(struct model *md, const struct tl_manifest *m)
{
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		assert_int_equal(m->sent[p].datagrams, md->sent[p].datagrams);
		assert_int_equal(m->sent[p].records, md->sent[p].records);
	}
	for (int k = TL_JUNK_NONE + 1; k < TL_JUNK__COUNT; k++)
		assert_int_equal(m->junk[k], md->junk[k]);
	assert_int_equal(m->series, md->ns);

	bool *covered = calloc(md->ns + 1, sizeof(*covered));
	assert_non_null(covered);
	for (size_t i = 0; i < m->nexpect; i++) {
		const struct tl_expect *e = &m->expect[i];
		size_t j;
		for (j = 0; j < md->ns && strcmp(md->s[j].key, e->series); j++)
			;
		if (j == md->ns)
			fail_msg("expected series '%s' was not stored", e->series);
		covered[j] = true;
		double got = series_agg(&md->s[j], (enum tl_agg)e->agg);
		if (!tl_manifest_check_value(e->value, got, e->tol))
			fail_msg("'%s' %s: want %.17g got %.17g (tol %g)", e->series,
				 tl_agg_name((enum tl_agg)e->agg), e->value, got, e->tol);
	}
	for (size_t j = 0; j < md->ns; j++)
		if (!covered[j] && !md->s[j].no_expect)
			fail_msg("stored series '%s' has no expectation", md->s[j].key);
	free(covered);

	/* per source: frames, gaps, duplicates, reorders as the tracker saw them */
	assert_int_equal(m->nbinary, md->nsrc);
	for (size_t i = 0; i < m->nbinary; i++) {
		const struct tl_binary_src *b = &m->binary[i];
		struct msource *s = source_get(md, b->source_id);
		assert_int_equal(s->seq_hi - s->seq_lo + 1, b->frames + b->gaps);
		assert_int_equal(s->nframes, b->frames + b->dups);
		assert_int_equal(s->seq.count[DP_SEQ_DUPLICATE], b->dups);
		assert_int_equal(s->seq.count[DP_SEQ_LATE], b->reorders);
		assert_int_equal(s->seq.missing, b->gaps + b->reorders);
	}
}

static struct model *model_new(void)
{
	struct model *md = calloc(1, sizeof(*md));
	assert_non_null(md);
	dp_line_init(&md->line, md->fields, DP_LINE_FIELDS_DEFAULT);
	md->event_ts = 1;
	return md;
}

/* Run cfg through the model; returns the number of datagrams. */
static uint64_t run_model(const struct tl_traffic_cfg *cfg)
{
	struct tl_traffic *t;
	assert_int_equal(tl_traffic_create(cfg, &t), 0);
	struct model *md = model_new();
	struct tl_datagram dg;
	uint64_t n = 0;
	int rc;
	while ((rc = tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg)) == 1) {
		assert_true(dg.len <= (cfg->max_datagram_bytes ? cfg->max_datagram_bytes
							       : TL_TRAFFIC_DATAGRAM_DEFAULT));
		model_feed(md, dgbuf, &dg);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg), 0);
	statsd_flush(md);
	struct tl_manifest *m;
	assert_int_equal(tl_traffic_manifest(t, &m), 0);
	model_check(md, m);
	/* everything asked for happened */
	uint64_t junk = 0, ev[3] = {0, 0, 0};
	for (int k = 1; k < TL_JUNK__COUNT; k++)
		junk += m->junk[k];
	for (size_t i = 0; i < m->nbinary; i++) {
		ev[0] += m->binary[i].gaps;
		ev[1] += m->binary[i].dups;
		ev[2] += m->binary[i].reorders;
	}
	if (ev[0] != cfg->gaps || ev[1] != cfg->dups || ev[2] != cfg->reorders)
		fail_msg("seed %llu: gaps %llu/%u dups %llu/%u reorders %llu/%u",
			 (unsigned long long)cfg->seed, (unsigned long long)ev[0], cfg->gaps,
			 (unsigned long long)ev[1], cfg->dups, (unsigned long long)ev[2], cfg->reorders);
	assert_int_equal(junk, cfg->junk);
	assert_int_equal(ev[0], cfg->gaps);
	assert_int_equal(ev[1], cfg->dups);
	assert_int_equal(ev[2], cfg->reorders);
	tl_manifest_free(m);
	model_free(md);
	tl_traffic_destroy(t);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Generator                                                                 */
/* ------------------------------------------------------------------------ */

static void test_tl_traffic__receiver_model(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct tl_traffic_cfg cfg = mix_cfg(seed);
		assert_true(run_model(&cfg) > 100);
	}
	/* one format at a time, small and large datagrams */
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		struct tl_traffic_cfg cfg = mix_cfg(100 + (uint64_t)p);
		for (int q = 0; q < DP_PROTO__COUNT; q++)
			cfg.weight[q] = q == p;
		cfg.pcap_junk = false;
		cfg.max_datagram_bytes = p == DP_PROTO_BINARY ? 512 : 9000;
		if (p != DP_PROTO_BINARY)
			cfg.gaps = cfg.dups = cfg.reorders = 0;   /* binary only */
		run_model(&cfg);
	}
	/* many refs per source in small frames: first DEFs spread over frames that get swapped */
	struct tl_traffic_cfg cfg = mix_cfg(200);
	cfg.weight[DP_PROTO_STATSD] = cfg.weight[DP_PROTO_LINE] = 0;
	cfg.series[DP_PROTO_BINARY] = 400;
	cfg.values_per_series = 8;
	cfg.sources = 2;
	cfg.max_datagram_bytes = 512;
	cfg.redef_every = 5;
	cfg.reorders = 40;
	cfg.pcap_junk = false;
	run_model(&cfg);
}

static void test_tl_traffic__deterministic(void **state)
{
	(void)state;
	struct tl_traffic_cfg cfg = mix_cfg(42);
	struct tl_traffic *a, *b, *c;
	cfg.seed = 42;
	assert_int_equal(tl_traffic_create(&cfg, &a), 0);
	assert_int_equal(tl_traffic_create(&cfg, &b), 0);
	cfg.seed = 43;
	assert_int_equal(tl_traffic_create(&cfg, &c), 0);
	static uint8_t buf2[TL_TRAFFIC_DATAGRAM_MAX];
	struct tl_datagram da, db, dc;
	bool differs = false;
	uint64_t n = 0;
	for (;; n++) {
		int ra = tl_traffic_next(a, dgbuf, sizeof(dgbuf), &da);
		int rb = tl_traffic_next(b, buf2, sizeof(buf2), &db);
		assert_int_equal(ra, rb);
		if (ra == 0)
			break;
		assert_memory_equal(&da, &db, sizeof(da));
		assert_memory_equal(dgbuf, buf2, da.len);
		if (tl_traffic_next(c, buf2, sizeof(buf2), &dc) == 1 &&
		    (dc.len != da.len || memcmp(dgbuf, buf2, da.len)))
			differs = true;
	}
	assert_true(n > 100);
	assert_true(differs);

	/* and the same manifest text */
	struct tl_manifest *ma, *mb;
	assert_int_equal(tl_traffic_manifest(a, &ma), 0);
	assert_int_equal(tl_traffic_manifest(b, &mb), 0);
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
	assert_int_equal(tl_manifest_fprint(ma, fa), 0);
	assert_int_equal(tl_manifest_fprint(mb, fb), 0);
	fclose(fa);
	fclose(fb);
	assert_int_equal(la, lb);
	assert_true(la > 1000);
	assert_memory_equal(ta, tb, la);
	free(ta);
	free(tb);
	tl_manifest_free(ma);
	tl_manifest_free(mb);
	tl_traffic_destroy(a);
	tl_traffic_destroy(b);
	tl_traffic_destroy(c);
}

/* Line protocol for TCP: payloads end in '\n'; the stream cut anywhere decodes the same. */
static void test_tl_traffic__line_stream(void **state)
{
	(void)state;
	struct tl_traffic_cfg cfg = mix_cfg(9);
	cfg.weight[DP_PROTO_STATSD] = cfg.weight[DP_PROTO_BINARY] = 0;
	cfg.line_stream = true;
	cfg.pcap_junk = false;
	cfg.junk = 25;
	cfg.gaps = cfg.dups = cfg.reorders = 0;
	struct tl_traffic *t;
	assert_int_equal(tl_traffic_create(&cfg, &t), 0);
	size_t cap = 1 << 20, len = 0;
	uint8_t *stream = malloc(cap);
	assert_non_null(stream);
	struct tl_datagram dg;
	while (tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg) == 1) {
		assert_int_equal(dg.proto, DP_PROTO_LINE);
		assert_true(dg.len > 0 && dgbuf[dg.len - 1] == '\n');
		assert_true(len + dg.len <= cap);
		memcpy(stream + len, dgbuf, dg.len);
		len += dg.len;
	}
	struct tl_manifest *m;
	assert_int_equal(tl_traffic_manifest(t, &m), 0);

	/* feed it as a TCP receiver would: chunks cut at random, the tail carried over */
	struct model *md = model_new();
	uint64_t rng = 5;
	size_t done = 0, avail = 0;
	uint32_t ok = 0, bad = 0;
	while (done < len) {
		avail = CM_MIN(len, avail + 1 + cm_splitmix64(&rng) % 300);
		size_t used;
		ok += decode_line(md, stream + done, avail - done, avail == len, &bad, &used);
		done += used;
	}
	assert_int_equal(ok, m->sent[DP_PROTO_LINE].records);
	assert_int_equal(bad, m->junk[TL_JUNK_LINE_BAD_LINE]);
	assert_int_equal(bad, 25);
	model_free(md);
	tl_manifest_free(m);
	free(stream);
	tl_traffic_destroy(t);
}

/* Many refs per source in small frames: DEF rounds span frames, each taking at most half. */
static void test_tl_traffic__redef_rounds(void **state)
{
	(void)state;
	struct tl_traffic_cfg cfg = {.seed = 5, .weight = {0, 0, 1}, .series = {0, 0, 3000},
				     .values_per_series = 3, .max_datagram_bytes = 512,
				     .sources = 1, .redef_every = 4};
	struct tl_traffic *t;
	assert_int_equal(tl_traffic_create(&cfg, &t), 0);
	struct dp_frame_rec *rec = malloc(sizeof(*rec));
	assert_non_null(rec);
	static uint32_t ndefs[3000];   /* per series: refs are 10 + 7 i */
	memset(ndefs, 0, sizeof(ndefs));
	struct tl_datagram dg;
	uint64_t points = 0, point_bytes = 0, bytes = 0;
	while (tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg) == 1) {
		struct dp_frame f;
		assert_int_equal(dp_frame_open(&f, dgbuf, dg.len), DP_FRAME_OK);
		/* the DEFs before the first point: a round's (each begun before half
		 * the frame) and at most one more, the first point's own */
		uint32_t lead_late = 0;
		bool in_lead = true;
		while (dp_frame_next(&f, rec) == DP_FRAME_OK) {
			if (rec->kind == DP_WIRE_DEF) {
				assert_true(rec->series_ref >= 10 && (rec->series_ref - 10) / 7 < 3000);
				ndefs[(rec->series_ref - 10) / 7]++;
				lead_late += in_lead && rec->off >= cfg.max_datagram_bytes / 2;
				continue;
			}
			in_lead = false;
			points++;
			point_bytes += rec->bytes;
		}
		assert_true(lead_late <= 1);
		bytes += dg.len;
	}
	assert_int_equal(points, 3000 * 3);
	/* rounds run to their end before the next begins: all but the refs
	 * declared last are repeated (a round takes ~600 of the ~1600 frames) */
	uint32_t repeated = 0;
	for (uint32_t i = 0; i < 3000; i++)
		repeated += ndefs[i] >= 2;
	assert_true(repeated > 3000 / 2);
	/* points are not starved: over a fifth of the bytes (DEFs are about twice as long) */
	assert_true(point_bytes * 5 > bytes);
	free(rec);
	tl_traffic_destroy(t);
}

/* The StatsD types and packed values a config makes: a bit per type seen, the most values in a line. */
static void statsd_dialect(const struct tl_traffic_cfg *cfg, uint32_t *types, uint32_t *most)
{
	struct tl_traffic *t;
	assert_int_equal(tl_traffic_create(cfg, &t), 0);
	struct dp_statsd sd;
	struct tl_datagram dg;
	*types = *most = 0;
	while (tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg) == 1) {
		size_t off = 0, used;
		while (off < dg.len) {
			if (dp_statsd_decode(&sd, (const char *)dgbuf + off, dg.len - off,
					     DP_STATSD_COMPLETE, &used) == DP_STATSD_OK) {
				*types |= 1u << sd.type;
				*most = CM_MAX(*most, sd.nvalues);
			}
			off += used;
		}
	}
	tl_traffic_destroy(t);
}

/* statsd_types and statsd_single: the dialect Etsy statsd 0.9 parses (pf_compare's StatsD run). */
static void test_tl_traffic__statsd_dialect(void **state)
{
	(void)state;
	struct tl_traffic_cfg cfg = mix_cfg(7);
	cfg.weight[DP_PROTO_LINE] = cfg.weight[DP_PROTO_BINARY] = 0;
	cfg.series[DP_PROTO_STATSD] = 24;
	cfg.junk = cfg.gaps = cfg.dups = cfg.reorders = 0;
	cfg.pcap_junk = false;
	uint32_t types, most;
	statsd_dialect(&cfg, &types, &most);
	assert_int_equal(types, (1u << DP_STATSD_TYPE__COUNT) - 1);
	assert_true(most > 1);
	uint32_t etsy = 1u << DP_STATSD_COUNTER | 1u << DP_STATSD_GAUGE | 1u << DP_STATSD_TIMER |
			1u << DP_STATSD_SET;
	cfg.statsd_types = etsy;
	cfg.statsd_single = true;
	statsd_dialect(&cfg, &types, &most);
	assert_int_equal(types, etsy);
	assert_int_equal(most, 1);
	assert_true(run_model(&cfg) > 10);   /* the manifest still matches what is sent */
	cfg.statsd_types = 1u << DP_STATSD_TYPE__COUNT;
	struct tl_traffic *t = NULL;
	assert_int_equal(tl_traffic_create(&cfg, &t), -EINVAL);
}

static void test_tl_traffic__bad_config(void **state)
{
	(void)state;
	struct tl_traffic *t = NULL;
	struct tl_traffic_cfg cfg = mix_cfg(1);
	cfg.values_per_series = 0;
	assert_int_equal(tl_traffic_create(&cfg, &t), -EINVAL);
	cfg = mix_cfg(1);
	memset(cfg.weight, 0, sizeof(cfg.weight));
	assert_int_equal(tl_traffic_create(&cfg, &t), -EINVAL);
	cfg = mix_cfg(1);
	cfg.max_datagram_bytes = 100;
	assert_int_equal(tl_traffic_create(&cfg, &t), -EINVAL);
	cfg.max_datagram_bytes = 65508;
	assert_int_equal(tl_traffic_create(&cfg, &t), -EINVAL);
	cfg = mix_cfg(1);
	assert_int_equal(tl_traffic_create(&cfg, &t), 0);
	struct tl_datagram dg;
	assert_int_equal(tl_traffic_next(t, dgbuf, 1000, &dg), -ENOSPC);
	tl_traffic_destroy(t);
	tl_traffic_destroy(NULL);
}

/* ------------------------------------------------------------------------ */
/* Manifest                                                                  */
/* ------------------------------------------------------------------------ */

static void test_tl_manifest__round_trip(void **state)
{
	(void)state;
	struct tl_traffic_cfg cfg = mix_cfg(3);
	struct tl_traffic *t;
	assert_int_equal(tl_traffic_create(&cfg, &t), 0);
	struct tl_datagram dg;
	while (tl_traffic_next(t, dgbuf, sizeof(dgbuf), &dg) == 1)
		;
	struct tl_manifest *m, *l;
	assert_int_equal(tl_traffic_manifest(t, &m), 0);
	char path[256], err[256];
	tmp_path(path, sizeof(path), "manifest");
	assert_int_equal(tl_manifest_write(m, path, err, sizeof(err)), 0);
	assert_int_equal(tl_manifest_load(path, &l, err, sizeof(err)), 0);
	assert_int_equal(l->series, m->series);
	assert_memory_equal(l->sent, m->sent, sizeof(m->sent));
	assert_memory_equal(l->junk, m->junk, sizeof(m->junk));
	assert_int_equal(l->nbinary, m->nbinary);
	for (size_t i = 0; i < m->nbinary; i++) {
		assert_int_equal(l->binary[i].source_id, m->binary[i].source_id);
		assert_int_equal(l->binary[i].frames, m->binary[i].frames);
		assert_int_equal(l->binary[i].gaps, m->binary[i].gaps);
		assert_int_equal(l->binary[i].dups, m->binary[i].dups);
		assert_int_equal(l->binary[i].reorders, m->binary[i].reorders);
	}
	assert_int_equal(l->nexpect, m->nexpect);
	for (size_t i = 0; i < m->nexpect; i++) {
		assert_string_equal(l->expect[i].series, m->expect[i].series);
		assert_int_equal(l->expect[i].agg, m->expect[i].agg);
		assert_true(l->expect[i].value == m->expect[i].value);   /* %.17g is exact */
		assert_true(l->expect[i].tol == m->expect[i].tol);
	}
	/* every kind of expectation is there */
	bool seen[TL_AGG__COUNT] = {false};
	bool seq = false;
	for (size_t i = 0; i < m->nexpect; i++) {
		seen[m->expect[i].agg] = true;
		seq |= strncmp(m->expect[i].series, "sf_binary_seq,source=", 21) == 0;
	}
	for (int a = 0; a < TL_AGG__COUNT; a++)
		assert_true(seen[a]);
	assert_true(seq);
	tl_manifest_free(l);
	tl_manifest_free(m);
	tl_traffic_destroy(t);
	unlink(path);
}

static void test_tl_manifest__rejects(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *err;   /* a part of the message */
	} cases[] = {
		{"", "empty"},
		{"series\t3\n", "not an sfgen-manifest"},
		{"sfgen-manifest\t2\n", "version"},
		{"sfgen-manifest\t1\nseries\tx\n", "line 2: bad number"},
		{"sfgen-manifest\t1\nexpect\tcpu f\tavg\t1\t0\n", "bad agg 'avg'"},
		{"sfgen-manifest\t1\nexpect\tcpu f\tsum\t1\n", "5 fields"},
		{"sfgen-manifest\t1\nexpect\tcpu f\tsum\tnan\t0\n", "bad number 'nan'"},
		{"sfgen-manifest\t1\nexpect\tcpu f\tsum\t1\t-1\n", "bad tolerance"},
		{"sfgen-manifest\t1\nexpect\t\tsum\t1\t0\n", "bad expect record"},
		{"sfgen-manifest\t1\nsent\tudp\t1\t2\n", "unknown protocol 'udp'"},
		{"sfgen-manifest\t1\njunk\tnone\t1\n", "unknown junk kind 'none'"},
		{"sfgen-manifest\t1\nbinary\t1\t2\t3\t4\n", "6 fields"},
		{"sfgen-manifest\t1\nbinary\t99999999999\t2\t3\t4\t5\n", "bad binary record"},
		{"sfgen-manifest\t1\nhello\t1\n", "unknown record 'hello'"},
		{"sfgen-manifest\t1\n# fine\n\nsent\tline\t-1\t2\n", "line 4: bad number"},
	};
	char path[256], err[256];
	tmp_path(path, sizeof(path), "bad");
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(cases[i].text, f);
		fclose(f);
		struct tl_manifest *m = NULL;
		err[0] = '\0';
		int rc = tl_manifest_load(path, &m, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, cases[i].err))
			fail_msg("case %zu: rc %d err '%s', want '%s'", i, rc, err, cases[i].err);
		assert_null(m);
	}
	/* a minimal good one, with comments, CRLF and records in any order */
	FILE *f = fopen(path, "w");
	fputs("# hi\r\nsfgen-manifest\t1\r\njunk\tfragment\t4\nexpect\tcpu,host=a usage\tlast\t2.5\t0\n"
	      "series\t1\nsent\tbinary\t7\t9\nbinary\t5\t10\t1\t2\t3\n", f);
	fclose(f);
	struct tl_manifest *m;
	assert_int_equal(tl_manifest_load(path, &m, err, sizeof(err)), 0);
	assert_int_equal(m->series, 1);
	assert_int_equal(m->junk[TL_JUNK_FRAGMENT], 4);
	assert_int_equal(m->sent[DP_PROTO_BINARY].datagrams, 7);
	assert_int_equal(m->sent[DP_PROTO_BINARY].records, 9);
	assert_int_equal(m->nbinary, 1);
	assert_int_equal(m->binary[0].reorders, 3);
	assert_int_equal(m->nexpect, 1);
	assert_string_equal(m->expect[0].series, "cpu,host=a usage");
	assert_int_equal(m->expect[0].agg, TL_AGG_LAST);
	tl_manifest_free(m);
	unlink(path);
	assert_int_equal(tl_manifest_load(path, &m, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	tl_manifest_free(NULL);
}

static void test_tl_manifest__check_value(void **state)
{
	(void)state;
	assert_true(tl_manifest_check_value(10, 10, 0));
	assert_false(tl_manifest_check_value(10, 11, 0));
	assert_false(tl_manifest_check_value(10, 9, 0));
	/* relative above 1, absolute below */
	assert_true(tl_manifest_check_value(1e6, 1e6 + 1e-4, 1e-9 * 1000));
	assert_true(tl_manifest_check_value(1e6, 1e6 * (1 + 0.9e-9), 1e-9));
	assert_false(tl_manifest_check_value(1e6, 1e6 * (1 + 2e-9), 1e-9));
	assert_true(tl_manifest_check_value(1e-12, 0.5e-9, 1e-9));
	assert_false(tl_manifest_check_value(1e-12, 2e-9, 1e-9));
	assert_true(tl_manifest_check_value(-5, -5, 0));
	assert_false(tl_manifest_check_value(-5, 5, 1e-9));
	assert_false(tl_manifest_check_value(1, NAN, 1));
	assert_string_equal(tl_agg_name(TL_AGG_LAST), "last");
	assert_string_equal(tl_agg_name(TL_AGG__COUNT), "unknown");
	assert_string_equal(tl_junk_name(TL_JUNK_UNKNOWN_PORT), "unknown_port");
	assert_string_equal(tl_junk_name(TL_JUNK__COUNT), "unknown");
}

/* ------------------------------------------------------------------------ */
/* pcap                                                                      */
/* ------------------------------------------------------------------------ */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Check the IPv4 header at ip; returns its payload length. */
static size_t check_ip(const uint8_t *ip, size_t avail, uint8_t proto, uint16_t frag)
{
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(tl_pcap_csum(ip, 20), 0);   /* a correct checksum sums to 0 */
	assert_int_equal(be16(ip + 2), avail);       /* total length = the rest of the frame */
	assert_int_equal(be16(ip + 6), frag);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], proto);
	assert_memory_equal(ip + 12, "\x0a\x01\x00\x01\x7f\x00\x00\x01", 8);
	return avail - 20;
}

static void test_tl_pcap__frames(void **state)
{
	(void)state;
	static uint8_t big[TL_PCAP_UDP_PAYLOAD_MAX + 1];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	struct tl_pcap_flow f = {
		.src_mac = {2, 0, 0, 0, 0, 1}, .dst_mac = {2, 0, 0, 0, 0, 2},
		.src_ip = 0x0a010001, .dst_ip = 0x7f000001, .src_port = 40000, .dst_port = 8125};
	char path[256];
	tmp_path(path, sizeof(path), "pcap");
	struct tl_pcap *p;
	assert_int_equal(tl_pcap_open(path, &p), 0);
	const int64_t ts = 1700000000123456789LL;
	assert_int_equal(tl_pcap_write_udp(p, ts, &f, "a:1|c", 5), 0);
	assert_int_equal(tl_pcap_write_udp(p, ts + 1000, &f, big, TL_PCAP_UDP_PAYLOAD_MAX), 0);
	assert_int_equal(tl_pcap_write_udp(p, ts, &f, big, TL_PCAP_UDP_PAYLOAD_MAX + 1), -EINVAL);
	static uint8_t fr[TL_PCAP_FRAME_MAX];
	size_t n = tl_pcap_tcp(fr, sizeof(fr), &f, 7, 1234, "a:1|c\n", 6);
	assert_int_equal(n, 14 + 20 + 20 + 6);
	assert_int_equal(tl_pcap_write(p, ts, fr, n), 0);
	n = tl_pcap_fragment(fr, sizeof(fr), &f, 8, true, big, 100);
	assert_int_equal(tl_pcap_write(p, ts, fr, n), 0);
	n = tl_pcap_fragment(fr, sizeof(fr), &f, 8, false, big, 100);
	assert_int_equal(tl_pcap_write(p, ts, fr, n), 0);
	assert_int_equal(tl_pcap_fragment(fr, sizeof(fr), &f, 8, true, big, 15), 0);
	n = tl_pcap_arp(fr, sizeof(fr), &f);
	assert_int_equal(n, 60);
	assert_int_equal(tl_pcap_write(p, ts, fr, n), 0);
	assert_int_equal(tl_pcap_udp(fr, 40, &f, 1, "x", 1), 0);   /* cap too small */
	assert_int_equal(tl_pcap_frames(p), 6);
	assert_int_equal(tl_pcap_close(p), 0);

	FILE *in = fopen(path, "rb");
	assert_non_null(in);
	static uint8_t file[2 * TL_PCAP_FRAME_MAX];
	size_t len = fread(file, 1, sizeof(file), in);
	fclose(in);
	unlink(path);
	/* file header: magic (host order, microseconds), 2.4, zone, sigfigs, snaplen, Ethernet */
	static const uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
					0,    0,    0,    0,    0, 0, 4, 0, 1, 0, 0, 0};
	assert_true(len > 24);
	assert_memory_equal(file, hdr, 24);
	const uint8_t *r = file + 24;

	/* 1: UDP "a:1|c" */
	assert_int_equal(le32(r), 1700000000);
	assert_int_equal(le32(r + 4), 123456);
	assert_int_equal(le32(r + 8), 14 + 20 + 8 + 5);
	assert_int_equal(le32(r + 12), 14 + 20 + 8 + 5);
	const uint8_t *e = r + 16;
	assert_memory_equal(e, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	size_t ipl = check_ip(e + 14, 20 + 8 + 5, 17, 0);
	const uint8_t *u = e + 34;
	assert_int_equal(be16(u), 40000);
	assert_int_equal(be16(u + 2), 8125);
	assert_int_equal(be16(u + 4), ipl);
	assert_int_equal(be16(u + 6), 0);
	assert_memory_equal(u + 8, "a:1|c", 5);
	r = e + le32(r + 8);

	/* 2: the largest UDP payload */
	assert_int_equal(le32(r + 4), 123457);
	size_t flen = le32(r + 8);
	assert_int_equal(flen, 14 + 65535);
	e = r + 16;
	ipl = check_ip(e + 14, 65535, 17, 0);
	assert_int_equal(be16(e + 34 + 4), 65515);
	assert_memory_equal(e + 42, big, TL_PCAP_UDP_PAYLOAD_MAX);
	r = e + flen;

	/* 3: TCP, checksum over the pseudo-header */
	flen = le32(r + 8);
	e = r + 16;
	ipl = check_ip(e + 14, flen - 14, 6, 0);
	const uint8_t *tcp = e + 34;
	assert_int_equal(be16(tcp + 2), 8125);
	assert_int_equal(tcp[12] >> 4, 5);
	assert_int_equal(tcp[13], 0x18);
	uint8_t pseudo[12 + 26];
	memcpy(pseudo, e + 14 + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = 0;
	pseudo[11] = (uint8_t)ipl;
	memcpy(pseudo + 12, tcp, ipl);
	assert_int_equal(tl_pcap_csum(pseudo, 12 + ipl), 0);
	assert_memory_equal(tcp + 20, "a:1|c\n", 6);
	r = e + flen;

	/* 4, 5: fragments, MF and offset, together the whole UDP datagram */
	flen = le32(r + 8);
	e = r + 16;
	ipl = check_ip(e + 14, flen - 14, 17, 0x2000);
	size_t first = ipl;
	assert_int_equal(first % 8, 0);
	assert_int_equal(be16(e + 34 + 4), 108);   /* UDP length of the whole datagram */
	assert_memory_equal(e + 42, big, first - 8);
	r = e + flen;
	flen = le32(r + 8);
	e = r + 16;
	ipl = check_ip(e + 14, flen - 14, 17, (uint16_t)(first / 8));
	assert_int_equal(first + ipl, 108);
	assert_memory_equal(e + 34, big + first - 8, ipl);
	r = e + flen;

	/* 6: ARP, broadcast, 60 bytes */
	assert_int_equal(le32(r + 8), 60);
	e = r + 16;
	assert_memory_equal(e, "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(be16(e + 12), 0x0806);
	assert_int_equal(be16(e + 14 + 6), 1);
	assert_memory_equal(e + 14 + 24, "\x7f\x00\x00\x01", 4);
	r = e + 60;
	assert_int_equal((size_t)(r - file), len);
}

/* ------------------------------------------------------------------------ */
/* Sender                                                                    */
/* ------------------------------------------------------------------------ */

struct capture {
	uint8_t *frames[512];
	size_t len[512];
	size_t n;
	int fail_at;   /* send this one fails (-1: never) */
};

static int capture_send(void *ctx, const void *buf, size_t len)
{
	struct capture *c = ctx;
	assert_true(c->n < CM_ARRAY_SIZE(c->frames));
	if ((int)c->n == c->fail_at) {
		c->fail_at = -1;
		return -ECONNREFUSED;
	}
	c->frames[c->n] = malloc(len);
	assert_non_null(c->frames[c->n]);
	memcpy(c->frames[c->n], buf, len);
	c->len[c->n++] = len;
	return 0;
}

static void capture_free(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->frames[i]);
}

static void test_tl_sender__frames(void **state)
{
	(void)state;
	struct capture cap = {.fail_at = -1};
	struct tl_sender_opts o = {.max_datagram_bytes = 300, .redef_every = 3, .first_seq = 1000,
				   .send = capture_send, .send_ctx = &cap};
	struct tl_sender *s;
	assert_int_equal(tl_sender_open(NULL, 77, &o, &s), 0);
	struct tl_sender_tag tags[] = {{"venue", "XNAS"}, {"side", "bid ask"}};
	assert_int_equal(tl_sender_define(s, 5, "px.last", tags, 2, DP_WIRE_F64), 0);
	assert_int_equal(tl_sender_define(s, 6, "qty", tags, 1, DP_WIRE_I64), 0);
	assert_int_equal(tl_sender_define(s, 7, "px.bid", NULL, 0, DP_WIRE_F64), 0);
	/* what a decoder would refuse */
	assert_int_equal(tl_sender_define(s, 8, "bad name", NULL, 0, DP_WIRE_F64), -EINVAL);
	assert_int_equal(tl_sender_define(s, 8, "", NULL, 0, DP_WIRE_F64), -EINVAL);
	struct tl_sender_tag dup[] = {{"a", "1"}, {"a", "2"}};
	assert_int_equal(tl_sender_define(s, 8, "x", dup, 2, DP_WIRE_F64), -EINVAL);
	assert_int_equal(tl_sender_define(s, 8, "x", NULL, 0, 3), -EINVAL);
	char longname[256];
	memset(longname, 'n', 250);
	longname[250] = '\0';
	assert_int_equal(tl_sender_define(s, 8, longname, NULL, 0, DP_WIRE_F64), -EMSGSIZE);
	assert_int_equal(tl_sender_point(s, 8, 1, (union st_value){.f64 = 1}), -ENOENT);
	assert_int_equal(tl_sender_point(s, 5, -1, (union st_value){.f64 = 1}), -EINVAL);
	assert_int_equal(tl_sender_point(s, 5, 1, (union st_value){.f64 = NAN}), -EINVAL);

	enum { NPOINTS = 300 };
	const uint32_t refs[3] = {5, 6, 7};
	for (int i = 0; i < NPOINTS; i++) {
		if (i == 150)   /* a new name for ref 7: its DEF must go out again */
			assert_int_equal(tl_sender_define(s, 7, "px.ask", NULL, 0, DP_WIRE_F64), 0);
		uint32_t ref = refs[i % 3];
		union st_value v = ref == 6 ? (union st_value){.i64 = i} : (union st_value){.f64 = i};
		assert_int_equal(tl_sender_point(s, ref, 1000 + i, v), 0);
	}
	struct tl_sender_stats st;
	tl_sender_stats(s, &st);
	assert_int_equal(tl_sender_flush(s), 0);
	assert_int_equal(tl_sender_flush(s), 0);   /* nothing left: no empty frame */
	size_t nframes = cap.n;
	assert_int_equal(tl_sender_next_seq(s), 1000 + nframes);
	tl_sender_stats(s, &st);
	assert_int_equal(st.frames, nframes);
	assert_int_equal(st.points, NPOINTS);
	assert_int_equal(st.send_errors, 0);
	assert_int_equal(tl_sender_close(s), 0);
	assert_int_equal(cap.n, nframes);

	/* decode: contiguous seqs, each point after its ref's DEF, DEF rounds */
	struct dp_frame_rec *rec = malloc(sizeof(*rec));
	assert_non_null(rec);
	char names[16][32] = {{0}};
	int points = 0, defs = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < cap.n; i++) {
		struct dp_frame f;
		assert_true(cap.len[i] <= 300);
		bytes += cap.len[i];
		assert_int_equal(dp_frame_open(&f, cap.frames[i], cap.len[i]), DP_FRAME_OK);
		assert_int_equal(f.source_id, 77);
		assert_int_equal(f.seq, 1000 + i);
		bool round = i % 3 == 0, in_lead = true;
		int lead_defs = 0;
		enum dp_frame_status rs;
		while ((rs = dp_frame_next(&f, rec)) == DP_FRAME_OK) {
			if (rec->kind == DP_WIRE_DEF) {
				assert_true(rec->series_ref < 16);
				snprintf(names[rec->series_ref], sizeof(names[0]), "%.*s",
					 (int)rec->name.len, rec->name.p);
				defs++;
				lead_defs += in_lead;
				continue;
			}
			in_lead = false;
			assert_true(names[rec->series_ref][0]);
			int k = (int)(rec->ts_ns - 1000);
			assert_int_equal(rec->series_ref, refs[k % 3]);
			if (rec->series_ref == 7)
				assert_string_equal(names[7], k < 150 ? "px.bid" : "px.ask");
			if (rec->series_ref == 6)
				assert_int_equal(rec->v.i64, k);
			else
				assert_true(rec->v.f64 == k);
			points++;
		}
		assert_int_equal(rs, DP_FRAME_END);
		if (round)   /* every third frame starts with all three DEFs */
			assert_int_equal(lead_defs, 3);
	}
	assert_int_equal(points, NPOINTS);
	assert_int_equal(defs, st.defs);
	assert_int_equal(bytes, st.bytes);
	assert_true(nframes > 10);
	free(rec);
	capture_free(&cap);

	/* a failed send loses that frame, is reported once and counted */
	struct capture cap2 = {.fail_at = 1};
	o.send_ctx = &cap2;
	assert_int_equal(tl_sender_open(NULL, 78, &o, &s), 0);
	assert_int_equal(tl_sender_define(s, 1, "a", NULL, 0, DP_WIRE_I64), 0);
	int errs = 0;
	for (int i = 0; i < 100; i++) {
		int rc = tl_sender_point(s, 1, i, (union st_value){.i64 = i});
		assert_true(rc == 0 || rc == -ECONNREFUSED);
		errs += rc != 0;
	}
	assert_int_equal(errs, 1);
	assert_int_equal(tl_sender_flush(s), 0);
	tl_sender_stats(s, &st);
	assert_int_equal(st.send_errors, 1);
	assert_int_equal(tl_sender_close(s), 0);
	assert_int_equal(cap2.n + 1, st.frames);
	capture_free(&cap2);

	/* bad options */
	o.max_datagram_bytes = 100;
	assert_int_equal(tl_sender_open(NULL, 1, &o, &s), -EINVAL);
	o.max_datagram_bytes = 65508;
	assert_int_equal(tl_sender_open(NULL, 1, &o, &s), -EINVAL);
	assert_int_equal(tl_sender_open(NULL, 1, NULL, &s), -EINVAL);
	assert_int_equal(tl_sender_open("nohostport", 1, NULL, &s), -EINVAL);
	assert_int_equal(tl_sender_close(NULL), 0);
}

/* A send hook that decodes each frame as it comes (too many frames to keep). */
struct round_check {
	uint32_t nrefs, max_bytes;
	uint64_t next_seq, frames, bytes, defs, points;
	uint32_t *ndefs;       /* per ref: DEFs seen */
	struct dp_frame_rec rec;
};

static int round_check_send(void *ctx, const void *buf, size_t len)
{
	struct round_check *c = ctx;
	struct dp_frame f;
	assert_true(len <= c->max_bytes);
	assert_int_equal(dp_frame_open(&f, buf, len), DP_FRAME_OK);
	assert_int_equal(f.seq, c->next_seq++);
	c->frames++;
	c->bytes += len;
	/* the DEFs before the first point: a DEF round (each begun before half the
	 * frame) and at most one more, the first point's own */
	uint32_t lead_late = 0;
	bool in_lead = true;
	enum dp_frame_status st;
	while ((st = dp_frame_next(&f, &c->rec)) == DP_FRAME_OK) {
		uint32_t ref = c->rec.series_ref;
		assert_true(ref < c->nrefs);
		if (c->rec.kind == DP_WIRE_DEF) {
			char name[16];
			snprintf(name, sizeof(name), "s%u", ref);
			assert_int_equal(c->rec.name.len, strlen(name));
			assert_memory_equal(c->rec.name.p, name, strlen(name));
			c->ndefs[ref]++;
			c->defs++;
			lead_late += in_lead && c->rec.off >= c->max_bytes / 2;
			continue;
		}
		in_lead = false;
		assert_true(c->ndefs[ref] > 0);            /* after its DEF */
		assert_int_equal(c->rec.ts_ns, c->points);  /* every point, in order */
		assert_int_equal(ref, c->points % c->nrefs);
		assert_true(c->rec.v.f64 == (double)c->points);
		c->points++;
	}
	assert_int_equal(st, DP_FRAME_END);
	assert_true(lead_late <= 1);
	return 0;
}

/* More refs than one frame holds: DEF rounds span frames and leave room for points. */
static void test_tl_sender__rounds_span_frames(void **state)
{
	(void)state;
	enum { NREFS = 5000, PASSES = 5 };
	struct round_check c = {.nrefs = NREFS, .max_bytes = TL_SENDER_DATAGRAM_DEFAULT,
				.next_seq = 7};
	c.ndefs = calloc(NREFS, sizeof(*c.ndefs));
	assert_non_null(c.ndefs);
	struct tl_sender_opts o = {.redef_every = 64, .first_seq = 7, .send = round_check_send,
				   .send_ctx = &c};
	struct tl_sender *s;
	assert_int_equal(tl_sender_open(NULL, 3, &o, &s), 0);
	struct tl_sender_tag tags[] = {{"venue", "XNAS"}};
	for (uint32_t r = 0; r < NREFS; r++) {
		char name[16];
		snprintf(name, sizeof(name), "s%u", r);
		assert_int_equal(tl_sender_define(s, r, name, tags, 1, DP_WIRE_F64), 0);
	}
	for (uint32_t i = 0; i < NREFS * PASSES; i++)
		assert_int_equal(tl_sender_point(s, i % NREFS, i, (union st_value){.f64 = i}), 0);
	assert_int_equal(tl_sender_flush(s), 0);
	struct tl_sender_stats st;
	tl_sender_stats(s, &st);
	assert_int_equal(tl_sender_close(s), 0);
	assert_int_equal(st.points, c.points);
	assert_int_equal(st.frames, c.frames);
	assert_int_equal(st.defs, c.defs);
	assert_int_equal(st.bytes, c.bytes);
	assert_int_equal(st.send_errors, 0);

	assert_int_equal(c.points, NREFS * PASSES);
	/* a round of 5000 DEFs at half a frame each takes ~200 frames: the first
	 * rounds are complete, so every DEF went out at least twice */
	assert_true(c.frames > 3 * 200);
	for (uint32_t r = 0; r < NREFS; r++)
		if (c.ndefs[r] < 2)
			fail_msg("ref %u: %u DEFs", r, c.ndefs[r]);
	/* points get about half of every frame, never starved by a round */
	assert_true(c.frames < 3 * (NREFS * PASSES * DP_WIRE_POINT_BYTES / (c.max_bytes - 32)));
	free(c.ndefs);
}

/* The real thing: frames over a UDP socket on the loopback. */
static void test_tl_sender__udp(void **state)
{
	(void)state;
	int rx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0)
		skip();
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (bind(rx, (struct sockaddr *)&a, sizeof(a)) || getsockname(rx, (struct sockaddr *)&a, &alen)) {
		close(rx);
		skip();
	}
	char to[64];
	snprintf(to, sizeof(to), "127.0.0.1:%u", ntohs(a.sin_port));
	struct tl_sender *s;
	assert_int_equal(tl_sender_open(to, 9, NULL, &s), 0);
	assert_int_equal(tl_sender_define(s, 1, "temp", NULL, 0, DP_WIRE_F64), 0);
	for (int i = 0; i < 100; i++)   /* 100 points: two 1472-byte frames */
		assert_int_equal(tl_sender_point(s, 1, i, (union st_value){.f64 = i / 2.0}), 0);
	assert_int_equal(tl_sender_close(s), 0);
	int points = 0;
	struct dp_frame_rec *rec = malloc(sizeof(*rec));
	for (int i = 0; i < 2; i++) {
		ssize_t n = recv(rx, dgbuf, sizeof(dgbuf), 0);
		assert_true(n > 0 && n <= (ssize_t)TL_SENDER_DATAGRAM_DEFAULT);
		struct dp_frame f;
		assert_int_equal(dp_frame_open(&f, dgbuf, (size_t)n), DP_FRAME_OK);
		assert_int_equal(f.seq, (uint64_t)i);
		while (dp_frame_next(&f, rec) == DP_FRAME_OK)
			points += rec->kind == DP_WIRE_POINT;
	}
	assert_int_equal(points, 100);
	free(rec);
	close(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tl_traffic__receiver_model),
		cmocka_unit_test(test_tl_traffic__deterministic),
		cmocka_unit_test(test_tl_traffic__line_stream),
		cmocka_unit_test(test_tl_traffic__redef_rounds),
		cmocka_unit_test(test_tl_traffic__statsd_dialect),
		cmocka_unit_test(test_tl_traffic__bad_config),
		cmocka_unit_test(test_tl_manifest__round_trip),
		cmocka_unit_test(test_tl_manifest__rejects),
		cmocka_unit_test(test_tl_manifest__check_value),
		cmocka_unit_test(test_tl_pcap__frames),
		cmocka_unit_test(test_tl_sender__frames),
		cmocka_unit_test(test_tl_sender__rounds_span_frames),
		cmocka_unit_test(test_tl_sender__udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
