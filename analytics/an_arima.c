/*
 * an_arima.c - exact-likelihood (seasonal) ARIMA, its forecasts and the
 * automatic order selection of forecast::auto.arima; see an_arima.h.
 *
 * How the fit follows R's stats::arima(method = "CSS-ML"):
 * - the series is differenced explicitly; the seasonal polynomials are
 *   expanded into full AR/MA polynomials (R's ARIMA_transPars);
 * - start values minimise the conditional sum of squares (R's ARIMA_CSS);
 * - the exact likelihood of the differenced ARMA uses Harvey's state-space
 *   form (state r = max(p, q + 1), as R's ARIMA_Like) started from the
 *   stationary covariance Q0. Only the first column of Q0 is needed: it is
 *   built from the ARMA autocovariances (a (p+1)-square linear system, GSL
 *   LU) instead of Gardner's O(r^4) method, and the filter runs the
 *   Chandrasekhar recursions (Morf, Sidhu & Kailath 1974; the fast ARMA
 *   filter of Melard 1984): with a stationary start the change of the
 *   prediction covariance has rank one, so each step costs O(r), not O(r^2)
 *   - this keeps r = 27..55 models of period 24 cheap;
 * - sigma^2 is concentrated out; AR parts are kept stationary by R's
 *   partrans (tanh of the partial autocorrelations, Durbin-Levinson);
 *   MA roots inside the unit circle are flipped after the fit (maInvert);
 * - the optimiser is GSL's BFGS2 with forward-difference gradients, stopping
 *   at R optim's reltol (1e-8) or a gradient norm of 1e-6.
 * Differences from R: a non-stationary CSS start falls back to zeros
 * instead of failing; the likelihood is that of the differenced series
 * (R's kappa = 1e6 diffuse prior gives the same to ~1e-6).
 *
 * Profile: called from query execution and benchmarks, a fit costs
 * O(evaluations * n * r). Any thread; no state outside the call.
 */
#include "an_arima.h"
#include "an_forecast.h"
#include "an_stl.h"
#include "an_util.h"

#include <assert.h>
#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_poly.h>
#include <gsl/gsl_statistics_double.h>

#define MAX_AR_ORDER 350        /* expanded AR order limit (p + m*P) */
#define OPT_MAX_ITER 300
#define OPT_GRAD_TOL 1e-6
#define OPT_REL_TOL 1e-8
#define NUM_GRAD_STEP 1e-6
#define BAD_OBJECTIVE 1e10      /* returned where the likelihood is undefined */
#define ROOT_MARGIN 1.01        /* auto.arima rejects roots closer to 1 */

/* ======================================================================
 * Model workspace
 * ====================================================================== */

struct model {
	int p, q, P, Q, m, d, D;
	bool has_const;
	bool trans;          /* ML in the transformed (stationary) AR space */
	int npar;            /* p + q + P + Q + has_const */
	int pf, qf, r;       /* expanded AR/MA orders and state dimension */
	const double *w;     /* differenced series (borrowed) */
	size_t nw;
	double wmean, wscale;
	double ssq;          /* of the last ML evaluation */
	double *phi;         /* r entries: expanded AR, zero-padded */
	double *theta;       /* r entries: expanded MA, zero-padded */
	double *cpar;        /* npar: coefficients in model space */
	double *work;        /* npar: transform scratch */
	double *wc;          /* nw: w - mu */
	double *res;         /* nw: residuals */
	double *gam, *psi;   /* r + 1 autocovariances and psi-weights */
	double *st;          /* 5r: a, K, W, c, TW */
	int *lag;            /* 2r: nonzero AR, MA lags (CSS) */
	double *lagc;        /* 2r: their coefficients */
	gsl_matrix *A;
	gsl_vector *b;
	gsl_permutation *perm;
};

static void model_free(struct model *md)
{
	free(md->phi);
	free(md->theta);
	free(md->cpar);
	free(md->work);
	free(md->wc);
	free(md->res);
	free(md->gam);
	free(md->psi);
	free(md->st);
	free(md->lag);
	free(md->lagc);
	gsl_matrix_free(md->A);
	gsl_vector_free(md->b);
	gsl_permutation_free(md->perm);
}

static int model_init(struct model *md, const struct an_arima_spec *s, const double *w,
		      size_t nw)
{
	memset(md, 0, sizeof(*md));
	md->p = (int)s->p;
	md->q = (int)s->q;
	md->P = (int)s->P;
	md->Q = (int)s->Q;
	md->d = (int)s->d;
	md->D = (int)s->D;
	md->m = s->m > 1 ? (int)s->m : 1;
	md->has_const = s->include_constant;
	md->npar = md->p + md->q + md->P + md->Q + (md->has_const ? 1 : 0);
	md->pf = md->p + md->m * md->P;
	md->qf = md->q + md->m * md->Q;
	md->r = md->pf > md->qf + 1 ? md->pf : md->qf + 1;
	md->w = w;
	md->nw = nw;
	size_t r = (size_t)md->r, np = (size_t)md->npar + 1;
	md->phi = calloc(r, sizeof(double));
	md->theta = calloc(r, sizeof(double));
	md->cpar = calloc(np, sizeof(double));
	md->work = calloc(np, sizeof(double));
	md->wc = malloc(nw * sizeof(double));
	md->res = malloc(nw * sizeof(double));
	md->gam = malloc((r + 1) * sizeof(double));
	md->psi = malloc((r + 1) * sizeof(double));
	md->st = malloc(5 * r * sizeof(double));
	md->lag = malloc(2 * r * sizeof(int));
	md->lagc = malloc(2 * r * sizeof(double));
	md->A = gsl_matrix_alloc((size_t)md->pf + 1, (size_t)md->pf + 1);
	md->b = gsl_vector_alloc((size_t)md->pf + 1);
	md->perm = gsl_permutation_alloc((size_t)md->pf + 1);
	if (!md->phi || !md->theta || !md->cpar || !md->work || !md->wc || !md->res ||
	    !md->gam || !md->psi || !md->st || !md->lag || !md->lagc || !md->A || !md->b || !md->perm) {
		model_free(md);
		return -ENOMEM;
	}
	return 0;
}

/* ======================================================================
 * Parameter transforms (R's partrans / invpartrans / ARIMA_transPars)
 * ====================================================================== */

/* PACF in (-1, 1) via tanh, then Durbin-Levinson to AR coefficients. */
static void partrans(int p, const double *raw, double *out, double *work)
{
	for (int j = 0; j < p; j++)
		work[j] = out[j] = tanh(raw[j]);
	for (int j = 1; j < p; j++) {
		double a = out[j];
		for (int k = 0; k < j; k++)
			work[k] -= a * out[j - k - 1];
		memcpy(out, work, (size_t)j * sizeof(double));
	}
}

