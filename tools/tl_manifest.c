/*
 * tl_manifest.c - build, write and load traffic manifests (format in
 * tl_manifest.h). The writer is called once per `sfgen traffic` run, the
 * loader once per check: thousands of records, so plain stdio and growing
 * arrays, nothing clever. Any thread, one manifest per thread.
 */
#include "tl_manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const agg_names[TL_AGG__COUNT] = {
	[TL_AGG_COUNT] = "count", [TL_AGG_SUM] = "sum", [TL_AGG_MIN] = "min",
	[TL_AGG_MAX] = "max",     [TL_AGG_LAST] = "last",
};

static const char *const junk_names[TL_JUNK__COUNT] = {
	[TL_JUNK_NONE] = "none",
	[TL_JUNK_STATSD_BAD_LINE] = "statsd_bad_line",
	[TL_JUNK_LINE_BAD_LINE] = "line_bad_line",
	[TL_JUNK_BINARY_BAD_FRAME] = "binary_bad_frame",
	[TL_JUNK_BINARY_BAD_RECORD] = "binary_bad_record",
	[TL_JUNK_NOT_IP] = "not_ip",
	[TL_JUNK_NOT_UDP] = "not_udp",
	[TL_JUNK_FRAGMENT] = "fragment",
	[TL_JUNK_UNKNOWN_PORT] = "unknown_port",
};

const char *tl_agg_name(enum tl_agg agg)
{
	return (unsigned)agg < TL_AGG__COUNT ? agg_names[agg] : "unknown";
}

