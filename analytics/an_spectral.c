/*
 * an_spectral.c - see an_spectral.h. All transforms are FFTW r2c/c2r on
 * fftw_malloc'd buffers with FFTW_ESTIMATE plans made and destroyed under
 * the planner lock; the ACF pads to a 2^a 3^b 5^c size >= 2n so the
 * circular correlation equals the linear one.
 */
#include "an_spectral.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "an_util.h"

static pthread_mutex_t fftw_planner_mutex = PTHREAD_MUTEX_INITIALIZER;

/* The FFTW planner lock: held around fftw_plan_* and fftw_destroy_plan, never
 * around fftw_execute. */
static void planner_lock(void)
{
	int rc = pthread_mutex_lock(&fftw_planner_mutex);
	assert(rc == 0);
	(void)rc;
}

static void planner_unlock(void)
{
	int rc = pthread_mutex_unlock(&fftw_planner_mutex);
	assert(rc == 0);
	(void)rc;
}

/* ---- helpers ---- */

/* Longest series accepted (FFTW sizes are int; the ACF pads to >= 2n). */
#define SPECTRAL_MAX_N ((size_t)1 << 28)

/* A series we accept: not too long, all finite. */
static bool series_ok(const double *x, size_t n)
{
	return n <= SPECTRAL_MAX_N && an_all_finite(x, n);
}

/* Smallest 2^a 3^b 5^c >= n (FFTW's fast sizes). */
static size_t fft_size(size_t n)
{
	size_t best = 1;
	while (best < n)
		best *= 2;
	for (size_t p5 = 1; p5 < best; p5 *= 5)
		for (size_t p35 = p5; p35 < best; p35 *= 3) {
			size_t v = p35;
			while (v < n)
				v *= 2;
			if (v < best)
				best = v;
		}
	return best;
}

/*
 * |X_k|^2, k = 0 .. nfft/2, of d[0..n) zero-padded to nfft, into pw (nfft/2 + 1
 * entries). If back is non-NULL, also the inverse transform of pw (the
 * circular autocovariance times nfft) into back[0..nfft).
 */
