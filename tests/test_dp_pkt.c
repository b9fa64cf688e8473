/*
 * test_dp_pkt.c - unit tests for dataplane/dp_pkt.c, the Ethernet/VLAN/
 * IPv4/IPv6/UDP frame parser and the IGMP and UDP frame builders.
 *
 * The case table starts each frame from the builder (IPv4 or IPv6, 0..2
 * VLAN tags) and edits it by hand, at offsets this file computes itself:
 * every header combination that must parse, and each reason to reject.
 * Every case runs twice, without checksum verification and with it (the
 * test's own checksum code fixes the edited frame first, so only the
 * checksum cases differ), and then truncated at every byte offset, each
 * prefix in an exact-size heap buffer so the sanitizer build catches any
 * read past the end. Hand-assembled frames (a textbook IPv4 header, an
 * IGMPv2 report with checksums computed elsewhere) check the builders and
 * checksums against bytes that do not come from dp_pkt.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_compiler.h"
#include "dp_pkt.h"

/* A frame under edit, with the offsets the test computed for it. */
struct fr {
	uint8_t b[4096];
	size_t len;
	bool v6;
	uint32_t nvlan;
	uint32_t l3, l4;           /* IP and UDP header offsets */
	uint32_t plen;             /* expected payload length after OK */
};

typedef void (*edit_fn)(struct fr *f);

static const uint8_t payload[] = "cpu.load,host=a value=1.5 1700000000\n";
#define PAYLOAD_LEN ((uint32_t)sizeof(payload) - 1)

static const uint8_t src4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
static const uint8_t dst4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t dst6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void build(struct fr *f, bool v6, uint32_t nvlan)
{
	struct dp_pkt_udp_spec s = {
		.dst_mac = {0x02, 0, 0, 0, 0, 0x01},
		.src_mac = {0x02, 0, 0, 0, 0, 0x02},
		.nvlan = (uint8_t)nvlan,
		.vlan_tci = {0x0064, 0x2fff},
		.ipv6 = v6,
		.src_port = 40000,
		.dst_port = 8125,
		.payload = payload,
		.payload_len = PAYLOAD_LEN,
	};
	memcpy(s.src_addr, v6 ? src6 : src4, 16);
	memcpy(s.dst_addr, v6 ? dst6 : dst4, 16);
	memset(f, 0, sizeof(*f));
	f->len = dp_pkt_build_udp(f->b, sizeof(f->b), &s);
	assert_true(f->len > 0);
	f->v6 = v6;
	f->nvlan = nvlan;
	f->l3 = 14 + 4 * nvlan;
	f->l4 = f->l3 + (v6 ? 40 : 20);
	f->plen = PAYLOAD_LEN;
	assert_int_equal(f->len, f->l4 + 8 + PAYLOAD_LEN);
}

/* Insert n bytes at off (the frame grows). */
static void insert(struct fr *f, uint32_t off, const uint8_t *bytes, uint32_t n)
{
	assert_true(f->len + n <= sizeof(f->b) && off <= f->len);
	memmove(f->b + off + n, f->b + off, f->len - off);
	memcpy(f->b + off, bytes, n);
	f->len += n;
}

/* IPv4 total length or IPv6 payload length += d. */
static void ip_len_add(struct fr *f, int d)
{
	uint8_t *p = f->b + f->l3 + (f->v6 ? 4 : 2);
	put16(p, (uint32_t)((int)get16(p) + d));
}

/* Put an IPv6 extension header of type (n bytes, n % 8 == 0) first in the chain. */
static void v6_ext(struct fr *f, uint8_t type, uint32_t n)
{
	uint8_t h[64] = {0};
	assert_true(n >= 8 && n % 8 == 0 && n <= sizeof(h));
	h[0] = f->b[f->l3 + 6];
	h[1] = (uint8_t)(n / 8 - 1);
	if (type == DP_PKT_IP_HOPOPT || type == DP_PKT_IP_DSTOPTS) {
		h[2] = 1;  /* PadN over the rest */
		h[3] = (uint8_t)(n - 4);
	}
	if (type == DP_PKT_IP_FRAGMENT) {
		h[1] = 0;
		put16(h + 2, 0x0001);  /* offset 0, M */
		h[7] = 42;             /* identification */
	}
	insert(f, f->l3 + 40, h, n);
	f->b[f->l3 + 6] = type;
	ip_len_add(f, (int)n);
	f->l4 += n;
}

