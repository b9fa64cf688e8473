/*
 * mg_exec_run.c - running a SELECT plan: sources, groups, the bucket and
 * value matrices, fill, transformations, ordering and limits, INTO, and
 * subqueries (whose rows become the outer query's row sets).
 */
#include "mg_exec_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "mg_db.h"
#include "mg_result.h"
#include "st_index.h"
#include "st_series.h"

/*
 * The rows of one output series: times and ncols cells per row; the
 * order they print in is order[0..n) when order is set (raw rows of
 * several row sets, sorted by time), else row order.
 */
struct matrix {
	int64_t *ts;
	struct mg_cell *cells;
	size_t *order;
	size_t n, cap;
	uint32_t ncols;
};

static int mx_push(struct matrix *m, int64_t ts, const struct mg_cell *row)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		int64_t *t = realloc(m->ts, cap * sizeof(*t));
		if (t)
			m->ts = t;
		struct mg_cell *c = t ? realloc(m->cells, cap * m->ncols * sizeof(*c)) : NULL;
		if (!c)
			return -ENOMEM;
		m->cells = c;
		m->cap = cap;
	}
	m->ts[m->n] = ts;
	memcpy(m->cells + m->n * m->ncols, row, m->ncols * sizeof(*row));
	m->n++;
	return 0;
}

