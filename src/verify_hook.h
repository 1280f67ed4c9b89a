/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hook between libsoccr_restore() (src/repair.c, src/fin.c) and the
 * verifier (src/verify.c). Never installed.
 *
 * Off by default: soccr_vhook_active() is one relaxed load of a pointer that
 * only soccr_restore_set_verifier() sets, so CRIU-style callers pay nothing.
 *
 * Use, in the code that injects a segment from the peer (src/fin.c,
 * soccr_inject_from_peer(), which has the segment, the path and want):
 *
 *	ret = soccr_injector_send_segment(path->inj, &seg);
 *	if (soccr_vhook_active()) {
 *		struct soccr_vhook_expect ve = { .state = want->state,
 *			.check_rcv = want->check_rcv_nxt, .check_ack = want->check_acked };
 *
 *		soccr_vhook_segment(&seg, soccr_injector_link(path->inj),
 *				    soccr_injector_ifindex(path->inj), ps->fd, &ve, ret);
 *	}
 *
 * (or soccr_vhook_frame() with the bytes, when the caller built them), and
 * once the socket side has been waited for (after the absorption loop,
 * whatever its outcome) and before TCP_REPAIR is turned off, hand over the
 * view the loop read:
 *
 *	if (soccr_vhook_active()) {
 *		struct soccr_vhook_view vv = { .state = s.state,
 *			.have_rcv_nxt = want->check_rcv_nxt, .rcv_nxt = s.rcv_nxt,
 *			.have_outq = want->check_acked, .outq = s.outq };
 *
 *		soccr_vhook_seen(ps->fd, &vv);
 *	}
 *
 * (soccr_vhook_restore_done(ps->fd) instead makes the verifier read the
 * socket itself.)
 *
 * The capture is opened by whoever set the verifier, before the restore,
 * so the frames are on it whichever device the restore picks. The verdicts
 * are read by that caller (soccr_verifier_collect()); the hook never fails
 * the restore.
 */
#ifndef SOCCR_VERIFY_HOOK_H
#define SOCCR_VERIFY_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <soccr/packet.h>

#include "internal.h"

struct soccr_verifier;

/* Set by soccr_restore_set_verifier(); NULL when no verification is wanted. */
SOCCR_HIDDEN extern struct soccr_verifier *soccr_vhook_verifier;

struct soccr_vhook_expect {
	int state;	/* TCP state expected afterwards, 0: derive */
	bool check_rcv; /* the receive sequence advanced past the segment */
	bool check_ack; /* nothing left unacknowledged in the send queue */
};

static inline bool soccr_vhook_active(void)
{
	return __atomic_load_n(&soccr_vhook_verifier, __ATOMIC_RELAXED) != NULL;
}

/*
 * Report one injected frame (link framing, device ifindex, receiving
 * socket fd, what it must show, the send result: 0 or a negative errno).
 * The frame is copied. No "before" view is taken: a socket in repair mode
 * is judged from TCP_QUEUE_SEQ against the segment itself.
 */
SOCCR_HIDDEN void soccr_vhook_frame(const void *frame, size_t len, enum soccr_link link,
				    int ifindex, int fd, const struct soccr_vhook_expect *exp,
				    int send_err);

/* The same, from the segment: the frame is built here (link framing, MACs from seg). */
SOCCR_HIDDEN void soccr_vhook_segment(const struct soccr_segment *seg, enum soccr_link link,
				      int ifindex, int fd, const struct soccr_vhook_expect *exp,
				      int send_err);

/* The socket view the restore itself read after waiting for absorption. */
struct soccr_vhook_view {
	int state;	   /* tcpi_state */
	bool have_rcv_nxt; /* TCP_QUEUE_SEQ of the receive queue was read */
	uint32_t rcv_nxt;
	bool have_outq; /* SIOCOUTQ was read */
	int outq;	/* bytes not yet acknowledged */
};

/*
 * The restore has waited for the segment(s) it injected into fd and read
 * the socket: take that view as the socket side of fd's pending segments
 * (no system call; the restore's own check is the socket witness, the
 * verifier adds the wire's).
 */
SOCCR_HIDDEN void soccr_vhook_seen(int fd, const struct soccr_vhook_view *view);

/*
 * The same, but the verifier reads the socket itself (TCP_INFO and
 * TCP_QUEUE_SEQ: five system calls), for callers without a view of their own.
 */
SOCCR_HIDDEN void soccr_vhook_restore_done(int fd);

#endif /* SOCCR_VERIFY_HOOK_H */