/* ------------------------------------------------------------------------ */
/* Checksums, independently of dp_pkt.c                                      */
/* ------------------------------------------------------------------------ */

static uint32_t add16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t finish(uint32_t s)
{
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Recompute the IPv4 header and UDP checksums of an edited frame, where they fit. */
static void fix_csums(struct fr *f)
{
	uint8_t *ip = f->b + f->l3;
	if (f->len < f->l4 + 8)
		return;
	uint8_t *udp = f->b + f->l4;
	uint32_t ulen = get16(udp + 4), s;
	if (!f->v6) {
		uint32_t ihl = (ip[0] & 15u) * 4;
		if (ihl >= 20 && f->l3 + ihl <= f->len) {
			put16(ip + 10, 0);
			put16(ip + 10, finish(add16(0, ip, ihl)));
		}
		s = add16(0, ip + 12, 8);
	} else {
		s = add16(0, ip + 8, 32);
	}
	if (ulen < 8 || f->l4 + ulen > f->len)
		return;
	put16(udp + 6, 0);
	uint16_t c = finish(add16(s + 17 + ulen, udp, ulen));
	put16(udp + 6, c ? c : 0xffff);
}

/* ------------------------------------------------------------------------ */
/* Edits                                                                     */
/* ------------------------------------------------------------------------ */

static void e_none(struct fr *f) { (void)f; }
static void e_outer_8100(struct fr *f) { put16(f->b + 12, 0x8100); }
static void e_outer_88a8(struct fr *f) { put16(f->b + 12, 0x88a8); }
static void e_pad(struct fr *f)
{
	static const uint8_t junk[18] = {0xee, 0xee, 0xee, 0xee};
	insert(f, (uint32_t)f->len, junk, sizeof(junk));
}

static void v4_opts(struct fr *f, uint32_t n)
{
	uint8_t o[40];
	memset(o, 1, n);  /* NOPs */
	o[n - 1] = 0;     /* EOL */
	insert(f, f->l4, o, n);
	f->b[f->l3] = (uint8_t)(0x40 | (20 + n) / 4);
	ip_len_add(f, (int)n);
	f->l4 += n;
}
static void e_v4_opts4(struct fr *f) { v4_opts(f, 4); }
static void e_v4_opts40(struct fr *f) { v4_opts(f, 40); }
static void e_v4_no_df(struct fr *f) { put16(f->b + f->l3 + 6, 0); }
static void e_v4_df_id(struct fr *f) { put16(f->b + f->l3 + 4, 0xbeef); put16(f->b + f->l3 + 6, 0x4000); }
static void e_udp_trim(struct fr *f)
{
	put16(f->b + f->l4 + 4, get16(f->b + f->l4 + 4) - 5);
	f->plen -= 5;
}
static void e_empty(struct fr *f)
{
	ip_len_add(f, -(int)PAYLOAD_LEN);
	put16(f->b + f->l4 + 4, 8);
	f->len -= PAYLOAD_LEN;
	f->plen = 0;
}
static void e_v6_hbh(struct fr *f) { v6_ext(f, DP_PKT_IP_HOPOPT, 8); }
static void e_v6_rt(struct fr *f) { v6_ext(f, DP_PKT_IP_ROUTING, 48); }
static void e_v6_dst(struct fr *f) { v6_ext(f, DP_PKT_IP_DSTOPTS, 16); }
static void e_v6_all3(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_DSTOPTS, 8);
	v6_ext(f, DP_PKT_IP_ROUTING, 24);
	v6_ext(f, DP_PKT_IP_DSTOPTS, 8);
	v6_ext(f, DP_PKT_IP_HOPOPT, 8);
}
static void e_v6_ext_max(struct fr *f)
{
	for (uint32_t i = 0; i < DP_PKT_IPV6_EXT_MAX; i++)
		v6_ext(f, DP_PKT_IP_DSTOPTS, 8);
}
static void e_v6_ext_over(struct fr *f)
{
	for (uint32_t i = 0; i <= DP_PKT_IPV6_EXT_MAX; i++)
		v6_ext(f, DP_PKT_IP_DSTOPTS, 8);
}
static void e_v6_hbh_second(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_HOPOPT, 8);
	v6_ext(f, DP_PKT_IP_DSTOPTS, 8);
}
static void e_v6_frag(struct fr *f) { v6_ext(f, DP_PKT_IP_FRAGMENT, 8); }
static void e_v6_atomic_frag(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_FRAGMENT, 8);
	put16(f->b + f->l3 + 40 + 2, 0);
}
static void e_v6_hbh_frag(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_FRAGMENT, 8);
	v6_ext(f, DP_PKT_IP_HOPOPT, 8);
}
static void e_v6_tcp(struct fr *f) { f->b[f->l3 + 6] = DP_PKT_IP_TCP; }
static void e_v6_icmp(struct fr *f) { f->b[f->l3 + 6] = 58; }
static void e_v6_esp(struct fr *f) { f->b[f->l3 + 6] = 50; }
static void e_v6_nonext(struct fr *f) { f->b[f->l3 + 6] = DP_PKT_IP_NONE; }
static void e_v6_hbh_tcp(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_HOPOPT, 8);
	f->b[f->l3 + 40] = DP_PKT_IP_TCP;
}
static void e_v6_ext_past(struct fr *f)
{
	v6_ext(f, DP_PKT_IP_HOPOPT, 8);
	f->b[f->l3 + 41] = 200;
}
static void e_v6_ext_short(struct fr *f)
{
	/* a hop-by-hop header announced with 4 bytes of payload left */
	f->b[f->l3 + 6] = DP_PKT_IP_HOPOPT;
	put16(f->b + f->l3 + 4, 4);
}
static void e_v6_plen_long(struct fr *f) { ip_len_add(f, 1); }
static void e_v6_plen_zero(struct fr *f) { put16(f->b + f->l3 + 4, 0); }
static void e_v6_version4(struct fr *f) { f->b[f->l3] = 0x40; }
static void e_v4_version6(struct fr *f) { f->b[f->l3] = 0x65; }
static void e_v4_version5(struct fr *f) { f->b[f->l3] = 0x55; }
static void e_v4_ihl4(struct fr *f) { f->b[f->l3] = 0x44; }
static void e_v4_ihl0(struct fr *f) { f->b[f->l3] = 0x40; }
static void e_v4_ihl_past(struct fr *f)
{
	/* IHL 15 (60 bytes) in a datagram of 20 + 8 + 37 = 65 bytes, cut to 56 */
	f->b[f->l3] = 0x4f;
	put16(f->b + f->l3 + 2, 56);
	f->len = f->l3 + 56;
}
static void e_v4_total_long(struct fr *f) { ip_len_add(f, 1); }
static void e_v4_total_lt_ihl(struct fr *f) { put16(f->b + f->l3 + 2, 19); }
static void e_v4_total_eq_ihl(struct fr *f) { put16(f->b + f->l3 + 2, 20); }
static void e_v4_udp_cut(struct fr *f) { put16(f->b + f->l3 + 2, 24); }
static void e_v4_mf(struct fr *f) { put16(f->b + f->l3 + 6, 0x2000); }
static void e_v4_df_mf(struct fr *f) { put16(f->b + f->l3 + 6, 0x6000); }
static void e_v4_last_frag(struct fr *f) { put16(f->b + f->l3 + 6, 0x00b9); }
static void e_v4_tcp(struct fr *f) { f->b[f->l3 + 9] = DP_PKT_IP_TCP; }
static void e_v4_icmp(struct fr *f) { f->b[f->l3 + 9] = 1; }
static void e_v4_igmp(struct fr *f) { f->b[f->l3 + 9] = DP_PKT_IP_IGMP; }
static void e_v4_tcp_mf(struct fr *f)
{
	f->b[f->l3 + 9] = DP_PKT_IP_TCP;
	put16(f->b + f->l3 + 6, 0x2000);
}
static void e_udp_len7(struct fr *f) { put16(f->b + f->l4 + 4, 7); }
static void e_udp_len0(struct fr *f) { put16(f->b + f->l4 + 4, 0); }
static void e_udp_len_long(struct fr *f) { put16(f->b + f->l4 + 4, 8 + PAYLOAD_LEN + 1); }
static void e_arp(struct fr *f) { put16(f->b + f->l3 - 2, DP_PKT_ETH_ARP); }
static void e_lldp(struct fr *f) { put16(f->b + f->l3 - 2, 0x88cc); }
static void e_ipx(struct fr *f) { put16(f->b + f->l3 - 2, 0x8137); }
static void e_8023(struct fr *f) { put16(f->b + f->l3 - 2, 0x002e); }
static void e_third_tag(struct fr *f)
{
	static const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
	insert(f, 12, tag, 4);
	f->l3 += 4;
	f->l4 += 4;
}
static void e_short_eth(struct fr *f) { f->len = 13; }
static void e_vlan_cut(struct fr *f) { f->len = 16; }

