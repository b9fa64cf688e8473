/*
 * dp_statsd.c - the StatsD / DogStatsD line decoder (API in dp_statsd.h,
 * accepted grammar in docs/formats/statsd.md).
 *
 * Why it looks like this: it runs on every RX core for every StatsD line,
 * so it makes one forward pass over a line already bounded by
 * memchr('\n'): the name, the packed values, the type and then each "|..."
 * section, each token checked as it is scanned and kept as a slice of the
 * input. Numbers are validated against a strict grammar first (no locale,
 * no hex, no nan/inf, never past the token) and converted on Clinger's
 * exact fast path, or by strtod() on a bounded NUL-terminated copy of the
 * validated token (strtod needs LC_NUMERIC "C", the default; under another
 * locale such a number fails as BAD_VALUE rather than misparse). Duplicate
 * tag keys are found by comparing each key with those before it (at most
 * DP_STATSD_TAGS_MAX, short keys); sorting is left to st_key_build().
 *
 * Threads: any, on a struct dp_statsd it owns; no global mutable state.
 */
#include "dp_statsd.h"

#include "dp_num.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

static_assert(DP_STATSD_VALUES_MAX <= 64, "one delta_mask bit per value");
static_assert(DP_STATSD_LINE_MAX_BYTES < UINT32_MAX / 2, "line lengths fit struct st_str");
static_assert(DP_STATSD_TAGS_MAX <= ST_TAGS_MAX, "a line's tags fit a series key");

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const status_names[DP_STATSD__COUNT] = {
	[DP_STATSD_OK] = "ok",
	[DP_STATSD_EMPTY] = "empty",
	[DP_STATSD_TRUNCATED] = "truncated",
	[DP_STATSD_EVENT] = "event",
	[DP_STATSD_SERVICE_CHECK] = "service_check",
	[DP_STATSD_LINE_TOO_LONG] = "line_too_long",
	[DP_STATSD_BAD_NAME] = "bad_name",
	[DP_STATSD_BAD_VALUE] = "bad_value",
	[DP_STATSD_BAD_TYPE] = "bad_type",
	[DP_STATSD_BAD_RATE] = "bad_rate",
	[DP_STATSD_BAD_TAG] = "bad_tag",
	[DP_STATSD_DUP_TAG] = "dup_tag",
	[DP_STATSD_BAD_TIMESTAMP] = "bad_timestamp",
	[DP_STATSD_BAD_SECTION] = "bad_section",
	[DP_STATSD_TOO_MANY_TAGS] = "too_many_tags",
	[DP_STATSD_TOO_MANY_VALUES] = "too_many_values",
	[DP_STATSD_KEY_TOO_LONG] = "key_too_long",
	[DP_STATSD_BAD_EVENT] = "bad_event",
	[DP_STATSD_BAD_SERVICE_CHECK] = "bad_service_check",
};

const char *dp_statsd_status_name(enum dp_statsd_status st)
{
	if ((unsigned)st >= DP_STATSD__COUNT || !status_names[st])
		return "unknown";
	return status_names[st];
}

static const char *const type_names[DP_STATSD_TYPE__COUNT] = {
	[DP_STATSD_COUNTER] = "c",   [DP_STATSD_GAUGE] = "g",
	[DP_STATSD_TIMER] = "ms",    [DP_STATSD_HISTOGRAM] = "h",
	[DP_STATSD_DISTRIBUTION] = "d", [DP_STATSD_SET] = "s",
};

const char *dp_statsd_type_name(enum dp_statsd_type t)
{
	if ((unsigned)t >= DP_STATSD_TYPE__COUNT)
		return "unknown";
	return type_names[t];
}

/* ------------------------------------------------------------------------ */
/* Byte classes                                                              */
/* ------------------------------------------------------------------------ */

static inline bool is_digit(char c)
{
	return (unsigned)((unsigned char)c - '0') < 10;
}

/* Blank or control: never part of a name or tag. */
static inline bool is_ctl(char c)
{
	unsigned char u = (unsigned char)c;
	return u <= ' ' || u == 0x7f;
}

/* Not allowed in a metric name. */
static inline bool is_bad_name_byte(char c)
{
	return is_ctl(c) || c == ':' || c == '|' || c == '@' || c == '#';
}

static inline const char *find(const char *p, const char *end, char c)
{
	const char *q = memchr(p, c, (size_t)(end - p));
	return q ? q : end;
}

