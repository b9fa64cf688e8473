/*
 * streamflowd.c - the StreamFlow daemon's main(): reads the configuration
 * (embedded defaults, then --config FILE, then every --set key=value, the
 * whole set validated before anything starts), starts the planes and waits
 * for SIGINT or SIGTERM to stop them in order.
 *
 * Exit codes: 0 clean stop, 1 start-up failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cm_config.h"
#include "cm_log.h"
#include "mg_daemon.h"

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

static void usage(FILE *out, const struct cm_config *cfg)
{
	fprintf(out,
		"usage: streamflowd [--config FILE] [--set KEY=VALUE]... [--print-config] [-- EAL-ARGS...]\n"
		"\n"
		"StreamFlow time-series ingestion and analytics daemon.\n"
		"\n"
		"  -c, --config FILE     read an INI config file (KEY 'a.b' is 'b' under '[a]')\n"
		"  -s, --set KEY=VALUE   override one key (repeatable; applied after the file)\n"
		"  -p, --print-config    print the effective config and exit\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"  -- EAL-ARGS           DPDK EAL arguments (backend=dpdk), after dpdk.eal_args\n"
		"\n"
		"Configuration keys (sizes take K/M/G/T[i][B]; durations ns/us/ms/s/m/h/d):\n");
	if (cfg)
		cm_config_print_help(cfg, out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"print-config", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/*
	 * Queries build and free result matrices of megabytes each: keep that
	 * memory in the process instead of mapping and faulting it in anew per
	 * query (glibc would unmap chunks above 128 KiB and trim the heap top;
	 * both were 8-10% of a large query's time).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	/* GSL's default handler aborts the process; analytics/ checks every status instead */
	gsl_set_error_handler_off();
	char err[512];
	struct cm_config *cfg = NULL;
	int rc = cm_config_create(mg_daemon_cfg_tables, mg_daemon_cfg_ntables(), &cfg, err,
				  sizeof(err));
	if (rc) {
		fprintf(stderr, "streamflowd: %s\n", err);
		return 2;
	}

	const char *config_path = NULL;
	const char **sets = calloc((size_t)argc, sizeof(*sets));
	size_t nsets = 0;
	bool print_config = false;
	int c, status = 0;
	while ((c = getopt_long(argc, argv, "c:s:phV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 's': sets[nsets++] = optarg; break;
		case 'p': print_config = true; break;
		case 'h': usage(stdout, cfg); goto out;
		case 'V': printf("streamflowd %s\n", SF_VERSION); goto out;
		default: usage(stderr, NULL); status = 2; goto out;
		}
	}
	int eal_argc = 0;
	char **eal_argv = NULL;
	if (optind < argc && optind > 1 && !strcmp(argv[optind - 1], "--")) {
		eal_argc = argc - optind;
		eal_argv = argv + optind;
	} else if (optind < argc) {
		fprintf(stderr, "streamflowd: unexpected argument '%s'\n", argv[optind]);
		status = 2;
		goto out;
	}
	if (config_path && cm_config_load_file(cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "streamflowd: %s\n", err);
		status = 2;
		goto out;
	}
	if (cm_config_set_batch(cfg, sets, nsets, err, sizeof(err))) {
		fprintf(stderr, "streamflowd: --set: %s\n", err);
		status = 2;
		goto out;
	}
	if (print_config) {
		cm_config_dump(cfg, stdout);
		goto out;
	}

	/* Every thread started from here on inherits the blocked signals. */
	sigset_t stop_sigs;
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct mg_daemon *d = NULL;
	rc = mg_daemon_start(cfg, eal_argc, eal_argv, &d, err, sizeof(err));
	if (rc) {
		CM_LOG_ERR("daemon", "event=start_failed reason=\"%s\"", err);
		status = 1;
		goto out;
	}
	int sig = 0;
	while (sigwait(&stop_sigs, &sig) != 0)
		;
	CM_LOG_INFO("daemon", "event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	mg_daemon_stop(d);
out:
	free(sets);
	cm_config_destroy(cfg);
	return status;
}
