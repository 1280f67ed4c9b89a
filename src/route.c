// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Where injected segments go (DESIGN.md, "The injection path"): an output
 * route lookup from our address to the peer's names the device.
 *  - lo (the peer is on this host): the frame is sent on lo with zero MACs
 *    and loops straight back into the receive path. For IPv4, a packet that
 *    enters without a route attached and has a local source is a martian
 *    (fib_validate_source(), unless accept_local), so lo gets the loopback
 *    bypass, which attaches the output route to the frame before it loops
 *    back (bpf/bypass.bpf.c, soccr_bypass_lo);
 *  - an Ethernet device: the frame is sent on it, addressed to the device's
 *    own MAC, and the bypass (src/bypass.c) turns it around to the device's
 *    ingress, where a strict rp_filter check passes since the peer is
 *    routed through that very device;
 *  - a device without link header (tun, wireguard): no ingress turn-around
 *    exists for it here, so the frame goes on lo (fine with rp_filter 0/2).
 *
 * One injector (and one bypass) per (network namespace, device), and one
 * rtnetlink socket per network namespace, are kept for the life of the
 * process: restoring many sockets costs one route lookup and one send per
 * segment, no socket or program per restore. The namespace is the restored
 * socket's (SO_NETNS_COOKIE, Linux 5.14+; else the calling thread's). The
 * caches are small (least recently used entry dropped) so that namespaces
 * that come and go do not pile up, and everything is released when the
 * library is unloaded.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "repair.h"

#define CACHE_SIZE 8
#define NL_BUF	   4096

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* A network namespace: its cookie, or (old kernels) the inode of its nsfs file. */
struct ns_key {
	uint64_t cookie;
	dev_t dev;
	ino_t ino;
};

struct nl_entry {
	bool used;
	struct ns_key ns;
	int fd;
	uint64_t last;
};

struct path_entry {
	bool used;
	struct ns_key ns;
	int ifindex;
	uint64_t last; /* for LRU */
	struct soccr_path path;
	struct soccr_bypass_handle *bypass;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct path_entry cache[CACHE_SIZE];
static struct nl_entry nl_cache[CACHE_SIZE];
static uint64_t tick;

static bool ns_eq(const struct ns_key *a, const struct ns_key *b)
{
	return a->cookie == b->cookie && a->dev == b->dev && a->ino == b->ino;
}

static int ns_of(int sk, struct ns_key *ns)
{
	socklen_t len = sizeof(ns->cookie);
	struct stat st;

	memset(ns, 0, sizeof(*ns));
	if (!getsockopt(sk, SOL_SOCKET, SO_NETNS_COOKIE, &ns->cookie, &len))
		return 0;
	if (stat("/proc/thread-self/ns/net", &st))
		return -errno;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return 0;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sequence numbers of our rtnetlink requests (cache_lock held). */
static uint32_t nl_seq;

static int route_query(int fd, int family, const void *src, const void *dst, int *oif)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	union {
		struct nlmsghdr nh;
		char buf[NL_BUF];
	} resp;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct rtattr *rta;
	ssize_t n;
	int len;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = ++nl_seq;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	add_attr(&req.nh, RTA_DST, dst, alen);
	if (src) {
		req.rt.rtm_src_len = (unsigned char)(alen * 8);
		add_attr(&req.nh, RTA_SRC, src, alen);
	}
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	/* The answer to this request: a reply left over from an interrupted one is skipped. */
	do {
		n = recv(fd, &resp, sizeof(resp), 0);
		if (n < 0)
			return -errno;
		if (!NLMSG_OK(&resp.nh, (size_t)n))
			return -EBADMSG;
	} while (resp.nh.nlmsg_seq != req.nh.nlmsg_seq);
	if (resp.nh.nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(&resp.nh);

		return e->error ? e->error : -ENOENT;
	}
	if (resp.nh.nlmsg_type != RTM_NEWROUTE)
		return -EBADMSG;
	len = (int)RTM_PAYLOAD(&resp.nh);
	for (rta = RTM_RTA(NLMSG_DATA(&resp.nh)); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= sizeof(int)) {
			memcpy(oif, RTA_DATA(rta), sizeof(int));
			return 0;
		}
	}
	return -ENOENT;
}

