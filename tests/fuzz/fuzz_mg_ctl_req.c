/*
 * fuzz_mg_ctl_req.c - fuzz target for the management socket's request
 * decoder (mg_ctl_parse_request, mg_ctl_req.c).
 *
 * Decodes the input as one request line and checks the contract,
 * abort()ing on any violation: 0, -EINVAL or -EMSGSIZE (never anything
 * else; -ENOMEM cannot happen at these sizes), a non-empty NUL-terminated
 * message on failure and a zeroed request but for has_body (set for
 * -EMSGSIZE, which only an oversized "bytes" gives); on success a known
 * command whose required fields are present, a write with exactly one of
 * "lines" and "bytes" (body_len within MG_CTL_BODY_MAX, 0 without
 * "bytes"), strings that are NUL-terminated at their stated lengths and
 * hold no NUL, only the fields the command takes, a precision from the
 * list. Every string is read to its end (ASan sees an overread).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fz_driver.h"
#include "mg_ctl.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static void check_str(const char *s, size_t len)
{
	CHECK(s && strlen(s) == len);
}

static void check_ok(const struct mg_ctl_req *r)
{
	CHECK((unsigned)r->cmd < MG_CTL__COUNT && r->doc);
	CHECK(strcmp(mg_ctl_cmd_name(r->cmd), "unknown") != 0);
	CHECK(r->cmd == MG_CTL_QUERY || (!r->q && r->epoch == MG_EPOCH_NS));
	CHECK(r->cmd == MG_CTL_QUERY || r->cmd == MG_CTL_WRITE || !r->db);
	CHECK(r->cmd == MG_CTL_STATS || !r->prefix);
	CHECK(r->cmd == MG_CTL_KILL || r->id == 0);
	CHECK(r->cmd == MG_CTL_WRITE || (!r->lines && !r->precision && !r->has_body));
	CHECK(r->has_body || r->body_len == 0);
	CHECK(r->body_len <= MG_CTL_BODY_MAX);
	if (r->cmd == MG_CTL_QUERY) {
		check_str(r->q, r->qlen);
		CHECK(r->qlen > 0 && r->epoch <= MG_EPOCH_H);
	}
	if (r->cmd == MG_CTL_WRITE) {
		CHECK(!r->lines != !r->has_body);       /* the simple form or the raw one */
		if (r->lines)
			check_str(r->lines, r->lines_len);
		else
			CHECK(r->lines_len == 0);
	}
	if (r->db)
		CHECK(strlen(r->db) > 0);
	if (r->prefix)
		check_str(r->prefix, strlen(r->prefix));
	if (r->precision) {
		static const char *const ok[] = {"n", "ns", "u", "us", "ms", "s", "m", "h"};
		bool found = false;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			found |= strcmp(r->precision, ok[i]) == 0;
		CHECK(found);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mg_ctl_req r;
	char err[256];
	memset(err, 'X', sizeof(err));
	int rc = mg_ctl_parse_request((const char *)data, len, &r, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE);
	if (rc) {
		CHECK(memchr(err, '\0', sizeof(err)) && err[0] != '\0');
		CHECK(!r.doc && !r.q && !r.lines && !r.db && !r.precision && r.body_len == 0);
		CHECK(rc != -EMSGSIZE || r.has_body);
		return 0;
	}
	check_ok(&r);
	mg_ctl_req_release(&r);
	CHECK(!r.doc);
	return 0;
}

void fz_seeds(fz_emit_fn emit, void *arg)
{
	static const char *const seeds[] = {
		"{\"cmd\":\"ping\"}",
		"{\"cmd\":\"query\",\"q\":\"SELECT max(\\\"usage\\\") FROM cpu WHERE time > now() - 1h "
		"GROUP BY time(1m), host\",\"db\":\"telegraf\",\"epoch\":\"ms\"}",
		"{\"cmd\":\"query\",\"q\":\"SHOW SERIES FROM \\\"cpu\\\"\",\"epoch\":\"rfc3339\"}",
		"{\"cmd\":\"stats\",\"prefix\":\"rx.drop.\"}",
		"{\"cmd\":\"kill\",\"id\":12}",
		"{\"cmd\":\"kill\",\"id\":\"18446744073709551615\"}",
		"{\"cmd\":\"write\",\"db\":\"d\",\"precision\":\"ms\",\"lines\":"
		"\"cpu,host=a usage=1.5,n=3i 1700000000000\\nmem free=2 1700000000001\\n\"}",
		"{\"cmd\":\"config\"} ",
		" {\"cmd\":\"tiers\"}\r",
		"{\"cmd\":\"queries\",\"x\":[1,{\"a\":null}]}",
		"{\"cmd\":\"flush\",\"cmd\":\"shutdown\"}",
		"{\"cmd\":\"query\",\"q\":\"\\u00e9\\ud83d\\ude00\\u0000\"}",
		"[{\"cmd\":\"ping\"}]",
		"{\"cmd\":\"write\",\"lines\":\"\"}",
		"{\"cmd\":\"write\",\"db\":\"d\",\"precision\":\"s\",\"bytes\":1600000}",
		"{\"cmd\":\"write\",\"bytes\":0}",
		"{\"cmd\":\"write\",\"bytes\":67108865}",
		"{\"cmd\":\"write\",\"bytes\":-1}",
		"{\"cmd\":\"write\",\"bytes\":1e3}",
		"{\"cmd\":\"write\",\"lines\":\"x v=1\",\"bytes\":5}",
		"{\"cmd\":\"ping\",\"bytes\":5}",
		"{\"cmd\":\"write\",\"bytes\":5,}",
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		emit(arg, (const uint8_t *)seeds[i], strlen(seeds[i]));
}
