/*
 * st_wal.c - the write-ahead log (contract in st_wal.h, bytes in
 * st_wal_format.h and docs/formats/wal.md).
 *
 * Usage profile: the owner stages up to tens of millions of points per
 * second (three array stores each) and commits a batch every 200 us or
 * when half the stage is full (st_store.c's group commit): a pointer swap
 * into a ring of NBATCH batches. The encoder (the WAL I/O thread, or the
 * owner itself) turns each batch into one zstd record: thousands of records
 * per second, a few KiB to a few hundred KiB each. perf/pf_wal_bench.c and
 * perf/pf_store_bench.c measure the two placements of the encoder; the
 * decision is in docs/ARCHITECTURE.md.
 *
 * The write buffer maps file bytes [buf_off, buf_off + fill) of the current
 * segment. Three marks inside it, in bytes from buf[0]:
 *
 *   durable <= written <= fill
 *
 * fill grows by whole records as batches are encoded; written follows write completions;
 * durable follows syncs (interval) or RWF_DSYNC writes (sync). Bytes before
 * durable can be dropped from the buffer (a "slide" moves the partial page
 * at durable down to buf[0]); bytes after it are kept so that a failed
 * write or sync can be redone: after an fdatasync error the kernel may have
 * dropped the dirty pages, so written falls back to durable and the bytes are
 * written again. Writes start at the page holding `written` and end at the
 * page after `fill` (zero padded), so the partial last page is rewritten as
 * it fills; only one write is in flight, so two writes of one page never
 * race.
 */
#include "st_wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "cm_log.h"
#include "st_series.h"
#include "st_wal_format.h"

/* ================================================================ config */

static const char *const durability_names[] = {"none", "interval", "sync", NULL};

static const struct cm_cfg_key wal_keys[] = {
	/* choices: the order of durability_names and enum st_wal_durability */
	{"wal.durability", CM_CFG_ENUM, "interval", 0, 0, "none|interval|sync", false,
	 "none: no WAL; interval: fsync every wal.fsync_interval_ms; sync: a write is "
	 "acknowledged once durable (docs/DURABILITY.md)"},
	{"wal.fsync_interval_ms", CM_CFG_INT, "100", 1, 60000, NULL, false,
	 "interval mode: at most this long between a write and its fsync"},
	{"wal.segment_size", CM_CFG_SIZE, "64MiB", 1 << 20, (int64_t)1 << 32, NULL, false,
	 "preallocated size of each WAL segment file"},
	{"wal.buffer_size", CM_CFG_SIZE, "8MiB", 256 << 10, 1 << 30, NULL, false,
	 "per-shard WAL write buffer (registered with io_uring)"},
	{"wal.batch_points", CM_CFG_INT, "65536", 64, 1 << 22, NULL, false,
	 "points staged per WAL record at most; more are refused until the next commit"},
	{"wal.zstd_level", CM_CFG_INT, "-1", -50, 19, NULL, false,
	 "zstd level of WAL records (0: uncompressed; negative: zstd's fast levels)"},
	{"wal.direct_io", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "write WAL segments with O_DIRECT where the filesystem allows it"},
	{"wal.io_thread", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "compress and write WAL records on a WAL I/O thread instead of the shard core"},
	{"wal.io_idle_us", CM_CFG_INT, "20", 1, 100000, NULL, false,
	 "the WAL I/O thread's first nap when it found no work (bounds sync-mode latency)"},
	{"wal.io_idle_max_us", CM_CFG_INT, "1000", 1, 1000000, NULL, false,
	 "the longest nap: idle naps double up to this (bounds the first sync write after idle)"},
};

const struct cm_cfg_table st_wal_cfg_table = {
	.module = "wal",
	.keys = wal_keys,
	.nkeys = CM_ARRAY_SIZE(wal_keys),
};

void st_wal_cfg_default(struct st_wal_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ops = &st_io_posix;
	cfg->durability = ST_WAL_INTERVAL;
	cfg->fsync_interval_ns = 100 * CM_NS_PER_MS;
	cfg->segment_bytes = 64u << 20;
	cfg->buffer_bytes = 8u << 20;
	cfg->batch_points = 65536;
	cfg->zstd_level = -1;
	cfg->direct = true;
	cfg->io_thread = false;
	cfg->io_idle_ns = 20 * CM_NS_PER_US;
	cfg->io_idle_max_ns = CM_NS_PER_MS;
}

void st_wal_cfg_from(const struct cm_config *config, struct st_wal_cfg *cfg)
{
	cfg->durability = (enum st_wal_durability)cm_config_enum(config, "wal.durability");
	cfg->fsync_interval_ns = cm_config_int(config, "wal.fsync_interval_ms") * CM_NS_PER_MS;
	cfg->segment_bytes = (uint64_t)cm_config_int(config, "wal.segment_size");
	cfg->buffer_bytes = (uint32_t)cm_config_int(config, "wal.buffer_size");
	cfg->batch_points = (uint32_t)cm_config_int(config, "wal.batch_points");
	cfg->zstd_level = (int)cm_config_int(config, "wal.zstd_level");
	cfg->direct = cm_config_bool(config, "wal.direct_io");
	cfg->io_thread = cm_config_bool(config, "wal.io_thread");
	cfg->io_idle_ns = cm_config_int(config, "wal.io_idle_us") * CM_NS_PER_US;
	cfg->io_idle_max_ns = cm_config_int(config, "wal.io_idle_max_us") * CM_NS_PER_US;
}

const char *st_wal_durability_name(enum st_wal_durability d)
{
	return (unsigned)d <= ST_WAL_SYNC ? durability_names[d] : "unknown";
}

/* ================================================================ state */

#define TAG_WRITE 1u
#define TAG_SYNC 2u
#define RETRY_NS (100 * CM_NS_PER_MS)
#define DEFS_BYTES_MIN (64u << 10)

struct wal_counters {
	_Atomic uint64_t records, points, raw_bytes, stored_bytes, writes, syncs;
	_Atomic uint64_t write_errors, stall_buffer, stall_segment;
	_Atomic uint64_t segments_created, segments_deleted;
	_Atomic uint64_t committed_lsn;
	_Atomic int32_t last_error;
};

/*
 * A batch: the stage the owner fills, then, once committed, a record for the
 * encoder. Columns of points plus the definitions of new series.
 */
struct wal_batch {
	uint32_t *ids;
	int64_t *ts;
	uint64_t *vals;
	uint32_t n;
	uint8_t *defs;
	uint32_t defs_len, ndefs;
	uint64_t lsn;                 /* set at commit */
};

