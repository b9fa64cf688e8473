/*
 * dp_sock.c - the kernel-socket receive backend (dp_sock.h): per-worker
 * SO_REUSEPORT sockets read through one io_uring per worker (multishot
 * recvmsg over a provided-buffer ring for UDP, multishot accept and plain
 * recv for TCP), or through epoll + recvmmsg where io_uring cannot.
 *
 * Usage profile: the UDP path runs at up to millions of datagrams per
 * second; a poll pass enters the kernel once (to submit re-arms and to run
 * the receive work io_uring deferred to this thread), then reads up to
 * POLL_CQES completions. Sockets are created on the main thread by
 * dp_sock_create; a worker's ring, buffers and connection table by
 * ops->attach on that worker; poll and wait run on the worker only, and the
 * counters are read by any thread.
 */
#include "dp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "dp_pkt.h"

#define MOD "socket"

/* A UDP buffer: io_uring's recvmsg header, the source address, control messages, payload. */
#define NAME_BYTES 32u   /* a sockaddr_in6 (28), rounded so the cmsgs that follow are aligned */
#define CTRL_BYTES (DP_SOCK_BUF_HEADER_BYTES - NAME_BYTES - (uint32_t)sizeof(struct io_uring_recvmsg_out))
static_assert(sizeof(struct io_uring_recvmsg_out) == 16, "io_uring recvmsg header");
static_assert(sizeof(struct sockaddr_in6) <= NAME_BYTES, "name room");
static_assert(CTRL_BYTES >= CMSG_SPACE(sizeof(uint32_t)), "room for SO_RXQ_OVFL");
static_assert(NAME_BYTES % 8 == 0, "cmsghdr alignment");

#define BUF_ALIGN 64u         /* UDP buffers start on cache lines (and 8-byte headers) */
#define POLL_CQES 256u        /* completions read per poll at most */
#define FB_EVENTS 64          /* fallback: epoll events per poll */
#define FB_UDP_BATCHES 4u     /* fallback: recvmmsg calls per ready socket per poll */
#define FB_ACCEPTS 16u        /* fallback: accepts per ready listener per poll */


/* ================================================================ config */

static const struct cm_cfg_key sock_keys[] = {
	{"socket.rcvbuf", CM_CFG_SIZE, "8MiB", 4096, 1 << 30, NULL, false,
	 "SO_RCVBUF of every UDP socket (past net.core.rmem_max with CAP_NET_ADMIN)"},
	{"socket.buffers", CM_CFG_INT, "256", 1, 32768, NULL, false,
	 "UDP receive buffers per worker (a power of two)"},
	{"socket.buffer_bytes", CM_CFG_SIZE, "65664", 512, 16 << 20, NULL, false,
	 "bytes per UDP receive buffer; datagrams up to this minus 128 are delivered, longer "
	 "ones are counted as truncated"},
	{"socket.tcp_buffer_bytes", CM_CFG_SIZE, "1MiB", 1024, 64 << 20, NULL, false,
	 "per TCP connection: the longest line (with its newline) that is delivered"},
	{"socket.tcp_max_conns", CM_CFG_INT, "1024", 1, 65536, NULL, false,
	 "open TCP connections per worker; more are closed at once"},
	{"socket.ring_entries", CM_CFG_INT, "256", 8, 32768, NULL, false,
	 "io_uring submission queue entries per worker"},
	{"socket.uring", CM_CFG_BOOL, "true", 0, 0, NULL, false,
	 "receive through io_uring (false: epoll and recvmmsg)"},
};

const struct cm_cfg_table dp_sock_cfg_table = {
	.module = "socket",
	.keys = sock_keys,
	.nkeys = CM_ARRAY_SIZE(sock_keys),
};

