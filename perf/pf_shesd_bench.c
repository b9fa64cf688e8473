/*
 * pf_shesd_bench.c - S-H-ESD (analytics/an_shesd.c) conformance and speed on
 * the Twitter AnomalyDetection data (../shared/data/twitter_ad): the
 * package's raw_data (14,398 one-minute points) against the anomalies the R
 * package returns for seven settings. Prints `BENCH` lines:
 *
 *   shesd_overlap_<set>        |ours & expected| / |expected|, percent
 *   shesd_extras_<set>         our anomalies not in the expected set
 *   shesd_count_med_max_ts     anomalies with threshold med_max (R: 4)
 *   shesd_count_med_max_vec    the same, vector variant (R: 6)
 *   shesd_14398_ms             one S-H-ESD run (Ts, both), median of 21
 *   stl_14398_ms               the robust periodic STL alone, median of 21
 *   shesd_stl_share_pct        the STL's share of the run
 *
 * Benchmark code: main thread, allocates freely.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sort.h>

#include "an_shesd.h"
#include "an_stl.h"
#include "cm_clock.h"
#include "pf_dataset.h"

#define RUNS 21

struct tw {
	size_t n;
	double *x;
	int64_t *ts;
};

static int64_t parse_utc(const char *s)
{
	int Y, M, D, h, m, sec;
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &Y, &M, &D, &h, &m, &sec) != 6)
		return INT64_MIN;
	int64_t days = cm_days_from_civil(Y, M, D);
	return ((days * 24 + h) * 60 + m) * INT64_C(60000000000) + sec * INT64_C(1000000000);
}

static int tw_load(const char *dir, struct tw *t)
{
	char path[1024], line[256];
	snprintf(path, sizeof(path), "%s/twitter_ad/raw_data.csv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "pf_shesd_bench: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	size_t cap = 1 << 15;
	t->n = 0;
	t->x = malloc(cap * sizeof(*t->x));
	t->ts = malloc(cap * sizeof(*t->ts));
	if (!t->x || !t->ts || !fgets(line, sizeof(line), f)) {
		fclose(f);
		return -ENOMEM;
	}
	while (t->n < cap && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ',');
		if (!c)
			continue;
		t->ts[t->n] = parse_utc(line + 1);
		t->x[t->n++] = strtod(c + 1, NULL);
	}
	fclose(f);
	return 0;
}

/* Expected anomalies as indices: timestamps (Ts files) or 1-based indices. */
static size_t tw_expected(const char *dir, const char *name, const struct tw *t, size_t *idx,
			  size_t cap)
{
	char path[1024], line[256];
	snprintf(path, sizeof(path), "%s/twitter_ad/%s", dir, name);
	FILE *f = fopen(path, "r");
	size_t k = 0;
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "pf_shesd_bench: cannot read %s\n", path);
		if (f)
			fclose(f);
		return 0;
	}
	while (k < cap && fgets(line, sizeof(line), f)) {
		if (line[0] != '"') {
			idx[k++] = strtoul(line, NULL, 10) - 1;
			continue;
		}
		int64_t ts = parse_utc(line + 1);
		for (size_t i = 0; i < t->n; i++)
			if (t->ts[i] == ts) {
				idx[k++] = i;
				break;
			}
	}
	fclose(f);
	return k;
}

static void run_set(const char *dir, const struct tw *t, const char *set, const char *file,
		    const struct an_shesd_cfg *cfg, size_t *count)
{
	size_t *exp = malloc(4096 * sizeof(*exp)), *got = malloc(t->n * sizeof(*got));
	size_t ne, ng = 0, hit = 0;
	if (!exp || !got)
		goto out;
	ne = tw_expected(dir, file, t, exp, 4096);
	int rc = an_shesd(t->x, t->n, cfg, got, &ng, t->n);
	if (rc || ne == 0) {
		fprintf(stderr, "pf_shesd_bench: %s: rc %d, %zu expected\n", set, rc, ne);
		goto out;
	}
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j < ng; j++)
			if (got[j] == exp[i]) {
				hit++;
				break;
			}
	printf("BENCH shesd_overlap_%s %.1f %%\n", set, 100.0 * (double)hit / (double)ne);
	printf("BENCH shesd_extras_%s %zu anomalies\n", set, ng - hit);
	if (count)
		*count = ng;
