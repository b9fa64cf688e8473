/*
 * dp_line.c - the InfluxDB line protocol decoder (API in dp_line.h, accepted
 * grammar in docs/formats/line-protocol.md).
 *
 * Why it looks like this: it runs on every RX core for every line (millions
 * per second per core), so it works in one forward pass over a line already
 * bounded by memchr('\n'): 16-byte compares (SSE2; a byte-class table
 * elsewhere) find the end of each name, numbers are converted while they are
 * scanned, and nothing is copied unless a name contains a backslash (then its
 * unescaped bytes go to the line's scratch, so every consumer sees the same
 * bytes the series key holds). Tags are sorted once per line, which also
 * finds duplicates, and the series keys of a line's fields share one
 * template built by st_key_build() (see dp_line_key()).
 * Floats: exact integers and short decimals take Clinger's fast path (one
 * correctly rounded multiply or divide of exact operands); anything longer
 * goes to strtod() on a bounded NUL-terminated copy, which rounds correctly.
 * strtod needs LC_NUMERIC "C", the default (nothing in StreamFlow calls
 * setlocale today; a float then fails as BAD_VALUE rather than misparse).
 *
 * Escapes are read in pairs, as InfluxDB 1.x scans them: a backslash and the
 * byte after it never end a token. When unescaping, "\X" becomes X if X is
 * one of the escapable bytes of that token kind and stays "\X" otherwise.
 *
 * Threads: any, on a struct dp_line it owns; no global mutable state.
 */
#include "dp_line.h"

#include "dp_num.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cm_compiler.h"

static_assert(DP_LINE_MAX_BYTES < UINT32_MAX / 2, "line lengths fit struct st_str");
static_assert(DP_LINE_SCRATCH_BYTES >= ST_KEY_MAX, "a line's unescaped key fits scratch");

/* ------------------------------------------------------------------------ */
/* Status names                                                              */
/* ------------------------------------------------------------------------ */

static const char *const status_names[DP_LINE__COUNT] = {
	[DP_LINE_OK] = "ok",
	[DP_LINE_EMPTY] = "empty",
	[DP_LINE_TRUNCATED] = "truncated",
	[DP_LINE_TOO_LONG] = "too_long",
	[DP_LINE_BAD_MEASUREMENT] = "bad_measurement",
	[DP_LINE_BAD_TAG] = "bad_tag",
	[DP_LINE_DUP_TAG] = "dup_tag",
	[DP_LINE_BAD_FIELD] = "bad_field",
	[DP_LINE_BAD_VALUE] = "bad_value",
	[DP_LINE_BAD_TIMESTAMP] = "bad_timestamp",
	[DP_LINE_TOO_MANY_TAGS] = "too_many_tags",
	[DP_LINE_TOO_MANY_FIELDS] = "too_many_fields",
	[DP_LINE_KEY_TOO_LONG] = "key_too_long",
};

const char *dp_line_status_name(enum dp_line_status st)
{
	if ((unsigned)st >= DP_LINE__COUNT || !status_names[st])
		return "unknown";
	return status_names[st];
}

/* ------------------------------------------------------------------------ */
/* Byte classes and names                                                    */
/* ------------------------------------------------------------------------ */

enum {
	C_COMMA = 1u << 0,
	C_EQ = 1u << 1,
	C_SPACE = 1u << 2,
	C_BSL = 1u << 3,
};

static const uint8_t cls[256] = {
	[','] = C_COMMA,
	['='] = C_EQ,
	[' '] = C_SPACE,
	['\\'] = C_BSL,
};

/* Escapable bytes after a backslash, per token kind. */
#define ESC_MEASUREMENT (C_COMMA | C_SPACE)
#define ESC_KEY (C_COMMA | C_EQ | C_SPACE)