#define NBATCH 4u

struct st_wal {
	struct st_wal_cfg cfg;
	uint32_t defs_cap;
	uint32_t raw_max;             /* largest raw payload whose record fits the buffer */

	/* owner: stages and commits */
	struct wal_batch *stage;      /* batches[head % NBATCH] */
	uint64_t next_lsn;
	/*
	 * Hand-off from the owner to the encoder (the same thread inline, the
	 * WAL I/O thread otherwise): batches [tail, head) are committed and wait
	 * to be encoded; the owner fills batches[head % NBATCH].
	 */
	struct wal_batch batches[NBATCH];
	_Atomic uint32_t head;        /* owner: release after a batch is complete */
	_Atomic uint32_t tail;        /* encoder: release after a batch is reset */

	/* encoder: compresses records into the buffer and does the I/O */
	struct st_uring *ring;
	ZSTD_CCtx *cctx;
	uint8_t *buf;                 /* write buffer, page aligned, registered */
	uint64_t buf_off;             /* file offset of buf[0] */
	uint32_t fill, written, durable;
	uint64_t enc_lsn;             /* last record in the buffer */
	uint64_t written_lsn;         /* records fully written (not yet synced) */
	bool write_inflight, sync_inflight, want_sync;
	uint32_t inflight_start, inflight_end;
	uint64_t inflight_lsn;
	uint32_t sync_covers;
	uint64_t sync_lsn;
	int64_t next_sync_ns, retry_at_ns;
	int fd;
	uint64_t seg_seq;
	bool direct;
	/* shared with readers and the background thread */
	_Atomic uint64_t durable_lsn;
	_Atomic uint64_t ckpt_lsn;
	_Atomic uint64_t cur_first_lsn;
	_Atomic uint64_t cur_seq;     /* release after cur_first_lsn */
	_Atomic int spare_fd;         /* background makes, owner takes */
	_Atomic uint64_t spare_seq;   /* written before spare_fd is released */
	_Atomic int retired_fd;       /* owner gives, background closes */
	struct wal_counters ctr CM_CACHE_ALIGNED;
	char dir[PATH_MAX];
};

static inline uint32_t page_floor(uint32_t x)
{
	return x & ~(ST_WAL_PAGE - 1);
}

static inline uint32_t page_ceil(uint32_t x)
{
	return (x + ST_WAL_PAGE - 1) & ~(ST_WAL_PAGE - 1);
}

/* Payload bytes a record of raw_len raw bytes may store before compression tells. */
static size_t payload_bound(int zstd_level, size_t raw_len)
{
	return zstd_level ? CM_MAX(ZSTD_compressBound(raw_len), raw_len) : raw_len;
}

/* Buffer bytes a record of raw_len payload bytes may take before compression tells. */
static size_t rec_need(int zstd_level, size_t raw_len)
{
	return CM_ALIGN_UP(sizeof(struct st_wal_rec_hdr) + payload_bound(zstd_level, raw_len),
			   (size_t)8);
}

/*
 * The largest raw payload a commit accepts: its worst-case record plus a
 * page must fit in half the buffer. st_wal_room holds the stage to it, so a
 * full stage always makes a record the buffer can take.
 */
static uint32_t raw_limit(const struct st_wal_cfg *cfg)
{
	size_t lo = 0, hi = cfg->buffer_bytes / 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (rec_need(cfg->zstd_level, mid) + ST_WAL_PAGE <= cfg->buffer_bytes / 2)
			lo = mid;
		else
			hi = mid - 1;
	}
	return (uint32_t)lo;
}

/* Room for a directory of up to PATH_MAX bytes and a segment name (no truncation). */
#define SEG_PATH_MAX (PATH_MAX + 32)

static void seg_path(char *out, size_t len, const char *dir, uint64_t seq)
{
	snprintf(out, len, "%s/%016llx.wal", dir, (unsigned long long)seq);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment numbers in dir, sorted, in *out (malloc'd; the caller frees). 0 or -errno. */
static int seg_list(const char *dir, uint64_t **out, size_t *n_out)
{
	size_t n = 0, cap = 64;
	uint64_t *seqs = malloc(cap * sizeof(*seqs));
	if (!seqs)
		return -ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		int rc = -errno;
		free(seqs);
		return rc;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		unsigned long long s;
		char tail[8];
		if (sscanf(e->d_name, "%16llx.%7s", &s, tail) != 2 || strcmp(tail, "wal"))
			continue;
		if (n == cap) {
			uint64_t *m = realloc(seqs, 2 * cap * sizeof(*seqs));
			if (!m) {
				closedir(d);
				free(seqs);
				return -ENOMEM;
			}
			seqs = m;
			cap *= 2;
		}
		seqs[n++] = s;
	}
	closedir(d);
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	*out = seqs;
	*n_out = n;
	return 0;
}

/* ============================================================= segments */

/* Create, preallocate and make durable an empty segment file. fd or -errno. */
static int seg_create(const struct st_io_ops *ops, const char *dir, uint64_t seq,
		      uint64_t bytes, bool direct)
{
	char path[SEG_PATH_MAX];
	seg_path(path, sizeof(path), dir, seq);
	int fd = ops->open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (direct ? O_DIRECT : 0),
			   0644);
	if (fd < 0)
		return fd;
	int rc = ops->fallocate(fd, 0, bytes);
	if (!rc)
		rc = ops->fdatasync(fd);
	if (!rc)
		rc = ops->fsync_dir(dir);
	if (rc) {
		ops->close(fd);
		ops->unlink(path);
		return rc;
	}
	return fd;
}

/* Encoder: start segment seq on fd at first_lsn; the header goes out with the first write. */
static void seg_begin(struct st_wal *w, int fd, uint64_t seq, uint64_t first_lsn)
{
	w->fd = fd;
	w->seg_seq = seq;
	w->buf_off = 0;
	memset(w->buf, 0, w->fill > ST_WAL_PAGE ? page_ceil(w->fill) : ST_WAL_PAGE);
	struct st_wal_seg_hdr h = {
		.magic = ST_WAL_SEG_MAGIC,
		.version = ST_WAL_VERSION,
		.shard_id = w->cfg.shard_id,
		.seq = seq,
		.first_lsn = first_lsn,
		.created_ns = cm_now_ns(),
	};
	h.crc = cm_crc32c(0, &h, offsetof(struct st_wal_seg_hdr, crc));
	memcpy(w->buf, &h, sizeof(h));
	w->fill = ST_WAL_PAGE;
	w->written = 0;
	w->durable = 0;
	atomic_store_explicit(&w->cur_first_lsn, first_lsn, memory_order_relaxed);
	/* release: pairs with the acquire in st_wal_service (first_lsn before seq) */
	atomic_store_explicit(&w->cur_seq, seq, memory_order_release);
	cm_ctr_add(&w->ctr.segments_created, 1);
}

