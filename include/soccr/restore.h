/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/restore.h>: libsoccr_restore() with options: a session that keeps
 * the injection path between restores, a choice of path, and an observer
 * that is told about every segment injected "from the peer".
 *
 * libsoccr_restore() is soccr_restore_ext() with no options: it keeps
 * nothing. Every descriptor it opens (a raw IP socket) is O_CLOEXEC and
 * closed before it returns, it loads no BPF program, and it changes no
 * process-wide setting. That is what CRIU needs: it restores
 * inside the task and then puts the task's own files at fixed numbers.
 *
 * A session is the opt-in cache for callers restoring many sockets (the
 * soccr tool, migration of a whole process): one injector and one egress
 * bypass program per (network namespace, device), one rtnetlink socket per
 * namespace, kept until soccr_session_close(). Its descriptors are
 * O_CLOEXEC; they stay open in the caller as long as the session does.
 * Restores sharing a session take turns for their injections (a lock is
 * held from a restore's first injected segment to its end): threads that
 * restore in parallel each use a session of their own.
 */
#ifndef SOCCR_RESTORE_H
#define SOCCR_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <soccr/packet.h>
#include <soccr/soccr.h>

#ifdef __cplusplus
extern "C" {
#endif

struct soccr_session;

struct soccr_session_opts {
	size_t sz; /* sizeof(struct soccr_session_opts) */
};

/* Open an empty session (nothing is opened until a restore needs it). 0 or -errno. */
int soccr_session_open(const struct soccr_session_opts *opts, struct soccr_session **out);

/* Close every descriptor and detach every program the session holds. NULL is allowed. */
void soccr_session_close(struct soccr_session *s);

/*
 * How segments "from the peer" reach the restored socket.
 *  AUTO:   without a session, the hand-built segment through a raw IP
 *          socket (IPPROTO_RAW, SO_MARK), which the local stack delivers
 *          with the route of a locally sent packet: cheap to open and close
 *          (closing an AF_PACKET socket waits for an RCU grace period,
 *          milliseconds), no BPF, works in a user namespace. With a
 *          session, AF_PACKET, kept open: on lo where the kernel takes such
 *          a frame without help (IPv6; IPv4 from a peer on another host
 *          when lo's rp_filter is not strict), else on the device that
 *          routes to the peer, turned to its ingress by a tc egress program
 *          (or on lo with the output route attached); the raw socket where
 *          no program can be loaded (a user namespace).
 *  PACKET: AF_PACKET only (loading the bypass program where needed).
 *  RAW:    the raw IP socket only.
 * Every path marks its frames with SOCCR_MARK; the absorption check is the
 * same for all.
 */
enum soccr_inject_path {
	SOCCR_INJECT_AUTO = 0,
	SOCCR_INJECT_PACKET = 1,
	SOCCR_INJECT_RAW = 2,
};

/* What a restored socket was seen to show after an injected segment. */
struct soccr_restore_view {
	int state;	   /* tcpi_state */
	bool have_rcv_nxt; /* rcv_nxt was read (TCP_QUEUE_SEQ of the receive queue) */
	uint32_t rcv_nxt;
	bool have_outq; /* outq was read (SIOCOUTQ) */
	int outq;	/* bytes not yet acknowledged */
};

/* What an injected segment must make the socket show. */
struct soccr_restore_expect {
	int state;	 /* TCP state expected afterwards */
	bool check_rcv;	 /* the receive sequence advanced past the segment */
	bool check_ack;	 /* nothing left unacknowledged in the send queue */
};

/*
 * Told about each segment injected into fd (called in the restoring thread,
 * while the restore runs; must not call back into the library for fd):
 * segment() once it was sent (err: 0 or the send's negative errno; link,
 * ifindex: the framing and device it left on; for the raw path link is
 * SOCCR_LINK_NONE and ifindex that of lo), view() once the restore has waited
 * for the socket (whatever the outcome), before TCP_REPAIR is turned off.
 * Either may be NULL.
 */
struct soccr_restore_observer {
	size_t sz; /* sizeof(struct soccr_restore_observer) */
	void (*segment)(void *ctx, int fd, const struct soccr_segment *seg, enum soccr_link link,
			int ifindex, const struct soccr_restore_expect *exp, int err);
	void (*view)(void *ctx, int fd, const struct soccr_restore_view *view);
	void *ctx;
};

struct soccr_restore_opts {
	size_t sz;			 /* sizeof(struct soccr_restore_opts) */
	struct soccr_session *session;	 /* NULL: nothing kept after the call */
	enum soccr_inject_path path;	 /* SOCCR_INJECT_AUTO by default */
	const struct soccr_restore_observer *observer; /* NULL: none */
};

/*
 * libsoccr_restore() with options (opts may be NULL). Same return values:
 * 0, -1 for a failed step, -ENOLINK if an injected segment was not absorbed,
 * another negative errno if no injection path could be set up (then nothing
 * was sent); -EINVAL for bad options.
 */
int soccr_restore_ext(struct libsoccr_sk *sk, struct libsoccr_sk_data *data,
		      unsigned int data_size, const struct soccr_restore_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_RESTORE_H */
