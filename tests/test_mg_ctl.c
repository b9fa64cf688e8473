/*
 * test_mg_ctl.c - the management socket: the request decoder (a table of
 * must-parse and must-reject lines), and the server end to end over a real
 * Unix socket against a scripted service: every command's response, errors
 * and their codes, pipelining, raw write bodies (split across sends, cut
 * short, over the limit, pipelined), bounds (line length, write size,
 * connections), the socket file's life (directory, mode, stale file, live
 * daemon, not a socket, removal) and a prompt stop.
 *
 * The service here is a test double: this file defines the mg_svc_*
 * functions mg_ctl.c calls, so the linker never takes mg_svc.o from the
 * library. Results are real (mg_result.c) so the embedded JSON is the
 * encoder's.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_clock.h"
#include "cm_compiler.h"
#include "cm_config.h"
#include "mg_ctl.h"
#include "mg_svc.h"
#include "tst_util.h"

/* ============================================================ the service */

struct mg_svc {
	pthread_mutex_t lock;
	size_t max_body;
	int flushes, shutdowns;
	int notes[3];               /* per enum mg_req_kind */
	int last_status;
	char origin[64];
	char db[64];
	char precision[8];
	char body[256];             /* the last write's body, cut to fit (may hold NULs) */
	size_t body_len;            /* its whole length */
	uint64_t body_hash;         /* FNV-1a of all of it */
	int writes;
};

static struct mg_svc fake = {.lock = PTHREAD_MUTEX_INITIALIZER, .max_body = 4096};

/* A result: cpu{host="a\nb"} time,max with two rows, or a failed statement. */
static struct mg_result *make_result(bool fail)
{
	struct mg_result *r = mg_result_create();
	struct mg_stmt_result *s = mg_result_add_stmt(r, 0);
	if (fail) {
		mg_result_set_error(r, s, "unknown function nope()");
		return r;
	}
	struct mg_tagpair tag = {"host", "a\nb"};
	const char *cols[] = {"time", "max"};
	struct mg_series *se = mg_result_add_series(r, s, "cpu", &tag, 1, cols, 2);
	struct mg_cell row[2] = {{.type = MG_CELL_TIME, .i = 1000000000},
				 {.type = MG_CELL_F64, .f = 1.5}};
	mg_result_add_row(r, se, row);
	row[0].i = 2000000000;
	row[1].f = 2.0;
	mg_result_add_row(r, se, row);
	return r;
}

int mg_svc_query(struct mg_svc *svc, const struct mg_query_req *req, struct mg_result **out,
		 char *err, size_t errlen)
{
	pthread_mutex_lock(&svc->lock);
	snprintf(svc->origin, sizeof(svc->origin), "%s", req->origin ? req->origin : "");
	snprintf(svc->db, sizeof(svc->db), "%s", req->db ? req->db : "(default)");
	pthread_mutex_unlock(&svc->lock);
	if (req->len >= 3 && memcmp(req->text, "BAD", 3) == 0) {
		snprintf(err, errlen, "found BAD, expected SELECT at line 1, char 1");
		return -EINVAL;
	}
	*out = make_result(req->len == 4 && memcmp(req->text, "FAIL", 4) == 0);
	return 0;
}

int mg_svc_queries(struct mg_svc *svc, mg_query_fn fn, void *arg)
{
	(void)svc;
	struct mg_query_info q = {.id = 7, .text = "SELECT max(v) FROM cpu", .db = NULL,
				  .origin = "http 127.0.0.1:5512", .started_ns = cm_now_ns() - 1000,
				  .points_scanned = 12345};
	return fn(arg, &q);
}

int mg_svc_kill(struct mg_svc *svc, uint64_t id)
{
	(void)svc;
	return id == 7 ? 0 : -ENOENT;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
	return h;
}

int mg_svc_write(struct mg_svc *svc, const struct mg_write_req *req, struct mg_write_report *rep)
{
	pthread_mutex_lock(&svc->lock);
	memset(svc->body, 0, sizeof(svc->body));
	memcpy(svc->body, req->body, CM_MIN(req->len, sizeof(svc->body) - 1));
	svc->body_len = req->len;
	svc->body_hash = fnv1a(req->body, req->len);
	svc->writes++;
	snprintf(svc->db, sizeof(svc->db), "%s", req->db ? req->db : "(default)");
	snprintf(svc->precision, sizeof(svc->precision), "%s", req->precision ? req->precision : "");
	pthread_mutex_unlock(&svc->lock);
	if (req->db && strcmp(req->db, "nodb") == 0)
		return -ENOENT;
	for (size_t i = 0; i < req->len; i++)
		rep->lines += req->body[i] == '\n';
	if (memmem(req->body, req->len, "bad", 3)) {
		rep->lines_bad = 1;
		snprintf(rep->errors[rep->nerrors++], sizeof(rep->errors[0]), "unable to parse 'bad'");
	}
	rep->points = rep->points_stored = 2 * (rep->lines - rep->lines_bad);
	return 0;
}

size_t mg_svc_max_body(const struct mg_svc *svc)
{
	return svc->max_body;
}

