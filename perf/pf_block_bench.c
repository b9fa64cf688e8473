/*
 * pf_block_bench.c - warm-tier blocks (storage/st_block.c) on the TSBS
 * integer data and the floatwalk float data, built the way the store
 * builds them (one shard, a one-day partition, series in id order):
 *
 *   disk bytes per value (the whole file image, index and padding included),
 *   build rate (MB/s of raw input at 16 bytes per point: ts + value),
 *   read rate (st_block_read of every series, whole day: CRC, zstd, decode),
 *   column decode rate (st_col_decode of the chosen codecs, from memory),
 *
 * and, in the same run, the yardsticks: zstd -1 and -19 on the raw line
 * protocol text, and the in-memory Gorilla chunks (st_chunk, 512 points)
 * on the same points. A last table compares the ways of ranking codec
 * candidates (before zstd, entropy estimate, quick zstd), zstd levels and
 * chunk sizes. Set PF_BLOCK_QUICK=1 to skip zstd -19 and the tables.
 *
 * Prints `BENCH <metric> <value> <unit>` lines (docs/BENCHMARKS.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "pf_dataset.h"
#include "st_block.h"
#include "st_chunk.h"
#include "st_colcodec.h"

#define DAY_NS (86400LL * 1000000000LL)
#define T0_NS (1451606400LL * 1000000000LL) /* 2016-01-01, TSBS and floatwalk */
#define REPS 3


static struct st_block_build_cfg default_cfg(void)
{
	return (struct st_block_build_cfg){.shard_id = 0, .part_start_ns = T0_NS,
					   .part_end_ns = T0_NS + DAY_NS};
}

/* Build the dataset into one block; returns the build time (ns), or -1. */
static int64_t build(const struct pf_dataset *d, const struct st_block_build_cfg *cfg,
		     uint8_t **img, size_t *len)
{
	struct st_block_builder *b;
	int64_t t0 = cm_mono_ns();
	if (st_block_builder_create(cfg, &b))
		return -1;
	for (uint32_t s = 0; s < d->nseries; s++) {
		const struct pf_series *se = &d->series[s];
		int rc = st_block_builder_add(b, s, (enum st_value_type)se->type, se->ts, se->vals,
					      se->n);
		if (rc) {
			fprintf(stderr, "block bench: add series %u: %d\n", s, rc);
			st_block_builder_destroy(b);
			return -1;
		}
	}
	int rc = st_block_builder_finish(b, img, len);
	st_block_builder_destroy(b);
	return rc ? -1 : cm_mono_ns() - t0;
}

/* Read every series back (whole partition); check it; best time in ns. */
static int64_t read_all(const struct pf_dataset *d, const struct st_block *blk)
{
	struct st_points pts;
	st_points_init(&pts);
	int64_t best = INT64_MAX;
	for (int r = 0; r < REPS; r++) {
		int64_t t0 = cm_mono_ns();
		for (uint32_t s = 0; s < d->nseries; s++) {
			pts.n = 0;
			int n = st_block_read(blk, s, INT64_MIN, INT64_MAX, &pts);
			if (n != (int)d->series[s].n)
				abort();
		}
		best = CM_MIN(best, cm_mono_ns() - t0);
	}
	/* correctness, outside the timing */
	for (uint32_t s = 0; s < d->nseries; s++) {
		pts.n = 0;
		st_block_read(blk, s, INT64_MIN, INT64_MAX, &pts);
		if (memcmp(pts.ts, d->series[s].ts, pts.n * 8) ||
		    memcmp(pts.vals, d->series[s].vals, pts.n * 8)) {
			fprintf(stderr, "block bench: series %u reads back different\n", s);
			abort();
		}
	}
	st_points_release(&pts);
	return best;
}

/* The builder's default ranking (ST_BLOCK_COST_ZSTD): zstd -1 of the candidate alone. */
struct zcost {
	ZSTD_CCtx *cctx;
	uint8_t *buf;
	size_t cap;
};

static double zstd_cost(void *arg, const uint8_t *buf, size_t len)
{
	struct zcost *z = arg;
	if (len == 0)
		return 0;
	size_t r = ZSTD_compressCCtx(z->cctx, z->buf, z->cap, buf, len, 1);
	return ZSTD_isError(r) ? (double)len : (double)r;
}

/*
 * The column decoders alone: encode every chunk's columns with the chooser
 * ranking as the builder does by default, then time st_col_decode over all
 * of them, from memory. Also counts the codecs chosen, for the report.
 */
