/*
 * mg_tsql.h - TSQL, StreamFlow's query language: the syntax tree and the
 * parser that builds it.
 *
 * TSQL is a superset of the read side of InfluxQL 1.x (so dashboards,
 * Telegraf and TSBS work unchanged): SELECT with expressions, aggregates,
 * selectors and transformations, FROM measurements, /regexes/ and
 * subqueries, WHERE, GROUP BY time(), tags or *, fill(), ORDER BY time, LIMIT,
 * OFFSET, SLIMIT, SOFFSET, tz(), SELECT ... INTO; SHOW DATABASES,
 * MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD KEYS, SERIES [CARDINALITY],
 * RETENTION POLICIES, QUERIES; CREATE/DROP DATABASE; KILL QUERY. The
 * grammar is in docs/TSQL.md. The analytics statements FORECAST and DETECT
 * ANOMALIES (mg_exec_an.c runs them) carry a one-field SELECT of what they
 * analyse; function names are not keywords, so the analytics functions
 * (anomaly_score(), forecast(), ...) need no grammar.
 *
 * Usage profile: one parse per query on a management thread (HTTP, the
 * management socket); statements of a few hundred bytes (TSBS's largest,
 * 32 OR'd hosts, is 1 KB), any length up to 2 GiB accepted. Parsing is a
 * recursive descent over a hand-written lexer, O(length), with a depth
 * limit (no stack overflow on hostile input). Any thread; no global state.
 *
 * Memory: a parse result (struct mg_tsql) owns every node and string of its
 * statements; nodes are read-only for the executor. Strings are
 * NUL-terminated and unescaped (identifiers without their quotes, string
 * literals without theirs, regexes without the slashes and with `\/`
 * turned into `/`).
 */
#ifndef MG_TSQL_H
#define MG_TSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ expressions */

enum mg_expr_kind {
	MG_EX_INT,        /* integer literal: i */
	MG_EX_FLOAT,      /* number with '.', exponent, or too big for int64: f */
	MG_EX_STRING,     /* 'single quoted': s */
	MG_EX_REGEX,      /* /pattern/: s */
	MG_EX_BOOL,       /* true / false: b */
	MG_EX_DURATION,   /* 10s, 1h30m, 5ms, 1d, 2w, 100u/100µ, 7ns: i (nanoseconds) */
	MG_EX_NOW,        /* now() */
	MG_EX_REF,        /* identifier (or "quoted"): s, with an optional ::type cast */
	MG_EX_WILDCARD,   /* * in a SELECT list or as a call argument; with ::field/::tag */
	MG_EX_CALL,       /* name(args): s = lowercased name, args[0..nargs) */
	MG_EX_BINARY,     /* lhs op rhs */
	MG_EX_NEG,        /* unary minus: lhs */
};

/* Binary operators, lowest precedence first: OR; AND; comparisons; + -; * / %. */
enum mg_op {
	MG_OP_OR,
	MG_OP_AND,
	MG_OP_EQ,         /* = */
	MG_OP_NEQ,        /* != or <> */
	MG_OP_LT,
	MG_OP_LTE,
	MG_OP_GT,
	MG_OP_GTE,
	MG_OP_EQREGEX,    /* =~ */
	MG_OP_NEQREGEX,   /* !~ */
	MG_OP_ADD,
	MG_OP_SUB,
	MG_OP_MUL,
	MG_OP_DIV,
	MG_OP_MOD,
	MG_OP_BITAND,
	MG_OP_BITOR,
	MG_OP_BITXOR,
};

/* A ::type cast on a reference or wildcard. */
enum mg_cast {
	MG_CAST_NONE,
	MG_CAST_FIELD,
	MG_CAST_TAG,
	MG_CAST_FLOAT,
	MG_CAST_INTEGER,
	MG_CAST_STRING,
	MG_CAST_BOOLEAN,
};

struct mg_expr {
	enum mg_expr_kind kind;
	enum mg_op op;             /* BINARY */
	enum mg_cast cast;         /* REF, WILDCARD */
	uint32_t pos;              /* byte offset in the query text where it starts */
	int64_t i;                 /* INT, DURATION */
	double f;                  /* FLOAT */
	bool b;                    /* BOOL */
	const char *s;             /* STRING, REGEX, REF, CALL */
	struct mg_expr *lhs, *rhs; /* BINARY; NEG: lhs */
	struct mg_expr **args;     /* CALL */
	uint32_t nargs;
};

/* ---------------------------------------------------------------- SELECT */

struct mg_select;

