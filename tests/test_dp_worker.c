/*
 * test_dp_worker.c - unit tests for dataplane/dp_worker.c, a dataplane
 * core's decode step and poll loop. The decode step (dp_worker_rx_burst) is
 * driven directly with arrays of struct dp_rx_msg, as a backend would
 * deliver them, into a real store (opened in a temp dir) and a real StatsD
 * aggregator; each case flushes, reads the store back and checks the
 * worker's counters (dp_worker_stats_add):
 *   - line protocol: several lines with escapes and every field type, a
 *     string field (dropped, counted), bad lines (counted by reason, the
 *     rest of the datagram stored), a line without a timestamp (the receive
 *     time), precision (unit_ns), bursts flushed when full and when the key
 *     arena is;
 *   - binary frames: DEF then POINTs, unknown refs, type mismatches,
 *     duplicate frames, gaps and late frames (sf_binary_seq points), bad
 *     CRCs, and a DEF redefinition while points of the old key are pending
 *     in the burst (meant to run under ASan too);
 *   - StatsD: lines to the aggregator, bad lines by reason, events;
 *   - the loss-accounting identity points_in == points_stored +
 *     sum(rejected[]) with store rejections, msgs and bytes per protocol,
 *     and per-sender counts;
 *   - dp_worker_run on a thread with an injector: a batch submitted from
 *     the test thread is drained, counted and readable.
 *
 * The rx_burst cases use a store without WAL (durability none); the loop
 * case uses the WAL (interval) and is skipped when io_uring is unavailable.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "dp_agg.h"
#include "dp_binsrc.h"
#include "dp_frame.h"
#include "dp_inject.h"
#include "dp_worker.h"
#include "st_io.h"
#include "st_series.h"
#include "st_store.h"
#include "tst_util.h"

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})
#define T0 (1451606400LL * CM_NS_PER_SEC) /* 2016-01-01 */

/* ============================================================== fixture */

struct fx {
	char dir[256];
	struct st_rcu *rcu;
	struct st_store_cfg scfg;
	struct st_store *st;
	struct dp_agg *agg;
	struct dp_worker_cfg wcfg;
	struct dp_worker *w;
	int reader;
	uint8_t frame[DP_WIRE_FRAME_MAX_BYTES];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_non_null(tst_tmpdir(f->dir, sizeof(f->dir), "dp_worker"));
	assert_int_equal(st_rcu_create(8, &f->rcu), 0);
	f->reader = st_rcu_reader_register(f->rcu);
	assert_true(f->reader >= 0);
	tst_store_cfg(&f->scfg, f->dir, f->rcu);
	struct st_shard_cfg sh;
	st_shard_cfg_default(&sh);
	f->scfg.shard.ooo_window_ns = sh.ooo_window_ns; /* the too-old case needs the default */
	f->scfg.wal.durability = ST_WAL_NONE;
	f->scfg.wal.io_thread = false;
	f->scfg.wal.fsync_interval_ns = 2 * CM_NS_PER_MS;
	f->scfg.wal.segment_bytes = 16u << 20;
	f->scfg.wal.buffer_bytes = 1u << 20;
	struct dp_agg_cfg acfg;
	dp_agg_cfg_default(&acfg);
	assert_int_equal(dp_agg_create(&acfg, -1, &f->agg), 0);
	f->wcfg = (struct dp_worker_cfg){
		.id = 0,
		.backend = NULL,
		.inject = NULL,
		.agg = f->agg,
		.burst_points = 256,
		.inject_points = 65536,
		.idle_wait_ns = 100 * CM_NS_PER_US,
		.binary_max_sources = 16,
		.binary_max_refs = 1024,
	};
	*state = f;
	return 0;
}

/* Open the store and create the worker (after a case adjusted the configs). */
static void fx_start(struct fx *f)
{
	struct st_store_recovery rec;
	assert_int_equal(st_store_open(&f->scfg, &f->st, &rec), 0);
	f->wcfg.store = f->st;
	assert_int_equal(dp_worker_create(&f->wcfg, &f->w), 0);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	dp_worker_destroy(f->w);
	st_store_close(f->st);
	dp_agg_destroy(f->agg);
	st_rcu_reader_unregister(f->rcu, f->reader);
	st_rcu_destroy(f->rcu);
	tst_rm_tree(f->dir);
	free(f);
	return 0;
}

/* ============================================================== helpers */

/* A message from IPv4 source 10.0.0.<host> (as ::ffff:10.0.0.host). */
static struct dp_rx_msg msg(uint8_t proto, uint8_t host, const void *buf, size_t len)
{
	struct dp_rx_msg m;
	memset(&m, 0, sizeof(m));
	m.buf = buf;
	m.len = (uint32_t)len;
	m.proto = proto;
	m.flags = DP_RX_COMPLETE;
	m.src_port = 40000;
	m.src_addr[10] = 0xff;
	m.src_addr[11] = 0xff;
	m.src_addr[12] = 10;
	m.src_addr[15] = host;
	return m;
}

