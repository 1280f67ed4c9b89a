// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * criu_restore: a half-closed restore as CRIU does one, through the CRIU API
 * with nothing kept between calls, against the way CRIU's own libsoccr does
 * it today (a new libnet handle per injected packet).
 *
 * Each round builds BENCH_CRIU_N connections on the loopback of a private
 * namespace, drives them into CLOSE_WAIT (the peer wrote 64 bytes, then its
 * FIN), saves them with libsoccr_pause/save/get_* and closes them in repair
 * mode (all untimed). Timed, per socket: a fresh socket, pause, set_addr,
 * set_queue_bytes, and the restore with its FIN injected and absorbed:
 *
 *   ours_fresh    libsoccr_restore(): what CRIU gets (no session: every
 *                 descriptor opened for the FIN is closed before it returns)
 *   ours_session  soccr_restore_ext() with one session for the whole run
 *   criu_libnet   the baseline: the TCP_REPAIR steps written here (bind,
 *                 queue sequences, connect, options, timestamp, receive
 *                 queue), the FIN through libnet_init(LIBNET_RAW4) +
 *                 SO_MARK + libnet_build_tcp/ipv4 + libnet_write +
 *                 libnet_destroy, a wait until the socket shows it absorbed,
 *                 then TCP_REPAIR_WINDOW
 *   ours_fresh_v6 libsoccr_restore() over ::1 (no libnet baseline for IPv6)
 *
 * After the timed part every restored socket is checked (untimed): state
 * CLOSE_WAIT, the 64 bytes readable, then EOF; a restore that did not work
 * ends the program, so a broken restore can never look fast.
 *
 * Where the time goes (same rounds, per operation): opening and closing an
 * AF_PACKET socket, a raw IP socket with SO_MARK, a fresh rtnetlink socket
 * with one RTM_GETROUTE round trip, reading lo's rp_filter, libnet_init +
 * libnet_destroy alone, and the ESTABLISHED restore (no injection: the floor).
 *
 * Env: BENCH_ROUNDS (11), BENCH_CRIU_N (sockets per round and variant, 100).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <soccr/restore.h>
#include <soccr/soccr.h>

#include "bench.h"
#include "tns.h"

#ifdef HAVE_LIBNET
#include <libnet.h>
#endif

#define PAYLOAD 64
#define PIECE_N 200 /* operations per round for the pieces */

/* One saved connection, ready to be restored. */
struct conn {
	int family;
	int peer; /* the peer's end, still open */
	struct libsoccr_sk_data data;
	union libsoccr_addr self, other;
	char inq[PAYLOAD];
	int fd; /* the restored socket */
};

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		bench_die("TCP_INFO", errno);
	return ti.tcpi_state;
}

/* n connections in CLOSE_WAIT (or ESTABLISHED: fin false), saved and closed in repair mode. */
static void build(struct conn *c, int n, int family, bool fin)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char pay[PAYLOAD];
	int l, one = 1;

	memset(pay, 'x', sizeof(pay));
	tns_loopback(family, &ss, &len);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, n) ||
	    getsockname(l, (struct sockaddr *)&ss, &len))
		bench_die("listener", errno);
	for (int i = 0; i < n; i++) {
		int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&ss, len))
			bench_die("connect", errno);
		c[i].family = family;
		c[i].fd = s;
		c[i].peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c[i].peer < 0 || write(c[i].peer, pay, sizeof(pay)) != (ssize_t)sizeof(pay))
			bench_die("accept/write", errno);
		if (fin && shutdown(c[i].peer, SHUT_WR))
			bench_die("shutdown", errno);
	}
	close(l);
	/*
	 * Every peer's FIN acknowledged before its connection is saved: a FIN
	 * still unacked when the socket is closed (in repair mode, silently)
	 * would be retransmitted to a closed port, and the peer reset. (With
	 * the network lock that CRIU holds, the retransmission is dropped.)
	 */
	for (int i = 0, tries = 0; fin && i < n && tries < 2000; tries++)
		if (tcp_state(c[i].peer) == TCP_FIN_WAIT2)
			i++;
		else
			usleep(1000);
	for (int i = 0; i < n; i++) {
		int want = fin ? TCP_CLOSE_WAIT : TCP_ESTABLISHED, tries = 0;
		struct libsoccr_sk *sk;
		union libsoccr_addr *a;
		char *q;
		int inq = 0;

		while ((tcp_state(c[i].fd) != want || (ioctl(c[i].fd, FIONREAD, &inq), inq) < PAYLOAD) &&
		       tries++ < 1000)
			usleep(1000);
		sk = libsoccr_pause(c[i].fd);
		if (!sk || libsoccr_save(sk, &c[i].data, sizeof(c[i].data)) != sizeof(c[i].data) ||
		    c[i].data.state != (unsigned)want || c[i].data.inq_len != PAYLOAD)
			bench_die("libsoccr_save", EIO);
		q = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, 0);
		memcpy(c[i].inq, q, PAYLOAD);
		a = libsoccr_get_addr(sk, 1, 0);
		c[i].self = *a;
		a = libsoccr_get_addr(sk, 0, 0);
		c[i].other = *a;
		libsoccr_release(sk);
		close(c[i].fd); /* in repair mode: nothing sent */
		c[i].fd = -1;
	}
}

