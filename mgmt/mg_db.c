/*
 * mg_db.c - see mg_db.h. Database namespaces of series names, and the
 * catalog of databases.
 *
 * Usage profile: the name functions run per query (mg_db_owns per series
 * scanned by SHOW and the planner, thousands to millions per query) and per
 * line-protocol line written through HTTP (mg_db_series_name): pure,
 * no allocation. The catalog changes a few times in a daemon's life (CREATE
 * DATABASE, DROP DATABASE, a write to a new database) and is read per
 * request (mg_dbs_namespace) and by the flusher once per
 * series and checkpoint (mg_dbs_deleted): a sorted array under a
 * read-write lock.
 *
 * The file data_dir/databases holds one line per name, each ending in '\n',
 * sorted: the name, then a TAB and the generation when it is not 0, then a
 * TAB and "dropped" when the database was dropped (mg_db.h). It is only
 * ever replaced whole: written to databases.tmp, fsync'ed, renamed over
 * databases, then the directory fsync'ed, so a crash leaves the old or the
 * new catalog, never half of one. At open, a line that is not of that form
 * (control bytes, too long, a bad generation) means the file was damaged or
 * edited by hand: open fails with -EBADMSG and logs the path and line,
 * rather than guessing which databases exist. Blank lines and a missing
 * final '\n' are tolerated; repeated names collapse to the latest
 * generation.
 *
 * Threads: the name functions from any thread; the catalog functions from
 * any management thread and the flusher, under one read-write lock (the
 * file is rewritten under the write lock).
 */
#include "mg_db.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

