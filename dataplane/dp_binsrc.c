/*
 * dp_binsrc.c - see dp_binsrc.h. Sources: a fixed array (it never moves, so
 * readers can walk it) indexed by a small open-addressing table of ids.
 * Refs: an open-addressing table of (source << 32 | ref) -> struct
 * dp_binsrc_ref, doubled at half load (on a DEF, never on a POINT).
 */
#include "dp_binsrc.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

struct ref_slot {
	uint64_t id;                 /* source << 32 | ref; UINT64_MAX: empty */
	struct dp_binsrc_ref ref;
};

struct dp_binsrc {
	uint32_t max_sources, max_refs;
	_Atomic uint32_t nsources;       /* written by the owner; readers walk sources[] */
	struct dp_binsrc_source *sources;
	uint32_t *src_index;             /* source table: index + 1, 0 empty */
	uint32_t src_mask;
	struct ref_slot *refs;
	uint32_t ref_mask;
	_Atomic uint32_t nrefs;          /* owner-written */
	_Atomic uint64_t sources_full, refs_full, redefined;
	uint8_t **retired;               /* replaced keys, until dp_binsrc_reclaim */
	uint32_t nretired, retired_cap;
};

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct ref_slot *refs_alloc(uint32_t n)
{
	struct ref_slot *r = malloc((size_t)n * sizeof(*r));
	for (uint32_t i = 0; r && i < n; i++)
		r[i].id = UINT64_MAX;
	return r;
}

