/*
 * fuzz_st_block.c - fuzz target for the block reader (storage/st_block.c)
 * and the column decoders (storage/st_colcodec.c), plus a round-trip
 * property for the column encoders.
 *
 * Input layout: byte 0 picks the mode, the rest is its payload.
 *
 *   mode % 4 == 0   a block file: st_block_open over the payload (read
 *                   callback on an exact-size heap copy), then, if it opens,
 *                   every lookup, st_block_read of each series over the whole
 *                   range and over a range picked by the payload, and
 *                   st_block_verify. Everything must end in 0, -EBADMSG or a
 *                   result that agrees with the index.
 *   mode % 4 == 1   the same, after recomputing every CRC the payload's own
 *                   footer and section table point at (header, footer,
 *                   section table, each section): mutations then reach the
 *                   structural checks of the index and the column decoders,
 *                   which the CRCs otherwise guard.
 *   mode % 4 == 2   one column: byte 1 codec id, bytes 2-3 count (u16 LE,
 *                   1 + value % 4096), bytes 4-11 and 12-19 the first and last
 *                   values (u64 LE), the rest the column bytes.
 *   mode % 4 == 3   round trip: the payload shapes a series (as
 *                   fuzz_st_chunk.c does), which is encoded with the chooser
 *                   and with every codec id; each accepted encoding must
 *                   decode back bit for bit (abort() otherwise).
 *
 * Seeds (fz_seeds): small valid block images in both block modes, encoded
 * columns, and round-trip shapes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_crc32c.h"
#include "cm_rand.h"
#include "fz_driver.h"
#include "st_block.h"
#include "st_colcodec.h"
#include "st_format.h"

#define MAX_N 4096

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ------------------------------------------------------------------------ */
/* Blocks                                                                   */
/* ------------------------------------------------------------------------ */


/* Recompute every CRC the file's own footer and table point at (bounds permitting). */
static void fix_crcs(uint8_t *p, size_t len)
{
	struct st_fmt_block_header h;
	struct st_fmt_block_footer f;
	if (len < sizeof(h) + sizeof(f))
		return;
	memcpy(&h, p, sizeof(h));
	h.crc = cm_crc32c(0, &h, offsetof(struct st_fmt_block_header, crc));
	memcpy(p, &h, sizeof(h));
	memcpy(&f, p + len - sizeof(f), sizeof(f));
	if (f.index_off <= len && f.nsections <= (len - f.index_off) / sizeof(struct st_fmt_section)) {
		for (uint32_t i = 0; i < f.nsections; i++) {
			struct st_fmt_section s;
			uint8_t *at = p + f.index_off + i * sizeof(s);
			memcpy(&s, at, sizeof(s));
			if (s.offset <= len && s.stored_bytes <= len - s.offset) {
				s.crc = cm_crc32c(0, p + s.offset, s.stored_bytes);
				memcpy(at, &s, sizeof(s));
			}
		}
		f.table_crc = cm_crc32c(0, p + f.index_off, f.nsections * sizeof(struct st_fmt_section));
	}
	f.crc = cm_crc32c(0, &f, offsetof(struct st_fmt_block_footer, crc));
	memcpy(p + len - sizeof(f), &f, sizeof(f));
}

static void read_series(const struct st_block *blk, uint32_t id, int64_t lo, int64_t hi,
			uint64_t expect_max)
{
	struct st_points pts;
	st_points_init(&pts);
	int rc = st_block_read(blk, id, lo, hi, &pts);
	check(rc == -EBADMSG || (rc >= 0 && (uint64_t)rc <= expect_max && pts.n == (size_t)rc));
	for (size_t i = 0; rc > 0 && i < pts.n; i++) {
		check(pts.ts[i] >= lo && pts.ts[i] <= hi);
		check(i == 0 || pts.ts[i] > pts.ts[i - 1]);
	}
	st_points_release(&pts);
}

static void fuzz_block(const uint8_t *data, size_t len, bool fix)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	if (fix)
		fix_crcs(copy, len);
	struct st_block_mem f = {copy, len};
	struct st_block *blk;
	char err[128];
	int rc = st_block_open(len, st_block_mem_read, &f, &blk, err, sizeof(err));
	check(rc == 0 || rc == -EBADMSG || rc == -ENOMEM);
	if (rc) {
		check(blk == NULL && (rc != -EBADMSG || err[0]));
		free(copy);
		return;
	}
	struct st_block_info info;
	st_block_get_info(blk, &info);
	check(info.nseries == st_block_series_count(blk) && info.nseries > 0);
	check(info.t_min <= info.t_max && info.file_bytes == len);
	for (uint32_t i = 0; i < info.nseries; i++) {
		uint32_t id;
		enum st_value_type vt;
		st_block_series_at(blk, i, &id, &vt);
		check(st_block_has_series(blk, id));
		check(vt >= ST_VT_F64 && vt <= ST_VT_BOOL);
		const struct st_block_summary *sum;
		uint32_t n;
		check(st_block_summaries(blk, id, &sum, &n) == 0 && n > 0);
		uint64_t pts = 0;
		for (uint32_t c = 0; c < n; c++) {
			check(sum[c].count > 0 && sum[c].t_min <= sum[c].t_max);
			check(c == 0 || sum[c].t_min > sum[c - 1].t_max);
			pts += sum[c].count;
		}
		read_series(blk, id, INT64_MIN, INT64_MAX, pts);
		int64_t mid = sum[n / 2].t_min, before = (int64_t)(len % 1000), after = (int64_t)(len % 77);
		read_series(blk, id, mid >= INT64_MIN + before ? mid - before : INT64_MIN,
			    mid <= INT64_MAX - after ? mid + after : INT64_MAX, pts);
	}
	rc = st_block_verify(blk, err, sizeof(err));
	check(rc == 0 || rc == -EBADMSG);
	st_block_close(blk);
	free(copy);
}

