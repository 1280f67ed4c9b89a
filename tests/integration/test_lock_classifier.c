// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The lock's tc classifier through BPF_PROG_TEST_RUN: frames from our own
 * builder (soccr_pkt_build), edited where a test needs a VLAN tag, IPv4
 * options, IPv6 extension headers or another protocol; verdicts and the
 * per-flow counters (read back with soccr_lock_list) checked for each.
 *
 * Root is needed for BPF. The test runs in a private network namespace (so
 * the final soccr_lock_detach() cannot touch the host's interfaces) with a
 * pin directory of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <soccr/lock.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>

#include "tns.h"

#define PASS ((int)TC_ACT_UNSPEC)
#define DROP ((int)TC_ACT_SHOT)

#define V4_A "192.0.2.1"
#define V4_B "198.51.100.7"
#define V6_A "2001:db8::1"
#define V6_B "2001:db8:ffff::2"
#define PORT_A 40000
#define PORT_B 443

#define ETH_OFF_TYPE 12
#define IP4_OFF_PROTO 9
#define IP4_OFF_FRAG 6
#define IP6_OFF_NEXT 6
#define IP6_OFF_PLEN 4
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58

static struct soccr_lock *lock;
static int prog_fd;
static char pin_dir[64];

struct frame {
	uint8_t b[512];
	size_t len;
	size_t l3;	/* offset of the IP header */
	size_t l4;	/* offset of the TCP header */
};

static void fill_flow(struct soccr_flow *f, int family, const char *s, uint16_t sp, const char *d,
		      uint16_t dp)
{
	memset(f, 0, sizeof(*f));
	f->family = family;
	assert_int_equal(inet_pton(family, s, &f->saddr), 1);
	assert_int_equal(inet_pton(family, d, &f->daddr), 1);
	f->sport = sp;
	f->dport = dp;
}

/* A TCP segment s:sp -> d:dp with a little payload, Ethernet-framed. */
static void build(struct frame *fr, int family, const char *s, uint16_t sp, const char *d,
		  uint16_t dp)
{
	static const char payload[] = "locked?";
	struct soccr_segment seg;
	ssize_t n;

	memset(&seg, 0, sizeof(seg));
	memset(fr, 0, sizeof(*fr));
	seg.family = family;
	assert_int_equal(inet_pton(family, s, &seg.src), 1);
	assert_int_equal(inet_pton(family, d, &seg.dst), 1);
	seg.sport = sp;
	seg.dport = dp;
	seg.seq = 1000;
	seg.ack = 2000;
	seg.flags = SOCCR_TCP_ACK | SOCCR_TCP_PSH;
	seg.window = 512;
	seg.payload = payload;
	seg.payload_len = sizeof(payload) - 1;
	n = soccr_pkt_build(&seg, SOCCR_LINK_ETH, fr->b, sizeof(fr->b));
	assert_true(n > 0);
	fr->len = (size_t)n;
	fr->l3 = SOCCR_ETH_HLEN;
	fr->l4 = fr->l3 + (family == AF_INET ? 20 : 40);
}

/* Insert len bytes at off (headers are edited in place; checksums do not matter to tc). */
static uint8_t *insert(struct frame *fr, size_t off, size_t len)
{
	assert_true(fr->len + len <= sizeof(fr->b));
	memmove(fr->b + off + len, fr->b + off, fr->len - off);
	memset(fr->b + off, 0, len);
	fr->len += len;
	if (fr->l4 >= off)
		fr->l4 += len;
	if (fr->l3 >= off && off != fr->l3)
		fr->l3 += len;
	return fr->b + off;
}

static void add_vlan(struct frame *fr, uint16_t tpid, uint16_t vid)
{
	uint8_t *tag = insert(fr, ETH_OFF_TYPE, 4);

	tag[0] = tpid >> 8;
	tag[1] = tpid & 0xff;
	tag[2] = vid >> 8;
	tag[3] = vid & 0xff;
	fr->l3 += 4;
}

/* IPv4 options: n 32-bit words of NOPs (RFC 791 option type 1), IHL and total length fixed. */
static void add_ip4_options(struct frame *fr, unsigned int words)
{
	uint8_t *ip = fr->b + fr->l3, *opt;
	uint16_t tot;

	opt = insert(fr, fr->l3 + 20, words * 4);
	memset(opt, 1, words * 4);
	ip = fr->b + fr->l3;
	ip[0] = (uint8_t)(0x40 | (5 + words));
	tot = (uint16_t)(ip[2] << 8 | ip[3]) + (uint16_t)(words * 4);
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
}

/*
 * Insert an IPv6 extension header of type 'type' right after the fixed
 * header (so the last one added comes first in the chain). For the fragment
 * header, frag is the 16-bit offset/flags field.
 */
static void add_ip6_ext(struct frame *fr, uint8_t type, unsigned int len8, uint16_t frag)
{
	size_t len = type == 44 ? 8 : (len8 + 1) * 8;
	uint8_t *ip = fr->b + fr->l3, *h;
	uint16_t plen;

	h = insert(fr, fr->l3 + 40, len);
	ip = fr->b + fr->l3;
	h[0] = ip[IP6_OFF_NEXT];
	if (type == 44) {
		h[2] = frag >> 8;
		h[3] = frag & 0xff;
	} else {
		h[1] = (uint8_t)len8;
		if (len > 2)
			h[2] = 1; /* PadN option filling the rest (RFC 8200 4.2) */
		if (len > 3)
			h[3] = (uint8_t)(len - 4);
	}
	ip[IP6_OFF_NEXT] = type;
	plen = (uint16_t)(ip[IP6_OFF_PLEN] << 8 | ip[IP6_OFF_PLEN + 1]) + (uint16_t)len;
	ip[IP6_OFF_PLEN] = plen >> 8;
	ip[IP6_OFF_PLEN + 1] = plen & 0xff;
}

static int run_len(const struct frame *fr, size_t len, uint32_t mark)
{
	struct __sk_buff ctx;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->b, .data_size_in = (__u32)len,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	memset(&ctx, 0, sizeof(ctx));
	ctx.mark = mark;
	err = bpf_prog_test_run_opts(prog_fd, &o);
	assert_int_equal(err, 0);
	return (int)o.retval;
}

static int run(const struct frame *fr, uint32_t mark)
{
	return run_len(fr, fr->len, mark);
}

/* Counters of flow f (as added): out = f's saddr -> daddr. */
static void counters(const struct soccr_flow *f, uint64_t dropped[2], uint64_t passed[2])
{
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;
	bool found = false;

	assert_int_equal(soccr_lock_list(lock, &e, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (e[i].flow.family != f->family || e[i].flow.sport != f->sport ||
		    e[i].flow.dport != f->dport ||
		    memcmp(&e[i].flow.saddr, &f->saddr, sizeof(f->saddr)) ||
		    memcmp(&e[i].flow.daddr, &f->daddr, sizeof(f->daddr)))
			continue;
		found = true;
		memcpy(dropped, e[i].dropped, sizeof(e[i].dropped));
		memcpy(passed, e[i].passed, sizeof(e[i].passed));
	}
	free(e);
	assert_true(found);
}

static void expect_counters(const struct soccr_flow *f, uint64_t d_out, uint64_t d_in,
			    uint64_t p_out, uint64_t p_in)
{
	uint64_t d[2], p[2];

	counters(f, d, p);
	assert_int_equal(d[0], d_out);
	assert_int_equal(d[1], d_in);
	assert_int_equal(p[0], p_out);
	assert_int_equal(p[1], p_in);
}

static int clear_flows(void **state)
{
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;

	(void)state;
	if (soccr_lock_list(lock, &e, &n))
		return -1;
	for (size_t i = 0; i < n; i++)
		soccr_lock_del(lock, &e[i].flow);
	free(e);
	return 0;
}

static void locked_flow_dropped_both_ways(int family, const char *a, const char *b)
{
	struct soccr_flow f;
	struct frame out, in;

	fill_flow(&f, family, a, PORT_A, b, PORT_B);
	build(&out, family, a, PORT_A, b, PORT_B);
	build(&in, family, b, PORT_B, a, PORT_A);
	assert_int_equal(run(&out, 0), PASS);
	assert_int_equal(run(&in, 0), PASS);

	assert_int_equal(soccr_lock_add(lock, &f), 0);
	assert_int_equal(run(&out, 0), DROP);
	assert_int_equal(run(&in, 0), DROP);
	assert_int_equal(run(&in, 0), DROP);
	expect_counters(&f, 1, 2, 0, 0);

	assert_int_equal(soccr_lock_del(lock, &f), 0);
	assert_int_equal(run(&out, 0), PASS);
	assert_int_equal(run(&in, 0), PASS);
}

static void test_locked_v4_dropped_both_directions(void **state)
{
	(void)state;
	locked_flow_dropped_both_ways(AF_INET, V4_A, V4_B);
	/* Either endpoint may sort first in the canonical key: try the other order too. */
	locked_flow_dropped_both_ways(AF_INET, V4_B, V4_A);
}

static void test_locked_v6_dropped_both_directions(void **state)
{
	(void)state;
	locked_flow_dropped_both_ways(AF_INET6, V6_A, V6_B);
	locked_flow_dropped_both_ways(AF_INET6, V6_B, V6_A);
}

static void marked_passes_and_counts(int family, const char *a, const char *b)
{
	struct soccr_flow f;
	struct frame out, in;

	fill_flow(&f, family, a, PORT_A, b, PORT_B);
	build(&out, family, a, PORT_A, b, PORT_B);
	build(&in, family, b, PORT_B, a, PORT_A);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	assert_int_equal(run(&out, SOCCR_MARK), PASS);
	assert_int_equal(run(&in, SOCCR_MARK), PASS);
	assert_int_equal(run(&in, SOCCR_MARK), PASS);
	/* Any other mark is no pass. */
	assert_int_equal(run(&in, SOCCR_MARK + 1), DROP);
	assert_int_equal(run(&out, 1), DROP);
	expect_counters(&f, 1, 1, 1, 2);
}

static void test_marked_packets_pass_and_are_counted_v4(void **state)
{
	(void)state;
	marked_passes_and_counts(AF_INET, V4_A, V4_B);
}

static void test_marked_packets_pass_and_are_counted_v6(void **state)
{
	(void)state;
	marked_passes_and_counts(AF_INET6, V6_A, V6_B);
}

static void test_unlocked_flows_pass(void **state)
{
	struct soccr_flow f;
	struct frame fr;

	(void)state;
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	/* Same addresses, another port on either side; another peer; the v6 twin. */
	build(&fr, AF_INET, V4_A, PORT_A + 1, V4_B, PORT_B);
	assert_int_equal(run(&fr, 0), PASS);
	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B + 1);
	assert_int_equal(run(&fr, 0), PASS);
	build(&fr, AF_INET, V4_A, PORT_A, "198.51.100.8", PORT_B);
	assert_int_equal(run(&fr, 0), PASS);
	build(&fr, AF_INET, V4_A, PORT_B, V4_B, PORT_A);
	assert_int_equal(run(&fr, 0), PASS);
	build(&fr, AF_INET6, "::ffff:" V4_A, PORT_A, "::ffff:" V4_B, PORT_B);
	assert_int_equal(run(&fr, 0), PASS);
	expect_counters(&f, 0, 0, 0, 0);
}

static void test_udp_icmp_arp_of_locked_hosts_pass(void **state)
{
	/* ARP request who-has V4_B tell V4_A (RFC 826), broadcast. */
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06,
		0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1, 192, 0, 2, 1,
		0, 0, 0, 0, 0, 0, 198, 51, 100, 7,
	};
	struct soccr_flow f4, f6;
	struct frame fr;

	(void)state;
	fill_flow(&f4, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fill_flow(&f6, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f4), 0);
	assert_int_equal(soccr_lock_add(lock, &f6), 0);

	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fr.b[fr.l3 + IP4_OFF_PROTO] = IPPROTO_UDP_;
	assert_int_equal(run(&fr, 0), PASS);
	fr.b[fr.l3 + IP4_OFF_PROTO] = IPPROTO_ICMP_;
	assert_int_equal(run(&fr, 0), PASS);

	build(&fr, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	fr.b[fr.l3 + IP6_OFF_NEXT] = IPPROTO_UDP_;
	assert_int_equal(run(&fr, 0), PASS);
	fr.b[fr.l3 + IP6_OFF_NEXT] = IPPROTO_ICMPV6_;
	assert_int_equal(run(&fr, 0), PASS);

	memset(&fr, 0, sizeof(fr));
	memcpy(fr.b, arp, sizeof(arp));
	fr.len = sizeof(arp);
	assert_int_equal(run(&fr, 0), PASS);

	expect_counters(&f4, 0, 0, 0, 0);
	expect_counters(&f6, 0, 0, 0, 0);
}

static void test_vlan_tagged_locked_flow_dropped(void **state)
{
	struct soccr_flow f4, f6;
	struct frame fr;

	(void)state;
	fill_flow(&f4, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fill_flow(&f6, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f4), 0);
	assert_int_equal(soccr_lock_add(lock, &f6), 0);

	build(&fr, AF_INET, V4_B, PORT_B, V4_A, PORT_A);
	add_vlan(&fr, 0x8100, 42);
	assert_int_equal(run(&fr, 0), DROP);
	assert_int_equal(run(&fr, SOCCR_MARK), PASS);
	build(&fr, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	add_vlan(&fr, 0x88a8, 7);	/* 802.1ad outer tag, one tag */
	assert_int_equal(run(&fr, 0), DROP);
	/* A tagged unlocked flow and tagged UDP pass. */
	build(&fr, AF_INET, V4_B, PORT_B + 1, V4_A, PORT_A);
	add_vlan(&fr, 0x8100, 42);
	assert_int_equal(run(&fr, 0), PASS);
	build(&fr, AF_INET, V4_B, PORT_B, V4_A, PORT_A);
	fr.b[fr.l3 + IP4_OFF_PROTO] = IPPROTO_UDP_;
	add_vlan(&fr, 0x8100, 42);
	assert_int_equal(run(&fr, 0), PASS);

	expect_counters(&f4, 0, 1, 0, 1);
	expect_counters(&f6, 1, 0, 0, 0);
}

static void test_ipv4_options_skipped_to_tcp(void **state)
{
	struct soccr_flow f;
	struct frame fr;

	(void)state;
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	for (unsigned int words = 1; words <= 10; words++) {
		build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
		add_ip4_options(&fr, words);
		assert_int_equal(run(&fr, 0), DROP);
	}
	/* IHL below 5 is malformed: passed untouched. */
	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fr.b[fr.l3] = 0x44;
	assert_int_equal(run(&fr, 0), PASS);
	expect_counters(&f, 10, 0, 0, 0);
}

static void test_ipv4_fragments_only_first_matched(void **state)
{
	struct soccr_flow f;
	struct frame fr;

	(void)state;
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	/* First fragment (MF set, offset 0): carries the TCP header, dropped. */
	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fr.b[fr.l3 + IP4_OFF_FRAG] = 0x20;
	fr.b[fr.l3 + IP4_OFF_FRAG + 1] = 0;
	assert_int_equal(run(&fr, 0), DROP);
	/* Non-first fragments: their "ports" are payload bytes; passed. */
	fr.b[fr.l3 + IP4_OFF_FRAG] = 0x20;
	fr.b[fr.l3 + IP4_OFF_FRAG + 1] = 0xb9;	/* offset 185 * 8 */
	assert_int_equal(run(&fr, 0), PASS);
	fr.b[fr.l3 + IP4_OFF_FRAG] = 0x00;	/* last fragment */
	assert_int_equal(run(&fr, 0), PASS);
	expect_counters(&f, 1, 0, 0, 0);
}

static void test_ipv6_extension_headers_skipped_to_tcp(void **state)
{
	struct soccr_flow f;
	struct frame fr;

	(void)state;
	fill_flow(&f, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f), 0);

	/* Hop-by-hop, routing, destination options (8 and 24 bytes), first fragment. */
	build(&fr, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	add_ip6_ext(&fr, 60, 2, 0);
	add_ip6_ext(&fr, 44, 0, 0x0001);	/* offset 0, M flag */
	add_ip6_ext(&fr, 43, 0, 0);
	add_ip6_ext(&fr, 60, 0, 0);
	add_ip6_ext(&fr, 0, 0, 0);
	assert_int_equal(run(&fr, 0), DROP);
	assert_int_equal(run(&fr, SOCCR_MARK), PASS);

	/* Non-first fragment: passed. */
	build(&fr, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	add_ip6_ext(&fr, 44, 0, 0x05a8);	/* offset 181 * 8 */
	assert_int_equal(run(&fr, 0), PASS);

	/* Eight extension headers are walked; a ninth is too many and passes. */
	build(&fr, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	for (int i = 0; i < 8; i++)
		add_ip6_ext(&fr, 60, 0, 0);
	assert_int_equal(run(&fr, 0), DROP);
	add_ip6_ext(&fr, 60, 0, 0);
	assert_int_equal(run(&fr, 0), PASS);

	/* A header we do not walk through (AH, 51) ends the search: passed. */
	build(&fr, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	add_ip6_ext(&fr, 51, 1, 0);
	assert_int_equal(run(&fr, 0), PASS);

	expect_counters(&f, 1, 1, 1, 0);
}

/*
 * Every prefix of a frame: a verdict without error, PASS while the TCP
 * header is incomplete, DROP (locked flow) from the first length that holds
 * it. BPF_PROG_TEST_RUN itself refuses an untagged IPv4/IPv6 frame shorter
 * than its fixed IP header (it looks at it to set up the skb), so those start
 * there; behind a VLAN tag the kernel does not look, and every length from
 * one byte past the Ethernet header is run.
 */
static void truncated_all_lengths(const struct frame *fr, bool tagged, int family)
{
	size_t from = tagged ? SOCCR_ETH_HLEN : fr->l3 + (family == AF_INET ? 20 : 40);

	for (size_t len = from; len <= fr->len; len++)
		assert_int_equal(run_len(fr, len, 0), len >= fr->l4 + 20 ? DROP : PASS);
}

static void test_truncated_headers_pass_at_every_length(void **state)
{
	struct soccr_flow f4, f6;
	struct frame fr;

	(void)state;
	fill_flow(&f4, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	fill_flow(&f6, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	assert_int_equal(soccr_lock_add(lock, &f4), 0);
	assert_int_equal(soccr_lock_add(lock, &f6), 0);

	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	truncated_all_lengths(&fr, false, AF_INET);
	add_ip4_options(&fr, 3);
	truncated_all_lengths(&fr, false, AF_INET);
	add_vlan(&fr, 0x8100, 1);
	truncated_all_lengths(&fr, true, AF_INET);
	build(&fr, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	truncated_all_lengths(&fr, false, AF_INET6);
	add_ip6_ext(&fr, 43, 1, 0);
	add_ip6_ext(&fr, 44, 0, 0);
	add_ip6_ext(&fr, 0, 0, 0);
	truncated_all_lengths(&fr, false, AF_INET6);
	add_vlan(&fr, 0x8100, 1);
	truncated_all_lengths(&fr, true, AF_INET6);
	/*
	 * Three frames per family, each dropped at the 8 lengths from a full
	 * TCP header to the end of the 7-byte payload; passes are not counted.
	 */
	expect_counters(&f4, 3 * 8, 0, 0, 0);
	expect_counters(&f6, 0, 3 * 8, 0, 0);
}

static void test_add_twice_keeps_counters_and_either_orientation_is_one_flow(void **state)
{
	struct soccr_flow f, r;
	struct frame fr;
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;

	(void)state;
	fill_flow(&f, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	fill_flow(&r, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	build(&fr, AF_INET6, V6_A, PORT_A, V6_B, PORT_B);
	assert_int_equal(run(&fr, 0), DROP);
	assert_int_equal(soccr_lock_add(lock, &f), 0);
	assert_int_equal(soccr_lock_add(lock, &r), 0);
	assert_int_equal(soccr_lock_list(lock, &e, &n), 0);
	assert_int_equal(n, 1);
	free(e);
	expect_counters(&f, 1, 0, 0, 0);
	/* Deleting by the reverse orientation unlocks; deleting again is fine. */
	assert_int_equal(soccr_lock_del(lock, &r), 0);
	assert_int_equal(soccr_lock_del(lock, &r), 0);
	assert_int_equal(run(&fr, 0), PASS);
}

static void test_bad_flow_family_rejected(void **state)
{
	struct soccr_flow f;

	(void)state;
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	f.family = AF_UNIX;
	assert_int_equal(soccr_lock_add(lock, &f), -EAFNOSUPPORT);
	assert_int_equal(soccr_lock_add_batch(lock, &f, 1), -EAFNOSUPPORT);
}

static void test_flow_from_sockaddr_maps_v4_mapped_to_v4(void **state)
{
	struct sockaddr_in6 l6, p6;
	struct sockaddr_in p4;
	struct soccr_flow f;

	(void)state;
	memset(&l6, 0, sizeof(l6));
	memset(&p6, 0, sizeof(p6));
	l6.sin6_family = p6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:" V4_A, &l6.sin6_addr);
	inet_pton(AF_INET6, "::ffff:" V4_B, &p6.sin6_addr);
	l6.sin6_port = htons(PORT_A);
	p6.sin6_port = htons(PORT_B);
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&l6,
						  (struct sockaddr *)&p6), 0);
	assert_int_equal(f.family, AF_INET);
	assert_int_equal(f.saddr.v4.s_addr, inet_addr(V4_A));
	assert_int_equal(f.daddr.v4.s_addr, inet_addr(V4_B));
	assert_int_equal(f.sport, PORT_A);
	assert_int_equal(f.dport, PORT_B);

	/* A mapped local address with a plain v4 peer is the same v4 flow. */
	memset(&p4, 0, sizeof(p4));
	p4.sin_family = AF_INET;
	p4.sin_addr.s_addr = inet_addr(V4_B);
	p4.sin_port = htons(PORT_B);
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&l6,
						  (struct sockaddr *)&p4), 0);
	assert_int_equal(f.family, AF_INET);

	/* A real v6 address with a v4 peer is not one flow. */
	inet_pton(AF_INET6, V6_A, &l6.sin6_addr);
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&l6,
						  (struct sockaddr *)&p4), -EINVAL);
	p4.sin_family = AF_UNIX;
	assert_int_equal(soccr_flow_from_sockaddr(&f, (struct sockaddr *)&p4,
						  (struct sockaddr *)&p4), -EAFNOSUPPORT);
}

static void test_custom_pass_mark_set_at_load(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts), .pass_mark = 0x1234 };
	struct soccr_lock *other = NULL;
	struct soccr_flow f;
	struct frame fr;
	char dir[80];
	int saved = prog_fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s-mark", pin_dir);
	opts.pin_dir = dir;
	assert_int_equal(soccr_lock_open(&opts, &other), 0);
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(other, &f), 0);
	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	prog_fd = soccr_lock_prog_fd(other);
	assert_int_equal(run(&fr, 0x1234), PASS);
	assert_int_equal(run(&fr, SOCCR_MARK), DROP);
	prog_fd = saved;
	/* The first lock, on its own map, does not know this flow. */
	assert_int_equal(run(&fr, 0), PASS);
	assert_int_equal(soccr_lock_detach(other), 0);
	soccr_lock_close(other);
	assert_int_not_equal(access(dir, F_OK), 0);
}

static void test_no_mark_count_passes_marked_without_counting(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts), .flags = SOCCR_LOCK_NO_MARK_COUNT };
	struct soccr_lock_entry *e = NULL;
	struct soccr_lock *other = NULL;
	struct soccr_flow f;
	struct frame fr;
	char dir[80];
	size_t n = 0;
	int saved = prog_fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s-nmc", pin_dir);
	opts.pin_dir = dir;
	assert_int_equal(soccr_lock_open(&opts, &other), 0);
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(other, &f), 0);
	build(&fr, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	prog_fd = soccr_lock_prog_fd(other);
	assert_int_equal(run(&fr, SOCCR_MARK), PASS);
	assert_int_equal(run(&fr, SOCCR_MARK), PASS);
	assert_int_equal(run(&fr, 0), DROP);
	prog_fd = saved;
	assert_int_equal(soccr_lock_list(other, &e, &n), 0);
	assert_int_equal(n, 1);
	/* The marked packets went through uncounted; the unmarked one was counted and dropped. */
	assert_int_equal(e[0].passed[0] + e[0].passed[1], 0);
	assert_int_equal(e[0].dropped[0] + e[0].dropped[1], 1);
	free(e);
	assert_int_equal(soccr_lock_detach(other), 0);
	soccr_lock_close(other);
	assert_int_not_equal(access(dir, F_OK), 0);
}