int mg_svc_stats(struct mg_svc *svc, mg_stat_fn fn, void *arg)
{
	(void)svc;
	static const struct mg_stat s[] = {{"rx.packets", 10, MG_STAT_COUNTER},
					   {"store.points", 20, MG_STAT_COUNTER},
					   {"rx.queue", 3, MG_STAT_GAUGE}};
	for (size_t i = 0; i < CM_ARRAY_SIZE(s); i++) {
		int rc = fn(arg, &s[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int mg_svc_histograms(struct mg_svc *svc, mg_histo_fn fn, void *arg)
{
	(void)svc;
	struct mg_histo h = {.name = "query.duration_seconds", .help = "query time",
			     .nbuckets = 2, .le = {0.01, 1}, .cumulative = {4, 5}, .count = 6,
			     .sum = 2.5};
	return fn(arg, &h);
}

void mg_svc_note_request(struct mg_svc *svc, enum mg_front front, enum mg_req_kind kind,
			 int status, int64_t elapsed_ns)
{
	assert_int_equal(front, MG_FRONT_SOCKET);
	assert_true(elapsed_ns >= 0);
	pthread_mutex_lock(&svc->lock);
	svc->notes[kind]++;
	svc->last_status = status;
	pthread_mutex_unlock(&svc->lock);
}

/* Two lines, written in pieces that split them. */
int mg_svc_config(struct mg_svc *svc, mg_write_fn fn, void *arg)
{
	(void)svc;
	static const char a[] = "mgmt.soc", b[] = "ket = /x.sock\nwal.durability = sync\n";
	int rc = fn(arg, a, sizeof(a) - 1);
	return rc ? rc : fn(arg, b, sizeof(b) - 1);
}

int mg_svc_flush(struct mg_svc *svc)
{
	pthread_mutex_lock(&svc->lock);
	svc->flushes++;
	pthread_mutex_unlock(&svc->lock);
	return 0;
}

int mg_svc_tiers(struct mg_svc *svc, mg_write_fn fn, void *arg)
{
	(void)svc;
	static const char text[] = "hot.blocks 3\ncold.blocks 0";   /* no final newline */
	return fn(arg, text, sizeof(text) - 1);
}

void mg_svc_shutdown(struct mg_svc *svc)
{
	pthread_mutex_lock(&svc->lock);
	svc->shutdowns++;
	pthread_mutex_unlock(&svc->lock);
}

const char *mg_svc_version(const struct mg_svc *svc)
{
	(void)svc;
	return "0.1.0-test";
}

bool mg_svc_healthy(const struct mg_svc *svc)
{
	(void)svc;
	return true;
}

/* ============================================================== decoding */

struct parse_case {
	const char *line;
	int rc;
	enum mg_ctl_cmd cmd;
	const char *why;            /* a part of the error message */
};

static const struct parse_case must_parse[] = {
	{"{\"cmd\":\"ping\"}", 0, MG_CTL_PING, NULL},
	{"  {\"cmd\" : \"flush\"}  ", 0, MG_CTL_FLUSH, NULL},
	{"{\"cmd\":\"query\",\"q\":\"SELECT 1\",\"db\":\"d\",\"epoch\":\"ms\"}", 0, MG_CTL_QUERY, NULL},
	{"{\"q\":\"x\",\"cmd\":\"query\"}", 0, MG_CTL_QUERY, NULL},
	{"{\"cmd\":\"stats\",\"prefix\":\"rx.\"}", 0, MG_CTL_STATS, NULL},
	{"{\"cmd\":\"kill\",\"id\":42}", 0, MG_CTL_KILL, NULL},
	{"{\"cmd\":\"write\",\"lines\":\"\"}", 0, MG_CTL_WRITE, NULL},
	{"{\"cmd\":\"write\",\"lines\":\"x\",\"precision\":\"n\"}", 0, MG_CTL_WRITE, NULL},
	{"{\"cmd\":\"write\",\"lines\":\"x\",\"precision\":\"h\"}", 0, MG_CTL_WRITE, NULL},
	{"{\"cmd\":\"write\",\"bytes\":0}", 0, MG_CTL_WRITE, NULL},
	{"{\"cmd\":\"write\",\"db\":\"d\",\"precision\":\"ns\",\"bytes\":1600000}", 0, MG_CTL_WRITE,
	 NULL},
	{"{\"bytes\":67108864,\"cmd\":\"write\"}", 0, MG_CTL_WRITE, NULL},
	{"{\"cmd\":\"shutdown\"}", 0, MG_CTL_SHUTDOWN, NULL},
	{"{\"cmd\":\"config\"}", 0, MG_CTL_CONFIG, NULL},
	{"{\"cmd\":\"tiers\"}", 0, MG_CTL_TIERS, NULL},
	{"{\"cmd\":\"queries\"}", 0, MG_CTL_QUERIES, NULL},
};

static const struct parse_case must_reject[] = {
	{"", -EINVAL, 0, "bad JSON"},
	{"nope", -EINVAL, 0, "bad JSON"},
	{"[1]", -EINVAL, 0, "JSON object"},
	{"\"ping\"", -EINVAL, 0, "bad JSON"},       /* not an object or array: a decode error */
	{"{}", -EINVAL, 0, "missing \"cmd\""},
	{"{\"cmd\":1}", -EINVAL, 0, "missing \"cmd\""},
	{"{\"cmd\":\"nope\"}", -EINVAL, 0, "unknown command \"nope\""},
	{"{\"cmd\":\"query\"}", -EINVAL, 0, "needs \"q\""},
	{"{\"cmd\":\"query\",\"q\":\"\"}", -EINVAL, 0, "empty"},
	{"{\"cmd\":\"query\",\"q\":1}", -EINVAL, 0, "\"q\" must be a string"},
	{"{\"cmd\":\"query\",\"q\":\"x\",\"db\":null}", -EINVAL, 0, "\"db\" must be a string"},
	{"{\"cmd\":\"ping\",\"q\":\"x\"}", -EINVAL, 0, "unexpected field \"q\" for \"ping\""},
	{"{\"cmd\":\"ping\",\"zz\":1}", -EINVAL, 0, "unknown field \"zz\""},
	{"{\"cmd\":\"query\",\"q\":\"x\",\"epoch\":\"fortnight\"}", -EINVAL, 0, "unknown epoch"},
	{"{\"cmd\":\"kill\"}", -EINVAL, 0, "needs \"id\""},
	{"{\"cmd\":\"kill\",\"id\":-1}", -EINVAL, 0, "\"id\""},
	{"{\"cmd\":\"kill\",\"id\":1.5}", -EINVAL, 0, "\"id\""},
	{"{\"cmd\":\"kill\",\"id\":\"12a\"}", -EINVAL, 0, "\"id\""},
	{"{\"cmd\":\"kill\",\"id\":\"\"}", -EINVAL, 0, "\"id\""},
	{"{\"cmd\":\"kill\",\"id\":\"99999999999999999999\"}", -EINVAL, 0, "\"id\""},
	{"{\"cmd\":\"write\"}", -EINVAL, 0, "\"write\" needs \"lines\" or \"bytes\""},
	{"{\"cmd\":\"write\",\"db\":\"d\"}", -EINVAL, 0, "needs \"lines\" or \"bytes\""},
	{"{\"cmd\":\"write\",\"lines\":\"x\",\"bytes\":1}", -EINVAL, 0, "\"lines\" or \"bytes\", not both"},
	{"{\"cmd\":\"write\",\"bytes\":0,\"lines\":\"\"}", -EINVAL, 0, "not both"},
	{"{\"cmd\":\"write\",\"bytes\":-1}", -EINVAL, 0, "\"bytes\" must be the body's length"},
	{"{\"cmd\":\"write\",\"bytes\":1.5}", -EINVAL, 0, "\"bytes\" must be"},
	{"{\"cmd\":\"write\",\"bytes\":1e3}", -EINVAL, 0, "\"bytes\" must be"},
	{"{\"cmd\":\"write\",\"bytes\":\"10\"}", -EINVAL, 0, "\"bytes\" must be"},
	{"{\"cmd\":\"write\",\"bytes\":null}", -EINVAL, 0, "\"bytes\" must be"},
	{"{\"cmd\":\"write\",\"bytes\":true}", -EINVAL, 0, "\"bytes\" must be"},
	{"{\"cmd\":\"write\",\"bytes\":67108865}", -EMSGSIZE, 0,
	 "\"bytes\" is over the limit of 67108864 bytes"},
	{"{\"cmd\":\"write\",\"bytes\":99999999999999999999}", -EINVAL, 0, "bad JSON"},
	{"{\"cmd\":\"ping\",\"bytes\":3}", -EINVAL, 0, "unexpected field \"bytes\" for \"ping\""},
	{"{\"cmd\":\"write\",\"bytes\":1,\"bytes\":2}", -EINVAL, 0, "duplicate"},
	{"{\"cmd\":\"write\",\"lines\":\"x\",\"precision\":\"d\"}", -EINVAL, 0, "unknown precision"},
	{"{\"cmd\":\"write\",\"lines\":\"x\",\"precision\":\"\"}", -EINVAL, 0, "unknown precision"},
	{"{\"cmd\":\"ping\",\"cmd\":\"ping\"}", -EINVAL, 0, "duplicate"},
	{"{\"cmd\":\"query\",\"q\":\"a\\u0000b\"}", -EINVAL, 0, "bad JSON"},
	{"{\"cmd\":\"ping\"} {\"cmd\":\"ping\"}", -EINVAL, 0, "bad JSON"},
	{"{\"cmd\":\"\xff\"}", -EINVAL, 0, "bad JSON"},
	{"{\"cmd\":\"ping\"", -EINVAL, 0, "bad JSON"},
};

static void test_mg_ctl__parse_table(void **state)
{
	(void)state;
	char err[256];
	for (size_t i = 0; i < CM_ARRAY_SIZE(must_parse); i++) {
		struct mg_ctl_req r;
		err[0] = '\0';
		int rc = mg_ctl_parse_request(must_parse[i].line, strlen(must_parse[i].line), &r,
					      err, sizeof(err));
		if (rc)
			fail_msg("must parse: %s: %s", must_parse[i].line, err);
		assert_int_equal(r.cmd, must_parse[i].cmd);
		mg_ctl_req_release(&r);
	}
	for (size_t i = 0; i < CM_ARRAY_SIZE(must_reject); i++) {
		struct mg_ctl_req r;
		err[0] = '\0';
		int rc = mg_ctl_parse_request(must_reject[i].line, strlen(must_reject[i].line), &r,
					      err, sizeof(err));
		if (rc != must_reject[i].rc || !strstr(err, must_reject[i].why))
			fail_msg("must reject: %s: rc %d, err '%s', want '%s'", must_reject[i].line,
				 rc, err, must_reject[i].why);
		assert_null(r.doc);
		mg_ctl_req_release(&r);   /* harmless on a failed parse */
	}
}

static void test_mg_ctl__parse_fields(void **state)
{
	(void)state;
	char err[256];
	struct mg_ctl_req r;
	const char *q = "{\"cmd\":\"query\",\"q\":\"SELECT \\\"v\\\" FROM m\",\"db\":\"d1\","
			"\"epoch\":\"ms\"}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_string_equal(r.q, "SELECT \"v\" FROM m");
	assert_int_equal(r.qlen, strlen(r.q));
	assert_string_equal(r.db, "d1");
	assert_int_equal(r.epoch, MG_EPOCH_MS);
	mg_ctl_req_release(&r);

	/* defaults: epoch ns, empty db is the default database */
	q = "{\"cmd\":\"query\",\"q\":\"x\",\"db\":\"\"}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_int_equal(r.epoch, MG_EPOCH_NS);
	assert_null(r.db);
	mg_ctl_req_release(&r);
	q = "{\"cmd\":\"query\",\"q\":\"x\",\"epoch\":\"rfc3339\"}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_int_equal(r.epoch, MG_EPOCH_RFC3339);
	mg_ctl_req_release(&r);
	q = "{\"cmd\":\"query\",\"q\":\"x\",\"epoch\":\"\"}";     /* "" is RFC 3339 too */
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_int_equal(r.epoch, MG_EPOCH_RFC3339);
	mg_ctl_req_release(&r);

	q = "{\"cmd\":\"kill\",\"id\":\"18446744073709551615\"}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_true(r.id == UINT64_MAX);
	mg_ctl_req_release(&r);

	q = "{\"cmd\":\"write\",\"db\":\"w\",\"precision\":\"ms\",\"lines\":\"cpu v=1 1\\ncpu v=2 2\\n\"}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_string_equal(r.lines, "cpu v=1 1\ncpu v=2 2\n");
	assert_int_equal(r.lines_len, 20);
	assert_string_equal(r.precision, "ms");
	assert_string_equal(r.db, "w");
	mg_ctl_req_release(&r);

	/* a line need not be NUL-terminated: only len bytes are read */
	char buf[32];
	memcpy(buf, "{\"cmd\":\"ping\"}XXXXXXXXXXXXXXXXX", 32);
	assert_int_equal(mg_ctl_parse_request(buf, 14, &r, err, sizeof(err)), 0);
	mg_ctl_req_release(&r);
	assert_string_equal(mg_ctl_cmd_name(MG_CTL_WRITE), "write");
	assert_string_equal(mg_ctl_cmd_name(MG_CTL__COUNT), "unknown");
}

/* "bytes": the raw form's length, and has_body on a line that fails (the server closes then). */
static void test_mg_ctl__parse_bytes(void **state)
{
	(void)state;
	char err[256];
	struct mg_ctl_req r;
	const char *q = "{\"cmd\":\"write\",\"db\":\"w\",\"precision\":\"s\",\"bytes\":1234}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_true(r.has_body);
	assert_int_equal(r.body_len, 1234);
	assert_null(r.lines);
	assert_string_equal(r.db, "w");
	assert_string_equal(r.precision, "s");
	mg_ctl_req_release(&r);
	assert_false(r.has_body);
	q = "{\"cmd\":\"write\",\"bytes\":0}";
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_true(r.has_body);
	assert_int_equal(r.body_len, 0);
	mg_ctl_req_release(&r);
	q = "{\"cmd\":\"write\",\"lines\":\"x v=1\"}";   /* the simple form has no body */
	assert_int_equal(mg_ctl_parse_request(q, strlen(q), &r, err, sizeof(err)), 0);
	assert_false(r.has_body);
	assert_int_equal(r.body_len, 0);
	mg_ctl_req_release(&r);

	/* failures: has_body says whether the line asked for a body, nothing else is set */
	static const struct {
		const char *line;
		bool body;
	} failed[] = {
		{"{\"cmd\":\"write\",\"lines\":\"x\",\"bytes\":3}", true},
		{"{\"cmd\":\"write\",\"bytes\":-3}", true},
		{"{\"cmd\":\"write\",\"bytes\":67108865}", true},
		{"{\"cmd\":\"ping\",\"bytes\":3}", true},
		{"{\"cmd\":\"nope\",\"bytes\":3}", true},
		{"{\"cmd\":\"write\",\"bytes\":3,}", true},          /* not JSON: by its text */
		{"{\"cmd\":\"write\",\"bytes\":3,\"bytes\":3}", true},
		{"[\"bytes\"]", true},
		{"{\"cmd\":\"write\"}", false},
		{"{\"cmd\":\"query\",\"q\":\"x\",\"zz\":\"bytes\"}", false},   /* a value, not a member */
		{"{\"cmd\":\"write\",\"lines\":1}", false},
		{"not json", false},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(failed); i++) {
		int rc = mg_ctl_parse_request(failed[i].line, strlen(failed[i].line), &r, err,
					      sizeof(err));
		if (rc == 0 || r.has_body != failed[i].body)
			fail_msg("%s: rc %d has_body %d", failed[i].line, rc, r.has_body);
		assert_null(r.doc);
		assert_null(r.lines);
		assert_int_equal(r.body_len, 0);
	}
}

/* ================================================================ server */

struct srv {
	char dir[64];
	char path[108];         /* sizeof(sun_path) */
	struct cm_config *cfg;
	struct mg_ctl *ctl;
};

static const struct cm_cfg_table *const tables[] = {&mg_ctl_cfg_table};

static void cfg_make(struct srv *s, const char *clients, const char *mode)
{
	char err[256], p[400], cl[64], md[64];
	assert_int_equal(cm_config_create(tables, 1, &s->cfg, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "mgmt.socket=%s", s->path);
	snprintf(cl, sizeof(cl), "mgmt.socket_clients=%s", clients);
	snprintf(md, sizeof(md), "mgmt.socket_mode=%s", mode);
	const char *sets[] = {p, cl, md};
	if (cm_config_set_batch(s->cfg, sets, 3, err, sizeof(err)))
		fail_msg("config: %s", err);
}

/* A server on dir/run/sub/ctl.sock (the directories do not exist yet). */
static void srv_start(struct srv *s, const char *clients)
{
	assert_non_null(tst_tmpdir(s->dir, sizeof(s->dir), "test_mg_ctl"));
	snprintf(s->path, sizeof(s->path), "%s/run/sub/ctl.sock", s->dir);
	cfg_make(s, clients, "0640");
	char err[256] = "";
	int rc = mg_ctl_start(s->cfg, &fake, &s->ctl, err, sizeof(err));
	if (rc)
		fail_msg("start: %s", err);
	assert_non_null(s->ctl);
}

static void srv_stop(struct srv *s)
{
	mg_ctl_stop(s->ctl);
	cm_config_destroy(s->cfg);
	tst_rm_tree(s->dir);
}

static int cli_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cli_send(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;     /* the server closed: the response tells why */
		s += k;
		n -= (size_t)k;
	}
}

/* One response line (waits up to 60 s: a loaded sanitizer build is slow), parsed; NULL at EOF. */
static json_t *cli_read(int fd)
{
	static char line[1 << 16];
	size_t n = 0;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		assert_int_equal(poll(&p, 1, 60000), 1);
		ssize_t k = recv(fd, line + n, 1, 0);
		if (k <= 0)
			return NULL;
		if (line[n] == '\n')
			break;
		assert_true(++n < sizeof(line));
	}
	json_error_t je;
	json_t *j = json_loadb(line, n, 0, &je);
	if (!j)
		fail_msg("response is not JSON: %.*s", (int)n, line);
	return j;
}

static json_t *roundtrip(int fd, const char *req)
{
	cli_send(fd, req, strlen(req));
	cli_send(fd, "\n", 1);
	json_t *j = cli_read(fd);
	assert_non_null(j);
	return j;
}

static bool is_ok(const json_t *j)
{
	return json_is_true(json_object_get(j, "ok"));
}

static const char *code_of(const json_t *j)
{
	const char *c = json_string_value(json_object_get(j, "code"));
	return c ? c : "";
}

static void expect_error(int fd, const char *req, const char *code, const char *why)
{
	json_t *j = roundtrip(fd, req);
	const char *e = json_string_value(json_object_get(j, "error"));
	if (is_ok(j) || strcmp(code_of(j), code) || !e || !strstr(e, why))
		fail_msg("%s: got code '%s' error '%s', want '%s' '%s'", req, code_of(j),
			 e ? e : "", code, why);
	json_decref(j);
}

static void test_mg_ctl__commands(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	assert_true(fd >= 0);

	json_t *j = roundtrip(fd, "{\"cmd\":\"ping\"}");
	assert_true(is_ok(j));
	assert_string_equal(json_string_value(json_object_get(j, "version")), "0.1.0-test");
	assert_true(json_is_true(json_object_get(j, "healthy")));
	json_decref(j);

	/* stats: the prefix applies to counters and histograms */
	j = roundtrip(fd, "{\"cmd\":\"stats\",\"prefix\":\"rx.\"}");
	assert_true(is_ok(j));
	json_t *st = json_object_get(j, "stats");
	assert_int_equal(json_array_size(st), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "name")),
			    "rx.packets");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 0), "value")), 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 1), "kind")),
			    "gauge");
	assert_int_equal(json_array_size(json_object_get(j, "histograms")), 0);
	json_decref(j);
	j = roundtrip(fd, "{\"cmd\":\"stats\"}");
	assert_int_equal(json_array_size(json_object_get(j, "stats")), 3);
	json_t *h = json_array_get(json_object_get(j, "histograms"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "name")), "query.duration_seconds");
	assert_int_equal(json_array_size(json_object_get(h, "buckets")), 2);
	assert_int_equal(json_integer_value(json_object_get(h, "count")), 6);
	json_decref(j);

	/* config and tiers: whole lines, however the service wrote them */
	j = roundtrip(fd, "{\"cmd\":\"config\"}");
	json_t *lines = json_object_get(j, "lines");
	assert_int_equal(json_array_size(lines), 2);
	assert_string_equal(json_string_value(json_array_get(lines, 0)), "mgmt.socket = /x.sock");
	json_decref(j);
	j = roundtrip(fd, "{\"cmd\":\"tiers\"}");
	lines = json_object_get(j, "lines");
	assert_int_equal(json_array_size(lines), 2);
	assert_string_equal(json_string_value(json_array_get(lines, 1)), "cold.blocks 0");
	json_decref(j);

	j = roundtrip(fd, "{\"cmd\":\"queries\"}");
	json_t *q0 = json_array_get(json_object_get(j, "queries"), 0);
	assert_int_equal(json_integer_value(json_object_get(q0, "id")), 7);
	assert_true(json_is_null(json_object_get(q0, "db")));
	assert_true(json_integer_value(json_object_get(q0, "duration_ns")) >= 1000);
	json_decref(j);
	j = roundtrip(fd, "{\"cmd\":\"kill\",\"id\":7}");
	assert_true(is_ok(j));
	json_decref(j);
	expect_error(fd, "{\"cmd\":\"kill\",\"id\":8}", "not_found", "no running query with id 8");

	j = roundtrip(fd, "{\"cmd\":\"flush\"}");
	assert_true(is_ok(j));
	assert_int_equal(fake.flushes, 1);
	json_decref(j);
	close(fd);
	srv_stop(&s);
}

