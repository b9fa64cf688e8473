/*
 * fuzz_st_wal.c - fuzz target for the WAL's readers (storage/st_wal.c):
 * st_wal_payload_decode over arbitrary bytes, and st_wal_replay over a
 * segment file made of a valid header and arbitrary record bytes.
 *
 * Input layout:
 *
 *   byte 0      flags: bit 0  recompute each record's CRC32C (so mutated
 *                             records get past the checksum to the
 *                             decompressor and the decoder)
 *                      bit 1  decode with the npoints of the payload
 *                             header instead of bytes 1-4
 *                      bit 2  follow the records with a page of zeros
 *                             (the preallocated tail of a real segment)
 *                      bits 4-7  from_lsn for the replay
 *   bytes 1-4   npoints for st_wal_payload_decode, u32 little-endian
 *   bytes 5..   the body: decoded as one payload (from an exact-size heap
 *               copy), and written after a segment header page as the
 *               segment's records, then replayed twice
 *
 * Properties (any failure abort()s):
 *   decode   returns 0 or -EBADMSG; a rejected payload delivers nothing;
 *            an accepted one delivers npoints points and keys of 1 to
 *            ST_KEY_MAX bytes.
 *   replay   returns 0; cuts at most one tail; the second replay finds
 *            nothing to cut and delivers exactly what the first did.
 *
 * The segment lives in a directory made once under /dev/shm (tmpfs: the
 * fdatasync after a cut is free) or $TMPDIR, removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zstd.h>

#include "cm_crc32c.h"
#include "cm_log.h"
#include "fz_driver.h"
#include "st_io.h"
#include "st_series.h"
#include "st_wal.h"
#include "st_wal_format.h"

#define HDR_LEN 5
#define SHARD 3
#define TMPFS_MAGIC 0x01021994
/* Records whose CRC is fixed up may claim at most this much raw payload. */
#define FIX_RAW_MAX (1u << 20)

enum {
	F_FIX_CRC = 1u << 0,
	F_HDR_NPOINTS = 1u << 1,
	F_ZERO_TAIL = 1u << 2,
};

