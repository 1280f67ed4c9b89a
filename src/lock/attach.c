// SPDX-License-Identifier: LGPL-2.1-or-later
/* The lock at tc: attached to a device's ingress and egress (clsact), found there, detached. */
#include "lock/lk.h"

/* ---- tc attachment ------------------------------------------------------------------ */

static const char *hook_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

/* Is the program with this id a soccr lock (ours, or one whose pins were lost)? */
static bool is_lock_prog(__u32 id)
{
	__u32 found;
	int fd = bpf_prog_get_fd_by_id(id);
	bool ret;

	if (fd < 0)
		return false;
	ret = !sc_lock_check_prog(fd, &found);
	close(fd);
	return ret;
}

struct hook_scan {
	int filters; /* netlink filter entries on the hook (0: none left) */
	__u32 ours;  /* id of the bpf program at our handle+priority, 0 if none */
};

/* One filter of the dump: count it; note the program id at our handle+priority. */
static int scan_filter_cb(const struct nlmsghdr *nh, void *ctx)
{
	const struct tcmsg *tc = NLMSG_DATA(nh);
	const struct rtattr *tb[TCA_MAX + 1], *opt[TCA_BPF_MAX + 1];
	struct hook_scan *hs = ctx;
	const void *attrs;
	size_t len;

	if (nh->nlmsg_type != RTM_NEWTFILTER || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
		return 0;
	hs->filters++;
	/* tcm_info carries the priority in its upper 16 bits (and the protocol below). */
	if (tc->tcm_handle != SOCCR_LOCK_TC_HANDLE ||
	    TC_H_MAJ(tc->tcm_info) >> 16 != SOCCR_LOCK_TC_PRIO)
		return 0;
	attrs = sc_nl_attrs(nh, sizeof(*tc), &len);
	sc_nl_parse(attrs, len, tb, TCA_MAX);
	if (!tb[TCA_KIND] || RTA_PAYLOAD(tb[TCA_KIND]) < 4 ||
	    memcmp(RTA_DATA(tb[TCA_KIND]), "bpf", 4) || !tb[TCA_OPTIONS])
		return 0;
	sc_nl_parse(RTA_DATA(tb[TCA_OPTIONS]), RTA_PAYLOAD(tb[TCA_OPTIONS]), opt, TCA_BPF_MAX);
	if (opt[TCA_BPF_ID] && RTA_PAYLOAD(opt[TCA_BPF_ID]) >= sizeof(__u32))
		memcpy(&hs->ours, RTA_DATA(opt[TCA_BPF_ID]), sizeof(hs->ours));
	return 0;
}

/* Dump tc objects (RTM_GETTFILTER, RTM_GETQDISC) of a device through the shared netlink code. */
static int tc_dump(__u16 type, int ifindex, __u32 parent, sc_nl_cb cb, void *ctx)
{
	struct sc_nl_req req;
	struct tcmsg *tc;
	int fd, err;

	fd = sc_nl_open(NETLINK_ROUTE);
	if (fd < 0)
		return fd;
	tc = sc_nl_init(&req, type, NLM_F_DUMP, sizeof(*tc));
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = ifindex;
	tc->tcm_parent = parent;
	err = sc_nl_talk(fd, &req, cb, ctx);
	close(fd);
	return err < 0 ? err : 0;
}

/*
 * Which filters one clsact hook has: how many, and which program sits at
 * our handle+priority. We read the dump ourselves rather than calling
 * bpf_tc_query(): libbpf prints the kernel's complaint as a warning whenever
 * the answer is "not there", which is our common case.
 */
static int scan_hook(int ifindex, __u32 parent, struct hook_scan *hs)
{
	memset(hs, 0, sizeof(*hs));
	return tc_dump(RTM_GETTFILTER, ifindex, parent, scan_filter_cb, hs);
}

struct clsact_scan {
	int ifindex;
	bool found;
};

static int clsact_cb(const struct nlmsghdr *nh, void *ctx)
{
	const struct tcmsg *tc = NLMSG_DATA(nh);
	const struct rtattr *tb[TCA_MAX + 1];
	struct clsact_scan *cs = ctx;
	const void *attrs;
	size_t len;

	if (nh->nlmsg_type != RTM_NEWQDISC || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)) ||
	    tc->tcm_ifindex != cs->ifindex)
		return 0;
	attrs = sc_nl_attrs(nh, sizeof(*tc), &len);
	sc_nl_parse(attrs, len, tb, TCA_MAX);
	if (tb[TCA_KIND] && RTA_PAYLOAD(tb[TCA_KIND]) >= 7 &&
	    !memcmp(RTA_DATA(tb[TCA_KIND]), "clsact", 7))
		cs->found = true;
	return 0;
}

