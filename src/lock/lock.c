// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The network lock (<soccr/lock.h>): loads, pins, attaches and feeds the tc
 * classifier of bpf/lockprog.bpf.c, embedded here as a libbpf skeleton.
 *
 * Pinned under the pin directory: "prog" (the classifier) and "flows" (the
 * hash map of locked flows). The tc filters hold their own reference to the
 * program, so a lock survives the process that set it, and the pins let any
 * later process (the CLI after a crash, say) find and remove it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soccr/lock.h>

#include "internal.h"
#include "nl.h"
#include "../bpf/lock.h"
#include "lockprog.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define BPFFS_ROOT "/sys/fs/bpf"
#define PIN_PROG "prog"
#define PIN_MAP "flows"
/* Racing creators of one lock: how often and how patiently to look for the winner's pins. */
#define OPEN_TRIES 5
#define OPEN_BACKOFF_US 10000
/* The kernel's name of our program (BPF_OBJ_NAME_LEN-truncated function name). */
#define PROG_NAME "soccr_lock"

_Static_assert(SOCCR_LOCK_DEFAULT_MARK == SOCCR_MARK, "bpf/lock.h and soccr.h: the mark");
_Static_assert(SOCCR_LOCK_MAX_FLOWS == SOCCR_LOCK_CAPACITY, "bpf/lock.h and lock.h: the size");
_Static_assert(sizeof(struct soccr_lock_key) == 40, "key layout changed: pinned maps won't fit");

struct soccr_lock {
	int prog_fd;
	int map_fd;
	__u32 prog_id;
	char pin_dir[PATH_MAX];
};

static int path_in(const struct soccr_lock *lock, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", lock->pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * The pin directory must live on a bpffs. When it is under /sys/fs/bpf and
 * nothing is mounted there (a bare container, `unshare -m`), mount one.
 */
static int ensure_bpffs(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		pr_err("lock: pin dir %s: must be a directory on a bpffs mount", dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (is_bpffs(parent))
		return 0;
	if (!strncmp(dir, BPFFS_ROOT "/", strlen(BPFFS_ROOT) + 1) && !is_bpffs(BPFFS_ROOT)) {
		if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			int err = -errno;

			pr_perror("lock: mount bpffs on %s", BPFFS_ROOT);
			return err;
		}
		pr_dbg("lock: mounted bpffs on %s", BPFFS_ROOT);
		if (is_bpffs(parent))
			return 0;
	}
	pr_err("lock: pin dir %s: %s is not on a bpffs mount", dir, parent);
	return -ENOTSUP;
}

static int check_prog(int fd, __u32 *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_PROG_TYPE_SCHED_CLS || strcmp(info.name, PROG_NAME))
		return -EINVAL;
	*id = info.id;
	return 0;
}

static int check_map(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_HASH || info.key_size != sizeof(struct soccr_lock_key) ||
	    info.value_size != sizeof(struct soccr_lock_val))
		return -EINVAL;
	return 0;
}

/* The flows map the program uses, found through its map ids (when its pin was lost). */
static int map_of_prog(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 ids[8], len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids); i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!check_map(fd))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* Open the pinned program and map. -ENOENT if the program is not pinned. */
static int open_pinned(struct soccr_lock *lock)
{
	char path[PATH_MAX];
	int err;

	err = path_in(lock, PIN_PROG, path, sizeof(path));
	if (err)
		return err;
	lock->prog_fd = bpf_obj_get(path);
	if (lock->prog_fd < 0) {
		err = -errno;
		lock->prog_fd = -1;
		if (err != -ENOENT)
			pr_perror("lock: open pinned %s", path);
		return err;
	}
	err = check_prog(lock->prog_fd, &lock->prog_id);
	if (err) {
		pr_err("lock: %s is not a soccr lock program", path);
		return err;
	}

	err = path_in(lock, PIN_MAP, path, sizeof(path));
	if (err)
		return err;
	lock->map_fd = bpf_obj_get(path);
	if (lock->map_fd < 0 && errno == ENOENT) {
		/* A crash between the two pins: recover the map from the program. */
		lock->map_fd = map_of_prog(lock->prog_fd);
		if (lock->map_fd < 0) {
			pr_err("lock: program %s has no flows map", path);
			return -EINVAL;
		}
		if (bpf_obj_pin(lock->map_fd, path) && errno != EEXIST)
			pr_perror("lock: pin %s", path);
		return 0;
	}
	if (lock->map_fd < 0) {
		err = -errno;
		lock->map_fd = -1;
		pr_perror("lock: open pinned %s", path);
		return err;
	}
	err = check_map(lock->map_fd);
	if (err)
		pr_err("lock: %s is not a soccr lock map (another version?)", path);
	return err;
}

