/*
 * test_mg_db.c - unit tests for mgmt/mg_db.c: database names (a table of
 * valid and invalid ones), series names of a database and back (split,
 * owns; the default database without a prefix), and the catalog in
 * data_dir/databases: create / drop / exists / list (sorted, idempotent
 * create, the default cannot be dropped, invalid names refused), persisted
 * across reopen byte for byte, a file edited by hand (blank lines, no final
 * newline, duplicates) accepted, a corrupt file (a control byte, an
 * over-long name) and an unreadable one (a directory) refused with an
 * error, a write that fails (databases.tmp is a directory) leaving memory
 * and file unchanged, concurrent creators, and generations: a database
 * dropped and created again lives in a new namespace, the dropped ones are
 * deleted (mg_dbs_deleted), across a reopen; bad generation lines refused.
 *
 * Files live in a fresh directory under $TMPDIR (or /tmp), removed after
 * each case.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_log.h"
#include "mg_db.h"
#include "st_series.h"
#include "tst_util.h"

#define DEF "streamflow"
#define STR(lit) ((struct st_str){(lit), sizeof(lit) - 1})

/* =============================================================== names */

static void test_mg_db__name_valid(void **state)
{
	(void)state;
	char longest[MG_DB_NAME_MAX + 2];
	memset(longest, 'd', sizeof(longest));
	static const struct {
		const char *name;
		size_t len;
		bool ok;
	} cases[] = {
		{"a", 1, true},
		{"telegraf", 8, true},
		{"my db,x=1", 9, true},           /* spaces, commas, '=': quoted in queries */
		{"\xc3\xa9t\xc3\xa9", 5, true},   /* UTF-8 */
		{"", 0, false},
		{"a\nb", 3, false},
		{"a\0b", 3, false},
		{"tab\t", 4, false},
		{"del\x7f", 4, false},
		{"\x1b[31m", 5, false},
		{"db\x1f", 3, false},           /* the separator (MG_DB_SEP) */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (mg_db_name_valid(cases[i].name, cases[i].len) != cases[i].ok)
			fail_msg("case %zu: expected %d", i, cases[i].ok);
	assert_true(mg_db_name_valid(longest, MG_DB_NAME_MAX));
	assert_false(mg_db_name_valid(longest, MG_DB_NAME_MAX + 1));
	assert_false(mg_db_name_valid(NULL, 3));
}

static void test_mg_db__series_name(void **state)
{
	(void)state;
	char out[64];
	/* the default database, however named: the measurement itself */
	const char *defaults[] = {NULL, "", DEF};
	for (size_t i = 0; i < 3; i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(mg_db_series_name(defaults[i], DEF, STR("cpu"), out, sizeof(out)), 3);
		assert_memory_equal(out, "cpu", 3);
	}
	/* another: "db<0x1f>measurement" */
	assert_int_equal(mg_db_series_name("db1", DEF, STR("cpu"), out, sizeof(out)), 7);
	assert_memory_equal(out, "db1\x1f" "cpu", 7);
	/* a name that merely starts like the default is another database */
	assert_int_equal(mg_db_series_name("streamflow2", DEF, STR("m"), out, sizeof(out)), 13);
	assert_memory_equal(out, "streamflow2\x1f" "m", 13);
	/* exactly the room needed, then one byte less */
	assert_int_equal(mg_db_series_name("db1", DEF, STR("cpu"), out, 7), 7);
	assert_int_equal(mg_db_series_name("db1", DEF, STR("cpu"), out, 6), -ENOSPC);
	assert_int_equal(mg_db_series_name(NULL, DEF, STR("cpu"), out, 3), 3);
	assert_int_equal(mg_db_series_name(NULL, DEF, STR("cpu"), out, 2), -ENOSPC);
	/* no default configured: only NULL and "" are unprefixed */
	assert_int_equal(mg_db_series_name("", NULL, STR("cpu"), out, sizeof(out)), 3);
	assert_int_equal(mg_db_series_name(DEF, NULL, STR("cpu"), out, sizeof(out)), 14);
}

static void test_mg_db__split_round_trip(void **state)
{
	(void)state;
	const char *dbs[] = {NULL, DEF, "db1", "a b", "x"};
	const char *meas[] = {"cpu", "m", "a\\ b,c"};
	char buf[128];
	for (size_t d = 0; d < 5; d++)
		for (size_t m = 0; m < 3; m++) {
			struct st_str ms = {meas[m], (uint32_t)strlen(meas[m])};
			int n = mg_db_series_name(dbs[d], DEF, ms, buf, sizeof(buf));
			assert_true(n > 0);
			struct st_str name = {buf, (uint32_t)n}, db, me;
			mg_db_split(name, DEF, &db, &me);
			const char *want = dbs[d] ? dbs[d] : DEF;
			assert_int_equal(db.len, strlen(want));
			assert_memory_equal(db.p, want, db.len);
			assert_true(st_str_eq(me, ms));
			/* owns: its own database (however the default is named), no other */
			assert_true(mg_db_owns(name, want, DEF));
			if (!strcmp(want, DEF)) {
				assert_true(mg_db_owns(name, NULL, DEF));
				assert_true(mg_db_owns(name, "", DEF));
			} else {
				assert_false(mg_db_owns(name, NULL, DEF));
			}
			for (size_t o = 0; o < 5; o++) {
				const char *other = dbs[o] ? dbs[o] : DEF;
				if (strcmp(other, want))
					assert_false(mg_db_owns(name, other, DEF));
			}
		}
	/* prefixes of each other are different databases */
	assert_false(mg_db_owns((struct st_str){"db\x1f" "cpu", 6}, "d", DEF));
	assert_false(mg_db_owns((struct st_str){"db\x1f" "cpu", 6}, "db1", DEF));
	assert_true(mg_db_owns((struct st_str){"db\x1f" "cpu", 6}, "db", DEF));
	/* the empty name */
	struct st_str db, me;
	mg_db_split((struct st_str){"", 0}, DEF, &db, &me);
	assert_int_equal(me.len, 0);
	assert_int_equal(db.len, strlen(DEF));
	assert_true(mg_db_owns((struct st_str){"", 0}, NULL, DEF));
}

/* ============================================================== catalog */

struct fx {
	char dir[256];
	char path[320];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_non_null(tst_tmpdir(f->dir, sizeof(f->dir), "mg_db"));
	snprintf(f->path, sizeof(f->path), "%s/databases", f->dir);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	tst_rm_tree(f->dir);
	free(f);
	return 0;
}

/* The list, joined by ',' */
struct joined {
	char s[4096];
	int stop_after;   /* >0: return 7 after this many */
	int seen;
};

static int join_fn(void *arg, const char *db)
{
	struct joined *j = arg;
	size_t n = strlen(j->s);
	snprintf(j->s + n, sizeof(j->s) - n, "%s%s", n ? "," : "", db);
	if (j->stop_after && ++j->seen == j->stop_after)
		return 7;
	return 0;
}

static const char *list(struct mg_dbs *dbs, struct joined *j)
{
	memset(j, 0, sizeof(*j));
	assert_int_equal(mg_dbs_list(dbs, join_fn, j), 0);
	return j->s;
}

static void slurp(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	size_t n = fread(out, 1, cap - 1, fp);
	out[n] = '\0';
	fclose(fp);
}

static void spit(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_mg_db__catalog_create_drop_list(void **state)
{
	struct fx *f = *state;
	struct mg_dbs *dbs;
	struct joined j;
	char text[4096];
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_string_equal(mg_dbs_default(dbs), DEF);
	/* a fresh catalog: the default database, already on disk */
	assert_string_equal(list(dbs, &j), DEF);
	slurp(f->path, text, sizeof(text));
	assert_string_equal(text, DEF "\n");
	assert_true(mg_dbs_exists(dbs, DEF));
	assert_true(mg_dbs_exists(dbs, NULL));
	assert_true(mg_dbs_exists(dbs, ""));
	assert_false(mg_dbs_exists(dbs, "b"));

	assert_int_equal(mg_dbs_create(dbs, "b"), 0);
	assert_int_equal(mg_dbs_create(dbs, "a"), 0);
	assert_int_equal(mg_dbs_create(dbs, "a"), 0);      /* idempotent */
	assert_int_equal(mg_dbs_create(dbs, DEF), 0);
	assert_int_equal(mg_dbs_create(dbs, "zz top"), 0);
	assert_string_equal(list(dbs, &j), "a,b," DEF ",zz top");
	assert_true(mg_dbs_exists(dbs, "a"));
	slurp(f->path, text, sizeof(text));
	assert_string_equal(text, "a\nb\n" DEF "\nzz top\n");

	/* invalid names are refused and change nothing */
	char longname[MG_DB_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mg_dbs_create(dbs, ""), -EINVAL);
	assert_int_equal(mg_dbs_create(dbs, "x\ny"), -EINVAL);
	assert_int_equal(mg_dbs_create(dbs, longname), -EINVAL);
	assert_int_equal(mg_dbs_create(dbs, NULL), -EINVAL);
	assert_string_equal(list(dbs, &j), "a,b," DEF ",zz top");

	/* drop: once; the default never */
	assert_int_equal(mg_dbs_drop(dbs, "a"), 0);
	assert_int_equal(mg_dbs_drop(dbs, "a"), -ENOENT);
	assert_int_equal(mg_dbs_drop(dbs, "nope"), -ENOENT);
	assert_int_equal(mg_dbs_drop(dbs, DEF), -EPERM);
	assert_false(mg_dbs_exists(dbs, "a"));
	assert_true(mg_dbs_exists(dbs, DEF));
	assert_string_equal(list(dbs, &j), "b," DEF ",zz top");

	/* the callback's nonzero value stops the walk and is returned */
	memset(&j, 0, sizeof(j));
	j.stop_after = 2;
	assert_int_equal(mg_dbs_list(dbs, join_fn, &j), 7);
	assert_string_equal(j.s, "b," DEF);
	mg_dbs_close(dbs);
	mg_dbs_close(NULL);

	/* persisted: the same catalog after a reopen, byte for byte on disk */
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_string_equal(list(dbs, &j), "b," DEF ",zz top");
	slurp(f->path, text, sizeof(text));
	assert_string_equal(text, "a\t0\tdropped\nb\n" DEF "\nzz top\n");
	assert_int_equal(access(f->dir, F_OK), 0);
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(access(tmp, F_OK), -1); /* no temp file left behind */
	mg_dbs_close(dbs);

	/* another default (mgmt.database changed): it exists too, the rest is kept */
	assert_int_equal(mg_dbs_open(f->dir, "other", &dbs), 0);
	assert_string_equal(list(dbs, &j), "b,other," DEF ",zz top");
	assert_int_equal(mg_dbs_drop(dbs, DEF), 0);
	assert_int_equal(mg_dbs_drop(dbs, "other"), -EPERM);
	mg_dbs_close(dbs);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_string_equal(list(dbs, &j), "b,other," DEF ",zz top");
	/* the dropped default is back at its next generation, bare as a default is */
	char ns[MG_DB_NS_MAX];
	assert_int_equal(mg_dbs_namespace(dbs, DEF, ns, sizeof(ns)), 0);
	assert_string_equal(ns, DEF);
	assert_true(mg_dbs_deleted(dbs, STR(DEF "\x1f" "cpu")));
	assert_false(mg_dbs_deleted(dbs, STR("cpu")));
	mg_dbs_close(dbs);
	slurp(f->path, text, sizeof(text)); /* an open writes nothing */
	assert_string_equal(text, "a\t0\tdropped\nb\nother\n" DEF "\t0\tdropped\nzz top\n");

	assert_int_equal(mg_dbs_open(f->dir, "", &dbs), -EINVAL);
	assert_int_equal(mg_dbs_open(f->dir, NULL, &dbs), -EINVAL);
}

/* A file edited by hand: blank lines, no final newline, duplicates. */
static void test_mg_db__catalog_file_tolerated(void **state)
{
	struct fx *f = *state;
	static const char text[] = "\nzeta\n\nalpha\nzeta\nlast one";
	spit(f->path, text, sizeof(text) - 1);
	struct mg_dbs *dbs;
	struct joined j;
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_string_equal(list(dbs, &j), "alpha,last one," DEF ",zeta");
	mg_dbs_close(dbs);
	/* a name repeated with generations: the latest line wins */
	static const char gens[] = "zeta\t3\tdropped\nzeta\t2\nalpha\t1\tdropped\nalpha\t1\n";
	spit(f->path, gens, sizeof(gens) - 1);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_string_equal(list(dbs, &j), "alpha," DEF);
	mg_dbs_close(dbs);
	spit(f->path, text, sizeof(text) - 1);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	/* the next write normalizes it */
	assert_int_equal(mg_dbs_create(dbs, "beta"), 0);
	char out[256];
	slurp(f->path, out, sizeof(out));
	assert_string_equal(out, "alpha\nbeta\nlast one\n" DEF "\nzeta\n");
	mg_dbs_close(dbs);
}

/*
 * DROP and CREATE again: each life of a name is a namespace of its own; the
 * dropped ones are deleted (mg_dbs_deleted), across a reopen.
 */
static void test_mg_db__generations(void **state)
{
	struct fx *f = *state;
	struct mg_dbs *dbs;
	char ns[MG_DB_NS_MAX];
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_int_equal(mg_dbs_namespace(dbs, "a", ns, sizeof(ns)), -ENOENT);
	assert_int_equal(mg_dbs_create(dbs, "a"), 0);
	assert_int_equal(mg_dbs_namespace(dbs, "a", ns, sizeof(ns)), 0);
	assert_string_equal(ns, "a");                       /* the first life: bare */
	assert_false(mg_dbs_deleted(dbs, STR("a\x1f" "cpu")));
	assert_int_equal(mg_dbs_namespace(dbs, "a", ns, 1), -ENOSPC);

	for (uint32_t life = 1; life <= 12; life++) {
		assert_int_equal(mg_dbs_drop(dbs, "a"), 0);
		assert_false(mg_dbs_exists(dbs, "a"));
		assert_int_equal(mg_dbs_namespace(dbs, "a", ns, sizeof(ns)), -ENOENT);
		assert_int_equal(mg_dbs_create(dbs, "a"), 0);
		assert_int_equal(mg_dbs_create(dbs, "a"), 0); /* idempotent: the same life */
		assert_int_equal(mg_dbs_namespace(dbs, "a", ns, sizeof(ns)), 0);
		char want[32];
		snprintf(want, sizeof(want), "a\x1e%u", life);
		assert_string_equal(ns, want);
		assert_true(mg_db_ns_valid(ns, strlen(ns)));
	}
	/* every earlier life is deleted, the current one and other names are not */
	assert_true(mg_dbs_deleted(dbs, STR("a\x1f" "cpu")));
	assert_true(mg_dbs_deleted(dbs, STR("a\x1e" "1\x1f" "cpu")));
	assert_true(mg_dbs_deleted(dbs, STR("a\x1e" "11\x1f" "cpu")));
	assert_false(mg_dbs_deleted(dbs, STR("a\x1e" "12\x1f" "cpu")));
	assert_false(mg_dbs_deleted(dbs, STR("a\x1e" "13\x1f" "cpu"))); /* not yet made */
	assert_false(mg_dbs_deleted(dbs, STR("cpu")));                 /* the default */
	assert_false(mg_dbs_deleted(dbs, STR("b\x1f" "cpu")));          /* unknown: kept */
	assert_false(mg_dbs_deleted(dbs, STR("a\x1e\x1f" "cpu")));       /* not ours: kept */
	assert_false(mg_dbs_deleted(dbs, STR("a\x1e" "1x\x1f" "cpu")));
	assert_false(mg_dbs_deleted(dbs, STR("a\x1e" "99999999999\x1f" "cpu")));
	assert_int_equal(mg_dbs_drop(dbs, "a"), 0);
	assert_true(mg_dbs_deleted(dbs, STR("a\x1e" "12\x1f" "cpu")));
	mg_dbs_close(dbs);

	/* the history survives a reopen */
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_false(mg_dbs_exists(dbs, "a"));
	assert_true(mg_dbs_deleted(dbs, STR("a\x1e" "12\x1f" "cpu")));
	assert_int_equal(mg_dbs_create(dbs, "a"), 0);
	assert_int_equal(mg_dbs_namespace(dbs, "a", ns, sizeof(ns)), 0);
	assert_string_equal(ns, "a\x1e" "13");
	mg_dbs_close(dbs);
	char text[64];
	slurp(f->path, text, sizeof(text));
	assert_string_equal(text, "a\t13\n" DEF "\n");

	/* namespaces, as writers check them */
	assert_true(mg_db_ns_valid("a", 1));
	assert_false(mg_db_ns_valid("a\x1e", 2));
	assert_false(mg_db_ns_valid("\x1e" "1", 2));
	assert_false(mg_db_ns_valid("a\x1e" "1x", 4));
	assert_false(mg_db_ns_valid("a\x1e" "12345678901", 13));
}

static void test_mg_db__catalog_corrupt_or_unreadable(void **state)
{
	struct fx *f = *state;
	struct mg_dbs *dbs = (struct mg_dbs *)(uintptr_t)1;
	/* a control byte inside a name: damage, not a name */
	static const char bad1[] = "good\nba\x01d\n";
	spit(f->path, bad1, sizeof(bad1) - 1);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), -EBADMSG);
	assert_ptr_equal(dbs, (struct mg_dbs *)(uintptr_t)1); /* untouched on failure */
	/* binary garbage with NULs */
	static const char bad2[] = "a\0\0\0\xff\xfe\n";
	spit(f->path, bad2, sizeof(bad2) - 1);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), -EBADMSG);
	/* a bad generation or state */
	static const char *const bad_lines[] = {"a\t\n", "a\tx\n", "a\t1\tgone\n",
						"a\t4294967296\n", "a\t1\tdropped\tx\n", "\t1\n"};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		spit(f->path, bad_lines[i], strlen(bad_lines[i]));
		if (mg_dbs_open(f->dir, DEF, &dbs) != -EBADMSG)
			fail_msg("line %zu was accepted", i);
	}
	/* a line longer than any name */
	char bad3[MG_DB_NAME_MAX + 3];
	memset(bad3, 'x', sizeof(bad3));
	bad3[sizeof(bad3) - 1] = '\n';
	spit(f->path, bad3, sizeof(bad3));
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), -EBADMSG);
	/* the file is left as it was for a person to look at */
	char out[512];
	slurp(f->path, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(bad3));
	/* unreadable: a directory where the file should be */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkdir(f->path, 0755), 0);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), -EISDIR);
	assert_int_equal(rmdir(f->path), 0);
	/* a data dir that does not exist: the first write fails */
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/no/such/dir", f->dir);
	assert_int_equal(mg_dbs_open(missing, DEF, &dbs), -ENOENT);
	/* and after all that, a good open */
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	mg_dbs_close(dbs);
}

