/*
 * mg_stats.c - see mg_stats.h. Off the hot path: it sums the parts'
 * relaxed counters.
 */
#include "mg_stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "dp_binsrc.h"
#include "mg_daemon_int.h"
#include "mg_watch.h"

#define U(x) ((unsigned long long)(x))

static void print_rx(struct mg_daemon *d, FILE *out)
{
	struct dp_rx_stats rx = {0};
	if (d->backend)
		d->backend->ops->stats_read(d->backend, &rx);
	fprintf(out, "rx.backend %s\n", d->backend ? d->backend->ops->name : "none");
	fprintf(out, "rx.packets %llu\n", U(rx.packets));
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		fprintf(out, "rx.msgs.%s %llu\nrx.bytes.%s %llu\n", dp_proto_name(p), U(rx.msgs[p]),
			dp_proto_name(p), U(rx.bytes[p]));
	for (int c = 0; c < DP_RXD__COUNT; c++)
		fprintf(out, "rx.drop.%s %llu\n", dp_rx_drop_name(c), U(rx.drops[c]));
	fprintf(out, "rx.tcp_accepted %llu\nrx.tcp_open %llu\nrx.rcvbuf_bytes %llu\nrx.igmp_sent %llu\n",
		U(rx.tcp_accepted), U(rx.tcp_open), U(rx.rcvbuf_bytes), U(rx.igmp_sent));
}

static void print_worker(struct mg_daemon *d, FILE *out)
{
	struct dp_worker_stats w = {0};
	for (uint32_t i = 0; d->workers && i < d->nshards; i++)
		if (d->workers[i].w)
			dp_worker_stats_add(d->workers[i].w, &w);
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		fprintf(out, "worker.msgs.%s %llu\n", dp_proto_name(p), U(w.msgs[p]));
	for (int s = 0; s < DP_STATSD__COUNT; s++)
		fprintf(out, "decode.statsd.%s %llu\n", dp_statsd_status_name(s), U(w.statsd[s]));
	for (int s = 0; s < DP_LINE__COUNT; s++)
		fprintf(out, "decode.line.%s %llu\n", dp_line_status_name(s), U(w.line[s]));
	for (int s = 0; s < DP_FRAME__COUNT; s++)
		fprintf(out, "decode.binary.%s %llu\n", dp_frame_status_name(s), U(w.frame[s]));
	for (int s = 0; s < DP_SEQ__COUNT; s++)
		fprintf(out, "binary.seq.%s %llu\n", dp_frame_seq_result_name(s), U(w.frame_seq[s]));
	fprintf(out, "binary.frames_missing %llu\nbinary.defs %llu\nbinary.seq_events %llu\n",
		U(w.frame_missing), U(w.binary_defs), U(w.seq_events));
	fprintf(out, "worker.values.statsd %llu\nworker.values.line %llu\nworker.values.binary %llu\n",
		U(w.statsd_values), U(w.line_values), U(w.binary_values));
	fprintf(out, "worker.statsd_aggregated %llu\n", U(w.statsd_aggregated));
	for (int c = 0; c < DP_WD__COUNT; c++)
		fprintf(out, "worker.dropped.%s %llu\n", dp_worker_drop_name(c), U(w.dropped[c]));
	fprintf(out, "worker.points_in %llu\nworker.points_stored %llu\n", U(w.points_in),
		U(w.points_stored));
	for (int s = 1; s < ST_INS__COUNT; s++)
		fprintf(out, "worker.rejected.%s %llu\n", st_insert_status_name(s), U(w.rejected[s]));
	fprintf(out, "worker.inject_points %llu\nworker.passes %llu\nworker.idle_passes %llu\n",
		U(w.inject_points), U(w.passes), U(w.idle_passes));
}

