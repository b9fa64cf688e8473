/*
 * dp_dpdk.h - the DPDK poll-mode receive backend (dp_rx.h): NIC queues
 * polled by the dataplane workers, frames parsed by dp_pkt.h, UDP payloads
 * handed over in place (zero copy).
 *
 * EAL and threads: dp_dpdk_create initialises the EAL from dpdk.eal_args
 * (split on blanks) followed by the extra arguments of the command line.
 * When neither names the lcores (-l, -c, --lcores), create adds
 * --lcores=0@(cpus), cpus being the calling thread's current affinity: the
 * EAL gets one lcore, the main one, on the cpus the main thread already
 * runs on (pin it to the management set from dp_place first), so the EAL
 * moves no thread and starts no lcore thread. The dataplane workers are the
 * daemon's own pthreads, pinned by dp_place; ops->attach registers each
 * with rte_thread_register(), which gives it an lcore id and so a mempool
 * cache (without one every mbuf alloc and free goes to the shared ring).
 * StreamFlow's placement therefore stays the one source of truth for cores.
 * The EAL's control threads (interrupts, telemetry) keep the affinity the
 * EAL computes at create (the main lcore's cpus when the caller was pinned)
 * and sleep in epoll. The EAL can be initialised once per process:
 * destroy calls rte_eal_cleanup, and a second create fails (-EALREADY).
 *
 * Ports: dpdk.ports ("all", or port ids). Each port gets one RX queue per
 * worker (queue w is polled by worker w only) spread by RSS over IPv4/IPv6
 * UDP (what the device supports of it), and one TX queue for the IGMP
 * reports. A device with fewer RX queues than workers (net_pcap: one per
 * rx_pcap file) gets as many as it has; only the first workers poll that
 * port (logged at create). Mbufs come from one mempool per NUMA node of the
 * ports (dpdk.mbufs each, per-lcore caches of dpdk.mbuf_cache); create
 * fails when a pool cannot fill every RX ring of its node. A frame is
 * delivered only if it fits one mbuf (2048 bytes of data: Ethernet MTU
 * 1500 plus headers); a multi-segment frame (a jumbo frame from a software
 * port: net_pcap, net_af_packet) counts as DP_RXD_BAD_LENGTH. Linearising
 * it would copy, and the payload would not be zero-copy.
 *
 * Delivery: a frame that dp_pkt_parse accepts (and the NIC did not flag
 * with a bad IP or L4 checksum) goes to the UDP listener of cfg (statsd,
 * line.udp, binary; the TCP listener does not apply) on its destination
 * port, else DP_RXD_UNKNOWN_PORT; listener addresses are not compared.
 * With dpdk.accept_dst set, the destination address must be one of those
 * or a group of dataplane.multicast_groups, else DP_RXD_DST_FILTERED. Each
 * rte_eth_rx_burst() that accepted anything gives one callback; payload
 * pointers point into the mbufs, which are freed when the callback
 * returns. dp_rx_stats.packets counts every frame rx_burst returned
 * (= messages + the drops other than DP_RXD_NIC_*); the NIC_* drops are the
 * ports' own counters (imissed, rx_nombuf, ierrors).
 *
 * Multicast: each port accepts the groups' MAC addresses
 * (rte_eth_dev_set_mc_addr_list, else all-multicast), and worker 0 sends an
 * IGMPv2 report per group on each port (TX queue 0) at its first poll and
 * every 60 s after (a TSC deadline checked once per poll), so snooping
 * switches keep forwarding the groups (their membership timeout is 260 s
 * by default). Queries from routers are not answered (they are
 * DP_RXD_NOT_UDP): the periodic report stands in for the answer. Source
 * address: dataplane.multicast_iface (0.0.0.0 is allowed).
 *
 * Idle: ops->wait spins (rte_pause) until the worker has seen
 * DP_DPDK_SPIN_POLLS polls in a row that returned no frame, then sleeps
 * min(max_ns, dpdk.idle_sleep_us) per call. attach sets the worker's timer
 * slack to 1 us so the kernel does not add its default 50 us; the machine's
 * wake-up latency still adds (a 2-vCPU VM: 75 to 270 us for a 50 us
 * sleep, slack or not). Under load the worker never sleeps; idle, it costs
 * a few percent of a core instead of all of it. The RX rings must hold
 * what arrives during one sleep and its wake-up (1024 descriptors: 100 us
 * at 10 Mpps). dpdk.idle_sleep_us = 0 is a pure busy poll.
 *
 * Usage profile: line rate of the NICs, bursts of dpdk.burst frames; no
 * syscall on the poll path (except an IGMP send every 60 s on a software
 * port that writes a file or socket).
 *
 * Threads: as dp_rx.h. dp_dpdk_create and destroy on the main thread (the
 * EAL's main lcore); attach, poll and wait on worker w only; stats_read
 * and dp_dpdk_numa_node on any thread.
 */
