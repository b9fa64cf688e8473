/*
 * mg_dtoa.cc - mg_dtoa.h over double-conversion's DoubleToAscii (SHORTEST:
 * Grisu3 with its bignum fallback, so always the shortest round trip).
 * No exceptions, no allocation.
 */
#include "mg_dtoa.h"

#include <double-conversion/double-to-string.h>

using double_conversion::DoubleToStringConverter;

extern "C" size_t mg_dtoa_shortest(double v, char *digits, int *exp10)
{
	char buf[DoubleToStringConverter::kBase10MaximalLength + 1];
	bool sign;
	int length, point;
	DoubleToStringConverter::DoubleToAscii(v < 0 ? -v : v, DoubleToStringConverter::SHORTEST, 0,
					       buf, sizeof(buf), &sign, &length, &point);
	if (length == 0 || (length == 1 && buf[0] == '0')) { /* zero */
		digits[0] = '0';
		*exp10 = 0;
		return 1;
	}
	for (int i = 0; i < length; i++)
		digits[i] = buf[i];
	*exp10 = point - 1; /* buf is 0.d1d2... x 10^point */
	return (size_t)length;
}
