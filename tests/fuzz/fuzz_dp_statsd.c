/*
 * fuzz_dp_statsd.c - fuzz target for the StatsD / DogStatsD decoder
 * (dp_statsd.c).
 *
 * Decodes the input line by line twice, as one datagram and as a stream
 * chunk, builds a series key for every good metric, and checks the
 * decoder's contract, abort()ing on any violation: progress on every call
 * (consumed > 0 unless TRUNCATED, never past the end, ending at '\n' or the
 * end), a status in range with a name, slices inside the input, OK metrics
 * within the limits with finite values, a rate in (0, 1], unique non-empty
 * tag keys, and keys that st_key_parse accepts and that hold the name.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_statsd.h"
#include "fz_driver.h"

static struct dp_statsd metric;
static uint8_t key[ST_KEY_MAX];

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static bool inside(struct st_str s, const char *b, size_t len)
{
	return s.len == 0 || (s.p >= b && s.p + s.len <= b + len);
}

static bool same(struct st_str a, struct st_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static void check_ok(const char *buf, size_t len)
{
	const struct dp_statsd *m = &metric;
	CHECK(m->name.len > 0 && inside(m->name, buf, len));
	for (uint32_t i = 0; i < m->name.len; i++)
		CHECK(m->name.p[i] != ':' && m->name.p[i] != '|' && (unsigned char)m->name.p[i] > ' ');
	CHECK(m->type < DP_STATSD_TYPE__COUNT);
	CHECK(m->nvalues >= 1 && m->nvalues <= DP_STATSD_VALUES_MAX);
	for (uint32_t i = 0; i < m->nvalues; i++) {
		CHECK(m->raw[i].len > 0 && inside(m->raw[i], buf, len));
		CHECK(isfinite(m->v[i]));
		CHECK(!dp_statsd_is_delta(m, i) || m->type == DP_STATSD_GAUGE);
	}
	CHECK(m->nvalues == 64 || (m->delta_mask >> m->nvalues) == 0);
	CHECK(m->rate > 0.0 && m->rate <= 1.0);
	CHECK(m->ts_ns >= 0);
	CHECK(m->ntags <= DP_STATSD_TAGS_MAX);
	for (uint32_t i = 0; i < m->ntags; i++) {
		CHECK(m->tags[i].key.len > 0 && inside(m->tags[i].key, buf, len));
		CHECK(inside(m->tags[i].value, buf, len));
		for (uint32_t j = 0; j < i; j++)
			CHECK(!same(m->tags[j].key, m->tags[i].key));
	}
	int n = dp_statsd_key(m, (struct st_str){"", 0}, key, sizeof(key));
	CHECK(n > 0 && n <= ST_KEY_MAX);
	struct st_key_view v;
	CHECK(st_key_parse(key, (size_t)n, &v) == 0);
	CHECK(same(v.name, m->name) && v.ntags == m->ntags);
	n = dp_statsd_key(m, (struct st_str){"value", 5}, key, sizeof(key));
	CHECK(n > 0 || n == -ENOSPC);
}

static void run(const char *buf, size_t len, uint32_t flags)
{
	size_t off = 0;
	uint32_t calls = 0;
	while (off < len) {
		size_t used = (size_t)-1;
		enum dp_statsd_status st = dp_statsd_decode(&metric, buf + off, len - off, flags, &used);
		CHECK((unsigned)st < DP_STATSD__COUNT);
		CHECK(strcmp(dp_statsd_status_name(st), "unknown") != 0);
		if (st == DP_STATSD_TRUNCATED) {
			CHECK(used == 0 && !(flags & DP_STATSD_COMPLETE));
			CHECK(memchr(buf + off, '\n', len - off) == NULL);
			break;
		}
		CHECK(used > 0 && used <= len - off);
		CHECK(buf[off + used - 1] == '\n' || off + used == len);
		CHECK(memchr(buf + off, '\n', used - 1) == NULL);
		CHECK(inside(metric.text, buf + off, used));
		if (st != DP_STATSD_LINE_TOO_LONG)
			CHECK(metric.err_off <= metric.text.len);
		if (st == DP_STATSD_OK)
			check_ok(buf + off, used);
		if (st == DP_STATSD_EVENT || st == DP_STATSD_SERVICE_CHECK)
			CHECK(metric.name.len > 0 && inside(metric.name, buf + off, used));
		off += used;
		CHECK(++calls <= len);
	}
	CHECK(off <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	run((const char *)data, len, DP_STATSD_COMPLETE);
	run((const char *)data, len, 0);
	return 0;
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static const char *const seeds[] = {
		"page.views:1|c\nfuel.level:0.5|g\nsong.length:240|h\nusers.uniques:1234|s\n"
		"req.time:320|ms\npayload:12.25|d\n",
		"api.latency:12.5:13:11|d|@0.5|#env:prod,region:eu,canary|T1656581400\r\n"
		"g:+4:-2:3|g|c:83c0a99c0a54|#url:http://x:80/p\n",
		"_e{5,13}:Oops!|disk\\nis full|d:1656581400|h:web1|p:low|t:error|#env:prod\n"
		"_sc|db.up|3|d:1656581400|h:web1|#env:prod|m:all good\n\n  \n",
		"a:nan|g\na:1e309|c\na:1|c|@0\na:1|c|#a:1,a:2\na:1|g|T9223372037\na:1|c||x\n"
		"_e{5,4}:tit|text\n_sc|x|9\n:1|c\na b:1|c\na:1\n",
		"x:0.30000000000000004:1.7976931348623157e308:4.9e-324:1e-400|h|@1e-3\n"
		"x:123456789012345678901234567890|d\nu:alice:bob|s|#k:,j",
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		emit(arg, (const uint8_t *)seeds[i], strlen(seeds[i]));

	/* At the limits: values and tags per line (mutations step over them). */
	static char buf[4096];
	size_t n = 0;
	buf[n++] = 'v';
	for (int i = 0; i < DP_STATSD_VALUES_MAX; i++) {
		buf[n++] = ':';
		buf[n++] = (char)('0' + i % 10);
	}
	memcpy(buf + n, "|g\n", 3);
	emit(arg, (const uint8_t *)buf, n + 3);

	n = 0;
	memcpy(buf, "m:1|c|#", 7);
	n = 7;
	for (int i = 0; i < DP_STATSD_TAGS_MAX; i++) {
		if (i)
			buf[n++] = ',';
		buf[n++] = 't';
		buf[n++] = (char)('0' + i / 10);
		buf[n++] = (char)('0' + i % 10);
		buf[n++] = ':';
		buf[n++] = 'v';
	}
	buf[n++] = '\n';
	emit(arg, (const uint8_t *)buf, n);
}