static void test_mg_ctl__query(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);

	json_t *j = roundtrip(fd, "{\"cmd\":\"query\",\"q\":\"SELECT max FROM cpu\",\"db\":\"d1\","
				  "\"epoch\":\"ms\"}");
	assert_true(is_ok(j));
	json_t *se = json_array_get(json_object_get(json_array_get(json_object_get(
		json_object_get(j, "result"), "results"), 0), "series"), 0);
	assert_string_equal(json_string_value(json_object_get(se, "name")), "cpu");
	assert_string_equal(json_string_value(json_object_get(json_object_get(se, "tags"), "host")),
			    "a\nb");
	json_t *row = json_array_get(json_object_get(se, "values"), 1);
	assert_int_equal(json_integer_value(json_array_get(row, 0)), 2000);   /* epoch=ms */
	assert_true(json_number_value(json_array_get(row, 1)) == 2.0);
	assert_string_equal(fake.db, "d1");
	char want[64];
	snprintf(want, sizeof(want), "socket pid=%d ", (int)getpid());
	assert_non_null(strstr(fake.origin, want));
	json_decref(j);

	/* the default epoch is ns */
	j = roundtrip(fd, "{\"cmd\":\"query\",\"q\":\"SELECT max FROM cpu\"}");
	se = json_array_get(json_object_get(json_array_get(json_object_get(
		json_object_get(j, "result"), "results"), 0), "series"), 0);
	row = json_array_get(json_object_get(se, "values"), 0);
	assert_int_equal(json_integer_value(json_array_get(row, 0)), 1000000000);
	assert_string_equal(fake.db, "(default)");
	json_decref(j);

	expect_error(fd, "{\"cmd\":\"query\",\"q\":\"BAD\"}", "parse", "found BAD, expected SELECT");
	/* a failed statement: an error, and the result is still there */
	j = roundtrip(fd, "{\"cmd\":\"query\",\"q\":\"FAIL\"}");
	assert_false(is_ok(j));
	assert_string_equal(code_of(j), "statement");
	assert_string_equal(json_string_value(json_object_get(j, "error")), "unknown function nope()");
	json_t *r0 = json_array_get(json_object_get(json_object_get(j, "result"), "results"), 0);
	assert_string_equal(json_string_value(json_object_get(r0, "error")), "unknown function nope()");
	json_decref(j);
	close(fd);
	srv_stop(&s);
}

