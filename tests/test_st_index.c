/*
 * test_st_index.c - unit tests of storage/st_index.c: each operation on a
 * small hand-built index, id-set algebra against a naive model, allocation
 * failures at every step of an add, a randomized run checked against a
 * brute-force model that scans every live key (sqlite3BitvecBuiltinTest
 * style, fixed seed) with st_index_check() along the way, and one writer
 * against reader threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "st_index.h"
#include "st_series.h"
#include "tst_util.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

#define S(lit) ((struct st_str){(lit), (uint32_t)strlen(lit)})

static struct st_str str_of(const char *s)
{
	return (struct st_str){s, (uint32_t)strlen(s)};
}

/* Deterministic PRNG (xorshift64*), so the runs do not depend on libc. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/*
 * Build a key from "meas", "field" and "k=v,k=v" (no escaping; tests only).
 * Returns its length.
 */
static size_t mk(uint8_t *out, size_t cap, const char *meas, const char *field, const char *tags)
{
	int len = tst_key_build(out, cap, meas, strlen(meas), field, tags);
	assert_true(len > 0);
	return (size_t)len;
}

static void add_ok(struct st_index *idx, uint64_t id, const char *meas, const char *field,
		   const char *tags)
{
	uint8_t key[ST_KEY_MAX];
	size_t len = mk(key, sizeof(key), meas, field, tags);
	assert_int_equal(st_index_add(idx, id, key, len), 0);
}

static void check_ok(struct st_index *idx)
{
	char err[256] = "";
	st_index_read_lock(idx);
	int rc = st_index_check(idx, err, sizeof(err));
	st_index_read_unlock(idx);
	if (rc)
		fail_msg("st_index_check: %s", err);
}

