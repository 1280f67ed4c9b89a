// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The verifier tells the fate of each injected segment: absorbed (FIN into
 * ESTABLISHED -> CLOSE_WAIT, v4 and v6, from the fd in repair mode or by
 * the 4-tuple through sock_diag; the ACK of our FIN in FIN_WAIT1 ->
 * FIN_WAIT2), not-absorbed with the check that failed (wrong sequence,
 * corrupted checksum), not-seen (unmarked frame dropped by the lock at tc
 * egress, device down), and the pcap file holds what it should.
 *
 * Layout: a tns pair (ns a = client, ns b = server). Segments "from" the
 * client are injected on lo of ns b (rp_filter 0 there, see
 * test_inject.c), or on ns b's veth with a tc egress -> ingress redirect;
 * the verifier captures in ns b.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <pcap/sll.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <soccr/inject.h>
#include <soccr/lock.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>
#include <soccr/verify.h>

#include <soccr/restore.h>

#include "tns.h"

#define WAIT_MS	  3000
#define VERIFY_MS 300
#define BATCH_N	  40 /* above SOCCR_VERIFY_EXACT_FLOWS: the coarse filter */

struct ctx {
	struct tns_pair p;
	struct soccr_injector *inj; /* on lo of ns b */
	char tmp[64];		    /* a private directory for files */
};

struct conn {
	int family;
	int c, s; /* client fd (ns a), server fd (ns b) */
	struct sockaddr_storage caddr, saddr;
	uint32_t rcv_nxt, snd_nxt; /* server's */
};

static int group_setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -1;
	libsoccr_set_log(SOCCR_LOG_ERR, tns_log_stderr);
	snprintf(x->tmp, sizeof(x->tmp), "/tmp/soccr-verify-%d", (int)getpid());
	if (tns_sh(NULL, "rm -rf %s && mkdir -p %s", x->tmp, x->tmp))
		goto fail;
	if (tns_pair_setup(&x->p))
		goto fail;
	if (tns_sh(x->p.ns[1], "sysctl -qw net.ipv4.conf.all.rp_filter=0 "
			       "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lo.rp_filter=0"))
		goto fail;
	if (tns_enter(x->p.nsfd[1]))
		goto fail;
	err = soccr_injector_open(NULL, &x->inj);
	tns_leave();
	if (err)
		goto fail;
	*state = x;
	return 0;
fail:
	tns_pair_cleanup(&x->p);
	tns_sh(NULL, "rm -rf %s", x->tmp);
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
	/* The lock tests' pins, if one failed before detaching (tc goes with the netns). */
	tns_sh(NULL, "rm -rf %s /sys/fs/bpf/soccr-verify-%d /sys/fs/bpf/soccr-verify-%d-in", x->tmp,
	       (int)getpid(), (int)getpid());
	free(x);
	return 0;
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

static void read_seqs(int fd, uint32_t *rcv_nxt, uint32_t *snd_nxt)
{
	assert_int_equal(tns_queue_seq(fd, TCP_RECV_QUEUE, rcv_nxt), 0);
	assert_int_equal(tns_queue_seq(fd, TCP_SEND_QUEUE, snd_nxt), 0);
}

/* A connection; the server side read in repair mode, left in it if repair. */
static void conn_open(struct ctx *x, int family, bool repair, struct conn *k)
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
	read_seqs(k->s, &k->rcv_nxt, &k->snd_nxt);
	if (!repair)
		assert_int_equal(tns_repair(k->s, 0), 0);
}

static void conn_close(struct conn *k)
{
	close(k->s);
	close(k->c);
}

/* The server's flow (local = server). */
static void conn_flow(const struct conn *k, struct soccr_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->family = k->family;
	set_addr(&k->saddr, &f->saddr, &f->sport);
	set_addr(&k->caddr, &f->daddr, &f->dport);
}

/* A segment from the client to the server, framed for lo (zero MACs). */
static size_t peer_frame(const struct conn *k, uint8_t flags, uint32_t seq, uint32_t ack,
			 uint8_t *buf, size_t len)
{
	struct soccr_segment seg;
	ssize_t n;

	memset(&seg, 0, sizeof(seg));
	seg.family = k->family;
	set_addr(&k->caddr, &seg.src, &seg.sport);
	set_addr(&k->saddr, &seg.dst, &seg.dport);
	seg.seq = seq;
	seg.ack = ack;
	seg.flags = flags;
	seg.window = 1024;
	seg.df = true;
	n = soccr_pkt_build(&seg, SOCCR_LINK_ETH, buf, len);
	assert_true(n > 0);
	return (size_t)n;
}

/* A verifier in ns b (NULL opts fields: defaults). */
static struct soccr_verifier *verifier_open(struct ctx *x, struct soccr_verifier_opts *o)
{
	struct soccr_verifier_opts def = {.sz = sizeof(def)};
	struct soccr_verifier *v = NULL;

