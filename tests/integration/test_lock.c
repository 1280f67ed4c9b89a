// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The network lock on live connections between two namespaces (a: local,
 * b: peer). The lock is attached in namespace a, on its veth and on lo.
 *
 * For each family: one connection is locked while the peer keeps sending
 * and the local side writes too; nothing crosses in either direction and the
 * drop counters rise; a segment injected with SOCCR_MARK (the next bytes of
 * the peer's stream, sent "from the peer" through lo) is received; a second,
 * unlocked connection carries data both ways all along; after unlocking,
 * both byte streams complete with nothing lost or duplicated.
 *
 * Then: detaching leaves no filter, qdisc, pin or program; another clsact
 * filter on the same hooks keeps running next to ours (it sees what we let
 * pass, marked frames included) and survives our detach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soccr/inject.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "lock_test.skel.h"
#include "tns.h"

#define SEED_PEER 0x5eed0001u
#define SEED_LOCAL 0x5eed0002u
#define WARMUP 100		/* bytes each way before the lock */
#define PEER_LOCKED 3000	/* bytes the peer sends while locked */
#define LOCAL_LOCKED 2000	/* bytes the local side sends while locked */
#define INJECTED 500		/* of the peer's bytes, injected with the mark */
#define SIDE_BYTES 20000	/* the unlocked connection, each way, each round */
#define WAIT_MS 10000

static struct tns_pair pair;
static struct soccr_lock *lock;
static char pin_dir[64];

/* State of the two tests below, so that their teardown cleans up after a failure. */
static struct tns_pair q;
static struct soccr_lock *lk;
static struct soccr_lock_test *other;

static void rm_pins(const char *suffix)
{
	char path[128];

	snprintf(path, sizeof(path), "%s%s/prog", pin_dir, suffix);
	unlink(path);
	snprintf(path, sizeof(path), "%s%s/flows", pin_dir, suffix);
	unlink(path);
	snprintf(path, sizeof(path), "%s%s", pin_dir, suffix);
	rmdir(path);
}

static int pair_teardown(void **state);

static int pair_setup(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };

	(void)state;
	if (tns_pair_setup(&pair))
		return -1;
	/*
	 * Retransmissions after the unlock come sooner with a small minimum
	 * RTO (per-netns sysctl since 6.11; without it the test is slower).
	 */
	for (int s = 0; s < 2; s++)
		tns_sh(pair.ns[s], "sysctl -qw net.ipv4.tcp_rto_min_us=20000 2>/dev/null");
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-test-%d-net", (int)getpid());
	opts.pin_dir = pin_dir;
	if (soccr_lock_open(&opts, &lock))
		goto fail;
	if (tns_enter(pair.nsfd[0]))
		goto fail;
	if (soccr_lock_attach(lock, pair.ifname[0]) || soccr_lock_attach(lock, "lo")) {
		tns_leave();
		goto fail;
	}
	tns_leave();
	return 0;
fail:
	/* cmocka runs no teardown after a failed setup. */
	pair_teardown(state);
	return -1;
}

static int pair_teardown(void **state)
{
	(void)state;
	if (lock) {
		if (!tns_enter(pair.nsfd[0]))
			soccr_lock_detach(lock);
		tns_leave();
		soccr_lock_close(lock);
		lock = NULL;
	}
	tns_pair_cleanup(&pair);
	rm_pins("");
	return 0;
}

