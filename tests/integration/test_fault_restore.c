// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault injection on the restore path: every call of every interposed
 * function (tests/fault/shim.c) that libsoccr_pause() + libsoccr_set_addr()
 * + libsoccr_set_queue_bytes() + libsoccr_restore() make is failed in turn,
 * for an ESTABLISHED connection (queues both ways, part of the send queue
 * never sent) and for CLOSE_WAIT ones (the peer's FIN is injected: route
 * lookup, AF_PACKET injector, tc bypass program), IPv4 and IPv6.
 *
 * Layout: a tns pair; the connection a <-> b is checkpointed in ns a under
 * the network lock (soccr_lock_*, attached in ns a), the original socket
 * closed in repair mode. Then, for function F and N = 1, 2, ...: a child
 * process (fresh: the library's per-process injection path cache starts
 * empty) restores the checkpoint onto a new socket with F's N-th call
 * failing, until a run in which F is called fewer than N times. For every
 * failure point:
 *  - no crash, and in the SAN build no ASan/UBSan report and no leak (LSan
 *    runs at the child's exit; the queue and address buffers are handed to
 *    the library with SOCCR_MEM_EXCL, so it must free them);
 *  - the API reports an error (or, when the failure is one the library may
 *    tolerate, the restore is complete: state, both sequence numbers);
 *  - right after a failed restore the socket is still in repair mode (the
 *    contract of <soccr/soccr.h>), and after libsoccr_resume() it is not;
 *  - nothing reaches the peer: a capture on the peer's device sees no
 *    segment of the flow during the whole loop.
 * Finally the parent restores for real, resumes, unlocks, and both byte
 * streams must complete intact (pattern with offsets), with no RST seen by
 * the peer. The count of failure points is printed per scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <execinfo.h>
#include <linux/sockios.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "../fault/fault.h"
#include "tns.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/*
 * libbpf's print hook, declared by hand: <bpf/libbpf.h> pulls in
 * <linux/bpf.h>, whose struct bpf_insn clashes with <pcap/pcap.h>'s. The
 * level is an enum (an int) in libbpf.
 */
typedef int (*libbpf_print_fn)(int level, const char *fmt, va_list ap);
libbpf_print_fn libbpf_set_print(libbpf_print_fn fn);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SEED_A	0xfa170a
#define SEED_B	0xfa170b
#define B_BYTES 30000  /* the peer's bytes waiting in a's receive queue */
#define A_BYTES 200000 /* a's bytes written under the lock: sent (dropped) + unsent */
#define EXTRA	10000  /* written each way after the restore */
#define WAIT_MS 10000
/* A loop that never ends would be a bug in the seam or the library: stop it. */
#define MAX_CALLS 100000

static const char *const funcs[] = {
	"socket",   "setsockopt", "getsockopt", "bind",	  "connect",  "send",
	"sendto",   "sendmsg",	  "sendmmsg",	"recv",	  "recvfrom", "recvmsg",
	"shutdown", "ioctl",	  "bpf",	"malloc", "calloc",   "realloc",
};

static struct tns_pair pair;
static struct soccr_lock *lock;
static char pin_dir[64];

/* The connection under test. */
struct conn {
	const char *name;
	int family;
	bool close_wait;
	int a, b; /* a: the restored side (ns a); b: the peer (ns b) */
	struct soccr_flow flow;
	bool locked, b_drops;
	pcap_t *cap;
	uint64_t a_sent, b_sent; /* pattern offsets: bytes written by each side */
	struct libsoccr_sk_data data;
	char *rq, *sq;
	union libsoccr_addr la, pa;
};

/* What a child reports about one failure point. */
struct result {
	unsigned long calls; /* calls of the function during the operation */
	unsigned long fired;
	int ret;       /* libsoccr_restore()'s return (or 1: pause failed) */
	char err[256]; /* a check that failed, empty if none */
	char log[256]; /* the library's first error line */
	bool reentry;  /* failed to re-enter repair mode (see restore_once()) */
};

