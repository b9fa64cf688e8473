/*
 * test_mg_tsql.c - unit tests of the TSQL parser (mgmt/mg_tsql*.c): a table
 * of valid statements with their canonical form (which also checks the
 * round trip), trees checked node by node (kinds, values, durations in ns,
 * precedence, sources, GROUP BY, fill, limits, casts, SHOW statements), a
 * table of invalid statements with the exact message and column, number
 * literals too long for the stack copy, the depth limits, every TSBS query
 * in /work/shared/data/tsbs/queries (skipped when the directory is missing;
 * TSQL_TSBS_DIR overrides it), time strings, snprintf-style formatting, and
 * an allocation failure at every step.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "mg_tsql.h"
#include "mg_tsql_int.h"

#define TSBS_DIR "/work/shared/data/tsbs/queries"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

static struct mg_tsql *parse_ok(const char *text)
{
	struct mg_tsql *q = NULL;
	struct mg_tsql_error err;
	int rc = mg_tsql_parse(text, strlen(text), &q, &err);
	if (rc)
		fail_msg("parse failed (%d) on \"%s\": %s", rc, text, err.msg);
	assert_non_null(q);
	assert_true(q->nstmts >= 1);
	return q;
}

/* Every statement of q, formatted and joined with "; ", into buf. */
static void format_all(const struct mg_tsql *q, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < q->nstmts; i++) {
		if (i)
			n += (size_t)snprintf(buf + n, cap - n, "; ");
		int len = mg_tsql_stmt_format(&q->stmts[i], buf + n, cap - n);
		assert_true(len >= 0 && (size_t)len < cap - n);
		n += (size_t)len;
	}
}

/*
 * Parse and format in (into a static buffer, returned); parsing that output
 * must give a tree that formats identically.
 */
static const char *check_round_trip(const char *in)
{
	static char a[1 << 16], b[1 << 16];
	struct mg_tsql *q = parse_ok(in);
	format_all(q, a, sizeof(a));
	mg_tsql_free(q);
	q = parse_ok(a);
	format_all(q, b, sizeof(b));
	mg_tsql_free(q);
	if (strcmp(a, b) != 0)
		fail_msg("round trip of \"%s\" gives \"%s\"", a, b);
	return a;
}

/* in formats as canon, which reads back to itself. */
static void check_canon(const char *in, const char *canon)
{
	const char *a = check_round_trip(in);
	if (strcmp(a, canon) != 0)
		fail_msg("\"%s\"\n  formats as \"%s\"\n  expected   \"%s\"", in, a, canon);
}

static const char *expr_str(const struct mg_expr *e)
{
	static char buf[4096];
	int n = mg_tsql_expr_format(e, buf, sizeof(buf));
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	return buf;
}

static const struct mg_select *select_of(const struct mg_tsql *q)
{
	assert_int_equal(q->stmts[0].kind, MG_STMT_SELECT);
	assert_non_null(q->stmts[0].select);
	return q->stmts[0].select;
}

/* The WHERE clause of the single SELECT in text (q stays owned by the caller). */
static const struct mg_expr *where_of(const char *text, struct mg_tsql **q)
{
	*q = parse_ok(text);
	const struct mg_expr *w = select_of(*q)->where;
	assert_non_null(w);
	return w;
}