static void send_text(struct fx *f, uint8_t proto, uint8_t host, const char *text)
{
	struct dp_rx_msg m = msg(proto, host, text, strlen(text));
	dp_worker_rx_burst(f->w, &m, 1);
}

static struct dp_worker_stats stats(const struct fx *f)
{
	struct dp_worker_stats s;
	memset(&s, 0, sizeof(s));
	dp_worker_stats_add(f->w, &s);
	return s;
}

static uint64_t sum_rejected(const struct dp_worker_stats *s)
{
	uint64_t n = 0;
	for (int i = 0; i < ST_INS__COUNT; i++)
		n += s->rejected[i];
	return n;
}

/* The loss-accounting identity of the store stage. */
static void assert_balanced(const struct dp_worker_stats *s)
{
	assert_int_equal(s->points_in, s->points_stored + sum_rejected(s));
}

/*
 * Key of (name, field, tags as "k", "v", ... NULL): built by st_key_build
 * from the unescaped names.
 */
static int key_of(uint8_t *out, const char *name, const char *field, ...)
{
	struct st_tag t[8];
	uint32_t n = 0;
	va_list ap;
	va_start(ap, field);
	for (const char *k; (k = va_arg(ap, const char *)) != NULL; n++) {
		const char *v = va_arg(ap, const char *);
		t[n] = (struct st_tag){{k, (uint32_t)strlen(k)}, {v, (uint32_t)strlen(v)}};
	}
	va_end(ap);
	int kl = st_key_build(out, ST_KEY_MAX, (struct st_str){name, (uint32_t)strlen(name)},
			      (struct st_str){field, (uint32_t)strlen(field)}, t, n);
	assert_true(kl > 0);
	return kl;
}

/* Read the whole series with key key[kl] into p; -1 when there is none. */
static int read_key(struct fx *f, const uint8_t *key, int kl, struct st_points *p)
{
	st_points_init(p);
	struct st_shard *sh = st_store_shard(f->st);
	st_read_begin(f->rcu, f->reader);
	int rc = -1;
	uint32_t n = st_shard_series_count(sh);
	for (uint32_t id = 0; id < n; id++) {
		uint32_t l;
		const uint8_t *k = st_shard_series_key(sh, id, &l, NULL);
		if (l == (uint32_t)kl && !memcmp(k, key, l)) {
			rc = st_store_read(f->st, id, INT64_MIN, INT64_MAX, p);
			assert_true(rc >= 0);
			break;
		}
	}
	st_read_end(f->rcu, f->reader);
	return rc;
}

/* The series has exactly one point (ts, value bits); returns its ts. */
static int64_t assert_one(struct fx *f, const uint8_t *key, int kl, uint64_t bits)
{
	struct st_points p;
	assert_int_equal(read_key(f, key, kl, &p), 1);
	assert_true(p.vals[0] == bits);
	int64_t ts = p.ts[0];
	st_points_release(&p);
	return ts;
}

static uint64_t f64bits(double d)
{
	uint64_t b;
	memcpy(&b, &d, 8);
	return b;
}

static void assert_no_series(struct fx *f, const uint8_t *key, int kl)
{
	struct st_points p;
	assert_int_equal(read_key(f, key, kl, &p), -1);
	st_points_release(&p);
}

/* ========================================================= line protocol */

