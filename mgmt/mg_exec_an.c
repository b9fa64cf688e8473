/*
 * mg_exec_an.c - the analytics statements and functions of TSQL:
 *
 *   FORECAST <field> FROM ... [WHERE] [GROUP BY] [fill()] USING <model>
 *     FOR <duration> [WITH INTERVAL <pct>]
 *   DETECT ANOMALIES IN <field> FROM ... [WHERE] [GROUP BY] [fill()]
 *     [USING <method>] [SENSITIVITY <s>]
 *   SELECT anomaly_score(x, 'm') | forecast(x, 'm', <dur>[, pct]) |
 *          changepoints(x[, 'm']) | correlate(a, b[, maxlag]) |
 *          causality(a, b[, lag]) | spectrum(x[, k]) | motifs(x, len[, k])
 *
 * Each runs in two steps. First an inner SELECT of the series to analyse
 * (the field or the call's series arguments, with the statement's FROM,
 * WHERE, GROUP BY and fill) through the ordinary executor into a scratch
 * result: so every source, condition, aggregate and guardrail works as in
 * a SELECT. Then, per output series of it, the values go through
 * analytics/ (pure numerical code over arrays) and the answer comes back
 * as an ordinary series, so InfluxDB clients and Grafana draw it:
 *   forecasts:  time (future), forecast, lower, upper
 *   DETECT:     the flagged points: time, value, score
 *   anomaly_score(): every point's score
 * The analysis assumes equally spaced points: the step is the GROUP BY
 * time() interval, else the median gap; null cells (fill(null) buckets)
 * are interpolated linearly for the analysis and get no output row.
 *
 * Usage profile: a management thread per query; series of 10^2..10^6
 * points. Work per series is what the method costs (see analytics/), so
 * the expensive ones are capped (AN_MAX_POINTS, the matrix profile's
 * AN_MOTIF_MAX_POINTS, the forecasters' history AN_FC_HISTORY) with a
 * clear error or by using the newest points; the guardrails (time, kill)
 * are checked between series.
 */
#include "mg_exec.h"
#include "mg_exec_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_detect.h"
#include "an_forecast.h"
#include "an_method.h"
#include "an_arima.h"
#include "an_changept.h"
#include "an_ets.h"
#include "an_mprofile.h"
#include "an_relate.h"
#include "an_spectral.h"
#include "cm_clock.h"
#include "cm_compiler.h"

#define AN_MAX_POINTS 2000000u        /* per series, any method */
#define AN_MOTIF_MAX_POINTS 50000u    /* the matrix profile is O(n^2) */
#define AN_FC_HISTORY 5000u           /* forecasters fit the newest points */
#define AN_FC_MAX_STEPS 100000u       /* FOR / step */
#define AN_PARAMS_MAX 16
#define AN_MAX_WORK 2e9               /* causality's n p^2 and correlate's n L, per series */
#define AN_SPECTRUM_K 5
#define AN_MOTIFS_K 3

/* ------------------------------------------------------------ method arguments */

/* A method as written: name and key = literal parameters (mg_tsql.h). */
struct an_args {
	const char *name;
	const char *key[AN_PARAMS_MAX];
	const struct mg_expr *val[AN_PARAMS_MAX];
	bool used[AN_PARAMS_MAX];
	uint32_t n;
	int64_t step_ns;               /* to turn duration parameters into points; -1: a check
					  before any series (a duration reads as 1 point); 0: none
					  allowed */
};

struct an_ctx {
	struct mg_exec_ctx *cx;
	char err[256];
	int64_t deadline_ns;
	uint64_t rows_out;             /* forecast rows so far, against mgmt.query_max_buckets */
};