void dp_sock_cfg_default(struct dp_sock_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rcvbuf_bytes = 8u << 20;
	cfg->buffers = 256;
	cfg->buffer_bytes = 65536 + DP_SOCK_BUF_HEADER_BYTES;
	cfg->tcp_buffer_bytes = 1u << 20;
	cfg->tcp_max_conns = 1024;
	cfg->ring_entries = 256;
	cfg->uring = true;
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int dp_sock_cfg_from(const struct cm_config *config, struct dp_sock_cfg *cfg, char *err,
		     size_t errlen)
{
	struct dp_sock_cfg c;

	dp_sock_cfg_default(&c);
	c.rcvbuf_bytes = (uint64_t)cm_config_int(config, "socket.rcvbuf");
	c.buffers = (uint32_t)cm_config_int(config, "socket.buffers");
	c.buffer_bytes = (uint32_t)cm_config_int(config, "socket.buffer_bytes");
	c.tcp_buffer_bytes = (uint32_t)cm_config_int(config, "socket.tcp_buffer_bytes");
	c.tcp_max_conns = (uint32_t)cm_config_int(config, "socket.tcp_max_conns");
	c.ring_entries = (uint32_t)cm_config_int(config, "socket.ring_entries");
	c.uring = cm_config_bool(config, "socket.uring");
	if (!is_pow2(c.buffers)) {
		snprintf(err, errlen, "socket.buffers: %u is not a power of two", c.buffers);
		return -EINVAL;
	}
	*cfg = c;
	return 0;
}

/* Bounds dp_sock_create relies on (the registry checks them for configs). */
static int cfg_check(const struct dp_sock_cfg *c, char *err, size_t errlen)
{
	if (!is_pow2(c->buffers) || c->buffers > 32768) {
		snprintf(err, errlen, "socket.buffers: %u is not a power of two up to 32768",
			 c->buffers);
		return -EINVAL;
	}
	if (c->buffer_bytes < 512 || c->buffer_bytes > (16u << 20)) {
		snprintf(err, errlen, "socket.buffer_bytes: %u is outside [512, 16MiB]",
			 c->buffer_bytes);
		return -EINVAL;
	}
	if (c->tcp_buffer_bytes < 1024 || c->tcp_buffer_bytes > (64u << 20) ||
	    c->tcp_max_conns < 1 || c->tcp_max_conns > 65536) {
		snprintf(err, errlen, "socket.tcp_buffer_bytes or socket.tcp_max_conns out of bounds");
		return -EINVAL;
	}
	if (c->ring_entries < 8 || c->ring_entries > 32768 || c->rcvbuf_bytes < 1) {
		snprintf(err, errlen, "socket.ring_entries or socket.rcvbuf out of bounds");
		return -EINVAL;
	}
	return 0;
}

/* ================================================================ state */

/* What an io_uring request or epoll registration is about (user_data bits 32..39). */
enum tag {
	TAG_NONE = 0,
	TAG_UDP,      /* index: the worker's UDP socket */
	TAG_ACCEPT,   /* the worker's TCP listener */
	TAG_TCP,      /* index: the connection slot */
};

static inline uint64_t tag_make(enum tag t, uint32_t index)
{
	return (uint64_t)t << 32 | index;
}

static inline enum tag tag_type(uint64_t ud)
{
	return (enum tag)(ud >> 32);
}

static inline uint32_t tag_index(uint64_t ud)
{
	return (uint32_t)ud;
}

/* Per-worker counters: written by the worker only (cm_ctr_add), read by anyone. */
struct sock_ctrs {
	struct dp_rx_ctrs rx;
	_Atomic uint64_t tcp_accepted;
	_Atomic uint64_t tcp_open;      /* a gauge, stored by the worker */
	_Atomic uint64_t tcp_rejected;
	_Atomic uint64_t tcp_resets;
	_Atomic uint64_t accept_errors;
	_Atomic uint64_t recv_errors;
	_Atomic uint64_t rearms;
	_Atomic int mode;               /* enum dp_sock_mode; stored by attach */
};

struct udp_sock {
	int fd;
	uint8_t lid;          /* enum dp_listener_id */
	bool armed;           /* io_uring: a multishot recvmsg is pending */
	uint32_t ovfl_seen;   /* the socket's SO_RXQ_OVFL count when last seen */
};

/* What to do with a connection once the burst that holds its message was delivered. */
enum conn_after {
	CONN_IDLE = 0,
	CONN_KEEP_TAIL,   /* move the partial line to the front, read on */
	CONN_CLOSE,       /* end of stream: the last line was delivered */
};

struct conn {
	int fd;
	uint32_t len;         /* bytes held in buf */
	uint32_t delivered;   /* bytes of buf in the pending burst (CONN_KEEP_TAIL) */
	uint8_t after;        /* enum conn_after */
	bool discarding;      /* dropping a too-long line up to its '\n' */
	uint16_t src_port;
	uint8_t src_addr[16];
	uint8_t *buf;         /* tcp_buffer_bytes, in the worker's conn_mem */
};

/* Fallback receive batch (recvmmsg), allocated at attach. */
struct fb_batch {
	struct mmsghdr mm[DP_SOCK_BURST];
	struct iovec iov[DP_SOCK_BURST];
	struct sockaddr_in6 name[DP_SOCK_BURST];
	struct {
		_Alignas(size_t) uint8_t bytes[CTRL_BYTES];  /* cmsghdr alignment */
	} ctrl[DP_SOCK_BURST];
	uint32_t n;   /* entries in use: min(buffers, DP_SOCK_BURST) */
};

/*
 * One worker. Cache aligned; everything but the counters' readers belongs
 * to the worker thread after attach (before: to the main thread).
 */
struct worker {
	struct sock_ctrs c;
	uint32_t nudp;
	struct udp_sock udp[DP_LISTEN__COUNT];
	int listen_fd;            /* -1: no TCP listener */
	uint8_t tcp_lid;
	bool accept_armed;

	/* attach */
	bool ring_up;
	bool enter_for_events;    /* task work runs only when we enter the kernel */
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint32_t br_mask;
	uint8_t *bufs;            /* buffers * buf_stride */
	size_t bufs_bytes;
	struct msghdr mshdr;      /* the multishot recvmsg layout (name and control sizes) */
	int epfd;                 /* fallback */
	struct fb_batch *fb;      /* fallback */
	struct conn *conns;
	uint32_t *free_conns;
	uint32_t nfree;           /* free slots; open connections = tcp_max_conns - nfree */
	uint8_t *conn_mem;
	size_t conn_mem_bytes;

	/* the burst being collected */
	uint32_t nmsgs, nbids, ntcp;
	struct dp_rx_msg msgs[DP_SOCK_BURST];
	uint16_t bids[DP_SOCK_BURST];        /* UDP buffers the burst's messages sit in */
	uint32_t tcp_pending[DP_SOCK_BURST]; /* connections with a message in the burst */
} CM_CACHE_ALIGNED;

struct sock_backend {
	struct dp_backend base;
	struct dp_rx_cfg cfg;
	struct dp_sock_cfg scfg;
	uint32_t buf_stride;      /* buffer_bytes rounded up to BUF_ALIGN */
	uint64_t rcvbuf_granted;  /* smallest SO_RCVBUF the UDP sockets got */
	struct worker *w;         /* [nworkers] */
};

static const struct dp_backend_ops sock_ops;

static inline struct sock_backend *sb(struct dp_backend *b)
{
	assert(b->ops == &sock_ops);
	return (struct sock_backend *)b;
}

static inline const struct sock_backend *sbc(const struct dp_backend *b)
{
	assert(b->ops == &sock_ops);
	return (const struct sock_backend *)b;
}

static inline uint8_t *udp_buf(const struct sock_backend *b, const struct worker *w, uint32_t bid)
{
	return w->bufs + (size_t)bid * b->buf_stride;
}

/* ================================================================ sockets (create) */

static int sockerr(char *err, size_t errlen, const char *what, enum dp_listener_id id,
		   const struct dp_listener *l)
{
	int rc = -errno;

	snprintf(err, errlen, "cannot %s %s %s: %s", what, dp_listener_key(id), l->text, strerror(-rc));
	return rc;
}

static socklen_t listener_sockaddr(const struct dp_listener *l, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (l->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(l->port);
		memcpy(&s6->sin6_addr, l->addr, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(l->port);
	memcpy(&s4->sin_addr, l->addr, 4);
	return sizeof(*s4);
}

static uint32_t listener_ipv4(const struct dp_listener *l)
{
	uint32_t a;

	memcpy(&a, l->addr, 4);
	return a;
}

/* An IPv4 UDP listener that can receive multicast: bound to 0.0.0.0 or to a group. */
static bool mcast_capable(const struct dp_listener *l)
{
	uint32_t a = ntohl(listener_ipv4(l));

	return l->family == AF_INET && !l->tcp && (a == INADDR_ANY || IN_MULTICAST(a));
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

/* Join every configured group on fd (worker 0's socket of a multicast-capable listener). */
static int join_groups(const struct dp_rx_cfg *cfg, int fd, enum dp_listener_id id, char *err,
		       size_t errlen)
{
	for (uint32_t g = 0; g < cfg->nmcast; g++) {
		struct ip_mreq mr = {
			.imr_multiaddr.s_addr = cfg->mcast[g],
			.imr_interface.s_addr = cfg->mcast_iface,
		};

		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
			int rc = -errno;
			char group[INET_ADDRSTRLEN], iface[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &cfg->mcast[g], group, sizeof(group));
			inet_ntop(AF_INET, &cfg->mcast_iface, iface, sizeof(iface));
			snprintf(err, errlen, "cannot join multicast group %s on %s %s (interface %s): %s",
				 group, dp_listener_key(id), cfg->listen[id].text, iface, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * One socket of listener id for worker wi: SO_REUSEPORT, bound, and for UDP
 * SO_RXQ_OVFL and the receive buffer. Returns the fd or -errno with err.
 */
static int open_listener(struct sock_backend *b, enum dp_listener_id id, uint32_t wi, char *err,
			 size_t errlen)
{
	const struct dp_listener *l = &b->cfg.listen[id];
	struct sockaddr_storage ss;
	socklen_t sslen = listener_sockaddr(l, &ss);
	int fd, rc;

	fd = socket(l->family, (l->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sockerr(err, errlen, "create a socket for", id, l);
	if (set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) {
		rc = sockerr(err, errlen, "set SO_REUSEPORT on", id, l);
		goto err_close;
	}
	if (l->tcp) {
		if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0) {
			rc = sockerr(err, errlen, "set SO_REUSEADDR on", id, l);
			goto err_close;
		}
	} else {
		int req = (int)CM_MIN(b->scfg.rcvbuf_bytes, (uint64_t)INT_MAX / 2);
		int got = 0;
		socklen_t gotlen = sizeof(got);

		if (set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1) < 0) {
			rc = sockerr(err, errlen, "set SO_RXQ_OVFL on", id, l);
			goto err_close;
		}
		if (set_int(fd, SOL_SOCKET, SO_RCVBUF, req) < 0) {
			rc = sockerr(err, errlen, "set SO_RCVBUF on", id, l);
			goto err_close;
		}
		(void)set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, req); /* EPERM without CAP_NET_ADMIN */
		if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gotlen) == 0 &&
		    (b->rcvbuf_granted == 0 || (uint64_t)got < b->rcvbuf_granted))
			b->rcvbuf_granted = (uint64_t)got;
		/* Receive only the groups this socket joined, not every group of the host. */
		if (l->family == AF_INET && set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0) < 0) {
			rc = sockerr(err, errlen, "set IP_MULTICAST_ALL on", id, l);
			goto err_close;
		}
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		rc = sockerr(err, errlen, "bind", id, l);
		goto err_close;
	}
	if (l->tcp && listen(fd, SOMAXCONN) < 0) {
		rc = sockerr(err, errlen, "listen on", id, l);
		goto err_close;
	}
	if (!l->tcp && wi == 0 && mcast_capable(l)) {
		rc = join_groups(&b->cfg, fd, id, err, errlen);
		if (rc)
			goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

static void log_listeners(const struct sock_backend *b)
{
	for (int id = 0; id < DP_LISTEN__COUNT; id++) {
		const struct dp_listener *l = &b->cfg.listen[id];

		if (!l->enabled || l->tcp)
			continue;
		if (b->cfg.nmcast > 0 && !mcast_capable(l))
			CM_LOG_WARN(MOD, "event=mcast_not_joined listener=%s addr=%s "
				    "hint=\"bind 0.0.0.0:port or group:port to receive multicast\"",
				    dp_listener_key(id), l->text);
	}
	uint64_t want = 2 * CM_MIN(b->scfg.rcvbuf_bytes, (uint64_t)INT_MAX / 2);

	if (b->rcvbuf_granted == 0)
		return;
	CM_LOG_INFO(MOD, "event=rcvbuf requested=%llu granted=%llu workers=%u",
		    (unsigned long long)b->scfg.rcvbuf_bytes, (unsigned long long)b->rcvbuf_granted,
		    b->base.nworkers);
	if (b->rcvbuf_granted < want)
		CM_LOG_WARN(MOD, "event=rcvbuf_capped granted=%llu "
			    "hint=\"raise net.core.rmem_max or grant CAP_NET_ADMIN\"",
			    (unsigned long long)b->rcvbuf_granted);
	if (b->scfg.buffer_bytes - DP_SOCK_BUF_HEADER_BYTES < b->cfg.max_datagram_bytes)
		CM_LOG_INFO(MOD, "event=small_buffers payload_max=%u max_datagram=%u "
			    "note=\"longer datagrams are counted as truncated\"",
			    b->scfg.buffer_bytes - DP_SOCK_BUF_HEADER_BYTES, b->cfg.max_datagram_bytes);
}

static void worker_close_sockets(struct worker *w)
{
	for (uint32_t i = 0; i < w->nudp; i++)
		if (w->udp[i].fd >= 0)
			close(w->udp[i].fd);
	w->nudp = 0;
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	w->listen_fd = -1;
}

static void worker_detach(const struct sock_backend *b, struct worker *w);

static void sock_destroy(struct dp_backend *base)
{
	if (!base)
		return;
	struct sock_backend *b = sb(base);

	for (uint32_t i = 0; i < b->base.nworkers; i++) {
		worker_detach(b, &b->w[i]);
		worker_close_sockets(&b->w[i]);
	}
	free(b->w);
	free(b);
}

int dp_sock_create(const struct dp_rx_cfg *cfg, const struct dp_sock_cfg *scfg, uint32_t nworkers,
		   struct dp_backend **out, char *err, size_t errlen)
{
	struct sock_backend *b;
	int rc;

	assert(cfg && scfg && out);
	*out = NULL;
	if (nworkers < 1 || nworkers > DP_SOCK_WORKERS_MAX) {
		snprintf(err, errlen, "socket backend: %u workers is outside [1, %u]", nworkers,
			 DP_SOCK_WORKERS_MAX);
		return -EINVAL;
	}
	rc = cfg_check(scfg, err, errlen);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		goto err_nomem;
	b->base.ops = &sock_ops;
	b->base.nworkers = nworkers;
	b->cfg = *cfg;
	b->scfg = *scfg;
	b->buf_stride = CM_ALIGN_UP(scfg->buffer_bytes, BUF_ALIGN);
	b->w = aligned_alloc(CM_CACHE_LINE, nworkers * sizeof(*b->w));
	if (!b->w) {
		free(b);
		goto err_nomem;
	}
	memset(b->w, 0, nworkers * sizeof(*b->w));
	for (uint32_t i = 0; i < nworkers; i++) {
		b->w[i].listen_fd = -1;
		b->w[i].epfd = -1;
	}
	for (uint32_t i = 0; i < nworkers; i++) {
		struct worker *w = &b->w[i];

		for (int id = 0; id < DP_LISTEN__COUNT; id++) {
			const struct dp_listener *l = &cfg->listen[id];

			if (!l->enabled)
				continue;
			int fd = open_listener(b, (enum dp_listener_id)id, i, err, errlen);

			if (fd < 0) {
				rc = fd;
				goto err_destroy;
			}
			if (l->tcp) {
				if (w->listen_fd >= 0) {  /* one TCP listener today */
					close(fd);
					snprintf(err, errlen, "socket backend: more than one TCP listener");
					rc = -EINVAL;
					goto err_destroy;
				}
				w->listen_fd = fd;
				w->tcp_lid = (uint8_t)id;
			} else {
				w->udp[w->nudp++] = (struct udp_sock){.fd = fd, .lid = (uint8_t)id};
			}
		}
	}
	log_listeners(b);
	*out = &b->base;
	return 0;

err_destroy:
	sock_destroy(&b->base);
	return rc;
err_nomem:
	snprintf(err, errlen, "socket backend: out of memory");
	return -ENOMEM;
}

/* ================================================================ attach */

static void *map_anon(size_t bytes, bool noreserve)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* UDP buffers and the connection table; touched first by the worker (NUMA). */
static int worker_alloc(const struct sock_backend *b, struct worker *w)
{
	if (w->nudp > 0) {
		w->bufs_bytes = (size_t)b->scfg.buffers * b->buf_stride;
		w->bufs = map_anon(w->bufs_bytes, false);
		if (!w->bufs)
			return -ENOMEM;
	}
	if (w->listen_fd >= 0) {
		uint32_t n = b->scfg.tcp_max_conns;

		/* Reserved, not committed: pages are used as far as connections fill them. */
		w->conn_mem_bytes = (size_t)n * b->scfg.tcp_buffer_bytes;
		w->conn_mem = map_anon(w->conn_mem_bytes, true);
		w->conns = calloc(n, sizeof(*w->conns));
		w->free_conns = calloc(n, sizeof(*w->free_conns));
		if (!w->conn_mem || !w->conns || !w->free_conns)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			w->conns[i].fd = -1;
			w->conns[i].buf = w->conn_mem + (size_t)i * b->scfg.tcp_buffer_bytes;
			w->free_conns[i] = n - 1 - i;  /* slot 0 is handed out first */
		}
		w->nfree = n;
	}
	return 0;
}

static void worker_detach(const struct sock_backend *b, struct worker *w)
{
	/* The ring first: it cancels the requests that write into the buffers below. */
	if (w->ring_up)
		io_uring_queue_exit(&w->ring);
	w->ring_up = false;
	if (w->br)
		munmap(w->br, w->br_bytes);
	w->br = NULL;
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	free(w->fb);
	w->fb = NULL;
	if (w->conns) {
		for (uint32_t i = 0; i < b->scfg.tcp_max_conns; i++)
			if (w->conns[i].fd >= 0)
				close(w->conns[i].fd);
	}
	free(w->conns);
	free(w->free_conns);
	w->conns = NULL;
	w->free_conns = NULL;
	if (w->conn_mem)
		munmap(w->conn_mem, w->conn_mem_bytes);
	w->conn_mem = NULL;
	if (w->bufs)
		munmap(w->bufs, w->bufs_bytes);
	w->bufs = NULL;
	atomic_store_explicit(&w->c.mode, DP_SOCK_MODE_DETACHED, memory_order_relaxed);
}

static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (cm_unlikely(!sqe)) {
		io_uring_submit(&w->ring);  /* the queue is full: hand it to the kernel */
		sqe = io_uring_get_sqe(&w->ring);
	}
	assert(sqe);
	return sqe;
}

static void arm_udp(struct worker *w, uint32_t i)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_recvmsg_multishot(sqe, w->udp[i].fd, &w->mshdr, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, tag_make(TAG_UDP, i));
	w->udp[i].armed = true;
}

static void arm_accept(struct worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, tag_make(TAG_ACCEPT, 0));
	w->accept_armed = true;
}

/* Create the ring with the cheapest task-work mode the kernel accepts. */
static int ring_init(const struct sock_backend *b, struct worker *w, const char **mode)
{
	static const struct {
		unsigned flags;
		const char *name;
		bool enter;
	} tries[] = {
		{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		 "single_issuer,defer_taskrun", true},
		{IORING_SETUP_COOP_TASKRUN, "coop_taskrun", true},
		{0, "default", false},
	};
	uint64_t cq = 64 + 2 * (uint64_t)b->scfg.ring_entries + 2 * DP_LISTEN__COUNT;
	int rc = -EINVAL;

	/* Room for a completion per buffer and per connection, so bursts rarely overflow. */
	if (w->nudp)
		cq += b->scfg.buffers;
	if (w->listen_fd >= 0)
		cq += b->scfg.tcp_max_conns;
	for (size_t i = 0; i < CM_ARRAY_SIZE(tries); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = (uint32_t)CM_MIN(cq, (uint64_t)65536);
		rc = io_uring_queue_init_params(b->scfg.ring_entries, &w->ring, &p);
		if (rc == -EINVAL)
			continue;
		if (rc < 0)
			return rc;
		if (!(p.features & IORING_FEAT_EXT_ARG)) {  /* wait's timeout needs it (5.11) */
			io_uring_queue_exit(&w->ring);
			return -ENOSYS;
		}
		w->ring_up = true;
		w->enter_for_events = tries[i].enter;
		*mode = tries[i].name;
		return 0;
	}
	return rc;
}

static int buf_ring_init(const struct sock_backend *b, struct worker *w)
{
	struct io_uring_buf_reg reg;
	uint32_t n = b->scfg.buffers;
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	/* liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring: map and register by hand. */
	w->br_bytes = CM_ALIGN_UP((size_t)n * sizeof(struct io_uring_buf), (size_t)page);
	w->br = map_anon(w->br_bytes, false);
	if (!w->br)
		return -ENOMEM;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)w->br;
	reg.ring_entries = n;
	reg.bgid = 0;
	rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (rc < 0)
		return rc;
	io_uring_buf_ring_init(w->br);
	w->br_mask = (uint32_t)io_uring_buf_ring_mask(n);
	for (uint32_t i = 0; i < n; i++)
		io_uring_buf_ring_add(w->br, udp_buf(b, w, i), b->scfg.buffer_bytes, (uint16_t)i,
				      (int)w->br_mask, (int)i);
	io_uring_buf_ring_advance(w->br, (int)n);
	return 0;
}

