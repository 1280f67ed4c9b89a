// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Randomized builder -> parser round trips: IPv4/IPv6, with and without
 * Ethernet, random option subsets and payloads of 0..1460 bytes (odd lengths
 * included), every field compared. Deterministic: the seed is printed, and
 * SOCCR_SEED=<n> in the environment replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/packet.h>

#define ROUNDS	     12000
#define MAX_PAYLOAD  1460
#define DEFAULT_SEED 0x50cc7ull

static uint64_t seed, rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(void *p, size_t n)
{
	uint8_t *b = p;

	while (n--)
		*b++ = (uint8_t)rnd();
}

static int setup(void **state)
{
	const char *env = getenv("SOCCR_SEED");

	(void)state;
	seed = env && *env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	print_message("round-trip seed: SOCCR_SEED=0x%llx\n", (unsigned long long)seed);
	return 0;
}

static void random_segment(struct soccr_segment *s, uint8_t *payload, enum soccr_link *link)
{
	memset(s, 0, sizeof(*s));
	s->family = rnd() & 1 ? AF_INET6 : AF_INET;
	*link = rnd() & 1 ? SOCCR_LINK_ETH : SOCCR_LINK_NONE;
	fill(&s->src, sizeof(s->src));
	fill(&s->dst, sizeof(s->dst));
	s->sport = (uint16_t)rnd();
	s->dport = (uint16_t)rnd();
	s->seq = (uint32_t)rnd();
	s->ack = (uint32_t)rnd();
	s->flags = (uint8_t)rnd();
	s->window = (uint16_t)rnd();
	s->urg_ptr = (uint16_t)rnd();
	s->opts = rnd() & 0xf;
	s->mss = (uint16_t)rnd();
	s->wscale = (uint8_t)rnd();
	s->ts_val = (uint32_t)rnd();
	s->ts_ecr = (uint32_t)rnd();
	/* Both ends and the odd/even boundary often, the rest uniform. */
	switch (rnd() % 8) {
	case 0:
		s->payload_len = 0;
		break;
	case 1:
		s->payload_len = MAX_PAYLOAD - rnd() % 2;
		break;
	case 2:
		s->payload_len = 1 + rnd() % 3;
		break;
	default:
		s->payload_len = rnd() % (MAX_PAYLOAD + 1);
	}
	fill(payload, s->payload_len);
	s->payload = payload;
	s->ttl = rnd() % 4 == 0 ? 0 : (uint8_t)rnd();
	s->ip_id = (uint16_t)rnd();
	s->df = rnd() & 1;
	fill(s->eth_src, SOCCR_ETH_ALEN);
	fill(s->eth_dst, SOCCR_ETH_ALEN);
}

static size_t expected_optlen(unsigned int o)
{
	return (o & SOCCR_OPT_MSS ? 4 : 0) + (o & SOCCR_OPT_WSCALE ? 4 : 0) +
	       (o & SOCCR_OPT_TS ? 12 : (o & SOCCR_OPT_SACK_OK ? 4 : 0));
}

/* Everything the builder was given must come back, as the wire defines it. */
static void compare(const struct soccr_segment *s, enum soccr_link link,
		    const struct soccr_segment *p, const uint8_t *frame, size_t len)
{
	size_t l3 = link == SOCCR_LINK_ETH ? SOCCR_ETH_HLEN : 0;
	size_t l4 = l3 + (s->family == AF_INET ? 20 : 40);

	assert_int_equal(p->family, s->family);
	if (s->family == AF_INET) {
		assert_memory_equal(&p->src.v4, &s->src.v4, 4);
		assert_memory_equal(&p->dst.v4, &s->dst.v4, 4);
		assert_int_equal(p->ip_id, s->ip_id);
		assert_int_equal(p->df, s->df);
	} else {
		assert_memory_equal(&p->src.v6, &s->src.v6, 16);
		assert_memory_equal(&p->dst.v6, &s->dst.v6, 16);
		assert_int_equal(p->ip_id, 0);
		assert_false(p->df);
	}
	assert_int_equal(p->sport, s->sport);
	assert_int_equal(p->dport, s->dport);
	assert_int_equal(p->seq, s->seq);
	assert_int_equal(p->ack, s->ack);
	assert_int_equal(p->flags, s->flags);
	assert_int_equal(p->window, s->window);
	assert_int_equal(p->urg_ptr, (s->flags & SOCCR_TCP_URG) ? s->urg_ptr : 0);
	assert_int_equal(p->opts, s->opts);
	assert_int_equal(p->mss, (s->opts & SOCCR_OPT_MSS) ? s->mss : 0);
	assert_int_equal(p->wscale, (s->opts & SOCCR_OPT_WSCALE) ? s->wscale : 0);
	assert_int_equal(p->ts_val, (s->opts & SOCCR_OPT_TS) ? s->ts_val : 0);
	assert_int_equal(p->ts_ecr, (s->opts & SOCCR_OPT_TS) ? s->ts_ecr : 0);
	assert_int_equal(p->ttl, s->ttl ? s->ttl : 64);
	assert_int_equal(p->payload_len, s->payload_len);
	assert_ptr_equal(p->payload, frame + len - s->payload_len);
	assert_memory_equal(p->payload, s->payload, s->payload_len);
	if (link == SOCCR_LINK_ETH) {
		assert_memory_equal(p->eth_src, s->eth_src, SOCCR_ETH_ALEN);
		assert_memory_equal(p->eth_dst, s->eth_dst, SOCCR_ETH_ALEN);
	}
	assert_false(p->vlan);
	assert_int_equal(p->vlan_id, 0);
	assert_int_equal(p->l3_off, l3);
	assert_int_equal(p->l4_off, l4);
	assert_int_equal(p->tcp_hlen, 20 + expected_optlen(s->opts));
	assert_true(p->ip_csum_ok);
	assert_true(p->tcp_csum_ok);
}

