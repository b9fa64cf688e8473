/*
 * an_ets.c - see an_ets.h: R's HoltWinters and forecast::ets-style state
 * space exponential smoothing. Both fit by GSL's Nelder-Mead simplex
 * (nmsimplex2) from R's/forecast's starting points with restarts; bounds are
 * kept by clamping to the admissible region with a penalty on the distance
 * outside (HoltWinters' optimum often lies on a bound, as R's L-BFGS-B finds
 * it). The ETS filter is the whole cost of a fit and is specialised per
 * model type. Called per query or per backtest fold; any
 * thread; scratch memory per call.
 */
#include "an_ets.h"

#include "an_decomp.h"
#include "an_util.h"
#include "cm_compiler.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

/* ================================================================ */
/* Shared helpers                                                    */
/* ================================================================ */

static bool all_positive(const double *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(y[i] > 0.0))
			return false;
	return true;
}

static double clamp01(double x)
{
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

static double z_of_level(double level)
{
	if (level == 0.0)
		level = 0.95;
	return gsl_cdf_ugaussian_Pinv(0.5 + level / 2.0);
}

static bool level_ok(double level)
{
	return level == 0.0 || (level > 0.0 && level < 1.0);
}

/* Iterates a set simplex until it is smaller than 1e-6, gains less than the
 * relative rtol in 10 n steps, stops progressing, or maxit; returns the best
 * value. */
static double nm_round(gsl_multimin_fminimizer *s, size_t n, size_t maxit, double rtol)
{
	/* nmsimplex2 sets its minimum at the first iterate, not at set(): reading it
	 * here read uninitialised memory, so results followed the heap's contents */
	double fprev = INFINITY;

	for (size_t it = 1; it <= maxit; it++) {
		if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS)
			break;
		if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-6) == GSL_SUCCESS)
			break;
		if (it % (10 * n) == 0) {
			double f = gsl_multimin_fminimizer_minimum(s);
			if (fprev - f <= rtol * fabs(f))
				break;
			fprev = f;
		}
	}
	return gsl_multimin_fminimizer_minimum(s);
}

/* Nelder-Mead (GSL nmsimplex2) from x with initial step sizes step, then
 * restarted from the best point with half the steps until a restart no longer
 * improves by the relative rtol (at most 6 rounds). x holds the minimiser on
 * return, *fmin its value. Returns 0 or -EDOM/-ENOMEM. */
static int nm_minimise(gsl_multimin_function *fn, gsl_vector *x, const gsl_vector *step0,
		       size_t maxit, double rtol, double *fmin)
{
	const gsl_multimin_fminimizer_type *T = gsl_multimin_fminimizer_nmsimplex2;
	gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(T, fn->n);
	gsl_vector *step = gsl_vector_alloc(fn->n);
	double best = INFINITY;
	int rc = 0;

	if (s == NULL || step == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	gsl_vector_memcpy(step, step0);
	for (int round = 0; round < 6; round++) {
		if (gsl_multimin_fminimizer_set(s, fn, x, step) != GSL_SUCCESS) {
			rc = -EDOM;
			goto out;
		}
		double f = nm_round(s, fn->n, maxit, rtol);
		if (!isfinite(f)) {
			rc = -EDOM;
			goto out;
		}
		gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(s));
		bool better = f < best - rtol * fabs(best);
		best = f < best ? f : best;
		if (!better && round > 0)
			break;
		gsl_vector_scale(step, 0.5);
	}
	*fmin = best;
out:
	gsl_vector_free(step);
	gsl_multimin_fminimizer_free(s);
	return rc;
}

/* ================================================================ */
/* Holt-Winters as R's stats::HoltWinters                            */
/* ================================================================ */

/* The fixed inputs of one HoltWinters filtering run. */
struct hw_data {
	const double *y;
	size_t n, m, start;     /* period (1 if none), first fitted index */
	enum an_hw_season type;
	double l0, b0;
	const double *s0;       /* start seasonal figure by position (m) */
	double *seas;           /* scratch, m entries */
	double *err;            /* NULL, or n - start one-step errors out */
};

/* R's C_HoltWinters loop: returns the SSE for the clamped parameters and
 * leaves the last level/trend in *lp and *bp and the seasonal states in d->seas
 * (slot (i - start) % m for fitted index i). */
static double hw_filter(const struct hw_data *d, double a, double b, double g, double *lp,
			double *bp)
{
	double l = d->l0, t = d->b0, sse = 0.0;
	bool seasonal = d->type != AN_HW_NONE, mul = d->type == AN_HW_MUL;

	a = clamp01(a), b = clamp01(b), g = clamp01(g);
	if (seasonal)
		memcpy(d->seas, d->s0, d->m * sizeof(*d->seas));
	for (size_t i = d->start; i < d->n; i++) {
		size_t k = (i - d->start) % d->m;
		double st = seasonal ? d->seas[k] : 0.0;
		double xhat = mul ? (l + t) * st : l + t + st;
		double res = d->y[i] - xhat, lprev = l;
		sse += res * res;
		if (d->err != NULL)
			d->err[i - d->start] = res;
		l = a * (mul ? d->y[i] / st : d->y[i] - st) + (1.0 - a) * (l + t);
		t = b * (l - lprev) + (1.0 - b) * t;
		if (seasonal)
			d->seas[k] = g * (mul ? d->y[i] / l : d->y[i] - l) + (1.0 - g) * st;
	}
	*lp = l;
	*bp = t;
	return sse;
}