/*
 * io_uring mode: ring, buffer ring, first arms. Returns 0, or -errno (the
 * caller then tears the ring down and falls back); *why names the step.
 */
static int attach_uring(const struct sock_backend *b, struct worker *w, const char **why,
			const char **setup)
{
	struct io_uring_cqe *cqe;
	unsigned head;
	int rc;

	*why = "io_uring_setup";
	rc = ring_init(b, w, setup);
	if (rc)
		return rc;
	if (w->nudp) {
		*why = "buf_ring";
		rc = buf_ring_init(b, w);
		if (rc)
			return rc;
	}
	memset(&w->mshdr, 0, sizeof(w->mshdr));
	w->mshdr.msg_namelen = NAME_BYTES;
	w->mshdr.msg_controllen = CTRL_BYTES;
	for (uint32_t i = 0; i < w->nudp; i++)
		arm_udp(w, i);
	if (w->listen_fd >= 0)
		arm_accept(w);
	*why = "submit";
	rc = io_uring_submit_and_get_events(&w->ring);
	if (rc < 0)
		return rc;
	/* A kernel without multishot recvmsg or accept fails the arms at once. */
	*why = "multishot";
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		enum tag t = tag_type(cqe->user_data);

		if ((t == TAG_UDP || t == TAG_ACCEPT) && cqe->res == -EINVAL)
			return -EINVAL;
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Fallback mode: non-blocking sockets in an epoll set, a recvmmsg batch. */
static int attach_fallback(const struct sock_backend *b, struct worker *w)
{
	int rc;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	for (uint32_t i = 0; i < w->nudp; i++) {
		rc = set_nonblock(w->udp[i].fd);
		if (!rc)
			rc = epoll_add(w->epfd, w->udp[i].fd, tag_make(TAG_UDP, i));
		if (rc)
			return rc;
	}
	if (w->listen_fd >= 0) {
		rc = set_nonblock(w->listen_fd);
		if (!rc)
			rc = epoll_add(w->epfd, w->listen_fd, tag_make(TAG_ACCEPT, 0));
		if (rc)
			return rc;
	}
	if (w->nudp) {
		w->fb = calloc(1, sizeof(*w->fb));
		if (!w->fb)
			return -ENOMEM;
		w->fb->n = CM_MIN(b->scfg.buffers, DP_SOCK_BURST);
		for (uint32_t i = 0; i < w->fb->n; i++) {
			w->fb->iov[i].iov_base = udp_buf(b, w, i) + DP_SOCK_BUF_HEADER_BYTES;
			w->fb->iov[i].iov_len = b->scfg.buffer_bytes - DP_SOCK_BUF_HEADER_BYTES;
			w->fb->mm[i].msg_hdr.msg_iov = &w->fb->iov[i];
			w->fb->mm[i].msg_hdr.msg_iovlen = 1;
			w->fb->mm[i].msg_hdr.msg_name = &w->fb->name[i];
			w->fb->mm[i].msg_hdr.msg_control = w->fb->ctrl[i].bytes;
		}
	}
	return 0;
}

static int sock_attach(struct dp_backend *base, uint32_t wi)
{
	struct sock_backend *b = sb(base);
	struct worker *w;
	const char *why = "disabled", *setup = "";
	int rc;

	assert(wi < b->base.nworkers);
	w = &b->w[wi];
	if (atomic_load_explicit(&w->c.mode, memory_order_relaxed) != DP_SOCK_MODE_DETACHED)
		return -EALREADY;
	rc = worker_alloc(b, w);
	if (rc)
		goto err_detach;
	if (b->scfg.uring) {
		rc = attach_uring(b, w, &why, &setup);
		if (rc == 0) {
			atomic_store_explicit(&w->c.mode, DP_SOCK_MODE_URING, memory_order_relaxed);
			CM_LOG_INFO(MOD, "event=attach worker=%u mode=uring setup=%s udp_sockets=%u "
				    "tcp=%s buffers=%u buffer_bytes=%u",
				    wi, setup, w->nudp, w->listen_fd >= 0 ? "yes" : "no",
				    b->scfg.buffers, b->scfg.buffer_bytes);
			return 0;
		}
		CM_LOG_WARN(MOD, "event=uring_unavailable worker=%u step=%s err=\"%s\" fallback=recvmmsg",
			    wi, why, strerror(-rc));
		/* Start again from the buffers: the ring and its arms are gone. */
		worker_detach(b, w);
		rc = worker_alloc(b, w);
		if (rc)
			goto err_detach;
	}
	rc = attach_fallback(b, w);
	if (rc)
		goto err_detach;
	atomic_store_explicit(&w->c.mode, DP_SOCK_MODE_FALLBACK, memory_order_relaxed);
	CM_LOG_INFO(MOD, "event=attach worker=%u mode=fallback udp_sockets=%u tcp=%s batch=%u",
		    wi, w->nudp, w->listen_fd >= 0 ? "yes" : "no", w->fb ? w->fb->n : 0);
	return 0;

err_detach:
	worker_detach(b, w);
	CM_LOG_ERR(MOD, "event=attach_failed worker=%u err=\"%s\"", wi, strerror(-rc));
	return rc;
}

/* ================================================================ HOT PATH */
/*
 * No malloc, no locks, no logging below. Syscalls: one io_uring_enter per
 * poll (or the epoll_wait and reads of the fallback), plus getpeername and
 * close once per TCP connection.
 */

static void src_from_sockaddr(const void *sa, uint32_t salen, uint8_t addr[16], uint16_t *port)
{
	struct sockaddr_storage ss;
	uint16_t family;

	memset(addr, 0, 16);
	*port = 0;
	if (salen < sizeof(family))
		return;
	memcpy(&ss, sa, CM_MIN(salen, (uint32_t)sizeof(ss)));
	family = ss.ss_family;
	if (family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		dp_pkt_addr_v4mapped(s4->sin_addr.s_addr, addr);
		*port = ntohs(s4->sin_port);
	} else if (family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
}

/* SO_RXQ_OVFL carries the socket's drop count: count what it grew by. */
static void ovfl_update(struct worker *w, struct udp_sock *s, uint32_t total)
{
	uint32_t d = total - s->ovfl_seen;

	/* The count only grows; a smaller one (never seen) is not a drop. */
	if (d && d < (1u << 31)) {
		cm_ctr_add(&w->c.rx.drops[DP_RXD_KERNEL_OVERFLOW], d);
		s->ovfl_seen = total;
	}
}

static void cmsg_scan_one(struct worker *w, struct udp_sock *s, const struct cmsghdr *cm)
{
	if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL &&
	    cm->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
		uint32_t v;

		memcpy(&v, CMSG_DATA(cm), sizeof(v));
		ovfl_update(w, s, v);
	}
}

static struct dp_rx_msg *burst_add(const struct sock_backend *b, struct worker *w, uint8_t lid,
				   const uint8_t *buf, uint32_t len)
{
	const struct dp_listener *l = &b->cfg.listen[lid];
	struct dp_rx_msg *m;

	assert(w->nmsgs < DP_SOCK_BURST);
	m = &w->msgs[w->nmsgs++];
	m->buf = buf;
	m->len = len;
	m->proto = l->proto;
	m->flags = DP_RX_COMPLETE | (l->tcp ? DP_RX_TCP : 0);
	m->unit_ns = l->unit_ns;
	return m;
}

static void ring_return_buf(const struct sock_backend *b, struct worker *w, uint16_t bid, int off)
{
	io_uring_buf_ring_add(w->br, udp_buf(b, w, bid), b->scfg.buffer_bytes, bid, (int)w->br_mask,
			      off);
}

/* ---------------------------------------------------------------- TCP */

static void conn_rearm(const struct sock_backend *b, struct worker *w, uint32_t ci)
{
	struct conn *c = &w->conns[ci];

	if (!w->ring_up)
		return;  /* fallback: epoll reports the socket again */
	struct io_uring_sqe *sqe = get_sqe(w);

	assert(c->len < b->scfg.tcp_buffer_bytes);
	io_uring_prep_recv(sqe, c->fd, c->buf + c->len, b->scfg.tcp_buffer_bytes - c->len, 0);
	io_uring_sqe_set_data64(sqe, tag_make(TAG_TCP, ci));
}

/* Publish the tcp_open gauge: the slots not on the free list. */
static void conn_gauge(const struct sock_backend *b, struct worker *w)
{
	atomic_store_explicit(&w->c.tcp_open, b->scfg.tcp_max_conns - w->nfree,
			      memory_order_relaxed);
}

static void conn_close(const struct sock_backend *b, struct worker *w, uint32_t ci)
{
	struct conn *c = &w->conns[ci];

	close(c->fd);  /* no request is pending on it: the recv that ended it completed */
	c->fd = -1;
	c->after = CONN_IDLE;
	w->free_conns[w->nfree++] = ci;
	conn_gauge(b, w);
}

static void conn_open(const struct sock_backend *b, struct worker *w, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	uint32_t ci;
	struct conn *c;

	if (w->nfree == 0) {
		close(fd);
		cm_ctr_add(&w->c.tcp_rejected, 1);
		return;
	}
	ci = w->free_conns[--w->nfree];
	/* Fallback: accept4 made it non-blocking; epoll reports it from now on. */
	if (!w->ring_up && epoll_add(w->epfd, fd, tag_make(TAG_TCP, ci))) {
		close(fd);
		w->free_conns[w->nfree++] = ci;
		cm_ctr_add(&w->c.accept_errors, 1);
		return;
	}
	c = &w->conns[ci];
	c->fd = fd;
	c->len = 0;
	c->delivered = 0;
	c->after = CONN_IDLE;
	c->discarding = false;
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0)
		src_from_sockaddr(&ss, sslen, c->src_addr, &c->src_port);
	else
		src_from_sockaddr(NULL, 0, c->src_addr, &c->src_port);
	cm_ctr_add(&w->c.tcp_accepted, 1);
	conn_gauge(b, w);
	conn_rearm(b, w, ci);
}

