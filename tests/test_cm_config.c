/*
 * test_cm_config.c - the config registry: defaults, typed parsing and bounds,
 * INI files, --set batches, and the all-or-nothing rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_compiler.h"
#include "cm_config.h"

static const struct cm_cfg_key keys[] = {
	{"data_dir", CM_CFG_STR, "./var/data", 0, 0, NULL, false, "where"},
	{"wal.durability", CM_CFG_ENUM, "interval", 0, 0, "none|interval|sync", false, "mode"},
	{"wal.fsync_interval_ms", CM_CFG_INT, "100", 1, 60000, NULL, true, "ms"},
	{"shard.memory_limit", CM_CFG_SIZE, "1GiB", 1 << 20, INT64_MAX, NULL, false, "bytes"},
	{"shard.window", CM_CFG_DURATION, "10m", 0, 0, NULL, false, "window"},
	{"feature.on", CM_CFG_BOOL, "false", 0, 0, NULL, false, "flag"},
	{"ratio", CM_CFG_DOUBLE, "0.5", 0, 0, NULL, false, "ratio"},
};
static const struct cm_cfg_table table = {"test", keys, CM_ARRAY_SIZE(keys)};
static const struct cm_cfg_table *const tables[] = {&table};

static struct cm_config *make(void)
{
	struct cm_config *cfg;
	char err[256];
	assert_int_equal(cm_config_create(tables, 1, &cfg, err, sizeof(err)), 0);
	return cfg;
}

static void test_cm_config__defaults(void **state)
{
	(void)state;
	struct cm_config *cfg = make();
	assert_string_equal(cm_config_str(cfg, "data_dir"), "./var/data");
	assert_int_equal(cm_config_enum(cfg, "wal.durability"), 1);
	assert_int_equal(cm_config_int(cfg, "wal.fsync_interval_ms"), 100);
	assert_int_equal(cm_config_int(cfg, "shard.memory_limit"), 1LL << 30);
	assert_int_equal(cm_config_int(cfg, "shard.window"), 600LL * 1000000000LL);
	assert_false(cm_config_bool(cfg, "feature.on"));
	assert_true(cm_config_double(cfg, "ratio") == 0.5);
	assert_true(cm_config_has(cfg, "ratio"));
	assert_false(cm_config_has(cfg, "nope"));
	cm_config_destroy(cfg);
}

static void test_cm_config__set_batch_all_or_nothing(void **state)
{
	(void)state;
	struct cm_config *cfg = make();
	char err[256];
	const char *good[] = {"data_dir=/srv/sf", "wal.durability=sync", "shard.memory_limit=64MiB",
			      "feature.on=yes", "shard.window=1500ms"};
	assert_int_equal(cm_config_set_batch(cfg, good, 5, err, sizeof(err)), 0);
	assert_string_equal(cm_config_str(cfg, "data_dir"), "/srv/sf");
	assert_int_equal(cm_config_enum(cfg, "wal.durability"), 2);
	assert_int_equal(cm_config_int(cfg, "shard.memory_limit"), 64LL << 20);
	assert_true(cm_config_bool(cfg, "feature.on"));
	assert_int_equal(cm_config_int(cfg, "shard.window"), 1500000000LL);

	/* one bad pair: nothing of the batch applies */
	const char *bad[] = {"data_dir=/elsewhere", "wal.fsync_interval_ms=0"};
	assert_int_equal(cm_config_set_batch(cfg, bad, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "wal.fsync_interval_ms"));
	assert_string_equal(cm_config_str(cfg, "data_dir"), "/srv/sf");

	const char *cases[][2] = {
		{"nokey", "not key=value"},
		{"unknown.key=1", "unknown key 'unknown.key'"},
		{"wal.durability=fast", "not one of none|interval|sync"},
		{"shard.memory_limit=12XB", "not a valid size"},
		{"shard.memory_limit=1000", "outside"},
		{"shard.window=5 fortnights", "not a valid duration"},
		{"feature.on=maybe", "not a valid bool"},
		{"ratio=nan", "not a valid double"},
		{"wal.fsync_interval_ms=12abc", "not a valid int"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(cases); i++) {
		const char *one[] = {cases[i][0]};
		assert_int_equal(cm_config_set_batch(cfg, one, 1, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i][1]))
			fail_msg("'%s': error '%s' lacks '%s'", cases[i][0], err, cases[i][1]);
	}
	cm_config_destroy(cfg);
}