static inline bool is_digit(char c)
{
	return (unsigned)((unsigned char)c - '0') < 10;
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_value_end(const char *p, const char *end)
{
	return p == end || *p == ',' || *p == ' ';
}

/* HOT PATH */

#if defined(__SSE2__)
/* Bit i set when p[i] is ',', ' ', '\\' or (with C_EQ in stop) '='. */
static CM_ALWAYS_INLINE unsigned special16(const char *p, unsigned stop)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
				 _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	if (stop & C_EQ)
		m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/*
 * First byte in [p, end) whose class is in stop (a superset of C_COMMA |
 * C_SPACE), skipping escape pairs; *esc is set when a backslash was seen.
 * Names are short (TSBS: 2 to 20 bytes), so one 16-byte compare usually
 * finds the end; the last 15 bytes of a line go byte by byte.
 */
static CM_ALWAYS_INLINE const char *scan_name(const char *p, const char *end, unsigned stop,
					      bool *esc)
{
	assert((stop & (C_COMMA | C_SPACE)) == (C_COMMA | C_SPACE));
	while (p < end) {
#if defined(__SSE2__)
		if (end - p >= 16) {
			unsigned bits = special16(p, stop);
			if (!bits) {
				p += 16;
				continue;
			}
			p += __builtin_ctz(bits);
		}
#endif
		unsigned c = cls[(unsigned char)*p];
		if (cm_likely(!(c & (stop | C_BSL)))) {
			p++;
			continue;
		}
		if (c & stop)
			break;
		*esc = true;
		p += end - p >= 2 ? 2 : 1;
	}
	return p;
}

/* Unescape s[n] into out (n bytes of room); returns the length written. */
static uint32_t unescape_name(const char *s, uint32_t n, unsigned escapable, char *out)
{
	uint32_t o = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			if (!(cls[(unsigned char)s[i + 1]] & escapable))
				out[o++] = '\\';
			out[o++] = s[++i];
		} else {
			out[o++] = s[i];
		}
	}
	assert(o > 0 && o <= n);
	return o;
}

/*
 * The name [s, p): borrowed as is, or unescaped into the line's scratch.
 * False when scratch is full.
 */
static CM_ALWAYS_INLINE bool take_name(struct dp_line *line, const char *s, const char *p,
				       bool esc, unsigned escapable, struct st_str *out)
{
	uint32_t n = (uint32_t)(p - s);
	if (cm_likely(!esc)) {
		*out = (struct st_str){s, n};
		return true;
	}
	if (n > DP_LINE_SCRATCH_BYTES - line->scratch_used)
		return false;
	char *dst = line->scratch + line->scratch_used;
	n = unescape_name(s, n, escapable, dst);
	line->scratch_used += n;
	line->flags |= DP_LINE_UNESCAPED;
	*out = (struct st_str){dst, n};
	return true;
}

/* st_series key order: memcmp, a shorter key before its extensions. Non-empty keys. */
static inline int key_cmp(struct st_str a, struct st_str b)
{
	if (a.p[0] != b.p[0])
		return (unsigned char)a.p[0] - (unsigned char)b.p[0];
	int c = memcmp(a.p, b.p, CM_MIN(a.len, b.len));
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

/* Insertion sort by key (tag sets are small); index of a duplicate key, or -1. */
static int sort_tags(struct st_tag *tags, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct st_tag t = tags[i];
		uint32_t j = i;
		while (j > 0 && key_cmp(tags[j - 1].key, t.key) > 0) {
			tags[j] = tags[j - 1];
			j--;
		}
		tags[j] = t;
	}
	for (uint32_t i = 1; i < n; i++)
		if (st_str_eq(tags[i - 1].key, tags[i].key))
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A number at *pp: [-]digits[i|u], or a float [-]digits[.digits][(e|E)[+-]digits]
 * with at least one mantissa digit. Advances *pp past it; the caller checks
 * what follows.
 */
static enum dp_line_status parse_number(const char **pp, const char *end, struct dp_field *f)
{
	const char *p = *pp;
	bool neg = *p == '-';
	p += neg;
	struct dp_num n;
	if (!dp_num_scan(p, end, &n))
		return DP_LINE_BAD_VALUE;
	p = n.end;

	if (p < end && (*p == 'i' || *p == 'u')) {
		if (!n.is_int)
			return DP_LINE_BAD_VALUE;
		/* Integers: the 20th significant digit may still fit a uint64. */
		uint64_t m = n.m;
		if (n.nsig > 19) {
			if (n.nsig > 20)
				return DP_LINE_BAD_VALUE;
			uint64_t d = (uint64_t)(p[-1] - '0');
			if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, d, &m))
				return DP_LINE_BAD_VALUE;
		}
		if (*p == 'u') {
			if (neg)
				return DP_LINE_BAD_VALUE;
			f->type = ST_VT_U64;
			f->v.u64 = m;
		} else {
			if (m > (uint64_t)INT64_MAX + neg)
				return DP_LINE_BAD_VALUE;
			f->type = ST_VT_I64;
			f->v.i64 = !neg ? (int64_t)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
		}
		*pp = p + 1;
		return DP_LINE_OK;
	}

	double d;
	if (!dp_num_double(&n, &d))
		return DP_LINE_BAD_VALUE;
	f->type = ST_VT_F64;
	f->v.f64 = neg ? -d : d;
	*pp = p;
	return DP_LINE_OK;
}

