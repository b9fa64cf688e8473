/*
 * test_dp_line.c - unit tests for dataplane/dp_line.c, the line protocol
 * decoder: a table of lines that must parse (with the measurement, sorted
 * tags, typed fields and timestamp they must give), a table of lines that
 * must be rejected (with the status), multi-line buffers, precision, limits
 * and the series keys built from decoded lines (checked with st_key_parse).
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
#include "dp_line.h"
#include "tst_util.h"

#define NOW_NS INT64_C(1700000000123456789)

static struct dp_field fields_buf[DP_LINE_FIELDS_DEFAULT];
static struct dp_line line_buf;

static struct dp_line *new_line(uint32_t fields_cap)
{
	dp_line_init(&line_buf, fields_buf, fields_cap);
	return &line_buf;
}

static const struct dp_line_opts opts_complete = {NOW_NS, 1, DP_LINE_COMPLETE};
static const struct dp_line_opts opts_stream = {NOW_NS, 1, 0};

/* Decode one NUL-terminated line as a complete buffer. */
static enum dp_line_status decode1(struct dp_line *line, const char *text, size_t *consumed)
{
	size_t used;
	enum dp_line_status st = dp_line_decode(line, text, strlen(text), &opts_complete, &used);
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

struct want_field {
	const char *key;
	uint8_t type;
	double f64;
	int64_t i64;
	uint64_t u64;
	bool b;
	const char *str;   /* raw bytes between the quotes */
	bool escaped;
};

#define F64(k, v) {.key = (k), .type = ST_VT_F64, .f64 = (v)}
#define I64(k, v) {.key = (k), .type = ST_VT_I64, .i64 = (v)}
#define U64(k, v) {.key = (k), .type = ST_VT_U64, .u64 = (v)}
#define BOOL(k, v) {.key = (k), .type = ST_VT_BOOL, .b = (v)}
#define STR(k, v) {.key = (k), .type = ST_VT_STR, .str = (v)}
#define STR_ESC(k, v) {.key = (k), .type = ST_VT_STR, .str = (v), .escaped = true}

struct parse_case {
	const char *in;
	const char *measurement;
	const char *tags[2 * 10 + 1];       /* k, v, ... in key order; NULL ends */
	struct want_field fields[12];       /* .key NULL ends */
	int64_t ts;                         /* NOW_NS when the line has none */
	uint32_t flags;                     /* expected DP_LINE_HAS_TS | DP_LINE_DUP_FIELD */
};

static const struct parse_case parse_cases[] = {
	/* TSBS cpu-only, tags unsorted in the input */
	{"cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10,"
	 "arch=x86,team=SF,service=19,service_version=1,service_environment=test "
	 "usage_user=58i,usage_system=2i,usage_idle=24i,usage_nice=61i,usage_iowait=22i,"
	 "usage_irq=63i,usage_softirq=6i,usage_steal=44i,usage_guest=80i,usage_guest_nice=38i "
	 "1451606400000000000",
	 "cpu",
	 {"arch", "x86", "datacenter", "eu-central-1a", "hostname", "host_0", "os", "Ubuntu15.10",
	  "rack", "6", "region", "eu-central-1", "service", "19", "service_environment", "test",
	  "service_version", "1", "team", "SF", NULL},
	 {I64("usage_user", 58), I64("usage_system", 2), I64("usage_idle", 24),
	  I64("usage_nice", 61), I64("usage_iowait", 22), I64("usage_irq", 63),
	  I64("usage_softirq", 6), I64("usage_steal", 44), I64("usage_guest", 80),
	  I64("usage_guest_nice", 38)},
	 INT64_C(1451606400000000000), DP_LINE_HAS_TS},
	/* no tags, no timestamp: now */
	{"cpu value=1.5", "cpu", {NULL}, {F64("value", 1.5)}, NOW_NS, 0},
	{"cpu value=-1e3 123", "cpu", {NULL}, {F64("value", -1e3)}, 123, DP_LINE_HAS_TS},
	{"m,b=2,a=1,c=3 f=1i", "m", {"a", "1", "b", "2", "c", "3", NULL}, {I64("f", 1)}, NOW_NS, 0},
	/* integers */
	{"m a=0i,b=-0i,c=9223372036854775807i,d=-9223372036854775808i,e=00000000000000000000042i",
	 "m", {NULL},
	 {I64("a", 0), I64("b", 0), I64("c", INT64_MAX), I64("d", INT64_MIN), I64("e", 42)},
	 NOW_NS, 0},
	{"m a=0u,b=58u,c=18446744073709551615u,d=018446744073709551615u", "m", {NULL},
	 {U64("a", 0), U64("b", 58), U64("c", UINT64_MAX), U64("d", UINT64_MAX)}, NOW_NS, 0},
	/* booleans, every spelling */
	{"m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE", "m", {NULL},
	 {BOOL("a", true), BOOL("b", true), BOOL("c", true), BOOL("d", true), BOOL("e", true),
	  BOOL("f", false), BOOL("g", false), BOOL("h", false), BOOL("i", false),
	  BOOL("j", false)},
	 NOW_NS, 0},
	/* floats: fast path, slow path, edges */
	{"m a=1,b=1.,c=.5,d=-.5,e=1E5,f=1e-5,g=0.1,h=3.141592653589793,i=000123.4500,j=-0", "m",
	 {NULL},
	 {F64("a", 1.0), F64("b", 1.0), F64("c", 0.5), F64("d", -0.5), F64("e", 1e5),
	  F64("f", 1e-5), F64("g", 0.1), F64("h", 3.141592653589793), F64("i", 123.45),
	  F64("j", -0.0)},
	 NOW_NS, 0},
	{"m a=0.30000000000000004,b=1.7976931348623157e308,c=4.9e-324,d=1e-400,"
	 "e=123456789012345678901234567890,f=98.49246231155779,g=1e+22,h=1e23,i=9007199254740993,"
	 "j=1.23456789012345678901234e-5",
	 "m", {NULL},
	 {F64("a", 0.30000000000000004), F64("b", 1.7976931348623157e308), F64("c", 4.9e-324),
	  F64("d", 0.0), F64("e", 123456789012345678901234567890.0),
	  F64("f", 98.49246231155779), F64("g", 1e22), F64("h", 1e23),
	  F64("i", 9007199254740993.0), F64("j", 1.23456789012345678901234e-5)},
	 NOW_NS, 0},
	/* strings: separators inside, escapes kept raw, empty */
	{"m s=\"hello, world = x y\",e=\"a\\\"b\\\\c\",z=\"\",w=\"back\\slash\"", "m", {NULL},
	 {STR("s", "hello, world = x y"), STR_ESC("e", "a\\\"b\\\\c"), STR("z", ""),
	  STR("w", "back\\slash")},
	 NOW_NS, 0},
	/* escapes in names */
	{"my\\ meas\\,x,t\\ k\\=1=v\\,a\\ b f\\=k\\,\\ =1i", "my meas,x", {"t k=1", "v,a b", NULL},
	 {I64("f=k, ", 1)}, NOW_NS, 0},
	/* measurement: '=' is an ordinary byte; "\=" is not an escape there */
	{"a=b f=1i", "a=b", {NULL}, {I64("f", 1)}, NOW_NS, 0},
	{"a\\=b f=1i", "a\\=b", {NULL}, {I64("f", 1)}, NOW_NS, 0},
	/* a backslash before an ordinary byte stays; "\\" is a pair, kept */
	{"m\\x,t=a\\b f=1i", "m\\x", {"t", "a\\b", NULL}, {I64("f", 1)}, NOW_NS, 0},
	{"m,t=a\\\\ f=1i", "m", {"t", "a\\\\", NULL}, {I64("f", 1)}, NOW_NS, 0},
	/* whitespace: leading, runs between sections, trailing */
	{" \t m,t=a   f=1i  \t 5 \t ", "m", {"t", "a", NULL}, {I64("f", 1)}, 5, DP_LINE_HAS_TS},
	{"m f=1i ", "m", {NULL}, {I64("f", 1)}, NOW_NS, 0},
	/* timestamps */
	{"m f=1i -1", "m", {NULL}, {I64("f", 1)}, -1, DP_LINE_HAS_TS},
	{"m f=1i 0", "m", {NULL}, {I64("f", 1)}, 0, DP_LINE_HAS_TS},
	{"m f=1i 9223372036854775807", "m", {NULL}, {I64("f", 1)}, INT64_MAX, DP_LINE_HAS_TS},
	{"m f=1i -9223372036854775808", "m", {NULL}, {I64("f", 1)}, INT64_MIN, DP_LINE_HAS_TS},
	{"m f=1i 0000000000000000000000000042", "m", {NULL}, {I64("f", 1)}, 42, DP_LINE_HAS_TS},
	/* duplicate field keys: the last value wins, in the first one's place */
	{"m a=1i,b=2i,a=\"x\"", "m", {NULL}, {STR("a", "x"), I64("b", 2)}, NOW_NS,
	 DP_LINE_DUP_FIELD},
	/* a tag value may look like anything but a separator */
	{"m,t=\"q\" f=1i", "m", {"t", "\"q\"", NULL}, {I64("f", 1)}, NOW_NS, 0},
	/* '#' after the start is not a comment */
	{"m#x f=1i", "m#x", {NULL}, {I64("f", 1)}, NOW_NS, 0},
};

static void check_field(const struct dp_field *got, const struct want_field *w, const char *in)
{
	assert_str(got->key, w->key, in);
	if (got->type != w->type)
		fail_msg("%s: field %s type %u, want %u", in, w->key, got->type, w->type);
	switch (w->type) {
	case ST_VT_F64:
		/* correctly rounded: bit-identical to the compiler's literal */
		if (memcmp(&got->v.f64, &w->f64, sizeof(double)) != 0)
			fail_msg("%s: field %s = %.17g, want %.17g", in, w->key, got->v.f64, w->f64);
		break;
	case ST_VT_I64:
		assert_int_equal(got->v.i64, w->i64);
		break;
	case ST_VT_U64:
		assert_true(got->v.u64 == w->u64);
		break;
	case ST_VT_BOOL:
		assert_int_equal(got->v.b, w->b);
		break;
	case ST_VT_STR:
		assert_str(got->str, w->str, in);
		assert_int_equal(!!(got->flags & DP_FIELD_ESCAPED), w->escaped);
		break;
	default:
		fail_msg("bad case");
	}
}

static void test_dp_line__parse_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < CM_ARRAY_SIZE(parse_cases); c++) {
		const struct parse_case *pc = &parse_cases[c];
		struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
		size_t used;
		enum dp_line_status st = decode1(line, pc->in, &used);
		if (st != DP_LINE_OK)
			fail_msg("'%s': %s at %u", pc->in, dp_line_status_name(st), line->err_off);
		assert_int_equal(used, strlen(pc->in));
		assert_str(line->measurement, pc->measurement, pc->in);

		uint32_t nt = 0;
		while (pc->tags[2 * nt])
			nt++;
		assert_int_equal(line->ntags, nt);
		for (uint32_t i = 0; i < nt; i++) {
			assert_str(line->tags[i].key, pc->tags[2 * i], pc->in);
			assert_str(line->tags[i].value, pc->tags[2 * i + 1], pc->in);
		}

		uint32_t nf = 0;
		while (nf < CM_ARRAY_SIZE(pc->fields) && pc->fields[nf].key)
			nf++;
		if (line->nfields != nf)
			fail_msg("'%s': %u fields, want %u", pc->in, line->nfields, nf);
		for (uint32_t i = 0; i < nf; i++)
			check_field(&line->fields[i], &pc->fields[i], pc->in);

		assert_true(line->ts_ns == pc->ts);
		assert_int_equal(line->flags & (DP_LINE_HAS_TS | DP_LINE_DUP_FIELD), pc->flags);
	}
}