/* ------------------------------------------------------------------------ */
/* Valid statements and their canonical form                                  */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *in, *canon;
} valid[] = {
	{"SELECT value FROM cpu", "SELECT value FROM cpu"},
	{"select * from \"my measurement\"", "SELECT * FROM \"my measurement\""},
	{"SELECT \"usage user\"::float, host::tag FROM cpu",
	 "SELECT \"usage user\"::float, host::tag FROM cpu"},
	{"SELECT a::integer, b::string, c::BOOLEAN, d::field, *::tag FROM m",
	 "SELECT a::integer, b::string, c::boolean, d::field, *::tag FROM m"},
	{"SELECT mean(usage_user) AS m FROM telegraf.autogen.cpu",
	 "SELECT mean(usage_user) AS m FROM telegraf.autogen.cpu"},
	{"SELECT a FROM \"db\"..cpu, autogen.cpu, \"\".mem",
	 "SELECT a FROM db..cpu, autogen.cpu, mem"},
	{"SELECT a FROM /^cpu/, mem, db.rp./^c/, db../c/, rp./x/",
	 "SELECT a FROM /^cpu/, mem, db.rp./^c/, db../c/, rp./x/"},
	{"SELECT count(*) FROM cpu WHERE time > now() - 1h",
	 "SELECT count(*) FROM cpu WHERE time > now() - 1h"},
	{"SELECT a + b * c, (a + b) * c, a - (b - c), a - b - c FROM m",
	 "SELECT a + b * c, (a + b) * c, a - (b - c), a - b - c FROM m"},
	{"SELECT a|b&c^d, a % 2, (a) FROM m", "SELECT a | b & c ^ d, a % 2, a FROM m"},
	{"SELECT -a, -(a * 2), - 5, -1.5, -10s, +3, -(-x), -(-5) FROM m",
	 "SELECT -a, -(a * 2), -5, -1.5, -10s, 3, -(-x), 5 FROM m"},
	{"SELECT a FROM m WHERE a = 1 OR b = 2 AND c = 3",
	 "SELECT a FROM m WHERE a = 1 OR b = 2 AND c = 3"},
	{"SELECT a FROM m WHERE (a = 1 OR b = 2) AND c = 3",
	 "SELECT a FROM m WHERE (a = 1 OR b = 2) AND c = 3"},
	{"SELECT a FROM m WHERE host =~ /^web\\d+$/ AND dc !~ /east/",
	 "SELECT a FROM m WHERE host =~ /^web\\d+$/ AND dc !~ /east/"},
	{"SELECT a FROM m WHERE a<>1 and b!=2 and c<=3 and d>=4 and e<5 and f>6",
	 "SELECT a FROM m WHERE a != 1 AND b != 2 AND c <= 3 AND d >= 4 AND e < 5 AND f > 6"},
	{"SELECT a FROM m WHERE t = TRUE or f = false",
	 "SELECT a FROM m WHERE t = true OR f = false"},
	{"SELECT a FROM m WHERE s = 'it\\'s' AND u = 'back\\\\slash' "
	 "AND n = 'a\\nb' AND q = 'x\\\"'",
	 "SELECT a FROM m WHERE s = 'it\\'s' AND u = 'back\\\\slash' "
	 "AND n = 'a\\nb' AND q = 'x\"'"},
	{"SELECT a FROM m WHERE time > now() - 1h30m "
	 "AND x = 7ns + 100u + 100\xc2\xb5 + 5ms + 2w + 1d",
	 "SELECT a FROM m WHERE time > now() - 90m AND x = 7ns + 100u + 100u + 5ms + 2w + 1d"},
	{"SELECT max(a) FROM m GROUP BY time(10m)", "SELECT max(a) FROM m GROUP BY time(10m)"},
	{"SELECT max(a) FROM m GROUP BY time(1h,15m)",
	 "SELECT max(a) FROM m GROUP BY time(1h, 15m)"},
	{"SELECT max(a) FROM m GROUP BY time(1h, -5m)",
	 "SELECT max(a) FROM m GROUP BY time(1h, -5m)"},
	{"SELECT max(a) FROM m GROUP BY time(1h, now())",
	 "SELECT max(a) FROM m GROUP BY time(1h, now())"},
	{"SELECT max(a) FROM m GROUP BY host, \"region\"",
	 "SELECT max(a) FROM m GROUP BY host, region"},
	{"SELECT max(a) FROM m GROUP BY *", "SELECT max(a) FROM m GROUP BY *"},
	{"SELECT max(a) FROM m GROUP BY /^h/", "SELECT max(a) FROM m GROUP BY /^h/"},
	{"SELECT max(a) FROM m GROUP BY host::tag, time(1m), /x/, *",
	 "SELECT max(a) FROM m GROUP BY time(1m), host, *, /x/"},
	{"SELECT max(a) FROM m GROUP BY time(1m) fill(none)",
	 "SELECT max(a) FROM m GROUP BY time(1m) fill(none)"},
	{"SELECT max(a) FROM m GROUP BY time(1m) fill(previous)",
	 "SELECT max(a) FROM m GROUP BY time(1m) fill(previous)"},
	{"SELECT max(a) FROM m GROUP BY time(1m) fill(linear)",
	 "SELECT max(a) FROM m GROUP BY time(1m) fill(linear)"},
	{"SELECT max(a) FROM m GROUP BY time(1m) fill(null)",
	 "SELECT max(a) FROM m GROUP BY time(1m)"},
	{"SELECT max(a) FROM m GROUP BY time(1m) fill(-1.5)",
	 "SELECT max(a) FROM m GROUP BY time(1m) fill(-1.5)"},
	{"SELECT max(a) FROM m fill(0)", "SELECT max(a) FROM m fill(0)"},
	{"SELECT a FROM m ORDER BY time DESC LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1",
	 "SELECT a FROM m ORDER BY time DESC LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1"},
	{"SELECT a FROM m ORDER BY time ASC", "SELECT a FROM m"},
	{"SELECT a FROM m ORDER BY desc", "SELECT a FROM m ORDER BY time DESC"},
	{"SELECT a FROM m tz('America/Chicago')", "SELECT a FROM m tz('America/Chicago')"},
	{"SELECT mean(v) INTO \"archive\".\"autogen\".\"cpu_1h\" FROM cpu GROUP BY time(1h)",
	 "SELECT mean(v) INTO archive.autogen.cpu_1h FROM cpu GROUP BY time(1h)"},
	{"SELECT mean(v) INTO rp.:MEASUREMENT FROM /.*/",
	 "SELECT mean(v) INTO rp.:MEASUREMENT FROM /.*/"},
	{"SELECT mean(v) INTO \"db\".\"rp\".:measurement FROM /.*/",
	 "SELECT mean(v) INTO db.rp.:MEASUREMENT FROM /.*/"},
	{"SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY time(1m), host) "
	 "GROUP BY time(1h)",
	 "SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY time(1m), host) "
	 "GROUP BY time(1h)"},
	{"SELECT PERCENTILE(usage, 95), Top(usage, host, 3), count(DISTINCT(host)) FROM cpu",
	 "SELECT percentile(usage, 95), top(usage, host, 3), count(distinct(host)) FROM cpu"},
	{"SELECT DISTINCT host FROM cpu", "SELECT distinct(host) FROM cpu"},
	{"SELECT \"from\", \"distinct\", \"time\" FROM \"select\" "
	 "GROUP BY \"time\", \"TIME\", fill",
	 "SELECT \"from\", \"distinct\", time FROM \"select\" GROUP BY \"time\", \"TIME\", fill"},
	{"SELECT a FROM m;SELECT b FROM n;", "SELECT a FROM m; SELECT b FROM n"},
	{"SELECT a /* comment */ FROM m -- trailing comment", "SELECT a FROM m"},
	{"sElEcT a FrOm m wHeRe b = 1 GrOuP bY TIME(1m) FiLl(NONE) order BY TIME desc",
	 "SELECT a FROM m WHERE b = 1 GROUP BY time(1m) fill(none) ORDER BY time DESC"},
	{"SELECT /usage_.*/, max(/u/) FROM cpu", "SELECT /usage_.*/, max(/u/) FROM cpu"},
	{"SELECT a FROM m WHERE time >= '2016-01-01' AND time < '2016-01-02 00:00:00'",
	 "SELECT a FROM m WHERE time >= '2016-01-01' AND time < '2016-01-02 00:00:00'"},
	{"SELECT 1.5e3, 2E-3, .5, 0.1, 1e300, 3.0, 1., 99999999999999999999 FROM m",
	 "SELECT 1500.0, 0.002, 0.5, 0.1, 1e+300, 3.0, 1.0, 1e+20 FROM m"},
	{"SELECT a\nFROM m\r\nWHERE b = 1\n", "SELECT a FROM m WHERE b = 1"},
	{"SELECT -9223372036854775808, 9223372036854775807, 1 - -1 FROM m",
	 "SELECT -9223372036854775808, 9223372036854775807, 1 - -1 FROM m"},
	{"SELECT cpu.usage, \"quote\\\"d\", \"new\\nline\" FROM cpu",
	 "SELECT \"cpu.usage\", \"quote\\\"d\", \"new\\nline\" FROM cpu"},
	{"SELECT a FROM m WHERE x =~ /a\\/b\\\\/ AND y =~ /\\\\\\//",
	 "SELECT a FROM m WHERE x =~ /a\\/b\\\\/ AND y =~ /\\\\\\//"},
	{"SELECT a FROM m WHERE a % 2 = 0 AND -b < -(c + 1)",
	 "SELECT a FROM m WHERE a % 2 = 0 AND -b < -(c + 1)"},
	{"SHOW DATABASES", "SHOW DATABASES"},
	{"SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /cpu.*/ WHERE host = 'a' LIMIT 5 OFFSET 1",
	 "SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /cpu.*/ WHERE host = 'a' LIMIT 5 OFFSET 1"},
	{"SHOW MEASUREMENTS WITH MEASUREMENT = \"cpu\"",
	 "SHOW MEASUREMENTS WITH MEASUREMENT = cpu"},
	{"SHOW TAG KEYS ON db FROM cpu WHERE host = 'a' LIMIT 2",
	 "SHOW TAG KEYS ON db FROM cpu WHERE host = 'a' LIMIT 2"},
	{"SHOW TAG VALUES FROM cpu WITH KEY = \"host\"",
	 "SHOW TAG VALUES FROM cpu WITH KEY = host"},
	{"SHOW TAG VALUES WITH KEY =~ /ho/", "SHOW TAG VALUES WITH KEY =~ /ho/"},
	{"SHOW TAG VALUES WITH KEY != 'host'", "SHOW TAG VALUES WITH KEY != host"},
	{"SHOW TAG VALUES ON db FROM cpu, mem WITH KEY IN (host, 'region', \"from\") WHERE a = 'b' "
	 "LIMIT 3 OFFSET 2",
	 "SHOW TAG VALUES ON db FROM cpu, mem WITH KEY IN (host, region, \"from\") WHERE a = 'b' "
	 "LIMIT 3 OFFSET 2"},
	{"SHOW FIELD KEYS ON db FROM cpu", "SHOW FIELD KEYS ON db FROM cpu"},
	{"SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 20",
	 "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 20"},
	{"SHOW SERIES CARDINALITY ON db FROM cpu WHERE host = 'a'",
	 "SHOW SERIES CARDINALITY ON db FROM cpu WHERE host = 'a'"},
	{"SHOW SERIES EXACT CARDINALITY", "SHOW SERIES CARDINALITY"},
	{"SHOW MEASUREMENT CARDINALITY ON db", "SHOW MEASUREMENT CARDINALITY ON db"},
	{"show retention policies on telegraf", "SHOW RETENTION POLICIES ON telegraf"},
	{"SHOW QUERIES", "SHOW QUERIES"},
	{"CREATE DATABASE mydb WITH DURATION 7d REPLICATION 1 SHARD DURATION 1d NAME rp7",
	 "CREATE DATABASE mydb"},
	{"CREATE DATABASE mydb WITH DURATION INF", "CREATE DATABASE mydb"},
	{"DROP DATABASE \"my-db\"", "DROP DATABASE \"my-db\""},
	{"KILL QUERY 36", "KILL QUERY 36"},
	/* the analytics statements */
	{"forecast v from m where host = 'a' using holt_winters(period = 24, damped = true) "
	 "for 6h with interval 90",
	 "FORECAST v FROM m WHERE host = 'a' USING holt_winters(period = 24, damped = true) "
	 "FOR 6h WITH INTERVAL 90.0"},
	{"FORECAST mean(v) FROM db..m GROUP BY time(5m), host fill(linear) USING auto FOR 1d",
	 "FORECAST mean(v) FROM db..m GROUP BY time(5m), host fill(linear) USING auto FOR 1d"},
	{"DETECT ANOMALIES IN v FROM m", "DETECT ANOMALIES IN v FROM m"},
	{"detect anomalies in v from m where time > now() - 1h using mad(window = 2h, "
	 "threshold = -1.5, name = 'x') sensitivity 0.8",
	 "DETECT ANOMALIES IN v FROM m WHERE time > now() - 1h USING mad(window = 2h, "
	 "threshold = -1.5, name = 'x') SENSITIVITY 0.8"},
	/* their keywords are contextual: still names elsewhere */
	{"SELECT forecast, detect, using, \"for\" FROM anomalies",
	 "SELECT forecast, detect, using, for FROM anomalies"},
	{"SELECT anomaly_score(v, 'mad(window = 3)') FROM m GROUP BY host",
	 "SELECT anomaly_score(v, 'mad(window = 3)') FROM m GROUP BY host"},
};