static void test_dp_worker__line_protocol(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	const char *dgram =
		"weather,location=us\\ west,site=3 temp=82.5,hum=51i,cnt=7u,ok=t,note=\"dry\" "
		"1465839830100400200\n"
		"my\\,meas,tag\\=k=v\\=x f\\ 1=1.5,neg=-3i 1465839830100400201\n"
		"cpu,host= v=1 1465839830100400202\n"
		"cpu v=abc 1465839830100400203\n"
		"\n"
		"notime,h=a v=2i\n"
		"last,h=b v=false 1465839830100400204";
	int64_t before = cm_now_ns();
	send_text(f, DP_PROTO_LINE, 1, dgram);
	int64_t after = cm_now_ns();
	dp_worker_flush(f->w);

	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.line[DP_LINE_OK], 4);
	assert_int_equal(s.line[DP_LINE_BAD_TAG], 1);
	assert_int_equal(s.line[DP_LINE_BAD_VALUE], 1);
	assert_int_equal(s.line[DP_LINE_EMPTY], 1);
	assert_int_equal(s.line_values, 5 + 2 + 1 + 1);
	assert_int_equal(s.dropped[DP_WD_STRING_FIELD], 1);
	assert_int_equal(s.points_in, 8);
	assert_int_equal(s.points_stored, 8);
	assert_balanced(&s);
	assert_int_equal(s.msgs[DP_PROTO_LINE], 1);
	assert_int_equal(s.bytes[DP_PROTO_LINE], strlen(dgram));
	assert_int_equal(s.msgs[DP_PROTO_STATSD] + s.msgs[DP_PROTO_BINARY], 0);

	uint8_t k[ST_KEY_MAX];
	int kl;
	const int64_t t = 1465839830100400200LL;
	kl = key_of(k, "weather", "temp", "site", "3", "location", "us west", NULL);
	assert_int_equal(assert_one(f, k, kl, f64bits(82.5)), t);
	kl = key_of(k, "weather", "hum", "location", "us west", "site", "3", NULL);
	assert_int_equal(assert_one(f, k, kl, 51), t);
	kl = key_of(k, "weather", "cnt", "location", "us west", "site", "3", NULL);
	assert_int_equal(assert_one(f, k, kl, 7), t);
	kl = key_of(k, "weather", "ok", "location", "us west", "site", "3", NULL);
	assert_int_equal(assert_one(f, k, kl, 1), t);
	kl = key_of(k, "weather", "note", "location", "us west", "site", "3", NULL);
	assert_no_series(f, k, kl);
	kl = key_of(k, "my,meas", "f 1", "tag=k", "v=x", NULL);
	assert_int_equal(assert_one(f, k, kl, f64bits(1.5)), t + 1);
	kl = key_of(k, "my,meas", "neg", "tag=k", "v=x", NULL);
	assert_int_equal(assert_one(f, k, kl, (uint64_t)-3), t + 1);
	kl = key_of(k, "last", "v", "h", "b", NULL);
	assert_int_equal(assert_one(f, k, kl, 0), t + 4);
	/* no timestamp: the receive time of the burst */
	kl = key_of(k, "notime", "v", "h", "a", NULL);
	int64_t ts = assert_one(f, k, kl, 2);
	assert_true(ts >= before && ts <= after);
	/* nothing of the bad lines */
	kl = key_of(k, "cpu", "v", NULL);
	assert_no_series(f, k, kl);
	assert_int_equal(st_shard_series_count(st_store_shard(f->st)), 8);

	/* the sender: one message, two bad lines */
	struct dp_worker_sender snd[4];
	uint64_t om, ob;
	assert_int_equal(dp_worker_senders(f->w, snd, 4, &om, &ob), 1);
	assert_int_equal(snd[0].proto, DP_PROTO_LINE);
	assert_int_equal(snd[0].msgs, 1);
	assert_int_equal(snd[0].bad, 2);
	assert_int_equal(om + ob, 0);
}

static void test_dp_worker__line_precision(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	const char *dgram = "u,h=a v=1 1465839830100400\nn,h=a v=2\n";
	struct dp_rx_msg m = msg(DP_PROTO_LINE, 1, dgram, strlen(dgram));
	m.unit_ns = 1000; /* line.*_precision = u */
	int64_t before = cm_now_ns();
	dp_worker_rx_burst(f->w, &m, 1);
	int64_t after = cm_now_ns();
	dp_worker_flush(f->w);
	uint8_t k[ST_KEY_MAX];
	int kl = key_of(k, "u", "v", "h", "a", NULL);
	assert_int_equal(assert_one(f, k, kl, f64bits(1)), 1465839830100400000LL);
	/* the receive time is not scaled */
	kl = key_of(k, "n", "v", "h", "a", NULL);
	int64_t ts = assert_one(f, k, kl, f64bits(2));
	assert_true(ts >= before && ts <= after);
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.points_stored, 2);
	assert_balanced(&s);
}

/*
 * Many points in one burst call: the burst is handed to the store whenever
 * it holds burst_points, and whenever the key arena could not take another
 * key (2 KiB keys here); every point arrives.
 */
static void test_dp_worker__bursts_flush_when_full(void **state)
{
	struct fx *f = *state;
	f->wcfg.burst_points = 1024;
	fx_start(f);
	enum { NLINES = 700 };
	char big[2001];
	memset(big, 'x', 2000);
	big[2000] = 0;
	size_t cap = NLINES * 2100;
	char *buf = malloc(cap);
	assert_non_null(buf);
	size_t len = 0;
	for (int i = 0; i < NLINES; i++)
		len += (size_t)snprintf(buf + len, cap - len, "m%d,big=%s,i=%d v=%di,w=%d %lld\n",
					i % 50, big, i, i, i, (long long)(T0 + i));
	struct dp_rx_msg m = msg(DP_PROTO_LINE, 1, buf, len);
	dp_worker_rx_burst(f->w, &m, 1);
	dp_worker_flush(f->w);
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.line[DP_LINE_OK], NLINES);
	assert_int_equal(s.points_in, 2 * NLINES);
	assert_int_equal(s.points_stored, 2 * NLINES);
	uint8_t k[ST_KEY_MAX];
	for (int i = 0; i < NLINES; i++) {
		char meas[16], iv[16];
		snprintf(meas, sizeof(meas), "m%d", i % 50);
		snprintf(iv, sizeof(iv), "%d", i);
		int kl = key_of(k, meas, "v", "big", big, "i", iv, NULL);
		assert_int_equal(assert_one(f, k, kl, (uint64_t)i), T0 + i);
		kl = key_of(k, meas, "w", "big", big, "i", iv, NULL);
		assert_int_equal(assert_one(f, k, kl, f64bits(i)), T0 + i);
	}
	free(buf);
}

/* ========================================================= binary frames */

/* Start a frame in f->frame. */
static void fw_init(struct fx *f, struct dp_frame_writer *fw, uint32_t src, uint64_t seq)
{
	assert_int_equal(dp_frame_writer_init(fw, f->frame, sizeof(f->frame), src, seq), 0);
}

