// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * verify: the cost of verification per restored socket, in a batch of
 * BENCH_VERIFY_BATCH (1,000) sockets in repair mode, one FIN|ACK injected into
 * each (what libsoccr_restore does for CLOSE_WAIT sockets), verdicts
 * collected for the whole batch with one verifier handle.
 *
 *   inject_only    baseline: soccr_injector_send() of each prebuilt FIN
 *   sock           + soccr_verifier_expect/sent/collect, socket side only
 *                    (TCP_INFO, TCP_QUEUE_SEQ; SOCCR_VERIFY_NO_CAPTURE)
 *   capture        + the libpcap capture (filter set for the 1,000 flows,
 *                    every frame matched byte for byte, checksums checked)
 *   capture_pcap   + the pcap file written (SOCCR_VERIFY_NO_LINGER: the
 *                    optional 100 ms wait for the sockets' answers is a
 *                    fixed cost per batch, not per socket)
 *   cost_*         time spent inside the verifier's calls, per socket
 *   added_*        per round: (variant - inject_only) / N, which also holds
 *                    the kernel's share (the capture's copy into the ring,
 *                    made inside the send) and all the machine's noise
 *
 * Figures are microseconds per socket. Sockets are set up (the TCP_REPAIR
 * restore sequence, frames built) outside the timed part;
 * the verifier is opened once and reset per batch, as a restore of many
 * sockets would use it. Every batch must come back all absorbed, and every
 * socket in CLOSE_WAIT, else the program fails.
 *
 * Everything runs on lo of a private network namespace.
 * Env: BENCH_ROUNDS (11), BENCH_VERIFY_BATCH (1000), BENCH_VERIFY_DEBUG=1 (library debug log).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <soccr/inject.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>
#include <soccr/verify.h>

#include "bench.h"
#include "tns.h"

#define PREFIX "verify"
/*
 * The peer is "elsewhere": behind a veth (vb0) whose other end (vb1) is
 * down, so the sockets' ACKs of the FINs die there instead of looping back
 * through lo (a blackhole route would make the repair connect() fail with
 * EINVAL). The FINs are injected on lo (rp_filter 0: the reverse path is
 * vb0), so we time the injection, the stack taking the FIN, and the
 * verification, not an exchange with a peer that does not exist.
 */
#define LOCAL_IP    "10.77.0.1"
#define PEER_IP	    "10.77.0.2"
#define PEER_PORT   40000
#define LOCAL_PORT0 10000
#define RCV_ISN	    0x10000000u
#define SND_ISN	    0x20000000u
#define TARGET_US   5.0
#define MAX_FRAME   128

enum { V_BASE, V_SOCK, V_CAPTURE, V_PCAP, NV };

static const char *const vname[NV] = {"inject_only", "sock", "capture", "capture_pcap"};

struct batch {
	long n;
	int *s;
	uint8_t (*frame)[MAX_FRAME];
	size_t *len;
	struct soccr_flow *flow;
};

static void die_if(bool bad, const char *what)
{
	if (bad)
		bench_die(what, errno ? errno : EIO);
}

static void set_queue_seq(int fd, int q, uint32_t seq)
{
	die_if(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) != 0 ||
		       setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) != 0,
	       "TCP_QUEUE_SEQ");
}

/*
 * n restored sockets: ESTABLISHED through the TCP_REPAIR sequence (bind,
 * queue sequences, connect without a SYN), left in repair mode, as
 * libsoccr_restore() leaves them before the FIN bookkeeping; their FINs
 * built.
 */
