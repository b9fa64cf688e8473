/*
 * st_series.h - series keys: the canonical bytes that name a series, and
 * their 64-bit hash.
 *
 * A series is a name (line protocol: the measurement; StatsD: the metric
 * name), a field key (line protocol; empty for StatsD) and a tag set. Two
 * spellings of one series (tags in another order) give the same bytes: tags
 * are sorted by key. The format is length-prefixed, so any byte may appear in
 * a name, key or value without escaping:
 *
 *   u16 name_len  | name bytes
 *   u16 field_len | field bytes
 *   u16 ntags
 *   ntags x ( u16 key_len | key bytes | u16 value_len | value bytes )
 *
 * u16 values are little-endian. Tag keys are unique and strictly increasing
 * (memcmp order, a shorter key before its extensions); names are non-empty;
 * tag keys and values are non-empty. A key is at most ST_KEY_MAX bytes.
 *
 * Lookups hash the whole key with XXH3-64 (libxxhash) and compare the full
 * bytes on a hash hit.
 *
 * Usage: every decoder builds one key per point (line protocol: one per
 * field) on the hot path, so st_key_build never allocates and sorts small
 * tag sets in place. Any thread.
 */
#ifndef ST_SERIES_H
#define ST_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "st_types.h"

#define ST_KEY_MAX 4096
#define ST_TAGS_MAX 64

/* Two slices with the same bytes. Any thread. */
static inline bool st_str_eq(struct st_str a, struct st_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

struct st_tag {
	struct st_str key;
	struct st_str value;
};

/*
 * HOT PATH. Write the canonical key of (name, field, tags) into out[cap].
 * tags (borrowed) is sorted in place. Returns the key length (> 0), or
 * -EINVAL (empty name, empty tag key or value, duplicate tag key, more than
 * ST_TAGS_MAX tags), or -ENOSPC (longer than cap or ST_KEY_MAX).
 */
int st_key_build(uint8_t *out, size_t cap, struct st_str name, struct st_str field,
		 struct st_tag *tags, uint32_t ntags);

/*
 * HOT PATH. The key of the same name and tags with another field: tmpl is a
 * key (tmpl_len bytes, built by st_key_build with an empty field), field is
 * spliced in after the name. Lets a decoder sort and build the tags of a line
 * once for all its fields. Returns the key length, or -ENOSPC (longer than
 * cap or ST_KEY_MAX). tmpl, field and out are borrowed; out must not overlap.
 */
int st_key_with_field(const uint8_t *tmpl, size_t tmpl_len, struct st_str field, uint8_t *out,
		      size_t cap);

static inline uint64_t st_key_hash(const uint8_t *key, size_t len)
{
	return XXH3_64bits(key, len);
}

/* A parsed view of a key: slices borrowed from the key bytes. */
struct st_key_view {
	struct st_str name;
	struct st_str field;
	uint32_t ntags;
	const uint8_t *tags;     /* first tag record */
	const uint8_t *end;
};

/* Validate key[len] and fill *v. Returns 0 or -EINVAL (malformed). */
int st_key_parse(const uint8_t *key, size_t len, struct st_key_view *v);

/* Tag i of a parsed key, walking from the first (i < v->ntags); O(i). */
struct st_key_iter {
	const uint8_t *p;
	uint32_t left;
};
void st_key_iter_init(const struct st_key_view *v, struct st_key_iter *it);
/* Next tag into *out; false at the end. The key must have passed st_key_parse. */
bool st_key_iter_next(struct st_key_iter *it, struct st_tag *out);

/* Value of tag key k in a parsed key; true if present. */
bool st_key_tag(const struct st_key_view *v, struct st_str k, struct st_str *value);

/*
 * Append s to out[cap] at offset at, with a backslash before each byte that
 * is in esc (line-protocol escaping: ", " for measurements, ",= " for tag
 * keys, tag values and field keys). snprintf-style: returns the offset
 * after s even when out is too small, and never writes out[cap - 1] or
 * beyond (the caller terminates). Any thread.
 */
size_t st_lp_escape(char *out, size_t cap, size_t at, struct st_str s, const char *esc);

/*
 * Human form, as InfluxDB prints a series: "cpu,host=a,region=b" with
 * line-protocol escaping, followed by " field" when the field is not empty
 * and with_field is set. Returns the length it needed (snprintf-style; out
 * is NUL-terminated when cap > 0), or -EINVAL for a malformed key.
 */
int st_key_format(const uint8_t *key, size_t len, bool with_field, char *out, size_t cap);

#endif /* ST_SERIES_H */
