// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * classifier: the network lock's tc program, per packet, through
 * BPF_PROG_TEST_RUN (the kernel runs it `repeat` times on one skb and
 * reports the mean duration), against an empty program (return TC_ACT_OK,
 * loaded from two raw instructions) measured in the same rounds.
 *
 *   locked    a segment of a locked flow, unmarked: counted and dropped
 *   unlocked  a segment of a flow that is not locked: one map miss, passed
 *   marked    a segment of a locked flow carrying SOCCR_MARK: passed
 *             (counted per flow), as injected segments are
 *
 * each over IPv4 and IPv6, frames built by soccr_pkt_build() (Ethernet,
 * TCP with timestamps, 64 bytes of payload). The lock holds 10,000 other
 * flows besides, so lookups hit a populated table. Each verdict is checked.
 * The lock lives in a private pin directory /sys/fs/bpf/soccr-bench-<pid>,
 * removed at exit.
 *
 * Env: BENCH_ROUNDS (11), BENCH_CLS_REPEAT (runs per measurement, 1000000).
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <signal.h>

#include <bpf/bpf.h>

#include <soccr/lock.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>

#include "bench.h"

#define PREFIX	    "classifier"
#define OTHER_FLOWS 10000

static struct soccr_lock *lock, *fast; /* fast: SOCCR_LOCK_NO_MARK_COUNT */

static void cleanup(void)
{
	if (lock) {
		soccr_lock_detach(lock);
		soccr_lock_close(lock);
		lock = NULL;
	}
	if (fast) {
		soccr_lock_detach(fast);
		soccr_lock_close(fast);
		fast = NULL;
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* return TC_ACT_OK */
static int load_empty(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_OK},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "soccr_bench_nop", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd < 0)
		bench_die("bpf_prog_load (empty program)", errno);
	return fd;
}

struct pkt {
	const char *name; /* "locked_v4", ... */
	uint8_t frame[256];
	size_t len;
	uint32_t mark;
	int verdict; /* what the lock must answer */
	struct bench_series *ours, *empty;
};

static void build(struct pkt *p, int family, bool lockit, bool marked)
{
	struct soccr_segment seg;
	static const uint8_t payload[64] = {1, 2, 3};
	struct soccr_flow flow;
	ssize_t len;
	int err;

	memset(&seg, 0, sizeof(seg));
	seg.family = family;
	if (family == AF_INET) {
		inet_pton(AF_INET, "10.9.0.1", &seg.src.v4);
		inet_pton(AF_INET, lockit ? "10.9.0.2" : "10.9.0.3", &seg.dst.v4);
	} else {
		inet_pton(AF_INET6, "fd00:9::1", &seg.src.v6);
		inet_pton(AF_INET6, lockit ? "fd00:9::2" : "fd00:9::3", &seg.dst.v6);
	}
	seg.sport = 443;
	seg.dport = 40000;
	seg.seq = 1000;
	seg.ack = 2000;
	seg.flags = SOCCR_TCP_ACK | SOCCR_TCP_PSH;
	seg.window = 500;
	seg.opts = SOCCR_OPT_TS;
	seg.ts_val = 1;
	seg.ts_ecr = 2;
	seg.payload = payload;
	seg.payload_len = sizeof(payload);
	len = soccr_pkt_build(&seg, SOCCR_LINK_ETH, p->frame, sizeof(p->frame));
	if (len < 0)
		bench_die("soccr_pkt_build", (int)len);
	p->len = (size_t)len;
	p->mark = marked ? SOCCR_MARK : 0;
	p->verdict = lockit && !marked ? TC_ACT_SHOT : TC_ACT_UNSPEC;
	if (lockit) {
		/* Locked as seen from the receiving socket: local = dst, peer = src. */
		memset(&flow, 0, sizeof(flow));
		flow.family = family;
		flow.saddr = seg.dst;
		flow.daddr = seg.src;
		flow.sport = seg.dport;
		flow.dport = seg.sport;
		err = soccr_lock_add(lock, &flow);
		if (!err)
			err = soccr_lock_add(fast, &flow);
		if (err)
			bench_die("soccr_lock_add", err);
	}
}

/* Mean ns per run of prog on p, as the kernel measured it. */
static double test_run(int prog, const struct pkt *p, int repeat, bool check)
{
	struct __sk_buff ctx = {.mark = p->mark};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->frame, .data_size_in = (__u32)p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &o))
		bench_die("BPF_PROG_TEST_RUN", errno);
	if (check && (int)o.retval != p->verdict) {
		fprintf(stderr, "%s: %s: the lock answered %d, expected %d\n", bench_prog, p->name,
			(int)o.retval, p->verdict);
		exit(1);
	}
	return (double)o.duration;
}

