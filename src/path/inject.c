// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The AF_PACKET injector: hand-built segments written to a packet socket
 * bound to one interface, so that the local stack receives them as if they
 * came from the peer (see docs/design.md, "The injection path").
 *
 * Why AF_PACKET/SOCK_RAW: the frame goes out through dev_queue_xmit() of the
 * bound device exactly as we built it (addresses, seq/ack, checksums), which
 * a raw IP socket would not allow for a source address the host does not own
 * without IP_TRANSPARENT games. On lo, loopback_xmit() hands the frame
 * straight back to the receive path (eth_type_trans() sees the all-zero
 * destination MAC equal to lo's all-zero address: PACKET_HOST).
 *
 * The socket is opened with protocol 0: it is bound to the device (so the
 * handle names one interface) but registers no receive hook, so it never
 * queues copies of traffic nobody reads.
 *
 * PACKET_QDISC_BYPASS is deliberately NOT set: it would hand frames to the
 * driver directly and skip the clsact egress hook, and that hook is where the
 * network lock lives and where its mark-aware bypass turns SOCCR_MARK frames
 * around to ingress (bpf_redirect(ifindex, BPF_F_INGRESS)) on devices that do
 * not loop back by themselves. Without it an injected segment on an Ethernet
 * device would just leave the host.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <soccr/inject.h>

#include "internal.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519	/* pure IP, no link header (rmnet, some modems) */
#endif

/* sendmmsg() chunk: bounded stack use; the kernel caps a call at UIO_MAXIOV anyway. */
#define BATCH_CHUNK 64

/* The first byte of an IP header holds the version in its high nibble. */
#define IP_VERSION(b) ((unsigned int)(b) >> 4)

struct soccr_injector {
	int fd;
	int ifindex;
	char ifname[IF_NAMESIZE];
	unsigned short hatype;		/* ARPHRD_* */
	enum soccr_link link;
	uint8_t hwaddr[SOCCR_ETH_ALEN];
	void *buf;			/* send_segment()'s frame buffer, grown on demand */
	size_t buf_cap;
};

/* Link-layer header length in front of the IP header for a framing. */
static size_t link_hlen(enum soccr_link link)
{
	return link == SOCCR_LINK_ETH ? SOCCR_ETH_HLEN : 0;
}

/*
 * Copy the caller's options, whatever size their header had (libbpf style):
 * a shorter struct leaves the newer fields zero, a longer one must have
 * zeros beyond what we know.
 */
static int copy_opts(const struct soccr_injector_opts *in, struct soccr_injector_opts *out)
{
	return sc_opts_copy(out, sizeof(*out), in, in ? in->sz : 0,
			       offsetof(struct soccr_injector_opts, ifname) + sizeof(in->ifname));
}

/* Framing for a device type, or -EOPNOTSUPP. */
static int link_for_hatype(unsigned short hatype, enum soccr_link *link)
{
	switch (hatype) {
	case ARPHRD_LOOPBACK:	/* lo: eth_header_ops, hard_header_len ETH_HLEN */
	case ARPHRD_ETHER:	/* Ethernet, veth, bridge, macvlan, ... */
		*link = SOCCR_LINK_ETH;
		return 0;
	case ARPHRD_NONE:	/* tun (IFF_TUN), wireguard: the frame is the IP packet */
	case ARPHRD_RAWIP:
		*link = SOCCR_LINK_NONE;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

SOCCR_API int soccr_injector_open(const struct soccr_injector_opts *opts,
				  struct soccr_injector **out)
{
	struct soccr_injector_opts o;
	struct soccr_injector *inj = NULL;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	uint32_t mark;
	int fd = -1, err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = copy_opts(opts, &o);
	if (err) {
		pr_err("inject: bad options (sz %zu)", opts ? opts->sz : (size_t)0);
		return err;
	}
	if (o.ifname && (!*o.ifname || strlen(o.ifname) >= IF_NAMESIZE)) {
		pr_err("inject: bad interface name '%s'", o.ifname);
		return -EINVAL;
	}
	if (o.ifindex < 0) {
		pr_err("inject: bad interface index %d", o.ifindex);
		return -EINVAL;
	}
	inj = calloc(1, sizeof(*inj));
	if (!inj) {
		pr_err("inject %s: out of memory", o.ifname ? o.ifname : "lo");
		return -ENOMEM;
	}
	inj->fd = -1;

	/*
	 * The socket lives in the calling thread's network namespace (setns()
	 * is per thread), and the name lookups below go through it, so they
	 * see the same interfaces.
	 */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_perror("inject %s: socket(AF_PACKET)", o.ifname ? o.ifname : "lo");
		goto fail;
	}

	memset(&ifr, 0, sizeof(ifr));
	if (o.ifname || !o.ifindex) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.ifname ? o.ifname : "lo");
		if (ioctl(fd, SIOCGIFINDEX, &ifr)) {
			err = -errno;
			pr_perror("inject %s: SIOCGIFINDEX", ifr.ifr_name);
			goto fail;
		}
		inj->ifindex = ifr.ifr_ifindex;
	} else {
		ifr.ifr_ifindex = o.ifindex;
		if (ioctl(fd, SIOCGIFNAME, &ifr)) {
			/* ENXIO from the kernel for an unknown index; ENODEV like a bad name. */
			err = errno == ENXIO ? -ENODEV : -errno;
			pr_err("inject ifindex %d: SIOCGIFNAME: %s", o.ifindex, strerror(-err));
			goto fail;
		}
		inj->ifindex = o.ifindex;
	}
	snprintf(inj->ifname, sizeof(inj->ifname), "%s", ifr.ifr_name);

	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		err = -errno;
		pr_perror("inject %s: SIOCGIFHWADDR", inj->ifname);
		goto fail;
	}
	inj->hatype = ifr.ifr_hwaddr.sa_family;
	err = link_for_hatype(inj->hatype, &inj->link);
	if (err) {
		pr_err("inject %s: device type %u not supported (loopback, Ethernet, none/raw IP)",
		       inj->ifname, inj->hatype);
		goto fail;
	}
	if (inj->link == SOCCR_LINK_ETH)
		memcpy(inj->hwaddr, ifr.ifr_hwaddr.sa_data, SOCCR_ETH_ALEN);

	/*
	 * skb->mark of every frame comes from the socket's mark; the lock lets
	 * SOCCR_MARK through. Setting it needs CAP_NET_ADMIN (or CAP_NET_RAW
	 * on newer kernels).
	 */
	if (!o.no_mark) {
		mark = o.mark ? o.mark : SOCCR_MARK;
		if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
			err = -errno;
			pr_perror("inject %s: SO_MARK 0x%x", inj->ifname, mark);
			goto fail;
		}
	}

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;	/* send only: no receive hook */
	sll.sll_ifindex = inj->ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		err = -errno;
		pr_perror("inject %s: bind", inj->ifname);
		goto fail;
	}

	inj->fd = fd;
	pr_dbg("inject %s: ifindex %d, type %u, %s framing, mark %s0x%x", inj->ifname,
	       inj->ifindex, inj->hatype, inj->link == SOCCR_LINK_ETH ? "Ethernet" : "no",
	       o.no_mark ? "none, not " : "", o.no_mark ? 0 : (o.mark ? o.mark : SOCCR_MARK));
	*out = inj;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(inj);
	return err;
}

