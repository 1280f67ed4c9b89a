// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The sequence numbers of live TCP sockets, for `soccr ps`: snd_una,
 * snd_nxt, write_seq, rcv_nxt and copied_seq. TCP_INFO and sock_diag have
 * none of them, and TCP_REPAIR (TCP_QUEUE_SEQ) would change the socket;
 * this TCP iterator only reads the kernel's tcp_sock, which the iterator
 * holds locked while the program runs. One record per full socket that is
 * not listening, for the network namespace that creates the iterator: one
 * run covers every socket of a process there.
 *
 * The kernel types are declared here with only the fields read, relocated
 * against the running kernel's BTF (CO-RE), as in synstamp.bpf.c.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "tcpseq.h"

#define TCP_LISTEN 10

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct sock_common {
	volatile unsigned char skc_state;
} __attribute__((preserve_access_index));

struct tcp_sock {
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 write_seq;
	__u32 rcv_nxt;
	__u32 copied_seq;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

SEC("iter/tcp")
int soccr_tcpseq(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct soccr_tcpseq_rec r = {};
	struct tcp_sock *tp;

	if (!skc || skc->skc_state == TCP_LISTEN)
		return 0;
	/* NULL for request and time-wait sockets: no file holds those. */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	r.cookie = bpf_get_socket_cookie(skc);
	r.state = skc->skc_state;
	r.snd_una = tp->snd_una;
	r.snd_nxt = tp->snd_nxt;
	r.write_seq = tp->write_seq;
	r.rcv_nxt = tp->rcv_nxt;
	r.copied_seq = tp->copied_seq;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
