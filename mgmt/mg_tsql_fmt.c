/*
 * mg_tsql_fmt.c - TSQL trees printed back as text (mg_tsql_expr_format,
 * mg_tsql_stmt_format in mg_tsql.h).
 *
 * Canonical form: keywords upper-case, one space around binary operators,
 * ", " between list items, identifiers double-quoted only when they must be
 * (reserved words, DISTINCT, characters outside [A-Za-z0-9_], a leading
 * digit, empty), parentheses only where precedence needs them, durations in
 * the largest unit that divides them exactly (1h30m prints as 90m), floats
 * in the shortest form that reads back to the same double. Parsing
 * the output gives a tree that prints identically (the tests and the fuzz
 * target check it). Also the operator table (precedence, spelling) that the
 * parser shares.
 *
 * Usage profile: today only the tests and the fuzz target call the
 * formatters (the executor builds InfluxDB-style column names itself, in
 * mg_exec.c); snprintf-style, never allocates. Any thread.
 */
#include "mg_tsql.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"
#include "mg_tsql_int.h"

/* An snprintf-style sink: counts everything, stores what fits. */
struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + 1 < o->cap) {
		size_t room = o->cap - 1 - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) CM_PRINTF(2, 3);

static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof(tmp));
	put(o, tmp, (size_t)n);
}

static int finish(struct out *o)
{
	if (o->cap)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return o->len > INT32_MAX ? INT32_MAX : (int)o->len;
}

/* ------------------------------------------------------------------------ */
/* Operators                                                                  */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int prec;
} operators[] = {
	[MG_OP_OR] = {"OR", 1},       [MG_OP_AND] = {"AND", 2},
	[MG_OP_EQ] = {"=", 3},        [MG_OP_NEQ] = {"!=", 3},
	[MG_OP_LT] = {"<", 3},        [MG_OP_LTE] = {"<=", 3},
	[MG_OP_GT] = {">", 3},        [MG_OP_GTE] = {">=", 3},
	[MG_OP_EQREGEX] = {"=~", 3},  [MG_OP_NEQREGEX] = {"!~", 3},
	[MG_OP_ADD] = {"+", 4},       [MG_OP_SUB] = {"-", 4},
	[MG_OP_BITOR] = {"|", 4},     [MG_OP_BITXOR] = {"^", 4},
	[MG_OP_MUL] = {"*", 5},       [MG_OP_DIV] = {"/", 5},
	[MG_OP_MOD] = {"%", 5},       [MG_OP_BITAND] = {"&", 5},
};

static_assert(CM_ARRAY_SIZE(operators) == MG_OP_BITXOR + 1, "every operator has an entry");

int mg_tsql_op_prec(enum mg_op op)
{
	assert((size_t)op < CM_ARRAY_SIZE(operators) && operators[op].prec);
	return operators[op].prec;
}

const char *mg_tsql_op_name(enum mg_op op)
{
	assert((size_t)op < CM_ARRAY_SIZE(operators) && operators[op].name);
	return operators[op].name;
}

/* ------------------------------------------------------------------------ */
/* Literals and names                                                         */
/* ------------------------------------------------------------------------ */

/* s between q quotes, with \q, \\ and \n escaped. */
static void put_quoted(struct out *o, const char *s, char q)
{
	put(o, &q, 1);
	for (const char *run = s;; s++) {
		if (*s && *s != q && *s != '\\' && *s != '\n')
			continue;
		put(o, run, (size_t)(s - run));
		if (!*s)
			break;
		put(o, "\\", 1);
		put(o, *s == '\n' ? "n" : s, 1);
		run = s + 1;
	}
	put(o, &q, 1);
}

static void put_ident(struct out *o, const char *name)
{
	if (mg_tsql_ident_is_bare(name))
		puts_(o, name);
	else
		put_quoted(o, name, '"');
}

/* /pattern/ with '/' escaped; the pattern's own \x pairs are kept. */
static void put_regex(struct out *o, const char *re)
{
	put(o, "/", 1);
	for (; *re; re++) {
		if (*re == '\\' && re[1]) {
			put(o, re, 2);
			re++;
		} else if (*re == '/') {
			put(o, "\\/", 2);
		} else {
			put(o, re, 1);
		}
	}
	put(o, "/", 1);
}

/* The shortest %g that reads back to f, always with a '.' or an exponent. */
static void put_float(struct out *o, double f)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	puts_(o, tmp);
	if (!strpbrk(tmp, ".eEn")) /* n: nan/inf, which the parser never makes */
		put(o, ".0", 2);
}

