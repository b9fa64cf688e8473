/*
 * test_dp_dpdk.c - tests for dataplane/dp_dpdk.c, the DPDK receive backend,
 * on virtual devices: no NIC and no hugepages needed.
 *
 * The test writes classic pcap files of frames it builds (datagrams for
 * each UDP listener over IPv4, IPv6, one and two VLAN tags, multicast, and
 * one frame per drop cause), and starts the backend on two net_pcap ports:
 * port 0 with two RX queues (one file each, so worker 0 and worker 1 each
 * poll one) and port 1 with one (so only worker 0 polls it). Two worker
 * threads attach and poll until every frame is accounted for. Then every
 * delivered message is checked byte for byte against the frame it came
 * from, every drop by cause, packets == messages + drops, and the IGMP
 * reports the ports sent (net_pcap writes them to tx_pcap files) byte for
 * byte.
 *
 * The EAL can be initialised once per process, so one cmocka group's setup
 * creates the backend and runs the workers, and its cases check what was
 * recorded; a first group tests the configuration without the EAL. When
 * the EAL cannot start on this machine the test exits 77 (SKIP).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_config.h"
#include "dp_dpdk.h"
#include "dp_pkt.h"
#include "dp_rx.h"

#define NWORKERS 2u
#define NFILES 3  /* port 0 queue 0, port 0 queue 1, port 1 queue 0 */
#define GOT_MAX 64u
#define GOT_BYTES 256u

/*
 * LeakSanitizer (the sanitizer build): DPDK 22.11's rte_eal_init copies argv
 * for telemetry (eal_save_args) before parsing it and does not free the copy
 * when parsing fails, as the bogus-option case below makes it. That leak is
 * the EAL's; allocations of ours never have librte_eal on their stack.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:librte_eal.so\n";
}

/* ------------------------------------------------------------------------ */
/* The frames                                                                */
/* ------------------------------------------------------------------------ */

enum edit {
	E_NONE = 0,
	E_ARP,
	E_LLDP,
	E_TCP,
	E_FRAG4,
	E_FRAG6,
	E_BAD_IHL,
	E_BAD_CSUM,
	E_UDP_LONG,
	E_JUMBO,
	E_PAD,
	E_EMPTY,
};

#define DROP (-1)

struct tframe {
	int file;             /* which pcap: see NFILES */
	bool v6;
	uint8_t nvlan;
	const char *dst;      /* destination address */
	uint16_t dport;
	enum edit edit;
	int proto;            /* enum dp_proto delivered, or DROP */
	enum dp_rx_drop drop;
};