static void invpartrans(int p, const double *phi, double *out, double *work)
{
	for (int j = 0; j < p; j++)
		work[j] = out[j] = phi[j];
	for (int j = p - 1; j > 0; j--) {
		double a = out[j];
		for (int k = 0; k < j; k++)
			work[k] = (out[k] + a * out[j - k - 1]) / (1 - a * a);
		memcpy(out, work, (size_t)j * sizeof(double));
	}
	for (int j = 0; j < p; j++)
		out[j] = atanh(fmax(-1 + 1e-12, fmin(1 - 1e-12, out[j])));
}

/* Expand ar[p], ma[q], sar[P], sma[Q] (layout of cpar) into phi, theta. */
static void expand(const struct model *md, const double *c, double *phi, double *theta)
{
	int p = md->p, q = md->q, m = md->m;
	memset(phi, 0, (size_t)md->r * sizeof(double));
	memset(theta, 0, (size_t)md->r * sizeof(double));
	for (int i = 0; i < p; i++)
		phi[i] = c[i];
	for (int i = 0; i < q; i++)
		theta[i] = c[p + i];
	for (int j = 0; j < md->P; j++) {
		double s = c[p + q + j];
		phi[(j + 1) * m - 1] += s;
		for (int i = 0; i < p; i++)
			phi[(j + 1) * m + i] -= c[i] * s;
	}
	for (int j = 0; j < md->Q; j++) {
		double s = c[p + q + md->P + j];
		theta[(j + 1) * m - 1] += s;
		for (int i = 0; i < q; i++)
			theta[(j + 1) * m + i] += c[p + i] * s;
	}
}

/* Optimiser vector x -> model-space coefficients md->cpar and the mean. */
static double unpack(struct model *md, const double *x)
{
	int k = md->npar;
	memcpy(md->cpar, x, (size_t)k * sizeof(double));
	if (md->trans) {
		partrans(md->p, x, md->cpar, md->work);
		partrans(md->P, x + md->p + md->q, md->cpar + md->p + md->q, md->work);
	}
	return md->has_const ? md->wmean + md->wscale * x[k - 1] : 0.0;
}

/* ======================================================================
 * Polynomial roots (stationarity, invertibility)
 * ====================================================================== */

/* Smallest root modulus of 1 + sign * sum c[i] z^(i+1); INFINITY if none.
 * Negative errno on failure. */
static int min_root(const double *c, int n, double sign, double *out)
{
	int deg = n;
	while (deg > 0 && c[deg - 1] == 0.0)
		deg--;
	*out = INFINITY;
	if (deg == 0)
		return 0;
	int ret = -ENOMEM;
	double *a = malloc((size_t)(deg + 1) * sizeof(double));
	double *z = malloc(2 * (size_t)deg * sizeof(double));
	gsl_poly_complex_workspace *ws = gsl_poly_complex_workspace_alloc((size_t)deg + 1);
	if (!a || !z || !ws)
		goto out;
	a[0] = 1.0;
	for (int i = 0; i < deg; i++)
		a[i + 1] = sign * c[i];
	ret = -EDOM;
	if (gsl_poly_complex_solve(a, (size_t)deg + 1, ws, z) != GSL_SUCCESS)
		goto out;
	for (int i = 0; i < deg; i++)
		*out = fmin(*out, hypot(z[2 * i], z[2 * i + 1]));
	ret = 0;
out:
	gsl_poly_complex_workspace_free(ws);
	free(z);
	free(a);
	return ret;
}

static bool ar_stationary(const double *ar, int p)
{
	double r;
	return min_root(ar, p, -1.0, &r) == 0 && r > 1.0;
}

/* R's maInvert: flip the roots of 1 + sum ma z^i inside the unit circle. */
static int ma_invert(double *ma, int q)
{
	int q0 = q;
	while (q0 > 0 && ma[q0 - 1] == 0.0)
		q0--;
	if (q0 == 0)
		return 0;
	double mr;
	int ret = min_root(ma, q0, 1.0, &mr);
	if (ret < 0 || mr >= 1.0)
		return ret;
	if (q0 == 1) {
		ma[0] = 1.0 / ma[0];
		return 0;
	}
	ret = -ENOMEM;
	double *a = malloc((size_t)(q0 + 1) * sizeof(double));
	double *z = malloc(2 * (size_t)q0 * sizeof(double));
	double complex *x = calloc((size_t)q0 + 1, sizeof(double complex));
	gsl_poly_complex_workspace *ws = gsl_poly_complex_workspace_alloc((size_t)q0 + 1);
	if (!a || !z || !x || !ws)
		goto out;
	a[0] = 1.0;
	memcpy(a + 1, ma, (size_t)q0 * sizeof(double));
	ret = -EDOM;
	if (gsl_poly_complex_solve(a, (size_t)q0 + 1, ws, z) != GSL_SUCCESS)
		goto out;
	x[0] = 1.0;
	for (int i = 0; i < q0; i++) {
		double complex root = z[2 * i] + I * z[2 * i + 1];
		if (cabs(root) < 1.0)
			root = 1.0 / root;
		/* x <- c(x, 0) - c(0, x) / root */
		for (int k = i + 1; k > 0; k--)
			x[k] -= x[k - 1] / root;
	}
	for (int i = 0; i < q0; i++)
		ma[i] = creal(x[i + 1]);
	ret = 0;
out:
	gsl_poly_complex_workspace_free(ws);
	free(x);
	free(z);
	free(a);
	return ret;
}

/* ======================================================================
 * Exact likelihood: stationary covariance and the Chandrasekhar filter
 * ====================================================================== */

/* Autocovariances gam[0..r] and psi-weights psi[0..r] of the expanded ARMA
 * (unit innovation variance). -EDOM if the AR system is singular. */
static int arma_acvf(struct model *md)
{
	int pf = md->pf, qf = md->qf, r = md->r;
	const double *phi = md->phi, *th = md->theta;
	double *psi = md->psi, *gam = md->gam;
	psi[0] = 1.0;
	for (int j = 1; j <= r; j++) {
		double s = j <= qf ? th[j - 1] : 0.0;
		for (int i = 1; i <= pf && i <= j; i++)
			s += phi[i - 1] * psi[j - i];
		psi[j] = s;
	}
	gsl_matrix_set_zero(md->A);
	for (int k = 0; k <= pf; k++) {
		double rhs = 0.0;
		for (int j = k; j <= qf; j++)
			rhs += (j == 0 ? 1.0 : th[j - 1]) * psi[j - k];
		gsl_vector_set(md->b, (size_t)k, rhs);
		*gsl_matrix_ptr(md->A, (size_t)k, (size_t)k) += 1.0;
		for (int i = 1; i <= pf; i++)
			*gsl_matrix_ptr(md->A, (size_t)k, (size_t)abs(k - i)) -= phi[i - 1];
	}
	int sgn;
	gsl_vector_view g = gsl_vector_view_array(gam, (size_t)pf + 1);
	if (gsl_linalg_LU_decomp(md->A, md->perm, &sgn) != GSL_SUCCESS ||
	    gsl_linalg_LU_solve(md->A, md->perm, md->b, &g.vector) != GSL_SUCCESS)
		return -EDOM;
	for (int k = pf + 1; k <= r; k++) {
		double s = 0.0;
		for (int i = 1; i <= pf; i++)
			s += phi[i - 1] * gam[k - i];
		for (int j = k; j <= qf; j++)
			s += th[j - 1] * psi[j - k];
		gam[k] = s;
	}
	if (!isfinite(gam[0]) || gam[0] <= 0.0)
		return -EDOM;
	return 0;
}