	if (!o)
		o = &def;
	if (!o->timeout_ms)
		o->timeout_ms = VERIFY_MS;
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_verifier_open(o, &v), 0);
	assert_int_equal(tns_leave(), 0);
	return v;
}

/* Register, send on inj, collect one segment; returns its verdict. */
static const struct soccr_verdict *verify_one(struct soccr_verifier *v, struct soccr_injector *inj,
					      const uint8_t *frame, size_t len, int fd)
{
	/* PRECISE: the tests want TCP_QUEUE_SEQ's numbers in the verdicts. */
	struct soccr_verify_expect e = {.sz = sizeof(e), .fd = fd, .checks = SOCCR_VERIFY_PRECISE};
	const struct soccr_verdict *vd;
	char line[512];
	int id;

	id = soccr_verifier_expect(v, frame, len, soccr_injector_link(inj),
				   soccr_injector_ifindex(inj), &e);
	assert_true(id >= 0);
	assert_int_equal(soccr_verifier_sent(v, id, soccr_injector_send(inj, frame, len)), 0);
	assert_true(soccr_verifier_collect(v) >= 0);
	vd = soccr_verifier_verdict(v, (size_t)id);
	assert_non_null(vd);
	soccr_verdict_str(vd, line, sizeof(line));
	fprintf(stderr, "    verdict: %s\n", line);
	return vd;
}

static void fin_absorbed(struct ctx *x, int family, bool repair)
{
	struct soccr_verifier *v = verifier_open(x, NULL);
	const struct soccr_verdict *vd;
	struct soccr_flow f;
	uint8_t frame[128];
	struct conn k;
	size_t len;

	conn_open(x, family, repair, &k);
	conn_flow(&k, &f);
	assert_int_equal(soccr_verifier_set_flows(v, &f, 1), 0);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, x->inj, frame, len, repair ? k.s : -1);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	assert_int_equal(vd->failed, 0);
	/*
	 * On lo the kernel's taps see the frame twice (transmitted, then looped
	 * back in); libpcap drops the outgoing copy on lo itself: once, in.
	 */
	assert_int_equal(vd->seen_out, 0);
	assert_int_equal(vd->seen_in, 1);
	assert_int_equal(vd->before.state, TCP_ESTABLISHED);
	assert_int_equal(vd->want_state, TCP_CLOSE_WAIT);
	assert_int_equal(vd->after.state, TCP_CLOSE_WAIT);
	if (repair) {
		assert_true(vd->after.repair);
		assert_int_equal(vd->after.rcv_nxt, k.rcv_nxt + 1);
	} else {
		/* sock_diag view: the FIN counts one received byte, one segment in. */
		assert_int_equal(vd->after.bytes_received - vd->before.bytes_received, 1);
		assert_true(vd->after.segs_in > vd->before.segs_in);
	}
	assert_int_equal(tns_tcp_state(k.s), TCP_CLOSE_WAIT);
	conn_close(&k);
	soccr_verifier_close(v);
}

static void test_fin_into_established_is_absorbed_close_wait_v4(void **state)
{
	fin_absorbed(*state, AF_INET, true);
}

static void test_fin_into_established_is_absorbed_close_wait_v6(void **state)
{
	fin_absorbed(*state, AF_INET6, true);
}

static void test_fin_absorbed_judged_by_tuple_through_sock_diag_v4(void **state)
{
	fin_absorbed(*state, AF_INET, false);
}

static void test_fin_absorbed_judged_by_tuple_through_sock_diag_v6(void **state)
{
	fin_absorbed(*state, AF_INET6, false);
}

/*
 * FIN_WAIT1 with our FIN not yet acked: in repair mode with the send queue
 * selected, shutdown() queues the FIN and counts it as sent without
 * transmitting it (tcp_write_xmit()'s repair branch). The peer's ACK of it,
 * at the socket's real sequence numbers, moves it to FIN_WAIT2.
 */
static void ack_of_fin_absorbed(struct ctx *x, int family)
{
	struct soccr_verifier *v = verifier_open(x, NULL);
	const struct soccr_verdict *vd;
	int q = TCP_SEND_QUEUE;
	uint32_t rcv, snd;
	uint8_t frame[128];
	struct conn k;
	size_t len;

	conn_open(x, family, true, &k);
	assert_int_equal(setsockopt(k.s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)), 0);
	assert_int_equal(shutdown(k.s, SHUT_WR), 0);
	assert_int_equal(tns_tcp_state(k.s), TCP_FIN_WAIT1);
	read_seqs(k.s, &rcv, &snd);
	assert_int_equal(snd, k.snd_nxt + 1); /* the FIN's sequence number */
	len = peer_frame(&k, SOCCR_TCP_ACK, rcv, snd, frame, sizeof(frame));
	vd = verify_one(v, x->inj, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	assert_true(vd->checks & SOCCR_VERIFY_CHECK_ACK);
	assert_int_equal(vd->before.state, TCP_FIN_WAIT1);
	assert_int_equal(vd->before.unacked, 1);
	assert_int_equal(vd->after.state, TCP_FIN_WAIT2);
	assert_int_equal(vd->after.unacked, 0);
	assert_int_equal(vd->after.write_seq, snd);
	conn_close(&k);
	soccr_verifier_close(v);
}

