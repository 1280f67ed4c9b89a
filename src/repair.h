/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private interfaces between the restore files: src/repair.c (libsoccr_*),
 * src/fin.c (segments "from the peer": build, send, check absorbed),
 * src/route.c (which device reaches the peer, the per-process injector
 * cache) and src/bypass.c (the tc egress -> ingress redirect). Never installed.
 */
#ifndef SOCCR_REPAIR_H
#define SOCCR_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include <soccr/inject.h>
#include <soccr/packet.h>

#include "internal.h"

/* One TCP flow as it goes on the wire (v4-mapped addresses already turned into IPv4). */
struct soccr_wire_flow {
	int family; /* AF_INET or AF_INET6 */
	union soccr_inaddr local, peer;
	uint16_t lport, pport; /* host order */
};

/*
 * How frames "from the peer" reach the local stack, for one flow: the
 * injector to send with and the Ethernet addresses to put on the frames.
 * Owned by the path cache (src/route.c); valid until the next
 * soccr_path_get() of this thread's caller or the cache being flushed.
 */
struct soccr_path {
	struct soccr_injector *inj;
	enum soccr_link link;
	bool loopback;		     /* sent on lo: zero MACs, no redirect needed */
	uint8_t mac[SOCCR_ETH_ALEN]; /* destination (and source) MAC on a device */
	int ifindex;
};

/*
 * Find (or set up, once per network namespace and device) the way to inject
 * frames that the local stack takes as coming from flow->peer: route lookup
 * from flow->local to flow->peer, injector on that device, and on a non-lo
 * device the tc bypass. The cache lock is held on success until
 * soccr_path_put(). Returns 0 or a negative errno; sk names the socket in logs.
 */
SOCCR_HIDDEN int soccr_path_get(int sk, const struct soccr_wire_flow *flow,
				struct soccr_path *path);
SOCCR_HIDDEN void soccr_path_put(void);

/* The tc egress redirect of SOCCR_MARK frames to the same device's ingress. */
struct soccr_bypass_handle;
SOCCR_HIDDEN int soccr_bypass_attach(int ifindex, const uint8_t mac[SOCCR_ETH_ALEN],
				     struct soccr_bypass_handle **out);
SOCCR_HIDDEN void soccr_bypass_detach(struct soccr_bypass_handle *b);

/* A segment to inject into the restored socket fd as if the peer had sent it. */
struct soccr_peer_seg {
	int fd;
	struct soccr_wire_flow flow;
	uint32_t seq, ack;
	uint8_t flags;	 /* SOCCR_TCP_* */
	uint16_t window; /* as on the wire */
	bool ts;	 /* carry a timestamps option */
	uint32_t ts_val, ts_ecr;
};

/* What the socket must show once the segment was absorbed. */
struct soccr_absorb {
	int state; /* TCP_* state expected */
	bool check_rcv_nxt;
	uint32_t rcv_nxt; /* expected TCP_QUEUE_SEQ of the receive queue */
	bool check_acked; /* nothing left unacknowledged in the send queue */
	bool check_outq;  /* the send queue (SIOCOUTQ) holds exactly outq bytes */
	uint32_t outq;
	bool check_answered; /* the socket sent a segment (an ACK) in answer */
	bool optional;	     /* best effort: "not absorbed" is logged at debug level */
};

/*
 * Send seg and wait briefly until the socket shows want. Returns 0, -ENOLINK
 * if the segment went out but was not absorbed, or another negative errno if
 * it could not be sent (then nothing was sent).
 */
SOCCR_HIDDEN int soccr_inject_from_peer(const struct soccr_peer_seg *seg,
					const struct soccr_absorb *want);

/*
 * The TSval of the first SYN of fd, a SYN_SENT socket (src/synstamp.c: a BPF
 * TCP iterator in fd's network namespace). Returns 0, -ENOENT if fd is not
 * a SYN_SENT socket there, or another negative errno (no BTF, no CAP_BPF).
 */
SOCCR_HIDDEN int soccr_syn_first_tsval(int fd, uint32_t *tsval);

#endif /* SOCCR_REPAIR_H */
