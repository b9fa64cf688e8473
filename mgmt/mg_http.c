/*
 * mg_http.c - see mg_http.h: the HTTP server on libmicrohttpd.
 *
 * Request flow (MHD's access handler is called several times per request):
 *   1. headers read: a request record is made, the path routed and the
 *      method checked; 404, 405 and a Content-Length above http.max_body
 *      (413) are answered at once, without reading the body;
 *   2. body pieces: appended to the record's buffer, bounded by
 *      http.max_body (past it the rest is discarded and 413 answered);
 *   3. end of the body: the endpoint runs on this MHD worker thread (the
 *      service call included) and queues its response;
 *   4. MHD's completion callback reports the request to the service
 *      (status, elapsed time) and frees the record.
 * Chunked query results are encoded whole, then sent with an unknown length
 * (Transfer-Encoding: chunked), one document per line as InfluxDB does.
 *
 * Threads: http.threads MHD workers, each with its own epoll set over the
 * listening socket, each running handlers for its own connections.
 */
#include "mg_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_log.h"
#include "dp_line.h"
#include "mg_json.h"

#define CONN_TIMEOUT_S 60u
/* request line + headers (long /query?q= URLs): MHD zeroes the whole pool for every request
 * of a keep-alive connection, so it costs per request (256 KiB took 4% of a TSBS
 * single-groupby query's server time) */
#define CONN_MEMORY (64u * 1024u)
#define FORM_PAIRS_MAX 32
#define CHUNK_BLOCK (32u * 1024u)

static const struct cm_cfg_key http_keys[] = {
	{"http.listen", CM_CFG_STR, "127.0.0.1:8086", 0, 0, NULL, false,
	 "HTTP API address: ipv4:port, [ipv6]:port, :port (all IPv4), or off"},
	{"http.threads", CM_CFG_INT, "2", 1, 256, NULL, false,
	 "HTTP worker threads (libmicrohttpd thread pool)"},
	{"http.max_body", CM_CFG_SIZE, "64MiB", 1, INT64_C(1) << 36, NULL, false,
	 "largest request body accepted, before and after gzip (413 above it)"},
	{"http.max_connections", CM_CFG_INT, "256", 1, 65536, NULL, false,
	 "open HTTP connections at most"},
	{"http.chunk_size", CM_CFG_INT, "10000", 1, INT64_C(1) << 32, NULL, false,
	 "rows per document of a chunked query result when chunk_size= is not given"},
};

const struct cm_cfg_table mg_http_cfg_table = {
	.module = "http",
	.keys = http_keys,
	.nkeys = CM_ARRAY_SIZE(http_keys),
};

struct mg_http {
	struct MHD_Daemon *mhd;
	struct mg_svc *svc;
	size_t max_body;
	uint64_t chunk_size;
	uint16_t port;
	uint64_t id_base;               /* Request-Id: start time, then a sequence */
	_Atomic uint64_t id_seq;
};

/* One request, from its headers to its completion (MHD's con_cls). */
struct http_req {
	struct mg_http *h;
	const struct route *route;      /* NULL: no such path */
	int64_t t0_ns;
	unsigned status;                /* queued; 0 until then */
	bool too_large, no_mem;
	char *body;                     /* NUL-terminated when not NULL */
	size_t len, cap;
	struct mg_http_kv form[FORM_PAIRS_MAX];
	size_t nform;
};

/* ------------------------------------------------------------ responses */

static void add_headers(struct MHD_Response *resp, struct http_req *rq, const char *ctype)
{
	struct mg_http *h = rq->h;
	char id[40];
	uint64_t seq = atomic_fetch_add_explicit(&h->id_seq, 1, memory_order_relaxed);
	snprintf(id, sizeof(id), "%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-0000-%012" PRIx64,
		 (uint32_t)(h->id_base >> 32), (uint32_t)(h->id_base >> 16) & 0xffff,
		 (uint32_t)h->id_base & 0xffff, seq & UINT64_C(0xffffffffffff));
	MHD_add_response_header(resp, "X-Influxdb-Version", mg_svc_version(h->svc));
	MHD_add_response_header(resp, "X-Influxdb-Build", "OSS");
	MHD_add_response_header(resp, "Request-Id", id);
	MHD_add_response_header(resp, "X-Request-Id", id);
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
}

static enum MHD_Result queue(struct MHD_Connection *c, struct http_req *rq, unsigned status,
			     struct MHD_Response *resp, const char *ctype)
{
	if (!resp)
		return MHD_NO;
	add_headers(resp, rq, ctype);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		rq->status = status;
	return ret;
}

