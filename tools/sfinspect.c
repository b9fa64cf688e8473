/*
 * sfinspect.c - offline inspection of a StreamFlow data directory: opens
 * every shard the way the daemon does (catalog, blocks, WAL replay), takes
 * the directory's lock (so the daemon must be stopped), and prints per
 * series the number of points, their sum, min, max and last value; or
 * checks them against an sfgen manifest (tools/tl_traffic.h).
 *
 *   sfinspect [--set KEY=VALUE]... DATA_DIR
 *   sfinspect --check MANIFEST [--set KEY=VALUE]... DATA_DIR
 *
 * Output: one line per series, sorted by series, tab-separated:
 *   series (as InfluxDB prints it, with the field)  type  count  sum  min  max  last
 * The same series held by several shards (sent to several cores) is
 * merged. Until the management socket (sfctl) can query a running daemon,
 * this is how tests reconcile what was sent with what is stored.
 *
 * Exit codes: 0 ok (check: everything matched), 1 mismatch or open/read
 * error, 2 usage or configuration error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_config.h"
#include "cm_fs.h"
#include "cm_log.h"
#include "st_rcu.h"
#include "st_series.h"
#include "st_store.h"
#include "tl_traffic.h"

/* What a series holds, summed over shards. */
struct series_total {
	char *name;         /* st_key_format with field */
	uint8_t type;
	uint64_t count;
	double sum, min, max, last;
	int64_t last_ts;
};

struct totals {
	struct series_total *v;
	size_t n, cap;
};

static double value_of(uint64_t bits, uint8_t type)
{
	union st_value v = {.u64 = bits};
	switch (type) {
	case ST_VT_F64: return v.f64;
	case ST_VT_I64: return (double)v.i64;
	case ST_VT_BOOL: return v.u64 ? 1.0 : 0.0;
	default: return (double)v.u64;
	}
}

static int add_series(struct totals *t, const char *name, uint8_t type, const struct st_points *p)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct series_total *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	struct series_total *s = &t->v[t->n];
	*s = (struct series_total){.name = strdup(name), .type = type, .min = INFINITY,
				   .max = -INFINITY, .last_ts = INT64_MIN};
	if (!s->name)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		double x = value_of(p->vals[i], type);
		s->sum += x;
		s->min = fmin(s->min, x);
		s->max = fmax(s->max, x);
	}
	s->count = p->n;
	if (p->n) {
		s->last = value_of(p->vals[p->n - 1], type);
		s->last_ts = p->ts[p->n - 1];
	}
	t->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct series_total *)a)->name, ((const struct series_total *)b)->name);
}

/* Sort and merge the entries of one series from several shards. */
static void merge_totals(struct totals *t)
{
	qsort(t->v, t->n, sizeof(t->v[0]), by_name);
	size_t out = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct series_total *s = &t->v[i];
		if (out && !strcmp(t->v[out - 1].name, s->name)) {
			struct series_total *d = &t->v[out - 1];
			d->count += s->count;
			d->sum += s->sum;
			d->min = fmin(d->min, s->min);
			d->max = fmax(d->max, s->max);
			if (s->last_ts > d->last_ts) {
				d->last_ts = s->last_ts;
				d->last = s->last;
			}
			free(s->name);
			continue;
		}
		t->v[out++] = *s;
	}
	t->n = out;
}

/* Read every series of one shard directory into t. */
static int read_shard(const struct cm_config *cfg, struct st_rcu *rcu, int reader,
		      const char *dir, uint32_t id, struct totals *t)
{
	struct st_store_cfg sc;
	char err[256];
	st_store_cfg_default(&sc);
	if (st_store_cfg_from(cfg, &sc, err, sizeof(err))) {
		fprintf(stderr, "sfinspect: %s\n", err);
		return -EINVAL;
	}
	sc.shard_id = id;
	sc.dir = dir;
	sc.cold_dir = NULL;
	sc.rcu = rcu;
	const char *cold = cm_config_str(cfg, "storage.cold_dir");
	char cdir[4096];
	if (cold[0]) {
		snprintf(cdir, sizeof(cdir), "%s/shard-%03u", cold, id);
		sc.cold_dir = cdir;
	}
	struct st_store *st;
	struct st_store_recovery rec;
	int rc = st_store_open(&sc, &st, &rec);
	if (rc) {
		fprintf(stderr, "sfinspect: cannot open '%s': %s\n", dir, strerror(-rc));
		return rc;
	}
	struct st_points p;
	st_points_init(&p);
	st_read_begin(rcu, reader);
	struct st_shard *sh = st_store_shard(st);
	uint32_t n = st_shard_series_count(sh);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		uint32_t keylen;
		enum st_value_type vt;
		const uint8_t *key = st_shard_series_key(sh, i, &keylen, &vt);
		char name[8192];
		p.n = 0;
		int r = st_store_read(st, i, INT64_MIN, INT64_MAX, &p);
		if (r < 0) {
			fprintf(stderr, "sfinspect: shard %u series %u: %s\n", id, i, strerror(-r));
			rc = r;
			break;
		}
		if (st_key_format(key, keylen, true, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "<bad key %u/%u>", id, i);
		rc = add_series(t, name, (uint8_t)vt, &p);
	}
	st_read_end(rcu, reader);
	st_points_release(&p);
	st_store_close(st);
	return rc;
}

