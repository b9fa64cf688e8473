/*
 * st_colcodec.h - column codecs of the warm-tier block format: one column
 * (the timestamps or the value bits of one chunk, up to
 * ST_BLOCK_MAX_CHUNK_POINTS values) encoded with one of the ST_COL_* codecs
 * of st_format.h, and a chooser that tries the candidates and keeps the
 * cheapest.
 *
 * The block builder encodes each column of each chunk with
 * st_col_encode_best() and records the codec id in the chunk's index entry;
 * the whole data section is then compressed with zstd, so the codecs are
 * byte-oriented where they can be (zigzag deltas one byte each, nibbles,
 * byte planes) and leave the entropy coding to zstd's Huffman stage.
 * Layouts: docs/formats/block.md, "Column codecs".
 *
 * Every column is decoded with help from its container, which keeps three
 * facts beside it: the value count n, the first value u[0] and the last
 * value u[n-1] (a chunk's count, t_min/t_max or first/last). Codecs do not
 * store u[0], and the decoder checks that it ends on u[n-1].
 *
 * No function here allocates: they work on caller buffers. Any thread; no
 * shared state. Usage profile: the flusher encodes every point once (tens of
 * candidates per column, see st_col_encode_best); query threads decode
 * (st_col_decode: several hundred million values per second on the common
 * codecs).
 */
#ifndef ST_COLCODEC_H
#define ST_COLCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_format.h"
#include "st_types.h"

/* What a column holds: timestamps, or the values of a series of type vt. */
enum st_col_role {
	ST_COL_ROLE_TS = 0,
	ST_COL_ROLE_VALUES = 1,
};

/*
 * Is codec a well-formed id for this role and value type? (Reserved bits
 * clear, a known kind, an order only on packing kinds, ST_COL_DEC only on
 * F64 values.) The block reader checks every codec id of the index with it.
 */
bool st_col_codec_valid(uint8_t codec, enum st_col_role role, enum st_value_type vt);

/* A short name ("varint/1", "nibble/1+dec", "linear", ...) for logs and benchmarks. */
const char *st_col_codec_name(uint8_t codec, char *buf, size_t len);

/* The most bytes st_col_encode_best() writes for n values (RAW: 8 n). */
static inline size_t st_col_max_bytes(uint32_t n)
{
	return (size_t)n * 8;
}

/* Work memory (bytes, 8-byte aligned) that encoding n values needs. */
size_t st_col_work_bytes(uint32_t n);

/*
 * Encode u[0..n) (1 <= n <= ST_BLOCK_MAX_CHUNK_POINTS) with codec into
 * dst[cap]. work: borrowed, st_col_work_bytes(n) bytes. Returns the bytes
 * written, -EINVAL if the codec cannot represent these values (NIBBLE with a
 * large residual, LINEAR on non-linear data, DEC on values that are not
 * decimals, a malformed id), or -ENOSPC if dst is too small.
 */
int st_col_encode(uint8_t codec, const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap,
		  void *work, size_t work_bytes);

/*
 * Decode a column of n values (1 <= n <= ST_BLOCK_MAX_CHUNK_POINTS) from
 * src[len] into out[n]; first and last are u[0] and u[n-1] as the container
 * recorded them. Returns 0, or -EBADMSG if the bytes are not a valid column
 * of this codec (wrong length, bad varint, index out of the dictionary,
 * runs that do not add up, a last value other than `last`, a malformed id).
 * It never reads outside src[len] nor writes outside out[n]; on -EBADMSG
 * out[] holds garbage. Borrowed buffers; any thread.
 */
int st_col_decode(uint8_t codec, const uint8_t *src, size_t len, uint32_t n, uint64_t first,
		  uint64_t last, uint64_t *out);

/*
 * How candidates are ranked: a cost (lower wins) of the encoded bytes.
 * st_col_cost_raw is the length before zstd; st_col_cost_entropy estimates
 * what zstd's Huffman stage leaves (order-0 byte entropy plus 1/64 byte per
 * byte for Huffman's rounding); the block builder also offers a quick zstd
 * of each candidate. Measured comparison: docs/formats/block.md.
 */
typedef double (*st_col_cost_fn)(void *arg, const uint8_t *buf, size_t len);
double st_col_cost_raw(void *arg, const uint8_t *buf, size_t len);
double st_col_cost_entropy(void *arg, const uint8_t *buf, size_t len);

struct st_col_chooser {
	st_col_cost_fn cost;     /* NULL: st_col_cost_entropy */
	void *cost_arg;          /* borrowed, passed to cost */
	/*
	 * > 0 (with a cost): a candidate whose st_col_cost_entropy exceeds
	 * prune times the lowest one seen so far is dropped without calling
	 * cost, which saves most calls of an expensive cost. 0: cost all.
	 */
	double prune;
	void *work;              /* borrowed: st_col_work_bytes(n) bytes, 8-byte aligned */
	size_t work_bytes;
};

/*
 * Encode u[0..n) with every candidate codec for the role and value type
 * (timestamps: linear, delta and delta-of-delta packings, Gorilla
 * delta-of-delta, raw; values: linear, zigzag packings of orders 0-2 (F64:
 * of the decimal-scaled integers when every value is k / 10^s exactly),
 * Gorilla XOR, dictionary, run-length, raw) and keep the cheapest by
 * ch->cost; ties go to the faster decoder. Writes the column to dst
 * (cap >= st_col_max_bytes(n)) and its id to *codec; returns the bytes
 * written, or -EINVAL (bad arguments).
 */
int st_col_encode_best(const struct st_col_chooser *ch, enum st_col_role role,
		       enum st_value_type vt, const uint64_t *u, uint32_t n, uint8_t *dst,
		       size_t cap, uint8_t *codec);

#endif /* ST_COLCODEC_H */
