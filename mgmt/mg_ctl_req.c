/*
 * mg_ctl_req.c - the management socket's request decoder (mg_ctl.h): one
 * line of JSON into a struct mg_ctl_req, every member type-checked against
 * the command's list of fields (docs/MGMT-PROTOCOL.md). Pure: no I/O, no
 * state; it lives apart from the server (mg_ctl.c) so the unit tests and
 * the fuzz target link it without the service.
 *
 * Usage profile: once per request; lines of a few hundred bytes. A write's
 * line protocol comes as a raw body after the line ("bytes", which this
 * decoder only reads the length of; sfctl import's batches of ~1.6 MB) or,
 * in the simple form for hand-written requests, as the "lines" string, which
 * jansson decodes in one pass (at most MG_CTL_LINE_MAX). Any thread.
 */
#include "mg_ctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"
#include "dp_line.h"

enum req_field {
	F_CMD = 1u << 0,
	F_Q = 1u << 1,
	F_DB = 1u << 2,
	F_EPOCH = 1u << 3,
	F_PREFIX = 1u << 4,
	F_ID = 1u << 5,
	F_PRECISION = 1u << 6,
	F_LINES = 1u << 7,
	F_BYTES = 1u << 8,
};

static const char *const field_names[] = {"cmd", "q", "db", "epoch", "prefix", "id",
					  "precision", "lines", "bytes"};
static_assert(1u << (CM_ARRAY_SIZE(field_names) - 1) == F_BYTES, "a name for every field");

static const struct {
	const char *name;
	uint32_t fields;        /* those it takes, besides "cmd" */
	uint32_t required;      /* all of these */
	uint32_t one_of;        /* exactly one of these (0: no such rule) */
} cmds[MG_CTL__COUNT] = {
	[MG_CTL_PING] = {"ping", 0, 0},
	[MG_CTL_QUERY] = {"query", F_Q | F_DB | F_EPOCH, F_Q},
	[MG_CTL_STATS] = {"stats", F_PREFIX, 0},
	[MG_CTL_CONFIG] = {"config", 0, 0},
	[MG_CTL_FLUSH] = {"flush", 0, 0},
	[MG_CTL_TIERS] = {"tiers", 0, 0},
	[MG_CTL_QUERIES] = {"queries", 0, 0},
	[MG_CTL_KILL] = {"kill", F_ID, F_ID},
	[MG_CTL_WRITE] = {"write", F_DB | F_PRECISION | F_LINES | F_BYTES, 0, F_LINES | F_BYTES},
	[MG_CTL_SHUTDOWN] = {"shutdown", 0, 0},
};

const char *mg_ctl_cmd_name(enum mg_ctl_cmd cmd)
{
	return (unsigned)cmd < MG_CTL__COUNT ? cmds[cmd].name : "unknown";
}

/* The field bit of a member name, 0 if none. */
static uint32_t field_of(const char *key)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(field_names); i++)
		if (strcmp(key, field_names[i]) == 0)
			return 1u << i;
	return 0;
}

static int parse_id(const json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);   /* a decimal string: ids above 2^63 */
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
		return -EINVAL;
	errno = 0;
	unsigned long long id = strtoull(s, NULL, 10);
	if (errno)
		return -EINVAL;
	*out = id;
	return 0;
}

/* A raw body's length: an integer 0..MG_CTL_BODY_MAX. 0, -EINVAL (not one), -EMSGSIZE. */
static int parse_bytes(const json_t *v, size_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	if (json_integer_value(v) > (json_int_t)MG_CTL_BODY_MAX)
		return -EMSGSIZE;
	*out = (size_t)json_integer_value(v);
	return 0;
}

/* The HTTP API's epoch names ("" is RFC 3339 there too), and "rfc3339" by name. */
static int parse_epoch(const char *s, enum mg_epoch *out)
{
	if (strcmp(s, "rfc3339") == 0) {
		*out = MG_EPOCH_RFC3339;
		return 0;
	}
	return mg_epoch_parse(s, out);
}

