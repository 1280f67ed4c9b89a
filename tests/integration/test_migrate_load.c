// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Migration under load: N TCP connections between two namespaces carry
 * patterned byte streams both ways; the process on side a is checkpointed
 * mid-flow, all its connections at once under the network lock, and a new
 * process restores them all and carries the streams to their end.
 *
 *   peer P (ns b): accepts N connections, sends its stream on each, reads and
 *                  checks the other one, to the end (FIN both ways);
 *   origin L1 (ns a): connects, streams both ways until every connection is
 *                  between 1/4 and 1/2 of its streams (and the half-closed ones
 *                  are half-closed), then: soccr_lock_add_batch() of all N
 *                  flows, libsoccr_pause/save of each, one image per
 *                  connection (soccr_image_encode) with the stream offsets, the
 *                  sockets closed in repair mode; the process exits;
 *   destination L2 (ns a): decodes the images, restores every socket
 *                  (libsoccr_restore), resumes them all, unlocks all flows
 *                  (soccr_lock_del_batch) and streams on from the saved offsets
 *                  to the end.
 *
 * The stream of a connection is named by the client's port: its seeds and
 * its kind come from it. Kinds: both streams long; the peer's stream short
 * (the peer has closed: a is in CLOSE_WAIT at the checkpoint); a's stream
 * short (a has closed: FIN_WAIT2). Every byte is checked at its offset
 * (tns_pattern), each stream must end with EOF exactly at its length: no
 * byte lost, duplicated or moved. A capture in ns b counts RSTs: none allowed.
 *
 * N is 100 in `make check` (SOCCR_MIGRATE_CONNS overrides; `make stress`
 * runs 1000), stream length SOCCR_MIGRATE_BYTES (default 512 KiB each way).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <execinfo.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "tns.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define DEFAULT_CONNS 100
#define DEFAULT_BYTES (512 * 1024)
#define SHORT_DIV     8	    /* a short stream is 1/8 of a long one */
#define STALL_MS      20000 /* no byte moved for that long: fail */
#define CHUNK	      65536
/* a's receive buffer: small, so that the peer cannot run far ahead of what a reads. */
#define A_RCVBUF (64 * 1024)

enum kind { K_BOTH, K_PEER_CLOSED, K_LOCAL_CLOSED };

static struct tns_pair pair;
static struct soccr_lock *lock;
static char pin_dir[64];
static int nconns;
static uint64_t total;
static cpu_set_t one_cpu;

/* One connection's two streams, seen from one end. */
struct stream {
	int fd;
	uint16_t cport; /* the client's (a's) port: names the connection */
	uint32_t tx_seed, rx_seed;
	uint64_t tx_off, tx_end, tx_cap; /* bytes written; length; limit for this phase */
	uint64_t rx_off, rx_end, rx_cap;
	bool tx_fin, rx_eof;
};

/* What L1 hands to L2 besides the image. */
struct extra {
	uint64_t tx_off, rx_off;
	uint8_t tx_fin, rx_eof;
};

