/*
 * sfload.c - the bulk loader `make bench ONLY=compare` drives every system
 * with: InfluxDB line protocol POSTed to an InfluxDB-1.x-compatible /write
 * in gzip'd batches over N keep-alive connections, as tsbs_load_influx
 * does. StreamFlow, VictoriaMetrics (its /write) and InfluxDB 1.6 are
 * loaded by this same program, so their figures differ by the server only.
 *
 *   sfload [--url URL] [--connections N] [--batch LINES] [--level 1-9]
 *          [--limit LINES] FILE
 *
 * FILE is line protocol, plain or .gz/.zst (tl_zread.h). Everything the
 * client can do before the clock starts, it does: the file is read and
 * split into batches of --batch lines (default 10,000), and every batch is
 * gzip-compressed (--level, default 6) in memory. On a 2-core machine a
 * client compressing while it sends would compete with the server it
 * measures. Then N threads (default 4), each with its own libcurl handle
 * and keep-alive connection, take batches in file order from a shared
 * counter and POST them with Content-Encoding: gzip; the clock runs from
 * the first request to the last response.
 *
 * A batch is acknowledged by a 2xx answer (204 from all three); any other
 * answer, or a transport error, counts the batch as failed, prints the
 * first few with the server's words, and makes the exit code 1. Lines and
 * values are counted by the project's own line-protocol decoder
 * (dp_line_decode, as /write decodes them: the fields of each line; a line
 * it refuses is sent all the same and counted in bad_lines), so values/s
 * compares systems with equal work whatever each counts internally.
 *
 * Output, one line on stdout for scripts:
 *   sfload lines=864000 values=8640000 bad_lines=0 batches=87 connections=4
 *     seconds=3.2100 lines_per_s=269158 values_per_s=2691588 failed=0
 *     raw_bytes=... gzip_bytes=...
 *
 * Exit codes: 0 every batch acknowledged, 1 some failed (or the input is
 * unreadable), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <zlib.h>

#include "cm_clock.h"
#include "cm_config.h"
#include "dp_line.h"
#include "tl_zread.h"

#define READ_CHUNK (1u << 20)
#define FAILS_REPORTED 5

struct batch {
	unsigned char *gz;            /* gzip member */
	size_t gz_len;
	uint64_t lines, values, bad;  /* bad: lines the decoder refuses (sent all the same) */
	size_t raw_len;
};

struct load {
	const char *url;
	struct batch *b;
	size_t nb;
	_Atomic size_t next;          /* the next batch to send */
	_Atomic uint64_t failed;
	pthread_mutex_t report_mu;    /* the first failures' messages */
	unsigned reported;
};

/* ------------------------------------------------------------ input */

/* All of path in memory (decompressed), NUL-free lines; -1 with err. */
static int read_all(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct tl_zread *z;
	if (tl_zread_open(path, &z, err, errlen))
		return -1;
	size_t cap = 64u << 20, n = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -1;
	if (!buf)
		snprintf(err, errlen, "out of memory");
	while (rc == 0) {
		if (cap - n < READ_CHUNK) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(err, errlen, "out of memory reading %s", path);
				rc = -1;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = tl_zread_read(z, buf + n, READ_CHUNK, err, errlen);
		if (got < 0)
			rc = -1;
		else if (got == 0)
			break;
		else
			n += (size_t)got;
	}
	tl_zread_close(z);
	if (rc) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* s[0..n) as one gzip member at level; 0 or -1. */
static int gzip_batch(const char *s, size_t n, int level, struct batch *b)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&zs, (uLong)n);
	b->gz = malloc(cap);
	if (!b->gz) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)(uintptr_t)s;
	zs.avail_in = (uInt)n;
	zs.next_out = b->gz;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, Z_FINISH);
	b->gz_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? 0 : -1;
}

static void free_batches(struct batch *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].gz);
	free(v);
}

/*
 * Split text into batches of per lines and compress each. Lines and values
 * are what the project's line-protocol decoder finds (dp_line_decode, as
 * /write decodes them): blank lines and comments are no lines, a line it
 * refuses is a line with no values (counted in bad). 0, or -1 with err.
 */
static int make_batches(const char *text, size_t len, uint64_t per, uint64_t limit, int level,
			struct batch **out, size_t *nout, char *err, size_t errlen)
{
	static struct dp_field fields[DP_LINE_FIELDS_DEFAULT];
	static struct dp_line line;
	dp_line_init(&line, fields, DP_LINE_FIELDS_DEFAULT);
	const struct dp_line_opts opts = {.unit_ns = 1, .flags = DP_LINE_COMPLETE};
	size_t cap = 16, nb = 0;
	struct batch *v = malloc(cap * sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint64_t total = 0;
	for (size_t at = 0; at < len && total < limit;) {
		struct batch b = {0};
		size_t start = at;
		while (at < len && b.lines < per && total < limit) {
			size_t used;
			enum dp_line_status st = dp_line_decode(&line, text + at, len - at, &opts, &used);
			at += used;
			if (st == DP_LINE_EMPTY)
				continue;
			b.lines++;
			total++;
			if (st == DP_LINE_OK)
				b.values += line.nfields;
			else
				b.bad++;
		}
		if (b.lines == 0)
			break;
		b.raw_len = at - start;
		if (nb == cap) {
			struct batch *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				snprintf(err, errlen, "out of memory");
				free_batches(v, nb);
				return -1;
			}
			v = nv;
			cap *= 2;
		}
		if (gzip_batch(text + start, at - start, level, &b)) {
			snprintf(err, errlen, "gzip failed");
			free(b.gz);
			free_batches(v, nb);
			return -1;
		}
		v[nb++] = b;
	}
	*out = v;
	*nout = nb;
	return 0;
}

