/*
 * an_stats.c - see an_stats.h. Used by the benchmarks for their repeat
 * statistics today and by the detectors of the analytics issue later.
 */
#include "an_stats.h"

#include <assert.h>
#include <math.h>

void an_moments_init(struct an_moments *m)
{
	m->n = 0;
	m->mean = 0.0;
	m->m2 = 0.0;
	m->min = INFINITY;
	m->max = -INFINITY;
}

void an_moments_add(struct an_moments *m, double x)
{
	m->n++;
	double d = x - m->mean;
	m->mean += d / (double)m->n;
	m->m2 += d * (x - m->mean);
	if (x < m->min)
		m->min = x;
	if (x > m->max)
		m->max = x;
}

void an_moments_merge(struct an_moments *a, const struct an_moments *b)
{
	if (b->n == 0)
		return;
	if (a->n == 0) {
		*a = *b;
		return;
	}
	double n = (double)(a->n + b->n);
	double d = b->mean - a->mean;
	a->mean += d * (double)b->n / n;
	a->m2 += b->m2 + d * d * (double)a->n * (double)b->n / n;
	a->n += b->n;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
}

double an_moments_variance(const struct an_moments *m)
{
	return m->n < 2 ? NAN : m->m2 / (double)(m->n - 1);
}

double an_moments_stddev(const struct an_moments *m)
{
	return sqrt(an_moments_variance(m));
}

void an_ewma_init(struct an_ewma *e, double alpha)
{
	assert(alpha > 0.0 && alpha <= 1.0);
	e->alpha = alpha;
	e->value = 0.0;
	e->n = 0;
}

double an_ewma_add(struct an_ewma *e, double x)
{
	e->value = e->n++ == 0 ? x : e->value + e->alpha * (x - e->value);
	return e->value;
}
