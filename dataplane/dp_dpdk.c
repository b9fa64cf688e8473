/*
 * dp_dpdk.c - the DPDK receive backend (API and behaviour in dp_dpdk.h):
 * EAL start-up, port and mempool set-up, the per-worker poll loop, IGMP
 * reports, counters.
 *
 * Why it looks like this: everything that can fail happens in
 * dp_dpdk_create on the main thread, in three passes over the ports (learn
 * each device's queues and descriptor limits; size and create one mempool
 * per NUMA node; configure and start), so a config that cannot work is
 * refused at start with a message that names the key to change. After
 * that, worker w touches only its own RX queues and its own state (struct
 * dpdk_worker, allocated by ops->attach on the worker's NUMA node), and the
 * poll path is rx_burst -> dp_pkt_parse -> listener -> callback -> free,
 * with no lock, allocation or syscall.
 *
 * rte_thread_register is still experimental API in DPDK 22.11 (stable
 * from 23.03), hence ALLOW_EXPERIMENTAL_API for this file only.
 *
 * Threads: as dp_dpdk.h.
 */
#define ALLOW_EXPERIMENTAL_API 1

#include "dp_dpdk.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "dp_pkt.h"

#define MOD "dpdk"
#define TX_DESC 128u                 /* the IGMP queue: a few reports a minute */
#define EAL_ARGV_MAX 128u
#define DELIVERED DP_RXD__COUNT      /* classify(): not a drop */
#define RSS_WANTED (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 | \
		    RTE_ETH_RSS_NONFRAG_IPV6_UDP)
#define RX_CSUM_WANTED (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)

static_assert(DP_DPDK_PORTS_MAX <= RTE_MAX_ETHPORTS, "port ids fit the EAL's table");
static_assert(DP_DPDK_BURST_MAX <= UINT16_MAX, "rx_burst takes a u16");

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

static const struct cm_cfg_key dpdk_keys[] = {
	{"dpdk.eal_args", CM_CFG_STR, "", 0, 0, NULL, false,
	 "EAL arguments, blank-separated (-a 0000:3b:00.0, --vdev=..., --file-prefix=...); "
	 "without -l/-c/--lcores the EAL gets one lcore on the main thread's cpus"},
	{"dpdk.ports", CM_CFG_STR, "all", 0, 0, NULL, false,
	 "DPDK port ids to receive on, comma-separated, or all"},
	{"dpdk.rx_desc", CM_CFG_INT, "1024", 64, 32768, NULL, false,
	 "RX descriptors per queue (the device may round it)"},
	{"dpdk.mbufs", CM_CFG_INT, "8191", 1023, 16777215, NULL, false,
	 "mbufs per NUMA node mempool; best 2^n - 1; must fill every RX ring on the node"},
	{"dpdk.mbuf_cache", CM_CFG_INT, "256", 0, 512, NULL, false,
	 "mbufs cached per worker lcore"},
	{"dpdk.burst", CM_CFG_INT, "32", 1, DP_DPDK_BURST_MAX, NULL, false,
	 "frames per rte_eth_rx_burst, and per callback at most"},
	{"dpdk.accept_dst", CM_CFG_STR, "", 0, 0, NULL, false,
	 "destination addresses accepted, IPv4 or IPv6, comma-separated (the multicast groups are "
	 "added); empty: any"},
	{"dpdk.promiscuous", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "receive frames for any destination MAC"},
	{"dpdk.idle_sleep_us", CM_CFG_INT, "50", 0, 10000, NULL, false,
	 "an idle worker sleeps this long between polls after 100 empty ones; 0: busy poll"},
	{"dpdk.verify_checksum", CM_CFG_BOOL, "false", 0, 0, NULL, false,
	 "verify IPv4 header and UDP checksums in software (for ports that do not: pcap, ring)"},
};

const struct cm_cfg_table dp_dpdk_cfg_table = {
	.module = "dpdk",
	.keys = dpdk_keys,
	.nkeys = CM_ARRAY_SIZE(dpdk_keys),
};

void dp_dpdk_cfg_default(struct dp_dpdk_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->all_ports = true;
	cfg->rx_desc = 1024;
	cfg->mbufs = 8191;
	cfg->mbuf_cache = 256;
	cfg->burst = 32;
	cfg->promiscuous = true;
	cfg->idle_sleep_us = 50;
}

static int parse_ports(const char *spec, struct dp_dpdk_cfg *cfg, char *err, size_t errlen)
{
	char buf[512];
	if (strcmp(spec, "all") == 0) {
		cfg->all_ports = true;
		return 0;
	}
	cfg->all_ports = false;
	cfg->nports = 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *end;
		errno = 0;
		unsigned long id = strtoul(tok, &end, 10);
		if (errno || end == tok || *end || id >= RTE_MAX_ETHPORTS) {
			snprintf(err, errlen, "dpdk.ports: '%s' is not a port id (0..%u) or all", tok,
				 RTE_MAX_ETHPORTS - 1);
			return -EINVAL;
		}
		for (uint32_t i = 0; i < cfg->nports; i++)
			if (cfg->ports[i] == id) {
				snprintf(err, errlen, "dpdk.ports: port %lu listed twice", id);
				return -EINVAL;
			}
		cfg->ports[cfg->nports++] = (uint16_t)id;  /* fits: ids < RTE_MAX_ETHPORTS */
	}
	if (cfg->nports == 0) {
		snprintf(err, errlen, "dpdk.ports: '%s' names no port", spec);
		return -EINVAL;
	}
	return 0;
}