static void test_ack_of_our_fin_moves_fin_wait1_to_fin_wait2_v4(void **state)
{
	ack_of_fin_absorbed(*state, AF_INET);
}

static void test_ack_of_our_fin_moves_fin_wait1_to_fin_wait2_v6(void **state)
{
	ack_of_fin_absorbed(*state, AF_INET6);
}

static void test_fin_with_wrong_sequence_is_not_absorbed_sequence(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	const struct soccr_verdict *vd;
	uint8_t frame[128];
	struct conn k;
	size_t len;

	conn_open(x, AF_INET, true, &k);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt + 1000, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, x->inj, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_ABSORBED);
	assert_true(vd->failed & SOCCR_VFAIL_SEQUENCE);
	assert_true(vd->failed & SOCCR_VFAIL_STATE);
	assert_false(vd->failed & (SOCCR_VFAIL_WIRE | SOCCR_VFAIL_CHECKSUM | SOCCR_VFAIL_BYTES));
	assert_non_null(strstr(vd->reason, "sequence"));
	assert_non_null(strstr(vd->hint, "wrong seq/ack"));
	/* Seen entering the stack, and it reached the socket (segs_in +1). */
	assert_int_equal(vd->seen_in, 1);
	assert_false(vd->failed & SOCCR_VFAIL_DELIVERY);
	assert_int_equal(vd->after.rcv_nxt, k.rcv_nxt);
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);
	conn_close(&k);
	soccr_verifier_close(v);
}

static void test_fin_with_corrupted_tcp_checksum_is_not_absorbed_checksum(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	const struct soccr_verdict *vd;
	uint8_t frame[128];
	struct conn k;
	size_t len, csum_off = SOCCR_ETH_HLEN + 20 + 16; /* Ethernet, IPv4, TCP checksum */

	conn_open(x, AF_INET, true, &k);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	frame[csum_off] ^= 0x5a;
	vd = verify_one(v, x->inj, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_ABSORBED);
	assert_true(vd->failed & SOCCR_VFAIL_CHECKSUM);
	assert_non_null(strstr(vd->reason, "checksum"));
	/* Seen byte for byte as (mis)built; the stack dropped it before the socket. */
	assert_int_equal(vd->seen_in, 1);
	assert_true(vd->failed & SOCCR_VFAIL_SEQUENCE);
	assert_true(vd->failed & SOCCR_VFAIL_DELIVERY);
	assert_non_null(strstr(vd->hint, "InCsumErrors"));
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);
	conn_close(&k);
	soccr_verifier_close(v);
}

/*
 * The flow is locked (tc at lo's ingress and egress). An injected frame
 * without SOCCR_MARK is dropped by the lock at tc egress, which runs before
 * the device transmits it, i.e. before the capture point: the verifier never
 * sees it (not-seen) and the hint names the lock's drop counter. The same
 * frame with the mark passes both hooks and is absorbed.
 */
static void test_unmarked_fin_on_locked_flow_is_dropped_by_the_lock(void **state)
{
	struct ctx *x = *state;
	struct soccr_lock_opts lo = {.sz = sizeof(lo)};
	struct soccr_injector_opts io = {.sz = sizeof(io), .no_mark = 1};
	struct soccr_verifier_opts vo = {.sz = sizeof(vo)};
	struct soccr_injector *unmarked = NULL;
	struct soccr_lock *lock = NULL;
	struct soccr_verifier *v;
	const struct soccr_verdict *vd;
	struct soccr_flow f;
	uint8_t frame[128];
	char pin[64];
	struct conn k;
	size_t len;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/soccr-verify-%d", (int)getpid());
	lo.pin_dir = pin;
	conn_open(x, AF_INET, true, &k);
	conn_flow(&k, &f);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_lock_open(&lo, &lock), 0);
	assert_int_equal(soccr_lock_attach(lock, "lo"), 0);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	assert_int_equal(soccr_injector_open(&io, &unmarked), 0);
	assert_int_equal(tns_leave(), 0);

	vo.lock = lock;
	v = verifier_open(x, &vo);
	assert_int_equal(soccr_verifier_set_flows(v, &f, 1), 0);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, unmarked, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_SEEN);
	assert_true(vd->failed & SOCCR_VFAIL_WIRE);
	/* tc's drop verdict at egress comes back to the sender as NET_XMIT_DROP. */
	assert_int_equal(vd->send_err, -ENOBUFS);
	assert_int_equal(vd->seen_out + vd->seen_in, 0);
	assert_non_null(strstr(vd->hint, "the lock dropped 1 packet(s) of this flow"));
	assert_non_null(strstr(vd->hint, "before the capture point"));
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);

	/* With the mark: through both hooks, absorbed. */
	soccr_verifier_reset(v);
	vd = verify_one(v, x->inj, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	assert_int_equal(vd->after.state, TCP_CLOSE_WAIT);

	soccr_verifier_close(v);
	soccr_injector_close(unmarked);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	soccr_lock_detach(lock);
	assert_int_equal(tns_leave(), 0);
	soccr_lock_close(lock);
	conn_close(&k);
}

