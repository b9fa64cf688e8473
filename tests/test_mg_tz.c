/*
 * test_mg_tz.c - unit tests for mgmt/mg_tz.c: zone names (known, unknown,
 * malformed), offsets at instants on both sides of daylight saving time
 * (Chicago, Paris, Kolkata's half hour, UTC), wall times back to instants
 * (round trips, the spring-forward gap, the fall-back repeat), and GROUP
 * BY time windows: local days of 23 and 25 hours around the switches, and
 * a year of hours and days in a row without gaps or overlaps, each window
 * holding the instants that map to it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tz.h"

#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
/* 2016-01-01T00:00:00Z */
#define Y2016 (INT64_C(1451606400) * SEC)

static struct mg_tz *open_ok(const char *name)
{
	struct mg_tz *tz = NULL;
	assert_int_equal(mg_tz_open(name, &tz), 0);
	assert_non_null(tz);
	return tz;
}

static void test_mg_tz__names(void **state)
{
	(void)state;
	struct mg_tz *tz = (struct mg_tz *)(uintptr_t)1;
	assert_int_equal(mg_tz_open("Nowhere/Atlantis", &tz), -ENOENT);
	assert_int_equal(mg_tz_open("america/chicag", &tz), -ENOENT);
	assert_int_equal(mg_tz_open("", &tz), -EINVAL);
	assert_int_equal(mg_tz_open(NULL, &tz), -EINVAL);
	assert_int_equal(mg_tz_open("Europe/Par\xc3\xads", &tz), -EINVAL);
	assert_int_equal(mg_tz_open("Europe Paris", &tz), -EINVAL);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mg_tz_open(longname, &tz), -EINVAL);
	assert_ptr_equal(tz, (struct mg_tz *)(uintptr_t)1); /* untouched on failure */
	static const char *const good[] = {"UTC", "America/Chicago", "Europe/Paris",
					   "Asia/Kolkata", "Etc/GMT+5"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		mg_tz_close(open_ok(good[i]));
	mg_tz_close(NULL);
}

static void test_mg_tz__offsets(void **state)
{
	(void)state;
	static const struct {
		const char *zone;
		int64_t t, offset;
	} cases[] = {
		{"UTC", Y2016, 0},
		{"America/Chicago", Y2016, -6 * HOUR},
		{"America/Chicago", Y2016 + 182 * DAY, -5 * HOUR},
		/* 2016-03-13: 2:00 CST becomes 3:00 CDT at 08:00Z */
		{"America/Chicago", Y2016 + 72 * DAY + 8 * HOUR - 1, -6 * HOUR},
		{"America/Chicago", Y2016 + 72 * DAY + 8 * HOUR, -5 * HOUR},
		/* 2016-11-06: 2:00 CDT becomes 1:00 CST at 07:00Z */
		{"America/Chicago", Y2016 + 310 * DAY + 7 * HOUR - 1, -5 * HOUR},
		{"America/Chicago", Y2016 + 310 * DAY + 7 * HOUR, -6 * HOUR},
		{"Europe/Paris", Y2016, 1 * HOUR},
		{"Europe/Paris", Y2016 + 182 * DAY, 2 * HOUR},
		{"Asia/Kolkata", Y2016, 5 * HOUR + 30 * 60 * SEC},
		{"Etc/GMT+5", Y2016, -5 * HOUR},  /* POSIX signs: GMT+5 is west */
		{"America/Chicago", -DAY, -6 * HOUR}, /* before the epoch */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mg_tz *tz = open_ok(cases[i].zone);
		int64_t got = mg_tz_offset_ns(tz, cases[i].t);
		if (got != cases[i].offset)
			fail_msg("case %zu (%s): offset %lld, want %lld", i, cases[i].zone,
				 (long long)got, (long long)cases[i].offset);
		mg_tz_close(tz);
	}
}

static void test_mg_tz__from_local(void **state)
{
	(void)state;
	struct mg_tz *tz = open_ok("America/Chicago");
	/* every 17 minutes of 2016: instant -> wall time -> the same instant, but in the
	 * hour a fall-back repeats, where the wall time gives its first instant */
	int64_t fall = Y2016 + 310 * DAY + 7 * HOUR;
	for (int64_t t = Y2016; t < Y2016 + 366 * DAY; t += 17 * 60 * SEC) {
		int64_t local = t + mg_tz_offset_ns(tz, t);
		int64_t back = mg_tz_from_local(tz, local);
		int64_t want = t >= fall && t < fall + HOUR ? t - HOUR : t;
		if (back != want)
			fail_msg("t %lld: back %lld, want %lld", (long long)t, (long long)back,
				 (long long)want);
	}
	/* local 2016-01-01T00:00 is 06:00Z */
	assert_int_equal(mg_tz_from_local(tz, Y2016), Y2016 + 6 * HOUR);
	/* 2016-03-13T02:30 does not exist: read with the offset before the switch (CST) */
	assert_int_equal(mg_tz_from_local(tz, Y2016 + 72 * DAY + 2 * HOUR + 30 * 60 * SEC),
			 Y2016 + 72 * DAY + 8 * HOUR + 30 * 60 * SEC);
	mg_tz_close(tz);
}