/* ------------------------------------------------------------------------ */
/* Must reject                                                               */
/* ------------------------------------------------------------------------ */

struct reject_case {
	const char *in;
	enum dp_line_status st;
};

static const struct reject_case reject_cases[] = {
	/* measurement and sections */
	{",host=a f=1", DP_LINE_BAD_MEASUREMENT},
	{"  ,x f=1", DP_LINE_BAD_MEASUREMENT},
	{"cpu", DP_LINE_BAD_FIELD},
	{"cpu   ", DP_LINE_BAD_FIELD},
	{"cpu,host=a", DP_LINE_BAD_FIELD},
	{"cpu\\ f=1", DP_LINE_BAD_FIELD},
	/* tags */
	{"cpu,=a f=1", DP_LINE_BAD_TAG},
	{"cpu,host= f=1", DP_LINE_BAD_TAG},
	{"cpu,host f=1", DP_LINE_BAD_TAG},
	{"cpu,host=a=b f=1", DP_LINE_BAD_TAG},
	{"cpu,host=a, f=1", DP_LINE_BAD_TAG},
	{"cpu, f=1", DP_LINE_BAD_TAG},
	{"cpu,,a=b f=1", DP_LINE_BAD_TAG},
	{"cpu,host", DP_LINE_BAD_TAG},
	{"cpu,a=1,a=2 f=1", DP_LINE_DUP_TAG},
	{"cpu,a=1,b=1,a=1 f=1", DP_LINE_DUP_TAG},
	{"cpu,a\\ =1,a\\ =2 f=1", DP_LINE_DUP_TAG},
	/* field keys */
	{"cpu f", DP_LINE_BAD_FIELD},
	{"cpu =1", DP_LINE_BAD_FIELD},
	{"cpu f=1,", DP_LINE_BAD_FIELD},
	{"cpu f=1,,g=2", DP_LINE_BAD_FIELD},
	{"cpu f =1", DP_LINE_BAD_FIELD},
	{"cpu f=1,g", DP_LINE_BAD_FIELD},
	{"cpu f=1,g h=2", DP_LINE_BAD_FIELD},
	/* values */
	{"cpu f=", DP_LINE_BAD_VALUE},
	{"cpu f=,g=1", DP_LINE_BAD_VALUE},
	{"cpu f= 1", DP_LINE_BAD_VALUE},
	{"cpu f=NaN", DP_LINE_BAD_VALUE},
	{"cpu f=nan", DP_LINE_BAD_VALUE},
	{"cpu f=Inf", DP_LINE_BAD_VALUE},
	{"cpu f=inf", DP_LINE_BAD_VALUE},
	{"cpu f=-Inf", DP_LINE_BAD_VALUE},
	{"cpu f=infinity", DP_LINE_BAD_VALUE},
	{"cpu f=1e309", DP_LINE_BAD_VALUE},
	{"cpu f=-1e309", DP_LINE_BAD_VALUE},
	{"cpu f=1e99999999999", DP_LINE_BAD_VALUE},
	/* a float that needs strtod and is longer than DP_LINE_FLOAT_MAX_BYTES */
	{"cpu f=0.000000000000000000000000000000000000000000000000000000000000000000000000000000"
	 "00000000000000000000000000000000000000000000000000000000000000000000000000000001",
	 DP_LINE_BAD_VALUE},
	{"cpu f=+1", DP_LINE_BAD_VALUE},
	{"cpu f=1.2.3", DP_LINE_BAD_VALUE},
	{"cpu f=1e", DP_LINE_BAD_VALUE},
	{"cpu f=1e+", DP_LINE_BAD_VALUE},
	{"cpu f=1e-x", DP_LINE_BAD_VALUE},
	{"cpu f=-", DP_LINE_BAD_VALUE},
	{"cpu f=.", DP_LINE_BAD_VALUE},
	{"cpu f=-.", DP_LINE_BAD_VALUE},
	{"cpu f=.e5", DP_LINE_BAD_VALUE},
	{"cpu f=1x", DP_LINE_BAD_VALUE},
	{"cpu f=0x10", DP_LINE_BAD_VALUE},
	{"cpu f=1_000", DP_LINE_BAD_VALUE},
	{"cpu f=1i5", DP_LINE_BAD_VALUE},
	{"cpu f=1.5i", DP_LINE_BAD_VALUE},
	{"cpu f=1e3i", DP_LINE_BAD_VALUE},
	{"cpu f=1ii", DP_LINE_BAD_VALUE},
	{"cpu f=1iu", DP_LINE_BAD_VALUE},
	{"cpu f=i", DP_LINE_BAD_VALUE},
	{"cpu f=-i", DP_LINE_BAD_VALUE},
	{"cpu f=-1u", DP_LINE_BAD_VALUE},
	{"cpu f=-0u", DP_LINE_BAD_VALUE},
	{"cpu f=1.5u", DP_LINE_BAD_VALUE},
	{"cpu f=9223372036854775808i", DP_LINE_BAD_VALUE},
	{"cpu f=-9223372036854775809i", DP_LINE_BAD_VALUE},
	{"cpu f=18446744073709551616u", DP_LINE_BAD_VALUE},
	{"cpu f=99999999999999999999i", DP_LINE_BAD_VALUE},
	{"cpu f=100000000000000000000u", DP_LINE_BAD_VALUE},
	{"cpu f=tru", DP_LINE_BAD_VALUE},
	{"cpu f=truee", DP_LINE_BAD_VALUE},
	{"cpu f=tRUE", DP_LINE_BAD_VALUE},
	{"cpu f=yes", DP_LINE_BAD_VALUE},
	{"cpu f=T1", DP_LINE_BAD_VALUE},
	{"cpu f=\"abc", DP_LINE_BAD_VALUE},
	{"cpu f=\"abc\"x", DP_LINE_BAD_VALUE},
	{"cpu f=\"a\\\"", DP_LINE_BAD_VALUE},
	{"cpu f=\"", DP_LINE_BAD_VALUE},
	{"cpu f='x'", DP_LINE_BAD_VALUE},
	{"cpu f=1,g=x", DP_LINE_BAD_VALUE},
	/* timestamps */
	{"cpu f=1 abc", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 1.5", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 -", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 --1", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 +1", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 1e9", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 0x1", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 12 34", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 g=2", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 9223372036854775808", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 -9223372036854775809", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 99999999999999999999", DP_LINE_BAD_TIMESTAMP},
	{"cpu f=1 123i", DP_LINE_BAD_TIMESTAMP},
};

static void test_dp_line__reject_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < CM_ARRAY_SIZE(reject_cases); c++) {
		const struct reject_case *rc = &reject_cases[c];
		struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
		size_t used;
		enum dp_line_status st = decode1(line, rc->in, &used);
		if (st != rc->st)
			fail_msg("'%s': got %s, want %s", rc->in, dp_line_status_name(st),
				 dp_line_status_name(rc->st));
		assert_int_equal(used, strlen(rc->in));
		assert_true(line->err_off <= line->text.len);
	}
}

