/*
 * mg_agg.h - the aggregate, selector and transformation functions of TSQL
 * (InfluxQL semantics), as accumulators over one bucket's values and as
 * passes over a result column.
 *
 * Aggregates: count, sum, mean, median, mode, spread, stddev, integral is
 * not here; selectors: min, max, first, last, percentile(N), sample is not
 * here. Transformations: derivative, non_negative_derivative, difference,
 * non_negative_difference, moving_average, cumulative_sum, elapsed.
 *
 * Types (as InfluxDB 1.x): count is an integer; mean, median, stddev are
 * floats; sum, min, max, first, last, spread, mode, percentile keep the
 * field's type (integer in, integer out). Ties: first/last take the
 * earliest/latest time, and on equal times (points of several series in
 * one group) the greater value, as InfluxDB; min/max
 * take the earliest time among equal values; mode takes the most frequent
 * value, the smallest on ties; percentile(N) is the value at rank
 * floor(n * N / 100 + 0.5) (1-based, nearest rank, InfluxDB's rule and
 * order of operations), none when that rank is 0 or above n; median
 * averages the two middle values of an even count; stddev is the sample
 * standard deviation (n - 1), none for n < 2.
 *
 * Usage profile: the executor feeds every scanned point of a bucket (up to
 * millions per query) through mg_acc_add_*: keep those inline-cheap; the
 * value-keeping functions (median, mode, percentile) append to a per-bucket
 * vector. One thread per accumulator; no global state.
 */
#ifndef MG_AGG_H
#define MG_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mg_agg_fn {
	MG_AGG_COUNT,
	MG_AGG_SUM,
	MG_AGG_MEAN,
	MG_AGG_MEDIAN,
	MG_AGG_MODE,
	MG_AGG_SPREAD,
	MG_AGG_STDDEV,
	MG_AGG_MIN,
	MG_AGG_MAX,
	MG_AGG_FIRST,
	MG_AGG_LAST,
	MG_AGG_PERCENTILE,
	MG_AGG__COUNT
};

/* "count" -> MG_AGG_COUNT; -1 if name is not an aggregate or selector. */
int mg_agg_lookup(const char *name);
const char *mg_agg_name(enum mg_agg_fn fn);
/* True for min, max, first, last, percentile: the result is one input point. */
bool mg_agg_is_selector(enum mg_agg_fn fn);

/* A value in or out: integer or float, or none. */
struct mg_num {
	bool valid;
	bool is_int;
	int64_t i;
	double f;
	int64_t ts;          /* selectors: the time of the selected point */
};

/*
 * One bucket's state. A plain struct (the executor keeps arrays of them):
 * init before use, release to free the kept values.
 */
struct mg_acc {
	uint64_t n;
	bool is_int;                   /* every value fed was an integer */
	int64_t isum;
	double fsum;
	double mean, m2;               /* Welford */
	struct mg_num min, max, first, last;
	double *vals;                  /* median, mode, percentile: values kept */
	int64_t *kts;                  /* their times (percentile is a selector) */
	size_t nvals, capvals;
	bool oom;                      /* a kept value could not be stored */
};

void mg_acc_init(struct mg_acc *a);
void mg_acc_release(struct mg_acc *a);
/* Forget the values, keep the memory. */
void mg_acc_reset(struct mg_acc *a);

/*
 * Feed one value at time ts. keep: the function needs the values kept
 * (mg_agg_keeps). Integers are kept exactly in isum/min/max/first/last;
 * kept values are stored as doubles (exact below 2^53).
 */
static inline void mg_acc_add_i64(struct mg_acc *a, int64_t ts, int64_t v, bool keep);
static inline void mg_acc_add_f64(struct mg_acc *a, int64_t ts, double v, bool keep);
bool mg_agg_keeps(enum mg_agg_fn fn);

