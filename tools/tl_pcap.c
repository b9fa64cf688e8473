/*
 * tl_pcap.c - pcap file writer and Ethernet/IPv4 frame builders (API and
 * frame choices in tl_pcap.h). Headers are written byte by byte in network
 * order, so the code does not depend on struct layouts or host byte order;
 * the pcap file header and record headers are in host order, as libpcap
 * writes them (readers detect the order from the magic).
 */
#include "tl_pcap.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pkt.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define LINKTYPE_ETHERNET 1u
#define IP_FLAG_MF 0x2000u

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint16_t tl_pcap_csum(const void *buf, size_t len)
{
	return dp_pkt_inet_csum(buf, len);
}

static uint8_t *put_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put16(p + 12, type);
	return p + TL_PCAP_ETH_BYTES;
}

/* An IPv4 header for ip_payload bytes of protocol proto, checksum filled in. */
static uint8_t *put_ip(uint8_t *p, const struct tl_pcap_flow *f, uint16_t ip_id, uint8_t proto,
		       size_t ip_payload, uint16_t frag)
{
	assert(ip_payload <= 65535 - TL_PCAP_IP_BYTES);
	p[0] = 0x45;                 /* version 4, IHL 5 */
	p[1] = 0;                    /* DSCP/ECN */
	put16(p + 2, (uint16_t)(TL_PCAP_IP_BYTES + ip_payload));
	put16(p + 4, ip_id);
	put16(p + 6, frag);          /* flags (DF clear) and fragment offset */
	p[8] = 64;                   /* TTL */
	p[9] = proto;
	put16(p + 10, 0);
	put32(p + 12, f->src_ip);
	put32(p + 16, f->dst_ip);
	put16(p + 10, tl_pcap_csum(p, TL_PCAP_IP_BYTES));
	return p + TL_PCAP_IP_BYTES;
}

static uint8_t *put_udp(uint8_t *p, const struct tl_pcap_flow *f, size_t payload_len)
{
	put16(p, f->src_port);
	put16(p + 2, f->dst_port);
	put16(p + 4, (uint16_t)(TL_PCAP_UDP_BYTES + payload_len));
	put16(p + 6, 0);             /* no checksum (IPv4) */
	return p + TL_PCAP_UDP_BYTES;
}

size_t tl_pcap_udp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
		   const void *payload, size_t len)
{
	size_t total = TL_PCAP_ETH_BYTES + TL_PCAP_IP_BYTES + TL_PCAP_UDP_BYTES + len;
	if (len > TL_PCAP_UDP_PAYLOAD_MAX || total > cap)
		return 0;
	uint8_t *p = put_eth(frame, f->dst_mac, f->src_mac, DP_PKT_ETH_IPV4);
	p = put_ip(p, f, ip_id, DP_PKT_IP_UDP, TL_PCAP_UDP_BYTES + len, 0);
	p = put_udp(p, f, len);
	memcpy(p, payload, len);
	return total;
}

size_t tl_pcap_tcp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
		   uint32_t seq, const void *payload, size_t len)
{
	size_t total = TL_PCAP_ETH_BYTES + TL_PCAP_IP_BYTES + TL_PCAP_TCP_BYTES + len;
	if (len > 65535 - TL_PCAP_IP_BYTES - TL_PCAP_TCP_BYTES || total > cap)
		return 0;
	uint8_t *p = put_eth(frame, f->dst_mac, f->src_mac, DP_PKT_ETH_IPV4);
	p = put_ip(p, f, ip_id, DP_PKT_IP_TCP, TL_PCAP_TCP_BYTES + len, 0);
	uint8_t *tcp = p;
	put16(tcp, f->src_port);
	put16(tcp + 2, f->dst_port);
	put32(tcp + 4, seq);
	put32(tcp + 8, 1);           /* ack */
	tcp[12] = 5 << 4;            /* data offset: 5 words */
	tcp[13] = 0x18;              /* PSH | ACK */
	put16(tcp + 14, 65535);      /* window */
	put16(tcp + 16, 0);          /* checksum, below */
	put16(tcp + 18, 0);          /* urgent pointer */
	memcpy(tcp + TL_PCAP_TCP_BYTES, payload, len);
	/* pseudo-header: addresses, protocol, TCP length */
	uint8_t ph[12];
	put32(ph, f->src_ip);
	put32(ph + 4, f->dst_ip);
	ph[8] = 0;
	ph[9] = DP_PKT_IP_TCP;
	put16(ph + 10, (uint16_t)(TL_PCAP_TCP_BYTES + len));
	/* one's-complement sums add: fold the pseudo-header's and the segment's */
	uint32_t sum = (uint16_t)~dp_pkt_inet_csum(ph, sizeof(ph)) +
		       (uint16_t)~dp_pkt_inet_csum(tcp, TL_PCAP_TCP_BYTES + len);
	put16(tcp + 16, (uint16_t)~((sum & 0xffff) + (sum >> 16)));
	return total;
}

