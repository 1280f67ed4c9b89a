// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A session: the cache a caller asks for when it restores many sockets
 * (<soccr/restore.h>). It keeps, per network namespace, one rtnetlink
 * socket, and one open path per (kind, device or family): injector, bypass
 * program, raw socket; plus the last route answer. The tables are small
 * (least recently used entry dropped), so namespaces that come and go do
 * not pile up. Nothing outside a session is cached anywhere in the library.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nl.h"
#include "path/path.h"

#define CACHE_SIZE 8

/*
 * The last route answer (namespace and addresses, not ports) serves the
 * next injections of the same restore and restores to the same peer right
 * after it: one rtnetlink round trip costs about as much as the send. Kept
 * 50 ms, so a route change is seen by restores that start later than that;
 * one that starts earlier may inject on the old device, where the segment
 * is not absorbed: -ENOLINK, nothing sent to the peer, and a retry sees the
 * new route.
 */
#define ROUTE_MEMO_NS (50 * 1000 * 1000)

struct nl_entry {
	bool used;
	struct soccr_ns_key ns;
	int fd;
	uint64_t last;
};

struct soccr_session {
	pthread_mutex_t lock;
	uint64_t tick;
	struct soccr_path_entry paths[CACHE_SIZE];
	struct nl_entry nls[CACHE_SIZE];
	struct {
		bool valid;
		struct soccr_ns_key ns;
		int family;
		union soccr_inaddr local, peer;
		struct soccr_route rt;
		uint64_t when;
	} memo;
	struct {
		bool valid;
		struct soccr_ns_key ns;
		int rp_filter;
		uint64_t when;
	} rp_memo;
};

SOCCR_API int soccr_session_open(const struct soccr_session_opts *opts, struct soccr_session **out)
{
	struct soccr_session_opts o;
	struct soccr_session *s;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = sc_opts_copy(&o, sizeof(o), opts, opts ? opts->sz : 0, sizeof(o.sz));
	if (err) {
		pr_err("session: bad options (sz %zu)", opts ? opts->sz : (size_t)0);
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

SOCCR_API void soccr_session_close(struct soccr_session *s)
{
	if (!s)
		return;
	for (int i = 0; i < CACHE_SIZE; i++) {
		if (s->paths[i].used)
			sc_path_entry_drop(&s->paths[i]);
		if (s->nls[i].used)
			close(s->nls[i].fd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void sc_session_lock(struct soccr_session *s)
{
	pthread_mutex_lock(&s->lock);
}

void sc_session_unlock(struct soccr_session *s)
{
	pthread_mutex_unlock(&s->lock);
}

int sc_session_nl(struct soccr_session *s, const struct soccr_ns_key *ns)
{
	struct nl_entry *lru = &s->nls[0];

	for (int i = 0; i < CACHE_SIZE; i++) {
		struct nl_entry *e = &s->nls[i];

		if (e->used && sc_ns_eq(&e->ns, ns)) {
			e->last = ++s->tick;
			return e->fd;
		}
		if (!e->used || (lru->used && e->last < lru->last))
			lru = e;
	}
	if (lru->used)
		close(lru->fd);
	memset(lru, 0, sizeof(*lru));
	lru->fd = sc_nl_open(NETLINK_ROUTE);
	if (lru->fd < 0)
		return lru->fd;
	lru->used = true;
	lru->ns = *ns;
	lru->last = ++s->tick;
	return lru->fd;
}

struct soccr_path_entry *sc_session_find(struct soccr_session *s, const struct soccr_ns_key *ns,
					    enum soccr_path_kind kind, int ifindex, int family)
{
	for (int i = 0; i < CACHE_SIZE; i++) {
		struct soccr_path_entry *e = &s->paths[i];

		if (e->used && e->kind == kind && sc_ns_eq(&e->ns, ns) &&
		    (kind == SOCCR_PATH_RAW ? e->family == family : e->ifindex == ifindex)) {
			e->last = ++s->tick;
			return e;
		}
	}
	return NULL;
}

struct soccr_path_entry *sc_session_slot(struct soccr_session *s)
{
	struct soccr_path_entry *lru = &s->paths[0];

	for (int i = 0; i < CACHE_SIZE; i++) {
		struct soccr_path_entry *e = &s->paths[i];

		if (!e->used)
			return e;
		if (e->last < lru->last)
			lru = e;
	}
	pr_dbg("session: cache full, dropping the path on if %d", lru->ifindex);
	sc_path_entry_drop(lru);
	return lru;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool sc_session_route_get(struct soccr_session *s, const struct soccr_ns_key *ns,
			     const struct soccr_wire_flow *flow, struct soccr_route *rt)
{
	if (!s->memo.valid || !sc_ns_eq(&s->memo.ns, ns) || s->memo.family != flow->family ||
	    memcmp(&s->memo.local, &flow->local, sizeof(flow->local)) ||
	    memcmp(&s->memo.peer, &flow->peer, sizeof(flow->peer)) ||
	    now_ns() - s->memo.when > ROUTE_MEMO_NS)
		return false;
	*rt = s->memo.rt;
	return true;
}

void sc_session_route_set(struct soccr_session *s, const struct soccr_ns_key *ns,
			     const struct soccr_wire_flow *flow, const struct soccr_route *rt)
{
	s->memo.valid = true;
	s->memo.ns = *ns;
	s->memo.family = flow->family;
	s->memo.local = flow->local;
	s->memo.peer = flow->peer;
	s->memo.rt = *rt;
	s->memo.when = now_ns();
}

int sc_session_rp_filter(struct soccr_session *s, const struct soccr_ns_key *ns)
{
	uint64_t now = now_ns();
	int rp;

	/* Kept as long as a route answer: two file reads cost as much as a restore's send. */
	if (s->rp_memo.valid && sc_ns_eq(&s->rp_memo.ns, ns) &&
	    now - s->rp_memo.when <= ROUTE_MEMO_NS)
		return s->rp_memo.rp_filter;
	rp = sc_lo_rp_filter();
	if (rp < 0)
		return rp;
	s->rp_memo.valid = true;
	s->rp_memo.ns = *ns;
	s->rp_memo.rp_filter = rp;
	s->rp_memo.when = now;
	return rp;
}
