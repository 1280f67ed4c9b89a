// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsoccr: checkpoint and restore of one TCP socket with TCP_REPAIR, with
 * CRIU's API, structure layout and return conventions (see <soccr/soccr.h>).
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

/* Between the re-issued connect() and the clock set for it (restore_syn_clock()). */
#define SYN_CLOCK_GAP_US 2000

static const char *state_name(int st)
{
	return soccr_tcp_state_name((unsigned int)st);
}

static int repair_set(int fd, int val)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &val, sizeof(val))) {
		pr_perror("sk %d: TCP_REPAIR %d", fd, val);
		return -1;
	}
	pr_dbg("sk %d: TCP_REPAIR %d", fd, val);
	return 0;
}

static int set_repair_queue(int fd, int queue)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue))) {
		pr_perror("sk %d: TCP_REPAIR_QUEUE %d", fd, queue);
		return -1;
	}
	return 0;
}

static const char *queue_name(int q)
{
	return q == TCP_RECV_QUEUE ? "recv" : q == TCP_SEND_QUEUE ? "send" : "none";
}

SOCCR_API struct libsoccr_sk *libsoccr_pause(int fd)
{
	struct libsoccr_sk *sk;

	sk = calloc(1, sizeof(*sk));
	if (!sk) {
		pr_perror("sk %d: pause: allocating the handle", fd);
		return NULL;
	}
	if (repair_set(fd, 1)) {
		free(sk);
		return NULL;
	}
	sk->fd = fd;
	return sk;
}

SOCCR_API void libsoccr_release(struct libsoccr_sk *sk)
{
	if (!sk)
		return;
	if (sk->flags & SK_FREE_RQ)
		free(sk->recv_queue);
	if (sk->flags & SK_FREE_SQ)
		free(sk->send_queue);
	if (sk->flags & SK_FREE_SA)
		free(sk->src_addr);
	if (sk->flags & SK_FREE_DA)
		free(sk->dst_addr);
	free(sk);
}

SOCCR_API void libsoccr_resume(struct libsoccr_sk *sk)
{
	if (!sk)
		return;
	/* TCP_REPAIR_OFF: the kernel sends a window probe, which makes the peer answer at once. */
	repair_set(sk->fd, 0);
	libsoccr_release(sk);
}

/* ---- save ------------------------------------------------------------------------- */

static int ioctl_int(int fd, unsigned long req, const char *what, uint32_t *out)
{
	int v;

	if (ioctl(fd, req, &v) < 0) {
		pr_perror("sk %d: %s", fd, what);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int save_state(struct libsoccr_sk *sk, struct libsoccr_sk_data *data, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);
	unsigned int mstate;

	memset(ti, 0, sizeof(*ti));
	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_INFO, ti, &len)) {
		pr_perror("sk %d: TCP_INFO", sk->fd);
		return -1;
	}
	mstate = SF(ti->tcpi_state);
	if (!sc_state_supported(ti->tcpi_state)) {
		errno = EINVAL;
		pr_err("sk %d: state %s (%u) cannot be checkpointed", sk->fd,
		       state_name(ti->tcpi_state), ti->tcpi_state);
		return -1;
	}
	data->state = ti->tcpi_state;
	if (ioctl_int(sk->fd, SIOCOUTQ, "SIOCOUTQ", &data->outq_len) ||
	    ioctl_int(sk->fd, SIOCOUTQNSD, "SIOCOUTQNSD", &data->unsq_len) ||
	    ioctl_int(sk->fd, SIOCINQ, "SIOCINQ", &data->inq_len))
		return -1;
	/*
	 * A socket in CLOSE may have been reset, its send queue then holds data
	 * nobody can deliver any more; CRIU drops it, and so do we.
	 */
	if (data->state == TCP_CLOSE)
		data->outq_len = data->unsq_len = 0;
	/* Our FIN counts in the lengths while unacked/unsent: it is no data. */
	if (mstate & SNDQ_FIN) {
		if (data->outq_len)
			data->outq_len--;
		if (data->unsq_len)
			data->unsq_len--;
	}
	pr_dbg("sk %d: state %s, inq %u, outq %u (unsent %u)", sk->fd, state_name(data->state),
	       data->inq_len, data->outq_len, data->unsq_len);
	return 0;
}

/*
 * SYN_SENT: no option is negotiated yet, and CRIU leaves timestamp 0. We
 * keep there the TSval of the first SYN, which a peer holding a half-open
 * request echoes in its SYN-ACKs; restore_connect() sets the clock of the
 * re-issued connection from it. Left 0 when it cannot be known (no BPF
 * iterator), or when the clock counts microseconds (TCP_TIMESTAMP's low bit,
 * Linux 6.7+: a route with the tcp_usec_ts feature), which we do not handle.
 */