static int parse_accept(const char *spec, struct dp_dpdk_cfg *cfg, char *err, size_t errlen)
{
	char buf[1024];
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "dpdk.accept_dst: longer than %zu bytes", sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	cfg->naccept = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		uint8_t a[16];
		uint32_t v4;
		if (inet_pton(AF_INET, tok, &v4) == 1) {
			dp_pkt_addr_v4mapped(v4, a);
		} else if (inet_pton(AF_INET6, tok, a) != 1) {
			snprintf(err, errlen, "dpdk.accept_dst: '%s' is not an IPv4 or IPv6 address", tok);
			return -EINVAL;
		}
		if (cfg->naccept == DP_DPDK_ACCEPT_MAX) {
			snprintf(err, errlen, "dpdk.accept_dst: more than %u addresses", DP_DPDK_ACCEPT_MAX);
			return -EINVAL;
		}
		memcpy(cfg->accept[cfg->naccept++], a, 16);
	}
	return 0;
}

int dp_dpdk_cfg_from(const struct cm_config *config, struct dp_dpdk_cfg *cfg, char *err,
		     size_t errlen)
{
	dp_dpdk_cfg_default(cfg);
	const char *eal = cm_config_str(config, "dpdk.eal_args");
	if (strlen(eal) >= sizeof(cfg->eal_args)) {
		snprintf(err, errlen, "dpdk.eal_args: longer than %zu bytes", sizeof(cfg->eal_args) - 1);
		return -EINVAL;
	}
	snprintf(cfg->eal_args, sizeof(cfg->eal_args), "%s", eal);
	cfg->rx_desc = (uint32_t)cm_config_int(config, "dpdk.rx_desc");
	cfg->mbufs = (uint32_t)cm_config_int(config, "dpdk.mbufs");
	cfg->mbuf_cache = (uint32_t)cm_config_int(config, "dpdk.mbuf_cache");
	cfg->burst = (uint32_t)cm_config_int(config, "dpdk.burst");
	cfg->promiscuous = cm_config_bool(config, "dpdk.promiscuous");
	cfg->idle_sleep_us = (uint32_t)cm_config_int(config, "dpdk.idle_sleep_us");
	cfg->verify_checksum = cm_config_bool(config, "dpdk.verify_checksum");
	int rc = parse_ports(cm_config_str(config, "dpdk.ports"), cfg, err, errlen);
	if (rc)
		return rc;
	return parse_accept(cm_config_str(config, "dpdk.accept_dst"), cfg, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

struct dpdk_port {
	uint16_t id;
	uint16_t nrxq;             /* RX queues: workers 0 .. nrxq - 1 poll this port */
	uint16_t nb_rxd, nb_txd;
	int socket;                /* NUMA node, -1 unknown */
	uint64_t rss_hf;
	uint64_t rx_offloads;
	bool configured;           /* close at teardown */
	bool started;              /* stop at teardown */
	struct rte_mempool *pool;  /* borrowed from dp_dpdk.pools */
	uint8_t mac[6];
	char driver[32];
};

/* Counters of one worker: written by it only (cm_ctr_add), read by stats_read. */
struct dpdk_ctrs {
	struct dp_rx_ctrs rx;
	_Atomic uint64_t igmp_sent;
};

/* One worker's state, on its NUMA node (ops->attach). */
struct dpdk_worker {
	struct dpdk_ctrs ctr;
	/* private to the worker, on lines of their own */
	_Alignas(CM_CACHE_LINE) uint32_t nq;
	uint16_t port[DP_DPDK_PORTS_MAX];  /* ports with a queue for this worker (queue w) */
	uint32_t empty_polls;              /* polls in a row that returned no frame */
	uint64_t igmp_next_tsc;            /* worker 0: when to send the next reports */
	struct rte_mbuf *mbufs[DP_DPDK_BURST_MAX];
	struct dp_rx_msg msgs[DP_DPDK_BURST_MAX];
};

struct dp_dpdk {
	struct dp_backend base;
	/* read-only after create; the poll path reads the first lines */
	uint32_t burst;
	uint32_t pkt_flags;                /* enum dp_pkt_flags */
	uint32_t nlisten;                  /* UDP listeners by destination port */
	uint16_t lport[DP_LISTEN__COUNT];
	uint8_t lproto[DP_LISTEN__COUNT];
	int64_t lunit_ns[DP_LISTEN__COUNT];
	uint32_t naccept;                  /* 0: any destination */
	uint8_t accept[DP_DPDK_ACCEPT_MAX + DP_MCAST_GROUPS_MAX][16];
	uint32_t nmcast;
	uint32_t mcast[DP_MCAST_GROUPS_MAX];
	uint32_t mcast_src;
	uint64_t igmp_period_tsc;
	int64_t idle_sleep_ns;
	int numa_node;
	uint32_t nports;
	struct dpdk_port ports[DP_DPDK_PORTS_MAX];
	uint32_t npools;
	struct rte_mempool *pools[DP_DPDK_PORTS_MAX];
	/* the EAL's arguments: kept until destroy (the EAL may hold on to them) */
	uint32_t eal_argc;
	char *eal_arg[EAL_ARGV_MAX];
	char *eal_argv[EAL_ARGV_MAX + 1];  /* what rte_eal_init got (it permutes it) */
	/* per worker, published by attach (release) for stats_read (acquire) */
	_Atomic(struct dpdk_worker *) wk[];
};

/* ------------------------------------------------------------------------ */
/* HOT PATH: receive                                                         */
/* ------------------------------------------------------------------------ */

static inline bool dst_accepted(const struct dp_dpdk *d, const uint8_t *dst)
{
	for (uint32_t i = 0; i < d->naccept; i++)
		if (memcmp(d->accept[i], dst, 16) == 0)
			return true;
	return false;
}

/* Parse one frame into *msg; DELIVERED or why it is dropped. */
static inline enum dp_rx_drop classify(const struct dp_dpdk *d, const struct rte_mbuf *m,
				       struct dp_rx_msg *msg)
{
	struct dp_pkt p;
	if (cm_unlikely(m->nb_segs != 1))
		return DP_RXD_BAD_LENGTH;  /* larger than one mbuf: see dp_dpdk.h */
	enum dp_pkt_status st = dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
					     rte_pktmbuf_data_len(m), d->pkt_flags, &p);
	if (cm_unlikely(st != DP_PKT_OK))
		return dp_pkt_drop_cause(st);
	if (cm_unlikely((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
			(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD))
		return DP_RXD_BAD_HEADER;
	uint32_t l = 0;
	while (l < d->nlisten && d->lport[l] != p.dst_port)
		l++;
	if (cm_unlikely(l == d->nlisten))
		return DP_RXD_UNKNOWN_PORT;
	if (d->naccept && !dst_accepted(d, p.dst_addr))
		return DP_RXD_DST_FILTERED;
	msg->buf = p.payload;
	msg->len = p.payload_len;
	msg->proto = d->lproto[l];
	msg->flags = DP_RX_COMPLETE;
	msg->src_port = p.src_port;
	memcpy(msg->src_addr, p.src_addr, 16);
	msg->unit_ns = d->lunit_ns[l];
	return DELIVERED;
}

/* One rx_burst on (port, q): classify, one callback, free. Returns messages delivered. */
static inline uint32_t rx_queue(const struct dp_dpdk *d, struct dpdk_worker *wk, uint16_t port,
				uint16_t q, dp_rx_burst_fn fn, void *ctx, uint32_t *frames)
{
	struct rte_mbuf **m = wk->mbufs;
	uint16_t n = rte_eth_rx_burst(port, q, m, (uint16_t)d->burst);
	if (n == 0)
		return 0;
	*frames += n;
	uint32_t k = 0;
	rte_prefetch0(rte_pktmbuf_mtod(m[0], void *));
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(m[i + 1], void *));
		struct dp_rx_msg *msg = &wk->msgs[k];
		enum dp_rx_drop why = classify(d, m[i], msg);
		if (cm_likely(why == DELIVERED))
			k++;
		else
			cm_ctr_add(&wk->ctr.rx.drops[why], 1);
	}
	if (k) {
		fn(ctx, wk->msgs, k);
		dp_rx_ctrs_count_burst(&wk->ctr.rx, wk->msgs, k);
	}
	rte_pktmbuf_free_bulk(m, n);
	cm_ctr_add(&wk->ctr.rx.packets, n);
	return k;
}

/* Worker 0, once a period: an IGMPv2 report per group on each port's TX queue 0. */
static void igmp_send(const struct dp_dpdk *d, struct dpdk_worker *wk)
{
	wk->igmp_next_tsc = rte_rdtsc() + d->igmp_period_tsc;
	for (uint32_t i = 0; i < d->nports; i++) {
		const struct dpdk_port *p = &d->ports[i];
		struct rte_mbuf *m[DP_MCAST_GROUPS_MAX];
		uint16_t k = 0;
		for (uint32_t g = 0; g < d->nmcast; g++) {
			struct rte_mbuf *mb = rte_pktmbuf_alloc(p->pool);
			if (!mb)
				break;
			char *buf = rte_pktmbuf_append(mb, DP_PKT_IGMP_REPORT_BYTES);
			if (!buf) {
				rte_pktmbuf_free(mb);
				break;
			}
			dp_pkt_igmp_report((uint8_t *)buf, DP_PKT_IGMP_REPORT_BYTES, p->mac,
					   d->mcast_src, d->mcast[g]);
			m[k++] = mb;
		}
		uint16_t sent = k ? rte_eth_tx_burst(p->id, 0, m, k) : 0;
		if (sent < k)
			rte_pktmbuf_free_bulk(m + sent, k - sent);
		cm_ctr_add(&wk->ctr.igmp_sent, sent);
	}
}

static uint32_t dpdk_poll(struct dp_backend *b, uint32_t w, dp_rx_burst_fn fn, void *ctx)
{
	struct dp_dpdk *d = (struct dp_dpdk *)b;
	assert(w < b->nworkers);
	/* stored by this thread in attach */
	struct dpdk_worker *wk = atomic_load_explicit(&d->wk[w], memory_order_relaxed);
	if (cm_unlikely(!wk))
		return 0;
	if (cm_unlikely(w == 0 && d->nmcast) && rte_rdtsc() >= wk->igmp_next_tsc)
		igmp_send(d, wk);
	uint32_t delivered = 0, frames = 0;
	for (uint32_t i = 0; i < wk->nq; i++)
		delivered += rx_queue(d, wk, wk->port[i], (uint16_t)w, fn, ctx, &frames);
	if (frames)
		wk->empty_polls = 0;
	else if (wk->empty_polls < UINT32_MAX)
		wk->empty_polls++;
	return delivered;
}

/*
 * Idle: spin while the queues were busy recently, then sleep briefly
 * (dp_dpdk.h). The sleep is the one syscall here, made only when idle.
 */
static void dpdk_wait(struct dp_backend *b, uint32_t w, int64_t max_ns)
{
	struct dp_dpdk *d = (struct dp_dpdk *)b;
	struct dpdk_worker *wk = atomic_load_explicit(&d->wk[w], memory_order_relaxed);
	if (!wk || max_ns <= 0)
		return;
	if (d->idle_sleep_ns == 0 || wk->empty_polls < DP_DPDK_SPIN_POLLS) {
		rte_pause();
		return;
	}
	cm_sleep_ns(CM_MIN(max_ns, d->idle_sleep_ns));
}

/* ------------------------------------------------------------------------ */
/* Worker attach, stats                                                      */
/* ------------------------------------------------------------------------ */

static int dpdk_attach(struct dp_backend *b, uint32_t w)
{
	struct dp_dpdk *d = (struct dp_dpdk *)b;
	assert(w < b->nworkers);
	if (atomic_load_explicit(&d->wk[w], memory_order_relaxed))
		return -EBUSY;
	/* An EAL thread (the main lcore) has an lcore id already; registering would replace it. */
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
		CM_LOG_WARN(MOD, "event=no_lcore worker=%u err=\"%s\" effect=\"no mempool cache\"", w,
			    rte_strerror(rte_errno));
	if (d->idle_sleep_ns)
		prctl(PR_SET_TIMERSLACK, 1000UL);  /* 1 us: the idle sleep is tens of us */
	struct dpdk_worker *wk = rte_zmalloc_socket("sf_dpdk_worker", sizeof(*wk), CM_CACHE_LINE,
						    (int)rte_socket_id());
	if (!wk)
		wk = rte_zmalloc("sf_dpdk_worker", sizeof(*wk), CM_CACHE_LINE);
	if (!wk)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nports; i++)
		if (w < d->ports[i].nrxq)
			wk->port[wk->nq++] = d->ports[i].id;
	wk->igmp_next_tsc = 0;  /* worker 0 reports at its first poll */
	/* pairs with the acquire load in dpdk_stats_read */
	atomic_store_explicit(&d->wk[w], wk, memory_order_release);
	CM_LOG_INFO(MOD, "event=worker_attached worker=%u lcore=%d socket=%d ports=%u", w,
		    (int)rte_lcore_id(), (int)rte_socket_id(), wk->nq);
	return 0;
}

