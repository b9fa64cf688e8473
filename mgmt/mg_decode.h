/*
 * mg_decode.h - decoding on the other management cores: a pool of helper
 * threads, each with its own QSBR reader slot, that read a query's row
 * sets ahead of the thread answering it.
 *
 * Usage profile: a statement that reads many row sets whole (a GROUP BY
 * over every host, a raw scan with a field condition) spends a third to
 * half of its time decoding chunks. The query thread posts a job over its
 * row sets in the order it will consume them; helpers claim items from
 * the front, at most MG_DECODE_AHEAD past the query thread (memory), and
 * read them; the query thread takes each item in turn, reading it itself
 * when no helper has started it, so a job never waits for an idle pool
 * and an empty pool (one management core) costs nothing.
 *
 * Item states: IDLE, then BUSY (a helper claimed it) and READY, or TAKEN
 * (the query thread claimed it first). Claims are compare-and-swaps, so an
 * item is read by exactly one thread; READY is published with release
 * order, so the query thread sees everything the helper wrote.
 *
 * Threads: helpers run fn(arg, i, reader) concurrently with each other and
 * with the query thread; fn must touch only item i's state (and read-only
 * shared state). One job per query thread at a time.
 */
#ifndef MG_DECODE_H
#define MG_DECODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct st_rcu;
struct mg_decode_pool;

/* How far past the query thread's item helpers may claim. Read items the
 * query thread skipped stay until mg_decode_finish; the statements using it
 * take every item in order, so there are none. */
#define MG_DECODE_AHEAD 8u

/* Read item i on QSBR slot reader. */
typedef void (*mg_decode_fn)(void *arg, uint32_t i, int reader);

struct mg_decode_job {
	mg_decode_fn fn;
	void *arg;
	uint32_t n;
	/* the pool's (mg_decode_start sets them up) */
	_Atomic uint8_t *state;       /* [n] */
	uint32_t claim;               /* the next item a helper may claim (pool lock) */
	uint32_t next;                /* the query thread's next item (pool lock) */
	uint32_t active;              /* helpers inside fn for this job (pool lock) */
	struct mg_decode_job *link;   /* the pool's list of jobs with work */
};

/*
 * nthreads helpers, each registering a reader slot on rcu (they inherit
 * the caller's CPU affinity: create it from a management thread). 0
 * threads: a pool that reads nothing ahead. 0 or -errno (-ENOSPC: too few
 * reader slots).
 */
int mg_decode_pool_create(struct st_rcu *rcu, uint32_t nthreads, struct mg_decode_pool **out);
void mg_decode_pool_destroy(struct mg_decode_pool *p);
uint32_t mg_decode_pool_threads(const struct mg_decode_pool *p);
/* Items the helpers have read since the pool started (taken or dropped). */
uint64_t mg_decode_pool_items(const struct mg_decode_pool *p);
/* Of those, the ones a job took (mg_decode_take returned true): reads that were used. */
uint64_t mg_decode_pool_taken(const struct mg_decode_pool *p);

/*
 * Post job (fn, arg, n set by the caller) to the pool. 0, or -ENOMEM (the
 * job then reads nothing ahead; mg_decode_take still works).
 */
int mg_decode_start(struct mg_decode_pool *p, struct mg_decode_job *job);
/*
 * The query thread's turn at item i (items are taken in increasing order,
 * some may be skipped): true when a helper read it (waiting for it if
 * need be), false when the caller must read it itself (no helper started
 * it; it is now the caller's).
 */
bool mg_decode_take(struct mg_decode_pool *p, struct mg_decode_job *job, uint32_t i);
/*
 * Withdraw the job and wait for its helpers to leave fn. Items read and
 * never taken are passed to drop (their memory is the caller's to free).
 */
void mg_decode_finish(struct mg_decode_pool *p, struct mg_decode_job *job,
		      void (*drop)(void *arg, uint32_t i));

#endif /* MG_DECODE_H */
