// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The raw IP sender: the hand-built segment, IP header included, through a
 * socket(family, SOCK_RAW, IPPROTO_RAW) (IP_HDRINCL is implied for both
 * families), addressed to our own address. The kernel routes it like any
 * packet this host sends to itself: the local route, out on lo and straight
 * back in with that route attached, so the receive side does no route
 * lookup and no source check (no martian, no rp_filter) whatever the
 * claimed source. The socket's mark (SO_MARK) becomes the packet's, so the
 * network lock and netfilter rules that accept SOCCR_MARK let it through.
 *
 * Needs CAP_NET_RAW (and CAP_NET_ADMIN for the mark, or CAP_NET_RAW on
 * Linux 5.17+) in the user namespace that owns the network namespace, and
 * no BPF: it works in a user namespace, where AF_PACKET frames that need
 * the bypass program cannot be delivered. For IPv4 the kernel rewrites the
 * header checksum and total length (raw_send_hdrinc()); the rest, the TCP
 * checksum included, is ours.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "path/path.h"

struct soccr_raw {
	int fd;
	int family;
	uint8_t buf[60 + 60 + 256]; /* IP header (+ IPv6 has no options here) + TCP + options */
};

int sc_raw_open(int family, uint32_t mark, struct soccr_raw **out)
{
	struct soccr_raw *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->family = family;
	r->fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (r->fd < 0) {
		err = -errno;
		pr_perror("raw: socket(%s, SOCK_RAW, IPPROTO_RAW)",
			  family == AF_INET ? "AF_INET" : "AF_INET6");
		free(r);
		return err;
	}
	if (setsockopt(r->fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		err = -errno;
		pr_perror("raw: SO_MARK 0x%x", mark);
		sc_raw_close(r);
		return err;
	}
	*out = r;
	return 0;
}

void sc_raw_close(struct soccr_raw *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int sc_raw_send_segment(struct soccr_raw *r, const struct soccr_segment *seg)
{
	struct sockaddr_storage ss = {0};
	socklen_t slen;
	ssize_t len, n;

	if (seg->family != r->family || seg->payload_len)
		return -EINVAL;
	len = soccr_pkt_build(seg, SOCCR_LINK_NONE, r->buf, sizeof(r->buf));
	if (len < 0)
		return (int)len;
	if (r->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = seg->dst.v4;
		slen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = seg->dst.v6;
		slen = sizeof(*sin6);
	}
	do
		n = sendto(r->fd, r->buf, (size_t)len, 0, (struct sockaddr *)&ss, slen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}
