/*
 * pf_nab.h - the Numenta Anomaly Benchmark (numenta/NAB, MIT) for StreamFlow's
 * detectors: a loader for NAB's series and anomaly windows, and a C port of
 * NAB's scorer (nab/sweeper.py), threshold optimiser (nab/optimizer.py) and
 * normalisation (nab/runner.py), so a detector's score column is scored
 * exactly the way NAB's scoreboard scores it.
 *
 * The rules ported (see pf_nab.c for the details):
 *   - the first min(floor(0.15 n), 750) rows of a file are probation and
 *     never scored;
 *   - a detection (anomaly score >= threshold) inside a window earns
 *     tp * S(pos) / S(-1), S the scaled sigmoid 2/(1 + e^(5 pos)) - 1 of the
 *     relative position pos in [-1, 0) (earlier is better); only the best
 *     detection of a window counts; a window without one costs -fn;
 *   - a detection outside every window costs fp * S(distance past the
 *     previous window / (its width - 1)), or -fp before the first window;
 *   - the optimiser picks the one threshold that maximises the summed raw
 *     score of all files, and the result is normalised as
 *     100 (raw - null) / (perfect - null), null = no detections at all,
 *     perfect = tp * number of windows.
 *
 * Benchmark and test code: main thread, allocates freely, reads files.
 */
#ifndef PF_NAB_H
#define PF_NAB_H

#include <stddef.h>
#include <stdint.h>

/* A scoring profile (config/profiles.json "CostMatrix"). */
struct pf_nab_costs {
	double tp;
	double fp;
	double fn;
};

/* One data file with its windows as row indices (inclusive). */
struct pf_nab_file {
	char *name;        /* "realKnownCause/nyc_taxi.csv" (owned) */
	size_t n;          /* rows */
	int64_t *ts_s;     /* row timestamps, seconds since the epoch (owned) */
	double *value;     /* row values (owned) */
	size_t nwin;
	size_t *win_lo;    /* first row of window k (owned) */
	size_t *win_hi;    /* last row of window k (owned) */
};

struct pf_nab_corpus {
	struct pf_nab_file *files;  /* sorted by name (owned) */
	size_t nfiles;
	size_t nwindows;            /* windows of all files: NAB's "perfect" count */
};

/* Counts of one file at one threshold (scorable rows only). */
struct pf_nab_counts {
	size_t tp, tn, fp, fn;
};

/* Load every series of labels/combined_windows.json whose data/<name> exists
 * under nab_dir, with its windows. Window limits must match row timestamps
 * exactly (NAB requires it). 0, -ENOENT (missing labels or no series),
 * -EINVAL (bad file; err says which), -ENOMEM. On error *out is empty. */
int pf_nab_load(const char *nab_dir, struct pf_nab_corpus *out, char *err, size_t errlen);
void pf_nab_release(struct pf_nab_corpus *c);

/* Read profile `name` (e.g. "standard") of nab_dir/config/profiles.json. */
int pf_nab_load_profile(const char *nab_dir, const char *name, struct pf_nab_costs *out);

/* Read column `column` of a CSV file with a header row into out[0..n); the
 * file must have exactly n data rows. 0, -ENOENT, -EINVAL. */
int pf_nab_read_column(const char *path, const char *column, double *out, size_t n);

/* Look up the Score of data file `name` in a published results_scores CSV
 * (columns Detector,Profile,File,Threshold,Score,...). 0, -ENOENT (no such
 * row or file), -EINVAL. */
int pf_nab_published_score(const char *csv_path, const char *name, double *score);

/* NAB's score of one file for anomaly scores a[0..f->n) at threshold t
 * (detections are a[i] >= t), as nab/scorer.py's scoreDataSet computes it.
 * counts may be NULL. Returns the raw score; *err_out (may be NULL) gets 0
 * or -ENOMEM (then the score is NaN). */
double pf_nab_score_file(const struct pf_nab_file *f, const double *a, double t,
			 const struct pf_nab_costs *c, struct pf_nab_counts *counts,
			 int *err_out);

/* NAB's threshold optimisation over the whole corpus: a[k] is file k's anomaly
 * score column. Writes the threshold with the largest summed raw score (the
 * highest such threshold on ties, as NAB's stable sort does) and that score.
 * 0 or -ENOMEM/-EINVAL. */
int pf_nab_optimize(const struct pf_nab_corpus *c, const double *const *a,
		    const struct pf_nab_costs *costs, double *threshold, double *raw);

/* The null detector's raw score of file f (no detection: -fn per window that
 * has a scorable row). */
double pf_nab_null_score(const struct pf_nab_file *f, const struct pf_nab_costs *c);

/* 100 (raw - null) / (perfect - null), NAB's normalised score. */
double pf_nab_normalize(double raw, double null_raw, double perfect);

#endif /* PF_NAB_H */
