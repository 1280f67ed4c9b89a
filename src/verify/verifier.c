// SPDX-License-Identifier: LGPL-2.1-or-later
/* Opening and closing a verifier, and the segments of a batch (expect, sent). */
#include "verify/vf.h"

/* ---- open/close -------------------------------------------------------------------- */

static int copy_opts(const struct soccr_verifier_opts *in, struct soccr_verifier_opts *out)
{
	return sc_opts_copy(out, sizeof(*out), in, in ? in->sz : 0,
			    offsetof(struct soccr_verifier_opts, ifname) + sizeof(in->ifname));
}

static int open_capture(struct soccr_verifier *v, unsigned int buffer_kb)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int rc;

	/*
	 * "any": the only device offering DLT_LINUX_SLL2, whose per-packet
	 * direction and interface index tell lo's two copies apart; the
	 * filter's "ifindex N" narrows it to one device when asked.
	 */
	v->pc = pcap_create("any", errbuf);
	if (!v->pc) {
		pr_err("verify: pcap_create: %s", errbuf);
		return -EIO;
	}
	if (pcap_set_snaplen(v->pc, (int)(v->snaplen + SLL2_HDR_LEN)) ||
	    pcap_set_immediate_mode(v->pc, 1) ||
	    pcap_set_buffer_size(v->pc, (int)(buffer_kb * 1024))) {
		pr_err("verify: pcap setup: %s", pcap_geterr(v->pc));
		return -EIO;
	}
	rc = pcap_activate(v->pc);
	if (rc < 0) {
		pr_err("verify: pcap_activate: %s", pcap_geterr(v->pc));
		return rc == PCAP_ERROR_PERM_DENIED ? -EPERM : -EIO;
	}
	if (pcap_set_datalink(v->pc, DLT_LINUX_SLL2)) {
		pr_err("verify: pcap_set_datalink(LINUX_SLL2): %s", pcap_geterr(v->pc));
		return -EIO;
	}
	if (pcap_setnonblock(v->pc, 1, errbuf)) {
		pr_err("verify: pcap_setnonblock: %s", errbuf);
		return -EIO;
	}
	v->pfd = pcap_get_selectable_fd(v->pc);
	if (v->pfd < 0) {
		pr_err("verify: capture has no selectable fd");
		return -EIO;
	}
	return vf_filter_apply(v);
}

SOCCR_API int soccr_verifier_open(const struct soccr_verifier_opts *opts,
				  struct soccr_verifier **out)
{
	struct soccr_verifier_opts o;
	struct soccr_verifier *v;
	FILE *f;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = copy_opts(opts, &o);
	if (err) {
		pr_err("verify: bad options (sz %zu)", opts ? opts->sz : (size_t)0);
		return err;
	}
	if ((o.ifname && (!*o.ifname || strlen(o.ifname) >= IF_NAMESIZE)) || o.ifindex < 0 ||
	    (o.flags & ~(SOCCR_VERIFY_NO_CAPTURE | SOCCR_VERIFY_NO_LINGER))) {
		pr_err("verify: bad options (interface or flags)");
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->mu, NULL);
	v->pfd = v->diag_fd = v->ctl_fd = v->snmp_fd = v->netstat_fd = -1;
	v->timeout_ms = o.timeout_ms ? o.timeout_ms : DEF_TIMEOUT_MS;
	v->snaplen = o.snaplen ? o.snaplen : DEF_SNAPLEN;
	v->linger_ms = (o.flags & SOCCR_VERIFY_NO_LINGER) ? 0
		       : o.linger_ms			  ? o.linger_ms
							  : DEF_LINGER_MS;
	v->lock = o.lock;
	/* Everything bound to a netns is opened now, in the caller's (see verify.h). */
	v->ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v->snmp_fd = open("/proc/thread-self/net/snmp", O_RDONLY | O_CLOEXEC);
	v->netstat_fd = open("/proc/thread-self/net/netstat", O_RDONLY | O_CLOEXEC);
	v->diag_fd = sc_diag_open();
	if (v->diag_fd < 0) {
		err = v->diag_fd;
		goto fail;
	}
	if (o.ifname) {
		v->ifindex = (int)if_nametoindex(o.ifname);
		if (!v->ifindex) {
			err = -ENODEV;
			pr_err("verify: interface %s: %s", o.ifname, strerror(ENODEV));
			goto fail;
		}
	} else {
		v->ifindex = o.ifindex;
	}
	if (v->ifindex && !if_indextoname((unsigned int)v->ifindex, v->ifname)) {
		err = -ENODEV;
		pr_err("verify: interface index %d: %s", v->ifindex, strerror(ENODEV));
		goto fail;
	}
	if (o.pcap_path) {
		if (o.flags & SOCCR_VERIFY_NO_CAPTURE) {
			pr_err("verify: a pcap file needs the capture");
			err = -EINVAL;
			goto fail;
		}
		v->dead = pcap_open_dead(DLT_LINUX_SLL2, (int)(v->snaplen + SLL2_HDR_LEN));
		if (!v->dead) {
			err = -ENOMEM;
			goto fail;
		}
		f = sc_create_private(o.pcap_path, &err);
		if (!f) {
			const char *why = sc_create_private_why(err);

			pr_err("verify: pcap file %s: %s", o.pcap_path, why ? why : strerror(-err));
			goto fail;
		}
		v->dumper = pcap_dump_fopen(v->dead, f);
		if (!v->dumper) {
			pr_err("verify: pcap file %s: %s", o.pcap_path, pcap_geterr(v->dead));
			fclose(f);
			err = -EIO;
			goto fail;
		}
	}
	/*
	 * All TCP until a flow set is given: a restore driven through the hook
	 * announces its flows only after each send, and user space matches
	 * 4-tuples anyway.
	 */
	v->narrowed = false;
	if (!(o.flags & SOCCR_VERIFY_NO_CAPTURE)) {
		err = open_capture(v, o.buffer_kb ? o.buffer_kb : DEF_BUFFER_KB);
		if (err)
			goto fail;
	}
	*out = v;
	return 0;
fail:
	soccr_verifier_close(v);
	return err;
}