/*
 * Load the classifier and pin it, reusing a pinned map if one is there.
 * -EEXIST when another process pinned a program meanwhile (open that one).
 */
static int load_and_pin(struct soccr_lock *lock, __u32 mark, unsigned int flags)
{
	struct soccr_lockprog *skel;
	char map_path[PATH_MAX], prog_path[PATH_MAX];
	int map_fd = -1, err;
	bool reused = false;

	err = path_in(lock, PIN_MAP, map_path, sizeof(map_path));
	if (!err)
		err = path_in(lock, PIN_PROG, prog_path, sizeof(prog_path));
	if (err)
		return err;

	skel = soccr_lockprog__open();
	if (!skel) {
		err = -errno;
		pr_perror("lock: open the classifier object");
		return err;
	}
	skel->rodata->pass_mark = mark;
	skel->rodata->count_marked = !(flags & SOCCR_LOCK_NO_MARK_COUNT);

	map_fd = bpf_obj_get(map_path);
	if (map_fd >= 0) {
		err = check_map(map_fd);
		if (!err)
			err = bpf_map__reuse_fd(skel->maps.soccr_flows, map_fd);
		if (err) {
			pr_err("lock: reuse pinned map %s: %s", map_path, strerror(-err));
			goto out;
		}
		reused = true;
	}

	err = soccr_lockprog__load(skel);
	if (err) {
		pr_err("lock: load the classifier: %s", strerror(-err));
		goto out;
	}
	if (!reused && bpf_obj_pin(bpf_map__fd(skel->maps.soccr_flows), map_path)) {
		err = -errno;
		if (err != -EEXIST)
			pr_perror("lock: pin %s", map_path);
		goto out;
	}
	if (bpf_obj_pin(bpf_program__fd(skel->progs.soccr_lock), prog_path)) {
		err = -errno;
		if (err != -EEXIST) {
			pr_perror("lock: pin %s", prog_path);
			/* No lock without its program: take the map pin we made away again. */
			if (!reused)
				unlink(map_path);
		}
		goto out;
	}
	pr_dbg("lock: loaded and pinned the classifier in %s (pass mark %#x)", lock->pin_dir, mark);
out:
	if (map_fd >= 0)
		close(map_fd);
	soccr_lockprog__destroy(skel);
	return err;
}

