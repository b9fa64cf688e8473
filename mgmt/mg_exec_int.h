/*
 * mg_exec_int.h - the executor's internals shared by its files: the plan
 * of one SELECT (mg_exec.c), expression values (mg_eval.c), row sets and
 * their loading (mg_exec_load.c), running a plan (mg_exec_run.c). Not an
 * API; one thread per plan.
 */
#ifndef MG_EXEC_INT_H
#define MG_EXEC_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_clock.h"
#include "mg_agg.h"
#include "mg_db.h"
#include "mg_tz.h"
#include "mg_exec.h"
#include "st_shard.h"
#include "st_store.h"

struct st_index_regex;

#define QP_FIELDS_MAX 256
#define QP_TAGKEYS_MAX 256
#define QP_COLS_MAX 256
#define QP_TZ_BUCKETS_MAX (1u << 24) /* tz() buckets when mgmt.query_max_buckets is 0 */
#define QP_SLOTS_MAX 256
#define QP_CONDS_MAX 64
#define QP_NAME_MAX 192

/*
 * A small bump allocator: everything a plan allocates, freed at once; and
 * the set of strings interned in it (qa_intern).
 */
struct qarena {
	struct qarena_blk *head;
	size_t bytes;
	struct qa_interned *set;     /* open addressing, a power of two slots */
	uint32_t nset, capset;
};
void *qa_alloc(struct qarena *a, size_t n);
char *qa_strndup(struct qarena *a, const char *s, size_t n);
/*
 * The arena's one copy of s[0..n), NUL-terminated: equal strings interned
 * share it. Tag keys and values are interned, so the rows of a raw answer
 * repeat a few hundred distinct addresses rather than one per series and
 * tag (the result copies and the JSON encoder remember strings by address).
 * NULL on ENOMEM.
 */
const char *qa_intern(struct qarena *a, const char *s, size_t n);
void qa_release(struct qarena *a);

enum qref_kind { QR_NONE, QR_TIME, QR_TAG, QR_FIELD };

struct qref {
	const struct mg_expr *e;
	enum qref_kind kind;
	uint32_t field;
};

struct qcol {
	const char *name;            /* as printed (unique; in the plan's arena) */
	const struct mg_expr *expr;  /* what to evaluate (a transformation's argument) */
	int xform;                   /* enum mg_xform_fn, or -1 */
	bool reads_field;            /* raw rows: the column reads a field */
	bool count;                  /* a bare count(): fill(null) gives it 0, as InfluxDB */
	int64_t xunit, xwindow;
};

struct qslot {
	int fn;                      /* enum mg_agg_fn */
	int field;                   /* index in qplan.fields */
	double arg;
	const struct mg_expr *call;
	bool keep;
};

struct qcond {
	const struct mg_expr *e;
	bool tag_only;               /* no field in it: decided per row set */
	bool pushed;                 /* answered exactly by the series index */
};

struct qre {
	const char *pattern;         /* borrowed from the statement */
	struct st_index_regex *re;
};

/* A value during evaluation. */
enum xv_type { XV_NULL, XV_F64, XV_I64, XV_BOOL, XV_STR };
struct xv {
	uint8_t t;
	bool b;
	int64_t i;
	double f;
	const char *s;
	uint32_t slen;
};

struct qplan {
	struct mg_exec_ctx *cx;
	const struct mg_select *sel;
	char err[256];
	struct mg_tz *tz;            /* tz('...'), or NULL: UTC */
	struct ql_ahead *ahead;      /* row sets the decode helpers read ahead, or NULL */

	/* the schema of the sources: union over the measurements */
	const char *fieldkeys[QP_FIELDS_MAX];
	uint32_t nfieldkeys;
	const char *tagkeys[QP_TAGKEYS_MAX];
	uint32_t ntagkeys;

	const char *fields[QP_FIELDS_MAX];   /* fields read, in first-use order */
	uint32_t nfields;
	struct qref *refs;
	uint32_t nrefs, caprefs;
	struct qcol cols[QP_COLS_MAX];
	uint32_t ncols;
	struct qslot slots[QP_SLOTS_MAX];
	uint32_t nslots;
	struct qcond conds[QP_CONDS_MAX];
	uint32_t nconds;
	struct qre *res;
	uint32_t nres, capres;

