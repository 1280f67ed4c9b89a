// SPDX-License-Identifier: LGPL-2.1-or-later
/* The restore observer (soccr_restore_ext()): segments and socket views of a restore. */
#include "verify/vf.h"

/* ---- the restore observer (soccr_restore_ext()) -------------------------------------- */

/* One injected frame (link framing, device, receiving socket, what it must show, send result). */
static void observe_frame(struct soccr_verifier *v, const void *frame, size_t len,
			  enum soccr_link link, int ifindex, int fd,
			  const struct soccr_restore_expect *exp, int send_err)
{
	unsigned int checks = 0;
	size_t nflows;
	int id;

	if (!frame)
		return;
	if (exp) {
		checks = (exp->check_rcv ? SOCCR_VERIFY_CHECK_RCV : 0) |
			 (exp->check_ack ? SOCCR_VERIFY_CHECK_ACK : 0);
		/* Nothing stated: derive (without a "before" view, only the receive check). */
		if (!checks && !exp->state)
			checks = SOCCR_VERIFY_CHECK_AUTO;
	}
	pthread_mutex_lock(&v->mu);
	nflows = v->nflows;
	id = vf_expect_locked(v, frame, len, link, ifindex, fd,
			      checks ? checks : SOCCR_VERIFY_CHECK_AUTO, exp ? exp->state : 0,
			      false);
	if (id >= 0) {
		/* A flow the caller did not announce entered the filter only now. */
		if (v->narrowed && v->nflows > nflows)
			v->segs[id].flow_late = true;
		vf_sent_locked(v, &v->segs[id], send_err);
	}
	pthread_mutex_unlock(&v->mu);
}

static void observe_segment(void *ctx, int fd, const struct soccr_segment *seg,
			    enum soccr_link link, int ifindex,
			    const struct soccr_restore_expect *exp, int send_err)
{
	uint8_t frame[SOCCR_ETH_HLEN + 60 + 60 + 512];
	ssize_t n;

	if (!seg)
		return;
	n = soccr_pkt_build(seg, link, frame, sizeof(frame));
	if (n < 0) {
		pr_dbg("verify: observer: segment not rebuilt (%s): not verified",
		       strerror((int)-n));
		return;
	}
	observe_frame(ctx, frame, (size_t)n, link, ifindex, fd, exp, send_err);
}

/*
 * Where the segments still waiting for their socket side start: the oldest
 * one without its view. Restores report their segments and then their view,
 * and restores on several threads interleave theirs, so segments already
 * viewed may follow one still waiting; the mark only moves forward, which
 * keeps a batch of n restores O(n). A segment left behind (its view never
 * reported) is judged by collect().
 */
static size_t pending_from(struct soccr_verifier *v)
{
	size_t i = v->viewed > v->judged && v->viewed <= v->nseg ? v->viewed : v->judged;

	while (i < v->nseg && v->segs[i].sock_done)
		i++;
	v->viewed = i;
	return i;
}

static void observe_view(void *ctx, int fd, const struct soccr_restore_view *view)
{
	struct soccr_verifier *v = ctx;

	if (!view)
		return;
	pthread_mutex_lock(&v->mu);
	for (size_t i = pending_from(v); i < v->nseg; i++) {
		struct seg *g = &v->segs[i];
		struct soccr_verify_sock *a = &g->vd.after;

		if (g->fd != fd || g->sock_done)
			continue;
		memset(a, 0, sizeof(*a));
		a->valid = 1;
		a->state = view->state;
		a->repair = view->have_rcv_nxt;
		a->rcv_nxt = view->rcv_nxt;
		/* SIOCOUTQ bytes: only whether anything is left unacknowledged matters here. */
		a->unacked = view->have_outq && view->outq > 0 ? 1 : 0;
		g->read_err = 0;
		g->sock_done = true;
	}
	pthread_mutex_unlock(&v->mu);
}

SOCCR_API int soccr_verifier_observer(struct soccr_verifier *v, struct soccr_restore_observer *obs)
{
	if (!v || !obs)
		return -EINVAL;
	memset(obs, 0, sizeof(*obs));
	obs->sz = sizeof(*obs);
	obs->segment = observe_segment;
	obs->view = observe_view;
	obs->ctx = v;
	return 0;
}

SOCCR_API void soccr_verifier_sock_done(struct soccr_verifier *v, int fd)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	/* The segments sent are usually processed by now; give the capture a look first. */
	vf_drain(v);
	vf_judge_socks(v, pending_from(v), fd, vf_now_ms() + v->timeout_ms);
	pthread_mutex_unlock(&v->mu);
}
