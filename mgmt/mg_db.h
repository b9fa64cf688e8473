/*
 * mg_db.h - databases: namespaces of series, and the catalog of the
 * databases that exist.
 *
 * A series of database D lives under the series name "D<US>measurement",
 * US being the ASCII unit separator 0x1f (MG_DB_SEP); the default database
 * (mgmt.database, "streamflow" unless configured: where UDP/TCP ingest and
 * StatsD land) has no prefix. The write path refuses measurements that
 * contain the separator, so the two never collide; the series index keeps
 * each database's measurements apart for free, and nothing below the
 * management plane knows about databases. (The separator is a byte no
 * client sends, rather than NUL, so that series names stay C strings in the
 * query executor.)
 *
 * A database's series live in its namespace: its name, the first time it
 * is created; after a DROP DATABASE and a new CREATE, "name<RS>G" (RS the
 * ASCII record separator 0x1e, MG_DB_GEN_SEP, G the generation: 1, 2...).
 * So a dropped database's series are out of every query at once, a
 * re-created one starts empty, and the store deletes the old namespaces'
 * points in the background (mg_dbs_deleted, st_store_set_deleted). The
 * default database's namespace is always its bare name.
 *
 * The catalog is the set of database names created (CREATE DATABASE, a
 * write to a new database), with their generation and whether they were
 * dropped, kept in data_dir/databases (one line per name: "name",
 * "name<TAB>G" or "name<TAB>G<TAB>dropped"; rewritten through a temp file
 * and a rename). The default database always exists.
 *
 * Threads: the name functions are pure; the catalog takes its own rwlock
 * (lookups share it, create and drop hold it alone).
 */
#ifndef MG_DB_H
#define MG_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

#define MG_DB_NAME_MAX 128
#define MG_DB_SEP '\x1f'   /* between the namespace and the measurement */
#define MG_DB_GEN_SEP '\x1e' /* between a database name and its generation */
#define MG_DB_NS_MAX (MG_DB_NAME_MAX + 12) /* a namespace and its NUL */

/* A valid database name: 1..MG_DB_NAME_MAX bytes, no NUL, no control bytes. */
bool mg_db_name_valid(const char *db, size_t len);
/* A valid namespace: a database name, then optionally MG_DB_GEN_SEP and 1..10 digits. */
bool mg_db_ns_valid(const char *ns, size_t len);

/*
 * The series name of measurement meas in namespace ns (mg_dbs_namespace;
 * NULL, "" or the default: meas itself) into out[cap]. Returns its length,
 * or -ENOSPC.
 */
int mg_db_series_name(const char *db, const char *default_db, struct st_str meas, char *out,
		      size_t cap);

/*
 * Split a series name into its namespace (the default database when it has
 * no prefix) and measurement. Slices borrow from name / default_db.
 */
void mg_db_split(struct st_str name, const char *default_db, struct st_str *db,
		 struct st_str *meas);

/* True if series name `name` belongs to namespace ns. */
bool mg_db_owns(struct st_str name, const char *ns, const char *default_db);

struct mg_dbs;

/*
 * Open the catalog of data_dir (borrowed; the directory must exist), creating
 * the file with the default database when there is none (default_db is
 * copied). 0; -EINVAL (default_db missing or not a valid name); -EBADMSG
 * when a line of the file is not a database name (control bytes, too long):
 * the file is damaged or was edited by hand, so rather than guess which
 * databases exist open fails, logs the path and line and leaves the file
 * as it is for a person to look at; -errno when the file cannot be read
 * (-EISDIR, -EFBIG over 64 MiB) or, when there is none, created (-ENOENT:
 * no data_dir); or -ENOMEM.
 */
int mg_dbs_open(const char *data_dir, const char *default_db, struct mg_dbs **out);
/* Accepts NULL. */
void mg_dbs_close(struct mg_dbs *dbs);

/*
 * Add db (idempotent; persisted before returning). 0, -EINVAL (not a valid
 * name), -errno (the file could not be rewritten: nothing changed).
 */
int mg_dbs_create(struct mg_dbs *dbs, const char *db);
/*
 * Drop db: it no longer exists and its namespace's series are deleted
 * (mg_dbs_deleted); a later create starts the next generation. 0, -ENOENT,
 * -EPERM (the default), -errno (the file could not be rewritten: nothing
 * changed).
 */
int mg_dbs_drop(struct mg_dbs *dbs, const char *db);
/* NULL and "" name the default database, which always exists. */
bool mg_dbs_exists(struct mg_dbs *dbs, const char *db);
/*
 * The namespace of existing database db (NULL, "": the default) into
 * out[cap] (MG_DB_NS_MAX is enough). 0, -ENOENT (no such database),
 * -ENOSPC.
 */
int mg_dbs_namespace(struct mg_dbs *dbs, const char *db, char *out, size_t cap);
/*
 * Is series name `name` in a dropped namespace (an st_deleted_fn: any
 * thread, a read lock)? A name whose namespace the catalog does not know
 * is kept.
 */
bool mg_dbs_deleted(struct mg_dbs *dbs, struct st_str name);
/* The existing databases' names, sorted, through fn (under the catalog's lock). */
typedef int (*mg_dbs_fn)(void *arg, const char *db);
int mg_dbs_list(struct mg_dbs *dbs, mg_dbs_fn fn, void *arg);
const char *mg_dbs_default(const struct mg_dbs *dbs);

#endif /* MG_DB_H */
