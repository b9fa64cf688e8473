/*
 * fuzz_dp_pkt.c - fuzz target for the Ethernet/IP/UDP frame parser
 * (dp_pkt.c).
 *
 * Each input is one received frame, parsed with and without checksum
 * verification. The contract is checked, abort()ing on any violation: a
 * status in range with a name and a drop cause; the same answer twice;
 * verification only ever turns a status into BAD_HEADER (a checksum is
 * checked before what the header says is looked at); after OK the offsets
 * are ordered, the payload lies inside the frame right after the UDP
 * header, IPv4 addresses are v4-mapped; every prefix that ends before the
 * IP datagram does is BAD_LENGTH; and the frame rebuilt from what was
 * parsed (dp_pkt_build_udp) parses to the same ports, addresses, VLAN
 * tags and payload bytes, checksums included.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pkt.h"
#include "fz_driver.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static uint8_t rebuilt[70000];

static size_t ip_end(const uint8_t *data, const struct dp_pkt *p)
{
	const uint8_t *ip = data + p->l3_off;
	return p->ip_version == 6 ? p->l3_off + 40u + (size_t)(ip[4] << 8 | ip[5])
				  : p->l3_off + (size_t)(ip[2] << 8 | ip[3]);
}

static void check_ok(const uint8_t *data, size_t len, const struct dp_pkt *p)
{
	CHECK(p->ip_version == 4 || p->ip_version == 6);
	CHECK(p->nvlan <= DP_PKT_VLAN_MAX);
	CHECK(p->l3_off == 14u + 4u * p->nvlan);
	CHECK(p->l4_off >= p->l3_off + (p->ip_version == 4 ? 20u : 40u));
	CHECK(p->payload == data + p->l4_off + 8);
	CHECK(p->payload + p->payload_len <= data + len);
	CHECK(p->ip_version == 6 || (dp_pkt_addr_is_v4mapped(p->src_addr) &&
				     dp_pkt_addr_is_v4mapped(p->dst_addr)));
	size_t end = ip_end(data, p);
	CHECK(end <= len && p->payload + p->payload_len <= data + end);

	struct dp_pkt q;
	for (size_t n = 0; n < end; n++)
		CHECK(dp_pkt_parse(data, n, 0, &q) == DP_PKT_BAD_LENGTH);

	struct dp_pkt_udp_spec s = {
		.nvlan = p->nvlan,
		.ipv6 = p->ip_version == 6,
		.src_port = p->src_port,
		.dst_port = p->dst_port,
		.payload = p->payload,
		.payload_len = p->payload_len,
	};
	memcpy(s.dst_mac, data, 6);
	memcpy(s.src_mac, data + 6, 6);
	memcpy(s.vlan_tci, p->vlan_tci, sizeof(s.vlan_tci));
	memcpy(s.src_addr, p->src_addr, 16);
	memcpy(s.dst_addr, p->dst_addr, 16);
	size_t n = dp_pkt_build_udp(rebuilt, sizeof(rebuilt), &s);
	CHECK(n > 0);
	CHECK(dp_pkt_parse(rebuilt, n, DP_PKT_VERIFY_CSUM, &q) == DP_PKT_OK);
	CHECK(q.src_port == p->src_port && q.dst_port == p->dst_port);
	CHECK(memcmp(q.src_addr, p->src_addr, 16) == 0 && memcmp(q.dst_addr, p->dst_addr, 16) == 0);
	CHECK(q.nvlan == p->nvlan && memcmp(q.vlan_tci, p->vlan_tci, 2u * p->nvlan) == 0);
	CHECK(q.payload_len == p->payload_len);
	CHECK(p->payload_len == 0 || memcmp(q.payload, p->payload, p->payload_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dp_pkt p, v, again;
	memset(&p, 0, sizeof(p));  /* compared whole below: padding and unused tags too */
	memset(&again, 0, sizeof(again));
	enum dp_pkt_status st = dp_pkt_parse(data, len, 0, &p);
	CHECK((unsigned)st < DP_PKT__COUNT);
	CHECK(strcmp(dp_pkt_status_name(st), "unknown") != 0);
	CHECK((st == DP_PKT_OK) == (dp_pkt_drop_cause(st) == DP_RXD__COUNT));
	CHECK(dp_pkt_parse(data, len, 0, &again) == st);

	enum dp_pkt_status vst = dp_pkt_parse(data, len, DP_PKT_VERIFY_CSUM, &v);
	CHECK(vst == st || vst == DP_PKT_BAD_HEADER);
	if (st == DP_PKT_OK) {
		CHECK(memcmp(&p, &again, sizeof(p)) == 0);
		check_ok(data, len, &p);
	}
	return 0;
}

static void emit_udp(fz_emit_fn emit, void *arg, bool v6, uint8_t nvlan, uint32_t plen)
{
	static const uint8_t text[] = "cpu,host=a usage=0.5 1700000000000000000\n"
				      "mem,host=a used=1024i 1700000000000000000\n";
	uint8_t buf[512];
	struct dp_pkt_udp_spec s = {
		.dst_mac = {0x02, 0, 0, 0, 0, 1},
		.src_mac = {0x02, 0, 0, 0, 0, 2},
		.nvlan = nvlan,
		.vlan_tci = {5, 7},
		.ipv6 = v6,
		.src_addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2},
		.dst_addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1},
		.src_port = 5555,
		.dst_port = 8089,
		.payload = text,
		.payload_len = plen < sizeof(text) - 1 ? plen : (uint32_t)sizeof(text) - 1,
	};
	if (v6) {
		s.src_addr[0] = 0xfd;
		s.dst_addr[0] = 0xfd;
	}
	size_t n = dp_pkt_build_udp(buf, sizeof(buf), &s);
	emit(arg, buf, n);
	if (v6 && n + 16 <= sizeof(buf)) {
		/* the same with hop-by-hop and destination-options headers */
		uint32_t l3 = 14u + 4u * nvlan;
		static const uint8_t ext[16] = {60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0};
		memmove(buf + l3 + 40 + 16, buf + l3 + 40, n - l3 - 40);
		memcpy(buf + l3 + 40, ext, sizeof(ext));
		buf[l3 + 6] = 0;
		uint32_t pl = (uint32_t)(buf[l3 + 4] << 8 | buf[l3 + 5]) + 16;
		buf[l3 + 4] = (uint8_t)(pl >> 8);
		buf[l3 + 5] = (uint8_t)pl;
		emit(arg, buf, n + 16);
	}
	if (!v6) {
		/* an IPv4 first fragment, header checksum fixed */
		uint8_t *ip = buf + 14 + 4 * nvlan;
		ip[6] |= 0x20;
		ip[10] = ip[11] = 0;
		uint16_t c = dp_pkt_inet_csum(ip, 20);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		emit(arg, buf, n);
	}
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	for (uint8_t nvlan = 0; nvlan <= DP_PKT_VLAN_MAX; nvlan++) {
		emit_udp(emit, arg, false, nvlan, 40);
		emit_udp(emit, arg, true, nvlan, 90);
	}
	emit_udp(emit, arg, false, 0, 0);
	emit_udp(emit, arg, true, 0, 1);

	uint8_t igmp[DP_PKT_IGMP_REPORT_BYTES];
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 9};
	uint32_t src, group;
	memcpy(&src, (const uint8_t[]){10, 0, 0, 9}, 4);
	memcpy(&group, (const uint8_t[]){239, 1, 1, 1}, 4);
	emit(arg, igmp, dp_pkt_igmp_report(igmp, sizeof(igmp), mac, src, group));
}
