// SPDX-License-Identifier: LGPL-2.1-or-later
/* Collecting a batch, reading its verdicts, and verdicts as text. */
#include "verify/vf.h"

SOCCR_API int soccr_verifier_collect(struct soccr_verifier *v)
{
	struct soccr_lock_entry *la = NULL;
	struct pcap_stat st;
	struct mib ma = {0};
	size_t nla = 0, from;
	unsigned int drops = 0;
	int bad = 0;
	bool any_bad = false;

	if (!v)
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	from = v->judged;
	if (v->pc) {
		vf_wait_wire(v, vf_now_ms() + v->timeout_ms);
		if (v->dumper && v->linger_ms)
			vf_linger(v, vf_now_ms() + v->linger_ms);
	}
	vf_judge_socks(v, from, -2, vf_now_ms() + v->timeout_ms);
	/* Hint sources, read only when something went wrong. */
	for (size_t i = from; i < v->nseg && !any_bad; i++) {
		struct seg *g = &v->segs[i];
		char why[192];

		if (g->sent < 0 || (v->pc && (!g->exact_seen || g->csum_bad)) ||
		    !vf_sock_ok(g, g->read_err, why, sizeof(why)))
			any_bad = true;
	}
	if (v->pc && sc_log_enabled(SOCCR_LOG_DBG) && !pcap_stats(v->pc, &st))
		pr_dbg("verify: batch of %zu segments: capture received %u, dropped %u (since "
		       "open)",
		       v->nseg - from, st.ps_recv, st.ps_drop);
	if (any_bad) {
		if (v->lock && soccr_lock_list(v->lock, &la, &nla))
			nla = 0;
		vf_mib_read(v, &ma);
		if (v->pc && !pcap_stats(v->pc, &st))
			drops = st.ps_drop;
	}
	for (size_t i = from; i < v->nseg; i++) {
		struct seg *g = &v->segs[i];

		vf_verdict(v, g, la, nla, &ma, drops);
		g->judged = true;
		if (g->vd.kind != SOCCR_VERDICT_ABSORBED)
			bad++;
	}
	vf_write_pcap(v, from);
	v->name_cache_idx = 0;
	v->judged = v->nseg;
	v->pending_in = 0;
	v->lock_snap = false;
	free(la);
	/*
	 * The batch is over: empty the flow set, so that nothing piles up in the
	 * ring until the next batch (connection set-up and tear-down traffic
	 * would otherwise fill it and cost the next batch its processing).
	 */
	if (v->pc && v->narrowed && v->nflows) {
		memset(v->flows, 0, v->flow_cap * sizeof(*v->flows));
		v->nflows = 0;
		vf_filter_apply(v);
	}
	pthread_mutex_unlock(&v->mu);
	return bad;
}

SOCCR_API size_t soccr_verifier_count(const struct soccr_verifier *v)
{
	return v ? v->nseg : 0;
}

SOCCR_API const struct soccr_verdict *soccr_verifier_verdict(const struct soccr_verifier *v,
							     size_t i)
{
	if (!v || i >= v->nseg)
		return NULL;
	return &v->segs[i].vd;
}

SOCCR_API void soccr_verifier_reset(struct soccr_verifier *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->nseg = v->judged = v->viewed = v->pending_in = 0;
	v->arena_len = 0;
	v->nobs = v->obuf_len = 0;
	for (size_t i = 0; i < v->nbuckets; i++)
		v->buckets[i] = -1;
	v->lock_snap = false;
	pthread_mutex_unlock(&v->mu);
}

SOCCR_API const char *soccr_verdict_name(enum soccr_verdict_kind kind)
{
	switch (kind) {
	case SOCCR_VERDICT_ABSORBED:
		return "absorbed";
	case SOCCR_VERDICT_NOT_ABSORBED:
		return "not-absorbed";
	case SOCCR_VERDICT_NOT_SEEN:
		return "not-seen";
	default:
		return "pending";
	}
}

void vf_flags_str(uint8_t f, char *buf)
{
	static const char letters[] = "FSRPAUEC";
	int n = 0;

	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			buf[n++] = letters[i];
	if (!n)
		buf[n++] = '.';
	buf[n] = '\0';
}

void vf_flow_str(const struct soccr_segment *s, char *buf, size_t len)
{
	char a[64], b[64];

	snprintf(buf, len, "%s > %s", vf_fmt_ep(s->family, &s->src, s->sport, a, sizeof(a)),
		 vf_fmt_ep(s->family, &s->dst, s->dport, b, sizeof(b)));
}

SOCCR_API int soccr_verdict_str(const struct soccr_verdict *vd, char *buf, size_t len)
{
	char flow[160], fl[9];

	if (!vd || !buf)
		return -EINVAL;
	vf_flow_str(&vd->seg, flow, sizeof(flow));
	vf_flags_str(vd->seg.flags, fl);
	return snprintf(buf, len, "%s [%s] seq %u ack %u: %s: %s%s%s%s", flow, fl, vd->seg.seq,
			vd->seg.ack, soccr_verdict_name(vd->kind), vd->reason,
			vd->hint[0] ? " (" : "", vd->hint, vd->hint[0] ? ")" : "");
}