/* After the checksums are fixed: break them. */
static void p_ip_csum(struct fr *f) { f->b[f->l3 + 10] ^= 0x01; }
static void p_udp_data(struct fr *f) { f->b[f->l4 + 8] ^= 0x20; }
static void p_udp_csum(struct fr *f) { f->b[f->l4 + 7] ^= 0x80; }
static void p_udp_csum0(struct fr *f) { put16(f->b + f->l4 + 6, 0); }
static void p_udp_addr(struct fr *f) { f->b[f->l3 + (f->v6 ? 39 : 19)] ^= 0x04; }

struct pcase {
	const char *name;
	bool v6;
	uint8_t nvlan;
	edit_fn edit;
	edit_fn post;                  /* last (in the verify run: after fix_csums) */
	enum dp_pkt_status want;       /* without DP_PKT_VERIFY_CSUM */
	enum dp_pkt_status want_verify;
};

#define C(name, v6, nvlan, edit, want) {name, v6, nvlan, edit, NULL, DP_PKT_##want, DP_PKT_##want}
#define CK(name, v6, nvlan, post, want) {name, v6, nvlan, e_none, post, DP_PKT_OK, DP_PKT_##want}

static const struct pcase cases[] = {
	/* must parse: every header combination */
	C("v4", false, 0, e_none, OK),
	C("v4 vlan", false, 1, e_none, OK),
	C("v4 qinq 88a8/8100", false, 2, e_none, OK),
	C("v4 two 8100 tags", false, 2, e_outer_8100, OK),
	C("v4 88a8 alone", false, 1, e_outer_88a8, OK),
	C("v6", true, 0, e_none, OK),
	C("v6 vlan", true, 1, e_none, OK),
	C("v6 qinq", true, 2, e_none, OK),
	C("v4 4 bytes of options", false, 0, e_v4_opts4, OK),
	C("v4 40 bytes of options, vlan", false, 1, e_v4_opts40, OK),
	C("v4 DF clear", false, 0, e_v4_no_df, OK),
	C("v4 DF with an id", false, 2, e_v4_df_id, OK),
	C("v4 ethernet padding", false, 0, e_pad, OK),
	C("v6 ethernet padding", true, 1, e_pad, OK),
	C("v4 udp length short of ip: cut", false, 0, e_udp_trim, OK),
	C("v6 udp length short of ip: cut", true, 0, e_udp_trim, OK),
	C("v4 empty payload", false, 0, e_empty, OK),
	C("v6 empty payload", true, 2, e_empty, OK),
	C("v6 hop-by-hop", true, 0, e_v6_hbh, OK),
	C("v6 routing", true, 1, e_v6_rt, OK),
	C("v6 destination options", true, 0, e_v6_dst, OK),
	C("v6 hbh, dst, routing, dst", true, 2, e_v6_all3, OK),
	C("v6 most extension headers", true, 0, e_v6_ext_max, OK),
	/* NOT_IP */
	C("arp", false, 0, e_arp, NOT_IP),
	C("vlan arp", false, 1, e_arp, NOT_IP),
	C("lldp", false, 0, e_lldp, NOT_IP),
	C("ipx in qinq", false, 2, e_ipx, NOT_IP),
	C("802.3 length", false, 0, e_8023, NOT_IP),
	C("three vlan tags", false, 2, e_third_tag, NOT_IP),
	/* NOT_UDP */
	C("v4 tcp", false, 0, e_v4_tcp, NOT_UDP),
	C("v4 icmp", false, 1, e_v4_icmp, NOT_UDP),
	C("v4 igmp", false, 0, e_v4_igmp, NOT_UDP),
	C("v6 tcp", true, 0, e_v6_tcp, NOT_UDP),
	C("v6 icmp", true, 1, e_v6_icmp, NOT_UDP),
	C("v6 esp", true, 0, e_v6_esp, NOT_UDP),
	C("v6 no next header", true, 0, e_v6_nonext, NOT_UDP),
	C("v6 hbh then tcp", true, 2, e_v6_hbh_tcp, NOT_UDP),
	/* FRAGMENT */
	C("v4 first fragment (MF)", false, 0, e_v4_mf, FRAGMENT),
	C("v4 MF and DF", false, 1, e_v4_df_mf, FRAGMENT),
	C("v4 last fragment (offset)", false, 0, e_v4_last_frag, FRAGMENT),
	C("v4 tcp fragment", false, 0, e_v4_tcp_mf, FRAGMENT),
	C("v6 fragment header", true, 0, e_v6_frag, FRAGMENT),
	C("v6 atomic fragment", true, 1, e_v6_atomic_frag, FRAGMENT),
	C("v6 hbh then fragment", true, 0, e_v6_hbh_frag, FRAGMENT),
	/* BAD_HEADER */
	C("v4 version 6 in an ipv4 ethertype", false, 0, e_v4_version6, BAD_HEADER),
	C("v4 version 5", false, 1, e_v4_version5, BAD_HEADER),
	C("v4 ihl 4", false, 0, e_v4_ihl4, BAD_HEADER),
	C("v4 ihl 0", false, 0, e_v4_ihl0, BAD_HEADER),
	C("v6 version 4 in an ipv6 ethertype", true, 0, e_v6_version4, BAD_HEADER),
	C("v6 hop-by-hop not first", true, 0, e_v6_hbh_second, BAD_HEADER),
	C("v6 too many extension headers", true, 0, e_v6_ext_over, BAD_HEADER),
	/* BAD_LENGTH */
	C("runt: 13 bytes", false, 0, e_short_eth, BAD_LENGTH),
	C("vlan tag cut", false, 1, e_vlan_cut, BAD_LENGTH),
	C("v4 ihl past the frame", false, 0, e_v4_ihl_past, BAD_LENGTH),
	C("v4 total length past the frame", false, 0, e_v4_total_long, BAD_LENGTH),
	C("v4 total length under ihl", false, 2, e_v4_total_lt_ihl, BAD_LENGTH),
	C("v4 total length = ihl: no udp", false, 0, e_v4_total_eq_ihl, BAD_LENGTH),
	C("v4 udp header cut by ip length", false, 0, e_v4_udp_cut, BAD_LENGTH),
	C("v4 udp length 7", false, 0, e_udp_len7, BAD_LENGTH),
	C("v4 udp length 0", false, 1, e_udp_len0, BAD_LENGTH),
	C("v4 udp length past ip", false, 0, e_udp_len_long, BAD_LENGTH),
	C("v6 udp length 0 (jumbogram)", true, 0, e_udp_len0, BAD_LENGTH),
	C("v6 udp length past ip", true, 1, e_udp_len_long, BAD_LENGTH),
	C("v6 payload length past the frame", true, 0, e_v6_plen_long, BAD_LENGTH),
	C("v6 payload length 0", true, 0, e_v6_plen_zero, BAD_LENGTH),
	C("v6 extension header past the payload", true, 0, e_v6_ext_past, BAD_LENGTH),
	C("v6 extension header cut", true, 0, e_v6_ext_short, BAD_LENGTH),
	/* checksums: only with DP_PKT_VERIFY_CSUM */
	CK("v4 bad ip checksum", false, 0, p_ip_csum, BAD_HEADER),
	CK("v4 bad udp data", false, 1, p_udp_data, BAD_HEADER),
	CK("v4 bad udp checksum", false, 0, p_udp_csum, BAD_HEADER),
	CK("v4 udp checksum 0: none", false, 0, p_udp_csum0, OK),
	CK("v6 bad udp data", true, 0, p_udp_data, BAD_HEADER),
	CK("v6 bad udp checksum", true, 2, p_udp_csum, BAD_HEADER),
	CK("v6 udp checksum 0", true, 0, p_udp_csum0, BAD_HEADER),
	CK("v6 pseudo-header address", true, 0, p_udp_addr, BAD_HEADER),
};

