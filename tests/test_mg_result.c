/*
 * test_mg_result.c - unit tests of mgmt/mg_result.c: the result model
 * (copies, tag order, growth, accounting) and its JSON encoding checked
 * byte for byte against what InfluxDB 1.x prints (statement shapes, tags,
 * cell types, floats as Go prints them, epochs, escaping, chunked documents,
 * pretty layout), plus fixed-seed property runs: every float printed reads
 * back to the same bits with the fewest digits, and every string is
 * escaped as jansson escapes it (the reference model). And the buffer the
 * front-ends encode into.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "cm_compiler.h"
#include "cm_rand.h"
#include "mg_result.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* r as JSON (compact unless pretty), returned malloc'd; frees nothing. */
static char *enc(const struct mg_result *r, enum mg_epoch epoch, bool pretty)
{
	struct mg_result_buf o = {0};
	struct mg_json_opts opts = {.epoch = epoch, .pretty = pretty};
	assert_int_equal(mg_result_json(r, &opts, mg_result_buf_write, &o), 0);
	assert_non_null(o.p);
	return o.p;
}

/* r's compact encoding parsed; its pretty encoding must parse to the same value. */
static json_t *parse_both(const struct mg_result *r, enum mg_epoch epoch)
{
	char *compact = enc(r, epoch, false), *pretty = enc(r, epoch, true);
	json_error_t e;
	json_t *a = json_loads(compact, 0, &e), *b = json_loads(pretty, 0, &e);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_equal(a, b));
	json_decref(b);
	free(compact);
	free(pretty);
	return a;
}

static char *enc_chunked(const struct mg_result *r, uint64_t chunk)
{
	struct mg_result_buf o = {0};
	struct mg_json_opts opts = {.epoch = MG_EPOCH_NS};
	assert_int_equal(mg_result_json_chunked(r, &opts, chunk, mg_result_buf_write, &o), 0);
	return o.p ? o.p : strdup("");
}

static void expect_json(const struct mg_result *r, enum mg_epoch epoch, const char *want)
{
	char *got = enc(r, epoch, false);
	assert_string_equal(got, want);
	free(got);
}

#define F64(x) ((struct mg_cell){.type = MG_CELL_F64, .f = (x)})
#define I64(x) ((struct mg_cell){.type = MG_CELL_I64, .i = (x)})
#define U64(x) ((struct mg_cell){.type = MG_CELL_U64, .u = (x)})
#define TIME(x) ((struct mg_cell){.type = MG_CELL_TIME, .i = (x)})
#define STR(x) ((struct mg_cell){.type = MG_CELL_STR, .s = (x)})
#define BOOL(x) ((struct mg_cell){.type = MG_CELL_BOOL, .b = (x)})
#define NUL ((struct mg_cell){.type = MG_CELL_NULL})

/* One statement with one series "m" of one column "v" holding cell c. */
static char *enc_cell(struct mg_cell c, enum mg_epoch epoch)
{
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"v"};
	struct mg_series *se = mg_result_add_series(r, s, "m", NULL, 0, cols, 1);
	assert_int_equal(mg_result_add_row(r, se, &c), 0);
	char *j = enc(r, epoch, false);
	mg_result_free(r);
	/* the value between "values":[[ and ]] */
	static const char pre[] = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
				  "\"columns\":[\"v\"],\"values\":[[";
	assert_memory_equal(j, pre, sizeof(pre) - 1);
	size_t n = strlen(j);
	static const char post[] = "]]}]}]}";
	size_t pl = sizeof(pre) - 1, sl = sizeof(post) - 1;
	assert_true(n >= pl + sl);
	assert_string_equal(j + n - sl, post);
	memmove(j, j + pl, n - pl - sl);
	j[n - pl - sl] = '\0';
	return j;
}

static void expect_cell(struct mg_cell c, enum mg_epoch epoch, const char *want)
{
	char *got = enc_cell(c, epoch);
	assert_string_equal(got, want);
	free(got);
}

/* ------------------------------------------------------------------------ */
/* Statement shapes                                                           */
/* ------------------------------------------------------------------------ */

static void test_mg_result__empty(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	assert_non_null(r);
	expect_json(r, MG_EPOCH_RFC3339, "{\"results\":[]}");
	mg_result_add_stmt(r, 0);
	/* no series: InfluxDB prints the statement id only */
	expect_json(r, MG_EPOCH_RFC3339, "{\"results\":[{\"statement_id\":0}]}");
	mg_result_free(r);
	mg_result_free(NULL);
}

