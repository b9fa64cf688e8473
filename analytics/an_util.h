/*
 * an_util.h - small array predicates and searches that several analytics
 * files need. Private to analytics/ (not part of its API); inline, no
 * allocation, any thread.
 */
#ifndef AN_UTIL_H
#define AN_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

/* Every x[i] is finite (no NaN, no infinity); true for n = 0. */
static inline bool an_all_finite(const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return false;
	return true;
}

/* Some x[i] is NaN (infinities are allowed); false for n = 0. */
static inline bool an_any_nan(const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i]))
			return true;
	return false;
}

/* Every x[i] equals x[0]; true for n <= 1. */
static inline bool an_is_constant(const double *x, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (x[i] != x[0])
			return false;
	return true;
}

/* The first index of sorted v[0..n) whose value is >= x (n when none). */
static inline size_t an_lower_bound(const double *v, size_t n, double x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The k-th smallest (0-based, k < n) of |a[j] - med| over sorted a[0..n),
 * s = an_lower_bound(a, n, med). The deviations med - a[s-1], med - a[s-2],
 * ... and a[s] - med, a[s+1] - med, ... are both ascending: binary search for
 * how many of the k + 1 smallest come from the left. O(log n).
 */
static inline double an_sorted_kth_dev(const double *a, size_t n, size_t s, double med, size_t k)
{
	size_t nl = s, nr = n - s, need = k + 1;
	size_t ilo = need > nr ? need - nr : 0, ihi = need < nl ? need : nl;
	while (ilo < ihi) {
		size_t i = ilo + (ihi - ilo) / 2, j = need - i;
		if (j > 0 && med - a[s - 1 - i] < a[s + j - 1] - med)
			ilo = i + 1;
		else
			ihi = i;
	}
	size_t i = ilo, j = need - i;
	double l = i > 0 ? med - a[s - i] : -INFINITY;
	double r = j > 0 ? a[s + j - 1] - med : -INFINITY;
	return l > r ? l : r;
}

/* Median of |a[j] - med| over sorted a[0..n) (n >= 1), med its median: the
 * unscaled MAD (mean of the two middle deviations for even n). O(log n). */
static inline double an_sorted_mad(const double *a, size_t n, double med)
{
	size_t s = an_lower_bound(a, n, med);
	if (n % 2)
		return an_sorted_kth_dev(a, n, s, med, n / 2);
	return (an_sorted_kth_dev(a, n, s, med, n / 2 - 1) +
		an_sorted_kth_dev(a, n, s, med, n / 2)) / 2.0;
}

/* sqrt(pi / 2) times the mean of |v[i] - c| (summed in index order): a
 * normal-consistent sigma, the robust detectors' fallback when the MAD is 0
 * but the values are not all equal. n >= 1. */
static inline double an_meanad_sigma(const double *v, size_t n, double c)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += fabs(v[i] - c);
	return 1.2533141373155003 * s / (double)n;
}

#endif /* AN_UTIL_H */
