/*
 * sfctl.c - the StreamFlow client: talks to a running daemon over its
 * management socket (mgmt/mg_ctl.h; protocol in docs/MGMT-PROTOCOL.md):
 * queries printed as tables, CSV or JSON, counters, configuration, flush,
 * tier status, running queries, kill, shutdown, bulk line-protocol import,
 * and an interactive shell.
 *
 *   sfctl [-s SOCKET] [-d DB] [--format table|csv|json] [--epoch ns|ms|s|rfc3339]
 *         COMMAND [ARGS]
 *   SOCKET: -s, else $SF_SOCKET, else ./var/run/streamflow.sock
 *
 * Exit codes (scripts rely on them; --help and the protocol doc say the
 * same): 0 ok; 1 usage error; 2 cannot connect (no daemon on the socket,
 * connection lost, or the daemon is at its connection limit); 3 the daemon
 * reported an error (a query or statement error, a command that failed);
 * 4 partial import or write (some lines or values refused, the rest stored).
 *
 * Usage profile: one command per process, or one shell session; `import`
 * streams files of millions of lines at the daemon's write speed, so its
 * line loop does no allocation per line. Single-threaded. Links only
 * common/, tl_zread.c (zlib, zstd), jansson and readline: never the
 * daemon's libraries.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_config.h"
#include "cm_sock.h"
#include "tl_zread.h"

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_CONNECT = 2,
	EXIT_SERVER = 3,
	EXIT_PARTIAL = 4,
};

#define DEFAULT_SOCKET "./var/run/streamflow.sock"
#define RESPONSE_MAX (1u << 30)         /* longest response line we hold */
#define BATCH_BYTES_MAX (8u << 20)      /* bytes of line protocol per write batch */
#define IMPORT_ERRORS_SHOWN 10
#define HISTORY_LINES 1000

enum fmt {
	FMT_TABLE,
	FMT_CSV,
	FMT_JSON,
};

static const char *const fmt_names[] = {"table", "csv", "json"};

/* What a command needs: the options, and the connection (opened on first use). */
struct ctx {
	const char *sock;
	char *db;                   /* owned; NULL: the daemon's default database */
	enum fmt fmt;
	char epoch[16];             /* on the wire: ns|u|ms|s|m|h|rfc3339 */
	const char *precision;      /* import: NULL or n|ns|u|us|ms|s|m|h */
	uint64_t batch;             /* import: lines per write request */
	int pipeline;               /* import: requests in flight (1 or 2) */
	bool quiet;
	int fd;                     /* -1: not connected */
	struct cm_sock_rbuf in;     /* bytes received */
	size_t in_used;             /* in.p[0..in_used) is the last response line */
	const char *raw;            /* the last response line (in in), for --format json */
	size_t raw_len;
	char **meas;                /* measurement names for completion (owned) */
	size_t nmeas;
	bool meas_fetched;
};

/* ============================================================= connection */

static void disconnect(struct ctx *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	cm_sock_rbuf_consume(&x->in, x->in.len);
	x->in_used = 0;
}

/* Connect if not connected. 0 or EXIT_CONNECT (said on stderr). */
static int ensure_connected(struct ctx *x)
{
	if (x->fd >= 0)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(x->sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sfctl: connect '%s': socket path too long\n", x->sock);
		return EXIT_CONNECT;
	}
	memcpy(sa.sun_path, x->sock, strlen(x->sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "sfctl: connect '%s': %s (is streamflowd running? -s or $SF_SOCKET "
				"name the socket)\n", x->sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_CONNECT;
	}
	x->fd = fd;
	return 0;
}

/*
 * Receive one response line into x->raw (valid until the next read). 0,
 * -ECONNRESET when the daemon closed the connection, -EMSGSIZE for a line
 * over RESPONSE_MAX, or -errno.
 */
static int read_response(struct ctx *x)
{
	cm_sock_rbuf_consume(&x->in, x->in_used);
	x->in_used = 0;
	size_t n;
	int rc = cm_sock_read_line(&x->in, x->fd, RESPONSE_MAX, &n);
	if (rc)
		return rc == 1 ? -ECONNRESET : rc;
	x->raw = x->in.p;
	x->raw_len = n;
	x->in_used = n + 1;
	return 0;
}

/* Decode a response line; numbers above int64 fall back to reals (said once). */
static json_t *decode(const char *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb(p, n, 0, &je);
	if (!j && strstr(je.text, "too big")) {
		static bool warned;
		if (!warned)
			fprintf(stderr, "sfctl: warning: a number beyond 64 bits: integers shown as "
					"reals\n");
		warned = true;
		j = json_loadb(p, n, JSON_DECODE_INT_AS_REAL, &je);
	}
	if (!j)
		fprintf(stderr, "sfctl: bad response from the daemon: %s\n", je.text);
	return j;
}

/* Send n bytes of a request: a line (with its '\n') or a raw body. 0 or EXIT_CONNECT (said). */
static int send_bytes(struct ctx *x, const char *p, size_t n)
{
	int rc = ensure_connected(x);
	if (rc)
		return rc;
	int e = cm_sock_send_all(x->fd, p, n);
	if (e == 0)
		return 0;
	fprintf(stderr, "sfctl: send to '%s': %s\n", x->sock, strerror(-e));
	disconnect(x);
	return EXIT_CONNECT;
}

/* The response to the request sent last; NULL with *rc set (said on stderr). */
static json_t *receive(struct ctx *x, int *rc)
{
	int e = read_response(x);
	if (e) {
		fprintf(stderr, "sfctl: connection to '%s': %s\n", x->sock,
			e == -ECONNRESET ? "closed by the daemon"
			: e == -EMSGSIZE ? "a response line over 1 GiB" : strerror(-e));
		disconnect(x);
		*rc = EXIT_CONNECT;
		return NULL;
	}
	json_t *j = decode(x->raw, x->raw_len);
	if (!j)
		*rc = EXIT_SERVER;
	return j;
}

/* Send req (taken) and return its response; NULL with *rc set. */
static json_t *call(struct ctx *x, json_t *req, int *rc)
{
	char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!s) {   /* json_pack refuses strings that are not UTF-8 */
		fprintf(stderr, "sfctl: cannot encode the request (is its text UTF-8?)\n");
		*rc = EXIT_USAGE;
		return NULL;
	}
	size_t n = strlen(s);
	s[n] = '\n';        /* json_dumps' NUL becomes the line end */
	*rc = send_bytes(x, s, n + 1);
	free(s);
	return *rc ? NULL : receive(x, rc);
}

static bool resp_ok(const json_t *r)
{
	return json_is_true(json_object_get(r, "ok"));
}

static const char *resp_code(const json_t *r)
{
	const char *c = json_string_value(json_object_get(r, "code"));
	return c ? c : "";
}