static char first_log[256];

static void log_cb(unsigned int level, const char *fmt, ...)
{
	va_list ap;

	/* Our own printing is not the library's: keep it out of the counts. */
	fault_suspend(1);
	va_start(ap, fmt);
	if (!first_log[0] && level == SOCCR_LOG_ERR)
		vsnprintf(first_log, sizeof(first_log), fmt, ap);
	va_end(ap);
	if (getenv("SOCCR_TEST_DEBUG")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fault_suspend(0);
}

static int libbpf_quiet(int level, const char *fmt, va_list ap)
{
	(void)level;
	if (!getenv("SOCCR_TEST_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int repair_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &v, &len))
		return -errno;
	return v;
}

static int outq(int fd)
{
	int v = -1;

	ioctl(fd, SIOCOUTQ, &v);
	return v;
}

static int wait_for(int fd, int state, int queue_empty)
{
	uint64_t end = now_ms() + WAIT_MS;

	while ((state && tns_tcp_state(fd) != state) || (queue_empty && outq(fd) != 0)) {
		if (now_ms() > end)
			return -1;
		usleep(1000);
	}
	return 0;
}

/* ---- capture in the peer's namespace ----------------------------------------------- */

static void count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)h;
	(void)bytes;
	(*(int *)user)++;
}

static int capture_count(pcap_t *cap)
{
	int n = 0;

	while (pcap_dispatch(cap, -1, count_cb, (u_char *)&n) > 0)
		;
	return n;
}

static int capture_filter(struct conn *c, bool rst_only)
{
	char filter[256];
	struct bpf_program prog;
	int ret;

	if (rst_only)
		snprintf(filter, sizeof(filter),
			 "tcp port %u and ((ip and tcp[13] & 4 != 0) or "
			 "(ip6 and ip6[6] == 6 and ip6[53] & 4 != 0))",
			 c->flow.sport);
	else
		snprintf(filter, sizeof(filter), "tcp src port %u", c->flow.sport);
	if (pcap_compile(c->cap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return -1;
	ret = pcap_setfilter(c->cap, &prog);
	pcap_freecode(&prog);
	return ret < 0 ? -1 : 0;
}

static int capture_start(struct conn *c)
{
	char err[PCAP_ERRBUF_SIZE];
	int ret = -1;

	if (tns_enter(pair.nsfd[1]))
		return -1;
	c->cap = pcap_create(pair.ifname[1], err);
	if (c->cap && !pcap_set_immediate_mode(c->cap, 1) && !pcap_set_snaplen(c->cap, 128) &&
	    pcap_activate(c->cap) >= 0 && !capture_filter(c, false) &&
	    !pcap_setdirection(c->cap, PCAP_D_IN) && pcap_setnonblock(c->cap, 1, err) >= 0)
		ret = 0;
	tns_leave();
	if (ret && c->cap)
		fprintf(stderr, "capture: %s\n", pcap_geterr(c->cap));
	return ret;
}

/* ---- the connection ------------------------------------------------------------------ */

static int push(int fd, uint64_t *off, uint32_t seed, size_t len)
{
	char buf[16384];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		tns_pattern(buf, n, *off, seed);
		if (tns_write_all(fd, buf, n, WAIT_MS))
			return -1;
		*off += n;
		len -= n;
	}
	return 0;
}

/* Write up to len bytes without blocking: what the socket takes. */
static void push_some(int fd, uint64_t *off, uint32_t seed, size_t len)
{
	char buf[16384];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t w;

		tns_pattern(buf, n, *off, seed);
		w = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w <= 0)
			return;
		*off += (uint64_t)w;
		len -= (size_t)w;
	}
}