static void test_mg_tsql__valid_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(valid); i++)
		check_canon(valid[i].in, valid[i].canon);
	print_message("%zu valid statements\n", CM_ARRAY_SIZE(valid));
}

/* ------------------------------------------------------------------------ */
/* Trees                                                                      */
/* ------------------------------------------------------------------------ */

static void test_mg_tsql__select_tree(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok(
		"SELECT max(usage_user) AS m, usage_system::float FROM telegraf.autogen.cpu "
		"WHERE host = 'a' GROUP BY time(10m, -5m), host fill(0) ORDER BY time DESC "
		"LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1 tz('UTC')");
	const struct mg_select *s = select_of(q);
	assert_int_equal(s->nfields, 2);
	const struct mg_expr *f0 = s->fields[0].expr;
	assert_int_equal(f0->kind, MG_EX_CALL);
	assert_string_equal(f0->s, "max");
	assert_int_equal(f0->nargs, 1);
	assert_int_equal(f0->args[0]->kind, MG_EX_REF);
	assert_string_equal(f0->args[0]->s, "usage_user");
	assert_int_equal(f0->args[0]->pos, 11);
	assert_string_equal(s->fields[0].alias, "m");
	assert_int_equal(s->fields[1].expr->kind, MG_EX_REF);
	assert_int_equal(s->fields[1].expr->cast, MG_CAST_FLOAT);
	assert_null(s->fields[1].alias);
	assert_int_equal(s->nsources, 1);
	assert_int_equal(s->sources[0].kind, MG_SRC_MEASUREMENT);
	assert_string_equal(s->sources[0].db, "telegraf");
	assert_string_equal(s->sources[0].rp, "autogen");
	assert_string_equal(s->sources[0].name, "cpu");
	assert_null(s->into);
	assert_int_equal(s->where->kind, MG_EX_BINARY);
	assert_int_equal(s->where->op, MG_OP_EQ);
	assert_int_equal(s->where->rhs->kind, MG_EX_STRING);
	assert_string_equal(s->where->rhs->s, "a");
	assert_true(s->group_time);
	assert_int_equal(s->group_interval_ns, 600 * INT64_C(1000000000));
	assert_int_equal(s->group_offset_ns, -300 * INT64_C(1000000000));
	assert_false(s->group_offset_now);
	assert_int_equal(s->ngroup_tags, 1);
	assert_string_equal(s->group_tags[0], "host");
	assert_false(s->group_all_tags);
	assert_null(s->group_regex);
	assert_int_equal(s->fill, MG_FILL_VALUE);
	assert_true(s->fill_value == 0.0 && s->fill_value_int);
	assert_true(s->order_desc);
	assert_int_equal(s->limit, 10);
	assert_int_equal(s->offset, 5);
	assert_int_equal(s->slimit, 2);
	assert_int_equal(s->soffset, 1);
	assert_string_equal(s->tz, "UTC");
	mg_tsql_free(q);
}

/* a OR b AND c = d + e * f  is  a OR (b AND (c = (d + (e * f)))) */
static void test_mg_tsql__precedence(void **state)
{
	(void)state;
	struct mg_tsql *q;
	const struct mg_expr *e = where_of("SELECT x FROM m WHERE a OR b AND c = d + e * f", &q);
	assert_string_equal(expr_str(e), "a OR b AND c = d + e * f");
	assert_string_equal(expr_str(e->rhs->rhs), "c = d + e * f");
	assert_int_equal(e->op, MG_OP_OR);
	assert_string_equal(e->lhs->s, "a");
	e = e->rhs;
	assert_int_equal(e->op, MG_OP_AND);
	e = e->rhs;
	assert_int_equal(e->op, MG_OP_EQ);
	e = e->rhs;
	assert_int_equal(e->op, MG_OP_ADD);
	assert_int_equal(e->rhs->op, MG_OP_MUL);
	assert_string_equal(e->rhs->rhs->s, "f");
	mg_tsql_free(q);

	/* left associative: a - b - c is (a - b) - c; a | b & c: & binds tighter */
	e = where_of("SELECT x FROM m WHERE a - b - c > 0 OR a | b & c = 1", &q);
	const struct mg_expr *l = e->lhs->lhs;
	assert_int_equal(l->op, MG_OP_SUB);
	assert_int_equal(l->lhs->op, MG_OP_SUB);
	assert_string_equal(l->rhs->s, "c");
	const struct mg_expr *r = e->rhs->lhs;
	assert_int_equal(r->op, MG_OP_BITOR);
	assert_int_equal(r->rhs->op, MG_OP_BITAND);
	mg_tsql_free(q);

	/* parentheses override; comparisons and regex ops share one level */
	e = where_of("SELECT x FROM m WHERE (a OR b) AND host =~ /x/ AND z !~ /y/", &q);
	assert_int_equal(e->op, MG_OP_AND);
	assert_int_equal(e->lhs->op, MG_OP_AND);
	assert_int_equal(e->lhs->lhs->op, MG_OP_OR);
	assert_int_equal(e->lhs->rhs->op, MG_OP_EQREGEX);
	assert_int_equal(e->lhs->rhs->rhs->kind, MG_EX_REGEX);
	assert_int_equal(e->rhs->op, MG_OP_NEQREGEX);
	mg_tsql_free(q);

	/* % and / bind like *, ^ like + */
	e = where_of("SELECT x FROM m WHERE a + b % c ^ d / e = 0", &q);
	assert_int_equal(e->lhs->op, MG_OP_BITXOR);
	assert_int_equal(e->lhs->lhs->op, MG_OP_ADD);
	assert_int_equal(e->lhs->lhs->rhs->op, MG_OP_MOD);
	assert_int_equal(e->lhs->rhs->op, MG_OP_DIV);
	mg_tsql_free(q);
}

static void test_mg_tsql__literals(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok(
		"SELECT 42, -7, 1.5, .5, 1e3, -2.5e-1, 99999999999999999999, -9223372036854775808, "
		"'it\\'s', true, FALSE, now(), 1h30m, 100u, 100\xc2\xb5, 7ns, 2w, 1d, 5ms, -5m, "
		"1s1ms FROM m");
	const struct mg_select *s = select_of(q);
	static const struct {
		enum mg_expr_kind kind;
		int64_t i;
		double f;
	} want[] = {
		{MG_EX_INT, 42, 0},
		{MG_EX_INT, -7, 0},
		{MG_EX_FLOAT, 0, 1.5},
		{MG_EX_FLOAT, 0, 0.5},
		{MG_EX_FLOAT, 0, 1000.0},
		{MG_EX_FLOAT, 0, -0.25},
		{MG_EX_FLOAT, 0, 1e20},
		{MG_EX_INT, INT64_MIN, 0},
		{MG_EX_STRING, 0, 0},
		{MG_EX_BOOL, 1, 0},
		{MG_EX_BOOL, 0, 0},
		{MG_EX_NOW, 0, 0},
		{MG_EX_DURATION, INT64_C(5400000000000), 0},
		{MG_EX_DURATION, 100000, 0},
		{MG_EX_DURATION, 100000, 0},
		{MG_EX_DURATION, 7, 0},
		{MG_EX_DURATION, INT64_C(1209600000000000), 0},
		{MG_EX_DURATION, INT64_C(86400000000000), 0},
		{MG_EX_DURATION, 5000000, 0},
		{MG_EX_DURATION, INT64_C(-300000000000), 0},
		{MG_EX_DURATION, 1001000000, 0},
	};
	assert_int_equal(s->nfields, CM_ARRAY_SIZE(want));
	for (uint32_t i = 0; i < s->nfields; i++) {
		const struct mg_expr *e = s->fields[i].expr;
		if (e->kind != want[i].kind)
			fail_msg("field %u: kind %d, expected %d", i, e->kind, want[i].kind);
		if (e->kind == MG_EX_INT || e->kind == MG_EX_DURATION)
			assert_int_equal(e->i, want[i].i);
		if (e->kind == MG_EX_FLOAT)
			assert_true(e->f == want[i].f);
		if (e->kind == MG_EX_BOOL)
			assert_int_equal(e->b, want[i].i);
	}
	assert_string_equal(s->fields[8].expr->s, "it's");
	assert_int_equal(s->fields[1].expr->pos, 11); /* a folded -7 starts at its '-' */
	mg_tsql_free(q);
}

