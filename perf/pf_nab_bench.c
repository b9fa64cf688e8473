/*
 * pf_nab_bench.c - StreamFlow's anomaly detectors on the Numenta Anomaly
 * Benchmark: every detector of analytics/an_detect.h and the ensemble runs on
 * each of NAB's series shipped in ../shared/data/nab (values only; rows are
 * equally spaced within a file), its score column goes through NAB's threshold
 * optimiser and scorer (perf/pf_nab.c, validated by tests/test_pf_nab.c) and
 * the normalised standard-profile score is printed:
 *
 *   BENCH nab_standard_<detector> <score> points
 *
 * Same-run reference: Twitter ADVec's published per-row scores on the same
 * files, scored by the same code at NAB's threshold 0.5; Numenta HTM's
 * published per-file scores summed over the same files; and, as text, the
 * published scoreboard over all 58 files.
 *
 * Benchmark program: main thread, fixed seeds, default detector parameters.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "an_detect.h"
#include "an_method.h"
#include "cm_clock.h"
#include "pf_dataset.h"
#include "pf_nab.h"

static double now_s(void)
{
	return (double)cm_mono_ns() * 1e-9;
}

/* Score columns of all files at threshold t, summed per file as NAB's
 * scoreCorpus does, and normalised. */
static double corpus_score(const struct pf_nab_corpus *c, double *const *cols, double t,
			   const struct pf_nab_costs *costs, double null_raw, double *raw_out)
{
	double raw = 0.0;

	for (size_t k = 0; k < c->nfiles; k++)
		raw += pf_nab_score_file(&c->files[k], cols[k], t, costs, NULL, NULL);
	*raw_out = raw;
	return pf_nab_normalize(raw, null_raw, (double)c->nwindows * costs->tp);
}

/* Rows per day from the file's (regular) sampling interval, the seasonal
 * period for S-H-ESD as ADVec used it in NAB; 0 when a day is not a whole
 * number of rows or the file is shorter than two days and one row. */
static size_t daily_period(const struct pf_nab_file *f)
{
	int64_t dt = f->n > 1 ? f->ts_s[1] - f->ts_s[0] : 0;

	if (dt <= 0 || 86400 % dt != 0)
		return 0;
	size_t p = (size_t)(86400 / dt);
	return f->n > 2 * p + 1 ? p : 0;
}

static int run_detector(const struct pf_nab_corpus *c, const struct an_detector_info *d,
			double *const *cols, uint8_t *flag, const struct pf_nab_costs *costs,
			double null_raw)
{
	struct an_detect_cfg cfg = { .seed = 42 };
	double t0 = now_s(), t, raw_opt, raw;
	size_t points = 0;
	int rc;

	for (size_t k = 0; k < c->nfiles; k++) {
		const struct pf_nab_file *f = &c->files[k];
		cfg.period = daily_period(f);
		rc = d->fn(f->value, f->n, &cfg, cols[k], flag);
		if (rc) {
			printf("# %s: failed on %s: %s\n", d->name, f->name, strerror(-rc));
			return rc;
		}
		for (size_t i = 0; i < f->n; i++)
			if (!isfinite(cols[k][i]))
				cols[k][i] = 0.0;
		points += f->n;
	}
	double t_detect = now_s() - t0;
	rc = pf_nab_optimize(c, (const double *const *)cols, costs, &t, &raw_opt);
	if (rc)
		return rc;
	double score = corpus_score(c, cols, t, costs, null_raw, &raw);
	printf("BENCH nab_standard_%s %.2f points\n", d->name, score);
	printf("# %s: threshold=%.6f raw=%.4f detect=%.3f s (%.2f Mpoints/s)\n", d->name, t,
	       raw, t_detect, (double)points / t_detect / 1e6);
	return 0;
}