static void fw_point(struct dp_frame_writer *fw, uint32_t ref, uint8_t type, int64_t ts, double v)
{
	union st_value u;
	if (type == DP_WIRE_F64)
		u.f64 = v;
	else
		u.i64 = (int64_t)v;
	assert_int_equal(dp_frame_writer_point(fw, ref, type, ts, u), 0);
}

static void send_frame(struct fx *f, struct dp_frame_writer *fw)
{
	size_t len = dp_frame_writer_finish(fw);
	struct dp_rx_msg m = msg(DP_PROTO_BINARY, 7, f->frame, len);
	dp_worker_rx_burst(f->w, &m, 1);
}

static void test_dp_worker__binary_frames(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	const struct st_tag tags[] = {{S("venue"), S("x")}, {S("sym"), S("ABC")}};
	struct dp_frame_writer fw;
	size_t bytes = 0;

	/* seq 100: two DEFs, points of both, an unknown ref, a type mismatch */
	fw_init(f, &fw, 7, 100);
	assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_F64, S("px"), tags, 2), 0);
	assert_int_equal(dp_frame_writer_def(&fw, 2, DP_WIRE_I64, S("qty"), tags + 1, 1), 0);
	fw_point(&fw, 1, DP_WIRE_F64, T0, 1.5);
	fw_point(&fw, 2, DP_WIRE_I64, T0, 10);
	fw_point(&fw, 3, DP_WIRE_F64, T0, 99);      /* no DEF: unknown_ref */
	fw_point(&fw, 1, DP_WIRE_I64, T0 + 50, 7);  /* DEF says F64: type_mismatch */
	send_frame(f, &fw);
	bytes += fw.len;
	/* seq 101, twice: the second is a duplicate, its point not stored again */
	fw_init(f, &fw, 7, 101);
	fw_point(&fw, 1, DP_WIRE_F64, T0 + 1, 2.5);
	send_frame(f, &fw);
	send_frame(f, &fw);
	bytes += 2 * fw.len;
	/* seq 105: 102..104 missing (a gap of 3); then 103 arrives late */
	int64_t before = cm_now_ns();
	fw_init(f, &fw, 7, 105);
	fw_point(&fw, 1, DP_WIRE_F64, T0 + 5, 5.5);
	send_frame(f, &fw);
	bytes += fw.len;
	fw_init(f, &fw, 7, 103);
	fw_point(&fw, 1, DP_WIRE_F64, T0 + 3, 3.5);
	send_frame(f, &fw);
	int64_t after = cm_now_ns();
	bytes += fw.len;
	/* a frame with a bad CRC: nothing of it is used */
	fw_init(f, &fw, 7, 106);
	fw_point(&fw, 1, DP_WIRE_F64, T0 + 6, 6.5);
	size_t len = dp_frame_writer_finish(&fw);
	f->frame[len - 1] ^= 0x40;
	struct dp_rx_msg bad = msg(DP_PROTO_BINARY, 7, f->frame, len);
	dp_worker_rx_burst(f->w, &bad, 1);
	bytes += len;
	dp_worker_flush(f->w);

	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.msgs[DP_PROTO_BINARY], 6);
	assert_int_equal(s.bytes[DP_PROTO_BINARY], bytes);
	assert_int_equal(s.frame[DP_FRAME_OK], 5);
	assert_int_equal(s.frame[DP_FRAME_BAD_CRC], 1);
	assert_int_equal(s.frame_seq[DP_SEQ_NEW], 2);
	assert_int_equal(s.frame_seq[DP_SEQ_DUPLICATE], 1);
	assert_int_equal(s.frame_seq[DP_SEQ_GAP], 1);
	assert_int_equal(s.frame_seq[DP_SEQ_LATE], 1);
	assert_int_equal(s.frame_missing, 3);
	assert_int_equal(s.binary_defs, 2);
	assert_int_equal(s.binary_values, 4 + 1 + 1 + 1 + 1);
	assert_int_equal(s.dropped[DP_WD_UNKNOWN_REF], 1);
	assert_int_equal(s.dropped[DP_WD_TYPE_MISMATCH], 1);
	assert_int_equal(s.dropped[DP_WD_DUP_FRAME], 1);
	assert_int_equal(s.seq_events, 2);
	/* 2 + 1 + 1 + 1 points and the two sequence events */
	assert_int_equal(s.points_in, 7);
	assert_int_equal(s.points_stored, 7);
	assert_balanced(&s);
	/* every decoded value stored or dropped by cause */
	assert_int_equal(s.binary_values, s.points_in - s.seq_events +
						  s.dropped[DP_WD_UNKNOWN_REF] +
						  s.dropped[DP_WD_TYPE_MISMATCH] +
						  s.dropped[DP_WD_DUP_FRAME]);

	uint8_t k[ST_KEY_MAX];
	int kl = key_of(k, "px", "value", "sym", "ABC", "venue", "x", NULL);
	struct st_points p;
	assert_int_equal(read_key(f, k, kl, &p), 4);
	const int64_t want_ts[] = {T0, T0 + 1, T0 + 3, T0 + 5};
	const double want_v[] = {1.5, 2.5, 3.5, 5.5};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p.ts[i], want_ts[i]);
		assert_true(p.vals[i] == f64bits(want_v[i]));
	}
	st_points_release(&p);
	kl = key_of(k, "qty", "value", "sym", "ABC", NULL);
	assert_int_equal(assert_one(f, k, kl, 10), T0);
	/* the sequence events of source 7 */
	kl = key_of(k, "sf_binary_seq", "gap", "source", "7", NULL);
	int64_t tg = assert_one(f, k, kl, f64bits(3));
	kl = key_of(k, "sf_binary_seq", "late", "source", "7", NULL);
	int64_t tl = assert_one(f, k, kl, f64bits(1));
	assert_true(tg >= before && tg <= after + 1);
	assert_true(tl > tg && tl <= after + 2); /* distinct times per source */
	assert_int_equal(st_shard_series_count(st_store_shard(f->st)), 4);

	/* the source's own counters */
	const struct dp_binsrc *bs = dp_worker_binsrc(f->w);
	const struct dp_binsrc_source *src = dp_binsrc_source_at(bs, 0);
	assert_non_null(src);
	assert_int_equal(src->id, 7);
	assert_int_equal(src->ctr[DP_BSC_FRAMES], 4);
	assert_int_equal(src->ctr[DP_BSC_DUP_FRAMES], 1);
	assert_int_equal(src->ctr[DP_BSC_POINTS], 8);
	assert_int_equal(src->ctr[DP_BSC_UNKNOWN_REF], 1);
	assert_int_equal(src->ctr[DP_BSC_TYPE_MISMATCH], 1);
	assert_null(dp_binsrc_source_at(bs, 1));
	/* binary senders are accounted per source, not per address */
	struct dp_worker_sender snd[4];
	uint64_t om, ob;
	assert_int_equal(dp_worker_senders(f->w, snd, 4, &om, &ob), 0);
}

