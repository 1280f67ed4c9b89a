/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One record of the sequence number iterator (bpf/tcpseq.bpf.c), read by src/core/tcpseq.c. */
#ifndef SOCCR_TCPSEQ_H
#define SOCCR_TCPSEQ_H

#include <linux/types.h>

struct soccr_tcpseq_rec {
	__u64 cookie; /* SO_COOKIE of the socket */
	__u32 snd_una, snd_nxt, write_seq;
	__u32 rcv_nxt, copied_seq;
	__u32 state; /* TCP_* */
};

#endif
