// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tcp_client: the client side of the save/restore test, stepped by files so
 * the shell test can checkpoint the server between steps.
 *
 *   tcp_client --connect ADDR:PORT --dir DIR [--rcvbuf N] [--greet N]
 *              [--send1 N] [--send2 N]
 *
 *   1. connect (retrying while refused, 10 s), create DIR/connected
 *   2. wait for DIR/go1; send send1 bytes; wait until all are acked
 *      (SIOCOUTQ == 0); create DIR/sent1
 *   3. wait for DIR/go2; read the greeting (greet bytes, pattern seed 1) and
 *      the echo of step 2 (pattern seed 3); send send2 more bytes in 4 KiB
 *      chunks, each echoed back before the next
 *   4. close our side, expect the server's EOF
 *
 * --shut-early: close our side right after step 2 (the server's side is
 * then half-closed, CLOSE_WAIT, while it is checkpointed); step 3 reads the
 * greeting and the echo of step 2 only, then expects the server's EOF.
 *
 * Exits 0 only if every byte came back in order and the connection ended
 * with a clean FIN; a reset, a timeout or a wrong byte is exit 1 with one line
 * on stderr saying where.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "helper_addr.h"
#include "tns.h"

#define GREET_SEED 1
#define DATA_SEED 3
#define STEP_TIMEOUT_MS 30000
#define CHUNK 4096

static const char *dir;

static int fail(const char *what)
{
	fprintf(stderr, "tcp_client: %s: %s\n", what, strerror(errno));
	return 1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int wait_file(const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < STEP_TIMEOUT_MS / 10; i++) {
		if (!stat(path, &st))
			return 0;
		sleep_ms(10);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int touch(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	return f && !fclose(f) ? 0 : -1;
}

/* Read len bytes and compare them with the pattern of seed at stream offset off. */
static int expect(int fd, size_t len, uint64_t off, uint32_t seed, const char *what)
{
	char *got = malloc(len ? len : 1), *want = malloc(len ? len : 1);
	int ret;

	if (!got || !want)
		return fail("malloc");
	ret = tns_read_all(fd, got, len, STEP_TIMEOUT_MS);
	if (ret) {
		errno = -ret;
		fprintf(stderr, "tcp_client: reading %s: %s\n", what, strerror(errno));
		ret = 1;
		goto out;
	}
	tns_pattern(want, len, off, seed);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i]) {
			fprintf(stderr, "tcp_client: %s: byte %zu differs\n", what, i);
			ret = 1;
			goto out;
		}
out:
	free(got);
	free(want);
	return ret;
}

int main(int argc, char **argv)
{
	long rcvbuf = 0, greet = 0, send1 = 0, send2 = 0;
	bool shut_early = false;
	const char *peer = NULL;
	struct sockaddr_storage ss;
	char buf[CHUNK], c;
	int fd = -1, outq;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--shut-early")) {
			shut_early = true;
			continue;
		}
		if (!v)
			break;
		if (!strcmp(argv[i], "--connect"))
			peer = v;
		else if (!strcmp(argv[i], "--dir"))
			dir = v;
		else if (!strcmp(argv[i], "--rcvbuf"))
			rcvbuf = atol(v);
		else if (!strcmp(argv[i], "--greet"))
			greet = atol(v);
		else if (!strcmp(argv[i], "--send1"))
			send1 = atol(v);
		else if (!strcmp(argv[i], "--send2"))
			send2 = atol(v);
		i++;
	}
	if (!peer || !dir || parse_addr(peer, &ss)) {
		fprintf(stderr, "usage: tcp_client --connect ADDR:PORT --dir DIR [--rcvbuf N] "
				"[--greet N] [--send1 N] [--send2 N] [--shut-early]\n");
		return 2;
	}

	for (int i = 0; i < 1000; i++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail("socket");
		/* Before connect, so the window we announce stays this small. */
		if (rcvbuf) {
			int v = (int)rcvbuf;

			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		}
		if (!connect(fd, (struct sockaddr *)&ss, sizeof(ss)))
			break;
		if (errno != ECONNREFUSED && errno != ENETUNREACH && errno != EADDRNOTAVAIL)
			return fail("connect");
		close(fd);
		fd = -1;
		sleep_ms(10);
	}
	if (fd < 0)
		return fail("connect");
	if (touch("connected"))
		return fail("create connected");

	if (wait_file("go1"))
		return fail("wait for go1");
	if (send1) {
		char *d = malloc((size_t)send1);

		if (!d)
			return fail("malloc");
		tns_pattern(d, (size_t)send1, 0, DATA_SEED);
		if (tns_write_all(fd, d, (size_t)send1, STEP_TIMEOUT_MS))
			return fail("send1");
		free(d);
	}
	/* Everything sent is acked, so it is in the server's receive queue. */
	for (int i = 0;; i++) {
		if (ioctl(fd, SIOCOUTQ, &outq))
			return fail("SIOCOUTQ");
		if (outq == 0)
			break;
		if (i == STEP_TIMEOUT_MS / 10) {
			errno = ETIMEDOUT;
			return fail("wait for the ack of send1");
		}
		sleep_ms(10);
	}
	if (shut_early) {
		if (shutdown(fd, SHUT_WR))
			return fail("shutdown");
		send2 = 0;
	}
	if (touch("sent1"))
		return fail("create sent1");

	if (wait_file("go2"))
		return fail("wait for go2");
	if (greet && expect(fd, (size_t)greet, 0, GREET_SEED, "greeting"))
		return 1;
	if (send1 && expect(fd, (size_t)send1, 0, DATA_SEED, "echo of send1"))
		return 1;
	for (long off = 0; off < send2; off += CHUNK) {
		size_t n = (size_t)(send2 - off < CHUNK ? send2 - off : CHUNK);

		tns_pattern(buf, n, (uint64_t)(send1 + off), DATA_SEED);
		if (tns_write_all(fd, buf, n, STEP_TIMEOUT_MS))
			return fail("send2");
		if (expect(fd, n, (uint64_t)(send1 + off), DATA_SEED, "echo of send2"))
			return 1;
	}
	if (!shut_early && shutdown(fd, SHUT_WR))
		return fail("shutdown");
	/* The server closes after our FIN: a clean EOF, not a reset. */
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, STEP_TIMEOUT_MS) != 1) {
			errno = ETIMEDOUT;
			return fail("wait for the server's FIN");
		}
		n = read(fd, &c, 1);
		if (n != 0) {
			if (n > 0)
				errno = EPROTO;
			return fail("expected EOF");
		}
	}
	close(fd);
	printf("tcp_client: ok: greeting %ld B, echoed %ld B, clean close\n", greet, send1 + send2);
	return 0;
}