/* ============================================================= open/close */

static void wal_free(struct st_wal *w)
{
	st_uring_destroy(w->ring);
	ZSTD_freeCCtx(w->cctx);
	for (uint32_t i = 0; i < NBATCH; i++) {
		free(w->batches[i].ids);
		free(w->batches[i].ts);
		free(w->batches[i].vals);
		free(w->batches[i].defs);
	}
	free(w->buf);
	free(w);
}

int st_wal_open(const struct st_wal_cfg *cfg, uint64_t next_lsn, struct st_wal **out)
{
	if (cfg->durability == ST_WAL_NONE || cfg->buffer_bytes % ST_WAL_PAGE ||
	    cfg->buffer_bytes < 4 * ST_WAL_PAGE || cfg->segment_bytes < 2 * cfg->buffer_bytes ||
	    cfg->batch_points == 0 || next_lsn == 0 || strlen(cfg->dir) >= PATH_MAX - 32)
		return -EINVAL;
	struct st_wal *w = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(sizeof(*w), CM_CACHE_LINE));
	if (!w)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	snprintf(w->dir, sizeof(w->dir), "%s", cfg->dir);
	w->cfg.dir = w->dir;
	w->fd = -1;
	w->next_lsn = next_lsn;
	w->enc_lsn = next_lsn - 1;
	w->written_lsn = next_lsn - 1;
	atomic_init(&w->durable_lsn, next_lsn - 1);
	atomic_init(&w->spare_fd, -1);
	atomic_init(&w->retired_fd, -1);
	atomic_init(&w->ctr.committed_lsn, next_lsn - 1);

	int rc = -ENOMEM;
	w->defs_cap = CM_MAX(DEFS_BYTES_MIN, cfg->buffer_bytes / 8);
	w->raw_max = raw_limit(cfg);
	bool ok = true;
	for (uint32_t i = 0; i < NBATCH; i++) {
		struct wal_batch *b = &w->batches[i];
		b->ids = malloc((size_t)cfg->batch_points * sizeof(*b->ids));
		b->ts = malloc((size_t)cfg->batch_points * sizeof(*b->ts));
		b->vals = malloc((size_t)cfg->batch_points * sizeof(*b->vals));
		b->defs = malloc(w->defs_cap);
		ok &= b->ids && b->ts && b->vals && b->defs;
	}
	w->stage = &w->batches[0];
	w->cctx = ZSTD_createCCtx();
	if (posix_memalign((void **)&w->buf, ST_WAL_PAGE, cfg->buffer_bytes))
		w->buf = NULL;
	if (!ok || !w->cctx || !w->buf)
		goto err;
	memset(w->buf, 0, cfg->buffer_bytes);
	if (cfg->zstd_level)
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, cfg->zstd_level);

	struct iovec iov = {.iov_base = w->buf, .iov_len = cfg->buffer_bytes};
	struct st_uring_cfg ucfg = {.ops = cfg->ops, .entries = 16, .bufs = &iov, .nbufs = 1};
	rc = st_uring_create(&ucfg, &w->ring);
	if (rc)
		goto err;

	/* The first segment follows the newest one on disk. */
	uint64_t *seqs, seq;
	size_t nseqs;
	rc = seg_list(w->dir, &seqs, &nseqs);
	if (rc)
		goto err;
	seq = nseqs ? seqs[nseqs - 1] : 0;
	free(seqs);

	uint32_t align = 0;
	w->direct = cfg->direct && st_io_probe_direct(cfg->ops, w->dir, &align) == 0 &&
		    align <= ST_WAL_PAGE;
	if (cfg->direct && !w->direct)
		CM_LOG_WARN("wal", "event=direct_io_unavailable dir=%s fallback=buffered", w->dir);
	int fd = seg_create(cfg->ops, w->dir, seq + 1, cfg->segment_bytes, w->direct);
	if (fd < 0) {
		rc = fd;
		goto err;
	}
	seg_begin(w, fd, seq + 1, next_lsn);
	w->next_sync_ns = cm_mono_ns() + cfg->fsync_interval_ns;
	CM_LOG_INFO("wal", "event=open shard=%u dir=%s segment=%llu lsn=%llu durability=%s direct=%d",
		    cfg->shard_id, w->dir, (unsigned long long)(seq + 1),
		    (unsigned long long)next_lsn, st_wal_durability_name(cfg->durability), w->direct);
	*out = w;
	return 0;
err:
	wal_free(w);
	return rc;
}

static void close_fd_slot(struct st_wal *w, _Atomic int *slot, bool unlink_spare)
{
	int fd = atomic_exchange(slot, -1);
	if (fd < 0)
		return;
	w->cfg.ops->close(fd);
	if (unlink_spare) {
		char path[SEG_PATH_MAX];
		seg_path(path, sizeof(path), w->dir, atomic_load(&w->spare_seq));
		w->cfg.ops->unlink(path);
	}
}

int st_wal_close(struct st_wal *w)
{
	if (!w)
		return 0;
	int rc = 0;
	/* Drain: commit, write and sync everything; give up after a few seconds of errors. */
	int64_t give_up = cm_mono_ns() + 5 * CM_NS_PER_SEC;
	for (;;) {
		uint64_t lsn;
		int crc = st_wal_commit(w, &lsn);
		bool idle = crc == 0 && st_wal_staged(w) == 0 &&
			    atomic_load(&w->head) == atomic_load(&w->tail) && w->durable == w->fill &&
			    !w->write_inflight && !w->sync_inflight;
		if (idle)
			break;
		if (cm_mono_ns() > give_up) {
			rc = w->ctr.last_error ? w->ctr.last_error : -ETIMEDOUT;
			CM_LOG_ERR("wal", "event=close_incomplete shard=%u err=%d", w->cfg.shard_id, rc);
			break;
		}
		w->want_sync = true;
		st_wal_poll(w);
		if (w->write_inflight || w->sync_inflight)
			st_uring_wait(w->ring, 10 * CM_NS_PER_MS);
		else
			cm_sleep_ns(CM_NS_PER_MS);
		if (crc == -EAGAIN)
			st_wal_service(w);
	}
	st_uring_destroy(w->ring);
	w->ring = NULL;
	if (w->fd >= 0)
		w->cfg.ops->close(w->fd);
	close_fd_slot(w, &w->retired_fd, false);
	close_fd_slot(w, &w->spare_fd, true);
	wal_free(w);
	return rc;
}

