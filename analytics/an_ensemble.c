/*
 * an_ensemble.c - the ensemble detector of an_ensemble.h: causal members,
 * rank calibration of each member against its own past (a Fenwick tree over
 * the member's compressed score values), a weighted mean of the surprises and
 * the refractory rule. See an_ensemble.h for the method and contract.
 *
 * Usage profile: one call per series and query, up to ~10^6 points; about
 * 4 n doubles of scratch per call. Any thread; nothing shared.
 */
#include "an_ensemble.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an_util.h"

/* The level member: the series smoothed by a trailing mean of cfg->window
 * points (default 12), tested by the z-score against its long past
 * (LEVEL_HISTORY points), so a sustained shift of level stands out even when
 * each single point is within the noise. Causal. */
#define LEVEL_SMOOTH 12
#define LEVEL_HISTORY 10000

static int level_z(const double *x, size_t n, const struct an_detect_cfg *cfg, double *score,
		   uint8_t *flag)
{
	struct an_detect_cfg zc = { .window = LEVEL_HISTORY, .threshold = cfg->threshold,
				    .sensitivity = cfg->sensitivity };
	size_t w = cfg->window ? cfg->window : LEVEL_SMOOTH;
	double *y = malloc((n ? n : 1) * sizeof(*y));
	int rc;

	if (!y)
		return -ENOMEM;
	/* The trailing sum of the finite values, updated as they enter and leave
	 * and re-summed every w points, so rounding cannot build up. */
	double sum = 0.0;
	size_t cnt = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(x[i])) {
			sum += x[i];
			cnt++;
		}
		if (i >= w && isfinite(x[i - w])) {
			sum -= x[i - w];
			cnt--;
		}
		if (i % w == w - 1) {
			sum = 0.0;
			for (size_t j = i + 1 - w; j <= i; j++)
				sum += isfinite(x[j]) ? x[j] : 0.0;
		}
		y[i] = cnt ? sum / (double)cnt : NAN;
	}
	rc = an_detect_zscore(y, n, &zc, score, flag);
	free(y);
	return rc;
}

/* The default member set, all causal: the z-score against the last 60
 * points (spikes and dips against the local level), against the long past
 * (values never seen before), and the level member (sustained shifts). */
static const struct an_ensemble_member default_members[] = {
	{ .fn = an_detect_zscore, .cfg = { .window = 60 }, .weight = 1.0 },
	{ .fn = an_detect_zscore, .cfg = { .window = LEVEL_HISTORY }, .weight = 1.0 },
	{ .fn = level_z, .cfg = { .window = LEVEL_SMOOTH }, .weight = 1.0 },
};

double an_ensemble_level(double decades)
{
	if (!(decades > 0.0))
		return 0.0;
	return 1.0 - pow(10.0, -decades / 4.0);
}

/* ---- causal rank calibration --------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Position of v in the sorted unique array u[0..m) (present by construction). */
static size_t rank_of(const double *u, size_t m, double v)
{
	size_t lo = an_lower_bound(u, m, v);
	assert(lo < m && u[lo] == v);
	return lo;
}

/* Folds w * -log10(tail probability of s[i] among s[0..i)) into acc[i]: adds
 * it, or keeps the larger (use_max). uniq and tree are scratch of n + 1. */
static void calibrate(const double *s, size_t n, double w, int use_max, double *acc,
		      double *uniq, size_t *tree)
{
	size_t m = 0;

	memcpy(uniq, s, n * sizeof(*s));
	qsort(uniq, n, sizeof(*uniq), cmp_double);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || uniq[i] != uniq[m - 1])
			uniq[m++] = uniq[i];
	memset(tree, 0, (m + 1) * sizeof(*tree));
	for (size_t i = 0; i < n; i++) {
		size_t r = rank_of(uniq, m, s[i]), below = 0;
		for (size_t k = r; k > 0; k &= k - 1)   /* past values < s[i] */
			below += tree[k];
		double p = (double)(1 + i - below) / (double)(i + 1);
		double v = w * -log10(p);
		acc[i] = use_max ? fmax(acc[i], v) : acc[i] + v;
		for (size_t k = r + 1; k <= m; k += k & -k)
			tree[k]++;
	}
}

/* ---- the ensemble -------------------------------------------------------- */

