// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The AF_PACKET injector does its job: segments built by our packet builder
 * and sent "from" the peer through lo of the receiving socket's namespace are
 * absorbed by that socket (sequence numbers, state, data), wrong ones are
 * not, batches arrive whole, the mark is on the frames, raw-IP devices get
 * the right protocol, and bad input is an error.
 *
 * Layout: a tns pair (ns a = client, ns b = server). The accepted socket in
 * ns b is put into TCP_REPAIR to read rcv_nxt/snd_nxt; the injector is opened
 * on lo inside ns b.
 *
 * rp_filter: a segment arriving on lo with a source address that routes out
 * of the veth fails a strict reverse-path check (rp_filter=1) and is silently
 * dropped. New namespaces usually start with 0, but that depends on
 * net.core.devconf_inherit_init_net and the host, so ns b sets all, default
 * and lo to 0 explicitly. (The strict case is the tc redirect's job, tested
 * with the lock.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <soccr/inject.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>

#include "tns.h"

/* How long to wait for the receive path to have processed what we sent. */
#define WAIT_MS 3000
#define BATCH_N 16

/*
 * glibc's struct tcp_info stops at tcpi_total_retrans (104 bytes); the UAPI
 * one continues with these (linux/tcp.h, stable ABI). Including linux/tcp.h
 * here would clash with netinet/tcp.h from tns.h.
 */
struct tcp_info_ext {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
};
_Static_assert(offsetof(struct tcp_info_ext, segs_in) == 140, "UAPI tcp_info layout");

struct ctx {
	struct tns_pair p;
	struct soccr_injector *inj;	/* on lo of ns b */
};

/* One connection across the pair; the server side (ns b) in repair mode. */
struct conn {
	int family;
	int c, s;			/* client fd (ns a), server fd (ns b) */
	struct sockaddr_storage caddr, saddr;
	uint32_t rcv_nxt, snd_nxt;	/* server's, read in repair mode */
};

static int group_setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -1;
	libsoccr_set_log(SOCCR_LOG_ERR, tns_log_stderr);
	if (tns_pair_setup(&x->p))
		goto fail;
	if (tns_sh(x->p.ns[1], "sysctl -qw net.ipv4.conf.all.rp_filter=0 "
			       "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lo.rp_filter=0"))
		goto fail;
	if (tns_enter(x->p.nsfd[1]))
		goto fail;
	err = soccr_injector_open(NULL, &x->inj);
	tns_leave();
	if (err) {
		fprintf(stderr, "injector on lo: %s\n", strerror(-err));
		goto fail;
	}
	*state = x;
	return 0;
fail:
	tns_pair_cleanup(&x->p);
	free(x);
	return -1;
}

static int group_teardown(void **state)
{
	struct ctx *x = *state;

	if (!x)
		return 0;
	soccr_injector_close(x->inj);
	tns_pair_cleanup(&x->p);
	free(x);
	return 0;
}

static uint32_t segs_in(int fd)
{
	struct tcp_info_ext ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	assert_true(len >= offsetof(struct tcp_info_ext, segs_in) + sizeof(ti.segs_in));
	return ti.segs_in;
}

/*
 * Wait until the socket has counted at least want incoming segments (the
 * receive path runs in softirq context, usually before sendto() returns, but
 * nothing guarantees it). Returns the count.
 */
static uint32_t wait_segs_in(int fd, uint32_t want)
{
	uint32_t n = segs_in(fd);

	for (int i = 0; i < WAIT_MS && (int32_t)(n - want) < 0; i++) {
		usleep(1000);
		n = segs_in(fd);
	}
	return n;
}

static void read_seqs(struct conn *k, uint32_t *rcv_nxt, uint32_t *snd_nxt)
{
	assert_int_equal(tns_queue_seq(k->s, TCP_RECV_QUEUE, rcv_nxt), 0);
	assert_int_equal(tns_queue_seq(k->s, TCP_SEND_QUEUE, snd_nxt), 0);
}

