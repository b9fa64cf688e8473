/*
 * st_shard.c - the per-core hot tier (contract and policies in st_shard.h).
 *
 * Usage profile: tens of millions of st_shard_insert calls per second on the
 * owning core; a few reads per second per series from management threads.
 * Layout, for the writer first:
 *
 *   table    open addressing (linear probing) of {hash, series*}, writer
 *            private, doubled at half load. A lookup touches one slot line,
 *            the series' first line and its key.
 *   series   a record with the open chunk's encoder state inline, followed by
 *            its key bytes; carved from the shard's slabs, never moved.
 *   dir      series by dense local id for readers: a fixed top array of
 *            pages of 4096 pointers; pages and the count are published with
 *            release stores, so readers need no lock.
 *   chunks   a 64-byte header and the codec's words, in size classes from
 *            128 B to 4 KiB. An open chunk that fills moves to the next class
 *            (copy, publish, retire the old one); a sealed chunk is shrunk to
 *            the smallest class that holds it.
 *
 * Memory comes from slabs of SLAB_BYTES allocated on the shard's NUMA node
 * and carved with a bump pointer; freed chunks go to per-class free lists,
 * but only after QSBR (st_rcu.h) says no reader can still hold them.
 *
 * Reader protocol (st_shard_read): load the series' open chunk O (acquire),
 * then walk the sealed list, taking only chunks whose seq is below O's, then
 * O itself, decoding its committed prefix from a copy. Every chunk carries
 * the seq of its position in the series, and a grown or shrunk copy keeps
 * it, so a reader never reads the same points twice nor misses any committed
 * before it loaded O. The out-of-order chunks form a second such sequence.
 */
#include "st_shard.h"

#include <errno.h>
#include <numa.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cm_clock.h"
#include "cm_log.h"
#include "st_chunk.h"
#include "st_series.h"

/* ================================================================ config */

static const struct cm_cfg_key shard_keys[] = {
	{"shard.chunk_points", CM_CFG_INT, "512", 8, 65536, NULL, false,
	 "seal a chunk after this many points"},
	{"shard.chunk_span", CM_CFG_DURATION, "2h", CM_NS_PER_SEC, 7 * 86400 * CM_NS_PER_SEC,
	 NULL, false, "seal a chunk when its points cross a multiple of this span"},
	{"shard.ooo_window", CM_CFG_DURATION, "1h", 0, 7 * 86400 * CM_NS_PER_SEC, NULL, false,
	 "accept points up to this much older than a series' newest; older ones are rejected"},
	{"shard.memory_limit", CM_CFG_SIZE, "1GiB", 16 << 20, INT64_MAX, NULL, false,
	 "memory per shard (series, chunks, table); beyond it new series and chunks are refused"},
	{"shard.max_series", CM_CFG_INT, "4194304", 1, 1 << 30, NULL, false,
	 "series per shard"},
	{"shard.series_hint", CM_CFG_INT, "4096", 16, 1 << 30, NULL, false,
	 "series table size at start (it doubles as needed)"},
};

const struct cm_cfg_table st_shard_cfg_table = {
	.module = "storage",
	.keys = shard_keys,
	.nkeys = CM_ARRAY_SIZE(shard_keys),
};

void st_shard_cfg_default(struct st_shard_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->numa_node = -1;
	cfg->chunk_points = 512;
	cfg->chunk_span_ns = 2 * 3600 * CM_NS_PER_SEC;
	cfg->ooo_window_ns = 3600 * CM_NS_PER_SEC;
	cfg->memory_limit_bytes = (size_t)1 << 30;
	cfg->max_series = 4194304;
	cfg->series_hint = 4096;
}

void st_shard_cfg_from(const struct cm_config *config, struct st_shard_cfg *cfg)
{
	cfg->chunk_points = (uint32_t)cm_config_int(config, "shard.chunk_points");
	cfg->chunk_span_ns = cm_config_int(config, "shard.chunk_span");
	cfg->ooo_window_ns = cm_config_int(config, "shard.ooo_window");
	cfg->memory_limit_bytes = (size_t)cm_config_int(config, "shard.memory_limit");
	cfg->max_series = (uint32_t)cm_config_int(config, "shard.max_series");
	cfg->series_hint = (uint32_t)cm_config_int(config, "shard.series_hint");
}

/* ================================================================ layout */

#define SLAB_BYTES ((size_t)1 << 20)
#define DIR_PAGE_SHIFT 12
#define DIR_PAGE_SIZE (1u << DIR_PAGE_SHIFT)

/* Chunk sizes, header included; multiples of 64 keep words cache-aligned. */
static const uint16_t class_bytes[] = {128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096};
#define NCLASS ((int)CM_ARRAY_SIZE(class_bytes))
#define MAX_CHUNK_WORDS ((4096 - 64) / 8)

struct chunk {
	struct chunk *_Atomic next;   /* sealed list link, published with release */
	_Atomic uint64_t committed;   /* count << 32 | nbits; release after each append */
	int64_t t_min;                /* sealed chunks only: final before publication */
	int64_t t_max;
	struct chunk *free_next;      /* retire queue and free list link (writer) */
	uint64_t retire_token;
	uint32_t seq;                 /* position in the series' chunk sequence */
	uint32_t nwords;              /* capacity */
	uint8_t cls;
	uint8_t pad[7];
	uint64_t words[];
};
static_assert(sizeof(struct chunk) == 64, "chunk header is one cache line");

/* One chunk sequence of a series: in-order, or out-of-order. */
struct seq {
	struct st_chunk_enc enc;      /* writer: encoder of the open chunk */
	int64_t t_first;              /* writer: first/min time in the open chunk */
	int64_t t_max;                /* writer: max time in the open chunk */
	int64_t seal_at;              /* writer: in-order only, the span boundary */
	struct chunk *tail;           /* writer: last sealed chunk */
	struct chunk *_Atomic open;   /* readers: the open chunk (never NULL once set) */
	struct chunk *_Atomic head;   /* readers: first sealed chunk */
	bool open_sealed;             /* writer: `open` is sealed; next point needs a new chunk */
};

struct series {
	uint64_t hash;
	int64_t last_ts;              /* writer: newest time accepted in order */
	struct seq in;
	struct seq *_Atomic ooo;      /* out-of-order sequence, created on first use */
	uint32_t local_id;
	uint16_t keylen;
	uint8_t vtype;
	uint8_t key[];
};

struct slot {
	uint64_t hash;
	struct series *s;
};

struct slab {
	struct slab *next;
	size_t bytes;
};