struct mg_field {
	struct mg_expr *expr;
	const char *alias;         /* AS name, or NULL */
};

enum mg_source_kind {
	MG_SRC_MEASUREMENT,        /* [db.[rp].]name */
	MG_SRC_REGEX,              /* [db.[rp].]/re/ */
	MG_SRC_SUBQUERY,           /* (SELECT ...) */
};

struct mg_source {
	enum mg_source_kind kind;
	const char *db;            /* NULL: the request's database */
	const char *rp;            /* NULL: the default retention policy */
	const char *name;          /* MEASUREMENT: name; REGEX: pattern */
	struct mg_select *sub;     /* SUBQUERY */
	uint32_t pos;
};

enum mg_fill {
	MG_FILL_NULL,              /* the default */
	MG_FILL_NONE,
	MG_FILL_PREVIOUS,
	MG_FILL_LINEAR,
	MG_FILL_VALUE,             /* fill_value */
};

struct mg_select {
	struct mg_field *fields;
	uint32_t nfields;
	struct mg_source *sources;
	uint32_t nsources;
	struct mg_source *into;    /* INTO target (MEASUREMENT kind), or NULL; its name
				      is NULL for INTO [db.]rp.:MEASUREMENT */
	struct mg_expr *where;     /* NULL: none */

	/* GROUP BY */
	bool group_time;           /* GROUP BY time(interval[, offset]) */
	int64_t group_interval_ns;
	int64_t group_offset_ns;   /* may be negative; also now()-relative: see
				      group_offset_now */
	bool group_offset_now;     /* offset was now(): align to the query's now */
	bool group_all_tags;       /* GROUP BY * */
	const char **group_tags;   /* tag names, in the order written */
	uint32_t ngroup_tags;
	const char *group_regex;   /* GROUP BY /re/: tags whose key matches, or NULL */

	enum mg_fill fill;
	double fill_value;
	bool fill_value_int;       /* fill(3) rather than fill(3.0): keep integers */
	int64_t fill_int;          /* what an integer column takes: the literal exactly,
				    * or fill_value truncated and clamped */
	bool order_desc;           /* ORDER BY time DESC */
	int64_t limit, offset;     /* 0: none */
	int64_t slimit, soffset;
	const char *tz;            /* tz('Europe/Paris'), or NULL */
};

/* ------------------------------------------------------------ statements */

enum mg_stmt_kind {
	MG_STMT_SELECT,
	MG_STMT_SHOW_DATABASES,
	MG_STMT_SHOW_MEASUREMENTS,     /* [ON] [WITH MEASUREMENT op ...] [WHERE] [LIMIT OFFSET] */
	MG_STMT_SHOW_TAG_KEYS,         /* [ON] [FROM] [WITH KEY op ...] [WHERE] [LIMIT OFFSET] */
	MG_STMT_SHOW_TAG_VALUES,       /* [ON] [FROM] WITH KEY op ... [WHERE] [LIMIT OFFSET] */
	MG_STMT_SHOW_FIELD_KEYS,       /* [ON] [FROM] [LIMIT OFFSET] */
	MG_STMT_SHOW_SERIES,           /* [ON] [FROM] [WHERE] [LIMIT OFFSET] */
	MG_STMT_SHOW_SERIES_CARDINALITY, /* [ON] [FROM] [WHERE] */
	MG_STMT_SHOW_MEASUREMENT_CARDINALITY, /* [ON] */
	MG_STMT_SHOW_RETENTION_POLICIES, /* [ON] */
	MG_STMT_SHOW_QUERIES,
	MG_STMT_CREATE_DATABASE,       /* name; WITH ... clauses are accepted and ignored */
	MG_STMT_DROP_DATABASE,         /* name */
	MG_STMT_KILL_QUERY,            /* query_id */
	MG_STMT_FORECAST,              /* select, method, horizon_ns, interval_pct */
	MG_STMT_DETECT,                /* select, method, sensitivity */
};

/* WITH KEY of SHOW TAG VALUES, WITH MEASUREMENT of SHOW MEASUREMENTS. */
enum mg_with_op {
	MG_WITH_NONE,
	MG_WITH_EQ,        /* = 'a' */
	MG_WITH_NEQ,       /* != 'a' */
	MG_WITH_IN,        /* IN ('a', "b") */
	MG_WITH_REGEX,     /* =~ /re/ */
	MG_WITH_NREGEX,    /* !~ /re/ */
};

