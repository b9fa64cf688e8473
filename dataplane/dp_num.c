/* dp_num.c - decimal number scanning and conversion (contract in dp_num.h). */
#include "dp_num.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* HOT PATH */

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exact powers of ten as doubles (10^22 is the largest exact one). */
static const double pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline void digit(struct dp_num *n, char c)
{
	if (n->nsig < 19) {
		n->m = n->m * 10 + (uint64_t)(c - '0');
		n->nsig += n->m != 0;
	} else {
		n->nsig++;
	}
}

bool dp_num_scan(const char *p, const char *end, struct dp_num *n)
{
	memset(n, 0, sizeof(*n));
	n->digits = p;
	n->is_int = true;
	for (; p < end && is_digit(*p); p++, n->ndig++)
		digit(n, *p);
	if (p < end && *p == '.') {
		n->is_int = false;
		for (p++; p < end && is_digit(*p); p++, n->ndig++) {
			bool counted = n->nsig < 19;
			digit(n, *p);
			if (counted)
				n->exp10--;
		}
	}
	if (n->ndig == 0)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		n->is_int = false;
		p++;
		bool eneg = p < end && *p == '-';
		if (p < end && (*p == '-' || *p == '+'))
			p++;
		if (p == end || !is_digit(*p))
			return false;
		int32_t e = 0;
		for (; p < end && is_digit(*p); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		n->exp10 += eneg ? -e : e;
	}
	n->end = p;
	return true;
}

/* The general case: the scanned text through strtod on a bounded copy. */
static bool double_slow(const struct dp_num *n, double *out)
{
	size_t len = (size_t)(n->end - n->digits);
	char tmp[DP_NUM_MAX_BYTES + 1];
	if (len > DP_NUM_MAX_BYTES)
		return false;
	memcpy(tmp, n->digits, len);
	tmp[len] = '\0';
	char *endp;
	double d = strtod(tmp, &endp);
	/* endp short of the end only under a non-"C" LC_NUMERIC */
	if (endp != tmp + len || !isfinite(d))
		return false;
	*out = d;
	return true;
}

bool dp_num_double(const struct dp_num *n, double *out)
{
	if (n->nsig <= 19 && n->m == 0) {
		*out = 0.0;
	} else if (n->nsig <= 19 && n->exp10 == 0) {
		*out = (double)n->m; /* one correctly rounded conversion */
	} else if (FLT_EVAL_METHOD == 0 && n->nsig <= 19 && n->m <= (UINT64_C(1) << 53) &&
		   n->exp10 >= -22 && n->exp10 <= 22) {
		/* Clinger: exact operands, one correctly rounded operation. */
		double d = (double)n->m;
		*out = n->exp10 < 0 ? d / pow10_exact[-n->exp10] : d * pow10_exact[n->exp10];
	} else {
		return double_slow(n, out);
	}
	return true;
}