static void batch_setup(struct batch *b)
{
	struct sockaddr_in la = {.sin_family = AF_INET}, pa = {.sin_family = AF_INET};
	int on = 1;

	inet_pton(AF_INET, LOCAL_IP, &la.sin_addr);
	inet_pton(AF_INET, PEER_IP, &pa.sin_addr);
	pa.sin_port = htons(PEER_PORT);
	for (long i = 0; i < b->n; i++) {
		struct soccr_segment seg;
		uint32_t rcv = RCV_ISN + (uint32_t)i * 7919, snd = SND_ISN + (uint32_t)i * 104729;
		int fd;
		ssize_t n;

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		die_if(fd < 0, "socket");
		la.sin_port = htons((uint16_t)(LOCAL_PORT0 + i));
		die_if(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
			       setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) != 0,
		       "TCP_REPAIR");
		set_queue_seq(fd, TCP_RECV_QUEUE, rcv);
		set_queue_seq(fd, TCP_SEND_QUEUE, snd);
		die_if(bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
			       connect(fd, (struct sockaddr *)&pa, sizeof(pa)) != 0,
		       "repair connect");
		b->s[i] = fd;

		memset(&seg, 0, sizeof(seg));
		seg.family = AF_INET;
		seg.src.v4 = pa.sin_addr;
		seg.dst.v4 = la.sin_addr;
		seg.sport = PEER_PORT;
		seg.dport = (uint16_t)(LOCAL_PORT0 + i);
		seg.seq = rcv;
		seg.ack = snd;
		seg.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
		seg.window = 65535;
		seg.df = true;
		n = soccr_pkt_build(&seg, SOCCR_LINK_ETH, b->frame[i], MAX_FRAME);
		die_if(n <= 0, "soccr_pkt_build");
		b->len[i] = (size_t)n;
		memset(&b->flow[i], 0, sizeof(b->flow[i]));
		b->flow[i].family = AF_INET;
		b->flow[i].saddr = seg.dst;
		b->flow[i].daddr = seg.src;
		b->flow[i].sport = seg.dport;
		b->flow[i].dport = seg.sport;
	}
}

static void batch_teardown(struct batch *b)
{
	/* Still in repair mode: closed without a FIN or RST. */
	for (long i = 0; i < b->n; i++)
		close(b->s[i]);
}

static void check_close_wait(const struct batch *b)
{
	for (long i = 0; i < b->n; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		die_if(getsockopt(b->s[i], IPPROTO_TCP, TCP_INFO, &ti, &len) != 0, "TCP_INFO");
		if (ti.tcpi_state != TCP_CLOSE_WAIT) {
			fprintf(stderr, "%s: socket %ld in state %u, not CLOSE_WAIT\n", bench_prog,
				i, ti.tcpi_state);
			exit(1);
		}
	}
}

/*
 * One timed batch. Returns microseconds per socket for the whole batch, and
 * in *in_verifier the part spent inside the verifier's calls (set_flows,
 * expect, sent, collect): the verification's own cost, which the noise of
 * the injection itself (the receive path runs in the send call) does not
 * blur. What the capture costs the kernel inside the send (the copy into
 * the ring) shows only in the difference of the totals.
 */
static double run(struct soccr_injector *inj, struct soccr_verifier *v, struct batch *b,
		  double *in_verifier)
{
	int ifindex = soccr_injector_ifindex(inj);
	uint64_t t0, t1, tv = 0, a;
	int bad;

	*in_verifier = 0;
	t0 = bench_now_ns();
	if (!v) {
		for (long i = 0; i < b->n; i++)
			die_if(soccr_injector_send(inj, b->frame[i], b->len[i]) != 0, "send");
		t1 = bench_now_ns();
		return (double)(t1 - t0) / 1e3 / (double)b->n;
	}
	die_if(soccr_verifier_set_flows(v, b->flow, (size_t)b->n) != 0, "set_flows");
	tv += bench_now_ns() - t0;
	for (long i = 0; i < b->n; i++) {
		struct soccr_verify_expect e = {.sz = sizeof(e), .fd = b->s[i]};
		int id, err;

		a = bench_now_ns();
		id = soccr_verifier_expect(v, b->frame[i], b->len[i], SOCCR_LINK_ETH, ifindex, &e);
		tv += bench_now_ns() - a;
		die_if(id < 0, "expect");
		err = soccr_injector_send(inj, b->frame[i], b->len[i]);
		a = bench_now_ns();
		soccr_verifier_sent(v, id, err);
		tv += bench_now_ns() - a;
	}
	a = bench_now_ns();
	bad = soccr_verifier_collect(v);
	t1 = bench_now_ns();
	tv += t1 - a;
	if (bad) {
		char line[512];

		for (size_t i = 0; i < soccr_verifier_count(v); i++)
			if (soccr_verifier_verdict(v, i)->kind != SOCCR_VERDICT_ABSORBED) {
				soccr_verdict_str(soccr_verifier_verdict(v, i), line, sizeof(line));
				fprintf(stderr, "%s: %s\n", bench_prog, line);
				break;
			}
		fprintf(stderr, "%s: %d of %ld segments not absorbed\n", bench_prog, bad, b->n);
		exit(1);
	}
	soccr_verifier_reset(v);
	*in_verifier = (double)tv / 1e3 / (double)b->n;
	return (double)(t1 - t0) / 1e3 / (double)b->n;
}

