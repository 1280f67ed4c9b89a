// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * multi_server: the server of the whole-process migration test. One
 * process, one poll loop, any number of connections.
 *
 *   multi_server --listen ADDR:PORT --conns K --ready FILE [--greet N] [--sndbuf N]
 *       listen; accept connections as they come and greet each (N bytes,
 *       pattern seed 1, all in the kernel's send buffer), but read nothing:
 *       what the clients send waits in the receive queues, and a client's
 *       FIN leaves its connection half-closed (CLOSE_WAIT). Once K are
 *       accepted and greeted, write our pid to FILE. Runs until killed.
 *   multi_server [--greet N] [--sndbuf N]
 *       socket activation (LISTEN_FDS=N, LISTEN_PID): every fd must be out
 *       of repair mode at our first instruction (checked first thing); a
 *       listening fd accepts new connections (greeted, then echoed), a
 *       connected one is echoed; a connection is closed at the peer's EOF.
 *       Runs until killed.
 *
 * Exits 1 on any error (a reset included), with one line on stderr.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper_addr.h"
#include "tns.h"

#define GREET_SEED    1
#define IO_TIMEOUT_MS 30000
#define MAX_FDS	      1024

static struct pollfd pfd[MAX_FDS];
static bool listening[MAX_FDS];
static int nfds;
static long greet, sndbuf;

static int die(const char *what)
{
	fprintf(stderr, "multi_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void add(int fd, bool lst)
{
	if (nfds == MAX_FDS) {
		errno = EMFILE;
		die("too many sockets");
	}
	pfd[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
	listening[nfds++] = lst;
}

/* A new connection: its send buffer, its greeting, then it is served (read). */
static void take(int fd, bool serve)
{
	if (sndbuf) {
		int v = (int)sndbuf;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (greet > 0) {
		char *g = malloc((size_t)greet);

		if (!g)
			die("malloc");
		tns_pattern(g, (size_t)greet, 0, GREET_SEED);
		if (tns_write_all(fd, g, (size_t)greet, IO_TIMEOUT_MS))
			die("greeting");
		free(g);
	}
	if (serve)
		add(fd, false);
}

/* The sockets of socket activation; each must be out of repair mode already. */
static int activated(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	int n;

	if (!fds || !pid || atoi(pid) != (int)getpid())
		return 0;
	n = atoi(fds);
	for (int fd = 3; fd < 3 + n; fd++) {
		int repair = -1, acc = 0;
		socklen_t len = sizeof(repair);

		if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &repair, &len) || repair != 0) {
			fprintf(stderr, "multi_server: fd %d is still in repair mode (%d)\n", fd,
				repair);
			exit(1);
		}
		len = sizeof(acc);
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len);
		add(fd, acc);
	}
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return n;
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *ready = NULL;
	long conns = 0, accepted = 0;
	bool origin;
	char buf[65536];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			listen_at = argv[i + 1];
		else if (!strcmp(argv[i], "--conns"))
			conns = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[i + 1];
		else if (!strcmp(argv[i], "--greet"))
			greet = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--sndbuf"))
			sndbuf = atol(argv[i + 1]);
	}
	origin = !activated();
	if (origin) {
		struct sockaddr_storage ss;
		int one = 1, lfd;

		if (!listen_at || !ready || parse_addr(listen_at, &ss)) {
			fprintf(stderr, "usage: multi_server --listen ADDR:PORT --conns K --ready FILE "
					"[--greet N] [--sndbuf N], or socket activation\n");
			return 2;
		}
		lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			die("socket");
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, sizeof(ss)) || listen(lfd, 16))
			die("bind/listen");
		add(lfd, true);
	}
	for (;;) {
		int r = poll(pfd, (nfds_t)nfds, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("poll");
		for (int i = 0; i < nfds; i++) {
			ssize_t n;

			if (!pfd[i].revents || pfd[i].fd < 0)
				continue;
			if (listening[i]) {
				int fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);

				if (fd < 0)
					die("accept");
				take(fd, !origin);
				if (origin && ++accepted == conns) {
					char tmp[4096];
					FILE *f;

					/* Written then renamed, so a reader never sees half a line. */
					snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
					f = fopen(tmp, "w");
					if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
					    rename(tmp, ready))
						die("ready file");
				}
				continue;
			}
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read");
			if (n == 0) {
				shutdown(pfd[i].fd, SHUT_WR);
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			if (tns_write_all(pfd[i].fd, buf, (size_t)n, IO_TIMEOUT_MS)) {
				errno = ECONNRESET;
				die("write");
			}
		}
	}
}