static void put_duration(struct out *o, int64_t ns)
{
	static const struct {
		int64_t ns;
		const char *unit;
	} units[] = {
		{INT64_C(604800000000000), "w"}, {INT64_C(86400000000000), "d"},
		{INT64_C(3600000000000), "h"},   {INT64_C(60000000000), "m"},
		{INT64_C(1000000000), "s"},      {INT64_C(1000000), "ms"},
		{INT64_C(1000), "u"},            {1, "ns"},
	};
	if (ns == 0) {
		puts_(o, "0s");
		return;
	}
	size_t i = 0;
	while (ns % units[i].ns != 0)
		i++;
	putf(o, "%" PRId64 "%s", ns / units[i].ns, units[i].unit);
}

/* ------------------------------------------------------------------------ */
/* Expressions                                                                */
/* ------------------------------------------------------------------------ */

static void put_expr(struct out *o, const struct mg_expr *e);

static void put_wrapped(struct out *o, const struct mg_expr *e, bool parens)
{
	if (parens)
		put(o, "(", 1);
	put_expr(o, e);
	if (parens)
		put(o, ")", 1);
}

static void put_binary(struct out *o, const struct mg_expr *e)
{
	int p = mg_tsql_op_prec(e->op);
	put_wrapped(o, e->lhs, e->lhs->kind == MG_EX_BINARY && mg_tsql_op_prec(e->lhs->op) < p);
	put(o, " ", 1);
	puts_(o, mg_tsql_op_name(e->op));
	put(o, " ", 1);
	put_wrapped(o, e->rhs, e->rhs->kind == MG_EX_BINARY && mg_tsql_op_prec(e->rhs->op) <= p);
}

/* True if e (not a binary) prints with a leading '-': -e needs parentheses ("--" is a comment). */
static bool starts_negative(const struct mg_expr *e)
{
	return e->kind == MG_EX_NEG ||
	       ((e->kind == MG_EX_INT || e->kind == MG_EX_DURATION) && e->i < 0) ||
	       (e->kind == MG_EX_FLOAT && signbit(e->f));
}

static void put_call(struct out *o, const struct mg_expr *e)
{
	if (strcmp(e->s, "distinct") == 0) /* quoted only as a reference */
		puts_(o, e->s);
	else
		put_ident(o, e->s);
	put(o, "(", 1);
	for (uint32_t i = 0; i < e->nargs; i++) {
		if (i)
			put(o, ", ", 2);
		put_expr(o, e->args[i]);
	}
	put(o, ")", 1);
}

static void put_cast(struct out *o, enum mg_cast c)
{
	static const char *const names[] = {
		[MG_CAST_FIELD] = "::field",     [MG_CAST_TAG] = "::tag",
		[MG_CAST_FLOAT] = "::float",     [MG_CAST_INTEGER] = "::integer",
		[MG_CAST_STRING] = "::string",   [MG_CAST_BOOLEAN] = "::boolean",
	};
	if (c != MG_CAST_NONE && (size_t)c < CM_ARRAY_SIZE(names))
		puts_(o, names[c]);
}

static void put_expr(struct out *o, const struct mg_expr *e)
{
	switch (e->kind) {
	case MG_EX_INT: putf(o, "%" PRId64, e->i); break;
	case MG_EX_FLOAT: put_float(o, e->f); break;
	case MG_EX_STRING: put_quoted(o, e->s, '\''); break;
	case MG_EX_REGEX: put_regex(o, e->s); break;
	case MG_EX_BOOL: puts_(o, e->b ? "true" : "false"); break;
	case MG_EX_DURATION:
		if (e->i < 0)
			put(o, "-", 1);
		put_duration(o, e->i < 0 ? -e->i : e->i);
		break;
	case MG_EX_NOW: puts_(o, "now()"); break;
	case MG_EX_REF: put_ident(o, e->s); put_cast(o, e->cast); break;
	case MG_EX_WILDCARD: put(o, "*", 1); put_cast(o, e->cast); break;
	case MG_EX_CALL: put_call(o, e); break;
	case MG_EX_BINARY: put_binary(o, e); break;
	case MG_EX_NEG:
		put(o, "-", 1);
		put_wrapped(o, e->lhs, e->lhs->kind == MG_EX_BINARY || starts_negative(e->lhs));
		break;
	}
}

int mg_tsql_expr_format(const struct mg_expr *e, char *out, size_t cap)
{
	struct out o = {out, cap, 0};
	put_expr(&o, e);
	return finish(&o);
}

/* ------------------------------------------------------------------------ */
/* Statements                                                                 */
/* ------------------------------------------------------------------------ */

static void put_select(struct out *o, const struct mg_select *s);

