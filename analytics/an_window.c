/*
 * an_window.c - see an_window.h. The ring holds the values in arrival order;
 * value number s (counting pushes since reset) sits at buf[s % w]. The min
 * and max deques hold such sequence numbers, oldest first, with values
 * increasing (min) or decreasing (max) from front to back, so the front is
 * the answer.
 */
#include "an_window.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A ring of sequence numbers with w slots. */
struct seq_deque {
	uint64_t *s;
	size_t head; /* slot of the front */
	size_t len;
};

struct an_window {
	size_t w;
	unsigned flags;
	double *buf;
	uint64_t seq;     /* pushes since reset */
	size_t count;
	double shift;     /* values are accumulated as x - shift (shifted data:
			     keeps precision for series far from zero) */
	double mean;      /* mean of x - shift */
	double m2;        /* sum of squared deviations from mean */
	uint64_t since_exact; /* pushes since mean/m2 were re-summed */
	struct seq_deque dmin, dmax;
	double *sorted;   /* count values ascending, with AN_WINDOW_ORDER */
};

int an_window_create(size_t w, unsigned flags, struct an_window **out)
{
	if (!out || w == 0 || w > AN_WINDOW_MAX || (flags & ~(unsigned)AN_WINDOW_ORDER))
		return -EINVAL;
	struct an_window *win = calloc(1, sizeof(*win));
	if (!win)
		return -ENOMEM;
	win->w = w;
	win->flags = flags;
	win->buf = malloc(w * sizeof(*win->buf));
	win->dmin.s = malloc(w * sizeof(*win->dmin.s));
	win->dmax.s = malloc(w * sizeof(*win->dmax.s));
	if ((flags & AN_WINDOW_ORDER))
		win->sorted = malloc(w * sizeof(*win->sorted));
	if (!win->buf || !win->dmin.s || !win->dmax.s || ((flags & AN_WINDOW_ORDER) && !win->sorted)) {
		an_window_destroy(win);
		return -ENOMEM;
	}
	*out = win;
	return 0;
}

void an_window_destroy(struct an_window *win)
{
	if (!win)
		return;
	free(win->buf);
	free(win->dmin.s);
	free(win->dmax.s);
	free(win->sorted);
	free(win);
}

void an_window_reset(struct an_window *win)
{
	win->seq = 0;
	win->count = 0;
	win->shift = 0;
	win->mean = 0;
	win->m2 = 0;
	win->since_exact = 0;
	win->dmin.head = win->dmin.len = 0;
	win->dmax.head = win->dmax.len = 0;
}

size_t an_window_count(const struct an_window *win)
{
	return win->count;
}

/* ---- push ---- */

/* Drops expired sequence numbers, then dominated ones, then appends s.
 * want_min: keep values increasing front to back. */
static void deque_push(struct seq_deque *d, const double *buf, size_t w, uint64_t s, int want_min)
{
	while (d->len && d->s[d->head] + w <= s) {
		d->head = (d->head + 1) % w;
		d->len--;
	}
	double x = buf[s % w];
	while (d->len) {
		uint64_t b = d->s[(d->head + d->len - 1) % w];
		double v = buf[b % w];
		if (want_min ? v < x : v > x)
			break;
		d->len--;
	}
	assert(d->len < w);
	d->s[(d->head + d->len) % w] = s;
	d->len++;
}