static void counters(const struct soccr_flow *f, uint64_t dropped[2], uint64_t passed[2])
{
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;

	dropped[0] = dropped[1] = passed[0] = passed[1] = 0;
	assert_int_equal(soccr_lock_list(lock, &e, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (e[i].flow.family == f->family && e[i].flow.sport == f->sport &&
		    e[i].flow.dport == f->dport &&
		    !memcmp(&e[i].flow.saddr, &f->saddr, sizeof(f->saddr))) {
			memcpy(dropped, e[i].dropped, sizeof(e[i].dropped));
			memcpy(passed, e[i].passed, sizeof(e[i].passed));
		}
	free(e);
}

/* Wait (bounded) until counter [dir] of kind (dropped or passed) of f exceeds min. */
static void wait_counter(const struct soccr_flow *f, bool dropped, int dir, uint64_t min)
{
	uint64_t d[2], p[2];

	for (int i = 0; i < WAIT_MS / 10; i++) {
		counters(f, d, p);
		if ((dropped ? d : p)[dir] > min)
			return;
		usleep(10000);
	}
	fail_msg("%s[%d] stayed at %llu", dropped ? "dropped" : "passed", dir,
		 (unsigned long long)(dropped ? d : p)[dir]);
}

/* Nothing readable on fd right now. */
static void assert_nothing_to_read(int fd)
{
	char c;

	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void send_pattern(int fd, size_t off, size_t len, uint32_t seed)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	tns_pattern(buf, len, off, seed);
	assert_int_equal(tns_write_all(fd, buf, len, WAIT_MS), 0);
	free(buf);
}

static void expect_pattern(int fd, size_t off, size_t len, uint32_t seed)
{
	char *want = malloc(len), *got = malloc(len);

	assert_non_null(want);
	assert_non_null(got);
	tns_pattern(want, len, off, seed);
	assert_int_equal(tns_read_all(fd, got, len, WAIT_MS), 0);
	assert_memory_equal(got, want, len);
	free(want);
	free(got);
}

/* The unlocked connection: a round of data both ways, checked byte for byte. */
static void side_round(int c, int s, size_t *off)
{
	send_pattern(c, *off, SIDE_BYTES, SEED_LOCAL);
	expect_pattern(s, *off, SIDE_BYTES, SEED_LOCAL);
	send_pattern(s, *off, SIDE_BYTES, SEED_PEER);
	expect_pattern(c, *off, SIDE_BYTES, SEED_PEER);
	*off += SIDE_BYTES;
}

/*
 * Inject, from the peer to the local socket, the next `len` bytes of the
 * peer's stream (offset off, at sequence number seq), acking ack. Sent on lo
 * of namespace a with the peer's source address and SO_MARK = SOCCR_MARK.
 */
static void inject_peer_bytes(int nsfd, const struct soccr_flow *f, uint32_t seq, uint32_t ack,
			      size_t off, size_t len)
{
	struct soccr_injector_opts io = { .sz = sizeof(io), .ifname = "lo" };
	struct soccr_injector *inj = NULL;
	struct soccr_segment seg;
	char *payload = malloc(len);

	assert_non_null(payload);
	tns_pattern(payload, len, off, SEED_PEER);
	memset(&seg, 0, sizeof(seg));
	seg.family = f->family;
	seg.src = f->daddr;
	seg.dst = f->saddr;
	seg.sport = f->dport;
	seg.dport = f->sport;
	seg.seq = seq;
	seg.ack = ack;
	seg.flags = SOCCR_TCP_ACK | SOCCR_TCP_PSH;
	seg.window = 0xffff;
	seg.payload = payload;
	seg.payload_len = len;

	assert_int_equal(tns_enter(nsfd), 0);
	assert_int_equal(soccr_injector_open(&io, &inj), 0);
	assert_int_equal(soccr_injector_send_segment(inj, &seg), 0);
	soccr_injector_close(inj);
	assert_int_equal(tns_leave(), 0);
	free(payload);
}

static void locked_connection(int family, bool mapped)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	struct soccr_flow f;
	uint64_t d[2], pa[2];
	uint32_t rcv_nxt, snd_nxt;
	size_t side = 0;
	int c1, s1, c2, s2;

	assert_int_equal(tns_tcp_connect(&pair, family, mapped, &c1, &s1), 0);
	assert_int_equal(tns_tcp_connect(&pair, family, mapped, &c2, &s2), 0);

	/* Warm up both streams, then take the local socket's sequence numbers. */
	send_pattern(s1, 0, WARMUP, SEED_PEER);
	expect_pattern(c1, 0, WARMUP, SEED_PEER);
	send_pattern(c1, 0, WARMUP, SEED_LOCAL);
	expect_pattern(s1, 0, WARMUP, SEED_LOCAL);
	side_round(c2, s2, &side);
	assert_int_equal(tns_repair(c1, 1), 0);
	assert_int_equal(tns_queue_seq(c1, TCP_RECV_QUEUE, &rcv_nxt), 0);
	assert_int_equal(tns_queue_seq(c1, TCP_SEND_QUEUE, &snd_nxt), 0);
	assert_int_equal(tns_repair(c1, 0), 0);

	/* Lock the first connection, as seen from the local socket. */
	assert_int_equal(getsockname(c1, (struct sockaddr *)&l, &ll), 0);
	assert_int_equal(getpeername(c1, (struct sockaddr *)&p, &pl), 0);
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&l,
						  (struct sockaddr *)&p), 0);
	assert_int_equal(f.family, mapped ? AF_INET : family);
	assert_int_equal(soccr_lock_add(lock, &f), 0);

	/* The peer keeps sending: dropped at our ingress, never read locally. */
	send_pattern(s1, WARMUP, PEER_LOCKED, SEED_PEER);
	wait_counter(&f, true, 1, 0);
	side_round(c2, s2, &side);
	assert_nothing_to_read(c1);

	/* Our own segments are dropped at egress: the peer receives nothing. */
	send_pattern(c1, WARMUP, LOCAL_LOCKED, SEED_LOCAL);
	wait_counter(&f, true, 0, 0);
	side_round(c2, s2, &side);
	assert_nothing_to_read(s1);
	assert_nothing_to_read(c1);

	/*
	 * The next INJECTED bytes of the peer's stream, injected with the mark,
	 * get through (lo egress and ingress both count them) and are read.
	 */
	inject_peer_bytes(pair.nsfd[0], &f, rcv_nxt, snd_nxt, WARMUP, INJECTED);
	expect_pattern(c1, WARMUP, INJECTED, SEED_PEER);
	counters(&f, d, pa);
	assert_true(pa[1] >= 2);
	assert_int_equal(pa[0], 0);
	side_round(c2, s2, &side);
	assert_nothing_to_read(s1);

	/* Unlock: both streams complete, in order, nothing lost or doubled. */
	assert_int_equal(soccr_lock_del(lock, &f), 0);
	expect_pattern(c1, WARMUP + INJECTED, PEER_LOCKED - INJECTED, SEED_PEER);
	expect_pattern(s1, WARMUP, LOCAL_LOCKED, SEED_LOCAL);
	side_round(c2, s2, &side);
	/* And they keep going. */
	send_pattern(s1, WARMUP + PEER_LOCKED, WARMUP, SEED_PEER);
	expect_pattern(c1, WARMUP + PEER_LOCKED, WARMUP, SEED_PEER);
	assert_nothing_to_read(c1);
	assert_nothing_to_read(s1);

	close(c1);
	close(s1);
	close(c2);
	close(s2);
}