/* HOT PATH */

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Exactly [p, end) as [+-]digits[.digits][(e|E)[+-]digits] or
 * [+-].digits[...], with at least one mantissa digit, into a finite double.
 * False for anything else (empty, nan, inf, hex, overflow, trailing bytes,
 * longer than DP_STATSD_NUM_MAX_BYTES). Scanning and rounding: dp_num.h.
 */
static bool parse_num(const char *p, const char *end, double *out)
{
	if (p == end || end - p > DP_STATSD_NUM_MAX_BYTES)
		return false;
	bool neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	struct dp_num n;
	double d;
	if (!dp_num_scan(p, end, &n) || n.end != end || !dp_num_double(&n, &d))
		return false;
	*out = neg ? -d : d;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Metric lines                                                              */
/* ------------------------------------------------------------------------ */

static inline enum dp_statsd_status fail(struct dp_statsd *m, const char *at,
					 enum dp_statsd_status st)
{
	m->err_off = (uint32_t)(at - m->text.p);
	return st;
}

/* "c" "g" "ms" "h" "d" "s"; -1 for anything else. */
static int parse_type(const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	if (n == 1) {
		switch (*p) {
		case 'c': return DP_STATSD_COUNTER;
		case 'g': return DP_STATSD_GAUGE;
		case 'h': return DP_STATSD_HISTOGRAM;
		case 'd': return DP_STATSD_DISTRIBUTION;
		case 's': return DP_STATSD_SET;
		default: return -1;
		}
	}
	if (n == 2 && p[0] == 'm' && p[1] == 's')
		return DP_STATSD_TIMER;
	return -1;
}

/* The packed values [p, end) ("1:2:3"), once the type is known. */
static enum dp_statsd_status parse_values(struct dp_statsd *m, const char *p, const char *end)
{
	bool numeric = m->type != DP_STATSD_SET;
	for (;;) {
		const char *e = find(p, end, ':');
		if (e == p)
			return fail(m, p, DP_STATSD_BAD_VALUE);
		if (m->nvalues == DP_STATSD_VALUES_MAX)
			return fail(m, p, DP_STATSD_TOO_MANY_VALUES);
		uint32_t i = m->nvalues;
		m->raw[i] = (struct st_str){p, (uint32_t)(e - p)};
		m->v[i] = 0.0;
		if (numeric) {
			if (!parse_num(p, e, &m->v[i]))
				return fail(m, p, DP_STATSD_BAD_VALUE);
			if (m->type == DP_STATSD_GAUGE && (*p == '+' || *p == '-')) {
				m->delta_mask |= UINT64_C(1) << i;
				m->flags |= DP_STATSD_HAS_DELTA;
			}
		}
		m->nvalues++;
		if (e == end)
			return DP_STATSD_OK;
		p = e + 1;
	}
}

/* "#k:v,k2:v2,flag": [p, end) starts after the '#'. */
static enum dp_statsd_status parse_tags(struct dp_statsd *m, const char *p, const char *end,
					size_t *key_bytes)
{
	if (p == end)
		return fail(m, p, DP_STATSD_BAD_TAG);
	for (;;) {
		const char *s = p, *colon = NULL;
		for (; p < end && *p != ','; p++) {
			if (is_ctl(*p))
				return fail(m, p, DP_STATSD_BAD_TAG);
			if (*p == ':' && !colon)
				colon = p;
		}
		const char *kend = colon ? colon : p;
		if (kend == s)
			return fail(m, s, DP_STATSD_BAD_TAG); /* empty tag or tag key */
		if (m->ntags == DP_STATSD_TAGS_MAX)
			return fail(m, s, DP_STATSD_TOO_MANY_TAGS);
		struct st_tag *t = &m->tags[m->ntags];
		t->key = (struct st_str){s, (uint32_t)(kend - s)};
		t->value = colon ? (struct st_str){colon + 1, (uint32_t)(p - colon - 1)}
				 : (struct st_str){s, 0};
		for (uint32_t j = 0; j < m->ntags; j++)
			if (st_str_eq(m->tags[j].key, t->key))
				return fail(m, s, DP_STATSD_DUP_TAG);
		m->ntags++;
		*key_bytes += 4 + (size_t)t->key.len +
			      (t->value.len ? t->value.len : sizeof(DP_STATSD_TAG_NOVALUE) - 1);
		if (p == end)
			return DP_STATSD_OK;
		p++; /* ',' */
	}
}

/* "T<seconds>": decimal digits, times 1e9 within int64. */
static bool parse_ts(const char *p, const char *end, int64_t *out)
{
	if (p == end || end - p > 19)
		return false;
	uint64_t v = 0;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > (uint64_t)INT64_MAX / 1000000000u)
		return false;
	*out = (int64_t)v * 1000000000;
	return true;
}

