// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The lock at the devices: attached at ingress and egress as tcx programs
 * where the kernel has tcx (6.6), else as classic clsact filters; found
 * there (the source of truth for "the lock of this network namespace"),
 * detached.
 *
 * tcx attachments are made with BPF_PROG_ATTACH, not as links: a link lives
 * only as long as an fd or a pin holds it, and the pin would go with the
 * private bpffs of `ip netns exec`; a program attachment stays until it is
 * detached or the device goes, as a classic filter does.
 */
#include "lock/lk.h"

static const char *hook_name(bool egress)
{
	return egress ? "egress" : "ingress";
}

static __u32 tcx_type(bool egress)
{
	return egress ? SC_BPF_TCX_EGRESS : SC_BPF_TCX_INGRESS;
}

static __u32 hook_parent(bool egress)
{
	return TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
}

/* Is the program with this id a soccr lock (any layout)? */
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

/* ---- what a hook holds ------------------------------------------------------------- */

struct hook_scan {
	int filters;	    /* classic filters on the hook (0: none left) */
	__u32 classic;	    /* id of the bpf program at our handle+priority, 0 if none */
	__u32 tcx[8];	    /* soccr lock programs among the tcx ones */
	int ntcx;
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
		memcpy(&hs->classic, RTA_DATA(opt[TCA_BPF_ID]), sizeof(hs->classic));
	return 0;
}

/* Dump tc objects (RTM_GETTFILTER, RTM_GETQDISC) of a device on the netlink socket nl. */
static int tc_dump(int nl, __u16 type, int ifindex, __u32 parent, sc_nl_cb cb, void *ctx)
{
	struct sc_nl_req req;
	struct tcmsg *tc;
	int err;

	tc = sc_nl_init(&req, type, NLM_F_DUMP, sizeof(*tc));
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = ifindex;
	tc->tcm_parent = parent;
	err = sc_nl_talk(nl, &req, cb, ctx);
	/* No clsact on the device: no filter. */
	return err == -EINVAL || err == -ENOENT ? 0 : err < 0 ? err : 0;
}

/*
 * What one hook holds: classic filters (how many, which program at our
 * handle+priority) and the soccr lock programs attached through tcx. We read
 * the dump ourselves rather than calling bpf_tc_query(): libbpf prints the
 * kernel's complaint whenever the answer is "not there", our common case.
 */
static int scan_hook(int nl, int ifindex, bool egress, struct hook_scan *hs)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	__u32 ids[64];
	int err;

	memset(hs, 0, sizeof(*hs));
	err = tc_dump(nl, RTM_GETTFILTER, ifindex, hook_parent(egress), scan_filter_cb, hs);
	if (err)
		return err;
	if (hs->classic && !is_lock_prog(hs->classic))
		hs->classic = 0;
	q.prog_ids = ids;
	q.prog_cnt = ARRAY_SIZE(ids);
	if (bpf_prog_query_opts(ifindex, tcx_type(egress), &q))
		return 0; /* no tcx here (kernel before 6.6): nothing attached that way */
	for (__u32 i = 0; i < q.prog_cnt && i < ARRAY_SIZE(ids); i++)
		if (is_lock_prog(ids[i]) && hs->ntcx < (int)ARRAY_SIZE(hs->tcx))
			hs->tcx[hs->ntcx++] = ids[i];
	return 0;
}

static bool hook_has(const struct hook_scan *hs, __u32 id)
{
	if (hs->classic == id)
		return true;
	for (int i = 0; i < hs->ntcx; i++)
		if (hs->tcx[i] == id)
			return true;
	return false;
}

/* A soccr lock program on the hook other than id (0 if none). */
static __u32 hook_other(const struct hook_scan *hs, __u32 id)
{
	if (hs->classic && hs->classic != id)
		return hs->classic;
	for (int i = 0; i < hs->ntcx; i++)
		if (hs->tcx[i] != id)
			return hs->tcx[i];
	return 0;
}