/* Summary of one process, through a pipe to the parent. */
struct report {
	int ok;
	uint64_t rx_checked;   /* bytes read and checked at their offsets */
	uint64_t conns_done;   /* connections whose both streams ended */
	int states[16];	       /* L1: TCP states at the checkpoint */
	uint64_t recvq, sendq; /* L1: bytes in the queues saved */
	double ms;	       /* L1: checkpoint; L2: restore + resume + unlock */
	uint64_t injected;     /* L2: restores with a FIN or ACK injected */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static enum kind kind_of(uint16_t cport)
{
	return (enum kind)(cport % 3);
}

/* Set up s for the connection named cport; local: we are a (the client). */
static void stream_init(struct stream *s, int fd, uint16_t cport, bool local)
{
	enum kind k = kind_of(cport);
	uint64_t a_len = k == K_LOCAL_CLOSED ? total / SHORT_DIV : total;
	uint64_t b_len = k == K_PEER_CLOSED ? total / SHORT_DIV : total;
	uint32_t a_seed = 0xa0000000u ^ cport * 2654435761u, b_seed = 0xb0000000u ^ cport;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->cport = cport;
	s->tx_seed = local ? a_seed : b_seed;
	s->rx_seed = local ? b_seed : a_seed;
	s->tx_end = s->tx_cap = local ? a_len : b_len;
	s->rx_end = s->rx_cap = local ? b_len : a_len;
}

static bool stream_done(const struct stream *s)
{
	return s->tx_fin && s->rx_eof;
}

static int stream_step(struct stream *s, short rev, const char *who, uint64_t *checked)
{
	static char buf[CHUNK], want[CHUNK];
	ssize_t n;

	if ((rev & POLLOUT) && !s->tx_fin && s->tx_off < s->tx_cap) {
		size_t len = s->tx_cap - s->tx_off > CHUNK ? CHUNK : s->tx_cap - s->tx_off;

		tns_pattern(buf, len, s->tx_off, s->tx_seed);
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			fprintf(stderr, "FAIL %s %u: write at %llu: %s\n", who, s->cport,
				(unsigned long long)s->tx_off, strerror(errno));
			return -1;
		}
		if (n > 0)
			s->tx_off += (uint64_t)n;
	}
	if (!s->tx_fin && s->tx_off == s->tx_end) {
		if (shutdown(s->fd, SHUT_WR)) {
			fprintf(stderr, "FAIL %s %u: shutdown: %s\n", who, s->cport,
				strerror(errno));
			return -1;
		}
		s->tx_fin = true;
	}
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !s->rx_eof && s->rx_off < s->rx_cap) {
		size_t len = s->rx_cap - s->rx_off > CHUNK ? CHUNK : s->rx_cap - s->rx_off;

		n = recv(s->fd, buf, len, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			fprintf(stderr, "FAIL %s %u: read at %llu: %s\n", who, s->cport,
				(unsigned long long)s->rx_off, strerror(errno));
			return -1;
		}
		if (n > 0) {
			tns_pattern(want, (size_t)n, s->rx_off, s->rx_seed);
			if (memcmp(buf, want, (size_t)n)) {
				fprintf(stderr, "FAIL %s %u: %zd bytes at offset %llu differ\n",
					who, s->cport, n, (unsigned long long)s->rx_off);
				return -1;
			}
			s->rx_off += (uint64_t)n;
			*checked += (uint64_t)n;
		}
	}
	/* EOF is looked for once the whole stream is in: it must come exactly there. */
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !s->rx_eof && s->rx_off == s->rx_end) {
		char c;

		n = recv(s->fd, &c, 1, MSG_DONTWAIT);
		if (n == 0) {
			s->rx_eof = true;
		} else if (n > 0) {
			fprintf(stderr, "FAIL %s %u: data after the %llu bytes of the stream\n",
				who, s->cport, (unsigned long long)s->rx_end);
			return -1;
		} else if (errno != EAGAIN) {
			fprintf(stderr, "FAIL %s %u: read at the end: %s\n", who, s->cport,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Move the streams until stop() says so (or all are done when stop is NULL).
 * Returns 0, or -1 on a bad byte, an error, or STALL_MS without progress.
 */
static int engine(struct stream *s, int n, bool (*stop)(struct stream *, int), const char *who,
		  uint64_t *checked)
{
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	uint64_t last = now_ms(), progress = UINT64_MAX;
	int ret = -1;

	if (!pfd)
		return -1;
	for (;;) {
		uint64_t p = 0;
		int active = 0;

		for (int i = 0; i < n; i++) {
			pfd[i].fd = stream_done(&s[i]) ? -1 : s[i].fd;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			/* Nothing is asked for past a cap: a capped stream waits, it does not spin.
			 */
			if (!s[i].rx_eof &&
			    (s[i].rx_off < s[i].rx_cap || s[i].rx_off == s[i].rx_end))
				pfd[i].events |= POLLIN;
			if (!s[i].tx_fin &&
			    (s[i].tx_off < s[i].tx_cap || s[i].tx_off == s[i].tx_end))
				pfd[i].events |= POLLOUT;
			active += pfd[i].fd >= 0;
			p += s[i].tx_off + s[i].rx_off + s[i].tx_fin + s[i].rx_eof;
		}
		if (stop ? stop(s, n) : !active)
			break;
		if (p != progress) {
			progress = p;
			last = now_ms();
		} else if (now_ms() - last > STALL_MS) {
			int shown = 0;

			fprintf(stderr, "FAIL %s: no progress for %d ms\n", who, STALL_MS);
			for (int i = 0; i < n && shown < 5; i++)
				if (!stream_done(&s[i])) {
					fprintf(stderr,
						"  %u: tx %llu/%llu%s rx %llu/%llu%s state %d\n",
						s[i].cport, (unsigned long long)s[i].tx_off,
						(unsigned long long)s[i].tx_end,
						s[i].tx_fin ? " FIN" : "",
						(unsigned long long)s[i].rx_off,
						(unsigned long long)s[i].rx_end,
						s[i].rx_eof ? " EOF" : "", tns_tcp_state(s[i].fd));
					shown++;
				}
			goto out;
		}
		if (poll(pfd, (nfds_t)n, 10) < 0 && errno != EINTR)
			goto out;
		for (int i = 0; i < n; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents &&
			    stream_step(&s[i], pfd[i].revents, who, checked))
				goto out;
	}
	ret = 0;
out:
	free(pfd);
	return ret;
}

/* ---- children ----------------------------------------------------------------------- */

static void on_crash(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);
	static const char msg[] = "child crashed; backtrace:\n";

	if (write(2, msg, sizeof(msg) - 1) > 0)
		backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void log_cb(unsigned int level, const char *fmt, ...)
{
	va_list ap;

	if (level > SOCCR_LOG_ERR && !getenv("SOCCR_TEST_DEBUG"))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/*
 * Run fn in a child that reports through a pipe. The child never returns into
 * cmocka (whose signal handlers would make a crashed child go on as the
 * parent) and leaves with _exit() (exit() would run the parent's atexit
 * handlers, which delete the namespaces), after LeakSanitizer's check.
 */
static pid_t spawn(void (*fn)(void *ctx, struct report *r), void *ctx, int *rfd)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	int pfd[2];
	pid_t pid;

	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct report r = {0};

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], on_crash);
		/*
		 * Every process of the test on one CPU: a veth delivers a packet
		 * through the backlog of the CPU that sent it, so packets sent from
		 * two CPUs can overtake each other. A late duplicate that reaches a
		 * connection which has just finished closing is answered with a RST
		 * (ordinary TCP, seen without any checkpoint too), which would hide
		 * the RSTs this test is looking for.
		 */
		if (sched_setaffinity(0, sizeof(one_cpu), &one_cpu))
			_exit(98);
		close(pfd[0]);
		fn(ctx, &r);
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r))
			_exit(99);
		fflush(NULL);