static void dpdk_stats_read(const struct dp_backend *b, struct dp_rx_stats *out)
{
	const struct dp_dpdk *d = (const struct dp_dpdk *)b;
	for (uint32_t w = 0; w < b->nworkers; w++) {
		/* pairs with the release store in dpdk_attach */
		const struct dpdk_worker *wk =
			atomic_load_explicit((_Atomic(struct dpdk_worker *) *)&d->wk[w],
					     memory_order_acquire);
		if (!wk)
			continue;
		dp_rx_ctrs_sum(&wk->ctr.rx, out);
		out->igmp_sent += atomic_load_explicit(&wk->ctr.igmp_sent, memory_order_relaxed);
	}
	for (uint32_t i = 0; i < d->nports; i++) {
		struct rte_eth_stats st;
		if (rte_eth_stats_get(d->ports[i].id, &st) != 0)
			continue;
		out->drops[DP_RXD_NIC_MISSED] += st.imissed;
		out->drops[DP_RXD_NIC_NOMBUF] += st.rx_nombuf;
		out->drops[DP_RXD_NIC_ERRORS] += st.ierrors;
	}
}

int dp_dpdk_numa_node(const struct dp_backend *b)
{
	return ((const struct dp_dpdk *)b)->numa_node;
}

/* ------------------------------------------------------------------------ */
/* EAL                                                                       */
/* ------------------------------------------------------------------------ */