static void test_locked_flow_v4_blocked_both_ways_marked_passes_nothing_lost(void **state)
{
	(void)state;
	locked_connection(AF_INET, false);
}

static void test_locked_flow_v6_blocked_both_ways_marked_passes_nothing_lost(void **state)
{
	(void)state;
	locked_connection(AF_INET6, false);
}

static void test_locked_flow_v4_mapped_socket_blocked_nothing_lost(void **state)
{
	(void)state;
	locked_connection(AF_INET, true);
}

/* ---- detach and coexistence, each in a fresh pair ----------------------------------- */

static bool has_filter(const char *ns, const char *dev, const char *hook, const char *what)
{
	return tns_sh(ns, "tc filter show dev %s %s | grep -q \"%s\"", dev, hook, what) == 0;
}

static bool has_clsact(const char *ns, const char *dev)
{
	return tns_sh(ns, "tc qdisc show dev %s | grep -q clsact", dev) == 0;
}

/* After the last fd is gone the kernel frees the program (after an RCU grace period). */
static void wait_prog_gone(__u32 id)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0 && errno == ENOENT)
			return;
		if (fd >= 0)
			close(fd);
		usleep(10000);
	}
	fail_msg("program id %u still loaded", id);
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

/* Last resort (a failed assertion outside cmocka's reach, exit()): no pin dir stays. */
static void rm_all_pins(void)
{
	rm_pins("");
	rm_pins("-detach");
	rm_pins("-coexist");
	rm_pins("-old");
}

static int own_teardown(void **state)
{
	(void)state;
	unsetenv("SOCCR_NO_TCX");
	soccr_lock_close(lk);
	lk = NULL;
	soccr_lock_test__destroy(other);
	other = NULL;
	/* The namespace takes its filters with it; the pins are ours to remove. */
	tns_pair_cleanup(&q);
	rm_pins("-detach");
	rm_pins("-coexist");
	rm_pins("-old");
	return 0;
}

