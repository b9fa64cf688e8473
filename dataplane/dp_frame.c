/*
 * dp_frame.c - the binary frame decoder, writer and per-source sequence
 * tracker (API in dp_frame.h, bytes in dp_wire.h, spec in
 * docs/formats/binary-frame.md).
 *
 * Why it looks like this: a frame is checked once as a whole (header, then
 * one CRC32C pass), after which records are walked by length: a POINT is
 * always 24 bytes and a DEF says its length first, so a record that fails
 * its own checks is skipped without losing the ones after it. Only a
 * record whose length cannot be known (unknown kind, a DEF length under the
 * minimum, a record past the end) stops the walk. Fields are read with
 * memcpy (records sit at any offset) and the host is little-endian, as for
 * every StreamFlow format.
 *
 * Threads: any, on structs the caller owns; no global mutable state.
 */
#include "dp_frame.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cm_crc32c.h"

static_assert(DP_WIRE_FRAME_MAX_BYTES <= UINT32_MAX / 2, "offsets fit u32");
static_assert(DP_FRAME_SEQ_WINDOW == 64, "the window is one u64 bitmap");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire structs are read with memcpy");

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const status_names[DP_FRAME__COUNT] = {
	[DP_FRAME_OK] = "ok",
	[DP_FRAME_END] = "end",
	[DP_FRAME_SHORT] = "short",
	[DP_FRAME_BAD_MAGIC] = "bad_magic",
	[DP_FRAME_BAD_VERSION] = "bad_version",
	[DP_FRAME_BAD_HEADER] = "bad_header",
	[DP_FRAME_BAD_LENGTH] = "bad_length",
	[DP_FRAME_BAD_CRC] = "bad_crc",
	[DP_FRAME_TRUNCATED] = "truncated",
	[DP_FRAME_BAD_KIND] = "bad_kind",
	[DP_FRAME_BAD_DEF_LENGTH] = "bad_def_length",
	[DP_FRAME_BAD_TYPE] = "bad_type",
	[DP_FRAME_BAD_VALUE] = "bad_value",
	[DP_FRAME_BAD_TIMESTAMP] = "bad_timestamp",
	[DP_FRAME_BAD_RESERVED] = "bad_reserved",
	[DP_FRAME_BAD_NAME] = "bad_name",
	[DP_FRAME_BAD_TAG] = "bad_tag",
	[DP_FRAME_DUP_TAG] = "dup_tag",
	[DP_FRAME_TOO_MANY_TAGS] = "too_many_tags",
	[DP_FRAME_COUNT_MISMATCH] = "count_mismatch",
};

const char *dp_frame_status_name(enum dp_frame_status st)
{
	if ((unsigned)st >= DP_FRAME__COUNT || !status_names[st])
		return "unknown";
	return status_names[st];
}

static const char *const seq_names[DP_SEQ__COUNT] = {
	[DP_SEQ_NEW] = "new",       [DP_SEQ_GAP] = "gap",     [DP_SEQ_DUPLICATE] = "duplicate",
	[DP_SEQ_LATE] = "late",     [DP_SEQ_STALE] = "stale", [DP_SEQ_RESTART] = "restart",
};

const char *dp_frame_seq_result_name(enum dp_frame_seq_result r)
{
	if ((unsigned)r >= DP_SEQ__COUNT)
		return "unknown";
	return seq_names[r];
}

/* ------------------------------------------------------------------------ */
/* Bytes                                                                     */
/* ------------------------------------------------------------------------ */

static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Not allowed in a name or tag key: blanks and control bytes. */
static inline bool is_bad_name_byte(uint8_t c)
{
	return c <= ' ' || c == 0x7f;
}

/* Not allowed in a tag value: control bytes (a space is fine). */
static inline bool is_bad_value_byte(uint8_t c)
{
	return c < ' ' || c == 0x7f;
}

static bool str_ok(struct st_str s, bool value)
{
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		uint8_t c = (uint8_t)s.p[i];
		if (value ? is_bad_value_byte(c) : is_bad_name_byte(c))
			return false;
	}
	return true;
}

static inline bool type_ok(uint8_t t)
{
	return t == DP_WIRE_F64 || t == DP_WIRE_I64;
}