/* Expect set == ids[0..n). */
static void expect_set(const struct st_idset *set, const uint64_t *ids, size_t n)
{
	if (set->n != n) {
		for (size_t i = 0; i < set->n; i++)
			print_message("got %#llx\n", (unsigned long long)set->ids[i]);
		fail_msg("set has %zu ids, expected %zu", set->n, n);
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(set->ids[i], ids[i]);
}

#define EXPECT(set, ...)                                                           \
	do {                                                                       \
		const uint64_t want_[] = {__VA_ARGS__};                            \
		expect_set((set), want_, sizeof(want_) / sizeof(want_[0]));        \
	} while (0)
#define EXPECT_EMPTY(set) assert_int_equal((set)->n, 0)

/* A listing collected from the callback. */
struct listing {
	char names[4096][48];
	uint64_t counts[4096];
	size_t n;
	size_t stop_after; /* 0: never */
};

static int collect(void *arg, struct st_str name, uint64_t nseries)
{
	struct listing *l = arg;
	assert_true(l->n < 4096 && name.len < 48);
	memcpy(l->names[l->n], name.p, name.len);
	l->names[l->n][name.len] = '\0';
	l->counts[l->n] = nseries;
	l->n++;
	return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

/* Expect "name:count name:count ..." */
static void expect_listing(const struct listing *l, const char *want)
{
	char got[8192] = "";
	size_t at = 0;
	for (size_t i = 0; i < l->n; i++)
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%s:%llu", i ? " " : "",
				       l->names[i], (unsigned long long)l->counts[i]);
	assert_string_equal(got, want);
}

static struct st_index_regex *re_ok(const char *pat)
{
	struct st_index_regex *re = NULL;
	char err[128];
	int rc = st_index_regex_compile(pat, strlen(pat), &re, err, sizeof(err));
	if (rc)
		fail_msg("regex %s: %s", pat, err);
	return re;
}

#define SH(shard, local) ST_SERIES_ID((shard), (local))

/* The small index most unit cases share. */
static struct st_index *small_index(void)
{
	struct st_index *idx = NULL;
	assert_int_equal(st_index_create(NULL, &idx), 0);
	add_ok(idx, SH(0, 0), "cpu", "usage", "host=a,region=x");
	add_ok(idx, SH(1, 0), "cpu", "usage", "host=b,region=x");
	add_ok(idx, SH(0, 1), "cpu", "idle", "host=a,region=x");
	add_ok(idx, SH(1, 1), "cpu", "usage", "region=y");          /* no host */
	add_ok(idx, SH(2, 0), "mem", "free", "host=a");
	add_ok(idx, SH(2, 1), "statsd.requests", "", "host=c");      /* no field */
	check_ok(idx);
	return idx;
}

/* ------------------------------------------------------------------------ */
/* Unit cases                                                                 */
/* ------------------------------------------------------------------------ */

static void test_st_index__create_destroy(void **state)
{
	(void)state;
	struct st_index *idx = NULL;
	assert_int_equal(st_index_create(NULL, &idx), 0);
	assert_non_null(idx);
	check_ok(idx);
	st_index_read_lock(idx);
	assert_int_equal(st_index_cardinality(idx), 0);
	st_index_read_unlock(idx);
	st_index_destroy(idx);
	st_index_destroy(NULL);
	st_idset_release(NULL);
	st_index_regex_free(NULL);
}

static void test_st_index__add_and_key(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	uint8_t want[ST_KEY_MAX];
	const uint8_t *key;
	size_t len, wlen = mk(want, sizeof(want), "cpu", "idle", "region=x,host=a");

	st_index_read_lock(idx);
	assert_int_equal(st_index_cardinality(idx), 6);
	assert_int_equal(st_index_key(idx, SH(0, 1), &key, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(key, want, len);
	assert_int_equal(st_index_key(idx, SH(0, 2), &key, &len), -ENOENT);
	assert_int_equal(st_index_key(idx, SH(9, 0), &key, &len), -ENOENT);
	st_index_read_unlock(idx);
	st_index_destroy(idx);
}

static void test_st_index__add_duplicate_is_eexist(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	uint8_t key[ST_KEY_MAX];
	size_t len = mk(key, sizeof(key), "disk", "used", "host=zz");

	/* Same id, another key: refused, nothing of the new key indexed. */
	assert_int_equal(st_index_add(idx, SH(1, 1), key, len), -EEXIST);
	check_ok(idx);
	struct listing l = {0};
	st_index_read_lock(idx);
	assert_int_equal(st_index_cardinality(idx), 6);
	assert_int_equal(st_index_measurements(idx, NULL, collect, &l), 0);
	st_index_read_unlock(idx);
	expect_listing(&l, "cpu:4 mem:1 statsd.requests:1");
	st_index_destroy(idx);
}

static void test_st_index__add_malformed_is_einval(void **state)
{
	(void)state;
	struct st_index *idx = NULL;
	uint8_t key[ST_KEY_MAX];
	size_t len = mk(key, sizeof(key), "cpu", "f", "a=b");
	static const uint8_t garbage[] = {3, 0, 'c', 'p'};

	assert_int_equal(st_index_create(NULL, &idx), 0);
	assert_int_equal(st_index_add(idx, 1, garbage, sizeof(garbage)), -EINVAL);
	assert_int_equal(st_index_add(idx, 1, key, len - 1), -EINVAL);
	assert_int_equal(st_index_add(idx, 1, key, 0), -EINVAL);
	assert_int_equal(st_index_add(idx, 1, NULL, 0), -EINVAL);
	assert_int_equal(st_index_add(idx, 1, key, len), 0);
	check_ok(idx);
	st_index_destroy(idx);
}

static void test_st_index__measurement_and_field(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_idset s;
	st_idset_init(&s);

	st_index_read_lock(idx);
	assert_int_equal(st_index_measurement(idx, S("cpu"), &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1), SH(1, 0), SH(1, 1));
	assert_int_equal(st_index_measurement(idx, S("nope"), &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_field(idx, S("cpu"), S("usage"), &s), 0);
	EXPECT(&s, SH(0, 0), SH(1, 0), SH(1, 1));
	assert_int_equal(st_index_field(idx, S("cpu"), S("idle"), &s), 0);
	EXPECT(&s, SH(0, 1));
	assert_int_equal(st_index_field(idx, S("mem"), S("usage"), &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_field(idx, S("statsd.requests"), S(""), &s), 0);
	EXPECT_EMPTY(&s); /* empty fields are not indexed */
	assert_int_equal(st_index_measurement(idx, S("statsd.requests"), &s), 0);
	EXPECT(&s, SH(2, 1));
	st_index_read_unlock(idx);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void test_st_index__tag_eq_neq(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_idset s;
	st_idset_init(&s);

	st_index_read_lock(idx);
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("host"), S("a"), &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1));
	/* != : other values and the series without the tag (InfluxQL). */
	assert_int_equal(st_index_tag_neq(idx, S("cpu"), S("host"), S("a"), &s), 0);
	EXPECT(&s, SH(1, 0), SH(1, 1));
	/* = '' : without the tag; != '' : with it. */
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("host"), S(""), &s), 0);
	EXPECT(&s, SH(1, 1));
	assert_int_equal(st_index_tag_neq(idx, S("cpu"), S("host"), S(""), &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1), SH(1, 0));
	/* A value of another measurement does not leak in. */
	assert_int_equal(st_index_tag_eq(idx, S("mem"), S("host"), S("a"), &s), 0);
	EXPECT(&s, SH(2, 0));
	/* Unknown value, key, measurement. */
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("host"), S("zz"), &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_tag_neq(idx, S("cpu"), S("host"), S("zz"), &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("zone"), S("z"), &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("zone"), S(""), &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(st_index_tag_neq(idx, S("cpu"), S("zone"), S(""), &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_tag_neq(idx, S("gpu"), S("host"), S("a"), &s), 0);
	EXPECT_EMPTY(&s);
	st_index_read_unlock(idx);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void test_st_index__tag_regex(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_index_regex *ab = re_ok("^[ab]$"), *empty = re_ok("^$"), *any = re_ok(".*");
	struct st_index_regex *b_or_none = re_ok("^(b|)$"), *nothing = re_ok("q");
	struct st_idset s;
	st_idset_init(&s);

	st_index_read_lock(idx);
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("host"), ab, &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1), SH(1, 0));
	assert_int_equal(st_index_tag_nregex(idx, S("cpu"), S("host"), ab, &s), 0);
	EXPECT(&s, SH(1, 1));
	/* A regex that matches "" also selects the series without the tag. */
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("host"), empty, &s), 0);
	EXPECT(&s, SH(1, 1));
	assert_int_equal(st_index_tag_nregex(idx, S("cpu"), S("host"), empty, &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1), SH(1, 0));
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("host"), any, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(st_index_tag_nregex(idx, S("cpu"), S("host"), any, &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("host"), b_or_none, &s), 0);
	EXPECT(&s, SH(1, 0), SH(1, 1));
	assert_int_equal(st_index_tag_nregex(idx, S("cpu"), S("host"), b_or_none, &s), 0);
	EXPECT(&s, SH(0, 0), SH(0, 1));
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("host"), nothing, &s), 0);
	EXPECT_EMPTY(&s);
	/* Missing key: every series reads "". */
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("zone"), empty, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(st_index_tag_regex(idx, S("cpu"), S("zone"), ab, &s), 0);
	EXPECT_EMPTY(&s);
	assert_int_equal(st_index_tag_nregex(idx, S("cpu"), S("zone"), ab, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(st_index_tag_regex(idx, S("nope"), S("host"), empty, &s), 0);
	EXPECT_EMPTY(&s);
	st_index_read_unlock(idx);

	st_index_regex_free(ab);
	st_index_regex_free(empty);
	st_index_regex_free(any);
	st_index_regex_free(b_or_none);
	st_index_regex_free(nothing);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void test_st_index__regex_semantics(void **state)
{
	(void)state;
	struct st_index_regex *re = NULL;
	char err[128] = "";

	assert_int_equal(st_index_regex_compile("a(", 2, &re, err, sizeof(err)), -EINVAL);
	assert_null(re);
	assert_non_null(strstr(err, "bad regex \"a(\""));
	assert_int_equal(st_index_regex_compile("a(", 2, &re, NULL, 0), -EINVAL);

	/* Unanchored search, as Go's MatchString. */
	re = re_ok("us-");
	assert_int_equal(st_index_regex_match(re, S("eu-us-1")), 1);
	assert_int_equal(st_index_regex_match(re, S("eu-west")), 0);
	st_index_regex_free(re);
	/* `$` only at the very end (RE2), not before a final newline. */
	re = re_ok("a$");
	assert_int_equal(st_index_regex_match(re, S("a\n")), 0);
	assert_int_equal(st_index_regex_match(re, S("ba")), 1);
	st_index_regex_free(re);
	/* A pattern need not be NUL-terminated. */
	assert_int_equal(st_index_regex_compile("abXYZ", 2, &re, err, sizeof(err)), 0);
	assert_int_equal(st_index_regex_match(re, S("xab")), 1);
	assert_int_equal(st_index_regex_match(re, S("aXY")), 0);
	st_index_regex_free(re);
	/* UTF-8 aware, and invalid UTF-8 values are matched, not rejected. */
	re = re_ok("^.$");
	assert_int_equal(st_index_regex_match(re, S("\xc3\xa9")), 1);
	assert_int_equal(st_index_regex_match(re, S("\xff")), 0);
	st_index_regex_free(re);
	re = re_ok("b");
	assert_int_equal(st_index_regex_match(re, S("\xff\xfe" "b")), 1);
	st_index_regex_free(re);
	/* The empty pattern matches everything. */
	assert_int_equal(st_index_regex_compile("", 0, &re, err, sizeof(err)), 0);
	assert_int_equal(st_index_regex_match(re, S("")), 1);
	st_index_regex_free(re);
	/* Runaway backtracking is stopped, not waited for. */
	re = re_ok("^(a+)+$");
	struct st_str evil = S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!");
	assert_int_equal(st_index_regex_match(re, evil), -E2BIG);
	st_index_regex_free(re);
}

static void test_st_index__filter(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_index_regex *re = re_ok("^(b|)$");
	struct st_idset s;
	st_idset_init(&s);
	const uint64_t all[] = {SH(0, 0), SH(0, 1), SH(1, 0), SH(1, 1),
				SH(2, 0), SH(2, 1), SH(5, 5)};
	struct {
		struct st_index_cond c;
		uint64_t want[4];
		size_t n;
	} cases[] = {
		{{ST_INDEX_FIELD, S("usage"), S(""), NULL}, {SH(0, 0), SH(1, 0), SH(1, 1)}, 3},
		{{ST_INDEX_FIELD, S(""), S(""), NULL}, {0}, 0},
		{{ST_INDEX_EQ, S("host"), S("a"), NULL}, {SH(0, 0), SH(0, 1)}, 2},
		{{ST_INDEX_EQ, S("host"), S(""), NULL}, {SH(1, 1)}, 1},
		{{ST_INDEX_NEQ, S("host"), S("a"), NULL}, {SH(1, 0), SH(1, 1)}, 2},
		{{ST_INDEX_NEQ, S("host"), S(""), NULL}, {SH(0, 0), SH(0, 1), SH(1, 0)}, 3},
		{{ST_INDEX_RE, S("host"), S(""), re}, {SH(1, 0), SH(1, 1)}, 2},
		{{ST_INDEX_NRE, S("host"), S(""), re}, {SH(0, 0), SH(0, 1)}, 2},
	};

	st_index_read_lock(idx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_idset_clear(&s);
		assert_int_equal(st_idset_reserve(&s, 7), 0);
		memcpy(s.ids, all, sizeof(all)); /* other measurements, a stale id */
		s.n = 7;
		assert_int_equal(st_index_filter(idx, S("cpu"), &cases[i].c, &s), 0);
		expect_set(&s, cases[i].want, cases[i].n);
	}
	st_index_read_unlock(idx);
	st_index_regex_free(re);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void test_st_index__long_names(void **state)
{
	(void)state;
	struct st_index *idx = NULL;
	struct st_idset s;
	static struct listing l;
	char meas[300], key[300], val[300];
	st_idset_init(&s);
	memset(meas, 'm', sizeof(meas) - 1);
	memset(key, 'k', sizeof(key) - 1);
	memset(val, 'v', sizeof(val) - 1);
	meas[299] = key[299] = val[299] = '\0';
	char tags[700];
	snprintf(tags, sizeof(tags), "%s=%s,short=%s", key, val, val + 283);

	assert_int_equal(st_index_create(NULL, &idx), 0);
	add_ok(idx, 1, meas, "a_field_key_longer_than_sixteen", tags);
	add_ok(idx, 2, meas, "f", "short=vvvvvvvvvvvvvvvv"); /* exactly 16: inline */
	check_ok(idx);
	st_index_read_lock(idx);
	assert_int_equal(st_index_tag_eq(idx, str_of(meas), str_of(key), str_of(val), &s), 0);
	EXPECT(&s, 1);
	struct st_str lf = S("a_field_key_longer_than_sixteen");
	assert_int_equal(st_index_field(idx, str_of(meas), lf, &s), 0);
	EXPECT(&s, 1);
	struct st_str v16 = S("vvvvvvvvvvvvvvvv");
	assert_int_equal(st_index_tag_eq(idx, str_of(meas), S("short"), v16, &s), 0);
	EXPECT(&s, 1, 2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_field_keys(idx, str_of(meas), NULL, collect, &l), 0);
	expect_listing(&l, "a_field_key_longer_than_sixteen:1 f:1");
	st_index_read_unlock(idx);
	uint64_t one = 1;
	assert_int_equal(st_index_remove(idx, &one, 1), 1);
	check_ok(idx);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void test_st_index__listings(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_index_regex *re = re_ok("^[a-m]");
	static struct listing l;

	st_index_read_lock(idx);
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_measurements(idx, NULL, collect, &l), 0);
	expect_listing(&l, "cpu:4 mem:1 statsd.requests:1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_measurements(idx, re, collect, &l), 0);
	expect_listing(&l, "cpu:4 mem:1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_tag_keys(idx, S("cpu"), NULL, collect, &l), 0);
	expect_listing(&l, "host:3 region:4");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_tag_values(idx, S("cpu"), S("host"), NULL, collect, &l), 0);
	expect_listing(&l, "a:2 b:1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_tag_values(idx, S("cpu"), S("region"), re, collect, &l), 0);
	expect_listing(&l, "");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_field_keys(idx, S("cpu"), NULL, collect, &l), 0);
	expect_listing(&l, "idle:1 usage:3");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_field_keys(idx, S("statsd.requests"), NULL, collect, &l), 0);
	expect_listing(&l, "");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_tag_keys(idx, S("nope"), NULL, collect, &l), 0);
	assert_int_equal(st_index_tag_values(idx, S("cpu"), S("nope"), NULL, collect, &l), 0);
	expect_listing(&l, "");
	/* A non-zero callback return stops the walk and is returned. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(st_index_measurements(idx, NULL, collect, &l), 42);
	expect_listing(&l, "cpu:4 mem:1");
	st_index_read_unlock(idx);
	st_index_regex_free(re);
	st_index_destroy(idx);
}

static void test_st_index__remove(void **state)
{
	(void)state;
	struct st_index *idx = small_index();
	struct st_idset s;
	struct listing l = {0};
	st_idset_init(&s);

	/* Unknown ids and repeats are skipped. */
	uint64_t batch[] = {SH(0, 0), SH(7, 7), SH(0, 0), SH(2, 0)};
	assert_int_equal(st_index_remove(idx, batch, 4), 2);
	assert_int_equal(st_index_remove(idx, batch, 4), 0);
	check_ok(idx);

	st_index_read_lock(idx);
	assert_int_equal(st_index_cardinality(idx), 4);
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("host"), S("a"), &s), 0);
	EXPECT(&s, SH(0, 1));
	assert_int_equal(st_index_measurements(idx, NULL, collect, &l), 0);
	expect_listing(&l, "cpu:3 statsd.requests:1"); /* mem is gone */
	const uint8_t *key;
	size_t len;
	assert_int_equal(st_index_key(idx, SH(0, 0), &key, &len), -ENOENT);
	st_index_read_unlock(idx);

	/* Removing the last host=a of cpu drops the value; the last host, the key. */
	uint64_t b2[] = {SH(0, 1), SH(1, 0)};
	assert_int_equal(st_index_remove(idx, b2, 2), 2);
	check_ok(idx);
	memset(&l, 0, sizeof(l));
	st_index_read_lock(idx);
	assert_int_equal(st_index_tag_keys(idx, S("cpu"), NULL, collect, &l), 0);
	expect_listing(&l, "region:1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(st_index_field_keys(idx, S("cpu"), NULL, collect, &l), 0);
	expect_listing(&l, "usage:1");
	st_index_read_unlock(idx);

	/* Remove everything: the index is empty and consistent. */
	uint64_t all[] = {SH(1, 1), SH(2, 1)};
	assert_int_equal(st_index_remove(idx, all, 2), 2);
	check_ok(idx);
	struct st_index_stats st;
	memset(&l, 0, sizeof(l));
	st_index_read_lock(idx);
	st_index_stats_read(idx, &st);
	assert_int_equal(st_index_measurements(idx, NULL, collect, &l), 0);
	st_index_read_unlock(idx);
	expect_listing(&l, "");
	assert_int_equal(st.series, 0);
	assert_int_equal(st.terms, 0);
	assert_int_equal(st.postings, 0);

	/* And it takes series again. */
	add_ok(idx, SH(0, 0), "cpu", "usage", "host=a");
	check_ok(idx);
	st_idset_release(&s);
	st_index_destroy(idx);
}

static void push(struct st_idset *s, uint64_t id)
{
	assert_int_equal(st_idset_reserve(s, s->n + 1), 0);
	s->ids[s->n++] = id;
}

/*
 * Postings grow past the flat form into per-shard segments, across the
 * 2^32 boundary of a local index, with ids in and out of order.
 */
static void test_st_index__posting_segments(void **state)
{
	(void)state;
	struct st_index *idx = NULL;
	struct st_idset s, want;
	struct st_index_stats st;
	const uint64_t base = UINT64_C(0xfffffff0);
	st_idset_init(&s);
	st_idset_init(&want);
	assert_int_equal(st_index_create(NULL, &idx), 0);

	/* 4 shards interleaved, locals increasing; shard 3 crosses 2^32. */
	for (uint32_t i = 0; i < 500; i++) {
		for (uint32_t sh = 0; sh < 4; sh++) {
			uint64_t local = sh == 3 ? base + i : i * 3;
			char tags[64];
			snprintf(tags, sizeof(tags), "host=h%u,parity=%u", i % 7, i % 2);
			add_ok(idx, SH(sh, local), "cpu", "u", tags);
		}
	}
	/* Out of order: the gaps of shards 0..2, descending. */
	for (uint32_t i = 1500; i-- > 0;) {
		if (i % 3 == 0)
			continue;
		add_ok(idx, SH(i % 3, i), "cpu", "u", "host=late,parity=0");
	}
	check_ok(idx);

	st_index_read_lock(idx);
	st_index_stats_read(idx, &st);
	assert_true(st.segments > 4);
	assert_int_equal(st.series, 2000 + 1000);
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("parity"), S("0"), &s), 0);
	for (uint32_t i = 0; i < 500; i += 2)
		for (uint32_t sh = 0; sh < 4; sh++)
			push(&want, SH(sh, sh == 3 ? base + i : i * 3));
	for (uint32_t i = 0; i < 1500; i++)
		if (i % 3)
			push(&want, SH(i % 3, i));
	/* want is unsorted: sort it with the set algebra (union of singletons). */
	struct st_idset sorted, one;
	st_idset_init(&sorted);
	st_idset_init(&one);
	assert_int_equal(st_idset_reserve(&one, 1), 0);
	for (size_t i = 0; i < want.n; i++) {
		one.ids[0] = want.ids[i];
		one.n = 1;
		assert_int_equal(st_idset_union(&sorted, &one), 0);
	}
	expect_set(&s, sorted.ids, sorted.n);
	/* Shard 3's ids straddle 2^32 and come out in order. */
	assert_int_equal(st_index_tag_eq(idx, S("cpu"), S("host"), S("h3"), &s), 0);
	for (size_t i = 1; i < s.n; i++)
		assert_true(s.ids[i - 1] < s.ids[i]);
	assert_true(st_idset_contains(&s, SH(3, base + 3)));
	assert_true(st_idset_contains(&s, SH(3, base + 479)));
	st_index_read_unlock(idx);

	/* Remove every other series of the big postings in one batch. */
	st_index_read_lock(idx);
	assert_int_equal(st_index_measurement(idx, S("cpu"), &s), 0);
	st_index_read_unlock(idx);
	size_t w = 0;
	for (size_t i = 0; i < s.n; i += 2)
		s.ids[w++] = s.ids[i];
	assert_int_equal(st_index_remove(idx, s.ids, w), w);
	check_ok(idx);

	st_idset_release(&one);
	st_idset_release(&sorted);
	st_idset_release(&want);
	st_idset_release(&s);
	st_index_destroy(idx);
}

