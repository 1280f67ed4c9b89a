// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The one's-complement sum does not depend on byte order (RFC 1071 section
 * 2(B)): summing 16-bit words as they sit in memory, in host order, yields the
 * byte-swapped sum on a little-endian host, which lands in network order once
 * stored back to memory. So no byte swapping is needed anywhere here, and the
 * values returned are "network order": memcpy them straight into a header.
 *
 * It does not depend on the word width either, as 2^16 = 1 (mod 0xffff): we
 * add 64-bit words with end-around carry and fold the result down to 16 bits
 * at the end (RFC 1071 section 2(C), "parallel summation").
 */
#include <stdint.h>
#include <string.h>

#include <soccr/packet.h>

#include "internal.h"

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	/* memcpy: no alignment assumption; the compiler makes it one load. */
	memcpy(&v, p, sizeof(v));
	return v;
}

/* a + b with the carry out of bit 63 added back in (end-around carry). */
static inline uint64_t add64(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;

	return r + (r < b);
}

static inline uint32_t fold64(uint64_t s)
{
	/* Two rounds: the first can leave a carry in bit 32, the second cannot. */
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

SOCCR_API uint32_t soccr_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const unsigned char *p = data;
	uint64_t s = sum;

	if (len >= 32) {
		/*
		 * Four independent accumulators: each end-around carry depends on
		 * the previous add, so one chain would serialize the loop (about 3x
		 * slower on x86-64).
		 */
		uint64_t a = 0, b = 0, c = 0, d = 0;

		do {
			a = add64(a, load64(p));
			b = add64(b, load64(p + 8));
			c = add64(c, load64(p + 16));
			d = add64(d, load64(p + 24));
			p += 32;
			len -= 32;
		} while (len >= 32);
		s = add64(s, add64(add64(a, b), add64(c, d)));
	}
	while (len >= 8) {
		s = add64(s, load64(p));
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, sizeof(w));
		s = add64(s, w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, sizeof(w));
		s = add64(s, w);
		p += 2;
		len -= 2;
	}
	if (len) {
		/*
		 * An odd final byte is the first byte of a word padded with a zero
		 * byte (RFC 1071 section 4.1); building that word in memory gets it
		 * right on either endianness.
		 */
		uint16_t w = 0;

		memcpy(&w, p, 1);
		s = add64(s, w);
	}
	return fold64(s);
}

SOCCR_API uint16_t soccr_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

SOCCR_API uint16_t soccr_csum(const void *data, size_t len)
{
	return soccr_csum_fold(soccr_csum_partial(data, len, 0));
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 (HC' = HC + m + ~m')
 * it never turns a checksum that full recomputation gives as 0x0000 into
 * 0xffff (the "-0" problem of RFC 1624 section 3): the sum inside is zero only
 * when all three terms are zero.
 */
SOCCR_API uint16_t soccr_csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~csum;

	s += (uint16_t)~old;
	s += new_;
	return soccr_csum_fold(s);
}

SOCCR_API uint16_t soccr_csum_update32(uint16_t csum, uint32_t old, uint32_t new_)
{
	uint32_t s = (uint16_t)~csum;

	/* Both halves of each value: word order does not matter in the sum. */
	s += (uint16_t) ~(old >> 16);
	s += (uint16_t) ~(old & 0xffff);
	s += new_ >> 16;
	s += new_ & 0xffff;
	return soccr_csum_fold(s);
}