static int push_hook(struct lk_hook **arr, size_t *n, size_t *cap, const char *ifname,
		     int ifindex, bool egress, bool tcx, __u32 id)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct lk_hook *t = realloc(*arr, c * sizeof(*t));

		if (!t)
			return -ENOMEM;
		*arr = t;
		*cap = c;
	}
	memset(&(*arr)[*n], 0, sizeof(**arr));
	snprintf((*arr)[*n].ifname, sizeof((*arr)[*n].ifname), "%s", ifname);
	(*arr)[*n].ifindex = ifindex;
	(*arr)[*n].egress = egress;
	(*arr)[*n].tcx = tcx;
	(*arr)[*n].prog_id = id;
	(*n)++;
	return 0;
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

/* The devices of this netns and a netlink socket to look at them: both, or neither. */
static int open_devices(struct if_nameindex **ifs, int *nl)
{
	int err = list_interfaces(ifs);

	if (err)
		return err;
	*nl = sc_nl_open(NETLINK_ROUTE);
	if (*nl >= 0)
		return 0;
	if_freenameindex(*ifs);
	*ifs = NULL;
	return *nl;
}

int sc_lock_scan(bool first_only, struct lk_hook **hooks, size_t *n)
{
	struct if_nameindex *ifs;
	struct lk_hook *arr = NULL;
	size_t cnt = 0, cap = 0, nifs = 0;
	int nl, err;

	*hooks = NULL;
	*n = 0;
	err = open_devices(&ifs, &nl);
	if (err)
		return err;
	while (ifs[nifs].if_index)
		nifs++;
	/* lo first: every lock attached to "all devices" is there, so one look usually does. */
	for (size_t pass = 0; pass < 2 && !err; pass++) {
		for (size_t i = 0; i < nifs && !err; i++) {
			bool lo = !strcmp(ifs[i].if_name, "lo");

			if (lo != (pass == 0))
				continue;
			for (int eg = 0; eg < 2 && !err; eg++) {
				struct hook_scan hs;

				err = scan_hook(nl, (int)ifs[i].if_index, eg, &hs);
				if (!err && hs.classic)
					err = push_hook(&arr, &cnt, &cap, ifs[i].if_name,
							(int)ifs[i].if_index, eg, false, hs.classic);
				for (int k = 0; !err && k < hs.ntcx; k++)
					err = push_hook(&arr, &cnt, &cap, ifs[i].if_name,
							(int)ifs[i].if_index, eg, true, hs.tcx[k]);
			}
			if (first_only && cnt)
				goto out;
		}
	}
out:
	close(nl);
	if_freenameindex(ifs);
	if (err) {
		free(arr);
		return err;
	}
	*hooks = arr;
	*n = cnt;
	return 0;
}

int sc_lock_attached_here(__u32 prog_id)
{
	struct lk_hook *h;
	size_t n;
	int err = sc_lock_scan(false, &h, &n), found = 0;

	if (err)
		return err;
	for (size_t i = 0; i < n && !found; i++)
		found = h[i].prog_id == prog_id;
	free(h);
	return found;
}

/* ---- clsact ------------------------------------------------------------------------ */

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
static int has_clsact(int nl, int ifindex)
{
	struct clsact_scan cs = {.ifindex = ifindex};
	int err = tc_dump(nl, RTM_GETQDISC, ifindex, 0, clsact_cb, &cs);

	return err ? err : cs.found;
}

/* Delete the device's clsact qdisc, but only when no classic filter of anyone is left on it. */
static void remove_empty_clsact(int nl, const char *ifname, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct hook_scan hs_in, hs_eg;
	int err;

	if (scan_hook(nl, ifindex, false, &hs_in) || scan_hook(nl, ifindex, true, &hs_eg))
		return;
	if (hs_in.filters || hs_eg.filters) {
		pr_dbg("lock: %s: clsact kept, other filters remain", ifname);
		return;
	}
	err = bpf_tc_hook_destroy(&hook);
	if (err && err != -ENOENT && err != -EINVAL)
		pr_dbg("lock: %s: delete clsact: %s", ifname, strerror(-err));
}

/* ---- attach ------------------------------------------------------------------------ */