static const struct tframe frames[] = {
	/* file 0: port 0, queue 0, worker 0 */
	{0, false, 0, "10.0.0.1", 8125, E_NONE, DP_PROTO_STATSD, 0},
	{0, false, 0, "10.0.0.1", 8089, E_NONE, DP_PROTO_LINE, 0},
	{0, false, 0, "10.0.0.1", 7100, E_NONE, DP_PROTO_BINARY, 0},
	{0, false, 1, "10.0.0.1", 8125, E_NONE, DP_PROTO_STATSD, 0},
	{0, true, 0, "fd00::1", 8089, E_NONE, DP_PROTO_LINE, 0},
	{0, true, 2, "fd00::1", 7100, E_NONE, DP_PROTO_BINARY, 0},
	{0, false, 0, "10.0.0.1", 8125, E_ARP, DROP, DP_RXD_NOT_IP},
	{0, false, 0, "10.0.0.1", 8125, E_TCP, DROP, DP_RXD_NOT_UDP},
	{0, false, 0, "10.0.0.1", 9999, E_NONE, DROP, DP_RXD_UNKNOWN_PORT},
	{0, false, 0, "10.0.0.1", 8094, E_NONE, DROP, DP_RXD_UNKNOWN_PORT},  /* the TCP port */
	{0, false, 0, "10.0.0.1", 8125, E_FRAG4, DROP, DP_RXD_FRAGMENT},
	{0, true, 0, "fd00::1", 8125, E_FRAG6, DROP, DP_RXD_FRAGMENT},
	{0, false, 0, "10.0.0.1", 8125, E_BAD_IHL, DROP, DP_RXD_BAD_HEADER},
	{0, false, 1, "10.0.0.1", 8125, E_BAD_CSUM, DROP, DP_RXD_BAD_HEADER},
	{0, false, 0, "10.0.0.1", 8125, E_UDP_LONG, DROP, DP_RXD_BAD_LENGTH},
	{0, false, 0, "10.0.0.1", 8125, E_JUMBO, DROP, DP_RXD_BAD_LENGTH},  /* two mbufs */
	{0, false, 0, "10.0.0.2", 8125, E_NONE, DROP, DP_RXD_DST_FILTERED},
	{0, false, 0, "239.1.2.3", 8125, E_NONE, DP_PROTO_STATSD, 0},       /* a joined group */
	{0, false, 0, "239.9.9.9", 8125, E_NONE, DROP, DP_RXD_DST_FILTERED},
	{0, false, 0, "10.0.0.1", 8125, E_PAD, DP_PROTO_STATSD, 0},
	{0, true, 1, "fd00::2", 8089, E_NONE, DROP, DP_RXD_DST_FILTERED},
	/* file 1: port 0, queue 1, worker 1 */
	{1, false, 0, "10.0.0.1", 8125, E_NONE, DP_PROTO_STATSD, 0},
	{1, true, 0, "fd00::1", 8089, E_NONE, DP_PROTO_LINE, 0},
	{1, false, 0, "10.0.0.1", 8125, E_LLDP, DROP, DP_RXD_NOT_IP},
	/* file 2: port 1, queue 0, worker 0 */
	{2, false, 2, "10.0.0.1", 7100, E_NONE, DP_PROTO_BINARY, 0},
	{2, false, 0, "10.0.0.1", 12345, E_NONE, DROP, DP_RXD_UNKNOWN_PORT},
	{2, false, 0, "10.0.0.1", 8089, E_EMPTY, DP_PROTO_LINE, 0},
};
#define NFRAMES ((uint32_t)CM_ARRAY_SIZE(frames))

static const char *const groups[] = {"239.1.2.3", "239.4.5.6"};
#define MCAST_SRC "10.0.0.1"

/* Frame i's payload: "fNN" first, so a message names its frame. */
static uint32_t payload_of(uint32_t i, uint8_t *buf, size_t cap)
{
	const struct tframe *t = &frames[i];
	if (t->edit == E_EMPTY)
		return 0;
	if (t->edit == E_JUMBO) {
		memset(buf, 'j', 3000);
		memcpy(buf, "f15", 3);
		return 3000;
	}
	int n = snprintf((char *)buf, cap, "f%02u:%s", i,
			 t->edit == E_PAD ? "1|c" : t->dport == 7100 ? "" : "load,host=h value=1 17\n");
	if (t->dport == 7100) {  /* binary: bytes that are not text */
		static const uint8_t bin[] = {0x00, 0xff, 0x10, 0x00, 0x7f, 0x80, 0x0a};
		memcpy(buf + n, bin, sizeof(bin));
		n += (int)sizeof(bin);
	}
	return (uint32_t)n;
}

static void src_of(uint32_t i, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (frames[i].v6) {
		addr[0] = 0xfd;
		addr[13] = 9;
		addr[15] = (uint8_t)i;
	} else {
		addr[10] = addr[11] = 0xff;
		addr[12] = 10;
		addr[13] = 9;
		addr[15] = (uint8_t)i;
	}
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ip4_fix(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, dp_pkt_inet_csum(ip, (ip[0] & 15u) * 4));
}

