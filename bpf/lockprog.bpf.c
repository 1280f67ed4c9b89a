// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The network lock: a tc classifier (direct action) attached at clsact
 * ingress and egress. Every packet of a locked TCP flow, in either direction,
 * is dropped unless skb->mark equals pass_mark; everything else, including
 * what we cannot parse, is handed on untouched.
 *
 * Verdicts: TC_ACT_SHOT to drop, TC_ACT_UNSPEC (not TC_ACT_OK) to let a
 * packet go, so that the next filters of the same hook (a redirect program
 * for injected frames, the user's own filters) still run: cls_bpf and
 * tcf_classify() move on to the next filter on TC_ACT_UNSPEC and treat it as
 * "pass" when no filter is left.
 *
 * The file is lockprog.bpf.c, not lock.bpf.c, so that its skeleton type
 * (struct soccr_lockprog) does not clash with the public struct soccr_lock.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lock.h"

/* IPv4 fragment offset bits of iphdr.frag_off (RFC 791). */
#define IP4_FRAG_OFFSET 0x1fff
/* IPv6 fragment header: offset bits of frag_off (RFC 8200 4.5). */
#define IP6_FRAG_OFFSET 0xfff8
/* IPv6 extension headers we walk through before giving up (bounded loop). */
#define MAX_EXT_HDRS 8
/* No header we care about starts further than this into the frame. */
#define MAX_L4_OFF 4096
/* Bytes made linear when the headers are not all in the skb head. */
#define PULL_LEN 256

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ip6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/*
 * Set by the loader before load (read-only once loaded). count_marked 0
 * (SOCCR_LOCK_NO_MARK_COUNT): a packet with the pass mark goes on at once,
 * without parsing or lookup, so it costs about what an empty program does,
 * and the per-flow passed counters stay 0. The user side reads it back from
 * the program's .rodata to learn a found lock's layout and pass mark.
 */
const volatile struct soccr_lock_cfg cfg = {
	.layout = SOCCR_LOCK_LAYOUT,
	.pass_mark = SOCCR_LOCK_DEFAULT_MARK,
	.count_marked = 1,
};

/* One slot of locked flows; the real slots are made by user space, of growing size. */
struct soccr_lock_slot {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCCR_LOCK_SLOT0_SIZE);
	/* Sizes, not __type(): clang leaves types reached only this deep as forward declarations. */
	__uint(key_size, sizeof(struct soccr_lock_key));
	__uint(value_size, sizeof(struct soccr_lock_val));
};

