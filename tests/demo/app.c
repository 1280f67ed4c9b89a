// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr-demo, the applications.
 *
 * Every connection carries two byte streams with deterministic contents (a
 * pattern of the stream offset and a per-stream seed), so any lost,
 * duplicated or reordered byte is found by the reader wherever it reads.
 *
 * - The client runs in the demo process itself (its sockets live in the
 *   client namespace): it writes its stream as the script says, reads and
 *   checks the server's stream, requires EOF exactly at the stream's end,
 *   and closes once the migration is over and its streams are complete.
 * - The origin server is a child process in the origin namespace that does
 *   what it is told over a command socket (listen, accept, connect, read,
 *   write, shutdown, report the TCP state), keeping its own stream offsets.
 * - The destination server is this program again (--dest-server), the
 *   command `soccr restore` hands the restored sockets to, at the fd numbers
 *   they had on the origin: it reports each socket's state and the segments
 *   it received under the lock, then carries on from the offsets the origin
 *   server had reached (the application state, in a file beside the image),
 *   reads and checks the rest of the client's stream up to EOF, writes the
 *   rest of its own, closes, and reports per connection on its stdout.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "demo.h"
#include "internal.h"
#include "tns.h"

#define IO_TIMEOUT_MS 3000
#define DEST_DEADLINE_MS 20000
#define CHUNK 65536