/* Attach prog at one hook, through tcx if the kernel has it, else as a classic filter. */
static int attach_one(struct soccr_lock *lock, int nl, const char *ifname, int ifindex,
		      bool egress, bool *made_clsact)
{
	LIBBPF_OPTS(bpf_prog_attach_opts, ao, .flags = SC_BPF_F_BEFORE);
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, a, .handle = SOCCR_LOCK_TC_HANDLE,
			    .priority = SOCCR_LOCK_TC_PRIO, .prog_fd = lock->prog_fd);
	int err;

	if (!sc_tcx_forced_off()) {
		/* BPF_F_BEFORE with no relative program: in front of every tcx program. */
		err = bpf_prog_attach_opts(lock->prog_fd, ifindex, tcx_type(egress), &ao) ? -errno
											  : 0;
		if (!err) {
			pr_dbg("lock: %s %s: attached at tcx", ifname, hook_name(egress));
			return 0;
		}
		if (!sc_tcx_unavailable(err)) {
			pr_err("lock: %s %s: tcx attach: %s", ifname, hook_name(egress),
			       strerror(-err));
			return err;
		}
		pr_dbg("lock: %s: no tcx (%s): classic clsact filter", ifname, strerror(-err));
	}
	if (!*made_clsact && has_clsact(nl, ifindex) != 1) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, both, .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		err = bpf_tc_hook_create(&both);
		if (err && err != -EEXIST) {
			pr_err("lock: %s: create clsact qdisc: %s", ifname, strerror(-err));
			return err;
		}
		*made_clsact = !err;
	}
	err = bpf_tc_attach(&hook, &a);
	if (err) {
		pr_err("lock: %s %s: attach: %s", ifname, hook_name(egress), strerror(-err));
		return err;
	}
	pr_dbg("lock: %s %s: attached as a clsact filter", ifname, hook_name(egress));
	return 0;
}

/* Take the soccr lock program id away from one hook, wherever it sits. */
static int detach_one(int nl, const char *ifname, int ifindex, bool egress, __u32 id,
		      bool tcx)
{
	int fd, err = 0;

	if (tcx) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		if (bpf_prog_detach2(fd, ifindex, tcx_type(egress)) && errno != ENOENT)
			err = -errno;
		close(fd);
	} else {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = SOCCR_LOCK_TC_HANDLE,
				    .priority = SOCCR_LOCK_TC_PRIO);

		err = bpf_tc_detach(&hook, &o);
		if (err == -ENOENT)
			err = 0;
	}
	(void)nl;
	if (err)
		pr_err("lock: %s %s: detach: %s", ifname, hook_name(egress), strerror(-err));
	else
		pr_dbg("lock: %s %s: detached (%s)", ifname, hook_name(egress),
		       tcx ? "tcx" : "clsact");
	return err;
}

/*
 * Attach the lock at both hooks of a device unless it is there. On failure,
 * what this call put there is taken away again (half a lock drops what comes
 * in and lets out what goes: worse than none, as the caller is told it failed).
 */
static int attach_dev(struct soccr_lock *lock, int nl, const char *ifname, int ifindex)
{
	bool tried[2] = {false, false}, made_clsact = false;
	int err = 0;

	for (int eg = 0; eg < 2 && !err; eg++) {
		struct hook_scan hs;
		__u32 other;

		err = scan_hook(nl, ifindex, eg, &hs);
		if (err) {
			pr_err("lock: %s %s: list filters: %s", ifname, hook_name(eg),
			       strerror(-err));
			break;
		}
		if (hook_has(&hs, lock->prog_id)) {
			pr_dbg("lock: %s %s: already attached", ifname, hook_name(eg));
			continue;
		}
		other = hook_other(&hs, lock->prog_id);
		if (other) {
			pr_err("lock: %s %s: another soccr lock (prog id %u) is attached; "
			       "'soccr lock status' tells more, 'soccr lock detach' removes it",
			       ifname, hook_name(eg), other);
			err = -EEXIST;
			break;
		}
		/* Tried counts: the kernel may have attached even when its answer was lost. */
		tried[eg] = true;
		err = attach_one(lock, nl, ifname, ifindex, eg, &made_clsact);
	}
	if (err) {
		for (int eg = 0; eg < 2; eg++) {
			struct hook_scan hs;

			if (!tried[eg] || scan_hook(nl, ifindex, eg, &hs))
				continue;
			if (hs.classic == lock->prog_id)
				detach_one(nl, ifname, ifindex, eg, lock->prog_id, false);
			if (hook_has(&hs, lock->prog_id) && hs.classic != lock->prog_id)
				detach_one(nl, ifname, ifindex, eg, lock->prog_id, true);
		}
		if (made_clsact)
			remove_empty_clsact(nl, ifname, ifindex);
	}
	return err;
}

