/*
 * mg_watch.h - streaming anomaly detection on the management plane: the
 * rules of detect.rules, each a DETECT ANOMALIES statement with an online
 * method (`DETECT ANOMALIES IN usage_user FROM cpu WHERE host = 'a' USING
 * ewma(alpha = 0.05, threshold = 4)`), run every detect.interval over the
 * points that arrived since the last pass; each series of a rule keeps its
 * own online detector (an_online.h), and every flagged point becomes an
 * event in the detect.measurement measurement of detect.database:
 *
 *   anomalies,detector=ewma,src_measurement=cpu,src_field=usage_user,host=a
 *       value=97.5,score=0.998,lag_ms=112.4 <the point's time>
 *
 * (lag_ms: from the point's timestamp to the event's write, which bounds
 * arrival-to-event when senders stamp points as they send them.)
 *
 * It reads through the query service (mg_svc_query: the same QSBR reader
 * slots, guardrails and registry as any query) and writes through its
 * writers, so the dataplane's hot path never sees it. A series' detector
 * sees each point once, in time order: points older than the newest it has
 * scored are skipped, and a pass reads back at most
 * detect.lateness behind the rule's newest point (points arriving later
 * than that are never scored). Points stamped more than detect.lateness
 * after now are skipped and counted (detect.future): one would otherwise
 * hold its series, and the rule's window, in the future. A rule's series
 * table only grows: its memory follows the rule's source cardinality. At start a rule begins detect.lateness
 * before now: history is not replayed.
 *
 * Threads: start and stop on the main thread; the passes run on the job's
 * thread (mg_job.h); stats_read from any thread.
 */
#ifndef MG_WATCH_H
#define MG_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "cm_config.h"

struct mg_svc;
struct mg_watch;

extern const struct cm_cfg_table mg_watch_cfg_table;

/*
 * Parse and check detect.rules (an error names the rule), then start the
 * job; with no rules nothing starts and *out is NULL. svc is kept until
 * mg_watch_stop. 0, or -EINVAL / -errno with err.
 */
int mg_watch_start(const struct cm_config *cfg, struct mg_svc *svc, struct mg_watch **out,
		   char *err, size_t errlen);
/* Stop the job (a pass in progress finishes) and free everything. NULL ok. */
void mg_watch_stop(struct mg_watch *w);

struct mg_watch_stats {
	uint64_t passes;
	uint64_t points;            /* scored */
	uint64_t events;            /* flagged points written */
	uint64_t errors;            /* failed queries or writes */
	uint64_t future;            /* skipped: stamped more than detect.lateness after now */
	uint64_t series;            /* detectors held (gauge) */
	uint64_t last_lag_ms;       /* lag_ms of the newest event (gauge) */
};
/* NULL w reads zeros. */
void mg_watch_stats_read(const struct mg_watch *w, struct mg_watch_stats *out);

#endif /* MG_WATCH_H */