#ifdef __SANITIZE_ADDRESS__
		__lsan_do_leak_check();
#endif
		_exit(0);
	}
	close(pfd[1]);
	*rfd = pfd[0];
	return pid;
}

static int collect(pid_t pid, int rfd, const char *who, struct report *r)
{
	ssize_t got = read(rfd, r, sizeof(*r));
	int st;

	close(rfd);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "FAIL %s: %s %d\n", who,
			WIFSIGNALED(st) ? "killed by signal" : "exited with",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return -1;
	}
	if (got != (ssize_t)sizeof(*r) || !r->ok) {
		fprintf(stderr, "FAIL %s: %s\n", who,
			got == (ssize_t)sizeof(*r) ? "failed" : "no report");
		return -1;
	}
	return 0;
}

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		 : getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The peer reads the long streams on to their end once the parent says so (after the checkpoint).
 */
static int peer_ctl = -1;

static bool peer_stop(struct stream *s, int n)
{
	static bool lifted;
	bool done = true;
	char c;

	if (!lifted && read(peer_ctl, &c, 1) == 1) {
		lifted = true;
		for (int i = 0; i < n; i++)
			s[i].rx_cap = s[i].rx_end;
	}
	for (int i = 0; i < n && done; i++)
		done = stream_done(&s[i]);
	return done;
}

/*
 * P, in ns b: accept every connection, then both streams to the end. Until
 * the checkpoint is over it reads only half of each long stream, with a small
 * receive buffer: a slow reader, so that a's send queues hold data.
 */
