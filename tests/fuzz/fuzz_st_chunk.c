/*
 * fuzz_st_chunk.c - fuzz target for the chunk decoder (storage/st_chunk.c),
 * plus a round-trip property for the encoder.
 *
 * Input layout (all inputs):
 *
 *   byte 0      value type: 1 + (b & 3)  (F64, I64, U64, BOOL)
 *   bytes 1-2   point count, u16 little-endian, modulo 4097
 *   byte 3      batch size - 1 (1..256 points per st_chunk_decode call)
 *   bytes 4..   the chunk words, 8 bytes each, little-endian; a partial
 *               last word is dropped
 *
 * The words are copied into an exact-size heap buffer so a sanitizer sees any
 * read past them; decoding must end in 0 or -EBADMSG and never crash.
 *
 * Short inputs (under RT_MAX_LEN bytes) also drive a round trip: the bytes
 * pick a series from tables of bucket-edge timestamps and values, it is
 * encoded (into a small buffer when asked, to reach FULL) and decoded, and
 * any difference abort()s.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_rand.h"
#include "fz_driver.h"
#include "st_chunk.h"

#define HDR_LEN 4
#define MAX_COUNT 4096
#define MAX_BATCH 256
#define RT_MAX_LEN 64
#define RT_MAX_POINTS (1 + 8 * RT_MAX_LEN)

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* ------------------------------------------------------------------------ */
/* Decoding arbitrary chunks                                                */
/* ------------------------------------------------------------------------ */

static void decode_all(const uint64_t *words, size_t nwords, uint32_t count,
		       enum st_value_type vt, uint32_t batch)
{
	static int64_t ts[MAX_BATCH];
	static uint64_t vals[MAX_BATCH];
	struct st_chunk_dec d;
	uint32_t got = 0;
	int rc;

	check(st_chunk_dec_init(&d, words, nwords, count, vt) == 0);
	while ((rc = st_chunk_decode(&d, ts, vals, batch)) > 0) {
		check((uint32_t)rc <= batch);
		got += (uint32_t)rc;
	}
	check(rc == 0 || rc == -EBADMSG);
	check(rc != 0 || got == count);
	check(got <= count);
	/* Every point needs at least two bits. */
	check(got <= 1 + nwords * 32);
	if (rc < 0)
		check(st_chunk_decode(&d, ts, vals, batch) == -EBADMSG);
}

/* ------------------------------------------------------------------------ */
/* Round trip                                                               */
/* ------------------------------------------------------------------------ */

static uint64_t rt_state;

static uint64_t rt_rnd(void)
{
	return cm_splitmix64(&rt_state);
}

/* Delta-of-deltas and value deltas at and around every bucket edge. */
static const int64_t edges[] = {
	0, 1, -1, 2, -2, 3, -3, 63, -64, 64, -65,
	(INT64_C(1) << 13) - 1, -(INT64_C(1) << 13), INT64_C(1) << 13, -(INT64_C(1) << 13) - 1,
	32767, -32768, 32768, -32769,
	(INT64_C(1) << 23) - 1, -(INT64_C(1) << 23), INT64_C(1) << 23, -(INT64_C(1) << 23) - 1,
	(INT64_C(1) << 31) - 1, -(INT64_C(1) << 31), INT64_C(1) << 31, -(INT64_C(1) << 31) - 1,
	(INT64_C(1) << 35) - 1, -(INT64_C(1) << 35), INT64_C(1) << 35, -(INT64_C(1) << 35) - 1,
	(INT64_C(1) << 47) - 1, -(INT64_C(1) << 47), INT64_C(1) << 47, -(INT64_C(1) << 47) - 1,
	INT64_MAX, INT64_MIN, INT64_MIN + 1, 10000000000,
};

#define NEDGES (sizeof(edges) / sizeof(edges[0]))

/* A step chosen by byte b: an edge value, or a random one. */
static uint64_t pick(uint8_t b)
{
	if (b < NEDGES)
		return (uint64_t)edges[b];
	if (b < 200)
		return 0; /* the common case dominates real data */
	return rt_rnd() >> (rt_rnd() % 64);
}