/* Answer with body[0..len) (taken: freed by MHD; NULL for none). */
static enum MHD_Result reply(struct MHD_Connection *c, struct http_req *rq, unsigned status,
			     const char *ctype, char *body, size_t len)
{
	struct MHD_Response *resp = body ?
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) :
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		free(body);
	return queue(c, rq, status, resp, body ? ctype : NULL);
}

/* A jansson value as a compact JSON body with InfluxDB's trailing newline (j taken). */
static enum MHD_Result reply_json(struct MHD_Connection *c, struct http_req *rq,
				  unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return MHD_NO;
	size_t n = strlen(s);
	char *body = realloc(s, n + 2);
	if (!body) {
		free(s);
		return MHD_NO;
	}
	memcpy(body + n, "\n", 2);
	return reply(c, rq, status, "application/json", body, n + 1);
}

/* {"error":"..."} with status (InfluxDB's httpError). */
static enum MHD_Result reply_error(struct MHD_Connection *c, struct http_req *rq,
				   unsigned status, const char *fmt, ...) CM_PRINTF(4, 5);
static enum MHD_Result reply_error(struct MHD_Connection *c, struct http_req *rq,
				   unsigned status, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	if (o && json_object_set_new(o, "error", mg_json_text(msg))) {
		json_decref(o);
		o = NULL;
	}
	return reply_json(c, rq, status, o);
}

/* A constant text (sent from where it is), with an Allow header when allow is not NULL. */
static enum MHD_Result reply_text(struct MHD_Connection *c, struct http_req *rq,
				  unsigned status, const char *text, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	if (resp && allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, rq, status, resp, "text/plain; charset=utf-8");
}

/* ------------------------------------------------------------ parameters */

/* A request parameter: the form body's first (as Go's FormValue), then the URL's. */
static const char *param(struct MHD_Connection *c, const struct http_req *rq, const char *key)
{
	for (size_t i = 0; i < rq->nform; i++)
		if (!strcmp(rq->form[i].key, key))
			return rq->form[i].value;
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static bool param_true(struct MHD_Connection *c, const struct http_req *rq, const char *key)
{
	const char *v = param(c, rq, key);
	return v && !strcmp(v, "true");
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* A form body (application/x-www-form-urlencoded): /query reads parameters from it. */
static bool is_form(struct MHD_Connection *c)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	static const char form[] = "application/x-www-form-urlencoded";
	return ct && !strncasecmp(ct, form, sizeof(form) - 1) &&
	       (ct[sizeof(form) - 1] == '\0' || ct[sizeof(form) - 1] == ';' ||
		ct[sizeof(form) - 1] == ' ');
}

/* "http 127.0.0.1:5512", for SHOW QUERIES. */
static void origin_of(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, cap, sa && sa->sa_family == AF_INET6 ? "http [%s]:%u" : "http %s:%u", a, port);
}

/* ------------------------------------------------------------ /write */

/* Absent, empty, or a unit the line decoder knows (the writer's own check). */
static bool precision_valid(const char *p)
{
	int64_t unit_ns;
	return !p || !*p || dp_line_precision(p, &unit_ns) == 0;
}

/*
 * A write that ran to the end with bad lines or refused points: InfluxDB's
 * "partial write: <errors> dropped=N" (N: points the store refused), or
 * just the parse errors when no line was good.
 */
