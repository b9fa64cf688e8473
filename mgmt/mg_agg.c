/*
 * mg_agg.c - see mg_agg.h: InfluxQL's aggregates, selectors and
 * transformations (InfluxDB 1.x query/functions.go and call_iterator.go are
 * the reference for every rule here).
 *
 * The per-value work is inline in the header. Here: names, the results
 * (a selection over the kept values for median and percentile, O(n)
 * expected; a sort for mode), and the column passes of the transformations
 * (O(n), no allocation: moving_average looks back into its input rather
 * than keeping a ring).
 *
 * Usage profile: mg_acc_result once per bucket and slot; mg_xform_apply
 * once per result column. Any thread, one accumulator or column at a time;
 * no global state.
 */
#include "mg_agg.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEEP_MIN 16u          /* first allocation of kept values */
#define DERIVATIVE_UNIT_NS 1000000000LL
#define ELAPSED_UNIT_NS 1LL

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const agg_names[MG_AGG__COUNT] = {
	[MG_AGG_COUNT] = "count",   [MG_AGG_SUM] = "sum",         [MG_AGG_MEAN] = "mean",
	[MG_AGG_MEDIAN] = "median", [MG_AGG_MODE] = "mode",       [MG_AGG_SPREAD] = "spread",
	[MG_AGG_STDDEV] = "stddev", [MG_AGG_MIN] = "min",         [MG_AGG_MAX] = "max",
	[MG_AGG_FIRST] = "first",   [MG_AGG_LAST] = "last",       [MG_AGG_PERCENTILE] = "percentile",
};

static const char *const xform_names[MG_XF__COUNT] = {
	[MG_XF_DERIVATIVE] = "derivative",
	[MG_XF_NON_NEGATIVE_DERIVATIVE] = "non_negative_derivative",
	[MG_XF_DIFFERENCE] = "difference",
	[MG_XF_NON_NEGATIVE_DIFFERENCE] = "non_negative_difference",
	[MG_XF_MOVING_AVERAGE] = "moving_average",
	[MG_XF_CUMULATIVE_SUM] = "cumulative_sum",
	[MG_XF_ELAPSED] = "elapsed",
};

/* InfluxQL function names are case-insensitive (MEAN(x) is mean(x)). */
static int name_find(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return i;
	return -1;
}

int mg_agg_lookup(const char *name)
{
	return name_find(agg_names, MG_AGG__COUNT, name);
}

const char *mg_agg_name(enum mg_agg_fn fn)
{
	return (unsigned)fn < MG_AGG__COUNT ? agg_names[fn] : "unknown";
}

int mg_xform_lookup(const char *name)
{
	return name_find(xform_names, MG_XF__COUNT, name);
}

const char *mg_xform_name(enum mg_xform_fn fn)
{
	return (unsigned)fn < MG_XF__COUNT ? xform_names[fn] : "unknown";
}

bool mg_agg_is_selector(enum mg_agg_fn fn)
{
	return fn == MG_AGG_MIN || fn == MG_AGG_MAX || fn == MG_AGG_FIRST || fn == MG_AGG_LAST ||
	       fn == MG_AGG_PERCENTILE;
}

bool mg_agg_keeps(enum mg_agg_fn fn)
{
	return fn == MG_AGG_MEDIAN || fn == MG_AGG_MODE || fn == MG_AGG_PERCENTILE;
}

/* ------------------------------------------------------------------------ */
/* Accumulator lifecycle                                                     */
/* ------------------------------------------------------------------------ */

void mg_acc_init(struct mg_acc *a)
{
	memset(a, 0, sizeof(*a));
	a->is_int = true; /* vacuously: nothing fed yet */
}

void mg_acc_release(struct mg_acc *a)
{
	if (!a)
		return;
	free(a->vals);
	free(a->kts);
	mg_acc_init(a);
}

void mg_acc_reset(struct mg_acc *a)
{
	double *vals = a->vals;
	int64_t *kts = a->kts;
	size_t cap = a->capvals;
	mg_acc_init(a);
	a->vals = vals;
	a->kts = kts;
	a->capvals = cap;
}

