/*
 * pf_codec_bench.c - the chunk codec (storage/st_chunk.c) on the TSBS
 * integer data and the floatwalk float data: encode and decode points/s on
 * one core, bytes per value from the codec alone (chunks of
 * shard.chunk_points = 512 points, the shard's default), and, measured in
 * the same run, memcpy bandwidth and zstd -1 on the raw text as yardsticks.
 *
 * Prints `BENCH <metric> <value> <unit>` lines (docs/BENCHMARKS.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "pf_dataset.h"
#include "st_chunk.h"

#define CHUNK_POINTS 512
#define CHUNK_WORDS 1024 /* never FULL at 512 points: 146 bits each at most */
#define REPS 5

struct encoded {
	uint64_t *words;     /* all chunks, back to back */
	uint32_t *offs;      /* word offset of chunk i */
	uint32_t *nwords;
	uint32_t *counts;
	uint8_t *types;
	size_t nchunks;
	size_t words_used;
};

static int64_t encode_all(const struct pf_dataset *d, struct encoded *e)
{
	static uint64_t buf[CHUNK_WORDS];
	int64_t t0 = cm_mono_ns();
	e->nchunks = 0;
	e->words_used = 0;
	for (uint32_t s = 0; s < d->nseries; s++) {
		const struct pf_series *se = &d->series[s];
		for (uint32_t i = 0; i < se->n; i += CHUNK_POINTS) {
			struct st_chunk_enc enc;
			uint32_t n = CM_MIN((uint32_t)CHUNK_POINTS, se->n - i);
			st_chunk_enc_init(&enc, buf, CHUNK_WORDS, (enum st_value_type)se->type);
			for (uint32_t k = 0; k < n; k++)
				if (st_chunk_append(&enc, se->ts[i + k], se->vals[i + k]) != ST_CHUNK_OK)
					abort();
			uint32_t w = st_chunk_used_words(enc.nbits);
			memcpy(e->words + e->words_used, buf, w * 8);
			e->offs[e->nchunks] = (uint32_t)e->words_used;
			e->nwords[e->nchunks] = w;
			e->counts[e->nchunks] = n;
			e->types[e->nchunks] = se->type;
			e->nchunks++;
			e->words_used += w;
		}
	}
	return cm_mono_ns() - t0;
}

static int64_t decode_all(const struct encoded *e, uint64_t *checksum)
{
	int64_t ts[256];
	uint64_t vals[256];
	uint64_t sum = 0;
	int64_t t0 = cm_mono_ns();
	for (size_t c = 0; c < e->nchunks; c++) {
		struct st_chunk_dec dec;
		st_chunk_dec_init(&dec, e->words + e->offs[c], e->nwords[c], e->counts[c],
				  (enum st_value_type)e->types[c]);
		int n;
		while ((n = st_chunk_decode(&dec, ts, vals, 256)) > 0)
			sum += (uint64_t)ts[n - 1] + vals[n - 1];
		if (n < 0)
			abort();
	}
	*checksum = sum;
	return cm_mono_ns() - t0;
}