static void test_mg_result__error(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	assert_int_equal(mg_result_set_error(r, s, "database not found: %s", "nope"), 0);
	s = mg_result_add_stmt(r, 1);
	assert_int_equal(mg_result_set_error(r, s, "%s", "undefined function foo()"), 0);
	expect_json(r, MG_EPOCH_RFC3339,
		    "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"},"
		    "{\"statement_id\":1,\"error\":\"undefined function foo()\"}]}");
	mg_result_free(r);
}

static void test_mg_result__tags_sorted_and_copied(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	char k1[] = "region", v1[] = "eu", k2[] = "hostname", v2[] = "host_1", col[] = "max";
	struct mg_tagpair tags[] = {{k1, v1}, {k2, v2}};
	const char *cols[] = {"time", col};
	struct mg_series *se = mg_result_add_series(r, s, "cpu", tags, 2, cols, 2);
	assert_non_null(se);
	struct mg_cell row[] = {TIME(1451606400000000000), I64(58)};
	assert_int_equal(mg_result_add_row(r, se, row), 0);
	/* the caller's buffers are the caller's: the result holds copies */
	memset(k1, 'x', sizeof(k1) - 1);
	memset(v2, 'y', sizeof(v2) - 1);
	memset(col, 'z', sizeof(col) - 1);
	expect_json(r, MG_EPOCH_RFC3339,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\","
		    "\"tags\":{\"hostname\":\"host_1\",\"region\":\"eu\"},"
		    "\"columns\":[\"time\",\"max\"],"
		    "\"values\":[[\"2016-01-01T00:00:00Z\",58]]}]}]}");
	mg_result_free(r);
}

static void test_mg_result__no_tags_several_series(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"name"};
	struct mg_series *se = mg_result_add_series(r, s, "databases", NULL, 0, cols, 1);
	struct mg_cell c = STR("_internal");
	assert_int_equal(mg_result_add_row(r, se, &c), 0);
	c = STR("benchmark");
	assert_int_equal(mg_result_add_row(r, se, &c), 0);
	/* a series without rows prints no "values"; one without a name no "name" */
	const char *cols2[] = {"tagKey"};
	assert_non_null(mg_result_add_series(r, s, "cpu", NULL, 0, cols2, 1));
	assert_non_null(mg_result_add_series(r, s, NULL, NULL, 0, cols2, 1));
	mg_result_add_stmt(r, 1);
	expect_json(r, MG_EPOCH_RFC3339,
		    "{\"results\":[{\"statement_id\":0,\"series\":["
		    "{\"name\":\"databases\",\"columns\":[\"name\"],"
		    "\"values\":[[\"_internal\"],[\"benchmark\"]]},"
		    "{\"name\":\"cpu\",\"columns\":[\"tagKey\"]},{\"columns\":[\"tagKey\"]}]},"
		    "{\"statement_id\":1}]}");
	mg_result_free(r);
}

static void test_mg_result__messages_and_partial(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 3);
	const char *msgs[] = {mg_result_strdup(r, "deprecated", 10)};
	s->messages = msgs;
	s->nmessages = 1;
	const char *cols[] = {"v"};
	struct mg_series *se = mg_result_add_series(r, s, "m", NULL, 0, cols, 1);
	struct mg_cell c = I64(1);
	mg_result_add_row(r, se, &c);
	se->partial = true;
	expect_json(r, MG_EPOCH_RFC3339,
		    "{\"results\":[{\"statement_id\":3,\"series\":[{\"name\":\"m\","
		    "\"columns\":[\"v\"],\"values\":[[1]],\"partial\":true}],"
		    "\"messages\":[{\"level\":\"warning\",\"text\":\"deprecated\"}]}]}");
	mg_result_free(r);
}

/* ------------------------------------------------------------------------ */
/* Cells                                                                      */
/* ------------------------------------------------------------------------ */

static void test_mg_result__cell_types(void **state)
{
	(void)state;
	expect_cell(I64(58), 0, "58");
	expect_cell(I64(INT64_MIN), 0, "-9223372036854775808");
	expect_cell(U64(UINT64_MAX), 0, "18446744073709551615");
	expect_cell(BOOL(true), 0, "true");
	expect_cell(BOOL(false), 0, "false");
	expect_cell(NUL, 0, "null");
	expect_cell(STR("idle"), 0, "\"idle\"");
	expect_cell(STR(NULL), 0, "null");
	expect_cell(STR(""), 0, "\"\"");
}