static const char *type_name(uint8_t t)
{
	static const char *const names[] = {"none", "float", "int", "uint", "bool", "string"};
	return t < CM_ARRAY_SIZE(names) ? names[t] : "?";
}

static const struct series_total *find(const struct totals *t, const char *name)
{
	struct series_total key = {.name = (char *)name};
	return bsearch(&key, t->v, t->n, sizeof(t->v[0]), by_name);
}

/* Compare with the manifest; print every mismatch. Returns the number of mismatches. */
static uint64_t check(const struct totals *t, const struct tl_manifest *m)
{
	uint64_t bad = 0;
	if (m->series && m->series != t->n) {
		printf("MISMATCH series: want %llu got %zu\n", (unsigned long long)m->series, t->n);
		bad++;
	}
	for (size_t i = 0; i < m->nexpect; i++) {
		const struct tl_expect *e = &m->expect[i];
		const struct series_total *s = find(t, e->series);
		if (!s) {
			printf("MISSING %s\n", e->series);
			bad++;
			continue;
		}
		double got = e->agg == TL_AGG_COUNT ? (double)s->count
			   : e->agg == TL_AGG_SUM   ? s->sum
			   : e->agg == TL_AGG_MIN   ? s->min
			   : e->agg == TL_AGG_MAX   ? s->max
						    : s->last;
		if (!tl_manifest_check_value(e->value, got, e->tol)) {
			printf("MISMATCH %s %s: want %.17g got %.17g\n", e->series,
			       tl_agg_name(e->agg), e->value, got);
			bad++;
		}
	}
	printf("checked %zu expectations over %zu series: %llu mismatches\n", m->nexpect, t->n,
	       (unsigned long long)bad);
	return bad;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: sfinspect [--check MANIFEST] [--set KEY=VALUE]... DATA_DIR\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"check", required_argument, NULL, 'k'},
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const struct cm_cfg_table *const tables[] = {
		&st_shard_cfg_table, &st_wal_cfg_table, &st_store_cfg_table,
	};
	char err[512];
	struct cm_config *cfg;
	if (cm_config_create(tables, CM_ARRAY_SIZE(tables), &cfg, err, sizeof(err))) {
		fprintf(stderr, "sfinspect: %s\n", err);
		return 2;
	}
	const char **sets = calloc((size_t)argc, sizeof(*sets));
	size_t nsets = 0;
	const char *manifest = NULL;
	int c, status = 2;
	while ((c = getopt_long(argc, argv, "k:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': manifest = optarg; break;
		case 's': sets[nsets++] = optarg; break;
		case 'h': usage(stdout); status = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		goto out;
	}
	if (cm_config_set_batch(cfg, sets, nsets, err, sizeof(err))) {
		fprintf(stderr, "sfinspect: --set: %s\n", err);
		goto out;
	}
	cm_log_set_level(CM_LOG_WARN);
	const char *dir = argv[optind];
	struct tl_manifest *m = NULL;
	if (manifest && tl_manifest_load(manifest, &m, err, sizeof(err))) {
		fprintf(stderr, "sfinspect: %s\n", err);
		goto out;
	}
	status = 1;
	int lock_fd;
	if (cm_fs_lock_dir(dir, &lock_fd, err, sizeof(err))) {
		fprintf(stderr, "sfinspect: %s\n", err);
		tl_manifest_free(m);
		goto out;
	}
	struct st_rcu *rcu = NULL;
	struct totals t = {0};
	int reader = -1;
	if (st_rcu_create(1, &rcu) == 0 && (reader = st_rcu_reader_register(rcu)) >= 0) {
		DIR *dh = opendir(dir);
		struct dirent *de;
		int rc = dh ? 0 : -errno;
		while (dh && rc == 0 && (de = readdir(dh))) {
			unsigned id;
			char extra;
			if (sscanf(de->d_name, "shard-%u%c", &id, &extra) != 1)
				continue;
			char sdir[4096];
			snprintf(sdir, sizeof(sdir), "%s/%s", dir, de->d_name);
			rc = read_shard(cfg, rcu, reader, sdir, id, &t);
		}
		if (dh)
			closedir(dh);
		if (rc == 0) {
			merge_totals(&t);
			if (m) {
				status = check(&t, m) ? 1 : 0;
			} else {
				for (size_t i = 0; i < t.n; i++)
					printf("%s\t%s\t%llu\t%.17g\t%.17g\t%.17g\t%.17g\n", t.v[i].name,
					       type_name(t.v[i].type), (unsigned long long)t.v[i].count,
					       t.v[i].sum, t.v[i].min, t.v[i].max, t.v[i].last);
				status = 0;
			}
		} else if (rc == -ENOENT || !dh) {
			fprintf(stderr, "sfinspect: cannot read '%s': %s\n", dir, strerror(-rc));
		}
		st_rcu_reader_unregister(rcu, reader);
	}
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i].name);
	free(t.v);
	st_rcu_destroy(rcu);
	close(lock_fd);
	tl_manifest_free(m);
out:
	free(sets);
	cm_config_destroy(cfg);
	return status;
}
