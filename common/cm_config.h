/*
 * cm_config.h - the configuration registry: one table of keys per module,
 * values from embedded defaults, an INI file (read by libinih) and
 * `--set key=value` overrides.
 *
 * Key names are "section.key" ("wal.durability") or a bare key ("data_dir").
 * In the file, a bare key sits before any [section]; "wal.durability" is
 * `durability = ...` under `[wal]`. Every change goes through a staging copy:
 * a file or a batch of --set pairs is parsed and validated whole, and applied
 * only if every pair is valid, so a config is never half applied.
 *
 * Types: STR, INT (decimal integer), BOOL (true/false/yes/no/on/off/1/0),
 * SIZE (bytes, with optional K/M/G/T or KiB/MiB/GiB/TiB suffix, powers of
 * two), DURATION (ns, with ns/us/ms/s/m/h/d suffix; a bare number is
 * seconds), DOUBLE, ENUM (one of a '|' separated list).
 *
 * Threads: built and changed by the main thread at start-up (later: by the
 * management plane for runtime keys); read-only afterwards. Modules copy the
 * values they need into their own config structs at init; the hot path never
 * reads this registry.
 */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cm_cfg_type {
	CM_CFG_STR,
	CM_CFG_INT,
	CM_CFG_BOOL,
	CM_CFG_SIZE,
	CM_CFG_DURATION,
	CM_CFG_DOUBLE,
	CM_CFG_ENUM,
};

struct cm_cfg_key {
	const char *name;      /* "section.key" or "key" */
	enum cm_cfg_type type;
	const char *def;       /* default value, as it would be written */
	int64_t min, max;      /* inclusive bounds for INT, SIZE, DURATION; 0,0 = none */
	const char *choices;   /* ENUM: "none|interval|sync" */
	bool runtime;          /* may change while running */
	const char *help;      /* one line */
};

struct cm_cfg_table {
	const char *module;
	const struct cm_cfg_key *keys;
	size_t nkeys;
};

struct cm_config;

/*
 * Create a registry over the given tables (kept: they must outlive it) with
 * every key at its default. Returns 0, -EINVAL if a default is invalid or a
 * name appears twice (details in err), or -ENOMEM.
 */
int cm_config_create(const struct cm_cfg_table *const *tables, size_t ntables,
		     struct cm_config **out, char *err, size_t errlen);
void cm_config_destroy(struct cm_config *cfg);

/* Read an INI file; all or nothing. 0, -ENOENT/-EIO (cannot read), -EINVAL. */
int cm_config_load_file(struct cm_config *cfg, const char *path, char *err, size_t errlen);

/*
 * Apply a batch of "key=value" strings (borrowed); all or nothing.
 * Returns 0 or -EINVAL with the first bad pair in err.
 */
int cm_config_set_batch(struct cm_config *cfg, const char *const *pairs, size_t npairs,
			char *err, size_t errlen);

/* Accessors; the key must exist and have the matching type (asserted). */
const char *cm_config_str(const struct cm_config *cfg, const char *name);
int64_t cm_config_int(const struct cm_config *cfg, const char *name); /* INT, SIZE, DURATION */
bool cm_config_bool(const struct cm_config *cfg, const char *name);
double cm_config_double(const struct cm_config *cfg, const char *name);
/* ENUM: index of the value in the choices list. */
int cm_config_enum(const struct cm_config *cfg, const char *name);
bool cm_config_has(const struct cm_config *cfg, const char *name);

/* `--help` listing: every key, its type, default and help text. */
void cm_config_print_help(const struct cm_config *cfg, FILE *out);
/* Current values as an INI file (what `config show` prints). */
void cm_config_dump(const struct cm_config *cfg, FILE *out);

/* Parsers shared with other modules (query durations, sizes on the CLI). */
int cm_parse_size(const char *s, int64_t *out);
int cm_parse_duration_ns(const char *s, int64_t *out);
int cm_parse_bool(const char *s, bool *out);
/* A plain decimal count in [min, max] (CLI options): 0, or -EINVAL (*out untouched). */
int cm_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif /* CM_CONFIG_H */
