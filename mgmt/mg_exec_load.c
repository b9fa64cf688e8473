/*
 * mg_exec_load.c - from the series index to row sets, and from the shards
 * to their points.
 *
 * Planning reads the index inside one read session: the measurement's
 * schema, then the ids of the series that have a needed field, narrowed by
 * the tag conditions the index can answer exactly (=, !=, =~, !~ combined
 * with AND and OR: id-set operations, st_index.h), grouped into row sets by
 * tag set. Keys and tags are copied into the plan's arena before the
 * session ends. Reading points goes series by series, each between
 * st_read_begin/end (QSBR), every tier through st_store_read; a key held by
 * several shards (UDP senders spread over workers) is merged in time order.
 */
#include "mg_exec_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "mg_db.h"
#include "mg_decode.h"
#include "mg_result.h"
#include "st_index.h"
#include "st_rcu.h"
#include "st_series.h"
#include "st_store.h"

static struct st_str S(const char *s)
{
	return (struct st_str){s, (uint32_t)strlen(s)};
}

/* ------------------------------------------------------------ schema */

struct names {
	struct qplan *p;
	const char **v;
	uint32_t *n;
	int rc;
};

static int add_name(void *arg, struct st_str name, uint64_t nseries)
{
	(void)nseries;
	struct names *a = arg;
	for (uint32_t i = 0; i < *a->n; i++)
		if (strlen(a->v[i]) == name.len && !memcmp(a->v[i], name.p, name.len))
			return 0;
	if (*a->n == QP_FIELDS_MAX) {
		a->rc = -E2BIG;
		return 1;
	}
	const char *s = qa_strndup(&a->p->arena, name.p, name.len);
	if (!s) {
		a->rc = -ENOMEM;
		return 1;
	}
	a->v[(*a->n)++] = s;
	return 0;
}

int ql_schema(struct qplan *p, const char *const *meas, uint32_t nmeas)
{
	struct st_index *idx = p->cx->idx;
	struct names f = {p, p->fieldkeys, &p->nfieldkeys, 0};
	struct names t = {p, p->tagkeys, &p->ntagkeys, 0};
	int rc = 0;
	st_index_read_lock(idx);
	for (uint32_t i = 0; i < nmeas && rc == 0 && !f.rc && !t.rc; i++) {
		rc = st_index_field_keys(idx, S(meas[i]), NULL, add_name, &f);
		if (rc >= 0)
			rc = st_index_tag_keys(idx, S(meas[i]), NULL, add_name, &t);
		rc = rc > 0 ? 0 : rc;
	}
	st_index_read_unlock(idx);
	rc = rc ? rc : f.rc ? f.rc : t.rc;
	if (rc == -E2BIG)
		snprintf(p->err, sizeof(p->err), "too many field or tag keys (max %d)", QP_FIELDS_MAX);
	qsort(p->fieldkeys, p->nfieldkeys, sizeof(p->fieldkeys[0]), qp_strcmp_p);
	qsort(p->tagkeys, p->ntagkeys, sizeof(p->tagkeys[0]), qp_strcmp_p);
	return rc;
}

/* ------------------------------------------------------------ pushdown */

static const struct mg_expr *tag_side(struct qplan *p, const struct mg_expr *e,
				      const struct mg_expr **other)
{
	if (e->lhs->kind == MG_EX_REF && qp_ref_kind(p, e->lhs) == QR_TAG) {
		*other = e->rhs;
		return e->lhs;
	}
	if (e->rhs->kind == MG_EX_REF && qp_ref_kind(p, e->rhs) == QR_TAG &&
	    e->op != MG_OP_EQREGEX && e->op != MG_OP_NEQREGEX) {
		*other = e->lhs;
		return e->rhs;
	}
	return NULL;
}

