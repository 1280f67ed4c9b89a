// SPDX-License-Identifier: LGPL-2.1-or-later
/* Netlink requests and answers for rtnetlink and sock_diag (see src/nl.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nl.h"

/* Big enough for a dump part (the kernel fills up to a page or 8 KiB per datagram). */
#define NL_RECV_BUF 32768

static uint32_t nl_seq;

int sc_nl_open(int protocol)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tmo = {.tv_sec = 2};
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -errno;
	/* Extended ACKs make errors clearer in strace; failing to ask is harmless. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void *sc_nl_init(struct sc_nl_req *req, uint16_t type, uint16_t flags, size_t hdr_len)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr_len);
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = (uint16_t)(flags | NLM_F_REQUEST);
	return NLMSG_DATA(&req->nh);
}

int sc_nl_put(struct sc_nl_req *req, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *rta;

	if (len > UINT16_MAX - RTA_LENGTH(0) || off + RTA_SPACE(len) > sizeof(req->buf))
		return -EMSGSIZE;
	rta = (struct rtattr *)(req->buf + off);
	rta->rta_type = type;
	rta->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return 0;
}

const void *sc_nl_attrs(const struct nlmsghdr *nh, size_t hdr_len, size_t *len)
{
	size_t start = NLMSG_SPACE(hdr_len);

	if (nh->nlmsg_len < start) {
		*len = 0;
		return NULL;
	}
	*len = nh->nlmsg_len - start;
	return (const char *)nh + start;
}

int sc_nl_parse(const void *start, size_t len, const struct rtattr **tb, unsigned int max)
{
	const struct rtattr *rta = start;
	unsigned int rlen = len > UINT32_MAX ? UINT32_MAX : (unsigned int)len;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	if (!start)
		return 0;
	for (; RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen))
		if (rta->rta_type <= max)
			tb[rta->rta_type] = rta;
	return 0;
}

/* One datagram's messages. Returns 1 when the exchange is over, 0 to read on, or -errno. */
static int nl_walk(const void *buf, size_t n, uint32_t seq, uint32_t portid, bool more,
		   sc_nl_cb cb, void *ctx, int *result)
{
	const struct nlmsghdr *nh = buf;
	unsigned int len = (unsigned int)n;

	for (; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		int ret;

		/* An answer to an earlier request that gave up (timeout, signal): not ours. */
		if (nh->nlmsg_seq != seq || (portid && nh->nlmsg_pid && nh->nlmsg_pid != portid))
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			/* error 0 is the ACK of a request without answer data. */
			*result = e->error;
			return 1;
		}
		if (nh->nlmsg_type == NLMSG_DONE)
			return 1;
		ret = cb ? cb(nh, ctx) : 0;
		if (ret) {
			*result = ret;
			return 1;
		}
		/* A lone answer ends the exchange unless a dump or an ACK is still to come. */
		if (!more && !(nh->nlmsg_flags & NLM_F_MULTI))
			return 1;
	}
	return 0;
}

int sc_nl_talk(int fd, struct sc_nl_req *req, sc_nl_cb cb, void *ctx)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK}, self;
	socklen_t slen = sizeof(self);
	bool more = (req->nh.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP ||
		    (req->nh.nlmsg_flags & NLM_F_ACK);
	uint32_t portid = 0;
	union {
		struct nlmsghdr align;
		char buf[NL_RECV_BUF];
	} *ans;
	int result = 0, ret;
	ssize_t n;

	if (!getsockname(fd, (struct sockaddr *)&self, &slen) && slen >= sizeof(self))
		portid = self.nl_pid;
	req->nh.nlmsg_seq = __atomic_add_fetch(&nl_seq, 1, __ATOMIC_RELAXED);
	req->nh.nlmsg_pid = 0;
	do
		n = sendto(fd, req->buf, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
			   sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	ans = malloc(sizeof(*ans));
	if (!ans)
		return -ENOMEM;
	for (;;) {
		n = recv(fd, ans->buf, sizeof(ans->buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* SO_RCVTIMEO: the kernel always answers, so a silence is an error. */
			ret = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		if ((size_t)n > sizeof(ans->buf)) {
			ret = -EMSGSIZE;
			break;
		}
		ret = nl_walk(ans->buf, (size_t)n, req->nh.nlmsg_seq, portid, more, cb, ctx,
			      &result);
		if (ret) {
			ret = ret < 0 ? ret : result;
			break;
		}
	}
	free(ans);
	return ret;
}
