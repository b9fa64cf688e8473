/*
 * st_index.c - the series index of the management plane (API and threading
 * contract in st_index.h).
 *
 * Usage profile: one indexing thread adds up to millions of series in bursts
 * (the ids of one shard increasing, shards interleaved) and removes them in
 * retention batches; a few query threads read under one rwlock. Nothing here
 * runs on the dataplane, so the design favours memory and simplicity over the
 * last nanosecond: ~300 bytes per TSBS series, two thirds of it the copied
 * key (figures at the end).
 *
 * Terms. Everything that names a set of series is a term in one array,
 * found through one hash table keyed by (kind, parent, name):
 *
 *   ROOT (term 0) -> MEAS "cpu" -> FIELD "usage_user"
 *                               -> TAGKEY "host" -> TAGVAL "a", TAGVAL "b"
 *
 * A term is one cache line: its posting (the ids of its series; for a TAGKEY
 * only the number of series having the key), its name (inline up to 16
 * bytes) and, for ROOT, MEAS and TAGKEY, a vector of its children. A child
 * knows its position there, so deletion swaps the last child in (O(1)).
 * Listings walk children and sort on output; regex matches walk the values of
 * one tag key, so a regex runs once per distinct value, not per series.
 *
 * Hash tables: open addressing with linear probing and backward-shift
 * deletion (no tombstones), keyed with XXH3 like st_key_hash. A slot is 8
 * bytes, a 32-bit hash tag and a 32-bit term index, so probes rarely touch
 * a term and the table costs ~11 bytes per term at its 3/4 load limit. We do
 * not use liburcu's rculfhash: readers need one consistent view of terms,
 * postings and keys together, which a lock-free hash alone would not give
 * (every posting array would need RCU too), and its per-node allocations
 * cost several times the memory. The rwlock is the simple answer the usage
 * profile allows: writes are rare and batched.
 *
 * Postings. A posting is a sorted set of ids in one of two forms:
 *   - flat: up to FLAT_MAX ids in one sorted uint64 array (one id inline);
 *     an add from another shard inserts with a memmove of at most FLAT_MAX
 *     ids. Most terms (a host's 10 fields) stay flat.
 *   - segmented: one run per value of id >> 32 (the shard and the top of
 *     its local index), runs sorted by that value, each a sorted array of
 *     the low 32 bits. Since a shard's ids arrive increasing, an add is a
 *     binary search over the runs (a few dozen shards) and an append: O(1)
 *     amortized in the size of the posting, and 4 bytes per id. Because the
 *     runs are in id order, reading a posting is a concatenation: no merge.
 * Out-of-order ids are inserted in place, so any order is correct. Arrays
 * grow by doubling; capacities are not stored: an array of n elements always
 * holds at least cap_for(n) (the next power of two).
 *
 * Matches materialize postings into caller id sets; a regex or a negation
 * merges the selected values' postings (sorted, disjoint runs) bottom-up.
 * st_index_filter goes the other way and reads the key of each id of a small
 * set, so a selective condition never pays for copying a large posting.
 *
 * Series. Keys are copied (struct srec) and found through pages of 1024
 * slots, hashed by id >> 10: ids are dense per shard, so pages are full,
 * cost 8 bytes per series, and an absurd id costs one page, never a huge
 * directory. An empty page is freed.
 *
 * Removal marks the batch's series in their pages' dying bitmaps, collects
 * the terms they touch on an intrusive work list, filters each touched
 * posting once (the dying test is a bit in a page cached across consecutive
 * ids), deletes the terms left empty (values and fields, then tag keys, then
 * measurements) and frees the keys. It allocates nothing, so it cannot fail.
 * An add that fails half way undoes its postings and the terms it created
 * from a small log, so the index is unchanged.
 *
 * Costs are not yet measured by a benchmark in perf/ (the index has none;
 * an earlier throwaway program is not kept), so none are quoted here. By
 * construction: an add is ~12 posting appends and ~22 term lookups; the
 * heap is the keys plus postings, pages and terms (docs/BENCHMARKS.md
 * derives the residency from the struct sizes).
 */
#include "st_index.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cm_compiler.h"
#include "st_series.h"

static_assert(sizeof(size_t) == 8, "the index assumes a 64-bit size_t");

#define NONE UINT32_MAX
#define FLAT_MAX 64u        /* a flat posting holds at most this many ids */
#define SEG_MIN 4u          /* smallest array of a segment */
#define KIDS_MIN 4u
#define PAGE_SHIFT 10
#define PAGE_SLOTS (1u << PAGE_SHIFT)
#define RE_MATCH_LIMIT 1000000u /* pcre2 backtracking steps per value */
#define PREFETCH_AHEAD 8u   /* terms ahead when walking a term's children */

/* ------------------------------------------------------------------------ */
/* Types                                                                      */
/* ------------------------------------------------------------------------ */

/* Low 32 bits of the ids of one posting whose high 32 bits are hi. */
struct seg {
	uint32_t *lo;   /* strictly increasing; holds >= cap_for(n, SEG_MIN) */
	uint32_t hi;    /* id >> 32 */
	uint32_t n;     /* >= 1 */
};

struct posting {
	uint32_t n;     /* ids */
	uint32_t nseg;  /* 0: flat; else segments, sorted by hi */
	union {
		uint64_t one;       /* flat, n == 1 */
		uint64_t *ids;      /* flat, n >= 2; holds >= cap_for(n, 2) */
		struct seg *segs;   /* holds >= cap_for(nseg, 1) */
	} u;
};

enum term_kind {
	TK_FREE = 0,
	TK_ROOT,
	TK_MEAS,
	TK_FIELD,
	TK_TAGKEY,
	TK_TAGVAL,
};

#define TERM_INLINE 16     /* names this short live in the term itself */

/* 64 bytes: one cache line per term. */
struct term {
	struct posting post;   /* TAGKEY: only post.n, the series having the key */
	union {                /* the name, len bytes, not NUL-terminated */
		char inl[TERM_INLINE];
		char *heap;    /* owned, when len > TERM_INLINE */
	} name;
	uint32_t *kids;        /* ROOT: MEAS; MEAS: FIELD, TAGKEY; TAGKEY: TAGVAL */
	uint32_t nkids;
	uint32_t parent;       /* NONE for ROOT */
	uint32_t pos;          /* index in the parent's kids; free-list link */
	uint32_t hash;         /* tag in the term hash table */
	uint32_t next_touched; /* st_index_remove's work list */
	uint16_t len;
	uint8_t kind;          /* enum term_kind */
	uint8_t touched;
};

static_assert(sizeof(struct term) == 64, "a term is one cache line");

struct htab {
	uint64_t *slots;       /* 0: empty; else hash << 32 | (index + 1) */
	uint32_t mask;         /* number of slots - 1 */
	uint32_t used;
};

/* A copied key. */
struct srec {
	uint16_t len;
	uint8_t key[];
};

struct page {
	uint64_t no;           /* id >> PAGE_SHIFT */
	uint32_t nlive;
	/* Series being removed: set and cleared within st_index_remove. */
	uint64_t dying[PAGE_SLOTS / 64];
	struct srec *slot[PAGE_SLOTS];
};

struct st_index {
	pthread_rwlock_t lock;
	/* Open read sessions, for asserts only: the rwlock orders everything. */
	atomic_uint readers;
	const struct st_index_mem_ops *mem;

	struct term *terms;    /* holds >= cap_for(nterms, 16) */
	uint32_t nterms;       /* high-water mark, ROOT included */
	uint32_t live_terms;   /* ROOT excluded */
	uint32_t free_term;    /* free list through term.pos */
	struct htab term_ht;

	struct page **pages;   /* holds >= cap_for(npages, 4) */
	uint32_t npages;
	struct htab page_ht;

	uint64_t nseries;
	uint64_t npostings;
	uint64_t key_bytes;
};

struct st_index_regex {
	pcre2_code *code;
	pcre2_match_context *mctx;
	bool match_empty;
};

/* ------------------------------------------------------------------------ */
/* Memory                                                                     */
/* ------------------------------------------------------------------------ */

static void *libc_realloc(void *arg, void *p, size_t bytes)
{
	(void)arg;
	if (bytes == 0) {
		free(p);
		return NULL;
	}
	return realloc(p, bytes);
}

static const struct st_index_mem_ops libc_mem = {libc_realloc, NULL};

static void *ix_realloc(const struct st_index *idx, void *p, size_t bytes)
{
	assert(bytes > 0);
	return idx->mem->realloc(idx->mem->arg, p, bytes);
}

static void *ix_alloc(const struct st_index *idx, size_t bytes)
{
	return ix_realloc(idx, NULL, bytes);
}

static void ix_free(const struct st_index *idx, void *p)
{
	if (p)
		idx->mem->realloc(idx->mem->arg, p, 0);
}

/* The smallest power of two >= n, at least min (a power of two). */
static inline uint64_t cap_for(uint64_t n, uint64_t min)
{
	if (n <= min)
		return min;
	return UINT64_C(1) << (64 - __builtin_clzll(n - 1));
}

/*
 * Make room for element n + 1 of an array that holds n elements (a is NULL
 * iff n == 0) in at least cap_for(n, min). Returns the array, maybe moved, or
 * NULL with a unchanged.
 */
static void *vec_room(const struct st_index *idx, void *a, uint64_t n, uint64_t min, size_t elem)
{
	if (a && n < cap_for(n, min))
		return a;
	return ix_realloc(idx, a, cap_for(n + 1, min) * elem);
}