/* Sections seen on a line, to refuse repeats. */
enum {
	SEEN_RATE = 1u << 0,
	SEEN_TAGS = 1u << 1,
	SEEN_TS = 1u << 2,
	SEEN_CONTAINER = 1u << 3,
};

/* One "|..." section after the type: [p, end) starts after the '|'. */
static enum dp_statsd_status parse_section(struct dp_statsd *m, const char *p, const char *end,
					   uint32_t *seen, size_t *key_bytes)
{
	uint32_t bit;
	if (p == end)
		return fail(m, p, DP_STATSD_BAD_SECTION);
	else if (*p == '@')
		bit = SEEN_RATE;
	else if (*p == '#')
		bit = SEEN_TAGS;
	else if (*p == 'T')
		bit = SEEN_TS;
	else if (*p == 'c' && end - p >= 2 && p[1] == ':')
		bit = SEEN_CONTAINER;
	else
		return fail(m, p, DP_STATSD_BAD_SECTION);
	if (*seen & bit)
		return fail(m, p, DP_STATSD_BAD_SECTION); /* repeated */
	*seen |= bit;

	switch (bit) {
	case SEEN_RATE:
		if (!parse_num(p + 1, end, &m->rate) || !(m->rate > 0.0 && m->rate <= 1.0))
			return fail(m, p, DP_STATSD_BAD_RATE);
		m->flags |= DP_STATSD_HAS_RATE;
		return DP_STATSD_OK;
	case SEEN_TAGS:
		return parse_tags(m, p + 1, end, key_bytes);
	case SEEN_TS:
		if (!parse_ts(p + 1, end, &m->ts_ns))
			return fail(m, p, DP_STATSD_BAD_TIMESTAMP);
		m->flags |= DP_STATSD_HAS_TS;
		return DP_STATSD_OK;
	default:
		m->flags |= DP_STATSD_HAS_CONTAINER; /* container id: accepted, ignored */
		return DP_STATSD_OK;
	}
}

/* name:value[:value...]|type[|section...] in [p, end), p < end. */
static enum dp_statsd_status parse_metric(struct dp_statsd *m, const char *p, const char *end)
{
	const char *s = p;
	for (; p < end && *p != ':'; p++)
		if (is_bad_name_byte(*p))
			return fail(m, p, p == s || *p != '|' ? DP_STATSD_BAD_NAME
							       : DP_STATSD_BAD_VALUE);
	if (p == s)
		return fail(m, p, DP_STATSD_BAD_NAME);
	if (p == end)
		return fail(m, p, DP_STATSD_BAD_VALUE); /* no ":value" */
	m->name = (struct st_str){s, (uint32_t)(p - s)};

	const char *vs = p + 1;
	const char *bar = find(vs, end, '|');
	if (bar == end)
		return fail(m, bar, DP_STATSD_BAD_TYPE); /* no "|type" */
	const char *ts = bar + 1, *te = find(ts, end, '|');
	int type = parse_type(ts, te);
	if (type < 0)
		return fail(m, ts, DP_STATSD_BAD_TYPE);
	m->type = (uint8_t)type;
	enum dp_statsd_status st = parse_values(m, vs, bar);
	if (st != DP_STATSD_OK)
		return st;

	size_t key_bytes = 2 + (size_t)m->name.len + 2 + 2;
	uint32_t seen = 0;
	for (p = te; p < end;) {
		const char *q = find(p + 1, end, '|');
		st = parse_section(m, p + 1, q, &seen, &key_bytes);
		if (st != DP_STATSD_OK)
			return st;
		p = q;
	}
	if (key_bytes > ST_KEY_MAX)
		return fail(m, m->name.p, DP_STATSD_KEY_TOO_LONG);
	return DP_STATSD_OK;
}

/* ------------------------------------------------------------------------ */
/* Events and service checks                                                 */
/* ------------------------------------------------------------------------ */

/* Decimal digits at *pp up to stop, at most 7 of them; -1 when malformed. */
static long parse_len(const char **pp, const char *end, char stop)
{
	const char *p = *pp, *s = p;
	long v = 0;
	for (; p < end && is_digit(*p) && p - s < 7; p++)
		v = v * 10 + (*p - '0');
	if (p == s || p == end || *p != stop)
		return -1;
	*pp = p + 1;
	return v;
}