static void test_mg_ctl__write(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);

	json_t *j = roundtrip(fd, "{\"cmd\":\"write\",\"db\":\"w\",\"precision\":\"s\","
				  "\"lines\":\"cpu v=1 1\\ncpu v=2 2\\n\"}");
	assert_true(is_ok(j));
	json_t *rep = json_object_get(j, "report");
	assert_int_equal(json_integer_value(json_object_get(rep, "lines")), 2);
	assert_int_equal(json_integer_value(json_object_get(rep, "points_stored")), 4);
	assert_int_equal(json_array_size(json_object_get(rep, "errors")), 0);
	assert_string_equal(fake.body, "cpu v=1 1\ncpu v=2 2\n");
	assert_string_equal(fake.precision, "s");
	assert_string_equal(fake.db, "w");
	json_decref(j);

	/* partial: ok false, code partial, and the counts */
	j = roundtrip(fd, "{\"cmd\":\"write\",\"lines\":\"cpu v=1\\nbad\\ncpu v=3\\n\"}");
	assert_false(is_ok(j));
	assert_string_equal(code_of(j), "partial");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "1 of 3 lines"));
	rep = json_object_get(j, "report");
	assert_int_equal(json_integer_value(json_object_get(rep, "lines_bad")), 1);
	assert_int_equal(json_integer_value(json_object_get(rep, "points_stored")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rep, "errors"), 0)),
			    "unable to parse 'bad'");
	json_decref(j);

	expect_error(fd, "{\"cmd\":\"write\",\"db\":\"nodb\",\"lines\":\"x v=1\"}", "not_found",
		     "database not found: \"nodb\"");
	/* over mg_svc_max_body: refused, the connection stays */
	char *big = malloc(fake.max_body + 64);
	int n = snprintf(big, 64, "{\"cmd\":\"write\",\"lines\":\"");
	memset(big + n, 'x', fake.max_body + 1);
	strcpy(big + n + fake.max_body + 1, "\"}");
	expect_error(fd, big, "too_large", "over the limit of 4096 bytes");
	free(big);
	j = roundtrip(fd, "{\"cmd\":\"ping\"}");
	assert_true(is_ok(j));
	json_decref(j);
	close(fd);
	srv_stop(&s);
}