static void conn_deliver(const struct sock_backend *b, struct worker *w, uint32_t ci,
			 uint32_t len, enum conn_after after)
{
	struct conn *c = &w->conns[ci];
	struct dp_rx_msg *m = burst_add(b, w, w->tcp_lid, c->buf, len);

	memcpy(m->src_addr, c->src_addr, 16);
	m->src_port = c->src_port;
	c->delivered = len;
	c->after = (uint8_t)after;
	w->tcp_pending[w->ntcp++] = ci;
}

/* n new bytes arrived at c->buf + c->len. */
static void conn_input(const struct sock_backend *b, struct worker *w, uint32_t ci, uint32_t n)
{
	struct conn *c = &w->conns[ci];
	uint32_t old = c->len;
	const uint8_t *last;

	assert(c->len + n <= b->scfg.tcp_buffer_bytes);
	c->len += n;
	if (c->discarding) {
		const uint8_t *nl = memchr(c->buf + old, '\n', n);

		if (!nl) {
			c->len = 0;
			conn_rearm(b, w, ci);
			return;
		}
		uint32_t rest = (uint32_t)(c->buf + c->len - (nl + 1));

		memmove(c->buf, nl + 1, rest);
		c->len = rest;
		c->discarding = false;
		old = 0;
	}
	last = c->len > old ? memrchr(c->buf + old, '\n', c->len - old) : NULL;
	if (last) {
		conn_deliver(b, w, ci, (uint32_t)(last + 1 - c->buf), CONN_KEEP_TAIL);
		return;
	}
	if (c->len == b->scfg.tcp_buffer_bytes) {
		cm_ctr_add(&w->c.rx.drops[DP_RXD_LINE_TOO_LONG], 1);
		c->len = 0;
		c->discarding = true;
	}
	conn_rearm(b, w, ci);
}

