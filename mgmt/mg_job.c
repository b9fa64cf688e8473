/* mg_job.c - see mg_job.h. A condition variable on the monotonic clock, so a stop wakes it at once. */
#include "mg_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "cm_clock.h"

struct mg_job {
	int64_t interval_ns;
	bool run_at_stop;
	mg_job_fn fn;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;              /* under lock */
};

static void *job_main(void *arg)
{
	struct mg_job *j = arg;
	pthread_mutex_lock(&j->lock);
	while (!j->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t ns = until.tv_nsec + j->interval_ns;
		until.tv_sec += ns / CM_NS_PER_SEC;
		until.tv_nsec = ns % CM_NS_PER_SEC;
		while (!j->stop && pthread_cond_timedwait(&j->wake, &j->lock, &until) != ETIMEDOUT)
			;
		if (j->stop && !j->run_at_stop)
			break;
		pthread_mutex_unlock(&j->lock);
		j->fn(j->ctx);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int mg_job_start(int64_t interval_ns, bool run_at_stop, mg_job_fn fn, void *ctx,
		 struct mg_job **out)
{
	if (interval_ns <= 0)
		return -EINVAL;
	struct mg_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct mg_job){.interval_ns = interval_ns, .run_at_stop = run_at_stop, .fn = fn,
			     .ctx = ctx};
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&j->thread, NULL, job_main, j)) {
		pthread_cond_destroy(&j->wake);
		pthread_mutex_destroy(&j->lock);
		free(j);
		return -EAGAIN;
	}
	*out = j;
	return 0;
}

void mg_job_stop(struct mg_job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stop = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	pthread_cond_destroy(&j->wake);
	pthread_mutex_destroy(&j->lock);
	free(j);
}
