/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The injection path: how a segment built "from the peer" reaches a
 * restored socket (see docs/design.md, "The injection path"). Used by the
 * core (src/core/peer.c); knows nothing of it. Never installed.
 *
 *   route.c   where the peer is: route lookup (device, local or not), rp_filter
 *   inject.c  AF_PACKET injector (public API, <soccr/inject.h>)
 *   raw.c     raw IP sender (IPPROTO_RAW, SO_MARK), for where AF_PACKET needs BPF
 *   bypass.c  tc egress program turning marked frames to ingress
 *   session.c the opt-in cache of all of the above (<soccr/restore.h>)
 *   path.c    the choice between them, per restore
 */
#ifndef SOCCR_PATH_H
#define SOCCR_PATH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <soccr/inject.h>
#include <soccr/packet.h>
#include <soccr/restore.h>

#include "internal.h"

/* The ifindex of lo in every network namespace. */
#define SOCCR_LO_IFINDEX 1

/* One TCP flow as it goes on the wire (v4-mapped addresses already turned into IPv4). */
struct soccr_wire_flow {
	int family; /* AF_INET or AF_INET6 */
	union soccr_inaddr local, peer;
	uint16_t lport, pport; /* host order */
};

/* ---- route.c -------------------------------------------------------------------------- */

/* A network namespace: its cookie, or (old kernels) the inode of its nsfs file. */
struct soccr_ns_key {
	uint64_t cookie;
	dev_t dev;
	ino_t ino;
};

/* The network namespace of socket sk (else the calling thread's). 0 or -errno. */
SOCCR_HIDDEN int sc_ns_of(int sk, struct soccr_ns_key *ns);
SOCCR_HIDDEN bool sc_ns_eq(const struct soccr_ns_key *a, const struct soccr_ns_key *b);

struct soccr_route {
	int oif;	/* output device towards the peer */
	bool local;	/* the peer's address is one of this namespace's (RTN_LOCAL) */
};

/*
 * Look up the route from flow->local to flow->peer on the rtnetlink socket
 * nl (of the calling thread's namespace). 0 or -errno.
 */
SOCCR_HIDDEN int sc_route_get(int nl, const struct soccr_wire_flow *flow,
				 struct soccr_route *rt);

/* Is addr (family) certainly local without asking: 127/8, ::1. */
SOCCR_HIDDEN bool sc_addr_is_loopback(int family, const union soccr_inaddr *addr);

/*
 * The reverse-path filter mode that applies to IPv4 frames received on lo
 * in the calling thread's namespace: max(conf/all, conf/lo), 0-2, or -errno.
 */
SOCCR_HIDDEN int sc_lo_rp_filter(void);

/* 1 if device ifindex is a loopback device, 0 if not, or -errno. */
SOCCR_HIDDEN int sc_if_is_loopback(int ifindex);

/* ---- raw.c ---------------------------------------------------------------------------- */

struct soccr_raw;

/* A raw IP socket of family with SO_MARK = mark, O_CLOEXEC. 0 or -errno. */
SOCCR_HIDDEN int sc_raw_open(int family, uint32_t mark, struct soccr_raw **out);
SOCCR_HIDDEN void sc_raw_close(struct soccr_raw *r);
/* Build seg (no link header) and send it to seg->dst. 0 or -errno. */
SOCCR_HIDDEN int sc_raw_send_segment(struct soccr_raw *r, const struct soccr_segment *seg);

/* ---- bypass.c ------------------------------------------------------------------------- */

/* The tc egress redirect of SOCCR_MARK frames to the same device's ingress. */
struct soccr_bypass_handle;
/* mac NULL: lo (IPv4 frames get the output route instead). 0 or -errno. */
SOCCR_HIDDEN int sc_bypass_attach(int ifindex, const uint8_t mac[SOCCR_ETH_ALEN], bool quiet,
				     struct soccr_bypass_handle **out);
SOCCR_HIDDEN void sc_bypass_detach(struct soccr_bypass_handle *b);
/* Whether an attach error means "no BPF here" (no CAP_BPF, user namespace, ...). */
SOCCR_HIDDEN bool sc_bpf_denied(int err);