/*
 * Feed a run of n points of one series at once: ts ascending and unique,
 * v the stored value bits of kind vk. The result equals feeding them one by
 * one, except in the last bits of two things: the Welford state (mean, m2:
 * stddev only), combined per run (Chan et al.) and updated only with
 * MG_RUN_M2, and the float sum of an integer run (exact below 2^53), added
 * as one. flags: MG_RUN_KEEP (mg_agg_keeps), MG_RUN_M2 (stddev),
 * MG_RUN_MINMAX (min, max, spread: without it an integer run is a sum the
 * compiler vectorizes and leaves min and max as they are; a float run
 * updates them either way, in its one loop). This is the
 * executor's scan path: the per-point updates lose their loop-carried
 * division and most of their branches.
 */
enum mg_run_kind { MG_RUN_I64, MG_RUN_F64, MG_RUN_BOOL };
enum { MG_RUN_KEEP = 1, MG_RUN_M2 = 2, MG_RUN_MINMAX = 4 };
void mg_acc_add_run(struct mg_acc *a, const int64_t *ts, const uint64_t *v, size_t n,
		    enum mg_run_kind vk, unsigned flags);
/*
 * Feed what a run of points summarizes to (a block chunk's summary) instead
 * of the points: n > 0 points from t_first to t_last; first, last, min, max
 * as value bits of kind vk; isum the exact integer sum modulo 2^64 and fsum
 * the sum as a double (the exact integer sum rounded once; for F64 the
 * run's float sum). The result equals mg_acc_add_run's with MG_RUN_MINMAX
 * except in the last bits of a float sum (added as one) and in the times of
 * min and max, which a summary lacks: they read t_first, so the caller
 * must not use summaries where those times are printed (a lone min() or
 * max() without GROUP BY time). Neither kept values nor the Welford state
 * (median, mode, percentile, stddev) can come from a summary.
 */
struct mg_run_sum {
	uint64_t n;
	int64_t t_first, t_last;
	uint64_t first, last, min, max;
	int64_t isum;
	double fsum;
};
void mg_acc_add_sum(struct mg_acc *a, const struct mg_run_sum *s, enum mg_run_kind vk);
/* For mg_acc_add_*: room for one more kept value. 0, or -ENOMEM with a->oom set. */
int mg_acc_grow(struct mg_acc *a);

/*
 * The function's result over what was fed (arg: N of percentile).
 * valid = false when there is none (empty bucket, stddev of one value,
 * percentile rank 0; median, mode, percentile once a->oom: the caller
 * must treat a->oom as an error, not as no value). median and mode may
 * reorder a->vals. Selectors set ts (percentile: the time of a kept point with
 * that value, any of several equal ones).
 */
struct mg_num mg_acc_result(struct mg_acc *a, enum mg_agg_fn fn, double arg);

/* ------------------------------------------------------- transformations */

enum mg_xform_fn {
	MG_XF_DERIVATIVE,
	MG_XF_NON_NEGATIVE_DERIVATIVE,
	MG_XF_DIFFERENCE,
	MG_XF_NON_NEGATIVE_DIFFERENCE,
	MG_XF_MOVING_AVERAGE,
	MG_XF_CUMULATIVE_SUM,
	MG_XF_ELAPSED,
	MG_XF__COUNT
};

/* "derivative" -> MG_XF_DERIVATIVE; -1 if not a transformation. */
int mg_xform_lookup(const char *name);
const char *mg_xform_name(enum mg_xform_fn fn);

/*
 * Apply a transformation to a column: ts[i], in[i] for i < n in time order
 * (ascending; invalid entries are nulls and are skipped as InfluxDB skips
 * them), writing out[i] for the same rows (invalid where the function has
 * no value: the first value of derivative/difference/elapsed, the first
 * N-1 of moving_average, negative results of the non_negative forms).
 *   derivative / non_negative_derivative: (v - prev) / ((t - tprev) / unit_ns),
 *     float; unit_ns 0 means 1 s. InfluxDB's default unit is the GROUP BY
 *     time interval when there is one (1 s only without): the executor
 *     passes that interval when the call gives no unit.
 *   difference / non_negative_difference: v - prev, type kept.
 *   moving_average: mean of the last window valid values (window = arg), float.
 *   cumulative_sum: running sum, type kept.
 *   elapsed: (t - tprev) / unit_ns as an integer (unit_ns default 1 ns).
 * Returns 0, or -EINVAL for a bad argument (moving_average's window < 1,
 * unit_ns < 0 for derivatives and elapsed; unit_ns 0 is their default).
 * out must not overlap in.
 */