static void conn_open(struct ctx *x, int family, struct conn *k)
{
	socklen_t len;

	memset(k, 0, sizeof(*k));
	k->family = family;
	assert_int_equal(tns_tcp_connect(&x->p, family, false, &k->c, &k->s), 0);
	len = sizeof(k->caddr);
	assert_int_equal(getsockname(k->c, (struct sockaddr *)&k->caddr, &len), 0);
	len = sizeof(k->saddr);
	assert_int_equal(getsockname(k->s, (struct sockaddr *)&k->saddr, &len), 0);
	assert_int_equal(tns_repair(k->s, 1), 0);
	read_seqs(k, &k->rcv_nxt, &k->snd_nxt);
}

static void set_addr(const struct sockaddr_storage *ss, union soccr_inaddr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		a->v4 = ((const struct sockaddr_in *)ss)->sin_addr;
		*port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else {
		a->v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
		*port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
}

/* A segment from the client to the server (what the peer would send). Zero MACs: lo. */
static void peer_segment(const struct conn *k, uint8_t flags, uint32_t seq, uint32_t ack,
			 struct soccr_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->family = k->family;
	set_addr(&k->caddr, &seg->src, &seg->sport);
	set_addr(&k->saddr, &seg->dst, &seg->dport);
	seg->seq = seq;
	seg->ack = ack;
	seg->flags = flags;
	seg->window = 1024;
	seg->df = true;
}

/*
 * Close the connection the orderly way and check neither side saw a reset:
 * the client (who never really sent the injected FIN) now sends its own,
 * which the server takes as a duplicate and acks; the server's FIN then
 * reaches the client as a plain end of stream.
 */
static void conn_close_clean(struct conn *k)
{
	char b;
	int err = 0;
	socklen_t len = sizeof(err);
	struct pollfd pfd = { .fd = k->c, .events = POLLIN };

	assert_int_equal(tns_repair(k->s, 0), 0);
	assert_int_equal(shutdown(k->c, SHUT_WR), 0);
	/* The server has the client's FIN: end of stream, no error. */
	assert_int_equal(tns_read_all(k->s, &b, 1, WAIT_MS), -EPIPE);
	assert_int_equal(close(k->s), 0);
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(recv(k->c, &b, 1, MSG_DONTWAIT), 0);
	assert_int_equal(getsockopt(k->c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	assert_int_equal(err, 0);
	assert_int_equal(close(k->c), 0);
}

static void fin_is_absorbed(struct ctx *x, int family)
{
	struct soccr_segment seg;
	struct conn k;
	uint32_t rcv, snd, before;

	conn_open(x, family, &k);
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);
	before = segs_in(k.s);
	peer_segment(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, &seg);
	assert_int_equal(soccr_injector_send_segment(x->inj, &seg), 0);
	assert_true(wait_segs_in(k.s, before + 1) >= before + 1);

	read_seqs(&k, &rcv, &snd);
	assert_int_equal(rcv, k.rcv_nxt + 1);	/* the FIN takes one sequence number */
	assert_int_equal(snd, k.snd_nxt);
	assert_int_equal(tns_tcp_state(k.s), TCP_CLOSE_WAIT);
	conn_close_clean(&k);
}

static void test_fin_ack_from_peer_moves_socket_to_close_wait_v4(void **state)
{
	fin_is_absorbed(*state, AF_INET);
}

static void test_fin_ack_from_peer_moves_socket_to_close_wait_v6(void **state)
{
	fin_is_absorbed(*state, AF_INET6);
}

static void wrong_seq_fin_is_ignored(struct ctx *x, int family, uint32_t offset)
{
	struct soccr_segment seg;
	struct conn k;
	uint32_t rcv, snd, before;

	conn_open(x, family, &k);
	before = segs_in(k.s);
	peer_segment(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt + offset, k.snd_nxt, &seg);
	assert_int_equal(soccr_injector_send_segment(x->inj, &seg), 0);
	/* It did reach the socket (checksums good, right 4-tuple) ... */
	assert_true(wait_segs_in(k.s, before + 1) >= before + 1);
	/* ... and was not taken as the end of the stream. */
	read_seqs(&k, &rcv, &snd);
	assert_int_equal(rcv, k.rcv_nxt);
	assert_int_equal(snd, k.snd_nxt);
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);
	/* The client's real FIN still closes it cleanly. */
	conn_close_clean(&k);
}

static void test_fin_with_seq_ahead_of_rcv_nxt_is_not_absorbed_v4(void **state)
{
	wrong_seq_fin_is_ignored(*state, AF_INET, 1000);
}

static void test_fin_with_seq_ahead_of_rcv_nxt_is_not_absorbed_v6(void **state)
{
	wrong_seq_fin_is_ignored(*state, AF_INET6, 1000);
}

static void test_fin_with_old_seq_is_not_absorbed_v4(void **state)
{
	wrong_seq_fin_is_ignored(*state, AF_INET, (uint32_t)-1000);
}

/*
 * A sendmmsg() batch of BATCH_N one-byte segments at consecutive sequence
 * numbers: all of them are absorbed, in order, and read back as sent.
 */
static void batch_of_data_segments_is_absorbed(struct ctx *x, int family)
{
	uint8_t frames[BATCH_N][128], data[BATCH_N], got[BATCH_N];
	struct iovec iov[BATCH_N];
	struct soccr_segment seg;
	struct conn k;
	uint32_t rcv, snd;

	conn_open(x, family, &k);
	tns_pattern(data, sizeof(data), 0, 42);
	for (int i = 0; i < BATCH_N; i++) {
		ssize_t n;

		peer_segment(&k, SOCCR_TCP_PSH | SOCCR_TCP_ACK, k.rcv_nxt + (uint32_t)i, k.snd_nxt,
			     &seg);
		seg.payload = &data[i];
		seg.payload_len = 1;
		n = soccr_pkt_build(&seg, soccr_injector_link(x->inj), frames[i], sizeof(frames[i]));
		assert_true(n > 0);
		iov[i].iov_base = frames[i];
		iov[i].iov_len = (size_t)n;
	}
	assert_int_equal(soccr_injector_send_batch(x->inj, iov, BATCH_N), BATCH_N);

	for (int i = 0; i < WAIT_MS; i++) {
		read_seqs(&k, &rcv, &snd);
		if (rcv == k.rcv_nxt + BATCH_N)
			break;
		usleep(1000);
	}
	assert_int_equal(rcv, k.rcv_nxt + BATCH_N);
	assert_int_equal(tns_repair(k.s, 0), 0);
	assert_int_equal(tns_read_all(k.s, got, sizeof(got), WAIT_MS), 0);
	assert_memory_equal(got, data, sizeof(data));
	/*
	 * The client never sent these bytes, so this connection cannot end
	 * cleanly; the namespaces go away at the end of the group.
	 */
	close(k.s);
	close(k.c);
}

static void test_batch_of_data_segments_is_absorbed_in_order_v4(void **state)
{
	batch_of_data_segments_is_absorbed(*state, AF_INET);
}

static void test_batch_of_data_segments_is_absorbed_in_order_v6(void **state)
{
	batch_of_data_segments_is_absorbed(*state, AF_INET6);
}

/* Many copies of one pure ACK: every one of them reaches the socket; nothing changes. */
static void test_batch_of_pure_acks_all_reach_the_socket(void **state)
{
	enum { N = 200 };	/* more than one sendmmsg() chunk */
	struct ctx *x = *state;
	uint8_t frame[128];
	struct iovec iov[N];
	struct soccr_segment seg;
	struct conn k;
	uint32_t before, after, rcv, snd;
	ssize_t n;

	conn_open(x, AF_INET, &k);
	peer_segment(&k, SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, &seg);
	n = soccr_pkt_build(&seg, soccr_injector_link(x->inj), frame, sizeof(frame));
	assert_true(n > 0);
	for (int i = 0; i < N; i++) {
		iov[i].iov_base = frame;
		iov[i].iov_len = (size_t)n;
	}
	before = segs_in(k.s);
	assert_int_equal(soccr_injector_send_batch(x->inj, iov, N), N);
	after = wait_segs_in(k.s, before + N);
	assert_int_equal(after - before, N);
	read_seqs(&k, &rcv, &snd);
	assert_int_equal(rcv, k.rcv_nxt);
	assert_int_equal(snd, k.snd_nxt);
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);
	conn_close_clean(&k);
}