static void test_dp_line__err_off_points_at_the_bad_token(void **state)
{
	(void)state;
	struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
	assert_int_equal(decode1(line, "cpu,h=a f=1i,g=1x 5", NULL), DP_LINE_BAD_VALUE);
	assert_int_equal(line->err_off, 15);
	assert_int_equal(decode1(line, "  cpu f=1 x", NULL), DP_LINE_BAD_TIMESTAMP);
	assert_str(line->text, "cpu f=1 x", "text");
	assert_int_equal(line->err_off, 8);
}

/* ------------------------------------------------------------------------ */
/* Buffers of several lines                                                  */
/* ------------------------------------------------------------------------ */

struct step {
	enum dp_line_status st;
	const char *measurement; /* for OK */
	size_t consumed;
};

static void run_steps(const char *buf, size_t len, const struct dp_line_opts *o,
		      const struct step *steps, size_t nsteps)
{
	struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
	size_t off = 0;
	for (size_t i = 0; i < nsteps; i++) {
		size_t used = 12345;
		enum dp_line_status st = dp_line_decode(line, buf + off, len - off, o, &used);
		if (st != steps[i].st)
			fail_msg("step %zu: got %s, want %s", i, dp_line_status_name(st),
				 dp_line_status_name(steps[i].st));
		assert_int_equal(used, steps[i].consumed);
		if (st == DP_LINE_OK)
			assert_str(line->measurement, steps[i].measurement, "measurement");
		off += used;
	}
	assert_int_equal(off, o->flags & DP_LINE_COMPLETE ? len : off);
}

