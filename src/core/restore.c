// SPDX-License-Identifier: LGPL-2.1-or-later
/* libsoccr_restore() and soccr_restore_ext(): a connection rebuilt on a fresh socket. */
#include "core/sk.h"

/* ---- restore ---------------------------------------------------------------------- */

static socklen_t addr_len(const union libsoccr_addr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->v4) : sizeof(a->v6);
}

bool sc_is_mapped(const union libsoccr_addr *a)
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
	if (sc_set_repair_queue(fd, queue))
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq))) {
		pr_perror("sk %d: TCP_QUEUE_SEQ (%s) %u", fd, sc_queue_name(queue), seq);
		return -1;
	}
	pr_dbg("sk %d: TCP_QUEUE_SEQ (%s) %u", fd, sc_queue_name(queue), seq);
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
	char buf[64] = "";

	/* Formatted only for a message: 10,000 restores in a row pay for each. */
	if (sc_log_enabled(SOCCR_LOG_DBG))
		fmt_addr(a, buf, sizeof(buf));
	if (sc_is_mapped(a) || sc_is_mapped(sk->dst_addr)) {
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
		fmt_addr(a, buf, sizeof(buf));
		pr_perror("sk %d: bind %s", fd, buf);
		return -1;
	}
	fmt_addr(a, buf, sizeof(buf));
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
 * SYN_SENT with the first SYN's TSval saved (sc_save_syn_tsval()): a peer that
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

