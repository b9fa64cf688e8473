/*
 * st_io.c - storage's file I/O (contract in st_io.h): the POSIX ops table,
 * the O_DIRECT probe, and the io_uring engine.
 *
 * Usage profile: a shard core queues one WAL append (a few KiB, often with
 * RWF_DSYNC) per batch of points, tens of thousands per second, and reaps
 * completions on the same pass; the flusher writes blocks of a few MiB
 * through st_uring_write_all. Each ring belongs to the thread that created
 * it; nothing here takes a lock.
 *
 * Engine bookkeeping. Every accepted request is in exactly one place until
 * st_uring_reap hands back its completion:
 *
 *   kernel   an SQE (queued, not yet submitted) or a submitted request
 *            whose CQE has not been reaped; counted in `kernel_inflight`.
 *            It is kept <= the CQ size, so the CQ can never overflow and
 *            the kernel never has to drop or back-log a completion.
 *   synth    a completion made up when ops->inject failed the request; a
 *            fixed ring of `entries` slots, handed out by the next reap.
 *
 * A request is accepted only when both places have room, so the fault hook
 * is asked exactly once per accepted request, and -EBUSY leaves no trace.
 * All memory (the synthetic ring, the CQE batch array, the copy of the
 * registered buffers) is allocated at create; the hot path allocates nothing.
 *
 * The engine needs IORING_FEAT_EXT_ARG (Linux 5.11): without it liburing
 * implements wait timeouts with an extra timeout SQE whose CQE would show up
 * in st_uring_reap. st_uring_create reports -ENOSYS on older kernels.
 */
#include "st_io.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"

static_assert(sizeof(off_t) == 8, "64-bit file offsets");

/* ================================================================ posix */

/* Offsets above INT64_MAX would turn negative as off_t. */
#define OFF_OK(off) ((off) <= (uint64_t)INT64_MAX)

