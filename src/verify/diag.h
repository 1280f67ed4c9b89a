/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NETLINK_SOCK_DIAG lookups of TCP sockets by their 4-tuple, for the
 * verifier's view of a socket owned by another process. Never installed.
 */
#ifndef SOCCR_DIAG_H
#define SOCCR_DIAG_H

#include <netinet/tcp.h>
#include <stdint.h>

#include <soccr/packet.h>

#include "internal.h"

/*
 * glibc's struct tcp_info stops at tcpi_total_retrans; the kernel's (UAPI
 * linux/tcp.h, a stable, append-only ABI) goes on with these fields.
 * linux/tcp.h itself clashes with netinet/tcp.h, hence the copy of the layout.
 */
struct soccr_tcp_info {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate;
	uint64_t bytes_acked;	    /* RFC 4898 tcpEStatsAppHCThruOctetsAcked */
	uint64_t bytes_received;    /* RFC 4898 tcpEStatsAppHCThruOctetsReceived */
	uint32_t segs_out, segs_in; /* RFC 4898 tcpEStatsPerfSegsOut/In */
};
_Static_assert(offsetof(struct soccr_tcp_info, segs_in) == 140, "UAPI tcp_info layout");

/* A NETLINK_SOCK_DIAG socket in the calling thread's netns. fd or -errno. */
SOCCR_HIDDEN int sc_diag_open(void);

/*
 * Look up the TCP socket local:lport <-> peer:pport (host-order ports) in the
 * netns of nlfd and fill *ti (zeroed first; ti->base.tcpi_state is the
 * socket's state even without INET_DIAG_INFO, as for a TIME_WAIT socket).
 * Returns 0, -ENOENT no such socket, or another negative errno.
 */
SOCCR_HIDDEN int sc_diag_tcp(int nlfd, int family, const union soccr_inaddr *local, uint16_t lport,
			     const union soccr_inaddr *peer, uint16_t pport,
			     struct soccr_tcp_info *ti);

#endif /* SOCCR_DIAG_H */