/* ============================================================== staging */

/* HOT PATH */
bool st_wal_room(const struct st_wal *w, uint32_t npoints, uint32_t key_bytes)
{
	/* 64-bit sums: no request, however large, wraps around to "yes" */
	const struct wal_batch *b = w->stage;
	uint64_t n = (uint64_t)b->n + npoints;
	uint64_t defs = (uint64_t)b->defs_len + key_bytes +
			(uint64_t)(sizeof(struct st_wal_def) + 3) * npoints;
	return n <= w->cfg.batch_points && defs <= w->defs_cap &&
	       sizeof(struct st_wal_payload_hdr) + defs + n * 20 <= w->raw_max;
}

/* HOT PATH */
void st_wal_add_series(struct st_wal *w, uint32_t id, uint8_t vtype, const uint8_t *key,
		       uint16_t keylen)
{
	struct wal_batch *b = w->stage;
	struct st_wal_def d = {.id = id, .vtype = vtype, .keylen = keylen};
	uint32_t need = (uint32_t)CM_ALIGN_UP(sizeof(d) + keylen, (size_t)4);
	assert(b->defs_len + need <= w->defs_cap);
	memcpy(b->defs + b->defs_len, &d, sizeof(d));
	memcpy(b->defs + b->defs_len + sizeof(d), key, keylen);
	memset(b->defs + b->defs_len + sizeof(d) + keylen, 0, need - sizeof(d) - keylen);
	b->defs_len += need;
	b->ndefs++;
}

/* HOT PATH */
void st_wal_add_point(struct st_wal *w, uint32_t id, int64_t ts_ns, uint64_t bits)
{
	struct wal_batch *b = w->stage;
	uint32_t i = b->n;
	assert(i < w->cfg.batch_points);
	b->ids[i] = id;
	b->ts[i] = ts_ns;
	b->vals[i] = bits;
	b->n = i + 1;
}

/* ================================================================ commit */

int st_wal_commit(struct st_wal *w, uint64_t *lsn)
{
	*lsn = 0;
	struct wal_batch *b = w->stage;
	if (!b->n && !b->ndefs)
		return 0;
	uint32_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	/* acquire: pairs with the encoder's release; the next slot is reset */
	uint32_t tail = atomic_load_explicit(&w->tail, memory_order_acquire);
	if (head + 1 - tail >= NBATCH)
		return -EAGAIN; /* the encoder is behind: keep staging */
	b->lsn = w->next_lsn++;
	*lsn = b->lsn;
	atomic_store_explicit(&w->ctr.committed_lsn, b->lsn, memory_order_relaxed);
	/* release: the batch's columns before head (the encoder acquires) */
	atomic_store_explicit(&w->head, head + 1, memory_order_release);
	w->stage = &w->batches[(head + 1) % NBATCH];
	return 0;
}

/* Encoder: make room for need more bytes in the buffer. 0 or -EAGAIN. */
static int buffer_room(struct st_wal *w, uint32_t need, uint64_t lsn)
{
	uint64_t end = w->buf_off + w->fill + need;
	if (end > w->cfg.segment_bytes) {
		/* Roll over once everything of this segment is durable. */
		if (w->write_inflight || w->sync_inflight || w->durable < w->fill) {
			w->want_sync = true;
			return -EAGAIN;
		}
		if (atomic_load_explicit(&w->retired_fd, memory_order_relaxed) >= 0) {
			cm_ctr_add(&w->ctr.stall_segment, 1);
			return -EAGAIN;
		}
		/* acquire: pairs with the release of spare_fd in st_wal_service */
		int fd = atomic_exchange_explicit(&w->spare_fd, -1, memory_order_acquire);
		if (fd < 0) {
			cm_ctr_add(&w->ctr.stall_segment, 1);
			return -EAGAIN;
		}
		uint64_t seq = atomic_load_explicit(&w->spare_seq, memory_order_relaxed);
		/* release: the background closes it only after taking it */
		atomic_store_explicit(&w->retired_fd, w->fd, memory_order_release);
		seg_begin(w, fd, seq, lsn);
		return w->fill + need <= w->cfg.buffer_bytes ? 0 : -EAGAIN;
	}
	if (w->fill + need <= w->cfg.buffer_bytes)
		return 0;
	/* Slide: drop the durable prefix, keep its partial page. */
	uint32_t drop = page_floor(w->durable);
	if (!w->write_inflight && !w->sync_inflight && drop > 0 &&
	    w->fill - drop + need <= w->cfg.buffer_bytes) {
		uint32_t old_fill = w->fill;
		memmove(w->buf, w->buf + drop, w->fill - drop);
		w->buf_off += drop;
		w->fill -= drop;
		w->written -= drop;
		w->durable -= drop;
		memset(w->buf + w->fill, 0, old_fill - w->fill);
		return 0;
	}
	w->want_sync = true;
	cm_ctr_add(&w->ctr.stall_buffer, 1);
	return -EAGAIN;
}

/* Copy the raw payload (header, defs, columns) to dst; returns its length. */
static size_t payload_copy_raw(const struct wal_batch *b, const struct st_wal_payload_hdr *ph,
			       uint8_t *dst)
{
	size_t n = b->n, off = 0;
	memcpy(dst, ph, sizeof(*ph));
	off += sizeof(*ph);
	memcpy(dst + off, b->defs, b->defs_len);
	off += b->defs_len;
	memcpy(dst + off, b->ids, n * 4);
	off += n * 4;
	memcpy(dst + off, b->ts, n * 8);
	off += n * 8;
	memcpy(dst + off, b->vals, n * 8);
	return off + n * 8;
}

/* zstd over the payload's pieces into dst; the stored size, or 0 if it did not fit. */
static size_t payload_compress(struct st_wal *w, const struct wal_batch *b,
			       const struct st_wal_payload_hdr *ph, size_t raw_len, uint8_t *dst,
			       size_t cap)
{
	size_t n = b->n;
	const struct {
		const void *p;
		size_t len;
	} parts[] = {
		{ph, sizeof(*ph)}, {b->defs, b->defs_len}, {b->ids, n * 4},
		{b->ts, n * 8}, {b->vals, n * 8},
	};
	ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
	ZSTD_CCtx_setPledgedSrcSize(w->cctx, raw_len);
	ZSTD_outBuffer out = {dst, cap, 0};
	for (size_t i = 0; i < CM_ARRAY_SIZE(parts); i++) {
		ZSTD_inBuffer in = {parts[i].p, parts[i].len, 0};
		bool last = i + 1 == CM_ARRAY_SIZE(parts);
		size_t rc;
		do {
			rc = ZSTD_compressStream2(w->cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(rc) || (out.pos == out.size && rc))
				return 0;
		} while (last ? rc != 0 : in.pos < in.size);
	}
	return out.pos;
}

