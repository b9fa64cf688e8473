/*
 * sfgen.c - dataset and load generator. Today: the float random-walk dataset
 * as InfluxDB line protocol on stdout (tl_floatwalk.h), one line per
 * timestamp and series, time-major like TSBS:
 *
 *   sfgen floatwalk [--series N] [--points M] [--seed S]
 *   walk,series=s17 value=53.21 1451606410000000000
 *
 * Exit codes: 0 ok, 2 usage error, 1 write error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_floatwalk.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: sfgen floatwalk [--series N] [--points M] [--seed S]\n");
}

static int floatwalk(int argc, char **argv)
{
	static const struct option opts[] = {
		{"series", required_argument, NULL, 'n'},
		{"points", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	unsigned long series = 1000, points = 8640;
	unsigned long long seed = 1;
	int c;
	while ((c = getopt_long(argc, argv, "n:m:s:", opts, NULL)) != -1) {
		char *end;
		errno = 0;
		switch (c) {
		case 'n': series = strtoul(optarg, &end, 10); break;
		case 'm': points = strtoul(optarg, &end, 10); break;
		case 's': seed = strtoull(optarg, &end, 0); break;
		default: usage(stderr); return 2;
		}
		if (errno || *end || end == optarg) {
			fprintf(stderr, "sfgen: bad number '%s'\n", optarg);
			return 2;
		}
	}
	if (series == 0 || series > 10000000 || points == 0 || points > 100000000) {
		fprintf(stderr, "sfgen: --series must be 1..1e7 and --points 1..1e8\n");
		return 2;
	}
	/* Generate per series in blocks of time so memory stays bounded. */
	enum { BLOCK = 1024 };
	int64_t *ts = malloc(series * BLOCK * sizeof(*ts));
	double *vals = malloc(series * BLOCK * sizeof(*vals));
	int64_t *tmp_ts = malloc(points < BLOCK ? BLOCK * sizeof(*tmp_ts) : points * sizeof(*tmp_ts));
	double *tmp_v = malloc(points < BLOCK ? BLOCK * sizeof(*tmp_v) : points * sizeof(*tmp_v));
	if (!ts || !vals || !tmp_ts || !tmp_v) {
		fprintf(stderr, "sfgen: out of memory\n");
		return 1;
	}
	int rc = 0;
	for (unsigned long b = 0; b < points && !rc; b += BLOCK) {
		unsigned long nb = points - b < BLOCK ? points - b : BLOCK;
		for (unsigned long s = 0; s < series; s++) {
			/* each series is regenerated up to the block: simple, O(points^2/BLOCK) */
			tl_floatwalk_series(seed, (uint32_t)s, (uint32_t)(b + nb), tmp_ts, tmp_v);
			memcpy(&ts[s * BLOCK], &tmp_ts[b], nb * sizeof(*ts));
			memcpy(&vals[s * BLOCK], &tmp_v[b], nb * sizeof(*vals));
		}
		for (unsigned long i = 0; i < nb && !rc; i++)
			for (unsigned long s = 0; s < series; s++)
				if (printf("walk,series=s%lu value=%.2f %lld\n", s,
					   vals[s * BLOCK + i], (long long)ts[s * BLOCK + i]) < 0) {
					rc = 1;
					break;
				}
	}
	free(ts);
	free(vals);
	free(tmp_ts);
	free(tmp_v);
	if (fflush(stdout) || rc) {
		fprintf(stderr, "sfgen: write error: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "floatwalk") == 0)
		return floatwalk(argc - 1, argv + 1);
	fprintf(stderr, "sfgen: unknown generator '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