static void b_drops_off(struct conn *c)
{
	if (c->b_drops)
		tns_sh(pair.ns[1], "nft delete table inet fr%u", c->flow.sport);
	c->b_drops = false;
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

/*
 * a <-> b with b's bytes waiting unread in a (and b's FIN for CLOSE_WAIT),
 * all acknowledged; then the lock, then a writes: what leaves is dropped
 * (sent, unacked), the rest stays unsent.
 */
static int prepare(struct conn *c)
{
	int small = 32 * 1024;

	if (tns_tcp_connect(&pair, c->family, false, &c->a, &c->b))
		return -1;
	setsockopt(c->b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (flow_of(c->a, &c->flow))
		return -1;
	if (push(c->b, &c->b_sent, SEED_B, B_BYTES))
		return -1;
	if (c->close_wait) {
		shutdown(c->b, SHUT_WR);
		if (wait_for(c->a, TCP_CLOSE_WAIT, 0))
			return -1;
	}
	/* Everything b sent is acked, so b has nothing to retransmit while locked. */
	if (wait_for(c->b, 0, 1))
		return -1;
	/*
	 * b drops what a sends now (nftables, input): a's data leaves (sent)
	 * but is never acked. Then the lock; then b takes input again. (Data
	 * written after the lock would not count as sent: a tc drop on the way
	 * out is an error for TCP, which keeps the data unsent.)
	 */
	if (tns_sh(pair.ns[1],
		   "nft \"add table inet fr%u; "
		   "add chain inet fr%u i { type filter hook input priority -10; }; "
		   "add rule inet fr%u i tcp sport %u tcp dport %u drop\"",
		   c->flow.sport, c->flow.sport, c->flow.sport, c->flow.sport, c->flow.dport))
		return -1;
	c->b_drops = true;
	push_some(c->a, &c->a_sent, SEED_A, A_BYTES);
	usleep(20000);
	if (soccr_lock_add(lock, &c->flow))
		return -1;
	c->locked = true;
	b_drops_off(c);
	return capture_start(c);
}

static int checkpoint(struct conn *c)
{
	struct libsoccr_sk *sk;
	union libsoccr_addr *la, *pa;
	int ret;

	if (tns_enter(pair.nsfd[0]))
		return -1;
	sk = libsoccr_pause(c->a);
	if (!sk)
		goto fail;
	ret = libsoccr_save(sk, &c->data, sizeof(c->data));
	if (ret != (int)sizeof(c->data)) {
		fprintf(stderr, "save: %d\n", ret);
		libsoccr_release(sk);
		goto fail;
	}
	c->rq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	c->sq = libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	la = libsoccr_get_addr(sk, 1, 0);
	pa = libsoccr_get_addr(sk, 0, 0);
	if (!la || !pa) {
		libsoccr_release(sk);
		goto fail;
	}
	c->la = *la;
	c->pa = *pa;
	/* Closed in repair mode: nothing is sent. */
	close(c->a);
	c->a = -1;
	libsoccr_release(sk);
	tns_leave();
	return 0;
fail:
	tns_leave();
	return -1;
}

static char *dup_bytes(const void *p, size_t len)
{
	char *d;

	if (!p || !len)
		return NULL;
	d = malloc(len);
	if (d)
		memcpy(d, p, len);
	return d;
}

/* Check a socket restored from c->data, still in repair mode. Returns NULL or what is wrong. */
static const char *check_restored(struct conn *c, int fd, char *why, size_t len)
{
	uint32_t seq;

	if (tns_tcp_state(fd) != (int)c->data.state) {
		snprintf(why, len, "restored state %d, saved %u", tns_tcp_state(fd), c->data.state);
		return why;
	}
	if (tns_queue_seq(fd, TCP_RECV_QUEUE, &seq) || seq != c->data.inq_seq) {
		snprintf(why, len, "rcv_nxt %u, saved %u", seq, c->data.inq_seq);
		return why;
	}
	if (tns_queue_seq(fd, TCP_SEND_QUEUE, &seq) || seq != c->data.outq_seq) {
		snprintf(why, len, "write_seq %u, saved %u", seq, c->data.outq_seq);
		return why;
	}
	return NULL;
}

/*
 * One restore onto a new socket, with spec armed from libsoccr_pause() to the
 * end of libsoccr_restore(). Run in a child; fills r.
 */
static void restore_once(struct conn *c, const char *func, const char *spec, struct result *r)
{
	union libsoccr_addr *la = malloc(sizeof(*la)), *pa = malloc(sizeof(*pa));
	char *rq = dup_bytes(c->rq, c->data.inq_len), *sq = dup_bytes(c->sq, c->data.outq_len);
	struct libsoccr_sk *sk;
	int fd, rep;

	memset(r, 0, sizeof(*r));
	if (!la || !pa || (c->data.inq_len && !rq) || (c->data.outq_len && !sq) ||
	    tns_enter(pair.nsfd[0])) {
		snprintf(r->err, sizeof(r->err), "child set-up");
		goto out_free;
	}
	*la = c->la;
	*pa = c->pa;
	fd = socket(c->la.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(r->err, sizeof(r->err), "socket: %s", strerror(errno));
		goto out_free;
	}
	first_log[0] = '\0';
	if (fault_arm(spec)) {
		snprintf(r->err, sizeof(r->err), "bad spec %s", spec);
		goto out_close;
	}
	sk = libsoccr_pause(fd);
	if (sk) {
		/* The buffers are the library's from here on (SOCCR_MEM_EXCL). */
		libsoccr_set_addr(sk, 1, la, SOCCR_MEM_EXCL);
		libsoccr_set_addr(sk, 0, pa, SOCCR_MEM_EXCL);
		la = pa = NULL;
		if (rq)
			libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, rq, SOCCR_MEM_EXCL);
		if (sq)
			libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, sq, SOCCR_MEM_EXCL);
		rq = sq = NULL;
		r->ret = libsoccr_restore(sk, &c->data, sizeof(c->data));
	} else {
		r->ret = 1;
	}
	fault_disarm();
	r->calls = fault_count(func);
	r->fired = fault_fired();
	snprintf(r->log, sizeof(r->log), "%s", first_log);
	r->log[strcspn(r->log, "\n")] = '\0';

	if (!sk) {
		if (!r->fired)
			snprintf(r->err, sizeof(r->err), "pause failed without a fault");
		else if (repair_of(fd) != 0)
			snprintf(r->err, sizeof(r->err), "failed pause left TCP_REPAIR %d",
				 repair_of(fd));
		goto out_close;
	}
	rep = repair_of(fd);
	/*
	 * Known gap (reported): the unsent part of the send queue is written
	 * outside repair mode (as CRIU does); when turning repair mode back on
	 * fails, the restore fails with the socket out of repair mode. Only that
	 * exact failure is let through, and counted.
	 */
	r->reentry = r->ret && rep == 0 && strstr(r->log, ": TCP_REPAIR 1: ");
	if (r->ret && !r->fired)
		snprintf(r->err, sizeof(r->err), "restore returned %d without a fault", r->ret);
	else if (rep != 1 && !r->reentry)
		snprintf(r->err, sizeof(r->err), "TCP_REPAIR %d after restore returned %d", rep,
			 r->ret);
	else if (!r->ret)
		check_restored(c, fd, r->err, sizeof(r->err));
	libsoccr_resume(sk);
	rep = repair_of(fd);
	if (rep != 0 && !r->err[0])
		snprintf(r->err, sizeof(r->err), "TCP_REPAIR %d after libsoccr_resume", rep);
	/* Back into repair mode, so that closing sends nothing (the lock would drop it anyway). */
	tns_repair(fd, 1);
out_close:
	close(fd);
out_free:
	free(la);
	free(pa);
	free(rq);
	free(sq);
}