int mg_acc_grow(struct mg_acc *a)
{
	assert(a->nvals == a->capvals);
	double *v = NULL;
	int64_t *t = NULL;
	size_t cap = a->capvals ? a->capvals * 2 : KEEP_MIN;
	if (a->capvals <= SIZE_MAX / 2 / sizeof(*t)) {
		v = realloc(a->vals, cap * sizeof(*v));
		if (v)
			a->vals = v;
		t = v ? realloc(a->kts, cap * sizeof(*t)) : NULL;
		if (t)
			a->kts = t;
	}
	if (!v || !t) {
		a->oom = true;
		return -ENOMEM;
	}
	a->capvals = cap;
	return 0;
}

/* One value of a run, as mg_acc_add_i64/_f64 would see it. */
static struct mg_num run_num(enum mg_run_kind vk, int64_t ts, uint64_t bits)
{
	struct mg_num p = {.valid = true, .ts = ts};
	if (vk == MG_RUN_F64) {
		memcpy(&p.f, &bits, sizeof(p.f));
		return p;
	}
	p.is_int = true;
	p.i = vk == MG_RUN_BOOL ? bits != 0 : (int64_t)bits;
	p.f = (double)p.i;
	return p;
}

static double run_f(enum mg_run_kind vk, uint64_t bits)
{
	return run_num(vk, 0, bits).f;
}

void mg_acc_add_run(struct mg_acc *a, const int64_t *ts, const uint64_t *v, size_t n,
		    enum mg_run_kind vk, unsigned flags)
{
	if (n == 0)
		return;
	struct mg_num p0 = run_num(vk, ts[0], v[0]), pn = run_num(vk, ts[n - 1], v[n - 1]);
	uint64_t na = a->n;
	if (na == 0)
		a->min = a->max = a->first = a->last = p0;
	if (vk == MG_RUN_F64)
		a->is_int = false;
	/*
	 * min and max with mg_acc_add_*'s rules (the earliest of equal values;
	 * a NaN never replaces), starting from the accumulator's, and the sums.
	 */
	size_t imn = SIZE_MAX, imx = SIZE_MAX;
	double fs = 0;        /* the run's sum */
	if (a->is_int && !(flags & MG_RUN_MINMAX)) {
		__extension__ __int128 s = 0;
		for (size_t i = 0; i < n; i++)
			s += vk == MG_RUN_BOOL ? v[i] != 0 : (int64_t)v[i];
		a->isum = (int64_t)((uint64_t)a->isum + (uint64_t)s);
		fs = (double)s;
		a->fsum += fs;
	} else if (a->is_int) {
		int64_t mn = a->min.i, mx = a->max.i, mnts = a->min.ts, mxts = a->max.ts;
		__extension__ __int128 s = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t x = vk == MG_RUN_BOOL ? v[i] != 0 : (int64_t)v[i];
			s += x;
			if (x < mn || (x == mn && ts[i] < mnts)) {
				mn = x;
				mnts = ts[i];
				imn = i;
			}
			if (x > mx || (x == mx && ts[i] < mxts)) {
				mx = x;
				mxts = ts[i];
				imx = i;
			}
		}
		a->isum = (int64_t)((uint64_t)a->isum + (uint64_t)s); /* wraps, as InfluxDB's int64 */
		fs = (double)s;
		a->fsum += fs;
	} else {
		double mn = a->min.f, mx = a->max.f;
		int64_t mnts = a->min.ts, mxts = a->max.ts;
		double total = a->fsum; /* in feeding order, as one by one */
		for (size_t i = 0; i < n; i++) {
			double x = run_f(vk, v[i]);
			total += x;
			fs += x;
			if (x < mn || (x == mn && ts[i] < mnts)) {
				mn = x;
				mnts = ts[i];
				imn = i;
			}
			if (x > mx || (x == mx && ts[i] < mxts)) {
				mx = x;
				mxts = ts[i];
				imx = i;
			}
		}
		/* isum is not kept: a float accumulator never reads it again */
		a->fsum = total;
	}
	if (imn != SIZE_MAX)
		a->min = run_num(vk, ts[imn], v[imn]);
	if (imx != SIZE_MAX)
		a->max = run_num(vk, ts[imx], v[imx]);
	mg_acc_ends(a, p0, pn);
	if (flags & MG_RUN_M2) {
		/* the run's mean and squared deviations, merged (Chan, Golub, LeVeque) */
		double nb = (double)n, mean = fs / nb, m2 = 0;
		for (size_t i = 0; i < n; i++) {
			double d = run_f(vk, v[i]) - mean;
			m2 += d * d;
		}
		double nt = (double)(na + n), delta = mean - a->mean;
		a->mean += delta * nb / nt;
		a->m2 += m2 + delta * delta * (double)na * nb / nt;
	}
	for (size_t i = 0; (flags & MG_RUN_KEEP) && i < n; i++)
		if (!a->oom && (a->nvals < a->capvals || mg_acc_grow(a) == 0)) {
			a->kts[a->nvals] = ts[i];
			a->vals[a->nvals++] = run_f(vk, v[i]);
		}
	a->n += n;
}

