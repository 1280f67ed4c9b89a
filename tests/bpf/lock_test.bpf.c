// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Helpers for the lock's tests and benchmark, never loaded by the library:
 * an empty classifier (the baseline of the per-packet cost), a counting
 * one that stands for "another clsact filter on the same device", and a
 * program named as the lock's but without its configuration, that stands
 * for a lock made by an older soccr (layout 1).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "lock.h"

__u64 seen;		/* packets the counting filter saw */
__u64 seen_marked;	/* of which carried the lock's default pass mark */

SEC("tc")
int lt_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("tc")
int lt_count(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&seen, 1);
	if (skb->mark == SOCCR_LOCK_DEFAULT_MARK)
		__sync_fetch_and_add(&seen_marked, 1);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int soccr_lock(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
