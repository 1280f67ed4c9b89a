// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Where the peer is, as the injection path needs to know it: the device a
 * route to it leaves through, whether its address is one of ours, and how
 * strictly lo checks the source of what it receives.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nl.h"
#include "path/path.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

bool sc_ns_eq(const struct soccr_ns_key *a, const struct soccr_ns_key *b)
{
	return a->cookie == b->cookie && a->dev == b->dev && a->ino == b->ino;
}

int sc_ns_of(int sk, struct soccr_ns_key *ns)
{
	socklen_t len = sizeof(ns->cookie);
	struct stat st;

	memset(ns, 0, sizeof(*ns));
	if (!getsockopt(sk, SOL_SOCKET, SO_NETNS_COOKIE, &ns->cookie, &len))
		return 0;
	/* Before Linux 5.14: the calling thread's namespace, which is where we send from. */
	if (stat("/proc/thread-self/ns/net", &st))
		return -errno;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

bool sc_addr_is_loopback(int family, const union soccr_inaddr *a)
{
	if (family == AF_INET)
		return (ntohl(a->v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->v6);
}

struct route_answer {
	struct soccr_route *rt;
	bool have_oif;
};

static int route_cb(const struct nlmsghdr *nh, void *ctx)
{
	struct route_answer *ans = ctx;
	const struct rtattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	const void *attrs;
	size_t len;

	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return -EBADMSG;
	attrs = sc_nl_attrs(nh, sizeof(*rtm), &len);
	sc_nl_parse(attrs, len, tb, RTA_MAX);
	ans->rt->local = rtm->rtm_type == RTN_LOCAL;
	if (tb[RTA_OIF] && RTA_PAYLOAD(tb[RTA_OIF]) >= sizeof(int)) {
		memcpy(&ans->rt->oif, RTA_DATA(tb[RTA_OIF]), sizeof(int));
		ans->have_oif = true;
	}
	return 1;
}

static int route_query(int nl, const struct soccr_wire_flow *flow, bool with_src,
		       struct soccr_route *rt)
{
	size_t alen = flow->family == AF_INET ? 4 : 16;
	struct route_answer ans = {.rt = rt};
	struct sc_nl_req req;
	struct rtmsg *rtm;
	int ret;

	rtm = sc_nl_init(&req, RTM_GETROUTE, 0, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)flow->family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	ret = sc_nl_put(&req, RTA_DST, &flow->peer, alen);
	if (!ret && with_src) {
		rtm->rtm_src_len = (unsigned char)(alen * 8);
		ret = sc_nl_put(&req, RTA_SRC, &flow->local, alen);
	}
	if (!ret)
		ret = sc_nl_talk(nl, &req, route_cb, &ans);
	if (ret < 0)
		return ret;
	return ans.have_oif ? 0 : -ENOENT;
}

int sc_route_get(int nl, const struct soccr_wire_flow *flow, struct soccr_route *rt)
{
	int ret;

	memset(rt, 0, sizeof(*rt));
	ret = route_query(nl, flow, true, rt);
	/* A source address that is not (yet) local is refused for IPv4: look up without it. */
	if (ret)
		ret = route_query(nl, flow, false, rt);
	return ret;
}

static int read_sysctl_int(const char *path)
{
	char buf[16];
	ssize_t n;
	int fd, v;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	if (sscanf(buf, "%d", &v) != 1 || v < 0)
		return -EIO;
	return v;
}

int sc_lo_rp_filter(void)
{
	/* The kernel applies the larger of the two (IN_DEV_MAXCONF). */
	int all = read_sysctl_int("/proc/sys/net/ipv4/conf/all/rp_filter");
	int lo = read_sysctl_int("/proc/sys/net/ipv4/conf/lo/rp_filter");

	if (all < 0)
		return all;
	if (lo < 0)
		return lo;
	return all > lo ? all : lo;
}

int sc_if_is_loopback(int ifindex)
{
	struct ifreq ifr = {.ifr_ifindex = ifindex};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SIOCGIFNAME, &ifr) || ioctl(fd, SIOCGIFFLAGS, &ifr) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	return (ifr.ifr_flags & IFF_LOOPBACK) ? 1 : 0;
}