static void test_mg_tsql__strings_and_regexes(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok("SELECT \"a \\\"b\\\" \\\\ c\" FROM m "
				     "WHERE s = 'x\\ny\\\\z\\'' "
				     "AND h =~ /a\\/b\\d\\.c/ AND e = ''");
	const struct mg_select *s = select_of(q);
	assert_string_equal(s->fields[0].expr->s, "a \"b\" \\ c");
	const struct mg_expr *w = s->where;
	assert_string_equal(w->lhs->lhs->rhs->s, "x\ny\\z'");
	assert_int_equal(w->lhs->rhs->rhs->kind, MG_EX_REGEX);
	assert_string_equal(w->lhs->rhs->rhs->s, "a/b\\d\\.c"); /* only \/ is unescaped */
	assert_string_equal(w->rhs->rhs->s, "");
	mg_tsql_free(q);
}

static void test_mg_tsql__sources(void **state)
{
	(void)state;
	const char *text = "SELECT a FROM cpu, rp.cpu, db..cpu, db.rp.cpu, /r1/, rp./r2/, "
			   "db../r3/, db.rp./r4/, (SELECT b FROM \"x y\")";
	struct mg_tsql *q = parse_ok(text);
	const struct mg_select *s = select_of(q);
	static const struct {
		enum mg_source_kind kind;
		const char *db, *rp, *name;
	} want[] = {
		{MG_SRC_MEASUREMENT, NULL, NULL, "cpu"}, {MG_SRC_MEASUREMENT, NULL, "rp", "cpu"},
		{MG_SRC_MEASUREMENT, "db", NULL, "cpu"}, {MG_SRC_MEASUREMENT, "db", "rp", "cpu"},
		{MG_SRC_REGEX, NULL, NULL, "r1"},        {MG_SRC_REGEX, NULL, "rp", "r2"},
		{MG_SRC_REGEX, "db", NULL, "r3"},        {MG_SRC_REGEX, "db", "rp", "r4"},
	};
	assert_int_equal(s->nsources, 9);
	for (uint32_t i = 0; i < 8; i++) {
		const struct mg_source *src = &s->sources[i];
		assert_int_equal(src->kind, want[i].kind);
		if (want[i].db)
			assert_string_equal(src->db, want[i].db);
		else
			assert_null(src->db);
		if (want[i].rp)
			assert_string_equal(src->rp, want[i].rp);
		else
			assert_null(src->rp);
		assert_string_equal(src->name, want[i].name);
	}
	assert_int_equal(s->sources[8].kind, MG_SRC_SUBQUERY);
	assert_int_equal(s->sources[8].pos, strchr(text, '(') - text);
	assert_int_equal(s->sources[1].pos, strstr(text, "rp.cpu") - text);
	assert_string_equal(s->sources[8].sub->sources[0].name, "x y");
	mg_tsql_free(q);

	q = parse_ok("SELECT a INTO db.rp.:MEASUREMENT FROM /x/");
	const struct mg_source *into = select_of(q)->into;
	assert_non_null(into);
	assert_string_equal(into->db, "db");
	assert_string_equal(into->rp, "rp");
	assert_null(into->name); /* :MEASUREMENT, each source's own name */
	mg_tsql_free(q);
}

static void test_mg_tsql__group_by_and_fill(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok("SELECT max(a) FROM m "
				     "GROUP BY \"region\", time(1h, now()), *, /^h/, host "
				     "fill(-3)");
	const struct mg_select *s = select_of(q);
	assert_true(s->group_time && s->group_offset_now);
	assert_int_equal(s->group_interval_ns, INT64_C(3600000000000));
	assert_int_equal(s->ngroup_tags, 2);
	assert_string_equal(s->group_tags[0], "region");
	assert_string_equal(s->group_tags[1], "host");
	assert_true(s->group_all_tags);
	assert_string_equal(s->group_regex, "^h");
	assert_int_equal(s->fill, MG_FILL_VALUE);
	assert_true(s->fill_value == -3.0 && s->fill_value_int);
	mg_tsql_free(q);

	static const struct {
		const char *fill;
		enum mg_fill want;
		double value;
		bool is_int;
		int64_t fill_int;   /* what an integer column gets */
	} fills[] = {
		{"", MG_FILL_NULL, 0, false},
		{"fill(null)", MG_FILL_NULL, 0, false},
		{"fill(NONE)", MG_FILL_NONE, 0, false},
		{"fill(previous)", MG_FILL_PREVIOUS, 0, false},
		{"fill(linear)", MG_FILL_LINEAR, 0, false},
		{"fill(2.5)", MG_FILL_VALUE, 2.5, false, 2},
		{"fill(7)", MG_FILL_VALUE, 7, true, 7},
		{"fill(-1e3)", MG_FILL_VALUE, -1000, false, -1000},
		/* integers exact at the ends of int64; floats truncated and clamped */
		{"fill(9223372036854775807)", MG_FILL_VALUE, 9223372036854775807.0, true,
		 INT64_MAX},
		{"fill(-9223372036854775808)", MG_FILL_VALUE, -9223372036854775808.0, true,
		 INT64_MIN},
		{"fill(1e30)", MG_FILL_VALUE, 1e30, false, INT64_MAX},
		{"fill(-2.7)", MG_FILL_VALUE, -2.7, false, -2},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(fills); i++) {
		char text[128];
		snprintf(text, sizeof(text), "SELECT mean(a) FROM m GROUP BY time(1m) %s",
			 fills[i].fill);
		q = parse_ok(text);
		s = select_of(q);
		assert_int_equal(s->fill, fills[i].want);
		assert_true(s->fill_value == fills[i].value);
		assert_int_equal(s->fill_value_int, fills[i].is_int);
		if (s->fill == MG_FILL_VALUE)
			assert_true(s->fill_int == fills[i].fill_int);
		assert_true(s->group_time && !s->group_offset_now && s->group_offset_ns == 0);
		mg_tsql_free(q);
	}
}