int dp_binsrc_create(uint32_t max_sources, uint32_t max_refs, struct dp_binsrc **out)
{
	struct dp_binsrc *m = calloc(1, sizeof(*m));
	if (!m || max_sources == 0 || max_refs == 0) {
		free(m);
		return m ? -EINVAL : -ENOMEM;
	}
	m->max_sources = max_sources;
	m->max_refs = max_refs;
	uint32_t st = 16;
	while (st < 2 * max_sources)
		st <<= 1;
	m->src_mask = st - 1;
	m->sources = calloc(max_sources, sizeof(*m->sources));
	m->src_index = calloc(st, sizeof(*m->src_index));
	m->ref_mask = 1023;
	m->refs = refs_alloc(m->ref_mask + 1);
	if (!m->sources || !m->src_index || !m->refs) {
		dp_binsrc_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void dp_binsrc_destroy(struct dp_binsrc *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; m->refs && i <= m->ref_mask; i++)
		if (m->refs[i].id != UINT64_MAX)
			free(m->refs[i].ref.key);
	dp_binsrc_reclaim(m);
	free(m->retired);
	free(m->refs);
	free(m->sources);
	free(m->src_index);
	free(m);
}

static void event_key(struct dp_binsrc_key *k, const char *field, const char *source)
{
	struct st_tag tag = {{"source", 6}, {source, (uint32_t)strlen(source)}};
	int n = st_key_build(k->key, sizeof(k->key), (struct st_str){"sf_binary_seq", 13},
			     (struct st_str){field, (uint32_t)strlen(field)}, &tag, 1);
	assert(n > 0); /* a u32 in decimal always fits */
	k->keylen = (uint32_t)n;
	k->hash = st_key_hash(k->key, (size_t)n);
}

static void source_init(struct dp_binsrc_source *s, uint32_t id)
{
	char idtxt[16];
	snprintf(idtxt, sizeof(idtxt), "%u", id);
	s->id = id;
	dp_frame_seq_init(&s->seq);
	event_key(&s->gap, "gap", idtxt);
	event_key(&s->late, "late", idtxt);
}

/* HOT PATH */
struct dp_binsrc_source *dp_binsrc_source(struct dp_binsrc *m, uint32_t source_id)
{
	for (uint32_t i = (uint32_t)mix64(source_id) & m->src_mask;; i = (i + 1) & m->src_mask) {
		uint32_t x = m->src_index[i];
		if (x && m->sources[x - 1].id == source_id)
			return &m->sources[x - 1];
		if (x == 0) {
			uint32_t n = atomic_load_explicit(&m->nsources, memory_order_relaxed);
			if (n == m->max_sources) {
				cm_ctr_add(&m->sources_full, 1);
				return NULL;
			}
			source_init(&m->sources[n], source_id);
			m->src_index[i] = n + 1;
			/* pairs with the acquire in dp_binsrc_stats_read: source n is initialised */
			atomic_store_explicit(&m->nsources, n + 1, memory_order_release);
			return &m->sources[n];
		}
	}
}

static struct ref_slot *ref_find(const struct dp_binsrc *m, uint64_t id)
{
	for (uint32_t i = (uint32_t)mix64(id) & m->ref_mask;; i = (i + 1) & m->ref_mask) {
		struct ref_slot *s = &m->refs[i];
		if (s->id == id || s->id == UINT64_MAX)
			return s;
	}
}

static int refs_grow(struct dp_binsrc *m)
{
	uint32_t old_n = m->ref_mask + 1;
	struct ref_slot *old = m->refs;
	struct ref_slot *r = refs_alloc(old_n * 2);
	if (!r)
		return -ENOMEM;
	m->refs = r;
	m->ref_mask = old_n * 2 - 1;
	for (uint32_t i = 0; i < old_n; i++)
		if (old[i].id != UINT64_MAX)
			*ref_find(m, old[i].id) = old[i];
	free(old);
	return 0;
}

int dp_binsrc_define(struct dp_binsrc *m, const struct dp_binsrc_source *src,
		     const struct dp_frame_rec *rec)
{
	uint8_t key[ST_KEY_MAX];
	struct st_tag tags[DP_WIRE_DEF_TAGS_MAX];
	memcpy(tags, rec->tags, rec->ntags * sizeof(tags[0]));
	int n = st_key_build(key, sizeof(key), rec->name, (struct st_str){"value", 5}, tags,
			     rec->ntags);
	if (n <= 0)
		return -EINVAL;
	uint64_t id = (uint64_t)src->id << 32 | rec->series_ref;
	struct ref_slot *s = ref_find(m, id);
	if (s->id == id) {
		if (s->ref.keylen == (uint32_t)n && !memcmp(s->ref.key, key, (size_t)n)) {
			s->ref.type = rec->type;
			return 0;  /* the periodic re-declaration: nothing changes */
		}
		uint8_t *k = malloc((size_t)n);
		if (!k)
			return -ENOMEM;
		if (m->nretired == m->retired_cap) {
			uint32_t cap = m->retired_cap ? 2 * m->retired_cap : 16;
			uint8_t **r = realloc(m->retired, cap * sizeof(*r));
			if (!r) {
				free(k);
				return -ENOMEM;
			}
			m->retired = r;
			m->retired_cap = cap;
		}
		m->retired[m->nretired++] = s->ref.key; /* pending points may still borrow it */
		cm_ctr_add(&m->redefined, 1);
		s->ref = (struct dp_binsrc_ref){k, (uint32_t)n, rec->type, st_key_hash(key, (size_t)n)};
		memcpy(k, key, (size_t)n);
		return 0;
	}
	uint32_t nrefs = atomic_load_explicit(&m->nrefs, memory_order_relaxed);
	if (nrefs == m->max_refs) {
		cm_ctr_add(&m->refs_full, 1);
		return -ENOSPC;
	}
	if (2 * (nrefs + 1) > m->ref_mask + 1) {
		int rc = refs_grow(m);
		if (rc)
			return rc;
		s = ref_find(m, id);
	}
	uint8_t *k = malloc((size_t)n);
	if (!k)
		return -ENOMEM;
	memcpy(k, key, (size_t)n);
	s->id = id;
	s->ref = (struct dp_binsrc_ref){k, (uint32_t)n, rec->type, st_key_hash(key, (size_t)n)};
	atomic_store_explicit(&m->nrefs, nrefs + 1, memory_order_relaxed);
	return 0;
}

void dp_binsrc_reclaim(struct dp_binsrc *m)
{
	for (uint32_t i = 0; i < m->nretired; i++)
		free(m->retired[i]);
	m->nretired = 0;
}

/* HOT PATH */
const struct dp_binsrc_ref *dp_binsrc_lookup(const struct dp_binsrc *m, uint32_t source_id,
					     uint32_t ref)
{
	const struct ref_slot *s = ref_find(m, (uint64_t)source_id << 32 | ref);
	return s->id == UINT64_MAX ? NULL : &s->ref;
}

void dp_binsrc_stats_read(const struct dp_binsrc *m, struct dp_binsrc_stats *out)
{
	/* pairs with the release in dp_binsrc_source */
	out->sources = atomic_load_explicit(&m->nsources, memory_order_acquire);
	out->refs = atomic_load_explicit(&m->nrefs, memory_order_relaxed);
	out->sources_full = atomic_load_explicit(&m->sources_full, memory_order_relaxed);
	out->refs_full = atomic_load_explicit(&m->refs_full, memory_order_relaxed);
	out->redefined = atomic_load_explicit(&m->redefined, memory_order_relaxed);
}

const struct dp_binsrc_source *dp_binsrc_source_at(const struct dp_binsrc *m, uint32_t i)
{
	return i < atomic_load_explicit(&m->nsources, memory_order_acquire) ? &m->sources[i] : NULL;
}

const char *dp_binsrc_ctr_name(enum dp_binsrc_ctr c)
{
	static const char *const names[DP_BSC__COUNT] = {
		"frames", "points", "bad_records", "unknown_ref", "type_mismatch", "dup_frames",
	};
	return (unsigned)c < DP_BSC__COUNT ? names[c] : "unknown";
}
