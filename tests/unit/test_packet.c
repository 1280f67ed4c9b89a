// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Packet builder and strict parser: byte-exact frames, length checks, and
 * every way a frame can be malformed or truncated.
 *
 * The expected frames below are written out header by header; their checksums
 * were computed once with an independent implementation (a few lines of
 * Python's struct module) and are checked against tcpdump in the injector's
 * tests, so a bug in our checksum code cannot hide here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/packet.h>

/* ---- expected frames ------------------------------------------------------------------ */

/* clang-format off */

/* 10.0.0.1:40000 > 10.0.0.2:80 SYN, MSS 1460, SACK_OK, TS 0x01020304/0, WS 7. */
static const uint8_t syn4[] = {
	/* IPv4: 45 00 len=60 id=0x1234 DF ttl=64 proto=6 csum=0x1486 src dst */
	0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x86,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	/* TCP: 40000 > 80 seq 0x11223344 ack 0 doff 10 SYN win 64240 csum 0x5410 urg 0 */
	0x9c, 0x40, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0xfa, 0xf0, 0x54, 0x10, 0x00, 0x00,
	/* MSS 1460 | SACK_OK TS val ecr | NOP WS 7 */
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x01, 0x02, 0x03, 0x04,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* Ethernet; 192.168.1.10:5000 > 192.168.1.20:6000 FIN|ACK seq 1000 ack 2000, "hello". */
static const uint8_t finack4_eth[] = {
	/* dst 02:00:00:00:00:02 src 02:00:00:00:00:01 type IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
	/* IPv4: len=45 id=0 no DF ttl=64 (from 0) csum=0xf75c */
	0x45, 0x00, 0x00, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0xf7, 0x5c,
	0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x14,
	/* TCP: doff 5, FIN|ACK, win 512, csum 0xafdd */
	0x13, 0x88, 0x17, 0x70, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0,
	0x50, 0x11, 0x02, 0x00, 0xaf, 0xdd, 0x00, 0x00,
	'h', 'e', 'l', 'l', 'o',
};

/* [fd00::1]:80 > [fd00::2]:40000 SYN|ACK, MSS 1440, WS 14, hop limit 255. */
static const uint8_t synack6[] = {
	/* IPv6: version 6, plen 28, nh 6, hlim 255 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x06, 0xff,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	/* TCP: seq 0xfffffff0 ack 0x11223345 doff 7 SYN|ACK win 65535 csum 0xa928 */
	0x00, 0x50, 0x9c, 0x40, 0xff, 0xff, 0xff, 0xf0, 0x11, 0x22, 0x33, 0x45,
	0x70, 0x12, 0xff, 0xff, 0xa9, 0x28, 0x00, 0x00,
	/* MSS 1440 | NOP WS 14 */
	0x02, 0x04, 0x05, 0xa0, 0x01, 0x03, 0x03, 0x0e,
};

/* Ethernet; [2001:db8::a]:1234 > [2001:db8::b]:443 URG|ACK|PSH urg 3, TS only, "abc". */
static const uint8_t urg6_eth[] = {
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x86, 0xdd,
	/* IPv6: plen 35, hlim 64 (from 0) */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x23, 0x06, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
	/* TCP: seq 7 ack 9 doff 8 flags 0x38 win 100 csum 0xb206 urg 3 */
	0x04, 0xd2, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09,
	0x80, 0x38, 0x00, 0x64, 0xb2, 0x06, 0x00, 0x03,
	/* NOP NOP TS 0xdeadbeef 1 */
	0x01, 0x01, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01,
	'a', 'b', 'c',
};
/* clang-format on */

static void seg_syn4(struct soccr_segment *s)
{
	memset(s, 0, sizeof(*s));
	s->family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", &s->src.v4);
	inet_pton(AF_INET, "10.0.0.2", &s->dst.v4);
	s->sport = 40000;
	s->dport = 80;
	s->seq = 0x11223344;
	s->flags = SOCCR_TCP_SYN;
	s->window = 64240;
	s->opts = SOCCR_OPT_MSS | SOCCR_OPT_SACK_OK | SOCCR_OPT_TS | SOCCR_OPT_WSCALE;
	s->mss = 1460;
	s->wscale = 7;
	s->ts_val = 0x01020304;
	s->ttl = 64;
	s->ip_id = 0x1234;
	s->df = true;
}

static void seg_finack4(struct soccr_segment *s)
{
	static const uint8_t src[6] = {2, 0, 0, 0, 0, 1}, dst[6] = {2, 0, 0, 0, 0, 2};

	memset(s, 0, sizeof(*s));
	s->family = AF_INET;
	inet_pton(AF_INET, "192.168.1.10", &s->src.v4);
	inet_pton(AF_INET, "192.168.1.20", &s->dst.v4);
	s->sport = 5000;
	s->dport = 6000;
	s->seq = 1000;
	s->ack = 2000;
	s->flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	s->window = 512;
	s->urg_ptr = 77; /* no URG flag: must not reach the wire */
	s->payload = "hello";
	s->payload_len = 5;
	memcpy(s->eth_src, src, 6);
	memcpy(s->eth_dst, dst, 6);
}

static void seg_synack6(struct soccr_segment *s)
{
	memset(s, 0, sizeof(*s));
	s->family = AF_INET6;
	inet_pton(AF_INET6, "fd00::1", &s->src.v6);
	inet_pton(AF_INET6, "fd00::2", &s->dst.v6);
	s->sport = 80;
	s->dport = 40000;
	s->seq = 0xfffffff0;
	s->ack = 0x11223345;
	s->flags = SOCCR_TCP_SYN | SOCCR_TCP_ACK;
	s->window = 65535;
	s->opts = SOCCR_OPT_MSS | SOCCR_OPT_WSCALE;
	s->mss = 1440;
	s->wscale = 14;
	s->ttl = 255;
}

static void seg_urg6(struct soccr_segment *s)
{
	static const uint8_t src[6] = {1, 2, 3, 4, 5, 6}, dst[6] = {10, 11, 12, 13, 14, 15};

	memset(s, 0, sizeof(*s));
	s->family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::a", &s->src.v6);
	inet_pton(AF_INET6, "2001:db8::b", &s->dst.v6);
	s->sport = 1234;
	s->dport = 443;
	s->seq = 7;
	s->ack = 9;
	s->flags = SOCCR_TCP_URG | SOCCR_TCP_ACK | SOCCR_TCP_PSH;
	s->window = 100;
	s->urg_ptr = 3;
	s->opts = SOCCR_OPT_TS;
	s->ts_val = 0xdeadbeef;
	s->ts_ecr = 1;
	s->payload = "abc";
	s->payload_len = 3;
	memcpy(s->eth_src, src, 6);
	memcpy(s->eth_dst, dst, 6);
}

/* Build into a canary-filled buffer; check the length and that nothing past it changed. */
static void build_expect(const struct soccr_segment *s, enum soccr_link link, const uint8_t *want,
			 size_t want_len)
{
	uint8_t buf[256];
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(soccr_pkt_len(s, link), want_len);
	assert_int_equal(soccr_pkt_build(s, link, buf, sizeof(buf)), want_len);
	assert_memory_equal(buf, want, want_len);
	for (i = want_len; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
}

/* ---- builder -------------------------------------------------------------------------- */

static void test_build_v4_syn_with_all_options_is_byte_exact(void **state)
{
	struct soccr_segment s;

	(void)state;
	seg_syn4(&s);
	build_expect(&s, SOCCR_LINK_NONE, syn4, sizeof(syn4));
}

static void test_build_v4_eth_finack_odd_payload_is_byte_exact(void **state)
{
	struct soccr_segment s;

	(void)state;
	seg_finack4(&s);
	build_expect(&s, SOCCR_LINK_ETH, finack4_eth, sizeof(finack4_eth));
}

static void test_build_v6_synack_mss_wscale_is_byte_exact(void **state)
{
	struct soccr_segment s;

	(void)state;
	seg_synack6(&s);
	build_expect(&s, SOCCR_LINK_NONE, synack6, sizeof(synack6));
}

static void test_build_v6_eth_urg_ts_payload_is_byte_exact(void **state)
{
	struct soccr_segment s;

	(void)state;
	seg_urg6(&s);
	build_expect(&s, SOCCR_LINK_ETH, urg6_eth, sizeof(urg6_eth));
}

static void test_build_sack_ok_alone_is_nop_nop_sackok(void **state)
{
	static const uint8_t want[] = {0x01, 0x01, 0x04, 0x02};
	struct soccr_segment s, p;
	uint8_t buf[128];
	ssize_t n;

	(void)state;
	seg_synack6(&s);
	s.opts = SOCCR_OPT_SACK_OK;
	n = soccr_pkt_build(&s, SOCCR_LINK_NONE, buf, sizeof(buf));
	assert_int_equal(n, 40 + 24);
	assert_int_equal(buf[40 + 12], 6 << 4);
	assert_memory_equal(buf + 40 + 20, want, sizeof(want));
	assert_int_equal(soccr_pkt_parse(buf, (size_t)n, SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.opts, SOCCR_OPT_SACK_OK);
}

static void test_build_length_is_headers_options_payload(void **state)
{
	static const size_t optlen[16] = {
		/* MSS 4, WS 4, SACK alone 4, TS 12 (SACK rides in TS's NOPs) */
		0, 4, 4, 8, 4, 8, 8, 12, 12, 16, 16, 20, 12, 16, 16, 20,
	};
	static const char pl[7] = "payload";
	struct soccr_segment s;
	unsigned int o;

	(void)state;
	for (o = 0; o < 16; o++) {
		seg_syn4(&s);
		s.opts = o;
		s.payload = pl;
		s.payload_len = 7;
		assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_NONE), 20 + 20 + optlen[o] + 7);
		assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_ETH), 14 + 20 + 20 + optlen[o] + 7);
		s.family = AF_INET6;
		assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_NONE), 40 + 20 + optlen[o] + 7);
		assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_ETH), 14 + 40 + 20 + optlen[o] + 7);
	}
}