/* A write that fails changes neither memory nor the file. */
static void test_mg_db__catalog_write_failure(void **state)
{
	struct fx *f = *state;
	struct mg_dbs *dbs;
	struct joined j;
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	assert_int_equal(mg_dbs_create(dbs, "keep"), 0);
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(mkdir(tmp, 0755), 0); /* the temp file cannot be created */
	assert_int_equal(mg_dbs_create(dbs, "new"), -EISDIR);
	assert_false(mg_dbs_exists(dbs, "new"));
	assert_int_equal(mg_dbs_drop(dbs, "keep"), -EISDIR);
	assert_true(mg_dbs_exists(dbs, "keep"));
	assert_string_equal(list(dbs, &j), "keep," DEF);
	char out[256];
	slurp(f->path, out, sizeof(out));
	assert_string_equal(out, "keep\n" DEF "\n");
	/* the obstacle gone, both work */
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(mg_dbs_create(dbs, "new"), 0);
	assert_int_equal(mg_dbs_drop(dbs, "keep"), 0);
	assert_string_equal(list(dbs, &j), "new," DEF);
	mg_dbs_close(dbs);
}

/* Creators on several threads: every name ends up in memory and on disk. */
#define NTHREADS 4
#define PER_THREAD 40

struct creator {
	struct mg_dbs *dbs;
	int id;
	int failed;
};

