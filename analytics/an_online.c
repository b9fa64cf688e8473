/*
 * an_online.c - the online EWMA detector's set-up and its batch form
 * an_detect_ewma (see an_online.h for the method). The per-value work is
 * an_online_push, inline in the header. Any thread; nothing shared.
 */
#include "an_online.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>

#define ONLINE_ALPHA 0.05
#define ONLINE_THRESHOLD 4.0

int an_online_init(struct an_online *d, const struct an_detect_cfg *cfg)
{
	static const struct an_detect_cfg defaults;
	if (!cfg)
		cfg = &defaults;
	if (!(cfg->alpha >= 0.0 && cfg->alpha <= 1.0) ||
	    !(cfg->threshold >= 0.0 && isfinite(cfg->threshold)) ||
	    !(cfg->sensitivity >= 0.0 && cfg->sensitivity <= 1.0) || cfg->window == 1)
		return -EINVAL;
	double alpha = cfg->alpha > 0.0 ? cfg->alpha : ONLINE_ALPHA;
	double thr = cfg->threshold > 0.0 ? cfg->threshold : ONLINE_THRESHOLD;
	double zf = thr * an_detect_sensitivity_scale(cfg->sensitivity);
	d->mean = 0.0;
	d->var = 0.0;
	d->alpha = alpha;
	d->k_score = 1.0 / (thr * thr);
	d->prev = NAN;
	d->res2 = INFINITY;
	d->z2_flag = zf * zf;
	d->n = 0;
	d->warmup = cfg->window ? cfg->window : (uint64_t)ceil(1.0 / alpha);
	assert(d->warmup >= 1 && d->k_score > 0.0);
	return 0;
}

/*
 * Batch form: the same detector run over x[0..n) from the empty state.
 * Causal (score[i] uses x[0..i] only).
 */
int an_detect_ewma(const double *x, size_t n, const struct an_detect_cfg *cfg,
		   double *score, uint8_t *flag)
{
	struct an_online d;
	int rc = an_online_init(&d, cfg);
	if (rc)
		return rc;
	if (n && (!x || !score || !flag))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		score[i] = an_online_push(&d, x[i], &flag[i]);
	return 0;
}
