/*
 * an_shesd.h - Seasonal Hybrid ESD (S-H-ESD), the anomaly detector of
 * Twitter's AnomalyDetection R package (Hochenbaum, Vallis, Kejariwal 2017):
 * the series minus its STL seasonal (periodic, robust) and minus its median
 * is tested with Rosner's generalized ESD, using the median and the MAD in
 * place of the mean and the standard deviation ("hybrid").
 *
 * Batch method: every verdict uses the whole series (or its longterm chunk).
 * Speed: build-bench/perf/pf_shesd_bench times a run over Twitter's 14,398
 * one-minute points (shesd_14398_ms) and the robust STL's share of it (16
 * loess passes; shesd_stl_share_pct, about 87%); the ESD loop
 * is O(n log n) (under 1 ms): the remaining points always form a
 * contiguous range of the sorted values, so each step's median and MAD are
 * order statistics found by binary search).
 *
 * Pure numerical code: no I/O; scratch malloc'd per call and freed before
 * return; any thread may call.
 */
#ifndef AN_SHESD_H
#define AN_SHESD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum an_shesd_direction {
	AN_SHESD_BOTH = 0, /* two-tailed: alpha / (2 (n - i + 1)) */
	AN_SHESD_POS,      /* upper tail only: alpha / (n - i + 1) */
	AN_SHESD_NEG,      /* lower tail only */
};

enum an_shesd_threshold {
	AN_SHESD_THRESH_NONE = 0,
	AN_SHESD_THRESH_MED_MAX, /* keep anomalies >= median of the daily maxima */
	AN_SHESD_THRESH_P95,     /* >= 95th percentile (R type 7) of the maxima */
	AN_SHESD_THRESH_P99,
};

enum an_shesd_only_last {
	AN_SHESD_LAST_ALL = 0,
	AN_SHESD_LAST_DAY, /* with ts_ns: points after last - 24 h; without: the
	                      last period (AnomalyDetectionVec only_last = TRUE) */
	AN_SHESD_LAST_HR,  /* with ts_ns: points after last - 1 h (daily data: as
	                      DAY, like the package); without ts_ns: as DAY */
};

/*
 * Parameters; zero in a field means its default. ts_ns selects the package's
 * AnomalyDetectionTs behaviour (calendar days for the threshold maxima,
 * only_last and longterm chunks); without it AnomalyDetectionVec's
 * (groups of period points).
 */
struct an_shesd_cfg {
	size_t period;         /* points per season (1440 for one-minute data); >= 2,
	                          and each tested span needs n > 2 * period */
	double max_anoms;      /* largest flagged fraction, (0, 0.49]; 0 = 0.02 (the
	                          package's own default is 0.10); below 1/n it is 1/n */
	double alpha;          /* significance, (0, 1); 0 = 0.05 */
	enum an_shesd_direction direction;  /* default BOTH (package default: pos) */
	enum an_shesd_threshold threshold;
	enum an_shesd_only_last only_last;
	bool longterm;         /* test piecewise chunks separately (see below) */
	unsigned piecewise_weeks; /* Ts longterm chunk in weeks; 0 = 2 */
	size_t longterm_points;   /* Vec longterm chunk in points; 0 = 14 * period */
	const int64_t *ts_ns;  /* optional, borrowed: n ascending timestamps (ns
	                          since the epoch, UTC); NULL = Vec variant */
	double *expected;      /* optional out (caller's, n entries): e_value,
	                          trunc(trend + seasonal) of the chunk that first
	                          covers each point; NaN where the input was NaN */
};

/*
 * Detect anomalies in x[0..n). Leading and trailing NaNs are dropped (as the
 * package's na.omit); interior NaNs are filled by linear interpolation (the
 * package refuses them and suggests na.approx) and are never reported.
 * Writes the indices of the anomalies, ascending, into anoms[0..cap) and
 * their count into *nanoms. The count never exceeds n * max_anoms per chunk;
 * cap = n is always enough.
 * Returns 0; -EINVAL (NULL pointers, bad cfg, fewer than 2 * period + 1
 * usable points, a chunk too short, non-finite values other than NaN);
 * -ENOBUFS when cap is too small (*nanoms then holds the count needed and the
 * first cap indices are written); -ENOMEM.
 * Longterm, Ts: chunks of 7 * weeks days starting every period * 7 * weeks
 * points (daily data: period * weeks + 1 points, 7 * weeks + 1 days), the
 * last chunk being the final span; Vec: chunks of longterm_points points,
 * the last being the final longterm_points points. Each chunk gets its own
 * STL and ESD; the union is reported.
 */
int an_shesd(const double *x, size_t n, const struct an_shesd_cfg *cfg, size_t *anoms,
	     size_t *nanoms, size_t cap);

/*
 * Rosner's generalized ESD on r[0..n): up to max_outliers removal steps of
 * the most extreme point, each with statistic R_i = max dev / scale and
 * critical value lambda_i (Student t from GSL, one- or two-tailed by dir).
 * hybrid: centre median, scale MAD (1.4826 * median absolute deviation);
 * else mean and sample standard deviation (Rosner's original).
 * order[0..max_outliers) receives the index removed at each step (ties go to
 * the lowest index), stat/crit (optional, NULL) R_i and lambda_i. *nsteps is
 * the number of steps done (fewer when the scale reaches 0), *noutliers the
 * largest i with R_i > lambda_i (0 if none): order[0..noutliers) are the
 * outliers. Returns 0, -EINVAL (NULL, max_outliers >= n - 1, alpha outside
 * (0, 1), non-finite values), -ENOMEM.
 */
int an_gesd(const double *r, size_t n, size_t max_outliers, double alpha,
	    enum an_shesd_direction dir, bool hybrid, size_t *order, double *stat,
	    double *crit, size_t *nsteps, size_t *noutliers);

#endif /* AN_SHESD_H */
