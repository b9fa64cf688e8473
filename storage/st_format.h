/*
 * st_format.h - the bytes StreamFlow writes to disk. Logic-free: magic
 * numbers, versions, layouts and codec ids, with static_asserts on every size
 * and offset. The prose specs, with what makes a file valid and what a
 * reader checks, are in docs/formats/ (block.md for blocks).
 *
 * All integers are little-endian. Every struct here is laid out without
 * padding (natural alignment, checked below), so it is read and written with
 * memcpy on a little-endian host.
 */
#ifndef ST_FORMAT_H
#define ST_FORMAT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* ===== block ===== */
/*
 * A block: the points of many series of one shard for one time partition,
 * written once by the flusher (storage/st_block.c), read by query threads.
 *
 *   offset 0            struct st_fmt_block_header (64 bytes)
 *   64                  data sections, back to back, in chunk order
 *   ...                 the series directory section (ST_SECT_SERIES)
 *   ...                 the chunk table section (ST_SECT_CHUNKS)
 *   index_off           the section table: nsections struct st_fmt_section,
 *                       data sections first, then the two index sections
 *   ...                 zeros up to file_bytes - 64
 *   file_bytes - 64     struct st_fmt_block_footer (64 bytes)
 *
 * file_bytes is a multiple of ST_BLOCK_ALIGN. A data section holds, for each
 * of its chunks in order, the chunk's timestamp column then its value
 * column (column codecs below). The two index sections hold arrays of
 * struct st_fmt_series and struct st_fmt_chunk, byte-shuffled (byte b of
 * element i at b * count + i) and then compressed.
 */

#define ST_BLOCK_MAGIC 0x4b424653u          /* "SFBK" */
#define ST_BLOCK_FOOTER_MAGIC 0x46424653u   /* "SFBF" */
#define ST_BLOCK_VERSION 1u
#define ST_BLOCK_ALIGN 4096u                /* file length granularity (O_DIRECT) */

/* Format limits: a reader rejects anything beyond them. */
#define ST_BLOCK_MAX_CHUNK_POINTS 65536u    /* points in one chunk */
#define ST_BLOCK_MAX_SECTION_RAW (64u << 20) /* raw (decompressed) bytes of a section */
#define ST_BLOCK_MAX_SERIES_POINTS 0x7fffffffu /* points of one series in one block */

struct st_fmt_block_header {
	uint32_t magic;          /* ST_BLOCK_MAGIC */
	uint16_t version;        /* ST_BLOCK_VERSION */
	uint16_t header_bytes;   /* sizeof(struct st_fmt_block_header) */
	uint32_t shard_id;
	uint32_t flags;          /* 0 */
	int64_t part_start_ns;   /* the partition, [start, end) */
	int64_t part_end_ns;
	int64_t t_min;           /* first and last timestamp of any point */
	int64_t t_max;
	uint32_t nseries;
	uint32_t chunk_points;   /* the builder's setting (informative) */
	uint32_t reserved;       /* 0 */
	uint32_t crc;            /* CRC32C of the 60 bytes before it */
};
static_assert(sizeof(struct st_fmt_block_header) == 64, "block header layout");
static_assert(offsetof(struct st_fmt_block_header, part_start_ns) == 16, "block header layout");
static_assert(offsetof(struct st_fmt_block_header, nseries) == 48, "block header layout");
static_assert(offsetof(struct st_fmt_block_header, crc) == 60, "crc is last");

struct st_fmt_block_footer {
	uint64_t index_off;      /* file offset of the section table */
	uint64_t file_bytes;     /* length of the whole file, padding included */
	uint64_t npoints;
	uint32_t nchunks;
	uint32_t nsections;      /* entries in the section table */
	uint32_t nseries;
	uint32_t table_crc;      /* CRC32C of the section table */
	uint64_t reserved;       /* 0 */
	uint32_t reserved2;      /* 0 */
	uint16_t version;        /* ST_BLOCK_VERSION */
	uint16_t footer_bytes;   /* sizeof(struct st_fmt_block_footer) */
	uint32_t magic;          /* ST_BLOCK_FOOTER_MAGIC */
	uint32_t crc;            /* CRC32C of the 60 bytes before it */
};
static_assert(sizeof(struct st_fmt_block_footer) == 64, "block footer layout");
static_assert(offsetof(struct st_fmt_block_footer, nchunks) == 24, "block footer layout");
static_assert(offsetof(struct st_fmt_block_footer, reserved) == 40, "block footer layout");
static_assert(offsetof(struct st_fmt_block_footer, magic) == 56, "block footer layout");
static_assert(offsetof(struct st_fmt_block_footer, crc) == 60, "crc is last");

/* Section kinds. */
enum st_fmt_sect_kind {
	ST_SECT_DATA = 1,        /* columns of chunks [first, first + count) */
	ST_SECT_SERIES = 2,      /* count struct st_fmt_series */
	ST_SECT_CHUNKS = 3,      /* count struct st_fmt_chunk */
};