SOCCR_API void soccr_verifier_close(struct soccr_verifier *v)
{
	if (!v)
		return;
	if (v->dumper)
		pcap_dump_close(v->dumper);
	if (v->dead)
		pcap_close(v->dead);
	if (v->pc)
		pcap_close(v->pc);
	if (v->diag_fd >= 0)
		close(v->diag_fd);
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	if (v->snmp_fd >= 0)
		close(v->snmp_fd);
	if (v->netstat_fd >= 0)
		close(v->netstat_fd);
	free(v->segs);
	free(v->arena);
	free(v->buckets);
	free(v->flows);
	free(v->obs);
	free(v->obuf);
	free(v->lock_before);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* ---- batches ----------------------------------------------------------------------- */

static void lock_snapshot(struct soccr_verifier *v)
{
	if (!v->lock || v->lock_snap)
		return;
	free(v->lock_before);
	v->lock_before = NULL;
	v->nlock_before = 0;
	if (soccr_lock_list(v->lock, &v->lock_before, &v->nlock_before))
		v->nlock_before = 0;
	v->lock_snap = true;
}

/* Start-of-batch baselines for the hints. */
static void batch_baselines(struct soccr_verifier *v)
{
	struct pcap_stat st;

	if (v->lock_snap)
		return;
	lock_snapshot(v);
	v->lock_snap = true;
	vf_mib_read(v, &v->mib_before);
	if (v->pc && !pcap_stats(v->pc, &st))
		v->pcap_drops_before = st.ps_drop;
}

SOCCR_API int soccr_verifier_set_flows(struct soccr_verifier *v, const struct soccr_flow *flows,
				       size_t n)
{
	int err = 0;

	if (!v || (n && !flows))
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	/* Packets of the previous flow set still in the ring belong to it: match them first. */
	vf_drain(v);
	if (v->flows)
		memset(v->flows, 0, v->flow_cap * sizeof(*v->flows));
	v->nflows = 0;
	v->narrowed = n || flows;
	for (size_t i = 0; i < n; i++) {
		struct fkey k;

		if (flows[i].family != AF_INET && flows[i].family != AF_INET6) {
			err = -EINVAL;
			goto out;
		}
		vf_fkey_make(&k, flows[i].family, &flows[i].saddr, flows[i].sport, &flows[i].daddr,
			     flows[i].dport);
		err = vf_flow_add(v, &k);
		if (err < 0)
			goto out;
		err = 0;
	}
	/* Segments still being judged keep their flows. */
	for (size_t i = v->judged; i < v->nseg; i++) {
		const struct soccr_segment *s = &v->segs[i].vd.seg;
		struct fkey k;

		vf_fkey_make(&k, s->family, &s->src, s->sport, &s->dst, s->dport);
		if (vf_flow_add(v, &k) < 0) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = vf_filter_apply(v);
	batch_baselines(v);
out:
	pthread_mutex_unlock(&v->mu);
	return err;
}

int vf_expect_locked(struct soccr_verifier *v, const void *frame, size_t len, enum soccr_link link,
		     int ifindex, int fd, unsigned int checks, int state, bool before)
{
	struct soccr_segment s;
	struct seg *g;
	struct fkey k;
	size_t i;
	int err;

	err = soccr_pkt_parse(frame, len, link, SOCCR_PARSE_NOCSUM, &s);
	if (err) {
		pr_err("verify: the frame to verify does not parse: %s", strerror(-err));
		return err;
	}
	if (vf_grow((void **)&v->segs, &v->seg_cap, v->nseg + 1, sizeof(*v->segs)) ||
	    vf_grow((void **)&v->arena, &v->arena_cap, v->arena_len + len, 1))
		return -ENOMEM;
	if (!v->nseg || v->judged == v->nseg)
		batch_baselines(v);
	i = v->nseg;
	g = &v->segs[i];
	memset(g, 0, sizeof(*g));
	memcpy(v->arena + v->arena_len, frame, len);
	g->frame_off = v->arena_len;
	g->frame_len = (uint32_t)len;
	g->l3_off = (uint32_t)s.l3_off;
	g->link = link;
	g->fd = fd;
	g->hkey = vf_seg_hkey(&s);
	gettimeofday(&g->ts, NULL);
	s.payload = NULL;
	g->vd.seg = s;
	g->vd.ifindex = ifindex;
	g->ip_csum_ok = s.ip_csum_ok;
	g->tcp_csum_ok = s.tcp_csum_ok;
	if (ifindex)
		vf_dev_name(v, ifindex, g->vd.ifname);
	if (before) {
		/* Repair-mode queues are read afterwards only: the segment itself says where
		 * rcv_nxt must be. */
		if (fd >= 0)
			vf_read_local(fd, false, false, &g->vd.before);
		else if (vf_read_diag(v, &s, &g->vd.before))
			memset(&g->vd.before, 0, sizeof(g->vd.before));
	}
	vf_derive(g, checks ? checks : SOCCR_VERIFY_CHECK_AUTO, state);
	v->arena_len += len;
	v->nseg++;
	err = vf_seg_index_add(v, i);
	if (err) {
		v->nseg--;
		return err;
	}
	vf_fkey_make(&k, s.family, &s.src, s.sport, &s.dst, s.dport);
	err = vf_flow_add(v, &k);
	if (err < 0)
		return err;
	if (err > 0 && v->narrowed) {
		err = vf_filter_apply(v);
		if (err)
			return err;
	}
	if (v->snaplen < len - s.l3_off)
		pr_dbg("verify: frame of %zu bytes above the snap length %u: it will not be "
		       "matched",
		       len, v->snaplen);
	return (int)i;
}

SOCCR_API int soccr_verifier_expect(struct soccr_verifier *v, const void *frame, size_t len,
				    enum soccr_link link, int ifindex,
				    const struct soccr_verify_expect *exp)
{
	struct soccr_verify_expect e = {.sz = sizeof(e), .fd = -1};
	int ret;

	if (!v || !frame || (link != SOCCR_LINK_NONE && link != SOCCR_LINK_ETH) || ifindex < 0)
		return -EINVAL;
	if (exp) {
		if (exp->sz < offsetof(struct soccr_verify_expect, checks) + sizeof(exp->checks))
			return -EINVAL;
		e.fd = exp->fd;
		e.state = exp->state;
		e.checks = exp->checks;
	}
	if (e.checks & ~(SOCCR_VERIFY_CHECK_RCV | SOCCR_VERIFY_CHECK_ACK | SOCCR_VERIFY_CHECK_AUTO |
			 SOCCR_VERIFY_PRECISE))
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	ret = vf_expect_locked(v, frame, len, link, ifindex, e.fd < 0 ? -1 : e.fd,
			       e.checks & ~SOCCR_VERIFY_PRECISE, e.state, true);
	if (ret >= 0)
		v->segs[ret].precise = e.checks & SOCCR_VERIFY_PRECISE;
	pthread_mutex_unlock(&v->mu);
	return ret;
}

void vf_sent_locked(struct soccr_verifier *v, struct seg *g, int err)
{
	if (g->sent)
		return;
	g->sent = err ? -1 : 1;
	g->vd.send_err = err;
	if (!err && !g->vd.seen_in)
		v->pending_in++;
	if (v->pc && ++v->since_drain >= DRAIN_EVERY)
		vf_drain(v);
}

SOCCR_API int soccr_verifier_sent(struct soccr_verifier *v, int id, int err)
{
	if (!v || id < 0 || err > 0)
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	if ((size_t)id >= v->nseg || (size_t)id < v->judged) {
		pthread_mutex_unlock(&v->mu);
		return -EINVAL;
	}
	vf_sent_locked(v, &v->segs[id], err);
	pthread_mutex_unlock(&v->mu);
	return 0;
}