/* The variant being run, for error messages. */
static const char *variant;

/* The restored socket works; then both ends go, abortively (no TIME_WAIT left). */
static void check_and_close(struct conn *c, int n)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	char buf[PAYLOAD + 1];

	for (int i = 0; i < n; i++) {
		int want = c[i].data.state;

		if (tcp_state(c[i].fd) != want || read(c[i].fd, buf, sizeof(buf)) != PAYLOAD ||
		    memcmp(buf, c[i].inq, PAYLOAD) ||
		    (want == TCP_CLOSE_WAIT && read(c[i].fd, buf, sizeof(buf)) != 0)) {
			fprintf(stderr, "%s: %s: restored socket %d of %d is wrong (state %d)\n",
				bench_prog, variant, i, n, tcp_state(c[i].fd));
			exit(1);
		}
	}
	/* Only then: accept() may have paired peers in another order than the connects. */
	for (int i = 0; i < n; i++) {
		setsockopt(c[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		setsockopt(c[i].peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c[i].fd);
		close(c[i].peer);
	}
}

/* Timed: the CRIU-API restore of each (ours, with opts or without). ns per socket. */
static double restore_ours(struct conn *c, int n, const struct soccr_restore_opts *o)
{
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < n; i++) {
		struct libsoccr_sk *sk;

		c[i].fd = socket(c[i].family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sk = c[i].fd < 0 ? NULL : libsoccr_pause(c[i].fd);
		if (!sk)
			bench_die("pause", errno);
		libsoccr_set_addr(sk, 1, &c[i].self, 0);
		libsoccr_set_addr(sk, 0, &c[i].other, 0);
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, c[i].inq, 0);
		if ((o ? soccr_restore_ext(sk, &c[i].data, sizeof(c[i].data), o)
		       : libsoccr_restore(sk, &c[i].data, sizeof(c[i].data))) != 0) {
			fprintf(stderr, "%s: restore of socket %d failed\n", bench_prog, i);
			exit(1);
		}
		libsoccr_resume(sk);
	}
	return (double)(bench_now_ns() - t0) / n;
}

#ifdef HAVE_LIBNET
static void setint(int fd, int level, int opt, int v, const char *what)
{
	if (setsockopt(fd, level, opt, &v, sizeof(v)))
		bench_die(what, errno);
}

