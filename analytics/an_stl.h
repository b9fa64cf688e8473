/*
 * an_stl.h - STL, the seasonal-trend decomposition by loess of Cleveland,
 * Cleveland, McRae and Terpenning (1990), computed as R's stats::stl does
 * (the netlib Fortran stl.f): an inner loop of cycle-subseries loess, a
 * low-pass filter (moving averages of period, period and 3, then loess) and a
 * trend loess; an optional outer loop of bisquare robustness weights.
 *
 * Used by S-H-ESD (an_shesd.h) and by anyone who wants seasonal/trend parts:
 * one call decomposes a whole series (tens of thousands of points in a few
 * milliseconds). Pure numerical code: no I/O, scratch malloc'd per call and
 * freed before return; any thread may call.
 */
#ifndef AN_STL_H
#define AN_STL_H

#include <stdbool.h>
#include <stddef.h>

/* Parameters, named after R's stl() arguments. Fill with an_stl_cfg_init()
 * and change what you need. A window or jump of 0 means R's default. */
struct an_stl_cfg {
	size_t period;     /* np: points per cycle, >= 2; needs n > 2 * period */
	bool periodic;     /* s.window = "periodic": s.window = 10 n + 1, s.degree 0,
	                      and the seasonal is then replaced by its mean per
	                      cycle position (exactly periodic) */
	size_t s_window;   /* seasonal loess span when !periodic (>= 3, made odd) */
	unsigned s_degree; /* 0 or 1 (ignored when periodic) */
	size_t t_window;   /* 0 = nextodd(ceil(1.5 np / (1 - 1.5 / s.window))) */
	unsigned t_degree; /* 0 or 1; default 1 */
	size_t l_window;   /* 0 = nextodd(np) */
	unsigned l_degree; /* 0 or 1; default 1 (R: = t.degree) */
	size_t s_jump;     /* 0 = ceil(s.window / 10) */
	size_t t_jump;     /* 0 = ceil(t.window / 10) */
	size_t l_jump;     /* 0 = ceil(l.window / 10) */
	bool robust;       /* robustness iterations (R robust = TRUE) */
	unsigned inner;    /* 0 = robust ? 1 : 2 */
	unsigned outer;    /* robust only; 0 = 15 */
};

/* R's defaults for a period: periodic, not robust, degrees s 0, t 1, l 1,
 * windows and jumps 0 (derived at run time). */
void an_stl_cfg_init(struct an_stl_cfg *cfg, size_t period);

/*
 * Decompose y[0..n) into seasonal + trend + remainder (caller buffers of n;
 * remainder and weights may be NULL). weights receives the final robustness
 * weights (all 1 when not robust). y must be finite (R's na.fail).
 * Returns 0, -EINVAL (NULL buffers, period < 2, n <= 2 * period, degree > 1,
 * a non-finite value), -ENOMEM. All pointers borrowed for the call.
 */
int an_stl(const double *y, size_t n, const struct an_stl_cfg *cfg, double *seasonal,
	   double *trend, double *remainder, double *weights);

#endif /* AN_STL_H */