/* ======================================================= raw write bodies */

/* Append a raw write (request line with extra members args, then body[n]) to b at *len. */
static void raw_put(char *b, size_t *len, const char *args, const char *body, size_t n)
{
	*len += (size_t)sprintf(b + *len, "{\"cmd\":\"write\"%s,\"bytes\":%zu}\n", args, n);
	memcpy(b + *len, body, n);
	*len += n;
}

static int writes_now(void)
{
	pthread_mutex_lock(&fake.lock);
	int n = fake.writes;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

static uint64_t report_u(const json_t *j, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(j, "report"), key));
}

/* Bytes JSON would escape (and a NUL), no final newline, the next request right behind. */
static void test_mg_ctl__raw_write(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	pthread_mutex_lock(&fake.lock);
	int wnotes0 = fake.notes[MG_REQ_WRITE];
	pthread_mutex_unlock(&fake.lock);

	static const char body[] = "cpu,host=\"a\\b\" v=1 1\r\ncpu v=2 2\n\0x\xff";
	const size_t n = sizeof(body) - 1;
	char b[256];
	size_t len = 0;
	raw_put(b, &len, ",\"db\":\"w\",\"precision\":\"s\"", body, n);
	len += (size_t)sprintf(b + len, "{\"cmd\":\"ping\"}\n");
	cli_send(fd, b, len);
	json_t *j = cli_read(fd);
	assert_true(is_ok(j));
	assert_int_equal(report_u(j, "lines"), 2);      /* the fake counts '\n' */
	json_decref(j);
	pthread_mutex_lock(&fake.lock);
	assert_int_equal(fake.body_len, n);
	assert_memory_equal(fake.body, body, n);
	assert_string_equal(fake.db, "w");
	assert_string_equal(fake.precision, "s");
	assert_int_equal(fake.notes[MG_REQ_WRITE] - wnotes0, 1);
	pthread_mutex_unlock(&fake.lock);
	j = cli_read(fd);
	assert_true(is_ok(j));
	assert_non_null(json_object_get(j, "version"));
	json_decref(j);

	/* an empty body; then the simple form still works on the same connection */
	j = roundtrip(fd, "{\"cmd\":\"write\",\"bytes\":0}");
	assert_true(is_ok(j));
	assert_int_equal(report_u(j, "lines"), 0);
	assert_int_equal(fake.body_len, 0);
	json_decref(j);
	j = roundtrip(fd, "{\"cmd\":\"write\",\"lines\":\"cpu v=1\\n\"}");
	assert_true(is_ok(j));
	assert_int_equal(report_u(j, "lines"), 1);
	json_decref(j);
	close(fd);
	srv_stop(&s);
}