static void test_reopen_reuses_pinned_program_and_flows(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts), .pin_dir = pin_dir,
					.flags = SOCCR_LOCK_NO_CREATE };
	struct soccr_lock *again = NULL, *none = NULL;
	struct bpf_prog_info a, b;
	__u32 la = sizeof(a), lb = sizeof(b);
	struct soccr_flow f;
	struct frame fr;
	char dir[80];

	(void)state;
	assert_int_equal(soccr_lock_open(&opts, &again), 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(bpf_obj_get_info_by_fd(prog_fd, &a, &la), 0);
	assert_int_equal(bpf_obj_get_info_by_fd(soccr_lock_prog_fd(again), &b, &lb), 0);
	assert_int_equal(a.id, b.id);
	/* A flow added through one handle is locked for the other. */
	fill_flow(&f, AF_INET, V4_A, PORT_A, V4_B, PORT_B);
	assert_int_equal(soccr_lock_add(again, &f), 0);
	build(&fr, AF_INET, V4_B, PORT_B, V4_A, PORT_A);
	assert_int_equal(run(&fr, 0), DROP);
	soccr_lock_close(again);

	/* NO_CREATE on an empty pin dir: -ENOENT and nothing created. */
	snprintf(dir, sizeof(dir), "%s-none", pin_dir);
	opts.pin_dir = dir;
	assert_int_equal(soccr_lock_open(&opts, &none), -ENOENT);
	assert_null(none);
	assert_int_not_equal(access(dir, F_OK), 0);
}

