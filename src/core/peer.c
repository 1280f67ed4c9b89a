// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Segments "from the peer" for the FIN bookkeeping of libsoccr_restore():
 * the peer's FIN, and the peer's ACK of our FIN. Built by the packet builder,
 * sent with SO_MARK = SOCCR_MARK through the injection path (src/path/),
 * opened on the first segment of a restore and closed at its end (or kept
 * by the caller's session), and then checked to have been absorbed: the socket's
 * receive sequence and state (or its send queue) must show it. The kernel
 * drops a segment it does not like without telling anyone, so this check is
 * the only way to know that a restore really worked.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The receive path usually runs before sendto() returns (softirq on the
 * way out of the syscall); when it does not (another CPU, a busy backlog),
 * wait with growing pauses, up to about 100 ms in total.
 */
static const unsigned int absorb_wait_us[] = {0,    10,	   50,	  100,	 500,  1000,
					      4000, 10000, 20000, 30000, 40000};

struct seen {
	int state;
	uint32_t rcv_nxt;
	int outq;
	bool have_segs_out;
	uint32_t segs_out;
};

/*
 * The kernel's struct tcp_info goes on past glibc's copy; tcpi_segs_out
 * (Linux 4.2) counts every segment the socket built, also those a lock then
 * dropped: it tells that the socket answered an injected segment.
 */
struct tcp_info_segs {
	struct tcp_info ti;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
};
_Static_assert(offsetof(struct tcp_info_segs, segs_out) == 136, "the kernel's tcpi_segs_out");

/*
 * Only what want asks for (each is a system call). Leaves TCP_REPAIR_QUEUE
 * on the receive queue (selected only if ctx does not know it is).
 */
static int look(struct soccr_peer_ctx *ctx, int fd, const struct soccr_absorb *want,
		struct seen *s)
{
	struct tcp_info_segs ti;
	socklen_t len = sizeof(ti);
	int q = TCP_RECV_QUEUE;

	memset(s, 0, sizeof(*s));
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	s->state = ti.ti.tcpi_state;
	s->have_segs_out = len >= offsetof(struct tcp_info_segs, segs_out) + sizeof(ti.segs_out);
	s->segs_out = ti.segs_out;
	ctx->have_segs_out = s->have_segs_out;
	ctx->segs_out = s->segs_out;
	len = sizeof(s->rcv_nxt);
	if (want->check_rcv_nxt && ctx->repair_queue != q) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
			return -errno;
		ctx->repair_queue = q;
	}
	if (want->check_rcv_nxt && getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &s->rcv_nxt, &len))
		return -errno;
	if ((want->check_acked || want->check_outq) && ioctl(fd, SIOCOUTQ, &s->outq))
		return -errno;
	return 0;
}

/* before: the view taken before the send (only its segment count is used). */
static bool absorbed(const struct seen *s, const struct seen *before,
		     const struct soccr_absorb *want)
{
	return s->state == want->state && (!want->check_rcv_nxt || s->rcv_nxt == want->rcv_nxt) &&
	       (!want->check_acked || s->outq == 0) &&
	       (!want->check_outq || s->outq == (int)want->outq) &&
	       (!want->check_answered || !s->have_segs_out || s->segs_out != before->segs_out);
}

/* Hand the view the absorption loop read to the observer, if there is one. */
static void report_view(const struct soccr_peer_ctx *ctx, int fd, const struct seen *s,
			const struct soccr_absorb *want)
{
	const struct soccr_restore_observer *obs = ctx->opts.observer;
	struct soccr_restore_view vv = {
		.state = s->state,
		.have_rcv_nxt = want->check_rcv_nxt,
		.rcv_nxt = s->rcv_nxt,
		.have_outq = want->check_acked || want->check_outq,
		.outq = s->outq,
	};

	if (obs && obs->view)
		obs->view(obs->ctx, fd, &vv);
}