	bool agg;                    /* an aggregate query */
	bool selector_time;          /* one selector alone: its point's time */
	bool has_xform;
	bool has_residual;           /* a WHERE condition reads a field: test per row */
	bool empty;                  /* the time range is empty */
	int64_t tmin, tmax;          /* inclusive */
	bool tmin_set, tmax_set;
	int64_t interval, offset;    /* GROUP BY time; 0: none */
	char cur_ns[MG_DB_NS_MAX];   /* the namespace of the source being resolved */
	const char *gtags[QP_TAGKEYS_MAX];  /* GROUP BY tag keys, sorted (output order) */
	uint32_t ngtags;

	/*
	 * A field condition of the form field op literal (walk_driven): its
	 * index in conds (-1: none), its field and literal; decided once per
	 * statement, when its groups run (plan_drive in mg_exec_run.c).
	 */
	int drive_cond, drive_field;
	bool drive_field_left;       /* field op literal, not literal op field */
	struct xv drive_lit;

	/* guardrails */
	uint64_t points_read;
	size_t held_bytes;           /* points in memory now */
	int64_t deadline_ns;

	struct qarena arena;
};

/* The fixed-width GROUP BY time bucket of ts: floor((ts - offset) / interval), any ts. */
static inline int64_t qp_bucket_index(const struct qplan *p, int64_t ts)
{
	int64_t d64;
	if (!__builtin_sub_overflow(ts, p->offset, &d64)) /* the common case: no 128-bit division */
		return cm_floor_div(d64, p->interval);
	__extension__ __int128 d = (__int128)ts - p->offset;
	__extension__ __int128 q = d / p->interval;
	return (int64_t)(d % p->interval < 0 ? q - 1 : q);
}

/* mg_exec.c */
int qp_plan(struct qplan *p);

/* mg_exec_run.c: one SELECT (also a subquery's, an analytics statement's inner one) */
int qx_select(struct mg_exec_ctx *cx, const struct mg_select *sel, struct mg_result *r,
	      struct mg_stmt_result *sr);

/* mg_exec_an.c: the analytics statements and functions (mg_exec_stmt's contract) */
bool qx_an_is_select(const struct mg_select *sel);
int qx_an_select(struct mg_exec_ctx *cx, const struct mg_select *sel, struct mg_result *r,
		 struct mg_stmt_result *sr);
int qx_an_stmt(struct mg_exec_ctx *cx, const struct mg_stmt *st, struct mg_result *r,
	       struct mg_stmt_result *sr);

/* mg_eval.c: references, regexes, values */
int qp_ref_set(struct qplan *p, const struct mg_expr *e, enum qref_kind k, uint32_t field);
enum qref_kind qp_ref_kind(const struct qplan *p, const struct mg_expr *e);
int qp_ref_field(const struct qplan *p, const struct mg_expr *e);
/* True if name is one of names[0..n) (the schema's keys, the GROUP BY tags). */
bool qp_name_in(const char *const *names, uint32_t n, const char *name);
bool qp_is_group_tag(const struct qplan *p, const char *name);
int qp_strcmp_p(const void *a, const void *b);
struct mg_expr *qp_new_ref(struct qplan *p, const char *name);
struct mg_expr *qp_new_call(struct qplan *p, const struct mg_expr *like, struct mg_expr *arg);
int qp_eval_time(struct qplan *p, const struct mg_expr *e, int64_t *out);
/*
 * The compiled regex of pattern (kept by the plan until qp_release: the
 * statement's string) or of a REGEX literal; each pattern is compiled once
 * per plan. 0, or -EINVAL with p->err, -ENOMEM.
 */
int qp_regex_text(struct qplan *p, const char *pattern, const struct st_index_regex **out);
int qp_regex(struct qplan *p, const struct mg_expr *e, const struct st_index_regex **out);
void qp_release(struct qplan *p);

struct mg_tagpair;

