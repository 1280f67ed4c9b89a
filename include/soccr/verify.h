/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/verify.h>: prove the fate of every injected segment.
 *
 * A verifier combines two witnesses:
 * - the wire: a libpcap capture opened BEFORE anything is sent (immediate
 *   mode, a compiled filter limited to the flows being verified, bounded
 *   non-blocking reads), which tells whether each injected frame went out
 *   of the injector (PACKET_OUTGOING copy) and entered the receive path
 *   (incoming copy), byte for byte as built and with valid checksums;
 * - the socket: TCP_INFO (and TCP_QUEUE_SEQ when the socket is in repair
 *   mode) for a local fd, or NETLINK_SOCK_DIAG (INET_DIAG_INFO -> tcp_info)
 *   for a socket of another process found by its 4-tuple, compared before
 *   and after the injection.
 *
 * Each segment gets a verdict (absorbed, not-absorbed, not-seen), a reason
 * naming the check that failed, and a hint (lock counters, device state,
 * stack counters). One handle serves a whole batch, and batch after batch.
 *
 * Where the capture sits: libpcap's packet socket sees a frame when the
 * device transmits it (dev_queue_xmit_nit(), AFTER the tc egress hook) and
 * when the receive path takes it (__netif_receive_skb_core(), BEFORE the tc
 * ingress hook and netfilter). So a frame dropped at tc egress (e.g. by the
 * lock, for a missing mark) is never seen; one redirected by tc egress to
 * ingress is seen once, incoming; on lo a frame is seen twice (out, then in
 * when lo loops it back); a frame dropped at tc ingress, by netfilter,
 * rp_filter or a bad checksum is seen incoming but never reaches the socket.
 *
 * The capture is taken on the "any" device in Linux cooked v2 format
 * (DLT_LINUX_SLL2), because only that format carries each packet's
 * direction and interface index; with an interface given, the filter keeps
 * only that interface. Cooked capture has no Ethernet header: the bytes
 * compared are the whole IP packet, plus the Ethernet type and source
 * address from the cooked header (the destination MAC is not compared; a
 * wrong one shows as an incoming copy of type "otherhost").
 *
 * The verifier works in the network namespace of the thread that opened it.
 * Its functions may be called from several threads (an internal mutex).
 */
#ifndef SOCCR_VERIFY_H
#define SOCCR_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <soccr/lock.h>
#include <soccr/packet.h>
#include <soccr/restore.h>

