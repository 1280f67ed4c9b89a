// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The injection bypass: a tc egress program (attached as a tcx link, ahead
 * of any other egress program) that turns the frames we inject "from the
 * peer" around to the same device's ingress.
 *
 * A restore with a session (<soccr/restore.h>) sends such a frame through an
 * AF_PACKET socket bound to the device that routes to the peer, with SO_MARK = SOCCR_MARK and the
 * device's own MAC as destination. Redirected to ingress, the kernel receives
 * it on the right device, so a strict reverse-path check (rp_filter = 1)
 * passes, eth_type_trans() makes it PACKET_HOST, and the mark survives (same
 * netns: skb_scrub_packet() keeps it), so a lock accepting SOCCR_MARK lets it
 * in. Anything else goes on untouched (TCX_NEXT).
 *
 * Both tests are needed: the mark alone could be set by other software on
 * ordinary traffic, and no ordinary egress frame is addressed to the
 * sender's own MAC.
 *
 * On lo (a peer on this host) a second program, soccr_bypass_lo, is used for
 * IPv4. A frame that arrives on lo without a route attached goes through
 * ip_route_input(), and fib_validate_source() refuses a source address that
 * is local to this namespace (a "martian" source) unless accept_local is set.
 * Normal loopback traffic never meets that check because it carries the
 * output route it was sent with. bpf_redirect_neigh() gives our frame the
 * same treatment: it looks up the *output* route to the destination (local,
 * via lo), attaches it, and transmits on lo again, so the receive side finds
 * a route already there and delivers locally. Loopback traffic has no
 * reverse path to check, so this weakens nothing. The second pass through
 * this hook is told apart by a tag the first pass leaves in skb->priority
 * (meaningless for a frame that is received locally). The tag is left in
 * place so that another process's copy of this program, attached to the
 * same lo, lets the frame go as well instead of redirecting it again.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Set by the loader before load. */
const volatile __u32 pass_mark = 0xC114;
const volatile __u8 own_mac[ETH_ALEN] = {0};

SEC("tc")
int soccr_bypass(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if (skb->mark != pass_mark)
		return TC_ACT_UNSPEC;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	for (int i = 0; i < ETH_ALEN; i++)
		if (eth->h_dest[i] != own_mac[i])
			return TC_ACT_UNSPEC;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* skb->priority while a frame makes its second pass through lo's egress. */
#define LO_SECOND_PASS 0x50CC7C11u

SEC("tc")
int soccr_bypass_lo(struct __sk_buff *skb)
{
	if (skb->mark != pass_mark)
		return TC_ACT_UNSPEC;
	if (skb->priority == LO_SECOND_PASS)
		return TC_ACT_UNSPEC;
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	skb->priority = LO_SECOND_PASS;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