static void test_build_short_buffer_is_enospc_and_untouched(void **state)
{
	struct soccr_segment s;
	uint8_t buf[sizeof(urg6_eth)];
	size_t len, i;

	(void)state;
	seg_urg6(&s);
	for (len = 0; len < sizeof(urg6_eth); len++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, len), -ENOSPC);
		for (i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0x5a);
	}
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_ETH, NULL, 0), -ENOSPC);
}

static void test_build_rejects_invalid_segments(void **state)
{
	struct soccr_segment s;
	uint8_t buf[128];

	(void)state;
	seg_syn4(&s);
	s.family = AF_UNIX;
	assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_NONE), -EINVAL);
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_NONE, buf, sizeof(buf)), -EINVAL);

	seg_syn4(&s);
	assert_int_equal(soccr_pkt_build(&s, (enum soccr_link)7, buf, sizeof(buf)), -EINVAL);
	s.opts |= 0x10;
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_NONE, buf, sizeof(buf)), -EINVAL);

	seg_syn4(&s);
	s.payload = NULL;
	s.payload_len = 1;
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_NONE, buf, sizeof(buf)), -EINVAL);
	s.payload_len = (size_t)-1;
	assert_int_equal(soccr_pkt_len(&s, SOCCR_LINK_NONE), -EINVAL);
	assert_int_equal(soccr_pkt_len(NULL, SOCCR_LINK_NONE), -EINVAL);
}

