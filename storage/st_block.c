/*
 * st_block.c - warm-tier blocks (st_block.h): the builder that turns the
 * points of a shard's series into one file image, and the reader that opens
 * an image through a read callback, keeps its index in memory and decodes
 * series and time ranges. Format: st_format.h, docs/formats/block.md.
 *
 * Builder: each series is cut into chunks of cfg.chunk_points points, and
 * also where its time crosses a multiple of cfg.chunk_span_ns (so a chunk
 * lies inside one hour, say, and a GROUP BY time(1h) bucket is whole chunks
 * the executor answers from their summaries); each
 * chunk's timestamp and value columns get the cheapest codec of
 * st_col_encode_best, and its summary (count, time range, min, max, first,
 * last, sum) goes to the chunk table. Columns are appended to the open data
 * section, which is zstd-compressed and appended to the image once it holds
 * cfg.section_bytes raw bytes; a series that fits in one section is never
 * split across two, so reading it decompresses one section. finish() writes
 * the index (series directory and chunk table, byte-shuffled so zstd sees
 * runs of like bytes), the section table, padding and the footer.
 *
 * Reader: st_block_open checks every CRC and every cross-reference of the
 * index once, so that the read path can trust offsets and lengths; a data
 * section's CRC is checked each time it is read (the stored bytes, before
 * zstd sees them).
 *
 * Usage profile: one builder per flush (single thread; TSBS's 8.64 M points
 * in about a second); any number of query threads per open block.
 */
#include "st_block.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_crc32c.h"
#include "st_colcodec.h"
#include "st_scache.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "block structs are memcpy'd: a big-endian port must byte-swap them");
static_assert(sizeof(struct st_block_summary) == 64, "a summary is one cache line");

#define HDR_BYTES sizeof(struct st_fmt_block_header)
#define FTR_BYTES sizeof(struct st_fmt_block_footer)
#define SECT_BYTES sizeof(struct st_fmt_section)
/*
 * ST_BLOCK_COST_ZSTD: candidates are tried with zstd -1 unless their entropy
 * estimate is over 1.1x the best one's (the same files as trying all on
 * TSBS and floatwalk, at half the extra build time), and the level of the trial.
 */
#define COST_PRUNE 1.1
#define COST_ZSTD_LEVEL 1
/* Index sections hold at most this many raw bytes each. */
#define INDEX_SECTION_RAW (4u << 20)
#define CANONICAL_NAN UINT64_C(0x7ff8000000000000)
/* No zstd frame expands more (an RLE block: 4 bytes for 128 KiB). */
#define ZSTD_MAX_EXPANSION 32768u

static bool vt_ok(enum st_value_type vt)
{
	return vt >= ST_VT_F64 && vt <= ST_VT_BOOL;
}

/* ------------------------------------------------------------------------ */
/* Summaries (builder and verify)                                           */
/* ------------------------------------------------------------------------ */

static inline double as_f64(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof(d));
	return d;
}

static void summarize(enum st_value_type vt, const int64_t *ts, const uint64_t *v, uint32_t n,
		      struct st_block_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->t_min = ts[0];
	s->t_max = ts[n - 1];
	s->count = n;
	s->first = v[0];
	s->last = v[n - 1];
	if (vt == ST_VT_F64) {
		bool any = false;
		double lo = 0, hi = 0, sum = 0;
		for (uint32_t i = 0; i < n; i++) {
			double x = as_f64(v[i]);
			sum += x;
			if (x != x) {
				s->flags |= ST_BLOCK_SUM_NAN;
				continue;
			}
			if (!any || x < lo) {
				lo = x;
				s->min = v[i];
			}
			if (!any || x > hi) {
				hi = x;
				s->max = v[i];
			}
			any = true;
		}
		if (!any)
			s->min = s->max = CANONICAL_NAN;
		s->sum.f64 = sum;
	} else if (vt == ST_VT_I64) {
		__extension__ __int128 sum = 0;
		int64_t lo = (int64_t)v[0], hi = lo;
		for (uint32_t i = 0; i < n; i++) {
			int64_t x = (int64_t)v[i];
			sum += x;
			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		s->min = (uint64_t)lo;
		s->max = (uint64_t)hi;
		s->sum.u64 = (uint64_t)sum;
		if (sum < INT64_MIN || sum > INT64_MAX)
			s->flags |= ST_BLOCK_SUM_OVERFLOW;
	} else {
		__extension__ unsigned __int128 sum = 0;
		uint64_t lo = v[0], hi = lo;
		for (uint32_t i = 0; i < n; i++) {
			sum += v[i];
			lo = v[i] < lo ? v[i] : lo;
			hi = v[i] > hi ? v[i] : hi;
		}
		s->min = lo;
		s->max = hi;
		s->sum.u64 = (uint64_t)sum;
		if (sum > UINT64_MAX)
			s->flags |= ST_BLOCK_SUM_OVERFLOW;
	}
}

/* Byte shuffle: byte b of element i goes to b * count + i (and back). */
static void shuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t elem)
{
	for (size_t i = 0; i < count; i++)
		for (size_t b = 0; b < elem; b++)
			dst[b * count + i] = src[i * elem + b];
}

static void unshuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t elem)
{
	for (size_t b = 0; b < elem; b++)
		for (size_t i = 0; i < count; i++)
			dst[i * elem + b] = src[b * count + i];
}