void demo_conn_fail(struct demo_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;		/* keep the first reason */
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* Index of the first byte of buf that is not the stream's pattern, or len. */
static size_t pattern_check(const void *buf, size_t len, uint64_t off, uint32_t seed)
{
	static uint8_t want[CHUNK];
	const uint8_t *p = buf;
	size_t i;

	if (len > sizeof(want))
		len = sizeof(want);
	tns_pattern(want, len, off, seed);
	for (i = 0; i < len && p[i] == want[i]; i++)
		;
	return i;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc ? 0 : -ETIMEDOUT;
}

/* Write len bytes of stream seed from offset off to a non-blocking fd. */
static int write_pattern(int fd, uint64_t off, uint64_t len, uint32_t seed)
{
	static uint8_t buf[CHUNK];

	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t w;

		tns_pattern(buf, n, off, seed);
		w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN) {
				int rc = wait_fd(fd, POLLOUT, IO_TIMEOUT_MS);

				if (rc)
					return rc;
				continue;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* ---- the origin server ------------------------------------------------------------- */

struct srv_cmd {
	int op, idx;
	uint32_t len;
};

struct srv_rep {
	int rc;		/* 0 or -errno */
	int val;
};

static int sock_family(int fam)
{
	return fam == FAM_V4 ? AF_INET : AF_INET6;
}

static int origin_socket(const struct demo_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, v6only = c->fam == FAM_V6;
	int fd = socket(sock_family(c->fam), SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* A v4-mapped connection is an AF_INET6 socket talking IPv4 on the wire. */
	if ((c->fam != FAM_V4 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto err;
	demo_svc_addr(c->fam, c->port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len))
		goto err;
	return fd;
err:
	one = -errno;
	close(fd);
	return one;
}

static int origin_do(struct demo *d, const struct srv_cmd *cmd, int *lfd, int *fd, uint64_t *rd,
		     uint64_t *wr)
{
	struct demo_conn *c = &d->conns[cmd->idx];
	int i = cmd->idx, rc, s;

	switch (cmd->op) {
	case OP_LISTEN:
		s = origin_socket(c);
		if (s < 0)
			return s;
		if (listen(s, 4)) {
			rc = -errno;
			close(s);
			return rc;
		}
		lfd[i] = s;
		return 0;
	case OP_ACCEPT:
		rc = wait_fd(lfd[i], POLLIN, IO_TIMEOUT_MS);
		if (rc)
			return rc;
		s = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (s < 0)
			return -errno;
		close(lfd[i]);
		lfd[i] = -1;
		fd[i] = s;
		return s;
	case OP_CONNECT: {
		struct sockaddr_storage ss;
		socklen_t len;

		s = origin_socket(c);
		if (s < 0)
			return s;
		set_nonblock(s);
		demo_host_addr(c->fam, DEMO_CLIENT_HOST, c->port, &ss, &len);
		if (connect(s, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
			rc = -errno;
			close(s);
			return rc;
		}
		fd[i] = s;
		return s;
	}
	case OP_READ: {
		static uint8_t buf[CHUNK];
		uint64_t left = cmd->len;

		while (left) {
			ssize_t n = recv(fd[i], buf, left < sizeof(buf) ? left : sizeof(buf),
					 MSG_DONTWAIT);

			if (n < 0 && errno == EAGAIN) {
				rc = wait_fd(fd[i], POLLIN, IO_TIMEOUT_MS);
				if (rc)
					return rc;
				continue;
			}
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EPIPE;
			if (pattern_check(buf, (size_t)n, rd[i], c->seed_c) != (size_t)n)
				return -EILSEQ;
			rd[i] += (uint64_t)n;
			left -= (uint64_t)n;
		}
		return 0;
	}
	case OP_WRITE:
		rc = write_pattern(fd[i], wr[i], cmd->len, c->seed_s);
		if (!rc)
			wr[i] += cmd->len;
		return rc;
	case OP_SHUTDOWN:
		return shutdown(fd[i], SHUT_WR) ? -errno : 0;
	case OP_STATE:
		return tns_tcp_state(fd[i]);
	}
	return -EINVAL;
}

static void origin_main(struct demo *d, int ctl)
{
	int lfd[DEMO_MAX_CONNS], fd[DEMO_MAX_CONNS];
	uint64_t rd[DEMO_MAX_CONNS] = { 0 }, wr[DEMO_MAX_CONNS] = { 0 };
	struct srv_cmd cmd;
	struct srv_rep rep;
	ssize_t n;

	for (int i = 0; i < DEMO_MAX_CONNS; i++)
		lfd[i] = fd[i] = -1;
	for (;;) {
		n = recv(ctl, &cmd, sizeof(cmd), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(cmd))
			break;
		memset(&rep, 0, sizeof(rep));
		if (cmd.idx < 0 || cmd.idx >= d->nconns) {
			rep.rc = -EINVAL;
		} else {
			int rc = origin_do(d, &cmd, lfd, fd, rd, wr);

			if (rc < 0)
				rep.rc = rc;
			else
				rep.val = rc;
		}
		if (send(ctl, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
			break;
	}
	_exit(0);
}

/* Close every fd but stdio and the keep[] ones (a forked child must not hold the client's). */
static void close_other_fds(const int *keep, int nkeep)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int me, fds[1024], n = 0;

	if (!dir)
		return;
	me = dirfd(dir);
	while ((e = readdir(dir)) && n < (int)(sizeof(fds) / sizeof(fds[0]))) {
		int fd = atoi(e->d_name);
		bool kept = fd <= 2 || fd == me || e->d_name[0] == '.';

		for (int i = 0; i < nkeep && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			fds[n++] = fd;
	}
	closedir(dir);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int demo_origin_start(struct demo *d)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		demo_set_err("socketpair: %m");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		demo_set_err("fork: %m");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(d->nsfd[H_ORIGIN], CLONE_NEWNET))
			_exit(1);
		close_other_fds(&sv[1], 1);
		origin_main(d, sv[1]);
	}
	close(sv[1]);
	d->origin_pid = pid;
	d->origin_ctl = sv[0];
	return 0;
}

static const char *const op_names[] = { "listen", "accept", "connect", "read", "write",
					"shutdown", "state" };

/* Returns the reply's value (>= 0) or -1 with the error set. */
int demo_origin_cmd(struct demo *d, int op, struct demo_conn *c, uint32_t len)
{
	struct srv_cmd cmd = { .op = op, .idx = c->idx, .len = len };
	struct srv_rep rep;

	if (send(d->origin_ctl, &cmd, sizeof(cmd), MSG_NOSIGNAL) != sizeof(cmd) ||
	    recv(d->origin_ctl, &rep, sizeof(rep), 0) != sizeof(rep)) {
		demo_set_err("origin server: no reply to %s: %m", op_names[op]);
		return -1;
	}
	if (rep.rc < 0) {
		demo_set_err("origin server: %s (conn %d): %s", op_names[op], c->idx + 1,
			     rep.rc == -EILSEQ ? "client bytes differ from the pattern" :
			     strerror(-rep.rc));
		return -1;
	}
	switch (op) {
	case OP_ACCEPT:
	case OP_CONNECT:
		c->ofd = rep.val;
		break;
	case OP_READ:
		c->o_read += len;
		break;
	case OP_WRITE:
		c->o_written += len;
		break;
	case OP_SHUTDOWN:
		c->o_shut = true;
		break;
	case OP_STATE:
		c->o_state = rep.val;
		break;
	}
	return rep.val;
}

void demo_origin_kill(struct demo *d)
{
	if (d->origin_pid > 0) {
		kill(d->origin_pid, SIGKILL);
		while (waitpid(d->origin_pid, NULL, 0) < 0 && errno == EINTR)
			;
		d->origin_pid = 0;
	}
	if (d->origin_ctl >= 0) {
		close(d->origin_ctl);
		d->origin_ctl = -1;
	}
}

/* ---- the client ---------------------------------------------------------------------- */

static int client_fam(const struct demo_conn *c)
{
	/* The client of a v4-mapped connection is a plain IPv4 socket. */
	return c->fam == FAM_V6 ? FAM_V6 : FAM_V4;
}

/* Call with the demo process in the client namespace. */
int demo_client_connect(struct demo *d, struct demo_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	(void)d;
	fd = socket(sock_family(client_fam(c)), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		demo_set_err("client socket: %m");
		return -1;
	}
	if (c->state == TCP_SYN_SENT) {
		/* The origin server connects out to us; we listen. */
		demo_host_addr(client_fam(c), DEMO_CLIENT_HOST, c->port, &ss, &len);
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4)) {
			demo_set_err("client listen on port %u: %m", c->port);
			close(fd);
			return -1;
		}
		c->lfd = fd;
		c->c_local = ss;
		demo_svc_addr(client_fam(c), c->port, &c->c_peer, NULL);
		return 0;
	}
	demo_svc_addr(client_fam(c), c->port, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		demo_set_err("client connect (port %u): %m", c->port);
		close(fd);
		return -1;
	}
	c->cfd = fd;
	return 0;
}

/* Wait for a non-blocking connect started by demo_client_connect(). */
static int client_connected(struct demo_conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0, rc;

	rc = wait_fd(c->cfd, POLLOUT, IO_TIMEOUT_MS);
	if (!rc && getsockopt(c->cfd, SOL_SOCKET, SO_ERROR, &err, &len))
		rc = -errno;
	if (!rc && err)
		rc = -err;
	if (rc) {
		demo_set_err("client connect (port %u): %s", c->port, strerror(-rc));
		return -1;
	}
	len = sizeof(c->c_local);
	getsockname(c->cfd, (struct sockaddr *)&c->c_local, &len);
	len = sizeof(c->c_peer);
	getpeername(c->cfd, (struct sockaddr *)&c->c_peer, &len);
	return 0;
}

int demo_client_write(struct demo_conn *c, uint64_t len)
{
	int rc = write_pattern(c->cfd, c->c_sent, len, c->seed_c);

	if (rc) {
		demo_set_err("client write (conn %d): %s", c->idx + 1, strerror(-rc));
		return -1;
	}
	c->c_sent += len;
	return 0;
}

static void client_read(struct demo *d, struct demo_conn *c)
{
	static uint8_t buf[CHUNK];

	(void)d;
	for (;;) {
		ssize_t n = recv(c->cfd, buf, sizeof(buf), MSG_DONTWAIT);
		size_t bad;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			demo_conn_fail(c, "client: %s after %llu of %llu bytes",
				       errno == ECONNRESET ? "connection reset" : strerror(errno),
				       (unsigned long long)c->c_rcvd,
				       (unsigned long long)c->s_total);
			c->c_failed = true;
			return;
		}
		if (n == 0) {
			if (c->c_rcvd != c->s_total) {
				demo_conn_fail(c, "client: EOF after %llu of %llu bytes",
					       (unsigned long long)c->c_rcvd,
					       (unsigned long long)c->s_total);
				c->c_failed = true;
			}
			c->c_eof = true;
			return;
		}
		if (c->c_rcvd + (uint64_t)n > c->s_total) {
			demo_conn_fail(c, "client: %llu bytes past the end of the server's stream",
				       (unsigned long long)(c->c_rcvd + (uint64_t)n - c->s_total));
			c->c_failed = true;
			return;
		}
		bad = pattern_check(buf, (size_t)n, c->c_rcvd, c->seed_s);
		if (bad != (size_t)n) {
			demo_conn_fail(c, "client: byte %llu of the server's stream is wrong",
				       (unsigned long long)(c->c_rcvd + bad));
			c->c_failed = true;
			return;
		}
		c->c_rcvd += (uint64_t)n;
	}
}

static void client_accept(struct demo *d, struct demo_conn *c)
{
	socklen_t len;
	int fd;

	(void)d;
	fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			demo_conn_fail(c, "client: accept: %s", strerror(errno));
			c->c_failed = true;
		}
		return;
	}
	close(c->lfd);
	c->lfd = -1;
	c->cfd = fd;
	len = sizeof(c->c_local);
	getsockname(fd, (struct sockaddr *)&c->c_local, &len);
	len = sizeof(c->c_peer);
	getpeername(fd, (struct sockaddr *)&c->c_peer, &len);
	if (demo_client_write(c, c->sc.c_post)) {
		demo_conn_fail(c, "client: %s", demo_err());
		c->c_failed = true;
	}
}

