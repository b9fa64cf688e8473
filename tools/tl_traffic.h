/*
 * tl_traffic.h - a deterministic traffic generator for the three ingest
 * formats (StatsD/DogStatsD, InfluxDB line protocol, binary frames), with
 * deliberate junk, and the manifest of what a receiver must end up storing
 * (tl_manifest.h). `sfgen traffic` sends what it makes over UDP/TCP or
 * writes it to a pcap file; the end-to-end tests compare the daemon's store
 * with the manifest.
 *
 * Determinism: the bytes depend only on the config (seed included) and the
 * sequence of calls: same config, same datagrams, same manifest, on every
 * machine (one splitmix64 stream, cm_rand.h; no clock, no locale).
 *
 * What is generated. Each enabled format (series[p] > 0 and weight[p] > 0)
 * has series[p] series, and each series gets values_per_series values; the
 * run ends when all are sent and all junk is out. weight[] only decides the
 * interleaving: the next datagram is of format p with probability
 * weight[p] / (sum of the weights of formats with values left).
 *  - StatsD: series[STATSD] metrics, types c g ms h d s in turn (only those
 *    in statsd_types when it is set: Etsy statsd 0.9 knows c g ms s), unique
 *    names, 0-3 DogStatsD tags (one may be valueless; sent in varying
 *    order), sample rates @0.5 and @0.25 on some c/ms/h/d lines, gauges a
 *    plain value first then +/- deltas and plain values, sets members u0..u47,
 *    2-4 values packed in one line now and then (never with statsd_single:
 *    Etsy statsd 0.9 refuses packed lines); several lines per
 *    datagram, CRLF now and then, the last '\n' sometimes left out.
 *  - Line protocol: series[LINE] tag sets, each with 1-3 fields of float,
 *    int (i), uint (u) and bool (in all spellings) fields, every line
 *    carrying all of its tag set's fields with an explicit ns timestamp
 *    (+step_ns per line of the tag set); escaped spaces, commas and '=' in
 *    some measurements, tag keys and values and field keys; tags in varying
 *    order. values_per_series lines per tag set, so each field series gets
 *    values_per_series points.
 *  - Binary: series[BINARY] series spread over `sources` sources (ids 1001,
 *    1002, ...), F64 and I64 in turn; each frame from one source, its seq
 *    +1 per frame (starting at a seeded value); a DEF before a ref's first
 *    point, and every redef_every frames all declared refs again (a round
 *    takes at most half of each frame, spilling into the next ones, and the
 *    next round waits for it to end); points +step_ns apart per series.
 *    gaps, dups and reorders are spread over the run (never on a source's
 *    first frame): a gap skips a sequence number,
 *    a dup sends a frame again right after it, a reorder sends two
 *    consecutive frames of a source in swapped order (the one sent first
 *    then repeats the DEFs the other would have brought). Frames are up to
 *    max_datagram_bytes, some shorter.
 *  - Junk (junk items, kinds in tl_manifest.h, spread over the run): bad
 *    StatsD and line-protocol lines, one inside an otherwise valid datagram
 *    or alone in a datagram; bad binary records (bad type, reserved, NaN,
 *    negative timestamp, bad DEF name) inside a valid frame; whole frames
 *    with a bad CRC or bad magic; with pcap_junk also the frame-level kinds
 *    (ARP, TCP, IPv4 fragment, unknown UDP port) that only a capture can
 *    carry: their datagram is the payload to wrap (see struct tl_datagram).
 *    Junk never names a stored series: a receiver that wrongly takes it
 *    grows a "junk..." series and fails the series count.
 *
 * Mapping to stored series: see the manifest section of tl_traffic_manifest.
 *
 * Usage profile: one call per datagram, a few microseconds each; memory
 * a few hundred bytes per series. Threads: a generator belongs to one thread.
 */
#ifndef TL_TRAFFIC_H
#define TL_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_rx.h"
#include "tl_manifest.h"

#define TL_TRAFFIC_DATAGRAM_DEFAULT 1400u
#define TL_TRAFFIC_DATAGRAM_MIN 512u
#define TL_TRAFFIC_DATAGRAM_MAX 65507u
#define TL_TRAFFIC_SERIES_MAX 1000000u
#define TL_TRAFFIC_START_NS_DEFAULT (1700000000LL * 1000000000LL)  /* 2023-11-14 */
#define TL_TRAFFIC_STEP_NS_DEFAULT 10000000LL                       /* 10 ms */
#define TL_TRAFFIC_SOURCES_DEFAULT 3u
#define TL_TRAFFIC_SOURCE_ID_BASE 1001u
#define TL_TRAFFIC_REDEF_DEFAULT 16u