/* [db.[rp].]name or [rp.]name; name NULL: :MEASUREMENT (an INTO target). */
static void put_measurement(struct out *o, const struct mg_source *s)
{
	if (s->db) {
		put_ident(o, s->db);
		put(o, ".", 1);
		if (s->rp)
			put_ident(o, s->rp);
		put(o, ".", 1);
	} else if (s->rp) {
		put_ident(o, s->rp);
		put(o, ".", 1);
	} else if (!s->name && s->kind == MG_SRC_MEASUREMENT) {
		put(o, "\"\".", 3);
	}
	if (s->kind == MG_SRC_REGEX)
		put_regex(o, s->name);
	else if (s->name)
		put_ident(o, s->name);
	else
		puts_(o, ":MEASUREMENT");
}

static void put_sources(struct out *o, const struct mg_source *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			put(o, ", ", 2);
		if (s[i].kind == MG_SRC_SUBQUERY) {
			put(o, "(", 1);
			put_select(o, s[i].sub);
			put(o, ")", 1);
		} else {
			put_measurement(o, &s[i]);
		}
	}
}

static void put_group_by(struct out *o, const struct mg_select *s)
{
	const char *sep = " GROUP BY ";
	if (s->group_time) {
		puts_(o, sep);
		puts_(o, "time(");
		put_duration(o, s->group_interval_ns);
		if (s->group_offset_now) {
			puts_(o, ", now()");
		} else if (s->group_offset_ns) {
			puts_(o, s->group_offset_ns < 0 ? ", -" : ", ");
			put_duration(o, s->group_offset_ns < 0 ? -s->group_offset_ns
							       : s->group_offset_ns);
		}
		put(o, ")", 1);
		sep = ", ";
	}
	for (uint32_t i = 0; i < s->ngroup_tags; i++, sep = ", ") {
		const char *t = s->group_tags[i];
		puts_(o, sep);
		if (mg_tsql_kw_lookup(t, strlen(t)) == MG_KW_TIME) /* bare, it reads as time() */
			put_quoted(o, t, '"');
		else
			put_ident(o, t);
	}
	if (s->group_all_tags) {
		puts_(o, sep);
		put(o, "*", 1);
		sep = ", ";
	}
	if (s->group_regex) {
		puts_(o, sep);
		put_regex(o, s->group_regex);
	}
}

static void put_fill(struct out *o, const struct mg_select *s)
{
	static const char *const names[] = {
		[MG_FILL_NONE] = "none",
		[MG_FILL_PREVIOUS] = "previous",
		[MG_FILL_LINEAR] = "linear",
	};
	if (s->fill == MG_FILL_NULL)
		return;
	puts_(o, " fill(");
	if (s->fill != MG_FILL_VALUE)
		puts_(o, names[s->fill]);
	else if (s->fill_value_int)
		putf(o, "%" PRId64, s->fill_int);
	else
		put_float(o, s->fill_value);
	put(o, ")", 1);
}

static void put_count(struct out *o, const char *kw, int64_t n)
{
	if (n > 0)
		putf(o, " %s %" PRId64, kw, n);
}

static void put_where(struct out *o, const struct mg_expr *where)
{
	if (where) {
		puts_(o, " WHERE ");
		put_expr(o, where);
	}
}

static void put_select(struct out *o, const struct mg_select *s)
{
	puts_(o, "SELECT ");
	for (uint32_t i = 0; i < s->nfields; i++) {
		if (i)
			put(o, ", ", 2);
		put_expr(o, s->fields[i].expr);
		if (s->fields[i].alias) {
			puts_(o, " AS ");
			put_ident(o, s->fields[i].alias);
		}
	}
	if (s->into) {
		puts_(o, " INTO ");
		put_measurement(o, s->into);
	}
	puts_(o, " FROM ");
	put_sources(o, s->sources, s->nsources);
	put_where(o, s->where);
	put_group_by(o, s);
	put_fill(o, s);
	if (s->order_desc)
		puts_(o, " ORDER BY time DESC");
	put_count(o, "LIMIT", s->limit);
	put_count(o, "OFFSET", s->offset);
	put_count(o, "SLIMIT", s->slimit);
	put_count(o, "SOFFSET", s->soffset);
	if (s->tz) {
		puts_(o, " tz(");
		put_quoted(o, s->tz, '\'');
		put(o, ")", 1);
	}
}

