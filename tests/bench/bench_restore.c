// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * restore_half_closed: restoring TCP sockets from their saved state.
 *
 *   floor  the bare TCP_REPAIR sequence of an ESTABLISHED socket with empty
 *          queues: socket, TCP_REPAIR on, both queue sequences, bind,
 *          connect, TCP_REPAIR_OPTIONS, TCP_TIMESTAMP, TCP_REPAIR_WINDOW,
 *          TCP_REPAIR off. Nothing more can be skipped.
 *
 * Set-up (not timed), per round: two network namespaces joined by a veth
 * pair (tests/lib/tns.h); N real connections from side a to a listener in
 * side b. Each client is saved (repair mode) and closed while still in
 * repair mode, which the kernel does silently: its peer in b stays as it
 * was, and the restored socket takes over the same 4-tuple and sequence
 * numbers, so what the restored socket sends afterwards (the window probe
 * of TCP_REPAIR off) meets a real, consistent peer. Restored sockets are
 * checked (state, sequence numbers) after the timed part, then everything
 * is closed with an abortive close (no TIME_WAIT left behind).
 *
 * Env: BENCH_ROUNDS (11), BENCH_RESTORE_N (sockets per round, 10000).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include <soccr/soccr.h>

#include "bench.h"
#include "tns.h"

#define PREFIX "restore"
#define CLIENT_PORT0 20000	/* clients bind explicit ports: no ephemeral search */
#define LISTEN_PORT0 6000	/* one listener port per round: 4-tuples never repeat */

#ifndef TCPOPT_SACK_PERMITTED
#define TCPOPT_SACK_PERMITTED 4
#endif

/* What the floor saves of an ESTABLISHED socket, with no queue contents. */
struct floor_img {
	union libsoccr_addr local, peer;
	socklen_t alen;
	uint32_t rcv_seq, snd_seq;	/* rcv_nxt, write_seq (queues are empty) */
	uint32_t mss, ts;
	uint8_t opts, snd_wscale, rcv_wscale;
	struct tcp_repair_window win;
};

struct conn {
	int fd;				/* the restored socket in side a, or -1 */
	struct floor_img img;
};

static struct tns_pair pair;

static int repair(int fd, int on)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
}

static int set_int(int fd, int opt, int val)
{
	return setsockopt(fd, IPPROTO_TCP, opt, &val, sizeof(val));
}

static void abortive_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/*
 * The peers live in a child process in side b, as on a remote host: it
 * listens, accepts the n connections, acts on each (peer_act: write data,
 * shut down), reports 'R'eady, and on the parent's word closes them all
 * abortively and exits. A process of its own also keeps the file descriptors
 * of both sides within RLIMIT_NOFILE.
 */
struct peer_proc {
	pid_t pid;
	int cmd;	/* parent -> child */
	int ev;		/* child -> parent */
};

/* What the peer of connection idx does once accepted (NULL: nothing). */
typedef void (*peer_act_fn)(int fd, int idx);

static void child_die(const char *what)
{
	/* _exit: never run the parent's atexit handlers (they delete the namespaces). */
	fprintf(stderr, "%s: peer: %s: %s\n", bench_prog, what, strerror(errno));
	_exit(1);
}

static void peer_child(int lport, int port0, int n, peer_act_fn act, int cmd, int ev)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, one = 1, *fds;
	char c;
	FILE *f;

	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		child_die("calloc");
	if (tns_enter(pair.nsfd[1]))
		child_die("enter netns b");
	/* Our own namespace: let the accept queue hold a whole round. */
	f = fopen("/proc/sys/net/core/somaxconn", "we");
	if (f) {
		fprintf(f, "%d\n", n + 128);
		fclose(f);
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		child_die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	tns_addr(&pair, 1, AF_INET, (uint16_t)lport, &ss, &len);
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, n + 128))
		child_die("listener");
	if (write(ev, "L", 1) != 1)
		child_die("write");
	for (int i = 0; i < n; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		int idx;

		if (fd < 0)
			child_die("accept");
		idx = ntohs(peer.sin_port) - port0;
		if (idx < 0 || idx >= n || fds[idx])
			child_die("unexpected client port");
		fds[idx] = fd;
	}
	close(lfd);
	for (int i = 0; i < n && act; i++)
		act(fds[i], i);
	if (write(ev, "R", 1) != 1)
		child_die("write");
	if (read(cmd, &c, 1) < 0)
		child_die("read");
	for (int i = 0; i < n; i++)
		abortive_close(fds[i]);
	_exit(0);
}