static void mx_release(struct matrix *m)
{
	free(m->ts);
	free(m->cells);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

static struct mg_cell xv_cell(const struct xv *v)
{
	struct mg_cell c = {.type = MG_CELL_NULL};
	switch (v->t) {
	case XV_F64: c.type = MG_CELL_F64; c.f = v->f; break;
	case XV_I64: c.type = MG_CELL_I64; c.i = v->i; break;
	case XV_BOOL: c.type = MG_CELL_BOOL; c.b = v->b; break;
	case XV_STR: c.type = MG_CELL_STR; c.s = v->s; break;
	default: break;
	}
	return c;
}

static struct xv point_xv(uint8_t vt, uint64_t bits)
{
	struct xv v = {.t = XV_NULL};
	switch (vt) {
	case ST_VT_F64: v.t = XV_F64; memcpy(&v.f, &bits, sizeof(v.f)); break;
	case ST_VT_I64: v.t = XV_I64; v.i = (int64_t)bits; break;
	case ST_VT_U64: v.t = XV_I64; v.i = (int64_t)bits; break;
	case ST_VT_BOOL: v.t = XV_BOOL; v.b = bits != 0; break;
	default: break;
	}
	return v;
}

/* ------------------------------------------------------------ raw rows */

/* The field conditions but condition `tested` (-1: none), which the row already passed. */
static bool residual_ok(struct qplan *p, const struct rowctx *r, int tested)
{
	for (uint32_t c = 0; c < p->nconds; c++)
		if (!p->conds[c].tag_only && (int)c != tested && !qp_test(p, p->conds[c].e, r))
			return false;
	return true;
}

/*
 * Walk the rows of a loaded row set: every timestamp any needed field has,
 * with each field's value or null, oldest first (newest first when desc).
 * fn gets each row that passes the residual condition and says whether it
 * kept it (1), skipped it (0) or failed (< 0); the walk stops after
 * max_kept kept rows.
 */
typedef int (*row_fn)(struct qplan *p, struct rowctx *r, void *arg);

static bool is_literal(const struct mg_expr *e)
{
	if (e->kind == MG_EX_NEG)
		e = e->lhs;
	return e->kind == MG_EX_INT || e->kind == MG_EX_FLOAT || e->kind == MG_EX_STRING ||
	       e->kind == MG_EX_BOOL;
}

/*
 * The statement's driving condition, if any: a WHERE conjunct that is false
 * wherever one field has no point, the field compared with a literal (a
 * comparison with null is false, != too). Sets p->drive_*; the literal is
 * evaluated here, once.
 */
static void plan_drive(struct qplan *p)
{
	p->drive_cond = -1;
	for (uint32_t c = 0; c < p->nconds; c++) {
		const struct mg_expr *e = p->conds[c].e;
		if (p->conds[c].tag_only || e->kind != MG_EX_BINARY || e->op < MG_OP_EQ ||
		    e->op > MG_OP_GTE)
			continue;
		bool field_left = is_literal(e->rhs);
		const struct mg_expr *ref = field_left ? e->lhs : is_literal(e->lhs) ? e->rhs : NULL;
		if (!ref || ref->kind != MG_EX_REF || qp_ref_kind(p, ref) != QR_FIELD ||
		    qp_ref_field(p, ref) < 0)
			continue;
		struct rowctx none = {0};
		p->drive_cond = (int)c;
		p->drive_field = qp_ref_field(p, ref);
		p->drive_field_left = field_left;
		qp_eval(p, field_left ? e->rhs : e->lhs, &none, &p->drive_lit);
		return;
	}
}

/* The field's value at t if its next point in walk order is at t (then taken), else null. */
static void take_at(const struct qfcol *c, size_t *left, bool desc, int64_t t, struct xv *v)
{
	size_t i = desc ? *left - 1 : c->pts.n - *left;
	if (*left && c->pts.ts[i] == t) {
		*v = point_xv(c->vt, c->pts.vals[i]);
		(*left)--;
	} else {
		v->t = XV_NULL;
	}
}

/* A row assembled: fn's answer if it passes the residual condition, else 0 (skipped). */
static int row_done(struct qplan *p, struct rowctx *r, int tested, row_fn fn, void *arg)
{
	return residual_ok(p, r, tested) ? fn(p, r, arg) : 0;
}

/*
 * Pass field points before t in walk order (ascending: older; descending:
 * newer), galloping from the next one: a pass of k points costs O(log k),
 * and a walk over the whole field O(n).
 */
static void skip_to(const struct st_points *pt, size_t *left, bool desc, int64_t t)
{
	const int64_t *ts = pt->ts;
	size_t step = 1;
	if (!*left)
		return;
	if (!desc) {
		size_t lo = pt->n - *left, hi; /* ts[lo] < t once past the test */
		if (ts[lo] >= t)
			return;
		while ((hi = lo + step) < pt->n && ts[hi] < t) {
			lo = hi;
			step *= 2;
		}
		hi = CM_MIN(hi, pt->n); /* ts[hi] >= t, or the end */
		*left = pt->n - (lo + 1 + st_ts_lower_bound(ts + lo + 1, hi - lo - 1, t));
		return;
	}
	size_t hi = *left - 1; /* ts[hi] > t once past the test (so t + 1 cannot overflow) */
	if (ts[hi] <= t)
		return;
	while (hi >= step && ts[hi - step] > t) {
		hi -= step;
		step *= 2;
	}
	size_t base = hi >= step ? hi - step + 1 : 0; /* ts[base - 1] <= t */
	*left = base + st_ts_lower_bound(ts + base, hi - base, t + 1);
}

/*
 * walk_rows when a conjunct needs field df (driving_cond): only that
 * field's times can pass, so the walk goes over its points, tests the
 * conjunct on its value alone, and assembles the other fields (found by
 * binary search) only for the rows that pass it.
 */
static int walk_driven(struct qplan *p, struct rowset *rs, bool desc, uint64_t max_kept,
		       row_fn fn, void *arg)
{
	int df = p->drive_field;
	size_t left[QP_FIELDS_MAX];
	struct xv vals[QP_FIELDS_MAX];
	struct rowctx r = {.tags = rs->tags, .ntags = rs->ntags, .fields = vals};
	for (uint32_t f = 0; f < p->nfields; f++) {
		left[f] = rs->f[f].pts.n;
		vals[f].t = XV_NULL;
	}
	const struct st_points *dp = &rs->f[df].pts;
	enum mg_op op = p->conds[p->drive_cond].e->op;
	const struct xv *lit = &p->drive_lit;
	for (size_t k = 0, kept = 0; k < dp->n && kept < max_kept; k++) {
		size_t i = desc ? dp->n - 1 - k : k;
		r.ts = dp->ts[i];
		vals[df] = point_xv(rs->f[df].vt, dp->vals[i]);
		if (!(p->drive_field_left ? qp_compare(op, &vals[df], lit)
					  : qp_compare(op, lit, &vals[df])))
			continue;
		for (uint32_t f = 0; f < p->nfields; f++)
			if ((int)f != df) {
				skip_to(&rs->f[f].pts, &left[f], desc, r.ts);
				take_at(&rs->f[f], &left[f], desc, r.ts, &vals[f]);
			}
		int rc = row_done(p, &r, p->drive_cond, fn, arg);
		if (rc < 0)
			return rc;
		kept += (uint64_t)rc;
	}
	return 0;
}

static int walk_rows(struct qplan *p, struct rowset *rs, bool desc, uint64_t max_kept, row_fn fn,
		     void *arg)
{
	if (p->drive_cond >= 0)
		return walk_driven(p, rs, desc, max_kept, fn, arg);
	size_t left[QP_FIELDS_MAX];  /* points not walked yet, per field */
	struct xv vals[QP_FIELDS_MAX];
	struct rowctx r = {.tags = rs->tags, .ntags = rs->ntags, .fields = vals};
	for (uint32_t f = 0; f < p->nfields; f++)
		left[f] = rs->f[f].pts.n;
	for (uint64_t kept = 0; kept < max_kept;) {
		int64_t t = 0;
		bool any = false;
		for (uint32_t f = 0; f < p->nfields; f++) {
			const struct st_points *pt = &rs->f[f].pts;
			if (!left[f])
				continue;
			int64_t ft = pt->ts[desc ? left[f] - 1 : pt->n - left[f]];
			if (!any || (desc ? ft > t : ft < t))
				t = ft;
			any = true;
		}
		if (!any)
			return 0;
		for (uint32_t f = 0; f < p->nfields; f++)
			take_at(&rs->f[f], &left[f], desc, t, &vals[f]);
		r.ts = t;
		int rc = row_done(p, &r, -1, fn, arg);
		if (rc < 0)
			return rc;
		kept += (uint64_t)rc;
	}
	return 0;
}

/*
 * Where a raw column's value comes from, resolved once per row set: a field
 * of the row, a tag of the row set (the same for each of its rows), or an
 * expression to evaluate.
 */
struct colsrc {
	enum qref_kind kind;         /* QR_FIELD, QR_TAG, else evaluate */
	int field;
	const char *tag;
};

struct raw_arg {
	struct matrix *m;
	struct mg_cell *row;
	struct colsrc src[QP_COLS_MAX];
};

static void raw_sources(struct qplan *p, const struct rowset *rs, struct colsrc *src)
{
	for (uint32_t c = 0; c < p->ncols; c++) {
		const struct mg_expr *e = p->cols[c].expr;
		src[c] = (struct colsrc){.kind = qp_ref_kind(p, e), .field = qp_ref_field(p, e)};
		if (src[c].kind == QR_TAG)
			src[c].tag = qp_tag(rs->tags, rs->ntags, e->s);
	}
}

static int raw_row(struct qplan *p, struct rowctx *r, void *arg)
{
	struct raw_arg *a = arg;
	bool any = false, anyfield = false;
	for (uint32_t c = 0; c < p->ncols; c++) {
		const struct colsrc *src = &a->src[c];
		struct xv v;
		if (src->kind == QR_FIELD)
			v = r->fields[src->field];
		else if (src->kind == QR_TAG)
			v = (struct xv){.t = XV_STR, .s = src->tag};
		else
			qp_eval(p, p->cols[c].expr, r, &v);
		a->row[c] = xv_cell(&v);
		if (p->cols[c].reads_field) {
			anyfield = true;
			any |= v.t != XV_NULL;
		}
	}
	if (anyfield && !any)
		return 0;
	int rc = mx_push(a->m, r->ts, a->row);
	return rc ? rc : 1;
}

/* Stable order of rows by time across the row sets of a group. */
struct rowref {
	int64_t ts;
	size_t i;
};

static int rowref_cmp(const void *x, const void *y)
{
	const struct rowref *a = x, *b = y;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* The print order of m's rows by time, stable (m->order); none when already in order. */
static int sort_rows(struct matrix *m)
{
	bool sorted = true;
	for (size_t i = 1; i < m->n && sorted; i++)
		sorted = m->ts[i - 1] <= m->ts[i];
	if (sorted)
		return 0;
	struct rowref *r = malloc(m->n * sizeof(*r));
	m->order = malloc(m->n * sizeof(*m->order));
	if (!r || !m->order) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++)
		r[i] = (struct rowref){m->ts[i], i};
	qsort(r, m->n, sizeof(*r), rowref_cmp);
	for (size_t i = 0; i < m->n; i++)
		m->order[i] = r[i].i;
	free(r);
	return 0;
}

/* Rows moved into their print order (for the transformations, which run along time). */
static int apply_order(struct matrix *m)
{
	if (!m->order)
		return 0;
	struct matrix o = {.ncols = m->ncols};
	int rc = 0;
	for (size_t i = 0; i < m->n && rc == 0; i++)
		rc = mx_push(&o, m->ts[m->order[i]], m->cells + m->order[i] * m->ncols);
	if (rc) {
		mx_release(&o);
		return rc;
	}
	mx_release(m);
	*m = o;
	return 0;
}

/*
 * Every field read is a column of its own, so a row (a time some field has)
 * is never dropped as all-null: then the rows nearest an end are made of
 * the points nearest it (SELECT a + b ... LIMIT 1 is not: a row with a
 * alone is dropped and the answer may lie further back).
 */
static bool fields_shown(const struct qplan *p)
{
	bool shown[QP_FIELDS_MAX] = {false};
	for (uint32_t c = 0; c < p->ncols; c++) {
		int f = qp_ref_field(p, p->cols[c].expr);
		if (f >= 0)
			shown[f] = true;
	}
	for (uint32_t f = 0; f < p->nfields; f++)
		if (!shown[f])
			return false;
	return true;
}

/*
 * Raw rows of a group. With LIMIT and no transformation, a row set can
 * contribute at most OFFSET + LIMIT rows to the printed ones, taken from the
 * end ORDER BY asks for: only those are evaluated (lastpoint: one row per
 * series instead of a day of them). Without a residual condition those rows
 * lie among the OFFSET + LIMIT points of each field nearest that end (a row
 * is a time some field has), so only those are read: for LIMIT 1, from
 * the block summaries alone.
 */
static int run_raw(struct qplan *p, struct rowset *rs, uint32_t n, struct matrix *m)
{
	struct mg_cell row[QP_COLS_MAX];
	struct raw_arg a = {.m = m, .row = row};
	const struct mg_select *s = p->sel;
	uint64_t max_kept = UINT64_MAX;
	if (s->limit > 0 && !p->has_xform)
		max_kept = (uint64_t)s->limit + (uint64_t)(s->offset > 0 ? s->offset : 0);
	int rc = 0;
	bool ends = max_kept != UINT64_MAX && !p->has_residual && fields_shown(p);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		rc = ql_load_ends(p, &rs[i], ends ? max_kept : 0, s->order_desc);
		raw_sources(p, &rs[i], a.src);
		if (rc == 0)
			rc = walk_rows(p, &rs[i], s->order_desc, max_kept, raw_row, &a);
		ql_unload(p, &rs[i]);
	}
	return rc ? rc : sort_rows(m);
}

/* ------------------------------------------------------------ aggregates */

/*
 * The buckets of a group: without tz() fixed-width windows from the epoch,
 * row b = absolute bucket b0 + b; with tz() the zone's windows
 * (mg_tz_window), row b = [edges[b], edges[b + 1]).
 */