static int route_lookup(int fd, int family, const void *src, const void *dst, int *oif)
{
	int ret = route_query(fd, family, src, dst, oif);

	/* A source address that is not (yet) local is refused for IPv4: look up without it. */
	if (ret && src)
		ret = route_query(fd, family, NULL, dst, oif);
	return ret;
}

/* The rtnetlink socket of namespace ns (created in the calling thread's); cache_lock held. */
static int nl_socket(const struct ns_key *ns)
{
	struct nl_entry *lru = &nl_cache[0];

	for (int i = 0; i < CACHE_SIZE; i++) {
		struct nl_entry *e = &nl_cache[i];

		if (e->used && ns_eq(&e->ns, ns)) {
			e->last = ++tick;
			return e->fd;
		}
		if (!e->used || (lru->used && e->last < lru->last))
			lru = e;
	}
	if (lru->used)
		close(lru->fd);
	memset(lru, 0, sizeof(*lru));
	lru->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (lru->fd < 0)
		return -errno;
	lru->used = true;
	lru->ns = *ns;
	lru->last = ++tick;
	return lru->fd;
}

static void entry_drop(struct path_entry *e)
{
	soccr_bypass_detach(e->bypass);
	soccr_injector_close(e->path.inj);
	memset(e, 0, sizeof(*e));
}

static bool is_loopback(const char *ifname)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool lo = false;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		lo = ifr.ifr_flags & IFF_LOOPBACK;
	close(fd);
	return lo;
}

static int entry_open(int sk, struct path_entry *e, int ifindex)
{
	struct soccr_injector_opts opts = {.sz = sizeof(opts), .ifindex = ifindex};
	int ret;

	ret = soccr_injector_open(&opts, &e->path.inj);
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: injector on if %d", sk, ifindex);
		return ret;
	}
	e->path.ifindex = ifindex;
	e->path.link = soccr_injector_link(e->path.inj);
	e->path.loopback = is_loopback(soccr_injector_ifname(e->path.inj));
	if (e->path.loopback) {
		ret = soccr_bypass_attach(ifindex, NULL, &e->bypass);
		if (ret) {
			errno = -ret;
			pr_perror("sk %d: lo: injection bypass", sk);
			soccr_injector_close(e->path.inj);
			e->path.inj = NULL;
		}
		return ret;
	}
	if (e->path.link != SOCCR_LINK_ETH)
		return 0;
	ret = soccr_injector_hwaddr(e->path.inj, e->path.mac);
	if (!ret)
		ret = soccr_bypass_attach(ifindex, e->path.mac, &e->bypass);
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: %s: injection bypass", sk, soccr_injector_ifname(e->path.inj));
		soccr_injector_close(e->path.inj);
		e->path.inj = NULL;
		return ret;
	}
	return 0;
}

/* Find or open the entry of (netns, ifindex); called with cache_lock held. */
static int lookup(int sk, const struct ns_key *ns, int ifindex, struct soccr_path *out)
{
	struct path_entry *e = NULL, *lru = &cache[0];
	int ret;

	for (int i = 0; i < CACHE_SIZE; i++) {
		struct path_entry *c = &cache[i];

		if (c->used && ns_eq(&c->ns, ns) && c->ifindex == ifindex) {
			e = c;
			break;
		}
		if (!c->used || (lru->used && c->last < lru->last))
			lru = c;
	}
	if (!e) {
		e = lru;
		if (e->used) {
			pr_dbg("sk %d: injection path cache full, dropping if %d", sk, e->ifindex);
			entry_drop(e);
		}
		ret = entry_open(sk, e, ifindex);
		if (ret) {
			memset(e, 0, sizeof(*e));
			return ret;
		}
		e->used = true;
		e->ns = *ns;
		e->ifindex = ifindex;
	}
	e->last = ++tick;
	*out = e->path;
	return 0;
}