void mg_acc_add_sum(struct mg_acc *a, const struct mg_run_sum *s, enum mg_run_kind vk)
{
	if (s->n == 0)
		return;
	struct mg_num p0 = run_num(vk, s->t_first, s->first), pn = run_num(vk, s->t_last, s->last);
	struct mg_num mn = run_num(vk, s->t_first, s->min), mx = run_num(vk, s->t_first, s->max);
	if (a->n == 0) {
		a->min = mn;
		a->max = mx;
		a->first = p0;
		a->last = pn;
	}
	if (vk == MG_RUN_F64)
		a->is_int = false;
	mg_acc_minmax(a, mn, mx);
	if (a->is_int)
		a->isum = (int64_t)((uint64_t)a->isum + (uint64_t)s->isum);
	a->fsum += s->fsum;
	mg_acc_ends(a, p0, pn);
	a->n += s->n;
}

/* ------------------------------------------------------------------------ */
/* Kept values: order statistics and mode                                    */
/* ------------------------------------------------------------------------ */

/* Ascending, NaNs last (a total order, which qsort needs). */
static int cmp_f64(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	bool na = isnan(a), nb = isnan(b);
	if (na || nb)
		return (int)na - (int)nb;
	return (a > b) - (a < b);
}

/* Move the NaNs of v[0..n) to its end; returns how many values are not NaN. */
static size_t nan_last(double *v, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		if (m != i) {
			double t = v[m];
			v[m] = v[i];
			v[i] = t;
		}
		m++;
	}
	return m;
}