/* SSE objective over (alpha, beta[, gamma]) with R's clamping, plus a
 * penalty growing with the distance outside [0,1] so the simplex returns. */
static double hw_objective(const gsl_vector *x, void *arg)
{
	const struct hw_data *d = arg;
	double p[3] = { 0.0, 0.0, 0.0 }, dist = 0.0, l, b;

	for (size_t i = 0; i < x->size; i++) {
		double v = gsl_vector_get(x, i);
		p[i] = clamp01(v);
		dist += (v - p[i]) * (v - p[i]);
	}
	double sse = hw_filter(d, p[0], p[1], p[2], &l, &b);
	if (!isfinite(sse))
		return 1e300;
	return sse + dist * (sse + 1.0) * 100.0;
}

/* Start values as R: non-seasonal l = y[1], b = y[1] - y[0]; seasonal from
 * decompose() of the first two periods: its figure (m entries into fig), and
 * as l.start and b.start the intercept and slope of the least squares line
 * through its trend against 1, 2, ... */
static int hw_start(struct hw_data *d, double *fig)
{
	if (d->type == AN_HW_NONE) {
		d->l0 = d->y[1];
		d->b0 = d->y[1] - d->y[0];
		d->start = 2;
		return 0;
	}
	d->start = d->m;
	d->s0 = fig;
	size_t n2 = 2 * d->m, half = d->m / 2, k = n2 - 2 * half;
	double *trend = malloc((n2 + k) * sizeof(*trend)), c00, c01, c11, sumsq;
	if (trend == NULL)
		return -ENOMEM;
	double *t = trend + n2;
	int rc = an_decompose(d->y, n2, d->m, d->type == AN_HW_MUL, fig, trend);
	if (rc == 0 && !an_all_finite(fig, d->m))
		rc = -EINVAL;
	for (size_t i = 0; rc == 0 && i < k; i++)
		t[i] = (double)(i + 1);
	if (rc == 0 && gsl_fit_linear(t, 1, trend + half, 1, k, &d->l0, &d->b0, &c00, &c01,
				      &c11, &sumsq) != GSL_SUCCESS)
		rc = -EDOM;
	free(trend);
	return rc;
}

static int hw_check(const double *y, size_t n, size_t period, enum an_hw_season type,
		    const struct an_hw_model *m)
{
	if (y == NULL || m == NULL || !an_all_finite(y, n))
		return -EINVAL;
	if (type == AN_HW_NONE)
		return n >= 5 ? 0 : -EINVAL;
	if (type != AN_HW_ADD && type != AN_HW_MUL)
		return -EINVAL;
	if (period < 2 || n < 2 * period + 3)
		return -EINVAL;
	if (type == AN_HW_MUL && !all_positive(y, n))
		return -EINVAL;
	return 0;
}

/* Minimises the SSE from R's optim.start (0.3, 0.1, 0.1) and stores the
 * parameters, final states and residual variance in m. */
static int hw_optimise(struct hw_data *d, struct an_hw_model *m)
{
	size_t np = d->type == AN_HW_NONE ? 2 : 3;
	gsl_vector *x = gsl_vector_alloc(np), *step = gsl_vector_alloc(np);
	gsl_multimin_function fn = { .f = hw_objective, .n = np, .params = d };
	double fmin, p[3] = { 0.0, 0.0, 0.0 }, l, b;
	int rc = -ENOMEM;

	if (x == NULL || step == NULL)
		goto out;
	gsl_vector_set(x, 0, 0.3);
	gsl_vector_set(x, 1, 0.1);
	if (np == 3)
		gsl_vector_set(x, 2, 0.1);
	gsl_vector_set_all(step, 0.1);
	rc = nm_minimise(&fn, x, step, 2000, 1e-10, &fmin);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < np; i++)
		p[i] = clamp01(gsl_vector_get(x, i));
	m->alpha = p[0], m->beta = p[1], m->gamma = p[2];
	m->sse = hw_filter(d, p[0], p[1], p[2], &l, &b);
	m->level = l;
	m->trend = b;
	m->n_resid = d->n - d->start;
	m->resid_var = gsl_stats_variance(d->err, 1, m->n_resid);
	if (!isfinite(m->sse) || !isfinite(m->resid_var))
		rc = -EDOM;
out:
	gsl_vector_free(step);
	gsl_vector_free(x);
	return rc;
}