static enum MHD_Result reply_partial(struct MHD_Connection *c, struct http_req *rq,
				     const struct mg_write_report *rep)
{
	char msg[MG_WRITE_ERRORS_MAX * 168];
	size_t n = 0;
	for (uint32_t i = 0; i < rep->nerrors && i < MG_WRITE_ERRORS_MAX; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s", i ? "\n" : "", rep->errors[i]);
	if (rep->lines_bad == rep->lines && rep->points_refused == 0 && n)
		return reply_error(c, rq, 400, "%s", msg);
	return reply_error(c, rq, 400, "partial write:%s%s dropped=%" PRIu64, n ? " " : "", msg,
			   rep->points_refused);
}

static enum MHD_Result write_outcome(struct MHD_Connection *c, struct http_req *rq, int rc,
				     const struct mg_write_req *req,
				     const struct mg_write_report *rep)
{
	switch (rc) {
	case 0:
		if (rep->lines_bad == 0 && rep->points_refused == 0)
			return reply(c, rq, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
		return reply_partial(c, rq, rep);
	case -ENOENT:
		return reply_error(c, rq, 404, "database not found: \"%s\"", req->db);
	case -EINVAL:   /* nothing was read: a bad precision or database name */
		if (!precision_valid(req->precision))
			return reply_error(c, rq, 400, "invalid precision \"%s\"", req->precision);
		return reply_error(c, rq, 400, "invalid database name \"%s\"", req->db);
	case -ETIMEDOUT:
		return reply_error(c, rq, 500, "timeout");
	default:
		return reply_error(c, rq, 500, "write failed: %s", strerror(-rc));
	}
}

static enum MHD_Result do_write(struct MHD_Connection *c, struct http_req *rq)
{
	struct mg_http *h = rq->h;
	/* InfluxDB reads db, rp, precision from the URL only for /write */
	const char *db = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "db");
	if (!db || !*db)
		return reply_error(c, rq, 400, "database is required");
	const char *body = rq->body ? rq->body : "";
	size_t len = rq->len;
	char *inflated = NULL;
	const char *enc = header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (enc && !strcasecmp(enc, "gzip")) {
		int rc = mg_http_inflate(body, len, h->max_body, &inflated, &len);
		if (rc == -EFBIG)
			return reply_error(c, rq, 413, "Request Entity Too Large");
		if (rc == -ENOMEM)
			return reply_error(c, rq, 500, "out of memory");
		if (rc)
			return reply_error(c, rq, 400, "bad gzip body: not gzip, corrupt or truncated");
		body = inflated;
	}
	struct mg_write_req req = {
		.db = db,
		.precision = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "precision"),
		.body = body,
		.len = len,
		.now_ns = cm_now_ns(),
	};
	struct mg_write_report rep;
	memset(&rep, 0, sizeof(rep));
	int rc = mg_svc_write(h->svc, &req, &rep);
	enum MHD_Result ret = write_outcome(c, rq, rc, &req, &rep);
	free(inflated);
	return ret;
}

/* ------------------------------------------------------------ /query */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct mg_result_buf *b = cls;
	if (pos >= b->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = CM_MIN(max, b->len - (size_t)pos);
	memcpy(buf, b->p + pos, n);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct mg_result_buf *b = cls;
	free(b->p);
	free(b);
}

/* Send b's documents with an unknown length: chunked transfer encoding (b taken). */
static enum MHD_Result reply_stream(struct MHD_Connection *c, struct http_req *rq,
				    struct mg_result_buf *b)
{
	struct mg_result_buf *sb = malloc(sizeof(*sb));
	if (!sb) {
		free(b->p);
		return MHD_NO;
	}
	*sb = *b;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK_BLOCK,
								       stream_read, sb, stream_free);
	if (!resp)
		stream_free(sb);
	return queue(c, rq, MHD_HTTP_OK, resp, "application/json");
}

/* chunk_size=: InfluxDB falls back to the default for anything but a positive integer. */
static uint64_t chunk_size_of(const char *s, uint64_t def)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return def;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	return errno || *end || v == 0 ? def : (uint64_t)v;
}

/* Run q through the service and answer with its result, or the error. */
static enum MHD_Result do_query(struct MHD_Connection *c, struct http_req *rq)
{
	struct mg_http *h = rq->h;
	if (rq->body && is_form(c))
		rq->nform = mg_http_form_parse(rq->body, rq->len, rq->form, FORM_PAIRS_MAX);
	const char *q = param(c, rq, "q");
	if (!q || !*q)
		return reply_error(c, rq, 400, "missing required parameter \"q\"");
	enum mg_epoch epoch;
	const char *ep = param(c, rq, "epoch");
	if (mg_epoch_parse(ep, &epoch))
		return reply_error(c, rq, 400, "invalid epoch \"%s\": want ns, u, ms, s, m or h", ep);
	const struct mg_json_opts o = {.epoch = epoch, .pretty = param_true(c, rq, "pretty")};
	bool chunked = param_true(c, rq, "chunked");
	uint64_t chunk = chunk_size_of(param(c, rq, "chunk_size"), h->chunk_size);
	const char *db = param(c, rq, "db");
	char origin[96], err[1024] = "";
	origin_of(c, origin, sizeof(origin));
	struct mg_query_req req = {
		.text = q, .len = strlen(q), .db = db && *db ? db : NULL, .origin = origin,
	};
	struct mg_result *res = NULL;
	int rc = mg_svc_query(h->svc, &req, &res, err, sizeof(err));
	if (rc == -EINVAL)
		return reply_error(c, rq, 400, "error parsing query: %s", err);
	if (rc)
		return reply_error(c, rq, 500, "%s", err[0] ? err : strerror(-rc));
	struct mg_result_buf b = {0};
	rc = chunked ? mg_result_json_chunked(res, &o, chunk, mg_result_buf_write, &b) :
		       mg_result_json(res, &o, mg_result_buf_write, &b);
	if (rc == 0 && !chunked)
		rc = mg_result_buf_write(&b, "\n", 1);
	mg_result_free(res);
	if (rc) {
		free(b.p);
		return reply_error(c, rq, 500, "out of memory");
	}
	if (chunked)
		return reply_stream(c, rq, &b);
	return reply(c, rq, MHD_HTTP_OK, "application/json", b.p, b.len);
}