SOCCR_API void soccr_injector_close(struct soccr_injector *inj)
{
	if (!inj)
		return;
	if (inj->fd >= 0)
		close(inj->fd);
	free(inj->buf);
	free(inj);
}

SOCCR_API int soccr_injector_ifindex(const struct soccr_injector *inj)
{
	return inj ? inj->ifindex : -EINVAL;
}

SOCCR_API enum soccr_link soccr_injector_link(const struct soccr_injector *inj)
{
	return inj ? inj->link : SOCCR_LINK_NONE;
}

SOCCR_API const char *soccr_injector_ifname(const struct soccr_injector *inj)
{
	return inj ? inj->ifname : NULL;
}


SOCCR_API int soccr_injector_hwaddr(const struct soccr_injector *inj, uint8_t mac[SOCCR_ETH_ALEN])
{
	if (!inj || !mac)
		return -EINVAL;
	/* Devices without a link header have no hardware address: zeros, like lo's. */
	memcpy(mac, inj->hwaddr, SOCCR_ETH_ALEN);
	return 0;
}

/*
 * Fill the destination address of one frame. sll_protocol becomes
 * skb->protocol: on devices without a link header nothing else tells the
 * stack whether the frame is IPv4 or IPv6, so it is taken from the IP
 * version; with Ethernet framing it is the frame's own EtherType.
 */