static double decode_rate(const struct pf_dataset *d, uint32_t cp, const char *name)
{
	size_t wb = st_col_work_bytes(cp);
	void *work = malloc(wb);
	struct zcost z = {ZSTD_createCCtx(), NULL, ZSTD_compressBound((size_t)cp * 8)};
	z.buf = malloc(z.cap);
	struct st_col_chooser ch = {.cost = zstd_cost, .cost_arg = &z, .prune = 1.1,
				    .work = work, .work_bytes = wb};
	size_t nchunks = 0;
	for (uint32_t s = 0; s < d->nseries; s++)
		nchunks += (d->series[s].n + cp - 1) / cp;
	struct col {
		uint32_t off, tl, vl, n;
		uint8_t tc, vc, vt;
		int64_t t0, t1;
		uint64_t v0, v1;
	} *cols = calloc(nchunks, sizeof(*cols));
	uint8_t *bytes = malloc(d->npoints * 16 + 64);
	size_t at = 0, k = 0;
	uint32_t hist_t[256] = {0}, hist_v[256] = {0};
	for (uint32_t s = 0; s < d->nseries; s++) {
		const struct pf_series *se = &d->series[s];
		for (uint32_t i = 0; i < se->n; i += cp, k++) {
			uint32_t n = CM_MIN(cp, se->n - i);
			struct col *c = &cols[k];
			*c = (struct col){.off = (uint32_t)at, .n = n, .vt = se->type,
					  .t0 = se->ts[i], .t1 = se->ts[i + n - 1],
					  .v0 = se->vals[i], .v1 = se->vals[i + n - 1]};
			int tl = st_col_encode_best(&ch, ST_COL_ROLE_TS, ST_VT_I64,
						    (const uint64_t *)se->ts + i, n, bytes + at,
						    (size_t)n * 8, &c->tc);
			at += (size_t)tl;
			int vl = st_col_encode_best(&ch, ST_COL_ROLE_VALUES,
						    (enum st_value_type)se->type, se->vals + i, n,
						    bytes + at, (size_t)n * 8, &c->vc);
			at += (size_t)vl;
			c->tl = (uint32_t)tl;
			c->vl = (uint32_t)vl;
			hist_t[c->tc]++;
			hist_v[c->vc]++;
		}
	}
	uint64_t *ts = malloc(cp * 8), *vals = malloc(cp * 8);
	int64_t best = INT64_MAX;
	for (int r = 0; r < REPS; r++) {
		int64_t t0 = cm_mono_ns();
		for (size_t i = 0; i < nchunks; i++) {
			const struct col *c = &cols[i];
			if (st_col_decode(c->tc, bytes + c->off, c->tl, c->n, (uint64_t)c->t0,
					  (uint64_t)c->t1, ts) ||
			    st_col_decode(c->vc, bytes + c->off + c->tl, c->vl, c->n, c->v0, c->v1,
					  vals))
				abort();
		}
		best = CM_MIN(best, cm_mono_ns() - t0);
	}
	printf("# %s: %zu chunks of %u points; codecs chosen:", name, nchunks, cp);
	char nm[32];
	for (unsigned c = 0; c < 256; c++)
		if (hist_t[c])
			printf(" ts %s %.1f%%", st_col_codec_name((uint8_t)c, nm, sizeof(nm)),
			       100.0 * hist_t[c] / (double)nchunks);
	for (unsigned c = 0; c < 256; c++)
		if (hist_v[c])
			printf(" val %s %.1f%%", st_col_codec_name((uint8_t)c, nm, sizeof(nm)),
			       100.0 * hist_v[c] / (double)nchunks);
	printf("\n# %s: column bytes before zstd %.3f bytes/value\n", name,
	       (double)at / (double)d->npoints);
	free(ts);
	free(vals);
	free(bytes);
	free(cols);
	free(work);
	free(z.buf);
	ZSTD_freeCCtx(z.cctx);
	return (double)d->npoints / ((double)best / 1e9);
}

static double zstd_bytes_per_value(const struct pf_dataset *d, int level)
{
	size_t cap = ZSTD_compressBound(d->text_bytes);
	void *out = malloc(cap);
	size_t n = ZSTD_compress(out, cap, d->text, d->text_bytes, level);
	free(out);
	if (ZSTD_isError(n))
		abort();
	return (double)n / (double)d->npoints;
}