/*
 * The same unmarked frame with the lock at lo's ingress only (its egress
 * filter removed): now it is transmitted, looped back and captured coming
 * in, and the lock drops it after the capture point: seen, not absorbed,
 * never delivered to the socket, and the hint names the lock at ingress.
 */
static void test_unmarked_fin_dropped_by_the_lock_at_ingress_is_seen_not_absorbed(void **state)
{
	struct ctx *x = *state;
	struct soccr_lock_opts lo = {.sz = sizeof(lo)};
	struct soccr_injector_opts io = {.sz = sizeof(io), .no_mark = 1};
	struct soccr_verifier_opts vo = {.sz = sizeof(vo)};
	struct soccr_injector *unmarked = NULL;
	struct soccr_lock *lock = NULL;
	struct soccr_verifier *v;
	const struct soccr_verdict *vd;
	struct soccr_flow f;
	uint8_t frame[128];
	char pin[64];
	struct conn k;
	size_t len;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/soccr-verify-%d-in", (int)getpid());
	lo.pin_dir = pin;
	conn_open(x, AF_INET, true, &k);
	conn_flow(&k, &f);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_lock_open(&lo, &lock), 0);
	/* Classic filters, so that tc can take the egress one away below. */
	assert_int_equal(setenv("SOCCR_NO_TCX", "1", 1), 0);
	assert_int_equal(soccr_lock_attach(lock, "lo"), 0);
	unsetenv("SOCCR_NO_TCX");
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	assert_int_equal(soccr_injector_open(&io, &unmarked), 0);
	assert_int_equal(tns_leave(), 0);
	assert_int_equal(
		tns_sh(x->p.ns[1], "tc filter del dev lo egress pref %d", SOCCR_LOCK_TC_PRIO), 0);

	vo.lock = lock;
	v = verifier_open(x, &vo);
	assert_int_equal(soccr_verifier_set_flows(v, &f, 1), 0);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, unmarked, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_ABSORBED);
	assert_int_equal(vd->send_err, 0);
	assert_int_equal(vd->seen_in, 1);
	assert_true(vd->failed & SOCCR_VFAIL_DELIVERY);
	assert_true(vd->failed & SOCCR_VFAIL_SEQUENCE);
	assert_non_null(strstr(vd->hint, "the lock dropped 1 packet(s) of this flow"));
	assert_non_null(strstr(vd->hint, "at tc ingress, after the capture point"));
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);

	soccr_verifier_close(v);
	soccr_injector_close(unmarked);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	soccr_lock_detach(lock);
	assert_int_equal(tns_leave(), 0);
	soccr_lock_close(lock);
	conn_close(&k);
}

/* The device is down: the send fails, nothing is captured, the hint says why. */
static void test_injection_on_a_down_device_is_not_seen(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts io = {.sz = sizeof(io), .ifname = "vdown0"};
	struct soccr_injector *inj = NULL;
	struct soccr_verifier *v;
	const struct soccr_verdict *vd;
	uint8_t frame[128];
	struct conn k;
	size_t len;

	assert_int_equal(tns_sh(x->p.ns[1], "ip link add vdown0 type veth peer name vdown1"), 0);
	v = verifier_open(x, NULL);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_injector_open(&io, &inj), 0);
	assert_int_equal(tns_leave(), 0);
	conn_open(x, AF_INET, true, &k);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, inj, frame, len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_SEEN);
	assert_int_equal(vd->send_err, -ENETDOWN);
	assert_true(vd->failed & SOCCR_VFAIL_SEND);
	assert_non_null(strstr(vd->reason, "send failed"));
	assert_non_null(strstr(vd->hint, "device vdown0 is down"));
	assert_int_equal(vd->seen_out + vd->seen_in, 0);
	assert_int_equal(tns_tcp_state(k.s), TCP_ESTABLISHED);

	/* Even when the caller does not report the send error: not captured. */
	soccr_verifier_reset(v);
	{
		int id = soccr_verifier_expect(v, frame, len, SOCCR_LINK_ETH,
					       soccr_injector_ifindex(inj), NULL);

		assert_true(id >= 0);
		assert_int_not_equal(soccr_injector_send(inj, frame, len), 0);
		assert_int_equal(soccr_verifier_collect(v), 1);
		vd = soccr_verifier_verdict(v, (size_t)id);
		assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_SEEN);
		assert_non_null(strstr(vd->reason, "not captured"));
		assert_non_null(strstr(vd->hint, "device vdown0 is down"));
	}
	soccr_verifier_close(v);
	soccr_injector_close(inj);
	tns_sh(x->p.ns[1], "ip link del vdown0");
	conn_close(&k);
}