static int add_arg(struct dp_dpdk *d, const char *a, char *err, size_t errlen)
{
	if (d->eal_argc == EAL_ARGV_MAX) {
		snprintf(err, errlen, "dpdk eal init failed: more than %u eal arguments", EAL_ARGV_MAX);
		return -EINVAL;
	}
	if (!(d->eal_arg[d->eal_argc] = strdup(a))) {
		snprintf(err, errlen, "dpdk eal init failed: out of memory");
		return -ENOMEM;
	}
	d->eal_argc++;
	return 0;
}

static bool names_lcores(const char *a)
{
	return (a[0] == '-' && (a[1] == 'l' || a[1] == 'c')) || strcmp(a, "--lcores") == 0 ||
	       strncmp(a, "--lcores=", 9) == 0;
}

/* "--lcores=0@(0-3,8)": lcore 0 on the calling thread's cpus. */
static int lcores_arg(char *buf, size_t cap)
{
	cpu_set_t set;
	int rc = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc)
		return -rc;
	size_t n = (size_t)snprintf(buf, cap, "--lcores=0@(");
	bool first = true;
	for (int c = 0; c < CPU_SETSIZE && n < cap; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
			e++;
		n += (size_t)snprintf(buf + n, cap - n, e > c ? "%s%d-%d" : "%s%d", first ? "" : ",",
				      c, e);
		first = false;
		c = e;
	}
	if (first || n + 2 > cap)
		return -EINVAL;
	snprintf(buf + n, cap - n, ")");
	return 0;
}

