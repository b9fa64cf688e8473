/*
 * test_dp_binsrc.c - unit tests for dataplane/dp_binsrc.c, what a worker
 * remembers about binary-frame senders: the source table (created on first
 * sight, found again, full -> NULL and counted), DEFs and lookups (the key
 * is st_key_build(name, "value", tags) with tags sorted; a redefinition
 * replaces the key and is counted; an identical re-declaration changes
 * nothing), the refs table growing past its first 1024 slots, a reference
 * model of 100k refs under random defines, redefinitions and lookups
 * (fixed seed), max_refs, and the sf_binary_seq keys of each source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cm_rand.h"
#include "dp_binsrc.h"

#define S(lit) ((struct st_str){(lit), sizeof(lit) - 1})

/* A DEF record as dp_frame_next gives it (name and tags borrowed). */
static struct dp_frame_rec def_rec(uint32_t ref, uint8_t type, struct st_str name,
				   const struct st_tag *tags, uint32_t ntags)
{
	struct dp_frame_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = DP_WIRE_DEF;
	r.type = type;
	r.series_ref = ref;
	r.name = name;
	r.ntags = ntags;
	if (ntags)
		memcpy(r.tags, tags, ntags * sizeof(tags[0]));
	return r;
}

/* The key a DEF must give: st_key_build(name, "value", tags) on a copy. */
static int want_key(uint8_t *out, struct st_str name, const struct st_tag *tags, uint32_t ntags)
{
	struct st_tag t[DP_WIRE_DEF_TAGS_MAX];
	if (ntags)
		memcpy(t, tags, ntags * sizeof(t[0]));
	int n = st_key_build(out, ST_KEY_MAX, name, S("value"), t, ntags);
	assert_true(n > 0);
	return n;
}

static void assert_ref_key(const struct dp_binsrc_ref *r, const uint8_t *key, int keylen,
			   uint8_t type)
{
	assert_non_null(r);
	assert_int_equal(r->keylen, (uint32_t)keylen);
	assert_memory_equal(r->key, key, (size_t)keylen);
	assert_true(r->hash == st_key_hash(key, (size_t)keylen));
	assert_int_equal(r->type, type);
}

/* ================================================================ sources */

static void test_dp_binsrc__sources_created_found_and_full(void **state)
{
	(void)state;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(4, 16, &m), 0);
	const uint32_t ids[] = {7, 0, 0xffffffffu, 1234567};
	struct dp_binsrc_source *got[4];
	for (int i = 0; i < 4; i++) {
		got[i] = dp_binsrc_source(m, ids[i]);
		assert_non_null(got[i]);
		assert_int_equal(got[i]->id, ids[i]);
		assert_false(got[i]->seq.started);
	}
	/* found again: the same struct, in creation order in the array */
	for (int i = 3; i >= 0; i--)
		assert_ptr_equal(dp_binsrc_source(m, ids[i]), got[i]);
	for (uint32_t i = 0; i < 4; i++)
		assert_ptr_equal(dp_binsrc_source_at(m, i), got[i]);
	assert_null(dp_binsrc_source_at(m, 4));
	/* the table is full: a new id is refused and counted, every time */
	assert_null(dp_binsrc_source(m, 8));
	assert_null(dp_binsrc_source(m, 9));
	assert_ptr_equal(dp_binsrc_source(m, 7), got[0]);
	struct dp_binsrc_stats s;
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.sources, 4);
	assert_int_equal(s.sources_full, 2);
	assert_int_equal(s.refs, 0);
	dp_binsrc_destroy(m);
	dp_binsrc_destroy(NULL);
	assert_int_equal(dp_binsrc_create(0, 16, &m), -EINVAL);
	assert_int_equal(dp_binsrc_create(4, 0, &m), -EINVAL);
}