/*
 * The last route answer (keyed by namespace and addresses, not ports), for
 * the next injections of the same restore and of restores to the same peer
 * right after it: one rtnetlink round trip costs about as much as sending
 * the segment. Kept 50 ms, so a route change is seen by the restores that
 * start later than that; one that starts earlier may still inject on the
 * old device, where the segment is not absorbed: -ENOLINK, nothing sent to
 * the peer, and a retry sees the new route.
 */
#define ROUTE_MEMO_NS (50 * 1000 * 1000)

static struct {
	bool valid;
	struct ns_key ns;
	int family;
	union soccr_inaddr local, peer;
	int oif;
	uint64_t when;
} route_memo;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The memoised route for flow in ns, if fresh; cache_lock held. */
static bool route_memo_get(const struct ns_key *ns, const struct soccr_wire_flow *flow, int *oif)
{
	if (!route_memo.valid || !ns_eq(&route_memo.ns, ns) || route_memo.family != flow->family ||
	    memcmp(&route_memo.local, &flow->local, sizeof(flow->local)) ||
	    memcmp(&route_memo.peer, &flow->peer, sizeof(flow->peer)) ||
	    now_ns() - route_memo.when > ROUTE_MEMO_NS)
		return false;
	*oif = route_memo.oif;
	return true;
}

static void route_memo_set(const struct ns_key *ns, const struct soccr_wire_flow *flow, int oif)
{
	route_memo.valid = true;
	route_memo.ns = *ns;
	route_memo.family = flow->family;
	route_memo.local = flow->local;
	route_memo.peer = flow->peer;
	route_memo.oif = oif;
	route_memo.when = now_ns();
}

int soccr_path_get(int sk, const struct soccr_wire_flow *flow, struct soccr_path *path)
{
	struct ns_key ns;
	int oif = 0, ret, lo, nl;

	ret = ns_of(sk, &ns);
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: network namespace", sk);
		return ret;
	}
	pthread_mutex_lock(&cache_lock);
	if (route_memo_get(&ns, flow, &oif)) {
		ret = 0;
	} else {
		nl = nl_socket(&ns);
		ret = nl < 0 ? nl
			     : route_lookup(nl, flow->family, &flow->local, &flow->peer, &oif);
		if (!ret)
			route_memo_set(&ns, flow, oif);
	}
	if (ret) {
		pthread_mutex_unlock(&cache_lock);
		errno = -ret;
		pr_perror("sk %d: route to the peer", sk);
		return ret;
	}
	ret = lookup(sk, &ns, oif, path);
	if (!ret && !path->loopback && path->link != SOCCR_LINK_ETH) {
		/* No way to turn frames around on a device without link header: use lo. */
		lo = (int)if_nametoindex("lo");
		pr_dbg("sk %d: if %d has no link header, injecting on lo (needs rp_filter 0 or 2)",
		       sk, oif);
		ret = lo ? lookup(sk, &ns, lo, path) : -ENODEV;
	}
	if (ret) {
		pthread_mutex_unlock(&cache_lock);
		return ret;
	}
	pr_dbg("sk %d: injecting on %s (if %d%s)", sk, soccr_injector_ifname(path->inj),
	       path->ifindex, path->loopback ? ", loopback" : ", turned to ingress");
	return 0;
}

void soccr_path_put(void)
{
	pthread_mutex_unlock(&cache_lock);
}

/* Library unload: close injectors and detach the bypass programs. */
__attribute__((destructor)) static void path_cache_free(void)
{
	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < CACHE_SIZE; i++) {
		if (cache[i].used)
			entry_drop(&cache[i]);
		if (nl_cache[i].used)
			close(nl_cache[i].fd);
		nl_cache[i].used = false;
	}
	pthread_mutex_unlock(&cache_lock);
}