/* A failed property names itself, then aborts (the driver keeps the input). */
#define check(ok)                                                                      \
	do {                                                                           \
		if (!(ok)) {                                                           \
			fprintf(stderr, "fuzz_st_wal:%d: %s\n", __LINE__, #ok);       \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* ------------------------------------------------------------------------ */
/* What the callbacks saw                                                   */
/* ------------------------------------------------------------------------ */

struct seen {
	uint64_t series;
	uint64_t point_calls;
	uint64_t points;
	uint64_t hash;        /* FNV-1a over everything delivered */
	bool bad_key;
};

static void mix(struct seen *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 0x100000001b3ULL;
}

static int on_series(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key, uint16_t keylen)
{
	struct seen *s = ctx;
	s->series++;
	s->bad_key |= keylen == 0 || keylen > ST_KEY_MAX;
	mix(s, &id, sizeof(id));
	mix(s, &vtype, sizeof(vtype));
	mix(s, key, keylen);      /* every key byte must be readable */
	return 0;
}

static int on_points(void *ctx, uint64_t lsn, const uint32_t *ids, const int64_t *ts,
		     const uint64_t *vals, uint32_t n)
{
	struct seen *s = ctx;
	s->point_calls++;
	s->points += n;
	mix(s, &lsn, sizeof(lsn));
	mix(s, ids, (size_t)n * sizeof(*ids));
	mix(s, ts, (size_t)n * sizeof(*ts));
	mix(s, vals, (size_t)n * sizeof(*vals));
	return 0;
}

static const struct st_wal_replay_cb cb = {.series = on_series, .points = on_points};

/* ------------------------------------------------------------------------ */
/* The payload decoder                                                      */
/* ------------------------------------------------------------------------ */

static void fuzz_decode(const uint8_t *body, size_t len, uint8_t flags, uint32_t npoints)
{
	if (len > UINT32_MAX)
		return;
	if ((flags & F_HDR_NPOINTS) && len >= sizeof(struct st_wal_payload_hdr))
		memcpy(&npoints, body + offsetof(struct st_wal_payload_hdr, npoints), 4);
	struct seen s = {.hash = 14695981039346656037ULL};
	int rc = st_wal_payload_decode(body, (uint32_t)len, npoints, 9, &cb, &s);
	check(rc == 0 || rc == -EBADMSG);
	if (rc) {
		check(s.series == 0 && s.point_calls == 0);
		return;
	}
	check(!s.bad_key);
	check(s.points == npoints);
	check(s.point_calls == (npoints ? 1u : 0u));
	check((uint64_t)npoints * 20 <= len);
}

/* ------------------------------------------------------------------------ */
/* A segment of fuzzed records, replayed                                    */
/* ------------------------------------------------------------------------ */

static char dir[256];
static char seg[320];

static void cleanup(void)
{
	if (seg[0])
		unlink(seg);
	if (dir[0])
		rmdir(dir);
}

static bool make_dir(void)
{
	struct statfs sf;
	const char *tmp = getenv("TMPDIR");
	const char *base = statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC ? "/dev/shm" :
			   tmp && *tmp ? tmp : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_st_wal.XXXXXX", base);
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return false;
	}
	int n = snprintf(seg, sizeof(seg), "%s/%016llx.wal", dir, 1ULL);
	check(n > 0 && (size_t)n < sizeof(seg));
	atexit(cleanup);
	/* replay logs every cut tail; a fuzz run makes hundreds of thousands */
	cm_log_set_level(CM_LOG_ERR);
	return true;
}

/* Walk the records in rec[0..len) and give each one that fits a correct CRC. */
static void fix_crcs(uint8_t *rec, size_t len)
{
	size_t off = 0;
	while (len - off >= sizeof(struct st_wal_rec_hdr)) {
		struct st_wal_rec_hdr h;
		memcpy(&h, rec + off, sizeof(h));
		if (h.magic != ST_WAL_REC_MAGIC || h.stored_len > len - off - sizeof(h))
			return;
		if (h.raw_len <= FIX_RAW_MAX) {
			uint32_t crc = cm_crc32c(0, rec + off + 8, sizeof(h) - 8);
			h.crc = cm_crc32c(crc, rec + off + sizeof(h), h.stored_len);
			memcpy(rec + off, &h, sizeof(h));
		}
		off += (sizeof(h) + h.stored_len + 7) & ~(size_t)7;
		if (off > len)
			return;
	}
}

static void seg_header(uint8_t *page)
{
	struct st_wal_seg_hdr h = {
		.magic = ST_WAL_SEG_MAGIC,
		.version = ST_WAL_VERSION,
		.shard_id = SHARD,
		.seq = 1,
		.first_lsn = 1,
		.created_ns = 1700000000000000000,
	};
	h.crc = cm_crc32c(0, &h, offsetof(struct st_wal_seg_hdr, crc));
	memset(page, 0, ST_WAL_PAGE);
	memcpy(page, &h, sizeof(h));
}

static void fuzz_replay(const uint8_t *body, size_t len, uint8_t flags)
{
	if (!dir[0] && !make_dir())
		return;
	size_t tail = flags & F_ZERO_TAIL ? ST_WAL_PAGE : 0;
	size_t size = ST_WAL_PAGE + len + tail;
	uint8_t *file = calloc(1, size);
	check(file != NULL);
	seg_header(file);
	memcpy(file + ST_WAL_PAGE, body, len);
	if (flags & F_FIX_CRC)
		fix_crcs(file + ST_WAL_PAGE, len);
	int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(write(fd, file, size) == (ssize_t)size);
	close(fd);
	free(file);

	uint64_t from = flags >> 4;
	struct st_wal_replay_stats a, b;
	struct seen s1 = {.hash = 14695981039346656037ULL}, s2 = s1;
	check(st_wal_replay(dir, &st_io_posix, SHARD, from, &cb, &s1, &a) == 0);
	check(a.segments == 1 && a.torn_tails <= 1 && a.lsn_gaps == 0);
	check(a.points == s1.points && !s1.bad_key);
	check(a.records + a.records_skipped <= len / sizeof(struct st_wal_rec_hdr));
	check(a.next_lsn >= 1 && a.next_lsn >= from);
	check(st_wal_replay(dir, &st_io_posix, SHARD, from, &cb, &s2, &b) == 0);
	check(b.torn_tails == 0 && b.bad_bytes == 0);
	check(b.records == a.records && b.records_skipped == a.records_skipped);
	check(b.points == a.points && b.next_lsn == a.next_lsn);
	check(s2.hash == s1.hash && s2.series == s1.series);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < HDR_LEN)
		return 0;
	uint8_t flags = data[0];
	uint32_t npoints = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
			   (uint32_t)data[4] << 24;
	/* an exact-size copy: a sanitizer sees any read past the body */
	size_t blen = len - HDR_LEN;
	uint8_t *body = malloc(blen ? blen : 1);
	check(body != NULL);
	memcpy(body, data + HDR_LEN, blen);
	fuzz_decode(body, blen, flags, npoints);
	fuzz_replay(body, blen, flags);
	free(body);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Seeds: valid payloads and segments of valid records                      */
/* ------------------------------------------------------------------------ */

/* A payload with ndefs definitions and n points of a regular series; its length. */
static size_t make_payload(uint8_t *out, uint32_t ndefs, uint32_t n, uint32_t seed)
{
	struct st_wal_payload_hdr ph = {.ndefs = ndefs, .npoints = n};
	size_t off = sizeof(ph);
	for (uint32_t i = 0; i < ndefs; i++) {
		char key[64];
		int kl = snprintf(key, sizeof(key), "cpu,host=host_%u usage_user", seed + i);
		struct st_wal_def d = {.id = seed + i, .vtype = (uint8_t)(1 + i % 4),
				       .keylen = (uint16_t)kl};
		memcpy(out + off, &d, sizeof(d));
		memcpy(out + off + sizeof(d), key, (size_t)kl);
		size_t need = (sizeof(d) + (size_t)kl + 3) & ~(size_t)3;
		memset(out + off + sizeof(d) + kl, 0, need - sizeof(d) - (size_t)kl);
		off += need;
	}
	ph.defs_bytes = (uint32_t)(off - sizeof(ph));
	memcpy(out, &ph, sizeof(ph));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = seed + i % (ndefs ? ndefs : 1);
		memcpy(out + off + 4 * (size_t)i, &id, 4);
	}
	off += 4 * (size_t)n;
	for (uint32_t i = 0; i < n; i++) {
		int64_t d = i == 0 ? INT64_C(1700000000000000000) : (i % 7 ? 10000000000 : -3);
		memcpy(out + off + 8 * (size_t)i, &d, 8);
	}
	off += 8 * (size_t)n;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = (uint64_t)(i * 37 % 100);
		memcpy(out + off + 8 * (size_t)i, &v, 8);
	}
	return off + 8 * (size_t)n;
}