/* XOR masks for F64: windows of every lead/length, specials. */
static uint64_t pick_xor(uint8_t b)
{
	switch (b % 8) {
	case 0:
	case 1:
		return 0;
	case 2:
		return (rt_rnd() >> (b % 64)) << (rt_rnd() % 64);
	case 3:
		return UINT64_C(1) << (b % 64);
	case 4:
		return 0x8000000000000001ULL | (rt_rnd() & ((UINT64_C(1) << (b % 63)) - 1));
	case 5:
		return (rt_rnd() | 1) & (UINT64_MAX >> (b % 64));
	default:
		return rt_rnd() & (UINT64_MAX << (b % 64)) & (UINT64_MAX >> (b % 7));
	}
}

static void roundtrip(const uint8_t *data, size_t len)
{
	static int64_t ts[RT_MAX_POINTS], dts[RT_MAX_POINTS];
	static uint64_t vals[RT_MAX_POINTS], dvals[RT_MAX_POINTS];
	static uint64_t buf[(RT_MAX_POINTS * ST_CHUNK_POINT_MAX_BITS + 63) / 64 + 1];
	enum st_value_type vt = (enum st_value_type)(1 + (data[0] & 3));
	uint32_t n = 1 + 8 * (uint32_t)len;

	rt_state = 0;
	for (size_t i = 0; i < len; i++)
		rt_state = (rt_state ^ data[i]) * 0x100000001b3ULL;

	/* The series: bytes pick the next dod and value step in turn. */
	uint64_t t = rt_rnd(), delta = 0, v = rt_rnd();
	for (uint32_t i = 0; i < n; i++) {
		uint8_t b = data[i % len] ^ (uint8_t)(i / len * 37);
		delta += pick(b);
		t += delta;
		ts[i] = (int64_t)t;
		if (vt == ST_VT_F64)
			v ^= pick_xor((uint8_t)(b * 7 + 3));
		else
			v += pick((uint8_t)(b * 13 + 5));
		vals[i] = v;
	}

	/* Encode; a small buffer when byte 1 asks for it. */
	size_t cap = sizeof(buf) / sizeof(buf[0]);
	if (len > 1 && data[1] & 0x80)
		cap = data[1] & 0x3f;
	struct st_chunk_enc e;
	uint32_t k = 0;
	st_chunk_enc_init(&e, buf, cap, vt);
	for (; k < n; k++) {
		uint32_t nbits = e.nbits;
		int rc = st_chunk_append(&e, ts[k], vals[k]);
		if (rc == ST_CHUNK_FULL) {
			check(e.nbits == nbits && e.count == k);
			check(cap < sizeof(buf) / sizeof(buf[0]));
			break;
		}
		check(rc == ST_CHUNK_OK);
		check(e.nbits > nbits && e.nbits - nbits <= ST_CHUNK_POINT_MAX_BITS);
	}

	/* Decode from an exact-size copy of the used words, in batches. */
	uint32_t nw = st_chunk_used_words(e.nbits);
	uint64_t *words = nw ? malloc(nw * sizeof(uint64_t)) : NULL;
	check(nw == 0 || words != NULL);
	if (nw)
		memcpy(words, buf, nw * sizeof(uint64_t));
	uint32_t batch = 1 + (len > 2 ? data[2] % 17 : 0);
	struct st_chunk_dec d;
	uint32_t got = 0;
	int rc;
	check(st_chunk_dec_init(&d, words, nw, k, vt) == 0);
	while ((rc = st_chunk_decode(&d, dts + got, dvals + got, batch)) > 0)
		got += (uint32_t)rc;
	check(rc == 0 && got == k);
	for (uint32_t i = 0; i < k; i++)
		check(dts[i] == ts[i] && dvals[i] == vals[i]);
	free(words);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len > 0 && len < RT_MAX_LEN)
		roundtrip(data, len);
	if (len < HDR_LEN)
		return 0;

	enum st_value_type vt = (enum st_value_type)(1 + (data[0] & 3));
	uint32_t count = (uint32_t)(data[1] | data[2] << 8) % (MAX_COUNT + 1);
	uint32_t batch = 1 + (uint32_t)data[3];
	size_t nwords = (len - HDR_LEN) / 8;
	uint64_t *words = nwords ? malloc(nwords * sizeof(uint64_t)) : NULL;

	if (nwords && !words)
		return 0;
	for (size_t i = 0; i < nwords; i++) {
		uint64_t w = 0;
		for (int b = 7; b >= 0; b--)
			w = w << 8 | data[HDR_LEN + 8 * i + (size_t)b];
		words[i] = htole64(w);
	}
	decode_all(words, nwords, count, vt, batch);
	free(words);
	return 0;
}

