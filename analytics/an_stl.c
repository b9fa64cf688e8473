/*
 * an_stl.c - STL decomposition (see an_stl.h), a C port of the algorithm in
 * R's src/library/stats/src/stl.f (netlib stl by the method's authors): same
 * windows, jumps, interpolation, end rules and robustness weights, so
 * results agree with R's stl() to rounding (the loess fit itself is
 * evaluated from weighted moments in one pass, see stl_est).
 *
 * Conventions inside this file: positions are the 1-based abscissae of the
 * Fortran code (the loess smoothers fit over x = 1..n), arrays are 0-based,
 * so point j of a series lives in y[j - 1].
 *
 * Cost per pass: the cycle-subseries smoothers touch every point once per
 * evaluation (cheap: subseries are short), the low-pass and trend loess
 * evaluate every jump-th point over a window, O(n * window / jump). A robust
 * periodic decomposition of 14,400 points at period 1,440 is 16 passes over
 * ~5.6 M weighted points; build-bench/perf/pf_shesd_bench measures it
 * (stl_14398_ms).
 */
#include "an_stl.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_statistics_double.h>

/* Scratch of one decomposition: the Fortran work(n + 2 np, 5) plus rw. */
struct stl_work {
	double *w[5];  /* five columns of n + 2 np */
	double *rw;    /* robustness weights, n */
};

/* Resolved parameters (R's stl() argument processing plus stl.f's checks). */
struct stl_par {
	size_t np, ns, nt, nl;
	unsigned isdeg, itdeg, ildeg;
	size_t nsjump, ntjump, nljump;
	unsigned ni, no;
};

void an_stl_cfg_init(struct an_stl_cfg *cfg, size_t period)
{
	*cfg = (struct an_stl_cfg){
		.period = period,
		.periodic = true,
		.s_degree = 0,
		.t_degree = 1,
		.l_degree = 1,
	};
}

/* ------------------------------------------------------------------------ */
/* Loess at one abscissa (stlest)                                           */
/* ------------------------------------------------------------------------ */

/*
 * Fit y[nleft..nright] (1-based) with tricube weights of half-width h around
 * xs, times rw when userw, locally constant (ideg 0) or linear (ideg 1).
 * Writes the fit at xs to *ys; false when all weights are zero.
 * Same weights and fit as stlest, computed in one pass from weighted moments
 * about xs instead of normalising a weight vector first (this is the hot
 * loop of the decomposition); results agree with it to rounding.
 */