/* A record of lsn around payload[0..raw) at out, compressed when zstd; its padded length. */
static size_t make_record(uint8_t *out, uint64_t lsn, const uint8_t *payload, size_t raw,
			  uint32_t npoints, bool zstd)
{
	struct st_wal_rec_hdr h = {.magic = ST_WAL_REC_MAGIC, .lsn = lsn, .raw_len = (uint32_t)raw,
				   .npoints = npoints, .codec = ST_WAL_CODEC_RAW};
	size_t stored = raw;
	uint8_t *dst = out + sizeof(h);
	if (zstd) {
		size_t c = ZSTD_compress(dst, ZSTD_compressBound(raw), payload, raw, 1);
		check(!ZSTD_isError(c));
		stored = c;
		h.codec = ST_WAL_CODEC_ZSTD;
	} else {
		memcpy(dst, payload, raw);
	}
	h.stored_len = (uint32_t)stored;
	uint32_t crc = cm_crc32c(0, &h.lsn, sizeof(h) - 8);
	h.crc = cm_crc32c(crc, dst, stored);
	memcpy(out, &h, sizeof(h));
	size_t len = (sizeof(h) + stored + 7) & ~(size_t)7;
	memset(out + sizeof(h) + stored, 0, len - sizeof(h) - stored);
	return len;
}

static void emit_with(fz_emit_fn emit, void *arg, uint8_t flags, uint32_t npoints,
		      const uint8_t *body, size_t len)
{
	static uint8_t in[8192];
	if (HDR_LEN + len > sizeof(in))
		return;
	in[0] = flags;
	for (int i = 0; i < 4; i++)
		in[1 + i] = (uint8_t)(npoints >> (8 * i));
	memcpy(in + HDR_LEN, body, len);
	emit(arg, in, HDR_LEN + len);
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static uint8_t pl[4096], body[8000];
	size_t n;

	/* payloads */
	n = make_payload(pl, 2, 10, 0);
	emit_with(emit, arg, 0, 10, pl, n);
	emit_with(emit, arg, F_HDR_NPOINTS, 0, pl, n);
	n = make_payload(pl, 0, 60, 5);
	emit_with(emit, arg, F_HDR_NPOINTS, 0, pl, n);
	n = make_payload(pl, 3, 0, 9);
	emit_with(emit, arg, 0, 0, pl, n);

	/* segments: raw records, zstd records, mixed, with and without a zero tail */
	static const struct {
		uint8_t flags;
		bool zstd[4];
		uint32_t nrec;
	} segs[] = {
		{F_FIX_CRC | F_ZERO_TAIL, {false, false, false}, 3},
		{F_FIX_CRC, {true, true}, 2},
		{F_ZERO_TAIL | (2u << 4), {true, false, true, false}, 4},
		{0, {false}, 1},
	};
	for (size_t k = 0; k < sizeof(segs) / sizeof(segs[0]); k++) {
		size_t off = 0;
		for (uint32_t r = 0; r < segs[k].nrec; r++) {
			uint32_t np = 5 + 20 * r;
			size_t raw = make_payload(pl, r % 2 ? 0 : 2, np, 10 * r);
			off += make_record(body + off, 1 + r, pl, raw, np, segs[k].zstd[r]);
		}
		emit_with(emit, arg, segs[k].flags, 0, body, off);
	}
	/* a valid record followed by garbage */
	n = make_payload(pl, 1, 8, 77);
	size_t off = make_record(body, 1, pl, n, 8, true);
	memset(body + off, 0xa5, 40);
	emit_with(emit, arg, F_FIX_CRC, 0, body, off + 40);
}
