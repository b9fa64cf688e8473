/*
 * st_scache.c - the section cache (st_scache.h): a chained hash table of
 * entries on (owner, index) and a doubly linked list from most to least
 * recently used, under one mutex. An entry taken out of the table (evicted
 * or forgotten) while pinned is freed by its last release.
 */
#include "st_scache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct st_scache_entry {
	uint64_t owner;
	uint32_t idx;
	uint32_t refs;
	bool linked;                         /* in the table and the list */
	uint8_t *raw;
	size_t len;
	struct st_scache_entry *hnext;       /* hash chain */
	struct st_scache_entry *prev, *next; /* recency: head is the most recent */
};

struct st_scache {
	pthread_mutex_t mu;
	struct st_scache_entry **tab;
	size_t nbuckets;                     /* a power of two */
	struct st_scache_entry *head, *tail;
	struct st_scache_stats st;
};

static _Atomic uint64_t next_serial = 1;

uint64_t st_scache_serial(void)
{
	return atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
}

int st_scache_create(size_t max_bytes, struct st_scache **out)
{
	*out = NULL;
	if (max_bytes == 0)
		return -EINVAL;
	struct st_scache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbuckets = 256;
	c->tab = calloc(c->nbuckets, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->st.max_bytes = max_bytes;
	*out = c;
	return 0;
}

static void entry_free(struct st_scache_entry *e)
{
	free(e->raw);
	free(e);
}

void st_scache_destroy(struct st_scache *c)
{
	if (!c)
		return;
	for (struct st_scache_entry *e = c->head, *n; e; e = n) {
		n = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->mu);
	free(c->tab);
	free(c);
}

static size_t bucket(const struct st_scache *c, uint64_t owner, uint32_t idx)
{
	uint64_t h = (owner * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)idx * 0xc2b2ae3d27d4eb4fULL);
	return (size_t)(h ^ (h >> 29)) & (c->nbuckets - 1);
}

static struct st_scache_entry *find(const struct st_scache *c, uint64_t owner, uint32_t idx)
{
	struct st_scache_entry *e = c->tab[bucket(c, owner, idx)];
	while (e && (e->owner != owner || e->idx != idx))
		e = e->hnext;
	return e;
}

static void list_unlink(struct st_scache *c, struct st_scache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_head(struct st_scache *c, struct st_scache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Out of the table and the list; freed now, or by its last release when pinned. */
static void drop(struct st_scache *c, struct st_scache_entry *e)
{
	struct st_scache_entry **pp = &c->tab[bucket(c, e->owner, e->idx)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(c, e);
	e->linked = false;
	c->st.bytes -= e->len;
	c->st.entries--;
	if (e->refs == 0)
		entry_free(e);
}

/* Twice the buckets when the entries outnumber them (a failed grow keeps the table). */
static void grow(struct st_scache *c)
{
	size_t n = c->nbuckets * 2;
	struct st_scache_entry **t = calloc(n, sizeof(*t));
	if (!t)
		return;
	struct st_scache_entry **old = c->tab;
	size_t oldn = c->nbuckets;
	c->tab = t;
	c->nbuckets = n;
	for (size_t i = 0; i < oldn; i++)
		for (struct st_scache_entry *e = old[i], *next; e; e = next) {
			next = e->hnext;
			size_t b = bucket(c, e->owner, e->idx);
			e->hnext = t[b];
			t[b] = e;
		}
	free(old);
}

int st_scache_get(struct st_scache *c, uint64_t owner, uint32_t idx, struct st_scache_ref *ref)
{
	pthread_mutex_lock(&c->mu);
	struct st_scache_entry *e = find(c, owner, idx);
	if (e) {
		e->refs++;
		if (c->head != e) {
			list_unlink(c, e);
			list_push_head(c, e);
		}
		c->st.hits++;
	} else {
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->mu);
	*ref = (struct st_scache_ref){.raw = e ? e->raw : NULL, .e = e};
	return e ? 0 : -ENOENT;
}

int st_scache_put(struct st_scache *c, uint64_t owner, uint32_t idx, uint8_t *raw, size_t len,
		  struct st_scache_ref *ref)
{
	*ref = (struct st_scache_ref){0};
	struct st_scache_entry *n = malloc(sizeof(*n));
	if (!n) {
		free(raw);
		return -ENOMEM;
	}
	*n = (struct st_scache_entry){.owner = owner, .idx = idx, .refs = 1, .linked = true,
				      .raw = raw, .len = len};
	pthread_mutex_lock(&c->mu);
	struct st_scache_entry *e = find(c, owner, idx);
	if (e) { /* another reader decompressed it meanwhile */
		e->refs++;
		entry_free(n);
		n = e;
	} else {
		size_t b = bucket(c, owner, idx);
		n->hnext = c->tab[b];
		c->tab[b] = n;
		list_push_head(c, n);
		c->st.bytes += len;
		c->st.entries++;
		if (c->st.entries > c->nbuckets)
			grow(c);
		/* the least recently used out, not the one just added */
		for (struct st_scache_entry *v = c->tail, *prev;
		     v && c->st.bytes > c->st.max_bytes && v != n; v = prev) {
			prev = v->prev;
			drop(c, v);
			c->st.evictions++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	*ref = (struct st_scache_ref){.raw = n->raw, .e = n};
	return 0;
}

void st_scache_release(struct st_scache *c, struct st_scache_ref *ref)
{
	struct st_scache_entry *e = ref->e;
	if (!e)
		return;
	pthread_mutex_lock(&c->mu);
	bool last = --e->refs == 0 && !e->linked;
	pthread_mutex_unlock(&c->mu);
	if (last)
		entry_free(e);
	*ref = (struct st_scache_ref){0};
}

void st_scache_forget(struct st_scache *c, uint64_t owner)
{
	pthread_mutex_lock(&c->mu);
	for (struct st_scache_entry *e = c->head, *next; e; e = next) {
		next = e->next;
		if (e->owner == owner)
			drop(c, e);
	}
	pthread_mutex_unlock(&c->mu);
}

void st_scache_stats_read(struct st_scache *c, struct st_scache_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}
