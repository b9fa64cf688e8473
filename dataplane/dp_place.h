/*
 * dp_place.h - where dataplane workers and management threads run: the
 * machine topology (through hwloc) and a pure placement planner over it.
 *
 * Usage profile: once at startup. The daemon loads the topology, plans
 * (workers from the config, the port's NUMA node from the NIC), then each
 * thread pins itself with dp_place_bind_self*(). The DPDK backend turns the
 * plan into its lcore list (one RX queue per worker, mempools on each
 * worker's numa_node); the socket backend pins its worker threads; mgmt
 * pins its threads to the management set. Tests plan over synthetic
 * topologies ("numa:2 core:4 pu:2"), so nothing here needs the real machine
 * except binding.
 *
 * Placement policy (dp_place_plan):
 *  - Unit: a physical core, used through its first PU. With
 *    use_smt_siblings the unit is a PU: every eligible core's first PU is
 *    handed out before any core's second PU (on the same node, see below).
 *  - Core 0 (the first core of NUMA node 0) is reserved for the OS and
 *    management whenever the other cores hold all the workers.
 *  - Port on a node (port_numa_node >= 0): the port's node is filled first
 *    (its cores, then with SMT its siblings); only then do workers spill,
 *    round-robin, onto the other nodes; remote_workers counts them (the
 *    caller should log it: those workers pay a cross-node hop per packet).
 *  - Port anywhere (-1): spread round-robin over the nodes (node 0, node 1,
 *    ..., node 0, ...) in core order, skipping nodes that are full, so every
 *    node's memory channels and caches are used.
 *  - Management: one shared set, every PU of every core that hosts no
 *    worker (the reserved core 0 included). Without SMT the siblings of
 *    worker cores stay idle: they would steal cycles from a polling loop.
 *  - Too small: the workers need workers + 1 cores (without SMT) or workers
 *    + core 0's PUs cpus (with SMT); fewer is -ENOSPC with "need 9 cores
 *    for 8 workers plus management, machine has 8". One exception, a
 *    single-core machine with one worker: the worker takes core 0's first
 *    PU and management shares core 0 (shared_core is set).
 *
 * Threads: a struct dp_topo is read-only after dp_topo_load and may be
 * shared by all threads (hwloc allows concurrent reads and binding calls).
 */
#ifndef DP_PLACE_H
#define DP_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most dataplane workers one plan holds. */
#define DP_PLACE_WORKERS_MAX 128u
/* Most cpus (PUs) one management set holds; bigger machines are refused. */
#define DP_PLACE_CPUS_MAX 1024u

/* The loaded topology: hwloc's tree and a flat table of cores. Opaque. */
struct dp_topo;

/*
 * Load the topology: the synthetic description when synthetic is not NULL
 * (hwloc syntax, "numa:2 core:4 pu:2"; borrowed), else the running machine
 * (the cpus this process may use). Returns 0 with *out owned by the caller
 * (dp_topo_destroy), -EINVAL (bad synthetic string, or no cores), -ENOMEM,
 * or another negative errno from hwloc.
 */
int dp_topo_load(const char *synthetic, struct dp_topo **out);

/* Free a topology; NULL is fine. */
void dp_topo_destroy(struct dp_topo *t);

/* NUMA nodes, 1 or more (hwloc logical indices 0 .. n-1). */
uint32_t dp_topo_numa_nodes(const struct dp_topo *t);
/* Physical cores in the machine (logical indices 0 .. n-1, node by node). */
uint32_t dp_topo_cores(const struct dp_topo *t);
/* Cores on NUMA node node; 0 for a memory-only or unknown node. */
uint32_t dp_topo_node_cores(const struct dp_topo *t, uint32_t node);
/* PUs (hardware threads) in the machine. */
uint32_t dp_topo_pus(const struct dp_topo *t);
/* The NUMA node of core; UINT32_MAX when core is out of range. */
uint32_t dp_topo_core_node(const struct dp_topo *t, uint32_t core);
/*
 * The OS cpu indices of core's PUs, first PU first, into os_cpus[cap]
 * (borrowed). Returns how many PUs the core has (may exceed cap: only cap
 * are written), 0 when core is out of range.
 */
uint32_t dp_topo_core_pus(const struct dp_topo *t, uint32_t core, uint32_t *os_cpus,
			  uint32_t cap);

/* What to place. Plain struct, usually from the dataplane config. */
struct dp_place_cfg {
	uint32_t workers;          /* dataplane workers (RX lcores), 1 .. DP_PLACE_WORKERS_MAX */
	int port_numa_node;        /* the NIC's NUMA node; -1: any (sockets, unknown) */
	bool use_smt_siblings;     /* workers may take the second PU of a core */
	uint32_t mgmt_threads;     /* carried into the plan; they all share the mgmt set */
};

/* One worker's home. */
struct dp_place_worker {
	uint32_t os_cpu;           /* bind here (dp_place_bind_self) */
	uint32_t numa_node;        /* allocate its mempool / shard here */
	uint32_t core;             /* topology core index (dp_topo_core_pus) */
};

/*
 * A placement plan. Plain struct (about 5 KB, filled once at startup):
 * workers[i] is worker i's home, no two workers share an os_cpu (nor a core
 * without SMT); mgmt_cpus[] (ascending) shares no core with any worker
 * unless shared_core.
 */
struct dp_place_plan {
	uint32_t nworkers;
	uint32_t remote_workers;   /* workers off port_numa_node (0 for any) */
	bool shared_core;          /* degraded: management shares the worker's core */
	uint32_t mgmt_threads;
	uint32_t nmgmt_cpus;
	struct dp_place_worker workers[DP_PLACE_WORKERS_MAX];
	uint32_t mgmt_cpus[DP_PLACE_CPUS_MAX];
};

/*
 * Plan placement per the policy above: t and cfg borrowed, *out written
 * (whole) on success. Pure: no binding, no allocation visible to the caller.
 * Returns 0; -EINVAL (workers 0 or over the max, port_numa_node not in the
 * topology); -ENOSPC (the machine is too small); -E2BIG (more cpus than
 * DP_PLACE_CPUS_MAX); -ENOMEM. On error err[errlen] (when errlen > 0) says
 * why and *out is unspecified. Any thread.
 */
int dp_place_plan(const struct dp_topo *t, const struct dp_place_cfg *cfg,
		  struct dp_place_plan *out, char *err, size_t errlen);

/*
 * Pin the calling thread to os_cpu. t must be the real machine's topology
 * (a synthetic one cannot bind: -ENOSYS). Returns 0, -EINVAL (os_cpu not
 * in the topology), or the negative errno of the failed bind (-EPERM, ...).
 * Call from the thread being pinned.
 */
int dp_place_bind_self(const struct dp_topo *t, unsigned os_cpu);

/*
 * Pin the calling thread to the set os_cpus[n] (borrowed), e.g. the plan's
 * mgmt_cpus. Same returns as dp_place_bind_self; n == 0 is -EINVAL.
 */
int dp_place_bind_self_cpus(const struct dp_topo *t, const uint32_t *os_cpus, uint32_t n);

#endif /* DP_PLACE_H */
