/*
 * mg_tsql_int.h - private to the TSQL parser (mg_tsql.c, mg_tsql_lex.c,
 * mg_tsql_fmt.c) and its tests: the arena that owns a parse result, the
 * tokens and the lexer, the keyword table, and a parse entry point whose
 * allocations tests can fail on purpose.
 *
 * Threads: everything here works on objects its caller owns; no global
 * mutable state.
 */
#ifndef MG_TSQL_INT_H
#define MG_TSQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_tsql.h"

/* Parens, calls, subqueries and unary minus nest at most this deep. */
#define MG_TSQL_NEST_MAX 64
/* An expression tree is at most this deep (e.g. ~1000 OR'd terms), so walkers may recurse. */
#define MG_TSQL_TREE_MAX 1024
/* Longest text mg_tsql_parse accepts (offsets are uint32_t). */
#define MG_TSQL_TEXT_MAX (UINT32_MAX / 2)

/* ------------------------------------------------------------- allocation */

/*
 * Where the arena gets its blocks. Tests pass one that fails after N calls;
 * mg_tsql_parse uses malloc/free. Both functions must be set.
 */
struct mg_tsql_mem {
	void *(*alloc)(void *arg, size_t bytes);
	void (*free)(void *arg, void *p);
	void *arg;
};

/* A bump allocator: blocks that double in size, all freed at once. */
struct mg_tsql_arena {
	struct mg_tsql_blk *head;
	size_t next_bytes;             /* size of the next block */
	struct mg_tsql_mem mem;
};

void mg_tsql_arena_init(struct mg_tsql_arena *a, const struct mg_tsql_mem *mem);
void mg_tsql_arena_release(struct mg_tsql_arena *a);
/* n zeroed bytes aligned for any node, or NULL (out of memory). */
void *mg_tsql_arena_alloc(struct mg_tsql_arena *a, size_t n);

/*
 * mg_tsql_parse with the arena's blocks (and the result's header) taken from
 * mem (borrowed; copied into the result, which mg_tsql_free releases through
 * it). mem NULL: malloc/free.
 */
int mg_tsql_parse_mem(const char *text, size_t len, const struct mg_tsql_mem *mem,
		      struct mg_tsql **out, struct mg_tsql_error *err);

/* ----------------------------------------------------------------- tokens */

enum mg_tsql_tk {
	MG_TK_EOF,
	MG_TK_IDENT,       /* bare word (kw says whether it is a keyword) or "quoted" */
	MG_TK_STRING,      /* 'single quoted' */
	MG_TK_INT,         /* digits: u, or ovf when beyond uint64 */
	MG_TK_FLOAT,       /* 1.5, .5, 1e3: value from mg_tsql_tok_double */
	MG_TK_DURATION,    /* 10s, 1h30m: ns */
	MG_TK_REGEX,       /* /re/ (only from mg_tsql_lex_regex) */
	MG_TK_LPAREN,
	MG_TK_RPAREN,
	MG_TK_COMMA,
	MG_TK_SEMI,
	MG_TK_DOT,
	MG_TK_COLON,
	MG_TK_DCOLON,
	MG_TK_EQ,
	MG_TK_NEQ,
	MG_TK_LT,
	MG_TK_LTE,
	MG_TK_GT,
	MG_TK_GTE,
	MG_TK_EQREGEX,
	MG_TK_NEQREGEX,
	MG_TK_ADD,
	MG_TK_SUB,
	MG_TK_MUL,
	MG_TK_DIV,
	MG_TK_MOD,
	MG_TK_BITAND,
	MG_TK_BITOR,
	MG_TK_BITXOR,
	MG_TK_ILLEGAL,     /* a byte (or UTF-8 character) that starts no token */
	MG_TK_ERROR,       /* a malformed token: lerr says why */
};

/* Why a token is MG_TK_ERROR. */
enum mg_tsql_lerr {
	MG_LERR_NONE,
	MG_LERR_UNTERM_STRING,
	MG_LERR_UNTERM_IDENT,
	MG_LERR_UNTERM_REGEX,
	MG_LERR_UNTERM_COMMENT,
	MG_LERR_BAD_ESCAPE,        /* at err_pos: the backslash */
	MG_LERR_BAD_DURATION,
	MG_LERR_DURATION_RANGE,
	MG_LERR_BAD_NUMBER,        /* 1.5x (1e999 is out of range: mg_tsql_tok_double) */
	MG_LERR_NUL,               /* a NUL byte inside a quoted token, at err_pos */
};

/*
 * Keywords. Those before MG_KW__CONTEXTUAL are reserved: a bare word
 * spelling one is never an identifier (quote it: "from"). The others are
 * keywords only where the grammar expects them and identifiers elsewhere.
 */