static int an_fail(struct an_ctx *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int an_fail(struct an_ctx *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int args_from_expr(struct an_ctx *a, const struct mg_expr *m, struct an_args *out)
{
	memset(out, 0, sizeof(*out));
	out->name = m->s;
	if (m->kind != MG_EX_CALL)
		return 0;
	if (m->nargs > AN_PARAMS_MAX)
		return an_fail(a, "%s: at most %d parameters", m->s, AN_PARAMS_MAX);
	for (uint32_t i = 0; i < m->nargs; i++) {
		out->key[i] = m->args[i]->lhs->s;
		out->val[i] = m->args[i]->rhs;
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(out->key[k], out->key[i]))
				return an_fail(a, "%s: parameter \"%s\" given twice", m->s,
					       out->key[i]);
	}
	out->n = m->nargs;
	return 0;
}

/* The value of key as a number (durations in points of step_ns); false if absent. */
static int arg_num(struct an_ctx *a, struct an_args *m, const char *key, double *out,
		   bool *found)
{
	*found = false;
	for (uint32_t i = 0; i < m->n; i++) {
		if (strcmp(m->key[i], key))
			continue;
		const struct mg_expr *v = m->val[i];
		m->used[i] = true;
		*found = true;
		if (v->kind == MG_EX_INT)
			*out = (double)v->i;
		else if (v->kind == MG_EX_FLOAT)
			*out = v->f;
		else if (v->kind == MG_EX_BOOL)
			*out = v->b;
		else if (v->kind == MG_EX_DURATION && m->step_ns != 0)
			*out = m->step_ns > 0 ? (double)v->i / (double)m->step_ns : 1.0;
		else
			return an_fail(a, "%s: parameter \"%s\" must be a number", m->name, key);
		return 0;
	}
	return 0;
}

/* A count parameter (>= 0) into *out, kept when absent. */
static int arg_size(struct an_ctx *a, struct an_args *m, const char *key, size_t *out)
{
	double v = 0;
	bool found;
	int rc = arg_num(a, m, key, &v, &found);
	if (rc || !found)
		return rc;
	if (!(v >= 0 && v <= 1e9))
		return an_fail(a, "%s: parameter \"%s\" out of range", m->name, key);
	*out = (size_t)llround(v);
	return 0;
}

static int arg_double(struct an_ctx *a, struct an_args *m, const char *key, double *out)
{
	bool found;
	double v = 0;
	int rc = arg_num(a, m, key, &v, &found);
	if (rc == 0 && found)
		*out = v;
	return rc;
}

/* Every parameter was read by someone: else "unknown parameter". */
static int args_done(struct an_ctx *a, const struct an_args *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (!m->used[i])
			return an_fail(a, "%s: unknown parameter \"%s\"", m->name, m->key[i]);
	return 0;
}

/* A method given as a string ('mad' or 'mad(window = 30)'), parsed as a USING clause. */
static int args_from_string(struct an_ctx *a, const char *s, struct mg_tsql **keep,
			    struct an_args *out)
{
	const struct mg_expr *m;
	struct mg_tsql_error e;
	int rc = mg_tsql_parse_method(s, strlen(s), keep, &m, &e);
	if (rc == -EINVAL)
		return an_fail(a, "bad method '%s': %s", s, e.msg);
	return rc ? rc : args_from_expr(a, m, out);
}

/* ------------------------------------------------------------ the series */

/* One output series of the inner SELECT, as arrays. */
struct an_series {
	const struct mg_series *se;    /* name and tags (the scratch result's) */
	size_t n;
	int64_t *ts;
	double *v[2];                  /* one or two value columns, gaps interpolated */
	uint8_t *valid;                /* the first column had a value here */
	int64_t step_ns;
};

static void series_release(struct an_series *s)
{
	free(s->ts);
	free(s->v[0]);
	free(s->v[1]);
	free(s->valid);
	memset(s, 0, sizeof(*s));
}

/* A cell as a number; NaN for null and strings. */
static double cell_value(const struct mg_cell *c)
{
	switch (c->type) {
	case MG_CELL_F64: return c->f;
	case MG_CELL_I64: return (double)c->i;
	case MG_CELL_U64: return (double)c->u;
	case MG_CELL_BOOL: return c->b;
	default: return NAN;
	}
}

/* Fill NaN gaps linearly; the ends take the nearest value. false if all are NaN. */
static bool fill_gaps(double *v, size_t n)
{
	size_t first = 0;
	while (first < n && isnan(v[first]))
		first++;
	if (first == n)
		return false;
	for (size_t i = 0; i < first; i++)
		v[i] = v[first];
	size_t last = first;
	for (size_t i = first + 1; i < n; i++) {
		if (isnan(v[i]))
			continue;
		for (size_t j = last + 1; j < i; j++)
			v[j] = v[last] + (v[i] - v[last]) * (double)(j - last) / (double)(i - last);
		last = i;
	}
	for (size_t i = last + 1; i < n; i++)
		v[i] = v[last];
	return true;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* The GROUP BY interval, or the median gap between points (1 s for one point). */
static int64_t series_step(const struct mg_select *sel, const int64_t *ts, size_t n)
{
	if (sel->group_time)
		return sel->group_interval_ns;
	if (n < 2)
		return CM_NS_PER_SEC;
	int64_t *d = malloc((n - 1) * sizeof(*d));
	if (!d)
		return 0;
	for (size_t i = 1; i < n; i++)
		d[i - 1] = ts[i] - ts[i - 1];
	qsort(d, n - 1, sizeof(*d), cmp_i64);
	int64_t step = d[(n - 1) / 2];
	free(d);
	return step > 0 ? step : 1;
}

static int series_load(struct an_ctx *a, const struct mg_select *sel, const struct mg_series *se,
		       uint32_t ncols, struct an_series *out)
{
	memset(out, 0, sizeof(*out));
	assert(se->ncols == ncols + 1); /* an_run checks */
	out->se = se;
	if (se->nrows > AN_MAX_POINTS)
		return an_fail(a, "analytics take at most %u points per series (got %" PRIu64 "); "
			       "aggregate with GROUP BY time()", AN_MAX_POINTS, se->nrows);
	size_t n = (size_t)se->nrows;
	out->n = n;
	out->ts = malloc((n + 1) * sizeof(*out->ts));
	out->valid = calloc(n + 1, 1);
	for (uint32_t c = 0; c < ncols; c++)
		out->v[c] = malloc((n + 1) * sizeof(double));
	if (!out->ts || !out->valid || !out->v[0] || (ncols > 1 && !out->v[1]))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct mg_cell *row = &se->cells[i * se->ncols];
		out->ts[i] = row[0].i;
		for (uint32_t c = 0; c < ncols; c++) {
			double x = cell_value(&row[c + 1]);
			out->v[c][i] = isfinite(x) ? x : NAN;
			if (c == 0)
				out->valid[i] = isfinite(x);
		}
	}
	for (uint32_t c = 0; c < ncols; c++)
		if (!fill_gaps(out->v[c], n))
			out->n = 0; /* nothing to analyse: no output rows */
	out->step_ns = series_step(sel, out->ts, n);
	return out->step_ns > 0 ? 0 : -ENOMEM;
}

/*
 * Run sel with fields exprs[0..nexprs) instead of its own (no ORDER BY DESC,
 * LIMIT, OFFSET, INTO: the analysis wants every point, oldest first) into a
 * scratch result; *out is owned by the caller, its statement is stmts[0].
 */
static int run_inner(struct an_ctx *a, const struct mg_select *sel,
		     const struct mg_expr *const *exprs, uint32_t nexprs, struct mg_result **out)
{
	struct mg_field f[2] = {{0}};
	struct mg_select in = *sel;
	assert(nexprs >= 1 && nexprs <= 2);
	for (uint32_t i = 0; i < nexprs; i++)
		f[i].expr = (struct mg_expr *)exprs[i];
	in.fields = f;
	in.nfields = nexprs;
	in.order_desc = false;
	in.limit = in.offset = 0;
	in.into = NULL;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *sr = r ? mg_result_add_stmt(r, 0) : NULL;
	int rc = sr ? qx_select(a->cx, &in, r, sr) : -ENOMEM;
	if (rc == 0 && sr->error) {
		snprintf(a->err, sizeof(a->err), "%s", sr->error);
		rc = -EINVAL;
	}
	if (rc) {
		mg_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Guardrails between series: the statement's deadline and KILL QUERY. */
static int an_check(struct an_ctx *a)
{
	if (a->cx->killed && atomic_load_explicit(a->cx->killed, memory_order_relaxed))
		return an_fail(a, "query killed");
	if (a->deadline_ns && cm_now_ns() > a->deadline_ns)
		return an_fail(a, "query timeout");
	return 0;
}

/* ------------------------------------------------------------ output */

static struct mg_series *out_series(struct mg_result *r, struct mg_stmt_result *sr,
				    const struct mg_series *like, const char *const *cols,
				    uint32_t ncols)
{
	return mg_result_add_series(r, sr, like->name, like->tags, like->ntags, cols, ncols);
}

static struct mg_cell cell_f(double x)
{
	return isfinite(x) ? (struct mg_cell){.type = MG_CELL_F64, .f = x}
			   : (struct mg_cell){.type = MG_CELL_NULL};
}

static struct mg_cell cell_t(int64_t ns)
{
	return (struct mg_cell){.type = MG_CELL_TIME, .i = ns};
}

/* ------------------------------------------------------------ detection */

/* The detector and its configuration from a method (NULL: auto) and SENSITIVITY. */
static int detect_setup(struct an_ctx *a, struct an_args *m, double sensitivity,
			const struct an_detector_info **det, struct an_detect_cfg *cfg)
{
	*det = an_detector_lookup(m->name);
	if (!*det) {
		char names[256];
		an_method_names(false, names, sizeof(names));
		return an_fail(a, "unknown detector \"%s\" (known: %s)", m->name, names);
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->sensitivity = sensitivity;
	int rc = arg_size(a, m, "window", &cfg->window);
	if (rc == 0)
		rc = arg_double(a, m, "threshold", &cfg->threshold);
	if (rc == 0)
		rc = arg_double(a, m, "sensitivity", &cfg->sensitivity);
	if (rc == 0)
		rc = arg_size(a, m, "period", &cfg->period);
	if (rc == 0)
		rc = arg_double(a, m, "max_anoms", &cfg->max_anoms);
	if (rc == 0)
		rc = arg_double(a, m, "alpha", &cfg->alpha);
	double seed = 0;
	if (rc == 0)
		rc = arg_double(a, m, "seed", &seed);
	if (rc == 0 && !(seed >= 0 && seed < 1.8e19))
		rc = an_fail(a, "%s: seed must be in [0, 2^64)", m->name);
	cfg->seed = rc == 0 && seed > 0 ? (uint64_t)seed : 0;
	if (rc == 0 && !(cfg->sensitivity >= 0 && cfg->sensitivity <= 1))
		rc = an_fail(a, "%s: sensitivity must be in (0, 1]", m->name);
	return rc ? rc : args_done(a, m);
}

int mg_exec_detect_cfg(const struct mg_expr *method, double sensitivity,
		       const struct an_detector_info **det, struct an_detect_cfg *cfg, char *err,
		       size_t errlen)
{
	struct an_ctx a = {0};
	struct an_args m = {.name = "auto", .step_ns = 0};
	int rc = method ? args_from_expr(&a, method, &m) : 0;
	if (rc == 0)
		rc = detect_setup(&a, &m, sensitivity, det, cfg);
	if (rc)
		snprintf(err, errlen, "%s", a.err);
	return rc;
}

static int detect_run(struct an_ctx *a, const struct an_detector_info *det,
		      const struct an_detect_cfg *cfg, const struct an_series *s, double *score,
		      uint8_t *flag)
{
	int rc = det->fn(s->v[0], s->n, cfg, score, flag);
	if (rc == -EINVAL)
		return an_fail(a, "%s: bad parameters or too few points (%zu) for the method",
			       det->name, s->n);
	return rc;
}

/* DETECT: the flagged points (time, value, score); scores: every point's score. */
static int detect_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
		       const struct an_detector_info *det, const struct an_detect_cfg *cfg,
		       const struct an_series *s, const char *score_col, bool flagged_only)
{
	double *score = malloc(s->n * sizeof(*score) + 1);
	uint8_t *flag = malloc(s->n + 1);
	int rc = score && flag ? detect_run(a, det, cfg, s, score, flag) : -ENOMEM;
	static const char *const dcols[] = {"time", "value", "score"};
	const char *scols[] = {"time", score_col};
	uint32_t ncols = flagged_only ? 3 : 2;
	size_t nrows = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++)
		nrows += s->valid[i] && (!flagged_only || flag[i]);
	struct mg_series *o = NULL;
	if (rc == 0)
		o = out_series(r, sr, s->se, flagged_only ? dcols : scols, ncols);
	struct mg_cell *dst = o && nrows ? mg_result_add_rows(r, o, nrows) : NULL;
	if (rc == 0 && (!o || (nrows && !dst)))
		rc = -ENOMEM;
	for (size_t i = 0; i < s->n && dst; i++) {
		if (!s->valid[i] || (flagged_only && !flag[i]))
			continue;
		dst[0] = cell_t(s->ts[i]);
		dst[ncols - 1] = cell_f(score[i]);
		if (flagged_only)
			dst[1] = cell_f(s->v[0][i]);
		dst += ncols;
	}
	free(score);
	free(flag);
	return rc;
}

/* ------------------------------------------------------------ forecasting */

/* A model's own parameters, past what an_forecast_fn takes. */
struct fc_params {
	bool arima_orders;             /* arima(p = .., d = .., q = .., P = .., D = .., Q = ..) */
	struct an_arima_spec arima;
	bool ets_model;                /* ets(model = 'AAdA'): error, trend, season */
	struct an_ets_spec ets;
};

/* A string parameter (NULL when absent). */
static int arg_str(struct an_ctx *a, struct an_args *m, const char *key, const char **out)
{
	*out = NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		if (strcmp(m->key[i], key))
			continue;
		m->used[i] = true;
		if (m->val[i]->kind != MG_EX_STRING)
			return an_fail(a, "%s: parameter \"%s\" must be a string", m->name, key);
		*out = m->val[i]->s;
	}
	return 0;
}

/* ARIMA orders: any of p, d, q, P, D, Q fixes the model (the others 0). */
static int arima_params(struct an_ctx *a, struct an_args *m, struct fc_params *fp)
{
	static const char *const keys[6] = {"p", "d", "q", "P", "D", "Q"};
	double v[6] = {0};
	bool any = false;
	for (int i = 0; i < 6; i++) {
		bool found;
		int rc = arg_num(a, m, keys[i], &v[i], &found);
		if (rc)
			return rc;
		any |= found;
		if (!(v[i] >= 0 && v[i] <= 5) || v[i] != floor(v[i]))
			return an_fail(a, "arima: order %s = %g: a whole number, not above 5",
				       keys[i], v[i]);
	}
	double c = 0;
	int rc = arg_double(a, m, "constant", &c);
	fp->arima_orders = any;
	fp->arima = (struct an_arima_spec){
		.p = (unsigned)v[0], .d = (unsigned)v[1], .q = (unsigned)v[2],
		.P = (unsigned)v[3], .D = (unsigned)v[4], .Q = (unsigned)v[5],
		.include_constant = c != 0,
	};
	return rc;
}

/* ETS model letters: error A|M, trend N|A|Ad, season N|A|M ("ANN", "AAdA", "MAM"). */
static int ets_params(struct an_ctx *a, struct an_args *m, struct fc_params *fp)
{
	const char *s;
	int rc = arg_str(a, m, "model", &s);
	if (rc || !s)
		return rc;
	size_t len = strlen(s);
	if (len < 3 || len > 4)
		return an_fail(a, "ets: model '%s' is not E T S with E in A M, T in N A Ad, "
			       "S in N A M", s);
	const char *t = s + 1;
	bool damped = t[0] == 'A' && t[1] == 'd';
	const char *season = t + (damped ? 2 : 1);
	if ((s[0] != 'A' && s[0] != 'M') || (t[0] != 'N' && t[0] != 'A') ||
	    (*season != 'N' && *season != 'A' && *season != 'M') || season[1])
		return an_fail(a, "ets: model '%s' is not E T S with E in A M, T in N A Ad, "
			       "S in N A M", s);
	fp->ets_model = true;
	fp->ets.error = s[0] == 'A' ? AN_ETS_ERR_A : AN_ETS_ERR_M;
	fp->ets.trend = t[0] == 'N' ? AN_ETS_TREND_N : damped ? AN_ETS_TREND_AD : AN_ETS_TREND_A;
	fp->ets.season = *season == 'N' ? AN_ETS_SEAS_N : *season == 'A' ? AN_ETS_SEAS_A
									 : AN_ETS_SEAS_M;
	return 0;
}

static int forecast_setup(struct an_ctx *a, struct an_args *m,
			  const struct an_forecaster_info **fc, struct an_forecast_cfg *cfg,
			  struct fc_params *fp)
{
	*fc = an_forecaster_lookup(m->name);
	memset(fp, 0, sizeof(*fp));
	if (!*fc) {
		char names[256];
		an_method_names(true, names, sizeof(names));
		return an_fail(a, "unknown model \"%s\" (known: %s)", m->name, names);
	}
	int rc = arg_size(a, m, "period", &cfg->period);
	if (rc == 0 && !strcmp(m->name, "arima"))
		rc = arima_params(a, m, fp);
	if (rc == 0 && !strcmp(m->name, "ets"))
		rc = ets_params(a, m, fp);
	return rc ? rc : args_done(a, m);
}

/* The model with its own parameters when given, else its automatic form. */
static int forecast_run(const struct an_forecaster_info *fc, const struct fc_params *fp,
			const double *y, size_t n, const struct an_forecast_cfg *cfg,
			struct an_forecast_out *out)
{
	int rc;
	if (fp->arima_orders) {
		struct an_arima *m = NULL;
		struct an_arima_spec spec = fp->arima;
		spec.m = (unsigned)(cfg->period > 1 ? cfg->period : 0);
		if (spec.m == 0)
			spec.P = spec.D = spec.Q = 0;
		rc = an_arima_fit(y, n, &spec, &m);
		if (rc == 0)
			rc = an_arima_forecast(m, cfg->h, cfg->level, out->mean, out->lower, out->upper);
		an_arima_destroy(m);
		return rc;
	}
	if (fp->ets_model) {
		struct an_ets_model m;
		rc = an_ets_fit(y, n, cfg->period > 1 ? cfg->period : 1, &fp->ets, &m);
		if (rc == 0) {
			rc = an_ets_predict(&m, cfg->h, cfg->level, out);
			an_ets_release(&m);
		}
		return rc;
	}
	return fc->fn(y, n, cfg, out);
}

/* Forecast s for horizon_ns past its last point: time, forecast, lower, upper. */
static int forecast_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
			 const struct an_forecaster_info *fc, const struct fc_params *fp,
			 struct an_forecast_cfg cfg, int64_t horizon_ns, const struct an_series *s)
{
	static const char *const cols[] = {"time", "forecast", "lower", "upper"};
	assert(horizon_ns > 0 && s->step_ns > 0);
	int64_t steps = horizon_ns / s->step_ns + (horizon_ns % s->step_ns != 0);
	int64_t last = s->ts[s->n - 1], end;
	if (steps > AN_FC_MAX_STEPS || __builtin_mul_overflow(steps, s->step_ns, &end) ||
	    __builtin_add_overflow(last, end, &end))
		return an_fail(a, "FOR %" PRId64 " ns is %" PRId64 " steps of the series' %" PRId64
			       " ns: at most %u, ending before the year 2262", horizon_ns, steps,
			       s->step_ns, AN_FC_MAX_STEPS);
	uint64_t max_rows = a->cx->limits.max_buckets;
	if (max_rows && a->rows_out + (uint64_t)steps > max_rows)
		return an_fail(a, "forecasts would exceed %" PRIu64 " rows "
			       "(mgmt.query_max_buckets)", max_rows);
	a->rows_out += (uint64_t)steps;
	size_t h = (size_t)steps, from = s->n > AN_FC_HISTORY ? s->n - AN_FC_HISTORY : 0;
	cfg.h = h;
	if (cfg.period == 0) /* the dominant period, if the series has one */
		cfg.period = an_detect_period(s->v[0] + from, s->n - from, (s->n - from) / 3);
	double *buf = malloc(3 * h * sizeof(double));
	struct an_forecast_out out = {buf, buf + h, buf + 2 * h};
	int rc = buf ? forecast_run(fc, fp, s->v[0] + from, s->n - from, &cfg, &out) : -ENOMEM;
	if (rc == -EINVAL || rc == -EDOM)
		rc = an_fail(a, "%s: %s (%zu points, period %zu)", fc->name,
			     rc == -EINVAL ? "too few points or bad parameters" : "the fit failed",
			     s->n - from, cfg.period);
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, 4) : NULL;
	struct mg_cell *dst = o ? mg_result_add_rows(r, o, h) : NULL;
	if (rc == 0 && !dst)
		rc = -ENOMEM;
	for (size_t i = 0; i < h && dst; i++, dst += 4) {
		dst[0] = cell_t(last + (int64_t)(i + 1) * s->step_ns); /* checked above */
		dst[1] = cell_f(out.mean[i]);
		dst[2] = cell_f(out.lower[i]);
		dst[3] = cell_f(out.upper[i]);
	}
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ relationships */