static const char multi[] = "a f=1i\n"      /* 7 */
			    "bad line\n"    /* 9 */
			    "\n"            /* 1 */
			    "# comment\r\n" /* 11 */
			    "   \t\r\n"     /* 6 */
			    "b,t=x f=2i 1\r\n" /* 14 */
			    "c f=\"no\nnewline in strings\"\n" /* 8 + 20 */
			    "d f=3i";       /* 6, no '\n' */

static void test_dp_line__multi_line_buffer_skips_only_bad_lines(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{DP_LINE_OK, "a", 7},
		{DP_LINE_BAD_FIELD, NULL, 9},
		{DP_LINE_EMPTY, NULL, 1},
		{DP_LINE_EMPTY, NULL, 11},
		{DP_LINE_EMPTY, NULL, 6},
		{DP_LINE_OK, "b", 14},
		{DP_LINE_BAD_VALUE, NULL, 8},
		{DP_LINE_BAD_FIELD, NULL, 20},
		{DP_LINE_OK, "d", 6},
	};
	run_steps(multi, sizeof(multi) - 1, &opts_complete, steps, CM_ARRAY_SIZE(steps));
}

static void test_dp_line__stream_chunk_reports_truncated_tail(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{DP_LINE_OK, "a", 7},
		{DP_LINE_BAD_FIELD, NULL, 9},
		{DP_LINE_EMPTY, NULL, 1},
		{DP_LINE_EMPTY, NULL, 11},
		{DP_LINE_EMPTY, NULL, 6},
		{DP_LINE_OK, "b", 14},
		{DP_LINE_BAD_VALUE, NULL, 8},
		{DP_LINE_BAD_FIELD, NULL, 20},
		{DP_LINE_TRUNCATED, NULL, 0},
		{DP_LINE_TRUNCATED, NULL, 0},
	};
	run_steps(multi, sizeof(multi) - 1, &opts_stream, steps, CM_ARRAY_SIZE(steps));

	/* Nothing at all: TRUNCATED in both modes, never a zero-byte "line". */
	struct dp_line *line = new_line(4);
	size_t used = 1;
	assert_int_equal(dp_line_decode(line, "", 0, &opts_complete, &used), DP_LINE_TRUNCATED);
	assert_int_equal(used, 0);
	assert_int_equal(dp_line_decode(line, "", 0, &opts_stream, &used), DP_LINE_TRUNCATED);
}