int an_hw_fit(const double *y, size_t n, size_t period, enum an_hw_season type,
	      struct an_hw_model *m)
{
	int rc = hw_check(y, n, period, type, m);
	if (rc != 0)
		return rc;
	memset(m, 0, sizeof(*m));
	size_t per = type == AN_HW_NONE ? 1 : period;
	struct hw_data d = { .y = y, .n = n, .m = per, .type = type };
	double *buf = calloc(2 * per + n, sizeof(*buf));
	if (buf == NULL)
		return -ENOMEM;
	d.seas = buf + per;
	d.err = buf + 2 * per;
	rc = hw_start(&d, buf);
	if (rc != 0)
		goto err_free;
	rc = hw_optimise(&d, m);
	if (rc != 0)
		goto err_free;
	m->type = type;
	m->period = per;
	m->season = malloc(per * sizeof(*m->season));
	if (m->season == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	/* R's coefficients s1..s_per: the states of the next per positions. */
	for (size_t j = 0; j < per; j++)
		m->season[j] = type == AN_HW_NONE ? 0.0 : d.seas[(n - d.start + j) % per];
	free(buf);
	return 0;
err_free:
	free(buf);
	return rc;
}

/* predict.HoltWinters' variance multiplier for step h (1-based). */
static double hw_var_factor(const struct an_hw_model *m, size_t h)
{
	size_t f = m->period;
	double g = m->type == AN_HW_NONE ? 0.0 : m->gamma, v = 0.0;

	if (m->type != AN_HW_MUL) {
		v = 1.0;
		for (size_t j = 1; j < h; j++) {
			double psi = m->alpha * (1.0 + (double)j * m->beta) +
				     (j % f == 0 ? g * (1.0 - m->alpha) : 0.0);
			v += psi * psi;
		}
		return v;
	}
	size_t rel = (h - 1) % f;       /* 0-based position of step h */
	for (size_t j = 0; j < h; j++) {
		double psi = m->alpha * (1.0 + (double)j * m->beta) +
			     (j % f == 0 ? g * (1.0 - m->alpha) : 0.0);
		size_t pos = (rel + f - j % f) % f;
		double q = psi * m->season[rel] / m->season[pos];
		v += q * q;
	}
	return v;
}

int an_hw_predict(const struct an_hw_model *m, size_t h, double level,
		  struct an_forecast_out *out)
{
	if (m == NULL || m->season == NULL || out == NULL || out->mean == NULL || h == 0 ||
	    !level_ok(level))
		return -EINVAL;
	double z = z_of_level(level);
	for (size_t i = 0; i < h; i++) {
		double s = m->season[i % m->period];
		double lt = m->level + (double)(i + 1) * m->trend;
		double f = m->type == AN_HW_MUL ? lt * s : lt + s;
		double half = z * sqrt(m->resid_var * hw_var_factor(m, i + 1));
		out->mean[i] = f;
		if (out->lower != NULL)
			out->lower[i] = f - half;
		if (out->upper != NULL)
			out->upper[i] = f + half;
	}
	return 0;
}

void an_hw_release(struct an_hw_model *m)
{
	if (m == NULL)
		return;
	free(m->season);
	m->season = NULL;
}

/* ================================================================ */
/* ETS state space models (Hyndman et al. 2008; forecast::ets)       */
/* ================================================================ */

#define ETS_LO 1e-4
#define ETS_HI (1.0 - 1e-4)
#define ETS_PHI_LO 0.8
#define ETS_PHI_HI 0.98
#define ETS_RTOL 1e-7           /* optimiser: relative gain in -2 log L */
#define ETS_BAD 1e100           /* objective for inadmissible states */
#define ETS_PATHS 1000
#define ETS_SEED 20240607UL

struct ets_par {
	double alpha, beta, gamma, phi, l0, b0;
	double c_ll, c_lb, c_bb; /* 1 - alpha, (1 - alpha) phi, (1 - beta) phi */
};

static void ets_par_derive(struct ets_par *p)
{
	p->c_ll = 1.0 - p->alpha;
	p->c_lb = (1.0 - p->alpha) * p->phi;
	p->c_bb = (1.0 - p->beta) * p->phi;
}

/* The fixed inputs of one fit. */
struct ets_data {
	const double *y;
	size_t n, m;
	struct an_ets_spec spec;
	double l0i, b0i, scale;  /* heuristic initial level/trend, data scale */
	const double *s0;        /* initial seasonal states by position */
	double *seas;            /* scratch, m entries */
	size_t nx;               /* optimised coordinates */
};

/*
 * One step of the state equations in forecast::ets' form: returns the
 * one-step forecast of y from the states (l, b, seas[k]) and, when y is not
 * NAN, updates the states with the observation y. With a = y deseasonalised,
 *   l' = l + phi b + alpha (a - l - phi b),  b' = phi b + beta (a - l - phi b),
 * written as l' = (1 - alpha) l + (1 - alpha) phi b + alpha a and
 * b' = (1 - beta) phi b + beta (a - l) so that the chain from one step's
 * states to the next is two multiply-adds, not seven dependent operations
 * (the filter is the whole cost of a fit). Always inlined so that the
 * specialised filters below fold the model type away.
 */
static CM_ALWAYS_INLINE double ets_step(int tr, int se, const struct ets_par *p, double *l,
					double *b, double *sk, double y)
{
	double q = tr == AN_ETS_TREND_N ? *l : *l + p->phi * *b;
	double s = se == AN_ETS_SEAS_N ? 0.0 : *sk;
	double yhat = se == AN_ETS_SEAS_A ? q + s : se == AN_ETS_SEAS_M ? q * s : q;

	if (isnan(y))
		return yhat;
	double a = se == AN_ETS_SEAS_A ? y - s : se == AN_ETS_SEAS_M ? y / s : y;
	double lold = *l;
	if (tr == AN_ETS_TREND_N) {
		*l = p->c_ll * lold + p->alpha * a;
	} else {
		*l = p->c_ll * lold + (p->c_lb * *b + p->alpha * a);
		*b = p->c_bb * *b + p->beta * (a - lold);
	}
	if (se != AN_ETS_SEAS_N) {
		double t = se == AN_ETS_SEAS_A ? y - q : y / q;
		*sk = s + p->gamma * (t - s);
	}
	return yhat;
}

/* Sums over the data for one parameter set. */
struct ets_sums {
	double sse, slog;       /* sum e^2, sum log|yhat| (multiplicative error) */
	double l, b;            /* final states */
	bool bad;               /* a forecast needed positive was not */
};

/* The filter for one model type (constants after inlining). */
static CM_ALWAYS_INLINE void ets_run(const struct ets_data *d, const struct ets_par *p0,
				     struct ets_sums *r, int err, int tr, int se)
{
	const struct ets_par p = *p0;
	const double *y = d->y;
	double *seas = d->seas, l = p.l0, b = p.b0, e2 = 0.0, lg = 0.0, prod = 1.0;
	bool pos = err == AN_ETS_ERR_M || se == AN_ETS_SEAS_M;
	size_t k = 0, n = d->n, m = d->m;

