// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * TCP segment builder and strict parser: Ethernet (one 802.1Q tag when
 * parsing), IPv4 (RFC 791) or IPv6 (RFC 8200), TCP (RFC 9293) with the
 * options of RFC 6691 (MSS), RFC 7323 (window scale, timestamps) and RFC 2018
 * (SACK-permitted).
 *
 * Headers are read and written byte by byte (get16/put16...), so nothing
 * depends on the alignment of the caller's buffer, and every read is preceded
 * by a length check against what the caller said the buffer holds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <soccr/packet.h>

#include "internal.h"

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_IPV6 0x86dd
#define ETH_TYPE_VLAN 0x8100 /* IEEE 802.1Q */
#define VLAN_HLEN     4
#define VLAN_VID_MASK 0x0fff

#define IPV4_HLEN      20
#define IPV4_MAXLEN    65535
#define IPV4_DF	       0x4000
#define IPV4_MF	       0x2000
#define IPV4_OFFMASK   0x1fff
#define IPV6_HLEN      40
#define IPV6_MAXPLEN   65535
#define IP_DEFAULT_TTL 64
#define IPPROTO_TCP_   6

/* IPv6 extension headers the parser steps over (RFC 8200 section 4). */
#define IPV6_EXT_HOPOPTS  0
#define IPV6_EXT_ROUTING  43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_DSTOPTS  60
#define IPV6_FRAG_HLEN	  8
#define IPV6_FRAG_MF	  0x0001

#define TCP_HLEN     20
#define TCP_MAX_HLEN 60

/* TCP option kinds and lengths. */
#define TCPOPT_EOL	  0
#define TCPOPT_NOP	  1
#define TCPOPT_MSS	  2
#define TCPOLEN_MSS	  4
#define TCPOPT_WSCALE	  3
#define TCPOLEN_WSCALE	  3
#define TCPOPT_SACK_PERM  4
#define TCPOLEN_SACK_PERM 2
#define TCPOPT_TS	  8
#define TCPOLEN_TS	  10

#define SOCCR_OPT_ALL (SOCCR_OPT_MSS | SOCCR_OPT_WSCALE | SOCCR_OPT_SACK_OK | SOCCR_OPT_TS)

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* ---- checksums over the pseudo-headers ------------------------------------------------ */

/* One's-complement sum of the pseudo-header (RFC 9293 3.1, RFC 8200 8.1). */
static uint32_t pseudo_sum(int family, const union soccr_inaddr *src, const union soccr_inaddr *dst,
			   size_t tcp_len)
{
	uint8_t ph[40];

	if (family == AF_INET) {
		memcpy(ph, &src->v4, 4);
		memcpy(ph + 4, &dst->v4, 4);
		ph[8] = 0;
		ph[9] = IPPROTO_TCP_;
		put16(ph + 10, (uint16_t)tcp_len);
		return soccr_csum_partial(ph, 12, 0);
	}
	memcpy(ph, &src->v6, 16);
	memcpy(ph + 16, &dst->v6, 16);
	put32(ph + 32, (uint32_t)tcp_len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = IPPROTO_TCP_;
	return soccr_csum_partial(ph, 40, 0);
}

/* ---- builder -------------------------------------------------------------------------- */

/*
 * Option layout, as Linux lays out a SYN (tcp_options_write()): every option
 * starts its own 32-bit word, so the timestamps are 4-byte aligned for the
 * receiver's fast path. It is also as compact as any layout can be: all four
 * options need 19 bytes, rounded up to 20 here.
 *   MSS:             2 4 mss mss
 *   TS (+SACK_OK):   4 2 8 10 val*4 ecr*4      (without SACK_OK: 1 1 8 10 ...)
 *   SACK_OK alone:   1 1 4 2
 *   WSCALE:          1 3 3 ws
 * Every piece is a multiple of 4 bytes, so no trailing EOL padding is needed.
 */
static size_t opts_len(unsigned int opts)
{
	size_t n = 0;

	if (opts & SOCCR_OPT_MSS)
		n += 4;
	if (opts & SOCCR_OPT_TS)
		n += 12;
	else if (opts & SOCCR_OPT_SACK_OK)
		n += 4;
	if (opts & SOCCR_OPT_WSCALE)
		n += 4;
	return n;
}

static uint8_t *write_opts(const struct soccr_segment *seg, uint8_t *p)
{
	if (seg->opts & SOCCR_OPT_MSS) {
		*p++ = TCPOPT_MSS;
		*p++ = TCPOLEN_MSS;
		put16(p, seg->mss);
		p += 2;
	}
	if (seg->opts & SOCCR_OPT_TS) {
		if (seg->opts & SOCCR_OPT_SACK_OK) {
			*p++ = TCPOPT_SACK_PERM;
			*p++ = TCPOLEN_SACK_PERM;
		} else {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_NOP;
		}
		*p++ = TCPOPT_TS;
		*p++ = TCPOLEN_TS;
		put32(p, seg->ts_val);
		put32(p + 4, seg->ts_ecr);
		p += 8;
	} else if (seg->opts & SOCCR_OPT_SACK_OK) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_SACK_PERM;
		*p++ = TCPOLEN_SACK_PERM;
	}
	if (seg->opts & SOCCR_OPT_WSCALE) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_WSCALE;
		*p++ = TCPOLEN_WSCALE;
		*p++ = seg->wscale;
	}
	return p;
}