/* IPv4 total length and IPv6 payload length are 16 bits: the limits are exact. */
static void test_build_enforces_16bit_ip_lengths(void **state)
{
	struct soccr_segment s, p;
	uint8_t *buf = malloc(SOCCR_PKT_MAX), *pl = calloc(1, 65535);
	ssize_t n;

	(void)state;
	assert_non_null(buf);
	assert_non_null(pl);
	seg_syn4(&s); /* 20 bytes of options */
	s.payload = pl;
	s.payload_len = 65535 - 20 - 40;
	n = soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, SOCCR_PKT_MAX);
	assert_int_equal(n, 14 + 65535);
	assert_int_equal(buf[14 + 2], 0xff);
	assert_int_equal(buf[14 + 3], 0xff);
	assert_int_equal(soccr_pkt_parse(buf, (size_t)n, SOCCR_LINK_ETH, 0, &p), 0);
	assert_int_equal(p.payload_len, s.payload_len);
	s.payload_len++;
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, SOCCR_PKT_MAX), -EINVAL);

	s.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::1", &s.src.v6);
	s.payload_len = 65535 - 40;
	n = soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, SOCCR_PKT_MAX);
	assert_int_equal(n, 14 + 40 + 65535);
	assert_true((size_t)n <= SOCCR_PKT_MAX);
	assert_int_equal(soccr_pkt_parse(buf, (size_t)n, SOCCR_LINK_ETH, 0, &p), 0);
	assert_int_equal(p.payload_len, s.payload_len);
	s.payload_len++;
	assert_int_equal(soccr_pkt_build(&s, SOCCR_LINK_ETH, buf, SOCCR_PKT_MAX), -EINVAL);
	free(buf);
	free(pl);
}

/*
 * RFC 7323 2.3: a shift above 14 is to be treated as 14 by the receiver, so it
 * is legal on the wire. The builder writes it as given (tests need to produce
 * it) and the parser reports the raw value; clamping is the consumer's job.
 */
static void test_wscale_above_14_is_built_and_parsed_verbatim(void **state)
{
	struct soccr_segment s, p;
	uint8_t buf[128];
	ssize_t n;

	(void)state;
	seg_synack6(&s);
	s.wscale = 200;
	n = soccr_pkt_build(&s, SOCCR_LINK_NONE, buf, sizeof(buf));
	assert_int_equal(n, sizeof(synack6));
	assert_int_equal(buf[40 + 27], 200);
	assert_int_equal(soccr_pkt_parse(buf, (size_t)n, SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.wscale, 200);
}

static void test_set_seq_ack_equals_full_rebuild(void **state)
{
	void (*mk[])(struct soccr_segment *) = {seg_syn4, seg_finack4, seg_synack6, seg_urg6};
	static const uint32_t vals[][2] = {
		{0, 0},
		{1, 0xffffffff},
		{0xffffffff, 0xffffffff},
		{0x80000000, 0x7fffffff},
		{0x12345678, 0x9abcdef0},
		{0xfffffff0, 0x11223345},
	};
	struct soccr_segment s;
	uint8_t a[256], b[256];
	unsigned int i, j, link;

	(void)state;
	for (i = 0; i < 4; i++) {
		for (link = 0; link < 2; link++) {
			for (j = 0; j < 6; j++) {
				ssize_t n;

				mk[i](&s);
				n = soccr_pkt_build(&s, link, a, sizeof(a));
				assert_true(n > 0);
				assert_int_equal(soccr_pkt_set_seq_ack(a, (size_t)n, link,
								       vals[j][0], vals[j][1]),
						 0);
				s.seq = vals[j][0];
				s.ack = vals[j][1];
				assert_int_equal(soccr_pkt_build(&s, link, b, sizeof(b)), n);
				assert_memory_equal(a, b, (size_t)n);
			}
		}
	}
}

static void test_set_seq_ack_rejects_foreign_frames(void **state)
{
	uint8_t f[128];
	size_t len;

	(void)state;
	/* Every truncation, including one byte short of the TCP header. */
	memcpy(f, finack4_eth, sizeof(finack4_eth));
	for (len = 0; len < 14 + 20 + 20; len++)
		assert_int_equal(soccr_pkt_set_seq_ack(f, len, SOCCR_LINK_ETH, 1, 2), -EBADMSG);
	/* The IP total length says more than the buffer holds. */
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(finack4_eth) - 1, SOCCR_LINK_ETH, 1, 2),
			 -EBADMSG);
	/* Not Ethernet-framed as the caller says. */
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(finack4_eth), SOCCR_LINK_NONE, 1, 2),
			 -EBADMSG);
	/* IPv4 with options (the builder never makes them). */
	f[14] = 0x46;
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(finack4_eth), SOCCR_LINK_ETH, 1, 2),
			 -EBADMSG);
	f[14] = 0x45;
	/* Not TCP. */
	f[14 + 9] = 17;
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(finack4_eth), SOCCR_LINK_ETH, 1, 2),
			 -EBADMSG);
	/* A VLAN tag. */
	memcpy(f, finack4_eth, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = 0x00;
	f[15] = 0x01;
	memcpy(f + 16, finack4_eth + 12, sizeof(finack4_eth) - 12);
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(finack4_eth) + 4, SOCCR_LINK_ETH, 1, 2),
			 -EBADMSG);
	/* IPv6 with an extension header. */
	memcpy(f, synack6, sizeof(synack6));
	f[6] = 60;
	assert_int_equal(soccr_pkt_set_seq_ack(f, sizeof(synack6), SOCCR_LINK_NONE, 1, 2),
			 -EBADMSG);
	assert_int_equal(soccr_pkt_set_seq_ack(NULL, 0, SOCCR_LINK_NONE, 1, 2), -EBADMSG);
}

