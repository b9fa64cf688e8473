/*
 * dp_binsrc.h - what a dataplane worker remembers about binary-frame
 * senders (docs/formats/binary-frame.md): per source id, its sequence
 * tracker and counters; per (source, series_ref), the series key a DEF
 * declared, so that a 24-byte POINT record becomes a shard point with one
 * hash lookup.
 *
 * Series key of a DEF: st_key_build(name, "value", tags). A later DEF of
 * the same ref replaces the earlier one. The sequence events of a source
 * are stored as points of measurement sf_binary_seq, tag source=<id>,
 * fields gap (frames found missing) and late (a frame that filled a gap);
 * their keys are built once per source.
 *
 * Usage profile: one lookup per POINT (tens of millions per second per
 * core): an open-addressing table keyed by (source, ref),
 * keys in their own allocation (32 bytes a slot: id and struct dp_binsrc_ref). DEFs are rare (once per series and every few
 * seconds again): they may allocate and grow the table.
 *
 * Threads: one per worker, used by that worker only; readers of the
 * counters use dp_binsrc_stats_read.
 */
#ifndef DP_BINSRC_H
#define DP_BINSRC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dp_frame.h"
#include "st_series.h"

struct dp_binsrc;

/* One series declared by a source. Plain struct: read per POINT. */
struct dp_binsrc_ref {
	uint8_t *key;       /* owned by the map */
	uint32_t keylen;
	uint8_t type;       /* enum dp_wire_type of the DEF */
	uint64_t hash;      /* st_key_hash(key) */
};

/* A series key built once (sequence events). */
struct dp_binsrc_key {
	uint64_t hash;
	uint32_t keylen;
	uint8_t key[96];
};

/*
 * One sender. Plain struct: the worker updates it per frame; the counters
 * are single-writer (cm_ctr_add) so management threads may read them.
 */
enum dp_binsrc_ctr {
	DP_BSC_FRAMES = 0,        /* frames accepted (header valid) */
	DP_BSC_POINTS,            /* POINT records decoded OK */
	DP_BSC_BAD_RECORDS,       /* records rejected by the decoder */
	DP_BSC_UNKNOWN_REF,       /* POINTs whose ref no DEF declared */
	DP_BSC_TYPE_MISMATCH,     /* POINTs whose type is not their DEF's */
	DP_BSC_DUP_FRAMES,        /* frames skipped as duplicates */
	DP_BSC__COUNT
};
struct dp_binsrc_source {
	uint32_t id;
	struct dp_frame_seq seq;
	int64_t last_event_ns;          /* sequence events get distinct timestamps */
	_Atomic uint64_t ctr[DP_BSC__COUNT];
	struct dp_binsrc_key gap, late;         /* the keys of its sequence events */
};

/* A map for at most max_sources sources and max_refs refs in all. 0 or -ENOMEM. */
int dp_binsrc_create(uint32_t max_sources, uint32_t max_refs, struct dp_binsrc **out);
void dp_binsrc_destroy(struct dp_binsrc *m);

/* HOT PATH (once per frame). The source, created on first sight; NULL when full. */
struct dp_binsrc_source *dp_binsrc_source(struct dp_binsrc *m, uint32_t source_id);

/*
 * Declare rec (a DEF decoded DP_FRAME_OK) for src. 0, -ENOSPC (max_refs
 * reached), -EINVAL (no valid key), or -ENOMEM.
 */
int dp_binsrc_define(struct dp_binsrc *m, const struct dp_binsrc_source *src,
		     const struct dp_frame_rec *rec);

/*
 * A redefinition does not free the key it replaces: points of the old key
 * may still be waiting in the caller's burst. The owner calls this once
 * those are inserted (after its burst flush); cheap when nothing waits.
 */
void dp_binsrc_reclaim(struct dp_binsrc *m);

/* HOT PATH. The series of (src, ref), or NULL when no DEF declared it. */
const struct dp_binsrc_ref *dp_binsrc_lookup(const struct dp_binsrc *m, uint32_t source_id,
					     uint32_t ref);

struct dp_binsrc_stats {
	uint32_t sources;
	uint32_t refs;
	uint64_t sources_full;   /* frames from a source the table had no room for */
	uint64_t refs_full;      /* DEFs refused: max_refs */
	uint64_t redefined;      /* DEFs that changed a ref's series */
};
/* Any thread (relaxed counters). */
void dp_binsrc_stats_read(const struct dp_binsrc *m, struct dp_binsrc_stats *out);
/*
 * Any thread: source i < stats.sources, for per-source reports (the
 * sources array never moves; read only id and ctr[]).
 */
const struct dp_binsrc_source *dp_binsrc_source_at(const struct dp_binsrc *m, uint32_t i);
/* "frames", "points", ...; "unknown" when out of range. */
const char *dp_binsrc_ctr_name(enum dp_binsrc_ctr c);

#endif /* DP_BINSRC_H */
