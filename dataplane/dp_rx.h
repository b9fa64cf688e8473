/*
 * dp_rx.h - what every receive backend hands the dataplane workers, and the
 * one interface both backends (DPDK poll-mode, dp_dpdk.h; kernel sockets
 * with io_uring, dp_sock.h) sit behind.
 *
 * A backend owns the ports or sockets. Worker w (one thread per shard,
 * pinned by dp_place.h) calls ops->poll(b, w, fn, ctx) once per loop pass;
 * the backend delivers what arrived as bursts of messages, each one UDP
 * payload (a datagram: DP_RX_COMPLETE) or a stretch of a TCP stream cut at
 * a '\n' (also DP_RX_COMPLETE: the backend keeps the partial last line of
 * a connection until its end arrives). Message buffers are the backend's:
 * valid during the callback only. Payloads that cannot be delivered (a
 * truncated datagram, a non-UDP frame, an unknown port) are freed and
 * counted by cause; nothing is dropped silently.
 *
 * Listeners (config keys, shared by both backends; a port of 0 disables):
 *   statsd.listen      127.0.0.1:8125   UDP, StatsD/DogStatsD
 *   line.udp_listen    127.0.0.1:8089   UDP, InfluxDB line protocol
 *   line.tcp_listen    127.0.0.1:8094   TCP, line protocol, '\n'-delimited
 *   binary.listen      127.0.0.1:7100   UDP, binary frames (dp_wire.h)
 * The DPDK backend selects the decoder by UDP destination port alone.
 *
 * Threads: ops->poll, ops->wait and ops->attach run on worker w only;
 * ops->stats_read on any thread (relaxed counters); create and destroy on
 * the main thread with no worker running.
 */
#ifndef DP_RX_H
#define DP_RX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_compiler.h"
#include "cm_config.h"

/* Which decoder a message goes to. */
enum dp_proto {
	DP_PROTO_STATSD = 0,
	DP_PROTO_LINE,
	DP_PROTO_BINARY,
	DP_PROTO__COUNT
};
/* "statsd", "line", "binary"; "unknown" when out of range. */
const char *dp_proto_name(enum dp_proto p);

/* The listeners, by config key. */
enum dp_listener_id {
	DP_LISTEN_STATSD_UDP = 0,  /* statsd.listen */
	DP_LISTEN_LINE_UDP,        /* line.udp_listen */
	DP_LISTEN_LINE_TCP,        /* line.tcp_listen */
	DP_LISTEN_BINARY_UDP,      /* binary.listen */
	DP_LISTEN__COUNT
};

/* The config key of a listener ("statsd.listen"); "unknown" when out of range. */
const char *dp_listener_key(enum dp_listener_id id);

/* One configured listener. Plain struct. */
struct dp_listener {
	uint8_t proto;         /* enum dp_proto */
	bool tcp;
	bool enabled;          /* port != 0 */
	int family;            /* AF_INET or AF_INET6 */
	uint8_t addr[16];      /* network order; IPv4 in the first 4 bytes */
	uint16_t port;         /* host order */
	int64_t unit_ns;       /* line protocol: ns per timestamp unit (line.*_precision) */
	char text[64];         /* as configured, for logs */
};

#define DP_MCAST_GROUPS_MAX 16
/* Everything a backend needs to know about what to receive. */
struct dp_rx_cfg {
	struct dp_listener listen[DP_LISTEN__COUNT];
	uint32_t nmcast;                        /* dataplane.multicast_groups */
	uint32_t mcast[DP_MCAST_GROUPS_MAX];    /* IPv4 groups, network order */
	uint32_t mcast_iface;                   /* dataplane.multicast_iface, network order */
	uint32_t max_datagram_bytes;            /* 65535 */
};

/* Keys: the four listeners, their precisions, multicast groups. */
extern const struct cm_cfg_table dp_rx_cfg_table;
/* Fill cfg from a validated registry. 0 or -EINVAL with err (bad address). */
int dp_rx_cfg_from(const struct cm_config *config, struct dp_rx_cfg *cfg, char *err,
		   size_t errlen);
/*
 * Parse "host:port" / "[v6]:port" / ":port" (any address) into l (proto and
 * tcp untouched). 0 or -EINVAL.
 */
int dp_listener_parse(const char *text, struct dp_listener *l);

enum dp_rx_msg_flags {
	DP_RX_COMPLETE = 1u << 0,  /* buf ends at a message boundary (always set today) */
	DP_RX_TCP = 1u << 1,       /* a stretch of a TCP stream */
};

/* One payload. Plain struct (the worker reads it per message). */
struct dp_rx_msg {
	const uint8_t *buf;        /* borrowed: valid during the callback */
	uint32_t len;
	uint8_t proto;             /* enum dp_proto */
	uint8_t flags;             /* enum dp_rx_msg_flags */
	uint16_t src_port;         /* host order */
	uint8_t src_addr[16];      /* IPv4 as ::ffff:a.b.c.d */
	int64_t unit_ns;           /* line protocol: the listener's precision */
};

