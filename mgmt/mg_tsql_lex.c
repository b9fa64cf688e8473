/*
 * mg_tsql_lex.c - the TSQL lexer and literals: tokens, keywords, durations,
 * unescaping of strings, identifiers and regexes, the arena that holds a
 * parse result, and mg_tsql_parse_time (API in mg_tsql_int.h / mg_tsql.h,
 * rules in docs/TSQL.md).
 *
 * Why it looks like this: the parser pulls one token at a time and never
 * looks further, so a '/' is lexed as a regex only where the parser asks for
 * one (mg_tsql_lex_regex) and the text is read once, left to right. Tokens
 * are byte ranges; integers and durations come with their value, floats
 * and strings are converted (strings unescaped into the arena) only when
 * the parser keeps them. Literal rules follow InfluxQL 1.x's scanner
 * (escapes, duration units, comments), with exponents (1e3) added.
 *
 * Usage profile: one lexer per parse on a management thread. The largest
 * TSBS query (cpu-max-all-32-24: 1049 bytes, 197 tokens) lexes in 3-5 us
 * of CPU at -O2 on the (loaded, 2-vCPU) development VM. Any thread; no
 * global mutable state.
 */
#include "mg_tsql_int.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"

/* ------------------------------------------------------------------------ */
/* Arena                                                                      */
/* ------------------------------------------------------------------------ */

#define ARENA_FIRST_BYTES 4096u
#define ARENA_MAX_BLOCK_BYTES (1u << 20)
#define ARENA_ALIGN 16u

struct mg_tsql_blk {
	struct mg_tsql_blk *next;
	size_t used, cap;
	alignas(ARENA_ALIGN) unsigned char data[];
};

static_assert(offsetof(struct mg_tsql_blk, data) % ARENA_ALIGN == 0, "block data is aligned");
static_assert(ARENA_ALIGN >= alignof(struct mg_expr), "nodes fit the alignment");

void mg_tsql_arena_init(struct mg_tsql_arena *a, const struct mg_tsql_mem *mem)
{
	a->head = NULL;
	a->next_bytes = ARENA_FIRST_BYTES;
	a->mem = *mem;
}

void mg_tsql_arena_release(struct mg_tsql_arena *a)
{
	struct mg_tsql_blk *b = a->head;
	while (b) {
		struct mg_tsql_blk *next = b->next;
		a->mem.free(a->mem.arg, b);
		b = next;
	}
	a->head = NULL;
}