int sc_restore_connect(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data)
{
	int fd = sk->fd, fl = -1, ret = -1;
	char buf[64];

	if (data->state != TCP_SYN_SENT) {
		/* In repair mode connect() sends nothing and the socket is ESTABLISHED at once. */
		if (connect(fd, &sk->dst_addr->sa, addr_len(sk->dst_addr))) {
			fmt_addr(sk->dst_addr, buf, sizeof(buf));
			pr_perror("sk %d: connect %s (repair)", fd, buf);
			return -1;
		}
		if (sc_log_enabled(SOCCR_LOG_DBG)) {
			fmt_addr(sk->dst_addr, buf, sizeof(buf));
			pr_dbg("sk %d: connected to %s (repair)", fd, buf);
		}
		return 0;
	}
	fmt_addr(sk->dst_addr, buf, sizeof(buf));
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
	if (sc_repair_set(fd, TCP_REPAIR_OFF_NO_WP))
		goto out;
	if (connect(fd, &sk->dst_addr->sa, addr_len(sk->dst_addr)) && errno != EINPROGRESS) {
		pr_perror("sk %d: connect %s (SYN_SENT)", fd, buf);
		sc_repair_set(fd, 1);
		goto out;
	}
	pr_dbg("sk %d: connecting to %s (SYN re-issued)", fd, buf);
	if (sc_repair_set(fd, 1) || restore_syn_clock(sk, data))
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

	if (len <= SMALL_QUEUE)
		return 0;
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

/* Select queue q unless *cur (the selected one, -1 if not known) is it already. */
static int select_queue(int fd, int *cur, int q)
{
	if (*cur == q)
		return 0;
	*cur = -1;
	if (sc_set_repair_queue(fd, q))
		return -1;
	*cur = q;
	return 0;
}

int sc_restore_queues(struct libsoccr_sk *sk, const struct libsoccr_sk_data *data,
		      const struct plan *p)
{
	uint32_t sent = data->outq_len - data->unsq_len;
	int fd = sk->fd, *q = &p->peer->repair_queue;
	const char rtt_byte = 0;

	if (data->inq_len) {
		if (!sk->recv_queue) {
			pr_err("sk %d: %u bytes of receive queue expected, none given", fd,
			       data->inq_len);
			return -1;
		}
		if (ensure_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, "SO_RCVBUF", data->inq_len) ||
		    select_queue(fd, q, TCP_RECV_QUEUE) ||
		    write_queue(fd, "recv", sk->recv_queue, data->inq_len))
			return -1;
	}
	/*
	 * The byte before snd_una, which the peer has acknowledged: queued as
	 * sent, in an skb of its own (each repair-mode write is "sent" at once),
	 * for sc_restore_rtt() to have acknowledged. Its contents never leave.
	 */
	if (p->rtt_byte && (select_queue(fd, q, TCP_SEND_QUEUE) ||
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
	if (sent && (select_queue(fd, q, TCP_SEND_QUEUE) ||
		     write_queue(fd, "send (sent part)", sk->send_queue, sent)))
		return -1;
	if (data->unsq_len) {
		/* Repair mode on again selects no queue. */
		*q = -1;
		/*
		 * Never sent: ordinary data, written outside repair mode (a
		 * repair-mode write would mark it sent). The send window is
		 * still 0 here (TCP_REPAIR_WINDOW comes last), so the kernel
		 * only queues it; the window probe of TCP_REPAIR_OFF is skipped.
		 */
		if (sc_repair_set(fd, TCP_REPAIR_OFF_NO_WP))
			return -1;
		if (write_queue(fd, "send (unsent part)", sk->send_queue + sent, data->unsq_len)) {
			sc_repair_set(fd, 1);
			return -1;
		}
		if (sc_repair_set(fd, 1))
			return -1;
		*q = TCP_NO_QUEUE;
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
		pr_dbg("sk %d: rcv_wup %u is beyond rcv_nxt %u: taken back to it", sk->fd,
		       w.rcv_wup, rcv_nxt);
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
		       sc_state_name(data->state), data->state);
		return -1;
	}
	if ((sk->src_addr->sa.sa_family != AF_INET && sk->src_addr->sa.sa_family != AF_INET6) ||
	    sk->src_addr->sa.sa_family != sk->dst_addr->sa.sa_family ||
	    sc_is_mapped(sk->src_addr) != sc_is_mapped(sk->dst_addr)) {
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
	 * sample (sc_restore_rtt()). Not in ESTABLISHED, whose restore injects
	 * nothing (it needs neither the injection path nor a firewall that
	 * lets marked segments in): there the RTO stays the 3 s fallback, as
	 * with CRIU's libsoccr, until the first ACK after the unlock.
	 */
	p.rtt_byte = (p.mstate & RTT_STATES) &&
		     (data->outq_len || (p.mstate & SNDQ_FIN & ~SNDQ_FIN_ACKED));
	pr_dbg("sk %d: restoring %s: rcv_nxt %u (+%u queued), snd_una %u write_seq %u "
	       "(%u queued, %u unsent)",
	       sk->fd, sc_state_name(data->state), p.rcv_nxt - data->inq_len, data->inq_len,
	       p.snd_una, p.write_seq, data->outq_len, data->unsq_len);

	if (restore_bind(sk))
		return -1;
	/* In SYN_SENT, write_seq is one past the ISN (the SYN's sequence number). */
	if (set_queue_seq(sk->fd, TCP_SEND_QUEUE,
			  p.snd_una - (data->state == TCP_SYN_SENT || p.rtt_byte ? 1 : 0)))
		return -1;
	/* The receive queue last: it stays selected for its bytes (sc_restore_queues()). */
	if (set_queue_seq(sk->fd, TCP_RECV_QUEUE, p.rcv_nxt - data->inq_len))
		return -1;
	p.peer->repair_queue = TCP_RECV_QUEUE;
	if (sc_restore_connect(sk, data))
		return -1;
	if (data->state == TCP_SYN_SENT)
		goto done;
	if (restore_options(sk, data))
		return -1;
	if (sc_restore_queues(sk, data, &p))
		return -1;
	if (p.rtt_byte)
		sc_restore_rtt(sk, data, &p);
	ret = sc_restore_fins(sk, data, &p);
	if (ret)
		return ret;
	/* Last, so that the window is exactly the saved one (the FIN is in rcv_nxt by now). */
	if (data->state != TCP_CLOSE && restore_window(sk, data))
		return -1;
done:
	pr_dbg("sk %d: restored in %s", sk->fd, sc_state_name(data->state));
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
	peer.repair_queue = -1;
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