/* Sum of the packet counters of an nftables table in ns b. */
static uint64_t nft_count(struct ctx *x, const char *table)
{
	char cmd[256], line[512];
	uint64_t pk = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s nft list table inet %s", x->p.ns[1], table);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *c = strstr(line, "counter packets ");

		if (c)
			pk += strtoull(c + strlen("counter packets "), NULL, 10);
	}
	assert_int_equal(pclose(f), 0);
	return pk;
}

static void send_marked_ack(struct ctx *x, struct soccr_injector *inj, uint16_t dport)
{
	struct soccr_segment seg;

	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET;
	inet_pton(AF_INET, x->p.ip4[0], &seg.src.v4);
	inet_pton(AF_INET, x->p.ip4[1], &seg.dst.v4);
	seg.sport = 40000;
	seg.dport = dport;
	seg.seq = 1;
	seg.ack = 1;
	seg.flags = SOCCR_TCP_ACK;
	assert_int_equal(soccr_injector_send_segment(inj, &seg), 0);
}

/*
 * Frames carry SOCCR_MARK by default, another mark on request, none with
 * no_mark: one nftables rule per port in ns b counts TCP packets with the
 * expected mark at prerouting (the mark survives lo's turn-around to the
 * input path).
 */
static void test_frames_carry_soccr_mark_unless_told_otherwise(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts o = { .sz = sizeof(o) };
	struct soccr_injector *other = NULL, *unmarked = NULL;
	char table[32];
	uint64_t c;
	int rc;

	snprintf(table, sizeof(table), "soccr_inject_%d", (int)getpid());
	rc = tns_sh(x->p.ns[1],
		    "nft add table inet %s && "
		    "nft add chain inet %s pre \"{ type filter hook prerouting priority -300; }\" && "
		    "nft add rule inet %s pre tcp dport 9 meta mark 0x%x counter && "
		    "nft add rule inet %s pre tcp dport 10 meta mark 0x1234 counter && "
		    "nft add rule inet %s pre tcp dport 11 meta mark 0 counter",
		    table, table, table, SOCCR_MARK, table, table);
	assert_int_equal(rc, 0);

	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.mark = 0x1234;
	rc = soccr_injector_open(&o, &other);
	o.mark = 0;
	o.no_mark = 1;
	if (!rc)
		rc = soccr_injector_open(&o, &unmarked);
	tns_leave();
	assert_int_equal(rc, 0);

	send_marked_ack(x, x->inj, 9);
	send_marked_ack(x, other, 10);
	send_marked_ack(x, unmarked, 11);
	/* nft runs in the same softirq as the TCP input; give it the same bounded wait. */
	for (int i = 0; i < 300 && (c = nft_count(x, table)) < 3; i++)
		usleep(10000);
	soccr_injector_close(other);
	soccr_injector_close(unmarked);
	/* Each rule matches only its port AND its mark: one packet each means three rules hit. */
	rc = tns_sh(x->p.ns[1],
		    "nft list table inet %s | grep -c \"counter packets 1 \" | grep -qx 3", table);
	tns_sh(x->p.ns[1], "nft delete table inet %s", table);
	assert_int_equal(rc, 0);
}

