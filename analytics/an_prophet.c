/*
 * an_prophet.c - the Prophet-style additive forecaster described in
 * an_prophet.h: design matrix (trend hinges, Fourier terms, holiday
 * indicators) over the history and the horizon, MAP fit by penalised least
 * squares (ridge by GSL Cholesky, then coordinate descent for the Laplace
 * prior on the rate changes, alternating with the noise scale), and
 * prediction intervals by simulated future trend changes plus noise.
 *
 * Used by FORECAST ... USING prophet and as a candidate of the automatic
 * selection (an_fcauto.c). Pure numerical code, any thread.
 */
#include "an_prophet.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_vector.h>

#define DEF_CHANGEPOINTS 25
#define DEF_RANGE 0.8
#define DEF_TAU 0.05
#define DEF_SEASON_SCALE 10.0
#define DEF_HOLIDAY_SCALE 10.0
#define DEF_SAMPLES 500
#define DEF_SEED 0x5eed0f0f1e7ULL
#define KM_PRIOR_SCALE 5.0      /* Normal(0, 5) on k and m, as Prophet */
#define SIGMA_ROUNDS 4          /* alternations between coefficients and sigma */
#define CD_MAX_SWEEPS 500
#define CD_TOL 1e-6   /* RMS change of the fitted values per sweep, scaled units */
#define MAX_HOLIDAY_WINDOW 4096
#define WEEKLY_MIN_PERIOD 24    /* a period this long is a daily cycle of sub-daily data */
#define WEEKLY_ORDER 3

void an_prophet_cfg_init(struct an_prophet_cfg *pc, size_t period)
{
	memset(pc, 0, sizeof(*pc));
	pc->n_changepoints = DEF_CHANGEPOINTS;
	pc->changepoint_range = DEF_RANGE;
	pc->changepoint_prior_scale = DEF_TAU;
	pc->seasonality_prior_scale = DEF_SEASON_SCALE;
	pc->holidays_prior_scale = DEF_HOLIDAY_SCALE;
	pc->samples = DEF_SAMPLES;
	pc->seed = DEF_SEED;
	if (period > 1) {
		size_t order = period / 2 < 10 ? period / 2 : 10;
		pc->seasonality[0] = (struct an_prophet_seasonality){ (double)period, order, 0 };
		pc->nseasonality = 1;
	}
}

/* ---- design matrix ---------------------------------------------------- */

/* Rows 0..n-1 are the history, n..n+h-1 the horizon; row-major, p columns.
 * l1[j] > 0 marks a Laplace-prior column (1/tau); ridge[j] is 1/scale^2. */
struct design {
	size_t n, rows, p, ncp;
	double *x;
	double *l1;
	double *ridge;
	double *cp;         /* ncp change points' scaled times */
	double dt;          /* scaled time of one point */
};

static int check_cfg(const struct an_prophet_cfg *pc)
{
	if (!(pc->changepoint_range >= 0 && pc->changepoint_range <= 1) ||
	    !(pc->changepoint_prior_scale >= 0) || !(pc->seasonality_prior_scale >= 0) ||
	    !(pc->holidays_prior_scale >= 0) || pc->nseasonality > AN_PROPHET_MAX_SEASONALITIES ||
	    pc->nholiday > AN_PROPHET_MAX_HOLIDAYS || pc->n_changepoints > 10000)
		return -EINVAL;
	for (size_t i = 0; i < pc->nseasonality; i++) {
		const struct an_prophet_seasonality *s = &pc->seasonality[i];
		if (!(s->period > 1) || s->order == 0 || s->order > 1000 || !(s->prior_scale >= 0))
			return -EINVAL;
	}
	for (size_t i = 0; i < pc->nholiday; i++) {
		const struct an_prophet_holiday *hd = &pc->holiday[i];
		if ((hd->nat && !hd->at) || hd->lower > 0 || hd->upper < 0 ||
		    hd->upper - hd->lower >= MAX_HOLIDAY_WINDOW || !(hd->prior_scale >= 0))
			return -EINVAL;
	}
	return 0;
}

static double or_default(double v, double def)
{
	return v > 0 ? v : def;
}

static size_t count_columns(const struct an_prophet_cfg *pc, size_t ncp)
{
	size_t p = 2 + ncp;
	for (size_t i = 0; i < pc->nseasonality; i++)
		p += 2 * pc->seasonality[i].order;
	for (size_t i = 0; i < pc->nholiday; i++)
		p += (size_t)(pc->holiday[i].upper - pc->holiday[i].lower + 1);
	return p;
}

/* Trend columns: 1, t, (t - s_j)+ at Prophet's change points: indices
 * round(i * (H - 1) / S), i = 1..S, H = floor(range * n). */