int mg_xform_apply(enum mg_xform_fn fn, const int64_t *ts, const struct mg_num *in, size_t n,
		   int64_t unit_ns, int64_t window, struct mg_num *out);

/* ------------------------------------------------------------------------ */
/* HOT PATH: once per scanned point. Inline so that a constant keep folds    */
/* and the common case (no new min/max/first/last) is a few compares.        */
/* ------------------------------------------------------------------------ */

/* x > y as values (integers exactly, else as floats): first/last's tie rule. */
static inline bool mg_num_gt(struct mg_num x, struct mg_num y)
{
	return x.is_int && y.is_int ? x.i > y.i : x.f > y.f;
}

static inline void mg_acc_add_common(struct mg_acc *a, int64_t ts, double f, bool keep)
{
	if (keep && !a->oom && (a->nvals < a->capvals || mg_acc_grow(a) == 0)) {
		a->kts[a->nvals] = ts;
		a->vals[a->nvals++] = f;
	}
	a->n++;
	a->fsum += f;
	/* Welford; 1/n depends on n only, which keeps the division off the chain through mean */
	double d = f - a->mean, inv_n = 1.0 / (double)a->n;
	a->mean += d * inv_n;
	a->m2 += d * (f - a->mean);
}

/*
 * Candidates for min and max against the accumulator's (the earliest of
 * equal values; integers compared exactly while every value fed was one),
 * and a first and last point (first/last's tie rule).
 */
static inline void mg_acc_minmax(struct mg_acc *a, struct mg_num mn, struct mg_num mx)
{
	if (a->is_int) {
		if (mn.i < a->min.i || (mn.i == a->min.i && mn.ts < a->min.ts))
			a->min = mn;
		if (mx.i > a->max.i || (mx.i == a->max.i && mx.ts < a->max.ts))
			a->max = mx;
	} else {
		if (mn.f < a->min.f || (mn.f == a->min.f && mn.ts < a->min.ts))
			a->min = mn;
		if (mx.f > a->max.f || (mx.f == a->max.f && mx.ts < a->max.ts))
			a->max = mx;
	}
}

static inline void mg_acc_ends(struct mg_acc *a, struct mg_num first, struct mg_num last)
{
	if (first.ts < a->first.ts || (first.ts == a->first.ts && mg_num_gt(first, a->first)))
		a->first = first;
	if (last.ts > a->last.ts || (last.ts == a->last.ts && mg_num_gt(last, a->last)))
		a->last = last;
}

static inline void mg_acc_add_i64(struct mg_acc *a, int64_t ts, int64_t v, bool keep)
{
	struct mg_num p = {.valid = true, .is_int = true, .i = v, .f = (double)v, .ts = ts};
	mg_acc_add_common(a, ts, p.f, keep);
	a->isum = (int64_t)((uint64_t)a->isum + (uint64_t)v); /* wraps, as InfluxDB's int64 */
	if (a->n == 1) {
		a->min = a->max = a->first = a->last = p;
		return;
	}
	mg_acc_minmax(a, p, p);
	mg_acc_ends(a, p, p);
}

static inline void mg_acc_add_f64(struct mg_acc *a, int64_t ts, double v, bool keep)
{
	struct mg_num p = {.valid = true, .f = v, .ts = ts};
	mg_acc_add_common(a, ts, v, keep);
	a->is_int = false;
	if (a->n == 1) {
		a->min = a->max = a->first = a->last = p;
		return;
	}
	mg_acc_minmax(a, p, p); /* is_int is false now: compared as floats */
	mg_acc_ends(a, p, p);
}

#endif /* MG_AGG_H */
