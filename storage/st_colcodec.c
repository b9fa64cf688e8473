/*
 * st_colcodec.c - the column codecs of the block format (ids in
 * st_format.h, layouts in docs/formats/block.md) and the chooser that picks
 * one per column.
 *
 * Why several codecs: a block column is compressed twice, by its codec and
 * then with the rest of its section by zstd. What zstd does well (Huffman
 * over bytes, long matches) and badly (bit-packed fields that straddle
 * bytes) decides the winner more than the raw length does, so the packings
 * here are byte-oriented (zigzag varints, nibbles, byte planes) next to the
 * classic bit-level ones (Gorilla XOR and delta-of-delta, bit packing), and
 * the chooser ranks them by an estimate of the size after zstd.
 *
 * Usage profile: st_col_encode_best runs in the flusher, once per column of
 * up to ST_BLOCK_MAX_CHUNK_POINTS values, trying 6-20 candidates;
 * st_col_decode runs on query threads over decompressed sections and must
 * stay well above 50 M values/s (the common codecs decode with one pass to
 * unpack residuals and one to undo the deltas).
 *
 * Threads: any; no state outside the caller's buffers.
 */
#include "st_colcodec.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

#define DICT_MAX 256u
#define DICT_SLOTS 512u
#define TRIAL_SLACK 64u
#define TWO53 9007199254740992.0