/* Where the IP datagram ends (IP length), for a frame that parses. */
static size_t ip_end(const struct fr *f)
{
	const uint8_t *ip = f->b + f->l3;
	return f->v6 ? f->l3 + 40u + get16(ip + 4) : f->l3 + (size_t)get16(ip + 2);
}

static void check_ok(const struct pcase *c, const struct fr *f, const struct dp_pkt *p)
{
	assert_int_equal(p->ip_version, f->v6 ? 6 : 4);
	assert_int_equal(p->nvlan, f->nvlan);
	for (uint32_t i = 0; i < p->nvlan; i++)
		assert_int_equal(p->vlan_tci[i], i == 0 ? 0x0064 : 0x2fff);
	assert_int_equal(p->l3_off, f->l3);
	assert_int_equal(p->l4_off, f->l4);
	assert_int_equal(p->src_port, 40000);
	assert_int_equal(p->dst_port, 8125);
	assert_memory_equal(p->src_addr, f->v6 ? src6 : src4, 16);
	if (c->post != p_udp_addr)
		assert_memory_equal(p->dst_addr, f->v6 ? dst6 : dst4, 16);
	assert_ptr_equal(p->payload, f->b + f->l4 + 8);
	assert_int_equal(p->payload_len, f->plen);
	if (c->post != p_udp_data)
		assert_memory_equal(p->payload, payload, f->plen);
}

