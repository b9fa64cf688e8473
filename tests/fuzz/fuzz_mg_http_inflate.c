/*
 * fuzz_mg_http_inflate.c - fuzz target for the HTTP API's bounded gzip
 * inflate (mg_http_inflate, mgmt/mg_http_util.c), which every gzip'd
 * /write body goes through before anything else looks at it.
 *
 * Two uses of each input, abort()ing on any contract violation:
 *   - as a gzip body under a 64 KiB bound: a known status; on success the
 *     output is within the bound, NUL-terminated, and the same body is
 *     refused with -EFBIG one byte below its size and accepted again at
 *     exactly its size; -EFBIG stays -EFBIG for smaller bounds;
 *   - as a body to compress: the input gzip'd by zlib inflates back to
 *     itself at a bound of exactly its length, and one byte less is -EFBIG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fz_driver.h"
#include "mg_http.h"

#define BOUND (64u * 1024u)

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static int run(const uint8_t *data, size_t len, size_t max, char **out, size_t *n)
{
	*out = (char *)1;
	int rc = mg_http_inflate(data, len, max, out, n);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM);
	if (rc) {
		CHECK(*out == NULL && *n == 0);
		return rc;
	}
	CHECK(*out != NULL && *n <= max && (*out)[*n] == '\0');
	return 0;
}

/* gzip'd data[0..len) into a new buffer (level and strategy from the data). */
static uint8_t *gzip_of(const uint8_t *data, size_t len, size_t *zlen)
{
	z_stream zs = {0};
	int level = len ? data[0] % 10 : 6;
	if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&zs, len) + 32;
	uint8_t *z = malloc(cap);
	zs.next_in = (uint8_t *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	int zr = z ? deflate(&zs, Z_FINISH) : Z_MEM_ERROR;
	*zlen = cap - zs.avail_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(z);
		return NULL;
	}
	return z;
}

static void as_gzip(const uint8_t *data, size_t len)
{
	char *out, *again;
	size_t n, m;
	int rc = run(data, len, BOUND, &out, &n);
	if (rc == -EFBIG) {
		CHECK(run(data, len, BOUND / 2, &again, &m) == -EFBIG);
		return;
	}
	if (rc)
		return;
	CHECK(run(data, len, n, &again, &m) == 0);
	CHECK(m == n && memcmp(out, again, n) == 0);
	free(again);
	if (n > 0)
		CHECK(run(data, len, n - 1, &again, &m) == -EFBIG);
	free(out);
}

static void as_body(const uint8_t *data, size_t len)
{
	size_t zlen, n;
	uint8_t *z = gzip_of(data, len, &zlen);
	if (!z)
		return;
	char *out;
	CHECK(run(z, zlen, len, &out, &n) == 0);
	CHECK(n == len && (len == 0 || memcmp(out, data, len) == 0));
	free(out);
	if (len > 0)
		CHECK(run(z, zlen, len - 1, &out, &n) == -EFBIG);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	as_gzip(data, len);
	as_body(data, len);
	return 0;
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static const char *const bodies[] = {
		("cpu,hostname=host_0,region=eu-central-1 usage_user=58i,usage_system=2i "
		 "1451606400000000000\ncpu,hostname=host_1 usage_user=4i 1451606400000000000\n"),
		"",
		"m v=1\n",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t zlen;
		uint8_t *z = gzip_of((const uint8_t *)bodies[i], strlen(bodies[i]), &zlen);
		if (!z)
			continue;
		emit(arg, z, zlen);
		/* two members back to back */
		uint8_t *two = malloc(2 * zlen);
		if (two) {
			memcpy(two, z, zlen);
			memcpy(two + zlen, z, zlen);
			emit(arg, two, 2 * zlen);
			free(two);
		}
		free(z);
	}
	/* a small bomb: 256 KiB of zeros, past the bound */
	static uint8_t zeros[256 * 1024];
	size_t zlen;
	uint8_t *z = gzip_of(zeros, sizeof(zeros), &zlen);
	if (z) {
		emit(arg, z, zlen);
		free(z);
	}
}
