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
 * Room for 131072 locked flows (2^17), above the 100,000 a batch must hold.
 * The hash map is preallocated: batch updates run about twice as fast as
 * with BPF_F_NO_PREALLOC (no allocation per flow), at the price of kernel
 * memory held while the lock exists: about 128 bytes per entry (element
 * header, 40-byte key, 40-byte value) plus the buckets, some 18 MiB in all.
 */
#define SOCCR_LOCK_MAX_FLOWS 131072

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
