/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network lock (<soccr/lock.h>): loads, pins, attaches and feeds the tc
 * classifier of bpf/lockprog.bpf.c, embedded here as a libbpf skeleton.
 *
 * Pinned under the pin directory: "prog" (the classifier) and "flows" (the
 * hash map of locked flows). The tc filters hold their own reference to the
 * program, so a lock survives the process that set it, and the pins let any
 * later process (the CLI after a crash, say) find and remove it.
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
#define PIN_PROG   "prog"
#define PIN_MAP	   "flows"
/* Racing creators of one lock: how often and how patiently to look for the winner's pins. */
#define OPEN_TRIES	5
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

SOCCR_HIDDEN int sc_lock_check_prog(int fd, __u32 *id);
SOCCR_HIDDEN int sc_lock_path_in(const struct soccr_lock *lock, const char *name, char *buf,
				 size_t len);

#endif /* SOCCR_LOCK_LK_H */
