// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * inject_fin: the cost of putting one FIN|ACK segment into the local stack,
 * as libsoccr_restore does for half-closed sockets.
 *
 *   ours_single   soccr_injector_send_segment(): build + one send() per FIN
 *   ours_batch    soccr_pkt_build() + soccr_injector_send_batch() (sendmmsg)
 *   libnet_criu   CRIU's soccr send_fin(): a new libnet handle per FIN
 *                 (libnet_init RAW4, SO_MARK, build tcp + ipv4, write, destroy)
 *   libnet_reused one libnet handle, headers rebuilt in place, libnet_write()
 *   af_packet     the floor: one AF_PACKET socket, one prebuilt frame, send()
 *
 * Everything runs on lo in a private network namespace: the frames are
 * received by the local stack (a FIN to a port with no socket, answered
 * with a RST that is received and dropped), so the receive path is included
 * in every variant alike, and nothing leaves the machine.
 *
 * Every variant sends the same segment (10.77.0.2:40000 > 10.77.0.1:5000
 * [FA], no options), with SO_MARK = SOCCR_MARK, and each round checks that
 * the stack answered every FIN with a RST.
 *
 * Env: BENCH_ROUNDS (11), BENCH_INJECT_N (packets per round for the fast
 * variants, 4096), BENCH_INJECT_SLOW_N (for libnet_criu, 64).
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include <soccr/inject.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>

#include "bench.h"
#include "tns.h"

#ifdef HAVE_LIBNET
#include <libnet.h>
#endif

/*
 * Not 127/8: a frame that enters lo without a route attached is routed
 * afresh, and 127/8 destinations are martians there (unless route_localnet).
 * DST_IP is ours (on lo). SRC_IP, the peer, is not local; its route is a
 * blackhole, so the RST the stack builds in answer to each FIN is counted
 * (OutRsts) and dropped at routing instead of looping back through lo a
 * second time: we time the injection and the stack's handling of the FIN,
 * not a second packet. BENCH_INJECT_RST_LOOP=1 puts the peer in a /24 on lo
 * instead, so the RSTs are transmitted and received too (every variant then
 * pays about 2 us more).
 */
#define SRC_IP	 "10.77.0.2"
#define DST_IP	 "10.77.0.1"
#define SRC_PORT 40000
#define DST_PORT 5000 /* nothing listens there: the stack answers RST */
#define FIN_SEQ	 0x10000000u
#define FIN_ACK	 0x20000000u
#define FIN_WIN	 512

#define PREFIX "inject_fin"

struct fin_params {
	struct in_addr src, dst;
};

static struct fin_params fp;

/* ---- the floor: our own frame, one AF_PACKET socket ------------------------------------ */

/*
 * Ethernet (zero MACs, as lo wants) + IPv4 + TCP FIN|ACK, checksums done.
 * Headers are filled in aligned locals, then copied: in the frame, the IP
 * header sits at offset 14, not 4-byte aligned.
 */
static size_t build_frame(uint8_t *buf)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr th;
	/* RFC 793 pseudo-header (12 bytes) followed by the TCP header, summed together. */
	uint8_t ph[12 + sizeof(th)];
	uint16_t tcp_len = htons(sizeof(th));

	memset(&eth, 0, sizeof(eth));
	memset(&ip, 0, sizeof(ip));
	memset(&th, 0, sizeof(th));
	eth.h_proto = htons(ETH_P_IP);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = htons(sizeof(ip) + sizeof(th));
	ip.id = htons(242);
	ip.ttl = 64;
	ip.protocol = IPPROTO_TCP;
	ip.saddr = fp.src.s_addr;
	ip.daddr = fp.dst.s_addr;
	ip.check = bench_naive_csum(&ip, sizeof(ip), 0);
	th.source = htons(SRC_PORT);
	th.dest = htons(DST_PORT);
	th.seq = htonl(FIN_SEQ);
	th.ack_seq = htonl(FIN_ACK);
	th.doff = sizeof(th) / 4;
	th.fin = 1;
	th.ack = 1;
	th.window = htons(FIN_WIN);
	memcpy(ph, &ip.saddr, 4);
	memcpy(ph + 4, &ip.daddr, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	memcpy(ph + 10, &tcp_len, 2);
	memcpy(ph + 12, &th, sizeof(th));
	th.check = bench_naive_csum(ph, sizeof(ph), 0);
	memcpy(buf, &eth, sizeof(eth));
	memcpy(buf + sizeof(eth), &ip, sizeof(ip));
	memcpy(buf + sizeof(eth) + sizeof(ip), &th, sizeof(th));
	return sizeof(eth) + sizeof(ip) + sizeof(th);
}

