/*
 * mg_ctl.h - the management socket: a Unix stream socket on which `sfctl`
 * (and any script) asks a running daemon for queries, writes, counters,
 * configuration, flush, tier status, the running queries, kill and
 * shutdown. It only translates: every request goes to the service
 * (mg_svc.h). The wire protocol, newline-delimited JSON, is specified in
 * docs/MGMT-PROTOCOL.md. The server is mg_ctl.c; the request decoder,
 * pure and apart so tests and the fuzz target link it alone, mg_ctl_req.c.
 *
 *   -> {"cmd":"query","q":"SELECT max(usage) FROM cpu","db":"telegraf","epoch":"ms"}
 *   <- {"ok":true,"result":{"results":[{"statement_id":0,"series":[...]}]}}
 *   -> {"cmd":"kill","id":99}
 *   <- {"ok":false,"error":"no running query with id 99","code":"not_found"}
 *   -> {"cmd":"write","db":"telegraf","bytes":20}   then 20 raw bytes:
 *      cpu v=1 1\ncpu v=2 2\n
 *   <- {"ok":true,"report":{"lines":2,...}}
 *
 * Usage profile: an operator's shell or a script; a handful of requests per
 * second, except `sfctl import`, which streams write batches of ~5,000 lines
 * (~0.5-2 MB, up to the 64 MiB bound) back to back on one connection, each
 * as a raw body after its request line: line protocol is not carried in
 * JSON there (as a 1.6 MB JSON string per batch, it put 49% of the daemon's
 * CPU in jansson). Requests on a connection are answered in order, one at
 * a time.
 *
 * Threads: one accept thread, and one thread per connection up to
 * mgmt.socket_clients (a connection beyond that gets a "busy" response and
 * is closed). mg_ctl_start and mg_ctl_stop are called by the daemon's main
 * thread; mg_ctl_parse_request is pure and may be called from any thread.
 */
#ifndef MG_CTL_H
#define MG_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_config.h"
#include "mg_result.h"

struct mg_svc;
struct mg_ctl;

/*
 * mgmt.socket (path, default "./var/run/streamflow.sock"; "off" or "" runs
 * no socket), mgmt.socket_mode (octal permissions of the socket file,
 * default "0660"), mgmt.socket_clients (concurrent connections, default 16).
 */
extern const struct cm_cfg_table mg_ctl_cfg_table;

/* Longest request line accepted (the newline excluded); a longer one is answered
 * with code "too_large" and the connection is closed. */
#define MG_CTL_LINE_MAX (64u << 20)
/* Largest raw body a write may announce ("bytes"); mg_svc_max_body bounds it too. */
#define MG_CTL_BODY_MAX MG_CTL_LINE_MAX

/*
 * Bind the socket and start serving svc (kept: must outlive the server).
 * cfg is borrowed (read during the call only). Creates the socket's
 * directory if missing; a socket file left by a crashed daemon (nobody
 * accepts on it) is replaced. Returns 0 with *out set (NULL when
 * mgmt.socket is "off"), -EADDRINUSE when a live daemon answers on the
 * path, -EEXIST when the path exists and is not a socket, -EINVAL for a bad
 * mgmt.socket_mode, -ENAMETOOLONG, or another -errno; details in err.
 */
int mg_ctl_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_ctl **out,
		 char *err, size_t errlen);

/*
 * Stop accepting, wake and close every connection (a request being served
 * finishes first: its query or flush is not interrupted), join the threads,
 * remove the socket file if it is still ours, and free c. NULL ok.
 */
void mg_ctl_stop(struct mg_ctl *c);

/* ------------------------------------------------------------- requests */

enum mg_ctl_cmd {
	MG_CTL_PING,
	MG_CTL_QUERY,
	MG_CTL_STATS,
	MG_CTL_CONFIG,
	MG_CTL_FLUSH,
	MG_CTL_TIERS,
	MG_CTL_QUERIES,
	MG_CTL_KILL,
	MG_CTL_WRITE,
	MG_CTL_SHUTDOWN,
	MG_CTL__COUNT,
};

/* The command's name on the wire ("query"), or "unknown". */
const char *mg_ctl_cmd_name(enum mg_ctl_cmd cmd);

/*
 * One decoded request. Strings are NUL-terminated UTF-8 without NULs and
 * borrow from the parsed document (doc): valid until mg_ctl_req_release.
 * Fields a command does not take are NULL / 0. A write has either lines
 * (the simple form) or has_body (the raw form: body_len bytes of line
 * protocol follow the request line on the wire; the server reads them),
 * never both.
 */
struct mg_ctl_req {
	enum mg_ctl_cmd cmd;
	const char *q;              /* query: the TSQL text (non-empty) */
	size_t qlen;
	const char *db;             /* query, write: NULL = the default database */
	enum mg_epoch epoch;        /* query: how times are printed; default MG_EPOCH_NS */
	const char *prefix;         /* stats: only counters starting with it; NULL = all */
	uint64_t id;                /* kill */
	const char *precision;      /* write: NULL or n|ns|u|us|ms|s|m|h */
	const char *lines;          /* write, simple form: the line-protocol batch (may be empty) */
	size_t lines_len;
	bool has_body;              /* write, raw form: "bytes" was given */
	size_t body_len;            /* its value, at most MG_CTL_BODY_MAX (may be 0) */
	void *doc;                  /* private: the JSON document the strings live in */
};

/*
 * Decode one request line (line[len], borrowed; no newline; need not be
 * NUL-terminated). Returns 0 with *out filled (release it with
 * mg_ctl_req_release); -EINVAL with the reason in err (not JSON, not an
 * object, unknown command, missing or mistyped field, a field the command
 * does not take, a write with both "lines" and "bytes" or neither);
 * -EMSGSIZE when "bytes" is over MG_CTL_BODY_MAX (reason in err); or
 * -ENOMEM. On error nothing needs releasing and *out is zeroed except
 * has_body, which then says that the line asked for a raw body (it has a
 * "bytes" member, or, when it is not a JSON object, holds the text
 * "bytes" in quotes): bytes the caller cannot frame may follow it.
 */
int mg_ctl_parse_request(const char *line, size_t len, struct mg_ctl_req *out, char *err,
			 size_t errlen);

/* Free what a parsed request holds. NULL ok, and a zeroed request. */
void mg_ctl_req_release(struct mg_ctl_req *req);

#endif /* MG_CTL_H */