static void *creator_main(void *arg)
{
	struct creator *c = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d_%02d", c->id, i);
		if (mg_dbs_create(c->dbs, name) || !mg_dbs_exists(c->dbs, name))
			c->failed++;
		if (i % 4 == 3) { /* drop every fourth again */
			if (mg_dbs_drop(c->dbs, name))
				c->failed++;
		}
	}
	return NULL;
}

static int count_fn(void *arg, const char *db)
{
	(void)db;
	(*(int *)arg)++;
	return 0;
}

static void test_mg_db__catalog_concurrent(void **state)
{
	struct fx *f = *state;
	struct mg_dbs *dbs;
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	pthread_t t[NTHREADS];
	struct creator c[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		c[i] = (struct creator){.dbs = dbs, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, creator_main, &c[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].failed, 0);
	}
	mg_dbs_close(dbs);
	assert_int_equal(mg_dbs_open(f->dir, DEF, &dbs), 0);
	int n = 0;
	assert_int_equal(mg_dbs_list(dbs, count_fn, &n), 0);
	assert_int_equal(n, 1 + NTHREADS * PER_THREAD * 3 / 4);
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < PER_THREAD; k++) {
			char name[32];
			snprintf(name, sizeof(name), "t%d_%02d", i, k);
			assert_int_equal(mg_dbs_exists(dbs, name), k % 4 != 3);
		}
	mg_dbs_close(dbs);
}

int main(void)
{
	cm_log_set_level(CM_LOG_ERR); /* the corrupt-file cases log their error */
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_db__name_valid),
		cmocka_unit_test(test_mg_db__series_name),
		cmocka_unit_test(test_mg_db__split_round_trip),
		T(test_mg_db__generations),
		T(test_mg_db__catalog_create_drop_list),
		T(test_mg_db__catalog_file_tolerated),
		T(test_mg_db__catalog_corrupt_or_unreadable),
		T(test_mg_db__catalog_write_failure),
		T(test_mg_db__catalog_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