static int send_seg(struct soccr_peer_ctx *ctx, const struct soccr_peer_seg *ps,
		    const struct soccr_absorb *want)
{
	const struct soccr_restore_observer *obs = ctx->opts.observer;
	struct soccr_segment seg = {
		.family = ps->flow.family,
		.src = ps->flow.peer,
		.dst = ps->flow.local,
		.sport = ps->flow.pport,
		.dport = ps->flow.lport,
		.seq = ps->seq,
		.ack = ps->ack,
		.flags = ps->flags,
		.window = ps->window,
		.opts = ps->ts ? SOCCR_OPT_TS : 0,
		.ts_val = ps->ts_val,
		.ts_ecr = ps->ts_ecr,
		.df = true,
	};
	int ret;

	ret = sc_path_send(&ctx->path, &seg);
	if (obs && obs->segment) {
		struct soccr_restore_expect ve = {
			.state = want->state,
			.check_rcv = want->check_rcv_nxt,
			.check_ack = want->check_acked,
		};

		obs->segment(obs->ctx, ps->fd, &seg, sc_path_link(&ctx->path),
			     sc_path_ifindex(&ctx->path), &ve, ret);
	}
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: sending the segment", ps->fd);
	}
	return ret;
}

void sc_peer_done(struct soccr_peer_ctx *ctx)
{
	if (!ctx->open)
		return;
	sc_path_close(&ctx->path);
	ctx->open = false;
}

int sc_inject_from_peer(struct soccr_peer_ctx *ctx, const struct soccr_peer_seg *ps,
			const struct soccr_absorb *want)
{
	const char *what = (ps->flags & SOCCR_TCP_FIN) ? "FIN" : "ACK";
	struct seen s, before = {0};
	int ret;

	if (!ctx->open) {
		ret = sc_path_open(ctx->opts.session, ctx->opts.path, ps->fd, &ps->flow,
				   &ctx->path);
		if (ret)
			return ret;
		ctx->open = true;
	}
	if (want->check_answered && ctx->have_segs_out) {
		/*
		 * The count the last check of this restore read: a segment the
		 * socket sent since then (its delayed ACK) counts as an answer,
		 * and it is one (the ACK the caller wants flushed has left).
		 */
		before.have_segs_out = true;
		before.segs_out = ctx->segs_out;
	} else if (want->check_answered) {
		struct soccr_absorb only_state = {0};

		ret = look(ctx, ps->fd, &only_state, &before);
		if (ret) {
			errno = -ret;
			pr_perror("sk %d: TCP_INFO before the %s", ps->fd, what);
			return ret;
		}
	}
	ret = send_seg(ctx, ps, want);
	if (ret)
		return ret;
	pr_dbg("sk %d: injected the peer's %s: seq %u ack %u win %u%s", ps->fd, what, ps->seq,
	       ps->ack, ps->window, ps->ts ? " (timestamps)" : "");

	for (size_t i = 0; i < ARRAY_SIZE(absorb_wait_us); i++) {
		if (absorb_wait_us[i])
			usleep(absorb_wait_us[i]);
		ret = look(ctx, ps->fd, want, &s);
		if (ret) {
			errno = -ret;
			pr_perror("sk %d: checking the injected %s", ps->fd, what);
			return ret;
		}
		if (absorbed(&s, &before, want)) {
			report_view(ctx, ps->fd, &s, want);
			pr_dbg("sk %d: the %s was absorbed (state %d, rcv_nxt %u)", ps->fd, what,
			       s.state, s.rcv_nxt);
			return 0;
		}
	}
	report_view(ctx, ps->fd, &s, want);
	if (want->optional) {
		pr_dbg("sk %d: the injected %s (seq %u ack %u) was not absorbed (state %d, rcv_nxt "
		       "%u, unacked %d, answered %d)",
		       ps->fd, what, ps->seq, ps->ack, s.state, s.rcv_nxt, s.outq,
		       s.segs_out != before.segs_out);
		return -ENOLINK;
	}
	pr_err("sk %d: the injected %s (seq %u ack %u) was not absorbed: state %d (want %d), "
	       "rcv_nxt %u (want %u), unacked %d: dropped on the way in (a firewall that does "
	       "not accept mark 0x%x? reverse-path filter?) or refused by TCP",
	       ps->fd, what, ps->seq, ps->ack, s.state, want->state, s.rcv_nxt,
	       want->check_rcv_nxt ? want->rcv_nxt : s.rcv_nxt, s.outq, SOCCR_MARK);
	return -ENOLINK;
}