static void peer_main(void *ctx, struct report *r)
{
	int lfd = *(int *)ctx, rcv = 16 * 1024;
	struct stream *s = calloc((size_t)nconns, sizeof(*s));

	if (!s)
		return;
	for (int i = 0; i < nconns; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "FAIL peer: accept %d: %s\n", i, strerror(errno));
			goto out;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		stream_init(&s[i], fd, port_of(fd, true), false);
		if (s[i].rx_cap == total)
			s[i].rx_cap = total / 2;
	}
	close(lfd);
	if (engine(s, nconns, peer_stop, "peer", &r->rx_checked))
		goto out;
	r->conns_done = (uint64_t)nconns;
	r->ok = 1;
out:
	for (int i = 0; i < nconns; i++)
		if (s[i].fd > 0)
			close(s[i].fd);
	free(s);
}

struct origin_ctx {
	int memfd;
	struct sockaddr_storage dst;
	socklen_t dlen;
	int family;
};

/* The checkpoint moment: every connection mid-stream, the half-closed ones half-closed. */
static bool ready(struct stream *s, int n)
{
	static uint64_t next_check;

	for (int i = 0; i < n; i++) {
		enum kind k = kind_of(s[i].cport);

		if (k != K_LOCAL_CLOSED && s[i].tx_off < total / 4)
			return false;
		if (k != K_PEER_CLOSED && s[i].rx_off < total / 4)
			return false;
		if (k == K_LOCAL_CLOSED && !s[i].tx_fin)
			return false;
	}
	/* States cost a system call each: look at most every 10 ms. */
	if (now_ms() < next_check)
		return false;
	next_check = now_ms() + 10;
	for (int i = 0; i < n; i++) {
		enum kind k = kind_of(s[i].cport);
		int st = tns_tcp_state(s[i].fd), inq = 0, outq = 0;

		if ((k == K_PEER_CLOSED && st != TCP_CLOSE_WAIT) ||
		    (k == K_LOCAL_CLOSED && st != TCP_FIN_WAIT2) ||
		    (k == K_BOTH && st != TCP_ESTABLISHED))
			return false;
		/*
		 * Data in flight on every long stream: what a has not read yet in
		 * its receive queue, what the peer (who reads only half of a long
		 * stream until the checkpoint is over) has not taken in a's send
		 * queue.
		 */
		if (ioctl(s[i].fd, SIOCINQ, &inq) || ioctl(s[i].fd, SIOCOUTQ, &outq))
			return false;
		if ((k != K_PEER_CLOSED && inq <= 0) || (k != K_LOCAL_CLOSED && outq <= 0))
			return false;
	}
	return true;
}

static int flow_of(int fd, struct soccr_flow *f)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);

	if (getsockname(fd, (struct sockaddr *)&l, &ll) ||
	    getpeername(fd, (struct sockaddr *)&p, &pl))
		return -errno;
	return soccr_flow_from_sockaddr(f, (struct sockaddr *)&l, (struct sockaddr *)&p);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Checkpoint one socket into the memfd: [u64 length][image][struct extra]. */
static int save_one(struct stream *s, int memfd, struct report *r)
{
	struct soccr_image img = {.flags = SOCCR_IMAGE_F_LOCKED};
	struct extra x = {s->tx_off, s->rx_off, s->tx_fin, s->rx_eof};
	union libsoccr_addr *la, *pa;
	struct libsoccr_sk *sk;
	char err[256];
	void *buf = NULL;
	size_t len;
	uint64_t len64;
	int ret = -1;

	sk = libsoccr_pause(s->fd);
	if (!sk) {
		fprintf(stderr, "FAIL origin %u: pause: %s\n", s->cport, strerror(errno));
		return -1;
	}
	if (libsoccr_save(sk, &img.data, sizeof(img.data)) != (int)sizeof(img.data)) {
		fprintf(stderr, "FAIL origin %u: save\n", s->cport);
		goto out;
	}
	la = libsoccr_get_addr(sk, 1, 0);
	pa = libsoccr_get_addr(sk, 0, 0);
	if (!la || !pa)
		goto out;
	img.local = *la;
	img.peer = *pa;
	img.family = la->sa.sa_family;
	img.save_time_ns = 1;
	snprintf(img.hostname, sizeof(img.hostname), "origin");
	img.recvq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, 0);
	img.sendq = libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, 0);
	if (img.data.state < 16)
		r->states[img.data.state]++;
	r->recvq += img.data.inq_len;
	r->sendq += img.data.outq_len;
	if (soccr_image_encode(&img, &buf, &len, err, sizeof(err))) {
		fprintf(stderr, "FAIL origin %u: image: %s\n", s->cport, err);
		goto out;
	}
	len64 = len;
	if (write_all(memfd, &len64, sizeof(len64)) || write_all(memfd, buf, len) ||
	    write_all(memfd, &x, sizeof(x)))
		goto out;
	ret = 0;