/* Counters: owner writes with relaxed stores, readers load relaxed. */
struct shard_counters {
	_Atomic uint64_t points_stored;
	_Atomic uint64_t points_ooo;
	_Atomic uint64_t rejected[ST_INS__COUNT];
	_Atomic uint64_t chunks_sealed;
	_Atomic uint64_t chunks_grown;
	_Atomic uint64_t memory_bytes;
	_Atomic uint64_t memory_used_bytes;
	_Atomic uint64_t retired_pending;
};

struct st_shard {
	/* writer-hot, one owner */
	struct slot *table;
	uint64_t table_mask;
	uint32_t table_used;
	uint32_t nseries;             /* writer's count; readers use series_pub */
	uint32_t stuck;               /* sequences whose open chunk is a sealed one (no memory) */
	struct st_shard_cfg cfg;
	uint8_t *bump;                /* current slab, next free byte */
	uint8_t *bump_end;
	struct chunk *free_list[NCLASS];
	struct chunk *retire_new;     /* retired, not yet tokened (LIFO) */
	struct chunk *pend_head;      /* tokened, oldest first */
	struct chunk *pend_tail;
	uint64_t pending;
	size_t mem_bytes;             /* from the system */
	size_t used_bytes;            /* in live objects */
	struct slab *slabs;
	struct shard_counters ctr CM_CACHE_ALIGNED;
	/* readers */
	_Atomic uint32_t series_pub CM_CACHE_ALIGNED;
	uint32_t dir_npages;
	struct series **_Atomic *dir; /* dir_npages page pointers */
};

static const char *const status_names[ST_INS__COUNT] = {
	[ST_INS_OK] = "ok",
	[ST_INS_OOO] = "out_of_order",
	[ST_INS_TOO_OLD] = "too_old",
	[ST_INS_TYPE_CONFLICT] = "type_conflict",
	[ST_INS_BAD_TYPE] = "bad_type",
	[ST_INS_NO_MEMORY] = "no_memory",
	[ST_INS_SERIES_LIMIT] = "series_limit",
	[ST_INS_BACKPRESSURE] = "wal_backpressure",
	[ST_INS_DISK_FULL] = "disk_full",
	[ST_INS_UNKNOWN_SERIES] = "unknown_series",
};

const char *st_insert_status_name(enum st_insert_status s)
{
	return (unsigned)s < ST_INS__COUNT ? status_names[s] : "unknown";
}

/* ================================================================ memory */

/* Zeroed memory from the system on the shard's node; counted. */
static void *sys_alloc(struct st_shard *sh, size_t bytes)
{
	if (sh->mem_bytes + bytes > sh->cfg.memory_limit_bytes)
		return NULL;
	void *p;
	if (sh->cfg.numa_node >= 0 && numa_available() >= 0) {
		p = numa_alloc_onnode(bytes, sh->cfg.numa_node);
	} else {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			p = NULL;
	}
	if (!p)
		return NULL;
	sh->mem_bytes += bytes;
	cm_ctr_add(&sh->ctr.memory_bytes, bytes);
	return p;
}

static void sys_free(struct st_shard *sh, void *p, size_t bytes)
{
	if (!p)
		return;
	if (sh->cfg.numa_node >= 0 && numa_available() >= 0)
		numa_free(p, bytes);
	else
		munmap(p, bytes);
	sh->mem_bytes -= bytes;
	atomic_store_explicit(&sh->ctr.memory_bytes, sh->mem_bytes, memory_order_relaxed);
}

/* Carve bytes (a multiple of 64) from the current slab; zeroed. */
static void *carve(struct st_shard *sh, size_t bytes)
{
	assert(bytes % 64 == 0 && bytes <= SLAB_BYTES - 64);
	if ((size_t)(sh->bump_end - sh->bump) < bytes) {
		struct slab *sl = sys_alloc(sh, SLAB_BYTES);
		if (!sl)
			return NULL;
		sl->next = sh->slabs;
		sl->bytes = SLAB_BYTES;
		sh->slabs = sl;
		sh->bump = (uint8_t *)sl + 64;
		sh->bump_end = (uint8_t *)sl + SLAB_BYTES;
	}
	void *p = sh->bump;
	sh->bump += bytes;
	sh->used_bytes += bytes;
	return p;
}

static struct chunk *chunk_alloc(struct st_shard *sh, int cls)
{
	struct chunk *c = sh->free_list[cls];
	if (c) {
		sh->free_list[cls] = c->free_next;
		memset(c, 0, class_bytes[cls]);
		sh->used_bytes += class_bytes[cls];
	} else {
		c = carve(sh, class_bytes[cls]);
		if (!c)
			return NULL;
	}
	c->cls = (uint8_t)cls;
	c->nwords = (uint32_t)(class_bytes[cls] - sizeof(struct chunk)) / 8;
	return c;
}

/* Hand a chunk readers may hold to QSBR; it is reused after a grace period. */
static void chunk_retire(struct st_shard *sh, struct chunk *c)
{
	c->free_next = sh->retire_new;
	sh->retire_new = c;
	sh->used_bytes -= class_bytes[c->cls];
	sh->pending++;
}

static int class_for_words(uint32_t nwords)
{
	size_t bytes = sizeof(struct chunk) + (size_t)nwords * 8;
	for (int i = 0; i < NCLASS; i++)
		if (class_bytes[i] >= bytes)
			return i;
	return -1;
}

void st_shard_maintain(struct st_shard *sh)
{
	if (sh->retire_new) {
		uint64_t token = st_rcu_start(sh->cfg.rcu);
		/* Move the new retirees, tokened, to the pending FIFO's tail. */
		struct chunk *c = sh->retire_new;
		while (c) {
			struct chunk *next = c->free_next;
			c->retire_token = token;
			c->free_next = NULL;
			if (sh->pend_tail)
				sh->pend_tail->free_next = c;
			else
				sh->pend_head = c;
			sh->pend_tail = c;
			c = next;
		}
		sh->retire_new = NULL;
	}
	uint64_t done_token = 0;
	bool have_done = false;
	while (sh->pend_head) {
		struct chunk *c = sh->pend_head;
		if (!have_done || c->retire_token > done_token) {
			if (!st_rcu_done(sh->cfg.rcu, c->retire_token))
				break;
			done_token = c->retire_token;
			have_done = true;
		}
		sh->pend_head = c->free_next;
		if (!sh->pend_head)
			sh->pend_tail = NULL;
		c->free_next = sh->free_list[c->cls];
		sh->free_list[c->cls] = c;
		sh->pending--;
	}
	atomic_store_explicit(&sh->ctr.retired_pending, sh->pending, memory_order_relaxed);
	atomic_store_explicit(&sh->ctr.memory_used_bytes, sh->used_bytes, memory_order_relaxed);
}

