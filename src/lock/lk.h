/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network lock (<soccr/lock.h>): loads, pins, attaches and feeds the tc
 * classifier of bpf/lockprog.bpf.c, embedded here as a libbpf skeleton.
 *
 * One lock per network namespace. The attached classifier is the source of
 * truth: a tc filter or tcx attachment holds a reference to the program, the
 * program to its maps, so a lock survives the process that set it and any
 * later process of the namespace finds it by scanning the devices, whatever
 * bpffs it sees (`ip netns exec` mounts a fresh one). Nothing is pinned,
 * unless the user names a pin directory to share one lock on purpose: then
 * the program is pinned there as "prog" and the pin names the lock.
 *
 * objects.c, attach.c and flows.c share this header; never installed.
 */
#ifndef SOCCR_LOCK_LK_H
#define SOCCR_LOCK_LK_H

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
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soccr/lock.h>

#include "internal.h"
#include "nl.h"
#include "bpf/lock.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define BPFFS_ROOT "/sys/fs/bpf"
/* The one pin of a lock: its program (its maps are reachable from it). */
#define PIN_PROG   "prog"
/* Layout 1 pinned its map too; removed with the lock. */
#define PIN_MAP_V1 "flows"
/* Racing creators of one lock: how often and how patiently to look for the winner's pins. */
#define OPEN_TRIES	5
#define OPEN_BACKOFF_US 10000
/* The kernel's names of our objects (BPF_OBJ_NAME_LEN-truncated). */
#define PROG_NAME  "soccr_lock"
#define SLOTS_NAME "soccr_slots"
#define ARRAY_NAME "soccr_array"
#define META_NAME  "soccr_meta"

_Static_assert(SOCCR_LOCK_DEFAULT_MARK == SOCCR_MARK, "bpf/lock.h and soccr.h: the mark");
_Static_assert(SOCCR_LOCK_MAX_FLOWS == SOCCR_LOCK_CAPACITY, "bpf/lock.h and lock.h: the size");
_Static_assert(SOCCR_LOCK_LAYOUT == SOCCR_LOCK_LAYOUT_CUR, "bpf/lock.h and lock.h: the layout");
_Static_assert(sizeof(struct soccr_lock_key) == 40, "key layout changed: bump SOCCR_LOCK_LAYOUT");

struct soccr_lock {
	int prog_fd;
	int slots_fd;		/* the hash of maps: slot number -> slot (user space's) */
	int array_fd;		/* the array of maps: the same, for the classifier */
	int meta_fd;
	int slot_fd[SOCCR_LOCK_SLOTS]; /* -1: not opened (or not made) yet */
	__u32 prog_id;
	unsigned int add_hint;	/* the slot that took the last add: where the next one starts */
	struct soccr_lock_cfg cfg;
	bool shared;		/* the pin dir was named (opts or $SOCCR_PIN_DIR): the pins name the lock */
	bool auto_mark;		/* SOCCR_LOCK_AUTO */
	char pin_dir[PATH_MAX];
};

/* One soccr lock program attached in this netns (found by sc_lock_scan()). */
struct lk_hook {
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool egress;
	bool tcx;
	__u32 prog_id;
};

/* Size of each slot, in order. */
extern SOCCR_HIDDEN const __u32 sc_lock_slot_size[SOCCR_LOCK_SLOTS];

/* A handle holding nothing yet: every fd -1. */
SOCCR_HIDDEN void sc_lock_init(struct soccr_lock *lock);
SOCCR_HIDDEN int sc_lock_check_prog(int fd, __u32 *id);
SOCCR_HIDDEN int sc_lock_path_in(const struct soccr_lock *lock, const char *name, char *buf,
				 size_t len);
/*
 * Fill lock's map fds and config from its program prog_fd (taken over).
 * -EPROTO for a soccr lock of another layout (cfg->layout says which, 1 if unknown).
 */
SOCCR_HIDDEN int sc_lock_take_prog(struct soccr_lock *lock, int prog_fd);
/* Close the program and maps the handle holds (fds back to -1). */
SOCCR_HIDDEN void sc_lock_drop_prog(struct soccr_lock *lock);
/* Slot i's fd: opened from the slots map, or made if create and absent. -ENOENT if absent. */
SOCCR_HIDDEN int sc_lock_slot(struct soccr_lock *lock, unsigned int i, bool create);
/* The lock's meta word, read or changed (set bits, then clear bits). */
SOCCR_HIDDEN int sc_lock_meta(const struct soccr_lock *lock, __u32 set, __u32 clear, __u32 *now);
/*
 * The netns-wide mutex of lock changes (attach, detach): an abstract unix
 * socket, whose names are per network namespace and which the kernel frees
 * with its process. Returns the fd to close to release it, or -errno.
 */
SOCCR_HIDDEN int sc_lock_mutex(const struct soccr_lock *lock);
/*
 * The soccr lock programs attached in the calling thread's netns (tcx and
 * classic clsact, any layout), in a malloc()ed array. first_only: stop at
 * the first device that has one, looking at lo first. 0 or -errno.
 */
SOCCR_HIDDEN int sc_lock_scan(bool first_only, struct lk_hook **hooks, size_t *n);
/* Is prog id attached anywhere in this netns? 1, 0 or -errno. */
SOCCR_HIDDEN int sc_lock_attached_here(__u32 prog_id);
/* Number of flows in the lock's slots (stops counting at max). */
SOCCR_HIDDEN size_t sc_lock_count(struct soccr_lock *lock, size_t max);
/* The calling thread's network namespace cookie (its inode number before 5.14). */
SOCCR_HIDDEN int sc_lock_netns_cookie(__u64 *cookie);
/* Set lock->pin_dir and lock->shared from a named dir (NULL: $SOCCR_PIN_DIR, else none). */
SOCCR_HIDDEN int sc_lock_resolve_dir(struct soccr_lock *lock, const char *dir);
/* Is path on a bpffs? */
SOCCR_HIDDEN bool sc_lock_is_bpffs(const char *path);
/* Copy every flow of from into to (adopting another lock); 0 or -errno. */
SOCCR_HIDDEN int sc_lock_copy_flows(struct soccr_lock *from, struct soccr_lock *to);

#endif /* SOCCR_LOCK_LK_H */
