/*
 * st_types.h - the small value types every layer shares: value types, a
 * point, series ids and borrowed string slices. Logic-free.
 */
#ifndef ST_TYPES_H
#define ST_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A series keeps the value type of its first point. F64 and I64 are stored
 * today; U64 and BOOL use the integer codec unchanged (bit-exact); STR is
 * reserved for string fields (a later codec).
 */
enum st_value_type {
	ST_VT_NONE = 0,
	ST_VT_F64 = 1,
	ST_VT_I64 = 2,
	ST_VT_U64 = 3,
	ST_VT_BOOL = 4,
	ST_VT_STR = 5,
};

union st_value {
	double f64;
	int64_t i64;
	uint64_t u64;
	bool b;
};

/* A decoded point; time is int64 nanoseconds since the Unix epoch. */
struct st_point {
	int64_t ts_ns;
	union st_value v;
	uint8_t type; /* enum st_value_type */
};

/* A borrowed byte slice (not NUL-terminated). */
struct st_str {
	const char *p;
	uint32_t len;
};

/*
 * Series ids are global: the owning shard in the top 16 bits, the shard-local
 * index (dense, from 0, never reused while the shard lives) below.
 */
#define ST_SERIES_SHARD_SHIFT 48
#define ST_SERIES_LOCAL_MASK ((UINT64_C(1) << ST_SERIES_SHARD_SHIFT) - 1)
#define ST_SERIES_ID(shard, local) (((uint64_t)(shard) << ST_SERIES_SHARD_SHIFT) | (uint64_t)(local))
#define ST_SERIES_SHARD(id) ((uint32_t)((id) >> ST_SERIES_SHARD_SHIFT))
#define ST_SERIES_LOCAL(id) ((id) & ST_SERIES_LOCAL_MASK)

#endif /* ST_TYPES_H */
