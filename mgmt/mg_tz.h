/*
 * mg_tz.h - named time zones for tz('America/Chicago'): the UTC offset at
 * an instant, the instant of a wall-clock time, and InfluxDB 1.x's GROUP BY
 * time windows in a zone (local midnights for time(1d), with its rules for
 * the days that daylight saving time lengthens or shortens).
 *
 * The zone rules are ICU's (libicu, the IANA tz database it carries), not
 * the host's /etc/localtime. A zone is one ICU calendar: one thread at a
 * time; open one per query.
 */
#ifndef MG_TZ_H
#define MG_TZ_H

#include <stdint.h>

struct mg_tz;

/*
 * Open zone `name` (an IANA name such as "Europe/Paris", or "UTC"). 0,
 * -ENOENT (a name ICU does not know), -EINVAL (NULL, empty, too long, not
 * ASCII), -ENOMEM.
 */
int mg_tz_open(const char *name, struct mg_tz **out);
/* Accepts NULL. */
void mg_tz_close(struct mg_tz *tz);

/* The zone's offset from UTC at instant t (ns since the epoch), in ns: local = t + offset. */
int64_t mg_tz_offset_ns(struct mg_tz *tz, int64_t t);
/*
 * The instant whose wall-clock time in the zone is `local` (ns since the
 * local epoch). A time skipped by a spring-forward is read with the
 * offset before the switch; a repeated one gives its first instant.
 */
int64_t mg_tz_from_local(struct mg_tz *tz, int64_t local);

/*
 * InfluxDB's window of GROUP BY time(interval, offset) holding instant t in
 * the zone: [*start, *end). The window starts where the local time is a
 * multiple of interval (plus offset); when an offset change falls inside
 * it and is shorter than interval, the window stretches or shrinks by it.
 * interval > 0, 0 <= offset < interval.
 */
void mg_tz_window(struct mg_tz *tz, int64_t interval, int64_t offset, int64_t t,
		  int64_t *start, int64_t *end);

#endif /* MG_TZ_H */