SOCCR_API int soccr_lock_open(const struct soccr_lock_opts *opts, struct soccr_lock **out)
{
	const char *dir = NULL;
	bool made_dir = false;
	unsigned int flags = 0;
	struct soccr_lock *lock;
	__u32 mark = SOCCR_MARK;
	int err, n;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		if (opts->sz < offsetof(struct soccr_lock_opts, flags))
			return -EINVAL;
		dir = opts->pin_dir;
		if (opts->pass_mark)
			mark = opts->pass_mark;
		if (opts->sz >= offsetof(struct soccr_lock_opts, flags) + sizeof(opts->flags))
			flags = opts->flags;
	}
	if (!dir || !*dir)
		dir = secure_getenv("SOCCR_PIN_DIR");
	if (!dir || !*dir)
		dir = SOCCR_LOCK_PIN_DIR;

	lock = calloc(1, sizeof(*lock));
	if (!lock)
		return -ENOMEM;
	lock->prog_fd = lock->map_fd = -1;
	n = snprintf(lock->pin_dir, sizeof(lock->pin_dir), "%s", dir);
	/* Strip trailing slashes so that "dir/" and "dir" name the same lock. */
	while (n > 1 && lock->pin_dir[n - 1] == '/')
		lock->pin_dir[--n] = '\0';
	if (n <= 0 || (size_t)n >= sizeof(lock->pin_dir) - 16 || lock->pin_dir[0] != '/') {
		pr_err("lock: pin dir '%s': must be an absolute path", dir);
		err = -EINVAL;
		goto fail;
	}

	err = ensure_bpffs(lock->pin_dir);
	if (err)
		goto fail;

	for (int tries = 0;; tries++) {
		err = open_pinned(lock);
		if (err != -ENOENT || (flags & SOCCR_LOCK_NO_CREATE) || tries == OPEN_TRIES)
			break;
		if (!mkdir(lock->pin_dir, 0700)) {
			made_dir = true;
		} else if (errno != EEXIST) {
			err = -errno;
			pr_perror("lock: mkdir %s", lock->pin_dir);
			break;
		}
		err = load_and_pin(lock, mark, flags);
		if (err && err != -EEXIST)
			break;
		/*
		 * -EEXIST: another process is creating the same lock and pinned
		 * first; give it a moment to pin its program too, then use its.
		 */
		if (err)
			usleep(OPEN_BACKOFF_US * (tries + 1));
	}
	if (err)
		goto fail;
	pr_dbg("lock: %s: prog id %u", lock->pin_dir, lock->prog_id);
	*out = lock;
	return 0;
fail:
	/* A directory this call made and could not fill goes (rmdir leaves a used one). */
	if (made_dir)
		rmdir(lock->pin_dir);
	soccr_lock_close(lock);
	return err;
}

SOCCR_API void soccr_lock_close(struct soccr_lock *lock)
{
	if (!lock)
		return;
	if (lock->prog_fd >= 0)
		close(lock->prog_fd);
	if (lock->map_fd >= 0)
		close(lock->map_fd);
	free(lock);
}

SOCCR_API int soccr_lock_prog_fd(const struct soccr_lock *lock)
{
	return lock ? lock->prog_fd : -EINVAL;
}

SOCCR_API const char *soccr_lock_pin_dir(const struct soccr_lock *lock)
{
	return lock ? lock->pin_dir : NULL;
}

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
	ret = !check_prog(fd, &found);
	close(fd);
	return ret;
}