/*
 * Slot number -> slot map, twice. soccr_slots, a hash of maps, is user
 * space's: a slot is added there only if absent (BPF_NOEXIST), so racing
 * processes agree on one; never read here (bound by the loader). Every
 * process that uses a slot also writes it into soccr_array, which the
 * classifier reads: an array lookup is inlined, a hash lookup is not.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SOCCR_LOCK_SLOTS);
	__type(key, __u32);
	__array(values, struct soccr_lock_slot);
} soccr_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SOCCR_LOCK_SLOTS);
	__type(key, __u32);
	__array(values, struct soccr_lock_slot);
} soccr_array SEC(".maps");

/* User space's state word (struct soccr_lock_meta); never read here, bound by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct soccr_lock_meta);
} soccr_meta SEC(".maps");

enum { PARSE_PASS = 0, PARSE_TCP = 1, PARSE_SHORT = 2 };

/* Is endpoint (a, pa) above (b, pb) in the canonical order of struct soccr_lock_key? */
static __always_inline int ep_above(const __be32 *a, __be16 pa, const __be32 *b, __be16 pb)
{
	for (int i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return pa > pb;
}

/*
 * Parse Ethernet (one 802.1Q/802.1ad tag) -> IPv4/IPv6 -> TCP and fill the
 * canonical key; *from is the key endpoint the packet comes from. Returns
 * PARSE_TCP, PARSE_PASS (not TCP over IP, non-first fragment, malformed) or
 * PARSE_SHORT (the headers end beyond the linear data).
 */
static __always_inline int parse(struct __sk_buff *skb, struct soccr_lock_key *key, int *from)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__be32 s[4] = {}, d[4] = {};
	struct ethhdr *eth = data;
	struct tcphdr *tcp;
	__be16 proto;
	__u32 off;
	int above;

	if ((void *)(eth + 1) > end)
		return PARSE_SHORT;
	proto = eth->h_proto;
	off = sizeof(*eth);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = data + off;

		if ((void *)(vh + 1) > end)
			return PARSE_SHORT;
		proto = vh->proto;
		off += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > end)
			return PARSE_SHORT;
		if (ip->version != 4 || ip->ihl < 5)
			return PARSE_PASS;
		/* Only the first fragment carries the TCP header. */
		if (ip->frag_off & bpf_htons(IP4_FRAG_OFFSET))
			return PARSE_PASS;
		if (ip->protocol != IPPROTO_TCP)
			return PARSE_PASS;
		s[0] = ip->saddr;
		d[0] = ip->daddr;
		key->family = SOCCR_LOCK_FAM_V4;
		off += ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u8 nexthdr;
		int i;

		if ((void *)(ip6 + 1) > end)
			return PARSE_SHORT;
		if (ip6->version != 6)
			return PARSE_PASS;
		for (i = 0; i < 4; i++) {
			s[i] = ip6->saddr.in6_u.u6_addr32[i];
			d[i] = ip6->daddr.in6_u.u6_addr32[i];
		}
		key->family = SOCCR_LOCK_FAM_V6;
		nexthdr = ip6->nexthdr;
		off += sizeof(*ip6);
		/* RFC 8200 4.1: extension headers chain through their first byte. */
		for (i = 0; i < MAX_EXT_HDRS && nexthdr != IPPROTO_TCP; i++) {
			if (off > MAX_L4_OFF)
				return PARSE_PASS;
			if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
			    nexthdr == IPPROTO_DSTOPTS) {
				struct ipv6_opt_hdr *oh = data + off;

				if ((void *)(oh + 1) > end)
					return PARSE_SHORT;
				nexthdr = oh->nexthdr;
				off += (oh->hdrlen + 1) * 8;
			} else if (nexthdr == IPPROTO_FRAGMENT) {
				struct ip6_frag_hdr *fh = data + off;

				if ((void *)(fh + 1) > end)
					return PARSE_SHORT;
				if (fh->frag_off & bpf_htons(IP6_FRAG_OFFSET))
					return PARSE_PASS;
				nexthdr = fh->nexthdr;
				off += sizeof(*fh);
			} else {
				return PARSE_PASS;
			}
		}
		if (nexthdr != IPPROTO_TCP)
			return PARSE_PASS;
	} else {
		return PARSE_PASS;
	}

	if (off > MAX_L4_OFF)
		return PARSE_PASS;
	tcp = data + off;
	if ((void *)(tcp + 1) > end)
		return PARSE_SHORT;
	if (tcp->doff < 5)
		return PARSE_PASS;

	/* Constant indices only: the verifier rejects variable stack offsets here. */
	above = ep_above(s, tcp->source, d, tcp->dest);
	if (above) {
		__builtin_memcpy(key->addr[0], d, sizeof(d));
		__builtin_memcpy(key->addr[1], s, sizeof(s));
		key->port[0] = tcp->dest;
		key->port[1] = tcp->source;
		*from = 1;
	} else {
		__builtin_memcpy(key->addr[0], s, sizeof(s));
		__builtin_memcpy(key->addr[1], d, sizeof(d));
		key->port[0] = tcp->source;
		key->port[1] = tcp->dest;
		*from = 0;
	}
	return PARSE_TCP;
}

/* The flow's counters in the first slot holding it; slots exist in order, the first gap ends them. */
static __always_inline struct soccr_lock_val *find_flow(const struct soccr_lock_key *key)
{
#pragma unroll
	for (__u32 i = 0; i < SOCCR_LOCK_SLOTS; i++) {
		__u32 n = i;
		void *slot = bpf_map_lookup_elem(&soccr_array, &n);
		struct soccr_lock_val *val;

		if (!slot)
			return NULL;
		val = bpf_map_lookup_elem(slot, key);
		if (val)
			return val;
	}
	return NULL;
}

SEC("tc")
int soccr_lock(struct __sk_buff *skb)
{
	struct soccr_lock_key key = {};
	struct soccr_lock_val *val;
	int from = 0, ret;

	if (!cfg.count_marked && skb->mark == cfg.pass_mark)
		return TC_ACT_UNSPEC;
	ret = parse(skb, &key, &from);
	if (ret == PARSE_SHORT) {
		__u32 linear = skb->data_end - skb->data;

		/* Truncated, or headers in paged data: make them linear once and retry. */
		if (skb->len <= linear)
			return TC_ACT_UNSPEC;
		if (bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN))
			return TC_ACT_UNSPEC;
		ret = parse(skb, &key, &from);
	}
	if (ret != PARSE_TCP)
		return TC_ACT_UNSPEC;

	val = find_flow(&key);
	if (!val)
		return TC_ACT_UNSPEC;
	if (skb->mark == cfg.pass_mark) {
		__sync_fetch_and_add(from ? &val->passed[1] : &val->passed[0], 1);
		return TC_ACT_UNSPEC;
	}
	__sync_fetch_and_add(from ? &val->dropped[1] : &val->dropped[0], 1);
	return TC_ACT_SHOT;
}

/* GPL-compatible (LGPL-2.1 section 3 allows the GPL); the kernel knows only these strings. */
char LICENSE[] SEC("license") = "GPL";