/*
 * How many times program id sits at one hook of dev in namespace nsfd: the
 * kernel's tcx list (BPF_PROG_QUERY, 46/47: BPF_TCX_INGRESS/EGRESS) plus the
 * classic filters tc shows at our handle.
 */
static int count_at_hook(int nsfd, const char *ns, const char *dev, bool egress, __u32 id)
{
	LIBBPF_OPTS(bpf_prog_query_opts, qo);
	__u32 ids[64];
	int n = 0;

	assert_int_equal(tns_enter(nsfd), 0);
	qo.prog_ids = ids;
	qo.prog_cnt = 64;
	if (!bpf_prog_query_opts((int)if_nametoindex(dev), egress ? 47 : 46, &qo))
		for (__u32 i = 0; i < qo.prog_cnt; i++)
			n += ids[i] == id;
	assert_int_equal(tns_leave(), 0);
	for (int k = 0; k < 8; k++)
		if (tns_sh(ns, "test $(tc filter show dev %s %s | grep -c \"handle 0xc114\") -eq %d",
			   dev, egress ? "egress" : "ingress", k) == 0)
			return n + k;
	return -1;
}

static void detach_leaves_nothing(bool classic)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };
	char dir[80];
	__u32 id;

	if (classic)
		assert_int_equal(setenv("SOCCR_NO_TCX", "1", 1), 0);
	assert_int_equal(tns_pair_setup(&q), 0);
	snprintf(dir, sizeof(dir), "%s-detach", pin_dir);
	opts.pin_dir = dir;
	assert_int_equal(soccr_lock_open(&opts, &lk), 0);
	id = prog_id(soccr_lock_prog_fd(lk));
	assert_int_equal(tns_enter(q.nsfd[0]), 0);
	assert_int_equal(soccr_lock_attach_all(lk), 0);
	/* Twice is harmless. */
	assert_int_equal(soccr_lock_attach_all(lk), 0);
	assert_int_equal(soccr_lock_attach(lk, "lo"), 0);
	assert_int_equal(tns_leave(), 0);
	for (int i = 0; i < 2; i++) {
		const char *dev = i ? "lo" : q.ifname[0];

		/* Exactly one of ours per hook, made the way asked. */
		assert_int_equal(count_at_hook(q.nsfd[0], q.ns[0], dev, false, id), 1);
		assert_int_equal(count_at_hook(q.nsfd[0], q.ns[0], dev, true, id), 1);
		assert_int_equal(has_filter(q.ns[0], dev, "ingress", "handle 0xc114"), classic);
		assert_int_equal(has_filter(q.ns[0], dev, "egress", "handle 0xc114"), classic);
	}
	assert_int_equal(access(dir, F_OK), 0);

	assert_int_equal(tns_enter(q.nsfd[0]), 0);
	assert_int_equal(soccr_lock_detach(lk), 0);
	assert_int_equal(tns_leave(), 0);
	soccr_lock_close(lk);
	lk = NULL;
	for (int i = 0; i < 2; i++) {
		const char *dev = i ? "lo" : q.ifname[0];

		assert_int_equal(count_at_hook(q.nsfd[0], q.ns[0], dev, false, id), 0);
		assert_int_equal(count_at_hook(q.nsfd[0], q.ns[0], dev, true, id), 0);
		assert_false(has_filter(q.ns[0], dev, "ingress", "bpf"));
		assert_false(has_filter(q.ns[0], dev, "egress", "bpf"));
		/* We created the clsact qdiscs (if any) and nobody else uses them: gone too. */
		assert_false(has_clsact(q.ns[0], dev));
	}
	assert_int_not_equal(access(dir, F_OK), 0);
	wait_prog_gone(id);
	unsetenv("SOCCR_NO_TCX");
}

static void test_detach_leaves_no_attachment_qdisc_pin_or_program_tcx(void **state)
{
	(void)state;
	detach_leaves_nothing(false);
}

static void test_detach_leaves_no_filter_qdisc_pin_or_program_clsact(void **state)
{
	(void)state;
	detach_leaves_nothing(true);
}

