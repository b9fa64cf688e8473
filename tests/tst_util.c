/*
 * tst_util.c - helpers shared by the unit tests (contract in tst_util.h).
 */
#include "tst_util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ========================================================== directories */

char *tst_tmpdir(char *buf, size_t cap, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, cap, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return mkdtemp(buf);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0; /* go on: remove what can be removed */
}

void tst_rm_tree(const char *path)
{
	if (path && *path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ================================================================= data */

#ifndef SF_DATA_DIR
#define SF_DATA_DIR "/work/shared/data"
#endif

int tst_airpassengers(double y[144])
{
	FILE *f = fopen(SF_DATA_DIR "/airpassengers/AirPassengers.csv", "r");
	char line[128];
	size_t n = 0;

	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) { /* the header */
		fclose(f);
		return -1;
	}
	while (n < 144 && fgets(line, sizeof(line), f) != NULL) {
		char *c = strchr(line, ',');
		if (c != NULL)
			y[n++] = strtod(c + 1, NULL);
	}
	fclose(f);
	return n == 144 ? 0 : -1;
}

/* ============================================================== storage */

/*
 * Binaries without storage (test_cm_config, test_an_stats) have neither its
 * headers nor its library: for them the storage helpers are not built.
 */
#if __has_include("st_store.h")

#include "cm_clock.h"
#include "st_io.h"
#include "st_series.h"
#include "st_store.h"

int tst_uring_probe(void)
{
	struct st_uring *u;
	struct st_uring_cfg cfg = {.ops = &st_io_posix, .entries = 4};
	int rc = st_uring_create(&cfg, &u);
	if (rc == 0)
		st_uring_destroy(u);
	return rc;
}

void tst_require_uring(void)
{
	int rc = tst_uring_probe();
	if (rc == -ENOSYS || rc == -EPERM) {
		printf("skip: io_uring unavailable (%s)\n", strerror(-rc));
		exit(77);
	}
}

void tst_store_cfg(struct st_store_cfg *cfg, const char *dir, struct st_rcu *rcu)
{
	st_store_cfg_default(cfg);
	cfg->dir = dir;
	cfg->rcu = rcu;
	cfg->wal.segment_bytes = 1u << 20;
	cfg->wal.buffer_bytes = 256u << 10;
	cfg->wal.fsync_interval_ns = 2 * CM_NS_PER_MS;
	cfg->shard.ooo_window_ns = 24 * 3600 * CM_NS_PER_SEC;
}

int tst_store_find_series(struct st_store *st, const uint8_t *key, uint32_t keylen)
{
	struct st_shard *sh = st_store_shard(st);
	uint32_t n = st_shard_series_count(sh);
	for (uint32_t id = 0; id < n; id++) {
		uint32_t kl;
		const uint8_t *k = st_shard_series_key(sh, id, &kl, NULL);
		if (kl == keylen && !memcmp(k, key, kl))
			return (int)id;
	}
	return -1;
}

int tst_key_build(uint8_t *out, size_t cap, const char *name, size_t namelen, const char *field,
		  const char *tags)
{
	struct st_tag t[16];
	char buf[1024];
	uint32_t n = 0;
	snprintf(buf, sizeof(buf), "%s", tags);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || n == 16)
			return -1;
		*eq = '\0';
		/* slices into buf: st_key_build copies them before buf goes away */
		t[n].key = (struct st_str){kv, (uint32_t)strlen(kv)};
		t[n].value = (struct st_str){eq + 1, (uint32_t)strlen(eq + 1)};
		n++;
	}
	int kl = st_key_build(out, cap, (struct st_str){name, (uint32_t)namelen},
			      (struct st_str){field, (uint32_t)strlen(field)}, t, n);
	return kl > 0 ? kl : -1;
}
#endif /* storage */