out:
	free(buf);
	/* Released, not resumed: closing a socket in repair mode sends nothing. */
	libsoccr_release(sk);
	close(s->fd);
	s->fd = -1;
	return ret;
}

/* L1, in ns a: connect, stream to the checkpoint moment, lock everything, save everything. */
static void origin_main(void *vctx, struct report *r)
{
	struct origin_ctx *ctx = vctx;
	struct stream *s = calloc((size_t)nconns, sizeof(*s));
	struct soccr_flow *flows = calloc((size_t)nconns, sizeof(*flows));
	uint64_t checked = 0;
	double t0;
	int i, ret;

	if (!s || !flows || tns_enter(pair.nsfd[0]))
		goto out;
	for (i = 0; i < nconns; i++) {
		int fd = socket(ctx->family, SOCK_STREAM | SOCK_CLOEXEC, 0), rcv = A_RCVBUF;

		s[i].fd = -1;
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) ||
		    connect(fd, (struct sockaddr *)&ctx->dst, ctx->dlen)) {
			fprintf(stderr, "FAIL origin: connect %d: %s\n", i, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		stream_init(&s[i], fd, port_of(fd, false), true);
		/*
		 * Nothing ends before the checkpoint, except the short streams; a
		 * writes more than the peer reads meanwhile (see peer_main()).
		 */
		if (s[i].tx_cap == total)
			s[i].tx_cap = total - total / 8;
		if (s[i].rx_cap == total)
			s[i].rx_cap = total / 2;
	}
	if (engine(s, nconns, ready, "origin", &checked))
		goto out;

	/* The checkpoint, as a checkpointing tool would do it: all flows locked in one call. */
	t0 = now_msf();
	for (i = 0; i < nconns; i++)
		if (flow_of(s[i].fd, &flows[i]))
			goto out;
	ret = soccr_lock_add_batch(lock, flows, (size_t)nconns);
	if (ret != nconns) {
		fprintf(stderr, "FAIL origin: lock %d flows: %d\n", nconns, ret);
		goto out;
	}
	for (i = 0; i < nconns; i++)
		if (save_one(&s[i], ctx->memfd, r))
			goto out;
	r->ms = now_msf() - t0;
	r->rx_checked = checked;
	r->ok = 1;
out:
	for (i = 0; s && i < nconns; i++)
		if (s[i].fd >= 0)
			close(s[i].fd);
	free(s);
	free(flows);
	tns_leave();
}

static int read_exact(int fd, void *buf, size_t len)
{
	char *b = buf;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Restore one image onto a new socket; the handle is resumed later. */
static int restore_one(struct soccr_image *img, struct libsoccr_sk **skp, int *fdp)
{
	struct libsoccr_sk *sk;
	int fd, ret;

	fd = socket(img->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sk = libsoccr_pause(fd);
	if (!sk) {
		close(fd);
		return -1;
	}
	libsoccr_set_addr(sk, 1, &img->local, 0);
	libsoccr_set_addr(sk, 0, &img->peer, 0);
	if (img->recvq)
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, img->recvq, SOCCR_MEM_EXCL);
	if (img->sendq)
		libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, img->sendq, SOCCR_MEM_EXCL);
	img->recvq = img->sendq = NULL;
	ret = libsoccr_restore(sk, &img->data, sizeof(img->data));
	if (ret) {
		fprintf(stderr, "FAIL destination: restore (state %s): %d\n",
			soccr_tcp_state_name(img->data.state), ret);
		libsoccr_release(sk);
		close(fd);
		return -1;
	}
	*skp = sk;
	*fdp = fd;
	return 0;
}