/* ---- parser --------------------------------------------------------------------------- */

/* Parse from an exact-size heap copy, so ASan catches any read past len. */
static int parse_copy(const uint8_t *f, size_t len, enum soccr_link link, unsigned int flags,
		      struct soccr_segment *s)
{
	uint8_t *c = malloc(len ? len : 1);
	int ret;

	assert_non_null(c);
	memcpy(c, f, len);
	ret = soccr_pkt_parse(c, len, link, flags, s);
	if (!ret) {
		/* Point payload back into the caller's frame before c goes away. */
		s->payload = f + ((const uint8_t *)s->payload - c);
	}
	free(c);
	return ret;
}

static void test_parse_v4_syn_fields(void **state)
{
	struct soccr_segment p, s;

	(void)state;
	seg_syn4(&s);
	assert_int_equal(parse_copy(syn4, sizeof(syn4), SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_memory_equal(&p.src.v4, &s.src.v4, 4);
	assert_memory_equal(&p.dst.v4, &s.dst.v4, 4);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.seq, 0x11223344);
	assert_int_equal(p.ack, 0);
	assert_int_equal(p.flags, SOCCR_TCP_SYN);
	assert_int_equal(p.window, 64240);
	assert_int_equal(p.opts,
			 SOCCR_OPT_MSS | SOCCR_OPT_SACK_OK | SOCCR_OPT_TS | SOCCR_OPT_WSCALE);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.wscale, 7);
	assert_int_equal(p.ts_val, 0x01020304);
	assert_int_equal(p.ts_ecr, 0);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.ip_id, 0x1234);
	assert_true(p.df);
	assert_false(p.vlan);
	assert_int_equal(p.l3_off, 0);
	assert_int_equal(p.l4_off, 20);
	assert_int_equal(p.tcp_hlen, 40);
	assert_int_equal(p.payload_len, 0);
	assert_ptr_equal(p.payload, syn4 + sizeof(syn4));
	assert_true(p.ip_csum_ok);
	assert_true(p.tcp_csum_ok);
}

static void test_parse_v4_eth_finack_fields(void **state)
{
	struct soccr_segment p, s;

	(void)state;
	seg_finack4(&s);
	assert_int_equal(parse_copy(finack4_eth, sizeof(finack4_eth), SOCCR_LINK_ETH, 0, &p), 0);
	assert_memory_equal(p.eth_src, s.eth_src, 6);
	assert_memory_equal(p.eth_dst, s.eth_dst, 6);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.tcp_hlen, 20);
	assert_int_equal(p.flags, SOCCR_TCP_FIN | SOCCR_TCP_ACK);
	assert_int_equal(p.seq, 1000);
	assert_int_equal(p.ack, 2000);
	assert_int_equal(p.urg_ptr, 0);
	assert_int_equal(p.opts, 0);
	assert_false(p.df);
	assert_int_equal(p.payload_len, 5);
	assert_memory_equal(p.payload, "hello", 5);
	assert_ptr_equal(p.payload, finack4_eth + 54);
}

static void test_parse_v6_fields(void **state)
{
	struct soccr_segment p, s;

	(void)state;
	seg_urg6(&s);
	assert_int_equal(parse_copy(urg6_eth, sizeof(urg6_eth), SOCCR_LINK_ETH, 0, &p), 0);
	assert_int_equal(p.family, AF_INET6);
	assert_memory_equal(&p.src.v6, &s.src.v6, 16);
	assert_memory_equal(&p.dst.v6, &s.dst.v6, 16);
	assert_int_equal(p.flags, SOCCR_TCP_URG | SOCCR_TCP_ACK | SOCCR_TCP_PSH);
	assert_int_equal(p.urg_ptr, 3);
	assert_int_equal(p.opts, SOCCR_OPT_TS);
	assert_int_equal(p.ts_val, 0xdeadbeef);
	assert_int_equal(p.ts_ecr, 1);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 54);
	assert_int_equal(p.tcp_hlen, 32);
	assert_int_equal(p.payload_len, 3);
	assert_memory_equal(p.payload, "abc", 3);
	assert_true(p.ip_csum_ok);
	assert_true(p.tcp_csum_ok);

	assert_int_equal(parse_copy(synack6, sizeof(synack6), SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.seq, 0xfffffff0);
	assert_int_equal(p.ack, 0x11223345);
	assert_int_equal(p.mss, 1440);
	assert_int_equal(p.wscale, 14);
	assert_int_equal(p.ttl, 255);
}