/* A seed: header plus the words of n encoded points of one kind. */
static void emit_chunk(fz_emit_fn emit, void *arg, enum st_value_type vt, int kind,
		       uint32_t n, uint32_t batch)
{
	static uint64_t w[1024];
	static uint8_t out[HDR_LEN + sizeof(w)];
	struct st_chunk_enc e;
	int64_t t = INT64_C(1700000000000000000);
	int64_t x = 50;
	double f = 20.0;

	rt_state = (uint64_t)kind * 1000 + n;
	st_chunk_enc_init(&e, w, sizeof(w) / sizeof(w[0]), vt);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v;
		switch (kind) {
		case 0: /* regular times, integer walk in 0..100 */
			t += 10000000000;
			x += (int64_t)(rt_rnd() % 5) - 2;
			x = x < 0 ? 0 : x > 100 ? 100 : x;
			v = (uint64_t)x;
			break;
		case 1: /* jittered times, float walk */
			t += 10000000000 + (int64_t)(rt_rnd() % 2000000) - 1000000;
			f += (double)(rt_rnd() % 1000) / 1000.0 - 0.5;
			memcpy(&v, &f, sizeof(v));
			break;
		case 2: /* gaps and large values; times wrap */
			t = (int64_t)((uint64_t)t + (rt_rnd() >> (rt_rnd() % 64)));
			v = rt_rnd() >> (rt_rnd() % 64);
			break;
		default: /* integers stored as floats, duplicate times */
			t += rt_rnd() % 3 ? 0 : 1000000000;
			f = (double)(int64_t)(rt_rnd() % 100);
			memcpy(&v, &f, sizeof(v));
			break;
		}
		if (st_chunk_append(&e, t, v) != ST_CHUNK_OK)
			break;
	}

	uint32_t nw = st_chunk_used_words(e.nbits);
	out[0] = (uint8_t)(vt - 1);
	out[1] = (uint8_t)(e.count & 0xff);
	out[2] = (uint8_t)(e.count >> 8);
	out[3] = (uint8_t)(batch - 1);
	for (uint32_t i = 0; i < nw; i++) {
		uint64_t word = le64toh(w[i]);
		for (int b = 0; b < 8; b++)
			out[HDR_LEN + 8 * i + (uint32_t)b] = (uint8_t)(word >> (8 * b));
	}
	emit(arg, out, HDR_LEN + 8 * (size_t)nw);
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	emit_chunk(emit, arg, ST_VT_I64, 0, 400, 64);
	emit_chunk(emit, arg, ST_VT_U64, 0, 60, 1);
	emit_chunk(emit, arg, ST_VT_F64, 1, 300, 256);
	emit_chunk(emit, arg, ST_VT_F64, 1, 20, 7);
	emit_chunk(emit, arg, ST_VT_I64, 2, 200, 33);
	emit_chunk(emit, arg, ST_VT_F64, 2, 100, 5);
	emit_chunk(emit, arg, ST_VT_F64, 3, 300, 100);
	emit_chunk(emit, arg, ST_VT_BOOL, 0, 1, 1);

	/* Short inputs for the round trip. */
	static const uint8_t rt[][12] = {
		{1, 0, 3, 0, 5, 9, 13, 17, 21, 25, 29, 33},
		{0, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{2, 0x90, 0, 36, 35, 34, 33, 32, 31, 30, 29, 28},
		{3, 7, 200, 210, 220, 230, 240, 250, 1, 2, 3, 4},
	};
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++)
		emit(arg, rt[i], sizeof(rt[i]));
}
