/*
 * test_an_shesd.c - generalized ESD against Rosner's (1983) published example
 * (the NIST/SEMATECH e-Handbook, section 1.3.5.17.3: 54 values, 3 outliers),
 * the hybrid ESD against a naive re-sorting implementation on random data
 * with ties, S-H-ESD on synthetic spikes, and conformance with the outputs of
 * Twitter's AnomalyDetection R package on its raw_data (SF_DATA_DIR).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>

#include "an_detect.h"
#include "an_shesd.h"

#define TW_DIR SF_DATA_DIR "/twitter_ad/"

/* ------------------------------------------------------------------------ */
/* Rosner's example                                                         */
/* ------------------------------------------------------------------------ */

static const double rosner[54] = {
	-0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56,
	1.58,  1.65, 1.69, 1.70, 1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10,
	2.14,  2.15, 2.23, 2.24, 2.26, 2.35, 2.37, 2.40, 2.47, 2.54, 2.62, 2.64, 2.90, 2.92,
	2.92,  2.93, 3.21, 3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01,
};

static void test_an_shesd__rosner_example(void **state)
{
	(void)state;
	/* The handbook's table: R_i and lambda_i (5%, two-tailed), i = 1..10. */
	static const double R[10] = { 3.118, 2.942, 3.179, 2.810, 2.815,
				      2.848, 2.279, 2.310, 2.101, 2.067 };
	static const double L[10] = { 3.158, 3.151, 3.143, 3.136, 3.128,
				      3.120, 3.111, 3.103, 3.094, 3.085 };
	size_t order[10], nsteps, nout;
	double stat[10], crit[10];
	assert_int_equal(an_gesd(rosner, 54, 10, 0.05, AN_SHESD_BOTH, false, order, stat, crit,
				 &nsteps, &nout),
			 0);
	assert_int_equal(nsteps, 10);
	for (int i = 0; i < 10; i++) { /* the handbook truncates to 3 decimals */
		assert_true(stat[i] >= R[i] && stat[i] < R[i] + 1e-3);
		assert_true(crit[i] >= L[i] && crit[i] < L[i] + 1e-3);
	}
	assert_int_equal(nout, 3);
	assert_int_equal(order[0], 53); /* 6.01, 5.42, 5.34 */
	assert_int_equal(order[1], 52);
	assert_int_equal(order[2], 51);
}

/* ------------------------------------------------------------------------ */
/* Hybrid ESD against a naive implementation                                */
/* ------------------------------------------------------------------------ */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double naive_median(const double *x, size_t n)
{
	double *t = malloc(n * sizeof(*t));
	assert_non_null(t);
	memcpy(t, x, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_dbl);
	double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	free(t);
	return m;
}

/* detect_anoms' loop, literally: recompute median and MAD every step, take
 * the first (earliest) maximum, remove it. Returns the number of steps. */