static double median3(double a, double b, double c)
{
	if (a > b) {
		double t = a;
		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

/*
 * Hoare's partition of v[l..r] (no NaNs, l < r) around the median of its
 * first, middle and last values: afterwards *pj < *pi, v[l..*pj] <= x,
 * v[*pi..r] >= x and everything between equals x. Both sides are shorter
 * than the range.
 */
static void partition(double *v, ptrdiff_t l, ptrdiff_t r, ptrdiff_t *pi, ptrdiff_t *pj)
{
	assert(l < r);
	double x = median3(v[l], v[l + (r - l) / 2], v[r]);
	ptrdiff_t i = l, j = r;
	do { /* x is in the range, so each scan stops inside it */
		while (v[i] < x)
			i++;
		while (x < v[j])
			j--;
		if (i <= j) {
			double t = v[i];
			v[i++] = v[j];
			v[j--] = t;
		}
	} while (i <= j);
	*pi = i;
	*pj = j;
}

/* Enough halvings for n values, with room for bad luck; past it, qsort takes over. */
static unsigned depth_budget(size_t n)
{
	unsigned d = 8;
	for (; n; n >>= 1)
		d += 2;
	return d;
}

/*
 * Rearrange v[0..n) (no NaNs) so that v[k] holds the value of rank k, none
 * before it greater and none after it smaller: Hoare's FIND. If the range
 * stops halving (adversarial input) qsort finishes it: O(n log n) at worst.
 */
static void select_rank(double *v, size_t n, size_t k)
{
	assert(k < n);
	ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k, i, j;
	for (unsigned budget = depth_budget(n); l < r; budget--) {
		if (budget == 0) {
			qsort(v + l, (size_t)(r - l + 1), sizeof(*v), cmp_f64);
			return;
		}
		partition(v, l, r, &i, &j);
		if (j < kk)
			l = i;
		if (kk < i)
			r = j;
	}
}

/* Sort v[l..r] (no NaNs): quicksort on the same partition, insertion sort for short runs. */
static void sort_range(double *v, ptrdiff_t l, ptrdiff_t r, unsigned budget)
{
	ptrdiff_t i, j;
	while (r - l > 16) {
		if (budget-- == 0) {
			qsort(v + l, (size_t)(r - l + 1), sizeof(*v), cmp_f64);
			return;
		}
		partition(v, l, r, &i, &j);
		if (j - l < r - i) { /* recurse into the shorter side: O(log n) stack */
			sort_range(v, l, j, budget);
			l = i;
		} else {
			sort_range(v, i, r, budget);
			r = j;
		}
	}
	for (ptrdiff_t a = l + 1; a <= r; a++) {
		double x = v[a];
		ptrdiff_t b = a;
		for (; b > l && v[b - 1] > x; b--)
			v[b] = v[b - 1];
		v[b] = x;
	}
}

/* The value of rank k of v[0..n) (ascending, NaNs greatest); reorders v. */
static double rank_value(double *v, size_t n, size_t k)
{
	assert(k < n);
	size_t m = nan_last(v, n);
	if (k >= m)
		return NAN;
	select_rank(v, m, k);
	return v[k];
}

/* InfluxDB: the middle value, or lo + (hi - lo) / 2 of the two middle ones. */
static double kept_median(double *v, size_t n)
{
	size_t h = n / 2;
	double hi = rank_value(v, n, h);
	if (n % 2 || isnan(hi))
		return hi;
	double lo = v[0]; /* the greatest of v[0..h), all <= hi after the selection */
	for (size_t i = 1; i < h; i++)
		if (v[i] > lo)
			lo = v[i];
	return lo + (hi - lo) / 2;
}

/* The most frequent value; the smallest of equally frequent ones. */
static double kept_mode(double *v, size_t n)
{
	assert(n > 0);
	size_t m = nan_last(v, n);
	if (m > 1)
		sort_range(v, 0, (ptrdiff_t)m - 1, depth_budget(m));
	double best = v[0];
	size_t best_run = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = i > 0 && v[i] == v[i - 1] ? run + 1 : 1;
		if (run > best_run) {
			best_run = run;
			best = v[i];
		}
	}
	return best;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

static struct mg_num num_f(double f)
{
	return (struct mg_num){.valid = true, .f = f};
}

static struct mg_num num_i(int64_t i)
{
	return (struct mg_num){.valid = true, .is_int = true, .i = i, .f = (double)i};
}

static int64_t sub_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* A kept value (a double) back in the bucket's type; exact below 2^53. */
static struct mg_num num_kept(const struct mg_acc *a, double f)
{
	if (!a->is_int)
		return num_f(f);
	if (f >= 0x1p63) /* INT64_MAX rounds up to 2^63: keep the conversion defined */
		return num_i(INT64_MAX);
	return num_i(f < -0x1p63 ? INT64_MIN : (int64_t)f);
}

/* A selected point in the bucket's type (a float once any float was fed). */
static struct mg_num num_sel(const struct mg_acc *a, struct mg_num p)
{
	p.is_int = a->is_int;
	return p;
}

/* Median, mode, percentile: over the kept values, none after an allocation failure. */
static struct mg_num kept_result(struct mg_acc *a, enum mg_agg_fn fn, double pct)
{
	size_t n = a->nvals;
	assert(n <= a->n);
	if (a->oom || n == 0)
		return (struct mg_num){0};
	if (fn == MG_AGG_MEDIAN)
		return num_f(kept_median(a->vals, n));
	if (fn == MG_AGG_MODE)
		return num_kept(a, kept_mode(a->vals, n));
	/* InfluxDB: i := int(math.Floor(float64(length)*percentile/100.0+0.5)) - 1 */
	double rank = floor((double)n * pct / 100.0 + 0.5);
	if (!(rank >= 1 && rank <= (double)n)) /* also a NaN pct */
		return (struct mg_num){0};
	/*
	 * A selector: the point's time too. The selection reorders what it
	 * works on, so it works on a copy and the value is looked up in the
	 * kept order (InfluxDB's sort is not stable: any of equal values).
	 */
	double *tmp = malloc(n * sizeof(*tmp));
	if (!tmp) {
		a->oom = true;
		return (struct mg_num){0};
	}
	memcpy(tmp, a->vals, n * sizeof(*tmp));
	double v = rank_value(tmp, n, (size_t)rank - 1);
	free(tmp);
	struct mg_num r = num_kept(a, v);
	for (size_t i = 0; i < n; i++)
		if (a->vals[i] == v || (isnan(v) && isnan(a->vals[i]))) {
			r.ts = a->kts[i];
			break;
		}
	return r;
}

struct mg_num mg_acc_result(struct mg_acc *a, enum mg_agg_fn fn, double arg)
{
	if (a->n == 0)
		return (struct mg_num){0};
	switch (fn) {
	case MG_AGG_COUNT:
		return num_i((int64_t)a->n);
	case MG_AGG_SUM:
		return a->is_int ? num_i(a->isum) : num_f(a->fsum);
	case MG_AGG_MEAN: /* InfluxDB: float64(int sum) / count, or float sum / count */
		return num_f((a->is_int ? (double)a->isum : a->fsum) / (double)a->n);
	case MG_AGG_SPREAD:
		return a->is_int ? num_i(sub_wrap(a->max.i, a->min.i)) : num_f(a->max.f - a->min.f);
	case MG_AGG_STDDEV:
		return a->n < 2 ? (struct mg_num){0} : num_f(sqrt(a->m2 / (double)(a->n - 1)));
	case MG_AGG_MIN:
		return num_sel(a, a->min);
	case MG_AGG_MAX:
		return num_sel(a, a->max);
	case MG_AGG_FIRST:
		return num_sel(a, a->first);
	case MG_AGG_LAST:
		return num_sel(a, a->last);
	case MG_AGG_MEDIAN:
	case MG_AGG_MODE:
	case MG_AGG_PERCENTILE:
		return kept_result(a, fn, arg);
	default:
		return (struct mg_num){0};
	}
}

/* ------------------------------------------------------------------------ */
/* Transformations                                                           */
/* ------------------------------------------------------------------------ */

static double num_as_f(const struct mg_num *v)
{
	return v->is_int ? (double)v->i : v->f;
}

/* Every valid value is an integer: the type-keeping functions stay integers. */
static bool col_is_int(const struct mg_num *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (in[i].valid && !in[i].is_int)
			return false;
	return true;
}

/*
 * derivative and difference see a stream of distinct times: nulls are
 * skipped, and a point at the time of the one before it too (InfluxDB keeps
 * the first of a joined series' equal times). True when in[i] is the next
 * point of that stream; *prev is then the one before it (valid = false for
 * the first).
 */
static bool stream_next(const int64_t *ts, const struct mg_num *in, size_t i,
			struct mg_num *cur, struct mg_num *prev)
{
	if (!in[i].valid || (cur->valid && ts[i] == cur->ts))
		return false;
	*prev = *cur;
	*cur = in[i];
	cur->ts = ts[i];
	return true;
}

/*
 * difference (unit_ns 0): v - prev, type kept; derivative: (v - prev) /
 * ((t - tprev) / unit_ns), a float. InfluxDB subtracts integers as
 * integers, then converts. The non-negative forms drop negative results.
 */
static void xf_delta(const int64_t *ts, const struct mg_num *in, size_t n, int64_t unit_ns,
		     bool nonneg, struct mg_num *out)
{
	bool ints = col_is_int(in, n);
	struct mg_num cur = {0}, prev = {0};
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct mg_num){.ts = ts[i]};
		if (!stream_next(ts, in, i, &cur, &prev) || !prev.valid)
			continue;
		struct mg_num d = ints ? num_i(sub_wrap(cur.i, prev.i))
				       : num_f(num_as_f(&cur) - num_as_f(&prev));
		if (nonneg && d.f < 0) /* d.f has d.i's sign */
			continue;
		if (unit_ns)
			d = num_f(d.f / ((double)sub_wrap(cur.ts, prev.ts) / (double)unit_ns));
		out[i] = d;
		out[i].ts = ts[i];
	}
}

