/*
 * dp_pkt.h - the parser of one received Ethernet frame down to its UDP
 * payload (what the DPDK backend does per packet), and the builders of the
 * few frames StreamFlow sends or tests with: an IGMPv2 membership report
 * and a UDP datagram.
 *
 * Accepted: Ethernet II; up to two VLAN tags (TPID 0x8100 or 0x88a8, in any
 * order); IPv4 with or without options; IPv6 with hop-by-hop, routing and
 * destination-options extension headers; UDP. Everything else has a status
 * that maps 1:1 to a drop cause of dp_rx.h (dp_pkt_drop_cause). The rules,
 * checked in the order of the headers:
 *   BAD_LENGTH  the frame ends inside a header; IPv4 total length or IPv6
 *               payload length past the end of the frame, or an IPv4 total
 *               length shorter than its header; an extension header past the
 *               IPv6 payload; UDP length < 8 or past the IP payload
 *   NOT_IP      the (innermost) EtherType is not IPv4 or IPv6: ARP, LLDP,
 *               802.3 length frames, a third VLAN tag
 *   BAD_HEADER  IP version not the EtherType's; IPv4 IHL < 5; IPv6
 *               hop-by-hop not first, or more than DP_PKT_IPV6_EXT_MAX
 *               extension headers; with DP_PKT_VERIFY_CSUM, a bad IPv4
 *               header checksum, a bad UDP checksum, a zero UDP checksum
 *               over IPv6
 *   FRAGMENT    IPv4 MF set or fragment offset != 0; an IPv6 fragment
 *               header (whatever it carries: senders that fragment need a
 *               smaller datagram, not reassembly here)
 *   NOT_UDP     the upper-layer protocol is not UDP (TCP, ICMP, IGMP, ESP,
 *               IPv6 no-next-header, ...)
 * Bytes past the IP length (Ethernet padding of short frames) are ignored.
 * A UDP length shorter than the IP payload is accepted and cuts the payload
 * there, as the Linux stack does, so both backends deliver the same bytes.
 *
 * Checksums are not verified by default: on the wire the Ethernet FCS (checked
 * by the NIC) covers the whole frame, NICs verify IP and UDP checksums in
 * hardware (the DPDK backend drops what they flag), and a software port
 * (af_packet, tap) hands over frames the sender's kernel just checksummed or
 * offloaded. DP_PKT_VERIFY_CSUM checks them in software for ports where
 * neither holds (a pcap replay of a damaged capture).
 *
 * Usage profile: once per received frame on a dataplane core (millions per
 * second per core). Pure and zero-copy: reads only frame[0 .. len), never
 * allocates, bounded work (at most DP_PKT_IPV6_EXT_MAX extension headers).
 *
 * Threads: any; no state.
 */
#ifndef DP_PKT_H
#define DP_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_rx.h"

/* Why a frame does or does not carry a UDP payload for us. */
enum dp_pkt_status {
	DP_PKT_OK = 0,
	DP_PKT_NOT_IP,       /* DP_RXD_NOT_IP */
	DP_PKT_NOT_UDP,      /* DP_RXD_NOT_UDP */
	DP_PKT_FRAGMENT,     /* DP_RXD_FRAGMENT */
	DP_PKT_BAD_HEADER,   /* DP_RXD_BAD_HEADER */
	DP_PKT_BAD_LENGTH,   /* DP_RXD_BAD_LENGTH */
	DP_PKT__COUNT
};

/* "ok", "not_ip", ... (the drop cause names); "unknown" when out of range. */
const char *dp_pkt_status_name(enum dp_pkt_status st);

/* The drop cause of a failure status; DP_RXD__COUNT for OK or out of range. */
enum dp_rx_drop dp_pkt_drop_cause(enum dp_pkt_status st);

/* Most IPv6 extension headers walked before BAD_HEADER. */
#define DP_PKT_IPV6_EXT_MAX 8u
/* Most VLAN tags accepted; one more is NOT_IP. */
#define DP_PKT_VLAN_MAX 2u

/* EtherTypes and IP protocol numbers the parser and builders use. */
#define DP_PKT_ETH_IPV4 0x0800u
#define DP_PKT_ETH_IPV6 0x86ddu
#define DP_PKT_ETH_ARP 0x0806u
#define DP_PKT_ETH_VLAN 0x8100u
#define DP_PKT_ETH_QINQ 0x88a8u
#define DP_PKT_IP_HOPOPT 0u
#define DP_PKT_IP_IGMP 2u
#define DP_PKT_IP_TCP 6u
#define DP_PKT_IP_UDP 17u
#define DP_PKT_IP_ROUTING 43u
#define DP_PKT_IP_FRAGMENT 44u
#define DP_PKT_IP_NONE 59u
#define DP_PKT_IP_DSTOPTS 60u