/* First column c of the stationary state covariance Q0 (Harvey's form):
 * c[j] = Cov(y_t, alpha_t[j]) = sum_{k>=j} phi_k gam(k-j+1) + R_k psi(k-j). */
static void q0_column(const struct model *md, double *c)
{
	int r = md->r;
	c[0] = md->gam[0];
	for (int j = 1; j < r; j++) {
		double s = 0.0;
		for (int k = j; k < r; k++)
			s += md->phi[k] * md->gam[k - j + 1] + md->theta[k - 1] * md->psi[k - j];
		c[j] = s;
	}
}

struct kf_sums {
	double ssq, sumlog;
};

/* Nonzero AR lags (0-based) into md->lag; their count. */
static int ar_support(struct model *md)
{
	int na = 0;
	for (int j = 0; j < md->pf; j++)
		if (md->phi[j] != 0.0)
			md->lag[na++] = j;
	return na;
}

/* Largest |W_i|^2 |M| relative to F below which the covariance recursions
 * have converged (the filter is then the CSS recursion through a fixed gain). */
#define KF_STEADY_TOL 1e-18

/*
 * HOT PATH of the fit: one pass of the Chandrasekhar filter over md->wc.
 * Per step, with T the companion matrix (T x)_i = phi_i x_0 + x_{i+1}:
 *   a <- T a + K v / F;  TW = T W;  W <- TW - K W_0 / F;
 *   K <- K + TW M W_0;   F' = F + M W_0^2;  M <- M - M^2 W_0^2 / F'.
 * T is applied as a shift plus the (sparse) nonzero AR lags, so the dense
 * loops are plain shifts and axpys the compiler vectorises. On return
 * st[0..r) holds a_{n+1|n}; residuals v / sqrt(F) go to md->res.
 */
static int kalman(struct model *md, struct kf_sums *out)
{
	int r = md->r, ret = arma_acvf(md);
	if (ret < 0)
		return ret;
	int na = ar_support(md);
	const int *lag = md->lag;
	const double *phi = md->phi;
	double *a = md->st, *K = a + r, *W = K + r, *c = W + r, *TW = c + r;
	q0_column(md, c);
	double F = c[0], M = -1.0 / F;
	for (int i = 0; i < r; i++) {
		a[i] = 0.0;
		K[i] = W[i] = phi[i] * c[0] + (i + 1 < r ? c[i + 1] : 0.0);
	}
	bool steady = false;
	double ssq = 0.0, sumlog = 0.0;
	for (size_t t = 0; t < md->nw; t++) {
		double v = md->wc[t] - a[0];
		if (!(F > 0.0))
			return -EDOM;
		ssq += v * v / F;
		sumlog += log(F);
		md->res[t] = v / sqrt(F);
		double g = v / F, a0 = a[0];
		for (int i = 0; i < r - 1; i++)
			a[i] = a[i + 1] + K[i] * g;
		a[r - 1] = K[r - 1] * g;
		for (int j = 0; j < na; j++)
			a[lag[j]] += phi[lag[j]] * a0;
		if (steady)
			continue;
		double zW = W[0], Fn = F + M * zW * zW, c1 = zW / F, c2 = M * zW;
		for (int i = 0; i < r - 1; i++)
			TW[i] = W[i + 1];
		TW[r - 1] = 0.0;
		for (int j = 0; j < na; j++)
			TW[lag[j]] += phi[lag[j]] * zW;
		for (int i = 0; i < r; i++) {
			W[i] = TW[i] - K[i] * c1;
			K[i] += TW[i] * c2;
		}
		M -= M * M * zW * zW / Fn;
		F = Fn;
		if ((t & 7) == 7) {
			double wmax = 0.0;
			for (int i = 0; i < r; i++)
				wmax = fmax(wmax, fabs(W[i]));
			steady = wmax * wmax * fabs(M) < KF_STEADY_TOL * F;
		}
	}
	out->ssq = ssq;
	out->sumlog = sumlog;
	return 0;
}

/* ML objective: 0.5 (log(ssq / n) + sumlog / n), as R's armafn. */
static double ml_objective(struct model *md, const double *x)
{
	double mu = unpack(md, x);
	expand(md, md->cpar, md->phi, md->theta);
	for (size_t t = 0; t < md->nw; t++)
		md->wc[t] = md->w[t] - mu;
	struct kf_sums s;
	if (kalman(md, &s) < 0 || !(s.ssq > 0.0))
		return BAD_OBJECTIVE;
	md->ssq = s.ssq;
	double n = (double)md->nw, f = 0.5 * (log(s.ssq / n) + s.sumlog / n);
	return isfinite(f) ? f : BAD_OBJECTIVE;
}

/* CSS residuals from index pf on; returns ssq, *nu the count (R's ARIMA_CSS).
 * The expanded polynomials are sparse (seasonal): loop over nonzero lags. */
static double css_ssq(struct model *md, size_t *nu)
{
	size_t ncond = (size_t)md->pf;
	const double *w = md->wc;
	double *e = md->res, ssq = 0.0, *ac = md->lagc, *mc = md->lagc + md->r;
	int *al = md->lag, *ml = md->lag + md->r, na = 0, nm = 0;
	for (int j = 0; j < md->pf; j++)
		if (md->phi[j] != 0.0) {
			al[na] = j + 1;
			ac[na++] = md->phi[j];
		}
	for (int j = 0; j < md->qf; j++)
		if (md->theta[j] != 0.0) {
			ml[nm] = j + 1;
			mc[nm++] = md->theta[j];
		}
	for (size_t t = 0; t < md->nw; t++) {
		if (t < ncond) {
			e[t] = 0.0;
			continue;
		}
		double v = w[t];
		for (int j = 0; j < na; j++)
			v -= ac[j] * w[t - (size_t)al[j]];
		for (int j = 0; j < nm && (size_t)ml[j] <= t - ncond; j++)
			v -= mc[j] * e[t - (size_t)ml[j]];
		e[t] = v;
		ssq += v * v;
	}
	*nu = md->nw > ncond ? md->nw - ncond : 0;
	return ssq;
}

/* CSS objective 0.5 log(ssq / nu) at x (R's armaCSS); the sum of squares
 * and its count through *ssq and *nu. */
static double css_eval(struct model *md, const double *x, double *ssq, size_t *nu)
{
	double mu = unpack(md, x);
	expand(md, md->cpar, md->phi, md->theta);
	for (size_t t = 0; t < md->nw; t++)
		md->wc[t] = md->w[t] - mu;
	*ssq = css_ssq(md, nu);
	double f = 0.5 * log(*ssq / (double)*nu);
	return isfinite(f) && *ssq < 1e300 ? f : BAD_OBJECTIVE;
}