static int check_cfg(const double *x, size_t n, const struct an_ensemble_cfg *ec,
		     const double *score, const uint8_t *flag)
{
	if (!ec || (n > 0 && (!x || !score || !flag)))
		return -EINVAL;
	if (ec->nmembers == 0 || !ec->members)
		return -EINVAL;
	if (!(ec->threshold >= 0.0 && isfinite(ec->threshold)))
		return -EINVAL;
	if (!(ec->sensitivity >= 0.0 && ec->sensitivity <= 1.0))
		return -EINVAL;
	if (ec->combine != AN_ENSEMBLE_MEAN && ec->combine != AN_ENSEMBLE_MAX)
		return -EINVAL;
	for (size_t m = 0; m < ec->nmembers; m++)
		if (!ec->members[m].fn || !(ec->members[m].weight > 0.0) ||
		    !isfinite(ec->members[m].weight))
			return -EINVAL;
	return 0;
}

/* Refractory rule and the map to [0, 1); U is the combined surprise. The
 * max of U over the span is the front of dq[head..tail): indices of the span,
 * ascending, whose U is strictly greater than every later one's (a monotonic
 * deque: O(1) amortised per point). dq has n entries. */
static void report(const double *x, const double *u, size_t n, const struct an_ensemble_cfg *ec,
		   double *score, uint8_t *flag, size_t *dq)
{
	double level = an_ensemble_level(ec->threshold *
					 an_detect_sensitivity_scale(ec->sensitivity));
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < n; i++) {
		int record = 1;
		if (ec->refractory > 0) {
			size_t from = i > ec->refractory ? i - ec->refractory : 0;
			while (head < tail && dq[head] < from)
				head++;
			record = head == tail || u[i] > u[dq[head]];
			while (head < tail && u[dq[tail - 1]] <= u[i])
				tail--;
			dq[tail++] = i;
		}
		score[i] = record && isfinite(x[i]) ? an_ensemble_level(u[i]) : 0.0;
		flag[i] = score[i] > level && level > 0.0;
	}
}

int an_ensemble_run(const double *x, size_t n, const struct an_ensemble_cfg *ec,
		    double *score, uint8_t *flag)
{
	double *u, *s, *uniq, wsum = 0.0;
	size_t *tree;
	int rc = check_cfg(x, n, ec, score, flag);

	if (rc || n == 0)
		return rc;
	u = calloc(n, sizeof(*u));
	s = malloc(n * sizeof(*s));
	uniq = malloc((n + 1) * sizeof(*uniq));
	tree = malloc((n + 1) * sizeof(*tree));
	rc = -ENOMEM;
	if (!u || !s || !uniq || !tree)
		goto out_free;
	for (size_t m = 0; m < ec->nmembers; m++) {
		const struct an_ensemble_member *mb = &ec->members[m];
		rc = mb->fn(x, n, &mb->cfg, s, flag);
		if (rc)
			goto out_free;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(s[i]))
				s[i] = 0.0;
		calibrate(s, n, mb->weight, ec->combine == AN_ENSEMBLE_MAX, u, uniq, tree);
		wsum = ec->combine == AN_ENSEMBLE_MAX ? fmax(wsum, mb->weight) : wsum + mb->weight;
	}
	for (size_t i = 0; i < n; i++)
		u[i] /= wsum;
	report(x, u, n, ec, score, flag, tree); /* tree is free again: the deque */
	rc = 0;
out_free:
	free(tree);
	free(uniq);
	free(s);
	free(u);
	return rc;
}

int an_detect_ensemble(const double *x, size_t n, const struct an_detect_cfg *cfg,
		       double *score, uint8_t *flag)
{
	enum { NMEMBERS = sizeof(default_members) / sizeof(default_members[0]) };
	struct an_ensemble_member members[NMEMBERS];
	static const struct an_detect_cfg defaults;
	struct an_ensemble_cfg ec;

	if (!cfg)
		cfg = &defaults;
	memcpy(members, default_members, sizeof(members));
	for (size_t m = 0; m < NMEMBERS; m++)
		members[m].cfg.seed = cfg->seed;
	ec = (struct an_ensemble_cfg){
		.members = members,
		.nmembers = NMEMBERS,
		.refractory = cfg->window ? cfg->window : AN_ENSEMBLE_REFRACTORY,
		.threshold = cfg->threshold > 0.0 ? cfg->threshold : AN_ENSEMBLE_THRESHOLD,
		.sensitivity = cfg->sensitivity,
	};
	if (cfg->threshold < 0.0 || !isfinite(cfg->threshold))
		return -EINVAL;
	return an_ensemble_run(x, n, &ec, score, flag);
}