/* changepoints('pelt' | 'cusum'): the detector and its threshold and window. */
static int changepoints_setup(struct an_ctx *a, struct an_args *m,
			      const struct an_detector_info **det, struct an_detect_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (strcmp(m->name, "pelt") && strcmp(m->name, "cusum"))
		return an_fail(a, "changepoints: unknown method \"%s\" (known: pelt, cusum)",
			       m->name);
	*det = an_detector_lookup(m->name);
	int rc = arg_double(a, m, "threshold", &cfg->threshold);
	if (rc == 0)
		rc = arg_size(a, m, "window", &cfg->window);
	return rc ? rc : args_done(a, m);
}

/* changepoints(): time, mean_before, mean_after at each change point (a flag of the method). */
static int changepoints_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
			     const struct an_detector_info *det, const struct an_detect_cfg *cfg,
			     const struct an_series *s)
{
	static const char *const cols[] = {"time", "mean_before", "mean_after"};
	size_t *cps = malloc((s->n + 1) * sizeof(*cps)), ncps = 0;
	uint8_t *flag = malloc(s->n + 1);
	double *score = malloc((s->n + 1) * sizeof(*score));
	int rc = cps && flag && score ? det->fn(s->v[0], s->n, cfg, score, flag) : -ENOMEM;
	if (rc == -EINVAL)
		rc = an_fail(a, "changepoints: bad parameters or too few points (%zu)", s->n);
	for (size_t i = 1; i < s->n && rc == 0; i++)
		if (flag[i])
			cps[ncps++] = i;
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, 3) : NULL;
	if (rc == 0 && !o)
		rc = -ENOMEM;
	for (size_t k = 0; k < ncps && rc == 0; k++) {
		size_t lo = k ? cps[k - 1] : 0, c = cps[k], hi = k + 1 < ncps ? cps[k + 1] : s->n;
		double b = 0, f = 0;
		for (size_t i = lo; i < c; i++)
			b += s->v[0][i];
		for (size_t i = c; i < hi; i++)
			f += s->v[0][i];
		struct mg_cell row[3] = {cell_t(s->ts[c]), cell_f(b / (double)(c - lo)),
					 cell_f(f / (double)(hi - c))};
		rc = mg_result_add_row(r, o, row);
	}
	free(cps);
	free(flag);
	free(score);
	return rc;
}

