// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * NETLINK_SOCK_DIAG: one exact inet_diag_req_v2 lookup per call (no dump):
 * without NLM_F_DUMP the kernel looks the 4-tuple up in the established and
 * listening hashes (inet_diag_find_one_icsk()) and answers with one
 * inet_diag_msg, or an NLMSG_ERROR (-ENOENT).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "diag.h"

int soccr_diag_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tmo = {.tv_sec = 1};
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		pr_perror("verify: socket(NETLINK_SOCK_DIAG)");
		return -errno;
	}
	/* The kernel answers at once; a bound on recv() keeps a lost answer from hanging us. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_perror("verify: sock_diag socket setup");
		close(fd);
		return -errno;
	}
	return fd;
}

static void put_addr(__be32 out[4], int family, const union soccr_inaddr *a)
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (family == AF_INET)
		memcpy(out, &a->v4, sizeof(a->v4));
	else
		memcpy(out, &a->v6, sizeof(a->v6));
}

int soccr_diag_tcp(int nlfd, int family, const union soccr_inaddr *local, uint16_t lport,
		   const union soccr_inaddr *peer, uint16_t pport, struct soccr_tcp_info *ti)
{
	static __u32 seqno;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	union {
		char buf[8192];
		struct nlmsghdr align;
	} ans;
	struct nlmsghdr *nlh;
	__u32 seq = __atomic_add_fetch(&seqno, 1, __ATOMIC_RELAXED);
	ssize_t n;

	memset(ti, 0, sizeof(*ti));
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = seq;
	req.r.sdiag_family = (__u8)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
	req.r.id.idiag_sport = htons(lport);
	req.r.id.idiag_dport = htons(pport);
	put_addr(req.r.id.idiag_src, family, local);
	put_addr(req.r.id.idiag_dst, family, peer);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	if (sendto(nlfd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		pr_perror("verify: sock_diag request");
		return -errno;
	}
	for (;;) {
		n = recv(nlfd, &ans, sizeof(ans), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("verify: sock_diag answer");
			return -errno;
		}
		for (nlh = &ans.align; NLMSG_OK(nlh, (unsigned int)n); nlh = NLMSG_NEXT(nlh, n)) {
			const struct inet_diag_msg *m;
			struct rtattr *rta;
			unsigned int rlen;

			if (nlh->nlmsg_seq != seq)
				continue; /* a late answer to an earlier, interrupted call */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				return e->error ? e->error : -ENOENT;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return -ENOENT;
			if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				return -EBADMSG;
			m = NLMSG_DATA(nlh);
			ti->base.tcpi_state = m->idiag_state;
			rta = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
			rlen = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (; RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen)) {
				size_t l = RTA_PAYLOAD(rta);

				if (rta->rta_type != INET_DIAG_INFO)
					continue;
				memcpy(ti, RTA_DATA(rta), l < sizeof(*ti) ? l : sizeof(*ti));
			}
			return 0;
		}
	}
}
