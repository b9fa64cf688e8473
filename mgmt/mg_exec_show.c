/*
 * mg_exec_show.c - the meta statements: SHOW DATABASES, MEASUREMENTS, TAG
 * KEYS, TAG VALUES, FIELD KEYS, SERIES, cardinalities, RETENTION POLICIES,
 * QUERIES; CREATE and DROP DATABASE; KILL QUERY. Result shapes are
 * InfluxDB 1.x's (series names and column names), so clients that parse
 * them (Grafana's variable queries, Telegraf, TSBS) work unchanged.
 *
 * Listings without WHERE come straight from the series index's sorted
 * listings; with WHERE the series of each measurement are scanned and
 * their tags tested (the condition may only use tags).
 */
#include "mg_exec_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_db.h"
#include "mg_result.h"
#include "st_index.h"
#include "st_rcu.h"
#include "st_series.h"
#include "st_store.h"

static struct st_str S(const char *s)
{
	return (struct st_str){s, (uint32_t)strlen(s)};
}

/* A growable list of strings (the arena of the plan owns the bytes). */
struct strs {
	struct qplan *p;
	char **v;
	size_t n, cap;
	int rc;
};

static int strs_add(struct strs *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return l->rc = -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = qa_strndup(&l->p->arena, s, len);
	return l->v[l->n++] ? 0 : (l->rc = -ENOMEM);
}

/* Sort and drop repeats. */
static void strs_unique(struct strs *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), qp_strcmp_p);
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++)
		if (k == 0 || strcmp(l->v[k - 1], l->v[i]))
			l->v[k++] = l->v[i];
	l->n = k;
}

/* ------------------------------------------------------------ context */

struct meta {
	struct qplan p;               /* for the WHERE evaluator and the arena */
	const struct mg_stmt *st;
	const char *db;
	char ns[MG_DB_NS_MAX];        /* db's namespace (statements that read a database) */
	struct mg_result *r;
	struct mg_stmt_result *sr;
	const struct st_index_regex *with_re;   /* WITH KEY/MEASUREMENT =~ */
};

/* Every identifier in a SHOW ... WHERE is a tag. */
static int mark_tags(struct qplan *p, const struct mg_expr *e)
{
	if (!e)
		return 0;
	switch (e->kind) {
	case MG_EX_REF:
		if (!strcmp(e->s, "time"))
			return 0;
		return qp_ref_set(p, e, QR_TAG, 0);
	case MG_EX_BINARY: {
		int rc = mark_tags(p, e->lhs);
		return rc ? rc : mark_tags(p, e->rhs);
	}
	case MG_EX_NEG:
		return mark_tags(p, e->lhs);
	default:
		return 0;
	}
}

static int add_rows1(struct meta *m, const char *name, const char *col, struct strs *l,
		     int64_t off, int64_t lim)
{
	const char *cols[1] = {col};
	if (l->n == 0 || (size_t)off >= l->n)
		return 0;
	struct mg_series *se = mg_result_add_series(m->r, m->sr, name, NULL, 0, cols, 1);
	if (!se)
		return -ENOMEM;
	for (size_t i = (size_t)off; i < l->n && (int64_t)(i - (size_t)off) < lim; i++) {
		struct mg_cell c = {.type = MG_CELL_STR, .s = l->v[i]};
		if (mg_result_add_row(m->r, se, &c))
			return -ENOMEM;
	}
	return 0;
}

static int64_t lim_of(int64_t v)
{
	return v > 0 ? v : INT64_MAX;
}

static int64_t off_of(int64_t v)
{
	return v > 0 ? v : 0;
}

/* ------------------------------------------------------------ measurements */

struct mlist {
	struct meta *m;
	struct strs *out;            /* series names (prefixed) */
	const struct st_index_regex *re;
	const char *ns;              /* the namespace listed */
};

