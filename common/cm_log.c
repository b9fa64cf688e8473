/*
 * cm_log.c - see cm_log.h. Lines go to stderr with one write(2) each, so
 * lines from different threads never interleave. Called from management and
 * start-up code only; never from a HOT PATH section.
 */
#include "cm_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm_clock.h"

static _Atomic int log_level = CM_LOG_INFO;

static const char *const level_names[] = {
	[CM_LOG_ERR] = "err",
	[CM_LOG_WARN] = "warn",
	[CM_LOG_INFO] = "info",
	[CM_LOG_DEBUG] = "debug",
};

void cm_log_set_level(enum cm_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum cm_log_level cm_log_get_level(void)
{
	return (enum cm_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int cm_log_parse_level(const char *s, enum cm_log_level *out)
{
	for (size_t i = 0; i < CM_ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cm_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void cm_log(enum cm_log_level level, const char *module, const char *fmt, ...)
{
	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;

	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[level], module);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = CM_MIN((size_t)n + (size_t)m, sizeof(line) - 2);
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

bool cm_log_rl_allow(struct cm_log_rl *rl, uint64_t *suppressed_out)
{
	/* Relaxed: a counter and a timestamp, no data published through them;
	 * two threads may both pass in the same second, which is harmless. */
	int64_t now = cm_mono_ns();
	int64_t last = atomic_load_explicit(&rl->last_ns, memory_order_relaxed);
	if (last != 0 && now - last < CM_NS_PER_SEC) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return false;
	}
	atomic_store_explicit(&rl->last_ns, now, memory_order_relaxed);
	*suppressed_out = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return true;
}