static void test_parse_rejects_every_truncation(void **state)
{
	static const struct {
		const uint8_t *f;
		size_t len;
		enum soccr_link link;
	} frames[] = {
		{syn4, sizeof(syn4), SOCCR_LINK_NONE},
		{finack4_eth, sizeof(finack4_eth), SOCCR_LINK_ETH},
		{synack6, sizeof(synack6), SOCCR_LINK_NONE},
		{urg6_eth, sizeof(urg6_eth), SOCCR_LINK_ETH},
	};
	struct soccr_segment p;
	size_t i, len;

	(void)state;
	for (i = 0; i < 4; i++) {
		for (len = 0; len < frames[i].len; len++) {
			/* Checksums off too: the length checks alone must catch it. */
			assert_int_equal(parse_copy(frames[i].f, len, frames[i].link, 0, &p),
					 -EBADMSG);
			assert_int_equal(parse_copy(frames[i].f, len, frames[i].link,
						    SOCCR_PARSE_NOCSUM, &p),
					 -EBADMSG);
		}
		assert_int_equal(parse_copy(frames[i].f, len, frames[i].link, 0, &p), 0);
	}
	assert_int_equal(soccr_pkt_parse(NULL, 0, SOCCR_LINK_NONE, 0, &p), -EBADMSG);
	assert_int_equal(soccr_pkt_parse(NULL, 0, SOCCR_LINK_ETH, 0, &p), -EBADMSG);
}

static void test_parse_rejects_bad_arguments(void **state)
{
	struct soccr_segment p;

	(void)state;
	assert_int_equal(soccr_pkt_parse(syn4, sizeof(syn4), SOCCR_LINK_NONE, 0, NULL), -EINVAL);
	assert_int_equal(soccr_pkt_parse(NULL, 10, SOCCR_LINK_NONE, 0, &p), -EINVAL);
	assert_int_equal(soccr_pkt_parse(syn4, sizeof(syn4), (enum soccr_link)9, 0, &p), -EINVAL);
	assert_int_equal(soccr_pkt_parse(syn4, sizeof(syn4), SOCCR_LINK_NONE, 0x80, &p), -EINVAL);
}

/* Ethernet pads short frames to 60 bytes: bytes past the IP length are not payload. */
static void test_parse_ignores_ethernet_padding(void **state)
{
	uint8_t f[128];
	struct soccr_segment p;

	(void)state;
	memset(f, 0xee, sizeof(f));
	memcpy(f, finack4_eth, sizeof(finack4_eth));
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), 0);
	assert_int_equal(p.payload_len, 5);
	memset(f, 0xee, sizeof(f));
	memcpy(f, urg6_eth, sizeof(urg6_eth));
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), 0);
	assert_int_equal(p.payload_len, 3);
}

/* Recompute both checksums of an IPv4 frame after editing it (IP header at ip). */
static void fix_v4(uint8_t *ip)
{
	size_t ihl = (ip[0] & 0xf) * 4u, tot = (size_t)ip[2] << 8 | ip[3], tl = tot - ihl;
	uint8_t ph[12];
	uint16_t c;
	uint32_t s;

	ip[10] = ip[11] = 0;
	c = soccr_csum(ip, ihl);
	memcpy(ip + 10, &c, 2);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = tl >> 8;
	ph[11] = tl & 0xff;
	ip[ihl + 16] = ip[ihl + 17] = 0;
	s = soccr_csum_partial(ph, sizeof(ph), 0);
	c = soccr_csum_fold(soccr_csum_partial(ip + ihl, tl, s));
	memcpy(ip + ihl + 16, &c, 2);
}