/* Report a failed response as "sfctl: WHAT: ERROR"; the exit code for it. */
static int server_error(const char *what, const json_t *r)
{
	const char *e = json_string_value(json_object_get(r, "error"));
	fprintf(stderr, "sfctl: %s: %s\n", what, e ? e : "failed");
	if (strcmp(resp_code(r), "busy") == 0)
		return EXIT_CONNECT;
	return strcmp(resp_code(r), "partial") == 0 ? EXIT_PARTIAL : EXIT_SERVER;
}

/* ================================================================ output */

/* A cell as text: strings as they are, numbers in their shortest exact form. */
static const char *cell_str(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, cap, "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	} else if (json_is_boolean(v)) {
		return json_is_true(v) ? "true" : "false";
	} else if (json_is_null(v) || !v) {
		return "";
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, cap, "%s", s ? s : "?");
		free(s);
	}
	return buf;
}

static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/*
 * A grid of strings printed as aligned columns with dashes under the header
 * (table), or as CSV. cells[r * ncols + c]; row 0 is the header.
 */
struct grid {
	const char **cells;
	size_t ncols, nrows;    /* nrows counts the header */
};

/* Columns on a terminal: UTF-8 code points, not bytes. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void row_print(FILE *out, const char **cells, size_t n, const size_t *w, bool dashes)
{
	for (size_t c = 0; c < n; c++) {
		size_t len = text_width(cells[c]);
		for (size_t k = 0; dashes && k < len; k++)
			fputc('-', out);
		if (!dashes)
			fputs(cells[c], out);
		if (c + 1 < n)
			fprintf(out, "%*s", (int)(w[c] - len + 1), "");
	}
	fputc('\n', out);
}

static void grid_print(const struct grid *g, enum fmt fmt, FILE *out)
{
	if (fmt == FMT_CSV) {
		for (size_t r = 0; r < g->nrows; r++)
			for (size_t c = 0; c < g->ncols; c++) {
				csv_field(out, g->cells[r * g->ncols + c]);
				fputc(c + 1 < g->ncols ? ',' : '\n', out);
			}
		return;
	}
	size_t *w = calloc(g->ncols ? g->ncols : 1, sizeof(*w));
	if (!w)
		return;
	for (size_t i = 0; i < g->ncols * g->nrows; i++)
		w[i % g->ncols] = CM_MAX(w[i % g->ncols], text_width(g->cells[i]));
	for (size_t r = 0; r < g->nrows; r++) {
		row_print(out, g->cells + r * g->ncols, g->ncols, w, false);
		if (r == 0)
			row_print(out, g->cells, g->ncols, w, true);
	}
	free(w);
}

/* The string cells of a grid, freed together. */
struct strs {
	char **v;
	size_t n, cap;
};

static const char *strs_add(struct strs *s, const char *text)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return "";
		s->v = v;
		s->cap = cap;
	}
	char *d = strdup(text);
	if (!d)
		return "";
	s->v[s->n++] = d;
	return d;
}

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strs){0};
}

/* "k=v" pairs of a tags object, joined by sep, into a new string. */
static char *tags_text(const json_t *tags, const char *sep)
{
	size_t cap = 1;
	const char *k;
	json_t *v;
	char buf[64];
	json_object_foreach((json_t *)tags, k, v)
		cap += strlen(k) + strlen(cell_str(v, buf, sizeof(buf))) + strlen(sep) + 1;
	char *s = calloc(1, cap);
	if (!s)
		return NULL;
	json_object_foreach((json_t *)tags, k, v) {
		if (*s)
			strcat(s, sep);
		strcat(s, k);
		strcat(s, "=");
		strcat(s, cell_str(v, buf, sizeof(buf)));
	}
	return s;
}

/* Whether g's CSV header is *seen (the last one printed, owned); else it becomes it. */
static bool csv_header_seen(const struct grid *g, char **seen)
{
	char *h = NULL;
	size_t hl = 0;
	FILE *hf = open_memstream(&h, &hl);
	if (!hf)
		return false;
	struct grid hg = {g->cells, g->ncols, 1};
	grid_print(&hg, FMT_CSV, hf);
	fclose(hf);
	if (*seen && strcmp(h, *seen) == 0) {
		free(h);
		return true;
	}
	free(*seen);
	*seen = h;
	return false;
}

/* Print the grid of one series; header_seen: the last CSV header (owned), to print a new one
 * only when the columns change. */
static void print_series(const struct ctx *x, const json_t *se, bool first, char **header_seen)
{
	bool csv = x->fmt == FMT_CSV;
	const char *name = json_string_value(json_object_get(se, "name"));
	const json_t *cols = json_object_get(se, "columns"), *vals = json_object_get(se, "values");
	size_t extra = csv ? 2 : 0, ncols = json_array_size(cols) + extra;
	size_t nrows = json_array_size(vals) + 1;
	char *tags = tags_text(json_object_get(se, "tags"), csv ? "," : ", ");
	const char **cells = calloc(ncols * nrows, sizeof(*cells));
	struct strs st = {0};
	char buf[64];
	if (!cells || !tags || !ncols)
		goto out;
	if (csv) {
		cells[0] = "name";
		cells[1] = "tags";
	}
	for (size_t c = extra; c < ncols; c++)
		cells[c] = strs_add(&st, cell_str(json_array_get(cols, c - extra), buf, sizeof(buf)));
	for (size_t r = 1; r < nrows; r++) {
		const json_t *row = json_array_get(vals, r - 1);
		if (csv) {
			cells[r * ncols] = name ? name : "";
			cells[r * ncols + 1] = tags;
		}
		for (size_t c = extra; c < ncols; c++)
			cells[r * ncols + c] =
				strs_add(&st, cell_str(json_array_get(row, c - extra), buf, sizeof(buf)));
	}
	struct grid g = {cells, ncols, nrows};
	if (!csv) {
		printf("%sname: %s\n", first ? "" : "\n", name ? name : "");
		if (*tags)
			printf("tags: %s\n", tags);
		grid_print(&g, x->fmt, stdout);
		goto out;
	}
	if (csv_header_seen(&g, header_seen)) {
		g.cells += ncols;       /* the same columns: no header again */
		g.nrows--;
	}
	grid_print(&g, FMT_CSV, stdout);
out:
	strs_free(&st);
	free(cells);
	free(tags);
}

/* A statement's informational messages, on stderr. */
static void print_messages(const json_t *stmt)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(stmt, "messages"), i, m) {
		const char *level = json_string_value(json_object_get(m, "level"));
		const char *text = json_is_string(m) ? json_string_value(m)
						    : json_string_value(json_object_get(m, "text"));
		fprintf(stderr, "sfctl: %s: %s\n", level ? level : "info", text ? text : "");
	}
}

