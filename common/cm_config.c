/*
 * cm_config.c - see cm_config.h. Off the hot path: start-up and management
 * threads only. Lookups are linear over a few hundred keys at most.
 */
#include "cm_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

union cm_cfg_value {
	char *s;
	int64_t i;
	bool b;
	double d;
};

struct cm_cfg_entry {
	const struct cm_cfg_key *key;
	union cm_cfg_value val;
};

struct cm_config {
	struct cm_cfg_entry *entries;
	size_t n;
};

/* ---------------------------------------------------------------- parsers */

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

int cm_parse_size(const char *s, int64_t *out)
{
	char *end;
	s = skip_space(s);
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	end = (char *)skip_space(end);
	int shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case 'B': break;
	default: return -EINVAL;
	}
	if (*end && toupper((unsigned char)*end) != 'B') {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
	} else if (*end) {
		end++;
	}
	if (*skip_space(end))
		return -EINVAL;
	if (shift && v > (unsigned long long)INT64_MAX >> shift)
		return -ERANGE;
	if (v > (unsigned long long)INT64_MAX)
		return -ERANGE;
	*out = (int64_t)(v << shift);
	return 0;
}

int cm_parse_duration_ns(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{"ns", 1}, {"us", 1000}, {"µs", 1000}, {"ms", 1000000},
		{"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
		{"d", 86400000000000LL}, {"w", 604800000000000LL},
	};
	char *end;
	s = skip_space(s);
	if (!isdigit((unsigned char)*s) && *s != '-')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno)
		return -ERANGE;
	const char *u = skip_space(end);
	size_t ulen = strlen(u);
	while (ulen && isspace((unsigned char)u[ulen - 1]))
		ulen--;
	int64_t mul = 1000000000LL; /* a bare number is seconds */
	if (ulen) {
		size_t i;
		for (i = 0; i < CM_ARRAY_SIZE(units); i++)
			if (strlen(units[i].unit) == ulen && memcmp(units[i].unit, u, ulen) == 0)
				break;
		if (i == CM_ARRAY_SIZE(units))
			return -EINVAL;
		mul = units[i].ns;
	}
	int64_t r;
	if (__builtin_mul_overflow((int64_t)v, mul, &r))
		return -ERANGE;
	*out = r;
	return 0;
}

int cm_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (s[0] < '0' || s[0] > '9') /* strtoull would take blanks and a sign */
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cm_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int enum_index(const char *choices, const char *s)
{
	size_t len = strlen(s);
	int idx = 0;
	for (const char *p = choices; *p; idx++) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && memcmp(p, s, n) == 0)
			return idx;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static const char *type_name(enum cm_cfg_type t)
{
	static const char *const names[] = {
		[CM_CFG_STR] = "string", [CM_CFG_INT] = "int", [CM_CFG_BOOL] = "bool",
		[CM_CFG_SIZE] = "size", [CM_CFG_DURATION] = "duration",
		[CM_CFG_DOUBLE] = "double", [CM_CFG_ENUM] = "enum",
	};
	return names[t];
}

/* Parse text for one key into *v (strings are strdup'ed). 0 or -EINVAL. */
static int parse_value(const struct cm_cfg_key *k, const char *text, union cm_cfg_value *v,
		       char *err, size_t errlen)
{
	int rc = 0;
	int64_t i = 0;
	char *end;

	switch (k->type) {
	case CM_CFG_STR:
		v->s = strdup(text);
		return v->s ? 0 : -ENOMEM;
	case CM_CFG_BOOL:
		rc = cm_parse_bool(text, &v->b);
		break;
	case CM_CFG_DOUBLE:
		errno = 0;
		v->d = strtod(text, &end);
		if (errno || end == text || *skip_space(end) || !isfinite(v->d))
			rc = -EINVAL;
		break;
	case CM_CFG_ENUM: {
		int idx = enum_index(k->choices, text);
		if (idx < 0) {
			snprintf(err, errlen, "key '%s': '%s' is not one of %s", k->name, text,
				 k->choices);
			return -EINVAL;
		}
		v->i = idx;
		return 0;
	}
	case CM_CFG_INT:
		errno = 0;
		i = strtoll(text, &end, 0);
		if (errno || end == text || *skip_space(end))
			rc = -EINVAL;
		break;
	case CM_CFG_SIZE:
		rc = cm_parse_size(text, &i);
		break;
	case CM_CFG_DURATION:
		rc = cm_parse_duration_ns(text, &i);
		break;
	}
	if (rc) {
		snprintf(err, errlen, "key '%s': '%s' is not a valid %s", k->name, text,
			 type_name(k->type));
		return -EINVAL;
	}
	if (k->type == CM_CFG_INT || k->type == CM_CFG_SIZE || k->type == CM_CFG_DURATION) {
		if ((k->min || k->max) && (i < k->min || i > k->max)) {
			snprintf(err, errlen, "key '%s': %s is outside [%lld, %lld]", k->name, text,
				 (long long)k->min, (long long)k->max);
			return -EINVAL;
		}
		v->i = i;
	}
	return 0;
}