	r->bad = false;
	for (size_t i = 0; i < n; i++) {
		double yhat = ets_step(tr, se, &p, &l, &b, &seas[k], y[i]);
		if (pos && !(yhat > 0.0)) {
			r->bad = true;
			return;
		}
		double e = err == AN_ETS_ERR_M ? (y[i] - yhat) / yhat : y[i] - yhat;
		e2 += e * e;
		if (err == AN_ETS_ERR_M) {
			/* log of a running product, renormalised: one log per 8 */
			prod *= yhat;
			if ((i & 7) == 7) {
				int ex;
				prod = frexp(prod, &ex);
				lg += ex * M_LN2;
			}
		}
		if (++k == m)
			k = 0;
	}
	r->sse = e2;
	r->slog = err == AN_ETS_ERR_M ? lg + log(prod) : 0.0;
	r->l = l;
	r->b = b;
}

#define ETS_RUN_T(E, S) \
	(tr == AN_ETS_TREND_N ? ets_run(d, p, r, E, AN_ETS_TREND_N, S) : \
	 ets_run(d, p, r, E, AN_ETS_TREND_A, S))

/* Runs the model over the data: returns forecast::ets' objective
 * n log(sum e^2) (+ 2 sum log|yhat| for multiplicative error), or ETS_BAD
 * when a forecast needed positive is not; the sums and final states go to r
 * and the final seasonal states to d->seas. A damped trend is the additive
 * filter with phi < 1. */
static double ets_filter(const struct ets_data *d, const struct ets_par *p, struct ets_sums *r)
{
	int tr = d->spec.trend, se = d->spec.season;

	if (se != AN_ETS_SEAS_N)
		memcpy(d->seas, d->s0, d->m * sizeof(*d->seas));
	if (d->spec.error == AN_ETS_ERR_A) {
		if (se == AN_ETS_SEAS_N)
			ETS_RUN_T(AN_ETS_ERR_A, AN_ETS_SEAS_N);
		else if (se == AN_ETS_SEAS_A)
			ETS_RUN_T(AN_ETS_ERR_A, AN_ETS_SEAS_A);
		else
			ETS_RUN_T(AN_ETS_ERR_A, AN_ETS_SEAS_M);
	} else {
		if (se == AN_ETS_SEAS_N)
			ETS_RUN_T(AN_ETS_ERR_M, AN_ETS_SEAS_N);
		else if (se == AN_ETS_SEAS_A)
			ETS_RUN_T(AN_ETS_ERR_M, AN_ETS_SEAS_A);
		else
			ETS_RUN_T(AN_ETS_ERR_M, AN_ETS_SEAS_M);
	}
	if (r->bad)
		return ETS_BAD;
	/* An exact fit (constant data) gets a tiny floor, not log(0). */
	bool emul = d->spec.error == AN_ETS_ERR_M;
	r->sse = fmax(r->sse, 1e-20 * (double)d->n * (emul ? 1.0 : d->scale * d->scale));
	/* the floor itself underflows for values near 1e-200: log(0) must not reach GSL */
	double obj = (double)d->n * log(r->sse) + 2.0 * r->slog;
	return isfinite(obj) ? obj : ETS_BAD;
}

static double clampr(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Optimiser coordinates x = (alpha[, beta][, gamma][, phi], l0[, b0]) ->
 * the nearest admissible parameters; returns the distance moved (L1) so the
 * objective can penalise leaving the region (plain coordinates, no logistic
 * map: its flat tails trap the simplex near a bound). */
static double ets_unpack(const struct ets_data *d, const double *x, struct ets_par *p)
{
	const struct an_ets_spec *sp = &d->spec;
	double dist = 0.0;
	size_t i = 0;

	p->alpha = clampr(x[i], ETS_LO, ETS_HI);
	dist += fabs(x[i++] - p->alpha);
	p->beta = 0.0, p->gamma = 0.0, p->phi = 1.0, p->b0 = 0.0;
	if (sp->trend != AN_ETS_TREND_N) {
		p->beta = clampr(x[i], ETS_LO, p->alpha);
		dist += fabs(x[i++] - p->beta);
	}
	if (sp->season != AN_ETS_SEAS_N) {
		p->gamma = clampr(x[i], ETS_LO, 1.0 - p->alpha);
		dist += fabs(x[i++] - p->gamma);
	}
	if (sp->trend == AN_ETS_TREND_AD) {
		p->phi = clampr(x[i], ETS_PHI_LO, ETS_PHI_HI);
		dist += fabs(x[i++] - p->phi);
	}
	ets_par_derive(p);
	p->l0 = d->l0i + d->scale * x[i++];
	if (sp->trend != AN_ETS_TREND_N)
		p->b0 = d->b0i + 0.1 * d->scale * x[i++];
	assert(i == d->nx);
	return dist;
}

/* forecast::ets' starting values (alpha 0.2, 0.2 / m when seasonal; beta
 * 0.1 alpha; gamma 0.05 (1 - alpha); phi 0.978; the heuristic states) and
 * initial simplex steps. */
static void ets_start(const struct ets_data *d, double *x, double *step)
{
	const struct an_ets_spec *sp = &d->spec;
	double a = ETS_LO + 0.2 * (ETS_HI - ETS_LO) / (sp->season == AN_ETS_SEAS_N ? 1.0 : (double)d->m);
	size_t i = 0;

	step[i] = 0.1, x[i++] = a;
	if (sp->trend != AN_ETS_TREND_N)
		step[i] = 0.02, x[i++] = ETS_LO + 0.1 * (a - ETS_LO);
	if (sp->season != AN_ETS_SEAS_N)
		step[i] = 0.1, x[i++] = ETS_LO + 0.05 * (1.0 - a - ETS_LO);
	if (sp->trend == AN_ETS_TREND_AD)
		step[i] = 0.05, x[i++] = ETS_PHI_LO + 0.99 * (ETS_PHI_HI - ETS_PHI_LO);
	step[i] = 0.1, x[i++] = 0.0;
	if (sp->trend != AN_ETS_TREND_N)
		step[i] = 0.1, x[i++] = 0.0;
	assert(i == d->nx);
}

static double ets_objective(const gsl_vector *x, void *arg)
{
	const struct ets_data *d = arg;
	struct ets_par p;
	struct ets_sums r;

	assert(x->stride == 1 && x->size == d->nx);
	double dist = ets_unpack(d, x->data, &p);
	return ets_filter(d, &p, &r) + 10.0 * (double)d->n * dist;
}

/*
 * forecast::ets' initstate() seasonal figures: the classical decomposition
 * of the whole series at period m, additive into add and multiplicative
 * (floored at 0.01) into mul, m entries each; either may be NULL. Needs
 * n >= 2 * m, m >= 2 and, for mul, y > 0.
 */
static int ets_figures(const double *y, size_t n, size_t m, double *add, double *mul)
{
	int rc;

	if (add != NULL) {
		rc = an_decompose(y, n, m, false, add, NULL);
		if (rc != 0)
			return rc;
		if (!an_all_finite(add, m))
			return -EINVAL;
	}
	if (mul != NULL) {
		rc = an_decompose(y, n, m, true, mul, NULL);
		if (rc != 0)
			return rc;
		if (!an_all_finite(mul, m))
			return -EINVAL;
		for (size_t j = 0; j < m; j++)
			mul[j] = fmax(mul[j], 1e-2);
	}
	return 0;
}

/* The rest of forecast::ets' initstate(): level (and trend) from the mean
 * (least squares line) of the first max(10, 2m) points adjusted by the
 * seasonal figure fig (d->m entries). v gets 2 max(10, 2m) scratch entries. */
static int ets_initstate(struct ets_data *d, const double *fig, double *v)
{
	const struct an_ets_spec *sp = &d->spec;
	bool seas = sp->season != AN_ETS_SEAS_N, mul = sp->season == AN_ETS_SEAS_M;
	size_t maxn = d->m * 2 > 10 ? d->m * 2 : 10;
	double sabs = 0;

	maxn = maxn < d->n ? maxn : d->n;
	double *t = v + maxn;
	for (size_t i = 0; i < maxn; i++) {
		double s = seas ? fig[i % d->m] : (mul ? 1.0 : 0.0);
		v[i] = mul ? d->y[i] / s : d->y[i] - s;
		t[i] = (double)(i + 1);
	}
	if (sp->trend == AN_ETS_TREND_N) {
		double sy = 0;
		for (size_t i = 0; i < maxn; i++)
			sy += v[i];
		d->l0i = sy / (double)maxn, d->b0i = 0.0;
	} else {
		/* Written out, not gsl_fit_linear: these are the optimiser's start
		 * values, kept bit-identical (GSL's centred sums round differently). */
		double sx = 0, sy = 0, sxx = 0, sxy = 0, k = (double)maxn;
		for (size_t i = 0; i < maxn; i++)
			sx += t[i], sy += v[i], sxx += t[i] * t[i], sxy += t[i] * v[i];
		double slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
		d->b0i = slope, d->l0i = (sy - slope * sx) / k;
		if (fabs(d->l0i + d->b0i) < 1e-8)
			d->l0i *= 1.0 + 1e-3, d->b0i *= 1.0 + 1e-3;
	}
	for (size_t i = 0; i < d->n; i++)
		sabs += fabs(d->y[i]);
	d->scale = sabs > 0.0 ? sabs / (double)d->n : 1.0;
	d->s0 = fig;
	return isfinite(d->l0i) && isfinite(d->b0i) ? 0 : -EINVAL;
}

static size_t ets_npar(const struct an_ets_spec *sp, size_t m)
{
	size_t k = 3;  /* alpha, l0, sigma^2 */
	if (sp->trend != AN_ETS_TREND_N)
		k += 2;
	if (sp->trend == AN_ETS_TREND_AD)
		k += 1;
	if (sp->season != AN_ETS_SEAS_N)
		k += m;  /* gamma and m - 1 free initial states */
	return k;
}

/* The spec is known and n long enough for it (the data are not looked at). */
static int ets_check(size_t n, size_t period, const struct an_ets_spec *sp)
{
	bool seas = sp->season != AN_ETS_SEAS_N;

	if (sp->error > AN_ETS_ERR_M || sp->trend > AN_ETS_TREND_AD || sp->season > AN_ETS_SEAS_M)
		return -EINVAL;
	if (seas && (period < 2 || n <= 2 * period))
		return -EINVAL;
	if (n < ets_npar(sp, seas ? period : 1) + 4)
		return -EINVAL;
	return 0;
}

static bool ets_needs_positive(const struct an_ets_spec *sp)
{
	return sp->error == AN_ETS_ERR_M || sp->season == AN_ETS_SEAS_M;
}

/* Fills m's parameters, final states and criteria from the optimum x. */
static int ets_finish(const struct ets_data *d, const double *x, struct an_ets_model *m)
{
	struct ets_par p;
	struct ets_sums r;

	(void)ets_unpack(d, x, &p);
	double obj = ets_filter(d, &p, &r);
	if (!(obj < ETS_BAD))
		return -EDOM;
	double sse = r.sse, slog = r.slog, l = r.l, b = r.b;
	double n = (double)d->n, k = (double)ets_npar(&d->spec, d->m);
	m->alpha = p.alpha, m->beta = p.beta, m->gamma = p.gamma, m->phi = p.phi;
	m->l0 = p.l0, m->b0 = p.b0, m->level = l, m->trend = b;
	m->sse = sse;
	m->npar = (size_t)k;
	m->loglik = -0.5 * (n * log(2.0 * M_PI * sse / n) + n) - slog;
	m->aic = -2.0 * m->loglik + 2.0 * k;
	m->aicc = m->aic + 2.0 * k * (k + 1.0) / (n - k - 1.0);
	m->bic = -2.0 * m->loglik + k * log(n);
	m->sigma2 = sse / (n - k);
	memcpy(m->season, d->seas, d->m * sizeof(*m->season));
	return 0;
}

/*
 * an_ets_fit for y already checked (finite; positive where spec needs it)
 * with its seasonal figure fig already computed (period entries for a
 * seasonal spec as ets_figures gives them, ignored otherwise).
 */
static int ets_fit_fig(const double *y, size_t n, size_t period, const struct an_ets_spec *spec,
		       const double *fig, struct an_ets_model *m)
{
	static const double no_season = 0.0;
	int rc = ets_check(n, period, spec);
	if (rc != 0)
		return rc;
	memset(m, 0, sizeof(*m));
	struct ets_data d = { .y = y, .n = n, .spec = *spec };
	d.m = spec->season == AN_ETS_SEAS_N ? 1 : period;
	d.nx = 2 + (spec->trend != AN_ETS_TREND_N ? 2 : 0) + (spec->trend == AN_ETS_TREND_AD) +
	       (spec->season != AN_ETS_SEAS_N);
	size_t maxn = d.m * 2 > 10 ? d.m * 2 : 10;
	double *scratch = calloc(d.m + 2 * maxn, sizeof(*scratch));
	gsl_vector *x = gsl_vector_alloc(d.nx), *step = gsl_vector_alloc(d.nx);
	m->season = malloc(d.m * sizeof(*m->season));
	rc = -ENOMEM;
	if (scratch == NULL || x == NULL || step == NULL || m->season == NULL)
		goto err_free;
	d.seas = scratch;
	rc = ets_initstate(&d, spec->season == AN_ETS_SEAS_N ? &no_season : fig, scratch + d.m);
	if (rc != 0)
		goto err_free;
	gsl_multimin_function fn = { .f = ets_objective, .n = d.nx, .params = &d };
	double fmin;
	ets_start(&d, x->data, step->data);
	rc = nm_minimise(&fn, x, step, 1000, ETS_RTOL, &fmin);
	if (rc == 0)
		rc = ets_finish(&d, x->data, m);
	if (rc != 0)
		goto err_free;
	m->spec = *spec;
	m->period = d.m;
	m->n = n;
	gsl_vector_free(step);
	gsl_vector_free(x);
	free(scratch);
	return 0;
err_free:
	gsl_vector_free(step);
	gsl_vector_free(x);
	free(scratch);
	an_ets_release(m);
	return rc;
}

int an_ets_fit(const double *y, size_t n, size_t period, const struct an_ets_spec *spec,
	       struct an_ets_model *m)
{
	if (y == NULL || spec == NULL || m == NULL || !an_all_finite(y, n))
		return -EINVAL;
	int rc = ets_check(n, period, spec);
	if (rc != 0)
		return rc;
	if (ets_needs_positive(spec) && !all_positive(y, n))
		return -EINVAL;
	if (spec->season == AN_ETS_SEAS_N)
		return ets_fit_fig(y, n, period, spec, NULL, m);
	double *fig = malloc(period * sizeof(*fig));
	if (fig == NULL)
		return -ENOMEM;
	bool mul = spec->season == AN_ETS_SEAS_M;
	rc = ets_figures(y, n, period, mul ? NULL : fig, mul ? fig : NULL);
	if (rc == 0)
		rc = ets_fit_fig(y, n, period, spec, fig, m);
	free(fig);
	return rc;
}

void an_ets_release(struct an_ets_model *m)
{
	if (m == NULL)
		return;
	free(m->season);
	m->season = NULL;
}

/* forecast::ets' default model space: no additive error with a
 * multiplicative season, no multiplicative part for non-positive data. */
static bool auto_skip(const struct an_ets_spec *sp, bool seas_ok, bool pos)
{
	if (sp->season != AN_ETS_SEAS_N && !seas_ok)
		return true;
	if (sp->error == AN_ETS_ERR_A && sp->season == AN_ETS_SEAS_M)
		return true;
	return (sp->error == AN_ETS_ERR_M || sp->season == AN_ETS_SEAS_M) && !pos;
}

/*
 * The seasonal figures an_ets_auto's candidates start from, computed once:
 * fig[0..period) additive, fig[period..2 period) multiplicative; *add_rc and
 * *mul_rc what ets_figures gave for each (a candidate whose figure failed
 * fails with that). -ENOMEM, else 0.
 */
static int auto_figures(const double *y, size_t n, size_t period, bool seas_ok, bool pos,
			double **fig, int *add_rc, int *mul_rc)
{
	*fig = NULL;
	*add_rc = *mul_rc = -EINVAL;
	if (!seas_ok)
		return 0;
	*fig = malloc(2 * period * sizeof(**fig));
	if (*fig == NULL)
		return -ENOMEM;
	*add_rc = ets_figures(y, n, period, *fig, NULL);
	if (pos)
		*mul_rc = ets_figures(y, n, period, NULL, *fig + period);
	return *add_rc == -ENOMEM || *mul_rc == -ENOMEM ? -ENOMEM : 0;
}

int an_ets_auto(const double *y, size_t n, size_t period, struct an_ets_model *m)
{
	if (y == NULL || m == NULL || !an_all_finite(y, n))
		return -EINVAL;
	bool pos = all_positive(y, n), seas_ok = period >= 2 && n > 2 * period;
	double *fig;
	int add_rc, mul_rc, rc = auto_figures(y, n, period, seas_ok, pos, &fig, &add_rc, &mul_rc);
	if (rc != 0) {
		free(fig);
		return rc;
	}
	rc = -EINVAL;
	memset(m, 0, sizeof(*m));
	for (int e = AN_ETS_ERR_A; e <= AN_ETS_ERR_M; e++) {
		for (int t = AN_ETS_TREND_N; t <= AN_ETS_TREND_AD; t++) {
			for (int s = AN_ETS_SEAS_N; s <= AN_ETS_SEAS_M; s++) {
				struct an_ets_spec sp = { e, t, s };
				struct an_ets_model cand;
				if (auto_skip(&sp, seas_ok, pos))
					continue;
				int r = s == AN_ETS_SEAS_A ? add_rc : s == AN_ETS_SEAS_M ? mul_rc : 0;
				if (r == 0)
					r = ets_fit_fig(y, n, period, &sp,
							s == AN_ETS_SEAS_M ? fig + period : fig, &cand);
				if (r == -ENOMEM) {
					an_ets_release(m);
					free(fig);
					return r;
				}
				if (r != 0) {
					rc = rc == -EDOM ? rc : r;
					continue;
				}
				if (m->season == NULL || cand.aicc < m->aicc) {
					an_ets_release(m);
					*m = cand;
				} else {
					an_ets_release(&cand);
				}
			}
		}
	}
	free(fig);
	return m->season != NULL ? 0 : rc;
}

/* Point forecasts: the state equations run forward without errors. */
static void ets_point(const struct an_ets_model *m, size_t h, double *mean)
{
	const struct an_ets_spec *sp = &m->spec;
	double phisum = 0.0, phik = 1.0;

	for (size_t i = 0; i < h; i++) {
		phik *= sp->trend == AN_ETS_TREND_AD ? m->phi : 1.0;
		phisum += sp->trend == AN_ETS_TREND_N ? 0.0 : phik;
		double q = m->level + phisum * m->trend;
		double s = m->season[(m->n + i) % m->period];
		mean[i] = sp->season == AN_ETS_SEAS_A ? q + s : sp->season == AN_ETS_SEAS_M ? q * s : q;
	}
}

/* Class 1 (Hyndman et al. 2008, Table 6.1): v_h = sigma^2 (1 + sum_{j<h}
 * c_j^2), c_j = alpha + beta phi_j + gamma [j % m == 0],
 * phi_j = phi + ... + phi^j. */
static void ets_class1(const struct an_ets_model *m, size_t h, double z,
		       struct an_forecast_out *out)
{
	const struct an_ets_spec *sp = &m->spec;
	double v = 1.0, phisum = 0.0, phik = 1.0;

	for (size_t i = 0; i < h; i++) {
		if (i > 0) {
			size_t j = i;
			phik *= sp->trend == AN_ETS_TREND_AD ? m->phi : 1.0;
			phisum += sp->trend == AN_ETS_TREND_N ? 0.0 : phik;
			double c = m->alpha + m->beta * phisum +
				   (sp->season != AN_ETS_SEAS_N && j % m->period == 0 ? m->gamma : 0.0);
			v += c * c;
		}
		double half = z * sqrt(m->sigma2 * v);
		if (out->lower != NULL)
			out->lower[i] = out->mean[i] - half;
		if (out->upper != NULL)
			out->upper[i] = out->mean[i] + half;
	}
}

/* Simulates ETS_PATHS sample paths into sim[path * h + step]. */
static int ets_simulate(const struct an_ets_model *m, size_t h, double *sim)
{
	struct ets_par p = { m->alpha, m->beta, m->gamma, m->phi, 0.0, 0.0, 0.0, 0.0, 0.0 };
	int tr = m->spec.trend, se = m->spec.season;
	double *seas = malloc(m->period * sizeof(*seas));
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	double sd = sqrt(m->sigma2);

	ets_par_derive(&p);
	if (seas == NULL || r == NULL) {
		free(seas);
		gsl_rng_free(r);
		return -ENOMEM;
	}
	gsl_rng_set(r, ETS_SEED);
	for (size_t k = 0; k < ETS_PATHS; k++) {
		double l = m->level, b = m->trend;
		memcpy(seas, m->season, m->period * sizeof(*seas));
		for (size_t i = 0; i < h; i++) {
			double *sk = &seas[(m->n + i) % m->period];
			double yhat = ets_step(tr, se, &p, &l, &b, sk, NAN);
			double e = gsl_ran_gaussian_ziggurat(r, sd);
			double y = m->spec.error == AN_ETS_ERR_M ? yhat * (1.0 + e) : yhat + e;
			sim[k * h + i] = y;
			ets_step(tr, se, &p, &l, &b, sk, y);
		}
	}
	gsl_rng_free(r);
	free(seas);
	return 0;
}

/* Intervals from the quantiles of simulated paths, per step. */
static int ets_sim_interval(const struct an_ets_model *m, size_t h, double level,
			    struct an_forecast_out *out)
{
	double *sim = malloc(ETS_PATHS * h * sizeof(*sim));
	double *col = malloc(ETS_PATHS * sizeof(*col));
	int rc = -ENOMEM;

	if (sim == NULL || col == NULL)
		goto out;
	rc = ets_simulate(m, h, sim);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < h; i++) {
		for (size_t k = 0; k < ETS_PATHS; k++)
			col[k] = sim[k * h + i];
		gsl_sort(col, 1, ETS_PATHS);
		if (out->lower != NULL)
			out->lower[i] = gsl_stats_quantile_from_sorted_data(col, 1, ETS_PATHS,
									  0.5 - level / 2.0);
		if (out->upper != NULL)
			out->upper[i] = gsl_stats_quantile_from_sorted_data(col, 1, ETS_PATHS,
									  0.5 + level / 2.0);
	}
out:
	free(col);
	free(sim);
	return rc;
}

int an_ets_predict(const struct an_ets_model *m, size_t h, double level,
		   struct an_forecast_out *out)
{
	if (m == NULL || m->season == NULL || out == NULL || out->mean == NULL || h == 0 ||
	    !level_ok(level))
		return -EINVAL;
	ets_point(m, h, out->mean);
	if (out->lower == NULL && out->upper == NULL)
		return 0;
	if (m->spec.error == AN_ETS_ERR_A && m->spec.season != AN_ETS_SEAS_M) {
		ets_class1(m, h, z_of_level(level), out);
		return 0;
	}
	return ets_sim_interval(m, h, level == 0.0 ? 0.95 : level, out);
}

/* ================================================================ */
/* The an_forecast.h entry points                                    */
/* ================================================================ */

static int hw_forecast(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out, enum an_hw_season type)
{
	struct an_hw_model m;
	int rc = an_forecast_check(y, n, cfg, out, NULL);

	if (rc < 0)
		return rc;
	rc = an_hw_fit(y, n, cfg->period, cfg->period < 2 ? AN_HW_NONE : type, &m);
	if (rc != 0)
		return rc;
	rc = an_hw_predict(&m, cfg->h, cfg->level, out);
	an_hw_release(&m);
	return rc;
}

/* HoltWinters(seasonal = "additive"); Holt's linear trend when period < 2. */
int an_forecast_hw_add(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	return hw_forecast(y, n, cfg, out, AN_HW_ADD);
}

/* HoltWinters(seasonal = "multiplicative"); Holt's linear trend when period < 2. */
int an_forecast_hw_mul(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	return hw_forecast(y, n, cfg, out, AN_HW_MUL);
}

/* Fits spec (or the automatic choice when spec is NULL) to y[0..n) and
 * predicts cfg->h steps. */
static int ets_forecast(const double *y, size_t n, size_t period, const struct an_ets_spec *spec,
			const struct an_forecast_cfg *cfg, struct an_forecast_out *out)
{
	struct an_ets_model m;
	int rc = spec != NULL ? an_ets_fit(y, n, period, spec, &m) : an_ets_auto(y, n, period, &m);
	if (rc != 0)
		return rc;
	rc = an_ets_predict(&m, cfg->h, cfg->level, out);
	an_ets_release(&m);
	return rc;
}

/* ETS(A,Ad,N) (forecast::holt(damped = TRUE)) on y as it is. */
static int damped_plain(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out)
{
	const struct an_ets_spec spec = { AN_ETS_ERR_A, AN_ETS_TREND_AD, AN_ETS_SEAS_N };

	return ets_forecast(y, n, 1, &spec, cfg, out);
}

/*
 * M4's "Damped" benchmark: ETS(A,Ad,N) on the series seasonally adjusted by
 * an_forecast_seasadj (divided by the classical multiplicative indices when
 * it passes the 90% seasonality test at cfg->period and is positive;
 * forecasts and bounds multiplied back). Needs n >= 10.
 */
int an_forecast_hw_damped(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			  struct an_forecast_out *out)
{
	return an_forecast_seasadj(y, n, cfg, out, damped_plain);
}

/* Automatic ETS by AICc over forecast::ets' default model space. */
int an_forecast_ets(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		    struct an_forecast_out *out)
{
	int rc = an_forecast_check(y, n, cfg, out, NULL);

	if (rc < 0)
		return rc;
	return ets_forecast(y, n, cfg->period, NULL, cfg, out);
}
