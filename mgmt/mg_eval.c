/*
 * mg_eval.c - the executor's expression side: what each identifier of a
 * plan refers to, compiled regexes, time literals, and evaluating an
 * expression over one row (raw queries, WHERE) or one bucket (aggregates).
 *
 * Semantics (InfluxQL): arithmetic on two integers stays integer (but /,
 * which is float); anything with a float is float; division by zero is
 * null (InfluxDB 1.x returns 0 for floats divided by 0: we return null
 * and document it); a null operand gives null; comparisons between numbers
 * of any type compare values; strings compare with =, !=, <, ...; regexes
 * match with =~ and !~; a comparison with null is false.
 */
#include "mg_exec_int.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "mg_result.h"
#include "st_index.h"

/* ------------------------------------------------------------ arena */

struct qarena_blk {
	struct qarena_blk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *qa_alloc(struct qarena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct qarena_blk *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
		a->bytes += sizeof(*b) + cap;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

char *qa_strndup(struct qarena *a, const char *s, size_t n)
{
	char *d = qa_alloc(a, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

struct qa_interned {
	const char *s;
	uint64_t hash;
};

/* The slot of (s, n, hash) in set[cap]: the string's, or the empty one where it goes. */
static struct qa_interned *intern_slot(struct qa_interned *set, uint32_t cap, const char *s,
				       size_t n, uint64_t hash)
{
	for (uint32_t i = (uint32_t)hash & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!set[i].s || (set[i].hash == hash && !strncmp(set[i].s, s, n) && !set[i].s[n]))
			return &set[i];
}

const char *qa_intern(struct qarena *a, const char *s, size_t n)
{
	if (a->nset >= a->capset / 2) { /* at most half full: probes stay short */
		uint32_t cap = a->capset ? 2 * a->capset : 256;
		struct qa_interned *set = calloc(cap, sizeof(*set));
		if (!set)
			return NULL;
		for (uint32_t i = 0; i < a->capset; i++)
			if (a->set[i].s)
				*intern_slot(set, cap, a->set[i].s, strlen(a->set[i].s),
					     a->set[i].hash) = a->set[i];
		free(a->set);
		a->bytes += (cap - a->capset) * sizeof(*set); /* the table counts toward the guardrail */
		a->set = set;
		a->capset = cap;
	}
	uint64_t hash = XXH3_64bits(s, n);
	struct qa_interned *e = intern_slot(a->set, a->capset, s, n, hash);
	if (!e->s) {
		char *copy = qa_strndup(a, s, n);
		if (!copy)
			return NULL;
		*e = (struct qa_interned){copy, hash};
		a->nset++;
	}
	return e->s;
}

void qa_release(struct qarena *a)
{
	while (a->head) {
		struct qarena_blk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
	a->bytes = 0;
	free(a->set);
	a->set = NULL;
	a->nset = a->capset = 0;
}

/* ------------------------------------------------------------ references */

int qp_ref_set(struct qplan *p, const struct mg_expr *e, enum qref_kind k, uint32_t field)
{
	for (uint32_t i = 0; i < p->nrefs; i++)
		if (p->refs[i].e == e) {
			p->refs[i].kind = k;
			p->refs[i].field = field;
			return 0;
		}
	if (p->nrefs == p->caprefs) {
		uint32_t cap = p->caprefs ? 2 * p->caprefs : 32;
		struct qref *r = realloc(p->refs, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		p->refs = r;
		p->caprefs = cap;
	}
	p->refs[p->nrefs++] = (struct qref){.e = e, .kind = k, .field = field};
	return 0;
}

static const struct qref *ref_find(const struct qplan *p, const struct mg_expr *e)
{
	for (uint32_t i = 0; i < p->nrefs; i++)
		if (p->refs[i].e == e)
			return &p->refs[i];
	return NULL;
}

enum qref_kind qp_ref_kind(const struct qplan *p, const struct mg_expr *e)
{
	const struct qref *r = ref_find(p, e);
	return r ? r->kind : QR_NONE;
}

int qp_ref_field(const struct qplan *p, const struct mg_expr *e)
{
	const struct qref *r = ref_find(p, e);
	return r && r->kind == QR_FIELD ? (int)r->field : -1;
}

bool qp_name_in(const char *const *names, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

bool qp_is_group_tag(const struct qplan *p, const char *name)
{
	return qp_name_in(p->gtags, p->ngtags, name);
}

int qp_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct mg_expr *qp_new_ref(struct qplan *p, const char *name)
{
	struct mg_expr *e = qa_alloc(&p->arena, sizeof(*e));
	if (e) {
		memset(e, 0, sizeof(*e));
		e->kind = MG_EX_REF;
		e->s = name;
	}
	return e;
}

/* A copy of call `like` with its first argument replaced by arg (fn(*) expansion). */
struct mg_expr *qp_new_call(struct qplan *p, const struct mg_expr *like, struct mg_expr *arg)
{
	struct mg_expr *e = qa_alloc(&p->arena, sizeof(*e));
	struct mg_expr **args = qa_alloc(&p->arena, like->nargs * sizeof(*args));
	if (!e || !args || !arg)
		return NULL;
	*e = *like;
	memcpy(args, like->args, like->nargs * sizeof(*args));
	args[0] = arg;
	e->args = args;
	return e;
}

int qp_regex(struct qplan *p, const struct mg_expr *e, const struct st_index_regex **out)
{
	return qp_regex_text(p, e->s, out);
}

int qp_regex_text(struct qplan *p, const char *pattern, const struct st_index_regex **out)
{
	for (uint32_t i = 0; i < p->nres; i++) /* per row for a field's =~: the address first */
		if (p->res[i].pattern == pattern || !strcmp(p->res[i].pattern, pattern)) {
			*out = p->res[i].re;
			return 0;
		}
	if (p->nres == p->capres) {
		uint32_t cap = p->capres ? 2 * p->capres : 8;
		struct qre *r = realloc(p->res, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		p->res = r;
		p->capres = cap;
	}
	struct st_index_regex *re;
	int rc = st_index_regex_compile(pattern, strlen(pattern), &re, p->err, sizeof(p->err));
	if (rc)
		return rc;
	p->res[p->nres++] = (struct qre){.pattern = pattern, .re = re};
	*out = re;
	return 0;
}

void qp_release(struct qplan *p)
{
	assert(!p->ahead); /* run_groups stops it before the row sets go */
	for (uint32_t i = 0; i < p->nres; i++)
		st_index_regex_free(p->res[i].re);
	free(p->res);
	free(p->refs);
	mg_tz_close(p->tz);
	qa_release(&p->arena);
}

/* ------------------------------------------------------------ time literals */

/* now(), durations, integers (ns), time strings, and + / - between them. */
int qp_eval_time(struct qplan *p, const struct mg_expr *e, int64_t *out)
{
	int64_t a, b;
	int rc;
	switch (e->kind) {
	case MG_EX_NOW:
		*out = p->cx->now_ns;
		return 0;
	case MG_EX_INT:
	case MG_EX_DURATION:
		*out = e->i;
		return 0;
	case MG_EX_FLOAT:
		if (!(e->f > -9.2e18 && e->f < 9.2e18))
			break;
		*out = (int64_t)e->f;
		return 0;
	case MG_EX_STRING: {
		bool zoned;
		if (mg_tsql_parse_time(e->s, out, &zoned) == 0) {
			if (p->tz && !zoned) /* a wall time in the query's zone */
				*out = mg_tz_from_local(p->tz, *out);
			return 0;
		}
		snprintf(p->err, sizeof(p->err), "invalid time '%s'", e->s);
		return -EINVAL;
	}
	case MG_EX_NEG:
		rc = qp_eval_time(p, e->lhs, &a);
		if (rc)
			return rc;
		if (a == INT64_MIN)
			break;
		*out = -a;
		return 0;
	case MG_EX_BINARY:
		if (e->op != MG_OP_ADD && e->op != MG_OP_SUB)
			break;
		rc = qp_eval_time(p, e->lhs, &a);
		if (rc == 0)
			rc = qp_eval_time(p, e->rhs, &b);
		if (rc)
			return rc;
		if (e->op == MG_OP_ADD ? __builtin_add_overflow(a, b, out)
				       : __builtin_sub_overflow(a, b, out))
			break;
		return 0;
	default:
		break;
	}
	snprintf(p->err, sizeof(p->err), "invalid time value at char %u", e->pos + 1);
	return -EINVAL;
}

/* ------------------------------------------------------------ evaluation */

const char *qp_tag(const struct mg_tagpair *tags, uint32_t ntags, const char *key)
{
	uint32_t lo = 0, hi = ntags;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = strcmp(tags[mid].key, key);
		if (c == 0)
			return tags[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "";
}

static void set_null(struct xv *v)
{
	v->t = XV_NULL;
}

static void set_bool(struct xv *v, bool b)
{
	v->t = XV_BOOL;
	v->b = b;
}

static bool is_num(const struct xv *v)
{
	return v->t == XV_F64 || v->t == XV_I64;
}

static double num_f(const struct xv *v)
{
	return v->t == XV_I64 ? (double)v->i : v->f;
}

static void eval_slot(struct qplan *p, const struct mg_expr *e, const struct rowctx *r,
		      struct xv *out)
{
	for (uint32_t i = 0; r->slots && i < p->nslots; i++) {
		if (p->slots[i].call != e)
			continue;
		const struct mg_num *n = &r->slots[i];
		if (!n->valid)
			set_null(out);
		else if (n->is_int)
			*out = (struct xv){.t = XV_I64, .i = n->i};
		else
			*out = (struct xv){.t = XV_F64, .f = n->f};
		return;
	}
	set_null(out);
}

static void eval_ref(struct qplan *p, const struct mg_expr *e, const struct rowctx *r,
		     struct xv *out)
{
	const struct qref *q = ref_find(p, e);
	if (!q) {
		set_null(out);
		return;
	}
	switch (q->kind) {
	case QR_TIME:
		*out = (struct xv){.t = XV_I64, .i = r->ts};
		return;
	case QR_TAG: {
		const char *s = qp_tag(r->tags, r->ntags, e->s);
		*out = (struct xv){.t = XV_STR, .s = s, .slen = (uint32_t)strlen(s)};
		return;
	}
	case QR_FIELD:
		if (r->fields)
			*out = r->fields[q->field];
		else
			set_null(out);
		return;
	default:
		set_null(out);
	}
}

static void arith(enum mg_op op, const struct xv *a, const struct xv *b, struct xv *out)
{
	if (!is_num(a) || !is_num(b)) {
		set_null(out);
		return;
	}
	if (a->t == XV_I64 && b->t == XV_I64 && op != MG_OP_DIV) {
		int64_t x = a->i, y = b->i, z = 0;
		switch (op) {
		case MG_OP_ADD: z = (int64_t)((uint64_t)x + (uint64_t)y); break;
		case MG_OP_SUB: z = (int64_t)((uint64_t)x - (uint64_t)y); break;
		case MG_OP_MUL: z = (int64_t)((uint64_t)x * (uint64_t)y); break;
		case MG_OP_MOD:
			if (y == 0 || (x == INT64_MIN && y == -1)) {
				set_null(out);
				return;
			}
			z = x % y;
			break;
		case MG_OP_BITAND: z = x & y; break;
		case MG_OP_BITOR: z = x | y; break;
		case MG_OP_BITXOR: z = x ^ y; break;
		default: set_null(out); return;
		}
		*out = (struct xv){.t = XV_I64, .i = z};
		return;
	}
	double x = num_f(a), y = num_f(b), z;
	switch (op) {
	case MG_OP_ADD: z = x + y; break;
	case MG_OP_SUB: z = x - y; break;
	case MG_OP_MUL: z = x * y; break;
	case MG_OP_DIV:
		if (y == 0) {
			set_null(out);
			return;
		}
		z = x / y;
		break;
	case MG_OP_MOD:
		if (y == 0) {
			set_null(out);
			return;
		}
		z = fmod(x, y);
		break;
	default: set_null(out); return;
	}
	*out = (struct xv){.t = XV_F64, .f = z};
}

static int cmp_vals(const struct xv *a, const struct xv *b, bool *ok)
{
	*ok = true;
	if (is_num(a) && is_num(b)) {
		if (a->t == XV_I64 && b->t == XV_I64)
			return (a->i > b->i) - (a->i < b->i);
		double x = num_f(a), y = num_f(b);
		if (isnan(x) || isnan(y))
			*ok = false;
		return (x > y) - (x < y);
	}
	if (a->t == XV_STR && b->t == XV_STR) {
		size_t n = a->slen < b->slen ? a->slen : b->slen;
		int c = memcmp(a->s, b->s, n);
		return c ? (c > 0) - (c < 0) : (a->slen > b->slen) - (a->slen < b->slen);
	}
	if (a->t == XV_BOOL && b->t == XV_BOOL)
		return (int)a->b - (int)b->b;
	*ok = false;
	return 0;
}

static void compare(struct qplan *p, const struct mg_expr *e, const struct rowctx *r,
		    struct xv *out)
{
	struct xv a, b;
	qp_eval(p, e->lhs, r, &a);
	if (e->op == MG_OP_EQREGEX || e->op == MG_OP_NEQREGEX) {
		const struct st_index_regex *re;
		if (e->rhs->kind != MG_EX_REGEX || a.t != XV_STR || qp_regex(p, e->rhs, &re)) {
			set_bool(out, false);
			return;
		}
		int m = st_index_regex_match(re, (struct st_str){a.s, a.slen});
		set_bool(out, m >= 0 && (m == 1) == (e->op == MG_OP_EQREGEX));
		return;
	}
	qp_eval(p, e->rhs, r, &b);
	set_bool(out, qp_compare(e->op, &a, &b));
}

bool qp_compare(enum mg_op op, const struct xv *a, const struct xv *b)
{
	bool ok;
	int c = cmp_vals(a, b, &ok);
	if (!ok) /* a missing tag is "", a missing field null: != holds against a value */
		return op == MG_OP_NEQ && a->t != XV_NULL && b->t != XV_NULL;
	switch (op) {
	case MG_OP_EQ: return c == 0;
	case MG_OP_NEQ: return c != 0;
	case MG_OP_LT: return c < 0;
	case MG_OP_LTE: return c <= 0;
	case MG_OP_GT: return c > 0;
	default: return c >= 0;
	}
}

void qp_eval(struct qplan *p, const struct mg_expr *e, const struct rowctx *r, struct xv *out)
{
	struct xv a, b;
	switch (e->kind) {
	case MG_EX_INT:
	case MG_EX_DURATION:
		*out = (struct xv){.t = XV_I64, .i = e->i};
		return;
	case MG_EX_FLOAT:
		*out = (struct xv){.t = XV_F64, .f = e->f};
		return;
	case MG_EX_STRING:
	case MG_EX_REGEX:
		*out = (struct xv){.t = XV_STR, .s = e->s, .slen = (uint32_t)strlen(e->s)};
		return;
	case MG_EX_BOOL:
		set_bool(out, e->b);
		return;
	case MG_EX_NOW:
		*out = (struct xv){.t = XV_I64, .i = p->cx->now_ns};
		return;
	case MG_EX_REF:
		eval_ref(p, e, r, out);
		return;
	case MG_EX_CALL:
		eval_slot(p, e, r, out);
		return;
	case MG_EX_NEG:
		qp_eval(p, e->lhs, r, &a);
		if (a.t == XV_I64)
			a.i = (int64_t)(0 - (uint64_t)a.i);
		else if (a.t == XV_F64)
			a.f = -a.f;
		else
			set_null(&a);
		*out = a;
		return;
	case MG_EX_BINARY:
		break;
	default:
		set_null(out);
		return;
	}
	if (e->op == MG_OP_AND || e->op == MG_OP_OR) {
		bool l = qp_test(p, e->lhs, r);
		if (e->op == MG_OP_AND ? !l : l) {
			set_bool(out, l);
			return;
		}
		set_bool(out, qp_test(p, e->rhs, r));
		return;
	}
	if (e->op >= MG_OP_EQ && e->op <= MG_OP_NEQREGEX) {
		compare(p, e, r, out);
		return;
	}
	qp_eval(p, e->lhs, r, &a);
	qp_eval(p, e->rhs, r, &b);
	arith(e->op, &a, &b, out);
}

bool qp_test(struct qplan *p, const struct mg_expr *e, const struct rowctx *r)
{
	struct xv v;
	qp_eval(p, e, r, &v);
	return v.t == XV_BOOL && v.b;
}