static int with_ok(struct meta *m, struct st_str shown)
{
	const struct mg_stmt *st = m->st;
	if (st->kind != MG_STMT_SHOW_MEASUREMENTS || st->with_op == MG_WITH_NONE)
		return 1;
	bool eq = false;
	for (uint32_t i = 0; i < st->nwith_values && st->with_op != MG_WITH_REGEX &&
			     st->with_op != MG_WITH_NREGEX; i++)
		eq |= st_str_eq(shown, S(st->with_values[i]));
	switch (st->with_op) {
	case MG_WITH_EQ:
	case MG_WITH_IN:
		return eq;
	case MG_WITH_NEQ:
		return !eq;
	default:
		return -1; /* regex: the caller matches */
	}
}

static int mlist_cb(void *arg, struct st_str name, uint64_t nseries)
{
	(void)nseries;
	struct mlist *l = arg;
	struct meta *m = l->m;
	struct st_str db, shown;
	if (!mg_db_owns(name, l->ns, m->p.cx->default_db))
		return 0;
	mg_db_split(name, m->p.cx->default_db, &db, &shown);
	int ok = with_ok(m, shown);
	if (ok < 0) {
		int r = st_index_regex_match(l->re, shown);
		ok = m->st->with_op == MG_WITH_REGEX ? r == 1 : r == 0;
	}
	if (ok && strs_add(l->out, name.p, name.len))
		return 1;
	return 0;
}

/* The measurements (prefixed series names) of the statement: FROM, or all of the database. */
static int measurements(struct meta *m, struct strs *out)
{
	const struct mg_stmt *st = m->st;
	struct mlist l = {m, out, NULL, m->ns};
	struct st_index *idx = m->p.cx->idx;
	int rc = 0;
	if (st->with_op == MG_WITH_REGEX || st->with_op == MG_WITH_NREGEX) {
		rc = qp_regex_text(&m->p, st->with_values[0], &l.re);
		if (rc)
			return rc;
		m->with_re = l.re;
	}
	for (uint32_t i = 0; i < st->nfrom && rc == 0; i++) {
		const struct mg_source *src = &st->from[i];
		const char *db = src->db && src->db[0] ? src->db : m->db;
		char ns[MG_DB_NS_MAX];
		if (src->kind != MG_SRC_SUBQUERY &&
		    mg_dbs_namespace(m->p.cx->dbs, db, ns, sizeof(ns))) {
			snprintf(m->p.err, sizeof(m->p.err), "database not found: %s", db);
			return -EINVAL;
		}
		if (src->kind == MG_SRC_MEASUREMENT) {
			char name[ST_KEY_MAX];
			int n = mg_db_series_name(ns, m->p.cx->default_db, S(src->name), name,
						  sizeof(name));
			rc = n < 0 ? n : strs_add(out, name, (size_t)n);
		} else if (src->kind == MG_SRC_REGEX) {
			struct mlist rl = {m, out, NULL, ns};
			rc = qp_regex_text(&m->p, src->name, &rl.re);
			if (rc)
				return rc;
			struct strs all = {.p = &m->p};
			struct mlist al = {m, &all, NULL, ns}; /* the source's database */
			st_index_read_lock(idx);
			rc = st_index_measurements(idx, NULL, mlist_cb, &al);
			st_index_read_unlock(idx);
			for (size_t k = 0; k < all.n && rc >= 0; k++) {
				struct st_str db2, shown;
				mg_db_split(S(all.v[k]), m->p.cx->default_db, &db2, &shown);
				if (st_index_regex_match(rl.re, shown) == 1)
					rc = strs_add(out, all.v[k], strlen(all.v[k]));
			}
			free(all.v);
		} else {
			snprintf(m->p.err, sizeof(m->p.err), "subqueries are not allowed in SHOW");
			return -EINVAL;
		}
	}
	if (st->nfrom == 0) {
		st_index_read_lock(idx);
		rc = st_index_measurements(idx, NULL, mlist_cb, &l);
		st_index_read_unlock(idx);
	}
	if (rc > 0)
		rc = out->rc;
	return rc < 0 ? rc : out->rc;
}