/* ------------------------------------------------------------------------ */
/* Id sets against a naive model                                              */
/* ------------------------------------------------------------------------ */

static void rand_set(struct st_idset *s, size_t n, uint64_t range)
{
	st_idset_clear(s);
	assert_int_equal(st_idset_reserve(s, n), 0);
	/* Sorted unique draws by walking the range with random gaps. */
	uint64_t v = rnd() % 4;
	for (size_t i = 0; i < n; i++) {
		s->ids[s->n++] = v;
		v += 1 + rnd() % (range / (n + 1) + 1);
	}
}

static void naive(const struct st_idset *a, const struct st_idset *b, int op, struct st_idset *out)
{
	st_idset_clear(out);
	assert_int_equal(st_idset_reserve(out, a->n + b->n), 0);
	for (size_t i = 0; i < a->n; i++) {
		bool in_b = st_idset_contains(b, a->ids[i]);
		if ((op == 0 && in_b) || op == 1 || (op == 2 && !in_b))
			out->ids[out->n++] = a->ids[i];
	}
	if (op == 1) { /* union: add b's extra, then insertion sort */
		for (size_t i = 0; i < b->n; i++)
			if (!st_idset_contains(a, b->ids[i]))
				out->ids[out->n++] = b->ids[i];
		for (size_t i = 1; i < out->n; i++) {
			uint64_t x = out->ids[i];
			size_t j = i;
			for (; j > 0 && out->ids[j - 1] > x; j--)
				out->ids[j] = out->ids[j - 1];
			out->ids[j] = x;
		}
	}
}