#ifdef __cplusplus
extern "C" {
#endif

struct soccr_verifier;

/* soccr_verifier_opts.flags */
#define SOCCR_VERIFY_NO_CAPTURE 0x1 /* socket-side checks only, no libpcap capture */
#define SOCCR_VERIFY_NO_LINGER	0x2 /* pcap file: do not wait for the socket's answers */

struct soccr_verifier_opts {
	size_t sz;		 /* sizeof(struct soccr_verifier_opts) */
	const char *ifname;	 /* capture only this interface; NULL and ifindex 0: all of them */
	int ifindex;		 /* used when ifname is NULL */
	unsigned int timeout_ms; /* bound on every wait (capture and socket); 0: 250 ms */
	unsigned int snaplen;	 /* bytes captured per packet; 0: 2048 */
	unsigned int buffer_kb;	 /* capture ring size in KiB; 0: 8192 */
	const char *pcap_path;	 /* non-NULL: write a pcap file (DLT_LINUX_SLL2), see below */
	/*
	 * With a pcap file: keep capturing this long after the batch was seen,
	 * so that the socket's answers (a delayed ACK: 40 ms and more) are in
	 * the file; 0: 100 ms; SOCCR_VERIFY_NO_LINGER: not at all.
	 */
	unsigned int linger_ms;
	struct soccr_lock *lock; /* non-NULL: per-flow lock counters go into the hints */
	unsigned int flags;	 /* SOCCR_VERIFY_* */
};

/* What the socket must show once the segment was absorbed. */
#define SOCCR_VERIFY_CHECK_RCV	0x1  /* receive sequence advanced past the segment (FIN/data) */
#define SOCCR_VERIFY_CHECK_ACK	0x2  /* the send side is acknowledged up to the segment's ack */
#define SOCCR_VERIFY_CHECK_AUTO 0x80 /* derive checks and state from the segment (default) */
/*
 * A local socket is judged from TCP_INFO's bytes_received / bytes_acked
 * deltas against the "before" view (exactly what rcv_nxt / snd_una moved),
 * and from TCP_QUEUE_SEQ (rcv_nxt, write_seq) if it is in repair mode and
 * that did not pass, or there is no "before" view (the restore hook). With
 * this flag TCP_QUEUE_SEQ is always read in repair mode (four syscalls more).
 */
#define SOCCR_VERIFY_PRECISE 0x100

struct soccr_verify_expect {
	size_t sz; /* sizeof(struct soccr_verify_expect) */
	/*
	 * The receiving socket: a local fd, or -1 to look it up by the
	 * segment's 4-tuple (local = the segment's destination) through
	 * NETLINK_SOCK_DIAG: it may belong to any process of the namespace.
	 */
	int fd;
	/*
	 * TCP state (TCP_CLOSE_WAIT, ...) expected afterwards; 0: derived
	 * from the state before and the flags (ESTABLISHED + FIN ->
	 * CLOSE_WAIT, FIN_WAIT1 + FIN -> CLOSING, FIN_WAIT1 + ACK of our FIN
	 * -> FIN_WAIT2, ...), no check when nothing can be derived.
	 */
	int state;
	unsigned int checks; /* SOCCR_VERIFY_CHECK_* (0: AUTO), | SOCCR_VERIFY_PRECISE */
};

enum soccr_verdict_kind {
	SOCCR_VERDICT_PENDING = 0, /* not collected yet */
	SOCCR_VERDICT_ABSORBED,
	SOCCR_VERDICT_NOT_ABSORBED,
	SOCCR_VERDICT_NOT_SEEN,
};

/* Which checks failed (soccr_verdict.failed). */
#define SOCCR_VFAIL_SEND     0x001 /* the send call failed */
#define SOCCR_VFAIL_WIRE     0x002 /* not captured (not-seen) */
#define SOCCR_VFAIL_BYTES    0x004 /* captured, but not the bytes built */
#define SOCCR_VFAIL_CHECKSUM 0x008 /* captured with an invalid IP or TCP checksum */
#define SOCCR_VFAIL_SEQUENCE 0x010 /* the receive sequence did not advance as expected */
#define SOCCR_VFAIL_ACK	     0x020 /* the send side did not show the acknowledgement */
#define SOCCR_VFAIL_STATE    0x040 /* not the expected TCP state */
#define SOCCR_VFAIL_SOCKET   0x080 /* no such socket (sock_diag) or getsockopt failed */
#define SOCCR_VFAIL_DELIVERY 0x100 /* captured incoming, but never reached the socket */

/* TCP_INFO / sock_diag view of the socket. */
struct soccr_verify_sock {
	int valid;	    /* 0: not read */
	int state;	    /* TCP_* */
	int repair;	    /* rcv_nxt is valid (TCP_QUEUE_SEQ, repair mode) */
	int have_write_seq; /* write_seq is valid too */
	uint32_t rcv_nxt, write_seq;
	uint32_t unacked; /* tcpi_unacked (segments in flight) */
	uint32_t segs_in;
	uint64_t bytes_received, bytes_acked;
};

/* The fate of one segment. Owned by the verifier. */
struct soccr_verdict {
	struct soccr_segment seg; /* as built (payload NULL) */
	enum soccr_verdict_kind kind;
	unsigned int failed; /* SOCCR_VFAIL_* */
	int send_err;	     /* negative errno from the send, 0 */
	int ifindex;	     /* device it was injected on (0 unknown) */
	char ifname[16];
	unsigned int seen_out, seen_in; /* captured copies: transmitted, received */
	unsigned int seen_other;	/* received, but not for this host (wrong MAC) */
	struct soccr_verify_sock before, after;
	int want_state;	     /* 0: none */
	unsigned int checks; /* SOCCR_VERIFY_CHECK_* actually applied */
	char reason[192];    /* why this verdict, one phrase */
	char hint[256];	     /* what else was observed (lock, device, stack), or "" */
};

/*
 * Open a verifier: the capture is activated here (so open it before
 * sending), with a filter that takes all TCP of the namespace until a flow
 * set is given (soccr_verifier_set_flows(); user space keeps only the
 * segments' flows either way). opts may be NULL. Returns 0 and *out, or a negative errno
 * (-EPERM without CAP_NET_RAW, -ENODEV unknown interface, -EIO libpcap
 * error, -errno of the pcap file).
 *
 * pcap file: for every collected batch, the captured packets of the
 * batch's flows (the injected segments as they crossed the capture point,
 * plus what was observed around them, in both directions), and, for each
 * segment that was never captured, the frame as built, as an outgoing
 * packet at its send time. Link type DLT_LINUX_SLL2 (direction and
 * interface index per packet): tcpdump -r FILE reads it.
 */
int soccr_verifier_open(const struct soccr_verifier_opts *opts, struct soccr_verifier **out);

/* Close the capture and the file, free the handle and its verdicts. NULL is allowed. */
void soccr_verifier_close(struct soccr_verifier *v);

/*
 * Restrict the capture to these flows (as seen from the local socket:
 * saddr:sport local, daddr:dport peer), replacing the previous set; call
 * it before sending a batch. Up to SOCCR_VERIFY_EXACT_FLOWS flows, the
 * kernel filter is one "host A and host B and port P and port Q" clause
 * per flow; above that, it matches the flows' addresses and the 4-tuples
 * are matched in user space. Segments given to soccr_verifier_expect()
 * add their flow if it is missing (a filter recompile). n = 0 with a NULL
 * flows: capture all TCP. soccr_verifier_collect() ends the batch and
 * empties the flow set again (nothing is captured until the next call or
 * segment), so call it for every batch. Returns 0 or a negative errno.
 */
#define SOCCR_VERIFY_EXACT_FLOWS 32
int soccr_verifier_set_flows(struct soccr_verifier *v, const struct soccr_flow *flows, size_t n);

/*
 * Register a frame that is about to be sent: its bytes as built (with
 * link framing link), the interface (ifindex, 0 unknown), and what the
 * socket must show afterwards (exp may be NULL: fd -1, derived checks).
 * Reads the socket's "before" view now. Returns the segment's id (>= 0)
 * or a negative errno (-EBADMSG the frame does not parse).
 */
int soccr_verifier_expect(struct soccr_verifier *v, const void *frame, size_t len,
			  enum soccr_link link, int ifindex, const struct soccr_verify_expect *exp);

/* Record the send result of segment id (0 or a negative errno). Returns 0 or -EINVAL. */
int soccr_verifier_sent(struct soccr_verifier *v, int id, int err);

/*
 * Judge every segment not judged yet: drain the capture until each sent
 * segment was seen entering the receive path or the deadline passed, then
 * check the sockets (retrying until the deadline while a check fails),
 * write the pcap file. Returns the number of segments of this batch that
 * were not absorbed (0: all absorbed), or a negative errno.
 */
int soccr_verifier_collect(struct soccr_verifier *v);

/* Number of segments registered since open or the last reset, and one of them. */
size_t soccr_verifier_count(const struct soccr_verifier *v);
const struct soccr_verdict *soccr_verifier_verdict(const struct soccr_verifier *v, size_t i);

/* Forget the segments (the next batch starts). The capture stays open. */
void soccr_verifier_reset(struct soccr_verifier *v);

/* "absorbed", "not-absorbed", "not-seen", "pending". */
const char *soccr_verdict_name(enum soccr_verdict_kind kind);

/*
 * One report line (no newline): "FLOW [FLAGS] seq S ack A: VERDICT: REASON
 * [(HINT)]". Returns what snprintf returns.
 */
int soccr_verdict_str(const struct soccr_verdict *vd, char *buf, size_t len);

/*
 * The whole report as JSON ({"segments":[...],"absorbed":N,...}) in a
 * malloc()ed string the caller frees. Returns 0 or -ENOMEM.
 */
int soccr_verifier_json(const struct soccr_verifier *v, char **out);

/*
 * Fill obs so that a restore given it (soccr_restore_opts.observer,
 * <soccr/restore.h>) reports every segment it injects, and the socket view
 * it read afterwards, to v. Per call: restores without it are not seen, and
 * v must stay open until the restore returns. The restore checks absorption
 * on the socket side by itself anyway; this adds the wire evidence and the
 * per-segment verdicts, collected with soccr_verifier_collect(). Returns 0
 * or -EINVAL.
 */
int soccr_verifier_observer(struct soccr_verifier *v, struct soccr_restore_observer *obs);

/*
 * For segments of fd given to v without a socket view (soccr_verifier_expect()
 * and soccr_verifier_sent() by hand): read the socket now (TCP_INFO and
 * TCP_QUEUE_SEQ) as their socket side.
 */
void soccr_verifier_sock_done(struct soccr_verifier *v, int fd);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_VERIFY_H */
