/*
 * an_decomp.h - classical seasonal decomposition and the seasonality test
 * the M4 competition's benchmarks use (Naive2, Theta, SES on seasonally
 * adjusted data): a series is called seasonal at period m when its lag-m
 * autocorrelation exceeds the 90% limit
 *   |r_m| > 1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n),
 * and is then adjusted with the multiplicative indices of a classical
 * decomposition (centred moving average of order m, mean ratio per
 * position, indices normalised to average 1).
 *
 * Pure numerical code, any thread, no allocation kept past a call.
 */
#ifndef AN_DECOMP_H
#define AN_DECOMP_H

#include <stdbool.h>
#include <stddef.h>

/* True when y[0..n) passes the 90% lag-period ACF test above; false when
 * period < 2, n < 3 * period, or the series is constant. */
bool an_seasonality_test(const double *y, size_t n, size_t period);

/* Multiplicative indices of a classical decomposition: index[j] for positions
 * j = 0..period-1 where position j is that of y[j] (y[i] belongs to i % period).
 * 0, -EINVAL (period < 2, n < 2 * period, non-positive values), -ENOMEM. */
int an_decompose_mul(const double *y, size_t n, size_t period, double *index);

#endif /* AN_DECOMP_H */