/* Every statement's series; each failed statement said on stderr. 0 or EXIT_SERVER. */
static int print_result(const struct ctx *x, const json_t *result)
{
	const json_t *stmts = json_object_get(result, "results");
	char *header_seen = NULL;
	bool first = true;
	int rc = 0;
	size_t i;
	json_t *stmt;
	json_array_foreach(stmts, i, stmt) {
		const char *err = json_string_value(json_object_get(stmt, "error"));
		if (err) {
			if (json_array_size(stmts) > 1)
				fprintf(stderr, "sfctl: query: statement %zu: %s\n", i, err);
			else
				fprintf(stderr, "sfctl: query: %s\n", err);
			rc = EXIT_SERVER;
		}
		print_messages(stmt);
		size_t k;
		json_t *se;
		json_array_foreach(json_object_get(stmt, "series"), k, se) {
			if (x->fmt != FMT_JSON)
				print_series(x, se, first, &header_seen);
			first = false;
		}
	}
	free(header_seen);
	return rc;
}

/* --format json: the result exactly as the daemon encoded it (its numbers untouched). */
static void print_raw_result(const struct ctx *x, const json_t *resp)
{
	static const char key[] = ",\"result\":";
	const char *p = memmem(x->raw, x->raw_len, key, sizeof(key) - 1);
	if (p && x->raw_len && x->raw[x->raw_len - 1] == '}') {
		p += sizeof(key) - 1;
		fwrite(p, 1, (size_t)(x->raw + x->raw_len - 1 - p), stdout);
		fputc('\n', stdout);
		return;
	}
	char *s = json_dumps(json_object_get(resp, "result"), JSON_COMPACT | JSON_ENCODE_ANY);
	puts(s ? s : "null");
	free(s);
}

/* {"cmd":"query","q":text,"epoch":..[,"db":..]}; NULL on failure (call() says so). */
static json_t *query_request(const struct ctx *x, const char *text)
{
	json_t *req = json_pack("{s:s, s:s, s:s}", "cmd", "query", "q", text, "epoch", x->epoch);
	if (req && x->db && json_object_set_new(req, "db", json_string(x->db))) {
		json_decref(req);
		req = NULL;
	}
	return req;
}

static int run_query(struct ctx *x, const char *text)
{
	int rc;
	json_t *r = call(x, query_request(x, text), &rc);
	if (!r)
		return rc;
	const json_t *result = json_object_get(r, "result");
	if (!result) {
		rc = resp_ok(r) ? 0 : server_error("query", r);
	} else {
		if (x->fmt == FMT_JSON)
			print_raw_result(x, r);
		rc = print_result(x, result);   /* with json: only the errors, on stderr */
	}
	json_decref(r);
	fflush(stdout);
	return rc;
}

/* The response without "ok", for --format json. */
static void print_json_body(json_t *r)
{
	json_object_del(r, "ok");
	char *s = json_dumps(r, JSON_COMPACT);
	puts(s ? s : "{}");
	free(s);
}

/* A duration for people: 850ns, 12.5ms, 3.2s, 4m05s. */
static const char *dur_str(int64_t ns, char *buf, size_t cap)
{
	if (ns < CM_NS_PER_US)
		snprintf(buf, cap, "%" PRId64 "ns", ns);
	else if (ns < CM_NS_PER_MS)
		snprintf(buf, cap, "%.1fµs", (double)ns / 1e3);
	else if (ns < CM_NS_PER_SEC)
		snprintf(buf, cap, "%.1fms", (double)ns / 1e6);
	else if (ns < 60 * CM_NS_PER_SEC)
		snprintf(buf, cap, "%.2fs", (double)ns / 1e9);
	else
		snprintf(buf, cap, "%" PRId64 "m%02" PRId64 "s", (int64_t)(ns / (60 * CM_NS_PER_SEC)),
			 (int64_t)(ns / CM_NS_PER_SEC % 60));
	return buf;
}

/* ============================================================== commands */

/*
 * How the commands that send {"cmd":NAME} print an ok response (table and
 * csv; with --format json most print the response as it is, see
 * struct command).
 */
static void print_stats(const json_t *r, enum fmt fmt)
{
	const json_t *stats = json_object_get(r, "stats"), *histos = json_object_get(r, "histograms");
	size_t i, n = 1 + json_array_size(stats);
	json_t *s, *h;
	json_array_foreach(histos, i, h)
		n += json_array_size(json_object_get(h, "buckets")) + 2;
	const char **cells = calloc(2 * n, sizeof(*cells));
	struct strs st = {0};
	char buf[64], name[256];
	if (!cells)
		return;
	size_t k = 0;
	cells[k++] = "name";
	cells[k++] = "value";
	json_array_foreach(stats, i, s) {
		cells[k++] = strs_add(&st, cell_str(json_object_get(s, "name"), buf, sizeof(buf)));
		cells[k++] = strs_add(&st, cell_str(json_object_get(s, "value"), buf, sizeof(buf)));
	}
	json_array_foreach(histos, i, h) {
		const char *hn = json_string_value(json_object_get(h, "name"));
		size_t j;
		json_t *b;
		json_array_foreach(json_object_get(h, "buckets"), j, b) {
			snprintf(name, sizeof(name), "%s{le=\"%s\"}", hn ? hn : "?",
				 cell_str(json_object_get(b, "le"), buf, sizeof(buf)));
			cells[k++] = strs_add(&st, name);
			cells[k++] = strs_add(&st, cell_str(json_object_get(b, "count"), buf, sizeof(buf)));
		}
		snprintf(name, sizeof(name), "%s.count", hn ? hn : "?");
		cells[k++] = strs_add(&st, name);
		cells[k++] = strs_add(&st, cell_str(json_object_get(h, "count"), buf, sizeof(buf)));
		snprintf(name, sizeof(name), "%s.sum", hn ? hn : "?");
		cells[k++] = strs_add(&st, name);
		cells[k++] = strs_add(&st, cell_str(json_object_get(h, "sum"), buf, sizeof(buf)));
	}
	struct grid g = {cells, 2, n};
	grid_print(&g, fmt, stdout);
	strs_free(&st);
	free(cells);
}

/* config, tiers: lines of text. */
static void print_lines(const json_t *r, enum fmt fmt)
{
	(void)fmt;
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(r, "lines"), i, l)
		puts(json_string_value(l) ? json_string_value(l) : "");
}

