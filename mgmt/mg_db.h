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
 * The catalog is the set of database names created (CREATE DATABASE, a
 * write to a new database) and not dropped, kept in data_dir/databases (one
 * name per line, rewritten through a temp file and a rename). The default
 * database always exists.
 *
 * Threads: the name functions are pure; the catalog takes its own mutex.
 */
#ifndef MG_DB_H
#define MG_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "st_types.h"

#define MG_DB_NAME_MAX 128
#define MG_DB_SEP '\x1f'   /* between the database and the measurement */

/* A valid database name: 1..MG_DB_NAME_MAX bytes, no NUL, no control bytes. */
bool mg_db_name_valid(const char *db, size_t len);

/*
 * The series name of measurement meas in database db (NULL, "" or the
 * default: meas itself) into out[cap]. Returns its length, or -ENOSPC.
 */
int mg_db_series_name(const char *db, const char *default_db, struct st_str meas, char *out,
		      size_t cap);

/*
 * Split a series name into its database (the default one when it has no
 * prefix) and measurement. Slices borrow from name / default_db.
 */
void mg_db_split(struct st_str name, const char *default_db, struct st_str *db,
		 struct st_str *meas);

/* True if series name `name` belongs to database db. */
bool mg_db_owns(struct st_str name, const char *db, const char *default_db);

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
 * Remove db from the catalog. 0, -ENOENT, -EPERM (the default), -errno (the
 * file could not be rewritten: nothing changed).
 */
int mg_dbs_drop(struct mg_dbs *dbs, const char *db);
/* NULL and "" name the default database, which always exists. */
bool mg_dbs_exists(struct mg_dbs *dbs, const char *db);
/* The names, sorted, through fn (under the catalog's lock). */
typedef int (*mg_dbs_fn)(void *arg, const char *db);
int mg_dbs_list(struct mg_dbs *dbs, mg_dbs_fn fn, void *arg);
const char *mg_dbs_default(const struct mg_dbs *dbs);

#endif /* MG_DB_H */
