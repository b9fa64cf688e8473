/*
 * mg_ctl.c - the management socket server (mg_ctl.h; the protocol is
 * docs/MGMT-PROTOCOL.md).
 *
 * A connection is a loop: read until a '\n' (cm_sock.h), decode the line
 * (mg_ctl_parse_request, in mg_ctl_req.c), call the service, encode the
 * response into the connection's output buffer with jansson (a query's
 * result comes from mg_result_json and is copied in as it is), send it, and
 * go on with the next line. Bytes after the newline wait in the input
 * buffer, so a client may pipeline requests; the answers keep their order.
 *
 * A raw write ("bytes": N) is followed by N bytes of line protocol, which
 * go to the service as they came, each byte copied at most once: what
 * arrived with the request line is in the input buffer (used in place when
 * the whole body is there, else copied to the front of the connection's
 * body buffer of N bytes) and the rest is received straight into that
 * buffer. A body that cannot be served (over the limit) is read and
 * dropped, so the next request is found; a request line that asked for a
 * body and did not decode cannot be framed, so the connection is closed
 * after the error.
 *
 * Bounds: a request line holds at most MG_CTL_LINE_MAX bytes (the input
 * buffer grows to that and shrinks back after a large request), a write
 * batch at most mg_svc_max_body bytes and MG_CTL_BODY_MAX; there are at
 * most mgmt.socket_clients connection threads.
 *
 * Stop: the accept thread sleeps in poll() on the listening socket and a
 * wake pipe; the connections are woken by shutdown(), which makes a blocked
 * recv() return 0 and a blocked send() fail. A connection's fd is closed by
 * its own thread under the server's lock, and shut down by mg_ctl_stop under
 * the same lock, so stop never touches a reused descriptor.
 *
 * Threads (mg_ctl.h): the accept thread and one thread per connection; the
 * service is called from the connection threads, concurrently.
 */
#include "mg_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_fs.h"
#include "cm_log.h"
#include "cm_sock.h"
#include "mg_json.h"
#include "mg_svc.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define OUT_BUF_KEEP (1u << 20)     /* larger buffers are freed after a response */
#define BODY_BUF_KEEP (4u << 20)    /* a larger body buffer is freed after its request */
#define SKIP_CHUNK 16384            /* a body read and dropped goes through this much stack */
#define LISTEN_BACKLOG 64

static const struct cm_cfg_key ctl_keys[] = {
	{"mgmt.socket", CM_CFG_STR, "./var/run/streamflow.sock", 0, 0, NULL, false,
	 "management socket for sfctl (\"off\": none); its directory is created"},
	{"mgmt.socket_mode", CM_CFG_STR, "0660", 0, 0, NULL, false,
	 "permissions of the management socket file, octal"},
	{"mgmt.socket_clients", CM_CFG_INT, "16", 1, 1024, NULL, false,
	 "concurrent management socket connections (one thread each)"},
};

const struct cm_cfg_table mg_ctl_cfg_table = {
	.module = "ctl",
	.keys = ctl_keys,
	.nkeys = CM_ARRAY_SIZE(ctl_keys),
};

/* ================================================================== state */

/* One connection; a slot of the server's array, reused after its thread is joined. */
struct ctl_conn {
	struct mg_ctl *ctl;
	int fd;                 /* -1 once closed (under ctl->lock) */
	pthread_t thread;
	bool used;              /* a thread was started and not yet joined (under ctl->lock) */
	bool done;              /* that thread has finished (under ctl->lock) */
	char origin[64];        /* "socket pid=123 uid=1000", for SHOW QUERIES */
	struct cm_sock_rbuf in; /* bytes received and not yet answered */
	struct mg_result_buf out; /* the response being built */
	char *body;             /* a raw write's body, when it did not all come with its line */
	size_t body_cap;
};

struct mg_ctl {
	struct mg_svc *svc;
	char path[SUN_PATH_MAX];
	dev_t dev;              /* the socket file we bound: only that one is unlinked */
	ino_t ino;
	int lfd;
	int wake[2];            /* a byte on wake[1] stops the accept thread */
	pthread_t acceptor;
	bool acceptor_started;
	pthread_mutex_t lock;   /* the conns' fd, used and done */
	uint32_t nconns;
	struct ctl_conn conns[];
};

/* ================================================================ responses */

/* Error codes on the wire, and the status each one is reported with. */
enum ctl_code {
	CODE_BAD_REQUEST,
	CODE_PARSE,
	CODE_STATEMENT,
	CODE_NOT_FOUND,
	CODE_TOO_LARGE,
	CODE_TIMEOUT,
	CODE_PARTIAL,
	CODE_BUSY,
	CODE_INTERNAL,
};