/* ------------------------------------------------------------ series scan */

/* Call fn for each series of meas whose tags pass the WHERE (inside a read session). */
typedef int (*series_fn)(struct meta *m, const uint8_t *key, size_t len,
			 const struct st_key_view *v, void *arg);

static int scan(struct meta *m, const char *meas, series_fn fn, void *arg)
{
	const struct st_index *idx = m->p.cx->idx;
	struct st_idset set;
	st_idset_init(&set);
	int rc = st_index_measurement(idx, S(meas), &set);
	struct mg_tagpair tags[ST_TAGS_MAX];
	char buf[2 * ST_KEY_MAX];
	for (size_t i = 0; i < set.n && rc == 0; i++) {
		const uint8_t *key;
		size_t len;
		struct st_key_view v;
		if (st_index_key(idx, set.ids[i], &key, &len) || st_key_parse(key, len, &v))
			continue;
		if (m->st->where) {
			struct st_key_iter it;
			struct st_tag t;
			size_t used = 0;
			uint32_t n = 0;
			st_key_iter_init(&v, &it);
			while (st_key_iter_next(&it, &t) && n < ST_TAGS_MAX &&
			       used + t.key.len + t.value.len + 2 <= sizeof(buf)) {
				tags[n].key = memcpy(buf + used, t.key.p, t.key.len);
				buf[used + t.key.len] = 0;
				used += t.key.len + 1;
				tags[n].value = memcpy(buf + used, t.value.p, t.value.len);
				buf[used + t.value.len] = 0;
				used += t.value.len + 1;
				n++;
			}
			struct rowctx r = {.tags = tags, .ntags = n};
			if (!qp_test(&m->p, m->st->where, &r))
				continue;
		}
		rc = fn(m, key, len, &v, arg);
	}
	st_idset_release(&set);
	return rc;
}

/* A series as SHOW SERIES prints it: "cpu,host=a" (escaped, no field, no database). */
static int collect_series(struct meta *m, const uint8_t *key, size_t len,
			  const struct st_key_view *v, void *arg)
{
	struct strs *out = arg;
	char buf[2 * ST_KEY_MAX];
	struct st_str db, shown;
	int n = st_key_format(key, len, false, buf, sizeof(buf));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return 0;
	/* skip the database prefix in the printed form: its escaped bytes and the separator */
	mg_db_split(v->name, m->p.cx->default_db, &db, &shown);
	size_t skip = shown.p == v->name.p ? 0 : st_lp_escape(NULL, 0, 0, db, ", ") + 1;
	return strs_add(out, buf + skip, (size_t)n - skip);
}

struct tagcollect {
	struct strs *out;
	const char *only_key;         /* TAG VALUES: collect "key\0value" pairs of matching keys */
	bool keys;
};

static bool key_wanted(struct meta *m, struct st_str k);