/*
 * A DEF that changes a ref's series frees the old key; points of the old
 * key still in the burst must have reached the store first. Both in one
 * frame and across two frames of one burst call (run this under ASan).
 */
static void test_dp_worker__redefinition_with_pending_points(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	static uint8_t a[DP_WIRE_FRAME_MAX_BYTES], b[DP_WIRE_FRAME_MAX_BYTES];
	struct dp_frame_writer fw;
	/* frame 1: DEF ref 1 = old, 100 points, DEF ref 1 = mid, 100 points */
	assert_int_equal(dp_frame_writer_init(&fw, a, sizeof(a), 9, 1), 0);
	assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_F64, S("old"), NULL, 0), 0);
	for (int i = 0; i < 100; i++)
		fw_point(&fw, 1, DP_WIRE_F64, T0 + i, i);
	assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_F64, S("mid_with_a_longer_name"),
					     NULL, 0),
			 0);
	for (int i = 100; i < 200; i++)
		fw_point(&fw, 1, DP_WIRE_F64, T0 + i, i);
	size_t la = dp_frame_writer_finish(&fw);
	/* frame 2: DEF ref 1 = new, 100 points */
	assert_int_equal(dp_frame_writer_init(&fw, b, sizeof(b), 9, 2), 0);
	assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_F64, S("new"), NULL, 0), 0);
	for (int i = 200; i < 300; i++)
		fw_point(&fw, 1, DP_WIRE_F64, T0 + i, i);
	size_t lb = dp_frame_writer_finish(&fw);
	struct dp_rx_msg m[2] = {msg(DP_PROTO_BINARY, 9, a, la), msg(DP_PROTO_BINARY, 9, b, lb)};
	dp_worker_rx_burst(f->w, m, 2);
	dp_worker_flush(f->w);

	struct dp_binsrc_stats bs;
	dp_binsrc_stats_read(dp_worker_binsrc(f->w), &bs);
	assert_int_equal(bs.redefined, 2);
	const char *names[] = {"old", "mid_with_a_longer_name", "new"};
	uint8_t k[ST_KEY_MAX];
	for (int n = 0; n < 3; n++) {
		int kl = key_of(k, names[n], "value", NULL);
		struct st_points p;
		assert_int_equal(read_key(f, k, kl, &p), 100);
		for (int i = 0; i < 100; i++) {
			assert_int_equal(p.ts[i], T0 + n * 100 + i);
			assert_true(p.vals[i] == f64bits(n * 100 + i));
		}
		st_points_release(&p);
	}
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.points_in, 300);
	assert_int_equal(s.points_stored, 300);
	assert_int_equal(s.binary_defs, 3);
}

/* ================================================================ StatsD */

