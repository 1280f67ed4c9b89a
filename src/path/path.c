// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The choice of injection path for one restore (docs/design.md, "The
 * injection path"), and opening, using and closing it, from a session's
 * cache or for this restore alone.
 *
 * A frame written to an AF_PACKET socket on lo comes back into the receive
 * path without a route, so the kernel routes it as input: for IPv6 that
 * always delivers it locally; for IPv4 it checks the source, and refuses a
 * source that is one of our addresses (a peer on this host: martian
 * source) or, with a strict rp_filter on lo, one that is not routed via lo
 * (any peer elsewhere). Those cases need help: the bypass program (on lo:
 * the output route attached; on the peer's device: the frame turned to that
 * device's ingress, where the strict check passes), or the raw IP socket,
 * whose packet carries the route of a locally sent one.
 *
 * What a path costs decides between them. Loading a program costs ~0.3-0.4
 * ms and is impossible in a user namespace. Closing an AF_PACKET socket
 * waits for an RCU grace period (packet_release() calls synchronize_net()):
 * 12 ms on the 2-core test machine, where the whole raw-socket restore takes
 * 17 us (tests/bench/bench_criu.c). So a restore that keeps nothing (no
 * session: CRIU's case) sends through the raw socket, for both families; a
 * session opens AF_PACKET once and keeps it, with the program where needed,
 * and falls back to the raw socket where no program can be loaded.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nl.h"
#include "path/path.h"

static const char *const kind_name[] = {
	[SOCCR_PATH_LO] = "AF_PACKET on lo",
	[SOCCR_PATH_LO_BPF] = "AF_PACKET on lo, output route attached by the bypass",
	[SOCCR_PATH_DEV] = "AF_PACKET turned to ingress by the bypass",
	[SOCCR_PATH_RAW] = "raw IP socket",
};

void sc_path_entry_drop(struct soccr_path_entry *e)
{
	sc_bypass_detach(e->bypass);
	soccr_injector_close(e->inj);
	sc_raw_close(e->raw);
	memset(e, 0, sizeof(*e));
}

static int open_injector(int sk, int ifindex, struct soccr_path_entry *e)
{
	struct soccr_injector_opts opts = {.sz = sizeof(opts), .ifindex = ifindex};
	int ret = soccr_injector_open(&opts, &e->inj);

	if (ret) {
		errno = -ret;
		pr_perror("sk %d: injector on if %d", sk, ifindex);
	}
	return ret;
}

/* Open e as kind; quiet: a failure to load the program is not an error (a fallback exists). */
static int entry_open(int sk, const struct soccr_wire_flow *flow, enum soccr_path_kind kind,
		      int ifindex, bool quiet, struct soccr_path_entry *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ifindex = ifindex;
	e->family = flow->family;
	switch (kind) {
	case SOCCR_PATH_RAW:
		return sc_raw_open(flow->family, SOCCR_MARK, &e->raw);
	case SOCCR_PATH_LO:
		return open_injector(sk, ifindex, e);
	case SOCCR_PATH_LO_BPF:
	case SOCCR_PATH_DEV:
		break;
	}
	ret = open_injector(sk, ifindex, e);
	if (ret)
		return ret;
	if (kind == SOCCR_PATH_DEV) {
		if (soccr_injector_link(e->inj) != SOCCR_LINK_ETH) {
			pr_dbg("sk %d: if %d has no link header: no turn-around to ingress", sk,
			       ifindex);
			ret = -EOPNOTSUPP;
			goto err;
		}
		soccr_injector_hwaddr(e->inj, e->mac);
	}
	ret = sc_bypass_attach(ifindex, kind == SOCCR_PATH_DEV ? e->mac : NULL, quiet,
				  &e->bypass);
	if (!ret)
		return 0;
err:
	sc_path_entry_drop(e);
	return ret;
}

/* Open (or find in the session) the entry for kind; p->e is set on success. */
static int path_take(struct soccr_path *p, const struct soccr_ns_key *ns, int sk,
		     enum soccr_path_kind kind, int ifindex, bool quiet)
{
	struct soccr_path_entry *e;
	int ret;

	if (!p->session) {
		ret = entry_open(sk, &p->flow, kind, ifindex, quiet, &p->own);
		if (!ret)
			p->e = &p->own;
		return ret;
	}
	e = sc_session_find(p->session, ns, kind, ifindex, p->flow.family);
	if (!e) {
		e = sc_session_slot(p->session);
		ret = entry_open(sk, &p->flow, kind, ifindex, quiet, e);
		if (ret)
			return ret;
		e->used = true;
		e->ns = *ns;
	}
	p->e = e;
	return 0;
}

static int route_of(struct soccr_path *p, const struct soccr_ns_key *ns, int sk,
		    struct soccr_route *rt)
{
	int nl, ret;

	if (p->session && sc_session_route_get(p->session, ns, &p->flow, rt))
		return 0;
	nl = p->session ? sc_session_nl(p->session, ns) : sc_nl_open(NETLINK_ROUTE);
	ret = nl < 0 ? nl : sc_route_get(nl, &p->flow, rt);
	if (!p->session && nl >= 0)
		close(nl);
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: route to the peer", sk);
		return ret;
	}
	if (p->session)
		sc_session_route_set(p->session, ns, &p->flow, rt);
	return 0;
}

/* AF_PACKET with the bypass: on lo for a local peer, else on the peer's device. */
static int take_bpf_path(struct soccr_path *p, const struct soccr_ns_key *ns, int sk,
			 const struct soccr_route *rt, bool quiet)
{
	int lo = rt->local || rt->oif == SOCCR_LO_IFINDEX ? 1 : sc_if_is_loopback(rt->oif);

	if (lo < 0)
		return lo;
	if (lo)
		return path_take(p, ns, sk, SOCCR_PATH_LO_BPF, rt->oif, quiet);
	return path_take(p, ns, sk, SOCCR_PATH_DEV, rt->oif, quiet);
}

static int choose(struct soccr_path *p, const struct soccr_ns_key *ns, enum soccr_inject_path mode,
		  int sk)
{
	const struct soccr_wire_flow *f = &p->flow;
	struct soccr_route rt = {0};
	bool known_local, routed = false;
	int rp, ret;

	/* Without a session the raw socket: closing an AF_PACKET socket waits for RCU. */
	if (mode == SOCCR_INJECT_RAW || (mode == SOCCR_INJECT_AUTO && !p->session))
		return path_take(p, ns, sk, SOCCR_PATH_RAW, 0, false);
	if (f->family == AF_INET6)
		return path_take(p, ns, sk, SOCCR_PATH_LO, SOCCR_LO_IFINDEX, false);

	rp = p->session ? sc_session_rp_filter(p->session, ns) : sc_lo_rp_filter();
	if (rp < 0) {
		pr_dbg("sk %d: lo's rp_filter unknown (%d): taken as strict", sk, rp);
		rp = 1;
	}
	known_local = sc_addr_is_loopback(AF_INET, &f->peer) ||
		      f->peer.v4.s_addr == f->local.v4.s_addr;
	if (!known_local && rp != 1) {
		ret = route_of(p, ns, sk, &rt);
		if (ret)
			return ret;
		routed = true;
		if (!rt.local)
			return path_take(p, ns, sk, SOCCR_PATH_LO, SOCCR_LO_IFINDEX, false);
	}
	pr_dbg("sk %d: %s: a frame on lo would be refused (rp_filter %d)", sk,
	       known_local || rt.local ? "the peer is on this host" : "the peer is elsewhere", rp);
	if (!routed) {
		ret = route_of(p, ns, sk, &rt);
		if (ret)
			return ret;
	}
	if (known_local)
		rt.local = true;
	ret = take_bpf_path(p, ns, sk, &rt, mode == SOCCR_INJECT_AUTO);
	if (!ret || mode != SOCCR_INJECT_AUTO || (!sc_bpf_denied(ret) && ret != -EOPNOTSUPP))
		return ret;
	pr_dbg("sk %d: no bypass program here (%s): raw IP socket instead", sk, strerror(-ret));
	return path_take(p, ns, sk, SOCCR_PATH_RAW, 0, false);
}

int sc_path_open(struct soccr_session *s, enum soccr_inject_path mode, int sk,
		    const struct soccr_wire_flow *flow, struct soccr_path *p)
{
	struct soccr_ns_key ns;
	int ret;

	memset(p, 0, sizeof(*p));
	p->session = s;
	p->flow = *flow;
	ret = sc_ns_of(sk, &ns);
	if (ret) {
		errno = -ret;
		pr_perror("sk %d: network namespace", sk);
		return ret;
	}
	if (s)
		sc_session_lock(s);
	ret = choose(p, &ns, mode, sk);
	if (ret) {
		if (s)
			sc_session_unlock(s);
		p->session = NULL;
		return ret;
	}
	pr_dbg("sk %d: injecting through the %s (if %d%s)", sk, kind_name[p->e->kind],
	       sc_path_ifindex(p), s ? ", session" : "");
	return 0;
}

int sc_path_send(struct soccr_path *p, struct soccr_segment *seg)
{
	struct soccr_path_entry *e = p->e;

	if (e->kind == SOCCR_PATH_RAW)
		return sc_raw_send_segment(e->raw, seg);
	/* lo: zero MACs (lo's own). A device: its own MAC, which the bypass looks for. */
	memcpy(seg->eth_dst, e->mac, SOCCR_ETH_ALEN);
	memcpy(seg->eth_src, e->mac, SOCCR_ETH_ALEN);
	return soccr_injector_send_segment(e->inj, seg);
}

enum soccr_link sc_path_link(const struct soccr_path *p)
{
	return p->e->kind == SOCCR_PATH_RAW ? SOCCR_LINK_NONE : soccr_injector_link(p->e->inj);
}

int sc_path_ifindex(const struct soccr_path *p)
{
	return p->e->kind == SOCCR_PATH_RAW ? SOCCR_LO_IFINDEX : p->e->ifindex;
}

void sc_path_close(struct soccr_path *p)
{
	if (!p->e)
		return;
	if (p->session)
		sc_session_unlock(p->session);
	else
		sc_path_entry_drop(&p->own);
	p->e = NULL;
}
