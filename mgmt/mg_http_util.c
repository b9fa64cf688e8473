/*
 * mg_http_util.c - the pure helpers of the HTTP API (mg_http.h): bounded
 * gzip inflate, listen-address parsing, Prometheus names and exposition
 * lines, form-body decoding. Kept apart from the server (mg_http.c) so that
 * unit tests and the fuzz target link them without the service.
 *
 * Usage profile: an inflate per gzip'd /write (bodies of a few MB, a few
 * per second per connection), one exposition line per counter per scrape.
 * No state; any thread.
 */
#include "mg_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cm_compiler.h"

/* ------------------------------------------------------------ inflate */

/* Room for more output: double, never past bound (+1 byte for the NUL). 0 or -ENOMEM. */
static int out_grow(char **buf, size_t *cap, size_t bound)
{
	size_t ncap = *cap > bound / 2 ? bound : *cap * 2;
	char *p = realloc(*buf, ncap + 1);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

/* One inflate call over at most UINT_MAX bytes of input and of output room. */
static int inflate_step(z_stream *zs, const unsigned char **ip, size_t *left, char *buf,
			size_t *n, size_t cap)
{
	if (zs->avail_in == 0 && *left) {
		uInt take = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
		zs->next_in = (unsigned char *)(uintptr_t)*ip;
		zs->avail_in = take;
		*ip += take;
		*left -= take;
	}
	uInt room = cap - *n > UINT_MAX ? UINT_MAX : (uInt)(cap - *n);
	zs->next_out = (unsigned char *)buf + *n;
	zs->avail_out = room;
	int zr = inflate(zs, Z_NO_FLUSH);
	*n += room - zs->avail_out;
	return zr;
}

/* Inflate every member of the stream into *buf (capacity *cap, bound bytes at most). */
static int inflate_all(z_stream *zs, const unsigned char *ip, size_t left, char **buf,
		       size_t *cap, size_t bound, size_t *n)
{
	for (;;) {
		if (*n == *cap) {
			/* the output is full: byte max + 1 proves the body too big */
			if (*n == bound)
				return -EFBIG;
			if (out_grow(buf, cap, bound))
				return -ENOMEM;
		}
		int zr = inflate_step(zs, &ip, &left, *buf, n, *cap);
		bool input_done = zs->avail_in == 0 && left == 0;
		if (zr == Z_STREAM_END) {
			if (input_done)
				return 0;
			if (inflateReset(zs) != Z_OK)      /* another gzip member follows */
				return -EINVAL;
			continue;
		}
		if (zr == Z_MEM_ERROR)
			return -ENOMEM;
		if (zr != Z_OK || (input_done && *n < *cap))
			return -EINVAL;                    /* corrupt, or truncated */
	}
}

int mg_http_inflate(const void *in, size_t len, size_t max, char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	size_t bound = max + 1;
	size_t cap = len < bound / 4 ? len * 4 : bound;
	cap = cap < 4096 ? CM_MIN((size_t)4096, bound) : cap;
	char *buf = malloc(cap + 1);
	z_stream zs = {0};
	if (!buf)
		return -ENOMEM;
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	size_t n = 0;
	int rc = inflate_all(&zs, in, len, &buf, &cap, bound, &n);
	if (rc == 0 && n > max)
		rc = -EFBIG;        /* ended at exactly max + 1 bytes */
	inflateEnd(&zs);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* ------------------------------------------------------ listen address */

static int parse_port(const char *s, in_port_t *port)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

int mg_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
			 char *err, size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	bool v6 = hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']';
	if (!colon || hlen - (v6 ? 2 : 0) >= sizeof(host))
		goto bad;
	memcpy(host, s + v6, hlen - (v6 ? 2 : 0));
	host[hlen - (v6 ? 2 : 0)] = '\0';
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		*sslen = sizeof(*a);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1 || parse_port(colon + 1, &a->sin6_port))
			goto bad;
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	*sslen = sizeof(*a);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (host[0] && inet_pton(AF_INET, host, &a->sin_addr) != 1)
		goto bad;
	if (!host[0])
		a->sin_addr.s_addr = htonl(INADDR_ANY);
	if (parse_port(colon + 1, &a->sin_port))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "bad listen address \"%s\": want ipv4:port, [ipv6]:port or :port", s);
	return -EINVAL;
}