static void test_other_clsact_filter_runs_beside_ours_and_survives_detach(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, topts, .handle = 1, .priority = 2);
	struct soccr_flow f;
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	uint32_t rcv_nxt, snd_nxt;
	uint64_t seen, marked;
	char dir[80];
	int c, s;

	(void)state;
	assert_int_equal(tns_pair_setup(&q), 0);
	other = soccr_lock_test__open_and_load();
	assert_non_null(other);

	/* Someone else's filter first (priority 2, after ours at 1), on lo and the veth. */
	assert_int_equal(tns_enter(q.nsfd[0]), 0);
	for (int i = 0; i < 2; i++) {
		hook.ifindex = i ? (int)if_nametoindex("lo") : q.ifindex[0];
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		assert_int_equal(bpf_tc_hook_create(&hook), 0);
		topts.prog_fd = bpf_program__fd(other->progs.lt_count);
		hook.attach_point = BPF_TC_INGRESS;
		assert_int_equal(bpf_tc_attach(&hook, &topts), 0);
		topts.prog_fd = bpf_program__fd(other->progs.lt_count);
		topts.prog_id = 0;
		topts.flags = 0;
		hook.attach_point = BPF_TC_EGRESS;
		assert_int_equal(bpf_tc_attach(&hook, &topts), 0);
		topts.prog_id = 0;
		topts.flags = 0;
	}
	snprintf(dir, sizeof(dir), "%s-coexist", pin_dir);
	opts.pin_dir = dir;
	assert_int_equal(soccr_lock_open(&opts, &lk), 0);
	assert_int_equal(soccr_lock_attach(lk, q.ifname[0]), 0);
	assert_int_equal(soccr_lock_attach(lk, "lo"), 0);
	assert_int_equal(tns_leave(), 0);

	/* An unlocked connection: we pass with TC_ACT_UNSPEC, so the other filter sees it. */
	assert_int_equal(tns_tcp_connect(&q, AF_INET, false, &c, &s), 0);
	send_pattern(c, 0, WARMUP, SEED_LOCAL);
	expect_pattern(s, 0, WARMUP, SEED_LOCAL);
	assert_true(other->bss->seen > 0);

	/* Locked: a marked injected segment passes ours and reaches the other filter too. */
	assert_int_equal(tns_repair(c, 1), 0);
	assert_int_equal(tns_queue_seq(c, TCP_RECV_QUEUE, &rcv_nxt), 0);
	assert_int_equal(tns_queue_seq(c, TCP_SEND_QUEUE, &snd_nxt), 0);
	assert_int_equal(tns_repair(c, 0), 0);
	assert_int_equal(getsockname(c, (struct sockaddr *)&l, &ll), 0);
	assert_int_equal(getpeername(c, (struct sockaddr *)&p, &pl), 0);
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&l,
						  (struct sockaddr *)&p), 0);
	assert_int_equal(soccr_lock_add(lk, &f), 0);
	marked = other->bss->seen_marked;
	inject_peer_bytes(q.nsfd[0], &f, rcv_nxt, snd_nxt, WARMUP, INJECTED);
	expect_pattern(c, WARMUP, INJECTED, SEED_PEER);
	/* lo egress and lo ingress: the other filter ran after ours both times. */
	assert_true(other->bss->seen_marked >= marked + 2);
	assert_int_equal(soccr_lock_del(lk, &f), 0);
	close(c);
	close(s);

	/* Our detach takes only our filters; the other one and its clsact stay. */
	assert_int_equal(tns_enter(q.nsfd[0]), 0);
	assert_int_equal(soccr_lock_detach(lk), 0);
	assert_int_equal(tns_leave(), 0);
	soccr_lock_close(lk);
	lk = NULL;
	for (int i = 0; i < 2; i++) {
		const char *dev = i ? "lo" : q.ifname[0];

		assert_false(has_filter(q.ns[0], dev, "ingress", "handle 0xc114"));
		assert_false(has_filter(q.ns[0], dev, "egress", "handle 0xc114"));
		assert_true(has_filter(q.ns[0], dev, "ingress", "lt_count"));
		assert_true(has_filter(q.ns[0], dev, "egress", "lt_count"));
		assert_true(has_clsact(q.ns[0], dev));
	}
	/* And it still runs. */
	seen = other->bss->seen;
	assert_int_equal(tns_tcp_connect(&q, AF_INET6, false, &c, &s), 0);
	send_pattern(c, 0, WARMUP, SEED_LOCAL);
	expect_pattern(s, 0, WARMUP, SEED_LOCAL);
	assert_true(other->bss->seen > seen);
	close(c);
	close(s);
}

