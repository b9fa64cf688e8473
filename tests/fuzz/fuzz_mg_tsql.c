/*
 * fuzz_mg_tsql.c - fuzz target for the TSQL parser and formatter
 * (mgmt/mg_tsql*.c).
 *
 * Parses the input; on success formats every statement, parses that text
 * again and formats it once more, abort()ing unless the second parse
 * succeeds and both texts are identical (the round trip of mg_tsql.h). Also
 * checks the snprintf contract of the formatters (the length reported, the
 * NUL, nothing written past cap) and, on failure, the error: -EINVAL or
 * -ENOMEM, a message that ends with the line and char it reports, a
 * position inside the text. Time strings go through mg_tsql_parse_time.
 * Seeds (fz_seeds, and the same in corpus-fuzz_mg_tsql/ for libFuzzer):
 * TSBS, Grafana and Chronograf style queries and every statement kind.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_driver.h"
#include "mg_tsql.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

/* The statement formatted into a malloc'd string (owned by the caller). */
static char *format_stmt(const struct mg_stmt *st)
{
	int n = mg_tsql_stmt_format(st, NULL, 0);
	CHECK(n > 0);
	char *s = malloc((size_t)n + 1);
	CHECK(s);
	CHECK(mg_tsql_stmt_format(st, s, (size_t)n + 1) == n);
	CHECK(strlen(s) == (size_t)n);

	/* truncated: a NUL at cap - 1, the bytes after it untouched */
	char small[17];
	memset(small, 'x', sizeof(small));
	CHECK(mg_tsql_stmt_format(st, small, 16) == n);
	CHECK(small[16] == 'x' && strlen(small) == (size_t)(n < 15 ? n : 15));
	CHECK(memcmp(small, s, strlen(small)) == 0);
	return s;
}

static void check_error(const struct mg_tsql_error *err, int rc, size_t len)
{
	CHECK(rc == -EINVAL || rc == -ENOMEM);
	if (rc == -ENOMEM)
		return;
	char tail[64];
	snprintf(tail, sizeof(tail), " at line %u, char %u", err->line, err->col);
	size_t mlen = strlen(err->msg), tlen = strlen(tail);
	CHECK(err->line >= 1 && err->col >= 1 && err->pos <= len);
	CHECK(mlen > tlen && strcmp(err->msg + mlen - tlen, tail) == 0);
}

/* Expressions of a SELECT format without trouble (column names use them). */
static void format_fields(const struct mg_select *sel)
{
	char buf[64];
	for (uint32_t i = 0; i < sel->nfields; i++) {
		int n = mg_tsql_expr_format(sel->fields[i].expr, buf, sizeof(buf));
		CHECK(n > 0 && strlen(buf) == (size_t)(n < 63 ? n : 63));
	}
}