static void test_open_defaults_to_lo_of_the_current_namespace(void **state)
{
	struct ctx *x = *state;
	uint8_t mac[SOCCR_ETH_ALEN], zero[SOCCR_ETH_ALEN] = { 0 };

	/* lo is always ifindex 1 of its namespace. */
	assert_int_equal(soccr_injector_ifindex(x->inj), 1);
	assert_string_equal(soccr_injector_ifname(x->inj), "lo");
	assert_int_equal(soccr_injector_link(x->inj), SOCCR_LINK_ETH);
	assert_int_equal(soccr_injector_hwaddr(x->inj, mac), 0);
	assert_memory_equal(mac, zero, sizeof(mac));
}

static void test_open_on_veth_uses_ethernet_framing_and_its_mac(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts o = { .sz = sizeof(o) };
	struct soccr_injector *inj = NULL;
	uint8_t mac[SOCCR_ETH_ALEN];
	char cmd[128], want[32] = "", got[32];
	FILE *f;
	int rc;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /sys/class/net/%s/address", x->p.ns[1],
		 x->p.ifname[1]);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	pclose(f);
	want[strcspn(want, "\n")] = '\0';

	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.ifname = x->p.ifname[1];
	rc = soccr_injector_open(&o, &inj);
	tns_leave();
	assert_int_equal(rc, 0);
	assert_int_equal(soccr_injector_ifindex(inj), x->p.ifindex[1]);
	assert_int_equal(soccr_injector_link(inj), SOCCR_LINK_ETH);
	assert_int_equal(soccr_injector_hwaddr(inj, mac), 0);
	snprintf(got, sizeof(got), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	assert_string_equal(got, want);
	soccr_injector_close(inj);

	/* The same device by index. */
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.ifname = NULL;
	o.ifindex = x->p.ifindex[1];
	rc = soccr_injector_open(&o, &inj);
	tns_leave();
	assert_int_equal(rc, 0);
	assert_string_equal(soccr_injector_ifname(inj), x->p.ifname[1]);
	soccr_injector_close(inj);
}