/* Encoder: batch b as a record into the buffer. 0 or -EAGAIN (no room yet). */
static int encode(struct st_wal *w, struct wal_batch *b)
{
	struct st_wal_payload_hdr ph = {.ndefs = b->ndefs, .npoints = b->n,
					.defs_bytes = b->defs_len};
	size_t raw_len = sizeof(ph) + b->defs_len + (size_t)b->n * 20;
	uint32_t need = (uint32_t)rec_need(w->cfg.zstd_level, raw_len);
	/* st_wal_room keeps the stage within raw_max, so the record fits */
	assert(raw_len <= w->raw_max && need + ST_WAL_PAGE <= w->cfg.buffer_bytes / 2);
	int rc = buffer_room(w, need, b->lsn);
	if (rc)
		return rc;

	/* Timestamps as wrapping deltas: regular series turn into runs zstd folds. */
	int64_t prev = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		int64_t t = b->ts[i];
		b->ts[i] = (int64_t)((uint64_t)t - (uint64_t)prev);
		prev = t;
	}
	struct st_wal_rec_hdr *h = (struct st_wal_rec_hdr *)(w->buf + w->fill);
	uint8_t *payload = (uint8_t *)(h + 1);
	size_t stored = 0;
	uint16_t codec = ST_WAL_CODEC_RAW;
	if (w->cfg.zstd_level) {
		stored = payload_compress(w, b, &ph, raw_len, payload,
					  payload_bound(w->cfg.zstd_level, raw_len));
		codec = ST_WAL_CODEC_ZSTD;
	}
	if (!stored || stored >= raw_len) {
		stored = payload_copy_raw(b, &ph, payload);
		codec = ST_WAL_CODEC_RAW;
	}
	h->magic = ST_WAL_REC_MAGIC;
	h->lsn = b->lsn;
	h->stored_len = (uint32_t)stored;
	h->raw_len = (uint32_t)raw_len;
	h->npoints = b->n;
	h->codec = codec;
	h->flags = 0;
	uint32_t crc = cm_crc32c(0, &h->lsn, sizeof(*h) - offsetof(struct st_wal_rec_hdr, lsn));
	h->crc = cm_crc32c(crc, payload, stored);
	uint32_t rec = (uint32_t)CM_ALIGN_UP(sizeof(*h) + stored, (size_t)8);
	memset((uint8_t *)h + sizeof(*h) + stored, 0, rec - sizeof(*h) - stored);
	w->fill += rec;
	/*
	 * The rest of the last page goes out with the record and must be zeros
	 * (a reader stops at zeros). zstd may have written past the record:
	 * its output when the raw copy replaced it, or scratch blocks.
	 */
	memset(w->buf + w->fill, 0, page_ceil(w->fill) - w->fill);

	w->enc_lsn = b->lsn;
	cm_ctr_add(&w->ctr.records, 1);
	cm_ctr_add(&w->ctr.points, b->n);
	cm_ctr_add(&w->ctr.raw_bytes, raw_len);
	cm_ctr_add(&w->ctr.stored_bytes, rec);
	b->n = 0;
	b->ndefs = 0;
	b->defs_len = 0;
	return 0;
}

/* Encoder: every committed batch that fits into the buffer. Returns how many. */
static uint32_t encode_committed(struct st_wal *w)
{
	uint32_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
	/* acquire: pairs with the owner's release of head after filling the batch */
	uint32_t head = atomic_load_explicit(&w->head, memory_order_acquire);
	uint32_t done = 0;
	while (tail != head && encode(w, &w->batches[tail % NBATCH]) == 0) {
		tail++;
		done++;
		/* release: the reset batch before the owner may stage into it */
		atomic_store_explicit(&w->tail, tail, memory_order_release);
	}
	return done;
}

/* ================================================================== poll */

static void io_failed(struct st_wal *w, int err, int64_t now)
{
	cm_ctr_add(&w->ctr.write_errors, 1);
	atomic_store_explicit(&w->ctr.last_error, err, memory_order_relaxed);
	w->retry_at_ns = now + RETRY_NS;
	CM_LOG_RL(CM_LOG_ERR, "wal", "event=io_error shard=%u seg=%llu err=%d retry_ms=%lld",
		  w->cfg.shard_id, (unsigned long long)w->seg_seq, err,
		  (long long)(RETRY_NS / CM_NS_PER_MS));
}

static uint32_t reap(struct st_wal *w, int64_t now)
{
	struct st_uring_cqe cqe[8];
	uint32_t n, total = 0;
	while ((n = st_uring_reap(w->ring, cqe, CM_ARRAY_SIZE(cqe))) > 0) {
		total += n;
		for (uint32_t i = 0; i < n; i++) {
			int32_t res = cqe[i].res;
			if (cqe[i].user_data == TAG_WRITE) {
				w->write_inflight = false;
				uint32_t len = page_ceil(w->inflight_end) - w->inflight_start;
				if (res < 0) {
					io_failed(w, res, now);
				} else if (w->inflight_start + (uint32_t)res < w->inflight_end) {
					/* short: keep what is known written, redo the rest */
					w->written = CM_MAX(w->written,
							    w->inflight_start + (uint32_t)res);
					io_failed(w, -EIO, now);
					w->retry_at_ns = 0;
				} else {
					/*
					 * Every record byte is out. A short write that
					 * left only the zero padding of the last page
					 * counts as an error but needs no redo: those
					 * bytes are zeros on disk (preallocated, and no
					 * earlier write put anything else there).
					 */
					if ((uint32_t)res < len)
						cm_ctr_add(&w->ctr.write_errors, 1);
					w->written = w->inflight_end;
					w->written_lsn = w->inflight_lsn;
					atomic_store_explicit(&w->ctr.last_error, 0, memory_order_relaxed);
					if (w->cfg.durability == ST_WAL_SYNC) {
						w->durable = w->written;
						/* release: pairs with acquire in st_wal_durable_lsn */
						atomic_store_explicit(&w->durable_lsn, w->written_lsn,
								      memory_order_release);
					}
				}
			} else if (cqe[i].user_data == TAG_SYNC) {
				w->sync_inflight = false;
				if (res < 0) {
					/* the kernel may have dropped the pages: write them again */
					io_failed(w, res, now);
					w->written = w->durable;
					w->written_lsn = atomic_load_explicit(&w->durable_lsn,
									      memory_order_relaxed);
				} else {
					cm_ctr_add(&w->ctr.syncs, 1);
					w->durable = CM_MAX(w->durable, w->sync_covers);
					/* release: pairs with acquire in st_wal_durable_lsn */
					atomic_store_explicit(&w->durable_lsn, w->sync_lsn,
							      memory_order_release);
				}
			}
		}
	}
	return total;
}