/* Per sender (statsd, line) and per binary source, at most a few hundred lines. */
static void print_sources(struct mg_daemon *d, FILE *out)
{
	for (uint32_t i = 0; d->workers && i < d->nshards; i++) {
		const struct dp_worker *w = d->workers[i].w;
		if (!w)
			continue;
		struct dp_worker_sender s[DP_WORKER_SENDERS];
		uint64_t om, ob;
		uint32_t n = dp_worker_senders(w, s, DP_WORKER_SENDERS, &om, &ob);
		for (uint32_t k = 0; k < n; k++) {
			char a[INET6_ADDRSTRLEN];
			static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			if (!memcmp(s[k].addr, v4, 12))
				inet_ntop(AF_INET, s[k].addr + 12, a, sizeof(a));
			else
				inet_ntop(AF_INET6, s[k].addr, a, sizeof(a));
			fprintf(out, "sender.%u.%s.%s.msgs %llu\nsender.%u.%s.%s.bad %llu\n", i,
				dp_proto_name(s[k].proto), a, U(s[k].msgs), i, dp_proto_name(s[k].proto),
				a, U(s[k].bad));
		}
		fprintf(out, "sender.%u.other.msgs %llu\nsender.%u.other.bad %llu\n", i, U(om), i, U(ob));
		const struct dp_binsrc *bs = dp_worker_binsrc(w);
		const struct dp_binsrc_source *src;
		for (uint32_t k = 0; (src = dp_binsrc_source_at(bs, k)); k++)
			for (int c = 0; c < DP_BSC__COUNT; c++)
				fprintf(out, "binary.source.%u.%s %llu\n", src->id, dp_binsrc_ctr_name(c),
					U(atomic_load_explicit(&src->ctr[c], memory_order_relaxed)));
	}
}

static void print_statsd(struct mg_daemon *d, FILE *out)
{
	struct dp_agg_stats a = {0};
	for (uint32_t i = 0; d->aggs && i < d->nshards; i++) {
		struct dp_agg_stats one;
		if (!d->aggs[i])
			continue;
		dp_agg_stats_read(d->aggs[i], &one);
		dp_agg_stats_sum(&a, &one);
	}
	dp_agg_stats_print(&a, "statsd.agg.", out);
	if (d->statsd) {
		struct mg_statsd_stats s;
		mg_statsd_stats_read(d->statsd, &s);
		fprintf(out, "statsd.flushes %llu\nstatsd.late_workers %llu\nstatsd.points %llu\n"
			"statsd.stored %llu\nstatsd.rejected %llu\nstatsd.batches %llu\n"
			"statsd.last_flush_ns %lld\n",
			U(s.flushes), U(s.late_workers), U(s.points), U(s.stored), U(s.rejected),
			U(s.batches), (long long)s.last_flush_ns);
	}
}

static void print_watch(struct mg_daemon *d, FILE *out)
{
	struct mg_watch_stats w;
	mg_watch_stats_read(d->watch, &w);
	fprintf(out, "detect.passes %llu\ndetect.points %llu\ndetect.events %llu\n"
		"detect.errors %llu\ndetect.future %llu\ndetect.series %llu\n"
		"detect.last_lag_ms %llu\n", U(w.passes), U(w.points), U(w.events), U(w.errors),
		U(w.future), U(w.series), U(w.last_lag_ms));
}