static int frame_addr(const struct soccr_injector *inj, const void *frame, size_t len,
		      unsigned int idx, struct sockaddr_ll *sll)
{
	const uint8_t *b = frame;
	size_t hlen = link_hlen(inj->link);

	if (!frame || len <= hlen) {
		pr_err("inject %s: frame %u: %zu bytes, shorter than a link header + IP", inj->ifname,
		       idx, len);
		return -EINVAL;
	}
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_ifindex = inj->ifindex;
	if (inj->link == SOCCR_LINK_ETH) {
		memcpy(&sll->sll_protocol, b + 12, sizeof(sll->sll_protocol));
		return 0;
	}
	switch (IP_VERSION(b[0])) {
	case 4:
		sll->sll_protocol = htons(ETH_P_IP);
		return 0;
	case 6:
		sll->sll_protocol = htons(ETH_P_IPV6);
		return 0;
	default:
		pr_err("inject %s: frame %u: not an IPv4/IPv6 packet (version %u)", inj->ifname, idx,
		       IP_VERSION(b[0]));
		return -EINVAL;
	}
}

SOCCR_API int soccr_injector_send(struct soccr_injector *inj, const void *frame, size_t len)
{
	struct sockaddr_ll sll;
	ssize_t n;
	int err;

	if (!inj)
		return -EINVAL;
	err = frame_addr(inj, frame, len, 0, &sll);
	if (err)
		return err;
	do
		n = sendto(inj->fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = -errno;
		pr_perror("inject %s: sendto (%zu bytes)", inj->ifname, len);
		return err;
	}
	/* A packet socket sends the whole frame or fails; anything else is a kernel surprise. */
	if ((size_t)n != len) {
		pr_err("inject %s: sendto: short send %zd of %zu", inj->ifname, n, len);
		return -EIO;
	}
	return 0;
}

SOCCR_API int soccr_injector_send_batch(struct soccr_injector *inj, const struct iovec *frames,
					unsigned int n)
{
	struct sockaddr_ll sll[BATCH_CHUNK];
	struct mmsghdr msg[BATCH_CHUNK];
	struct iovec iov[BATCH_CHUNK];
	unsigned int sent = 0;
	int err;

	if (!inj || (!frames && n))
		return -EINVAL;
	if (n > INT32_MAX)
		return -E2BIG;
	/* Validate everything first, so a bad frame in the middle sends nothing. */
	for (unsigned int i = 0; i < n; i++) {
		err = frame_addr(inj, frames[i].iov_base, frames[i].iov_len, i, &sll[0]);
		if (err)
			return err;
	}
	while (sent < n) {
		unsigned int chunk = n - sent < BATCH_CHUNK ? n - sent : BATCH_CHUNK;
		int r;

		memset(msg, 0, sizeof(msg[0]) * chunk);
		for (unsigned int i = 0; i < chunk; i++) {
			frame_addr(inj, frames[sent + i].iov_base, frames[sent + i].iov_len, sent + i,
				   &sll[i]);
			iov[i] = frames[sent + i];
			msg[i].msg_hdr.msg_name = &sll[i];
			msg[i].msg_hdr.msg_namelen = sizeof(sll[i]);
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		/*
		 * sendmmsg() stops at the first frame that fails and reports only
		 * the count; calling again from there brings that frame's errno
		 * back to us.
		 */
		r = sendmmsg(inj->fd, msg, chunk, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			pr_perror("inject %s: sendmmsg (frame %u of %u, %zu bytes)", inj->ifname,
				  sent, n, frames[sent].iov_len);
			return sent ? (int)sent : err;
		}
		if (r == 0)	/* cannot happen with chunk > 0; never spin on it */
			break;
		sent += (unsigned int)r;
	}
	return (int)sent;
}

SOCCR_API int soccr_injector_send_segment(struct soccr_injector *inj,
					  const struct soccr_segment *seg)
{
	ssize_t len;

	if (!inj || !seg)
		return -EINVAL;
	len = soccr_pkt_len(seg, inj->link);
	if (len < 0) {
		pr_err("inject %s: segment: %s", inj->ifname, strerror((int)-len));
		return (int)len;
	}
	if ((size_t)len > inj->buf_cap) {
		void *nb = realloc(inj->buf, (size_t)len);

		if (!nb) {
			pr_err("inject %s: out of memory (%zd-byte frame)", inj->ifname, len);
			return -ENOMEM;
		}
		inj->buf = nb;
		inj->buf_cap = (size_t)len;
	}
	len = soccr_pkt_build(seg, inj->link, inj->buf, inj->buf_cap);
	if (len < 0) {
		pr_err("inject %s: build: %s", inj->ifname, strerror((int)-len));
		return (int)len;
	}
	return soccr_injector_send(inj, inj->buf, (size_t)len);
}
