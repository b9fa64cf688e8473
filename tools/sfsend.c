/*
 * sfsend.c - send points read from stdin to a binary-frame listener, one
 * source (tl_sender.h): a feed handler in a pipe, and the simplest way to
 * put binary frames on a socket by hand.
 *
 *   sfsend --to HOST:PORT [--source ID] [--mtu BYTES] [--redef FRAMES]
 *          [--first-seq N]
 *
 * Input, one point a line:   name[,tag=value...] value [ts_ns]
 *   px.last,venue=XNAS 101.25 1700000000000000000
 *   qty,venue=XNAS 300i
 * A value ending in 'i' is an I64, anything else an F64 (finite); without
 * ts_ns the point takes the current time. Names, keys and values are plain
 * bytes without blanks, ',' or '=' (no escapes). Each distinct series (name,
 * tags in any order, type) gets a ref of its own; its DEF is sent before its
 * first point and again every --redef frames. A frame goes out when full and
 * whenever stdin has nothing more to read right now, so an interactive pipe
 * is not held back. Bad lines are counted, the first few reported on
 * stderr, and skipped. At the end the counts go to stdout.
 *
 * Exit codes: 0 ok, 2 usage error, 1 send error (including the first).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "dp_wire.h"
#include "st_series.h"
#include "tl_sender.h"

#define LINE_MAX_BYTES 65536
#define BAD_REPORTED 5

/* Series seen so far: canonical text ("type name,k=v,...", tags sorted) -> ref. */
struct series_map {
	char **keys;        /* owned; NULL: empty slot */
	uint32_t *refs;
	uint32_t n, cap;    /* cap a power of two, n <= cap / 2 */
};

static uint32_t *map_slot(struct series_map *m, const char *key, uint32_t *idx)
{
	uint32_t i = (uint32_t)st_key_hash((const uint8_t *)key, strlen(key)) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	*idx = i;
	return m->keys[i] ? &m->refs[i] : NULL;
}

static int map_grow(struct series_map *m)
{
	uint32_t cap = m->cap ? m->cap * 2 : 1024;
	struct series_map nm = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(uint32_t)), m->n,
				cap};
	if (!nm.keys || !nm.refs) {
		free(nm.keys);
		free(nm.refs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		uint32_t j;
		map_slot(&nm, m->keys[i], &j);
		nm.keys[j] = m->keys[i];
		nm.refs[j] = m->refs[i];
	}
	free(m->keys);
	free(m->refs);
	*m = nm;
	return 0;
}

static void map_free(struct series_map *m)
{
	for (uint32_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->refs);
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tl_sender_tag *)a)->key, ((const struct tl_sender_tag *)b)->key);
}

struct ctx {
	struct tl_sender *s;
	struct series_map map;
	uint32_t next_ref;
	uint64_t lines, points, bad;
	int send_rc;        /* the first send error */
};

/* Report a bad line (the first few) and count it. */
static void bad_line(struct ctx *c, const char *why, const char *line)
{
	if (c->bad++ < BAD_REPORTED)
		fprintf(stderr, "sfsend: line %" PRIu64 ": %s: '%.80s'\n", c->lines, why, line);
}

/* The ref of (name, tags, type), defining it on first sight. 0 or -errno (err: why). */
static int series_ref(struct ctx *c, const char *name, struct tl_sender_tag *tags, uint32_t ntags,
		      uint8_t type, uint32_t *ref, const char **why)
{
	qsort(tags, ntags, sizeof(*tags), tag_cmp);
	char key[LINE_MAX_BYTES + 8];
	int n = snprintf(key, sizeof(key), "%u %s", type, name);
	for (uint32_t i = 0; i < ntags && n < (int)sizeof(key); i++)
		n += snprintf(key + n, sizeof(key) - (size_t)n, ",%s=%s", tags[i].key, tags[i].value);
	if (2 * (c->map.n + 1) > c->map.cap && map_grow(&c->map)) {
		*why = "out of memory";
		return -ENOMEM;
	}
	uint32_t slot;
	uint32_t *found = map_slot(&c->map, key, &slot);
	if (found) {
		*ref = *found;
		return 0;
	}
	int rc = tl_sender_define(c->s, c->next_ref, name, tags, ntags, type);
	if (rc) {
		*why = rc == -EMSGSIZE ? "series definition does not fit a datagram" : "bad series";
		return rc;
	}
	if (!(c->map.keys[slot] = strdup(key))) {
		*why = "out of memory";
		return -ENOMEM;
	}
	c->map.refs[slot] = *ref = c->next_ref++;
	c->map.n++;
	return 0;
}