/* The peer's FIN the way CRIU's libsoccr sends it: one libnet handle for this packet. */
static void libnet_fin(const struct conn *c, uint32_t seq, uint32_t ack)
{
	char errbuf[LIBNET_ERRBUF_SIZE];
	int mark = SOCCR_MARK;
	libnet_t *l = libnet_init(LIBNET_RAW4, NULL, errbuf);

	if (!l) {
		fprintf(stderr, "%s: libnet_init: %s\n", bench_prog, errbuf);
		exit(1);
	}
	if (setsockopt(libnet_getfd(l), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ||
	    libnet_build_tcp(ntohs(c->other.v4.sin_port), ntohs(c->self.v4.sin_port), seq, ack,
			     TH_FIN | TH_ACK, (uint16_t)(c->data.snd_wnd >> c->data.snd_wscale), 0,
			     0, LIBNET_TCP_H, NULL, 0, l, 0) == -1 ||
	    libnet_build_ipv4(LIBNET_IPV4_H + LIBNET_TCP_H, 0, 0, 0, 64, IPPROTO_TCP, 0,
			      c->other.v4.sin_addr.s_addr, c->self.v4.sin_addr.s_addr, NULL, 0, l,
			      0) == -1 ||
	    libnet_write(l) < 0) {
		fprintf(stderr, "%s: libnet: %s\n", bench_prog, libnet_geterror(l));
		exit(1);
	}
	libnet_destroy(l);
}

/* The baseline: a CLOSE_WAIT restore by hand, the FIN through libnet. ns per socket. */
static double restore_libnet(struct conn *c, int n)
{
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < n; i++) {
		const struct libsoccr_sk_data *d = &c[i].data;
		uint32_t rcv_nxt = d->inq_seq - 1, snd_una = d->outq_seq - d->outq_len, seq;
		struct tcp_repair_opt opts[4];
		struct tcp_repair_window w = {d->snd_wl1, d->snd_wnd, d->max_window, d->rcv_wnd,
					      d->rcv_wup};
		socklen_t len = sizeof(seq);
		int fd, k = 0, tries = 0;

		fd = c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setint(fd, IPPROTO_TCP, TCP_REPAIR, 1, "TCP_REPAIR");
		setint(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
		if (bind(fd, (struct sockaddr *)&c[i].self.v4, sizeof(c[i].self.v4)))
			bench_die("bind", errno);
		setint(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE");
		setint(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)(rcv_nxt - PAYLOAD), "TCP_QUEUE_SEQ");
		setint(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE");
		setint(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)snd_una, "TCP_QUEUE_SEQ");
		if (connect(fd, (struct sockaddr *)&c[i].other.v4, sizeof(c[i].other.v4)))
			bench_die("connect (repair)", errno);
		opts[k++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, d->mss_clamp};
		if (d->opt_mask & TCPI_OPT_WSCALE)
			opts[k++] = (struct tcp_repair_opt){TCPOPT_WINDOW,
							    d->snd_wscale + (d->rcv_wscale << 16)};
		if (d->opt_mask & TCPI_OPT_TIMESTAMPS)
			opts[k++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
		if (d->opt_mask & TCPI_OPT_SACK)
			opts[k++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, k * sizeof(opts[0])))
			bench_die("TCP_REPAIR_OPTIONS", errno);
		if (d->opt_mask & TCPI_OPT_TIMESTAMPS)
			setint(fd, IPPROTO_TCP, TCP_TIMESTAMP, (int)d->timestamp, "TCP_TIMESTAMP");
		setint(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE");
		if (send(fd, c[i].inq, PAYLOAD, 0) != PAYLOAD)
			bench_die("send (recv queue)", errno);
		libnet_fin(&c[i], rcv_nxt, snd_una);
		/* Absorbed: the receive queue's sequence is past the FIN. */
		while ((getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &len) || seq != d->inq_seq) &&
		       tries++ < 100000)
			;
		if (seq != d->inq_seq) {
			fprintf(stderr, "%s: libnet FIN not absorbed (socket %d)\n", bench_prog, i);
			exit(1);
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)))
			bench_die("TCP_REPAIR_WINDOW", errno);
		setint(fd, IPPROTO_TCP, TCP_REPAIR, 0, "TCP_REPAIR off");
	}
	return (double)(bench_now_ns() - t0) / n;
}

static double piece_libnet_init(void)
{
	char errbuf[LIBNET_ERRBUF_SIZE];
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < PIECE_N; i++) {
		libnet_t *l = libnet_init(LIBNET_RAW4, NULL, errbuf);

		if (!l)
			bench_die("libnet_init", EIO);
		libnet_destroy(l);
	}
	return (double)(bench_now_ns() - t0) / PIECE_N;
}
#endif /* HAVE_LIBNET */

static double piece_socket(int family, int type, int proto, bool mark)
{
	uint64_t t0 = bench_now_ns();
	int m = SOCCR_MARK;

	for (int i = 0; i < PIECE_N; i++) {
		int fd = socket(family, type | SOCK_CLOEXEC, proto);

		if (fd < 0 || (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof(m))))
			bench_die("socket", errno);
		close(fd);
	}
	return (double)(bench_now_ns() - t0) / PIECE_N;
}

/* A fresh rtnetlink socket, one RTM_GETROUTE to 127.0.0.1 and its answer, closed. */
static double piece_route(void)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		struct rtattr rta;
		struct in_addr dst;
	} req;
	char ans[4096];
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < PIECE_N; i++) {
		int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

		memset(&req, 0, sizeof(req));
		req.nh.nlmsg_len = sizeof(req);
		req.nh.nlmsg_type = RTM_GETROUTE;
		req.nh.nlmsg_flags = NLM_F_REQUEST;
		req.nh.nlmsg_seq = (uint32_t)i + 1;
		req.rt.rtm_family = AF_INET;
		req.rt.rtm_dst_len = 32;
		req.rta.rta_type = RTA_DST;
		req.rta.rta_len = RTA_LENGTH(sizeof(req.dst));
		req.dst.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0 || recv(fd, ans, sizeof(ans), 0) <= 0)
			bench_die("rtnetlink", errno);
		close(fd);
	}
	return (double)(bench_now_ns() - t0) / PIECE_N;
}

static double piece_rp_filter(void)
{
	static const char *const files[] = {"/proc/sys/net/ipv4/conf/all/rp_filter",
					    "/proc/sys/net/ipv4/conf/lo/rp_filter"};
	uint64_t t0 = bench_now_ns();
	char buf[16];

	for (int i = 0; i < PIECE_N; i++) {
		for (int f = 0; f < 2; f++) {
			int fd = open(files[f], O_RDONLY | O_CLOEXEC);

			if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
				bench_die("rp_filter", errno);
			close(fd);
		}
	}
	return (double)(bench_now_ns() - t0) / PIECE_N;
}