static void test_parse_rejects_bad_ip_version(void **state)
{
	uint8_t f[sizeof(finack4_eth)];
	struct soccr_segment p;

	(void)state;
	memcpy(f, finack4_eth, sizeof(f));
	f[14] = 0x65; /* ethertype IPv4, version 6 */
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
	f[14] = 0x55;
	assert_int_equal(
		parse_copy(f + 14, sizeof(f) - 14, SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
		-EBADMSG);
	memcpy(f, urg6_eth, 14 + 8);
	f[14] = 0x45; /* ethertype IPv6, version 4 */
	assert_int_equal(parse_copy(f, 14 + 40, SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM, &p), -EBADMSG);
}

static void test_parse_rejects_ihl_below_5(void **state)
{
	uint8_t f[sizeof(syn4)];
	struct soccr_segment p;
	unsigned int ihl;

	(void)state;
	for (ihl = 0; ihl < 5; ihl++) {
		memcpy(f, syn4, sizeof(f));
		f[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
				 -EBADMSG);
	}
}

static void test_parse_rejects_ip_lengths_beyond_buffer(void **state)
{
	uint8_t f[sizeof(synack6)];
	struct soccr_segment p;

	(void)state;
	/* Total length one past the buffer, with the header checksum made valid. */
	memcpy(f, syn4, sizeof(syn4));
	f[3]++;
	fix_v4(f);
	assert_int_equal(parse_copy(f, sizeof(syn4), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
	/* Total length below the header length. */
	memcpy(f, syn4, sizeof(syn4));
	f[2] = 0;
	f[3] = 19;
	assert_int_equal(parse_copy(f, sizeof(syn4), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
	/* Total length leaves less than a TCP header. */
	f[3] = 39;
	assert_int_equal(parse_copy(f, sizeof(syn4), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
	/* IHL 15 (60 bytes) inside a 60-byte total: no room for TCP. */
	memcpy(f, syn4, sizeof(syn4));
	f[0] = 0x4f;
	assert_int_equal(parse_copy(f, sizeof(syn4), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
	/* IPv6 payload length one past the buffer. */
	memcpy(f, synack6, sizeof(synack6));
	f[5]++;
	assert_int_equal(parse_copy(f, sizeof(synack6), SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &p),
			 -EBADMSG);
}

static void test_parse_ipv4_options_move_tcp_header(void **state)
{
	uint8_t f[sizeof(syn4) + 8];
	struct soccr_segment p;

	(void)state;
	/* IHL 7: NOP, NOP, NOP, EOL and 4 bytes of padding after the fixed header. */
	memcpy(f, syn4, 20);
	memcpy(f + 20, (const uint8_t[]){1, 1, 1, 0, 0, 0, 0, 0}, 8);
	memcpy(f + 28, syn4 + 20, sizeof(syn4) - 20);
	f[0] = 0x47;
	f[3] += 8;
	fix_v4(f);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.l4_off, 28);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.payload_len, 0);
	assert_true(p.tcp_csum_ok);
}

static void test_parse_rejects_ipv4_fragments(void **state)
{
	static const uint16_t frag[] = {0x2000, 0x0001, 0x00b9, 0x6000, 0x2010, 0x1fff};
	uint8_t f[sizeof(syn4)];
	struct soccr_segment p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		memcpy(f, syn4, sizeof(f));
		f[6] = frag[i] >> 8;
		f[7] = frag[i] & 0xff;
		fix_v4(f);
		assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, &p),
				 -EPROTONOSUPPORT);
	}
	/* DF alone and no flags at all are whole datagrams. */
	memcpy(f, syn4, sizeof(f));
	f[6] = 0;
	fix_v4(f);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, &p), 0);
	assert_false(p.df);
}

static void test_parse_rejects_non_tcp(void **state)
{
	uint8_t f[sizeof(synack6)];
	struct soccr_segment p;

	(void)state;
	memcpy(f, finack4_eth, sizeof(finack4_eth));
	f[14 + 9] = 17; /* UDP */
	fix_v4(f + 14);
	assert_int_equal(parse_copy(f, sizeof(finack4_eth), SOCCR_LINK_ETH, 0, &p),
			 -EPROTONOSUPPORT);
	memcpy(f, finack4_eth, sizeof(finack4_eth));
	f[12] = 0x08;
	f[13] = 0x06; /* ARP */
	assert_int_equal(parse_copy(f, sizeof(finack4_eth), SOCCR_LINK_ETH, 0, &p),
			 -EPROTONOSUPPORT);
	memcpy(f, synack6, sizeof(synack6));
	f[6] = 58; /* ICMPv6 */
	assert_int_equal(parse_copy(f, sizeof(synack6), SOCCR_LINK_NONE, 0, &p), -EPROTONOSUPPORT);
	f[6] = 59; /* no next header */
	assert_int_equal(parse_copy(f, sizeof(synack6), SOCCR_LINK_NONE, 0, &p), -EPROTONOSUPPORT);
}

static void test_parse_rejects_bad_data_offset(void **state)
{
	uint8_t f[sizeof(syn4)];
	struct soccr_segment p;
	unsigned int doff;

	(void)state;
	for (doff = 0; doff < 16; doff++) {
		int want = doff < 5 || doff > 10 ? -EBADMSG : 0;

		memcpy(f, syn4, sizeof(f));
		f[20 + 12] = (uint8_t)(doff << 4);
		fix_v4(f);
		/* doff 6..9 cut an option short or leave it as payload: not our concern here */
		if (doff > 5 && doff < 10)
			continue;
		assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, &p), want);
	}
	/* doff 5: the options are payload now. */
	memcpy(f, syn4, sizeof(f));
	f[20 + 12] = 5 << 4;
	fix_v4(f);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.opts, 0);
	assert_int_equal(p.payload_len, 20);
}

/* syn4 with its 20 option bytes replaced by opt (zero-padded), checksums fixed. */
static int parse_with_opts(const uint8_t *opt, size_t n, struct soccr_segment *p)
{
	uint8_t f[sizeof(syn4)];

	assert_true(n <= 20);
	memcpy(f, syn4, sizeof(f));
	memset(f + 40, 0, 20);
	memcpy(f + 40, opt, n);
	fix_v4(f);
	return parse_copy(f, sizeof(f), SOCCR_LINK_NONE, 0, p);
}

static void test_parse_rejects_bad_option_lengths(void **state)
{
	/* clang-format off */
	static const struct {
		uint8_t o[20];
		size_t n;
	} bad[] = {
		{ { 2, 4, 5, 0xb4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 99 }, 20 }, /* no len */
		{ { 99, 0 }, 2 },					      /* length 0 */
		{ { 99, 1 }, 2 },					      /* length 1 */
		{ { 1, 1, 99, 19 }, 4 },				      /* past the end */
		{ { 2, 3, 5 }, 3 },					      /* MSS length 3 */
		{ { 2, 5, 5, 0xb4, 0 }, 5 },				      /* MSS length 5 */
		{ { 3, 4, 7, 0 }, 4 },					      /* WS length 4 */
		{ { 4, 3, 0 }, 3 },					      /* SACK_OK length 3 */
		{ { 8, 8, 0, 0, 0, 0, 0, 0 }, 8 },			      /* TS length 8 */
		{ { 8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 11 },		      /* TS length 11 */
	};
	/* clang-format on */
	struct soccr_segment p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_with_opts(bad[i].o, bad[i].n, &p);

		if (ret != -EBADMSG)
			print_message("bad option case %zu parsed as %d\n", i, ret);
		assert_int_equal(ret, -EBADMSG);
	}
}

static void test_parse_skips_unknown_options_and_stops_at_eol(void **state)
{
	/* SACK block (kind 5, len 10), unknown kind 253 (len 4), MSS, EOL, then junk. */
	/* clang-format off */
	static const uint8_t o[20] = { 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 253, 4, 2, 4,
				       2, 4, 0x12, 0x34, 0, 0xff };
	static const uint8_t eol_first[20] = { 0, 2, 4, 0x05, 0xb4, 0xff, 0xff };
	/* clang-format on */
	struct soccr_segment p;

	(void)state;
	assert_int_equal(parse_with_opts(o, sizeof(o), &p), 0);
	/* The MSS-looking bytes inside kind 253 were skipped, the real one read. */
	assert_int_equal(p.opts, SOCCR_OPT_MSS);
	assert_int_equal(p.mss, 0x1234);
	assert_int_equal(parse_with_opts(eol_first, sizeof(eol_first), &p), 0);
	assert_int_equal(p.opts, 0);
}