static void test_mg_tsql__show_statements(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok("SHOW TAG VALUES ON db FROM cpu WITH KEY IN (host, 'region') "
				     "WHERE a = 'b' LIMIT 3 OFFSET 2; SHOW MEASUREMENTS WITH "
				     "MEASUREMENT =~ /c/; SHOW TAG KEYS; SHOW SERIES CARDINALITY "
				     "FROM /x/; KILL QUERY 18446744073709551615; DROP DATABASE d");
	assert_int_equal(q->nstmts, 6);
	const struct mg_stmt *st = &q->stmts[0];
	assert_int_equal(st->kind, MG_STMT_SHOW_TAG_VALUES);
	assert_string_equal(st->on_db, "db");
	assert_int_equal(st->nfrom, 1);
	assert_string_equal(st->from[0].name, "cpu");
	assert_int_equal(st->with_op, MG_WITH_IN);
	assert_int_equal(st->nwith_values, 2);
	assert_string_equal(st->with_values[0], "host");
	assert_string_equal(st->with_values[1], "region");
	assert_int_equal(st->where->op, MG_OP_EQ);
	assert_int_equal(st->limit, 3);
	assert_int_equal(st->offset, 2);
	st = &q->stmts[1];
	assert_int_equal(st->kind, MG_STMT_SHOW_MEASUREMENTS);
	assert_int_equal(st->with_op, MG_WITH_REGEX);
	assert_string_equal(st->with_values[0], "c");
	assert_null(st->on_db);
	st = &q->stmts[2];
	assert_int_equal(st->kind, MG_STMT_SHOW_TAG_KEYS);
	assert_int_equal(st->with_op, MG_WITH_NONE);
	assert_int_equal(st->nfrom, 0);
	assert_null(st->where);
	st = &q->stmts[3];
	assert_int_equal(st->kind, MG_STMT_SHOW_SERIES_CARDINALITY);
	assert_int_equal(st->from[0].kind, MG_SRC_REGEX);
	assert_int_equal(q->stmts[4].kind, MG_STMT_KILL_QUERY);
	assert_true(q->stmts[4].query_id == UINT64_MAX);
	assert_int_equal(q->stmts[5].kind, MG_STMT_DROP_DATABASE);
	assert_string_equal(q->stmts[5].on_db, "d");
	mg_tsql_free(q);
}

static void test_mg_tsql__statement_kinds(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum mg_stmt_kind kind;
	} kinds[] = {
		{"SHOW DATABASES", MG_STMT_SHOW_DATABASES},
		{"SHOW FIELD KEYS", MG_STMT_SHOW_FIELD_KEYS},
		{"SHOW SERIES", MG_STMT_SHOW_SERIES},
		{"SHOW MEASUREMENT EXACT CARDINALITY", MG_STMT_SHOW_MEASUREMENT_CARDINALITY},
		{"SHOW RETENTION POLICIES", MG_STMT_SHOW_RETENTION_POLICIES},
		{"SHOW QUERIES", MG_STMT_SHOW_QUERIES},
		{"CREATE DATABASE x", MG_STMT_CREATE_DATABASE},
		{"SHOW TAG VALUES WITH KEY !~ /a/", MG_STMT_SHOW_TAG_VALUES},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(kinds); i++) {
		struct mg_tsql *q = parse_ok(kinds[i].text);
		assert_int_equal(q->stmts[0].kind, kinds[i].kind);
		mg_tsql_free(q);
	}
}

/* Statement offsets and lengths (SHOW QUERIES shows the text of each). */
static void test_mg_tsql__statement_spans(void **state)
{
	(void)state;
	const char *text = "  SELECT a FROM m ;\n;SHOW DATABASES;; KILL QUERY 3  ";
	struct mg_tsql *q = parse_ok(text);
	assert_int_equal(q->nstmts, 3);
	static const char *const want[] = {"SELECT a FROM m", "SHOW DATABASES", "KILL QUERY 3"};
	for (uint32_t i = 0; i < 3; i++) {
		const struct mg_stmt *st = &q->stmts[i];
		assert_int_equal(st->len, strlen(want[i]));
		assert_memory_equal(text + st->pos, want[i], st->len);
	}
	mg_tsql_free(q);
}