static double css_objective(struct model *md, const double *x)
{
	double ssq;
	size_t nu;
	return css_eval(md, x, &ssq, &nu);
}

/* ======================================================================
 * Optimisation (GSL BFGS2, forward-difference gradient)
 * ====================================================================== */

typedef double (*objective_fn)(struct model *md, const double *x);

struct opt_ctx {
	struct model *md;
	objective_fn f;
	double *xt;
};

static double opt_f(const gsl_vector *x, void *p)
{
	struct opt_ctx *o = p;
	for (size_t i = 0; i < x->size; i++)
		o->xt[i] = gsl_vector_get(x, i);
	return o->f(o->md, o->xt);
}

/* Forward differences from the value f0 at x (k + 1 evaluations per
 * gradient instead of 2k: the fits are dominated by these evaluations). */
static void opt_grad(struct opt_ctx *o, const gsl_vector *x, double f0, gsl_vector *g)
{
	for (size_t i = 0; i < x->size; i++)
		o->xt[i] = gsl_vector_get(x, i);
	for (size_t i = 0; i < x->size; i++) {
		double xi = o->xt[i];
		o->xt[i] = xi + NUM_GRAD_STEP;
		gsl_vector_set(g, i, (o->f(o->md, o->xt) - f0) / NUM_GRAD_STEP);
		o->xt[i] = xi;
	}
}

static void opt_df(const gsl_vector *x, void *p, gsl_vector *g)
{
	opt_grad(p, x, opt_f(x, p), g);
}

static void opt_fdf(const gsl_vector *x, void *p, double *f, gsl_vector *g)
{
	*f = opt_f(x, p);
	opt_grad(p, x, *f, g);
}

/* Minimise f from x[0..k) in place. *conv: gradient tolerance met.
 * -EDOM if f is undefined at the start. */
static int minimise(struct model *md, objective_fn f, double *x, int k, bool *conv)
{
	*conv = true;
	if (k == 0)
		return f(md, x) < BAD_OBJECTIVE ? 0 : -EDOM;
	if (!(f(md, x) < BAD_OBJECTIVE))
		return -EDOM;
	int ret = -ENOMEM;
	double *xt = malloc((size_t)k * sizeof(double));
	gsl_vector *x0 = gsl_vector_alloc((size_t)k);
	gsl_multimin_fdfminimizer *s =
		gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)k);
	if (!xt || !x0 || !s)
		goto out;
	struct opt_ctx o = { md, f, xt };
	gsl_multimin_function_fdf fn = { opt_f, opt_df, opt_fdf, (size_t)k, &o };
	for (int i = 0; i < k; i++)
		gsl_vector_set(x0, (size_t)i, x[i]);
	ret = -EDOM;
	if (gsl_multimin_fdfminimizer_set(s, &fn, x0, 0.1, 0.1) != GSL_SUCCESS)
		goto out;
	*conv = false;
	double fprev = s->f;
	for (int it = 0; it < OPT_MAX_ITER; it++) {
		int st = gsl_multimin_fdfminimizer_iterate(s);
		/* R's optim(): reltol 1e-8 on the value; or a small gradient */
		if (gsl_multimin_test_gradient(s->gradient, OPT_GRAD_TOL) == GSL_SUCCESS ||
		    (st == GSL_SUCCESS && fabs(fprev - s->f) < OPT_REL_TOL * (fabs(s->f) + OPT_REL_TOL))) {
			*conv = true;
			break;
		}
		if (st != GSL_SUCCESS)
			break;
		fprev = s->f;
	}
	for (int i = 0; i < k; i++)
		x[i] = gsl_vector_get(s->x, (size_t)i);
	ret = 0;
out:
	gsl_multimin_fdfminimizer_free(s);
	gsl_vector_free(x0);
	free(xt);
	return ret;
}

/* ======================================================================
 * Fitting
 * ====================================================================== */

struct an_arima_priv {
	int r, kd;           /* state dimension; differencing length d + D*m */
	double mu;           /* mean of the differenced series */
	double *phi, *theta; /* r each: expanded ARMA */
	double *a;           /* r: a_{n+1|n} */
	double *delta;       /* kd + 1: (1-B)^d (1-B^m)^D, delta[0] = 1 */
	double *ytail;       /* kd: the last kd points of y */
};

/* Coefficients of (1-B)^d (1-B^m)^D into delta[0..d+D*m]. */
static void diff_poly(unsigned d, unsigned D, unsigned m, double *delta)
{
	size_t len = 1;
	delta[0] = 1.0;
	for (unsigned i = 0; i < d + D; i++) {
		size_t lag = i < d ? 1 : m;
		for (size_t k = len + lag - 1; k >= lag; k--)
			delta[k] = (k < len ? delta[k] : 0.0) - delta[k - lag];
		for (size_t k = len; k < lag; k++)
			delta[k] = 0.0;
		len += lag;
	}
}

static int spec_check(const double *y, size_t n, const struct an_arima_spec *s)
{
	if (!y || !s || s->method > AN_ARIMA_CSS)
		return -EINVAL;
	unsigned m = s->m > 1 ? s->m : 1;
	if (m == 1 && (s->P || s->D || s->Q))
		return -EINVAL;
	if (s->include_constant && s->d + s->D >= 2)
		return -EINVAL;
	if (s->p > MAX_AR_ORDER || s->q > MAX_AR_ORDER || s->d > 3 || s->D > 2 ||
	    (size_t)s->P * m > MAX_AR_ORDER || (size_t)s->Q * m > MAX_AR_ORDER)
		return -EINVAL;
	size_t kd = s->d + (size_t)s->D * m;
	size_t npar = s->p + s->q + s->P + s->Q + s->include_constant;
	if (n <= kd || n - kd < npar + 2)
		return -EINVAL;
	return an_all_finite(y, n) ? 0 : -EINVAL;
}

static void free_result(struct an_arima *a)
{
	if (!a)
		return;
	if (a->priv) {
		free(a->priv->phi);
		free(a->priv->theta);
		free(a->priv->a);
		free(a->priv->delta);
		free(a->priv->ytail);
		free(a->priv);
	}
	free(a->coef);
	free(a->resid);
	free(a);
}

void an_arima_destroy(struct an_arima *a)
{
	free_result(a);
}

static struct an_arima *alloc_result(size_t ncoef, size_t n, int r, size_t kd)
{
	struct an_arima *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->coef = calloc(ncoef + 1, sizeof(double));
	a->resid = calloc(n, sizeof(double));
	a->priv = calloc(1, sizeof(*a->priv));
	if (!a->coef || !a->resid || !a->priv)
		goto err;
	struct an_arima_priv *pv = a->priv;
	pv->r = r;
	pv->kd = (int)kd;
	pv->phi = calloc((size_t)r, sizeof(double));
	pv->theta = calloc((size_t)r, sizeof(double));
	pv->a = calloc((size_t)r, sizeof(double));
	pv->delta = calloc(kd + 1, sizeof(double));
	pv->ytail = calloc(kd + 1, sizeof(double));
	if (!pv->phi || !pv->theta || !pv->a || !pv->delta || !pv->ytail)
		goto err;
	a->ncoef = ncoef;
	a->n = n;
	return a;
err:
	free_result(a);
	return NULL;
}