#ifndef DP_DPDK_H
#define DP_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_config.h"
#include "dp_rx.h"

#define DP_DPDK_PORTS_MAX 32u
#define DP_DPDK_ACCEPT_MAX 16u
#define DP_DPDK_BURST_MAX 256u
#define DP_DPDK_WORKERS_MAX 128u
#define DP_DPDK_EAL_ARGS_MAX 1024u
/* Empty polls in a row before ops->wait sleeps instead of spinning. */
#define DP_DPDK_SPIN_POLLS 100u
/* Seconds between IGMP membership reports. */
#define DP_DPDK_IGMP_PERIOD_S 60u

/* The backend's own settings (config module "dpdk"). Plain struct. */
struct dp_dpdk_cfg {
	char eal_args[DP_DPDK_EAL_ARGS_MAX];  /* dpdk.eal_args, blank-separated */
	bool all_ports;                        /* dpdk.ports = "all" */
	uint32_t nports;                       /* else: these port ids */
	uint16_t ports[DP_DPDK_PORTS_MAX];
	uint32_t rx_desc;                      /* dpdk.rx_desc: per RX queue */
	uint32_t mbufs;                        /* dpdk.mbufs: per NUMA node mempool */
	uint32_t mbuf_cache;                   /* dpdk.mbuf_cache: per lcore */
	uint32_t burst;                        /* dpdk.burst: frames per rx_burst */
	uint32_t naccept;                      /* dpdk.accept_dst; 0: any destination */
	uint8_t accept[DP_DPDK_ACCEPT_MAX][16];  /* network order, IPv4 as ::ffff:a.b.c.d */
	bool promiscuous;                      /* dpdk.promiscuous */
	uint32_t idle_sleep_us;                /* dpdk.idle_sleep_us; 0: busy poll */
	bool verify_checksum;                  /* dpdk.verify_checksum: DP_PKT_VERIFY_CSUM */
};

/* Keys dpdk.*; bounds are checked by the registry, lists by dp_dpdk_cfg_from. */
extern const struct cm_cfg_table dp_dpdk_cfg_table;

/* The defaults of dp_dpdk_cfg_table. */
void dp_dpdk_cfg_default(struct dp_dpdk_cfg *cfg);

/*
 * Fill cfg from a registry holding dp_dpdk_cfg_table (borrowed). Returns 0,
 * or -EINVAL with err ("dpdk.accept_dst: '10.0.0.256' is not an IPv4 or
 * IPv6 address"); cfg is then unspecified.
 */
int dp_dpdk_cfg_from(const struct cm_config *config, struct dp_dpdk_cfg *cfg, char *err,
		     size_t errlen);

/*
 * Initialise the EAL (see the top; argv[argc] are extra EAL arguments from
 * the command line, borrowed, argc may be 0), set up and start the ports,
 * and create the backend for nworkers workers (1 .. DP_DPDK_WORKERS_MAX).
 * cfg and dcfg are borrowed (copied). Returns 0 with *out owned by the
 * caller (out->ops->destroy), or with err set:
 *   -EINVAL   bad arguments, no UDP listener enabled, or EAL arguments the
 *             EAL refused ("dpdk eal init failed: ...")
 *   -EALREADY the EAL was initialised before in this process
 *   -ENODEV   no port, or a configured port id that does not exist
 *   -ENOMEM   a mempool or memory could not be allocated
 *   other     the negative errno of the EAL or of a port call, err naming it
 * Every failure message from EAL initialisation starts "dpdk eal init
 * failed" (tests use it to skip on machines that cannot run DPDK). After a
 * failure past EAL initialisation the EAL has been cleaned up, so DPDK
 * cannot be used again in this process. Never exits the process (EAL
 * options that would, -h and --help, are refused). Main thread.
 */
int dp_dpdk_create(const struct dp_rx_cfg *cfg, const struct dp_dpdk_cfg *dcfg, uint32_t nworkers,
		   int argc, char **argv, struct dp_backend **out, char *err, size_t errlen);

/*
 * The NUMA node of the backend's ports, for dp_place_cfg.port_numa_node:
 * the node when every port is on one, -1 when unknown (virtual devices) or
 * mixed. b must be a dpdk backend. Any thread.
 */
int dp_dpdk_numa_node(const struct dp_backend *b);

#endif /* DP_DPDK_H */