/* t T true True TRUE f F false False FALSE, as InfluxDB 1.x. */
static enum dp_line_status parse_bool(const char **pp, const char *end, struct dp_field *f)
{
	const char *s = *pp;
	const char *p = scan_name(s, end, C_COMMA | C_SPACE, &(bool){false});
	size_t n = (size_t)(p - s);
	bool t;
	if (n == 1)
		t = *s == 't' || *s == 'T';
	else if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
		t = true;
	else if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
		t = false;
	else
		return DP_LINE_BAD_VALUE;
	f->type = ST_VT_BOOL;
	f->v.b = t;
	*pp = p;
	return DP_LINE_OK;
}

/* "...": the raw bytes between the quotes; \" and \\ are escape pairs. */
static enum dp_line_status parse_string(const char **pp, const char *end, struct dp_field *f)
{
	const char *s = *pp + 1, *p = s;
	bool esc = false;
	for (;;) {
		if (p == end)
			return DP_LINE_BAD_VALUE; /* unterminated */
		if (*p == '"')
			break;
		if (*p == '\\' && end - p >= 2 && (p[1] == '"' || p[1] == '\\')) {
			esc = true;
			p += 2;
			continue;
		}
		p++;
	}
	f->type = ST_VT_STR;
	f->flags = esc ? DP_FIELD_ESCAPED : 0;
	f->str = (struct st_str){s, (uint32_t)(p - s)};
	*pp = p + 1;
	return DP_LINE_OK;
}

static CM_ALWAYS_INLINE enum dp_line_status parse_value(const char **pp, const char *end,
							struct dp_field *f)
{
	const char *p = *pp;
	enum dp_line_status st;
	f->flags = 0;
	if (p == end)
		return DP_LINE_BAD_VALUE;
	char c = *p;
	if (is_digit(c) || c == '-' || c == '.')
		st = parse_number(pp, end, f);
	else if (c == '"')
		st = parse_string(pp, end, f);
	else if (c == 't' || c == 'T' || c == 'f' || c == 'F')
		st = parse_bool(pp, end, f);
	else
		return DP_LINE_BAD_VALUE;
	if (st == DP_LINE_OK && !is_value_end(*pp, end))
		st = DP_LINE_BAD_VALUE;
	return st;
}