static void save_syn_tsval(struct libsoccr_sk *sk, struct libsoccr_sk_data *data)
{
	socklen_t len = sizeof(int);
	uint32_t tsval;
	int ts, ret;

	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &len) || (ts & 1)) {
		pr_dbg("sk %d: SYN_SENT: timestamp clock not in ms, first SYN not recorded",
		       sk->fd);
		return;
	}
	ret = sc_syn_first_tsval(sk->fd, &tsval);
	if (ret) {
		pr_dbg("sk %d: SYN_SENT: first SYN's TSval unknown (%s): a half-open peer will be "
		       "reset by the restored socket",
		       sk->fd, strerror(-ret));
		return;
	}
	data->timestamp = tsval;
	pr_dbg("sk %d: SYN_SENT: first SYN's TSval %u", sk->fd, tsval);
}

static int save_options(struct libsoccr_sk *sk, struct libsoccr_sk_data *data,
			const struct tcp_info *ti)
{
	socklen_t len = sizeof(data->mss_clamp);
	int ts;

	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_MAXSEG, &data->mss_clamp, &len)) {
		pr_perror("sk %d: TCP_MAXSEG", sk->fd);
		return -1;
	}
	data->opt_mask = ti->tcpi_options;
	if (ti->tcpi_options & TCPI_OPT_WSCALE) {
		data->snd_wscale = ti->tcpi_snd_wscale;
		data->rcv_wscale = ti->tcpi_rcv_wscale;
	}
	if (ti->tcpi_options & TCPI_OPT_TIMESTAMPS) {
		len = sizeof(ts);
		if (getsockopt(sk->fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &len)) {
			pr_perror("sk %d: TCP_TIMESTAMP", sk->fd);
			return -1;
		}
		data->timestamp = (uint32_t)ts;
	}
	if (data->state == TCP_SYN_SENT)
		save_syn_tsval(sk, data);
	pr_dbg("sk %d: options %#x mss %u wscale %u/%u timestamp %u", sk->fd, data->opt_mask,
	       data->mss_clamp, data->snd_wscale, data->rcv_wscale, data->timestamp);
	return 0;
}

static int save_window(struct libsoccr_sk *sk, struct libsoccr_sk_data *data)
{
	struct tcp_repair_window w;
	socklen_t len = sizeof(w);

	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len)) {
		/* Linux < 4.8: the window is then rebuilt by the first segments. */
		if (errno == ENOPROTOOPT) {
			pr_dbg("sk %d: TCP_REPAIR_WINDOW not supported, window not saved", sk->fd);
			return 0;
		}
		pr_perror("sk %d: TCP_REPAIR_WINDOW (get)", sk->fd);
		return -1;
	}
	data->flags |= SOCCR_FLAGS_WINDOW;
	data->snd_wl1 = w.snd_wl1;
	data->snd_wnd = w.snd_wnd;
	data->max_window = w.max_window;
	data->rcv_wnd = w.rcv_wnd;
	data->rcv_wup = w.rcv_wup;
	pr_dbg("sk %d: window snd_wl1 %u snd_wnd %u max %u rcv_wnd %u rcv_wup %u", sk->fd,
	       w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup);
	return 0;
}

/* Sequence number and contents (MSG_PEEK in repair mode) of one queue. */
static int save_queue(struct libsoccr_sk *sk, int queue, uint32_t *seq, uint32_t len, char **bufp)
{
	socklen_t slen = sizeof(*seq);
	char *buf = NULL;
	ssize_t n;

	if (set_repair_queue(sk->fd, queue))
		return -1;
	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &slen)) {
		pr_perror("sk %d: TCP_QUEUE_SEQ (%s)", sk->fd, queue_name(queue));
		return -1;
	}
	pr_dbg("sk %d: %s queue seq %u, %u bytes", sk->fd, queue_name(queue), *seq, len);
	*bufp = NULL;
	if (!len)
		return 0;
	/* One byte more than expected, to see that the queue holds exactly len. */
	buf = malloc((size_t)len + 1);
	if (!buf) {
		pr_perror("sk %d: %s queue: allocating %u bytes", sk->fd, queue_name(queue),
			  len + 1);
		return -1;
	}
	n = recv(sk->fd, buf, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		if (n < 0)
			pr_perror("sk %d: %s queue: recv(MSG_PEEK)", sk->fd, queue_name(queue));
		else
			pr_err("sk %d: %s queue: recv(MSG_PEEK) read %zd bytes, expected %u",
			       sk->fd, queue_name(queue), n, len);
		free(buf);
		return -1;
	}
	*bufp = buf;
	return 0;
}

