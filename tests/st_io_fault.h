/*
 * st_io_fault.h - a fault-injecting st_io_ops table for tests (linked into
 * every unit-test binary).
 *
 * st_io_fault_ops() forwards every call to st_io_posix unless a fault set
 * with st_io_fault_set() fires: ENOSPC or EIO on writes past a byte budget
 * or on the nth write, a short write, failing fdatasync, fsync_dir,
 * fallocate or open, or O_DIRECT refused as tmpfs did before Linux 6.6.
 * Write and fsync faults reach the uring engine too, through ops->inject, so
 * a test sees the same fault on either path.
 *
 *   st_io_fault_set(&(struct st_io_fault){.fail_after_bytes = 1 << 20,
 *                                         .write_errno = ENOSPC});
 *   ... run the code under test with st_io_fault_ops() ...
 *   st_io_fault_counts(&c);   assert c.write_errors > 0
 *   st_io_fault_reset();
 *
 * Counting: "writes" are pwrite calls and uring writes (inject asks once
 * per accepted request) that match the path filter; counts and the byte
 * budget start at zero at each st_io_fault_set. st_io_probe_direct writes
 * through the ops too (a file named .st_io_probe.*): set path_filter to keep
 * nth-write faults and the budget on the files under test.
 *
 * Threads: a global configuration behind a mutex; any thread may call any of
 * these. Test code: not for the daemon.
 */
#ifndef ST_IO_FAULT_H
#define ST_IO_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "st_io.h"

struct st_io_fault {
	int write_errno;            /* errno of failing writes (ENOSPC, EIO, ...); 0: EIO */
	/*
	 * Byte budget, 0: none. Writes take from it; a write larger than what
	 * is left writes only that much (a short write, as a filling disk
	 * does), and once it is spent writes fail with write_errno.
	 */
	uint64_t fail_after_bytes;
	uint32_t fail_nth_write;    /* the nth write (1-based) fails with write_errno; 0: none */
	bool persist;               /* with fail_nth_write: so do all writes after it */
	uint32_t short_write_nth;   /* the nth write (1-based) does half its length; 0: none */
	int fail_fsync;             /* errno of every fdatasync and uring fsync; 0: none */
	int fail_fsync_dir;         /* errno of every fsync_dir; 0: none */
	int fail_fallocate;         /* errno of every fallocate; 0: none */
	int fail_open;              /* errno of every open; 0: none */
	bool deny_direct;           /* open with O_DIRECT fails with EINVAL */
	/*
	 * borrowed (copied, at most 255 bytes): when set, faults fire only for
	 * paths containing it, and for descriptors opened through
	 * st_io_fault_ops() from such paths. NULL: everywhere.
	 */
	const char *path_filter;
};

/* Faults fired since the last st_io_fault_set or st_io_fault_reset. */
struct st_io_fault_counts {
	uint64_t writes;            /* writes seen (matching the filter) */
	uint64_t write_bytes;       /* bytes those writes were let through */
	uint64_t write_errors;      /* writes failed */
	uint64_t short_writes;      /* writes shortened (budget or short_write_nth) */
	uint64_t fsync_errors;      /* fdatasync and uring fsync failed */
	uint64_t other_errors;      /* open, fsync_dir, fallocate failed or O_DIRECT denied */
	uint64_t fired;             /* all of the faults above */
};

/* The ops table; static storage, constant. Pass it wherever st_io_posix goes. */
const struct st_io_ops *st_io_fault_ops(void);
/* Replace the configuration (cfg: borrowed) and zero the counts. */
void st_io_fault_set(const struct st_io_fault *cfg);
/* No faults; zero the counts. */
void st_io_fault_reset(void);
/* Copy the counts to out (borrowed). */
void st_io_fault_counts(struct st_io_fault_counts *out);

#endif /* ST_IO_FAULT_H */
