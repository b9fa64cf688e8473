/*
 * st_tier.h - where block files live: the warm tier (the data directory on
 * NVMe) and the cold tier (a second directory, e.g. a cheaper mount, with
 * blocks recompressed at a higher zstd level). A later object-store tier
 * implements the same ops: whole-object put, ranged reads, list, remove.
 *
 * A tier stores named immutable objects. put() is durable when it returns
 * (directory tier: write a temporary file through io_uring, O_DIRECT where
 * the filesystem allows, fdatasync, rename, fsync the directory), so a crash
 * leaves either the whole object or none. Readers open an object and read
 * ranges from any thread; the handle stays valid after remove() (an unlinked
 * file stays readable), which is what lets readers finish while a block is
 * compacted away.
 *
 * Threads: put/remove/quarantine/list from one background thread (the
 * flusher) at a time; open/read/close from any thread.
 */
#ifndef ST_TIER_H
#define ST_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "st_io.h"

struct st_tier;
struct st_tier_obj;   /* an open object */

enum st_tier_kind {
	ST_TIER_HOT = 0,   /* memory (the shard); no st_tier object */
	ST_TIER_WARM = 1,
	ST_TIER_COLD = 2,
};

/* Called by list() per object: its name and length. Return nonzero to stop. */
typedef int (*st_tier_list_fn)(void *ctx, const char *name, uint64_t len);

struct st_tier_ops {
	int (*put)(struct st_tier *t, const char *name, const void *buf, size_t len);
	int (*open)(struct st_tier *t, const char *name, struct st_tier_obj **out, uint64_t *len);
	int (*read)(struct st_tier_obj *o, uint64_t off, void *buf, size_t len);  /* exactly len */
	void (*close)(struct st_tier_obj *o);
	int (*remove)(struct st_tier *t, const char *name);
	/* move a damaged object aside (kept for inspection, never read again) */
	int (*quarantine)(struct st_tier *t, const char *name);
	int (*list)(struct st_tier *t, st_tier_list_fn fn, void *ctx);
	/* free and total bytes where the tier writes */
	int (*space)(struct st_tier *t, uint64_t *free_bytes, uint64_t *total_bytes);
	void (*destroy)(struct st_tier *t);
};

struct st_tier {
	const struct st_tier_ops *ops;
	enum st_tier_kind kind;
	int zstd_level;            /* blocks written to this tier */
	char name[16];             /* "warm", "cold" */
};

/*
 * A directory tier at dir (created if missing, with a quarantine/ subdir).
 * ops kept. 0 or -errno.
 */
int st_tier_dir_create(const char *dir, enum st_tier_kind kind, int zstd_level,
		       const struct st_io_ops *ops, struct st_tier **out);

static inline void st_tier_destroy(struct st_tier *t)
{
	if (t)
		t->ops->destroy(t);
}

#endif /* ST_TIER_H */