static size_t naive_hybrid(const double *r, size_t n, size_t k, enum an_shesd_direction dir,
			   size_t *order, double *stat)
{
	double *v = malloc(n * sizeof(*v)), *dev = malloc(n * sizeof(*dev));
	size_t *id = malloc(n * sizeof(*id)), m = n, steps = 0;
	assert_true(v && dev && id);
	for (size_t i = 0; i < n; i++) {
		v[i] = r[i];
		id[i] = i;
	}
	for (size_t s = 0; s < k; s++) {
		double med = naive_median(v, m);
		for (size_t i = 0; i < m; i++)
			dev[i] = fabs(v[i] - med);
		double mad = 1.4826 * naive_median(dev, m);
		if (mad == 0)
			break;
		size_t best = 0;
		double bv = -INFINITY;
		for (size_t i = 0; i < m; i++) {
			double a = dir == AN_SHESD_POS ? v[i] - med
				   : dir == AN_SHESD_NEG ? med - v[i]
							 : fabs(v[i] - med);
			if (a / mad > bv) {
				bv = a / mad;
				best = i;
			}
		}
		order[s] = id[best];
		stat[s] = bv;
		memmove(&v[best], &v[best + 1], (m - best - 1) * sizeof(*v));
		memmove(&id[best], &id[best + 1], (m - best - 1) * sizeof(*id));
		m--;
		steps++;
	}
	free(v);
	free(dev);
	free(id);
	return steps;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_an_shesd__hybrid_matches_naive(void **state)
{
	(void)state;
	uint64_t seed = 42;
	size_t order[60], norder[60], nsteps, nout;
	double r[301], stat[60], nstat[60];
	for (int trial = 0; trial < 30; trial++) {
		size_t n = 40 + rng_next(&seed) % 260;
		bool ints = trial % 2; /* integer values: many ties */
		for (size_t i = 0; i < n; i++) {
			double u = (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
			r[i] = ints ? (double)(rng_next(&seed) % 40) : u * u * 10 - 3;
		}
		for (int d = 0; d < 3; d++) {
			size_t k = n / 5;
			assert_int_equal(an_gesd(r, n, k, 0.05, (enum an_shesd_direction)d, true,
						 order, stat, NULL, &nsteps, &nout),
					 0);
			size_t ns = naive_hybrid(r, n, k, (enum an_shesd_direction)d, norder, nstat);
			assert_int_equal(nsteps, ns);
			for (size_t i = 0; i < ns; i++) {
				assert_int_equal(order[i], norder[i]);
				assert_true(fabs(stat[i] - nstat[i]) <= 1e-12 * fmax(1, nstat[i]));
			}
		}
	}
}

static void test_an_shesd__gesd_bad_parameters(void **state)
{
	(void)state;
	size_t o[60], a, b;
	assert_int_equal(an_gesd(NULL, 54, 3, 0.05, 0, true, o, NULL, NULL, &a, &b), -EINVAL);
	assert_int_equal(an_gesd(rosner, 54, 53, 0.05, 0, true, o, NULL, NULL, &a, &b), -EINVAL);
	assert_int_equal(an_gesd(rosner, 54, 0, 0.05, 0, true, o, NULL, NULL, &a, &b), -EINVAL);
	assert_int_equal(an_gesd(rosner, 54, 3, 0.0, 0, true, o, NULL, NULL, &a, &b), -EINVAL);
	assert_int_equal(an_gesd(rosner, 54, 3, 1.0, 0, true, o, NULL, NULL, &a, &b), -EINVAL);
	double c[10] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	assert_int_equal(an_gesd(c, 10, 3, 0.05, 0, true, o, NULL, NULL, &a, &b), 0);
	assert_int_equal(a, 0); /* constant: MAD 0 stops at once */
	assert_int_equal(b, 0);
}

/* ------------------------------------------------------------------------ */
/* S-H-ESD on synthetic series                                              */
/* ------------------------------------------------------------------------ */

enum { SYN_N = 24 * 30 };

static void synth(double *x, uint64_t seed)
{
	for (size_t i = 0; i < SYN_N; i++) {
		double u = (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
		/* no trend: like the package, S-H-ESD tests value - seasonal - median,
		 * so a trend stays in what it tests */
		x[i] = 100 + 20 * sin(2 * M_PI * (double)i / 24) + (u - 0.5) * 2;
	}
}

static const size_t spikes[5] = { 50, 201, 333, 500, 650 };

static void test_an_shesd__finds_synthetic_spikes(void **state)
{
	(void)state;
	double x[SYN_N];
	size_t got[SYN_N], ng;
	synth(x, 7);
	for (int i = 0; i < 5; i++)
		x[spikes[i]] += i % 2 ? -15 : 15;
	struct an_shesd_cfg cfg = { .period = 24 };
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, SYN_N), 0);
	assert_int_equal(ng, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(got[i], spikes[i]);
	cfg.direction = AN_SHESD_POS; /* spikes 0, 2, 4 go up */
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, SYN_N), 0);
	assert_int_equal(ng, 3);
	assert_int_equal(got[0], 50);
	assert_int_equal(got[1], 333);
	assert_int_equal(got[2], 650);
	cfg.direction = AN_SHESD_NEG;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, SYN_N), 0);
	assert_int_equal(ng, 2);
	assert_int_equal(got[0], 201);
	assert_int_equal(got[1], 500);
	/* too small a buffer: the count needed and the first cap indices */
	cfg.direction = AN_SHESD_BOTH;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 2), -ENOBUFS);
	assert_int_equal(ng, 5);
	assert_int_equal(got[1], 201);
}

static void test_an_shesd__nans(void **state)
{
	(void)state;
	double x[SYN_N + 10];
	size_t got[SYN_N + 10], ng;
	for (int i = 0; i < 5; i++)
		x[i] = NAN; /* leading NaNs are dropped; indices stay the caller's */
	synth(x + 5, 7);
	for (int i = SYN_N + 5; i < SYN_N + 10; i++)
		x[i] = NAN;
	x[5 + 333] += 15;
	x[5 + 100] = NAN; /* interior: interpolated, never reported */
	struct an_shesd_cfg cfg = { .period = 24 };
	assert_int_equal(an_shesd(x, SYN_N + 10, &cfg, got, &ng, SYN_N), 0);
	assert_int_equal(ng, 1);
	assert_int_equal(got[0], 5 + 333);
}