/* Parse a copy of frame[len] in an exact-size heap buffer (ASan sees over-reads). */
static enum dp_pkt_status parse_exact(const uint8_t *frame, size_t len, uint32_t flags,
				      struct dp_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, frame, len);
	enum dp_pkt_status st = dp_pkt_parse(len ? copy : NULL, len, flags, p);
	free(copy);
	return st;
}

/* Every prefix of f: in range; for a frame that parses, BAD_LENGTH before the IP end. */
static void check_prefixes(const struct pcase *c, const struct fr *f, uint32_t flags,
			   enum dp_pkt_status whole)
{
	size_t end = whole == DP_PKT_OK ? ip_end(f) : 0;
	for (size_t n = 0; n < f->len; n++) {
		struct dp_pkt p;
		enum dp_pkt_status st = parse_exact(f->b, n, flags, &p);
		assert_true((unsigned)st < DP_PKT__COUNT);
		if (whole != DP_PKT_OK)
			continue;
		if (st != (n < end ? DP_PKT_BAD_LENGTH : DP_PKT_OK))
			fail_msg("%s cut to %zu bytes: %s", c->name, n, dp_pkt_status_name(st));
	}
}

static void run_case(const struct pcase *c, bool verify)
{
	struct fr f;
	struct dp_pkt p;
	build(&f, c->v6, c->nvlan);
	c->edit(&f);
	uint32_t flags = verify ? DP_PKT_VERIFY_CSUM : 0;
	if (verify)
		fix_csums(&f);
	if (c->post)
		c->post(&f);
	enum dp_pkt_status want = verify ? c->want_verify : c->want;
	enum dp_pkt_status st = dp_pkt_parse(f.b, f.len, flags, &p);
	if (st != want)
		fail_msg("%s%s: got %s, want %s", c->name, verify ? " (verify)" : "",
			 dp_pkt_status_name(st), dp_pkt_status_name(want));
	if (st == DP_PKT_OK)
		check_ok(c, &f, &p);
	check_prefixes(c, &f, flags, st);
}

