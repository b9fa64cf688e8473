/*
 * st_walio.h - the WAL I/O thread: one per NUMA node, it is the encoder of
 * the WALs of the stores on its node (st_wal_poll: zstd compression of
 * committed batches, io_uring writes and syncs, completions). The shard
 * cores then only stage points and hand batches over; the measurements
 * behind this split are in docs/BENCHMARKS.md ("WAL").
 *
 * With wal.io_thread = false the owner core polls its WAL itself instead
 * (st_store_poll), which is what tests and single-core setups use.
 *
 * The thread spins while there is work and naps when a pass over its
 * stores found none: wal.io_idle_us after work, doubling with every empty
 * pass up to wal.io_idle_max_us. Sync-mode acknowledgements wait at most
 * the current nap for the thread to notice a batch: a steady writer keeps
 * it at io_idle_us, the first write after a quiet spell waits up to
 * io_idle_max_us. (A fixed 20 us nap cost an idle daemon 18% of a core in
 * wakeups: docs/BENCHMARKS.md, "Idle cost".)
 */
#ifndef ST_WALIO_H
#define ST_WALIO_H

#include <stdint.h>

#include "st_store.h"

struct st_walio;

/* stores: borrowed, kept (they must outlive the thread). 0 or -errno. */
int st_walio_start(struct st_store **stores, uint32_t nstores, int64_t idle_ns,
		   int64_t idle_max_ns, struct st_walio **out);
/* Stop and join the thread. NULL ok. */
void st_walio_stop(struct st_walio *io);

#endif /* ST_WALIO_H */