/*
 * On a veth with a tc egress -> ingress redirect of frames "from" the peer
 * (like the bypass used for peers elsewhere, here with u32 + mirred, as
 * this kernel has no cls_fw to match the mark): the frame never reaches the device's
 * transmit tap, so the capture sees it once, incoming, on that device.
 */
static void test_redirected_fin_on_veth_is_seen_once_incoming(void **state)
{
	struct ctx *x = *state;
	struct soccr_injector_opts io = {.sz = sizeof(io), .ifname = x->p.ifname[1]};
	struct soccr_verifier_opts vo = {.sz = sizeof(vo), .ifname = x->p.ifname[1]};
	struct soccr_injector *inj = NULL;
	struct soccr_verifier *v;
	const struct soccr_verdict *vd;
	struct soccr_segment seg;
	uint8_t frame[128];
	struct conn k;
	ssize_t len;

	assert_int_equal(
		tns_sh(x->p.ns[1],
		       "tc qdisc add dev %s clsact && "
		       "tc filter add dev %s egress protocol ipv6 u32 match ip6 src %s/128 "
		       "action mirred ingress redirect dev %s",
		       x->p.ifname[1], x->p.ifname[1], x->p.ip6[0], x->p.ifname[1]),
		0);
	assert_int_equal(tns_enter(x->p.nsfd[1]), 0);
	assert_int_equal(soccr_injector_open(&io, &inj), 0);
	assert_int_equal(tns_leave(), 0);
	v = verifier_open(x, &vo);
	conn_open(x, AF_INET6, true, &k);

	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET6;
	set_addr(&k.caddr, &seg.src, &seg.sport);
	set_addr(&k.saddr, &seg.dst, &seg.dport);
	seg.seq = k.rcv_nxt;
	seg.ack = k.snd_nxt;
	seg.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	seg.window = 1024;
	/* Destination: the device's own MAC, so the redirected frame is for this host. */
	assert_int_equal(soccr_injector_hwaddr(inj, seg.eth_dst), 0);
	memcpy(seg.eth_src, seg.eth_dst, SOCCR_ETH_ALEN);
	len = soccr_pkt_build(&seg, SOCCR_LINK_ETH, frame, sizeof(frame));
	assert_true(len > 0);
	vd = verify_one(v, inj, frame, (size_t)len, k.s);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	assert_int_equal(vd->seen_out, 0);
	assert_int_equal(vd->seen_in, 1);
	assert_string_equal(vd->ifname, x->p.ifname[1]);
	assert_int_equal(vd->after.state, TCP_CLOSE_WAIT);

	soccr_verifier_close(v);
	soccr_injector_close(inj);
	tns_sh(x->p.ns[1], "tc qdisc del dev %s clsact", x->p.ifname[1]);
	conn_close(&k);
}

/*
 * A pcap file: the injected FIN as received on lo, and what was observed
 * around it on the flow (the socket's own ACK of it), byte for byte.
 */
static void test_pcap_file_holds_injected_and_observed_packets(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier_opts vo = {.sz = sizeof(vo)};
	char path[128], errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct soccr_verifier *v;
	const struct soccr_verdict *vd;
	struct soccr_flow f;
	uint8_t frame[128];
	struct conn k;
	size_t len;
	pcap_t *pc;
	int fin_out = 0, fin_in = 0, acks_back = 0, total = 0, rc;

	snprintf(path, sizeof(path), "%s/verify.pcap", x->tmp);
	vo.pcap_path = path;
	v = verifier_open(x, &vo);
	conn_open(x, AF_INET, false, &k);
	conn_flow(&k, &f);
	assert_int_equal(soccr_verifier_set_flows(v, &f, 1), 0);
	len = peer_frame(&k, SOCCR_TCP_FIN | SOCCR_TCP_ACK, k.rcv_nxt, k.snd_nxt, frame,
			 sizeof(frame));
	vd = verify_one(v, x->inj, frame, len, -1);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	soccr_verifier_close(v);

	pc = pcap_open_offline(path, errbuf);
	assert_non_null(pc);
	assert_int_equal(pcap_datalink(pc), DLT_LINUX_SLL2);
	while ((rc = pcap_next_ex(pc, &h, &bytes)) == 1) {
		const struct sll2_header *sll = (const struct sll2_header *)bytes;
		struct soccr_segment s;

		total++;
		assert_true(h->caplen > SLL2_HDR_LEN);
		assert_int_equal(soccr_pkt_parse(bytes + SLL2_HDR_LEN, h->caplen - SLL2_HDR_LEN,
						 SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &s),
				 0);
		if (s.sport == f.dport && s.dport == f.sport) {
			/* Ours, byte for byte. */
			assert_int_equal(h->caplen - SLL2_HDR_LEN, len - SOCCR_ETH_HLEN);
			assert_memory_equal(bytes + SLL2_HDR_LEN, frame + SOCCR_ETH_HLEN,
					    len - SOCCR_ETH_HLEN);
			if (sll->sll2_pkttype == PACKET_OUTGOING)
				fin_out++;
			else if (sll->sll2_pkttype == PACKET_HOST)
				fin_in++;
		} else if (s.sport == f.sport && s.dport == f.dport && (s.flags & SOCCR_TCP_ACK) &&
			   s.ack == k.rcv_nxt + 1) {
			acks_back++; /* the socket acknowledging the FIN */
		}
	}
	assert_int_equal(rc, PCAP_ERROR_BREAK);
	pcap_close(pc);
	assert_int_equal(fin_out, 0); /* libpcap drops lo's outgoing copies */
	assert_int_equal(fin_in, 1);
	assert_true(acks_back >= 1);
	assert_true(total >= 2);
	conn_close(&k);
}