/*
 * Another current soccr lock attached in this netns (a racing first attach
 * under a private bpffs made its own): take it as ours, bringing the flows
 * this handle holds.
 */
static int adopt_attached(struct soccr_lock *lock, bool *was)
{
	struct soccr_lock other;
	struct lk_hook *h;
	__u32 id = 0;
	size_t n;
	int err, fd;

	/* One scan: is ours attached here already, and is another? */
	err = sc_lock_scan(false, &h, &n);
	if (err)
		return err;
	*was = false;
	for (size_t i = 0; i < n; i++) {
		if (h[i].prog_id == lock->prog_id)
			*was = true;
		else if (!id)
			id = h[i].prog_id;
	}
	free(h);
	if (lock->shared || !id)
		return 0;
	sc_lock_init(&other);
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = sc_lock_take_prog(&other, fd);
	if (!err)
		err = sc_lock_copy_flows(lock, &other);
	if (err) {
		if (err == -EPROTO)
			pr_err("lock: a soccr lock of layout %u is attached here: "
			       "'soccr lock detach' removes it", other.cfg.layout);
		sc_lock_drop_prog(&other);
		return err;
	}
	pr_dbg("lock: prog id %u is attached in this netns already: using it", id);
	*was = true;
	/* The kernel objects are the other lock's from now on; who we are stays. */
	other.shared = lock->shared;
	other.auto_mark = lock->auto_mark;
	memcpy(other.pin_dir, lock->pin_dir, sizeof(other.pin_dir));
	sc_lock_drop_prog(lock);
	*lock = other;
	return 0;
}

/* Attach to the named devices (ifname NULL: every UP one), under the netns mutex. */
static int attach(struct soccr_lock *lock, const char *ifname)
{
	struct if_nameindex *ifs = NULL;
	int mu, nl = -1, err, first = 0, count = 0;
	bool was = false;
	__u32 flags;

	mu = sc_lock_mutex(lock);
	if (mu < 0)
		return mu;
	err = adopt_attached(lock, &was);
	if (err)
		goto out;
	nl = sc_nl_open(NETLINK_ROUTE);
	if (nl < 0) {
		err = nl;
		goto out;
	}
	if (ifname) {
		int ifindex = (int)if_nametoindex(ifname);

		if (!ifindex) {
			err = -errno;
			pr_perror("lock: %s", ifname);
			goto out;
		}
		first = attach_dev(lock, nl, ifname, ifindex);
		count = !first;
	} else {
		err = list_interfaces(&ifs);
		if (err)
			goto out;
		for (struct if_nameindex *i = ifs; i->if_index; i++) {
			struct ifreq ifr;

			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
			if (ioctl(nl, SIOCGIFFLAGS, &ifr)) {
				pr_dbg("lock: %s: SIOCGIFFLAGS: %m", i->if_name);
				continue;
			}
			if (!(ifr.ifr_flags & IFF_UP))
				continue;
			err = attach_dev(lock, nl, i->if_name, (int)i->if_index);
			if (err && !first)
				first = err;
			count += !err;
		}
		err = 0;
		pr_dbg("lock: attached to %d interface(s)", count);
	}
	/*
	 * Who owns it: a lock a command attached for its own use (first
	 * attachment with SOCCR_LOCK_AUTO) goes with its last flow; any attach
	 * without the flag makes it the user's.
	 */
	if (count && !lock->auto_mark)
		sc_lock_meta(lock, 0, SOCCR_LOCK_META_AUTO, &flags);
	else if (count && !was)
		sc_lock_meta(lock, SOCCR_LOCK_META_AUTO, 0, &flags);
out:
	if (nl >= 0)
		close(nl);
	if (ifs)
		if_freenameindex(ifs);
	close(mu);
	return err ? err : first;
}

