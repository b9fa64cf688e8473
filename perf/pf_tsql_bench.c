/*
 * pf_tsql_bench.c - the TSQL parser on the shared TSBS queries
 * (../shared/data/tsbs/queries/<type>.tsv, column 5): every query parsed and
 * freed in a loop, on the thread's CPU clock (the machine is shared).
 *
 *   tsql_parse_ns_per_query    mean over all queries
 *   tsql_parse_longest_us      the longest query (32 OR'd hostnames)
 *   tsql_parse_bytes_per_s     query text parsed per CPU second
 *   tsql_memcpy_bytes_per_s    memcpy of the same texts (yardstick)
 *   tsql_parse_vs_memcpy_ratio parse rate over memcpy rate
 *
 * Usage: pf_tsql_bench [ROUNDS]   (suite `query`)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mg_tsql.h"
#include "pf_dataset.h"

#define QMAX 4096

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Column 5 of a TSBS query line, or NULL. */
static char *column5(char *line)
{
	char *p = line;
	for (int i = 0; i < 4 && p; i++)
		if ((p = strchr(p, '\t')))
			p++;
	if (p)
		p[strcspn(p, "\r\n")] = 0;
	return p;
}

static size_t load(const char *dir, char **q)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	static char line[1 << 16];
	for (struct dirent *de; d && (de = readdir(d)) && n < QMAX;) {
		size_t nl = strlen(de->d_name);
		char path[4096];
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".tsv"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r");
		while (f && n < QMAX && fgets(line, sizeof(line), f)) {
			char *t = column5(line);
			if (t && *t && (q[n] = strdup(t)))
				n++;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* The lengths are worked out before: only the parser is timed. */
static double parse_all(char **q, const size_t *len, size_t n, int rounds)
{
	double t0 = cpu_s();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			struct mg_tsql *t;
			if (mg_tsql_parse(q[i], len[i], &t, NULL)) {
				fprintf(stderr, "pf_tsql_bench: does not parse: %s\n", q[i]);
				exit(1);
			}
			mg_tsql_free(t);
		}
	return cpu_s() - t0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	static char *q[QMAX];
	size_t n = load(SF_SOURCE_ROOT "/../shared/data/tsbs/queries", q);
	if (n == 0) {
		printf("SKIP: no TSBS queries under %s/../shared/data/tsbs/queries\n", SF_SOURCE_ROOT);
		return 77;
	}
	pf_print_machine("pf_tsql_bench");
	static size_t len[QMAX];
	size_t bytes = 0, longest = 0;
	for (size_t i = 0; i < n; i++) {
		len[i] = strlen(q[i]);
		bytes += len[i];
		if (len[i] > len[longest])
			longest = i;
	}
	double all = parse_all(q, len, n, rounds);
	double one = parse_all(&q[longest], &len[longest], 1, rounds * 100);
	/* the yardstick: the same bytes copied, the copies read so none is optimized away */
	char *buf = malloc(bytes + 1);
	static volatile unsigned char sink;
	double t0 = cpu_s();
	for (int r = 0; r < rounds * 100; r++) {
		for (size_t i = 0, at = 0; i < n; at += len[i], i++)
			memcpy(buf + at, q[i], len[i]);
		sink = (unsigned char)(sink + (unsigned char)buf[(size_t)r % bytes]);
	}
	double mc = (cpu_s() - t0) / 100;
	printf("BENCH tsql_queries %zu queries\n", n);
	printf("BENCH tsql_parse_ns_per_query %.0f ns\n", all / ((double)n * rounds) * 1e9);
	printf("BENCH tsql_parse_longest_us %.2f us\n", one / (rounds * 100.0) * 1e6);
	printf("BENCH tsql_parse_bytes_per_s %.3g B/s\n", (double)bytes * rounds / all);
	printf("BENCH tsql_memcpy_bytes_per_s %.3g B/s\n", (double)bytes * rounds / mc);
	printf("BENCH tsql_parse_vs_memcpy_ratio %.4f x\n", mc / all);
	free(buf);
	for (size_t i = 0; i < n; i++)
		free(q[i]);
	return 0;
}
