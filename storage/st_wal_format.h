/*
 * st_wal_format.h - the bytes of a write-ahead-log segment. Logic-free: the
 * prose spec, with what makes a record valid, is docs/formats/wal.md.
 *
 * A shard's WAL is a directory of segment files named by a 16-hex-digit
 * sequence number (0000000000000001.wal, ...), each preallocated to
 * wal.segment_size:
 *
 *   offset 0      struct st_wal_seg_hdr, zero-padded to ST_WAL_PAGE
 *   ST_WAL_PAGE   records, back to back, each 8-byte aligned:
 *                 struct st_wal_rec_hdr, then stored_len payload bytes,
 *                 then zero padding to the next multiple of 8
 *   ...           zeros (preallocated, never written) after the last record
 *
 * The payload is, after decompression (codec ST_WAL_CODEC_ZSTD) or as is
 * (ST_WAL_CODEC_RAW), raw_len bytes:
 *
 *   struct st_wal_payload_hdr
 *   ndefs series definitions: struct st_wal_def, then keylen key bytes,
 *                             then zero padding to a multiple of 4
 *   npoints u32 series ids (shard-local)
 *   npoints i64 timestamps, each stored as the difference from the previous
 *                           one in the record (the first from 0), wrapping
 *   npoints u64 value bits
 *
 * All integers are little-endian.
 */
#ifndef ST_WAL_FORMAT_H
#define ST_WAL_FORMAT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define ST_WAL_PAGE 4096u
#define ST_WAL_SEG_MAGIC 0x474553574c414653ull   /* "SFALWSEG" */
#define ST_WAL_REC_MAGIC 0x52574653u             /* "SFWR" */
#define ST_WAL_VERSION 1u

enum st_wal_codec {
	ST_WAL_CODEC_RAW = 0,
	ST_WAL_CODEC_ZSTD = 1,
};

struct st_wal_seg_hdr {
	uint64_t magic;        /* ST_WAL_SEG_MAGIC */
	uint32_t version;      /* ST_WAL_VERSION */
	uint32_t shard_id;
	uint64_t seq;          /* equals the number in the file name */
	uint64_t first_lsn;    /* lsn of the segment's first record */
	int64_t created_ns;
	uint32_t pad;
	uint32_t crc;          /* CRC32C of the bytes before this field */
};
static_assert(sizeof(struct st_wal_seg_hdr) == 48, "segment header layout");

struct st_wal_rec_hdr {
	uint32_t magic;        /* ST_WAL_REC_MAGIC */
	uint32_t crc;          /* CRC32C of the header from lsn on, then the payload */
	uint64_t lsn;          /* previous record's lsn + 1 */
	uint32_t stored_len;   /* payload bytes in the file */
	uint32_t raw_len;      /* payload bytes after decompression */
	uint32_t npoints;
	uint16_t codec;        /* enum st_wal_codec */
	uint16_t flags;        /* 0 */
};
static_assert(sizeof(struct st_wal_rec_hdr) == 32, "record header layout");
static_assert(offsetof(struct st_wal_rec_hdr, lsn) == 8, "crc covers from lsn on");

struct st_wal_payload_hdr {
	uint32_t ndefs;
	uint32_t npoints;
	uint32_t defs_bytes;   /* bytes of the definitions that follow */
	uint32_t pad;
};
static_assert(sizeof(struct st_wal_payload_hdr) == 16, "payload header layout");

struct st_wal_def {
	uint32_t id;           /* shard-local series id */
	uint8_t vtype;         /* enum st_value_type */
	uint8_t pad;
	uint16_t keylen;       /* canonical key bytes that follow (st_series.h) */
};
static_assert(sizeof(struct st_wal_def) == 8, "definition layout");

#endif /* ST_WAL_FORMAT_H */
