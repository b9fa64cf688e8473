/*
 * mg_db.c - see mg_db.h. Database namespaces of series names, and the
 * catalog of databases.
 *
 * Usage profile: the name functions run per query (mg_db_owns per series
 * scanned by SHOW and the planner, thousands to millions per query) and per
 * line-protocol line written through HTTP (mg_db_series_name): pure,
 * no allocation. The catalog changes a few times in a daemon's life (CREATE
 * DATABASE, DROP DATABASE, a write to a new database) and is read per
 * request (mg_dbs_exists): a sorted array under a mutex.
 *
 * The file data_dir/databases holds one name per line, each ending in '\n',
 * sorted. It is only ever replaced whole: written to databases.tmp, fsync'ed,
 * renamed over databases, then the directory fsync'ed, so a crash leaves the
 * old or the new catalog, never half of one. At open, a line that is not a
 * valid name (control bytes, too long) means the file was damaged or edited
 * by hand: open fails with -EBADMSG and logs the path and line, rather than
 * guessing which databases exist. Blank lines and a missing final '\n' are
 * tolerated; duplicates collapse.
 *
 * Threads: the name functions from any thread; the catalog functions from
 * any management thread (one mutex; the file is rewritten under it).
 */
#include "mg_db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_log.h"

#define DBS_FILE "databases"
#define DBS_FILE_MAX_BYTES (64u << 20) /* a sanity bound: 500,000 names of 128 bytes */

/* ================================================================= names */

bool mg_db_name_valid(const char *db, size_t len)
{
	if (!db || len == 0 || len > MG_DB_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)db[i];
		if (c < 0x20 || c == 0x7f)
			return false; /* NUL, '\n' and the other control bytes */
	}
	return true;
}

/* db names the default database: NULL, "", or its name. */
static bool is_default(const char *db, size_t len, const char *default_db)
{
	return !db || len == 0 ||
	       (default_db && strlen(default_db) == len && memcmp(db, default_db, len) == 0);
}

int mg_db_series_name(const char *db, const char *default_db, struct st_str meas, char *out,
		      size_t cap)
{
	size_t dlen = db ? strlen(db) : 0;
	if (is_default(db, dlen, default_db)) {
		if (meas.len > cap)
			return -ENOSPC;
		memcpy(out, meas.p, meas.len);
		return (int)meas.len;
	}
	if (dlen + 1 + meas.len > cap || dlen + 1 + meas.len > INT_MAX)
		return -ENOSPC;
	memcpy(out, db, dlen);
	out[dlen] = MG_DB_SEP;
	memcpy(out + dlen + 1, meas.p, meas.len);
	return (int)(dlen + 1 + meas.len);
}

void mg_db_split(struct st_str name, const char *default_db, struct st_str *db,
		 struct st_str *meas)
{
	const char *sep = name.len ? memchr(name.p, MG_DB_SEP, name.len) : NULL;
	if (!sep) {
		db->p = default_db ? default_db : "";
		db->len = default_db ? (uint32_t)strlen(default_db) : 0;
		*meas = name;
		return;
	}
	uint32_t dlen = (uint32_t)(sep - name.p);
	*db = (struct st_str){name.p, dlen};
	*meas = (struct st_str){sep + 1, name.len - dlen - 1};
}

bool mg_db_owns(struct st_str name, const char *db, const char *default_db)
{
	const char *sep = name.len ? memchr(name.p, MG_DB_SEP, name.len) : NULL;
	size_t dlen = db ? strlen(db) : 0;
	if (is_default(db, dlen, default_db))
		return sep == NULL;
	return sep && (size_t)(sep - name.p) == dlen && memcmp(name.p, db, dlen) == 0;
}

/* =============================================================== catalog */

struct mg_dbs {
	pthread_mutex_t mu;
	char *dir;
	char *dflt;
	char **names;     /* sorted (strcmp), unique; the default among them */
	uint32_t n, cap;
};