/* A crash in a child: say where, then die of the signal for the parent to see. */
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

static void child_init(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

	/*
	 * cmocka catches these to go on with the next test (which the child
	 * would then run as if it were the parent): a crash must kill it.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], on_crash);
}

/*
 * _exit(): exit() would run the parent's atexit handlers (tns deletes the
 * namespaces there). So LeakSanitizer is asked here; it makes the child
 * exit non-zero if anything leaked.
 */
static void child_exit(int status)
{
	fflush(NULL);
#ifdef __SANITIZE_ADDRESS__
	__lsan_do_leak_check();
#endif
	_exit(status);
}

/* Run restore_once() in a child; 0 and r, or -1 (the child crashed or leaked). */
static int run_child(struct conn *c, const char *func, unsigned long n, struct result *r)
{
	char spec[64];
	int pfd[2], st;
	pid_t pid;
	ssize_t got;

	snprintf(spec, sizeof(spec), "%s:%lu", func, n);
	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct result res;

		child_init();
		close(pfd[0]);
		restore_once(c, func, spec, &res);
		if (write(pfd[1], &res, sizeof(res)) != sizeof(res))
			_exit(99);
		close(pfd[1]);
		child_exit(0);
	}
	close(pfd[1]);
	got = read(pfd[0], r, sizeof(*r));
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "FAIL %s %s: child %s %d\n", c->name, spec,
			WIFSIGNALED(st) ? "killed by signal" : "exited with",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return -1;
	}
	if (got != (ssize_t)sizeof(*r)) {
		fprintf(stderr, "FAIL %s %s: no report from the child\n", c->name, spec);
		return -1;
	}
	return 0;
}