static void test_dp_pkt__case_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		run_case(&cases[i], false);
		run_case(&cases[i], true);
	}
}

/* Every status is reached by the table, and maps to the drop cause of the same name. */
static void test_dp_pkt__statuses_and_causes(void **state)
{
	(void)state;
	/* spelled out: the names come from the drop causes, so this pins the mapping */
	static const char *const names[DP_PKT__COUNT] = {"ok", "not_ip", "not_udp", "fragment",
							 "bad_header", "bad_length"};
	bool seen[DP_PKT__COUNT] = {0};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		seen[cases[i].want] = true;
		seen[cases[i].want_verify] = true;
	}
	for (int s = 0; s < DP_PKT__COUNT; s++) {
		assert_true(seen[s]);
		assert_string_equal(dp_pkt_status_name((enum dp_pkt_status)s), names[s]);
		enum dp_rx_drop d = dp_pkt_drop_cause((enum dp_pkt_status)s);
		if (s == DP_PKT_OK) {
			assert_int_equal(d, DP_RXD__COUNT);
			assert_string_equal(dp_pkt_status_name(DP_PKT_OK), "ok");
			continue;
		}
		assert_true(d < DP_RXD__COUNT);
		assert_string_equal(dp_pkt_status_name((enum dp_pkt_status)s), dp_rx_drop_name(d));
		for (int t = 1; t < s; t++)
			assert_int_not_equal(dp_pkt_drop_cause((enum dp_pkt_status)t), d);
	}
	assert_string_equal(dp_pkt_status_name(DP_PKT__COUNT), "unknown");
	assert_int_equal(dp_pkt_drop_cause(DP_PKT__COUNT), DP_RXD__COUNT);
}

