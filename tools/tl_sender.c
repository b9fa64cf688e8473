/*
 * tl_sender.c - the binary-frame sender (API and DEF policy in
 * tl_sender.h). Frames are built with the dataplane's own writer
 * (dp_frame_writer_*), so a frame the sender sends is one the decoder
 * accepts by construction.
 *
 * State: the declared series (a dense array, found by ref through an
 * open-addressing table), each with a copy of its name and tags and an
 * "announced" bit (its DEF has been written into the stream since it was
 * last defined); the frame being filled; the DEF round cursor.
 */
#include "tl_sender.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dp_frame.h"

struct sdef {
	uint32_t ref;
	uint8_t type;
	bool announced;
	uint32_t ntags;
	struct st_str name;
	struct st_tag *tags;   /* ntags, pointing into strings */
	char *strings;         /* owned: name and tag bytes */
};

struct tl_sender {
	int fd;                          /* -1 with a send hook */
	tl_sender_send_fn send;
	void *send_ctx;
	uint32_t source_id;
	uint32_t max_bytes;
	uint32_t redef_every;
	uint64_t next_seq;               /* of the frame being filled, or the next one */
	bool open;                       /* a frame is being filled */
	uint32_t redef_pos;              /* next def of the current DEF round */
	uint64_t round_seq;              /* the frame the current DEF round began in */
	struct dp_frame_writer w;
	struct sdef *defs;
	uint32_t ndefs, defs_cap;
	uint32_t *slots;                 /* hash of ref -> index + 1 (0: empty) */
	uint32_t nslots;                 /* power of two, > 2 * ndefs */
	struct tl_sender_stats stats;
	uint8_t *buf;                    /* max_bytes */
};

/* ------------------------------------------------------------------------ */
/* Sockets                                                                   */
/* ------------------------------------------------------------------------ */

int tl_sender_dial(const char *host_port, int socktype, int *fd_out)
{
	char host[256];
	const char *colon = strrchr(host_port, ':');
	if (!colon || !colon[1] || (size_t)(colon - host_port) >= sizeof(host))
		return -EINVAL;
	size_t hlen = (size_t)(colon - host_port);
	memcpy(host, host_port, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
	struct addrinfo *res;
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res) != 0)
		return -EADDRNOTAVAIL;
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fd_out = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int tl_sender_send_all(int fd, const void *buf, size_t len, bool stream)
{
	const uint8_t *p = buf;
	for (int tries = 0; len > 0;) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOBUFS || errno == EAGAIN) && tries++ < 1000) {
			nanosleep(&(struct timespec){0, 100000}, NULL);
			continue;
		}
		if (n < 0)
			return -errno;
		if (!stream && (size_t)n != len)
			return -EMSGSIZE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Series table                                                              */
/* ------------------------------------------------------------------------ */

static uint32_t ref_hash(uint32_t ref)
{
	return ref * 0x9e3779b1u;
}

static struct sdef *find_def(const struct tl_sender *s, uint32_t ref)
{
	if (!s->nslots)
		return NULL;
	for (uint32_t i = ref_hash(ref) & (s->nslots - 1);; i = (i + 1) & (s->nslots - 1)) {
		uint32_t slot = s->slots[i];
		if (!slot)
			return NULL;
		if (s->defs[slot - 1].ref == ref)
			return &s->defs[slot - 1];
	}
}

static void slot_insert(uint32_t *slots, uint32_t nslots, uint32_t ref, uint32_t idx)
{
	uint32_t i = ref_hash(ref) & (nslots - 1);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = idx + 1;
}