static int px_open(const char *path, int flags, int mode)
{
	int fd;

	do
		fd = open(path, flags, (mode_t)mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int px_close(int fd)
{
	/*
	 * Linux releases the descriptor even when close fails with EINTR;
	 * retrying could close a descriptor another thread just got.
	 */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static ssize_t px_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (!OFF_OK(off))
		return -EINVAL;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t px_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (!OFF_OK(off))
		return -EINVAL;
	do
		n = pwrite(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int px_fdatasync(int fd)
{
	int rc;

	do
		rc = fdatasync(fd);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_fsync_dir(const char *dir)
{
	int fd = px_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return fd;
	do
		rc = fsync(fd);
	while (rc < 0 && errno == EINTR);
	rc = rc < 0 ? -errno : 0;
	int crc = px_close(fd);
	return rc ? rc : crc;
}

static int px_fallocate(int fd, uint64_t off, uint64_t len)
{
	int rc;

	if (!OFF_OK(off) || !OFF_OK(len))
		return -EINVAL;
	do
		rc = fallocate(fd, 0, (off_t)off, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_ftruncate(int fd, uint64_t len)
{
	int rc;

	if (!OFF_OK(len))
		return -EINVAL;
	do
		rc = ftruncate(fd, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int px_rename(const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int px_statvfs(const char *path, struct statvfs *out)
{
	return statvfs(path, out) < 0 ? -errno : 0;
}

const struct st_io_ops st_io_posix = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.fdatasync = px_fdatasync,
	.fsync_dir = px_fsync_dir,
	.fallocate = px_fallocate,
	.ftruncate = px_ftruncate,
	.rename = px_rename,
	.unlink = px_unlink,
	.statvfs = px_statvfs,
	.inject = NULL,
};

/* ================================================================ probe */

#define PROBE_BUF_BYTES 4096u
#define PROBE_TRIES 8

/* Open a fresh probe file in dir with O_DIRECT; its name goes to path. */
static int probe_open(const struct st_io_ops *ops, const char *dir, char *path, size_t pathlen)
{
	static _Atomic uint32_t probe_seq;   /* distinct names for threads of one process */
	int fd = -EEXIST;

	for (int i = 0; i < PROBE_TRIES && fd == -EEXIST; i++) {
		uint32_t seq = atomic_fetch_add_explicit(&probe_seq, 1, memory_order_relaxed);
		int n = snprintf(path, pathlen, "%s/.st_io_probe.%ld.%u.%u", dir, (long)getpid(),
				 seq, (unsigned)(cm_mono_ns() & 0xffffff));
		if (n < 0 || (size_t)n >= pathlen)
			return -ENAMETOOLONG;
		fd = ops->open(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	}
	return fd;
}

int st_io_probe_direct(const struct st_io_ops *ops, const char *dir, uint32_t *align)
{
	static const uint32_t sizes[] = {512, 4096};
	char path[PATH_MAX];
	void *buf;
	int rc;

	assert(ops && dir && align);
	if (posix_memalign(&buf, PROBE_BUF_BYTES, PROBE_BUF_BYTES) != 0)
		return -ENOMEM;
	memset(buf, 0, PROBE_BUF_BYTES);

	int fd = probe_open(ops, dir, path, sizeof(path));
	if (fd < 0) {
		rc = fd;
		goto err_free;
	}
	/* The smallest block size a direct write accepts is the logical block size. */
	rc = -EINVAL;
	for (size_t i = 0; i < CM_ARRAY_SIZE(sizes); i++) {
		assert(sizes[i] <= PROBE_BUF_BYTES);
		ssize_t n = ops->pwrite(fd, buf, sizes[i], 0);
		if (n == (ssize_t)sizes[i]) {
			*align = sizes[i];
			rc = 0;
			break;
		}
		if (n != -EINVAL) {
			rc = n < 0 ? (int)n : -EIO;   /* a short direct write: do not trust it */
			break;
		}
	}
	ops->close(fd);
	int urc = ops->unlink(path);
	if (rc == 0 && urc < 0)
		rc = urc;
err_free:
	free(buf);
	return rc;
}

/* ================================================================ uring */

struct st_uring {
	struct io_uring ring;
	const struct st_io_ops *ops;
	uint32_t entries;               /* SQ size */
	uint32_t cq_entries;            /* CQ size: the cap on kernel_inflight */
	uint32_t kernel_inflight;       /* SQEs handed out whose CQE is not reaped */
	/* Synthetic completions (injected faults), a ring of `entries` slots. */
	struct st_uring_cqe *synth;
	uint32_t synth_head;
	uint32_t synth_count;
	struct io_uring_cqe **batch;    /* cq_entries slots for io_uring_peek_batch_cqe */
	struct iovec *bufs;             /* copy of the registered buffers, for range checks */
	uint32_t nbufs;
};

/* Largest piece st_uring_write_all hands to one write (Linux caps a write below 2 GiB). */
#define WRITE_ALL_CHUNK ((uint32_t)1 << 30)
/* user_data of the blocking helpers' requests (the ring is otherwise empty). */
#define HELPER_TAG UINT64_C(0x5354494f48454c50)

static void uring_free(struct st_uring *u)
{
	free(u->bufs);
	free(u->batch);
	free(u->synth);
	free(u);
}

int st_uring_create(const struct st_uring_cfg *cfg, struct st_uring **out)
{
	struct io_uring_params p;
	struct st_uring *u;
	int rc;

	assert(cfg && out && cfg->ops);
	if (cfg->entries == 0 || cfg->entries > 32768 || (cfg->nbufs > 0 && !cfg->bufs))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ops = cfg->ops;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 2 * cfg->entries;
	rc = io_uring_queue_init_params(cfg->entries, &u->ring, &p);
	if (rc < 0)
		goto err_free;
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		rc = -ENOSYS;
		goto err_exit;
	}
	/* The kernel rounds both sizes up to powers of two. */
	u->entries = p.sq_entries;
	u->cq_entries = p.cq_entries;
	assert((u->entries & (u->entries - 1)) == 0);   /* the synthetic ring masks with it */
	assert(u->cq_entries >= 2 * u->entries);
	u->synth = calloc(u->entries, sizeof(*u->synth));
	u->batch = calloc(u->cq_entries, sizeof(*u->batch));
	if (!u->synth || !u->batch) {
		rc = -ENOMEM;
		goto err_exit;
	}
	if (cfg->nbufs > 0) {
		u->bufs = calloc(cfg->nbufs, sizeof(*u->bufs));
		if (!u->bufs) {
			rc = -ENOMEM;
			goto err_exit;
		}
		memcpy(u->bufs, cfg->bufs, cfg->nbufs * sizeof(*u->bufs));
		u->nbufs = cfg->nbufs;
		rc = io_uring_register_buffers(&u->ring, u->bufs, u->nbufs);
		if (rc < 0)
			goto err_exit;
	}
	*out = u;
	return 0;

err_exit:
	io_uring_queue_exit(&u->ring);
err_free:
	uring_free(u);
	return rc;
}

/* Wait for every kernel request to complete and drop the completions. */
static void uring_drain(struct st_uring *u)
{
	while (u->kernel_inflight > 0) {
		int rc = io_uring_submit_and_wait(&u->ring, 1);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			CM_LOG_ERR("io", "event=uring_drain_failed err=%d inflight=%u", rc,
				   u->kernel_inflight);
			return;
		}
		unsigned got = io_uring_peek_batch_cqe(&u->ring, u->batch, u->cq_entries);
		assert(got <= u->kernel_inflight);
		io_uring_cq_advance(&u->ring, got);
		u->kernel_inflight -= got;
	}
}

void st_uring_destroy(struct st_uring *u)
{
	if (!u)
		return;
	/* Buffers of in-flight writes belong to the caller, who frees them after us. */
	uring_drain(u);
	io_uring_queue_exit(&u->ring);
	uring_free(u);
}

/* HOT PATH. Room for one more request, wherever the fault hook sends it. */
static inline int uring_reserve(const struct st_uring *u)
{
	if (cm_unlikely(u->kernel_inflight >= u->cq_entries ||
			io_uring_sq_space_left(&u->ring) == 0 ||
			u->synth_count >= u->entries))
		return -EBUSY;
	return 0;
}

/* HOT PATH. Complete a request with res at the next reap (room was reserved). */
static inline void synth_push(struct st_uring *u, uint64_t user_data, int32_t res)
{
	assert(u->synth_count < u->entries);
	uint32_t slot = (u->synth_head + u->synth_count) & (u->entries - 1);
	u->synth[slot] = (struct st_uring_cqe){.user_data = user_data, .res = res};
	u->synth_count++;
}

/* HOT PATH. buf..buf+len lies inside registered buffer idx. */
static inline bool fixed_range_ok(const struct st_uring *u, int idx, const void *buf, uint32_t len)
{
	if ((uint32_t)idx >= u->nbufs)
		return false;
	uintptr_t b = (uintptr_t)u->bufs[idx].iov_base, p = (uintptr_t)buf;
	return p >= b && p - b <= u->bufs[idx].iov_len && len <= u->bufs[idx].iov_len - (p - b);
}

/* HOT PATH */
int st_uring_write(struct st_uring *u, int fd, const void *buf, uint32_t len, uint64_t off,
		   int buf_index, int rw_flags, uint64_t user_data)
{
	assert(u);
	assert(buf || len == 0);
	if (cm_unlikely(!OFF_OK(off) || buf_index < -1 ||
			(buf_index >= 0 && !fixed_range_ok(u, buf_index, buf, len))))
		return -EINVAL;
	int rc = uring_reserve(u);
	if (rc)
		return rc;
	if (u->ops->inject) {
		ssize_t f = u->ops->inject(ST_IO_WRITE, fd, len, off);
		if (f < 0) {
			synth_push(u, user_data, (int32_t)f);
			return 0;
		}
		if (f > 0 && (uint64_t)f < len)
			len = (uint32_t)f;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	assert(sqe);   /* uring_reserve saw a free SQE */
	if (buf_index >= 0)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, buf_index);
	else
		io_uring_prep_write(sqe, fd, buf, len, off);
	sqe->rw_flags = rw_flags;
	io_uring_sqe_set_data64(sqe, user_data);
	u->kernel_inflight++;
	return 0;
}

/* HOT PATH */
int st_uring_fsync(struct st_uring *u, int fd, bool datasync, uint64_t user_data)
{
	assert(u);
	int rc = uring_reserve(u);
	if (rc)
		return rc;
	if (u->ops->inject) {
		ssize_t f = u->ops->inject(ST_IO_FSYNC, fd, 0, 0);
		if (f < 0) {
			synth_push(u, user_data, (int32_t)f);
			return 0;
		}
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	assert(sqe);
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	io_uring_sqe_set_data64(sqe, user_data);
	u->kernel_inflight++;
	return 0;
}

/*
 * HOT PATH, with the engine's one syscall: an io_uring_enter per batch when
 * anything is queued, none otherwise. (Reaping makes none: the CQ cannot
 * overflow, so io_uring_peek_batch_cqe never has to flush it.)
 */
int st_uring_submit(struct st_uring *u)
{
	assert(u);
	if (io_uring_sq_ready(&u->ring) == 0)
		return 0;
	return io_uring_submit(&u->ring);
}

/* HOT PATH. Synthetic completions first: they completed when they were queued. */
uint32_t st_uring_reap(struct st_uring *u, struct st_uring_cqe *out, uint32_t max)
{
	uint32_t n = 0;

	assert(u && (out || max == 0));
	while (n < max && u->synth_count > 0) {
		out[n++] = u->synth[u->synth_head];
		u->synth_head = (u->synth_head + 1) & (u->entries - 1);
		u->synth_count--;
	}
	if (n == max || u->kernel_inflight == 0)
		return n;
	unsigned want = CM_MIN(max - n, u->cq_entries);
	unsigned got = io_uring_peek_batch_cqe(&u->ring, u->batch, want);
	assert(got <= u->kernel_inflight);
	for (unsigned i = 0; i < got; i++) {
		out[n].user_data = u->batch[i]->user_data;
		out[n].res = u->batch[i]->res;
		n++;
	}
	io_uring_cq_advance(&u->ring, got);
	u->kernel_inflight -= got;
	return n;
}

uint32_t st_uring_inflight(const struct st_uring *u)
{
	assert(u);
	return u->kernel_inflight + u->synth_count;
}

/* ============================================================ blocking */

int st_uring_wait(struct st_uring *u, int64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	int64_t deadline = 0;
	int rc;

	assert(u);
	if (st_uring_inflight(u) == 0)
		return -EAGAIN;   /* nothing could ever complete */
	rc = st_uring_submit(u);
	if (rc < 0)
		return rc;
	if (u->synth_count > 0 || io_uring_cq_ready(&u->ring) > 0)
		return 0;
	if (timeout_ns >= 0)
		deadline = cm_mono_ns() + timeout_ns;
	do {
		struct __kernel_timespec ts, *tsp = NULL;
		if (timeout_ns >= 0) {
			int64_t left = CM_MAX(deadline - cm_mono_ns(), (int64_t)0);
			ts.tv_sec = left / CM_NS_PER_SEC;
			ts.tv_nsec = left % CM_NS_PER_SEC;
			tsp = &ts;
		}
		/* Peeks at the CQE without consuming it; st_uring_reap does that. */
		rc = io_uring_wait_cqe_timeout(&u->ring, &cqe, tsp);
	} while (rc == -EINTR);
	return rc;
}

/* Wait for the one request the blocking helpers put in flight; its res in *res. */
static int helper_complete(struct st_uring *u, int32_t *res)
{
	struct st_uring_cqe c;

	for (;;) {
		if (st_uring_reap(u, &c, 1) == 1) {
			assert(c.user_data == HELPER_TAG);
			*res = c.res;
			return 0;
		}
		int rc = st_uring_wait(u, -1);
		if (rc < 0)
			return rc;
	}
}

int st_uring_write_all(struct st_uring *u, int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	assert(u && (buf || len == 0));
	if (st_uring_inflight(u) != 0)
		return -EBUSY;   /* could swallow another request's completion */
	while (len > 0) {
		uint32_t n = len > WRITE_ALL_CHUNK ? WRITE_ALL_CHUNK : (uint32_t)len;
		int32_t res = 0;
		int rc = st_uring_write(u, fd, p, n, off, -1, 0, HELPER_TAG);
		if (rc == 0)
			rc = helper_complete(u, &res);
		if (rc < 0)
			return rc;
		if (res < 0)
			return res;
		if (res == 0)
			return -EIO;   /* no progress: the device gives nothing more */
		assert((uint32_t)res <= n);
		p += res;
		off += (uint64_t)res;
		len -= (size_t)res;
	}
	return 0;
}

int st_uring_sync(struct st_uring *u, int fd)
{
	int32_t res = 0;

	assert(u);
	if (st_uring_inflight(u) != 0)
		return -EBUSY;
	int rc = st_uring_fsync(u, fd, true, HELPER_TAG);
	if (rc == 0)
		rc = helper_complete(u, &res);
	return rc < 0 ? rc : res;
}