/* One member of the request object: type-check it and store it in r. */
static int take_field(struct mg_ctl_req *r, uint32_t f, const char *key, json_t *v, char *err,
		      size_t errlen)
{
	const char *s = json_string_value(v);
	if (f != F_ID && f != F_BYTES && !s) {
		snprintf(err, errlen, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	switch (f) {
	case F_Q:
		r->q = s;
		r->qlen = json_string_length(v);
		if (r->qlen == 0) {
			snprintf(err, errlen, "\"q\" is empty");
			return -EINVAL;
		}
		return 0;
	case F_DB:
		r->db = *s ? s : NULL;
		return 0;
	case F_EPOCH:
		if (parse_epoch(s, &r->epoch) == 0)
			return 0;
		snprintf(err, errlen, "unknown epoch \"%.40s\" (ns, u, ms, s, m, h or rfc3339)", s);
		return -EINVAL;
	case F_PREFIX:
		r->prefix = s;
		return 0;
	case F_ID:
		if (parse_id(v, &r->id) == 0)
			return 0;
		snprintf(err, errlen, "\"id\" must be a query id (an integer >= 0)");
		return -EINVAL;
	case F_PRECISION: {
		int64_t unit_ns;        /* the writer's own list, so both agree */
		if (dp_line_precision(s, &unit_ns) == 0) {
			r->precision = s;
			return 0;
		}
		snprintf(err, errlen, "unknown precision \"%.40s\" (n, ns, u, us, ms, s, m or h)", s);
		return -EINVAL;
	}
	case F_LINES:
		r->lines = s;
		r->lines_len = json_string_length(v);
		return 0;
	case F_BYTES: {
		int rc = parse_bytes(v, &r->body_len);
		if (rc == -EMSGSIZE)
			snprintf(err, errlen, "\"bytes\" is over the limit of %u bytes",
				 MG_CTL_BODY_MAX);
		else if (rc)
			snprintf(err, errlen, "\"bytes\" must be the body's length (an integer >= 0)");
		else
			r->has_body = true;
		return rc;
	}
	}
	assert(!"unreachable field");
	return -EINVAL;
}

/* The command named by the "cmd" member of obj. */
static int find_cmd(json_t *obj, enum mg_ctl_cmd *out, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(obj, "cmd"));
	if (!name) {
		snprintf(err, errlen, "missing \"cmd\" (a string)");
		return -EINVAL;
	}
	for (int i = 0; i < MG_CTL__COUNT; i++) {
		if (strcmp(name, cmds[i].name) == 0) {
			*out = (enum mg_ctl_cmd)i;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown command \"%.40s\"", name);
	return -EINVAL;
}

static int check_fields(json_t *obj, struct mg_ctl_req *r, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	uint32_t seen = 0, allowed = cmds[r->cmd].fields | F_CMD;
	json_object_foreach(obj, key, v) {
		uint32_t f = field_of(key);
		if (!(f & allowed)) {
			snprintf(err, errlen, "%s field \"%.40s\" for \"%s\"",
				 f ? "unexpected" : "unknown", key, cmds[r->cmd].name);
			return -EINVAL;
		}
		seen |= f;
		int rc = f != F_CMD ? take_field(r, f, key, v, err, errlen) : 0;
		if (rc)
			return rc;
	}
	uint32_t missing = cmds[r->cmd].required & ~seen;
	if (missing) {
		snprintf(err, errlen, "\"%s\" needs \"%s\"", cmds[r->cmd].name,
			 field_names[__builtin_ctz(missing)]);
		return -EINVAL;
	}
	uint32_t one_of = cmds[r->cmd].one_of, given = one_of & seen;
	if (one_of && (given == 0 || (given & (given - 1)))) {
		assert(__builtin_popcount(one_of) == 2);   /* the messages name two */
		uint32_t first = one_of & -one_of, second = one_of & ~first;
		snprintf(err, errlen, given ? "\"%s\" takes \"%s\" or \"%s\", not both"
					    : "\"%s\" needs \"%s\" or \"%s\"", cmds[r->cmd].name,
			 field_names[__builtin_ctz(first)], field_names[__builtin_ctz(second)]);
		return -EINVAL;
	}
	return 0;
}

/* Whether a line that failed to decode asked for a raw body (mg_ctl.h). */
static bool asks_body(const char *line, size_t len, const json_t *doc)
{
	if (json_is_object(doc))
		return json_object_get(doc, "bytes") != NULL;
	return len && memmem(line, len, "\"bytes\"", 7) != NULL;
}

int mg_ctl_parse_request(const char *line, size_t len, struct mg_ctl_req *out, char *err,
			 size_t errlen)
{
	assert(out && (line || len == 0));
	memset(out, 0, sizeof(*out));
	out->epoch = MG_EPOCH_NS;
	json_error_t je;
	json_t *doc = json_loadb(line ? line : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		memset(out, 0, sizeof(*out));
		out->has_body = asks_body(line, len, NULL);
		if (json_error_code(&je) == json_error_out_of_memory)
			return -ENOMEM;
		snprintf(err, errlen, "bad JSON at byte %d: %s", je.position, je.text);
		return -EINVAL;
	}
	int rc = -EINVAL;
	if (!json_is_object(doc))
		snprintf(err, errlen, "a request is a JSON object");
	else if (find_cmd(doc, &out->cmd, err, errlen) == 0)
		rc = check_fields(doc, out, err, errlen);
	if (rc) {
		bool body = asks_body(line, len, doc);
		json_decref(doc);
		memset(out, 0, sizeof(*out));
		out->has_body = body;
		return rc;
	}
	out->doc = doc;
	return 0;
}

void mg_ctl_req_release(struct mg_ctl_req *req)
{
	if (!req)
		return;
	json_decref(req->doc);
	memset(req, 0, sizeof(*req));
}