struct mg_stmt {
	enum mg_stmt_kind kind;
	uint32_t pos;                  /* offset of the statement's first token */
	uint32_t len;                  /* its length in the text (for SHOW QUERIES) */
	struct mg_select *select;      /* SELECT */

	/* SHOW / CREATE / DROP / KILL */
	const char *on_db;             /* ON db, CREATE/DROP DATABASE name; or NULL */
	struct mg_source *from;        /* FROM list, or NULL */
	uint32_t nfrom;
	enum mg_with_op with_op;       /* WITH KEY / WITH MEASUREMENT */
	const char **with_values;      /* EQ/NEQ: 1; IN: n; REGEX: the pattern */
	uint32_t nwith_values;
	struct mg_expr *where;
	int64_t limit, offset;         /* 0: none */
	uint64_t query_id;             /* KILL QUERY */

	/*
	 * FORECAST <field> FROM ... [WHERE] [GROUP BY] [fill()] USING <method>
	 *   FOR <duration> [WITH INTERVAL <pct>]
	 * DETECT ANOMALIES IN <field> FROM ... [WHERE] [GROUP BY] [fill()]
	 *   [USING <method>] [SENSITIVITY <s>]
	 * select holds the field (its only one), sources, WHERE, GROUP BY, fill.
	 * method: a REF (`auto`, `mad`) or a CALL whose arguments are each
	 * `key = literal` (a BINARY EQ of a REF and an INT, FLOAT, DURATION,
	 * STRING or BOOL; -1.5 is a FLOAT); NULL for DETECT without USING.
	 */
	const struct mg_expr *method;
	int64_t horizon_ns;            /* FOR: > 0 */
	double interval_pct;           /* WITH INTERVAL pct, in (0, 100); 0: none */
	double sensitivity;            /* SENSITIVITY, in (0, 1]; 0: none */
};

/* A parsed request: one or more statements separated by ';'. */
struct mg_tsql {
	struct mg_stmt *stmts;
	uint32_t nstmts;
	/* the arena that owns every node follows (private) */
};

/*
 * Where and why a parse failed: pos is the byte offset of the offending
 * token (line and col, both from 1, say the same), msg reads like
 * `found FROM, expected identifier at line 1, char 8` (InfluxDB's shape)
 * or `bad duration "10x" at line 1, char 31`.
 */
struct mg_tsql_error {
	uint32_t pos;
	uint32_t line, col;
	char msg[256];
};

/*
 * Parse text[len] (borrowed; need not be NUL-terminated). On success *out
 * is owned by the caller (mg_tsql_free) and holds >= 1 statement; an empty
 * text or one of only ';' and blanks is an error. Returns 0, -EINVAL with
 * err filled, or -ENOMEM.
 */
int mg_tsql_parse(const char *text, size_t len, struct mg_tsql **out, struct mg_tsql_error *err);
/* Accepts NULL. */
void mg_tsql_free(struct mg_tsql *q);

/*
 * Parse text[len] as a method alone, the shape of a USING clause (`mad`,
 * `holt_winters(period = 24, damped = true)`): the analytics functions take
 * their method as a string and read it with this. On success *out (freed
 * with mg_tsql_free) has no statements and *method points into it.
 * 0, -EINVAL with err, -ENOMEM.
 */
int mg_tsql_parse_method(const char *text, size_t len, struct mg_tsql **out,
			 const struct mg_expr **method, struct mg_tsql_error *err);

/*
 * Parse a time string as InfluxQL compares it with `time`: RFC3339 with
 * optional fraction and offset ("2016-01-01T08:24:59Z",
 * "2016-01-01T08:24:59.5+01:00"), or "2016-01-01 08:24:59[.frac]" and
 * "2016-01-01" (read as UTC; *zoned, when not NULL, says whether the string
 * named its offset, so that tz() can read the others as local times).
 * Returns 0 with *ns, or -EINVAL.
 */
int mg_tsql_parse_time(const char *s, int64_t *ns, bool *zoned);

/*
 * Print e back as TSQL (canonical spacing, identifiers quoted when needed)
 * into out[cap]. Returns the length needed (snprintf-style). Tests and the
 * fuzz target use it to check what was parsed (result column names are the
 * executor's own, InfluxDB-style: `max`, `usage_user`, `mean_1`...).
 */
int mg_tsql_expr_format(const struct mg_expr *e, char *out, size_t cap);
/* Print a whole statement back (round-trip: parsing the output gives the same tree). */
int mg_tsql_stmt_format(const struct mg_stmt *s, char *out, size_t cap);

#endif /* MG_TSQL_H */