/* Scale of the constant: drift per step = mu / m when only D = 1. */
static double const_scale(const struct an_arima_spec *s)
{
	return (s->d == 0 && s->D == 1) ? (double)s->m : 1.0;
}

/* Copy the fitted state of md (evaluated at cpar, mean mu) into a result. */
static struct an_arima *make_result(const struct model *md, const struct an_arima_spec *s,
				    const double *y, size_t n, double mu)
{
	size_t kd = n - md->nw;
	struct an_arima *a = alloc_result((size_t)md->npar, n, md->r, kd);
	if (!a)
		return NULL;
	struct an_arima_priv *pv = a->priv;
	a->spec = *s;
	a->n_used = md->nw;
	memcpy(a->coef, md->cpar, (size_t)md->npar * sizeof(double));
	if (md->has_const)
		a->coef[md->npar - 1] = mu / const_scale(s);
	memcpy(a->resid + kd, md->res, md->nw * sizeof(double));
	memcpy(pv->phi, md->phi, (size_t)md->r * sizeof(double));
	memcpy(pv->theta, md->theta, (size_t)md->r * sizeof(double));
	memcpy(pv->a, md->st, (size_t)md->r * sizeof(double));
	diff_poly(s->d, s->D, s->m, pv->delta);
	memcpy(pv->ytail, y + n - kd, kd * sizeof(double));
	pv->mu = mu;
	return a;
}

static void set_criteria(struct an_arima *a, double val)
{
	double nu = (double)a->n_used, k = (double)a->ncoef + 1;
	a->loglik = -0.5 * (2 * nu * val + nu + nu * log(2 * M_PI));
	a->aic = -2 * a->loglik + 2 * k;
	a->aicc = nu - k - 1 > 0 ? a->aic + 2 * k * (k + 1) / (nu - k - 1) : INFINITY;
	a->bic = a->aic + k * (log(nu) - 2);
}

/* CSS stage: fills x (model space, constant offset last). true if usable. */
static bool css_start(struct model *md, double *x, bool *conv)
{
	md->trans = false;
	memset(x, 0, (size_t)md->npar * sizeof(double));
	if (md->nw <= (size_t)(md->pf + md->npar + 1))
		return false;
	if (minimise(md, css_objective, x, md->npar, conv) < 0)
		return false;
	if (!ar_stationary(x, md->p) || !ar_stationary(x + md->p + md->q, md->P)) {
		memset(x, 0, (size_t)md->npar * sizeof(double));
		return false;
	}
	return true;
}

/* ML stage from model-space start x; on return md->cpar, md->res, md->st
 * hold the final (invertible) fit, *val the objective, *mu the mean. */
static int ml_fit(struct model *md, double *x, bool *conv, double *val, double *mu)
{
	int p = md->p, q = md->q, P = md->P, Q = md->Q;
	int ret = ma_invert(x + p, q);
	if (ret == 0)
		ret = ma_invert(x + p + q + P, Q);
	if (ret < 0)
		memset(x + p, 0, (size_t)q * sizeof(double));
	memcpy(md->cpar, x, (size_t)md->npar * sizeof(double));
	invpartrans(p, md->cpar, x, md->work);
	invpartrans(P, md->cpar + p + q, x + p + q, md->work);
	md->trans = true;
	ret = minimise(md, ml_objective, x, md->npar, conv);
	if (ret < 0)
		return ret;
	*mu = unpack(md, x);
	memcpy(x, md->cpar, (size_t)md->npar * sizeof(double));
	if (ma_invert(x + p, q) < 0 || ma_invert(x + p + q + P, Q) < 0)
		return -EDOM;
	md->trans = false;
	*val = ml_objective(md, x);
	return *val < BAD_OBJECTIVE ? 0 : -EDOM;
}

/* The differenced series w[t] = (delta * y)[t + kd], t = 0..n-kd-1, of
 * spec s into a malloc'd array of *nw entries (the caller frees it); NULL
 * when n <= kd or on ENOMEM. */
static double *difference(const double *y, size_t n, const struct an_arima_spec *s, size_t *nw)
{
	size_t kd = s->d + (size_t)s->D * (s->m > 1 ? s->m : 1);
	if (n <= kd)
		return NULL;
	double *delta = malloc((kd + 1) * sizeof(double));
	double *w = malloc((n - kd) * sizeof(double));
	if (!delta || !w) {
		free(delta);
		free(w);
		return NULL;
	}
	diff_poly(s->d, s->D, s->m, delta);
	for (size_t t = 0; t + kd < n; t++) {
		double v = 0;
		for (size_t k = 0; k <= kd; k++)
			v += delta[k] * y[t + kd - k];
		w[t] = v;
	}
	free(delta);
	*nw = n - kd;
	return w;
}

static int fit_model(const double *y, size_t n, const struct an_arima_spec *spec,
		     struct an_arima **out)
{
	size_t nw;
	struct model md;
	int ret = -ENOMEM;
	double *w = difference(y, n, spec, &nw);
	double *x = NULL;
	if (!w)
		goto out_free;
	if ((ret = model_init(&md, spec, w, nw)) < 0)
		goto out_free;
	ret = -ENOMEM;
	if (!(x = calloc((size_t)md.npar + 1, sizeof(double))))
		goto out_model;
	double wmean = gsl_stats_mean(w, 1, nw);
	double sd = nw > 1 ? gsl_stats_sd_m(w, 1, nw, wmean) : 0.0;
	md.wmean = md.has_const ? wmean : 0.0;
	md.wscale = sd > 0 ? sd : 1.0;
	ret = -EDOM;
	if (!(sd > 0))
		goto out_model;
	bool conv = true;
	double val, mu, css_s2 = NAN;
	bool css_ok = spec->method != AN_ARIMA_ML && css_start(&md, x, &conv);
	if (spec->method == AN_ARIMA_CSS) {
		if (!css_ok)
			goto out_model;
		size_t nu;
		double ssq;
		val = css_eval(&md, x, &ssq, &nu);
		css_s2 = ssq / (double)nu;
		/* the filter's state for forecasting, when the AR part allows */
		double *xm = md.work;
		mu = unpack(&md, x);
		memcpy(xm, md.cpar, (size_t)md.npar * sizeof(double));
		if (md.has_const)
			xm[md.npar - 1] = (mu - md.wmean) / md.wscale;
		if (ml_objective(&md, xm) >= BAD_OBJECTIVE)
			memset(md.st, 0, (size_t)md.r * sizeof(double));
	} else if ((ret = ml_fit(&md, x, &conv, &val, &mu)) < 0) {
		goto out_model;
	}
	ret = -ENOMEM;
	struct an_arima *a = make_result(&md, spec, y, n, mu);
	if (!a)
		goto out_model;
	a->converged = conv;
	set_criteria(a, val);
	a->sigma2 = md.ssq / (double)nw;
	if (spec->method == AN_ARIMA_CSS) {
		a->sigma2 = css_s2;
		a->aic = a->aicc = a->bic = NAN;
	}
	*out = a;
	ret = 0;
out_model:
	model_free(&md);
out_free:
	free(x);
	free(w);
	return ret;
}