bool mg_db_ns_valid(const char *ns, size_t len)
{
	const char *g = ns ? memchr(ns, MG_DB_GEN_SEP, len) : NULL;
	if (!g)
		return mg_db_name_valid(ns, len);
	size_t digits = len - (size_t)(g - ns) - 1;
	if (!mg_db_name_valid(ns, (size_t)(g - ns)) || digits == 0 || digits > 10)
		return false;
	for (size_t i = 1; i <= digits; i++)
		if (g[i] < '0' || g[i] > '9')
			return false;
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

/*
 * A database name's history: its current (live) or last (dropped)
 * generation. Each CREATE after a DROP starts the next generation, whose
 * series live under another namespace, so a dropped database's series never
 * come back.
 */
struct dbent {
	char *name;
	uint32_t gen;
	bool live;
};

struct mg_dbs {
	pthread_rwlock_t mu;
	char *dir;
	char *dflt;
	struct dbent *v;  /* sorted by name (strcmp), unique; the default among them, live */
	uint32_t n, cap;
};

/* Index of name (len bytes) in the sorted array, or where it would go (*found false). */
static uint32_t dbs_find(const struct mg_dbs *dbs, const char *name, size_t len, bool *found)
{
	uint32_t lo = 0, hi = dbs->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *x = dbs->v[mid].name;
		int c = strncmp(x, name, len);
		if (c == 0 && x[len])
			c = 1;
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

/*
 * Record name (len bytes, valid) at generation gen: a new entry, or a later
 * generation of a known one (a file's repeated lines: the latest wins).
 * 0 or -ENOMEM.
 */
static int dbs_insert(struct mg_dbs *dbs, const char *name, size_t len, uint32_t gen, bool live)
{
	bool found;
	uint32_t at = dbs_find(dbs, name, len, &found);
	if (found) {
		struct dbent *e = &dbs->v[at];
		if (gen > e->gen || (gen == e->gen && live)) {
			e->gen = gen;
			e->live = live;
		}
		return 0;
	}
	char *copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	if (dbs->n == dbs->cap) {
		uint32_t cap = dbs->cap ? dbs->cap * 2 : 8;
		struct dbent *p = realloc(dbs->v, cap * sizeof(*p));
		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		dbs->v = p;
		dbs->cap = cap;
	}
	memmove(dbs->v + at + 1, dbs->v + at, (dbs->n - at) * sizeof(*dbs->v));
	dbs->v[at] = (struct dbent){copy, gen, live};
	dbs->n++;
	return 0;
}

static void dbs_remove_at(struct mg_dbs *dbs, uint32_t at)
{
	free(dbs->v[at].name);
	memmove(dbs->v + at, dbs->v + at + 1, (dbs->n - at - 1) * sizeof(*dbs->v));
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

/* The file's line for e, without its '\n', into buf[cap]; its length. */
static int dbs_line(const struct dbent *e, char *buf, size_t cap)
{
	if (e->live && e->gen == 0)
		return snprintf(buf, cap, "%s", e->name);
	return snprintf(buf, cap, "%s\t%" PRIu32 "%s", e->name, e->gen, e->live ? "" : "\tdropped");
}

/*
 * Replace the file with the catalog in memory, through a temp file, fsync
 * and rename. Under mu (written).
 */
static int dbs_persist(const struct mg_dbs *dbs)
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
		char line[MG_DB_NAME_MAX + 32];
		int n = dbs_line(&dbs->v[i], line, sizeof(line) - 1);
		line[n++] = '\n';
		rc = write_all(fd, line, (size_t)n);
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

/*
 * One line of the file: "name" (a live database, generation 0), "name\tG"
 * (live, generation G) or "name\tG\tdropped". True if well formed.
 */
static bool dbs_parse_line(const char *line, size_t n, size_t *name_len, uint32_t *gen,
			   bool *live)
{
	const char *tab = memchr(line, '\t', n);
	*name_len = tab ? (size_t)(tab - line) : n;
	*gen = 0;
	*live = true;
	if (!mg_db_name_valid(line, *name_len))
		return false;
	if (!tab)
		return true;
	const char *p = tab + 1, *end = line + n;
	uint64_t g = 0;
	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		if ((g = g * 10 + (uint64_t)(*p - '0')) > UINT32_MAX - 1)
			return false;
	*gen = (uint32_t)g;
	if (p == end)
		return true;
	*live = false;
	return (size_t)(end - p) == sizeof("\tdropped") - 1 && !memcmp(p, "\tdropped", (size_t)(end - p));
}

/* Load the catalog of the file's text. 0, -EBADMSG (logged with the line), -ENOMEM. */
static int dbs_parse(struct mg_dbs *dbs, const char *path, const char *text, size_t len)
{
	uint32_t lineno = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t n = end - at, name_len;
		uint32_t gen;
		bool live;
		lineno++;
		if (n > 0 && !dbs_parse_line(text + at, n, &name_len, &gen, &live)) {
			CM_LOG_ERR("db", "event=catalog_corrupt path=%s line=%u bytes=%zu "
			 "reason=not_a_catalog_line", path, lineno, n);
			return -EBADMSG;
		}
		if (n > 0 && dbs_insert(dbs, text + at, name_len, gen, live))
			return -ENOMEM;
		at = end + 1;
	}
	return 0;
}

/* The default always exists: live, at a generation after any it was dropped at. */
static int dbs_ensure_default(struct mg_dbs *dbs)
{
	bool found;
	uint32_t at = dbs_find(dbs, dbs->dflt, strlen(dbs->dflt), &found);
	if (found && !dbs->v[at].live) {
		dbs->v[at].gen++;
		dbs->v[at].live = true;
		return 0;
	}
	return dbs_insert(dbs, dbs->dflt, strlen(dbs->dflt), 0, true);
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
		rc = dbs_ensure_default(dbs);
		return rc ? rc : dbs_persist(dbs);
	}
	if (rc) {
		CM_LOG_ERR("db", "event=catalog_unreadable path=%s err=%s", path, strerror(-rc));
		return rc;
	}
	rc = dbs_parse(dbs, path, text, len);
	free(text);
	if (rc)
		return rc;
	return dbs_ensure_default(dbs);
}

/* Free dbs and what it owns (the lock is the caller's to destroy). */
static void dbs_free(struct mg_dbs *dbs)
{
	for (uint32_t i = 0; i < dbs->n; i++)
		free(dbs->v[i].name);
	free(dbs->v);
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
	int rc = dbs->dir && dbs->dflt ? -pthread_rwlock_init(&dbs->mu, NULL) : -ENOMEM;
	if (rc)
		goto err_free;
	rc = dbs_load(dbs);
	if (rc)
		goto err_lock;
	*out = dbs;
	return 0;

err_lock:
	pthread_rwlock_destroy(&dbs->mu);
err_free:
	dbs_free(dbs);
	return rc;
}

void mg_dbs_close(struct mg_dbs *dbs)
{
	if (!dbs)
		return;
	pthread_rwlock_destroy(&dbs->mu);
	dbs_free(dbs);
}

int mg_dbs_create(struct mg_dbs *dbs, const char *db)
{
	if (!db || !mg_db_name_valid(db, strlen(db)))
		return -EINVAL;
	pthread_rwlock_wrlock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, db, strlen(db), &found);
	int rc = 0;
	bool made = !found || !dbs->v[at].live;
	if (!found) {
		rc = dbs_insert(dbs, db, strlen(db), 0, true); /* at `at` */
		if (rc == 0 && (rc = dbs_persist(dbs)) != 0)
			dbs_remove_at(dbs, at); /* not on disk: not created */
	} else if (!dbs->v[at].live) {
		/* re-created: a new generation, a namespace no dropped series is in */
		struct dbent was = dbs->v[at];
		dbs->v[at].gen++;
		dbs->v[at].live = true;
		if ((rc = dbs_persist(dbs)) != 0)
			dbs->v[at] = was;
	}
	uint32_t gen = found ? dbs->v[at].gen : 0;
	pthread_rwlock_unlock(&dbs->mu);
	if (rc == 0 && made)
		CM_LOG_INFO("db", "event=create db=%s generation=%" PRIu32, db, gen);
	return rc;
}

