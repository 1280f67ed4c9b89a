/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/lock.h>: the network lock. An eBPF tc classifier, attached at
 * ingress and egress of the devices (tcx where the kernel has it, 6.6+,
 * else a classic clsact filter), drops every packet of a locked TCP flow
 * (both directions) unless its skb->mark equals the pass mark (SOCCR_MARK by
 * default).
 *
 * One lock per network namespace: every call acts on the lock of the calling
 * thread's network namespace, found from the kernel (the program attached to
 * the namespace's devices), so it is found under `ip netns exec` or
 * `nsenter --net` alike, whatever bpffs the caller sees. The attachments
 * hold the lock, so it outlives the process, and go with the devices, so a
 * deleted namespace takes its lock along. Nothing is pinned.
 *
 * A pin directory named in soccr_lock_opts (or $SOCCR_PIN_DIR) means one
 * lock shared on purpose: its program is pinned there (as "prog") and the
 * pin names the lock, wherever it is attached; all namespaces that attach
 * it share its flows, and detaching it in one removes the pin the others
 * may still want (their attachments keep working). Such a pin outlives
 * every namespace: 'soccr lock detach' removes it.
 */
#ifndef SOCCR_LOCK_H
#define SOCCR_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <soccr/packet.h>	/* union soccr_inaddr */