/* The peer finished sending: its unterminated last line is a line. */
static void conn_eof(const struct sock_backend *b, struct worker *w, uint32_t ci)
{
	struct conn *c = &w->conns[ci];

	if (!c->discarding && c->len > 0)
		conn_deliver(b, w, ci, c->len, CONN_CLOSE);
	else
		conn_close(b, w, ci);
}

/* After the burst was delivered: keep the partial line, read on; or close. */
static void conn_after_burst(const struct sock_backend *b, struct worker *w, uint32_t ci)
{
	struct conn *c = &w->conns[ci];

	if (c->after == CONN_CLOSE) {
		conn_close(b, w, ci);
		return;
	}
	assert(c->after == CONN_KEEP_TAIL && c->delivered <= c->len);
	c->len -= c->delivered;
	memmove(c->buf, c->buf + c->delivered, c->len);
	c->delivered = 0;
	c->after = CONN_IDLE;
	conn_rearm(b, w, ci);
}

static void conn_result(const struct sock_backend *b, struct worker *w, uint32_t ci, int res)
{
	if (res > 0) {
		conn_input(b, w, ci, (uint32_t)res);
	} else if (res == 0) {
		conn_eof(b, w, ci);
	} else if (res == -EAGAIN || res == -EINTR) {
		conn_rearm(b, w, ci);
	} else {
		cm_ctr_add(&w->c.tcp_resets, 1);
		conn_close(b, w, ci);
	}
}