struct buckets {
	int64_t b0;            /* absolute bucket index of row 0 (fixed width) */
	int64_t nb;
	int64_t *edges;        /* tz(): nb + 1 instants; NULL: fixed width */
	size_t edges_bytes;    /* what edges count toward the memory guardrail */
	struct mg_acc *acc;    /* nb * nslots */
};

/* The row of the bucket holding ts (outside [0, nb) when no row has it) and where it ends. */
static int64_t bucket_of(const struct qplan *p, const struct buckets *bk, int64_t ts,
			 int64_t *end)
{
	if (!p->interval) {
		*end = INT64_MAX;
		return 0;
	}
	if (bk->edges) {
		if (ts < bk->edges[0]) {
			*end = bk->edges[0];
			return -1;
		}
		if (ts >= bk->edges[bk->nb]) {
			*end = INT64_MAX;
			return bk->nb;
		}
		/* the last edge <= ts: edges[1..nb] has one > ts (ts < edges[nb], so ts + 1 fits) */
		int64_t lo = (int64_t)st_ts_lower_bound(bk->edges + 1, (size_t)bk->nb, ts + 1);
		*end = bk->edges[lo + 1];
		return lo;
	}
	int64_t ab = qp_bucket_index(p, ts), b;
	/* the bucket's end; where that overflows, a run of one point */
	if (__builtin_mul_overflow(ab + 1, p->interval, end) ||
	    __builtin_add_overflow(*end, p->offset, end))
		*end = ts == INT64_MAX ? INT64_MAX : ts + 1;
	if (__builtin_sub_overflow(ab, bk->b0, &b))
		return ab < bk->b0 ? -1 : bk->nb; /* far outside the rows either way */
	return b;
}

static int64_t bucket_start(const struct qplan *p, const struct buckets *bk, int64_t b)
{
	return bk->edges ? bk->edges[b] : (bk->b0 + b) * p->interval + p->offset;
}

/* A row that passed the residual condition: its fields into its bucket's accumulators. */
static int agg_row(struct qplan *p, struct rowctx *r, void *arg)
{
	struct buckets *bk = arg;
	int64_t end, b = bucket_of(p, bk, r->ts, &end);
	if (b < 0 || b >= bk->nb)
		return 0;
	for (uint32_t s = 0; s < p->nslots; s++) {
		const struct xv *v = &r->fields[p->slots[s].field];
		struct mg_acc *a = &bk->acc[b * p->nslots + s];
		if (v->t == XV_I64)
			mg_acc_add_i64(a, r->ts, v->i, p->slots[s].keep);
		else if (v->t == XV_F64)
			mg_acc_add_f64(a, r->ts, v->f, p->slots[s].keep);
		else if (v->t == XV_BOOL)
			mg_acc_add_i64(a, r->ts, v->b, p->slots[s].keep);
	}
	return 0;
}

static enum mg_run_kind run_kind(uint8_t vt)
{
	return vt == ST_VT_F64 ? MG_RUN_F64 : vt == ST_VT_BOOL ? MG_RUN_BOOL : MG_RUN_I64;
}

/*
 * Without a residual condition each slot reads its field column straight:
 * the points of one bucket go to its accumulator as one run (one division
 * per bucket, not per point).
 */
static void feed_columns(struct qplan *p, struct rowset *rs, struct buckets *bk)
{
	for (uint32_t s = 0; s < p->nslots; s++) {
		const struct qfcol *c = &rs->f[p->slots[s].field];
		const struct qslot *sl = &p->slots[s];
		unsigned flags = (sl->keep ? MG_RUN_KEEP : 0u) |
				 (sl->fn == MG_AGG_STDDEV ? MG_RUN_M2 : 0u) |
				 (sl->fn == MG_AGG_MIN || sl->fn == MG_AGG_MAX ||
				  sl->fn == MG_AGG_SPREAD ? MG_RUN_MINMAX : 0u);
		if (c->vt != ST_VT_F64 && c->vt != ST_VT_I64 && c->vt != ST_VT_U64 &&
		    c->vt != ST_VT_BOOL)
			continue;
		for (size_t i = 0, j; i < c->pts.n; i = j) {
			int64_t end;
			int64_t b = bucket_of(p, bk, c->pts.ts[i], &end);
			for (j = i + 1; j < c->pts.n && c->pts.ts[j] < end; j++)
				;
			if (b >= 0 && b < bk->nb)
				mg_acc_add_run(&bk->acc[b * p->nslots + s], c->pts.ts + i,
					       c->pts.vals + i, j - i, run_kind(c->vt), flags);
		}
		/* the chunks answered by their summaries, each inside one bucket */
		for (size_t i = 0; i < c->sums.n; i++) {
			const struct st_block_summary *u = &c->sums.v[i];
			int64_t end, b = bucket_of(p, bk, u->t_min, &end);
			struct mg_run_sum sum = {.n = u->count, .t_first = u->t_min, .t_last = u->t_max,
						.first = u->first, .last = u->last, .min = u->min,
						.max = u->max, .isum = u->sum.i64};
			sum.fsum = c->vt == ST_VT_F64   ? u->sum.f64
				  : c->vt == ST_VT_I64 ? (double)u->sum.i64
						       : (double)u->sum.u64;
			if (b >= 0 && b < bk->nb)
				mg_acc_add_sum(&bk->acc[b * p->nslots + s], &sum, run_kind(c->vt));
		}
	}
}

/*
 * Can block chunk summaries stand for points? Every slot's function must be
 * computable from them (not the value-keeping ones, nor stddev; min and max
 * not where their points' times are printed), buckets fixed-width and
 * known before the read (not an unbounded start, which needs the group's
 * points first), and no condition read per row.
 */
static bool sums_usable(const struct qplan *p)
{
	if ((p->interval && !p->tmin_set) || p->tz || p->has_residual || p->nslots == 0)
		return false;
	for (uint32_t s = 0; s < p->nslots; s++) {
		switch (p->slots[s].fn) {
		case MG_AGG_COUNT: case MG_AGG_SUM: case MG_AGG_MEAN: case MG_AGG_SPREAD:
		case MG_AGG_FIRST: case MG_AGG_LAST:
			break;
		case MG_AGG_MIN: case MG_AGG_MAX:
			if (p->selector_time)
				return false;
			break;
		default:
			return false;
		}
		if (p->slots[s].keep)
			return false;
	}
	return true;
}

/*
 * tz(): the zone's windows from the one holding lo to the one holding
 * p->tmax, at most max of them. 0, -E2BIG, -ENOMEM.
 */
static int tz_edges(struct qplan *p, int64_t lo, uint64_t max, struct buckets *bk)
{
	/* DST moves an edge by less than a bucket: at most one bucket more than in UTC */
	uint64_t span = ((uint64_t)p->tmax - (uint64_t)lo) / (uint64_t)p->interval;
	if (span >= max)
		return -E2BIG;
	uint64_t guess = span + 3; /* <= max + 2: no wrap */
	/* the edges and the accumulators they will need pass the memory guardrail first */
	int rc = ql_fits(p, guess + 1, sizeof(*bk->edges) + p->nslots * sizeof(*bk->acc), "buckets");
	if (rc)
		return rc;
	bk->edges = malloc((guess + 1) * sizeof(*bk->edges)); /* ql_fits: no overflow */
	if (!bk->edges)
		return -ENOMEM;
	int64_t s, e;
	mg_tz_window(p->tz, p->interval, p->offset, lo, &s, &e);
	bk->edges[0] = s;
	for (bk->nb = 1;; bk->nb++) {
		bk->edges[bk->nb] = e;
		if (e > p->tmax || e == INT64_MAX || bk->nb == (int64_t)guess)
			break;
		/* the next window starts where this one ends (test_mg_tz walks a year of them) */
		mg_tz_window(p->tz, p->interval, p->offset, e, &s, &e);
		if (bk->nb % 4096 == 0 && (rc = ql_check(p, 0)) != 0) { /* timeout, kill */
			free(bk->edges);
			bk->edges = NULL;
			return rc;
		}
	}
	if ((uint64_t)bk->nb > max) {
		free(bk->edges);
		bk->edges = NULL;
		return -E2BIG;
	}
	p->held_bytes += (size_t)(guess + 1) * sizeof(*bk->edges); /* until run_agg frees them */
	bk->edges_bytes = (size_t)(guess + 1) * sizeof(*bk->edges);
	return 0;
}

