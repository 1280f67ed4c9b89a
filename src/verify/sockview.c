// SPDX-License-Identifier: LGPL-2.1-or-later
/* The socket side: what the receiving socket shows (TCP_INFO, TCP_QUEUE_SEQ, sock_diag). */
#include "verify/vf.h"

/* ---- the socket side --------------------------------------------------------------- */

/* The counters of a tcp_info (ours or sock_diag's) into a socket view. */
static void sock_from_info(struct soccr_verify_sock *out, const struct soccr_tcp_info *ti)
{
	out->valid = 1;
	out->state = ti->base.tcpi_state;
	out->unacked = ti->base.tcpi_unacked;
	out->segs_in = ti->segs_in;
	out->bytes_received = ti->bytes_received;
	out->bytes_acked = ti->bytes_acked;
}

/*
 * TCP_INFO, and with queues set, for a socket in repair mode, TCP_QUEUE_SEQ
 * of the receive queue (and of the send queue with send set). Syscalls are
 * what this costs, so: TCP_REPAIR_QUEUE's getsockopt answers both "in repair
 * mode?" (-EINVAL if not) and "which queue is selected?", and the caller's
 * selection is put back only if changed.
 */
int vf_read_local(int fd, bool queues, bool send, struct soccr_verify_sock *out)
{
	struct soccr_tcp_info ti;
	socklen_t len = sizeof(ti);
	int q = 0, cur;

	memset(out, 0, sizeof(*out));
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	sock_from_info(out, &ti);
	if (!queues)
		return 0;
	len = sizeof(q);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, &len))
		return 0; /* not in repair mode */
	cur = q;
	if (cur != TCP_RECV_QUEUE) {
		cur = TCP_RECV_QUEUE;
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &cur, sizeof(cur)))
			return 0;
	}
	len = sizeof(out->rcv_nxt);
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &out->rcv_nxt, &len))
		goto restore;
	if (send) {
		cur = TCP_SEND_QUEUE;
		len = sizeof(out->write_seq);
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &cur, sizeof(cur)) ||
		    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &out->write_seq, &len))
			goto restore;
		out->have_write_seq = 1;
	}
	out->repair = 1;
restore:
	if (cur != q)
		setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	return 0;
}

int vf_read_diag(struct soccr_verifier *v, const struct soccr_segment *s,
		 struct soccr_verify_sock *out)
{
	struct soccr_tcp_info ti;
	int err;

	memset(out, 0, sizeof(*out));
	/* The segment comes from the peer: the local socket is its destination. */
	err = sc_diag_tcp(v->diag_fd, s->family, &s->dst, s->dport, &s->src, s->sport, &ti);
	if (err)
		return err;
	sock_from_info(out, &ti);
	return 0;
}

/*
 * The "after" view. precise: for a local socket in repair mode, read the
 * queue sequences too (four more syscalls); otherwise TCP_INFO alone, whose
 * bytes_received / bytes_acked deltas against the "before" view say the same
 * when nothing else moved the socket (tcp_rcv_nxt_update() and
 * tcp_snd_una_update() add exactly what rcv_nxt and snd_una advance by).
 */
int vf_read_sock(struct soccr_verifier *v, struct seg *g, bool precise,
		 struct soccr_verify_sock *out)
{
	if (g->fd >= 0)
		return vf_read_local(g->fd, precise, g->vd.checks & SOCCR_VERIFY_CHECK_ACK, out);
	return vf_read_diag(v, &g->vd.seg, out);
}

/* Sequence space a segment occupies (RFC 9293 3.4: SYN and FIN count one each). */
static uint32_t seg_space(const struct soccr_segment *s)
{
	return (uint32_t)s->payload_len + !!(s->flags & SOCCR_TCP_SYN) +
	       !!(s->flags & SOCCR_TCP_FIN);
}

/*
 * Derive checks and the expected state from the state before (RFC 9293
 * 3.10.7.4, as Linux's tcp_rcv_state_process() and tcp_fin() do it). A
 * socket whose FIN was acked and who then gets the peer's FIN goes to
 * TIME_WAIT, which a socket still held by its owner reports as CLOSE
 * (tcp_time_wait() hands over to a timewait socket and tcp_done()s it).
 */
