/*
 * test_dp_statsd.c - unit tests for dataplane/dp_statsd.c, the StatsD /
 * DogStatsD decoder: a table of lines that must parse (with the name, type,
 * values, deltas, rate, tags and timestamp they must give), a table of lines
 * that must be rejected (with the status), events and service checks,
 * multi-line datagrams with bad lines in the middle, consumed-bytes
 * accounting, limits and the series keys (checked with st_key_parse).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "dp_statsd.h"
#include "tst_util.h"

static struct dp_statsd metric;

/* Decode one NUL-terminated line as a complete datagram. */
static enum dp_statsd_status decode1(const char *text, size_t *consumed)
{
	size_t used = 0;
	enum dp_statsd_status st =
		dp_statsd_decode(&metric, text, strlen(text), DP_STATSD_COMPLETE, &used);
	if (consumed)
		*consumed = used;
	return st;
}

static void assert_str(struct st_str s, const char *want, const char *ctx)
{
	if (!tst_str_is(s, want))
		fail_msg("%s: got '%.*s', want '%s'", ctx, (int)s.len, s.p, want);
}

/* ------------------------------------------------------------------------ */
/* Must parse                                                                */
/* ------------------------------------------------------------------------ */

#define MAXV 8

struct parse_case {
	const char *in;
	const char *name;
	enum dp_statsd_type type;
	const char *raw[MAXV + 1];       /* NULL ends */
	double v[MAXV];                  /* ignored for sets */
	uint64_t delta_mask;
	double rate;                     /* 0: 1.0 expected, no HAS_RATE */
	const char *tags[2 * 6 + 1];     /* k, v, ... in the order sent; NULL ends */
	int64_t ts_ns;                   /* -1: no HAS_TS */
	uint32_t flags;                  /* extra flags expected (HAS_CONTAINER) */
};

#define C DP_STATSD_COUNTER
#define G DP_STATSD_GAUGE
#define MS DP_STATSD_TIMER
#define H DP_STATSD_HISTOGRAM
#define D DP_STATSD_DISTRIBUTION
#define S DP_STATSD_SET
#define NOTS (-1)