/* One input line (NUL-terminated, no '\n'; modified in place). */
static void handle_line(struct ctx *c, char *line)
{
	c->lines++;
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	char *tok[4];
	int ntok = 0;
	for (char *p = strtok(line, " \t"); p && ntok < 4; p = strtok(NULL, " \t"))
		tok[ntok++] = p;
	if (ntok == 0)
		return;   /* blank */
	if (ntok < 2 || ntok > 3) {
		bad_line(c, "want 'series value [ts_ns]'", tok[0]);
		return;
	}
	struct tl_sender_tag tags[DP_WIRE_DEF_TAGS_MAX + 1];
	uint32_t ntags = 0;
	char *name = tok[0], *comma = strchr(name, ',');
	while (comma) {
		*comma = '\0';
		char *kv = comma + 1, *eq = strchr(kv, '=');
		comma = strchr(kv, ',');
		if (!eq || (comma && eq > comma) || ntags > DP_WIRE_DEF_TAGS_MAX) {
			bad_line(c, "bad tag (want key=value)", kv);
			return;
		}
		*eq = '\0';
		tags[ntags++] = (struct tl_sender_tag){kv, eq + 1};
	}
	char *v = tok[1], *end;
	size_t vlen = strlen(v);
	uint8_t type = vlen > 1 && v[vlen - 1] == 'i' ? DP_WIRE_I64 : DP_WIRE_F64;
	union st_value val;
	errno = 0;
	if (type == DP_WIRE_I64) {
		v[vlen - 1] = '\0';
		val.i64 = strtoll(v, &end, 10);
	} else {
		val.f64 = strtod(v, &end);
	}
	if (errno || *end || end == v || (type == DP_WIRE_F64 && !isfinite(val.f64))) {
		bad_line(c, "bad value", tok[1]);
		return;
	}
	int64_t ts = cm_now_ns();
	if (ntok == 3) {
		errno = 0;
		long long t = strtoll(tok[2], &end, 10);
		if (errno || *end || t < 0) {
			bad_line(c, "bad timestamp (want ns >= 0)", tok[2]);
			return;
		}
		ts = t;
	}
	uint32_t ref;
	const char *why = NULL;
	int rc = series_ref(c, name, tags, ntags, type, &ref, &why);
	if (rc) {
		bad_line(c, why, name);
		return;
	}
	rc = tl_sender_point(c->s, ref, ts, val);
	c->points++;
	if (rc && !c->send_rc)
		c->send_rc = rc;
}

/* Read stdin to its end, a line at a time; flush whenever no more input is ready. */
static int pump(struct ctx *c)
{
	static char buf[LINE_MAX_BYTES + 1];
	size_t have = 0;
	bool skipping = false;   /* inside a line too long to keep */
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + have, LINE_MAX_BYTES - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sfsend: read: %s\n", strerror(errno));
			return -errno;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (char *nl; (nl = memchr(buf + start, '\n', have - start));) {
			*nl = '\0';
			if (skipping) {
				skipping = false;
				c->lines++;
				bad_line(c, "line too long", buf + start);
			} else {
				handle_line(c, buf + start);
			}
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == LINE_MAX_BYTES) {   /* no '\n' in a full buffer */
			skipping = true;
			have = 0;
		}
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		if (poll(&pfd, 1, 0) == 0) {
			int rc = tl_sender_flush(c->s);
			if (rc && !c->send_rc)
				c->send_rc = rc;
		}
	}
	if (have && !skipping) {
		buf[have] = '\0';
		handle_line(c, buf);
	} else if (skipping) {
		c->lines++;
		bad_line(c, "line too long", "");
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: sfsend --to HOST:PORT [--source ID] [--mtu BYTES] [--redef FRAMES]\n"
		     "              [--first-seq N]   < 'name[,tag=value...] value[i] [ts_ns]' lines\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s || s[0] == '-' || v > max) {
		fprintf(stderr, "sfsend: bad number '%s'\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},
		{"source", required_argument, NULL, 's'},
		{"mtu", required_argument, NULL, 'm'},
		{"redef", required_argument, NULL, 'r'},
		{"first-seq", required_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *to = NULL;
	uint64_t source = 1, mtu = TL_SENDER_DATAGRAM_DEFAULT, redef = TL_SENDER_REDEF_DEFAULT,
		 first_seq = 0;
	int o;
	while ((o = getopt_long(argc, argv, "t:s:m:r:q:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (o) {
		case 't': to = optarg; break;
		case 's': bad = parse_u64(optarg, UINT32_MAX, &source); break;
		case 'm': bad = parse_u64(optarg, TL_SENDER_DATAGRAM_MAX, &mtu); break;
		case 'r': bad = parse_u64(optarg, UINT32_MAX, &redef); break;
		case 'q': bad = parse_u64(optarg, UINT64_MAX, &first_seq); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad)
			return 2;
	}
	if (!to || optind != argc || mtu < TL_SENDER_DATAGRAM_MIN || redef == 0) {
		if (to && (mtu < TL_SENDER_DATAGRAM_MIN || redef == 0))
			fprintf(stderr, "sfsend: --mtu must be %u..%u and --redef at least 1\n",
				TL_SENDER_DATAGRAM_MIN, TL_SENDER_DATAGRAM_MAX);
		usage(stderr);
		return 2;
	}
	struct tl_sender_opts sopts = {.max_datagram_bytes = (uint32_t)mtu,
				       .redef_every = (uint32_t)redef,
				       .first_seq = first_seq};
	struct ctx c = {.next_ref = 1};
	int rc = tl_sender_open(to, (uint32_t)source, &sopts, &c.s);
	if (rc) {
		fprintf(stderr, "sfsend: cannot send to '%s': %s\n", to, strerror(-rc));
		return rc == -EINVAL || rc == -EADDRNOTAVAIL ? 2 : 1;
	}
	rc = pump(&c);
	int frc = tl_sender_flush(c.s);
	if (frc && !c.send_rc)
		c.send_rc = frc;
	struct tl_sender_stats st;
	tl_sender_stats(c.s, &st);
	tl_sender_close(c.s);   /* nothing left to flush */
	printf("sfsend: lines=%" PRIu64 " points=%" PRIu64 " bad_lines=%" PRIu64
	       " series=%" PRIu32 " frames=%" PRIu64 " defs=%" PRIu64 " bytes=%" PRIu64
	       " send_errors=%" PRIu64 "\n",
	       c.lines, c.points, c.bad, c.next_ref - 1, st.frames, st.defs, st.bytes,
	       st.send_errors);
	map_free(&c.map);
	if (c.send_rc) {
		fprintf(stderr, "sfsend: send error: %s\n", strerror(-c.send_rc));
		return 1;
	}
	return rc ? 1 : 0;
}
