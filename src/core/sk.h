/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoccr: checkpoint and restore of one TCP socket with TCP_REPAIR, with
 * CRIU's API, structure layout and return conventions (see <soccr/soccr.h>).
 * handle.c (the handle), save.c, restore.c and fins.c share this header;
 * never installed.
 *
 *
 * Sequence space of a socket, and what is saved:
 *
 *   send side:     snd_una ........ snd_nxt ........ write_seq
 *                  |<- sent, unacked ->|<-- never sent -->|
 *                  outq_len = write_seq - snd_una (SIOCOUTQ)
 *                  unsq_len = write_seq - snd_nxt (SIOCOUTQNSD)
 *                  outq_seq = write_seq (TCP_QUEUE_SEQ of TCP_SEND_QUEUE)
 *   receive side:  copied_seq ...... rcv_nxt
 *                  inq_len = rcv_nxt - copied_seq (SIOCINQ, the FIN not counted)
 *                  inq_seq = rcv_nxt (TCP_QUEUE_SEQ of TCP_RECV_QUEUE)
 *
 * A FIN takes one sequence number. In states where ours was queued,
 * write_seq (so outq_seq) counts it and SIOCOUTQ/SIOCOUTQNSD count it while
 * it is unacked/unsent; like CRIU, save drops it from the lengths (it carries
 * no data) and restore drops it from outq_seq, then queues it again with
 * shutdown(). Where the peer's FIN was received, rcv_nxt counts it: restore
 * starts one before and injects the FIN. See docs/design.md for the per-state table.
 */
#ifndef SOCCR_CORE_SK_H
#define SOCCR_CORE_SK_H

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <soccr/image.h>
#include <soccr/soccr.h>

#include "core/core.h"

#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif
/* Leave repair mode without the window probe the kernel sends for TCP_REPAIR_OFF (4.17+). */
#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif
#ifndef TCPOPT_SACK_PERM
#define TCPOPT_SACK_PERM TCPOPT_SACK_PERMITTED
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define SF(s) SOCCR_SF(s)
/* Our FIN is in the send queue. FIRST: queued before the peer's FIN arrives. */
#define SNDQ_FIN_FIRST	(SF(TCP_FIN_WAIT1) | SF(TCP_FIN_WAIT2) | SF(TCP_CLOSING))
#define SNDQ_FIN_SECOND (SF(TCP_LAST_ACK) | SF(TCP_CLOSE))
#define SNDQ_FIN	(SNDQ_FIN_FIRST | SNDQ_FIN_SECOND)
/* ... and the peer acknowledged it. */
#define SNDQ_FIN_ACKED (SF(TCP_FIN_WAIT2) | SF(TCP_CLOSE))
/* The peer's FIN is in the receive queue. */
#define RCVQ_FIN (SF(TCP_CLOSE_WAIT) | SF(TCP_LAST_ACK) | SF(TCP_CLOSING) | SF(TCP_CLOSE))
/* Half-closed states that may hold something to send or resend after the restore. */
#define RTT_STATES (SF(TCP_FIN_WAIT1) | SF(TCP_CLOSE_WAIT) | SF(TCP_LAST_ACK) | SF(TCP_CLOSING))

/* CRIU's struct libsoccr_sk_data: 17 uint32_t. */
#define SK_DATA_MIN_SIZE (17 * sizeof(uint32_t))
_Static_assert(sizeof(struct libsoccr_sk_data) == SK_DATA_MIN_SIZE, "CRIU's layout");

/* What the handle frees in libsoccr_release(). */
#define SK_FREE_RQ 0x1
#define SK_FREE_SQ 0x2
#define SK_FREE_SA 0x4
#define SK_FREE_DA 0x8

struct libsoccr_sk {
	int fd;
	unsigned int flags;
	char *recv_queue;
	char *send_queue;
	union libsoccr_addr *src_addr;
	union libsoccr_addr *dst_addr;
};

/*
 * A send() into a queue in repair mode makes one skb per call for the
 * receive queue (at most MAX_SKB_FRAGS pages and a small linear part), so
 * the receive queue is written in pieces of this size; if the kernel still
 * refuses (ENOMEM), the piece is halved down to MIN_CHUNK.
 */
#define MAX_CHUNK (64 * 1024)
#define MIN_CHUNK 1024

/*
 * Room asked for the queues (SO_SNDBUF/SO_RCVBUF count skb truesize, not
 * payload): twice the payload plus slack, used only when the socket's buffer
 * is below 5/4 of the payload plus BUF_SLACK. Raising a buffer locks its
 * size (no more autotuning), so we do it only when the queue needs it.
 */
#define BUF_SLACK (64 * 1024)

/*
 * A queue this small is written as it is: the kernel lets a write into a
 * socket that holds nothing yet whatever its buffer (it compares the memory
 * already charged with the limit), and the buffer stays what a new socket
 * has, as with any connection of this host. A system call less per socket.
 */
#define SMALL_QUEUE 4096

/* Between the re-issued connect() and the clock set for it (restore_syn_clock()). */
#define SYN_CLOCK_GAP_US 2000

/* Sequence numbers and lengths of one restore, from the saved data (which we leave untouched). */
struct plan {
	unsigned int mstate;
	bool fin_sent;	    /* our FIN had left (it is then marked sent, never transmitted) */
	bool rtt_byte;	    /* snd_una - 1 is queued as sent, for an RTT sample (restore_rtt()) */
	uint32_t rcv_nxt;   /* receive queue end, before the peer's FIN (if any) */
	uint32_t snd_una;   /* send queue start */
	uint32_t write_seq; /* send queue end, before our FIN (if any) */
	struct soccr_peer_ctx *peer; /* the injection context of this restore */
};

SOCCR_HIDDEN bool sc_is_mapped(const union libsoccr_addr *a);
SOCCR_HIDDEN const char *sc_queue_name(int q);
SOCCR_HIDDEN int sc_repair_set(int fd, int val);
SOCCR_HIDDEN int sc_restore_connect(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data);
SOCCR_HIDDEN int sc_restore_fins(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
				 const struct plan *p);
SOCCR_HIDDEN int sc_restore_queues(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
				   const struct plan *p);
SOCCR_HIDDEN void sc_restore_rtt(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
				 const struct plan *p);
SOCCR_HIDDEN void sc_save_syn_tsval(struct libsoccr_sk *sk, struct libsoccr_sk_data *data);
SOCCR_HIDDEN int sc_set_repair_queue(int fd, int queue);
SOCCR_HIDDEN const char *sc_state_name(int st);

#endif /* SOCCR_CORE_SK_H */
