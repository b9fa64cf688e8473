/*
 * mg_tz.c - see mg_tz.h. A thin layer over ICU's C calendar API (ucal_*):
 * ICU keeps the IANA rules current with Debian's libicu, and its calendar
 * answers both directions (instant -> offset, wall time -> offset).
 *
 * Usage profile: a query with tz() opens one zone and asks it a few times
 * per GROUP BY bucket edge and per printed row (about a microsecond each);
 * nothing here runs per point.
 */
#include "mg_tz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>

#include "cm_clock.h"

#define TZ_NAME_MAX 64

struct mg_tz {
	UCalendar *cal;
};

int mg_tz_open(const char *name, struct mg_tz **out)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len >= TZ_NAME_MAX)
		return -EINVAL;
	UChar id[TZ_NAME_MAX], canon[TZ_NAME_MAX];
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return -EINVAL;
		id[i] = (UChar)name[i];
	}
	/* ucal_open takes any ID (an unknown one silently means GMT): check it first */
	UErrorCode st = U_ZERO_ERROR;
	UBool system;
	ucal_getCanonicalTimeZoneID(id, (int32_t)len, canon, TZ_NAME_MAX, &system, &st);
	if (U_FAILURE(st) || !system)
		return -ENOENT;
	struct mg_tz *tz = calloc(1, sizeof(*tz));
	if (!tz)
		return -ENOMEM;
	tz->cal = ucal_open(id, (int32_t)len, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st) || !tz->cal) {
		free(tz);
		return st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : -ENOENT;
	}
	*out = tz;
	return 0;
}

void mg_tz_close(struct mg_tz *tz)
{
	if (!tz)
		return;
	ucal_close(tz->cal);
	free(tz);
}

/* ns -> ICU's UDate (ms, a double), rounding down. */
static UDate to_udate(int64_t ns)
{
	int64_t ms = ns / CM_NS_PER_MS;
	if (ns % CM_NS_PER_MS < 0)
		ms--;
	return (UDate)ms;
}

int64_t mg_tz_offset_ns(struct mg_tz *tz, int64_t t)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(tz->cal, to_udate(t), &st);
	int32_t raw = ucal_get(tz->cal, UCAL_ZONE_OFFSET, &st);
	int32_t dst = ucal_get(tz->cal, UCAL_DST_OFFSET, &st);
	return U_FAILURE(st) ? 0 : ((int64_t)raw + dst) * CM_NS_PER_MS;
}

int64_t mg_tz_from_local(struct mg_tz *tz, int64_t local)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t raw = 0, dst = 0;
	/* the calendar's millis read as a wall time */
	ucal_setMillis(tz->cal, to_udate(local), &st);
	ucal_getTimeZoneOffsetFromLocal(tz->cal, UCAL_TZ_LOCAL_FORMER, UCAL_TZ_LOCAL_FORMER,
					&raw, &dst, &st);
	int64_t off = U_FAILURE(st) ? 0 : ((int64_t)raw + dst) * CM_NS_PER_MS, t;
	if (__builtin_sub_overflow(local, off, &t))
		return off > 0 ? INT64_MIN : INT64_MAX;
	return t;
}

static int64_t abs64(int64_t x)
{
	return x < 0 ? -x : x;
}

void mg_tz_window(struct mg_tz *tz, int64_t interval, int64_t offset, int64_t t,
		  int64_t *start, int64_t *end)
{
	if (__builtin_sub_overflow(t, offset, &t))
		t = INT64_MIN;
	int64_t zone = mg_tz_offset_ns(tz, t);
	/* where t lies in its local bucket */
	int64_t dt = (t % interval + zone % interval) % interval; /* (t + zone) mod interval */
	if (dt < 0)
		dt += interval;
	int64_t s;
	if (__builtin_sub_overflow(t, dt, &s)) {
		s = INT64_MIN;
	} else {
		s += offset;
		/* the offset at the bucket's start may differ from t's: move by it when shorter */
		int64_t o = zone - mg_tz_offset_ns(tz, s);
		if (o != 0 && abs64(o) < interval && !__builtin_add_overflow(s, o, &o))
			s = o;
	}
	int64_t e;
	if (__builtin_add_overflow(t, interval - dt, &e)) {
		e = INT64_MAX;
	} else {
		int64_t eo = mg_tz_offset_ns(tz, e);
		int64_t o = zone - eo;
		/*
		 * An offset change inside the bucket: time added by a fall-back
		 * belongs to it (the end moves later); time skipped by a
		 * spring-forward shortens it only when the switch is inside.
		 */
		if (o != 0 && abs64(o) < interval) {
			if (o > 0 || mg_tz_offset_ns(tz, e + o) == eo)
				e += o;
		}
		if (e <= INT64_MAX - offset)
			e += offset;
	}
	*start = s;
	*end = e;
}