#ifdef __cplusplus
extern "C" {
#endif

/* A suggested place for a named pin dir (nothing is pinned unless one is named). */
#define SOCCR_LOCK_PIN_DIR "/sys/fs/bpf/soccr"

/*
 * Where our filters sit in the clsact hooks: this handle at this priority,
 * at ingress and egress. Priority 1 runs before the filters tc numbers by
 * itself (49152 and down), so a user's "pass" filter cannot bypass the lock.
 * Other programs must not use this handle+priority pair.
 */
#define SOCCR_LOCK_TC_HANDLE 0xC114
#define SOCCR_LOCK_TC_PRIO 1

/*
 * Capacity of the lock: flows it holds at least (at most 148,480). The flows
 * live in preallocated hash maps made as earlier ones fill (fast batch
 * updates without holding memory for flows that are not there): an empty
 * lock holds about 2 KiB of kernel memory, one with 100 flows about 150 KiB,
 * 10,000 flows about 2.4 MiB, a full one about 21 MiB.
 */
#define SOCCR_LOCK_CAPACITY 131072

/* soccr_lock_opts.flags */
#define SOCCR_LOCK_NO_CREATE 0x1	/* open only an existing (pinned) lock, else -ENOENT */
/*
 * Packets with the pass mark go on without being parsed, looked up or
 * counted: about the cost of an empty program instead of a locked packet's,
 * but soccr_lock_entry.passed stays 0. Like pass_mark, it takes effect when
 * the program is first loaded (a pinned lock keeps what it was made with).
 */
#define SOCCR_LOCK_NO_MARK_COUNT 0x2
/*
 * Open only a lock attached in the calling thread's network namespace (with
 * a named pin dir: the pinned one, if attached here), else -ENOENT: for
 * callers that add or remove flows and must not do it in a lock that drops
 * nothing.
 */
#define SOCCR_LOCK_ATTACHED 0x4
/*
 * For a command that attaches the lock for its own use: if this handle's
 * attach is the lock's first in the namespace, the lock is marked "auto",
 * and soccr_lock_detach_idle() removes it once it holds no flow. An attach
 * without this flag marks the lock as the user's (kept). Ignored with a
 * named pin dir (a lock shared on purpose is the user's).
 */
#define SOCCR_LOCK_AUTO 0x8

struct soccr_lock;

struct soccr_lock_opts {
	size_t sz;		/* sizeof(struct soccr_lock_opts) */
	const char *pin_dir;	/* NULL: $SOCCR_PIN_DIR, else none (the namespace's lock) */
	uint32_t pass_mark;	/* 0: SOCCR_MARK (used only when the program is first loaded) */
	unsigned int flags;	/* SOCCR_LOCK_* */
};

/* One TCP flow, as seen from the local socket: saddr:sport = local, daddr:dport = peer. */
struct soccr_flow {
	int family;		/* AF_INET or AF_INET6 */
	union soccr_inaddr saddr, daddr;
	uint16_t sport, dport;	/* host order */
};

/*
 * Per-flow counters; [0]: packets from saddr to daddr (out), [1]: the reverse
 * (in). A packet is counted at each hook it crosses (on lo a packet crosses
 * egress and ingress, so a marked one counts twice).
 */
struct soccr_lock_entry {
	struct soccr_flow flow;
	uint64_t dropped[2];
	uint64_t passed[2];	/* let through because they carried the pass mark */
};

/*
 * Open the lock: the one attached in this namespace, else (unless
 * SOCCR_LOCK_NO_CREATE or SOCCR_LOCK_ATTACHED) a new one, loaded but not
 * attached yet. With a named pin dir: the pinned one, else a new one pinned
 * there (mounting bpffs at /sys/fs/bpf if needed). opts may be NULL.
 * Returns 0 and *out, or a negative errno: -ENOENT (no lock and not to make
 * one), -EPROTO (a lock of another layout: soccr_lock_detach() removes it),
 * -ENOTUNIQ (two different locks attached here), -EINVAL (the pin is not a
 * soccr lock).
 */
int soccr_lock_open(const struct soccr_lock_opts *opts, struct soccr_lock **out);

/* Free the handle; pinned state and attachments stay. NULL is allowed. */
void soccr_lock_close(struct soccr_lock *lock);

/*
 * Attach the classifier at ingress and egress of ifname in the calling
 * thread's network namespace: a tcx attachment in front of the others where
 * the kernel has tcx (SOCCR_NO_TCX=1 in the environment forces the
 * fallback), else a classic filter at SOCCR_LOCK_TC_HANDLE/PRIO (creating the
 * clsact qdisc if needed). Attaching twice is harmless; other programs and
 * filters are left alone. If another soccr lock is attached in this
 * namespace (two first attaches racing), the handle takes that one over,
 * with the flows it holds. Lock a flow before attaching (add, then attach):
 * a soccr_lock_detach_idle() of another process between the two would leave
 * it unprotected otherwise. Returns 0 or a negative errno.
 */
int soccr_lock_attach(struct soccr_lock *lock, const char *ifname);

/*
 * Attach to every interface that is UP in the current netns (lo included).
 * Returns 0, or the first negative errno (the other interfaces are still
 * attached).
 */
int soccr_lock_attach_all(struct soccr_lock *lock);

/*
 * Remove every soccr lock program from ifname (tcx, or the classic filter at
 * SOCCR_LOCK_TC_HANDLE/PRIO). The clsact qdisc is deleted too, but only when
 * no filter at all is left on it. Not attached is not an error. Returns 0 or
 * a negative errno.
 */
int soccr_lock_detach_dev(struct soccr_lock *lock, const char *ifname);

/*
 * Lock or unlock flows (both directions). Adding a locked flow again (in
 * either orientation) or deleting an absent one is not an error. Adding
 * again with soccr_lock_add() keeps the flow's counters; a batch add resets
 * them (the kernel's batch update has no "only if new" mode). The batch
 * calls return the number of flows handled (n) or a negative errno; a batch
 * that fails part-way is not rolled back (-E2BIG: the lock is full, see
 * SOCCR_LOCK_CAPACITY).
 */
int soccr_lock_add(struct soccr_lock *lock, const struct soccr_flow *flow);
int soccr_lock_del(struct soccr_lock *lock, const struct soccr_flow *flow);
int soccr_lock_add_batch(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n);
int soccr_lock_del_batch(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n);

/*
 * Locked flows with their counters, in a malloc()ed array the caller frees.
 * Returns 0 or a negative errno.
 */
int soccr_lock_list(struct soccr_lock *lock, struct soccr_lock_entry **entries, size_t *n);

/*
 * Remove the lock of this network namespace entirely: every soccr lock
 * program from every device of the namespace (never another namespace's),
 * then the pins. The handle is still to be closed with soccr_lock_close().
 * Returns 0 or a negative errno.
 */
int soccr_lock_detach(struct soccr_lock *lock);

/*
 * soccr_lock_detach() without a handle, for a lock that cannot be opened
 * (another layout, two programs attached): every soccr lock program off
 * every device of this namespace, then the named pin dir's pins (opts may
 * be NULL). Returns 0 or a negative errno.
 */
int soccr_lock_detach_netns(const struct soccr_lock_opts *opts);

/*
 * Detach the lock if it is marked "auto" (see SOCCR_LOCK_AUTO) and holds no
 * flow. Returns 1 if it was detached, 0 if it stays, or a negative errno.
 */
int soccr_lock_detach_idle(struct soccr_lock *lock);

/* The layout of the lock's kernel objects this library makes and uses. */
#define SOCCR_LOCK_LAYOUT_CUR 2

/* soccr_lock_status.problems: how the lock's objects disagree. */
#define SOCCR_LOCK_PB_PIN_ONLY	 0x01 /* pinned, attached nowhere in this netns */
#define SOCCR_LOCK_PB_NO_PIN	 0x02 /* attached; the pin dir (visible here) lacks it */
#define SOCCR_LOCK_PB_PIN_OTHER	 0x04 /* the pinned program is not the attached one */
#define SOCCR_LOCK_PB_LAYOUT	 0x08 /* a lock of another layout (an older soccr) */
#define SOCCR_LOCK_PB_MANY	 0x10 /* more than one lock program attached here */
#define SOCCR_LOCK_PB_HALF	 0x20 /* a device with the lock at one hook only */

/* One hook the lock is attached at. */
struct soccr_lock_hook {
	char ifname[16];	/* IF_NAMESIZE */
	int ifindex;
	uint32_t prog_id;
	uint8_t egress;		/* 0: ingress */
	uint8_t tcx;		/* 0: classic clsact filter */
};

struct soccr_lock_status {
	size_t sz;		/* sizeof(struct soccr_lock_status), set by the caller */
	int found;		/* 0: no lock attached here and none pinned */
	unsigned int problems;	/* SOCCR_LOCK_PB_*; 0: healthy (or none) */
	uint64_t netns_cookie;	/* this network namespace (SO_NETNS_COOKIE) */
	uint32_t prog_id;	/* the lock's program: the attached one, else the pinned one */
	uint32_t pinned_prog_id; /* 0: nothing pinned */
	uint32_t layout;	/* the lock's layout; this library's: SOCCR_LOCK_LAYOUT_CUR */
	uint32_t pass_mark;
	unsigned int flags;	/* SOCCR_LOCK_NO_MARK_COUNT, SOCCR_LOCK_AUTO */
	size_t flows;		/* flows locked */
	size_t slots;		/* flow maps made */
	size_t capacity;	/* flows those maps hold */
	uint64_t memlock;	/* bytes of kernel memory charged to the lock's maps */
	int pins_visible;	/* the pin dir's bpffs is one other processes see */
	char pin_dir[256];
	size_t nhooks;
	struct soccr_lock_hook *hooks; /* malloc()ed: soccr_lock_status_free() */
};

/*
 * What the lock of this network namespace is: where it is attached, what it
 * holds, and whether its objects agree. Looks only: creates, mounts and
 * changes nothing. opts: pin_dir as for soccr_lock_open() (may be NULL).
 * Returns 0 (also when there is no lock: found = 0) or a negative errno.
 */
int soccr_lock_status(const struct soccr_lock_opts *opts, struct soccr_lock_status *st);
void soccr_lock_status_free(struct soccr_lock_status *st);

/* The classifier's program fd (owned by the handle), for BPF_PROG_TEST_RUN and bpf_tc_attach(). */
int soccr_lock_prog_fd(const struct soccr_lock *lock);

/* The named pin directory in use (owned by the handle), NULL if none. */
const char *soccr_lock_pin_dir(const struct soccr_lock *lock);

/*
 * Build a soccr_flow from a local and a peer sockaddr (AF_INET/AF_INET6,
 * v4-mapped v6 turned into v4). Returns 0, -EAFNOSUPPORT for another family,
 * -EINVAL if the two do not make one family.
 */
int soccr_flow_from_sockaddr(struct soccr_flow *flow, const struct sockaddr *local,
			     const struct sockaddr *peer);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_LOCK_H */