/* The ids of meas that satisfy e exactly, or -ENOTSUP when the index cannot say. */
static int push(struct qplan *p, struct st_str meas, const struct mg_expr *e,
		struct st_idset *out)
{
	const struct st_index *idx = p->cx->idx;
	if (e->kind != MG_EX_BINARY)
		return -ENOTSUP;
	if (e->op == MG_OP_AND || e->op == MG_OP_OR) {
		struct st_idset r;
		st_idset_init(&r);
		int rc = push(p, meas, e->lhs, out);
		if (rc == 0)
			rc = push(p, meas, e->rhs, &r);
		if (rc == 0) {
			if (e->op == MG_OP_AND)
				st_idset_intersect(out, &r);
			else
				rc = st_idset_union(out, &r);
		}
		st_idset_release(&r);
		return rc;
	}
	const struct mg_expr *v, *t = tag_side(p, e, &v);
	if (!t)
		return -ENOTSUP;
	struct st_str key = S(t->s);
	const struct st_index_regex *re;
	switch (e->op) {
	case MG_OP_EQ:
	case MG_OP_NEQ:
		if (v->kind != MG_EX_STRING)
			return -ENOTSUP;
		return e->op == MG_OP_EQ ? st_index_tag_eq(idx, meas, key, S(v->s), out)
					 : st_index_tag_neq(idx, meas, key, S(v->s), out);
	case MG_OP_EQREGEX:
	case MG_OP_NEQREGEX:
		if (v->kind != MG_EX_REGEX || qp_regex(p, v, &re))
			return -ENOTSUP;
		return e->op == MG_OP_EQREGEX ? st_index_tag_regex(idx, meas, key, re, out)
					      : st_index_tag_nregex(idx, meas, key, re, out);
	default:
		return -ENOTSUP;
	}
}

/* The candidates: series of meas with a needed field, narrowed by the pushed conditions. */
static int candidates(struct qplan *p, struct st_str meas, struct st_idset *set)
{
	const struct st_index *idx = p->cx->idx;
	struct st_idset one;
	st_idset_init(&one);
	int rc = 0;
	st_idset_clear(set);
	for (uint32_t f = 0; f < p->nfields && rc == 0; f++) {
		rc = st_index_field(idx, meas, S(p->fields[f]), &one);
		if (rc == 0)
			rc = st_idset_union(set, &one);
	}
	for (uint32_t c = 0; c < p->nconds && rc == 0 && set->n; c++) {
		if (!p->conds[c].tag_only)
			continue;
		int r = push(p, meas, p->conds[c].e, &one);
		if (r == -ENOTSUP)
			continue;
		rc = r;
		if (rc == 0) {
			st_idset_intersect(set, &one);
			p->conds[c].pushed = true;
		}
	}
	st_idset_release(&one);
	return rc;
}

/* ------------------------------------------------------------ row sets */

struct entry {
	const uint8_t *tags;     /* the key's tag records (copied): the row set's identity */
	uint32_t tlen;
	uint32_t ntags;
	const uint8_t *order;    /* "key\0value\0..." of the tags: memcmp is series-key order */
	uint32_t olen;
	uint32_t field;
	uint64_t id;
};

/*
 * Tag sets in series-key order: tag by tag (sorted by key), key then value
 * as byte strings, a set that ends first first (a NUL inside a tag may
 * blur that order, never the identity: equal order strings fall back to the
 * records). Row sets are built in this order, and raw rows of a group with
 * equal times keep it.
 */
static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->order == y->order) /* one series' fields share their tag copies (collect) */
		goto same_tags;
	int c = memcmp(x->order, y->order, x->olen < y->olen ? x->olen : y->olen);
	if (!c)
		c = (x->olen > y->olen) - (x->olen < y->olen);
	if (!c && (x->tlen != y->tlen || memcmp(x->tags, y->tags, x->tlen)))
		c = x->tlen != y->tlen ? (x->tlen > y->tlen) - (x->tlen < y->tlen)
				       : memcmp(x->tags, y->tags, x->tlen);
	if (c)
		return c;