static void fill_trend(struct design *d, const struct an_prophet_cfg *pc)
{
	size_t hist = (size_t)floor(or_default(pc->changepoint_range, DEF_RANGE) * (double)d->n);
	double tau = or_default(pc->changepoint_prior_scale, DEF_TAU);
	for (size_t j = 0; j < d->ncp; j++) {
		size_t idx = (size_t)llround((double)(j + 1) * (double)(hist - 1) / (double)d->ncp);
		d->cp[j] = (double)idx * d->dt;
	}
	for (size_t r = 0; r < d->rows; r++) {
		double t = (double)r * d->dt;
		double *row = d->x + r * d->p;
		row[0] = 1;
		row[1] = t;
		for (size_t j = 0; j < d->ncp; j++)
			row[2 + j] = t > d->cp[j] ? t - d->cp[j] : 0;
	}
	d->ridge[0] = d->ridge[1] = 1 / (KM_PRIOR_SCALE * KM_PRIOR_SCALE);
	for (size_t j = 0; j < d->ncp; j++)
		d->l1[2 + j] = 1 / tau;
}

static size_t fill_seasonal(struct design *d, const struct an_prophet_cfg *pc, size_t col)
{
	for (size_t i = 0; i < pc->nseasonality; i++) {
		const struct an_prophet_seasonality *s = &pc->seasonality[i];
		double sc = or_default(s->prior_scale,
				       or_default(pc->seasonality_prior_scale, DEF_SEASON_SCALE));
		for (size_t k = 1; k <= s->order; k++) {
			double w = 2 * M_PI * (double)k / s->period;
			for (size_t r = 0; r < d->rows; r++) {
				d->x[r * d->p + col] = sin(w * (double)r);
				d->x[r * d->p + col + 1] = cos(w * (double)r);
			}
			d->ridge[col] = d->ridge[col + 1] = 1 / (sc * sc);
			col += 2;
		}
	}
	return col;
}

static size_t fill_holidays(struct design *d, const struct an_prophet_cfg *pc, size_t col)
{
	for (size_t i = 0; i < pc->nholiday; i++) {
		const struct an_prophet_holiday *hd = &pc->holiday[i];
		double sc = or_default(hd->prior_scale,
				       or_default(pc->holidays_prior_scale, DEF_HOLIDAY_SCALE));
		for (int o = hd->lower; o <= hd->upper; o++, col++) {
			d->ridge[col] = 1 / (sc * sc);
			for (size_t a = 0; a < hd->nat; a++) {
				long long r = (long long)hd->at[a] + o;
				if (r >= 0 && (size_t)r < d->rows)
					d->x[(size_t)r * d->p + col] = 1;
			}
		}
	}
	return col;
}

static int design_build(struct design *d, size_t n, size_t h, const struct an_prophet_cfg *pc)
{
	size_t hist = (size_t)floor(or_default(pc->changepoint_range, DEF_RANGE) * (double)n);
	d->n = n;
	d->rows = n + h;
	d->ncp = hist >= 2 ? (pc->n_changepoints < hist - 1 ? pc->n_changepoints : hist - 1) : 0;
	d->p = count_columns(pc, d->ncp);
	d->dt = 1.0 / (double)(n - 1);
	d->x = calloc(d->rows * d->p, sizeof(double));
	d->l1 = calloc(d->p, sizeof(double));
	d->ridge = calloc(d->p, sizeof(double));
	d->cp = malloc((d->ncp ? d->ncp : 1) * sizeof(double));
	if (!d->x || !d->l1 || !d->ridge || !d->cp)
		return -ENOMEM;
	fill_trend(d, pc);
	size_t col = fill_seasonal(d, pc, 2 + d->ncp);
	col = fill_holidays(d, pc, col);
	assert(col == d->p);
	return 0;
}

static void design_release(struct design *d)
{
	free(d->x);
	free(d->l1);
	free(d->ridge);
	free(d->cp);
}

/* ---- penalised least squares ------------------------------------------- */

/* Ridge solution of (G + s2 * diag(ridge + l1-as-Gaussian)) b = c, the warm
 * start: the Laplace(0, tau) prior replaced by the Normal of equal variance. */
static int ridge_solve(const struct design *d, const gsl_matrix *g, const gsl_vector *c,
		       double s2, double *b)
{
	size_t p = d->p;
	gsl_matrix *a = gsl_matrix_alloc(p, p);
	if (!a)
		return -ENOMEM;
	gsl_matrix_memcpy(a, g);
	for (size_t j = 0; j < p; j++) {
		double pen = d->ridge[j] + (d->l1[j] > 0 ? d->l1[j] * d->l1[j] / 2 : 0);
		*gsl_matrix_ptr(a, j, j) += s2 * pen + 1e-12;
	}
	gsl_vector_view bv = gsl_vector_view_array(b, p);
	int rc = gsl_linalg_cholesky_decomp1(a);
	if (rc == 0)
		rc = gsl_linalg_cholesky_solve(a, c, &bv.vector);
	gsl_matrix_free(a);
	return rc ? -EDOM : 0;
}