int an_arima_fit(const double *y, size_t n, const struct an_arima_spec *spec,
		 struct an_arima **out)
{
	if (!out)
		return -EINVAL;
	int ret = spec_check(y, n, spec);
	if (ret < 0)
		return ret;
	return fit_model(y, n, spec, out);
}

int an_arima_loglik(const double *y, size_t n, const struct an_arima_spec *spec,
		    const double *coef, double *loglik, double *sigma2)
{
	int ret = spec_check(y, n, spec);
	if (ret < 0 || !coef || !loglik || !sigma2)
		return ret < 0 ? ret : -EINVAL;
	struct an_arima_spec s = *spec;
	size_t nw;
	struct model md;
	double *w = difference(y, n, &s, &nw);
	ret = -ENOMEM;
	if (!w)
		goto out_free;
	if ((ret = model_init(&md, &s, w, nw)) < 0)
		goto out_free;
	memcpy(md.work, coef, (size_t)md.npar * sizeof(double));
	if (md.has_const)
		md.work[md.npar - 1] = coef[md.npar - 1] * const_scale(&s);
	md.wmean = 0.0;
	md.wscale = 1.0;
	ret = -EDOM;
	if (!ar_stationary(coef, md.p) || !ar_stationary(coef + md.p + md.q, md.P))
		goto out_model;
	double val = ml_objective(&md, md.work);
	if (val >= BAD_OBJECTIVE)
		goto out_model;
	double nu = (double)nw;
	*loglik = -0.5 * (2 * nu * val + nu + nu * log(2 * M_PI));
	*sigma2 = md.ssq / nu;
	ret = 0;
out_model:
	model_free(&md);
out_free:
	free(w);
	return ret;
}

/* ======================================================================
 * Forecasting
 * ====================================================================== */

int an_arima_forecast(const struct an_arima *a, size_t h, double level, double *mean,
		      double *lower, double *upper)
{
	if (!a || !mean || h == 0 || !(level > 0.0 && level < 1.0))
		return -EINVAL;
	const struct an_arima_priv *pv = a->priv;
	int r = pv->r, kd = pv->kd;
	int ret = -ENOMEM;
	double *st = malloc((size_t)r * sizeof(double));
	double *yy = malloc(((size_t)kd + h) * sizeof(double));
	double *cf = calloc((size_t)(r + kd) + 1, sizeof(double));
	double *psi = malloc(h * sizeof(double));
	if (!st || !yy || !cf || !psi)
		goto out;
	/* point forecasts: a_{n+k|n} = T^(k-1) a_{n+1|n}, integrated back */
	memcpy(st, pv->a, (size_t)r * sizeof(double));
	memcpy(yy, pv->ytail, (size_t)kd * sizeof(double));
	for (size_t k = 0; k < h; k++) {
		double f = pv->mu + st[0], a0 = st[0];
		for (int j = 1; j <= kd; j++)
			f -= pv->delta[j] * yy[(size_t)kd + k - (size_t)j];
		yy[(size_t)kd + k] = f;
		mean[k] = f;
		for (int i = 0; i < r; i++)
			st[i] = pv->phi[i] * a0 + (i + 1 < r ? st[i + 1] : 0.0);
	}
	/* psi-weights of theta(B) / (phi(B) delta(B)); cf: 1 - sum cf_i B^i */
	for (int i = 0; i <= r; i++) {
		double pi = i == 0 ? 1.0 : -pv->phi[i - 1];
		for (int j = 0; j <= kd; j++)
			cf[i + j] += pi * pv->delta[j];
	}
	double z = gsl_cdf_ugaussian_Pinv(0.5 + level / 2), var = 0.0;
	for (size_t k = 0; k < h; k++) {
		double s = k == 0 ? 1.0 : (k <= (size_t)r ? pv->theta[k - 1] : 0.0);
		for (size_t i = 1; i <= k && i <= (size_t)(r + kd); i++)
			s -= cf[i] * psi[k - i];
		psi[k] = s;
		var += s * s;
		double half = z * sqrt(a->sigma2 * var);
		if (lower)
			lower[k] = mean[k] - half;
		if (upper)
			upper[k] = mean[k] + half;
	}
	ret = 0;
out:
	free(psi);
	free(cf);
	free(yy);
	free(st);
	return ret;
}

/* ======================================================================
 * Differencing tests
 * ====================================================================== */

int an_arima_kpss(const double *y, size_t n, size_t lags, double *stat)
{
	if (!y || !stat || n < 2 || lags >= n)
		return -EINVAL;
	double *e = malloc(n * sizeof(double));
	if (!e)
		return -ENOMEM;
	double mean = gsl_stats_mean(y, 1, n), cum = 0, eta = 0, s2 = 0;
	for (size_t t = 0; t < n; t++) {
		e[t] = y[t] - mean;
		cum += e[t];
		eta += cum * cum;
		s2 += e[t] * e[t];
	}
	for (size_t l = 1; l <= lags; l++) {
		double c = 0;
		for (size_t t = l; t < n; t++)
			c += e[t] * e[t - l];
		s2 += 2.0 * (1.0 - (double)l / (double)(lags + 1)) * c;
	}
	free(e);
	double nn = (double)n;
	s2 /= nn;
	*stat = s2 > 0 ? eta / (nn * nn) / s2 : 0.0;
	return 0;
}

/* urca's KPSS "mu" 5% critical value (Kwiatkowski et al. 1992, table 1). */
#define KPSS_CRIT_5PCT 0.463

int an_arima_ndiffs(const double *y, size_t n, unsigned max_d)
{
	if (!y || n == 0)
		return -EINVAL;
	double *x = malloc(n * sizeof(double));
	if (!x)
		return -ENOMEM;
	memcpy(x, y, n * sizeof(double));
	int d = 0;
	while (n >= 3 && !an_is_constant(x, n)) {
		double stat;
		size_t lags = (size_t)trunc(3.0 * sqrt((double)n) / 13.0);
		if (an_arima_kpss(x, n, lags, &stat) < 0 || stat <= KPSS_CRIT_5PCT ||
		    (unsigned)d >= max_d)
			break;
		for (size_t i = 0; i + 1 < n; i++)
			x[i] = x[i + 1] - x[i];
		n--;
		d++;
	}
	free(x);
	return d;
}

/* forecast's seas.heuristic: strength of the STL seasonal (s.window 11, as
 * mstl's default for one period, not robust). */