/* correlate(a, b[, maxlag]): one row at the first point. */
static int correlate_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
			  const struct an_series *s, int64_t maxlag)
{
	static const char *const cols[] = {"time", "pearson", "pearson_p", "spearman",
					   "spearman_p", "n", "lag", "lag_r"};
	struct an_corr c;
	int rc = an_correlate(s->v[0], s->v[1], s->n, &c);
	if (rc == -EINVAL)
		return an_fail(a, "correlate: too few points (%zu) or a constant series", s->n);
	long best = 0;
	double *xr = NULL;
	if (rc == 0 && maxlag > 0) {
		size_t L = (size_t)maxlag < s->n / 2 ? (size_t)maxlag : s->n / 2;
		if (L + 3 > s->n)
			return an_fail(a, "correlate: too few points (%zu) for a lag", s->n);
		if ((double)s->n * (double)L > AN_MAX_WORK)
			return an_fail(a, "correlate: %zu points x maxlag %zu is too much work; "
				       "aggregate with GROUP BY time() or lower maxlag", s->n, L);
		xr = malloc((2 * L + 1) * sizeof(*xr));
		rc = xr ? an_xcorr(s->v[0], s->v[1], s->n, L, xr, &best) : -ENOMEM;
		maxlag = (int64_t)L;
	}
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, maxlag > 0 ? 8 : 6) : NULL;
	if (rc == 0 && !o)
		rc = -ENOMEM;
	if (rc == 0) {
		struct mg_cell row[8] = {cell_t(s->ts[0]), cell_f(c.pearson_r), cell_f(c.pearson_p),
					 cell_f(c.spearman_r), cell_f(c.spearman_p),
					 {.type = MG_CELL_I64, .i = (int64_t)s->n},
					 {.type = MG_CELL_I64, .i = best},
					 cell_f(xr ? xr[best + maxlag] : NAN)};
		rc = mg_result_add_row(r, o, row);
	}
	free(xr);
	return rc;
}