static int afp_open(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int mark = SOCCR_MARK;
	int fd;

	/* Protocol 0: a send-only socket, nothing is queued to it on receive. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die("AF_PACKET socket", errno);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		bench_die("bind AF_PACKET to lo", errno);
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		bench_die("SO_MARK", errno);
	return fd;
}

/* ns per packet */
static double run_af_packet(int fd, const uint8_t *frame, size_t len, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		if (send(fd, frame, len, 0) != (ssize_t)len)
			bench_die("AF_PACKET send", errno);
	return (double)(bench_now_ns() - t0) / (double)n;
}

/* ---- libnet, as CRIU's soccr/soccr.c send_fin() uses it ------------------------------- */

#ifdef HAVE_LIBNET
static int libnet_build_fin(libnet_t *l, libnet_ptag_t *ptcp, libnet_ptag_t *pip)
{
	*ptcp = libnet_build_tcp(SRC_PORT, DST_PORT, FIN_SEQ, FIN_ACK, TH_FIN | TH_ACK, FIN_WIN, 0,
				 0, LIBNET_TCP_H, NULL, 0, l, *ptcp);
	if (*ptcp == -1)
		return -1;
	*pip = libnet_build_ipv4(LIBNET_IPV4_H + LIBNET_TCP_H, 0, 242, 0, 64, IPPROTO_TCP, 0,
				 fp.src.s_addr, fp.dst.s_addr, NULL, 0, l, *pip);
	return *pip == -1 ? -1 : 0;
}

/* One FIN the CRIU way: a whole libnet handle for it. */
static void libnet_criu_one(void)
{
	char errbuf[LIBNET_ERRBUF_SIZE];
	libnet_ptag_t ptcp = 0, pip = 0;
	int mark = SOCCR_MARK;
	libnet_t *l;

	l = libnet_init(LIBNET_RAW4, NULL, errbuf);
	if (!l) {
		fprintf(stderr, "%s: libnet_init: %s\n", bench_prog, errbuf);
		exit(1);
	}
	if (setsockopt(libnet_getfd(l), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		bench_die("libnet SO_MARK", errno);
	if (libnet_build_fin(l, &ptcp, &pip) < 0 || libnet_write(l) < 0) {
		fprintf(stderr, "%s: libnet: %s\n", bench_prog, libnet_geterror(l));
		exit(1);
	}
	libnet_destroy(l);
}

static double run_libnet_criu(long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		libnet_criu_one();
	return (double)(bench_now_ns() - t0) / (double)n;
}

struct libnet_reused {
	libnet_t *l;
	libnet_ptag_t ptcp, pip;
};

static void libnet_reused_open(struct libnet_reused *r)
{
	char errbuf[LIBNET_ERRBUF_SIZE];
	int mark = SOCCR_MARK;

	r->l = libnet_init(LIBNET_RAW4, NULL, errbuf);
	if (!r->l) {
		fprintf(stderr, "%s: libnet_init: %s\n", bench_prog, errbuf);
		exit(1);
	}
	if (setsockopt(libnet_getfd(r->l), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		bench_die("libnet SO_MARK", errno);
	r->ptcp = r->pip = 0;
}

/* Per FIN: rebuild the headers in the handle's existing blocks, then write. */
static double run_libnet_reused(struct libnet_reused *r, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		if (libnet_build_fin(r->l, &r->ptcp, &r->pip) < 0 || libnet_write(r->l) < 0) {
			fprintf(stderr, "%s: libnet: %s\n", bench_prog, libnet_geterror(r->l));
			exit(1);
		}
	return (double)(bench_now_ns() - t0) / (double)n;
}
#endif /* HAVE_LIBNET */

/* ---- ours: soccr_injector ------------------------------------------------------------- */

#define BATCH 64

static void fill_segment(struct soccr_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->family = AF_INET;
	seg->src.v4 = fp.src;
	seg->dst.v4 = fp.dst;
	seg->sport = SRC_PORT;
	seg->dport = DST_PORT;
	seg->seq = FIN_SEQ;
	seg->ack = FIN_ACK;
	seg->flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	seg->window = FIN_WIN;
	seg->ip_id = 242; /* MACs stay zero: lo */
}

/* Per FIN: build it and send it, as a restore does. */
static double run_ours_single(struct soccr_injector *inj, const struct soccr_segment *seg, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++) {
		int err = soccr_injector_send_segment(inj, seg);

		if (err)
			bench_die("soccr_injector_send_segment", err);
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}

/* BATCH FINs at a time: build each into its own buffer, one sendmmsg() for all. */
static double run_ours_batch(struct soccr_injector *inj, const struct soccr_segment *seg, long n)
{
	static uint8_t bufs[BATCH][128];
	struct iovec iov[BATCH];
	uint64_t t0 = bench_now_ns();

	for (long done = 0; done < n;) {
		unsigned int k = n - done < BATCH ? (unsigned int)(n - done) : BATCH;
		int sent;

		for (unsigned int i = 0; i < k; i++) {
			ssize_t len =
				soccr_pkt_build(seg, SOCCR_LINK_ETH, bufs[i], sizeof(bufs[i]));

			if (len < 0)
				bench_die("soccr_pkt_build", (int)len);
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = (size_t)len;
		}
		sent = soccr_injector_send_batch(inj, iov, k);
		if (sent != (int)k)
			bench_die("soccr_injector_send_batch", sent < 0 ? sent : EIO);
		done += k;
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}

int main(void)
{
	struct bench_series *s_afp, *s_ln_criu, *s_ln_reused, *s_single, *s_batch;
	struct soccr_injector_opts iopts = {.sz = sizeof(iopts), .ifname = "lo"};
	struct soccr_injector *inj;
	struct soccr_segment seg;
	long n, slow_n;
	uint8_t frame[128];
	size_t frame_len;
	int rounds, afp, err;
#ifdef HAVE_LIBNET
	struct libnet_reused lr;
#endif

	bench_init("bench_inject");
	rounds = bench_rounds();
	n = bench_env_long("BENCH_INJECT_N", 4096, 16, 1 << 22);
	slow_n = bench_env_long("BENCH_INJECT_SLOW_N", 64, 4, 1 << 16);

	err = bench_netns();
	if (err)
		bench_die("private network namespace", err);
	if (bench_env_long("BENCH_INJECT_RST_LOOP", 0, 0, 1)) {
		if (tns_sh(NULL, "ip addr add %s/24 dev lo", DST_IP))
			bench_die("ip addr add " DST_IP "/24 dev lo", EIO);
	} else if (tns_sh(NULL, "ip addr add %s/32 dev lo && ip route add blackhole %s/32", DST_IP,
			  SRC_IP)) {
		bench_die("ip addr add " DST_IP "/32 dev lo, blackhole route to " SRC_IP, EIO);
	}
	inet_pton(AF_INET, SRC_IP, &fp.src);
	inet_pton(AF_INET, DST_IP, &fp.dst);

	frame_len = build_frame(frame);
	afp = afp_open();
	err = soccr_injector_open(&iopts, &inj);
	if (err)
		bench_die("soccr_injector_open(lo)", err);
	fill_segment(&seg);
	/* Same bytes on the wire as the floor's frame, or the comparison means nothing. */
	{
		uint8_t ours[128];
		ssize_t len = soccr_pkt_build(&seg, SOCCR_LINK_ETH, ours, sizeof(ours));

		if (len != (ssize_t)frame_len || memcmp(ours, frame, frame_len)) {
			fprintf(stderr, "%s: soccr_pkt_build frame differs from the floor's\n",
				bench_prog);
			return 1;
		}
	}

	s_single = bench_series(PREFIX "_ours_single", "us");
	s_batch = bench_series(PREFIX "_ours_batch", "us");
	s_afp = bench_series(PREFIX "_af_packet", "us");
	s_ln_criu = bench_series(PREFIX "_libnet_criu", "us");
	s_ln_reused = bench_series(PREFIX "_libnet_reused", "us");
#ifdef HAVE_LIBNET
	libnet_reused_open(&lr);
#else
	bench_skip(PREFIX "_libnet_criu", "libnet not found at build time (libnet1-dev)");
	bench_skip(PREFIX "_libnet_reused", "libnet not found at build time (libnet1-dev)");
#endif

	/* Round 0 warms caches, routes and neighbour state up; it is not recorded. */
	for (int r = 0; r <= rounds; r++) {
		long long rsts = bench_tcp_mib("OutRsts");
		long long sent = 0;
		double v;

		/* Rotate which variant goes first, so none always enjoys a warm start. */
		for (int k = 0; k < 5; k++) {
			switch ((k + r) % 5) {
			case 0:
				v = run_af_packet(afp, frame, frame_len, n) / 1e3;
				sent += n;
				if (r)
					bench_add(s_afp, v);
				break;
			case 1:
#ifdef HAVE_LIBNET
				v = run_libnet_criu(slow_n) / 1e3;
				sent += slow_n;
				if (r)
					bench_add(s_ln_criu, v);
#endif
				break;
			case 2:
#ifdef HAVE_LIBNET
				v = run_libnet_reused(&lr, n) / 1e3;
				sent += n;
				if (r)
					bench_add(s_ln_reused, v);
#endif
				break;
			case 3:
				v = run_ours_single(inj, &seg, n) / 1e3;
				sent += n;
				if (r)
					bench_add(s_single, v);
				break;
			case 4:
				v = run_ours_batch(inj, &seg, n) / 1e3;
				sent += n;
				if (r)
					bench_add(s_batch, v);
				break;
			}
		}
		/*
		 * Every FIN must have reached TCP and been answered with a RST:
		 * proof that the receive path was part of what we timed.
		 */
		rsts = bench_tcp_mib("OutRsts") - rsts;
		if (rsts != sent) {
			fprintf(stderr,
				"%s: round %d: %lld FINs sent, but the stack sent %lld RSTs\n",
				bench_prog, r, sent, rsts);
			return 1;
		}
	}

	bench_report(s_single, PREFIX, s_ln_criu, s_ln_reused, s_afp, NULL);
	bench_report(s_batch, PREFIX, s_ln_criu, s_ln_reused, s_afp, NULL);
	bench_report(s_ln_criu, PREFIX, s_afp, NULL);
	bench_report(s_ln_reused, PREFIX, s_afp, NULL);
	bench_report(s_afp, PREFIX, NULL);

	{
		double rl = bench_ratio(s_single, s_ln_criu), rb = bench_ratio(s_batch, s_ln_criu);
		double fs = bench_ratio(s_single, s_afp), fb = bench_ratio(s_batch, s_afp);

		bench_target(PREFIX "_ours_single", s_ln_criu->n, rl > 0 && 1 / rl >= 500,
			     ">= 500x faster than libnet per packet (CRIU): %.0fx",
			     rl > 0 ? 1 / rl : 0);
		bench_target(PREFIX "_ours_batch", s_ln_criu->n, rb > 0 && 1 / rb >= 500,
			     ">= 500x faster than libnet per packet (CRIU): %.0fx",
			     rb > 0 ? 1 / rb : 0);
		bench_target(PREFIX "_ours_single", true, fs <= 1.3,
			     "<= 1.3x the bare AF_PACKET floor: %.2fx", fs);
		bench_target(PREFIX "_ours_batch", true, fb <= 1.3,
			     "<= 1.3x the bare AF_PACKET floor: %.2fx", fb);
	}

#ifdef HAVE_LIBNET
	libnet_destroy(lr.l);
#endif
	soccr_injector_close(inj);
	close(afp);
	bench_table();
	return 0;
}