/*
 * The mean of the last w valid values, a float. As InfluxDB, a running sum
 * (integer for integers) from which the value leaving the window is
 * subtracted; old is the index of the oldest value in the window.
 */
static void xf_moving_average(const int64_t *ts, const struct mg_num *in, size_t n, int64_t w,
			      struct mg_num *out)
{
	bool ints = col_is_int(in, n);
	int64_t isum = 0, cnt = 0;
	double fsum = 0;
	size_t old = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct mg_num){.ts = ts[i]};
		if (!in[i].valid)
			continue;
		if (cnt == w) {
			if (ints)
				isum = sub_wrap(isum, in[old].i);
			else
				fsum -= num_as_f(&in[old]);
			do /* stops at i at the latest */
				old++;
			while (!in[old].valid);
		} else if (cnt++ == 0) {
			old = i;
		}
		if (ints)
			isum = add_wrap(isum, in[i].i);
		else
			fsum += num_as_f(&in[i]);
		if (cnt == w) {
			out[i] = num_f((ints ? (double)isum : fsum) / (double)w);
			out[i].ts = ts[i];
		}
	}
}

/* The running sum, type kept. */
static void xf_cumulative_sum(const int64_t *ts, const struct mg_num *in, size_t n,
			      struct mg_num *out)
{
	bool ints = col_is_int(in, n);
	int64_t isum = 0;
	double fsum = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct mg_num){.ts = ts[i]};
		if (!in[i].valid)
			continue;
		if (ints)
			isum = add_wrap(isum, in[i].i);
		else
			fsum += num_as_f(&in[i]);
		out[i] = ints ? num_i(isum) : num_f(fsum);
		out[i].ts = ts[i];
	}
}

