// SPDX-License-Identifier: LGPL-2.1-or-later
/* The capture: the kernel filter, the flow set, the segment index, and matching captured packets.
 */
#include "verify/vf.h"

/* ---- the capture ------------------------------------------------------------------- */

static int filter_add_addr(char *buf, size_t len, size_t *used, int family, const void *addr,
			   bool first)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(family, addr, ip, sizeof(ip));
	n = snprintf(buf + *used, len - *used, "%shost %s", first ? "" : " or ", ip);
	if (n < 0 || (size_t)n >= len - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

/*
 * The filter text for the current flow set. Exact per-flow clauses up to
 * SOCCR_VERIFY_EXACT_FLOWS: classic BPF programs are limited to 4096
 * instructions and pcap_compile()'s optimiser grows fast with the number of
 * OR-ed clauses, so larger sets get the set of their addresses (user space
 * then matches 4-tuples).
 */
static int filter_text(struct soccr_verifier *v, char **out)
{
	size_t len = 256 + v->nflows * 200, used = 0;
	char *buf = malloc(len);
	int n;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	if (v->ifindex) {
		n = snprintf(buf + used, len - used, "ifindex %d and ", v->ifindex);
		used += (size_t)n;
	}
	if (!v->narrowed) {
		snprintf(buf + used, len - used, "tcp");
		*out = buf;
		return 0;
	}
	if (!v->nflows) {
		/* Nothing to verify yet: match nothing (compiled without the optimiser). */
		snprintf(buf + used, len - used, "tcp and not tcp");
		*out = buf;
		return 0;
	}
	n = snprintf(buf + used, len - used, "tcp and (");
	used += (size_t)n;
	if (v->nflows <= SOCCR_VERIFY_EXACT_FLOWS) {
		bool first = true;

		for (size_t i = 0; i < v->flow_cap; i++) {
			const struct fkey *k = &v->flows[i].k;
			char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

			if (!v->flows[i].used)
				continue;
			inet_ntop(k->family, k->a, a, sizeof(a));
			inet_ntop(k->family, k->b, b, sizeof(b));
			n = snprintf(buf + used, len - used,
				     "%s(host %s and host %s and port %u and port %u)",
				     first ? "" : " or ", a, b, k->pa, k->pb);
			used += (size_t)n;
			first = false;
		}
	} else {
		/* Distinct addresses, deduplicated by a linear scan of what is written. */
		uint8_t(*seen)[17] = calloc(MAX_FILTER_ADDRS, sizeof(*seen));
		size_t nseen = 0;
		bool too_many = false;

		if (!seen) {
			free(buf);
			return -ENOMEM;
		}
		for (size_t i = 0; i < v->flow_cap && !too_many; i++) {
			const struct fkey *k = &v->flows[i].k;

			if (!v->flows[i].used)
				continue;
			for (int side = 0; side < 2 && !too_many; side++) {
				uint8_t e[17];
				size_t j;

				e[0] = k->family;
				memcpy(e + 1, side ? k->b : k->a, 16);
				for (j = 0; j < nseen; j++)
					if (!memcmp(seen[j], e, sizeof(e)))
						break;
				if (j < nseen)
					continue;
				if (nseen == MAX_FILTER_ADDRS) {
					too_many = true;
					break;
				}
				memcpy(seen[nseen++], e, sizeof(e));
			}
		}
		if (too_many) {
			used -= strlen("tcp and (");
			snprintf(buf + used, len - used, "tcp");
			free(seen);
			*out = buf;
			return 0;
		}
		for (size_t j = 0; j < nseen; j++)
			if (filter_add_addr(buf, len, &used, seen[j][0], seen[j] + 1, j == 0)) {
				free(seen);
				free(buf);
				return -ENOSPC;
			}
		free(seen);
	}
	snprintf(buf + used, len - used, ")");
	*out = buf;
	return 0;
}

int vf_filter_apply(struct soccr_verifier *v)
{
	struct bpf_program prog;
	char *text = NULL;
	int err;

	if (!v->pc) {
		v->filter_dirty = false;
		return 0;
	}
	err = filter_text(v, &text);
	if (err)
		return err;
	/* The optimiser would reject the deliberately empty filter; others are small. */
	if (pcap_compile(v->pc, &prog, text, !(v->narrowed && !v->nflows), PCAP_NETMASK_UNKNOWN)) {
		pr_err("verify: pcap_compile '%.200s': %s", text, pcap_geterr(v->pc));
		free(text);
		return -EINVAL;
	}
	err = pcap_setfilter(v->pc, &prog) ? -EIO : 0;
	if (err)
		pr_err("verify: pcap_setfilter: %s", pcap_geterr(v->pc));
	else
		pr_dbg("verify: capture filter: %.300s", text);
	pcap_freecode(&prog);
	free(text);
	if (!err)
		v->filter_dirty = false;
	return err;
}

static int flow_find(const struct soccr_verifier *v, const struct fkey *k, size_t *slot)
{
	size_t mask, i;

	if (!v->flow_cap)
		return 0;
	mask = v->flow_cap - 1;
	for (i = vf_hash_bytes(k, sizeof(*k), 2166136261u) & mask;; i = (i + 1) & mask) {
		if (!v->flows[i].used) {
			*slot = i;
			return 0;
		}
		if (!memcmp(&v->flows[i].k, k, sizeof(*k))) {
			*slot = i;
			return 1;
		}
	}
}

/* Add k to the flow set; 1 if it was new, 0 if present, or -ENOMEM. */
int vf_flow_add(struct soccr_verifier *v, const struct fkey *k)
{
	size_t slot;

	if ((v->nflows + 1) * 2 > v->flow_cap) {
		size_t cap = v->flow_cap ? v->flow_cap * 2 : 64;
		struct flowent *old = v->flows, *n = calloc(cap, sizeof(*n));
		size_t ocap = v->flow_cap;

		if (!n)
			return -ENOMEM;
		v->flows = n;
		v->flow_cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].used) {
				flow_find(v, &old[i].k, &slot);
				v->flows[slot] = old[i];
			}
		free(old);
	}
	if (flow_find(v, k, &slot))
		return 0;
	v->flows[slot].k = *k;
	v->flows[slot].used = true;
	v->nflows++;
	return 1;
}