/* ---------------------------------------------------------------- bursts */

/* Deliver the collected burst, then give its buffers back and settle its connections. */
static uint32_t burst_flush(const struct sock_backend *b, struct worker *w, dp_rx_burst_fn fn,
			    void *ctx)
{
	uint32_t n = w->nmsgs;

	if (n) {
		fn(ctx, w->msgs, n);
		dp_rx_ctrs_count_burst(&w->c.rx, w->msgs, n);
	}
	if (w->nbids) {
		for (uint32_t i = 0; i < w->nbids; i++)
			ring_return_buf(b, w, w->bids[i], (int)i);
		io_uring_buf_ring_advance(w->br, (int)w->nbids);
	}
	for (uint32_t i = 0; i < w->ntcp; i++)
		conn_after_burst(b, w, w->tcp_pending[i]);
	w->nmsgs = w->nbids = w->ntcp = 0;
	return n;
}

/* ---------------------------------------------------------------- io_uring mode */

static void udp_cqe(const struct sock_backend *b, struct worker *w, uint32_t si,
		    const struct io_uring_cqe *cqe)
{
	struct udp_sock *s = &w->udp[si];
	struct io_uring_recvmsg_out *o;
	uint16_t bid;
	uint8_t *buf;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		s->armed = false;  /* re-armed after this poll's buffers are back */
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			cm_ctr_add(&w->c.rx.drops[DP_RXD_NO_BUFFER], 1);
		else if (cqe->res != -ECANCELED)
			cm_ctr_add(&w->c.recv_errors, 1);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	buf = udp_buf(b, w, bid);
	cm_ctr_add(&w->c.rx.packets, 1);
	o = io_uring_recvmsg_validate(buf, cqe->res, &w->mshdr);
	if (o) {
		for (struct cmsghdr *cm = io_uring_recvmsg_cmsg_firsthdr(o, &w->mshdr); cm;
		     cm = io_uring_recvmsg_cmsg_nexthdr(o, &w->mshdr, cm))
			cmsg_scan_one(w, s, cm);
	}
	if (cm_unlikely(!o || (o->flags & MSG_TRUNC))) {
		cm_ctr_add(&w->c.rx.drops[DP_RXD_TRUNCATED], 1);
		ring_return_buf(b, w, bid, 0);
		io_uring_buf_ring_advance(w->br, 1);
		return;
	}
	struct dp_rx_msg *m = burst_add(b, w, s->lid, io_uring_recvmsg_payload(o, &w->mshdr),
					io_uring_recvmsg_payload_length(o, cqe->res, &w->mshdr));

	src_from_sockaddr(io_uring_recvmsg_name(o), CM_MIN(o->namelen, NAME_BYTES), m->src_addr,
			  &m->src_port);
	w->bids[w->nbids++] = bid;
}