/* ------------------------------------------------------------------------ */
/* Columns                                                                  */
/* ------------------------------------------------------------------------ */

static void fuzz_column(const uint8_t *data, size_t len)
{
	if (len < 20)
		return;
	uint8_t codec = data[1];
	uint32_t n = 1 + (uint32_t)(data[2] | data[3] << 8) % MAX_N;
	uint64_t first = rd64(data + 4), last = rd64(data + 12);
	size_t clen = len - 20;
	uint8_t *col = malloc(clen ? clen : 1);
	uint64_t *out = malloc(n * sizeof(*out));
	if (col && out) {
		memcpy(col, data + 20, clen);
		int rc = st_col_decode(codec, col, clen, n, first, last, out);
		check(rc == 0 || rc == -EBADMSG);
		if (rc == 0 && !(codec & ST_COL_DEC))
			check(out[0] == first && out[n - 1] == last);
	}
	free(col);
	free(out);
}

static uint64_t rt_state;

static uint64_t rt_rnd(void)
{
	return cm_splitmix64(&rt_state);
}

/* A step chosen by byte b: mostly small, sometimes an edge or a random value. */
static uint64_t pick(uint8_t b)
{
	static const int64_t edges[] = {0, 1, -1, 7, -8, 8, 15, 16, 127, 128, -129, 255, 256,
					65535, 65536, INT64_MAX, INT64_MIN, (INT64_C(1) << 53)};
	if (b < sizeof(edges) / sizeof(edges[0]))
		return (uint64_t)edges[b];
	if (b < 160)
		return (uint64_t)((int64_t)(b % 5) - 2);
	if (b < 220)
		return 0;
	return rt_rnd() >> (rt_rnd() % 64);
}

static void roundtrip(const uint8_t *data, size_t len)
{
	static uint64_t u[MAX_N], out[MAX_N];
	static uint8_t buf[MAX_N * 10 + 64];
	static uint64_t work[(MAX_N * 48 + 16384) / 8];
	if (len < 2)
		return;
	uint32_t n = 1 + (uint32_t)(len * 37 + data[1]) % 2000;
	rt_state = 0;
	for (size_t i = 0; i < len; i++)
		rt_state = (rt_state ^ data[i]) * 0x100000001b3ULL;
	uint64_t v = rt_rnd(), d = 0;
	int form = data[1] % 4;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t b = data[i % len] ^ (uint8_t)(i / len * 29);
		switch (form) {
		case 0: /* integer walk */
			v += pick(b);
			break;
		case 1: /* delta-of-delta (timestamps) */
			d += pick(b);
			v += d;
			break;
		case 2: { /* decimals with specials */
			double x = (double)(int64_t)(pick(b) % 100000) / 100.0;
			static const uint64_t sp[] = {0x8000000000000000ULL, 0x7ff0000000000000ULL,
						      0x7ff8000000000000ULL, 0x7ff8000000000001ULL};
			if (b >= 250)
				memcpy(&v, &sp[b % 4], 8);
			else
				memcpy(&v, &x, 8);
			break;
		}
		default: /* few distinct values */
			v = pick((uint8_t)(b % 24));
			break;
		}
		u[i] = v;
	}
	size_t wb = st_col_work_bytes(n);
	check(wb <= sizeof(work));
	struct st_col_chooser ch = {.work = work, .work_bytes = wb};
	if (data[0] & 4)
		ch.cost = st_col_cost_raw;
	enum st_value_type vt = form == 2 ? ST_VT_F64 : ST_VT_I64;
	uint8_t codec;
	int rc = st_col_encode_best(&ch, form == 1 ? ST_COL_ROLE_TS : ST_COL_ROLE_VALUES, vt, u, n,
				    buf, (size_t)n * 8, &codec);
	check(rc >= 0 && st_col_decode(codec, buf, (size_t)rc, n, u[0], u[n - 1], out) == 0);
	check(memcmp(out, u, n * sizeof(u[0])) == 0);
	/* one specific codec, picked by the input */
	codec = data[len - 1] & 0x7f;
	rc = st_col_encode(codec, u, n, buf, sizeof(buf), work, wb);
	check(rc >= 0 || rc == -EINVAL);
	if (rc >= 0) {
		check(st_col_decode(codec, buf, (size_t)rc, n, u[0], u[n - 1], out) == 0);
		check(memcmp(out, u, n * sizeof(u[0])) == 0);
	}
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_block(data + 1, len - 1, false);
		break;
	case 1:
		fuzz_block(data + 1, len - 1, true);
		break;
	case 2:
		fuzz_column(data, len);
		break;
	default:
		roundtrip(data, len);
		break;
	}
	return 0;
}

