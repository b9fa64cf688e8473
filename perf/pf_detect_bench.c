/*
 * pf_detect_bench.c - speed of the anomaly detectors (analytics/an_detect.h).
 *
 *   detect_online_ewma_points_per_s  the streaming detector (an_online.h) as
 *                                    the management plane runs it: 1,000
 *                                    series x 10,000 points (80 MB of
 *                                    doubles) arriving time-major, one
 *                                    struct an_online per series, score and
 *                                    flag consumed per point; goal >= 10 M/s
 *   detect_sum_points_per_s          the yardstick, same run: a plain sum
 *                                    over the same 80 MB array (memory read
 *                                    bandwidth in points/s)
 *   detect_online_vs_sum_ratio       the first over the second
 *   detect_<method>_points_per_s     the batch detectors zscore, mad, iqr,
 *                                    ewma, iforest, cusum, pelt on one
 *                                    100,000-point series (random walk +
 *                                    noise + spikes + level shifts)
 *
 * Each figure is the best of 3 runs. Data from a fixed seed. Benchmark code:
 * main thread, allocates freely; a few seconds on a 2-core VM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "an_changept.h"
#include "an_detect.h"
#include "an_iforest.h"
#include "an_online.h"
#include "cm_clock.h"
#include "cm_rand.h"
#include "pf_dataset.h"

#define NSERIES 1000
#define NSTEPS 10000
#define NBATCH 100000
#define REPEATS 3

static double now_s(void)
{
	return (double)cm_mono_ns() * 1e-9;
}

/* Random walk + noise + a spike every ~1,000 points + a shift every ~20,000. */
static void gen_series(double *x, size_t n, size_t stride, uint64_t *s)
{
	double level = 100.0 * (double)(cm_splitmix64(s) % 100);
	for (size_t i = 0; i < n; i++) {
		level += 0.05 * cm_rand_gauss(s);
		if (cm_splitmix64(s) % 20000 == 0)
			level += 10.0 * cm_rand_gauss(s);
		double v = level + cm_rand_gauss(s);
		if (cm_splitmix64(s) % 1000 == 0)
			v += 15.0;
		x[i * stride] = v;
	}
}

static double bench_online(const double *vals, struct an_online *det, uint64_t *flags)
{
	double best = 1e30, sink = 0.0;
	for (int r = 0; r < REPEATS; r++) {
		for (size_t s = 0; s < NSERIES; s++)
			an_online_init(&det[s], NULL);
		uint64_t nflag = 0;
		double t0 = now_s();
		for (size_t t = 0; t < NSTEPS; t++) {
			const double *row = vals + t * NSERIES;
			for (size_t s = 0; s < NSERIES; s++) {
				uint8_t f;
				sink += an_online_push(&det[s], row[s], &f);
				nflag += f;
			}
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
		*flags = nflag;
	}
	if (sink < 0)
		printf("# impossible\n");
	return (double)NSERIES * NSTEPS / best;
}

static double bench_sum(const double *vals)
{
	double best = 1e30, sink = 0.0;
	for (int r = 0; r < REPEATS; r++) {
		double t0 = now_s(), a = 0, b = 0, c = 0, d = 0;
		for (size_t i = 0; i < (size_t)NSERIES * NSTEPS; i += 4) {
			a += vals[i];
			b += vals[i + 1];
			c += vals[i + 2];
			d += vals[i + 3];
		}
		double dt = now_s() - t0;
		sink += a + b + c + d;
		best = dt < best ? dt : best;
	}
	if (sink == 0.12345)
		printf("# unlikely\n");
	return (double)NSERIES * NSTEPS / best;
}

static void bench_batch(const char *name, an_detect_fn fn, const double *x, double *score,
			uint8_t *flag)
{
	double best = 1e30;
	size_t nflag = 0;
	for (int r = 0; r < REPEATS; r++) {
		double t0 = now_s();
		int rc = fn(x, NBATCH, NULL, score, flag);
		double dt = now_s() - t0;
		if (rc) {
			printf("# %s failed: %d\n", name, rc);
			return;
		}
		best = dt < best ? dt : best;
	}
	for (size_t i = 0; i < NBATCH; i++)
		nflag += flag[i];
	printf("BENCH detect_%s_points_per_s %.0f points/s\n", name, NBATCH / best);
	printf("# %s: %.3f ms, %zu flagged\n", name, best * 1e3, nflag);
}

int main(void)
{
	gsl_set_error_handler_off();
	pf_print_machine("detect");
	double *vals = malloc((size_t)NSERIES * NSTEPS * sizeof(*vals));
	struct an_online *det = malloc(NSERIES * sizeof(*det));
	double *x = malloc(NBATCH * sizeof(*x)), *score = malloc(NBATCH * sizeof(*score));
	uint8_t *flag = malloc(NBATCH);
	if (!vals || !det || !x || !score || !flag) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	uint64_t seed = 42;
	for (size_t s = 0; s < NSERIES; s++)
		gen_series(vals + s, NSTEPS, NSERIES, &seed);
	gen_series(x, NBATCH, 1, &seed);

	uint64_t nflag;
	double online = bench_online(vals, det, &nflag);
	double sum = bench_sum(vals);
	printf("# online: %d series x %d points, %llu flagged\n", NSERIES, NSTEPS,
	       (unsigned long long)nflag);
	printf("BENCH detect_online_ewma_points_per_s %.0f points/s\n", online);
	printf("BENCH detect_sum_points_per_s %.0f points/s\n", sum);
	printf("BENCH detect_online_vs_sum_ratio %.3f ratio\n", online / sum);

	bench_batch("zscore", an_detect_zscore, x, score, flag);
	bench_batch("mad", an_detect_mad, x, score, flag);
	bench_batch("iqr", an_detect_iqr, x, score, flag);
	bench_batch("ewma", an_detect_ewma, x, score, flag);
	bench_batch("iforest", an_detect_iforest, x, score, flag);
	bench_batch("cusum", an_detect_cusum, x, score, flag);
	bench_batch("pelt", an_detect_pelt, x, score, flag);

	free(flag);
	free(score);
	free(x);
	free(det);
	free(vals);
	return 0;
}
