/*
 * mg_dtoa.h - the shortest decimal digits that read back as a double, from
 * Google's double-conversion library (C++; this is its C face). The JSON
 * encoder lays the digits out as Go's strconv.FormatFloat(f, -1) does.
 */
#ifndef MG_DTOA_H
#define MG_DTOA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * |v| (finite) as digits d1 d2 ... dn (n returned, at most 17, no trailing
 * zeros, "0" for zero) and the decimal exponent e such that
 * |v| = d1.d2...dn x 10^e: the fewest digits that read back as v, the one
 * nearest to v among several. digits needs 18 bytes.
 */
size_t mg_dtoa_shortest(double v, char *digits, int *exp10);

#ifdef __cplusplus
}
#endif

#endif /* MG_DTOA_H */
