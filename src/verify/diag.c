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
#include "nl.h"

int sc_diag_open(void)
{
	int fd = sc_nl_open(NETLINK_SOCK_DIAG);

	if (fd < 0) {
		errno = -fd;
		pr_perror("verify: socket(NETLINK_SOCK_DIAG)");
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

/* The one answer: the socket's state and its tcp_info. */
static int diag_cb(const struct nlmsghdr *nh, void *ctx)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nh);
	const struct rtattr *tb[INET_DIAG_MAX + 1];
	struct soccr_tcp_info *ti = ctx;
	const void *attrs;
	size_t len;

	if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	ti->base.tcpi_state = m->idiag_state;
	attrs = sc_nl_attrs(nh, sizeof(*m), &len);
	sc_nl_parse(attrs, len, tb, INET_DIAG_MAX);
	if (tb[INET_DIAG_INFO]) {
		size_t l = RTA_PAYLOAD(tb[INET_DIAG_INFO]);

		memcpy(ti, RTA_DATA(tb[INET_DIAG_INFO]), l < sizeof(*ti) ? l : sizeof(*ti));
	}
	return 1;
}

int sc_diag_tcp(int nlfd, int family, const union soccr_inaddr *local, uint16_t lport,
		const union soccr_inaddr *peer, uint16_t pport, struct soccr_tcp_info *ti)
{
	struct inet_diag_req_v2 *r;
	struct sc_nl_req req;
	int ret;

	memset(ti, 0, sizeof(*ti));
	r = sc_nl_init(&req, SOCK_DIAG_BY_FAMILY, 0, sizeof(*r));
	r->sdiag_family = (__u8)family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = ~0u;
	r->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	r->id.idiag_sport = htons(lport);
	r->id.idiag_dport = htons(pport);
	put_addr(r->id.idiag_src, family, local);
	put_addr(r->id.idiag_dst, family, peer);
	r->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	ret = sc_nl_talk(nlfd, &req, diag_cb, ti);
	if (ret < 0)
		return ret; /* the kernel's -ENOENT for no such socket, or the exchange's errno */
	/* No answer but an ACK (error 0): the kernel found nothing. */
	return ret ? 0 : -ENOENT;
}
