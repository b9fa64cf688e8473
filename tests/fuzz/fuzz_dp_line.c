/*
 * fuzz_dp_line.c - fuzz target for the line protocol decoder (dp_line.c).
 *
 * Decodes the input line by line twice, as one complete buffer (a UDP
 * datagram) and as a stream chunk, builds the series key of every field of
 * every good line, and checks the decoder's contract, abort()ing on any
 * violation: progress on every call (consumed > 0 unless TRUNCATED, never
 * past the end, ending at '\n' or the end), slices inside the input or the
 * line's scratch, OK lines within the limits with sorted unique tags and
 * unique fields, and keys that st_key_parse accepts and that hold the
 * decoded names.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_line.h"
#include "fz_driver.h"

#define FIELDS_CAP 64

static struct dp_field fields[FIELDS_CAP];
static struct dp_line line;
static uint8_t key[ST_KEY_MAX], ref[ST_KEY_MAX];

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static bool inside(struct st_str s, const uint8_t *data, size_t len)
{
	const char *b = (const char *)data;
	if (s.len == 0)
		return true;
	if (s.p >= b && s.p + s.len <= b + len)
		return true;
	return s.p >= line.scratch && s.p + s.len <= line.scratch + line.scratch_used;
}

static bool same(struct st_str a, struct st_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static int cmp(struct st_str a, struct st_str b)
{
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);
	return c ? c : (a.len > b.len) - (a.len < b.len);
}

static void check_ok_line(const uint8_t *data, size_t len)
{
	CHECK(line.measurement.len > 0 && inside(line.measurement, data, len));
	CHECK(line.ntags <= ST_TAGS_MAX);
	CHECK(line.nfields >= 1 && line.nfields <= FIELDS_CAP);
	for (uint32_t i = 0; i < line.ntags; i++) {
		CHECK(line.tags[i].key.len > 0 && inside(line.tags[i].key, data, len));
		CHECK(line.tags[i].value.len > 0 && inside(line.tags[i].value, data, len));
		CHECK(i == 0 || cmp(line.tags[i - 1].key, line.tags[i].key) < 0);
	}
	for (uint32_t i = 0; i < line.nfields; i++) {
		const struct dp_field *f = &line.fields[i];
		CHECK(f->key.len > 0 && inside(f->key, data, len));
		CHECK(f->type >= ST_VT_F64 && f->type <= ST_VT_STR);
		for (uint32_t j = 0; j < i; j++)
			CHECK(!same(line.fields[j].key, f->key));
		if (f->type == ST_VT_F64)
			CHECK(isfinite(f->v.f64));
		if (f->type == ST_VT_STR) {
			CHECK(inside(f->str, data, len));
			char tmp[DP_LINE_MAX_BYTES < 8192 ? DP_LINE_MAX_BYTES : 8192];
			if (f->str.len <= sizeof(tmp)) {
				int n = dp_line_str_unescape(f->str, tmp, sizeof(tmp));
				CHECK(n >= 0 && (uint32_t)n <= f->str.len);
				CHECK((n == (int)f->str.len) == !(f->flags & DP_FIELD_ESCAPED));
			}
		}

		int n = dp_line_key(&line, i, key, sizeof(key));
		CHECK(n > 0 && n <= ST_KEY_MAX);
		/* the spliced key is byte for byte what st_key_build gives */
		struct st_tag tags[ST_TAGS_MAX];
		memcpy(tags, line.tags, line.ntags * sizeof(tags[0]));
		CHECK(st_key_build(ref, sizeof(ref), line.measurement, f->key, tags, line.ntags) == n);
		CHECK(memcmp(ref, key, (size_t)n) == 0);
		CHECK(dp_line_key(&line, i, key, (size_t)n - 1) == -ENOSPC);
		struct st_key_view v;
		CHECK(st_key_parse(key, (size_t)n, &v) == 0);
		CHECK(same(v.name, line.measurement));
		CHECK(same(v.field, f->key));
		CHECK(v.ntags == line.ntags);
		struct st_key_iter it;
		struct st_tag t;
		uint32_t k = 0;
		st_key_iter_init(&v, &it);
		while (st_key_iter_next(&it, &t)) {
			CHECK(same(t.key, line.tags[k].key) && same(t.value, line.tags[k].value));
			k++;
		}
		CHECK(k == line.ntags);
		struct st_point pt;
		dp_line_point(&line, i, &pt);
		CHECK(pt.ts_ns == line.ts_ns && pt.type == f->type);
	}
}