static void print_queries(const json_t *r, enum fmt fmt)
{
	static const char *const head[] = {"qid", "duration", "database", "points", "status",
					   "origin", "query"};
	const json_t *list = json_object_get(r, "queries");
	const size_t nc = CM_ARRAY_SIZE(head), n = json_array_size(list) + 1;
	const char **cells = calloc(nc * n, sizeof(*cells));
	struct strs st = {0};
	char buf[64];
	if (!cells)
		return;
	memcpy(cells, head, sizeof(head));
	size_t i;
	json_t *q;
	json_array_foreach(list, i, q) {
		const char **row = cells + (i + 1) * nc;
		int64_t d = json_integer_value(json_object_get(q, "duration_ns"));
		row[0] = strs_add(&st, cell_str(json_object_get(q, "id"), buf, sizeof(buf)));
		row[1] = strs_add(&st, dur_str(d, buf, sizeof(buf)));
		row[2] = strs_add(&st, cell_str(json_object_get(q, "db"), buf, sizeof(buf)));
		row[3] = strs_add(&st, cell_str(json_object_get(q, "points_scanned"), buf, sizeof(buf)));
		row[4] = json_is_true(json_object_get(q, "killed")) ? "killed" : "running";
		row[5] = strs_add(&st, cell_str(json_object_get(q, "origin"), buf, sizeof(buf)));
		row[6] = strs_add(&st, cell_str(json_object_get(q, "query"), buf, sizeof(buf)));
	}
	struct grid g = {cells, nc, n};
	grid_print(&g, fmt, stdout);
	strs_free(&st);
	free(cells);
}

static void print_ping(const json_t *r, enum fmt fmt)
{
	(void)fmt;
	const char *v = json_string_value(json_object_get(r, "version"));
	printf("ok: streamflowd %s%s\n", v ? v : "?",
	       json_is_false(json_object_get(r, "healthy")) ? " (not healthy)" : "");
}

static void print_flush(const json_t *r, enum fmt fmt)
{
	(void)fmt;
	char buf[32];
	printf("flushed in %s\n",
	       dur_str(json_integer_value(json_object_get(r, "elapsed_ns")), buf, sizeof(buf)));
}

static void print_shutdown(const json_t *r, enum fmt fmt)
{
	(void)r;
	(void)fmt;
	printf("shutdown requested\n");
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 20;
}

static int cmd_kill(struct ctx *x, int argc, char **argv)
{
	(void)argc;
	if (!all_digits(argv[0])) {
		fprintf(stderr, "sfctl: kill: '%s' is not a query id\n", argv[0]);
		return EXIT_USAGE;
	}
	/* ids beyond int64 travel as strings */
	json_t *req = json_pack("{s:s, s:s}", "cmd", "kill", "id", argv[0]);
	int rc;
	json_t *r = call(x, req, &rc);
	if (!r)
		return rc;
	rc = resp_ok(r) ? 0 : server_error("kill", r);
	if (rc == 0)
		printf("query %s killed\n", argv[0]);
	json_decref(r);
	return rc;
}

static int cmd_query(struct ctx *x, int argc, char **argv)
{
	(void)argc;
	return run_query(x, argv[0]);
}

/* A listing: stmt, FROM measurement m (a double-quoted identifier) unless m is NULL. */
static int run_listing(struct ctx *x, const char *stmt, const char *m)
{
	if (!m)
		return run_query(x, stmt);
	size_t n = strlen(stmt) + 2 * strlen(m) + 16;
	char *q = malloc(n), *p;
	if (!q)
		return EXIT_SERVER;
	p = q + sprintf(q, "%s FROM \"", stmt);
	for (; *m; m++) {
		if (*m == '"' || *m == '\\')
			*p++ = '\\';
		*p++ = *m;
	}
	strcpy(p, "\"");
	int rc = run_query(x, q);
	free(q);
	return rc;
}

/* ================================================================ import */