/* causality(a, b[, lag]): does a Granger-cause b? One row. lag 0: chosen by AIC. */
static int causality_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
			  const struct an_series *s, int64_t lag)
{
	static const char *const cols[] = {"time", "f", "p_value", "lag", "causes"};
	struct an_granger g;
	double p = lag > 0 ? (double)lag : 12;
	if ((double)s->n * p * p > AN_MAX_WORK)
		return an_fail(a, "causality: %zu points at lag %.0f is too much work; aggregate "
			       "with GROUP BY time() or lower the lag", s->n, p);
	int rc = lag > 0 ? an_granger(s->v[0], s->v[1], s->n, (size_t)lag, &g)
			 : an_granger_auto(s->v[0], s->v[1], s->n, 12, &g);
	if (rc == -EINVAL || rc == -EDOM)
		return an_fail(a, "causality: too few points (%zu) for lag %" PRId64, s->n, lag);
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, 5) : NULL;
	if (rc == 0 && !o)
		rc = -ENOMEM;
	if (rc == 0) {
		struct mg_cell row[5] = {cell_t(s->ts[0]), cell_f(g.f), cell_f(g.p_value),
					 {.type = MG_CELL_I64, .i = (int64_t)g.lag},
					 {.type = MG_CELL_BOOL, .b = g.p_value < 0.05}};
		rc = mg_result_add_row(r, o, row);
	}
	return rc;
}