static void test_dp_binsrc__seq_keys_per_source(void **state)
{
	(void)state;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(8, 16, &m), 0);
	const uint32_t ids[] = {0, 42, 4294967295u};
	for (int i = 0; i < 3; i++) {
		struct dp_binsrc_source *s = dp_binsrc_source(m, ids[i]);
		assert_non_null(s);
		char want[64], text[128];
		snprintf(want, sizeof(want), "sf_binary_seq,source=%u gap", ids[i]);
		assert_int_equal(st_key_format(s->gap.key, s->gap.keylen, true, text, sizeof(text)),
				 (int)strlen(want));
		assert_string_equal(text, want);
		snprintf(want, sizeof(want), "sf_binary_seq,source=%u late", ids[i]);
		assert_int_equal(st_key_format(s->late.key, s->late.keylen, true, text, sizeof(text)),
				 (int)strlen(want));
		assert_string_equal(text, want);
		/* and they are the canonical keys st_key_build gives */
		char idtxt[16];
		snprintf(idtxt, sizeof(idtxt), "%u", ids[i]);
		struct st_tag t = {S("source"), {idtxt, (uint32_t)strlen(idtxt)}};
		uint8_t k[96];
		int n = st_key_build(k, sizeof(k), S("sf_binary_seq"), S("gap"), &t, 1);
		assert_int_equal(n, (int)s->gap.keylen);
		assert_memory_equal(k, s->gap.key, (size_t)n);
		assert_true(s->gap.hash == st_key_hash(k, (size_t)n));
		n = st_key_build(k, sizeof(k), S("sf_binary_seq"), S("late"), &t, 1);
		assert_true(s->late.hash == st_key_hash(k, (size_t)n));
	}
	dp_binsrc_destroy(m);
}

/* ================================================================ refs */

static void test_dp_binsrc__define_and_lookup(void **state)
{
	(void)state;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(4, 64, &m), 0);
	struct dp_binsrc_source *a = dp_binsrc_source(m, 1), *b = dp_binsrc_source(m, 2);
	/* tags out of order: the key has them sorted; the record is left as it was */
	const struct st_tag tags[] = {{S("zone"), S("eu-1")}, {S("host"), S("web 1")},
				      {S("app"), S("api")}};
	struct dp_frame_rec r = def_rec(10, DP_WIRE_F64, S("latency"), tags, 3);
	assert_int_equal(dp_binsrc_define(m, a, &r), 0);
	assert_true(r.tags[0].key.p == tags[0].key.p && r.tags[2].key.p == tags[2].key.p);
	uint8_t key[ST_KEY_MAX];
	int kl = want_key(key, S("latency"), tags, 3);
	const struct dp_binsrc_ref *ref = dp_binsrc_lookup(m, 1, 10);
	assert_ref_key(ref, key, kl, DP_WIRE_F64);
	char text[128];
	st_key_format(ref->key, ref->keylen, true, text, sizeof(text));
	assert_string_equal(text, "latency,app=api,host=web\\ 1,zone=eu-1 value");
	/* refs are per source; unknown ones are NULL */
	assert_null(dp_binsrc_lookup(m, 2, 10));
	assert_null(dp_binsrc_lookup(m, 1, 11));
	assert_null(dp_binsrc_lookup(m, 3, 10));
	/* no tags at all */
	struct dp_frame_rec r2 = def_rec(10, DP_WIRE_I64, S("count"), NULL, 0);
	assert_int_equal(dp_binsrc_define(m, b, &r2), 0);
	uint8_t key2[ST_KEY_MAX];
	int kl2 = want_key(key2, S("count"), NULL, 0);
	assert_ref_key(dp_binsrc_lookup(m, 2, 10), key2, kl2, DP_WIRE_I64);
	assert_ref_key(dp_binsrc_lookup(m, 1, 10), key, kl, DP_WIRE_F64);

	/* identical re-declaration: the same key bytes, not even reallocated */
	const uint8_t *kp = dp_binsrc_lookup(m, 1, 10)->key;
	assert_int_equal(dp_binsrc_define(m, a, &r), 0);
	assert_ptr_equal(dp_binsrc_lookup(m, 1, 10)->key, kp);
	/* the same series in another tag order is the same key */
	const struct st_tag tags_b[] = {{S("app"), S("api")}, {S("zone"), S("eu-1")},
					{S("host"), S("web 1")}};
	struct dp_frame_rec rb = def_rec(10, DP_WIRE_F64, S("latency"), tags_b, 3);
	assert_int_equal(dp_binsrc_define(m, a, &rb), 0);
	assert_ptr_equal(dp_binsrc_lookup(m, 1, 10)->key, kp);
	struct dp_binsrc_stats s;
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.refs, 2);
	assert_int_equal(s.redefined, 0);

	/* redefinition with another name: the key is replaced and counted */
	struct dp_frame_rec r3 = def_rec(10, DP_WIRE_F64, S("latency_ms"), tags, 3);
	assert_int_equal(dp_binsrc_define(m, a, &r3), 0);
	uint8_t key3[ST_KEY_MAX];
	int kl3 = want_key(key3, S("latency_ms"), tags, 3);
	assert_ref_key(dp_binsrc_lookup(m, 1, 10), key3, kl3, DP_WIRE_F64);
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.refs, 2);
	assert_int_equal(s.redefined, 1);
	/* another value type alone is not another series: the type follows the DEF */
	struct dp_frame_rec r4 = def_rec(10, DP_WIRE_I64, S("latency_ms"), tags, 3);
	assert_int_equal(dp_binsrc_define(m, a, &r4), 0);
	assert_ref_key(dp_binsrc_lookup(m, 1, 10), key3, kl3, DP_WIRE_I64);
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.redefined, 1);

	/* a DEF without a valid key (duplicate tag keys) is refused, nothing stored */
	const struct st_tag dup[] = {{S("a"), S("1")}, {S("a"), S("2")}};
	struct dp_frame_rec r5 = def_rec(11, DP_WIRE_F64, S("x"), dup, 2);
	assert_int_equal(dp_binsrc_define(m, a, &r5), -EINVAL);
	assert_null(dp_binsrc_lookup(m, 1, 11));
	dp_binsrc_destroy(m);
}