out:
	free(exp);
	free(got);
}

static double now_ms(void)
{
	return (double)cm_mono_ns() / 1e6;
}

/* Median wall time of RUNS S-H-ESD runs and of RUNS STL runs. */
static int time_runs(const struct tw *t, double *shesd_ms, double *stl_ms)
{
	double a[RUNS], b[RUNS];
	size_t *got = malloc(t->n * sizeof(*got)), ng;
	double *buf = malloc(2 * t->n * sizeof(*buf));
	struct an_shesd_cfg cfg = { .period = 1440, .max_anoms = 0.02, .ts_ns = t->ts };
	struct an_stl_cfg sc;
	int rc = -ENOMEM;
	if (!got || !buf)
		goto out;
	an_stl_cfg_init(&sc, 1440);
	sc.robust = true;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();
		rc = an_shesd(t->x, t->n, &cfg, got, &ng, t->n);
		double t1 = now_ms();
		rc = rc ? rc : an_stl(t->x, t->n, &sc, buf, buf + t->n, NULL, NULL);
		double t2 = now_ms();
		if (rc)
			goto out;
		a[r] = t1 - t0;
		b[r] = t2 - t1;
	}
	gsl_sort(a, 1, RUNS);
	gsl_sort(b, 1, RUNS);
	*shesd_ms = a[RUNS / 2];
	*stl_ms = b[RUNS / 2];
out:
	free(got);
	free(buf);
	return rc;
}

int main(void)
{
	const char *dir = pf_shared_dir();
	struct tw t = { 0 };
	size_t cts = 0, cvec = 0;
	double shesd_ms = 0, stl_ms = 0;

	gsl_set_error_handler_off();
	pf_print_machine("shesd");
	if (!dir || tw_load(dir, &t)) {
		free(t.x);
		free(t.ts);
		return 77;
	}
	struct an_shesd_cfg ts = { .period = 1440, .max_anoms = 0.02, .ts_ns = t.ts }, c = ts;
	run_set(dir, &t, "ts_both", "expected_ts_both_0.02.csv", &c, NULL);
	c.only_last = AN_SHESD_LAST_DAY;
	run_set(dir, &t, "ts_lastday", "expected_ts_both_0.02_lastday.csv", &c, NULL);
	c = ts;
	c.longterm = true;
	run_set(dir, &t, "ts_longterm", "expected_ts_both_0.02_longterm.csv", &c, NULL);
	c = ts;
	c.threshold = AN_SHESD_THRESH_MED_MAX;
	run_set(dir, &t, "ts_med_max", "expected_ts_both_0.02_medmax.csv", &c, &cts);
	c = ts;
	c.direction = AN_SHESD_POS;
	run_set(dir, &t, "ts_pos", "expected_ts_pos_0.02.csv", &c, NULL);
	c = ts;
	c.ts_ns = NULL;
	run_set(dir, &t, "vec_both", "expected_vec_both_0.02_p1440.csv", &c, NULL);
	c.threshold = AN_SHESD_THRESH_MED_MAX;
	run_set(dir, &t, "vec_med_max", "expected_vec_both_0.02_p1440_medmax.csv", &c, &cvec);
	printf("BENCH shesd_count_med_max_ts %zu anomalies\n", cts);
	printf("BENCH shesd_count_med_max_vec %zu anomalies\n", cvec);

	int rc = time_runs(&t, &shesd_ms, &stl_ms);
	if (rc == 0) {
		printf("BENCH shesd_%zu_ms %.3f ms\n", t.n, shesd_ms);
		printf("BENCH stl_%zu_ms %.3f ms\n", t.n, stl_ms);
		printf("BENCH shesd_stl_share_pct %.1f %%\n", 100.0 * stl_ms / shesd_ms);
	} else {
		fprintf(stderr, "pf_shesd_bench: timing runs failed: %d\n", rc);
	}
	free(t.x);
	free(t.ts);
	return rc ? 1 : 0;
}