size_t tl_pcap_fragment(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
			bool first, const void *payload, size_t len)
{
	if (len < 16 || len > TL_PCAP_UDP_PAYLOAD_MAX)
		return 0;
	/* The first fragment: UDP header + head, a multiple of 8 bytes. */
	size_t udp_total = TL_PCAP_UDP_BYTES + len;
	size_t first_bytes = (udp_total / 2) & ~(size_t)7;
	if (first_bytes < TL_PCAP_UDP_BYTES + 8)
		first_bytes = TL_PCAP_UDP_BYTES + 8;
	assert(first_bytes >= TL_PCAP_UDP_BYTES + 8 && first_bytes < udp_total);
	size_t ip_payload = first ? first_bytes : udp_total - first_bytes;
	size_t total = TL_PCAP_ETH_BYTES + TL_PCAP_IP_BYTES + ip_payload;
	if (total > cap)
		return 0;
	uint16_t frag = first ? IP_FLAG_MF : (uint16_t)(first_bytes / 8);
	uint8_t *p = put_eth(frame, f->dst_mac, f->src_mac, DP_PKT_ETH_IPV4);
	p = put_ip(p, f, ip_id, DP_PKT_IP_UDP, ip_payload, frag);
	if (first) {
		p = put_udp(p, f, len);
		memcpy(p, payload, first_bytes - TL_PCAP_UDP_BYTES);
	} else {
		memcpy(p, (const uint8_t *)payload + first_bytes - TL_PCAP_UDP_BYTES, ip_payload);
	}
	return total;
}

size_t tl_pcap_arp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f)
{
	if (cap < TL_PCAP_ARP_FRAME_BYTES)
		return 0;
	memset(frame, 0, TL_PCAP_ARP_FRAME_BYTES);
	uint8_t *p = put_eth(frame, broadcast_mac, f->src_mac, DP_PKT_ETH_ARP);
	put16(p, 1);                 /* hardware: Ethernet */
	put16(p + 2, DP_PKT_ETH_IPV4);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, 1);             /* request */
	memcpy(p + 8, f->src_mac, 6);
	put32(p + 14, f->src_ip);
	memset(p + 18, 0, 6);        /* target MAC unknown */
	put32(p + 24, f->dst_ip);
	return TL_PCAP_ARP_FRAME_BYTES;
}

/* ------------------------------------------------------------------------ */
/* File                                                                      */
/* ------------------------------------------------------------------------ */

struct tl_pcap {
	FILE *f;
	uint64_t frames;
	uint8_t frame[TL_PCAP_FRAME_MAX];
};

int tl_pcap_open(const char *path, struct tl_pcap **out)
{
	struct tl_pcap *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->f = fopen(path, "wb");
	if (!p->f) {
		int e = errno;
		free(p);
		return -e;
	}
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t thiszone;
		uint32_t sigfigs, snaplen, linktype;
	} h = {PCAP_MAGIC_US, 2, 4, 0, 0, TL_PCAP_SNAPLEN, LINKTYPE_ETHERNET};
	static_assert(sizeof(h) == 24, "pcap file header");
	if (fwrite(&h, sizeof(h), 1, p->f) != 1) {
		fclose(p->f);
		free(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

int tl_pcap_write(struct tl_pcap *p, int64_t ts_ns, const void *frame, size_t len)
{
	if (len > TL_PCAP_SNAPLEN || ts_ns < 0)
		return -EINVAL;
	uint32_t rec[4] = {
		(uint32_t)(ts_ns / 1000000000),
		(uint32_t)(ts_ns % 1000000000 / 1000),
		(uint32_t)len,   /* captured */
		(uint32_t)len,   /* on the wire */
	};
	if (fwrite(rec, sizeof(rec), 1, p->f) != 1 || (len && fwrite(frame, len, 1, p->f) != 1))
		return -EIO;
	p->frames++;
	return 0;
}

int tl_pcap_write_udp(struct tl_pcap *p, int64_t ts_ns, const struct tl_pcap_flow *f,
		      const void *payload, size_t len)
{
	size_t n = tl_pcap_udp(p->frame, sizeof(p->frame), f, (uint16_t)p->frames, payload, len);
	if (!n)
		return -EINVAL;
	return tl_pcap_write(p, ts_ns, p->frame, n);
}

uint64_t tl_pcap_frames(const struct tl_pcap *p)
{
	return p->frames;
}

int tl_pcap_close(struct tl_pcap *p)
{
	if (!p)
		return 0;
	int rc = 0;
	if (ferror(p->f))
		rc = -EIO;
	if (fclose(p->f) != 0 && !rc)
		rc = -errno;
	free(p);
	return rc;
}