/* A lock of an older layout, pinned and attached: reported, refused, removed. */
static void test_older_layout_is_reported_refused_and_removed(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };
	struct soccr_lock_opts here = { .sz = sizeof(here), .flags = SOCCR_LOCK_ATTACHED };
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, topts, .handle = SOCCR_LOCK_TC_HANDLE,
			    .priority = SOCCR_LOCK_TC_PRIO);
	struct soccr_lock_status st = { .sz = sizeof(st) };
	char dir[80], path[96];
	__u32 id;

	(void)state;
	assert_int_equal(tns_pair_setup(&q), 0);
	other = soccr_lock_test__open_and_load();
	assert_non_null(other);
	id = prog_id(bpf_program__fd(other->progs.soccr_lock));
	snprintf(dir, sizeof(dir), "%s-old", pin_dir);
	snprintf(path, sizeof(path), "%s/prog", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(bpf_obj_pin(bpf_program__fd(other->progs.soccr_lock), path), 0);
	opts.pin_dir = dir;
	/* Pinned: the status names it; opening it is refused. */
	assert_int_equal(tns_enter(q.nsfd[0]), 0);
	assert_int_equal(soccr_lock_status(&opts, &st), 0);
	assert_true(st.found);
	assert_int_equal(st.prog_id, id);
	assert_int_equal(st.layout, 1);
	assert_int_equal(st.problems, SOCCR_LOCK_PB_LAYOUT | SOCCR_LOCK_PB_PIN_ONLY);
	soccr_lock_status_free(&st);
	assert_int_equal(soccr_lock_open(&opts, &lk), -EPROTO);
	assert_null(lk);
	/* Attached on lo of the namespace: this namespace's lock is that one, refused too. */
	hook.ifindex = (int)if_nametoindex("lo");
	assert_int_equal(bpf_tc_hook_create(&hook), 0);
	topts.prog_fd = bpf_program__fd(other->progs.soccr_lock);
	hook.attach_point = BPF_TC_INGRESS;
	assert_int_equal(bpf_tc_attach(&hook, &topts), 0);
	topts.prog_fd = bpf_program__fd(other->progs.soccr_lock);
	topts.prog_id = 0;
	hook.attach_point = BPF_TC_EGRESS;
	assert_int_equal(bpf_tc_attach(&hook, &topts), 0);
	st.sz = sizeof(st);
	assert_int_equal(soccr_lock_status(NULL, &st), 0);
	assert_int_equal(st.prog_id, id);
	assert_int_equal(st.problems, SOCCR_LOCK_PB_LAYOUT);
	assert_int_equal(st.nhooks, 2);
	soccr_lock_status_free(&st);
	assert_int_equal(soccr_lock_open(&here, &lk), -EPROTO);
	assert_int_equal(soccr_lock_open(NULL, &lk), -EPROTO);
	/* Detach without a handle takes it off the devices and unpins it. */
	assert_int_equal(soccr_lock_detach_netns(&opts), 0);
	st.sz = sizeof(st);
	assert_int_equal(soccr_lock_status(&opts, &st), 0);
	assert_false(st.found);
	assert_int_equal(st.nhooks, 0);
	soccr_lock_status_free(&st);
	assert_int_equal(tns_leave(), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_false(has_filter(q.ns[0], "lo", "ingress", "bpf"));
	assert_false(has_filter(q.ns[0], "lo", "egress", "bpf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_locked_flow_v4_blocked_both_ways_marked_passes_nothing_lost,
			pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(
			test_locked_flow_v6_blocked_both_ways_marked_passes_nothing_lost,
			pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(
			test_locked_flow_v4_mapped_socket_blocked_nothing_lost, pair_setup,
			pair_teardown),
		cmocka_unit_test_teardown(test_detach_leaves_no_attachment_qdisc_pin_or_program_tcx,
					  own_teardown),
		cmocka_unit_test_teardown(test_detach_leaves_no_filter_qdisc_pin_or_program_clsact,
					  own_teardown),
		cmocka_unit_test_teardown(
			test_other_clsact_filter_runs_beside_ours_and_survives_detach,
			own_teardown),
		cmocka_unit_test_teardown(test_older_layout_is_reported_refused_and_removed,
					  own_teardown),
	};

	tns_require_root();
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-test-%d-net", (int)getpid());
	atexit(rm_all_pins);
	libsoccr_set_log(SOCCR_LOG_ERR, tns_log_stderr);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
