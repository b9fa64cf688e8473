/*
 * st_wal.h - a shard's write-ahead log (format: st_wal_format.h and
 * docs/formats/wal.md; durability promises: docs/DURABILITY.md).
 *
 * The owning core stages series definitions and points as it stores them,
 * and commits the stage (st_store_poll: every 200 us or when it is half
 * full) by handing the batch to the encoder, a pointer swap through a ring
 * of NBATCH batches. The encoder (the owner itself, or the per-node WAL I/O
 * thread: st_walio.h) compresses each batch into one checksummed record in
 * an aligned, registered write buffer that maps a window of the current
 * segment file, and writes it out through io_uring, one write in flight at
 * a time (later records ride the next write: group commit), and syncs:
 *
 *   interval  plain writes; an fdatasync every fsync_interval (and when the
 *             buffer is half full); durable_lsn advances at each sync.
 *   sync      every write carries RWF_DSYNC (FUA with O_DIRECT); durable_lsn
 *             advances as writes complete.
 *
 * Nothing blocks: when the buffer is full, a write failed (ENOSPC, EIO:
 * retried with backoff, the data stays in the buffer until it is durable)
 * or no spare segment is ready, batches wait in the ring; when the ring is
 * full, st_wal_commit() says -EAGAIN and the stage keeps filling; when the
 * stage is full too, st_wal_room() says no and the caller refuses points
 * (and counts why). Segment files are made ahead of need, old ones deleted
 * and retired descriptors closed by st_wal_service(), called from a
 * background thread.
 *
 * Threads: open/close and replay: any one thread, before/after the others
 * run. room/add/commit/staged: the owner only. poll: the encoder (the owner
 * itself, or the WAL I/O thread). durable_lsn, stats, checkpoint: any
 * thread. service: one background thread at a time.
 */
#ifndef ST_WAL_H
#define ST_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_config.h"
#include "st_io.h"
#include "st_types.h"

struct st_wal;

enum st_wal_durability {
	ST_WAL_NONE = 0,
	ST_WAL_INTERVAL,
	ST_WAL_SYNC,
};

struct st_wal_cfg {
	const char *dir;               /* borrowed: copied at open */
	uint32_t shard_id;
	const struct st_io_ops *ops;   /* kept */
	enum st_wal_durability durability;  /* INTERVAL or SYNC (NONE: no WAL at all) */
	int64_t fsync_interval_ns;
	uint64_t segment_bytes;
	uint32_t buffer_bytes;         /* write buffer, a multiple of ST_WAL_PAGE */
	uint32_t batch_points;         /* staged points per record at most */
	int zstd_level;                /* 0: no compression; negative: zstd's fast levels */
	bool direct;                   /* try O_DIRECT (falls back, logged) */
	bool io_thread;                /* the store's choice: a WAL I/O thread encodes (st_walio.h) */
	int64_t io_idle_ns;            /* that thread's first nap when idle */
	int64_t io_idle_max_ns;        /* its longest (naps double up to it) */
};

/* wal.* keys: durability, fsync_interval_ms, segment_size, buffer_size, ... */
extern const struct cm_cfg_table st_wal_cfg_table;
/* Fill cfg from a registry (dir, shard_id and ops left untouched). */
void st_wal_cfg_from(const struct cm_config *config, struct st_wal_cfg *cfg);
void st_wal_cfg_default(struct st_wal_cfg *cfg);
const char *st_wal_durability_name(enum st_wal_durability d);

/*
 * Open for appending; the first record gets lsn next_lsn (what replay
 * returned; 1 for a new WAL). Creates a new segment (never appends to an old
 * one). Blocking; 0 or -errno.
 */
int st_wal_open(const struct st_wal_cfg *cfg, uint64_t next_lsn, struct st_wal **out);
/* Commit what is staged, write and sync everything, close. Blocking. NULL ok. */
int st_wal_close(struct st_wal *wal);

/* HOT PATH (owner). True if npoints points and key_bytes of new series keys fit the stage. */
bool st_wal_room(const struct st_wal *wal, uint32_t npoints, uint32_t key_bytes);
/* HOT PATH (owner). Stage a new series; call st_wal_room first. */
void st_wal_add_series(struct st_wal *wal, uint32_t id, uint8_t vtype, const uint8_t *key,
		       uint16_t keylen);