static void accept_cqe(const struct sock_backend *b, struct worker *w, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		w->accept_armed = false;
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			cm_ctr_add(&w->c.accept_errors, 1);
		return;
	}
	conn_open(b, w, cqe->res);
}

static void uring_cqe(const struct sock_backend *b, struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t i = tag_index(cqe->user_data);

	switch (tag_type(cqe->user_data)) {
	case TAG_UDP:
		udp_cqe(b, w, i, cqe);
		break;
	case TAG_ACCEPT:
		accept_cqe(b, w, cqe);
		break;
	case TAG_TCP:
		conn_result(b, w, i, cqe->res);
		break;
	default:
		break;
	}
}

/* Multishot requests that ended (ENOBUFS, CQ overflow, errors) start again. */
static void uring_rearm(struct worker *w)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < w->nudp; i++) {
		if (!w->udp[i].armed) {
			arm_udp(w, i);
			n++;
		}
	}
	if (w->listen_fd >= 0 && !w->accept_armed) {
		arm_accept(w);
		n++;
	}
	if (n)
		cm_ctr_add(&w->c.rearms, n);
}

static uint32_t uring_poll(const struct sock_backend *b, struct worker *w, dp_rx_burst_fn fn,
			   void *ctx)
{
	struct io_uring_cqe *cqes[DP_SOCK_BURST];
	uint32_t delivered = 0;

	/* Submit last pass's re-arms; run the receive work deferred to this thread. */
	if (w->enter_for_events || io_uring_sq_ready(&w->ring))
		io_uring_submit_and_get_events(&w->ring);
	for (uint32_t seen = 0; seen < POLL_CQES;) {
		unsigned n = io_uring_peek_batch_cqe(&w->ring, cqes, DP_SOCK_BURST);

		for (unsigned i = 0; i < n; i++) {
			if (i + 1 < n)
				cm_prefetch(cqes[i + 1]);
			uring_cqe(b, w, cqes[i]);
			if (w->nmsgs == DP_SOCK_BURST)
				delivered += burst_flush(b, w, fn, ctx);
		}
		io_uring_cq_advance(&w->ring, n);
		seen += n;
		if (n < DP_SOCK_BURST)
			break;
	}
	delivered += burst_flush(b, w, fn, ctx);
	uring_rearm(w);  /* submitted by the next poll or wait */
	return delivered;
}

/* ---------------------------------------------------------------- fallback mode */

static void fb_udp(const struct sock_backend *b, struct worker *w, uint32_t si, dp_rx_burst_fn fn,
		   void *ctx, uint32_t *delivered)
{
	struct udp_sock *s = &w->udp[si];
	struct fb_batch *fb = w->fb;

	for (uint32_t k = 0; k < FB_UDP_BATCHES; k++) {
		/* The batch buffers are reused: what the burst holds goes out first. */
		*delivered += burst_flush(b, w, fn, ctx);
		for (uint32_t i = 0; i < fb->n; i++) {
			fb->mm[i].msg_hdr.msg_namelen = sizeof(fb->name[i]);
			fb->mm[i].msg_hdr.msg_controllen = CTRL_BYTES;
			fb->mm[i].msg_hdr.msg_flags = 0;
		}
		int r = recvmmsg(s->fd, fb->mm, fb->n, MSG_DONTWAIT, NULL);

		if (r <= 0) {
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				cm_ctr_add(&w->c.recv_errors, 1);
			return;
		}
		for (int i = 0; i < r; i++) {
			struct msghdr *h = &fb->mm[i].msg_hdr;

			cm_ctr_add(&w->c.rx.packets, 1);
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm))
				cmsg_scan_one(w, s, cm);
			if (h->msg_flags & MSG_TRUNC) {
				cm_ctr_add(&w->c.rx.drops[DP_RXD_TRUNCATED], 1);
				continue;
			}
			struct dp_rx_msg *m = burst_add(b, w, s->lid, fb->iov[i].iov_base,
							fb->mm[i].msg_len);

			src_from_sockaddr(&fb->name[i], h->msg_namelen, m->src_addr, &m->src_port);
		}
		if ((uint32_t)r < fb->n)
			return;
	}
}

