/*
 * test_st_io.c - storage file I/O: the POSIX ops table, the O_DIRECT probe,
 * the io_uring engine (plain and registered-buffer writes, fsync, -EBUSY
 * back-pressure, non-blocking reap, waits with timeouts, destroy with
 * requests in flight, the blocking helpers) and injected faults (ENOSPC,
 * EIO, short writes, failing fsync) reaching both the synchronous calls and
 * the ring's completions through tests/st_io_fault.h.
 *
 * Files live in a fresh mkdtemp directory under $TMPDIR (or /tmp), removed
 * after each case. Exits 77 (skip) when the kernel refuses io_uring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_clock.h"
#include "st_io.h"
#include "st_io_fault.h"
#include "tst_util.h"

#define BLK 4096u

struct fixture {
	char dir[256];
	struct st_uring *u;
	void *mem;                  /* posix_memalign'd buffers of a case */
};

static struct fixture fx;

/* ================================================================ helpers */

static int setup(void **state)
{
	(void)state;
	assert_non_null(tst_tmpdir(fx.dir, sizeof(fx.dir), "test_st_io"));
	st_io_fault_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	st_uring_destroy(fx.u);
	free(fx.mem);
	tst_rm_tree(fx.dir);
	st_io_fault_reset();
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* fx.dir/name, in one of four static buffers (so two can be arguments of one call). */
static const char *path_in(const char *name)
{
	static char paths[4][512];
	static unsigned next;
	char *path = paths[next++ % 4];
	snprintf(path, sizeof(paths[0]), "%s/%s", fx.dir, name);
	return path;
}

static int open_file(const struct st_io_ops *ops, const char *name)
{
	int fd = ops->open(path_in(name), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	return fd;
}

static void make_ring(const struct st_io_ops *ops, uint32_t entries, const struct iovec *bufs,
		      uint32_t nbufs)
{
	struct st_uring_cfg cfg = {.ops = ops, .entries = entries, .bufs = bufs, .nbufs = nbufs};
	assert_int_equal(st_uring_create(&cfg, &fx.u), 0);
}

/* Byte i of a test pattern. */
static uint8_t pat(uint64_t i, uint8_t seed)
{
	return (uint8_t)((i * 131u + (i >> 9) + seed) & 0xff);
}

static void fill(uint8_t *buf, size_t len, uint64_t base, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(base + i, seed);
}

/* The file holds the pattern at [off, off+len). */
static void check_file(int fd, uint64_t off, size_t len, uint8_t seed)
{
	uint8_t *got = malloc(len);
	assert_non_null(got);
	assert_int_equal(st_io_posix.pread(fd, got, len, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != pat(off + i, seed))
			fail_msg("byte %zu of [%llu, +%zu) differs", i, (unsigned long long)off, len);
	free(got);
}

static void *aligned(size_t bytes)
{
	void *p = NULL;
	assert_int_equal(posix_memalign(&p, BLK, bytes), 0);
	return p;
}

/* Submit, then wait and reap until n completions are in out. */
static void collect(struct st_uring_cqe *out, uint32_t n)
{
	uint32_t got = 0;
	assert_true(st_uring_submit(fx.u) >= 0);
	while (got < n) {
		uint32_t k = st_uring_reap(fx.u, out + got, n - got);
		got += k;
		if (got < n && k == 0)
			assert_int_equal(st_uring_wait(fx.u, 5 * CM_NS_PER_SEC), 0);
	}
	assert_int_equal(st_uring_reap(fx.u, out, 1), 0);
}

/* The completion with user_data ud among n. */
static const struct st_uring_cqe *find(const struct st_uring_cqe *c, uint32_t n, uint64_t ud)
{
	for (uint32_t i = 0; i < n; i++)
		if (c[i].user_data == ud)
			return &c[i];
	fail_msg("no completion for user_data %llu", (unsigned long long)ud);
	return NULL;
}

/* ================================================================ posix */

static void test_st_io__posix_calls_return_negative_errno(void **state)
{
	(void)state;
	const struct st_io_ops *o = &st_io_posix;
	uint8_t buf[1000], back[1000];
	struct statvfs sv;

	assert_int_equal(o->open(path_in("missing/x"), O_RDONLY, 0), -ENOENT);
	assert_int_equal(o->close(-1), -EBADF);
	assert_int_equal(o->fdatasync(-1), -EBADF);
	assert_int_equal(o->fsync_dir(path_in("missing")), -ENOENT);
	assert_int_equal(o->unlink(path_in("missing")), -ENOENT);
	assert_int_equal(o->rename(path_in("missing"), path_in("b")), -ENOENT);

	int fd = open_file(o, "a");
	fill(buf, sizeof(buf), 0, 1);
	assert_int_equal(o->pwrite(fd, buf, sizeof(buf), 100), (ssize_t)sizeof(buf));
	assert_int_equal(o->pwrite(fd, buf, 1, UINT64_MAX), -EINVAL);
	assert_int_equal(o->fdatasync(fd), 0);
	assert_int_equal(o->pread(fd, back, sizeof(back), 100), (ssize_t)sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(o->pread(fd, back, sizeof(back), 1 << 20), 0);

	int rc = o->fallocate(fd, 0, 1 << 16);
	assert_true(rc == 0 || rc == -EOPNOTSUPP);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, rc == 0 ? 1 << 16 : 1100);
	assert_int_equal(o->ftruncate(fd, 10), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 10);

	assert_int_equal(o->rename(path_in("a"), path_in("b")), 0);
	assert_int_equal(o->fsync_dir(fx.dir), 0);
	assert_int_equal(o->statvfs(fx.dir, &sv), 0);
	assert_true(sv.f_bsize > 0);
	assert_int_equal(o->close(fd), 0);
	assert_int_equal(o->unlink(path_in("b")), 0);
}

/* ================================================================ probe */

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n == 0;
}

static void test_st_io__probe_direct_on_disk(void **state)
{
	(void)state;
	struct statfs sf;
	uint32_t align = 0;

	assert_int_equal(statfs(fx.dir, &sf), 0);
	/* ext4, xfs, btrfs: filesystems known to do direct I/O. */
	uint32_t type = (uint32_t)sf.f_type;
	if (type != 0xEF53 && type != 0x58465342 && type != 0x9123683E) {
		print_message("skip: %s is not on ext4/xfs/btrfs\n", fx.dir);
		skip();
	}
	assert_int_equal(st_io_probe_direct(&st_io_posix, fx.dir, &align), 0);
	assert_true(align == 512 || align == 4096);
	assert_true(dir_is_empty(fx.dir));

	/* The alignment it found works for a real O_DIRECT write. */
	int fd = open(path_in("d"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	assert_true(fd >= 0);
	fx.mem = aligned(BLK);
	memset(fx.mem, 7, BLK);
	assert_int_equal(st_io_posix.pwrite(fd, fx.mem, align, align), (ssize_t)align);
	close(fd);

	assert_int_equal(st_io_probe_direct(&st_io_posix, path_in("missing"), &align), -ENOENT);
}

static void test_st_io__probe_direct_on_tmpfs(void **state)
{
	(void)state;
	struct statfs sf;
	char dir[] = "/dev/shm/test_st_io.XXXXXX";
	uint32_t align = 0;

	if (statfs("/dev/shm", &sf) != 0 || (uint32_t)sf.f_type != 0x01021994 || !mkdtemp(dir)) {
		print_message("skip: no tmpfs at /dev/shm\n");
		skip();
	}
	/*
	 * Before Linux 6.6 tmpfs refuses O_DIRECT at open (EINVAL); since then
	 * it accepts it and serves it from the page cache. Ask the kernel here.
	 */
	char path[64];
	snprintf(path, sizeof(path), "%s/raw", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	int raw = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	int rc = st_io_probe_direct(&st_io_posix, dir, &align);
	bool empty = dir_is_empty(dir);
	rmdir(dir);
	print_message("tmpfs: O_DIRECT open %d, probe %d align %u\n", raw, rc, align);
	assert_true(empty);
	if (raw == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(align, 512);
	} else {
		assert_int_equal(rc, raw);
		assert_true(rc < 0);
	}
}

static void test_st_io__probe_direct_fallback_through_ops(void **state)
{
	(void)state;
	uint32_t align = 12345;
	struct st_io_fault_counts c;

	/* tmpfs before 6.6, deterministically, on any filesystem. */
	st_io_fault_set(&(struct st_io_fault){.deny_direct = true});
	assert_int_equal(st_io_probe_direct(st_io_fault_ops(), fx.dir, &align), -EINVAL);
	assert_int_equal(align, 12345);
	st_io_fault_counts(&c);
	assert_int_equal(c.other_errors, 1);

	st_io_fault_set(&(struct st_io_fault){.fail_open = EACCES, .path_filter = "st_io_probe"});
	assert_int_equal(st_io_probe_direct(st_io_fault_ops(), fx.dir, &align), -EACCES);

	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 1, .write_errno = EIO});
	assert_int_equal(st_io_probe_direct(st_io_fault_ops(), fx.dir, &align), -EIO);
	assert_true(dir_is_empty(fx.dir));
}

/* ================================================================ uring */

static void test_st_io__write_fsync_read_back(void **state)
{
	(void)state;
	struct st_uring_cqe c[8];
	uint8_t *buf = fx.mem = malloc(3 * BLK);
	assert_non_null(buf);

	make_ring(&st_io_posix, 8, NULL, 0);
	int fd = open_file(&st_io_posix, "w");
	fill(buf, 3 * BLK, 0, 3);
	assert_int_equal(st_uring_write(fx.u, fd, buf, BLK, 0, -1, 0, 10), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf + BLK, BLK, BLK, -1, RWF_DSYNC, 11), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf + 2 * BLK, 100, 2 * BLK, -1, 0, 12), 0);
	assert_int_equal(st_uring_inflight(fx.u), 3);
	assert_int_equal(st_uring_submit(fx.u), 3);
	assert_int_equal(st_uring_submit(fx.u), 0);     /* nothing queued */
	collect(c, 3);
	assert_int_equal(find(c, 3, 10)->res, BLK);
	assert_int_equal(find(c, 3, 11)->res, BLK);
	assert_int_equal(find(c, 3, 12)->res, 100);

	assert_int_equal(st_uring_fsync(fx.u, fd, true, 20), 0);
	assert_int_equal(st_uring_fsync(fx.u, fd, false, 21), 0);
	collect(c, 2);
	assert_int_equal(find(c, 2, 20)->res, 0);
	assert_int_equal(find(c, 2, 21)->res, 0);
	assert_int_equal(st_uring_inflight(fx.u), 0);
	check_file(fd, 0, 2 * BLK + 100, 3);

	/* rw_flags reach the kernel: an unknown RWF_ bit is refused there. */
	assert_int_equal(st_uring_write(fx.u, fd, buf, 10, 0, -1, (int)0x40000000, 30), 0);
	collect(c, 1);
	assert_int_equal(c[0].res, -EOPNOTSUPP);

	/* A bad descriptor completes with -EBADF. */
	assert_int_equal(st_uring_write(fx.u, 100000, buf, 10, 0, -1, 0, 31), 0);
	assert_int_equal(st_uring_fsync(fx.u, 100000, true, 32), 0);
	collect(c, 2);
	assert_int_equal(find(c, 2, 31)->res, -EBADF);
	assert_int_equal(find(c, 2, 32)->res, -EBADF);

	assert_int_equal(st_uring_write(fx.u, fd, buf, 10, UINT64_MAX, -1, 0, 33), -EINVAL);
	assert_int_equal(st_uring_inflight(fx.u), 0);
	close(fd);
}

static void test_st_io__fixed_buffer_write(void **state)
{
	(void)state;
	struct st_uring_cqe c[4];
	uint8_t *mem = fx.mem = aligned(4 * BLK);
	struct iovec iov[2] = {{mem, 2 * BLK}, {mem + 2 * BLK, 2 * BLK}};

	make_ring(&st_io_posix, 4, iov, 2);
	int fd = open_file(&st_io_posix, "f");
	fill(mem, 4 * BLK, 0, 5);
	/* Whole buffer 0, and a piece inside buffer 1 at an unaligned place. */
	assert_int_equal(st_uring_write(fx.u, fd, mem, 2 * BLK, 0, 0, 0, 1), 0);
	assert_int_equal(st_uring_write(fx.u, fd, mem + 2 * BLK + 10, BLK, 2 * BLK + 10, 1,
					RWF_DSYNC, 2), 0);
	collect(c, 2);
	assert_int_equal(find(c, 2, 1)->res, 2 * BLK);
	assert_int_equal(find(c, 2, 2)->res, BLK);
	check_file(fd, 0, 2 * BLK, 5);
	check_file(fd, 2 * BLK + 10, BLK, 5);

	/* Outside its buffer, a buffer that does not exist: refused before queueing. */
	assert_int_equal(st_uring_write(fx.u, fd, mem + BLK, 2 * BLK, 0, 0, 0, 3), -EINVAL);
	assert_int_equal(st_uring_write(fx.u, fd, mem, 1, 0, 1, 0, 3), -EINVAL);
	assert_int_equal(st_uring_write(fx.u, fd, mem, 1, 0, 2, 0, 3), -EINVAL);
	assert_int_equal(st_uring_write(fx.u, fd, mem, 1, 0, -2, 0, 3), -EINVAL);
	assert_int_equal(st_uring_inflight(fx.u), 0);
	close(fd);
}

static void test_st_io__busy_when_queues_are_full(void **state)
{
	(void)state;
	enum { N = 1000, ENTRIES = 8 };
	struct st_uring_cqe c[2 * ENTRIES];
	uint8_t *buf = fx.mem = malloc((size_t)N * 512);
	static bool seen[N];
	uint32_t done = 0, busy = 0, next = 0;

	assert_non_null(buf);
	memset(seen, 0, sizeof(seen));
	make_ring(&st_io_posix, ENTRIES, NULL, 0);
	int fd = open_file(&st_io_posix, "busy");
	fill(buf, (size_t)N * 512, 0, 9);

	/* The SQ holds ENTRIES; submitted requests awaiting reap are capped at 2x. */
	for (; next < ENTRIES; next++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + next * 512, 512, next * 512, -1, 0, next), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf, 512, 0, -1, 0, 999), -EBUSY);
	assert_int_equal(st_uring_fsync(fx.u, fd, true, 999), -EBUSY);
	assert_int_equal(st_uring_submit(fx.u), ENTRIES);
	for (; next < 2 * ENTRIES; next++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + next * 512, 512, next * 512, -1, 0, next), 0);
	assert_int_equal(st_uring_submit(fx.u), ENTRIES);
	assert_int_equal(st_uring_write(fx.u, fd, buf, 512, 0, -1, 0, 999), -EBUSY);
	assert_int_equal(st_uring_inflight(fx.u), 2 * ENTRIES);

	/* Then a producer that backs off on -EBUSY: every write completes once. */
	while (done < N) {
		while (next < N) {
			int rc = st_uring_write(fx.u, fd, buf + next * 512, 512, next * 512, -1, 0, next);
			if (rc == -EBUSY) {
				busy++;
				break;
			}
			assert_int_equal(rc, 0);
			next++;
		}
		assert_true(st_uring_inflight(fx.u) <= 2 * ENTRIES);
		assert_true(st_uring_submit(fx.u) >= 0);
		uint32_t n = st_uring_reap(fx.u, c, 2 * ENTRIES);
		if (n == 0) {
			assert_int_equal(st_uring_wait(fx.u, 5 * CM_NS_PER_SEC), 0);
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			assert_true(c[i].user_data < N);
			assert_false(seen[c[i].user_data]);
			seen[c[i].user_data] = true;
			assert_int_equal(c[i].res, 512);
		}
		done += n;
	}
	assert_true(busy > 0);
	assert_int_equal(st_uring_inflight(fx.u), 0);
	check_file(fd, 0, (size_t)N * 512, 9);
	close(fd);
}

