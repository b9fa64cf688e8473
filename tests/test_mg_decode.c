/*
 * test_mg_decode.c - unit tests of mgmt/mg_decode.c, the decode helpers'
 * pool, with a stand-in read (a short sleep and a per-item count) instead
 * of row sets: every item is read exactly once, by a helper or by the
 * query thread, and mg_decode_take says which; items a helper read and
 * the query thread skipped are dropped at finish, and nothing runs for a
 * job after it; several jobs share a pool; a pool without threads reads
 * nothing ahead.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mg_decode.h"
#include "st_rcu.h"

#define NITEMS 200

struct items {
	_Atomic uint32_t reads[NITEMS];   /* by helpers */
	uint32_t mine[NITEMS];            /* by the query thread */
	uint32_t dropped[NITEMS];
	_Atomic int bad_reader;
	int start_rc;                     /* run_job's, checked by check_once (no asserts in threads) */
	uint32_t unseen;                  /* taken as read, but the read was not visible */
};

static void nap_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

static void read_item(void *arg, uint32_t i, int reader)
{
	struct items *it = arg;
	if (reader < 0)
		atomic_store(&it->bad_reader, 1);
	nap_us(50 + (long)(i % 7) * 20);
	atomic_fetch_add(&it->reads[i], 1);
}

static void drop_item(void *arg, uint32_t i)
{
	((struct items *)arg)->dropped[i]++;
}

/*
 * Run one job over it: take every step-th item (reading it when it is ours); finish.
 * No cmocka assert here (it runs on threads too): check_once checks what it records.
 */
static uint32_t run_job(struct mg_decode_pool *p, struct items *it, uint32_t step)
{
	struct mg_decode_job job = {.fn = read_item, .arg = it, .n = NITEMS};
	it->start_rc = mg_decode_start(p, &job);
	uint32_t by_helpers = 0;
	for (uint32_t i = 0; i < NITEMS; i += step) {
		if (mg_decode_take(p, &job, i)) {
			it->unseen += atomic_load(&it->reads[i]) != 1; /* read, and visible */
			by_helpers++;
		} else {
			it->mine[i]++;
			nap_us(100); /* the query thread's own work on the item */
		}
	}
	mg_decode_finish(p, &job, drop_item);
	return by_helpers;
}

static void check_once(struct items *it, uint32_t step)
{
	assert_int_equal(it->start_rc, 0);
	assert_int_equal(it->unseen, 0);
	for (uint32_t i = 0; i < NITEMS; i++) {
		uint32_t r = atomic_load(&it->reads[i]);
		if (i % step == 0) /* taken: read exactly once, by one side, never dropped */
			assert_int_equal(r + it->mine[i], 1);
		else
			assert_true(r <= 1 && it->mine[i] == 0);
		assert_int_equal(it->dropped[i], i % step == 0 ? 0 : r);
	}
	assert_int_equal(atomic_load(&it->bad_reader), 0);
}

static void test_mg_decode__every_item_once(void **state)
{
	(void)state;
	struct st_rcu *rcu;
	assert_int_equal(st_rcu_create(8, &rcu), 0);
	struct mg_decode_pool *p;
	assert_int_equal(mg_decode_pool_create(rcu, 2, &p), 0);
	assert_int_equal(mg_decode_pool_threads(p), 2);
	struct items *it = calloc(1, sizeof(*it));
	uint32_t by_helpers = run_job(p, it, 1);
	check_once(it, 1);
	assert_true(by_helpers > 0);  /* the helpers did read ahead */
	assert_int_equal(mg_decode_pool_items(p), by_helpers);
	assert_int_equal(mg_decode_pool_taken(p), by_helpers);
	/* nothing runs for the job after finish */
	nap_us(20000);
	assert_int_equal(mg_decode_pool_items(p), by_helpers);
	free(it);
	mg_decode_pool_destroy(p);
	st_rcu_destroy(rcu);
}

static void test_mg_decode__skipped_items_dropped(void **state)
{
	(void)state;
	struct st_rcu *rcu;
	assert_int_equal(st_rcu_create(8, &rcu), 0);
	struct mg_decode_pool *p;
	assert_int_equal(mg_decode_pool_create(rcu, 2, &p), 0);
	struct items *it = calloc(1, sizeof(*it));
	uint32_t by_helpers = run_job(p, it, 3);
	check_once(it, 3);
	uint64_t dropped = 0;
	for (uint32_t i = 0; i < NITEMS; i++)
		dropped += it->dropped[i];
	assert_true(dropped > 0);  /* the helpers read skipped items, and finish dropped them */
	assert_int_equal(mg_decode_pool_items(p), by_helpers + dropped);
	assert_int_equal(mg_decode_pool_taken(p), by_helpers);
	free(it);
	mg_decode_pool_destroy(p);
	st_rcu_destroy(rcu);
}

struct job_thread {
	struct mg_decode_pool *p;
	struct items *it;
};

static void *job_main(void *arg)
{
	struct job_thread *t = arg;
	run_job(t->p, t->it, 1);
	return NULL;
}

static void test_mg_decode__jobs_share_a_pool(void **state)
{
	(void)state;
	struct st_rcu *rcu;
	assert_int_equal(st_rcu_create(8, &rcu), 0);
	struct mg_decode_pool *p;
	assert_int_equal(mg_decode_pool_create(rcu, 2, &p), 0);
	struct job_thread t[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		t[i] = (struct job_thread){.p = p, .it = calloc(1, sizeof(struct items))};
		assert_int_equal(pthread_create(&th[i], NULL, job_main, &t[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		check_once(t[i].it, 1);
		free(t[i].it);
	}
	mg_decode_pool_destroy(p);
	st_rcu_destroy(rcu);
}

static void test_mg_decode__no_threads_no_slots(void **state)
{
	(void)state;
	struct st_rcu *rcu;
	assert_int_equal(st_rcu_create(2, &rcu), 0);
	struct mg_decode_pool *p;
	assert_int_equal(mg_decode_pool_create(rcu, 0, &p), 0);
	assert_int_equal(mg_decode_pool_threads(p), 0);
	struct items *it = calloc(1, sizeof(*it));
	assert_int_equal(run_job(p, it, 1), 0); /* every item read by the query thread */
	check_once(it, 1);
	mg_decode_pool_destroy(p);
	/* more helpers than reader slots: the pool does not start, nothing leaks */
	assert_int_equal(mg_decode_pool_create(rcu, 3, &p), -ENOSPC);
	assert_int_equal(st_rcu_readers_free(rcu), 2);
	free(it);
	st_rcu_destroy(rcu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_decode__every_item_once),
		cmocka_unit_test(test_mg_decode__skipped_items_dropped),
		cmocka_unit_test(test_mg_decode__jobs_share_a_pool),
		cmocka_unit_test(test_mg_decode__no_threads_no_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