same_tags:
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The order string of a key's tags, in the arena. */
static const uint8_t *order_string(struct qplan *p, const struct st_key_view *v, uint32_t *len)
{
	size_t cap = (size_t)(v->end - v->tags) + 2 * (size_t)v->ntags + 1, n = 0;
	uint8_t *o = qa_alloc(&p->arena, cap);
	if (!o)
		return NULL;
	struct st_key_iter it;
	struct st_tag t;
	st_key_iter_init(v, &it);
	while (st_key_iter_next(&it, &t) && n + t.key.len + t.value.len + 2 <= cap) {
		memcpy(o + n, t.key.p, t.key.len);
		n += t.key.len;
		o[n++] = 0;
		memcpy(o + n, t.value.p, t.value.len);
		n += t.value.len;
		o[n++] = 0;
	}
	*len = (uint32_t)n;
	return o;
}

static int field_of(const struct qplan *p, struct st_str f)
{
	for (uint32_t i = 0; i < p->nfields; i++)
		if (strlen(p->fields[i]) == f.len && !memcmp(p->fields[i], f.p, f.len))
			return (int)i;
	return -1;
}

/* Copy the series keys of set into entries (inside the index session). */
static int collect(struct qplan *p, const struct st_idset *set, struct entry *ents, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < set->n; i++) {
		const uint8_t *key;
		size_t len;
		struct st_key_view v;
		if (st_index_key(p->cx->idx, set->ids[i], &key, &len) ||
		    st_key_parse(key, len, &v))
			continue;
		int f = field_of(p, v.field);
		if (f < 0)
			continue;
		size_t tl = (size_t)(v.end - v.tags);
		const struct entry *prev = *n ? &ents[*n - 1] : NULL;
		if (prev && prev->tlen == tl && !memcmp(prev->tags, v.tags, tl)) {
			/* the next field of the same tag set (ids of a series' fields are
			 * mostly adjacent): share its copies */
			ents[(*n)++] = (struct entry){prev->tags, prev->tlen, prev->ntags, prev->order,
						      prev->olen, (uint32_t)f, set->ids[i]};
			continue;
		}
		uint8_t *t = qa_alloc(&p->arena, tl);
		if (tl && !t)
			return -ENOMEM;
		memcpy(t, v.tags, tl);
		uint32_t olen;
		const uint8_t *o = order_string(p, &v, &olen);
		if (!o)
			return -ENOMEM;
		ents[(*n)++] = (struct entry){t, (uint32_t)tl, v.ntags, o, olen, (uint32_t)f,
					      set->ids[i]};
	}
	return 0;
}

static int make_tags(struct qplan *p, const struct entry *e, struct rowset *rs)
{
	struct st_key_view v = {.ntags = e->ntags, .tags = e->tags, .end = e->tags + e->tlen};
	rs->ntags = v.ntags;
	rs->tags = qa_alloc(&p->arena, (v.ntags ? v.ntags : 1) * sizeof(*rs->tags));
	if (!rs->tags)
		return -ENOMEM;
	struct st_key_iter it;
	struct st_tag t;
	st_key_iter_init(&v, &it);
	for (uint32_t i = 0; st_key_iter_next(&it, &t); i++) {
		rs->tags[i].key = qa_intern(&p->arena, t.key.p, t.key.len);
		rs->tags[i].value = qa_intern(&p->arena, t.value.p, t.value.len);
		if (!rs->tags[i].key || !rs->tags[i].value)
			return -ENOMEM;
	}
	return 0;
}