/* ------------------------------------------------------------ Prometheus */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

int mg_http_prom_name(const char *name, const char *suffix, char *out, size_t cap)
{
	static const char prefix[] = "streamflow_";
	size_t n = sizeof(prefix) - 1, nl = strlen(name), sl = strlen(suffix);
	if (n + nl + sl + 1 > cap)
		return -ENOSPC;
	memcpy(out, prefix, n);
	for (size_t i = 0; i < nl; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == ':';
		out[n++] = ok ? c : '_';
	}
	if (!ends_with(out, n, suffix)) {
		memcpy(out + n, suffix, sl);
		n += sl;
	}
	out[n] = '\0';
	return (int)n;
}

/* Shortest %g that reads back the same; "+Inf", "-Inf", "NaN" as Prometheus spells them. */
static void fmt_double(double v, char *out, size_t cap)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

int mg_http_prom_stat(const struct mg_stat *s, mg_write_fn fn, void *arg)
{
	char name[256], line[640];
	bool counter = s->kind == MG_STAT_COUNTER;
	if (mg_http_prom_name(s->name, counter ? "_total" : "", name, sizeof(name)) < 0)
		return 0; /* absurdly long name: skipped */
	int n = snprintf(line, sizeof(line), "# TYPE %s %s\n%s %" PRIu64 "\n", name,
			 counter ? "counter" : "gauge", name, s->value);
	return fn(arg, line, (size_t)n);
}

/* HELP text escaping: backslash and newline. */
static size_t help_escape(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '\n') {
			out[n++] = '\\';
			out[n++] = *s == '\n' ? 'n' : '\\';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return n;
}

int mg_http_prom_histo(const struct mg_histo *h, mg_write_fn fn, void *arg)
{
	char name[256], line[1024], help[512], v[40];
	if (mg_http_prom_name(h->name, "", name, sizeof(name)) < 0)
		return 0;
	help_escape(h->help, help, sizeof(help));
	int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s histogram\n", name,
			 help[0] ? help : h->name, name);
	int rc = fn(arg, line, (size_t)CM_MIN(n, (int)sizeof(line) - 1));
	uint32_t nb = CM_MIN(h->nbuckets, (uint32_t)MG_HISTO_BUCKETS);
	for (uint32_t i = 0; i < nb && !rc; i++) {
		fmt_double(h->le[i], v, sizeof(v));
		n = snprintf(line, sizeof(line), "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, v,
			     h->cumulative[i]);
		rc = fn(arg, line, (size_t)n);
	}
	if (rc)
		return rc;
	fmt_double(h->sum, v, sizeof(v));
	n = snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %s\n"
		     "%s_count %" PRIu64 "\n", name, h->count, name, v, name, h->count);
	return fn(arg, line, (size_t)n);
}

/* ------------------------------------------------------------ forms */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t mg_http_url_decode(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '+') {
			s[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
			   (lo = hexval(s[i + 2])) >= 0) {
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

size_t mg_http_form_parse(char *s, size_t len, struct mg_http_kv *kv, size_t max)
{
	size_t n = 0, i = 0;
	while (i <= len && n < max) {
		char *seg = s + i;
		char *amp = memchr(seg, '&', len - i);
		size_t slen = amp ? (size_t)(amp - seg) : len - i;
		i += slen + 1;
		char *eq = memchr(seg, '=', slen);
		size_t klen = eq ? (size_t)(eq - seg) : slen;
		char *val = eq ? eq + 1 : seg + slen;
		size_t vlen = eq ? slen - klen - 1 : 0;
		/* decode both halves, then terminate (each shrinks, so the order is safe) */
		size_t kd = mg_http_url_decode(seg, klen);
		size_t vd = mg_http_url_decode(val, vlen);
		seg[kd] = '\0';
		val[vd] = '\0';
		if (kd == 0)
			continue;
		kv[n].key = seg;
		kv[n].value = val;
		n++;
	}
	return n;
}