/*
 * A tun device has no link header (ARPHRD_NONE): frames are bare IP packets,
 * and the protocol the stack is told comes from the IP version. Reading the
 * tun fd shows both: the packet information header's protocol and the bytes.
 */
static void tun_gets_raw_ip_with_protocol(struct ctx *x, int family)
{
	struct soccr_injector_opts o = { .sz = sizeof(o) };
	struct soccr_injector *inj = NULL;
	struct soccr_segment seg;
	struct ifreq ifr;
	uint8_t frame[256], got[256 + 4];
	struct tun_pi pi;
	struct pollfd pfd;
	ssize_t n, r;
	int tfd, rc;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "it%d", (int)getpid() % 100000);
	ifr.ifr_flags = IFF_TUN;	/* with the 4-byte packet information header */
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	/* The tun device is created in the namespace of whoever opens /dev/net/tun. */
	tfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	rc = tfd >= 0 ? ioctl(tfd, TUNSETIFF, &ifr) : -1;
	tns_leave();
	assert_true(tfd >= 0);
	assert_int_equal(rc, 0);
	/* IPv6 needs the device up and no DAD in the way for the kernel to send on it. */
	assert_int_equal(tns_sh(x->p.ns[1], "ip link set %s up", ifr.ifr_name), 0);

	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.ifname = ifr.ifr_name;
	rc = soccr_injector_open(&o, &inj);
	tns_leave();
	assert_int_equal(rc, 0);
	assert_int_equal(soccr_injector_link(inj), SOCCR_LINK_NONE);

	memset(&seg, 0, sizeof(seg));
	seg.family = family;
	if (family == AF_INET) {
		inet_pton(AF_INET, "192.0.2.1", &seg.src.v4);
		inet_pton(AF_INET, "192.0.2.2", &seg.dst.v4);
	} else {
		inet_pton(AF_INET6, "2001:db8::1", &seg.src.v6);
		inet_pton(AF_INET6, "2001:db8::2", &seg.dst.v6);
	}
	seg.sport = 1234;
	seg.dport = 80;
	seg.seq = 7;
	seg.ack = 9;
	seg.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	n = soccr_pkt_build(&seg, SOCCR_LINK_NONE, frame, sizeof(frame));
	assert_true(n > 0);
	assert_int_equal(soccr_injector_send(inj, frame, (size_t)n), 0);

	/* The kernel may queue IPv6 router solicitations etc. on the tun too: skip them. */
	for (;;) {
		pfd.fd = tfd;
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		r = read(tfd, got, sizeof(got));
		assert_true(r >= (ssize_t)sizeof(pi));
		if (r == n + (ssize_t)sizeof(pi) && !memcmp(got + sizeof(pi), frame, (size_t)n))
			break;
	}
	memcpy(&pi, got, sizeof(pi));
	assert_int_equal(ntohs(pi.proto), family == AF_INET ? ETH_P_IP : ETH_P_IPV6);

	soccr_injector_close(inj);
	close(tfd);	/* a non-persistent tun goes away with its last fd */
}

