/*
 * cm_clock.h - clocks. Time in StreamFlow is int64 nanoseconds since the Unix
 * epoch (cm_now_ns); intervals are measured on the monotonic clock
 * (cm_mono_ns). Both use vDSO clock_gettime, so they make no syscall; the hot
 * path still prefers cm_tsc() deadlines. Any thread may call these.
 */
#ifndef CM_CLOCK_H
#define CM_CLOCK_H

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

#endif /* CM_CLOCK_H */
