/*
 * tst_util.h - small helpers shared by the unit tests (linked into every
 * unit-test binary, like st_io_fault.c): scratch directories, the
 * AirPassengers data set, the io_uring skip check, a store set up for tests,
 * and slice comparison.
 *
 *   char dir[256];
 *   assert_non_null(tst_tmpdir(dir, sizeof(dir), "test_st_wal"));
 *   ... files under dir ...
 *   tst_rm_tree(dir);
 *
 * The storage helpers exist only in binaries built with storage (the
 * others, test_cm_config and test_an_stats, have neither its headers nor its
 * library). Test code: helpers report failures as return values, never
 * through cmocka, so any test may call them. Any thread.
 */
#ifndef TST_UTIL_H
#define TST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Make a fresh directory $TMPDIR/<name>.XXXXXX (/tmp when TMPDIR is unset or
 * empty) and write its path to buf[cap]. Returns buf, or NULL (errno set; a
 * path longer than cap is ENAMETOOLONG).
 */
char *tst_tmpdir(char *buf, size_t cap, const char *name);

/* rm -rf path: files, subdirectories, then path itself; links are not followed. NULL ok. */
void tst_rm_tree(const char *path);

/* ---------------------------------------------------------------- data */

/*
 * The 144 monthly AirPassengers totals (1949-1960, thousands) from
 * SF_DATA_DIR/airpassengers/AirPassengers.csv (a header line, then
 * "yyyy-mm",value) into y. 0, or -1 when the file is missing or holds fewer
 * than 144 values (y then partly written). Tests exit 77 on -1.
 */
int tst_airpassengers(double y[144]);

/* ------------------------------------------------------------- storage */

struct st_rcu;
struct st_store;
struct st_store_cfg;

/* Whether io_uring can be set up here: 0 or the -errno of the attempt. */
int tst_uring_probe(void);

/*
 * Exit 77 (meson's SKIP) with a message when the kernel refuses io_uring,
 * which the WAL and block writes need. Call first thing in main().
 */
void tst_require_uring(void);

/*
 * st_store_cfg_default() for a store in dir (borrowed: must outlive the
 * store) on rcu, with what tests want: small WAL segments (1 MiB) and
 * buffer (256 KiB), an fsync every 2 ms, and a 24 h out-of-order window
 * (tests write old times). As by default, no WAL I/O thread: the owner's
 * st_store_poll encodes. Callers change the rest.
 */
void tst_store_cfg(struct st_store_cfg *cfg, const char *dir, struct st_rcu *rcu);

/* The local id of the series with this key in st's shard, or -1 (a linear scan). */
int tst_store_find_series(struct st_store *st, const uint8_t *key, uint32_t keylen);

/*
 * The series key of (name, field, tags "k=v,k=v"), no escaping, up to 16
 * tags, built with st_key_build into out[cap]: its length, or -1 (a tag
 * without '=', too many tags, st_key_build's refusal).
 */
int tst_key_build(uint8_t *out, size_t cap, const char *name, size_t namelen, const char *field,
		  const char *tags);

#if __has_include("st_types.h")
#include <stdbool.h>
#include <string.h>

#include "st_types.h"

/* A decoded slice holds exactly the bytes of want. */
static inline bool tst_str_is(struct st_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}
#endif

#endif /* TST_UTIL_H */