/* Does the device have a clsact qdisc? 1, 0, or a negative errno. */
static int has_clsact(int ifindex)
{
	struct clsact_scan cs = {.ifindex = ifindex};
	int err = tc_dump(RTM_GETQDISC, ifindex, 0, clsact_cb, &cs);

	return err ? err : cs.found;
}

static __u32 hook_parent(enum bpf_tc_attach_point point)
{
	return TC_H_MAKE(TC_H_CLSACT, point == BPF_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

/*
 * Attach at one hook unless ours is there already. *tried is set once the
 * kernel was asked to attach (it may have, even when the reply says it did
 * not): only then is there anything of this call's to take away on failure.
 */
static int attach_point(struct soccr_lock *lock, const char *ifname, int ifindex,
			enum bpf_tc_attach_point point, bool *tried)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, a, .handle = SOCCR_LOCK_TC_HANDLE,
			    .priority = SOCCR_LOCK_TC_PRIO, .prog_fd = lock->prog_fd);
	struct hook_scan hs;
	int err;

	err = scan_hook(ifindex, hook_parent(point), &hs);
	if (err) {
		pr_err("lock: %s %s: list filters: %s", ifname, hook_name(point), strerror(-err));
		return err;
	}
	if (hs.ours == lock->prog_id) {
		pr_dbg("lock: %s %s: already attached", ifname, hook_name(point));
		return 0;
	}
	if (hs.ours) {
		pr_err("lock: %s %s: handle %#x prio %u holds another program (id %u); "
		       "'soccr lock detach' removes a stale lock",
		       ifname, hook_name(point), SOCCR_LOCK_TC_HANDLE, SOCCR_LOCK_TC_PRIO, hs.ours);
		return -EEXIST;
	}

	*tried = true;
	err = bpf_tc_attach(&hook, &a);
	/* Another process attaching the same lock at the same moment won the race: fine. */
	if (err == -EEXIST && !scan_hook(ifindex, hook_parent(point), &hs) &&
	    hs.ours == lock->prog_id)
		err = 0;
	if (err) {
		pr_err("lock: %s %s: attach: %s", ifname, hook_name(point), strerror(-err));
		return err;
	}
	pr_dbg("lock: %s %s: attached (prog id %u)", ifname, hook_name(point), a.prog_id);
	return 0;
}

static int detach_point(const char *ifname, int ifindex, enum bpf_tc_attach_point point);

/* Delete the device's clsact qdisc, but only when no filter of anyone is left on it. */
static void remove_empty_clsact(const char *ifname, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct hook_scan hs_in, hs_eg;
	int err;

	if (scan_hook(ifindex, hook_parent(BPF_TC_INGRESS), &hs_in) ||
	    scan_hook(ifindex, hook_parent(BPF_TC_EGRESS), &hs_eg))
		return;
	if (hs_in.filters || hs_eg.filters) {
		pr_dbg("lock: %s: clsact kept, other filters remain", ifname);
		return;
	}
	err = bpf_tc_hook_destroy(&hook);
	if (err && err != -ENOENT && err != -EINVAL)
		pr_dbg("lock: %s: delete clsact: %s", ifname, strerror(-err));
}

SOCCR_API int soccr_lock_attach(struct soccr_lock *lock, const char *ifname)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	bool tried_in = false, tried_eg = false, created;
	int ifindex, err;

	if (!lock || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		err = -errno;
		pr_perror("lock: %s", ifname);
		return err;
	}
	hook.ifindex = ifindex;
	/*
	 * Create the clsact qdisc unless the device has one (ours or not);
	 * asking first spares the host a libbpf warning about -EEXIST.
	 */
	created = has_clsact(ifindex) != 1;
	err = created ? bpf_tc_hook_create(&hook) : 0;
	if (err == -EEXIST) {
		/* Someone made it in between: not ours to remove. */
		created = false;
		err = 0;
	}
	if (err) {
		pr_err("lock: %s: create clsact qdisc: %s", ifname, strerror(-err));
		return err;
	}
	err = attach_point(lock, ifname, ifindex, BPF_TC_INGRESS, &tried_in);
	if (!err)
		err = attach_point(lock, ifname, ifindex, BPF_TC_EGRESS, &tried_eg);
	if (err) {
		/*
		 * Half a lock drops what comes in and lets out what goes: worse
		 * than none, because the caller was told it failed. Take away what
		 * this call put there (a lock that was already complete stays),
		 * the clsact qdisc too if this call made it and it is empty.
		 */
		int eg = tried_eg ? detach_point(ifname, ifindex, BPF_TC_EGRESS) : 0;
		int in = tried_in ? detach_point(ifname, ifindex, BPF_TC_INGRESS) : 0;

		if (eg < 0 || in < 0)
			pr_err("lock: %s: could not take a partial attach away", ifname);
		else if (created)
			remove_empty_clsact(ifname, ifindex);
	}
	return err;
}

