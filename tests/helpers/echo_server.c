// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * echo_server: the tiny TCP echo server of the save/restore tests and of the
 * README's `soccr restore ... -- CMD` example.
 *
 *   echo_server                     socket activation: LISTEN_FDS=1 and
 *                                   LISTEN_PID=<our pid> give fd 3, either a
 *                                   connected socket (served directly) or a
 *                                   listening one (one connection accepted)
 *   echo_server --listen ADDR:PORT [--greet N] [--sndbuf N] [--ready FILE]
 *                                   listen, accept one connection, write N
 *                                   greeting bytes (pattern seed 1), write
 *                                   "PID FD" to FILE, then echo
 *
 * Echoes until the peer closes, then closes its side and exits 0; exits 1
 * on any error (a reset included), with one line on stderr.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper_addr.h"
#include "tns.h"

#define GREET_SEED 1
#define IO_TIMEOUT_MS 30000

static int die(const char *what)
{
	fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
	return 1;
}

/* fd 3 from socket activation, if it is meant for us. */
static int activated_fd(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

	if (!fds || !pid || atoi(fds) != 1 || atoi(pid) != (int)getpid())
		return -1;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	/*
	 * `soccr restore -- CMD` hands the socket over live: out of repair mode
	 * before CMD's first instruction. Checked here, first thing.
	 */
	{
		int repair = -1;
		socklen_t len = sizeof(repair);

		if (getsockopt(3, IPPROTO_TCP, TCP_REPAIR, &repair, &len) || repair != 0) {
			fprintf(stderr, "echo_server: fd 3 is still in repair mode (%d)\n", repair);
			exit(1);
		}
	}
	return 3;
}

static int echo(int fd)
{
	char buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		ssize_t n;
		int r = poll(&pfd, 1, IO_TIMEOUT_MS);

		if (r == 0) {
			errno = ETIMEDOUT;
			return die("read");
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("read");
		if (n == 0)
			break;
		if (tns_write_all(fd, buf, (size_t)n, IO_TIMEOUT_MS)) {
			errno = ECONNRESET;
			return die("write");
		}
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *ready = NULL;
	struct sockaddr_storage ss;
	long greet = 0, sndbuf = 0;
	int fd, lfd, acc = 0, one = 1;
	socklen_t len = sizeof(acc);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_at = argv[++i];
		else if (!strcmp(argv[i], "--greet") && i + 1 < argc)
			greet = atol(argv[++i]);
		else if (!strcmp(argv[i], "--sndbuf") && i + 1 < argc)
			sndbuf = atol(argv[++i]);
		else if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else {
			fprintf(stderr, "usage: echo_server [--listen ADDR:PORT [--greet N] "
					"[--sndbuf N] [--ready FILE]]\n");
			return 2;
		}
	}

	fd = activated_fd();
	if (fd >= 0) {
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len);
		if (!acc)
			return echo(fd);
		lfd = fd;
	} else {
		if (!listen_at || parse_addr(listen_at, &ss)) {
			fprintf(stderr, "echo_server: need --listen ADDR:PORT or LISTEN_FDS\n");
			return 2;
		}
		lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			return die("socket");
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, sizeof(ss)) || listen(lfd, 4))
			return die("bind/listen");
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return die("accept");
	close(lfd);
	if (sndbuf) {
		int v = (int)sndbuf;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (greet > 0) {
		char *g = malloc((size_t)greet);

		if (!g)
			return die("malloc");
		tns_pattern(g, (size_t)greet, 0, GREET_SEED);
		if (tns_write_all(fd, g, (size_t)greet, IO_TIMEOUT_MS))
			return die("greeting");
		free(g);
	}
	if (ready) {
		char tmp[4096];
		FILE *f;

		/* Written then renamed, so a reader never sees half a line. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d %d\n", (int)getpid(), fd) < 0 || fclose(f) ||
		    rename(tmp, ready))
			return die("ready file");
	}
	return echo(fd);
}
