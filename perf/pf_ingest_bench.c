/*
 * pf_ingest_bench.c - ingest on one core (one worker thread), end to end:
 * messages through dp_worker_rx_burst into a real store, as dp_worker_run
 * drives it (after every burst of RX_BURST messages: dp_worker_flush,
 * dp_agg_poll, st_store_poll). The store is the daemon's: the storage,
 * shard and WAL defaults of the config tables (wal.durability interval,
 * wal.io_thread on, so a WAL I/O thread started with st_walio_start does
 * the encoding) and its flusher thread (st_flush: it keeps a spare WAL
 * segment ready; with the defaults it checkpoints every 5 minutes or at
 * half of shard.memory_limit, which no run here reaches), its data dir under
 * $TMPDIR/streamflow-bench (default /tmp), removed at the end.
 *
 *   ingest_binary_points_per_s      binary frames, 60 POINTs per 1472-byte
 *                                   frame, 100,800 series over 4 sources
 *                                   (DEFs sent once before, not timed)
 *   ingest_statsd_lines_per_s       tl_traffic's StatsD lines (20,000
 *                                   metrics, c g ms h d s, 0-3 tags, rates)
 *                                   repacked into ~1400-byte datagrams,
 *                                   into the worker's dp_agg
 *   ingest_statsd_flush_ns_per_series  request + publish + collect + merge
 *                                   + emit of the aggregator's table after
 *                                   each window, per table entry (emit
 *                                   copies each point into an injection
 *                                   batch, as mg_statsd does; not stored)
 *   ingest_line_values_per_s        TSBS cpu-only (../shared/data/tsbs via
 *                                   pf_dataset) packed into <= 1400-byte
 *                                   datagrams of whole lines; 10 values a line
 *   ingest_dpdk_ring_points_per_s   the DPDK backend (EAL, net_ring vdev,
 *                                   dp_dpdk_create, dp_worker_run on a
 *                                   worker thread); a sender thread puts the
 *                                   same frames as Ethernet/IPv4/UDP mbufs
 *                                   on the ring's TX side (the ring PMD
 *                                   loops TX queue 0 to RX queue 0)
 *   ingest_socket_udp_points_per_s  the socket backend on 127.0.0.1, one
 *                                   worker thread in dp_worker_run, a sender
 *                                   thread with sendmmsg; plus the loss
 *
 * Yardsticks measured in the same run: memcpy of the same datagrams into a
 * 64 KiB receive buffer (bytes/s), and each decoder alone on the same
 * messages (dp_frame_open/next, dp_statsd_decode, dp_line_decode); the
 * ratios say what the rest of the path (keys, lookups, store, WAL staging,
 * aggregation) costs. The binary yardsticks replay one prepared batch (3 MB,
 * in the last-level cache, as the ingest's freshly prepared batches are);
 * StatsD and line protocol read the same pools as their ingest runs. The
 * DPDK and socket figures are compared with the in-process binary figure.
 *
 * Timing: CLOCK_MONOTONIC. In-process paths: warm-up, then reps windows,
 * each until the time spent in the ingest calls reaches the window; the
 * messages are prepared between batches of BATCH_MSGS (untimed: frames get
 * fresh sequence numbers and timestamps, TSBS text fresh timestamps, so the
 * store sees new points in time order and the worker no duplicates). The
 * threaded paths (DPDK, socket) count stored points over wall-clock windows.
 * Points count once stored (a burst the WAL refuses is counted by the worker
 * as rejected, not as ingested). Each figure is the median of the reps, with
 * min and max; '#' lines add the worker thread's CPU share (the machine is
 * shared) and what the store did.
 *
 * Usage: pf_ingest_bench [--seconds S] [--warmup S] [--yard S] [--reps N]
 *                        [--only binary,statsd,line,socket,dpdk]
 *                        [--bin-refs N]   (binary series per source)
 * Nothing is pinned (2 vCPUs: the WAL I/O thread and, for the threaded
 * paths, the sender share them with the worker). Benchmark code: allocates
 * freely, exits on set-up errors.
 */
#define ALLOW_EXPERIMENTAL_API 1 /* rte_thread_register in DPDK 22.11, as dp_dpdk.c */

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_rand.h"
#include "dp_agg.h"
#include "dp_dpdk.h"
#include "dp_frame.h"
#include "dp_inject.h"
#include "dp_line.h"
#include "dp_rx.h"
#include "dp_sock.h"
#include "dp_statsd.h"
#include "dp_worker.h"
#include "pf_dataset.h"
#include "st_flush.h"
#include "st_rcu.h"
#include "st_store.h"
#include "st_walio.h"
#include "tl_pcap.h"
#include "tl_sender.h"
#include "tl_traffic.h"

/* ------------------------------------------------------------------ knobs */

#define TARGET_BINARY 20e6      /* points/s/core */
#define TARGET_STATSD 10e6      /* lines/s/core */
#define TARGET_LINE 15e6        /* values/s/core */

#define RX_BURST 32u            /* messages per dp_worker_rx_burst (DP_SOCK_BURST, dpdk.burst) */
#define BATCH_MSGS 2048u        /* messages between two clock reads */
#define REPS_MAX 16

#define BIN_SOURCES 4u
#define BIN_REFS 25200u         /* per source (--bin-refs): 420 frames of 60 points per round */
#define BIN_PER_FRAME 60u
#define BIN_FRAME_BYTES (32u + BIN_PER_FRAME * DP_WIRE_POINT_BYTES)
#define BIN_ROUNDS 32u          /* rounds in the pool at 25,200 refs: 53,760 frames, 79 MB */
#define BIN_STEP_NS CM_NS_PER_SEC
#define BIN_T0_NS (1700000000LL * CM_NS_PER_SEC)
#define BIN_PORT_DPDK 7100u

static_assert(BIN_FRAME_BYTES == 1472, "a frame is an Ethernet MTU of UDP payload");

#define SD_METRICS 20000u
#define SD_POOL_BYTES (32u << 20)
#define SD_DGRAM_BYTES 1400u
#define LINE_DGRAM_BYTES 1400u
#define DAY_NS (86400LL * CM_NS_PER_SEC)
#define RCVBUF_COPY_BYTES (64u << 10)

static struct {
	double warmup_s, window_s, yard_s;
	int reps;
	const char *only;
	uint32_t bin_refs;
} opt = {1.0, 3.0, 1.0, 3, NULL, BIN_REFS};

static struct st_rcu *rcu;
static struct cm_config *config;
static char tmpdir[560];