/* ------------------------------------------------------------ sending */

struct reply {
	char text[512];
	size_t n;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t len = size * nmemb, room = sizeof(r->text) - 1 - r->n;
	size_t k = len < room ? len : room;
	memcpy(r->text + r->n, p, k);
	r->n += k;
	r->text[r->n] = '\0';
	return len;
}

static void report(struct load *l, size_t i, const char *what)
{
	pthread_mutex_lock(&l->report_mu);
	if (l->reported++ < FAILS_REPORTED)
		fprintf(stderr, "sfload: batch %zu failed: %s\n", i, what);
	pthread_mutex_unlock(&l->report_mu);
}

static void *sender(void *arg)
{
	struct load *l = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: gzip");
	h = h ? curl_slist_append(h, "Content-Type: text/plain; charset=utf-8") : NULL;
	h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	if (!c || !h) {
		fprintf(stderr, "sfload: cannot set up a connection\n");
		atomic_fetch_add(&l->failed, 1);
		curl_slist_free_all(h);
		if (c)
			curl_easy_cleanup(c);
		return NULL;
	}
	struct reply r;
	char cerr[CURL_ERROR_SIZE];
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_URL, l->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
	for (size_t i; (i = atomic_fetch_add(&l->next, 1)) < l->nb;) {
		const struct batch *b = &l->b[i];
		r.n = 0;
		r.text[0] = '\0';
		cerr[0] = '\0';
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->gz);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->gz_len);
		CURLcode rc = curl_easy_perform(c);
		long status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status >= 200 && status < 300)
			continue;
		atomic_fetch_add(&l->failed, 1);
		char what[700];
		if (rc != CURLE_OK)
			snprintf(what, sizeof(what), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		else
			snprintf(what, sizeof(what), "HTTP %ld %.*s", status,
				 (int)strcspn(r.text, "\r\n"), r.text);
		report(l, i, what);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: sfload [--url URL] [--connections N] [--batch LINES] [--level 1-9]\n"
		"              [--limit LINES] FILE\n"
		"  --url          the /write endpoint (default "
		"http://127.0.0.1:8086/write?db=benchmark)\n"
		"  --connections  keep-alive connections, one sending thread each (default 4)\n"
		"  --batch        lines per POST (default 10000)\n"
		"  --level        gzip level of the batches, compressed before the clock (default 6)\n"
		"  --limit        send only the first LINES lines\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"connections", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"level", required_argument, NULL, 'l'},
		{"limit", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *url = "http://127.0.0.1:8086/write?db=benchmark";
	uint64_t conns = 4, per = 10000, level = 6, limit = UINT64_MAX;
	for (int o; (o = getopt_long(argc, argv, "u:c:b:l:n:h", opts, NULL)) != -1;) {
		bool ok = true;
		switch (o) {
		case 'u': url = optarg; break;
		case 'c': ok = !cm_parse_count(optarg, 1, 256, &conns); break;
		case 'b': ok = !cm_parse_count(optarg, 1, 10000000, &per); break;
		case 'l': ok = !cm_parse_count(optarg, 1, 9, &level); break;
		case 'n': ok = !cm_parse_count(optarg, 1, UINT64_MAX, &limit); break;
		case 'h': usage(); return 0;
		default: ok = false; break;
		}
		if (!ok) {
			if (o != '?')
				fprintf(stderr, "sfload: bad value for --%s: %s\n",
					o == 'c' ? "connections" : o == 'b' ? "batch" : o == 'l' ? "level" : "limit",
					optarg);
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	char err[512], *text;
	size_t len;
	if (read_all(argv[optind], &text, &len, err, sizeof(err))) {
		fprintf(stderr, "sfload: %s\n", err);
		return 1;
	}
	struct load l = {.url = url};
	pthread_mutex_init(&l.report_mu, NULL);
	int rc = make_batches(text, len, per, limit, (int)level, &l.b, &l.nb, err, sizeof(err));
	free(text);
	if (rc) {
		fprintf(stderr, "sfload: preparing the batches: %s\n", err);
		return 1;
	}
	uint64_t lines = 0, values = 0, bad = 0, raw = 0, gz = 0;
	for (size_t i = 0; i < l.nb; i++) {
		lines += l.b[i].lines;
		values += l.b[i].values;
		bad += l.b[i].bad;
		raw += l.b[i].raw_len;
		gz += l.b[i].gz_len;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "sfload: libcurl does not start\n");
		return 1;
	}
	pthread_t t[256];
	int64_t t0 = cm_now_ns();
	uint64_t started = 0;
	for (; started < conns; started++)
		if (pthread_create(&t[started], NULL, sender, &l))
			break;
	for (uint64_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	double secs = (double)(cm_now_ns() - t0) / 1e9;
	if (started < conns)
		fprintf(stderr, "sfload: started %" PRIu64 " of %" PRIu64 " connections\n", started,
			conns);
	uint64_t failed = atomic_load(&l.failed);
	printf("sfload lines=%" PRIu64 " values=%" PRIu64 " bad_lines=%" PRIu64 " batches=%zu"
	       " connections=%" PRIu64 " seconds=%.4f lines_per_s=%.0f values_per_s=%.0f"
	       " failed=%" PRIu64 " raw_bytes=%" PRIu64 " gzip_bytes=%" PRIu64 "\n",
	       lines, values, bad, l.nb, started, secs, secs > 0 ? (double)lines / secs : 0,
	       secs > 0 ? (double)values / secs : 0, failed, raw, gz);
	free_batches(l.b, l.nb);
	curl_global_cleanup();
	pthread_mutex_destroy(&l.report_mu);
	return failed || started < conns ? 1 : 0;
}
