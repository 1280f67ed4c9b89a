/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network lock's map layout, shared by the tc classifier
 * (bpf/lockprog.bpf.c) and the library (src/lock/). Plain kernel UAPI types
 * only, so both sides compile it unchanged.
 */
#ifndef SOCCR_BPF_LOCK_H
#define SOCCR_BPF_LOCK_H

#include <linux/types.h>

/* Values of soccr_lock_key.family (not AF_*: the BPF side has no libc). */
#define SOCCR_LOCK_FAM_V4 4
#define SOCCR_LOCK_FAM_V6 6

/*
 * Room for 131072 locked flows (2^17), above the 100,000 a batch must hold,
 * without holding the memory of 131072 while few flows are locked: the flows
 * live in up to SOCCR_LOCK_SLOTS preallocated hash maps ("slots") of growing
 * size, made one after the other as the earlier ones fill (slot k exists only
 * once slot k-1 does). An empty lock has no slot; 100 flows cost slot 0 (about
 * 150 KiB); the three slots hold 148,480 flows (about 21 MiB). Preallocated, as
 * batch updates run about twice as fast as with BPF_F_NO_PREALLOC.
 */
#define SOCCR_LOCK_MAX_FLOWS 131072
#define SOCCR_LOCK_SLOTS     3
#define SOCCR_LOCK_SLOT_SIZES {1024, 16384, 131072}
/* Slot 0's size, also the template the slots map is made with (hash slots may differ in size). */
#define SOCCR_LOCK_SLOT0_SIZE 1024

/*
 * The layout of the lock's objects (program, slots, meta map, key, value,
 * this config). A pinned or attached lock of another layout is reported, not
 * used. Layout 1 (no config, one "flows" map of 131072 entries) came before.
 */
#define SOCCR_LOCK_LAYOUT 2

/* The program's read-only configuration (its .rodata holds only this). */
struct soccr_lock_cfg {
	__u32 layout;		/* SOCCR_LOCK_LAYOUT */
	__u32 pass_mark;
	__u32 count_marked;	/* 0: SOCCR_LOCK_NO_MARK_COUNT */
	__u32 pad;
};

/*
 * The lock's one writable word of state for user space (map "soccr_meta",
 * one entry, bound to the program without being read by it).
 */
struct soccr_lock_meta {
	__u32 flags;		/* SOCCR_LOCK_META_* */
	__u32 pad;
};
/* Attached by a command for its own use (soccr save): detached again when it holds no flow. */
#define SOCCR_LOCK_META_AUTO 0x1

/* The default pass mark: SOCCR_MARK of <soccr/soccr.h> (checked by src/lock/lk.h). */
#define SOCCR_LOCK_DEFAULT_MARK 0xC114

/*
 * A flow in canonical form, so that one lookup matches both directions: the
 * two endpoints (address, port) are stored "lower" one first, where lower
 * compares the four 32-bit address words in order, then the port, each as
 * the raw network-order value read as a native integer. The BPF side and the
 * user side run on the same host, so they agree on that order; it does not
 * need to mean anything beyond that. IPv4 addresses use addr[i][0] only;
 * unused words and the padding are zero.
 */
struct soccr_lock_key {
	__be32 addr[2][4];
	__be16 port[2];
	__u8 family;		/* SOCCR_LOCK_FAM_V4 / _V6 */
	__u8 pad[3];
};

/*
 * Counters indexed by the key's endpoint the packet comes FROM: [0] counts
 * packets whose source is key.addr[0]/port[0]. local says which endpoint is
 * the local socket (written by user space, only read back by it) so that the
 * library can report them as "out" (local -> peer) and "in".
 */
struct soccr_lock_val {
	__u64 dropped[2];
	__u64 passed[2];	/* let through because skb->mark == pass mark */
	__u32 local;		/* 0 or 1 */
	__u32 pad;
};

#endif /* SOCCR_BPF_LOCK_H */