/* "streamflowd", dpdk.eal_args, argv[argc], and the lcore unless named. */
static int build_eal_args(struct dp_dpdk *d, const char *eal_args, int argc, char **argv,
			  char *err, size_t errlen)
{
	char buf[DP_DPDK_EAL_ARGS_MAX];
	bool lcores = false;
	int rc = add_arg(d, "streamflowd", err, errlen);
	snprintf(buf, sizeof(buf), "%s", eal_args);
	for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok && !rc;
	     tok = strtok_r(NULL, " \t", &save)) {
		lcores |= names_lcores(tok);
		rc = add_arg(d, tok, err, errlen);
	}
	for (int i = 0; i < argc && !rc; i++) {
		lcores |= names_lcores(argv[i]);
		rc = add_arg(d, argv[i], err, errlen);
	}
	for (uint32_t i = 1; i < d->eal_argc && !rc; i++)
		if (strcmp(d->eal_arg[i], "-h") == 0 || strcmp(d->eal_arg[i], "--help") == 0) {
			snprintf(err, errlen, "dpdk eal init failed: '%s' would exit the process",
				 d->eal_arg[i]);
			rc = -EINVAL;
		}
	if (!rc && !lcores) {
		char l[4096];
		rc = lcores_arg(l, sizeof(l));
		if (rc)
			snprintf(err, errlen, "dpdk eal init failed: cannot read the thread's cpus");
		else
			rc = add_arg(d, l, err, errlen);
	}
	return rc;
}

static void join_args(const struct dp_dpdk *d, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (uint32_t i = 1; i < d->eal_argc && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i > 1 ? " " : "", d->eal_arg[i]);
}