/* Config. Zero means the default where one is named. Plain struct. */
struct tl_traffic_cfg {
	uint64_t seed;
	uint32_t weight[DP_PROTO__COUNT];  /* interleaving weights; 0 disables a format */
	uint32_t series[DP_PROTO__COUNT];  /* statsd metrics, line tag sets, binary series */
	uint32_t values_per_series;        /* >= 1 */
	uint32_t max_datagram_bytes;       /* 0: 1400; 512 .. 65507 */
	int64_t start_ns;                  /* first timestamp; 0: TL_TRAFFIC_START_NS_DEFAULT */
	int64_t step_ns;                   /* between points of a series; 0: 10 ms */
	uint32_t junk;                     /* junk items */
	bool pcap_junk;                    /* also the frame-level kinds (pcap only) */
	bool line_stream;                  /* line protocol goes over TCP: every payload ends in '\n' */
	uint32_t sources;                  /* binary sources; 0: 3 */
	uint32_t redef_every;              /* binary: frames between DEF rounds; 0: 16 */
	uint32_t gaps, dups, reorders;     /* binary sequence events, over all sources */
	uint32_t statsd_percentiles;       /* percentile fields the receiver adds per ms/h/d metric */
	uint32_t statsd_types;             /* bit (1 << enum dp_statsd_type) per type made; 0: all */
	bool statsd_single;                /* one value per StatsD line (never packed) */
};

enum tl_datagram_flags {
	TL_DG_DUPLICATE = 1u << 0,   /* binary: a verbatim resend of the previous frame */
	TL_DG_AHEAD = 1u << 1,       /* binary: sent before the frame that precedes it */
	TL_DG_LATE = 1u << 2,        /* binary: sent after the frame that follows it */
	TL_DG_AFTER_GAP = 1u << 3,   /* binary: the sequence number before it was skipped */
	TL_DG_PCAP_ONLY = 1u << 4,   /* a frame-level junk kind: wrap it, do not send it */
};

/*
 * What tl_traffic_next wrote. Plain struct.
 *  - proto: the listener it is for. For TL_DG_PCAP_ONLY kinds, the payload
 *    is aimed at that listener's port: NOT_UDP wraps it in TCP, FRAGMENT in
 *    an IPv4 fragment of a UDP datagram, UNKNOWN_PORT in UDP to a port with
 *    no listener; NOT_IP (ARP) has len 0.
 *  - junk: TL_JUNK_NONE, or the kind of the malformed content; nok and nbad
 *    count the lines (statsd, line) or records (binary) a decoder gives OK
 *    and the malformed ones (a bad frame: nbad 1, nok 0).
 */
struct tl_datagram {
	uint32_t len;
	uint8_t proto;       /* enum dp_proto */
	uint8_t junk;        /* enum tl_junk */
	uint16_t flags;      /* enum tl_datagram_flags */
	uint32_t nok;
	uint32_t nbad;
	uint32_t source_id;  /* binary frames */
	uint64_t seq;
};

struct tl_traffic;

/*
 * Check cfg and set up the series. Returns 0, -EINVAL (no format enabled,
 * values_per_series 0, a size out of range) or -ENOMEM. *out is owned:
 * tl_traffic_destroy(). cfg is borrowed (copied).
 */
int tl_traffic_create(const struct tl_traffic_cfg *cfg, struct tl_traffic **out);

/* Free; NULL is fine. */
void tl_traffic_destroy(struct tl_traffic *t);

/*
 * Write the next datagram (UDP payload, or a chunk of the line-protocol TCP
 * stream) into buf[cap] (borrowed) and describe it in *out. Returns 1, 0
 * at the end (nothing written), or -ENOSPC when cap < max_datagram_bytes.
 * The manifest counts a datagram once it is returned here.
 */
int tl_traffic_next(struct tl_traffic *t, uint8_t *buf, size_t cap, struct tl_datagram *out);

/*
 * Datagrams already built and accounted in the series but not yet returned
 * (the second of a swapped pair, a duplicate). A caller that stops early
 * drains these first so the manifest matches what was sent.
 */
uint32_t tl_traffic_pending(const struct tl_traffic *t);

/*
 * The manifest of everything returned so far, into *out (owned:
 * tl_manifest_free). 0 or -ENOMEM. The receiver's rules it follows:
 *  - line protocol: a series per (measurement, sorted tags, field); each
 *    field value a point at the line's timestamp; bool stored 0/1. Per
 *    series: count (tol 0), sum and last (tol 1e-9 for floats, 0 for int,
 *    uint and bool).
 *  - binary: a series per (DEF name, DEF tags, field "value"); duplicates
 *    are not stored twice. count, sum, last as above (F64 float, I64 int).
 *  - binary sequence events: series sf_binary_seq,source=<id> with field
 *    gap (sum: sequence numbers skipped + reorders) and late (sum:
 *    reorders), present only when non-zero; tol 1e-9.
 *  - StatsD, all in one flush interval: series (name as sent, sorted tags,
 *    a valueless tag valued "true", field). c: value sum of v/rate; g:
 *    value last (plain sets, signed adds); ms/h/d: count sum of 1/rate, sum
 *    sum of v/rate, min min, max max, mean last (sum/count); s: value last
 *    (distinct members). All tol 1e-9. The series count adds c's rate field
 *    and statsd_percentiles fields per ms/h/d metric, with no expectation.
 *  - series: every series above with at least one point.
 */
int tl_traffic_manifest(const struct tl_traffic *t, struct tl_manifest **out);

#endif /* TL_TRAFFIC_H */
