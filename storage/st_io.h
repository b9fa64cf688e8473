/*
 * st_io.h - every file operation storage makes: a small ops table for the
 * synchronous calls, and an io_uring engine for the writes that must not
 * block their caller (WAL appends on a shard core, block writes).
 *
 * Why an ops table: tests replace it to inject ENOSPC, EIO and short writes
 * into any path (SQLite's aSyscall[] idea); production uses st_io_posix. The
 * uring engine consults the same table (ops->inject) before it queues a
 * write or fsync, so injected faults reach the asynchronous paths too.
 *
 * Threads: the ops table is constant after init and callable from any thread.
 * A struct st_uring belongs to one thread (the one that created it); it is
 * not shared.
 */
#ifndef ST_IO_H
#define ST_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Which operation ops->inject is asked about. */
enum st_io_op {
	ST_IO_WRITE = 1,
	ST_IO_FSYNC,
	ST_IO_OPEN,
	ST_IO_FALLOCATE,
};

/*
 * Synchronous calls: each returns what the syscall returns, with errors as
 * a negative errno (never -1 and errno). Paths are absolute or relative to
 * the process's cwd.
 */
struct st_io_ops {
	int (*open)(const char *path, int flags, int mode);       /* fd or -errno */
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t len, uint64_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, uint64_t off);
	int (*fdatasync)(int fd);
	int (*fsync_dir)(const char *dir);                       /* open O_DIRECTORY, fsync, close */
	int (*fallocate)(int fd, uint64_t off, uint64_t len);     /* mode 0: allocate, extend size */
	int (*ftruncate)(int fd, uint64_t len);
	int (*rename)(const char *from, const char *to);
	int (*unlink)(const char *path);
	int (*statvfs)(const char *path, struct statvfs *out);
	/*
	 * Fault hook for the uring engine (NULL in st_io_posix): called with the
	 * op, fd, length and offset of each write or fsync before it is queued.
	 * Return 0 to go ahead, a negative errno to complete the request with
	 * that error without doing it, or for a write a positive count < len to
	 * do a short write of that many bytes.
	 */
	ssize_t (*inject)(enum st_io_op op, int fd, size_t len, uint64_t off);
};

/* The real system calls. */
extern const struct st_io_ops st_io_posix;

/*
 * Probe whether files in dir accept O_DIRECT: create a temporary file, write
 * one aligned block with O_DIRECT, remove it. Returns 0 and the alignment in
 * *align (logical block size, e.g. 512 or 4096) when they do, or a negative
 * errno (-EINVAL on tmpfs) when they do not; the caller logs the fallback.
 * Note: since Linux 6.6 tmpfs accepts O_DIRECT (served from the page cache),
 * so there the probe returns 0 and 512; tests that need the fallback path
 * deny O_DIRECT through their ops table (tests/st_io_fault.h, deny_direct).
 * ops: borrowed (open, pwrite, close, unlink are used). Any thread.
 */
int st_io_probe_direct(const struct st_io_ops *ops, const char *dir, uint32_t *align);

/* ============================================================ uring */

struct st_uring;

struct st_uring_cfg {
	const struct st_io_ops *ops;  /* kept: must outlive the ring */
	uint32_t entries;             /* SQ size; CQ is twice that */
	const struct iovec *bufs;     /* borrowed: registered as fixed buffers (may be NULL) */
	uint32_t nbufs;
};

/* One completion, as handed back by st_uring_reap. */
struct st_uring_cqe {
	uint64_t user_data;
	int32_t res;                  /* bytes written, 0 for fsync, or -errno */
};

/*
 * Create a ring. -ENOSYS (or the errno of io_uring_queue_init) when the
 * kernel refuses io_uring: tests exit 77 on that, the daemon refuses to start.
 * -ENOSYS too when the kernel lacks IORING_FEAT_EXT_ARG (before Linux 5.11).
 * -EINVAL for entries 0 or above 32768; sizes are rounded up to powers of two.
 * Registering bufs may fail with -ENOMEM (locked memory limit on old kernels).
 * Everything the ring needs is allocated here; the request calls allocate
 * nothing. At most 2 * entries requests can await reaping at once.
 */
int st_uring_create(const struct st_uring_cfg *cfg, struct st_uring **out);
/*
 * Submit what is still queued, wait for every request the kernel holds to
 * complete (their buffers may be freed afterwards), drop all completions,
 * free the ring. NULL ok.
 */
void st_uring_destroy(struct st_uring *u);

/*
 * Queue a write of len bytes at off. buf_index >= 0 names a registered
 * buffer that buf lies inside (IORING_OP_WRITE_FIXED), -1 for a plain
 * write. rw_flags: 0 or RWF_DSYNC (durable when it completes). Returns 0,
 * or -EBUSY when the submission queue is full (submit and reap, then retry).
 * A write that ops->inject fails completes with that error at the next reap.
 * -EBUSY also when 2 * entries requests already await reaping (so the CQ
 * never overflows); it leaves no trace (ops->inject is not consulted).
 * -EINVAL when buf..buf+len is not inside registered buffer buf_index, or
 * off > INT64_MAX. buf: kept until the completion is reaped (or the ring is
 * destroyed). A completion's res may be less than len (a short write): the
 * caller writes the rest. Owner thread only; no syscall.
 */
int st_uring_write(struct st_uring *u, int fd, const void *buf, uint32_t len, uint64_t off,
		   int buf_index, int rw_flags, uint64_t user_data);

/* Queue an fdatasync (datasync) or fsync of fd. 0 or -EBUSY, as st_uring_write. */
int st_uring_fsync(struct st_uring *u, int fd, bool datasync, uint64_t user_data);

/*
 * Submit what is queued; never waits for completions. Count submitted or
 * -errno (0 and no syscall when nothing is queued).
 */
int st_uring_submit(struct st_uring *u);

/*
 * Copy up to max completions that are ready into out; never waits. Returns
 * how many. Completions of injected faults come first. out: borrowed.
 */
uint32_t st_uring_reap(struct st_uring *u, struct st_uring_cqe *out, uint32_t max);

/*
 * Off the hot path only: submit, then wait until at least one completion is
 * ready or timeout_ns passes (<0: no limit). 0, -ETIME, or -errno. It does
 * not consume the completion: st_uring_reap after it. -EAGAIN at once when
 * nothing is in flight (the wait could never end).
 */
int st_uring_wait(struct st_uring *u, int64_t timeout_ns);

/*
 * Requests queued or submitted whose completion has not been reaped, the
 * completions of injected failures included.
 */
uint32_t st_uring_inflight(const struct st_uring *u);

/*
 * Convenience for threads that may block (flusher, recovery): write all of
 * buf at off through the ring and wait for it, resubmitting the rest after
 * a short write. 0 or -errno; -EIO when a write makes no progress. Only on a
 * ring with nothing in flight (st_uring_inflight() == 0), else -EBUSY: they
 * reap every completion they see, so they would swallow other requests'.
 * After an error the ring is empty again, except when waiting itself failed.
 * buf: borrowed.
 */
int st_uring_write_all(struct st_uring *u, int fd, const void *buf, size_t len, uint64_t off);
/* Same for fdatasync (with the same empty-ring rule). */
int st_uring_sync(struct st_uring *u, int fd);

#endif /* ST_IO_H */