/* The bucket range: from tmin (or the group's first point) to tmax. */
static int bucket_range(struct qplan *p, struct rowset *rs, uint32_t n, struct buckets *bk)
{
	if (!p->interval) {
		bk->b0 = 0;
		bk->nb = 1;
		return 0;
	}
	int64_t lo = p->tmin;
	if (!p->tmin_set) {
		lo = INT64_MAX;
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t f = 0; f < p->nfields; f++)
				if (rs[i].f[f].pts.n && rs[i].f[f].pts.ts[0] < lo)
					lo = rs[i].f[f].pts.ts[0];
		if (lo == INT64_MAX) {
			bk->nb = 0;
			return 0;
		}
	}
	uint64_t max = p->cx->limits.max_buckets;
	if (p->tz) {
		int rc = tz_edges(p, lo, max ? max : QP_TZ_BUCKETS_MAX, bk);
		if (rc != -E2BIG)
			return rc;
		/* for the message */
		bk->nb = (int64_t)(((uint64_t)p->tmax - (uint64_t)lo) / (uint64_t)p->interval) + 1;
		max = max ? max : QP_TZ_BUCKETS_MAX;
	} else {
		bk->b0 = qp_bucket_index(p, lo);
		if (__builtin_sub_overflow(qp_bucket_index(p, p->tmax), bk->b0, &bk->nb) ||
		    __builtin_add_overflow(bk->nb, 1, &bk->nb))
			bk->nb = INT64_MAX;
	}
	if (bk->nb <= 0 || (max && (uint64_t)bk->nb > max)) {
		snprintf(p->err, sizeof(p->err), "max-select-buckets limit exceeded: (%lld/%llu)",
			 (long long)bk->nb, (unsigned long long)max);
		return -E2BIG;
	}
	return 0;
}

static bool is_num_cell(const struct mg_cell *x)
{
	return x->type == MG_CELL_I64 || x->type == MG_CELL_F64;
}

/*
 * A hole: a null cell whose bucket has no points of the column's field(s),
 * the cells fill() replaces (a null an aggregate computed over points, such
 * as stddev of one value, stays null, as in InfluxDB). Marked in the null
 * cell's unused payload.
 */
#define CELL_HOLE 1

static bool is_hole(const struct mg_cell *x)
{
	return x->type == MG_CELL_NULL && x->i == CELL_HOLE;
}

/* Did any aggregate call in e see points in bucket b? */
static bool col_has_points(const struct qplan *p, const struct mg_expr *e,
			   const struct buckets *bk, int64_t b)
{
	switch (e->kind) {
	case MG_EX_CALL:
		for (uint32_t s = 0; s < p->nslots; s++)
			if (p->slots[s].call == e)
				return bk->acc[b * p->nslots + s].n > 0;
		return false;
	case MG_EX_BINARY:
		return col_has_points(p, e->lhs, bk, b) || col_has_points(p, e->rhs, bk, b);
	case MG_EX_NEG:
		return col_has_points(p, e->lhs, bk, b);
	default:
		return false;
	}
}

/* fill(linear) of column c: the null runs between two values, as InfluxDB computes them. */
static void fill_linear(struct matrix *m, uint32_t c)
{
	size_t prev = SIZE_MAX;
	for (size_t i = 0; i < m->n; i++) {
		const struct mg_cell *x = &m->cells[i * m->ncols + c];
		if (!is_num_cell(x))
			continue;
		for (size_t k = prev == SIZE_MAX ? i : prev + 1; k < i; k++) {
			const struct mg_cell *a = &m->cells[prev * m->ncols + c];
			struct mg_cell *y = &m->cells[k * m->ncols + c];
			if (!is_hole(y))
				continue;
			double av = a->type == MG_CELL_I64 ? (double)a->i : a->f;
			double xv = x->type == MG_CELL_I64 ? (double)x->i : x->f;
			double v = av + (xv - av) * (double)(m->ts[k] - m->ts[prev]) /
					    (double)(m->ts[i] - m->ts[prev]);
			if (a->type == MG_CELL_I64 && x->type == MG_CELL_I64)
				*y = (struct mg_cell){.type = MG_CELL_I64, .i = (int64_t)v};
			else
				*y = (struct mg_cell){.type = MG_CELL_F64, .f = v};
		}
		prev = i;
	}
}

/*
 * fill() per column, as InfluxDB runs one iterator per column: a null cell
 * (a bucket without points of that column's field, in a group that has the
 * field in some bucket) becomes count()'s 0
 * under fill(null), the fill value in the column's type, the previous value
 * in output order (ORDER BY time DESC: the later bucket's), or the linear
 * interpolation of its neighbours.
 */
static void fill_columns(struct qplan *p, struct matrix *m, const bool *col_points,
			 const bool *col_int)
{
	const struct mg_select *s = p->sel;
	bool desc = s->order_desc;
	for (uint32_t c = 0; c < m->ncols; c++) {
		if (s->fill == MG_FILL_LINEAR) {
			fill_linear(m, c);
			continue;
		}
		/* a column no bucket has points of (its field is absent from the group:
		 * InfluxDB has no iterator to fill) stays null */
		if (!col_points[c])
			continue;
		/* the column's type: its first value's (col_int: one outside a window),
		 * else the fill literal's */
		size_t i = 0;
		while (i < m->n && !is_num_cell(&m->cells[i * m->ncols + c]))
			i++;
		bool is_int = i < m->n ? m->cells[i * m->ncols + c].type == MG_CELL_I64
			      : col_int ? col_int[c]
					: s->fill_value_int;
		const struct mg_cell *prev = NULL;
		for (size_t k = 0; k < m->n; k++) {
			struct mg_cell *x = &m->cells[(desc ? m->n - 1 - k : k) * m->ncols + c];
			if (x->type != MG_CELL_NULL) {
				prev = x;
				continue;
			}
			if (!is_hole(x))
				continue;
			if (s->fill == MG_FILL_NULL && p->cols[c].count)
				*x = (struct mg_cell){.type = MG_CELL_I64, .i = 0};
			else if (s->fill == MG_FILL_VALUE && is_int)
				*x = (struct mg_cell){.type = MG_CELL_I64, .i = s->fill_int};
			else if (s->fill == MG_FILL_VALUE)
				*x = (struct mg_cell){.type = MG_CELL_F64, .f = s->fill_value};
			else if (s->fill == MG_FILL_PREVIOUS && prev)
				*x = *prev;
		}
	}
}

/* GROUP BY time with LIMIT: the buckets read may be a window of the range (agg_window). */
struct window {
	bool narrowed;
	bool any;                          /* the group has points in the whole range */
	bool col_points[QP_COLS_MAX];      /* column c has, somewhere in it */
	bool col_int[QP_COLS_MAX];         /* and its values are integers */
};