/* The GROUP BY key of a row set: its values of the group tags, NUL-separated. */
int ql_group_key(struct qplan *p, struct rowset *rs)
{
	const char *vals[QP_TAGKEYS_MAX];
	size_t n = 0;
	for (uint32_t i = 0; i < p->ngtags; i++) {
		vals[i] = qp_tag(rs->tags, rs->ntags, p->gtags[i]);
		n += strlen(vals[i]) + 1;
	}
	char *k = qa_alloc(&p->arena, n ? n : 1);
	if (!k)
		return -ENOMEM;
	for (uint32_t i = 0, at = 0; i < p->ngtags; i++) {
		size_t vl = strlen(vals[i]) + 1;
		memcpy(k + at, vals[i], vl);
		at += (uint32_t)vl;
	}
	rs->gkey = k;
	rs->gkey_len = (uint32_t)n;
	return 0;
}

int ql_rowsets_push(struct rowsets *out, const struct rowset *rs)
{
	if (out->n == out->cap) {
		uint32_t cap = out->cap ? 2 * out->cap : 16;
		struct rowset *v = realloc(out->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->v = v;
		out->cap = cap;
	}
	out->v[out->n++] = *rs;
	return 0;
}

/* Build row sets from sorted entries; drop those the unpushed tag conditions reject. */
static int build(struct qplan *p, const char *shown, struct entry *ents, size_t n,
		 struct rowsets *out)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && ents[j].tlen == ents[i].tlen &&
		       !memcmp(ents[j].tags, ents[i].tags, ents[i].tlen))
			j++;
		struct rowset rs = {.meas = shown};
		rs.f = qa_alloc(&p->arena, p->nfields * sizeof(*rs.f));
		uint64_t *ids = qa_alloc(&p->arena, (j - i) * sizeof(*ids));
		if (!rs.f || !ids || make_tags(p, &ents[i], &rs))
			return -ENOMEM;
		memset(rs.f, 0, p->nfields * sizeof(*rs.f));
		for (size_t k = i; k < j; k++) {
			struct qfcol *c = &rs.f[ents[k].field];
			if (!c->ids)
				c->ids = ids + (k - i);
			ids[k - i] = ents[k].id;
			c->nids++;
		}
		i = j;
		struct rowctx r = {.tags = rs.tags, .ntags = rs.ntags};
		bool ok = true;
		for (uint32_t c = 0; c < p->nconds && ok; c++)
			if (p->conds[c].tag_only && !p->conds[c].pushed)
				ok = qp_test(p, p->conds[c].e, &r);
		if (!ok)
			continue;
		int rc = ql_group_key(p, &rs);
		if (rc == 0)
			rc = ql_rowsets_push(out, &rs);
		if (rc)
			return rc;
	}
	return 0;
}

int ql_rowsets(struct qplan *p, const char *meas, struct rowsets *out)
{
	struct st_idset set;
	st_idset_init(&set);
	struct st_str shown, db, m = S(meas);
	mg_db_split(m, p->cx->default_db, &db, &shown);
	const char *shown_s = qa_strndup(&p->arena, shown.p, shown.len);
	struct entry *ents = NULL;
	size_t n = 0;
	st_index_read_lock(p->cx->idx);
	int rc = shown_s ? candidates(p, m, &set) : -ENOMEM;
	if (rc == 0 && set.n) {
		ents = malloc(set.n * sizeof(*ents));
		rc = ents ? collect(p, &set, ents, &n) : -ENOMEM;
	}
	st_index_read_unlock(p->cx->idx);
	if (rc == 0 && p->cx->limits.max_series && n > p->cx->limits.max_series) {
		snprintf(p->err, sizeof(p->err), "max-select-series limit exceeded: (%zu/%llu)", n,
			 (unsigned long long)p->cx->limits.max_series);
		rc = -E2BIG;
	}
	if (rc == 0 && n) {
		qsort(ents, n, sizeof(*ents), entry_cmp);
		rc = build(p, shown_s, ents, n, out);
	}
	free(ents);
	st_idset_release(&set);
	return rc;
}

/* ------------------------------------------------------------ points */