/*
 * A 3 MiB body (larger than the 64 KiB input buffer) split across sends:
 * the line in two pieces, the first body bytes with its end, the rest in
 * pieces, the next request with the last one. Then a small body split the
 * same way.
 */
static void test_mg_ctl__raw_write_split(void **state)
{
	(void)state;
	size_t max0 = fake.max_body;
	fake.max_body = 8u << 20;       /* before the server's threads exist */
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	const size_t n = 3u << 20;
	char *body = malloc(n);
	assert_non_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
	char line[96];
	size_t ln = (size_t)sprintf(line, "{\"cmd\":\"write\",\"db\":\"big\",\"bytes\":%zu}\n", n);
	cli_send(fd, line, 10);
	cm_sleep_ns(10 * CM_NS_PER_MS);
	char *first = malloc(ln - 10 + 1000);
	memcpy(first, line + 10, ln - 10);
	memcpy(first + ln - 10, body, 1000);
	cli_send(fd, first, ln - 10 + 1000);
	free(first);
	size_t at = 1000, piece = (n - at) / 4;
	for (int i = 0; i < 3; i++, at += piece) {
		cm_sleep_ns(10 * CM_NS_PER_MS);
		cli_send(fd, body + at, piece);
	}
	cm_sleep_ns(10 * CM_NS_PER_MS);
	char *last = malloc(n - at + 16);
	memcpy(last, body + at, n - at);
	memcpy(last + n - at, "{\"cmd\":\"ping\"}\n", 15);
	cli_send(fd, last, n - at + 15);
	free(last);
	json_t *j = cli_read(fd);
	assert_true(is_ok(j));
	assert_int_equal(report_u(j, "lines"), n / 61);
	json_decref(j);
	pthread_mutex_lock(&fake.lock);
	assert_int_equal(fake.body_len, n);
	assert_true(fake.body_hash == fnv1a(body, n));
	assert_string_equal(fake.db, "big");
	pthread_mutex_unlock(&fake.lock);
	j = cli_read(fd);
	assert_true(is_ok(j));
	json_decref(j);

	/* small: "bytes":20 then the body byte by byte */
	static const char small[] = "cpu v=1 1\ncpu v=2 2\n";
	const char *req = "{\"cmd\":\"write\",\"bytes\":20}\n";
	cli_send(fd, req, strlen(req));
	for (size_t i = 0; i < 20; i++) {
		cm_sleep_ns(CM_NS_PER_MS);
		cli_send(fd, small + i, 1);
	}
	j = cli_read(fd);
	assert_true(is_ok(j));
	assert_int_equal(report_u(j, "lines"), 2);
	assert_string_equal(fake.body, small);
	json_decref(j);
	free(body);
	close(fd);
	srv_stop(&s);
	fake.max_body = max0;
}

/* A body that ends before its "bytes": an error, nothing is written, the connection closes. */
static void test_mg_ctl__raw_write_short(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int w0 = writes_now();
	int fd = cli_connect(s.path);
	const char req[] = "{\"cmd\":\"write\",\"bytes\":100}\ncpu v=1 1\n";
	cli_send(fd, req, sizeof(req) - 1);
	cm_sleep_ns(10 * CM_NS_PER_MS);
	cli_send(fd, "cpu v=2 2\n", 10);
	shutdown(fd, SHUT_WR);
	json_t *j = cli_read(fd);
	assert_non_null(j);
	assert_string_equal(code_of(j), "bad_request");
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "the body ended after 20 of 100 bytes");
	json_decref(j);
	assert_null(cli_read(fd));
	close(fd);
	/* a line at the end of input that announces a body */
	fd = cli_connect(s.path);
	const char eof_req[] = "{\"cmd\":\"write\",\"bytes\":5}";
	cli_send(fd, eof_req, sizeof(eof_req) - 1);
	shutdown(fd, SHUT_WR);
	j = cli_read(fd);
	assert_non_null(j);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "after 0 of 5"));
	json_decref(j);
	assert_null(cli_read(fd));
	close(fd);
	assert_int_equal(writes_now(), w0);
	srv_stop(&s);
}

/*
 * Over mg_svc_max_body: too_large, the body is read past and the connection
 * goes on. Over MG_CTL_BODY_MAX, or a line that asks for a body and does
 * not decode: the error, then the connection is closed.
 */
static void test_mg_ctl__raw_write_limits(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int w0 = writes_now();
	int fd = cli_connect(s.path);
	size_t n = fake.max_body + 1, len = 0;
	char *body = malloc(n), *b = malloc(n + 128);
	memset(body, 'x', n);
	raw_put(b, &len, "", body, n);
	len += (size_t)sprintf(b + len, "{\"cmd\":\"ping\"}\n");
	cli_send(fd, b, len);
	json_t *j = cli_read(fd);
	assert_string_equal(code_of(j), "too_large");
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "write batch of 4097 bytes is over the limit of 4096 bytes");
	json_decref(j);
	j = cli_read(fd);
	assert_true(is_ok(j));          /* the ping after the skipped body */
	json_decref(j);
	free(body);
	free(b);
	/* exactly at the limit: stored */
	n = fake.max_body;
	body = malloc(n);
	memset(body, 'y', n);
	char line[64];
	sprintf(line, "{\"cmd\":\"write\",\"bytes\":%zu}\n", n);
	cli_send(fd, line, strlen(line));
	cli_send(fd, body, n);
	j = cli_read(fd);
	assert_true(is_ok(j));
	assert_int_equal(fake.body_len, n);
	json_decref(j);
	free(body);
	close(fd);

	static const struct {
		const char *line;
		const char *code, *why;
	} closing[] = {
		{"{\"cmd\":\"write\",\"bytes\":67108865}\n", "too_large",
		 "\"bytes\" is over the limit of 67108864 bytes (closing the connection"},
		{"{\"cmd\":\"write\",\"lines\":\"x\",\"bytes\":1}\nx", "bad_request",
		 "\"write\" takes \"lines\" or \"bytes\", not both (closing the connection"},
		{"{\"cmd\":\"write\",\"bytes\":-1}\n", "bad_request", "\"bytes\" must be"},
		{"{\"cmd\":\"write\",\"bytes\":5,}\nxxxxx", "bad_request", "bad JSON"},
		{"{\"cmd\":\"ping\",\"bytes\":5}\nxxxxx", "bad_request", "unexpected field"},
	};
	for (size_t i = 0; i < CM_ARRAY_SIZE(closing); i++) {
		fd = cli_connect(s.path);
		cli_send(fd, closing[i].line, strlen(closing[i].line));
		cli_send(fd, "{\"cmd\":\"ping\"}\n", 15);       /* never answered */
		j = cli_read(fd);
		const char *e = json_string_value(json_object_get(j, "error"));
		if (strcmp(code_of(j), closing[i].code) || !e || !strstr(e, closing[i].why))
			fail_msg("%s: code '%s' error '%s'", closing[i].line, code_of(j), e ? e : "");
		json_decref(j);
		assert_null(cli_read(fd));
		close(fd);
	}
	assert_int_equal(writes_now(), w0 + 1);
	srv_stop(&s);
}