enum mg_tsql_kw {
	MG_KW__NONE,               /* not a keyword */
	MG_KW_AND,
	MG_KW_AS,
	MG_KW_ASC,
	MG_KW_DESC,
	MG_KW_FALSE,
	MG_KW_FROM,
	MG_KW_GROUP,
	MG_KW_INTO,
	MG_KW_LIMIT,
	MG_KW_OFFSET,
	MG_KW_ON,
	MG_KW_OR,
	MG_KW_ORDER,
	MG_KW_SELECT,
	MG_KW_SLIMIT,
	MG_KW_SOFFSET,
	MG_KW_TRUE,
	MG_KW_WHERE,
	MG_KW_WITH,
	MG_KW__CONTEXTUAL,
	MG_KW_ANOMALIES,
	MG_KW_BOOLEAN,
	MG_KW_BY,
	MG_KW_CARDINALITY,
	MG_KW_CREATE,
	MG_KW_DATABASE,
	MG_KW_DATABASES,
	MG_KW_DETECT,
	MG_KW_DISTINCT,
	MG_KW_DROP,
	MG_KW_DURATION,
	MG_KW_EXACT,
	MG_KW_FIELD,
	MG_KW_FILL,
	MG_KW_FLOAT,
	MG_KW_FOR,
	MG_KW_FORECAST,
	MG_KW_IN,
	MG_KW_INTEGER,
	MG_KW_INTERVAL,
	MG_KW_KEY,
	MG_KW_KEYS,
	MG_KW_KILL,
	MG_KW_LINEAR,
	MG_KW_MEASUREMENT,
	MG_KW_MEASUREMENTS,
	MG_KW_NAME,
	MG_KW_NONE,
	MG_KW_NOW,
	MG_KW_NULL,
	MG_KW_POLICIES,
	MG_KW_PREVIOUS,
	MG_KW_QUERIES,
	MG_KW_QUERY,
	MG_KW_REPLICATION,
	MG_KW_RETENTION,
	MG_KW_SENSITIVITY,
	MG_KW_SERIES,
	MG_KW_SHARD,
	MG_KW_SHOW,
	MG_KW_STRING,
	MG_KW_TAG,
	MG_KW_TIME,
	MG_KW_TZ,
	MG_KW_USING,
	MG_KW_VALUES,
	MG_KW__COUNT,
};

/* The keyword spelled s[n] (any case), or MG_KW__NONE. */
enum mg_tsql_kw mg_tsql_kw_lookup(const char *s, size_t n);
/* Its upper-case spelling ("FROM"). */
const char *mg_tsql_kw_name(enum mg_tsql_kw kw);

struct mg_tsql_tok {
	enum mg_tsql_tk kind;
	uint32_t pos, end;         /* text[pos, end) */
	enum mg_tsql_kw kw;        /* IDENT: the keyword a bare word spells */
	bool quoted;               /* IDENT: "..." */
	bool esc;                  /* IDENT, STRING, REGEX: has escapes to undo */
	bool ovf;                  /* INT: beyond UINT64_MAX */
	uint64_t u;                /* INT */
	int64_t ns;                /* DURATION */
	enum mg_tsql_lerr lerr;    /* ERROR */
	uint32_t err_pos;          /* ERROR: where exactly (BAD_ESCAPE, NUL) */
};

/* A lexer over text[len] (borrowed for its lifetime). */
struct mg_tsql_lex {
	const char *text;
	uint32_t len;
	uint32_t pos;              /* next byte to scan */
};

/*
 * The next token, skipping blanks (space, tab, CR, LF) and comments
 * (`-- to end of line`, `/ * ... * /`). A '/' is always MG_TK_DIV here.
 */
void mg_tsql_lex_next(struct mg_tsql_lex *lx, struct mg_tsql_tok *t);

/*
 * Where a regex may appear: skip blanks (not comments, as InfluxQL does);
 * if the next byte is '/', scan a regex into *t (MG_TK_REGEX or MG_TK_ERROR)
 * and return true; otherwise consume nothing and return false.
 */
bool mg_tsql_lex_regex(struct mg_tsql_lex *lx, struct mg_tsql_tok *t);

/*
 * The value of an IDENT, STRING or REGEX token, unescaped, NUL-terminated,
 * in the arena; NULL when out of memory.
 */
char *mg_tsql_tok_str(struct mg_tsql_arena *a, const char *text, const struct mg_tsql_tok *t);

/*
 * The value of a FLOAT token, or of an INT token as a double (for integers
 * beyond int64). Returns 0, -ERANGE (infinite) or -ENOMEM (a very long
 * literal is copied into the arena to be NUL-terminated). Needs LC_NUMERIC
 * "C", the default.
 */
int mg_tsql_tok_double(struct mg_tsql_arena *a, const char *text, const struct mg_tsql_tok *t,
		       double *out);

/*
 * True if the lexer reads name back as one bare identifier: [A-Za-z_][A-Za-z0-9_]*,
 * not a reserved word, not DISTINCT (`DISTINCT x` reads as a call).
 */
bool mg_tsql_ident_is_bare(const char *name);

/* -------------------------------------------------------------- operators */

/* Precedence of a binary operator, 1 (OR) to 5 (* / % &), as docs/TSQL.md lists them. */
int mg_tsql_op_prec(enum mg_op op);
/* Its spelling: "OR", "=", "!=" ("<>" reads as !=), "+"... */
const char *mg_tsql_op_name(enum mg_op op);

#endif /* MG_TSQL_INT_H */