/* A small block image from a seed: a few series of different shapes. */
static void emit_block(fz_emit_fn emit, void *arg, uint8_t mode, int variant)
{
	enum { NS = 4, NP = 120 };
	static int64_t ts[NP];
	static uint64_t vals[NP];
	static uint8_t out[8192 + 1];
	const int64_t t0 = INT64_C(1700000000000000000);
	struct st_block_build_cfg cfg = {.shard_id = 1, .part_start_ns = t0,
					 .part_end_ns = t0 + INT64_C(86400000000000),
					 .chunk_points = variant ? 7 : 50};
	struct st_block_builder *b;
	if (st_block_builder_create(&cfg, &b))
		return;
	rt_state = (uint64_t)variant * 77 + 1;
	static const enum st_value_type vts[NS] = {ST_VT_I64, ST_VT_F64, ST_VT_BOOL, ST_VT_U64};
	for (uint32_t s = 0; s < NS; s++) {
		int64_t t = t0 + (int64_t)s * 1000;
		int64_t x = 50;
		uint32_t n = variant && s == 3 ? 1 : NP - s * 20;
		for (uint32_t i = 0; i < n; i++) {
			t += 10000000000 + (variant && s == 1 ? (int64_t)(rt_rnd() % 1000) : 0);
			ts[i] = t;
			x += (int64_t)(rt_rnd() % 5) - 2;
			double f = (double)x / 100.0;
			switch (vts[s]) {
			case ST_VT_F64:
				memcpy(&vals[i], &f, 8);
				break;
			case ST_VT_BOOL:
				vals[i] = (uint64_t)(x & 1);
				break;
			default:
				vals[i] = (uint64_t)x;
				break;
			}
		}
		if (st_block_builder_add(b, s * 3 + 1, vts[s], ts, vals, n))
			break;
	}
	uint8_t *img;
	size_t len;
	if (st_block_builder_finish(b, &img, &len) == 0) {
		if (len + 1 <= sizeof(out)) {
			out[0] = mode;
			memcpy(out + 1, img, len);
			emit(arg, out, len + 1);
		}
		free(img);
	}
	st_block_builder_destroy(b);
}

/* An encoded column seed (mode 2). */
static void emit_column(fz_emit_fn emit, void *arg, uint8_t codec, const uint64_t *u, uint32_t n)
{
	static uint8_t out[20 + 8 * 256 + 64];
	static uint64_t work[(256 * 48 + 16384) / 8];
	int len = st_col_encode(codec, u, n, out + 20, sizeof(out) - 20, work, sizeof(work));
	if (len < 0)
		return;
	out[0] = 2;
	out[1] = codec;
	out[2] = (uint8_t)((n - 1) & 0xff);
	out[3] = (uint8_t)((n - 1) >> 8);
	for (int i = 0; i < 8; i++) {
		out[4 + i] = (uint8_t)(u[0] >> (8 * i));
		out[12 + i] = (uint8_t)(u[n - 1] >> (8 * i));
	}
	emit(arg, out, 20 + (size_t)len);
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	emit_block(emit, arg, 0, 0);
	emit_block(emit, arg, 0, 1);
	emit_block(emit, arg, 1, 0);
	emit_block(emit, arg, 1, 1);

	static uint64_t u[200];
	int64_t x = 1000;
	for (uint32_t i = 0; i < 200; i++) {
		x += (int64_t)(i * 7 % 5) - 2;
		u[i] = (uint64_t)x;
	}
	for (unsigned c = 0; c < 128; c++)
		emit_column(emit, arg, (uint8_t)c, u, 200);
	static uint64_t dec[60];
	for (uint32_t i = 0; i < 60; i++) {
		double f = (double)(int64_t)(i * i % 97) / 10.0;
		memcpy(&dec[i], &f, 8);
	}
	emit_column(emit, arg, ST_COL_ID(ST_COL_VARINT, 1) | ST_COL_DEC, dec, 60);
	emit_column(emit, arg, ST_COL_ID(ST_COL_NIBBLE, 0) | ST_COL_DEC, dec, 60);

	static const uint8_t rt[][12] = {
		{3, 0, 3, 0, 5, 9, 13, 17, 21, 25, 29, 33},
		{7, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{3, 2, 0, 36, 35, 34, 250, 251, 252, 253, 29, 28},
		{7, 3, 200, 210, 220, 230, 240, 250, 1, 2, 3, 4},
	};
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++)
		emit(arg, rt[i], sizeof(rt[i]));
}
