/*
 * cm_clock.h - clocks. Time in StreamFlow is int64 nanoseconds since the Unix
 * epoch (cm_now_ns); intervals are measured on the monotonic clock
 * (cm_mono_ns). Both use vDSO clock_gettime, so they make no syscall; the hot
 * path still prefers cm_tsc() deadlines. Any thread may call these.
 */
#ifndef CM_CLOCK_H
#define CM_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define CM_NS_PER_US  1000LL
#define CM_NS_PER_MS  1000000LL
#define CM_NS_PER_SEC 1000000000LL

static inline int64_t cm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

/* floor(a / b) for b > 0: the index of the span of width b that holds time a. */
static inline int64_t cm_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The first multiple of span (> 0) strictly after ts; INT64_MAX when that overflows. */
static inline int64_t cm_next_multiple(int64_t ts, int64_t span)
{
	int64_t q = cm_floor_div(ts, span), r;
	if (q == INT64_MAX || __builtin_mul_overflow(q + 1, span, &r))
		return INT64_MAX;
	return r;
}

/* Sleep ns nanoseconds (background and idle threads only: a syscall). */
static inline void cm_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / CM_NS_PER_SEC, .tv_nsec = ns % CM_NS_PER_SEC};
	nanosleep(&ts, NULL);
}

static inline int64_t cm_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

/* Sleep until cm_mono_ns() reaches t_ns (pacing loops of load generators; a syscall). */
static inline void cm_sleep_until_mono(int64_t t_ns)
{
	struct timespec ts = {.tv_sec = t_ns / CM_NS_PER_SEC, .tv_nsec = t_ns % CM_NS_PER_SEC};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* CPU time of the calling process, in nanoseconds (for benchmarks). */
static inline int64_t cm_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * CM_NS_PER_SEC + ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t cm_tsc(void) { return __rdtsc(); }
#else
static inline uint64_t cm_tsc(void) { return (uint64_t)cm_mono_ns(); }
#endif

/*
 * Proleptic Gregorian dates and days since 1970-01-01, both ways, for any
 * int64 day count a nanosecond time gives (H. Hinnant's days_from_civil and
 * civil_from_days). m is 1..12, d 1..31.
 */
static inline int64_t cm_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline void cm_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

#endif /* CM_CLOCK_H */