static void peer_wait_ev(struct peer_proc *pp, char want)
{
	char c = 0;

	if (read(pp->ev, &c, 1) != 1 || c != want) {
		fprintf(stderr, "%s: peer process failed\n", bench_prog);
		exit(1);
	}
}

static void peer_start(struct peer_proc *pp, int lport, int port0, int n, peer_act_fn act)
{
	int cmd[2], ev[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ev, O_CLOEXEC))
		bench_die("pipe", errno);
	fflush(NULL);
	pp->pid = fork();
	if (pp->pid < 0)
		bench_die("fork", errno);
	if (!pp->pid) {
		close(cmd[1]);
		close(ev[0]);
		peer_child(lport, port0, n, act, cmd[0], ev[1]);
	}
	close(cmd[0]);
	close(ev[1]);
	pp->cmd = cmd[1];
	pp->ev = ev[0];
	peer_wait_ev(pp, 'L');
}

/* Tell the peers to go (abortively) and reap the process. */
static void peer_stop(struct peer_proc *pp)
{
	int st;

	if (write(pp->cmd, "C", 1) != 1)
		bench_die("write", errno);
	close(pp->cmd);
	close(pp->ev);
	if (waitpid(pp->pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: peer process failed\n", bench_prog);
		exit(1);
	}
}

/* Client port of side a to the listener of side b. The caller is in side a. */
static int connect_one(int lport, int port)
{
	struct sockaddr_storage local, remote;
	socklen_t llen, rlen;
	int fd, one = 1;

	tns_addr(&pair, 0, AF_INET, (uint16_t)port, &local, &llen);
	tns_addr(&pair, 1, AF_INET, (uint16_t)lport, &remote, &rlen);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&local, llen))
		bench_die("bind client", errno);
	if (connect(fd, (struct sockaddr *)&remote, rlen))
		bench_die("connect", errno);
	return fd;
}

/* ---- the floor --------------------------------------------------------------------------- */

static void floor_save(int fd, struct floor_img *img)
{
	struct tcp_info ti;
	socklen_t len;
	int q;

	memset(img, 0, sizeof(*img));
	if (repair(fd, 1))
		bench_die("TCP_REPAIR on", errno);
	len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		bench_die("TCP_INFO", errno);
	if (ti.tcpi_state != TCP_ESTABLISHED)
		bench_die("source connection not ESTABLISHED", EINVAL);
	img->opts = ti.tcpi_options;
	img->snd_wscale = ti.tcpi_snd_wscale;
	img->rcv_wscale = ti.tcpi_rcv_wscale;
	len = sizeof(img->local);
	if (getsockname(fd, &img->local.sa, &len))
		bench_die("getsockname", errno);
	img->alen = len;
	len = sizeof(img->peer);
	if (getpeername(fd, &img->peer.sa, &len))
		bench_die("getpeername", errno);
	q = TCP_RECV_QUEUE;
	len = sizeof(img->rcv_seq);
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &img->rcv_seq, &len))
		bench_die("TCP_QUEUE_SEQ recv", errno);
	q = TCP_SEND_QUEUE;
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &img->snd_seq, &len))
		bench_die("TCP_QUEUE_SEQ send", errno);
	len = sizeof(img->mss);
	if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &img->mss, &len))
		bench_die("TCP_MAXSEG", errno);
	len = sizeof(img->ts);
	if ((img->opts & TCPI_OPT_TIMESTAMPS) &&
	    getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &img->ts, &len))
		bench_die("TCP_TIMESTAMP", errno);
	len = sizeof(img->win);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &img->win, &len))
		bench_die("TCP_REPAIR_WINDOW", errno);
}

