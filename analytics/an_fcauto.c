/*
 * an_fcauto.c - automatic selection / combination of forecasters by
 * rolling-origin backtest; the method, defaults and cost are described in
 * an_fcauto.h. Pure numerical code, any thread; scratch (one training copy
 * and the candidates' h-point buffers) is freed before return.
 */
#include "an_fcauto.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEF_ORIGINS 3
#define DEF_TRAIN_PERIODS 10
#define MIN_TRAIN_CAP 200
#define DEF_TOP_K 2
#define WEEK_MIN_PERIOD 24

/* Seasonal naive one week back: a period of 24 or more points is taken as
 * the daily cycle of sub-daily data, so 7 periods make a week (hourly M4
 * series carry strong weekly cycles). Refuses shorter periods. */
static int snaive_week(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       struct an_forecast_out *out)
{
	if (!cfg || cfg->period < WEEK_MIN_PERIOD || cfg->period > n / 7)
		return -EINVAL;
	struct an_forecast_cfg c = *cfg;
	c.period = 7 * cfg->period;
	return an_forecast_snaive(y, n, &c, out);
}

static const struct an_fcauto_model default_models[] = {
	{ "snaive", an_forecast_snaive },
	{ "snaive_week", snaive_week },
	{ "naive2", an_forecast_naive2 },
	{ "theta", an_forecast_theta },
	{ "ets", an_forecast_ets },
	{ "hw_damped", an_forecast_hw_damped },
	{ "arima", an_forecast_arima },
	{ "prophet", an_forecast_prophet },
};

const struct an_fcauto_model *an_fcauto_default_models(size_t *n)
{
	*n = sizeof(default_models) / sizeof(default_models[0]);
	return default_models;
}

void an_fcauto_cfg_init(struct an_fcauto_cfg *ac)
{
	memset(ac, 0, sizeof(*ac));
	ac->models = an_fcauto_default_models(&ac->nmodels);
	ac->origins = DEF_ORIGINS;
	ac->train_periods = DEF_TRAIN_PERIODS;
	ac->metric = AN_FCAUTO_MASE;
	ac->mode = AN_FCAUTO_COMBINE;
	ac->top_k = DEF_TOP_K;
	ac->weighting = AN_FCAUTO_INVERSE_ERROR;
}

/* Scratch: three h-sized arrays for one candidate's forecast. */
struct buf {
	double *mem;
	struct an_forecast_out out;
};

static int buf_init(struct buf *b, size_t h)
{
	b->mem = malloc(3 * h * sizeof(double));
	if (!b->mem)
		return -ENOMEM;
	b->out = (struct an_forecast_out){ b->mem, b->mem + h, b->mem + 2 * h };
	return 0;
}

/* Error of forecast f against actual a over hb points; train x[0..nt) gives
 * the MASE scale (seasonal naive in-sample MAE; lag 1 without a period). */
static double score(enum an_fcauto_metric metric, const double *x, size_t nt, size_t period,
		    const double *a, const double *f, size_t hb)
{
	double e = 0;
	if (metric == AN_FCAUTO_SMAPE) {
		for (size_t k = 0; k < hb; k++) {
			double d = fabs(a[k]) + fabs(f[k]);
			e += d > 0 ? 200 * fabs(a[k] - f[k]) / d : 0;
		}
		return e / (double)hb;
	}
	size_t lag = period > 1 && nt > period ? period : 1;
	double s = 0;
	for (size_t t = lag; t < nt; t++)
		s += fabs(x[t] - x[t - lag]);
	s = nt > lag ? s / (double)(nt - lag) : 0;
	if (!(s > 0))
		s = 1;   /* constant training window: absolute errors */
	for (size_t k = 0; k < hb; k++)
		e += fabs(a[k] - f[k]);
	return e / (double)hb / s;
}

/* Mean backtest score of one candidate over the origins; NAN when it fails
 * at any origin or returns non-finite values. */
static double backtest(const struct an_fcauto_model *m, const double *y, size_t n,
		       const struct an_forecast_cfg *cfg, const struct an_fcauto_cfg *ac,
		       size_t hb, size_t cap, struct buf *b)
{
	struct an_forecast_cfg bc = *cfg;
	bc.h = hb;
	double sum = 0;
	size_t done = 0;
	for (size_t i = 1; i <= ac->origins; i++) {
		if (i * hb >= n)
			break;
		size_t end = n - i * hb;
		size_t start = end > cap ? end - cap : 0;
		if (m->fn(y + start, end - start, &bc, &b->out) < 0)
			return NAN;
		for (size_t k = 0; k < hb; k++)
			if (!isfinite(b->out.mean[k]))
				return NAN;
		sum += score(ac->metric, y + start, end - start, cfg->period, y + end,
			     b->out.mean, hb);
		done++;
	}
	return done ? sum / (double)done : NAN;
}

