/*
 * dp_sock.h - the kernel-socket receive backend (dp_rx.h): UDP and TCP
 * sockets read through io_uring, for machines or deployments without DPDK.
 *
 * Layout: every worker w owns one io_uring and its own sockets. Per enabled
 * UDP listener each worker has a UDP socket bound with SO_REUSEPORT (the
 * kernel spreads senders over the workers by a hash of the 4-tuple), and per
 * TCP listener one listening socket, also with SO_REUSEPORT. Sockets are
 * created and bound by dp_sock_create on the main thread, so a bad address
 * or a port in use is reported at start; each worker's io_uring and buffers
 * are created by ops->attach on the worker thread (its memory is then local
 * to the worker's NUMA node by first touch).
 *
 * UDP: one multishot recvmsg per socket over a provided-buffer ring of
 * socket.buffers buffers of socket.buffer_bytes. Each buffer holds a 128-byte
 * header (DP_SOCK_BUF_HEADER_BYTES: io_uring's recvmsg header, the source
 * address, control messages) and then the payload, so a datagram is
 * delivered whole if it is at most buffer_bytes - 128 bytes long (the
 * default, 65536 + 128, takes any UDP datagram). A longer one is not
 * delivered: it counts as DP_RXD_TRUNCATED.
 * Drop and stall counters:
 *   DP_RXD_KERNEL_OVERFLOW  datagrams the kernel dropped because the socket
 *                           buffer was full (SO_RXQ_OVFL); the count is
 *                           learned from the next datagram that arrives.
 *   DP_RXD_NO_BUFFER        times a socket's multishot receive stopped
 *                           because every provided buffer was in use
 *                           (ENOBUFS). Nothing is lost at that moment: the
 *                           datagrams wait in the socket buffer and the
 *                           receive is re-armed once buffers are returned,
 *                           in the same poll. If they overflow the socket
 *                           buffer meanwhile, KERNEL_OVERFLOW counts them.
 * Fallback: with socket.uring = false, or when the kernel refuses io_uring,
 * buffer rings or multishot receive (probed at attach), the worker uses
 * epoll, recvmmsg (batches of 32), accept4 and recv instead: same
 * deliveries, same counters (NO_BUFFER stays 0).
 *
 * TCP: connections are accepted by a multishot accept (at most
 * socket.tcp_max_conns per worker; extra connections are closed at once and
 * counted in tcp_rejected) and read into a per-connection buffer of
 * socket.tcp_buffer_bytes. Each read that completes one or more lines is
 * delivered as one message holding every complete line ('\n' included);
 * the partial last line waits for the next read. A line that does not fit
 * the buffer is dropped up to its '\n' and counted once as
 * DP_RXD_LINE_TOO_LONG. At end of stream a partial last line is delivered
 * as complete; after a reset it is dropped. TCP reads do not count in
 * dp_rx_stats.packets (datagrams only).
 *
 * Multicast: every IPv4 UDP socket has IP_MULTICAST_ALL off, so it only
 * receives the groups it joined. Worker 0's socket of each IPv4 UDP
 * listener bound to 0.0.0.0 (or to a multicast address) joins every group of
 * dataplane.multicast_groups on dataplane.multicast_iface. Only worker 0
 * joins because Linux delivers a multicast datagram to every member socket
 * (SO_REUSEPORT does not spread multicast): if all workers joined, each
 * datagram would be ingested once per worker. A listener bound to a unicast
 * address (127.0.0.1, the default) cannot receive multicast: it joins
 * nothing and create logs a warning. For multicast bind 0.0.0.0:port or
 * group:port.
 *
 * Socket receive buffer: SO_RCVBUF (and, with CAP_NET_ADMIN, SO_RCVBUFFORCE
 * past net.core.rmem_max) of socket.rcvbuf on every UDP socket. What the
 * kernel granted (getsockopt, which Linux reports doubled for its
 * bookkeeping) is logged once per listener and reported in
 * dp_rx_stats.rcvbuf_bytes (the smallest of the sockets, not a sum).
 *
 * Usage profile: up to millions of datagrams per second per machine, spread
 * over the workers; the poll path makes one io_uring_enter per pass and no
 * other syscall per datagram or read. Accepting and closing a TCP
 * connection makes a few syscalls (getpeername, close) on the worker.
 *
 * Threads: as dp_rx.h. dp_sock_create and destroy on the main thread;
 * attach, poll and wait on worker w only; stats_read and dp_sock_stats_read
 * on any thread.
 */
