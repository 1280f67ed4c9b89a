// SPDX-License-Identifier: LGPL-2.1-or-later
/* The FIN bookkeeping of a restore: our FIN queued again, the peer's FIN and ACKs injected. */
#include "core/sk.h"

/*
 * Queue our FIN with shutdown(SHUT_WR) in repair mode. With TCP_SEND_QUEUE
 * selected the kernel marks it sent without transmitting it (as for the
 * data); with TCP_NO_QUEUE it stays unsent behind the unsent data (the send
 * window is still 0, so nothing leaves).
 */
static int restore_our_fin(struct libsoccr_sk *sk, const struct plan *p)
{
	int fd = sk->fd, q = p->fin_sent ? TCP_SEND_QUEUE : TCP_NO_QUEUE;
	bool sent = p->fin_sent;

	p->peer->repair_queue = -1;
	if (sc_set_repair_queue(fd, q))
		return -1;
	p->peer->repair_queue = q;
	if (shutdown(fd, SHUT_WR)) {
		pr_perror("sk %d: shutdown(SHUT_WR)", fd);
		return -1;
	}
	pr_dbg("sk %d: FIN queued with shutdown(SHUT_WR), %s", fd, sent ? "marked sent" : "unsent");
	return 0;
}

static void wire_flow(const struct libsoccr_sk *sk, struct soccr_wire_flow *f)
{
	const union libsoccr_addr *l = sk->src_addr, *p = sk->dst_addr;

	memset(f, 0, sizeof(*f));
	if (l->sa.sa_family == AF_INET) {
		f->family = AF_INET;
		f->local.v4 = l->v4.sin_addr;
		f->peer.v4 = p->v4.sin_addr;
		f->lport = ntohs(l->v4.sin_port);
		f->pport = ntohs(p->v4.sin_port);
		return;
	}
	f->lport = ntohs(l->v6.sin6_port);
	f->pport = ntohs(p->v6.sin6_port);
	if (sc_is_mapped(p)) {
		/* An AF_INET6 socket talking to ::ffff:a.b.c.d speaks IPv4 on the wire. */
		f->family = AF_INET;
		memcpy(&f->local.v4, &l->v6.sin6_addr.s6_addr[12], 4);
		memcpy(&f->peer.v4, &p->v6.sin6_addr.s6_addr[12], 4);
		return;
	}
	f->family = AF_INET6;
	f->local.v6 = l->v6.sin6_addr;
	f->peer.v6 = p->v6.sin6_addr;
}

/*
 * A segment from the peer: seq is the peer's, ack acknowledges what the
 * peer had acknowledged (never more: acking data it never got would lose
 * it). The window is the peer's last advertised one as the socket saw it
 * (snd_wnd scaled down by the peer's shift), so that processing the segment
 * leaves the send window as it was saved. Timestamps: TSval 0, because the
 * restored socket has ts_recent == 0, which the kernel's PAWS check
 * (tcp_paws_check()) takes as "nothing seen yet": the segment passes, and
 * whatever TSval the real peer sends next passes too. A non-zero guess
 * above the peer's clock would make the kernel drop the peer's segments.
 * TSecr is our clock as restored, at most a few ms behind its reading now (an
 * RTT sample of about 0 rather than a bogus one).
 */
static int inject(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data, const struct plan *p,
		  uint32_t seq, uint32_t ack, uint8_t flags, const struct soccr_absorb *want)
{
	struct soccr_peer_seg s = {.fd = sk->fd, .seq = seq, .ack = ack, .flags = flags};
	uint32_t wnd = 0xffff;

	wire_flow(sk, &s.flow);
	if (data->flags & SOCCR_FLAGS_WINDOW) {
		unsigned int shift = (data->opt_mask & TCPI_OPT_WSCALE) ? data->snd_wscale : 0;

		wnd = shift < 32 ? data->snd_wnd >> shift : 0;
		if (wnd > 0xffff)
			wnd = 0xffff;
	}
	s.window = (uint16_t)wnd;
	if (data->opt_mask & TCPI_OPT_TIMESTAMPS) {
		s.ts = true;
		s.ts_val = 0;
		/* The clock restore_options() set a moment ago (it reads that plus the ms since). */
		s.ts_ecr = data->timestamp;
	}
	return sc_inject_from_peer(p->peer, &s, want);
}

