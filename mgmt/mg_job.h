/*
 * mg_job.h - a periodic management-plane job: a thread that runs fn every
 * interval until stopped, and once more at stop when asked (a last flush).
 * The StatsD flush job and the stats writer are such jobs.
 *
 * Threads: start and stop on the main thread; fn runs on the job's thread
 * (which inherits the starter's cpu binding: the management cpus).
 */
#ifndef MG_JOB_H
#define MG_JOB_H

#include <stdbool.h>
#include <stdint.h>

struct mg_job;
typedef void (*mg_job_fn)(void *ctx);

/* Start: fn(ctx) every interval_ns (> 0); ctx kept until mg_job_stop. 0 or -errno. */
int mg_job_start(int64_t interval_ns, bool run_at_stop, mg_job_fn fn, void *ctx,
		 struct mg_job **out);
/* Wake the job, let it run fn once more if run_at_stop, join and free it. NULL ok. */
void mg_job_stop(struct mg_job *j);

#endif /* MG_JOB_H */
