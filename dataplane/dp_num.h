/*
 * dp_num.h - decimal numbers in the text protocols (line protocol, StatsD):
 * a strict scanner over a bounded buffer and a correctly rounded conversion
 * to double, with no locale and no read past the end. Shared by dp_line and
 * dp_statsd so that both accept and round exactly the same numbers.
 *
 * Conversion: up to 19 significant digits with a power of ten in [-22, 22]
 * take Clinger's fast path (exact operands, one rounding); anything else
 * goes to strtod on a NUL-terminated copy of at most DP_NUM_MAX_BYTES
 * bytes, which rounds correctly under the "C" LC_NUMERIC (the default;
 * nothing in StreamFlow calls setlocale). Any thread.
 */
#ifndef DP_NUM_H
#define DP_NUM_H

#include <stdbool.h>
#include <stdint.h>

/* The longest unsigned number text dp_num_double converts through strtod. */
#define DP_NUM_MAX_BYTES 127

struct dp_num {
	uint64_t m;          /* the first 19 significant digits, exactly */
	uint32_t nsig;       /* significant digits seen; more than 19: m is truncated */
	uint32_t ndig;       /* mantissa digits seen */
	int32_t exp10;       /* value = m * 10^exp10 while nsig <= 19 */
	bool is_int;         /* digits only: no '.', no exponent */
	const char *digits;  /* where the scan started */
	const char *end;     /* the first byte that is not part of the number */
};

/*
 * HOT PATH. Scan an unsigned decimal at p (the caller has taken any sign):
 * digits[.digits][(e|E)[+-]digits] or .digits[...], stopping at the first
 * byte that does not fit. False when there is no mantissa digit or an
 * exponent has no digits.
 */
bool dp_num_scan(const char *p, const char *end, struct dp_num *n);

/* HOT PATH. The scanned number as a finite double; false when it overflows or is too long. */
bool dp_num_double(const struct dp_num *n, double *out);

#endif /* DP_NUM_H */
