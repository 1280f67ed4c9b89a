/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's one netlink exchange (rtnetlink, sock_diag): build a
 * request with bounded attributes, send it with a fresh sequence number,
 * and hand each answer of that sequence to a callback until the kernel is
 * done (one answer, or a dump's NLMSG_DONE). Never installed.
 */
#ifndef SOCCR_NL_H
#define SOCCR_NL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Room for a request: header, family header and a few attributes. */
#define SOCCR_NL_REQ_MAX 512

struct sc_nl_req {
	union {
		struct nlmsghdr nh;
		char buf[SOCCR_NL_REQ_MAX];
	};
};

/*
 * A netlink socket of protocol (NETLINK_ROUTE, NETLINK_SOCK_DIAG) in the
 * calling thread's network namespace, O_CLOEXEC, with a receive timeout so
 * that a lost answer cannot hang the caller. Returns the fd or -errno.
 */
SOCCR_PRIVATE_API int sc_nl_open(int protocol);

/* Start req: type, flags (NLM_F_REQUEST is added), then hdr_len bytes of family header. */
SOCCR_PRIVATE_API void *sc_nl_init(struct sc_nl_req *req, uint16_t type, uint16_t flags,
				 size_t hdr_len);

/* Append one attribute. 0, or -EMSGSIZE if it does not fit (req unchanged). */
SOCCR_PRIVATE_API int sc_nl_put(struct sc_nl_req *req, uint16_t type, const void *data,
			      size_t len);

/*
 * Called for each answer of the request (not for NLMSG_ERROR/NLMSG_DONE):
 * return 0 to go on, > 0 to stop with success, < 0 to stop with that error.
 */
typedef int (*sc_nl_cb)(const struct nlmsghdr *nh, void *ctx);

/*
 * Send req on fd and read its answers (EINTR retried, answers to earlier,
 * interrupted requests skipped, truncated datagrams refused). Returns 0
 * (or the callback's positive value), the kernel's negative errno from an
 * NLMSG_ERROR, the callback's error, or -errno of the exchange.
 */
SOCCR_PRIVATE_API int sc_nl_talk(int fd, struct sc_nl_req *req, sc_nl_cb cb, void *ctx);

/*
 * Index the attributes in [start, start + len) by type into tb[0..max]
 * (later duplicates win, types above max ignored). Returns 0.
 */
SOCCR_PRIVATE_API int sc_nl_parse(const void *start, size_t len, const struct rtattr **tb,
				unsigned int max);

/* The attributes after a family header of hdr_len bytes in nh: start and length. */
SOCCR_PRIVATE_API const void *sc_nl_attrs(const struct nlmsghdr *nh, size_t hdr_len, size_t *len);

#endif /* SOCCR_NL_H */
