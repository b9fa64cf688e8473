/*
 * mg_ctl_req.c - the management socket's request decoder (mg_ctl.h): one
 * line of JSON into a struct mg_ctl_req, every member type-checked against
 * the command's list of fields (docs/MGMT-PROTOCOL.md). Pure: no I/O, no
 * state; it lives apart from the server (mg_ctl.c) so the unit tests and
 * the fuzz target link it without the service.
 *
 * Usage profile: once per request; lines of a few hundred bytes, except
 * write batches (1-10 MB, up to MG_CTL_LINE_MAX), which jansson decodes in
 * one pass into the string the service then reads. Any thread.
 */
#include "mg_ctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_compiler.h"

enum req_field {
	F_CMD = 1u << 0,
	F_Q = 1u << 1,
	F_DB = 1u << 2,
	F_EPOCH = 1u << 3,
	F_PREFIX = 1u << 4,
	F_ID = 1u << 5,
	F_PRECISION = 1u << 6,
	F_LINES = 1u << 7,
};

static const char *const field_names[] = {"cmd", "q", "db", "epoch", "prefix", "id",
					  "precision", "lines"};
static_assert(1u << (CM_ARRAY_SIZE(field_names) - 1) == F_LINES, "a name for every field");

static const struct {
	const char *name;
	uint32_t fields;        /* those it takes, besides "cmd" */
	uint32_t required;
} cmds[MG_CTL__COUNT] = {
	[MG_CTL_PING] = {"ping", 0, 0},
	[MG_CTL_QUERY] = {"query", F_Q | F_DB | F_EPOCH, F_Q},
	[MG_CTL_STATS] = {"stats", F_PREFIX, 0},
	[MG_CTL_CONFIG] = {"config", 0, 0},
	[MG_CTL_FLUSH] = {"flush", 0, 0},
	[MG_CTL_TIERS] = {"tiers", 0, 0},
	[MG_CTL_QUERIES] = {"queries", 0, 0},
	[MG_CTL_KILL] = {"kill", F_ID, F_ID},
	[MG_CTL_WRITE] = {"write", F_DB | F_PRECISION | F_LINES, F_LINES},
	[MG_CTL_SHUTDOWN] = {"shutdown", 0, 0},
};

static const char *const precisions[] = {"n", "ns", "u", "us", "ms", "s", "m", "h"};

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

static int parse_epoch(const char *s, enum mg_epoch *out)
{
	if (strcmp(s, "rfc3339") == 0 || !*s) {
		*out = MG_EPOCH_RFC3339;
		return 0;
	}
	return mg_epoch_parse(s, out);
}

static bool precision_valid(const char *s)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(precisions); i++)
		if (strcmp(s, precisions[i]) == 0)
			return true;
	return false;
}

/* One member of the request object: type-check it and store it in r. */
static int take_field(struct mg_ctl_req *r, uint32_t f, const char *key, json_t *v, char *err,
		      size_t errlen)
{
	const char *s = json_string_value(v);
	if (f != F_ID && !s) {
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
	case F_PRECISION:
		if (precision_valid(s)) {
			r->precision = s;
			return 0;
		}
		snprintf(err, errlen, "unknown precision \"%.40s\" (n, ns, u, us, ms, s, m or h)", s);
		return -EINVAL;
	case F_LINES:
		r->lines = s;
		r->lines_len = json_string_length(v);
		return 0;
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
		if (f != F_CMD && take_field(r, f, key, v, err, errlen))
			return -EINVAL;
	}
	uint32_t missing = cmds[r->cmd].required & ~seen;
	if (missing) {
		snprintf(err, errlen, "\"%s\" needs \"%s\"", cmds[r->cmd].name,
			 field_names[__builtin_ctz(missing)]);
		return -EINVAL;
	}
	return 0;
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
		json_decref(doc);
		memset(out, 0, sizeof(*out));
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
