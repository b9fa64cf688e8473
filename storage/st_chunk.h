/*
 * st_chunk.h - the Gorilla-style chunk codec: one series' points, compressed,
 * appended one at a time into a caller buffer and decoded in batches.
 *
 * Usage profile: every point the appliance stores passes through an append
 * (tens of millions per second per core); every query decodes chunks in
 * batches (targets: >= 150 M points/s/core decode, <= 0.8 bytes/value on the
 * TSBS integer data).
 *
 * Threads: the encoder belongs to the one core that owns the chunk. Readers on
 * other threads may copy a chunk that is still being appended to: every store
 * into the buffer is a relaxed atomic 64-bit store, so a reader that first
 * loads a published (count, nbits) with acquire and then copies the words
 * with st_chunk_copy_words() gets the complete bits of those points without a
 * data race. Sealed chunks are immutable and decoded in place.
 *
 * Format (also in docs/formats/chunk.md). The buffer is an array of 64-bit
 * words; bits are written most-significant first within a word and words are
 * little-endian on disk. There is no header: the owner keeps the point count
 * and the value type beside the chunk.
 *
 *   point 0:  ts (64 bits, two's complement) | value (64 bits raw)
 *   point i:  ts field | value field
 *
 * ts field: dod = (t[i] - t[i-1]) - (t[i-1] - t[i-2]), with t[-1] = t[0]
 * (so for point 1 dod is the first delta). Arithmetic wraps (uint64), so any
 * int64 sequence round-trips, out-of-order and duplicate times included.
 *   '0'                      dod == 0
 *   '10'    + 14 bits        dod in [-2^13, 2^13)    (jitter of a few us)
 *   '110'   + 24 bits        dod in [-2^23, 2^23)    (+-8 ms)
 *   '1110'  + 36 bits        dod in [-2^35, 2^35)    (+-34 s)
 *   '11110' + 48 bits        dod in [-2^47, 2^47)    (+-39 h)
 *   '11111' + 64 bits        anything else
 * Values are sign-extended from their field width.
 *
 * value field, integer types (I64, U64, BOOL): zz = zigzag(v[i] - v[i-1])
 * computed with wrapping arithmetic:
 *   '0'                      zz == 0
 *   '10'    + 2 bits         zz in [1, 4], stored as zz - 1
 *   '110'   + 7 bits         zz < 2^7
 *   '1110'  + 16 bits        zz < 2^16
 *   '11110' + 32 bits        zz < 2^32
 *   '11111' + 64 bits        anything else
 *
 * value field, F64 (Gorilla XOR of the IEEE-754 bits with the previous value):
 *   '0'                      xor == 0
 *   '10'    + m bits         the meaningful bits of xor fit in the previous
 *                            window (same leading-zero count or more, same
 *                            trailing-zero count or more); m = window length
 *   '11' + 5 bits lead + 6 bits (m - 1) + m bits
 *                            a new window: lead = leading zeros of xor,
 *                            capped at 31; m = 64 - lead - trailing zeros
 * Every NaN payload, infinities and -0.0 round-trip bit-exact.
 *
 * A point never needs more than ST_CHUNK_POINT_MAX_BITS; an append that does
 * not fit in the buffer writes nothing and reports ST_CHUNK_FULL.
 */
#ifndef ST_CHUNK_H
#define ST_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

#define ST_CHUNK_POINT_MAX_BITS (5 + 64 + 2 + 5 + 6 + 64)

enum st_chunk_status {
	ST_CHUNK_OK = 0,
	ST_CHUNK_FULL = 1,
};

/*
 * Encoder state. A plain struct because the shard embeds it in its hot
 * per-series record and the append must inline.
 */
struct st_chunk_enc {
	uint64_t *words;    /* borrowed buffer; owned by the caller */
	uint32_t cap_bits;  /* 64 * number of words */
	uint32_t nbits;     /* bits written so far */
	uint32_t count;     /* points written so far */
	uint8_t vtype;      /* enum st_value_type */
	uint8_t f_lead;     /* F64: current window leading zeros (0xff: none) */
	uint8_t f_len;      /* F64: current window length in bits */
	int64_t t_prev;
	int64_t t_delta;
	uint64_t v_prev;    /* previous value's bits */
};

/*
 * Start a chunk in words[nwords] (borrowed; kept by the encoder until the
 * chunk is sealed or rebased). Zeroes the buffer. vtype is F64, I64, U64 or
 * BOOL.
 */
void st_chunk_enc_init(struct st_chunk_enc *e, uint64_t *words, size_t nwords,
		       enum st_value_type vtype);

/*
 * Continue the chunk in a bigger buffer: the caller has copied the used words
 * (st_chunk_used_words()) into new_words, the rest of which must be zero.
 */
void st_chunk_enc_rebase(struct st_chunk_enc *e, uint64_t *new_words, size_t nwords);

/* HOT PATH. Append one point; ST_CHUNK_OK, or ST_CHUNK_FULL with nothing written. */
int st_chunk_append(struct st_chunk_enc *e, int64_t ts_ns, uint64_t value_bits);

/* Words that hold the first nbits bits. */
static inline uint32_t st_chunk_used_words(uint32_t nbits)
{
	return (nbits + 63) / 64;
}

/*
 * Copy the first nwords words of a chunk that its writer may be appending to
 * (relaxed atomic loads). Any thread.
 */
void st_chunk_copy_words(uint64_t *dst, const uint64_t *src, uint32_t nwords);

/* Decoder over an immutable buffer (sealed chunk, a snapshot copy, or bytes from disk). */
struct st_chunk_dec {
	const uint64_t *words;
	uint32_t nbits;      /* bits available in words */
	uint32_t pos;        /* next bit to read */
	uint32_t left;       /* points not yet decoded */
	uint32_t done;       /* points decoded */
	uint8_t vtype;
	uint8_t f_lead;
	uint8_t f_len;
	int64_t t_prev;
	int64_t t_delta;
	uint64_t v_prev;
};

/*
 * Prepare to decode count points from words[nwords] (borrowed for the life of
 * the decoder). Returns 0 or -EINVAL (bad vtype, or nwords > UINT32_MAX / 64).
 */
int st_chunk_dec_init(struct st_chunk_dec *d, const uint64_t *words, size_t nwords,
		      uint32_t count, enum st_value_type vtype);

/*
 * Decode up to max points into ts[] and vals[] (value bits: reinterpret as
 * double for F64, int64 for I64). Returns the number decoded (0 at the end),
 * or -EBADMSG if the bits run out before count points (a corrupt or truncated
 * chunk); it never reads outside words[nwords]. After -EBADMSG, points decoded
 * earlier in that call are not reported and every later call fails too. The
 * format has no checksum: most bit flips decode to wrong values, so stored
 * chunks need their container's CRC (blocks, WAL).
 */
int st_chunk_decode(struct st_chunk_dec *d, int64_t *ts, uint64_t *vals, uint32_t max);

#endif /* ST_CHUNK_H */