int main(void)
{
	struct soccr_verifier_opts o = {.sz = sizeof(o)};
	struct soccr_verifier *v[NV] = {NULL};
	struct bench_series *s[NV], *cost[NV], *added[NV];
	struct soccr_injector *inj = NULL;
	char path[64], name[64];
	struct batch b;
	int rounds, err;

	bench_init("bench_verify");
	libsoccr_set_log(getenv("BENCH_VERIFY_DEBUG") ? SOCCR_LOG_DBG : SOCCR_LOG_ERR, tns_log_stderr);
	b.n = bench_env_long("BENCH_VERIFY_BATCH", 1000, 16, 20000); /* local ports 10000 + i */
	rounds = bench_rounds();
	die_if(bench_netns() != 0, "private netns");
	if (tns_sh(NULL,
		   "ip link add vb0 type veth peer name vb1 && ip link set vb0 up && "
		   "ip addr add %s/24 dev vb0 && sysctl -qw net.ipv4.conf.all.rp_filter=0 "
		   "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lo.rp_filter=0",
		   LOCAL_IP))
		bench_die("veth vb0 with " LOCAL_IP "/24, rp_filter 0", EIO);
	die_if(bench_nofile((rlim_t)(2 * b.n + 256)) != 0, "RLIMIT_NOFILE");
	b.s = calloc((size_t)b.n, sizeof(*b.s));
	b.frame = calloc((size_t)b.n, sizeof(*b.frame));
	b.len = calloc((size_t)b.n, sizeof(*b.len));
	b.flow = calloc((size_t)b.n, sizeof(*b.flow));
	die_if(!b.s || !b.frame || !b.len || !b.flow, "calloc");

	err = soccr_injector_open(NULL, &inj);
	if (err)
		bench_die("injector on lo", err);
	snprintf(path, sizeof(path), "/tmp/bench_verify-%d.pcap", (int)getpid());

	for (int k = 0; k < NV; k++) {
		snprintf(name, sizeof(name), PREFIX "_%s", vname[k]);
		s[k] = bench_series(name, "us");
		if (k != V_BASE) {
			snprintf(name, sizeof(name), PREFIX "_cost_%s", vname[k]);
			cost[k] = bench_series(name, "us");
			snprintf(name, sizeof(name), PREFIX "_added_%s", vname[k]);
			added[k] = bench_series(name, "us");
		}
	}
	printf("%ld sockets per batch, %d rounds, microseconds per socket\n", b.n, rounds);
	for (int r = 0; r < rounds; r++) {
		double t[NV], in_v;

		for (int k = 0; k < NV; k++) {
			/*
			 * Each verifier opens just before its first batch: until a
			 * flow set is given it captures all TCP, which would be the
			 * other variants' traffic. (After a batch it captures nothing.)
			 */
			if (k != V_BASE && !v[k]) {
				o.flags = k == V_SOCK	? SOCCR_VERIFY_NO_CAPTURE
					  : k == V_PCAP ? SOCCR_VERIFY_NO_LINGER
							: 0;
				o.pcap_path = k == V_PCAP ? path : NULL;
				err = soccr_verifier_open(&o, &v[k]);
				if (err)
					bench_die("verifier", err);
			}
			batch_setup(&b);
			t[k] = run(inj, v[k], &b, &in_v);
			check_close_wait(&b);
			batch_teardown(&b);
			bench_add(s[k], t[k]);
			if (k != V_BASE)
				bench_add(cost[k], in_v);
		}
		for (int k = V_SOCK; k < NV; k++)
			bench_add(added[k], t[k] - t[V_BASE]);
	}

	bench_report(s[V_BASE], PREFIX, NULL);
	for (int k = V_SOCK; k < NV; k++)
		bench_report(s[k], PREFIX, s[V_BASE], NULL);
	for (int k = V_SOCK; k < NV; k++)
		bench_report(cost[k], PREFIX, NULL);
	for (int k = V_SOCK; k < NV; k++)
		bench_report(added[k], PREFIX, NULL);
	for (int k = V_CAPTURE; k < NV; k++) {
		double m = bench_median(cost[k]);

		bench_target(cost[k]->name, true, m <= TARGET_US,
			     "verification <= %.0f us per socket in a batch of %ld: %.2f us in the "
			     "verifier, %.2f us added to the batch",
			     TARGET_US, b.n, m, bench_median(added[k]));
	}
	bench_table();
	for (int k = 0; k < NV; k++)
		soccr_verifier_close(v[k]);
	soccr_injector_close(inj);
	unlink(path);
	free(b.s);
	free(b.frame);
	free(b.len);
	free(b.flow);
	return 0;
}
