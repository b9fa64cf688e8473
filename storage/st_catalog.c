/*
 * st_catalog.c - the series catalog file (format and contract in
 * st_catalog.h). Usage profile: loaded once at start (up to millions of
 * series), appended once per checkpoint with the series created since.
 */
#include "st_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "cm_log.h"
#include "st_series.h"

#define CAT_MAGIC 0x46434653u /* "SFCF" */
#define CAT_ZSTD_LEVEL 9

struct cat_frame {
	uint32_t magic;
	uint32_t crc;
	uint32_t first_id;
	uint32_t count;
	uint32_t stored_len;
	uint32_t raw_len;
};
static_assert(sizeof(struct cat_frame) == 24, "catalog frame header");

struct cat_rec {
	uint32_t id;
	uint8_t vtype;
	uint8_t pad;
	uint16_t keylen;
};
static_assert(sizeof(struct cat_rec) == 8, "catalog record header");

struct st_catalog {
	const struct st_io_ops *ops;
	int fd;
	uint64_t size;          /* durable bytes */
	uint32_t count;         /* durable series */
	uint8_t *pend;          /* raw records appended, not yet synced */
	size_t pend_len, pend_cap;
	uint32_t pend_count;
};

static size_t rec_len(uint16_t keylen)
{
	return CM_ALIGN_UP(sizeof(struct cat_rec) + keylen, (size_t)4);
}

static uint32_t frame_crc(const struct cat_frame *f, const uint8_t *payload)
{
	uint32_t crc = cm_crc32c(0, &f->first_id, sizeof(*f) - offsetof(struct cat_frame, first_id));
	return cm_crc32c(crc, payload, f->stored_len);
}

/* One frame at buf[0..avail): its length, or 0 if it is not a valid frame. */
static size_t load_frame(struct st_catalog *c, const uint8_t *buf, size_t avail, st_catalog_fn fn,
			 void *ctx, int *rc)
{
	struct cat_frame f;
	if (avail < sizeof(f))
		return 0;
	memcpy(&f, buf, sizeof(f));
	size_t len = CM_ALIGN_UP(sizeof(f) + (size_t)f.stored_len, (size_t)4);
	if (f.magic != CAT_MAGIC || f.first_id != c->count || f.stored_len > avail - sizeof(f) ||
	    len > avail || f.raw_len > (1u << 30) || frame_crc(&f, buf + sizeof(f)) != f.crc)
		return 0;
	uint8_t *raw = malloc(f.raw_len ? f.raw_len : 1);
	if (!raw) {
		*rc = -ENOMEM;
		return 0;
	}
	size_t got = ZSTD_decompress(raw, f.raw_len, buf + sizeof(f), f.stored_len);
	size_t off = 0;
	uint32_t n = 0;
	if (!ZSTD_isError(got) && got == f.raw_len) {
		while (n < f.count && off + sizeof(struct cat_rec) <= f.raw_len) {
			struct cat_rec r;
			memcpy(&r, raw + off, sizeof(r));
			size_t rl = rec_len(r.keylen);
			if (r.id != f.first_id + n || r.keylen == 0 || r.keylen > ST_KEY_MAX ||
			    rl > f.raw_len - off)
				break;
			off += rl;
			n++;
		}
	}
	if (n != f.count || off != f.raw_len) {
		free(raw);
		return 0; /* checksummed but inconsistent: treat as the torn tail */
	}
	off = 0;
	for (uint32_t i = 0; i < n && !*rc; i++) {
		struct cat_rec r;
		memcpy(&r, raw + off, sizeof(r));
		*rc = fn(ctx, r.id, r.vtype, raw + off + sizeof(r), r.keylen);
		off += rec_len(r.keylen);
	}
	free(raw);
	if (*rc)
		return 0;
	c->count += n;
	return len;
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
		size_t len = load_frame(c, buf + off, size - off, fn, ctx, &rc);
		if (!len)
			break;
		off += len;
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
	c->pend_len += len;
	c->pend_count++;
	return 0;
}

int st_catalog_sync(struct st_catalog *c)
{
	if (!c->pend_count)
		return 0;
	size_t bound = ZSTD_compressBound(c->pend_len);
	uint8_t *frame = calloc(1, sizeof(struct cat_frame) + bound + 4);
	if (!frame)
		return -ENOMEM;
	size_t stored = ZSTD_compress(frame + sizeof(struct cat_frame), bound, c->pend, c->pend_len,
				      CAT_ZSTD_LEVEL);
	if (ZSTD_isError(stored)) {
		free(frame);
		return -EIO;
	}
	struct cat_frame f = {.magic = CAT_MAGIC, .first_id = c->count, .count = c->pend_count,
			      .stored_len = (uint32_t)stored, .raw_len = (uint32_t)c->pend_len};
	f.crc = frame_crc(&f, frame + sizeof(f));
	memcpy(frame, &f, sizeof(f));
	size_t len = CM_ALIGN_UP(sizeof(f) + stored, (size_t)4);
	size_t done = 0;
	int rc = 0;
	while (!rc && done < len) {
		ssize_t n = c->ops->pwrite(c->fd, frame + done, len - done, c->size + done);
		if (n <= 0)
			rc = n < 0 ? (int)n : -EIO;
		else
			done += (size_t)n;
	}
	free(frame);
	if (!rc)
		rc = c->ops->fdatasync(c->fd);
	if (rc) {
		/* Nothing counts: cut what may have landed so the next sync rewrites it. */
		c->ops->ftruncate(c->fd, c->size);
		return rc;
	}
	c->size += len;
	c->count += c->pend_count;
	c->pend_len = 0;
	c->pend_count = 0;
	return 0;
}