static int collect_tags(struct meta *m, const uint8_t *key, size_t len,
			const struct st_key_view *v, void *arg)
{
	(void)key;
	(void)len;
	struct tagcollect *tc = arg;
	struct st_key_iter it;
	struct st_tag t;
	char buf[2 * ST_KEY_MAX + 2];
	st_key_iter_init(v, &it);
	while (st_key_iter_next(&it, &t)) {
		int rc;
		if (tc->keys) {
			rc = strs_add(tc->out, t.key.p, t.key.len);
		} else {
			if (!key_wanted(m, t.key))
				continue;
			memcpy(buf, t.key.p, t.key.len);
			buf[t.key.len] = '\x1f';
			memcpy(buf + t.key.len + 1, t.value.p, t.value.len);
			rc = strs_add(tc->out, buf, t.key.len + 1 + t.value.len);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ statements */

static int dbs_cb(void *arg, const char *db)
{
	return strs_add(arg, db, strlen(db));
}

static int show_databases(struct meta *m)
{
	struct strs l = {.p = &m->p};
	int rc = mg_dbs_list(m->p.cx->dbs, dbs_cb, &l);
	if (rc == 0)
		rc = add_rows1(m, "databases", "name", &l, 0, INT64_MAX);
	free(l.v);
	return rc;
}

static const char *shown_name(struct meta *m, const char *series_name)
{
	struct st_str db, shown;
	mg_db_split(S(series_name), m->p.cx->default_db, &db, &shown);
	return qa_strndup(&m->p.arena, shown.p, shown.len);
}

static int count_cb(struct meta *m, const uint8_t *key, size_t len, const struct st_key_view *v,
		    void *arg)
{
	(void)m;
	(void)key;
	(void)len;
	(void)v;
	(*(uint64_t *)arg)++;
	return 0;
}

static int show_measurements(struct meta *m)
{
	struct strs l = {.p = &m->p}, shown = {.p = &m->p};
	int rc = measurements(m, &l);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		if (m->st->where) {
			uint64_t n = 0;
			st_index_read_lock(m->p.cx->idx);
			rc = scan(m, l.v[i], count_cb, &n);
			st_index_read_unlock(m->p.cx->idx);
			if (rc || n == 0)
				continue;
		}
		const char *s = shown_name(m, l.v[i]);
		rc = s ? strs_add(&shown, s, strlen(s)) : -ENOMEM;
	}
	if (rc == 0) {
		strs_unique(&shown);
		if (m->st->kind == MG_STMT_SHOW_MEASUREMENT_CARDINALITY) {
			static const char *const col[] = {"count"};
			struct mg_series *se = mg_result_add_series(m->r, m->sr, "", NULL, 0, col, 1);
			struct mg_cell c = {.type = MG_CELL_I64, .i = (int64_t)shown.n};
			rc = !se || mg_result_add_row(m->r, se, &c) ? -ENOMEM : 0;
		} else {
			rc = add_rows1(m, "measurements", "name", &shown, off_of(m->st->offset),
				       lim_of(m->st->limit));
		}
	}
	free(l.v);
	free(shown.v);
	return rc;
}

static int show_series(struct meta *m)
{
	struct strs l = {.p = &m->p}, keys = {.p = &m->p};
	int rc = measurements(m, &l);
	bool card = m->st->kind == MG_STMT_SHOW_SERIES_CARDINALITY;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		size_t before = keys.n;
		st_index_read_lock(m->p.cx->idx);
		rc = scan(m, l.v[i], collect_series, &keys);
		st_index_read_unlock(m->p.cx->idx);
		if (rc || !card)
			continue;
		/* per measurement: distinct tag sets */
		struct strs one = {.p = &m->p, .v = keys.v + before, .n = keys.n - before};
		strs_unique(&one);
		static const char *const col[] = {"count"};
		struct mg_series *se = mg_result_add_series(m->r, m->sr, shown_name(m, l.v[i]),
							    NULL, 0, col, 1);
		struct mg_cell c = {.type = MG_CELL_I64, .i = (int64_t)one.n};
		if (!se || mg_result_add_row(m->r, se, &c))
			rc = -ENOMEM;
	}
	if (rc == 0 && !card) {
		strs_unique(&keys);
		rc = add_rows1(m, "", "key", &keys, off_of(m->st->offset), lim_of(m->st->limit));
	}
	free(l.v);
	free(keys.v);
	return rc;
}

static int name_cb(void *arg, struct st_str name, uint64_t nseries)
{
	(void)nseries;
	return strs_add(arg, name.p, name.len) ? 1 : 0;
}

static int show_tag_keys(struct meta *m)
{
	struct strs l = {.p = &m->p};
	int rc = measurements(m, &l);
	strs_unique(&l);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct strs keys = {.p = &m->p};
		struct tagcollect tc = {&keys, NULL, true};
		st_index_read_lock(m->p.cx->idx);
		rc = m->st->where ? scan(m, l.v[i], collect_tags, &tc)
				  : st_index_tag_keys(m->p.cx->idx, S(l.v[i]), NULL, name_cb, &keys);
		st_index_read_unlock(m->p.cx->idx);
		rc = rc > 0 ? keys.rc : rc;
		strs_unique(&keys);
		if (rc == 0)
			rc = add_rows1(m, shown_name(m, l.v[i]), "tagKey", &keys,
				       off_of(m->st->offset), lim_of(m->st->limit));
		free(keys.v);
	}
	free(l.v);
	return rc;
}

