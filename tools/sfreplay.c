/*
 * sfreplay.c - send the UDP payloads of a capture to one address at a fixed
 * rate, over and over, for a fixed time: a load generator whose own cost is
 * one sendmmsg per batch, so that a receiver's ceiling is measured rather
 * than the generator's. pf_compare's StatsD sweep replays `sfgen traffic
 * --pcap` captures with it.
 *
 *   sfreplay --to HOST:PORT --rate R --seconds T [--port P] CAPTURE
 *
 * Every UDP payload of CAPTURE (an Ethernet capture, parsed as the DPDK
 * backend parses frames: dp_pkt_parse; to --port only, when given) is read
 * into memory before the clock starts. They are then sent in order, from the
 * first again after the last, at R datagrams per second (0: as fast as the
 * socket takes them) until T seconds have passed. Pacing: datagrams go out
 * in batches of at most 64 and at most 200 us of the rate, each batch when
 * its first datagram is due, so bursts stay short at any rate.
 *
 * Output, one line on stdout:
 *   sfreplay datagrams=N lines=L bytes=B seconds=S datagrams_per_s=D lines_per_s=LPS
 * lines: the non-empty '\n'-separated lines of the payloads sent (a StatsD or
 * line-protocol receiver's unit; a lone "\r" counts, as Etsy statsd counts it).
 *
 * Exit codes: 0 ok, 2 usage error or nothing to send, 1 capture or send error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "dp_pkt.h"
#include "tl_sender.h"

#define BATCH_MAX 64
#define BURST_NS 200000

struct payload {
	size_t off;        /* in corpus.bytes */
	uint32_t len;
	uint32_t lines;
};

struct corpus {
	uint8_t *bytes;
	size_t used, cap;
	struct payload *v;
	size_t n, vcap;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: sfreplay --to HOST:PORT --rate R --seconds T [--port P] CAPTURE\n"
		     "  R datagrams/s (0: no limit); only UDP payloads to port P when given\n");
}

static uint32_t count_lines(const uint8_t *p, uint32_t len)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < len;) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);
		uint32_t end = nl ? (uint32_t)(nl - p) : len;
		n += end > i;
		i = end + 1;
	}
	return n;
}

static int corpus_add(struct corpus *c, const uint8_t *p, uint32_t len)
{
	if (c->used + len > c->cap) {
		size_t cap = CM_MAX(c->cap * 2, c->used + len + (1u << 20));
		uint8_t *b = realloc(c->bytes, cap);
		if (!b)
			return -ENOMEM;
		c->bytes = b;
		c->cap = cap;
	}
	if (c->n == c->vcap) {
		size_t cap = c->vcap ? c->vcap * 2 : 4096;
		struct payload *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->vcap = cap;
	}
	memcpy(c->bytes + c->used, p, len);
	c->v[c->n++] = (struct payload){c->used, len, count_lines(p, len)};
	c->used += len;
	return 0;
}

static int corpus_load(const char *path, uint16_t dport, struct corpus *c)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	if (!pc) {
		fprintf(stderr, "sfreplay: %s\n", err);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "sfreplay: %s is not an Ethernet capture\n", path);
		pcap_close(pc);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *f;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &f)) == 1) {
		struct dp_pkt pkt;
		if (dp_pkt_parse(f, h->caplen, 0, &pkt) != DP_PKT_OK || !pkt.payload_len ||
		    (dport && pkt.dst_port != dport))
			continue;
		if (corpus_add(c, pkt.payload, pkt.payload_len)) {
			fprintf(stderr, "sfreplay: out of memory reading %s\n", path);
			pcap_close(pc);
			return -1;
		}
	}
	if (rc == -1)
		fprintf(stderr, "sfreplay: %s: %s\n", path, pcap_geterr(pc));
	pcap_close(pc);
	return rc == -1 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *to = NULL;
	double rate = -1, seconds = -1;
	unsigned dport = 0;
	int c;
	while ((c = getopt_long(argc, argv, "t:r:s:p:h", opts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 't': to = optarg; break;
		case 'r': rate = strtod(optarg, &end); break;
		case 's': seconds = strtod(optarg, &end); break;
		case 'p': dport = (unsigned)strtoul(optarg, &end, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end && (*end || end == optarg)) {
			fprintf(stderr, "sfreplay: bad number '%s'\n", optarg);
			return 2;
		}
	}
	if (!to || rate < 0 || !(seconds > 0) || seconds > 86400 || dport > 65535 ||
	    optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	int fd;
	int rc = tl_sender_dial(to, SOCK_DGRAM, &fd);
	if (rc) {
		fprintf(stderr, "sfreplay: %s: %s\n", to, strerror(-rc));
		if (rc == -EINVAL)
			usage(stderr);
		return rc == -EINVAL ? 2 : 1;
	}
	struct corpus cp = {0};
	int status = corpus_load(argv[optind], (uint16_t)dport, &cp) ? 1 : 0;
	if (!status && cp.n == 0) {
		fprintf(stderr, "sfreplay: no UDP payload%s in %s\n", dport ? " to that port" : "",
			argv[optind]);
		status = 2;
	}
	if (status) {
		close(fd);
		free(cp.bytes);
		free(cp.v);
		return status;
	}
	double per_burst = rate * BURST_NS / 1e9;
	uint32_t batch = BATCH_MAX;
	if (rate > 0 && per_burst < BATCH_MAX)
		batch = per_burst < 1 ? 1 : (uint32_t)per_burst;
	struct mmsghdr msg[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint64_t sent = 0, lines = 0, bytes = 0;
	size_t at = 0;
	int64_t t0 = cm_mono_ns(), stop = t0 + (int64_t)(seconds * 1e9), now = t0;
	while (now < stop) {
		if (rate > 0) {
			int64_t due = t0 + (int64_t)((double)sent * 1e9 / rate);
			if (due >= stop)
				break;
			if (due > now)
				cm_sleep_until_mono(due);
		}
		for (uint32_t i = 0; i < batch; i++) {
			const struct payload *pl = &cp.v[(at + i) % cp.n];
			iov[i] = (struct iovec){cp.bytes + pl->off, pl->len};
			msg[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		int n = sendmmsg(fd, msg, batch, 0);
		if (n < 0 && errno != EINTR && errno != ECONNREFUSED) {
			fprintf(stderr, "sfreplay: sending to %s: %s\n", to, strerror(errno));
			status = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct payload *pl = &cp.v[(at + (size_t)i) % cp.n];
			lines += pl->lines;
			bytes += pl->len;
		}
		if (n > 0) {
			sent += (uint64_t)n;
			at = (at + (size_t)n) % cp.n;
		}
		now = cm_mono_ns();
	}
	double secs = (double)(cm_mono_ns() - t0) / 1e9;
	close(fd);
	printf("sfreplay datagrams=%" PRIu64 " lines=%" PRIu64 " bytes=%" PRIu64
	       " seconds=%.3f datagrams_per_s=%.0f lines_per_s=%.0f\n",
	       sent, lines, bytes, secs, (double)sent / secs, (double)lines / secs);
	free(cp.bytes);
	free(cp.v);
	return status;
}