const char *tl_junk_name(enum tl_junk kind)
{
	return (unsigned)kind < TL_JUNK__COUNT ? junk_names[kind] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */
/* ------------------------------------------------------------------------ */

int tl_manifest_create(struct tl_manifest **out)
{
	struct tl_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

void tl_manifest_free(struct tl_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nexpect; i++)
		free(m->expect[i].series);
	free(m->expect);
	free(m->binary);
	free(m);
}

/* Make room for one more element of size sz in *arr (n used, *cap allocated). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int tl_manifest_expect(struct tl_manifest *m, const char *series, enum tl_agg agg, double value,
		       double rel_tol)
{
	if ((unsigned)agg >= TL_AGG__COUNT || !series[0] || strpbrk(series, "\t\n\r") ||
	    !isfinite(value) || !isfinite(rel_tol) || rel_tol < 0)
		return -EINVAL;
	if (grow((void **)&m->expect, m->nexpect, &m->expect_cap, sizeof(*m->expect)))
		return -ENOMEM;
	char *copy = strdup(series);
	if (!copy)
		return -ENOMEM;
	m->expect[m->nexpect++] = (struct tl_expect){
		.series = copy, .agg = (uint8_t)agg, .value = value, .tol = rel_tol};
	return 0;
}

int tl_manifest_expect_points(struct tl_manifest *m, const char *series,
			      const struct tl_series_acc *acc, double rel_tol)
{
	if (acc->count == 0)
		return 0;
	int rc = tl_manifest_expect(m, series, TL_AGG_COUNT, (double)acc->count, 0);
	if (!rc)
		rc = tl_manifest_expect(m, series, TL_AGG_SUM, acc->sum, rel_tol);
	if (!rc)
		rc = tl_manifest_expect(m, series, TL_AGG_LAST, acc->last, rel_tol);
	return rc;
}

int tl_manifest_binary(struct tl_manifest *m, const struct tl_binary_src *src)
{
	if (grow((void **)&m->binary, m->nbinary, &m->binary_cap, sizeof(*m->binary)))
		return -ENOMEM;
	m->binary[m->nbinary++] = *src;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

int tl_manifest_fprint(const struct tl_manifest *m, FILE *f)
{
	fprintf(f, "%s\t%d\n", TL_MANIFEST_MAGIC, TL_MANIFEST_VERSION);
	fprintf(f, "# written by sfgen traffic; format in tools/tl_manifest.h\n");
	fprintf(f, "series\t%" PRIu64 "\n", m->series);
	for (int p = 0; p < DP_PROTO__COUNT; p++)
		fprintf(f, "sent\t%s\t%" PRIu64 "\t%" PRIu64 "\n", dp_proto_name((enum dp_proto)p),
			m->sent[p].datagrams, m->sent[p].records);
	for (int k = TL_JUNK_NONE + 1; k < TL_JUNK__COUNT; k++)
		fprintf(f, "junk\t%s\t%" PRIu64 "\n", tl_junk_name((enum tl_junk)k), m->junk[k]);
	for (size_t i = 0; i < m->nbinary; i++) {
		const struct tl_binary_src *b = &m->binary[i];
		fprintf(f, "binary\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n",
			b->source_id, b->frames, b->gaps, b->dups, b->reorders);
	}
	for (size_t i = 0; i < m->nexpect; i++) {
		const struct tl_expect *e = &m->expect[i];
		fprintf(f, "expect\t%s\t%s\t%.17g\t%.17g\n", e->series,
			tl_agg_name((enum tl_agg)e->agg), e->value, e->tol);
	}
	return ferror(f) ? -EIO : 0;
}

CM_PRINTF(3, 4)
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int tl_manifest_write(const struct tl_manifest *m, const char *path, char *err, size_t errlen)
{
	bool is_stdout = strcmp(path, "-") == 0;
	FILE *f = is_stdout ? stdout : fopen(path, "w");
	if (!f) {
		int e = errno;
		set_err(err, errlen, "cannot write '%s': %s", path, strerror(e));
		return -e;
	}
	int rc = tl_manifest_fprint(m, f);
	if (is_stdout ? fflush(f) != 0 : fclose(f) != 0)
		rc = rc ? rc : -errno;
	if (rc)
		set_err(err, errlen, "cannot write '%s': %s", path, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

#define MAX_FIELDS 8

/* Split line (modified) at tabs into f[]; returns the number of fields. */
static int split_tabs(char *line, char **f)
{
	int n = 0;
	for (char *p = line;;) {
		if (n == MAX_FIELDS)
			return MAX_FIELDS + 1;
		f[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			return n;
		*tab = '\0';
		p = tab + 1;
	}
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (s[0] < '0' || s[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	if (!s[0])
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno == ERANGE && fabs(v) > 1)  /* overflow; underflow to 0 is fine */
		return false;
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static int find_name(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/*
 * One record of a manifest (after the version line). NULL, or what is wrong
 * with *tok the offending field; *rc is set on allocation failure.
 */
static const char *load_record(struct tl_manifest *m, char **f, int nf, const char **tok, int *rc)
{
	*rc = 0;
	*tok = f[0];
	if (strcmp(f[0], "series") == 0) {
		if (nf != 2)
			return "a series record has 2 fields";
		*tok = f[1];
		if (!parse_u64(f[1], &m->series))
			return "bad number in series record";
	} else if (strcmp(f[0], "expect") == 0) {
		double v, tol;
		int agg = nf == 5 ? find_name(f[2], agg_names, TL_AGG__COUNT) : 0;
		if (nf != 5)
			return "an expect record has 5 fields";
		if (agg < 0) {
			*tok = f[2];
			return "bad agg";
		}
		*tok = f[3];
		if (!parse_double(f[3], &v))
			return "bad number";
		*tok = f[4];
		if (!parse_double(f[4], &tol) || tol < 0)
			return "bad tolerance";
		*tok = f[1];
		*rc = tl_manifest_expect(m, f[1], (enum tl_agg)agg, v, tol);
		if (*rc == -EINVAL)
			return "bad expect record";
	} else if (strcmp(f[0], "sent") == 0) {
		int p;
		for (p = 0; p < DP_PROTO__COUNT; p++)
			if (nf == 4 && strcmp(f[1], dp_proto_name((enum dp_proto)p)) == 0)
				break;
		if (nf != 4)
			return "a sent record has 4 fields";
		*tok = f[1];
		if (p == DP_PROTO__COUNT)
			return "unknown protocol";
		*tok = f[2];
		if (!parse_u64(f[2], &m->sent[p].datagrams) || !parse_u64(f[3], &m->sent[p].records))
			return "bad number in sent record";
	} else if (strcmp(f[0], "junk") == 0) {
		if (nf != 3)
			return "a junk record has 3 fields";
		int k = find_name(f[1], junk_names, TL_JUNK__COUNT);
		*tok = f[1];
		if (k <= TL_JUNK_NONE)
			return "unknown junk kind";
		*tok = f[2];
		if (!parse_u64(f[2], &m->junk[k]))
			return "bad number in junk record";
	} else if (strcmp(f[0], "binary") == 0) {
		struct tl_binary_src b;
		uint64_t id;
		if (nf != 6)
			return "a binary record has 6 fields";
		if (!parse_u64(f[1], &id) || id > UINT32_MAX ||
		    !parse_u64(f[2], &b.frames) || !parse_u64(f[3], &b.gaps) ||
		    !parse_u64(f[4], &b.dups) || !parse_u64(f[5], &b.reorders))
			return "bad binary record";
		b.source_id = (uint32_t)id;
		*rc = tl_manifest_binary(m, &b);
	} else {
		return "unknown record";
	}
	*tok = f[0];
	return NULL;
}

int tl_manifest_load(const char *path, struct tl_manifest **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		set_err(err, errlen, "cannot read '%s': %s", path, strerror(e));
		return -e;
	}
	struct tl_manifest *m;
	int rc = tl_manifest_create(&m);
	if (rc)
		goto err_close;

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	bool have_version = false;
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((size_t)n != strlen(line)) {
			set_err(err, errlen, "'%s' line %lu: NUL byte", path, lineno);
			rc = -EINVAL;
			goto err_free;
		}
		char *fld[MAX_FIELDS] = {NULL};   /* split_tabs fills nf of them; gcc -O2 cannot tell */
		int nf = split_tabs(line, fld);
		if (!have_version) {
			char want[16];
			snprintf(want, sizeof(want), "%d", TL_MANIFEST_VERSION);
			if (nf != 2 || strcmp(fld[0], TL_MANIFEST_MAGIC) || strcmp(fld[1], want)) {
				set_err(err, errlen, "'%s' line %lu: not an %s version %d file", path,
					lineno, TL_MANIFEST_MAGIC, TL_MANIFEST_VERSION);
				rc = -EINVAL;
				goto err_free;
			}
			have_version = true;
			continue;
		}
		const char *tok;
		const char *why = load_record(m, fld, nf, &tok, &rc);
		if (why) {
			set_err(err, errlen, "'%s' line %lu: %s '%s'", path, lineno, why, tok);
			rc = -EINVAL;
			goto err_free;
		}
		if (rc) {
			set_err(err, errlen, "'%s' line %lu: %s", path, lineno, strerror(-rc));
			goto err_free;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		set_err(err, errlen, "cannot read '%s': %s", path, strerror(EIO));
		goto err_free;
	}
	if (!have_version) {
		rc = -EINVAL;
		set_err(err, errlen, "'%s': empty, no %s record", path, TL_MANIFEST_MAGIC);
		goto err_free;
	}
	free(line);
	fclose(f);
	*out = m;
	return 0;

err_free:
	free(line);
	tl_manifest_free(m);
err_close:
	fclose(f);
	if (rc == -ENOMEM)
		set_err(err, errlen, "'%s': out of memory", path);
	return rc;
}

bool tl_manifest_check_value(double want, double got, double tol)
{
	double scale = fabs(want) > 1 ? fabs(want) : 1;
	return fabs(got - want) <= tol * scale;   /* false for NaN */
}