/* Index of name in the sorted array, or where it would go (*found false). */
static uint32_t dbs_find(const struct mg_dbs *dbs, const char *name, bool *found)
{
	uint32_t lo = 0, hi = dbs->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dbs->names[mid], name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Add name (len bytes, valid) if absent. 0 or -ENOMEM. */
static int dbs_insert(struct mg_dbs *dbs, const char *name, size_t len)
{
	char *copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	bool found;
	uint32_t at = dbs_find(dbs, copy, &found);
	if (found) {
		free(copy);
		return 0;
	}
	if (dbs->n == dbs->cap) {
		uint32_t cap = dbs->cap ? dbs->cap * 2 : 8;
		char **p = realloc(dbs->names, cap * sizeof(*p));
		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		dbs->names = p;
		dbs->cap = cap;
	}
	memmove(dbs->names + at + 1, dbs->names + at, (dbs->n - at) * sizeof(*dbs->names));
	dbs->names[at] = copy;
	dbs->n++;
	return 0;
}

static void dbs_remove_at(struct mg_dbs *dbs, uint32_t at)
{
	free(dbs->names[at]);
	memmove(dbs->names + at, dbs->names + at + 1, (dbs->n - at - 1) * sizeof(*dbs->names));
	dbs->n--;
}

/* write(2) all of buf. 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t k = write(fd, buf, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

/*
 * Replace the file with the names in memory but names[skip] (UINT32_MAX:
 * all of them), through a temp file, fsync and rename. Under mu.
 */
static int dbs_persist(const struct mg_dbs *dbs, uint32_t skip)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/" DBS_FILE, dbs->dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/" DBS_FILE ".tmp", dbs->dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		CM_LOG_ERR("db", "event=catalog_write_failed path=%s err=%s", tmp, strerror(e));
		return -e;
	}
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < dbs->n; i++) {
		if (i == skip)
			continue;
		rc = write_all(fd, dbs->names[i], strlen(dbs->names[i]));
		if (rc == 0)
			rc = write_all(fd, "\n", 1);
	}
	if (rc == 0 && fsync(fd))
		rc = -errno;
	if (close(fd) && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path))
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(dbs->dir);
	if (rc) {
		CM_LOG_ERR("db", "event=catalog_write_failed path=%s err=%s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

/* Read the whole file into *out (NUL-terminated, owned). 0, -ENOENT, -errno. */
static int read_file(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	int rc = fstat(fd, &sb) ? -errno : 0;
	if (rc == 0 && !S_ISREG(sb.st_mode))
		rc = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	if (rc == 0 && (uint64_t)sb.st_size > DBS_FILE_MAX_BYTES)
		rc = -EFBIG;
	char *buf = rc ? NULL : malloc((size_t)sb.st_size + 1);
	if (rc == 0 && !buf)
		rc = -ENOMEM;
	size_t got = 0;
	while (rc == 0 && got < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)sb.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			rc = -errno;
		else if (k == 0)
			break; /* shrank under us: take what is there */
		else
			got += (size_t)k;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* Load the names of the file's text. 0, -EBADMSG (logged with the line), -ENOMEM. */
static int dbs_parse(struct mg_dbs *dbs, const char *path, const char *text, size_t len)
{
	uint32_t lineno = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t n = end - at;
		lineno++;
		if (n > 0 && !mg_db_name_valid(text + at, n)) {
			CM_LOG_ERR("db", "event=catalog_corrupt path=%s line=%u bytes=%zu "
			 "reason=not_a_database_name", path, lineno, n);
			return -EBADMSG;
		}
		if (n > 0 && dbs_insert(dbs, text + at, n))
			return -ENOMEM;
		at = end + 1;
	}
	return 0;
}

/* Fill dbs from its file, or create the file. 0 or -errno. */
static int dbs_load(struct mg_dbs *dbs)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/" DBS_FILE, dbs->dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len);
	if (rc == -ENOENT) {
		rc = dbs_insert(dbs, dbs->dflt, strlen(dbs->dflt));
		return rc ? rc : dbs_persist(dbs, UINT32_MAX);
	}
	if (rc) {
		CM_LOG_ERR("db", "event=catalog_unreadable path=%s err=%s", path, strerror(-rc));
		return rc;
	}
	rc = dbs_parse(dbs, path, text, len);
	free(text);
	if (rc)
		return rc;
	/* the default always exists, whether or not the file names it */
	return dbs_insert(dbs, dbs->dflt, strlen(dbs->dflt));
}

/* Free dbs and what it owns (the mutex is the caller's to destroy). */
static void dbs_free(struct mg_dbs *dbs)
{
	for (uint32_t i = 0; i < dbs->n; i++)
		free(dbs->names[i]);
	free(dbs->names);
	free(dbs->dflt);
	free(dbs->dir);
	free(dbs);
}

int mg_dbs_open(const char *data_dir, const char *default_db, struct mg_dbs **out)
{
	if (!data_dir || !default_db || !mg_db_name_valid(default_db, strlen(default_db)))
		return -EINVAL;
	struct mg_dbs *dbs = calloc(1, sizeof(*dbs));
	if (!dbs)
		return -ENOMEM;
	dbs->dir = strdup(data_dir);
	dbs->dflt = strdup(default_db);
	int rc = dbs->dir && dbs->dflt ? -pthread_mutex_init(&dbs->mu, NULL) : -ENOMEM;
	if (rc)
		goto err_free;
	rc = dbs_load(dbs);
	if (rc)
		goto err_mutex;
	*out = dbs;
	return 0;

err_mutex:
	pthread_mutex_destroy(&dbs->mu);
err_free:
	dbs_free(dbs);
	return rc;
}

void mg_dbs_close(struct mg_dbs *dbs)
{
	if (!dbs)
		return;
	pthread_mutex_destroy(&dbs->mu);
	dbs_free(dbs);
}

int mg_dbs_create(struct mg_dbs *dbs, const char *db)
{
	if (!db || !mg_db_name_valid(db, strlen(db)))
		return -EINVAL;
	pthread_mutex_lock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, db, &found);
	int rc = 0;
	if (!found) {
		rc = dbs_insert(dbs, db, strlen(db)); /* at `at` */
		if (rc == 0 && (rc = dbs_persist(dbs, UINT32_MAX)) != 0)
			dbs_remove_at(dbs, at); /* not on disk: not created */
	}
	pthread_mutex_unlock(&dbs->mu);
	if (rc == 0 && !found)
		CM_LOG_INFO("db", "event=create db=%s", db);
	return rc;
}