struct hook_scan {
	int filters;	/* netlink filter entries on the hook (0: none left) */
	__u32 ours;	/* id of the bpf program at our handle+priority, 0 if none */
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
	if (!tb[TCA_KIND] || RTA_PAYLOAD(tb[TCA_KIND]) < 4 || memcmp(RTA_DATA(tb[TCA_KIND]), "bpf", 4) ||
	    !tb[TCA_OPTIONS])
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
	struct clsact_scan cs = { .ifindex = ifindex };
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
	static const char *const names[] = { PIN_PROG, PIN_MAP };
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (path_in(lock, names[i], path, sizeof(path)))
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

/* ---- flows -------------------------------------------------------------------------- */

/* Same order as ep_above() in bpf/lockprog.bpf.c: words as native integers, then port. */
static bool ep_above(const __be32 *a, __be16 pa, const __be32 *b, __be16 pb)
{
	for (int i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return pa > pb;
}

static int flow_key(const struct soccr_flow *f, struct soccr_lock_key *k, __u32 *local)
{
	__be32 s[4] = { 0 }, d[4] = { 0 };
	__be16 sp = htons(f->sport), dp = htons(f->dport);
	bool above;

	memset(k, 0, sizeof(*k));
	if (f->family == AF_INET) {
		s[0] = f->saddr.v4.s_addr;
		d[0] = f->daddr.v4.s_addr;
		k->family = SOCCR_LOCK_FAM_V4;
	} else if (f->family == AF_INET6) {
		memcpy(s, &f->saddr.v6, sizeof(s));
		memcpy(d, &f->daddr.v6, sizeof(d));
		k->family = SOCCR_LOCK_FAM_V6;
	} else {
		return -EAFNOSUPPORT;
	}
	above = ep_above(s, sp, d, dp);
	memcpy(k->addr[above], s, sizeof(s));
	memcpy(k->addr[!above], d, sizeof(d));
	k->port[above] = sp;
	k->port[!above] = dp;
	if (local)
		*local = above;
	return 0;
}

static void key_flow(const struct soccr_lock_key *k, __u32 local, struct soccr_flow *f)
{
	unsigned int l = local & 1, p = !l;

	memset(f, 0, sizeof(*f));
	if (k->family == SOCCR_LOCK_FAM_V4) {
		f->family = AF_INET;
		f->saddr.v4.s_addr = k->addr[l][0];
		f->daddr.v4.s_addr = k->addr[p][0];
	} else {
		f->family = AF_INET6;
		memcpy(&f->saddr.v6, k->addr[l], sizeof(f->saddr.v6));
		memcpy(&f->daddr.v6, k->addr[p], sizeof(f->daddr.v6));
	}
	f->sport = ntohs(k->port[l]);
	f->dport = ntohs(k->port[p]);
}

static int bad_flow(const char *what)
{
	pr_err("lock: %s: flow family must be AF_INET or AF_INET6", what);
	return -EAFNOSUPPORT;
}

SOCCR_API int soccr_lock_add(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	struct soccr_lock_val v;
	int err;

	if (!lock || !flow)
		return -EINVAL;
	memset(&v, 0, sizeof(v));
	if (flow_key(flow, &k, &v.local))
		return bad_flow("add");
	/* BPF_NOEXIST: locking again must not reset the counters. */
	if (bpf_map_update_elem(lock->map_fd, &k, &v, BPF_NOEXIST) && errno != EEXIST) {
		err = -errno;
		pr_perror("lock: add flow%s", err == -E2BIG ? " (lock full)" : "");
		return err;
	}
	return 0;
}

SOCCR_API int soccr_lock_del(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	int err;

	if (!lock || !flow)
		return -EINVAL;
	if (flow_key(flow, &k, NULL))
		return bad_flow("del");
	if (bpf_map_delete_elem(lock->map_fd, &k) && errno != ENOENT) {
		err = -errno;
		pr_perror("lock: delete flow");
		return err;
	}
	return 0;
}

/* The kernel rejects batch ops it does not implement with one of these. */
static bool batch_unsupported(int err)
{
	/* 524: the kernel-internal ENOTSUPP, which leaks out of some bpf() paths. */
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -524;
}

/*
 * Run a batch update or delete over n keys, skipping the elements that fail
 * with skip_err (already there / not there), which the kernel reports by
 * stopping at them with count = the elements done before.
 */
static int run_batch(int fd, bool del, struct soccr_lock_key *keys, struct soccr_lock_val *vals,
		     size_t n, int skip_err)
{
	/* Batch updates accept no BPF_NOEXIST (only BPF_F_LOCK): they overwrite. */
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t done = 0;

	while (done < n) {
		__u32 cnt = (__u32)(n - done > UINT32_MAX ? UINT32_MAX : n - done);
		int err;

		if (del)
			err = bpf_map_delete_batch(fd, keys + done, &cnt, &opts);
		else
			err = bpf_map_update_batch(fd, keys + done, vals + done, &cnt, &opts);
		if (!err) {
			done = n;
			break;
		}
		err = -errno;
		/*
		 * The kernel writes back the count of elements done only once it
		 * has started on them; a check failing before leaves ours as is.
		 */
		if (err == skip_err && cnt < n - done) {
			done += cnt + 1;
			continue;
		}
		if (done == 0 && batch_unsupported(err))
			return 1;	/* fall back to one call per flow */
		return err;
	}
	return 0;
}

static int batch(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n, bool del)
{
	struct soccr_lock_key *keys = NULL;
	struct soccr_lock_val *vals = NULL;
	const char *what = del ? "del" : "add";
	int err = 0;

	if (!lock || (!flows && n))
		return -EINVAL;
	if (n > INT_MAX)
		return -E2BIG;
	if (!n)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!del)
		vals = calloc(n, sizeof(*vals));
	if (!keys || (!del && !vals)) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (flow_key(&flows[i], &keys[i], del ? NULL : &vals[i].local)) {
			err = bad_flow(what);
			goto out;
		}

	err = run_batch(lock->map_fd, del, keys, vals, n, del ? -ENOENT : -EEXIST);
	if (err == 1) {
		pr_dbg("lock: batch %s not supported by the kernel, one call per flow", what);
		err = 0;
		for (size_t i = 0; i < n && !err; i++)
			err = del ? soccr_lock_del(lock, &flows[i])
				  : soccr_lock_add(lock, &flows[i]);
	} else if (err) {
		pr_err("lock: batch %s of %zu flows: %s%s", what, n, strerror(-err),
		       err == -E2BIG ? " (lock full)" : "");
	}
out:
	free(keys);
	free(vals);
	return err ? err : (int)n;
}

SOCCR_API int soccr_lock_add_batch(struct soccr_lock *lock, const struct soccr_flow *flows,
				   size_t n)
{
	return batch(lock, flows, n, false);
}

SOCCR_API int soccr_lock_del_batch(struct soccr_lock *lock, const struct soccr_flow *flows,
				   size_t n)
{
	return batch(lock, flows, n, true);
}

SOCCR_API int soccr_lock_list(struct soccr_lock *lock, struct soccr_lock_entry **entries,
			      size_t *n)
{
	struct soccr_lock_entry *arr = NULL, *tmp;
	struct soccr_lock_key key, next;
	struct soccr_lock_val val;
	size_t cnt = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	if (!lock || !entries || !n)
		return -EINVAL;
	*entries = NULL;
	*n = 0;
	/* The map holds at most SOCCR_LOCK_MAX_FLOWS: a bound even if it changes under us. */
	while (cnt < SOCCR_LOCK_MAX_FLOWS) {
		if (bpf_map_get_next_key(lock->map_fd, prev, &next)) {
			if (errno != ENOENT) {
				err = -errno;
				pr_perror("lock: list flows");
			}
			break;
		}
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(lock->map_fd, &key, &val))
			continue;	/* deleted meanwhile */
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			arr = tmp;
		}
		memset(&arr[cnt], 0, sizeof(arr[cnt]));
		key_flow(&key, val.local, &arr[cnt].flow);
		arr[cnt].dropped[0] = val.dropped[val.local & 1];
		arr[cnt].dropped[1] = val.dropped[!(val.local & 1)];
		arr[cnt].passed[0] = val.passed[val.local & 1];
		arr[cnt].passed[1] = val.passed[!(val.local & 1)];
		cnt++;
	}
	if (err) {
		free(arr);
		return err;
	}
	*entries = arr;
	*n = cnt;
	return 0;
}

SOCCR_API int soccr_flow_from_sockaddr(struct soccr_flow *flow, const struct sockaddr *local,
				       const struct sockaddr *peer)
{
	const struct sockaddr *sa[2] = { local, peer };
	struct soccr_flow f;
	int fam[2];

	if (!flow || !local || !peer)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 2; i++) {
		union soccr_inaddr *addr = i ? &f.daddr : &f.saddr;
		uint16_t *port = i ? &f.dport : &f.sport;

		if (sa[i]->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)sa[i];

			fam[i] = AF_INET;
			addr->v4 = sin->sin_addr;
			*port = ntohs(sin->sin_port);
		} else if (sa[i]->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa[i];

			*port = ntohs(sin6->sin6_port);
			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
				/* On the wire a v4-mapped socket speaks plain IPv4. */
				fam[i] = AF_INET;
				memcpy(&addr->v4, &sin6->sin6_addr.s6_addr[12], sizeof(addr->v4));
			} else {
				fam[i] = AF_INET6;
				addr->v6 = sin6->sin6_addr;
			}
		} else {
			return -EAFNOSUPPORT;
		}
	}
	if (fam[0] != fam[1])
		return -EINVAL;
	f.family = fam[0];
	*flow = f;
	return 0;
}