static void test_dp_worker__statsd(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	const char *dgram = "a.b:1|c\n"
			    "req:12|ms|@0.5|#env:prod\n"
			    "bad:xx|c\n"
			    "_e{5,4}:title|text\n"
			    "g:3|g\n"
			    "pk:1:2:3|h";
	send_text(f, DP_PROTO_STATSD, 2, dgram);
	dp_worker_flush(f->w);
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.statsd[DP_STATSD_OK], 4);
	assert_int_equal(s.statsd[DP_STATSD_BAD_VALUE], 1);
	assert_int_equal(s.statsd[DP_STATSD_EVENT], 1);
	assert_int_equal(s.statsd_values, 6);
	assert_int_equal(s.statsd_aggregated, 6);
	assert_int_equal(s.msgs[DP_PROTO_STATSD], 1);
	assert_int_equal(s.bytes[DP_PROTO_STATSD], strlen(dgram));
	/* StatsD values reach the store through the aggregator's flush, not here */
	assert_int_equal(s.points_in, 0);
	struct dp_agg_stats as;
	dp_agg_stats_read(f->agg, &as);
	assert_int_equal(as.values, 6);
	assert_int_equal(as.lines[DP_STATSD_COUNTER], 1);
	assert_int_equal(as.lines[DP_STATSD_TIMER], 1);
	assert_int_equal(as.lines[DP_STATSD_GAUGE], 1);
	assert_int_equal(as.lines[DP_STATSD_HISTOGRAM], 1);
	/* the event is not a bad line: one bad line for the sender */
	struct dp_worker_sender snd[4];
	uint64_t om, ob;
	assert_int_equal(dp_worker_senders(f->w, snd, 4, &om, &ob), 1);
	assert_int_equal(snd[0].proto, DP_PROTO_STATSD);
	assert_int_equal(snd[0].msgs, 1);
	assert_int_equal(snd[0].bad, 1);
}

static void test_dp_worker__statsd_without_aggregator(void **state)
{
	struct fx *f = *state;
	f->wcfg.agg = NULL;
	fx_start(f);
	send_text(f, DP_PROTO_STATSD, 2, "a:1|c\nb:1:2|ms\n");
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.statsd[DP_STATSD_OK], 2);
	assert_int_equal(s.statsd_values, 3);
	assert_int_equal(s.statsd_aggregated, 0);
	assert_int_equal(s.dropped[DP_WD_NO_AGG], 3);
}

/* =========================================================== accounting */

static void test_dp_worker__accounting_identity(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	char l1[256], l2[256];
	/* tc: float first, then int (type_conflict); old: far behind its newest (too_old) */
	snprintf(l1, sizeof(l1), "tc,h=a v=1.5 %lld\nold,h=a v=1 %lld\nok,h=a v=1i %lld\n",
		 (long long)T0, (long long)(T0 + 10 * 3600 * CM_NS_PER_SEC), (long long)T0);
	snprintf(l2, sizeof(l2), "tc,h=a v=2i %lld\nold,h=a v=2 %lld\nok,h=a v=2i %lld\nbad v=\n",
		 (long long)(T0 + 1), (long long)T0, (long long)(T0 + 1));
	const char *sd = "c:1|c\nbad|c\n";
	struct dp_frame_writer fw;
	fw_init(f, &fw, 3, 0);
	assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_I64, S("bin"), NULL, 0), 0);
	fw_point(&fw, 1, DP_WIRE_I64, T0, 1);
	fw_point(&fw, 2, DP_WIRE_I64, T0, 1); /* unknown ref */
	size_t flen = dp_frame_writer_finish(&fw);
	struct dp_rx_msg m[4] = {
		msg(DP_PROTO_LINE, 1, l1, strlen(l1)),
		msg(DP_PROTO_STATSD, 2, sd, strlen(sd)),
		msg(DP_PROTO_BINARY, 3, f->frame, flen),
		msg(DP_PROTO_LINE, 1, l2, strlen(l2)),
	};
	dp_worker_rx_burst(f->w, m, 4);
	dp_worker_flush(f->w);

	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.rejected[ST_INS_TYPE_CONFLICT], 1);
	assert_int_equal(s.rejected[ST_INS_TOO_OLD], 1);
	assert_int_equal(s.rejected[ST_INS_OK] + s.rejected[ST_INS_OOO], 0);
	assert_int_equal(s.points_in, 6 + 1);
	assert_int_equal(s.points_stored, 4 + 1);
	assert_balanced(&s);
	assert_int_equal(s.line_values, s.points_in - 1 + s.dropped[DP_WD_STRING_FIELD]);
	assert_int_equal(s.msgs[DP_PROTO_LINE], 2);
	assert_int_equal(s.msgs[DP_PROTO_STATSD], 1);
	assert_int_equal(s.msgs[DP_PROTO_BINARY], 1);
	assert_int_equal(s.bytes[DP_PROTO_LINE], strlen(l1) + strlen(l2));
	assert_int_equal(s.bytes[DP_PROTO_STATSD], strlen(sd));
	assert_int_equal(s.bytes[DP_PROTO_BINARY], flen);
	assert_int_equal(s.dropped[DP_WD_UNKNOWN_REF], 1);
	/* the store's own counters agree */
	struct st_shard_stats sh;
	st_shard_stats_read(st_store_shard(f->st), &sh);
	assert_int_equal(sh.rejected[ST_INS_TYPE_CONFLICT], 1);
	assert_int_equal(sh.rejected[ST_INS_TOO_OLD], 1);
	/* what was stored: the first tc point, both ok points, the newer old point */
	uint8_t k[ST_KEY_MAX];
	int kl = key_of(k, "tc", "v", "h", "a", NULL);
	assert_int_equal(assert_one(f, k, kl, f64bits(1.5)), T0);
	kl = key_of(k, "old", "v", "h", "a", NULL);
	assert_int_equal(assert_one(f, k, kl, f64bits(1)), T0 + 10 * 3600 * CM_NS_PER_SEC);
	struct st_points p;
	kl = key_of(k, "ok", "v", "h", "a", NULL);
	assert_int_equal(read_key(f, k, kl, &p), 2);
	st_points_release(&p);
}

