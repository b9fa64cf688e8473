/*
 * st_series.c - canonical series keys (format in st_series.h). Built once per
 * decoded point on the dataplane cores, so st_key_build is allocation-free
 * and sorts tags with an insertion sort (tag sets are small, often already
 * sorted). Parsing and formatting serve the management plane. Any thread.
 */
#include "st_series.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "cm_compiler.h"

static inline int str_cmp(struct st_str a, struct st_str b)
{
	int c = memcmp(a.p, b.p, CM_MIN(a.len, b.len));
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

static inline uint8_t *put_str(uint8_t *p, struct st_str s)
{
	p[0] = (uint8_t)(s.len & 0xff);
	p[1] = (uint8_t)(s.len >> 8);
	memcpy(p + 2, s.p, s.len);
	return p + 2 + s.len;
}

/* HOT PATH */
int st_key_build(uint8_t *out, size_t cap, struct st_str name, struct st_str field,
		 struct st_tag *tags, uint32_t ntags)
{
	if (cm_unlikely(name.len == 0 || ntags > ST_TAGS_MAX))
		return -EINVAL;
	if (cap > ST_KEY_MAX)
		cap = ST_KEY_MAX;

	/* Insertion sort by tag key; duplicates are rejected. */
	for (uint32_t i = 1; i < ntags; i++) {
		struct st_tag t = tags[i];
		uint32_t j = i;
		while (j > 0 && str_cmp(tags[j - 1].key, t.key) > 0) {
			tags[j] = tags[j - 1];
			j--;
		}
		tags[j] = t;
	}

	size_t need = 2 + (size_t)name.len + 2 + field.len + 2;
	for (uint32_t i = 0; i < ntags; i++) {
		if (cm_unlikely(tags[i].key.len == 0 || tags[i].value.len == 0))
			return -EINVAL;
		if (cm_unlikely(i > 0 && str_cmp(tags[i - 1].key, tags[i].key) == 0))
			return -EINVAL;
		need += 4 + (size_t)tags[i].key.len + tags[i].value.len;
	}
	if (cm_unlikely(need > cap))
		return -ENOSPC;

	uint8_t *p = put_str(out, name);
	p = put_str(p, field);
	p[0] = (uint8_t)(ntags & 0xff);
	p[1] = (uint8_t)(ntags >> 8);
	p += 2;
	for (uint32_t i = 0; i < ntags; i++) {
		p = put_str(p, tags[i].key);
		p = put_str(p, tags[i].value);
	}
	assert((size_t)(p - out) == need);
	return (int)need;
}

/* HOT PATH */
int st_key_with_field(const uint8_t *tmpl, size_t tmpl_len, struct st_str field, uint8_t *out,
		      size_t cap)
{
	size_t head = 2 + ((size_t)tmpl[0] | ((size_t)tmpl[1] << 8));
	assert(tmpl_len >= head + 2 && tmpl[head] == 0 && tmpl[head + 1] == 0);
	size_t need = tmpl_len + field.len;
	if (cm_unlikely(need > cap || need > ST_KEY_MAX))
		return -ENOSPC;
	memcpy(out, tmpl, head);
	out = put_str(out + head, field);
	memcpy(out, tmpl + head + 2, tmpl_len - head - 2);
	return (int)need;
}

/* Read a u16-prefixed slice at *pp within end; false if it does not fit. */
static bool get_str(const uint8_t **pp, const uint8_t *end, struct st_str *s)
{
	const uint8_t *p = *pp;
	if (end - p < 2)
		return false;
	uint32_t len = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
	if ((size_t)(end - p - 2) < len)
		return false;
	s->p = (const char *)p + 2;
	s->len = len;
	*pp = p + 2 + len;
	return true;
}

int st_key_parse(const uint8_t *key, size_t len, struct st_key_view *v)
{
	const uint8_t *p = key, *end = key + len;
	if (len > ST_KEY_MAX)
		return -EINVAL;
	if (!get_str(&p, end, &v->name) || v->name.len == 0)
		return -EINVAL;
	if (!get_str(&p, end, &v->field))
		return -EINVAL;
	if (end - p < 2)
		return -EINVAL;
	v->ntags = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
	p += 2;
	if (v->ntags > ST_TAGS_MAX)
		return -EINVAL;
	v->tags = p;
	struct st_str prev = {0};
	for (uint32_t i = 0; i < v->ntags; i++) {
		struct st_str k, val;
		if (!get_str(&p, end, &k) || !get_str(&p, end, &val))
			return -EINVAL;
		if (k.len == 0 || val.len == 0 || (i > 0 && str_cmp(prev, k) >= 0))
			return -EINVAL;
		prev = k;
	}
	if (p != end)
		return -EINVAL;
	v->end = end;
	return 0;
}

void st_key_iter_init(const struct st_key_view *v, struct st_key_iter *it)
{
	it->p = v->tags;
	it->left = v->ntags;
}

bool st_key_iter_next(struct st_key_iter *it, struct st_tag *out)
{
	if (it->left == 0)
		return false;
	const uint8_t *p = it->p;
	out->key.len = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
	out->key.p = (const char *)p + 2;
	p += 2 + out->key.len;
	out->value.len = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
	out->value.p = (const char *)p + 2;
	it->p = p + 2 + out->value.len;
	it->left--;
	return true;
}

bool st_key_tag(const struct st_key_view *v, struct st_str k, struct st_str *value)
{
	struct st_key_iter it;
	struct st_tag t;
	st_key_iter_init(v, &it);
	while (st_key_iter_next(&it, &t)) {
		int c = str_cmp(t.key, k);
		if (c == 0) {
			*value = t.value;
			return true;
		}
		if (c > 0)
			break;
	}
	return false;
}

size_t st_lp_escape(char *out, size_t cap, size_t at, struct st_str s, const char *esc)
{
	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (strchr(esc, c) && c != '\0') {
			if (at + 1 < cap)
				out[at] = '\\';
			at++;
		}
		if (at + 1 < cap)
			out[at] = c;
		at++;
	}
	return at;
}

int st_key_format(const uint8_t *key, size_t len, bool with_field, char *out, size_t cap)
{
	struct st_key_view v;
	if (st_key_parse(key, len, &v))
		return -EINVAL;
	size_t at = st_lp_escape(out, cap, 0, v.name, ", ");
	struct st_key_iter it;
	struct st_tag t;
	st_key_iter_init(&v, &it);
	while (st_key_iter_next(&it, &t)) {
		at = st_lp_escape(out, cap, at, (struct st_str){",", 1}, "");
		at = st_lp_escape(out, cap, at, t.key, ",= ");
		at = st_lp_escape(out, cap, at, (struct st_str){"=", 1}, "");
		at = st_lp_escape(out, cap, at, t.value, ",= ");
	}
	if (with_field && v.field.len) {
		at = st_lp_escape(out, cap, at, (struct st_str){" ", 1}, "");
		at = st_lp_escape(out, cap, at, v.field, ",= ");
	}
	if (cap)
		out[CM_MIN(at, cap - 1)] = '\0';
	return (int)at;
}