#ifndef DP_SOCK_H
#define DP_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_config.h"
#include "dp_rx.h"

/* Bytes at the start of each UDP buffer that are not payload. */
#define DP_SOCK_BUF_HEADER_BYTES 128u
/* Messages collected before the burst callback is called. */
#define DP_SOCK_BURST 32u

/* The backend's own settings (config module "socket"). Plain struct. */
struct dp_sock_cfg {
	uint64_t rcvbuf_bytes;      /* socket.rcvbuf: SO_RCVBUF requested per UDP socket */
	uint32_t buffers;           /* socket.buffers: UDP buffers per worker, a power of two */
	uint32_t buffer_bytes;      /* socket.buffer_bytes: per UDP buffer, header included */
	uint32_t tcp_buffer_bytes;  /* socket.tcp_buffer_bytes: per TCP connection */
	uint32_t tcp_max_conns;     /* socket.tcp_max_conns: open connections per worker */
	uint32_t ring_entries;      /* socket.ring_entries: io_uring submission queue size */
	bool uring;                 /* socket.uring: false forces the epoll/recvmmsg path */
};

/* Keys socket.*; bounds are checked by the registry, powers of two by dp_sock_cfg_from. */
extern const struct cm_cfg_table dp_sock_cfg_table;

/* The defaults of dp_sock_cfg_table. */
void dp_sock_cfg_default(struct dp_sock_cfg *cfg);

/*
 * Fill cfg from a registry holding dp_sock_cfg_table (borrowed). Returns 0,
 * or -EINVAL with err ("socket.buffers: 300 is not a power of two").
 */
int dp_sock_cfg_from(const struct cm_config *config, struct dp_sock_cfg *cfg, char *err,
		     size_t errlen);

/*
 * Create the backend for nworkers workers (1 ..DP_SOCK_WORKERS_MAX) and
 * bind every worker's sockets for the enabled listeners of cfg. cfg and
 * scfg are borrowed (copied). Returns 0 with *out owned by the caller
 * (out->ops->destroy), -EINVAL (bad cfg), -ENOMEM, or the errno of the
 * failing socket call with err naming the listener:
 *   "cannot bind statsd.listen 127.0.0.1:8125: Address already in use".
 * Main thread.
 */
#define DP_SOCK_WORKERS_MAX 1024u
int dp_sock_create(const struct dp_rx_cfg *cfg, const struct dp_sock_cfg *scfg, uint32_t nworkers,
		   struct dp_backend **out, char *err, size_t errlen);

/* How a worker receives (after attach). */
enum dp_sock_mode {
	DP_SOCK_MODE_DETACHED = 0,  /* attach not called (or failed) */
	DP_SOCK_MODE_URING,         /* multishot recvmsg, buffer ring, multishot accept */
	DP_SOCK_MODE_FALLBACK,      /* epoll, recvmmsg, accept4, recv */
};

/* Counters the generic dp_rx_stats has no field for, and the modes. */
struct dp_sock_stats {
	struct dp_rx_stats rx;      /* as ops->stats_read; rx.tcp_accepted counts kept connections */
	uint64_t tcp_rejected;      /* connections closed at once: tcp_max_conns reached */
	uint64_t tcp_resets;        /* connections ended by an error (partial line dropped) */
	uint64_t accept_errors;     /* accept failures (EMFILE, ...) */
	uint64_t recv_errors;       /* UDP receive failures other than ENOBUFS (re-armed) */
	uint64_t rearms;            /* multishot receives and accepts armed again */
	uint32_t workers_uring;     /* workers in DP_SOCK_MODE_URING */
	uint32_t workers_fallback;  /* workers in DP_SOCK_MODE_FALLBACK */
};

/*
 * Any thread: read b's counters (relaxed, per-worker single-writer) into
 * *out (overwritten). b must be a socket backend.
 */
void dp_sock_stats_read(const struct dp_backend *b, struct dp_sock_stats *out);

/* Worker w's mode; any thread (relaxed). */
enum dp_sock_mode dp_sock_worker_mode(const struct dp_backend *b, uint32_t w);

/* "detached", "uring", "fallback". */
const char *dp_sock_mode_name(enum dp_sock_mode m);

#endif /* DP_SOCK_H */