static void test_dp_binsrc__max_refs(void **state)
{
	(void)state;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(2, 3, &m), 0);
	struct dp_binsrc_source *a = dp_binsrc_source(m, 5);
	for (uint32_t ref = 0; ref < 3; ref++) {
		struct dp_frame_rec r = def_rec(ref, DP_WIRE_F64, S("m"), NULL, 0);
		assert_int_equal(dp_binsrc_define(m, a, &r), 0);
	}
	struct dp_frame_rec r = def_rec(3, DP_WIRE_F64, S("m"), NULL, 0);
	assert_int_equal(dp_binsrc_define(m, a, &r), -ENOSPC);
	assert_int_equal(dp_binsrc_define(m, a, &r), -ENOSPC);
	assert_null(dp_binsrc_lookup(m, 5, 3));
	/* a full table still takes redefinitions of refs it has */
	struct dp_frame_rec r1 = def_rec(1, DP_WIRE_F64, S("other"), NULL, 0);
	assert_int_equal(dp_binsrc_define(m, a, &r1), 0);
	struct dp_binsrc_stats s;
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.refs, 3);
	assert_int_equal(s.refs_full, 2);
	assert_int_equal(s.redefined, 1);
	dp_binsrc_destroy(m);
}

/* Past the first 1024 slots (grown at half load): every ref still found. */
static void test_dp_binsrc__refs_grow(void **state)
{
	(void)state;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(2, 10000, &m), 0);
	struct dp_binsrc_source *a = dp_binsrc_source(m, 3);
	char name[32];
	for (uint32_t ref = 0; ref < 5000; ref++) {
		snprintf(name, sizeof(name), "s%u", ref * 7);
		struct dp_frame_rec r = def_rec(ref * 7, DP_WIRE_F64,
						(struct st_str){name, (uint32_t)strlen(name)}, NULL, 0);
		assert_int_equal(dp_binsrc_define(m, a, &r), 0);
		if (ref == 511 || ref == 512 || ref == 1023 || ref == 4999) {
			/* around each doubling, every ref defined so far */
			for (uint32_t k = 0; k <= ref; k++) {
				snprintf(name, sizeof(name), "s%u", k * 7);
				uint8_t key[64];
				int kl = want_key(key, (struct st_str){name, (uint32_t)strlen(name)},
						  NULL, 0);
				assert_ref_key(dp_binsrc_lookup(m, 3, k * 7), key, kl, DP_WIRE_F64);
				assert_null(dp_binsrc_lookup(m, 3, k * 7 + 1));
			}
		}
	}
	struct dp_binsrc_stats s;
	dp_binsrc_stats_read(m, &s);
	assert_int_equal(s.refs, 5000);
	dp_binsrc_destroy(m);
}

/* ========================================================= reference model */

#define MSRC 4
#define MREF 40000u
#define MTOTAL 100000u

struct model_ref {
	int32_t name;     /* -1: not defined */
	uint8_t type;
};

static struct st_str model_name(int32_t name, char *buf, size_t cap)
{
	snprintf(buf, cap, "metric_%d", name);
	return (struct st_str){buf, (uint32_t)strlen(buf)};
}

static uint32_t model_tags(int32_t name, uint32_t src, struct st_tag *t, char *v1, char *v2)
{
	snprintf(v1, 16, "h%d", name % 13);
	snprintf(v2, 16, "%u", src);
	t[0] = (struct st_tag){S("src"), {v2, (uint32_t)strlen(v2)}};
	t[1] = (struct st_tag){S("host"), {v1, (uint32_t)strlen(v1)}};
	return (uint32_t)(name % 3 == 0 ? 1 : 2);
}