/* A pipe whose buffer is full, so a write to it stays in flight until drained. */
static void full_pipe(int p[2], size_t *filled)
{
	char junk[4096];

	assert_int_equal(pipe(p), 0);
	memset(junk, 'j', sizeof(junk));
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	*filled = 0;
	for (;;) {
		ssize_t n = write(p[1], junk, sizeof(junk));
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		*filled += (size_t)n;
	}
	assert_int_equal(fcntl(p[1], F_SETFL, 0), 0);   /* io_uring now waits for room */
}

static void drain_pipe(int fd, size_t bytes)
{
	char buf[4096];
	while (bytes > 0) {
		ssize_t n = read(fd, buf, bytes < sizeof(buf) ? bytes : sizeof(buf));
		assert_true(n > 0);
		bytes -= (size_t)n;
	}
}

static void test_st_io__reap_never_blocks(void **state)
{
	(void)state;
	struct st_uring_cqe c[4];
	char msg[512];
	int p[2];
	size_t filled;

	make_ring(&st_io_posix, 4, NULL, 0);
	assert_int_equal(st_uring_reap(fx.u, c, 4), 0);
	assert_int_equal(st_uring_wait(fx.u, -1), -EAGAIN);   /* nothing could complete */

	full_pipe(p, &filled);
	memset(msg, 'm', sizeof(msg));
	assert_int_equal(st_uring_write(fx.u, p[1], msg, sizeof(msg), 0, -1, 0, 7), 0);
	assert_int_equal(st_uring_submit(fx.u), 1);
	int64_t t0 = cm_mono_ns();
	for (int i = 0; i < 1000; i++)
		assert_int_equal(st_uring_reap(fx.u, c, 4), 0);
	int64_t t1 = cm_mono_ns();
	assert_true(t1 - t0 < 100 * CM_NS_PER_MS);
	assert_int_equal(st_uring_wait(fx.u, 50 * CM_NS_PER_MS), -ETIME);
	assert_true(cm_mono_ns() - t1 >= 45 * CM_NS_PER_MS);
	assert_int_equal(st_uring_wait(fx.u, 0), -ETIME);
	assert_int_equal(st_uring_inflight(fx.u), 1);

	drain_pipe(p[0], filled);
	assert_int_equal(st_uring_wait(fx.u, -1), 0);
	assert_int_equal(st_uring_wait(fx.u, -1), 0);   /* the completion is still there */
	assert_int_equal(st_uring_reap(fx.u, c, 4), 1);
	assert_int_equal(c[0].user_data, 7);
	assert_int_equal(c[0].res, sizeof(msg));
	assert_int_equal(st_uring_inflight(fx.u), 0);
	drain_pipe(p[0], sizeof(msg));
	close(p[0]);
	close(p[1]);
}