/* A batch over the coarse filter: BATCH_N sockets, one FIN each, all absorbed. */
static void test_batch_of_fins_is_absorbed_with_one_handle(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	struct soccr_flow f[BATCH_N];
	struct conn k[BATCH_N];
	uint8_t frame[128];
	char *json = NULL;

	for (int i = 0; i < BATCH_N; i++) {
		conn_open(x, i % 2 ? AF_INET6 : AF_INET, true, &k[i]);
		conn_flow(&k[i], &f[i]);
	}
	assert_int_equal(soccr_verifier_set_flows(v, f, BATCH_N), 0);
	for (int i = 0; i < BATCH_N; i++) {
		struct soccr_verify_expect e = {.sz = sizeof(e), .fd = k[i].s};
		size_t len = peer_frame(&k[i], SOCCR_TCP_FIN | SOCCR_TCP_ACK, k[i].rcv_nxt,
					k[i].snd_nxt, frame, sizeof(frame));
		int id = soccr_verifier_expect(v, frame, len, SOCCR_LINK_ETH,
					       soccr_injector_ifindex(x->inj), &e);

		assert_int_equal(id, i);
		assert_int_equal(
			soccr_verifier_sent(v, id, soccr_injector_send(x->inj, frame, len)), 0);
	}
	assert_int_equal(soccr_verifier_collect(v), 0);
	assert_int_equal(soccr_verifier_count(v), BATCH_N);
	for (int i = 0; i < BATCH_N; i++) {
		const struct soccr_verdict *vd = soccr_verifier_verdict(v, (size_t)i);

		assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
		assert_int_equal(vd->seen_in, 1);
		assert_int_equal(tns_tcp_state(k[i].s), TCP_CLOSE_WAIT);
	}
	assert_int_equal(soccr_verifier_json(v, &json), 0);
	assert_non_null(strstr(json, "\"absorbed\":40,\"not_absorbed\":0,\"not_seen\":0"));
	free(json);
	for (int i = 0; i < BATCH_N; i++)
		conn_close(&k[i]);
	soccr_verifier_close(v);
}

/*
 * The restore observer, driven as src/core/peer.c drives it: the frame is
 * reported after its send, with no "before" view and no flow set given
 * (the capture takes all TCP), the socket side judged by
 * soccr_verifier_sock_done() from TCP_QUEUE_SEQ; a second verifier whose
 * observer is not called records nothing (observers are per call).
 */
static void test_restore_hook_reports_each_injected_segment(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	struct soccr_verifier *other = verifier_open(x, NULL);
	struct soccr_restore_expect ve = {.state = TCP_CLOSE_WAIT, .check_rcv = true};
	struct soccr_restore_observer obs;
	const struct soccr_verdict *vd;
	struct soccr_segment seg;
	struct conn k;
	int err;

	assert_int_equal(soccr_verifier_observer(v, &obs), 0);
	assert_int_equal(obs.sz, sizeof(obs));
	assert_ptr_equal(obs.ctx, v);
	conn_open(x, AF_INET6, true, &k);
	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET6;
	set_addr(&k.caddr, &seg.src, &seg.sport);
	set_addr(&k.saddr, &seg.dst, &seg.dport);
	seg.seq = k.rcv_nxt;
	seg.ack = k.snd_nxt;
	seg.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	seg.window = 1024;

	err = soccr_injector_send_segment(x->inj, &seg);
	assert_int_equal(err, 0);
	obs.segment(obs.ctx, k.s, &seg, SOCCR_LINK_ETH, soccr_injector_ifindex(x->inj), &ve, err);
	soccr_verifier_sock_done(v, k.s);

	assert_int_equal(soccr_verifier_collect(v), 0);
	assert_int_equal(soccr_verifier_count(v), 1);
	vd = soccr_verifier_verdict(v, 0);
	assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	assert_int_equal(vd->seen_in, 1);
	assert_false(vd->before.valid);
	assert_true(vd->after.repair);
	assert_int_equal(vd->after.rcv_nxt, k.rcv_nxt + 1);
	assert_int_equal(vd->after.state, TCP_CLOSE_WAIT);
	assert_int_equal(soccr_verifier_collect(other), 0);
	assert_int_equal(soccr_verifier_count(other), 0);
	soccr_verifier_close(other);
	soccr_verifier_close(v);
	conn_close(&k);
}