/* Local and peer address. SO_PEERNAME also answers in SYN_SENT and CLOSE, getpeername() not. */
static int save_addrs(struct libsoccr_sk *sk)
{
	union libsoccr_addr *self, *peer;
	socklen_t len;

	self = calloc(1, sizeof(*self));
	peer = calloc(1, sizeof(*peer));
	if (!self || !peer) {
		pr_perror("sk %d: allocating addresses", sk->fd);
		goto err;
	}
	len = sizeof(*self);
	if (getsockname(sk->fd, &self->sa, &len)) {
		pr_perror("sk %d: getsockname", sk->fd);
		goto err;
	}
	/* SO_PEERNAME wants exactly the address length (EINVAL if larger). */
	len = self->sa.sa_family == AF_INET ? sizeof(peer->v4) : sizeof(peer->v6);
	if (getsockopt(sk->fd, SOL_SOCKET, SO_PEERNAME, peer, &len)) {
		pr_perror("sk %d: SO_PEERNAME", sk->fd);
		goto err;
	}
	if (sk->flags & SK_FREE_SA)
		free(sk->src_addr);
	if (sk->flags & SK_FREE_DA)
		free(sk->dst_addr);
	sk->src_addr = self;
	sk->dst_addr = peer;
	sk->flags |= SK_FREE_SA | SK_FREE_DA;
	return 0;
err:
	free(self);
	free(peer);
	return -1;
}

SOCCR_API int libsoccr_save(struct libsoccr_sk *sk, struct libsoccr_sk_data *data,
			    unsigned data_size)
{
	struct tcp_info ti;

	if (!sk || !data || data_size < SK_DATA_MIN_SIZE) {
		errno = EINVAL;
		pr_err("sk %d: save: invalid arguments (data %p, size %u, need %zu)",
		       sk ? sk->fd : -1, (void *)data, data_size, SK_DATA_MIN_SIZE);
		return -1;
	}
	memset(data, 0, data_size);

	if (save_state(sk, data, &ti))
		return -2;
	if (save_options(sk, data, &ti))
		return -3;
	if (save_window(sk, data))
		return -4;
	/* Queues read now belong to the handle until taken with SOCCR_MEM_EXCL. */
	if (sk->flags & SK_FREE_RQ)
		free(sk->recv_queue);
	if (sk->flags & SK_FREE_SQ)
		free(sk->send_queue);
	sk->recv_queue = sk->send_queue = NULL;
	sk->flags |= SK_FREE_RQ | SK_FREE_SQ;
	if (save_queue(sk, TCP_RECV_QUEUE, &data->inq_seq, data->inq_len, &sk->recv_queue))
		return -5;
	if (save_queue(sk, TCP_SEND_QUEUE, &data->outq_seq, data->outq_len, &sk->send_queue))
		return -6;
	/* Addresses are an extension: CRIU's libsoccr_get_addr() returns NULL. */
	if (save_addrs(sk))
		pr_dbg("sk %d: addresses not saved", sk->fd);
	pr_dbg("sk %d: saved (inq_seq %u outq_seq %u)", sk->fd, data->inq_seq, data->outq_seq);
	return (int)sizeof(struct libsoccr_sk_data);
}

SOCCR_API char *libsoccr_get_queue_bytes(struct libsoccr_sk *sk, int queue_id, unsigned flags)
{
	char **p, *ret;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return NULL;
	switch (queue_id) {
	case TCP_RECV_QUEUE:
		p = &sk->recv_queue;
		break;
	case TCP_SEND_QUEUE:
		p = &sk->send_queue;
		break;
	default:
		return NULL;
	}
	ret = *p;
	if (flags & SOCCR_MEM_EXCL) {
		*p = NULL;
		sk->flags &= ~(queue_id == TCP_RECV_QUEUE ? SK_FREE_RQ : SK_FREE_SQ);
	}
	return ret;
}

SOCCR_API union libsoccr_addr *libsoccr_get_addr(struct libsoccr_sk *sk, int self, unsigned flags)
{
	union libsoccr_addr **p, *ret;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return NULL;
	p = self ? &sk->src_addr : &sk->dst_addr;
	ret = *p;
	if (!ret)
		return NULL;
	if (flags & SOCCR_MEM_EXCL) {
		unsigned int own = self ? SK_FREE_SA : SK_FREE_DA;

		/*
		 * The caller owns what it gets: hand over our copy, or a copy
		 * of the caller's own buffer given without SOCCR_MEM_EXCL.
		 */
		if (!(sk->flags & own)) {
			ret = malloc(sizeof(*ret));
			if (!ret)
				return NULL;
			memcpy(ret, *p, sizeof(*ret));
		}
		*p = NULL;
		sk->flags &= ~own;
	}
	return ret;
}

/* Hand buffer v to the handle's slot p, owned (freed later) with SOCCR_MEM_EXCL. */
static void set_owned(struct libsoccr_sk *sk, void **p, void *v, unsigned int own,
		      unsigned int flags)
{
	if ((sk->flags & own) && *p != v)
		free(*p);
	*p = v;
	if (flags & SOCCR_MEM_EXCL)
		sk->flags |= own;
	else
		sk->flags &= ~own;
}

