/*
 * st_block.h - warm-tier blocks: an immutable file holding the points of
 * many series of one shard for one time partition, with per-chunk summaries
 * for query pushdown, adaptively coded columns (st_colcodec.h) in
 * zstd-compressed sections, and a CRC32C on every section. Format:
 * st_format.h and docs/formats/block.md.
 *
 * Usage profile: the background flusher builds a block once per shard and
 * partition (millions of points, one thread, allocates freely) and writes
 * the image it gets; query threads open it once, keep its index in memory
 * (about 84 bytes per chunk and 16 per series, see the doc) and read one
 * series and time range at a time, many threads at once.
 *
 * Threads: a builder belongs to one thread. An open block is immutable: any
 * number of threads may call the reader functions on it concurrently
 * (they allocate per call and share nothing mutable); st_block_close must
 * not race with them. Each thread that reads keeps one zstd decompression
 * context (about 96 KB) in thread-specific data until it exits.
 */
#ifndef ST_BLOCK_H
#define ST_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_format.h"
#include "st_shard.h"
#include "st_types.h"

/* ================================================================ builder */

/* Defaults, measured on TSBS and floatwalk (docs/formats/block.md, "Builder policy"). */
#define ST_BLOCK_DEFAULT_CHUNK_POINTS 1024u
#define ST_BLOCK_DEFAULT_SECTION_BYTES (64u << 10)
#define ST_BLOCK_DEFAULT_ZSTD_LEVEL 1

/* How the builder ranks the candidate codecs of a column. */
enum st_block_cost {
	ST_BLOCK_COST_DEFAULT = 0,   /* ST_BLOCK_COST_ZSTD */
	ST_BLOCK_COST_RAW = 1,       /* smallest before zstd (bit packing wins: worst files) */
	ST_BLOCK_COST_ENTROPY = 2,   /* smallest order-0 entropy estimate (fastest build) */
	ST_BLOCK_COST_ZSTD = 3,      /* smallest after zstd -1 of the column alone (smallest files) */
};

struct st_block_build_cfg {
	uint32_t shard_id;
	int64_t part_start_ns;      /* the partition: part_start_ns <= ts < part_end_ns */
	int64_t part_end_ns;
	int zstd_level;             /* 0: ST_BLOCK_DEFAULT_ZSTD_LEVEL; else zstd's range */
	uint32_t chunk_points;      /* 0: default; 1 .. ST_BLOCK_MAX_CHUNK_POINTS */
	int64_t chunk_span_ns;      /* > 0: no chunk holds points of two multiples of it; 0: off */
	uint32_t section_bytes;     /* raw bytes per data section; 0: default; 4 KiB .. 16 MiB */
	enum st_block_cost cost;    /* codec ranking; 0: default */
};

struct st_block_builder;

/* cfg: borrowed (copied). 0, -EINVAL (a setting out of range) or -ENOMEM. */
int st_block_builder_create(const struct st_block_build_cfg *cfg, struct st_block_builder **out);

/*
 * Add all the points of one series. ts[n] and vals[n]: borrowed. Series ids
 * strictly increase across calls; ts strictly increase and lie in the
 * partition; n > 0; vals are value bits (BOOL: 0 or 1); vt is F64, I64, U64
 * or BOOL. Returns 0; -EINVAL (any of those broken: nothing is added),
 * -ERANGE (a timestamp outside the partition: nothing added), -E2BIG (more
 * than ST_BLOCK_MAX_SERIES_POINTS points, or the block would pass 2^32 - 1
 * chunks: nothing added), -ENOMEM, -EIO (zstd failed) or -E2BIG (a section
 * over ST_BLOCK_MAX_SECTION_RAW, which the settings' bounds rule out); after
 * those last three the builder is unusable (st_block_builder_finish fails).
 */
int st_block_builder_add(struct st_block_builder *b, uint32_t series_id, enum st_value_type vt,
			 const int64_t *ts, const uint64_t *vals, size_t n);

/*
 * The whole file image: *image is owned by the caller (free()); both the
 * buffer's address and *len are multiples of ST_BLOCK_ALIGN (4096), so it
 * can be written with O_DIRECT as it is. Returns 0; -ENODATA (no series
 * added), -EINVAL (called twice, or after a failed add), -ENOMEM or -EIO.
 * The builder can only be destroyed afterwards.
 */
int st_block_builder_finish(struct st_block_builder *b, uint8_t **image, size_t *len);

/* Free the builder (not an image it returned). NULL ok. */
void st_block_builder_destroy(struct st_block_builder *b);

/* ================================================================= reader */

/*
 * Read exactly len bytes at off into buf: 0 or a negative errno. Called from
 * whichever thread calls the reader functions, so it must be thread-safe
 * (pread on a shared fd is).
 */