/*
 * The observer with the restore's own socket view (view(): no system call
 * in the verifier): a FIN at a wrong sequence number, reported
 * with the view the restore read, is not absorbed, sequence failed.
 */
static void test_restore_hook_takes_the_restores_own_socket_view(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	struct soccr_restore_expect ve = {.state = TCP_CLOSE_WAIT, .check_rcv = true};
	struct soccr_restore_view vv = {.have_rcv_nxt = true};
	struct soccr_restore_observer obs;
	const struct soccr_verdict *vd;
	struct soccr_segment seg;
	uint32_t rcv, snd;
	struct conn k;
	int err;

	conn_open(x, AF_INET, true, &k);
	memset(&seg, 0, sizeof(seg));
	seg.family = AF_INET;
	set_addr(&k.caddr, &seg.src, &seg.sport);
	set_addr(&k.saddr, &seg.dst, &seg.dport);
	seg.seq = k.rcv_nxt + 5;
	seg.ack = k.snd_nxt;
	seg.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	seg.window = 1024;

	assert_int_equal(soccr_verifier_observer(v, &obs), 0);
	err = soccr_injector_send_segment(x->inj, &seg);
	obs.segment(obs.ctx, k.s, &seg, SOCCR_LINK_ETH, soccr_injector_ifindex(x->inj), &ve, err);
	/* What libsoccr_restore's own check reads. */
	vv.state = tns_tcp_state(k.s);
	read_seqs(k.s, &rcv, &snd);
	vv.rcv_nxt = rcv;
	obs.view(obs.ctx, k.s, &vv);

	assert_int_equal(soccr_verifier_collect(v), 1);
	vd = soccr_verifier_verdict(v, 0);
	assert_int_equal(vd->kind, SOCCR_VERDICT_NOT_ABSORBED);
	assert_true(vd->failed & SOCCR_VFAIL_SEQUENCE);
	assert_true(vd->failed & SOCCR_VFAIL_STATE);
	assert_int_equal(vd->after.rcv_nxt, k.rcv_nxt);
	assert_int_equal(vd->seen_in, 1);
	assert_non_null(strstr(vd->reason, "sequence: segment seq"));
	soccr_verifier_close(v);
	conn_close(&k);
}

/* One segment of the client side of k, as the restore of k's server socket injects it. */
static void peer_seg(const struct conn *k, uint8_t flags, struct soccr_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->family = AF_INET;
	set_addr(&k->caddr, &seg->src, &seg->sport);
	set_addr(&k->saddr, &seg->dst, &seg->dport);
	seg->seq = k->rcv_nxt;
	seg->ack = k->snd_nxt;
	seg->flags = flags;
	seg->window = 1024;
}

/*
 * Restores on two threads interleave their reports: a's segment, b's
 * segment, b's view, then a's view. a's view must still reach a's segment
 * (soccr restore --threads): a's segment, an ACK that leaves a
 * ESTABLISHED, is judged on that view, not on the state a has later (a FIN
 * injected afterwards, not reported, takes it to CLOSE_WAIT).
 */