SOCCR_API ssize_t soccr_pkt_len(const struct soccr_segment *seg, enum soccr_link link)
{
	size_t l2, l4;

	if (!seg) {
		pr_err("packet: no segment");
		return -EINVAL;
	}
	if (link != SOCCR_LINK_NONE && link != SOCCR_LINK_ETH) {
		pr_err("packet: unknown link type %d", (int)link);
		return -EINVAL;
	}
	if (seg->family != AF_INET && seg->family != AF_INET6) {
		pr_err("packet: address family %d is neither AF_INET nor AF_INET6", seg->family);
		return -EINVAL;
	}
	if (seg->opts & ~SOCCR_OPT_ALL) {
		pr_err("packet: unknown option bits 0x%x", seg->opts & ~SOCCR_OPT_ALL);
		return -EINVAL;
	}
	if (seg->payload_len && !seg->payload) {
		pr_err("packet: %zu payload bytes but no payload pointer", seg->payload_len);
		return -EINVAL;
	}
	l2 = link == SOCCR_LINK_ETH ? SOCCR_ETH_HLEN : 0;
	l4 = TCP_HLEN + opts_len(seg->opts);
	/* Compare by subtraction: payload_len may be anything a size_t holds. */
	if (seg->family == AF_INET) {
		if (seg->payload_len > IPV4_MAXLEN - IPV4_HLEN - l4) {
			pr_err("packet: %zu payload bytes exceed the IPv4 total length limit",
			       seg->payload_len);
			return -EINVAL;
		}
		return (ssize_t)(l2 + IPV4_HLEN + l4 + seg->payload_len);
	}
	if (seg->payload_len > IPV6_MAXPLEN - l4) {
		pr_err("packet: %zu payload bytes exceed the IPv6 payload length limit",
		       seg->payload_len);
		return -EINVAL;
	}
	return (ssize_t)(l2 + IPV6_HLEN + l4 + seg->payload_len);
}