/* The array shrank from old_n to n elements: give memory back. Never fails. */
static void *vec_fit(const struct st_index *idx, void *a, uint64_t old_n, uint64_t n, uint64_t min,
		     size_t elem)
{
	if (n == 0) {
		ix_free(idx, a);
		return NULL;
	}
	if (cap_for(n, min) >= cap_for(old_n, min))
		return a;
	void *b = ix_realloc(idx, a, cap_for(n, min) * elem);
	return b ? b : a;
}

/* ------------------------------------------------------------------------ */
/* Id sets                                                                    */
/* ------------------------------------------------------------------------ */

void st_idset_init(struct st_idset *s)
{
	s->ids = NULL;
	s->n = 0;
	s->cap = 0;
}

void st_idset_release(struct st_idset *s)
{
	if (!s)
		return;
	free(s->ids);
	st_idset_init(s);
}

void st_idset_clear(struct st_idset *s)
{
	s->n = 0;
}

int st_idset_reserve(struct st_idset *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	if (n > SIZE_MAX / 2 / sizeof(uint64_t))
		return -ENOMEM;
	size_t cap = s->cap ? s->cap : 16;
	while (cap < n)
		cap *= 2;
	uint64_t *ids = realloc(s->ids, cap * sizeof(uint64_t));
	if (!ids)
		return -ENOMEM;
	s->ids = ids;
	s->cap = cap;
	return 0;
}

int st_idset_copy(struct st_idset *dst, const struct st_idset *src)
{
	assert(dst != src);
	int rc = st_idset_reserve(dst, src->n);
	if (rc)
		return rc;
	if (src->n)
		memcpy(dst->ids, src->ids, src->n * sizeof(uint64_t));
	dst->n = src->n;
	return 0;
}