/* ============================================================ lifecycle */

int st_shard_create(const struct st_shard_cfg *cfg, struct st_shard **out)
{
	if (!cfg->rcu || cfg->chunk_points < 2 || cfg->chunk_span_ns <= 0 ||
	    cfg->ooo_window_ns < 0 || cfg->max_series == 0 ||
	    cfg->shard_id > (1u << (64 - ST_SERIES_SHARD_SHIFT)) - 1)
		return -EINVAL;

	struct st_shard *sh = aligned_alloc(CM_CACHE_LINE, CM_ALIGN_UP(sizeof(*sh), CM_CACHE_LINE));
	if (!sh)
		return -ENOMEM;
	memset(sh, 0, sizeof(*sh));
	sh->cfg = *cfg;

	uint64_t cap = 16;
	while (cap < (uint64_t)cfg->series_hint * 2)
		cap <<= 1;
	sh->table = sys_alloc(sh, cap * sizeof(struct slot));
	sh->dir_npages = (cfg->max_series + DIR_PAGE_SIZE - 1) / DIR_PAGE_SIZE;
	sh->dir = sys_alloc(sh, CM_ALIGN_UP(sh->dir_npages * sizeof(*sh->dir), (size_t)4096));
	if (!sh->table || !sh->dir) {
		st_shard_destroy(sh);
		return -ENOMEM;
	}
	sh->table_mask = cap - 1;
	*out = sh;
	return 0;
}

void st_shard_destroy(struct st_shard *sh)
{
	if (!sh)
		return;
	if (sh->dir) {
		for (uint32_t i = 0; i < sh->dir_npages; i++)
			sys_free(sh, atomic_load_explicit(&sh->dir[i], memory_order_relaxed),
				 DIR_PAGE_SIZE * sizeof(struct series *));
		sys_free(sh, sh->dir, CM_ALIGN_UP(sh->dir_npages * sizeof(*sh->dir), (size_t)4096));
	}
	if (sh->table)
		sys_free(sh, sh->table, (sh->table_mask + 1) * sizeof(struct slot));
	struct slab *sl = sh->slabs;
	while (sl) {
		struct slab *next = sl->next;
		sys_free(sh, sl, sl->bytes);
		sl = next;
	}
	free(sh);
}

/* ================================================================ table */

/* HOT PATH */
static inline struct series *table_find(const struct st_shard *sh, const uint8_t *key,
					uint32_t keylen, uint64_t hash)
{
	uint64_t i = hash & sh->table_mask;
	for (;;) {
		const struct slot *sl = &sh->table[i];
		if (!sl->s)
			return NULL;
		if (sl->hash == hash && sl->s->keylen == keylen &&
		    memcmp(sl->s->key, key, keylen) == 0)
			return sl->s;
		i = (i + 1) & sh->table_mask;
	}
}

static void table_put(struct slot *table, uint64_t mask, uint64_t hash, struct series *s)
{
	uint64_t i = hash & mask;
	while (table[i].s)
		i = (i + 1) & mask;
	table[i].hash = hash;
	table[i].s = s;
}

/* Double the table: one allocation and rehash per doubling, O(1) amortized. */
static int table_grow(struct st_shard *sh)
{
	uint64_t old_cap = sh->table_mask + 1, cap = old_cap * 2;
	struct slot *t = sys_alloc(sh, cap * sizeof(struct slot));
	if (!t)
		return -ENOMEM;
	for (uint64_t i = 0; i < old_cap; i++)
		if (sh->table[i].s)
			table_put(t, cap - 1, sh->table[i].hash, sh->table[i].s);
	sys_free(sh, sh->table, old_cap * sizeof(struct slot));
	sh->table = t;
	sh->table_mask = cap - 1;
	return 0;
}

/* ================================================================ series */

static struct series *dir_get(const struct st_shard *sh, uint32_t id)
{
	/* acquire: pairs with the release store of the page in series_create */
	struct series **page = atomic_load_explicit(&sh->dir[id >> DIR_PAGE_SHIFT],
						    memory_order_acquire);
	return page[id & (DIR_PAGE_SIZE - 1)];
}

/* Start an open chunk for seq q (the first, or after a seal). */
static int seq_open_chunk(struct st_shard *sh, struct series *s, struct seq *q, uint32_t seqno)
{
	struct chunk *c = chunk_alloc(sh, 0);
	if (!c)
		return -ENOMEM;
	c->seq = seqno;
	st_chunk_enc_init(&q->enc, c->words, c->nwords, (enum st_value_type)s->vtype);
	if (q->open_sealed)
		sh->stuck--;
	q->open_sealed = false;
	/* release: the header and zeroed words are visible before the pointer */
	atomic_store_explicit(&q->open, c, memory_order_release);
	return 0;
}

static enum st_insert_status series_create(struct st_shard *sh, const struct st_shard_point *p,
					   struct series **out)
{
	if (sh->nseries >= sh->cfg.max_series)
		return ST_INS_SERIES_LIMIT;
	if ((uint64_t)(sh->table_used + 1) * 2 > sh->table_mask + 1 && table_grow(sh) &&
	    (uint64_t)(sh->table_used + 1) * 10 > (sh->table_mask + 1) * 9)
		return ST_INS_NO_MEMORY;

	uint32_t id = sh->nseries;
	uint32_t pg = id >> DIR_PAGE_SHIFT;
	struct series **page = atomic_load_explicit(&sh->dir[pg], memory_order_relaxed);
	if (!page) {
		page = sys_alloc(sh, DIR_PAGE_SIZE * sizeof(struct series *));
		if (!page)
			return ST_INS_NO_MEMORY;
		/* release: pairs with the acquire in dir_get */
		atomic_store_explicit(&sh->dir[pg], page, memory_order_release);
	}

	size_t bytes = CM_ALIGN_UP(sizeof(struct series) + p->keylen, (size_t)64);
	struct series *s = carve(sh, bytes);
	if (!s)
		return ST_INS_NO_MEMORY;
	s->hash = p->hash;
	s->last_ts = INT64_MIN;
	s->local_id = id;
	s->keylen = (uint16_t)p->keylen;
	s->vtype = p->type;
	memcpy(s->key, p->key, p->keylen);
	if (seq_open_chunk(sh, s, &s->in, 0)) {
		sh->used_bytes -= bytes; /* the carve is lost to the bump; rare */
		return ST_INS_NO_MEMORY;
	}