static void print_store(struct mg_daemon *d, FILE *out)
{
	struct st_store_stats t = {0};
	for (uint32_t i = 0; d->stores && i < d->nshards; i++) {
		struct st_store_stats s;
		st_read_begin(d->rcu, d->stats_reader);
		st_store_stats_read(d->stores[i], &s);
		st_read_end(d->rcu, d->stats_reader);
		t.shard.points_stored += s.shard.points_stored;
		t.shard.points_ooo += s.shard.points_ooo;
		t.shard.series += s.shard.series;
		t.shard.memory_bytes += s.shard.memory_bytes;
		t.shard.chunks_sealed += s.shard.chunks_sealed;
		for (int k = 0; k < ST_INS__COUNT; k++)
			t.shard.rejected[k] += s.shard.rejected[k] + s.refused[k];
		t.wal.records += s.wal.records;
		t.wal.points += s.wal.points;
		t.wal.stored_bytes += s.wal.stored_bytes;
		t.wal.syncs += s.wal.syncs;
		t.wal.write_errors += s.wal.write_errors;
		for (int k = 0; k < 3; k++) {
			t.blocks[k] += s.blocks[k];
			t.block_bytes[k] += s.block_bytes[k];
		}
		t.checkpoints += s.checkpoints;
		t.blocks_quarantined += s.blocks_quarantined;
		t.scache.hits += s.scache.hits;
		t.scache.misses += s.scache.misses;
		t.scache.evictions += s.scache.evictions;
		t.scache.bytes += s.scache.bytes;
		t.disk_low |= s.disk_low;
	}
	fprintf(out, "store.points_stored %llu\nstore.points_ooo %llu\nstore.series %llu\n"
		"store.memory_bytes %llu\nstore.chunks_sealed %llu\n",
		U(t.shard.points_stored), U(t.shard.points_ooo), U(t.shard.series),
		U(t.shard.memory_bytes), U(t.shard.chunks_sealed));
	for (int k = 1; k < ST_INS__COUNT; k++)
		fprintf(out, "store.rejected.%s %llu\n", st_insert_status_name(k), U(t.shard.rejected[k]));
	fprintf(out, "wal.records %llu\nwal.points %llu\nwal.bytes %llu\nwal.syncs %llu\n"
		"wal.write_errors %llu\n", U(t.wal.records), U(t.wal.points), U(t.wal.stored_bytes),
		U(t.wal.syncs), U(t.wal.write_errors));
	fprintf(out, "blocks.warm %llu\nblocks.cold %llu\nblocks.warm_bytes %llu\n"
		"blocks.cold_bytes %llu\nblocks.quarantined %llu\nstore.checkpoints %llu\n"
		"store.disk_low %d\n", U(t.blocks[ST_TIER_WARM]), U(t.blocks[ST_TIER_COLD]),
		U(t.block_bytes[ST_TIER_WARM]), U(t.block_bytes[ST_TIER_COLD]),
		U(t.blocks_quarantined), U(t.checkpoints), t.disk_low);
	fprintf(out, "section_cache.hits %llu\nsection_cache.misses %llu\n"
		"section_cache.evictions %llu\nsection_cache.bytes %llu\n", U(t.scache.hits),
		U(t.scache.misses), U(t.scache.evictions), U(t.scache.bytes));
	if (d->flush) {
		struct st_flush_stats f;
		st_flush_stats_read(d->flush, &f);
		fprintf(out, "flush.checkpoint_failures %llu\nflush.partitions_rewritten %llu\n"
			"flush.blocks_deleted %llu\nflush.points_expired %llu\n",
			U(f.checkpoint_failures), U(f.partitions_rewritten), U(f.blocks_deleted),
			U(f.points_expired));
	}
}

/* The stats writer and the front-ends share the daemon's stats reader slot. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

void mg_stats_print(struct mg_daemon *d, FILE *out)
{
	pthread_mutex_lock(&stats_lock);
	fprintf(out, "uptime_ms %lld\nshards %u\n",
		(long long)((cm_now_ns() - d->started_ns) / CM_NS_PER_MS), d->nshards);
	print_rx(d, out);
	print_worker(d, out);
	print_statsd(d, out);
	print_watch(d, out);
	print_store(d, out);
	print_sources(d, out);
	pthread_mutex_unlock(&stats_lock);
}

int mg_stats_write_file(struct mg_daemon *d, const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		int e = errno;
		CM_LOG_RL(CM_LOG_WARN, "stats", "event=write_failed path=%s err=%s", tmp, strerror(e));
		return -e;
	}
	mg_stats_print(d, f);
	fputs("end 1\n", f);
	if (fclose(f) || rename(tmp, path)) {
		int e = errno;
		CM_LOG_RL(CM_LOG_WARN, "stats", "event=write_failed path=%s err=%s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* Counters that can go down: levels, sizes, states. */
static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {
		"uptime_ms", "shards", "rx.tcp_open", "rx.rcvbuf_bytes", "store.series",
		"store.memory_bytes", "store.disk_low", "statsd.last_flush_ns", "statsd.agg.series",
		"statsd.agg.tables_created", "blocks.", "index.", "query.running",
		"section_cache.bytes", "detect.series", "detect.last_lag_ms",
	};
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		if (!strncmp(name, gauges[i], strlen(gauges[i])))
			return true;
	return false;
}

int mg_stats_each(struct mg_daemon *d, mg_stat_fn fn, void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	mg_stats_print(d, f);
	if (fclose(f)) {
		free(text);
		return -ENOMEM;
	}
	int rc = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' '), *end;
		if (!sp)
			continue;
		*sp = 0;
		errno = 0;
		long long v = strtoll(sp + 1, &end, 10);
		if (errno || *end || end == sp + 1)
			continue; /* not a number: rx.backend */
		struct mg_stat st = {.name = line, .value = (uint64_t)v,
				     .kind = is_gauge(line) ? MG_STAT_GAUGE : MG_STAT_COUNTER};
		rc = fn(arg, &st);
	}
	free(text);
	return rc;
}
