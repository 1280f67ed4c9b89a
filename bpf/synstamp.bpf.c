// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * When did a SYN_SENT socket send its first SYN, on its timestamp clock?
 *
 * A peer that got our SYN but whose SYN-ACK is lost or held back keeps a
 * half-open request that echoes, in every SYN-ACK it retransmits, the TSval
 * of the first SYN it received (tcp_check_req() does not update ts_recent
 * from a retransmitted SYN). A socket restored in SYN_SENT re-issues the
 * SYN, and tcp_rcv_synsent_state_process() takes a SYN-ACK whose TSecr,
 * minus tsoffset, is not between its own retrans_stamp and now as a PAWS
 * failure and answers it with an RST. To set the restored socket's clock so
 * that the echo lands in that interval, the checkpoint must know the first
 * SYN's TSval exactly: retrans_stamp (set by tcp_connect(), kept by SYN
 * retransmissions) plus tsoffset. Neither is in TCP_INFO or sock_diag, so
 * this TCP iterator reads them, for the SYN_SENT sockets of the network
 * namespace that creates the iterator, one record each.
 *
 * The kernel types are declared here with only the fields read, relocated
 * against the running kernel's BTF (CO-RE): no generated vmlinux.h.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "synstamp.h"

#define TCP_SYN_SENT 2

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct sock_common {
	volatile unsigned char skc_state;
} __attribute__((preserve_access_index));

struct tcp_sock {
	__u32 retrans_stamp;
	__u32 tsoffset;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

SEC("iter/tcp")
int soccr_synstamp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct soccr_synstamp_rec r = {};
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != TCP_SYN_SENT)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	r.cookie = bpf_get_socket_cookie(skc);
	r.retrans_stamp = tp->retrans_stamp;
	r.tsoffset = tp->tsoffset;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
