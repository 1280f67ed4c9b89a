// SPDX-License-Identifier: LGPL-2.1-or-later
/* Waiting for the wire and the socket, and the verdict of each segment. */
#include "verify/vf.h"

/* Wait (bounded) until every sent segment was seen entering the stack. */
void vf_wait_wire(struct soccr_verifier *v, uint64_t deadline)
{
	vf_drain(v);
	while (v->pending_in) {
		uint64_t now = vf_now_ms();
		struct pollfd pfd = {.fd = v->pfd, .events = POLLIN};

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		vf_drain(v);
	}
}

/* Keep draining the capture until the deadline (context for the pcap file). */
void vf_linger(struct soccr_verifier *v, uint64_t deadline)
{
	for (uint64_t now = vf_now_ms(); now < deadline; now = vf_now_ms()) {
		struct pollfd pfd = {.fd = v->pfd, .events = POLLIN};

		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		vf_drain(v);
	}
}

/* Judge the socket side of segs[from..nseg) matching fd (-2: all), retrying until deadline. */
void vf_judge_socks(struct soccr_verifier *v, size_t from, int fd, uint64_t deadline)
{
	char why[192];

	for (;;) {
		bool again = false;

		for (size_t i = from; i < v->nseg; i++) {
			struct seg *g = &v->segs[i];
			int err;

			if (g->sock_done || (fd != -2 && g->fd != fd))
				continue;
			/*
			 * The cheap view first when there is a "before" to compare
			 * with; the queue sequences when it does not pass (a precise
			 * verdict, and the numbers for the reason) or there is none.
			 */
			err = vf_read_sock(v, g, g->precise || !g->vd.before.valid, &g->vd.after);
			if (!err && g->vd.before.valid && g->fd >= 0 &&
			    !vf_sock_ok(g, 0, why, sizeof(why)))
				err = vf_read_sock(v, g, true, &g->vd.after);
			g->read_err = err;
			if (vf_sock_ok(g, err, why, sizeof(why)) || err) {
				g->sock_done = true;
				continue;
			}
			/*
			 * Worth waiting only if the frame can still arrive: it was
			 * sent and either seen entering the stack or not captured.
			 */
			if (g->sent > 0 && (g->vd.seen_in || !v->pc))
				again = true;
		}
		if (!again || vf_now_ms() >= deadline)
			break;
		usleep(RECHECK_US);
	}
	for (size_t i = from; i < v->nseg; i++)
		if (fd == -2 || v->segs[i].fd == fd)
			v->segs[i].sock_done = true;
}

static bool lock_counters(const struct soccr_lock_entry *e, size_t n, const struct seg *g,
			  uint64_t *drop, uint64_t *pass)
{
	const struct soccr_segment *s = &g->vd.seg;
	size_t l = vf_addr_len(s->family);

	for (size_t i = 0; i < n; i++) {
		const struct soccr_flow *f = &e[i].flow;
		int dir;

		if (f->family != s->family)
			continue;
		/* Our segment goes peer -> local; the entry's [1] is daddr -> saddr. */
		if (!memcmp(&f->saddr, &s->dst, l) && !memcmp(&f->daddr, &s->src, l) &&
		    f->sport == s->dport && f->dport == s->sport)
			dir = 1;
		else if (!memcmp(&f->saddr, &s->src, l) && !memcmp(&f->daddr, &s->dst, l) &&
			 f->sport == s->sport && f->dport == s->dport)
			dir = 0;
		else
			continue;
		*drop = e[i].dropped[dir];
		*pass = e[i].passed[dir];
		return true;
	}
	return false;
}

static int dev_flags(struct soccr_verifier *v, const char *ifname)
{
	struct ifreq ifr;

	if (v->ctl_fd < 0 || !ifname[0])
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(v->ctl_fd, SIOCGIFFLAGS, &ifr))
		return -1;
	return ifr.ifr_flags;
}