/* n bytes, not zeroed (strings are written whole), aligned; or NULL. */
static void *arena_bump(struct mg_tsql_arena *a, size_t n)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	n = CM_ALIGN_UP(n, (size_t)ARENA_ALIGN);
	struct mg_tsql_blk *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > a->next_bytes ? n : a->next_bytes;
		b = a->mem.alloc(a->mem.arg, sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
		if (a->next_bytes < ARENA_MAX_BLOCK_BYTES)
			a->next_bytes *= 2;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void *mg_tsql_arena_alloc(struct mg_tsql_arena *a, size_t n)
{
	void *p = arena_bump(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

/* A NUL-terminated copy of s[n], or NULL. */
static char *arena_strndup(struct mg_tsql_arena *a, const char *s, size_t n)
{
	char *d = arena_bump(a, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* ------------------------------------------------------------------------ */
/* Keywords                                                                   */
/* ------------------------------------------------------------------------ */

static const char *const kw_names[MG_KW__COUNT] = {
	[MG_KW_AND] = "AND",
	[MG_KW_AS] = "AS",
	[MG_KW_ASC] = "ASC",
	[MG_KW_DESC] = "DESC",
	[MG_KW_FALSE] = "FALSE",
	[MG_KW_FROM] = "FROM",
	[MG_KW_GROUP] = "GROUP",
	[MG_KW_INTO] = "INTO",
	[MG_KW_LIMIT] = "LIMIT",
	[MG_KW_OFFSET] = "OFFSET",
	[MG_KW_ON] = "ON",
	[MG_KW_OR] = "OR",
	[MG_KW_ORDER] = "ORDER",
	[MG_KW_SELECT] = "SELECT",
	[MG_KW_SLIMIT] = "SLIMIT",
	[MG_KW_SOFFSET] = "SOFFSET",
	[MG_KW_TRUE] = "TRUE",
	[MG_KW_WHERE] = "WHERE",
	[MG_KW_WITH] = "WITH",
	[MG_KW_ANOMALIES] = "ANOMALIES",
	[MG_KW_BOOLEAN] = "BOOLEAN",
	[MG_KW_BY] = "BY",
	[MG_KW_CARDINALITY] = "CARDINALITY",
	[MG_KW_CREATE] = "CREATE",
	[MG_KW_DATABASE] = "DATABASE",
	[MG_KW_DATABASES] = "DATABASES",
	[MG_KW_DETECT] = "DETECT",
	[MG_KW_DISTINCT] = "DISTINCT",
	[MG_KW_DROP] = "DROP",
	[MG_KW_DURATION] = "DURATION",
	[MG_KW_EXACT] = "EXACT",
	[MG_KW_FIELD] = "FIELD",
	[MG_KW_FILL] = "FILL",
	[MG_KW_FLOAT] = "FLOAT",
	[MG_KW_FOR] = "FOR",
	[MG_KW_FORECAST] = "FORECAST",
	[MG_KW_IN] = "IN",
	[MG_KW_INTEGER] = "INTEGER",
	[MG_KW_INTERVAL] = "INTERVAL",
	[MG_KW_KEY] = "KEY",
	[MG_KW_KEYS] = "KEYS",
	[MG_KW_KILL] = "KILL",
	[MG_KW_LINEAR] = "LINEAR",
	[MG_KW_MEASUREMENT] = "MEASUREMENT",
	[MG_KW_MEASUREMENTS] = "MEASUREMENTS",
	[MG_KW_NAME] = "NAME",
	[MG_KW_NONE] = "NONE",
	[MG_KW_NOW] = "NOW",
	[MG_KW_NULL] = "NULL",
	[MG_KW_POLICIES] = "POLICIES",
	[MG_KW_PREVIOUS] = "PREVIOUS",
	[MG_KW_QUERIES] = "QUERIES",
	[MG_KW_QUERY] = "QUERY",
	[MG_KW_REPLICATION] = "REPLICATION",
	[MG_KW_RETENTION] = "RETENTION",
	[MG_KW_SENSITIVITY] = "SENSITIVITY",
	[MG_KW_SERIES] = "SERIES",
	[MG_KW_SHARD] = "SHARD",
	[MG_KW_SHOW] = "SHOW",
	[MG_KW_STRING] = "STRING",
	[MG_KW_TAG] = "TAG",
	[MG_KW_TIME] = "TIME",
	[MG_KW_TZ] = "TZ",
	[MG_KW_USING] = "USING",
	[MG_KW_VALUES] = "VALUES",
};

/* Keyword candidates of one first letter, lower case, NULL-terminated. */
struct kw_cand {
	const char *name;
	enum mg_tsql_kw kw;
};

/* s[n] against each candidate, ignoring case (s is a bare word or any bytes). */
static enum mg_tsql_kw kw_match(const char *s, size_t n, const struct kw_cand *c)
{
	for (; c->name; c++) {
		size_t i = 0;
		while (i < n && c->name[i] == (char)(s[i] | 0x20))
			i++;
		if (i == n && c->name[n] == '\0')
			return c->kw;
	}
	return MG_KW__NONE;
}

#define KW_CANDS(...) ((const struct kw_cand[]){__VA_ARGS__, {NULL, MG_KW__NONE}})

/*
 * One switch on the first letter and a few compares: every bare word is
 * looked up as it is lexed (about a hundred in the largest TSBS query), so
 * this is not a scan of kw_names. test_mg_tsql checks that every keyword of
 * kw_names is found here.
 */
enum mg_tsql_kw mg_tsql_kw_lookup(const char *s, size_t n)
{
	if (n < 2 || n > 12)
		return MG_KW__NONE;
	switch (s[0] | 0x20) {
	case 'a': return kw_match(s, n, KW_CANDS({"and", MG_KW_AND}, {"anomalies", MG_KW_ANOMALIES},
						 {"as", MG_KW_AS}, {"asc", MG_KW_ASC}));
	case 'b': return kw_match(s, n, KW_CANDS({"boolean", MG_KW_BOOLEAN}, {"by", MG_KW_BY}));
	case 'c': return kw_match(s, n, KW_CANDS({"cardinality", MG_KW_CARDINALITY},
						 {"create", MG_KW_CREATE}));
	case 'd': return kw_match(s, n, KW_CANDS({"database", MG_KW_DATABASE},
						 {"databases", MG_KW_DATABASES},
						 {"desc", MG_KW_DESC}, {"detect", MG_KW_DETECT},
						 {"distinct", MG_KW_DISTINCT}, {"drop", MG_KW_DROP},
						 {"duration", MG_KW_DURATION}));
	case 'e': return kw_match(s, n, KW_CANDS({"exact", MG_KW_EXACT}));
	case 'f': return kw_match(s, n, KW_CANDS({"false", MG_KW_FALSE}, {"field", MG_KW_FIELD},
						 {"fill", MG_KW_FILL}, {"float", MG_KW_FLOAT},
						 {"for", MG_KW_FOR}, {"forecast", MG_KW_FORECAST},
						 {"from", MG_KW_FROM}));
	case 'g': return kw_match(s, n, KW_CANDS({"group", MG_KW_GROUP}));
	case 'i': return kw_match(s, n, KW_CANDS({"in", MG_KW_IN}, {"integer", MG_KW_INTEGER},
						 {"interval", MG_KW_INTERVAL}, {"into", MG_KW_INTO}));
	case 'k': return kw_match(s, n, KW_CANDS({"key", MG_KW_KEY}, {"keys", MG_KW_KEYS},
						 {"kill", MG_KW_KILL}));
	case 'l': return kw_match(s, n, KW_CANDS({"limit", MG_KW_LIMIT}, {"linear", MG_KW_LINEAR}));
	case 'm': return kw_match(s, n, KW_CANDS({"measurement", MG_KW_MEASUREMENT},
						 {"measurements", MG_KW_MEASUREMENTS}));
	case 'n': return kw_match(s, n, KW_CANDS({"name", MG_KW_NAME}, {"none", MG_KW_NONE},
						 {"now", MG_KW_NOW}, {"null", MG_KW_NULL}));
	case 'o': return kw_match(s, n, KW_CANDS({"offset", MG_KW_OFFSET}, {"on", MG_KW_ON},
						 {"or", MG_KW_OR}, {"order", MG_KW_ORDER}));
	case 'p': return kw_match(s, n, KW_CANDS({"policies", MG_KW_POLICIES},
						 {"previous", MG_KW_PREVIOUS}));
	case 'q': return kw_match(s, n, KW_CANDS({"queries", MG_KW_QUERIES},
						 {"query", MG_KW_QUERY}));
	case 'r': return kw_match(s, n, KW_CANDS({"replication", MG_KW_REPLICATION},
						 {"retention", MG_KW_RETENTION}));
	case 's': return kw_match(s, n, KW_CANDS({"select", MG_KW_SELECT},
						 {"sensitivity", MG_KW_SENSITIVITY},
						 {"series", MG_KW_SERIES}, {"shard", MG_KW_SHARD},
						 {"show", MG_KW_SHOW}, {"slimit", MG_KW_SLIMIT},
						 {"soffset", MG_KW_SOFFSET},
						 {"string", MG_KW_STRING}));
	case 't': return kw_match(s, n, KW_CANDS({"tag", MG_KW_TAG}, {"time", MG_KW_TIME},
						 {"true", MG_KW_TRUE}, {"tz", MG_KW_TZ}));
	case 'u': return kw_match(s, n, KW_CANDS({"using", MG_KW_USING}));
	case 'v': return kw_match(s, n, KW_CANDS({"values", MG_KW_VALUES}));
	case 'w': return kw_match(s, n, KW_CANDS({"where", MG_KW_WHERE}, {"with", MG_KW_WITH}));
	default: return MG_KW__NONE;
	}
}

const char *mg_tsql_kw_name(enum mg_tsql_kw kw)
{
	assert(kw > MG_KW__NONE && kw < MG_KW__COUNT && kw_names[kw]);
	return kw_names[kw];
}

/* ------------------------------------------------------------------------ */
/* Lexer                                                                      */
/* ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(char c)
{
	return is_letter(c) || is_digit(c) || c == '_';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* "µ" (U+00B5, the micro sign) at text[p]. */
static bool is_micro(const struct mg_tsql_lex *lx, uint32_t p)
{
	return p + 1 < lx->len && (unsigned char)lx->text[p] == 0xc2 &&
	       (unsigned char)lx->text[p + 1] == 0xb5;
}

static void tok_error(struct mg_tsql_tok *t, enum mg_tsql_lerr e, uint32_t err_pos)
{
	t->kind = MG_TK_ERROR;
	t->lerr = e;
	t->err_pos = err_pos;
}

/* Skip blanks and comments; an unterminated comment becomes an error token. */
static bool skip_blanks(struct mg_tsql_lex *lx, struct mg_tsql_tok *t)
{
	const char *s = lx->text;
	while (lx->pos < lx->len) {
		uint32_t p = lx->pos;
		if (is_blank(s[p])) {
			lx->pos++;
		} else if (s[p] == '-' && p + 1 < lx->len && s[p + 1] == '-') {
			const char *nl = memchr(s + p, '\n', lx->len - p);
			lx->pos = nl ? (uint32_t)(nl - s) : lx->len;
		} else if (s[p] == '/' && p + 1 < lx->len && s[p + 1] == '*') {
			const char *e = memmem(s + p + 2, lx->len - p - 2, "*/", 2);
			if (!e) {
				t->pos = p;
				t->end = lx->len;
				tok_error(t, MG_LERR_UNTERM_COMMENT, p);
				lx->pos = lx->len;
				return false;
			}
			lx->pos = (uint32_t)(e - s) + 2;
		} else {
			break;
		}
	}
	return true;
}

/*
 * A quoted string or identifier starting at the quote q. Escapes: \\ \' \"
 * \n; anything else after a backslash is an error, as is a line break, a
 * NUL or the end of the text before the closing quote.
 */
static void scan_quoted(struct mg_tsql_lex *lx, struct mg_tsql_tok *t, char q)
{
	const char *s = lx->text;
	uint32_t p = lx->pos + 1;
	t->kind = q == '"' ? MG_TK_IDENT : MG_TK_STRING;
	t->quoted = true;
	for (; p < lx->len; p++) {
		char c = s[p];
		if (c == q) {
			lx->pos = p + 1;
			t->end = lx->pos;
			return;
		}
		if (c == '\n' || c == '\r')
			break;
		if (c == '\0') {
			tok_error(t, MG_LERR_NUL, p);
			goto out;
		}
		if (c == '\\') {
			char e = p + 1 < lx->len ? s[p + 1] : '\0';
			if (e != '\\' && e != '\'' && e != '"' && e != 'n') {
				if (p + 1 >= lx->len)
					break;
				tok_error(t, MG_LERR_BAD_ESCAPE, p);
				goto out;
			}
			t->esc = true;
			p++;
		}
	}
	tok_error(t, q == '"' ? MG_LERR_UNTERM_IDENT : MG_LERR_UNTERM_STRING, t->pos);
out:
	lx->pos = lx->len;
	t->end = lx->len;
}

/* ns per unit at text[p] (advancing *p past it), or 0 for no unit. */
static int64_t duration_unit(const struct mg_tsql_lex *lx, uint32_t *p, uint32_t end)
{
	const char *s = lx->text;
	char c = s[*p], n = *p + 1 < end ? s[*p + 1] : '\0';
	if (is_micro(lx, *p) && *p + 2 <= end) {
		*p += 2;
		return 1000;
	}
	(*p)++;
	switch (c) {
	case 'n':
		if (n != 's')
			return 0;
		(*p)++;
		return 1;
	case 'u':
		return 1000;
	case 'm':
		if (n == 's') {
			(*p)++;
			return 1000000;
		}
		return INT64_C(60000000000);
	case 's':
		return INT64_C(1000000000);
	case 'h':
		return INT64_C(3600000000000);
	case 'd':
		return INT64_C(86400000000000);
	case 'w':
		return INT64_C(604800000000000);
	default:
		return 0;
	}
}

/* Value of the duration text[pos, end): 0, -EINVAL or -ERANGE. */
static int parse_duration(const struct mg_tsql_lex *lx, uint32_t pos, uint32_t end, int64_t *ns)
{
	int64_t sum = 0;
	uint32_t p = pos;
	while (p < end) {
		int64_t n = 0;
		uint32_t d0 = p;
		for (; p < end && is_digit(lx->text[p]); p++)
			if (__builtin_mul_overflow(n, 10, &n) ||
			    __builtin_add_overflow(n, lx->text[p] - '0', &n))
				return -ERANGE;
		if (p == d0 || p == end)
			return -EINVAL;
		int64_t unit = duration_unit(lx, &p, end);
		if (unit == 0)
			return -EINVAL;
		if (__builtin_mul_overflow(n, unit, &n) || __builtin_add_overflow(sum, n, &sum))
			return -ERANGE;
	}
	*ns = sum;
	return 0;
}

/*
 * A number at lx->pos: digits [. digits] [e [+-] digits], or .digits...;
 * digits followed by a letter or µ make a duration (10s, 1h30m).
 */
static void scan_number(struct mg_tsql_lex *lx, struct mg_tsql_tok *t)
{
	const char *s = lx->text;
	uint32_t p = lx->pos, len = lx->len;
	bool is_float = false;
	uint64_t u = 0;
	for (; p < len && is_digit(s[p]); p++) {
		if (__builtin_mul_overflow(u, 10, &u) || __builtin_add_overflow(u, s[p] - '0', &u))
			t->ovf = true;
	}
	if (p < len && s[p] == '.') {
		is_float = true;
		for (p++; p < len && is_digit(s[p]); p++)
			;
	}
	if (p + 1 < len && (s[p] == 'e' || s[p] == 'E') &&
	    (is_digit(s[p + 1]) ||
	     ((s[p + 1] == '+' || s[p + 1] == '-') && p + 2 < len && is_digit(s[p + 2])))) {
		is_float = true;
		for (p += 2; p < len && is_digit(s[p]); p++)
			;
	}
	uint32_t num_end = p;
	while (p < len && (is_ident_char(s[p]) || is_micro(lx, p)))
		p += is_micro(lx, p) ? 2 : 1;
	bool suffix = p > num_end;
	lx->pos = t->end = p;
	if (!suffix) {
		t->kind = is_float ? MG_TK_FLOAT : MG_TK_INT;
		t->u = u;
		return;
	}
	if (is_float) {
		tok_error(t, MG_LERR_BAD_NUMBER, t->pos);
		return;
	}
	t->kind = MG_TK_DURATION;
	int rc = parse_duration(lx, t->pos, t->end, &t->ns);
	if (rc)
		tok_error(t, rc == -ERANGE ? MG_LERR_DURATION_RANGE : MG_LERR_BAD_DURATION, t->pos);
}

static void scan_ident(struct mg_tsql_lex *lx, struct mg_tsql_tok *t)
{
	uint32_t p = lx->pos;
	while (p < lx->len && is_ident_char(lx->text[p]))
		p++;
	lx->pos = t->end = p;
	t->kind = MG_TK_IDENT;
	t->kw = mg_tsql_kw_lookup(lx->text + t->pos, p - t->pos);
}

bool mg_tsql_ident_is_bare(const char *name)
{
	if (!is_letter(name[0]) && name[0] != '_')
		return false;
	size_t n = 1;
	while (is_ident_char(name[n]))
		n++;
	if (name[n] != '\0')
		return false;
	enum mg_tsql_kw kw = mg_tsql_kw_lookup(name, n);
	return kw == MG_KW__NONE || (kw > MG_KW__CONTEXTUAL && kw != MG_KW_DISTINCT);
}

/* One- and two-byte operators and punctuation; 0 if c starts none. */
static enum mg_tsql_tk scan_op(struct mg_tsql_lex *lx)
{
	const char *s = lx->text;
	uint32_t p = lx->pos;
	char n = p + 1 < lx->len ? s[p + 1] : '\0';
	enum mg_tsql_tk k = MG_TK_ILLEGAL;
	uint32_t w = 1;
	switch (s[p]) {
	case '(': k = MG_TK_LPAREN; break;
	case ')': k = MG_TK_RPAREN; break;
	case ',': k = MG_TK_COMMA; break;
	case ';': k = MG_TK_SEMI; break;
	case '.': k = MG_TK_DOT; break;
	case '+': k = MG_TK_ADD; break;
	case '-': k = MG_TK_SUB; break;
	case '*': k = MG_TK_MUL; break;
	case '/': k = MG_TK_DIV; break;
	case '%': k = MG_TK_MOD; break;
	case '&': k = MG_TK_BITAND; break;
	case '|': k = MG_TK_BITOR; break;
	case '^': k = MG_TK_BITXOR; break;
	case ':': k = n == ':' ? (w = 2, MG_TK_DCOLON) : MG_TK_COLON; break;
	case '=': k = n == '~' ? (w = 2, MG_TK_EQREGEX) : MG_TK_EQ; break;
	case '!':
		if (n == '=' || n == '~') {
			k = n == '=' ? MG_TK_NEQ : MG_TK_NEQREGEX;
			w = 2;
		}
		break;
	case '<':
		if (n == '=' || n == '>') {
			k = n == '=' ? MG_TK_LTE : MG_TK_NEQ;
			w = 2;
		} else {
			k = MG_TK_LT;
		}
		break;
	case '>': k = n == '=' ? (w = 2, MG_TK_GTE) : MG_TK_GT; break;
	default:
		break;
	}
	if (k == MG_TK_ILLEGAL) {
		/* one whole UTF-8 character when it is one, for the error message */
		unsigned char c = (unsigned char)s[p];
		uint32_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		while (w < want && p + w < lx->len && ((unsigned char)s[p + w] & 0xc0) == 0x80)
			w++;
	}
	lx->pos = p + w;
	return k;
}

void mg_tsql_lex_next(struct mg_tsql_lex *lx, struct mg_tsql_tok *t)
{
	memset(t, 0, sizeof(*t));
	if (!skip_blanks(lx, t))
		return;
	t->pos = t->end = lx->pos;
	if (lx->pos >= lx->len) {
		t->kind = MG_TK_EOF;
		return;
	}
	char c = lx->text[lx->pos], n = lx->pos + 1 < lx->len ? lx->text[lx->pos + 1] : '\0';
	if (is_letter(c) || c == '_')
		scan_ident(lx, t);
	else if (is_digit(c) || (c == '.' && is_digit(n)))
		scan_number(lx, t);
	else if (c == '"' || c == '\'')
		scan_quoted(lx, t, c);
	else
		t->kind = scan_op(lx);
	if (t->kind != MG_TK_ERROR)
		t->end = lx->pos;
	assert(t->end >= t->pos && t->end <= lx->len);
}

bool mg_tsql_lex_regex(struct mg_tsql_lex *lx, struct mg_tsql_tok *t)
{
	const char *s = lx->text;
	uint32_t p = lx->pos;
	while (p < lx->len && is_blank(s[p]))
		p++;
	if (p >= lx->len || s[p] != '/')
		return false;
	memset(t, 0, sizeof(*t));
	t->pos = p;
	t->kind = MG_TK_REGEX;
	for (p++; p < lx->len; p++) {
		if (s[p] == '/') {
			lx->pos = t->end = p + 1;
			return true;
		}
		if (s[p] == '\n' || s[p] == '\r')
			break;
		if (s[p] == '\0') {
			tok_error(t, MG_LERR_NUL, p);
			goto out;
		}
		if (s[p] == '\\') {
			if (p + 1 >= lx->len || s[p + 1] == '\n' || s[p + 1] == '\r')
				break;
			if (s[p + 1] == '\0') {
				tok_error(t, MG_LERR_NUL, p + 1);
				goto out;
			}
			t->esc |= s[p + 1] == '/';
			p++;
		}
	}
	tok_error(t, MG_LERR_UNTERM_REGEX, t->pos);
out:
	lx->pos = t->end = lx->len;
	return true;
}

/* Unescape a string or quoted identifier body src[n] into dst; returns the length. */
static size_t unescape_quoted(char *dst, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (src[i] == '\\' && i + 1 < n) {
			char e = src[++i];
			dst[o++] = e == 'n' ? '\n' : e;
		} else {
			dst[o++] = src[i];
		}
	}
	return o;
}

/* A regex body: `\/` becomes `/`, every other pair is kept for PCRE. */
static size_t unescape_regex(char *dst, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (src[i] == '\\' && i + 1 < n) {
			if (src[i + 1] != '/')
				dst[o++] = '\\';
			dst[o++] = src[++i];
		} else {
			dst[o++] = src[i];
		}
	}
	return o;
}

char *mg_tsql_tok_str(struct mg_tsql_arena *a, const char *text, const struct mg_tsql_tok *t)
{
	assert(t->kind == MG_TK_IDENT || t->kind == MG_TK_STRING || t->kind == MG_TK_REGEX);
	bool delimited = t->quoted || t->kind == MG_TK_REGEX;
	const char *src = text + t->pos + (delimited ? 1 : 0);
	size_t n = t->end - t->pos - (delimited ? 2 : 0);
	if (!t->esc)
		return arena_strndup(a, src, n);
	char *d = arena_bump(a, n + 1);
	if (!d)
		return NULL;
	size_t o = t->kind == MG_TK_REGEX ? unescape_regex(d, src, n) : unescape_quoted(d, src, n);
	d[o] = '\0';
	return d;
}

int mg_tsql_tok_double(struct mg_tsql_arena *a, const char *text, const struct mg_tsql_tok *t,
		       double *out)
{
	assert(t->kind == MG_TK_FLOAT || t->kind == MG_TK_INT);
	char buf[64];
	size_t n = t->end - t->pos;
	char *s = buf;
	if (n < sizeof(buf)) {
		memcpy(buf, text + t->pos, n);
		buf[n] = '\0';
	} else if (!(s = arena_strndup(a, text + t->pos, n))) {
		return -ENOMEM;
	}
	*out = strtod(s, NULL);
	return isinf(*out) ? -ERANGE : 0;
}

/* ------------------------------------------------------------------------ */
/* Time strings                                                               */
/* ------------------------------------------------------------------------ */

/* n decimal digits at *s (advancing it), or -1. */
static int digits(const char **s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (!is_digit(**s))
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v;
}

static int days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : mdays[m - 1];
}

/* "HH:MM:SS[.frac]" into seconds of the day and ns; 0 or -EINVAL. */
static int parse_clock(const char **s, int64_t *secs, int64_t *frac_ns)
{
	int hh = digits(s, 2), mi = (**s == ':') ? ((*s)++, digits(s, 2)) : -1;
	int ss = (mi >= 0 && **s == ':') ? ((*s)++, digits(s, 2)) : -1;
	if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
		return -EINVAL;
	*secs = hh * 3600 + mi * 60 + ss;
	*frac_ns = 0;
	if (**s == '.') {
		(*s)++;
		if (!is_digit(**s))
			return -EINVAL;
		int64_t scale = 100000000;
		for (; is_digit(**s); (*s)++, scale /= 10)
			*frac_ns += (**s - '0') * scale; /* digits beyond ns count for 0 */
	}
	return 0;
}

/* "Z", "+HH:MM" or "-HH:MM" into seconds east of UTC; 0 or -EINVAL. */
static int parse_zone(const char **s, int64_t *east)
{
	if (**s == 'Z' || **s == 'z') {
		(*s)++;
		*east = 0;
		return 0;
	}
	if (**s != '+' && **s != '-')
		return -EINVAL;
	int sign = **s == '-' ? -1 : 1;
	(*s)++;
	int hh = digits(s, 2), mm = (**s == ':') ? ((*s)++, digits(s, 2)) : -1;
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
		return -EINVAL;
	*east = sign * (hh * 3600 + mm * 60);
	return 0;
}

int mg_tsql_parse_time(const char *s, int64_t *ns, bool *zoned)
{
	bool has_zone = false;
	int y = digits(&s, 4), m = *s == '-' ? (s++, digits(&s, 2)) : -1;
	int d = (m >= 0 && *s == '-') ? (s++, digits(&s, 2)) : -1;
	if (y < 0 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	int64_t secs = 0, frac = 0, east = 0;
	if (*s == 'T' || *s == 't') {
		s++;
		if (parse_clock(&s, &secs, &frac) || parse_zone(&s, &east))
			return -EINVAL;
		has_zone = true;
	} else if (*s == ' ') {
		s++;
		if (parse_clock(&s, &secs, &frac))
			return -EINVAL;
		if (*s) {
			if (parse_zone(&s, &east))
				return -EINVAL;
			has_zone = true;
		}
	}
	if (*s)
		return -EINVAL;
	int64_t t = cm_days_from_civil(y, m, d) * 86400 + secs - east, out;
	if (t < 0 && frac > 0) { /* so that t * 1e9 does not overflow before frac is added */
		t++;
		frac -= 1000000000;
	}
	if (__builtin_mul_overflow(t, INT64_C(1000000000), &out) ||
	    __builtin_add_overflow(out, frac, &out))
		return -EINVAL;
	*ns = out;
	if (zoned)
		*zoned = has_zone;
	return 0;
}