/* The timed part: returns the restored socket, out of repair mode. */
static int floor_restore(const struct floor_img *img)
{
	struct tcp_repair_opt opts[4];
	int fd, n = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die("socket", errno);
	if (repair(fd, 1))
		bench_die("TCP_REPAIR on", errno);
	if (set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &img->rcv_seq, sizeof(img->rcv_seq)) ||
	    set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &img->snd_seq, sizeof(img->snd_seq)))
		bench_die("TCP_QUEUE_SEQ", errno);
	if (bind(fd, &img->local.sa, img->alen))
		bench_die("bind", errno);
	/* In repair mode connect() sends no SYN: the socket is ESTABLISHED at once. */
	if (connect(fd, &img->peer.sa, img->alen))
		bench_die("connect", errno);
	if (img->opts & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (img->opts & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
						     img->snd_wscale | (uint32_t)img->rcv_wscale << 16 };
	if (img->opts & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	opts[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, img->mss };
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, (socklen_t)(n * sizeof(opts[0]))))
		bench_die("TCP_REPAIR_OPTIONS", errno);
	if ((img->opts & TCPI_OPT_TIMESTAMPS) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &img->ts, sizeof(img->ts)))
		bench_die("TCP_TIMESTAMP", errno);
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &img->win, sizeof(img->win)))
		bench_die("TCP_REPAIR_WINDOW", errno);
	if (repair(fd, 0))
		bench_die("TCP_REPAIR off", errno);
	return fd;
}

/* The restored socket must be ESTABLISHED with the saved sequence numbers. */
static void floor_check(const struct conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		bench_die("TCP_INFO", errno);
	if (ti.tcpi_state != TCP_ESTABLISHED) {
		fprintf(stderr, "%s: floor: restored socket in state %u\n", bench_prog,
			ti.tcpi_state);
		exit(1);
	}
}

/*
 * One floor round: n fresh connections (client ports from port0), saved and
 * closed in repair mode; then the timed restores. Returns ns for all n.
 */
static double floor_round(struct conn *c, int n, int lport, int port0)
{
	struct peer_proc pp;
	uint64_t t0, t;
	int *fds;

	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		bench_die("calloc", ENOMEM);
	peer_start(&pp, lport, port0, n, NULL);
	if (tns_enter(pair.nsfd[0]))
		bench_die("enter netns a", errno);
	for (int i = 0; i < n; i++)
		fds[i] = connect_one(lport, port0 + i);
	peer_wait_ev(&pp, 'R');
	for (int i = 0; i < n; i++) {
		floor_save(fds[i], &c[i].img);
		close(fds[i]);	/* in repair mode: silent, the peer notices nothing */
	}
	free(fds);

	t0 = bench_now_ns();
	for (int i = 0; i < n; i++)
		c[i].fd = floor_restore(&c[i].img);
	t = bench_now_ns() - t0;

	for (int i = 0; i < n; i++) {
		floor_check(&c[i]);
		abortive_close(c[i].fd);
		c[i].fd = -1;
	}
	peer_stop(&pp);
	tns_leave();
	return (double)t;
}

int main(void)
{
	struct bench_series *s_floor, *s_floor_total;
	struct conn *conns;
	int rounds, n, err;

	bench_init("bench_restore");
	rounds = bench_rounds();
	/* Each process holds one side: n sockets plus a few under RLIMIT_NOFILE. */
	n = (int)bench_env_long("BENCH_RESTORE_N", 10000, 10, 1000000);
	err = bench_nofile((rlim_t)n + 64);
	if (err)
		bench_die("RLIMIT_NOFILE", err);
	if (tns_pair_setup(&pair))
		bench_die("network namespaces", EIO);
	conns = calloc((size_t)n, sizeof(*conns));
	if (!conns)
		bench_die("calloc", ENOMEM);

	s_floor = bench_series(PREFIX "_established_floor", "us");
	s_floor_total = bench_series(PREFIX "_established_floor_total", "ms");

	for (int r = 0; r <= rounds; r++) {
		/* Round 0 is a smaller warm-up. */
		int nr = r ? n : n / 10 + 1;
		double t = floor_round(conns, nr, LISTEN_PORT0 + r, CLIENT_PORT0);

		if (!r)
			continue;
		bench_add(s_floor, t / nr / 1e3);
		bench_add(s_floor_total, t / 1e6);
	}

	bench_report(s_floor, PREFIX, NULL);
	bench_report(s_floor_total, PREFIX, NULL);
	free(conns);
	tns_pair_cleanup(&pair);
	bench_table();
	return 0;
}