/* ---- after the loop: the real restore, and the connection must still be whole --------- */

struct dir {
	int wfd, rfd;
	uint64_t *woff, wend;
	bool wfin, eof;
	uint64_t roff;
	uint32_t seed;
};

static int step(struct dir *d, short rev, short wev)
{
	char buf[65536], want[65536];
	ssize_t n;

	if ((wev & POLLOUT) && !d->wfin) {
		size_t len = d->wend - *d->woff > sizeof(buf) ? sizeof(buf) : d->wend - *d->woff;

		tns_pattern(buf, len, *d->woff, d->seed);
		n = len ? send(d->wfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n > 0)
			*d->woff += (uint64_t)n;
		if (*d->woff == d->wend) {
			if (shutdown(d->wfd, SHUT_WR))
				return -1;
			d->wfin = true;
		}
	}
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(d->rfd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			fprintf(stderr, "read at %llu: %s\n", (unsigned long long)d->roff,
				strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (!d->wfin || d->roff != *d->woff) {
				fprintf(stderr, "EOF at %llu of %llu\n",
					(unsigned long long)d->roff, (unsigned long long)*d->woff);
				return -1;
			}
			d->eof = true;
		}
		if (n > 0) {
			tns_pattern(want, (size_t)n, d->roff, d->seed);
			if (d->roff + (uint64_t)n > *d->woff || memcmp(buf, want, (size_t)n)) {
				fprintf(stderr, "%zd bytes at %llu differ or exceed %llu written\n",
					n, (unsigned long long)d->roff,
					(unsigned long long)*d->woff);
				return -1;
			}
			d->roff += (uint64_t)n;
		}
	}
	return 0;
}

/* Both streams to the end: a's (queued, then EXTRA more) and b's (queued, then more unless FIN'd).
 */