/* Bucket results -> rows (empty buckets as null rows unless fill(none)), then fill. */
static int agg_rows(struct qplan *p, struct buckets *bk, const struct window *w,
		    struct matrix *m)
{
	struct mg_num res[QP_SLOTS_MAX];
	struct mg_cell row[QP_COLS_MAX];
	bool col_points[QP_COLS_MAX] = {false};
	int rc = 0;
	bool any = false;
	for (int64_t b = 0; b < bk->nb && rc == 0; b++) {
		bool data = false;
		for (uint32_t s = 0; s < p->nslots && rc == 0; s++) {
			struct mg_acc *a = &bk->acc[b * p->nslots + s];
			res[s] = mg_acc_result(a, p->slots[s].fn, p->slots[s].arg);
			data |= a->n > 0;
			if (a->oom) { /* a kept value was lost: no answer rather than a wrong one */
				snprintf(p->err, sizeof(p->err),
					 "out of memory keeping the values of %s()",
					 mg_agg_name((enum mg_agg_fn)p->slots[s].fn));
				rc = -ENOMEM;
			}
		}
		if (rc)
			break;
		any |= data;
		int64_t ts = p->interval ? bucket_start(p, bk, b) : (p->tmin_set ? p->tmin : 0);
		if (!data && (!p->interval || p->sel->fill == MG_FILL_NONE))
			continue;
		struct rowctx r = {.slots = res, .ts = ts};
		for (uint32_t c = 0; c < p->ncols; c++) {
			struct xv v = {.t = XV_NULL};
			bool points = data && col_has_points(p, p->cols[c].expr, bk, b);
			if (points)
				qp_eval(p, p->cols[c].expr, &r, &v);
			row[c] = xv_cell(&v);
			if (!points)
				row[c].i = CELL_HOLE;
			col_points[c] |= points;
		}
		if (p->selector_time && res[0].valid)
			ts = res[0].ts;
		rc = mx_push(m, ts, row);
	}
	if (w) { /* the buckets are a window: the whole range decides */
		any = w->any;
		memcpy(col_points, w->col_points, p->ncols * sizeof(col_points[0]));
	}
	/* a group whose points the WHERE rejected has no series at all */
	if (!any)
		m->n = 0;
	else if (rc == 0 && p->sel->fill != MG_FILL_NONE)
		fill_columns(p, m, col_points, w ? w->col_int : NULL);
	return rc;
}

/*
 * GROUP BY time with LIMIT prints only the first (last, DESC) OFFSET + LIMIT
 * buckets: only their time range is read. Whether the group has points at
 * all, and which columns do (a group without any has no series, a column
 * without any is not filled), is decided over the whole range from each
 * series' oldest point there (the block summaries), which also gives an
 * unbounded start: the group's first point. Not with a field condition
 * (that needs every row), a transformation or fill(linear) (they look past
 * those buckets), fill(none), which skips the empty ones, nor tz() (its
 * buckets are not all one width). The caller
 * restores p->tmin, tmin_set and tmax.
 */
static int agg_window(struct qplan *p, struct rowset *rs, uint32_t n, struct window *w)
{
	const struct mg_select *s = p->sel;
	w->narrowed = false;
	if (!p->interval || s->limit <= 0 || s->limit > (1 << 20) || s->offset > (1 << 20) ||
	    p->has_residual || p->has_xform || s->fill == MG_FILL_LINEAR || p->tz ||
	    s->fill == MG_FILL_NONE || p->nslots == 0)
		return 0;
	int64_t nbk = s->limit + (s->offset > 0 ? s->offset : 0);
	int64_t lo = INT64_MAX;
	struct xv first[QP_FIELDS_MAX];   /* a point of each field (its type) */
	for (uint32_t f = 0; f < p->nfields; f++)
		first[f].t = XV_NULL;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		rc = ql_load_ends(p, &rs[i], 1, false);
		for (uint32_t f = 0; rc == 0 && f < p->nfields; f++)
			if (rs[i].f[f].pts.n) {
				if (first[f].t == XV_NULL)
					first[f] = point_xv(rs[i].f[f].vt, rs[i].f[f].pts.vals[0]);
				lo = CM_MIN(lo, rs[i].f[f].pts.ts[0]);
			}
		ql_unload(p, &rs[i]);
	}
	if (rc || lo == INT64_MAX)
		return rc;
	/*
	 * Which columns have points, and of which type: the columns over one
	 * bucket holding one point of each field, standing for the range.
	 */
	struct mg_acc one[QP_SLOTS_MAX];
	struct mg_num res[QP_SLOTS_MAX];
	struct buckets all = {.nb = 1, .acc = one};
	for (uint32_t k = 0; k < p->nslots; k++) {
		const struct xv *v = &first[p->slots[k].field];
		mg_acc_init(&one[k]);
		if (v->t == XV_F64)
			mg_acc_add_f64(&one[k], lo, v->f, p->slots[k].keep);
		else if (v->t != XV_NULL)
			mg_acc_add_i64(&one[k], lo, v->t == XV_BOOL ? v->b : v->i, p->slots[k].keep);
		res[k] = mg_acc_result(&one[k], p->slots[k].fn, p->slots[k].arg);
		mg_acc_release(&one[k]);
		one[k].n = v->t != XV_NULL; /* all col_has_points reads */
		w->any |= one[k].n > 0;
	}
	struct rowctx r = {.slots = res, .ts = lo};
	for (uint32_t c = 0; c < p->ncols; c++) {
		struct xv v = {.t = XV_NULL};
		w->col_points[c] = col_has_points(p, p->cols[c].expr, &all, 0);
		if (w->col_points[c])
			qp_eval(p, p->cols[c].expr, &r, &v);
		w->col_int[c] = v.t == XV_I64;
	}
	if (!p->tmin_set) {
		p->tmin = lo;
		p->tmin_set = true;
	}
	int64_t b0 = qp_bucket_index(p, p->tmin), b1 = qp_bucket_index(p, p->tmax), edge, span;
	if (!__builtin_sub_overflow(b1, b0, &span) && span < nbk)
		return 0;
	w->narrowed = true;
	if (!s->order_desc) {
		/* the last nanosecond of bucket b0 + nbk - 1 */
		if (!__builtin_mul_overflow(b0 + nbk, p->interval, &edge) &&
		    !__builtin_add_overflow(edge, p->offset - 1, &edge) && edge < p->tmax)
			p->tmax = edge;
	} else if (!__builtin_mul_overflow(b1 - nbk + 1, p->interval, &edge) &&
		   !__builtin_add_overflow(edge, p->offset, &edge) && edge > p->tmin) {
		p->tmin = edge;
	}
	return 0;
}

static int run_agg(struct qplan *p, struct rowset *rs, uint32_t n, struct matrix *m)
{
	struct buckets bk = {0};
	int64_t tmin = p->tmin, tmax = p->tmax;
	bool tmin_set = p->tmin_set;
	struct window w = {0};
	int rc = agg_window(p, rs, n, &w);
	/* an unbounded start needs the group's first point: load the group first */
	bool preload = p->interval && !p->tmin_set;
	for (uint32_t i = 0; preload && i < n && rc == 0; i++)
		rc = ql_load(p, &rs[i]);
	if (rc == 0)
		rc = bucket_range(p, rs, n, &bk);
	size_t nacc = 0;
	if (rc == 0 && bk.nb > 0) {
		/* the accumulators count toward the memory guardrail before they exist */
		rc = ql_fits(p, (uint64_t)bk.nb, (size_t)p->nslots * sizeof(*bk.acc), "buckets");
		nacc = rc ? 0 : (size_t)bk.nb * p->nslots;
	}
	if (nacc) {
		bk.acc = malloc(nacc * sizeof(*bk.acc));
		if (!bk.acc)
			rc = -ENOMEM;
		for (size_t i = 0; bk.acc && i < nacc; i++)
			mg_acc_init(&bk.acc[i]);
		p->held_bytes += nacc * sizeof(*bk.acc);
		bool sums = sums_usable(p);
		for (uint32_t i = 0; i < n && rc == 0; i++) {
			rc = sums ? ql_load_sums(p, &rs[i]) : ql_load(p, &rs[i]);
			if (rc == 0 && p->has_residual)
				rc = walk_rows(p, &rs[i], false, UINT64_MAX, agg_row, &bk);
			else if (rc == 0)
				feed_columns(p, &rs[i], &bk);
			ql_unload(p, &rs[i]);
		}
		if (rc == 0)
			rc = agg_rows(p, &bk, w.narrowed ? &w : NULL, m);
		for (size_t i = 0; bk.acc && i < nacc; i++)
			mg_acc_release(&bk.acc[i]);
		p->held_bytes -= nacc * sizeof(*bk.acc);
		free(bk.acc);
	}
	free(bk.edges);
	p->held_bytes -= bk.edges_bytes;
	for (uint32_t i = 0; i < n; i++)
		ql_unload(p, &rs[i]);
	p->tmin = tmin;
	p->tmax = tmax;
	p->tmin_set = tmin_set;
	return rc;
}