static void capture_dispatch(struct demo *d);

/*
 * One round of the client's event loop: read what arrived, accept what
 * connected, feed the capture, and close connections whose streams are
 * complete once the migration is over (closing earlier would end the
 * connection on the origin, before the checkpoint).
 */
void demo_client_pump(struct demo *d, int timeout_ms)
{
	struct pollfd pfd[DEMO_MAX_CONNS + 1];
	struct demo_conn *who[DEMO_MAX_CONNS + 1];
	int n = 0, rc;

	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (c->c_failed || c->c_closed)
			continue;
		if (c->cfd >= 0 && !c->c_eof)
			pfd[n] = (struct pollfd){ .fd = c->cfd, .events = POLLIN };
		else if (c->cfd < 0 && c->lfd >= 0 && d->migrated)
			pfd[n] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
		else
			continue;
		who[n++] = c;
	}
	if (d->pcap) {
		pfd[n] = (struct pollfd){ .fd = pcap_get_selectable_fd(d->pcap), .events = POLLIN };
		who[n++] = NULL;
	}
	rc = poll(pfd, (nfds_t)n, timeout_ms);
	for (int i = 0; rc > 0 && i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (!who[i])
			continue;
		if (pfd[i].fd == who[i]->lfd)
			client_accept(d, who[i]);
		else
			client_read(d, who[i]);
	}
	if (d->pcap)
		capture_dispatch(d);
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (d->migrated && !c->c_closed && c->cfd >= 0 &&
		    (c->failed || c->c_failed || (c->c_eof && c->c_sent == c->c_total))) {
			close(c->cfd);
			c->cfd = -1;
			c->c_closed = true;
		}
	}
}