	page[id & (DIR_PAGE_SIZE - 1)] = s;
	table_put(sh->table, sh->table_mask, p->hash, s);
	sh->table_used++;
	sh->nseries++;
	/* release: the series, its chunk and page slot are visible before the count */
	atomic_store_explicit(&sh->series_pub, sh->nseries, memory_order_release);
	*out = s;
	return ST_INS_OK;
}

/* ================================================================ append */


/*
 * Seal the open chunk of q: shrink it to the smallest class that holds it,
 * link it at the tail of the sealed list, and start the next open chunk. If
 * no memory is left for that, the sealed chunk stays as `open` (readers take
 * it as such) and the next point retries.
 */
static void seq_seal(struct st_shard *sh, struct series *s, struct seq *q)
{
	struct chunk *c = atomic_load_explicit(&q->open, memory_order_relaxed);
	assert(!q->open_sealed && q->enc.count > 0);
	uint32_t used = st_chunk_used_words(q->enc.nbits);
	int cls = class_for_words(used);
	if (cls >= 0 && cls < c->cls) {
		struct chunk *n = chunk_alloc(sh, cls);
		if (n) {
			n->seq = c->seq;
			memcpy(n->words, c->words, (size_t)used * 8);
			atomic_store_explicit(&n->committed,
					      atomic_load_explicit(&c->committed, memory_order_relaxed),
					      memory_order_relaxed);
			chunk_retire(sh, c);
			c = n;
		}
	}
	c->t_min = q->t_first;
	c->t_max = q->t_max;
	/* release: the chunk's words, header and times are visible before the link */
	if (q->tail)
		atomic_store_explicit(&q->tail->next, c, memory_order_release);
	else
		atomic_store_explicit(&q->head, c, memory_order_release);
	q->tail = c;
	cm_ctr_add(&sh->ctr.chunks_sealed, 1);

	uint32_t seqno = c->seq + 1;
	if (seq_open_chunk(sh, s, q, seqno)) {
		/* release: readers that load `open` find a complete sealed chunk */
		atomic_store_explicit(&q->open, c, memory_order_release);
		q->open_sealed = true;
		sh->stuck++;
	}
}

/* Move the open chunk of q to the next size class. -ENOSPC at the largest. */
static int seq_grow(struct st_shard *sh, struct seq *q)
{
	struct chunk *c = atomic_load_explicit(&q->open, memory_order_relaxed);
	if (c->cls + 1 >= NCLASS)
		return -ENOSPC;
	struct chunk *n = chunk_alloc(sh, c->cls + 1);
	if (!n)
		return -ENOMEM;
	uint32_t used = st_chunk_used_words(q->enc.nbits);
	n->seq = c->seq;
	memcpy(n->words, c->words, (size_t)used * 8);
	atomic_store_explicit(&n->committed, atomic_load_explicit(&c->committed, memory_order_relaxed),
			      memory_order_relaxed);
	st_chunk_enc_rebase(&q->enc, n->words, n->nwords);
	/* release: the copied words are visible before readers can load n */
	atomic_store_explicit(&q->open, n, memory_order_release);
	chunk_retire(sh, c);
	cm_ctr_add(&sh->ctr.chunks_grown, 1);
	return 0;
}

/* HOT PATH. Append to q; in_order selects the span rule. */
static enum st_insert_status seq_append(struct st_shard *sh, struct series *s, struct seq *q,
					int64_t ts, uint64_t bits, bool in_order)
{
	if (cm_unlikely(q->open_sealed)) {
		struct chunk *c = atomic_load_explicit(&q->open, memory_order_relaxed);
		if (seq_open_chunk(sh, s, q, c->seq + 1))
			return ST_INS_NO_MEMORY;
	}
	if (q->enc.count >= sh->cfg.chunk_points || (in_order && ts >= q->seal_at && q->enc.count)) {
		seq_seal(sh, s, q);
		if (q->open_sealed)
			return ST_INS_NO_MEMORY;
	}
	while (cm_unlikely(st_chunk_append(&q->enc, ts, bits) == ST_CHUNK_FULL)) {
		int rc = seq_grow(sh, q);
		if (rc == -ENOSPC) {
			seq_seal(sh, s, q);
			if (q->open_sealed)
				return ST_INS_NO_MEMORY;
		} else if (rc) {
			return ST_INS_NO_MEMORY;
		}
	}
	struct chunk *c = atomic_load_explicit(&q->open, memory_order_relaxed);
	/* release: pairs with the acquire in read_open; the point's bits are in c->words */
	atomic_store_explicit(&c->committed, ((uint64_t)q->enc.count << 32) | q->enc.nbits,
			      memory_order_release);
	if (q->enc.count == 1) {
		q->t_first = ts;
		q->t_max = ts;
		if (in_order)
			q->seal_at = cm_next_multiple(ts, sh->cfg.chunk_span_ns);
	} else {
		if (ts < q->t_first)
			q->t_first = ts;
		if (ts > q->t_max)
			q->t_max = ts;
	}
	return ST_INS_OK;
}

static enum st_insert_status ooo_append(struct st_shard *sh, struct series *s, int64_t ts,
					uint64_t bits)
{
	struct seq *q = atomic_load_explicit(&s->ooo, memory_order_relaxed);
	if (!q) {
		q = carve(sh, CM_ALIGN_UP(sizeof(*q), (size_t)64));
		if (!q)
			return ST_INS_NO_MEMORY;
		if (seq_open_chunk(sh, s, q, 0))
			return ST_INS_NO_MEMORY;
		/* release: the sequence and its open chunk before the pointer */
		atomic_store_explicit(&s->ooo, q, memory_order_release);
	}
	enum st_insert_status st = seq_append(sh, s, q, ts, bits, false);
	return st == ST_INS_OK ? ST_INS_OOO : st;
}

/* HOT PATH */
static enum st_insert_status series_append(struct st_shard *sh, struct series *s,
					   const struct st_shard_point *p)
{
	if (cm_unlikely(p->type != s->vtype))
		return ST_INS_TYPE_CONFLICT;
	uint64_t bits = p->v.u64;
	if (p->type == ST_VT_BOOL)
		bits = p->v.b ? 1 : 0;
	if (cm_likely(p->ts_ns >= s->last_ts)) {
		enum st_insert_status st = seq_append(sh, s, &s->in, p->ts_ns, bits, true);
		if (st == ST_INS_OK)
			s->last_ts = p->ts_ns;
		return st;
	}
	int64_t oldest;
	if (__builtin_sub_overflow(s->last_ts, sh->cfg.ooo_window_ns, &oldest))
		oldest = INT64_MIN;
	if (p->ts_ns < oldest)
		return ST_INS_TOO_OLD;
	return ooo_append(sh, s, p->ts_ns, bits);
}

