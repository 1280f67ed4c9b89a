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

struct soccr_lock;

struct soccr_lock_opts {
	size_t sz;		/* sizeof(struct soccr_lock_opts) */
	const char *pin_dir;	/* NULL: $SOCCR_PIN_DIR, else SOCCR_LOCK_PIN_DIR */
	uint32_t pass_mark;	/* 0: SOCCR_MARK (used only when the program is first loaded) */
};

/* One TCP flow, as seen from the local socket: saddr:sport = local, daddr:dport = peer. */
struct soccr_flow {
	int family;		/* AF_INET or AF_INET6 */
	union soccr_inaddr saddr, daddr;
	uint16_t sport, dport;	/* host order */
};

/* Per-flow counters; [0]: packets from saddr to daddr (egress), [1]: the reverse. */
struct soccr_lock_entry {
	struct soccr_flow flow;
	uint64_t dropped[2];
	uint64_t passed[2];	/* let through because they carried the pass mark */
};

/*
 * Open the lock: reuse the pinned objects if present, else load the program
 * and pin it (mounting bpffs at /sys/fs/bpf if needed). opts may be NULL.
 * Returns 0 and *out, or a negative errno.
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

/* Attach to every interface that is UP in the current netns (lo included). */
int soccr_lock_attach_all(struct soccr_lock *lock);

/* Remove our filters from ifname (only ours). Returns 0 or a negative errno. */
int soccr_lock_detach_dev(struct soccr_lock *lock, const char *ifname);

/*
 * Lock or unlock flows (both directions). Adding a locked flow again or
 * deleting an absent one is not an error. The batch calls return the number
 * of flows handled or a negative errno.
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

/* Build a soccr_flow from a local and a peer sockaddr (AF_INET/AF_INET6, v4-mapped v6 turned into v4). */
int soccr_flow_from_sockaddr(struct soccr_flow *flow, const struct sockaddr *local,
			     const struct sockaddr *peer);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_LOCK_H */
