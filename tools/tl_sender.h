/*
 * tl_sender.h - the binary-frame sender: what a feed handler links to push
 * points to StreamFlow's binary listener (binary.listen, default
 * 127.0.0.1:7100) as frames (dataplane/dp_wire.h,
 * docs/formats/binary-frame.md).
 *
 * A sender is one source: one source_id, one sequence of frame numbers
 * (+1 per frame, from opts.first_seq). The caller declares series under
 * refs it chooses (tl_sender_define) and sends points by ref
 * (tl_sender_point). Points are batched into a frame until the next record
 * would not fit max_datagram_bytes (1472 by default: an Ethernet MTU less
 * the IPv4 and UDP headers), then the frame is sent as one datagram. The
 * DEF of a ref goes out in the stream before its first point; and every
 * redef_every frames all DEFs are sent again at the start of a frame
 * (spilling into the following frames when they do not fit one), so a
 * receiver that restarted, or lost the datagram with a DEF, learns them
 * within redef_every frames. Nothing is sent on a timer: call
 * tl_sender_flush() when a batch ends (or a latency bound passes).
 *
 * Usage profile: one call per point, millions per second are possible (a
 * point is a 24-byte memcpy into the frame; a syscall per frame). Threads:
 * a sender belongs to one thread at a time.
 */
#ifndef TL_SENDER_H
#define TL_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

#define TL_SENDER_DATAGRAM_DEFAULT 1472u
#define TL_SENDER_DATAGRAM_MAX 65507u      /* the largest IPv4 UDP payload */
#define TL_SENDER_DATAGRAM_MIN 128u
#define TL_SENDER_REDEF_DEFAULT 64u

/*
 * Where frames go when not to a socket (tests, pcap writers): send one
 * datagram buf[len] (borrowed). Returns 0 or a negative errno.
 */
typedef int (*tl_sender_send_fn)(void *ctx, const void *buf, size_t len);

/* Options; zero means the default. Plain struct. */
struct tl_sender_opts {
	uint32_t max_datagram_bytes;   /* TL_SENDER_DATAGRAM_MIN .. _MAX; 0: 1472 */
	uint32_t redef_every;          /* frames between full DEF rounds; 0: 64 */
	uint64_t first_seq;            /* sequence number of the first frame */
	tl_sender_send_fn send;        /* NULL: a UDP socket connected to host_port */
	void *send_ctx;                /* kept for the sender's life */
};

/* A tag of a DEF: both NUL-terminated, borrowed by tl_sender_define. */
struct tl_sender_tag {
	const char *key;
	const char *value;
};

struct tl_sender_stats {
	uint64_t frames;        /* frames handed to the socket or send hook (sent or failed) */
	uint64_t points;
	uint64_t defs;          /* DEF records sent (first ones and repeats) */
	uint64_t bytes;         /* datagram bytes of the frames sent */
	uint64_t send_errors;   /* frames lost to a send error */
};

struct tl_sender;

/*
 * Open a sender for source_id. host_port ("host:port", "[v6]:port"; names
 * are resolved) is where frames go, unless opts->send is set (then it may
 * be NULL). opts may be NULL (defaults). Returns 0, -EINVAL (bad options or
 * address), -ENOMEM, or the errno of resolving/connecting (-EADDRNOTAVAIL
 * when the name does not resolve). *out is owned: tl_sender_close().
 */
int tl_sender_open(const char *host_port, uint32_t source_id, const struct tl_sender_opts *opts,
		   struct tl_sender **out);

/*
 * Declare (or redeclare) series ref: name, tags[ntags] (borrowed, copied)
 * and the value type of its points (DP_WIRE_F64 or DP_WIRE_I64). The DEF
 * is sent before the next point of ref. Returns 0, -EINVAL (what a decoder
 * would reject: empty name, a blank or control byte, a duplicate tag key,
 * over 64 tags or 255-byte strings, bad type), -EMSGSIZE (the DEF and one
 * point do not fit a datagram) or -ENOMEM.
 */
int tl_sender_define(struct tl_sender *s, uint32_t ref, const char *name,
		     const struct tl_sender_tag *tags, uint32_t ntags, uint8_t type);

/*
 * Queue one point of ref (v.f64 or v.i64 by the ref's type). Sends the
 * current frame first when the point (and a DEF it needs) does not fit.
 * Returns 0, -ENOENT (ref not defined), -EINVAL (ts_ns < 0, f64 not
 * finite; nothing queued), or a negative errno from sending a full frame:
 * that frame is lost and counted in send_errors, this point was queued.
 */
int tl_sender_point(struct tl_sender *s, uint32_t ref, int64_t ts_ns, union st_value v);

/* Send the current frame if it holds records. 0 or the send error (the frame is lost). */
int tl_sender_flush(struct tl_sender *s);

/* The sequence number the next frame will carry. */
uint64_t tl_sender_next_seq(const struct tl_sender *s);

void tl_sender_stats(const struct tl_sender *s, struct tl_sender_stats *out);

/* Flush, close the socket and free. Returns the flush's result. NULL is fine. */
int tl_sender_close(struct tl_sender *s);

/*
 * Resolve host_port ("host:port", "[v6]:port") and connect a socket of
 * socktype (SOCK_DGRAM or SOCK_STREAM) to the first address that accepts.
 * Returns 0 with *fd_out set (owned: close() it), -EINVAL (no port),
 * -EADDRNOTAVAIL (does not resolve) or the connect errno. Used by the
 * sender and by sfgen for every destination.
 */
int tl_sender_dial(const char *host_port, int socktype, int *fd_out);

/*
 * Send buf[len] (borrowed) on a connected socket fd: a datagram whole
 * (stream false: a short send is -EMSGSIZE), or a stream chunk to its last
 * byte (stream true). EINTR is retried; ENOBUFS and EAGAIN up to 1000 times
 * 0.1 ms apart. Returns 0 or a negative errno. Used by the sender and sfgen.
 */
int tl_sender_send_all(int fd, const void *buf, size_t len, bool stream);

#endif /* TL_SENDER_H */
