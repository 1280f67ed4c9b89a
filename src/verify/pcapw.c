// SPDX-License-Identifier: LGPL-2.1-or-later
/* The pcap file of what was injected and seen. */
#include "verify/vf.h"

/* Write the batch's captured packets and the never-seen frames, in time order. */
void vf_write_pcap(struct soccr_verifier *v, size_t from)
{
	size_t o = 0, i = from;

	if (!v->dumper)
		return;
	while (o < v->nobs || i < v->nseg) {
		struct seg *g = NULL;

		while (i < v->nseg && v->segs[i].exact_seen)
			i++;
		if (i < v->nseg)
			g = &v->segs[i];
		if (o < v->nobs && (!g || timercmp(&v->obs[o].h.ts, &g->ts, <))) {
			pcap_dump((u_char *)v->dumper, &v->obs[o].h, v->obuf + v->obs[o].off);
			o++;
		} else if (g) {
			/* As built, as an outgoing packet of its device. */
			unsigned char rec[SLL2_HDR_LEN + DEF_SNAPLEN];
			struct sll2_header *h = (struct sll2_header *)rec;
			const uint8_t *f = v->arena + g->frame_off;
			size_t l3 = g->frame_len - g->l3_off;
			struct pcap_pkthdr ph;

			memset(h, 0, sizeof(*h));
			h->sll2_protocol = htons(g->vd.seg.family == AF_INET ? 0x0800 : 0x86dd);
			h->sll2_if_index = htonl((uint32_t)g->vd.ifindex);
			h->sll2_hatype = htons(g->link == SOCCR_LINK_ETH ? 1 : 0xfffe);
			h->sll2_pkttype = PACKET_OUTGOING;
			if (g->link == SOCCR_LINK_ETH) {
				h->sll2_halen = SOCCR_ETH_ALEN;
				memcpy(h->sll2_addr, f + 6, SOCCR_ETH_ALEN);
			}
			ph.ts = g->ts;
			ph.len = (bpf_u_int32)(SLL2_HDR_LEN + l3);
			if (l3 > DEF_SNAPLEN)
				l3 = DEF_SNAPLEN;
			ph.caplen = (bpf_u_int32)(SLL2_HDR_LEN + l3);
			memcpy(rec + SLL2_HDR_LEN, f + g->l3_off, l3);
			pcap_dump((u_char *)v->dumper, &ph, rec);
			i++;
		}
	}
	if (pcap_dump_flush(v->dumper))
		pr_err("verify: writing the pcap file failed");
	v->nobs = 0;
	v->obuf_len = 0;
}