double an_arima_seasonal_strength(const double *y, size_t n, unsigned m)
{
	if (!y || m < 2 || n <= 2 * (size_t)m)
		return NAN;
	double res = NAN;
	double *s = malloc(n * sizeof(double)), *t = malloc(n * sizeof(double));
	double *e = malloc(n * sizeof(double));
	struct an_stl_cfg cfg;
	an_stl_cfg_init(&cfg, m);
	cfg.periodic = false;
	cfg.s_window = 11;
	cfg.s_degree = 0;
	if (!s || !t || !e || an_stl(y, n, &cfg, s, t, e, NULL) < 0)
		goto out;
	double sd = gsl_stats_sd(e, 1, n);
	double vare = sd * sd;
	for (size_t i = 0; i < n; i++)
		s[i] += e[i];
	sd = gsl_stats_sd(s, 1, n);
	res = sd > 0 ? fmax(0.0, fmin(1.0, 1.0 - vare / (sd * sd))) : 0.0;
out:
	free(e);
	free(t);
	free(s);
	return res;
}

/* ======================================================================
 * Automatic selection (stepwise, Hyndman & Khandakar 2008)
 * ====================================================================== */

#define MAX_MODELS 94           /* auto.arima's nmodels */
#define SEAS_STRENGTH_D 0.64

struct cand {
	unsigned p, q, P, Q;
	bool c;
	double ic;
};

struct search {
	const double *y;
	size_t n;
	struct an_arima_spec base;   /* d, D, m */
	const struct an_arima_auto_cfg *cfg;
	bool approx, allow_c;
	struct cand tried[MAX_MODELS];
	int nt;
	struct cand cur;
	struct an_arima *best;       /* exact search only */
};

/* auto.arima's myarima check: all expanded roots at least ROOT_MARGIN. */
static bool roots_ok(const struct an_arima *a)
{
	const struct an_arima_priv *pv = a->priv;
	double ra = INFINITY, rm = INFINITY;
	if (min_root(pv->phi, pv->r, -1.0, &ra) < 0 || min_root(pv->theta, pv->r, 1.0, &rm) < 0)
		return false;
	return ra > ROOT_MARGIN && rm > ROOT_MARGIN;
}

/* Fit one candidate; its information criterion (INFINITY if rejected). */
static double fit_ic(const struct search *s, const struct cand *c, bool exact,
		     struct an_arima **fit)
{
	struct an_arima_spec sp = s->base;
	sp.p = c->p;
	sp.q = c->q;
	sp.P = c->P;
	sp.Q = c->Q;
	sp.include_constant = c->c;
	sp.method = exact ? AN_ARIMA_CSS_ML : AN_ARIMA_CSS;
	*fit = NULL;
	struct an_arima *a;
	if (spec_check(s->y, s->n, &sp) < 0 || fit_model(s->y, s->n, &sp, &a) < 0)
		return INFINITY;
	double k = (double)a->ncoef + 1, nu = (double)a->n_used, ic = a->aicc;
	if (!exact) {
		ic = nu * log(a->sigma2) + 2 * k;
		ic = nu - k - 1 > 0 ? ic + 2 * k * (k + 1) / (nu - k - 1) : INFINITY;
	}
	if (!isfinite(ic) || !roots_ok(a)) {
		an_arima_destroy(a);
		return INFINITY;
	}
	*fit = a;
	return ic;
}

/* Try (p,q,P,Q,c) if new and within the limits; true if it became the best. */
static bool consider(struct search *s, int p, int q, int P, int Q, bool c)
{
	const struct an_arima_auto_cfg *cf = s->cfg;
	if (p < 0 || q < 0 || P < 0 || Q < 0 || (unsigned)p > cf->max_p ||
	    (unsigned)q > cf->max_q || (unsigned)P > cf->max_P || (unsigned)Q > cf->max_Q ||
	    (unsigned)(p + q + P + Q) > cf->max_order || (c && !s->allow_c) ||
	    s->nt >= MAX_MODELS)
		return false;
	for (int i = 0; i < s->nt; i++) {
		const struct cand *t = &s->tried[i];
		if (t->p == (unsigned)p && t->q == (unsigned)q && t->P == (unsigned)P &&
		    t->Q == (unsigned)Q && t->c == c)
			return false;
	}
	struct cand *t = &s->tried[s->nt++];
	*t = (struct cand){ (unsigned)p, (unsigned)q, (unsigned)P, (unsigned)Q, c, INFINITY };
	struct an_arima *fit;
	t->ic = fit_ic(s, t, !s->approx, &fit);
	if (!(t->ic < s->cur.ic)) {
		an_arima_destroy(fit);
		return false;
	}
	s->cur = *t;
	an_arima_destroy(s->best);
	s->best = s->approx ? NULL : fit;
	if (s->approx)
		an_arima_destroy(fit);
	return true;
}

/* One pass over the neighbours of the current model, in auto.arima's order;
 * stops at the first improvement. True if a model was fitted. */
static bool step(struct search *s)
{
	static const signed char moves[][4] = {
		{ 0, 0, -1, 0 }, { 0, 0, 0, -1 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 },
		{ 0, 0, -1, -1 }, { 0, 0, -1, 1 }, { 0, 0, 1, -1 }, { 0, 0, 1, 1 },
		{ -1, 0, 0, 0 }, { 0, -1, 0, 0 }, { 1, 0, 0, 0 }, { 0, 1, 0, 0 },
		{ -1, -1, 0, 0 }, { -1, 1, 0, 0 }, { 1, -1, 0, 0 }, { 1, 1, 0, 0 },
	};
	int before = s->nt;
	struct cand c = s->cur;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (consider(s, (int)c.p + moves[i][0], (int)c.q + moves[i][1],
			     (int)c.P + moves[i][2], (int)c.Q + moves[i][3], c.c))
			return true;
	if (consider(s, (int)c.p, (int)c.q, (int)c.P, (int)c.Q, !c.c))
		return true;
	return s->nt > before;
}

static int cand_cmp(const void *a, const void *b)
{
	double x = ((const struct cand *)a)->ic, y = ((const struct cand *)b)->ic;
	return (x > y) - (x < y);
}

/* After a CSS search: refit the candidates exactly, best first. */
static int refit_exact(struct search *s, struct an_arima **out)
{
	qsort(s->tried, (size_t)s->nt, sizeof(s->tried[0]), cand_cmp);
	for (int i = 0; i < s->nt && isfinite(s->tried[i].ic); i++) {
		struct an_arima *fit;
		if (isfinite(fit_ic(s, &s->tried[i], true, &fit))) {
			*out = fit;
			return 0;
		}
	}
	return -EDOM;
}

/* A series whose differenced form w is constant: ARIMA(0,d,0)(0,D,0) with
 * w's value as the constant (if allowed) and sigma^2 = 0. */