/* HOT PATH. The worker's consumer of a burst (n >= 1). */
typedef void (*dp_rx_burst_fn)(void *ctx, const struct dp_rx_msg *msgs, uint32_t n);

/* Why a backend dropped a payload before any decoder saw it. */
enum dp_rx_drop {
	DP_RXD_TRUNCATED = 0,    /* socket: datagram larger than the buffer (MSG_TRUNC) */
	DP_RXD_NO_BUFFER,        /* socket: provided-buffer ring empty (ENOBUFS) */
	DP_RXD_KERNEL_OVERFLOW,  /* socket: dropped by the kernel, socket buffer full (SO_RXQ_OVFL) */
	DP_RXD_LINE_TOO_LONG,    /* TCP: a line longer than the connection buffer (bytes dropped: one per line) */
	DP_RXD_NOT_IP,           /* DPDK: not IPv4/IPv6 (ARP, LLDP, ...) */
	DP_RXD_NOT_UDP,          /* DPDK: IP but not UDP */
	DP_RXD_FRAGMENT,         /* DPDK: an IPv4 fragment or IPv6 fragment header */
	DP_RXD_BAD_HEADER,       /* DPDK: bad IP version/IHL/checksum-free length fields */
	DP_RXD_BAD_LENGTH,       /* DPDK: IP or UDP length disagrees with the frame */
	DP_RXD_UNKNOWN_PORT,     /* DPDK: no listener on the UDP destination port */
	DP_RXD_DST_FILTERED,     /* DPDK: destination address not accepted by config */
	DP_RXD_NIC_MISSED,       /* DPDK: port imissed (ring full) */
	DP_RXD_NIC_NOMBUF,       /* DPDK: port rx_nombuf (mempool empty) */
	DP_RXD_NIC_ERRORS,       /* DPDK: port ierrors */
	DP_RXD__COUNT
};
/* "truncated", "no_buffer", ...; "unknown" when out of range. */
const char *dp_rx_drop_name(enum dp_rx_drop d);

/* Counters of a backend, summed over its workers. */
struct dp_rx_stats {
	uint64_t packets;                   /* frames or datagrams received (before drops) */
	uint64_t msgs[DP_PROTO__COUNT];     /* delivered to the workers */
	uint64_t bytes[DP_PROTO__COUNT];
	uint64_t drops[DP_RXD__COUNT];
	uint64_t tcp_accepted;
	uint64_t tcp_open;
	uint64_t rcvbuf_bytes;              /* socket: SO_RCVBUF granted (per socket) */
	uint64_t igmp_sent;                 /* DPDK: membership reports sent */
};

/*
 * The counters every backend keeps per worker (written by that worker only,
 * cm_ctr_add; read with relaxed loads), and the two operations on them.
 */
struct dp_rx_ctrs {
	_Atomic uint64_t packets;
	_Atomic uint64_t msgs[DP_PROTO__COUNT];
	_Atomic uint64_t bytes[DP_PROTO__COUNT];
	_Atomic uint64_t drops[DP_RXD__COUNT];
};

/* HOT PATH, the owning worker: count a delivered burst per protocol. */
static inline void dp_rx_ctrs_count_burst(struct dp_rx_ctrs *c, const struct dp_rx_msg *m,
					  uint32_t n)
{
	uint64_t msgs[DP_PROTO__COUNT] = {0}, bytes[DP_PROTO__COUNT] = {0};
	for (uint32_t i = 0; i < n; i++) {
		msgs[m[i].proto]++;
		bytes[m[i].proto] += m[i].len;
	}
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		if (msgs[p]) {
			cm_ctr_add(&c->msgs[p], msgs[p]);
			cm_ctr_add(&c->bytes[p], bytes[p]);
		}
}

/* Any thread: add c's counters into *out. */
void dp_rx_ctrs_sum(const struct dp_rx_ctrs *c, struct dp_rx_stats *out);

struct dp_backend;

/* A backend: its ops table is filled at create and constant afterwards. */
struct dp_backend_ops {
	const char *name;  /* "socket", "dpdk" */
	/* Worker w, once, on its own thread before the first poll. 0 or -errno. */
	int (*attach)(struct dp_backend *b, uint32_t w);
	/* HOT PATH. Deliver what is ready; never blocks. Returns messages delivered. */
	uint32_t (*poll)(struct dp_backend *b, uint32_t w, dp_rx_burst_fn fn, void *ctx);
	/* Worker w is idle: wait up to max_ns for input (may return at once). */
	void (*wait)(struct dp_backend *b, uint32_t w, int64_t max_ns);
	/* Any thread: add this backend's counters into *out. */
	void (*stats_read)(const struct dp_backend *b, struct dp_rx_stats *out);
	/* Main thread, no worker running. */
	void (*destroy)(struct dp_backend *b);
};

/* Every backend struct starts with this. */
struct dp_backend {
	const struct dp_backend_ops *ops;
	uint32_t nworkers;
};

#endif /* DP_RX_H */