SOCCR_API ssize_t soccr_pkt_build(const struct soccr_segment *seg, enum soccr_link link, void *buf,
				  size_t len)
{
	size_t l4_len, ip_len;
	uint8_t *p = buf, *ip, *tcp, *o;
	uint16_t csum;
	ssize_t total;

	total = soccr_pkt_len(seg, link);
	if (total < 0)
		return total;
	if ((size_t)total > len || !buf) {
		pr_err("packet: a %zd-byte frame does not fit in %zu bytes", total, len);
		return -ENOSPC;
	}

	if (link == SOCCR_LINK_ETH) {
		memcpy(p, seg->eth_dst, SOCCR_ETH_ALEN);
		memcpy(p + SOCCR_ETH_ALEN, seg->eth_src, SOCCR_ETH_ALEN);
		put16(p + 2 * SOCCR_ETH_ALEN,
		      seg->family == AF_INET ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6);
		p += SOCCR_ETH_HLEN;
	}

	ip = p;
	l4_len = TCP_HLEN + opts_len(seg->opts) + seg->payload_len;
	if (seg->family == AF_INET) {
		ip_len = IPV4_HLEN;
		ip[0] = 0x45; /* version 4, IHL 5 */
		ip[1] = 0;    /* DSCP/ECN */
		put16(ip + 2, (uint16_t)(IPV4_HLEN + l4_len));
		put16(ip + 4, seg->ip_id);
		put16(ip + 6, seg->df ? IPV4_DF : 0);
		ip[8] = seg->ttl ? seg->ttl : IP_DEFAULT_TTL;
		ip[9] = IPPROTO_TCP_;
		ip[10] = ip[11] = 0;
		memcpy(ip + 12, &seg->src.v4, 4);
		memcpy(ip + 16, &seg->dst.v4, 4);
		csum = soccr_csum(ip, IPV4_HLEN);
		memcpy(ip + 10, &csum, 2);
	} else {
		ip_len = IPV6_HLEN;
		put32(ip, 6u << 28); /* version 6, traffic class 0, flow label 0 */
		put16(ip + 4, (uint16_t)l4_len);
		ip[6] = IPPROTO_TCP_;
		ip[7] = seg->ttl ? seg->ttl : IP_DEFAULT_TTL;
		memcpy(ip + 8, &seg->src.v6, 16);
		memcpy(ip + 24, &seg->dst.v6, 16);
	}

	tcp = ip + ip_len;
	put16(tcp, seg->sport);
	put16(tcp + 2, seg->dport);
	put32(tcp + 4, seg->seq);
	put32(tcp + 8, seg->ack);
	tcp[12] = (uint8_t)(((TCP_HLEN + opts_len(seg->opts)) / 4) << 4);
	tcp[13] = seg->flags;
	put16(tcp + 14, seg->window);
	tcp[16] = tcp[17] = 0;
	put16(tcp + 18, (seg->flags & SOCCR_TCP_URG) ? seg->urg_ptr : 0);
	o = write_opts(seg, tcp + TCP_HLEN);
	if (seg->payload_len)
		memmove(o, seg->payload, seg->payload_len);

	csum = soccr_csum_fold(soccr_csum_partial(
		tcp, l4_len, pseudo_sum(seg->family, &seg->src, &seg->dst, l4_len)));
	memcpy(tcp + 16, &csum, 2);
	return total;
}

/*
 * Where the TCP header of a frame built by soccr_pkt_build() is, checking
 * only what the builder guarantees (no checksum pass: that would defeat the
 * point of an incremental update). Returns the offset or -EBADMSG.
 */
static ssize_t built_tcp_off(const uint8_t *p, size_t len, enum soccr_link link)
{
	size_t off = 0;
	int version;

	if (link == SOCCR_LINK_ETH) {
		if (len < SOCCR_ETH_HLEN)
			return -EBADMSG;
		switch (get16(p + 2 * SOCCR_ETH_ALEN)) {
		case ETH_TYPE_IPV4:
			version = 4;
			break;
		case ETH_TYPE_IPV6:
			version = 6;
			break;
		default:
			return -EBADMSG;
		}
		off = SOCCR_ETH_HLEN;
	} else if (link == SOCCR_LINK_NONE) {
		if (len < 1)
			return -EBADMSG;
		version = p[0] >> 4;
	} else {
		return -EBADMSG;
	}

	if (version == 4) {
		if (len - off < IPV4_HLEN || p[off] != 0x45 || p[off + 9] != IPPROTO_TCP_ ||
		    get16(p + off + 2) > len - off || get16(p + off + 2) < IPV4_HLEN + TCP_HLEN)
			return -EBADMSG;
		off += IPV4_HLEN;
	} else if (version == 6) {
		if (len - off < IPV6_HLEN || p[off] >> 4 != 6 || p[off + 6] != IPPROTO_TCP_ ||
		    get16(p + off + 4) > len - off - IPV6_HLEN || get16(p + off + 4) < TCP_HLEN)
			return -EBADMSG;
		off += IPV6_HLEN;
	} else {
		return -EBADMSG;
	}
	return (ssize_t)off;
}