static const struct parse_case parse_cases[] = {
	/* the six types */
	{"page.views:1|c", "page.views", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	{"fuel.level:0.5|g", "fuel.level", G, {"0.5"}, {0.5}, 0, 0, {NULL}, NOTS, 0},
	{"song.length:240|h", "song.length", H, {"240"}, {240}, 0, 0, {NULL}, NOTS, 0},
	{"users.uniques:1234|s", "users.uniques", S, {"1234"}, {0}, 0, 0, {NULL}, NOTS, 0},
	{"req.time:320|ms", "req.time", MS, {"320"}, {320}, 0, 0, {NULL}, NOTS, 0},
	{"payload:12.25|d", "payload", D, {"12.25"}, {12.25}, 0, 0, {NULL}, NOTS, 0},
	/* numbers: signs, fractions, exponents, leading zeros, extremes */
	{"a:-5|c", "a", C, {"-5"}, {-5}, 0, 0, {NULL}, NOTS, 0},
	{"a:+5|c", "a", C, {"+5"}, {5}, 0, 0, {NULL}, NOTS, 0},
	{"a:.5|ms", "a", MS, {".5"}, {0.5}, 0, 0, {NULL}, NOTS, 0},
	{"a:5.|ms", "a", MS, {"5."}, {5}, 0, 0, {NULL}, NOTS, 0},
	{"a:1e3|h", "a", H, {"1e3"}, {1e3}, 0, 0, {NULL}, NOTS, 0},
	{"a:2.5E-3|h", "a", H, {"2.5E-3"}, {2.5e-3}, 0, 0, {NULL}, NOTS, 0},
	{"a:1e+2|h", "a", H, {"1e+2"}, {1e2}, 0, 0, {NULL}, NOTS, 0},
	{"a:007|c", "a", C, {"007"}, {7}, 0, 0, {NULL}, NOTS, 0},
	{"a:0|c", "a", C, {"0"}, {0}, 0, 0, {NULL}, NOTS, 0},
	{"a:0.30000000000000004|d", "a", D, {"0.30000000000000004"}, {0.30000000000000004}, 0, 0,
	 {NULL}, NOTS, 0},
	{"a:1.7976931348623157e308|d", "a", D, {"1.7976931348623157e308"},
	 {1.7976931348623157e308}, 0, 0, {NULL}, NOTS, 0},
	{"a:123456789012345678901234567890|d", "a", D, {"123456789012345678901234567890"},
	 {123456789012345678901234567890.0}, 0, 0, {NULL}, NOTS, 0},
	{"a:1e-400|d", "a", D, {"1e-400"}, {0.0}, 0, 0, {NULL}, NOTS, 0},
	{"a:18446744073709551616|c", "a", C, {"18446744073709551616"}, {18446744073709551616.0},
	 0, 0, {NULL}, NOTS, 0},
	/* gauges: a sign makes a delta */
	{"g:+4|g", "g", G, {"+4"}, {4}, 1, 0, {NULL}, NOTS, 0},
	{"g:-4.5|g", "g", G, {"-4.5"}, {-4.5}, 1, 0, {NULL}, NOTS, 0},
	{"g:-0|g", "g", G, {"-0"}, {-0.0}, 1, 0, {NULL}, NOTS, 0},
	{"g:3:+1:-2|g", "g", G, {"3", "+1", "-2"}, {3, 1, -2}, 6, 0, {NULL}, NOTS, 0},
	/* value packing */
	{"lat:1:2:3|d", "lat", D, {"1", "2", "3"}, {1, 2, 3}, 0, 0, {NULL}, NOTS, 0},
	{"lat:1.5:2e1:-3|ms|@0.25", "lat", MS, {"1.5", "2e1", "-3"}, {1.5, 20, -3}, 0, 0.25,
	 {NULL}, NOTS, 0},
	{"u:alice:bob|s", "u", S, {"alice", "bob"}, {0}, 0, 0, {NULL}, NOTS, 0},
	/* sets keep any bytes as a string, including signs and letters */
	{"u:-nan+x|s", "u", S, {"-nan+x"}, {0}, 0, 0, {NULL}, NOTS, 0},
	{"u:a b@#|s", "u", S, {"a b@#"}, {0}, 0, 0, {NULL}, NOTS, 0},
	/* sample rates */
	{"a:1|c|@0.1", "a", C, {"1"}, {1}, 0, 0.1, {NULL}, NOTS, 0},
	{"a:1|c|@1", "a", C, {"1"}, {1}, 0, 1.0, {NULL}, NOTS, 0},
	{"a:1|c|@1.0", "a", C, {"1"}, {1}, 0, 1.0, {NULL}, NOTS, 0},
	{"a:1|c|@1e-3", "a", C, {"1"}, {1}, 0, 1e-3, {NULL}, NOTS, 0},
	/* tags: unsorted, valueless, values with ':' */
	{"a:1|c|#env:prod,region:eu", "a", C, {"1"}, {1}, 0, 0, {"env", "prod", "region", "eu"},
	 NOTS, 0},
	{"a:1|c|#z:1,canary,a:2", "a", C, {"1"}, {1}, 0, 0, {"z", "1", "canary", "", "a", "2"},
	 NOTS, 0},
	{"a:1|c|#url:http://x:80/p", "a", C, {"1"}, {1}, 0, 0, {"url", "http://x:80/p"}, NOTS, 0},
	{"a:1|c|#k:", "a", C, {"1"}, {1}, 0, 0, {"k", ""}, NOTS, 0},
	{"a:1|c|#k:@v#w", "a", C, {"1"}, {1}, 0, 0, {"k", "@v#w"}, NOTS, 0},
	/* timestamps, container ids, every section in any order */
	{"a:1|g|T1656581400", "a", G, {"1"}, {1}, 0, 0, {NULL}, INT64_C(1656581400000000000), 0},
	{"a:1|g|T0", "a", G, {"1"}, {1}, 0, 0, {NULL}, 0, 0},
	{"a:1|g|T9223372036", "a", G, {"1"}, {1}, 0, 0, {NULL}, INT64_C(9223372036000000000), 0},
	{"a:1|c|c:83c0a99c0a54c0c187f461c7980e9b57f3f6a8b0c918c8d93df19a9de6f3fe1d", "a", C, {"1"},
	 {1}, 0, 0, {NULL}, NOTS, DP_STATSD_HAS_CONTAINER},
	{"a:1|c|c:", "a", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, DP_STATSD_HAS_CONTAINER},
	{"a:2:3|d|#k:v|T1700000000|@0.5|c:abc", "a", D, {"2", "3"}, {2, 3}, 0, 0.5, {"k", "v"},
	 INT64_C(1700000000000000000), DP_STATSD_HAS_CONTAINER},
	{"a:2|d|@0.5|T1|#x", "a", D, {"2"}, {2}, 0, 0.5, {"x", ""}, 1000000000, 0},
	/* names are kept as sent: any byte but : | @ # blanks and controls */
	{"My-App_1.req/s[x]{y}=\"q\"\\,:1|c", "My-App_1.req/s[x]{y}=\"q\"\\,", C, {"1"}, {1}, 0, 0,
	 {NULL}, NOTS, 0},
	{"\xc3\xa9t\xc3\xa9:1|c", "\xc3\xa9t\xc3\xa9", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	{"_errors:1|c", "_errors", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	{"_e:1|c", "_e", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	{"_sc:1|c", "_sc", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	/* CR LF */
	{"a:1|c\r\n", "a", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
	{"a:1|c\n", "a", C, {"1"}, {1}, 0, 0, {NULL}, NOTS, 0},
};

static void check_parse_case(const struct parse_case *c)
{
	size_t used;
	enum dp_statsd_status st = decode1(c->in, &used);
	if (st != DP_STATSD_OK)
		fail_msg("'%s': status %s at %u", c->in, dp_statsd_status_name(st), metric.err_off);
	assert_int_equal(used, strlen(c->in));
	assert_str(metric.name, c->name, c->in);
	if (metric.type != c->type)
		fail_msg("'%s': type %s", c->in, dp_statsd_type_name(metric.type));
	uint32_t n = 0;
	while (n < MAXV && c->raw[n])
		n++;
	if (metric.nvalues != n)
		fail_msg("'%s': %u values, want %u", c->in, metric.nvalues, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_str(metric.raw[i], c->raw[i], c->in);
		if (c->type == DP_STATSD_SET) {
			assert_true(metric.v[i] == 0.0);
		} else if (memcmp(&metric.v[i], &c->v[i], sizeof(double)) != 0) {
			fail_msg("'%s': v[%u] = %.17g, want %.17g", c->in, i, metric.v[i], c->v[i]);
		}
		assert_int_equal(dp_statsd_is_delta(&metric, i), (c->delta_mask >> i) & 1);
	}
	assert_true(metric.delta_mask == c->delta_mask);
	assert_int_equal(!!(metric.flags & DP_STATSD_HAS_DELTA), c->delta_mask != 0);
	if (c->rate == 0) {
		assert_true(metric.rate == 1.0);
		assert_false(metric.flags & DP_STATSD_HAS_RATE);
	} else {
		assert_true(metric.rate == c->rate);
		assert_true(metric.flags & DP_STATSD_HAS_RATE);
	}
	uint32_t nt = 0;
	while (c->tags[2 * nt])
		nt++;
	if (metric.ntags != nt)
		fail_msg("'%s': %u tags, want %u", c->in, metric.ntags, nt);
	for (uint32_t i = 0; i < nt; i++) {
		assert_str(metric.tags[i].key, c->tags[2 * i], c->in);
		assert_str(metric.tags[i].value, c->tags[2 * i + 1], c->in);
	}
	if (c->ts_ns == NOTS) {
		assert_false(metric.flags & DP_STATSD_HAS_TS);
		assert_true(metric.ts_ns == 0);
	} else {
		assert_true(metric.flags & DP_STATSD_HAS_TS);
		assert_true(metric.ts_ns == c->ts_ns);
	}
	assert_int_equal(metric.flags & DP_STATSD_HAS_CONTAINER, c->flags);
}

static void test_dp_statsd__parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(parse_cases); i++)
		check_parse_case(&parse_cases[i]);
}

/* ------------------------------------------------------------------------ */
/* Must reject                                                               */
/* ------------------------------------------------------------------------ */

struct reject_case {
	const char *in;
	enum dp_statsd_status st;
	uint32_t err_off;
};

static const struct reject_case reject_cases[] = {
	/* names */
	{":1|c", DP_STATSD_BAD_NAME, 0},
	{" a:1|c", DP_STATSD_BAD_NAME, 0},
	{"a b:1|c", DP_STATSD_BAD_NAME, 1},
	{"a\t:1|c", DP_STATSD_BAD_NAME, 1},
	{"a@b:1|c", DP_STATSD_BAD_NAME, 1},
	{"a#b:1|c", DP_STATSD_BAD_NAME, 1},
	{"a\x01:1|c", DP_STATSD_BAD_NAME, 1},
	{"a\x7f:1|c", DP_STATSD_BAD_NAME, 1},
	{"|c", DP_STATSD_BAD_NAME, 0},
	/* values */
	{"a", DP_STATSD_BAD_VALUE, 1},
	{"a|c", DP_STATSD_BAD_VALUE, 1},
	{"a:|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1::2|d", DP_STATSD_BAD_VALUE, 4},
	{"a:1:|d", DP_STATSD_BAD_VALUE, 4},
	{"a::1|d", DP_STATSD_BAD_VALUE, 2},
	{"a:x|c", DP_STATSD_BAD_VALUE, 2},
	{"a:nan|g", DP_STATSD_BAD_VALUE, 2},
	{"a:NaN|ms", DP_STATSD_BAD_VALUE, 2},
	{"a:inf|h", DP_STATSD_BAD_VALUE, 2},
	{"a:-Infinity|d", DP_STATSD_BAD_VALUE, 2},
	{"a:1e309|c", DP_STATSD_BAD_VALUE, 2},
	{"a:-1e999|g", DP_STATSD_BAD_VALUE, 2},
	{"a:0x10|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1_000|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1,5|c", DP_STATSD_BAD_VALUE, 2},
	{"a:.|c", DP_STATSD_BAD_VALUE, 2},
	{"a:-|g", DP_STATSD_BAD_VALUE, 2},
	{"a:+|g", DP_STATSD_BAD_VALUE, 2},
	{"a:1e|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1e+|c", DP_STATSD_BAD_VALUE, 2},
	{"a:--1|c", DP_STATSD_BAD_VALUE, 2},
	{"a: 1|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1 |c", DP_STATSD_BAD_VALUE, 2},
	{"a:1i|c", DP_STATSD_BAD_VALUE, 2},
	{"a:1:2:x|ms", DP_STATSD_BAD_VALUE, 6},
	{"a:00000000000000000000000000000000000000000000000000000000000000001|c",
	 DP_STATSD_BAD_VALUE, 2},
	/* types */
	{"a:1", DP_STATSD_BAD_TYPE, 3},
	{"a:1|", DP_STATSD_BAD_TYPE, 4},
	{"a:1|x", DP_STATSD_BAD_TYPE, 4},
	{"a:1|C", DP_STATSD_BAD_TYPE, 4},
	{"a:1|cc", DP_STATSD_BAD_TYPE, 4},
	{"a:1|m", DP_STATSD_BAD_TYPE, 4},
	{"a:1|msx", DP_STATSD_BAD_TYPE, 4},
	{"a:1|c ", DP_STATSD_BAD_TYPE, 4},
	{"a:1||c", DP_STATSD_BAD_TYPE, 4},
	/* sample rates */
	{"a:1|c|@", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@0", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@0.0", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@-0.5", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@1.01", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@2", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@nan", DP_STATSD_BAD_RATE, 6},
	{"a:1|c|@0.5x", DP_STATSD_BAD_RATE, 6},
	/* tags */
	{"a:1|c|#", DP_STATSD_BAD_TAG, 7},
	{"a:1|c|#,", DP_STATSD_BAD_TAG, 7},
	{"a:1|c|#a:1,", DP_STATSD_BAD_TAG, 11},
	{"a:1|c|#a:1,,b", DP_STATSD_BAD_TAG, 11},
	{"a:1|c|#:v", DP_STATSD_BAD_TAG, 7},
	{"a:1|c|#k v", DP_STATSD_BAD_TAG, 8},
	{"a:1|c|#k:v w", DP_STATSD_BAD_TAG, 10},
	{"a:1|c|#k:v\t", DP_STATSD_BAD_TAG, 10},
	{"a:1|c|#a:1,a:2", DP_STATSD_DUP_TAG, 11},
	{"a:1|c|#a,a", DP_STATSD_DUP_TAG, 9},
	{"a:1|c|#b:1,a,b", DP_STATSD_DUP_TAG, 13},
	/* timestamps */
	{"a:1|g|T", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T-1", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T1.5", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T+1", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T9223372037", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T99999999999999999999", DP_STATSD_BAD_TIMESTAMP, 6},
	{"a:1|g|T1x", DP_STATSD_BAD_TIMESTAMP, 6},
	/* sections */
	{"a:1|c|", DP_STATSD_BAD_SECTION, 6},
	{"a:1|c||@0.5", DP_STATSD_BAD_SECTION, 6},
	{"a:1|c|x", DP_STATSD_BAD_SECTION, 6},
	{"a:1|c|c", DP_STATSD_BAD_SECTION, 6},
	{"a:1|c|card:low", DP_STATSD_BAD_SECTION, 6},
	{"a:1|c|@0.5|@0.5", DP_STATSD_BAD_SECTION, 11},
	{"a:1|c|#a|#b", DP_STATSD_BAD_SECTION, 9},
	{"a:1|c|T1|T2", DP_STATSD_BAD_SECTION, 9},
	{"a:1|c|c:x|c:y", DP_STATSD_BAD_SECTION, 10},
	{"a:1|c| @0.5", DP_STATSD_BAD_SECTION, 6},
	/* events and service checks that are not well formed */
	{"_e{", DP_STATSD_BAD_EVENT, 0},
	{"_e{5,4}:title|tex", DP_STATSD_BAD_EVENT, 8},
	{"_e{5,4}:titl|text", DP_STATSD_BAD_EVENT, 8},
	{"_e{5,4}:title|textX", DP_STATSD_BAD_EVENT, 18},
	{"_e{0,4}::|text", DP_STATSD_BAD_EVENT, 0},
	{"_e{x,4}:title|text", DP_STATSD_BAD_EVENT, 0},
	{"_e{5}:title|text", DP_STATSD_BAD_EVENT, 0},
	{"_e{5,4}title|text", DP_STATSD_BAD_EVENT, 0},
	{"_sc|", DP_STATSD_BAD_SERVICE_CHECK, 4},
	{"_sc||0", DP_STATSD_BAD_SERVICE_CHECK, 4},
	{"_sc|db", DP_STATSD_BAD_SERVICE_CHECK, 4},
	{"_sc|db|", DP_STATSD_BAD_SERVICE_CHECK, 7},
	{"_sc|db|4", DP_STATSD_BAD_SERVICE_CHECK, 7},
	{"_sc|db|01", DP_STATSD_BAD_SERVICE_CHECK, 7},
};

static void test_dp_statsd__reject_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(reject_cases); i++) {
		const struct reject_case *c = &reject_cases[i];
		size_t used;
		enum dp_statsd_status st = decode1(c->in, &used);
		if (st != c->st)
			fail_msg("'%s': status %s, want %s", c->in, dp_statsd_status_name(st),
				 dp_statsd_status_name(c->st));
		if (metric.err_off != c->err_off)
			fail_msg("'%s': err_off %u, want %u", c->in, metric.err_off, c->err_off);
		assert_int_equal(used, strlen(c->in));
		assert_true(metric.err_off <= metric.text.len);
	}
}

/* ------------------------------------------------------------------------ */
/* Events, service checks, blank lines                                       */
/* ------------------------------------------------------------------------ */

static void test_dp_statsd__events_and_service_checks_are_recognised(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		enum dp_statsd_status st;
		const char *name;
	} cases[] = {
		{"_e{5,4}:title|text", DP_STATSD_EVENT, "title"},
		{"_e{5,0}:title|", DP_STATSD_EVENT, "title"},
		{"_e{2,4}:a||text|x:y", DP_STATSD_EVENT, "a|"},
		{"_e{5,13}:Oops!|disk\\nis full|d:1656581400|h:web1|p:low|t:error|#env:prod",
		 DP_STATSD_EVENT, "Oops!"},
		{"_sc|db.up|0", DP_STATSD_SERVICE_CHECK, "db.up"},
		{"_sc|db.up|3|d:1656581400|h:web1|#env:prod|m:all good", DP_STATSD_SERVICE_CHECK,
		 "db.up"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		size_t used;
		enum dp_statsd_status st = decode1(cases[i].in, &used);
		if (st != cases[i].st)
			fail_msg("'%s': status %s", cases[i].in, dp_statsd_status_name(st));
		assert_int_equal(used, strlen(cases[i].in));
		assert_str(metric.name, cases[i].name, cases[i].in);
		assert_int_equal(metric.nvalues, 0);
	}
}

static void test_dp_statsd__blank_lines_are_empty(void **state)
{
	(void)state;
	static const char *const blanks[] = {"\n", "\r\n", "  \n", "\t", " \t \r\n", "\r"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(blanks); i++) {
		size_t used;
		assert_int_equal(decode1(blanks[i], &used), DP_STATSD_EMPTY);
		assert_int_equal(used, strlen(blanks[i]));
	}
}

/* ------------------------------------------------------------------------ */
/* Datagrams                                                                 */
/* ------------------------------------------------------------------------ */

static void test_dp_statsd__multi_line_datagram_skips_only_bad_lines(void **state)
{
	(void)state;
	static const char dgram[] =
		"a:1|c\n"                     /* 6 */
		"b:x|c\n"                     /* 6 */
		"\n"                          /* 1 */
		"c:2:3|d|#k:v\r\n"            /* 14 */
		"_e{1,1}:t|x\n"               /* 12 */
		"d:1|c|#k:1,k:2\n"            /* 15 */
		"_sc|svc|1\n"                 /* 10 */
		"e:1|zz\n"                    /* 7 */
		"f:-1|g|@0.5";                /* 11, no trailing newline */
	static const struct {
		enum dp_statsd_status st;
		size_t used;
		const char *name;
	} want[] = {
		{DP_STATSD_OK, 6, "a"},
		{DP_STATSD_BAD_VALUE, 6, NULL},
		{DP_STATSD_EMPTY, 1, NULL},
		{DP_STATSD_OK, 14, "c"},
		{DP_STATSD_EVENT, 12, "t"},
		{DP_STATSD_DUP_TAG, 15, NULL},
		{DP_STATSD_SERVICE_CHECK, 10, "svc"},
		{DP_STATSD_BAD_TYPE, 7, NULL},
		{DP_STATSD_OK, 11, "f"},
	};
	size_t off = 0, len = sizeof(dgram) - 1;
	for (size_t i = 0; i < CM_ARRAY_SIZE(want); i++) {
		size_t used = 0;
		enum dp_statsd_status st =
			dp_statsd_decode(&metric, dgram + off, len - off, DP_STATSD_COMPLETE, &used);
		if (st != want[i].st)
			fail_msg("line %zu: %s", i, dp_statsd_status_name(st));
		assert_int_equal(used, want[i].used);
		if (want[i].name)
			assert_str(metric.name, want[i].name, "name");
		off += used;
	}
	assert_int_equal(off, len);
	size_t used = 99;
	assert_int_equal(dp_statsd_decode(&metric, dgram + off, 0, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_TRUNCATED);
	assert_int_equal(used, 0);
}

static void test_dp_statsd__trailing_newline_and_crlf(void **state)
{
	(void)state;
	size_t used;
	const char *two = "a:1|c\nb:2|c\n";
	assert_int_equal(dp_statsd_decode(&metric, two, strlen(two), DP_STATSD_COMPLETE, &used),
			 DP_STATSD_OK);
	assert_int_equal(used, 6);
	assert_int_equal(metric.text.len, 5);
	assert_int_equal(dp_statsd_decode(&metric, two + 6, 6, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_OK);
	assert_int_equal(used, 6);
	assert_str(metric.name, "b", "b");

	/* "\r\n": the '\r' is not part of the last section */
	assert_int_equal(decode1("a:1|c|#k:v\r\n", &used), DP_STATSD_OK);
	assert_str(metric.tags[0].value, "v", "crlf");
	assert_int_equal(used, 12);
	assert_int_equal(metric.text.len, 10);
	/* a '\r' elsewhere is an ordinary (bad) byte */
	assert_int_equal(decode1("a\r:1|c", &used), DP_STATSD_BAD_NAME);
}

static void test_dp_statsd__stream_chunk_reports_truncated_tail(void **state)
{
	(void)state;
	const char *chunk = "a:1|c\nb:2|";
	size_t used;
	assert_int_equal(dp_statsd_decode(&metric, chunk, strlen(chunk), 0, &used), DP_STATSD_OK);
	assert_int_equal(used, 6);
	assert_int_equal(dp_statsd_decode(&metric, chunk + 6, strlen(chunk) - 6, 0, &used),
			 DP_STATSD_TRUNCATED);
	assert_int_equal(used, 0);
	/* the same tail as the end of a datagram is a (bad) line */
	assert_int_equal(dp_statsd_decode(&metric, chunk + 6, strlen(chunk) - 6,
					  DP_STATSD_COMPLETE, &used),
			 DP_STATSD_BAD_TYPE);
	assert_int_equal(used, 4);
}

static void test_dp_statsd__slices_borrow_the_input(void **state)
{
	(void)state;
	static char buf[] = "x.y:1:2|d|#k:v,f";
	size_t used;
	assert_int_equal(dp_statsd_decode(&metric, buf, strlen(buf), DP_STATSD_COMPLETE, &used),
			 DP_STATSD_OK);
	assert_ptr_equal(metric.name.p, buf);
	assert_ptr_equal(metric.raw[0].p, buf + 4);
	assert_ptr_equal(metric.raw[1].p, buf + 6);
	assert_ptr_equal(metric.tags[0].key.p, buf + 11);
	assert_ptr_equal(metric.tags[0].value.p, buf + 13);
	assert_ptr_equal(metric.tags[1].key.p, buf + 15);
	assert_ptr_equal(metric.text.p, buf);
}

/* The decoder reads only buf[len]: the bytes after it are never looked at. */
static void test_dp_statsd__never_reads_past_len(void **state)
{
	(void)state;
	char *heap = malloc(64);
	assert_non_null(heap);
	static const char *const lines[] = {"a:12", "a:1.5e", "a:1|c|@0.", "a:1|c|#k:v",
					    "a:1|g|T16", "_e{5,4}:ti", "_sc|x|"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(lines); i++) {
		size_t n = strlen(lines[i]), used;
		/* the line at the very end of an allocation: ASan sees any overread */
		char *p = heap + 64 - n;
		memcpy(p, lines[i], n);
		(void)dp_statsd_decode(&metric, p, n, DP_STATSD_COMPLETE, &used);
		assert_int_equal(used, n);
	}
	/* "1|c" follows the buffer but is not part of it */
	const char *s = "a:1|c";
	size_t used;
	assert_int_equal(dp_statsd_decode(&metric, s, 3, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_BAD_TYPE);
	free(heap);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

static char big[2 * DP_STATSD_LINE_MAX_BYTES];

static void test_dp_statsd__value_limit(void **state)
{
	(void)state;
	size_t n = (size_t)snprintf(big, sizeof(big), "v");
	for (int i = 0; i < DP_STATSD_VALUES_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ":%d", i);
	memcpy(big + n, "|g", 3);
	assert_int_equal(decode1(big, NULL), DP_STATSD_OK);
	assert_int_equal(metric.nvalues, DP_STATSD_VALUES_MAX);
	assert_true(metric.v[DP_STATSD_VALUES_MAX - 1] == DP_STATSD_VALUES_MAX - 1);

	n += (size_t)snprintf(big + n, sizeof(big) - n, ":+1|g");
	assert_int_equal(decode1(big, NULL), DP_STATSD_TOO_MANY_VALUES);
}

static void test_dp_statsd__tag_limit(void **state)
{
	(void)state;
	size_t n = (size_t)snprintf(big, sizeof(big), "m:1|c|#");
	for (int i = 0; i < DP_STATSD_TAGS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%st%02d:v", i ? "," : "", i);
	assert_int_equal(decode1(big, NULL), DP_STATSD_OK);
	assert_int_equal(metric.ntags, DP_STATSD_TAGS_MAX);
	uint8_t key[ST_KEY_MAX];
	assert_true(dp_statsd_key(&metric, (struct st_str){"value", 5}, key, sizeof(key)) > 0);

	snprintf(big + n, sizeof(big) - n, ",extra");
	assert_int_equal(decode1(big, NULL), DP_STATSD_TOO_MANY_TAGS);
}

static void test_dp_statsd__line_length_limit(void **state)
{
	(void)state;
	/* exactly at the limit (without "\r\n"): decoded */
	size_t n = DP_STATSD_LINE_MAX_BYTES;
	memset(big, 'a', n - 4);
	memcpy(big + n - 4, ":1|s", 4);
	memcpy(big + n, "\r\nb:1|c", 8);
	size_t used;
	assert_int_equal(dp_statsd_decode(&metric, big, n + 7, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_KEY_TOO_LONG); /* a name that long cannot be a key */
	assert_int_equal(used, n + 2);
	memset(big, 'a', 8);
	memcpy(big + 8, ":", 1);
	memset(big + 9, 'x', n - 11);
	memcpy(big + n - 2, "|s", 2);
	assert_int_equal(dp_statsd_decode(&metric, big, n + 7, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_OK);
	assert_int_equal(metric.raw[0].len, n - 11);
	assert_int_equal(used, n + 2);

	/* one byte over: too long, skipped to its '\n', the next line decodes */
	memset(big, 'a', n + 1);
	memcpy(big + n + 1, "\nb:1|c", 7);
	assert_int_equal(dp_statsd_decode(&metric, big, n + 7, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_LINE_TOO_LONG);
	assert_int_equal(used, n + 2);
	assert_int_equal(metric.text.len, DP_STATSD_LINE_MAX_BYTES);
	assert_int_equal(dp_statsd_decode(&metric, big + used, 5, DP_STATSD_COMPLETE, &used),
			 DP_STATSD_OK);
}

static void test_dp_statsd__key_length_limit(void **state)
{
	(void)state;
	/* name + tags that leave room for an empty field: accepted */
	size_t base = 2 + 2 + 2 + 4 + 1 + 1; /* name len, field len, ntags, one tag k:v */
	size_t name_len = ST_KEY_MAX - base;
	memset(big, 'n', name_len);
	size_t n = name_len + (size_t)snprintf(big + name_len, 64, ":1|c|#k:v");
	assert_int_equal(dp_statsd_decode(&metric, big, n, DP_STATSD_COMPLETE, &(size_t){0}),
			 DP_STATSD_OK);
	uint8_t key[ST_KEY_MAX];
	assert_int_equal(dp_statsd_key(&metric, (struct st_str){"", 0}, key, sizeof(key)),
			 ST_KEY_MAX);
	assert_int_equal(dp_statsd_key(&metric, (struct st_str){"f", 1}, key, sizeof(key)),
			 -ENOSPC);
	/* one more byte of name: the line cannot have a key */
	memset(big, 'n', name_len + 1);
	n = name_len + 1 + (size_t)snprintf(big + name_len + 1, 64, ":1|c|#k:v");
	assert_int_equal(dp_statsd_decode(&metric, big, n, DP_STATSD_COMPLETE, &(size_t){0}),
			 DP_STATSD_KEY_TOO_LONG);
	/* a valueless tag counts with its substitute value */
	memset(big, 'n', name_len);
	n = name_len + (size_t)snprintf(big + name_len, 64, ":1|c|#k");
	assert_int_equal(dp_statsd_decode(&metric, big, n, DP_STATSD_COMPLETE, &(size_t){0}),
			 DP_STATSD_KEY_TOO_LONG);
}

/* ------------------------------------------------------------------------ */
/* Series keys                                                               */
/* ------------------------------------------------------------------------ */

static void test_dp_statsd__keys_sort_tags_and_parse_back(void **state)
{
	(void)state;
	assert_int_equal(decode1("api.lat:1:2|d|#zone:b,env:prod,canary,host:h1", NULL),
			 DP_STATSD_OK);
	uint8_t key[ST_KEY_MAX];
	int n = dp_statsd_key(&metric, (struct st_str){"p99", 3}, key, sizeof(key));
	assert_true(n > 0);
	/* the decoded tags keep their order: the key builder sorted a copy */
	assert_str(metric.tags[0].key, "zone", "order");
	assert_str(metric.tags[2].key, "canary", "order");
	assert_int_equal(metric.tags[2].value.len, 0);

	struct st_key_view v;
	assert_int_equal(st_key_parse(key, (size_t)n, &v), 0);
	assert_str(v.name, "api.lat", "name");
	assert_str(v.field, "p99", "field");
	assert_int_equal(v.ntags, 4);
	static const char *const want[] = {"canary", DP_STATSD_TAG_NOVALUE, "env", "prod",
					   "host", "h1", "zone", "b"};
	struct st_key_iter it;
	struct st_tag t;
	uint32_t k = 0;
	st_key_iter_init(&v, &it);
	while (st_key_iter_next(&it, &t)) {
		assert_str(t.key, want[2 * k], "tag key");
		assert_str(t.value, want[2 * k + 1], "tag value");
		k++;
	}
	assert_int_equal(k, 4);
}

static void test_dp_statsd__keys_equal_st_key_build(void **state)
{
	(void)state;
	static const char *const lines[] = {"a:1|c", "a:1|c|#x:1", "b.c:5|g|#k:v,j:w,i",
					    "s:v|s|#u:1:2|@0.5"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(lines); i++) {
		assert_int_equal(decode1(lines[i], NULL), DP_STATSD_OK);
		uint8_t key[ST_KEY_MAX], ref[ST_KEY_MAX];
		struct st_str field = {"value", 5};
		int n = dp_statsd_key(&metric, field, key, sizeof(key));
		struct st_tag tags[ST_TAGS_MAX];
		for (uint32_t j = 0; j < metric.ntags; j++) {
			tags[j] = metric.tags[j];
			if (!tags[j].value.len)
				tags[j].value = (struct st_str){"true", 4};
		}
		int r = st_key_build(ref, sizeof(ref), metric.name, field, tags, metric.ntags);
		assert_int_equal(n, r);
		assert_memory_equal(key, ref, (size_t)n);
		assert_int_equal(dp_statsd_key(&metric, field, key, (size_t)n - 1), -ENOSPC);
	}
	/* the same tags in another order give the same key */
	uint8_t k1[ST_KEY_MAX], k2[ST_KEY_MAX];
	assert_int_equal(decode1("m:1|c|#b:2,a:1,c", NULL), DP_STATSD_OK);
	int n1 = dp_statsd_key(&metric, (struct st_str){"v", 1}, k1, sizeof(k1));
	assert_int_equal(decode1("m:7|c|#c,a:1,b:2", NULL), DP_STATSD_OK);
	int n2 = dp_statsd_key(&metric, (struct st_str){"v", 1}, k2, sizeof(k2));
	assert_int_equal(n1, n2);
	assert_memory_equal(k1, k2, (size_t)n1);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static void test_dp_statsd__status_and_type_names(void **state)
{
	(void)state;
	for (int s = 0; s < DP_STATSD__COUNT; s++) {
		const char *name = dp_statsd_status_name((enum dp_statsd_status)s);
		assert_string_not_equal(name, "unknown");
		for (int t = 0; t < s; t++)
			assert_string_not_equal(name,
						dp_statsd_status_name((enum dp_statsd_status)t));
	}
	assert_string_equal(dp_statsd_status_name(DP_STATSD__COUNT), "unknown");
	assert_string_equal(dp_statsd_status_name(DP_STATSD_BAD_RATE), "bad_rate");
	assert_string_equal(dp_statsd_type_name(DP_STATSD_TIMER), "ms");
	assert_string_equal(dp_statsd_type_name(DP_STATSD_SET), "s");
	assert_string_equal(dp_statsd_type_name(DP_STATSD_TYPE__COUNT), "unknown");
}

/* Numbers give what strtod gives, on random decimal spellings (fixed seed). */
static void test_dp_statsd__numbers_match_strtod(void **state)
{
	(void)state;
	srand(12345);
	char line[96], num[64];
	for (int i = 0; i < 20000; i++) {
		int nd = 1 + rand() % 22, dot = rand() % (nd + 1);
		size_t n = 0;
		if (rand() % 3 == 0)
			num[n++] = '-';
		for (int d = 0; d < nd; d++) {
			if (d == dot)
				num[n++] = '.';
			num[n++] = (char)('0' + rand() % 10);
		}
		if (rand() % 2)
			n += (size_t)snprintf(num + n, sizeof(num) - n, "e%d", rand() % 80 - 40);
		num[n] = '\0';
		snprintf(line, sizeof(line), "x:%s|h", num);
		assert_int_equal(decode1(line, NULL), DP_STATSD_OK);
		double want = strtod(num, NULL);
		if (memcmp(&metric.v[0], &want, sizeof(double)) != 0)
			fail_msg("%s: got %.17g, want %.17g", num, metric.v[0], want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_statsd__parse_table),
		cmocka_unit_test(test_dp_statsd__reject_table),
		cmocka_unit_test(test_dp_statsd__events_and_service_checks_are_recognised),
		cmocka_unit_test(test_dp_statsd__blank_lines_are_empty),
		cmocka_unit_test(test_dp_statsd__multi_line_datagram_skips_only_bad_lines),
		cmocka_unit_test(test_dp_statsd__trailing_newline_and_crlf),
		cmocka_unit_test(test_dp_statsd__stream_chunk_reports_truncated_tail),
		cmocka_unit_test(test_dp_statsd__slices_borrow_the_input),
		cmocka_unit_test(test_dp_statsd__never_reads_past_len),
		cmocka_unit_test(test_dp_statsd__value_limit),
		cmocka_unit_test(test_dp_statsd__tag_limit),
		cmocka_unit_test(test_dp_statsd__line_length_limit),
		cmocka_unit_test(test_dp_statsd__key_length_limit),
		cmocka_unit_test(test_dp_statsd__keys_sort_tags_and_parse_back),
		cmocka_unit_test(test_dp_statsd__keys_equal_st_key_build),
		cmocka_unit_test(test_dp_statsd__status_and_type_names),
		cmocka_unit_test(test_dp_statsd__numbers_match_strtod),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