bool demo_client_all_done(const struct demo *d)
{
	for (int i = 0; i < d->nconns; i++)
		if (!d->conns[i].c_closed && !d->conns[i].c_failed && !d->conns[i].failed)
			return false;
	return true;
}

/* Finish the client's connects (they complete in the backlog of the origin's listeners). */
int demo_client_finish_connects(struct demo *d)
{
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (c->cfd >= 0 && client_connected(c))
			return -1;
	}
	return 0;
}

/* ---- the destination server --------------------------------------------------------- */

struct dest_res {
	int idx;
	int ok;
	char why[DEMO_WHY_LEN];
};

struct dest_job {
	int fd;
	uint64_t to_read, got, to_write, put;
	bool shut, eof, done, failed;
	char why[DEMO_WHY_LEN];
};

static void job_fail(struct dest_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_fail(struct dest_job *j, const char *fmt, ...)
{
	va_list ap;

	j->failed = j->done = true;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
}

static void dest_io(const struct demo_conn *c, struct dest_job *j, short revents)
{
	static uint8_t buf[CHUNK];

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		for (;;) {
			ssize_t n = recv(j->fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0) {
				job_fail(j, "server: %s after %llu of %llu bytes",
					 errno == ECONNRESET ? "connection reset" : strerror(errno),
					 (unsigned long long)(c->o_read + j->got),
					 (unsigned long long)c->c_total);
				return;
			}
			if (n == 0) {
				if (j->got != j->to_read) {
					job_fail(j, "server: EOF after %llu of %llu bytes",
						 (unsigned long long)(c->o_read + j->got),
						 (unsigned long long)c->c_total);
					return;
				}
				j->eof = true;
				break;
			}
			if (j->got + (uint64_t)n > j->to_read) {
				job_fail(j, "server: %llu bytes past the end of the client's stream",
					 (unsigned long long)(j->got + (uint64_t)n - j->to_read));
				return;
			}
			size_t bad = pattern_check(buf, (size_t)n, c->o_read + j->got,
							c->seed_c);

			if (bad != (size_t)n) {
				job_fail(j, "server: byte %llu of the client's stream is wrong",
					 (unsigned long long)(c->o_read + j->got + bad));
				return;
			}
			j->got += (uint64_t)n;
		}
	}
	while ((revents & POLLOUT) && j->put < j->to_write) {
		uint64_t left = j->to_write - j->put;
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t w;

		tns_pattern(buf, n, c->o_written + j->put, c->seed_s);
		w = send(j->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w < 0) {
			job_fail(j, "server: write: %s", strerror(errno));
			return;
		}
		j->put += (uint64_t)w;
	}
	if (j->put == j->to_write && !j->shut) {
		if (shutdown(j->fd, SHUT_WR)) {
			job_fail(j, "server: shutdown: %s", strerror(errno));
			return;
		}
		j->shut = true;
	}
	if (j->eof && j->shut && j->put == j->to_write)
		j->done = true;
}