/* ------------------------------------------------------------ transformations */

static int apply_xforms(struct qplan *p, struct matrix *m)
{
	if (!p->has_xform || m->n == 0)
		return 0;
	int rc0 = apply_order(m);
	if (rc0)
		return rc0;
	struct mg_num *in = malloc(m->n * sizeof(*in)), *out = malloc(m->n * sizeof(*out));
	int rc = in && out ? 0 : -ENOMEM;
	for (uint32_t c = 0; c < p->ncols && rc == 0; c++) {
		const struct qcol *q = &p->cols[c];
		if (q->xform < 0)
			continue;
		for (size_t i = 0; i < m->n; i++) {
			const struct mg_cell *x = &m->cells[i * m->ncols + c];
			in[i] = (struct mg_num){.valid = x->type == MG_CELL_I64 || x->type == MG_CELL_F64,
						.is_int = x->type == MG_CELL_I64, .i = x->i,
						.f = x->type == MG_CELL_F64 ? x->f : (double)x->i,
						.ts = m->ts[i]};
		}
		rc = mg_xform_apply((enum mg_xform_fn)q->xform, m->ts, in, m->n, q->xunit,
				    q->xwindow, out);
		for (size_t i = 0; i < m->n && rc == 0; i++) {
			struct mg_cell *x = &m->cells[i * m->ncols + c];
			x->type = !out[i].valid ? MG_CELL_NULL : out[i].is_int ? MG_CELL_I64 : MG_CELL_F64;
			if (out[i].is_int)
				x->i = out[i].i;
			else
				x->f = out[i].f;
		}
	}
	/* rows where every transformation has no value are not printed */
	size_t k = 0;
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		bool keep = false;
		for (uint32_t c = 0; c < p->ncols; c++)
			if (p->cols[c].xform >= 0 && m->cells[i * m->ncols + c].type != MG_CELL_NULL)
				keep = true;
		if (!keep)
			continue;
		m->ts[k] = m->ts[i];
		memmove(m->cells + k * m->ncols, m->cells + i * m->ncols,
			m->ncols * sizeof(*m->cells));
		k++;
	}
	if (rc == 0)
		m->n = k;
	free(in);
	free(out);
	if (rc == -EINVAL)
		snprintf(p->err, sizeof(p->err), "invalid transformation argument");
	return rc;
}

/* ------------------------------------------------------------ output */

/*
 * The result's copy of a cell's string, by the string's address, so that a
 * tag value repeated in every row of its series is copied once (and the
 * JSON encoder, which remembers encodings by address, escapes it once).
 * One memo per statement (allocated at its first string): the strings a
 * matrix points at (tag values interned in the plan, string literals, a
 * subquery's result) all outlive the statement and never change.
 */
#define STR_MEMO_BITS 10u

struct str_memo {
	const char *src, *own;
};

static const char *str_own(struct mg_result *r, struct str_memo **memo, const char *s)
{
	if (!*memo && !(*memo = calloc(1u << STR_MEMO_BITS, sizeof(**memo))))
		return NULL;
	struct str_memo *e = &(*memo)[cm_ptr_slot(s, STR_MEMO_BITS)];
	if (e->src != s) {
		const char *own = mg_result_strdup(r, s, strlen(s));
		if (!own)
			return NULL;
		*e = (struct str_memo){s, own};
	}
	return e->own;
}

