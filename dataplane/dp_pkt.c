/*
 * dp_pkt.c - Ethernet/VLAN/IPv4/IPv6/UDP frame parser and the IGMPv2 report
 * and UDP datagram builders (API and rules in dp_pkt.h).
 *
 * Why it looks like this: one forward pass over the headers, each length
 * checked against what is left of the frame before a byte of that header is
 * read, so a truncated or lying frame can only produce a status. Multi-byte
 * fields are read byte by byte in network order (headers sit at any
 * alignment after VLAN tags and IPv4 options). The IPv6 extension-header
 * walk is capped at DP_PKT_IPV6_EXT_MAX, so the work per frame is bounded
 * whatever the frame says.
 *
 * Threads: any; no state.
 */
#include "dp_pkt.h"

#include <assert.h>
#include <string.h>

#include "cm_compiler.h"

#define ETH_HDR_BYTES 14u
#define VLAN_TAG_BYTES 4u
#define IPV4_HDR_MIN 20u
#define IPV6_HDR_BYTES 40u
#define UDP_HDR_BYTES 8u
#define IPV4_FRAG_MASK 0x3fffu  /* MF and the fragment offset; DF is not a fragment */

static_assert(DP_PKT__COUNT == 6, "one status per DPDK parse drop cause, and OK");

/* ------------------------------------------------------------------------ */
/* Names and small helpers                                                   */
/* ------------------------------------------------------------------------ */

enum dp_rx_drop dp_pkt_drop_cause(enum dp_pkt_status st)
{
	static const enum dp_rx_drop causes[DP_PKT__COUNT] = {
		[DP_PKT_OK] = DP_RXD__COUNT,
		[DP_PKT_NOT_IP] = DP_RXD_NOT_IP,
		[DP_PKT_NOT_UDP] = DP_RXD_NOT_UDP,
		[DP_PKT_FRAGMENT] = DP_RXD_FRAGMENT,
		[DP_PKT_BAD_HEADER] = DP_RXD_BAD_HEADER,
		[DP_PKT_BAD_LENGTH] = DP_RXD_BAD_LENGTH,
	};
	return (unsigned)st < DP_PKT__COUNT ? causes[st] : DP_RXD__COUNT;
}

