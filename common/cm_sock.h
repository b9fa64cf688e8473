/*
 * cm_sock.h - newline-delimited messages on a stream socket: send a buffer
 * whole, and receive into a growing buffer until it holds a whole line.
 * Shared by the management socket's server (mgmt/mg_ctl.c) and its client
 * (tools/sfctl.c), which speak newline-delimited JSON to each other
 * (docs/MGMT-PROTOCOL.md); sfctl links common/ only.
 *
 * Usage profile: a request or response at a time, lines of a few hundred
 * bytes to tens of MB. Blocking sockets; system calls, so never on the hot
 * path. A struct cm_sock_rbuf belongs to one thread at a time.
 */
#ifndef CM_SOCK_H
#define CM_SOCK_H

#include <stddef.h>

/*
 * Send buf[len] (borrowed) to its last byte on a connected stream socket.
 * EINTR is retried; a peer that has gone is -EPIPE (MSG_NOSIGNAL: no
 * SIGPIPE). Returns 0 or a negative errno.
 */
int cm_sock_send_all(int fd, const void *buf, size_t len);

/*
 * Bytes received and not yet consumed: p[0..len). A zeroed struct is an
 * empty buffer; the caller owns it and frees it with cm_sock_rbuf_release.
 * scanned is private (p[0..scanned) holds no '\n').
 */
struct cm_sock_rbuf {
	char *p;
	size_t len, cap;
	size_t scanned;
};

/*
 * Receive from fd until b holds a whole line. Returns 0 with *line_len set
 * (the line is p[0..*line_len), its '\n' at p[*line_len]); 1 at end of input
 * (b->len bytes without a '\n' are left, maybe none); -EMSGSIZE when more
 * than max bytes came without a '\n' (the buffer never grows past max + 1);
 * -ENOMEM; or the recv errno, negative. Bytes after the line stay for the
 * next call.
 */
int cm_sock_read_line(struct cm_sock_rbuf *b, int fd, size_t max, size_t *line_len);

/*
 * Drop the first n bytes of b (a line and its '\n'; n may exceed b->len:
 * all is dropped). A buffer grown large for one line shrinks back once what
 * is left fits the initial size.
 */
void cm_sock_rbuf_consume(struct cm_sock_rbuf *b, size_t n);

/* Free b's memory and zero it. */
void cm_sock_rbuf_release(struct cm_sock_rbuf *b);

#endif /* CM_SOCK_H */
