// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * RFC 1071 checksum and RFC 1624 incremental update, checked against a
 * deliberately naive reference (big-endian 16-bit words, one at a time, in a
 * wide accumulator) and against the RFCs' own examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/packet.h>

/* splitmix64: a fixed, portable sequence (rand() differs between libcs). */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

/* The textbook algorithm, host-independent: the 16-bit sum, not complemented. */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Our checksum as a host-order number. */
static uint16_t csum_host(const void *p, size_t n)
{
	return ntohs(soccr_csum(p, n));
}

static void test_rfc1071_example_sum_and_checksum(void **state)
{
	/* RFC 1071 section 3: these bytes sum to 0xddf2; the checksum is its complement. */
	static const uint8_t v[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t sum;

	(void)state;
	sum = (uint16_t)~soccr_csum_fold(soccr_csum_partial(v, sizeof(v), 0));
	assert_int_equal(ntohs(sum), 0xddf2);
	assert_int_equal(csum_host(v, sizeof(v)), 0x220d);
	assert_int_equal(ref_sum(v, sizeof(v)), 0xddf2);
}

static void test_known_short_and_odd_vectors(void **state)
{
	static const uint8_t one[] = {0x01}, three[] = {0xab, 0xcd, 0x12};
	static const uint8_t ff3[] = {0xff, 0xff, 0xff};

	(void)state;
	assert_int_equal(csum_host(NULL, 0), 0xffff);  /* empty: sum 0 */
	assert_int_equal(csum_host(one, 1), 0xfeff);   /* the odd byte is the high byte */
	assert_int_equal(csum_host(three, 3), 0x4232); /* ~(0xabcd + 0x1200) */
	assert_int_equal(csum_host(ff3, 3), 0x00ff);   /* 0xffff + 0xff00 carries */
	assert_int_equal(csum_host(ff3, 2), 0x0000);   /* sum 0xffff ("-0") */
}

static void test_every_length_matches_reference(void **state)
{
	uint8_t buf[600];
	size_t n;
	int round;

	(void)state;
	rng_state = 1;
	for (round = 0; round < 8; round++) {
		fill(buf, sizeof(buf));
		for (n = 0; n <= sizeof(buf); n++)
			assert_int_equal(csum_host(buf, n), (uint16_t)~ref_sum(buf, n));
	}
}

static void test_all_ones_carries(void **state)
{
	size_t big = (1u << 20) + 3, n;
	uint8_t *buf = malloc(big);

	(void)state;
	assert_non_null(buf);
	memset(buf, 0xff, big);
	/* Every 64-bit add overflows; the end-around carries must all come back. */
	for (n = 0; n < 300; n++)
		assert_int_equal(csum_host(buf, n), (uint16_t)~ref_sum(buf, n));
	assert_int_equal(csum_host(buf, big - 3), 0x0000);
	assert_int_equal(csum_host(buf, big), 0x00ff);
	/* Alternating 0xff.. and 0x00..01 words: carries ripple across the word. */
	for (n = 0; n < big; n++)
		buf[n] = (n & 8) ? (n % 8 == 7 ? 0x01 : 0x00) : 0xff;
	assert_int_equal(csum_host(buf, big), (uint16_t)~ref_sum(buf, big));
	free(buf);
}

static void test_unaligned_start(void **state)
{
	uint8_t src[300], buf[300 + 16];
	size_t off, n;

	(void)state;
	rng_state = 2;
	fill(src, sizeof(src));
	for (off = 0; off < 16; off++) {
		memcpy(buf + off, src, sizeof(src));
		for (n = 0; n <= sizeof(src); n += 1 + n / 16)
			assert_int_equal(soccr_csum(buf + off, n), soccr_csum(src, n));
	}
}

static void test_partial_chaining_equals_one_shot(void **state)
{
	uint8_t buf[1024];
	size_t n, a, b;
	uint32_t s;

	(void)state;
	rng_state = 3;
	fill(buf, sizeof(buf));
	for (n = 0; n < 200; n++) {
		/* Every split into two even-length pieces and an arbitrary tail. */
		for (a = 0; a <= n; a += 2) {
			for (b = a; b <= n; b += 6) {
				s = soccr_csum_partial(buf, a, 0);
				s = soccr_csum_partial(buf + a, b - a, s);
				s = soccr_csum_partial(buf + b, n - b, s);
				assert_int_equal(soccr_csum_fold(s), soccr_csum(buf, n));
			}
		}
	}
	/* A starting sum of any 32-bit value folds in like data. */
	for (n = 0; n < 1000; n++) {
		uint32_t start = (uint32_t)rnd();
		uint8_t w[4];

		if (n == 0)
			start = 0xffffffff;
		memcpy(w, &start, 4); /* the same words, as bytes in memory */
		memcpy(buf, w, 4);
		assert_int_equal(soccr_csum_fold(soccr_csum_partial(buf + 4, 101, start)),
				 soccr_csum(buf, 105));
	}
}

/* RFC 1624 eqn. 2, HC' = HC + m + ~m': the form that can produce -0 (0xffff). */
static uint16_t eqn2(uint16_t hc, uint16_t m, uint16_t m2)
{
	uint32_t s = (uint32_t)hc + m + (uint16_t)~m2;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * RFC 1624 section 3's example: the rest of the header sums to 0xcd7a and a
 * field changes from 0x5555 to 0x3285, so the new sum is 0xffff and the
 * correct checksum is 0x0000. Eqn. 2 gets 0xffff; eqn. 3 (ours) gets 0x0000.
 */
static void test_rfc1624_corner_case_gives_0000_not_ffff(void **state)
{
	uint8_t h[6] = {0xcd, 0x7a, 0x55, 0x55, 0, 0};
	uint16_t hc, hc2, m = htons(0x5555), m2 = htons(0x3285);
	uint32_t m32, m32b;

	(void)state;
	hc = soccr_csum(h, sizeof(h));
	assert_int_equal(ntohs(hc), 0xdd2f);
	assert_int_equal(ntohs(eqn2(hc, m, m2)), 0xffff); /* the bug eqn. 3 avoids */

	hc2 = soccr_csum_update16(hc, m, m2);
	assert_int_equal(ntohs(hc2), 0x0000);
	memcpy(h + 2, &m2, 2);
	assert_int_equal(soccr_csum(h, sizeof(h)), hc2); /* full recomputation agrees */
	memcpy(h + 4, &hc2, 2);
	assert_int_equal(soccr_csum(h, sizeof(h)), 0); /* and the header verifies */

	/* The same through the 32-bit update: 0x5555 0x0000 -> 0x3285 0x0000. */
	memcpy(&m32, (const uint8_t[]){0x55, 0x55, 0, 0}, 4);
	memcpy(&m32b, (const uint8_t[]){0x32, 0x85, 0, 0}, 4);
	assert_int_equal(ntohs(soccr_csum_update32(hc, m32, m32b)), 0x0000);
}

static void test_update_with_equal_values_keeps_checksum(void **state)
{
	int i;

	(void)state;
	rng_state = 4;
	for (i = 0; i < 10000; i++) {
		uint16_t c = (uint16_t)rnd(), m = (uint16_t)rnd();
		uint32_t w = (uint32_t)rnd();

		if (c == 0xffff) /* -0 comes back as the canonical +0 form */
			continue;
		assert_int_equal(soccr_csum_update16(c, m, m), c);
		assert_int_equal(soccr_csum_update32(c, w, w), c);
	}
}

/*
 * A 64-byte "header" with its checksum at offset 10; many random rewrites of
 * 16- and 32-bit fields at any 16-bit-aligned offset, each updated
 * incrementally and compared with a full recomputation.
 */
static void incremental_vs_full(int width)
{
	uint8_t h[64];
	uint16_t c, full;
	int i;

	rng_state = 5 + (uint64_t)width;
	fill(h, sizeof(h));
	h[10] = h[11] = 0;
	c = soccr_csum(h, sizeof(h));
	memcpy(h + 10, &c, 2);
	for (i = 0; i < 100000; i++) {
		size_t off;

		do
			off = (rnd() % (sizeof(h) / 2 - (size_t)width / 16 + 1)) * 2;
		while (off + (size_t)width / 8 > 10 && off < 12);
		if (width == 16) {
			uint16_t o, n = (uint16_t)rnd();

			/* Now and then a value made of all-zero or all-one bits. */
			if (i % 7 == 0)
				n = (i % 14) ? 0xffff : 0;
			memcpy(&o, h + off, 2);
			memcpy(h + off, &n, 2);
			c = soccr_csum_update16(c, o, n);
		} else {
			uint32_t o, n = (uint32_t)rnd();

			if (i % 7 == 0)
				n = (i % 14) ? 0xffffffff : 0;
			memcpy(&o, h + off, 4);
			memcpy(h + off, &n, 4);
			c = soccr_csum_update32(c, o, n);
		}
		h[10] = h[11] = 0;
		full = soccr_csum(h, sizeof(h));
		assert_int_equal(c, full);
		memcpy(h + 10, &c, 2);
		assert_int_equal(soccr_csum(h, sizeof(h)), 0);
	}
}

static void test_incremental16_matches_full_recomputation(void **state)
{
	(void)state;
	incremental_vs_full(16);
}

static void test_incremental32_matches_full_recomputation(void **state)
{
	(void)state;
	incremental_vs_full(32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example_sum_and_checksum),
		cmocka_unit_test(test_known_short_and_odd_vectors),
		cmocka_unit_test(test_every_length_matches_reference),
		cmocka_unit_test(test_all_ones_carries),
		cmocka_unit_test(test_unaligned_start),
		cmocka_unit_test(test_partial_chaining_equals_one_shot),
		cmocka_unit_test(test_rfc1624_corner_case_gives_0000_not_ffff),
		cmocka_unit_test(test_update_with_equal_values_keeps_checksum),
		cmocka_unit_test(test_incremental16_matches_full_recomputation),
		cmocka_unit_test(test_incremental32_matches_full_recomputation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
