/*
 * sfctl.c - the StreamFlow client. It will talk to the daemon's management
 * socket (query, stats, series, import, an interactive shell); this build
 * has the socket-independent part: option parsing, the socket path rules
 * and exit codes that scripts rely on.
 *
 *   sfctl [-s SOCKET] [-d DB] COMMAND [ARGS]
 *   SOCKET: -s, else $SF_SOCKET, else ./var/run/streamflow.sock
 *
 * Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 cannot reach the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

#define SFCTL_EXIT_USAGE 2
#define SFCTL_EXIT_UNREACHABLE 3

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sfctl [-s SOCKET] [-d DB] COMMAND [ARGS]\n"
		"\n"
		"  -s, --socket PATH   management socket (default $SF_SOCKET or\n"
		"                      ./var/run/streamflow.sock)\n"
		"  -d, --db DB         database for queries\n"
		"  -h, --help          this text\n"
		"\n"
		"commands:\n"
		"  version             print the client version\n"
		"  ping                check that the daemon's socket accepts connections\n");
}

static int ping(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sfctl: socket path '%s' is too long\n", path);
		return SFCTL_EXIT_USAGE;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "sfctl: cannot connect to '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return SFCTL_EXIT_UNREACHABLE;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = getenv("SF_SOCKET");
	if (!sock || !*sock)
		sock = "./var/run/streamflow.sock";
	int c;
	while ((c = getopt_long(argc, argv, "+s:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return SFCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return SFCTL_EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	if (strcmp(cmd, "version") == 0) {
		printf("sfctl %s\n", SF_VERSION);
		return 0;
	}
	if (strcmp(cmd, "ping") == 0)
		return ping(sock);
	fprintf(stderr, "sfctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return SFCTL_EXIT_USAGE;
}