static void test_st_io__injected_faults_reach_completions(void **state)
{
	(void)state;
	struct st_uring_cqe c[8];
	struct st_io_fault_counts cnt;
	uint8_t *buf = fx.mem = malloc(4 * BLK);
	assert_non_null(buf);

	make_ring(st_io_fault_ops(), 8, NULL, 0);
	int fd = open_file(st_io_fault_ops(), "inj.wal");
	fill(buf, 4 * BLK, 0, 11);

	/* 2nd write: ENOSPC; 3rd: half of it. */
	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 2, .write_errno = ENOSPC,
					      .short_write_nth = 3});
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + i * BLK, BLK, i * BLK, -1, 0, i), 0);
	assert_int_equal(st_uring_inflight(fx.u), 4);
	/* The failed one is ready before anything is submitted. */
	assert_int_equal(st_uring_reap(fx.u, c, 8), 1);
	assert_int_equal(c[0].user_data, 1);
	assert_int_equal(c[0].res, -ENOSPC);
	assert_int_equal(st_uring_inflight(fx.u), 3);
	collect(c, 3);
	assert_int_equal(find(c, 3, 0)->res, BLK);
	assert_int_equal(find(c, 3, 2)->res, BLK / 2);
	assert_int_equal(find(c, 3, 3)->res, BLK);
	check_file(fd, 2 * BLK, BLK / 2, 11);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.writes, 4);
	assert_int_equal(cnt.write_errors, 1);
	assert_int_equal(cnt.short_writes, 1);
	assert_int_equal(cnt.fired, 2);

	/* A byte budget: full, full, the rest of it, then EIO. */
	st_io_fault_set(&(struct st_io_fault){.fail_after_bytes = 2 * BLK + 100, .write_errno = EIO});
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + i * BLK, BLK, i * BLK, -1, 0, i), 0);
	collect(c, 4);
	assert_int_equal(find(c, 4, 0)->res, BLK);
	assert_int_equal(find(c, 4, 1)->res, BLK);
	assert_int_equal(find(c, 4, 2)->res, 100);
	assert_int_equal(find(c, 4, 3)->res, -EIO);

	/* fsync faults, and the path filter sparing another file. */
	int other = open_file(st_io_fault_ops(), "other.blk");
	st_io_fault_set(&(struct st_io_fault){.fail_fsync = EIO, .fail_nth_write = 1, .persist = true,
					      .path_filter = ".wal"});
	assert_int_equal(st_uring_fsync(fx.u, fd, true, 1), 0);
	assert_int_equal(st_uring_fsync(fx.u, other, true, 2), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf, BLK, 0, -1, 0, 3), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf, BLK, 0, -1, 0, 4), 0);
	assert_int_equal(st_uring_write(fx.u, other, buf, BLK, 0, -1, 0, 5), 0);
	collect(c, 5);
	assert_int_equal(find(c, 5, 1)->res, -EIO);
	assert_int_equal(find(c, 5, 2)->res, 0);
	assert_int_equal(find(c, 5, 3)->res, -EIO);
	assert_int_equal(find(c, 5, 4)->res, -EIO);
	assert_int_equal(find(c, 5, 5)->res, BLK);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.fsync_errors, 1);
	assert_int_equal(cnt.write_errors, 2);
	assert_int_equal(cnt.writes, 2);

	/* Injected failures take a slot too: -EBUSY when the synthetic queue is full. */
	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 1, .persist = true});
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(st_uring_write(fx.u, fd, buf, BLK, 0, -1, 0, i), 0);
	assert_int_equal(st_uring_write(fx.u, fd, buf, BLK, 0, -1, 0, 8), -EBUSY);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.writes, 8);   /* the refused one was not shown to the hook */
	assert_int_equal(st_uring_reap(fx.u, c, 8), 8);
	for (uint32_t i = 0; i < 8; i++) {
		assert_int_equal(c[i].user_data, i);   /* in order */
		assert_int_equal(c[i].res, -EIO);
	}
	assert_int_equal(st_uring_inflight(fx.u), 0);
	st_io_fault_ops()->close(other);
	st_io_fault_ops()->close(fd);
}