static bool key_wanted(struct meta *m, struct st_str k)
{
	const struct mg_stmt *st = m->st;
	bool eq = false;
	if (st->with_op == MG_WITH_REGEX || st->with_op == MG_WITH_NREGEX) {
		int r = m->with_re ? st_index_regex_match(m->with_re, k) : 0;
		return st->with_op == MG_WITH_REGEX ? r == 1 : r == 0;
	}
	for (uint32_t i = 0; i < st->nwith_values; i++)
		eq |= st_str_eq(k, S(st->with_values[i]));
	return st->with_op == MG_WITH_NEQ ? !eq : eq;
}

struct kv_arg {
	struct strs *out;
	const char *key;
};

static int value_cb(void *arg, struct st_str name, uint64_t nseries)
{
	(void)nseries;
	struct kv_arg *a = arg;
	char buf[2 * ST_KEY_MAX + 2];
	size_t kl = strlen(a->key);
	if (kl + name.len + 2 > sizeof(buf))
		return 0;
	memcpy(buf, a->key, kl);
	buf[kl] = '\x1f';
	memcpy(buf + kl + 1, name.p, name.len);
	return strs_add(a->out, buf, kl + 1 + name.len) ? 1 : 0;
}

static int tag_values_of(struct meta *m, const char *meas, struct strs *pairs)
{
	const struct st_index *idx = m->p.cx->idx;
	if (m->st->where) {
		struct tagcollect tc = {pairs, NULL, false};
		return scan(m, meas, collect_tags, &tc);
	}
	struct strs keys = {.p = &m->p};
	int rc = st_index_tag_keys(idx, S(meas), NULL, name_cb, &keys);
	rc = rc > 0 ? keys.rc : rc;
	for (size_t k = 0; k < keys.n && rc == 0; k++) {
		if (!key_wanted(m, S(keys.v[k])))
			continue;
		struct kv_arg a = {pairs, keys.v[k]};
		rc = st_index_tag_values(idx, S(meas), S(keys.v[k]), NULL, value_cb, &a);
		rc = rc > 0 ? pairs->rc : rc;
	}
	free(keys.v);
	return rc;
}

static int show_tag_values(struct meta *m)
{
	struct strs l = {.p = &m->p};
	int rc = 0;
	if (m->st->with_op == MG_WITH_REGEX || m->st->with_op == MG_WITH_NREGEX) {
		const struct st_index_regex *re = NULL;
		rc = qp_regex_text(&m->p, m->st->with_values[0], &re);
		m->with_re = re;
	}
	if (rc == 0)
		rc = measurements(m, &l);
	strs_unique(&l);
	static const char *const cols[] = {"key", "value"};
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct strs pairs = {.p = &m->p};
		st_index_read_lock(m->p.cx->idx);
		rc = tag_values_of(m, l.v[i], &pairs);
		st_index_read_unlock(m->p.cx->idx);
		strs_unique(&pairs);
		if (rc == 0 && pairs.n) {
			struct mg_series *se = mg_result_add_series(m->r, m->sr, shown_name(m, l.v[i]),
								    NULL, 0, cols, 2);
			int64_t off = off_of(m->st->offset), lim = lim_of(m->st->limit);
			for (size_t k = (size_t)off; se && k < pairs.n &&
						     (int64_t)(k - (size_t)off) < lim; k++) {
				char *sep = strchr(pairs.v[k], '\x1f');
				*sep = 0;
				struct mg_cell row[2] = {{.type = MG_CELL_STR, .s = pairs.v[k]},
							 {.type = MG_CELL_STR, .s = sep + 1}};
				if (mg_result_add_row(m->r, se, row))
					rc = -ENOMEM;
			}
			if (!se)
				rc = -ENOMEM;
		}
		free(pairs.v);
	}
	free(l.v);
	return rc;
}