static int emit(struct qplan *p, struct mg_result *r, struct mg_stmt_result *sr,
		const struct rowset *g, struct matrix *m, struct str_memo **memo)
{
	const struct mg_select *s = p->sel;
	struct mg_tagpair tags[QP_TAGKEYS_MAX];
	for (uint32_t i = 0; i < p->ngtags; i++)
		tags[i] = (struct mg_tagpair){p->gtags[i], qp_tag(g->tags, g->ntags, p->gtags[i])};
	const char *cols[QP_COLS_MAX + 1];
	cols[0] = "time";
	for (uint32_t c = 0; c < p->ncols; c++)
		cols[c + 1] = p->cols[c].name;
	size_t off = (size_t)(s->offset > 0 ? s->offset : 0);
	assert(m->n > off); /* run_groups emits only groups with rows left after OFFSET */
	struct mg_series *se = mg_result_add_series(r, sr, g->meas, tags, p->ngtags, cols,
						    p->ncols + 1);
	if (!se)
		return -ENOMEM;
	size_t n = m->n - off;
	if (s->limit > 0 && (uint64_t)s->limit < n)
		n = (size_t)s->limit;
	struct mg_cell *dst = mg_result_add_rows(r, se, n);
	if (!dst)
		return -ENOMEM;
	for (size_t k = off; k < off + n; k++, dst += m->ncols + 1) {
		size_t i = s->order_desc ? m->n - 1 - k : k;
		i = m->order ? m->order[i] : i;
		dst[0] = (struct mg_cell){.type = MG_CELL_TIME, .i = m->ts[i]};
		if (p->tz)
			dst[0].utc_offset_s = (int32_t)(mg_tz_offset_ns(p->tz, m->ts[i]) /
							CM_NS_PER_SEC);
		memcpy(dst + 1, m->cells + i * m->ncols, m->ncols * sizeof(*dst));
		/* on ENOMEM the caller frees the result: a half-set row is never printed */
		for (uint32_t c = 1; c <= m->ncols; c++)
			if (dst[c].type == MG_CELL_STR && dst[c].s &&
			    !(dst[c].s = str_own(r, memo, dst[c].s)))
				return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ groups */

static int group_cmp(const void *x, const void *y)
{
	const struct rowset *a = x, *b = y;
	int c = strcmp(a->meas, b->meas);
	if (c)
		return c;
	uint32_t n = a->gkey_len < b->gkey_len ? a->gkey_len : b->gkey_len;
	c = memcmp(a->gkey, b->gkey, n);
	if (c)
		return c;
	return (a->gkey_len > b->gkey_len) - (a->gkey_len < b->gkey_len);
}

static bool same_group(const struct rowset *a, const struct rowset *b)
{
	return !strcmp(a->meas, b->meas) && a->gkey_len == b->gkey_len &&
	       !memcmp(a->gkey, b->gkey, a->gkey_len);
}

/* The series count of a statement: groups with rows, after SOFFSET and SLIMIT. */
static int run_groups(struct qplan *p, struct rowsets *all, struct mg_result *r,
		      struct mg_stmt_result *sr)
{
	if (all->n)
		qsort(all->v, all->n, sizeof(*all->v), group_cmp);
	plan_drive(p);
	const struct mg_select *s = p->sel;
	int64_t skip = s->soffset > 0 ? s->soffset : 0, left = s->slimit > 0 ? s->slimit : INT64_MAX;
	int rc = 0;
	struct str_memo *memo = NULL; /* emit's string copies, for the whole statement */
	/* without LIMIT every row set is read whole, in this order: helpers read ahead */
	if (s->limit <= 0)
		ql_ahead_start(p, all->v, all->n, p->agg && sums_usable(p));
	for (uint32_t i = 0; i < all->n && rc == 0 && left > 0;) {
		uint32_t j = i + 1;
		while (j < all->n && same_group(&all->v[i], &all->v[j]))
			j++;
		struct matrix m = {.ncols = p->ncols};
		rc = p->agg ? run_agg(p, &all->v[i], j - i, &m) : run_raw(p, &all->v[i], j - i, &m);
		if (rc == 0)
			rc = apply_xforms(p, &m);
		/*
		 * SOFFSET and SLIMIT count the series that have rows; one whose rows
		 * all fall before OFFSET still counts but is not printed.
		 */
		if (rc == 0 && m.n > 0) {
			if (skip > 0) {
				skip--;
			} else {
				if (m.n > (size_t)(s->offset > 0 ? s->offset : 0))
					rc = emit(p, r, sr, &all->v[i], &m, &memo);
				left--;
			}
		}
		mx_release(&m);
		i = j;
	}
	ql_ahead_stop(p);
	free(memo);
	return rc;
}

/* ------------------------------------------------------------ sources */

struct meas_list {
	struct qplan *p;
	const char **v;
	uint32_t n, cap;
	const struct st_index_regex *re;
	int rc;
};

static int meas_add(struct meas_list *l, const char *name, size_t len)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && !memcmp(l->v[i], name, len))
			return 0;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 8;
		const char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = qa_strndup(&l->p->arena, name, len);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

static int meas_match(void *arg, struct st_str name, uint64_t nseries)
{
	(void)nseries;
	struct meas_list *l = arg;
	const struct mg_exec_ctx *cx = l->p->cx;
	struct st_str db, shown;
	if (!mg_db_owns(name, l->p->cur_ns, cx->default_db))
		return 0;
	mg_db_split(name, cx->default_db, &db, &shown);
	int m = st_index_regex_match(l->re, shown);
	if (m == 1 && (l->rc = meas_add(l, name.p, name.len)) != 0)
		return 1;
	return 0;
}

/* The series names (database-prefixed) of the FROM list. */
static int resolve_sources(struct qplan *p, struct meas_list *l)
{
	const struct mg_select *s = p->sel;
	const struct mg_exec_ctx *cx = p->cx;
	for (uint32_t i = 0; i < s->nsources; i++) {
		const struct mg_source *src = &s->sources[i];
		const char *db = src->db && src->db[0] ? src->db : cx->db;
		if (src->kind != MG_SRC_SUBQUERY &&
		    mg_dbs_namespace(cx->dbs, db, p->cur_ns, sizeof(p->cur_ns))) {
			snprintf(p->err, sizeof(p->err), "database not found: %s", db);
			return -EINVAL;
		}
		if (src->kind == MG_SRC_MEASUREMENT) {
			char name[ST_KEY_MAX];
			int n = mg_db_series_name(p->cur_ns, cx->default_db,
						  (struct st_str){src->name, (uint32_t)strlen(src->name)},
						  name, sizeof(name));
			if (n < 0)
				return n;
			int rc = meas_add(l, name, (size_t)n);
			if (rc)
				return rc;
		} else if (src->kind == MG_SRC_REGEX) {
			const struct st_index_regex *re;
			int rc = qp_regex_text(p, src->name, &re);
			if (rc)
				return rc;
			l->re = re;
			st_index_read_lock(cx->idx);
			rc = st_index_measurements(cx->idx, NULL, meas_match, l);
			st_index_read_unlock(cx->idx);
			if (l->rc)
				return l->rc;
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ subqueries */



/* Add name to a schema list unless it is there (copied into the plan's arena). */
static void schema_add(struct qplan *p, const char **v, uint32_t *n, const char *name)
{
	if (*n < QP_FIELDS_MAX && !qp_name_in(v, *n, name) &&
	    (v[*n] = qa_strndup(&p->arena, name, strlen(name))) != NULL)
		(*n)++;
}

/* The schema of an inner result: its columns are fields, its series tags tags. */
static void sub_schema(struct qplan *p, const struct mg_stmt_result *in)
{
	for (uint32_t i = 0; i < in->nseries; i++) {
		const struct mg_series *se = &in->series[i];
		for (uint32_t c = 1; c < se->ncols; c++)
			schema_add(p, p->fieldkeys, &p->nfieldkeys, se->columns[c]);
		for (uint32_t t = 0; t < se->ntags; t++)
			schema_add(p, p->tagkeys, &p->ntagkeys, se->tags[t].key);
	}
	qsort(p->fieldkeys, p->nfieldkeys, sizeof(p->fieldkeys[0]), qp_strcmp_p);
	qsort(p->tagkeys, p->ntagkeys, sizeof(p->tagkeys[0]), qp_strcmp_p);
}

/*
 * Column `name` of an inner series as a field column, within the outer time
 * range. One type per column: float if any value is a float (integers are
 * converted), else integer; other cells are skipped.
 */
static int sub_column(struct qplan *p, const struct mg_series *se, const char *name,
		      struct qfcol *fc)
{
	st_points_init(&fc->pts);
	uint32_t col = 0;
	for (uint32_t c = 1; c < se->ncols; c++)
		if (!strcmp(se->columns[c], name))
			col = c;
	fc->vt = ST_VT_I64;
	for (uint64_t k = 0; col && k < se->nrows; k++)
		if (se->cells[k * se->ncols + col].type == MG_CELL_F64)
			fc->vt = ST_VT_F64;
	for (uint64_t k = 0; col && k < se->nrows; k++) {
		const struct mg_cell *t = &se->cells[k * se->ncols];
		const struct mg_cell *x = &se->cells[k * se->ncols + col];
		if (t->i < p->tmin || t->i > p->tmax ||
		    (x->type != MG_CELL_F64 && x->type != MG_CELL_I64))
			continue;
		if (st_points_reserve(&fc->pts, 1))
			return -ENOMEM;
		double f = x->type == MG_CELL_F64 ? x->f : (double)x->i;
		fc->pts.ts[fc->pts.n] = t->i;
		if (fc->vt == ST_VT_F64)
			memcpy(&fc->pts.vals[fc->pts.n], &f, sizeof(f));
		else
			fc->pts.vals[fc->pts.n] = (uint64_t)x->i;
		fc->pts.n++;
	}
	p->held_bytes += fc->pts.n * (sizeof(int64_t) + sizeof(uint64_t));
	return 0;
}

/* The rows of an inner result as row sets, filtered by the outer time range and tags. */
static int sub_fill(struct qplan *p, const struct mg_stmt_result *in, struct rowsets *out)
{
	for (uint32_t i = 0; i < in->nseries; i++) {
		const struct mg_series *se = &in->series[i];
		struct rowset rs = {.meas = se->name, .ntags = se->ntags, .loaded = true};
		rs.tags = qa_alloc(&p->arena, (se->ntags + 1) * sizeof(*rs.tags));
		rs.f = qa_alloc(&p->arena, (p->nfields + 1) * sizeof(*rs.f));
		if (!rs.tags || !rs.f)
			return -ENOMEM;
		memcpy(rs.tags, se->tags, se->ntags * sizeof(*rs.tags));
		memset(rs.f, 0, (p->nfields + 1) * sizeof(*rs.f));
		struct rowctx rc0 = {.tags = rs.tags, .ntags = rs.ntags};
		bool ok = true;
		for (uint32_t c = 0; c < p->nconds && ok; c++)
			if (p->conds[c].tag_only)
				ok = qp_test(p, p->conds[c].e, &rc0);
		if (!ok)
			continue;
		int rc = 0;
		for (uint32_t f = 0; f < p->nfields && rc == 0; f++)
			rc = sub_column(p, se, p->fields[f], &rs.f[f]);
		if (rc) {
			ql_unload(p, &rs);
			return rc;
		}
		if (ql_group_key(p, &rs) || ql_rowsets_push(out, &rs))
			return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ INTO */

/* One series of the result as lines of measurement `into`. */
static int into_series(struct mg_result_buf *b, const char *into, const struct mg_series *se)
{
	int rc = 0;
	for (uint64_t k = 0; k < se->nrows && rc == 0; k++) {
		const struct mg_cell *row = &se->cells[k * se->ncols];
		size_t mark = b->len;
		bool any = false;
		rc = mg_result_buf_lp(b, into, ", ");
		for (uint32_t t = 0; t < se->ntags && rc == 0; t++) {
			if (!se->tags[t].value[0])
				continue;
			rc = mg_result_buf_printf(b, ",");
			if (rc == 0)
				rc = mg_result_buf_lp(b, se->tags[t].key, ",= ");
			if (rc == 0)
				rc = mg_result_buf_printf(b, "=");
			if (rc == 0)
				rc = mg_result_buf_lp(b, se->tags[t].value, ",= ");
		}
		for (uint32_t c = 1; c < se->ncols && rc == 0; c++) {
			const struct mg_cell *x = &row[c];
			if (x->type != MG_CELL_F64 && x->type != MG_CELL_I64 && x->type != MG_CELL_BOOL)
				continue;
			rc = mg_result_buf_printf(b, "%s", any ? "," : " ");
			if (rc == 0)
				rc = mg_result_buf_lp(b, se->columns[c], ",= ");
			if (rc == 0 && x->type == MG_CELL_F64)
				rc = mg_result_buf_printf(b, "=%.17g", x->f);
			else if (rc == 0 && x->type == MG_CELL_I64)
				rc = mg_result_buf_printf(b, "=%" PRId64 "i", x->i);
			else if (rc == 0)
				rc = mg_result_buf_printf(b, "=%s", x->b ? "true" : "false");
			any = true;
		}
		if (!any) {
			b->len = mark;
			continue;
		}
		rc = rc ? rc : mg_result_buf_printf(b, " %" PRId64 "\n", row[0].i);
	}
	return rc;
}

static int run_into(struct qplan *p, const struct mg_stmt_result *ts, struct mg_result *r,
		    struct mg_stmt_result *sr)
{
	const struct mg_source *into = p->sel->into;
	struct mg_result_buf b = {0};
	int rc = 0;
	/* INTO db.rp.:MEASUREMENT (name NULL): each series keeps its own measurement */
	for (uint32_t i = 0; i < ts->nseries && rc == 0; i++)
		rc = into_series(&b, into->name ? into->name : ts->series[i].name, &ts->series[i]);
	struct mg_write_report rep;
	memset(&rep, 0, sizeof(rep));
	const char *db = into->db && into->db[0] ? into->db : p->cx->db;
	if (rc == 0 && b.len && !p->cx->write)
		rc = -ENOTSUP;
	if (rc == 0 && b.len)
		rc = p->cx->write(p->cx->arg, db, b.p, b.len, &rep);
	free(b.p);
	if (rc) {
		snprintf(p->err, sizeof(p->err), "INTO %s: %s", into->name ? into->name : ":MEASUREMENT",
			 rc == -ENOENT ? "database not found" : strerror(-rc));
		return -EINVAL;
	}
	if (rep.lines_bad || rep.points_refused) {
		snprintf(p->err, sizeof(p->err), "INTO %s: partial write: %s",
			 into->name ? into->name : ":MEASUREMENT",
			 rep.nerrors ? rep.errors[0] : "points refused");
		return -EINVAL;
	}
	static const char *const cols[] = {"time", "written"};
	struct mg_series *se = mg_result_add_series(r, sr, "result", NULL, 0, cols, 2);
	if (!se)
		return -ENOMEM;
	struct mg_cell row[2] = {{.type = MG_CELL_TIME, .i = 0},
				 {.type = MG_CELL_I64, .i = (int64_t)rep.points_stored}};
	return mg_result_add_row(r, se, row);
}

/* ------------------------------------------------------------ SELECT */

static int select_rows(struct qplan *p, struct mg_result *r, struct mg_stmt_result *sr)
{
	const struct mg_select *sel = p->sel;
	struct meas_list l = {.p = p};
	struct rowsets all = {0};
	struct mg_result *sub = NULL;
	struct mg_stmt_result *ss = NULL;
	int rc = 0;
	bool is_sub = sel->nsources > 0 && sel->sources[0].kind == MG_SRC_SUBQUERY;
	for (uint32_t i = 1; i < sel->nsources; i++)
		if ((sel->sources[i].kind == MG_SRC_SUBQUERY) != is_sub) {
			snprintf(p->err, sizeof(p->err), "a subquery cannot be mixed with other sources");
			return -EINVAL;
		}
	if (is_sub) {
		if (sel->nsources > 1) {
			snprintf(p->err, sizeof(p->err), "only one subquery per FROM is supported");
			return -EINVAL;
		}
		sub = mg_result_create();
		ss = sub ? mg_result_add_stmt(sub, 0) : NULL;
		rc = ss ? qx_select(p->cx, sel->sources[0].sub, sub, ss) : -ENOMEM;
		if (rc == 0 && ss->error) {
			snprintf(p->err, sizeof(p->err), "%s", ss->error);
			rc = -EINVAL;
		}
		if (rc == 0)
			sub_schema(p, ss);
	} else {
		rc = resolve_sources(p, &l);
		if (rc == 0)
			rc = ql_schema(p, l.v, l.n);
	}
	if (rc == 0)
		rc = qp_plan(p);
	if (rc == 0 && !p->empty) {
		if (is_sub)
			rc = sub_fill(p, ss, &all);
		for (uint32_t i = 0; !is_sub && i < l.n && rc == 0; i++)
			rc = ql_rowsets(p, l.v[i], &all);
		if (rc == 0)
			rc = run_groups(p, &all, r, sr);
	}
	for (uint32_t i = 0; i < all.n; i++)
		ql_unload(p, &all.v[i]);
	free(all.v);
	free(l.v);
	mg_result_free(sub);
	return rc;
}

int qx_select(struct mg_exec_ctx *cx, const struct mg_select *sel, struct mg_result *r,
	      struct mg_stmt_result *sr)
{
	if (qx_an_is_select(sel))
		return qx_an_select(cx, sel, r, sr);
	struct qplan *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cx = cx;
	p->sel = sel;
	p->deadline_ns = cx->limits.timeout_ns ? cm_now_ns() + cx->limits.timeout_ns : 0;
	int rc;
	if (sel->into) {
		struct mg_result *tmp = mg_result_create();
		struct mg_stmt_result *ts = tmp ? mg_result_add_stmt(tmp, 0) : NULL;
		rc = ts ? select_rows(p, tmp, ts) : -ENOMEM;
		if (rc == 0)
			rc = run_into(p, ts, r, sr);
		mg_result_free(tmp);
	} else {
		rc = select_rows(p, r, sr);
	}
	if (rc && p->err[0]) {
		rc = mg_result_set_error(r, sr, "%s", p->err);
	} else if (rc && rc != -ENOMEM) {
		rc = mg_result_set_error(r, sr, "query failed: %s", strerror(-rc));
	}
	qp_release(p);
	free(p);
	return rc;
}

int mg_exec_stmt(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
		 struct mg_stmt_result *sr)
{
	if (st->kind == MG_STMT_SELECT)
		return qx_select(cx, st->select, r, sr);
	if (st->kind == MG_STMT_FORECAST || st->kind == MG_STMT_DETECT)
		return qx_an_stmt(cx, st, r, sr);
	return mg_exec_meta(cx, st, r, sr);
}