static void test_an_shesd__bad_parameters(void **state)
{
	(void)state;
	double x[SYN_N];
	size_t got[8], ng;
	synth(x, 3);
	struct an_shesd_cfg cfg = { .period = 24 };
	assert_int_equal(an_shesd(NULL, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	assert_int_equal(an_shesd(x, SYN_N, NULL, got, &ng, 8), -EINVAL);
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, NULL, 8), -EINVAL);
	assert_int_equal(an_shesd(x, 48, &cfg, got, &ng, 8), -EINVAL); /* < 2 periods + 1 */
	cfg.period = 0;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	cfg.period = 24;
	cfg.max_anoms = 0.5;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	cfg.max_anoms = 0;
	cfg.alpha = 1.0;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	cfg.alpha = 0;
	cfg.direction = 7;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	cfg.direction = 0;
	x[3] = INFINITY;
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), -EINVAL);
	for (size_t i = 0; i < SYN_N; i++)
		x[i] = 5; /* constant: no anomalies, no error */
	assert_int_equal(an_shesd(x, SYN_N, &cfg, got, &ng, 8), 0);
	assert_int_equal(ng, 0);
}

static void test_an_shesd__detect_adapter(void **state)
{
	(void)state;
	double x[SYN_N], score[SYN_N], lo_score[SYN_N];
	uint8_t flag[SYN_N], lo_flag[SYN_N];
	synth(x, 11);
	for (int i = 0; i < 5; i++)
		x[spikes[i]] += 15;
	x[400] += 4; /* a weaker bump */
	struct an_detect_cfg cfg = { .period = 24 };
	assert_int_equal(an_detect_shesd(x, SYN_N, &cfg, score, flag), 0);
	size_t nf = 0;
	for (size_t i = 0; i < SYN_N; i++) {
		assert_true(score[i] >= 0 && score[i] <= 1);
		/* flagged: [0.5, 1), graded by the statistic; others [0, 0.5) */
		assert_true(!flag[i] || (score[i] >= 0.5 && score[i] < 1.0));
		assert_true(flag[i] || score[i] < 0.5);
		nf += flag[i];
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(flag[spikes[i]], 1);
	assert_true(score[400] > score[401]);
	/* the +15 spikes are graded: not all flagged points score alike */
	double lo = 1, hi = 0;
	for (size_t i = 0; i < SYN_N; i++)
		if (flag[i]) {
			lo = fmin(lo, score[i]);
			hi = fmax(hi, score[i]);
		}
	assert_true(hi > lo);
	/* lower sensitivity never flags more */
	cfg.sensitivity = 0.1;
	assert_int_equal(an_detect_shesd(x, SYN_N, &cfg, lo_score, lo_flag), 0);
	for (size_t i = 0; i < SYN_N; i++)
		assert_true(!lo_flag[i] || flag[i]);
	/* period 0: found by an_detect_period (24 here), same verdicts */
	cfg.sensitivity = 0;
	cfg.period = 0;
	assert_int_equal(an_detect_shesd(x, SYN_N, &cfg, lo_score, lo_flag), 0);
	assert_memory_equal(lo_flag, flag, SYN_N);
	/* cfg NULL: all defaults, the same as this zeroed cfg */
	assert_int_equal(an_detect_shesd(x, SYN_N, NULL, lo_score, lo_flag), 0);
	assert_memory_equal(lo_flag, flag, SYN_N);
	/* no period to find in a constant series */
	for (size_t i = 0; i < SYN_N; i++)
		x[i] = 1;
	assert_int_equal(an_detect_shesd(x, SYN_N, &cfg, score, flag), -EINVAL);
	assert_true(nf >= 5);
}

/* ------------------------------------------------------------------------ */
/* Conformance with the R package                                           */
/* ------------------------------------------------------------------------ */

struct tw {
	size_t n;
	double *x;
	int64_t *ts;
};
static struct tw g_tw;

static int64_t parse_utc(const char *s)
{
	int Y, M, D, h, m, sec;
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &Y, &M, &D, &h, &m, &sec) != 6)
		return INT64_MIN;
	/* days from civil (Howard Hinnant's algorithm) */
	Y -= M <= 2;
	int64_t era = (Y >= 0 ? Y : Y - 399) / 400;
	int64_t yoe = Y - era * 400;
	int64_t doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return ((days * 24 + h) * 60 + m) * INT64_C(60000000000) + sec * INT64_C(1000000000);
}