int main(void)
{
	struct bench_series *s_fresh, *s_session, *s_libnet, *s_v6, *s_floor;
	struct bench_series *p_packet, *p_raw, *p_route, *p_rp, *p_libnet_init;
	struct soccr_session *session;
	struct soccr_restore_opts so = {.sz = sizeof(so)};
	struct conn *c;
	char buf[64];
	int rounds, n, err;

	bench_init("bench_criu");
	if (getenv("BENCH_DEBUG"))
		libsoccr_set_log(SOCCR_LOG_DBG, tns_log_stderr);
	rounds = bench_rounds();
	n = (int)bench_env_long("BENCH_CRIU_N", 100, 10, 5000);
	err = bench_netns();
	if (err)
		bench_die("network namespace", -err);
	err = bench_nofile((rlim_t)n * 2 + 64);
	if (err)
		bench_die("RLIMIT_NOFILE", -err);
	c = calloc((size_t)n, sizeof(*c));
	if (!c)
		bench_die("calloc", ENOMEM);
	err = soccr_session_open(NULL, &session);
	if (err)
		bench_die("soccr_session_open", -err);
	so.session = session;

	s_fresh = bench_series("criu_restore_close_wait_ours_fresh", "us");
	s_session = bench_series("criu_restore_close_wait_ours_session", "us");
	s_libnet = bench_series("criu_restore_close_wait_criu_libnet", "us");
	s_v6 = bench_series("criu_restore_close_wait_ours_fresh_v6", "us");
	s_floor = bench_series("criu_restore_established_ours_fresh", "us");
	p_packet = bench_series("piece_af_packet_open_close", "us");
	p_raw = bench_series("piece_raw_ip_open_mark_close", "us");
	p_route = bench_series("piece_rtnetlink_route_fresh_socket", "us");
	p_rp = bench_series("piece_rp_filter_read", "us");
	p_libnet_init = bench_series("piece_libnet_init_destroy", "us");

	for (int r = 0; r < rounds; r++) {
		build(c, n, AF_INET, true);
		variant = "fresh";
		bench_add(s_fresh, restore_ours(c, n, NULL) / 1e3);
		check_and_close(c, n);
		build(c, n, AF_INET, true);
		variant = "session";
		bench_add(s_session, restore_ours(c, n, &so) / 1e3);
		check_and_close(c, n);
#ifdef HAVE_LIBNET
		build(c, n, AF_INET, true);
		variant = "libnet";
		bench_add(s_libnet, restore_libnet(c, n) / 1e3);
		check_and_close(c, n);
		bench_add(p_libnet_init, piece_libnet_init() / 1e3);
#endif
		build(c, n, AF_INET6, true);
		variant = "fresh v6";
		bench_add(s_v6, restore_ours(c, n, NULL) / 1e3);
		check_and_close(c, n);
		build(c, n, AF_INET, false);
		variant = "established";
		bench_add(s_floor, restore_ours(c, n, NULL) / 1e3);
		check_and_close(c, n);
		bench_add(p_packet, piece_socket(AF_PACKET, SOCK_RAW, 0, false) / 1e3);
		bench_add(p_raw, piece_socket(AF_INET, SOCK_RAW, IPPROTO_RAW, true) / 1e3);
		bench_add(p_route, piece_route() / 1e3);
		bench_add(p_rp, piece_rp_filter() / 1e3);
	}
	soccr_session_close(session);
	free(c);

	bench_report(s_fresh, "criu_restore", s_libnet, s_floor, NULL);
	bench_report(s_session, "criu_restore", s_libnet, s_fresh, NULL);
#ifdef HAVE_LIBNET
	bench_report(s_libnet, "criu_restore", NULL);
	bench_report(p_libnet_init, "criu_restore", NULL);
#else
	bench_skip("criu_restore_close_wait_criu_libnet", "built without libnet (libnet1-dev)");
#endif
	bench_report(s_v6, "criu_restore", s_fresh, NULL);
	bench_report(s_floor, "criu_restore", NULL);
	bench_report(p_packet, "criu_restore", NULL);
	bench_report(p_raw, "criu_restore", NULL);
	bench_report(p_route, "criu_restore", NULL);
	bench_report(p_rp, "criu_restore", NULL);
#ifdef HAVE_LIBNET
	{
		double x = bench_ratio(s_libnet, s_fresh);

		bench_target("criu_restore_close_wait_ours_fresh", true, x >= 20,
			     "at least 20x faster than CRIU's libnet way: %sx", bench_fmt(buf, sizeof(buf), x));
	}
#else
	bench_target("criu_restore_close_wait_ours_fresh", false, false, "no libnet baseline");
#endif
	bench_table();
	return 0;
}