uint32_t st_wal_poll(struct st_wal *w)
{
	uint32_t work = encode_committed(w);
	if (!work && !w->write_inflight && !w->sync_inflight && w->written == w->fill &&
	    (w->cfg.durability == ST_WAL_SYNC || w->durable == w->written))
		return 0; /* idle: not even a clock read */
	int64_t now = cm_mono_ns();
	work += reap(w, now);
	bool queued = false;
	if (!w->write_inflight && !w->sync_inflight && w->written < w->fill && now >= w->retry_at_ns) {
		uint32_t start = page_floor(w->written), end = page_ceil(w->fill);
		int flags = w->cfg.durability == ST_WAL_SYNC ? RWF_DSYNC : 0;
		if (st_uring_write(w->ring, w->fd, w->buf + start, end - start, w->buf_off + start, 0,
				   flags, TAG_WRITE) == 0) {
			w->write_inflight = true;
			w->inflight_start = start;
			w->inflight_end = w->fill;
			w->inflight_lsn = w->enc_lsn;
			cm_ctr_add(&w->ctr.writes, 1);
			queued = true;
		}
	}
	if (w->cfg.durability == ST_WAL_INTERVAL && !w->sync_inflight && !w->write_inflight &&
	    w->durable < w->written && now >= w->retry_at_ns &&
	    (now >= w->next_sync_ns || w->want_sync || w->fill > w->cfg.buffer_bytes / 2)) {
		if (st_uring_fsync(w->ring, w->fd, true, TAG_SYNC) == 0) {
			w->sync_inflight = true;
			w->sync_covers = w->written;
			w->sync_lsn = w->written_lsn;
			w->next_sync_ns = now + w->cfg.fsync_interval_ns;
			w->want_sync = false;
			queued = true;
		}
	}
	if (w->cfg.durability == ST_WAL_SYNC && w->durable == w->fill)
		w->want_sync = false;
	if (queued) {
		st_uring_submit(w->ring);
		work++;
	}
	return work;
}

uint32_t st_wal_staged(const struct st_wal *w)
{
	return w->stage->n + w->stage->ndefs;
}

uint64_t st_wal_committed_lsn(const struct st_wal *w)
{
	return w->next_lsn - 1;
}

uint64_t st_wal_durable_lsn(const struct st_wal *w)
{
	/* acquire: pairs with the release stores in reap() */
	return atomic_load_explicit(&w->durable_lsn, memory_order_acquire);
}

int st_wal_last_error(const struct st_wal *w)
{
	return atomic_load_explicit(&w->ctr.last_error, memory_order_relaxed);
}

void st_wal_checkpoint(struct st_wal *w, uint64_t lsn)
{
	uint64_t cur = atomic_load(&w->ckpt_lsn);
	while (lsn > cur && !atomic_compare_exchange_weak(&w->ckpt_lsn, &cur, lsn))
		;
}

/* ============================================================ background */

/* The header's magic and CRC hold (replay checks version, seq and shard too). */
static bool seg_hdr_ok(const struct st_wal_seg_hdr *h)
{
	return h->magic == ST_WAL_SEG_MAGIC &&
	       h->crc == cm_crc32c(0, h, offsetof(struct st_wal_seg_hdr, crc));
}

static int read_seg_first_lsn(const struct st_wal *w, uint64_t seq, uint64_t *first)
{
	char path[SEG_PATH_MAX];
	seg_path(path, sizeof(path), w->dir, seq);
	int fd = w->cfg.ops->open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	struct st_wal_seg_hdr h;
	ssize_t n = w->cfg.ops->pread(fd, &h, sizeof(h), 0);
	w->cfg.ops->close(fd);
	if (n != (ssize_t)sizeof(h) || !seg_hdr_ok(&h))
		return -EBADMSG;
	*first = h.first_lsn;
	return 0;
}


/* Delete segments whose every record is covered by the checkpoint. */
static void delete_covered(struct st_wal *w)
{
	uint64_t ckpt = atomic_load(&w->ckpt_lsn);
	/* acquire: pairs with the release in seg_begin */
	uint64_t cur = atomic_load_explicit(&w->cur_seq, memory_order_acquire);
	uint64_t cur_first = atomic_load_explicit(&w->cur_first_lsn, memory_order_relaxed);
	if (!ckpt)
		return;
	uint64_t *seqs;
	size_t n;
	if (seg_list(w->dir, &seqs, &n))
		return;
	while (n > 0 && seqs[n - 1] >= cur)
		n--; /* the current segment and the spare stay */
	for (size_t i = 0; i < n; i++) {
		/*
		 * A segment's records end where the next segment's begin. A
		 * segment whose header cannot be read (replay skipped it) is
		 * passed over: the first lsn of a later one bounds both, and it
		 * must not hold back deletion forever.
		 */
		uint64_t next_first = cur_first;
		for (size_t j = i + 1; j < n; j++)
			if (read_seg_first_lsn(w, seqs[j], &next_first) == 0)
				break;
		if (next_first - 1 > ckpt)
			break;
		char path[SEG_PATH_MAX];
		seg_path(path, sizeof(path), w->dir, seqs[i]);
		if (w->cfg.ops->unlink(path) == 0)
			cm_ctr_add(&w->ctr.segments_deleted, 1);
	}
	free(seqs);
}

void st_wal_service(struct st_wal *w)
{
	close_fd_slot(w, &w->retired_fd, false);
	if (atomic_load_explicit(&w->spare_fd, memory_order_relaxed) < 0) {
		uint64_t seq = atomic_load_explicit(&w->cur_seq, memory_order_acquire) + 1;
		int fd = seg_create(w->cfg.ops, w->dir, seq, w->cfg.segment_bytes, w->direct);
		if (fd >= 0) {
			atomic_store_explicit(&w->spare_seq, seq, memory_order_relaxed);
			/* release: pairs with the acquire exchange in buffer_room */
			atomic_store_explicit(&w->spare_fd, fd, memory_order_release);
		} else if (fd != -EEXIST) {
			CM_LOG_RL(CM_LOG_WARN, "wal", "event=spare_failed shard=%u err=%d",
				  w->cfg.shard_id, fd);
		}
	}
	delete_covered(w);
}