static void test_st_index__idset_ops(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 7, 64, 300, 5000};
	struct st_idset a, b, got, want;
	st_idset_init(&a);
	st_idset_init(&b);
	st_idset_init(&got);
	st_idset_init(&want);
	rng_state = 0x1d5e7;

	for (size_t i = 0; i < 7; i++) {
		for (size_t j = 0; j < 7; j++) {
			for (int rep = 0; rep < 5; rep++) {
				uint64_t dense = 4 * (sizes[i] + sizes[j] + 1);
				uint64_t range = rep < 2 ? dense : UINT64_C(1) << 40;
				rand_set(&a, sizes[i], range);
				rand_set(&b, sizes[j], range);
				for (int op = 0; op < 3; op++) {
					naive(&a, &b, op, &want);
					assert_int_equal(st_idset_copy(&got, &a), 0);
					if (op == 0)
						st_idset_intersect(&got, &b);
					else if (op == 1)
						assert_int_equal(st_idset_union(&got, &b), 0);
					else
						st_idset_difference(&got, &b);
					expect_set(&got, want.ids, want.n);
				}
			}
		}
	}
	st_idset_release(&a);
	st_idset_release(&b);
	st_idset_release(&got);
	st_idset_release(&want);
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                        */
/* ------------------------------------------------------------------------ */

