/*
 * an_spectral.h - spectral analysis of one series: the autocorrelation
 * function (by FFT), the periodogram, dominant periods (periodogram peaks
 * refined by the ACF) and seasonality detection (the best period, or none).
 *
 * Why: spectrum(field) in queries, and the period that S-H-ESD, STL and the
 * seasonal forecasters need when the user does not give one (period = 0).
 *
 * Usage profile: one call per query over n = 10^2 .. 10^7 points; all
 * O(n log n) with FFTW (r2c / c2r, FFTW_ESTIMATE plans made per call, so no
 * wisdom and no state between calls). Scratch is malloc'd per call and freed
 * before return.
 *
 * Threads: any thread may call, concurrently. FFTW's planner is not
 * thread-safe, so plan creation and destruction are serialised by a static
 * pthread mutex private to an_spectral.c (execution is not: it runs in
 * parallel). This file is the only FFTW user; a second module that makes
 * FFTW plans needs that lock exported again (or its own calls moved here),
 * or it races with these functions.
 *
 * NaN: every function rejects input with NaN or +-inf, or longer than 2^28
 * points (-EINVAL, or period 0 from an_detect_period); the query layer fills
 * or drops gaps first.
 */
#ifndef AN_SPECTRAL_H
#define AN_SPECTRAL_H

#include <stddef.h>

/*
 * Sample autocorrelation of x[0..n) for lags 0..maxlag (maxlag < n) into
 * acf[0..maxlag]: acf[k] = sum_{t<n-k} d_t d_{t+k} / sum_t d_t^2 with
 * d = x - mean(x) (the biased estimator of R's acf()). acf[0] = 1. A
 * constant series has no defined ACF: we return acf[0] = 1 and 0 for every
 * other lag. Computed by FFT zero-padded to >= 2n. Returns 0, -EINVAL (n < 2,
 * maxlag >= n, NaN or inf) or -ENOMEM. x borrowed; acf caller-owned.
 */
int an_acf(const double *x, size_t n, size_t maxlag, double *acf);

/* Number of periodogram entries for n points: n / 2 (frequencies k/n,
 * k = 1 .. n/2; the mean, k = 0, is left out). */
size_t an_periodogram_len(size_t n);

/*
 * Periodogram of the mean-removed x[0..n): for k = 1 .. n/2, freq[k-1] = k/n
 * (cycles per point) and power[k-1] = |X_k|^2 / n, X the DFT. freq may be
 * NULL; power has an_periodogram_len(n) entries. Returns 0, -EINVAL (n < 4,
 * NaN or inf) or -ENOMEM.
 */
int an_periodogram(const double *x, size_t n, double *freq, double *power);

struct an_period {
	double period; /* in points: the ACF-refined integer lag, else n / k */
	double power;  /* periodogram power of the peak (units of x squared) */
	double acf;    /* ACF at the (rounded) period */
};

/*
 * The k strongest periodogram peaks (local maxima over k = 1 .. n/2, the
 * strongest first) as periods: n / k points, refined to the lag with the
 * highest ACF local maximum within the peak's bin, [n/(k+1), n/(k-1)], when
 * there is one. out has k entries; *nout gets the number written (fewer when
 * the periodogram has fewer peaks; 0 for a constant series). Returns 0,
 * -EINVAL (n < 4, k == 0, NaN or inf) or -ENOMEM.
 */
int an_dominant_periods(const double *x, size_t n, size_t k, struct an_period *out,
			size_t *nout);

/*
 * The seasonal period of x[0..n) in points, in [2, maxperiod] (maxperiod 0
 * or above n/2 means n/2), or 0 when there is none.
 *
 * Method: the least-squares line is removed first (so a trend does not mask
 * the season; no differencing, which would drown the season in noise).
 * Candidates are the 10 strongest periodogram peaks, strongest first; a
 * candidate must pass a local white-noise test: power > noise * ln(m / 0.01),
 * noise = the median of the 20 nearest ordinates (leaving out the two
 * neighbours) over ln 2, m = n/2 bins (periodogram ordinates of noise are
 * exponential, so pure noise passes with probability ~1%; local, so red noise
 * with a falling spectrum does not pass). It is then refined to the integer
 * lag with the highest ACF local maximum within its bin, and that ACF must
 * exceed Bartlett's 99% bound 2.576 sqrt((1 + 2 sum_{j<lag} acf_j^2) / n).
 * The first (strongest) candidate that passes wins. Measured once by hand
 * during development (2026-11-22, scratch driver, 300 seeds of cm_rand_gauss
 * each; no test or bench repeats it): false periods on white noise 1/300 at
 * n = 1000 and 3/300 at n = 5000, on AR(1) phi = 0.9 0/300 and 2/300; a
 * period-7 sine of power 0.5 in unit noise found 300/300 at n = 1000. The
 * tests assert the qualitative cases. Returns 0 also for
 * bad input (n < 8, NaN or inf), a constant series,
 * and on allocation failure; use an_dominant_periods for errors.
 */
size_t an_detect_period(const double *x, size_t n, size_t maxperiod);

#endif /* AN_SPECTRAL_H */