/* ---- path.c, session.c ---------------------------------------------------------------- */

enum soccr_path_kind {
	SOCCR_PATH_LO,	   /* AF_PACKET on lo, no program */
	SOCCR_PATH_LO_BPF, /* AF_PACKET on lo, IPv4 frames given the output route */
	SOCCR_PATH_DEV,	   /* AF_PACKET on the peer's device, turned to ingress */
	SOCCR_PATH_RAW,	   /* raw IP socket */
};

/* One way to send, as the session caches it (or as one restore opened it). */
struct soccr_path_entry {
	bool used;
	struct soccr_ns_key ns;
	enum soccr_path_kind kind;
	int ifindex;  /* AF_PACKET kinds */
	int family;   /* SOCCR_PATH_RAW */
	uint64_t last; /* for LRU */
	struct soccr_injector *inj;
	struct soccr_bypass_handle *bypass;
	struct soccr_raw *raw;
	uint8_t mac[SOCCR_ETH_ALEN]; /* SOCCR_PATH_DEV: the device's own */
};

/*
 * The path one restore injects through, from sc_path_open() to
 * sc_path_close(). With a session, e points into its cache and the
 * session's lock is held in between; without, e is the restore's own.
 */
struct soccr_path {
	struct soccr_session *session;
	struct soccr_path_entry *e;
	struct soccr_path_entry own;
	struct soccr_wire_flow flow;
};

/*
 * Choose and open the path for flow (socket sk, for logs and the
 * namespace), as <soccr/restore.h> describes for mode. s may be NULL.
 * 0 or -errno (nothing was sent; nothing is left open).
 */
SOCCR_HIDDEN int sc_path_open(struct soccr_session *s, enum soccr_inject_path mode, int sk,
				 const struct soccr_wire_flow *flow, struct soccr_path *p);

/* Send seg (src/dst/ports from the flow) through p. 0 or -errno. */
SOCCR_HIDDEN int sc_path_send(struct soccr_path *p, struct soccr_segment *seg);

/* The framing and device of the last sc_path_send() (for observers). */
SOCCR_HIDDEN enum soccr_link sc_path_link(const struct soccr_path *p);
SOCCR_HIDDEN int sc_path_ifindex(const struct soccr_path *p);

/* Close what the restore opened itself, or hand the entry back to the session. */
SOCCR_HIDDEN void sc_path_close(struct soccr_path *p);

/* session.c: the cache behind a session (lock held by the caller between get and put). */
SOCCR_HIDDEN void sc_session_lock(struct soccr_session *s);
SOCCR_HIDDEN void sc_session_unlock(struct soccr_session *s);
/* The session's rtnetlink socket for ns (created in the calling thread's). fd or -errno. */
SOCCR_HIDDEN int sc_session_nl(struct soccr_session *s, const struct soccr_ns_key *ns);
/* The cached entry for (ns, kind, ifindex, family), or NULL. */
SOCCR_HIDDEN struct soccr_path_entry *sc_session_find(struct soccr_session *s,
							 const struct soccr_ns_key *ns,
							 enum soccr_path_kind kind, int ifindex,
							 int family);
/* A free slot (the least recently used one emptied if needed). */
SOCCR_HIDDEN struct soccr_path_entry *sc_session_slot(struct soccr_session *s);
/* Route memo: the last answer for (ns, flow addresses), if fresh. */
SOCCR_HIDDEN bool sc_session_route_get(struct soccr_session *s, const struct soccr_ns_key *ns,
					  const struct soccr_wire_flow *flow,
					  struct soccr_route *rt);
SOCCR_HIDDEN void sc_session_route_set(struct soccr_session *s, const struct soccr_ns_key *ns,
					  const struct soccr_wire_flow *flow,
					  const struct soccr_route *rt);

/* lo's rp_filter in ns (sc_lo_rp_filter()), remembered as long as a route answer. */
SOCCR_HIDDEN int sc_session_rp_filter(struct soccr_session *s, const struct soccr_ns_key *ns);

/* Close an entry's descriptors and programs and mark it unused. */
SOCCR_HIDDEN void sc_path_entry_drop(struct soccr_path_entry *e);

#endif /* SOCCR_PATH_H */
