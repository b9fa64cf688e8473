/*
 * mg_tsql.c - the TSQL parser: a recursive descent over the tokens of
 * mg_tsql_lex.c that builds the tree of mg_tsql.h in an arena (grammar in
 * docs/TSQL.md).
 *
 * Why it looks like this: InfluxQL's grammar needs one token of lookahead,
 * so the parser holds at most one token it has not consumed, and lexes a
 * regex only where one may appear (after =~ and !~, in FROM, GROUP BY, WITH
 * KEY/MEASUREMENT, SELECT fields and call arguments), exactly as InfluxQL's
 * parser does. Binary operators are parsed by precedence climbing: a chain
 * of one precedence (32 OR'd hostnames) is a loop, not a recursion, and
 * recursion is bounded by the five precedence levels times the nesting of
 * parens, calls, subqueries and unary minus (MG_TSQL_NEST_MAX). Trees are at
 * most MG_TSQL_TREE_MAX deep, so the executor and the formatter may recurse.
 * Arrays (fields, sources, arguments) grow by doubling inside the arena.
 *
 * Errors read like InfluxDB's: `found X, expected Y at line L, char C`,
 * where X is the offending token as written (keywords upper-case, EOF at the
 * end) and C counts characters from 1. The first error ends the parse.
 *
 * Usage profile: one parse per query on a management thread. The largest
 * TSBS query (cpu-max-all-32-24: 32 OR'd hostnames, 1049 bytes) parses in
 * 8.5 us of CPU, the mean TSBS query in 2.0 us (perf/pf_tsql_bench.c,
 * docs/BENCHMARKS.md). Any thread; no global mutable state.
 */
#include "mg_tsql.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cm_compiler.h"
#include "mg_tsql_int.h"

#define EXP_STMT "SELECT, SHOW, CREATE, DROP, KILL, FORECAST, DETECT"
#define EXP_OPERAND "identifier, string, number, bool"

/* A parse result and the arena behind it. */
struct mg_tsql_impl {
	struct mg_tsql q;              /* first: mg_tsql_free converts back */
	const struct mg_expr *method;  /* mg_tsql_parse_method's answer */
	struct mg_tsql_arena arena;
};

struct parser {
	struct mg_tsql_lex lx;         /* its text and len are the query's */
	struct mg_tsql_tok tok;        /* the lookahead, when have */
	bool have;
	uint32_t prev_end;             /* end of the last consumed token */
	uint32_t nest;                 /* parens, calls, subqueries, unary minus */
	struct mg_tsql_arena *a;
	struct mg_tsql_error *err;
};