static void test_mg_result__floats_as_go(void **state)
{
	(void)state;
	/* what Go's encoding/json prints (strconv 'f' or 'e', -1 precision) */
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{58.0, "58"},
		{-58.0, "-58"},
		{0.0, "0"},
		{-0.0, "-0"},
		{0.1, "0.1"},
		{2.5, "2.5"},
		{-0.5, "-0.5"},
		{0.30000000000000004, "0.30000000000000004"},
		{1.0 / 3, "0.3333333333333333"},
		{123456.789, "123456.789"},
		{1e20, "100000000000000000000"},
		{123456789012345678.0, "123456789012345680"},
		{1e21, "1e+21"},
		{1.5e300, "1.5e+300"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{1e-6, "0.000001"},
		{2.5e-5, "0.000025"},
		{1e-7, "1e-7"},
		{-1.25e-9, "-1.25e-9"},
		{1e-10, "1e-10"},
		{5e-324, "5e-324"},
		{1e-310, "1e-310"},
		{-2.5e-320, "-2.5e-320"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{99.99999999999999, "99.99999999999999"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		char *got = enc_cell(F64(cases[i].v), 0);
		if (strcmp(got, cases[i].want))
			fail_msg("%.17g: got %s, want %s", cases[i].v, got, cases[i].want);
		free(got);
	}
	expect_cell(F64(NAN), 0, "null");
	expect_cell(F64(INFINITY), 0, "null");
	expect_cell(F64(-INFINITY), 0, "null");
}

/* Fewest significant digits that read back as v (naive model: try 1..17). */
static int min_digits(double v)
{
	char b[40];
	for (int p = 1; p <= 17; p++) {
		snprintf(b, sizeof(b), "%.*e", p - 1, v);
		if (strtod(b, NULL) == v)
			return p;
	}
	return 17;
}

/* Significant digits of a printed JSON number. */
static int sig_digits(const char *s)
{
	int n = 0, lead = 1, zeros = 0;
	for (; *s && *s != 'e'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (lead && *s == '0')
			continue;
		lead = 0;
		n++;
		zeros = *s == '0' ? zeros + 1 : 0;
	}
	/* trailing zeros of an integer part are padding, not digits */
	return n ? n - zeros : 1;
}

static bool json_number_ok(const char *s)
{
	json_error_t e;
	char doc[64];
	snprintf(doc, sizeof(doc), "[%s]", s);
	/* jansson refuses integers beyond int64 ("too big"); those are checked by strtod */
	json_t *j = json_loads(doc, 0, &e);
	bool ok = j != NULL || strstr(e.text, "too big") != NULL;
	json_decref(j);
	return ok;
}

static void test_mg_result__floats_round_trip_random(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 20000; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t bits = x * UINT64_C(2685821657736338717);
		double v;
		if (i % 3 == 2)  /* subnormals: exponent bits cleared, shorter mantissas */
			bits &= UINT64_C(0x800fffffffffffff) & (UINT64_MAX >> (i % 50));
		memcpy(&v, &bits, sizeof(v));
		if (i % 3 == 1)  /* ordinary magnitudes too, not only extreme exponents */
			v = (double)(int64_t)(bits >> 11) / (double)(1u << (i % 31));
		if (!isfinite(v))
			continue;
		char *got = enc_cell(F64(v), 0);
		double back = strtod(got, NULL);
		if (memcmp(&back, &v, sizeof(v)) && !(v == 0 && back == 0))
			fail_msg("%.17g printed %s reads back %.17g", v, got, back);
		if (!json_number_ok(got))
			fail_msg("%.17g printed %s: not a JSON number", v, got);
		if (sig_digits(got) != min_digits(v))
			fail_msg("%.17g printed %s: %d digits, %d suffice", v, got, sig_digits(got),
				 min_digits(v));
		free(got);
	}
}

/* Times and integers printed without libc's formatting, against it over the whole int64 range. */
static void test_mg_result__times_and_integers_vs_libc(void **state)
{
	(void)state;
	uint64_t seed = 0x71e5;
	expect_cell(I64(INT64_MIN), MG_EPOCH_RFC3339, "-9223372036854775808");
	expect_cell(I64(INT64_MAX), MG_EPOCH_RFC3339, "9223372036854775807");
	expect_cell(TIME(INT64_MIN), MG_EPOCH_RFC3339, "\"1677-09-21T00:12:43.145224192Z\"");
	expect_cell(TIME(INT64_MAX), MG_EPOCH_RFC3339, "\"2262-04-11T23:47:16.854775807Z\"");
	for (int i = 0; i < 20000; i++) {
		int64_t v = (int64_t)cm_splitmix64(&seed);
		if (i % 4 == 1)
			v /= 1000000000; /* whole seconds: no fraction */
		else if (i % 4 == 2)
			v = v % 4000000000000000000 / 1000000 * 1000000; /* milliseconds */
		char want[96], num[32];
		snprintf(num, sizeof(num), "%" PRId64, v);
		expect_cell(I64(v), MG_EPOCH_RFC3339, num);
		int64_t sec = v / 1000000000, frac = v % 1000000000;
		if (frac < 0) {
			frac += 1000000000;
			sec--;
		}
		time_t t = (time_t)sec;
		struct tm tm;
		assert_non_null(gmtime_r(&t, &tm));
		size_t n = strftime(want, sizeof(want), "\"%Y-%m-%dT%H:%M:%S", &tm);
		if (frac) {
			n += (size_t)snprintf(want + n, sizeof(want) - n, ".%09" PRId64, frac);
			while (want[n - 1] == '0')
				want[--n] = 0;
		}
		snprintf(want + n, sizeof(want) - n, "Z\"");
		expect_cell(TIME(v), MG_EPOCH_RFC3339, want);
	}
}

static void test_mg_result__epochs(void **state)
{
	(void)state;
	const int64_t t = INT64_C(1451606400000000000);
	expect_cell(TIME(t), MG_EPOCH_RFC3339, "\"2016-01-01T00:00:00Z\"");
	expect_cell(TIME(t + 500000000), MG_EPOCH_RFC3339, "\"2016-01-01T00:00:00.5Z\"");
	expect_cell(TIME(t + 123456789), MG_EPOCH_RFC3339, "\"2016-01-01T00:00:00.123456789Z\"");
	expect_cell(TIME(t + 10000), MG_EPOCH_RFC3339, "\"2016-01-01T00:00:00.00001Z\"");
	expect_cell(TIME(0), MG_EPOCH_RFC3339, "\"1970-01-01T00:00:00Z\"");
	expect_cell(TIME(-1), MG_EPOCH_RFC3339, "\"1969-12-31T23:59:59.999999999Z\"");
	expect_cell(TIME(INT64_C(1700000000123000000)), MG_EPOCH_RFC3339,
		    "\"2023-11-14T22:13:20.123Z\"");
	const int64_t u = t + INT64_C(5025678901);   /* 2016-01-01T00:00:05.025678901Z */
	expect_cell(TIME(u), MG_EPOCH_NS, "1451606405025678901");
	expect_cell(TIME(u), MG_EPOCH_US, "1451606405025678");
	expect_cell(TIME(u), MG_EPOCH_MS, "1451606405025");
	expect_cell(TIME(u), MG_EPOCH_S, "1451606405");
	expect_cell(TIME(u), MG_EPOCH_M, "24193440");
	expect_cell(TIME(u), MG_EPOCH_H, "403224");
	/* integer epochs truncate (Go's integer division) */
	expect_cell(TIME(-1500000), MG_EPOCH_MS, "-1");
	/* tz(): the wall time in the zone and its offset; epochs ignore it */
	struct mg_cell z = TIME(t);
	z.utc_offset_s = -6 * 3600;
	expect_cell(z, MG_EPOCH_RFC3339, "\"2015-12-31T18:00:00-06:00\"");
	expect_cell(z, MG_EPOCH_S, "1451606400");
	z = TIME(t + 500000000);
	z.utc_offset_s = 5 * 3600 + 30 * 60;
	expect_cell(z, MG_EPOCH_RFC3339, "\"2016-01-01T05:30:00.5+05:30\"");
	z = TIME(-1);
	z.utc_offset_s = 14 * 3600;
	expect_cell(z, MG_EPOCH_RFC3339, "\"1970-01-01T13:59:59.999999999+14:00\"");
	z = TIME(INT64_MAX);
	z.utc_offset_s = -12 * 3600;
	expect_cell(z, MG_EPOCH_RFC3339, "\"2262-04-11T11:47:16.854775807-12:00\"");

	static const struct {
		const char *s;
		int rc;
		enum mg_epoch e;
	} parse[] = {
		{NULL, 0, MG_EPOCH_RFC3339}, {"", 0, MG_EPOCH_RFC3339}, {"ns", 0, MG_EPOCH_NS},
		{"n", 0, MG_EPOCH_NS}, {"u", 0, MG_EPOCH_US}, {"\xc2\xb5", 0, MG_EPOCH_US},
		{"ms", 0, MG_EPOCH_MS}, {"s", 0, MG_EPOCH_S}, {"m", 0, MG_EPOCH_M},
		{"h", 0, MG_EPOCH_H}, {"x", -EINVAL, 0}, {"msx", -EINVAL, 0}, {"S", -EINVAL, 0},
		{"d", -EINVAL, 0},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(parse); i++) {
		enum mg_epoch e = MG_EPOCH_H;
		assert_int_equal(mg_epoch_parse(parse[i].s, &e), parse[i].rc);
		if (parse[i].rc == 0)
			assert_int_equal(e, parse[i].e);
	}
}

static void test_mg_result__escaping(void **state)
{
	(void)state;
	expect_cell(STR("say \"hi\"\\ \n\t\r"), 0, "\"say \\\"hi\\\"\\\\ \\n\\t\\r\"");
	/* jansson writes hex in upper case where Go writes \u001f: the same JSON string */
	expect_cell(STR("\x01\x1f"), 0, "\"\\u0001\\u001F\"");
	expect_cell(STR("caf\xc3\xa9 \xe2\x82\xac"), 0, "\"caf\xc3\xa9 \xe2\x82\xac\"");
	expect_cell(STR("</script>"), 0, "\"</script>\"");
	/* invalid UTF-8: each bad byte becomes U+FFFD, as Go's encoder does */
	expect_cell(STR("a\xff" "b\xc3"), 0, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
	expect_cell(STR("\xed\xa0\x80"), 0, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	/* the front-ends' messages through jansson: bad bytes '?', valid text kept */
	char msg[] = "caf\xc3\xa9 \xff\xe2\x82\xac \xe2\x82 \xed\xa0\x80!";
	mg_utf8_scrub(msg);
	assert_string_equal(msg, "caf\xc3\xa9 ?\xe2\x82\xac ?" "? ???" "!");

	/* names, tag keys and values, columns and errors are escaped too */
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	struct mg_tagpair tags[] = {{"k\"", "v\n"}};
	const char *cols[] = {"a\\b"};
	struct mg_series *se = mg_result_add_series(r, s, "m\"x", tags, 1, cols, 1);
	assert_non_null(se);
	s = mg_result_add_stmt(r, 1);
	mg_result_set_error(r, s, "unable to parse 'a\"b'\x02");
	expect_json(r, 0,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\\\"x\","
		    "\"tags\":{\"k\\\"\":\"v\\n\"},\"columns\":[\"a\\\\b\"]}]},"
		    "{\"statement_id\":1,\"error\":\"unable to parse 'a\\\"b'\\u0002\"}]}");
	mg_result_free(r);
}

/* A string longer than the encoder's buffer goes out whole and intact. */
static void test_mg_result__long_strings(void **state)
{
	(void)state;
	size_t n = 100000;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	big[n / 2] = '"';   /* and one that needs escaping */
	char *got = enc_cell(STR(big), 0);
	assert_int_equal(strlen(got), n + 3);
	assert_memory_equal(got + 1, big, n / 2);
	assert_memory_equal(got + 1 + n / 2, "\\\"", 2);
	assert_memory_equal(got + 3 + n / 2, big + n / 2 + 1, n - n / 2 - 1);
	free(got);
	free(big);
}

/*
 * The reference model of string escaping: jansson (which the encoder
 * matches byte for byte) over the string with each byte that starts no
 * valid UTF-8 character replaced by U+FFFD (validity also by jansson).
 */
static char *escape_by_jansson(const char *s, size_t len)
{
	char *fixed = malloc(len * 3 + 1);
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		size_t k = 0;
		for (size_t t = 1; t <= 4 && i + t <= len && !k; t++) {
			json_t *j = json_stringn(s + i, t);
			k = j ? t : 0;
			json_decref(j);
		}
		if (k) {
			memcpy(fixed + n, s + i, k);
			n += k;
			i += k;
		} else {
			memcpy(fixed + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	json_t *j = json_stringn(fixed, n);
	assert_non_null(j);
	char *out = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	free(fixed);
	return out;
}

static void test_mg_result__escaping_random(void **state)
{
	(void)state;
	/* pieces: controls, quote, backslash, DEL, ASCII, 2-, 3-, 4-byte UTF-8, bad bytes */
	static const char *const pieces[] = {
		"\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", "\"", "\\", "\x7f", "/",
		"a", "Z", " ", "<&>", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd",
		"\xe2\x80\xa8", "\x80", "\xbf", "\xc0\xaf", "\xc3", "\xe2\x82", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf8", "\xff", "\xfe",
	};
	uint64_t x = 0x2545f4914f6cdd1du;
	char s[256];
	for (int i = 0; i < 5000; i++) {
		size_t n = 0;
		for (int p = 0; p < i % 24; p++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			const char *piece = pieces[x % CM_ARRAY_SIZE(pieces)];
			memcpy(s + n, piece, strlen(piece));
			n += strlen(piece);
		}
		s[n] = '\0';
		char *want = escape_by_jansson(s, n);
		char *got = enc_cell(STR(s), 0);
		if (strcmp(got, want))
			fail_msg("case %d: got %s, want %s", i, got, want);
		free(got);
		free(want);
	}
}

/* ------------------------------------------------------------------------ */
/* Chunked and pretty                                                         */
/* ------------------------------------------------------------------------ */

static struct mg_result *chunk_fixture(void)
{
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"time", "v"};
	struct mg_tagpair tags[] = {{"host", "a"}};
	struct mg_series *se = mg_result_add_series(r, s, "cpu", tags, 1, cols, 2);
	for (int i = 1; i <= 5; i++) {
		struct mg_cell row[] = {TIME(i), I64(i)};
		assert_int_equal(mg_result_add_row(r, se, row), 0);
	}
	se = mg_result_add_series(r, s, "mem", NULL, 0, cols, 2);
	struct mg_cell row[] = {TIME(1), F64(9.5)};
	mg_result_add_row(r, se, row);
	s = mg_result_add_stmt(r, 1);
	mg_result_set_error(r, s, "boom");
	mg_result_add_stmt(r, 2);
	return r;
}

static void test_mg_result__chunked(void **state)
{
	(void)state;
	struct mg_result *r = chunk_fixture();
#define CPU "{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"v\"],"
	char *got = enc_chunked(r, 2);
	assert_string_equal(got,
		"{\"results\":[{\"statement_id\":0,\"series\":[" CPU
		"\"values\":[[1,1],[2,2]],\"partial\":true}],\"partial\":true}]}\n"
		"{\"results\":[{\"statement_id\":0,\"series\":[" CPU
		"\"values\":[[3,3],[4,4]],\"partial\":true}],\"partial\":true}]}\n"
		"{\"results\":[{\"statement_id\":0,\"series\":[" CPU
		"\"values\":[[5,5]]}],\"partial\":true}]}\n"
		"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\","
		"\"columns\":[\"time\",\"v\"],\"values\":[[1,9.5]]}]}]}\n"
		"{\"results\":[{\"statement_id\":1,\"error\":\"boom\"}]}\n"
		"{\"results\":[{\"statement_id\":2}]}\n");
	free(got);

	/* chunk_size at or above the row counts (and 0: no limit): one document per series */
	for (uint64_t chunk = 0; chunk <= 5; chunk += 5) {
		got = enc_chunked(r, chunk);
		assert_string_equal(got,
			"{\"results\":[{\"statement_id\":0,\"series\":[" CPU
			"\"values\":[[1,1],[2,2],[3,3],[4,4],[5,5]]}],\"partial\":true}]}\n"
			"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\","
			"\"columns\":[\"time\",\"v\"],\"values\":[[1,9.5]]}]}]}\n"
			"{\"results\":[{\"statement_id\":1,\"error\":\"boom\"}]}\n"
			"{\"results\":[{\"statement_id\":2}]}\n");
		free(got);
	}
#undef CPU
	/* every document parses on its own */
	got = enc_chunked(r, 1);
	int docs = 0;
	for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n"), docs++) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		assert_non_null(j);
		json_decref(j);
	}
	assert_int_equal(docs, 5 + 1 + 1 + 1);
	free(got);
	mg_result_free(r);
}

static void test_mg_result__pretty(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"time", "v"};
	struct mg_tagpair tags[] = {{"host", "a"}};
	struct mg_series *se = mg_result_add_series(r, s, "cpu", tags, 1, cols, 2);
	struct mg_cell row[] = {TIME(1), F64(2.5)};
	mg_result_add_row(r, se, row);
	mg_result_add_stmt(r, 1);
	char *got = enc(r, MG_EPOCH_NS, true);
	/* Go's json.MarshalIndent(resp, "", "    "), as InfluxDB's pretty=true */
	assert_string_equal(got,
		"{\n"
		"    \"results\": [\n"
		"        {\n"
		"            \"statement_id\": 0,\n"
		"            \"series\": [\n"
		"                {\n"
		"                    \"name\": \"cpu\",\n"
		"                    \"tags\": {\n"
		"                        \"host\": \"a\"\n"
		"                    },\n"
		"                    \"columns\": [\n"
		"                        \"time\",\n"
		"                        \"v\"\n"
		"                    ],\n"
		"                    \"values\": [\n"
		"                        [\n"
		"                            1,\n"
		"                            2.5\n"
		"                        ]\n"
		"                    ]\n"
		"                }\n"
		"            ]\n"
		"        },\n"
		"        {\n"
		"            \"statement_id\": 1\n"
		"        }\n"
		"    ]\n"
		"}");
	free(got);
	mg_result_free(r);

	/* pretty and compact parse to the same value, the chunk fixture included */
	r = chunk_fixture();
	json_t *a = parse_both(r, MG_EPOCH_RFC3339);
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(json_object_get(a, "results"), 1), "statement_id")), 1);
	json_decref(a);
	struct mg_result_buf o = {0};
	struct mg_json_opts opts = {.pretty = true};
	assert_int_equal(mg_result_json_chunked(r, &opts, 2, mg_result_buf_write, &o), 0);
	assert_non_null(strstr(o.p, "}\n{\n    \"results\": [\n"));
	free(o.p);
	mg_result_free(r);
}