/* Section compression. */
enum st_fmt_comp {
	ST_COMP_NONE = 0,        /* stored bytes are the raw bytes */
	ST_COMP_ZSTD = 1,        /* one zstd frame that declares its content size */
};

struct st_fmt_section {
	uint64_t offset;         /* file offset of the stored bytes */
	uint32_t stored_bytes;
	uint32_t raw_bytes;      /* after decompression */
	uint32_t crc;            /* CRC32C of the stored bytes */
	uint8_t kind;            /* enum st_fmt_sect_kind */
	uint8_t comp;            /* enum st_fmt_comp */
	uint16_t shuffle;        /* element size of the byte shuffle; 0: none */
	uint32_t first;          /* data: index of its first chunk; else 0 */
	uint32_t count;          /* chunks (data) or elements (index sections) */
};
static_assert(sizeof(struct st_fmt_section) == 32, "section descriptor layout");
static_assert(offsetof(struct st_fmt_section, kind) == 20, "section descriptor layout");
static_assert(offsetof(struct st_fmt_section, first) == 24, "section descriptor layout");

/* One series of the directory; series ids strictly increase along it. */
struct st_fmt_series {
	uint32_t series_id;      /* shard-local id */
	uint32_t nchunks;        /* its chunks follow the previous series' chunks */
	uint8_t vtype;           /* enum st_value_type: F64, I64, U64 or BOOL */
	uint8_t reserved[3];     /* 0 */
};
static_assert(sizeof(struct st_fmt_series) == 12, "series entry layout");

/* Summary flags. */
enum st_fmt_chunk_flags {
	ST_FMT_SUM_OVERFLOW = 1u << 0,  /* integer sum wrapped: sum is not the sum */
	ST_FMT_HAS_NAN = 1u << 1,       /* F64: some value is a NaN */
};

/* One chunk: up to chunk_points consecutive points of one series. */
struct st_fmt_chunk {
	int64_t t_min;           /* first timestamp */
	int64_t t_max;           /* last timestamp */
	uint64_t min;            /* value bits (F64: smallest non-NaN; NaN if none) */
	uint64_t max;
	uint64_t first;          /* value bits of the first point */
	uint64_t last;           /* value bits of the last point */
	uint64_t sum;            /* F64: double; I64: int64; U64, BOOL: uint64 */
	uint32_t count;          /* points, 1 .. ST_BLOCK_MAX_CHUNK_POINTS */
	uint32_t ts_bytes;       /* bytes of the timestamp column */
	uint32_t val_bytes;      /* bytes of the value column */
	uint8_t ts_codec;        /* column codec ids (ST_COL_*) */
	uint8_t val_codec;
	uint8_t flags;           /* enum st_fmt_chunk_flags */
	uint8_t reserved;        /* 0 */
};
static_assert(sizeof(struct st_fmt_chunk) == 72, "chunk entry layout");
static_assert(offsetof(struct st_fmt_chunk, count) == 56, "chunk entry layout");
static_assert(offsetof(struct st_fmt_chunk, ts_codec) == 68, "chunk entry layout");

/*
 * Column codec ids (one byte): the kind in bits 0-3, the delta order in bits
 * 4-5 (packing kinds only), ST_COL_DEC in bit 6 (F64 values only), bit 7 zero.
 * A column encodes n values u[0..n) (timestamps, or value bits) and its
 * container supplies n, u[0] and u[n-1] (the chunk's count and first/last
 * or t_min/t_max); docs/formats/block.md gives every layout.
 */
enum st_col_kind {
	ST_COL_RAW = 0,          /* n x 8 bytes */
	ST_COL_LINEAR = 1,       /* no bytes: u[i] = u[0] + i * step */
	ST_COL_VARINT = 2,       /* residuals: zigzag LEB128 */
	ST_COL_NIBBLE = 3,       /* residuals: 4 bits each, two per byte */
	ST_COL_PLANES = 4,       /* residuals: w byte planes */
	ST_COL_BITPACK = 5,      /* residuals: w bits each */
	ST_COL_GORILLA_XOR = 6,  /* Gorilla XOR windows (st_chunk.h), bit stream */
	ST_COL_GORILLA_DOD = 7,  /* Gorilla delta-of-delta buckets (st_chunk.h) */
	ST_COL_DICT = 8,         /* up to 256 distinct values and packed indices */
	ST_COL_RLE = 9,          /* runs of equal values */
	ST_COL__KINDS
};
#define ST_COL_KIND_MASK 0x0fu
#define ST_COL_ORDER_SHIFT 4
#define ST_COL_ORDER_MASK 0x30u
#define ST_COL_DEC 0x40u         /* values are k / 10^s: the codec codes k */
#define ST_COL_DEC_MAX_SCALE 15u
#define ST_COL_ID(kind, order) ((uint8_t)((kind) | (order) << ST_COL_ORDER_SHIFT))

#endif /* ST_FORMAT_H */