int ql_check(struct qplan *p, uint64_t more_points)
{
	const struct mg_exec_ctx *cx = p->cx;
	p->points_read += more_points;
	if (cx->points_scanned)
		atomic_fetch_add_explicit(cx->points_scanned, more_points, memory_order_relaxed);
	if (cx->killed && atomic_load_explicit(cx->killed, memory_order_relaxed)) {
		snprintf(p->err, sizeof(p->err), "query killed");
		return -ECANCELED;
	}
	if (p->deadline_ns && cm_now_ns() > p->deadline_ns) {
		snprintf(p->err, sizeof(p->err), "query timeout: exceeded %.3f s",
			 (double)cx->limits.timeout_ns / 1e9);
		return -ETIME;
	}
	if (cx->limits.max_points && p->points_read > cx->limits.max_points) {
		snprintf(p->err, sizeof(p->err), "max-select-point limit exceeded: (%llu/%llu)",
			 (unsigned long long)p->points_read,
			 (unsigned long long)cx->limits.max_points);
		return -E2BIG;
	}
	if (cx->limits.max_memory_bytes && p->held_bytes + p->arena.bytes >
						cx->limits.max_memory_bytes) {
		snprintf(p->err, sizeof(p->err), "query memory limit exceeded: %zu bytes (max %zu)",
			 p->held_bytes + p->arena.bytes, cx->limits.max_memory_bytes);
		return -ENOMEM;
	}
	return 0;
}

int ql_fits(struct qplan *p, uint64_t n, size_t size, const char *what)
{
	size_t bytes;
	if (n > SIZE_MAX || __builtin_mul_overflow((size_t)n, size, &bytes) || bytes > SIZE_MAX / 2) {
		snprintf(p->err, sizeof(p->err), "query memory limit exceeded: %llu %s",
			 (unsigned long long)n, what);
		return -ENOMEM;
	}
	p->held_bytes += bytes;
	int rc = ql_check(p, 0);
	p->held_bytes -= bytes;
	return rc;
}

/* Which block chunks a summarized read answers from their summaries. */
struct sum_take {
	const struct qplan *p;
	uint8_t vt;
};

static bool sum_take(void *arg, const struct st_block_summary *c)
{
	const struct sum_take *t = arg;
	/* an exact sum and no NaN (mg_acc_add_sum's sums); a U64 summary orders
	 * unsigned, the accumulator as int64: only where the two agree */
	if ((c->flags & (ST_BLOCK_SUM_OVERFLOW | ST_BLOCK_SUM_NAN)) ||
	    (t->vt == ST_VT_U64 && c->max > (uint64_t)INT64_MAX))
		return false;
	return !t->p->interval || qp_bucket_index(t->p, c->t_min) == qp_bucket_index(t->p, c->t_max);
}

/* What reading a row set found, counted toward the guardrails by the query thread. */
struct rs_read {
	int rc;
	uint64_t failed_id;          /* the series whose read failed */
	uint64_t points;             /* points read, and those its summaries stand for */
	uint64_t sums;               /* block chunks answered by their summaries */
};

/* How a row set is read: the range, and the ends or summaries. */
struct read_mode {
	int64_t tmin, tmax;
	uint64_t k;                  /* > 0: the k points nearest one end */
	bool newest, sums;
};

/*
 * One series' points into c (merged with what is there), on QSBR slot
 * reader. Changes nothing but c and t: decode helpers call it
 * (mg_decode.h) while the query thread goes on with the plan.
 */