struct failmem {
	bool armed;
	long countdown; /* allocations (not frees) left before failing */
};

static void *fail_realloc(void *arg, void *p, size_t bytes)
{
	struct failmem *f = arg;
	if (bytes == 0) {
		free(p);
		return NULL;
	}
	if (f->armed && f->countdown-- <= 0)
		return NULL;
	return realloc(p, bytes);
}

/* Add with the k-th allocation failing for k = 0, 1, ... until it succeeds. */
static void add_under_failures(struct st_index *idx, struct failmem *f, uint64_t id,
			       const char *meas, const char *field, const char *tags)
{
	uint8_t key[ST_KEY_MAX];
	size_t len = mk(key, sizeof(key), meas, field, tags);
	struct st_index_stats before, after;
	int rc;

	st_index_read_lock(idx);
	st_index_stats_read(idx, &before);
	st_index_read_unlock(idx);
	for (long k = 0;; k++) {
		f->armed = true;
		f->countdown = k;
		rc = st_index_add(idx, id, key, len);
		f->armed = false;
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		check_ok(idx);
		st_index_read_lock(idx);
		st_index_stats_read(idx, &after);
		const uint8_t *kp;
		size_t kl;
		assert_int_equal(st_index_key(idx, id, &kp, &kl), -ENOENT);
		st_index_read_unlock(idx);
		assert_int_equal(after.series, before.series);
		assert_int_equal(after.terms, before.terms);
		assert_int_equal(after.postings, before.postings);
		assert_true(k < 1000);
	}
	check_ok(idx);
}