enum dp_pkt_flags {
	DP_PKT_VERIFY_CSUM = 1u << 0,  /* check IPv4 header and UDP checksums */
};

/*
 * What a frame carries. Plain struct (filled per packet on the hot path).
 * After DP_PKT_OK every field is set; after a failure only nvlan, ip_version
 * and the offsets of the headers reached are meaningful.
 */
struct dp_pkt {
	const uint8_t *payload;    /* borrowed: points into the frame */
	uint32_t payload_len;      /* UDP length - 8 */
	uint16_t src_port;         /* host order */
	uint16_t dst_port;
	uint8_t src_addr[16];      /* network order; IPv4 as ::ffff:a.b.c.d */
	uint8_t dst_addr[16];
	uint8_t ip_version;        /* 4 or 6; 0 before the IP header */
	uint8_t nvlan;             /* VLAN tags seen */
	uint16_t vlan_tci[DP_PKT_VLAN_MAX];  /* outermost first, host order */
	uint32_t l3_off;           /* IP header offset in the frame */
	uint32_t l4_off;           /* UDP header offset (0 before it) */
};

/*
 * HOT PATH. Parse frame[len] (borrowed; only those bytes are read) with
 * flags (enum dp_pkt_flags) into *out. Returns DP_PKT_OK or why not, per
 * the rules at the top. out->payload points into frame.
 */
enum dp_pkt_status dp_pkt_parse(const uint8_t *frame, size_t len, uint32_t flags,
				struct dp_pkt *out);

/* Map an IPv4 address (network order) to ::ffff:a.b.c.d into addr16. */
void dp_pkt_addr_v4mapped(uint32_t ip4, uint8_t addr16[16]);
/* True when addr16 is an IPv4-mapped IPv6 address (::ffff:0:0/96). */
bool dp_pkt_addr_is_v4mapped(const uint8_t addr16[16]);

/* The Ethernet multicast MAC of an IPv4 group (network order): 01:00:5e + low 23 bits. */
void dp_pkt_mcast_mac(uint32_t group, uint8_t mac[6]);

/* The Internet checksum (RFC 1071) of buf[len], folded and complemented. */
uint16_t dp_pkt_inet_csum(const void *buf, size_t len);

/* Bytes of an IGMPv2 report frame: Ethernet, IPv4 with Router Alert, IGMP, padding to 60. */
#define DP_PKT_IGMP_REPORT_BYTES 60u

/*
 * Build the IGMPv2 membership report (RFC 2236) for group (network order)
 * from src_mac and src_ip (network order; 0.0.0.0 is allowed) into buf[cap]:
 * Ethernet to the group's multicast MAC; IPv4 TOS 0xc0, DF, TTL 1, Router
 * Alert option (RFC 2113), to the group; IGMP type 0x16, both checksums
 * set; zero padding to the 60-byte Ethernet minimum. Returns the frame
 * length (DP_PKT_IGMP_REPORT_BYTES), or 0 when cap is smaller. Any thread.
 */
size_t dp_pkt_igmp_report(uint8_t *buf, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
			  uint32_t group);

/* A UDP datagram to build (tests, tools, load generators). Plain struct. */
struct dp_pkt_udp_spec {
	uint8_t dst_mac[6], src_mac[6];
	uint8_t nvlan;             /* 0..2; with 2 the outer TPID is 0x88a8, else 0x8100 */
	uint16_t vlan_tci[DP_PKT_VLAN_MAX];
	bool ipv6;
	uint8_t src_addr[16];      /* IPv4: ::ffff:a.b.c.d (the last 4 bytes are used) */
	uint8_t dst_addr[16];
	uint16_t src_port, dst_port;  /* host order */
	uint8_t ttl;               /* 0: 64 */
	const uint8_t *payload;    /* borrowed */
	uint32_t payload_len;
};

/*
 * Build the frame *spec describes into buf[cap], with correct IPv4 header and
 * UDP checksums, no IP options or extension headers, no padding. Returns the
 * frame length, or 0 when it does not fit cap or an IP length field (the
 * payload is over 65535 - headers). Any thread.
 */
size_t dp_pkt_build_udp(uint8_t *buf, size_t cap, const struct dp_pkt_udp_spec *spec);

#endif /* DP_PKT_H */
