// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr-echo: the small server and client of the README's walkthrough.
 *
 *   soccr-echo [--name NAME] [--keep-open] listen ADDR:PORT
 *	listen on ADDR:PORT; answer each line a client sends with "NAME: line".
 *	When a client ends its input, close too, or with --keep-open leave the
 *	connection half-closed (CLOSE_WAIT) for as long as the process runs:
 *	the state in which the next server, after a restore, sees the end.
 *   soccr-echo [--name NAME] [--keep-open]
 *	the same with the sockets of socket activation (LISTEN_FDS, LISTEN_PID,
 *	as `soccr restore -i IMAGE -- soccr-echo` passes them): listeners
 *	accept, connections are answered where the old server left them.
 *   soccr-echo connect ADDR:PORT
 *	send each line of standard input, print what comes back; at the end of
 *	the input, wait for the server to close.
 *
 * ADDR:PORT is 10.0.0.2:7000 or [fd00::2]:7000. One process, one poll loop.
 * A connection reset is an error (exit 1); the client exits 0 on a clean close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKS 256
#define LINE_MAX_ 4096

struct conn {
	int fd;
	int listener;
	size_t len;
	char buf[LINE_MAX_];
};

static struct conn conns[MAX_SOCKS];
static struct pollfd pfd[MAX_SOCKS];
static int nconns;
static const char *name = "echo";
static int keep_open;

static void die(const char *what)
{
	fprintf(stderr, "soccr-echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_endpoint(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1 ? 0 : -1;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = sizeof(*sin);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static void add(int fd, int listener)
{
	if (nconns == MAX_SOCKS) {
		errno = EMFILE;
		die("too many sockets");
	}
	conns[nconns] = (struct conn){ .fd = fd, .listener = listener };
	pfd[nconns] = (struct pollfd){ .fd = fd, .events = POLLIN };
	nconns++;
}

static void drop(int i)
{
	close(conns[i].fd);
	nconns--;
	conns[i] = conns[nconns];
	pfd[i] = pfd[nconns];
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Answer every whole line in c's buffer; keep a partial one. */
static int answer(struct conn *c)
{
	char out[LINE_MAX_ + 64];
	char *nl, *start = c->buf;

	while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
		int n = snprintf(out, sizeof(out), "%s: %.*s\n", name, (int)(nl - start), start);

		if (write_all(c->fd, out, (size_t)n))
			return -1;
		start = nl + 1;
	}
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
	if (c->len == sizeof(c->buf)) /* a line too long: answered as it is */
		c->buf[c->len - 1] = '\n';
	return 0;
}

static __attribute__((noreturn)) void serve(void)
{
	for (;;) {
		if (poll(pfd, (nfds_t)nconns, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int i = nconns - 1; i >= 0; i--) {
			struct conn *c = &conns[i];
			ssize_t n;

			if (!pfd[i].revents)
				continue;
			if (c->listener) {
				int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

				if (fd >= 0)
					add(fd, 0);
				continue;
			}
			n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read");
			if (n == 0) {
				if (keep_open) /* half-closed: no more reads, no close */
					pfd[i].events = 0;
				else
					drop(i); /* the client closed: so do we */
				continue;
			}
			c->len += (size_t)n;
			if (answer(c))
				die("write");
		}
	}
}

/* Socket activation: fds 3.. as LISTEN_FDS says, for this process only. */
static int activated(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	long n;

	if (!fds || !pid || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	n = strtol(fds, NULL, 10);
	if (n <= 0 || n > MAX_SOCKS)
		return -1;
	for (int fd = 3; fd < 3 + n; fd++) {
		int acc = 0;
		socklen_t len = sizeof(acc);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len))
			die("a LISTEN_FDS socket");
		add(fd, acc);
	}
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

static int client(const struct sockaddr_storage *ss, socklen_t len)
{
	struct pollfd p[2];
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[LINE_MAX_];
	int in_open = 1;

	if (fd < 0 || connect(fd, (const struct sockaddr *)ss, len))
		die("connect");
	p[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (;;) {
		ssize_t n;

		if (poll(in_open ? p : p + 1, in_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (in_open && p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0)
				die("read stdin");
			if (n == 0) {
				in_open = 0;
				shutdown(fd, SHUT_WR);
			} else if (write_all(fd, buf, (size_t)n)) {
				die("send");
			}
		}
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0)
				die("receive");
			if (n == 0)
				return 0; /* the server closed, cleanly */
			if (write_all(STDOUT_FILENO, buf, (size_t)n))
				die("stdout");
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: soccr-echo [--name NAME] [--keep-open] listen ADDR:PORT\n"
			"       soccr-echo [--name NAME] [--keep-open]   (LISTEN_FDS socket activation)\n"
			"       soccr-echo connect ADDR:PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int i = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (;;) {
		if (i + 1 < argc && !strcmp(argv[i], "--name")) {
			name = argv[i + 1];
			i += 2;
		} else if (i < argc && !strcmp(argv[i], "--keep-open")) {
			keep_open = 1;
			i++;
		} else {
			break;
		}
	}
	if (i == argc) {
		if (activated())
			usage();
		serve();
	}
	if (i + 2 != argc || parse_endpoint(argv[i + 1], &ss, &len))
		usage();
	if (!strcmp(argv[i], "connect"))
		return client(&ss, len);
	if (!strcmp(argv[i], "listen")) {
		int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64))
			die("listen");
		add(fd, 1);
		serve();
	}
	usage();
	return 2;
}