SOCCR_API int libsoccr_set_queue_bytes(struct libsoccr_sk *sk, int queue_id, char *bytes,
				       unsigned flags)
{
	char **p;
	unsigned int own;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return -1;
	switch (queue_id) {
	case TCP_RECV_QUEUE:
		p = &sk->recv_queue;
		own = SK_FREE_RQ;
		break;
	case TCP_SEND_QUEUE:
		p = &sk->send_queue;
		own = SK_FREE_SQ;
		break;
	default:
		return -1;
	}
	set_owned(sk, (void **)p, bytes, own, flags);
	return 0;
}

SOCCR_API int libsoccr_set_addr(struct libsoccr_sk *sk, int self, union libsoccr_addr *addr,
				unsigned flags)
{
	union libsoccr_addr **p;
	unsigned int own;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return -1;
	p = self ? &sk->src_addr : &sk->dst_addr;
	own = self ? SK_FREE_SA : SK_FREE_DA;
	set_owned(sk, (void **)p, addr, own, flags);
	return 0;
}

/* ---- restore ---------------------------------------------------------------------- */

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

static socklen_t addr_len(const union libsoccr_addr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->v4) : sizeof(a->v6);
}

static bool is_mapped(const union libsoccr_addr *a)
{
	return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr);
}

static void fmt_addr(const union libsoccr_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->v4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->v4.sin_port));
	} else {
		inet_ntop(AF_INET6, &a->v6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->v6.sin6_port));
	}
}

static int set_queue_seq(int fd, int queue, uint32_t seq)
{
	if (set_repair_queue(fd, queue))
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq))) {
		pr_perror("sk %d: TCP_QUEUE_SEQ (%s) %u", fd, queue_name(queue), seq);
		return -1;
	}
	pr_dbg("sk %d: TCP_QUEUE_SEQ (%s) %u", fd, queue_name(queue), seq);
	return 0;
}

/*
 * Bind to the saved local address. SO_REUSEADDR is forced by repair mode, so
 * the old socket may still hold it. If the address is not (yet) configured
 * here, bind with IP(V6)_FREEBIND, then clear the flag again: it only
 * matters for bind, and the application did not set it.
 */
static int restore_bind(struct libsoccr_sk *sk)
{
	const union libsoccr_addr *a = sk->src_addr;
	int fd = sk->fd, one = 1, zero = 0, level, opt;
	char buf[64];

	fmt_addr(a, buf, sizeof(buf));
	if (is_mapped(a) || is_mapped(sk->dst_addr)) {
		/* A v4-mapped address binds only on a dual-stack socket. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
			pr_perror("sk %d: IPV6_V6ONLY 0", fd);
			return -1;
		}
	}
	if (!bind(fd, &a->sa, addr_len(a))) {
		pr_dbg("sk %d: bound to %s", fd, buf);
		return 0;
	}
	if (errno != EADDRNOTAVAIL) {
		pr_perror("sk %d: bind %s", fd, buf);
		return -1;
	}
	level = a->sa.sa_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	opt = a->sa.sa_family == AF_INET ? IP_FREEBIND : IPV6_FREEBIND;
	if (setsockopt(fd, level, opt, &one, sizeof(one))) {
		pr_perror("sk %d: FREEBIND", fd);
		return -1;
	}
	if (bind(fd, &a->sa, addr_len(a))) {
		pr_perror("sk %d: bind %s (freebind)", fd, buf);
		return -1;
	}
	setsockopt(fd, level, opt, &zero, sizeof(zero));
	pr_dbg("sk %d: bound to %s (address not local: freebind)", fd, buf);
	return 0;
}

/*
 * SYN_SENT with the first SYN's TSval saved (save_syn_tsval()): a peer that
 * got that SYN holds a request whose SYN-ACKs echo it, and
 * tcp_rcv_synsent_state_process() resets the handshake unless the echo,
 * minus our tsoffset, lies between our retrans_stamp (the time of the
 * connect() just made) and now (PAWS, TcpExtPAWSActive). Setting the clock
 * so that the first SYN's TSval reads as "now" places it there for any
 * SYN-ACK that arrives later, and our own SYNs then carry TSvals at or
 * above it, which the peer's request accepts (tcp_check_req()'s PAWS check
 * of a retransmitted SYN). A peer that got none of the old SYNs answers our
 * new one, whose echo is right whatever the clock.
 *
 * TCP_TIMESTAMP takes an even value (6.7+: the low bit selects microsecond
 * timestamps), so the clock is set to the TSval rounded up, which reads the
 * first SYN as up to 1 ms before now: 2 ms between the connect() and this
 * keep that after retrans_stamp.
 */
static int restore_syn_clock(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data)
{
	uint32_t ts = (data->timestamp + 1) & ~1u;

	if (!data->timestamp)
		return 0;
	usleep(SYN_CLOCK_GAP_US);
	if (setsockopt(sk->fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, sizeof(ts))) {
		pr_perror("sk %d: TCP_TIMESTAMP %u (SYN_SENT)", sk->fd, ts);
		return -1;
	}
	pr_dbg("sk %d: TCP_TIMESTAMP %u: the first SYN's TSval %u reads as now", sk->fd, ts,
	       data->timestamp);
	return 0;
}

static int restore_connect(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data)
{
	int fd = sk->fd, fl = -1, ret = -1;
	char buf[64];

	fmt_addr(sk->dst_addr, buf, sizeof(buf));
	if (data->state != TCP_SYN_SENT) {
		/* In repair mode connect() sends nothing and the socket is ESTABLISHED at once. */
		if (connect(fd, &sk->dst_addr->sa, addr_len(sk->dst_addr))) {
			pr_perror("sk %d: connect %s (repair)", fd, buf);
			return -1;
		}
		pr_dbg("sk %d: connected to %s (repair)", fd, buf);
		return 0;
	}
	/*
	 * SYN_SENT: the handshake is re-issued by a real connect() outside
	 * repair mode (the SYN is sent now, with the saved ISN, and repeated by
	 * the kernel's SYN timer once the lock is gone), non-blocking so that
	 * it returns while the lock holds it back.
	 */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		pr_perror("sk %d: O_NONBLOCK", fd);
		return -1;
	}
	if (repair_set(fd, TCP_REPAIR_OFF_NO_WP))
		goto out;
	if (connect(fd, &sk->dst_addr->sa, addr_len(sk->dst_addr)) && errno != EINPROGRESS) {
		pr_perror("sk %d: connect %s (SYN_SENT)", fd, buf);
		repair_set(fd, 1);
		goto out;
	}
	pr_dbg("sk %d: connecting to %s (SYN re-issued)", fd, buf);
	if (repair_set(fd, 1) || restore_syn_clock(sk, data))
		goto out;
	ret = 0;
out:
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl))
		pr_perror("sk %d: restoring file flags", fd);
	return ret;
}