static inline void count_status(struct st_shard *sh, enum st_insert_status st)
{
	if (cm_likely(st == ST_INS_OK)) {
		cm_ctr_add(&sh->ctr.points_stored, 1);
	} else if (st == ST_INS_OOO) {
		cm_ctr_add(&sh->ctr.points_stored, 1);
		cm_ctr_add(&sh->ctr.points_ooo, 1);
	} else {
		cm_ctr_add(&sh->ctr.rejected[st], 1);
	}
}

/* HOT PATH. *id: the series' local id, ST_SHARD_ID_NEW set if created here. */
static inline enum st_insert_status insert_one(struct st_shard *sh, const struct st_shard_point *p,
					       uint32_t *id)
{
	enum st_insert_status st;
	if (cm_unlikely(p->type < ST_VT_F64 || p->type > ST_VT_BOOL || p->keylen == 0 ||
			p->keylen > ST_KEY_MAX)) {
		st = ST_INS_BAD_TYPE;
	} else {
		struct series *s = table_find(sh, p->key, p->keylen, p->hash);
		uint32_t created = 0;
		st = ST_INS_OK;
		if (cm_unlikely(!s)) {
			st = series_create(sh, p, &s);
			created = ST_SHARD_ID_NEW;
		}
		if (cm_likely(st == ST_INS_OK)) {
			*id = s->local_id | created;
			st = series_append(sh, s, p);
		}
	}
	count_status(sh, st);
	return st;
}

/* HOT PATH */
enum st_insert_status st_shard_insert(struct st_shard *sh, const struct st_shard_point *p)
{
	uint32_t id;
	return insert_one(sh, p, &id);
}

/* HOT PATH */
enum st_insert_status st_shard_insert_id(struct st_shard *sh, uint32_t local_id, int64_t ts_ns,
					 uint64_t bits)
{
	enum st_insert_status st = ST_INS_UNKNOWN_SERIES;
	if (local_id < sh->nseries) {
		struct series *s = dir_get(sh, local_id);
		struct st_shard_point p = {.ts_ns = ts_ns, .type = s->vtype};
		p.v.u64 = bits;
		if (s->vtype == ST_VT_BOOL)
			p.v.b = bits != 0;
		st = series_append(sh, s, &p);
	}
	count_status(sh, st);
	return st;
}

static inline void prefetch_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t off = 0; off < len; off += 64)
		cm_prefetch(b + off);
	cm_prefetch(b + len - 1);
}

/*
 * HOT PATH. Three prefetch stages ahead of the insert, as l3fwd does for its
 * lookups: at i + 8 the table slot and the point's key; at i + 4 the series
 * record and its key (the full-key compare); at i + 2 the open chunk's last
 * word (the append).
 */
uint32_t st_shard_insert_burst(struct st_shard *sh, const struct st_shard_point *pts, uint32_t n,
			       uint8_t *status, uint32_t *ids)
{
	enum { A1 = 8, A2 = 4, A3 = 2 };
	uint32_t stored = 0;
	for (uint32_t i = 0; i < n && i < A1; i++) {
		cm_prefetch(&sh->table[pts[i].hash & sh->table_mask]);
		prefetch_bytes(pts[i].key, pts[i].keylen);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (i + A1 < n) {
			cm_prefetch(&sh->table[pts[i + A1].hash & sh->table_mask]);
			prefetch_bytes(pts[i + A1].key, pts[i + A1].keylen);
		}
		if (i + A2 < n) {
			/* a fixed span: reading s->keylen here would wait for the very miss we hide */
			const struct series *s = sh->table[pts[i + A2].hash & sh->table_mask].s;
			if (s)
				prefetch_bytes(s, sizeof(*s) + pts[i + A2].keylen);
		}
		if (i + A3 < n) {
			const struct series *s = sh->table[pts[i + A3].hash & sh->table_mask].s;
			if (s)
				cm_prefetch_w(s->in.enc.words + (s->in.enc.nbits >> 6));
		}
		uint32_t id = 0;
		enum st_insert_status st = insert_one(sh, &pts[i], &id);
		stored += st <= ST_INS_OOO;
		if (status)
			status[i] = (uint8_t)st;
		if (ids)
			ids[i] = id;
	}
	return stored;
}

/* ================================================================ readers */

uint32_t st_shard_series_count(const struct st_shard *sh)
{
	/* acquire: pairs with the release in series_create */
	return atomic_load_explicit(&sh->series_pub, memory_order_acquire);
}

const uint8_t *st_shard_series_key(const struct st_shard *sh, uint32_t local_id,
				   uint32_t *keylen, enum st_value_type *vtype)
{
	if (local_id >= st_shard_series_count(sh))
		return NULL;
	const struct series *s = dir_get(sh, local_id);
	if (keylen)
		*keylen = s->keylen;
	if (vtype)
		*vtype = (enum st_value_type)s->vtype;
	return s->key;
}

void st_points_init(struct st_points *p)
{
	memset(p, 0, sizeof(*p));
}

void st_points_release(struct st_points *p)
{
	free(p->ts);
	free(p->vals);
	st_points_init(p);
}

