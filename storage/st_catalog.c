/*
 * st_catalog.c - the series catalog file (format and contract in
 * st_catalog.h). Usage profile: loaded once at start (up to millions of
 * records), appended once per checkpoint with the series created since.
 */
#include "st_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "cm_log.h"
#include "st_series.h"

struct cat_rec {
	uint32_t crc;
	uint32_t id;
	uint8_t vtype;
	uint8_t pad;
	uint16_t keylen;
};
static_assert(sizeof(struct cat_rec) == 12, "catalog record header");

struct st_catalog {
	const struct st_io_ops *ops;
	int fd;
	uint64_t size;          /* durable bytes */
	uint32_t count;         /* durable series */
	uint8_t *pend;          /* appended, not yet synced */
	size_t pend_len, pend_cap;
	uint32_t pend_count;
};

static size_t rec_len(uint16_t keylen)
{
	return CM_ALIGN_UP(sizeof(struct cat_rec) + keylen, (size_t)4);
}

int st_catalog_open(const char *path, const struct st_io_ops *ops, st_catalog_fn fn, void *ctx,
		    struct st_catalog **out, uint64_t *dropped_bytes)
{
	*dropped_bytes = 0;
	struct st_catalog *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ops = ops;
	c->fd = ops->open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		int rc = c->fd;
		free(c);
		return rc;
	}
	struct stat sb;
	int rc = fstat(c->fd, &sb) ? -errno : 0;
	uint8_t *buf = NULL;
	if (!rc && sb.st_size > 0) {
		buf = malloc((size_t)sb.st_size);
		ssize_t n = buf ? ops->pread(c->fd, buf, (size_t)sb.st_size, 0) : -ENOMEM;
		if (n != sb.st_size)
			rc = n < 0 ? (int)n : -EIO;
	}
	size_t off = 0, size = rc ? 0 : (size_t)sb.st_size;
	while (!rc && off < size) {
		struct cat_rec r;
		if (size - off < sizeof(r))
			break;
		memcpy(&r, buf + off, sizeof(r));
		size_t len = rec_len(r.keylen);
		if (r.keylen == 0 || r.keylen > ST_KEY_MAX || len > size - off || r.id != c->count ||
		    cm_crc32c(0, buf + off + 4, len - 4) != r.crc)
			break;
		rc = fn(ctx, r.id, r.vtype, buf + off + sizeof(r), r.keylen);
		if (rc)
			break;
		off += len;
		c->count++;
	}
	free(buf);
	if (!rc && off < size) {
		*dropped_bytes = size - off;
		CM_LOG_WARN("catalog", "event=tail_truncated file=%s offset=%zu dropped_bytes=%zu",
			    path, off, size - off);
		rc = ops->ftruncate(c->fd, off);
		if (!rc)
			rc = ops->fdatasync(c->fd);
	}
	if (rc) {
		ops->close(c->fd);
		free(c);
		return rc;
	}
	c->size = off;
	*out = c;
	return 0;
}

void st_catalog_close(struct st_catalog *c)
{
	if (!c)
		return;
	c->ops->close(c->fd);
	free(c->pend);
	free(c);
}

uint32_t st_catalog_count(const struct st_catalog *c)
{
	return c->count + c->pend_count;
}

int st_catalog_append(struct st_catalog *c, uint32_t id, uint8_t vtype, const uint8_t *key,
		      uint16_t keylen)
{
	if (id != st_catalog_count(c) || keylen == 0 || keylen > ST_KEY_MAX)
		return -EINVAL;
	size_t len = rec_len(keylen);
	if (c->pend_len + len > c->pend_cap) {
		size_t cap = CM_MAX(c->pend_cap * 2, c->pend_len + len + 65536);
		uint8_t *p = realloc(c->pend, cap);
		if (!p)
			return -ENOMEM;
		c->pend = p;
		c->pend_cap = cap;
	}
	uint8_t *p = c->pend + c->pend_len;
	struct cat_rec r = {.id = id, .vtype = vtype, .keylen = keylen};
	memset(p, 0, len);
	memcpy(p, &r, sizeof(r));
	memcpy(p + sizeof(r), key, keylen);
	r.crc = cm_crc32c(0, p + 4, len - 4);
	memcpy(p, &r.crc, 4);
	c->pend_len += len;
	c->pend_count++;
	return 0;
}

int st_catalog_sync(struct st_catalog *c)
{
	if (!c->pend_len)
		return 0;
	size_t done = 0;
	int rc = 0;
	while (!rc && done < c->pend_len) {
		ssize_t n = c->ops->pwrite(c->fd, c->pend + done, c->pend_len - done, c->size + done);
		if (n <= 0)
			rc = n < 0 ? (int)n : -EIO;
		else
			done += (size_t)n;
	}
	if (!rc)
		rc = c->ops->fdatasync(c->fd);
	if (rc) {
		/* Nothing counts: cut what may have landed so the next sync rewrites it. */
		c->ops->ftruncate(c->fd, c->size);
		return rc;
	}
	c->size += c->pend_len;
	c->count += c->pend_count;
	c->pend_len = 0;
	c->pend_count = 0;
	return 0;
}