/* ======================================================================== */
/* Builder                                                                  */
/* ======================================================================== */

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct buf *b, const void *p, size_t len)
{
	if (!len)
		return 0;
	if (buf_reserve(b, len))
		return -ENOMEM;
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

struct st_block_builder {
	struct st_block_build_cfg cfg;
	ZSTD_CCtx *cctx;          /* sections */
	ZSTD_CCtx *cost_cctx;     /* ST_BLOCK_COST_ZSTD: the quick zstd of candidates */
	uint8_t *cost_buf;
	size_t cost_cap;
	struct st_col_chooser chooser;
	void *work;
	struct buf img;           /* header (filled by finish), then finished sections */
	struct buf raw;           /* the open data section */
	struct buf stage;         /* columns of the series being added */
	struct buf sects;         /* struct st_fmt_section[] */
	struct buf chunks;        /* struct st_fmt_chunk[] */
	struct buf series;        /* struct st_fmt_series[] */
	uint32_t nchunks;
	uint32_t placed;          /* chunks already in a section (closed or open) */
	uint32_t raw_first;       /* first chunk of the open section */
	uint32_t nseries;
	uint32_t last_id;
	uint64_t npoints;
	int64_t t_min, t_max;
	bool broken;              /* an add failed half way: finish refuses */
	bool finished;
};

static double cost_zstd(void *arg, const uint8_t *buf, size_t len)
{
	struct st_block_builder *b = arg;
	if (len == 0)
		return 0;
	size_t r = ZSTD_compressCCtx(b->cost_cctx, b->cost_buf, b->cost_cap, buf, len,
				     COST_ZSTD_LEVEL);
	return ZSTD_isError(r) ? (double)len : (double)r;
}

int st_block_builder_create(const struct st_block_build_cfg *cfg, struct st_block_builder **out)
{
	struct st_block_build_cfg c = *cfg;
	*out = NULL;
	if (!c.chunk_points)
		c.chunk_points = ST_BLOCK_DEFAULT_CHUNK_POINTS;
	if (!c.section_bytes)
		c.section_bytes = ST_BLOCK_DEFAULT_SECTION_BYTES;
	if (!c.zstd_level)
		c.zstd_level = ST_BLOCK_DEFAULT_ZSTD_LEVEL;
	if (c.cost == ST_BLOCK_COST_DEFAULT)
		c.cost = ST_BLOCK_COST_ZSTD;
	if (c.chunk_points > ST_BLOCK_MAX_CHUNK_POINTS || c.section_bytes < 4096 ||
	    c.section_bytes > (16u << 20) || c.zstd_level < ZSTD_minCLevel() ||
	    c.zstd_level > ZSTD_maxCLevel() || c.part_start_ns >= c.part_end_ns ||
	    c.cost < ST_BLOCK_COST_RAW || c.cost > ST_BLOCK_COST_ZSTD || c.chunk_span_ns < 0)
		return -EINVAL;

	struct st_block_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = c;
	size_t wb = st_col_work_bytes(c.chunk_points);
	b->work = malloc(wb);
	b->cctx = ZSTD_createCCtx();
	if (!b->work || !b->cctx || buf_reserve(&b->img, HDR_BYTES))
		goto err_destroy;
	b->img.len = HDR_BYTES;
	b->chooser = (struct st_col_chooser){.work = b->work, .work_bytes = wb};
	if (c.cost == ST_BLOCK_COST_RAW) {
		b->chooser.cost = st_col_cost_raw;
	} else if (c.cost == ST_BLOCK_COST_ZSTD) {
		b->cost_cap = ZSTD_compressBound(st_col_max_bytes(c.chunk_points));
		b->cost_buf = malloc(b->cost_cap);
		b->cost_cctx = ZSTD_createCCtx();
		if (!b->cost_buf || !b->cost_cctx)
			goto err_destroy;
		b->chooser.cost = cost_zstd;
		b->chooser.cost_arg = b;
		b->chooser.prune = COST_PRUNE;
	}
	*out = b;
	return 0;

err_destroy:
	st_block_builder_destroy(b);
	return -ENOMEM;
}

void st_block_builder_destroy(struct st_block_builder *b)
{
	if (!b)
		return;
	ZSTD_freeCCtx(b->cctx);
	ZSTD_freeCCtx(b->cost_cctx);
	free(b->cost_buf);
	free(b->work);
	free(b->img.p);
	free(b->raw.p);
	free(b->stage.p);
	free(b->sects.p);
	free(b->chunks.p);
	free(b->series.p);
	free(b);
}

/*
 * Compress raw[len] into the image as one section and describe it. Small
 * or incompressible sections are stored as they are.
 */
static int emit_section(struct st_block_builder *b, const uint8_t *raw, size_t len, uint8_t kind,
			uint16_t shuffle_elem, uint32_t first, uint32_t count)
{
	size_t bound = ZSTD_compressBound(len);
	if (len > ST_BLOCK_MAX_SECTION_RAW)
		return -E2BIG;
	if (buf_reserve(&b->img, bound) || buf_reserve(&b->sects, SECT_BYTES))
		return -ENOMEM;
	struct st_fmt_section d = {.offset = b->img.len, .raw_bytes = (uint32_t)len, .kind = kind,
				   .shuffle = shuffle_elem, .first = first, .count = count};
	uint8_t *dst = b->img.p + b->img.len;
	size_t z = ZSTD_compressCCtx(b->cctx, dst, bound, raw, len, b->cfg.zstd_level);
	if (ZSTD_isError(z))
		return -EIO;
	if (z < len) {
		d.comp = ST_COMP_ZSTD;
		d.stored_bytes = (uint32_t)z;
	} else {
		d.comp = ST_COMP_NONE;
		d.stored_bytes = (uint32_t)len;
		if (len)
			memcpy(dst, raw, len);
	}
	d.crc = cm_crc32c(0, dst, d.stored_bytes);
	b->img.len += d.stored_bytes;
	memcpy(b->sects.p + b->sects.len, &d, SECT_BYTES);
	b->sects.len += SECT_BYTES;
	return 0;
}

static int close_data_section(struct st_block_builder *b)
{
	/* (chunks whose columns are all LINEAR take no bytes: a section may be empty) */
	assert(b->raw_first <= b->placed);
	if (b->placed == b->raw_first)
		return 0;
	int rc = emit_section(b, b->raw.p, b->raw.len, ST_SECT_DATA, 0, b->raw_first,
			      b->placed - b->raw_first);
	b->raw.len = 0;
	b->raw_first = b->placed;
	return rc;
}

static int check_add(const struct st_block_builder *b, uint32_t id, enum st_value_type vt,
		     const int64_t *ts, const uint64_t *vals, size_t n)
{
	if (b->broken || b->finished || !vt_ok(vt) || n == 0 || !ts || !vals)
		return -EINVAL;
	if (b->nseries && id <= b->last_id)
		return -EINVAL;
	if (n > ST_BLOCK_MAX_SERIES_POINTS)
		return -E2BIG;
	for (size_t i = 1; i < n; i++)
		if (ts[i] <= ts[i - 1])
			return -EINVAL;
	if (vt == ST_VT_BOOL)
		for (size_t i = 0; i < n; i++)
			if (vals[i] > 1)
				return -EINVAL;
	if (ts[0] < b->cfg.part_start_ns || ts[n - 1] >= b->cfg.part_end_ns)
		return -ERANGE;
	return 0;
}

/* Encode one chunk's two columns into the stage and its entry into the chunk table. */
static int add_chunk(struct st_block_builder *b, enum st_value_type vt, const int64_t *ts,
		     const uint64_t *vals, uint32_t n)
{
	size_t max = st_col_max_bytes(n);
	if (buf_reserve(&b->stage, 2 * max) || buf_reserve(&b->chunks, sizeof(struct st_fmt_chunk)))
		return -ENOMEM;
	struct st_block_summary s;
	summarize(vt, ts, vals, n, &s);
	struct st_fmt_chunk e = {.t_min = s.t_min, .t_max = s.t_max, .min = s.min, .max = s.max,
				 .first = s.first, .last = s.last, .sum = s.sum.u64,
				 .count = n, .flags = (uint8_t)s.flags};
	int tl = st_col_encode_best(&b->chooser, ST_COL_ROLE_TS, ST_VT_I64, (const uint64_t *)ts,
				    n, b->stage.p + b->stage.len, max, &e.ts_codec);
	if (tl < 0)
		return -EIO;
	b->stage.len += (size_t)tl;
	int vl = st_col_encode_best(&b->chooser, ST_COL_ROLE_VALUES, vt, vals, n,
				    b->stage.p + b->stage.len, max, &e.val_codec);
	if (vl < 0)
		return -EIO;
	b->stage.len += (size_t)vl;
	e.ts_bytes = (uint32_t)tl;
	e.val_bytes = (uint32_t)vl;
	memcpy(b->chunks.p + b->chunks.len, &e, sizeof(e));
	b->chunks.len += sizeof(e);
	b->nchunks++;
	return 0;
}

/* Move the staged chunks [from, b->nchunks) into data sections. */
static int place_chunks(struct st_block_builder *b, uint32_t from)
{
	size_t sb = b->cfg.section_bytes;
	/* A series that fits in a section starts a new one rather than straddle two. */
	if (b->raw.len && b->raw.len + b->stage.len > sb && b->stage.len <= sb) {
		int rc = close_data_section(b);
		if (rc)
			return rc;
	}
	size_t at = 0;
	const struct st_fmt_chunk *e = (const struct st_fmt_chunk *)b->chunks.p;
	for (uint32_t c = from; c < b->nchunks; c++) {
		size_t len = (size_t)e[c].ts_bytes + e[c].val_bytes;
		if (b->raw.len && b->raw.len + len > sb) {
			int rc = close_data_section(b);
			if (rc)
				return rc;
		}
		if (buf_append(&b->raw, b->stage.p + at, len))
			return -ENOMEM;
		at += len;
		b->placed++;
	}
	assert(at == b->stage.len && b->placed == b->nchunks);
	b->stage.len = 0;
	return 0;
}

/* The points of the next chunk of ts[0..n): chunk_points at most, none past a span boundary. */
static size_t chunk_len(const struct st_block_builder *b, const int64_t *ts, size_t n)
{
	size_t k = CM_MIN((size_t)b->cfg.chunk_points, n);
	if (b->cfg.chunk_span_ns <= 0)
		return k;
	/* the first point at or past the next boundary (ts[0] is before it), or k */
	return st_ts_lower_bound(ts, k, cm_next_multiple(ts[0], b->cfg.chunk_span_ns));
}

int st_block_builder_add(struct st_block_builder *b, uint32_t series_id, enum st_value_type vt,
			 const int64_t *ts, const uint64_t *vals, size_t n)
{
	int rc = check_add(b, series_id, vt, ts, vals, n);
	if (rc)
		return rc;
	uint32_t from = b->nchunks;
	/* at most a chunk per chunk_points points plus one per span boundary crossed, and
	 * never more chunks than points (a tiny span crosses many boundaries between two) */
	uint64_t cp = b->cfg.chunk_points, most = (n + cp - 1) / cp;
	if (b->cfg.chunk_span_ns > 0)
		most += (uint64_t)cm_floor_div(ts[n - 1], b->cfg.chunk_span_ns) -
			(uint64_t)cm_floor_div(ts[0], b->cfg.chunk_span_ns);
	most = CM_MIN(most, (uint64_t)n);
	if ((uint64_t)b->nchunks + most > UINT32_MAX)
		return -E2BIG;
	if (buf_reserve(&b->series, sizeof(struct st_fmt_series)))
		return -ENOMEM;
	b->stage.len = 0;
	for (size_t i = 0, k; i < n; i += k) {
		k = chunk_len(b, ts + i, n - i);
		rc = add_chunk(b, vt, ts + i, vals + i, (uint32_t)k);
		if (rc)
			goto err_broken;
	}
	rc = place_chunks(b, from);
	if (rc)
		goto err_broken;
	struct st_fmt_series se = {.series_id = series_id, .nchunks = b->nchunks - from,
				   .vtype = (uint8_t)vt};
	memcpy(b->series.p + b->series.len, &se, sizeof(se));
	b->series.len += sizeof(se);
	if (!b->nseries || ts[0] < b->t_min)
		b->t_min = ts[0];
	if (!b->nseries || ts[n - 1] > b->t_max)
		b->t_max = ts[n - 1];
	b->nseries++;
	b->last_id = series_id;
	b->npoints += n;
	return 0;

err_broken:
	b->broken = true;
	return rc;
}

/* An index array as shuffled sections of at most INDEX_SECTION_RAW bytes. */
static int emit_index(struct st_block_builder *b, const uint8_t *arr, size_t count, size_t elem,
		      uint8_t kind)
{
	size_t per = INDEX_SECTION_RAW / elem;
	uint8_t *tmp = malloc(CM_MIN(count, per) * elem);
	if (!tmp)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < count && !rc; i += per) {
		size_t k = CM_MIN(per, count - i);
		shuffle(tmp, arr + i * elem, k, elem);
		rc = emit_section(b, tmp, k * elem, kind, (uint16_t)elem, 0, (uint32_t)k);
	}
	free(tmp);
	return rc;
}