static const double pow10_tab[ST_COL_DEC_MAX_SCALE + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static inline uint64_t zz_enc(uint64_t v)
{
	return (v << 1) ^ (uint64_t)((int64_t)v >> 63);
}

static inline uint64_t zz_dec(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline unsigned varint_len(uint64_t v)
{
	return 1 + (unsigned)(63 - __builtin_clzll(v | 1)) / 7;
}

/* Bits needed for v (0 for 0). */
static inline unsigned bit_width(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static inline double bits_to_f64(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof(d));
	return d;
}

static inline uint64_t f64_to_bits(double d)
{
	uint64_t b;
	memcpy(&b, &d, sizeof(b));
	return b;
}

static inline unsigned codec_kind(uint8_t c)
{
	return c & ST_COL_KIND_MASK;
}

static inline unsigned codec_order(uint8_t c)
{
	return (c & ST_COL_ORDER_MASK) >> ST_COL_ORDER_SHIFT;
}

static inline bool kind_packs(unsigned kind)
{
	return kind == ST_COL_VARINT || kind == ST_COL_NIBBLE || kind == ST_COL_PLANES ||
	       kind == ST_COL_BITPACK;
}

/* Index width of a dictionary of k values. */
static inline unsigned dict_width(uint32_t k)
{
	return k <= 2 ? 1 : k <= 4 ? 2 : k <= 16 ? 4 : 8;
}

static bool codec_well_formed(uint8_t c)
{
	unsigned kind = codec_kind(c), order = codec_order(c);
	if (c & 0x80u || kind >= ST_COL__KINDS || order > 2)
		return false;
	if (order && !kind_packs(kind))
		return false;
	if ((c & ST_COL_DEC) && !(kind_packs(kind) || kind == ST_COL_LINEAR))
		return false;
	return true;
}

bool st_col_codec_valid(uint8_t codec, enum st_col_role role, enum st_value_type vt)
{
	if (vt < ST_VT_F64 || vt > ST_VT_BOOL || !codec_well_formed(codec))
		return false;
	if (codec & ST_COL_DEC)
		return role == ST_COL_ROLE_VALUES && vt == ST_VT_F64;
	return true;
}

const char *st_col_codec_name(uint8_t codec, char *buf, size_t len)
{
	static const char *const names[ST_COL__KINDS] = {
		[ST_COL_RAW] = "raw", [ST_COL_LINEAR] = "linear", [ST_COL_VARINT] = "varint",
		[ST_COL_NIBBLE] = "nibble", [ST_COL_PLANES] = "planes",
		[ST_COL_BITPACK] = "bitpack", [ST_COL_GORILLA_XOR] = "gorilla-xor",
		[ST_COL_GORILLA_DOD] = "gorilla-dod", [ST_COL_DICT] = "dict", [ST_COL_RLE] = "rle",
	};
	if (!codec_well_formed(codec)) {
		snprintf(buf, len, "bad-0x%02x", codec);
		return buf;
	}
	unsigned kind = codec_kind(codec);
	if (kind_packs(kind))
		snprintf(buf, len, "%s/%u%s", names[kind], codec_order(codec),
			 codec & ST_COL_DEC ? "+dec" : "");
	else
		snprintf(buf, len, "%s%s", names[kind], codec & ST_COL_DEC ? "+dec" : "");
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Work memory                                                              */
/* ------------------------------------------------------------------------ */

struct work {
	uint64_t *zz[3];     /* residuals of order 0..2 of u[1..n), zigzagged */
	uint64_t *k;         /* DEC: the integers k[i] = u[i] * 10^s */
	uint64_t *slots;     /* DICT: open-addressing set of values */
	uint64_t *dict;      /* DICT: the sorted distinct values */
	uint8_t *used;       /* DICT: slot occupancy */
	uint8_t *trial;      /* a candidate's bytes */
	size_t trial_cap;
};

size_t st_col_work_bytes(uint32_t n)
{
	return (size_t)n * 8 * 4 + (DICT_SLOTS + DICT_MAX) * 8 + DICT_SLOTS +
	       st_col_max_bytes(n) + TRIAL_SLACK + 64;
}

static int work_carve(struct work *w, void *mem, size_t bytes, uint32_t n)
{
	if (!mem || bytes < st_col_work_bytes(n) || ((uintptr_t)mem & 7))
		return -EINVAL;
	uint64_t *p = mem;
	for (int o = 0; o < 3; o++, p += n)
		w->zz[o] = p;
	w->k = p;
	p += n;
	w->slots = p;
	p += DICT_SLOTS;
	w->dict = p;
	p += DICT_MAX;
	w->used = (uint8_t *)p;
	w->trial = w->used + DICT_SLOTS;
	w->trial_cap = st_col_max_bytes(n) + TRIAL_SLACK;
	return 0;
}

/*
 * Residuals of order o of u[0..n), zigzagged, into zz[0..n-1): order 0 the
 * values, 1 the deltas, 2 the deltas of deltas (the delta before u[0] is 0,
 * so the first order-2 residual is the first delta). Wrapping arithmetic.
 * Returns the VARINT length of the residuals; *max their largest value.
 */
static size_t residuals(const uint64_t *u, uint32_t n, unsigned o, uint64_t *zz, uint64_t *max)
{
	size_t bytes = 0;
	uint64_t mx = 0, dprev = 0;
	for (uint32_t i = 1; i < n; i++) {
		uint64_t r, d = u[i] - u[i - 1];
		if (o == 0)
			r = u[i];
		else if (o == 1)
			r = d;
		else
			r = d - dprev;
		dprev = d;
		uint64_t z = zz_enc(r);
		zz[i - 1] = z;
		mx = z > mx ? z : mx;
		bytes += varint_len(z);
	}
	*max = mx;
	return bytes;
}

/* ------------------------------------------------------------------------ */
/* Bit streams: MSB-first (Gorilla kinds) and LSB-first (packed fields)     */
/* ------------------------------------------------------------------------ */

struct bw {
	uint8_t *p;
	size_t cap;
	size_t len;
	uint64_t acc;
	unsigned nacc;
	bool full;
};

/* MSB-first: append the low n bits of v (n <= 32). */
static inline void bw_put32(struct bw *b, uint64_t v, unsigned n)
{
	if (!n)
		return;
	b->acc = b->acc << n | (v & ((UINT64_C(1) << n) - 1));
	b->nacc += n;
	while (b->nacc >= 8) {
		b->nacc -= 8;
		if (b->len < b->cap)
			b->p[b->len++] = (uint8_t)(b->acc >> b->nacc);
		else
			b->full = true;
	}
}

static inline void bw_put(struct bw *b, uint64_t v, unsigned n)
{
	if (n > 32) {
		bw_put32(b, v >> 32, n - 32);
		bw_put32(b, v, 32);
	} else {
		bw_put32(b, v, n);
	}
}

/* Finish an MSB-first stream: pad the last byte with zeros. */
static int bw_finish(struct bw *b)
{
	if (b->nacc)
		bw_put32(b, 0, 8 - b->nacc);
	return b->full ? -ENOSPC : (int)b->len;
}

/* LSB-first: append the low n bits of v (n <= 32). */
static inline void bw_put_le32(struct bw *b, uint64_t v, unsigned n)
{
	if (!n)
		return;
	b->acc |= (v & ((UINT64_C(1) << n) - 1)) << b->nacc;
	b->nacc += n;
	while (b->nacc >= 8) {
		if (b->len < b->cap)
			b->p[b->len++] = (uint8_t)b->acc;
		else
			b->full = true;
		b->acc >>= 8;
		b->nacc -= 8;
	}
}

static inline void bw_put_le(struct bw *b, uint64_t v, unsigned n)
{
	if (n > 32) {
		bw_put_le32(b, v, 32);
		bw_put_le32(b, v >> 32, n - 32);
	} else {
		bw_put_le32(b, v, n);
	}
}

static int bw_finish_le(struct bw *b)
{
	if (b->nacc)
		bw_put_le32(b, 0, 8 - b->nacc);
	return b->full ? -ENOSPC : (int)b->len;
}

/* MSB-first reader: reads zeros past the end; the caller checks pos at the end. */
struct br {
	const uint8_t *p;
	size_t len;
	uint64_t pos; /* bit */
};

/* The next 64 bits, MSB-aligned; the top 57 are valid. */
static inline uint64_t br_peek(const struct br *b)
{
	uint64_t byte = b->pos >> 3, w = 0;
	if (byte + 8 <= b->len) {
		const uint8_t *q = b->p + byte;
		for (int i = 0; i < 8; i++)
			w = w << 8 | q[i];
	} else {
		for (unsigned i = 0; i < 8; i++)
			w = w << 8 | (byte + i < b->len ? b->p[byte + i] : 0);
	}
	return w << (b->pos & 7);
}

/* n bits, 1 <= n <= 57. */
static inline uint64_t br_get(struct br *b, unsigned n)
{
	uint64_t v = br_peek(b) >> (64 - n);
	b->pos += n;
	return v;
}

/* n bits, 0 <= n <= 64. */
static inline uint64_t br_get_wide(struct br *b, unsigned n)
{
	if (n == 0)
		return 0;
	if (n <= 32)
		return br_get(b, n);
	uint64_t hi = br_get(b, n - 32);
	return hi << 32 | br_get(b, 32);
}

static inline bool br_overrun(const struct br *b)
{
	return b->pos > (uint64_t)b->len * 8;
}

/* LSB-first reader over exactly-sized input (the caller checked the length). */
struct brl {
	const uint8_t *p;
	const uint8_t *end;
	uint64_t acc;
	unsigned nacc;
};

static inline uint64_t brl_get32(struct brl *b, unsigned n)
{
	while (b->nacc < n) {
		uint64_t byte = b->p < b->end ? *b->p++ : 0;
		b->acc |= byte << b->nacc;
		b->nacc += 8;
	}
	uint64_t v = b->acc & ((UINT64_C(1) << n) - 1);
	b->acc >>= n;
	b->nacc -= n;
	return v;
}

static inline uint64_t brl_get(struct brl *b, unsigned n)
{
	if (n == 0)
		return 0;
	if (n <= 32)
		return brl_get32(b, n);
	uint64_t lo = brl_get32(b, 32);
	return lo | brl_get32(b, n - 32) << 32;
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                 */
/* ------------------------------------------------------------------------ */

static int put_varint(uint8_t *dst, size_t cap, size_t *pos, uint64_t v)
{
	if (*pos + varint_len(v) > cap)
		return -ENOSPC;
	while (v >= 0x80) {
		dst[(*pos)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	dst[(*pos)++] = (uint8_t)v;
	return 0;
}

/* The step of a LINEAR column as the decoder derives it; false if not derivable. */
static bool linear_step(uint64_t first, uint64_t last, uint32_t n, uint64_t *step)
{
	if (n == 1) {
		*step = 0;
		return first == last;
	}
	int64_t d = (int64_t)(last - first);
	if (d % (int64_t)(n - 1))
		return false;
	*step = (uint64_t)(d / (int64_t)(n - 1));
	return true;
}

static bool is_linear(const uint64_t *u, uint32_t n)
{
	uint64_t step;
	if (!linear_step(u[0], u[n - 1], n, &step))
		return false;
	uint64_t x = u[0];
	for (uint32_t i = 1; i < n; i++) {
		x += step;
		if (u[i] != x)
			return false;
	}
	return true;
}

/* Pack m residuals with a packing kind. */
static int pack(unsigned kind, const uint64_t *zz, uint32_t m, uint64_t max, uint8_t *dst,
		size_t cap)
{
	size_t pos = 0;
	switch (kind) {
	case ST_COL_VARINT:
		for (uint32_t j = 0; j < m; j++)
			if (put_varint(dst, cap, &pos, zz[j]))
				return -ENOSPC;
		return (int)pos;
	case ST_COL_NIBBLE:
		if (max >= 16)
			return -EINVAL;
		if ((m + 1) / 2 > cap)
			return -ENOSPC;
		for (uint32_t j = 0; j + 1 < m; j += 2)
			dst[pos++] = (uint8_t)(zz[j] | zz[j + 1] << 4);
		if (m & 1)
			dst[pos++] = (uint8_t)zz[m - 1];
		return (int)pos;
	case ST_COL_PLANES: {
		unsigned w = (bit_width(max) + 7) / 8;
		w = w ? w : 1;
		if (1 + (size_t)w * m > cap)
			return -ENOSPC;
		dst[pos++] = (uint8_t)w;
		for (unsigned b = 0; b < w; b++)
			for (uint32_t j = 0; j < m; j++)
				dst[pos++] = (uint8_t)(zz[j] >> (8 * b));
		return (int)pos;
	}
	case ST_COL_BITPACK: {
		unsigned w = bit_width(max);
		if (cap < 1)
			return -ENOSPC;
		dst[0] = (uint8_t)w;
		struct bw b = {.p = dst + 1, .cap = cap - 1};
		for (uint32_t j = 0; j < m; j++)
			bw_put_le(&b, zz[j], w);
		int len = bw_finish_le(&b);
		return len < 0 ? len : len + 1;
	}
	default:
		return -EINVAL;
	}
}

static int enc_raw(const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap)
{
	if ((size_t)n * 8 > cap)
		return -ENOSPC;
	for (uint32_t i = 0; i < n; i++)
		store_le64(dst + 8 * (size_t)i, u[i]);
	return (int)(n * 8);
}

/*
 * Gorilla XOR (st_chunk.h's F64 field, without the timestamps): '0' same
 * bits; '10' + window bits; '11' + 5 bits lead + 6 bits (m - 1) + m bits.
 */
static int enc_xor(const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap)
{
	struct bw b = {.p = dst, .cap = cap};
	unsigned lead = 0xff, wlen = 0;
	for (uint32_t i = 1; i < n && !b.full; i++) {
		uint64_t x = u[i] ^ u[i - 1];
		if (!x) {
			bw_put32(&b, 0, 1);
			continue;
		}
		unsigned lz = (unsigned)__builtin_clzll(x), tz = (unsigned)__builtin_ctzll(x);
		unsigned l = lz > 31 ? 31 : lz, m = 64 - l - tz;
		if (lead != 0xff && lz >= lead && tz >= 64 - lead - wlen && 2 + wlen <= 13 + m) {
			bw_put32(&b, 2, 2);
			bw_put(&b, x >> (64 - lead - wlen), wlen);
		} else {
			bw_put32(&b, 3, 2);
			bw_put32(&b, l, 5);
			bw_put32(&b, m - 1, 6);
			bw_put(&b, x >> tz, m);
			lead = l;
			wlen = m;
		}
	}
	return bw_finish(&b);
}

/* Gorilla delta-of-delta buckets (st_chunk.h's timestamp field). */
static const struct {
	unsigned prefix, plen, bits;
} dod_buckets[] = {
	{0x2, 2, 14}, {0x6, 3, 24}, {0xe, 4, 36}, {0x1e, 5, 48}, {0x1f, 5, 64},
};

static int enc_dod(const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap)
{
	struct bw b = {.p = dst, .cap = cap};
	uint64_t dprev = 0;
	for (uint32_t i = 1; i < n && !b.full; i++) {
		uint64_t d = u[i] - u[i - 1], dod = d - dprev;
		dprev = d;
		if (!dod) {
			bw_put32(&b, 0, 1);
			continue;
		}
		for (unsigned k = 0;; k++) {
			unsigned bits = dod_buckets[k].bits;
			if (bits == 64 || dod + (UINT64_C(1) << (bits - 1)) < (UINT64_C(1) << bits)) {
				bw_put32(&b, dod_buckets[k].prefix, dod_buckets[k].plen);
				bw_put(&b, bits == 64 ? dod : dod & ((UINT64_C(1) << bits) - 1), bits);
				break;
			}
		}
	}
	return bw_finish(&b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The sorted distinct values of u[0..n) into w->dict; their count, or 0 if > DICT_MAX. */
static uint32_t dict_collect(struct work *w, const uint64_t *u, uint32_t n)
{
	uint32_t k = 0;
	memset(w->used, 0, DICT_SLOTS);
	for (uint32_t i = 0; i < n; i++) {
		if (i && u[i] == u[i - 1])
			continue;
		uint32_t s = (uint32_t)((u[i] * 0x9e3779b97f4a7c15ULL) >> 55);
		while (w->used[s] && w->slots[s] != u[i])
			s = (s + 1) & (DICT_SLOTS - 1);
		if (w->used[s])
			continue;
		if (k == DICT_MAX)
			return 0;
		w->used[s] = 1;
		w->slots[s] = u[i];
		w->dict[k++] = u[i];
	}
	qsort(w->dict, k, sizeof(w->dict[0]), cmp_u64);
	return k;
}

static uint32_t dict_index(const uint64_t *dict, uint32_t k, uint64_t v)
{
	uint32_t lo = 0, hi = k - 1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (dict[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* [k - 1] [dict[0]: 8 bytes] [k - 1 varint gaps] [n - 1 indices, w bits, LSB-first] */
static int enc_dict(struct work *w, const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap)
{
	uint32_t k = dict_collect(w, u, n);
	if (!k)
		return -EINVAL;
	size_t pos = 9;
	if (cap < pos)
		return -ENOSPC;
	dst[0] = (uint8_t)(k - 1);
	store_le64(dst + 1, w->dict[0]);
	for (uint32_t j = 1; j < k; j++)
		if (put_varint(dst, cap, &pos, w->dict[j] - w->dict[j - 1]))
			return -ENOSPC;
	unsigned wd = dict_width(k);
	struct bw b = {.p = dst + pos, .cap = cap - pos};
	uint32_t prev_idx = dict_index(w->dict, k, u[0]);
	for (uint32_t i = 1; i < n; i++) {
		if (u[i] != u[i - 1])
			prev_idx = dict_index(w->dict, k, u[i]);
		bw_put_le32(&b, prev_idx, wd);
	}
	int len = bw_finish_le(&b);
	return len < 0 ? len : (int)pos + len;
}

/* Runs over u[1..n): [varint zigzag(value - previous value)] [varint (length - 1)]. */
static int enc_rle(const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap)
{
	size_t pos = 0;
	uint64_t prev = u[0];
	for (uint32_t i = 1; i < n;) {
		uint32_t j = i + 1;
		while (j < n && u[j] == u[i])
			j++;
		if (put_varint(dst, cap, &pos, zz_enc(u[i] - prev)) ||
		    put_varint(dst, cap, &pos, j - i - 1))
			return -ENOSPC;
		prev = u[i];
		i = j;
	}
	return (int)pos;
}

/*
 * DEC maps four special doubles to integers no decimal can have (|k| <=
 * 2^53 for the others): -0.0, +inf, -inf and the canonical quiet NaN
 * become INT64_MIN + 0..3. (Rounding makes -0.0 common in real readings.)
 */
static const uint64_t dec_special[] = {
	UINT64_C(0x8000000000000000), UINT64_C(0x7ff0000000000000),
	UINT64_C(0xfff0000000000000), UINT64_C(0x7ff8000000000000),
};
#define DEC_SPECIAL_K ((uint64_t)INT64_MIN)

static bool dec_special_k(uint64_t bits, uint64_t *k)
{
	for (unsigned j = 0; j < CM_ARRAY_SIZE(dec_special); j++)
		if (bits == dec_special[j]) {
			*k = DEC_SPECIAL_K + j;
			return true;
		}
	return false;
}

static bool dec_fits(uint64_t bits, double p, uint64_t *k)
{
	if (dec_special_k(bits, k))
		return true;
	double x = bits_to_f64(bits) * p;
	if (!(fabs(x) <= TWO53))
		return false;
	int64_t kk = llround(x);
	if (f64_to_bits((double)kk / p) != bits)
		return false;
	*k = (uint64_t)kk;
	return true;
}

/*
 * DEC: the smallest scale s such that every value is exactly k / 10^s with
 * |k| <= 2^53 (a value that fits at s fits at s + 1 while k stays exact, so
 * one pass raises s and a second re-checks all at the final s). k[] receives
 * the integers. Returns s, or -1.
 */
static int dec_scale(const uint64_t *u, uint32_t n, uint64_t *k)
{
	unsigned s = 0;
	for (uint32_t i = 0; i < n; i++)
		while (!dec_fits(u[i], pow10_tab[s], &k[i]))
			if (++s > ST_COL_DEC_MAX_SCALE)
				return -1;
	for (uint32_t i = 0; i < n; i++)
		if (!dec_fits(u[i], pow10_tab[s], &k[i]))
			return -1;
	return (int)s;
}

/* Encode the integer sequence u (DEC already applied) with a non-DEC codec. */
static int encode_seq(struct work *w, uint8_t codec, const uint64_t *u, uint32_t n, uint8_t *dst,
		      size_t cap)
{
	unsigned kind = codec_kind(codec);
	uint64_t max;
	switch (kind) {
	case ST_COL_RAW:
		return enc_raw(u, n, dst, cap);
	case ST_COL_LINEAR:
		return is_linear(u, n) ? 0 : -EINVAL;
	case ST_COL_GORILLA_XOR:
		return enc_xor(u, n, dst, cap);
	case ST_COL_GORILLA_DOD:
		return enc_dod(u, n, dst, cap);
	case ST_COL_DICT:
		return enc_dict(w, u, n, dst, cap);
	case ST_COL_RLE:
		return enc_rle(u, n, dst, cap);
	default:
		residuals(u, n, codec_order(codec), w->zz[0], &max);
		return pack(kind, w->zz[0], n - 1, max, dst, cap);
	}
}

int st_col_encode(uint8_t codec, const uint64_t *u, uint32_t n, uint8_t *dst, size_t cap,
		  void *work, size_t work_bytes)
{
	struct work w;
	if (n == 0 || n > ST_BLOCK_MAX_CHUNK_POINTS || !codec_well_formed(codec) ||
	    work_carve(&w, work, work_bytes, n))
		return -EINVAL;
	if (!(codec & ST_COL_DEC))
		return encode_seq(&w, codec, u, n, dst, cap);
	int s = dec_scale(u, n, w.k);
	if (s < 0)
		return -EINVAL;
	if (cap < 1)
		return -ENOSPC;
	dst[0] = (uint8_t)s;
	int len = encode_seq(&w, (uint8_t)(codec & ~ST_COL_DEC), w.k, n, dst + 1, cap - 1);
	return len < 0 ? len : len + 1;
}

/* ------------------------------------------------------------------------ */
/* Decoders                                                                 */
/* ------------------------------------------------------------------------ */

/* Varint at *pos, at most 10 bytes, the tenth 0 or 1. */
static inline int get_varint(const uint8_t *src, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned sh = 0; sh < 70; sh += 7) {
		if (*pos >= len)
			return -EBADMSG;
		uint8_t c = src[(*pos)++];
		if (sh == 63 && c > 1)
			return -EBADMSG;
		x |= (uint64_t)(c & 0x7f) << sh;
		if (c < 0x80) {
			*v = x;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Unpack m zigzag residuals into zz[0..m). */
static int unpack(unsigned kind, const uint8_t *src, size_t len, uint32_t m, uint64_t *zz)
{
	switch (kind) {
	case ST_COL_VARINT: {
		size_t pos = 0;
		for (uint32_t j = 0; j < m; j++) {
			if (cm_likely(pos < len && src[pos] < 0x80)) {
				zz[j] = src[pos++];
			} else if (cm_likely(pos + 1 < len && src[pos + 1] < 0x80)) {
				zz[j] = (src[pos] & 0x7fu) | (uint64_t)src[pos + 1] << 7;
				pos += 2;
			} else if (get_varint(src, len, &pos, &zz[j])) {
				return -EBADMSG;
			}
		}
		return pos == len ? 0 : -EBADMSG;
	}
	case ST_COL_NIBBLE: {
		if (len != ((size_t)m + 1) / 2)
			return -EBADMSG;
		uint32_t j = 0;
		for (size_t i = 0; j + 1 < m; i++, j += 2) {
			zz[j] = src[i] & 0x0f;
			zz[j + 1] = src[i] >> 4;
		}
		if (j < m)
			zz[j] = src[len - 1] & 0x0f;
		return 0;
	}
	case ST_COL_PLANES: {
		if (len < 1)
			return -EBADMSG;
		unsigned w = src[0];
		if (w < 1 || w > 8 || len != 1 + (size_t)w * m)
			return -EBADMSG;
		const uint8_t *p = src + 1;
		for (uint32_t j = 0; j < m; j++)
			zz[j] = p[j];
		for (unsigned b = 1; b < w; b++) {
			p += m;
			for (uint32_t j = 0; j < m; j++)
				zz[j] |= (uint64_t)p[j] << (8 * b);
		}
		return 0;
	}
	case ST_COL_BITPACK: {
		if (len < 1)
			return -EBADMSG;
		unsigned w = src[0];
		if (w > 64 || len != 1 + ((uint64_t)m * w + 7) / 8)
			return -EBADMSG;
		struct brl b = {.p = src + 1, .end = src + len};
		for (uint32_t j = 0; j < m; j++)
			zz[j] = brl_get(&b, w);
		return 0;
	}
	default:
		return -EBADMSG;
	}
}

/* out[0] holds u[0] and out[1..n) zigzag residuals of order o: rebuild the values. */
static void unresidual(uint64_t *out, uint32_t n, unsigned o)
{
	uint64_t acc = out[0], d = 0;
	switch (o) {
	case 0:
		for (uint32_t i = 1; i < n; i++)
			out[i] = zz_dec(out[i]);
		break;
	case 1:
		for (uint32_t i = 1; i < n; i++) {
			acc += zz_dec(out[i]);
			out[i] = acc;
		}
		break;
	default:
		for (uint32_t i = 1; i < n; i++) {
			d += zz_dec(out[i]);
			acc += d;
			out[i] = acc;
		}
		break;
	}
}

static int dec_xor(const uint8_t *src, size_t len, uint32_t n, uint64_t *out)
{
	struct br b = {.p = src, .len = len};
	unsigned lead = 0xff, wlen = 0;
	uint64_t prev = out[0];
	for (uint32_t i = 1; i < n; i++) {
		uint64_t top = br_peek(&b) >> 62;
		if (top < 2) {
			b.pos += 1;
		} else if (top == 2) {
			if (lead == 0xff)
				return -EBADMSG;
			b.pos += 2;
			prev ^= br_get_wide(&b, wlen) << (64 - lead - wlen);
		} else {
			b.pos += 2;
			unsigned l = (unsigned)br_get(&b, 5), m = (unsigned)br_get(&b, 6) + 1;
			if (l + m > 64)
				return -EBADMSG;
			prev ^= br_get_wide(&b, m) << (64 - l - m);
			lead = l;
			wlen = m;
		}
		out[i] = prev;
		if (cm_unlikely(br_overrun(&b)))
			return -EBADMSG;
	}
	return 0;
}

static int dec_dod(const uint8_t *src, size_t len, uint32_t n, uint64_t *out)
{
	struct br b = {.p = src, .len = len};
	uint64_t acc = out[0], d = 0;
	for (uint32_t i = 1; i < n; i++) {
		uint64_t w = br_peek(&b);
		unsigned ones = (unsigned)__builtin_clzll(~w | (UINT64_C(1) << 58));
		if (ones == 0) {
			b.pos += 1;
		} else {
			unsigned k = ones - 1; /* 1..5 leading ones: buckets 0..4 */
			unsigned bits = dod_buckets[k].bits;
			b.pos += dod_buckets[k].plen;
			uint64_t v = br_get_wide(&b, bits);
			if (bits < 64)
				v = (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
			d += v;
		}
		acc += d;
		out[i] = acc;
		if (cm_unlikely(br_overrun(&b)))
			return -EBADMSG;
	}
	return 0;
}

static int dec_dict(const uint8_t *src, size_t len, uint32_t n, uint64_t *out)
{
	uint64_t dict[DICT_MAX];
	if (len < 9)
		return -EBADMSG;
	uint32_t k = (uint32_t)src[0] + 1;
	size_t pos = 9;
	dict[0] = load_le64(src + 1);
	for (uint32_t j = 1; j < k; j++) {
		uint64_t gap;
		if (get_varint(src, len, &pos, &gap) || gap == 0 || dict[j - 1] + gap < dict[j - 1])
			return -EBADMSG;
		dict[j] = dict[j - 1] + gap;
	}
	unsigned wd = dict_width(k);
	uint32_t m = n - 1;
	if (len - pos != ((uint64_t)m * wd + 7) / 8)
		return -EBADMSG;
	struct brl b = {.p = src + pos, .end = src + len};
	for (uint32_t i = 1; i < n; i++) {
		uint32_t idx = (uint32_t)brl_get32(&b, wd);
		if (idx >= k)
			return -EBADMSG;
		out[i] = dict[idx];
	}
	return 0;
}

static int dec_rle(const uint8_t *src, size_t len, uint32_t n, uint64_t *out)
{
	size_t pos = 0;
	uint64_t v = out[0];
	uint32_t i = 1;
	while (i < n) {
		uint64_t dz, run;
		if (get_varint(src, len, &pos, &dz) || get_varint(src, len, &pos, &run) ||
		    run >= n - i)
			return -EBADMSG;
		v += zz_dec(dz);
		for (uint64_t r = 0; r <= run; r++)
			out[i++] = v;
	}
	return pos == len ? 0 : -EBADMSG;
}

/* DEC: the integer k of a recorded value, as the encoder computed it. */
static int dec_derive(uint64_t bits, double p, uint64_t *k)
{
	if (dec_special_k(bits, k))
		return 0;
	double x = bits_to_f64(bits) * p;
	if (!(fabs(x) <= TWO53))
		return -EBADMSG;
	*k = (uint64_t)llround(x);
	return 0;
}

/* DEC: integers back to doubles; -EBADMSG for a k no encoder writes. */
static int dec_to_f64(uint64_t *out, uint32_t n, double p)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t k = (int64_t)out[i];
		if (cm_likely(k >= -(INT64_C(1) << 53) && k <= INT64_C(1) << 53)) {
			out[i] = f64_to_bits((double)k / p);
		} else {
			uint64_t j = out[i] - DEC_SPECIAL_K;
			if (j >= CM_ARRAY_SIZE(dec_special))
				return -EBADMSG;
			out[i] = dec_special[j];
		}
	}
	return 0;
}

int st_col_decode(uint8_t codec, const uint8_t *src, size_t len, uint32_t n, uint64_t first,
		  uint64_t last, uint64_t *out)
{
	if (n == 0 || n > ST_BLOCK_MAX_CHUNK_POINTS || !codec_well_formed(codec))
		return -EBADMSG;
	unsigned kind = codec_kind(codec);
	double p = 1.0;
	if (codec & ST_COL_DEC) {
		if (len < 1 || src[0] > ST_COL_DEC_MAX_SCALE)
			return -EBADMSG;
		p = pow10_tab[src[0]];
		src++;
		len--;
		if (dec_derive(first, p, &first) || dec_derive(last, p, &last))
			return -EBADMSG;
	}
	out[0] = first;
	int rc = 0;
	switch (kind) {
	case ST_COL_RAW:
		if (len != (size_t)n * 8)
			return -EBADMSG;
		for (uint32_t i = 0; i < n; i++)
			out[i] = load_le64(src + 8 * (size_t)i);
		rc = out[0] == first ? 0 : -EBADMSG;
		break;
	case ST_COL_LINEAR: {
		uint64_t step;
		if (len != 0 || !linear_step(first, last, n, &step))
			return -EBADMSG;
		for (uint32_t i = 1; i < n; i++)
			out[i] = first + step * i;
		break;
	}
	case ST_COL_GORILLA_XOR:
		rc = dec_xor(src, len, n, out);
		break;
	case ST_COL_GORILLA_DOD:
		rc = dec_dod(src, len, n, out);
		break;
	case ST_COL_DICT:
		rc = dec_dict(src, len, n, out);
		break;
	case ST_COL_RLE:
		rc = dec_rle(src, len, n, out);
		break;
	default:
		rc = unpack(kind, src, len, n - 1, out + 1);
		if (!rc)
			unresidual(out, n, codec_order(codec));
		break;
	}
	if (rc || out[n - 1] != last)
		return -EBADMSG;
	if (codec & ST_COL_DEC)
		return dec_to_f64(out, n, p);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Costs                                                                    */
/* ------------------------------------------------------------------------ */

double st_col_cost_raw(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	return (double)len;
}

/* log2(x) for x >= 1 within about 1e-4: the exponent plus log2 of the mantissa. */
static inline float fast_log2(float x)
{
	uint32_t i;
	memcpy(&i, &x, sizeof(i));
	float e = (float)((int32_t)(i >> 23) - 127);
	i = (i & 0x7fffff) | 0x3f800000;
	float m;
	memcpy(&m, &i, sizeof(m));
	/* the polynomial approximates ln(m) on [1, 2) */
	float ln = -1.7417939f +
		   (2.8212026f + (-1.4699568f + (0.44717955f - 0.056570851f * m) * m) * m) * m;
	return e + ln * 1.44269504f;
}

double st_col_cost_entropy(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	if (len == 0)
		return 0;
	uint32_t h[4][256];
	memset(h, 0, sizeof(h));
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		h[0][buf[i]]++;
		h[1][buf[i + 1]]++;
		h[2][buf[i + 2]]++;
		h[3][buf[i + 3]]++;
	}
	for (; i < len; i++)
		h[0][buf[i]]++;
	double sum = 0;
	for (unsigned s = 0; s < 256; s++) {
		uint32_t c = h[0][s] + h[1][s] + h[2][s] + h[3][s];
		if (c)
			sum += (double)c * fast_log2((float)c);
	}
	double bits = (double)len * fast_log2((float)len) - sum;
	return (bits > 0 ? bits : 0) / 8 + (double)len / 64;
}

/* ------------------------------------------------------------------------ */
/* Chooser                                                                  */
/* ------------------------------------------------------------------------ */

struct best {
	const struct st_col_chooser *ch;
	double best_est;     /* lowest entropy estimate seen (pruning); < 0: none yet */
	uint8_t *bufs[2];    /* the caller's dst and the work trial buffer */
	size_t caps[2];
	int holder;          /* which of bufs holds the best so far; -1: none */
	int len;
	uint8_t codec;
	double cost;
};

static uint8_t *best_scratch(struct best *b, size_t *cap)
{
	int i = b->holder == 0 ? 1 : 0;
	*cap = b->caps[i];
	return b->bufs[i];
}

/* The candidate just written to best_scratch(): keep it if it is cheaper. */
static void best_offer(struct best *b, uint8_t codec, int len)
{
	if (len < 0)
		return;
	int i = b->holder == 0 ? 1 : 0;
	if ((size_t)len > b->caps[0])
		return; /* only candidates that fit the caller's buffer */
	const struct st_col_chooser *ch = b->ch;
	if (ch->cost && ch->prune > 0) {
		double e = st_col_cost_entropy(NULL, b->bufs[i], (size_t)len);
		if (b->best_est >= 0 && e > ch->prune * b->best_est)
			return;
		if (b->best_est < 0 || e < b->best_est)
			b->best_est = e;
	}
	double c = ch->cost ? ch->cost(ch->cost_arg, b->bufs[i], (size_t)len)
			    : st_col_cost_entropy(NULL, b->bufs[i], (size_t)len);
	if (b->holder < 0 || c < b->cost) {
		b->holder = i;
		b->len = len;
		b->codec = codec;
		b->cost = c;
	}
}

/*
 * Try the packings of u (with a DEC prefix byte s when dec >= 0) for the
 * orders worth trying: those whose varint length is within 1.5x of the best
 * order's (an order that makes residuals much bigger never wins after zstd).
 */
static void try_packings(struct best *b, struct work *w, const uint64_t *u, uint32_t n,
			 unsigned min_order, int dec)
{
	uint64_t max[3];
	size_t vlen[3], vbest = SIZE_MAX;
	uint32_t m = n - 1;
	for (unsigned o = min_order; o < 3; o++) {
		vlen[o] = residuals(u, n, o, w->zz[o], &max[o]);
		vbest = CM_MIN(vbest, vlen[o]);
	}
	static const unsigned kinds[] = {ST_COL_NIBBLE, ST_COL_PLANES, ST_COL_VARINT,
					 ST_COL_BITPACK};
	for (unsigned o = min_order; o < 3; o++) {
		if (vlen[o] * 2 > vbest * 3)
			continue;
		for (unsigned k = 0; k < CM_ARRAY_SIZE(kinds); k++) {
			if (kinds[k] == ST_COL_NIBBLE && max[o] >= 16)
				continue;
			if (kinds[k] == ST_COL_PLANES && max[o] < 128)
				continue; /* the same bytes as VARINT, one more */
			size_t cap;
			uint8_t *dst = best_scratch(b, &cap);
			uint8_t codec = ST_COL_ID(kinds[k], o);
			int len;
			if (dec >= 0) {
				dst[0] = (uint8_t)dec;
				len = pack(kinds[k], w->zz[o], m, max[o], dst + 1, cap - 1);
				len = len < 0 ? len : len + 1;
				codec |= ST_COL_DEC;
			} else {
				len = pack(kinds[k], w->zz[o], m, max[o], dst, cap);
			}
			best_offer(b, codec, len);
		}
	}
}

/* Try one whole-sequence codec (not DEC). */
static void try_codec(struct best *b, struct work *w, uint8_t codec, const uint64_t *u, uint32_t n)
{
	size_t cap;
	uint8_t *dst = best_scratch(b, &cap);
	best_offer(b, codec, encode_seq(w, codec, u, n, dst, cap));
}

int st_col_encode_best(const struct st_col_chooser *ch, enum st_col_role role,
		       enum st_value_type vt, const uint64_t *u, uint32_t n, uint8_t *dst,
		       size_t cap, uint8_t *codec)
{
	struct work w;
	if (n == 0 || n > ST_BLOCK_MAX_CHUNK_POINTS || vt < ST_VT_F64 || vt > ST_VT_BOOL ||
	    cap < st_col_max_bytes(n) || work_carve(&w, ch->work, ch->work_bytes, n))
		return -EINVAL;
	/* Linear data (constant values, regular timestamps, one point) costs no bytes. */
	if (is_linear(u, n)) {
		*codec = ST_COL_LINEAR;
		return 0;
	}
	struct best b = {.ch = ch, .bufs = {dst, w.trial}, .caps = {cap, w.trial_cap},
			 .holder = -1, .best_est = -1};
	if (role == ST_COL_ROLE_TS) {
		try_packings(&b, &w, u, n, 1, -1);
		try_codec(&b, &w, ST_COL_GORILLA_DOD, u, n);
	} else if (vt == ST_VT_F64) {
		int s = dec_scale(u, n, w.k);
		if (s >= 0 && is_linear(w.k, n)) {
			dst[0] = (uint8_t)s;
			*codec = ST_COL_LINEAR | ST_COL_DEC;
			return 1;
		}
		if (s >= 0)
			try_packings(&b, &w, w.k, n, 0, s);
		try_codec(&b, &w, ST_COL_DICT, u, n);
		try_codec(&b, &w, ST_COL_RLE, u, n);
		try_codec(&b, &w, ST_COL_GORILLA_XOR, u, n);
	} else {
		try_packings(&b, &w, u, n, 0, -1);
		try_codec(&b, &w, ST_COL_DICT, u, n);
		try_codec(&b, &w, ST_COL_RLE, u, n);
		try_codec(&b, &w, ST_COL_GORILLA_DOD, u, n);
		try_codec(&b, &w, ST_COL_GORILLA_XOR, u, n);
	}
	try_codec(&b, &w, ST_COL_RAW, u, n);
	assert(b.holder >= 0); /* RAW always fits the caller's buffer */
	if (b.holder == 1)
		memcpy(dst, w.trial, (size_t)b.len);
	*codec = b.codec;
	return b.len;
}
