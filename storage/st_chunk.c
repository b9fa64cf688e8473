/*
 * st_chunk.c - the Gorilla-style chunk codec (format in st_chunk.h and
 * docs/formats/chunk.md): delta-of-delta timestamps, zigzag integer deltas
 * and XOR floats, packed MSB-first into 64-bit words.
 *
 * Why: a point costs 16 bytes raw; on regular-interval metrics it costs a few
 * bits here, which is what lets a core keep hours of data in memory.
 *
 * Usage profile: st_chunk_append runs once per stored point on the owning
 * core (codec_encode in docs/BENCHMARKS.md: 3.6e7-4.1e7 points/s on TSBS
 * integers, 3.2e7-6.2e7 on floatwalk floats, one core), so it computes the
 * exact size of the point first, never allocates, and writes whole words
 * with relaxed atomic stores so readers may copy a chunk while it grows.
 * st_chunk_decode runs in query batches over sealed chunks and snapshot
 * copies (codec_decode: about 1e8 points/s on TSBS, 1e8-2e8 on floatwalk);
 * it peeks 64 bits at a time without bounds checks while a whole worst-case
 * point plus one word of lookahead is left in the buffer, and switches to a
 * checked reader (zeros past the end, then one length check per point) for
 * the tail, so no input makes it read outside words[nwords].
 *
 * Threads: an encoder belongs to the core that owns the chunk; any thread
 * may st_chunk_copy_words() it; a decoder belongs to its caller.
 */
#include "st_chunk.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>

#include "cm_compiler.h"

/* A whole point plus the second word a peek loads: the fast reader's margin. */
#define FAST_MARGIN_BITS (ST_CHUNK_POINT_MAX_BITS + 64)

#define F_NO_WINDOW 0xff

static_assert(ST_CHUNK_POINT_MAX_BITS == 146, "worst point: 69-bit ts + 77-bit F64");

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * One encoded field: hn bits of hi followed by ln bits of lo (1 <= ln <= 64).
 * hn is 0 unless the field is longer than 64 bits.
 */
struct field {
	uint64_t hi;
	uint64_t lo;
	uint32_t hn;
	uint32_t ln;
};

/*
 * Store the low n bits of x (1 <= n <= 64, x < 2^n) at bit pos. The bits at
 * and after pos are zero (st_chunk_enc_init zeroes, rebase requires it), so
 * the first word is OR-ed and the second simply written. Relaxed stores pair
 * with the relaxed loads of st_chunk_copy_words; the caller publishes nbits
 * with release.
 */