static double bench_dataset(const char *name, const struct pf_dataset *d, double *dec_rate_out)
{
	struct encoded e;
	size_t max_chunks = d->npoints / CHUNK_POINTS + d->nseries + 1;
	e.words = malloc((d->npoints * 146 / 64 + max_chunks) * 8 + 64);
	e.offs = malloc(max_chunks * sizeof(uint32_t));
	e.nwords = malloc(max_chunks * sizeof(uint32_t));
	e.counts = malloc(max_chunks * sizeof(uint32_t));
	e.types = malloc(max_chunks);
	int64_t best_enc = INT64_MAX, best_dec = INT64_MAX;
	uint64_t check = 0, c2;
	for (int r = 0; r < REPS; r++) {
		best_enc = CM_MIN(best_enc, encode_all(d, &e));
		best_dec = CM_MIN(best_dec, decode_all(&e, &c2));
		if (r && c2 != check)
			abort();
		check = c2;
	}
	double bpv = (double)e.words_used * 8 / (double)d->npoints;
	double enc = (double)d->npoints / ((double)best_enc / 1e9);
	double dec = (double)d->npoints / ((double)best_dec / 1e9);
	printf("# %s: %u series, %llu points, %zu chunks\n", name, d->nseries,
	       (unsigned long long)d->npoints, e.nchunks);
	/* TSBS carries the plain names codec_encode / codec_decode. */
	const char *sfx = strcmp(name, "tsbs") == 0 ? "" : "_";
	const char *nm = strcmp(name, "tsbs") == 0 ? "" : name;
	printf("BENCH codec_encode%s%s %.3g points/s\n", sfx, nm, enc);
	printf("BENCH codec_decode%s%s %.3g points/s\n", sfx, nm, dec);
	printf("BENCH codec_bytes_per_value_%s %.3f bytes/value\n", name, bpv);
	free(e.words);
	free(e.offs);
	free(e.nwords);
	free(e.counts);
	free(e.types);
	*dec_rate_out = dec;
	return bpv;
}

static double zstd1_bytes_per_value(const struct pf_dataset *d)
{
	size_t cap = ZSTD_compressBound(d->text_bytes);
	void *out = malloc(cap);
	size_t n = ZSTD_compress(out, cap, d->text, d->text_bytes, 1);
	free(out);
	if (ZSTD_isError(n))
		abort();
	return (double)n / (double)d->npoints;
}

static double memcpy_bandwidth(void)
{
	size_t bytes = (size_t)256 << 20;
	uint8_t *a = malloc(bytes), *b = malloc(bytes);
	memset(a, 1, bytes);
	memset(b, 2, bytes);
	int64_t best = INT64_MAX;
	for (int r = 0; r < REPS; r++) {
		int64_t t0 = cm_mono_ns();
		memcpy(b, a, bytes);
		best = CM_MIN(best, cm_mono_ns() - t0);
		a[r] = b[bytes - 1 - (size_t)r]; /* keep the copy observable */
	}
	free(a);
	free(b);
	return (double)bytes / ((double)best / 1e9);
}

int main(void)
{
	pf_print_machine("codec");
	double mc = memcpy_bandwidth();
	printf("BENCH memcpy_bandwidth %.3g bytes/s\n", mc);

	struct pf_dataset tsbs, walk;
	if (pf_dataset_tsbs(pf_shared_dir(), &tsbs)) {
		fprintf(stderr, "codec bench: TSBS data unavailable\n");
		return 77;
	}
	double dec_tsbs, dec_walk;
	double bpv_tsbs = bench_dataset("tsbs", &tsbs, &dec_tsbs);
	double z_tsbs = zstd1_bytes_per_value(&tsbs);
	printf("BENCH zstd1_bytes_per_value_tsbs %.3f bytes/value\n", z_tsbs);
	printf("BENCH codec_vs_zstd1_bytes_ratio_tsbs %.3f ratio\n", bpv_tsbs / z_tsbs);
	pf_dataset_release(&tsbs);

	pf_dataset_floatwalk(1000, 8640, 1, &walk);
	double bpv_walk = bench_dataset("floatwalk", &walk, &dec_walk);
	double z_walk = zstd1_bytes_per_value(&walk);
	printf("BENCH zstd1_bytes_per_value_floatwalk %.3f bytes/value\n", z_walk);
	printf("BENCH codec_vs_zstd1_bytes_ratio_floatwalk %.3f ratio\n", bpv_walk / z_walk);
	pf_dataset_release(&walk);

	/* The names: TSBS is the reference dataset for encode/decode. */
	printf("BENCH codec_decode_output_vs_memcpy_ratio %.3f ratio\n", dec_tsbs * 16 / mc);
	return 0;
}