static void test_st_io__write_all_handles_short_writes(void **state)
{
	(void)state;
	enum { LEN = 100000 };
	struct st_io_fault_counts cnt;
	uint8_t *buf = fx.mem = malloc(LEN);
	assert_non_null(buf);

	make_ring(st_io_fault_ops(), 4, NULL, 0);
	int fd = open_file(st_io_fault_ops(), "all");
	fill(buf, LEN, 0, 13);
	assert_int_equal(st_uring_write_all(fx.u, fd, buf, 0, 0), 0);

	/* The first write does half: the rest goes in a second one. */
	st_io_fault_set(&(struct st_io_fault){.short_write_nth = 1});
	assert_int_equal(st_uring_write_all(fx.u, fd, buf, LEN, 0), 0);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.short_writes, 1);
	assert_int_equal(cnt.writes, 2);
	assert_int_equal(cnt.write_bytes, LEN);
	/* A second copy at LEN, quarter by quarter, three of them with a short first write. */
	for (uint32_t k = 1; k <= 3; k++) {
		st_io_fault_set(&(struct st_io_fault){.short_write_nth = 1});
		assert_int_equal(st_uring_write_all(fx.u, fd, buf + (k - 1) * (LEN / 4), LEN / 4,
						    LEN + (k - 1) * (LEN / 4)), 0);
	}
	st_io_fault_reset();
	assert_int_equal(st_uring_write_all(fx.u, fd, buf + 3 * (LEN / 4), LEN / 4,
					    LEN + 3 * (LEN / 4)), 0);
	assert_int_equal(st_uring_sync(fx.u, fd), 0);
	check_file(fd, 0, LEN, 13);
	/* The second copy holds the pattern shifted by LEN. */
	uint8_t *got = malloc(LEN);
	assert_non_null(got);
	assert_int_equal(st_io_posix.pread(fd, got, LEN, LEN), LEN);
	assert_memory_equal(got, buf, LEN);

	/* A disk that fills: the budget is written, then ENOSPC comes back. */
	st_io_fault_set(&(struct st_io_fault){.fail_after_bytes = 3000, .write_errno = ENOSPC});
	assert_int_equal(st_uring_write_all(fx.u, fd, buf, LEN, 2 * LEN), -ENOSPC);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.write_bytes, 3000);
	assert_int_equal(cnt.short_writes, 1);
	assert_int_equal(cnt.write_errors, 1);
	assert_int_equal(st_io_posix.pread(fd, got, 3000, 2 * LEN), 3000);
	assert_memory_equal(got, buf, 3000);
	free(got);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 2 * LEN + 3000);
	assert_int_equal(st_uring_inflight(fx.u), 0);

	st_io_fault_set(&(struct st_io_fault){.fail_fsync = EIO});
	assert_int_equal(st_uring_sync(fx.u, fd), -EIO);
	st_io_fault_reset();
	assert_int_equal(st_uring_sync(fx.u, 100000), -EBADF);
	assert_int_equal(st_uring_write_all(fx.u, 100000, buf, 10, 0), -EBADF);
	assert_int_equal(st_uring_inflight(fx.u), 0);
	st_io_fault_ops()->close(fd);
}