static CM_ALWAYS_INLINE void put_bits(uint64_t *words, uint32_t pos, uint64_t x, uint32_t n)
{
	uint64_t *w = words + (pos >> 6);
	uint32_t room = 64 - (pos & 63);
	uint64_t cur = le64toh(*w); /* our own word: only this thread writes it */

	if (n <= room) {
		__atomic_store_n(w, htole64(cur | (x << (room - n))), __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(w, htole64(cur | (x >> (n - room))), __ATOMIC_RELAXED);
		__atomic_store_n(w + 1, htole64(x << (64 - (n - room))), __ATOMIC_RELAXED);
	}
}

static CM_ALWAYS_INLINE void put_field(uint64_t *words, uint32_t pos, const struct field *f)
{
	if (f->hn)
		put_bits(words, pos, f->hi, f->hn);
	put_bits(words, pos + f->hn, f->lo, f->ln);
}

/* Is the two's complement x within [-2^(w-1), 2^(w-1))? */
static CM_ALWAYS_INLINE bool fits_signed(uint64_t x, unsigned w)
{
	return x + (UINT64_C(1) << (w - 1)) < (UINT64_C(1) << w);
}

static CM_ALWAYS_INLINE uint64_t low_bits(uint64_t x, unsigned w)
{
	return x & ((UINT64_C(1) << w) - 1);
}

static CM_ALWAYS_INLINE void ts_field(uint64_t dod, struct field *f)
{
	f->hn = 0;
	if (cm_likely(dod == 0)) {
		f->lo = 0;
		f->ln = 1;
	} else if (fits_signed(dod, 14)) {
		f->lo = (UINT64_C(0x2) << 14) | low_bits(dod, 14);
		f->ln = 2 + 14;
	} else if (fits_signed(dod, 24)) {
		f->lo = (UINT64_C(0x6) << 24) | low_bits(dod, 24);
		f->ln = 3 + 24;
	} else if (fits_signed(dod, 36)) {
		f->lo = (UINT64_C(0xe) << 36) | low_bits(dod, 36);
		f->ln = 4 + 36;
	} else if (fits_signed(dod, 48)) {
		f->lo = (UINT64_C(0x1e) << 48) | low_bits(dod, 48);
		f->ln = 5 + 48;
	} else {
		f->hi = 0x1f;
		f->hn = 5;
		f->lo = dod;
		f->ln = 64;
	}
}

static CM_ALWAYS_INLINE void int_field(uint64_t delta, struct field *f)
{
	uint64_t zz = (delta << 1) ^ (0 - (delta >> 63));

	f->hn = 0;
	if (zz == 0) {
		f->lo = 0;
		f->ln = 1;
	} else if (zz - 1 < 4) {
		f->lo = (UINT64_C(0x2) << 2) | (zz - 1);
		f->ln = 2 + 2;
	} else if (zz < (UINT64_C(1) << 7)) {
		f->lo = (UINT64_C(0x6) << 7) | zz;
		f->ln = 3 + 7;
	} else if (zz < (UINT64_C(1) << 16)) {
		f->lo = (UINT64_C(0xe) << 16) | zz;
		f->ln = 4 + 16;
	} else if (zz < (UINT64_C(1) << 32)) {
		f->lo = (UINT64_C(0x1e) << 32) | zz;
		f->ln = 5 + 32;
	} else {
		f->hi = 0x1f;
		f->hn = 5;
		f->lo = zz;
		f->ln = 64;
	}
}

/*
 * F64 value field for xor = bits ^ previous bits. Reuses the current window
 * when the meaningful bits fit in it and that is not longer than opening a
 * new one (the decoder accepts either choice). *lead and *len receive the
 * window in force after this point.
 */
static CM_ALWAYS_INLINE void f64_field(uint64_t x, unsigned w_lead, unsigned w_len,
				       struct field *f, unsigned *lead, unsigned *len)
{
	*lead = w_lead;
	*len = w_len;
	f->hn = 0;
	if (x == 0) {
		f->lo = 0;
		f->ln = 1;
		return;
	}

	unsigned lz = (unsigned)__builtin_clzll(x);
	unsigned tz = (unsigned)__builtin_ctzll(x);
	unsigned nl = lz < 31 ? lz : 31;
	unsigned m = 64 - nl - tz;

	/* w_lead == F_NO_WINDOW (255) never passes lz >= w_lead. */
	if (lz >= w_lead && tz + w_lead + w_len >= 64 && w_len <= m + 11) {
		uint64_t payload = x >> (64 - w_lead - w_len);
		if (w_len <= 62) {
			f->lo = (UINT64_C(0x2) << w_len) | payload;
			f->ln = 2 + w_len;
		} else {
			f->hi = 0x2;
			f->hn = 2;
			f->lo = payload;
			f->ln = w_len;
		}
		return;
	}

	uint64_t hdr = (UINT64_C(0x3) << 11) | ((uint64_t)nl << 6) | (m - 1);
	uint64_t payload = x >> tz;
	if (13 + m <= 64) {
		f->lo = (hdr << m) | payload;
		f->ln = 13 + m;
	} else {
		f->hi = hdr;
		f->hn = 13;
		f->lo = payload;
		f->ln = m;
	}
	*lead = nl;
	*len = m;
}

void st_chunk_enc_init(struct st_chunk_enc *e, uint64_t *words, size_t nwords,
		       enum st_value_type vtype)
{
	assert(nwords <= UINT32_MAX / 64);
	assert(vtype == ST_VT_F64 || vtype == ST_VT_I64 || vtype == ST_VT_U64 ||
	       vtype == ST_VT_BOOL);

	/* Word by word, like every store into a chunk (pairs with copy_words). */
	for (size_t i = 0; i < nwords; i++)
		__atomic_store_n(&words[i], 0, __ATOMIC_RELAXED);
	e->words = words;
	e->cap_bits = (uint32_t)(nwords * 64);
	e->nbits = 0;
	e->count = 0;
	e->vtype = (uint8_t)vtype;
	e->f_lead = F_NO_WINDOW;
	e->f_len = 0;
	e->t_prev = 0;
	e->t_delta = 0;
	e->v_prev = 0;
}

void st_chunk_enc_rebase(struct st_chunk_enc *e, uint64_t *new_words, size_t nwords)
{
	assert(nwords <= UINT32_MAX / 64);
	assert(nwords * 64 >= e->nbits);
	assert(e->nbits % 64 == 0 || !(le64toh(new_words[e->nbits / 64]) &
					(UINT64_MAX >> (e->nbits % 64))));

	e->words = new_words;
	e->cap_bits = (uint32_t)(nwords * 64);
}

static int append_first(struct st_chunk_enc *e, int64_t ts_ns, uint64_t value_bits)
{
	assert(e->nbits == 0);
	if (e->cap_bits < 128)
		return ST_CHUNK_FULL;
	put_bits(e->words, 0, (uint64_t)ts_ns, 64);
	put_bits(e->words, 64, value_bits, 64);
	e->nbits = 128;
	e->count = 1;
	e->t_prev = ts_ns;
	e->t_delta = 0;
	e->v_prev = value_bits;
	return ST_CHUNK_OK;
}

/* HOT PATH */
int st_chunk_append(struct st_chunk_enc *e, int64_t ts_ns, uint64_t value_bits)
{
	assert(e->nbits <= e->cap_bits);
	if (cm_unlikely(e->count == 0))
		return append_first(e, ts_ns, value_bits);

	uint64_t delta = (uint64_t)ts_ns - (uint64_t)e->t_prev;
	struct field tf, vf;
	unsigned lead = e->f_lead, len = e->f_len;

	ts_field(delta - (uint64_t)e->t_delta, &tf);
	if (e->vtype == ST_VT_F64)
		f64_field(value_bits ^ e->v_prev, e->f_lead, e->f_len, &vf, &lead, &len);
	else
		int_field(value_bits - e->v_prev, &vf);

	uint32_t need = tf.hn + tf.ln + vf.hn + vf.ln;
	assert(need <= ST_CHUNK_POINT_MAX_BITS);
	if (cm_unlikely(need > e->cap_bits - e->nbits))
		return ST_CHUNK_FULL;

	uint32_t pos = e->nbits;
	if (cm_likely(need <= 64 && (tf.hn | vf.hn) == 0)) {
		put_bits(e->words, pos, (tf.lo << vf.ln) | vf.lo, need);
	} else {
		put_field(e->words, pos, &tf);
		put_field(e->words, pos + tf.hn + tf.ln, &vf);
	}

	e->nbits = pos + need;
	e->count++;
	e->t_prev = ts_ns;
	e->t_delta = (int64_t)delta;
	e->v_prev = value_bits;
	e->f_lead = (uint8_t)lead;
	e->f_len = (uint8_t)len;
	return ST_CHUNK_OK;
}

void st_chunk_copy_words(uint64_t *dst, const uint64_t *src, uint32_t nwords)
{
	/* Relaxed loads pair with the writer's relaxed stores; the caller's
	 * acquire load of (count, nbits) orders them after those points. */
	for (uint32_t i = 0; i < nwords; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */
/* ------------------------------------------------------------------------ */

int st_chunk_dec_init(struct st_chunk_dec *d, const uint64_t *words, size_t nwords,
		      uint32_t count, enum st_value_type vtype)
{
	if (vtype != ST_VT_F64 && vtype != ST_VT_I64 && vtype != ST_VT_U64 &&
	    vtype != ST_VT_BOOL)
		return -EINVAL;
	if (nwords > UINT32_MAX / 64)
		return -EINVAL;

	d->words = words;
	d->nbits = (uint32_t)(nwords * 64);
	d->pos = 0;
	d->left = count;
	d->done = 0;
	d->vtype = (uint8_t)vtype;
	d->f_lead = F_NO_WINDOW;
	d->f_len = 0;
	d->t_prev = 0;
	d->t_delta = 0;
	d->v_prev = 0;
	return 0;
}

/* Decoder state in registers for the length of one st_chunk_decode call. */
struct dstate {
	const uint64_t *w;
	uint64_t nwords;
	uint64_t pos;     /* 64-bit: a corrupt field may push it past nbits */
	uint64_t t_prev;
	uint64_t t_delta;
	uint64_t v_prev;
	unsigned f_lead;
	unsigned f_len;
};

/*
 * The 64 bits from bit pos. Unchecked: words (pos >> 6) and the next must
 * exist. Checked: words past the end read as zero.
 */
static CM_ALWAYS_INLINE uint64_t peek(const struct dstate *s, uint64_t pos, bool checked)
{
	uint64_t i = pos >> 6;
	unsigned o = pos & 63;
	uint64_t hi, lo;

	if (checked) {
		hi = i < s->nwords ? le64toh(s->w[i]) : 0;
		lo = i + 1 < s->nwords ? le64toh(s->w[i + 1]) : 0;
	} else {
		hi = le64toh(s->w[i]);
		lo = le64toh(s->w[i + 1]);
	}
	return (hi << o) | ((lo >> 1) >> (63 - o));
}

/* The w-bit field right after a plen-bit prefix at the top of p. */
static CM_ALWAYS_INLINE uint64_t field_after(uint64_t p, unsigned plen, unsigned w)
{
	return (p << plen) >> (64 - w);
}

static CM_ALWAYS_INLINE uint64_t sign_extend(uint64_t x, unsigned w)
{
	uint64_t m = UINT64_C(1) << (w - 1);
	return (x ^ m) - m;
}

/*
 * The fields below are decoded with a cascade of tests, shortest bucket
 * first, rather than from a count of leading ones: a series keeps to one or
 * two buckets, so the branches predict and the position of the next field is
 * known before this one's bits arrive (a data dependency becomes a predicted
 * control dependency). Measured against a branch-free count of leading ones:
 * 1.7x on a regular integer random walk, 3x with jittered timestamps.
 */

/* The signed w-bit field after a plen-bit prefix at the top of p. */
static CM_ALWAYS_INLINE uint64_t sfield(uint64_t p, unsigned plen, unsigned w)
{
	return sign_extend(field_after(p, plen, w), w);
}

/*
 * Decode one ts field at s->pos. Returns the 63 or more bits that follow it,
 * for the value field: after the common '0' the same peek serves.
 */
static CM_ALWAYS_INLINE uint64_t dec_ts(struct dstate *s, bool checked)
{
	uint64_t p = peek(s, s->pos, checked);
	uint64_t dod;

	if (cm_likely(!(p >> 63))) {
		s->pos += 1;
		s->t_prev += s->t_delta;
		return p << 1;
	}
	if (!(p >> 62 & 1)) {
		dod = sfield(p, 2, 14);
		s->pos += 2 + 14;
	} else if (!(p >> 61 & 1)) {
		dod = sfield(p, 3, 24);
		s->pos += 3 + 24;
	} else if (!(p >> 60 & 1)) {
		dod = sfield(p, 4, 36);
		s->pos += 4 + 36;
	} else if (!(p >> 59 & 1)) {
		dod = sfield(p, 5, 48);
		s->pos += 5 + 48;
	} else {
		dod = peek(s, s->pos + 5, checked);
		s->pos += 5 + 64;
	}
	s->t_delta += dod;
	s->t_prev += s->t_delta;
	return peek(s, s->pos, checked);
}

/* Decode one integer value field at s->pos; q holds at least 63 bits from there. */
static CM_ALWAYS_INLINE void dec_int(struct dstate *s, uint64_t q, bool checked)
{
	uint64_t zz;

	if (!(q >> 63)) {
		s->pos += 1;
		return;
	}
	if (!(q >> 62 & 1)) {
		zz = (q >> 60 & 3) + 1;
		s->pos += 2 + 2;
	} else if (!(q >> 61 & 1)) {
		zz = field_after(q, 3, 7);
		s->pos += 3 + 7;
	} else if (!(q >> 60 & 1)) {
		zz = field_after(q, 4, 16);
		s->pos += 4 + 16;
	} else if (!(q >> 59 & 1)) {
		zz = field_after(q, 5, 32);
		s->pos += 5 + 32;
	} else {
		zz = peek(s, s->pos + 5, checked);
		s->pos += 5 + 64;
	}
	s->v_prev += (zz >> 1) ^ (0 - (zz & 1));
}

/*
 * Decode one F64 value field at s->pos; q holds at least 63 bits from there.
 * Returns false on a bad field.
 */
static CM_ALWAYS_INLINE bool dec_f64(struct dstate *s, uint64_t q, bool checked)
{
	if (!(q >> 63)) {
		s->pos += 1;
		return true;
	}
	if (!(q >> 62 & 1)) {
		unsigned len = s->f_len;
		if (cm_unlikely(s->f_lead == F_NO_WINDOW))
			return false;
		uint64_t payload = 2 + len <= 63 ? field_after(q, 2, len)
						 : peek(s, s->pos + 2, checked) >> (64 - len);
		s->v_prev ^= payload << (64 - s->f_lead - len);
		s->pos += 2 + len;
		return true;
	}

	unsigned lead = (unsigned)(q >> 57) & 0x1f;
	unsigned m = ((unsigned)(q >> 51) & 0x3f) + 1;
	if (cm_unlikely(lead + m > 64))
		return false;
	uint64_t payload = 13 + m <= 63 ? field_after(q, 13, m)
					: peek(s, s->pos + 13, checked) >> (64 - m);
	s->v_prev ^= payload << (64 - lead - m);
	s->f_lead = lead;
	s->f_len = m;
	s->pos += 13 + m;
	return true;
}

/*
 * Decode points [0, lim) of this batch from point index 'done' on. Fast loop
 * while a worst-case point and a peek's second word fit before the end, then
 * the checked loop. Returns lim, or -EBADMSG.
 */
static CM_ALWAYS_INLINE int dec_loop(struct dstate *s, uint64_t nbits, bool is_f64,
				     int64_t *ts, uint64_t *vals, uint32_t lim)
{
	uint32_t n = 0;

	for (; n < lim && s->pos + FAST_MARGIN_BITS <= nbits; n++) {
		uint64_t p = dec_ts(s, false);
		if (is_f64) {
			if (cm_unlikely(!dec_f64(s, p, false)))
				return -EBADMSG;
		} else {
			dec_int(s, p, false);
		}
		ts[n] = (int64_t)s->t_prev;
		vals[n] = s->v_prev;
	}

	for (; n < lim; n++) {
		uint64_t p = dec_ts(s, true);
		if (is_f64) {
			if (!dec_f64(s, p, true))
				return -EBADMSG;
		} else {
			dec_int(s, p, true);
		}
		if (s->pos > nbits)
			return -EBADMSG;
		ts[n] = (int64_t)s->t_prev;
		vals[n] = s->v_prev;
	}
	return (int)lim;
}

int st_chunk_decode(struct st_chunk_dec *d, int64_t *ts, uint64_t *vals, uint32_t max)
{
	assert(d->pos <= d->nbits);
	assert(d->vtype == ST_VT_F64 || d->vtype == ST_VT_I64 || d->vtype == ST_VT_U64 ||
	       d->vtype == ST_VT_BOOL);

	uint32_t lim = CM_MIN(max, d->left);
	if (lim > INT32_MAX)
		lim = INT32_MAX;
	if (lim == 0)
		return 0;

	struct dstate s = {
		.w = d->words,
		.nwords = d->nbits / 64,
		.pos = d->pos,
		.t_prev = (uint64_t)d->t_prev,
		.t_delta = (uint64_t)d->t_delta,
		.v_prev = d->v_prev,
		.f_lead = d->f_lead,
		.f_len = d->f_len,
	};
	uint32_t first = 0;

	if (d->done == 0) {
		/* Point 0: raw timestamp and value bits. pos != 0: a failed start. */
		if (d->nbits < 128 || d->pos != 0)
			goto bad;
		s.t_prev = peek(&s, 0, true);
		s.v_prev = peek(&s, 64, true);
		s.t_delta = 0;
		s.pos = 128;
		ts[0] = (int64_t)s.t_prev;
		vals[0] = s.v_prev;
		first = 1;
	}

	int rc;
	if (d->vtype == ST_VT_F64)
		rc = dec_loop(&s, d->nbits, true, ts + first, vals + first, lim - first);
	else
		rc = dec_loop(&s, d->nbits, false, ts + first, vals + first, lim - first);
	if (rc < 0)
		goto bad;

	d->pos = (uint32_t)s.pos;
	d->t_prev = (int64_t)s.t_prev;
	d->t_delta = (int64_t)s.t_delta;
	d->v_prev = s.v_prev;
	d->f_lead = (uint8_t)s.f_lead;
	d->f_len = (uint8_t)s.f_len;
	d->left -= lim;
	d->done += lim;
	return (int)lim;

bad:
	/* Sticky: with points left and no bits left, every later call fails too. */
	d->pos = d->nbits;
	return -EBADMSG;
}