/* [-]digits up to end, times unit_ns, within int64. */
static enum dp_line_status parse_ts(const char *p, const char *end, int64_t unit_ns, int64_t *out)
{
	bool neg = *p == '-';
	p += neg;
	const char *ds = p;
	uint64_t v = 0;
	for (; p < end && is_digit(*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (cm_likely(p - ds < 19))
			v = v * 10 + d;
		else if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
			return DP_LINE_BAD_TIMESTAMP;
	}
	if (p != end || p == ds || v > (uint64_t)INT64_MAX + neg)
		return DP_LINE_BAD_TIMESTAMP;
	int64_t ts = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	if (__builtin_mul_overflow(ts, unit_ns, &ts))
		return DP_LINE_BAD_TIMESTAMP;
	*out = ts;
	return DP_LINE_OK;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                     */
/* ------------------------------------------------------------------------ */

static inline enum dp_line_status fail(struct dp_line *line, const char *at,
				       enum dp_line_status st)
{
	line->err_off = (uint32_t)(at - line->text.p);
	return st;
}

static inline const char *skip_blank(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/* measurement[,k=v...]: up to the space before the fields. */
static enum dp_line_status parse_series(struct dp_line *line, const char **pp, const char *end)
{
	const char *p = *pp, *s = p;
	bool esc = false;

	p = scan_name(p, end, C_COMMA | C_SPACE, &esc);
	if (p == s)
		return fail(line, p, DP_LINE_BAD_MEASUREMENT);
	if (!take_name(line, s, p, esc, ESC_MEASUREMENT, &line->measurement))
		return fail(line, s, DP_LINE_KEY_TOO_LONG);
	size_t base = 2 + (size_t)line->measurement.len + 2 + 2;

	while (p < end && *p == ',') {
		if (line->ntags == ST_TAGS_MAX)
			return fail(line, p, DP_LINE_TOO_MANY_TAGS);
		struct st_tag *t = &line->tags[line->ntags];
		s = ++p;
		esc = false;
		p = scan_name(p, end, C_COMMA | C_EQ | C_SPACE, &esc);
		if (p == s || p == end || *p != '=')
			return fail(line, p, DP_LINE_BAD_TAG);
		if (!take_name(line, s, p, esc, ESC_KEY, &t->key))
			return fail(line, s, DP_LINE_KEY_TOO_LONG);
		s = ++p;
		esc = false;
		p = scan_name(p, end, C_COMMA | C_EQ | C_SPACE, &esc);
		if (p == s || (p < end && *p == '='))
			return fail(line, p, DP_LINE_BAD_TAG);
		if (!take_name(line, s, p, esc, ESC_KEY, &t->value))
			return fail(line, s, DP_LINE_KEY_TOO_LONG);
		base += 4 + (size_t)t->key.len + t->value.len;
		line->ntags++;
	}
	if (p == end)
		return fail(line, p, DP_LINE_BAD_FIELD); /* no field section */
	assert(*p == ' ');
	if (base >= ST_KEY_MAX)
		return fail(line, p, DP_LINE_KEY_TOO_LONG);

	int dup = sort_tags(line->tags, line->ntags);
	if (dup >= 0) {
		const char *k = line->tags[dup].key.p;
		bool in_text = k >= line->text.p && k < end;
		return fail(line, in_text ? k : line->text.p, DP_LINE_DUP_TAG);
	}
	line->key_base_bytes = (uint32_t)base;
	*pp = p;
	return DP_LINE_OK;
}

/*
 * Keep the field just parsed into *f, which is the next free slot of the
 * array or, when the array is full, the caller's spare: a key seen before on
 * this line takes the new value in place (last wins). seen is a 64-bit
 * signature filter so that distinct keys rarely cost a search. False when a
 * new key finds the array full.
 */
static CM_ALWAYS_INLINE bool keep_field(struct dp_line *line, struct dp_field *f, uint64_t *seen)
{
	struct st_str k = f->key;
	uint64_t bit = UINT64_C(1) << ((k.len * 7 + (unsigned char)k.p[0] +
					(unsigned char)k.p[k.len - 1] * 31) & 63);
	if (cm_unlikely(*seen & bit)) {
		for (uint32_t j = 0; j < line->nfields; j++) {
			if (st_str_eq(line->fields[j].key, k)) {
				line->fields[j] = *f;
				line->flags |= DP_LINE_DUP_FIELD;
				return true;
			}
		}
	}
	if (line->nfields == line->fields_cap)
		return false;
	assert(f == &line->fields[line->nfields]);
	*seen |= bit;
	line->nfields++;
	return true;
}

/* k=v[,k=v...]: up to the end of the line or the space before the timestamp. */
static enum dp_line_status parse_fields(struct dp_line *line, const char **pp, const char *end)
{
	const char *p = *pp;
	uint64_t seen = 0;
	struct dp_field spare;
	for (;;) {
		/* Parse in place: no copy of the field on the common path. */
		struct dp_field *f = line->nfields < line->fields_cap ? &line->fields[line->nfields]
								      : &spare;
		const char *s = p;
		bool esc = false;
		p = scan_name(p, end, C_COMMA | C_EQ | C_SPACE, &esc);
		if (p == s || p == end || *p != '=')
			return fail(line, p, DP_LINE_BAD_FIELD);
		if (!take_name(line, s, p, esc, ESC_KEY, &f->key))
			return fail(line, s, DP_LINE_KEY_TOO_LONG);
		if (line->key_base_bytes + (size_t)f->key.len > ST_KEY_MAX)
			return fail(line, s, DP_LINE_KEY_TOO_LONG);
		s = ++p;
		enum dp_line_status st = parse_value(&p, end, f);
		if (st != DP_LINE_OK)
			return fail(line, s, st);
		if (!keep_field(line, f, &seen))
			return fail(line, s, DP_LINE_TOO_MANY_FIELDS);
		if (p == end || *p == ' ')
			break;
		p++; /* ',' */
	}
	*pp = p;
	return DP_LINE_OK;
}

/* One trimmed, non-empty, non-comment line [p, end). */
static enum dp_line_status parse_line(struct dp_line *line, const char *p, const char *end,
				      const struct dp_line_opts *opts)
{
	enum dp_line_status st = parse_series(line, &p, end);
	if (st != DP_LINE_OK)
		return st;
	p = skip_blank(p, end);
	st = parse_fields(line, &p, end);
	if (st != DP_LINE_OK)
		return st;
	p = skip_blank(p, end);
	if (p == end) {
		line->ts_ns = opts->now_ns;
		return DP_LINE_OK;
	}
	st = parse_ts(p, end, opts->unit_ns, &line->ts_ns);
	if (st != DP_LINE_OK)
		return fail(line, p, st);
	line->flags |= DP_LINE_HAS_TS;
	return DP_LINE_OK;
}

void dp_line_init(struct dp_line *line, struct dp_field *fields, uint32_t fields_cap)
{
	assert(line && fields && fields_cap >= 1);
	memset(line, 0, offsetof(struct dp_line, tags));
	line->key_base_bytes = 0;
	line->key_tmpl_bytes = 0;
	line->scratch_used = 0;
	line->fields = fields;
	line->fields_cap = fields_cap;
}

/* HOT PATH */
enum dp_line_status dp_line_decode(struct dp_line *line, const char *buf, size_t len,
				   const struct dp_line_opts *opts, size_t *consumed)
{
	assert(line && line->fields && opts && consumed);
	assert(opts->unit_ns >= 1);

	const char *nl = len ? memchr(buf, '\n', len) : NULL;
	const char *end;
	if (nl) {
		end = nl;
		*consumed = (size_t)(nl - buf) + 1;
	} else if (len && (opts->flags & DP_LINE_COMPLETE)) {
		end = buf + len;
		*consumed = len;
	} else {
		*consumed = 0;
		return DP_LINE_TRUNCATED;
	}

	line->ntags = 0;
	line->nfields = 0;
	line->flags = 0;
	line->err_off = 0;
	line->scratch_used = 0;
	line->key_tmpl_bytes = 0;
	if (cm_unlikely((size_t)(end - buf) > DP_LINE_MAX_BYTES)) {
		line->text = (struct st_str){buf, DP_LINE_MAX_BYTES};
		return DP_LINE_TOO_LONG;
	}

	const char *p = skip_blank(buf, end);
	while (end > p && (is_blank(end[-1]) || end[-1] == '\r'))
		end--;
	line->text = (struct st_str){p, (uint32_t)(end - p)};
	if (p == end || *p == '#')
		return DP_LINE_EMPTY;
	return parse_line(line, p, end, opts);
}

/*
 * The line's key with an empty field, built by st_key_build() once per line
 * on the first dp_line_key() call; st_key_with_field() turns it into each
 * field's key, so the tags are sorted and copied once per line.
 */
static int build_key_tmpl(struct dp_line *line)
{
	int n = st_key_build(line->key_tmpl, sizeof(line->key_tmpl), line->measurement,
			     (struct st_str){"", 0}, line->tags, line->ntags);
	if (n < 0)
		return n;
	line->key_tmpl_bytes = (uint32_t)n;
	return 0;
}

/* HOT PATH */
int dp_line_key(struct dp_line *line, uint32_t i, uint8_t *out, size_t cap)
{
	assert(i < line->nfields);
	if (cm_unlikely(line->key_tmpl_bytes == 0)) {
		int rc = build_key_tmpl(line);
		if (rc < 0)
			return rc;
	}
	return st_key_with_field(line->key_tmpl, line->key_tmpl_bytes, line->fields[i].key, out,
				 cap);
}

int dp_line_str_unescape(struct st_str raw, char *out, size_t cap)
{
	if (cap < raw.len)
		return -ENOSPC;
	uint32_t o = 0;
	for (uint32_t i = 0; i < raw.len; i++) {
		if (raw.p[i] == '\\' && i + 1 < raw.len && (raw.p[i + 1] == '"' || raw.p[i + 1] == '\\'))
			i++;
		out[o++] = raw.p[i];
	}
	return (int)o;
}

int dp_line_precision(const char *name, int64_t *unit_ns)
{
	static const struct {
		const char *name;
		int64_t unit_ns;
	} units[] = {
		{"n", 1},
		{"ns", 1},
		{"u", 1000},
		{"us", 1000},
		{"ms", 1000000},
		{"s", INT64_C(1000000000)},
		{"m", INT64_C(60000000000)},
		{"h", INT64_C(3600000000000)},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(units); i++) {
		if (!strcmp(name, units[i].name)) {
			*unit_ns = units[i].unit_ns;
			return 0;
		}
	}
	return -EINVAL;
}