static void test_st_index__alloc_failure(void **state)
{
	(void)state;
	struct failmem f = {false, 0};
	struct st_index_mem_ops ops = {fail_realloc, &f};
	struct st_index_cfg cfg = {&ops};
	struct st_index *idx = NULL;
	struct st_idset s;
	st_idset_init(&s);

	f.armed = true;
	f.countdown = 0;
	assert_int_equal(st_index_create(&cfg, &idx), -ENOMEM);
	assert_null(idx);
	f.armed = false;
	assert_int_equal(st_index_create(&cfg, &idx), 0);

	/* New measurement, field, keys and values; then existing ones. */
	add_under_failures(idx, &f, SH(0, 0), "cpu", "u", "a=1,b=2,c=3");
	add_under_failures(idx, &f, SH(1, 0), "cpu", "u", "a=1,b=9,d=4");
	add_under_failures(idx, &f, SH(0, 5000), "cpu", "v", "a=1"); /* new page */
	/* Push one posting to the flat limit, then split it under failures. */
	for (uint32_t i = 1; i < 62; i++)
		add_ok(idx, SH(i % 5, 10 + i), "cpu", "u", "a=1");
	add_under_failures(idx, &f, SH(9, 1), "cpu", "u", "a=1,e=5");
	add_under_failures(idx, &f, SH(9, 2), "cpu", "u", "a=1");

	/* Reads report -ENOMEM and leave an empty set. */
	struct st_index_regex *re = re_ok("^[0-9]$");
	st_index_read_lock(idx);
	int rc = 0;
	for (long k = 0; k < 100; k++) {
		f.armed = true;
		f.countdown = k;
		rc = st_index_tag_nregex(idx, S("cpu"), S("b"), re, &s);
		f.armed = false;
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		EXPECT_EMPTY(&s);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(s.n, 66 - 2);
	f.armed = true;
	f.countdown = 0;
	struct listing l = {0};
	assert_int_equal(st_index_tag_keys(idx, S("cpu"), NULL, collect, &l), -ENOMEM);
	f.armed = false;
	st_index_read_unlock(idx);

	/* Removal never fails, even when no shrink can be allocated. */
	st_index_read_lock(idx);
	assert_int_equal(st_index_measurement(idx, S("cpu"), &s), 0);
	st_index_read_unlock(idx);
	f.armed = true;
	f.countdown = 0;
	assert_int_equal(st_index_remove(idx, s.ids, s.n / 2), s.n / 2);
	f.armed = false;
	check_ok(idx);
	st_index_read_lock(idx);
	assert_int_equal(st_index_cardinality(idx), s.n - s.n / 2);
	st_index_read_unlock(idx);

	st_index_regex_free(re);
	st_idset_release(&s);
	st_index_destroy(idx);
}

/* ------------------------------------------------------------------------ */
/* Randomized run against a brute-force model                                 */
/* ------------------------------------------------------------------------ */

#define M_MAX 8192

struct mseries {
	uint64_t id;
	uint8_t key[256];
	size_t len;
};

static struct mseries model[M_MAX];
static size_t model_n;

static const char *const r_meas[] = {"cpu", "mem", "disk", "net"};
static const char *const r_fields[] = {"", "f0", "f1", "f2", "f3"};

/* Tag keys: name, number of values, chance of presence in percent. */
static const struct {
	const char *key;
	uint32_t nvalues;
	uint32_t presence;
} r_tags[] = {
	{"host", 300, 95}, {"opt", 3, 40}, {"rack", 40, 90}, {"region", 4, 100}, {"z", 1000, 10},
	{"service_environment_of_the_host", 3, 50}, /* names longer than a term inlines */
};
#define R_NTAGS (sizeof(r_tags) / sizeof(r_tags[0]))

static const char *const r_regexes[] = {
	"^h1", "1$", ".*", "^$", "r[02]", "^(h|r|v)\\d+$", "zz9", "", "^$|^r1$", "^v[01]$", "7",
	"^production_environment_[12]$",
};
#define R_NRE (sizeof(r_regexes) / sizeof(r_regexes[0]))

static void rand_value(uint32_t t, char *out, size_t cap)
{
	static const char *const prefix[] = {"h", "v", "k", "r", "zz", "production_environment_"};
	snprintf(out, cap, "%s%u", prefix[t], rnd_below(r_tags[t].nvalues));
}

static size_t rand_key(uint8_t *out, size_t cap)
{
	struct st_tag tags[R_NTAGS];
	static char vals[R_NTAGS][40]; /* "production_environment_" + a number */
	uint32_t n = 0;
	for (uint32_t t = 0; t < R_NTAGS; t++) {
		if (rnd_below(100) >= r_tags[t].presence)
			continue;
		rand_value(t, vals[n], sizeof(vals[n]));
		tags[n].key = str_of(r_tags[t].key);
		tags[n].value = str_of(vals[n]);
		n++;
	}
	struct st_str meas = str_of(r_meas[rnd_below(4)]);
	struct st_str field = str_of(r_fields[rnd_below(100) < 10 ? 0 : 1 + rnd_below(4)]);
	int len = st_key_build(out, cap, meas, field, tags, n);
	assert_true(len > 0);
	return (size_t)len;
}

static struct mseries *model_find(uint64_t id)
{
	for (size_t i = 0; i < model_n; i++)
		if (model[i].id == id)
			return &model[i];
	return NULL;
}

/* The model's value of tag key in series m ("" when absent). */
static struct st_str model_tag(const struct mseries *m, struct st_str key, struct st_str *name,
			       struct st_str *field)
{
	struct st_key_view v;
	struct st_str val = {"", 0};
	assert_int_equal(st_key_parse(m->key, m->len, &v), 0);
	if (name)
		*name = v.name;
	if (field)
		*field = v.field;
	if (key.len && !st_key_tag(&v, key, &val))
		val = (struct st_str){"", 0};
	return val;
}

static bool str_eq(struct st_str a, struct st_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

enum { Q_MEAS, Q_FIELD, Q_EQ, Q_NEQ, Q_RE, Q_NRE, Q_AND, Q_OR, Q_ANDNOT };

struct qnode {
	int op;
	char key[40];
	char value[32];
	const struct st_index_regex *re;
	const struct qnode *l, *r;
};

static struct st_index_regex *r_re[R_NRE];

static const struct qnode *rand_query(struct qnode *pool, size_t *used, int depth)
{
	struct qnode *q = &pool[(*used)++];
	memset(q, 0, sizeof(*q));
	if (depth > 0 && rnd_below(100) < 60) {
		q->op = Q_AND + (int)rnd_below(3);
		q->l = rand_query(pool, used, depth - 1);
		q->r = rand_query(pool, used, depth - 1);
		return q;
	}
	q->op = (int)rnd_below(6);
	uint32_t t = rnd_below(R_NTAGS + 1);
	snprintf(q->key, sizeof(q->key), "%s", t < R_NTAGS ? r_tags[t].key : "nokey");
	if (q->op == Q_FIELD)
		snprintf(q->value, sizeof(q->value), "%s", r_fields[rnd_below(5)]);
	else if (rnd_below(100) < 10 || t == R_NTAGS)
		q->value[0] = '\0';
	else if (rnd_below(100) < 10)
		snprintf(q->value, sizeof(q->value), "nothere");
	else
		rand_value(t, q->value, sizeof(q->value));
	q->re = r_re[rnd_below(R_NRE)];
	return q;
}

static int eval_index(struct st_index *idx, struct st_str meas, const struct qnode *q,
		      struct st_idset *out)
{
	struct st_str k = str_of(q->key), v = str_of(q->value);
	switch (q->op) {
	case Q_MEAS:
		return st_index_measurement(idx, meas, out);
	case Q_FIELD:
		return st_index_field(idx, meas, v, out);
	case Q_EQ:
		return st_index_tag_eq(idx, meas, k, v, out);
	case Q_NEQ:
		return st_index_tag_neq(idx, meas, k, v, out);
	case Q_RE:
		return st_index_tag_regex(idx, meas, k, q->re, out);
	case Q_NRE:
		return st_index_tag_nregex(idx, meas, k, q->re, out);
	}
	struct st_idset r;
	int rc = eval_index(idx, meas, q->l, out);
	if (rc == 0 && q->op == Q_AND && q->r->op >= Q_FIELD && q->r->op <= Q_NRE && rnd_below(2)) {
		/* Probe instead of intersecting. */
		static const enum st_index_op ops[] = {
			[Q_FIELD] = ST_INDEX_FIELD, [Q_EQ] = ST_INDEX_EQ, [Q_NEQ] = ST_INDEX_NEQ,
			[Q_RE] = ST_INDEX_RE, [Q_NRE] = ST_INDEX_NRE,
		};
		struct st_index_cond c = {ops[q->r->op], str_of(q->r->key), str_of(q->r->value),
					  q->r->re};
		if (q->r->op == Q_FIELD)
			c.key = str_of(q->r->value);
		return st_index_filter(idx, meas, &c, out);
	}
	st_idset_init(&r);
	if (rc == 0)
		rc = eval_index(idx, meas, q->r, &r);
	if (rc == 0 && q->op == Q_AND)
		st_idset_intersect(out, &r);
	else if (rc == 0 && q->op == Q_OR)
		rc = st_idset_union(out, &r);
	else if (rc == 0)
		st_idset_difference(out, &r);
	st_idset_release(&r);
	return rc;
}

static bool eval_model(const struct mseries *m, const struct qnode *q)
{
	struct st_str field;
	struct st_str val = model_tag(m, str_of(q->key), NULL, &field);
	switch (q->op) {
	case Q_MEAS:
		return true;
	case Q_FIELD:
		return q->value[0] && str_eq(field, str_of(q->value));
	case Q_EQ:
		return str_eq(val, str_of(q->value));
	case Q_NEQ:
		return !str_eq(val, str_of(q->value));
	case Q_RE:
		return st_index_regex_match(q->re, val) == 1;
	case Q_NRE:
		return st_index_regex_match(q->re, val) == 0;
	case Q_AND:
		return eval_model(m, q->l) && eval_model(m, q->r);
	case Q_OR:
		return eval_model(m, q->l) || eval_model(m, q->r);
	default:
		return eval_model(m, q->l) && !eval_model(m, q->r);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void random_query(struct st_index *idx)
{
	struct qnode pool[32];
	size_t used = 0;
	const struct qnode *q = rand_query(pool, &used, 3);
	struct st_str meas = str_of(r_meas[rnd_below(4)]), name;
	struct st_idset got, want;
	st_idset_init(&got);
	st_idset_init(&want);
	assert_int_equal(st_idset_reserve(&want, model_n + 1), 0);

	st_index_read_lock(idx);
	assert_int_equal(eval_index(idx, meas, q, &got), 0);
	st_index_read_unlock(idx);
	for (size_t i = 0; i < model_n; i++) {
		model_tag(&model[i], (struct st_str){"", 0}, &name, NULL);
		if (str_eq(name, meas) && eval_model(&model[i], q))
			want.ids[want.n++] = model[i].id;
	}
	qsort(want.ids, want.n, sizeof(uint64_t), cmp_u64);
	expect_set(&got, want.ids, want.n);
	st_idset_release(&got);
	st_idset_release(&want);
}

/* The model's listing: distinct names with counts, sorted as the index sorts. */
struct mlist {
	struct {
		struct st_str s;
		uint64_t n;
	} e[4096];
	size_t n;
};

static void mlist_add(struct mlist *l, struct st_str s, const struct st_index_regex *re)
{
	if (re && st_index_regex_match(re, s) != 1)
		return;
	for (size_t i = 0; i < l->n; i++) {
		if (str_eq(l->e[i].s, s)) {
			l->e[i].n++;
			return;
		}
	}
	assert_true(l->n < 4096);
	l->e[l->n].s = s;
	l->e[l->n].n = 1;
	l->n++;
}

static int mlist_cmp(const void *a, const void *b)
{
	const struct st_str *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void expect_mlist(struct mlist *m, const struct listing *l)
{
	qsort(m->e, m->n, sizeof(m->e[0]), mlist_cmp);
	assert_int_equal(l->n, m->n);
	for (size_t i = 0; i < m->n; i++) {
		assert_true(str_eq(str_of(l->names[i]), m->e[i].s));
		assert_int_equal(l->counts[i], m->e[i].n);
	}
}

static void random_listing(struct st_index *idx)
{
	static struct listing l;
	static struct mlist m;
	uint32_t kind = rnd_below(4), t = rnd_below(R_NTAGS);
	struct st_str meas = str_of(r_meas[rnd_below(4)]);
	const struct st_index_regex *re = rnd_below(2) ? r_re[rnd_below(R_NRE)] : NULL;
	struct st_str tkey = str_of(r_tags[t].key);
	memset(&l, 0, sizeof(l));
	m.n = 0;

	st_index_read_lock(idx);
	if (kind == 0)
		assert_int_equal(st_index_measurements(idx, re, collect, &l), 0);
	else if (kind == 1)
		assert_int_equal(st_index_tag_keys(idx, meas, re, collect, &l), 0);
	else if (kind == 2)
		assert_int_equal(st_index_tag_values(idx, meas, tkey, re, collect, &l), 0);
	else
		assert_int_equal(st_index_field_keys(idx, meas, re, collect, &l), 0);
	st_index_read_unlock(idx);

	for (size_t i = 0; i < model_n; i++) {
		struct st_key_view v;
		struct st_key_iter it;
		struct st_tag tag;
		struct st_str val;
		assert_int_equal(st_key_parse(model[i].key, model[i].len, &v), 0);
		if (kind == 0) {
			mlist_add(&m, v.name, re);
			continue;
		}
		if (!str_eq(v.name, meas))
			continue;
		if (kind == 1) {
			st_key_iter_init(&v, &it);
			while (st_key_iter_next(&it, &tag))
				mlist_add(&m, tag.key, re);
		} else if (kind == 2) {
			if (st_key_tag(&v, str_of(r_tags[t].key), &val))
				mlist_add(&m, val, re);
		} else if (v.field.len) {
			mlist_add(&m, v.field, re);
		}
	}
	expect_mlist(&m, &l);
}

static void test_st_index__random_model(void **state)
{
	(void)state;
	struct st_index *idx = NULL;
	uint64_t next_local[8] = {0, 0, 0, 0, 0, UINT64_C(0xffffff00), 0, 0};
	uint64_t batch[32];
	size_t nqueries = 0, nlistings = 0, nadds = 0, nremoved = 0;
	rng_state = 0x5eed5eed5eedULL;
	model_n = 0;
	for (size_t i = 0; i < R_NRE; i++)
		r_re[i] = re_ok(r_regexes[i]);
	assert_int_equal(st_index_create(NULL, &idx), 0);

	for (int step = 1; step <= 8000; step++) {
		uint32_t dice = rnd_below(100);
		if (dice < 70 && model_n < M_MAX) {
			uint32_t sh = rnd_below(8);
			uint64_t local;
			if (rnd_below(100) < 5 && next_local[sh] > 0)
				local = next_local[sh] - 1 -
					rnd_below((uint32_t)CM_MIN(next_local[sh], 50u));
			else
				local = next_local[sh]++;
			if (rnd_below(100) < 10)
				next_local[sh] += rnd_below(3); /* leave gaps, filled later */
			uint64_t id = SH(sh, local);
			struct mseries *m = &model[model_n];
			m->len = rand_key(m->key, sizeof(m->key));
			int rc = st_index_add(idx, id, m->key, m->len);
			if (model_find(id)) {
				assert_int_equal(rc, -EEXIST);
			} else {
				assert_int_equal(rc, 0);
				m->id = id;
				model_n++;
				nadds++;
			}
		} else if (dice < 82) {
			size_t n = 1 + rnd_below(rnd_below(20) == 0 ? 32 : 3), expect = 0;
			for (size_t i = 0; i < n; i++) {
				if (model_n && rnd_below(100) < 85)
					batch[i] = model[rnd_below((uint32_t)model_n)].id;
				else
					batch[i] = SH(rnd_below(9), rnd_below(100));
			}
			for (size_t i = 0; i < n; i++) {
				struct mseries *m = model_find(batch[i]);
				if (!m)
					continue;
				*m = model[--model_n];
				expect++;
			}
			assert_int_equal(st_index_remove(idx, batch, n), expect);
			nremoved += expect;
		} else if (dice < 97) {
			random_query(idx);
			nqueries++;
		} else {
			random_listing(idx);
			nlistings++;
		}
		if (step % 500 == 0) {
			check_ok(idx);
			st_index_read_lock(idx);
			assert_int_equal(st_index_cardinality(idx), model_n);
			st_index_read_unlock(idx);
			for (int i = 0; i < 20; i++)
				random_query(idx);
			for (int i = 0; i < 5; i++)
				random_listing(idx);
			nqueries += 20;
			nlistings += 5;
		}
	}
	/* Every key reads back. */
	st_index_read_lock(idx);
	for (size_t i = 0; i < model_n; i++) {
		const uint8_t *key;
		size_t len;
		assert_int_equal(st_index_key(idx, model[i].id, &key, &len), 0);
		assert_int_equal(len, model[i].len);
		assert_memory_equal(key, model[i].key, len);
	}
	st_index_read_unlock(idx);
	print_message("random model: %zu adds, %zu removed, %zu live, %zu queries, %zu listings\n",
		      nadds, nremoved, model_n, nqueries, nlistings);

	/* Drain in batches down to empty. */
	while (model_n) {
		size_t n = CM_MIN(model_n, 32u);
		for (size_t i = 0; i < n; i++)
			batch[i] = model[--model_n].id;
		assert_int_equal(st_index_remove(idx, batch, n), n);
	}
	check_ok(idx);
	struct st_index_stats st;
	st_index_read_lock(idx);
	st_index_stats_read(idx, &st);
	st_index_read_unlock(idx);
	assert_int_equal(st.series + st.terms + st.postings + st.segments, 0);

	for (size_t i = 0; i < R_NRE; i++)
		st_index_regex_free(r_re[i]);
	st_index_destroy(idx);
}

/* ------------------------------------------------------------------------ */
/* One writer, several readers                                                */
/* ------------------------------------------------------------------------ */

#define C_SERIES 20000
#define C_READERS 3

struct conc {
	struct st_index *idx;
	atomic_bool done;
	atomic_ulong reads;
	struct st_index_regex *re;
};

static void *writer_main(void *arg)
{
	struct conc *c = arg;
	uint8_t key[ST_KEY_MAX];
	uint64_t batch[100];
	uint64_t local[4] = {0, 0, 0, 0};
	uint32_t oldest = 0;
	for (uint32_t i = 0; i < C_SERIES; i++) {
		char tags[64], field[8];
		uint32_t sh = i % 4;
		snprintf(tags, sizeof(tags), "host=h%u,region=r%u", i % 500, i % 7);
		snprintf(field, sizeof(field), "f%u", (i / 500) % 4);
		size_t len = mk(key, sizeof(key), "cpu", field, tags);
		if (st_index_add(c->idx, SH(sh, local[sh]++), key, len) != 0)
			abort();
		if (i % 1000 == 999) { /* retention: drop the 100 oldest */
			for (uint32_t j = 0; j < 100; j++, oldest++)
				batch[j] = SH(oldest % 4, oldest / 4);
			if (st_index_remove(c->idx, batch, 100) != 100)
				abort();
		}
	}
	atomic_store(&c->done, true);
	return NULL;
}

/* Every id of a match must resolve, inside the session, to a matching key. */
static bool verify_hosts(struct st_index *idx, const struct st_idset *s, const char *prefix)
{
	for (size_t i = 0; i < s->n; i++) {
		const uint8_t *key;
		size_t len;
		struct st_key_view v;
		struct st_str host;
		if (i > 0 && s->ids[i - 1] >= s->ids[i])
			return false;
		if (st_index_key(idx, s->ids[i], &key, &len) || st_key_parse(key, len, &v) ||
		    !st_key_tag(&v, S("host"), &host))
			return false;
		if (host.len < strlen(prefix) || memcmp(host.p, prefix, strlen(prefix)))
			return false;
	}
	return true;
}

static int count_cb(void *arg, struct st_str name, uint64_t n)
{
	(void)name;
	*(uint64_t *)arg += n;
	return 0;
}

static void *reader_main(void *arg)
{
	struct conc *c = arg;
	struct st_idset s;
	bool ok = true;
	uint64_t seed = 0x1234 + (uint64_t)(uintptr_t)&s;
	st_idset_init(&s);
	while (ok && !atomic_load(&c->done)) {
		char host[16];
		seed = seed * 6364136223846793005ULL + 1;
		snprintf(host, sizeof(host), "h%u", (uint32_t)(seed >> 33) % 500);
		st_index_read_lock(c->idx);
		ok = st_index_tag_eq(c->idx, S("cpu"), S("host"), str_of(host), &s) == 0 &&
		     verify_hosts(c->idx, &s, host);
		ok = ok && st_index_tag_regex(c->idx, S("cpu"), S("host"), c->re, &s) == 0 &&
		     verify_hosts(c->idx, &s, "h1");
		uint64_t total = 0;
		ok = ok && st_index_tag_values(c->idx, S("cpu"), S("region"), NULL, count_cb,
					       &total) == 0;
		ok = ok && total == st_index_cardinality(c->idx);
		st_index_read_unlock(c->idx);
		atomic_fetch_add(&c->reads, 1);
	}
	st_idset_release(&s);
	return ok ? (void *)1 : NULL;
}

static void test_st_index__concurrent_readers(void **state)
{
	(void)state;
	struct conc c;
	pthread_t w, r[C_READERS];
	assert_int_equal(st_index_create(NULL, &c.idx), 0);
	atomic_init(&c.done, false);
	atomic_init(&c.reads, 0);
	c.re = re_ok("^h1");

	for (int i = 0; i < C_READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader_main, &c), 0);
	assert_int_equal(pthread_create(&w, NULL, writer_main, &c), 0);
	assert_int_equal(pthread_join(w, NULL), 0);
	for (int i = 0; i < C_READERS; i++) {
		void *ok = NULL;
		assert_int_equal(pthread_join(r[i], &ok), 0);
		assert_non_null(ok);
	}
	print_message("concurrent: %lu read sessions during the writes\n",
		      (unsigned long)atomic_load(&c.reads));
	check_ok(c.idx);
	st_index_read_lock(c.idx);
	assert_int_equal(st_index_cardinality(c.idx), C_SERIES - (C_SERIES / 1000) * 100);
	st_index_read_unlock(c.idx);
	st_index_regex_free(c.re);
	st_index_destroy(c.idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_index__create_destroy),
		cmocka_unit_test(test_st_index__add_and_key),
		cmocka_unit_test(test_st_index__add_duplicate_is_eexist),
		cmocka_unit_test(test_st_index__add_malformed_is_einval),
		cmocka_unit_test(test_st_index__measurement_and_field),
		cmocka_unit_test(test_st_index__tag_eq_neq),
		cmocka_unit_test(test_st_index__tag_regex),
		cmocka_unit_test(test_st_index__regex_semantics),
		cmocka_unit_test(test_st_index__filter),
		cmocka_unit_test(test_st_index__long_names),
		cmocka_unit_test(test_st_index__listings),
		cmocka_unit_test(test_st_index__remove),
		cmocka_unit_test(test_st_index__posting_segments),
		cmocka_unit_test(test_st_index__idset_ops),
		cmocka_unit_test(test_st_index__alloc_failure),
		cmocka_unit_test(test_st_index__random_model),
		cmocka_unit_test(test_st_index__concurrent_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