/* Room for one more def: the array and a table at most half full. */
static int table_grow(struct tl_sender *s)
{
	if (s->ndefs == s->defs_cap) {
		uint32_t cap = s->defs_cap ? s->defs_cap * 2 : 16;
		struct sdef *d = realloc(s->defs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		s->defs = d;
		s->defs_cap = cap;
	}
	if (2 * (s->ndefs + 1) > s->nslots) {
		uint32_t n = s->nslots ? s->nslots * 2 : 32;
		uint32_t *slots = calloc(n, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (uint32_t i = 0; i < s->ndefs; i++)
			slot_insert(slots, n, s->defs[i].ref, i);
		free(s->slots);
		s->slots = slots;
		s->nslots = n;
	}
	return 0;
}

/* Copy name and tags into one block owned by d. */
static int def_fill(struct sdef *d, const char *name, const struct tl_sender_tag *tags,
		    uint32_t ntags)
{
	size_t bytes = strlen(name);
	for (uint32_t i = 0; i < ntags; i++)
		bytes += strlen(tags[i].key) + strlen(tags[i].value);
	char *str = malloc(bytes + 1);
	struct st_tag *t = ntags ? calloc(ntags, sizeof(*t)) : NULL;
	if (!str || (ntags && !t)) {
		free(str);
		free(t);
		return -ENOMEM;
	}
	char *p = str;
	size_t n = strlen(name);
	memcpy(p, name, n);
	d->name = (struct st_str){p, (uint32_t)n};
	p += n;
	for (uint32_t i = 0; i < ntags; i++) {
		size_t kl = strlen(tags[i].key), vl = strlen(tags[i].value);
		memcpy(p, tags[i].key, kl);
		t[i].key = (struct st_str){p, (uint32_t)kl};
		p += kl;
		memcpy(p, tags[i].value, vl);
		t[i].value = (struct st_str){p, (uint32_t)vl};
		p += vl;
	}
	d->strings = str;
	d->tags = t;
	d->ntags = ntags;
	return 0;
}

static void def_release(struct sdef *d)
{
	free(d->strings);
	free(d->tags);
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                    */
/* ------------------------------------------------------------------------ */

static int write_def(struct tl_sender *s, struct sdef *d)
{
	int rc = dp_frame_writer_def(&s->w, d->ref, d->type, d->name, d->tags, d->ntags);
	if (rc == 0) {
		d->announced = true;
		s->stats.defs++;
	}
	return rc;
}

/*
 * Start the next frame and go on with the DEF round: a round begins every
 * redef_every frames once the last one is complete, and takes at most half
 * of each frame, so points always get room however many refs there are.
 */
static void frame_begin(struct tl_sender *s)
{
	assert(!s->open);
	int rc = dp_frame_writer_init(&s->w, s->buf, s->max_bytes, s->source_id, s->next_seq);
	assert(rc == 0);
	(void)rc;
	s->open = true;
	if (s->redef_pos >= s->ndefs && s->next_seq - s->round_seq >= s->redef_every) {
		s->redef_pos = 0;
		s->round_seq = s->next_seq;
	}
	while (s->redef_pos < s->ndefs && s->w.len < s->max_bytes / 2 &&
	       write_def(s, &s->defs[s->redef_pos]) == 0)
		s->redef_pos++;
}

/* Finish and send the current frame (if it has records); it is gone either way. */
static int frame_send(struct tl_sender *s)
{
	if (!s->open || s->w.nrecords == 0)
		return 0;
	size_t len = dp_frame_writer_finish(&s->w);
	s->open = false;
	s->next_seq++;
	s->stats.frames++;
	int rc = s->send ? s->send(s->send_ctx, s->buf, len)
			 : tl_sender_send_all(s->fd, s->buf, len, false);
	if (rc) {
		s->stats.send_errors++;
		return rc;
	}
	s->stats.bytes += len;
	return 0;
}

int tl_sender_open(const char *host_port, uint32_t source_id, const struct tl_sender_opts *opts,
		   struct tl_sender **out)
{
	struct tl_sender_opts o = opts ? *opts : (struct tl_sender_opts){0};
	if (!o.max_datagram_bytes)
		o.max_datagram_bytes = TL_SENDER_DATAGRAM_DEFAULT;
	if (!o.redef_every)
		o.redef_every = TL_SENDER_REDEF_DEFAULT;
	if (o.max_datagram_bytes < TL_SENDER_DATAGRAM_MIN ||
	    o.max_datagram_bytes > TL_SENDER_DATAGRAM_MAX || (!o.send && !host_port))
		return -EINVAL;
	struct tl_sender *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->buf = malloc(o.max_datagram_bytes);
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	s->fd = -1;
	if (!o.send) {
		int rc = tl_sender_dial(host_port, SOCK_DGRAM, &s->fd);
		if (rc) {
			free(s->buf);
			free(s);
			return rc;
		}
	}
	s->send = o.send;
	s->send_ctx = o.send_ctx;
	s->source_id = source_id;
	s->max_bytes = o.max_datagram_bytes;
	s->redef_every = o.redef_every;
	s->next_seq = s->round_seq = o.first_seq;
	*out = s;
	return 0;
}

int tl_sender_define(struct tl_sender *s, uint32_t ref, const char *name,
		     const struct tl_sender_tag *tags, uint32_t ntags, uint8_t type)
{
	if (ntags > DP_WIRE_DEF_TAGS_MAX)
		return -EINVAL;
	struct sdef nd = {.ref = ref, .type = type};
	int rc = def_fill(&nd, name, tags, ntags);
	if (rc)
		return rc;
	/* Validate with the writer itself, in a frame of the datagram size. */
	struct dp_frame_writer probe;
	uint8_t *scratch = malloc(s->max_bytes);
	rc = scratch ? 0 : -ENOMEM;
	if (!rc) {
		dp_frame_writer_init(&probe, scratch, s->max_bytes, 0, 0);
		rc = dp_frame_writer_def(&probe, ref, type, nd.name, nd.tags, ntags);
		if (!rc && dp_frame_writer_point(&probe, ref, type, 0, (union st_value){0}))
			rc = -ENOSPC;
		if (rc == -ENOSPC)
			rc = -EMSGSIZE;
		free(scratch);
	}
	struct sdef *d = rc ? NULL : find_def(s, ref);
	if (!rc && !d) {
		rc = table_grow(s);
		if (!rc) {
			d = &s->defs[s->ndefs];
			slot_insert(s->slots, s->nslots, ref, s->ndefs++);
			*d = (struct sdef){0};
		}
	}
	if (rc) {
		def_release(&nd);
		return rc;
	}
	def_release(d);
	*d = nd;   /* announced false: the (new) DEF goes before the next point */
	return 0;
}

int tl_sender_point(struct tl_sender *s, uint32_t ref, int64_t ts_ns, union st_value v)
{
	struct sdef *d = find_def(s, ref);
	if (!d)
		return -ENOENT;
	if (ts_ns < 0 || (d->type == DP_WIRE_F64 && !isfinite(v.f64)))
		return -EINVAL;
	int err = 0;
	for (int tries = 0;; tries++) {
		if (!s->open)
			frame_begin(s);
		if ((d->announced || write_def(s, d) == 0) &&
		    dp_frame_writer_point(&s->w, ref, d->type, ts_ns, v) == 0)
			break;
		/* Full. tl_sender_define checked that a DEF and a point fit an empty
		 * frame; only a DEF round can fill several frames in a row. */
		assert(s->w.nrecords > 0 && tries <= (int)s->ndefs + 1);
		int rc = frame_send(s);
		if (rc && !err)
			err = rc;
	}
	s->stats.points++;
	return err;
}

int tl_sender_flush(struct tl_sender *s)
{
	return frame_send(s);
}

uint64_t tl_sender_next_seq(const struct tl_sender *s)
{
	return s->next_seq;
}

void tl_sender_stats(const struct tl_sender *s, struct tl_sender_stats *out)
{
	*out = s->stats;
}

int tl_sender_close(struct tl_sender *s)
{
	if (!s)
		return 0;
	int rc = frame_send(s);
	for (uint32_t i = 0; i < s->ndefs; i++)
		def_release(&s->defs[i]);
	free(s->defs);
	free(s->slots);
	free(s->buf);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return rc;
}