/*
 * A socket restored in repair mode has never timed a segment (srtt 0), so
 * tcp_init_metrics() gave it the conservative 3 s RTO of RFC 6298 5.7
 * (TCP_TIMEOUT_FALLBACK): what it holds unacknowledged or unsent waits for
 * that timer once the lock is gone (and a tail loss probe at 1 s sends a
 * FIN alone first), where the original connection had an RTO of ~200 ms.
 * The peer's ACK of the extra byte queued before snd_una (sc_restore_queues())
 * newly acknowledges one sent segment: tcp_ack() takes an RTT sample from
 * it, sets the RTO from it (the 200 ms minimum for a sample of a few
 * microseconds) and resets the backoff. The timer may still fire and back
 * off while the lock holds, but then it fires again about as long after the
 * unlock as the lock was held after the restore, not 3-4 s later.
 *
 * Best effort: if the ACK is not absorbed the byte stays queued, and the
 * peer, which has that byte, takes its retransmission as a duplicate. The
 * restore is correct either way, only slower to recover.
 */
void sc_restore_rtt(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
		    const struct plan *p)
{
	struct soccr_absorb want = {
		.state = TCP_ESTABLISHED, /* the FINs come later */
		.check_outq = true,
		.outq = data->outq_len,
		.optional = true,
	};
	int ret;

	ret = inject(sk, data, p, p->rcv_nxt, p->snd_una, SOCCR_TCP_ACK, &want);
	if (ret)
		pr_dbg("sk %d: no RTT sample (%d): the RTO stays at 3 s until the first ACK",
		       sk->fd, ret);
}

/*
 * The peer's FIN makes tcp_fin() schedule a delayed ACK (pingpong mode),
 * whose timer fires a tick later (ato is still 0 on a restored socket). If
 * the lock is removed before that,
 * the ACK, built then with the restore-time ts_recent (0), reaches the peer
 * after the unlock: a stray segment that a peer which has since closed
 * answers with an RST. The same FIN again is a duplicate, which TCP
 * acknowledges at once (tcp_data_queue(): "A retransmit ... Force an
 * immediate ack"): that ACK is sent (and dropped by the lock) now, and
 * sending it clears the pending delayed ACK (tcp_event_ack_sent()).
 * Best effort: if the duplicate is not seen answered, the restore goes on as
 * before (the delayed ACK then most likely fires before the unlock).
 */
static void flush_delayed_ack(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
			      const struct plan *p)
{
	struct soccr_absorb want = {
		.state = TCP_CLOSE_WAIT,
		.check_rcv_nxt = true,
		.rcv_nxt = data->inq_seq,
		.check_answered = true,
		.optional = true,
	};
	int ret;

	ret = inject(sk, data, p, p->rcv_nxt, p->snd_una, SOCCR_TCP_FIN | SOCCR_TCP_ACK, &want);
	if (ret)
		pr_dbg("sk %d: the delayed ACK of the peer's FIN may still be pending (%d)", sk->fd,
		       ret);
}

/* The FIN bookkeeping (docs/design.md, "Which FIN goes where"), after the queues. */
int sc_restore_fins(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
		    const struct plan *p)
{
	struct soccr_absorb want = {0};
	int ret;

	if ((p->mstate & SNDQ_FIN_FIRST) && restore_our_fin(sk, p))
		return -1;
	if (p->mstate & RCVQ_FIN) {
		/* The peer's FIN, acking what it had acked (not our FIN, even in CLOSE). */
		want.state = data->state == TCP_CLOSING ? TCP_CLOSING : TCP_CLOSE_WAIT;
		want.check_rcv_nxt = true;
		want.rcv_nxt = data->inq_seq;
		ret = inject(sk, data, p, p->rcv_nxt, p->snd_una, SOCCR_TCP_FIN | SOCCR_TCP_ACK,
			     &want);
		if (ret)
			return ret;
		/* CLOSING: FIN_WAIT1's tcp_fin() acks at once; CLOSE: tcp_done() stops the timer */
		if (data->state == TCP_CLOSE_WAIT || data->state == TCP_LAST_ACK)
			flush_delayed_ack(sk, data, p);
	}
	if ((p->mstate & SNDQ_FIN_SECOND) && restore_our_fin(sk, p))
		return -1;
	if (p->mstate & SNDQ_FIN_ACKED) {
		/* The peer's ACK of our FIN: seq after its own FIN, if it sent one. */
		memset(&want, 0, sizeof(want));
		want.state = data->state;
		want.check_acked = true;
		ret = inject(sk, data, p, data->inq_seq, p->write_seq + 1, SOCCR_TCP_ACK, &want);
		if (ret)
			return ret;
	}
	return 0;
}