/* Per-sender counts: two addresses, and a protocol is part of a sender. */
static void test_dp_worker__senders(void **state)
{
	struct fx *f = *state;
	fx_start(f);
	const char *good = "s,h=a v=1\n", *bad = "s,h=a v=1\ns,h= v=2\ns v=x\n";
	struct dp_rx_msg m[5] = {
		msg(DP_PROTO_LINE, 1, good, strlen(good)),
		msg(DP_PROTO_LINE, 1, bad, strlen(bad)),
		msg(DP_PROTO_LINE, 2, good, strlen(good)),
		msg(DP_PROTO_STATSD, 2, "x:1|c\nbad\n", 10),
		msg(DP_PROTO_LINE, 1, good, strlen(good)),
	};
	dp_worker_rx_burst(f->w, m, 5);
	struct dp_worker_sender snd[8];
	uint64_t om = 9, ob = 9;
	uint32_t n = dp_worker_senders(f->w, snd, 8, &om, &ob);
	assert_int_equal(n, 3);
	assert_int_equal(om, 0);
	assert_int_equal(ob, 0);
	bool seen[3] = {false};
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(snd[i].addr[10], 0xff);
		assert_int_equal(snd[i].addr[12], 10);
		uint8_t host = snd[i].addr[15];
		if (host == 1 && snd[i].proto == DP_PROTO_LINE) {
			assert_int_equal(snd[i].msgs, 3);
			assert_int_equal(snd[i].bad, 2);
			seen[0] = true;
		} else if (host == 2 && snd[i].proto == DP_PROTO_LINE) {
			assert_int_equal(snd[i].msgs, 1);
			assert_int_equal(snd[i].bad, 0);
			seen[1] = true;
		} else if (host == 2 && snd[i].proto == DP_PROTO_STATSD) {
			assert_int_equal(snd[i].msgs, 1);
			assert_int_equal(snd[i].bad, 1);
			seen[2] = true;
		} else {
			fail_msg("unexpected sender host %u proto %u", host, snd[i].proto);
		}
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	/* a short output array: the first cap senders */
	assert_int_equal(dp_worker_senders(f->w, snd, 1, &om, &ob), 1);

	/* more senders than slots: the rest are "other", and every message is somewhere */
	struct dp_rx_msg many[200];
	for (int i = 0; i < 200; i++) {
		many[i] = msg(DP_PROTO_LINE, 0, bad, strlen(bad));
		many[i].src_addr[13] = (uint8_t)(1 + i);
	}
	dp_worker_rx_burst(f->w, many, 200);
	struct dp_worker_sender all[DP_WORKER_SENDERS];
	n = dp_worker_senders(f->w, all, DP_WORKER_SENDERS, &om, &ob);
	assert_true(n <= DP_WORKER_SENDERS && om > 0);
	uint64_t msgs = om, nbad = ob;
	for (uint32_t i = 0; i < n; i++) {
		msgs += all[i].msgs;
		nbad += all[i].bad;
	}
	assert_int_equal(msgs, 5 + 200);
	assert_int_equal(nbad, 3 + 2 * 200);
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.msgs[DP_PROTO_LINE] + s.msgs[DP_PROTO_STATSD], msgs);
}

/* A source the table has no room for: its frames are checked, its points dropped and counted. */
static void test_dp_worker__binary_source_table_full(void **state)
{
	struct fx *f = *state;
	f->wcfg.binary_max_sources = 1;
	fx_start(f);
	struct dp_frame_writer fw;
	for (uint32_t src = 1; src <= 2; src++) {
		fw_init(f, &fw, src, 0);
		assert_int_equal(dp_frame_writer_def(&fw, 1, DP_WIRE_F64, S("sf"), NULL, 0), 0);
		fw_point(&fw, 1, DP_WIRE_F64, T0, 1);
		fw_point(&fw, 1, DP_WIRE_F64, T0 + 1, 2);
		send_frame(f, &fw);
	}
	dp_worker_flush(f->w);
	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.frame[DP_FRAME_OK], 2);
	assert_int_equal(s.frame_seq[DP_SEQ_NEW], 1);
	assert_int_equal(s.binary_values, 4);
	assert_int_equal(s.dropped[DP_WD_SOURCE_FULL], 2);
	assert_int_equal(s.points_in, 2);
	assert_int_equal(s.points_stored, 2);
	struct dp_binsrc_stats bs;
	dp_binsrc_stats_read(dp_worker_binsrc(f->w), &bs);
	assert_int_equal(bs.sources, 1);
	assert_int_equal(bs.sources_full, 1);
}

