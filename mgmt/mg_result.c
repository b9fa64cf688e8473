/*
 * mg_result.c - see mg_result.h: the query result model and its InfluxDB
 * 1.x JSON encoding.
 *
 * Memory. Strings, tag pairs and column lists go to the result's arena
 * (blocks of 4 KiB doubling to 64 KiB, bigger requests get their own
 * block), freed all at once. The three arrays that grow (statements, the
 * series of a statement, the cells of a series) are malloc'd and doubled;
 * their capacity is not stored but implied by their length (the next power
 * of two, at least a minimum), so the public structs carry no private
 * fields. mg_result_bytes counts both.
 *
 * Encoding. The document structure is written here, in the field order and
 * omit-when-empty rules of InfluxDB's Go structs (Result, models.Row) and in
 * Go's MarshalIndent layout for pretty=true (4 spaces, "key": value).
 * Strings are escaped here, straight into the output buffer (no copy, no
 * allocation per cell), byte for byte as jansson, which writes the rest of
 * the front-ends' JSON, would: '"', '\\', \b \f \n \r \t, other control
 * bytes as \u00XX in upper-case hex, everything else as is; each byte that
 * is not part of valid UTF-8 becomes U+FFFD, as Go's encoder does. Floats
 * are the shortest decimal that reads back to the same double, laid out as
 * Go's strconv 'f'/'e' choice does (exponent form below 1e-6 and from
 * 1e21), so 58.0 prints 58; NaN and infinities print null. Output goes
 * through a small buffer to the caller's writer, often mg_result_buf_write.
 *
 * Threads: a result belongs to one thread at a time; encoders keep no
 * global state.
 */
#include "mg_result.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "mg_dtoa.h"
#include "st_series.h"

/* ------------------------------------------------------------------ arena */

#define ARENA_BLK_MIN 4096u
#define ARENA_BLK_MAX 65536u
#define ARENA_ALIGN alignof(max_align_t)

struct arena_blk {
	struct arena_blk *next;
	size_t cap, used;
	alignas(max_align_t) unsigned char data[];
};

struct result_impl {
	struct mg_result pub;         /* first: the public part */
	struct arena_blk *blk;        /* current block first */
	size_t next_blk;              /* size of the next regular block */
	size_t bytes;                 /* arena blocks + array capacities */
};

static struct result_impl *impl_of(struct mg_result *r)
{
	return (struct result_impl *)r;
}