static int restore_options(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data)
{
	struct tcp_repair_opt opts[4];
	unsigned int n = 0;
	int fd = sk->fd;

	if (data->opt_mask & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){.opt_code = TCPOPT_SACK_PERM};
	if (data->opt_mask & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){.opt_code = TCPOPT_WINDOW,
						    .opt_val = data->snd_wscale |
							       (data->rcv_wscale << 16)};
	if (data->opt_mask & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){.opt_code = TCPOPT_TIMESTAMP};
	opts[n++] = (struct tcp_repair_opt){.opt_code = TCPOPT_MAXSEG, .opt_val = data->mss_clamp};
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0]))) {
		pr_perror("sk %d: TCP_REPAIR_OPTIONS", fd);
		return -1;
	}
	pr_dbg("sk %d: TCP_REPAIR_OPTIONS sack %d wscale %u/%u ts %d mss %u", fd,
	       !!(data->opt_mask & TCPI_OPT_SACK), data->snd_wscale, data->rcv_wscale,
	       !!(data->opt_mask & TCPI_OPT_TIMESTAMPS), data->mss_clamp);
	if (data->opt_mask & TCPI_OPT_TIMESTAMPS) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &data->timestamp,
			       sizeof(data->timestamp))) {
			pr_perror("sk %d: TCP_TIMESTAMP %u", fd, data->timestamp);
			return -1;
		}
		pr_dbg("sk %d: TCP_TIMESTAMP %u", fd, data->timestamp);
	}
	return 0;
}

/* Make sure a queue of len bytes fits the socket's send or receive buffer. */
/*
 * SO_*BUFFORCE needs CAP_NET_ADMIN in the initial user namespace: in a user
 * namespace (CRIU's uns, rootless containers) the plain option is what is
 * left, capped by net.core.[rw]mem_max; a queue larger than that fails to
 * be written, as with CRIU's own libsoccr there.
 */
static int set_buf(int fd, int opt, int force_opt, int val)
{
	if (!setsockopt(fd, SOL_SOCKET, force_opt, &val, sizeof(val)))
		return 0;
	if (errno != EPERM)
		return -1;
	pr_dbg("sk %d: no CAP_NET_ADMIN for SO_*BUFFORCE: the plain option, up to the sysctl cap",
	       fd);
	return setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
}

