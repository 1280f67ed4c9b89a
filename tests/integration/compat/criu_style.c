// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A CRIU-style caller of libsoccr: written only against <soccr/soccr.h>
 * (the API of CRIU's soccr/soccr.h) and built with `pkg-config libsoccr`
 * against an installed copy, the way criu/sk-tcp.c uses the library. It
 * locks the flow with its own nftables rules as CRIU does (drop the 4-tuple
 * in input and output unless meta mark 0xc114), checkpoints a CLOSE_WAIT
 * connection, closes it in repair mode, restores it into a new socket and
 * checks the data and the EOF both ways.
 *
 * usage: criu_style NETNS_A NETNS_B ADDR_A ADDR_B   (IPv4; the socket lives in A)
 */
#define _GNU_SOURCE /* setns() */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <soccr/soccr.h>

#define TO_SERVER 8192
#define TO_CLIENT 4096
#define MORE 1024

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "criu_style: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(1);
}

static void log_fn(unsigned int level, const char *fmt, ...)
{
	va_list ap;

	if (level > SOCCR_LOG_ERR && !getenv("COMPAT_DEBUG"))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void enter(const char *ns)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die("setns %s", ns);
	close(fd);
}

static void pattern(char *buf, size_t len, unsigned char seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 7 + (i >> 8));
}

static void read_exact(int fd, char *buf, size_t len, int expect_eof)
{
	size_t off = 0;
	char extra;

	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			die("timeout reading (%zu of %zu)", off, len);
		n = read(fd, buf + off, len - off);
		if (n <= 0)
			die("read %zd at %zu of %zu", n, off, len);
		off += (size_t)n;
	}
	if (expect_eof) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) != 1 || read(fd, &extra, 1) != 0)
			die("no EOF after %zu bytes", len);
	}
}

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd))
		die("command failed: %s", cmd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, ca = { .sin_family = AF_INET };
	char out[TO_SERVER], in[TO_SERVER], want[TO_SERVER];
	struct libsoccr_sk_data data;
	union libsoccr_addr *src, *dst;
	struct libsoccr_sk *so;
	socklen_t len = sizeof(sa);
	int lfd, srv, cli, rst, ret;
	char *rq, *sq;

	if (argc != 5) {
		fprintf(stderr, "usage: %s NETNS_A NETNS_B ADDR_A ADDR_B\n", argv[0]);
		return 2;
	}
	libsoccr_set_log(SOCCR_LOG_DBG, log_fn);

	/* A connection A -> B, data both ways, B closes its side: A is in CLOSE_WAIT. */
	enter(argv[2]);
	inet_pton(AF_INET, argv[4], &sa.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len))
		die("listen");
	enter(argv[1]);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	srv = accept(lfd, NULL, NULL);
	if (srv < 0)
		die("accept");
	pattern(out, TO_SERVER, 1);
	if (write(cli, out, TO_SERVER) != TO_SERVER)
		die("write to server");
	pattern(out, TO_CLIENT, 2);
	if (write(srv, out, TO_CLIENT) != TO_CLIENT || shutdown(srv, SHUT_WR))
		die("write to client");
	usleep(100000);

	/* The lock, CRIU's way (nft in the namespace of the socket). */
	len = sizeof(ca);
	if (getsockname(cli, (struct sockaddr *)&ca, &len))
		die("getsockname");
	sh("nft 'add table inet crius; "
	   "add chain inet crius i { type filter hook input priority 0; }; "
	   "add chain inet crius o { type filter hook output priority 0; }; "
	   "add rule inet crius i ip saddr %s ip daddr %s tcp sport %u tcp dport %u "
	   "meta mark != 0xc114 drop; "
	   "add rule inet crius o ip saddr %s ip daddr %s tcp sport %u tcp dport %u "
	   "meta mark != 0xc114 drop'",
	   argv[4], argv[3], ntohs(sa.sin_port), ntohs(ca.sin_port), argv[3], argv[4],
	   ntohs(ca.sin_port), ntohs(sa.sin_port));

	/* Dump, as criu/sk-tcp.c does it. */
	so = libsoccr_pause(cli);
	if (!so)
		die("libsoccr_pause");
	ret = libsoccr_save(so, &data, sizeof(data));
	if (ret < 0)
		die("libsoccr_save: %d", ret);
	if (data.state != TCP_CLOSE_WAIT || data.inq_len != TO_CLIENT) {
		errno = 0;
		die("saved state %u, %u bytes queued", data.state, data.inq_len);
	}
	rq = libsoccr_get_queue_bytes(so, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	sq = libsoccr_get_queue_bytes(so, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	src = calloc(1, sizeof(*src));
	dst = calloc(1, sizeof(*dst));
	len = sizeof(*src);
	if (!src || !dst || getsockname(cli, &src->sa, &len))
		die("addresses");
	len = sizeof(*dst);
	if (getpeername(cli, &dst->sa, &len))
		die("getpeername");
	close(cli);
	libsoccr_release(so);

	/* Restore. */
	rst = socket(AF_INET, SOCK_STREAM, 0);
	so = libsoccr_pause(rst);
	if (!so)
		die("libsoccr_pause (restore)");
	libsoccr_set_addr(so, 1, src, SOCCR_MEM_EXCL);
	libsoccr_set_addr(so, 0, dst, SOCCR_MEM_EXCL);
	libsoccr_set_queue_bytes(so, TCP_RECV_QUEUE, rq, SOCCR_MEM_EXCL);
	libsoccr_set_queue_bytes(so, TCP_SEND_QUEUE, sq, SOCCR_MEM_EXCL);
	ret = libsoccr_restore(so, &data, sizeof(data));
	if (ret)
		die("libsoccr_restore: %d", ret);
	libsoccr_resume(so);
	sh("nft delete table inet crius");

	/* Everything arrives: the server's 4 KiB then EOF here, our 8 KiB there, then more. */
	read_exact(rst, in, TO_CLIENT, 1);
	pattern(want, TO_CLIENT, 2);
	if (memcmp(in, want, TO_CLIENT)) {
		errno = 0;
		die("data to the client differs");
	}
	read_exact(srv, in, TO_SERVER, 0);
	pattern(want, TO_SERVER, 1);
	if (memcmp(in, want, TO_SERVER)) {
		errno = 0;
		die("data to the server differs");
	}
	pattern(out, MORE, 3);
	if (write(rst, out, MORE) != MORE || shutdown(rst, SHUT_WR))
		die("write after restore");
	read_exact(srv, in, MORE, 1);
	if (memcmp(in, out, MORE)) {
		errno = 0;
		die("data after restore differs");
	}
	close(rst);
	close(srv);
	close(lfd);
	printf("criu_style: CLOSE_WAIT connection checkpointed and restored\n");
	return 0;
}
