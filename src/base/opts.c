// SPDX-License-Identifier: LGPL-2.1-or-later
/* Small helpers shared by the library's files. */
#include <errno.h>
#include <string.h>

#include "internal.h"

int sc_opts_copy(void *out, size_t out_sz, const void *in, size_t in_sz, size_t min_sz)
{
	memset(out, 0, out_sz);
	if (!in)
		return 0;
	if (in_sz < min_sz)
		return -EINVAL;
	/* A caller built against a newer header: what we do not know must be zero. */
	for (size_t i = out_sz; i < in_sz; i++)
		if (((const unsigned char *)in)[i])
			return -EINVAL;
	memcpy(out, in, in_sz < out_sz ? in_sz : out_sz);
	return 0;
}
