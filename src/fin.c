// SPDX-License-Identifier: LGPL-2.1-or-later
/* Segments "from the peer" for the FIN bookkeeping of libsoccr_restore(). */
#include <errno.h>

#include "repair.h"

int soccr_inject_from_peer(const struct soccr_peer_seg *seg, const struct soccr_absorb *want)
{
	(void)want;
	errno = ENOTSUP;
	pr_err("sk %d: injecting a segment from the peer: not implemented yet", seg->fd);
	return -ENOTSUP;
}
