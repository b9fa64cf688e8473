/*
 * test_st_series.c - canonical series keys: order independence, the byte
 * format, rejections, parse/format, and hashing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cm_compiler.h"
#include "st_series.h"

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})

static void test_st_series__tag_order_does_not_matter(void **state)
{
	(void)state;
	struct st_tag a[] = {{S("host"), S("h1")}, {S("dc"), S("fra")}, {S("rack"), S("7")}};
	struct st_tag b[] = {{S("rack"), S("7")}, {S("host"), S("h1")}, {S("dc"), S("fra")}};
	uint8_t ka[ST_KEY_MAX], kb[ST_KEY_MAX];
	int la = st_key_build(ka, sizeof(ka), S("cpu"), S("usage"), a, 3);
	int lb = st_key_build(kb, sizeof(kb), S("cpu"), S("usage"), b, 3);
	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ka, kb, (size_t)la);
	assert_int_equal(st_key_hash(ka, (size_t)la), st_key_hash(kb, (size_t)lb));
}

static void test_st_series__byte_format(void **state)
{
	(void)state;
	struct st_tag t[] = {{S("b"), S("2")}, {S("a"), S("1")}};
	uint8_t k[64];
	int n = st_key_build(k, sizeof(k), S("m"), S("f"), t, 2);
	static const uint8_t want[] = {1, 0, 'm', 1, 0, 'f', 2, 0, 1, 0, 'a', 1, 0, '1',
				       1, 0, 'b', 1, 0, '2'};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(k, want, sizeof(want));
}

static void test_st_series__with_field_equals_build(void **state)
{
	(void)state;
	struct st_tag t[] = {{S("host"), S("h1")}, {S("dc"), S("fra")}};
	uint8_t tmpl[ST_KEY_MAX], a[ST_KEY_MAX], b[ST_KEY_MAX];
	int tl = st_key_build(tmpl, sizeof(tmpl), S("cpu"), S(""), t, 2);
	assert_true(tl > 0);
	const struct st_str fields[] = {S("usage_user"), S("x"), S("")};
	for (size_t i = 0; i < CM_ARRAY_SIZE(fields); i++) {
		int la = st_key_with_field(tmpl, (size_t)tl, fields[i], a, sizeof(a));
		int lb = st_key_build(b, sizeof(b), S("cpu"), fields[i], t, 2);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
	}
	assert_int_equal(st_key_with_field(tmpl, (size_t)tl, S("usage_user"), a, (size_t)tl + 3),
			 -ENOSPC);
}

static void test_st_series__rejects(void **state)
{
	(void)state;
	uint8_t k[ST_KEY_MAX];
	struct st_tag dup[] = {{S("a"), S("1")}, {S("a"), S("2")}};
	assert_int_equal(st_key_build(k, sizeof(k), S("m"), S(""), dup, 2), -EINVAL);
	struct st_tag empty_v[] = {{S("a"), S("")}};
	assert_int_equal(st_key_build(k, sizeof(k), S("m"), S(""), empty_v, 1), -EINVAL);
	struct st_tag empty_k[] = {{S(""), S("x")}};
	assert_int_equal(st_key_build(k, sizeof(k), S("m"), S(""), empty_k, 1), -EINVAL);
	assert_int_equal(st_key_build(k, sizeof(k), S(""), S("f"), NULL, 0), -EINVAL);
	assert_int_equal(st_key_build(k, 8, S("measurement"), S("f"), NULL, 0), -ENOSPC);
	char big[ST_KEY_MAX];
	memset(big, 'x', sizeof(big));
	struct st_tag huge[] = {{S("k"), {big, sizeof(big)}}};
	assert_int_equal(st_key_build(k, sizeof(k), S("m"), S(""), huge, 1), -ENOSPC);
	struct st_tag many[ST_TAGS_MAX + 1];
	char names[ST_TAGS_MAX + 1][8];
	for (int i = 0; i <= ST_TAGS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "t%02d", i);
		many[i] = (struct st_tag){{names[i], 3}, S("v")};
	}
	assert_int_equal(st_key_build(k, sizeof(k), S("m"), S(""), many, ST_TAGS_MAX + 1), -EINVAL);
	assert_true(st_key_build(k, sizeof(k), S("m"), S(""), many, ST_TAGS_MAX) > 0);
}

static void test_st_series__parse_iterate_lookup(void **state)
{
	(void)state;
	struct st_tag t[] = {{S("zone"), S("z1")}, {S("host"), S("web 1")}, {S("app"), S("api")}};
	uint8_t k[256];
	int n = st_key_build(k, sizeof(k), S("http"), S("latency"), t, 3);
	struct st_key_view v;
	assert_int_equal(st_key_parse(k, (size_t)n, &v), 0);
	assert_int_equal(v.name.len, 4);
	assert_memory_equal(v.name.p, "http", 4);
	assert_memory_equal(v.field.p, "latency", 7);
	assert_int_equal(v.ntags, 3);
	struct st_key_iter it;
	struct st_tag tag;
	const char *order[] = {"app", "host", "zone"};
	int i = 0;
	st_key_iter_init(&v, &it);
	while (st_key_iter_next(&it, &tag))
		assert_memory_equal(tag.key.p, order[i++], 3);
	assert_int_equal(i, 3);
	struct st_str val;
	assert_true(st_key_tag(&v, S("host"), &val));
	assert_memory_equal(val.p, "web 1", 5);
	assert_false(st_key_tag(&v, S("hos"), &val));

	char text[128];
	assert_int_equal(st_key_format(k, (size_t)n, true, text, sizeof(text)),
			 (int)strlen("http,app=api,host=web\\ 1,zone=z1 latency"));
	assert_string_equal(text, "http,app=api,host=web\\ 1,zone=z1 latency");
	/* snprintf-style: a short buffer is truncated, the length still reported */
	char small[8];
	assert_int_equal(st_key_format(k, (size_t)n, false, small, sizeof(small)), 32);
	assert_string_equal(small, "http,ap");
}

static void test_st_series__parse_rejects_corrupt(void **state)
{
	(void)state;
	struct st_tag t[] = {{S("a"), S("1")}, {S("b"), S("2")}};
	uint8_t k[64];
	int n = st_key_build(k, sizeof(k), S("m"), S("f"), t, 2);
	struct st_key_view v;
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(st_key_parse(k, (size_t)cut, &v), -EINVAL);
	uint8_t bad[64];
	memcpy(bad, k, (size_t)n);
	bad[10] = 'c'; /* tag keys out of order: "c" then "b" */
	assert_int_equal(st_key_parse(bad, (size_t)n, &v), -EINVAL);
	memcpy(bad, k, (size_t)n);
	bad[6] = 9; /* more tags than present */
	assert_int_equal(st_key_parse(bad, (size_t)n, &v), -EINVAL);
	/* every single-byte corruption either parses or is rejected, never over-reads */
	for (int i = 0; i < n; i++)
		for (int b = 0; b < 256; b += 17) {
			memcpy(bad, k, (size_t)n);
			bad[i] = (uint8_t)b;
			(void)st_key_parse(bad, (size_t)n, &v);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_series__tag_order_does_not_matter),
		cmocka_unit_test(test_st_series__byte_format),
		cmocka_unit_test(test_st_series__with_field_equals_build),
		cmocka_unit_test(test_st_series__rejects),
		cmocka_unit_test(test_st_series__parse_iterate_lookup),
		cmocka_unit_test(test_st_series__parse_rejects_corrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
