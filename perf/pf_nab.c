/*
 * pf_nab.c - NAB's corpus loader, scorer, threshold optimiser and
 * normalisation, ported from numenta/NAB (nab/sweeper.py, nab/scorer.py,
 * nab/optimizer.py, nab/runner.py). The port keeps NAB's arithmetic order
 * (the per-row weights, the stable sort by anomaly score, the sum over the
 * score parts in NAB's dictionary order) so scores match the published ones
 * to the last printed digit and ties between thresholds break the same way.
 *
 * Usage profile: the NAB benchmark and its validation test; 24-58 files of
 * 1k-22k rows, scored a few dozen times per run. Main thread, allocates freely.
 */
#include "pf_nab.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <assert.h>

#include "cm_clock.h"

/* NAB's constants: probation is 15% of a file, capped at 15% of 5000 rows. */
#define NAB_PROBATION_PERCENT 0.15
#define NAB_PROBATION_CAP_ROWS 5000.0

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- text I/O */

/* Read a whole file, NUL-terminated. 0, -ENOENT, -ENOMEM. */
static int slurp(const char *path, char **out)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (!fp)
		return -ENOENT;
	for (;;) {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 262144);
			if (!nb) {
				free(buf);
				fclose(fp);
				return -ENOMEM;
			}
			buf = nb;
			cap += 262144;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, fp);
		len += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* Index of `name` among the comma-separated fields of the header line, or -1. */
static int header_column(const char *line, const char *name)
{
	size_t nlen = strlen(name);
	int col = 0;
	const char *p = line;

	for (;;) {
		size_t flen = strcspn(p, ",\r\n");
		if (flen == nlen && strncmp(p, name, nlen) == 0)
			return col;
		if (p[flen] != ',')
			return -1;
		p += flen + 1;
		col++;
	}
}

/* Start of field `col` of the line at p, or NULL if the line is shorter. */
static const char *field_at(const char *p, int col)
{
	for (int c = 0; c < col; c++) {
		p += strcspn(p, ",\r\n");
		if (*p != ',')
			return NULL;
		p++;
	}
	return p;
}

static const char *next_line(const char *p)
{
	p += strcspn(p, "\n");
	return *p ? p + 1 : p;
}