static int eal_init(struct dp_dpdk *d, const char *eal_args, int argc, char **argv, char *err,
		    size_t errlen)
{
	char joined[1024];
	int rc = build_eal_args(d, eal_args, argc, argv, err, errlen);
	if (rc)
		return rc;
	memcpy(d->eal_argv, d->eal_arg, d->eal_argc * sizeof(char *));
	d->eal_argv[d->eal_argc] = NULL;
	join_args(d, joined, sizeof(joined));
	CM_LOG_INFO(MOD, "event=eal_init args=\"%s\"", joined);
	int n = rte_eal_init((int)d->eal_argc, d->eal_argv);
	if (n < 0) {
		int e = rte_errno;
		snprintf(err, errlen, "dpdk eal init failed: %s (eal args: %s)",
			 e == EALREADY ? "the eal was initialised before in this process (once per process)"
				       : rte_strerror(e),
			 joined);
		return e > 0 ? -e : -EINVAL;
	}
	if ((uint32_t)n + 1 < d->eal_argc) {
		/* getopt moved the arguments that are not EAL options behind the ones it took */
		snprintf(err, errlen, "dpdk eal init failed: '%s' is not an eal option",
			 d->eal_argv[n + 1]);
		rte_eal_cleanup();
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ports and mempools                                                        */
/* ------------------------------------------------------------------------ */

static int select_ports(struct dp_dpdk *d, const struct dp_dpdk_cfg *dcfg, char *err,
			size_t errlen)
{
	uint16_t id;
	if (dcfg->all_ports) {
		RTE_ETH_FOREACH_DEV(id) {
			if (d->nports == DP_DPDK_PORTS_MAX)
				break;
			d->ports[d->nports++].id = id;
		}
	} else {
		for (uint32_t i = 0; i < dcfg->nports; i++) {
			if (!rte_eth_dev_is_valid_port(dcfg->ports[i])) {
				snprintf(err, errlen, "dpdk.ports: port %u does not exist (the eal found %u)",
					 dcfg->ports[i], rte_eth_dev_count_avail());
				return -ENODEV;
			}
			d->ports[d->nports++].id = dcfg->ports[i];
		}
	}
	if (d->nports == 0) {
		snprintf(err, errlen, "dpdk: no ports (bind a NIC to vfio-pci, or add --vdev=... to "
				      "dpdk.eal_args)");
		return -ENODEV;
	}
	return 0;
}

/* Pass 1: what the device offers; queues, descriptors, RSS, offloads. */
static int port_learn(struct dpdk_port *p, const struct dp_dpdk_cfg *dcfg, uint32_t nworkers,
		      char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->id, &info);
	if (rc) {
		snprintf(err, errlen, "dpdk port %u: cannot read device info: %s", p->id, strerror(-rc));
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
	if (info.max_rx_queues == 0 || info.max_tx_queues == 0) {
		snprintf(err, errlen, "dpdk port %u (%s): no rx or tx queue", p->id, p->driver);
		return -ENODEV;
	}
	p->nrxq = (uint16_t)CM_MIN((uint32_t)info.max_rx_queues, nworkers);
	p->socket = rte_eth_dev_socket_id(p->id);
	p->nb_rxd = (uint16_t)dcfg->rx_desc;
	p->nb_txd = TX_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &p->nb_rxd, &p->nb_txd);
	if (rc) {
		snprintf(err, errlen, "dpdk port %u (%s): cannot fit %u descriptors: %s", p->id,
			 p->driver, dcfg->rx_desc, strerror(-rc));
		return rc;
	}
	p->rss_hf = p->nrxq > 1 ? RSS_WANTED & info.flow_type_rss_offloads : 0;
	p->rx_offloads = RX_CSUM_WANTED & info.rx_offload_capa;
	if (p->nrxq < nworkers)
		CM_LOG_WARN(MOD, "event=port_fewer_queues port=%u driver=%s rxq=%u workers=%u "
			    "effect=\"only workers 0-%u poll this port\"",
			    p->id, p->driver, p->nrxq, nworkers, p->nrxq - 1u);
	if (p->nrxq > 1 && p->rss_hf != RSS_WANTED)
		CM_LOG_WARN(MOD, "event=port_rss_partial port=%u driver=%s rss_hf=0x%llx wanted=0x%llx",
			    p->id, p->driver, (unsigned long long)p->rss_hf,
			    (unsigned long long)RSS_WANTED);
	return 0;
}

/* Pass 2: one mempool per NUMA node of the ports, big enough to fill its rings. */
static int pools_create(struct dp_dpdk *d, const struct dp_dpdk_cfg *dcfg, uint32_t nworkers,
			char *err, size_t errlen)
{
	for (uint32_t i = 0; i < d->nports; i++) {
		struct dpdk_port *p = &d->ports[i];
		uint32_t j = 0;
		while (j < i && d->ports[j].socket != p->socket)
			j++;
		if (j < i) {
			p->pool = d->ports[j].pool;
			continue;
		}
		/* every ring of this node filled at start, plus a burst in each worker's hands */
		uint64_t need = (uint64_t)(nworkers + 1) * dcfg->burst;
		for (uint32_t k = i; k < d->nports; k++)
			if (d->ports[k].socket == p->socket)
				need += (uint64_t)d->ports[k].nrxq * d->ports[k].nb_rxd +
					d->ports[k].nb_txd;
		if (dcfg->mbufs < need) {
			snprintf(err, errlen, "dpdk.mbufs: %u cannot fill the rx rings on numa node %d, "
				 "which need %llu; raise dpdk.mbufs or lower dpdk.rx_desc",
				 dcfg->mbufs, p->socket, (unsigned long long)need);
			return -ENOMEM;
		}
		uint64_t cached = (uint64_t)(nworkers + 1) * dcfg->mbuf_cache * 3 / 2;
		if (dcfg->mbufs < need + cached)
			CM_LOG_WARN(MOD, "event=mbufs_tight node=%d mbufs=%u rings=%llu caches=%llu "
				    "effect=\"rx_nombuf possible under load\"",
				    p->socket, dcfg->mbufs, (unsigned long long)need,
				    (unsigned long long)cached);
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "sf_mbuf_%d", p->socket);
		int socket = p->socket < 0 ? SOCKET_ID_ANY : p->socket;
		struct rte_mempool *mp = rte_pktmbuf_pool_create(name, dcfg->mbufs, dcfg->mbuf_cache, 0,
								 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
		if (!mp && socket != SOCKET_ID_ANY) {
			CM_LOG_WARN(MOD, "event=mempool_remote node=%d err=\"%s\"", p->socket,
				    rte_strerror(rte_errno));
			mp = rte_pktmbuf_pool_create(name, dcfg->mbufs, dcfg->mbuf_cache, 0,
						     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		}
		if (!mp) {
			snprintf(err, errlen, "dpdk: cannot create a mempool of %u mbufs for numa node %d: %s",
				 dcfg->mbufs, p->socket, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		d->pools[d->npools++] = mp;
		p->pool = mp;
	}
	return 0;
}

/* Accept the groups' MACs: an exact list if the device filters, else all multicast. */
static void port_mcast(const struct dp_dpdk *d, const struct dpdk_port *p)
{
	struct rte_ether_addr macs[DP_MCAST_GROUPS_MAX];
	if (!d->nmcast)
		return;
	for (uint32_t g = 0; g < d->nmcast; g++)
		dp_pkt_mcast_mac(d->mcast[g], macs[g].addr_bytes);
	int rc = rte_eth_dev_set_mc_addr_list(p->id, macs, d->nmcast);
	if (rc == 0) {
		CM_LOG_INFO(MOD, "event=mcast_filter port=%u groups=%u", p->id, d->nmcast);
		return;
	}
	int rc2 = rte_eth_allmulticast_enable(p->id);
	if (rc2 == 0)
		CM_LOG_INFO(MOD, "event=mcast_all port=%u reason=\"mc list: %s\"", p->id,
			    strerror(-rc));
	else
		CM_LOG_WARN(MOD, "event=mcast_unfiltered port=%u mc_list=\"%s\" allmulti=\"%s\" "
			    "effect=\"multicast only with dpdk.promiscuous\"",
			    p->id, strerror(-rc), strerror(-rc2));
}

/* Pass 3: configure, queues, start, promiscuous and multicast. */
static int port_start(const struct dp_dpdk *d, struct dpdk_port *p, bool promiscuous, char *err,
		      size_t errlen)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mq_mode = p->rss_hf ? RTE_ETH_MQ_RX_RSS : RTE_ETH_MQ_RX_NONE;
	conf.rxmode.offloads = p->rx_offloads;
	conf.rx_adv_conf.rss_conf.rss_hf = p->rss_hf;
	int rc = rte_eth_dev_configure(p->id, p->nrxq, 1, &conf);
	const char *what = "configure";
	if (rc)
		goto fail;
	p->configured = true;
	int socket = p->socket < 0 ? SOCKET_ID_ANY : p->socket;
	what = "set up an rx queue";
	for (uint16_t q = 0; q < p->nrxq; q++)
		if ((rc = rte_eth_rx_queue_setup(p->id, q, p->nb_rxd, (unsigned)socket, NULL, p->pool)))
			goto fail;
	what = "set up the tx queue";
	if ((rc = rte_eth_tx_queue_setup(p->id, 0, p->nb_txd, (unsigned)socket, NULL)))
		goto fail;
	what = "start";
	if ((rc = rte_eth_dev_start(p->id)))
		goto fail;
	p->started = true;
	if (promiscuous && (rc = rte_eth_promiscuous_enable(p->id)))
		CM_LOG_WARN(MOD, "event=promiscuous_failed port=%u err=\"%s\"", p->id, strerror(-rc));
	port_mcast(d, p);
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(p->id, &mac) == 0)
		memcpy(p->mac, mac.addr_bytes, 6);
	CM_LOG_INFO(MOD, "event=port_up port=%u driver=%s socket=%d rxq=%u rx_desc=%u "
		    "rss_hf=0x%llx rx_offloads=0x%llx mac=%02x:%02x:%02x:%02x:%02x:%02x",
		    p->id, p->driver, p->socket, p->nrxq, p->nb_rxd, (unsigned long long)p->rss_hf,
		    (unsigned long long)p->rx_offloads, p->mac[0], p->mac[1], p->mac[2], p->mac[3],
		    p->mac[4], p->mac[5]);
	return 0;
fail:
	snprintf(err, errlen, "dpdk port %u (%s): cannot %s: %s", p->id, p->driver, what,
		 strerror(rc < 0 ? -rc : rc));
	return rc < 0 ? rc : -rc;
}

/* Stop and close the ports, free workers and pools (no worker running). */
static void teardown(struct dp_dpdk *d)
{
	for (uint32_t i = 0; i < d->nports; i++) {
		struct dpdk_port *p = &d->ports[i];
		if (p->started)
			rte_eth_dev_stop(p->id);
		if (p->configured)
			rte_eth_dev_close(p->id);
		p->started = p->configured = false;
	}
	for (uint32_t w = 0; w < d->base.nworkers; w++)
		rte_free(atomic_exchange_explicit(&d->wk[w], NULL, memory_order_relaxed));
	for (uint32_t i = 0; i < d->npools; i++)
		rte_mempool_free(d->pools[i]);
	d->npools = 0;
}

static void free_args(struct dp_dpdk *d)
{
	for (uint32_t i = 0; i < d->eal_argc; i++)
		free(d->eal_arg[i]);
	d->eal_argc = 0;
}

static void dpdk_destroy(struct dp_backend *b)
{
	if (!b)
		return;
	struct dp_dpdk *d = (struct dp_dpdk *)b;
	teardown(d);
	rte_eal_cleanup();
	CM_LOG_INFO(MOD, "event=destroyed");
	free_args(d);
	free(d);
}

static const struct dp_backend_ops dpdk_ops = {
	.name = "dpdk",
	.attach = dpdk_attach,
	.poll = dpdk_poll,
	.wait = dpdk_wait,
	.stats_read = dpdk_stats_read,
	.destroy = dpdk_destroy,
};

/* ------------------------------------------------------------------------ */
/* Create                                                                    */
/* ------------------------------------------------------------------------ */

/* Listeners, accepted destinations and multicast from the shared rx config. */
static int take_rx_cfg(struct dp_dpdk *d, const struct dp_rx_cfg *cfg,
		       const struct dp_dpdk_cfg *dcfg, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < DP_LISTEN__COUNT; i++) {
		const struct dp_listener *l = &cfg->listen[i];
		if (!l->enabled || l->tcp)
			continue;
		d->lport[d->nlisten] = l->port;
		d->lproto[d->nlisten] = l->proto;
		d->lunit_ns[d->nlisten] = l->unit_ns;
		d->nlisten++;
	}
	if (d->nlisten == 0) {
		snprintf(err, errlen, "dpdk: no UDP listener enabled (statsd.listen, line.udp_listen, "
				      "binary.listen): nothing to receive");
		return -EINVAL;
	}
	if (cfg->nmcast > DP_MCAST_GROUPS_MAX || dcfg->naccept > DP_DPDK_ACCEPT_MAX) {
		snprintf(err, errlen, "dpdk: too many multicast groups or accepted addresses");
		return -EINVAL;
	}
	d->nmcast = cfg->nmcast;
	memcpy(d->mcast, cfg->mcast, sizeof(d->mcast[0]) * cfg->nmcast);
	d->mcast_src = cfg->mcast_iface;
	memcpy(d->accept, dcfg->accept, sizeof(dcfg->accept[0]) * dcfg->naccept);
	d->naccept = dcfg->naccept;
	if (d->naccept)
		for (uint32_t g = 0; g < cfg->nmcast; g++)
			dp_pkt_addr_v4mapped(cfg->mcast[g], d->accept[d->naccept++]);
	return 0;
}

static int check_cfg(const struct dp_dpdk_cfg *dcfg, uint32_t nworkers, char *err, size_t errlen)
{
	if (nworkers == 0 || nworkers > DP_DPDK_WORKERS_MAX) {
		snprintf(err, errlen, "dpdk: %u workers, want 1..%u", nworkers, DP_DPDK_WORKERS_MAX);
		return -EINVAL;
	}
	/* the mempool library's rule: a cache flushes at 1.5 x its size (the registry's bounds hold it) */
	if (dcfg->burst == 0 || dcfg->burst > DP_DPDK_BURST_MAX || dcfg->rx_desc == 0 ||
	    dcfg->rx_desc > UINT16_MAX || dcfg->mbufs == 0 ||
	    (uint64_t)dcfg->mbuf_cache * 3 / 2 > dcfg->mbufs) {
		snprintf(err, errlen, "dpdk: burst, rx_desc, mbufs or mbuf_cache out of range");
		return -EINVAL;
	}
	return 0;
}

int dp_dpdk_create(const struct dp_rx_cfg *cfg, const struct dp_dpdk_cfg *dcfg, uint32_t nworkers,
		   int argc, char **argv, struct dp_backend **out, char *err, size_t errlen)
{
	assert(cfg && dcfg && out && (argc == 0 || argv));
	*out = NULL;
	int rc = check_cfg(dcfg, nworkers, err, errlen);
	if (rc)
		return rc;
	struct dp_dpdk *d = calloc(1, sizeof(*d) + nworkers * sizeof(d->wk[0]));
	if (!d) {
		snprintf(err, errlen, "dpdk: out of memory");
		return -ENOMEM;
	}
	d->base.ops = &dpdk_ops;
	d->base.nworkers = nworkers;
	d->burst = dcfg->burst;
	d->pkt_flags = dcfg->verify_checksum ? DP_PKT_VERIFY_CSUM : 0;
	d->idle_sleep_ns = (int64_t)dcfg->idle_sleep_us * CM_NS_PER_US;
	if ((rc = take_rx_cfg(d, cfg, dcfg, err, errlen)))
		goto err_free;
	if ((rc = eal_init(d, dcfg->eal_args, argc, argv, err, errlen)))
		goto err_free;
	if ((rc = select_ports(d, dcfg, err, errlen)))
		goto err_eal;
	d->numa_node = d->ports[0].socket;
	for (uint32_t i = 0; i < d->nports; i++) {
		if ((rc = port_learn(&d->ports[i], dcfg, nworkers, err, errlen)))
			goto err_eal;
		if (d->ports[i].socket != d->numa_node)
			d->numa_node = -1;
	}
	if ((rc = pools_create(d, dcfg, nworkers, err, errlen)))
		goto err_teardown;
	for (uint32_t i = 0; i < d->nports; i++)
		if ((rc = port_start(d, &d->ports[i], dcfg->promiscuous, err, errlen)))
			goto err_teardown;
	d->igmp_period_tsc = rte_get_tsc_hz() * DP_DPDK_IGMP_PERIOD_S;
	CM_LOG_INFO(MOD, "event=created ports=%u workers=%u pools=%u numa_node=%d listeners=%u "
		    "accept=%u groups=%u", d->nports, nworkers, d->npools, d->numa_node, d->nlisten,
		    d->naccept, d->nmcast);
	*out = &d->base;
	return 0;

err_teardown:
	teardown(d);
err_eal:
	rte_eal_cleanup();
err_free:
	free_args(d);
	free(d);
	return rc;
}