/* results_twitterADVec/<dir>/twitterADVec_<base>.csv of a data file. */
static int advec_rows(const char *nab, const struct pf_nab_file *f, double *col)
{
	char path[4096];
	const char *slash = strchr(f->name, '/');

	if (!slash)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/results_twitterADVec/%.*s/twitterADVec_%s", nab,
		 (int)(slash - f->name), f->name, slash + 1);
	return pf_nab_read_column(path, "anomaly_score", col, f->n);
}

static void references(const char *nab, const struct pf_nab_corpus *c, double *const *cols,
		       const struct pf_nab_costs *costs, double null_raw)
{
	char path[4096];
	double raw = 0.0, s;
	int ok = 1;

	for (size_t k = 0; k < c->nfiles && ok; k++)
		ok = advec_rows(nab, &c->files[k], cols[k]) == 0;
	if (ok) {
		double score = corpus_score(c, cols, 0.5, costs, null_raw, &raw);
		printf("BENCH nab_standard_twitterADVec_published_rows %.2f points\n", score);
		printf("# twitterADVec_published_rows: threshold=0.5 (NAB's) raw=%.4f\n", raw);
	} else {
		printf("# twitterADVec published rows missing\n");
	}
	snprintf(path, sizeof(path), "%s/results_scores/numenta_standard_scores.csv", nab);
	raw = 0.0;
	ok = 1;
	for (size_t k = 0; k < c->nfiles && ok; k++) {
		ok = pf_nab_published_score(path, c->files[k].name, &s) == 0;
		raw += s;
	}
	if (ok)
		printf("# numenta HTM, published per-file scores summed over these %zu files: "
		       "%.2f points (raw %.4f)\n", c->nfiles,
		       pf_nab_normalize(raw, null_raw, (double)c->nwindows * costs->tp), raw);
	printf("# published NAB standard scores over all 58 files: ARTime 74.9, "
	       "Numenta HTM 70.1, Twitter ADVec 47.1\n");
}

int main(void)
{
	char nab[1024], err[512];
	struct pf_nab_corpus c;
	struct pf_nab_costs costs;
	double **cols = NULL, null_raw = 0.0, t0 = now_s();
	uint8_t *flag = NULL;
	size_t maxn = 0;
	int rc;

	gsl_set_error_handler_off();
	pf_print_machine("nab");
	snprintf(nab, sizeof(nab), "%s/nab", pf_shared_dir());
	rc = pf_nab_load(nab, &c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nab: %s\n", err);
		return 1;
	}
	rc = pf_nab_load_profile(nab, "standard", &costs);
	if (rc) {
		fprintf(stderr, "nab: cannot read the standard profile\n");
		goto out_release;
	}
	cols = calloc(c.nfiles, sizeof(*cols));
	rc = -ENOMEM;
	if (!cols)
		goto out_release;
	for (size_t k = 0; k < c.nfiles; k++) {
		null_raw += pf_nab_null_score(&c.files[k], &costs);
		maxn = c.files[k].n > maxn ? c.files[k].n : maxn;
		cols[k] = malloc(c.files[k].n * sizeof(**cols));
		if (!cols[k])
			goto out_free;
	}
	flag = malloc(maxn);
	if (!flag)
		goto out_free;
	printf("# %zu files, %zu windows, null raw %.1f, perfect raw %.1f\n", c.nfiles,
	       c.nwindows, null_raw, (double)c.nwindows * costs.tp);
	/* every detector of the TSQL table (auto is the ensemble's other name) */
	size_t ndet;
	const struct an_detector_info *det = an_detector_list(&ndet);
	for (size_t d = 0; d < ndet; d++)
		if (strcmp(det[d].name, "auto"))
			run_detector(&c, &det[d], cols, flag, &costs, null_raw);
	references(nab, &c, cols, &costs, null_raw);
	printf("# total %.2f s\n", now_s() - t0);
	rc = 0;
out_free:
	free(flag);
	for (size_t k = 0; cols && k < c.nfiles; k++)
		free(cols[k]);
	free(cols);
out_release:
	pf_nab_release(&c);
	return rc ? 1 : 0;
}