static void test_st_io__blocking_helpers_need_an_empty_ring(void **state)
{
	(void)state;
	struct st_uring_cqe c[2];
	char b[16] = "0123456789abcdef";

	make_ring(&st_io_posix, 4, NULL, 0);
	int fd = open_file(&st_io_posix, "e");
	assert_int_equal(st_uring_write(fx.u, fd, b, sizeof(b), 0, -1, 0, 77), 0);
	assert_int_equal(st_uring_write_all(fx.u, fd, b, sizeof(b), 0), -EBUSY);
	assert_int_equal(st_uring_sync(fx.u, fd), -EBUSY);
	collect(c, 1);   /* the async request's completion was not swallowed */
	assert_int_equal(c[0].user_data, 77);
	assert_int_equal(c[0].res, sizeof(b));
	assert_int_equal(st_uring_write_all(fx.u, fd, b, sizeof(b), 16), 0);
	close(fd);
}

struct drainer {
	int fd;
	size_t bytes;
	int64_t delay_ns;
};

static void *drain_later(void *arg)
{
	struct drainer *d = arg;
	struct timespec ts = {0, (long)d->delay_ns};
	char buf[4096];

	nanosleep(&ts, NULL);
	while (d->bytes > 0) {
		ssize_t n = read(d->fd, buf, d->bytes < sizeof(buf) ? d->bytes : sizeof(buf));
		if (n <= 0)
			break;
		d->bytes -= (size_t)n;
	}
	return NULL;
}