/* _e{title_len,text_len}:title|text[|section...]: the lengths must match. */
static enum dp_statsd_status parse_event(struct dp_statsd *m, const char *p, const char *end)
{
	const char *s = p;
	p += 3; /* "_e{" */
	long tlen = parse_len(&p, end, ',');
	long xlen = tlen < 0 ? -1 : parse_len(&p, end, '}');
	if (tlen <= 0 || xlen < 0 || p == end || *p != ':')
		return fail(m, s, DP_STATSD_BAD_EVENT);
	p++;
	if (end - p < tlen + 1 + xlen || p[tlen] != '|')
		return fail(m, p, DP_STATSD_BAD_EVENT);
	m->name = (struct st_str){p, (uint32_t)tlen};
	p += tlen + 1 + xlen;
	if (p != end && *p != '|')
		return fail(m, p, DP_STATSD_BAD_EVENT);
	return DP_STATSD_EVENT;
}

/* _sc|name|status[|section...]: status 0 (ok) to 3 (unknown). */
static enum dp_statsd_status parse_service_check(struct dp_statsd *m, const char *p,
						 const char *end)
{
	p += 4; /* "_sc|" */
	const char *s = p;
	p = find(p, end, '|');
	if (p == s || p == end)
		return fail(m, s, DP_STATSD_BAD_SERVICE_CHECK);
	m->name = (struct st_str){s, (uint32_t)(p - s)};
	p++;
	if (p == end || *p < '0' || *p > '3' || (p + 1 != end && p[1] != '|'))
		return fail(m, p, DP_STATSD_BAD_SERVICE_CHECK);
	return DP_STATSD_SERVICE_CHECK;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                     */
/* ------------------------------------------------------------------------ */

static inline bool has_prefix(const char *p, const char *end, const char *pre, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, pre, n) == 0;
}

/* HOT PATH */
enum dp_statsd_status dp_statsd_decode(struct dp_statsd *m, const char *buf, size_t len,
				       uint32_t flags, size_t *consumed)
{
	assert(m && consumed);
	assert(buf || len == 0);

	const char *nl = len ? memchr(buf, '\n', len) : NULL;
	const char *end;
	if (nl) {
		end = nl;
		*consumed = (size_t)(nl - buf) + 1;
	} else if (len && (flags & DP_STATSD_COMPLETE)) {
		end = buf + len;
		*consumed = len;
	} else {
		*consumed = 0;
		return DP_STATSD_TRUNCATED;
	}
	if (end > buf && end[-1] == '\r')
		end--;

	m->name = (struct st_str){buf, 0};
	m->type = 0;
	m->flags = 0;
	m->nvalues = 0;
	m->ntags = 0;
	m->err_off = 0;
	m->delta_mask = 0;
	m->rate = 1.0;
	m->ts_ns = 0;
	if (cm_unlikely((size_t)(end - buf) > DP_STATSD_LINE_MAX_BYTES)) {
		m->text = (struct st_str){buf, DP_STATSD_LINE_MAX_BYTES};
		return DP_STATSD_LINE_TOO_LONG;
	}
	m->text = (struct st_str){buf, (uint32_t)(end - buf)};

	const char *p = buf;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return DP_STATSD_EMPTY;
	p = buf; /* blanks are not trimmed: a name may not hold them */
	if (*p == '_') {
		if (has_prefix(p, end, "_e{", 3))
			return parse_event(m, p, end);
		if (has_prefix(p, end, "_sc|", 4))
			return parse_service_check(m, p, end);
	}
	return parse_metric(m, p, end);
}

/* ------------------------------------------------------------------------ */
/* Series keys                                                               */
/* ------------------------------------------------------------------------ */

/* HOT PATH */
int dp_statsd_key(const struct dp_statsd *m, struct st_str field, uint8_t *out, size_t cap)
{
	assert(m && m->name.len > 0 && m->ntags <= DP_STATSD_TAGS_MAX);
	struct st_tag tags[DP_STATSD_TAGS_MAX];
	for (uint32_t i = 0; i < m->ntags; i++) {
		tags[i] = m->tags[i];
		if (tags[i].value.len == 0)
			tags[i].value = (struct st_str){DP_STATSD_TAG_NOVALUE,
							sizeof(DP_STATSD_TAG_NOVALUE) - 1};
	}
	/* st_key_build sorts its copy; the decoder already refused duplicates. */
	int n = st_key_build(out, cap, m->name, field, tags, m->ntags);
	assert(n != -EINVAL);
	return n;
}