static size_t build_frame(uint32_t i, uint8_t *buf, size_t cap)
{
	const struct tframe *t = &frames[i];
	static uint8_t pl[4096];
	struct dp_pkt_udp_spec s = {
		.dst_mac = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03},
		.src_mac = {0x02, 0, 0, 0, 0x09, (uint8_t)i},
		.nvlan = t->nvlan,
		.vlan_tci = {10, 20},
		.ipv6 = t->v6,
		.src_port = (uint16_t)(20000 + i),
		.dst_port = t->dport,
		.payload = pl,
		.payload_len = payload_of(i, pl, sizeof(pl)),
	};
	src_of(i, s.src_addr);
	if (t->v6) {
		assert_int_equal(inet_pton(AF_INET6, t->dst, s.dst_addr), 1);
	} else {
		uint32_t a;
		assert_int_equal(inet_pton(AF_INET, t->dst, &a), 1);
		dp_pkt_addr_v4mapped(a, s.dst_addr);
	}
	size_t n = dp_pkt_build_udp(buf, cap, &s);
	assert_true(n > 0);
	uint32_t l3 = 14u + 4u * t->nvlan;
	uint8_t *ip = buf + l3;
	switch (t->edit) {
	case E_ARP: put16(ip - 2, DP_PKT_ETH_ARP); break;
	case E_LLDP: put16(ip - 2, 0x88cc); break;
	case E_TCP: ip[9] = DP_PKT_IP_TCP; ip4_fix(ip); break;
	case E_FRAG4: put16(ip + 6, 0x2000); ip4_fix(ip); break;
	case E_BAD_IHL: ip[0] = 0x44; break;
	case E_BAD_CSUM: buf[n - 1] ^= 0x01; break;
	case E_UDP_LONG: put16(ip + 20 + 4, s.payload_len + 8 + 1); break;
	case E_FRAG6: {
		static const uint8_t frag[8] = {DP_PKT_IP_UDP, 0, 0x00, 0x01, 0, 0, 0, 7};
		memmove(ip + 48, ip + 40, n - l3 - 40);
		memcpy(ip + 40, frag, 8);
		ip[6] = DP_PKT_IP_FRAGMENT;
		put16(ip + 4, (uint32_t)(n - l3 - 40 + 8));
		n += 8;
		break;
	}
	case E_PAD:
		assert_true(n < 60);
		memset(buf + n, 0, 60 - n);
		n = 60;
		break;
	default: break;
	}
	return n;
}

/* ------------------------------------------------------------------------ */
/* pcap files                                                                */
/* ------------------------------------------------------------------------ */

static char dir[64];
static char rx_path[NFILES][128];
static char tx_path[2][128];

static void pcap_write(const char *path, int file)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	/* classic pcap: magic, 2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET */
	uint32_t gh[6] = {0xa1b2c3d4, 2u | 4u << 16, 0, 0, 65535, 1};
	assert_int_equal(fwrite(gh, sizeof(gh), 1, f), 1);
	static uint8_t buf[8192];
	for (uint32_t i = 0; i < NFRAMES; i++) {
		if (frames[i].file != file)
			continue;
		uint32_t n = (uint32_t)build_frame(i, buf, sizeof(buf));
		uint32_t rh[4] = {1700000000u + i, 0, n, n};
		assert_int_equal(fwrite(rh, sizeof(rh), 1, f), 1);
		assert_int_equal(fwrite(buf, n, 1, f), 1);
	}
	assert_int_equal(fclose(f), 0);
}