SOCCR_API int soccr_pkt_set_seq_ack(void *frame, size_t len, enum soccr_link link, uint32_t seq,
				    uint32_t ack)
{
	uint8_t *p = frame;
	uint32_t old_seq, old_ack, new_seq = htonl(seq), new_ack = htonl(ack);
	uint16_t csum;
	ssize_t off;

	if (!frame)
		return -EBADMSG;
	off = built_tcp_off(p, len, link);
	if (off < 0) {
		pr_err("packet: set seq/ack: not a frame this library builds (%zu bytes)", len);
		return (int)off;
	}
	p += off;
	/* Values and checksum stay in network order: RFC 1071's byte-order independence. */
	memcpy(&old_seq, p + 4, 4);
	memcpy(&old_ack, p + 8, 4);
	memcpy(&csum, p + 16, 2);
	csum = soccr_csum_update32(csum, old_seq, new_seq);
	csum = soccr_csum_update32(csum, old_ack, new_ack);
	memcpy(p + 4, &new_seq, 4);
	memcpy(p + 8, &new_ack, 4);
	memcpy(p + 16, &csum, 2);
	return 0;
}

/* ---- parser --------------------------------------------------------------------------- */

static int parse_opts(const uint8_t *o, size_t n, struct soccr_segment *seg)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], olen;

		if (kind == TCPOPT_EOL)
			break; /* what follows is padding (RFC 9293 3.2) */
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2) {
			pr_dbg("packet: TCP option %u has no length byte", kind);
			return -EBADMSG;
		}
		olen = o[i + 1];
		if (olen < 2 || olen > n - i) {
			pr_dbg("packet: TCP option %u: length %u with %zu bytes left", kind, olen,
			       n - i);
			return -EBADMSG;
		}
		switch (kind) {
		case TCPOPT_MSS:
			if (olen != TCPOLEN_MSS)
				goto bad_len;
			seg->opts |= SOCCR_OPT_MSS;
			seg->mss = get16(o + i + 2);
			break;
		case TCPOPT_WSCALE:
			if (olen != TCPOLEN_WSCALE)
				goto bad_len;
			seg->opts |= SOCCR_OPT_WSCALE;
			seg->wscale = o[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			if (olen != TCPOLEN_SACK_PERM)
				goto bad_len;
			seg->opts |= SOCCR_OPT_SACK_OK;
			break;
		case TCPOPT_TS:
			if (olen != TCPOLEN_TS)
				goto bad_len;
			seg->opts |= SOCCR_OPT_TS;
			seg->ts_val = get32(o + i + 2);
			seg->ts_ecr = get32(o + i + 6);
			break;
		default:
			break; /* unknown kinds (SACK blocks, MD5, AO, ...) skipped by length */
		}
		i += olen;
		continue;
	bad_len:
		pr_dbg("packet: TCP option %u has length %u", kind, olen);
		return -EBADMSG;
	}
	return 0;
}

