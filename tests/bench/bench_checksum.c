// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * checksum: soccr_csum() against the textbook RFC 1071 loop (one 16-bit
 * word at a time, bench_naive_csum() in bench.h) over 64 B, 1500 B and
 * 64 KiB buffers, hot in cache: ns per buffer and GB/s.
 *
 * The results of both are compared first over many lengths and alignments:
 * a fast wrong checksum is not a result.
 *
 * Needs no privileges. Env: BENCH_ROUNDS (11), BENCH_CSUM_BYTES (bytes
 * summed per side and round, 32 MiB).
 */
#include <soccr/packet.h>

#include "bench.h"

#define PREFIX	"checksum"
#define MAX_BUF 65536

static const struct {
	const char *tag;
	size_t len;
} sizes[] = {
	{"64B", 64},
	{"1500B", 1500},
	{"64KiB", 65536},
};

#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Keeps the compiler from dropping the loops. */
static volatile uint32_t sink;

static double run_ours(const uint8_t *buf, size_t len, long reps)
{
	uint32_t acc = 0;
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < reps; i++) {
		acc += soccr_csum(buf, len);
		/* Make each call depend on the buffer as the compiler sees it. */
		__asm__ volatile("" : : "r"(buf) : "memory");
	}
	sink += acc;
	return (double)(bench_now_ns() - t0) / (double)reps;
}

static double run_naive(const uint8_t *buf, size_t len, long reps)
{
	uint32_t acc = 0;
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < reps; i++) {
		acc += bench_naive_csum(buf, len, 0);
		__asm__ volatile("" : : "r"(buf) : "memory");
	}
	sink += acc;
	return (double)(bench_now_ns() - t0) / (double)reps;
}

static void check_same(const uint8_t *buf)
{
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 1600; len += 1 + len / 64) {
			uint16_t a = soccr_csum(buf + off, len),
				 b = bench_naive_csum(buf + off, len, 0);

			if (a != b) {
				fprintf(stderr,
					"%s: soccr_csum(off %zu, len %zu) = %#x, RFC 1071 says "
					"%#x\n",
					bench_prog, off, len, a, b);
				exit(1);
			}
		}
	if (soccr_csum(buf, MAX_BUF) != bench_naive_csum(buf, MAX_BUF, 0)) {
		fprintf(stderr, "%s: soccr_csum differs from RFC 1071 over 64 KiB\n", bench_prog);
		exit(1);
	}
}

int main(void)
{
	struct bench_series *ns_ours[NSIZES], *ns_naive[NSIZES], *gb_ours[NSIZES],
		*gb_naive[NSIZES];
	char name[64];
	uint8_t *buf;
	long bytes;
	int rounds;

	bench_init_unprivileged("bench_checksum");
	rounds = bench_rounds();
	bytes = bench_env_long("BENCH_CSUM_BYTES", 32L << 20, 1L << 16, 1L << 32);

	/* 8 spare bytes for the alignment checks; random contents (carries happen). */
	buf = aligned_alloc(64, MAX_BUF + 64);
	if (!buf)
		bench_die("aligned_alloc", ENOMEM);
	srand(7);
	for (size_t i = 0; i < MAX_BUF + 64; i++)
		buf[i] = (uint8_t)rand();
	check_same(buf);

	for (size_t k = 0; k < NSIZES; k++) {
		snprintf(name, sizeof(name), PREFIX "_ours_%s", sizes[k].tag);
		ns_ours[k] = bench_series(name, "ns");
		snprintf(name, sizeof(name), PREFIX "_naive_%s", sizes[k].tag);
		ns_naive[k] = bench_series(name, "ns");
		snprintf(name, sizeof(name), PREFIX "_ours_%s_gbps", sizes[k].tag);
		gb_ours[k] = bench_series(name, "GB/s");
		snprintf(name, sizeof(name), PREFIX "_naive_%s_gbps", sizes[k].tag);
		gb_naive[k] = bench_series(name, "GB/s");
	}

	for (int r = 0; r <= rounds; r++) {
		for (size_t k = 0; k < NSIZES; k++) {
			long reps = bytes / (long)sizes[k].len;
			double a, b;

			/* Alternate which side goes first. */
			if (r % 2) {
				a = run_ours(buf, sizes[k].len, reps);
				b = run_naive(buf, sizes[k].len, reps);
			} else {
				b = run_naive(buf, sizes[k].len, reps);
				a = run_ours(buf, sizes[k].len, reps);
			}
			if (!r)
				continue; /* warm-up */
			bench_add(ns_ours[k], a);
			bench_add(ns_naive[k], b);
			bench_add(gb_ours[k], (double)sizes[k].len / a);
			bench_add(gb_naive[k], (double)sizes[k].len / b);
		}
	}

	for (size_t k = 0; k < NSIZES; k++) {
		bench_report(ns_ours[k], PREFIX, ns_naive[k], NULL);
		bench_report(ns_naive[k], PREFIX, NULL);
	}
	for (size_t k = 0; k < NSIZES; k++) {
		bench_report(gb_ours[k], PREFIX, gb_naive[k], NULL);
		bench_report(gb_naive[k], PREFIX, NULL);
	}
	/* No numeric target in the issue: say how much faster we are. */
	for (size_t k = 0; k < NSIZES; k++) {
		double r = bench_ratio(ns_ours[k], ns_naive[k]);

		bench_target(ns_ours[k]->name, true, r > 0 && r <= 1.0,
			     "faster than the naive RFC 1071 loop: %.2fx", r > 0 ? 1 / r : 0);
	}
	free(buf);
	bench_table();
	return 0;
}