uint32_t dp_frame_crc(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	assert(len >= sizeof(struct dp_wire_header));
	uint32_t crc = cm_crc32c(0, p, DP_WIRE_CRC_OFF);
	return cm_crc32c(crc, p + DP_WIRE_CRC_OFF + DP_WIRE_CRC_BYTES,
			 len - DP_WIRE_CRC_OFF - DP_WIRE_CRC_BYTES);
}

/* HOT PATH */

/* ------------------------------------------------------------------------ */
/* Decoder                                                                   */
/* ------------------------------------------------------------------------ */

enum dp_frame_status dp_frame_open(struct dp_frame *f, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	memset(f, 0, sizeof(*f));
	f->stopped = true;
	if (len < sizeof(struct dp_wire_header))
		return DP_FRAME_SHORT;
	struct dp_wire_header h;
	memcpy(&h, p, sizeof(h));
	if (h.magic != DP_WIRE_MAGIC)
		return DP_FRAME_BAD_MAGIC;
	if (h.version != DP_WIRE_VERSION)
		return DP_FRAME_BAD_VERSION;
	if (h.header_bytes < sizeof(h) || h.header_bytes > h.frame_bytes ||
	    (h.flags & ~DP_WIRE_HDR_FLAGS_KNOWN) || h.reserved != 0)
		return DP_FRAME_BAD_HEADER;
	if (h.frame_bytes != len || len > DP_WIRE_FRAME_MAX_BYTES)
		return DP_FRAME_BAD_LENGTH;
	if (dp_frame_crc(p, len) != h.crc32c)
		return DP_FRAME_BAD_CRC;

	f->source_id = h.source_id;
	f->seq = h.seq;
	f->record_count = h.record_count;
	f->header_bytes = h.header_bytes;
	f->frame_bytes = h.frame_bytes;
	f->buf = p;
	f->off = h.header_bytes;
	f->stopped = false;
	return DP_FRAME_OK;
}

static enum dp_frame_status read_point(const uint8_t *p, struct dp_frame_rec *rec)
{
	struct dp_wire_point w;
	memcpy(&w, p, sizeof(w));
	rec->type = w.type;
	rec->series_ref = w.series_ref;
	rec->ts_ns = w.ts_ns;
	rec->v.u64 = w.value;
	if (!type_ok(w.type))
		return DP_FRAME_BAD_TYPE;
	if (w.reserved != 0)
		return DP_FRAME_BAD_RESERVED;
	if (w.ts_ns < 0)
		return DP_FRAME_BAD_TIMESTAMP;
	if (w.type == DP_WIRE_F64 && !isfinite(rec->v.f64))
		return DP_FRAME_BAD_VALUE;
	return DP_FRAME_OK;
}

/* One length-prefixed string at *pp, inside [*pp, end). */
static bool get_str(const uint8_t **pp, const uint8_t *end, struct st_str *s)
{
	const uint8_t *p = *pp;
	if (p >= end || (size_t)(end - p - 1) < *p)
		return false;
	s->p = (const char *)p + 1;
	s->len = *p;
	*pp = p + 1 + *p;
	return true;
}

/* The DEF at p, def_bytes long (>= the fixed part, inside the frame). */
static enum dp_frame_status read_def(const uint8_t *p, uint32_t def_bytes,
				     struct dp_frame_rec *rec)
{
	const uint8_t *end = p + def_bytes;
	assert(def_bytes >= DP_WIRE_DEF_FIXED_BYTES);
	rec->type = p[1];
	rec->series_ref = get32(p + 4);
	uint8_t ntags = p[8];
	if (def_bytes > DP_WIRE_DEF_MAX_BYTES)
		return DP_FRAME_BAD_DEF_LENGTH;
	if (!type_ok(rec->type))
		return DP_FRAME_BAD_TYPE;
	if (ntags > DP_WIRE_DEF_TAGS_MAX)
		return DP_FRAME_TOO_MANY_TAGS;
	const uint8_t *q = p + DP_WIRE_DEF_FIXED_BYTES - 1;   /* name_len */
	if (!get_str(&q, end, &rec->name) || !str_ok(rec->name, false))
		return DP_FRAME_BAD_NAME;
	for (uint32_t i = 0; i < ntags; i++) {
		struct st_tag *t = &rec->tags[i];
		if (!get_str(&q, end, &t->key) || !get_str(&q, end, &t->value) ||
		    !str_ok(t->key, false) || !str_ok(t->value, true))
			return DP_FRAME_BAD_TAG;
		for (uint32_t j = 0; j < i; j++)
			if (st_str_eq(rec->tags[j].key, t->key))
				return DP_FRAME_DUP_TAG;
		rec->ntags = i + 1;
	}
	if (q != end)
		return DP_FRAME_BAD_DEF_LENGTH;
	return DP_FRAME_OK;
}