/* ------------------------------------------------------------------------ */
/* Invalid statements                                                         */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *in, *msg;
} invalid[] = {
	{"FOO", "found FOO, expected SELECT, SHOW, CREATE, DROP, KILL, FORECAST, DETECT at line 1, char 1"},
	{"", "found EOF, expected SELECT, SHOW, CREATE, DROP, KILL, FORECAST, DETECT at line 1, char 1"},
	{" ; ; ", "found EOF, expected SELECT, SHOW, CREATE, DROP, KILL, FORECAST, DETECT at line 1, char 6"},
	{"SELECT", "found EOF, expected identifier, string, number, bool at line 1, char 7"},
	{"SELECT FROM m",
	 "found FROM, expected identifier, string, number, bool at line 1, char 8"},
	{"SELECT a", "found EOF, expected FROM at line 1, char 9"},
	{"SELECT a b FROM m", "found b, expected FROM at line 1, char 10"},
	{"SELECT a FROM", "found EOF, expected identifier at line 1, char 14"},
	{"SELECT a FROM m WHERE",
	 "found EOF, expected identifier, string, number, bool at line 1, char 22"},
	{"SELECT a FROM m WHERE b = 'x", "unterminated string at line 1, char 27"},
	{"SELECT a FROM m WHERE b =~ /x", "unterminated regex at line 1, char 28"},
	{"SELECT a FROM m WHERE b =~ 'x'", "found 'x', expected regex at line 1, char 28"},
	{"SELECT a FROM m WHERE time > now() - 10x", "bad duration \"10x\" at line 1, char 38"},
	{"SELECT a FROM m WHERE time > now() - 1h30", "bad duration \"1h30\" at line 1, char 38"},
	{"SELECT a FROM m WHERE time > now() - 99999999999w",
	 "duration out of range \"99999999999w\" at line 1, char 38"},
	{"SELECT a FROM m LIMIT 99999999999999999999",
	 "integer out of range \"99999999999999999999\" at line 1, char 23"},
	{"SELECT a FROM m GROUP time(1m)", "found time, expected BY at line 1, char 23"},
	{"SELECT a FROM m GROUP BY time(10)", "found 10, expected duration at line 1, char 31"},
	{"SELECT a FROM m GROUP BY time(0s)",
	 "GROUP BY time interval must be positive at line 1, char 31"},
	{"SELECT a FROM m GROUP BY time(1m, x)",
	 "found x, expected duration, now() at line 1, char 35"},
	{"SELECT a FROM m GROUP BY time", "found EOF, expected ( at line 1, char 30"},
	{"SELECT a FROM m ORDER BY host",
	 "invalid ORDER BY: only time is supported at line 1, char 26"},
	{"SELECT a FROM m ORDER BY time, host",
	 "invalid ORDER BY: only time is supported at line 1, char 30"},
	{"SELECT a FROM m fill(foo)",
	 "found foo, expected null, none, previous, linear, number at line 1, char 22"},
	{"SELECT a FROM m LIMIT -1", "found -, expected integer at line 1, char 23"},
	{"SELECT a FROM m LIMIT 1 garbage", "found garbage, expected ; at line 1, char 25"},
	{"SELECT a FROM m LIMIT 1 WHERE a = 1", "found WHERE, expected ; at line 1, char 25"},
	{"SELECT a = 1 FROM m",
	 "invalid operator = in SELECT clause; operator is intended for WHERE clause "
	 "at line 1, char 8"},
	{"SELECT (((a FROM m", "found FROM, expected ) at line 1, char 13"},
	{"SELECT f(a FROM m", "found FROM, expected ) at line 1, char 12"},
	{"SELECT a FROM m WHERE s = 'bad\\q'", "bad escape \"\\q\" at line 1, char 31"},
	{"SELECT \"unterminated FROM m", "unterminated quoted identifier at line 1, char 8"},
	{"SELECT a FROM m /* never closed", "unterminated comment at line 1, char 17"},
	{"SELECT a::unsigned FROM m",
	 "found unsigned, expected float, integer, string, boolean, field, tag at line 1, char 11"},
	{"SELECT *::float FROM m", "found float, expected field, tag at line 1, char 11"},
	{"SHOW", "found EOF, expected DATABASES, FIELD, MEASUREMENT, MEASUREMENTS, QUERIES, "
		 "RETENTION, SERIES, TAG at line 1, char 5"},
	{"SHOW TAG VALUES FROM cpu", "found EOF, expected WITH at line 1, char 25"},
	{"SHOW TAG VALUES WITH KEY > host",
	 "found >, expected =, !=, =~, !~, IN at line 1, char 26"},
	{"SHOW MEASUREMENTS WITH MEASUREMENT != cpu",
	 "found !=, expected =, =~ at line 1, char 36"},
	{"SHOW SERIES FROM (SELECT a FROM b)", "found (, expected identifier at line 1, char 18"},
	{"DROP MEASUREMENT cpu", "found MEASUREMENT, expected DATABASE at line 1, char 6"},
	{"KILL QUERY abc", "found abc, expected integer at line 1, char 12"},
	{"FORECAST v FROM m FOR 1h", "found FOR, expected USING at line 1, char 19"},
	{"FORECAST v FROM m USING naive", "found EOF, expected FOR at line 1, char 30"},
	{"FORECAST v FROM m USING naive FOR 0s", "FOR must be a positive duration at line 1, "
	 "char 35"},
	{"FORECAST v FROM m USING naive FOR 1h WITH INTERVAL 100",
	 "INTERVAL must be a percentage in (0, 100) at line 1, char 52"},
	{"FORECAST v FROM m USING 3 FOR 1h", "found 3, expected method name at line 1, char 25"},
	{"FORECAST v FROM m USING a(b) FOR 1h",
	 "method parameters are key = literal at line 1, char 27"},
	{"FORECAST v FROM m USING a(b = c) FOR 1h",
	 "method parameters are key = literal at line 1, char 27"},
	{"DETECT v FROM m", "found v, expected ANOMALIES at line 1, char 8"},
	{"DETECT ANOMALIES IN v FROM m SENSITIVITY 2",
	 "SENSITIVITY must be in (0, 1] at line 1, char 42"},
	{"DETECT ANOMALIES IN v FROM m LIMIT 3", "found LIMIT, expected ; at line 1, char 30"},
	{"SELECT a\nFROM m\nWHERE b = = 1",
	 "found =, expected identifier, string, number, bool at line 3, char 11"},
	{"SELECT a\r\nFROM m\r\nWHERE b = = 1",
	 "found =, expected identifier, string, number, bool at line 3, char 11"},
	{"SELECT a FROM m WHERE x = 1.5x", "bad number \"1.5x\" at line 1, char 27"},
	{"SELECT a FROM m WHERE x = 1e999", "number out of range \"1e999\" at line 1, char 27"},
	{"SELECT a FROM a.b.c.d", "too many segments in name at line 1, char 15"},
	{"SELECT a FROM m GROUP BY /a/, /b/", "only one regex in GROUP BY at line 1, char 31"},
	{"SELECT a FROM m GROUP BY time(1m), time(2m)",
	 "multiple time dimensions at line 1, char 36"},
	{"SELECT a FROM (SHOW DATABASES)", "found SHOW, expected SELECT at line 1, char 16"},
	{"SELECT a INTO b FROM (SELECT c INTO d FROM e)",
	 "found INTO, expected FROM at line 1, char 32"},
	{"SELECT a FROM m; garbage",
	 "found garbage, expected SELECT, SHOW, CREATE, DROP, KILL, FORECAST, DETECT at line 1, char 18"},
	{"SELECT 'h\xc3\xa9llo', FROM m",
	 "found FROM, expected identifier, string, number, bool at line 1, char 17"},
	{"SELECT \xc2\xb5 FROM m",
	 "found \xc2\xb5, expected identifier, string, number, bool at line 1, char 8"},
	{"SELECT a FROM m WHERE b = $x",
	 "found $, expected identifier, string, number, bool at line 1, char 27"},
	{"SELECT a FROM m tz(UTC)", "found UTC, expected string at line 1, char 20"},
	{"SELECT - -5 FROM m",
	 "found -, expected identifier, number, duration, ( at line 1, char 10"},
	{"SELECT a FROM m WHERE \x01",
	 "found ?, expected identifier, string, number, bool at line 1, char 23"},
	{"SELECT from FROM m",
	 "found FROM, expected identifier, string, number, bool at line 1, char 8"},
	{"SELECT a AS FROM FROM m", "found FROM, expected identifier at line 1, char 13"},
	{"CREATE DATABASE d WITH",
	 "found EOF, expected DURATION, REPLICATION, SHARD, NAME at line 1, char 23"},
	{"CREATE DATABASE d WITH REPLICATION 0", "REPLICATION must be >= 1 at line 1, char 36"},
	{"SELECT a FROM m WHERE x = 'a", "unterminated string at line 1, char 27"},
	{"SELECT a FROM m WHERE x = 'a\nb'", "unterminated string at line 1, char 27"},
	/* a malformed regex wherever one may appear */
	{"SELECT /a FROM m", "unterminated regex at line 1, char 8"},
	{"SELECT max(/a) FROM m", "unterminated regex at line 1, char 12"},
	{"SELECT a FROM /m", "unterminated regex at line 1, char 15"},
	{"SELECT a FROM db./m", "unterminated regex at line 1, char 18"},
	{"SELECT a FROM m GROUP BY /h", "unterminated regex at line 1, char 26"},
	{"SHOW TAG KEYS FROM /m", "unterminated regex at line 1, char 20"},
	{"SHOW TAG VALUES WITH KEY =~ /h", "unterminated regex at line 1, char 29"},
	{"SHOW MEASUREMENTS WITH MEASUREMENT =~ /c\n/", "unterminated regex at line 1, char 39"},
	{"SHOW TAG VALUES WITH KEY = /h/",
	 "found /, expected identifier, string at line 1, char 28"},
	{"SHOW TAG VALUES WITH KEY =~ 'h'", "found 'h', expected regex at line 1, char 29"},
};

static void expect_error(const char *text, size_t len, const char *msg)
{
	struct mg_tsql *q = (struct mg_tsql *)1;
	struct mg_tsql_error err;
	int rc = mg_tsql_parse(text, len, &q, &err);
	if (rc != -EINVAL)
		fail_msg("\"%s\": rc %d, expected -EINVAL", text, rc);
	assert_null(q);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("\"%s\"\n  error    \"%s\"\n  expected \"%s\"", text, err.msg, msg);
	char tail[64];
	snprintf(tail, sizeof(tail), "at line %u, char %u", err.line, err.col);
	assert_non_null(strstr(err.msg, tail));
	assert_true(err.pos <= len);
}

static void test_mg_tsql__invalid_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(invalid); i++)
		expect_error(invalid[i].in, strlen(invalid[i].in), invalid[i].msg);
	print_message("%zu invalid statements\n", CM_ARRAY_SIZE(invalid));

	/* positions: the byte offset of the offending token, whatever the characters before */
	struct mg_tsql *q;
	struct mg_tsql_error err;
	const char *t = "SELECT 'h\xc3\xa9llo', FROM m";
	assert_int_equal(mg_tsql_parse(t, strlen(t), &q, &err), -EINVAL);
	assert_int_equal(err.pos, 17);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 17);

	/* a NUL inside a string, and text that is not NUL-terminated */
	expect_error("SELECT 'a\0b' FROM m", 19, "invalid NUL byte at line 1, char 10");
	expect_error("SELECT a FROM mXYZ", 14, "found EOF, expected identifier at line 1, char 15");
	assert_int_equal(mg_tsql_parse("SELECT a FROM mXYZ", 14, &q, NULL), -EINVAL);
	assert_int_equal(mg_tsql_parse("SELECT a FROM mXYZ", 15, &q, NULL), 0);
	assert_string_equal(select_of(q)->sources[0].name, "m");
	mg_tsql_free(q);
}