/* First index i in [lo, n) with a[i] >= x, or n; exponential then binary search. */
static size_t gallop(const uint64_t *a, size_t lo, size_t n, uint64_t x)
{
	size_t step = 1, hi = lo;
	while (hi < n && a[hi] < x) {
		lo = hi + 1;
		hi += step;
		step *= 2;
	}
	if (hi > n)
		hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool st_idset_contains(const struct st_idset *s, uint64_t id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->ids[lo] == id;
}

/* Sizes this skewed make the small side search the large one. */
static inline bool skewed(size_t a, size_t b)
{
	return a / 16 > b || b / 16 > a;
}

void st_idset_intersect(struct st_idset *dst, const struct st_idset *src)
{
	assert(dst != src);
	uint64_t *a = dst->ids;
	const uint64_t *b = src->ids;
	size_t na = dst->n, nb = src->n, i = 0, j = 0, w = 0;

	if (na == 0 || nb == 0) {
		dst->n = 0;
		return;
	}
	if (skewed(na, nb) && na < nb) {
		for (i = 0; i < na && j < nb; i++) {
			j = gallop(b, j, nb, a[i]);
			if (j < nb && b[j] == a[i])
				a[w++] = a[i];
		}
	} else if (skewed(na, nb)) {
		for (j = 0; j < nb && i < na; j++) {
			i = gallop(a, i, na, b[j]);
			if (i < na && a[i] == b[j])
				a[w++] = a[i++];
		}
	} else {
		while (i < na && j < nb) {
			if (a[i] < b[j]) {
				i++;
			} else if (a[i] > b[j]) {
				j++;
			} else {
				a[w++] = a[i++];
				j++;
			}
		}
	}
	assert(w <= na);
	dst->n = w;
}

void st_idset_difference(struct st_idset *dst, const struct st_idset *src)
{
	assert(dst != src);
	uint64_t *a = dst->ids;
	const uint64_t *b = src->ids;
	size_t na = dst->n, nb = src->n, i = 0, j = 0, w = 0;

	if (na == 0 || nb == 0)
		return;
	if (skewed(na, nb) && nb < na) {
		/* Few to drop: find each, move the kept stretches down. */
		for (j = 0; j < nb && i < na; j++) {
			size_t k = gallop(a, i, na, b[j]);
			memmove(a + w, a + i, (k - i) * sizeof(uint64_t));
			w += k - i;
			i = k;
			if (i < na && a[i] == b[j])
				i++;
		}
		memmove(a + w, a + i, (na - i) * sizeof(uint64_t));
		w += na - i;
	} else if (skewed(na, nb)) {
		for (i = 0; i < na; i++) {
			j = gallop(b, j, nb, a[i]);
			if (j == nb || b[j] != a[i])
				a[w++] = a[i];
		}
	} else {
		while (i < na) {
			while (j < nb && b[j] < a[i])
				j++;
			if (j == nb || b[j] != a[i])
				a[w++] = a[i];
			i++;
		}
	}
	assert(w <= na);
	dst->n = w;
}

int st_idset_union(struct st_idset *dst, const struct st_idset *src)
{
	assert(dst != src);
	size_t na = dst->n, nb = src->n;
	if (nb == 0)
		return 0;
	int rc = st_idset_reserve(dst, na + nb);
	if (rc)
		return rc;
	uint64_t *a = dst->ids;
	const uint64_t *b = src->ids;
	if (na == 0 || a[na - 1] < b[0]) {
		memcpy(a + na, b, nb * sizeof(uint64_t));
		dst->n = na + nb;
		return 0;
	}
	/* Merge from the back into a[0, na + nb); i, j, w count elements left. */
	size_t i = na, j = nb, w = na + nb;
	while (j > 0) {
		if (i > 0 && a[i - 1] > b[j - 1]) {
			a[--w] = a[--i];
		} else {
			if (i > 0 && a[i - 1] == b[j - 1])
				i--;
			a[--w] = b[--j];
		}
	}
	/* a[0, i) is in place; duplicates left a gap [i, w). */
	if (w > i)
		memmove(a + i, a + w, (na + nb - w) * sizeof(uint64_t));
	dst->n = na + nb - (w - i);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Regexes                                                                    */
/* ------------------------------------------------------------------------ */

/* 1 match, 0 none, or a negative errno. md belongs to the calling thread. */
static int re_exec(const struct st_index_regex *re, pcre2_match_data *md, struct st_str s)
{
	const char *p = s.len ? s.p : "";
	int rc = pcre2_match(re->code, (PCRE2_SPTR)p, s.len, 0, 0, md, re->mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_NOMEMORY)
		return -ENOMEM;
	return -E2BIG; /* match, depth, heap or JIT stack limit */
}

int st_index_regex_compile(const char *pat, size_t len, struct st_index_regex **out,
			   char *err, size_t errlen)
{
	int errcode = 0, rc = -ENOMEM;
	PCRE2_SIZE erroff = 0;
	pcre2_match_data *md = NULL;
	struct st_index_regex *re = calloc(1, sizeof(*re));

	*out = NULL;
	if (!re)
		goto err;
	re->code = pcre2_compile((PCRE2_SPTR)(len ? pat : ""), len,
				 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
					 PCRE2_NEVER_BACKSLASH_C,
				 &errcode, &erroff, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[128];
		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", errcode);
		if (errlen)
			snprintf(err, errlen, "bad regex \"%.*s\": %s at %zu",
				 (int)CM_MIN(len, 200u), pat, (const char *)msg, (size_t)erroff);
		rc = errcode == PCRE2_ERROR_HEAP_FAILED ? -ENOMEM : -EINVAL;
		goto err_free;
	}
	/* Without JIT support pcre2_match interprets; both are correct. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->mctx = pcre2_match_context_create(NULL);
	md = pcre2_match_data_create(1, NULL);
	if (!re->mctx || !md)
		goto err_free;
	pcre2_set_match_limit(re->mctx, RE_MATCH_LIMIT);
	rc = re_exec(re, md, (struct st_str){"", 0});
	if (rc < 0)
		goto err_free;
	re->match_empty = rc == 1;
	pcre2_match_data_free(md);
	*out = re;
	return 0;

err_free:
	pcre2_match_data_free(md);
	st_index_regex_free(re);
err:
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory compiling regex");
	return rc;
}

void st_index_regex_free(struct st_index_regex *re)
{
	if (!re)
		return;
	pcre2_match_context_free(re->mctx);
	pcre2_code_free(re->code);
	free(re);
}

int st_index_regex_match(const struct st_index_regex *re, struct st_str s)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		return -ENOMEM;
	int rc = re_exec(re, md, s);
	pcre2_match_data_free(md);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Postings                                                                   */
/* ------------------------------------------------------------------------ */

/* First segment with hi >= key, or nseg. */
static uint32_t seg_find(const struct posting *p, uint32_t hi)
{
	uint32_t lo = 0, top = p->nseg;
	while (lo < top) {
		uint32_t mid = lo + (top - lo) / 2;
		if (p->u.segs[mid].hi < hi)
			lo = mid + 1;
		else
			top = mid;
	}
	return lo;
}

/* First index with a[i] >= x in a[0, n). */
static uint32_t lo_find(const uint32_t *a, uint32_t n, uint32_t x)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const uint64_t *flat_ids(const struct posting *p)
{
	assert(p->nseg == 0);
	return p->n == 1 ? &p->u.one : p->u.ids;
}

/* Write the n ids of p, sorted, to out. */
static void posting_copy(const struct posting *p, uint64_t *out)
{
	if (p->nseg == 0) {
		if (p->n)
			memcpy(out, flat_ids(p), p->n * sizeof(uint64_t));
		return;
	}
	for (uint32_t s = 0; s < p->nseg; s++) {
		const struct seg *g = &p->u.segs[s];
		uint64_t hi = (uint64_t)g->hi << 32;
		for (uint32_t i = 0; i < g->n; i++)
			*out++ = hi | g->lo[i];
	}
}

static bool posting_has(const struct posting *p, uint64_t id)
{
	if (p->nseg == 0) {
		const uint64_t *a = flat_ids(p);
		for (uint32_t i = 0; i < p->n; i++)
			if (a[i] == id)
				return true;
		return false;
	}
	uint32_t s = seg_find(p, (uint32_t)(id >> 32));
	if (s == p->nseg || p->u.segs[s].hi != (uint32_t)(id >> 32))
		return false;
	const struct seg *g = &p->u.segs[s];
	uint32_t i = lo_find(g->lo, g->n, (uint32_t)id);
	return i < g->n && g->lo[i] == (uint32_t)id;
}

/* Flat posting at FLAT_MAX ids plus id: rebuild as segments, or -ENOMEM. */
static int posting_split(const struct st_index *idx, struct posting *p, uint64_t id)
{
	uint64_t tmp[FLAT_MAX + 1];
	uint32_t n = p->n, i = n, nseg = 0;

	assert(p->nseg == 0 && n == FLAT_MAX);
	memcpy(tmp, p->u.ids, n * sizeof(uint64_t));
	while (i > 0 && tmp[i - 1] > id) {
		tmp[i] = tmp[i - 1];
		i--;
	}
	tmp[i] = id;
	n++;
	for (i = 0; i < n; i++)
		nseg += i == 0 || (tmp[i] >> 32) != (tmp[i - 1] >> 32);

	struct seg *segs = ix_alloc(idx, cap_for(nseg, 1) * sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	uint32_t s = 0;
	for (i = 0; i < n; s++) {
		uint32_t j = i;
		while (j < n && (tmp[j] >> 32) == (tmp[i] >> 32))
			j++;
		segs[s].lo = ix_alloc(idx, cap_for(j - i, SEG_MIN) * sizeof(uint32_t));
		if (!segs[s].lo)
			goto err_free;
		segs[s].hi = (uint32_t)(tmp[i] >> 32);
		segs[s].n = j - i;
		for (uint32_t k = i; k < j; k++)
			segs[s].lo[k - i] = (uint32_t)tmp[k];
		i = j;
	}
	assert(s == nseg);
	ix_free(idx, p->u.ids);
	p->u.segs = segs;
	p->nseg = nseg;
	p->n = n;
	return 0;

err_free:
	while (s-- > 0)
		ix_free(idx, segs[s].lo);
	ix_free(idx, segs);
	return -ENOMEM;
}

static int posting_add_seg(const struct st_index *idx, struct posting *p, uint64_t id)
{
	uint32_t hi = (uint32_t)(id >> 32), lo = (uint32_t)id;
	uint32_t s = seg_find(p, hi);

	if (s == p->nseg || p->u.segs[s].hi != hi) {
		struct seg *segs = vec_room(idx, p->u.segs, p->nseg, 1, sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		p->u.segs = segs;
		uint32_t *a = ix_alloc(idx, SEG_MIN * sizeof(uint32_t));
		if (!a)
			return -ENOMEM;
		memmove(segs + s + 1, segs + s, (p->nseg - s) * sizeof(*segs));
		a[0] = lo;
		segs[s] = (struct seg){a, hi, 1};
		p->nseg++;
		p->n++;
		return 0;
	}
	struct seg *g = &p->u.segs[s];
	uint32_t *a = vec_room(idx, g->lo, g->n, SEG_MIN, sizeof(uint32_t));
	if (!a)
		return -ENOMEM;
	g->lo = a;
	uint32_t i = g->n;
	while (i > 0 && a[i - 1] > lo) { /* out of order: insert */
		a[i] = a[i - 1];
		i--;
	}
	assert(i == 0 || a[i - 1] != lo);
	a[i] = lo;
	g->n++;
	p->n++;
	return 0;
}

/* Add id (not in p). Returns 0, -ENOMEM or -EOVERFLOW; p unchanged on error. */
static int posting_add(const struct st_index *idx, struct posting *p, uint64_t id)
{
	if (p->n == UINT32_MAX)
		return -EOVERFLOW;
	if (p->nseg)
		return posting_add_seg(idx, p, id);
	if (p->n == 0) {
		p->u.one = id;
		p->n = 1;
		return 0;
	}
	if (p->n == 1) {
		uint64_t *a = ix_alloc(idx, 2 * sizeof(uint64_t));
		if (!a)
			return -ENOMEM;
		a[0] = CM_MIN(p->u.one, id);
		a[1] = CM_MAX(p->u.one, id);
		p->u.ids = a;
		p->n = 2;
		return 0;
	}
	if (p->n == FLAT_MAX)
		return posting_split(idx, p, id);
	uint64_t *a = vec_room(idx, p->u.ids, p->n, 2, sizeof(uint64_t));
	if (!a)
		return -ENOMEM;
	p->u.ids = a;
	uint32_t i = p->n;
	while (i > 0 && a[i - 1] > id) { /* another shard's ids: insert */
		a[i] = a[i - 1];
		i--;
	}
	assert(i == 0 || a[i - 1] != id);
	a[i] = id;
	p->n++;
	return 0;
}

/* A flat posting changed size from old_n to p->n: fix the inline form. */
static void flat_fit(const struct st_index *idx, struct posting *p, uint32_t old_n)
{
	if (old_n <= 1)
		return;
	if (p->n <= 1) {
		uint64_t *a = p->u.ids;
		if (p->n == 1)
			p->u.one = a[0];
		else
			p->u.ids = NULL;
		ix_free(idx, a);
		return;
	}
	p->u.ids = vec_fit(idx, p->u.ids, old_n, p->n, 2, sizeof(uint64_t));
}

/* Drop empty segments and shrink the segment array. */
static void segs_fit(const struct st_index *idx, struct posting *p)
{
	uint32_t w = 0, old = p->nseg;
	for (uint32_t s = 0; s < old; s++) {
		if (p->u.segs[s].n)
			p->u.segs[w++] = p->u.segs[s];
		else
			ix_free(idx, p->u.segs[s].lo);
	}
	p->nseg = w;
	p->u.segs = vec_fit(idx, p->u.segs, old, w, 1, sizeof(struct seg));
	assert((w == 0) == (p->n == 0));
}

/* Remove id, which is in p (undo of an add). Never fails. */
static void posting_del(const struct st_index *idx, struct posting *p, uint64_t id)
{
	uint32_t old = p->n;
	if (p->nseg == 0) {
		uint64_t *a = old == 1 ? &p->u.one : p->u.ids;
		uint32_t i = 0;
		while (i < old && a[i] != id)
			i++;
		assert(i < old);
		memmove(a + i, a + i + 1, (old - i - 1) * sizeof(uint64_t));
		p->n--;
		flat_fit(idx, p, old);
		return;
	}
	uint32_t s = seg_find(p, (uint32_t)(id >> 32));
	assert(s < p->nseg && p->u.segs[s].hi == (uint32_t)(id >> 32));
	struct seg *g = &p->u.segs[s];
	uint32_t i = lo_find(g->lo, g->n, (uint32_t)id);
	assert(i < g->n && g->lo[i] == (uint32_t)id);
	memmove(g->lo + i, g->lo + i + 1, (g->n - i - 1) * sizeof(uint32_t));
	g->n--;
	p->n--;
	if (g->n)
		g->lo = vec_fit(idx, g->lo, g->n + 1, g->n, SEG_MIN, sizeof(uint32_t));
	else
		segs_fit(idx, p);
}

/* Release the storage of p (which may hold ids); p is empty afterwards. */
static void posting_free(const struct st_index *idx, struct posting *p)
{
	if (p->nseg) {
		for (uint32_t s = 0; s < p->nseg; s++)
			ix_free(idx, p->u.segs[s].lo);
		ix_free(idx, p->u.segs);
	} else if (p->n > 1) {
		ix_free(idx, p->u.ids);
	}
	memset(p, 0, sizeof(*p));
}

static uint64_t posting_bytes(const struct posting *p)
{
	uint64_t b = 0;
	if (p->nseg) {
		b += cap_for(p->nseg, 1) * sizeof(struct seg);
		for (uint32_t s = 0; s < p->nseg; s++)
			b += cap_for(p->u.segs[s].n, SEG_MIN) * sizeof(uint32_t);
	} else if (p->n > 1) {
		b += cap_for(p->n, 2) * sizeof(uint64_t);
	}
	return b;
}

/* ------------------------------------------------------------------------ */
/* Hash tables                                                                */
/* ------------------------------------------------------------------------ */

typedef bool (*htab_eq_fn)(const void *ctx, uint32_t index);

static uint32_t htab_find(const struct htab *h, uint32_t hash, htab_eq_fn eq, const void *ctx)
{
	if (!h->slots)
		return NONE;
	for (uint32_t i = hash & h->mask;; i = (i + 1) & h->mask) {
		uint64_t s = h->slots[i];
		if (!s)
			return NONE;
		if ((uint32_t)(s >> 32) == hash && eq(ctx, (uint32_t)s - 1))
			return (uint32_t)s - 1;
	}
}

static void htab_place(uint64_t *slots, uint32_t mask, uint64_t s)
{
	uint32_t i = (uint32_t)(s >> 32) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = s;
}

/* Room for one more entry (load <= 3/4). Returns 0, -ENOMEM or -EOVERFLOW. */
static int htab_reserve(const struct st_index *idx, struct htab *h)
{
	uint64_t size = h->slots ? (uint64_t)h->mask + 1 : 0;
	if (((uint64_t)h->used + 1) * 4 <= size * 3)
		return 0;
	uint64_t nsize = size ? size * 2 : 16;
	if (nsize > (UINT64_C(1) << 32))
		return -EOVERFLOW;
	uint64_t *slots = ix_alloc(idx, nsize * sizeof(uint64_t));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0, nsize * sizeof(uint64_t));
	for (uint64_t i = 0; i < size; i++)
		if (h->slots[i])
			htab_place(slots, (uint32_t)(nsize - 1), h->slots[i]);
	ix_free(idx, h->slots);
	h->slots = slots;
	h->mask = (uint32_t)(nsize - 1);
	return 0;
}

/* Insert (after htab_reserve; index not present). */
static void htab_put(struct htab *h, uint32_t hash, uint32_t index)
{
	assert(h->slots && ((uint64_t)h->used + 1) * 4 <= ((uint64_t)h->mask + 1) * 3);
	htab_place(h->slots, h->mask, (uint64_t)hash << 32 | ((uint64_t)index + 1));
	h->used++;
}

/* Delete the entry (hash, index), which is present; backward-shift deletion. */
static void htab_del(struct htab *h, uint32_t hash, uint32_t index)
{
	uint64_t want = (uint64_t)hash << 32 | ((uint64_t)index + 1);
	uint32_t i = hash & h->mask;
	while (h->slots[i] != want) {
		assert(h->slots[i]);
		i = (i + 1) & h->mask;
	}
	for (uint32_t j = i;;) {
		j = (j + 1) & h->mask;
		uint64_t s = h->slots[j];
		if (!s)
			break;
		uint32_t home = (uint32_t)(s >> 32) & h->mask;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (!stays) {
			h->slots[i] = s;
			i = j;
		}
	}
	h->slots[i] = 0;
	h->used--;
}

/* ------------------------------------------------------------------------ */
/* Terms                                                                      */
/* ------------------------------------------------------------------------ */

static inline const char *term_name(const struct term *t)
{
	return t->len <= TERM_INLINE ? t->name.inl : t->name.heap;
}

static inline struct st_str term_str(const struct term *t)
{
	return (struct st_str){term_name(t), t->len};
}

struct term_key {
	const struct st_index *idx;
	uint32_t parent;
	uint8_t kind;
	struct st_str s;
};

static uint32_t term_hash(uint8_t kind, uint32_t parent, struct st_str s)
{
	uint64_t seed = (uint64_t)kind << 32 | parent;
	return (uint32_t)XXH3_64bits_withSeed(s.p, s.len, seed);
}

static bool term_eq(const void *ctx, uint32_t index)
{
	const struct term_key *k = ctx;
	const struct term *t = &k->idx->terms[index];
	return t->kind == k->kind && t->parent == k->parent && t->len == k->s.len &&
	       memcmp(term_name(t), k->s.p, k->s.len) == 0;
}

static uint32_t term_find(const struct st_index *idx, uint8_t kind, uint32_t parent,
			  struct st_str s)
{
	if (parent == NONE)
		return NONE;
	struct term_key k = {idx, parent, kind, s};
	return htab_find(&idx->term_ht, term_hash(kind, parent, s), term_eq, &k);
}

/* Create a term (not present) under parent; *out is its index. 0 or -errno. */
static int term_create(struct st_index *idx, uint8_t kind, uint32_t parent, struct st_str s,
		       uint32_t *out)
{
	assert(s.len > 0 && s.len <= UINT16_MAX);
	int rc = htab_reserve(idx, &idx->term_ht);
	if (rc)
		return rc;
	struct term *pt = &idx->terms[parent];
	uint32_t *kids = vec_room(idx, pt->kids, pt->nkids, KIDS_MIN, sizeof(uint32_t));
	if (!kids)
		return -ENOMEM;
	pt->kids = kids;
	char *str = NULL;
	if (s.len > TERM_INLINE && !(str = ix_alloc(idx, s.len)))
		return -ENOMEM;
	uint32_t t = idx->free_term;
	if (t == NONE) {
		if (idx->nterms == NONE - 1)
			goto err_overflow;
		struct term *terms = vec_room(idx, idx->terms, idx->nterms, 16, sizeof(*terms));
		if (!terms)
			goto err_free_str;
		idx->terms = terms;
		t = idx->nterms++;
	} else {
		idx->free_term = idx->terms[t].pos;
	}

	struct term *tt = &idx->terms[t];
	memset(tt, 0, sizeof(*tt));
	if (str)
		tt->name.heap = str;
	memcpy(str ? str : tt->name.inl, s.p, s.len);
	tt->len = (uint16_t)s.len;
	tt->kind = kind;
	tt->parent = parent;
	tt->hash = term_hash(kind, parent, s);
	tt->next_touched = NONE;
	pt = &idx->terms[parent];
	tt->pos = pt->nkids;
	pt->kids[pt->nkids++] = t;
	htab_put(&idx->term_ht, tt->hash, t);
	idx->live_terms++;
	*out = t;
	return 0;

err_overflow:
	rc = -EOVERFLOW;
	ix_free(idx, str);
	return rc;
err_free_str:
	ix_free(idx, str);
	return -ENOMEM;
}

/* Delete term t, which has no series and no children. */
static void term_delete(struct st_index *idx, uint32_t t)
{
	struct term *tt = &idx->terms[t];
	assert(tt->kind > TK_ROOT && tt->post.n == 0 && tt->nkids == 0);
	htab_del(&idx->term_ht, tt->hash, t);

	struct term *pt = &idx->terms[tt->parent];
	uint32_t last = pt->kids[--pt->nkids];
	assert(pt->kids[tt->pos] == t);
	pt->kids[tt->pos] = last;
	idx->terms[last].pos = tt->pos;
	pt->kids = vec_fit(idx, pt->kids, pt->nkids + 1, pt->nkids, KIDS_MIN, sizeof(uint32_t));

	posting_free(idx, &tt->post);
	ix_free(idx, tt->kids);
	if (tt->len > TERM_INLINE)
		ix_free(idx, tt->name.heap);
	memset(tt, 0, sizeof(*tt));
	tt->kind = TK_FREE;
	tt->pos = idx->free_term;
	idx->free_term = t;
	idx->live_terms--;
}

/* ------------------------------------------------------------------------ */
/* Series pages                                                               */
/* ------------------------------------------------------------------------ */

struct page_key {
	const struct st_index *idx;
	uint64_t no;
};

static uint32_t page_hash(uint64_t no)
{
	return (uint32_t)XXH3_64bits(&no, sizeof(no));
}

static bool page_eq(const void *ctx, uint32_t index)
{
	const struct page_key *k = ctx;
	return k->idx->pages[index]->no == k->no;
}

static struct page *page_find(const struct st_index *idx, uint64_t no)
{
	struct page_key k = {idx, no};
	uint32_t i = htab_find(&idx->page_ht, page_hash(no), page_eq, &k);
	return i == NONE ? NULL : idx->pages[i];
}

static struct srec *series_get(const struct st_index *idx, uint64_t id)
{
	struct page *pg = page_find(idx, id >> PAGE_SHIFT);
	return pg ? pg->slot[id & (PAGE_SLOTS - 1)] : NULL;
}

static int page_create(struct st_index *idx, uint64_t no, struct page **out)
{
	if (idx->npages == NONE - 1)
		return -EOVERFLOW;
	int rc = htab_reserve(idx, &idx->page_ht);
	if (rc)
		return rc;
	struct page **pages = vec_room(idx, idx->pages, idx->npages, 4, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	idx->pages = pages;
	struct page *pg = ix_alloc(idx, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	memset(pg, 0, sizeof(*pg));
	pg->no = no;
	pages[idx->npages] = pg;
	htab_put(&idx->page_ht, page_hash(no), idx->npages);
	idx->npages++;
	*out = pg;
	return 0;
}

/* Free an empty page; the last page takes its place in the array. */
static void page_delete(struct st_index *idx, struct page *pg)
{
	struct page_key k = {idx, pg->no};
	uint32_t i = htab_find(&idx->page_ht, page_hash(pg->no), page_eq, &k);
	uint32_t last = idx->npages - 1;
	assert(i != NONE && idx->pages[i] == pg && pg->nlive == 0);
	htab_del(&idx->page_ht, page_hash(pg->no), i);
	if (i != last) {
		struct page *moved = idx->pages[last];
		htab_del(&idx->page_ht, page_hash(moved->no), last);
		idx->pages[i] = moved;
		htab_put(&idx->page_ht, page_hash(moved->no), i);
	}
	idx->npages--;
	idx->pages = vec_fit(idx, idx->pages, idx->npages + 1, idx->npages, 4, sizeof(*idx->pages));
	ix_free(idx, pg);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                  */
/* ------------------------------------------------------------------------ */

int st_index_create(const struct st_index_cfg *cfg, struct st_index **out)
{
	const struct st_index_mem_ops *mem = cfg && cfg->mem ? cfg->mem : &libc_mem;
	pthread_rwlockattr_t attr;
	int rc = -ENOMEM;

	*out = NULL;
	struct st_index *idx = mem->realloc(mem->arg, NULL, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	memset(idx, 0, sizeof(*idx));
	idx->mem = mem;
	idx->free_term = NONE;
	atomic_init(&idx->readers, 0);

	idx->terms = ix_alloc(idx, 16 * sizeof(struct term));
	if (!idx->terms)
		goto err_free_idx;
	memset(&idx->terms[0], 0, sizeof(struct term));
	idx->terms[0].kind = TK_ROOT;
	idx->terms[0].parent = NONE;
	idx->terms[0].next_touched = NONE;
	idx->nterms = 1;

	/* Writer preference: a stream of queries must not starve the indexer. */
	if (pthread_rwlockattr_init(&attr))
		goto err_free_terms;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = -pthread_rwlock_init(&idx->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (rc)
		goto err_free_terms;
	*out = idx;
	return 0;

err_free_terms:
	ix_free(idx, idx->terms);
err_free_idx:
	mem->realloc(mem->arg, idx, 0);
	return rc ? rc : -ENOMEM;
}

void st_index_destroy(struct st_index *idx)
{
	if (!idx)
		return;
	assert(atomic_load_explicit(&idx->readers, memory_order_relaxed) == 0);
	for (uint32_t t = 0; t < idx->nterms; t++) {
		struct term *tt = &idx->terms[t];
		if (tt->kind == TK_FREE)
			continue;
		if (tt->kind != TK_TAGKEY)
			posting_free(idx, &tt->post);
		ix_free(idx, tt->kids);
		if (tt->len > TERM_INLINE)
			ix_free(idx, tt->name.heap);
	}
	for (uint32_t i = 0; i < idx->npages; i++) {
		for (uint32_t s = 0; s < PAGE_SLOTS; s++)
			ix_free(idx, idx->pages[i]->slot[s]);
		ix_free(idx, idx->pages[i]);
	}
	ix_free(idx, idx->pages);
	ix_free(idx, idx->terms);
	ix_free(idx, idx->term_ht.slots);
	ix_free(idx, idx->page_ht.slots);
	pthread_rwlock_destroy(&idx->lock);
	const struct st_index_mem_ops *mem = idx->mem;
	mem->realloc(mem->arg, idx, 0);
}

void st_index_read_lock(struct st_index *idx)
{
	int rc = pthread_rwlock_rdlock(&idx->lock);
	assert(rc == 0);
	(void)rc;
	atomic_fetch_add_explicit(&idx->readers, 1, memory_order_relaxed);
}

void st_index_read_unlock(struct st_index *idx)
{
	unsigned was = atomic_fetch_sub_explicit(&idx->readers, 1, memory_order_relaxed);
	assert(was > 0);
	(void)was;
	pthread_rwlock_unlock(&idx->lock);
}

static void write_lock(struct st_index *idx)
{
	int rc = pthread_rwlock_wrlock(&idx->lock);
	assert(rc == 0);
	(void)rc;
	assert(atomic_load_explicit(&idx->readers, memory_order_relaxed) == 0);
}

#define ASSERT_SESSION(idx) \
	assert(atomic_load_explicit(&(idx)->readers, memory_order_relaxed) > 0)

/* ------------------------------------------------------------------------ */
/* Add                                                                        */
/* ------------------------------------------------------------------------ */

/* What an add did to one term, to undo it. */
struct add_undo {
	uint32_t term;
	bool created;
	bool posted;
};

struct add_log {
	struct add_undo e[2 + 2 * ST_TAGS_MAX];
	uint32_t n;
};

/* Find or create the term (kind, parent, s) and add id to it. */
static int add_term(struct st_index *idx, struct add_log *log, uint8_t kind, uint32_t parent,
		    struct st_str s, uint64_t id, uint32_t *out)
{
	struct add_undo *u = &log->e[log->n];
	u->term = term_find(idx, kind, parent, s);
	u->created = false;
	u->posted = false;
	if (u->term == NONE) {
		int rc = term_create(idx, kind, parent, s, &u->term);
		if (rc)
			return rc;
		u->created = true;
	}
	log->n++;
	struct term *t = &idx->terms[u->term];
	if (kind == TK_TAGKEY) {
		t->post.n++; /* <= the measurement's count, checked first */
	} else {
		int rc = posting_add(idx, &t->post, id);
		if (rc)
			return rc;
		idx->npostings++;
	}
	u->posted = true;
	*out = u->term;
	return 0;
}

static void add_undo(struct st_index *idx, struct add_log *log, uint64_t id)
{
	while (log->n > 0) {
		struct add_undo *u = &log->e[--log->n];
		struct term *t = &idx->terms[u->term];
		if (u->posted && t->kind == TK_TAGKEY) {
			t->post.n--;
		} else if (u->posted) {
			posting_del(idx, &t->post, id);
			idx->npostings--;
		}
		if (u->created)
			term_delete(idx, u->term);
	}
}

static int add_terms(struct st_index *idx, struct add_log *log, uint64_t id,
		     const struct st_key_view *v)
{
	uint32_t meas, t;
	int rc = add_term(idx, log, TK_MEAS, 0, v->name, id, &meas);
	if (rc)
		return rc;
	if (v->field.len) {
		rc = add_term(idx, log, TK_FIELD, meas, v->field, id, &t);
		if (rc)
			return rc;
	}
	struct st_key_iter it;
	struct st_tag tag;
	st_key_iter_init(v, &it);
	while (st_key_iter_next(&it, &tag)) {
		uint32_t key;
		rc = add_term(idx, log, TK_TAGKEY, meas, tag.key, id, &key);
		if (rc)
			return rc;
		rc = add_term(idx, log, TK_TAGVAL, key, tag.value, id, &t);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_locked(struct st_index *idx, uint64_t id, const uint8_t *key, size_t len,
		      const struct st_key_view *v)
{
	struct page *pg = page_find(idx, id >> PAGE_SHIFT);
	bool new_page = false;
	int rc;

	if (pg && pg->slot[id & (PAGE_SLOTS - 1)])
		return -EEXIST;
	struct srec *r = ix_alloc(idx, sizeof(*r) + len);
	if (!r)
		return -ENOMEM;
	r->len = (uint16_t)len;
	memcpy(r->key, key, len);
	if (!pg) {
		rc = page_create(idx, id >> PAGE_SHIFT, &pg);
		if (rc)
			goto err_free_rec;
		new_page = true;
	}

	struct add_log log;
	log.n = 0;
	rc = add_terms(idx, &log, id, v);
	if (rc)
		goto err_undo;

	pg->slot[id & (PAGE_SLOTS - 1)] = r;
	pg->nlive++;
	idx->nseries++;
	idx->key_bytes += sizeof(*r) + len;
	return 0;

err_undo:
	add_undo(idx, &log, id);
	if (new_page)
		page_delete(idx, pg);
err_free_rec:
	ix_free(idx, r);
	return rc;
}

int st_index_add(struct st_index *idx, uint64_t id, const uint8_t *key, size_t len)
{
	struct st_key_view v;
	if (!key || st_key_parse(key, len, &v))
		return -EINVAL;
	write_lock(idx);
	int rc = add_locked(idx, id, key, len, &v);
	pthread_rwlock_unlock(&idx->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Remove                                                                     */
/* ------------------------------------------------------------------------ */

struct remove_ctx {
	struct st_index *idx;
	uint32_t touched;      /* head of the work list */
	uint64_t cached_no;    /* last page looked up */
	struct page *cached;
};

static void touch(struct remove_ctx *c, uint32_t t)
{
	struct term *tt = &c->idx->terms[t];
	assert(t != NONE && tt->kind > TK_ROOT);
	if (tt->touched)
		return;
	tt->touched = 1;
	tt->next_touched = c->touched;
	c->touched = t;
}

static inline bool bit_test(const uint64_t *bits, uint32_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/* Mark series id (live, in page pg, not yet dying) and touch its terms. */
static void remove_mark(struct remove_ctx *c, struct page *pg, uint64_t id)
{
	struct st_index *idx = c->idx;
	uint32_t i = (uint32_t)(id & (PAGE_SLOTS - 1));
	const struct srec *r = pg->slot[i];
	struct st_key_view v;
	int rc = st_key_parse(r->key, r->len, &v);
	assert(rc == 0);
	(void)rc;
	pg->dying[i / 64] |= UINT64_C(1) << (i % 64);

	uint32_t meas = term_find(idx, TK_MEAS, 0, v.name);
	touch(c, meas);
	if (v.field.len)
		touch(c, term_find(idx, TK_FIELD, meas, v.field));
	struct st_key_iter it;
	struct st_tag tag;
	st_key_iter_init(&v, &it);
	while (st_key_iter_next(&it, &tag)) {
		uint32_t key = term_find(idx, TK_TAGKEY, meas, tag.key);
		touch(c, key);
		assert(idx->terms[key].post.n > 0);
		idx->terms[key].post.n--;
		touch(c, term_find(idx, TK_TAGVAL, key, tag.value));
	}
}

static bool is_dying(struct remove_ctx *c, uint64_t id)
{
	uint64_t no = id >> PAGE_SHIFT;
	if (!c->cached || c->cached_no != no) {
		c->cached = page_find(c->idx, no);
		c->cached_no = no;
	}
	assert(c->cached && c->cached->slot[id & (PAGE_SLOTS - 1)]);
	return bit_test(c->cached->dying, (uint32_t)(id & (PAGE_SLOTS - 1)));
}

/* Filter the dying series out of p in one pass. */
static void posting_compact(struct remove_ctx *c, struct posting *p)
{
	const struct st_index *idx = c->idx;
	uint32_t old = p->n, w = 0;
	if (p->nseg == 0) {
		uint64_t *a = old == 1 ? &p->u.one : p->u.ids;
		for (uint32_t i = 0; i < old; i++)
			if (!is_dying(c, a[i]))
				a[w++] = a[i];
		p->n = w;
		flat_fit(idx, p, old);
		return;
	}
	for (uint32_t s = 0; s < p->nseg; s++) {
		struct seg *g = &p->u.segs[s];
		uint64_t hi = (uint64_t)g->hi << 32;
		uint32_t gold = g->n;
		w = 0;
		for (uint32_t i = 0; i < gold; i++)
			if (!is_dying(c, hi | g->lo[i]))
				g->lo[w++] = g->lo[i];
		p->n -= gold - w;
		g->n = w;
		if (w)
			g->lo = vec_fit(idx, g->lo, gold, w, SEG_MIN, sizeof(uint32_t));
	}
	segs_fit(idx, p);
}

/*
 * Walk the work list deleting the empty terms whose kind is in kinds (a mask
 * of 1u << kind) and unlinking them; the last pass empties the list.
 */
static void remove_sweep(struct remove_ctx *c, unsigned kinds, bool last_pass)
{
	struct st_index *idx = c->idx;
	uint32_t *link = &c->touched;
	while (*link != NONE) {
		uint32_t t = *link;
		struct term *tt = &idx->terms[t];
		uint32_t next = tt->next_touched;
		if ((kinds & (1u << tt->kind)) && tt->post.n == 0 && tt->nkids == 0) {
			*link = next;
			term_delete(idx, t);
		} else if (last_pass) {
			tt->touched = 0;
			tt->next_touched = NONE;
			*link = next;
		} else {
			link = &tt->next_touched;
		}
	}
}

size_t st_index_remove(struct st_index *idx, const uint64_t *ids, size_t n)
{
	struct remove_ctx c = {idx, NONE, 0, NULL};
	size_t marked = 0, removed = 0;

	write_lock(idx);
	for (size_t i = 0; i < n; i++) {
		struct page *pg = page_find(idx, ids[i] >> PAGE_SHIFT);
		uint32_t s = (uint32_t)(ids[i] & (PAGE_SLOTS - 1));
		if (pg && pg->slot[s] && !bit_test(pg->dying, s)) {
			remove_mark(&c, pg, ids[i]);
			marked++;
		}
	}
	if (marked == 0)
		goto out;

	for (uint32_t t = c.touched; t != NONE; t = idx->terms[t].next_touched) {
		struct term *tt = &idx->terms[t];
		if (tt->kind != TK_TAGKEY) {
			uint32_t before = tt->post.n;
			posting_compact(&c, &tt->post);
			idx->npostings -= before - tt->post.n;
		}
	}
	/* Children before parents: values and fields, tag keys, measurements. */
	remove_sweep(&c, 1u << TK_FIELD | 1u << TK_TAGVAL, false);
	remove_sweep(&c, 1u << TK_TAGKEY, false);
	remove_sweep(&c, 1u << TK_MEAS, true);
	assert(c.touched == NONE);

	for (size_t i = 0; i < n; i++) {
		struct page *pg = page_find(idx, ids[i] >> PAGE_SHIFT);
		uint32_t s = (uint32_t)(ids[i] & (PAGE_SLOTS - 1));
		if (!pg || !bit_test(pg->dying, s))
			continue;
		pg->dying[s / 64] &= ~(UINT64_C(1) << (s % 64));
		idx->key_bytes -= sizeof(*pg->slot[s]) + pg->slot[s]->len;
		ix_free(idx, pg->slot[s]);
		pg->slot[s] = NULL;
		removed++;
		if (--pg->nlive == 0)
			page_delete(idx, pg);
	}
	assert(removed == marked);
	idx->nseries -= removed;
out:
	pthread_rwlock_unlock(&idx->lock);
	return removed;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                      */
/* ------------------------------------------------------------------------ */

int st_index_key(const struct st_index *idx, uint64_t id, const uint8_t **key, size_t *len)
{
	ASSERT_SESSION(idx);
	const struct srec *r = series_get(idx, id);
	if (!r)
		return -ENOENT;
	*key = r->key;
	*len = r->len;
	return 0;
}

uint64_t st_index_cardinality(const struct st_index *idx)
{
	ASSERT_SESSION(idx);
	return idx->nseries;
}

static int posting_to_set(const struct posting *p, struct st_idset *out)
{
	st_idset_clear(out);
	int rc = st_idset_reserve(out, p->n);
	if (rc)
		return rc;
	posting_copy(p, out->ids);
	out->n = p->n;
	return 0;
}

/* dst = dst \ p. */
static int minus_posting(struct st_idset *dst, const struct posting *p)
{
	struct st_idset tmp;
	st_idset_init(&tmp);
	int rc = posting_to_set(p, &tmp);
	if (rc == 0)
		st_idset_difference(dst, &tmp);
	st_idset_release(&tmp);
	return rc;
}

/* Merge the sorted, disjoint runs a[bounds[r], bounds[r + 1]) in place. */
static int merge_runs(const struct st_index *idx, uint64_t *a, size_t *bounds, uint32_t nruns)
{
	size_t total = bounds[nruns];
	bool sorted = true;
	for (uint32_t r = 1; r < nruns && sorted; r++)
		sorted = a[bounds[r] - 1] < a[bounds[r]];
	if (sorted)
		return 0;

	uint64_t *tmp = ix_alloc(idx, total * sizeof(uint64_t));
	if (!tmp)
		return -ENOMEM;
	uint64_t *src = a, *dst = tmp;
	while (nruns > 1) {
		uint32_t w = 0;
		for (uint32_t r = 0; r < nruns; r += 2, w++) {
			size_t i = bounds[r], mid = bounds[r + 1];
			size_t end = r + 2 <= nruns ? bounds[r + 2] : mid, k = i, j = mid;
			while (i < mid && j < end)
				dst[k++] = src[i] < src[j] ? src[i++] : src[j++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < end)
				dst[k++] = src[j++];
			bounds[w] = bounds[r];
		}
		bounds[w] = total;
		nruns = w;
		uint64_t *swap = src;
		src = dst;
		dst = swap;
	}
	if (src != a)
		memcpy(a, src, total * sizeof(uint64_t));
	ix_free(idx, tmp);
	return 0;
}

/*
 * out = the union of the postings of the values of tag key term k for which
 * (re matches) == want; re NULL selects every value.
 */
static int union_values(const struct st_index *idx, uint32_t k, const struct st_index_regex *re,
			bool want, struct st_idset *out)
{
	const struct term *kt = &idx->terms[k];
	pcre2_match_data *md = NULL;
	size_t *bounds = NULL, total = 0;
	uint32_t nsel = 0;
	int rc = -ENOMEM;

	st_idset_clear(out);
	uint32_t *sel = ix_alloc(idx, (size_t)kt->nkids * sizeof(uint32_t));
	if (!sel)
		goto out;
	if (re && !(md = pcre2_match_data_create(1, NULL)))
		goto out;
	for (uint32_t i = 0; i < kt->nkids; i++) {
		const struct term *vt = &idx->terms[kt->kids[i]];
		if (i + PREFETCH_AHEAD < kt->nkids)
			cm_prefetch(&idx->terms[kt->kids[i + PREFETCH_AHEAD]]);
		if (re) {
			rc = re_exec(re, md, term_str(vt));
			if (rc < 0)
				goto out;
			if ((rc == 1) != want)
				continue;
		}
		sel[nsel++] = kt->kids[i];
		total += vt->post.n;
	}
	rc = -ENOMEM;
	bounds = ix_alloc(idx, ((size_t)nsel + 1) * sizeof(size_t));
	if (!bounds || st_idset_reserve(out, total))
		goto out;
	bounds[0] = 0;
	for (uint32_t i = 0; i < nsel; i++) {
		const struct posting *p = &idx->terms[sel[i]].post;
		posting_copy(p, out->ids + bounds[i]);
		bounds[i + 1] = bounds[i] + p->n;
	}
	rc = merge_runs(idx, out->ids, bounds, nsel);
	if (rc == 0)
		out->n = total;
out:
	pcre2_match_data_free(md);
	ix_free(idx, bounds);
	ix_free(idx, sel);
	return rc;
}

/*
 * The core of the tag matches: out = the union of the values of key whose
 * (re matches) == want (re NULL: all values), or its complement within the
 * measurement. A missing measurement gives an empty set; a missing key an
 * empty union.
 */
static int match_values(const struct st_index *idx, struct st_str meas, struct st_str key,
			const struct st_index_regex *re, bool want, bool complement,
			struct st_idset *out)
{
	uint32_t m = term_find(idx, TK_MEAS, 0, meas);
	uint32_t k = term_find(idx, TK_TAGKEY, m, key);
	struct st_idset u;
	int rc = 0;

	st_idset_clear(out);
	if (m == NONE)
		return 0;
	st_idset_init(&u);
	if (k != NONE)
		rc = union_values(idx, k, re, want, complement ? &u : out);
	if (rc == 0 && complement) {
		rc = posting_to_set(&idx->terms[m].post, out);
		if (rc == 0)
			st_idset_difference(out, &u);
	}
	st_idset_release(&u);
	if (rc)
		st_idset_clear(out);
	return rc;
}

int st_index_measurement(const struct st_index *idx, struct st_str meas, struct st_idset *out)
{
	ASSERT_SESSION(idx);
	uint32_t m = term_find(idx, TK_MEAS, 0, meas);
	st_idset_clear(out);
	return m == NONE ? 0 : posting_to_set(&idx->terms[m].post, out);
}

int st_index_field(const struct st_index *idx, struct st_str meas, struct st_str field,
		   struct st_idset *out)
{
	ASSERT_SESSION(idx);
	uint32_t m = term_find(idx, TK_MEAS, 0, meas);
	uint32_t f = field.len ? term_find(idx, TK_FIELD, m, field) : NONE;
	st_idset_clear(out);
	return f == NONE ? 0 : posting_to_set(&idx->terms[f].post, out);
}

/* The term of key = value in meas, or NONE. */
static uint32_t find_tagval(const struct st_index *idx, struct st_str meas, struct st_str key,
			    struct st_str value)
{
	uint32_t m = term_find(idx, TK_MEAS, 0, meas);
	uint32_t k = term_find(idx, TK_TAGKEY, m, key);
	return term_find(idx, TK_TAGVAL, k, value);
}

int st_index_tag_eq(const struct st_index *idx, struct st_str meas, struct st_str key,
		    struct st_str value, struct st_idset *out)
{
	ASSERT_SESSION(idx);
	if (value.len == 0) /* the series without the tag */
		return match_values(idx, meas, key, NULL, true, true, out);
	uint32_t v = find_tagval(idx, meas, key, value);
	st_idset_clear(out);
	return v == NONE ? 0 : posting_to_set(&idx->terms[v].post, out);
}

int st_index_tag_neq(const struct st_index *idx, struct st_str meas, struct st_str key,
		     struct st_str value, struct st_idset *out)
{
	ASSERT_SESSION(idx);
	if (value.len == 0) /* the series with the tag */
		return match_values(idx, meas, key, NULL, true, false, out);
	int rc = st_index_measurement(idx, meas, out);
	uint32_t v = find_tagval(idx, meas, key, value);
	if (rc == 0 && v != NONE)
		rc = minus_posting(out, &idx->terms[v].post);
	if (rc)
		st_idset_clear(out);
	return rc;
}

/*
 * With a missing tag read as "": if re matches "", the regex selects every
 * series except those whose value does not match, and the negation selects
 * exactly those; otherwise the union of the matching values, and its
 * complement.
 */
int st_index_tag_regex(const struct st_index *idx, struct st_str meas, struct st_str key,
		       const struct st_index_regex *re, struct st_idset *out)
{
	ASSERT_SESSION(idx);
	assert(re);
	return match_values(idx, meas, key, re, !re->match_empty, re->match_empty, out);
}

int st_index_tag_nregex(const struct st_index *idx, struct st_str meas, struct st_str key,
			const struct st_index_regex *re, struct st_idset *out)
{
	ASSERT_SESSION(idx);
	assert(re);
	return match_values(idx, meas, key, re, !re->match_empty, !re->match_empty, out);
}

/* Does the series with parsed key v match c? 1, 0 or a negative errno. */
static int cond_match(const struct st_index_cond *c, pcre2_match_data *md,
		      const struct st_key_view *v)
{
	struct st_str val;
	int rc;
	if (c->op == ST_INDEX_FIELD)
		return c->key.len && st_str_eq(v->field, c->key);
	if (!st_key_tag(v, c->key, &val))
		val = (struct st_str){"", 0};
	switch (c->op) {
	case ST_INDEX_EQ:
		return st_str_eq(val, c->value);
	case ST_INDEX_NEQ:
		return !st_str_eq(val, c->value);
	case ST_INDEX_RE:
		return re_exec(c->re, md, val);
	case ST_INDEX_NRE:
		rc = re_exec(c->re, md, val);
		return rc < 0 ? rc : !rc;
	default:
		return -EINVAL;
	}
}

int st_index_filter(const struct st_index *idx, struct st_str meas, const struct st_index_cond *c,
		    struct st_idset *set)
{
	ASSERT_SESSION(idx);
	pcre2_match_data *md = NULL;
	size_t w = 0;
	int rc = 0;

	if (c->op == ST_INDEX_RE || c->op == ST_INDEX_NRE) {
		assert(c->re);
		if (!(md = pcre2_match_data_create(1, NULL))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct srec *r = series_get(idx, set->ids[i]);
		struct st_key_view v;
		if (!r || st_key_parse(r->key, r->len, &v) || !st_str_eq(v.name, meas))
			continue;
		rc = cond_match(c, md, &v);
		if (rc < 0)
			goto out;
		if (rc)
			set->ids[w++] = set->ids[i];
	}
	set->n = w;
	rc = 0;
out:
	if (rc)
		st_idset_clear(set);
	pcre2_match_data_free(md);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Listings                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A listed name. prefix, its first 8 bytes big-endian and zero-padded, sorts
 * most pairs without touching the strings.
 */
struct name_ent {
	uint64_t prefix;
	struct st_str s;
	uint64_t n;
};

static uint64_t name_prefix(struct st_str s)
{
	uint64_t p = 0;
	for (uint32_t i = 0; i < 8; i++)
		p = p << 8 | (i < s.len ? (uint8_t)s.p[i] : 0);
	return p;
}

static int name_cmp(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	int c = memcmp(x->s.p, y->s.p, CM_MIN(x->s.len, y->s.len));
	if (c)
		return c;
	return (x->s.len > y->s.len) - (x->s.len < y->s.len);
}

/* Call fn for the children of parent of that kind, sorted, filtered by re. */
static int list_kids(const struct st_index *idx, uint32_t parent, uint8_t kind,
		     const struct st_index_regex *re, st_index_name_fn fn, void *arg)
{
	if (parent == NONE || idx->terms[parent].nkids == 0)
		return 0;
	const struct term *pt = &idx->terms[parent];
	pcre2_match_data *md = NULL;
	uint32_t m = 0;
	int rc = -ENOMEM;

	struct name_ent *ents = ix_alloc(idx, (size_t)pt->nkids * sizeof(*ents));
	if (!ents)
		goto out;
	if (re && !(md = pcre2_match_data_create(1, NULL)))
		goto out;
	for (uint32_t i = 0; i < pt->nkids; i++) {
		const struct term *t = &idx->terms[pt->kids[i]];
		if (i + PREFETCH_AHEAD < pt->nkids)
			cm_prefetch(&idx->terms[pt->kids[i + PREFETCH_AHEAD]]);
		if (t->kind != kind)
			continue;
		if (re) {
			rc = re_exec(re, md, term_str(t));
			if (rc < 0)
				goto out;
			if (rc == 0)
				continue;
		}
		ents[m++] = (struct name_ent){name_prefix(term_str(t)), term_str(t), t->post.n};
	}
	qsort(ents, m, sizeof(*ents), name_cmp);
	rc = 0;
	for (uint32_t i = 0; i < m && rc == 0; i++)
		rc = fn(arg, ents[i].s, ents[i].n);
out:
	pcre2_match_data_free(md);
	ix_free(idx, ents);
	return rc;
}

int st_index_measurements(const struct st_index *idx, const struct st_index_regex *re,
			  st_index_name_fn fn, void *arg)
{
	ASSERT_SESSION(idx);
	return list_kids(idx, 0, TK_MEAS, re, fn, arg);
}

int st_index_tag_keys(const struct st_index *idx, struct st_str meas,
		      const struct st_index_regex *re, st_index_name_fn fn, void *arg)
{
	ASSERT_SESSION(idx);
	return list_kids(idx, term_find(idx, TK_MEAS, 0, meas), TK_TAGKEY, re, fn, arg);
}

int st_index_tag_values(const struct st_index *idx, struct st_str meas, struct st_str key,
			const struct st_index_regex *re, st_index_name_fn fn, void *arg)
{
	ASSERT_SESSION(idx);
	uint32_t m = term_find(idx, TK_MEAS, 0, meas);
	return list_kids(idx, term_find(idx, TK_TAGKEY, m, key), TK_TAGVAL, re, fn, arg);
}

int st_index_field_keys(const struct st_index *idx, struct st_str meas,
			const struct st_index_regex *re, st_index_name_fn fn, void *arg)
{
	ASSERT_SESSION(idx);
	return list_kids(idx, term_find(idx, TK_MEAS, 0, meas), TK_FIELD, re, fn, arg);
}

/* ------------------------------------------------------------------------ */
/* Stats and invariants                                                       */
/* ------------------------------------------------------------------------ */

void st_index_stats_read(const struct st_index *idx, struct st_index_stats *out)
{
	ASSERT_SESSION(idx);
	memset(out, 0, sizeof(*out));
	out->series = idx->nseries;
	out->measurements = idx->terms[0].nkids;
	out->terms = idx->live_terms;
	out->postings = idx->npostings;
	uint64_t b = sizeof(*idx) + idx->key_bytes;
	b += cap_for(idx->nterms, 16) * sizeof(struct term);
	b += ((uint64_t)idx->term_ht.mask + 1) * 8 * (idx->term_ht.slots != NULL);
	b += ((uint64_t)idx->page_ht.mask + 1) * 8 * (idx->page_ht.slots != NULL);
	b += (uint64_t)idx->npages * sizeof(struct page) + cap_for(idx->npages, 4) * sizeof(void *);
	for (uint32_t t = 0; t < idx->nterms; t++) {
		const struct term *tt = &idx->terms[t];
		if (tt->kind == TK_FREE)
			continue;
		b += tt->len > TERM_INLINE ? tt->len : 0;
		b += tt->nkids ? cap_for(tt->nkids, KIDS_MIN) * sizeof(uint32_t) : 0;
		if (tt->kind != TK_TAGKEY) {
			b += posting_bytes(&tt->post);
			out->segments += tt->post.nseg;
		}
	}
	out->bytes = b;
}

#define CHECK(cond, ...)                                        \
	do {                                                    \
		if (!(cond)) {                                  \
			if (errlen)                             \
				snprintf(err, errlen, __VA_ARGS__); \
			rc = -EUCLEAN;                          \
			goto out;                               \
		}                                               \
	} while (0)

/* Does the key k[len] have the term t (MEAS, FIELD or TAGVAL)? */
static bool key_has_term(const struct st_index *idx, const struct srec *r, const struct term *t)
{
	struct st_key_view v;
	struct st_str val;
	if (st_key_parse(r->key, r->len, &v))
		return false;
	switch (t->kind) {
	case TK_MEAS:
		return st_str_eq(v.name, term_str(t));
	case TK_FIELD:
		return st_str_eq(v.field, term_str(t)) &&
		       st_str_eq(v.name, term_str(&idx->terms[t->parent]));
	case TK_TAGVAL: {
		const struct term *kt = &idx->terms[t->parent];
		return st_str_eq(v.name, term_str(&idx->terms[kt->parent])) &&
		       st_key_tag(&v, term_str(kt), &val) && st_str_eq(val, term_str(t));
	}
	default:
		return false;
	}
}

/* Structure of one posting: sorted, counted, forms consistent. */
static bool posting_ok(const struct posting *p)
{
	if (p->nseg == 0)
		return p->n <= FLAT_MAX;
	uint64_t total = 0;
	for (uint32_t s = 0; s < p->nseg; s++) {
		const struct seg *g = &p->u.segs[s];
		if (g->n == 0 || (s > 0 && p->u.segs[s - 1].hi >= g->hi))
			return false;
		for (uint32_t i = 1; i < g->n; i++)
			if (g->lo[i - 1] >= g->lo[i])
				return false;
		total += g->n;
	}
	return total == p->n;
}

static const uint8_t parent_kind[] = {
	[TK_MEAS] = TK_ROOT, [TK_FIELD] = TK_MEAS, [TK_TAGKEY] = TK_MEAS, [TK_TAGVAL] = TK_TAGKEY,
};

static int check_term(const struct st_index *idx, uint32_t t, uint64_t **buf, size_t *bufcap,
		      uint64_t *npostings, char *err, size_t errlen)
{
	const struct term *tt = &idx->terms[t];
	int rc = 0;

	CHECK(tt->kind >= TK_MEAS && tt->kind <= TK_TAGVAL, "term %u: bad kind %u", t, tt->kind);
	CHECK(tt->parent < idx->nterms && idx->terms[tt->parent].kind == parent_kind[tt->kind],
	      "term %u: bad parent", t);
	const struct term *pt = &idx->terms[tt->parent];
	CHECK(tt->pos < pt->nkids && pt->kids[tt->pos] == t, "term %u: not at its position", t);
	CHECK(tt->hash == term_hash(tt->kind, tt->parent, term_str(tt)), "term %u: stale hash", t);
	CHECK(term_find(idx, tt->kind, tt->parent, term_str(tt)) == t, "term %u: not found", t);
	CHECK(!tt->touched && tt->next_touched == NONE, "term %u: left on the work list", t);
	CHECK((tt->kind == TK_MEAS || tt->kind == TK_TAGKEY) || tt->nkids == 0,
	      "term %u: unexpected children", t);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < tt->nkids; i++) {
		const struct term *kt = &idx->terms[tt->kids[i]];
		CHECK(tt->kids[i] < idx->nterms && kt->parent == t && kt->pos == i,
		      "term %u: child %u does not point back", t, i);
		sum += kt->post.n;
	}
	if (tt->kind == TK_TAGKEY) {
		CHECK(tt->nkids > 0 && tt->post.nseg == 0 && tt->post.n == sum,
		      "tag key %u: %u series, children have %llu", t, tt->post.n,
		      (unsigned long long)sum);
		return 0;
	}
	CHECK(tt->post.n > 0, "term %u: empty posting", t);
	CHECK(posting_ok(&tt->post), "term %u: malformed posting", t);
	if (tt->post.n > *bufcap) {
		uint64_t *b = realloc(*buf, tt->post.n * sizeof(uint64_t));
		CHECK(b, "out of memory");
		*buf = b;
		*bufcap = tt->post.n;
	}
	posting_copy(&tt->post, *buf);
	for (uint32_t i = 0; i < tt->post.n; i++) {
		uint64_t id = (*buf)[i];
		const struct srec *r = series_get(idx, id);
		CHECK(i == 0 || (*buf)[i - 1] < id, "term %u: posting not increasing", t);
		CHECK(r, "term %u: posting %#llx is not a live series", t, (unsigned long long)id);
		CHECK(key_has_term(idx, r, tt), "term %u: series %#llx lacks the term", t,
		      (unsigned long long)id);
	}
	*npostings += tt->post.n;
out:
	return rc;
}

/* Every live series is in the posting of each of its terms. */
static int check_series(const struct st_index *idx, uint64_t id, const struct srec *r,
			uint64_t *nterms, char *err, size_t errlen)
{
	struct st_key_view v;
	int rc = 0;
	CHECK(st_key_parse(r->key, r->len, &v) == 0, "series %#llx: bad record",
	      (unsigned long long)id);
	uint32_t m = term_find(idx, TK_MEAS, 0, v.name);
	CHECK(m != NONE && posting_has(&idx->terms[m].post, id),
	      "series %#llx: not in its measurement", (unsigned long long)id);
	if (v.field.len) {
		uint32_t f = term_find(idx, TK_FIELD, m, v.field);
		CHECK(f != NONE && posting_has(&idx->terms[f].post, id),
		      "series %#llx: not in its field", (unsigned long long)id);
	}
	struct st_key_iter it;
	struct st_tag tag;
	st_key_iter_init(&v, &it);
	while (st_key_iter_next(&it, &tag)) {
		uint32_t tv = term_find(idx, TK_TAGVAL, term_find(idx, TK_TAGKEY, m, tag.key),
					tag.value);
		CHECK(tv != NONE && posting_has(&idx->terms[tv].post, id),
		      "series %#llx: not in tag %.*s", (unsigned long long)id, (int)tag.key.len,
		      tag.key.p);
	}
	*nterms += 1 + (v.field.len > 0) + v.ntags;
out:
	return rc;
}

int st_index_check(const struct st_index *idx, char *err, size_t errlen)
{
	ASSERT_SESSION(idx);
	uint64_t *buf = NULL, npostings = 0, series_terms = 0, nseries = 0, nkey_bytes = 0;
	size_t bufcap = 0;
	uint32_t live = 0, free_n = 0;
	int rc = 0;

	const struct term *root = &idx->terms[0];
	CHECK(root->kind == TK_ROOT && root->post.n == 0, "bad root");
	for (uint32_t t = 1; t < idx->nterms; t++) {
		if (idx->terms[t].kind == TK_FREE) {
			free_n++;
			continue;
		}
		live++;
		rc = check_term(idx, t, &buf, &bufcap, &npostings, err, errlen);
		if (rc)
			goto out;
	}
	for (uint32_t t = idx->free_term, i = 0; t != NONE; t = idx->terms[t].pos, i++)
		CHECK(i < free_n && idx->terms[t].kind == TK_FREE, "bad free list");
	CHECK(live == idx->live_terms && live == idx->term_ht.used,
	      "%u terms, counted %u, hashed %u", live, idx->live_terms, idx->term_ht.used);
	CHECK(npostings == idx->npostings, "postings %llu, counted %llu",
	      (unsigned long long)npostings, (unsigned long long)idx->npostings);

	CHECK(idx->npages == idx->page_ht.used, "pages %u, hashed %u", idx->npages,
	      idx->page_ht.used);
	for (uint32_t i = 0; i < idx->npages; i++) {
		const struct page *pg = idx->pages[i];
		uint32_t nlive = 0;
		CHECK(page_find(idx, pg->no) == pg, "page %u: not found", i);
		for (uint32_t w = 0; w < PAGE_SLOTS / 64; w++)
			CHECK(pg->dying[w] == 0, "page %u: dying bits left", i);
		for (uint32_t s = 0; s < PAGE_SLOTS; s++) {
			const struct srec *r = pg->slot[s];
			if (!r)
				continue;
			nlive++;
			nkey_bytes += sizeof(*r) + r->len;
			uint64_t id = pg->no << PAGE_SHIFT | s;
			rc = check_series(idx, id, r, &series_terms, err, errlen);
			if (rc)
				goto out;
		}
		CHECK(nlive > 0 && nlive == pg->nlive, "page %u: %u live, counted %u", i, nlive,
		      pg->nlive);
		nseries += nlive;
	}
	CHECK(nseries == idx->nseries && nkey_bytes == idx->key_bytes, "series %llu, counted %llu",
	      (unsigned long long)nseries, (unsigned long long)idx->nseries);
	CHECK(series_terms == npostings, "series have %llu terms, postings hold %llu",
	      (unsigned long long)series_terms, (unsigned long long)npostings);
out:
	free(buf);
	return rc;
}
