/*
 * pf_m4_bench.c - the forecasters on M4 Hourly (shared_dir/m4/Hourly-train.csv,
 * 414 series of 700-960 points): the last 48 points of each series are held
 * out, every model forecasts them from the rest (period 24, 95% intervals),
 * and we print per model the mean sMAPE, the mean MASE (scaled by the
 * in-sample seasonal naive lag-24 MAE), OWA against Naive2 computed in the
 * same run, the coverage of the 95% interval, the MSIS and the CPU time.
 * The published numbers are on the real M4 test set (the 48 points after
 * the training data), so they are yardsticks, not the same experiment.
 *
 * Usage: pf_m4_bench [--first=N] [model ...]
 *   (default: all 414 series, all models; naive2 always runs)
 * Two worker threads share the series (benchmark code; the analytics
 * library itself starts no threads). Prints `BENCH <metric> <value> <unit>`.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "an_fcauto.h"
#include "an_forecast.h"
#include "pf_dataset.h"

#define H 48
#define PERIOD 24
#define LEVEL 0.95
#define NTHREADS 2
#define MAX_SERIES 1000

struct model {
	const char *name;
	an_forecast_fn fn;
	const char *published;   /* real M4 test set: sMAPE / MASE / OWA */
};

/* Auto through the result-reporting entry, tallying what it picks. */
static _Thread_local size_t auto_picks[AN_FCAUTO_MAX_MODELS];
static int fc_auto_tally(const double *y, size_t n, const struct an_forecast_cfg *cfg,
			 struct an_forecast_out *out)
{
	struct an_fcauto_cfg ac;
	struct an_fcauto_result r;
	an_fcauto_cfg_init(&ac);
	int rc = an_fcauto_forecast(y, n, cfg, &ac, out, &r);
	for (size_t i = 0; rc == 0 && i < r.nchosen; i++)
		auto_picks[r.chosen[i]]++;
	return rc;
}

static const struct model all_models[] = {
	{ "naive2", an_forecast_naive2, "18.383 / 2.395 / 1.000" },
	{ "naive", an_forecast_naive, "n/a" },
	{ "snaive", an_forecast_snaive, "13.912 / 1.193 / 0.627" },
	{ "theta", an_forecast_theta, "18.138 / 2.455 / 1.006" },
	{ "hw_damped", an_forecast_hw_damped, "19.265 / 2.956 / 1.141" },
	{ "ets", an_forecast_ets, "n/a (MSIS 17.487)" },
	{ "arima", an_forecast_arima, "n/a (MSIS 7.538)" },
	{ "prophet", an_forecast_prophet, "n/a" },
	{ "auto", fc_auto_tally, "winner (Smyl) 9.328 / 0.893 / 0.440" },
};
#define NMODELS (sizeof(all_models) / sizeof(all_models[0]))

struct series {
	double *y;
	size_t n;   /* including the 48 held-out points */
};

struct acc {
	double smape, mase, msis, cover, cpu_s;
	size_t ok, failed;
	size_t picks[AN_FCAUTO_MAX_MODELS];
};

struct shared {
	struct series *s;
	size_t ns;
	const struct model **models;
	size_t nm;
	atomic_size_t next;
};

static int load_m4(const char *path, struct series *s, size_t *ns)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0, k = 0;
	ssize_t len = getline(&line, &cap, f);   /* header */
	while (len >= 0 && (len = getline(&line, &cap, f)) > 0 && k < MAX_SERIES) {
		double *y = malloc(2000 * sizeof(double));
		size_t n = 0;
		char *p = strchr(line, ',');
		while (y && p && n < 2000) {
			p++;
			if (*p == '"')
				p++;
			char *end;
			double v = strtod(p, &end);
			if (end == p)
				break;   /* empty field: the NA padding starts */
			y[n++] = v;
			p = strchr(end, ',');
		}
		s[k++] = (struct series){ y, n };
	}
	free(line);
	fclose(f);
	*ns = k;
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Score one forecast of the held-out part; false when it is unusable. */
static bool score(const struct series *se, const struct an_forecast_out *o, struct acc *a)
{
	size_t nt = se->n - H;
	const double *act = se->y + nt;
	double sc = 0, sm = 0, ma = 0, is = 0, cov = 0;
	for (size_t t = PERIOD; t < nt; t++)
		sc += fabs(se->y[t] - se->y[t - PERIOD]);
	sc /= (double)(nt - PERIOD);
	for (size_t k = 0; k < H; k++) {
		double f = o->mean[k], l = o->lower[k], u = o->upper[k];
		if (!isfinite(f) || !isfinite(l) || !isfinite(u))
			return false;
		sm += 200 * fabs(act[k] - f) / (fabs(act[k]) + fabs(f));
		ma += fabs(act[k] - f);
		is += u - l + (act[k] < l ? 2 / (1 - LEVEL) * (l - act[k]) : 0) +
		      (act[k] > u ? 2 / (1 - LEVEL) * (act[k] - u) : 0);
		cov += act[k] >= l && act[k] <= u;
	}
	a->smape += sm / H;
	a->mase += ma / H / sc;
	a->msis += is / H / sc;
	a->cover += cov / H;
	return true;
}