/* Number literals longer than mg_tsql_tok_double's stack copy go through the arena. */
static void test_mg_tsql__long_number_literals(void **state)
{
	(void)state;
	char text[512];
	int n = snprintf(text, sizeof(text), "SELECT 0.%0100d15, 1%080d, -2%080d.5e-1 FROM m "
			 "fill(-3%0100d)", 0, 0, 0, 0);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	struct mg_tsql *q = parse_ok(text);
	const struct mg_select *s = select_of(q);
	assert_int_equal(s->nfields, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(s->fields[i].expr->kind, MG_EX_FLOAT);
	assert_true(s->fields[0].expr->f == 1.5e-101);
	assert_true(s->fields[1].expr->f == 1e80);
	assert_true(s->fields[2].expr->f == -2e79);
	assert_int_equal(s->fill, MG_FILL_VALUE);
	assert_false(s->fill_value_int);
	assert_true(s->fill_value == -3e100);
	mg_tsql_free(q);
	check_round_trip(text);

	/* out of range: the message shows the first 40 bytes */
	snprintf(text, sizeof(text), "SELECT 1%0400d FROM m", 0);
	expect_error(text, strlen(text), "number out of range "
		     "\"1000000000000000000000000000000000000000...\" at line 1, char 8");
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                     */
/* ------------------------------------------------------------------------ */

/* "SELECT " + n x open + "a" + n x close + " FROM m" */
static char *nested(int n, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(32 + (size_t)n * (lo + lc));
	assert_non_null(s);
	size_t k = (size_t)sprintf(s, "SELECT ");
	for (int i = 0; i < n; i++, k += lo)
		memcpy(s + k, open, lo);
	s[k++] = 'a';
	for (int i = 0; i < n; i++, k += lc)
		memcpy(s + k, close, lc);
	strcpy(s + k, " FROM m");
	return s;
}

static void test_mg_tsql__nesting_limits(void **state)
{
	(void)state;
	/* each opening nests once, "-(" twice: the parser stops at the 65th level */
	static const struct {
		const char *open, *close;
		int per_open;
	} kinds[] = {{"(", ")", 1}, {"f(", ")", 1}, {"-(", ")", 2}, {"+", "", 1}};
	for (size_t k = 0; k < CM_ARRAY_SIZE(kinds); k++) {
		int ok = MG_TSQL_NEST_MAX / kinds[k].per_open;
		char *s = nested(ok, kinds[k].open, kinds[k].close);
		mg_tsql_free(parse_ok(s));
		free(s);
		s = nested(ok + 1, kinds[k].open, kinds[k].close);
		char msg[64];
		snprintf(msg, sizeof(msg), "nesting too deep at line 1, char %zu",
			 8 + (size_t)ok * strlen(kinds[k].open));
		expect_error(s, strlen(s), msg);
		free(s);
	}

	/* subqueries: SELECT a FROM (SELECT a FROM (... m)) */
	char sub[2048];
	struct mg_tsql *q;
	struct mg_tsql_error err;
	for (int depth = MG_TSQL_NEST_MAX; depth <= MG_TSQL_NEST_MAX + 1; depth++) {
		size_t n = 0;
		n += (size_t)snprintf(sub + n, sizeof(sub) - n, "SELECT a FROM ");
		for (int i = 0; i < depth; i++)
			n += (size_t)snprintf(sub + n, sizeof(sub) - n, "(SELECT a FROM ");
		n += (size_t)snprintf(sub + n, sizeof(sub) - n, "m");
		for (int i = 0; i < depth; i++)
			n += (size_t)snprintf(sub + n, sizeof(sub) - n, ")");
		assert_true(n < sizeof(sub));
		int rc = mg_tsql_parse(sub, n, &q, &err);
		if (depth == MG_TSQL_NEST_MAX) {
			assert_int_equal(rc, 0);
			check_round_trip(sub);
			mg_tsql_free(q);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_int_equal(err.pos, 14 + 15 * MG_TSQL_NEST_MAX);
			assert_non_null(strstr(err.msg, "nesting too deep"));
		}
	}

}

/* A long OR chain is a loop in the parser; the depth of its tree is bounded. */
static void test_mg_tsql__tree_depth_limit(void **state)
{
	(void)state;
	struct mg_tsql *q;
	struct mg_tsql_error err;
	size_t cap = 32 * (MG_TSQL_TREE_MAX + 8);
	char *w = malloc(cap);
	assert_non_null(w);
	size_t n = (size_t)sprintf(w, "SELECT a FROM m WHERE h = 'x'");
	for (int i = 1; i < MG_TSQL_TREE_MAX - 1; i++)
		n += (size_t)sprintf(w + n, " OR h = 'x'");
	mg_tsql_free(parse_ok(w));
	n += (size_t)sprintf(w + n, " OR h = 'x'");
	assert_int_equal(mg_tsql_parse(w, n, &q, &err), -EINVAL);
	assert_string_equal(err.msg, "expression too deep at line 1, char 23");
	free(w);
}

/* ------------------------------------------------------------------------ */
/* TSBS queries                                                               */
/* ------------------------------------------------------------------------ */

/* Column 5 (from 1) of a tab-separated line, NUL-terminated in place; NULL if absent. */
static char *tsv_column5(char *line)
{
	char *c = line;
	for (int i = 0; i < 4; i++) {
		c = strchr(c, '\t');
		if (!c)
			return NULL;
		c++;
	}
	c[strcspn(c, "\t\r\n")] = '\0';
	return c;
}

static void test_mg_tsql__tsbs_queries(void **state)
{
	(void)state;
	const char *dir = getenv("TSQL_TSBS_DIR") ? getenv("TSQL_TSBS_DIR") : TSBS_DIR;
	DIR *d = opendir(dir);
	if (!d) {
		print_message("tsbs: %s: %s\n", dir, strerror(errno));
		skip();
	}
	static char line[1 << 20];
	size_t files = 0, queries = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".tsv") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		files++;
		while (fgets(line, sizeof(line), f)) {
			char *text = tsv_column5(line);
			if (!text || !*text)
				continue;
			struct mg_tsql *q = parse_ok(text);
			assert_int_equal(q->nstmts, 1);
			const struct mg_select *s = select_of(q);
			assert_string_equal(s->sources[0].name, "cpu");
			mg_tsql_free(q);
			check_round_trip(text);
			queries++;
		}
		fclose(f);
	}
	closedir(d);
	print_message("tsbs: %zu queries in %zu files parse\n", queries, files);
	assert_true(queries > 0);
}

/* ------------------------------------------------------------------------ */
/* Time strings, formatting, allocation                                       */
/* ------------------------------------------------------------------------ */

static void test_mg_tsql__parse_time(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int64_t ns;
		bool zoned;   /* names its offset (tz() reads the others as local times) */
	} good[] = {
		{"1970-01-01T00:00:00Z", 0, true},
		{"2016-01-01T08:24:59Z", INT64_C(1451636699000000000), true},
		{"2016-01-01T08:24:59.5Z", INT64_C(1451636699500000000), true},
		{"2016-01-01T08:24:59.123456789Z", INT64_C(1451636699123456789), true},
		{"2016-01-01T08:24:59.1234567891Z", INT64_C(1451636699123456789), true},
		{"2016-01-01T09:24:59.5+01:00", INT64_C(1451636699500000000), true},
		{"2016-01-01T03:54:59-04:30", INT64_C(1451636699000000000), true},
		{"2016-01-01 08:24:59", INT64_C(1451636699000000000), false},
		{"2016-01-01 08:24:59.25", INT64_C(1451636699250000000), false},
		{"2016-01-01 09:24:59+01:00", INT64_C(1451636699000000000), true},
		{"2016-01-01", INT64_C(1451606400000000000), false},
		{"2016-02-29", INT64_C(1456704000000000000), false},
		{"1969-12-31T23:59:59Z", INT64_C(-1000000000), true},
		{"2262-04-11T23:47:16.854775807Z", INT64_MAX, true},
		{"1677-09-21T00:12:43.145224192Z", INT64_MIN, true},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(good); i++) {
		int64_t ns = 42;
		bool zoned = !good[i].zoned;
		if (mg_tsql_parse_time(good[i].s, &ns, &zoned) != 0)
			fail_msg("\"%s\" rejected", good[i].s);
		if (zoned != good[i].zoned)
			fail_msg("\"%s\": zoned %d", good[i].s, zoned);
		if (ns != good[i].ns)
			fail_msg("\"%s\": %lld, expected %lld", good[i].s, (long long)ns,
				 (long long)good[i].ns);
	}
	static const char *const bad[] = {
		"", "2016", "2016-01", "2016-1-01", "2016-13-01", "2016-00-10", "2015-02-29",
		"2016-04-31", "2016-01-01T", "2016-01-01T08:24:59", "2016-01-01T24:00:00Z",
		"2016-01-01T08:60:00Z", "2016-01-01T08:24:60Z", "2016-01-01T08:24:59.Z",
		"2016-01-01T08:24:59+0100", "2016-01-01T08:24:59+01", "2016-01-01T08:24:59Zx",
		"2016-01-01 08:24", "2016-01-01x", "now()", "2263-01-01T00:00:00Z",
		"1600-01-01T00:00:00Z", " 2016-01-01",
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(bad); i++) {
		int64_t ns = 42;
		if (mg_tsql_parse_time(bad[i], &ns, NULL) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(ns, 42);
	}
}