static void *arena_alloc(struct mg_result *r, size_t n)
{
	struct result_impl *ri = impl_of(r);
	n = CM_ALIGN_UP(n ? n : 1, ARENA_ALIGN);
	struct arena_blk *b = ri->blk;
	if (b && b->cap - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	size_t cap = n > ri->next_blk / 2 ? n : ri->next_blk;
	b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	b->used = n;
	if (cap == n && ri->blk) {
		/* a big piece: keep filling the current block afterwards */
		b->next = ri->blk->next;
		ri->blk->next = b;
	} else {
		b->next = ri->blk;
		ri->blk = b;
		if (ri->next_blk < ARENA_BLK_MAX)
			ri->next_blk *= 2;
	}
	ri->bytes += sizeof(*b) + cap;
	return b->data;
}

/* ------------------------------------------------------- growable arrays */

/* Capacity implied by a length: the next power of two, at least min. */
static uint64_t cap_for(uint64_t len, uint64_t min)
{
	uint64_t c = min;
	while (c < len)
		c *= 2;
	return c;
}

/*
 * Make room for `more` elements after the len of an array of elements of
 * size sz whose capacity is cap_for(len, min); the new capacity is
 * cap_for(len + more, min), so it stays implied. 0 or -ENOMEM (array
 * unchanged).
 */
static int grow_n(struct mg_result *r, void **arr, uint64_t len, size_t sz, uint64_t min,
		  uint64_t more)
{
	uint64_t cap = *arr ? cap_for(len, min) : 0;
	if (more <= cap - len)
		return 0;
	if (more > UINT64_MAX / 2 - len)
		return -ENOMEM;
	uint64_t ncap = cap_for(len + more, min);
	if (ncap > SIZE_MAX / sz)
		return -ENOMEM;
	void *p = realloc(*arr, (size_t)ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	impl_of(r)->bytes += (size_t)(ncap - cap) * sz;
	return 0;
}

/* Room for one more element (grow_n's contract). */
static int grow(struct mg_result *r, void **arr, uint64_t len, size_t sz, uint64_t min)
{
	return grow_n(r, arr, len, sz, min, 1);
}

/* ------------------------------------------------------------- building */

struct mg_result *mg_result_create(void)
{
	struct result_impl *ri = calloc(1, sizeof(*ri));
	if (!ri)
		return NULL;
	ri->next_blk = ARENA_BLK_MIN;
	ri->bytes = sizeof(*ri);
	return &ri->pub;
}

void mg_result_free(struct mg_result *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nstmts; i++) {
		struct mg_stmt_result *s = &r->stmts[i];
		for (uint32_t j = 0; j < s->nseries; j++)
			free(s->series[j].cells);
		free(s->series);
	}
	free(r->stmts);
	struct arena_blk *b = impl_of(r)->blk;
	while (b) {
		struct arena_blk *next = b->next;
		free(b);
		b = next;
	}
	free(impl_of(r));
}

void mg_result_drop_series(struct mg_result *r, struct mg_stmt_result *s)
{
	for (uint32_t j = 0; j < s->nseries; j++) {
		struct mg_series *se = &s->series[j];
		if (se->cells) /* grow's capacity for its rows, as add_row/add_rows made it */
			impl_of(r)->bytes -= (size_t)cap_for(se->nrows, 8) * se->ncols *
					     sizeof(struct mg_cell);
		free(se->cells);
	}
	s->nseries = 0; /* the array stays: its capacity follows from nseries */
}

const char *mg_result_strdup(struct mg_result *r, const char *s, size_t len)
{
	char *p = arena_alloc(r, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static const char *dup_cstr(struct mg_result *r, const char *s)
{
	return s ? mg_result_strdup(r, s, strlen(s)) : NULL;
}

size_t mg_result_bytes(const struct mg_result *r)
{
	return ((const struct result_impl *)r)->bytes;
}

struct mg_stmt_result *mg_result_add_stmt(struct mg_result *r, uint32_t statement_id)
{
	if (grow(r, (void **)&r->stmts, r->nstmts, sizeof(*r->stmts), 4))
		return NULL;
	struct mg_stmt_result *s = &r->stmts[r->nstmts++];
	memset(s, 0, sizeof(*s));
	s->statement_id = statement_id;
	return s;
}

int mg_result_set_error(struct mg_result *r, struct mg_stmt_result *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	char *p = arena_alloc(r, (size_t)n + 1);
	if (!p)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->error = p;
	return 0;
}

/* Tag pairs copied into the arena, sorted by key (few: insertion sort). */
static struct mg_tagpair *copy_tags(struct mg_result *r, const struct mg_tagpair *tags,
				    uint32_t n)
{
	struct mg_tagpair *t = arena_alloc(r, n * sizeof(*t));
	if (!t)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		struct mg_tagpair p = {dup_cstr(r, tags[i].key), dup_cstr(r, tags[i].value)};
		if (!p.key || !p.value)
			return NULL;
		uint32_t j = i;
		for (; j > 0 && strcmp(t[j - 1].key, p.key) > 0; j--)
			t[j] = t[j - 1];
		t[j] = p;
	}
	return t;
}

struct mg_series *mg_result_add_series(struct mg_result *r, struct mg_stmt_result *s,
				       const char *name, const struct mg_tagpair *tags,
				       uint32_t ntags, const char *const *columns,
				       uint32_t ncols)
{
	struct mg_series sr = {.ntags = ntags, .ncols = ncols};
	if (name && !(sr.name = dup_cstr(r, name)))
		return NULL;
	if (ntags && !(sr.tags = copy_tags(r, tags, ntags)))
		return NULL;
	if (ncols) {
		sr.columns = arena_alloc(r, ncols * sizeof(*sr.columns));
		if (!sr.columns)
			return NULL;
		for (uint32_t i = 0; i < ncols; i++)
			if (!(sr.columns[i] = dup_cstr(r, columns[i] ? columns[i] : "")))
				return NULL;
	}
	if (grow(r, (void **)&s->series, s->nseries, sizeof(*s->series), 4))
		return NULL;
	s->series[s->nseries] = sr;
	return &s->series[s->nseries++];
}

int mg_result_add_row(struct mg_result *r, struct mg_series *series, const struct mg_cell *row)
{
	uint32_t nc = series->ncols;
	if (nc == 0) {
		series->nrows++;
		return 0;
	}
	/* the cell array grows by whole rows: an element is a row of nc cells */
	if (grow(r, (void **)&series->cells, series->nrows, (size_t)nc * sizeof(struct mg_cell), 8))
		return -ENOMEM;
	struct mg_cell *dst = &series->cells[series->nrows * nc];
	for (uint32_t i = 0; i < nc; i++) {
		dst[i] = row[i];
		if (row[i].type == MG_CELL_STR && row[i].s &&
		    !(dst[i].s = dup_cstr(r, row[i].s)))
			return -ENOMEM;
	}
	series->nrows++;
	return 0;
}

struct mg_cell *mg_result_add_rows(struct mg_result *r, struct mg_series *series, uint64_t n)
{
	uint32_t nc = series->ncols;
	assert(nc > 0);
	if (grow_n(r, (void **)&series->cells, series->nrows, (size_t)nc * sizeof(struct mg_cell), 8,
		   n))
		return NULL;
	struct mg_cell *dst = &series->cells[series->nrows * nc];
	series->nrows += n;
	return dst;
}

/* ---------------------------------------------------- the output buffer */

/* Room for n more bytes and the NUL after them. 0 or -ENOMEM (the buffer unchanged). */
static int buf_room(struct mg_result_buf *b, size_t n)
{
	if (n < b->cap - b->len)
		return 0;
	if (n >= SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t cap = CM_MAX(b->cap * 2, (size_t)4096);
	cap = CM_MAX(cap, b->len + n + 1);
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int mg_result_buf_write(void *arg, const char *s, size_t n)
{
	struct mg_result_buf *b = arg;
	if (buf_room(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int mg_result_buf_printf(struct mg_result_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (buf_room(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int mg_result_buf_lp(struct mg_result_buf *b, const char *s, const char *esc)
{
	struct st_str v = {s, (uint32_t)strlen(s)};
	size_t n = st_lp_escape(NULL, 0, b->len, v, esc) - b->len;
	if (buf_room(b, n))
		return -ENOMEM;
	b->len = st_lp_escape(b->p, b->cap, b->len, v, esc);
	b->p[b->len] = '\0';
	return 0;
}

/* ------------------------------------------------------------ epochs */

int mg_epoch_parse(const char *s, enum mg_epoch *out)
{
	static const struct {
		const char *name;
		enum mg_epoch e;
	} names[] = {
		{"n", MG_EPOCH_NS}, {"ns", MG_EPOCH_NS},
		{"u", MG_EPOCH_US}, {"us", MG_EPOCH_US},
		{"\xc2\xb5", MG_EPOCH_US}, {"\xce\xbc", MG_EPOCH_US},  /* micro sign, Greek mu */
		{"ms", MG_EPOCH_MS}, {"s", MG_EPOCH_S}, {"m", MG_EPOCH_M}, {"h", MG_EPOCH_H},
	};
	if (!s || !*s) {
		*out = MG_EPOCH_RFC3339;
		return 0;
	}
	for (size_t i = 0; i < CM_ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i].name)) {
			*out = names[i].e;
			return 0;
		}
	return -EINVAL;
}

static int64_t epoch_divisor(enum mg_epoch e)
{
	switch (e) {
	case MG_EPOCH_US: return 1000;
	case MG_EPOCH_MS: return 1000000;
	case MG_EPOCH_S: return INT64_C(1000000000);
	case MG_EPOCH_M: return INT64_C(60000000000);
	case MG_EPOCH_H: return INT64_C(3600000000000);
	default: return 1;
	}
}

/* Decimal digits of v into out (no NUL); the length. printf's %llu, without printf. */
static size_t fmt_u64(uint64_t v, char *out)
{
	char t[20];
	size_t n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	return n;
}

static size_t fmt_i64(int64_t v, char *out)
{
	if (v >= 0)
		return fmt_u64((uint64_t)v, out);
	out[0] = '-';
	return 1 + fmt_u64(-(uint64_t)v, out + 1);
}

/* n (< 10^w) as w digits with leading zeros. */
static void fmt_fixed(uint64_t n, int w, char *out)
{
	for (int i = w - 1; i >= 0; i--) {
		out[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

/*
 * Go's RFC3339Nano in UTC: fraction with trailing zeros cut, none when zero.
 * The civil date from cm_civil_from_days, not gmtime/strftime: raw results
 * print a time per row. An int64 of nanoseconds lies in the years
 * 1677..2262, also with a zone's offset: always four digits. out holds
 * RFC3339_MAX bytes.
 */
#define RFC3339_MAX 36 /* 2006-01-02T15:04:05.999999999+hh:mm */

static size_t fmt_rfc3339(int64_t ns, int32_t offset_s, char out[RFC3339_MAX])
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	sec += offset_s; /* the wall time in the zone; |sec| < 2^34, no overflow */
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	int64_t days = sec / 86400, sod = sec % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	cm_civil_from_days(days, &y, &m, &d);
	assert(y >= 0 && y <= 9999);
	char *o = out;
	fmt_fixed((uint64_t)y, 4, o);
	o[4] = '-';
	fmt_fixed((uint64_t)m, 2, o + 5);
	o[7] = '-';
	fmt_fixed((uint64_t)d, 2, o + 8);
	o[10] = 'T';
	fmt_fixed((uint64_t)(sod / 3600), 2, o + 11);
	o[13] = ':';
	fmt_fixed((uint64_t)(sod / 60 % 60), 2, o + 14);
	o[16] = ':';
	fmt_fixed((uint64_t)(sod % 60), 2, o + 17);
	size_t n = 19;
	if (frac) {
		o[n++] = '.';
		fmt_fixed((uint64_t)frac, 9, o + n);
		size_t len = 9;
		while (o[n + len - 1] == '0')
			len--;
		n += len;
	}
	if (offset_s == 0) {
		o[n++] = 'Z';
		return n;
	}
	uint32_t a = (uint32_t)(offset_s < 0 ? -offset_s : offset_s);
	o[n++] = offset_s < 0 ? '-' : '+';
	fmt_fixed(a / 3600, 2, o + n);
	o[n + 2] = ':';
	fmt_fixed(a / 60 % 60, 2, o + n + 3);
	return n + 5;
}

/* ------------------------------------------------------------ floats */

/*
 * The shortest digits that read back as f (mg_dtoa_shortest), laid out as
 * Go's strconv.FormatFloat(f, 'f' or 'e', -1, 64) within encoding/json:
 * plain digits for 1e-6 <= |f| < 1e21, else d.ddde-7 / d.ddde+21. f is
 * finite.
 */
static size_t fmt_float(double f, char *out)
{
	size_t n = 0;
	if (signbit(f))
		out[n++] = '-';
	char dig[20];
	int x;
	int nd = (int)mg_dtoa_shortest(f, dig, &x);
	double a = fabs(f);
	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		out[n++] = dig[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, dig + 1, (size_t)nd - 1);
			n += (size_t)nd - 1;
		}
		out[n++] = 'e'; /* e-7, e+21 as Go */
		out[n++] = x < 0 ? '-' : '+';
		return n + fmt_u64((uint64_t)(x < 0 ? -x : x), out + n);
	}
	if (x < 0) {
		memcpy(out + n, "0.", 2);
		n += 2;
		for (int i = -1; i > x; i--)
			out[n++] = '0';
		memcpy(out + n, dig, (size_t)nd);
		return n + (size_t)nd;
	}
	for (int i = 0; i <= x || i < nd; i++) {
		if (i == x + 1)
			out[n++] = '.';
		out[n++] = i < nd ? dig[i] : '0';
	}
	return n;
}

/* ------------------------------------------------------------ JSON writer */

#define JW_BUF 8192u
#define JW_MEMO_BITS 10u
#define JW_MEMO (1u << JW_MEMO_BITS) /* string cells remembered encoded, direct-mapped by address */
#define JW_MEMO_LEN 55u       /* the longest encoding remembered, quotes included */
#define JW_CELL_ROOM 80u      /* a separator and any cell but a string: a time is the longest */

/*
 * A string cell's encoding, by the address of its text: a result's strings
 * live in its arena, unchanged until it is freed, so one address always
 * holds the same text. Raw answers repeat each tag value in every row of
 * its series (the executor shares one copy: mg_result_add_rows).
 */
struct jw_memo {
	uint8_t len;
	char enc[JW_MEMO_LEN];
};

/*
 * A JSON writer over the caller's mg_write_fn. `first` says the innermost
 * open container has no element yet; `after_key` that a value follows its
 * key (no separator). One flag each is enough: closing a container always
 * leaves its parent non-empty.
 */
struct jw {
	mg_write_fn fn;
	void *arg;
	int rc;                  /* first error: the writer's value */
	bool pretty, first, after_key;
	uint32_t depth;
	size_t n;
	char buf[JW_BUF];
	const char *memo_key[JW_MEMO];   /* cleared per encoding; memo[i] is valid when set */
	struct jw_memo memo[JW_MEMO];
};

static void jw_flush(struct jw *w)
{
	if (w->n && !w->rc)
		w->rc = w->fn(w->arg, w->buf, w->n);
	w->n = 0;
}

static void jw_put(struct jw *w, const char *s, size_t len)
{
	if (w->rc)
		return;
	if (len > JW_BUF - w->n) {
		jw_flush(w);
		if (len > JW_BUF) {
			if (!w->rc)
				w->rc = w->fn(w->arg, s, len);
			return;
		}
	}
	memcpy(w->buf + w->n, s, len);
	w->n += len;
}

static void jw_puts(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_newline(struct jw *w)
{
	static const char spaces[] = "                                ";
	if (!w->pretty)
		return;
	jw_put(w, "\n", 1);
	for (uint32_t i = 0; i < w->depth; i++)
		jw_put(w, spaces, 4);
}

/* Before a value: a comma and, pretty, a new line, unless it follows a key. */
static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (!w->first)
		jw_put(w, ",", 1);
	jw_newline(w);
	w->first = false;
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	jw_put(w, &c, 1);
	w->depth++;
	w->first = true;
}

static void jw_close(struct jw *w, char c)
{
	assert(w->depth > 0);
	w->depth--;
	if (!w->first)
		jw_newline(w);
	jw_put(w, &c, 1);
	w->first = false;
}

/* ------------------------------------------------------ string escaping */

static size_t utf8_seq(const unsigned char *s, size_t len);

void mg_utf8_scrub(char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq((const unsigned char *)s + i, len - i);
		if (k == 0)
			s[i++] = '?';
		else
			i += k;
	}
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * The escape for byte c of a string (c < 0x80), as jansson writes it, into
 * e; its length, 0 when c goes out as is.
 */
static size_t json_escape(unsigned char c, char e[6])
{
	static const char hex[] = "0123456789ABCDEF";
	static const char short_esc[0x20] = {
		['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	};
	if (c == '"' || c == '\\' || (c < 0x20 && short_esc[c])) {
		e[0] = '\\';
		e[1] = c < 0x20 ? short_esc[c] : (char)c;
		return 2;
	}
	if (c >= 0x20)
		return 0;
	memcpy(e, "\\u00", 4);
	e[4] = hex[c >> 4];
	e[5] = hex[c & 15];
	return 6;
}

/*
 * One JSON string: runs of bytes that need nothing go out as they are,
 * escapes and U+FFFD (for each byte of invalid UTF-8) between them.
 */
static void jw_str(struct jw *w, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t done = 0;          /* s[0..done) is written */
	jw_put(w, "\"", 1);
	for (size_t i = 0; i < len;) {
		/* the common case, plain printable ASCII but '"' and '\\', in a tight scan */
		if (u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\') {
			i++;
			continue;
		}
		char e[6];
		size_t k = 1, elen;
		if (u[i] < 0x80) {
			elen = json_escape(u[i], e);
		} else if ((k = utf8_seq(u + i, len - i)) != 0) {
			elen = 0;
		} else {
			k = 1;
			elen = 3;
			memcpy(e, "\xef\xbf\xbd", 3);
		}
		if (elen) {
			jw_put(w, s + done, i - done);
			jw_put(w, e, elen);
			done = i + k;
		}
		i += k;
	}
	jw_put(w, s + done, len - done);
	jw_put(w, "\"", 1);
}

static void jw_cstr(struct jw *w, const char *s)
{
	jw_sep(w);
	jw_str(w, s, strlen(s));
}

static void jw_key(struct jw *w, const char *k)
{
	jw_sep(w);
	jw_str(w, k, strlen(k));
	jw_puts(w, w->pretty ? ": " : ":");
	w->after_key = true;
}

/* A number, true/false or null, already formatted. */
static void jw_raw(struct jw *w, const char *s, size_t len)
{
	jw_sep(w);
	jw_put(w, s, len);
}

/* Room for k (<= JW_BUF) more bytes in the buffer, flushing it; false after an error. */
static bool jw_room(struct jw *w, size_t k)
{
	if (JW_BUF - w->n < k)
		jw_flush(w);
	return !w->rc;
}

/* A string cell of a result (see struct jw_memo): from the memo, or encoded and remembered. */
static void jw_cell_str(struct jw *w, const char *s)
{
	size_t slot = cm_ptr_slot(s, JW_MEMO_BITS);
	struct jw_memo *m = &w->memo[slot];
	if (w->memo_key[slot] == s) {
		memcpy(w->buf + w->n, m->enc, m->len);  /* room: JW_CELL_ROOM > JW_MEMO_LEN */
		w->n += m->len;
		return;
	}
	size_t len = strlen(s);
	if (len + 2 > JW_MEMO_LEN || !jw_room(w, 6 * len + 2)) {
		jw_str(w, s, len);
		return;
	}
	size_t at = w->n; /* the room asked for holds every escape: no flush in between */
	jw_str(w, s, len);
	if (w->n - at <= JW_MEMO_LEN) {
		w->memo_key[slot] = s;
		m->len = (uint8_t)(w->n - at);
		memcpy(m->enc, w->buf + at, m->len);
	}
}

/* A cell, straight into the buffer, which has JW_CELL_ROOM bytes free. */
static void jw_row_cell(struct jw *w, const struct mg_cell *c, enum mg_epoch epoch)
{
	char *o = w->buf + w->n;
	switch (c->type) {
	case MG_CELL_F64:
		if (!isfinite(c->f))
			break;
		w->n += fmt_float(c->f, o);
		return;
	case MG_CELL_I64:
		w->n += fmt_i64(c->i, o);
		return;
	case MG_CELL_U64:
		w->n += fmt_u64(c->u, o);
		return;
	case MG_CELL_BOOL:
		memcpy(o, c->b ? "true" : "false", c->b ? 4 : 5);
		w->n += c->b ? 4 : 5;
		return;
	case MG_CELL_STR:
		if (!c->s)
			break;
		jw_cell_str(w, c->s);
		return;
	case MG_CELL_TIME:
		if (epoch == MG_EPOCH_RFC3339) {
			static_assert(JW_CELL_ROOM >= RFC3339_MAX + 2, "room for a quoted time");
			o[0] = '"'; /* digits, '-', ':', '.', 'T', 'Z', '+': nothing to escape */
			size_t len = fmt_rfc3339(c->i, c->utc_offset_s, o + 1);
			o[len + 1] = '"';
			w->n += len + 2;
			return;
		}
		w->n += fmt_i64(c->i / epoch_divisor(epoch), o);
		return;
	default:
		break;
	}
	memcpy(o, "null", 4);
	w->n += 4;
}

/* A cell as an element of the open array (pretty output). */
static void jw_cell(struct jw *w, const struct mg_cell *c, enum mg_epoch epoch)
{
	jw_sep(w);
	if (jw_room(w, JW_CELL_ROOM))
		jw_row_cell(w, c, epoch);
}

/*
 * Rows [row0, row0 + nrows) of s as the elements of the open "values"
 * array. Compact output writes each cell straight into the buffer (the
 * bulk of a large answer); pretty output goes through the general writer.
 */
static void enc_rows(struct jw *w, const struct mg_series *s, uint64_t row0, uint64_t nrows,
		     enum mg_epoch epoch)
{
	if (w->pretty) {
		for (uint64_t r = row0; r < row0 + nrows && !w->rc; r++) {
			jw_open(w, '[');
			for (uint32_t i = 0; i < s->ncols; i++)
				jw_cell(w, &s->cells[r * s->ncols + i], epoch);
			jw_close(w, ']');
		}
		return;
	}
	for (uint64_t r = row0; r < row0 + nrows; r++) {
		const struct mg_cell *c = &s->cells[r * s->ncols];
		for (uint32_t i = 0; i < s->ncols; i++) {
			if (!jw_room(w, JW_CELL_ROOM))
				return;
			w->buf[w->n++] = i ? ',' : r > row0 ? ',' : '[';
			if (i == 0 && r > row0)
				w->buf[w->n++] = '[';
			jw_row_cell(w, &c[i], epoch);
		}
		if (!jw_room(w, 1))
			return;
		w->buf[w->n++] = ']';
	}
	w->first = nrows == 0;
}

/* ------------------------------------------------------------ documents */

/* One series (rows [row0, row0 + nrows)), in models.Row's field order. */
static void enc_series(struct jw *w, const struct mg_series *s, uint64_t row0, uint64_t nrows,
		       bool partial, enum mg_epoch epoch)
{
	jw_open(w, '{');
	if (s->name && s->name[0]) {
		jw_key(w, "name");
		jw_cstr(w, s->name);
	}
	if (s->ntags) {
		jw_key(w, "tags");
		jw_open(w, '{');
		for (uint32_t i = 0; i < s->ntags; i++) {
			jw_key(w, s->tags[i].key);
			jw_cstr(w, s->tags[i].value);
		}
		jw_close(w, '}');
	}
	if (s->ncols) {
		jw_key(w, "columns");
		jw_open(w, '[');
		for (uint32_t i = 0; i < s->ncols; i++)
			jw_cstr(w, s->columns[i]);
		jw_close(w, ']');
	}
	if (nrows && s->ncols) {
		jw_key(w, "values");
		jw_open(w, '[');
		enc_rows(w, s, row0, nrows, epoch);
		jw_close(w, ']');
	}
	if (partial) {
		jw_key(w, "partial");
		jw_raw(w, "true", 4);
	}
	jw_close(w, '}');
}

/*
 * Which series of a statement a document holds: all of them (whole), or
 * rows [row0, row0 + nrows) of series one.
 */
struct piece {
	bool whole;
	uint32_t one;
	uint64_t row0, nrows;
	bool series_partial;    /* more rows of this series follow */
	bool stmt_partial;      /* more documents of this statement follow */
	bool messages;          /* this document carries the messages */
};

/* One statement's result, in query.Result's field order. */
static void enc_stmt(struct jw *w, const struct mg_stmt_result *st, const struct piece *pc,
		     enum mg_epoch epoch)
{
	char b[16];
	jw_open(w, '{');
	jw_key(w, "statement_id");
	jw_raw(w, b, fmt_u64(st->statement_id, b));
	if (st->nseries) {
		jw_key(w, "series");
		jw_open(w, '[');
		for (uint32_t i = 0; i < st->nseries && !w->rc; i++) {
			if (pc->whole)
				enc_series(w, &st->series[i], 0, st->series[i].nrows,
					   st->series[i].partial, epoch);
			else if (i == pc->one)
				enc_series(w, &st->series[i], pc->row0, pc->nrows,
					   pc->series_partial, epoch);
		}
		jw_close(w, ']');
	}
	if (st->nmessages && pc->messages) {
		jw_key(w, "messages");
		jw_open(w, '[');
		for (uint32_t i = 0; i < st->nmessages; i++) {
			jw_open(w, '{');
			jw_key(w, "level");
			jw_cstr(w, "warning");
			jw_key(w, "text");
			jw_cstr(w, st->messages[i] ? st->messages[i] : "");
			jw_close(w, '}');
		}
		jw_close(w, ']');
	}
	if (pc->stmt_partial) {
		jw_key(w, "partial");
		jw_raw(w, "true", 4);
	}
	if (st->error) {
		jw_key(w, "error");
		jw_cstr(w, st->error);
	}
	jw_close(w, '}');
}

/* {"results":[ <one statement, or all of them when st is NULL> ]} */
static void enc_doc(struct jw *w, const struct mg_result *r, const struct mg_stmt_result *st,
		    const struct piece *pc, enum mg_epoch epoch)
{
	jw_open(w, '{');
	jw_key(w, "results");
	jw_open(w, '[');
	if (st)
		enc_stmt(w, st, pc, epoch);
	else
		for (uint32_t i = 0; i < r->nstmts && !w->rc; i++)
			enc_stmt(w, &r->stmts[i], pc, epoch);
	jw_close(w, ']');
	jw_close(w, '}');
}

/* The documents of one statement: one per series piece of at most chunk rows. */
static void enc_stmt_chunked(struct jw *w, const struct mg_result *r,
			     const struct mg_stmt_result *st, uint64_t chunk, enum mg_epoch epoch)
{
	struct piece pc = {.messages = true};
	if (st->nseries == 0) {
		pc.whole = true;
		enc_doc(w, r, st, &pc, epoch);
		jw_put(w, "\n", 1);
		return;
	}
	for (uint32_t i = 0; i < st->nseries && !w->rc; i++) {
		uint64_t nrows = st->series[i].nrows;
		uint64_t row0 = 0;
		do {
			uint64_t n = nrows - row0 < chunk ? nrows - row0 : chunk;
			bool last_piece = row0 + n >= nrows;
			pc.one = i;
			pc.row0 = row0;
			pc.nrows = n;
			pc.series_partial = !last_piece || st->series[i].partial;
			pc.stmt_partial = !last_piece || i + 1 < st->nseries;
			enc_doc(w, r, st, &pc, epoch);
			jw_put(w, "\n", 1);
			pc.messages = false;
			row0 += n;
		} while (row0 < nrows && !w->rc);
	}
}

/*
 * Encode r through a fresh writer (malloc'd: it holds the 8 KiB buffer and the string
 * memo, about 73 KB, of which only the memo's 8 KB of keys is cleared):
 * one document, or chunked documents of at most chunk rows.
 */
static int encode(const struct mg_result *r, const struct mg_json_opts *o, bool chunked,
		  uint64_t chunk, mg_write_fn fn, void *arg)
{
	struct jw *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->rc = 0;
	w->pretty = o && o->pretty;
	w->first = true;
	w->after_key = false;
	w->depth = 0;
	w->n = 0;
	memset(w->memo_key, 0, sizeof(w->memo_key));
	enum mg_epoch epoch = o ? o->epoch : MG_EPOCH_RFC3339;
	if (chunked) {
		for (uint32_t i = 0; i < r->nstmts && !w->rc; i++)
			enc_stmt_chunked(w, r, &r->stmts[i], chunk, epoch);
	} else {
		const struct piece whole = {.whole = true, .messages = true};
		enc_doc(w, r, NULL, &whole, epoch);
	}
	jw_flush(w);
	int rc = w->rc;
	free(w);
	return rc;
}

int mg_result_json(const struct mg_result *r, const struct mg_json_opts *o, mg_write_fn fn,
		   void *arg)
{
	return encode(r, o, false, 0, fn, arg);
}

int mg_result_json_chunked(const struct mg_result *r, const struct mg_json_opts *o,
			   uint64_t chunk_size, mg_write_fn fn, void *arg)
{
	return encode(r, o, true, chunk_size ? chunk_size : UINT64_MAX, fn, arg);
}