static int tw_load(void)
{
	FILE *f = fopen(TW_DIR "raw_data.csv", "r");
	char line[256];
	if (!f)
		return -1;
	g_tw.x = malloc(16384 * sizeof(double));
	g_tw.ts = malloc(16384 * sizeof(int64_t));
	if (!g_tw.x || !g_tw.ts || !fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	while (g_tw.n < 16384 && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ',');
		if (!c)
			continue;
		g_tw.ts[g_tw.n] = parse_utc(line + 1);
		g_tw.x[g_tw.n++] = strtod(c + 1, NULL);
	}
	fclose(f);
	return 0;
}

/* Expected anomalies as indices into raw_data (timestamps or 1-based index). */
static size_t tw_expected(const char *name, size_t *idx)
{
	char path[512], line[256];
	snprintf(path, sizeof(path), TW_DIR "%s", name);
	FILE *f = fopen(path, "r");
	size_t k = 0;
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '"') {
			idx[k++] = strtoul(line, NULL, 10) - 1;
			continue;
		}
		int64_t t = parse_utc(line + 1);
		size_t i = 0;
		while (i < g_tw.n && g_tw.ts[i] != t)
			i++;
		assert_true(i < g_tw.n);
		idx[k++] = i;
	}
	fclose(f);
	return k;
}

/* Run and return the overlap |ours & expected| / |expected|, in percent. */
static double tw_overlap(const char *name, const struct an_shesd_cfg *cfg, size_t *nours,
			 size_t *nexp)
{
	size_t *exp = malloc(2000 * sizeof(*exp)), *got = malloc(g_tw.n * sizeof(*got)), hit = 0;
	assert_true(exp && got);
	*nexp = tw_expected(name, exp);
	assert_int_equal(an_shesd(g_tw.x, g_tw.n, cfg, got, nours, g_tw.n), 0);
	for (size_t i = 0; i < *nexp; i++)
		for (size_t j = 0; j < *nours; j++)
			if (got[j] == exp[i]) {
				hit++;
				break;
			}
	free(exp);
	free(got);
	print_message("%-40s expected %3zu ours %3zu common %3zu\n", name, *nexp, *nours, hit);
	return 100.0 * (double)hit / (double)*nexp;
}

static void test_an_shesd__twitter_conformance(void **state)
{
	(void)state;
	if (g_tw.n == 0) {
		print_message("skip: %sraw_data.csv missing\n", TW_DIR);
		skip();
	}
	size_t ours, exp;
	struct an_shesd_cfg ts = { .period = 1440, .max_anoms = 0.02, .ts_ns = g_tw.ts };
	struct an_shesd_cfg c = ts;
	assert_true(tw_overlap("expected_ts_both_0.02.csv", &c, &ours, &exp) >= 95.0);
	c.only_last = AN_SHESD_LAST_DAY;
	assert_true(tw_overlap("expected_ts_both_0.02_lastday.csv", &c, &ours, &exp) >= 95.0);
	c = ts;
	c.longterm = true;
	assert_true(tw_overlap("expected_ts_both_0.02_longterm.csv", &c, &ours, &exp) >= 95.0);
	c = ts;
	c.threshold = AN_SHESD_THRESH_MED_MAX;
	assert_true(tw_overlap("expected_ts_both_0.02_medmax.csv", &c, &ours, &exp) >= 95.0);
	assert_int_equal(ours, 4);
	c = ts;
	c.direction = AN_SHESD_POS;
	assert_true(tw_overlap("expected_ts_pos_0.02.csv", &c, &ours, &exp) >= 95.0);
	c = ts;
	c.ts_ns = NULL;
	assert_true(tw_overlap("expected_vec_both_0.02_p1440.csv", &c, &ours, &exp) >= 95.0);
	c.threshold = AN_SHESD_THRESH_MED_MAX;
	assert_true(tw_overlap("expected_vec_both_0.02_p1440_medmax.csv", &c, &ours, &exp) >=
		    95.0);
	assert_int_equal(ours, 6);
}

int main(void)
{
	gsl_set_error_handler_off();
	if (tw_load()) /* the conformance test then skips itself */
		g_tw.n = 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_shesd__rosner_example),
		cmocka_unit_test(test_an_shesd__hybrid_matches_naive),
		cmocka_unit_test(test_an_shesd__gesd_bad_parameters),
		cmocka_unit_test(test_an_shesd__finds_synthetic_spikes),
		cmocka_unit_test(test_an_shesd__nans),
		cmocka_unit_test(test_an_shesd__bad_parameters),
		cmocka_unit_test(test_an_shesd__detect_adapter),
		cmocka_unit_test(test_an_shesd__twitter_conformance),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_tw.x);
	free(g_tw.ts);
	return rc;
}