/* L2, in ns a: restore every image, resume all, unlock all, stream to the end. */
static void destination_main(void *vctx, struct report *r)
{
	int memfd = *(int *)vctx;
	struct stream *s = calloc((size_t)nconns, sizeof(*s));
	struct soccr_flow *flows = calloc((size_t)nconns, sizeof(*flows));
	struct libsoccr_sk **sks = calloc((size_t)nconns, sizeof(*sks));
	uint64_t checked = 0;
	double t0;
	int i, ret;

	if (!s || !flows || !sks || tns_enter(pair.nsfd[0]) || lseek(memfd, 0, SEEK_SET))
		goto out;
	for (i = 0; i < nconns; i++)
		s[i].fd = -1;
	t0 = now_msf();
	for (i = 0; i < nconns; i++) {
		struct soccr_image img;
		struct extra x;
		char err[256];
		uint64_t len;
		void *buf;

		if (read_exact(memfd, &len, sizeof(len)) || !len || len > SOCCR_IMAGE_MAX_SIZE)
			goto out;
		buf = malloc(len);
		if (!buf || read_exact(memfd, buf, len) || read_exact(memfd, &x, sizeof(x))) {
			free(buf);
			goto out;
		}
		ret = soccr_image_decode(buf, len, &img, err, sizeof(err));
		free(buf);
		if (ret) {
			fprintf(stderr, "FAIL destination: image %d: %s\n", i, err);
			goto out;
		}
		if (img.data.state == TCP_CLOSE_WAIT || img.data.state == TCP_FIN_WAIT2)
			r->injected++;
		if (soccr_flow_from_sockaddr(&flows[i], &img.local.sa, &img.peer.sa) ||
		    restore_one(&img, &sks[i], &s[i].fd)) {
			soccr_image_free(&img);
			goto out;
		}
		stream_init(&s[i], s[i].fd, ntohs(img.local.v4.sin_port), true);
		s[i].tx_off = x.tx_off;
		s[i].rx_off = x.rx_off;
		s[i].tx_fin = x.tx_fin;
		s[i].rx_eof = x.rx_eof;
		soccr_image_free(&img);
	}
	/* Out of repair mode while still locked (its window probe is dropped), then unlock. */
	for (i = 0; i < nconns; i++) {
		libsoccr_resume(sks[i]);
		sks[i] = NULL;
	}
	ret = soccr_lock_del_batch(lock, flows, (size_t)nconns);
	if (ret != nconns) {
		fprintf(stderr, "FAIL destination: unlock: %d\n", ret);
		goto out;
	}
	r->ms = now_msf() - t0;
	if (engine(s, nconns, NULL, "destination", &checked))
		goto out;
	r->rx_checked = checked;
	r->conns_done = (uint64_t)nconns;
	r->ok = 1;
out:
	for (i = 0; s && i < nconns; i++) {
		if (sks && sks[i])
			libsoccr_release(sks[i]);
		if (s[i].fd >= 0)
			close(s[i].fd);
	}
	free(s);
	free(flows);
	free(sks);
	tns_leave();
}

/* ---- the parent --------------------------------------------------------------------- */

/* Count RSTs, and say which flow (Ethernet + IPv4/IPv6 without extension headers). */
static void count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	uint64_t *n = (uint64_t *)user;
	char src[INET6_ADDRSTRLEN] = "?", dst[INET6_ADDRSTRLEN] = "?";
	const u_char *ip = bytes + 14, *tcp = NULL;

	if (h->caplen >= 14 + 40 && (ip[0] >> 4) == 4) {
		inet_ntop(AF_INET, ip + 12, src, sizeof(src));
		inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
		tcp = ip + (ip[0] & 0xf) * 4;
	} else if (h->caplen >= 14 + 60 && (ip[0] >> 4) == 6) {
		inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
		inet_ntop(AF_INET6, ip + 24, dst, sizeof(dst));
		tcp = ip + 40;
	}
	if (tcp && tcp + 14 <= bytes + h->caplen && *n < 10)
		fprintf(stderr, "RST %s:%u > %s:%u flags %#x seq %u\n", src, tcp[0] << 8 | tcp[1],
			dst, tcp[2] << 8 | tcp[3], tcp[13],
			(unsigned)tcp[4] << 24 | (unsigned)tcp[5] << 16 | (unsigned)tcp[6] << 8 |
				tcp[7]);
	(*n)++;
}