/* What a row offers to expressions. */
struct rowctx {
	const struct mg_tagpair *tags;   /* sorted by key */
	uint32_t ntags;
	const struct xv *fields;         /* by qplan.fields index */
	const struct mg_num *slots;      /* aggregate results by slot */
	int64_t ts;
};

/* Evaluate e (refs, literals, arithmetic, comparisons, AND/OR, slots). */
void qp_eval(struct qplan *p, const struct mg_expr *e, const struct rowctx *r, struct xv *out);
/* a op b for the comparisons = != < <= > >= (NULL against anything is false). */
bool qp_compare(enum mg_op op, const struct xv *a, const struct xv *b);
/* A condition: true only for a BOOL true (NULL and others are false). */
bool qp_test(struct qplan *p, const struct mg_expr *e, const struct rowctx *r);
/* Tag value of key in tags (sorted), or "" when absent. */
const char *qp_tag(const struct mg_tagpair *tags, uint32_t ntags, const char *key);

/* ------------------------------------------------------------ row sets */

/*
 * One field of a row set: its series (one per shard holding it) and, once
 * read, points; read by ql_load_sums, also block chunk summaries standing for
 * the points of chunks that lie inside one GROUP BY time bucket.
 */
struct qfcol {
	uint64_t *ids;
	uint32_t nids;
	uint8_t vt;                  /* enum st_value_type, from the first series */
	struct st_points pts;
	struct st_sums sums;
};

struct rowset {
	const char *meas;            /* as shown: without the database prefix */
	struct mg_tagpair *tags;
	uint32_t ntags;
	struct qfcol *f;             /* [qplan.nfields] */
	const char *gkey;            /* GROUP BY tag values, '\0'-joined; sort key */
	uint32_t gkey_len;
	bool loaded;
};

struct rowsets {
	struct rowset *v;
	uint32_t n, cap;
};

/* mg_exec_load.c */
/* Schema (field and tag keys) of the measurements a plan reads. */
int ql_schema(struct qplan *p, const char *const *meas, uint32_t nmeas);
/* The row sets of measurement meas (series name) that may match, with group keys. */
int ql_rowsets(struct qplan *p, const char *meas, struct rowsets *out);
/* Its GROUP BY key (rs->gkey), and appending it to a list. */
int ql_group_key(struct qplan *p, struct rowset *rs);
int ql_rowsets_push(struct rowsets *out, const struct rowset *rs);
/* Read a row set's points (every tier, every shard), counting toward the guardrails. */
int ql_load(struct qplan *p, struct rowset *rs);
/* Only the k newest (oldest) points of each series (st_store_read_end); k = 0: all. */
int ql_load_ends(struct qplan *p, struct rowset *rs, uint64_t k, bool newest);
/*
 * ql_load, but block chunks inside one GROUP BY time bucket (the whole
 * range without one) may come as their summaries (rs->f[].sums) instead of
 * points: for aggregates that summaries can answer (mg_acc_add_sum).
 */
int ql_load_sums(struct qplan *p, struct rowset *rs);
void ql_unload(struct qplan *p, struct rowset *rs);
/*
 * Let the decode helpers (cx->decode) read v[0..n) ahead, whole, over the
 * plan's range now (with the summaries when sums), in the order the
 * statement loads them; loads then take each from the helpers or read it
 * themselves. Nothing without helpers, for one row set, or for a
 * subquery's rows. Stop before v is freed or the plan released.
 */
void ql_ahead_start(struct qplan *p, struct rowset *v, uint32_t n, bool sums);
void ql_ahead_stop(struct qplan *p);
/* Guardrails between series: 0, or -ETIME / -ECANCELED / -E2BIG / -ENOMEM with p->err. */
int ql_check(struct qplan *p, uint64_t more_points);
/*
 * Would n items (`what`, for the message) of size bytes more pass the
 * memory guardrail (before they are allocated)? 0, or ql_check's error;
 * -ENOMEM with p->err when n * size does not fit a size_t.
 */
int ql_fits(struct qplan *p, uint64_t n, size_t size, const char *what);

#endif /* MG_EXEC_INT_H */