void st_wal_stats_read(const struct st_wal *w, struct st_wal_stats *out)
{
	const struct wal_counters *c = &w->ctr;
	memset(out, 0, sizeof(*out));
	out->records = atomic_load_explicit(&c->records, memory_order_relaxed);
	out->points = atomic_load_explicit(&c->points, memory_order_relaxed);
	out->raw_bytes = atomic_load_explicit(&c->raw_bytes, memory_order_relaxed);
	out->stored_bytes = atomic_load_explicit(&c->stored_bytes, memory_order_relaxed);
	out->writes = atomic_load_explicit(&c->writes, memory_order_relaxed);
	out->syncs = atomic_load_explicit(&c->syncs, memory_order_relaxed);
	out->write_errors = atomic_load_explicit(&c->write_errors, memory_order_relaxed);
	out->stall_buffer = atomic_load_explicit(&c->stall_buffer, memory_order_relaxed);
	out->stall_segment = atomic_load_explicit(&c->stall_segment, memory_order_relaxed);
	out->segments_created = atomic_load_explicit(&c->segments_created, memory_order_relaxed);
	out->segments_deleted = atomic_load_explicit(&c->segments_deleted, memory_order_relaxed);
	out->committed_lsn = atomic_load_explicit(&c->committed_lsn, memory_order_relaxed);
	out->durable_lsn = st_wal_durable_lsn(w);
	out->last_error = atomic_load_explicit(&c->last_error, memory_order_relaxed);
	out->direct = w->direct;
}

/* ================================================================ replay */

/*
 * Check the payload's layout (sizes, every definition) without delivering
 * anything: a record is applied whole or not at all. 0 or -EBADMSG.
 */
static int payload_check(const uint8_t *raw, uint32_t raw_len, uint32_t npoints,
			 struct st_wal_payload_hdr *ph)
{
	if (raw_len < sizeof(*ph))
		return -EBADMSG;
	memcpy(ph, raw, sizeof(*ph));
	if (ph->npoints != npoints || ph->defs_bytes > raw_len - sizeof(*ph) ||
	    (uint64_t)sizeof(*ph) + ph->defs_bytes + (uint64_t)ph->npoints * 20 != raw_len)
		return -EBADMSG;
	const uint8_t *p = raw + sizeof(*ph), *end = p + ph->defs_bytes;
	/* each definition takes at least 12 bytes: at most defs_bytes / 12 passes */
	for (uint32_t i = 0; i < ph->ndefs; i++) {
		struct st_wal_def d;
		if ((size_t)(end - p) < sizeof(d))
			return -EBADMSG;
		memcpy(&d, p, sizeof(d));
		size_t need = CM_ALIGN_UP(sizeof(d) + d.keylen, (size_t)4);
		if ((size_t)(end - p) < need || d.keylen == 0 || d.keylen > ST_KEY_MAX)
			return -EBADMSG;
		p += need;
	}
	return p == end ? 0 : -EBADMSG;
}

/* Deliver a checked payload through cb: 0 or the callback's error (or -ENOMEM). */
static int payload_deliver(const uint8_t *raw, const struct st_wal_payload_hdr *ph, uint64_t lsn,
			   const struct st_wal_replay_cb *cb, void *ctx)
{
	const uint8_t *p = raw + sizeof(*ph);
	for (uint32_t i = 0; i < ph->ndefs; i++) {
		struct st_wal_def d;
		memcpy(&d, p, sizeof(d));
		int rc = cb->series(ctx, d.id, d.vtype, p + sizeof(d), d.keylen);
		if (rc)
			return rc;
		p += CM_ALIGN_UP(sizeof(d) + d.keylen, (size_t)4);
	}
	if (!ph->npoints)
		return 0;
	uint32_t *ids = malloc((size_t)ph->npoints * 4);
	int64_t *ts = malloc((size_t)ph->npoints * 8);
	uint64_t *vals = malloc((size_t)ph->npoints * 8);
	int rc = -ENOMEM;
	if (ids && ts && vals) {
		memcpy(ids, p, (size_t)ph->npoints * 4);
		memcpy(ts, p + (size_t)ph->npoints * 4, (size_t)ph->npoints * 8);
		memcpy(vals, p + (size_t)ph->npoints * 12, (size_t)ph->npoints * 8);
		uint64_t prev = 0;
		for (uint32_t i = 0; i < ph->npoints; i++) {
			prev += (uint64_t)ts[i];
			ts[i] = (int64_t)prev;
		}
		rc = cb->points(ctx, lsn, ids, ts, vals, ph->npoints);
	}
	free(ids);
	free(ts);
	free(vals);
	return rc;
}