static int exchange(struct conn *c)
{
	struct dir d[2] = {
		{.wfd = c->a,
		 .rfd = c->b,
		 .woff = &c->a_sent,
		 .wend = c->a_sent + EXTRA,
		 .seed = SEED_A},
		{.wfd = c->b,
		 .rfd = c->a,
		 .woff = &c->b_sent,
		 .wend = c->b_sent + (c->close_wait ? 0 : EXTRA),
		 .wfin = c->close_wait,
		 .seed = SEED_B},
	};
	uint64_t end = now_ms() + WAIT_MS;

	while (!d[0].eof || !d[1].eof) {
		struct pollfd pfd[2] = {{.fd = c->a, .events = POLLIN},
					{.fd = c->b, .events = POLLIN}};

		if (!d[0].wfin)
			pfd[0].events |= POLLOUT;
		if (!d[1].wfin)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, 100) < 0)
			return -1;
		if (step(&d[0], pfd[1].revents, pfd[0].revents) ||
		    step(&d[1], pfd[0].revents, pfd[1].revents))
			return -1;
		if (now_ms() > end) {
			fprintf(stderr, "stalled: a->b %llu/%llu, b->a %llu/%llu\n",
				(unsigned long long)d[0].roff, (unsigned long long)c->a_sent,
				(unsigned long long)d[1].roff, (unsigned long long)c->b_sent);
			return -1;
		}
	}
	return 0;
}

static int restore_for_real(struct conn *c)
{
	struct libsoccr_sk *sk;
	union libsoccr_addr la = c->la, pa = c->pa;
	int fd, ret;

	if (tns_enter(pair.nsfd[0]))
		return -1;
	fd = socket(c->la.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sk = fd >= 0 ? libsoccr_pause(fd) : NULL;
	if (!sk) {
		tns_leave();
		return -1;
	}
	c->a = fd;
	libsoccr_set_addr(sk, 1, &la, 0);
	libsoccr_set_addr(sk, 0, &pa, 0);
	if (c->rq)
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, c->rq, SOCCR_MEM_EXCL);
	if (c->sq)
		libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, c->sq, SOCCR_MEM_EXCL);
	c->rq = c->sq = NULL;
	ret = libsoccr_restore(sk, &c->data, sizeof(c->data));
	if (ret) {
		libsoccr_release(sk);
		tns_leave();
		fprintf(stderr, "final restore: %d (%s)\n", ret, first_log);
		return -1;
	}
	libsoccr_resume(sk);
	tns_leave();
	return 0;
}

/* The real restore, the unlock, and the whole of both streams; 0 or 1. */
static int final_phase(struct conn *c)
{
	int seen;

	if (restore_for_real(c))
		return 1;
	if (soccr_lock_del(lock, &c->flow))
		return 1;
	if (exchange(c))
		return 1;
	seen = capture_count(c->cap);
	if (seen) {
		fprintf(stderr, "FAIL %s: the peer saw %d RST(s)\n", c->name, seen);
		return 1;
	}
	printf("# %s: restored after the faults, %llu + %llu bytes checked end to end, 0 RST\n",
	       c->name, (unsigned long long)c->a_sent, (unsigned long long)c->b_sent);
	if (c->a >= 0)
		close(c->a);
	return 0;
}

static void conn_cleanup(struct conn *c)
{
	b_drops_off(c);
	if (c->locked)
		soccr_lock_del(lock, &c->flow);
	if (c->a >= 0)
		close(c->a);
	if (c->b >= 0)
		close(c->b);
	if (c->cap)
		pcap_close(c->cap);
	free(c->rq);
	free(c->sq);
}