int main(void)
{
	struct soccr_lock_opts lopts = {.sz = sizeof(lopts)};
	struct soccr_lock_opts fopts = {.sz = sizeof(fopts), .flags = SOCCR_LOCK_NO_MARK_COUNT};
	struct bench_series *marked_fast[2];
	char fast_dir[80];
	int fast_prog;
	static const char *const kinds[] = {"locked", "unlocked", "marked"};
	struct bench_series *empty[2];
	char pin_dir[64], name[64];
	struct pkt pkts[6];
	int rounds, repeat, prog, nop, err;

	bench_init("bench_classifier");
	rounds = bench_rounds();
	repeat = (int)bench_env_long("BENCH_CLS_REPEAT", 1000000, 1000, 100000000);

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-bench-%d", (int)getpid());
	lopts.pin_dir = pin_dir;
	atexit(cleanup);
	/* SIGPIPE too: `make bench | head` must not leave pins behind. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal);
	err = soccr_lock_open(&lopts, &lock);
	if (err)
		bench_die("soccr_lock_open", err);
	prog = soccr_lock_prog_fd(lock);
	if (prog < 0)
		bench_die("soccr_lock_prog_fd", prog);
	snprintf(fast_dir, sizeof(fast_dir), "%s-nmc", pin_dir);
	fopts.pin_dir = fast_dir;
	err = soccr_lock_open(&fopts, &fast);
	if (err)
		bench_die("soccr_lock_open (SOCCR_LOCK_NO_MARK_COUNT)", err);
	fast_prog = soccr_lock_prog_fd(fast);
	if (fast_prog < 0)
		bench_die("soccr_lock_prog_fd", fast_prog);
	nop = load_empty();

	/* Other locked flows, so that the lookups meet a populated table. */
	for (long i = 0; i < OTHER_FLOWS; i++) {
		struct soccr_flow f = {.family = AF_INET};

		f.saddr.v4.s_addr = htonl(0x0a0a0000u | (uint32_t)i);
		f.daddr.v4.s_addr = htonl(0x0a0b0001u);
		f.sport = (uint16_t)(1024 + i % 60000);
		f.dport = 80;
		err = soccr_lock_add(lock, &f);
		if (err)
			bench_die("soccr_lock_add", err);
	}

	for (int fam = 0; fam < 2; fam++) {
		snprintf(name, sizeof(name), PREFIX "_empty_%s", fam ? "v6" : "v4");
		empty[fam] = bench_series(name, "ns");
		for (int k = 0; k < 3; k++) {
			struct pkt *p = &pkts[fam * 3 + k];

			build(p, fam ? AF_INET6 : AF_INET, k != 1, k == 2);
			snprintf(name, sizeof(name), PREFIX "_%s_%s", kinds[k], fam ? "v6" : "v4");
			p->ours = bench_series(name, "ns");
			p->name = p->ours->name;
			p->empty = empty[fam];
		}
		snprintf(name, sizeof(name), PREFIX "_marked_uncounted_%s", fam ? "v6" : "v4");
		marked_fast[fam] = bench_series(name, "ns");
	}

	for (int r = 0; r <= rounds; r++) {
		for (int fam = 0; fam < 2; fam++) {
			double e = test_run(nop, &pkts[fam * 3], repeat, false);

			if (r)
				bench_add(empty[fam], e);
			for (int k = 0; k < 3; k++) {
				struct pkt *p = &pkts[fam * 3 + (k + r) % 3];
				double v = test_run(prog, p, repeat, true);

				if (r)
					bench_add(p->ours, v);
			}
			/* The marked packet through the lock made with SOCCR_LOCK_NO_MARK_COUNT. */
			e = test_run(fast_prog, &pkts[fam * 3 + 2], repeat, true);
			if (r)
				bench_add(marked_fast[fam], e);
		}
	}

	for (int i = 0; i < 6; i++)
		bench_report(pkts[i].ours, PREFIX, pkts[i].empty, NULL);
	bench_report(marked_fast[0], PREFIX, empty[0], NULL);
	bench_report(marked_fast[1], PREFIX, empty[1], NULL);
	bench_report(empty[0], PREFIX, NULL);
	bench_report(empty[1], PREFIX, NULL);
	/*
	 * Marked packets: within 1.5x of the empty program with
	 * SOCCR_LOCK_NO_MARK_COUNT; counted per flow (the default), they are
	 * parsed and looked up like any other, so the locked packets' bound.
	 */
	for (int i = 0; i < 6; i++) {
		double rr = bench_ratio(pkts[i].ours, pkts[i].empty);

		bench_target(pkts[i].ours->name, true, rr > 0 && rr <= 5.0,
			     "within 5x of the empty program: %.2fx", rr);
	}
	for (int fam = 0; fam < 2; fam++) {
		double rr = bench_ratio(marked_fast[fam], empty[fam]);

		bench_target(marked_fast[fam]->name, true, rr > 0 && rr <= 1.5,
			     "marked, within 1.5x of the empty program: %.2fx", rr);
	}
	close(nop);
	cleanup();
	bench_table();
	return 0;
}