/* spectrum(x[, k]): the k dominant periods: period (seconds), period_points, power. */
static int spectrum_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
			 const struct an_series *s, int64_t k)
{
	static const char *const cols[] = {"time", "period", "period_points", "power"};
	struct an_period *p = malloc((size_t)k * sizeof(*p));
	size_t np = 0;
	int rc = p ? an_dominant_periods(s->v[0], s->n, (size_t)k, p, &np) : -ENOMEM;
	if (rc == -EINVAL)
		rc = an_fail(a, "spectrum: too few points (%zu)", s->n);
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, 4) : NULL;
	if (rc == 0 && !o)
		rc = -ENOMEM;
	for (size_t i = 0; i < np && rc == 0; i++) {
		struct mg_cell row[4] = {cell_t(s->ts[0]),
					 cell_f(p[i].period * (double)s->step_ns / 1e9),
					 cell_f(p[i].period), cell_f(p[i].power)};
		rc = mg_result_add_row(r, o, row);
	}
	free(p);
	return rc;
}

/* motifs(x, len[, k]): the k best motif pairs: time, match_time, distance. */
static int motifs_emit(struct an_ctx *a, struct mg_result *r, struct mg_stmt_result *sr,
		       const struct an_series *s, int64_t len, int64_t k)
{
	static const char *const cols[] = {"time", "match_time", "distance"};
	if (s->n > AN_MOTIF_MAX_POINTS)
		return an_fail(a, "motifs: at most %u points per series (got %zu); aggregate with "
			       "GROUP BY time()", AN_MOTIF_MAX_POINTS, s->n);
	if (len < 4 || (size_t)len * 2 > s->n)
		return an_fail(a, "motifs: length %" PRId64 " needs 4 <= len <= %zu points",
			       len, s->n / 2);
	struct an_motif *m = malloc((size_t)k * sizeof(*m));
	size_t nm = 0;
	int rc = m ? an_motifs(s->v[0], s->n, (size_t)len, (size_t)k, m, &nm) : -ENOMEM;
	if (rc == -EINVAL)
		rc = an_fail(a, "motifs: bad length %" PRId64 " for %zu points", len, s->n);
	struct mg_series *o = rc == 0 ? out_series(r, sr, s->se, cols, 3) : NULL;
	if (rc == 0 && !o)
		rc = -ENOMEM;
	for (size_t i = 0; i < nm && rc == 0; i++) {
		struct mg_cell row[3] = {cell_t(s->ts[m[i].a]), cell_t(s->ts[m[i].b]),
					 cell_f(m[i].distance)};
		rc = mg_result_add_row(r, o, row);
	}
	free(m);
	return rc;
}

/* ------------------------------------------------------------ SELECT functions */

enum an_fn { AF_SCORE, AF_FORECAST, AF_CHANGEPOINTS, AF_CORRELATE, AF_CAUSALITY, AF_SPECTRUM,
	     AF_MOTIFS };

/*
 * The analytics functions: how many series arguments come first, then the
 * other arguments' shapes: 's' a method string, 'd' a duration, 'n' a
 * number; upper case is optional.
 */
static const struct {
	const char *name;
	enum an_fn fn;
	uint32_t nseries;
	const char *rest;
	const char *usage;
} an_fns[] = {
	{"anomaly_score", AF_SCORE, 1, "S", "anomaly_score(field[, 'method'])"},
	{"forecast", AF_FORECAST, 1, "sdN", "forecast(field, 'model', duration[, pct])"},
	{"changepoints", AF_CHANGEPOINTS, 1, "S", "changepoints(field[, 'pelt' | 'cusum'])"},
	{"correlate", AF_CORRELATE, 2, "N", "correlate(a, b[, maxlag])"},
	{"causality", AF_CAUSALITY, 2, "N", "causality(a, b[, lag])"},
	{"spectrum", AF_SPECTRUM, 1, "N", "spectrum(field[, k])"},
	{"motifs", AF_MOTIFS, 1, "nN", "motifs(field, len[, k])"},
};