static void test_st_io__destroy_waits_for_inflight(void **state)
{
	(void)state;
	enum { N = 64 };
	uint8_t *buf = fx.mem = malloc((size_t)N * BLK);
	assert_non_null(buf);
	fill(buf, (size_t)N * BLK, 0, 17);

	/* Half submitted, half only queued, none reaped: all of it lands. */
	make_ring(&st_io_posix, N / 2, NULL, 0);
	int fd = open_file(&st_io_posix, "d");
	for (uint32_t i = 0; i < N / 2; i++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + i * BLK, BLK, i * BLK, -1, 0, i), 0);
	assert_int_equal(st_uring_submit(fx.u), N / 2);
	for (uint32_t i = N / 2; i < N; i++)
		assert_int_equal(st_uring_write(fx.u, fd, buf + i * BLK, BLK, i * BLK, -1, 0, i), 0);
	st_uring_destroy(fx.u);
	fx.u = NULL;
	check_file(fd, 0, (size_t)N * BLK, 17);
	close(fd);

	/* A write that cannot finish until another thread drains a pipe. */
	int p[2];
	size_t filled;
	char msg[256];
	pthread_t th;
	memset(msg, 'x', sizeof(msg));
	make_ring(&st_io_posix, 4, NULL, 0);
	full_pipe(p, &filled);
	assert_int_equal(st_uring_write(fx.u, p[1], msg, sizeof(msg), 0, -1, 0, 1), 0);
	assert_int_equal(st_uring_submit(fx.u), 1);
	struct drainer d = {p[0], filled + sizeof(msg), 100 * CM_NS_PER_MS};
	assert_int_equal(pthread_create(&th, NULL, drain_later, &d), 0);
	int64_t t0 = cm_mono_ns();
	st_uring_destroy(fx.u);
	fx.u = NULL;
	int64_t waited = cm_mono_ns() - t0;
	pthread_join(th, NULL);
	assert_true(waited >= 80 * CM_NS_PER_MS);
	assert_int_equal(d.bytes, 0);   /* the write had completed in full */
	close(p[0]);
	close(p[1]);

	st_uring_destroy(NULL);
}

