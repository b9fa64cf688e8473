/*
 * fz_driver.c - a main() for the libFuzzer-style fuzz targets in this folder,
 * so every target also runs as an ordinary test (and under ASan+UBSan in the
 * sanitizer build) without clang's libFuzzer.
 *
 *   fz_<target> FILE...      run the target once on each file (crash repro)
 *   fz_<target>              run FZ_ITERS (default 100000) inputs from a
 *                            fixed seed (FZ_SEED, default 1): random bytes,
 *                            and mutations (bit flips, truncation, splices,
 *                            byte runs) of the seeds the target offers
 *
 * A target defines LLVMFuzzerTestOneInput() and may define
 * fz_seeds(fz_emit_fn emit, void *arg) to offer valid inputs to mutate.
 * Coverage-guided fuzzing: `make fuzz` builds the same targets with
 * -fsanitize=fuzzer (tests/fuzz/run-fuzzers).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_rand.h"
#include "fz_driver.h"

#define FZ_MAX_LEN 8192
#define FZ_MAX_SEEDS 256

struct seeds {
	uint8_t *data[FZ_MAX_SEEDS];
	size_t len[FZ_MAX_SEEDS];
	size_t n;
};

static void collect(void *arg, const uint8_t *data, size_t len)
{
	struct seeds *s = arg;
	if (s->n == FZ_MAX_SEEDS || len > FZ_MAX_LEN)
		return;
	s->data[s->n] = malloc(len ? len : 1);
	if (!s->data[s->n])
		return;
	memcpy(s->data[s->n], data, len);
	s->len[s->n++] = len;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return cm_splitmix64(&rng_state);
}

static size_t mutate(uint8_t *buf, size_t len, const struct seeds *s)
{
	int rounds = 1 + (int)(rnd() % 4);
	for (int r = 0; r < rounds; r++) {
		switch (rnd() % 6) {
		case 0: /* flip a bit */
			if (len)
				buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1: /* random byte */
			if (len)
				buf[rnd() % len] = (uint8_t)rnd();
			break;
		case 2: /* truncate */
			if (len)
				len = rnd() % len;
			break;
		case 3: /* splice another seed's tail */
			if (s->n) {
				size_t k = rnd() % s->n;
				size_t at = len ? rnd() % len : 0;
				size_t from = s->len[k] ? rnd() % s->len[k] : 0;
				size_t n = CM_MIN(s->len[k] - from, FZ_MAX_LEN - at);
				memcpy(buf + at, s->data[k] + from, n);
				len = at + n;
			}
			break;
		case 4: /* insert a run of one byte */
			if (len < FZ_MAX_LEN) {
				size_t at = len ? rnd() % len : 0;
				size_t n = CM_MIN((size_t)(1 + rnd() % 16), FZ_MAX_LEN - len);
				memmove(buf + at + n, buf + at, len - at);
				memset(buf + at, (int)(rnd() & 0xff), n);
				len += n;
			}
			break;
		default: /* interesting byte values */
			if (len) {
				static const uint8_t v[] = {0, 0xff, 0x7f, 0x80, '\n', ' ', ',', '=',
							    '|', ':', '#', '"', '\\', '.', '-'};
				buf[rnd() % len] = v[rnd() % sizeof(v)];
			}
			break;
		}
	}
	return len;
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_file(argv[i]))
				return 1;
		return 0;
	}

	const char *it = getenv("FZ_ITERS");
	const char *sd = getenv("FZ_SEED");
	long iters = it ? atol(it) : 100000;
	rng_state = sd ? strtoull(sd, NULL, 0) : 1;

	struct seeds s = {0};
	fz_seeds(collect, &s);

	static uint8_t buf[FZ_MAX_LEN];
	for (long i = 0; i < iters; i++) {
		size_t len;
		if (s.n && rnd() % 8 != 0) {
			size_t k = rnd() % s.n;
			memcpy(buf, s.data[k], s.len[k]);
			len = mutate(buf, s.len[k], &s);
		} else {
			len = rnd() % 512;
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd();
		}
		/* Hand the target an exact-size heap copy so ASan sees over-reads. */
		uint8_t *copy = malloc(len ? len : 1);
		if (!copy)
			return 1;
		memcpy(copy, buf, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	for (size_t k = 0; k < s.n; k++)
		free(s.data[k]);
	printf("fuzz: %ld inputs, %zu seeds, no crash\n", iters, s.n);
	return 0;
}