/* The in-memory chunks of the hot tier: st_chunk, 512 points, whole words. */
static double gorilla_bytes_per_value(const struct pf_dataset *d)
{
	static uint64_t words[1024];
	uint64_t total = 0;
	for (uint32_t s = 0; s < d->nseries; s++) {
		const struct pf_series *se = &d->series[s];
		for (uint32_t i = 0; i < se->n; i += 512) {
			struct st_chunk_enc e;
			st_chunk_enc_init(&e, words, CM_ARRAY_SIZE(words), (enum st_value_type)se->type);
			for (uint32_t k = i; k < CM_MIN(i + 512, se->n); k++)
				if (st_chunk_append(&e, se->ts[k], se->vals[k]) != ST_CHUNK_OK)
					abort();
			total += st_chunk_used_words(e.nbits) * 8;
		}
	}
	return (double)total / (double)d->npoints;
}

/*
 * Bytes of the image that are not data sections (header, index, table,
 * padding, footer); *nsects: the data sections.
 */
static double index_bytes(const uint8_t *img, size_t len, uint32_t *nsects)
{
	struct st_fmt_block_footer f;
	memcpy(&f, img + len - sizeof(f), sizeof(f));
	uint64_t data = 0;
	*nsects = 0;
	for (uint32_t i = 0; i < f.nsections; i++) {
		struct st_fmt_section s;
		memcpy(&s, img + f.index_off + i * sizeof(s), sizeof(s));
		if (s.kind == ST_SECT_DATA) {
			data += s.stored_bytes;
			(*nsects)++;
		}
	}
	return (double)(len - data);
}

struct result {
	double bpv, build_mbps, read_pps, index_bpv;
	uint64_t resident, file_bytes;
	uint32_t nsects;
};

static struct result bench_block(const struct pf_dataset *d, const struct st_block_build_cfg *cfg,
				 bool timed)
{
	struct result r = {0};
	uint8_t *img = NULL;
	size_t len = 0;
	int64_t best = INT64_MAX;
	for (int i = 0; i < (timed ? REPS : 1); i++) {
		free(img);
		int64_t t = build(d, cfg, &img, &len);
		if (t < 0)
			abort();
		best = CM_MIN(best, t);
	}
	r.bpv = (double)len / (double)d->npoints;
	r.index_bpv = index_bytes(img, len, &r.nsects) / (double)d->npoints;
	r.file_bytes = len;
	r.build_mbps = (double)d->npoints * 16 / 1e6 / ((double)best / 1e9);
	struct st_block_mem f = {img, len};
	struct st_block *blk;
	char err[200];
	if (st_block_open(len, st_block_mem_read, &f, &blk, err, sizeof(err))) {
		fprintf(stderr, "block bench: open: %s\n", err);
		abort();
	}
	struct st_block_info info;
	st_block_get_info(blk, &info);
	r.resident = info.index_bytes_resident;
	if (timed) {
		if (st_block_verify(blk, err, sizeof(err))) {
			fprintf(stderr, "block bench: verify: %s\n", err);
			abort();
		}
		r.read_pps = (double)d->npoints / ((double)read_all(d, blk) / 1e9);
	}
	st_block_close(blk);
	free(img);
	return r;
}

static void report(const char *name, const struct pf_dataset *d, bool quick)
{
	struct st_block_build_cfg cfg = default_cfg();
	struct result r = bench_block(d, &cfg, true);
	double dec = decode_rate(d, ST_BLOCK_DEFAULT_CHUNK_POINTS, name);
	double z1 = zstd_bytes_per_value(d, 1);
	double gor = gorilla_bytes_per_value(d);
	printf("# %s: %u series, %llu points; defaults: chunk_points %u, section_bytes %u, zstd %d\n",
	       name, d->nseries, (unsigned long long)d->npoints, ST_BLOCK_DEFAULT_CHUNK_POINTS,
	       ST_BLOCK_DEFAULT_SECTION_BYTES, ST_BLOCK_DEFAULT_ZSTD_LEVEL);
	printf("# %s: file %llu bytes, %u data sections, index resident %llu bytes\n", name,
	       (unsigned long long)r.file_bytes, r.nsects, (unsigned long long)r.resident);
	printf("BENCH block_image_bytes_per_value_%s %.3f B/value\n", name, r.bpv);
	printf("BENCH disk_index_bytes_per_value_%s %.4f B/value\n", name, r.index_bpv);
	printf("BENCH block_index_resident_bytes_per_value_%s %.4f B/value\n", name,
	       (double)r.resident / (double)d->npoints);
	printf("BENCH block_build_mb_per_s%s%s %.1f MB/s\n", *name == 't' ? "" : "_",
	       *name == 't' ? "" : name, r.build_mbps);
	printf("BENCH block_read_points_per_s%s%s %.3g points/s\n", *name == 't' ? "" : "_",
	       *name == 't' ? "" : name, r.read_pps);
	printf("BENCH block_decode_points_per_s%s%s %.3g points/s\n", *name == 't' ? "" : "_",
	       *name == 't' ? "" : name, dec);
	printf("BENCH zstd1_bytes_per_value_%s %.3f B/value\n", name, z1);
	if (!quick) {
		double z19 = zstd_bytes_per_value(d, 19);
		printf("BENCH zstd19_bytes_per_value_%s %.3f B/value\n", name, z19);
		printf("BENCH block_vs_zstd19_bytes_ratio_%s %.3f ratio\n", name, r.bpv / z19);
	}
	printf("BENCH gorilla_chunk_bytes_per_value_%s %.3f B/value\n", name, gor);
	printf("BENCH block_vs_zstd1_bytes_ratio_%s %.3f ratio\n", name, r.bpv / z1);
	printf("BENCH block_vs_gorilla_bytes_ratio_%s %.3f ratio\n", name, r.bpv / gor);
}