static void test_tun_device_gets_bare_ip_with_right_protocol_v4(void **state)
{
	tun_gets_raw_ip_with_protocol(*state, AF_INET);
}

static void test_tun_device_gets_bare_ip_with_right_protocol_v6(void **state)
{
	tun_gets_raw_ip_with_protocol(*state, AF_INET6);
}

static void test_open_unknown_interface_is_enodev(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts o = { .sz = sizeof(o), .ifname = "nosuchdev0" };
	struct soccr_injector *inj = (struct soccr_injector *)&o;

	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_injector_open(&o, &inj), -ENODEV);
	assert_null(inj);
	/* The veth of ns a does not exist in ns b. */
	o.ifname = x->p.ifname[0];
	assert_int_equal(soccr_injector_open(&o, &inj), -ENODEV);
	o.ifname = NULL;
	o.ifindex = 99999;
	assert_int_equal(soccr_injector_open(&o, &inj), -ENODEV);
	o.ifindex = -1;
	assert_int_equal(soccr_injector_open(&o, &inj), -EINVAL);
	o.ifindex = 0;
	o.ifname = "a-name-longer-than-ifnamsiz";
	assert_int_equal(soccr_injector_open(&o, &inj), -EINVAL);
	o.ifname = NULL;
	o.sz = 1;
	assert_int_equal(soccr_injector_open(&o, &inj), -EINVAL);
	assert_int_equal(soccr_injector_open(NULL, NULL), -EINVAL);
	tns_leave();
}

static void test_frame_larger_than_mtu_is_emsgsize(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts o = { .sz = sizeof(o) };
	struct soccr_injector *veth = NULL;
	struct soccr_segment seg;
	struct iovec iov[2];
	uint8_t *big;
	ssize_t n;
	int rc;

	/* lo's MTU is 65536: a 70000-byte frame cannot go. */
	big = calloc(1, 70000);
	assert_non_null(big);
	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET;
	seg.flags = SOCCR_TCP_ACK;
	n = soccr_pkt_build(&seg, SOCCR_LINK_ETH, big, 70000);
	assert_true(n > 0);
	assert_int_equal(soccr_injector_send(x->inj, big, 70000), -EMSGSIZE);

	/* The veth's MTU is 1500: a segment with 1600 bytes of payload is too big for it. */
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.ifname = x->p.ifname[1];
	rc = soccr_injector_open(&o, &veth);
	tns_leave();
	assert_int_equal(rc, 0);
	seg.payload = big + 10000;
	seg.payload_len = 1600;
	assert_int_equal(soccr_injector_send_segment(veth, &seg), -EMSGSIZE);
	/* In a batch, the first frame failing means nothing was sent: the errno comes back. */
	iov[0].iov_base = big;
	iov[0].iov_len = 1700;
	iov[1] = iov[0];
	assert_int_equal(soccr_injector_send_batch(veth, iov, 2), -EMSGSIZE);
	soccr_injector_close(veth);
	free(big);
}