static int power_spectrum(const double *d, size_t n, size_t nfft, double *pw, double *back)
{
	assert(n <= nfft && nfft >= 2);
	int rc = -ENOMEM;
	size_t nc = nfft / 2 + 1;
	double *in = fftw_malloc(nfft * sizeof(*in));
	fftw_complex *out = fftw_malloc(nc * sizeof(*out));
	fftw_plan fwd = NULL, inv = NULL;
	if (!in || !out)
		goto err_free;
	planner_lock();
	fwd = fftw_plan_dft_r2c_1d((int)nfft, in, out, FFTW_ESTIMATE);
	if (back)
		inv = fftw_plan_dft_c2r_1d((int)nfft, out, in, FFTW_ESTIMATE);
	planner_unlock();
	if (!fwd || (back && !inv))
		goto err_plans;
	memcpy(in, d, n * sizeof(*in));
	memset(in + n, 0, (nfft - n) * sizeof(*in));
	fftw_execute(fwd);
	for (size_t k = 0; k < nc; k++) {
		pw[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
		out[k][0] = pw[k];
		out[k][1] = 0;
	}
	if (back) {
		fftw_execute(inv); /* c2r destroys out: fine, pw has the copy */
		memcpy(back, in, nfft * sizeof(*back));
	}
	rc = 0;
err_plans:
	planner_lock();
	if (fwd)
		fftw_destroy_plan(fwd);
	if (inv)
		fftw_destroy_plan(inv);
	planner_unlock();
err_free:
	fftw_free(in);
	fftw_free(out);
	return rc;
}

/* x - mean(x) into a new malloc'd array (NULL on failure). */
static double *centered(const double *x, size_t n)
{
	double *d = malloc(n * sizeof(*d));
	if (!d)
		return NULL;
	double mean = gsl_stats_mean(x, 1, n);
	for (size_t i = 0; i < n; i++)
		d[i] = x[i] - mean;
	return d;
}

/* ---- ACF ---- */

/* ACF of the already centred d (not constant). */
static int acf_centered(const double *d, size_t n, size_t maxlag, double *acf)
{
	size_t nfft = fft_size(2 * n);
	double *pw = malloc((nfft / 2 + 1) * sizeof(*pw));
	double *back = malloc(nfft * sizeof(*back));
	int rc = -ENOMEM;
	if (!pw || !back)
		goto out;
	rc = power_spectrum(d, n, nfft, pw, back);
	if (rc < 0)
		goto out;
	for (size_t k = 0; k <= maxlag; k++)
		acf[k] = back[k] / back[0];
	acf[0] = 1.0;
out:
	free(pw);
	free(back);
	return rc;
}

int an_acf(const double *x, size_t n, size_t maxlag, double *acf)
{
	if (!x || !acf || n < 2 || maxlag >= n || !series_ok(x, n))
		return -EINVAL;
	if (an_is_constant(x, n)) {
		acf[0] = 1.0;
		for (size_t k = 1; k <= maxlag; k++)
			acf[k] = 0.0;
		return 0;
	}
	double *d = centered(x, n);
	if (!d)
		return -ENOMEM;
	int rc = acf_centered(d, n, maxlag, acf);
	free(d);
	return rc;
}

/* ---- periodogram ---- */

size_t an_periodogram_len(size_t n)
{
	return n / 2;
}

/* Periodogram of the centred d: power[k-1] for k = 1 .. n/2. */
static int periodogram_centered(const double *d, size_t n, double *power)
{
	double *pw = malloc((n / 2 + 1) * sizeof(*pw));
	if (!pw)
		return -ENOMEM;
	int rc = power_spectrum(d, n, n, pw, NULL);
	if (rc == 0)
		for (size_t k = 1; k <= n / 2; k++)
			power[k - 1] = pw[k] / (double)n;
	free(pw);
	return rc;
}

int an_periodogram(const double *x, size_t n, double *freq, double *power)
{
	if (!x || !power || n < 4 || !series_ok(x, n))
		return -EINVAL;
	double *d = centered(x, n);
	if (!d)
		return -ENOMEM;
	int rc = periodogram_centered(d, n, power);
	free(d);
	if (rc == 0 && freq)
		for (size_t k = 1; k <= n / 2; k++)
			freq[k - 1] = (double)k / (double)n;
	return rc;
}

/* ---- peaks and periods ---- */

/*
 * Bins (1-based k) of the local maxima of power[0..m), strongest first, at
 * most cap of them, into bins, and their count into *np. A peak is > its left
 * neighbour and >= its right one (the ends compare with one side). Returns 0
 * or -ENOMEM.
 */
static int find_peaks(const double *power, size_t m, size_t *bins, size_t cap, size_t *np_out)
{
	size_t *idx = malloc(m * sizeof(*idx));
	*np_out = 0;
	if (!idx)
		return -ENOMEM;
	gsl_sort_index(idx, power, 1, m); /* ascending */
	size_t np = 0;
	for (size_t r = m; r-- > 0 && np < cap;) {
		size_t i = idx[r];
		if (power[i] <= 0)
			break;
		if ((i > 0 && !(power[i] > power[i - 1])) || (i + 1 < m && !(power[i] >= power[i + 1])))
			continue;
		bins[np++] = i + 1;
	}
	free(idx);
	*np_out = np;
	return 0;
}

/*
 * The lag in bin kb's period range [n/(kb+1), n/(kb-1)] clipped to
 * [2, maxlag - 1] where acf has its highest local maximum; 0 if none.
 */
static size_t refine_lag(const double *acf, size_t n, size_t maxlag, size_t kb)
{
	size_t lo = n / (kb + 1), hi = kb > 1 ? (n + kb - 2) / (kb - 1) : maxlag;
	if (lo < 2)
		lo = 2;
	if (hi > maxlag - 1)
		hi = maxlag - 1;
	size_t best = 0;
	for (size_t l = lo; l <= hi; l++)
		if (acf[l] >= acf[l - 1] && acf[l] >= acf[l + 1] && (!best || acf[l] > acf[best]))
			best = l;
	return best;
}

/* The periodogram (n/2) and ACF to lag maxlag of a centred series, malloc'd. */
struct spectra {
	double *power;
	double *acf;
};

static void spectra_free(struct spectra *s)
{
	free(s->power);
	free(s->acf);
}

/* The spectra of the centred d[0..n) (borrowed). */
static int spectra_compute(const double *d, size_t n, size_t maxlag, struct spectra *s)
{
	assert(maxlag < n);
	memset(s, 0, sizeof(*s));
	s->power = malloc((n / 2) * sizeof(*s->power));
	s->acf = malloc((maxlag + 1) * sizeof(*s->acf));
	if (!s->power || !s->acf) {
		spectra_free(s);
		return -ENOMEM;
	}
	int rc = periodogram_centered(d, n, s->power);
	if (rc == 0)
		rc = acf_centered(d, n, maxlag, s->acf);
	if (rc < 0)
		spectra_free(s);
	return rc;
}

int an_dominant_periods(const double *x, size_t n, size_t k, struct an_period *out,
			size_t *nout)
{
	if (!x || !out || !nout || n < 4 || k == 0 || !series_ok(x, n))
		return -EINVAL;
	*nout = 0;
	if (an_is_constant(x, n))
		return 0;
	double *d = centered(x, n);
	if (!d)
		return -ENOMEM;
	struct spectra s;
	size_t maxlag = n - 1;
	size_t *bins = malloc(k * sizeof(*bins));
	int rc = bins ? spectra_compute(d, n, maxlag, &s) : -ENOMEM;
	free(d);
	if (rc < 0)
		goto out;
	size_t np;
	rc = find_peaks(s.power, n / 2, bins, k, &np);
	for (size_t i = 0; i < np; i++) {
		size_t kb = bins[i], lag = refine_lag(s.acf, n, maxlag, kb);
		double per = lag ? (double)lag : (double)n / (double)kb;
		size_t r = (size_t)lround(per);
		out[i] = (struct an_period){ per, s.power[kb - 1], s.acf[r < n ? r : n - 1] };
	}
	*nout = np;
	spectra_free(&s);
out:
	free(bins);
	return rc;
}

/* ---- period detection ---- */

#define DETECT_CANDIDATES 10
#define DETECT_ALPHA 0.01
#define DETECT_ACF_Z 2.576
#define NOISE_HALF 10

/* x minus its least-squares line, malloc'd; NULL on failure. */
static double *detrended(const double *x, size_t n)
{
	double *t = malloc(n * sizeof(*t)), *d = malloc(n * sizeof(*d));
	double c0, c1, cov00, cov01, cov11, sumsq;
	if (!t || !d)
		goto err;
	for (size_t i = 0; i < n; i++)
		t[i] = (double)i;
	if (gsl_fit_linear(t, 1, x, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq))
		goto err;
	for (size_t i = 0; i < n; i++)
		d[i] = x[i] - (c0 + c1 * (double)i);
	free(t);
	return d;
err:
	free(t);
	free(d);
	return NULL;
}

/*
 * The noise power near bin kb (1-based): the median of the 2 * NOISE_HALF
 * nearest ordinates outside kb - 1 .. kb + 1 (a peak leaks into its
 * neighbours), over ln 2 (the median of an exponential over its mean). Local,
 * so red noise (AR(1), random walks), whose spectrum falls with frequency,
 * does not pass for a season. tmp has 2 * NOISE_HALF entries.
 */
static double local_noise(const double *power, size_t m, size_t kb, double *tmp)
{
	size_t cnt = 0;
	for (size_t off = 2; cnt < 2 * NOISE_HALF && (off < kb || kb + off <= m); off++) {
		if (off < kb)
			tmp[cnt++] = power[kb - off - 1];
		if (kb + off <= m && cnt < 2 * NOISE_HALF)
			tmp[cnt++] = power[kb + off - 1];
	}
	if (cnt < 4)
		return INFINITY;
	gsl_sort(tmp, 1, cnt);
	return gsl_stats_median_from_sorted_data(tmp, 1, cnt) / log(2.0);
}

/* Bartlett's 99% bound for acf[lag] if the true ACF vanished from lag on:
 * z sqrt((1 + 2 sum_{j<lag} acf_j^2) / n). */
static double acf_bound(const double *acf, size_t n, size_t lag)
{
	double sum = 0;
	for (size_t j = 1; j < lag; j++)
		sum += acf[j] * acf[j];
	return DETECT_ACF_Z * sqrt((1 + 2 * sum) / (double)n);
}

/* The strongest periodogram peak that passes both tests, as a lag; or 0. */
static size_t pick_period(const struct spectra *s, size_t n, size_t maxperiod)
{
	size_t m = n / 2, bins[DETECT_CANDIDATES];
	double tmp[2 * NOISE_HALF], thr_factor = log((double)m / DETECT_ALPHA);
	size_t np;
	if (find_peaks(s->power, m, bins, DETECT_CANDIDATES, &np) < 0)
		return 0; /* as documented: no period on allocation failure */
	for (size_t i = 0; i < np; i++) {
		size_t kb = bins[i];
		if ((double)n / (double)(kb + 1) > (double)maxperiod)
			continue;
		if (!(s->power[kb - 1] > thr_factor * local_noise(s->power, m, kb, tmp)))
			continue;
		size_t lag = refine_lag(s->acf, n, maxperiod + 1, kb);
		if (lag && s->acf[lag] > acf_bound(s->acf, n, lag))
			return lag;
	}
	return 0;
}

size_t an_detect_period(const double *x, size_t n, size_t maxperiod)
{
	if (!x || n < 8 || !series_ok(x, n) || an_is_constant(x, n))
		return 0;
	if (maxperiod == 0 || maxperiod > n / 2)
		maxperiod = n / 2;
	if (maxperiod < 2)
		return 0;
	double *d = detrended(x, n);
	if (!d)
		return 0;
	struct spectra s;
	/* refine_lag looks one lag past maxperiod; maxperiod + 1 < n as n >= 8. */
	int rc = spectra_compute(d, n, maxperiod + 1, &s);
	free(d);
	if (rc < 0)
		return 0;
	size_t p = pick_period(&s, n, maxperiod);
	spectra_free(&s);
	return p;
}
