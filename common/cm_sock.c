/*
 * cm_sock.c - newline-delimited messages on a stream socket (cm_sock.h).
 *
 * The receive buffer starts at 64 KiB and doubles up to the caller's bound;
 * a search for the '\n' resumes where the last one stopped, so a line that
 * arrives in many pieces is scanned once. Any thread, one per buffer.
 */
#include "cm_sock.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cm_compiler.h"

#define RBUF_INITIAL ((size_t)64 << 10)
#define RBUF_SHRINK_ABOVE (16 * RBUF_INITIAL)   /* a larger buffer is given back when idle */

int cm_sock_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k ? -errno : -EIO;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int cm_sock_read_line(struct cm_sock_rbuf *b, int fd, size_t max, size_t *line_len)
{
	assert(b && line_len && max < SIZE_MAX);
	for (;;) {
		const char *nl = b->len > b->scanned
			? memchr(b->p + b->scanned, '\n', b->len - b->scanned) : NULL;
		if (nl) {
			*line_len = (size_t)(nl - b->p);
			return 0;
		}
		b->scanned = b->len;
		if (b->len > max)
			return -EMSGSIZE;
		if (b->len == b->cap) {
			size_t cap = CM_MAX(b->cap * 2, RBUF_INITIAL);
			cap = CM_MIN(cap, max + 1);
			char *p = realloc(b->p, cap);
			if (!p)
				return -ENOMEM;
			b->p = p;
			b->cap = cap;
		}
		assert(b->len < b->cap);
		ssize_t n = recv(fd, b->p + b->len, b->cap - b->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		b->len += (size_t)n;
	}
}

void cm_sock_rbuf_consume(struct cm_sock_rbuf *b, size_t n)
{
	n = CM_MIN(n, b->len);
	if (n) {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	b->scanned = 0;
	if (b->cap > RBUF_SHRINK_ABOVE && b->len <= RBUF_INITIAL) {
		char *p = realloc(b->p, RBUF_INITIAL);
		if (p) {
			b->p = p;
			b->cap = RBUF_INITIAL;
		}
	}
}

void cm_sock_rbuf_release(struct cm_sock_rbuf *b)
{
	free(b->p);
	*b = (struct cm_sock_rbuf){0};
}