static uint64_t rst_count(pcap_t *cap)
{
	uint64_t n = 0;

	while (pcap_dispatch(cap, -1, count_cb, (u_char *)&n) > 0)
		;
	return n;
}

static pcap_t *rst_capture(void)
{
	char err[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	pcap_t *cap = NULL;
	bool ok = false;

	if (tns_enter(pair.nsfd[1]))
		return NULL;
	cap = pcap_create(pair.ifname[1], err);
	if (cap && !pcap_set_immediate_mode(cap, 1) && !pcap_set_snaplen(cap, 96) &&
	    !pcap_set_buffer_size(cap, 4 << 20) && pcap_activate(cap) >= 0 &&
	    pcap_compile(cap, &prog,
			 "(ip and tcp[13] & 4 != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)",
			 1, PCAP_NETMASK_UNKNOWN) >= 0) {
		ok = pcap_setfilter(cap, &prog) >= 0 && pcap_setnonblock(cap, 1, err) >= 0;
		pcap_freecode(&prog);
	}
	tns_leave();
	if (!ok && cap) {
		fprintf(stderr, "capture: %s\n", pcap_geterr(cap));
		pcap_close(cap);
		cap = NULL;
	}
	return cap;
}

static int listener(int family, struct sockaddr_storage *dst, socklen_t *dlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (tns_enter(pair.nsfd[1]))
		return -1;
	tns_addr(&pair, 1, family, 0, &ss, &len);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, nconns + 16)) {
		if (fd >= 0)
			close(fd);
		tns_leave();
		return -1;
	}
	tns_leave();
	tns_addr(&pair, 1, family, port_of(fd, false), dst, dlen);
	return fd;
}

