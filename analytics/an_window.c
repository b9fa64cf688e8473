/*
 * an_window.c - see an_window.h. The ring holds the values in arrival order;
 * position number s (counting pushes and skips since reset) sits at
 * buf[s % w], NaN for a skipped position (pushes never store NaN). The min
 * and max deques hold such sequence numbers, oldest first, with values
 * increasing (min) or decreasing (max) from front to back, so the front is
 * the answer.
 */
#include "an_window.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "an_util.h"

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
	uint64_t seq;     /* positions (pushes and skips) since reset */
	size_t count;     /* values held (positions not skipped) */
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

/* Drops the sequence numbers that left the window once position s enters. */
static void deque_expire(struct seq_deque *d, size_t w, uint64_t s)
{
	while (d->len && d->s[d->head] + w <= s) {
		d->head = (d->head + 1) % w;
		d->len--;
	}
}

/* Drops expired sequence numbers, then dominated ones, then appends s.
 * want_min: keep values increasing front to back. */
static void deque_push(struct seq_deque *d, const double *buf, size_t w, uint64_t s, int want_min)
{
	deque_expire(d, w, s);
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

/* Removes old from, and/or inserts x into, the sorted copy of count values. */
static void sorted_update(struct an_window *win, int drop, double old, int add, double x)
{
	double *a = win->sorted;
	size_t n = win->count; /* before this push */
	if (drop) {
		size_t i = an_lower_bound(a, n, old);
		assert(i < n && a[i] == old);
		memmove(a + i, a + i + 1, (n - i - 1) * sizeof(*a));
		n--;
	}
	if (add) {
		size_t j = an_lower_bound(a, n, x);
		memmove(a + j + 1, a + j, (n - j) * sizeof(*a));
		a[j] = x;
	}
}

/* Re-sums mean and m2 from the ring (two passes) and re-centres the shift on
 * the current mean, so a trending series stays near its shift. */
static void resum(struct an_window *win)
{
	/* Held values fill buf[0..count) unless some position was skipped. */
	size_t slots = win->seq < win->w ? (size_t)win->seq : win->w;
	double s = 0, ss = 0;
	if (!win->count) {
		win->mean = win->m2 = 0;
		win->since_exact = 0;
		return;
	}
	for (size_t i = 0; i < slots; i++)
		if (!isnan(win->buf[i]))
			s += win->buf[i] - win->shift;
	double mean = s / (double)win->count;
	for (size_t i = 0; i < slots; i++) {
		if (isnan(win->buf[i]))
			continue;
		double d = win->buf[i] - win->shift - mean;
		ss += d * d;
	}
	win->shift += mean;
	win->mean = 0;
	win->m2 = ss;
	win->since_exact = 0;
}

/* The mean moved more than 8 standard deviations from the shift (a level
 * jump or a trend): the shifted sums lose digits, re-centre. Checked at most
 * once per w steps, so resum stays O(1) amortised. */
static bool drifted(const struct an_window *win)
{
	return win->mean * win->mean * (double)win->count > 64.0 * win->m2;
}

/* Welford's removal of old (count >= 1 values held, old among them). */
static void moments_remove(struct an_window *win, double old)
{
	if (win->count == 1) {
		win->count = 0;
		win->mean = win->m2 = 0;
		return;
	}
	double os = old - win->shift, pm = win->mean;
	win->count--;
	win->mean -= (os - pm) / (double)win->count;
	win->m2 -= (os - pm) * (os - win->mean);
	if (win->m2 < 0)
		win->m2 = 0;
}

/* Welford's addition of x. */
static void moments_add(struct an_window *win, double x)
{
	if (win->count == 0)
		win->shift = x;
	double xs = x - win->shift;
	win->count++;
	double d = xs - win->mean;
	win->mean += d / (double)win->count;
	win->m2 += d * (xs - win->mean);
}

/* Moves the window one position; x is the new value, NaN for a skip. */
static void window_step(struct an_window *win, double x)
{
	size_t w = win->w, pos = (size_t)(win->seq % w);
	int wrapped = win->seq >= w;
	double old = wrapped ? win->buf[pos] : NAN;
	int drop = !isnan(old), add = !isnan(x);
	if (win->sorted)
		sorted_update(win, drop, old, add, x);
	if (drop && add) { /* replace: the count stays */
		double xs = x - win->shift, os = old - win->shift;
		double nm = win->mean + (xs - os) / (double)win->count;
		win->m2 += (xs - os) * (xs - nm + os - win->mean);
		win->mean = nm;
		if (win->m2 < 0)
			win->m2 = 0;
	} else if (drop) {
		moments_remove(win, old);
	} else if (add) {
		moments_add(win, x);
	}
	win->buf[pos] = x;
	if (add) {
		deque_push(&win->dmin, win->buf, w, win->seq, 1);
		deque_push(&win->dmax, win->buf, w, win->seq, 0);
	} else {
		deque_expire(&win->dmin, w, win->seq);
		deque_expire(&win->dmax, w, win->seq);
	}
	win->seq++;
	if (++win->since_exact >= 16 * (uint64_t)w ||
	    (win->since_exact >= w && drifted(win)))
		resum(win);
}

int an_window_push(struct an_window *win, double x)
{
	if (!isfinite(x))
		return -EINVAL;
	window_step(win, x);
	return 0;
}

void an_window_skip(struct an_window *win)
{
	window_step(win, NAN);
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
	if (win->m2 > 0)
		return win->m2 / (double)(win->count - 1);
	/* Not constant, yet the update cancelled to 0 (values far from the
	 * shift, differing in their last bits): two passes over the ring. */
	size_t slots = win->seq < win->w ? (size_t)win->seq : win->w;
	double s = 0, ss = 0;
	for (size_t i = 0; i < slots; i++)
		if (!isnan(win->buf[i]))
			s += win->buf[i];
	double mean = s / (double)win->count;
	for (size_t i = 0; i < slots; i++)
		if (!isnan(win->buf[i]))
			ss += (win->buf[i] - mean) * (win->buf[i] - mean);
	return ss / (double)(win->count - 1);
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
	return an_sorted_mad(win->sorted, win->count, sorted_median(win->sorted, win->count));
}

const double *an_window_sorted(const struct an_window *win)
{
	return win->sorted;
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
	if (!x || !out || n == 0 || (unsigned)stat > AN_WIN_MAD || !an_all_finite(x, n))
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