/* One call's arguments past its series. */
struct an_call {
	enum an_fn fn;
	const char *name;
	const char *method;            /* 's' */
	int64_t dur;                   /* 'd' */
	double num[2];                 /* 'n' in order; NAN when absent */
	uint32_t nnum;
};

static int an_fn_index(const char *name)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(an_fns); i++)
		if (!strcmp(an_fns[i].name, name))
			return (int)i;
	return -1;
}

bool qx_an_is_select(const struct mg_select *sel)
{
	for (uint32_t i = 0; i < sel->nfields; i++) {
		const struct mg_expr *e = sel->fields[i].expr;
		if (e->kind == MG_EX_CALL && an_fn_index(e->s) >= 0)
			return true;
	}
	return false;
}

static int call_parse(struct an_ctx *a, const struct mg_expr *e, struct an_call *c)
{
	int k = an_fn_index(e->s);
	assert(k >= 0);
	const char *rest = an_fns[k].rest;
	uint32_t need = an_fns[k].nseries, max = need + (uint32_t)strlen(rest);
	for (const char *q = rest; *q; q++)
		need += (*q >= 'a' && *q <= 'z');
	if (e->nargs < need || e->nargs > max)
		return an_fail(a, "usage: %s", an_fns[k].usage);
	memset(c, 0, sizeof(*c));
	c->fn = an_fns[k].fn;
	c->name = an_fns[k].name;
	c->num[0] = c->num[1] = NAN;
	for (uint32_t i = an_fns[k].nseries; i < e->nargs; i++) {
		const struct mg_expr *v = e->args[i];
		char want = (char)(rest[i - an_fns[k].nseries] | 0x20);
		if (want == 's' && v->kind == MG_EX_STRING)
			c->method = v->s;
		else if (want == 'd' && v->kind == MG_EX_DURATION && v->i > 0)
			c->dur = v->i;
		else if (want == 'n' && (v->kind == MG_EX_INT || v->kind == MG_EX_FLOAT))
			c->num[c->nnum++] = v->kind == MG_EX_INT ? (double)v->i : v->f;
		else
			return an_fail(a, "usage: %s", an_fns[k].usage);
	}
	return 0;
}

/* A whole-number argument in [lo, hi], or def when absent. */
static int call_int(struct an_ctx *a, const struct an_call *c, uint32_t i, int64_t lo,
		    int64_t hi, int64_t def, int64_t *out)
{
	double v = c->num[i];
	if (isnan(v)) {
		*out = def;
		return 0;
	}
	if (!(v >= (double)lo && v <= (double)hi) || v != floor(v))
		return an_fail(a, "%s: argument %u must be an integer in [%" PRId64 ", %" PRId64 "]",
			       c->name, i + 2, lo, hi);
	*out = (int64_t)v;
	return 0;
}

/* What one analysis does with each series of its inner SELECT; prepared once. */
struct an_job {
	struct mg_result *r;
	struct mg_stmt_result *sr;
	const struct mg_stmt *st;      /* FORECAST / DETECT, or NULL */
	const struct mg_expr *call_expr; /* a SELECT function's call */
	struct an_call call;           /* its arguments, parsed */
	const char *col;               /* its column name */
	enum { JOB_DETECT, JOB_SCORE, JOB_FORECAST, JOB_CHANGEPOINTS, JOB_OTHER } kind;
	struct an_args m;              /* the method, when the job has one */
	struct mg_tsql *mt;            /* owns m's strings for a method string */
	int64_t x, y;                  /* the call's whole-number arguments */
	double level;                  /* forecast interval coverage */
	int64_t horizon_ns;
};

/* The method made ready for one series (or, step_ns -1, checked before any). */
struct an_setup {
	const struct an_detector_info *det;
	struct an_detect_cfg dcfg;
	const struct an_forecaster_info *fc;
	struct an_forecast_cfg fcfg;
	struct fc_params fp;
};

static int job_setup(struct an_ctx *a, const struct an_job *j, int64_t step_ns,
		     struct an_setup *su)
{
	struct an_args m = j->m; /* fresh `used` marks each time */
	m.step_ns = step_ns;
	memset(su, 0, sizeof(*su));
	switch (j->kind) {
	case JOB_DETECT:
	case JOB_SCORE:
		return detect_setup(a, &m, j->st ? j->st->sensitivity : 0, &su->det, &su->dcfg);
	case JOB_FORECAST:
		su->fcfg.level = j->level;
		return forecast_setup(a, &m, &su->fc, &su->fcfg, &su->fp);
	case JOB_CHANGEPOINTS:
		return changepoints_setup(a, &m, &su->det, &su->dcfg);
	case JOB_OTHER:
		break;
	}
	return 0;
}

/* A SELECT function's arguments past its series, checked; its method parsed. */
static int call_prepare(struct an_ctx *a, struct an_job *j)
{
	const struct an_call *c = &j->call;
	int rc = call_parse(a, j->call_expr, &j->call);
	if (rc)
		return rc;
	static const char *const def[] = {[AF_SCORE] = "auto", [AF_FORECAST] = "auto",
					   [AF_CHANGEPOINTS] = "pelt"};
	j->kind = c->fn == AF_SCORE ? JOB_SCORE : c->fn == AF_FORECAST ? JOB_FORECAST
		: c->fn == AF_CHANGEPOINTS ? JOB_CHANGEPOINTS : JOB_OTHER;
	if (j->kind != JOB_OTHER)
		rc = args_from_string(a, c->method ? c->method : def[c->fn], &j->mt, &j->m);
	j->level = isnan(c->num[0]) ? 0.95 : c->num[0] / 100.0;
	j->horizon_ns = c->dur;
	if (rc == 0 && c->fn == AF_FORECAST && !(j->level > 0 && j->level < 1))
		rc = an_fail(a, "forecast: the interval must be a percentage in (0, 100)");
	if (rc == 0 && c->fn == AF_CORRELATE)
		rc = call_int(a, c, 0, 0, 1000000, 0, &j->x);
	if (rc == 0 && c->fn == AF_CAUSALITY)
		rc = call_int(a, c, 0, 0, 1000, 0, &j->x);
	if (rc == 0 && c->fn == AF_SPECTRUM)
		rc = call_int(a, c, 0, 1, 100, AN_SPECTRUM_K, &j->x);
	if (rc == 0 && c->fn == AF_MOTIFS && (rc = call_int(a, c, 0, 4, 1000000, 0, &j->x)) == 0)
		rc = call_int(a, c, 1, 1, 100, AN_MOTIFS_K, &j->y);
	return rc;
}