/* Raw writes (one of 200 KiB), a simple one and a ping in one send: answered in order. */
static void test_mg_ctl__raw_write_pipelined(void **state)
{
	(void)state;
	size_t max0 = fake.max_body;
	fake.max_body = 1u << 20;
	struct srv s;
	srv_start(&s, "4");
	int w0 = writes_now();
	int fd = cli_connect(s.path);
	const size_t big_n = 200u << 10;
	char *big = malloc(big_n), *b = malloc(big_n + 4096);
	for (size_t i = 0; i < big_n; i++)
		big[i] = i % 100 == 99 ? '\n' : 'z';
	size_t len = 0;
	raw_put(b, &len, "", "a v=1\nb v=2\n", 12);
	raw_put(b, &len, ",\"db\":\"p\"", "a v=1\nbad\nc v=3", 16);      /* no final '\n' */
	raw_put(b, &len, "", big, big_n);
	len += (size_t)sprintf(b + len, "{\"cmd\":\"write\",\"lines\":\"d v=4\\n\"}\n");
	raw_put(b, &len, "", "", 0);
	raw_put(b, &len, "", "e v=5\n", 6);
	len += (size_t)sprintf(b + len, "{\"cmd\":\"ping\"}\n");
	cli_send(fd, b, len);
	static const struct {
		uint64_t lines;
		const char *code;
	} want[] = {{2, ""}, {2, "partial"}, {2048, ""}, {1, ""}, {0, ""}, {1, ""}};
	for (size_t i = 0; i < CM_ARRAY_SIZE(want); i++) {
		json_t *j = cli_read(fd);
		assert_non_null(j);
		if (report_u(j, "lines") != want[i].lines || strcmp(code_of(j), want[i].code))
			fail_msg("response %zu: lines %" PRIu64 " code '%s', want %" PRIu64 " '%s'", i,
				 report_u(j, "lines"), code_of(j), want[i].lines, want[i].code);
		json_decref(j);
	}
	json_t *j = cli_read(fd);
	assert_true(is_ok(j));
	assert_non_null(json_object_get(j, "version"));
	json_decref(j);
	assert_int_equal(writes_now(), w0 + 6);
	assert_string_equal(fake.body, "e v=5\n");
	free(big);
	free(b);
	close(fd);
	srv_stop(&s);
	fake.max_body = max0;
}

/* Framing: bad lines, pipelining, CRLF, blank lines, a last line without '\n'. */
static void test_mg_ctl__framing(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	pthread_mutex_lock(&fake.lock);
	int notes0 = fake.notes[MG_REQ_OTHER], qnotes0 = fake.notes[MG_REQ_QUERY];
	pthread_mutex_unlock(&fake.lock);

	expect_error(fd, "this is not json", "bad_request", "bad JSON");
	expect_error(fd, "{\"cmd\":\"launch\"}", "bad_request", "unknown command \"launch\"");
	const char two[] = "\n  \r\n{\"cmd\":\"ping\"}\r\n{\"cmd\":\"query\",\"q\":\"BAD\"}\n";
	cli_send(fd, two, sizeof(two) - 1);
	json_t *a = cli_read(fd), *b = cli_read(fd);
	assert_true(is_ok(a));
	assert_string_equal(code_of(b), "parse");
	json_decref(a);
	json_decref(b);
	pthread_mutex_lock(&fake.lock);
	assert_int_equal(fake.notes[MG_REQ_OTHER] - notes0, 3);
	assert_int_equal(fake.notes[MG_REQ_QUERY] - qnotes0, 1);
	assert_int_equal(fake.last_status, 400);
	pthread_mutex_unlock(&fake.lock);

	/* a NUL is not a blank: the line is answered */
	cli_send(fd, "\0\n", 2);
	a = cli_read(fd);
	assert_string_equal(code_of(a), "bad_request");
	json_decref(a);

	const char last[] = "{\"cmd\":\"ping\"}";
	cli_send(fd, last, sizeof(last) - 1);
	shutdown(fd, SHUT_WR);
	a = cli_read(fd);
	assert_true(is_ok(a));
	json_decref(a);
	assert_null(cli_read(fd));   /* then the server closes */
	close(fd);
	srv_stop(&s);
}

/* A line over MG_CTL_LINE_MAX: "too_large", then the connection is closed. */
static void test_mg_ctl__line_too_long(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	size_t n = (size_t)MG_CTL_LINE_MAX + 2;
	char *big = malloc(n);
	memset(big, ' ', n);
	cli_send(fd, big, n);
	free(big);
	json_t *j = cli_read(fd);
	assert_non_null(j);
	assert_string_equal(code_of(j), "too_large");
	json_decref(j);
	assert_null(cli_read(fd));
	close(fd);
	srv_stop(&s);
}

/*
 * A line of some MB (the input buffer grows past its initial 64 KiB, then
 * shrinks back) with the next request in the same send: both are answered,
 * in order, and the connection goes on.
 */