/*
 * Valid UTF-8 without NUL. The raw body of a write could carry any byte,
 * but sfctl refuses what it refused when batches travelled as JSON strings,
 * so an import stores the same lines it always did.
 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c - 1u < 0x7Fu) {   /* 1..0x7F */
			i++;
			continue;
		}
		size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		if (!len || i + len > n)
			return false;
		uint32_t cp = c & (0x7Fu >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

struct import {
	struct ctx *x;
	struct tl_zread *src;
	char *line;             /* the request line: {"cmd":"write","db":..,"precision":.. */
	size_t head_len;        /* (every batch's), then each batch's ,"bytes":N}\n */
	char *body;             /* the batch being built: lines as they are, each ended by '\n' */
	size_t body_len, body_cap;
	uint64_t batch_lines;
	uint64_t lines_read;    /* every input line, for the progress */
	uint64_t lines_ok, values, errors;
	uint32_t errors_shown;
	int inflight;           /* requests sent and not yet answered */
	int rc;                 /* 0, or the exit code of a failure that stops the import */
	bool tty;
	int64_t t0_ns, shown_ns;
};

static void import_error(struct import *im, const char *fmt, ...) CM_PRINTF(2, 3);
static void import_error(struct import *im, const char *fmt, ...)
{
	if (im->errors_shown++ >= IMPORT_ERRORS_SHOWN)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%ssfctl: import: ", im->tty ? "\r\033[K" : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (im->errors_shown == IMPORT_ERRORS_SHOWN)
		fprintf(stderr, "sfctl: import: (further errors are only counted)\n");
}

/* Room for more bytes in the batch. 0 or -ENOMEM. */
static int body_reserve(struct import *im, size_t more)
{
	if (im->body_len + more <= im->body_cap)
		return 0;
	size_t cap = CM_MAX(im->body_cap * 2, im->body_len + more);
	char *p = realloc(im->body, cap);
	if (!p)
		return -ENOMEM;
	im->body = p;
	im->body_cap = cap;
	return 0;
}

#define LINE_TAIL_MAX 48                 /* ,"bytes":N}\n */

/*
 * The request line's start that every batch shares: {"cmd":"write","db":..,
 * "precision":.. 0, or EXIT_USAGE or EXIT_SERVER (said on stderr).
 */
static int req_head(struct import *im)
{
	json_t *o = json_pack("{s:s}", "cmd", "write");
	if (o && ((im->x->db && json_object_set_new(o, "db", json_string(im->x->db))) ||
		  (im->x->precision &&
		   json_object_set_new(o, "precision", json_string(im->x->precision))))) {
		json_decref(o);     /* json_string refuses a name that is not UTF-8 */
		fprintf(stderr, "sfctl: import: cannot encode the request (is the database "
				"name UTF-8?)\n");
		return EXIT_USAGE;
	}
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	im->head_len = s ? strlen(s) - 1 : 0;  /* without its '}' */
	im->line = s ? malloc(im->head_len + LINE_TAIL_MAX) : NULL;
	if (im->line)
		memcpy(im->line, s, im->head_len);
	free(s);
	if (im->line)
		return 0;
	fprintf(stderr, "sfctl: import: out of memory\n");
	return EXIT_SERVER;
}

/* Append one line (no '\n') to the batch, as it is. */
static int batch_add(struct import *im, const char *line, size_t n)
{
	if (body_reserve(im, n + 1))
		return -ENOMEM;
	memcpy(im->body + im->body_len, line, n);
	im->body[im->body_len + n] = '\n';
	im->body_len += n + 1;
	im->batch_lines++;
	return 0;
}

/* Add one write response's counts; a failure other than "partial" stops the import. */
static void ack_one(struct import *im)
{
	int rc = 0;
	json_t *r = receive(im->x, &rc);
	im->inflight--;
	if (!r) {
		im->rc = rc;
		return;
	}
	const json_t *rep = json_object_get(r, "report");
	if (rep) {
		uint64_t lines = (uint64_t)json_integer_value(json_object_get(rep, "lines"));
		uint64_t bad = (uint64_t)json_integer_value(json_object_get(rep, "lines_bad"));
		im->lines_ok += lines - CM_MIN(bad, lines);
		im->values += (uint64_t)json_integer_value(json_object_get(rep, "points_stored"));
		im->errors += bad + (uint64_t)json_integer_value(json_object_get(rep, "points_refused"));
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(rep, "errors"), i, e)
			import_error(im, "%s", json_string_value(e) ? json_string_value(e) : "?");
	}
	if (!resp_ok(r) && strcmp(resp_code(r), "partial") != 0) {
		if (im->tty)
			fputs("\r\033[K", stderr);
		im->rc = server_error("import", r);
	}
	json_decref(r);
}

/*
 * Send the batch built so far as a raw write (the request line, then the
 * body's bytes: docs/MGMT-PROTOCOL.md); wait for an answer when --pipeline
 * requests are out.
 */
static void send_batch(struct import *im)
{
	if (im->batch_lines == 0 || im->rc)
		return;
	int n = snprintf(im->line + im->head_len, LINE_TAIL_MAX, ",\"bytes\":%zu}\n",
			 im->body_len);
	assert(n > 0 && n < LINE_TAIL_MAX);
	im->rc = send_bytes(im->x, im->line, im->head_len + (size_t)n);
	if (im->rc == 0)
		im->rc = send_bytes(im->x, im->body, im->body_len);
	im->body_len = 0;
	im->batch_lines = 0;
	if (im->rc)
		return;
	im->inflight++;
	while (im->rc == 0 && im->inflight >= im->x->pipeline)
		ack_one(im);
}

/* 12345678 -> "12.3M" */
static const char *si(double v, char *buf, size_t cap)
{
	static const char units[] = " kMGT";
	int u = 0;
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f%c" : "%.0f", v, units[u]);
	return buf;
}

/* The progress: a bar on a terminal (10 times a second), else a line every 10 s. */
static void progress(struct import *im, bool last)
{
	int64_t now = cm_mono_ns(), every = im->tty ? 100 * CM_NS_PER_MS : 10 * CM_NS_PER_SEC;
	if (im->x->quiet || (!last && now - im->shown_ns < every) || (last && !im->tty))
		return;
	im->shown_ns = now;
	if (last) {
		fputs("\r\033[K", stderr);
		return;
	}
	double secs = (double)(now - im->t0_ns) / 1e9, rate = (double)im->lines_read / secs;
	double frac = tl_zread_fraction(im->src);
	char a[16], b[16];
	if (!im->tty) {
		fprintf(stderr, "sfctl: import: %s lines, %s lines/s", si((double)im->lines_read, a, 16),
			si(rate, b, 16));
		if (frac >= 0)
			fprintf(stderr, ", %.0f%%", frac * 100);
		fputc('\n', stderr);
		return;
	}
	char bar[31] = "";
	if (frac >= 0) {
		for (int i = 0; i < 30; i++)
			bar[i] = i < (int)(frac * 30) ? '#' : '.';
		bar[30] = '\0';
		double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
		fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s lines  %s lines/s  ETA %d:%02d", bar,
			frac * 100, si((double)im->lines_read, a, 16), si(rate, b, 16),
			(int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, "\r\033[K%s lines  %s lines/s", si((double)im->lines_read, a, 16),
			si(rate, b, 16));
	}
}

/* One input line (no '\n'). */
static void import_line(struct import *im, const char *line, size_t n)
{
	im->lines_read++;
	if (n && line[n - 1] == '\r')
		n--;
	size_t lead = 0;
	while (lead < n && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	if (lead == n)
		return;         /* blank: the daemon would skip it too */
	if (!utf8_valid((const unsigned char *)line, n)) {
		im->errors++;
		import_error(im, "line %" PRIu64 ": not UTF-8 text (or holds a NUL byte)",
			     im->lines_read);
		return;
	}
	if (batch_add(im, line, n)) {
		fprintf(stderr, "sfctl: import: out of memory\n");
		im->rc = EXIT_SERVER;
		return;
	}
	if (im->batch_lines >= im->x->batch || im->body_len >= BATCH_BYTES_MAX)
		send_batch(im);
}

/*
 * Read the source to its end, line by line; a line that does not fit the
 * buffer (grown to 2 * BATCH_BYTES_MAX) is refused. 0, or -1 when the input
 * ended in a read error (said on stderr).
 */
static int import_loop(struct import *im)
{
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap), err[256];
	bool skipping = false;
	ssize_t n = 0;
	if (!buf) {
		fprintf(stderr, "sfctl: import: out of memory\n");
		im->rc = EXIT_SERVER;
		return 0;
	}
	while (im->rc == 0 &&
	       (n = tl_zread_read(im->src, buf + have, cap - have, err, sizeof(err))) > 0) {
		have += (size_t)n;
		size_t start = 0;
		for (char *nl; im->rc == 0 && (nl = memchr(buf + start, '\n', have - start));) {
			if (!skipping)
				import_line(im, buf + start, (size_t)(nl - buf) - start);
			skipping = false;
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == cap && cap <= BATCH_BYTES_MAX) {
			char *p = realloc(buf, cap * 2);
			if (!p) {
				fprintf(stderr, "sfctl: import: out of memory\n");
				im->rc = EXIT_SERVER;
				break;
			}
			buf = p;
			cap *= 2;
		} else if (have == cap) {
			im->lines_read++;
			im->errors++;
			import_error(im, "line %" PRIu64 ": longer than %zu bytes", im->lines_read,
				     cap);
			skipping = true;
			have = 0;
		}
		progress(im, false);
	}
	if (n < 0)
		fprintf(stderr, "sfctl: import: %s\n", err);
	if (n == 0 && have && !skipping && im->rc == 0)
		import_line(im, buf, have);
	free(buf);
	return n < 0 ? -1 : 0;
}

static int cmd_import(struct ctx *x, int argc, char **argv)
{
	(void)argc;
	struct import im = {.x = x, .tty = isatty(STDERR_FILENO) == 1};
	char err[256];
	if (tl_zread_open(argv[0], &im.src, err, sizeof(err))) {
		fprintf(stderr, "sfctl: import: %s\n", err);
		return EXIT_USAGE;
	}
	int rc = ensure_connected(x);
	if (rc == 0)
		rc = req_head(&im);
	if (rc) {
		tl_zread_close(im.src);
		return rc;
	}
	im.t0_ns = im.shown_ns = cm_mono_ns();
	bool read_failed = import_loop(&im) != 0;
	send_batch(&im);
	while (im.inflight > 0 && (im.rc == 0 || im.rc == EXIT_SERVER))
		ack_one(&im);   /* the answers still owed (after a failure too: their counts) */
	progress(&im, true);
	double secs = (double)(cm_mono_ns() - im.t0_ns) / 1e9;
	printf("imported %" PRIu64 " lines (%" PRIu64 " values) in %.2f s: %.0f lines/s, %" PRIu64
	       " errors\n", im.lines_ok, im.values, secs, secs > 0 ? (double)im.lines_ok / secs : 0,
	       im.errors);
	fflush(stdout);
	tl_zread_close(im.src);
	free(im.line);
	free(im.body);
	if (im.rc)
		return im.rc;
	/* an input that ends in error (a truncated .gz) was imported in part */
	return im.errors || read_failed ? EXIT_PARTIAL : EXIT_OK;
}

/* ================================================================ commands */

static int cmd_version(struct ctx *x, int argc, char **argv)
{
	(void)x;
	(void)argc;
	(void)argv;
	printf("sfctl %s\n", SF_VERSION);
	return 0;
}

/*
 * A command is one of three kinds: run (its own function), show (a listing:
 * that SHOW statement, FROM the measurement given if any), or print (it
 * sends {"cmd":NAME}, plus "member":ARG when given an argument, and prints
 * the ok response with print, or with --format json and json_body as it is).
 */
struct command {
	const char *name;
	int min_args, max_args;     /* max -1: the arguments are joined into one */
	const char *args;
	const char *help;
	int (*run)(struct ctx *x, int argc, char **argv);
	const char *show;
	void (*print)(const json_t *r, enum fmt fmt);
	const char *member;
	bool json_body;
};

static const struct command commands[] = {
	{"query", 1, -1, "'TSQL'", "run TSQL statements and print their results", .run = cmd_query},
	{"stats", 0, 1, "[PREFIX]", "counters and histograms (names starting with PREFIX)",
	 .print = print_stats, .member = "prefix", .json_body = true},
	{"series", 0, 1, "[MEASUREMENT]", "SHOW SERIES [FROM MEASUREMENT]", .show = "SHOW SERIES"},
	{"measurements", 0, 0, "", "SHOW MEASUREMENTS", .show = "SHOW MEASUREMENTS"},
	{"tags", 1, 1, "MEASUREMENT", "SHOW TAG KEYS FROM MEASUREMENT", .show = "SHOW TAG KEYS"},
	{"fields", 1, 1, "MEASUREMENT", "SHOW FIELD KEYS FROM MEASUREMENT",
	 .show = "SHOW FIELD KEYS"},
	{"config", 0, 0, "", "the daemon's configuration, one key = value a line",
	 .print = print_lines, .json_body = true},
	{"flush", 0, 0, "", "checkpoint every shard now (returns when done)", .print = print_flush},
	{"tiers", 0, 0, "", "retention and tier status", .print = print_lines, .json_body = true},
	{"queries", 0, 0, "", "the running queries", .print = print_queries, .json_body = true},
	{"kill", 1, 1, "ID", "stop running query ID", .run = cmd_kill},
	{"import", 1, 1, "FILE", "import line protocol from FILE (.gz, .zst, or - for stdin)",
	 .run = cmd_import},
	{"ping", 0, 0, "", "check that the daemon answers", .print = print_ping, .json_body = true},
	{"shutdown", 0, 0, "", "stop the daemon", .print = print_shutdown},
	{"version", 0, 0, "", "print sfctl's version", .run = cmd_version},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* A print command: {"cmd":c->name[,c->member:arg]}, its response printed. */
static int run_print(struct ctx *x, const struct command *c, const char *arg)
{
	assert(c->print && (!arg || c->member));
	json_t *req = json_pack("{s:s}", "cmd", c->name);
	if (req && arg && json_object_set_new(req, c->member, json_string(arg))) {
		json_decref(req);
		req = NULL;
	}
	int rc;
	json_t *r = call(x, req, &rc);
	if (!r)
		return rc;
	if (!resp_ok(r))
		rc = server_error(c->name, r);
	else if (c->json_body && x->fmt == FMT_JSON)
		print_json_body(r);
	else
		c->print(r, x->fmt);
	json_decref(r);
	return rc;
}

/* Run c on its checked arguments, now at most one unless c->max_args is -1. */
static int dispatch(struct ctx *x, const struct command *c, int argc, char **argv)
{
	const char *arg = argc ? argv[0] : NULL;
	if (c->show)
		return run_listing(x, c->show, arg);
	if (c->print)
		return run_print(x, c, arg);
	return c->run(x, argc, argv);
}

/* Run a command with its arguments (argv[0] is the first argument). */
static int run_command(struct ctx *x, const struct command *c, int argc, char **argv)
{
	if (argc < c->min_args || (c->max_args >= 0 && argc > c->max_args)) {
		fprintf(stderr, "sfctl: %s: usage: %s %s\n", c->name, c->name, c->args);
		return EXIT_USAGE;
	}
	if (c->max_args >= 0 || argc <= 1)
		return dispatch(x, c, argc, argv);
	size_t n = 1;
	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *joined = calloc(1, n);
	if (!joined)
		return EXIT_SERVER;
	for (int i = 0; i < argc; i++) {
		strcat(joined, argv[i]);
		if (i + 1 < argc)
			strcat(joined, " ");
	}
	int rc = dispatch(x, c, 1, &joined);
	free(joined);
	return rc;
}

/* ================================================================= shell */

static const char *const tsql_words[] = {
	"SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET",
	"FILL", "TIME", "NOW", "AND", "OR", "NOT", "AS", "ASC", "DESC", "INTO", "ON", "WITH",
	"KEY", "TZ", "SHOW", "DATABASES", "MEASUREMENTS", "MEASUREMENT", "SERIES", "TAG", "KEYS",
	"VALUES", "FIELD", "RETENTION", "POLICIES", "QUERIES", "CARDINALITY", "CREATE", "DROP",
	"DATABASE", "KILL", "QUERY", "COUNT", "MEAN", "MEDIAN", "MODE", "SUM", "MIN", "MAX",
	"FIRST", "LAST", "PERCENTILE", "STDDEV", "SPREAD", "DISTINCT", "INTEGRAL", "DERIVATIVE",
	"NON_NEGATIVE_DERIVATIVE", "DIFFERENCE", "MOVING_AVERAGE", "TOP", "BOTTOM",
};

static const char *const shell_words[] = {"use", "format", "epoch", "help", "exit", "quit"};

static struct ctx *comp_ctx;            /* the shell's context, for the completer */
static const char *comp_cands[512];
static bool comp_keyword[512];          /* a TSQL keyword: typed in the user's case */
static size_t comp_ncands;
static bool comp_lower;                 /* the word typed starts lowercase */

/* Measurement names, fetched once with SHOW MEASUREMENTS (silently: no output). */
static void fetch_measurements(struct ctx *x)
{
	if (x->meas_fetched)
		return;
	x->meas_fetched = true;
	int rc;
	json_t *r = call(x, query_request(x, "SHOW MEASUREMENTS"), &rc);
	const json_t *se = json_array_get(json_object_get(json_array_get(json_object_get(
		json_object_get(r, "result"), "results"), 0), "series"), 0);
	size_t i, n = json_array_size(json_object_get(se, "values"));
	json_t *row;
	x->meas = calloc(n ? n : 1, sizeof(*x->meas));
	json_array_foreach(json_object_get(se, "values"), i, row) {
		const char *m = json_string_value(json_array_get(row, 0));
		if (x->meas && m && (x->meas[x->nmeas] = strdup(m)))
			x->nmeas++;
	}
	json_decref(r);
}

static void cands_add(const char *const *words, size_t n, bool keywords)
{
	for (size_t i = 0; i < n && comp_ncands < CM_ARRAY_SIZE(comp_cands); i++) {
		comp_keyword[comp_ncands] = keywords;
		comp_cands[comp_ncands++] = words[i];
	}
}

static char *comp_next(const char *text, int state)
{
	static size_t i;
	if (state == 0)
		i = 0;
	while (i < comp_ncands) {
		bool keyword = comp_keyword[i];
		const char *w = comp_cands[i++];
		if (strncasecmp(w, text, strlen(text)) != 0)
			continue;
		char *d = strdup(w);
		for (char *p = d; d && keyword && comp_lower && *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return d;
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	static const char *const fmts[] = {"table", "csv", "json"};
	static const char *const epochs[] = {"ns", "u", "ms", "s", "m", "h", "rfc3339"};
	const char *line = rl_line_buffer;
	rl_attempted_completion_over = 1;
	comp_ncands = 0;
	comp_lower = islower((unsigned char)text[0]);
	if (strncmp(line, "import ", 7) == 0) {
		rl_attempted_completion_over = 0;       /* file names */
		return NULL;
	} else if (strncmp(line, "format ", 7) == 0) {
		cands_add(fmts, CM_ARRAY_SIZE(fmts), false);
	} else if (strncmp(line, "epoch ", 6) == 0) {
		cands_add(epochs, CM_ARRAY_SIZE(epochs), false);
	} else {
		if (start == 0)
			for (size_t i = 0; i < CM_ARRAY_SIZE(commands); i++)
				cands_add(&commands[i].name, 1, false);
		if (start == 0)
			cands_add(shell_words, CM_ARRAY_SIZE(shell_words), false);
		cands_add(tsql_words, CM_ARRAY_SIZE(tsql_words), true);
		if (start > 0) {
			fetch_measurements(comp_ctx);
			cands_add((const char *const *)comp_ctx->meas, comp_ctx->nmeas, false);
		}
	}
	return rl_completion_matches(text, comp_next);
}

static void shell_help(void)
{
	printf("Commands (anything else is sent as a query, e.g. SELECT ... or SHOW ...):\n");
	for (size_t i = 0; i < CM_ARRAY_SIZE(commands); i++)
		printf("  %-13s %-21s %s\n", commands[i].name, commands[i].args, commands[i].help);
	printf("  %-13s %-21s %s\n", "use", "DB", "query and import into database DB");
	printf("  %-13s %-21s %s\n", "format", "table|csv|json", "how results are printed");
	printf("  %-13s %-21s %s\n", "epoch", "ns|u|ms|s|m|h|rfc3339", "how times are printed");
	printf("  %-13s %-21s %s\n", "help", "", "this text");
	printf("  %-13s %-21s %s\n", "exit", "", "leave (or Ctrl-D)");
}

static int set_format(struct ctx *x, const char *s)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(fmt_names); i++) {
		if (strcmp(s, fmt_names[i]) == 0) {
			x->fmt = (enum fmt)i;
			return 0;
		}
	}
	fprintf(stderr, "sfctl: format: '%s' is not table, csv or json\n", s);
	return EXIT_USAGE;
}

static int set_epoch(struct ctx *x, const char *s)
{
	static const char *const ok[] = {"ns", "u", "us", "µ", "ms", "s", "m", "h", "rfc3339"};
	for (size_t i = 0; i < CM_ARRAY_SIZE(ok); i++) {
		if (strcmp(s, ok[i]) == 0) {
			snprintf(x->epoch, sizeof(x->epoch), "%s", strcmp(s, "us") ? s : "u");
			return 0;
		}
	}
	fprintf(stderr, "sfctl: epoch: '%s' is not ns, u, ms, s, m, h or rfc3339\n", s);
	return EXIT_USAGE;
}

static void forget_measurements(struct ctx *x)
{
	for (size_t i = 0; i < x->nmeas; i++)
		free(x->meas[i]);
	free(x->meas);
	x->meas = NULL;
	x->nmeas = 0;
	x->meas_fetched = false;
}

static int set_db(struct ctx *x, const char *db)
{
	char *d = strdup(db);
	if (!d)
		return EXIT_SERVER;
	free(x->db);
	x->db = d;
	forget_measurements(x);         /* another database: other measurements */
	return 0;
}

static void ctx_release(struct ctx *x)
{
	disconnect(x);
	forget_measurements(x);
	cm_sock_rbuf_release(&x->in);
	free(x->db);
}

/* Strip blanks around s (in place). */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Strip blanks and one pair of quotes around s (in place). */
static char *unquote(char *s)
{
	s = trim(s);
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* A shell word of ours (use, format, epoch, or a command) on its argument. */
static int shell_word(struct ctx *x, const char *word, char *arg, bool *handled)
{
	const struct command *c = find_command(word);
	*handled = true;
	if (!strcmp(word, "help"))
		shell_help();
	else if (!strcmp(word, "use") && *arg)
		return set_db(x, arg) ? EXIT_SERVER : (printf("using database %s\n", arg), 0);
	else if (!strcmp(word, "format") && *arg)
		return set_format(x, arg);
	else if (!strcmp(word, "epoch") && *arg)
		return set_epoch(x, arg);
	else if (c && (strcmp(word, "kill") || all_digits(arg)))    /* else KILL QUERY n */
		return run_command(x, c, *arg ? 1 : 0, &arg);
	else
		*handled = false;
	return 0;
}

/* One shell line; *quit on exit. Returns the command's exit code. */
static int shell_line(struct ctx *x, char *line, bool *quit)
{
	char *text = trim(line), word[16] = "";
	size_t wl = strcspn(text, " \t");
	if (wl < sizeof(word)) {
		memcpy(word, text, wl);
		word[wl] = '\0';
	}
	if (!strcmp(word, "exit") || !strcmp(word, "quit")) {
		*quit = true;
		return 0;
	}
	char *arg = strdup(text + wl);
	if (!arg)
		return EXIT_SERVER;
	bool handled;
	int rc = shell_word(x, word, unquote(arg), &handled);
	free(arg);
	return handled ? rc : run_query(x, text);
}

static char *history_path(void)
{
	const char *home = getenv("HOME");
	char *p = NULL;
	if (home && *home && asprintf(&p, "%s/.sfctl_history", home) < 0)
		p = NULL;
	return p;
}

/* The next line: readline on a terminal, plain reads otherwise. NULL at the end (owned). */
static char *next_line(bool tty)
{
	if (tty)
		return readline("> ");
	char *line = NULL;
	size_t cap = 0;
	if (getline(&line, &cap, stdin) < 0) {
		free(line);
		return NULL;
	}
	return line;
}

/*
 * The interactive shell (stdin a terminal: readline, history, completion),
 * or commands read from a pipe, one a line. Returns 0 on a terminal; from a
 * pipe, the exit code of the first command that failed.
 */
static int shell(struct ctx *x)
{
	bool tty = isatty(STDIN_FILENO) == 1, quit = false;
	int rc = ensure_connected(x), first_rc = 0;
	if (rc)
		return rc;
	char *hist = tty ? history_path() : NULL;
	if (tty) {
		comp_ctx = x;
		rl_readline_name = "sfctl";
		rl_attempted_completion_function = complete;
		stifle_history(HISTORY_LINES);
		if (hist)
			read_history(hist);
		printf("sfctl %s on %s; 'help' lists the commands, Ctrl-D leaves\n", SF_VERSION,
		       x->sock);
	}
	char *line;
	while (!quit && (line = next_line(tty))) {
		char *t = trim(line);
		if (*t && tty)
			add_history(t);
		rc = *t && *t != '#' ? shell_line(x, t, &quit) : 0;
		if (rc && !first_rc)
			first_rc = rc;
		free(line);
		fflush(stdout);
	}
	if (hist && write_history(hist) != 0)
		fprintf(stderr, "sfctl: cannot write history to '%s'\n", hist);
	free(hist);
	return tty ? 0 : first_rc;
}

/* =================================================================== main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sfctl [OPTIONS] [COMMAND [ARGS]]\n"
		"\n"
		"Talk to a running streamflowd over its management socket. Without a command,\n"
		"an interactive shell (TSQL statements and the commands below).\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH    management socket (default $SF_SOCKET, else\n"
		"                       " DEFAULT_SOCKET ")\n"
		"  -d, --db DB          database for queries and imports (default: the daemon's)\n"
		"  -f, --format FMT     table (default), csv or json\n"
		"  -e, --epoch E        times as ns (default), u, ms, s, m, h or rfc3339\n"
		"      --batch N        import: lines per write request (default 5000)\n"
		"      --pipeline N     import: write requests in flight, 1 (default) or 2\n"
		"      --precision P    import: timestamp unit n|ns|u|us|ms|s|m|h (default ns)\n"
		"  -q, --quiet          import: no progress\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < CM_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-13s %-14s %s\n", commands[i].name, commands[i].args,
			commands[i].help);
	fprintf(out,
		"\n"
		"exit status:\n"
		"  0  ok\n"
		"  1  usage error\n"
		"  2  cannot connect (no daemon on the socket, connection lost, too many clients)\n"
		"  3  the daemon reported an error (query or statement error, a command failed)\n"
		"  4  partial import or write (some lines or values refused; the rest stored)\n");
}

/* Options into x; 0, or an exit code (-1: --help/--version done, exit 0). */
static int parse_options(struct ctx *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"db", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'f'}, {"epoch", required_argument, NULL, 'e'},
		{"batch", required_argument, NULL, 'b'}, {"pipeline", required_argument, NULL, 'P'},
		{"precision", required_argument, NULL, 'p'}, {"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static const char *const precisions[] = {"n", "ns", "u", "us", "ms", "s", "m", "h"};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "s:d:f:e:qhV", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 's': x->sock = optarg; break;
		case 'd': bad = set_db(x, optarg); break;
		case 'f': bad = set_format(x, optarg); break;
		case 'e': bad = set_epoch(x, optarg); break;
		case 'b': bad = cm_parse_count(optarg, 1, 1000000, &x->batch); break;
		case 'P': bad = cm_parse_count(optarg, 1, 2, &v); x->pipeline = (int)v; break;
		case 'p':
			bad = 1;
			for (size_t i = 0; i < CM_ARRAY_SIZE(precisions); i++)
				bad &= strcmp(optarg, precisions[i]) != 0;
			x->precision = optarg;
			break;
		case 'q': x->quiet = true; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("sfctl %s\n", SF_VERSION); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (bad && (c == 'b' || c == 'P' || c == 'p'))   /* the others said why */
			fprintf(stderr, "sfctl: bad value '%s' for --%s\n", optarg,
				c == 'b' ? "batch" : c == 'P' ? "pipeline" : "precision");
		if (bad)
			return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx x = {.fd = -1, .batch = 5000, .pipeline = 1, .epoch = "ns"};
	x.sock = getenv("SF_SOCKET");
	if (!x.sock || !*x.sock)
		x.sock = DEFAULT_SOCKET;
	int rc = parse_options(&x, argc, argv);
	if (rc == 0 && optind >= argc) {
		rc = shell(&x);
	} else if (rc == 0) {
		const struct command *c = find_command(argv[optind]);
		if (c) {
			rc = run_command(&x, c, argc - optind - 1, argv + optind + 1);
		} else {
			fprintf(stderr, "sfctl: unknown command '%s' (sfctl --help lists them)\n",
				argv[optind]);
			rc = EXIT_USAGE;
		}
	}
	ctx_release(&x);
	return rc < 0 ? 0 : rc;
}