const char *dp_pkt_status_name(enum dp_pkt_status st)
{
	/* a failure is named by its drop cause; out of range maps to DP_RXD__COUNT: "unknown" */
	return st == DP_PKT_OK ? "ok" : dp_rx_drop_name(dp_pkt_drop_cause(st));
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ip4: 4 bytes in network order, at any alignment. */
static inline void v4mapped(const uint8_t *ip4, uint8_t addr16[16])
{
	memcpy(addr16, v4mapped_prefix, sizeof(v4mapped_prefix));
	memcpy(addr16 + 12, ip4, 4);
}

void dp_pkt_addr_v4mapped(uint32_t ip4, uint8_t addr16[16])
{
	v4mapped((const uint8_t *)&ip4, addr16);
}

bool dp_pkt_addr_is_v4mapped(const uint8_t addr16[16])
{
	return memcmp(addr16, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

void dp_pkt_mcast_mac(uint32_t group, uint8_t mac[6])
{
	const uint8_t *g = (const uint8_t *)&group;  /* network order */
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = g[1] & 0x7f;
	mac[4] = g[2];
	mac[5] = g[3];
}

/* One's complement sum of buf[len] as big-endian 16-bit words, unfolded. */
static uint64_t sum16(uint64_t acc, const uint8_t *p, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len; i += 2)
		acc += rd16(p + i);
	if (i < len)
		acc += (uint64_t)p[i] << 8;
	return acc;
}

static uint16_t fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint16_t dp_pkt_inet_csum(const void *buf, size_t len)
{
	return (uint16_t)~fold(sum16(0, buf, len));
}

/* The pseudo-header sum of UDP over IPv4 (ip: the IPv4 header) or IPv6. */
static uint64_t pseudo_v4(const uint8_t *ip, uint32_t udp_len)
{
	return sum16(0, ip + 12, 8) + DP_PKT_IP_UDP + udp_len;
}

static uint64_t pseudo_v6(const uint8_t *ip, uint32_t udp_len)
{
	return sum16(0, ip + 8, 32) + DP_PKT_IP_UDP + udp_len;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                    */
/* ------------------------------------------------------------------------ */

/* HOT PATH. udp[avail]: the IP payload; ip is the IP header (for the pseudo-header). */
static enum dp_pkt_status parse_udp(const uint8_t *ip, const uint8_t *udp, size_t avail,
				    uint32_t flags, struct dp_pkt *out)
{
	if (avail < UDP_HDR_BYTES)
		return DP_PKT_BAD_LENGTH;
	uint32_t ulen = rd16(udp + 4);
	if (ulen < UDP_HDR_BYTES || ulen > avail)
		return DP_PKT_BAD_LENGTH;
	if (cm_unlikely(flags & DP_PKT_VERIFY_CSUM)) {
		if (rd16(udp + 6) == 0) {
			/* IPv4: the sender computed none; IPv6: not allowed (RFC 8200 8.1) */
			if (out->ip_version == 6)
				return DP_PKT_BAD_HEADER;
		} else {
			uint64_t acc = out->ip_version == 4 ? pseudo_v4(ip, ulen) : pseudo_v6(ip, ulen);
			if (fold(sum16(acc, udp, ulen)) != 0xffff)
				return DP_PKT_BAD_HEADER;
		}
	}
	out->src_port = rd16(udp);
	out->dst_port = rd16(udp + 2);
	out->payload = udp + UDP_HDR_BYTES;
	out->payload_len = ulen - UDP_HDR_BYTES;
	return DP_PKT_OK;
}

/* HOT PATH. ip[avail]: from the IPv4 header to the end of the frame. */
static enum dp_pkt_status parse_v4(const uint8_t *ip, size_t avail, uint32_t flags,
				   struct dp_pkt *out)
{
	if (avail < IPV4_HDR_MIN)
		return DP_PKT_BAD_LENGTH;
	if (ip[0] >> 4 != 4)
		return DP_PKT_BAD_HEADER;
	out->ip_version = 4;
	uint32_t ihl = (ip[0] & 0x0fu) * 4u;
	if (ihl < IPV4_HDR_MIN)
		return DP_PKT_BAD_HEADER;
	if (ihl > avail)
		return DP_PKT_BAD_LENGTH;
	uint32_t total = rd16(ip + 2);
	if (total < ihl || total > avail)
		return DP_PKT_BAD_LENGTH;
	if (cm_unlikely(flags & DP_PKT_VERIFY_CSUM) && dp_pkt_inet_csum(ip, ihl) != 0)
		return DP_PKT_BAD_HEADER;
	if (rd16(ip + 6) & IPV4_FRAG_MASK)
		return DP_PKT_FRAGMENT;
	if (ip[9] != DP_PKT_IP_UDP)
		return DP_PKT_NOT_UDP;
	v4mapped(ip + 12, out->src_addr);
	v4mapped(ip + 16, out->dst_addr);
	out->l4_off = out->l3_off + ihl;
	return parse_udp(ip, ip + ihl, total - ihl, flags, out);
}

/* HOT PATH. ip[avail]: from the IPv6 header to the end of the frame. */
static enum dp_pkt_status parse_v6(const uint8_t *ip, size_t avail, uint32_t flags,
				   struct dp_pkt *out)
{
	if (avail < IPV6_HDR_BYTES)
		return DP_PKT_BAD_LENGTH;
	if (ip[0] >> 4 != 6)
		return DP_PKT_BAD_HEADER;
	out->ip_version = 6;
	size_t end = IPV6_HDR_BYTES + rd16(ip + 4);  /* no jumbograms: 0 leaves no room for UDP */
	if (end > avail)
		return DP_PKT_BAD_LENGTH;
	uint8_t nh = ip[6];
	size_t off = IPV6_HDR_BYTES;
	for (uint32_t n = 0; nh != DP_PKT_IP_UDP; n++) {
		if (nh == DP_PKT_IP_FRAGMENT)
			return DP_PKT_FRAGMENT;
		if (nh != DP_PKT_IP_HOPOPT && nh != DP_PKT_IP_ROUTING && nh != DP_PKT_IP_DSTOPTS)
			return DP_PKT_NOT_UDP;
		if ((nh == DP_PKT_IP_HOPOPT && off != IPV6_HDR_BYTES) || n == DP_PKT_IPV6_EXT_MAX)
			return DP_PKT_BAD_HEADER;
		/* every one of these is (hdr_ext_len + 1) * 8 bytes, at least 8 */
		if (end - off < 8)
			return DP_PKT_BAD_LENGTH;
		size_t elen = ((size_t)ip[off + 1] + 1) * 8;
		if (elen > end - off)
			return DP_PKT_BAD_LENGTH;
		nh = ip[off];
		off += elen;
	}
	memcpy(out->src_addr, ip + 8, 16);
	memcpy(out->dst_addr, ip + 24, 16);
	out->l4_off = out->l3_off + (uint32_t)off;
	return parse_udp(ip, ip + off, end - off, flags, out);
}

enum dp_pkt_status dp_pkt_parse(const uint8_t *frame, size_t len, uint32_t flags,
				struct dp_pkt *out)
{
	assert(out && (frame || len == 0));
	out->ip_version = 0;
	out->nvlan = 0;
	out->l3_off = 0;
	out->l4_off = 0;
	if (len < ETH_HDR_BYTES)
		return DP_PKT_BAD_LENGTH;
	uint16_t type = rd16(frame + 12);
	uint32_t off = ETH_HDR_BYTES;
	while (type == DP_PKT_ETH_VLAN || type == DP_PKT_ETH_QINQ) {
		if (out->nvlan == DP_PKT_VLAN_MAX)
			return DP_PKT_NOT_IP;
		if (len - off < VLAN_TAG_BYTES)
			return DP_PKT_BAD_LENGTH;
		out->vlan_tci[out->nvlan++] = rd16(frame + off);
		type = rd16(frame + off + 2);
		off += VLAN_TAG_BYTES;
	}
	out->l3_off = off;
	if (type == DP_PKT_ETH_IPV4)
		return parse_v4(frame + off, len - off, flags, out);
	if (type == DP_PKT_ETH_IPV6)
		return parse_v6(frame + off, len - off, flags, out);
	return DP_PKT_NOT_IP;
}

/* ------------------------------------------------------------------------ */
/* Builders                                                                  */
/* ------------------------------------------------------------------------ */

size_t dp_pkt_igmp_report(uint8_t *buf, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
			  uint32_t group)
{
	enum { IP = ETH_HDR_BYTES, IP_BYTES = 24, IGMP = IP + IP_BYTES, IGMP_BYTES = 8 };
	static_assert(IGMP + IGMP_BYTES <= DP_PKT_IGMP_REPORT_BYTES, "fits the minimum frame");
	if (cap < DP_PKT_IGMP_REPORT_BYTES)
		return 0;
	memset(buf, 0, DP_PKT_IGMP_REPORT_BYTES);
	dp_pkt_mcast_mac(group, buf);
	memcpy(buf + 6, src_mac, 6);
	wr16(buf + 12, DP_PKT_ETH_IPV4);

	uint8_t *ip = buf + IP;
	ip[0] = 0x46;                       /* version 4, IHL 6: the Router Alert option */
	ip[1] = 0xc0;                       /* precedence: internetwork control */
	wr16(ip + 2, IP_BYTES + IGMP_BYTES);
	wr16(ip + 6, 0x4000);               /* DF */
	ip[8] = 1;                          /* TTL 1: link-local */
	ip[9] = DP_PKT_IP_IGMP;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &group, 4);
	ip[20] = 0x94;                      /* Router Alert (RFC 2113), length 4, value 0 */
	ip[21] = 0x04;
	wr16(ip + 10, dp_pkt_inet_csum(ip, IP_BYTES));

	uint8_t *igmp = buf + IGMP;
	igmp[0] = 0x16;                     /* IGMPv2 membership report; max resp time 0 */
	memcpy(igmp + 4, &group, 4);
	wr16(igmp + 2, dp_pkt_inet_csum(igmp, IGMP_BYTES));
	return DP_PKT_IGMP_REPORT_BYTES;
}

size_t dp_pkt_build_udp(uint8_t *buf, size_t cap, const struct dp_pkt_udp_spec *spec)
{
	assert(buf && spec);
	size_t l2 = ETH_HDR_BYTES + VLAN_TAG_BYTES * (size_t)spec->nvlan;
	size_t l3 = spec->ipv6 ? IPV6_HDR_BYTES : IPV4_HDR_MIN;
	size_t ulen = UDP_HDR_BYTES + (size_t)spec->payload_len;
	if (spec->nvlan > DP_PKT_VLAN_MAX || ulen + (spec->ipv6 ? 0 : l3) > 65535 ||
	    l2 + l3 + ulen > cap)
		return 0;
	memcpy(buf, spec->dst_mac, 6);
	memcpy(buf + 6, spec->src_mac, 6);
	uint8_t *p = buf + 12;
	for (uint32_t i = 0; i < spec->nvlan; i++, p += VLAN_TAG_BYTES) {
		wr16(p, spec->nvlan == 2 && i == 0 ? DP_PKT_ETH_QINQ : DP_PKT_ETH_VLAN);
		wr16(p + 2, spec->vlan_tci[i]);
	}
	wr16(p, spec->ipv6 ? DP_PKT_ETH_IPV6 : DP_PKT_ETH_IPV4);

	uint8_t *ip = buf + l2;
	uint8_t *udp = ip + l3;
	uint8_t ttl = spec->ttl ? spec->ttl : 64;
	uint64_t acc;
	memset(ip, 0, l3);
	if (spec->ipv6) {
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = DP_PKT_IP_UDP;
		ip[7] = ttl;
		memcpy(ip + 8, spec->src_addr, 16);
		memcpy(ip + 24, spec->dst_addr, 16);
		acc = pseudo_v6(ip, (uint32_t)ulen);
	} else {
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(l3 + ulen));
		wr16(ip + 6, 0x4000);  /* DF, as Linux sends with path MTU discovery */
		ip[8] = ttl;
		ip[9] = DP_PKT_IP_UDP;
		memcpy(ip + 12, spec->src_addr + 12, 4);
		memcpy(ip + 16, spec->dst_addr + 12, 4);
		wr16(ip + 10, dp_pkt_inet_csum(ip, l3));
		acc = pseudo_v4(ip, (uint32_t)ulen);
	}
	wr16(udp, spec->src_port);
	wr16(udp + 2, spec->dst_port);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0);
	if (spec->payload_len)
		memcpy(udp + UDP_HDR_BYTES, spec->payload, spec->payload_len);
	uint16_t c = (uint16_t)~fold(sum16(acc, udp, ulen));
	wr16(udp + 6, c ? c : 0xffff);  /* 0 means "none": a computed 0 is sent as all ones */
	return l2 + l3 + ulen;
}