int mg_dbs_drop(struct mg_dbs *dbs, const char *db)
{
	if (!db)
		return -ENOENT;
	if (strcmp(db, dbs->dflt) == 0)
		return -EPERM;
	pthread_rwlock_wrlock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, db, strlen(db), &found);
	int rc = found && dbs->v[at].live ? 0 : -ENOENT;
	if (rc == 0) {
		dbs->v[at].live = false;
		if ((rc = dbs_persist(dbs)) != 0)
			dbs->v[at].live = true; /* not on disk: not dropped */
	}
	pthread_rwlock_unlock(&dbs->mu);
	if (rc == 0)
		CM_LOG_INFO("db", "event=drop db=%s", db);
	return rc;
}

bool mg_dbs_exists(struct mg_dbs *dbs, const char *db)
{
	char ns[MG_DB_NS_MAX];
	return mg_dbs_namespace(dbs, db, ns, sizeof(ns)) == 0;
}

int mg_dbs_namespace(struct mg_dbs *dbs, const char *db, char *out, size_t cap)
{
	if (!db || !*db || strcmp(db, dbs->dflt) == 0)
		return snprintf(out, cap, "%s", dbs->dflt) < (int)cap ? 0 : -ENOSPC;
	pthread_rwlock_rdlock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, db, strlen(db), &found);
	int rc = -ENOENT;
	if (found && dbs->v[at].live) {
		const struct dbent *e = &dbs->v[at];
		int n = e->gen ? snprintf(out, cap, "%s%c%" PRIu32, db, MG_DB_GEN_SEP, e->gen)
			       : snprintf(out, cap, "%s", db);
		rc = n < (int)cap ? 0 : -ENOSPC;
	}
	pthread_rwlock_unlock(&dbs->mu);
	return rc;
}

bool mg_dbs_deleted(struct mg_dbs *dbs, struct st_str name)
{
	const char *sep = name.len ? memchr(name.p, MG_DB_SEP, name.len) : NULL;
	if (!sep)
		return false; /* the default database's: never dropped */
	size_t len = (size_t)(sep - name.p);
	const char *g = memchr(name.p, MG_DB_GEN_SEP, len);
	uint64_t gen = 0;
	if (g) {
		if (g + 1 == sep)
			return false;
		for (const char *p = g + 1; p < sep; p++) {
			if (*p < '0' || *p > '9' || (gen = gen * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
				return false; /* not a namespace we made: keep it */
		}
		len = (size_t)(g - name.p);
	}
	pthread_rwlock_rdlock(&dbs->mu);
	bool found;
	uint32_t at = dbs_find(dbs, name.p, len, &found);
	bool gone = found && (dbs->v[at].live ? gen < dbs->v[at].gen : gen <= dbs->v[at].gen);
	pthread_rwlock_unlock(&dbs->mu);
	return gone;
}

int mg_dbs_list(struct mg_dbs *dbs, mg_dbs_fn fn, void *arg)
{
	pthread_rwlock_rdlock(&dbs->mu);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < dbs->n; i++)
		if (dbs->v[i].live)
			rc = fn(arg, dbs->v[i].name);
	pthread_rwlock_unlock(&dbs->mu);
	return rc;
}

const char *mg_dbs_default(const struct mg_dbs *dbs)
{
	return dbs->dflt;
}