/* HOT PATH (owner). Stage a point; call st_wal_room first. */
void st_wal_add_point(struct st_wal *wal, uint32_t id, int64_t ts_ns, uint64_t bits);

/*
 * Owner: close the stage as a record and hand it to the encoder (a pointer
 * swap; compression and I/O happen in st_wal_poll). 0 with the record's lsn
 * in *lsn (0 when nothing was staged), or -EAGAIN when the encoder holds
 * every batch (the stage is kept; try again later).
 */
int st_wal_commit(struct st_wal *wal, uint64_t *lsn);

/*
 * Encoder, each pass: compress committed batches into the write buffer, reap
 * completions, start writes and syncs. Never blocks. Returns a count of work
 * done (0: idle, without even reading the clock). The encoder is the owner
 * itself (inline), or the WAL I/O thread (st_walio.h): one thread, always
 * the same one, other than during open and close.
 */
uint32_t st_wal_poll(struct st_wal *wal);

/* Owner: points and series definitions staged since the last commit. */
uint32_t st_wal_staged(const struct st_wal *wal);

/* Owner: lsn of the last committed record (0 if none). */
uint64_t st_wal_committed_lsn(const struct st_wal *wal);
/* Any thread: every record up to this lsn is durable (acquire). */
uint64_t st_wal_durable_lsn(const struct st_wal *wal);

/* Any thread: -errno of the last failed write or sync while it is unresolved, else 0. */
int st_wal_last_error(const struct st_wal *wal);

/* Any thread: records up to lsn are in durable blocks; their segments may go. */
void st_wal_checkpoint(struct st_wal *wal, uint64_t lsn);

/* Background thread: prepare the spare segment, delete covered ones, close retired fds. */
void st_wal_service(struct st_wal *wal);

struct st_wal_stats {
	uint64_t records;
	uint64_t points;
	uint64_t raw_bytes;            /* payload before compression */
	uint64_t stored_bytes;         /* record bytes in segments */
	uint64_t writes;
	uint64_t syncs;
	uint64_t write_errors;         /* failed or short writes and syncs (retried) */
	uint64_t stall_buffer;         /* commits refused: write buffer full */
	uint64_t stall_segment;        /* commits refused: no spare segment yet */
	uint64_t segments_created;
	uint64_t segments_deleted;
	uint64_t committed_lsn;
	uint64_t durable_lsn;
	int32_t last_error;            /* -errno of the last failed write or sync, 0 once healthy */
	bool direct;                   /* O_DIRECT in use */
};
void st_wal_stats_read(const struct st_wal *wal, struct st_wal_stats *out);

/* ============================================================ replay */

struct st_wal_replay_cb {
	/* a series definition; return 0 or -errno to stop */
	int (*series)(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key, uint16_t keylen);
	/* n points of one record (ids, times, value bits); 0 or -errno to stop */
	int (*points)(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
		      const uint64_t *vals, uint32_t n);
};

struct st_wal_replay_stats {
	uint64_t segments;
	uint64_t records;              /* replayed (lsn >= from_lsn) */
	uint64_t records_skipped;      /* older than from_lsn */
	uint64_t points;
	uint64_t bytes;                /* record bytes scanned */
	uint64_t torn_tails;           /* segments cut at their last good record */
	uint64_t bad_bytes;            /* bytes dropped after a bad record */
	uint64_t lsn_gaps;
	uint64_t next_lsn;             /* for st_wal_open */
};

/*
 * Replay every record with lsn >= from_lsn of the WAL in dir, in lsn order,
 * through cb. A record that fails its checks ends its segment: the rest of
 * that segment is cut off (the file truncated to the last good record),
 * counted and logged, and replay goes on with the next segment. Unused
 * (never started) segments are removed. Blocking; 0 or -errno (from I/O or
 * a callback).
 */
int st_wal_replay(const char *dir, const struct st_io_ops *ops, uint32_t shard_id,
		  uint64_t from_lsn, const struct st_wal_replay_cb *cb, void *ctx,
		  struct st_wal_replay_stats *stats);

/*
 * Decode one record's payload (raw bytes, after decompression) through cb:
 * exposed for the fuzz target and tests. 0, -EBADMSG, or the callback's error.
 */
int st_wal_payload_decode(const uint8_t *raw, uint32_t raw_len, uint32_t npoints, uint64_t lsn,
			  const struct st_wal_replay_cb *cb, void *ctx);

#endif /* ST_WAL_H */