static int degenerate(const double *y, size_t n, const struct an_arima_spec *base, double w0,
		      bool allow_c, struct an_arima **out)
{
	size_t kd = base->d + (size_t)base->D * (base->m > 1 ? base->m : 1);
	struct an_arima *a = alloc_result(allow_c ? 1 : 0, n, 1, kd);
	if (!a)
		return -ENOMEM;
	a->spec = *base;
	a->spec.p = a->spec.q = a->spec.P = a->spec.Q = 0;
	a->spec.include_constant = allow_c;
	a->n_used = n - kd;
	a->priv->mu = allow_c ? w0 : 0.0;
	if (allow_c)
		a->coef[0] = w0 / const_scale(&a->spec);
	a->sigma2 = allow_c ? 0.0 : w0 * w0;
	a->loglik = a->aic = a->aicc = a->bic = NAN;
	a->converged = true;
	diff_poly(base->d, base->D, base->m, a->priv->delta);
	memcpy(a->priv->ytail, y + n - kd, kd * sizeof(double));
	*out = a;
	return 0;
}

void an_arima_auto_cfg_init(struct an_arima_auto_cfg *cfg, unsigned m)
{
	*cfg = (struct an_arima_auto_cfg){
		.m = m, .d = -1, .D = -1, .max_p = 5, .max_q = 5, .max_P = 2, .max_Q = 2,
		.max_order = 5, .max_d = 2, .max_D = 1, .allow_constant = true,
		.approximation = -1,
	};
}

/* d and D as auto.arima: D from the seasonal strength of y, then d by KPSS on
 * the seasonally differenced series. */
static int choose_diffs(const double *y, size_t n, const struct an_arima_auto_cfg *cfg,
			unsigned m, bool seasonal, unsigned *d, unsigned *D)
{
	*D = 0;
	if (cfg->D >= 0)
		*D = (unsigned)cfg->D;
	else if (m > 1 && seasonal && cfg->max_D > 0)
		*D = an_arima_seasonal_strength(y, n, m) > SEAS_STRENGTH_D ? 1 : 0;
	if (m < 2)
		*D = 0;
	if (cfg->d >= 0) {
		*d = (unsigned)cfg->d;
		return 0;
	}
	if (n <= (size_t)*D * m)
		return -EINVAL;   /* too short to difference seasonally */
	size_t nd = n - (size_t)*D * m;
	double *dx = malloc(nd * sizeof(double));
	if (!dx)
		return -ENOMEM;
	for (size_t t = 0; t < nd; t++)
		dx[t] = y[t + (size_t)*D * m] - (*D ? y[t] : 0.0);
	int r = an_arima_ndiffs(dx, nd, cfg->max_d);
	free(dx);
	if (r < 0)
		return r;
	*d = (unsigned)r;
	return 0;
}

/* The differenced series' value if it is constant (else NaN). */
static double constant_diff(const double *y, size_t n, const struct an_arima_spec *s)
{
	size_t nw;
	double *w = difference(y, n, s, &nw), w0 = NAN;
	if (!w)
		return NAN;
	w0 = w[0];
	for (size_t t = 1; t < nw; t++)
		if (fabs(w[t] - w0) > 1e-12 * (fabs(w0) + 1e-300)) {
			w0 = NAN;
			break;
		}
	free(w);
	return w0;
}

static void search_start(struct search *s, unsigned m)
{
	const struct an_arima_auto_cfg *cf = s->cfg;
	int mp = cf->max_p > 0, mq = cf->max_q > 0;
	int sP = m > 1 && cf->max_P > 0, sQ = m > 1 && cf->max_Q > 0;
	bool c = s->allow_c;
	s->cur = (struct cand){ cf->max_p < 2 ? cf->max_p : 2, cf->max_q < 2 ? cf->max_q : 2,
				(unsigned)sP, (unsigned)sQ, c, INFINITY };
	consider(s, (int)s->cur.p, (int)s->cur.q, sP, sQ, c);
	consider(s, 0, 0, 0, 0, c);
	if (mp || sP)
		consider(s, mp, 0, sP, 0, c);
	if (mq || sQ)
		consider(s, 0, mq, 0, sQ, c);
	if (c)
		consider(s, 0, 0, 0, 0, false);
}

int an_arima_auto(const double *y, size_t n, const struct an_arima_auto_cfg *cfg,
		  struct an_arima **out)
{
	if (!y || !cfg || !out || n < 3 || cfg->d > 2 || cfg->D > 1 || !an_all_finite(y, n))
		return -EINVAL;
	unsigned m = cfg->m > 1 ? cfg->m : 1;
	struct an_arima_auto_cfg lim = *cfg;
	size_t third = n / 3;
	lim.max_p = cfg->max_p < third ? cfg->max_p : (unsigned)third;
	lim.max_q = cfg->max_q < third ? cfg->max_q : (unsigned)third;
	lim.max_P = m > 1 && cfg->max_P < third / m ? cfg->max_P : (unsigned)(third / m);
	lim.max_Q = m > 1 && cfg->max_Q < third / m ? cfg->max_Q : (unsigned)(third / m);
	if (m == 1)
		lim.max_P = lim.max_Q = 0;
	struct search s = { .y = y, .n = n, .cfg = &lim };
	s.base.m = m;
	if (an_is_constant(y, n))
		return degenerate(y, n, &s.base, y[0], true, out);
	int ret = choose_diffs(y, n, cfg, m, lim.max_P > 0 || lim.max_Q > 0, &s.base.d,
			       &s.base.D);
	if (ret < 0)
		return ret;
	if (s.base.d + (size_t)s.base.D * m + 3 > n)
		return -EINVAL;
	s.allow_c = cfg->allow_constant && s.base.d + s.base.D <= 1;
	double w0 = constant_diff(y, n, &s.base);
	if (!isnan(w0))
		return degenerate(y, n, &s.base, w0, s.allow_c, out);
	s.approx = cfg->approximation < 0 ? (n > 150 || m > 12) : cfg->approximation > 0;
	search_start(&s, m);
	while (step(&s))
		;
	if (s.approx)
		return refit_exact(&s, out);
	if (!s.best)
		return -EDOM;
	*out = s.best;
	return 0;
}

/* ======================================================================
 * The common forecaster entry point
 * ====================================================================== */

int an_forecast_arima(const double *y, size_t n, const struct an_forecast_cfg *cfg,
		      struct an_forecast_out *out)
{
	int ret = an_forecast_check(y, n, cfg, out, NULL);
	if (ret < 0)
		return ret;
	double level = cfg->level == 0.0 ? 0.95 : cfg->level;
	struct an_arima_auto_cfg ac;
	an_arima_auto_cfg_init(&ac, cfg->period > 1 ? (unsigned)cfg->period : 1);
	if (cfg->period > MAX_AR_ORDER)
		return -EINVAL;
	struct an_arima *a;
	ret = an_arima_auto(y, n, &ac, &a);
	if (ret < 0)
		return ret;
	ret = an_arima_forecast(a, cfg->h, level, out->mean, out->lower, out->upper);
	an_arima_destroy(a);
	return ret;
}
