/*
 * mg_decode.c - see mg_decode.h. One mutex and two condition variables
 * for the whole pool: helpers wait on `work` for a job with an item they
 * may claim; query threads wait on `done` for a BUSY item to turn READY,
 * and for helpers to leave a finished job. Items are large (a row set:
 * thousands of points per field), so a lock round per item costs nothing
 * next to reading it.
 */
#include "mg_decode.h"

#include <errno.h>
#include <stdlib.h>

#include "st_rcu.h"

enum { ITEM_IDLE, ITEM_BUSY, ITEM_READY, ITEM_TAKEN };

struct mg_decode_pool {
	struct st_rcu *rcu;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct mg_decode_job *jobs;   /* jobs with items a helper may still claim */
	bool stop;
	_Atomic uint64_t items;       /* read by helpers */
	_Atomic uint64_t taken;       /* of those, taken by their job */
	uint32_t nthreads;
	pthread_t *threads;
	int *readers;
};

struct helper {
	struct mg_decode_pool *p;
	int reader;
};

/* A job and an item of it a helper may claim now, or NULL (pool lock held). */
static struct mg_decode_job *claimable(struct mg_decode_pool *p, uint32_t *item)
{
	for (struct mg_decode_job *j = p->jobs; j; j = j->link) {
		if (j->claim < j->next)
			j->claim = j->next; /* the query thread is past these */
		if (j->claim < j->n && j->claim < j->next + MG_DECODE_AHEAD) {
			*item = j->claim++;
			return j;
		}
	}
	return NULL;
}

static void *helper_main(void *arg)
{
	struct mg_decode_pool *p = ((struct helper *)arg)->p;
	int reader = ((struct helper *)arg)->reader;
	free(arg);
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		uint32_t i;
		struct mg_decode_job *j = claimable(p, &i);
		if (!j) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		j->active++;
		pthread_mutex_unlock(&p->mu);
		uint8_t idle = ITEM_IDLE;
		bool mine = atomic_compare_exchange_strong(&j->state[i], &idle, ITEM_BUSY);
		if (mine) {
			j->fn(j->arg, i, reader);
			atomic_store_explicit(&j->state[i], ITEM_READY, memory_order_release);
			atomic_fetch_add_explicit(&p->items, 1, memory_order_relaxed);
		}
		pthread_mutex_lock(&p->mu);
		j->active--;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int mg_decode_pool_create(struct st_rcu *rcu, uint32_t nthreads, struct mg_decode_pool **out)
{
	struct mg_decode_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rcu = rcu;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	p->readers = calloc(nthreads ? nthreads : 1, sizeof(*p->readers));
	int rc = p->threads && p->readers ? 0 : -ENOMEM;
	for (uint32_t i = 0; i < nthreads && rc == 0; i++) {
		struct helper *h = malloc(sizeof(*h));
		int reader = h ? st_rcu_reader_register(rcu) : -ENOMEM;
		if (reader < 0) {
			free(h);
			rc = reader == -ENOMEM ? -ENOMEM : -ENOSPC;
			break;
		}
		*h = (struct helper){p, reader};
		p->readers[i] = reader;
		rc = -pthread_create(&p->threads[i], NULL, helper_main, h);
		if (rc) {
			free(h);
			st_rcu_reader_unregister(rcu, reader);
			break;
		}
		p->nthreads++;
	}
	if (rc) {
		mg_decode_pool_destroy(p);
		return rc;
	}
	*out = p;
	return 0;
}

void mg_decode_pool_destroy(struct mg_decode_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i], NULL);
		st_rcu_reader_unregister(p->rcu, p->readers[i]);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p->readers);
	free(p);
}

uint32_t mg_decode_pool_threads(const struct mg_decode_pool *p)
{
	return p ? p->nthreads : 0;
}

uint64_t mg_decode_pool_items(const struct mg_decode_pool *p)
{
	return p ? atomic_load_explicit(&p->items, memory_order_relaxed) : 0;
}

uint64_t mg_decode_pool_taken(const struct mg_decode_pool *p)
{
	return p ? atomic_load_explicit(&p->taken, memory_order_relaxed) : 0;
}

int mg_decode_start(struct mg_decode_pool *p, struct mg_decode_job *job)
{
	job->claim = job->next = job->active = 0;
	job->link = NULL;
	job->state = NULL;
	if (!p || p->nthreads == 0 || job->n < 2)
		return 0;
	job->state = calloc(job->n, sizeof(*job->state)); /* all ITEM_IDLE */
	if (!job->state)
		return -ENOMEM;
	pthread_mutex_lock(&p->mu);
	job->link = p->jobs;
	p->jobs = job;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

bool mg_decode_take(struct mg_decode_pool *p, struct mg_decode_job *job, uint32_t i)
{
	if (!job->state)
		return false;
	pthread_mutex_lock(&p->mu);
	if (i + 1 > job->next) {
		uint32_t moved = i + 1 - job->next;
		job->next = i + 1;
		if (job->claim < job->n) /* the window moved: room to read ahead, one item a step */
			(moved == 1 ? pthread_cond_signal : pthread_cond_broadcast)(&p->work);
	}
	uint8_t s = ITEM_IDLE;
	if (atomic_compare_exchange_strong(&job->state[i], &s, ITEM_TAKEN)) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	while (s == ITEM_BUSY) {
		pthread_cond_wait(&p->done, &p->mu);
		s = atomic_load_explicit(&job->state[i], memory_order_acquire);
	}
	pthread_mutex_unlock(&p->mu);
	/* READY: the helper's writes are visible (release/acquire on the state) */
	atomic_store_explicit(&job->state[i], ITEM_TAKEN, memory_order_relaxed);
	if (s == ITEM_READY)
		atomic_fetch_add_explicit(&p->taken, 1, memory_order_relaxed);
	return s == ITEM_READY;
}

void mg_decode_finish(struct mg_decode_pool *p, struct mg_decode_job *job,
		      void (*drop)(void *arg, uint32_t i))
{
	if (!job->state)
		return;
	pthread_mutex_lock(&p->mu);
	for (struct mg_decode_job **l = &p->jobs; *l; l = &(*l)->link)
		if (*l == job) {
			*l = job->link;
			break;
		}
	while (job->active)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < job->n; i++)
		if (atomic_load_explicit(&job->state[i], memory_order_acquire) == ITEM_READY)
			drop(job->arg, i);
	free(job->state);
	job->state = NULL;
}
