/*
 * mg_http.h - the InfluxDB-1.x-compatible HTTP API (libmicrohttpd): /write
 * (line protocol, gzip), /query (TSQL, JSON results, chunked), /ping,
 * /health and /metrics (Prometheus text). docs/HTTP-API.md describes the
 * endpoints, parameters and status codes.
 *
 * The front-end only translates: every decision about data is mg_svc's
 * (mg_svc.h). A request is read whole into memory (bounded by
 * http.max_body, before and after gzip), handed to the service on the
 * libmicrohttpd worker thread that read it, and answered; each is reported
 * to mg_svc_note_request.
 *
 * Usage profile: TSBS loads send 10,000-line gzip'd batches (~3.3 MB
 * inflated) a few times per second per connection; dashboards send small
 * queries at a few per second. http.threads worker threads (a pool, each
 * with its own epoll set) serve up to http.max_connections connections.
 *
 * Threads: mg_http_start and mg_http_stop from the thread that owns the
 * daemon's life cycle; the server's threads call mg_svc concurrently. The
 * helpers below are pure and may be called from any thread.
 */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cm_config.h"
#include "mg_svc.h"

/*
 * Keys: http.listen ("127.0.0.1:8086"; "[::1]:8086"; ":8086" for every
 * IPv4 interface; "off" disables the API), http.threads, http.max_body,
 * http.max_connections, http.chunk_size.
 */
extern const struct cm_cfg_table mg_http_cfg_table;

struct mg_http;

/*
 * Start serving on http.listen. svc is kept until mg_http_stop. Returns 0
 * with *out set, or 0 with *out NULL when http.listen is "off"; -EINVAL
 * for a bad address, -errno of the bind or listen (-EADDRINUSE, -EACCES,
 * ...) or -EIO when libmicrohttpd refuses to start, with a message naming
 * the address in err. *out is owned by the caller: mg_http_stop.
 */
int mg_http_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_http **out,
		  char *err, size_t errlen);
/* Stop listening and wait for the requests in progress. Accepts NULL. */
void mg_http_stop(struct mg_http *h);
/* The bound TCP port (useful with port 0); 0 for NULL. */
uint16_t mg_http_port(const struct mg_http *h);

/* ------------------------------------------------------ pure helpers */

/*
 * Inflate a gzip body (one or more members, as Go's gzip reader accepts)
 * into a new buffer of at most max bytes (NUL-terminated past the end).
 * Returns 0 with *out (owned by the caller: free) and *outlen; -EFBIG when
 * the inflated body would exceed max (nothing past max+1 bytes is ever
 * produced, so a zip bomb stays bounded); -EINVAL for a body that is not
 * gzip, is corrupt or truncated, or has trailing garbage; -ENOMEM.
 */
int mg_http_inflate(const void *in, size_t len, size_t max, char **out, size_t *outlen);

/*
 * Parse a listen address: "host:port" (IPv4 dotted quad or "localhost"),
 * "[IPv6]:port" or ":port" (every IPv4 interface); port 0..65535 (0: the
 * kernel picks). 0 or -EINVAL with a message in err.
 */
int mg_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
			 char *err, size_t errlen);

/*
 * The Prometheus name of a dotted counter name: "streamflow_" + name with
 * every byte outside [a-zA-Z0-9_:] replaced by '_' + suffix ("_total" for
 * counters, "" for gauges; a name already ending in the suffix keeps just
 * one). Writes a NUL-terminated string; returns its length or -ENOSPC.
 */
int mg_http_prom_name(const char *name, const char *suffix, char *out, size_t cap);

/* One counter or gauge in the text exposition format (# TYPE line and sample). */
int mg_http_prom_stat(const struct mg_stat *s, mg_write_fn fn, void *arg);
/* One histogram: # HELP, # TYPE, _bucket{le="..."} lines (+Inf = count), _sum, _count. */
int mg_http_prom_histo(const struct mg_histo *h, mg_write_fn fn, void *arg);

/* A decoded pair of an application/x-www-form-urlencoded body; both borrow the body. */
struct mg_http_kv {
	const char *key, *value;
};

/*
 * Decode %XX and '+' in s[0..len) in place (a bad escape stays as is);
 * returns the new length (s is not terminated).
 */
size_t mg_http_url_decode(char *s, size_t len);

/*
 * Split a form body s[0..len) (s[len] must be writable) in place into at
 * most max pairs, decoded and NUL-terminated; empty keys are skipped.
 * Returns the number of pairs.
 */
size_t mg_http_form_parse(char *s, size_t len, struct mg_http_kv *kv, size_t max);

#endif /* MG_HTTP_H */