static const char *type_name(enum st_value_type vt)
{
	switch (vt) {
	case ST_VT_F64: return "float";
	case ST_VT_I64: return "integer";
	case ST_VT_U64: return "unsigned";
	case ST_VT_BOOL: return "boolean";
	case ST_VT_STR: return "string";
	default: return "float";
	}
}

/* The value type of a field: that of its first series. */
static const char *field_type(struct meta *m, const char *meas, const char *field)
{
	struct mg_exec_ctx *cx = m->p.cx;
	struct st_idset set;
	st_idset_init(&set);
	enum st_value_type vt = ST_VT_NONE;
	if (st_index_field(cx->idx, S(meas), S(field), &set) == 0 && set.n) {
		uint32_t shard = ST_SERIES_SHARD(set.ids[0]);
		uint32_t local = (uint32_t)ST_SERIES_LOCAL(set.ids[0]);
		uint32_t len;
		if (shard < cx->nshards) {
			const struct st_shard *sh = st_store_shard(cx->stores[shard]);
			st_read_begin(cx->rcu, cx->reader);
			if (local < st_shard_series_count(sh))
				st_shard_series_key(sh, local, &len, &vt);
			st_read_end(cx->rcu, cx->reader);
		}
	}
	st_idset_release(&set);
	return type_name(vt);
}

static int show_field_keys(struct meta *m)
{
	struct strs l = {.p = &m->p};
	int rc = measurements(m, &l);
	strs_unique(&l);
	static const char *const cols[] = {"fieldKey", "fieldType"};
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct strs keys = {.p = &m->p};
		st_index_read_lock(m->p.cx->idx);
		rc = st_index_field_keys(m->p.cx->idx, S(l.v[i]), NULL, name_cb, &keys);
		rc = rc > 0 ? keys.rc : rc;
		struct mg_series *se = NULL;
		if (rc == 0 && keys.n) {
			se = mg_result_add_series(m->r, m->sr, shown_name(m, l.v[i]), NULL, 0, cols, 2);
			if (!se)
				rc = -ENOMEM;
		}
		for (size_t k = 0; se && k < keys.n && rc == 0; k++) {
			struct mg_cell row[2] = {
				{.type = MG_CELL_STR, .s = keys.v[k]},
				{.type = MG_CELL_STR, .s = field_type(m, l.v[i], keys.v[k])}};
			rc = mg_result_add_row(m->r, se, row);
		}
		st_index_read_unlock(m->p.cx->idx);
		free(keys.v);
	}
	free(l.v);
	return rc;
}

static int show_retention(struct meta *m)
{
	static const char *const cols[] = {"name", "duration", "shardGroupDuration", "replicaN",
					   "default"};
	struct mg_series *se = mg_result_add_series(m->r, m->sr, "", NULL, 0, cols, 5);
	struct mg_cell row[5] = {
		{.type = MG_CELL_STR, .s = "autogen"}, {.type = MG_CELL_STR, .s = "0s"},
		{.type = MG_CELL_STR, .s = "168h0m0s"}, {.type = MG_CELL_I64, .i = 1},
		{.type = MG_CELL_BOOL, .b = true}};
	return !se || mg_result_add_row(m->r, se, row) ? -ENOMEM : 0;
}