/* Everything about the job that does not depend on a series, checked before the
 * inner SELECT runs: a misspelt method or parameter fails even without data. */
static int job_prepare(struct an_ctx *a, struct an_job *j)
{
	int rc = 0;
	if (j->call_expr) {
		rc = call_prepare(a, j);
	} else {
		const struct mg_stmt *st = j->st;
		j->kind = st->kind == MG_STMT_DETECT ? JOB_DETECT : JOB_FORECAST;
		j->m = (struct an_args){.name = "auto"};
		if (st->method)
			rc = args_from_expr(a, st->method, &j->m);
		j->level = st->interval_pct > 0 ? st->interval_pct / 100 : 0.95;
		j->horizon_ns = st->horizon_ns;
	}
	struct an_setup su;
	return rc ? rc : job_setup(a, j, -1, &su);
}

static int job_series(struct an_ctx *a, const struct an_job *j, const struct an_series *s)
{
	struct an_setup su;
	int rc = job_setup(a, j, s->step_ns, &su);
	if (rc)
		return rc;
	switch (j->kind) {
	case JOB_DETECT:
		return detect_emit(a, j->r, j->sr, su.det, &su.dcfg, s, NULL, true);
	case JOB_SCORE:
		return detect_emit(a, j->r, j->sr, su.det, &su.dcfg, s, j->col, false);
	case JOB_FORECAST:
		return forecast_emit(a, j->r, j->sr, su.fc, &su.fp, su.fcfg, j->horizon_ns, s);
	case JOB_CHANGEPOINTS:
		return changepoints_emit(a, j->r, j->sr, su.det, &su.dcfg, s);
	case JOB_OTHER:
		break;
	}
	switch (j->call.fn) {
	case AF_CORRELATE: return correlate_emit(a, j->r, j->sr, s, j->x);
	case AF_CAUSALITY: return causality_emit(a, j->r, j->sr, s, j->x);
	case AF_SPECTRUM: return spectrum_emit(a, j->r, j->sr, s, j->x);
	case AF_MOTIFS: return motifs_emit(a, j->r, j->sr, s, j->x, j->y);
	default: assert(!"a job kind above handles it"); return -EINVAL;
	}
}

/* Run the inner SELECT, then the job on each of its series; errors go into sr. */
static int an_run(struct mg_exec_ctx *cx, const struct mg_select *sel,
		  const struct mg_expr *const *exprs, uint32_t nexprs, struct an_job *j)
{
	struct an_ctx a = {.cx = cx};
	a.deadline_ns = cx->limits.timeout_ns ? cm_now_ns() + cx->limits.timeout_ns : 0;
	struct mg_result *in = NULL;
	int rc = job_prepare(&a, j);
	if (rc == 0 && sel->into)
		rc = an_fail(&a, "INTO is not supported with analytics");
	if (rc == 0)
		rc = run_inner(&a, sel, exprs, nexprs, &in);
	const struct mg_stmt_result *is = rc == 0 ? &in->stmts[0] : NULL;
	for (uint32_t i = 0; rc == 0 && i < is->nseries; i++) {
		struct an_series s = {0};
		rc = an_check(&a);
		if (rc == 0 && is->series[i].ncols != nexprs + 1)
			rc = an_fail(&a, "analytics read one column per series argument (got %u: "
				     "a wildcard or regex field?)", is->series[i].ncols - 1);
		if (rc == 0)
			rc = series_load(&a, sel, &is->series[i], nexprs, &s);
		if (rc == 0 && s.n > 0)
			rc = job_series(&a, j, &s);
		series_release(&s);
	}
	mg_result_free(in);
	mg_tsql_free(j->mt);
	if (rc) {
		mg_result_drop_series(j->r, j->sr); /* no half answers */
		if (a.err[0])
			rc = mg_result_set_error(j->r, j->sr, "%s", a.err);
		else if (rc != -ENOMEM)
			rc = mg_result_set_error(j->r, j->sr, "query failed: %s", strerror(-rc));
	}
	return rc;
}

int qx_an_select(struct mg_exec_ctx *cx, const struct mg_select *sel, struct mg_result *r,
		 struct mg_stmt_result *sr)
{
	const struct mg_expr *e = sel->fields[0].expr;
	struct an_job j = {.r = r, .sr = sr, .call_expr = e};
	if (sel->nfields != 1 || e->kind != MG_EX_CALL || an_fn_index(e->s) < 0)
		return mg_result_set_error(r, sr, "an analytics function must be alone in the "
				       "SELECT list");
	j.col = sel->fields[0].alias ? sel->fields[0].alias : e->s;
	uint32_t ns = an_fns[an_fn_index(e->s)].nseries;
	if (e->nargs < ns)
		return mg_result_set_error(r, sr, "usage: %s", an_fns[an_fn_index(e->s)].usage);
	return an_run(cx, sel, (const struct mg_expr *const *)e->args, ns, &j);
}

int qx_an_stmt(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
	       struct mg_stmt_result *sr)
{
	struct an_job j = {.r = r, .sr = sr, .st = st};
	const struct mg_expr *e = st->select->fields[0].expr;
	return an_run(cx, st->select, &e, 1, &j);
}