/*
 * The application state the destination server starts from, one line per
 * connection saved: what the origin server had read and written, whether
 * it had shut its side, the streams' lengths and seeds, the socket's fd.
 */
int demo_dest_state(const struct demo *d, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		demo_set_err("%s: %m", path);
		return -1;
	}
	for (int i = 0; i < d->nconns; i++) {
		const struct demo_conn *c = &d->conns[i];

		if (c->saved)
			fprintf(f, "conn %d %d %d %" PRIu64 " %" PRIu64 " %d %" PRIu64 " %" PRIu64
				   " %u %u\n",
				c->idx, c->ofd, c->state, c->o_read, c->o_written, (int)c->o_shut,
				c->c_total, c->s_total, c->seed_c, c->seed_s);
	}
	if (fclose(f)) {
		demo_set_err("%s: %m", path);
		return -1;
	}
	return 0;
}

/*
 * The head of the kernel's struct tcp_info up to tcpi_segs_in (Linux 4.2),
 * which the C library's copy of the struct does not reach.
 */
struct tcp_info_segs {
	uint8_t tcpi_state;
	uint8_t bytes[7];
	uint32_t u32s[24];	/* tcpi_rto .. tcpi_total_retrans */
	uint64_t u64s[4];	/* tcpi_pacing_rate .. tcpi_bytes_received */
	uint32_t tcpi_segs_out;
	uint32_t tcpi_segs_in;
};

/*
 * The destination server, run by `soccr restore -- CMD` with the restored
 * sockets at their saved fd numbers, the flows still locked: first, on
 * stdout, each socket's state and the segments it has received (under the
 * lock, only the ones the restore injected), then "ready"; then the rest of
 * both streams, and a result line per connection. Exit status 0 if every
 * connection made it.
 */