static void test_restore_hook_views_of_interleaved_restores(void **state)
{
	struct ctx *x = *state;
	struct soccr_verifier *v = verifier_open(x, NULL);
	struct soccr_restore_expect ack_e = {.state = TCP_ESTABLISHED};
	struct soccr_restore_expect fin_e = {.state = TCP_CLOSE_WAIT, .check_rcv = true};
	struct soccr_restore_view va = {.have_rcv_nxt = true}, vb = {.have_rcv_nxt = true};
	struct soccr_restore_observer obs;
	const struct soccr_verdict *vd;
	struct soccr_segment sa, sb, fin;
	int ifi = soccr_injector_ifindex(x->inj), ea, eb;
	uint32_t snd;
	struct conn a, b;

	conn_open(x, AF_INET, true, &a);
	conn_open(x, AF_INET, true, &b);
	assert_int_equal(soccr_verifier_observer(v, &obs), 0);
	peer_seg(&a, SOCCR_TCP_ACK, &sa);
	peer_seg(&b, SOCCR_TCP_FIN | SOCCR_TCP_ACK, &sb);
	ea = soccr_injector_send_segment(x->inj, &sa);
	obs.segment(obs.ctx, a.s, &sa, SOCCR_LINK_ETH, ifi, &ack_e, ea);
	eb = soccr_injector_send_segment(x->inj, &sb);
	obs.segment(obs.ctx, b.s, &sb, SOCCR_LINK_ETH, ifi, &fin_e, eb);
	assert_int_equal(ea, 0);
	assert_int_equal(eb, 0);
	vb.state = tns_tcp_state(b.s);
	read_seqs(b.s, &vb.rcv_nxt, &snd);
	obs.view(obs.ctx, b.s, &vb);
	va.state = tns_tcp_state(a.s);
	read_seqs(a.s, &va.rcv_nxt, &snd);
	assert_int_equal(va.state, TCP_ESTABLISHED);
	obs.view(obs.ctx, a.s, &va);
	/* a moves on, unreported. */
	peer_seg(&a, SOCCR_TCP_FIN | SOCCR_TCP_ACK, &fin);
	assert_int_equal(soccr_injector_send_segment(x->inj, &fin), 0);
	assert_int_equal(tns_tcp_state(a.s), TCP_CLOSE_WAIT);

	assert_int_equal(soccr_verifier_collect(v), 0);
	for (size_t i = 0; i < 2; i++) {
		vd = soccr_verifier_verdict(v, i);
		assert_int_equal(vd->kind, SOCCR_VERDICT_ABSORBED);
	}
	vd = soccr_verifier_verdict(v, 0);
	assert_int_equal(vd->after.state, TCP_ESTABLISHED);
	vd = soccr_verifier_verdict(v, 1);
	assert_int_equal(vd->after.state, TCP_CLOSE_WAIT);
	assert_int_equal(vd->after.rcv_nxt, b.rcv_nxt + 1);
	soccr_verifier_close(v);
	conn_close(&a);
	conn_close(&b);
}

static void test_bad_arguments_are_einval(void **state)
{
	struct soccr_verifier_opts vo = {.sz = 4};
	struct soccr_verifier *v = NULL;
	uint8_t junk[10] = {0};

	(void)state;
	assert_int_equal(soccr_verifier_open(&vo, &v), -EINVAL);
	assert_null(v);
	vo.sz = sizeof(vo);
	vo.ifname = "nosuchdev0";
	assert_int_equal(soccr_verifier_open(&vo, &v), -ENODEV);
	vo.ifname = NULL;
	vo.flags = SOCCR_VERIFY_NO_CAPTURE;
	assert_int_equal(soccr_verifier_open(&vo, &v), 0);
	assert_int_equal(soccr_verifier_expect(v, junk, sizeof(junk), SOCCR_LINK_NONE, 0, NULL),
			 -EBADMSG);
	assert_int_equal(soccr_verifier_sent(v, 0, 0), -EINVAL);
	assert_int_equal(soccr_verifier_collect(v), 0);
	soccr_verifier_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fin_into_established_is_absorbed_close_wait_v4),
		cmocka_unit_test(test_fin_into_established_is_absorbed_close_wait_v6),
		cmocka_unit_test(test_fin_absorbed_judged_by_tuple_through_sock_diag_v4),
		cmocka_unit_test(test_fin_absorbed_judged_by_tuple_through_sock_diag_v6),
		cmocka_unit_test(test_ack_of_our_fin_moves_fin_wait1_to_fin_wait2_v4),
		cmocka_unit_test(test_ack_of_our_fin_moves_fin_wait1_to_fin_wait2_v6),
		cmocka_unit_test(test_fin_with_wrong_sequence_is_not_absorbed_sequence),
		cmocka_unit_test(test_fin_with_corrupted_tcp_checksum_is_not_absorbed_checksum),
		cmocka_unit_test(test_unmarked_fin_on_locked_flow_is_dropped_by_the_lock),
		cmocka_unit_test(
			test_unmarked_fin_dropped_by_the_lock_at_ingress_is_seen_not_absorbed),
		cmocka_unit_test(test_injection_on_a_down_device_is_not_seen),
		cmocka_unit_test(test_redirected_fin_on_veth_is_seen_once_incoming),
		cmocka_unit_test(test_pcap_file_holds_injected_and_observed_packets),
		cmocka_unit_test(test_batch_of_fins_is_absorbed_with_one_handle),
		cmocka_unit_test(test_restore_hook_reports_each_injected_segment),
		cmocka_unit_test(test_restore_hook_takes_the_restores_own_socket_view),
		cmocka_unit_test(test_restore_hook_views_of_interleaved_restores),
		cmocka_unit_test(test_bad_arguments_are_einval),
	};

	tns_require_root();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
