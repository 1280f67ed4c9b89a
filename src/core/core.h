/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private interfaces of the core: src/core/{handle,save,restore,fins}.c (libsoccr_*: handle,
 * save, restore), src/core/peer.c (segments "from the peer": build, send
 * through the injection path of src/path/, check absorbed), src/core/tcpstate.c
 * (the TCP state table), src/core/synstamp.c (the first SYN's TSval).
 * Never installed.
 */
#ifndef SOCCR_CORE_H
#define SOCCR_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <soccr/packet.h>
#include <soccr/restore.h>

#include "internal.h"
#include "path/path.h"

/* State sets, as bits of 1 << TCP_* (the kernel's TCPF_*). */
#define SOCCR_SF(s) (1u << (s))

/* The states libsoccr_save() and libsoccr_restore() handle. */
SOCCR_HIDDEN bool sc_state_supported(unsigned int state);

/*
 * One restore's injection context: its options, and the path, opened on the
 * first segment and closed by sc_peer_done() at the end of the restore.
 */
struct soccr_peer_ctx {
	struct soccr_restore_opts opts;
	bool open;
	struct soccr_path path;
	/*
	 * What the restore knows of its socket, to spare system calls: the
	 * repair queue selected (-1: not known), and the segment count the
	 * last absorption check read (have_segs_out: read at all).
	 */
	int repair_queue;
	bool have_segs_out;
	uint32_t segs_out;
};

/* A segment to inject into the restored socket fd as if the peer had sent it. */
struct soccr_peer_seg {
	int fd;
	struct soccr_wire_flow flow;
	uint32_t seq, ack;
	uint8_t flags;	 /* SOCCR_TCP_* */
	uint16_t window; /* as on the wire */
	bool ts;	 /* carry a timestamps option */
	uint32_t ts_val, ts_ecr;
};

/* What the socket must show once the segment was absorbed. */
struct soccr_absorb {
	int state; /* TCP_* state expected */
	bool check_rcv_nxt;
	uint32_t rcv_nxt; /* expected TCP_QUEUE_SEQ of the receive queue */
	bool check_acked; /* nothing left unacknowledged in the send queue */
	bool check_outq;  /* the send queue (SIOCOUTQ) holds exactly outq bytes */
	uint32_t outq;
	bool check_answered; /* the socket sent a segment (an ACK) in answer */
	bool optional;	     /* best effort: "not absorbed" is logged at debug level */
};

/*
 * Send seg and wait briefly until the socket shows want. Returns 0, -ENOLINK
 * if the segment went out but was not absorbed, or another negative errno if
 * it could not be sent (then nothing was sent).
 */
SOCCR_HIDDEN int sc_inject_from_peer(struct soccr_peer_ctx *ctx, const struct soccr_peer_seg *seg,
				     const struct soccr_absorb *want);

/* Close what the restore's injections opened (nothing kept without a session). */
SOCCR_HIDDEN void sc_peer_done(struct soccr_peer_ctx *ctx);

/*
 * The TSval of the first SYN of fd, a SYN_SENT socket (src/core/synstamp.c:
 * a BPF TCP iterator in fd's network namespace). Returns 0, -ENOENT if fd is
 * not a SYN_SENT socket there, or another negative errno (no BTF, no CAP_BPF).
 */
SOCCR_HIDDEN int sc_syn_first_tsval(int fd, uint32_t *tsval);

#endif /* SOCCR_CORE_H */
