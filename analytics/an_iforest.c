/*
 * an_iforest.c - the isolation forest of an_iforest.h and the time-series
 * detector an_detect_iforest built on it.
 *
 * an_detect_iforest (batch, NOT causal: the forest is trained on the whole
 * series, so score[i] depends on later points too): each finite x[i] becomes
 * a row of three features,
 *   x[i],
 *   x[i] - x[p]           p = the previous finite point (0 for the first),
 *   x[i] - mean(window)   the finite values among x[i-w .. i-1] (w =
 *                         cfg->window, default 16; 0 when there are none),
 * so a point stands out by its level, its jump, or its departure from the
 * recent level. Forest: 100 trees, psi = 256, seed cfg->seed (0 = fixed).
 * Flag when s > 0.5 + (thr - 0.5) * an_detect_sensitivity_scale(sensitivity),
 * thr = cfg->threshold in (0.5, 1), default 0.65 (so 0.575 .. 0.8 over the
 * sensitivity range). NaN/Inf points score 0 and are not flagged; with fewer
 * than two finite points every score is 0.
 *
 * Memory: the forest and the feature rows, freed before return. Any thread.
 */
#include "an_iforest.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cm_rand.h"

#define IF_TREES 100
#define IF_PSI 256
#define IF_SEED 0x15f0e57ULL
#define IF_WINDOW 16
#define IF_THRESHOLD 0.65
#define IF_DIM 3

/* A node: an inner node splits on feat at split, children at left, left + 1;
 * a leaf (feat < 0) holds size rows and keeps c(size) in split. */
struct if_node {
	double split;
	uint32_t left;
	int32_t feat;
	uint32_t size;
};

struct an_iforest {
	size_t dim;
	uint32_t ntrees;
	uint32_t max_nodes; /* per tree: 2 psi - 1 */
	double c_psi;
	struct if_node *nodes; /* ntrees x max_nodes */
};

double an_iforest_c(size_t n)
{
	if (n <= 1)
		return 0.0;
	if (n == 2)
		return 1.0;
	double m = (double)n;
	return 2.0 * (log(m - 1.0) + 0.5772156649015329) - 2.0 * (m - 1.0) / m;
}

/* ---- growing ------------------------------------------------------------ */

struct if_grow {
	const double *rows;
	size_t dim;
	uint32_t *idx;
	struct if_node *tree;
	uint32_t used;
	unsigned limit;
	uint64_t rng;
};

static double if_unit(uint64_t *s) /* in (0, 1) */
{
	return ((double)(cm_splitmix64(s) >> 11) + 0.5) * 0x1p-53;
}

/* Pick a non-constant feature of rows idx[0..cnt) and its range; -1 if none. */
static int if_pick(struct if_grow *g, const uint32_t *idx, uint32_t cnt, double *lo, double *hi)
{
	double mn[AN_IFOREST_MAX_DIM], mx[AN_IFOREST_MAX_DIM];
	int cand[AN_IFOREST_MAX_DIM], ncand = 0;
	for (size_t f = 0; f < g->dim; f++) {
		mn[f] = INFINITY;
		mx[f] = -INFINITY;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		const double *r = g->rows + (size_t)idx[i] * g->dim;
		for (size_t f = 0; f < g->dim; f++) {
			mn[f] = r[f] < mn[f] ? r[f] : mn[f];
			mx[f] = r[f] > mx[f] ? r[f] : mx[f];
		}
	}
	for (size_t f = 0; f < g->dim; f++)
		if (mx[f] > mn[f])
			cand[ncand++] = (int)f;
	if (!ncand)
		return -1;
	int f = cand[cm_splitmix64(&g->rng) % (uint64_t)ncand];
	*lo = mn[f];
	*hi = mx[f];
	return f;
}

static void if_grow_node(struct if_grow *g, uint32_t at, uint32_t *idx, uint32_t cnt,
			 unsigned depth)
{
	struct if_node *nd = &g->tree[at];
	double lo, hi;
	int f = -1;
	if (depth < g->limit && cnt > 1)
		f = if_pick(g, idx, cnt, &lo, &hi);
	if (f < 0) {
		*nd = (struct if_node){ .split = an_iforest_c(cnt), .feat = -1, .size = cnt };
		return;
	}
	double p = lo + if_unit(&g->rng) * (hi - lo);
	uint32_t nl = 0; /* partition: rows with value < p first */
	for (uint32_t i = 0; i < cnt; i++)
		if (g->rows[(size_t)idx[i] * g->dim + (size_t)f] < p) {
			uint32_t t = idx[i];
			idx[i] = idx[nl];
			idx[nl++] = t;
		}
	uint32_t left = g->used;
	g->used += 2;
	*nd = (struct if_node){ .split = p, .left = left, .feat = f, .size = cnt };
	if_grow_node(g, left, idx, nl, depth + 1);
	if_grow_node(g, left + 1, idx + nl, cnt - nl, depth + 1);
}