static void test_dp_line__crlf_and_trailing_cr(void **state)
{
	(void)state;
	struct dp_line *line = new_line(4);
	size_t used;
	assert_int_equal(decode1(line, "m f=1i 5\r\n", &used), DP_LINE_OK);
	assert_int_equal(used, 10);
	assert_true(line->ts_ns == 5);
	assert_int_equal(decode1(line, "m f=\"x\"\r", &used), DP_LINE_OK);
	assert_str(line->fields[0].str, "x", "str");
	assert_int_equal(decode1(line, "m f=1.5\r\n", &used), DP_LINE_OK);
	assert_true(line->fields[0].v.f64 == 1.5);
	assert_str(line->text, "m f=1.5", "text");
}

static void test_dp_line__comments_and_blank_lines_are_empty(void **state)
{
	(void)state;
	static const char *const empty[] = {"\n", "#\n", "# cpu f=1\n", "   # x\n", "\t\n",
					    "\r\n", "  \r \n", "#"};
	struct dp_line *line = new_line(4);
	for (size_t i = 0; i < CM_ARRAY_SIZE(empty); i++) {
		size_t used;
		assert_int_equal(decode1(line, empty[i], &used), DP_LINE_EMPTY);
		assert_int_equal(used, strlen(empty[i]));
	}
}

static void test_dp_line__slices_borrow_the_input_without_escapes(void **state)
{
	(void)state;
	static const char in[] = "cpu,host=a usage=1i,s=\"q\" 1\nnext";
	struct dp_line *line = new_line(4);
	size_t used;
	assert_int_equal(dp_line_decode(line, in, sizeof(in) - 1, &opts_stream, &used), DP_LINE_OK);
	assert_ptr_equal(line->measurement.p, in);
	assert_ptr_equal(line->tags[0].key.p, in + 4);
	assert_ptr_equal(line->tags[0].value.p, in + 9);
	assert_ptr_equal(line->fields[0].key.p, in + 11);
	assert_ptr_equal(line->fields[1].str.p, in + 23);
	assert_int_equal(line->flags & DP_LINE_UNESCAPED, 0);

	/* with escapes, names are unescaped into the line's scratch */
	assert_int_equal(decode1(line, "c\\,pu,h\\=st=a\\ b f\\ 1=1i", NULL), DP_LINE_OK);
	assert_true(line->flags & DP_LINE_UNESCAPED);
	assert_str(line->measurement, "c,pu", "measurement");
	assert_str(line->tags[0].key, "h=st", "tag key");
	assert_str(line->tags[0].value, "a b", "tag value");
	assert_str(line->fields[0].key, "f 1", "field key");
	assert_true(line->measurement.p >= line->scratch &&
		    line->measurement.p < line->scratch + DP_LINE_SCRATCH_BYTES);
}

static void test_dp_line__string_unescape(void **state)
{
	(void)state;
	char out[32];
	struct st_str raw = {"a\\\"b\\\\c\\n\\", 10};
	int n = dp_line_str_unescape(raw, out, sizeof(out));
	assert_int_equal(n, 8);
	assert_memory_equal(out, "a\"b\\c\\n\\", 8);
	assert_int_equal(dp_line_str_unescape(raw, out, 9), -ENOSPC);
	assert_int_equal(dp_line_str_unescape((struct st_str){"", 0}, out, 0), 0);
}

/* ------------------------------------------------------------------------ */
/* Precision                                                                 */
/* ------------------------------------------------------------------------ */

static void test_dp_line__precision_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int64_t unit;
	} ok[] = {{"n", 1}, {"ns", 1}, {"u", 1000}, {"us", 1000}, {"ms", 1000000},
		  {"s", INT64_C(1000000000)}, {"m", INT64_C(60000000000)},
		  {"h", INT64_C(3600000000000)}};
	for (size_t i = 0; i < CM_ARRAY_SIZE(ok); i++) {
		int64_t unit = 0;
		assert_int_equal(dp_line_precision(ok[i].name, &unit), 0);
		assert_true(unit == ok[i].unit);
	}
	static const char *const bad[] = {"", "x", "S", "sec", "mss", "nsx", "d"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(bad); i++) {
		int64_t unit = 7;
		assert_int_equal(dp_line_precision(bad[i], &unit), -EINVAL);
		assert_true(unit == 7);
	}
}