/* Candidate indices with a finite score, best first (insertion sort, stable). */
static size_t rank(const struct an_fcauto_result *r, size_t *order)
{
	size_t k = 0;
	for (size_t i = 0; i < r->nmodels; i++) {
		if (isnan(r->score[i]))
			continue;
		size_t j = k++;
		while (j > 0 && r->score[order[j - 1]] > r->score[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	return k;
}

static void set_weights(struct an_fcauto_result *r, enum an_fcauto_weighting w)
{
	double tot = 0;
	for (size_t i = 0; i < r->nchosen; i++) {
		double s = r->score[r->chosen[i]];
		r->weight[i] = w == AN_FCAUTO_INVERSE_ERROR ? 1 / fmax(s, 1e-12) : 1;
		tot += r->weight[i];
	}
	for (size_t i = 0; i < r->nchosen; i++)
		r->weight[i] /= tot;
}

/* Refit the chosen candidates on all of y and average them into out; members
 * whose final fit fails are dropped and the weights renormalised. */
static int combine(const struct an_fcauto_model *models, const double *y, size_t n,
		   const struct an_forecast_cfg *cfg, const struct an_fcauto_cfg *ac,
		   struct an_fcauto_result *r, struct an_forecast_out *out, struct buf *b)
{
	size_t h = cfg->h, kept = 0;
	for (size_t i = 0; i < r->nchosen; i++) {
		if (models[r->chosen[i]].fn(y, n, cfg, &b[i].out) < 0)
			continue;
		struct buf t = b[kept];   /* keep members first, buffers swapped along */
		b[kept] = b[i];
		b[i] = t;
		r->chosen[kept++] = r->chosen[i];
	}
	if (kept == 0)
		return -EDOM;
	r->nchosen = kept;
	set_weights(r, ac->weighting);
	for (size_t k = 0; k < h; k++) {
		out->mean[k] = out->lower[k] = out->upper[k] = 0;
		for (size_t i = 0; i < kept; i++) {
			out->mean[k] += r->weight[i] * b[i].out.mean[k];
			out->lower[k] += r->weight[i] * b[i].out.lower[k];
			out->upper[k] += r->weight[i] * b[i].out.upper[k];
		}
	}
	return 0;
}

static int check_args(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      const struct an_fcauto_cfg *ac, const struct an_forecast_out *out)
{
	int rc = an_forecast_check(y, n, cfg, out, NULL);
	if (rc < 0)
		return rc;
	if (!ac || n < 2 || ac->nmodels > AN_FCAUTO_MAX_MODELS ||
	    (ac->models && ac->nmodels == 0) || ac->top_k > AN_FCAUTO_MAX_MODELS)
		return -EINVAL;
	for (size_t i = 0; ac->models && i < ac->nmodels; i++)
		if (!ac->models[i].fn || !ac->models[i].name)
			return -EINVAL;
	return 0;
}

/* Backtest every candidate into r->score and pick r->chosen. */
static int choose(const struct an_fcauto_model *models, size_t nm, const double *y, size_t n,
		  const struct an_forecast_cfg *cfg, const struct an_fcauto_cfg *ac,
		  struct an_fcauto_result *r)
{
	size_t hb = cfg->h < n / 5 ? cfg->h : n / 5;
	size_t period = cfg->period > 1 ? cfg->period : 1;
	size_t cap = ac->train_periods * period;
	if (cap < MIN_TRAIN_CAP)
		cap = MIN_TRAIN_CAP;
	struct buf b;
	if (buf_init(&b, hb ? hb : 1) < 0)
		return -ENOMEM;
	r->nmodels = nm;
	for (size_t i = 0; i < nm; i++) {
		r->name[i] = models[i].name;
		r->score[i] = hb ? backtest(&models[i], y, n, cfg, ac, hb, cap, &b) : NAN;
	}
	free(b.mem);
	size_t order[AN_FCAUTO_MAX_MODELS];
	size_t nok = rank(r, order);
	size_t k = ac->mode == AN_FCAUTO_SELECT ? 1 : ac->top_k;
	r->nchosen = nok < k ? nok : k;
	memcpy(r->chosen, order, r->nchosen * sizeof(order[0]));
	return 0;
}

int an_fcauto_forecast(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		       const struct an_fcauto_cfg *ac, struct an_forecast_out *out,
		       struct an_fcauto_result *res)
{
	int rc = check_args(y, n, cfg, ac, out);
	if (rc < 0)
		return rc;
	struct an_fcauto_cfg c = *ac;
	if (!c.models)
		c.models = an_fcauto_default_models(&c.nmodels);
	c.origins = c.origins ? c.origins : DEF_ORIGINS;
	c.train_periods = c.train_periods ? c.train_periods : DEF_TRAIN_PERIODS;
	c.top_k = c.top_k ? c.top_k : DEF_TOP_K;
	struct an_fcauto_result local, *r = res ? res : &local;
	memset(r, 0, sizeof(*r));
	rc = choose(c.models, c.nmodels, y, n, cfg, &c, r);
	if (rc < 0)
		return rc;
	struct buf b[AN_FCAUTO_MAX_MODELS] = { 0 };
	for (size_t i = 0; i < r->nchosen; i++)
		if (buf_init(&b[i], cfg->h) < 0) {
			rc = -ENOMEM;
			goto out_free;
		}
	rc = r->nchosen ? combine(c.models, y, n, cfg, &c, r, out, b) : -EDOM;
	if (rc == -EDOM) {
		r->nchosen = 0;
		r->fallback = 1;
		rc = an_forecast_naive(y, n, cfg, out);
	}
out_free:
	for (size_t i = 0; i < AN_FCAUTO_MAX_MODELS; i++)
		free(b[i].mem);
	return rc;
}

int an_forecast_auto(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		     struct an_forecast_out *out)
{
	struct an_fcauto_cfg ac;
	an_fcauto_cfg_init(&ac);
	return an_fcauto_forecast(y, n, cfg, &ac, out, NULL);
}