/* ------------------------------------------------------------------------ */
/* Writers and memory                                                         */
/* ------------------------------------------------------------------------ */

static int stop_after;

static int failing_write(void *arg, const char *s, size_t len)
{
	(void)s;
	(void)len;
	(*(int *)arg)++;
	return --stop_after <= 0 ? 7 : 0;
}

static void test_mg_result__writer_error_stops(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"v"};
	struct mg_series *se = mg_result_add_series(r, s, "m", NULL, 0, cols, 1);
	for (int i = 0; i < 20000; i++) {
		struct mg_cell c = I64(i);
		assert_int_equal(mg_result_add_row(r, se, &c), 0);
	}
	int calls = 0;
	stop_after = 1;
	assert_int_equal(mg_result_json(r, NULL, failing_write, &calls), 7);
	assert_int_equal(calls, 1);
	calls = 0;
	stop_after = 2;
	assert_int_equal(mg_result_json_chunked(r, NULL, 10, failing_write, &calls), 7);
	assert_int_equal(calls, 2);
	mg_result_free(r);
}

/* The front-ends' buffer: any sequence of pieces, NUL-terminated, reusable. */
static void test_mg_result__buf(void **state)
{
	(void)state;
	struct mg_result_buf b = {0};
	assert_int_equal(mg_result_buf_write(&b, "", 0), 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	char want[20000];
	size_t n = 0;
	for (size_t k = 1; n + k <= sizeof(want); k = k * 3 + 1) {
		for (size_t i = 0; i < k; i++)
			want[n + i] = (char)('a' + (n + i) % 26);
		assert_int_equal(mg_result_buf_write(&b, want + n, k), 0);
		n += k;
		assert_int_equal(b.len, n);
		assert_true(b.cap > b.len);
		assert_int_equal(b.p[n], '\0');
	}
	assert_memory_equal(b.p, want, n);
	b.len = 0;
	assert_int_equal(mg_result_buf_write(&b, "xy", 2), 0);
	assert_string_equal(b.p, "xy");
	free(b.p);
}

static void test_mg_result__growth_and_bytes(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	size_t b0 = mg_result_bytes(r);
	struct mg_stmt_result *s = NULL;
	for (uint32_t i = 0; i < 10; i++)
		s = mg_result_add_stmt(r, i);
	const char *cols[] = {"time", "host", "v"};
	struct mg_series *se = NULL;
	for (int k = 0; k < 100; k++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", k);
		se = mg_result_add_series(r, s, name, NULL, 0, cols, 3);
		assert_non_null(se);
	}
	for (int i = 0; i < 5000; i++) {
		char host[16];
		snprintf(host, sizeof(host), "host_%d", i);
		struct mg_cell row[] = {TIME(i), STR(host), F64(i * 0.5)};
		assert_int_equal(mg_result_add_row(r, se, row), 0);
	}
	assert_int_equal(r->nstmts, 10);
	assert_int_equal(s->nseries, 100);
	assert_int_equal(se->nrows, 5000);
	assert_string_equal(s->series[0].name, "s0");
	assert_string_equal(se->cells[4321 * 3 + 1].s, "host_4321");
	assert_true(se->cells[4999 * 3 + 2].f == 2499.5);
	size_t b1 = mg_result_bytes(r);
	/* at least the cells and the copied strings, and not wildly more */
	assert_true(b1 > b0 + 5000 * 3 * sizeof(struct mg_cell) + 5000 * 9);
	assert_true(b1 < b0 + 4 * (8192 * 3 * sizeof(struct mg_cell) + 5000 * 16) + 200000);
	const char *d = mg_result_strdup(r, "abc\0def", 7);
	assert_memory_equal(d, "abc\0def", 8);
	assert_true(mg_result_bytes(r) >= b1);
	mg_result_free(r);
}

/*
 * A large answer through mg_result_add_rows: rows sharing result-owned
 * strings (more distinct ones than the encoder remembers, so memo slots
 * collide and are replaced; some need escapes, some are too long to
 * remember) between every cell type, over many buffer flushes. The compact
 * encoding must parse back to exactly the cells, and equal the pretty one
 * as JSON.
 */
static void test_mg_result__add_rows_shared_strings(void **state)
{
	(void)state;
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	const char *cols[] = {"time", "host", "v", "note"};
	struct mg_series *se = mg_result_add_series(r, s, "cpu", NULL, 0, cols, 4);
	enum { NSTR = 600, NROWS = 3000 };
	const char *strs[NSTR];
	for (int i = 0; i < NSTR; i++) {
		char b[128];
		int n = i % 7 == 0 ? snprintf(b, sizeof(b), "q\"%d\\\n\x01\xc3\xa9", i)
		      : i % 11 == 0 ? snprintf(b, sizeof(b), "%0100d", i)
				     : snprintf(b, sizeof(b), "host_%d", i);
		strs[i] = mg_result_strdup(r, b, (size_t)n);
	}
	uint64_t x = 42;
	struct mg_cell *c = mg_result_add_rows(r, se, NROWS / 2);
	assert_non_null(c);
	for (int i = 0; i < NROWS; i++) {
		if (i == NROWS / 2) {
			c = mg_result_add_rows(r, se, NROWS - NROWS / 2); /* a second batch grows */
			assert_non_null(c);
		}
		int k = (int)(cm_splitmix64(&x) % NSTR);
		c[0] = TIME(1451606400000000000 + (int64_t)i * 10000000000);
		c[1] = STR(strs[k]);
		c[2] = i % 3 ? F64(i * 0.25) : I64(-i);
		c[3] = i % 5 ? STR(strs[(k * 7) % NSTR]) : i % 2 ? BOOL(true) : NUL;
		c += 4;
	}
	assert_int_equal(se->nrows, NROWS);
	json_t *a = parse_both(r, MG_EPOCH_NS);
	json_t *vals = json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(a, "results"), 0), "series"), 0), "values");
	assert_int_equal(json_array_size(vals), NROWS);
	for (int i = 0; i < NROWS; i++) {
		const struct mg_cell *w = &se->cells[i * 4];
		json_t *row = json_array_get(vals, (size_t)i);
		assert_int_equal(json_integer_value(json_array_get(row, 0)), w[0].i);
		assert_string_equal(json_string_value(json_array_get(row, 1)), w[1].s);
		json_t *v = json_array_get(row, 2);
		if (w[2].type == MG_CELL_I64)
			assert_int_equal(json_integer_value(v), w[2].i);
		else
			assert_true(json_number_value(v) == w[2].f);
		json_t *n = json_array_get(row, 3);
		if (w[3].type == MG_CELL_STR)
			assert_string_equal(json_string_value(n), w[3].s);
		else if (w[3].type == MG_CELL_BOOL)
			assert_true(json_is_true(n));
		else
			assert_true(json_is_null(n));
	}
	json_decref(a);
	mg_result_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_result__empty),
		cmocka_unit_test(test_mg_result__error),
		cmocka_unit_test(test_mg_result__tags_sorted_and_copied),
		cmocka_unit_test(test_mg_result__no_tags_several_series),
		cmocka_unit_test(test_mg_result__messages_and_partial),
		cmocka_unit_test(test_mg_result__cell_types),
		cmocka_unit_test(test_mg_result__floats_as_go),
		cmocka_unit_test(test_mg_result__floats_round_trip_random),
		cmocka_unit_test(test_mg_result__epochs),
		cmocka_unit_test(test_mg_result__times_and_integers_vs_libc),
		cmocka_unit_test(test_mg_result__escaping),
		cmocka_unit_test(test_mg_result__long_strings),
		cmocka_unit_test(test_mg_result__escaping_random),
		cmocka_unit_test(test_mg_result__chunked),
		cmocka_unit_test(test_mg_result__pretty),
		cmocka_unit_test(test_mg_result__writer_error_stops),
		cmocka_unit_test(test_mg_result__buf),
		cmocka_unit_test(test_mg_result__growth_and_bytes),
		cmocka_unit_test(test_mg_result__add_rows_shared_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