static void *worker(void *arg)
{
	struct shared *sh = ((void **)arg)[0];
	struct acc *acc = ((void **)arg)[1];
	double m[H], l[H], u[H];
	struct an_forecast_out o = { m, l, u };
	struct an_forecast_cfg c = { .period = PERIOD, .h = H, .level = LEVEL };
	size_t i;
	while ((i = atomic_fetch_add(&sh->next, 1)) < sh->ns) {
		const struct series *se = &sh->s[i];
		for (size_t j = 0; j < sh->nm; j++) {
			double t0 = cpu_now();
			int rc = sh->models[j]->fn(se->y, se->n - H, &c, &o);
			acc[j].cpu_s += cpu_now() - t0;
			if (rc == 0 && score(se, &o, &acc[j]))
				acc[j].ok++;
			else
				acc[j].failed++;
		}
	}
	memcpy(acc[sh->nm].picks, auto_picks, sizeof(auto_picks));
	return NULL;
}

static void report(const struct shared *sh, const struct acc *tot)
{
	double s2 = tot[0].smape / (double)tot[0].ok, m2 = tot[0].mase / (double)tot[0].ok;
	for (size_t j = 0; j < sh->nm; j++) {
		const struct acc *a = &tot[j];
		const char *nm = sh->models[j]->name;
		if (a->ok == 0) {
			printf("# %s: failed on every series\n", nm);
			continue;
		}
		double smape = a->smape / (double)a->ok, mase = a->mase / (double)a->ok;
		printf("BENCH m4_hourly_owa_%s %.4f owa\n", nm, (smape / s2 + mase / m2) / 2);
		printf("BENCH m4_hourly_smape_%s %.4f percent\n", nm, smape);
		printf("BENCH m4_hourly_mase_%s %.4f mase\n", nm, mase);
		printf("BENCH m4_hourly_cover95_%s %.4f fraction\n", nm, a->cover / (double)a->ok);
		printf("BENCH m4_hourly_msis_%s %.4f msis\n", nm, a->msis / (double)a->ok);
		printf("BENCH m4_hourly_cpu_%s %.2f s\n", nm, a->cpu_s);
		printf("# %s: %zu series scored, %zu failed (failed series count as excluded;"
		       " OWA is then over a subset); published sMAPE / MASE / OWA: %s\n",
		       nm, a->ok, a->failed, sh->models[j]->published);
	}
}

static const struct model *find_model(const char *name)
{
	for (size_t j = 0; j < NMODELS; j++)
		if (strcmp(all_models[j].name, name) == 0)
			return &all_models[j];
	return NULL;
}

static void print_picks(const struct acc *tot, size_t nm, const struct model **models)
{
	size_t n;
	const struct an_fcauto_model *t = an_fcauto_default_models(&n);
	for (size_t j = 0; j < nm; j++) {
		if (models[j]->fn != fc_auto_tally)
			continue;
		printf("# auto members over all series:");
		for (size_t i = 0; i < n; i++)
			printf(" %s=%zu", t[i].name, tot[nm].picks[i]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	gsl_set_error_handler_off();
	pf_print_machine("m4");
	const struct model *models[NMODELS];
	size_t nm = 0, first = MAX_SERIES;
	int named = 0;
	models[nm++] = &all_models[0];   /* naive2: the OWA reference */
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--first=", 8) == 0) {
			first = strtoul(argv[i] + 8, NULL, 10);
			continue;
		}
		named = 1;
		const struct model *m = find_model(argv[i]);
		if (!m) {
			fprintf(stderr, "pf_m4_bench: unknown model '%s'\n", argv[i]);
			return 2;
		}
		if (m != &all_models[0])
			models[nm++] = m;
	}
	for (size_t j = 1; !named && j < NMODELS; j++)
		models[nm++] = &all_models[j];
	char path[4096];
	snprintf(path, sizeof(path), "%s/m4/Hourly-train.csv", pf_shared_dir());
	static struct series s[MAX_SERIES];
	size_t ns = 0;
	int rc = load_m4(path, s, &ns);
	if (rc < 0 || ns == 0) {
		fprintf(stderr, "pf_m4_bench: cannot read %s: %s\n", path, strerror(-rc));
		return 77;
	}
	static struct acc acc[NTHREADS][NMODELS + 1];
	struct shared sh = { .s = s, .ns = ns < first ? ns : first, .models = models, .nm = nm };
	atomic_init(&sh.next, 0);
	pthread_t th[NTHREADS];
	void *args[NTHREADS][2];
	for (int t = 0; t < NTHREADS; t++) {
		args[t][0] = &sh;
		args[t][1] = acc[t];
		pthread_create(&th[t], NULL, worker, args[t]);
	}
	struct acc tot[NMODELS + 1] = { 0 };
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		for (size_t j = 0; j <= nm; j++) {
			tot[j].smape += acc[t][j].smape;
			tot[j].mase += acc[t][j].mase;
			tot[j].msis += acc[t][j].msis;
			tot[j].cover += acc[t][j].cover;
			tot[j].cpu_s += acc[t][j].cpu_s;
			tot[j].ok += acc[t][j].ok;
			tot[j].failed += acc[t][j].failed;
			for (size_t i = 0; i < AN_FCAUTO_MAX_MODELS; i++)
				tot[j].picks[i] += acc[t][j].picks[i];
		}
	}
	printf("# M4 Hourly: %zu series, last %d points held out, period %d, %.0f%% intervals\n",
	       sh.ns, H, PERIOD, LEVEL * 100);
	report(&sh, tot);
	print_picks(tot, nm, models);
	for (size_t i = 0; i < ns; i++)
		free(s[i].y);
	return 0;
}