typedef int (*st_block_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/* A block image in memory, and the read callback over it (tests, fuzzing, benchmarks). */
struct st_block_mem {
	const uint8_t *p;
	size_t len;
};
/* st_block_read_fn over a struct st_block_mem: -EIO for a range outside it. */
int st_block_mem_read(void *ctx, uint64_t off, void *buf, size_t len);

struct st_block;

/*
 * Open a block of file_len bytes: read the footer, header, section table,
 * series directory and chunk table (the index), check their CRCs and
 * consistency (docs/formats/block.md, "What the reader checks") and keep
 * the index in memory. read and ctx are kept until st_block_close. Returns
 * 0; -EBADMSG on any corruption with the reason in err (lowercase, first
 * problem found); an I/O error of read (its -errno) with err naming the
 * read; -ENOMEM. err may be NULL.
 */
int st_block_open(uint64_t file_len, st_block_read_fn read, void *ctx, struct st_block **out,
		  char *err, size_t errlen);

/* Free the index. NULL ok. No reader call may be running on b. */
void st_block_close(struct st_block *b);

struct st_block_info {
	uint32_t shard_id;
	int64_t part_start_ns, part_end_ns;
	int64_t t_min, t_max;           /* over every point of the block */
	uint32_t nseries;
	uint64_t npoints, nchunks;
	uint64_t file_bytes;
	uint64_t index_bytes_resident;  /* heap bytes the open block holds */
};
void st_block_get_info(const struct st_block *b, struct st_block_info *out);

uint32_t st_block_series_count(const struct st_block *b);

/* The i-th series in id order (i < st_block_series_count). Either pointer may be NULL. */
void st_block_series_at(const struct st_block *b, uint32_t i, uint32_t *series_id,
			enum st_value_type *vt);

bool st_block_has_series(const struct st_block *b, uint32_t series_id);

/* Summary flags. */
enum st_block_sum_flags {
	ST_BLOCK_SUM_OVERFLOW = ST_FMT_SUM_OVERFLOW, /* integer sum outside its type */
	ST_BLOCK_SUM_NAN = ST_FMT_HAS_NAN,           /* F64: some value is a NaN */
};

/*
 * One chunk's summary, for pushdown. Values are value bits (double for F64,
 * int64 for I64, uint64 for U64, 0/1 for BOOL).
 *   min, max   F64: the smallest and largest non-NaN values as doubles (of
 *              equal values, -0.0 and 0.0, the first seen); the canonical
 *              NaN 0x7ff8000000000000 if every value is a NaN. I64 signed,
 *              U64 and BOOL unsigned comparison.
 *   sum        F64: .f64, the sum in time order (NaN if any value is NaN).
 *              I64: .i64 and U64: .u64 hold the exact sum modulo 2^64, and
 *              ST_BLOCK_SUM_OVERFLOW says the exact sum lies outside
 *              int64 (I64) or uint64 (U64); a caller summing chunks can add
 *              the low 64 bits and trust the total when no chunk overflowed
 *              and its own 128-bit total fits. BOOL: .u64, the count of 1s.
 */
struct st_block_summary {
	int64_t t_min, t_max;   /* first and last timestamp */
	uint64_t min, max;
	uint64_t first, last;
	union st_value sum;
	uint32_t count;         /* points */
	uint32_t flags;         /* enum st_block_sum_flags */
};

/*
 * The chunk summaries of a series, in time order: *out points into the
 * index (valid until st_block_close), *n is their count. Returns 0, or
 * -ENOENT if the block does not hold the series (then *out = NULL, *n = 0).
 */
int st_block_summaries(const struct st_block *b, uint32_t series_id,
		       const struct st_block_summary **out, uint32_t *n);

/* The first of a series' n chunk summaries that ends at or after t (n if none). */
static inline uint32_t st_block_chunk_from(const struct st_block_summary *sum, uint32_t n,
					   int64_t t)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sum[mid].t_max < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Append the points of series_id with t_min <= ts <= t_max to *out (owned
 * by the caller; st_points_* of st_shard.h), in time order. Reads and
 * decompresses only the data sections holding chunks of the series that
 * overlap the range, and decodes only those chunks. Returns the number
 * appended (0 if the series is absent or has no point in the range),
 * -EBADMSG if a data section fails its CRC or a column fails to decode,
 * the -errno of read, or -ENOMEM. On error out->n is unchanged (its arrays
 * may have grown).
 */
int st_block_read(const struct st_block *b, uint32_t series_id, int64_t t_min, int64_t t_max,
		  struct st_points *out);

/*
 * st_block_read, except for the chunks skip says it takes (true): those are
 * neither read nor decoded, and none of their points is appended. skip sees
 * each chunk of the series that overlaps [t_min, t_max], in time order,
 * with its summary (valid while the block is open).
 */
typedef bool (*st_block_skip_fn)(void *arg, const struct st_block_summary *chunk);
int st_block_read_skip(const struct st_block *b, uint32_t series_id, int64_t t_min,
		       int64_t t_max, st_block_skip_fn skip, void *arg, struct st_points *out);

/*
 * Reads of b (st_block_read*, not st_block_verify) keep the data sections
 * they decompress in c and look there first; st_block_close drops them.
 * Set once, before b is shared with readers; NULL: none.
 */
struct st_scache;
void st_block_set_cache(struct st_block *b, struct st_scache *c);

/*
 * Scrub: read every data section, check its CRC, decompress it, decode
 * every chunk and recompute its summary, and check the padding is zero.
 * Returns 0, or -EBADMSG with the first problem in err (or the -errno of
 * read, -ENOMEM). err may be NULL.
 */
int st_block_verify(const struct st_block *b, char *err, size_t errlen);

#endif /* ST_BLOCK_H */