static void run(int family)
{
	struct origin_ctx octx = {.family = family};
	struct report pr, o, d;
	int lfd, prfd = -1, orfd, drfd, ctl[2] = {-1, -1};
	pid_t ppid = -1, opid, dpid;
	uint64_t rsts = 0, rsts_origin = 0, rsts_dest = 0, bytes;
	pcap_t *cap;
	bool ok = false;

	memset(&pr, 0, sizeof(pr));
	octx.memfd = memfd_create("soccr-images", MFD_CLOEXEC);
	cap = rst_capture();
	lfd = listener(family, &octx.dst, &octx.dlen);
	if (octx.memfd < 0 || !cap || lfd < 0)
		goto out;
	if (pipe2(ctl, O_CLOEXEC | O_NONBLOCK))
		goto out;
	peer_ctl = ctl[0];
	ppid = spawn(peer_main, &lfd, &prfd);
	close(lfd);
	close(ctl[0]);
	if (ppid < 0)
		goto out;
	opid = spawn(origin_main, &octx, &orfd);
	if (opid < 0 || collect(opid, orfd, "origin", &o))
		goto out;
	rsts_origin = rst_count(cap);
	/* The checkpoint is over: the peer reads on. */
	if (write(ctl[1], "", 1) != 1)
		goto out;
	dpid = spawn(destination_main, &octx.memfd, &drfd);
	if (dpid < 0 || collect(dpid, drfd, "destination", &d))
		goto out;
	rsts_dest = rst_count(cap);
	if (collect(ppid, prfd, "peer", &pr))
		goto out;
	ppid = -1;
	rsts = rsts_origin + rsts_dest + rst_count(cap);
	bytes = pr.rx_checked + o.rx_checked + d.rx_checked;
	printf("# %s: %d connections migrated under load (%d ESTABLISHED, %d CLOSE_WAIT, "
	       "%d FIN_WAIT2 at the checkpoint; %llu + %llu bytes in receive + send queues)\n",
	       family == AF_INET ? "IPv4" : "IPv6", nconns, o.states[TCP_ESTABLISHED],
	       o.states[TCP_CLOSE_WAIT], o.states[TCP_FIN_WAIT2], (unsigned long long)o.recvq,
	       (unsigned long long)o.sendq);
	printf("# %s: lock + checkpoint %.1f ms, restore + resume + unlock %.1f ms; %llu bytes "
	       "checked end to end (peer %llu, origin %llu, destination %llu); RSTs seen: %llu\n",
	       family == AF_INET ? "IPv4" : "IPv6", o.ms, d.ms, (unsigned long long)bytes,
	       (unsigned long long)pr.rx_checked, (unsigned long long)o.rx_checked,
	       (unsigned long long)d.rx_checked, (unsigned long long)rsts);
	if (rsts) {
		fprintf(stderr,
			"FAIL: the peer's capture saw %llu RST(s) (%llu by the checkpoint's "
			"end, %llu more by the destination's)\n",
			(unsigned long long)rsts, (unsigned long long)rsts_origin,
			(unsigned long long)rsts_dest);
		goto out;
	}
	/* Every connection in the state planned, data in flight, every byte of every stream. */
	if (o.states[TCP_ESTABLISHED] + o.states[TCP_CLOSE_WAIT] + o.states[TCP_FIN_WAIT2] !=
		    nconns ||
	    !o.states[TCP_CLOSE_WAIT] || !o.states[TCP_FIN_WAIT2] || !o.sendq || !o.recvq) {
		fprintf(stderr, "FAIL: the checkpoint was not as planned\n");
		goto out;
	}
	if (pr.conns_done != (uint64_t)nconns || d.conns_done != (uint64_t)nconns)
		goto out;
	ok = true;
out:
	if (ppid > 0) {
		kill(ppid, SIGKILL);
		waitpid(ppid, NULL, 0);
	}
	if (prfd >= 0 && ppid > 0)
		close(prfd);
	if (octx.memfd >= 0)
		close(octx.memfd);
	if (ctl[1] >= 0)
		close(ctl[1]);
	if (cap)
		pcap_close(cap);
	assert_true(ok);
}

static void test_connections_migrate_under_load_intact_v4(void **state)
{
	(void)state;
	run(AF_INET);
}

static void test_connections_migrate_under_load_intact_v6(void **state)
{
	(void)state;
	run(AF_INET6);
}

static int group_teardown(void **state)
{
	(void)state;
	tns_lock_teardown(&pair, &lock, pin_dir);
	tns_pair_cleanup(&pair);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (tns_pair_setup(&pair))
		return -1;
	/* What the lock dropped is retransmitted sooner with a small minimum RTO. */
	for (int s = 0; s < 2; s++)
		tns_sh(pair.ns[s], "sysctl -qw net.ipv4.tcp_rto_min_us=20000 2>/dev/null");
	if (tns_lock_setup(&pair, "load", &lock, pin_dir, sizeof(pin_dir))) {
		tns_pair_cleanup(&pair);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connections_migrate_under_load_intact_v4),
		cmocka_unit_test(test_connections_migrate_under_load_intact_v6),
	};
	const char *n = getenv("SOCCR_MIGRATE_CONNS"), *b = getenv("SOCCR_MIGRATE_BYTES");
	struct rlimit rl;
	cpu_set_t rl_cpus;

	tns_require_root();
	/* The first CPU this process may run on (see spawn()). */
	if (sched_getaffinity(0, sizeof(rl_cpus), &rl_cpus))
		return 1;
	CPU_ZERO(&one_cpu);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &rl_cpus)) {
			CPU_SET(c, &one_cpu);
			break;
		}
	nconns = n && atoi(n) > 0 ? atoi(n) : DEFAULT_CONNS;
	total = b && atoll(b) > 0 ? (uint64_t)atoll(b) : DEFAULT_BYTES;
	/* Each process holds nconns sockets (and the peer one more). */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)nconns + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	libsoccr_set_log(SOCCR_LOG_ERR, log_cb);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