int demo_dest_main(const char *state_path)
{
	struct demo_conn conns[DEMO_MAX_CONNS];
	struct dest_job jobs[DEMO_MAX_CONNS];
	struct pollfd pfd[DEMO_MAX_CONNS];
	int map[DEMO_MAX_CONNS], n = 0, bad = 0;
	int64_t deadline = now_ms() + DEST_DEADLINE_MS;
	char line[256];
	FILE *f;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	f = fopen(state_path, "re");
	if (!f) {
		fprintf(stderr, "soccr-demo: %s: %m\n", state_path);
		return 1;
	}
	while (n < DEMO_MAX_CONNS && fgets(line, sizeof(line), f)) {
		struct demo_conn *c = &conns[n];
		int shut;

		memset(c, 0, sizeof(*c));
		if (sscanf(line, "conn %d %d %d %" SCNu64 " %" SCNu64 " %d %" SCNu64 " %" SCNu64
				 " %u %u",
			   &c->idx, &c->ofd, &c->state, &c->o_read, &c->o_written, &shut, &c->c_total,
			   &c->s_total, &c->seed_c, &c->seed_s) == 10) {
			c->o_shut = shut;
			n++;
		}
	}
	fclose(f);
	for (int i = 0; i < n; i++) {
		struct tcp_info_segs ti;
		socklen_t len = sizeof(ti);

		memset(&ti, 0, sizeof(ti));
		if (getsockopt(conns[i].ofd, IPPROTO_TCP, TCP_INFO, &ti, &len) || len < sizeof(ti)) {
			printf("missing %d %s\n", conns[i].idx, strerror(errno));
			conns[i].failed = true;
			continue;
		}
		printf("state %d %d %u\n", conns[i].idx, ti.tcpi_state, ti.tcpi_segs_in);
	}
	printf("ready\n");
	fflush(stdout);
	/* The demo unlocks the flows once it has read the above: the streams go on. */
	for (int i = 0; i < n; i++) {
		const struct demo_conn *c = &conns[i];
		struct dest_job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		j->fd = c->ofd;
		j->to_read = c->c_total - c->o_read;
		j->to_write = c->s_total - c->o_written;
		j->shut = c->o_shut;
		if (c->failed)
			job_fail(j, "server: no socket at fd %d", c->ofd);
		else
			set_nonblock(j->fd);
	}
	for (;;) {
		int np = 0, rc;

		for (int i = 0; i < n; i++) {
			struct dest_job *j = &jobs[i];

			if (j->done)
				continue;
			pfd[np] = (struct pollfd){ .fd = j->fd, .events = j->eof ? 0 : POLLIN };
			if (j->put < j->to_write || !j->shut)
				pfd[np].events |= POLLOUT;
			map[np++] = i;
		}
		if (!np || now_ms() > deadline)
			break;
		rc = poll(pfd, (nfds_t)np, 100);
		if (rc < 0 && errno != EINTR)
			break;
		for (int k = 0; rc > 0 && k < np; k++)
			if (pfd[k].revents)
				dest_io(&conns[map[k]], &jobs[map[k]], pfd[k].revents);
	}
	for (int i = 0; i < n; i++) {
		struct dest_job *j = &jobs[i];

		if (!j->done)
			job_fail(j, "server: timed out (read %llu/%llu, wrote %llu/%llu%s)",
				 (unsigned long long)j->got, (unsigned long long)j->to_read,
				 (unsigned long long)j->put, (unsigned long long)j->to_write,
				 j->eof ? ", EOF seen" : "");
		printf("result %d %s\n", conns[i].idx, j->failed ? j->why : "ok");
		bad += j->failed;
		if (!conns[i].failed)
			close(j->fd);
	}
	fflush(stdout);
	return bad ? 1 : 0;
}