static void model_check(const struct dp_binsrc *m, const struct model_ref *mod, uint32_t s,
			uint32_t ref)
{
	const struct model_ref *e = &mod[s * MREF + ref];
	const struct dp_binsrc_ref *r = dp_binsrc_lookup(m, 100 + s, ref);
	if (e->name < 0) {
		assert_null(r);
		return;
	}
	char nb[32], v1[16], v2[16];
	struct st_tag t[2];
	uint32_t nt = model_tags(e->name, s, t, v1, v2);
	uint8_t key[128];
	int kl = want_key(key, model_name(e->name, nb, sizeof(nb)), t, nt);
	assert_ref_key(r, key, kl, e->type);
}

/*
 * 100k refs over 4 sources under random defines (new refs and redefinitions,
 * some identical) and random lookups, checked against a flat array; then
 * every (source, ref) of the model.
 */
static void test_dp_binsrc__model_100k_refs(void **state)
{
	(void)state;
	uint64_t rng = 0x5eed0b1c;
	struct model_ref *mod = malloc(MSRC * MREF * sizeof(*mod));
	assert_non_null(mod);
	for (uint32_t i = 0; i < MSRC * MREF; i++)
		mod[i].name = -1;
	struct dp_binsrc *m;
	assert_int_equal(dp_binsrc_create(MSRC, MTOTAL, &m), 0);
	struct dp_binsrc_source *src[MSRC];
	for (uint32_t s = 0; s < MSRC; s++)
		src[s] = dp_binsrc_source(m, 100 + s);
	uint32_t defined = 0, redefined = 0, full = 0;
	uint64_t ops = 0;
	while (defined < MTOTAL || ops < 600000) {
		uint64_t x = cm_splitmix64(&rng);
		uint32_t s = (uint32_t)(x % MSRC);
		uint32_t ref = (uint32_t)((x >> 8) % MREF);
		struct model_ref *e = &mod[s * MREF + ref];
		unsigned op = (unsigned)((x >> 40) % 10);
		ops++;
		if (op < 4 || (defined < MTOTAL && e->name < 0 && op < 8)) {
			/* define: a new ref, or the same name again, or a new name */
			int32_t name = e->name >= 0 && (x >> 50) % 2 ? e->name
								     : (int32_t)((x >> 20) % 50000);
			uint8_t type = (x >> 60) % 2 ? DP_WIRE_F64 : DP_WIRE_I64;
			char nb[32], v1[16], v2[16];
			struct st_tag t[2];
			uint32_t nt = model_tags(name, s, t, v1, v2);
			struct dp_frame_rec r = def_rec(ref, type, model_name(name, nb, sizeof(nb)), t,
							nt);
			int rc = dp_binsrc_define(m, src[s], &r);
			if (e->name < 0 && defined == MTOTAL) {
				assert_int_equal(rc, -ENOSPC);
				full++;
				continue;
			}
			assert_int_equal(rc, 0);
			if (e->name < 0)
				defined++;
			else if (e->name != name)
				redefined++;
			e->name = name;
			e->type = type;
		}
		model_check(m, mod, s, ref);
	}
	struct dp_binsrc_stats st;
	dp_binsrc_stats_read(m, &st);
	assert_int_equal(st.refs, MTOTAL);
	assert_int_equal(st.redefined, redefined);
	assert_int_equal(st.refs_full, full);
	assert_true(full > 0 && redefined > 0);
	for (uint32_t s = 0; s < MSRC; s++)
		for (uint32_t ref = 0; ref < MREF; ref++)
			model_check(m, mod, s, ref);
	dp_binsrc_destroy(m);
	free(mod);
}

static void test_dp_binsrc__names(void **state)
{
	(void)state;
	assert_string_equal(dp_binsrc_ctr_name(DP_BSC_FRAMES), "frames");
	assert_string_equal(dp_binsrc_ctr_name(DP_BSC_DUP_FRAMES), "dup_frames");
	assert_string_equal(dp_binsrc_ctr_name(DP_BSC__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_binsrc__sources_created_found_and_full),
		cmocka_unit_test(test_dp_binsrc__seq_keys_per_source),
		cmocka_unit_test(test_dp_binsrc__define_and_lookup),
		cmocka_unit_test(test_dp_binsrc__max_refs),
		cmocka_unit_test(test_dp_binsrc__refs_grow),
		cmocka_unit_test(test_dp_binsrc__model_100k_refs),
		cmocka_unit_test(test_dp_binsrc__names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