/* (t - tprev) / unit, an integer (truncated); equal times give 0, as InfluxDB. */
static void xf_elapsed(const int64_t *ts, const struct mg_num *in, size_t n, int64_t unit_ns,
		       struct mg_num *out)
{
	bool have = false;
	int64_t tprev = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct mg_num){.ts = ts[i]};
		if (!in[i].valid)
			continue;
		if (have) {
			out[i] = num_i(sub_wrap(ts[i], tprev) / unit_ns);
			out[i].ts = ts[i];
		}
		have = true;
		tprev = ts[i];
	}
}

int mg_xform_apply(enum mg_xform_fn fn, const int64_t *ts, const struct mg_num *in, size_t n,
		   int64_t unit_ns, int64_t window, struct mg_num *out)
{
	bool deriv = fn == MG_XF_DERIVATIVE || fn == MG_XF_NON_NEGATIVE_DERIVATIVE;
	if ((unsigned)fn >= MG_XF__COUNT || ((deriv || fn == MG_XF_ELAPSED) && unit_ns < 0) ||
	    (fn == MG_XF_MOVING_AVERAGE && window < 1))
		return -EINVAL;
	if (n == 0)
		return 0;
	assert(ts && in && out);
	switch (fn) {
	case MG_XF_DERIVATIVE:
	case MG_XF_NON_NEGATIVE_DERIVATIVE:
		xf_delta(ts, in, n, unit_ns ? unit_ns : DERIVATIVE_UNIT_NS,
			 fn == MG_XF_NON_NEGATIVE_DERIVATIVE, out);
		break;
	case MG_XF_DIFFERENCE:
	case MG_XF_NON_NEGATIVE_DIFFERENCE:
		xf_delta(ts, in, n, 0, fn == MG_XF_NON_NEGATIVE_DIFFERENCE, out);
		break;
	case MG_XF_MOVING_AVERAGE:
		xf_moving_average(ts, in, n, window, out);
		break;
	case MG_XF_CUMULATIVE_SUM:
		xf_cumulative_sum(ts, in, n, out);
		break;
	case MG_XF_ELAPSED:
		xf_elapsed(ts, in, n, unit_ns ? unit_ns : ELAPSED_UNIT_NS, out);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}