static int ensure_buf(int fd, int opt, int force_opt, const char *name, uint32_t len)
{
	uint64_t want = (uint64_t)len + len / 4 + BUF_SLACK, target;
	socklen_t olen = sizeof(int);
	int cur, val;

	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &olen)) {
		pr_perror("sk %d: %s (get)", fd, name);
		return -1;
	}
	if ((uint64_t)cur >= want)
		return 0;
	/* The kernel doubles the value it is given (room for skb overhead). */
	target = (uint64_t)len + BUF_SLACK;
	val = target > INT32_MAX / 2 ? INT32_MAX / 2 : (int)target;
	if (set_buf(fd, opt, force_opt, val)) {
		pr_perror("sk %d: %s %d", fd, name, val);
		return -1;
	}
	pr_dbg("sk %d: %s raised from %d for a %u byte queue", fd, name, cur, len);
	return 0;
}

/*
 * Write len bytes into the socket: in repair mode into the queue selected
 * with TCP_REPAIR_QUEUE, outside it as ordinary unsent data. The kernel
 * takes a receive-queue write as one skb and refuses sizes it cannot
 * allocate (ENOMEM); such writes are retried in halves.
 */
static int write_queue(int fd, const char *what, const char *buf, uint32_t len)
{
	size_t chunk = MAX_CHUNK, off = 0;
	int grow = 0;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t r = send(fd, buf + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r < 0 && errno == ENOMEM && chunk > MIN_CHUNK) {
			chunk /= 2;
			continue;
		}
		if (r < 0 && errno == EAGAIN && grow++ < 4) {
			/* The buffer estimate was short: double it and go on. */
			int cur;
			socklen_t olen = sizeof(cur);
			int opt = strcmp(what, "recv") ? SO_SNDBUF : SO_RCVBUF;
			int force = opt == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE;

			if (!getsockopt(fd, SOL_SOCKET, opt, &cur, &olen) &&
			    !set_buf(fd, opt, force, cur))
				continue;
		}
		if (r == 0)
			errno = EIO;
		pr_perror("sk %d: restoring %s queue (%zu of %u bytes written, chunk %zu)", fd,
			  what, off, len, n);
		return -1;
	}
	pr_dbg("sk %d: %s queue: %u bytes written", fd, what, len);
	return 0;
}

static int restore_queues(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
			  const struct plan *p)
{
	uint32_t sent = data->outq_len - data->unsq_len;
	int fd = sk->fd;
	const char rtt_byte = 0;

	if (data->inq_len) {
		if (!sk->recv_queue) {
			pr_err("sk %d: %u bytes of receive queue expected, none given", fd,
			       data->inq_len);
			return -1;
		}
		if (ensure_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, "SO_RCVBUF", data->inq_len) ||
		    set_repair_queue(fd, TCP_RECV_QUEUE) ||
		    write_queue(fd, "recv", sk->recv_queue, data->inq_len))
			return -1;
	}
	/*
	 * The byte before snd_una, which the peer has acknowledged: queued as
	 * sent, in an skb of its own (each repair-mode write is "sent" at once),
	 * for restore_rtt() to have acknowledged. Its contents never leave.
	 */
	if (p->rtt_byte && (set_repair_queue(fd, TCP_SEND_QUEUE) ||
			    write_queue(fd, "send (RTT byte)", &rtt_byte, 1)))
		return -1;
	if (!data->outq_len)
		return 0;
	if (!sk->send_queue) {
		pr_err("sk %d: %u bytes of send queue expected, none given", fd, data->outq_len);
		return -1;
	}
	if (ensure_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, "SO_SNDBUF", data->outq_len))
		return -1;
	/* Sent but unacked: in repair mode, taken as already sent (retransmitted if lost). */
	if (sent && (set_repair_queue(fd, TCP_SEND_QUEUE) ||
		     write_queue(fd, "send (sent part)", sk->send_queue, sent)))
		return -1;
	if (data->unsq_len) {
		/*
		 * Never sent: ordinary data, written outside repair mode (a
		 * repair-mode write would mark it sent). The send window is
		 * still 0 here (TCP_REPAIR_WINDOW comes last), so the kernel
		 * only queues it; the window probe of TCP_REPAIR_OFF is skipped.
		 */
		if (repair_set(fd, TCP_REPAIR_OFF_NO_WP))
			return -1;
		if (write_queue(fd, "send (unsent part)", sk->send_queue + sent, data->unsq_len)) {
			repair_set(fd, 1);
			return -1;
		}
		if (repair_set(fd, 1))
			return -1;
	}
	return 0;
}