/* IPv4 header at p[0..rem): fills seg, *l4 and *l4_len (offsets relative to p). */
static int parse_ipv4(const uint8_t *p, size_t rem, unsigned int flags, struct soccr_segment *seg,
		      size_t *l4, size_t *l4_len)
{
	size_t ihl, tot;
	uint16_t frag;

	if (rem < IPV4_HLEN) {
		pr_dbg("packet: IPv4 header truncated (%zu bytes)", rem);
		return -EBADMSG;
	}
	if (p[0] >> 4 != 4) {
		pr_dbg("packet: IP version %u where IPv4 was expected", p[0] >> 4);
		return -EBADMSG;
	}
	ihl = (size_t)(p[0] & 0xf) * 4;
	tot = get16(p + 2);
	if (ihl < IPV4_HLEN || tot < ihl || tot > rem) {
		pr_dbg("packet: IPv4 IHL %zu, total length %zu, %zu bytes captured", ihl, tot, rem);
		return -EBADMSG;
	}
	seg->ip_csum_ok = soccr_csum(p, ihl) == 0;
	if (!seg->ip_csum_ok && !(flags & SOCCR_PARSE_NOCSUM)) {
		pr_dbg("packet: bad IPv4 header checksum");
		return -EBADMSG;
	}
	frag = get16(p + 6);
	if (frag & (IPV4_MF | IPV4_OFFMASK)) {
		pr_dbg("packet: IPv4 fragment (offset %u%s)", (frag & IPV4_OFFMASK) * 8,
		       frag & IPV4_MF ? ", more" : "");
		return -EPROTONOSUPPORT;
	}
	if (p[9] != IPPROTO_TCP_) {
		pr_dbg("packet: IPv4 protocol %u is not TCP", p[9]);
		return -EPROTONOSUPPORT;
	}
	seg->family = AF_INET;
	seg->ip_id = get16(p + 4);
	seg->df = !!(frag & IPV4_DF);
	seg->ttl = p[8];
	memcpy(&seg->src.v4, p + 12, 4);
	memcpy(&seg->dst.v4, p + 16, 4);
	*l4 = ihl;
	*l4_len = tot - ihl;
	return 0;
}

/* IPv6 header and extension headers at p[0..rem). */
static int parse_ipv6(const uint8_t *p, size_t rem, struct soccr_segment *seg, size_t *l4,
		      size_t *l4_len)
{
	size_t off = IPV6_HLEN, end;
	uint8_t nh;

	if (rem < IPV6_HLEN) {
		pr_dbg("packet: IPv6 header truncated (%zu bytes)", rem);
		return -EBADMSG;
	}
	if (p[0] >> 4 != 6) {
		pr_dbg("packet: IP version %u where IPv6 was expected", p[0] >> 4);
		return -EBADMSG;
	}
	/* A payload length of 0 with a jumbo option (RFC 2675) is not supported: too short. */
	end = IPV6_HLEN + (size_t)get16(p + 4);
	if (end > rem) {
		pr_dbg("packet: IPv6 payload length %zu, %zu bytes captured", end - IPV6_HLEN,
		       rem - IPV6_HLEN);
		return -EBADMSG;
	}
	nh = p[6];
	while (nh != IPPROTO_TCP_) {
		size_t hlen;

		if (nh != IPV6_EXT_HOPOPTS && nh != IPV6_EXT_ROUTING && nh != IPV6_EXT_DSTOPTS &&
		    nh != IPV6_EXT_FRAGMENT) {
			pr_dbg("packet: IPv6 next header %u is not TCP", nh);
			return -EPROTONOSUPPORT;
		}
		/* Every extension header is at least 8 bytes: this bounds the loop. */
		if (end - off < 8) {
			pr_dbg("packet: IPv6 extension header %u truncated", nh);
			return -EBADMSG;
		}
		/* RFC 8200 4.1: hop-by-hop options only right after the IPv6 header. */
		if (nh == IPV6_EXT_HOPOPTS && off != IPV6_HLEN) {
			pr_dbg("packet: IPv6 hop-by-hop header not first");
			return -EBADMSG;
		}
		if (nh == IPV6_EXT_FRAGMENT) {
			uint16_t fo = get16(p + off + 2);

			/* Only an atomic fragment (offset 0, no M flag; RFC 6946) is whole. */
			if (fo & ~7u || fo & IPV6_FRAG_MF) {
				pr_dbg("packet: IPv6 fragment (offset %u%s)", (fo >> 3) * 8,
				       fo & IPV6_FRAG_MF ? ", more" : "");
				return -EPROTONOSUPPORT;
			}
			hlen = IPV6_FRAG_HLEN;
		} else {
			hlen = ((size_t)p[off + 1] + 1) * 8;
			/*
			 * Segments left != 0: the packet is still on its source route and
			 * the pseudo-header would need the final destination from the
			 * routing header (RFC 8200 8.1); not addressed to us yet.
			 */
			if (nh == IPV6_EXT_ROUTING && p[off + 3] != 0) {
				pr_dbg("packet: IPv6 routing header with %u segments left",
				       p[off + 3]);
				return -EPROTONOSUPPORT;
			}
		}
		if (hlen > end - off) {
			pr_dbg("packet: IPv6 extension header %u (%zu bytes) truncated", nh, hlen);
			return -EBADMSG;
		}
		nh = p[off];
		off += hlen;
	}
	seg->family = AF_INET6;
	seg->ttl = p[7];
	seg->ip_csum_ok = true; /* IPv6 has no header checksum */
	memcpy(&seg->src.v6, p + 8, 16);
	memcpy(&seg->dst.v6, p + 24, 16);
	*l4 = off;
	*l4_len = end - off;
	return 0;
}