static void test_dp_worker__create_rejects(void **state)
{
	struct fx *f = *state;
	struct dp_worker *w = NULL;
	struct dp_worker_cfg c = f->wcfg;
	c.store = NULL;
	assert_int_equal(dp_worker_create(&c, &w), -EINVAL);
	fx_start(f);
	c = f->wcfg;
	c.burst_points = 0;
	assert_int_equal(dp_worker_create(&c, &w), -EINVAL);
	c.burst_points = 1025;
	assert_int_equal(dp_worker_create(&c, &w), -EINVAL);
	c = f->wcfg;
	c.binary_max_sources = 0;
	assert_int_equal(dp_worker_create(&c, &w), -EINVAL);
	dp_worker_destroy(NULL);
	assert_string_equal(dp_worker_drop_name(DP_WD_STRING_FIELD), "string_field");
	assert_string_equal(dp_worker_drop_name(DP_WD__COUNT), "unknown");
}

/* ============================================================== the loop */

struct runner {
	struct dp_worker *w;
	int rc;
};

static void *run_main(void *arg)
{
	struct runner *r = arg;
	r->rc = dp_worker_run(r->w);
	return NULL;
}

static void test_dp_worker__run_drains_injection(void **state)
{
	struct fx *f = *state;
	if (tst_uring_probe() != 0)
		skip(); /* the WAL needs io_uring */
	f->scfg.wal.durability = ST_WAL_INTERVAL;
	struct dp_inject *inj;
	assert_int_equal(dp_inject_create(2, 8, &inj), 0);
	f->wcfg.inject = inj;
	f->wcfg.inject_points = 1024;
	fx_start(f);
	struct runner r = {.w = f->w, .rc = -1};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, run_main, &r), 0);

	int slot = dp_inject_writer_claim(inj);
	assert_true(slot >= 0);
	struct dp_inject_batch *b, *b2;
	assert_int_equal(dp_inject_batch_create(3000, 3000 * 64, &b), 0);
	assert_int_equal(dp_inject_batch_create(10, 640, &b2), 0);
	uint8_t k[ST_KEY_MAX];
	int kl = key_of(k, "inj", "v", "h", "a", NULL);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(dp_inject_batch_add(b, k, (uint32_t)kl, st_key_hash(k, (size_t)kl),
						     T0 + i, ST_VT_I64, (union st_value){.i64 = i}),
				 0);
	assert_int_equal(dp_inject_submit(inj, slot, b), 0);
	assert_int_equal(dp_inject_wait(b, f->st, true, 20 * CM_NS_PER_SEC), 0);
	assert_int_equal(b->stored, 3000);
	assert_true(b->lsn > 0 && st_store_durable_lsn(f->st) >= b->lsn);
	/* a batch submitted just before the stop is still inserted before run returns */
	for (int i = 0; i < 10; i++)
		assert_int_equal(dp_inject_batch_add(b2, k, (uint32_t)kl, st_key_hash(k, (size_t)kl),
						     T0 + 3000 + i, ST_VT_I64,
						     (union st_value){.i64 = 3000 + i}),
				 0);
	assert_int_equal(dp_inject_submit(inj, slot, b2), 0);
	dp_worker_stop(f->w);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(atomic_load(&b2->done), 1);
	assert_int_equal(b2->stored, 10);

	struct dp_worker_stats s = stats(f);
	assert_int_equal(s.inject_points, 3010);
	assert_true(s.passes > 0);
	assert_int_equal(s.points_in, 0); /* injected points are the injector's to count */
	struct dp_inject_stats is;
	dp_inject_stats_read(inj, &is);
	assert_int_equal(is.batches, 2);
	assert_int_equal(is.stored, 3010);
	struct st_points p;
	assert_int_equal(read_key(f, k, kl, &p), 3010);
	for (int i = 0; i < 3010; i++) {
		assert_int_equal(p.ts[i], T0 + i);
		assert_int_equal(p.vals[i], (uint64_t)i);
	}
	st_points_release(&p);
	dp_inject_batch_destroy(b);
	dp_inject_batch_destroy(b2);
	dp_worker_destroy(f->w);
	f->w = NULL;
	dp_inject_destroy(inj);
}

int main(void)
{
	cm_log_set_level(CM_LOG_WARN);
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_dp_worker__line_protocol),
		T(test_dp_worker__line_precision),
		T(test_dp_worker__bursts_flush_when_full),
		T(test_dp_worker__binary_frames),
		T(test_dp_worker__redefinition_with_pending_points),
		T(test_dp_worker__binary_source_table_full),
		T(test_dp_worker__statsd),
		T(test_dp_worker__statsd_without_aggregator),
		T(test_dp_worker__accounting_identity),
		T(test_dp_worker__senders),
		T(test_dp_worker__create_rejects),
		T(test_dp_worker__run_drains_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
