/*
 * mg_exec.c - SELECT (see mg_exec.h for the steps). The meta statements
 * are in mg_exec_show.c, expression values in mg_eval.c.
 *
 * Shapes. A row set is one (measurement, tag set) with one column per
 * needed field; an output group is the row sets that share the GROUP BY
 * tag values. Groups are processed one at a time (their points read, used,
 * freed), so memory is bounded by the largest group, not the query.
 * Aggregates go into a dense bucket matrix per group (mg_acc per bucket and
 * slot), then a value matrix (rows x columns) that fill and the
 * transformations work on; raw queries build the same value matrix from
 * joined rows. Ordering and LIMIT apply to that matrix.
 */
#include "mg_exec.h"
#include "mg_exec_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "mg_agg.h"
#include "mg_db.h"
#include "st_index.h"
#include "st_rcu.h"
#include "st_series.h"
#include "st_store.h"

/* ------------------------------------------------------------ planning */

static int plan_error(struct qplan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int plan_error(struct qplan *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The index of field name in the fields read, added if new. */
static int field_index(struct qplan *p, const char *name)
{
	for (uint32_t i = 0; i < p->nfields; i++)
		if (!strcmp(p->fields[i], name))
			return (int)i;
	if (p->nfields == QP_FIELDS_MAX)
		return plan_error(p, "too many fields in one query (max %d)", QP_FIELDS_MAX);
	p->fields[p->nfields] = name;
	return (int)p->nfields++;
}

/* Decide what an identifier is: time, a tag or a field (fields win, as in InfluxDB). */
static int resolve_ref(struct qplan *p, const struct mg_expr *e)
{
	if (!strcmp(e->s, "time") && e->cast == MG_CAST_NONE)
		return qp_ref_set(p, e, QR_TIME, 0);
	bool tag = e->cast == MG_CAST_TAG ||
		   (e->cast != MG_CAST_FIELD && !qp_name_in(p->fieldkeys, p->nfieldkeys, e->s) &&
		    qp_name_in(p->tagkeys, p->ntagkeys, e->s));
	if (tag)
		return qp_ref_set(p, e, QR_TAG, 0);
	int fi = field_index(p, e->s);
	return fi < 0 ? fi : qp_ref_set(p, e, QR_FIELD, (uint32_t)fi);
}

static bool call_is_agg(const struct mg_expr *e)
{
	return e->kind == MG_EX_CALL && mg_agg_lookup(e->s) >= 0;
}

static bool call_is_xform(const struct mg_expr *e)
{
	return e->kind == MG_EX_CALL && mg_xform_lookup(e->s) >= 0;
}

/* An aggregate call: one slot, the field it reads, its argument. */
static int plan_agg_call(struct qplan *p, const struct mg_expr *e)
{
	int fn = mg_agg_lookup(e->s);
	uint32_t want = fn == MG_AGG_PERCENTILE ? 2 : 1;
	if (e->nargs != want)
		return plan_error(p, "invalid number of arguments for %s, expected %u, got %u", e->s,
				  want, e->nargs);
	const struct mg_expr *a = e->args[0];
	if (a->kind != MG_EX_REF)
		return plan_error(p, "expected field argument in %s()", e->s);
	if (qp_ref_kind(p, a) == QR_TAG || qp_ref_kind(p, a) == QR_TIME)
		return plan_error(p, "%s() cannot aggregate tag or time '%s'", e->s, a->s);
	double arg = 0;
	if (fn == MG_AGG_PERCENTILE) {
		const struct mg_expr *n = e->args[1];
		if (n->kind == MG_EX_INT)
			arg = (double)n->i;
		else if (n->kind == MG_EX_FLOAT)
			arg = n->f;
		else
			return plan_error(p, "expected float argument in percentile()");
		if (arg < 0 || arg > 100)
			return plan_error(p, "percentile must be between 0 and 100");
	}
	if (p->nslots == QP_SLOTS_MAX)
		return plan_error(p, "too many aggregates in one query (max %d)", QP_SLOTS_MAX);
	struct qslot *s = &p->slots[p->nslots];
	s->fn = fn;
	s->field = qp_ref_field(p, a);
	s->arg = arg;
	s->call = e;
	s->keep = mg_agg_keeps(fn);
	return (int)p->nslots++;
}

/* Resolve refs and aggregate calls under e; count what kinds it has. */
static int plan_expr(struct qplan *p, const struct mg_expr *e, uint32_t *naggs, uint32_t *nraw)
{
	int rc = 0;
	switch (e->kind) {
	case MG_EX_REF:
		rc = resolve_ref(p, e);
		if (rc >= 0 && qp_ref_kind(p, e) != QR_TIME)
			(*nraw)++;
		return rc < 0 ? rc : 0;
	case MG_EX_WILDCARD:
		return plan_error(p, "unexpected wildcard");
	case MG_EX_BINARY:
		rc = plan_expr(p, e->lhs, naggs, nraw);
		return rc ? rc : plan_expr(p, e->rhs, naggs, nraw);
	case MG_EX_NEG:
		return plan_expr(p, e->lhs, naggs, nraw);
	case MG_EX_CALL:
		if (call_is_agg(e)) {
			if (e->nargs >= 1 && e->args[0]->kind == MG_EX_REF)
				rc = resolve_ref(p, e->args[0]);
			if (rc >= 0)
				rc = plan_agg_call(p, e);
			(*naggs)++;
			return rc < 0 ? rc : 0;
		}
		if (call_is_xform(e))
			return plan_error(p, "%s() must be the outermost function of a column", e->s);
		return plan_error(p, "undefined function %s()", e->s);
	default:
		return 0;
	}
}

/* Transformation arguments: unit (derivative, elapsed) or window (moving_average). */
static int plan_xform(struct qplan *p, struct qcol *c, const struct mg_expr *e)
{
	c->xform = mg_xform_lookup(e->s);
	if (e->nargs < 1 || e->nargs > 2)
		return plan_error(p, "invalid number of arguments for %s", e->s);
	c->expr = e->args[0];
	if (c->xform == MG_XF_MOVING_AVERAGE) {
		if (e->nargs != 2 || e->args[1]->kind != MG_EX_INT || e->args[1]->i < 1)
			return plan_error(p, "moving_average window must be an integer >= 1");
		c->xwindow = e->args[1]->i;
	} else if (e->nargs == 2) {
		if (e->args[1]->kind != MG_EX_DURATION || e->args[1]->i <= 0)
			return plan_error(p, "second argument to %s must be a duration", e->s);
		if (c->xform == MG_XF_DIFFERENCE || c->xform == MG_XF_NON_NEGATIVE_DIFFERENCE ||
		    c->xform == MG_XF_CUMULATIVE_SUM)
			return plan_error(p, "invalid number of arguments for %s", e->s);
		c->xunit = e->args[1]->i;
	} else if ((c->xform == MG_XF_DERIVATIVE || c->xform == MG_XF_NON_NEGATIVE_DERIVATIVE) &&
		   p->sel->group_time) {
		c->xunit = p->sel->group_interval_ns; /* InfluxDB: per GROUP BY interval */
	}
	p->has_xform = true;
	return 0;
}

/* Column name as InfluxDB gives it: calls by function, refs by name, joined by '_'. */
static void expr_name(const struct mg_expr *e, char *out, size_t cap)
{
	size_t n;
	switch (e->kind) {
	case MG_EX_REF:
		snprintf(out, cap, "%s", e->s);
		return;
	case MG_EX_CALL:
		snprintf(out, cap, "%s", e->s);
		return;
	case MG_EX_NEG:
		expr_name(e->lhs, out, cap);
		return;
	case MG_EX_BINARY:
		/* lhs, then rhs one byte further on; the byte between becomes '_' when both are named */
		expr_name(e->lhs, out, cap);
		n = strlen(out);
		if (n + 2 >= cap)
			return;
		expr_name(e->rhs, out + n + 1, cap - n - 1);
		if (n && out[n + 1])
			out[n] = '_';
		else
			memmove(out + n, out + n + 1, strlen(out + n + 1) + 1);
		return;
	default:
		out[0] = 0;
	}
}

/* Does e read a field (a raw row whose field columns are all null is not printed)? */
static bool reads_field(struct qplan *p, const struct mg_expr *e)
{
	switch (e->kind) {
	case MG_EX_REF: return qp_ref_kind(p, e) == QR_FIELD;
	case MG_EX_BINARY: return reads_field(p, e->lhs) || reads_field(p, e->rhs);
	case MG_EX_NEG: return reads_field(p, e->lhs);
	default: return false;
	}
}

static int add_col(struct qplan *p, const struct mg_expr *e, const char *name)
{
	if (p->ncols == QP_COLS_MAX)
		return plan_error(p, "too many columns in one query (max %d)", QP_COLS_MAX);
	struct qcol *c = &p->cols[p->ncols];
	memset(c, 0, sizeof(*c));
	c->xform = -1;
	c->expr = e;
	if (!(c->name = qa_strndup(&p->arena, name, strnlen(name, QP_NAME_MAX - 1))))
		return -ENOMEM;
	p->ncols++;
	return 0;
}

/* Expand `*` and `fn(*)` into one column per field (and tag, for a raw `*`). */
static int expand_wildcard(struct qplan *p, const struct mg_field *f)
{
	const struct mg_expr *e = f->expr;
	if (e->kind == MG_EX_WILDCARD) {
		const char *names[QP_FIELDS_MAX + QP_TAGKEYS_MAX];
		uint32_t n = 0;
		for (uint32_t i = 0; i < p->nfieldkeys && e->cast != MG_CAST_TAG; i++)
			names[n++] = p->fieldkeys[i];
		for (uint32_t i = 0; i < p->ntagkeys && e->cast != MG_CAST_FIELD; i++)
			if (!qp_is_group_tag(p, p->tagkeys[i]))
				names[n++] = p->tagkeys[i];
		qsort(names, n, sizeof(names[0]), qp_strcmp_p);
		for (uint32_t i = 0; i < n; i++) {
			struct mg_expr *r = qp_new_ref(p, names[i]);
			if (!r)
				return -ENOMEM;
			int rc = add_col(p, r, names[i]);
			if (rc)
				return rc;
		}
		return 0;
	}
	/* fn(*): one column per field, named fn_field */
	for (uint32_t i = 0; i < p->nfieldkeys; i++) {
		struct mg_expr *c = qp_new_call(p, e, qp_new_ref(p, p->fieldkeys[i]));
		if (!c)
			return -ENOMEM;
		char name[QP_NAME_MAX];
		snprintf(name, sizeof(name), "%s_%s", e->s, p->fieldkeys[i]);
		int rc = add_col(p, c, name);
		if (rc)
			return rc;
	}
	return 0;
}

static bool has_wildcard_arg(const struct mg_expr *e)
{
	return e->kind == MG_EX_CALL && e->nargs >= 1 && e->args[0]->kind == MG_EX_WILDCARD;
}

/* Columns: expand wildcards, name them, make duplicates unique (max, max_1, ...). */
static int plan_columns(struct qplan *p)
{
	const struct mg_select *sel = p->sel;
	for (uint32_t i = 0; i < sel->nfields; i++) {
		const struct mg_field *f = &sel->fields[i];
		const struct mg_expr *e = f->expr;
		int rc;
		if (e->kind == MG_EX_WILDCARD || has_wildcard_arg(e)) {
			rc = expand_wildcard(p, f);
		} else {
			char name[QP_NAME_MAX];
			expr_name(e, name, sizeof(name));
			rc = add_col(p, e, f->alias ? f->alias : name);
		}
		if (rc)
			return rc;
	}
	/* a repeated name gets _1, _2, ... (as InfluxDB), counted among the names as given */
	const char *base[QP_COLS_MAX];
	for (uint32_t i = 0; i < p->ncols; i++) {
		uint32_t dup = 0;
		base[i] = p->cols[i].name;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(base[j], base[i]))
				dup++;
		if (dup) {
			char tmp[QP_NAME_MAX];
			int n = snprintf(tmp, sizeof(tmp), "%.*s_%u", QP_NAME_MAX - 12, base[i], dup);
			if (!(p->cols[i].name = qa_strndup(&p->arena, tmp, (size_t)n)))
				return -ENOMEM;
		}
	}
	uint32_t naggs = 0, nraw = 0;
	for (uint32_t i = 0; i < p->ncols; i++) {
		struct qcol *c = &p->cols[i];
		if (call_is_xform(c->expr)) {
			int rc = plan_xform(p, c, c->expr);
			if (rc)
				return rc;
		}
		int rc = plan_expr(p, c->expr, &naggs, &nraw);
		if (rc)
			return rc;
		c->reads_field = reads_field(p, c->expr);
		c->count = c->xform < 0 && call_is_agg(c->expr) &&
			   mg_agg_lookup(c->expr->s) == MG_AGG_COUNT;
	}
	if (naggs && nraw)
		return plan_error(p, "mixing aggregate and non-aggregate queries is not supported");
	p->agg = naggs > 0;
	if (!p->agg && p->sel->group_time)
		return plan_error(p, "GROUP BY requires at least one aggregate function");
	if (p->nfields == 0)
		return plan_error(p, "at least 1 non-time field must be queried");
	/* one selector alone: the time column is the selected point's */
	p->selector_time = p->agg && !p->sel->group_time && p->ncols == 1 &&
			   p->cols[0].xform < 0 && p->cols[0].expr->kind == MG_EX_CALL &&
			   mg_agg_is_selector((enum mg_agg_fn)mg_agg_lookup(p->cols[0].expr->s));
	return 0;
}

/* ------------------------------------------------------------ WHERE */

enum { HAS_TIME = 1, HAS_TAG = 2, HAS_FIELD = 4 };

static int expr_uses(struct qplan *p, const struct mg_expr *e, unsigned *uses)
{
	switch (e->kind) {
	case MG_EX_REF: {
		int rc = resolve_ref(p, e);
		if (rc < 0)
			return rc;
		enum qref_kind k = qp_ref_kind(p, e);
		*uses |= k == QR_TIME ? HAS_TIME : k == QR_TAG ? HAS_TAG : HAS_FIELD;
		return 0;
	}
	case MG_EX_BINARY: {
		int rc = expr_uses(p, e->lhs, uses);
		return rc ? rc : expr_uses(p, e->rhs, uses);
	}
	case MG_EX_NEG:
		return expr_uses(p, e->lhs, uses);
	case MG_EX_CALL:
		return plan_error(p, "invalid function call in condition %s()", e->s);
	case MG_EX_WILDCARD:
		return plan_error(p, "unexpected wildcard in condition");
	case MG_EX_REGEX: { /* a bad pattern is the statement's error, not a false per row */
		const struct st_index_regex *re;
		return qp_regex(p, e, &re);
	}
	default:
		return 0;
	}
}

static bool is_cmp(enum mg_op op)
{
	return op >= MG_OP_EQ && op <= MG_OP_GTE;
}

/* `time op x` or `x op time`: tighten [tmin, tmax]. */
static int plan_time_cond(struct qplan *p, const struct mg_expr *e)
{
	if (e->kind != MG_EX_BINARY || !is_cmp(e->op) || e->op == MG_OP_NEQ)
		return plan_error(p, "invalid time condition");
	bool left = e->lhs->kind == MG_EX_REF && qp_ref_kind(p, e->lhs) == QR_TIME;
	const struct mg_expr *v = left ? e->rhs : e->lhs;
	enum mg_op op = e->op;
	if (!left) /* x < time  ==  time > x */
		op = op == MG_OP_LT ? MG_OP_GT : op == MG_OP_LTE ? MG_OP_GTE :
		     op == MG_OP_GT ? MG_OP_LT : op == MG_OP_GTE ? MG_OP_LTE : op;
	int64_t t;
	int rc = qp_eval_time(p, v, &t);
	if (rc)
		return rc;
	switch (op) {
	case MG_OP_EQ:
		p->tmin = CM_MAX(p->tmin, t);
		p->tmax = CM_MIN(p->tmax, t);
		break;
	case MG_OP_GT:
		p->tmin = CM_MAX(p->tmin, t == INT64_MAX ? t : t + 1);
		break;
	case MG_OP_GTE:
		p->tmin = CM_MAX(p->tmin, t);
		break;
	case MG_OP_LT:
		p->tmax = CM_MIN(p->tmax, t == INT64_MIN ? t : t - 1);
		break;
	default:
		p->tmax = CM_MIN(p->tmax, t);
		break;
	}
	if (op != MG_OP_LT && op != MG_OP_LTE)
		p->tmin_set = true;
	if (op != MG_OP_GT && op != MG_OP_GTE)
		p->tmax_set = true;
	return 0;
}

/* Split the top-level AND conjuncts of e. */
static int plan_where(struct qplan *p, const struct mg_expr *e)
{
	if (!e)
		return 0;
	if (e->kind == MG_EX_BINARY && e->op == MG_OP_AND) {
		int rc = plan_where(p, e->lhs);
		return rc ? rc : plan_where(p, e->rhs);
	}
	unsigned uses = 0;
	int rc = expr_uses(p, e, &uses);
	if (rc)
		return rc;
	if (uses & HAS_TIME) {
		if (uses != HAS_TIME)
			return plan_error(p, "invalid condition: time may only be compared with a "
					     "value, at the top level of WHERE (AND only)");
		return plan_time_cond(p, e);
	}
	if (p->nconds == QP_CONDS_MAX)
		return plan_error(p, "too many conditions in WHERE (max %d)", QP_CONDS_MAX);
	p->conds[p->nconds].e = e;
	p->conds[p->nconds].tag_only = !(uses & HAS_FIELD);
	p->has_residual |= (uses & HAS_FIELD) != 0;
	p->nconds++;
	return 0;
}

/* ------------------------------------------------------------ GROUP BY */

/*
 * The tag keys the output groups by, sorted as InfluxDB orders series and
 * prints tags: every key of the sources for `*`, those a /regex/ matches,
 * and the keys named (a key no series has still groups, as "").
 */
static int plan_group_tags(struct qplan *p)
{
	const struct mg_select *s = p->sel;
	const struct st_index_regex *re = NULL;
	if (s->group_regex) {
		int rc = qp_regex_text(p, s->group_regex, &re);
		if (rc)
			return rc == -ENOMEM ? rc : -EINVAL;
	}
	for (uint32_t i = 0; i < p->ntagkeys; i++) {
		const char *k = p->tagkeys[i];
		bool want = s->group_all_tags ||
			    (re && st_index_regex_match(re, (struct st_str){k, (uint32_t)strlen(k)}) == 1);
		if (want && !qp_name_in(p->gtags, p->ngtags, k))
			p->gtags[p->ngtags++] = k;
	}
	for (uint32_t i = 0; i < s->ngroup_tags; i++) {
		if (qp_name_in(p->gtags, p->ngtags, s->group_tags[i]))
			continue;
		if (p->ngtags == QP_TAGKEYS_MAX)
			return plan_error(p, "too many GROUP BY tags (max %d)", QP_TAGKEYS_MAX);
		p->gtags[p->ngtags++] = s->group_tags[i];
	}
	qsort(p->gtags, p->ngtags, sizeof(p->gtags[0]), qp_strcmp_p);
	return 0;
}

/* ------------------------------------------------------------ plan */

int qp_plan(struct qplan *p)
{
	const struct mg_select *sel = p->sel;
	p->tmin = INT64_MIN;
	p->tmax = INT64_MAX;
	p->drive_cond = -1; /* run_groups decides (plan_drive) */
	if (sel->group_time) {
		if (sel->group_interval_ns <= 0)
			return plan_error(p, "GROUP BY time interval must be positive");
		p->interval = sel->group_interval_ns;
		p->offset = sel->group_offset_now ? p->cx->now_ns % p->interval
						  : sel->group_offset_ns % p->interval;
		if (p->offset < 0)
			p->offset += p->interval;
	}
	if (sel->tz) {
		int r = mg_tz_open(sel->tz, &p->tz);
		if (r == -ENOMEM)
			return r;
		if (r)
			return plan_error(p, "unknown time zone '%s'", sel->tz);
	}
	int rc = plan_group_tags(p);
	if (rc == 0)
		rc = plan_columns(p);
	if (rc == 0)
		rc = plan_where(p, sel->where);
	if (rc)
		return rc;
	/* Aggregates over a GROUP BY time with no upper bound end at now (InfluxDB). */
	if (p->agg && sel->group_time && !p->tmax_set)
		p->tmax = p->cx->now_ns;
	if (p->tmin > p->tmax)
		p->empty = true;
	return 0;
}