/* The window holding t, checked to hold it. */
static void window(struct mg_tz *tz, int64_t interval, int64_t offset, int64_t t, int64_t *s,
		   int64_t *e)
{
	mg_tz_window(tz, interval, offset, t, s, e);
	if (!(*s <= t && t < *e))
		fail_msg("t %lld outside its window [%lld, %lld)", (long long)t, (long long)*s,
			 (long long)*e);
}

/* The window of t is [want_s, want_e). */
static void expect_window(struct mg_tz *tz, int64_t interval, int64_t offset, int64_t t,
			  int64_t want_s, int64_t want_e)
{
	int64_t s, e;
	window(tz, interval, offset, t, &s, &e);
	assert_int_equal(s, want_s);
	assert_int_equal(e, want_e);
}

static void test_mg_tz__days(void **state)
{
	(void)state;
	struct mg_tz *tz = open_ok("America/Chicago");
	/* an ordinary winter day: local midnight to local midnight, 24 h */
	expect_window(tz, DAY, 0, Y2016 + 12 * HOUR, Y2016 + 6 * HOUR, Y2016 + DAY + 6 * HOUR);
	/* the spring-forward day is 23 h: 06:00Z to 05:00Z */
	expect_window(tz, DAY, 0, Y2016 + 72 * DAY + 12 * HOUR,
		      Y2016 + 72 * DAY + 6 * HOUR, Y2016 + 73 * DAY + 5 * HOUR);
	/* early in that day, before the switch, the same window */
	expect_window(tz, DAY, 0, Y2016 + 72 * DAY + 7 * HOUR,
		      Y2016 + 72 * DAY + 6 * HOUR, Y2016 + 73 * DAY + 5 * HOUR);
	/* the fall-back day is 25 h: 05:00Z to 06:00Z */
	expect_window(tz, DAY, 0, Y2016 + 310 * DAY + 12 * HOUR,
		      Y2016 + 310 * DAY + 5 * HOUR, Y2016 + 311 * DAY + 6 * HOUR);
	expect_window(tz, DAY, 0, Y2016 + 310 * DAY + 6 * HOUR,
		      Y2016 + 310 * DAY + 5 * HOUR, Y2016 + 311 * DAY + 6 * HOUR);
	/* an offset of 6 h: windows from local 06:00 */
	expect_window(tz, DAY, 6 * HOUR, Y2016 + 13 * HOUR,
		      Y2016 + 12 * HOUR, Y2016 + DAY + 12 * HOUR);
	mg_tz_close(tz);
	/* in UTC, the plain epoch-aligned windows */
	tz = open_ok("UTC");
	expect_window(tz, DAY, 0, Y2016 + 12 * HOUR, Y2016, Y2016 + DAY);
	expect_window(tz, 10 * 60 * SEC, 0, -1, -10 * 60 * SEC, 0);
	mg_tz_close(tz);
}

/* Walk a year of windows as the executor does: contiguous, each start's own window. */
static void walk(const char *zone, int64_t interval, int64_t *shortest, int64_t *longest)
{
	struct mg_tz *tz = open_ok(zone);
	int64_t s, e, s2, e2;
	mg_tz_window(tz, interval, 0, Y2016, &s, &e);
	*shortest = INT64_MAX;
	*longest = 0;
	for (int64_t n = 0; s < Y2016 + 366 * DAY; n++) {
		mg_tz_window(tz, interval, 0, s, &s2, &e2);
		assert_int_equal(s2, s);
		assert_true(e2 > s2);
		/* the instants inside map back to it */
		window(tz, interval, 0, s2 + (e2 - s2) / 2, &s, &e);
		assert_int_equal(s, s2);
		assert_int_equal(e, e2);
		window(tz, interval, 0, e2 - 1, &s, &e);
		assert_int_equal(s, s2);
		*shortest = e2 - s2 < *shortest ? e2 - s2 : *shortest;
		*longest = e2 - s2 > *longest ? e2 - s2 : *longest;
		s = e2;
	}
	mg_tz_close(tz);
}

static void test_mg_tz__year_of_windows(void **state)
{
	(void)state;
	int64_t lo, hi;
	walk("America/Chicago", DAY, &lo, &hi);
	assert_int_equal(lo, 23 * HOUR);
	assert_int_equal(hi, 25 * HOUR);
	/* hours: the switch is a whole bucket, so no window stretches (InfluxDB's rule) */
	walk("America/Chicago", HOUR, &lo, &hi);
	assert_int_equal(lo, HOUR);
	assert_int_equal(hi, HOUR);
	walk("Asia/Kolkata", DAY, &lo, &hi);
	assert_int_equal(lo, DAY);
	assert_int_equal(hi, DAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mg_tz__names),
		cmocka_unit_test(test_mg_tz__offsets),
		cmocka_unit_test(test_mg_tz__from_local),
		cmocka_unit_test(test_mg_tz__days),
		cmocka_unit_test(test_mg_tz__year_of_windows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
