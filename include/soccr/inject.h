/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/inject.h>: send hand-built segments through an AF_PACKET socket so
 * that the local stack receives them as if they came from the peer.
 *
 * One handle is bound to one interface and reuses one socket for every send.
 * Frames carry SO_MARK = SOCCR_MARK by default, which the network lock lets
 * through. They go through the device's tc egress hook (no
 * PACKET_QDISC_BYPASS), because the lock and its mark-aware turn-around to
 * ingress live there. On lo the receive path usually runs within the send
 * call (softirq on the sending CPU), but nothing guarantees it: callers that
 * need certainty check the socket (TCP_INFO, TCP_QUEUE_SEQ).
 */
#ifndef SOCCR_INJECT_H
#define SOCCR_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <soccr/packet.h>

#ifdef __cplusplus
extern "C" {
#endif

struct soccr_injector;

struct soccr_injector_opts {
	size_t sz;		/* sizeof(struct soccr_injector_opts) */
	const char *ifname;	/* interface to send on; NULL and ifindex 0: "lo" */
	int ifindex;		/* used when ifname is NULL */
	uint32_t mark;		/* SO_MARK; 0 means SOCCR_MARK */
	int no_mark;		/* non-zero: send without SO_MARK */
};

/*
 * Open an injector on the interface of the calling thread's network
 * namespace. opts may be NULL. Returns 0 and *out, or a negative errno
 * (-ENODEV no such interface, -EPERM without CAP_NET_RAW, ...).
 */
int soccr_injector_open(const struct soccr_injector_opts *opts, struct soccr_injector **out);

/* Close the socket and free the handle. NULL is allowed. */
void soccr_injector_close(struct soccr_injector *inj);

/*
 * Interface index, and the link framing frames need: SOCCR_LINK_ETH for lo
 * (ARPHRD_LOOPBACK) and Ethernet-type devices (veth, bridge, ...),
 * SOCCR_LINK_NONE for devices without a link header (tun, wireguard: the
 * frame is the IP packet). Other device types are refused by open.
 */
int soccr_injector_ifindex(const struct soccr_injector *inj);
enum soccr_link soccr_injector_link(const struct soccr_injector *inj);

/* The interface's name; the string belongs to the handle. */
const char *soccr_injector_ifname(const struct soccr_injector *inj);

/*
 * The interface's own hardware address (zeros for lo and for devices
 * without one); returns 0 or -errno.
 */
int soccr_injector_hwaddr(const struct soccr_injector *inj, uint8_t mac[SOCCR_ETH_ALEN]);

/*
 * Send one frame, framed as soccr_injector_link() says (build it with that
 * link). Returns 0 or a negative errno: -EINVAL for a frame too short or
 * (without a link header) not IPv4/IPv6, -EMSGSIZE larger than the MTU,
 * -ENETDOWN interface down, ...
 */
int soccr_injector_send(struct soccr_injector *inj, const void *frame, size_t len);

/*
 * Send n frames with sendmmsg(). Every frame is checked before anything is
 * sent. Returns the number sent: n on full success, fewer when a later frame
 * failed (its error is logged), or a negative errno if none was sent.
 */
int soccr_injector_send_batch(struct soccr_injector *inj, const struct iovec *frames,
			      unsigned int n);

/*
 * Build seg with the injector's framing and send it. With Ethernet framing
 * the MAC addresses are seg->eth_src/eth_dst, chosen by the caller: zeros on
 * lo; on an Ethernet device typically its own address
 * (soccr_injector_hwaddr()) as destination, so that the frame, once a tc
 * program redirects it to the device's ingress, is taken as PACKET_HOST.
 * The frame buffer is kept in the handle. Returns 0 or a negative errno.
 */
int soccr_injector_send_segment(struct soccr_injector *inj, const struct soccr_segment *seg);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_INJECT_H */
