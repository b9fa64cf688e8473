/*
 * st_io_fault.c - the fault-injecting st_io_ops table for tests (contract in
 * st_io_fault.h).
 *
 * One global configuration and its counts behind a mutex, and a table of
 * the paths of descriptors opened through these ops (descriptors below
 * MAX_FDS), so the path filter also applies to writes and fsyncs, which only
 * know their descriptor. Decisions are taken under the lock; the real system
 * call runs outside it.
 */
/*
 * meson links this file into every unit-test binary, also those that do not
 * use storage (test_cm_config, test_an_stats): they have neither storage's
 * headers nor its library, so for them this file compiles to nothing.
 */
#if !__has_include("st_io.h")
typedef int st_io_fault_not_built;   /* ISO C: a translation unit is not empty */
#else

#include "st_io_fault.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FDS 4096
#define FILTER_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct st_io_fault cfg;                /* path_filter points at filter */
static char filter[FILTER_MAX];
static struct st_io_fault_counts counts;
static char *fd_paths[MAX_FDS];               /* owned copies; NULL: not opened here */

/* ============================================================== matching */

/* Under lock. Does the filter select path? */
static bool path_matches(const char *path)
{
	return !cfg.path_filter || (path && strstr(path, cfg.path_filter));
}

/* Under lock. Does the filter select fd? */
static bool fd_matches(int fd)
{
	if (!cfg.path_filter)
		return true;
	return fd >= 0 && fd < MAX_FDS && path_matches(fd_paths[fd]);
}

static int write_errno(void)
{
	return cfg.write_errno ? cfg.write_errno : EIO;
}

/*
 * Under lock. The fate of a write of len bytes on fd: -errno to fail it, or
 * how many of the len bytes to let through.
 */
static ssize_t decide_write(int fd, size_t len)
{
	if (len == 0 || !fd_matches(fd))
		return (ssize_t)len;
	uint64_t nth = ++counts.writes;
	size_t n = len;

	if (cfg.fail_nth_write &&
	    (nth == cfg.fail_nth_write || (cfg.persist && nth > cfg.fail_nth_write)))
		goto fail;
	if (cfg.fail_after_bytes) {
		uint64_t left = cfg.fail_after_bytes - counts.write_bytes;
		if (left == 0)
			goto fail;
		if (n > left)
			n = (size_t)left;
	}
	if (cfg.short_write_nth == nth && n >= 2)
		n /= 2;
	if (n < len) {
		counts.short_writes++;
		counts.fired++;
	}
	counts.write_bytes += n;
	assert(counts.write_bytes <= cfg.fail_after_bytes || !cfg.fail_after_bytes);
	return (ssize_t)n;
fail:
	counts.write_errors++;
	counts.fired++;
	return -write_errno();
}

/* Under lock. Count a fault of the "other" kind and return -err. */
static int other_fault(int err)
{
	counts.other_errors++;
	counts.fired++;
	return -err;
}

/* ================================================================== ops */

static int fault_open(const char *path, int flags, int mode)
{
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (path_matches(path)) {
		if (cfg.fail_open)
			rc = other_fault(cfg.fail_open);
		else if (cfg.deny_direct && (flags & O_DIRECT))
			rc = other_fault(EINVAL);
	}
	pthread_mutex_unlock(&lock);
	if (rc)
		return rc;
	int fd = st_io_posix.open(path, flags, mode);
	if (fd >= 0 && fd < MAX_FDS) {
		char *copy = strdup(path);
		pthread_mutex_lock(&lock);
		free(fd_paths[fd]);
		fd_paths[fd] = copy;
		pthread_mutex_unlock(&lock);
	}
	return fd;
}

static int fault_close(int fd)
{
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&lock);
		free(fd_paths[fd]);
		fd_paths[fd] = NULL;
		pthread_mutex_unlock(&lock);
	}
	return st_io_posix.close(fd);
}

static ssize_t fault_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	pthread_mutex_lock(&lock);
	ssize_t n = decide_write(fd, len);
	pthread_mutex_unlock(&lock);
	if (n < 0)
		return n;
	return st_io_posix.pwrite(fd, buf, (size_t)n, off);
}

static int fault_fdatasync(int fd)
{
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (cfg.fail_fsync && fd_matches(fd)) {
		counts.fsync_errors++;
		counts.fired++;
		rc = -cfg.fail_fsync;
	}
	pthread_mutex_unlock(&lock);
	return rc ? rc : st_io_posix.fdatasync(fd);
}

static int fault_fsync_dir(const char *dir)
{
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (cfg.fail_fsync_dir && path_matches(dir))
		rc = other_fault(cfg.fail_fsync_dir);
	pthread_mutex_unlock(&lock);
	return rc ? rc : st_io_posix.fsync_dir(dir);
}

static int fault_fallocate(int fd, uint64_t off, uint64_t len)
{
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (cfg.fail_fallocate && fd_matches(fd))
		rc = other_fault(cfg.fail_fallocate);
	pthread_mutex_unlock(&lock);
	return rc ? rc : st_io_posix.fallocate(fd, off, len);
}

/* The uring engine's hook: the same decisions as the synchronous calls. */
static ssize_t fault_inject(enum st_io_op op, int fd, size_t len, uint64_t off)
{
	ssize_t rc = 0;

	(void)off;
	pthread_mutex_lock(&lock);
	if (op == ST_IO_WRITE) {
		ssize_t n = decide_write(fd, len);
		rc = n < 0 || (size_t)n < len ? n : 0;
	} else if (op == ST_IO_FSYNC && cfg.fail_fsync && fd_matches(fd)) {
		counts.fsync_errors++;
		counts.fired++;
		rc = -cfg.fail_fsync;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static int fwd_ftruncate(int fd, uint64_t len)
{
	return st_io_posix.ftruncate(fd, len);
}

static ssize_t fwd_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return st_io_posix.pread(fd, buf, len, off);
}

static int fwd_rename(const char *from, const char *to)
{
	return st_io_posix.rename(from, to);
}

static int fwd_unlink(const char *path)
{
	return st_io_posix.unlink(path);
}

static int fwd_statvfs(const char *path, struct statvfs *out)
{
	return st_io_posix.statvfs(path, out);
}

static const struct st_io_ops fault_ops = {
	.open = fault_open,
	.close = fault_close,
	.pread = fwd_pread,
	.pwrite = fault_pwrite,
	.fdatasync = fault_fdatasync,
	.fsync_dir = fault_fsync_dir,
	.fallocate = fault_fallocate,
	.ftruncate = fwd_ftruncate,
	.rename = fwd_rename,
	.unlink = fwd_unlink,
	.statvfs = fwd_statvfs,
	.inject = fault_inject,
};

/* ============================================================== control */

const struct st_io_ops *st_io_fault_ops(void)
{
	return &fault_ops;
}

void st_io_fault_set(const struct st_io_fault *c)
{
	assert(c);
	pthread_mutex_lock(&lock);
	cfg = *c;
	if (c->path_filter) {
		size_t n = strnlen(c->path_filter, FILTER_MAX - 1);
		memcpy(filter, c->path_filter, n);
		filter[n] = '\0';
		cfg.path_filter = filter;
	}
	memset(&counts, 0, sizeof(counts));
	pthread_mutex_unlock(&lock);
}

void st_io_fault_reset(void)
{
	st_io_fault_set(&(struct st_io_fault){0});
}

void st_io_fault_counts(struct st_io_fault_counts *out)
{
	pthread_mutex_lock(&lock);
	*out = counts;
	pthread_mutex_unlock(&lock);
}

#endif /* __has_include("st_io.h") */