SOCCR_API int soccr_lock_attach(struct soccr_lock *lock, const char *ifname)
{
	if (!lock || !ifname)
		return -EINVAL;
	return attach(lock, ifname);
}

SOCCR_API int soccr_lock_attach_all(struct soccr_lock *lock)
{
	if (!lock)
		return -EINVAL;
	return attach(lock, NULL);
}

/* ---- detach ------------------------------------------------------------------------ */

/* Remove every soccr lock program from the device's hooks (or only prog id, if non-zero). */
static int detach_ifindex(int nl, const char *ifname, int ifindex)
{
	int err = 0, first = 0;
	bool any = false;

	for (int eg = 0; eg < 2; eg++) {
		struct hook_scan hs;

		if (scan_hook(nl, ifindex, eg, &hs))
			continue;
		if (hs.classic) {
			err = detach_one(nl, ifname, ifindex, eg, hs.classic, false);
			any = true;
			if (err && !first)
				first = err;
		}
		for (int k = 0; k < hs.ntcx; k++) {
			err = detach_one(nl, ifname, ifindex, eg, hs.tcx[k], true);
			if (err && !first)
				first = err;
		}
	}
	/* We created the clsact qdisc if it was missing; take it away again if empty. */
	if (any && !first)
		remove_empty_clsact(nl, ifname, ifindex);
	return first;
}

SOCCR_API int soccr_lock_detach_dev(struct soccr_lock *lock, const char *ifname)
{
	int ifindex, nl, err;

	if (!lock || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		err = -errno;
		pr_perror("lock: %s", ifname);
		return err;
	}
	nl = sc_nl_open(NETLINK_ROUTE);
	if (nl < 0)
		return nl;
	err = detach_ifindex(nl, ifname, ifindex);
	close(nl);
	return err;
}

static int unpin(struct soccr_lock *lock)
{
	static const char *const names[] = {PIN_PROG, PIN_MAP_V1};
	char path[PATH_MAX];
	int err = 0;

	if (!lock->shared)
		return 0;
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

/* Every soccr lock of this netns off its devices, then the handle's pins. */
static int detach_all(struct soccr_lock *lock)
{
	struct if_nameindex *ifs, *i;
	int nl, err, first = 0;

	err = open_devices(&ifs, &nl);
	if (err)
		return err;
	for (i = ifs; i->if_index; i++) {
		err = detach_ifindex(nl, i->if_name, (int)i->if_index);
		if (err && !first)
			first = err;
	}
	close(nl);
	if_freenameindex(ifs);
	err = unpin(lock);
	return first ? first : err;
}

/* detach_all() under the namespace's mutex. */
static int detach_locked(struct soccr_lock *lock)
{
	int mu = sc_lock_mutex(lock), err;

	if (mu < 0)
		return mu;
	err = detach_all(lock);
	close(mu);
	return err;
}

SOCCR_API int soccr_lock_detach(struct soccr_lock *lock)
{
	return lock ? detach_locked(lock) : -EINVAL;
}

SOCCR_API int soccr_lock_detach_idle(struct soccr_lock *lock)
{
	__u32 flags = 0;
	int mu, err;

	if (!lock)
		return -EINVAL;
	mu = sc_lock_mutex(lock);
	if (mu < 0)
		return mu;
	err = sc_lock_meta(lock, 0, 0, &flags);
	if (!err && (flags & SOCCR_LOCK_META_AUTO) && !sc_lock_count(lock, 1)) {
		err = detach_all(lock);
		if (!err)
			err = 1;
	}
	close(mu);
	return err;
}

SOCCR_API int soccr_lock_detach_netns(const struct soccr_lock_opts *opts)
{
	struct soccr_lock lk;
	int err;

	if (opts && opts->sz < offsetof(struct soccr_lock_opts, flags))
		return -EINVAL;
	sc_lock_init(&lk);
	err = sc_lock_resolve_dir(&lk, opts ? opts->pin_dir : NULL);
	return err ? err : detach_locked(&lk);
}
