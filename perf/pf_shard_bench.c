/*
 * pf_shard_bench.c - shard insert of already-parsed points on one core:
 *
 *   shard_insert_1k_series   the TSBS dataset (1,000 series, 8.64 M points)
 *                            in its arrival order, keys pre-built
 *   shard_insert_1m_series   1,000,000 TSBS-shaped series (100,000 hosts x
 *                            10 fields), 10 rounds of points, time-major;
 *                            round 0 creates the series (reported apart as
 *                            shard_create_1m_series), rounds 1-9 are timed
 *
 * plus the shard's memory per value and per series, and memcpy bandwidth of
 * the same point records as the yardstick. Prints `BENCH` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "pf_dataset.h"
#include "st_series.h"
#include "st_shard.h"
#include "tl_floatwalk.h"

#define BURST 64
#define REPS 3

static struct st_rcu *rcu;

static struct st_shard *new_shard(size_t mem, uint32_t hint)
{
	struct st_shard_cfg cfg;
	struct st_shard *sh;
	st_shard_cfg_default(&cfg);
	cfg.rcu = rcu;
	cfg.memory_limit_bytes = mem;
	cfg.series_hint = hint;
	if (st_shard_create(&cfg, &sh))
		abort();
	return sh;
}

/* Insert pts[0..n) in bursts; returns ns. Aborts on any rejection. */
static int64_t insert_all(struct st_shard *sh, const struct st_shard_point *pts, size_t n)
{
	uint8_t status[BURST];
	int64_t t0 = cm_mono_ns();
	for (size_t i = 0; i < n; i += BURST) {
		uint32_t b = (uint32_t)CM_MIN((size_t)BURST, n - i);
		if (cm_unlikely(st_shard_insert_burst(sh, pts + i, b, status, NULL) != b)) {
			for (uint32_t k = 0; k < b; k++)
				if (status[k] > ST_INS_OOO) {
					fprintf(stderr, "shard bench: point %zu rejected: %s\n", i + k,
						st_insert_status_name((enum st_insert_status)status[k]));
					abort();
				}
		}
		st_shard_maintain(sh);
	}
	return cm_mono_ns() - t0;
}

static double memcpy_rate(const struct st_shard_point *pts, size_t n)
{
	struct st_shard_point *dst = malloc(n * sizeof(*dst));
	memcpy(dst, pts, n * sizeof(*dst));
	int64_t best = INT64_MAX;
	for (int r = 0; r < REPS; r++) {
		int64_t t0 = cm_mono_ns();
		memcpy(dst, pts, n * sizeof(*dst));
		/* the copy must happen: dst escapes to the compiler */
		__asm__ volatile("" : : "r"(dst) : "memory");
		best = CM_MIN(best, cm_mono_ns() - t0);
	}
	free(dst);
	return (double)n / ((double)best / 1e9);
}

static void bench_1k(void)
{
	struct pf_dataset d;
	if (pf_dataset_tsbs(pf_shared_dir(), &d)) {
		fprintf(stderr, "shard bench: TSBS data unavailable\n");
		exit(77);
	}
	struct st_shard_point *pts = malloc(d.npoints * sizeof(*pts));
	size_t n = 0;
	/* arrival order: time-major, the series of a host together (as the lines) */
	for (uint32_t i = 0; i < 8640; i++)
		for (uint32_t s = 0; s < d.nseries; s++) {
			const struct pf_series *se = &d.series[s];
			if (i >= se->n)
				continue;
			pts[n++] = (struct st_shard_point){
				.key = se->key, .keylen = se->keylen, .hash = se->hash,
				.ts_ns = se->ts[i], .v.u64 = se->vals[i], .type = se->type};
		}
	int64_t best = INT64_MAX;
	struct st_shard_stats st;
	for (int r = 0; r < REPS; r++) {
		struct st_shard *sh = new_shard((size_t)4 << 30, 2048);
		best = CM_MIN(best, insert_all(sh, pts, n));
		st_shard_stats_read(sh, &st);
		st_shard_destroy(sh);
	}
	double rate = (double)n / ((double)best / 1e9);
	printf("# 1k: %u series, %zu points, %llu chunks sealed\n", d.nseries, n,
	       (unsigned long long)st.chunks_sealed);
	printf("BENCH shard_insert_1k_series %.3g points/s\n", rate);
	printf("BENCH shard_memory_bytes_per_value_tsbs %.3f bytes/value\n",
	       (double)st.memory_used_bytes / (double)n);
	double mc = memcpy_rate(pts, n);
	printf("BENCH shard_point_memcpy_rate %.3g points/s\n", mc);
	printf("BENCH shard_insert_1k_vs_memcpy_ratio %.3f ratio\n", rate / mc);
	free(pts);
	pf_dataset_release(&d);
}