static void test_dp_line__precision_scales_and_overflows(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *precision;
		enum dp_line_status st;
		int64_t ts;
	} cases[] = {
		{"m f=1i 1451606400", "s", DP_LINE_OK, INT64_C(1451606400000000000)},
		{"m f=1i 1451606400000", "ms", DP_LINE_OK, INT64_C(1451606400000000000)},
		{"m f=1i 1451606400000000", "u", DP_LINE_OK, INT64_C(1451606400000000000)},
		{"m f=1i -2", "h", DP_LINE_OK, INT64_C(-7200000000000)},
		{"m f=1i 3", "m", DP_LINE_OK, INT64_C(180000000000)},
		{"m f=1i 9223372036854775", "u", DP_LINE_OK, INT64_C(9223372036854775000)},
		{"m f=1i 9223372036854776", "u", DP_LINE_BAD_TIMESTAMP, 0},
		{"m f=1i -9223372036854776", "u", DP_LINE_BAD_TIMESTAMP, 0},
		{"m f=1i 9223372037", "s", DP_LINE_BAD_TIMESTAMP, 0},
		{"m f=1i 2562048", "h", DP_LINE_BAD_TIMESTAMP, 0},
		{"m f=1i 2562047", "h", DP_LINE_OK, INT64_C(2562047) * INT64_C(3600000000000)},
		/* no timestamp: now, not scaled */
		{"m f=1i", "h", DP_LINE_OK, NOW_NS},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		struct dp_line_opts o = opts_complete;
		assert_int_equal(dp_line_precision(cases[i].precision, &o.unit_ns), 0);
		struct dp_line *line = new_line(4);
		size_t used;
		enum dp_line_status st =
			dp_line_decode(line, cases[i].in, strlen(cases[i].in), &o, &used);
		if (st != cases[i].st)
			fail_msg("'%s' %s: got %s", cases[i].in, cases[i].precision,
				 dp_line_status_name(st));
		if (st == DP_LINE_OK)
			assert_true(line->ts_ns == cases[i].ts);
	}
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

static char big[DP_LINE_MAX_BYTES + 64];

static void test_dp_line__tag_limit(void **state)
{
	(void)state;
	for (int ntags = ST_TAGS_MAX; ntags <= ST_TAGS_MAX + 1; ntags++) {
		size_t n = (size_t)sprintf(big, "m");
		for (int i = 0; i < ntags; i++)
			n += (size_t)sprintf(big + n, ",t%03d=v", i);
		n += (size_t)sprintf(big + n, " f=1i");
		struct dp_line *line = new_line(4);
		enum dp_line_status st = decode1(line, big, NULL);
		if (ntags <= ST_TAGS_MAX) {
			assert_int_equal(st, DP_LINE_OK);
			assert_int_equal(line->ntags, ntags);
		} else {
			assert_int_equal(st, DP_LINE_TOO_MANY_TAGS);
		}
	}
}

static void test_dp_line__field_limit_is_the_callers_array(void **state)
{
	(void)state;
	size_t n = (size_t)sprintf(big, "m ");
	for (int i = 0; i < 9; i++)
		n += (size_t)sprintf(big + n, "%sf%d=%di", i ? "," : "", i, i);
	struct dp_line *line = new_line(9);
	assert_int_equal(decode1(line, big, NULL), DP_LINE_OK);
	assert_int_equal(line->nfields, 9);
	/* a repeated key does not need room */
	strcat(big, ",f0=5i");
	assert_int_equal(decode1(line, big, NULL), DP_LINE_OK);
	assert_int_equal(line->nfields, 9);
	assert_true(line->fields[0].v.i64 == 5);
	strcat(big, ",f9=9i");
	assert_int_equal(decode1(line, big, NULL), DP_LINE_TOO_MANY_FIELDS);
	line = new_line(10);
	assert_int_equal(decode1(line, big, NULL), DP_LINE_OK);
	assert_int_equal(line->nfields, 10);
}

static void test_dp_line__key_length_limit(void **state)
{
	(void)state;
	/* key bytes: 2 + name + 2 + field + 2 (no tags) */
	size_t name = ST_KEY_MAX - 2 - 2 - 1 - 2;
	memset(big, 'x', name);
	strcpy(big + name, " f=1i");
	struct dp_line *line = new_line(4);
	assert_int_equal(decode1(line, big, NULL), DP_LINE_OK);
	uint8_t key[ST_KEY_MAX];
	assert_int_equal(dp_line_key(line, 0, key, sizeof(key)), ST_KEY_MAX);
	strcpy(big + name, " ff=1i");
	assert_int_equal(decode1(line, big, NULL), DP_LINE_KEY_TOO_LONG);
	strcpy(big + name, ",t=v f=1i");
	assert_int_equal(decode1(line, big, NULL), DP_LINE_KEY_TOO_LONG);

	/* escapes count after unescaping: "\ " is one byte of the key */
	size_t n = 0;
	for (size_t i = 0; i < name; i++) {
		big[n++] = '\\';
		big[n++] = ' ';
	}
	strcpy(big + n, " f=1i");
	assert_int_equal(decode1(line, big, NULL), DP_LINE_OK);
	assert_int_equal(line->measurement.len, name);
	assert_int_equal(dp_line_key(line, 0, key, sizeof(key)), ST_KEY_MAX);
	assert_int_equal(dp_line_key(line, 0, key, ST_KEY_MAX - 1), -ENOSPC);

	/* escaped names longer than scratch: measurement, tag key, tag value */
	static const char *const fmt[] = {"%s f=1i", "m,%s=v f=1i", "m,t=%s f=1i"};
	for (size_t k = 0; k < CM_ARRAY_SIZE(fmt); k++) {
		static char esc[DP_LINE_SCRATCH_BYTES + 3];
		for (size_t i = 0; i + 2 < sizeof(esc); i += 2)
			memcpy(esc + i, "\\,", 2);
		esc[sizeof(esc) - 1] = '\0';
		snprintf(big, sizeof(big), fmt[k], esc);
		assert_int_equal(decode1(line, big, NULL), DP_LINE_KEY_TOO_LONG);
	}

	/* many escaped field keys: scratch runs out before the keys do */
	line = new_line(DP_LINE_FIELDS_DEFAULT);
	n = (size_t)sprintf(big, "m ");
	for (int i = 0; i < 40; i++) {
		n += (size_t)sprintf(big + n, "%s", i ? "," : "");
		for (int j = 0; j < 300; j++) {
			big[n++] = '\\';
			big[n++] = ',';
		}
		n += (size_t)sprintf(big + n, "%d=1i", i);
	}
	big[n] = '\0';
	assert_int_equal(decode1(line, big, NULL), DP_LINE_KEY_TOO_LONG);
}