static int restore_window(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data)
{
	struct tcp_repair_window w = {
		.snd_wl1 = data->snd_wl1,
		.snd_wnd = data->snd_wnd,
		.max_window = data->max_window,
		.rcv_wnd = data->rcv_wnd,
		.rcv_wup = data->rcv_wup,
	};

	uint32_t rcv_nxt = data->inq_seq;

	if (!(data->flags & SOCCR_FLAGS_WINDOW))
		return 0;
	/*
	 * The kernel refuses a window whose snd_wl1 lies beyond rcv_nxt +
	 * rcv_wnd, or whose rcv_wup lies beyond rcv_nxt. A saved state can hold
	 * such an snd_wl1: it is the sequence number of the last segment whose
	 * ACK updated the send window, and an out-of-order segment (kept in the
	 * out-of-order queue, which TCP_REPAIR does not save) does that too.
	 * snd_wl1 only decides whether a later segment may update the window:
	 * taken back to rcv_nxt it lets the peer's next segment do so, which is
	 * what a retransmission of that lost data will do anyway.
	 */
	if ((int32_t)(w.snd_wl1 - (rcv_nxt + w.rcv_wnd)) > 0) {
		pr_dbg("sk %d: snd_wl1 %u is beyond rcv_nxt %u + rcv_wnd %u (out-of-order data "
		       "at the checkpoint): taken back to rcv_nxt",
		       sk->fd, w.snd_wl1, rcv_nxt, w.rcv_wnd);
		w.snd_wl1 = rcv_nxt;
	}
	if ((int32_t)(w.rcv_wup - rcv_nxt) > 0) {
		pr_dbg("sk %d: rcv_wup %u is beyond rcv_nxt %u: taken back to it", sk->fd, w.rcv_wup,
		       rcv_nxt);
		w.rcv_wup = rcv_nxt;
	}
	if (w.max_window < w.snd_wnd)
		w.max_window = w.snd_wnd;
	if (setsockopt(sk->fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w))) {
		pr_perror("sk %d: TCP_REPAIR_WINDOW snd_wl1 %u snd_wnd %u max %u rcv_wnd %u "
			  "rcv_wup %u",
			  sk->fd, w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup);
		return -1;
	}
	pr_dbg("sk %d: TCP_REPAIR_WINDOW snd_wl1 %u snd_wnd %u max %u rcv_wnd %u rcv_wup %u",
	       sk->fd, w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup);
	return 0;
}

/*
 * Queue our FIN with shutdown(SHUT_WR) in repair mode. With TCP_SEND_QUEUE
 * selected the kernel marks it sent without transmitting it (as for the
 * data); with TCP_NO_QUEUE it stays unsent behind the unsent data (the send
 * window is still 0, so nothing leaves).
 */