/*
 * The textbook IPv4 header (checksum 0xb861) carrying UDP with no checksum,
 * and a frame of only zeros, byte by byte.
 */
static void test_dp_pkt__hand_made_frames(void **state)
{
	(void)state;
	static const uint8_t hdr[] = {
		0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c, 0x00, 0x1b, 0x21, 0x00, 0x00, 0x01, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
		0x00, 0x35, 0x1f, 0x99, 0x00, 0x5f, 0x00, 0x00,
	};
	uint8_t frame[14 + 0x73];
	memset(frame, 'x', sizeof(frame));
	memcpy(frame, hdr, sizeof(hdr));
	assert_int_equal(dp_pkt_inet_csum(frame + 14, 20), 0);
	struct dp_pkt p;
	assert_int_equal(dp_pkt_parse(frame, sizeof(frame), DP_PKT_VERIFY_CSUM, &p), DP_PKT_OK);
	static const uint8_t want_src[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1};
	static const uint8_t want_dst[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 199};
	assert_memory_equal(p.src_addr, want_src, 16);
	assert_memory_equal(p.dst_addr, want_dst, 16);
	assert_int_equal(p.src_port, 53);
	assert_int_equal(p.dst_port, 8089);
	assert_ptr_equal(p.payload, frame + 42);
	assert_int_equal(p.payload_len, 0x5f - 8);
	frame[14 + 10] ^= 1;
	assert_int_equal(dp_pkt_parse(frame, sizeof(frame), DP_PKT_VERIFY_CSUM, &p),
			 DP_PKT_BAD_HEADER);
	assert_int_equal(dp_pkt_parse(frame, sizeof(frame), 0, &p), DP_PKT_OK);

	uint8_t zeros[60] = {0};
	assert_int_equal(dp_pkt_parse(zeros, sizeof(zeros), 0, &p), DP_PKT_NOT_IP);
	assert_int_equal(dp_pkt_parse(NULL, 0, 0, &p), DP_PKT_BAD_LENGTH);
}