/* ---------------------------------------------------------------- registry */

static struct cm_cfg_entry *find(const struct cm_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->entries[i].key->name, name) == 0)
			return &cfg->entries[i];
	return NULL;
}

static void free_values(struct cm_cfg_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].key->type == CM_CFG_STR)
			free(e[i].val.s);
}

void cm_config_destroy(struct cm_config *cfg)
{
	if (!cfg)
		return;
	free_values(cfg->entries, cfg->n);
	free(cfg->entries);
	free(cfg);
}

int cm_config_create(const struct cm_cfg_table *const *tables, size_t ntables,
		     struct cm_config **out, char *err, size_t errlen)
{
	size_t n = 0;
	for (size_t t = 0; t < ntables; t++)
		n += tables[t]->nkeys;

	struct cm_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->entries = calloc(n ? n : 1, sizeof(*cfg->entries));
	if (!cfg->entries) {
		free(cfg);
		return -ENOMEM;
	}
	for (size_t t = 0; t < ntables; t++) {
		for (size_t k = 0; k < tables[t]->nkeys; k++) {
			const struct cm_cfg_key *key = &tables[t]->keys[k];
			if (find(cfg, key->name)) {
				snprintf(err, errlen, "key '%s' is defined twice", key->name);
				goto err_destroy;
			}
			struct cm_cfg_entry *e = &cfg->entries[cfg->n];
			e->key = key;
			if (parse_value(key, key->def, &e->val, err, errlen))
				goto err_destroy;
			cfg->n++;
		}
	}
	*out = cfg;
	return 0;

err_destroy:
	cm_config_destroy(cfg);
	return -EINVAL;
}

/* A staging copy: pairs are parsed into it, then swapped in whole. */
struct stage {
	struct cm_config *cfg;
	union cm_cfg_value *vals;
	bool *set;
	char *err;
	size_t errlen;
	int rc;
};

static int stage_init(struct stage *st, struct cm_config *cfg, char *err, size_t errlen)
{
	st->cfg = cfg;
	st->err = err;
	st->errlen = errlen;
	st->rc = 0;
	st->vals = calloc(cfg->n ? cfg->n : 1, sizeof(*st->vals));
	st->set = calloc(cfg->n ? cfg->n : 1, sizeof(*st->set));
	if (!st->vals || !st->set) {
		free(st->vals);
		free(st->set);
		return -ENOMEM;
	}
	return 0;
}

static int stage_put(struct stage *st, const char *name, const char *value)
{
	struct cm_cfg_entry *e = find(st->cfg, name);
	if (!e) {
		snprintf(st->err, st->errlen, "unknown key '%s'", name);
		return -EINVAL;
	}
	size_t idx = (size_t)(e - st->cfg->entries);
	union cm_cfg_value v;
	int rc = parse_value(e->key, value, &v, st->err, st->errlen);
	if (rc)
		return rc;
	if (st->set[idx] && e->key->type == CM_CFG_STR)
		free(st->vals[idx].s);
	st->vals[idx] = v;
	st->set[idx] = true;
	return 0;
}

/* Apply the staged values if ok, free whatever is not kept. */
static int stage_finish(struct stage *st, bool ok)
{
	struct cm_config *cfg = st->cfg;
	for (size_t i = 0; i < cfg->n; i++) {
		if (!st->set[i])
			continue;
		bool is_str = cfg->entries[i].key->type == CM_CFG_STR;
		if (ok) {
			if (is_str)
				free(cfg->entries[i].val.s);
			cfg->entries[i].val = st->vals[i];
		} else if (is_str) {
			free(st->vals[i].s);
		}
	}
	free(st->vals);
	free(st->set);
	return ok ? 0 : (st->rc ? st->rc : -EINVAL);
}

static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
	struct stage *st = user;
	char full[256];
	if (st->rc)
		return 0;
	if (section[0])
		snprintf(full, sizeof(full), "%s.%s", section, name);
	else
		snprintf(full, sizeof(full), "%s", name);
	st->rc = stage_put(st, full, value);
	return st->rc == 0;
}

int cm_config_load_file(struct cm_config *cfg, const char *path, char *err, size_t errlen)
{
	struct stage st;
	if (stage_init(&st, cfg, err, errlen))
		return -ENOMEM;
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(e));
		stage_finish(&st, false);
		return -e;
	}
	int line = ini_parse_file(f, on_ini_pair, &st);
	fclose(f);
	if (line != 0) {
		char inner[256];
		if (st.rc)
			snprintf(inner, sizeof(inner), "%s", err);
		else
			snprintf(inner, sizeof(inner), "syntax error");
		snprintf(err, errlen, "config file '%s' line %d: %s", path, line, inner);
		if (!st.rc)
			st.rc = -EINVAL;
		return stage_finish(&st, false);
	}
	return stage_finish(&st, true);
}

