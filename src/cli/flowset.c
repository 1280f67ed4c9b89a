// SPDX-License-Identifier: LGPL-2.1-or-later
/* Which flows a lock holds, for save and restore (thousands at once: sorted, not scanned). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/lock.h>

#include "cli.h"

static int flow_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct soccr_flow));
}

/* A flow in one orientation, its unused address bytes and padding zeroed, for comparing. */
static struct soccr_flow canon(const struct soccr_flow *f, bool swap)
{
	struct soccr_flow c;
	size_t alen = f->family == AF_INET ? 4 : 16;

	memset(&c, 0, sizeof(c));
	c.family = f->family;
	memcpy(&c.saddr, swap ? &f->daddr : &f->saddr, alen);
	memcpy(&c.daddr, swap ? &f->saddr : &f->daddr, alen);
	c.sport = swap ? f->dport : f->sport;
	c.dport = swap ? f->sport : f->dport;
	return c;
}

int cli_lock_holds(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n, bool *held)
{
	struct soccr_lock_entry *e = NULL;
	struct soccr_flow *have;
	size_t ne = 0;
	int ret = soccr_lock_list(lock, &e, &ne);

	if (ret)
		return ret;
	/* The lock lists a flow in one orientation: both go into the sorted set. */
	have = calloc(ne ? 2 * ne : 1, sizeof(*have));
	if (!have) {
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ne; i++) {
		have[2 * i] = canon(&e[i].flow, false);
		have[2 * i + 1] = canon(&e[i].flow, true);
	}
	free(e);
	qsort(have, 2 * ne, sizeof(*have), flow_cmp);
	for (size_t i = 0; i < n; i++) {
		struct soccr_flow c = canon(&flows[i], false);

		held[i] = bsearch(&c, have, 2 * ne, sizeof(*have), flow_cmp) != NULL;
	}
	free(have);
	return 0;
}