static void test_parse_bad_checksums_fail_unless_nocsum(void **state)
{
	uint8_t f[sizeof(finack4_eth)];
	struct soccr_segment p;

	(void)state;
	/* IPv4 header checksum. */
	memcpy(f, finack4_eth, sizeof(f));
	f[14 + 10] ^= 0x01;
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), -EBADMSG);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM, &p), 0);
	assert_false(p.ip_csum_ok);
	assert_true(p.tcp_csum_ok);
	/* TCP checksum: one payload bit flipped. */
	memcpy(f, finack4_eth, sizeof(f));
	f[sizeof(f) - 1] ^= 0x40;
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), -EBADMSG);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM, &p), 0);
	assert_true(p.ip_csum_ok);
	assert_false(p.tcp_csum_ok);
	assert_memory_equal(p.payload, "hell/", 5); /* 'o' ^ 0x40 */
}

static void test_parse_v6_bad_tcp_checksum(void **state)
{
	uint8_t f[sizeof(urg6_eth)];
	struct soccr_segment p;

	(void)state;
	memcpy(f, urg6_eth, sizeof(f));
	/* A changed source address breaks the pseudo-header sum. */
	f[14 + 8 + 15] ^= 0x80;
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), -EBADMSG);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, SOCCR_PARSE_NOCSUM, &p), 0);
	assert_true(p.ip_csum_ok);
	assert_false(p.tcp_csum_ok);
}

/*
 * synack6 with extension headers ext[0..n) inserted after the IPv6 header:
 * next-header chain and payload length fixed up. The TCP checksum stays valid
 * (the pseudo-header carries the TCP length, not the IPv6 payload length).
 */
static size_t v6_with_ext(uint8_t *f, const uint8_t *ext, size_t n, uint8_t first_nh)
{
	size_t plen = sizeof(synack6) - 40 + n;

	memcpy(f, synack6, 40);
	memcpy(f + 40, ext, n);
	memcpy(f + 40 + n, synack6 + 40, sizeof(synack6) - 40);
	f[4] = plen >> 8;
	f[5] = plen & 0xff;
	f[6] = first_nh;
	return 40 + n + sizeof(synack6) - 40;
}

static void test_parse_v6_extension_header_chain(void **state)
{
	/* hop-by-hop (8, PadN) -> dstopts (16) -> routing (24, segleft 0) -> atomic frag -> TCP */
	/* clang-format off */
	static const uint8_t ext[] = {
		60, 0, 1, 4, 0, 0, 0, 0,
		43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		44, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,
	};
	/* clang-format on */
	uint8_t f[sizeof(synack6) + sizeof(ext)];
	struct soccr_segment p;
	size_t len, cut;

	(void)state;
	len = v6_with_ext(f, ext, sizeof(ext), 0);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), 0);
	assert_int_equal(p.l4_off, 40 + sizeof(ext));
	assert_int_equal(p.tcp_hlen, 28);
	assert_int_equal(p.seq, 0xfffffff0);
	assert_int_equal(p.mss, 1440);
	assert_int_equal(p.payload_len, 0);
	assert_true(p.tcp_csum_ok);

	/* Truncated anywhere in the chain, by the buffer or by the payload length. */
	for (cut = 0; cut < len; cut++) {
		size_t plen = cut > 40 ? cut - 40 : 0;

		assert_int_equal(parse_copy(f, cut, SOCCR_LINK_NONE, 0, &p), -EBADMSG);
		if (cut < 40)
			continue;
		f[4] = plen >> 8;
		f[5] = plen & 0xff;
		assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EBADMSG);
		f[4] = (len - 40) >> 8;
		f[5] = (len - 40) & 0xff;
	}
}

static void test_parse_v6_rejects_bad_extension_headers(void **state)
{
	static const uint8_t frag_off[] = {44, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t dst_hbh[] = {0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0};
	static const uint8_t routing[] = {6, 0, 0, 1, 0, 0, 0, 0};
	static const uint8_t long_ext[] = {6, 200, 1, 4, 0, 0, 0, 0};
	uint8_t f[sizeof(synack6) + 16], fr[8];
	struct soccr_segment p;
	size_t len;

	(void)state;
	/* A fragment with offset 8, then one with offset 0 and M set. */
	memcpy(fr, frag_off, 8);
	fr[0] = 6;
	fr[3] = 0x08;
	len = v6_with_ext(f, fr, 8, 44);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EPROTONOSUPPORT);
	fr[3] = 0x01;
	len = v6_with_ext(f, fr, 8, 44);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EPROTONOSUPPORT);
	fr[3] = 0x00;
	len = v6_with_ext(f, fr, 8, 44);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), 0);

	/* Hop-by-hop after a destination-options header. */
	len = v6_with_ext(f, dst_hbh, sizeof(dst_hbh), 60);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EBADMSG);
	/* Two destination-options headers in a row are fine. */
	len = v6_with_ext(f, (const uint8_t[]){60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0}, 16,
			  60);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), 0);

	/* A routing header with a segment left: still in transit. */
	len = v6_with_ext(f, routing, sizeof(routing), 43);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EPROTONOSUPPORT);

	/* An extension header longer than the payload. */
	len = v6_with_ext(f, long_ext, sizeof(long_ext), 60);
	assert_int_equal(parse_copy(f, len, SOCCR_LINK_NONE, 0, &p), -EBADMSG);
}

