/*
 * sfgen.c - dataset and load generator, two generators:
 *
 * floatwalk: the float random-walk dataset as InfluxDB line protocol on
 * stdout (tl_floatwalk.h), one line per timestamp and series, time-major
 * like TSBS:
 *
 *   sfgen floatwalk [--series N] [--points M] [--seed S]
 *   walk,series=s17 value=53.21 1451606410000000000
 *
 * traffic: deterministic StatsD, line-protocol and binary-frame traffic with
 * deliberate junk and sequence gaps/duplicates/reorders (tl_traffic.h), sent
 * to the listeners over UDP (line protocol optionally over one TCP
 * connection, split at random points) or written to a pcap file, plus the
 * manifest of what the receiver must store (tl_manifest.h):
 *
 *   sfgen traffic --format mix --seed 7 --count 200 --junk 20 --gaps 2 \
 *       --dups 2 --reorders 2 --rate 5000 --manifest run.manifest
 *
 * --count is values per series (each of --series series per format); the
 * number of datagrams follows from it. --rate is datagrams per second (0:
 * as fast as possible), kept by sleeping to absolute deadlines; --max-seconds
 * bounds the run (the manifest then covers what was sent).
 *
 * Exit codes: 0 ok, 2 usage error, 1 send or write error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_rand.h"
#include "dp_statsd.h"
#include "tl_floatwalk.h"
#include "tl_pcap.h"
#include "tl_sender.h"
#include "tl_traffic.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sfgen floatwalk [--series N] [--points M] [--seed S]\n"
		"       sfgen traffic --format statsd|line|binary|mix --seed S --count N\n"
		"             --manifest FILE [--series N] [--rate R] [--max-seconds T]\n"
		"             [--to udp://HOST:PORT | --statsd-to H:P --line-to H:P\n"
		"              --line-tcp-to H:P --binary-to H:P]\n"
		"             [--pcap FILE --statsd-port P --line-port P --binary-port P\n"
		"              --pcap-src IP --pcap-dst IP]\n"
		"             [--junk N] [--gaps N --dups N --reorders N] [--sources N]\n"
		"             [--redef N] [--mtu BYTES] [--weights S,L,B] [--start-ns NS]\n"
		"             [--statsd-percentiles N] [--statsd-types c,g,ms,h,d,s]\n"
		"             [--statsd-single]\n"
		"  --count N   values per series (line protocol: lines per tag set)\n"
		"  --series N  series per format (default 16); --rate R datagrams/s (0: no limit)\n"
		"  --statsd-percentiles N  fields the receiver adds per ms/h/d metric, for the\n"
		"              series count (default 4, as statsd.percentiles=50,90,95,99)\n"
		"  --statsd-types LIST  only these StatsD types (default all six);\n"
		"  --statsd-single  one value per StatsD line (Etsy statsd 0.9: --statsd-types\n"
		"              c,g,ms,s --statsd-single is all it parses)\n"
		"  defaults: statsd 127.0.0.1:8125, line 127.0.0.1:8089, binary 127.0.0.1:7100;\n"
		"  --to sends a single --format there; --pcap writes a capture instead of sending\n");
}

static int floatwalk(int argc, char **argv)
{
	static const struct option opts[] = {
		{"series", required_argument, NULL, 'n'},
		{"points", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	unsigned long series = 1000, points = 8640;
	unsigned long long seed = 1;
	int c;
	while ((c = getopt_long(argc, argv, "n:m:s:", opts, NULL)) != -1) {
		char *end;
		errno = 0;
		switch (c) {
		case 'n': series = strtoul(optarg, &end, 10); break;
		case 'm': points = strtoul(optarg, &end, 10); break;
		case 's': seed = strtoull(optarg, &end, 0); break;
		default: usage(stderr); return 2;
		}
		if (errno || *end || end == optarg) {
			fprintf(stderr, "sfgen: bad number '%s'\n", optarg);
			return 2;
		}
	}
	if (series == 0 || series > 10000000 || points == 0 || points > 100000000) {
		fprintf(stderr, "sfgen: --series must be 1..1e7 and --points 1..1e8\n");
		return 2;
	}
	/* Generate per series in blocks of time so memory stays bounded. */
	enum { BLOCK = 1024 };
	int64_t *ts = malloc(series * BLOCK * sizeof(*ts));
	double *vals = malloc(series * BLOCK * sizeof(*vals));
	int64_t *tmp_ts = malloc(points < BLOCK ? BLOCK * sizeof(*tmp_ts) : points * sizeof(*tmp_ts));
	double *tmp_v = malloc(points < BLOCK ? BLOCK * sizeof(*tmp_v) : points * sizeof(*tmp_v));
	if (!ts || !vals || !tmp_ts || !tmp_v) {
		fprintf(stderr, "sfgen: out of memory\n");
		return 1;
	}
	int rc = 0;
	for (unsigned long b = 0; b < points && !rc; b += BLOCK) {
		unsigned long nb = points - b < BLOCK ? points - b : BLOCK;
		for (unsigned long s = 0; s < series; s++) {
			/* each series is regenerated up to the block: simple, O(points^2/BLOCK) */
			tl_floatwalk_series(seed, (uint32_t)s, (uint32_t)(b + nb), tmp_ts, tmp_v);
			memcpy(&ts[s * BLOCK], &tmp_ts[b], nb * sizeof(*ts));
			memcpy(&vals[s * BLOCK], &tmp_v[b], nb * sizeof(*vals));
		}
		for (unsigned long i = 0; i < nb && !rc; i++)
			for (unsigned long s = 0; s < series; s++)
				if (printf("walk,series=s%lu value=%.2f %lld\n", s,
					   vals[s * BLOCK + i], (long long)ts[s * BLOCK + i]) < 0) {
					rc = 1;
					break;
				}
	}
	free(ts);
	free(vals);
	free(tmp_ts);
	free(tmp_v);
	if (fflush(stdout) || rc) {
		fprintf(stderr, "sfgen: write error: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* traffic                                                                   */
/* ------------------------------------------------------------------------ */

static const char *const default_dest[DP_PROTO__COUNT] = {
	"127.0.0.1:8125", "127.0.0.1:8089", "127.0.0.1:7100"};
static const uint16_t default_port[DP_PROTO__COUNT] = {8125, 8089, 7100};

struct traffic_opts {
	struct tl_traffic_cfg cfg;
	const char *format, *manifest, *pcap, *to;
	const char *dest[DP_PROTO__COUNT];
	const char *line_tcp;
	uint16_t port[DP_PROTO__COUNT];
	uint32_t pcap_src, pcap_dst;       /* host order */
	double rate, max_seconds;
};

/* Where the datagrams go: sockets, or a pcap file. */
struct sink {
	int fd[DP_PROTO__COUNT];           /* -1: none */
	bool line_tcp;
	struct tl_pcap *pcap;
	struct tl_pcap_flow flow;
	uint16_t port[DP_PROTO__COUNT], unknown_port;
	uint64_t rng;                      /* TCP split points (not the generator's stream) */
	uint64_t nfragments, ntcp;
	double interval_ns;
};

static int num_arg(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s || s[0] == '-' || v > max) {
		fprintf(stderr, "sfgen: bad number '%s'\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int u32_arg(const char *s, uint32_t *out)
{
	uint64_t v;
	if (num_arg(s, UINT32_MAX, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int real_arg(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v) || v < 0) {
		fprintf(stderr, "sfgen: bad number '%s'\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int ip_arg(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "sfgen: bad IPv4 address '%s'\n", s);
		return -1;
	}
	*out = ntohl(a.s_addr);
	return 0;
}

/* --weights S,L,B */
static int weights_arg(const char *s, uint32_t *w)
{
	unsigned a, b, c;
	char tail;
	if (sscanf(s, "%u,%u,%u%c", &a, &b, &c, &tail) != 3 || a + b + c == 0) {
		fprintf(stderr, "sfgen: bad --weights '%s' (want S,L,B)\n", s);
		return -1;
	}
	w[DP_PROTO_STATSD] = a;
	w[DP_PROTO_LINE] = b;
	w[DP_PROTO_BINARY] = c;
	return 0;
}

/* --statsd-types c,g,ms: a bit per enum dp_statsd_type */
static int statsd_types_arg(const char *s, uint32_t *mask)
{
	*mask = 0;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, ",");
		int y = 0;
		while (y < DP_STATSD_TYPE__COUNT &&
		       (strlen(dp_statsd_type_name((enum dp_statsd_type)y)) != n ||
			memcmp(dp_statsd_type_name((enum dp_statsd_type)y), p, n) != 0))
			y++;
		if (y == DP_STATSD_TYPE__COUNT) {
			fprintf(stderr, "sfgen: bad --statsd-types '%s' (want a list of c,g,ms,h,d,s)\n",
				s);
			return -1;
		}
		*mask |= 1u << y;
		p += n + (p[n] == ',');
	}
	return *mask ? 0 : -1;
}

static int traffic_parse(int argc, char **argv, struct traffic_opts *o)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"seed", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'n'},
		{"series", required_argument, NULL, 'S'},
		{"rate", required_argument, NULL, 'r'},
		{"max-seconds", required_argument, NULL, 'T'},
		{"to", required_argument, NULL, 't'},
		{"statsd-to", required_argument, NULL, 1},
		{"line-to", required_argument, NULL, 2},
		{"line-tcp-to", required_argument, NULL, 3},
		{"binary-to", required_argument, NULL, 4},
		{"pcap", required_argument, NULL, 'p'},
		{"statsd-port", required_argument, NULL, 5},
		{"line-port", required_argument, NULL, 6},
		{"binary-port", required_argument, NULL, 7},
		{"pcap-src", required_argument, NULL, 8},
		{"pcap-dst", required_argument, NULL, 9},
		{"junk", required_argument, NULL, 'j'},
		{"gaps", required_argument, NULL, 10},
		{"dups", required_argument, NULL, 11},
		{"reorders", required_argument, NULL, 12},
		{"sources", required_argument, NULL, 13},
		{"redef", required_argument, NULL, 14},
		{"mtu", required_argument, NULL, 15},
		{"weights", required_argument, NULL, 16},
		{"start-ns", required_argument, NULL, 17},
		{"statsd-percentiles", required_argument, NULL, 18},
		{"statsd-types", required_argument, NULL, 19},
		{"statsd-single", no_argument, NULL, 20},
		{"manifest", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	uint32_t series = 16, weights[DP_PROTO__COUNT] = {1, 1, 1};
	bool have_seed = false, have_count = false, have_weights = false, have_ports = false;
	uint64_t v = 0;
	int c, bad = 0;
	optind = 1;
	while (!bad && (c = getopt_long(argc, argv, "f:s:n:S:r:T:t:p:j:m:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->format = optarg; break;
		case 's': bad = num_arg(optarg, UINT64_MAX, &o->cfg.seed); have_seed = true; break;
		case 'n': bad = u32_arg(optarg, &o->cfg.values_per_series); have_count = true; break;
		case 'S': bad = u32_arg(optarg, &series); break;
		case 'r': bad = real_arg(optarg, &o->rate); break;
		case 'T': bad = real_arg(optarg, &o->max_seconds); break;
		case 't': o->to = optarg; break;
		case 1: o->dest[DP_PROTO_STATSD] = optarg; break;
		case 2: o->dest[DP_PROTO_LINE] = optarg; break;
		case 3: o->line_tcp = optarg; break;
		case 4: o->dest[DP_PROTO_BINARY] = optarg; break;
		case 'p': o->pcap = optarg; break;
		case 5: case 6: case 7:
			bad = num_arg(optarg, 65535, &v) || v == 0;
			o->port[c - 5] = (uint16_t)v;
			have_ports = true;
			break;
		case 8: bad = ip_arg(optarg, &o->pcap_src); have_ports = true; break;
		case 9: bad = ip_arg(optarg, &o->pcap_dst); have_ports = true; break;
		case 'j': bad = u32_arg(optarg, &o->cfg.junk); break;
		case 10: bad = u32_arg(optarg, &o->cfg.gaps); break;
		case 11: bad = u32_arg(optarg, &o->cfg.dups); break;
		case 12: bad = u32_arg(optarg, &o->cfg.reorders); break;
		case 13: bad = u32_arg(optarg, &o->cfg.sources) || o->cfg.sources == 0; break;
		case 14: bad = u32_arg(optarg, &o->cfg.redef_every) || o->cfg.redef_every == 0; break;
		case 15: bad = u32_arg(optarg, &o->cfg.max_datagram_bytes); break;
		case 16: bad = weights_arg(optarg, weights); have_weights = true; break;
		case 17: bad = num_arg(optarg, INT64_MAX, &v) || v == 0; o->cfg.start_ns = (int64_t)v; break;
		case 18: bad = u32_arg(optarg, &o->cfg.statsd_percentiles); break;
		case 19: bad = statsd_types_arg(optarg, &o->cfg.statsd_types); break;
		case 20: o->cfg.statsd_single = true; break;
		case 'm': o->manifest = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	if (bad)
		return 2;
	const char *why = NULL;
	int single = -1;
	if (optind != argc)
		why = "unexpected argument";
	else if (!o->format || !have_seed || !have_count || !o->manifest)
		why = "--format, --seed, --count and --manifest are required";
	else if (strcmp(o->format, "mix") != 0) {
		for (int p = 0; p < DP_PROTO__COUNT; p++)
			if (strcmp(o->format, dp_proto_name((enum dp_proto)p)) == 0)
				single = p;
		if (single < 0)
			why = "--format must be statsd, line, binary or mix";
	}
	if (!why && o->to && single < 0)
		why = "--to takes a single --format; with mix use --statsd-to, --line-to, --binary-to";
	if (!why && o->pcap && (o->to || o->line_tcp || o->dest[0] || o->dest[1] || o->dest[2]))
		why = "--pcap writes a capture instead of sending: no --to options with it";
	if (!why && !o->pcap && have_ports)
		why = "--statsd-port, --line-port, --binary-port, --pcap-src, --pcap-dst need --pcap";
	if (!why && o->line_tcp && o->dest[DP_PROTO_LINE])
		why = "--line-to and --line-tcp-to exclude each other";
	if (!why && (series == 0 || series > TL_TRAFFIC_SERIES_MAX))
		why = "--series must be 1..1000000";
	if (why) {
		fprintf(stderr, "sfgen: %s\n", why);
		usage(stderr);
		return 2;
	}
	if (o->to) {
		if (strncmp(o->to, "udp://", 6) == 0) {
			o->dest[single] = o->to + 6;
		} else if (strncmp(o->to, "tcp://", 6) == 0 && single == DP_PROTO_LINE) {
			o->line_tcp = o->to + 6;
		} else {
			fprintf(stderr, "sfgen: --to wants udp://HOST:PORT (tcp:// for line)\n");
			return 2;
		}
	}
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		bool on = single < 0 || single == p;
		o->cfg.series[p] = on ? series : 0;
		o->cfg.weight[p] = on ? (have_weights ? weights[p] : 1) : 0;
		if (!o->port[p])
			o->port[p] = default_port[p];
	}
	o->cfg.pcap_junk = o->pcap != NULL;
	o->cfg.line_stream = o->line_tcp != NULL;
	return 0;
}

static int sink_open(const struct traffic_opts *o, struct sink *k)
{
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		k->fd[p] = -1;
	k->rng = o->cfg.seed ^ 0x5eed5eed5eedULL;
	k->interval_ns = o->rate > 0 ? 1e9 / o->rate : 10000;
	if (o->pcap) {
		int rc = tl_pcap_open(o->pcap, &k->pcap);
		if (rc) {
			fprintf(stderr, "sfgen: cannot write '%s': %s\n", o->pcap, strerror(-rc));
			return 1;
		}
		k->flow = (struct tl_pcap_flow){
			.src_mac = {0x02, 0, 0, 0, 0, 0x01}, .dst_mac = {0x02, 0, 0, 0, 0, 0x02},
			.src_ip = o->pcap_src ? o->pcap_src : 0x0a010001,   /* 10.1.0.1 */
			.dst_ip = o->pcap_dst ? o->pcap_dst : 0x7f000001};  /* 127.0.0.1 */
		memcpy(k->port, o->port, sizeof(k->port));
		k->unknown_port = 9999;
		while (k->unknown_port == k->port[0] || k->unknown_port == k->port[1] ||
		       k->unknown_port == k->port[2])
			k->unknown_port++;
		return 0;
	}
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		if (!o->cfg.weight[p])
			continue;
		bool tcp = p == DP_PROTO_LINE && o->line_tcp;
		const char *dest = tcp ? o->line_tcp : o->dest[p] ? o->dest[p] : default_dest[p];
		int rc = tl_sender_dial(dest, tcp ? SOCK_STREAM : SOCK_DGRAM, &k->fd[p]);
		if (rc) {
			fprintf(stderr, "sfgen: cannot connect to %s '%s': %s\n",
				dp_proto_name((enum dp_proto)p), dest, strerror(-rc));
			return rc == -EINVAL || rc == -EADDRNOTAVAIL ? 2 : 1;
		}
		if (tcp) {
			int one = 1;
			setsockopt(k->fd[p], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			k->line_tcp = true;
		}
	}
	return 0;
}

static void sink_close(struct sink *k)
{
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		if (k->fd[p] >= 0)
			close(k->fd[p]);
}

/* One datagram into the capture, wrapped as its kind says. */
static int sink_pcap(struct sink *k, int64_t ts_ns, const uint8_t *buf,
		     const struct tl_datagram *dg)
{
	static uint8_t frame[TL_PCAP_FRAME_MAX];
	struct tl_pcap_flow f = k->flow;
	f.src_port = (uint16_t)(40000 + dg->proto);
	f.dst_port = k->port[dg->proto];
	uint16_t id = (uint16_t)tl_pcap_frames(k->pcap);
	size_t n;
	switch (dg->flags & TL_DG_PCAP_ONLY ? dg->junk : TL_JUNK_NONE) {
	case TL_JUNK_NOT_IP:
		n = tl_pcap_arp(frame, sizeof(frame), &f);
		break;
	case TL_JUNK_NOT_UDP:
		n = tl_pcap_tcp(frame, sizeof(frame), &f, id, (uint32_t)(1000 * ++k->ntcp), buf,
				dg->len);
		break;
	case TL_JUNK_FRAGMENT:
		n = tl_pcap_fragment(frame, sizeof(frame), &f, id, k->nfragments++ % 2 == 0, buf,
				     dg->len);
		break;
	case TL_JUNK_UNKNOWN_PORT:
		f.dst_port = k->unknown_port;
		/* fall through */
	default:
		n = tl_pcap_udp(frame, sizeof(frame), &f, id, buf, dg->len);
		break;
	}
	if (!n)
		return -EMSGSIZE;
	return tl_pcap_write(k->pcap, ts_ns, frame, n);
}

/* One datagram to its socket; line protocol over TCP in 1-3 pieces cut at random. */
static int sink_send(struct sink *k, const uint8_t *buf, const struct tl_datagram *dg)
{
	int fd = k->fd[dg->proto];
	if (fd < 0)
		return -EBADF;
	if (!(dg->proto == DP_PROTO_LINE && k->line_tcp))
		return tl_sender_send_all(fd, buf, dg->len, false);
	size_t at = 0;
	uint32_t pieces = 1 + (uint32_t)(cm_splitmix64(&k->rng) % 3);
	for (uint32_t i = 1; i < pieces && at + 1 < dg->len; i++) {
		size_t cut = at + 1 + cm_splitmix64(&k->rng) % (dg->len - at - 1);
		int rc = tl_sender_send_all(fd, buf + at, cut - at, true);
		if (rc)
			return rc;
		at = cut;
	}
	return tl_sender_send_all(fd, buf + at, dg->len - at, true);
}

/* Say which sequence events could not be placed (too few frames for them). */
static void events_report(const struct traffic_opts *o, const struct tl_manifest *m)
{
	uint64_t got[3] = {0, 0, 0};
	for (size_t i = 0; i < m->nbinary; i++) {
		got[0] += m->binary[i].gaps;
		got[1] += m->binary[i].dups;
		got[2] += m->binary[i].reorders;
	}
	if (got[0] < o->cfg.gaps || got[1] < o->cfg.dups || got[2] < o->cfg.reorders)
		fprintf(stderr, "sfgen: warning: only gaps=%" PRIu64 " dups=%" PRIu64
			" reorders=%" PRIu64 " fitted in the binary frames (manifest says so)\n",
			got[0], got[1], got[2]);
}

static int traffic(int argc, char **argv)
{
	/* the daemon's default statsd.percentiles is 50,90,95,99 */
	struct traffic_opts o = {.cfg.statsd_percentiles = 4};
	int rc = traffic_parse(argc, argv, &o);
	if (rc)
		return rc;
	struct tl_traffic *t;
	rc = tl_traffic_create(&o.cfg, &t);
	if (rc) {
		fprintf(stderr, "sfgen: bad traffic settings (--mtu %u..%u, --count >= 1, "
			"--sources <= 1000, timestamps within int64)\n",
			TL_TRAFFIC_DATAGRAM_MIN, TL_TRAFFIC_DATAGRAM_MAX);
		return 2;
	}
	struct sink k = {0};
	int status = sink_open(&o, &k);
	uint8_t *buf = malloc(TL_TRAFFIC_DATAGRAM_MAX);
	if (!status && !buf) {
		fprintf(stderr, "sfgen: out of memory\n");
		status = 1;
	}
	int64_t t0 = cm_mono_ns();
	int64_t deadline = o.max_seconds > 0 ? t0 + (int64_t)(o.max_seconds * 1e9) : INT64_MAX;
	int64_t start_ns = o.cfg.start_ns ? o.cfg.start_ns : TL_TRAFFIC_START_NS_DEFAULT;
	uint64_t n = 0;
	bool cut_short = false;
	struct tl_datagram dg;
	while (!status) {
		int64_t due = o.rate > 0 ? t0 + (int64_t)((double)n * 1e9 / o.rate) : 0;
		if (tl_traffic_pending(t) == 0 && CM_MAX(due, cm_mono_ns()) >= deadline) {
			cut_short = true;
			break;
		}
		if (due > 0)
			cm_sleep_until_mono(due);
		rc = tl_traffic_next(t, buf, TL_TRAFFIC_DATAGRAM_MAX, &dg);
		if (rc <= 0)
			break;
		rc = k.pcap ? sink_pcap(&k, start_ns + (int64_t)((double)n * k.interval_ns), buf, &dg)
			    : sink_send(&k, buf, &dg);
		if (rc) {
			fprintf(stderr, "sfgen: %s %s: %s\n", k.pcap ? "writing" : "sending",
				dp_proto_name((enum dp_proto)dg.proto), strerror(-rc));
			status = 1;
		}
		n++;
	}
	double secs = (double)(cm_mono_ns() - t0) / 1e9;
	if (k.pcap && (rc = tl_pcap_close(k.pcap)) != 0 && !status) {
		fprintf(stderr, "sfgen: writing '%s': %s\n", o.pcap, strerror(-rc));
		status = 1;
	}
	sink_close(&k);
	struct tl_manifest *m = NULL;
	if (!status) {
		char err[512];
		rc = tl_traffic_manifest(t, &m);
		if (!rc)
			rc = tl_manifest_write(m, o.manifest, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "manifest: %s", strerror(-rc));
		if (rc) {
			fprintf(stderr, "sfgen: %s\n", err);
			status = 1;
		}
	}
	if (m) {
		uint64_t junk = 0;
		for (int j = 1; j < TL_JUNK__COUNT; j++)
			junk += m->junk[j];
		fprintf(stderr, "sfgen: datagrams=%" PRIu64 " statsd=%" PRIu64 " line=%" PRIu64
			" binary=%" PRIu64 " junk=%" PRIu64 " series=%" PRIu64 " seconds=%.3f%s\n",
			n, m->sent[DP_PROTO_STATSD].datagrams, m->sent[DP_PROTO_LINE].datagrams,
			m->sent[DP_PROTO_BINARY].datagrams, junk, m->series, secs,
			cut_short ? " (stopped at --max-seconds)" : "");
		events_report(&o, m);
	}
	tl_manifest_free(m);
	tl_traffic_destroy(t);
	free(buf);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "floatwalk") == 0)
		return floatwalk(argc - 1, argv + 1);
	if (strcmp(argv[1], "traffic") == 0)
		return traffic(argc - 1, argv + 1);
	fprintf(stderr, "sfgen: unknown generator '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