static void run_scenario(const char *name, int family, bool close_wait)
{
	struct conn c = {
		.name = name, .family = family, .close_wait = close_wait, .a = -1, .b = -1};
	unsigned long points = 0, tolerated = 0, reentry = 0;
	char calls[1024] = "";
	bool ok = false;
	int seen, st;
	pid_t pid;

	if (prepare(&c) || checkpoint(&c)) {
		fprintf(stderr, "FAIL %s: set-up\n", name);
		goto out;
	}
	if ((int)c.data.state != (close_wait ? TCP_CLOSE_WAIT : TCP_ESTABLISHED) ||
	    !c.data.inq_len || !c.data.unsq_len || c.data.unsq_len == c.data.outq_len) {
		/* The plan: data in a's receive queue, and in its send queue sent and unsent. */
		fprintf(stderr,
			"FAIL %s: checkpoint not as planned: state %u inq %u outq %u "
			"unsent %u\n",
			name, c.data.state, c.data.inq_len, c.data.outq_len, c.data.unsq_len);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++) {
		unsigned long n;
		struct result r;

		for (n = 1; n <= MAX_CALLS; n++) {
			if (run_child(&c, funcs[i], n, &r))
				goto out;
			if (r.err[0]) {
				fprintf(stderr, "FAIL %s %s:%lu: %s (restore %d; log: %s)\n", name,
					funcs[i], n, r.err, r.ret, r.log);
				goto out;
			}
			if (!r.fired)
				break;
			points++;
			if (!r.ret)
				tolerated++;
			if (r.reentry)
				reentry++;
			seen = capture_count(c.cap);
			if (seen) {
				fprintf(stderr,
					"FAIL %s %s:%lu: %d segment(s) of the flow reached "
					"the peer\n",
					name, funcs[i], n, seen);
				goto out;
			}
		}
		if (n > MAX_CALLS) {
			fprintf(stderr, "FAIL %s: %s called over %d times\n", name, funcs[i],
				MAX_CALLS);
			goto out;
		}
		if (r.calls)
			snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), " %s=%lu",
				 funcs[i], r.calls);
	}
	printf("# %s: %lu failure points injected (%lu tolerated with the restore complete, "
	       "%lu left the socket out of repair mode: re-entry failed); calls per restore:%s\n",
	       name, points, tolerated, reentry, calls);

	/* Now for real: restore, resume, unlock; the peer must see the connection whole. */
	seen = capture_count(c.cap);
	if (seen || capture_filter(&c, true) || pcap_setdirection(c.cap, PCAP_D_INOUT)) {
		fprintf(stderr, "FAIL %s: %d segment(s) reached the peer\n", name, seen);
		goto out;
	}
	/*
	 * In a child too: the library's injection path cache must stay empty in
	 * this process, so that every child of the next scenario sets it up.
	 */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		goto out;
	if (!pid) {
		child_init();
		child_exit(final_phase(&c));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "FAIL %s: the restore after the faults failed\n", name);
		goto out;
	}
	c.locked = false;
	ok = true;
out:
	conn_cleanup(&c);
	assert_true(ok);
}

static void test_restore_established_v4_fails_cleanly_at_every_call(void **state)
{
	(void)state;
	run_scenario("ESTABLISHED v4", AF_INET, false);
}

static void test_restore_close_wait_v4_fails_cleanly_at_every_call(void **state)
{
	(void)state;
	run_scenario("CLOSE_WAIT v4", AF_INET, true);
}

static void test_restore_close_wait_v6_fails_cleanly_at_every_call(void **state)
{
	(void)state;
	run_scenario("CLOSE_WAIT v6", AF_INET6, true);
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
	/* The restored sockets retransmit what the lock dropped: sooner with a small RTO. */
	for (int s = 0; s < 2; s++)
		tns_sh(pair.ns[s], "sysctl -qw net.ipv4.tcp_rto_min_us=20000 2>/dev/null");
	if (tns_lock_setup(&pair, "fault", &lock, pin_dir, sizeof(pin_dir))) {
		tns_pair_cleanup(&pair);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_established_v4_fails_cleanly_at_every_call),
		cmocka_unit_test(test_restore_close_wait_v4_fails_cleanly_at_every_call),
		cmocka_unit_test(test_restore_close_wait_v6_fails_cleanly_at_every_call),
	};

	(void)argc;
	tns_require_root();
	if (fault_load(argv))
		return 1;
	/* libbpf's and libelf's own out-of-memory paths are theirs (tests/fault/README.md). */
	if (fault_skip_alloc("libbpf.so,libelf.so") <= 0) {
		fprintf(stderr, "fault: libbpf/libelf code not found\n");
		return 1;
	}
	libsoccr_set_log(SOCCR_LOG_ERR, log_cb);
	libbpf_set_print(libbpf_quiet);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