/* Index of the first sorted value >= x. */
static size_t lower_bound(const double *a, size_t n, double x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void sorted_replace(struct an_window *win, int drop, double old, double x)
{
	double *a = win->sorted;
	size_t n = win->count; /* before this push */
	if (drop) {
		size_t i = lower_bound(a, n, old);
		assert(i < n && a[i] == old);
		memmove(a + i, a + i + 1, (n - i - 1) * sizeof(*a));
		n--;
	}
	size_t j = lower_bound(a, n, x);
	memmove(a + j + 1, a + j, (n - j) * sizeof(*a));
	a[j] = x;
}

/* Re-sums mean and m2 from the ring (two passes) and re-centres the shift on
 * the current mean, so a trending series stays near its shift. */
static void resum(struct an_window *win)
{
	double s = 0, ss = 0;
	for (size_t i = 0; i < win->count; i++)
		s += win->buf[i] - win->shift;
	double mean = s / (double)win->count;
	for (size_t i = 0; i < win->count; i++) {
		double d = win->buf[i] - win->shift - mean;
		ss += d * d;
	}
	win->shift += mean;
	win->mean = 0;
	win->m2 = ss;
	win->since_exact = 0;
}

int an_window_push(struct an_window *win, double x)
{
	if (!isfinite(x))
		return -EINVAL;
	size_t w = win->w, pos = (size_t)(win->seq % w);
	int full = win->count == w;
	double old = full ? win->buf[pos] : 0.0;
	if (win->sorted)
		sorted_replace(win, full, old, x);
	if (win->count == 0)
		win->shift = x;
	double xs = x - win->shift;
	if (full) {
		double os = old - win->shift;
		double nm = win->mean + (xs - os) / (double)w;
		win->m2 += (xs - os) * (xs - nm + os - win->mean);
		win->mean = nm;
		if (win->m2 < 0)
			win->m2 = 0;
	} else {
		win->count++;
		double d = xs - win->mean;
		win->mean += d / (double)win->count;
		win->m2 += d * (xs - win->mean);
	}
	win->buf[pos] = x;
	deque_push(&win->dmin, win->buf, w, win->seq, 1);
	deque_push(&win->dmax, win->buf, w, win->seq, 0);
	win->seq++;
	if (full && ++win->since_exact >= 16 * (uint64_t)w)
		resum(win);
	return 0;
}

/* ---- queries ---- */

double an_window_mean(const struct an_window *win)
{
	return win->count ? win->shift + win->mean : NAN;
}

double an_window_variance(const struct an_window *win)
{
	if (win->count < 2)
		return NAN;
	/* A constant window is exactly 0, not the update's rounding residue. */
	if (an_window_min(win) == an_window_max(win))
		return 0.0;
	return win->m2 / (double)(win->count - 1);
}

double an_window_stddev(const struct an_window *win)
{
	return sqrt(an_window_variance(win));
}

double an_window_min(const struct an_window *win)
{
	return win->count ? win->buf[win->dmin.s[win->dmin.head] % win->w] : NAN;
}

double an_window_max(const struct an_window *win)
{
	return win->count ? win->buf[win->dmax.s[win->dmax.head] % win->w] : NAN;
}

static double sorted_median(const double *a, size_t n)
{
	return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

double an_window_median(const struct an_window *win)
{
	if (!win->sorted || !win->count)
		return NAN;
	return sorted_median(win->sorted, win->count);
}

double an_window_mad(const struct an_window *win)
{
	if (!win->sorted || !win->count)
		return NAN;
	const double *a = win->sorted;
	size_t n = win->count;
	double med = sorted_median(a, n);
	/* Deviations grow leftwards from i and rightwards from j: merge them up
	 * to the middle rank(s). */
	size_t j = lower_bound(a, n, med);
	size_t i = j; /* left candidate is a[i - 1] while i > 0 */
	double lo = 0, hi = 0;
	for (size_t r = 0; r <= n / 2; r++) {
		double d;
		if (i > 0 && (j >= n || med - a[i - 1] <= a[j] - med))
			d = med - a[--i];
		else
			d = a[j++] - med;
		if (r == (n - 1) / 2)
			lo = d;
		hi = d;
	}
	return n % 2 ? hi : 0.5 * (lo + hi);
}

/* ---- batch ---- */

static double window_stat(const struct an_window *win, enum an_window_stat stat)
{
	switch (stat) {
	case AN_WIN_MEAN:     return an_window_mean(win);
	case AN_WIN_VARIANCE: return an_window_variance(win);
	case AN_WIN_STDDEV:   return an_window_stddev(win);
	case AN_WIN_MIN:      return an_window_min(win);
	case AN_WIN_MAX:      return an_window_max(win);
	case AN_WIN_MEDIAN:   return an_window_median(win);
	case AN_WIN_MAD:      return an_window_mad(win);
	}
	return NAN;
}

int an_rolling(const double *x, size_t n, size_t w, enum an_window_stat stat, double *out)
{
	if (!x || !out || n == 0 || (unsigned)stat > AN_WIN_MAD)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return -EINVAL;
	unsigned flags = stat == AN_WIN_MEDIAN || stat == AN_WIN_MAD ? AN_WINDOW_ORDER : 0;
	struct an_window *win;
	int rc = an_window_create(w, flags, &win);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = an_window_push(win, x[i]);
		assert(rc == 0);
		out[i] = window_stat(win, stat);
	}
	an_window_destroy(win);
	return 0;
}