static void fb_accept(const struct sock_backend *b, struct worker *w)
{
	for (uint32_t k = 0; k < FB_ACCEPTS; k++) {
		int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				cm_ctr_add(&w->c.accept_errors, 1);
			return;
		}
		conn_open(b, w, fd);
	}
}

static void fb_tcp(const struct sock_backend *b, struct worker *w, uint32_t ci)
{
	struct conn *c = &w->conns[ci];

	if (c->fd < 0 || c->after != CONN_IDLE)
		return;  /* closed, or its message is still in the burst */
	ssize_t r = recv(c->fd, c->buf + c->len, b->scfg.tcp_buffer_bytes - c->len, MSG_DONTWAIT);

	conn_result(b, w, ci, r < 0 ? -errno : (int)r);
}

static uint32_t fb_poll(const struct sock_backend *b, struct worker *w, dp_rx_burst_fn fn, void *ctx)
{
	struct epoll_event ev[FB_EVENTS];
	uint32_t delivered = 0;
	int n = epoll_wait(w->epfd, ev, FB_EVENTS, 0);

	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64;

		switch (tag_type(t)) {
		case TAG_UDP:
			fb_udp(b, w, tag_index(t), fn, ctx, &delivered);
			break;
		case TAG_ACCEPT:
			fb_accept(b, w);
			break;
		case TAG_TCP:
			fb_tcp(b, w, tag_index(t));
			break;
		default:
			break;
		}
		if (w->nmsgs == DP_SOCK_BURST)
			delivered += burst_flush(b, w, fn, ctx);
	}
	return delivered + burst_flush(b, w, fn, ctx);
}

static uint32_t sock_poll(struct dp_backend *base, uint32_t wi, dp_rx_burst_fn fn, void *ctx)
{
	const struct sock_backend *b = sbc(base);
	struct worker *w = &b->w[wi];

	assert(wi < b->base.nworkers);
	if (w->ring_up)
		return uring_poll(b, w, fn, ctx);
	if (w->epfd >= 0)
		return fb_poll(b, w, fn, ctx);
	return 0;
}

/* ================================================================ idle, stats */

/* Counters are single-writer (cm_ctr_add): a relaxed load reads them. */
#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Block up to ns on worker w's ring or epoll set; false if a signal cut it short. */
static bool wait_once(struct worker *w, int64_t ns)
{
	if (w->ring_up) {
		struct __kernel_timespec kts = {.tv_sec = ns / CM_NS_PER_SEC,
						.tv_nsec = ns % CM_NS_PER_SEC};
		struct io_uring_cqe *cqe;

		/* Returns at once if completions are waiting; submits pending re-arms. */
		return io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &kts, NULL) != -EINTR;
	}
	if (w->epfd >= 0) {
		struct timespec ts = {.tv_sec = ns / CM_NS_PER_SEC, .tv_nsec = ns % CM_NS_PER_SEC};
		struct epoll_event ev;
		int r = epoll_pwait2(w->epfd, &ev, 1, &ts, NULL);

		if (r < 0 && errno == ENOSYS)  /* before Linux 5.11: millisecond timeouts */
			r = epoll_wait(w->epfd, &ev, 1, (int)((ns + CM_NS_PER_MS - 1) / CM_NS_PER_MS));
		return !(r < 0 && errno == EINTR);
	}
	cm_sleep_ns(ns);
	return true;
}

static void sock_wait(struct dp_backend *base, uint32_t wi, int64_t max_ns)
{
	struct sock_backend *b = sb(base);
	struct worker *w = &b->w[wi];
	int64_t end;

	assert(wi < b->base.nworkers);
	if (max_ns <= 0) {
		wait_once(w, 0);
		return;
	}
	/*
	 * A signal (io_uring task work of a ring being torn down is one) ends a
	 * wait early: wait out the rest, a few times at most.
	 */
	end = cm_mono_ns() + max_ns;
	for (int i = 0; i < 4 && max_ns > 0; i++) {
		if (wait_once(w, max_ns))
			return;
		max_ns = end - cm_mono_ns();
	}
}

static void sock_stats_read(const struct dp_backend *base, struct dp_rx_stats *out)
{
	const struct sock_backend *b = sbc(base);

	for (uint32_t i = 0; i < b->base.nworkers; i++) {
		const struct sock_ctrs *c = &b->w[i].c;

		dp_rx_ctrs_sum(&c->rx, out);
		out->tcp_accepted += LD(c->tcp_accepted);
		out->tcp_open += LD(c->tcp_open);
	}
	/* A per-socket size, not a sum. */
	if (b->rcvbuf_granted)
		out->rcvbuf_bytes = b->rcvbuf_granted;
}

void dp_sock_stats_read(const struct dp_backend *base, struct dp_sock_stats *out)
{
	const struct sock_backend *b = sbc(base);

	memset(out, 0, sizeof(*out));
	sock_stats_read(base, &out->rx);
	for (uint32_t i = 0; i < b->base.nworkers; i++) {
		const struct sock_ctrs *c = &b->w[i].c;

		out->tcp_rejected += LD(c->tcp_rejected);
		out->tcp_resets += LD(c->tcp_resets);
		out->accept_errors += LD(c->accept_errors);
		out->recv_errors += LD(c->recv_errors);
		out->rearms += LD(c->rearms);
		switch (LD(c->mode)) {
		case DP_SOCK_MODE_URING:
			out->workers_uring++;
			break;
		case DP_SOCK_MODE_FALLBACK:
			out->workers_fallback++;
			break;
		default:
			break;
		}
	}
}

enum dp_sock_mode dp_sock_worker_mode(const struct dp_backend *base, uint32_t w)
{
	const struct sock_backend *b = sbc(base);

	assert(w < b->base.nworkers);
	return (enum dp_sock_mode)LD(b->w[w].c.mode);
}
#undef LD

const char *dp_sock_mode_name(enum dp_sock_mode m)
{
	static const char *const names[] = {"detached", "uring", "fallback"};

	return (unsigned)m < CM_ARRAY_SIZE(names) ? names[m] : "unknown";
}

static const struct dp_backend_ops sock_ops = {
	.name = "socket",
	.attach = sock_attach,
	.poll = sock_poll,
	.wait = sock_wait,
	.stats_read = sock_stats_read,
	.destroy = sock_destroy,
};
