/*
 * test_st_scache.c - the section cache (storage/st_scache.h): hits and
 * misses, eviction least recently used first and within the byte bound,
 * pinned entries that outlive eviction and forget, a second put of the same
 * entry, and threads that get, put and release the same keys at once while
 * one forgets owners (under ASan in the sanitizer build: no use after free,
 * no leak).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_rand.h"
#include "st_scache.h"

/* A buffer of len bytes, each byte tag. */
static uint8_t *buf(size_t len, uint8_t tag)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	memset(p, tag, len);
	return p;
}

static void put(struct st_scache *c, uint64_t owner, uint32_t idx, size_t len, uint8_t tag)
{
	struct st_scache_ref r;
	assert_int_equal(st_scache_put(c, owner, idx, buf(len, tag), len, &r), 0);
	assert_int_equal(r.raw[0], tag);
	st_scache_release(c, &r);
}

static bool has(struct st_scache *c, uint64_t owner, uint32_t idx)
{
	struct st_scache_ref r;
	if (st_scache_get(c, owner, idx, &r))
		return false;
	st_scache_release(c, &r);
	return true;
}

static void test_st_scache__hits_misses_and_lru_eviction(void **state)
{
	(void)state;
	struct st_scache *c;
	assert_int_equal(st_scache_create(0, &c), -EINVAL);
	assert_int_equal(st_scache_create(3000, &c), 0);
	struct st_scache_ref r;
	assert_int_equal(st_scache_get(c, 1, 0, &r), -ENOENT);
	assert_null(r.raw);
	put(c, 1, 0, 1000, 0xa0);
	put(c, 1, 1, 1000, 0xa1);
	put(c, 2, 0, 1000, 0xb0);
	assert_true(has(c, 1, 0)); /* now the most recent: (1, 1) is the least */
	put(c, 2, 1, 1000, 0xb1);  /* 4000 > 3000: (1, 1) goes */
	assert_false(has(c, 1, 1));
	assert_true(has(c, 1, 0));
	assert_true(has(c, 2, 0));
	assert_true(has(c, 2, 1));
	assert_int_equal(st_scache_get(c, 2, 1, &r), 0);
	assert_int_equal(r.raw[999], 0xb1);
	st_scache_release(c, &r);
	assert_null(r.e);
	struct st_scache_stats s;
	st_scache_stats_read(c, &s);
	assert_int_equal(s.entries, 3);
	assert_int_equal(s.bytes, 3000);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.misses, 2);
	assert_int_equal(s.hits, 5);
	/* one entry over the bound stays (it is the one just added), the rest go */
	put(c, 3, 0, 5000, 0xc0);
	st_scache_stats_read(c, &s);
	assert_int_equal(s.entries, 1);
	assert_true(has(c, 3, 0));
	st_scache_destroy(c);
	/* forget drops exactly one owner's entries */
	assert_int_equal(st_scache_create(1 << 20, &c), 0);
	for (uint32_t i = 0; i < 1000; i++) /* many: the table grows */
		put(c, 1 + i % 2, i, 10, (uint8_t)i);
	st_scache_forget(c, 1);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(has(c, 1 + i % 2, i), i % 2 == 1);
	st_scache_stats_read(c, &s);
	assert_int_equal(s.entries, 500);
	assert_int_equal(s.bytes, 5000);
	st_scache_destroy(c);
	st_scache_destroy(NULL);
}

static void test_st_scache__pinned_entries_outlive_eviction_and_forget(void **state)
{
	(void)state;
	struct st_scache *c;
	assert_int_equal(st_scache_create(1000, &c), 0);
	struct st_scache_ref a, b, again;
	assert_int_equal(st_scache_put(c, 1, 0, buf(600, 1), 600, &a), 0);
	/* evicted by the next put while pinned: still readable, then freed by release */
	assert_int_equal(st_scache_put(c, 1, 1, buf(600, 2), 600, &b), 0);
	assert_false(has(c, 1, 0));
	assert_int_equal(a.raw[599], 1);
	st_scache_release(c, &a);
	/* forgotten while pinned */
	st_scache_forget(c, 1);
	assert_false(has(c, 1, 1));
	assert_int_equal(b.raw[0], 2);
	st_scache_release(c, &b);
	/* a second put of a present entry keeps the first bytes and frees the new ones */
	assert_int_equal(st_scache_put(c, 5, 5, buf(10, 7), 10, &a), 0);
	assert_int_equal(st_scache_put(c, 5, 5, buf(10, 8), 10, &again), 0);
	assert_ptr_equal(a.raw, again.raw);
	assert_int_equal(again.raw[0], 7);
	st_scache_release(c, &a);
	st_scache_release(c, &again);
	struct st_scache_stats s;
	st_scache_stats_read(c, &s);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.bytes, 10);
	st_scache_destroy(c);
}

struct worker {
	struct st_scache *c;
	uint64_t seed;
	int forgetter;
};

/* Readers check every byte of what they pin: a freed or reused buffer shows. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20000; i++) {
		uint64_t owner = 1 + cm_splitmix64(&w->seed) % 4;
		uint32_t idx = (uint32_t)(cm_splitmix64(&w->seed) % 64);
		uint8_t tag = (uint8_t)(owner * 64 + idx);
		if (w->forgetter && i % 500 == 0)
			st_scache_forget(w->c, owner);
		struct st_scache_ref r;
		if (st_scache_get(w->c, owner, idx, &r) &&
		    st_scache_put(w->c, owner, idx, buf(256, tag), 256, &r))
			return (void *)1;
		for (int k = 0; k < 256; k++)
			if (r.raw[k] != tag)
				return (void *)1;
		st_scache_release(w->c, &r);
	}
	return NULL;
}

static void test_st_scache__threads(void **state)
{
	(void)state;
	struct st_scache *c;
	assert_int_equal(st_scache_create(256 * 100, &c), 0); /* 100 of 256 keys fit: evictions */
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.c = c, .seed = 0x5eed + (uint64_t)i, .forgetter = i == 0};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_null(rc);
	}
	struct st_scache_stats s;
	st_scache_stats_read(c, &s);
	assert_true(s.bytes <= 256 * 100);
	assert_true(s.evictions > 0 && s.hits > 0);
	st_scache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_scache__hits_misses_and_lru_eviction),
		cmocka_unit_test(test_st_scache__pinned_entries_outlive_eviction_and_forget),
		cmocka_unit_test(test_st_scache__threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