static void run(const uint8_t *data, size_t len, const struct dp_line_opts *o)
{
	const char *buf = (const char *)data;
	size_t off = 0;
	uint32_t calls = 0;
	while (off < len) {
		size_t used = (size_t)-1;
		enum dp_line_status st = dp_line_decode(&line, buf + off, len - off, o, &used);
		CHECK((unsigned)st < DP_LINE__COUNT);
		CHECK(strcmp(dp_line_status_name(st), "unknown") != 0);
		if (st == DP_LINE_TRUNCATED) {
			CHECK(used == 0 && !(o->flags & DP_LINE_COMPLETE));
			CHECK(memchr(buf + off, '\n', len - off) == NULL);
			break;
		}
		CHECK(used > 0 && used <= len - off);
		CHECK(buf[off + used - 1] == '\n' || off + used == len);
		CHECK(memchr(buf + off, '\n', used - 1) == NULL);
		CHECK(inside(line.text, data, len));
		if (st != DP_LINE_TOO_LONG)
			CHECK(line.err_off <= line.text.len);
		if (st == DP_LINE_OK)
			check_ok_line(data, len);
		off += used;
		CHECK(++calls <= len);
	}
	CHECK(off <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static bool init;
	if (!init) {
		dp_line_init(&line, fields, FIELDS_CAP);
		init = true;
	}
	struct dp_line_opts o = {.now_ns = 1, .unit_ns = 1, .flags = DP_LINE_COMPLETE};
	run(data, len, &o);
	o.flags = 0;
	o.unit_ns = 1000000; /* ms: exercise the precision overflow checks */
	run(data, len, &o);
	return 0;
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static const char *const seeds[] = {
		"cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6,"
		"os=Ubuntu15.10,arch=x86,team=SF,service=19,service_version=1,"
		"service_environment=test usage_user=58i,usage_system=2i,usage_idle=24i,"
		"usage_nice=61i,usage_iowait=22i,usage_irq=63i,usage_softirq=6i,usage_steal=44i,"
		"usage_guest=80i,usage_guest_nice=38i 1451606400000000000\n"
		"cpu,hostname=host_1,region=us-west-1,datacenter=us-west-1a,rack=41,"
		"os=Ubuntu15.10,arch=x64,team=NYC,service=9,service_version=1,"
		"service_environment=staging usage_user=84i,usage_system=11i,usage_idle=53i,"
		"usage_nice=87i,usage_iowait=29i,usage_irq=20i,usage_softirq=54i,usage_steal=77i,"
		"usage_guest=53i,usage_guest_nice=74i 1451606400000000000\n",
		"weather,location=us\\ west,site\\=x=3\\,a temp=82.5,hum=51i,ok=t,n=18446744073709551615u,"
		"note=\"dry, \\\"hot\\\" \\\\ day\" 1465839830100400200\r\n",
		"my\\ meas\\,x,t\\ k=v f\\=k=-1.25e-3,g=.5,h=1.,i=-9223372036854775808i\n"
		"# a comment\n\n   \t\nm f=TRUE,g=False,h=F 0\n",
		"disk,host=a used_percent=0.30000000000000004,free=123456789012345678901234567890 -1\n"
		"bad line\nm f=NaN\nm f=1e309 5\nm,a=1,a=2 f=1\nm f=1i,f=2i 9223372036854775807\n",
		"m s=\"unterminated\nm f=1\r\nm f=\"a\\\"\" 1 2\nm f=1 12345678901234567890",
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		emit(arg, (const uint8_t *)seeds[i], strlen(seeds[i]));

	/* At the limits: tags, fields, key length (mutations step over them). */
	static char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "m");
	for (int i = 0; i < ST_TAGS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",t%02d=v", i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " f=1i\n");
	emit(arg, (const uint8_t *)buf, n);

	n = (size_t)snprintf(buf, sizeof(buf), "m ");
	for (int i = 0; i < FIELDS_CAP; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sf%02d=%d", i ? "," : "", i, i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " 1\n");
	emit(arg, (const uint8_t *)buf, n);

	n = ST_KEY_MAX - 2 - 2 - 1 - 2 - 6;
	memset(buf, 'x', n);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",t=v f=1i\n");
	emit(arg, (const uint8_t *)buf, n);
}