/* The IGMPv2 report, byte for byte, with checksums computed outside dp_pkt.c. */
static void test_dp_pkt__igmp_report(void **state)
{
	(void)state;
	static const uint8_t want[60] = {
		0x01, 0x00, 0x5e, 0x01, 0x02, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
		0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xe9, 0x12,
		0x0a, 0x00, 0x00, 0x01, 0xef, 0x01, 0x02, 0x03, 0x94, 0x04, 0x00, 0x00,
		0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03,
	};
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint32_t src, group, group_hi;
	memcpy(&src, (const uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(&group, (const uint8_t[]){239, 1, 2, 3}, 4);
	memcpy(&group_hi, (const uint8_t[]){239, 129, 2, 3}, 4);
	uint8_t buf[128];
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(dp_pkt_igmp_report(buf, sizeof(buf), mac, src, group),
			 DP_PKT_IGMP_REPORT_BYTES);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[60], 0xaa);
	assert_int_equal(dp_pkt_inet_csum(buf + 14, 24), 0);
	assert_int_equal(dp_pkt_inet_csum(buf + 38, 8), 0);
	/* our own report is not for us */
	struct dp_pkt p;
	assert_int_equal(dp_pkt_parse(buf, 60, DP_PKT_VERIFY_CSUM, &p), DP_PKT_NOT_UDP);
	assert_int_equal(dp_pkt_igmp_report(buf, 59, mac, src, group), 0);

	uint8_t m[6];
	dp_pkt_mcast_mac(group_hi, m);  /* the 24th bit of the group does not reach the MAC */
	assert_memory_equal(m, want, 6);
}

static void test_dp_pkt__builder_limits(void **state)
{
	(void)state;
	static uint8_t big[70000], buf[70100];
	struct dp_pkt_udp_spec s = {.payload = big, .dst_port = 1};
	struct dp_pkt p;
	s.payload_len = 65535 - 28;  /* the largest IPv4 datagram */
	size_t n = dp_pkt_build_udp(buf, sizeof(buf), &s);
	assert_int_equal(n, 14 + 65535);
	assert_int_equal(dp_pkt_parse(buf, n, DP_PKT_VERIFY_CSUM, &p), DP_PKT_OK);
	assert_int_equal(p.payload_len, 65535 - 28);
	s.payload_len++;
	assert_int_equal(dp_pkt_build_udp(buf, sizeof(buf), &s), 0);
	s.ipv6 = true;  /* IPv6 counts the payload length after its header */
	n = dp_pkt_build_udp(buf, sizeof(buf), &s);
	assert_int_equal(n, 14 + 40 + 8 + 65535 - 28 + 1);
	assert_int_equal(dp_pkt_parse(buf, n, DP_PKT_VERIFY_CSUM, &p), DP_PKT_OK);
	s.payload_len = 8;
	assert_int_equal(dp_pkt_build_udp(buf, 14 + 40 + 8 + 7, &s), 0);
	assert_int_equal(dp_pkt_build_udp(buf, 14 + 40 + 8 + 8, &s), 14 + 40 + 16);
	s.nvlan = 3;
	assert_int_equal(dp_pkt_build_udp(buf, sizeof(buf), &s), 0);
}

static void test_dp_pkt__addresses(void **state)
{
	(void)state;
	uint8_t a[16];
	uint32_t ip;
	memcpy(&ip, (const uint8_t[]){10, 1, 2, 3}, 4);
	dp_pkt_addr_v4mapped(ip, a);
	assert_memory_equal(a, src4, 16);
	assert_true(dp_pkt_addr_is_v4mapped(a));
	assert_false(dp_pkt_addr_is_v4mapped(src6));
	/* RFC 1071's example: words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d */
	static const uint8_t words[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(dp_pkt_inet_csum(words, sizeof(words)), 0x220d);
	static const uint8_t odd[] = {0x01};
	assert_int_equal(dp_pkt_inet_csum(odd, 1), (uint16_t)~0x0100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_pkt__case_table),
		cmocka_unit_test(test_dp_pkt__statuses_and_causes),
		cmocka_unit_test(test_dp_pkt__hand_made_frames),
		cmocka_unit_test(test_dp_pkt__igmp_report),
		cmocka_unit_test(test_dp_pkt__builder_limits),
		cmocka_unit_test(test_dp_pkt__addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
