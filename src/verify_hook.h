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
 * once the socket side has been waited for (after the absorption loop) and
 * before TCP_REPAIR is turned off, so that the socket-side view is the one
 * right after the injection:
 *
 *	if (soccr_vhook_active())
 *		soccr_vhook_restore_done(ps->fd);
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

/*
 * The injections into fd are over (or this one was waited for): judge the
 * socket side of its segments now. Cheap to call after each injection.
 */
SOCCR_HIDDEN void soccr_vhook_restore_done(int fd);

#endif /* SOCCR_VERIFY_HOOK_H */