/* Bytes per value under other settings (one build each, untimed). */
static void settings_table(const char *name, const struct pf_dataset *d)
{
	static const char *const costs[] = {"default", "raw", "entropy", "zstd"};
	for (int c = ST_BLOCK_COST_RAW; c <= ST_BLOCK_COST_ZSTD; c++) {
		struct st_block_build_cfg cfg = default_cfg();
		cfg.cost = (enum st_block_cost)c;
		int64_t t0 = cm_mono_ns();
		struct result r = bench_block(d, &cfg, false);
		printf("# %s cost=%-8s %.4f B/value (index %.4f), build+open %.2f s\n", name, costs[c], r.bpv, r.index_bpv,
		       (double)(cm_mono_ns() - t0) / 1e9);
	}
	static const int levels[] = {1, 3, 9, 19};
	for (unsigned i = 0; i < CM_ARRAY_SIZE(levels); i++) {
		struct st_block_build_cfg cfg = default_cfg();
		cfg.zstd_level = levels[i];
		int64_t t0 = cm_mono_ns();
		struct result r = bench_block(d, &cfg, false);
		printf("# %s zstd=%-2d %.4f B/value  (build+open %.2f s)\n", name, levels[i], r.bpv,
		       (double)(cm_mono_ns() - t0) / 1e9);
	}
	static const uint32_t cps[] = {256, 512, 1024, 2048, 4096, 8640};
	for (unsigned i = 0; i < CM_ARRAY_SIZE(cps); i++) {
		struct st_block_build_cfg cfg = default_cfg();
		cfg.chunk_points = cps[i];
		struct result r = bench_block(d, &cfg, false);
		printf("# %s chunk_points=%-5u %.4f B/value, index resident %.4f B/value\n", name,
		       cps[i], r.bpv, (double)r.resident / (double)d->npoints);
	}
	static const uint32_t sbs[] = {32u << 10, 64u << 10, 128u << 10, 256u << 10, 1u << 20};
	for (unsigned i = 0; i < CM_ARRAY_SIZE(sbs); i++) {
		struct st_block_build_cfg cfg = default_cfg();
		cfg.section_bytes = sbs[i];
		struct result r = bench_block(d, &cfg, true);
		printf("# %s section_bytes=%-7u %.4f B/value, read %.3g points/s\n", name, sbs[i],
		       r.bpv, r.read_pps);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* a long run: show lines as they come */
	pf_print_machine("blocks");
	const char *q = getenv("PF_BLOCK_QUICK");
	bool quick = q && *q && *q != '0';

	struct pf_dataset tsbs, walk;
	if (pf_dataset_tsbs(pf_shared_dir(), &tsbs)) {
		fprintf(stderr, "block bench: TSBS data unavailable\n");
		return 77;
	}
	report("tsbs", &tsbs, quick);
	if (!quick)
		settings_table("tsbs", &tsbs);
	pf_dataset_release(&tsbs);

	pf_dataset_floatwalk(1000, 8640, 1, &walk);
	report("floatwalk", &walk, true);
	if (!quick)
		settings_table("floatwalk", &walk);
	pf_dataset_release(&walk);
	return 0;
}