static int restore_our_fin(struct libsoccr_sk *sk, bool sent)
{
	int fd = sk->fd;

	if (set_repair_queue(fd, sent ? TCP_SEND_QUEUE : TCP_NO_QUEUE))
		return -1;
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
	if (is_mapped(p)) {
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
 * TSecr is our current clock (an RTT sample of ~0 rather than a bogus one).
 */
static int inject(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
		  const struct plan *p, uint32_t seq, uint32_t ack, uint8_t flags,
		  const struct soccr_absorb *want)
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
		socklen_t len = sizeof(s.ts_ecr);

		s.ts = true;
		s.ts_val = 0;
		if (getsockopt(sk->fd, IPPROTO_TCP, TCP_TIMESTAMP, &s.ts_ecr, &len))
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
 * The peer's ACK of the extra byte queued before snd_una (restore_queues())
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
static void restore_rtt(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
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

static int check_args(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
		      unsigned data_size)
{
	int fd = sk ? sk->fd : -1;

	if (!sk || !data || data_size < SK_DATA_MIN_SIZE) {
		pr_err("sk %d: restore: invalid arguments (data %p, size %u, need %zu)", fd,
		       (const void *)data, data_size, SK_DATA_MIN_SIZE);
		return -1;
	}
	if (!sk->src_addr || !sk->dst_addr) {
		pr_err("sk %d: restore: local and peer addresses must be set", fd);
		return -1;
	}
	if (!sc_state_supported(data->state)) {
		pr_err("sk %d: restore: state %s (%u) is not restorable", fd,
		       state_name(data->state), data->state);
		return -1;
	}
	if ((sk->src_addr->sa.sa_family != AF_INET && sk->src_addr->sa.sa_family != AF_INET6) ||
	    sk->src_addr->sa.sa_family != sk->dst_addr->sa.sa_family ||
	    is_mapped(sk->src_addr) != is_mapped(sk->dst_addr)) {
		pr_err("sk %d: restore: local (family %d) and peer (family %d) addresses do not "
		       "match",
		       fd, sk->src_addr->sa.sa_family, sk->dst_addr->sa.sa_family);
		return -1;
	}
	if (data->unsq_len > data->outq_len) {
		pr_err("sk %d: restore: %u unsent bytes in a %u byte send queue", fd,
		       data->unsq_len, data->outq_len);
		return -1;
	}
	if (data->state == TCP_SYN_SENT && (data->inq_len || data->outq_len)) {
		pr_err("sk %d: restore: SYN_SENT with queued data", fd);
		return -1;
	}
	return 0;
}

/* The FIN bookkeeping (docs/design.md, "Which FIN goes where"), after the queues. */
static int restore_fins(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
			const struct plan *p)
{
	struct soccr_absorb want = {0};
	int ret;

	if ((p->mstate & SNDQ_FIN_FIRST) && restore_our_fin(sk, p->fin_sent))
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
	if ((p->mstate & SNDQ_FIN_SECOND) && restore_our_fin(sk, p->fin_sent))
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

static int restore(struct libsoccr_sk *sk, struct libsoccr_sk_data *data, struct plan *pp)
{
	struct plan p = *pp;
	int ret;

	p.mstate = SF(data->state);
	p.rcv_nxt = data->inq_seq - ((p.mstate & RCVQ_FIN) ? 1 : 0);
	p.write_seq = data->outq_seq - ((p.mstate & SNDQ_FIN) ? 1 : 0);
	p.snd_una = p.write_seq - data->outq_len;
	/* See libsoccr_save(): our FIN left unless data was still unsent. */
	p.fin_sent = !data->unsq_len || (p.mstate & SNDQ_FIN_ACKED);
	/*
	 * Something to send or resend once unlocked: give the RTO an RTT
	 * sample (restore_rtt()). Not in ESTABLISHED, whose restore injects
	 * nothing (it needs neither the injection path nor a firewall that
	 * lets marked segments in): there the RTO stays the 3 s fallback, as
	 * with CRIU's libsoccr, until the first ACK after the unlock.
	 */
	p.rtt_byte = (p.mstate & RTT_STATES) &&
		     (data->outq_len || (p.mstate & SNDQ_FIN & ~SNDQ_FIN_ACKED));
	pr_dbg("sk %d: restoring %s: rcv_nxt %u (+%u queued), snd_una %u write_seq %u "
	       "(%u queued, %u unsent)",
	       sk->fd, state_name(data->state), p.rcv_nxt - data->inq_len, data->inq_len, p.snd_una,
	       p.write_seq, data->outq_len, data->unsq_len);

	if (restore_bind(sk))
		return -1;
	if (set_queue_seq(sk->fd, TCP_RECV_QUEUE, p.rcv_nxt - data->inq_len))
		return -1;
	/* In SYN_SENT, write_seq is one past the ISN (the SYN's sequence number). */
	if (set_queue_seq(sk->fd, TCP_SEND_QUEUE,
			  p.snd_una - (data->state == TCP_SYN_SENT || p.rtt_byte ? 1 : 0)))
		return -1;
	if (restore_connect(sk, data))
		return -1;
	if (data->state == TCP_SYN_SENT)
		goto done;
	if (restore_options(sk, data))
		return -1;
	if (restore_queues(sk, data, &p))
		return -1;
	if (p.rtt_byte)
		restore_rtt(sk, data, &p);
	ret = restore_fins(sk, data, &p);
	if (ret)
		return ret;
	/* Last, so that the window is exactly the saved one (the FIN is in rcv_nxt by now). */
	if (data->state != TCP_CLOSE && restore_window(sk, data))
		return -1;
done:
	pr_dbg("sk %d: restored in %s", sk->fd, state_name(data->state));
	return 0;
}

/* The options struct may grow; what a caller built against an older header is enough. */
#define RESTORE_OPTS_MIN_SZ offsetof(struct soccr_restore_opts, observer)

SOCCR_API int soccr_restore_ext(struct libsoccr_sk *sk, struct libsoccr_sk_data *data,
				unsigned int data_size, const struct soccr_restore_opts *opts)
{
	struct soccr_peer_ctx peer;
	struct plan p = {.peer = &peer};
	int ret;

	memset(&peer, 0, sizeof(peer));
	if (sc_opts_copy(&peer.opts, sizeof(peer.opts), opts, opts ? opts->sz : 0,
			    RESTORE_OPTS_MIN_SZ)) {
		pr_err("sk %d: restore: bad options (sz %zu)", sk ? sk->fd : -1,
		       opts ? opts->sz : (size_t)0);
		return -EINVAL;
	}
	if (peer.opts.path > SOCCR_INJECT_RAW) {
		pr_err("sk %d: restore: bad options (path %d)", sk ? sk->fd : -1,
		       (int)peer.opts.path);
		return -EINVAL;
	}
	if (peer.opts.observer && peer.opts.observer->sz < sizeof(*peer.opts.observer)) {
		pr_err("sk %d: restore: bad observer (sz %zu)", sk ? sk->fd : -1,
		       peer.opts.observer->sz);
		return -EINVAL;
	}
	if (check_args(sk, data, data_size))
		return -1;
	ret = restore(sk, data, &p);
	/* Whatever happened: nothing of the injection path stays open without a session. */
	sc_peer_done(&peer);
	return ret;
}

SOCCR_API int libsoccr_restore(struct libsoccr_sk *sk, struct libsoccr_sk_data *data,
			       unsigned data_size)
{
	return soccr_restore_ext(sk, data, data_size, NULL);
}