static int create_drop(struct meta *m)
{
	const struct mg_stmt *st = m->st;
	struct mg_dbs *dbs = m->p.cx->dbs;
	if (st->kind == MG_STMT_CREATE_DATABASE) {
		int rc = mg_dbs_create(dbs, st->on_db);
		if (rc == -EINVAL)
			snprintf(m->p.err, sizeof(m->p.err), "invalid database name \"%s\"", st->on_db);
		else if (rc)
			snprintf(m->p.err, sizeof(m->p.err), "create database: %s", strerror(-rc));
		return rc ? -EINVAL : 0;
	}
	int rc = mg_dbs_drop(dbs, st->on_db);
	/* its series are out of every query now; their points go at the next checkpoint */
	for (uint32_t i = 0; rc == 0 && i < m->p.cx->nshards; i++)
		st_store_rewrite_soon(m->p.cx->stores[i]);
	if (rc == -EPERM)
		snprintf(m->p.err, sizeof(m->p.err), "cannot drop the default database \"%s\"",
			 st->on_db);
	else if (rc == -ENOENT)
		rc = 0; /* InfluxDB: dropping a missing database is not an error */
	else if (rc)
		snprintf(m->p.err, sizeof(m->p.err), "drop database: %s", strerror(-rc));
	return rc ? -EINVAL : 0;
}

int mg_exec_meta(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
		 struct mg_stmt_result *sr)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->p.cx = cx;
	m->st = st;
	m->r = r;
	m->sr = sr;
	m->db = st->on_db && st->kind != MG_STMT_CREATE_DATABASE &&
			st->kind != MG_STMT_DROP_DATABASE ? st->on_db : cx->db;
	static const struct mg_select nosel;
	m->p.sel = &nosel;
	int rc = mark_tags(&m->p, st->where);
	bool needs_db = st->kind >= MG_STMT_SHOW_MEASUREMENTS &&
			st->kind <= MG_STMT_SHOW_RETENTION_POLICIES;
	if (rc == 0 && needs_db && mg_dbs_namespace(cx->dbs, m->db, m->ns, sizeof(m->ns))) {
		snprintf(m->p.err, sizeof(m->p.err), "database not found: %s", m->db);
		rc = -EINVAL;
	}
	if (rc == 0) {
		switch (st->kind) {
		case MG_STMT_SHOW_DATABASES: rc = show_databases(m); break;
		case MG_STMT_SHOW_MEASUREMENTS:
		case MG_STMT_SHOW_MEASUREMENT_CARDINALITY: rc = show_measurements(m); break;
		case MG_STMT_SHOW_TAG_KEYS: rc = show_tag_keys(m); break;
		case MG_STMT_SHOW_TAG_VALUES: rc = show_tag_values(m); break;
		case MG_STMT_SHOW_FIELD_KEYS: rc = show_field_keys(m); break;
		case MG_STMT_SHOW_SERIES:
		case MG_STMT_SHOW_SERIES_CARDINALITY: rc = show_series(m); break;
		case MG_STMT_SHOW_RETENTION_POLICIES: rc = show_retention(m); break;
		case MG_STMT_SHOW_QUERIES:
			rc = cx->show_queries ? cx->show_queries(cx->arg, r, sr) : -ENOTSUP;
			break;
		case MG_STMT_CREATE_DATABASE:
		case MG_STMT_DROP_DATABASE: rc = create_drop(m); break;
		case MG_STMT_KILL_QUERY:
			rc = cx->kill ? cx->kill(cx->arg, st->query_id) : -ENOTSUP;
			if (rc == -ENOENT)
				snprintf(m->p.err, sizeof(m->p.err), "no such query id: %llu",
					 (unsigned long long)st->query_id);
			break;
		default:
			snprintf(m->p.err, sizeof(m->p.err), "statement not supported");
			rc = -EINVAL;
		}
	}
	if (rc && m->p.err[0])
		rc = mg_result_set_error(r, sr, "%s", m->p.err);
	else if (rc && rc != -ENOMEM)
		rc = mg_result_set_error(r, sr, "%s", strerror(-rc));
	qp_release(&m->p);
	free(m);
	return rc;
}
