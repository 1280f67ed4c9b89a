// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the packet parser, then the builder on what it parsed.
 *
 * Any input, read as a bare IP packet and as an Ethernet frame, with and
 * without checksum verification, is either rejected with -EBADMSG or
 * -EPROTONOSUPPORT, or parsed into a segment whose offsets lie inside the
 * input. A parsed segment rebuilds into a frame that parses back (checksums
 * valid) to the same fields, with a TCP header no longer than the input's
 * (the builder's option layout is as compact as any), and whose seq/ack can be
 * rewritten in place without breaking the checksum. ASan proves that no step
 * reads or writes outside its buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/packet.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_packet: check failed: %s (line %d)\n", #c,           \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static uint8_t out[SOCCR_PKT_MAX];

static void same_fields(const struct soccr_segment *a, const struct soccr_segment *b,
			enum soccr_link link)
{
	CHECK(a->family == b->family);
	if (a->family == AF_INET) {
		CHECK(!memcmp(&a->src.v4, &b->src.v4, 4) && !memcmp(&a->dst.v4, &b->dst.v4, 4));
		CHECK(a->ip_id == b->ip_id && a->df == b->df);
	} else {
		CHECK(!memcmp(&a->src.v6, &b->src.v6, 16) && !memcmp(&a->dst.v6, &b->dst.v6, 16));
	}
	CHECK(a->sport == b->sport && a->dport == b->dport);
	CHECK(a->seq == b->seq && a->ack == b->ack);
	CHECK(a->flags == b->flags && a->window == b->window);
	/* The builder writes the urgent pointer only with URG. */
	CHECK(b->urg_ptr == ((a->flags & SOCCR_TCP_URG) ? a->urg_ptr : 0));
	CHECK(a->opts == b->opts);
	CHECK(!(a->opts & SOCCR_OPT_MSS) || a->mss == b->mss);
	CHECK(!(a->opts & SOCCR_OPT_WSCALE) || a->wscale == b->wscale);
	CHECK(!(a->opts & SOCCR_OPT_TS) || (a->ts_val == b->ts_val && a->ts_ecr == b->ts_ecr));
	/* TTL 0 asks the builder for its default. */
	CHECK(b->ttl == (a->ttl ? a->ttl : 64));
	CHECK(a->payload_len == b->payload_len);
	CHECK(!a->payload_len || !memcmp(a->payload, b->payload, a->payload_len));
	if (link == SOCCR_LINK_ETH)
		CHECK(!memcmp(a->eth_src, b->eth_src, 6) && !memcmp(a->eth_dst, b->eth_dst, 6));
}

static void one(const uint8_t *data, size_t size, enum soccr_link link, unsigned int flags)
{
	struct soccr_segment p, q;
	char line[256];
	ssize_t n;
	int ret;

	ret = soccr_pkt_parse(data, size, link, flags, &p);
	if (ret) {
		CHECK(ret == -EBADMSG || ret == -EPROTONOSUPPORT);
		return;
	}
	CHECK(p.family == AF_INET || p.family == AF_INET6);
	CHECK(p.l3_off == (link == SOCCR_LINK_ETH ? (p.vlan ? 18u : 14u) : 0u));
	CHECK(p.l4_off >= p.l3_off + (p.family == AF_INET ? 20 : 40));
	CHECK(p.tcp_hlen >= 20 && p.tcp_hlen <= 60 && p.tcp_hlen % 4 == 0);
	CHECK((const uint8_t *)p.payload == data + p.l4_off + p.tcp_hlen);
	CHECK(p.l4_off + p.tcp_hlen + p.payload_len <= size);
	CHECK(flags || (p.ip_csum_ok && p.tcp_csum_ok));
	soccr_segment_str(&p, line, sizeof(line));

	/* Rebuild: what the parser accepts, the builder can always make. */
	n = soccr_pkt_build(&p, link, out, sizeof(out));
	CHECK(n > 0 && (size_t)n == (size_t)soccr_pkt_len(&p, link));
	CHECK(soccr_pkt_parse(out, (size_t)n, link, 0, &q) == 0);
	same_fields(&p, &q, link);
	CHECK(q.tcp_hlen <= p.tcp_hlen);

	/* Incremental seq/ack rewrite keeps the rebuilt frame valid. */
	CHECK(soccr_pkt_set_seq_ack(out, (size_t)n, link, ~p.seq, p.seq ^ p.ack) == 0);
	CHECK(soccr_pkt_parse(out, (size_t)n, link, 0, &q) == 0);
	CHECK(q.seq == ~p.seq && q.ack == (p.seq ^ p.ack));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	one(data, size, SOCCR_LINK_NONE, 0);
	one(data, size, SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM);
	one(data, size, SOCCR_LINK_ETH, 0);
	one(data, size, SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM);

	/* The in-place rewrite on arbitrary bytes: rejected or done, never out of bounds. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	soccr_pkt_set_seq_ack(copy, size, SOCCR_LINK_NONE, 1, 2);
	soccr_pkt_set_seq_ack(copy, size, SOCCR_LINK_ETH, 3, 4);
	free(copy);
	return 0;
}