/* The walk is over: one COUNT_MISMATCH if the count is off, then END. */
static enum dp_frame_status finish_walk(struct dp_frame *f)
{
	f->stopped = true;
	if (f->nseen != f->record_count) {
		f->nseen = f->record_count;   /* report it once */
		return DP_FRAME_COUNT_MISMATCH;
	}
	return DP_FRAME_END;
}

static enum dp_frame_status stop(struct dp_frame *f, enum dp_frame_status st)
{
	f->stopped = true;
	return st;
}

enum dp_frame_status dp_frame_next(struct dp_frame *f, struct dp_frame_rec *rec)
{
	if (f->stopped || f->off >= f->frame_bytes)
		return finish_walk(f);
	assert(f->buf && f->off >= f->header_bytes);

	const uint8_t *p = f->buf + f->off;
	uint32_t left = f->frame_bytes - f->off;
	rec->kind = p[0];
	rec->off = f->off;
	rec->bytes = 0;
	rec->ntags = 0;
	rec->name = (struct st_str){NULL, 0};
	f->nseen++;

	uint32_t bytes;
	enum dp_frame_status st;
	switch (p[0]) {
	case DP_WIRE_POINT:
		if (left < DP_WIRE_POINT_BYTES)
			return stop(f, DP_FRAME_TRUNCATED);
		bytes = DP_WIRE_POINT_BYTES;
		st = read_point(p, rec);
		break;
	case DP_WIRE_DEF:
		if (left < DP_WIRE_DEF_FIXED_BYTES)
			return stop(f, DP_FRAME_TRUNCATED);
		bytes = get16(p + 2);
		if (bytes < DP_WIRE_DEF_FIXED_BYTES)
			return stop(f, DP_FRAME_BAD_DEF_LENGTH);
		if (bytes > left)
			return stop(f, DP_FRAME_TRUNCATED);
		st = read_def(p, bytes, rec);
		break;
	default:
		return stop(f, DP_FRAME_BAD_KIND);
	}
	rec->bytes = bytes;
	f->off += bytes;
	assert(f->off <= f->frame_bytes);
	return st;
}

/* ------------------------------------------------------------------------ */
/* Sequence tracking                                                         */
/* ------------------------------------------------------------------------ */

void dp_frame_seq_init(struct dp_frame_seq *s)
{
	memset(s, 0, sizeof(*s));
}

/* Make seq the newest, with nothing else in the window. */
static void seq_restart(struct dp_frame_seq *s, uint64_t seq)
{
	s->next = seq + 1;
	s->seen = 1;
	s->started = true;
	s->stale_run = 0;
}

static enum dp_frame_seq_result seq_classify(struct dp_frame_seq *s, uint64_t seq)
{
	if (!s->started) {
		seq_restart(s, seq);
		return DP_SEQ_NEW;
	}
	if (seq >= s->next) {
		uint64_t skipped = seq - s->next;
		uint64_t shift = skipped + 1;
		s->seen = shift >= 64 ? 1 : (s->seen << shift) | 1;
		s->next = seq + 1;
		s->stale_run = 0;
		s->missing += skipped;
		return skipped ? DP_SEQ_GAP : DP_SEQ_NEW;
	}
	uint64_t age = s->next - 1 - seq;   /* 0: the newest */
	if (age < DP_FRAME_SEQ_WINDOW) {
		uint64_t bit = UINT64_C(1) << age;
		s->stale_run = 0;
		if (s->seen & bit)
			return DP_SEQ_DUPLICATE;
		s->seen |= bit;
		return DP_SEQ_LATE;
	}
	if (++s->stale_run >= DP_FRAME_SEQ_RESTART_RUN) {
		seq_restart(s, seq);
		return DP_SEQ_RESTART;
	}
	return DP_SEQ_STALE;
}