static void test_mg_ctl__large_line_then_pipelined(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	const size_t fill = 3u << 20;
	static const char head[] = "{\"cmd\":\"ping\",\"zz\":\"", tail[] = "\"}\n{\"cmd\":\"ping\"}\n";
	size_t n = sizeof(head) - 1 + fill + sizeof(tail) - 1;
	char *big = malloc(n);
	assert_non_null(big);
	memcpy(big, head, sizeof(head) - 1);
	memset(big + sizeof(head) - 1, 'x', fill);
	memcpy(big + sizeof(head) - 1 + fill, tail, sizeof(tail) - 1);
	cli_send(fd, big, n);
	free(big);
	json_t *a = cli_read(fd), *b = cli_read(fd);
	assert_non_null(a);
	assert_string_equal(code_of(a), "bad_request");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "unknown field \"zz\""));
	assert_true(is_ok(b));
	json_decref(a);
	json_decref(b);
	json_t *j = roundtrip(fd, "{\"cmd\":\"flush\"}");
	assert_true(is_ok(j));
	json_decref(j);
	close(fd);
	srv_stop(&s);
}

/* One client more than mgmt.socket_clients gets "busy"; a freed slot is reused. */
static void test_mg_ctl__connection_limit(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "2");
	int a = cli_connect(s.path), b = cli_connect(s.path);
	json_t *j = roundtrip(a, "{\"cmd\":\"ping\"}");
	json_decref(j);
	j = roundtrip(b, "{\"cmd\":\"ping\"}");
	json_decref(j);
	int c = cli_connect(s.path);
	j = cli_read(c);
	assert_non_null(j);
	assert_string_equal(code_of(j), "busy");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "= 2"));
	json_decref(j);
	assert_null(cli_read(c));
	close(c);
	close(a);
	/* a's thread ends when it sees the close; until then a new client may be refused */
	bool served = false;
	for (int i = 0; i < 200 && !served; i++) {
		c = cli_connect(s.path);
		cli_send(c, "{\"cmd\":\"ping\"}\n", 15);
		j = cli_read(c);
		served = j && is_ok(j);
		json_decref(j);
		close(c);
		if (!served)
			cm_sleep_ns(10 * CM_NS_PER_MS);
	}
	assert_true(served);
	close(b);
	srv_stop(&s);
}

/* The socket file: directories made, mode set, removed at stop; stop wakes idle clients. */
static void test_mg_ctl__socket_file_and_stop(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	struct stat st;
	assert_int_equal(lstat(s.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	int a = cli_connect(s.path), b = cli_connect(s.path);
	json_t *j = roundtrip(a, "{\"cmd\":\"ping\"}");
	json_decref(j);
	int64_t t0 = cm_mono_ns();
	mg_ctl_stop(s.ctl);
	s.ctl = NULL;
	assert_true(cm_mono_ns() - t0 < 3 * CM_NS_PER_SEC);   /* prompt: no wait for idle clients */
	assert_null(cli_read(a));
	assert_null(cli_read(b));
	assert_int_equal(lstat(s.path, &st), -1);
	assert_int_equal(cli_connect(s.path), -1);
	close(a);
	close(b);
	srv_stop(&s);
}

static void test_mg_ctl__stale_live_and_foreign_files(void **state)
{
	(void)state;
	struct srv s;
	assert_non_null(tst_tmpdir(s.dir, sizeof(s.dir), "test_mg_ctl"));
	snprintf(s.path, sizeof(s.path), "%s/ctl.sock", s.dir);
	cfg_make(&s, "4", "0660");
	char err[256] = "";

	/* a socket file nobody listens on (a crashed daemon's): replaced */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s.path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(mg_ctl_start(s.cfg, &fake, &s.ctl, err, sizeof(err)), 0);
	fd = cli_connect(s.path);
	json_t *j = roundtrip(fd, "{\"cmd\":\"ping\"}");
	assert_true(is_ok(j));
	json_decref(j);
	close(fd);

	/* a live one: refused, and its socket is left alone */
	struct mg_ctl *second = NULL;
	assert_int_equal(mg_ctl_start(s.cfg, &fake, &second, err, sizeof(err)), -EADDRINUSE);
	assert_null(second);
	assert_non_null(strstr(err, "in use by a running daemon"));
	fd = cli_connect(s.path);
	assert_true(fd >= 0);
	close(fd);
	mg_ctl_stop(s.ctl);
	s.ctl = NULL;

	/* not a socket: never removed */
	FILE *f = fopen(s.path, "w");
	fclose(f);
	assert_int_equal(mg_ctl_start(s.cfg, &fake, &s.ctl, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "is not a socket"));
	struct stat st;
	assert_int_equal(lstat(s.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	cm_config_destroy(s.cfg);

	/* off, and a bad mode */
	cfg_make(&s, "4", "0999");
	assert_int_equal(mg_ctl_start(s.cfg, &fake, &s.ctl, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mgmt.socket_mode"));
	const char *off[] = {"mgmt.socket=off", "mgmt.socket_mode=0660"};
	assert_int_equal(cm_config_set_batch(s.cfg, off, 2, err, sizeof(err)), 0);
	s.ctl = (struct mg_ctl *)&s;
	assert_int_equal(mg_ctl_start(s.cfg, &fake, &s.ctl, err, sizeof(err)), 0);
	assert_null(s.ctl);
	srv_stop(&s);
}

static void test_mg_ctl__shutdown(void **state)
{
	(void)state;
	struct srv s;
	srv_start(&s, "4");
	int fd = cli_connect(s.path);
	json_t *j = roundtrip(fd, "{\"cmd\":\"shutdown\"}");
	assert_true(is_ok(j));
	json_decref(j);
	/* the answer goes out first, then the service is asked to stop */
	int n = 0;
	for (int i = 0; i < 500 && n == 0; i++) {
		pthread_mutex_lock(&fake.lock);
		n = fake.shutdowns;
		pthread_mutex_unlock(&fake.lock);
		cm_sleep_ns(2 * CM_NS_PER_MS);
	}
	assert_int_equal(n, 1);
	close(fd);
	srv_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_ctl__parse_table),
		cmocka_unit_test(test_mg_ctl__parse_fields),
		cmocka_unit_test(test_mg_ctl__parse_bytes),
		cmocka_unit_test(test_mg_ctl__commands),
		cmocka_unit_test(test_mg_ctl__query),
		cmocka_unit_test(test_mg_ctl__write),
		cmocka_unit_test(test_mg_ctl__raw_write),
		cmocka_unit_test(test_mg_ctl__raw_write_split),
		cmocka_unit_test(test_mg_ctl__raw_write_short),
		cmocka_unit_test(test_mg_ctl__raw_write_limits),
		cmocka_unit_test(test_mg_ctl__raw_write_pipelined),
		cmocka_unit_test(test_mg_ctl__framing),
		cmocka_unit_test(test_mg_ctl__line_too_long),
		cmocka_unit_test(test_mg_ctl__large_line_then_pipelined),
		cmocka_unit_test(test_mg_ctl__connection_limit),
		cmocka_unit_test(test_mg_ctl__socket_file_and_stop),
		cmocka_unit_test(test_mg_ctl__stale_live_and_foreign_files),
		cmocka_unit_test(test_mg_ctl__shutdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
