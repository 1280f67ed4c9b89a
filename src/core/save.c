// SPDX-License-Identifier: LGPL-2.1-or-later
/* libsoccr_save(): a paused socket's state, options, window and queues. */
#include "core/sk.h"

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
		       sc_state_name(ti->tcpi_state), ti->tcpi_state);
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
	pr_dbg("sk %d: state %s, inq %u, outq %u (unsent %u)", sk->fd, sc_state_name(data->state),
	       data->inq_len, data->outq_len, data->unsq_len);
	return 0;
}

/*
 * SYN_SENT: no option is negotiated yet, and CRIU leaves timestamp 0. We
 * keep there the TSval of the first SYN, which a peer holding a half-open
 * request echoes in its SYN-ACKs; sc_restore_connect() sets the clock of the
 * re-issued connection from it. Left 0 when it cannot be known (no BPF
 * iterator), or when the clock counts microseconds (TCP_TIMESTAMP's low bit,
 * Linux 6.7+: a route with the tcp_usec_ts feature), which we do not handle.
 */
void sc_save_syn_tsval(struct libsoccr_sk *sk, struct libsoccr_sk_data *data)
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
		sc_save_syn_tsval(sk, data);
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

	if (sc_set_repair_queue(sk->fd, queue))
		return -1;
	if (getsockopt(sk->fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &slen)) {
		pr_perror("sk %d: TCP_QUEUE_SEQ (%s)", sk->fd, sc_queue_name(queue));
		return -1;
	}
	pr_dbg("sk %d: %s queue seq %u, %u bytes", sk->fd, sc_queue_name(queue), *seq, len);
	*bufp = NULL;
	if (!len)
		return 0;
	/* One byte more than expected, to see that the queue holds exactly len. */
	buf = malloc((size_t)len + 1);
	if (!buf) {
		pr_perror("sk %d: %s queue: allocating %u bytes", sk->fd, sc_queue_name(queue),
			  len + 1);
		return -1;
	}
	n = recv(sk->fd, buf, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		if (n < 0)
			pr_perror("sk %d: %s queue: recv(MSG_PEEK)", sk->fd, sc_queue_name(queue));
		else
			pr_err("sk %d: %s queue: recv(MSG_PEEK) read %zd bytes, expected %u",
			       sk->fd, sc_queue_name(queue), n, len);
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