static void seg_index_rebuild(struct soccr_verifier *v)
{
	size_t mask = v->nbuckets - 1;

	for (size_t i = 0; i < v->nbuckets; i++)
		v->buckets[i] = -1;
	for (size_t i = 0; i < v->nseg; i++) {
		struct seg *s = &v->segs[i];

		s->next = v->buckets[s->hkey & mask];
		v->buckets[s->hkey & mask] = (int)i;
	}
}

int vf_seg_index_add(struct soccr_verifier *v, size_t i)
{
	if (v->nseg * 2 > v->nbuckets) {
		size_t nb = v->nbuckets ? v->nbuckets * 2 : 256;
		int *b = realloc(v->buckets, nb * sizeof(*b));

		if (!b)
			return -ENOMEM;
		v->buckets = b;
		v->nbuckets = nb;
		seg_index_rebuild(v); /* includes i */
		return 0;
	}
	v->segs[i].next = v->buckets[v->segs[i].hkey & (v->nbuckets - 1)];
	v->buckets[v->segs[i].hkey & (v->nbuckets - 1)] = (int)i;
	return 0;
}

/* Interface name in the verifier's netns (if_indextoname() would use the thread's). */
void vf_dev_name(struct soccr_verifier *v, int ifindex, char name[IF_NAMESIZE])
{
	struct ifreq ifr;

	/* One ioctl per device and batch, not per segment. */
	if (ifindex == v->name_cache_idx) {
		memcpy(name, v->name_cache, IF_NAMESIZE);
		return;
	}
	name[0] = '\0';
	if (v->ctl_fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = ifindex;
	if (!ioctl(v->ctl_fd, SIOCGIFNAME, &ifr))
		snprintf(name, IF_NAMESIZE, "%s", ifr.ifr_name);
	v->name_cache_idx = ifindex;
	memcpy(v->name_cache, name, IF_NAMESIZE);
}

static void keep_obs(struct soccr_verifier *v, const struct pcap_pkthdr *h, const u_char *bytes)
{
	if (!v->dumper)
		return;
	if (vf_grow((void **)&v->obs, &v->obs_cap, v->nobs + 1, sizeof(*v->obs)) ||
	    vf_grow((void **)&v->obuf, &v->obuf_cap, v->obuf_len + h->caplen, 1))
		return; /* out of memory: the file misses a packet, the verdicts do not */
	v->obs[v->nobs].h = *h;
	v->obs[v->nobs].off = v->obuf_len;
	memcpy(v->obuf + v->obuf_len, bytes, h->caplen);
	v->obuf_len += h->caplen;
	v->nobs++;
}

/* One captured packet (DLT_LINUX_SLL2). */
static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct soccr_verifier *v = (struct soccr_verifier *)user;
	const struct sll2_header *sll = (const struct sll2_header *)bytes;
	struct soccr_segment s;
	struct fkey k;
	const u_char *l3;
	size_t l3len, slot;
	uint8_t pkttype;
	int ifindex, best = -1, differ = -1;

	if (h->caplen < SLL2_HDR_LEN)
		return;
	ifindex = (int)ntohl(sll->sll2_if_index);
	if (v->ifindex && ifindex != v->ifindex)
		return;
	pkttype = sll->sll2_pkttype;
	l3 = bytes + SLL2_HDR_LEN;
	l3len = h->caplen - SLL2_HDR_LEN;
	if (soccr_pkt_parse(l3, l3len, SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &s))
		return; /* not TCP, or truncated by the snap length */
	vf_fkey_make(&k, s.family, &s.src, s.sport, &s.dst, s.dport);
	if (!flow_find(v, &k, &slot))
		return;
	keep_obs(v, h, bytes);
	if (!v->nbuckets)
		return;

	for (int i = v->buckets[vf_seg_hkey(&s) & (v->nbuckets - 1)]; i >= 0; i = v->segs[i].next) {
		struct seg *g = &v->segs[i];
		const uint8_t *f = v->arena + g->frame_off;
		size_t glen = g->frame_len - g->l3_off;
		bool same;

		if ((size_t)i < v->judged || !vf_seg_same_key(&g->vd.seg, &s))
			continue;
		same = glen == l3len && !memcmp(f + g->l3_off, l3, l3len);
		if (same && g->link == SOCCR_LINK_ETH) {
			/* The cooked header keeps the Ethernet type and the source address. */
			same = !memcmp(&sll->sll2_protocol, f + 12, 2) &&
			       (sll->sll2_halen != SOCCR_ETH_ALEN ||
				!memcmp(sll->sll2_addr, f + 6, SOCCR_ETH_ALEN));
		}
		if (!same) {
			if (differ < 0)
				differ = i;
			continue;
		}
		/* Duplicates of one frame: the first segment still missing this copy. */
		if (best < 0)
			best = i;
		if (pkttype == PACKET_OUTGOING ? !g->vd.seen_out : !g->vd.seen_in) {
			best = i;
			break;
		}
	}
	if (best >= 0) {
		struct seg *g = &v->segs[best];

		g->exact_seen = true;
		g->ip_csum_ok = s.ip_csum_ok;
		g->tcp_csum_ok = s.tcp_csum_ok;
		if (!s.ip_csum_ok || !s.tcp_csum_ok)
			g->csum_bad = true;
		if (pkttype == PACKET_OUTGOING) {
			g->vd.seen_out++;
		} else if (pkttype == PACKET_HOST) {
			if (!g->vd.seen_in++ && g->sent > 0 && v->pending_in)
				v->pending_in--;
		} else {
			g->vd.seen_other++;
		}
		if (!g->vd.ifindex) {
			g->vd.ifindex = ifindex;
			vf_dev_name(v, ifindex, g->vd.ifname);
		}
	} else if (differ >= 0) {
		struct seg *g = &v->segs[differ];
		const uint8_t *f = v->arena + g->frame_off + g->l3_off;
		size_t glen = g->frame_len - g->l3_off, n = glen < l3len ? glen : l3len, o = 0;

		while (o < n && f[o] == l3[o])
			o++;
		if (!g->bytes_differ || o > g->diff_off)
			g->diff_off = o;
		g->bytes_differ = true;
	}
}

void vf_drain(struct soccr_verifier *v)
{
	if (!v->pc)
		return;
	while (pcap_dispatch(v->pc, -1, on_packet, (u_char *)v) > 0)
		;
	v->since_drain = 0;
}