/* One line of the destination server's output, by the deadline. 1, 0 at its end, or -1. */
static int dest_line(struct demo *d, char *line, size_t len, int64_t deadline)
{
	static char buf[4096];
	static size_t have;

	for (;;) {
		char *nl = memchr(buf, '\n', have);
		ssize_t n;

		if (nl) {
			size_t k = (size_t)(nl - buf);

			snprintf(line, len, "%.*s", (int)k, buf);
			memmove(buf, nl + 1, have - k - 1);
			have -= k + 1;
			return 1;
		}
		if (have == sizeof(buf))
			have = 0;	/* a line too long for us: not one of the server's */
		int64_t left = deadline - now_ms();

		if (left < 0 || wait_fd(d->dest_res, POLLIN, (int)left))
			return -1;
		n = read(d->dest_res, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		have += (size_t)n;
	}
}

static struct demo_conn *conn_at(struct demo *d, int idx)
{
	return idx >= 0 && idx < d->nconns ? &d->conns[idx] : NULL;
}

/* The destination server's first report: the restored sockets, before the unlock. 0 or -1. */
int demo_dest_ready(struct demo *d, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char line[256], why[128];
	unsigned int segs;
	int idx, st;

	while (dest_line(d, line, sizeof(line), deadline) > 0) {
		struct demo_conn *c;

		if (!strcmp(line, "ready"))
			return 0;
		if (sscanf(line, "state %d %d %u", &idx, &st, &segs) == 3 && (c = conn_at(d, idx))) {
			c->restored = true;
			c->r_state = st;
			c->segs_in = segs;
		} else if (sscanf(line, "missing %d %127[^\n]", &idx, why) == 2 &&
			   (c = conn_at(d, idx))) {
			demo_conn_fail(c, "destination server: no socket: %s", why);
		}
	}
	return -1;
}

/* Read the destination server's results; kill it if it has not finished in time. */
void demo_dest_collect(struct demo *d, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char line[256], why[DEMO_WHY_LEN];
	int idx, st;

	if (d->dest_pid <= 0 || d->dest_done)
		return;
	while (dest_line(d, line, sizeof(line), deadline) > 0) {
		struct demo_conn *c;

		why[0] = '\0';
		if (sscanf(line, "result %d %95[^\n]", &idx, why) == 2 && (c = conn_at(d, idx))) {
			c->d_ok = !strcmp(why, "ok");
			snprintf(c->d_why, sizeof(c->d_why), "%s", c->d_ok ? "" : why);
		}
	}
	/* soccr restore exits with the server's status; it and the server go if still there. */
	if (waitpid(d->dest_pid, &st, WNOHANG) != d->dest_pid) {
		kill(d->dest_pid, SIGKILL);
		while (waitpid(d->dest_pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	d->dest_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	close(d->dest_res);
	d->dest_res = -1;
	d->dest_pid = 0;
	d->dest_done = true;
}

/* ---- the capture on the client's wire ------------------------------------------------ */

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *p)
{
	struct demo *d = (struct demo *)user;
	size_t len = h->caplen, l4;
	uint16_t type, sport, dport;

	d->pkts++;
	if (d->dumper)
		pcap_dump((u_char *)d->dumper, h, p);
	if (len < 14)
		return;
	type = (uint16_t)(p[12] << 8 | p[13]);
	if (type == 0x0800 && len >= 14 + 20 && p[14 + 9] == IPPROTO_TCP)
		l4 = 14 + (size_t)(p[14] & 0xf) * 4;
	else if (type == 0x86dd && len >= 14 + 40 && p[14 + 6] == IPPROTO_TCP)
		l4 = 14 + 40;
	else
		return;
	if (len < l4 + 14)
		return;
	if (!(p[l4 + 13] & 0x04))	/* RST */
		return;
	sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
	dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	for (int i = 0; i < d->nconns; i++)
		if (d->conns[i].port == sport || d->conns[i].port == dport) {
			d->conns[i].rst++;
			return;
		}
	d->other_rst++;
}

static void capture_dispatch(struct demo *d)
{
	while (pcap_dispatch(d->pcap, -1, on_packet, (u_char *)d) > 0)
		;
}

int demo_capture_open(struct demo *d)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	int rc;

	if (demo_enter(d, H_CLIENT))
		return -1;
	p = pcap_create("eth0", err);
	demo_leave(d);
	if (!p) {
		demo_set_err("pcap on the client's eth0: %s", err);
		return -1;
	}
	/* Immediate mode: no block timeout between a packet and its delivery. */
	if (pcap_set_snaplen(p, 65535) || pcap_set_immediate_mode(p, 1) ||
	    pcap_set_buffer_size(p, 32 << 20)) {
		demo_set_err("pcap set-up failed");
		goto err;
	}
	if (demo_enter(d, H_CLIENT))
		goto err;
	rc = pcap_activate(p);
	demo_leave(d);
	if (rc < 0) {
		demo_set_err("pcap on the client's eth0: %s", pcap_geterr(p));
		goto err;
	}
	if (pcap_setnonblock(p, 1, err)) {
		demo_set_err("pcap: %s", err);
		goto err;
	}
	d->pcap = p;
	if (d->pcap_path) {
		/* A new private file, never through a link (as the tool's --pcap). */
		int e = 0;
		FILE *f = sc_create_private(d->pcap_path, &e);

		d->dumper = f ? pcap_dump_fopen(p, f) : NULL;
		if (!d->dumper) {
			demo_set_err("--pcap %s: %s", d->pcap_path,
				     f ? pcap_geterr(p) : sc_create_private_why(e) ?
				     sc_create_private_why(e) : strerror(-e));
			if (f)
				fclose(f);
			d->pcap = NULL;
			goto err;
		}
	}
	return 0;
err:
	pcap_close(p);
	return -1;
}

void demo_capture_close(struct demo *d)
{
	if (!d->pcap)
		return;
	capture_dispatch(d);
	if (d->dumper) {
		pcap_dump_close(d->dumper);
		d->dumper = NULL;
	}
	pcap_close(d->pcap);
	d->pcap = NULL;
}