int mg_dbs_drop(struct mg_dbs *dbs, const char *db)
{
	if (!db)
		return -ENOENT;
	if (strcmp(db, dbs->dflt) == 0)
		return -EPERM;
	pthread_mutex_lock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, db, &found);
	int rc = found ? dbs_persist(dbs, at) : -ENOENT;
	if (rc == 0)
		dbs_remove_at(dbs, at); /* on disk without it: gone */
	pthread_mutex_unlock(&dbs->mu);
	if (rc == 0)
		CM_LOG_INFO("db", "event=drop db=%s", db);
	return rc;
}

bool mg_dbs_exists(struct mg_dbs *dbs, const char *db)
{
	if (!db || !*db)
		return true; /* the default */
	pthread_mutex_lock(&dbs->mu);
	bool found;
	dbs_find(dbs, db, &found);
	pthread_mutex_unlock(&dbs->mu);
	return found;
}

int mg_dbs_list(struct mg_dbs *dbs, mg_dbs_fn fn, void *arg)
{
	pthread_mutex_lock(&dbs->mu);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < dbs->n; i++)
		rc = fn(arg, dbs->names[i]);
	pthread_mutex_unlock(&dbs->mu);
	return rc;
}

const char *mg_dbs_default(const struct mg_dbs *dbs)
{
	return dbs->dflt;
}
