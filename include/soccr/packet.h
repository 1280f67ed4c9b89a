/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/packet.h>: IPv4/IPv6 + TCP segments, built and parsed by our own
 * code, with RFC 1071 checksums and RFC 1624 incremental updates.
 *
 * Every function checks lengths: a buffer too small is an error
 * (-ENOSPC when building, -EBADMSG/-EINVAL when parsing), never an overflow
 * or a read past the end.
 */
#ifndef SOCCR_PACKET_H
#define SOCCR_PACKET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TCP header flags (RFC 9293, RFC 3168). */
#define SOCCR_TCP_FIN 0x01
#define SOCCR_TCP_SYN 0x02
#define SOCCR_TCP_RST 0x04
#define SOCCR_TCP_PSH 0x08
#define SOCCR_TCP_ACK 0x10
#define SOCCR_TCP_URG 0x20
#define SOCCR_TCP_ECE 0x40
#define SOCCR_TCP_CWR 0x80

/* Which TCP options a segment carries (soccr_segment.opts). */
#define SOCCR_OPT_MSS     0x1	/* kind 2 */
#define SOCCR_OPT_WSCALE  0x2	/* kind 3 */
#define SOCCR_OPT_SACK_OK 0x4	/* kind 4 */
#define SOCCR_OPT_TS      0x8	/* kind 8 */

/* Link layer in front of the IP header. */
enum soccr_link {
	SOCCR_LINK_NONE = 0,	/* the buffer starts with the IP header */
	SOCCR_LINK_ETH = 1,	/* a 14-byte Ethernet header (parser: one 802.1Q tag allowed) */
};

#define SOCCR_ETH_ALEN 6
#define SOCCR_ETH_HLEN 14
/* Largest frame the builder makes: Ethernet + IPv6 + TCP with 40 B options + 64 KiB payload. */
#define SOCCR_PKT_MAX (SOCCR_ETH_HLEN + 40 + 60 + 65535)

union soccr_inaddr {
	struct in_addr v4;
	struct in6_addr v6;
};

/*
 * One TCP segment, as the builder takes it and the parser returns it.
 * Multi-byte numbers are in host order. Zero-initialise, then fill.
 */
struct soccr_segment {
	int family;			/* AF_INET or AF_INET6 */
	union soccr_inaddr src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;			/* SOCCR_TCP_* */
	uint16_t window;		/* as on the wire (already scaled down) */
	uint16_t urg_ptr;		/* written only with SOCCR_TCP_URG, else 0 */

	unsigned int opts;		/* SOCCR_OPT_* */
	uint16_t mss;
	/*
	 * Window scale shift as on the wire. Values above 14 are legal on the
	 * wire (RFC 7323 2.3: the receiver uses 14 instead): the builder writes
	 * them as given and the parser reports them raw; clamping is the
	 * consumer's business.
	 */
	uint8_t wscale;
	uint32_t ts_val, ts_ecr;

	const void *payload;		/* parser: points into the parsed buffer */
	size_t payload_len;

	/* IP */
	uint8_t ttl;			/* IPv4 TTL / IPv6 hop limit; builder: 0 means 64 */
	uint16_t ip_id;			/* IPv4 identification */
	bool df;			/* IPv4 don't-fragment */

	/* Ethernet, with SOCCR_LINK_ETH */
	uint8_t eth_src[SOCCR_ETH_ALEN], eth_dst[SOCCR_ETH_ALEN];
	uint16_t vlan_id;		/* parser: 802.1Q VLAN id, 0 when untagged */
	bool vlan;			/* parser: an 802.1Q tag was present */

	/* Parser only: where the headers start in the buffer, and checksums. */
	size_t l3_off, l4_off;
	uint8_t tcp_hlen;		/* TCP header length, options included */
	bool ip_csum_ok, tcp_csum_ok;	/* ip_csum_ok is always true for IPv6 (no header sum) */
};

/*
 * RFC 1071 Internet checksum of len bytes (any length, odd included),
 * returned as the one's-complement of the sum, in network byte order, ready
 * to store into a header.
 */
uint16_t soccr_csum(const void *data, size_t len);

/*
 * RFC 1071 one's-complement 32-bit partial sum, to chain over several
 * buffers. Start with sum = 0 (any 32-bit value is accepted and folds in like
 * data); only the last buffer may have an odd length. No alignment needed.
 * soccr_csum_fold() folds and complements it into a checksum (network order).
 * Verifying: the checksum over data that includes its checksum field is 0.
 */
uint32_t soccr_csum_partial(const void *data, size_t len, uint32_t sum);
uint16_t soccr_csum_fold(uint32_t sum);

/*
 * RFC 1624 (eqn. 3) incremental update of a checksum (network order) when a
 * 16- or 32-bit field (network order values, e.g. loaded with memcpy from the
 * header) changes from old to new. Eqn. 3 gives the same result as a full
 * recomputation, including 0x0000 where eqn. 2 would give 0xffff.
 */