static double soft(double v, double t)
{
	return v > t ? v - t : v < -t ? v + t : 0;
}

/* Coordinate descent on 0.5 b'Gb - c'b + s2 * (sum l1|b| + 0.5 sum ridge b^2),
 * with q = G b kept up to date. Each sweep lowers the objective; the nearly
 * collinear hinge columns make it slow to converge exactly, so it stops when
 * a sweep moves the fit by less than CD_TOL RMS or after CD_MAX_SWEEPS (the
 * forecasts then agree with the exact optimum to ~1e-4 relative). */
static void cd_solve(const struct design *d, const gsl_matrix *g, const gsl_vector *c,
		     double s2, double *b, double *q)
{
	size_t p = d->p;
	for (size_t i = 0; i < p; i++) {
		q[i] = 0;
		for (size_t j = 0; j < p; j++)
			q[i] += gsl_matrix_get(g, i, j) * b[j];
	}
	for (int sweep = 0; sweep < CD_MAX_SWEEPS; sweep++) {
		double maxstep = 0;
		for (size_t j = 0; j < p; j++) {
			double gjj = gsl_matrix_get(g, j, j);
			double den = gjj + s2 * d->ridge[j];
			if (den <= 0)
				continue;
			double r = gsl_vector_get(c, j) - q[j] + gjj * b[j];
			double nb = soft(r, s2 * d->l1[j]) / den;
			double step = nb - b[j];
			if (step == 0)
				continue;
			const double *gcol = gsl_matrix_const_ptr(g, j, 0); /* symmetric: row = column */
			for (size_t i = 0; i < p; i++)
				q[i] += gcol[i] * step;
			b[j] = nb;
			if (fabs(step) * sqrt(gjj) > maxstep)
				maxstep = fabs(step) * sqrt(gjj);
		}
		if (maxstep < CD_TOL * sqrt((double)d->n))
			break;
	}
}

static double rss(const struct design *d, const double *ys, const double *b)
{
	double s = 0;
	for (size_t r = 0; r < d->n; r++) {
		double f = 0;
		for (size_t j = 0; j < d->p; j++)
			f += d->x[r * d->p + j] * b[j];
		s += (ys[r] - f) * (ys[r] - f);
	}
	return s;
}

/* MAP coefficients b (p entries) of the scaled series ys; *sigma out. */
static int fit_map(const struct design *d, const double *ys, double *b, double *sigma)
{
	size_t p = d->p, n = d->n;
	int rc = -ENOMEM;
	gsl_matrix *g = gsl_matrix_alloc(p, p);
	gsl_vector *c = gsl_vector_alloc(p);
	double *q = malloc(p * sizeof(*q));
	if (!g || !c || !q)
		goto out_free;
	gsl_matrix_const_view xv = gsl_matrix_const_view_array(d->x, n, p);
	gsl_vector_const_view yv = gsl_vector_const_view_array(ys, n);
	gsl_blas_dsyrk(CblasUpper, CblasTrans, 1.0, &xv.matrix, 0.0, g);
	for (size_t i = 0; i < p; i++)
		for (size_t j = 0; j < i; j++)
			gsl_matrix_set(g, i, j, gsl_matrix_get(g, j, i));
	gsl_blas_dgemv(CblasTrans, 1.0, &xv.matrix, &yv.vector, 0.0, c);
	double s2 = gsl_stats_variance(ys, 1, n) + 1e-12;
	rc = ridge_solve(d, g, c, s2, b);
	if (rc < 0)
		goto out_free;
	for (int round = 0; round < SIGMA_ROUNDS; round++) {
		cd_solve(d, g, c, s2, b, q);
		s2 = rss(d, ys, b) / (double)n + 1e-12;
	}
	*sigma = sqrt(s2);
out_free:
	free(q);
	gsl_vector_free(c);
	gsl_matrix_free(g);
	return rc;
}

/* ---- intervals --------------------------------------------------------- */

/* Sample paths: future rate changes at the historical change-point frequency,
 * Laplace(0, mean|delta|) in size, plus Normal(0, sigma) noise; bounds are
 * the sample quantiles around the deterministic forecast yhat (scaled). */