int st_points_reserve(struct st_points *p, size_t more)
{
	if (p->n + more <= p->cap)
		return 0;
	size_t cap = p->cap ? p->cap : 256;
	while (cap < p->n + more)
		cap *= 2;
	int64_t *ts = realloc(p->ts, cap * sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	p->ts = ts;
	uint64_t *vals = realloc(p->vals, cap * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	p->vals = vals;
	p->cap = cap;
	return 0;
}

/* p[from..] is in time order: keep the last of each run of equal times, in place. */
static void dedupe_keep_last(struct st_points *p, size_t from)
{
	size_t w = 0;
	for (size_t r = 0; r < p->n - from; r++) {
		if (w > 0 && p->ts[from + w - 1] == p->ts[from + r]) {
			p->vals[from + w - 1] = p->vals[from + r];
			continue;
		}
		p->ts[from + w] = p->ts[from + r];
		p->vals[from + w] = p->vals[from + r];
		w++;
	}
	p->n = from + w;
}

int st_points_merge_newer(struct st_points *p, size_t from, const struct st_points *newer)
{
	size_t nb = p->n - from, nn = newer->n;
	if (!nn)
		return 0;
	if (st_points_reserve(p, nn))
		return -ENOMEM;
	if (nb == 0 || p->ts[p->n - 1] < newer->ts[0]) {
		/* all newer than what is held (tiers of one series rarely overlap) */
		memcpy(p->ts + p->n, newer->ts, nn * sizeof(*p->ts));
		memcpy(p->vals + p->n, newer->vals, nn * sizeof(*p->vals));
		p->n += nn;
		return 0;
	}
	/* From the back, so nothing moves twice; on equal times newer lands after. */
	size_t a = nb, b = nn, k = nb + nn;
	while (b > 0) {
		k--;
		if (a > 0 && p->ts[from + a - 1] > newer->ts[b - 1]) {
			a--;
			p->ts[from + k] = p->ts[from + a];
			p->vals[from + k] = p->vals[from + a];
		} else {
			b--;
			p->ts[from + k] = newer->ts[b];
			p->vals[from + k] = newer->vals[b];
		}
	}
	/* Equal times sit side by side, newer second: keep the second. */
	p->n = from + nb + nn;
	dedupe_keep_last(p, from);
	return 0;
}

/* Decode count points from words and append those in [t_min, t_max]. */
static int decode_into(const uint64_t *words, uint32_t nwords, uint32_t count, uint8_t vtype,
		       int64_t t_min, int64_t t_max, struct st_points *out)
{
	struct st_chunk_dec d;
	int64_t ts[256];
	uint64_t vals[256];
	if (st_chunk_dec_init(&d, words, nwords, count, (enum st_value_type)vtype))
		return -EBADMSG;
	if (st_points_reserve(out, count))
		return -ENOMEM;
	int n;
	while ((n = st_chunk_decode(&d, ts, vals, CM_ARRAY_SIZE(ts))) > 0) {
		for (int i = 0; i < n; i++) {
			if (ts[i] < t_min || ts[i] > t_max)
				continue;
			out->ts[out->n] = ts[i];
			out->vals[out->n] = vals[i];
			out->n++;
		}
	}
	return n < 0 ? -EBADMSG : 0;
}

/* The open chunk's committed points in [t_min, t_max] (copied: its writer may be appending). */
static int read_open(const struct chunk *o, uint8_t vtype, int64_t t_min, int64_t t_max,
		     struct st_points *out)
{
	/* acquire: pairs with the release after each append in seq_append */
	uint64_t cm = atomic_load_explicit(&o->committed, memory_order_acquire);
	uint32_t count = (uint32_t)(cm >> 32);
	if (!count)
		return 0;
	uint64_t copy[MAX_CHUNK_WORDS];
	uint32_t nw = st_chunk_used_words((uint32_t)cm);
	assert(nw <= MAX_CHUNK_WORDS);
	st_chunk_copy_words(copy, o->words, nw);
	return decode_into(copy, nw, count, vtype, t_min, t_max, out);
}

/* Decode a sealed chunk's committed points in [t_min, t_max] into out. */
static int read_sealed(const struct chunk *c, uint8_t vtype, int64_t t_min, int64_t t_max,
		       struct st_points *out)
{
	uint64_t cm = atomic_load_explicit(&c->committed, memory_order_relaxed);
	return decode_into(c->words, st_chunk_used_words((uint32_t)cm), (uint32_t)(cm >> 32), vtype,
			   t_min, t_max, out);
}

/*
 * Read one chunk sequence into out: the sealed chunks before the open one,
 * then the open one's committed prefix (copied: its writer may be appending).
 */
static int read_seq(const struct seq *q, uint8_t vtype, int64_t t_min, int64_t t_max,
		    struct st_points *out)
{
	/* acquire: pairs with the release stores of `open` (create, grow, seal) */
	const struct chunk *o = atomic_load_explicit(&q->open, memory_order_acquire);
	const struct chunk *c = atomic_load_explicit(&q->head, memory_order_acquire);
	int rc;
	for (; c && c->seq < o->seq; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
		if (c->t_max < t_min || c->t_min > t_max)
			continue;
		if ((rc = read_sealed(c, vtype, t_min, t_max, out)) != 0)
			return rc;
	}
	return read_open(o, vtype, t_min, t_max, out);
}

struct ooo_ent {
	int64_t ts;
	uint64_t val;
	uint32_t order;
};

static int ooo_cmp(const void *a, const void *b)
{
	const struct ooo_ent *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/*
 * out[from..] holds the in-order points (sorted, maybe with runs of equal
 * times); ooo the out-of-order ones in arrival order. Merge them in time
 * order keeping the last write per time: within a sequence the later one,
 * across sequences the out-of-order one (it arrived after the in-order
 * sequence had moved past its time).
 */
static int merge_dedupe(struct st_points *out, size_t from, const struct st_points *ooo)
{
	size_t n_in = out->n - from;
	if (!ooo->n) {
		/* The common case: only in-order points; drop earlier equal times in place. */
		dedupe_keep_last(out, from);
		return 0;
	}
	if (st_points_reserve(out, ooo->n))
		return -ENOMEM;
	struct ooo_ent *o = malloc(ooo->n * sizeof(*o));
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < ooo->n; i++)
		o[i] = (struct ooo_ent){ooo->ts[i], ooo->vals[i], (uint32_t)i};
	qsort(o, ooo->n, sizeof(*o), ooo_cmp);
	int64_t *ts = malloc((n_in + ooo->n + 1) * sizeof(*ts));
	uint64_t *vals = malloc((n_in + ooo->n + 1) * sizeof(*vals));
	if (!ts || !vals) {
		free(o);
		free(ts);
		free(vals);
		return -ENOMEM;
	}
	size_t i = 0, j = 0, k = 0;
	while (i < n_in || j < ooo->n) {
		bool take_in = j == ooo->n || (i < n_in && out->ts[from + i] <= o[j].ts);
		int64_t t = take_in ? out->ts[from + i] : o[j].ts;
		uint64_t v = take_in ? out->vals[from + i] : o[j].val;
		if (take_in)
			i++;
		else
			j++;
		if (k > 0 && ts[k - 1] == t)
			vals[k - 1] = v; /* a later write of the same time */
		else {
			ts[k] = t;
			vals[k] = v;
			k++;
		}
	}
	memcpy(out->ts + from, ts, k * sizeof(*ts));
	memcpy(out->vals + from, vals, k * sizeof(*vals));
	out->n = from + k;
	free(o);
	free(ts);
	free(vals);
	return 0;
}

/*
 * The in-order sequence's end of [t_min, t_max]: newest, the open chunk's
 * points, else those of the last sealed chunk that overlaps; oldest, the
 * first sealed chunk that overlaps, else the open chunk's. Sealed chunks are
 * skipped by their bounds, without decoding.
 */
static int read_seq_end(const struct seq *q, uint8_t vtype, int64_t t_min, int64_t t_max,
			bool newest, struct st_points *out)
{
	/* acquire: pairs with the release stores of `open` (create, grow, seal) */
	const struct chunk *o = atomic_load_explicit(&q->open, memory_order_acquire);
	const struct chunk *c = atomic_load_explicit(&q->head, memory_order_acquire);
	const struct chunk *pick = NULL;
	size_t from = out->n;
	int rc;
	if (newest && (rc = read_open(o, vtype, t_min, t_max, out)) != 0)
		return rc;
	if (newest && out->n > from)
		return 0;
	for (; c && c->seq < o->seq; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
		if (c->t_max < t_min || c->t_min > t_max)
			continue;
		pick = c;
		if (!newest)
			break;
	}
	if (!pick)
		return newest ? 0 : read_open(o, vtype, t_min, t_max, out);
	return read_sealed(pick, vtype, t_min, t_max, out);
}

/* st_shard_read, or only the end of the in-order sequence (end: 1 newest, -1 oldest). */
static int shard_read(const struct st_shard *sh, uint32_t local_id, int64_t t_min, int64_t t_max,
		      int end, struct st_points *out)
{
	if (local_id >= st_shard_series_count(sh))
		return -ENOENT;
	const struct series *s = dir_get(sh, local_id);
	size_t from = out->n;
	int rc = end ? read_seq_end(&s->in, s->vtype, t_min, t_max, end > 0, out)
		     : read_seq(&s->in, s->vtype, t_min, t_max, out);
	if (rc)
		return rc;
	/* acquire: pairs with the release in ooo_append */
	const struct seq *oq = atomic_load_explicit(&s->ooo, memory_order_acquire);
	struct st_points ooo;
	st_points_init(&ooo);
	if (oq) {
		rc = read_seq(oq, s->vtype, t_min, t_max, &ooo);
		if (rc)
			goto out;
	}
	/* Equal times can sit side by side in the in-order sequence too. */
	rc = merge_dedupe(out, from, &ooo);
out:
	st_points_release(&ooo);
	return rc ? rc : (int)(out->n - from);
}

int st_shard_read(const struct st_shard *sh, uint32_t local_id, int64_t t_min, int64_t t_max,
		  struct st_points *out)
{
	return shard_read(sh, local_id, t_min, t_max, 0, out);
}

int st_shard_read_end(const struct st_shard *sh, uint32_t local_id, int64_t t_min,
		      int64_t t_max, bool newest, struct st_points *out)
{
	return shard_read(sh, local_id, t_min, t_max, newest ? 1 : -1, out);
}

/* ============================================================ recovery */

int st_shard_series_restore(struct st_shard *sh, uint32_t local_id, const uint8_t *key,
			    uint32_t keylen, enum st_value_type vtype)
{
	struct st_key_view v;
	if (local_id != sh->nseries || vtype < ST_VT_F64 || vtype > ST_VT_BOOL || keylen == 0 ||
	    keylen > ST_KEY_MAX || st_key_parse(key, keylen, &v))
		return -EINVAL;
	struct st_shard_point p = {.key = key, .keylen = keylen, .hash = st_key_hash(key, keylen),
				   .type = (uint8_t)vtype};
	if (table_find(sh, key, keylen, p.hash))
		return -EINVAL;
	struct series *s;
	enum st_insert_status st = series_create(sh, &p, &s);
	if (st == ST_INS_SERIES_LIMIT)
		return -ENOSPC;
	return st == ST_INS_OK ? 0 : -ENOMEM;
}

/* ============================================================= flushing */

static void seal_seq(struct st_shard *sh, struct series *s, struct seq *q)
{
	if (q->open_sealed) {
		/* a seal that found no memory for the next chunk: try again now */
		struct chunk *c = atomic_load_explicit(&q->open, memory_order_relaxed);
		seq_open_chunk(sh, s, q, c->seq + 1);
	} else if (q->enc.count > 0) {
		seq_seal(sh, s, q);
	}
}

uint32_t st_shard_stuck_seals(const struct st_shard *sh)
{
	return sh->stuck;
}

uint32_t st_shard_seal_range(struct st_shard *sh, uint32_t from, uint32_t n)
{
	uint32_t end = from + n < from || from + n > sh->nseries ? sh->nseries : from + n;
	for (uint32_t id = from; id < end; id++) {
		struct series *s = dir_get(sh, id);
		seal_seq(sh, s, &s->in);
		struct seq *oq = atomic_load_explicit(&s->ooo, memory_order_relaxed);
		if (oq)
			seal_seq(sh, s, oq);
	}
	return end;
}

/* Reader: decode the sealed chunks of q with from <= seq < open's seq; *upto: where they end. */
static int read_sealed_seq(const struct seq *q, uint8_t vtype, uint32_t from, struct st_points *out,
			   uint32_t *upto)
{
	/* acquire: pairs with the release stores of `open` (create, grow, seal) */
	const struct chunk *o = atomic_load_explicit(&q->open, memory_order_acquire);
	const struct chunk *c = atomic_load_explicit(&q->head, memory_order_acquire);
	*upto = from;
	for (; c && c->seq < o->seq; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
		if (c->seq < from)
			continue;
		uint64_t cm = atomic_load_explicit(&c->committed, memory_order_relaxed);
		int rc = decode_into(c->words, st_chunk_used_words((uint32_t)cm),
				     (uint32_t)(cm >> 32), vtype, INT64_MIN, INT64_MAX, out);
		if (rc)
			return rc;
		*upto = c->seq + 1;
	}
	return 0;
}

int st_shard_read_sealed(const struct st_shard *sh, uint32_t local_id,
			 const struct st_shard_sealed *from, struct st_points *out,
			 struct st_shard_sealed *upto)
{
	if (local_id >= st_shard_series_count(sh))
		return -ENOENT;
	const struct series *s = dir_get(sh, local_id);
	size_t start = out->n;
	*upto = *from;
	int rc = read_sealed_seq(&s->in, s->vtype, from->in_upto, out, &upto->in_upto);
	if (rc)
		return rc;
	/* acquire: pairs with the release in ooo_append */
	const struct seq *oq = atomic_load_explicit(&s->ooo, memory_order_acquire);
	struct st_points ooo;
	st_points_init(&ooo);
	if (oq)
		rc = read_sealed_seq(oq, s->vtype, from->ooo_upto, &ooo, &upto->ooo_upto);
	if (!rc)
		rc = merge_dedupe(out, start, &ooo);
	st_points_release(&ooo);
	return rc ? rc : (int)(out->n - start);
}

static uint32_t release_seq(struct st_shard *sh, struct seq *q, uint32_t upto)
{
	uint32_t n = 0;
	struct chunk *open = atomic_load_explicit(&q->open, memory_order_relaxed);
	struct chunk *c = atomic_load_explicit(&q->head, memory_order_relaxed);
	while (c && c->seq < upto && c != open) {
		struct chunk *next = atomic_load_explicit(&c->next, memory_order_relaxed);
		/* release: readers that load the new head find it complete */
		atomic_store_explicit(&q->head, next, memory_order_release);
		if (q->tail == c)
			q->tail = NULL;
		chunk_retire(sh, c);
		n++;
		c = next;
	}
	return n;
}

uint32_t st_shard_release_sealed(struct st_shard *sh, uint32_t local_id,
				 const struct st_shard_sealed *upto)
{
	if (local_id >= sh->nseries)
		return 0;
	struct series *s = dir_get(sh, local_id);
	uint32_t n = release_seq(sh, &s->in, upto->in_upto);
	struct seq *oq = atomic_load_explicit(&s->ooo, memory_order_relaxed);
	if (oq)
		n += release_seq(sh, oq, upto->ooo_upto);
	return n;
}

/* ============================================================ stats, check */

void st_shard_stats_read(const struct st_shard *sh, struct st_shard_stats *out)
{
	const struct shard_counters *c = &sh->ctr;
	memset(out, 0, sizeof(*out));
	out->points_stored = atomic_load_explicit(&c->points_stored, memory_order_relaxed);
	out->points_ooo = atomic_load_explicit(&c->points_ooo, memory_order_relaxed);
	for (int i = 0; i < ST_INS__COUNT; i++)
		out->rejected[i] = atomic_load_explicit(&c->rejected[i], memory_order_relaxed);
	out->series = st_shard_series_count(sh);
	out->chunks_sealed = atomic_load_explicit(&c->chunks_sealed, memory_order_relaxed);
	out->chunks_grown = atomic_load_explicit(&c->chunks_grown, memory_order_relaxed);
	out->memory_bytes = atomic_load_explicit(&c->memory_bytes, memory_order_relaxed);
	out->memory_used_bytes = atomic_load_explicit(&c->memory_used_bytes, memory_order_relaxed);
	out->retired_pending = atomic_load_explicit(&c->retired_pending, memory_order_relaxed);
}

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			CM_LOG_ERR("shard", "event=check_failed cond=\"%s\" line=%d", \
				   #cond, __LINE__);                                 \
			return -EUCLEAN;                                             \
		}                                                                    \
	} while (0)

static int check_seq(const struct seq *q, bool in_order, int64_t last_ts)
{
	const struct chunk *o = atomic_load_explicit(&q->open, memory_order_relaxed);
	CHECK(o != NULL);
	int64_t prev_max = INT64_MIN;
	const struct chunk *c = atomic_load_explicit(&q->head, memory_order_relaxed);
	/* released chunks leave the list from the head: it starts anywhere */
	uint32_t expect = c ? c->seq : o->seq;
	for (; c; c = atomic_load_explicit(&c->next, memory_order_relaxed)) {
		uint64_t cm = atomic_load_explicit(&c->committed, memory_order_relaxed);
		CHECK(c->seq == expect);
		CHECK((cm >> 32) > 0);
		CHECK(st_chunk_used_words((uint32_t)cm) <= c->nwords);
		CHECK(c->t_min <= c->t_max);
		if (in_order) {
			CHECK(c->t_min >= prev_max);
			prev_max = c->t_max;
		}
		if (!atomic_load_explicit(&c->next, memory_order_relaxed))
			CHECK(c == q->tail);
		expect++;
	}
	if (q->open_sealed) {
		CHECK(o == q->tail || (!q->tail && !atomic_load_explicit(&q->head, memory_order_relaxed)));
	} else {
		CHECK(o->seq == expect);
		uint64_t cm = atomic_load_explicit(&o->committed, memory_order_relaxed);
		CHECK((uint32_t)(cm >> 32) == q->enc.count);
		CHECK((uint32_t)cm == q->enc.nbits);
		CHECK(q->enc.words == o->words);
		if (in_order && q->enc.count) {
			CHECK(q->t_first >= prev_max);
			CHECK(q->t_max == last_ts);
		}
	}
	return 0;
}

int st_shard_check(const struct st_shard *sh)
{
	uint32_t n = st_shard_series_count(sh);
	CHECK(n == sh->nseries && n == sh->table_used);
	CHECK((uint64_t)sh->table_used * 10 <= (sh->table_mask + 1) * 9);
	uint64_t in_table = 0;
	for (uint64_t i = 0; i <= sh->table_mask; i++) {
		const struct slot *sl = &sh->table[i];
		if (!sl->s)
			continue;
		in_table++;
		CHECK(sl->hash == sl->s->hash);
		CHECK(sl->hash == st_key_hash(sl->s->key, sl->s->keylen));
		CHECK(sl->s->local_id < n && dir_get(sh, sl->s->local_id) == sl->s);
		CHECK(table_find(sh, sl->s->key, sl->s->keylen, sl->hash) == sl->s);
	}
	CHECK(in_table == n);
	for (uint32_t id = 0; id < n; id++) {
		const struct series *s = dir_get(sh, id);
		struct st_key_view v;
		CHECK(st_key_parse(s->key, s->keylen, &v) == 0);
		CHECK(s->vtype >= ST_VT_F64 && s->vtype <= ST_VT_BOOL);
		int rc = check_seq(&s->in, true, s->last_ts);
		if (rc)
			return rc;
		const struct seq *oq = atomic_load_explicit(&s->ooo, memory_order_relaxed);
		if (oq && (rc = check_seq(oq, false, 0)))
			return rc;
	}
	CHECK(sh->used_bytes <= sh->mem_bytes);
	CHECK(sh->mem_bytes <= sh->cfg.memory_limit_bytes);
	return 0;
}
