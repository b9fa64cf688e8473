/*
 * pf_dataset.h - benchmark datasets as per-series arrays in memory:
 *
 *   TSBS cpu-only (../shared/data/tsbs): decompressed once into a temp dir
 *   ($TMPDIR or /tmp, streamflow-bench/), read in place with mmap, decoded
 *   with the dataplane's line protocol decoder; one series per
 *   (host, field): 1,000 series x 8,640 integer points.
 *
 *   floatwalk (tools/tl_floatwalk.h): generated from a fixed seed.
 *
 * Benchmark code: main thread, allocates freely.
 */
#ifndef PF_DATASET_H
#define PF_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

struct pf_series {
	uint8_t *key;       /* canonical key (st_series.h) */
	uint32_t keylen;
	uint64_t hash;
	uint8_t type;       /* enum st_value_type */
	uint32_t n;
	int64_t *ts;
	uint64_t *vals;     /* value bits */
};

struct pf_dataset {
	struct pf_series *series;
	uint32_t nseries;
	uint64_t npoints;
	uint8_t *text;      /* the raw line protocol (mmap'ed or generated) */
	size_t text_bytes;
	int text_mmapped;
};

/* Load TSBS from shared_dir/tsbs. 0, or -errno with a message on stderr. */
int pf_dataset_tsbs(const char *shared_dir, struct pf_dataset *out);
/* Generate floatwalk (nseries x npoints, seed) and its line-protocol text. */
int pf_dataset_floatwalk(uint32_t nseries, uint32_t npoints, uint64_t seed,
			 struct pf_dataset *out);
void pf_dataset_release(struct pf_dataset *d);

/* Print the machine and build lines every benchmark starts with. */
void pf_print_machine(const char *bench);

/* Find ../shared/data from the source tree (SF_SHARED_DATA overrides). */
const char *pf_shared_dir(void);

#endif /* PF_DATASET_H */
