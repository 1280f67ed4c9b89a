/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One record of the SYN_SENT iterator (bpf/synstamp.bpf.c), read by src/core/synstamp.c. */
#ifndef SOCCR_SYNSTAMP_H
#define SOCCR_SYNSTAMP_H

#include <linux/types.h>

struct soccr_synstamp_rec {
	__u64 cookie;	     /* SO_COOKIE of the socket */
	__u32 retrans_stamp; /* tcp_time_stamp_ts() when connect() sent the first SYN */
	__u32 tsoffset;	     /* added to the clock in the TSval the SYNs carried */
};

#endif
