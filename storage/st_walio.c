/*
 * st_walio.c - the WAL I/O thread (contract in st_walio.h). Usage profile:
 * a pass per few microseconds under load (a record per store per commit
 * interval), a nap when idle.
 */
#include "st_walio.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cm_clock.h"

struct st_walio {
	struct st_store **stores;
	uint32_t nstores;
	int64_t idle_ns, idle_max_ns;
	pthread_t thread;
	_Atomic bool stop;
};

static void *walio_main(void *arg)
{
	struct st_walio *io = arg;
	int64_t nap = io->idle_ns;
	while (!atomic_load_explicit(&io->stop, memory_order_relaxed)) {
		uint32_t work = 0;
		for (uint32_t i = 0; i < io->nstores; i++)
			work += st_store_io_poll(io->stores[i]);
		if (work) {
			nap = io->idle_ns;
			continue;
		}
		/* idle: each empty pass naps twice as long, up to idle_max_ns */
		cm_sleep_ns(nap);
		nap = nap * 2 < io->idle_max_ns ? nap * 2 : io->idle_max_ns;
	}
	return NULL;
}

int st_walio_start(struct st_store **stores, uint32_t nstores, int64_t idle_ns,
		   int64_t idle_max_ns, struct st_walio **out)
{
	struct st_walio *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->stores = stores;
	io->nstores = nstores;
	io->idle_ns = idle_ns > 0 ? idle_ns : 20 * CM_NS_PER_US;
	io->idle_max_ns = idle_max_ns > io->idle_ns ? idle_max_ns : io->idle_ns;
	int rc = pthread_create(&io->thread, NULL, walio_main, io);
	if (rc) {
		free(io);
		return -rc;
	}
	pthread_setname_np(io->thread, "sf-walio");
	*out = io;
	return 0;
}

void st_walio_stop(struct st_walio *io)
{
	if (!io)
		return;
	atomic_store(&io->stop, true);
	pthread_join(io->thread, NULL);
	free(io);
}
