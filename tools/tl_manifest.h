/*
 * tl_manifest.h - the traffic manifest: what a receiver must end up storing
 * after `sfgen traffic` ran against it, as a text file a checker reads back.
 * Written by the generator (tl_traffic.h), read by the end-to-end checkers.
 *
 * Format (text, one record per line, fields separated by one tab, lines
 * starting with '#' and blank lines ignored; the first record is the
 * version, every other may come in any order):
 *
 *   sfgen-manifest  1
 *   series  <N>        distinct series the receiver must hold in all
 *   expect  <series>  <agg>  <value>  <rel_tol>
 *   sent    <proto>   <datagrams>  <lines_or_records>
 *   junk    <kind>    <count>
 *   binary  <source>  <frames_sent>  <gaps>  <dups>  <reorders>
 *
 * expect: <series> is the series key as st_key_format() prints it with its
 * field ("cpu,host=a usage"; it never holds a tab), <agg> one of count (the
 * number of stored points), sum, min, max, last (the value at the largest
 * timestamp), <value> printed %.17g. A check passes when
 * |got - want| <= rel_tol * max(1, |want|) (tl_manifest_check_value).
 * sent: <proto> is a dp_proto_name(); datagrams that reach that decoder and
 * the lines (statsd, line) or records (binary: DEFs and POINTs) in them the
 * decoder gives OK. junk: <kind> a tl_junk_name(), count in lines, records
 * or frames as the kind says. binary: per source, frames with distinct
 * sequence numbers, sequence numbers skipped, frames resent verbatim, pairs
 * of frames swapped. tl_traffic.h says what the generator puts in each.
 *
 * Ownership: a struct tl_manifest is owned by whoever created or loaded it
 * and freed with tl_manifest_free(); it copies every string it is given.
 * Threads: any, one thread per manifest.
 */
#ifndef TL_MANIFEST_H
#define TL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dp_rx.h"

#define TL_MANIFEST_MAGIC "sfgen-manifest"
#define TL_MANIFEST_VERSION 1

/* How a checker reduces the stored points of a series to one number. */
enum tl_agg {
	TL_AGG_COUNT = 0,  /* number of stored points */
	TL_AGG_SUM,
	TL_AGG_MIN,
	TL_AGG_MAX,
	TL_AGG_LAST,       /* the value at the largest timestamp */
	TL_AGG__COUNT
};

/* Kinds of deliberately malformed input, and the unit each is counted in. */
enum tl_junk {
	TL_JUNK_NONE = 0,
	TL_JUNK_STATSD_BAD_LINE,    /* lines: bad type, bad rate, bad value */
	TL_JUNK_LINE_BAD_LINE,      /* lines: bad field value, missing fields */
	TL_JUNK_BINARY_BAD_FRAME,   /* frames: bad CRC, bad magic */
	TL_JUNK_BINARY_BAD_RECORD,  /* records inside a good frame */
	TL_JUNK_NOT_IP,             /* pcap frames: ARP */
	TL_JUNK_NOT_UDP,            /* pcap frames: TCP segments to a listener port */
	TL_JUNK_FRAGMENT,           /* pcap frames: IPv4 fragments to a listener port */
	TL_JUNK_UNKNOWN_PORT,       /* pcap frames: UDP to a port with no listener */
	TL_JUNK__COUNT
};

/* "count", "sum", ...; "unknown" when out of range. */
const char *tl_agg_name(enum tl_agg agg);
/* "statsd_bad_line", ...; "none" for TL_JUNK_NONE, "unknown" when out of range. */
const char *tl_junk_name(enum tl_junk kind);

struct tl_expect {
	char *series;       /* owned by the manifest */
	uint8_t agg;        /* enum tl_agg */
	double value;
	double tol;         /* relative tolerance (see tl_manifest_check_value) */
};

struct tl_sent {
	uint64_t datagrams;
	uint64_t records;   /* lines (statsd, line protocol) or records (binary) decoded OK */
};

struct tl_binary_src {
	uint32_t source_id;
	uint64_t frames;    /* distinct sequence numbers sent */
	uint64_t gaps;      /* sequence numbers skipped on purpose */
	uint64_t dups;      /* frames sent a second time, verbatim */
	uint64_t reorders;  /* consecutive pairs sent in swapped order */
};

/* A manifest in memory. Plain struct: checkers walk the arrays directly. */
struct tl_manifest {
	uint64_t series;                 /* the series record */
	struct tl_expect *expect;
	size_t nexpect;
	struct tl_sent sent[DP_PROTO__COUNT];
	uint64_t junk[TL_JUNK__COUNT];   /* [TL_JUNK_NONE] unused */
	struct tl_binary_src *binary;
	size_t nbinary;
	size_t expect_cap, binary_cap;  /* private */
};

/*
 * What one series of points (line protocol, binary frames) stored: the
 * running count, sum, min, max and the value at the largest timestamp.
 * Plain struct, zeroed before use; a generator adds each point it sends
 * once (not its duplicates: the store keeps one point per timestamp).
 */
struct tl_series_acc {
	uint64_t count;
	double sum, min, max, last;
	int64_t last_ts_ns;
};

static inline void tl_series_acc_add(struct tl_series_acc *a, int64_t ts_ns, double v)
{
	if (a->count == 0 || v < a->min)
		a->min = v;
	if (a->count == 0 || v > a->max)
		a->max = v;
	if (a->count == 0 || ts_ns >= a->last_ts_ns) {
		a->last = v;
		a->last_ts_ns = ts_ns;
	}
	a->sum += v;
	a->count++;
}

/* An empty manifest into *out (owned). 0 or -ENOMEM. */
int tl_manifest_create(struct tl_manifest **out);
/* Free m and its strings; NULL is fine. */
void tl_manifest_free(struct tl_manifest *m);

/*
 * Append an expectation (series is borrowed and copied; it must not hold a
 * tab or a newline). 0, -EINVAL (bad agg, tab or newline in series,
 * negative or non-finite tolerance, non-finite value) or -ENOMEM.
 */
int tl_manifest_expect(struct tl_manifest *m, const char *series, enum tl_agg agg, double value,
		       double rel_tol);
/*
 * The expectations of a series of points: count (tolerance 0), sum and
 * last (rel_tol). Nothing when the accumulator is empty. 0 or as above.
 */
int tl_manifest_expect_points(struct tl_manifest *m, const char *series,
			      const struct tl_series_acc *acc, double rel_tol);
/* Append a binary source record (copied). 0 or -ENOMEM. */
int tl_manifest_binary(struct tl_manifest *m, const struct tl_binary_src *src);

/*
 * Write m to path ("-" is stdout) in the format above. 0, or a negative
 * errno with err set ("cannot write 'path': ...").
 */
int tl_manifest_write(const struct tl_manifest *m, const char *path, char *err, size_t errlen);
/* The same to an open stream (borrowed). 0 or -EIO. */
int tl_manifest_fprint(const struct tl_manifest *m, FILE *f);

/*
 * Read a manifest file into *out (owned by the caller, tl_manifest_free).
 * Strict: the version record first, known record kinds, protocols and junk
 * kinds only, exact field counts, numbers in range. Returns 0, -ENOENT and
 * the like when the file cannot be read, -EINVAL for a malformed file
 * (err: "'path' line 12: bad agg 'avg'"), -ENOMEM.
 */
int tl_manifest_load(const char *path, struct tl_manifest **out, char *err, size_t errlen);

/* True when got passes: |got - want| <= tol * max(1, |want|), for every agg. NaN never passes. */
bool tl_manifest_check_value(double want, double got, double tol);

#endif /* TL_MANIFEST_H */
