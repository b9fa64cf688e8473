/*
 * tl_pcap.h - a classic pcap file writer (libpcap format 2.4,
 * LINKTYPE_ETHERNET, microsecond timestamps, host byte order with magic
 * 0xa1b2c3d4) and builders of the Ethernet frames it holds: IPv4/UDP around
 * a payload, and the frames a receiver must drop (ARP, TCP, IPv4
 * fragments). Used by `sfgen traffic --pcap` so a capture can be replayed
 * into the DPDK backend (the pcap PMD) or inspected with tcpdump.
 *
 * Frames: Ethernet II (no VLAN, no FCS, no padding but for ARP, which is
 * padded to the 60-byte minimum as it is on a wire), IPv4 with a 20-byte
 * header, DF clear, TTL 64 and a correct header checksum; UDP checksum 0
 * (legal for IPv4: "no checksum"), UDP length 8 + payload; TCP with a
 * correct checksum. UDP payloads up to TL_PCAP_UDP_PAYLOAD_MAX bytes.
 *
 * Usage profile: one call per datagram, thousands to millions per run;
 * builders write into the caller's buffer and never allocate. Threads: a
 * struct tl_pcap belongs to one thread; the builders are pure.
 */
#ifndef TL_PCAP_H
#define TL_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TL_PCAP_ETH_BYTES 14u
#define TL_PCAP_IP_BYTES 20u
#define TL_PCAP_UDP_BYTES 8u
#define TL_PCAP_TCP_BYTES 20u
/* The largest UDP payload in one IPv4 datagram: 65535 - 20 - 8. */
#define TL_PCAP_UDP_PAYLOAD_MAX 65507u
/* The largest frame any builder writes. */
#define TL_PCAP_FRAME_MAX (TL_PCAP_ETH_BYTES + 65535u)
/* An ARP frame, padded to the Ethernet minimum (without FCS). */
#define TL_PCAP_ARP_FRAME_BYTES 60u
#define TL_PCAP_SNAPLEN 262144u

/* Who talks to whom. Plain struct; addresses and ports in host order. */
struct tl_pcap_flow {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip;      /* 10.0.0.1 is 0x0a000001 */
	uint16_t src_port, dst_port;
};

/* The one's-complement checksum of buf[len] (RFC 1071): dp_pkt_inet_csum. */
uint16_t tl_pcap_csum(const void *buf, size_t len);

/*
 * Build an Ethernet/IPv4/UDP frame carrying payload[len] into frame[cap]
 * (borrowed). ip_id is the IPv4 identification. Returns the frame length,
 * or 0 when len > TL_PCAP_UDP_PAYLOAD_MAX or the frame does not fit cap.
 */
size_t tl_pcap_udp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
		   const void *payload, size_t len);

/*
 * An Ethernet/IPv4/TCP segment (PSH|ACK, the given sequence number, window
 * 65535, correct checksum) carrying payload[len] from the flow's ports.
 * Returns the frame length or 0 (too big for one IPv4 datagram or cap).
 */
size_t tl_pcap_tcp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
		   uint32_t seq, const void *payload, size_t len);

/*
 * One IPv4 fragment of the UDP datagram that would carry payload[len]:
 * first (offset 0, MF set: the UDP header and the first 8-byte-aligned part
 * of the payload, at most half of it) or last (MF clear, the rest, at a
 * non-zero offset). len must be at least 16 so both are non-empty. Returns
 * the frame length or 0 (len out of range or cap).
 */
size_t tl_pcap_fragment(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f, uint16_t ip_id,
			bool first, const void *payload, size_t len);

/* An ARP request "who has dst_ip, tell src_ip", broadcast, padded to 60 bytes. 0 if cap is short. */
size_t tl_pcap_arp(uint8_t *frame, size_t cap, const struct tl_pcap_flow *f);

struct tl_pcap;

/*
 * Create (truncate) path and write the file header. Returns 0 or a negative
 * errno; *out is owned by the caller (tl_pcap_close).
 */
int tl_pcap_open(const char *path, struct tl_pcap **out);

/*
 * Append one frame[len] (borrowed) with timestamp ts_ns (written as seconds
 * and microseconds). 0, -EINVAL (len > TL_PCAP_SNAPLEN or ts_ns < 0) or
 * -EIO.
 */
int tl_pcap_write(struct tl_pcap *p, int64_t ts_ns, const void *frame, size_t len);

/* Wrap payload in UDP (tl_pcap_udp) and append it. 0, -EINVAL (too big) or -EIO. */
int tl_pcap_write_udp(struct tl_pcap *p, int64_t ts_ns, const struct tl_pcap_flow *f,
		      const void *payload, size_t len);

/* Frames written so far. */
uint64_t tl_pcap_frames(const struct tl_pcap *p);

/* Flush and close; returns 0 or the first write error (-EIO, -ENOSPC, ...). NULL is fine. */
int tl_pcap_close(struct tl_pcap *p);

#endif /* TL_PCAP_H */