static void test_cm_config__ini_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_cm_config_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "; comment\ndata_dir = /data\nratio = 0.25\n\n[wal]\ndurability = none\n"
			   "fsync_interval_ms = 250\n[shard]\nmemory_limit = 2G\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	struct cm_config *cfg = make();
	char err[256];
	assert_int_equal(cm_config_load_file(cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cm_config_str(cfg, "data_dir"), "/data");
	assert_int_equal(cm_config_enum(cfg, "wal.durability"), 0);
	assert_int_equal(cm_config_int(cfg, "wal.fsync_interval_ms"), 250);
	assert_int_equal(cm_config_int(cfg, "shard.memory_limit"), 2LL << 30);

	/* a bad line anywhere: the file applies not at all, the error names the line */
	fd = open(path, O_WRONLY | O_TRUNC);
	const char *bad = "data_dir = /other\n[wal]\ndurability = sometimes\n";
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	assert_int_equal(cm_config_load_file(cfg, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	assert_string_equal(cm_config_str(cfg, "data_dir"), "/data");

	unlink(path);
	assert_true(cm_config_load_file(cfg, path, err, sizeof(err)) == -ENOENT);
	cm_config_destroy(cfg);
}

static void test_cm_config__duplicate_key_rejected(void **state)
{
	(void)state;
	const struct cm_cfg_table *const twice[] = {&table, &table};
	struct cm_config *cfg;
	char err[256];
	assert_int_equal(cm_config_create(twice, 2, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "defined twice"));
}

static void test_cm_config__parsers(void **state)
{
	(void)state;
	int64_t v;
	assert_int_equal(cm_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cm_parse_size("16KiB", &v), 0);
	assert_int_equal(v, 16384);
	assert_int_equal(cm_parse_size("3 M", &v), 0);
	assert_int_equal(v, 3 << 20);
	assert_int_equal(cm_parse_size("-1", &v), -EINVAL);
	assert_int_equal(cm_parse_size("99999999999T", &v), -ERANGE);
	assert_int_equal(cm_parse_duration_ns("250us", &v), 0);
	assert_int_equal(v, 250000);
	assert_int_equal(cm_parse_duration_ns("2h", &v), 0);
	assert_int_equal(v, 7200LL * 1000000000LL);
	assert_int_equal(cm_parse_duration_ns("30", &v), 0);
	assert_int_equal(v, 30LL * 1000000000LL);
	assert_int_equal(cm_parse_duration_ns("100000000d", &v), -ERANGE);
	assert_int_equal(cm_parse_duration_ns("1y", &v), -EINVAL);
	bool b;
	assert_int_equal(cm_parse_bool("On", &b), 0);
	assert_true(b);
	assert_int_equal(cm_parse_bool("0", &b), 0);
	assert_false(b);
	uint64_t n = 7;
	assert_int_equal(cm_parse_count("10000", 1, 10000, &n), 0);
	assert_int_equal(n, 10000);
	assert_int_equal(cm_parse_count("18446744073709551615", 0, UINT64_MAX, &n), 0);
	assert_true(n == UINT64_MAX);
	n = 7;
	const char *bad[] = {"", "0", "10001", "-1", "12x", " 5", "1e3", "18446744073709551616"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cm_parse_count(bad[i], 1, 10000, &n), -EINVAL);
	assert_int_equal(n, 7);
}

static void test_cm_config__dump_round_trips(void **state)
{
	(void)state;
	struct cm_config *a = make(), *b = make();
	char err[256];
	const char *set[] = {"data_dir=/x", "wal.durability=sync", "ratio=0.125",
			     "shard.window=90s"};
	assert_int_equal(cm_config_set_batch(a, set, 4, err, sizeof(err)), 0);
	char path[] = "/tmp/test_cm_config_dump_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	cm_config_dump(a, f);
	fclose(f);
	assert_int_equal(cm_config_load_file(b, path, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(cm_config_str(b, "data_dir"), "/x");
	assert_int_equal(cm_config_enum(b, "wal.durability"), 2);
	assert_true(cm_config_double(b, "ratio") == 0.125);
	assert_int_equal(cm_config_int(b, "shard.window"), 90LL * 1000000000LL);
	cm_config_destroy(a);
	cm_config_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cm_config__defaults),
		cmocka_unit_test(test_cm_config__set_batch_all_or_nothing),
		cmocka_unit_test(test_cm_config__ini_file),
		cmocka_unit_test(test_cm_config__duplicate_key_rejected),
		cmocka_unit_test(test_cm_config__parsers),
		cmocka_unit_test(test_cm_config__dump_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