static void round_trip(const struct mg_stmt *st)
{
	char *a = format_stmt(st);
	struct mg_tsql *q2 = NULL;
	struct mg_tsql_error err;
	int rc = mg_tsql_parse(a, strlen(a), &q2, &err);
	if (rc == -ENOMEM) {
		free(a);
		return;
	}
	CHECK(rc == 0 && q2->nstmts == 1);
	char *b = format_stmt(&q2->stmts[0]);
	CHECK(strcmp(a, b) == 0);
	if (st->kind == MG_STMT_SELECT || st->kind == MG_STMT_FORECAST ||
	    st->kind == MG_STMT_DETECT)
		format_fields(st->select);
	free(b);
	free(a);
	mg_tsql_free(q2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mg_tsql *q = NULL;
	struct mg_tsql_error err;
	int rc = mg_tsql_parse((const char *)data, len, &q, &err);
	if (rc == 0) {
		CHECK(q && q->nstmts >= 1);
		for (uint32_t i = 0; i < q->nstmts; i++) {
			CHECK(q->stmts[i].pos + q->stmts[i].len <= len);
			round_trip(&q->stmts[i]);
		}
		mg_tsql_free(q);
	} else {
		CHECK(q == NULL);
		check_error(&err, rc, len);
	}

	/* the same bytes as an analytics function's method string */
	const struct mg_expr *m = NULL;
	rc = mg_tsql_parse_method((const char *)data, len, &q, &m, &err);
	CHECK((rc == 0) == (m != NULL) && (rc == 0) == (q != NULL));
	if (rc == 0)
		CHECK(m->kind == MG_EX_REF || m->kind == MG_EX_CALL);
	else
		check_error(&err, rc, len);
	mg_tsql_free(q);

	char t[48];
	size_t n = len < sizeof(t) - 1 ? len : sizeof(t) - 1;
	memcpy(t, data, n);
	t[n] = '\0';
	int64_t ns;
	rc = mg_tsql_parse_time(t, &ns, NULL);
	CHECK(rc == 0 || rc == -EINVAL);
	return 0;
}

/* Also the files of tests/fuzz/corpus-fuzz_mg_tsql/. */
static const char *const seeds[] = {
	"FORECAST mean(v) FROM db..m WHERE host = 'a' GROUP BY time(5m), host fill(linear) "
	"USING holt_winters(period = 1d, damped = true) FOR 6h WITH INTERVAL 90",
	"DETECT ANOMALIES IN v FROM m WHERE time > now() - 1h USING mad(window = 2h, "
	"threshold = -1.5, name = 'x') SENSITIVITY 0.8",
	"SELECT anomaly_score(v, 'iforest(seed = 3)') FROM m GROUP BY host",
	"mad(window = 30, threshold = 3.5)",
	"SELECT max(usage_user),max(usage_system) from cpu where (hostname = 'host_49' or "
	"hostname = 'host_3') and time >= '2016-01-01T00:00:00Z' and time < "
	"'2016-01-02T00:00:00Z' group by time(1h)",
	"SELECT mean(usage_user) from cpu where time >= '2016-01-01T07:47:52Z' and time < "
	"'2016-01-01T19:47:52Z' group by time(1h),hostname",
	"SELECT * from cpu group by \"hostname\" order by time desc limit 1",
	"SELECT max(usage_user) from cpu WHERE time < '2016-01-01T03:17:08Z' group by time(1m) "
	"limit 5",
	"SELECT * from cpu where usage_user > 90.0 and (hostname = 'host_49') and time >= "
	"'2016-01-01 07:47:52' and time < '2016-01-01'",
	"SELECT mean(\"value\") FROM \"telegraf\".\"autogen\".\"cpu\" WHERE (\"host\" =~ "
	"/^(a|b)$/) AND time >= now() - 6h GROUP BY time(10s), \"host\" fill(null)",
	"SELECT non_negative_derivative(mean(\"bytes_recv\"), 1s) *8 AS \"in\" FROM \"net\" "
	"WHERE time > now() - 1h30m GROUP BY time(1m, -30s) fill(none) tz('Europe/Paris')",
	"SELECT a::float, b::tag, *::field, -(c + 1) % 2 | 3 & 4 ^ 5 FROM db..m, rp./x\\/y/, "
	"db.rp./^cpu\\d+$/ WHERE s = 'it\\'s \\\\ \\n' AND t != true OR f <> FALSE",
	"SELECT max(m) FROM (SELECT mean(u) AS m FROM (SELECT u FROM cpu) GROUP BY time(1m), *) "
	"GROUP BY time(1h, now()), /^h/ fill(-1.5) ORDER BY time DESC LIMIT 10 OFFSET 2 "
	"SLIMIT 3 SOFFSET 4",
	"SELECT mean(v) INTO \"db\".\"rp\".:MEASUREMENT FROM /.*/ GROUP BY time(30m), *",
	"SELECT DISTINCT host FROM cpu; SELECT count(distinct(host)), percentile(x, 99.9), "
	"top(x, host, 3), 1e3, .5, 99999999999999999999, -9223372036854775808, 100\xc2\xb5, 1w2d",
	"SHOW DATABASES; SHOW QUERIES; SHOW RETENTION POLICIES ON telegraf",
	"SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /cpu.*/ WHERE host = 'a' LIMIT 5 OFFSET 1",
	"SHOW TAG KEYS ON db FROM cpu, /m/ WHERE host = 'a' LIMIT 2",
	"SHOW TAG VALUES ON db FROM cpu WITH KEY IN (host, 'region', \"x y\") WHERE a = 'b'",
	"SHOW TAG VALUES WITH KEY =~ /ho/; SHOW TAG VALUES WITH KEY != host",
	"SHOW FIELD KEYS ON db FROM cpu; SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10",
	"SHOW SERIES CARDINALITY ON db FROM cpu WHERE h = 'a'; SHOW MEASUREMENT CARDINALITY ON db",
	"CREATE DATABASE mydb WITH DURATION 7d REPLICATION 1 SHARD DURATION 1d NAME rp7; "
	"DROP DATABASE \"my-db\"; KILL QUERY 36",
	"SELECT a /* comment */ FROM m -- line comment\nWHERE\r\n\"quote\\\"d\" = 1.5e-3",
	"2016-01-01T08:24:59.123456789+01:00",
	"SELECT a FROM m WHERE b = 'unterminated",
};

void fz_seeds(fz_emit_fn emit, void *arg)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(seeds); i++)
		emit(arg, (const uint8_t *)seeds[i], strlen(seeds[i]));
}
