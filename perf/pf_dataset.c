/*
 * pf_dataset.c - see pf_dataset.h.
 */
#include "pf_dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cm_compiler.h"
#include "dp_line.h"
#include "st_series.h"
#include "tl_floatwalk.h"

#define TSBS_FILE "cpu-only_scale100_1d_seed123.influx"
#define TSBS_BYTES 297699448ULL

const char *pf_shared_dir(void)
{
	const char *e = getenv("SF_SHARED_DATA");
	if (e && *e)
		return e;
	return SF_SOURCE_ROOT "/../shared/data";
}

void pf_print_machine(const char *bench)
{
	struct utsname u;
	uname(&u);
	char model[600] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *c = strchr(line, ':');
				snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		fclose(f);
	}
	printf("# %s: cpu=\"%s\" cores=%ld kernel=%s build=\"%s\"\n", bench, model,
	       sysconf(_SC_NPROCESSORS_ONLN), u.release, SF_BUILD_FLAGS);
}

/* Series table of the loader: open addressing on the key hash. */
struct loader {
	struct pf_dataset *d;
	uint32_t *slots; /* series index + 1; 0 = empty */
	uint32_t mask;
	uint32_t cap_series;
};

static struct pf_series *loader_series(struct loader *L, const uint8_t *key, uint32_t len,
				       uint64_t hash, uint8_t type)
{
	uint32_t i = (uint32_t)hash & L->mask;
	while (L->slots[i]) {
		struct pf_series *s = &L->d->series[L->slots[i] - 1];
		if (s->hash == hash && s->keylen == len && memcmp(s->key, key, len) == 0)
			return s;
		i = (i + 1) & L->mask;
	}
	if (L->d->nseries == L->cap_series)
		return NULL;
	struct pf_series *s = &L->d->series[L->d->nseries++];
	L->slots[i] = L->d->nseries;
	s->key = malloc(len);
	memcpy(s->key, key, len);
	s->keylen = len;
	s->hash = hash;
	s->type = type;
	return s;
}

static int ensure_tsbs_text(const char *shared, char *path, size_t pathlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/streamflow-bench", tmp && *tmp ? tmp : "/tmp");
	mkdir(dir, 0755);
	snprintf(path, pathlen, "%s/" TSBS_FILE, dir);
	struct stat st;
	if (stat(path, &st) == 0 && (unsigned long long)st.st_size == TSBS_BYTES)
		return 0;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s/tsbs/" TSBS_FILE ".zst' > '%s.part' && mv '%s.part' '%s'",
		 shared, path, path, path);
	fprintf(stderr, "# decompressing TSBS once into %s\n", path);
	if (system(cmd) != 0) {
		fprintf(stderr, "pf_dataset: cannot decompress the TSBS dataset from %s/tsbs\n",
			shared);
		return -EIO;
	}
	return 0;
}

int pf_dataset_tsbs(const char *shared, struct pf_dataset *d)
{
	memset(d, 0, sizeof(*d));
	char path[1024];
	int rc = ensure_tsbs_text(shared, path, sizeof(path));
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	struct stat st;
	fstat(fd, &st);
	d->text_bytes = (size_t)st.st_size;
	d->text = mmap(NULL, d->text_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (d->text == MAP_FAILED)
		return -errno;
	d->text_mmapped = 1;

	enum { MAX_SERIES = 4096, PER_SERIES = 8640 };
	struct loader L = {.d = d, .mask = 8191, .cap_series = MAX_SERIES};
	L.slots = calloc(L.mask + 1, sizeof(*L.slots));
	d->series = calloc(MAX_SERIES, sizeof(*d->series));
	static struct dp_field fields[64];
	static struct dp_line line;
	dp_line_init(&line, fields, CM_ARRAY_SIZE(fields));
	struct dp_line_opts opts = {.now_ns = 0, .unit_ns = 1, .flags = DP_LINE_COMPLETE};
	uint8_t key[ST_KEY_MAX];
	const char *p = (const char *)d->text, *end = p + d->text_bytes;
	while (p < end) {
		size_t used;
		enum dp_line_status s = dp_line_decode(&line, p, (size_t)(end - p), &opts, &used);
		p += used;
		if (s == DP_LINE_EMPTY)
			continue;
		if (s != DP_LINE_OK) {
			fprintf(stderr, "pf_dataset: TSBS line rejected: %s\n", dp_line_status_name(s));
			return -EINVAL;
		}
		for (uint32_t f = 0; f < line.nfields; f++) {
			int len = dp_line_key(&line, f, key, sizeof(key));
			struct pf_series *se = loader_series(&L, key, (uint32_t)len,
							     st_key_hash(key, (size_t)len),
							     line.fields[f].type);
			if (!se)
				return -E2BIG;
			if (!se->ts) {
				se->ts = malloc(PER_SERIES * sizeof(int64_t));
				se->vals = malloc(PER_SERIES * sizeof(uint64_t));
			}
			if (se->n == PER_SERIES)
				return -E2BIG;
			se->ts[se->n] = line.ts_ns;
			se->vals[se->n] = line.fields[f].v.u64;
			se->n++;
			d->npoints++;
		}
	}
	free(L.slots);
	return 0;
}

int pf_dataset_floatwalk(uint32_t nseries, uint32_t npoints, uint64_t seed, struct pf_dataset *d)
{
	memset(d, 0, sizeof(*d));
	d->series = calloc(nseries, sizeof(*d->series));
	d->nseries = nseries;
	size_t cap = (size_t)nseries * npoints * 80 + 1;
	d->text = malloc(cap);
	if (!d->series || !d->text)
		return -ENOMEM;
	double *v = malloc(npoints * sizeof(*v));
	for (uint32_t s = 0; s < nseries; s++) {
		struct pf_series *se = &d->series[s];
		char name[32];
		int nl = snprintf(name, sizeof(name), "s%u", s);
		struct st_tag tag = {{"series", 6}, {name, (uint32_t)nl}};
		uint8_t key[ST_KEY_MAX];
		int len = st_key_build(key, sizeof(key), (struct st_str){"walk", 4},
				       (struct st_str){"value", 5}, &tag, 1);
		se->key = malloc((size_t)len);
		memcpy(se->key, key, (size_t)len);
		se->keylen = (uint32_t)len;
		se->hash = st_key_hash(key, (size_t)len);
		se->type = ST_VT_F64;
		se->n = npoints;
		se->ts = malloc(npoints * sizeof(int64_t));
		se->vals = malloc(npoints * sizeof(uint64_t));
		tl_floatwalk_series(seed, s, npoints, se->ts, v);
		memcpy(se->vals, v, npoints * sizeof(double));
		d->npoints += npoints;
	}
	free(v);
	/* the same points as line protocol, time-major (what sfgen prints) */
	size_t at = 0;
	for (uint32_t i = 0; i < npoints; i++)
		for (uint32_t s = 0; s < nseries; s++) {
			double x;
			memcpy(&x, &d->series[s].vals[i], 8);
			at += (size_t)snprintf((char *)d->text + at, cap - at,
					       "walk,series=s%u value=%.2f %lld\n", s, x,
					       (long long)d->series[s].ts[i]);
		}
	d->text_bytes = at;
	return 0;
}

void pf_dataset_release(struct pf_dataset *d)
{
	for (uint32_t s = 0; s < d->nseries; s++) {
		free(d->series[s].key);
		free(d->series[s].ts);
		free(d->series[s].vals);
	}
	free(d->series);
	if (d->text_mmapped)
		munmap(d->text, d->text_bytes);
	else
		free(d->text);
	memset(d, 0, sizeof(*d));
}