static void test_random_roundtrip_build_parse_every_field(void **state)
{
	static uint8_t payload[MAX_PAYLOAD];
	unsigned int i, n_v4 = 0, n_eth = 0, n_odd = 0;

	(void)state;
	rng_state = seed;
	for (i = 0; i < ROUNDS; i++) {
		struct soccr_segment s, p;
		enum soccr_link link;
		uint8_t *frame;
		ssize_t len;

		random_segment(&s, payload, &link);
		len = soccr_pkt_len(&s, link);
		assert_true(len > 0);
		/* Exactly the announced size on the heap: ASan sees any overrun. */
		frame = malloc((size_t)len);
		assert_non_null(frame);
		assert_int_equal(soccr_pkt_build(&s, link, frame, (size_t)len), len);
		assert_int_equal(soccr_pkt_parse(frame, (size_t)len, link, 0, &p), 0);
		compare(&s, link, &p, frame, (size_t)len);

		/* Half the time: rewrite seq/ack incrementally, the frame stays valid. */
		if (rnd() & 1) {
			s.seq = (uint32_t)rnd();
			s.ack = (uint32_t)rnd();
			assert_int_equal(
				soccr_pkt_set_seq_ack(frame, (size_t)len, link, s.seq, s.ack), 0);
			assert_int_equal(soccr_pkt_parse(frame, (size_t)len, link, 0, &p), 0);
			compare(&s, link, &p, frame, (size_t)len);
		}
		n_v4 += s.family == AF_INET;
		n_eth += link == SOCCR_LINK_ETH;
		n_odd += s.payload_len & 1;
		free(frame);
	}
	print_message("%u packets: %u IPv4, %u Ethernet, %u odd payloads\n", ROUNDS, n_v4, n_eth,
		      n_odd);
	/* The mix really was mixed. */
	assert_true(n_v4 > ROUNDS / 3 && n_v4 < 2 * ROUNDS / 3);
	assert_true(n_eth > ROUNDS / 3 && n_eth < 2 * ROUNDS / 3);
	assert_true(n_odd > ROUNDS / 4);
}

/*
 * One flipped bit anywhere in the TCP segment is caught (by the checksum, or
 * as a malformed header first); in the IPv4 header it is caught too (header
 * checksum, or a length/version/protocol/fragment check).
 */
static void test_random_single_bit_flips_are_rejected(void **state)
{
	static uint8_t payload[MAX_PAYLOAD];
	unsigned int i, j;

	(void)state;
	rng_state = seed ^ 0xb17f11b5ull;
	for (i = 0; i < 500; i++) {
		struct soccr_segment s, p;
		enum soccr_link link;
		uint8_t frame[SOCCR_ETH_HLEN + 40 + 60 + MAX_PAYLOAD];
		size_t l3, l4, len;

		random_segment(&s, payload, &link);
		len = (size_t)soccr_pkt_build(&s, link, frame, sizeof(frame));
		l3 = link == SOCCR_LINK_ETH ? SOCCR_ETH_HLEN : 0;
		l4 = l3 + (s.family == AF_INET ? 20 : 40);
		for (j = 0; j < 40; j++) {
			size_t bit = l3 * 8 + rnd() % ((len - l3) * 8);
			int ret;

			/*
			 * IPv6 has no header checksum: traffic class, flow label and
			 * hop limit are unprotected (the version nibble is checked, the
			 * lengths and addresses reach the TCP checksum).
			 */
			if (s.family == AF_INET6 && bit < l4 * 8) {
				size_t b = bit / 8 - l3;

				if ((b < 4 && !(b == 0 && bit % 8 >= 4)) || b == 7)
					continue;
			}
			frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			ret = soccr_pkt_parse(frame, len, link, 0, &p);
			if (bit >= l4 * 8)
				assert_int_equal(ret, -EBADMSG);
			else
				assert_true(ret == -EBADMSG || ret == -EPROTONOSUPPORT);
			frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(soccr_pkt_parse(frame, len, link, 0, &p), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_roundtrip_build_parse_every_field),
		cmocka_unit_test(test_random_single_bit_flips_are_rejected),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