static void test_dp_line__line_length_limit(void **state)
{
	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "m s=\"", 5);
	big[DP_LINE_MAX_BYTES - 1] = '"';
	struct dp_line *line = new_line(4);
	size_t used;
	assert_int_equal(dp_line_decode(line, big, DP_LINE_MAX_BYTES, &opts_complete, &used),
			 DP_LINE_OK);
	assert_int_equal(line->fields[0].str.len, DP_LINE_MAX_BYTES - 6);
	big[DP_LINE_MAX_BYTES] = '"';
	big[DP_LINE_MAX_BYTES + 1] = '\n';
	assert_int_equal(dp_line_decode(line, big, sizeof(big), &opts_complete, &used),
			 DP_LINE_TOO_LONG);
	assert_int_equal(used, DP_LINE_MAX_BYTES + 2);
}

/* ------------------------------------------------------------------------ */
/* Series keys                                                               */
/* ------------------------------------------------------------------------ */

static void test_dp_line__keys_parse_back(void **state)
{
	(void)state;
	static const char in[] =
		"cpu,hostname=host_1,region=us-west-1,datacenter=us-west-1a,rack=41,"
		"os=Ubuntu15.10,arch=x64,team=NYC,service=9,service_version=1,"
		"service_environment=staging usage_user=84i,usage_system=11i,usage_idle=53i "
		"1451606400000000000\n";
	struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
	size_t used;
	assert_int_equal(dp_line_decode(line, in, sizeof(in) - 1, &opts_stream, &used), DP_LINE_OK);
	static const char *const names[] = {"usage_user", "usage_system", "usage_idle"};
	for (uint32_t i = 0; i < line->nfields; i++) {
		uint8_t key[ST_KEY_MAX];
		int n = dp_line_key(line, i, key, sizeof(key));
		assert_true(n > 0);
		struct st_key_view v;
		assert_int_equal(st_key_parse(key, (size_t)n, &v), 0);
		assert_str(v.name, "cpu", "name");
		assert_str(v.field, names[i], "field");
		assert_int_equal(v.ntags, 10);
		struct st_str val;
		assert_true(st_key_tag(&v, (struct st_str){"hostname", 8}, &val));
		assert_str(val, "host_1", "hostname");
		assert_true(st_key_tag(&v, (struct st_str){"service_environment", 19}, &val));
		assert_str(val, "staging", "service_environment");
		assert_false(st_key_tag(&v, (struct st_str){"host", 4}, &val));

		char human[512];
		int hn = st_key_format(key, (size_t)n, true, human, sizeof(human));
		assert_true(hn > 0 && (size_t)hn < sizeof(human));
		char want[512];
		snprintf(want, sizeof(want),
			 "cpu,arch=x64,datacenter=us-west-1a,hostname=host_1,os=Ubuntu15.10,"
			 "rack=41,region=us-west-1,service=9,service_environment=staging,"
			 "service_version=1,team=NYC %s",
			 names[i]);
		assert_string_equal(human, want);
	}

	/* Two spellings of one series (tag order) give the same key. */
	uint8_t k1[ST_KEY_MAX], k2[ST_KEY_MAX];
	assert_int_equal(decode1(line, "m,b=2,a=1 f=1i", NULL), DP_LINE_OK);
	int n1 = dp_line_key(line, 0, k1, sizeof(k1));
	assert_int_equal(decode1(line, "m,a=1,b=2 f=2.5 7", NULL), DP_LINE_OK);
	int n2 = dp_line_key(line, 0, k2, sizeof(k2));
	assert_int_equal(n1, n2);
	assert_memory_equal(k1, k2, (size_t)n1);
}

/* dp_line_key splices the field into a per-line template: same bytes as st_key_build. */
static void test_dp_line__keys_equal_st_key_build(void **state)
{
	(void)state;
	static const char *const lines[] = {
		("cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6 "
		 "usage_user=58i,usage_system=2i,u=1,usage_guest_nice=38i 1451606400000000000"),
		"m f=1,gg=2,hhh=3",
		"m\\ x,b=2,a=1,c\\,d=e\\=f k\\ 1=1,k\\ 2=2",
		"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm,t=v f=1,ffffffffffffffffffffffffffffff=2",
	};
	struct dp_line *line = new_line(DP_LINE_FIELDS_DEFAULT);
	for (size_t c = 0; c < CM_ARRAY_SIZE(lines); c++) {
		assert_int_equal(decode1(line, lines[c], NULL), DP_LINE_OK);
		for (uint32_t i = 0; i < line->nfields; i++) {
			uint8_t got[ST_KEY_MAX], want[ST_KEY_MAX];
			struct st_tag tags[ST_TAGS_MAX];
			memcpy(tags, line->tags, line->ntags * sizeof(tags[0]));
			int nw = st_key_build(want, sizeof(want), line->measurement,
					      line->fields[i].key, tags, line->ntags);
			int ng = dp_line_key(line, i, got, sizeof(got));
			assert_true(nw > 0);
			assert_int_equal(ng, nw);
			assert_memory_equal(got, want, (size_t)nw);
			assert_int_equal(dp_line_key(line, i, got, (size_t)nw - 1), -ENOSPC);
		}
	}
}

