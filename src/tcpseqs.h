/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sequence numbers of live TCP sockets, read without touching them
 * (src/core/tcpseq.c, a BPF TCP iterator: bpf/tcpseq.bpf.c). For the soccr
 * tool's ps, which links libsoccr.a: not exported, not an API. Never installed.
 */
#ifndef SOCCR_TCPSEQS_H
#define SOCCR_TCPSEQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

struct sc_tcp_seq {
	uint64_t cookie; /* in: the socket's SO_COOKIE (0: none, never found) */
	bool found;	 /* out: the iterator saw the socket (full, not listening) */
	uint32_t snd_una, snd_nxt, write_seq; /* the kernel's tcp_sock */
	uint32_t rcv_nxt, copied_seq;
};

/*
 * One iterator run over the TCP sockets of the network namespace nsfd (-1:
 * the caller's) fills the entries of seqs[] whose cookie it meets (found set,
 * numbers written); the others are left as they are, so a caller with sockets
 * in several namespaces calls once per namespace with the same array. The
 * sockets are only read: no repair mode, no lock taken beyond the iterator's
 * own, nothing changed. Nothing stays in the caller (descriptors closed, the
 * helper thread joined, libbpf's print callback and RLIMIT_MEMLOCK put back).
 * Returns how many entries were filled, or a negative errno where the
 * iterator cannot run: no BTF, no CAP_BPF (a user namespace), no setns().
 */
SOCCR_HIDDEN int sc_tcp_seqs(int nsfd, struct sc_tcp_seq *seqs, size_t n);

#endif