int cm_config_set_batch(struct cm_config *cfg, const char *const *pairs, size_t npairs,
			char *err, size_t errlen)
{
	struct stage st;
	if (stage_init(&st, cfg, err, errlen))
		return -ENOMEM;
	for (size_t i = 0; i < npairs; i++) {
		const char *eq = strchr(pairs[i], '=');
		if (!eq || eq == pairs[i]) {
			snprintf(err, errlen, "'%s' is not key=value", pairs[i]);
			st.rc = -EINVAL;
			break;
		}
		char name[256];
		size_t n = (size_t)(eq - pairs[i]);
		if (n >= sizeof(name)) {
			snprintf(err, errlen, "key in '%s' is too long", pairs[i]);
			st.rc = -EINVAL;
			break;
		}
		memcpy(name, pairs[i], n);
		name[n] = '\0';
		st.rc = stage_put(&st, name, eq + 1);
		if (st.rc)
			break;
	}
	return stage_finish(&st, st.rc == 0);
}

/* --------------------------------------------------------------- accessors */

static const struct cm_cfg_entry *get(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = find(cfg, name);
	assert(e && "unknown config key");
	return e;
}

bool cm_config_has(const struct cm_config *cfg, const char *name)
{
	return find(cfg, name) != NULL;
}

const char *cm_config_str(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = get(cfg, name);
	assert(e->key->type == CM_CFG_STR);
	return e->val.s;
}

int64_t cm_config_int(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = get(cfg, name);
	assert(e->key->type == CM_CFG_INT || e->key->type == CM_CFG_SIZE ||
	       e->key->type == CM_CFG_DURATION);
	return e->val.i;
}

bool cm_config_bool(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = get(cfg, name);
	assert(e->key->type == CM_CFG_BOOL);
	return e->val.b;
}

double cm_config_double(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = get(cfg, name);
	assert(e->key->type == CM_CFG_DOUBLE);
	return e->val.d;
}

int cm_config_enum(const struct cm_config *cfg, const char *name)
{
	const struct cm_cfg_entry *e = get(cfg, name);
	assert(e->key->type == CM_CFG_ENUM);
	return (int)e->val.i;
}

/* ------------------------------------------------------------------ output */

static void format_value(const struct cm_cfg_entry *e, char *buf, size_t len)
{
	switch (e->key->type) {
	case CM_CFG_STR:
		snprintf(buf, len, "%s", e->val.s);
		break;
	case CM_CFG_BOOL:
		snprintf(buf, len, "%s", e->val.b ? "true" : "false");
		break;
	case CM_CFG_DOUBLE:
		snprintf(buf, len, "%g", e->val.d);
		break;
	case CM_CFG_ENUM: {
		const char *p = e->key->choices;
		for (int64_t i = 0; i < e->val.i; i++)
			p = strchr(p, '|') + 1;
		size_t n = strcspn(p, "|");
		snprintf(buf, len, "%.*s", (int)n, p);
		break;
	}
	case CM_CFG_DURATION:
		snprintf(buf, len, "%lldns", (long long)e->val.i);
		break;
	case CM_CFG_INT:
	case CM_CFG_SIZE:
		snprintf(buf, len, "%lld", (long long)e->val.i);
		break;
	}
}

void cm_config_print_help(const struct cm_config *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n; i++) {
		const struct cm_cfg_key *k = cfg->entries[i].key;
		fprintf(out, "  %-28s %-8s default %s%s\n", k->name, type_name(k->type),
			k->def[0] ? k->def : "\"\"", k->runtime ? " (runtime)" : "");
		if (k->type == CM_CFG_ENUM)
			fprintf(out, "  %-28s %-8s one of %s\n", "", "", k->choices);
		fprintf(out, "  %-28s %-8s %s\n", "", "", k->help);
	}
}

void cm_config_dump(const struct cm_config *cfg, FILE *out)
{
	char val[512];
	const char *section = "";
	size_t seclen = 0;
	/* Bare keys first (they must precede any [section]), then sections. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cfg->n; i++) {
			const char *name = cfg->entries[i].key->name;
			const char *dot = strchr(name, '.');
			if ((pass == 0) != (dot == NULL))
				continue;
			if (dot && ((size_t)(dot - name) != seclen || strncmp(name, section, seclen))) {
				section = name;
				seclen = (size_t)(dot - name);
				fprintf(out, "\n[%.*s]\n", (int)seclen, name);
			}
			format_value(&cfg->entries[i], val, sizeof(val));
			fprintf(out, "%s = %s\n", dot ? dot + 1 : name, val);
		}
	}
}