enum dp_frame_seq_result dp_frame_seq_check(struct dp_frame_seq *s, uint64_t seq)
{
	enum dp_frame_seq_result r = seq_classify(s, seq);
	assert((unsigned)r < DP_SEQ__COUNT);
	s->count[r]++;
	return r;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

int dp_frame_writer_init(struct dp_frame_writer *w, void *buf, size_t cap, uint32_t source_id,
			 uint64_t seq)
{
	if (cap < sizeof(struct dp_wire_header))
		return -ENOSPC;
	if (cap > DP_WIRE_FRAME_MAX_BYTES)
		cap = DP_WIRE_FRAME_MAX_BYTES;
	struct dp_wire_header h = {
		.magic = DP_WIRE_MAGIC,
		.version = DP_WIRE_VERSION,
		.header_bytes = sizeof(h),
		.source_id = source_id,
		.seq = seq,
	};
	w->buf = buf;
	w->cap = (uint32_t)cap;
	w->len = sizeof(h);
	w->nrecords = 0;
	memcpy(w->buf, &h, sizeof(h));
	return 0;
}

static uint8_t *put_str(uint8_t *p, struct st_str s)
{
	*p = (uint8_t)s.len;
	memcpy(p + 1, s.p, s.len);
	return p + 1 + s.len;
}

static bool room(const struct dp_frame_writer *w, size_t bytes)
{
	return w->nrecords < UINT16_MAX && bytes <= w->cap - w->len;
}

int dp_frame_writer_def(struct dp_frame_writer *w, uint32_t series_ref, uint8_t type,
			struct st_str name, const struct st_tag *tags, uint32_t ntags)
{
	if (!type_ok(type) || ntags > DP_WIRE_DEF_TAGS_MAX || name.len > UINT8_MAX ||
	    !str_ok(name, false))
		return -EINVAL;
	size_t bytes = DP_WIRE_DEF_FIXED_BYTES + name.len;
	for (uint32_t i = 0; i < ntags; i++) {
		if (tags[i].key.len > UINT8_MAX || tags[i].value.len > UINT8_MAX ||
		    !str_ok(tags[i].key, false) || !str_ok(tags[i].value, true))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (st_str_eq(tags[j].key, tags[i].key))
				return -EINVAL;
		bytes += 2 + (size_t)tags[i].key.len + tags[i].value.len;
	}
	if (bytes > DP_WIRE_DEF_MAX_BYTES)
		return -EINVAL;
	if (!room(w, bytes))
		return -ENOSPC;

	uint8_t *p = w->buf + w->len;
	uint16_t def_bytes = (uint16_t)bytes;
	p[0] = DP_WIRE_DEF;
	p[1] = type;
	memcpy(p + 2, &def_bytes, 2);
	memcpy(p + 4, &series_ref, 4);
	p[8] = (uint8_t)ntags;
	uint8_t *q = put_str(p + 9, name);
	for (uint32_t i = 0; i < ntags; i++)
		q = put_str(put_str(q, tags[i].key), tags[i].value);
	assert((size_t)(q - p) == bytes);
	w->len += (uint32_t)bytes;
	w->nrecords++;
	return 0;
}

int dp_frame_writer_point(struct dp_frame_writer *w, uint32_t series_ref, uint8_t type,
			  int64_t ts_ns, union st_value v)
{
	if (!type_ok(type) || ts_ns < 0 || (type == DP_WIRE_F64 && !isfinite(v.f64)))
		return -EINVAL;
	if (!room(w, DP_WIRE_POINT_BYTES))
		return -ENOSPC;
	struct dp_wire_point pt = {
		.kind = DP_WIRE_POINT,
		.type = type,
		.series_ref = series_ref,
		.ts_ns = ts_ns,
		.value = v.u64,  /* the f64 or i64 bits */
	};
	memcpy(w->buf + w->len, &pt, sizeof(pt));
	w->len += DP_WIRE_POINT_BYTES;
	w->nrecords++;
	return 0;
}

size_t dp_frame_writer_finish(struct dp_frame_writer *w)
{
	assert(w->len >= sizeof(struct dp_wire_header) && w->len <= w->cap);
	memcpy(w->buf + offsetof(struct dp_wire_header, record_count), &w->nrecords, 2);
	memcpy(w->buf + offsetof(struct dp_wire_header, frame_bytes), &w->len, 4);
	uint32_t crc = dp_frame_crc(w->buf, w->len);
	memcpy(w->buf + DP_WIRE_CRC_OFF, &crc, 4);
	return w->len;
}