int st_wal_payload_decode(const uint8_t *raw, uint32_t raw_len, uint32_t npoints, uint64_t lsn,
			  const struct st_wal_replay_cb *cb, void *ctx)
{
	struct st_wal_payload_hdr ph;
	int rc = payload_check(raw, raw_len, npoints, &ph);
	return rc ? rc : payload_deliver(raw, &ph, lsn, cb, ctx);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

struct replay {
	const char *dir;
	const struct st_io_ops *ops;
	uint32_t shard_id;
	uint64_t from_lsn;
	uint64_t expect_lsn;          /* 0: not known yet */
	const struct st_wal_replay_cb *cb;
	void *ctx;
	struct st_wal_replay_stats *st;
	ZSTD_DCtx *dctx;
	uint8_t *raw;
	size_t raw_cap;
	int cb_err;                   /* a callback's (or allocation) error: stop, cut nothing */
};

/*
 * One record at buf (avail bytes). Its length, 0 at a clean end, -EBADMSG
 * for a bad record, or another -errno with r->cb_err set (a callback's error,
 * which may be any value, -EBADMSG included; or -ENOMEM).
 */
static ssize_t replay_record(struct replay *r, const uint8_t *buf, size_t avail)
{
	struct st_wal_rec_hdr h;
	if (avail < sizeof(h))
		return all_zero(buf, avail) ? 0 : -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.magic == 0 && all_zero(buf, avail < 4096 ? avail : 4096))
		return 0;
	if (h.magic != ST_WAL_REC_MAGIC || h.stored_len > avail - sizeof(h) ||
	    h.codec > ST_WAL_CODEC_ZSTD || h.raw_len > (1u << 30) ||
	    (r->expect_lsn && h.lsn != r->expect_lsn))
		return -EBADMSG;
	const uint8_t *payload = buf + sizeof(h);
	uint32_t crc = cm_crc32c(0, buf + 8, sizeof(h) - 8);
	if (cm_crc32c(crc, payload, h.stored_len) != h.crc)
		return -EBADMSG;
	/* a file cut right after a record's payload lacks only its padding */
	size_t len = CM_MIN(CM_ALIGN_UP(sizeof(h) + h.stored_len, (size_t)8), avail);
	if (h.lsn < r->from_lsn) {
		r->expect_lsn = h.lsn + 1;
		r->st->bytes += len;
		r->st->records_skipped++;
		return (ssize_t)len;
	}
	const uint8_t *raw = payload;
	if (h.codec == ST_WAL_CODEC_ZSTD) {
		if (h.raw_len > r->raw_cap) {
			free(r->raw);
			r->raw_cap = CM_MAX((size_t)h.raw_len, (size_t)1 << 20);
			r->raw = malloc(r->raw_cap);
			if (!r->raw) {
				r->raw_cap = 0;
				r->cb_err = -ENOMEM;
				return -ENOMEM;
			}
		}
		size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, h.raw_len, payload, h.stored_len);
		if (ZSTD_isError(got) || got != h.raw_len)
			return -EBADMSG;
		raw = r->raw;
	} else if (h.raw_len != h.stored_len) {
		return -EBADMSG;
	}
	struct st_wal_payload_hdr ph;
	if (payload_check(raw, h.raw_len, h.npoints, &ph))
		return -EBADMSG;
	int rc = payload_deliver(raw, &ph, h.lsn, r->cb, r->ctx);
	if (rc) {
		r->cb_err = rc;
		return rc;
	}
	/* only a record that is kept moves next_lsn: a cut one's lsn is reused */
	r->expect_lsn = h.lsn + 1;
	r->st->bytes += len;
	r->st->records++;
	r->st->points += h.npoints;
	return (ssize_t)len;
}

static int replay_segment(struct replay *r, uint64_t seq)
{
	char path[SEG_PATH_MAX];
	seg_path(path, sizeof(path), r->dir, seq);
	int fd = r->ops->open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	struct stat sb;
	int rc = fstat(fd, &sb) ? -errno : 0;
	uint8_t *buf = NULL;
	if (rc)
		goto out;
	if (sb.st_size < (off_t)ST_WAL_PAGE) {
		CM_LOG_WARN("wal", "event=segment_short seg=%s bytes=%lld action=removed", path,
			    (long long)sb.st_size);
		goto remove;
	}
	buf = malloc((size_t)sb.st_size);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	ssize_t got = r->ops->pread(fd, buf, (size_t)sb.st_size, 0);
	if (got != sb.st_size) {
		rc = got < 0 ? (int)got : -EIO;
		goto out;
	}
	struct st_wal_seg_hdr h;
	memcpy(&h, buf, sizeof(h));
	if (all_zero(buf, ST_WAL_PAGE)) {
		goto remove; /* a spare that was never used */
	}
	if (!seg_hdr_ok(&h) || h.version != ST_WAL_VERSION || h.seq != seq ||
	    h.shard_id != r->shard_id) {
		CM_LOG_ERR("wal", "event=segment_bad_header seg=%s action=skipped", path);
		r->st->bad_bytes += (uint64_t)sb.st_size;
		goto out;
	}
	r->st->segments++;
	if (r->expect_lsn && h.first_lsn != r->expect_lsn) {
		CM_LOG_WARN("wal", "event=lsn_gap seg=%s expected=%llu first=%llu", path,
			    (unsigned long long)r->expect_lsn, (unsigned long long)h.first_lsn);
		r->st->lsn_gaps++;
	}
	r->expect_lsn = h.first_lsn;
	size_t off = ST_WAL_PAGE, size = (size_t)sb.st_size;
	for (;;) {
		ssize_t n = replay_record(r, buf + off, size - off);
		if (n == 0)
			break;
		if (n < 0 && r->cb_err) {
			rc = r->cb_err;
			break;
		}
		if (n == -EBADMSG) {
			/* Everything after the last good record goes: a torn or corrupt tail. */
			size_t bad = size - off;
			r->st->torn_tails++;
			r->st->bad_bytes += bad;
			CM_LOG_WARN("wal", "event=tail_truncated seg=%s offset=%zu dropped_bytes=%zu",
				    path, off, bad);
			rc = r->ops->ftruncate(fd, off);
			if (!rc)
				rc = r->ops->fdatasync(fd);
			break;
		}
		if (n < 0) {
			rc = (int)n;
			break;
		}
		off += (size_t)n;
	}
	goto out;
remove:
	r->ops->unlink(path);
out:
	free(buf);
	r->ops->close(fd);
	return rc;
}

int st_wal_replay(const char *dir, const struct st_io_ops *ops, uint32_t shard_id,
		  uint64_t from_lsn, const struct st_wal_replay_cb *cb, void *ctx,
		  struct st_wal_replay_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	uint64_t *seqs;
	size_t n;
	int lrc = seg_list(dir, &seqs, &n);
	if (lrc == -ENOENT) {
		stats->next_lsn = CM_MAX(from_lsn, (uint64_t)1);
		return 0;
	}
	if (lrc)
		return lrc;

	struct replay r = {.dir = dir, .ops = ops, .shard_id = shard_id, .from_lsn = from_lsn,
			   .cb = cb, .ctx = ctx, .st = stats, .dctx = ZSTD_createDCtx()};
	int rc = r.dctx ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		rc = replay_segment(&r, seqs[i]);
	uint64_t next = CM_MAX(r.expect_lsn, from_lsn);
	stats->next_lsn = CM_MAX(next, (uint64_t)1);
	ZSTD_freeDCtx(r.dctx);
	free(r.raw);
	free(seqs);
	CM_LOG_INFO("wal", "event=replayed shard=%u segments=%llu records=%llu skipped=%llu "
		    "points=%llu torn=%llu bad_bytes=%llu next_lsn=%llu rc=%d", shard_id,
		    (unsigned long long)stats->segments, (unsigned long long)stats->records,
		    (unsigned long long)stats->records_skipped, (unsigned long long)stats->points,
		    (unsigned long long)stats->torn_tails, (unsigned long long)stats->bad_bytes,
		    (unsigned long long)stats->next_lsn, rc);
	return rc;
}