static int read_series(const struct qplan *p, int reader, const struct read_mode *m,
		       struct qfcol *c, uint64_t id, struct rs_read *t)
{
	const struct mg_exec_ctx *cx = p->cx;
	uint32_t shard = ST_SERIES_SHARD(id);
	uint32_t local = (uint32_t)ST_SERIES_LOCAL(id);
	if (shard >= cx->nshards)
		return 0;
	struct st_store *st = cx->stores[shard];
	st_read_begin(cx->rcu, reader);
	if (c->vt == ST_VT_NONE) {
		uint32_t len;
		enum st_value_type vt = ST_VT_NONE;
		if (local < st_shard_series_count(st_store_shard(st)))
			st_shard_series_key(st_store_shard(st), local, &len, &vt);
		c->vt = (uint8_t)vt;
	}
	/*
	 * A key several shards hold (senders spread over workers): the second
	 * shard's points are read apart and merged in time order (on a shared
	 * timestamp this shard's point wins: no order exists between shards).
	 */
	size_t before = c->pts.n, sums0 = c->sums.n;
	struct st_points more;
	st_points_init(&more);
	struct st_points *dst = before ? &more : &c->pts;
	struct sum_take take = {.p = p, .vt = c->vt};
	int rc;
	if (m->k)
		rc = st_store_read_end(st, local, m->tmin, m->tmax, m->k, m->newest, dst);
	else if (m->sums && c->nids == 1) /* (a key two shards hold merges points) */
		rc = st_store_read_summ(st, local, m->tmin, m->tmax, sum_take, &take, dst, &c->sums);
	else
		rc = st_store_read(st, local, m->tmin, m->tmax, dst);
	st_read_end(cx->rcu, reader);
	if (rc == -ENOENT)
		rc = 0;
	/* the points a summary stands for count as read (the guardrail does not depend on layout) */
	t->points += dst == &more ? more.n : c->pts.n - before;
	for (size_t i = sums0; i < c->sums.n; i++)
		t->points += c->sums.v[i].count;
	t->sums += c->sums.n - sums0;
	if (rc >= 0 && dst == &more && more.n)
		rc = st_points_merge_newer(&c->pts, 0, &more);
	st_points_release(&more);
	return rc < 0 ? rc : 0;
}

/* Every field of rs (empty before) read in mode m; t says what it found. */
static void read_rowset(const struct qplan *p, int reader, const struct read_mode *m,
			struct rowset *rs, struct rs_read *t)
{
	*t = (struct rs_read){0};
	for (uint32_t f = 0; f < p->nfields; f++) {
		st_points_init(&rs->f[f].pts);
		rs->f[f].sums = (struct st_sums){0};
	}
	for (uint32_t f = 0; f < p->nfields; f++)
		for (uint32_t i = 0; i < rs->f[f].nids; i++)
			if ((t->rc = read_series(p, reader, m, &rs->f[f], rs->f[f].ids[i], t))) {
				t->failed_id = rs->f[f].ids[i];
				return;
			}
}

/* What a row set read holds: the points and summaries in memory. */
static size_t rowset_bytes(const struct qplan *p, const struct rowset *rs)
{
	size_t b = 0;
	for (uint32_t f = 0; f < p->nfields; f++)
		b += rs->f[f].pts.n * (sizeof(int64_t) + sizeof(uint64_t)) +
		     rs->f[f].sums.n * sizeof(*rs->f[f].sums.v);
	return b;
}

static void release_fields(const struct qplan *p, struct rowset *rs)
{
	for (uint32_t f = 0; f < p->nfields; f++) {
		st_points_release(&rs->f[f].pts);
		st_sums_release(&rs->f[f].sums);
	}
}

/* ------------------------------------------------------------ reading ahead */

/*
 * A statement's row sets read ahead by the decode helpers (mg_decode.h),
 * whole, over the range and in the mode the statement started with; a
 * load that asks for anything else reads the row set again itself.
 */
struct ql_ahead {
	struct mg_decode_job job;
	const struct qplan *p;
	struct rowset *v;
	struct read_mode mode;
	struct rs_read *reads;       /* [job.n] */
};

static void ahead_read(void *arg, uint32_t i, int reader)
{
	struct ql_ahead *a = arg;
	read_rowset(a->p, reader, &a->mode, &a->v[i], &a->reads[i]);
}

static void ahead_drop(void *arg, uint32_t i)
{
	struct ql_ahead *a = arg;
	release_fields(a->p, &a->v[i]);
}