static void test_parse_vlan_tag(void **state)
{
	uint8_t f[sizeof(urg6_eth) + 8];
	struct soccr_segment p;

	(void)state;
	/* 802.1Q: TPID 0x8100, PCP 1, VID 100, then the real ethertype. */
	memcpy(f, urg6_eth, 12);
	memcpy(f + 12, (const uint8_t[]){0x81, 0x00, 0x20, 0x64}, 4);
	memcpy(f + 16, urg6_eth + 12, sizeof(urg6_eth) - 12);
	assert_int_equal(parse_copy(f, sizeof(urg6_eth) + 4, SOCCR_LINK_ETH, 0, &p), 0);
	assert_true(p.vlan);
	assert_int_equal(p.vlan_id, 100);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 58);
	assert_memory_equal(p.payload, "abc", 3);
	/* Truncated inside the tag. */
	assert_int_equal(parse_copy(f, 15, SOCCR_LINK_ETH, 0, &p), -EBADMSG);
	assert_int_equal(parse_copy(f, 17, SOCCR_LINK_ETH, 0, &p), -EBADMSG);
	/* Two tags (QinQ) are not supported. */
	memcpy(f + 12, (const uint8_t[]){0x81, 0x00, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02}, 8);
	memcpy(f + 20, urg6_eth + 12, sizeof(urg6_eth) - 12);
	assert_int_equal(parse_copy(f, sizeof(f), SOCCR_LINK_ETH, 0, &p), -EPROTONOSUPPORT);
}

/* ---- formatting ----------------------------------------------------------------------- */

static void test_segment_str_summaries(void **state)
{
	struct soccr_segment s;
	char buf[256], small[8];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", &s.src.v4);
	inet_pton(AF_INET, "10.0.0.2", &s.dst.v4);
	s.sport = 80;
	s.dport = 4000;
	s.flags = SOCCR_TCP_FIN | SOCCR_TCP_ACK;
	s.seq = 1;
	s.ack = 2;
	s.window = 512;
	soccr_segment_str(&s, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1:80 > 10.0.0.2:4000 [FA] seq 1 ack 2 win 512 len 0");

	seg_synack6(&s);
	s.opts |= SOCCR_OPT_SACK_OK;
	soccr_segment_str(&s, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::1]:80 > [fd00::2]:40000 [SA] seq 4294967280 ack 287454021 "
				 "win 65535 len 0 mss 1440 wscale 14 sackOK");

	seg_urg6(&s);
	s.flags = 0;
	soccr_segment_str(&s, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::a]:1234 > [2001:db8::b]:443 [none] seq 7 ack 9 "
				 "win 100 len 3 TS val 3735928559 ecr 1");
	s.flags = SOCCR_TCP_URG;
	soccr_segment_str(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[U] seq 7 ack 9 win 100 urg 3 len 3"));

	/* Truncated like snprintf: the full length comes back. */
	assert_int_equal(soccr_segment_str(&s, small, sizeof(small)), strlen(buf));
	assert_string_equal(small, "[2001:d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_v4_syn_with_all_options_is_byte_exact),
		cmocka_unit_test(test_build_v4_eth_finack_odd_payload_is_byte_exact),
		cmocka_unit_test(test_build_v6_synack_mss_wscale_is_byte_exact),
		cmocka_unit_test(test_build_v6_eth_urg_ts_payload_is_byte_exact),
		cmocka_unit_test(test_build_sack_ok_alone_is_nop_nop_sackok),
		cmocka_unit_test(test_build_length_is_headers_options_payload),
		cmocka_unit_test(test_build_short_buffer_is_enospc_and_untouched),
		cmocka_unit_test(test_build_rejects_invalid_segments),
		cmocka_unit_test(test_build_enforces_16bit_ip_lengths),
		cmocka_unit_test(test_wscale_above_14_is_built_and_parsed_verbatim),
		cmocka_unit_test(test_set_seq_ack_equals_full_rebuild),
		cmocka_unit_test(test_set_seq_ack_rejects_foreign_frames),
		cmocka_unit_test(test_parse_v4_syn_fields),
		cmocka_unit_test(test_parse_v4_eth_finack_fields),
		cmocka_unit_test(test_parse_v6_fields),
		cmocka_unit_test(test_parse_rejects_every_truncation),
		cmocka_unit_test(test_parse_rejects_bad_arguments),
		cmocka_unit_test(test_parse_ignores_ethernet_padding),
		cmocka_unit_test(test_parse_rejects_bad_ip_version),
		cmocka_unit_test(test_parse_rejects_ihl_below_5),
		cmocka_unit_test(test_parse_rejects_ip_lengths_beyond_buffer),
		cmocka_unit_test(test_parse_ipv4_options_move_tcp_header),
		cmocka_unit_test(test_parse_rejects_ipv4_fragments),
		cmocka_unit_test(test_parse_rejects_non_tcp),
		cmocka_unit_test(test_parse_rejects_bad_data_offset),
		cmocka_unit_test(test_parse_rejects_bad_option_lengths),
		cmocka_unit_test(test_parse_skips_unknown_options_and_stops_at_eol),
		cmocka_unit_test(test_parse_bad_checksums_fail_unless_nocsum),
		cmocka_unit_test(test_parse_v6_bad_tcp_checksum),
		cmocka_unit_test(test_parse_v6_extension_header_chain),
		cmocka_unit_test(test_parse_v6_rejects_bad_extension_headers),
		cmocka_unit_test(test_parse_vlan_tag),
		cmocka_unit_test(test_segment_str_summaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
