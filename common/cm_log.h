/*
 * cm_log.h - key=value event logging with a module tag, for every thread
 * except the hot path (a log line is a syscall).
 *
 *   CM_LOG_INFO("wal", "event=rotate seg=%u bytes=%zu", seg, n);
 *   -> 2026-11-21T18:40:02.123Z info wal event=rotate seg=12 bytes=4096
 *
 * CM_LOG_RL_* rate-limits a call site to one line per second and reports how
 * many lines it suppressed. Thread-safe: one write(2) per line.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cm_compiler.h"

enum cm_log_level {
	CM_LOG_ERR = 0,
	CM_LOG_WARN,
	CM_LOG_INFO,
	CM_LOG_DEBUG,
};

/* Messages above this level are discarded. Default CM_LOG_INFO. */
void cm_log_set_level(enum cm_log_level level);
enum cm_log_level cm_log_get_level(void);
/* Parse "err|warn|info|debug"; returns 0 or -EINVAL. */
int cm_log_parse_level(const char *s, enum cm_log_level *out);

void cm_log(enum cm_log_level level, const char *module, const char *fmt, ...)
	CM_PRINTF(3, 4);

/* Per call site rate limit: true if this call may log now (one per second). */
struct cm_log_rl {
	_Atomic int64_t last_ns;
	_Atomic uint64_t suppressed;
};
bool cm_log_rl_allow(struct cm_log_rl *rl, uint64_t *suppressed_out);

#define CM_LOG_ERR(mod, ...)   cm_log(CM_LOG_ERR, (mod), __VA_ARGS__)
#define CM_LOG_WARN(mod, ...)  cm_log(CM_LOG_WARN, (mod), __VA_ARGS__)
#define CM_LOG_INFO(mod, ...)  cm_log(CM_LOG_INFO, (mod), __VA_ARGS__)
#define CM_LOG_DEBUG(mod, ...) cm_log(CM_LOG_DEBUG, (mod), __VA_ARGS__)

#define CM_LOG_RL(level, mod, ...)                                            \
	do {                                                                  \
		static struct cm_log_rl rl_;                                  \
		uint64_t supp_;                                               \
		if (cm_log_rl_allow(&rl_, &supp_)) {                          \
			if (supp_)                                            \
				cm_log((level), (mod),                        \
				       "event=log_suppressed lines=%llu",      \
				       (unsigned long long)supp_);             \
			cm_log((level), (mod), __VA_ARGS__);                  \
		}                                                             \
	} while (0)

#endif /* CM_LOG_H */