uint16_t soccr_csum_update16(uint16_t csum, uint16_t old, uint16_t new_);
uint16_t soccr_csum_update32(uint16_t csum, uint32_t old, uint32_t new_);

/*
 * Length of the frame soccr_pkt_build() would write for seg, or -EINVAL if
 * seg is invalid (family, payload too large, options that do not fit).
 */
ssize_t soccr_pkt_len(const struct soccr_segment *seg, enum soccr_link link);

/*
 * Build the frame for seg into buf: optional Ethernet header, IPv4 (IHL 5,
 * checksum) or IPv6 header, TCP header with options padded to a 32-bit
 * boundary, payload, TCP checksum over the pseudo-header. Returns the frame
 * length, -ENOSPC if len is too small (buf untouched), -EINVAL if seg is
 * invalid (family, link, unknown opts bits, payload_len without payload,
 * IPv4 total length or IPv6 payload length above 65535).
 *
 * Fields are written as given: ack even without SOCCR_TCP_ACK, flags as the
 * low 8 bits of the flags byte; the urgent pointer only with SOCCR_TCP_URG.
 * IPv4: tos 0, DF from seg->df; IPv6: traffic class and flow label 0. TTL /
 * hop limit 0 means 64. Options are laid out as Linux lays out a SYN, each
 * starting a 32-bit word (as compact as any layout, at most 20 bytes):
 *   MSS (2 4 mss) | SACK_OK+TS (4 2 8 10 val ecr), or NOP NOP TS, or
 *   NOP NOP SACK_OK | NOP WSCALE (1 3 3 ws)
 * The payload may overlap buf (it is moved, not copied).
 */
ssize_t soccr_pkt_build(const struct soccr_segment *seg, enum soccr_link link, void *buf,
			size_t len);

/*
 * Rewrite seq and ack (host order) in a frame made by soccr_pkt_build(),
 * updating the TCP checksum incrementally (RFC 1624). Returns 0, or
 * -EBADMSG if the frame is not one this library could have built.
 */
int soccr_pkt_set_seq_ack(void *frame, size_t len, enum soccr_link link, uint32_t seq,
			  uint32_t ack);

/* Parser flags. */
#define SOCCR_PARSE_NOCSUM 0x1	/* do not fail on bad checksums (still reported in *_csum_ok) */

/*
 * Parse a frame: Ethernet (optional 802.1Q tag) or nothing, IPv4 (with
 * options) or IPv6 (hop-by-hop, routing, destination-options and fragment
 * headers skipped), then TCP with options. Never reads past len. Returns 0,
 * -EPROTONOSUPPORT if it is not TCP over IP (or a non-first fragment),
 * -EBADMSG if malformed or truncated or (without SOCCR_PARSE_NOCSUM) if a
 * checksum is wrong, -EINVAL for a NULL seg, unknown link or flags.
 * seg->payload points into frame. seg is zeroed first; on error its contents
 * are unspecified.
 *
 * Strictness, in detail:
 * - Bytes after the IPv4 total length / IPv6 payload length (Ethernet
 *   padding) are ignored; fewer bytes than those lengths is -EBADMSG.
 * - IPv4: version 4, IHL >= 5, IHL*4 <= total length; MF set or a non-zero
 *   offset is -EPROTONOSUPPORT; protocol other than 6 is -EPROTONOSUPPORT.
 * - IPv6: hop-by-hop only first (else -EBADMSG); a fragment header only if
 *   offset 0 and M clear (an atomic fragment), else -EPROTONOSUPPORT; a
 *   routing header with segments left != 0 (not yet at its final
 *   destination) is -EPROTONOSUPPORT; any other next header is
 *   -EPROTONOSUPPORT; jumbograms (payload length 0) are -EBADMSG.
 * - TCP: data offset >= 5 and within the segment; options: EOL ends the list,
 *   NOP skipped, others need a length byte with 2 <= length <= bytes left;
 *   MSS, WSCALE, SACK_OK, TS with a length other than 4, 3, 2, 10 are
 *   -EBADMSG; unknown kinds are skipped by their length.
 * - A checksum mismatch is reported in ip_csum_ok / tcp_csum_ok, and is
 *   -EBADMSG unless SOCCR_PARSE_NOCSUM. Order: the IPv4 header sum after its
 *   lengths and before fragment/protocol; the TCP sum last.
 */
int soccr_pkt_parse(const void *frame, size_t len, enum soccr_link link, unsigned int flags,
		    struct soccr_segment *seg);

/*
 * Format a one-line summary of seg ("10.0.0.1:80 > 10.0.0.2:4000 [FA] seq 1
 * ack 2 win 512 len 0") into buf. Returns what snprintf returns. Flags are
 * S F R P A U E C (or "none"); IPv6 addresses are bracketed; " urg N" follows
 * the window with URG; options follow the length (" mss 1460 wscale 7 sackOK
 * TS val 1 ecr 2").
 */
int soccr_segment_str(const struct soccr_segment *seg, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_PACKET_H */