SOCCR_API int soccr_pkt_parse(const void *frame, size_t len, enum soccr_link link,
			      unsigned int flags, struct soccr_segment *seg)
{
	const uint8_t *p = frame, *t;
	size_t off = 0, l4 = 0, l4_len = 0, doff;
	int version, ret;

	if (!seg || (!frame && len) || (flags & ~SOCCR_PARSE_NOCSUM))
		return -EINVAL;
	memset(seg, 0, sizeof(*seg));

	if (link == SOCCR_LINK_ETH) {
		uint16_t type;

		if (len < SOCCR_ETH_HLEN) {
			pr_dbg("packet: Ethernet header truncated (%zu bytes)", len);
			return -EBADMSG;
		}
		memcpy(seg->eth_dst, p, SOCCR_ETH_ALEN);
		memcpy(seg->eth_src, p + SOCCR_ETH_ALEN, SOCCR_ETH_ALEN);
		type = get16(p + 2 * SOCCR_ETH_ALEN);
		off = SOCCR_ETH_HLEN;
		if (type == ETH_TYPE_VLAN) {
			if (len - off < VLAN_HLEN) {
				pr_dbg("packet: 802.1Q tag truncated");
				return -EBADMSG;
			}
			seg->vlan = true;
			seg->vlan_id = get16(p + off) & VLAN_VID_MASK;
			type = get16(p + off + 2);
			off += VLAN_HLEN;
		}
		if (type == ETH_TYPE_IPV4) {
			version = 4;
		} else if (type == ETH_TYPE_IPV6) {
			version = 6;
		} else {
			pr_dbg("packet: ethertype 0x%04x is not IP", type);
			return -EPROTONOSUPPORT;
		}
	} else if (link == SOCCR_LINK_NONE) {
		if (len < 1) {
			pr_dbg("packet: empty");
			return -EBADMSG;
		}
		version = p[0] >> 4;
	} else {
		return -EINVAL;
	}

	seg->l3_off = off;
	if (version == 4) {
		ret = parse_ipv4(p + off, len - off, flags, seg, &l4, &l4_len);
	} else if (version == 6) {
		ret = parse_ipv6(p + off, len - off, seg, &l4, &l4_len);
	} else {
		pr_dbg("packet: IP version %d", version);
		ret = -EBADMSG;
	}
	if (ret)
		return ret;
	l4 += off;

	if (l4_len < TCP_HLEN) {
		pr_dbg("packet: TCP header truncated (%zu bytes)", l4_len);
		return -EBADMSG;
	}
	t = p + l4;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > l4_len) {
		pr_dbg("packet: TCP data offset %zu with %zu bytes of segment", doff, l4_len);
		return -EBADMSG;
	}
	ret = parse_opts(t + TCP_HLEN, doff - TCP_HLEN, seg);
	if (ret)
		return ret;
	seg->sport = get16(t);
	seg->dport = get16(t + 2);
	seg->seq = get32(t + 4);
	seg->ack = get32(t + 8);
	seg->flags = t[13];
	seg->window = get16(t + 14);
	seg->urg_ptr = get16(t + 18);
	seg->l4_off = l4;
	seg->tcp_hlen = (uint8_t)doff;
	seg->payload = t + doff;
	seg->payload_len = l4_len - doff;

	seg->tcp_csum_ok =
		soccr_csum_fold(soccr_csum_partial(
			t, l4_len, pseudo_sum(seg->family, &seg->src, &seg->dst, l4_len))) == 0;
	if (!seg->tcp_csum_ok && !(flags & SOCCR_PARSE_NOCSUM)) {
		pr_dbg("packet: bad TCP checksum");
		return -EBADMSG;
	}
	return 0;
}