static int simulate(const struct design *d, const double *b, double sigma, const double *yhat,
		    size_t h, double level, const struct an_prophet_cfg *pc, double *lo, double *up)
{
	size_t ns = pc->samples ? pc->samples : DEF_SAMPLES;
	double *s = malloc(ns * h * sizeof(*s));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!s || !rng) {
		free(s);
		gsl_rng_free(rng);
		return -ENOMEM;
	}
	gsl_rng_set(rng, (unsigned long)(pc->seed ? pc->seed : DEF_SEED));
	double lambda = 1e-8, pchange = d->ncp ? (double)d->ncp * d->dt : 0;
	for (size_t j = 0; j < d->ncp; j++)
		lambda += fabs(b[2 + j]) / (double)d->ncp;
	if (pchange > 1)
		pchange = 1;
	for (size_t i = 0; i < ns; i++) {
		double rate = 0, extra = 0;
		for (size_t k = 0; k < h; k++) {
			if (pchange > 0 && gsl_rng_uniform(rng) < pchange)
				rate += gsl_ran_laplace(rng, lambda);
			extra += rate * d->dt;
			s[k * ns + i] = yhat[k] + extra + gsl_ran_gaussian(rng, sigma);
		}
	}
	for (size_t k = 0; k < h; k++) {
		gsl_sort(s + k * ns, 1, ns);
		lo[k] = gsl_stats_quantile_from_sorted_data(s + k * ns, 1, ns, (1 - level) / 2);
		up[k] = gsl_stats_quantile_from_sorted_data(s + k * ns, 1, ns, (1 + level) / 2);
	}
	gsl_rng_free(rng);
	free(s);
	return 0;
}

/* ---- entry points ------------------------------------------------------ */

static int check_args(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      const struct an_prophet_cfg *pc, const struct an_forecast_out *out)
{
	int rc = an_forecast_check(y, n, cfg, out, NULL);
	if (rc < 0)
		return rc;
	if (!pc || n < 3 || cfg->h > (size_t)1 << 24 || n > (size_t)1 << 26)
		return -EINVAL;
	return check_cfg(pc);
}

static void constant_forecast(double v, size_t h, struct an_forecast_out *out,
			      struct an_prophet_fit *fit)
{
	for (size_t k = 0; k < h; k++)
		out->mean[k] = out->lower[k] = out->upper[k] = v;
	if (fit)
		*fit = (struct an_prophet_fit){ .m = v };
}

int an_prophet_forecast(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			const struct an_prophet_cfg *pc, struct an_forecast_out *out,
			struct an_prophet_fit *fit)
{
	int rc = check_args(y, n, cfg, pc, out);
	if (rc < 0)
		return rc;
	size_t h = cfg->h;
	double level = cfg->level == 0 ? 0.95 : cfg->level;
	double scale = 0, mn = y[0], mx = y[0];
	for (size_t i = 0; i < n; i++) {
		scale = fmax(scale, fabs(y[i]));
		mn = fmin(mn, y[i]);
		mx = fmax(mx, y[i]);
	}
	if (mx == mn) {
		constant_forecast(y[0], h, out, fit);
		return 0;
	}
	struct design d = { 0 };
	double *ys = malloc(n * sizeof(*ys));
	double *b = NULL, sigma = 0;
	rc = -ENOMEM;
	if (!ys)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		ys[i] = y[i] / scale;
	rc = design_build(&d, n, h, pc);
	if (rc < 0)
		goto out_free;
	b = calloc(d.p, sizeof(*b));
	rc = -ENOMEM;
	if (!b)
		goto out_free;
	rc = fit_map(&d, ys, b, &sigma);
	if (rc < 0)
		goto out_free;
	for (size_t k = 0; k < h; k++) {
		const double *row = d.x + (n + k) * d.p;
		double f = 0;
		for (size_t j = 0; j < d.p; j++)
			f += row[j] * b[j];
		out->mean[k] = f;
	}
	rc = simulate(&d, b, sigma, out->mean, h, level, pc, out->lower, out->upper);
	if (rc < 0)
		goto out_free;
	for (size_t k = 0; k < h; k++) {
		out->mean[k] *= scale;
		out->lower[k] *= scale;
		out->upper[k] *= scale;
	}
	if (fit) {
		double rate = b[1];
		for (size_t j = 0; j < d.ncp; j++)
			rate += b[2 + j];
		*fit = (struct an_prophet_fit){ .k = b[1] * scale * d.dt, .m = b[0] * scale,
			.final_rate = rate * scale * d.dt, .sigma = sigma * scale,
			.n_changepoints = d.ncp };
	}
out_free:
	free(b);
	design_release(&d);
	free(ys);
	return rc;
}

int an_forecast_prophet(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out)
{
	if (!cfg)
		return -EINVAL;
	struct an_prophet_cfg pc;
	an_prophet_cfg_init(&pc, cfg->period);
	if (cfg->period >= WEEKLY_MIN_PERIOD && cfg->period <= n / 14) {
		pc.seasonality[1] = (struct an_prophet_seasonality){ 7.0 * (double)cfg->period,
								     WEEKLY_ORDER, 0 };
		pc.nseasonality = 2;
	}
	return an_prophet_forecast(y, n, cfg, &pc, out, NULL);
}