/* Compose the verdict of g; ends with the hint. */
void vf_verdict(struct soccr_verifier *v, struct seg *g, const struct soccr_lock_entry *la,
		size_t nla, const struct mib *ma, unsigned int drops)
{
	struct soccr_verdict *vd = &g->vd;
	char why[192];
	bool sock_pass;
	uint64_t d0 = 0, p0 = 0, d1 = 0, p1 = 0;
	int fl;

	vd->reason[0] = vd->hint[0] = '\0';
	/* Re-run the judgement on the final views to get the reason text. */
	sock_pass = vf_sock_ok(g, g->read_err, why, sizeof(why));
	if (g->sent < 0) {
		vd->kind = SOCCR_VERDICT_NOT_SEEN;
		vd->failed |= SOCCR_VFAIL_SEND | SOCCR_VFAIL_WIRE;
		snprintf(vd->reason, sizeof(vd->reason), "send failed: %s",
			 strerror(-vd->send_err));
	} else if (v->pc && !g->exact_seen && !g->bytes_differ) {
		vd->kind = SOCCR_VERDICT_NOT_SEEN;
		vd->failed |= SOCCR_VFAIL_WIRE;
		snprintf(vd->reason, sizeof(vd->reason), "not captured within %u ms%s",
			 v->timeout_ms, g->sent ? "" : " (its send was never reported)");
		if (g->flow_late)
			vf_addf(vd->hint, sizeof(vd->hint),
				"its flow joined the capture filter after the send");
	} else if (v->pc && !g->exact_seen) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		vd->failed |= SOCCR_VFAIL_BYTES;
		snprintf(vd->reason, sizeof(vd->reason),
			 "bytes: captured, but differing from the frame built at IP offset %zu",
			 g->diff_off);
	} else if (g->csum_bad) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		vd->failed |= SOCCR_VFAIL_CHECKSUM;
		snprintf(vd->reason, sizeof(vd->reason),
			 "checksum: %s checksum invalid on the wire",
			 !g->ip_csum_ok ? "IPv4 header" : "TCP");
	} else if (!sock_pass) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		snprintf(vd->reason, sizeof(vd->reason), "%s", why);
	} else {
		char *p = vd->reason, *end = vd->reason + sizeof(vd->reason);

		/* The common case, for every socket of a batch: no printf. */
		vd->kind = SOCCR_VERDICT_ABSORBED;
		vd->failed = 0;
		if (vd->before.valid && vd->before.state != vd->after.state) {
			p = vf_put_str(p, end, vf_state_name(vd->before.state));
			p = vf_put_str(p, end, " -> ");
		} else {
			p = vf_put_str(p, end, "state ");
		}
		p = vf_put_str(p, end, vf_state_name(vd->after.state));
		if (vd->after.repair && (vd->checks & SOCCR_VERIFY_CHECK_RCV)) {
			p = vf_put_str(p, end, "; rcv_nxt ");
			p = vf_put_u32(p, end, vd->after.rcv_nxt);
		}
		if (vd->after.have_write_seq && (vd->checks & SOCCR_VERIFY_CHECK_ACK)) {
			p = vf_put_str(p, end, "; acked up to ");
			p = vf_put_u32(p, end, vd->after.write_seq);
		}
	}
	if (v->pc) {
		char *p = vd->hint + strlen(vd->hint), *end = vd->hint + sizeof(vd->hint);

		if (p != vd->hint)
			p = vf_put_str(p, end, "; ");
		p = vf_put_str(p, end, "seen out ");
		p = vf_put_u32(p, end, vd->seen_out);
		p = vf_put_str(p, end, ", in ");
		p = vf_put_u32(p, end, vd->seen_in);
		if (vd->seen_other) {
			p = vf_put_str(p, end, ", otherhost ");
			p = vf_put_u32(p, end, vd->seen_other);
		}
		if (vd->ifname[0]) {
			p = vf_put_str(p, end, " on ");
			p = vf_put_str(p, end, vd->ifname);
		}
	}
	if (vd->kind == SOCCR_VERDICT_ABSORBED)
		return;

	/* Hints: what else we know about where it went. */
	if (vd->ifname[0]) {
		fl = dev_flags(v, vd->ifname);
		if (fl >= 0 && !(fl & IFF_UP))
			vf_addf(vd->hint, sizeof(vd->hint), "device %s is down", vd->ifname);
	} else if (vd->ifindex) {
		vf_addf(vd->hint, sizeof(vd->hint), "device index %d no longer exists",
			vd->ifindex);
	}
	if (la && lock_counters(la, nla, g, &d1, &p1)) {
		if (v->nlock_before)
			lock_counters(v->lock_before, v->nlock_before, g, &d0, &p0);
		if (d1 > d0)
			vf_addf(vd->hint, sizeof(vd->hint),
				"the lock dropped %llu packet(s) of this flow toward the socket "
				"(%s)",
				(unsigned long long)(d1 - d0),
				vd->seen_in ? "at tc ingress, after the capture point"
					    : "unmarked: at tc egress, before the capture point");
		else
			vf_addf(vd->hint, sizeof(vd->hint),
				"flow locked: %llu dropped, %llu passed", (unsigned long long)d1,
				(unsigned long long)p1);
	}
	if (ma && ma->valid && v->mib_before.valid) {
		if (ma->in_csum_errors > v->mib_before.in_csum_errors)
			vf_addf(vd->hint, sizeof(vd->hint), "Tcp InCsumErrors +%lld",
				ma->in_csum_errors - v->mib_before.in_csum_errors);
		if (ma->rp_filter > v->mib_before.rp_filter)
			vf_addf(vd->hint, sizeof(vd->hint), "IPReversePathFilter +%lld (rp_filter)",
				ma->rp_filter - v->mib_before.rp_filter);
		if (ma->paws > v->mib_before.paws)
			vf_addf(vd->hint, sizeof(vd->hint), "PAWSEstab +%lld (timestamp)",
				ma->paws - v->mib_before.paws);
	}
	if (drops > v->pcap_drops_before)
		vf_addf(vd->hint, sizeof(vd->hint), "the capture dropped %u packet(s)",
			drops - v->pcap_drops_before);
	if (vd->kind == SOCCR_VERDICT_NOT_ABSORBED) {
		if (vd->failed & SOCCR_VFAIL_DELIVERY)
			vf_addf(vd->hint, sizeof(vd->hint),
				"never reached the socket (segs_in unchanged): dropped after the "
				"capture point (lock at ingress, firewall, rp_filter, checksum)");
		else if (!vd->before.valid && vd->after.repair &&
			 (vd->checks & SOCCR_VERIFY_CHECK_RCV) && vd->after.rcv_nxt == vd->seg.seq)
			/*
			 * No "before" view (the restore hook), but the socket waits for
			 * exactly this sequence number: TCP would have taken it.
			 */
			vf_addf(vd->hint, sizeof(vd->hint),
				"its seq is the socket's rcv_nxt, yet it was not taken: dropped "
				"after "
				"the capture point (firewall, lock at ingress, rp_filter) or an "
				"unacceptable ack");
		else if (vd->failed & (SOCCR_VFAIL_SEQUENCE | SOCCR_VFAIL_ACK))
			vf_addf(vd->hint, sizeof(vd->hint), "wrong seq/ack for the socket");
		if (vd->seen_out && !vd->seen_in && !vd->seen_other)
			vf_addf(vd->hint, sizeof(vd->hint),
				"transmitted but never received: nothing turned it back to "
				"ingress");
		if (vd->seen_other && !vd->seen_in)
			vf_addf(vd->hint, sizeof(vd->hint),
				"received as not for this host: wrong destination MAC");
	}
}