static const struct {
	const char *name;
	int status;             /* HTTP-like, for mg_svc_note_request */
} codes[] = {
	[CODE_BAD_REQUEST] = {"bad_request", 400},
	[CODE_PARSE] = {"parse", 400},
	[CODE_STATEMENT] = {"statement", 200},
	[CODE_NOT_FOUND] = {"not_found", 404},
	[CODE_TOO_LARGE] = {"too_large", 413},
	[CODE_TIMEOUT] = {"timeout", 504},
	[CODE_PARTIAL] = {"partial", 400},
	[CODE_BUSY] = {"busy", 503},
	[CODE_INTERNAL] = {"internal", 500},
};

#define STATUS_OK 200

/* json_dump_callback_t into a struct mg_result_buf. */
static int buf_dump(const char *s, size_t n, void *arg)
{
	return mg_result_buf_write(arg, s, n) ? -1 : 0;
}

/* A JSON number for a counter (a real above INT64_MAX). */
static json_t *ju64(uint64_t v)
{
	return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

/* Append o (taken) to out as one line. 0 or -ENOMEM. */
static int put_obj(struct mg_result_buf *out, json_t *o)
{
	int rc = o ? json_dump_callback(o, buf_dump, out, JSON_COMPACT) : -1;
	json_decref(o);
	if (rc == 0 && mg_result_buf_write(out, "\n", 1) == 0)
		return 0;
	return -ENOMEM;
}

/* {"ok":true} plus members to be added by the caller. */
static json_t *ok_obj(void)
{
	json_t *o = json_object();
	if (o && json_object_set_new(o, "ok", json_true())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {"ok":false,"error":msg,"code":code} (the caller may add members). */
static json_t *err_obj(enum ctl_code code, const char *msg)
{
	json_t *o = json_object();
	if (o && (json_object_set_new(o, "ok", json_false()) ||
		  json_object_set_new(o, "error", mg_json_text(msg)) ||
		  json_object_set_new(o, "code", json_string(codes[code].name)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Replace out's content with a response: o (taken) or, when o is NULL
 * (it could not be built), an out-of-memory error. Returns the status.
 */
static int reply(struct mg_result_buf *out, json_t *o, int status)
{
	out->len = 0;
	if (put_obj(out, o) == 0)
		return status;
	out->len = 0;
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\",\"code\":\"internal\"}\n";
	if (mg_result_buf_write(out, oom, sizeof(oom) - 1))
		out->len = 0;   /* nothing to say: the connection is closed */
	return codes[CODE_INTERNAL].status;
}

static int reply_error(struct mg_result_buf *out, enum ctl_code code, const char *fmt, ...)
	CM_PRINTF(3, 4);
static int reply_error(struct mg_result_buf *out, enum ctl_code code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply(out, err_obj(code, msg), codes[code].status);
}

/*
 * Set (*o)[key] = v (taken, also when NULL: an allocation that failed).
 * On failure *o is released and set to NULL, so a chain of set() calls
 * ends in reply(), which reports the missing object as out of memory.
 */
static bool set(json_t **o, const char *key, json_t *v)
{
	if (!*o) {
		json_decref(v);
		return false;
	}
	if (json_object_set_new(*o, key, v) == 0)   /* takes v in every case */
		return true;
	json_decref(*o);
	*o = NULL;
	return false;
}

/* A JSON number for a double; null when it is not finite (JSON has no NaN). */
static json_t *jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* ================================================================ commands */

/*
 * {"ok":..,"result":<mg_result_json>}. A statement that failed makes it
 * {"ok":false,"error":<its error>,"code":"statement",...} with the whole
 * result still there. Returns the status.
 */
static int put_result(struct mg_result_buf *out, const struct mg_result *res, enum mg_epoch epoch)
{
	const char *stmt_err = NULL;
	for (uint32_t i = 0; i < res->nstmts && !stmt_err; i++)
		stmt_err = res->stmts[i].error;
	json_t *head = stmt_err ? err_obj(CODE_STATEMENT, stmt_err) : ok_obj();
	out->len = 0;
	int rc = head ? json_dump_callback(head, buf_dump, out, JSON_COMPACT) : -1;
	json_decref(head);
	if (rc == 0) {
		assert(out->len > 0 && out->p[out->len - 1] == '}');
		out->len--;     /* reopen the object */
		rc = mg_result_buf_write(out, ",\"result\":", 10);
	}
	/* Not pretty, the encoder writes no newline (strings are escaped): one line. */
	struct mg_json_opts o = {.epoch = epoch, .pretty = false};
	if (rc == 0)
		rc = mg_result_json(res, &o, mg_result_buf_write, out);
	if (rc == 0)
		rc = mg_result_buf_write(out, "}\n", 2);
	if (rc)
		return reply(out, NULL, 0);
	return stmt_err ? codes[CODE_STATEMENT].status : STATUS_OK;
}

static int do_query(struct ctl_conn *c, const struct mg_ctl_req *r)
{
	struct mg_query_req qr = {.text = r->q, .len = r->qlen, .db = r->db, .origin = c->origin};
	struct mg_result *res = NULL;
	char err[512] = "";
	int rc = mg_svc_query(c->ctl->svc, &qr, &res, err, sizeof(err));
	if (rc == -EINVAL)
		return reply_error(&c->out, CODE_PARSE, "%s", err[0] ? err : "the query does not parse");
	if (rc)
		return reply_error(&c->out, CODE_INTERNAL, "query failed: %s",
				   err[0] ? err : strerror(-rc));
	int status = put_result(&c->out, res, r->epoch);
	mg_result_free(res);
	return status;
}

struct stats_ctx {
	json_t *list;
	const char *prefix;     /* NULL: all */
};

static bool wanted(const struct stats_ctx *x, const char *name)
{
	return !x->prefix || strncmp(name, x->prefix, strlen(x->prefix)) == 0;
}

static int stat_cb(void *arg, const struct mg_stat *s)
{
	struct stats_ctx *x = arg;
	if (!wanted(x, s->name))
		return 0;
	json_t *e = json_object();
	set(&e, "name", mg_json_text(s->name));
	set(&e, "value", ju64(s->value));
	set(&e, "kind", json_string(s->kind == MG_STAT_GAUGE ? "gauge" : "counter"));
	return json_array_append_new(x->list, e) ? -ENOMEM : 0;
}

static int histo_cb(void *arg, const struct mg_histo *h)
{
	struct stats_ctx *x = arg;
	if (!wanted(x, h->name))
		return 0;
	json_t *buckets = json_array();
	for (uint32_t i = 0; buckets && i < CM_MIN(h->nbuckets, (uint32_t)MG_HISTO_BUCKETS); i++) {
		json_t *b = json_object();
		set(&b, "le", jreal(h->le[i]));
		set(&b, "count", ju64(h->cumulative[i]));
		if (json_array_append_new(buckets, b)) {
			json_decref(buckets);
			buckets = NULL;
		}
	}
	json_t *e = json_object();
	set(&e, "name", mg_json_text(h->name));
	set(&e, "help", mg_json_text(h->help));
	set(&e, "buckets", buckets);
	set(&e, "count", ju64(h->count));
	set(&e, "sum", jreal(h->sum));
	return json_array_append_new(x->list, e) ? -ENOMEM : 0;
}

static int do_stats(struct ctl_conn *c, const struct mg_ctl_req *r)
{
	struct stats_ctx sx = {json_array(), r->prefix}, hx = {json_array(), r->prefix};
	int rc = sx.list && hx.list ? 0 : -ENOMEM;
	if (rc == 0)
		rc = mg_svc_stats(c->ctl->svc, stat_cb, &sx);
	if (rc == 0)
		rc = mg_svc_histograms(c->ctl->svc, histo_cb, &hx);
	if (rc) {
		json_decref(sx.list);
		json_decref(hx.list);
		return reply_error(&c->out, CODE_INTERNAL, "stats failed: %s", strerror(-rc));
	}
	json_t *o = ok_obj();
	set(&o, "stats", sx.list);
	set(&o, "histograms", hx.list);
	return reply(&c->out, o, STATUS_OK);
}

/* The non-empty lines of text[len] as a JSON array of strings. NULL on ENOMEM. */
static json_t *text_lines(const char *text, size_t len)
{
	json_t *a = json_array();
	for (size_t at = 0; a && at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		char *line = n ? strndup(text + at, n) : NULL;
		if (n && (!line || json_array_append_new(a, mg_json_text(line)))) {
			json_decref(a);
			a = NULL;
		}
		free(line);
		at += n + 1;
	}
	return a;
}

/* config and tiers: a service function that writes "key value" lines. */
typedef int (*svc_text_fn)(struct mg_svc *svc, mg_write_fn fn, void *arg);

static int do_text(struct ctl_conn *c, svc_text_fn fn, const char *what)
{
	struct mg_result_buf text = {0};
	int rc = fn(c->ctl->svc, mg_result_buf_write, &text);
	if (rc) {
		free(text.p);
		return reply_error(&c->out, CODE_INTERNAL, "%s failed: %s", what,
				   strerror(rc < 0 ? -rc : EIO));
	}
	json_t *o = ok_obj();
	set(&o, "lines", text_lines(text.p, text.len));
	free(text.p);
	return reply(&c->out, o, STATUS_OK);
}

static int query_cb(void *arg, const struct mg_query_info *q)
{
	json_t *e = json_object();
	set(&e, "id", ju64(q->id));
	set(&e, "query", mg_json_text(q->text));
	set(&e, "db", mg_json_text(q->db));
	set(&e, "origin", mg_json_text(q->origin));
	set(&e, "started_ns", json_integer(q->started_ns));
	set(&e, "duration_ns", json_integer(CM_MAX(cm_now_ns() - q->started_ns, (int64_t)0)));
	set(&e, "points_scanned", ju64(q->points_scanned));
	set(&e, "killed", json_boolean(q->killed));
	return json_array_append_new(arg, e) ? -ENOMEM : 0;
}

static int do_queries(struct ctl_conn *c)
{
	json_t *list = json_array();
	int rc = list ? mg_svc_queries(c->ctl->svc, query_cb, list) : -ENOMEM;
	if (rc) {
		json_decref(list);
		return reply_error(&c->out, CODE_INTERNAL, "queries failed: %s", strerror(-rc));
	}
	json_t *o = ok_obj();
	set(&o, "queries", list);
	return reply(&c->out, o, STATUS_OK);
}

static int do_kill(struct ctl_conn *c, const struct mg_ctl_req *r)
{
	int rc = mg_svc_kill(c->ctl->svc, r->id);
	if (rc == -ENOENT)
		return reply_error(&c->out, CODE_NOT_FOUND, "no running query with id %" PRIu64,
				   r->id);
	if (rc)
		return reply_error(&c->out, CODE_INTERNAL, "kill failed: %s", strerror(-rc));
	json_t *o = ok_obj();
	set(&o, "id", ju64(r->id));
	return reply(&c->out, o, STATUS_OK);
}

static json_t *report_obj(const struct mg_write_report *rep)
{
	json_t *errs = json_array();
	for (uint32_t i = 0; errs && i < CM_MIN(rep->nerrors, (uint32_t)MG_WRITE_ERRORS_MAX); i++) {
		char line[sizeof(rep->errors[i]) + 1];
		snprintf(line, sizeof(line), "%s", rep->errors[i]);   /* NUL-terminated for sure */
		if (json_array_append_new(errs, mg_json_text(line))) {
			json_decref(errs);
			errs = NULL;
		}
	}
	json_t *o = json_object();
	set(&o, "lines", ju64(rep->lines));
	set(&o, "lines_bad", ju64(rep->lines_bad));
	set(&o, "points", ju64(rep->points));
	set(&o, "points_stored", ju64(rep->points_stored));
	set(&o, "points_refused", ju64(rep->points_refused));
	set(&o, "strings_skipped", ju64(rep->strings_skipped));
	set(&o, "timed_out", json_boolean(rep->timed_out));
	set(&o, "errors", errs);
	return o;
}

/* A batch over mg_svc_max_body: the too_large response, true. False if it fits. */
static bool write_too_large(struct ctl_conn *c, size_t len, int *status)
{
	size_t max = mg_svc_max_body(c->ctl->svc);
	if (len <= max)
		return false;
	*status = reply_error(&c->out, CODE_TOO_LARGE,
			      "write batch of %zu bytes is over the limit of %zu bytes", len, max);
	return true;
}

/* Store body[len] (borrowed: the "lines" string or a raw body) as r asks. */
static int do_write(struct ctl_conn *c, const struct mg_ctl_req *r, const char *body, size_t len)
{
	int status = STATUS_OK;
	if (write_too_large(c, len, &status))
		return status;
	struct mg_write_req wr = {.db = r->db, .precision = r->precision, .body = body,
				  .len = len, .now_ns = cm_now_ns()};
	struct mg_write_report rep;
	memset(&rep, 0, sizeof(rep));
	int rc = mg_svc_write(c->ctl->svc, &wr, &rep);
	if (rc == -ENOENT)
		return reply_error(&c->out, CODE_NOT_FOUND, "database not found: \"%s\"",
				   r->db ? r->db : "");
	if (rc == -EINVAL)
		return reply_error(&c->out, CODE_BAD_REQUEST, "bad database name or precision");
	if (rc && rc != -ETIMEDOUT)
		return reply_error(&c->out, CODE_INTERNAL, "write failed: %s", strerror(-rc));
	json_t *o;
	if (rc == -ETIMEDOUT) {
		o = err_obj(CODE_TIMEOUT, "write timed out waiting for the shards");
		status = codes[CODE_TIMEOUT].status;
	} else if (rep.lines_bad || rep.points_refused) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "partial write: %" PRIu64 " of %" PRIu64 " lines refused, %" PRIu64
			 " values refused%s%.200s", rep.lines_bad, rep.lines, rep.points_refused,
			 rep.nerrors ? "; first: " : "", rep.nerrors ? rep.errors[0] : "");
		o = err_obj(CODE_PARTIAL, msg);
		status = codes[CODE_PARTIAL].status;
	} else {
		o = ok_obj();
	}
	set(&o, "report", report_obj(&rep));
	return reply(&c->out, o, status);
}

static int do_flush(struct ctl_conn *c)
{
	int64_t t0 = cm_mono_ns();
	int rc = mg_svc_flush(c->ctl->svc);
	if (rc)
		return reply_error(&c->out, CODE_INTERNAL, "flush failed: %s", strerror(-rc));
	json_t *o = ok_obj();
	set(&o, "elapsed_ns", json_integer(cm_mono_ns() - t0));
	return reply(&c->out, o, STATUS_OK);
}

static int do_ping(struct ctl_conn *c)
{
	json_t *o = ok_obj();
	set(&o, "version", mg_json_text(mg_svc_version(c->ctl->svc)));
	set(&o, "healthy", json_boolean(mg_svc_healthy(c->ctl->svc)));
	return reply(&c->out, o, STATUS_OK);
}

/* Answer first, then ask the daemon to stop (it will stop this server). */
static int do_shutdown(struct ctl_conn *c)
{
	int status = reply(&c->out, ok_obj(), STATUS_OK);
	cm_sock_send_all(c->fd, c->out.p, c->out.len);
	c->out.len = 0;
	CM_LOG_INFO("ctl", "event=shutdown_requested origin=\"%s\"", c->origin);
	mg_svc_shutdown(c->ctl->svc);
	return status;
}

static int dispatch(struct ctl_conn *c, const struct mg_ctl_req *r)
{
	switch (r->cmd) {
	case MG_CTL_PING: return do_ping(c);
	case MG_CTL_QUERY: return do_query(c, r);
	case MG_CTL_STATS: return do_stats(c, r);
	case MG_CTL_CONFIG: return do_text(c, mg_svc_config, "config");
	case MG_CTL_FLUSH: return do_flush(c);
	case MG_CTL_TIERS: return do_text(c, mg_svc_tiers, "tiers");
	case MG_CTL_QUERIES: return do_queries(c);
	case MG_CTL_KILL: return do_kill(c, r);
	case MG_CTL_WRITE: return do_write(c, r, r->lines, r->lines_len);
	case MG_CTL_SHUTDOWN: return do_shutdown(c);
	case MG_CTL__COUNT: break;
	}
	assert(!"unreachable command");
	return reply_error(&c->out, CODE_INTERNAL, "unknown command");
}

/* ============================================================= raw bodies */

/* Receive p[*have..n) from fd, counting in *have. 0 when all came, 1 at end of input, -errno. */
static int recv_full(int fd, char *p, size_t *have, size_t n)
{
	while (*have < n) {
		ssize_t k = recv(fd, p + *have, n - *have, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 1;
		*have += (size_t)k;
	}
	return 0;
}

/* How many of the n body bytes after c->in.p[at - 1] (the line's '\n') came with the line. */
static size_t body_in_buf(const struct ctl_conn *c, size_t at, size_t n)
{
	return c->in.len > at ? CM_MIN(c->in.len - at, n) : 0;
}

/*
 * The n bytes of body that follow the request line; those that came with
 * it are at c->in.p[at..) (at: just past the line's '\n'), and *taken is
 * set to how many those are (to be consumed with the line). When all came,
 * *body points into c->in; else they are copied to the front of c->body
 * (grown to n) and the rest is received after them. *got counts the body
 * bytes received. Returns 0; 1 when the input ended first; -ENOMEM (then
 * the caller still has to skip the body); -errno.
 */
static int read_body(struct ctl_conn *c, size_t at, size_t n, const char **body,
		     size_t *taken, size_t *got)
{
	size_t have = body_in_buf(c, at, n);
	*taken = *got = have;
	if (have == n) {
		*body = n ? c->in.p + at : "";
		return 0;
	}
	if (n > c->body_cap) {
		free(c->body);          /* nothing in it to keep: no realloc copy */
		c->body = malloc(n);
		c->body_cap = c->body ? n : 0;
		if (!c->body)
			return -ENOMEM;
	}
	memcpy(c->body, c->in.p + at, have);
	*body = c->body;
	return recv_full(c->fd, c->body, got, n);
}

/* Receive and drop the n bytes of a body not served; as read_body, without the body. */
static int skip_body(struct ctl_conn *c, size_t at, size_t n, size_t *taken, size_t *got)
{
	char scratch[SKIP_CHUNK];
	*taken = *got = body_in_buf(c, at, n);
	while (*got < n) {
		size_t have = 0;
		int rc = recv_full(c->fd, scratch, &have, CM_MIN(n - *got, sizeof(scratch)));
		*got += have;
		if (rc)
			return rc;
	}
	return 0;
}

/* ============================================================= requests */

/*
 * A raw write, its line decoded into r: receive its body (at: where it
 * begins in c->in; *taken: how much of it is there) and store it, or read
 * and drop it when it is over the limit or no buffer can hold it. Returns
 * the status; *keep is cleared when the connection must close (the body
 * ended early, or a receive failed).
 */
static int raw_write(struct ctl_conn *c, const struct mg_ctl_req *r, size_t at, size_t *taken,
		     bool *keep)
{
	size_t n = r->body_len, got = 0;
	const char *body = NULL;
	int status = 0, rc = 0;
	bool skip = write_too_large(c, n, &status);
	if (!skip && (rc = read_body(c, at, n, &body, taken, &got)) == -ENOMEM) {
		skip = true;
		status = reply(&c->out, NULL, 0);       /* out of memory */
	}
	if (skip)
		rc = skip_body(c, at, n, taken, &got);
	if (rc == 0)
		return skip ? status : do_write(c, r, body, n);
	*keep = false;
	if (rc == 1)
		return reply_error(&c->out, CODE_BAD_REQUEST, "the body ended after %zu of %zu bytes",
				   got, n);
	return reply_error(&c->out, CODE_INTERNAL, "cannot receive the body: %s", strerror(-rc));
}

/*
 * The request whose line is c->in.p[0..len) (its '\n', if any, at
 * c->in.p[len]): parse, read its body if it has one, run, leave the
 * response in c->out. *used is set to the bytes of c->in the request took (its line,
 * '\n', and the part of a body that came with them). False when the
 * connection must be closed after the response.
 */
static bool handle_request(struct ctl_conn *c, size_t len, size_t *used)
{
	int64_t t0 = cm_mono_ns();
	const char *line = c->in.p;
	struct mg_ctl_req r;
	char err[256];
	enum mg_req_kind kind = MG_REQ_OTHER;
	bool keep = true;
	size_t taken = 0;
	int status, rc = mg_ctl_parse_request(line, len && line[len - 1] == '\r' ? len - 1 : len,
					      &r, err, sizeof(err));
	if (rc) {
		keep = !r.has_body;     /* a body may follow that nothing can frame */
		kind = r.has_body ? MG_REQ_WRITE : MG_REQ_OTHER;
		status = rc == -ENOMEM ? reply(&c->out, NULL, 0)
		       : reply_error(&c->out, rc == -EMSGSIZE ? CODE_TOO_LARGE : CODE_BAD_REQUEST,
				     "%s%s", err, r.has_body ? " (closing the connection: the "
							       "body cannot be framed)" : "");
	} else {
		kind = r.cmd == MG_CTL_QUERY ? MG_REQ_QUERY
		     : r.cmd == MG_CTL_WRITE ? MG_REQ_WRITE : MG_REQ_OTHER;
		status = r.has_body ? raw_write(c, &r, len + 1, &taken, &keep) : dispatch(c, &r);
		mg_ctl_req_release(&r);
	}
	mg_svc_note_request(c->ctl->svc, MG_FRONT_SOCKET, kind, status, cm_mono_ns() - t0);
	*used = len + 1 + taken;
	return keep;
}

/* ============================================================= connections */

/* Drop the request just answered (used bytes); give back large buffers. */
static void consume(struct ctl_conn *c, size_t used)
{
	cm_sock_rbuf_consume(&c->in, used);
	if (c->out.cap > OUT_BUF_KEEP) {
		free(c->out.p);
		c->out = (struct mg_result_buf){0};
	}
	if (c->body_cap > BODY_BUF_KEEP) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
}

/* Only spaces, tabs and CRs (a NUL is not blank: strchr would find the terminator). */
static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static void *conn_main(void *arg)
{
	struct ctl_conn *c = arg;
	for (;;) {
		size_t len = 0;
		int rc = cm_sock_read_line(&c->in, c->fd, MG_CTL_LINE_MAX, &len);
		if (rc == -EMSGSIZE) {
			reply_error(&c->out, CODE_TOO_LARGE, "request line over %u bytes",
				    MG_CTL_LINE_MAX);
			cm_sock_send_all(c->fd, c->out.p, c->out.len);
			mg_svc_note_request(c->ctl->svc, MG_FRONT_SOCKET, MG_REQ_OTHER,
					    codes[CODE_TOO_LARGE].status, 0);
		}
		bool eof = rc == 1;
		if (eof && c->in.len)
			len = c->in.len;        /* the last request, without its '\n' */
		else if (rc)
			break;
		c->out.len = 0;
		size_t used = len + 1;
		bool keep = blank(c->in.p, len) || handle_request(c, len, &used);
		if (c->out.len && cm_sock_send_all(c->fd, c->out.p, c->out.len))
			break;
		consume(c, used);
		if (eof || !keep)
			break;
	}
	cm_sock_rbuf_release(&c->in);
	free(c->out.p);
	c->out = (struct mg_result_buf){0};
	free(c->body);
	c->body = NULL;
	c->body_cap = 0;
	pthread_mutex_lock(&c->ctl->lock);
	close(c->fd);
	c->fd = -1;
	c->done = true;
	pthread_mutex_unlock(&c->ctl->lock);
	return NULL;
}

/* Answer a connection we do not serve with one error line, and close it. */
static void refuse(struct mg_ctl *ctl, int fd, enum ctl_code code, const char *msg)
{
	struct mg_result_buf b = {0};
	reply(&b, err_obj(code, msg), 0);
	cm_sock_send_all(fd, b.p, b.len);   /* a fresh socket's buffer takes one line */
	free(b.p);
	close(fd);
	mg_svc_note_request(ctl->svc, MG_FRONT_SOCKET, MG_REQ_OTHER, codes[code].status, 0);
}

/* A free slot (finished threads joined on the way), marked used; NULL if none. */
static struct ctl_conn *claim_slot(struct mg_ctl *ctl, int fd)
{
	struct ctl_conn *slot = NULL;
	pthread_mutex_lock(&ctl->lock);
	for (uint32_t i = 0; i < ctl->nconns; i++) {
		struct ctl_conn *k = &ctl->conns[i];
		if (k->used && k->done) {
			pthread_join(k->thread, NULL);   /* it has returned or is returning */
			k->used = false;
		}
		if (!k->used && !slot)
			slot = k;
	}
	if (slot) {
		slot->used = true;
		slot->done = false;
		slot->fd = fd;
	}
	pthread_mutex_unlock(&ctl->lock);
	return slot;
}

static void admit(struct mg_ctl *ctl, int fd)
{
	struct ctl_conn *c = claim_slot(ctl, fd);
	if (!c) {
		char msg[96];
		snprintf(msg, sizeof(msg), "too many connections (mgmt.socket_clients = %u)",
			 ctl->nconns);
		CM_LOG_RL(CM_LOG_WARN, "ctl", "event=refused reason=busy clients=%u", ctl->nconns);
		refuse(ctl, fd, CODE_BUSY, msg);
		return;
	}
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0)
		snprintf(c->origin, sizeof(c->origin), "socket pid=%d uid=%u", (int)cr.pid,
			 (unsigned)cr.uid);
	else
		snprintf(c->origin, sizeof(c->origin), "socket");
	if (pthread_create(&c->thread, NULL, conn_main, c) == 0)
		return;
	pthread_mutex_lock(&ctl->lock);
	c->used = false;
	c->fd = -1;
	pthread_mutex_unlock(&ctl->lock);
	refuse(ctl, fd, CODE_INTERNAL, "cannot start a connection thread");
}

static void *accept_main(void *arg)
{
	struct mg_ctl *ctl = arg;
	for (;;) {
		struct pollfd p[2] = {{ctl->lfd, POLLIN, 0}, {ctl->wake[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			CM_LOG_ERR("ctl", "event=poll_failed err=%s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(ctl, fd);
		} else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			   errno == ENOBUFS) {
			CM_LOG_RL(CM_LOG_WARN, "ctl", "event=accept_failed err=%s", strerror(errno));
			cm_sleep_ns(100 * CM_NS_PER_MS);   /* the pending connection waits */
		}
	}
}

/* ============================================================ start, stop */

static int parse_mode(const char *s, mode_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 8);
	if (errno || end == s || *end || v < 0 || v > 07777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

/* Whether something accepts connections on sa: 1 yes, 0 no (a stale file), -errno. */
static int probe_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)   /* EAGAIN: alive, its backlog full */
		return 1;
	if (e == ECONNREFUSED || e == ENOENT)
		return 0;
	return -e;
}

/* bind() found the path taken: replace a stale socket file, refuse anything else. */
static int rebind_stale(struct mg_ctl *c, int fd, const struct sockaddr_un *sa, char *err,
			size_t errlen)
{
	int live = probe_live(sa);
	if (live == 1) {
		snprintf(err, errlen, "management socket '%s' is in use by a running daemon "
			 "(stop it, or set mgmt.socket to another path)", c->path);
		return -EADDRINUSE;
	}
	if (live < 0) {
		snprintf(err, errlen, "cannot check socket '%s': %s", c->path, strerror(-live));
		return live;
	}
	struct stat st;
	if (lstat(c->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "'%s' exists and is not a socket", c->path);
		return -EEXIST;
	}
	if (unlink(c->path) && errno != ENOENT) {
		int rc = -errno;
		snprintf(err, errlen, "cannot remove stale socket '%s': %s", c->path, strerror(-rc));
		return rc;
	}
	CM_LOG_WARN("ctl", "event=stale_socket_replaced path=%s", c->path);
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	int rc = -errno;
	snprintf(err, errlen, "cannot bind '%s': %s", c->path, strerror(-rc));
	return rc;
}

/* Create, bind (replacing a stale file), chmod and listen; c->lfd on success. */
static int bind_listen(struct mg_ctl *c, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot create a Unix socket: %s", strerror(-rc));
		return rc;
	}
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (rc == -EADDRINUSE)
		rc = rebind_stale(c, fd, &sa, err, errlen);
	else if (rc)
		snprintf(err, errlen, "cannot bind '%s': %s", c->path, strerror(-rc));
	if (rc)
		goto err_close;
	/* Nobody can connect before listen(), so the mode is set before anyone can. */
	struct stat st;
	if (chmod(c->path, mode) || lstat(c->path, &st) || listen(fd, LISTEN_BACKLOG)) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up socket '%s': %s", c->path, strerror(-rc));
		unlink(c->path);
		goto err_close;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->lfd = fd;
	return 0;

err_close:
	close(fd);
	return rc;
}

/* mkdir -p the directory part of path, if it has one. */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[SUN_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	int rc = cm_mkdir_p(dir);
	if (rc)
		snprintf(err, errlen, "cannot create directory '%s' for the management socket: %s",
			 dir, strerror(-rc));
	return rc;
}

static struct mg_ctl *ctl_alloc(const char *path, uint32_t nconns, struct mg_svc *svc)
{
	struct mg_ctl *c = calloc(1, sizeof(*c) + nconns * sizeof(c->conns[0]));
	if (!c)
		return NULL;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return NULL;
	}
	c->svc = svc;
	c->nconns = nconns;
	c->lfd = c->wake[0] = c->wake[1] = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	for (uint32_t i = 0; i < nconns; i++) {
		c->conns[i].ctl = c;
		c->conns[i].fd = -1;
	}
	return c;
}

int mg_ctl_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_ctl **out,
		 char *err, size_t errlen)
{
	assert(cfg && out);
	*out = NULL;
	const char *path = cm_config_str(cfg, "mgmt.socket");
	if (!path[0] || strcmp(path, "off") == 0) {
		CM_LOG_INFO("ctl", "event=disabled");
		return 0;
	}
	mode_t mode;
	if (parse_mode(cm_config_str(cfg, "mgmt.socket_mode"), &mode)) {
		snprintf(err, errlen, "mgmt.socket_mode '%s' is not an octal file mode",
			 cm_config_str(cfg, "mgmt.socket_mode"));
		return -EINVAL;
	}
	if (strlen(path) >= SUN_PATH_MAX) {
		snprintf(err, errlen, "mgmt.socket '%s' is longer than %zu bytes", path,
			 SUN_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	struct mg_ctl *c = ctl_alloc(path, (uint32_t)cm_config_int(cfg, "mgmt.socket_clients"), svc);
	if (!c)
		return -ENOMEM;
	int rc = make_parent(path, err, errlen);
	if (rc)
		goto err_free;
	rc = bind_listen(c, mode, err, errlen);
	if (rc)
		goto err_free;
	rc = pipe2(c->wake, O_CLOEXEC) ? errno : pthread_create(&c->acceptor, NULL, accept_main, c);
	if (rc) {
		rc = -rc;   /* pthread_create returns its error; it does not set errno */
		snprintf(err, errlen, "cannot start the management socket thread: %s", strerror(-rc));
		goto err_free;
	}
	c->acceptor_started = true;
	CM_LOG_INFO("ctl", "event=listening path=%s mode=%04o clients=%u", c->path,
		    (unsigned)mode, c->nconns);
	*out = c;
	return 0;

err_free:
	mg_ctl_stop(c);
	return rc;
}

void mg_ctl_stop(struct mg_ctl *c)
{
	if (!c)
		return;
	if (c->acceptor_started) {
		char b = 1;
		while (write(c->wake[1], &b, 1) < 0 && errno == EINTR)
			;
		pthread_join(c->acceptor, NULL);
	}
	/* No new connection now; wake the open ones (their fds are closed under the lock). */
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->nconns; i++)
		if (c->conns[i].used && c->conns[i].fd >= 0)
			shutdown(c->conns[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->lock);
	for (uint32_t i = 0; i < c->nconns; i++)
		if (c->conns[i].used)
			pthread_join(c->conns[i].thread, NULL);
	struct stat st;
	if (c->lfd >= 0 && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	bool started = c->acceptor_started;
	pthread_mutex_destroy(&c->lock);
	free(c);
	if (started)
		CM_LOG_INFO("ctl", "event=stopped");
}