static bool stl_est(const double *y, size_t n, size_t len, unsigned ideg, double xs,
		    double *ys, size_t nleft, size_t nright, bool userw, const double *rw)
{
	double range = (double)n - 1.0;
	double h = fmax(xs - (double)nleft, (double)nright - xs);
	if (len > n)
		h += (double)((len - n) / 2);
	double h9 = 0.999 * h, h1 = 0.001 * h, invh = 1.0 / h;
	double s0 = 0.0, s1 = 0.0, s2 = 0.0, y0 = 0.0, y1 = 0.0;

	for (size_t j = nleft; j <= nright; j++) {
		double d = (double)j - xs, r = fabs(d), wj;
		if (r > h9)
			continue;
		if (r <= h1) {
			wj = 1.0;
		} else {
			double u = r * invh;
			double q = 1.0 - u * u * u;
			wj = q * q * q;
		}
		if (userw)
			wj *= rw[j - 1];
		double wy = wj * y[j - 1];
		s0 += wj;
		s1 += wj * d;
		s2 += wj * d * d;
		y0 += wy;
		y1 += wy * d;
	}
	if (s0 <= 0.0)
		return false;

	double fit = y0 / s0;
	if (h > 0.0 && ideg > 0) {
		double a = s1 / s0;         /* weighted mean of j - xs */
		double c = s2 / s0 - a * a; /* weighted variance of j */
		if (c > 0.0 && sqrt(c) > 0.001 * range)
			fit += -a / c * (y1 / s0 - a * fit);
	}
	*ys = fit;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Loess over a whole series with jumps and interpolation (stless)          */
/* ------------------------------------------------------------------------ */

/* The window [nleft, nright] of span len for evaluation at i (1-based). */
static void stl_window(size_t i, size_t n, size_t len, size_t *nleft, size_t *nright)
{
	size_t nsh = (len + 1) / 2;
	if (i < nsh) {
		*nleft = 1;
		*nright = len;
	} else if (i >= n - nsh + 1) {
		*nleft = n - len + 1;
		*nright = n;
	} else {
		*nleft = i - nsh + 1;
		*nright = len + i - nsh;
	}
}

/* Evaluate the loess at every newnj-th point (or all points for newnj 1). */
static void stl_less_eval(const double *y, size_t n, size_t len, unsigned ideg, size_t newnj,
			  bool userw, const double *rw, double *ys, size_t *nleft,
			  size_t *nright)
{
	if (len >= n) {
		*nleft = 1;
		*nright = n;
		for (size_t i = 1; i <= n; i += newnj)
			if (!stl_est(y, n, len, ideg, (double)i, &ys[i - 1], *nleft, *nright, userw,
				     rw))
				ys[i - 1] = y[i - 1];
	} else if (newnj == 1) {
		size_t nsh = (len + 1) / 2;
		*nleft = 1;
		*nright = len;
		for (size_t i = 1; i <= n; i++) {
			if (i > nsh && *nright != n) {
				(*nleft)++;
				(*nright)++;
			}
			if (!stl_est(y, n, len, ideg, (double)i, &ys[i - 1], *nleft, *nright, userw,
				     rw))
				ys[i - 1] = y[i - 1];
		}
	} else {
		for (size_t i = 1; i <= n; i += newnj) {
			stl_window(i, n, len, nleft, nright);
			if (!stl_est(y, n, len, ideg, (double)i, &ys[i - 1], *nleft, *nright, userw,
				     rw))
				ys[i - 1] = y[i - 1];
		}
	}
}

/* Loess smooth of y[0..n) into ys (stless). */
static void stl_less(const double *y, size_t n, size_t len, unsigned ideg, size_t njump,
		     bool userw, const double *rw, double *ys)
{
	if (n < 2) {
		ys[0] = y[0];
		return;
	}
	size_t newnj = njump < n - 1 ? njump : n - 1;
	size_t nleft = 1, nright = n;
	stl_less_eval(y, n, len, ideg, newnj, userw, rw, ys, &nleft, &nright);
	if (newnj == 1)
		return;

	for (size_t i = 1; i + newnj <= n; i += newnj) {
		double delta = (ys[i + newnj - 1] - ys[i - 1]) / (double)newnj;
		for (size_t j = i + 1; j <= i + newnj - 1; j++)
			ys[j - 1] = ys[i - 1] + delta * (double)(j - i);
	}
	size_t k = ((n - 1) / newnj) * newnj + 1;
	if (k != n) {
		if (!stl_est(y, n, len, ideg, (double)n, &ys[n - 1], nleft, nright, userw, rw))
			ys[n - 1] = y[n - 1];
		if (k != n - 1) {
			double delta = (ys[n - 1] - ys[k - 1]) / (double)(n - k);
			for (size_t j = k + 1; j <= n - 1; j++)
				ys[j - 1] = ys[k - 1] + delta * (double)(j - k);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Moving averages, cycle-subseries smoothing, one pass (stlma/fts/ss/stp)  */
/* ------------------------------------------------------------------------ */

/* ave[0..n-len] = running means of length len over x[0..n). */
static void stl_ma(const double *x, size_t n, size_t len, double *ave)
{
	assert(len >= 1 && n >= len);
	size_t newn = n - len + 1;
	double flen = (double)len, v = 0.0;
	for (size_t i = 0; i < len; i++)
		v += x[i];
	ave[0] = v / flen;
	for (size_t j = 1, k = len, m = 0; j < newn; j++, k++, m++) {
		v = v - x[m] + x[k];
		ave[j] = v / flen;
	}
}

/* The low-pass filter's moving averages: np, np, 3 over x[0..n). */
static void stl_fts(const double *x, size_t n, size_t np, double *trend, double *work)
{
	stl_ma(x, n, np, trend);
	stl_ma(trend, n - np + 1, np, work);
	stl_ma(work, n - 2 * np + 2, 3, trend);
}

/* Smooth each cycle-subseries of y[0..n) and extend it by one point at each
 * end; writes season[0..n + 2 np). w1..w3 are scratch of n. */
static void stl_ss(const double *y, size_t n, const struct stl_par *p, bool userw,
		   const double *rw, double *season, double *w1, double *w2, double *w3)
{
	size_t np = p->np, ns = p->ns;
	for (size_t j = 1; j <= np; j++) {
		size_t k = (n - j) / np + 1;
		for (size_t i = 1; i <= k; i++)
			w1[i - 1] = y[(i - 1) * np + j - 1];
		if (userw)
			for (size_t i = 1; i <= k; i++)
				w3[i - 1] = rw[(i - 1) * np + j - 1];
		stl_less(w1, k, ns, p->isdeg, p->nsjump, userw, w3, w2 + 1);
		size_t nright = ns < k ? ns : k;
		if (!stl_est(w1, k, ns, p->isdeg, 0.0, &w2[0], 1, nright, userw, w3))
			w2[0] = w2[1];
		size_t nleft = k > ns ? k - ns + 1 : 1;
		if (!stl_est(w1, k, ns, p->isdeg, (double)(k + 1), &w2[k + 1], nleft, k, userw,
			     w3))
			w2[k + 1] = w2[k];
		for (size_t m = 1; m <= k + 2; m++)
			season[(m - 1) * np + j - 1] = w2[m - 1];
	}
}

/* ni inner passes: seasonal then trend (stlstp). */
static void stl_stp(const double *y, size_t n, const struct stl_par *p, bool userw,
		    struct stl_work *wk, double *season, double *trend)
{
	double **w = wk->w;
	size_t np = p->np;
	for (unsigned it = 0; it < p->ni; it++) {
		for (size_t i = 0; i < n; i++)
			w[0][i] = y[i] - trend[i];
		stl_ss(w[0], n, p, userw, wk->rw, w[1], w[2], w[3], w[4]);
		stl_fts(w[1], n + 2 * np, np, w[2], w[0]);
		stl_less(w[2], n, p->nl, p->ildeg, p->nljump, false, w[3], w[0]);
		for (size_t i = 0; i < n; i++)
			season[i] = w[1][np + i] - w[0][i];
		for (size_t i = 0; i < n; i++)
			w[0][i] = y[i] - season[i];
		stl_less(w[0], n, p->nt, p->itdeg, p->ntjump, userw, wk->rw, trend);
	}
}

/* ------------------------------------------------------------------------ */
/* Robustness weights (stlrwt)                                              */
/* ------------------------------------------------------------------------ */

/* rw = bisquare(|y - fit| / (6 median |y - fit|)); scratch of n. */
static void stl_rwt(const double *y, size_t n, const double *fit, double *rw, double *scratch)
{
	for (size_t i = 0; i < n; i++)
		scratch[i] = fabs(y[i] - fit[i]);
	size_t mid1 = n / 2 + 1, mid2 = n - mid1 + 1;
	double m1 = gsl_stats_select(scratch, 1, n, mid1 - 1);
	double m2 = mid2 == mid1 ? m1 : gsl_stats_select(scratch, 1, n, mid2 - 1);
	double cmad = 3.0 * (m1 + m2);
	double c9 = 0.999 * cmad, c1 = 0.001 * cmad;
	for (size_t i = 0; i < n; i++) {
		double r = fabs(y[i] - fit[i]);
		if (r <= c1) {
			rw[i] = 1.0;
		} else if (r <= c9) {
			double u = r / cmad;
			double q = 1.0 - u * u;
			rw[i] = q * q;
		} else {
			rw[i] = 0.0;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Parameters and driver                                                    */
/* ------------------------------------------------------------------------ */

/* R's nextodd(): round, then the next odd integer. */
static size_t stl_nextodd(double x)
{
	size_t v = (size_t)llround(x);
	return v % 2 == 0 ? v + 1 : v;
}

static size_t stl_odd3(size_t w)
{
	if (w < 3)
		w = 3;
	return w % 2 == 0 ? w + 1 : w;
}

static size_t stl_jump(size_t jump, size_t window)
{
	return jump ? jump : (window + 9) / 10;
}

static int stl_resolve(const struct an_stl_cfg *cfg, size_t n, struct stl_par *p)
{
	if (cfg->period < 2 || n <= 2 * cfg->period || cfg->t_degree > 1 || cfg->l_degree > 1 ||
	    (!cfg->periodic && (cfg->s_degree > 1 || cfg->s_window == 0)))
		return -EINVAL;
	size_t sw = cfg->periodic ? 10 * n + 1 : cfg->s_window;
	size_t tw = cfg->t_window;
	if (tw == 0)
		tw = stl_nextodd(ceil(1.5 * (double)cfg->period / (1.0 - 1.5 / (double)sw)));
	size_t lw = cfg->l_window ? cfg->l_window : stl_nextodd((double)cfg->period);

	p->np = cfg->period;
	p->ns = stl_odd3(sw);
	p->nt = stl_odd3(tw);
	p->nl = stl_odd3(lw);
	p->isdeg = cfg->periodic ? 0 : cfg->s_degree;
	p->itdeg = cfg->t_degree;
	p->ildeg = cfg->l_degree;
	p->nsjump = stl_jump(cfg->s_jump, sw);
	p->ntjump = stl_jump(cfg->t_jump, tw);
	p->nljump = stl_jump(cfg->l_jump, lw);
	p->ni = cfg->inner ? cfg->inner : (cfg->robust ? 1 : 2);
	p->no = cfg->robust ? (cfg->outer ? cfg->outer : 15) : 0;
	return 0;
}

/* R's periodic post-processing: each seasonal value becomes the mean of its
 * cycle position. */
static void stl_make_periodic(double *season, size_t n, size_t np)
{
	for (size_t j = 0; j < np; j++) {
		double s = 0.0;
		size_t c = 0;
		for (size_t i = j; i < n; i += np, c++)
			s += season[i];
		s /= (double)c;
		for (size_t i = j; i < n; i += np)
			season[i] = s;
	}
}

int an_stl(const double *y, size_t n, const struct an_stl_cfg *cfg, double *seasonal,
	   double *trend, double *remainder, double *weights)
{
	struct stl_par p;
	struct stl_work wk;
	int rc;

	if (!y || !cfg || !seasonal || !trend)
		return -EINVAL;
	rc = stl_resolve(cfg, n, &p);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return -EINVAL;

	size_t len = n + 2 * p.np;
	double *mem = malloc(sizeof(double) * (5 * len + n));
	if (!mem)
		return -ENOMEM;
	for (int c = 0; c < 5; c++)
		wk.w[c] = mem + (size_t)c * len;
	wk.rw = mem + 5 * len;

	for (size_t i = 0; i < n; i++)
		trend[i] = 0.0;
	bool userw = false;
	for (unsigned k = 0;; k++) {
		stl_stp(y, n, &p, userw, &wk, seasonal, trend);
		if (k + 1 > p.no)
			break;
		for (size_t i = 0; i < n; i++)
			wk.w[0][i] = trend[i] + seasonal[i];
		stl_rwt(y, n, wk.w[0], wk.rw, wk.w[1]);
		userw = true;
	}
	if (cfg->periodic)
		stl_make_periodic(seasonal, n, p.np);
	for (size_t i = 0; i < n; i++) {
		if (remainder)
			remainder[i] = y[i] - seasonal[i] - trend[i];
		if (weights)
			weights[i] = p.no > 0 ? wk.rw[i] : 1.0;
	}
	free(mem);
	return 0;
}