static void test_short_or_non_ip_frames_are_einval(void **state)
{
	struct ctx *x = *state;
	uint8_t frame[64] = { 0 };
	struct iovec iov[2] = { { frame, sizeof(frame) }, { frame, 10 } };

	assert_int_equal(soccr_injector_send(x->inj, frame, 0), -EINVAL);
	assert_int_equal(soccr_injector_send(x->inj, frame, SOCCR_ETH_HLEN), -EINVAL);
	assert_int_equal(soccr_injector_send(x->inj, NULL, 60), -EINVAL);
	assert_int_equal(soccr_injector_send(NULL, frame, sizeof(frame)), -EINVAL);
	/* One bad frame in a batch: nothing is sent, the error comes back. */
	assert_int_equal(soccr_injector_send_batch(x->inj, iov, 2), -EINVAL);
	assert_int_equal(soccr_injector_send_batch(x->inj, iov, 0), 0);
	assert_int_equal(soccr_injector_send_batch(x->inj, NULL, 1), -EINVAL);
	/* An invalid segment (no family) is refused by the builder, nothing sent. */
	{
		struct soccr_segment seg;

		memset(&seg, 0, sizeof(seg));
		assert_int_equal(soccr_injector_send_segment(x->inj, &seg), -EINVAL);
		assert_int_equal(soccr_injector_send_segment(x->inj, NULL), -EINVAL);
	}
}

static void test_send_on_a_down_interface_is_enetdown(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts o = { .sz = sizeof(o) };
	struct soccr_injector *inj = NULL;
	struct soccr_segment seg;
	char name[16];
	int rc;

	snprintf(name, sizeof(name), "id%d", (int)getpid() % 100000);
	/* A fresh veth pair is down (no dummy driver needed). */
	assert_int_equal(tns_sh(x->p.ns[1], "ip link add %s type veth peer name %sp", name, name),
			 0);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	o.ifname = name;
	rc = soccr_injector_open(&o, &inj);
	tns_leave();
	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET6;
	seg.flags = SOCCR_TCP_ACK;
	if (!rc)
		rc = soccr_injector_send_segment(inj, &seg);
	soccr_injector_close(inj);
	tns_sh(x->p.ns[1], "ip link del %s", name);
	assert_int_equal(rc, -ENETDOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fin_ack_from_peer_moves_socket_to_close_wait_v4),
		cmocka_unit_test(test_fin_ack_from_peer_moves_socket_to_close_wait_v6),
		cmocka_unit_test(test_fin_with_seq_ahead_of_rcv_nxt_is_not_absorbed_v4),
		cmocka_unit_test(test_fin_with_seq_ahead_of_rcv_nxt_is_not_absorbed_v6),
		cmocka_unit_test(test_fin_with_old_seq_is_not_absorbed_v4),
		cmocka_unit_test(test_batch_of_data_segments_is_absorbed_in_order_v4),
		cmocka_unit_test(test_batch_of_data_segments_is_absorbed_in_order_v6),
		cmocka_unit_test(test_batch_of_pure_acks_all_reach_the_socket),
		cmocka_unit_test(test_frames_carry_soccr_mark_unless_told_otherwise),
		cmocka_unit_test(test_open_defaults_to_lo_of_the_current_namespace),
		cmocka_unit_test(test_open_on_veth_uses_ethernet_framing_and_its_mac),
		cmocka_unit_test(test_tun_device_gets_bare_ip_with_right_protocol_v4),
		cmocka_unit_test(test_tun_device_gets_bare_ip_with_right_protocol_v6),
		cmocka_unit_test(test_open_unknown_interface_is_enodev),
		cmocka_unit_test(test_frame_larger_than_mtu_is_emsgsize),
		cmocka_unit_test(test_short_or_non_ip_frames_are_einval),
		cmocka_unit_test(test_send_on_a_down_interface_is_enetdown),
	};

	tns_require_root();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