void ql_ahead_start(struct qplan *p, struct rowset *v, uint32_t n, bool sums)
{
	struct mg_decode_pool *pool = p->cx->decode;
	if (p->ahead || mg_decode_pool_threads(pool) == 0 || n < 2)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (v[i].loaded)
			return; /* a subquery's rows, not the store's */
	struct ql_ahead *a = calloc(1, sizeof(*a));
	struct rs_read *reads = calloc(n, sizeof(*reads));
	if (!a || !reads) {
		free(a);
		free(reads);
		return; /* the query reads every row set itself */
	}
	*a = (struct ql_ahead){
		.job = {.fn = ahead_read, .arg = a, .n = n}, .p = p, .v = v,
		.mode = {.tmin = p->tmin, .tmax = p->tmax, .sums = sums}, .reads = reads,
	};
	if (mg_decode_start(pool, &a->job)) {
		free(reads);
		free(a);
		return;
	}
	p->ahead = a;
}

void ql_ahead_stop(struct qplan *p)
{
	struct ql_ahead *a = p->ahead;
	if (!a)
		return;
	mg_decode_finish(p->cx->decode, &a->job, ahead_drop);
	free(a->reads);
	free(a);
	p->ahead = NULL;
}

/*
 * rs as a helper read it, when one did in mode m (true, t filled); else
 * (false) rs is the caller's to read: no helper touches it any more.
 */
static bool take_ahead(struct qplan *p, struct rowset *rs, const struct read_mode *m,
		       struct rs_read *t)
{
	struct ql_ahead *a = p->ahead;
	if (!a || rs < a->v || rs >= a->v + a->job.n)
		return false;
	uint32_t i = (uint32_t)(rs - a->v);
	if (!mg_decode_take(p->cx->decode, &a->job, i))
		return false;
	const struct read_mode *h = &a->mode;
	if (m->tmin == h->tmin && m->tmax == h->tmax && m->k == h->k && m->newest == h->newest &&
	    m->sums == h->sums) {
		*t = a->reads[i];
		return true;
	}
	release_fields(p, rs); /* read for another mode: not this load's points */
	return false;
}

/* ------------------------------------------------------------ loading */

static int load(struct qplan *p, struct rowset *rs, uint64_t k, bool newest, bool sums)
{
	if (rs->loaded)
		return 0;
	struct read_mode m = {.tmin = p->tmin, .tmax = p->tmax, .k = k, .newest = newest && k,
			      .sums = sums && !k};
	struct rs_read t;
	if (!take_ahead(p, rs, &m, &t))
		read_rowset(p, p->cx->reader, &m, rs, &t);
	rs->loaded = true; /* ql_unload frees what was read, also after an error or a guardrail */
	p->held_bytes += rowset_bytes(p, rs);
	if (p->cx->chunks_summarized && t.sums)
		atomic_fetch_add_explicit(p->cx->chunks_summarized, t.sums, memory_order_relaxed);
	if (t.rc < 0) {
		snprintf(p->err, sizeof(p->err), "reading series %llu failed: %s",
			 (unsigned long long)t.failed_id, strerror(-t.rc));
		return t.rc;
	}
	return ql_check(p, t.points);
}

int ql_load_ends(struct qplan *p, struct rowset *rs, uint64_t k, bool newest)
{
	return load(p, rs, k, newest, false);
}

int ql_load(struct qplan *p, struct rowset *rs)
{
	return load(p, rs, 0, false, false);
}

int ql_load_sums(struct qplan *p, struct rowset *rs)
{
	return load(p, rs, 0, false, true);
}

void ql_unload(struct qplan *p, struct rowset *rs)
{
	if (!rs->loaded)
		return;
	size_t b = rowset_bytes(p, rs);
	p->held_bytes -= b < p->held_bytes ? b : p->held_bytes;
	release_fields(p, rs);
	rs->loaded = false;
}