/* ---- formatting ----------------------------------------------------------------------- */

static void fmt_addr(const struct soccr_segment *seg, const union soccr_inaddr *a, uint16_t port,
		     char *out, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	if (seg->family == AF_INET) {
		inet_ntop(AF_INET, &a->v4, s, sizeof(s));
		snprintf(out, len, "%s:%u", s, port);
	} else if (seg->family == AF_INET6) {
		inet_ntop(AF_INET6, &a->v6, s, sizeof(s));
		snprintf(out, len, "[%s]:%u", s, port);
	} else {
		snprintf(out, len, "?:%u", port);
	}
}

SOCCR_API int soccr_segment_str(const struct soccr_segment *seg, char *buf, size_t len)
{
	static const struct {
		uint8_t flag;
		char c;
	} names[] = {
		{SOCCR_TCP_SYN, 'S'}, {SOCCR_TCP_FIN, 'F'}, {SOCCR_TCP_RST, 'R'},
		{SOCCR_TCP_PSH, 'P'}, {SOCCR_TCP_ACK, 'A'}, {SOCCR_TCP_URG, 'U'},
		{SOCCR_TCP_ECE, 'E'}, {SOCCR_TCP_CWR, 'C'},
	};
	char src[INET6_ADDRSTRLEN + 10], dst[INET6_ADDRSTRLEN + 10], fl[16], opts[96], urg[16];
	size_t i, n = 0, o = 0;

	if (!seg)
		return snprintf(buf, len, "(null)");
	fmt_addr(seg, &seg->src, seg->sport, src, sizeof(src));
	fmt_addr(seg, &seg->dst, seg->dport, dst, sizeof(dst));
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (seg->flags & names[i].flag)
			fl[n++] = names[i].c;
	fl[n] = 0;

	opts[0] = 0;
	if (seg->opts & SOCCR_OPT_MSS)
		o += (size_t)snprintf(opts + o, sizeof(opts) - o, " mss %u", seg->mss);
	if (seg->opts & SOCCR_OPT_WSCALE)
		o += (size_t)snprintf(opts + o, sizeof(opts) - o, " wscale %u", seg->wscale);
	if (seg->opts & SOCCR_OPT_SACK_OK)
		o += (size_t)snprintf(opts + o, sizeof(opts) - o, " sackOK");
	if (seg->opts & SOCCR_OPT_TS)
		snprintf(opts + o, sizeof(opts) - o, " TS val %u ecr %u", seg->ts_val, seg->ts_ecr);

	if (seg->flags & SOCCR_TCP_URG)
		snprintf(urg, sizeof(urg), " urg %u", seg->urg_ptr);
	else
		urg[0] = 0;
	return snprintf(buf, len, "%s > %s [%s] seq %u ack %u win %u%s len %zu%s", src, dst,
			n ? fl : "none", seg->seq, seg->ack, seg->window, urg, seg->payload_len,
			opts);
}