int st_block_builder_finish(struct st_block_builder *b, uint8_t **image, size_t *len)
{
	*image = NULL;
	*len = 0;
	if (b->broken || b->finished)
		return -EINVAL;
	if (!b->nseries)
		return -ENODATA;
	b->finished = true;
	int rc = close_data_section(b);
	if (!rc)
		rc = emit_index(b, b->series.p, b->nseries, sizeof(struct st_fmt_series),
				ST_SECT_SERIES);
	if (!rc)
		rc = emit_index(b, b->chunks.p, b->nchunks, sizeof(struct st_fmt_chunk),
				ST_SECT_CHUNKS);
	if (rc)
		return rc;

	assert(b->placed == b->nchunks && b->raw.len == 0);
	uint64_t index_off = b->img.len;
	uint32_t nsects = (uint32_t)(b->sects.len / SECT_BYTES);
	size_t end = b->img.len + b->sects.len;
	size_t total = CM_ALIGN_UP(end + FTR_BYTES, (size_t)ST_BLOCK_ALIGN);
	assert(total % ST_BLOCK_ALIGN == 0 && total >= end + FTR_BYTES);
	if (buf_reserve(&b->img, total - b->img.len))
		return -ENOMEM;
	memcpy(b->img.p + b->img.len, b->sects.p, b->sects.len);
	memset(b->img.p + end, 0, total - end);

	struct st_fmt_block_footer f = {
		.index_off = index_off, .file_bytes = total, .npoints = b->npoints,
		.nchunks = b->nchunks, .nsections = nsects, .nseries = b->nseries,
		.table_crc = cm_crc32c(0, b->sects.p, b->sects.len),
		.version = ST_BLOCK_VERSION, .footer_bytes = FTR_BYTES,
		.magic = ST_BLOCK_FOOTER_MAGIC,
	};
	f.crc = cm_crc32c(0, &f, offsetof(struct st_fmt_block_footer, crc));
	memcpy(b->img.p + total - FTR_BYTES, &f, FTR_BYTES);

	struct st_fmt_block_header h = {
		.magic = ST_BLOCK_MAGIC, .version = ST_BLOCK_VERSION, .header_bytes = HDR_BYTES,
		.shard_id = b->cfg.shard_id, .part_start_ns = b->cfg.part_start_ns,
		.part_end_ns = b->cfg.part_end_ns, .t_min = b->t_min, .t_max = b->t_max,
		.nseries = b->nseries, .chunk_points = b->cfg.chunk_points,
	};
	h.crc = cm_crc32c(0, &h, offsetof(struct st_fmt_block_header, crc));
	memcpy(b->img.p, &h, HDR_BYTES);

	/* aligned for O_DIRECT, like the length (one copy of the compressed image) */
	void *p;
	if (posix_memalign(&p, ST_BLOCK_ALIGN, total))
		return -ENOMEM;
	memcpy(p, b->img.p, total);
	free(b->img.p);
	b->img = (struct buf){0};
	*image = p;
	*len = total;
	return 0;
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

struct blk_series {
	uint32_t id;
	uint32_t first_chunk;
	uint32_t nchunks;
	uint8_t vt;
};

/* Where a chunk's columns are: data section, offset in its raw bytes, lengths, codecs. */
struct blk_loc {
	uint32_t sect;
	uint32_t off;
	uint32_t ts_bytes;
	uint32_t val_bytes;
	uint8_t ts_codec;
	uint8_t val_codec;
};

struct blk_sect {
	uint64_t offset;
	uint32_t stored;
	uint32_t raw;
	uint32_t crc;
	uint32_t first;
	uint32_t count;
	uint8_t comp;
};

struct st_block {
	st_block_read_fn read;
	void *ctx;
	struct st_block_info info;
	struct blk_series *series;        /* info.nseries, by id */
	struct st_block_summary *sums;    /* info.nchunks */
	struct blk_loc *locs;             /* info.nchunks */
	struct blk_sect *sects;           /* data sections */
	uint32_t nsects;
	uint64_t pad_from;                /* padding: [pad_from, file_bytes - 64) */
	struct st_scache *scache;         /* decompressed sections of reads, or NULL */
	uint64_t serial;                  /* the block's owner id in scache */
};

/*
 * zstd decompression contexts: one per reading thread, kept in a pthread key
 * and freed when the thread exits (making one costs about 20 us, a quarter
 * of a whole-series read). Calls that cannot get the thread's context make
 * their own and free it. A slot says which it holds.
 */
struct dctx_slot {
	ZSTD_DCtx *d;
	bool owned;
};

static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;
static bool dctx_key_ok;    /* written once, under dctx_once */

static void dctx_destroy(void *d)
{
	ZSTD_freeDCtx(d);
}

static void dctx_key_init(void)
{
	dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

static ZSTD_DCtx *dctx_get(struct dctx_slot *slot)
{
	if (slot->d)
		return slot->d;
	pthread_once(&dctx_once, dctx_key_init);
	if (dctx_key_ok && (slot->d = pthread_getspecific(dctx_key)))
		return slot->d;
	slot->d = ZSTD_createDCtx();
	slot->owned = true;
	if (slot->d && dctx_key_ok && pthread_setspecific(dctx_key, slot->d) == 0)
		slot->owned = false;
	return slot->d;
}

static void dctx_put(struct dctx_slot *slot)
{
	if (slot->owned)
		ZSTD_freeDCtx(slot->d);
	*slot = (struct dctx_slot){0};
}

static int bad(char *err, size_t errlen, const char *fmt, ...) CM_PRINTF(3, 4);

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static int io(const struct st_block *b, uint64_t off, void *buf, size_t len, char *err,
	      size_t errlen, const char *what)
{
	int rc = b->read(b->ctx, off, buf, len);
	if (rc && err && errlen)
		snprintf(err, errlen, "read of %s (%zu bytes at %llu) failed: %s", what, len,
			 (unsigned long long)off, strerror(-rc));
	return rc > 0 ? -EIO : rc;
}

/*
 * Read a section's stored bytes, check the CRC, decompress: *raw (malloc'd,
 * caller frees) holds raw bytes. 0, -EBADMSG, -errno or -ENOMEM.
 */
static int load_section(const struct st_block *b, uint64_t off, uint32_t stored, uint32_t raw_len,
			uint32_t crc, uint8_t comp, struct dctx_slot *dctx, uint8_t **raw, char *err,
			size_t errlen, const char *what)
{
	*raw = NULL;
	uint8_t *s = malloc(stored ? stored : 1);
	if (!s)
		return -ENOMEM;
	int rc = io(b, off, s, stored, err, errlen, what);
	if (rc)
		goto err_free;
	uint32_t got = cm_crc32c(0, s, stored);
	if (got != crc) {
		rc = bad(err, errlen, "%s: crc mismatch (stored 0x%08x, computed 0x%08x)", what, crc,
			 got);
		goto err_free;
	}
	if (comp == ST_COMP_NONE) {
		*raw = s;
		return 0;
	}
	uint8_t *r = malloc(raw_len ? raw_len : 1);
	if (!r) {
		rc = -ENOMEM;
		goto err_free;
	}
	ZSTD_DCtx *d = dctx_get(dctx);
	if (!d) {
		free(r);
		rc = -ENOMEM;
		goto err_free;
	}
	size_t z = ZSTD_decompressDCtx(d, r, raw_len, s, stored);
	if (ZSTD_isError(z) || z != raw_len) {
		free(r);
		rc = bad(err, errlen, "%s: zstd frame does not decompress to %u bytes", what,
			 raw_len);
		goto err_free;
	}
	free(s);
	*raw = r;
	return 0;

err_free:
	free(s);
	return rc;
}

/* --------------------------------------------------------------- open */

struct open_state {
	struct st_fmt_block_footer f;
	struct st_fmt_block_header h;
	struct st_fmt_section *table;
	struct st_fmt_series *series;
	struct st_fmt_chunk *chunks;
	struct dctx_slot dctx;
	char *err;
	size_t errlen;
};

static int check_footer_header(struct st_block *b, struct open_state *o, uint64_t file_len)
{
	const struct st_fmt_block_footer *f = &o->f;
	const struct st_fmt_block_header *h = &o->h;
	if (f->magic != ST_BLOCK_FOOTER_MAGIC)
		return bad(o->err, o->errlen, "footer: bad magic 0x%08x (file truncated or not a block)",
			   f->magic);
	uint32_t crc = cm_crc32c(0, f, offsetof(struct st_fmt_block_footer, crc));
	if (crc != f->crc)
		return bad(o->err, o->errlen, "footer: crc mismatch");
	if (f->version != ST_BLOCK_VERSION || f->footer_bytes != FTR_BYTES)
		return bad(o->err, o->errlen, "footer: unsupported version %u", f->version);
	if (f->file_bytes != file_len)
		return bad(o->err, o->errlen, "footer: file is %llu bytes, footer says %llu",
			   (unsigned long long)file_len, (unsigned long long)f->file_bytes);
	if (f->reserved || f->reserved2)
		return bad(o->err, o->errlen, "footer: reserved fields not zero");
	if (f->nsections < 3 || f->index_off < HDR_BYTES ||
	    f->index_off > file_len - FTR_BYTES ||
	    (uint64_t)f->nsections * SECT_BYTES > file_len - FTR_BYTES - f->index_off)
		return bad(o->err, o->errlen, "footer: section table (%u at %llu) out of bounds",
			   f->nsections, (unsigned long long)f->index_off);
	if (h->magic != ST_BLOCK_MAGIC)
		return bad(o->err, o->errlen, "header: bad magic 0x%08x", h->magic);
	crc = cm_crc32c(0, h, offsetof(struct st_fmt_block_header, crc));
	if (crc != h->crc)
		return bad(o->err, o->errlen, "header: crc mismatch");
	if (h->version != ST_BLOCK_VERSION || h->header_bytes != HDR_BYTES || h->flags ||
	    h->reserved)
		return bad(o->err, o->errlen, "header: unsupported version %u or flags", h->version);
	if (h->nseries != f->nseries || h->nseries == 0 || f->nchunks < h->nseries)
		return bad(o->err, o->errlen, "header: %u series, footer %u series and %u chunks",
			   h->nseries, f->nseries, f->nchunks);
	if (h->part_start_ns >= h->part_end_ns || h->t_min > h->t_max ||
	    h->t_min < h->part_start_ns || h->t_max >= h->part_end_ns)
		return bad(o->err, o->errlen, "header: time range outside the partition");
	b->info = (struct st_block_info){
		.shard_id = h->shard_id, .part_start_ns = h->part_start_ns,
		.part_end_ns = h->part_end_ns, .t_min = h->t_min, .t_max = h->t_max,
		.nseries = h->nseries, .npoints = f->npoints, .nchunks = f->nchunks,
		.file_bytes = file_len,
	};
	b->pad_from = f->index_off + (uint64_t)f->nsections * SECT_BYTES;
	return 0;
}

/* Section order, contiguity, kinds, and the counts they promise. */
static int check_table(struct st_block *b, struct open_state *o)
{
	uint64_t at = HDR_BYTES;
	uint32_t phase = ST_SECT_DATA, chunks = 0, nser = 0, nchk = 0;
	for (uint32_t i = 0; i < o->f.nsections; i++) {
		const struct st_fmt_section *s = &o->table[i];
		if (s->offset != at || s->stored_bytes > o->f.index_off - at)
			return bad(o->err, o->errlen, "section %u: not contiguous or out of bounds", i);
		at += s->stored_bytes;
		/* data sections, then series sections, then chunk sections */
		if (s->kind < phase || s->kind > phase + 1 || s->kind > ST_SECT_CHUNKS)
			return bad(o->err, o->errlen, "section %u: kind %u out of order", i, s->kind);
		phase = s->kind;
		/* (claims zstd cannot back are refused before anything is allocated for them) */
		if (s->comp > ST_COMP_ZSTD || (s->comp == ST_COMP_NONE && s->raw_bytes != s->stored_bytes) ||
		    (uint64_t)s->raw_bytes > (uint64_t)s->stored_bytes * ZSTD_MAX_EXPANSION ||
		    s->raw_bytes > ST_BLOCK_MAX_SECTION_RAW || s->count == 0)
			return bad(o->err, o->errlen, "section %u: bad compression or sizes", i);
		if (s->kind == ST_SECT_DATA) {
			if (s->shuffle || s->first != chunks || s->count > o->f.nchunks - chunks)
				return bad(o->err, o->errlen, "section %u: bad chunk range", i);
			chunks += s->count;
			b->sects[b->nsects++] = (struct blk_sect){
				.offset = s->offset, .stored = s->stored_bytes, .raw = s->raw_bytes,
				.crc = s->crc, .first = s->first, .count = s->count, .comp = s->comp};
			continue;
		}
		size_t elem = s->kind == ST_SECT_SERIES ? sizeof(struct st_fmt_series)
							: sizeof(struct st_fmt_chunk);
		uint32_t *n = s->kind == ST_SECT_SERIES ? &nser : &nchk;
		uint32_t limit = s->kind == ST_SECT_SERIES ? o->f.nseries : o->f.nchunks;
		if (s->shuffle != elem || s->first || (uint64_t)s->count * elem != s->raw_bytes ||
		    s->count > limit - *n)
			return bad(o->err, o->errlen, "section %u: bad index section sizes", i);
		*n += s->count;
	}
	if (at != o->f.index_off || phase != ST_SECT_CHUNKS || chunks != o->f.nchunks ||
	    nser != o->f.nseries || nchk != o->f.nchunks)
		return bad(o->err, o->errlen, "section table: sections do not cover the index");
	return 0;
}

/* Read the index sections of one kind into dst (count * elem bytes). */
static int read_index(struct st_block *b, struct open_state *o, uint8_t kind, uint8_t *dst,
		      size_t elem)
{
	for (uint32_t i = 0; i < o->f.nsections; i++) {
		const struct st_fmt_section *s = &o->table[i];
		if (s->kind != kind)
			continue;
		char what[48];
		snprintf(what, sizeof(what), "section %u (%s)", i,
			 kind == ST_SECT_SERIES ? "series" : "chunks");
		uint8_t *raw;
		int rc = load_section(b, s->offset, s->stored_bytes, s->raw_bytes, s->crc, s->comp,
				      &o->dctx, &raw, o->err, o->errlen, what);
		if (rc)
			return rc;
		unshuffle(dst, raw, s->count, elem);
		dst += (size_t)s->count * elem;
		free(raw);
	}
	return 0;
}

static int check_chunk(struct st_block *b, struct open_state *o, const struct blk_series *s,
		       uint32_t c)
{
	const struct st_fmt_chunk *e = &o->chunks[c];
	if (e->count == 0 || e->count > ST_BLOCK_MAX_CHUNK_POINTS || e->t_min > e->t_max ||
	    (uint64_t)e->t_max - (uint64_t)e->t_min < e->count - 1u ||
	    (e->count == 1) != (e->t_min == e->t_max))
		return bad(o->err, o->errlen, "chunk %u of series %u: bad count or time range", c,
			   s->id);
	if (e->t_min < b->info.t_min || e->t_max > b->info.t_max)
		return bad(o->err, o->errlen, "chunk %u of series %u: outside the block's time range",
			   c, s->id);
	if (c > s->first_chunk && e->t_min <= o->chunks[c - 1].t_max)
		return bad(o->err, o->errlen, "chunk %u of series %u: overlaps the one before", c,
			   s->id);
	if (!st_col_codec_valid(e->ts_codec, ST_COL_ROLE_TS, ST_VT_I64) ||
	    !st_col_codec_valid(e->val_codec, ST_COL_ROLE_VALUES, (enum st_value_type)s->vt) ||
	    (e->flags & ~(uint8_t)(ST_FMT_SUM_OVERFLOW | ST_FMT_HAS_NAN)) || e->reserved)
		return bad(o->err, o->errlen, "chunk %u of series %u: bad codec or flags", c, s->id);
	b->sums[c] = (struct st_block_summary){
		.t_min = e->t_min, .t_max = e->t_max, .min = e->min, .max = e->max,
		.first = e->first, .last = e->last, .sum = {.u64 = e->sum},
		.count = e->count, .flags = e->flags};
	b->locs[c] = (struct blk_loc){.ts_bytes = e->ts_bytes, .val_bytes = e->val_bytes,
				      .ts_codec = e->ts_codec, .val_codec = e->val_codec};
	return 0;
}

/* Series directory and chunk table: order, counts, ranges, codecs; fills the index. */
static int check_index(struct st_block *b, struct open_state *o)
{
	uint32_t next = 0;
	uint64_t npoints = 0;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;
	for (uint32_t i = 0; i < b->info.nseries; i++) {
		const struct st_fmt_series *e = &o->series[i];
		if ((i && e->series_id <= o->series[i - 1].series_id) ||
		    !vt_ok((enum st_value_type)e->vtype) || e->nchunks == 0 ||
		    e->nchunks > b->info.nchunks - next || e->reserved[0] || e->reserved[1] ||
		    e->reserved[2])
			return bad(o->err, o->errlen, "series entry %u (id %u): bad id, type or chunks",
				   i, e->series_id);
		struct blk_series *s = &b->series[i];
		*s = (struct blk_series){.id = e->series_id, .first_chunk = next,
					 .nchunks = e->nchunks, .vt = e->vtype};
		uint64_t pts = 0;
		for (uint32_t c = next; c < next + e->nchunks; c++) {
			int rc = check_chunk(b, o, s, c);
			if (rc)
				return rc;
			pts += o->chunks[c].count;
			tmin = CM_MIN(tmin, o->chunks[c].t_min);
			tmax = CM_MAX(tmax, o->chunks[c].t_max);
		}
		if (pts > ST_BLOCK_MAX_SERIES_POINTS)
			return bad(o->err, o->errlen, "series %u: too many points", s->id);
		npoints += pts;
		next += e->nchunks;
	}
	if (next != b->info.nchunks || npoints != b->info.npoints || tmin != b->info.t_min ||
	    tmax != b->info.t_max)
		return bad(o->err, o->errlen, "index: chunk, point counts or time range disagree with the header");
	/* Chunk locations: each data section holds its chunks' columns back to back. */
	for (uint32_t si = 0; si < b->nsects; si++) {
		const struct blk_sect *d = &b->sects[si];
		uint64_t off = 0;
		for (uint32_t c = d->first; c < d->first + d->count; c++) {
			b->locs[c].sect = si;
			b->locs[c].off = (uint32_t)off;
			off += (uint64_t)b->locs[c].ts_bytes + b->locs[c].val_bytes;
			if (off > d->raw)
				break;
		}
		if (off != d->raw)
			return bad(o->err, o->errlen, "data section %u: chunk columns add up to %llu bytes, not %u",
				   si, (unsigned long long)off, d->raw);
	}
	return 0;
}

static int open_index(struct st_block *b, struct open_state *o, uint64_t file_len)
{
	int rc;
	if (file_len < HDR_BYTES + FTR_BYTES || file_len % ST_BLOCK_ALIGN)
		return bad(o->err, o->errlen, "file of %llu bytes: too short or not a multiple of %u",
			   (unsigned long long)file_len, ST_BLOCK_ALIGN);
	if ((rc = io(b, file_len - FTR_BYTES, &o->f, FTR_BYTES, o->err, o->errlen, "footer")) ||
	    (rc = io(b, 0, &o->h, HDR_BYTES, o->err, o->errlen, "header")) ||
	    (rc = check_footer_header(b, o, file_len)))
		return rc;
	size_t tbytes = (size_t)o->f.nsections * SECT_BYTES;
	o->table = malloc(tbytes);
	b->sects = malloc((size_t)o->f.nsections * sizeof(*b->sects));
	if (!o->table || !b->sects)
		return -ENOMEM;
	if ((rc = io(b, o->f.index_off, o->table, tbytes, o->err, o->errlen, "section table")))
		return rc;
	if (cm_crc32c(0, o->table, tbytes) != o->f.table_crc)
		return bad(o->err, o->errlen, "section table: crc mismatch");
	if ((rc = check_table(b, o)))
		return rc;
	size_t ns = b->info.nseries, nc = b->info.nchunks;
	o->series = malloc(ns * sizeof(*o->series));
	o->chunks = malloc(nc * sizeof(*o->chunks));
	b->series = malloc(ns * sizeof(*b->series));
	b->sums = malloc(nc * sizeof(*b->sums));
	b->locs = malloc(nc * sizeof(*b->locs));
	if (!o->series || !o->chunks || !b->series || !b->sums || !b->locs)
		return -ENOMEM;
	if ((rc = read_index(b, o, ST_SECT_SERIES, (uint8_t *)o->series, sizeof(*o->series))) ||
	    (rc = read_index(b, o, ST_SECT_CHUNKS, (uint8_t *)o->chunks, sizeof(*o->chunks))))
		return rc;
	return check_index(b, o);
}

int st_block_open(uint64_t file_len, st_block_read_fn read, void *ctx, struct st_block **out,
		  char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	struct st_block *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->read = read;
	b->ctx = ctx;
	struct open_state o = {.err = err, .errlen = errlen};
	int rc = open_index(b, &o, file_len);
	free(o.table);
	free(o.series);
	free(o.chunks);
	dctx_put(&o.dctx);
	if (rc) {
		st_block_close(b);
		return rc;
	}
	/* Shrink the section array to the data sections. */
	struct blk_sect *s = realloc(b->sects, b->nsects * sizeof(*s));
	if (s)
		b->sects = s;
	b->info.index_bytes_resident = sizeof(*b) + b->info.nseries * sizeof(*b->series) +
				       b->info.nchunks * (sizeof(*b->sums) + sizeof(*b->locs)) +
				       b->nsects * sizeof(*b->sects);
	*out = b;
	return 0;
}

void st_block_set_cache(struct st_block *b, struct st_scache *c)
{
	b->scache = c;
	b->serial = c ? st_scache_serial() : 0;
}

void st_block_close(struct st_block *b)
{
	if (!b)
		return;
	if (b->scache)
		st_scache_forget(b->scache, b->serial);
	free(b->series);
	free(b->sums);
	free(b->locs);
	free(b->sects);
	free(b);
}

/* ---------------------------------------------------------- lookups */

void st_block_get_info(const struct st_block *b, struct st_block_info *out)
{
	*out = b->info;
}

uint32_t st_block_series_count(const struct st_block *b)
{
	return b->info.nseries;
}

void st_block_series_at(const struct st_block *b, uint32_t i, uint32_t *series_id,
			enum st_value_type *vt)
{
	assert(i < b->info.nseries);
	if (series_id)
		*series_id = b->series[i].id;
	if (vt)
		*vt = (enum st_value_type)b->series[i].vt;
}

static const struct blk_series *find_series(const struct st_block *b, uint32_t id)
{
	uint32_t lo = 0, hi = b->info.nseries;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (b->series[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->info.nseries && b->series[lo].id == id ? &b->series[lo] : NULL;
}

bool st_block_has_series(const struct st_block *b, uint32_t series_id)
{
	return find_series(b, series_id) != NULL;
}

int st_block_summaries(const struct st_block *b, uint32_t series_id,
		       const struct st_block_summary **out, uint32_t *n)
{
	const struct blk_series *s = find_series(b, series_id);
	*out = s ? &b->sums[s->first_chunk] : NULL;
	*n = s ? s->nchunks : 0;
	return s ? 0 : -ENOENT;
}

/* ------------------------------------------------------------- reads */

/*
 * The decompressed data section a read is at, loaded on demand: from the
 * block's section cache when it has one and the read may use it (shared;
 * not the scrub, which must read the file), else owned by the read.
 */
struct sect_cache {
	uint32_t idx;     /* UINT32_MAX: none */
	const uint8_t *raw;
	struct st_scache_ref ref; /* ref.e NULL: raw is the read's own */
	bool shared;      /* may use b->scache */
	struct dctx_slot dctx;
};

static void cache_drop(const struct st_block *b, struct sect_cache *sc)
{
	if (sc->ref.e)
		st_scache_release(b->scache, &sc->ref);
	else
		free((void *)sc->raw);
	sc->raw = NULL;
	sc->idx = UINT32_MAX;
}

static int cache_load(const struct st_block *b, struct sect_cache *sc, uint32_t idx, char *err,
		      size_t errlen)
{
	if (sc->idx == idx)
		return 0;
	cache_drop(b, sc);
	bool shared = sc->shared && b->scache;
	if (shared && st_scache_get(b->scache, b->serial, idx, &sc->ref) == 0) {
		sc->raw = sc->ref.raw;
		sc->idx = idx;
		return 0;
	}
	const struct blk_sect *d = &b->sects[idx];
	char what[40];
	snprintf(what, sizeof(what), "data section %u", idx);
	uint8_t *raw;
	int rc = load_section(b, d->offset, d->stored, d->raw, d->crc, d->comp, &sc->dctx, &raw,
			      err, errlen, what);
	if (rc)
		return rc;
	if (shared) {
		if ((rc = st_scache_put(b->scache, b->serial, idx, raw, d->raw, &sc->ref)))
			return rc;
		sc->raw = sc->ref.raw;
	} else {
		sc->raw = raw;
	}
	sc->idx = idx;
	return 0;
}

static void cache_release(const struct st_block *b, struct sect_cache *sc)
{
	cache_drop(b, sc);
	dctx_put(&sc->dctx);
}

/* Decode chunk c's columns into ts[count], vals[count], with the read-path checks. */
static int decode_chunk(const struct st_block *b, const uint8_t *raw, uint32_t c, int64_t *ts,
			uint64_t *vals)
{
	const struct st_block_summary *s = &b->sums[c];
	const struct blk_loc *l = &b->locs[c];
	const uint8_t *p = raw + l->off;
	/* open checked that the columns lie inside the section (validity rule 7) */
	assert((uint64_t)l->off + l->ts_bytes + l->val_bytes <= b->sects[l->sect].raw);
	if (st_col_decode(l->ts_codec, p, l->ts_bytes, s->count, (uint64_t)s->t_min,
			  (uint64_t)s->t_max, (uint64_t *)ts) ||
	    st_col_decode(l->val_codec, p + l->ts_bytes, l->val_bytes, s->count, s->first, s->last,
			  vals))
		return -EBADMSG;
	bool sorted = true;
	for (uint32_t i = 1; i < s->count; i++)
		sorted &= ts[i] > ts[i - 1];
	return sorted ? 0 : -EBADMSG;
}


int st_block_read(const struct st_block *b, uint32_t series_id, int64_t t_min, int64_t t_max,
		  struct st_points *out)
{
	return st_block_read_skip(b, series_id, t_min, t_max, NULL, NULL, out);
}

int st_block_read_skip(const struct st_block *b, uint32_t series_id, int64_t t_min,
		       int64_t t_max, st_block_skip_fn skip, void *arg, struct st_points *out)
{
	const struct blk_series *s = find_series(b, series_id);
	if (!s || t_min > t_max)
		return 0;
	uint32_t lo = s->first_chunk + st_block_chunk_from(&b->sums[s->first_chunk], s->nchunks,
							     t_min);
	uint32_t end = s->first_chunk + s->nchunks;
	/* without skip, room for every chunk in range at once: one allocation, no regrowth
	 * (skip is seen once per chunk: it may keep the summaries it takes) */
	size_t want = 0;
	for (uint32_t c = lo; !skip && c < end && b->sums[c].t_min <= t_max; c++)
		want += b->sums[c].count;
	size_t n0 = out->n;
	struct sect_cache sc = {.idx = UINT32_MAX, .shared = true};
	int rc = st_points_reserve(out, want);
	for (uint32_t c = lo; rc == 0 && c < end && b->sums[c].t_min <= t_max; c++) {
		uint32_t count = b->sums[c].count;
		if (skip && skip(arg, &b->sums[c]))
			continue;
		if ((rc = cache_load(b, &sc, b->locs[c].sect, NULL, 0)) ||
		    (rc = st_points_reserve(out, count)))
			break;
		int64_t *ts = out->ts + out->n;
		if ((rc = decode_chunk(b, sc.raw, c, ts, out->vals + out->n)))
			break;
		uint32_t from = b->sums[c].t_min >= t_min ? 0 : (uint32_t)st_ts_lower_bound(ts, count, t_min);
		uint32_t to = b->sums[c].t_max <= t_max ? count
			    : (t_max == INT64_MAX ? count : (uint32_t)st_ts_lower_bound(ts, count, t_max + 1));
		if (from) {
			memmove(ts, ts + from, (size_t)(to - from) * sizeof(*ts));
			memmove(out->vals + out->n, out->vals + out->n + from,
				(size_t)(to - from) * sizeof(*out->vals));
		}
		out->n += to - from;
	}
	cache_release(b, &sc);
	if (rc) {
		out->n = n0;
		return rc;
	}
	return (int)(out->n - n0);
}

/* ------------------------------------------------------------ verify */

static bool summary_equal(const struct st_block_summary *a, const struct st_block_summary *b)
{
	return a->t_min == b->t_min && a->t_max == b->t_max && a->min == b->min &&
	       a->max == b->max && a->first == b->first && a->last == b->last &&
	       a->sum.u64 == b->sum.u64 && a->count == b->count && a->flags == b->flags;
}

static int verify_padding(const struct st_block *b, char *err, size_t errlen)
{
	uint64_t from = b->pad_from, to = b->info.file_bytes - FTR_BYTES;
	uint8_t buf[4096];
	while (from < to) {
		size_t len = (size_t)CM_MIN(to - from, (uint64_t)sizeof(buf));
		int rc = io(b, from, buf, len, err, errlen, "padding");
		if (rc)
			return rc;
		for (size_t i = 0; i < len; i++)
			if (buf[i])
				return bad(err, errlen, "padding: nonzero byte at %llu",
					   (unsigned long long)(from + i));
		from += len;
	}
	return 0;
}

int st_block_verify(const struct st_block *b, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	int64_t *ts = malloc(ST_BLOCK_MAX_CHUNK_POINTS * sizeof(*ts));
	uint64_t *vals = malloc(ST_BLOCK_MAX_CHUNK_POINTS * sizeof(*vals));
	struct sect_cache sc = {.idx = UINT32_MAX};
	int rc = ts && vals ? 0 : -ENOMEM;
	for (uint32_t i = 0; i < b->info.nseries && !rc; i++) {
		const struct blk_series *s = &b->series[i];
		for (uint32_t c = s->first_chunk; c < s->first_chunk + s->nchunks && !rc; c++) {
			if ((rc = cache_load(b, &sc, b->locs[c].sect, err, errlen)))
				break;
			struct st_block_summary sum;
			if (decode_chunk(b, sc.raw, c, ts, vals)) {
				rc = bad(err, errlen, "chunk %u of series %u: columns do not decode", c,
					 s->id);
				break;
			}
			summarize((enum st_value_type)s->vt, ts, vals, b->sums[c].count, &sum);
			if (!summary_equal(&sum, &b->sums[c]))
				rc = bad(err, errlen, "chunk %u of series %u: summary does not match the data",
					 c, s->id);
			for (uint32_t k = 0; !rc && s->vt == ST_VT_BOOL && k < sum.count; k++)
				if (vals[k] > 1)
					rc = bad(err, errlen, "chunk %u of series %u: bool value %llu", c,
						 s->id, (unsigned long long)vals[k]);
		}
	}
	if (!rc)
		rc = verify_padding(b, err, errlen);
	cache_release(b, &sc);
	free(ts);
	free(vals);
	return rc;
}

int st_block_mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct st_block_mem *m = ctx;
	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}