static void bench_1m(void)
{
	enum { HOSTS = 100000, FIELDS = 10, ROUNDS = 10 };
	static const char *const fields[FIELDS] = {
		"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
		"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
	static const char *const regions[] = {"us-east-1", "us-west-1", "us-west-2", "eu-west-1",
					      "eu-central-1", "ap-southeast-1", "ap-southeast-2",
					      "ap-northeast-1", "sa-east-1"};
	const uint32_t nser = HOSTS * FIELDS;
	uint8_t *keys = malloc((size_t)nser * 256);
	uint16_t *klen = malloc(nser * sizeof(*klen));
	uint64_t *hash = malloc(nser * sizeof(*hash));
	struct tl_rng rng;
	tl_rng_seed(&rng, 123);
	for (uint32_t h = 0; h < HOSTS; h++) {
		char host[16], rack[8], svc[8], dc[32];
		const char *region = regions[tl_rng_next(&rng) % 9];
		snprintf(host, sizeof(host), "host_%u", h);
		snprintf(rack, sizeof(rack), "%u", (unsigned)(tl_rng_next(&rng) % 100));
		snprintf(svc, sizeof(svc), "%u", (unsigned)(tl_rng_next(&rng) % 20));
		snprintf(dc, sizeof(dc), "%sa", region);
#define T(k, v) {{k, sizeof(k) - 1}, {v, (uint32_t)strlen(v)}}
		for (uint32_t f = 0; f < FIELDS; f++) {
			struct st_tag tags[] = {
				T("hostname", host), T("region", region), T("datacenter", dc),
				T("rack", rack), T("os", "Ubuntu16.04LTS"), T("arch", "x64"),
				T("team", "SF"), T("service", svc), T("service_version", "1"),
				T("service_environment", "production")};
			uint32_t id = h * FIELDS + f;
			int len = st_key_build(keys + (size_t)id * 256, 256, (struct st_str){"cpu", 3},
					       (struct st_str){fields[f], (uint32_t)strlen(fields[f])},
					       tags, CM_ARRAY_SIZE(tags));
			if (len <= 0)
				abort();
			klen[id] = (uint16_t)len;
			hash[id] = st_key_hash(keys + (size_t)id * 256, (size_t)len);
		}
#undef T
	}
	size_t n = (size_t)nser * ROUNDS;
	struct st_shard_point *pts = malloc(n * sizeof(*pts));
	for (uint32_t r = 0; r < ROUNDS; r++)
		for (uint32_t id = 0; id < nser; id++)
			pts[(size_t)r * nser + id] = (struct st_shard_point){
				.key = keys + (size_t)id * 256, .keylen = klen[id], .hash = hash[id],
				.ts_ns = TL_FLOATWALK_T0_NS + (int64_t)r * 10 * CM_NS_PER_SEC,
				.v.i64 = (int64_t)(tl_rng_next(&rng) % 100), .type = ST_VT_I64};

	int64_t best_create = INT64_MAX, best_insert = INT64_MAX;
	struct st_shard_stats st;
	for (int rep = 0; rep < 2; rep++) {
		struct st_shard *sh = new_shard((size_t)8 << 30, 4096);
		best_create = CM_MIN(best_create, insert_all(sh, pts, nser));
		best_insert = CM_MIN(best_insert, insert_all(sh, pts + nser, n - nser));
		st_shard_stats_read(sh, &st);
		st_shard_destroy(sh);
	}
	printf("# 1m: %u series, %zu points after creation\n", nser, n - nser);
	printf("BENCH shard_create_1m_series %.3g series/s\n",
	       (double)nser / ((double)best_create / 1e9));
	printf("BENCH shard_insert_1m_series %.3g points/s\n",
	       (double)(n - nser) / ((double)best_insert / 1e9));
	printf("BENCH shard_memory_per_series_1m %.0f bytes/series\n",
	       (double)st.memory_bytes / nser);
	free(pts);
	free(keys);
	free(klen);
	free(hash);
}

int main(int argc, char **argv)
{
	pf_print_machine("shard");
	if (st_rcu_create(1, &rcu))
		return 1;
	if (argc < 2 || strcmp(argv[1], "1m") != 0)
		bench_1k();
	if (argc < 2 || strcmp(argv[1], "1k") != 0)
		bench_1m();
	st_rcu_destroy(rcu);
	return 0;
}