static bool wanted(const char *what)
{
	if (!opt.only)
		return true;
	size_t n = strlen(what);
	for (const char *p = opt.only; (p = strstr(p, what)); p += n)
		if ((p == opt.only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "ingest bench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

static uint64_t sum_u64(const uint64_t *v, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

/* ------------------------------------------------------------ repetitions */

struct reps {
	double v[REPS_MAX];
	int n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const struct reps *r)
{
	double s[REPS_MAX];
	memcpy(s, r->v, sizeof(double) * (size_t)r->n);
	qsort(s, (size_t)r->n, sizeof(double), cmp_double);
	return r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
}

static double rmin(const struct reps *r)
{
	double m = r->v[0];
	for (int i = 1; i < r->n; i++)
		m = CM_MIN(m, r->v[i]);
	return m;
}

static double rmax(const struct reps *r)
{
	double m = r->v[0];
	for (int i = 1; i < r->n; i++)
		m = CM_MAX(m, r->v[i]);
	return m;
}

/* BENCH <metric> <median> <unit> (median of n x s; min, max, spread) */
static void print_reps(const char *metric, const struct reps *r, const char *unit, double win_s,
		       const char *note)
{
	double md = median(r);
	char what[32];
	if (win_s > 0)
		snprintf(what, sizeof(what), "%d x %.1f s", r->n, win_s);
	else
		snprintf(what, sizeof(what), "%d", r->n);
	printf("BENCH %s %.4g %s (median of %s; min %.4g max %.4g, spread %.1f%%)%s%s\n",
	       metric, md, unit, what, rmin(r), rmax(r),
	       md > 0 ? 100.0 * (rmax(r) - rmin(r)) / md : 0.0, note ? " " : "", note ? note : "");
	fflush(stdout);
}

static void print_ratio(const char *metric, double num, double den, const char *note)
{
	printf("BENCH %s %.3f (%s)\n", metric, den > 0 ? num / den : 0.0, note);
	fflush(stdout);
}

/* ------------------------------------------------------------ config, dirs */

static struct cm_config *config_new(const char *const *pairs, size_t n)
{
	static const struct cm_cfg_table *const tables[] = {
		&st_shard_cfg_table, &st_wal_cfg_table, &st_store_cfg_table, &dp_rx_cfg_table,
		&dp_worker_cfg_table, &dp_sock_cfg_table, &dp_dpdk_cfg_table, &dp_agg_cfg_table,
	};
	struct cm_config *c;
	char err[256];
	if (cm_config_create(tables, CM_ARRAY_SIZE(tables), &c, err, sizeof(err)) ||
	    (n && cm_config_set_batch(c, pairs, n, err, sizeof(err)))) {
		fprintf(stderr, "ingest bench: config: %s\n", err);
		exit(1);
	}
	return c;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ the rig */

/* A store, its WAL I/O thread, its flusher and one worker: what the daemon runs per core. */
struct rig {
	char dir[640];
	struct st_store *store;
	struct st_walio *io;
	struct st_flush *fl;
	struct dp_worker *w;
	struct dp_agg *agg;
};

static void rig_open(struct rig *r, const char *name, struct dp_backend *backend,
		     struct dp_agg *agg)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s/%s", tmpdir, name);
	struct st_store_cfg sc;
	char err[256];
	st_store_cfg_default(&sc);
	if (st_store_cfg_from(config, &sc, err, sizeof(err))) {
		fprintf(stderr, "ingest bench: store config: %s\n", err);
		exit(1);
	}
	sc.dir = r->dir;
	sc.rcu = rcu;
	struct st_store_recovery rec;
	int rc = st_store_open(&sc, &r->store, &rec);
	if (rc)
		die("st_store_open", rc);
	if (sc.wal.io_thread && sc.wal.durability != ST_WAL_NONE &&
	    (rc = st_walio_start(&r->store, 1, sc.wal.io_idle_ns, sc.wal.io_idle_max_ns, &r->io)))
		die("st_walio_start", rc);
	/* the flusher keeps a spare WAL segment ready: without it the WAL stalls at 64 MB */
	struct st_flush_cfg fc;
	st_flush_cfg_from(config, &fc);
	if ((rc = st_flush_create(&fc, rcu, &r->store, 1, &r->fl)) || (rc = st_flush_start(r->fl)))
		die("st_flush", rc);
	struct dp_worker_cfg wc = {.id = 0, .backend = backend, .store = r->store, .agg = agg};
	dp_worker_cfg_from(config, &wc);
	if ((rc = dp_worker_create(&wc, &r->w)))
		die("dp_worker_create", rc);
	r->agg = agg;
}

static void rig_stats(struct rig *r, struct dp_worker_stats *ws)
{
	memset(ws, 0, sizeof(*ws));
	dp_worker_stats_add(r->w, ws);
}

/* One '#' line: what the store did with what it was handed. */
static void rig_report(struct rig *r, const char *what)
{
	struct dp_worker_stats ws;
	rig_stats(r, &ws);
	struct st_store_stats ss;
	int reader = st_rcu_reader_register(rcu);
	st_read_begin(rcu, reader);
	st_store_stats_read(r->store, &ss);
	st_read_end(rcu, reader);
	st_rcu_reader_unregister(rcu, reader);
	struct st_flush_stats fs;
	st_flush_stats_read(r->fl, &fs);
	uint64_t rej = 0;
	char rejs[256] = "";
	for (int i = 0; i < ST_INS__COUNT; i++)
		if (ws.rejected[i]) {
			rej += ws.rejected[i];
			snprintf(rejs + strlen(rejs), sizeof(rejs) - strlen(rejs), " %s %llu",
				 st_insert_status_name((enum st_insert_status)i),
				 (unsigned long long)ws.rejected[i]);
		}
	uint64_t drops = sum_u64(ws.dropped, DP_WD__COUNT);
	printf("# %s: points_in %llu stored %llu rejected %llu%s%s%s, dropped %llu; series %llu, "
	       "shard memory %.0f MB; wal %.2f B/point, stalls buffer %llu segment %llu, io %s; "
	       "checkpoints %llu\n",
	       what, (unsigned long long)ws.points_in, (unsigned long long)ws.points_stored,
	       (unsigned long long)rej, rej ? " (" : "", rejs, rej ? " )" : "",
	       (unsigned long long)drops, (unsigned long long)ss.shard.series,
	       ss.shard.memory_bytes / 1e6,
	       ss.wal.points ? (double)ss.wal.stored_bytes / (double)ss.wal.points : 0.0,
	       (unsigned long long)ss.wal.stall_buffer, (unsigned long long)ss.wal.stall_segment,
	       r->io ? "thread" : "inline", (unsigned long long)fs.checkpoints);
}

static void rig_close(struct rig *r)
{
	st_flush_destroy(r->fl);
	dp_worker_destroy(r->w);
	st_walio_stop(r->io);
	st_store_close(r->store);
	rm_tree(r->dir);
}

/* The in-process poll pass: what dp_worker_run does around a backend poll. */
static void rig_ingest(struct rig *r, const struct dp_rx_msg *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += RX_BURST) {
		dp_worker_rx_burst(r->w, m + i, CM_MIN(RX_BURST, n - i));
		dp_worker_flush(r->w);
		if (r->agg)
			dp_agg_poll(r->agg);
		st_store_poll(r->store);
	}
}

/* ------------------------------------------------------------ measuring */

/* Untimed: the next batch of messages (*msgs borrowed until the next call). */
typedef uint32_t (*feed_fn)(void *ctx, const struct dp_rx_msg **msgs);
/* Timed: consume a batch. */
typedef void (*sink_fn)(void *ctx, const struct dp_rx_msg *msgs, uint32_t n);
/* Units done so far (points stored, lines, values, bytes). */
typedef uint64_t (*count_fn)(void *ctx);

struct meas {
	struct reps rate;     /* units per second of timed time */
	struct reps bytes;    /* input bytes per second of timed time */
	double cpu_share;     /* thread CPU / timed wall, over the windows */
};

/* Warm-up, then reps windows, each until warm_s / win_s of time in sink. */
static void measure(feed_fn feed, void *fctx, sink_fn sink, void *sctx, count_fn count,
		    void *cctx, int reps, double warm_s, double win_s, struct meas *out)
{
	memset(out, 0, sizeof(*out));
	int64_t cpu_all = 0, wall_all = 0;
	for (int rep = -1; rep < reps; rep++) {
		int64_t want = (int64_t)((rep < 0 ? warm_s : win_s) * 1e9), timed = 0, cpu = 0;
		uint64_t c0 = count(cctx), b0 = 0;
		while (timed < want) {
			const struct dp_rx_msg *m;
			uint32_t n = feed(fctx, &m);
			for (uint32_t i = 0; i < n; i++)
				b0 += m[i].len;
			int64_t u0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t0 = cm_mono_ns();
			sink(sctx, m, n);
			int64_t t1 = cm_mono_ns();
			cpu += clock_ns(CLOCK_THREAD_CPUTIME_ID) - u0;
			timed += t1 - t0;
		}
		if (rep < 0)
			continue;
		out->rate.v[out->rate.n++] = (double)(count(cctx) - c0) / (timed / 1e9);
		out->bytes.v[out->bytes.n++] = (double)b0 / (timed / 1e9);
		cpu_all += cpu;
		wall_all += timed;
	}
	out->cpu_share = wall_all ? (double)cpu_all / (double)wall_all : 0;
}

/* ------------------------------------------------------------ binary pool */

/*
 * BIN_ROUNDS rounds over every series, as frames of 60 POINTs: frame j of
 * source s holds refs (60 j .. 60 j + 59) mod refs (refs = --bin-refs,
 * 25,200 by default), round 60 j / refs, timestamp T0 + round * 1 s; F64
 * random walks in cents on even refs, I64 random walks on odd ones. Pool
 * frame k is frame k / 4 of source k % 4.
 * Frame k + w * nframes is frame k with seq + w * frames_per_source and
 * timestamps + w * span: the series go on in time, the sources in sequence.
 * DEF frames come first in every source's sequence.
 */
struct bin_pool {
	uint8_t *frames;
	uint32_t nframes, frames_per_source;
	int64_t span_ns;
	uint8_t *defs;                 /* DEF frames, BIN_FRAME_BYTES apart */
	uint32_t *def_len;
	uint32_t ndef_frames, ndefs;
	uint64_t seq0[BIN_SOURCES];
};

static const char *const bin_names[] = {"px.last", "qty", "temp.c", "depth.bid"};

static uint32_t bin_source_id(uint32_t s)
{
	return 1001 + s;
}

static void bin_pool_build(struct bin_pool *p, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	uint64_t rs = seed;
	const uint32_t refs = opt.bin_refs;
	uint32_t defs_cap = BIN_SOURCES * (refs / 16 + 16);
	p->defs = malloc((size_t)defs_cap * BIN_FRAME_BYTES);
	p->def_len = malloc(defs_cap * sizeof(uint32_t));
	uint32_t ndef[BIN_SOURCES] = {0};
	for (uint32_t s = 0; s < BIN_SOURCES; s++) {
		p->seq0[s] = cm_splitmix64(&rs) >> 40;
		char sid[16];
		snprintf(sid, sizeof(sid), "%u", bin_source_id(s));
		struct dp_frame_writer fw;
		bool open = false;
		for (uint32_t ref = 0; ref < refs;) {
			if (!open) {
				uint8_t *at = p->defs + (size_t)p->ndef_frames * BIN_FRAME_BYTES;
				dp_frame_writer_init(&fw, at, BIN_FRAME_BYTES, bin_source_id(s),
						     p->seq0[s] + ndef[s]);
				open = true;
			}
			char inst[16], venue[8];
			snprintf(inst, sizeof(inst), "i%u", ref);
			snprintf(venue, sizeof(venue), "v%u", ref % 16);
			struct st_tag tags[3] = {
				{{"src", 3}, {sid, (uint32_t)strlen(sid)}},
				{{"inst", 4}, {inst, (uint32_t)strlen(inst)}},
				{{"venue", 5}, {venue, (uint32_t)strlen(venue)}},
			};
			const char *name = bin_names[ref % 4];
			struct st_str nm = {name, (uint32_t)strlen(name)};
			uint8_t type = ref % 2 ? DP_WIRE_I64 : DP_WIRE_F64;
			int rc = dp_frame_writer_def(&fw, ref, type, nm, tags, 3);
			if (rc == 0) {
				ref++;
				p->ndefs++;
				continue;
			}
			if (rc != -ENOSPC || fw.nrecords == 0)
				die("dp_frame_writer_def", rc);
			p->def_len[p->ndef_frames++] = (uint32_t)dp_frame_writer_finish(&fw);
			ndef[s]++;
			open = false;
		}
		p->def_len[p->ndef_frames++] = (uint32_t)dp_frame_writer_finish(&fw);
		ndef[s]++;
		if (p->ndef_frames + refs / 16 > defs_cap)
			die("DEF frames", -E2BIG);
		p->seq0[s] += ndef[s];  /* point frames come after the DEFs */
	}

	p->frames_per_source = BIN_ROUNDS * refs / BIN_PER_FRAME;
	p->nframes = p->frames_per_source * BIN_SOURCES;
	p->span_ns = BIN_ROUNDS * BIN_STEP_NS;
	p->frames = malloc((size_t)p->nframes * BIN_FRAME_BYTES);
	double *fv = malloc(sizeof(double) * BIN_SOURCES * refs);
	int64_t *iv = malloc(sizeof(int64_t) * BIN_SOURCES * refs);
	if (!p->frames || !fv || !iv)
		die("binary pool", -ENOMEM);
	for (uint32_t i = 0; i < BIN_SOURCES * refs; i++) {
		fv[i] = 100.0 + (double)(cm_splitmix64(&rs) % 10000) / 100.0;
		iv[i] = (int64_t)(cm_splitmix64(&rs) % 1000);
	}
	for (uint32_t k = 0; k < p->nframes; k++) {
		uint32_t s = k % BIN_SOURCES, j = k / BIN_SOURCES;
		struct dp_frame_writer fw;
		dp_frame_writer_init(&fw, p->frames + (size_t)k * BIN_FRAME_BYTES, BIN_FRAME_BYTES,
				     bin_source_id(s), p->seq0[s] + j);
		for (uint32_t i = 0; i < BIN_PER_FRAME; i++) {
			uint64_t pos = (uint64_t)j * BIN_PER_FRAME + i;
			uint32_t ref = (uint32_t)(pos % refs);
			int64_t ts = BIN_T0_NS + (int64_t)(pos / refs) * BIN_STEP_NS;
			uint32_t at = s * refs + ref;
			union st_value v;
			uint8_t type;
			uint64_t r = cm_splitmix64(&rs);
			if (ref % 2) {
				iv[at] += (int64_t)(r % 21) - 10;
				v.i64 = iv[at];
				type = DP_WIRE_I64;
			} else {
				double step = ((double)(r % 21) - 10) * 0.01;
				fv[at] = round((fv[at] + step) * 100) / 100;
				v.f64 = fv[at];
				type = DP_WIRE_F64;
			}
			if (dp_frame_writer_point(&fw, ref, type, ts, v))
				die("dp_frame_writer_point", -EINVAL);
		}
		if (dp_frame_writer_finish(&fw) != BIN_FRAME_BYTES)
			die("point frame size", -EINVAL);
	}
	free(fv);
	free(iv);
}

static void bin_pool_release(struct bin_pool *p)
{
	free(p->frames);
	free(p->defs);
	free(p->def_len);
}

/* Pool frame k (any k >= 0), with its sequence number and timestamps moved on, into dst. */
static void bin_frame_emit(const struct bin_pool *p, uint64_t k, uint8_t *dst)
{
	uint64_t wrap = k / p->nframes;
	memcpy(dst, p->frames + (k % p->nframes) * BIN_FRAME_BYTES, BIN_FRAME_BYTES);
	if (wrap == 0)
		return;
	uint64_t seq;
	memcpy(&seq, dst + offsetof(struct dp_wire_header, seq), 8);
	seq += wrap * p->frames_per_source;
	memcpy(dst + offsetof(struct dp_wire_header, seq), &seq, 8);
	int64_t dt = (int64_t)wrap * p->span_ns;
	for (uint32_t i = 0; i < BIN_PER_FRAME; i++) {
		uint8_t *ts = dst + 32 + i * DP_WIRE_POINT_BYTES +
			      offsetof(struct dp_wire_point, ts_ns);
		int64_t t;
		memcpy(&t, ts, 8);
		t += dt;
		memcpy(ts, &t, 8);
	}
	uint32_t crc = dp_frame_crc(dst, BIN_FRAME_BYTES);
	memcpy(dst + DP_WIRE_CRC_OFF, &crc, 4);
}

static void msg_init(struct dp_rx_msg *m, const uint8_t *buf, uint32_t len, uint8_t proto)
{
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	m->proto = proto;
	m->flags = DP_RX_COMPLETE;
	m->src_port = 40000;
	m->src_addr[10] = m->src_addr[11] = 0xff;  /* ::ffff:127.0.0.1 */
	m->src_addr[12] = 127;
	m->src_addr[15] = 1;
	m->unit_ns = 1;
}

struct bin_feed {
	const struct bin_pool *pool;
	uint64_t k;
	bool replay;                /* yardsticks: the first batch again and again */
	uint8_t *buf;
	struct dp_rx_msg msgs[BATCH_MSGS];
};

static struct bin_feed *bin_feed_new(const struct bin_pool *p, bool replay)
{
	struct bin_feed *f = malloc(sizeof(*f));
	f->pool = p;
	f->k = 0;
	f->replay = replay;
	f->buf = malloc((size_t)BATCH_MSGS * BIN_FRAME_BYTES);
	for (uint32_t i = 0; i < BATCH_MSGS; i++)
		msg_init(&f->msgs[i], f->buf + (size_t)i * BIN_FRAME_BYTES, BIN_FRAME_BYTES,
			 DP_PROTO_BINARY);
	return f;
}

static void bin_feed_free(struct bin_feed *f)
{
	free(f->buf);
	free(f);
}

static uint32_t bin_feed_next(void *ctx, const struct dp_rx_msg **msgs)
{
	struct bin_feed *f = ctx;
	for (uint32_t i = 0; i < BATCH_MSGS && !(f->replay && f->k >= BATCH_MSGS); i++)
		bin_frame_emit(f->pool, f->k++, f->buf + (size_t)i * BIN_FRAME_BYTES);
	*msgs = f->msgs;
	return BATCH_MSGS;
}

/* The DEF frames into the worker (untimed). */
static void bin_prime(struct rig *r, const struct bin_pool *p)
{
	struct dp_rx_msg m[RX_BURST];
	for (uint32_t i = 0; i < p->ndef_frames; i += RX_BURST) {
		uint32_t n = CM_MIN(RX_BURST, p->ndef_frames - i);
		for (uint32_t k = 0; k < n; k++) {
			const uint8_t *at = p->defs + (size_t)(i + k) * BIN_FRAME_BYTES;
			msg_init(&m[k], at, p->def_len[i + k], DP_PROTO_BINARY);
		}
		rig_ingest(r, m, n);
	}
}

/* ------------------------------------------------------------ sinks */

static void sink_ingest(void *ctx, const struct dp_rx_msg *m, uint32_t n)
{
	rig_ingest(ctx, m, n);
}

static uint64_t count_stored(void *ctx)
{
	struct dp_worker_stats ws;
	rig_stats(ctx, &ws);
	return ws.points_stored;
}

static uint64_t count_statsd_lines(void *ctx)
{
	struct dp_worker_stats ws;
	rig_stats(ctx, &ws);
	return ws.statsd[DP_STATSD_OK];
}

struct decode_only {
	uint64_t units;
	uint64_t sink;          /* folds the values in, so nothing is optimised away */
	struct dp_frame_rec rec;
	struct dp_statsd sd;
	struct dp_line line;
	struct dp_field fields[DP_LINE_FIELDS_DEFAULT];
};

static uint64_t count_units(void *ctx)
{
	return ((struct decode_only *)ctx)->units;
}

static void sink_frame_decode(void *ctx, const struct dp_rx_msg *m, uint32_t n)
{
	struct decode_only *d = ctx;
	for (uint32_t i = 0; i < n; i++) {
		struct dp_frame f;
		if (dp_frame_open(&f, m[i].buf, m[i].len) != DP_FRAME_OK)
			continue;
		enum dp_frame_status st;
		while ((st = dp_frame_next(&f, &d->rec)) != DP_FRAME_END)
			if (st == DP_FRAME_OK && d->rec.kind == DP_WIRE_POINT) {
				d->units++;
				d->sink ^= d->rec.v.u64 + d->rec.series_ref;
			}
	}
}

static void sink_statsd_decode(void *ctx, const struct dp_rx_msg *m, uint32_t n)
{
	struct decode_only *d = ctx;
	for (uint32_t i = 0; i < n; i++) {
		const char *p = (const char *)m[i].buf;
		size_t left = m[i].len, used;
		while (left) {
			enum dp_statsd_status st =
				dp_statsd_decode(&d->sd, p, left, DP_STATSD_COMPLETE, &used);
			if (used == 0)
				break;
			p += used;
			left -= used;
			if (st == DP_STATSD_OK) {
				d->units++;
				d->sink ^= d->sd.nvalues + d->sd.name.len;
			}
		}
	}
}

static void sink_line_decode(void *ctx, const struct dp_rx_msg *m, uint32_t n)
{
	struct decode_only *d = ctx;
	const struct dp_line_opts o = {.now_ns = 0, .unit_ns = 1, .flags = DP_LINE_COMPLETE};
	for (uint32_t i = 0; i < n; i++) {
		const char *p = (const char *)m[i].buf;
		size_t left = m[i].len, used;
		while (left) {
			enum dp_line_status st = dp_line_decode(&d->line, p, left, &o, &used);
			if (used == 0)
				break;
			p += used;
			left -= used;
			if (st == DP_LINE_OK) {
				d->units += d->line.nfields;
				d->sink ^= (uint64_t)d->line.ts_ns + d->line.fields[0].v.u64;
			}
		}
	}
}

/* A decoder alone on a path's messages (yard_s windows): its BENCH line; returns the median. */
static double run_decode_only(feed_fn feed, void *fctx, sink_fn decode, const char *metric,
			      const char *unit, const char *note)
{
	struct decode_only *d = calloc(1, sizeof(*d));
	dp_line_init(&d->line, d->fields, DP_LINE_FIELDS_DEFAULT);
	struct meas dm;
	measure(feed, fctx, decode, d, count_units, d, opt.reps, 0.5, opt.yard_s, &dm);
	print_reps(metric, &dm.rate, unit, opt.yard_s, note);
	free(d);
	return median(&dm.rate);
}

struct memcpy_sink {
	uint8_t *dst;
	uint64_t bytes;
	uint32_t off;
};

static uint64_t count_memcpy(void *ctx)
{
	return ((struct memcpy_sink *)ctx)->bytes;
}

/* Each datagram into a 64 KiB receive buffer, as a kernel recv copies it. */
static void sink_memcpy(void *ctx, const struct dp_rx_msg *m, uint32_t n)
{
	struct memcpy_sink *s = ctx;
	for (uint32_t i = 0; i < n; i++) {
		if (s->off + m[i].len > RCVBUF_COPY_BYTES)
			s->off = 0;
		memcpy(s->dst + s->off, m[i].buf, m[i].len);
		__asm__ volatile("" : : "r"(s->dst) : "memory");
		s->off += m[i].len;
		s->bytes += m[i].len;
	}
}

/* ------------------------------------------------------------ StatsD pool */

struct sd_pool {
	uint8_t *buf;
	struct dp_rx_msg *msgs;
	uint32_t nmsgs;
	size_t bytes;
	uint32_t next;
};

/*
 * tl_traffic's StatsD lines (its datagrams are up to 1400 bytes, many much
 * shorter) repacked line by line into datagrams of up to 1400 bytes, as a
 * busy client fills its buffer; every line ends in '\n' (CRLF kept).
 */
static void sd_pool_build(struct sd_pool *p, uint64_t seed)
{
	struct tl_traffic_cfg tc = {.seed = seed, .values_per_series = 1000,
				    .max_datagram_bytes = SD_DGRAM_BYTES};
	tc.weight[DP_PROTO_STATSD] = 1;
	tc.series[DP_PROTO_STATSD] = SD_METRICS;
	struct tl_traffic *t;
	int rc = tl_traffic_create(&tc, &t);
	if (rc)
		die("tl_traffic_create", rc);
	uint32_t cap = SD_POOL_BYTES / 512;
	memset(p, 0, sizeof(*p));
	p->buf = malloc(SD_POOL_BYTES + 2 * SD_DGRAM_BYTES);
	p->msgs = malloc(cap * sizeof(*p->msgs));
	uint32_t *off = malloc(cap * sizeof(uint32_t));
	uint8_t one[2048];
	struct tl_datagram dg;
	size_t cur = 0;   /* bytes of the datagram being filled, at p->buf + p->bytes */
	while (p->bytes < SD_POOL_BYTES && p->nmsgs + 1 < cap &&
	       tl_traffic_next(t, one, sizeof(one), &dg) == 1) {
		for (size_t at = 0; at < dg.len;) {
			const uint8_t *nl = memchr(one + at, '\n', dg.len - at);
			size_t len = nl ? (size_t)(nl - one) + 1 - at : dg.len - at;
			if (cur + len + !nl > SD_DGRAM_BYTES) {
				off[p->nmsgs] = (uint32_t)p->bytes;
				p->msgs[p->nmsgs++].len = (uint32_t)cur;
				p->bytes += cur;
				cur = 0;
			}
			memcpy(p->buf + p->bytes + cur, one + at, len);
			cur += len;
			if (!nl)
				p->buf[p->bytes + cur++] = '\n';
			at += len;
		}
	}
	for (uint32_t i = 0; i < p->nmsgs; i++)
		msg_init(&p->msgs[i], p->buf + off[i], p->msgs[i].len, DP_PROTO_STATSD);
	free(off);
	tl_traffic_destroy(t);
}

static uint32_t sd_feed_next(void *ctx, const struct dp_rx_msg **msgs)
{
	struct sd_pool *p = ctx;
	if (p->next == p->nmsgs)
		p->next = 0;
	uint32_t n = CM_MIN(BATCH_MSGS, p->nmsgs - p->next);
	*msgs = p->msgs + p->next;
	p->next += n;
	return n;
}

/* ------------------------------------------------------------ TSBS pool */

/*
 * The TSBS text copied once (not into the repository: into memory) and cut
 * into datagrams of whole lines; pass p of the feed rewrites every line's
 * 19-digit timestamp to the original plus p days, so passes follow each
 * other in time.
 */
struct line_pool {
	char *text;
	size_t bytes;
	struct dp_rx_msg *msgs;
	uint32_t nmsgs, nlines;
	uint32_t *ts_off;
	int64_t *ts0;
	uint32_t next, pass;
	uint64_t values_per_pass;
};

static void line_pool_build(struct line_pool *lp, const struct pf_dataset *ds)
{
	memset(lp, 0, sizeof(*lp));
	lp->bytes = ds->text_bytes;
	lp->text = malloc(lp->bytes);
	if (!lp->text)
		die("TSBS copy", -ENOMEM);
	memcpy(lp->text, ds->text, lp->bytes);
	uint32_t cap_lines = 1 << 20, cap_msgs = 1 << 20;
	lp->ts_off = malloc(cap_lines * sizeof(uint32_t));
	lp->ts0 = malloc(cap_lines * sizeof(int64_t));
	lp->msgs = malloc(cap_msgs * sizeof(*lp->msgs));
	size_t at = 0, dg = 0;
	while (at < lp->bytes) {
		char *nl = memchr(lp->text + at, '\n', lp->bytes - at);
		size_t end = nl ? (size_t)(nl - lp->text) + 1 : lp->bytes;
		if (end - at > LINE_DGRAM_BYTES || lp->nlines == cap_lines)
			die("TSBS line too long or too many", -E2BIG);
		/* the timestamp: the digits after the last blank */
		size_t te = nl ? end - 1 : end, ts = te;
		while (ts > at && lp->text[ts - 1] != ' ')
			ts--;
		if (te - ts != 19)
			die("TSBS timestamp not 19 digits", -EINVAL);
		int64_t v = 0;
		for (size_t i = ts; i < te; i++)
			v = v * 10 + (lp->text[i] - '0');
		lp->ts_off[lp->nlines] = (uint32_t)ts;
		lp->ts0[lp->nlines++] = v;
		if (end - dg > LINE_DGRAM_BYTES) {
			msg_init(&lp->msgs[lp->nmsgs++], (uint8_t *)lp->text + dg,
				 (uint32_t)(at - dg), DP_PROTO_LINE);
			dg = at;
		}
		at = end;
	}
	msg_init(&lp->msgs[lp->nmsgs++], (uint8_t *)lp->text + dg, (uint32_t)(at - dg),
		 DP_PROTO_LINE);
	lp->values_per_pass = ds->npoints;
}

static void line_pool_rewrite(struct line_pool *lp, uint32_t pass)
{
	int64_t add = (int64_t)pass * DAY_NS;
	for (uint32_t l = 0; l < lp->nlines; l++) {
		uint64_t v = (uint64_t)(lp->ts0[l] + add);
		char *p = lp->text + lp->ts_off[l] + 19;
		for (int i = 0; i < 19; i++, v /= 10)
			*--p = (char)('0' + v % 10);
	}
}

static void line_feed_reset(struct line_pool *lp)
{
	lp->next = 0;
	lp->pass = 0;
	line_pool_rewrite(lp, 0);
}

static uint32_t line_feed_next(void *ctx, const struct dp_rx_msg **msgs)
{
	struct line_pool *lp = ctx;
	if (lp->next == lp->nmsgs) {
		line_pool_rewrite(lp, ++lp->pass);
		lp->next = 0;
	}
	uint32_t n = CM_MIN(BATCH_MSGS, lp->nmsgs - lp->next);
	*msgs = lp->msgs + lp->next;
	lp->next += n;
	return n;
}

/* ------------------------------------------------------------ results */

static struct {
	double memcpy_bps;
	double bin;
	bool have_bin;
} res;

/*
 * The ratios of an in-process path (ingest_<path>_vs_..._ratio): its rate to
 * its decoder's alone (work: what the path adds), its input bytes/s to
 * memcpy's (bytes: which bytes), its rate to the target.
 */
static void print_yardsticks(const char *path, double rate, double decode_rate, double bytes_rate,
			     double target, const char *work, const char *bytes,
			     const char *target_note)
{
	char metric[64], note[96];
	snprintf(metric, sizeof(metric), "ingest_%s_vs_decode_only_ratio", path);
	snprintf(note, sizeof(note), "%s / decode alone", work);
	print_ratio(metric, rate, decode_rate, note);
	snprintf(metric, sizeof(metric), "ingest_%s_vs_memcpy_ratio", path);
	snprintf(note, sizeof(note), "%s / memcpy bytes/s", bytes);
	print_ratio(metric, bytes_rate, res.memcpy_bps, note);
	snprintf(metric, sizeof(metric), "ingest_%s_vs_target_ratio", path);
	print_ratio(metric, rate, target, target_note);
}

static void run_memcpy(const struct bin_pool *pool)
{
	struct bin_feed *f = bin_feed_new(pool, true);
	struct memcpy_sink s = {.dst = malloc(RCVBUF_COPY_BYTES)};
	struct meas m;
	measure(bin_feed_next, f, sink_memcpy, &s, count_memcpy, &s, opt.reps, 0.2, 0.5, &m);
	print_reps("ingest_memcpy_bytes_per_s", &m.rate, "B/s", 0.5,
		   "(1472-byte frames of a cache-warm 3 MB batch, each into a 64 KiB buffer: the "
		   "copy a socket receive makes)");
	res.memcpy_bps = median(&m.rate);
	free(s.dst);
	bin_feed_free(f);
}

/* ------------------------------------------------------------ binary */

static void run_binary(const struct bin_pool *pool)
{
	struct bin_feed *f = bin_feed_new(pool, true);
	double decode = run_decode_only(bin_feed_next, f, sink_frame_decode,
					"ingest_binary_decode_only_points_per_s", "points/s",
					"(dp_frame_open + dp_frame_next, no store)");

	struct rig r;
	rig_open(&r, "binary", NULL, NULL);
	bin_prime(&r, pool);
	f->k = 0;
	f->replay = false;
	struct meas m;
	measure(bin_feed_next, f, sink_ingest, &r, count_stored, &r, opt.reps, opt.warmup_s,
		opt.window_s, &m);
	print_reps("ingest_binary_points_per_s", &m.rate, "points/s", opt.window_s, NULL);
	res.bin = median(&m.rate);
	res.have_bin = true;
	print_yardsticks("binary", res.bin, decode, median(&m.bytes), TARGET_BINARY,
			 "decode+insert", "frame bytes/s ingested", "target 20 M points/s/core");
	printf("# binary: %u series over %u sources, 60 points per 1472-byte frame, %.1f ns/point; "
	       "worker thread on CPU %.0f%% of the timed time (%.3g points per worker "
	       "CPU-second)\n",
	       BIN_SOURCES * opt.bin_refs, BIN_SOURCES, 1e9 / res.bin, 100 * m.cpu_share,
	       m.cpu_share > 0 ? res.bin / m.cpu_share : 0.0);
	rig_report(&r, "binary store");
	rig_close(&r);
	bin_feed_free(f);
}

/* ------------------------------------------------------------ StatsD */

struct flush_emit {
	struct dp_inject_batch *b;
	uint64_t points;
};

/* What mg_statsd's emit does short of submitting: copy the point into a batch. */
static void flush_emit(void *ctx, const uint8_t *key, uint32_t keylen, uint64_t hash,
		       int64_t ts_ns, double value)
{
	struct flush_emit *e = ctx;
	union st_value v = {.f64 = value};
	e->points++;
	if (dp_inject_batch_add(e->b, key, keylen, hash, ts_ns, ST_VT_F64, v) == 0)
		return;
	dp_inject_batch_reset(e->b);
	dp_inject_batch_add(e->b, key, keylen, hash, ts_ns, ST_VT_F64, v);
}

struct sd_sink {
	struct rig *r;
	struct dp_agg_merger *mg;
	struct flush_emit e;
	struct reps flush_ns;        /* per series */
	double points_per_series;
	int64_t last_flush_ns;
};

/* After each window: one flush of the worker's table, timed on this thread. */
static void sd_flush(struct sd_sink *s, bool keep)
{
	struct dp_agg_stats as;
	dp_agg_stats_read(s->r->agg, &as);
	uint64_t series = as.series;
	s->e.points = 0;
	int64_t t0 = cm_mono_ns();
	dp_agg_merger_request(s->mg);
	dp_agg_poll(s->r->agg);
	bool all = dp_agg_merger_collect(s->mg, CM_NS_PER_SEC);
	dp_agg_merger_emit(s->mg, cm_now_ns(), (double)(t0 - s->last_flush_ns) / 1e9, flush_emit,
			   &s->e);
	int64_t t1 = cm_mono_ns();
	s->last_flush_ns = t0;
	if (!all)
		printf("# statsd: a flush did not collect the worker's table\n");
	if (keep && series) {
		s->flush_ns.v[s->flush_ns.n++] = (double)(t1 - t0) / (double)series;
		s->points_per_series = (double)s->e.points / (double)series;
	}
}

static void run_statsd(uint64_t seed)
{
	struct sd_pool pool;
	sd_pool_build(&pool, seed);
	double decode = run_decode_only(sd_feed_next, &pool, sink_statsd_decode,
					"ingest_statsd_decode_only_lines_per_s", "lines/s",
					"(dp_statsd_decode, no aggregator)");

	struct dp_agg_cfg ac;
	char err[256];
	dp_agg_cfg_default(&ac);
	if (dp_agg_cfg_from(config, &ac, err, sizeof(err)))
		die("dp_agg_cfg_from", -EINVAL);
	struct dp_agg *agg;
	int rc = dp_agg_create(&ac, -1, &agg);
	if (rc)
		die("dp_agg_create", rc);
	struct sd_sink s = {0};
	if ((rc = dp_agg_merger_create(&ac, &agg, 1, &s.mg)))
		die("dp_agg_merger_create", rc);
	if ((rc = dp_inject_batch_create(8192, 8192 * 128, &s.e.b)))
		die("dp_inject_batch_create", rc);
	struct rig r;
	rig_open(&r, "statsd", NULL, agg);
	s.r = &r;
	s.last_flush_ns = cm_mono_ns();
	pool.next = 0;

	/* the windows one by one, a flush after each (the warm-up's flush not kept) */
	struct reps lines = {.n = 0}, bytes = {.n = 0};
	double cpu = 0;
	for (int rep = -1; rep < opt.reps; rep++) {
		struct meas m;
		measure(sd_feed_next, &pool, sink_ingest, &r, count_statsd_lines, &r, 1, 0,
			rep < 0 ? opt.warmup_s : opt.window_s, &m);
		sd_flush(&s, rep >= 0);
		if (rep < 0)
			continue;
		lines.v[lines.n++] = m.rate.v[0];
		bytes.v[bytes.n++] = m.bytes.v[0];
		cpu += m.cpu_share / opt.reps;
	}
	print_reps("ingest_statsd_lines_per_s", &lines, "lines/s", opt.window_s,
		   "(aggregation only)");
	print_reps("ingest_statsd_flush_ns_per_series", &s.flush_ns, "ns", 0,
		   "(flushes, one after each window: request, publish, collect, merge, emit "
		   "into a batch; per table entry)");
	double md = median(&lines);
	print_yardsticks("statsd", md, decode, median(&bytes), TARGET_STATSD, "decode+aggregate",
			 "datagram bytes/s aggregated", "target 10 M lines/s/core");
	struct dp_worker_stats ws;
	rig_stats(&r, &ws);
	struct dp_agg_stats as;
	dp_agg_stats_read(agg, &as);
	printf("# statsd: %u metrics (tl_traffic, types c g ms h d s in turn, 0-3 tags, rates), "
	       "%u datagrams of %.0f B avg, %.1f lines each; %.1f ns/line; %.2f values/line; "
	       "table_full %llu nomem %llu; %.1f points emitted per series; worker thread on CPU "
	       "%.0f%% of the timed time (%.3g lines per worker CPU-second)\n",
	       SD_METRICS, pool.nmsgs, (double)pool.bytes / pool.nmsgs,
	       (double)ws.statsd[DP_STATSD_OK] / (double)ws.msgs[DP_PROTO_STATSD], 1e9 / md,
	       (double)ws.statsd_values / (double)ws.statsd[DP_STATSD_OK],
	       (unsigned long long)as.table_full, (unsigned long long)as.nomem,
	       s.points_per_series, 100 * cpu, cpu > 0 ? md / cpu : 0.0);
	rig_close(&r);
	dp_agg_merger_destroy(s.mg);
	dp_agg_destroy(agg);
	dp_inject_batch_destroy(s.e.b);
	free(pool.buf);
	free(pool.msgs);
}

/* ------------------------------------------------------------ line protocol */

static void run_line(void)
{
	struct pf_dataset ds;
	int64_t t0 = cm_mono_ns();
	int rc = pf_dataset_tsbs(pf_shared_dir(), &ds);
	if (rc)
		die("pf_dataset_tsbs", rc);
	struct line_pool lp;
	line_pool_build(&lp, &ds);
	pf_dataset_release(&ds);
	printf("# line: TSBS cpu-only, %u lines, %llu values, %u datagrams of %.0f B avg "
	       "(loaded in %.1f s)\n",
	       lp.nlines, (unsigned long long)lp.values_per_pass, lp.nmsgs,
	       (double)lp.bytes / lp.nmsgs, (cm_mono_ns() - t0) / 1e9);

	line_feed_reset(&lp);
	double decode = run_decode_only(line_feed_next, &lp, sink_line_decode,
					"ingest_line_decode_only_values_per_s", "values/s",
					"(dp_line_decode, no keys, no store)");

	struct rig r;
	rig_open(&r, "line", NULL, NULL);
	line_feed_reset(&lp);
	struct meas m;
	measure(line_feed_next, &lp, sink_ingest, &r, count_stored, &r, opt.reps, opt.warmup_s,
		opt.window_s, &m);
	print_reps("ingest_line_values_per_s", &m.rate, "values/s", opt.window_s, NULL);
	double md = median(&m.rate);
	print_yardsticks("line", md, decode, median(&m.bytes), TARGET_LINE, "decode+keys+insert",
			 "text bytes/s ingested", "target 15 M values/s/core = 1.5 M lines/s");
	printf("# line: %.2f M lines/s, %.1f ns/value; worker thread on CPU %.0f%% of the timed "
	       "time (%.3g values per worker CPU-second); %u passes over the day\n",
	       md / 10 / 1e6, 1e9 / md, 100 * m.cpu_share,
	       m.cpu_share > 0 ? md / m.cpu_share : 0.0, lp.pass + 1);
	rig_report(&r, "line store");
	rig_close(&r);
	free(lp.text);
	free(lp.msgs);
	free(lp.ts_off);
	free(lp.ts0);
}

/* ------------------------------------------------------------ threaded runs */

struct worker_thread {
	struct rig *r;
	pthread_t th;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker_thread *t = arg;
	t->rc = dp_worker_run(t->r->w);
	return NULL;
}

/* A threaded path's ratios (ingest_<path>_vs_..._ratio): to the in-process run, if any; to the target. */
static void print_vs_inprocess(const char *path, double rate, const char *backend,
			       const char *target_note)
{
	char metric[64], note[128];
	if (res.have_bin) {
		snprintf(metric, sizeof(metric), "ingest_%s_vs_inprocess_ratio", path);
		snprintf(note, sizeof(note),
			 "%s / the same frames through dp_worker_rx_burst in process", backend);
		print_ratio(metric, rate, res.bin, note);
	}
	snprintf(metric, sizeof(metric), "ingest_%s_vs_target_ratio", path);
	print_ratio(metric, rate, TARGET_BINARY, target_note);
}

/*
 * Stored points over wall-clock windows, while the worker thread runs;
 * returns the worker thread's CPU time over the windows' wall time.
 */
static double threaded_windows(struct worker_thread *wt, struct reps *out,
			       _Atomic uint64_t *sent, struct reps *sent_rate)
{
	struct rig *r = wt->r;
	clockid_t wclk;
	if (pthread_getcpuclockid(wt->th, &wclk))
		wclk = CLOCK_MONOTONIC;  /* no per-thread clock: reports 100% */
	int64_t cpu = 0, wall = 0;
	cm_sleep_ns((int64_t)(opt.warmup_s * 1e9));
	for (int rep = 0; rep < opt.reps; rep++) {
		struct dp_worker_stats a, b;
		rig_stats(r, &a);
		uint64_t s0 = sent ? atomic_load(sent) : 0;
		int64_t c0 = clock_ns(wclk), t0 = cm_mono_ns();
		cm_sleep_ns((int64_t)(opt.window_s * 1e9));
		int64_t t1 = cm_mono_ns();
		cpu += clock_ns(wclk) - c0;
		wall += t1 - t0;
		rig_stats(r, &b);
		out->v[out->n++] = (double)(b.points_stored - a.points_stored) / ((t1 - t0) / 1e9);
		if (sent)
			sent_rate->v[sent_rate->n++] =
				(double)(atomic_load(sent) - s0) * BIN_PER_FRAME / ((t1 - t0) / 1e9);
	}
	return wall ? (double)cpu / (double)wall : 0;
}

static bool wait_defs(struct rig *r, const struct bin_pool *pool, int64_t max_ns)
{
	int64_t end = cm_mono_ns() + max_ns;
	for (;;) {
		struct dp_worker_stats ws;
		rig_stats(r, &ws);
		if (ws.binary_defs >= pool->ndefs)
			return true;
		if (cm_mono_ns() > end)
			return false;
		cm_sleep_ns(CM_NS_PER_MS);
	}
}

/* ------------------------------------------------------------ socket */

struct udp_sender {
	const struct bin_pool *pool;
	int fd;
	_Atomic bool go, stop;
	_Atomic uint64_t frames, errors;
	pthread_t th;
};

static void *udp_sender_main(void *arg)
{
	struct udp_sender *s = arg;
	enum { N = 32 };
	uint8_t *buf = malloc((size_t)N * BIN_FRAME_BYTES);
	struct mmsghdr mm[N];
	struct iovec iov[N];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < N; i++) {
		iov[i] = (struct iovec){buf + (size_t)i * BIN_FRAME_BYTES, BIN_FRAME_BYTES};
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	/* DEFs first, paced, so that none is lost to a full socket buffer */
	for (uint32_t i = 0; i < s->pool->ndef_frames; i++) {
		while (send(s->fd, s->pool->defs + (size_t)i * BIN_FRAME_BYTES, s->pool->def_len[i],
			    0) < 0)
			cm_sleep_ns(100 * CM_NS_PER_US);
		atomic_fetch_add(&s->frames, 1);
		if (i % 16 == 15)
			cm_sleep_ns(200 * CM_NS_PER_US);
	}
	while (!atomic_load(&s->go) && !atomic_load(&s->stop))
		cm_sleep_ns(CM_NS_PER_MS);
	uint64_t k = 0;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		for (int i = 0; i < N; i++)
			bin_frame_emit(s->pool, k + (uint64_t)i, buf + (size_t)i * BIN_FRAME_BYTES);
		int n = sendmmsg(s->fd, mm, N, 0);
		if (n > 0) {
			k += (uint64_t)n;
			atomic_fetch_add_explicit(&s->frames, (uint64_t)n, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
		}
	}
	free(buf);
	return NULL;
}

static uint16_t free_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		die("free port", -errno);
	close(fd);
	return ntohs(a.sin_port);
}

static void run_socket(const struct bin_pool *pool)
{
	uint16_t port = free_udp_port();
	char listen[64];
	snprintf(listen, sizeof(listen), "binary.listen=127.0.0.1:%u", port);
	const char *const pairs[] = {listen, "statsd.listen=127.0.0.1:0",
				     "line.udp_listen=127.0.0.1:0", "line.tcp_listen=127.0.0.1:0"};
	struct cm_config *c = config_new(pairs, CM_ARRAY_SIZE(pairs));
	struct dp_rx_cfg rx;
	struct dp_sock_cfg sc;
	char err[256];
	struct dp_backend *b;
	int rc;
	if (dp_rx_cfg_from(c, &rx, err, sizeof(err)) ||
	    dp_sock_cfg_from(c, &sc, err, sizeof(err)) ||
	    (rc = dp_sock_create(&rx, &sc, 1, &b, err, sizeof(err)))) {
		printf("# socket: cannot create the backend: %s; ingest_socket_udp_points_per_s "
		       "skipped\n", err);
		cm_config_destroy(c);
		return;
	}
	cm_config_destroy(c);

	struct rig r;
	rig_open(&r, "socket", b, NULL);
	struct worker_thread wt = {.r = &r};
	pthread_create(&wt.th, NULL, worker_main, &wt);
	struct udp_sender s = {.pool = pool};
	char dest[64];
	snprintf(dest, sizeof(dest), "127.0.0.1:%u", port);
	if ((rc = tl_sender_dial(dest, SOCK_DGRAM, &s.fd)))
		die("tl_sender_dial", rc);
	pthread_create(&s.th, NULL, udp_sender_main, &s);
	bool defs = wait_defs(&r, pool, 10 * CM_NS_PER_SEC);
	atomic_store(&s.go, true);

	struct reps stored = {.n = 0}, offered = {.n = 0};
	double cpu = threaded_windows(&wt, &stored, &s.frames, &offered);
	atomic_store(&s.stop, true);
	pthread_join(s.th, NULL);
	/* let the worker drain what is in the socket buffer */
	struct dp_rx_stats rs;
	uint64_t last = UINT64_MAX;
	for (;;) {
		memset(&rs, 0, sizeof(rs));
		b->ops->stats_read(b, &rs);
		if (rs.packets == last)
			break;
		last = rs.packets;
		cm_sleep_ns(50 * CM_NS_PER_MS);
	}
	dp_worker_stop(r.w);
	pthread_join(wt.th, NULL);
	struct dp_sock_stats ss;
	dp_sock_stats_read(b, &ss);
	uint64_t sent = atomic_load(&s.frames);
	uint64_t lost = sent > ss.rx.packets ? sent - ss.rx.packets : 0;

	print_reps("ingest_socket_udp_points_per_s", &stored, "points/s", opt.window_s,
		   "(points stored; sender, worker and WAL thread share 2 vCPUs)");
	printf("BENCH ingest_socket_udp_loss_ratio %.3f (sent %llu frames, received %llu, lost "
	       "%llu; kernel_overflow %llu; the sender competes with the receiver for the 2 vCPUs "
	       "and does the kernel's loopback delivery itself)\n",
	       sent ? (double)lost / (double)sent : 0.0, (unsigned long long)sent,
	       (unsigned long long)ss.rx.packets, (unsigned long long)lost,
	       (unsigned long long)ss.rx.drops[DP_RXD_KERNEL_OVERFLOW]);
	print_vs_inprocess("socket_udp", median(&stored), "socket backend",
			   "the binary target, 20 M points/s/core");
	printf("# socket: mode %s, rcvbuf %llu B, sender offered %.4g points/s (median), send "
	       "errors %llu, no_buffer %llu, worker rc %d%s; worker thread on CPU %.0f%% of the "
	       "windows (%.3g points per worker CPU-second)\n",
	       dp_sock_mode_name(dp_sock_worker_mode(b, 0)), (unsigned long long)ss.rx.rcvbuf_bytes,
	       median(&offered), (unsigned long long)atomic_load(&s.errors),
	       (unsigned long long)ss.rx.drops[DP_RXD_NO_BUFFER], wt.rc,
	       defs ? "" : "; NOT ALL DEFs ARRIVED", 100 * cpu,
	       cpu > 0 ? median(&stored) / cpu : 0.0);
	rig_report(&r, "socket store");
	close(s.fd);
	rig_close(&r);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------ DPDK */

struct ring_sender {
	const struct bin_pool *pool;
	struct rte_mempool *mp;
	uint16_t port;
	_Atomic bool stop;
	_Atomic uint64_t frames;
	uint8_t hdr[TL_PCAP_ETH_BYTES + TL_PCAP_IP_BYTES + TL_PCAP_UDP_BYTES];
	struct tl_pcap_flow flow;
	pthread_t th;
};

/* Put n mbufs on TX queue 0 (looped to RX queue 0); wait while the ring is full. */
static void ring_tx(struct ring_sender *s, struct rte_mbuf **m, uint16_t n)
{
	uint16_t done = 0;
	while (done < n && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		done += rte_eth_tx_burst(s->port, 0, m + done, n - done);
		if (done < n)
			cm_sleep_ns(20 * CM_NS_PER_US);
	}
	if (done < n)
		rte_pktmbuf_free_bulk(m + done, n - done);
	atomic_fetch_add_explicit(&s->frames, done, memory_order_relaxed);
}

static void *ring_sender_main(void *arg)
{
	struct ring_sender *s = arg;
	enum { N = 32 };
	struct rte_mbuf *m[N];
	if (rte_thread_register())
		fprintf(stderr, "# dpdk: sender has no lcore (no mempool cache)\n");
	for (uint32_t i = 0; i < s->pool->ndef_frames;) {
		uint16_t n = (uint16_t)CM_MIN((uint32_t)N, s->pool->ndef_frames - i);
		if (rte_pktmbuf_alloc_bulk(s->mp, m, n)) {
			cm_sleep_ns(20 * CM_NS_PER_US);
			continue;
		}
		for (uint16_t k = 0; k < n; k++, i++) {
			uint8_t *d = rte_pktmbuf_mtod(m[k], uint8_t *);
			size_t len = tl_pcap_udp(d, rte_pktmbuf_tailroom(m[k]), &s->flow, 0,
						 s->pool->defs + (size_t)i * BIN_FRAME_BYTES,
						 s->pool->def_len[i]);
			m[k]->data_len = (uint16_t)len;
			m[k]->pkt_len = (uint32_t)len;
		}
		ring_tx(s, m, n);
	}
	uint64_t k = 0;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		if (rte_pktmbuf_alloc_bulk(s->mp, m, N)) {
			cm_sleep_ns(20 * CM_NS_PER_US);
			continue;
		}
		for (int i = 0; i < N; i++) {
			uint8_t *d = rte_pktmbuf_mtod(m[i], uint8_t *);
			memcpy(d, s->hdr, sizeof(s->hdr));
			bin_frame_emit(s->pool, k++, d + sizeof(s->hdr));
			m[i]->data_len = sizeof(s->hdr) + BIN_FRAME_BYTES;
			m[i]->pkt_len = sizeof(s->hdr) + BIN_FRAME_BYTES;
		}
		ring_tx(s, m, N);
	}
	rte_thread_unregister();
	return NULL;
}

static void run_dpdk(const struct bin_pool *pool)
{
	char eal[256], vdev[] = "--vdev=net_ring0";
	snprintf(eal, sizeof(eal),
		 "dpdk.eal_args=--no-huge --no-pci --no-shconf -m 512 --file-prefix pf_ingest_%d "
		 "--no-telemetry --log-level=*:error", (int)getpid());
	const char *const pairs[] = {eal, "binary.listen=127.0.0.1:7100",
				     "statsd.listen=127.0.0.1:0", "line.udp_listen=127.0.0.1:0",
				     "line.tcp_listen=127.0.0.1:0"};
	struct cm_config *c = config_new(pairs, CM_ARRAY_SIZE(pairs));
	struct dp_rx_cfg rx;
	struct dp_dpdk_cfg dc;
	char err[512] = "";
	struct dp_backend *b = NULL;
	char *argv[] = {vdev};
	int rc = dp_rx_cfg_from(c, &rx, err, sizeof(err));
	dp_dpdk_cfg_default(&dc);
	if (rc == 0)
		rc = dp_dpdk_cfg_from(c, &dc, err, sizeof(err));
	cm_config_destroy(c);
	printf("# dpdk: %s --vdev=net_ring0\n", dc.eal_args);
	if (rc == 0)
		rc = dp_dpdk_create(&rx, &dc, 1, 1, argv, &b, err, sizeof(err));
	if (rc) {
		printf("# dpdk: cannot start (%d: %s); ingest_dpdk_ring_points_per_s skipped\n", rc,
		       err);
		return;
	}
	struct ring_sender s = {.pool = pool};
	if (rte_eth_dev_get_port_by_name("net_ring0", &s.port))
		die("net_ring0 port", -ENODEV);
	s.mp = rte_pktmbuf_pool_create("pf_ingest_tx", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!s.mp)
		die("sender mempool", -ENOMEM);
	s.flow = (struct tl_pcap_flow){
		.src_mac = {0x02, 0, 0, 0, 0, 2}, .dst_mac = {0x02, 0, 0, 0, 0, 1},
		.src_ip = 0x0a000002, .dst_ip = 0x0a000001, .src_port = 40000,
		.dst_port = BIN_PORT_DPDK,
	};
	uint8_t frame[2048];
	if (tl_pcap_udp(frame, sizeof(frame), &s.flow, 0, pool->frames, BIN_FRAME_BYTES) !=
	    sizeof(s.hdr) + BIN_FRAME_BYTES)
		die("frame template", -EINVAL);
	memcpy(s.hdr, frame, sizeof(s.hdr));

	struct rig r;
	rig_open(&r, "dpdk", b, NULL);
	struct worker_thread wt = {.r = &r};
	pthread_create(&wt.th, NULL, worker_main, &wt);
	pthread_create(&s.th, NULL, ring_sender_main, &s);
	bool defs = wait_defs(&r, pool, 10 * CM_NS_PER_SEC);
	struct reps stored = {.n = 0};
	double cpu = threaded_windows(&wt, &stored, NULL, NULL);
	atomic_store(&s.stop, true);
	pthread_join(s.th, NULL);
	cm_sleep_ns(100 * CM_NS_PER_MS);  /* the worker empties the ring */
	dp_worker_stop(r.w);
	pthread_join(wt.th, NULL);
	struct dp_rx_stats rs = {0};
	b->ops->stats_read(b, &rs);

	print_reps("ingest_dpdk_ring_points_per_s", &stored, "points/s", opt.window_s,
		   "(points stored; net_ring loopback, a sender thread fills the ring)");
	print_vs_inprocess("dpdk_ring", median(&stored), "DPDK backend",
			   "target 20 M points/s/core");
	uint64_t drops = sum_u64(rs.drops, DP_RXD__COUNT);
	printf("# dpdk: sent %llu frames, rx packets %llu, delivered %llu, drops %llu, worker rc "
	       "%d%s; 3 busy threads (worker, sender, WAL) on 2 vCPUs: worker thread on CPU %.0f%% "
	       "of the windows (%.3g points per worker CPU-second)\n",
	       (unsigned long long)atomic_load(&s.frames), (unsigned long long)rs.packets,
	       (unsigned long long)rs.msgs[DP_PROTO_BINARY], (unsigned long long)drops, wt.rc,
	       defs ? "" : "; NOT ALL DEFs ARRIVED", 100 * cpu,
	       cpu > 0 ? median(&stored) / cpu : 0.0);
	rig_report(&r, "dpdk store");
	rig_close(&r);
	rte_mempool_free(s.mp);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------ main */

/* The machine is shared: what else ran (load average) goes with the figures. */
static void print_load(const char *when)
{
	char la[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(la, sizeof(la), f))
			snprintf(la, sizeof(la), "?");
		fclose(f);
	}
	la[strcspn(la, "\n")] = '\0';
	printf("# load at %s: %s (this process adds up to 2-3 runnable threads)\n", when, la);
}

static void usage(void)
{
	fprintf(stderr, "usage: pf_ingest_bench [--seconds S] [--warmup S] [--yard S] [--reps N] "
			"[--only binary,statsd,line,socket,dpdk] [--bin-refs N (per source, a multiple "
			"of 60)]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--seconds"))
			opt.window_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--warmup"))
			opt.warmup_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--yard"))
			opt.yard_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--reps"))
			opt.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only"))
			opt.only = argv[++i];
		else if (!strcmp(argv[i], "--bin-refs"))
			opt.bin_refs = (uint32_t)atoi(argv[++i]);
		else
			usage();
	}
	if (opt.reps < 1 || opt.reps > REPS_MAX || opt.window_s <= 0 || opt.bin_refs == 0 ||
	    opt.bin_refs % BIN_PER_FRAME || opt.bin_refs > (1u << 20) / BIN_SOURCES)
		usage();
	cm_log_set_level(CM_LOG_WARN);
	pf_print_machine("ingest");
	print_load("start");
	printf("# ingest: %d x %.1f s windows after %.1f s warm-up (decoder yardsticks %d x %.1f s); "
	       "bursts of %u messages, flush + poll after each; store defaults (wal.durability "
	       "interval, WAL I/O thread, flusher thread)\n",
	       opt.reps, opt.window_s, opt.warmup_s, opt.reps, opt.yard_s, RX_BURST);
	printf("# ingest: compiled for sse4.2 %s, avx2 %s (libdpdk's pkg-config cflags add "
	       "-march=corei7 to every target that depends on it)\n",
#ifdef __SSE4_2__
	       "yes",
#else
	       "no",
#endif
#ifdef __AVX2__
	       "yes"
#else
	       "no"
#endif
	);
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char parent[512];
	snprintf(parent, sizeof(parent), "%s/streamflow-bench", tmp);
	mkdir(parent, 0755);
	snprintf(tmpdir, sizeof(tmpdir), "%s/ingest.XXXXXX", parent);
	if (!mkdtemp(tmpdir))
		die("mkdtemp", -errno);
	if (st_rcu_create(4, &rcu))
		die("st_rcu_create", -ENOMEM);
	config = config_new(NULL, 0);

	struct bin_pool pool;
	int64_t t0 = cm_mono_ns();
	bin_pool_build(&pool, 0x5eed1234);
	printf("# binary pool: %u point frames + %u DEF frames (%u DEFs), built in %.2f s\n",
	       pool.nframes, pool.ndef_frames, pool.ndefs, (cm_mono_ns() - t0) / 1e9);
	fflush(stdout);
	run_memcpy(&pool);
	if (wanted("binary"))
		run_binary(&pool);
	if (wanted("statsd"))
		run_statsd(0x5eed5d5d);
	if (wanted("line"))
		run_line();
	if (wanted("socket"))
		run_socket(&pool);
	if (wanted("dpdk"))
		run_dpdk(&pool);

	print_load("end");
	bin_pool_release(&pool);
	cm_config_destroy(config);
	st_rcu_destroy(rcu);
	rm_tree(tmpdir);
	return 0;
}