/* WITH KEY ... / WITH MEASUREMENT ... */
static void put_with(struct out *o, const struct mg_stmt *st, const char *what)
{
	static const char *const ops[] = {
		[MG_WITH_EQ] = " = ", [MG_WITH_NEQ] = " != ", [MG_WITH_IN] = " IN (",
		[MG_WITH_REGEX] = " =~ ", [MG_WITH_NREGEX] = " !~ ",
	};
	if (st->with_op == MG_WITH_NONE || (size_t)st->with_op >= CM_ARRAY_SIZE(ops))
		return;
	puts_(o, " WITH ");
	puts_(o, what);
	puts_(o, ops[st->with_op]);
	for (uint32_t i = 0; i < st->nwith_values; i++) {
		if (i)
			put(o, ", ", 2);
		if (st->with_op == MG_WITH_REGEX || st->with_op == MG_WITH_NREGEX)
			put_regex(o, st->with_values[i]);
		else
			put_ident(o, st->with_values[i]);
	}
	if (st->with_op == MG_WITH_IN)
		put(o, ")", 1);
}

/* ON db, FROM, WITH, WHERE, LIMIT, OFFSET: each only when set. */
static void put_show_clauses(struct out *o, const struct mg_stmt *st, const char *with)
{
	if (st->on_db) {
		puts_(o, " ON ");
		put_ident(o, st->on_db);
	}
	if (st->nfrom) {
		puts_(o, " FROM ");
		put_sources(o, st->from, st->nfrom);
	}
	put_with(o, st, with);
	put_where(o, st->where);
	put_count(o, "LIMIT", st->limit);
	put_count(o, "OFFSET", st->offset);
}

/* FORECAST / DETECT ANOMALIES IN: field FROM ... [WHERE] [GROUP BY] [fill] and the tail. */
static void put_analytics(struct out *o, const struct mg_stmt *st)
{
	const struct mg_select *s = st->select;
	puts_(o, st->kind == MG_STMT_FORECAST ? "FORECAST " : "DETECT ANOMALIES IN ");
	put_expr(o, s->fields[0].expr);
	if (s->fields[0].alias) {
		puts_(o, " AS ");
		put_ident(o, s->fields[0].alias);
	}
	puts_(o, " FROM ");
	put_sources(o, s->sources, s->nsources);
	put_where(o, s->where);
	put_group_by(o, s);
	put_fill(o, s);
	if (st->method) {
		puts_(o, " USING ");
		put_expr(o, st->method);
	}
	if (st->kind == MG_STMT_FORECAST) {
		puts_(o, " FOR ");
		put_duration(o, st->horizon_ns);
		if (st->interval_pct > 0) {
			puts_(o, " WITH INTERVAL ");
			put_float(o, st->interval_pct);
		}
	} else if (st->sensitivity > 0) {
		puts_(o, " SENSITIVITY ");
		put_float(o, st->sensitivity);
	}
}

int mg_tsql_stmt_format(const struct mg_stmt *st, char *out, size_t cap)
{
	static const char *const heads[] = {
		[MG_STMT_SHOW_DATABASES] = "SHOW DATABASES",
		[MG_STMT_SHOW_MEASUREMENTS] = "SHOW MEASUREMENTS",
		[MG_STMT_SHOW_TAG_KEYS] = "SHOW TAG KEYS",
		[MG_STMT_SHOW_TAG_VALUES] = "SHOW TAG VALUES",
		[MG_STMT_SHOW_FIELD_KEYS] = "SHOW FIELD KEYS",
		[MG_STMT_SHOW_SERIES] = "SHOW SERIES",
		[MG_STMT_SHOW_SERIES_CARDINALITY] = "SHOW SERIES CARDINALITY",
		[MG_STMT_SHOW_MEASUREMENT_CARDINALITY] = "SHOW MEASUREMENT CARDINALITY",
		[MG_STMT_SHOW_RETENTION_POLICIES] = "SHOW RETENTION POLICIES",
		[MG_STMT_SHOW_QUERIES] = "SHOW QUERIES",
		[MG_STMT_CREATE_DATABASE] = "CREATE DATABASE ",
		[MG_STMT_DROP_DATABASE] = "DROP DATABASE ",
		[MG_STMT_KILL_QUERY] = "KILL QUERY ",
	};
	struct out o = {out, cap, 0};
	if (st->kind == MG_STMT_SELECT) {
		put_select(&o, st->select);
	} else if (st->kind == MG_STMT_FORECAST || st->kind == MG_STMT_DETECT) {
		put_analytics(&o, st);
	} else if ((size_t)st->kind < CM_ARRAY_SIZE(heads) && heads[st->kind]) {
		puts_(&o, heads[st->kind]);
		if (st->kind == MG_STMT_KILL_QUERY)
			putf(&o, "%" PRIu64, st->query_id);
		else if (st->kind == MG_STMT_CREATE_DATABASE || st->kind == MG_STMT_DROP_DATABASE)
			put_ident(&o, st->on_db);
		else if (st->kind == MG_STMT_SHOW_MEASUREMENTS)
			put_show_clauses(&o, st, "MEASUREMENT");
		else
			put_show_clauses(&o, st, "KEY");
	}
	return finish(&o);
}