static void test_mg_tsql__format_truncation(void **state)
{
	(void)state;
	struct mg_tsql *q = parse_ok("SELECT usage_user + usage_system FROM cpu");
	const struct mg_expr *e = select_of(q)->fields[0].expr;
	char buf[64];
	assert_int_equal(mg_tsql_expr_format(e, buf, sizeof(buf)), 25);
	assert_string_equal(buf, "usage_user + usage_system");
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mg_tsql_expr_format(e, buf, 8), 25);
	assert_string_equal(buf, "usage_u");
	assert_int_equal(buf[8], 'x');
	assert_int_equal(mg_tsql_expr_format(e, NULL, 0), 25);
	assert_int_equal(mg_tsql_stmt_format(&q->stmts[0], buf, 1), 41);
	assert_string_equal(buf, "");
	mg_tsql_free(q);
}

/* Reserved words and odd names come back quoted, so they read back the same. */
static void test_mg_tsql__identifier_quoting(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		bool bare;
	} names[] = {
		{"cpu", true},      {"_x9", true},     {"time", true},  {"key", true},
		{"fill", true},     {"from", false},   {"SELECT", false}, {"And", false},
		{"9lives", false},  {"a-b", false},    {"", false},     {"distinct", false},
		{"h\xc3\xa9", false}, {"true", false},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(names); i++)
		assert_int_equal(mg_tsql_ident_is_bare(names[i].name), names[i].bare);

	/* every keyword is found in any case, and near misses are not keywords */
	for (int k = 1; k < MG_KW__COUNT; k++) {
		if (k == MG_KW__CONTEXTUAL)
			continue;
		char lower[32];
		const char *name = mg_tsql_kw_name((enum mg_tsql_kw)k);
		size_t n = strlen(name);
		assert_true(n < sizeof(lower));
		for (size_t i = 0; i <= n; i++)
			lower[i] = (char)(name[i] | (name[i] ? 0x20 : 0));
		assert_int_equal(mg_tsql_kw_lookup(name, n), k);
		assert_int_equal(mg_tsql_kw_lookup(lower, n), k);
		assert_true(mg_tsql_kw_lookup(name, n - 1) != (enum mg_tsql_kw)k);
		lower[n - 1] = '_';
		assert_int_equal(mg_tsql_kw_lookup(lower, n), MG_KW__NONE);
	}
	assert_int_equal(mg_tsql_kw_lookup("Select", 6), MG_KW_SELECT);
	assert_int_equal(mg_tsql_kw_lookup("selects", 7), MG_KW__NONE);
	assert_int_equal(mg_tsql_kw_lookup("_from", 5), MG_KW__NONE);
	static const char *const odd =
		"SELECT \"and\" + \"or\", \"9\", \"a b\", \"\" FROM \"where\" "
		"WHERE \"h\xc3\xa9\" = 1";
	check_canon(odd, odd);
}

struct failmem {
	long calls, fail_at, live;
};

static void *fm_alloc(void *arg, size_t n)
{
	struct failmem *f = arg;
	if (f->calls++ == f->fail_at)
		return NULL;
	f->live++;
	return malloc(n);
}

static void fm_free(void *arg, void *p)
{
	struct failmem *f = arg;
	f->live--;
	free(p);
}

/* Every allocation of a parse fails in turn: -ENOMEM, nothing leaked, then success. */
static void test_mg_tsql__alloc_failure(void **state)
{
	(void)state;
	char *big = malloc(1 << 16);
	assert_non_null(big);
	size_t n = (size_t)sprintf(big, "SELECT max(usage_user) FROM cpu WHERE (hostname = 'h0'");
	for (int i = 1; i < 400; i++)
		n += (size_t)sprintf(big + n, " OR hostname = 'host_%d'", i);
	sprintf(big + n, ") GROUP BY time(1h), host; SHOW TAG VALUES WITH KEY IN (a, b, c, d, e)");
	const char *texts[] = {"SHOW DATABASES",
			       "SELECT max(m) AS x FROM (SELECT mean(u) AS m FROM a.b.cpu WHERE "
			       "h =~ /x/ GROUP BY time(1m), host) GROUP BY time(1h) fill(0)",
			       big};
	for (size_t t = 0; t < CM_ARRAY_SIZE(texts); t++) {
		static char want[1 << 16], got[1 << 16];
		struct mg_tsql *q = parse_ok(texts[t]);
		format_all(q, want, sizeof(want));
		mg_tsql_free(q);
		long steps = 0;
		for (long k = 0;; k++) {
			struct failmem f = {0, k, 0};
			struct mg_tsql_mem mem = {fm_alloc, fm_free, &f};
			struct mg_tsql_error err;
			int rc = mg_tsql_parse_mem(texts[t], strlen(texts[t]), &mem, &q, &err);
			if (rc == 0) {
				format_all(q, got, sizeof(got));
				assert_string_equal(got, want);
				mg_tsql_free(q);
				assert_int_equal(f.live, 0);
				steps = k;
				break;
			}
			assert_int_equal(rc, -ENOMEM);
			assert_null(q);
			assert_string_equal(err.msg, "out of memory");
			assert_int_equal(f.live, 0);
		}
		assert_true(steps >= 1);
		print_message("alloc failure: statement %zu took %ld allocations\n", t, steps + 1);
	}
	free(big);
}

/* Memory counted by the bytes asked for. */
static void *count_alloc(void *arg, size_t n)
{
	*(size_t *)arg += n;
	return malloc(n);
}

static void count_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

/* A long dotted reference costs memory in proportion to its length (once quadratic). */
static void test_mg_tsql__dotted_ref_linear(void **state)
{
	(void)state;
	enum { SEGS = 5000 };
	static char text[16 + 2 * SEGS + 16];
	size_t n = (size_t)sprintf(text, "SELECT a");
	for (int i = 1; i < SEGS; i++)
		n += (size_t)sprintf(text + n, ".a");
	sprintf(text + n, " FROM m");
	size_t bytes = 0;
	struct mg_tsql_mem mem = {count_alloc, count_free, &bytes};
	struct mg_tsql *q;
	struct mg_tsql_error err;
	assert_int_equal(mg_tsql_parse_mem(text, strlen(text), &mem, &q, &err), 0);
	const struct mg_expr *e = select_of(q)->fields[0].expr;
	assert_int_equal(e->kind, MG_EX_REF);
	assert_int_equal(strlen(e->s), 2 * SEGS - 1);
	mg_tsql_free(q);
	if (bytes > 16 * strlen(text))
		fail_msg("%zu bytes for a %zu-byte statement", bytes, strlen(text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_tsql__valid_table),
		cmocka_unit_test(test_mg_tsql__select_tree),
		cmocka_unit_test(test_mg_tsql__precedence),
		cmocka_unit_test(test_mg_tsql__literals),
		cmocka_unit_test(test_mg_tsql__strings_and_regexes),
		cmocka_unit_test(test_mg_tsql__sources),
		cmocka_unit_test(test_mg_tsql__group_by_and_fill),
		cmocka_unit_test(test_mg_tsql__show_statements),
		cmocka_unit_test(test_mg_tsql__statement_kinds),
		cmocka_unit_test(test_mg_tsql__statement_spans),
		cmocka_unit_test(test_mg_tsql__invalid_table),
		cmocka_unit_test(test_mg_tsql__long_number_literals),
		cmocka_unit_test(test_mg_tsql__nesting_limits),
		cmocka_unit_test(test_mg_tsql__tree_depth_limit),
		cmocka_unit_test(test_mg_tsql__tsbs_queries),
		cmocka_unit_test(test_mg_tsql__parse_time),
		cmocka_unit_test(test_mg_tsql__format_truncation),
		cmocka_unit_test(test_mg_tsql__identifier_quoting),
		cmocka_unit_test(test_mg_tsql__alloc_failure),
		cmocka_unit_test(test_mg_tsql__dotted_ref_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