static void test_dp_line__keys_hold_unescaped_names(void **state)
{
	(void)state;
	struct dp_line *line = new_line(4);
	assert_int_equal(decode1(line, "my\\ m,t\\,k=v\\=1 f\\ x=1i,g=2i", NULL), DP_LINE_OK);
	uint8_t key[ST_KEY_MAX];
	int n = dp_line_key(line, 0, key, sizeof(key));
	assert_true(n > 0);
	struct st_key_view v;
	assert_int_equal(st_key_parse(key, (size_t)n, &v), 0);
	assert_str(v.name, "my m", "name");
	assert_str(v.field, "f x", "field");
	struct st_str val;
	assert_true(st_key_tag(&v, (struct st_str){"t,k", 3}, &val));
	assert_str(val, "v=1", "tag value");
	/* and st_key_format escapes them back to line protocol */
	char human[128];
	st_key_format(key, (size_t)n, true, human, sizeof(human));
	assert_string_equal(human, "my\\ m,t\\,k=v\\=1 f\\ x");
}

static void test_dp_line__point_of_a_field(void **state)
{
	(void)state;
	struct dp_line *line = new_line(5);
	assert_int_equal(decode1(line, "m a=1.5,b=-2i,c=3u,d=t,e=\"s\" 42", NULL), DP_LINE_OK);
	struct st_point pt;
	dp_line_point(line, 0, &pt);
	assert_true(pt.ts_ns == 42 && pt.type == ST_VT_F64 && pt.v.f64 == 1.5);
	dp_line_point(line, 1, &pt);
	assert_true(pt.type == ST_VT_I64 && pt.v.i64 == -2);
	dp_line_point(line, 2, &pt);
	assert_true(pt.type == ST_VT_U64 && pt.v.u64 == 3);
	dp_line_point(line, 3, &pt);
	assert_true(pt.type == ST_VT_BOOL && pt.v.b);
	dp_line_point(line, 4, &pt);
	assert_true(pt.type == ST_VT_STR);
}

static void test_dp_line__status_names(void **state)
{
	(void)state;
	for (int i = 0; i < DP_LINE__COUNT; i++) {
		const char *a = dp_line_status_name((enum dp_line_status)i);
		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, dp_line_status_name((enum dp_line_status)j));
	}
	assert_string_equal(dp_line_status_name(DP_LINE_BAD_VALUE), "bad_value");
	assert_string_equal(dp_line_status_name(DP_LINE__COUNT), "unknown");
	assert_string_equal(dp_line_status_name((enum dp_line_status)-1), "unknown");
}

/* Fast-path floats agree bit for bit with strtod on many random decimals. */
static void test_dp_line__floats_match_strtod(void **state)
{
	(void)state;
	uint64_t x = 42;
	struct dp_line *line = new_line(4);
	char in[96], num[64];
	for (int i = 0; i < 200000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		int digits = 1 + (int)((x >> 33) % 19);
		int point = (int)((x >> 40) % (uint64_t)(digits + 1));
		int exp = (int)((x >> 48) % 60) - 30;
		size_t n = 0;
		if (x & 1)
			num[n++] = '-';
		uint64_t y = x ^ (x >> 29);
		for (int d = 0; d < digits; d++) {
			if (d == point && d)
				num[n++] = '.';
			num[n++] = (char)('0' + (y % 10));
			y = y / 10 ^ (y << 7);
		}
		if (x & 2)
			n += (size_t)sprintf(num + n, "e%d", exp);
		num[n] = '\0';
		snprintf(in, sizeof(in), "m f=%s", num);
		if (decode1(line, in, NULL) != DP_LINE_OK)
			fail_msg("'%s' rejected", in);
		double want = strtod(num, NULL);
		if (memcmp(&line->fields[0].v.f64, &want, sizeof(double)) != 0)
			fail_msg("'%s': %.17g, strtod %.17g", num, line->fields[0].v.f64, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_line__parse_table),
		cmocka_unit_test(test_dp_line__reject_table),
		cmocka_unit_test(test_dp_line__err_off_points_at_the_bad_token),
		cmocka_unit_test(test_dp_line__multi_line_buffer_skips_only_bad_lines),
		cmocka_unit_test(test_dp_line__stream_chunk_reports_truncated_tail),
		cmocka_unit_test(test_dp_line__crlf_and_trailing_cr),
		cmocka_unit_test(test_dp_line__comments_and_blank_lines_are_empty),
		cmocka_unit_test(test_dp_line__slices_borrow_the_input_without_escapes),
		cmocka_unit_test(test_dp_line__string_unescape),
		cmocka_unit_test(test_dp_line__precision_names),
		cmocka_unit_test(test_dp_line__precision_scales_and_overflows),
		cmocka_unit_test(test_dp_line__tag_limit),
		cmocka_unit_test(test_dp_line__field_limit_is_the_callers_array),
		cmocka_unit_test(test_dp_line__key_length_limit),
		cmocka_unit_test(test_dp_line__line_length_limit),
		cmocka_unit_test(test_dp_line__keys_parse_back),
		cmocka_unit_test(test_dp_line__keys_equal_st_key_build),
		cmocka_unit_test(test_dp_line__keys_hold_unescaped_names),
		cmocka_unit_test(test_dp_line__point_of_a_field),
		cmocka_unit_test(test_dp_line__status_names),
		cmocka_unit_test(test_dp_line__floats_match_strtod),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