static void test_batch_add_and_del_100k_flows(void **state)
{
	const size_t n = 100000;
	struct soccr_flow *flows = calloc(n, sizeof(*flows));
	struct soccr_lock_entry *e = NULL;
	struct timespec t0, t1;
	struct frame fr;
	size_t cnt = 0;
	double ns;

	(void)state;
	assert_non_null(flows);
	for (size_t i = 0; i < n; i++) {
		struct soccr_flow *f = &flows[i];

		f->family = i % 2 ? AF_INET6 : AF_INET;
		if (f->family == AF_INET) {
			f->saddr.v4.s_addr = htonl(0x0a000000u | (uint32_t)i);
			f->daddr.v4.s_addr = htonl(0xc0000201u);
		} else {
			inet_pton(AF_INET6, V6_A, &f->saddr.v6);
			f->saddr.v6.s6_addr32[3] = htonl((uint32_t)i);
			inet_pton(AF_INET6, V6_B, &f->daddr.v6);
		}
		f->sport = (uint16_t)(1024 + i % 60000);
		f->dport = PORT_B;
	}
	/* One of them already locked: a batch containing it still succeeds. */
	assert_int_equal(soccr_lock_add(lock, &flows[n / 2]), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(soccr_lock_add_batch(lock, flows, n), (int)n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("# batch add: %zu flows, %.0f ns per flow\n", n, ns / (double)n);

	assert_int_equal(soccr_lock_list(lock, &e, &cnt), 0);
	assert_int_equal(cnt, n);
	free(e);
	/* The last one is enforced like any other. */
	build(&fr, AF_INET6, V6_B, PORT_B, V6_A, PORT_A);
	memcpy(&fr.b[fr.l3 + 24 + 12], &flows[n - 1].saddr.v6.s6_addr32[3], 4);
	fr.b[fr.l4 + 2] = (uint8_t)(flows[n - 1].sport >> 8);
	fr.b[fr.l4 + 3] = (uint8_t)(flows[n - 1].sport & 0xff);
	assert_int_equal(run(&fr, 0), DROP);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Half of them deleted one by one first: the batch skips the absent ones. */
	assert_int_equal(soccr_lock_del(lock, &flows[7]), 0);
	assert_int_equal(soccr_lock_del_batch(lock, flows, n), (int)n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("# batch del: %zu flows, %.0f ns per flow\n", n, ns / (double)n);
	assert_int_equal(soccr_lock_list(lock, &e, &cnt), 0);
	assert_int_equal(cnt, 0);
	free(e);
	assert_int_equal(run(&fr, 0), PASS);
	free(flows);
}

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

/* Pins left only if a test failed half-way (or the setup did): removed at exit. */
static void rm_all_pins(void)
{
	rm_pins("");
	rm_pins("-mark");
	rm_pins("-nmc");
}

static int group_setup(void **state)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };

	(void)state;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-test-%d-cls", (int)getpid());
	opts.pin_dir = pin_dir;
	atexit(rm_all_pins);
	if (soccr_lock_open(&opts, &lock)) {
		fprintf(stderr, "soccr_lock_open(%s) failed\n", pin_dir);
		return -1;
	}
	prog_fd = soccr_lock_prog_fd(lock);
	return 0;
}

static int group_teardown(void **state)
{
	int ret;

	(void)state;
	if (lock) {
		soccr_lock_detach(lock);
		soccr_lock_close(lock);
		lock = NULL;
	}
	/* Detach itself must have removed the pin dir. */
	ret = access(pin_dir, F_OK) ? 0 : -1;
	rm_all_pins();
	return ret;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_locked_v4_dropped_both_directions, clear_flows),
		cmocka_unit_test_setup(test_locked_v6_dropped_both_directions, clear_flows),
		cmocka_unit_test_setup(test_marked_packets_pass_and_are_counted_v4, clear_flows),
		cmocka_unit_test_setup(test_marked_packets_pass_and_are_counted_v6, clear_flows),
		cmocka_unit_test_setup(test_unlocked_flows_pass, clear_flows),
		cmocka_unit_test_setup(test_udp_icmp_arp_of_locked_hosts_pass, clear_flows),
		cmocka_unit_test_setup(test_vlan_tagged_locked_flow_dropped, clear_flows),
		cmocka_unit_test_setup(test_ipv4_options_skipped_to_tcp, clear_flows),
		cmocka_unit_test_setup(test_ipv4_fragments_only_first_matched, clear_flows),
		cmocka_unit_test_setup(test_ipv6_extension_headers_skipped_to_tcp, clear_flows),
		cmocka_unit_test_setup(test_truncated_headers_pass_at_every_length, clear_flows),
		cmocka_unit_test_setup(
			test_add_twice_keeps_counters_and_either_orientation_is_one_flow,
			clear_flows),
		cmocka_unit_test(test_bad_flow_family_rejected),
		cmocka_unit_test(test_flow_from_sockaddr_maps_v4_mapped_to_v4),
		cmocka_unit_test_setup(test_custom_pass_mark_set_at_load, clear_flows),
		cmocka_unit_test_setup(test_no_mark_count_passes_marked_without_counting, clear_flows),
		cmocka_unit_test_setup(test_reopen_reuses_pinned_program_and_flows, clear_flows),
		cmocka_unit_test_setup(test_batch_add_and_del_100k_flows, clear_flows),
	};

	tns_require_root();
	/* Our own netns: detach walks the interfaces of the current one. */
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	libsoccr_set_log(SOCCR_LOG_ERR, tns_log_stderr);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