/* Read up to max frames of a pcap file into bufs[i][cap]. Returns how many. */
static uint32_t pcap_read(const char *path, uint8_t (*bufs)[128], uint32_t *lens, uint32_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	uint32_t gh[6], rh[4], n = 0;
	/* net_pcap writes nanosecond timestamps: magic a1b23c4d */
	if (fread(gh, sizeof(gh), 1, f) == 1 && (gh[0] == 0xa1b2c3d4 || gh[0] == 0xa1b23c4d))
		while (n < max && fread(rh, sizeof(rh), 1, f) == 1 && rh[2] <= 128 &&
		       fread(bufs[n], rh[2], 1, f) == 1)
			lens[n++] = rh[2];
	fclose(f);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */

struct got {
	uint8_t proto, flags;
	uint16_t src_port;
	uint8_t src_addr[16];
	int64_t unit_ns;
	uint32_t len;
	uint8_t buf[GOT_BYTES];
};

/* One worker thread's record; written by it, read by main after join. */
struct wrec {
	uint32_t w;
	int attach_rc;
	struct got got[GOT_MAX];
	uint32_t ngot;
	uint32_t calls;
	bool bad_call;           /* n == 0, too many messages, or a payload too long */
	uint64_t idle_wait_ns;   /* mean of ops->wait after the queues ran dry */
};

static struct dp_backend *backend;
static struct wrec wrecs[NWORKERS];
static _Atomic bool stop;
static struct dp_rx_stats stats;
static bool eal_skipped;
static bool affinity_kept;
static char create_err[512];

static void collect(void *ctx, const struct dp_rx_msg *msgs, uint32_t n)
{
	struct wrec *r = ctx;
	r->calls++;
	if (n == 0)
		r->bad_call = true;
	for (uint32_t i = 0; i < n; i++) {
		if (r->ngot == GOT_MAX || msgs[i].len > GOT_BYTES) {
			r->bad_call = true;
			continue;
		}
		struct got *g = &r->got[r->ngot++];
		g->proto = msgs[i].proto;
		g->flags = msgs[i].flags;
		g->src_port = msgs[i].src_port;
		memcpy(g->src_addr, msgs[i].src_addr, 16);
		g->unit_ns = msgs[i].unit_ns;
		g->len = msgs[i].len;
		memcpy(g->buf, msgs[i].buf, msgs[i].len);
	}
}

static void *worker(void *arg)
{
	struct wrec *r = arg;
	const struct dp_backend_ops *ops = backend->ops;
	r->attach_rc = ops->attach(backend, r->w);
	if (r->attach_rc)
		return NULL;
	while (!atomic_load_explicit(&stop, memory_order_acquire))
		if (ops->poll(backend, r->w, collect, r) == 0)
			ops->wait(backend, r->w, CM_NS_PER_MS);
	/* dry: after DP_DPDK_SPIN_POLLS empty polls, wait sleeps about dpdk.idle_sleep_us */
	for (uint32_t i = 0; i <= DP_DPDK_SPIN_POLLS; i++)
		ops->poll(backend, r->w, collect, r);
	int64_t t0 = cm_mono_ns();
	for (int i = 0; i < 20; i++)
		ops->wait(backend, r->w, 10 * CM_NS_PER_MS);
	r->idle_wait_ns = (uint64_t)(cm_mono_ns() - t0) / 20;
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Config (no EAL)                                                           */
/* ------------------------------------------------------------------------ */

static struct cm_config *config_new(const char *const *pairs, size_t n)
{
	static const struct cm_cfg_table *const tables[] = {&dp_rx_cfg_table, &dp_dpdk_cfg_table};
	struct cm_config *c;
	char err[256];
	assert_int_equal(cm_config_create(tables, 2, &c, err, sizeof(err)), 0);
	if (n)
		assert_int_equal(cm_config_set_batch(c, pairs, n, err, sizeof(err)), 0);
	return c;
}

static void test_dp_dpdk__cfg_defaults(void **state)
{
	(void)state;
	struct cm_config *c = config_new(NULL, 0);
	struct dp_dpdk_cfg a, b;
	char err[256];
	assert_int_equal(dp_dpdk_cfg_from(c, &a, err, sizeof(err)), 0);
	dp_dpdk_cfg_default(&b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_true(a.all_ports);
	assert_int_equal(a.rx_desc, 1024);
	assert_int_equal(a.mbufs, 8191);
	assert_int_equal(a.mbuf_cache, 256);
	assert_int_equal(a.burst, 32);
	assert_int_equal(a.naccept, 0);
	assert_true(a.promiscuous);
	assert_int_equal(a.idle_sleep_us, 50);
	assert_false(a.verify_checksum);
	assert_string_equal(a.eal_args, "");
	cm_config_destroy(c);
}

static void test_dp_dpdk__cfg_lists(void **state)
{
	(void)state;
	const char *const pairs[] = {"dpdk.ports=1, 0,3", "dpdk.accept_dst=10.0.0.1,fd00::1 ::ffff:1.2.3.4",
				     "dpdk.eal_args=--no-huge  -m 256", "dpdk.idle_sleep_us=0"};
	struct cm_config *c = config_new(pairs, CM_ARRAY_SIZE(pairs));
	struct dp_dpdk_cfg a;
	char err[256];
	assert_int_equal(dp_dpdk_cfg_from(c, &a, err, sizeof(err)), 0);
	assert_false(a.all_ports);
	assert_int_equal(a.nports, 3);
	assert_int_equal(a.ports[0], 1);
	assert_int_equal(a.ports[1], 0);
	assert_int_equal(a.ports[2], 3);
	assert_int_equal(a.naccept, 3);
	static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
	static const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
	assert_memory_equal(a.accept[0], v4, 16);
	assert_memory_equal(a.accept[1], v6, 16);
	assert_memory_equal(a.accept[2], m, 16);
	assert_string_equal(a.eal_args, "--no-huge  -m 256");
	assert_int_equal(a.idle_sleep_us, 0);
	cm_config_destroy(c);
}

static void test_dp_dpdk__cfg_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *pair;
		const char *err;
	} bad[] = {
		{"dpdk.ports=x", "dpdk.ports: 'x' is not a port id"},
		{"dpdk.ports=32", "dpdk.ports: '32' is not a port id"},
		{"dpdk.ports=1,1", "dpdk.ports: port 1 listed twice"},
		{"dpdk.ports=,", "dpdk.ports: ',' names no port"},
		{"dpdk.accept_dst=10.0.0.256", "dpdk.accept_dst: '10.0.0.256' is not an IPv4 or IPv6"},
		{"dpdk.accept_dst=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "dpdk.accept_dst: '1'"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(bad); i++) {
		const char *pairs[2] = {bad[i].pair, "dpdk.mbufs=1023"};
		struct cm_config *c = config_new(pairs, 2);
		struct dp_dpdk_cfg a;
		char err[256] = "";
		assert_int_equal(dp_dpdk_cfg_from(c, &a, err, sizeof(err)), -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%s: err '%s', want '%s...'", bad[i].pair, err, bad[i].err);
		cm_config_destroy(c);
	}
	/* 16 addresses are fine, the 17th is not */
	const char *const pairs[] = {"dpdk.accept_dst=::1,::2,::3,::4,::5,::6,::7,::8,::9,::a,::b,::c,::d,::e,::f,::10,::11"};
	struct cm_config *c = config_new(pairs, 1);
	struct dp_dpdk_cfg a;
	char err[256];
	assert_int_equal(dp_dpdk_cfg_from(c, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dpdk.accept_dst: more than 16 addresses");
	cm_config_destroy(c);
}

/* What create refuses before it touches the EAL. */
static void test_dp_dpdk__create_refuses(void **state)
{
	(void)state;
	struct cm_config *c = config_new(NULL, 0);
	struct dp_rx_cfg rx;
	struct dp_dpdk_cfg d;
	struct dp_backend dummy, *b = &dummy;
	char err[256];
	assert_int_equal(dp_rx_cfg_from(c, &rx, err, sizeof(err)), 0);
	dp_dpdk_cfg_default(&d);

	assert_int_equal(dp_dpdk_create(&rx, &d, 0, 0, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	assert_string_equal(err, "dpdk: 0 workers, want 1..128");

	char *help[] = {(char *)"--no-huge", (char *)"--help"};
	assert_int_equal(dp_dpdk_create(&rx, &d, 1, 2, help, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dpdk eal init failed: '--help' would exit the process");

	struct dp_rx_cfg tcp_only = rx;
	tcp_only.listen[DP_LISTEN_STATSD_UDP].enabled = false;
	tcp_only.listen[DP_LISTEN_LINE_UDP].enabled = false;
	tcp_only.listen[DP_LISTEN_BINARY_UDP].enabled = false;
	assert_int_equal(dp_dpdk_create(&tcp_only, &d, 1, 0, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no UDP listener enabled"));
	cm_config_destroy(c);
}

/* ------------------------------------------------------------------------ */
/* The EAL group                                                             */
/* ------------------------------------------------------------------------ */

static void remove_files(void)
{
	for (int f = 0; f < NFILES; f++)
		unlink(rx_path[f]);
	for (int p = 0; p < 2; p++)
		unlink(tx_path[p]);
	if (dir[0])
		rmdir(dir);
}

static int eal_setup_files_and_run(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sf_test_dpdk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int f = 0; f < NFILES; f++) {
		snprintf(rx_path[f], sizeof(rx_path[f]), "%s/rx%d.pcap", dir, f);
		pcap_write(rx_path[f], f);
	}
	for (int p = 0; p < 2; p++)
		snprintf(tx_path[p], sizeof(tx_path[p]), "%s/tx%d.pcap", dir, p);

	char eal[256], groups_kv[128];
	snprintf(eal, sizeof(eal),
		 "dpdk.eal_args=--no-huge --no-pci --no-shconf --no-telemetry -m 256 "
		 "--file-prefix=sf_test_dpdk_%d --log-level=*:warning", (int)getpid());
	snprintf(groups_kv, sizeof(groups_kv), "dataplane.multicast_groups=%s,%s", groups[0], groups[1]);
	const char *const pairs[] = {
		eal, groups_kv, "dataplane.multicast_iface=" MCAST_SRC,
		"dpdk.accept_dst=10.0.0.1,fd00::1", "dpdk.verify_checksum=true",
		"line.udp_precision=ms", "dpdk.rx_desc=256", "dpdk.mbufs=2047", "dpdk.mbuf_cache=64",
	};
	struct cm_config *c = config_new(pairs, CM_ARRAY_SIZE(pairs));
	struct dp_rx_cfg rx;
	struct dp_dpdk_cfg d;
	char err[512];
	assert_int_equal(dp_rx_cfg_from(c, &rx, err, sizeof(err)), 0);
	assert_int_equal(dp_dpdk_cfg_from(c, &d, err, sizeof(err)), 0);
	cm_config_destroy(c);

	/* An EAL option the EAL refuses: a clear error, and the process goes on. */
	struct dp_dpdk_cfg bogus = d;
	snprintf(bogus.eal_args, sizeof(bogus.eal_args), "--no-huge --no-such-eal-option");
	int rc = dp_dpdk_create(&rx, &bogus, NWORKERS, 0, NULL, &backend, err, sizeof(err));
	if (rc != -EINVAL || strncmp(err, "dpdk eal init failed: ", 22) != 0 || backend) {
		fprintf(stderr, "bogus eal option: rc %d err '%s'\n", rc, err);
		return -1;
	}

	char vdev0[512], vdev1[512];
	snprintf(vdev0, sizeof(vdev0), "--vdev=net_pcap0,rx_pcap=%s,rx_pcap=%s,tx_pcap=%s",
		 rx_path[0], rx_path[1], tx_path[0]);
	snprintf(vdev1, sizeof(vdev1), "--vdev=net_pcap1,rx_pcap=%s,tx_pcap=%s", rx_path[2],
		 tx_path[1]);
	char *argv[] = {vdev0, vdev1};
	cpu_set_t before, after;
	pthread_getaffinity_np(pthread_self(), sizeof(before), &before);
	rc = dp_dpdk_create(&rx, &d, NWORKERS, 2, argv, &backend, create_err, sizeof(create_err));
	pthread_getaffinity_np(pthread_self(), sizeof(after), &after);
	affinity_kept = CPU_EQUAL(&before, &after);
	if (rc) {
		fprintf(stderr, "dp_dpdk_create: %d %s\n", rc, create_err);
		eal_skipped = strncmp(create_err, "dpdk eal init failed", 20) == 0;
		return -1;
	}

	pthread_t th[NWORKERS];
	for (uint32_t w = 0; w < NWORKERS; w++) {
		wrecs[w].w = w;
		if (pthread_create(&th[w], NULL, worker, &wrecs[w]))
			return -1;
	}
	/* until every frame is counted and every report sent, 20 s at most */
	int64_t deadline = cm_mono_ns() + 20 * CM_NS_PER_SEC;
	for (;;) {
		memset(&stats, 0, sizeof(stats));
		backend->ops->stats_read(backend, &stats);
		if ((stats.packets == NFRAMES && stats.igmp_sent == 2 * CM_ARRAY_SIZE(groups)) ||
		    cm_mono_ns() > deadline)
			break;
		cm_sleep_ns(CM_NS_PER_MS);
	}
	cm_sleep_ns(20 * CM_NS_PER_MS);  /* anything extra would show up now */
	atomic_store_explicit(&stop, true, memory_order_release);
	for (uint32_t w = 0; w < NWORKERS; w++)
		pthread_join(th[w], NULL);
	memset(&stats, 0, sizeof(stats));
	backend->ops->stats_read(backend, &stats);
	return 0;
}

/* cmocka does not call the teardown when the setup fails: clean up here then. */
static int eal_setup(void **state)
{
	(void)state;
	int rc = eal_setup_files_and_run();
	if (rc)
		remove_files();
	return rc;
}

static int eal_teardown(void **state)
{
	(void)state;
	if (backend)
		backend->ops->destroy(backend);
	backend = NULL;
	remove_files();
	return 0;
}

/* Every message is the frame it names, byte for byte, on the worker that polls its queue. */
static void test_dp_dpdk__delivers_byte_for_byte(void **state)
{
	(void)state;
	bool seen[NFRAMES] = {0};
	uint32_t want_msgs = 0;
	for (uint32_t i = 0; i < NFRAMES; i++)
		want_msgs += frames[i].proto != DROP;
	uint32_t total = 0;
	for (uint32_t w = 0; w < NWORKERS; w++) {
		const struct wrec *r = &wrecs[w];
		assert_int_equal(r->attach_rc, 0);
		assert_false(r->bad_call);
		assert_true(r->calls >= 1 && r->calls <= r->ngot);
		total += r->ngot;
		for (uint32_t k = 0; k < r->ngot; k++) {
			const struct got *g = &r->got[k];
			uint32_t i = NFRAMES;
			if (g->len == 0) {
				for (i = 0; i < NFRAMES && frames[i].edit != E_EMPTY; i++)
					;
			} else {
				assert_true(g->len >= 3 && g->buf[0] == 'f');
				i = (uint32_t)(g->buf[1] - '0') * 10 + (uint32_t)(g->buf[2] - '0');
			}
			assert_true(i < NFRAMES);
			const struct tframe *t = &frames[i];
			if (t->proto == DROP)
				fail_msg("frame %u was delivered, want drop %s", i, dp_rx_drop_name(t->drop));
			assert_false(seen[i]);
			seen[i] = true;
			/* worker 1 polls only queue 1 of port 0 (file 1) */
			assert_int_equal(w, t->file == 1 ? 1u : 0u);
			uint8_t pl[4096], src[16];
			uint32_t n = payload_of(i, pl, sizeof(pl));
			src_of(i, src);
			assert_int_equal(g->proto, t->proto);
			assert_int_equal(g->flags, DP_RX_COMPLETE);
			assert_int_equal(g->len, n);
			assert_memory_equal(g->buf, pl, n);
			assert_int_equal(g->src_port, 20000 + i);
			assert_memory_equal(g->src_addr, src, 16);
			assert_int_equal(g->unit_ns, t->proto == DP_PROTO_LINE ? CM_NS_PER_MS : 1);
		}
	}
	assert_int_equal(total, want_msgs);
}

/* Every drop counted by cause; packets = messages + drops; per-protocol totals. */
static void test_dp_dpdk__counts_every_frame(void **state)
{
	(void)state;
	uint64_t drops[DP_RXD__COUNT] = {0}, msgs[DP_PROTO__COUNT] = {0}, bytes[DP_PROTO__COUNT] = {0};
	for (uint32_t i = 0; i < NFRAMES; i++) {
		if (frames[i].proto == DROP) {
			drops[frames[i].drop]++;
			continue;
		}
		uint8_t pl[4096];
		msgs[frames[i].proto]++;
		bytes[frames[i].proto] += payload_of(i, pl, sizeof(pl));
	}
	assert_int_equal(stats.packets, NFRAMES);
	uint64_t sum = 0;
	for (int p = 0; p < DP_PROTO__COUNT; p++) {
		assert_int_equal(stats.msgs[p], msgs[p]);
		assert_int_equal(stats.bytes[p], bytes[p]);
		sum += stats.msgs[p];
	}
	for (int d = 0; d < DP_RXD__COUNT; d++) {
		if (stats.drops[d] != drops[d])
			fail_msg("drops[%s] = %llu, want %llu", dp_rx_drop_name((enum dp_rx_drop)d),
				 (unsigned long long)stats.drops[d], (unsigned long long)drops[d]);
		sum += stats.drops[d];
	}
	assert_int_equal(stats.packets, sum);  /* the NIC_* drops are 0 here */
	assert_int_equal(dp_dpdk_numa_node(backend), -1);  /* virtual devices: no node */
}

/* One IGMPv2 report per group on each port, sent at worker 0's first poll. */
static void test_dp_dpdk__igmp_reports(void **state)
{
	(void)state;
	assert_int_equal(stats.igmp_sent, 2 * CM_ARRAY_SIZE(groups));
	uint32_t src;
	assert_int_equal(inet_pton(AF_INET, MCAST_SRC, &src), 1);
	for (uint16_t port = 0; port < 2; port++) {
		uint8_t got[8][128];
		uint32_t lens[8];
		uint32_t n = pcap_read(tx_path[port], got, lens, 8);
		assert_int_equal(n, CM_ARRAY_SIZE(groups));  /* and no second round within 60 s */
		struct rte_ether_addr mac;
		assert_int_equal(rte_eth_macaddr_get(port, &mac), 0);
		for (uint32_t g = 0; g < n; g++) {
			uint32_t group;
			uint8_t want[DP_PKT_IGMP_REPORT_BYTES];
			assert_int_equal(inet_pton(AF_INET, groups[g], &group), 1);
			dp_pkt_igmp_report(want, sizeof(want), mac.addr_bytes, src, group);
			assert_int_equal(lens[g], DP_PKT_IGMP_REPORT_BYTES);
			assert_memory_equal(got[g], want, sizeof(want));
			assert_memory_equal(got[g] + 6, mac.addr_bytes, 6);
			assert_int_equal(got[g][14 + 8], 1);     /* TTL */
			assert_int_equal(got[g][14 + 20], 0x94); /* Router Alert */
			assert_int_equal(dp_pkt_inet_csum(got[g] + 14, 24), 0);
			assert_int_equal(dp_pkt_inet_csum(got[g] + 38, 8), 0);
		}
	}
}

/* The EAL's main lcore is the calling thread on the cpus it had: create moves no thread. */
static void test_dp_dpdk__main_thread_stays(void **state)
{
	(void)state;
	assert_true(affinity_kept);
	assert_int_equal(rte_lcore_id(), 0);
	/* the main lcore and the workers registered by attach (their ids stay taken) */
	assert_int_equal(rte_lcore_count(), 1 + NWORKERS);
}

/* The EAL once per process: a second backend is refused, clearly. */
static void test_dp_dpdk__second_create_refused(void **state)
{
	(void)state;
	struct cm_config *c = config_new(NULL, 0);
	struct dp_rx_cfg rx;
	struct dp_dpdk_cfg d;
	struct dp_backend *b;
	char err[512];
	assert_int_equal(dp_rx_cfg_from(c, &rx, err, sizeof(err)), 0);
	dp_dpdk_cfg_default(&d);
	assert_int_equal(dp_dpdk_create(&rx, &d, 1, 0, NULL, &b, err, sizeof(err)), -EALREADY);
	assert_null(b);
	assert_non_null(strstr(err, "once per process"));
	cm_config_destroy(c);
}

/* Idle after the queues ran dry: wait sleeps about dpdk.idle_sleep_us, not max_ns. */
static void test_dp_dpdk__idle_wait(void **state)
{
	(void)state;
	for (uint32_t w = 0; w < NWORKERS; w++) {
		printf("worker %u: idle wait %.1f us (dpdk.idle_sleep_us 50, max_ns 10 ms)\n", w,
		       (double)wrecs[w].idle_wait_ns / 1e3);
		assert_true(wrecs[w].idle_wait_ns >= 40 * CM_NS_PER_US);
		assert_true(wrecs[w].idle_wait_ns < 5 * CM_NS_PER_MS);
	}
}

int main(void)
{
	const struct CMUnitTest cfg_tests[] = {
		cmocka_unit_test(test_dp_dpdk__cfg_defaults),
		cmocka_unit_test(test_dp_dpdk__cfg_lists),
		cmocka_unit_test(test_dp_dpdk__cfg_rejects),
		cmocka_unit_test(test_dp_dpdk__create_refuses),
	};
	const struct CMUnitTest eal_tests[] = {
		cmocka_unit_test(test_dp_dpdk__delivers_byte_for_byte),
		cmocka_unit_test(test_dp_dpdk__counts_every_frame),
		cmocka_unit_test(test_dp_dpdk__igmp_reports),
		cmocka_unit_test(test_dp_dpdk__main_thread_stays),
		cmocka_unit_test(test_dp_dpdk__second_create_refused),
		cmocka_unit_test(test_dp_dpdk__idle_wait),
	};
	int rc = cmocka_run_group_tests_name("config", cfg_tests, NULL, NULL);
	int rc2 = cmocka_run_group_tests_name("eal", eal_tests, eal_setup, eal_teardown);
	if (eal_skipped) {
		printf("SKIP: the EAL cannot start on this machine: %s\n", create_err);
		return rc ? rc : 77;
	}
	return rc || rc2;
}