int an_iforest_fit(const double *rows, size_t nrows, size_t dim,
		   const struct an_iforest_cfg *cfg, struct an_iforest **out)
{
	static const struct an_iforest_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	if (!rows || !out || nrows < 2 || nrows > UINT32_MAX || dim == 0 ||
	    dim > AN_IFOREST_MAX_DIM || cfg->psi == 1)
		return -EINVAL;
	uint32_t psi = cfg->psi ? cfg->psi : IF_PSI;
	psi = psi < nrows ? psi : (uint32_t)nrows;
	struct an_iforest *f = calloc(1, sizeof(*f));
	uint32_t *idx = malloc(nrows * sizeof(*idx));
	if (!f || !idx)
		goto err_free;
	f->dim = dim;
	f->ntrees = cfg->ntrees ? cfg->ntrees : IF_TREES;
	f->max_nodes = 2 * psi - 1;
	f->c_psi = an_iforest_c(psi);
	f->nodes = malloc((size_t)f->ntrees * f->max_nodes * sizeof(*f->nodes));
	if (!f->nodes)
		goto err_free;
	struct if_grow g = { .rows = rows, .dim = dim, .idx = idx,
			     .rng = cfg->seed ? cfg->seed : IF_SEED };
	g.limit = (unsigned)ceil(log2((double)psi));
	for (size_t i = 0; i < nrows; i++)
		idx[i] = (uint32_t)i;
	for (uint32_t t = 0; t < f->ntrees; t++) {
		for (uint32_t i = 0; i < psi; i++) { /* partial Fisher-Yates */
			uint32_t j = i + (uint32_t)(cm_splitmix64(&g.rng) % (nrows - i));
			uint32_t tmp = idx[i];
			idx[i] = idx[j];
			idx[j] = tmp;
		}
		g.tree = f->nodes + (size_t)t * f->max_nodes;
		g.used = 1;
		if_grow_node(&g, 0, idx, psi, 0);
		assert(g.used <= f->max_nodes);
	}
	free(idx);
	*out = f;
	return 0;

err_free:
	free(idx);
	an_iforest_destroy(f);
	return -ENOMEM;
}

double an_iforest_score(const struct an_iforest *f, const double *row)
{
	double sum = 0.0;
	for (uint32_t t = 0; t < f->ntrees; t++) {
		const struct if_node *tree = f->nodes + (size_t)t * f->max_nodes;
		const struct if_node *nd = tree;
		unsigned depth = 0;
		while (nd->feat >= 0) {
			nd = tree + nd->left + (row[nd->feat] < nd->split ? 0 : 1);
			depth++;
		}
		sum += (double)depth + nd->split;
	}
	return exp2(-sum / (double)f->ntrees / f->c_psi);
}

void an_iforest_destroy(struct an_iforest *f)
{
	if (!f)
		return;
	free(f->nodes);
	free(f);
}

/* ---- the time-series detector ----------------------------------------- */

/* Feature rows of the finite points; pos[k] = the point of row k. */
static size_t if_features(const double *x, size_t n, size_t w, double *rows, size_t *pos)
{
	size_t k = 0, cnt = 0;
	double sum = 0.0, shift = 0.0, prev = NAN;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(x[i])) {
			if (k == 0)
				shift = x[i];
			double *r = rows + k * IF_DIM;
			r[0] = x[i];
			r[1] = isfinite(prev) ? x[i] - prev : 0.0;
			r[2] = cnt ? x[i] - (shift + sum / (double)cnt) : 0.0;
			pos[k++] = i;
			prev = x[i];
			sum += x[i] - shift;
			cnt++;
		}
		if (i >= w && isfinite(x[i - w])) { /* leaves the next window */
			sum -= x[i - w] - shift;
			cnt--;
		}
	}
	return k;
}

int an_detect_iforest(const double *x, size_t n, const struct an_detect_cfg *cfg,
		      double *score, uint8_t *flag)
{
	static const struct an_detect_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	if ((n && (!x || !score || !flag)) || cfg->window == 1 ||
	    !(cfg->threshold == 0.0 || (cfg->threshold > 0.5 && cfg->threshold < 1.0)) ||
	    !(cfg->sensitivity >= 0.0 && cfg->sensitivity <= 1.0))
		return -EINVAL;
	size_t w = cfg->window ? cfg->window : IF_WINDOW;
	double thr = cfg->threshold > 0.0 ? cfg->threshold : IF_THRESHOLD;
	double sflag = 0.5 + (thr - 0.5) * an_detect_sensitivity_scale(cfg->sensitivity);
	for (size_t i = 0; i < n; i++) {
		score[i] = 0.0;
		flag[i] = 0;
	}
	int rc = -ENOMEM;
	struct an_iforest *f = NULL;
	double *rows = malloc((n ? n : 1) * IF_DIM * sizeof(*rows));
	size_t *pos = malloc((n ? n : 1) * sizeof(*pos));
	if (!rows || !pos)
		goto out_free;
	size_t k = if_features(x, n, w, rows, pos);
	rc = 0;
	if (k < 2)
		goto out_free;
	struct an_iforest_cfg fc = { .seed = cfg->seed };
	rc = an_iforest_fit(rows, k, IF_DIM, &fc, &f);
	if (rc)
		goto out_free;
	for (size_t j = 0; j < k; j++) {
		double s = an_iforest_score(f, rows + j * IF_DIM);
		score[pos[j]] = s;
		flag[pos[j]] = s > sflag;
	}
	an_iforest_destroy(f);
out_free:
	free(pos);
	free(rows);
	return rc;
}
