/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/lock.h>: the network lock. An eBPF tc classifier, attached at
 * clsact ingress and egress, drops every packet of a locked TCP flow (both
 * directions) unless its skb->mark equals the pass mark (SOCCR_MARK by
 * default). Maps and programs are pinned under a bpffs directory
 * (/sys/fs/bpf/soccr by default) so the lock outlives the process.
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
 * Capacity of the lock: flows locked at once (the map's max_entries). The
 * map is preallocated (fast batch updates): about 18 MiB of kernel memory
 * while a lock exists.
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

struct soccr_lock;

struct soccr_lock_opts {
	size_t sz;		/* sizeof(struct soccr_lock_opts) */
	const char *pin_dir;	/* NULL: $SOCCR_PIN_DIR, else SOCCR_LOCK_PIN_DIR */
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
 * Open the lock: reuse the pinned objects if present, else load the program
 * and pin it (mounting bpffs at /sys/fs/bpf if needed). opts may be NULL.
 * Returns 0 and *out, or a negative errno (-ENOENT with SOCCR_LOCK_NO_CREATE
 * and nothing pinned; -EINVAL if the pins are not a soccr lock).
 */
int soccr_lock_open(const struct soccr_lock_opts *opts, struct soccr_lock **out);

/* Free the handle; pinned state and attachments stay. NULL is allowed. */
void soccr_lock_close(struct soccr_lock *lock);

/*
 * Attach the classifier at ingress and egress of ifname in the calling
 * thread's network namespace (creating the clsact qdisc if needed).
 * Attaching twice is harmless. Other clsact filters are left alone.
 * Returns 0 or a negative errno.
 */
int soccr_lock_attach(struct soccr_lock *lock, const char *ifname);

/*
 * Attach to every interface that is UP in the current netns (lo included).
 * Returns 0, or the first negative errno (the other interfaces are still
 * attached).
 */
int soccr_lock_attach_all(struct soccr_lock *lock);

/*
 * Remove our filters from ifname: only a soccr lock program at
 * SOCCR_LOCK_TC_HANDLE/SOCCR_LOCK_TC_PRIO (also one left by a lost pin) is
 * removed. The clsact qdisc is deleted too, but only when no filter at all
 * is left on it. Not attached is not an error. Returns 0 or a negative errno.
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
 * Remove the lock entirely: our filters from every interface of the current
 * netns where they are attached, then the pinned objects. The handle is
 * still to be closed with soccr_lock_close(). Returns 0 or a negative errno.
 */
int soccr_lock_detach(struct soccr_lock *lock);

/* The classifier's program fd (owned by the handle), for BPF_PROG_TEST_RUN and bpf_tc_attach(). */
int soccr_lock_prog_fd(const struct soccr_lock *lock);

/* The pin directory in use (owned by the handle). */
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