/* if_nameindex(), with the error logged. 0 or -errno. */
static int list_interfaces(struct if_nameindex **ifs)
{
	*ifs = if_nameindex();
	if (*ifs)
		return 0;
	pr_perror("lock: list interfaces");
	return -errno;
}

SOCCR_API int soccr_lock_attach_all(struct soccr_lock *lock)
{
	struct if_nameindex *ifs, *i;
	int sk, err, first = 0, count = 0;

	if (!lock)
		return -EINVAL;
	err = list_interfaces(&ifs);
	if (err)
		return err;
	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		err = -errno;
		pr_perror("lock: socket");
		if_freenameindex(ifs);
		return err;
	}
	for (i = ifs; i->if_index; i++) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(sk, SIOCGIFFLAGS, &ifr)) {
			pr_dbg("lock: %s: SIOCGIFFLAGS: %m", i->if_name);
			continue;
		}
		if (!(ifr.ifr_flags & IFF_UP))
			continue;
		err = soccr_lock_attach(lock, i->if_name);
		if (err && !first)
			first = err;
		if (!err)
			count++;
	}
	close(sk);
	if_freenameindex(ifs);
	pr_dbg("lock: attached to %d interface(s)", count);
	return first;
}

static int detach_point(const char *ifname, int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = SOCCR_LOCK_TC_HANDLE,
			    .priority = SOCCR_LOCK_TC_PRIO);
	struct hook_scan hs;
	int err;

	/* Nothing at our handle (or no clsact at all): nothing of ours here. */
	if (scan_hook(ifindex, hook_parent(point), &hs) || !hs.ours)
		return 0;
	if (!is_lock_prog(hs.ours)) {
		pr_dbg("lock: %s %s: prog id %u at our handle is not a soccr lock, left alone",
		       ifname, hook_name(point), hs.ours);
		return 0;
	}
	err = bpf_tc_detach(&hook, &o);
	if (err && err != -ENOENT) {
		pr_err("lock: %s %s: detach: %s", ifname, hook_name(point), strerror(-err));
		return err;
	}
	pr_dbg("lock: %s %s: detached", ifname, hook_name(point));
	return 1;
}

static int detach_ifindex(const char *ifname, int ifindex)
{
	int in, eg;

	in = detach_point(ifname, ifindex, BPF_TC_INGRESS);
	eg = detach_point(ifname, ifindex, BPF_TC_EGRESS);
	if (in < 0 || eg < 0)
		return in < 0 ? in : eg;
	if (!in && !eg)
		return 0;
	/* We created the clsact qdisc if it was missing; take it away again if empty. */
	remove_empty_clsact(ifname, ifindex);
	return 0;
}

SOCCR_API int soccr_lock_detach_dev(struct soccr_lock *lock, const char *ifname)
{
	int ifindex;

	if (!lock || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		int err = -errno;

		pr_perror("lock: %s", ifname);
		return err;
	}
	return detach_ifindex(ifname, ifindex);
}

static int unpin(struct soccr_lock *lock)
{
	static const char *const names[] = {PIN_PROG, PIN_MAP};
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (sc_lock_path_in(lock, names[i], path, sizeof(path)))
			continue;
		if (unlink(path) && errno != ENOENT) {
			if (!err)
				err = -errno;
			pr_perror("lock: unlink %s", path);
		}
	}
	/* Another component may keep its own pins here: then the directory stays. */
	if (rmdir(lock->pin_dir) && errno != ENOENT)
		pr_dbg("lock: rmdir %s: %m", lock->pin_dir);
	return err;
}

SOCCR_API int soccr_lock_detach(struct soccr_lock *lock)
{
	struct if_nameindex *ifs, *i;
	int err, first = 0;

	if (!lock)
		return -EINVAL;
	err = list_interfaces(&ifs);
	if (err)
		return err;
	for (i = ifs; i->if_index; i++) {
		err = detach_ifindex(i->if_name, (int)i->if_index);
		if (err && !first)
			first = err;
	}
	if_freenameindex(ifs);
	err = unpin(lock);
	return first ? first : err;
}