/* An array growing in the arena while it is parsed. */
struct vec {
	void *data;
	uint32_t n, cap;
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* 1-based line and character (UTF-8 characters; CR, LF and CRLF end lines) of pos. */
static void line_col(const struct parser *p, uint32_t pos, uint32_t *line, uint32_t *col)
{
	const char *text = p->lx.text;
	uint32_t l = 1, c = 1;
	for (uint32_t i = 0; i < pos && i < p->lx.len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n' || (ch == '\r' && (i + 1 >= p->lx.len || text[i + 1] != '\n'))) {
			l++;
			c = 1;
		} else if (ch != '\r' && (ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int fail_at(struct parser *p, uint32_t pos, const char *fmt, ...) CM_PRINTF(3, 4);

static int fail_at(struct parser *p, uint32_t pos, const char *fmt, ...)
{
	struct mg_tsql_error *e = p->err;
	char body[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	e->pos = pos;
	line_col(p, pos, &e->line, &e->col);
	snprintf(e->msg, sizeof(e->msg), "%s at line %u, char %u", body, e->line, e->col);
	return -EINVAL;
}

static int oom(struct parser *p)
{
	snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
	return -ENOMEM;
}

/*
 * text[pos, end) for a message: at most ~40 bytes, valid UTF-8 kept,
 * control bytes and broken sequences as '?', "..." when cut.
 */
static void snippet(const struct parser *p, uint32_t pos, uint32_t end, char *out, size_t cap)
{
	const char *text = p->lx.text;
	size_t o = 0;
	const size_t lim = 40; /* then room for "..." and the NUL */
	assert(cap >= lim + 8);
	(void)cap;
	for (uint32_t i = pos; i < end && i < p->lx.len;) {
		unsigned char c = (unsigned char)text[i];
		uint32_t w = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		bool ok = w > 0 && i + w <= end && c >= 0x20 && c != 0x7f;
		for (uint32_t k = 1; ok && k < w; k++)
			ok = ((unsigned char)text[i + k] & 0xc0) == 0x80;
		if (o + (ok ? w : 1) > lim) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (ok) {
			memcpy(out + o, text + i, w);
			o += w;
			i += w;
		} else {
			out[o++] = '?';
			i++;
		}
	}
	out[o] = '\0';
}

/* The error a malformed token stands for. */
static int fail_lexer(struct parser *p, const struct mg_tsql_tok *t)
{
	char s[48];
	snippet(p, t->pos, t->end, s, sizeof(s));
	switch (t->lerr) {
	case MG_LERR_UNTERM_STRING: return fail_at(p, t->pos, "unterminated string");
	case MG_LERR_UNTERM_IDENT: return fail_at(p, t->pos, "unterminated quoted identifier");
	case MG_LERR_UNTERM_REGEX: return fail_at(p, t->pos, "unterminated regex");
	case MG_LERR_UNTERM_COMMENT: return fail_at(p, t->pos, "unterminated comment");
	case MG_LERR_BAD_DURATION: return fail_at(p, t->pos, "bad duration \"%s\"", s);
	case MG_LERR_DURATION_RANGE: return fail_at(p, t->pos, "duration out of range \"%s\"", s);
	case MG_LERR_BAD_NUMBER: return fail_at(p, t->pos, "bad number \"%s\"", s);
	case MG_LERR_NUL: return fail_at(p, t->err_pos, "invalid NUL byte");
	case MG_LERR_BAD_ESCAPE:
		snippet(p, t->err_pos, t->err_pos + 2, s, sizeof(s));
		return fail_at(p, t->err_pos, "bad escape \"%s\"", s);
	default:
		break;
	}
	assert(!"lexer error without a reason");
	return fail_at(p, t->pos, "bad token");
}

static const struct mg_tsql_tok *peek(struct parser *p);

/* `found <current token>, expected <what>`. */
static int fail_found(struct parser *p, const char *what)
{
	const struct mg_tsql_tok *t = peek(p);
	char s[48];
	if (t->kind == MG_TK_ERROR)
		return fail_lexer(p, t);
	if (t->kind == MG_TK_EOF)
		snprintf(s, sizeof(s), "EOF");
	else if (t->kind == MG_TK_IDENT && !t->quoted && t->kw != MG_KW__NONE &&
		 t->kw < MG_KW__CONTEXTUAL)
		snprintf(s, sizeof(s), "%s", mg_tsql_kw_name(t->kw));
	else
		snippet(p, t->pos, t->end, s, sizeof(s));
	return fail_at(p, t->pos, "found %s, expected %s", s, what);
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                     */
/* ------------------------------------------------------------------------ */

static const struct mg_tsql_tok *peek(struct parser *p)
{
	if (!p->have) {
		mg_tsql_lex_next(&p->lx, &p->tok);
		p->have = true;
	}
	return &p->tok;
}

static void consume(struct parser *p)
{
	assert(p->have && p->tok.kind != MG_TK_EOF && p->tok.kind != MG_TK_ERROR);
	p->prev_end = p->tok.end;
	p->have = false;
}

static bool accept(struct parser *p, enum mg_tsql_tk kind)
{
	if (peek(p)->kind != kind)
		return false;
	consume(p);
	return true;
}

static bool tok_is_kw(const struct mg_tsql_tok *t, enum mg_tsql_kw kw)
{
	return t->kind == MG_TK_IDENT && !t->quoted && t->kw == kw;
}

static bool accept_kw(struct parser *p, enum mg_tsql_kw kw)
{
	if (!tok_is_kw(peek(p), kw))
		return false;
	consume(p);
	return true;
}

static int expect(struct parser *p, enum mg_tsql_tk kind, const char *what)
{
	return accept(p, kind) ? 0 : fail_found(p, what);
}

static int expect_kw(struct parser *p, enum mg_tsql_kw kw)
{
	return accept_kw(p, kw) ? 0 : fail_found(p, mg_tsql_kw_name(kw));
}

/* An identifier: "quoted", or a bare word that is not reserved. */
static bool tok_is_ident(const struct mg_tsql_tok *t)
{
	return t->kind == MG_TK_IDENT && (t->quoted || t->kw == MG_KW__NONE ||
					  t->kw > MG_KW__CONTEXTUAL);
}

/*
 * Where a regex may appear: a regex token (or a malformed one) becomes the
 * lookahead. Every caller has just consumed a token, so nothing past it was
 * lexed as something else (a "/ *" comment, say).
 */
static bool try_regex(struct parser *p)
{
	assert(!p->have);
	if (!mg_tsql_lex_regex(&p->lx, &p->tok))
		return false;
	p->have = true;
	return true;
}

static char *tok_string(struct parser *p)
{
	return mg_tsql_tok_str(p->a, p->lx.text, peek(p));
}

/*
 * Consume the lookahead IDENT, STRING or REGEX into *out (arena copy); a
 * malformed regex from try_regex is reported here.
 */
static int take_string(struct parser *p, const char **out)
{
	if (peek(p)->kind == MG_TK_ERROR)
		return fail_lexer(p, &p->tok);
	if (!(*out = tok_string(p)))
		return oom(p);
	consume(p);
	return 0;
}

/* Consume an identifier into *out (arena copy). */
static int parse_ident(struct parser *p, const char **out)
{
	return tok_is_ident(peek(p)) ? take_string(p, out) : fail_found(p, "identifier");
}

/* An identifier or a 'string' (names in SHOW ... WITH). */
static int parse_name(struct parser *p, const char **out)
{
	if (!tok_is_ident(peek(p)) && p->tok.kind != MG_TK_STRING)
		return fail_found(p, "identifier, string");
	return take_string(p, out);
}

/* A non-negative integer that fits int64 (LIMIT and friends). */
static int parse_count(struct parser *p, int64_t *out)
{
	const struct mg_tsql_tok *t = peek(p);
	if (t->kind != MG_TK_INT)
		return fail_found(p, "integer");
	if (t->ovf || t->u > INT64_MAX) {
		char s[48];
		snippet(p, t->pos, t->end, s, sizeof(s));
		return fail_at(p, t->pos, "integer out of range \"%s\"", s);
	}
	*out = (int64_t)t->u;
	consume(p);
	return 0;
}

/* [kw integer] */
static int opt_count(struct parser *p, enum mg_tsql_kw kw, int64_t *out)
{
	return accept_kw(p, kw) ? parse_count(p, out) : 0;
}

static void *vec_push(struct parser *p, struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 4;
		void *d = NULL;
		if (v->cap < UINT32_MAX / 2)
			d = mg_tsql_arena_alloc(p->a, (size_t)cap * size);
		if (!d)
			return NULL;
		if (v->n)
			memcpy(d, v->data, (size_t)v->n * size);
		v->data = d;
		v->cap = cap;
	}
	return (char *)v->data + (size_t)v->n++ * size;
}

static int nest_in(struct parser *p, uint32_t pos)
{
	if (++p->nest > MG_TSQL_NEST_MAX)
		return fail_at(p, pos, "nesting too deep");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Expressions                                                                */
/* ------------------------------------------------------------------------ */

static int parse_expr(struct parser *p, int min_prec, struct mg_expr **out, uint32_t *depth);
static int parse_unary(struct parser *p, struct mg_expr **out, uint32_t *depth);

static struct mg_expr *new_expr(struct parser *p, enum mg_expr_kind kind, uint32_t pos)
{
	struct mg_expr *e = mg_tsql_arena_alloc(p->a, sizeof(*e));
	if (e) {
		e->kind = kind;
		e->pos = pos;
	}
	return e;
}

/* If t is a binary operator: its precedence, and the operator in *op; else 0. */
static int binop(const struct mg_tsql_tok *t, enum mg_op *op)
{
	static const enum mg_op ops[] = { /* the operator tokens, MG_TK_EQ..MG_TK_BITXOR */
		[MG_TK_EQ] = MG_OP_EQ,           [MG_TK_NEQ] = MG_OP_NEQ,
		[MG_TK_LT] = MG_OP_LT,           [MG_TK_LTE] = MG_OP_LTE,
		[MG_TK_GT] = MG_OP_GT,           [MG_TK_GTE] = MG_OP_GTE,
		[MG_TK_EQREGEX] = MG_OP_EQREGEX, [MG_TK_NEQREGEX] = MG_OP_NEQREGEX,
		[MG_TK_ADD] = MG_OP_ADD,         [MG_TK_SUB] = MG_OP_SUB,
		[MG_TK_MUL] = MG_OP_MUL,         [MG_TK_DIV] = MG_OP_DIV,
		[MG_TK_MOD] = MG_OP_MOD,         [MG_TK_BITAND] = MG_OP_BITAND,
		[MG_TK_BITOR] = MG_OP_BITOR,     [MG_TK_BITXOR] = MG_OP_BITXOR,
	};
	static_assert(CM_ARRAY_SIZE(ops) == MG_TK_BITXOR + 1, "the last operator token is ^");
	if (tok_is_kw(t, MG_KW_OR) || tok_is_kw(t, MG_KW_AND))
		*op = t->kw == MG_KW_OR ? MG_OP_OR : MG_OP_AND;
	else if (t->kind >= MG_TK_EQ && t->kind <= MG_TK_BITXOR)
		*op = ops[t->kind];
	else
		return 0;
	return mg_tsql_op_prec(*op);
}

/* A /regex/ node at the lookahead, from try_regex (after =~, in calls and fields). */
static int parse_regex_expr(struct parser *p, struct mg_expr **out)
{
	uint32_t pos = peek(p)->pos;
	const char *re = NULL;
	int rc = take_string(p, &re);
	if (rc)
		return rc;
	struct mg_expr *e = new_expr(p, MG_EX_REGEX, pos);
	if (!e)
		return oom(p);
	e->s = re;
	*out = e;
	return 0;
}

/* ::type after a reference (any type) or a wildcard (field, tag). */
static int parse_cast(struct parser *p, struct mg_expr *e)
{
	static const struct {
		enum mg_tsql_kw kw;
		enum mg_cast cast;
	} casts[] = {
		{MG_KW_FIELD, MG_CAST_FIELD},     {MG_KW_TAG, MG_CAST_TAG},
		{MG_KW_FLOAT, MG_CAST_FLOAT},     {MG_KW_INTEGER, MG_CAST_INTEGER},
		{MG_KW_STRING, MG_CAST_STRING},   {MG_KW_BOOLEAN, MG_CAST_BOOLEAN},
	};
	if (!accept(p, MG_TK_DCOLON))
		return 0;
	size_t n = e->kind == MG_EX_WILDCARD ? 2 : CM_ARRAY_SIZE(casts);
	for (size_t i = 0; i < n; i++) {
		if (accept_kw(p, casts[i].kw)) {
			e->cast = casts[i].cast;
			return 0;
		}
	}
	return fail_found(p, n == 2 ? "field, tag" : "float, integer, string, boolean, field, tag");
}

/* Arguments of a call, after its '(' (consumed): [arg {, arg}] ')'. */
static int parse_args(struct parser *p, struct mg_expr *call, uint32_t *depth)
{
	struct vec args = {0};
	uint32_t d = 0;
	for (bool first = true;; first = false) {
		struct mg_expr *arg = NULL;
		uint32_t ad = 1;
		int rc;
		if (try_regex(p))
			rc = parse_regex_expr(p, &arg);
		else if (first && accept(p, MG_TK_RPAREN))
			break;
		else
			rc = parse_expr(p, 1, &arg, &ad);
		if (rc)
			return rc;
		struct mg_expr **slot = vec_push(p, &args, sizeof(arg));
		if (!slot)
			return oom(p);
		*slot = arg;
		d = CM_MAX(d, ad);
		if (!accept(p, MG_TK_COMMA)) {
			if (!accept(p, MG_TK_RPAREN))
				return fail_found(p, ")");
			break;
		}
	}
	call->args = args.data;
	call->nargs = args.n;
	*depth = d + 1;
	return 0;
}

/*
 * name( ... ): a call; now() is MG_EX_NOW. The name (an arena copy, lower-cased
 * in place) is consumed, '(' is next.
 */
static int parse_call(struct parser *p, char *name, uint32_t pos, struct mg_expr **out,
		      uint32_t *depth)
{
	int rc = nest_in(p, pos);
	if (rc)
		return rc;
	consume(p); /* ( */
	struct mg_expr *e = new_expr(p, MG_EX_CALL, pos);
	if (!e)
		return oom(p);
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	e->s = name;
	if ((rc = parse_args(p, e, depth)))
		return rc;
	if (e->nargs == 0 && strcmp(name, "now") == 0)
		e->kind = MG_EX_NOW;
	p->nest--;
	*out = e;
	return 0;
}

/* A reference: ident {. ident} [::type], the segments joined with '.'. */
static int parse_ref(struct parser *p, const char *first, uint32_t pos, struct mg_expr **out)
{
	struct mg_expr *e = new_expr(p, MG_EX_REF, pos);
	if (!e)
		return oom(p);
	e->s = first;
	if (peek(p)->kind != MG_TK_DOT) {
		*out = e;
		return parse_cast(p, e);
	}
	/* segments joined in a growing buffer, copied once (not once per segment) */
	size_t n = strlen(first), cap = 2 * n + 64;
	char *buf = malloc(cap);
	if (!buf)
		return oom(p);
	memcpy(buf, first, n);
	while (accept(p, MG_TK_DOT)) {
		const char *seg;
		int rc = parse_ident(p, &seg);
		if (rc) {
			free(buf);
			return rc;
		}
		size_t b = strlen(seg);
		if (n + b + 2 > cap) {
			cap = 2 * (n + b + 2);
			char *g = realloc(buf, cap);
			if (!g) {
				free(buf);
				return oom(p);
			}
			buf = g;
		}
		buf[n++] = '.';
		memcpy(buf + n, seg, b);
		n += b;
	}
	char *j = mg_tsql_arena_alloc(p->a, n + 1);
	if (j) {
		memcpy(j, buf, n);
		j[n] = '\0';
	}
	free(buf);
	if (!j)
		return oom(p);
	e->s = j;
	*out = e;
	return parse_cast(p, e);
}

/* An identifier operand: a call, `DISTINCT x`, or a reference. */
static int parse_ident_expr(struct parser *p, struct mg_expr **out, uint32_t *depth)
{
	const struct mg_tsql_tok *t = peek(p);
	uint32_t pos = t->pos;
	bool distinct = tok_is_kw(t, MG_KW_DISTINCT);
	char *name = tok_string(p);
	if (!name)
		return oom(p);
	consume(p);
	*depth = 1;
	if (peek(p)->kind == MG_TK_LPAREN)
		return parse_call(p, name, pos, out, depth);
	if (distinct && tok_is_ident(peek(p))) { /* InfluxQL's DISTINCT x: distinct(x) */
		struct mg_expr *call = new_expr(p, MG_EX_CALL, pos), **args;
		args = mg_tsql_arena_alloc(p->a, sizeof(*args));
		const char *arg = tok_string(p);
		if (!call || !args || !arg)
			return oom(p);
		uint32_t apos = p->tok.pos;
		consume(p);
		call->s = "distinct";
		call->args = args;
		call->nargs = 1;
		*depth = 2;
		*out = call;
		return parse_ref(p, arg, apos, &args[0]);
	}
	return parse_ref(p, name, pos, out);
}

/* The lookahead number as e->f; too big for a double is an error. */
static int parse_double(struct parser *p, struct mg_expr *e)
{
	const struct mg_tsql_tok *t = peek(p);
	int rc = mg_tsql_tok_double(p->a, p->lx.text, t, &e->f);
	if (rc == -ERANGE) {
		char s[48];
		snippet(p, t->pos, t->end, s, sizeof(s));
		return fail_at(p, t->pos, "number out of range \"%s\"", s);
	}
	return rc ? oom(p) : 0;
}

/* An INT token: MG_EX_INT, or MG_EX_FLOAT beyond int64. */
static int parse_int_lit(struct parser *p, struct mg_expr *e)
{
	const struct mg_tsql_tok *t = peek(p);
	if (!t->ovf && t->u <= INT64_MAX) {
		e->i = (int64_t)t->u;
		return 0;
	}
	e->kind = MG_EX_FLOAT;
	return parse_double(p, e);
}

/* Literals, identifiers, calls, '*'. */
static int parse_primary(struct parser *p, struct mg_expr **out, uint32_t *depth)
{
	const struct mg_tsql_tok *t = peek(p);
	enum mg_expr_kind kind;
	*depth = 1;
	if (tok_is_ident(t))
		return parse_ident_expr(p, out, depth);
	switch (t->kind) {
	case MG_TK_STRING: kind = MG_EX_STRING; break;
	case MG_TK_INT: kind = MG_EX_INT; break;
	case MG_TK_FLOAT: kind = MG_EX_FLOAT; break;
	case MG_TK_DURATION: kind = MG_EX_DURATION; break;
	case MG_TK_MUL: kind = MG_EX_WILDCARD; break;
	default:
		if (!tok_is_kw(t, MG_KW_TRUE) && !tok_is_kw(t, MG_KW_FALSE))
			return fail_found(p, EXP_OPERAND);
		kind = MG_EX_BOOL;
		break;
	}
	struct mg_expr *e = new_expr(p, kind, t->pos);
	if (!e)
		return oom(p);
	int rc = 0;
	if (kind == MG_EX_BOOL)
		e->b = t->kw == MG_KW_TRUE;
	else if (kind == MG_EX_STRING)
		rc = (e->s = tok_string(p)) ? 0 : oom(p);
	else if (kind == MG_EX_INT)
		rc = parse_int_lit(p, e);
	else if (kind == MG_EX_FLOAT)
		rc = parse_double(p, e);
	else if (kind == MG_EX_DURATION)
		e->i = t->ns;
	if (rc)
		return rc;
	consume(p);
	*out = e;
	return kind == MG_EX_WILDCARD ? parse_cast(p, e) : 0;
}

/* -x: literals fold (-5 is an INT), anything else becomes MG_EX_NEG. */
static int parse_neg(struct parser *p, struct mg_expr **out, uint32_t *depth)
{
	uint32_t pos = peek(p)->pos;
	int rc = nest_in(p, pos);
	if (rc)
		return rc;
	consume(p);
	const struct mg_tsql_tok *t = peek(p);
	if (t->kind == MG_TK_INT && !t->ovf && t->u == (uint64_t)INT64_MAX + 1) {
		struct mg_expr *e = new_expr(p, MG_EX_INT, pos); /* -9223372036854775808 */
		if (!e)
			return oom(p);
		e->i = INT64_MIN;
		consume(p);
		*out = e;
		*depth = 1;
		p->nest--;
		return 0;
	}
	if (t->kind != MG_TK_INT && t->kind != MG_TK_FLOAT && t->kind != MG_TK_DURATION &&
	    t->kind != MG_TK_LPAREN && !tok_is_ident(t))
		return fail_found(p, "identifier, number, duration, (");
	struct mg_expr *x;
	if ((rc = parse_unary(p, &x, depth)))
		return rc;
	p->nest--;
	bool lit = x->kind == MG_EX_FLOAT ||
		   ((x->kind == MG_EX_INT || x->kind == MG_EX_DURATION) && x->i != INT64_MIN);
	if (lit) {
		if (x->kind == MG_EX_FLOAT)
			x->f = -x->f;
		else
			x->i = -x->i;
		x->pos = pos;
		*out = x;
		return 0;
	}
	struct mg_expr *e = new_expr(p, MG_EX_NEG, pos);
	if (!e)
		return oom(p);
	e->lhs = x;
	*out = e;
	return ++*depth > MG_TSQL_TREE_MAX ? fail_at(p, pos, "expression too deep") : 0;
}

/* Unary minus and plus, ( expr ), and primaries. */
static int parse_unary(struct parser *p, struct mg_expr **out, uint32_t *depth)
{
	const struct mg_tsql_tok *t = peek(p);
	if (t->kind == MG_TK_SUB)
		return parse_neg(p, out, depth);
	if (t->kind == MG_TK_ADD) {
		int rc = nest_in(p, t->pos);
		if (rc)
			return rc;
		consume(p);
		rc = parse_unary(p, out, depth);
		p->nest--;
		return rc;
	}
	if (t->kind != MG_TK_LPAREN)
		return parse_primary(p, out, depth);
	int rc = nest_in(p, t->pos);
	if (rc)
		return rc;
	consume(p);
	if ((rc = parse_expr(p, 1, out, depth)))
		return rc;
	if ((rc = expect(p, MG_TK_RPAREN, ")")))
		return rc;
	p->nest--;
	return 0;
}

/*
 * Operators of precedence >= min_prec after an operand: precedence
 * climbing, left-associative. *depth: the depth of the tree built.
 */
static int parse_expr(struct parser *p, int min_prec, struct mg_expr **out, uint32_t *depth)
{
	struct mg_expr *lhs = NULL;
	uint32_t ld = 0;
	int rc = parse_unary(p, &lhs, &ld);
	enum mg_op op;
	int prec;
	while (rc == 0 && (prec = binop(peek(p), &op)) >= min_prec && prec > 0) {
		struct mg_expr *rhs = NULL, *e = new_expr(p, MG_EX_BINARY, lhs->pos);
		uint32_t rd = 1;
		if (!e)
			return oom(p);
		consume(p);
		if (op == MG_OP_EQREGEX || op == MG_OP_NEQREGEX)
			rc = try_regex(p) ? parse_regex_expr(p, &rhs) : fail_found(p, "regex");
		else
			rc = parse_expr(p, prec + 1, &rhs, &rd);
		e->op = op;
		e->lhs = lhs;
		e->rhs = rhs;
		lhs = e;
		ld = 1 + CM_MAX(ld, rd);
		if (rc == 0 && ld > MG_TSQL_TREE_MAX)
			rc = fail_at(p, e->pos, "expression too deep");
	}
	*out = lhs;
	*depth = ld;
	return rc;
}

static int parse_where(struct parser *p, struct mg_expr **out)
{
	uint32_t depth;
	return accept_kw(p, MG_KW_WHERE) ? parse_expr(p, 1, out, &depth) : 0;
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                    */
/* ------------------------------------------------------------------------ */

static int parse_select(struct parser *p, bool sub, struct mg_select **out);

/*
 * ident {. [ident]} with a /regex/ or (INTO only) :MEASUREMENT allowed
 * after a dot: [db.[rp].]name, [rp.]name, db../re/ ... s->kind, db, rp and
 * name are set; a :MEASUREMENT tail leaves name NULL.
 */
static int parse_segments(struct parser *p, struct mg_source *s, bool into)
{
	const char *seg[4] = {0};
	uint32_t n = 0;
	bool tail = false;
	int rc = parse_ident(p, &seg[n++]);
	while (rc == 0 && !tail && accept(p, MG_TK_DOT)) {
		if (n == 3)
			return fail_at(p, s->pos, "too many segments in name");
		if (!into && try_regex(p)) {
			s->kind = MG_SRC_REGEX;
			rc = take_string(p, &seg[n++]);
			tail = true;
		} else if (into && accept(p, MG_TK_COLON)) {
			rc = expect_kw(p, MG_KW_MEASUREMENT);
			seg[n++] = NULL;
			tail = true;
		} else if (peek(p)->kind == MG_TK_DOT) {
			seg[n++] = "";
		} else {
			rc = parse_ident(p, &seg[n++]);
		}
	}
	if (rc)
		return rc;
	s->name = seg[n - 1];
	s->rp = n >= 2 && seg[n - 2][0] ? seg[n - 2] : NULL;
	s->db = n == 3 && seg[0][0] ? seg[0] : NULL;
	return 0;
}

/* /re/ | ( SELECT ... ) | [db.[rp].]name | [db.[rp].]/re/ */
static int parse_source(struct parser *p, struct mg_source *s, bool sub_ok)
{
	int rc;
	if (try_regex(p)) {
		s->pos = p->tok.pos;
		s->kind = MG_SRC_REGEX;
		return take_string(p, &s->name);
	}
	s->pos = peek(p)->pos;
	if (!sub_ok || peek(p)->kind != MG_TK_LPAREN)
		return parse_segments(p, s, false);
	if ((rc = nest_in(p, s->pos)))
		return rc;
	consume(p);
	s->kind = MG_SRC_SUBQUERY;
	if ((rc = expect_kw(p, MG_KW_SELECT)) || (rc = parse_select(p, true, &s->sub)) ||
	    (rc = expect(p, MG_TK_RPAREN, ")")))
		return rc;
	p->nest--;
	return 0;
}

/* source {, source} */
static int parse_sources(struct parser *p, bool sub_ok, struct mg_source **out, uint32_t *n)
{
	struct vec v = {0};
	do {
		struct mg_source *s = vec_push(p, &v, sizeof(*s));
		if (!s)
			return oom(p);
		int rc = parse_source(p, s, sub_ok);
		if (rc)
			return rc;
	} while (accept(p, MG_TK_COMMA));
	*out = v.data;
	*n = v.n;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* SELECT                                                                     */
/* ------------------------------------------------------------------------ */

/* The first operator InfluxQL forbids in a SELECT field (comparisons, AND, OR), or NULL. */
static const struct mg_expr *bad_field_op(const struct mg_expr *e)
{
	if (e->kind == MG_EX_BINARY && e->op <= MG_OP_NEQREGEX)
		return e;
	const struct mg_expr *bad = NULL;
	if (e->kind == MG_EX_BINARY && !(bad = bad_field_op(e->lhs)))
		bad = bad_field_op(e->rhs);
	if (e->kind == MG_EX_NEG)
		bad = bad_field_op(e->lhs);
	for (uint32_t i = 0; e->kind == MG_EX_CALL && !bad && i < e->nargs; i++)
		bad = bad_field_op(e->args[i]);
	return bad;
}

/* field: ( /re/ | expr ) [AS ident] */
static int parse_field(struct parser *p, struct mg_field *f)
{
	uint32_t depth;
	int rc = try_regex(p) ? parse_regex_expr(p, &f->expr) : parse_expr(p, 1, &f->expr, &depth);
	if (rc)
		return rc;
	const struct mg_expr *bad = bad_field_op(f->expr);
	if (bad)
		return fail_at(p, f->expr->pos, "invalid operator %s in SELECT clause; "
				"operator is intended for WHERE clause", mg_tsql_op_name(bad->op));
	return accept_kw(p, MG_KW_AS) ? parse_ident(p, &f->alias) : 0;
}

static int parse_fields(struct parser *p, struct mg_select *sel)
{
	struct vec v = {0};
	do {
		struct mg_field *f = vec_push(p, &v, sizeof(*f));
		if (!f)
			return oom(p);
		int rc = parse_field(p, f);
		if (rc)
			return rc;
	} while (accept(p, MG_TK_COMMA));
	sel->fields = v.data;
	sel->nfields = v.n;
	return 0;
}

/* INTO [[db.]rp.]name | INTO [db.]rp.:MEASUREMENT */
static int parse_into(struct parser *p, struct mg_select *sel)
{
	struct mg_source *s = mg_tsql_arena_alloc(p->a, sizeof(*s));
	if (!s)
		return oom(p);
	s->kind = MG_SRC_MEASUREMENT;
	s->pos = peek(p)->pos;
	sel->into = s;
	return parse_segments(p, s, true);
}

/* A duration token into *ns (consumed), or an error naming what was expected. */
static int parse_duration_tok(struct parser *p, int64_t *ns, const char *what)
{
	if (peek(p)->kind != MG_TK_DURATION)
		return fail_found(p, what);
	*ns = p->tok.ns;
	consume(p);
	return 0;
}

/* time( interval [, offset] ) after `time`; offset: [-]duration | now() */
static int parse_group_time(struct parser *p, struct mg_select *sel, uint32_t pos)
{
	if (sel->group_time)
		return fail_at(p, pos, "multiple time dimensions");
	sel->group_time = true;
	int rc = expect(p, MG_TK_LPAREN, "(");
	uint32_t ipos = peek(p)->pos;
	if (rc || (rc = parse_duration_tok(p, &sel->group_interval_ns, "duration")))
		return rc;
	if (sel->group_interval_ns <= 0)
		return fail_at(p, ipos, "GROUP BY time interval must be positive");
	if (accept(p, MG_TK_COMMA)) {
		if (accept_kw(p, MG_KW_NOW)) {
			sel->group_offset_now = true;
			if ((rc = expect(p, MG_TK_LPAREN, "(")))
				return rc;
			if ((rc = expect(p, MG_TK_RPAREN, ")")))
				return rc;
		} else {
			bool neg = accept(p, MG_TK_SUB);
			if ((rc = parse_duration_tok(p, &sel->group_offset_ns,
						     neg ? "duration" : "duration, now()")))
				return rc;
			if (neg)
				sel->group_offset_ns = -sel->group_offset_ns;
		}
	}
	return expect(p, MG_TK_RPAREN, ")");
}

/* One GROUP BY item: time(...), tag [::tag], *, /re/. */
static int parse_dimension(struct parser *p, struct mg_select *sel, struct vec *tags)
{
	if (try_regex(p)) {
		if (sel->group_regex)
			return fail_at(p, p->tok.pos, "only one regex in GROUP BY");
		return take_string(p, &sel->group_regex);
	}
	if (accept(p, MG_TK_MUL)) {
		sel->group_all_tags = true;
		return 0;
	}
	uint32_t pos = peek(p)->pos;
	if (accept_kw(p, MG_KW_TIME))
		return parse_group_time(p, sel, pos);
	if (!tok_is_ident(peek(p)))
		return fail_found(p, "time(), identifier, *, regex");
	const char **slot = vec_push(p, tags, sizeof(*slot));
	if (!slot)
		return oom(p);
	int rc = parse_ident(p, slot);
	if (rc == 0 && accept(p, MG_TK_DCOLON))
		rc = expect_kw(p, MG_KW_TAG);
	return rc;
}

static int parse_group_by(struct parser *p, struct mg_select *sel)
{
	struct vec tags = {0};
	int rc = expect_kw(p, MG_KW_BY);
	if (rc)
		return rc;
	do {
		if ((rc = parse_dimension(p, sel, &tags)))
			return rc;
	} while (accept(p, MG_TK_COMMA));
	sel->group_tags = tags.data;
	sel->ngroup_tags = tags.n;
	return 0;
}

/* A number for fill(): [-] integer | float. */
static int parse_fill_number(struct parser *p, struct mg_select *sel)
{
	bool neg = accept(p, MG_TK_SUB);
	const struct mg_tsql_tok *t = peek(p);
	if (t->kind != MG_TK_INT && t->kind != MG_TK_FLOAT)
		return fail_found(p, neg ? "number" : "null, none, previous, linear, number");
	sel->fill = MG_FILL_VALUE;
	sel->fill_value_int = t->kind == MG_TK_INT && !t->ovf &&
			      t->u <= (uint64_t)INT64_MAX + (neg ? 1 : 0);
	int rc = 0;
	if (sel->fill_value_int) {
		sel->fill_int = !neg ? (int64_t)t->u
			      : t->u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)t->u;
		sel->fill_value = (double)sel->fill_int;
		consume(p);
		return 0;
	}
	if ((rc = mg_tsql_tok_double(p->a, p->lx.text, t, &sel->fill_value)) == -ERANGE)
		return fail_at(p, t->pos, "number out of range");
	if (rc)
		return oom(p);
	if (neg)
		sel->fill_value = -sel->fill_value;
	/* for integer columns: truncated, clamped (no undefined conversion) */
	sel->fill_int = sel->fill_value >= 9223372036854775807.0   ? INT64_MAX
			: sel->fill_value <= -9223372036854775808.0 ? INT64_MIN
								    : (int64_t)sel->fill_value;
	consume(p);
	return 0;
}

/* fill( null | none | previous | linear | number ), after `fill`. */
static int parse_fill(struct parser *p, struct mg_select *sel)
{
	static const struct {
		enum mg_tsql_kw kw;
		enum mg_fill fill;
	} fills[] = {
		{MG_KW_NULL, MG_FILL_NULL}, {MG_KW_NONE, MG_FILL_NONE},
		{MG_KW_PREVIOUS, MG_FILL_PREVIOUS}, {MG_KW_LINEAR, MG_FILL_LINEAR},
	};
	int rc = expect(p, MG_TK_LPAREN, "(");
	if (rc)
		return rc;
	size_t i = 0;
	while (i < CM_ARRAY_SIZE(fills) && !accept_kw(p, fills[i].kw))
		i++;
	if (i < CM_ARRAY_SIZE(fills))
		sel->fill = fills[i].fill;
	else if ((rc = parse_fill_number(p, sel)))
		return rc;
	return expect(p, MG_TK_RPAREN, ")");
}

/* ORDER BY time [ASC|DESC] | ORDER BY ASC|DESC, after ORDER. */
static int parse_order_by(struct parser *p, struct mg_select *sel)
{
	int rc = expect_kw(p, MG_KW_BY);
	if (rc)
		return rc;
	const struct mg_tsql_tok *t = peek(p);
	bool is_time = (tok_is_kw(t, MG_KW_TIME)) ||
		       (t->kind == MG_TK_IDENT && t->quoted && t->end - t->pos == 6 &&
			strncasecmp(p->lx.text + t->pos + 1, "time", 4) == 0);
	if (is_time)
		consume(p);
	else if (tok_is_ident(t))
		return fail_at(p, t->pos, "invalid ORDER BY: only time is supported");
	if (accept_kw(p, MG_KW_DESC))
		sel->order_desc = true;
	else if (!accept_kw(p, MG_KW_ASC) && !is_time)
		return fail_found(p, "time, ASC, DESC");
	if (peek(p)->kind == MG_TK_COMMA)
		return fail_at(p, p->tok.pos, "invalid ORDER BY: only time is supported");
	return 0;
}

/* tz('zone'), after `tz`. */
static int parse_tz(struct parser *p, struct mg_select *sel)
{
	int rc = expect(p, MG_TK_LPAREN, "(");
	if (rc)
		return rc;
	if (peek(p)->kind != MG_TK_STRING)
		return fail_found(p, "string");
	if ((rc = take_string(p, &sel->tz)))
		return rc;
	return expect(p, MG_TK_RPAREN, ")");
}

/* Everything after FROM sources. */
static int parse_select_tail(struct parser *p, struct mg_select *sel)
{
	int rc = parse_where(p, &sel->where);
	if (rc == 0 && accept_kw(p, MG_KW_GROUP))
		rc = parse_group_by(p, sel);
	if (rc == 0 && accept_kw(p, MG_KW_FILL))
		rc = parse_fill(p, sel);
	if (rc == 0 && accept_kw(p, MG_KW_ORDER))
		rc = parse_order_by(p, sel);
	if (rc == 0)
		rc = opt_count(p, MG_KW_LIMIT, &sel->limit);
	if (rc == 0)
		rc = opt_count(p, MG_KW_OFFSET, &sel->offset);
	if (rc == 0)
		rc = opt_count(p, MG_KW_SLIMIT, &sel->slimit);
	if (rc == 0)
		rc = opt_count(p, MG_KW_SOFFSET, &sel->soffset);
	if (rc == 0 && accept_kw(p, MG_KW_TZ))
		rc = parse_tz(p, sel);
	return rc;
}

/* After SELECT: fields [INTO ...] FROM sources [clauses]. Subqueries have no INTO. */
static int parse_select(struct parser *p, bool sub, struct mg_select **out)
{
	struct mg_select *sel = mg_tsql_arena_alloc(p->a, sizeof(*sel));
	if (!sel)
		return oom(p);
	*out = sel;
	int rc = parse_fields(p, sel);
	if (rc == 0 && !sub && accept_kw(p, MG_KW_INTO))
		rc = parse_into(p, sel);
	if (rc == 0)
		rc = expect_kw(p, MG_KW_FROM);
	if (rc == 0)
		rc = parse_sources(p, true, &sel->sources, &sel->nsources);
	return rc ? rc : parse_select_tail(p, sel);
}

/* ------------------------------------------------------------------------ */
/* SHOW, CREATE, DROP, KILL                                                   */
/* ------------------------------------------------------------------------ */

static int parse_on(struct parser *p, struct mg_stmt *st)
{
	return accept_kw(p, MG_KW_ON) ? parse_ident(p, &st->on_db) : 0;
}

static int parse_from(struct parser *p, struct mg_stmt *st)
{
	return accept_kw(p, MG_KW_FROM) ? parse_sources(p, false, &st->from, &st->nfrom) : 0;
}

static int parse_limit_offset(struct parser *p, struct mg_stmt *st)
{
	int rc = opt_count(p, MG_KW_LIMIT, &st->limit);
	return rc ? rc : opt_count(p, MG_KW_OFFSET, &st->offset);
}

/* One value of a WITH clause: a name, or the pattern of a regex. */
static int parse_with_value(struct parser *p, struct mg_stmt *st, bool regex)
{
	const char **v = mg_tsql_arena_alloc(p->a, sizeof(*v));
	if (!v)
		return oom(p);
	st->with_values = v;
	st->nwith_values = 1;
	if (!regex)
		return parse_name(p, v);
	return try_regex(p) ? take_string(p, v) : fail_found(p, "regex");
}

/* IN ( name {, name} ), after IN. */
static int parse_with_list(struct parser *p, struct mg_stmt *st)
{
	struct vec v = {0};
	int rc = expect(p, MG_TK_LPAREN, "(");
	if (rc)
		return rc;
	do {
		const char **slot = vec_push(p, &v, sizeof(*slot));
		if (!slot)
			return oom(p);
		if ((rc = parse_name(p, slot)))
			return rc;
	} while (accept(p, MG_TK_COMMA));
	st->with_values = v.data;
	st->nwith_values = v.n;
	return expect(p, MG_TK_RPAREN, ")");
}

/* The operator and value(s) of WITH KEY / WITH MEASUREMENT (ops: which are allowed). */
static int parse_with_op(struct parser *p, struct mg_stmt *st, bool key)
{
	const struct mg_tsql_tok *t = peek(p);
	enum mg_tsql_tk k = t->kind;
	if (k == MG_TK_EQ || (key && k == MG_TK_NEQ)) {
		st->with_op = k == MG_TK_EQ ? MG_WITH_EQ : MG_WITH_NEQ;
		consume(p);
		return parse_with_value(p, st, false);
	}
	if (k == MG_TK_EQREGEX || (key && k == MG_TK_NEQREGEX)) {
		st->with_op = k == MG_TK_EQREGEX ? MG_WITH_REGEX : MG_WITH_NREGEX;
		consume(p);
		return parse_with_value(p, st, true);
	}
	if (key && accept_kw(p, MG_KW_IN)) {
		st->with_op = MG_WITH_IN;
		return parse_with_list(p, st);
	}
	return fail_found(p, key ? "=, !=, =~, !~, IN" : "=, =~");
}

/* [ON db] [FROM ...] [WITH KEY ...] [WHERE] [LIMIT] [OFFSET] (TAG KEYS, TAG VALUES). */
static int parse_show_tags(struct parser *p, struct mg_stmt *st, bool values)
{
	int rc = parse_on(p, st);
	if (rc == 0)
		rc = parse_from(p, st);
	if (rc == 0 && (values || tok_is_kw(peek(p), MG_KW_WITH))) {
		if ((rc = expect_kw(p, MG_KW_WITH)) == 0 && (rc = expect_kw(p, MG_KW_KEY)) == 0)
			rc = parse_with_op(p, st, true);
	}
	if (rc == 0)
		rc = parse_where(p, &st->where);
	return rc ? rc : parse_limit_offset(p, st);
}

static int parse_show_measurements(struct parser *p, struct mg_stmt *st)
{
	int rc = parse_on(p, st);
	if (rc == 0 && accept_kw(p, MG_KW_WITH)) {
		if ((rc = expect_kw(p, MG_KW_MEASUREMENT)) == 0)
			rc = parse_with_op(p, st, false);
	}
	if (rc == 0)
		rc = parse_where(p, &st->where);
	return rc ? rc : parse_limit_offset(p, st);
}

/* SERIES [[EXACT] CARDINALITY] [ON] [FROM] [WHERE] [LIMIT OFFSET (not for cardinality)] */
static int parse_show_series(struct parser *p, struct mg_stmt *st)
{
	bool exact = accept_kw(p, MG_KW_EXACT);
	int rc = 0;
	st->kind = MG_STMT_SHOW_SERIES;
	if (exact)
		rc = expect_kw(p, MG_KW_CARDINALITY);
	if (exact || accept_kw(p, MG_KW_CARDINALITY))
		st->kind = MG_STMT_SHOW_SERIES_CARDINALITY;
	if (rc == 0)
		rc = parse_on(p, st);
	if (rc == 0)
		rc = parse_from(p, st);
	if (rc == 0)
		rc = parse_where(p, &st->where);
	if (rc == 0 && st->kind == MG_STMT_SHOW_SERIES)
		rc = parse_limit_offset(p, st);
	return rc;
}

/* MEASUREMENT [EXACT] CARDINALITY [ON db] */
static int parse_show_meas_card(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_SHOW_MEASUREMENT_CARDINALITY;
	accept_kw(p, MG_KW_EXACT);
	int rc = expect_kw(p, MG_KW_CARDINALITY);
	return rc ? rc : parse_on(p, st);
}

/* `KEYS` after TAG or FIELD; `VALUES` too after TAG. */
static int parse_show_keys(struct parser *p, struct mg_stmt *st, bool tag)
{
	if (tag && accept_kw(p, MG_KW_VALUES)) {
		st->kind = MG_STMT_SHOW_TAG_VALUES;
		return parse_show_tags(p, st, true);
	}
	if (!accept_kw(p, MG_KW_KEYS))
		return fail_found(p, tag ? "KEYS, VALUES" : "KEYS");
	if (tag) {
		st->kind = MG_STMT_SHOW_TAG_KEYS;
		return parse_show_tags(p, st, false);
	}
	st->kind = MG_STMT_SHOW_FIELD_KEYS;
	int rc = parse_on(p, st);
	if (rc == 0)
		rc = parse_from(p, st);
	return rc ? rc : parse_limit_offset(p, st);
}

static int parse_show(struct parser *p, struct mg_stmt *st)
{
	int rc = 0;
	if (accept_kw(p, MG_KW_DATABASES)) {
		st->kind = MG_STMT_SHOW_DATABASES;
	} else if (accept_kw(p, MG_KW_QUERIES)) {
		st->kind = MG_STMT_SHOW_QUERIES;
	} else if (accept_kw(p, MG_KW_MEASUREMENTS)) {
		st->kind = MG_STMT_SHOW_MEASUREMENTS;
		rc = parse_show_measurements(p, st);
	} else if (accept_kw(p, MG_KW_MEASUREMENT)) {
		rc = parse_show_meas_card(p, st);
	} else if (accept_kw(p, MG_KW_SERIES)) {
		rc = parse_show_series(p, st);
	} else if (accept_kw(p, MG_KW_TAG)) {
		rc = parse_show_keys(p, st, true);
	} else if (accept_kw(p, MG_KW_FIELD)) {
		rc = parse_show_keys(p, st, false);
	} else if (accept_kw(p, MG_KW_RETENTION)) {
		st->kind = MG_STMT_SHOW_RETENTION_POLICIES;
		if ((rc = expect_kw(p, MG_KW_POLICIES)) == 0)
			rc = parse_on(p, st);
	} else {
		rc = fail_found(p, "DATABASES, FIELD, MEASUREMENT, MEASUREMENTS, QUERIES, "
				   "RETENTION, SERIES, TAG");
	}
	return rc;
}

/* WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME n]: checked, then ignored. */
static int parse_create_with(struct parser *p)
{
	int64_t ns, n = 0;
	const char *name;
	int rc = 0;
	const struct mg_tsql_tok *t = peek(p);
	if (!tok_is_kw(t, MG_KW_DURATION) && !tok_is_kw(t, MG_KW_REPLICATION) &&
	    !tok_is_kw(t, MG_KW_SHARD) && !tok_is_kw(t, MG_KW_NAME))
		return fail_found(p, "DURATION, REPLICATION, SHARD, NAME");
	if (accept_kw(p, MG_KW_DURATION)) {
		t = peek(p);
		bool inf = t->kind == MG_TK_IDENT && !t->quoted && t->end - t->pos == 3 &&
			   strncasecmp(p->lx.text + t->pos, "inf", 3) == 0;
		rc = inf ? (consume(p), 0) : parse_duration_tok(p, &ns, "duration");
	}
	if (rc == 0 && accept_kw(p, MG_KW_REPLICATION)) {
		uint32_t npos = peek(p)->pos;
		if ((rc = parse_count(p, &n)) == 0 && n < 1)
			rc = fail_at(p, npos, "REPLICATION must be >= 1");
	}
	if (rc == 0 && accept_kw(p, MG_KW_SHARD) && (rc = expect_kw(p, MG_KW_DURATION)) == 0)
		rc = parse_duration_tok(p, &ns, "duration");
	if (rc == 0 && accept_kw(p, MG_KW_NAME))
		rc = parse_ident(p, &name);
	return rc;
}

static int parse_create(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_CREATE_DATABASE;
	int rc = expect_kw(p, MG_KW_DATABASE);
	if (rc == 0)
		rc = parse_ident(p, &st->on_db);
	if (rc == 0 && accept_kw(p, MG_KW_WITH))
		rc = parse_create_with(p);
	return rc;
}

static int parse_drop(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_DROP_DATABASE;
	int rc = expect_kw(p, MG_KW_DATABASE);
	return rc ? rc : parse_ident(p, &st->on_db);
}

static int parse_kill(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_KILL_QUERY;
	int rc = expect_kw(p, MG_KW_QUERY);
	if (rc)
		return rc;
	const struct mg_tsql_tok *t = peek(p);
	if (t->kind != MG_TK_INT)
		return fail_found(p, "integer");
	if (t->ovf)
		return fail_at(p, t->pos, "integer out of range");
	st->query_id = t->u;
	consume(p);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* FORECAST, DETECT ANOMALIES                                                 */
/* ------------------------------------------------------------------------ */

/* A method parameter's value: a literal (parse_neg folds -3 into one). */
static bool method_value_ok(const struct mg_expr *v)
{
	return v->kind == MG_EX_INT || v->kind == MG_EX_FLOAT || v->kind == MG_EX_DURATION ||
	       v->kind == MG_EX_STRING || v->kind == MG_EX_BOOL;
}

/* method: name | name ( [key = literal {, key = literal}] ) */
static int parse_method(struct parser *p, const struct mg_expr **out)
{
	uint32_t depth;
	const struct mg_tsql_tok *t = peek(p);
	if (!tok_is_ident(t))
		return fail_found(p, "method name");
	struct mg_expr *e;
	int rc = parse_primary(p, &e, &depth);
	if (rc)
		return rc;
	if (e->kind != MG_EX_REF && e->kind != MG_EX_CALL)
		return fail_at(p, e->pos, "expected a method name");
	if (e->kind == MG_EX_REF && (e->cast != MG_CAST_NONE || strchr(e->s, '.')))
		return fail_at(p, e->pos, "expected a method name");
	for (uint32_t i = 0; e->kind == MG_EX_CALL && i < e->nargs; i++) {
		const struct mg_expr *a = e->args[i];
		if (a->kind != MG_EX_BINARY || a->op != MG_OP_EQ || a->lhs->kind != MG_EX_REF ||
		    !method_value_ok(a->rhs))
			return fail_at(p, a->pos, "method parameters are key = literal");
	}
	*out = e;
	return 0;
}

/* A number token (INT or FLOAT) as a double. */
static int parse_number(struct parser *p, double *out)
{
	const struct mg_tsql_tok *t = peek(p);
	struct mg_expr e = {.kind = MG_EX_FLOAT};
	if (t->kind != MG_TK_INT && t->kind != MG_TK_FLOAT)
		return fail_found(p, "number");
	int rc = parse_double(p, &e);
	if (rc)
		return rc;
	consume(p);
	*out = e.f;
	return 0;
}

/* <field> FROM sources [WHERE] [GROUP BY] [fill()]: the series to analyse. */
static int parse_an_source(struct parser *p, struct mg_stmt *st)
{
	struct mg_select *sel = mg_tsql_arena_alloc(p->a, sizeof(*sel));
	struct mg_field *f = mg_tsql_arena_alloc(p->a, sizeof(*f));
	if (!sel || !f)
		return oom(p);
	sel->fields = f;
	sel->nfields = 1;
	st->select = sel;
	int rc = parse_field(p, f);
	if (rc == 0)
		rc = expect_kw(p, MG_KW_FROM);
	if (rc == 0)
		rc = parse_sources(p, true, &sel->sources, &sel->nsources);
	if (rc == 0)
		rc = parse_where(p, &sel->where);
	if (rc == 0 && accept_kw(p, MG_KW_GROUP))
		rc = parse_group_by(p, sel);
	if (rc == 0 && accept_kw(p, MG_KW_FILL))
		rc = parse_fill(p, sel);
	return rc;
}

static int parse_forecast(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_FORECAST;
	int rc = parse_an_source(p, st);
	if (rc == 0)
		rc = expect_kw(p, MG_KW_USING);
	if (rc == 0)
		rc = parse_method(p, &st->method);
	if (rc == 0)
		rc = expect_kw(p, MG_KW_FOR);
	uint32_t hpos = peek(p)->pos;
	if (rc == 0 && (rc = parse_duration_tok(p, &st->horizon_ns, "duration")) == 0 &&
	    st->horizon_ns <= 0)
		rc = fail_at(p, hpos, "FOR must be a positive duration");
	if (rc == 0 && accept_kw(p, MG_KW_WITH) && (rc = expect_kw(p, MG_KW_INTERVAL)) == 0) {
		uint32_t ppos = peek(p)->pos;
		if ((rc = parse_number(p, &st->interval_pct)) == 0 &&
		    !(st->interval_pct > 0 && st->interval_pct < 100))
			rc = fail_at(p, ppos, "INTERVAL must be a percentage in (0, 100)");
	}
	return rc;
}

static int parse_detect(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_DETECT;
	int rc = expect_kw(p, MG_KW_ANOMALIES);
	if (rc == 0)
		rc = expect_kw(p, MG_KW_IN);
	if (rc == 0)
		rc = parse_an_source(p, st);
	if (rc == 0 && accept_kw(p, MG_KW_USING))
		rc = parse_method(p, &st->method);
	if (rc == 0 && accept_kw(p, MG_KW_SENSITIVITY)) {
		uint32_t spos = peek(p)->pos;
		if ((rc = parse_number(p, &st->sensitivity)) == 0 &&
		    !(st->sensitivity > 0 && st->sensitivity <= 1))
			rc = fail_at(p, spos, "SENSITIVITY must be in (0, 1]");
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Statements                                                                 */
/* ------------------------------------------------------------------------ */

static int parse_select_stmt(struct parser *p, struct mg_stmt *st)
{
	st->kind = MG_STMT_SELECT;
	return parse_select(p, false, &st->select);
}

/* Statements by their first keyword; new ones (FORECAST, DETECT) go here. */
static const struct {
	enum mg_tsql_kw kw;
	int (*parse)(struct parser *p, struct mg_stmt *st);
} stmt_parsers[] = {
	{MG_KW_SELECT, parse_select_stmt},
	{MG_KW_SHOW, parse_show},
	{MG_KW_CREATE, parse_create},
	{MG_KW_DROP, parse_drop},
	{MG_KW_KILL, parse_kill},
	{MG_KW_FORECAST, parse_forecast},
	{MG_KW_DETECT, parse_detect},
};

static int parse_stmt(struct parser *p, struct mg_stmt *st)
{
	st->pos = peek(p)->pos;
	for (size_t i = 0; i < CM_ARRAY_SIZE(stmt_parsers); i++) {
		if (accept_kw(p, stmt_parsers[i].kw)) {
			int rc = stmt_parsers[i].parse(p, st);
			st->len = p->prev_end - st->pos;
			assert(rc || p->nest == 0);
			return rc;
		}
	}
	return fail_found(p, EXP_STMT);
}

/* stmt {; stmt} [;] */
static int parse_stmts(struct parser *p, struct mg_tsql *q)
{
	struct vec v = {0};
	for (;;) {
		while (accept(p, MG_TK_SEMI))
			;
		if (peek(p)->kind == MG_TK_EOF)
			break;
		struct mg_stmt *st = vec_push(p, &v, sizeof(*st));
		if (!st)
			return oom(p);
		int rc = parse_stmt(p, st);
		if (rc)
			return rc;
		if (peek(p)->kind != MG_TK_SEMI && peek(p)->kind != MG_TK_EOF)
			return fail_found(p, ";");
	}
	if (v.n == 0)
		return fail_found(p, EXP_STMT);
	q->stmts = v.data;
	q->nstmts = v.n;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* API                                                                        */
/* ------------------------------------------------------------------------ */

static void *libc_alloc(void *arg, size_t bytes)
{
	(void)arg;
	return malloc(bytes);
}

static void libc_free(void *arg, void *ptr)
{
	(void)arg;
	free(ptr);
}

static const struct mg_tsql_mem libc_mem = {libc_alloc, libc_free, NULL};

/* What a whole text is: statements, or one method (mg_tsql_parse_method). */
static int parse_method_text(struct parser *p, struct mg_tsql_impl *impl)
{
	int rc = parse_method(p, &impl->method);
	return rc == 0 && peek(p)->kind != MG_TK_EOF ? fail_found(p, "EOF") : rc;
}

static int parse_stmts_text(struct parser *p, struct mg_tsql_impl *impl)
{
	return parse_stmts(p, &impl->q);
}

/* text[len] through body into a new result that owns every node (*out), or err. */
static int parse_text(const char *text, size_t len, const struct mg_tsql_mem *mem,
		      int (*body)(struct parser *p, struct mg_tsql_impl *impl),
		      struct mg_tsql_impl **out, struct mg_tsql_error *err)
{
	struct mg_tsql_error dummy;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	*out = NULL;
	mem = mem ? mem : &libc_mem;
	struct parser p = {.lx = {.text = text ? text : ""}, .err = err};
	if (len > MG_TSQL_TEXT_MAX)
		return fail_at(&p, 0, "query too long");
	p.lx.len = (uint32_t)len;
	struct mg_tsql_impl *impl = mem->alloc(mem->arg, sizeof(*impl));
	if (!impl)
		return oom(&p);
	memset(impl, 0, offsetof(struct mg_tsql_impl, arena));
	mg_tsql_arena_init(&impl->arena, mem);
	p.a = &impl->arena;
	int rc = body(&p, impl);
	if (rc) {
		mg_tsql_free(&impl->q);
		return rc;
	}
	*out = impl;
	return 0;
}

int mg_tsql_parse_mem(const char *text, size_t len, const struct mg_tsql_mem *mem,
		      struct mg_tsql **out, struct mg_tsql_error *err)
{
	struct mg_tsql_impl *impl;
	int rc = parse_text(text, len, mem, parse_stmts_text, &impl, err);
	*out = rc ? NULL : &impl->q;
	return rc;
}

int mg_tsql_parse_method(const char *text, size_t len, struct mg_tsql **out,
			 const struct mg_expr **method, struct mg_tsql_error *err)
{
	struct mg_tsql_impl *impl;
	int rc = parse_text(text, len, NULL, parse_method_text, &impl, err);
	*out = rc ? NULL : &impl->q;
	*method = rc ? NULL : impl->method;
	return rc;
}

int mg_tsql_parse(const char *text, size_t len, struct mg_tsql **out, struct mg_tsql_error *err)
{
	return mg_tsql_parse_mem(text, len, NULL, out, err);
}

void mg_tsql_free(struct mg_tsql *q)
{
	if (!q)
		return;
	struct mg_tsql_impl *impl = (struct mg_tsql_impl *)q;
	struct mg_tsql_mem mem = impl->arena.mem;
	mg_tsql_arena_release(&impl->arena);
	mem.free(mem.arg, impl);
}