void vf_derive(struct seg *g, unsigned int checks, int state)
{
	const struct soccr_segment *s = &g->vd.seg;
	const struct soccr_verify_sock *b = &g->vd.before;
	bool fin = s->flags & SOCCR_TCP_FIN, acks_more = false;

	if (!(checks & SOCCR_VERIFY_CHECK_AUTO)) {
		g->vd.checks = checks;
		g->vd.want_state = state;
		return;
	}
	g->vd.checks = 0;
	if (seg_space(s))
		g->vd.checks |= SOCCR_VERIFY_CHECK_RCV;
	if ((s->flags & SOCCR_TCP_ACK) && b->valid && b->unacked) {
		g->vd.checks |= SOCCR_VERIFY_CHECK_ACK;
		acks_more = true;
	}
	g->vd.want_state = state;
	if (state || !b->valid)
		return;
	switch (b->state) {
	case TCP_ESTABLISHED:
		g->vd.want_state = fin ? TCP_CLOSE_WAIT : TCP_ESTABLISHED;
		break;
	case TCP_FIN_WAIT1:
		if (fin)
			g->vd.want_state = acks_more ? TCP_CLOSE : TCP_CLOSING;
		else if (acks_more)
			g->vd.want_state = TCP_FIN_WAIT2;
		break;
	case TCP_FIN_WAIT2:
		g->vd.want_state = fin ? TCP_CLOSE : TCP_FIN_WAIT2;
		break;
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		if (acks_more)
			g->vd.want_state = TCP_CLOSE;
		break;
	case TCP_CLOSE_WAIT:
		if (!fin)
			g->vd.want_state = TCP_CLOSE_WAIT;
		break;
	default:
		break;
	}
}

/*
 * Judge the socket side from g->vd.after (and before, when read). Sets the
 * SEQUENCE/ACK/STATE/SOCKET/DELIVERY bits and the reason of the first
 * failure into why. Returns true if all checks pass.
 */
bool vf_sock_ok(struct seg *g, int read_err, char *why, size_t wlen)
{
	const struct soccr_segment *s = &g->vd.seg;
	const struct soccr_verify_sock *b = &g->vd.before, *a = &g->vd.after;
	unsigned int fail = 0;
	char ep[64];

	why[0] = '\0';
	g->vd.failed &= ~(SOCCR_VFAIL_SEQUENCE | SOCCR_VFAIL_ACK | SOCCR_VFAIL_STATE |
			  SOCCR_VFAIL_SOCKET | SOCCR_VFAIL_DELIVERY);
	if (read_err) {
		g->vd.failed |= SOCCR_VFAIL_SOCKET;
		if (g->fd >= 0)
			snprintf(why, wlen, "socket: fd %d: TCP_INFO: %s", g->fd,
				 strerror(-read_err));
		else if (read_err == -ENOENT)
			snprintf(why, wlen, "socket: no TCP socket %s <- %s (sock_diag)",
				 vf_fmt_ep(s->family, &s->dst, s->dport, ep, sizeof(ep)),
				 vf_fmt_ep(s->family, &s->src, s->sport, ep + 32, sizeof(ep) - 32));
		else
			snprintf(why, wlen, "socket: sock_diag: %s", strerror(-read_err));
		return false;
	}
	if (g->vd.checks & SOCCR_VERIFY_CHECK_RCV) {
		uint32_t want = s->seq + seg_space(s);

		if (a->repair) {
			if (a->rcv_nxt != want) {
				fail |= SOCCR_VFAIL_SEQUENCE;
				if (a->rcv_nxt != s->seq)
					vf_addf(why, wlen,
						"sequence: segment seq %u, socket rcv_nxt %u",
						s->seq, a->rcv_nxt);
				else
					vf_addf(why, wlen,
						"sequence: rcv_nxt still %u, not advanced to %u",
						a->rcv_nxt, want);
			}
		} else if (b->valid) {
			uint64_t got = a->bytes_received - b->bytes_received;

			if (got != seg_space(s)) {
				fail |= SOCCR_VFAIL_SEQUENCE;
				vf_addf(why, wlen,
					"sequence: receive side advanced by %llu, not %u (seq %u "
					"is "
					"not the socket's rcv_nxt?)",
					(unsigned long long)got, seg_space(s), s->seq);
			}
		}
	}
	if (g->vd.checks & SOCCR_VERIFY_CHECK_ACK) {
		bool ok = a->unacked == 0;

		if (a->have_write_seq)
			ok = ok && a->write_seq == s->ack;
		else if (b->valid && b->unacked)
			ok = ok && a->bytes_acked > b->bytes_acked;
		if (!ok) {
			fail |= SOCCR_VFAIL_ACK;
			if (a->have_write_seq)
				vf_addf(why, wlen,
					"acknowledgement: ack %u, socket write_seq %u, %u "
					"segment(s) "
					"unacked",
					s->ack, a->write_seq, a->unacked);
			else
				vf_addf(why, wlen,
					"acknowledgement: ack %u did not clear the %u unacked "
					"segment(s)",
					s->ack, a->unacked);
		}
	}
	if (g->vd.want_state && a->state != g->vd.want_state) {
		fail |= SOCCR_VFAIL_STATE;
		vf_addf(why, wlen, "state: %s, expected %s", vf_state_name(a->state),
			vf_state_name(g->vd.want_state));
	}
	if (fail && b->valid && a->segs_in == b->segs_in)
		fail |= SOCCR_VFAIL_DELIVERY;
	g->vd.failed |= fail;
	return !fail;
}