static int blank_line(const char *p)
{
	return *p == '\0' || *p == '\n' || (*p == '\r' && p[1] == '\n');
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" to whole seconds; fractions must be zero
 * (NAB's data has none). 0 or -EINVAL. */
static int parse_ts(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, used = 0;

	if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	s += used;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (*s != '0')
				return -EINVAL;
	*out = cm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

static size_t count_rows(const char *body)
{
	size_t n = 0;

	for (const char *p = body; *p; p = next_line(p))
		if (!blank_line(p))
			n++;
	return n;
}

/* ---------------------------------------------------------------- loader */

/* Parse a data CSV (timestamp,value) into f->ts_s, f->value, f->n. */
static int load_series(const char *path, struct pf_nab_file *f, char *err, size_t errlen)
{
	char *text;
	int rc = slurp(path, &text);

	if (rc) {
		set_err(err, errlen, "cannot read '%s'", path);
		return rc;
	}
	int tcol = header_column(text, "timestamp"), vcol = header_column(text, "value");
	const char *body = next_line(text);
	size_t n = count_rows(body), i = 0;
	rc = -EINVAL;
	if (tcol < 0 || vcol < 0 || n == 0) {
		set_err(err, errlen, "'%s' has no timestamp,value rows", path);
		goto out_free_text;
	}
	f->ts_s = malloc(n * sizeof(*f->ts_s));
	f->value = malloc(n * sizeof(*f->value));
	rc = -ENOMEM;
	if (!f->ts_s || !f->value)
		goto out_free_text;
	for (const char *p = body; *p; p = next_line(p)) {
		if (blank_line(p))
			continue;
		const char *tf = field_at(p, tcol), *vf = field_at(p, vcol);
		char *end;
		rc = -EINVAL;
		if (!tf || !vf || parse_ts(tf, &f->ts_s[i]) < 0) {
			set_err(err, errlen, "'%s' row %zu: bad timestamp", path, i + 1);
			goto out_free_text;
		}
		f->value[i] = strtod(vf, &end);
		if (end == vf)
			f->value[i] = NAN;
		i++;
	}
	assert(i == n);
	f->n = n;
	rc = 0;
out_free_text:
	free(text);
	return rc;
}

/* First row whose timestamp equals the label text, as NAB's list.index(). */
static int find_row(const struct pf_nab_file *f, const char *label, size_t *row)
{
	int64_t t;

	if (!label || parse_ts(label, &t) < 0)
		return -EINVAL;
	for (size_t i = 0; i < f->n; i++)
		if (f->ts_s[i] == t) {
			*row = i;
			return 0;
		}
	return -EINVAL;
}

static int load_windows(json_t *wins, struct pf_nab_file *f, char *err, size_t errlen)
{
	size_t k, nw = json_array_size(wins);
	json_t *w;

	if (!json_is_array(wins)) {
		set_err(err, errlen, "windows of '%s' are not an array", f->name);
		return -EINVAL;
	}
	f->win_lo = calloc(nw + 1, sizeof(size_t));
	f->win_hi = calloc(nw + 1, sizeof(size_t));
	if (!f->win_lo || !f->win_hi)
		return -ENOMEM;
	json_array_foreach(wins, k, w) {
		if (find_row(f, json_string_value(json_array_get(w, 0)), &f->win_lo[k]) < 0 ||
		    find_row(f, json_string_value(json_array_get(w, 1)), &f->win_hi[k]) < 0 ||
		    f->win_hi[k] < f->win_lo[k] || (k && f->win_lo[k] <= f->win_hi[k - 1])) {
			set_err(err, errlen, "window %zu of '%s' does not match its rows", k, f->name);
			return -EINVAL;
		}
	}
	f->nwin = nw;
	return 0;
}

static int cmp_file_name(const void *a, const void *b)
{
	const struct pf_nab_file *fa = a, *fb = b;
	return strcmp(fa->name, fb->name);
}

static int load_one(const char *nab_dir, const char *name, json_t *wins,
		    struct pf_nab_corpus *c, char *err, size_t errlen)
{
	char path[4096];
	struct pf_nab_file *f = &c->files[c->nfiles];
	int rc;

	snprintf(path, sizeof(path), "%s/data/%s", nab_dir, name);
	if (access(path, R_OK) != 0)
		return 0;  /* a series of the full corpus that is not shipped here */
	memset(f, 0, sizeof(*f));
	c->nfiles++;
	f->name = strdup(name);
	if (!f->name)
		return -ENOMEM;
	rc = load_series(path, f, err, errlen);
	if (rc)
		return rc;
	rc = load_windows(wins, f, err, errlen);
	if (rc)
		return rc;
	c->nwindows += f->nwin;
	return 0;
}

int pf_nab_load(const char *nab_dir, struct pf_nab_corpus *out, char *err, size_t errlen)
{
	char path[4096];
	json_error_t jerr;
	const char *name;
	json_t *root, *wins;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/labels/combined_windows.json", nab_dir);
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		set_err(err, errlen, "cannot load '%s': %s", path, jerr.text);
		return access(path, R_OK) ? -ENOENT : -EINVAL;
	}
	if (!json_is_object(root)) {
		set_err(err, errlen, "'%s' is not an object", path);
		rc = -EINVAL;
		goto out_put_root;
	}
	out->files = calloc(json_object_size(root) + 1, sizeof(*out->files));
	if (!out->files) {
		rc = -ENOMEM;
		goto out_put_root;
	}
	json_object_foreach(root, name, wins) {
		rc = load_one(nab_dir, name, wins, out, err, errlen);
		if (rc)
			goto out_release;
	}
	if (out->nfiles == 0) {
		set_err(err, errlen, "no series of '%s' under '%s/data'", path, nab_dir);
		rc = -ENOENT;
		goto out_release;
	}
	qsort(out->files, out->nfiles, sizeof(*out->files), cmp_file_name);
	json_decref(root);
	return 0;
out_release:
	pf_nab_release(out);
out_put_root:
	json_decref(root);
	return rc;
}

void pf_nab_release(struct pf_nab_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfiles; i++) {
		struct pf_nab_file *f = &c->files[i];
		free(f->name);
		free(f->ts_s);
		free(f->value);
		free(f->win_lo);
		free(f->win_hi);
	}
	free(c->files);
	memset(c, 0, sizeof(*c));
}

int pf_nab_load_profile(const char *nab_dir, const char *name, struct pf_nab_costs *out)
{
	char path[4096];
	json_error_t jerr;
	json_t *root, *cm;
	int rc = -EINVAL;

	snprintf(path, sizeof(path), "%s/config/profiles.json", nab_dir);
	root = json_load_file(path, 0, &jerr);
	if (!root)
		return access(path, R_OK) ? -ENOENT : -EINVAL;
	cm = json_object_get(json_object_get(root, name), "CostMatrix");
	json_t *tp = json_object_get(cm, "tpWeight"), *fp = json_object_get(cm, "fpWeight"),
	       *fn = json_object_get(cm, "fnWeight");
	if (json_is_number(tp) && json_is_number(fp) && json_is_number(fn)) {
		out->tp = json_number_value(tp);
		out->fp = json_number_value(fp);
		out->fn = json_number_value(fn);
		rc = 0;
	}
	json_decref(root);
	return rc;
}

int pf_nab_read_column(const char *path, const char *column, double *out, size_t n)
{
	char *text;
	size_t i = 0;
	int rc = slurp(path, &text);

	if (rc)
		return rc;
	int col = header_column(text, column);
	const char *body = next_line(text);
	rc = -EINVAL;
	if (col < 0 || count_rows(body) != n)
		goto out_free_text;
	for (const char *p = body; *p; p = next_line(p)) {
		if (blank_line(p))
			continue;
		const char *fld = field_at(p, col);
		char *end;
		if (!fld)
			goto out_free_text;
		out[i] = strtod(fld, &end);
		if (end == fld)
			goto out_free_text;
		i++;
	}
	rc = 0;
out_free_text:
	free(text);
	return rc;
}

int pf_nab_published_score(const char *csv_path, const char *name, double *score)
{
	char *text;
	size_t nlen = strlen(name);
	int rc = slurp(csv_path, &text);

	if (rc)
		return rc;
	int fcol = header_column(text, "File"), scol = header_column(text, "Score");
	rc = fcol < 0 || scol < 0 ? -EINVAL : -ENOENT;
	for (const char *p = next_line(text); rc == -ENOENT && *p; p = next_line(p)) {
		const char *ff = field_at(p, fcol), *sf = field_at(p, scol);
		if (!ff || !sf || strcspn(ff, ",\r\n") != nlen || strncmp(ff, name, nlen) != 0)
			continue;
		char *end;
		*score = strtod(sf, &end);
		rc = end == sf ? -EINVAL : 0;
	}
	free(text);
	return rc;
}

/* ---------------------------------------------------------------- scorer */

/* One scorable row (NAB's AnomalyPoint without its timestamp). */
struct nab_point {
	double anomaly;   /* the detector's anomaly score */
	double sweep;     /* the weighted score if this row were a detection */
	int32_t win;      /* window id within the sweep, -1 outside windows */
	uint32_t order;   /* position in NAB's list, for its stable sort */
};

static double scaled_sigmoid(double pos)
{
	if (pos > 3.0)
		return -1.0;
	return 2.0 * (1.0 / (1.0 + exp(-(-5.0 * pos)))) - 1.0;
}

static size_t probation_rows(size_t n)
{
	double len = fmin(floor(NAB_PROBATION_PERCENT * (double)n),
			  NAB_PROBATION_PERCENT * NAB_PROBATION_CAP_ROWS);
	return (size_t)ceil(len);
}

/* The weight of row i as a detection (NAB's calcSweepScore); updates the
 * window walk state. *win gets the window index in the file or -1. */
struct walk {
	size_t next;        /* next window to enter */
	int cur;            /* window we are in, -1 outside */
	int have_prev;
	size_t prev_hi;
	double prev_width;
};

static double row_weight(const struct pf_nab_file *f, const struct pf_nab_costs *c,
			 struct walk *w, size_t i, int *win)
{
	const double max_tp = scaled_sigmoid(-1.0);
	double s;

	if (w->next < f->nwin && i == f->win_lo[w->next])
		w->cur = (int)w->next++;
	*win = w->cur;
	if (w->cur >= 0) {
		size_t hi = f->win_hi[w->cur];
		double width = (double)(hi - f->win_lo[w->cur] + 1);
		s = scaled_sigmoid(-(double)(hi - i + 1) / width) * c->tp / max_tp;
		if (i == hi) {
			w->have_prev = 1;
			w->prev_hi = hi;
			w->prev_width = width;
			w->cur = -1;
		}
		return s;
	}
	if (!w->have_prev)
		return -1.0 * c->fp;
	/* a one-row window makes NAB divide by zero; treat it as far away */
	if (w->prev_width <= 1.0)
		return -1.0 * c->fp;
	s = scaled_sigmoid((double)(i - w->prev_hi) / (w->prev_width - 1.0));
	return s * c->fp;
}

/* Append file f's scorable rows to p[*np..]; window ids start at win_base. */
static void file_points(const struct pf_nab_file *f, const double *a,
			const struct pf_nab_costs *c, int32_t win_base,
			struct nab_point *p, size_t *np)
{
	struct walk w = { .next = 0, .cur = -1 };
	size_t prob = probation_rows(f->n);

	for (size_t i = 0; i < f->n; i++) {
		int win;
		double s = row_weight(f, c, &w, i, &win);
		if (i < prob)
			continue;
		struct nab_point *q = &p[(*np)++];
		q->anomaly = a[i];
		q->sweep = s;
		q->win = win < 0 ? -1 : win_base + win;
		q->order = (uint32_t)*np;
	}
}

static int cmp_point(const void *a, const void *b)
{
	const struct nab_point *x = a, *y = b;

	if (x->anomaly != y->anomaly)
		return x->anomaly > y->anomaly ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* One row of NAB's scoresByThreshold. */
struct nab_row {
	double threshold;
	double score;
	struct pf_nab_counts k;
};

typedef void (*row_fn)(const struct nab_row *r, void *ctx);

/* The score parts in NAB's dictionary order: "fp", then each window in order
 * of its first row in the sorted list. */
struct parts {
	double fp;
	double *val;       /* by slot */
	int32_t *slot;     /* window id -> slot, -1 if it has no scorable row */
	size_t nslots;
};

static double parts_sum(const struct parts *s)
{
	double sum = 0.0;

	sum += s->fp;
	for (size_t k = 0; k < s->nslots; k++)
		sum += s->val[k];
	return sum;
}

/* NAB's calcScoreByThreshold over the sorted points; calls emit per row. */
static int sweep(const struct nab_point *p, size_t np, size_t nwin,
		 const struct pf_nab_costs *c, row_fn emit, void *ctx)
{
	struct parts s = { .fp = 0.0 };
	struct nab_row r = { .threshold = 1.1 };

	s.val = malloc((nwin + 1) * sizeof(*s.val));
	s.slot = malloc((nwin + 1) * sizeof(*s.slot));
	if (!s.val || !s.slot) {
		free(s.val);
		free(s.slot);
		return -ENOMEM;
	}
	for (size_t k = 0; k < nwin; k++)
		s.slot[k] = -1;
	for (size_t i = 0; i < np; i++) {
		if (p[i].win < 0) {
			r.k.tn++;
			continue;
		}
		r.k.fn++;
		if (s.slot[p[i].win] < 0) {
			s.slot[p[i].win] = (int32_t)s.nslots;
			s.val[s.nslots++] = -c->fn;
		}
	}
	for (size_t i = 0; i < np; i++) {
		if (p[i].anomaly != r.threshold) {
			r.score = parts_sum(&s);
			emit(&r, ctx);
			r.threshold = p[i].anomaly;
		}
		if (p[i].win >= 0) {
			r.k.tp++;
			r.k.fn--;
			double *v = &s.val[s.slot[p[i].win]];
			*v = fmax(*v, p[i].sweep);
		} else {
			r.k.fp++;
			r.k.tn--;
			s.fp += p[i].sweep;
		}
	}
	r.score = parts_sum(&s);
	emit(&r, ctx);
	free(s.val);
	free(s.slot);
	return 0;
}

/* nab/sweeper.py scoreDataSet's choice of row for a threshold. */
struct match_ctx {
	double t;
	int done, have_prev;
	struct nab_row prev, match;
};

static void match_row(const struct nab_row *r, void *ctx)
{
	struct match_ctx *m = ctx;

	if (m->done)
		return;
	if (r->threshold == m->t) {
		m->match = *r;
		m->done = 1;
	} else if (r->threshold < m->t) {
		m->match = m->prev;
		m->done = m->have_prev;
	}
	m->prev = *r;
	m->have_prev = 1;
}

double pf_nab_score_file(const struct pf_nab_file *f, const double *a, double t,
			 const struct pf_nab_costs *c, struct pf_nab_counts *counts,
			 int *err_out)
{
	struct nab_point *p = malloc((f->n + 1) * sizeof(*p));
	struct match_ctx m = { .t = t };
	size_t np = 0;
	int rc = -ENOMEM;

	if (p) {
		file_points(f, a, c, 0, p, &np);
		qsort(p, np, sizeof(*p), cmp_point);
		rc = sweep(p, np, f->nwin, c, match_row, &m);
		free(p);
	}
	if (err_out)
		*err_out = rc;
	if (rc)
		return NAN;
	/* NAB finds no row when every score is above t (it would crash); the
	 * natural answer is the last row, every scorable row detected. */
	if (!m.done)
		m.match = m.prev;
	if (counts)
		*counts = m.match.k;
	return m.match.score;
}

struct best_ctx {
	int have;
	double threshold, score;
};

static void best_row(const struct nab_row *r, void *ctx)
{
	struct best_ctx *b = ctx;

	if (!b->have || r->score > b->score) {
		b->have = 1;
		b->threshold = r->threshold;
		b->score = r->score;
	}
}

int pf_nab_optimize(const struct pf_nab_corpus *c, const double *const *a,
		    const struct pf_nab_costs *costs, double *threshold, double *raw)
{
	struct best_ctx b = { 0 };
	struct nab_point *p;
	size_t total = 0, np = 0, wbase = 0;
	int rc;

	if (!c || !a || !costs || c->nfiles == 0)
		return -EINVAL;
	for (size_t k = 0; k < c->nfiles; k++)
		total += c->files[k].n;
	p = malloc((total + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t k = 0; k < c->nfiles; k++) {
		file_points(&c->files[k], a[k], costs, (int32_t)wbase, p, &np);
		wbase += c->files[k].nwin;
	}
	qsort(p, np, sizeof(*p), cmp_point);
	rc = sweep(p, np, wbase, costs, best_row, &b);
	free(p);
	if (rc)
		return rc;
	*threshold = b.threshold;
	*raw = b.score;
	return 0;
}

double pf_nab_null_score(const struct pf_nab_file *f, const struct pf_nab_costs *c)
{
	size_t prob = probation_rows(f->n);
	double s = 0.0;

	for (size_t k = 0; k < f->nwin; k++)
		if (f->win_hi[k] >= prob)
			s -= c->fn;
	return s;
}

double pf_nab_normalize(double raw, double null_raw, double perfect)
{
	return 100.0 * (raw - null_raw) / (perfect - null_raw);
}
