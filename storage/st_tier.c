/*
 * st_tier.c - the directory tier (contract in st_tier.h).
 *
 * Usage profile: a few block puts per flush interval per shard (KiB to tens
 * of MiB each) from the flusher thread; ranged reads (one section, tens of
 * KiB) from query threads.
 */
#include "st_tier.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_compiler.h"
#include "cm_fs.h"
#include "cm_log.h"

struct dir_tier {
	struct st_tier base;          /* first: st_tier* <-> dir_tier* */
	const struct st_io_ops *ops;
	struct st_uring *ring;        /* the writer thread's (put) */
	uint32_t direct_align;        /* 0: buffered writes */
	char dir[PATH_MAX - 64];
};

struct st_tier_obj {
	const struct st_io_ops *ops;
	int fd;
};

static void obj_path(char *out, size_t len, const struct dir_tier *t, const char *sub,
		     const char *name)
{
	snprintf(out, len, "%s/%s%s", t->dir, sub, name);
}

static int dir_put(struct st_tier *base, const char *name, const void *buf, size_t len)
{
	struct dir_tier *t = (struct dir_tier *)base;
	char tmp[PATH_MAX], path[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", t->dir, name);
	obj_path(path, sizeof(path), t, "", name);

	/* O_DIRECT wants an aligned buffer and length: copy when they are not. */
	bool direct = t->direct_align && len % t->direct_align == 0;
	const void *src = buf;
	void *copy = NULL;
	if (direct && (uintptr_t)buf % 4096) {
		if (posix_memalign(&copy, 4096, len))
			return -ENOMEM;
		memcpy(copy, buf, len);
		src = copy;
	}
	int fd = t->ops->open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0),
			      0644);
	int rc = fd < 0 ? fd : 0;
	if (!rc)
		rc = st_uring_write_all(t->ring, fd, src, len, 0);
	if (!rc)
		rc = st_uring_sync(t->ring, fd);
	if (fd >= 0)
		t->ops->close(fd);
	if (!rc)
		rc = t->ops->rename(tmp, path);
	if (!rc)
		rc = t->ops->fsync_dir(t->dir);
	if (rc && fd >= 0)
		t->ops->unlink(tmp);
	free(copy);
	return rc;
}

static int dir_open(struct st_tier *base, const char *name, struct st_tier_obj **out,
		    uint64_t *len)
{
	struct dir_tier *t = (struct dir_tier *)base;
	char path[PATH_MAX];
	obj_path(path, sizeof(path), t, "", name);
	struct st_tier_obj *o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->ops = t->ops;
	o->fd = t->ops->open(path, O_RDONLY | O_CLOEXEC, 0);
	if (o->fd < 0) {
		int rc = o->fd;
		free(o);
		return rc;
	}
	struct stat sb;
	if (fstat(o->fd, &sb)) {
		int rc = -errno;
		t->ops->close(o->fd);
		free(o);
		return rc;
	}
	*len = (uint64_t)sb.st_size;
	*out = o;
	return 0;
}

static int dir_read(struct st_tier_obj *o, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = o->ops->pread(o->fd, (uint8_t *)buf + done, len - done, off + done);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO; /* past the end: the caller's offsets are wrong */
		done += (size_t)n;
	}
	return 0;
}

static void dir_close(struct st_tier_obj *o)
{
	if (!o)
		return;
	o->ops->close(o->fd);
	free(o);
}

static int dir_remove(struct st_tier *base, const char *name)
{
	struct dir_tier *t = (struct dir_tier *)base;
	char path[PATH_MAX];
	obj_path(path, sizeof(path), t, "", name);
	int rc = t->ops->unlink(path);
	return rc ? rc : t->ops->fsync_dir(t->dir);
}

static int dir_quarantine(struct st_tier *base, const char *name)
{
	struct dir_tier *t = (struct dir_tier *)base;
	char from[PATH_MAX], to[PATH_MAX];
	obj_path(from, sizeof(from), t, "", name);
	obj_path(to, sizeof(to), t, "quarantine/", name);
	int rc = t->ops->rename(from, to);
	CM_LOG_ERR("tier", "event=quarantined tier=%s object=%s to=%s rc=%d", t->base.name, name,
		   to, rc);
	return rc ? rc : t->ops->fsync_dir(t->dir);
}

static int dir_list(struct st_tier *base, st_tier_list_fn fn, void *ctx)
{
	struct dir_tier *t = (struct dir_tier *)base;
	DIR *d = opendir(t->dir);
	if (!d)
		return -errno;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "quarantine"))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, 0) || !S_ISREG(sb.st_mode))
			continue;
		rc = fn(ctx, e->d_name, (uint64_t)sb.st_size);
	}
	closedir(d);
	return rc;
}

static int dir_space(struct st_tier *base, uint64_t *free_bytes, uint64_t *total_bytes)
{
	struct dir_tier *t = (struct dir_tier *)base;
	struct statvfs sv;
	int rc = t->ops->statvfs(t->dir, &sv);
	if (rc)
		return rc;
	*free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	*total_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}

static void dir_destroy(struct st_tier *base)
{
	struct dir_tier *t = (struct dir_tier *)base;
	st_uring_destroy(t->ring);
	free(t);
}

static const struct st_tier_ops dir_ops = {
	.put = dir_put,
	.open = dir_open,
	.read = dir_read,
	.close = dir_close,
	.remove = dir_remove,
	.quarantine = dir_quarantine,
	.list = dir_list,
	.space = dir_space,
	.destroy = dir_destroy,
};

int st_tier_dir_create(const char *dir, enum st_tier_kind kind, int zstd_level,
		       const struct st_io_ops *ops, struct st_tier **out)
{
	struct dir_tier *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (strlen(dir) >= sizeof(t->dir) - 16) {
		free(t);
		return -ENAMETOOLONG;
	}
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	char q[PATH_MAX];
	snprintf(q, sizeof(q), "%s/quarantine", dir);
	int rc = cm_mkdir_p(q);
	struct st_uring_cfg ucfg = {.ops = ops, .entries = 8};
	if (!rc)
		rc = st_uring_create(&ucfg, &t->ring);
	if (rc) {
		free(t);
		return rc;
	}
	t->ops = ops;
	t->base.ops = &dir_ops;
	t->base.kind = kind;
	t->base.zstd_level = zstd_level;
	snprintf(t->base.name, sizeof(t->base.name), "%s", kind == ST_TIER_COLD ? "cold" : "warm");
	/* a put interrupted by a crash leaves a temporary file: it never counted */
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' && len > 5 && !strcmp(e->d_name + len - 4, ".tmp")) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			ops->unlink(p);
		}
	}
	if (d)
		closedir(d);
	uint32_t align = 0;
	if (st_io_probe_direct(ops, dir, &align) == 0) {
		t->direct_align = align;
	} else {
		CM_LOG_INFO("tier", "event=direct_io_unavailable dir=%s fallback=buffered", dir);
	}
	*out = &t->base;
	return 0;
}