/* ------------------------------------------------ /ping, /health, /metrics */

static enum MHD_Result do_ping(struct MHD_Connection *c, struct http_req *rq)
{
	const char *v = param(c, rq, "verbose");
	if (!v || !*v || !strcmp(v, "0") || !strcmp(v, "false"))
		return reply(c, rq, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
	return reply_json(c, rq, MHD_HTTP_OK,
			  json_pack("{s:s}", "version", mg_svc_version(rq->h->svc)));
}

static enum MHD_Result do_health(struct MHD_Connection *c, struct http_req *rq)
{
	bool ok = mg_svc_healthy(rq->h->svc);
	json_t *j = json_pack("{s:s,s:s,s:s,s:[],s:s}", "name", "streamflow", "message",
			      ok ? "ready for queries and writes" : "not ready", "status",
			      ok ? "pass" : "fail", "checks", "version",
			      mg_svc_version(rq->h->svc));
	return reply_json(c, rq, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

static int metrics_stat(void *arg, const struct mg_stat *s)
{
	return mg_http_prom_stat(s, mg_result_buf_write, arg);
}

static int metrics_histo(void *arg, const struct mg_histo *hi)
{
	return mg_http_prom_histo(hi, mg_result_buf_write, arg);
}

static enum MHD_Result do_metrics(struct MHD_Connection *c, struct http_req *rq)
{
	struct mg_result_buf b = {0};
	int rc = mg_svc_stats(rq->h->svc, metrics_stat, &b);
	if (rc == 0)
		rc = mg_svc_histograms(rq->h->svc, metrics_histo, &b);
	if (rc) {
		free(b.p);
		return reply_error(c, rq, 500, "metrics: %s", strerror(rc < 0 ? -rc : EIO));
	}
	return reply(c, rq, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
}

/* ------------------------------------------------------------ routing */

typedef enum MHD_Result (*endpoint_fn)(struct MHD_Connection *c, struct http_req *rq);

struct route {
	const char *path;
	const char *methods;        /* the Allow header */
	enum mg_req_kind kind;
	bool takes_body;            /* read it (bounded); other routes discard theirs */
	endpoint_fn run;            /* at the end of the body */
};

static const struct route routes[] = {
	{"/write", "POST", MG_REQ_WRITE, true, do_write},
	{"/query", "GET, POST", MG_REQ_QUERY, true, do_query},
	{"/ping", "GET, HEAD", MG_REQ_OTHER, false, do_ping},
	{"/health", "GET, HEAD", MG_REQ_OTHER, false, do_health},
	{"/metrics", "GET, HEAD", MG_REQ_OTHER, false, do_metrics},
};

static const struct route *route_of(const char *url)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(routes); i++)
		if (!strcmp(url, routes[i].path))
			return &routes[i];
	return NULL;
}

/* Whether method is in the comma-separated list. */
static bool method_in(const char *method, const char *list)
{
	size_t n = strlen(method);
	for (const char *p = list; (p = strstr(p, method)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * First call, headers read: answer 404, 405 and 413 without reading the
 * body. MHD calls the handler no more once a response is queued, so later
 * calls always have a route.
 */
static enum MHD_Result begin(struct MHD_Connection *c, struct http_req *rq, const char *method)
{
	const struct route *rt = rq->route;
	if (!rt)
		return reply_text(c, rq, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	if (!method_in(method, rt->methods))
		return reply_text(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n",
				  rt->methods);
	const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (rt->takes_body && cl && strtoull(cl, NULL, 10) > rq->h->max_body)
		return reply_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "Request Entity Too Large");
	return MHD_YES;
}

/* Body pieces: kept up to http.max_body (NUL-terminated), the rest discarded. */
static void body_append(struct http_req *rq, const char *p, size_t n)
{
	if (!rq->route->takes_body || rq->too_large || rq->no_mem)
		return;
	if (n > rq->h->max_body - rq->len) {
		rq->too_large = true;
		free(rq->body);
		rq->body = NULL;
		rq->len = rq->cap = 0;
		return;
	}
	if (rq->len + n + 1 > rq->cap) {
		/* doubling from 64 KiB, but never past the largest body + its NUL */
		size_t ncap = CM_MAX(rq->cap * 2, rq->len + n + 1);
		ncap = CM_MAX(ncap, (size_t)65536);
		ncap = CM_MIN(ncap, rq->h->max_body + 1);
		char *b = realloc(rq->body, ncap);
		if (!b) {
			rq->no_mem = true;
			return;
		}
		rq->body = b;
		rq->cap = ncap;
	}
	memcpy(rq->body + rq->len, p, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
}

/* End of the body: run the endpoint. */
static enum MHD_Result finish(struct MHD_Connection *c, struct http_req *rq)
{
	assert(rq->route);
	if (rq->too_large)
		return reply_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "Request Entity Too Large");
	if (rq->no_mem)
		return reply_error(c, rq, 500, "out of memory");
	return rq->route->run(c, rq);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http_req *rq = *con_cls;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->h = cls;
		rq->t0_ns = cm_mono_ns();
		rq->route = route_of(url);
		*con_cls = rq;
		return begin(c, rq, method);
	}
	if (*upload_size) {
		body_append(rq, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return finish(c, rq);
}

/* The request is over (answered, or the client went away): report it, free it. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	struct mg_http *h = cls;
	struct http_req *rq = *con_cls;
	if (!rq)
		return;
	/* 499 (nginx's "client closed request"): no response was queued */
	mg_svc_note_request(h->svc, MG_FRONT_HTTP, rq->route ? rq->route->kind : MG_REQ_OTHER,
			    rq->status ? (int)rq->status : 499, cm_mono_ns() - rq->t0_ns);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	CM_LOG_RL(CM_LOG_WARN, "http", "event=mhd msg=\"%s\"", msg);
}

/* ------------------------------------------------------------ start, stop */

/* A bound, listening, non-blocking socket for ss; its port. 0 or -errno. */
static int open_listener(const struct sockaddr_storage *ss, socklen_t sl, int *fd_out,
			 uint16_t *port)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	struct sockaddr_storage b;
	socklen_t bl = sizeof(b);
	if (bind(fd, (const struct sockaddr *)ss, sl) || listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&b, &bl)) {
		int e = errno;
		close(fd);
		return -e;
	}
	*port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port :
						 ((struct sockaddr_in *)&b)->sin_port);
	*fd_out = fd;
	return 0;
}

int mg_http_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_http **out,
		  char *err, size_t errlen)
{
	*out = NULL;
	const char *listen_at = cm_config_str(cfg, "http.listen");
	if (!strcmp(listen_at, "off"))
		return 0;
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc = mg_http_parse_listen(listen_at, &ss, &sl, err, errlen);
	if (rc)
		return rc;
	struct mg_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->svc = svc;
	h->max_body = (size_t)cm_config_int(cfg, "http.max_body");
	h->chunk_size = (uint64_t)cm_config_int(cfg, "http.chunk_size");
	h->id_base = (uint64_t)cm_now_ns();
	int fd = -1;
	rc = open_listener(&ss, sl, &fd, &h->port);
	if (rc) {
		snprintf(err, errlen, "http.listen \"%s\": %s", listen_at, strerror(-rc));
		free(h);
		return rc;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			 (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL :
										 MHD_USE_POLL) |
			 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,         /* first, as MHD asks */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cm_config_int(cfg, "http.threads"),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cm_config_int(cfg, "http.max_connections"),
		MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_END);
	if (!h->mhd) {
		/* libmicrohttpd closes the listening socket on its failure paths */
		snprintf(err, errlen, "http.listen \"%s\": libmicrohttpd did not start (see the log)",
			 listen_at);
		free(h);
		return -EIO;
	}
	CM_LOG_INFO("http", "event=listening addr=%s port=%u threads=%d", listen_at, h->port,
		    (int)cm_config_int(cfg, "http.threads"));
	*out = h;
	return 0;
}

void mg_http_stop(struct mg_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}

uint16_t mg_http_port(const struct mg_http *h)
{
	return h ? h->port : 0;
}