static void test_st_io__create_rejects_bad_config(void **state)
{
	(void)state;
	struct st_uring *u = NULL;
	struct st_uring_cfg cfg = {.ops = &st_io_posix, .entries = 0};

	assert_int_equal(st_uring_create(&cfg, &u), -EINVAL);
	cfg.entries = 1u << 20;
	assert_int_equal(st_uring_create(&cfg, &u), -EINVAL);
	cfg.entries = 4;
	cfg.nbufs = 1;
	assert_int_equal(st_uring_create(&cfg, &u), -EINVAL);
	assert_null(u);
	/* Rounded up to a power of two: 5 entries take 8 writes before -EBUSY. */
	cfg.entries = 5;
	cfg.nbufs = 0;
	assert_int_equal(st_uring_create(&cfg, &fx.u), 0);
	int fd = open_file(&st_io_posix, "r");
	char b = 'b';
	int n = 0;
	while (st_uring_write(fx.u, fd, &b, 1, 0, -1, 0, 0) == 0)
		n++;
	assert_int_equal(n, 8);
	st_uring_destroy(fx.u);   /* before the descriptor its writes use is closed */
	fx.u = NULL;
	close(fd);
}

/* ========================================================= sync faults */

static void test_st_io__fault_ops_sync_paths(void **state)
{
	(void)state;
	const struct st_io_ops *o = st_io_fault_ops();
	struct st_io_fault_counts cnt;
	uint8_t buf[1000];

	fill(buf, sizeof(buf), 0, 19);
	int wal = open_file(o, "x.wal");
	int blk = open_file(o, "x.blk");

	/* Nothing set: everything goes through. */
	assert_int_equal(o->pwrite(wal, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(o->fdatasync(wal), 0);

	/* nth write, once; then persistently. */
	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 2, .write_errno = ENOSPC});
	assert_int_equal(o->pwrite(wal, buf, 10, 0), 10);
	assert_int_equal(o->pwrite(wal, buf, 10, 0), -ENOSPC);
	assert_int_equal(o->pwrite(wal, buf, 10, 0), 10);
	st_io_fault_set(&(struct st_io_fault){.fail_nth_write = 2, .persist = true});
	assert_int_equal(o->pwrite(wal, buf, 10, 0), 10);
	assert_int_equal(o->pwrite(wal, buf, 10, 0), -EIO);
	assert_int_equal(o->pwrite(wal, buf, 10, 0), -EIO);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.write_errors, 2);
	assert_int_equal(cnt.fired, 2);

	/* Short write: half, really written. */
	st_io_fault_set(&(struct st_io_fault){.short_write_nth = 1});
	assert_int_equal(o->pwrite(blk, buf, sizeof(buf), 0), (ssize_t)sizeof(buf) / 2);
	assert_int_equal(o->pwrite(blk, buf + 500, 500, 500), 500);
	check_file(blk, 0, sizeof(buf), 19);

	/* Budget across calls. */
	st_io_fault_set(&(struct st_io_fault){.fail_after_bytes = 1500, .write_errno = ENOSPC});
	assert_int_equal(o->pwrite(blk, buf, 1000, 0), 1000);
	assert_int_equal(o->pwrite(blk, buf, 1000, 0), 500);
	assert_int_equal(o->pwrite(blk, buf, 1000, 0), -ENOSPC);

	/* Other calls, and the filter choosing the WAL only. */
	st_io_fault_set(&(struct st_io_fault){.fail_fsync = EIO, .fail_fallocate = ENOSPC,
					      .fail_fsync_dir = EIO, .fail_nth_write = 1,
					      .persist = true, .path_filter = ".wal"});
	assert_int_equal(o->fdatasync(wal), -EIO);
	assert_int_equal(o->fdatasync(blk), 0);
	assert_int_equal(o->fallocate(wal, 0, 4096), -ENOSPC);
	assert_int_equal(o->pwrite(wal, buf, 10, 0), -EIO);
	assert_int_equal(o->pwrite(blk, buf, 10, 0), 10);
	assert_int_equal(o->fsync_dir(fx.dir), 0);
	assert_int_equal(o->pwrite(99999, buf, 10, 0), -EBADF);   /* not opened here: spared */
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.fsync_errors, 1);
	assert_int_equal(cnt.other_errors, 1);
	assert_int_equal(cnt.write_errors, 1);
	assert_int_equal(cnt.writes, 1);

	st_io_fault_set(&(struct st_io_fault){.fail_fsync_dir = EIO, .fail_open = EMFILE,
					      .path_filter = "test_st_io"});
	assert_int_equal(o->fsync_dir(fx.dir), -EIO);
	assert_int_equal(o->open(path_in("y"), O_RDWR | O_CREAT, 0644), -EMFILE);
	int null = o->open("/dev/null", O_RDONLY, 0);   /* spared */
	assert_true(null >= 0);
	assert_int_equal(o->close(null), 0);

	/* The filter is matched against the descriptor's path at fault time. */
	st_io_fault_set(&(struct st_io_fault){.fail_fsync = EIO, .path_filter = "x.blk"});
	assert_int_equal(o->fdatasync(blk), -EIO);
	assert_int_equal(o->fdatasync(wal), 0);

	st_io_fault_reset();
	assert_int_equal(o->fdatasync(blk), 0);
	st_io_fault_counts(&cnt);
	assert_int_equal(cnt.fired, 0);
	assert_int_equal(o->close(wal), 0);
	assert_int_equal(o->close(blk), 0);
}

int main(void)
{
	tst_require_uring();

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_st_io__posix_calls_return_negative_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__probe_direct_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__probe_direct_on_tmpfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__probe_direct_fallback_through_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__write_fsync_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__fixed_buffer_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__busy_when_queues_are_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__reap_never_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__injected_faults_reach_completions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__write_all_handles_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__blocking_helpers_need_an_empty_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__destroy_waits_for_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__create_rejects_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_st_io__fault_ops_sync_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
