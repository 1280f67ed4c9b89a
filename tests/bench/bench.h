/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared code of the benchmark programs (tests/bench/bench_*.c): clock,
 * series of per-round figures, medians, the BENCH output lines, target
 * verdicts, a private network namespace, and run-time bounds.
 *
 * Output contract (parsed by tests/bench/run.sh):
 *   BENCH <name> median=<value><unit> min=<v> max=<v> n=<rounds> [ratio_vs_<baseline>=<x>]
 *     min and max are in the same unit as the median. ratio_vs_X is the
 *     median over rounds of (this figure / X's figure in the same round):
 *     below 1 means faster than X.
 *   TARGET <figure> <MET|MISSED|N/A> <what>: <measured>
 *   SKIPPED <program or figure>: <why>
 *
 * Rounds are interleaved (ours, baseline, ours, baseline, ...), so a noisy
 * machine slows both sides alike and the ratios hold.
 *
 * Each program includes this header once; everything here is static.
 */
#ifndef SOCCR_BENCH_H
#define SOCCR_BENCH_H

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_ROUNDS 64
#define BENCH_MAX_SERIES 48

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One figure: one value per round, in its display unit. */
struct bench_series {
	char name[64];
	const char *unit; /* "ns", "us", "ms", "GB/s", ... */
	double v[BENCH_MAX_ROUNDS];
	int n;
};

static struct bench_series bench_all[BENCH_MAX_SERIES];
static int bench_nall;
static const char *bench_prog = "bench";
static uint64_t bench_t0;

static inline struct bench_series *bench_series(const char *name, const char *unit)
{
	struct bench_series *s;

	for (int i = 0; i < bench_nall; i++)
		if (!strcmp(bench_all[i].name, name))
			return &bench_all[i];
	if (bench_nall == BENCH_MAX_SERIES) {
		fprintf(stderr, "%s: too many series\n", bench_prog);
		exit(1);
	}
	s = &bench_all[bench_nall++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->unit = unit;
	return s;
}

static inline void bench_add(struct bench_series *s, double v)
{
	if (s->n < BENCH_MAX_ROUNDS)
		s->v[s->n++] = v;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static inline double bench_median_of(const double *v, int n)
{
	double tmp[BENCH_MAX_ROUNDS];

	if (n <= 0)
		return 0;
	memcpy(tmp, v, (size_t)n * sizeof(*v));
	qsort(tmp, (size_t)n, sizeof(*tmp), bench_cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static inline double bench_median(const struct bench_series *s)
{
	return bench_median_of(s->v, s->n);
}

static inline double bench_min(const struct bench_series *s)
{
	double m = s->n ? s->v[0] : 0;

	for (int i = 1; i < s->n; i++)
		if (s->v[i] < m)
			m = s->v[i];
	return m;
}

static inline double bench_max(const struct bench_series *s)
{
	double m = s->n ? s->v[0] : 0;

	for (int i = 1; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

/*
 * Ratio of s to base: the median of the per-round ratios when both were
 * measured in the same rounds (paired, robust to drift), else the ratio of
 * the medians. 0 if unknown.
 */
static inline double bench_ratio(const struct bench_series *s, const struct bench_series *base)
{
	double r[BENCH_MAX_ROUNDS];
	int n = 0;

	if (!s->n || !base->n)
		return 0;
	if (s->n == base->n) {
		for (int i = 0; i < s->n; i++)
			if (base->v[i] > 0)
				r[n++] = s->v[i] / base->v[i];
		if (n == s->n)
			return bench_median_of(r, n);
	}
	return bench_median(base) > 0 ? bench_median(s) / bench_median(base) : 0;
}

static inline const char *bench_fmt(char *buf, size_t len, double v)
{
	double a = v < 0 ? -v : v;

	if (a >= 1000 || a == 0)
		snprintf(buf, len, "%.0f", v);
	else if (a >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (a >= 10)
		snprintf(buf, len, "%.2f", v);
	else if (a >= 1)
		snprintf(buf, len, "%.3f", v);
	else
		snprintf(buf, len, "%.4g", v);
	return buf;
}

/* Strip the program's figure prefix ("inject_fin_libnet" -> "libnet") for ratio names. */
static inline const char *bench_short(const char *name, const char *prefix)
{
	size_t l = strlen(prefix);

	if (!strncmp(name, prefix, l) && name[l] == '_')
		return name + l + 1;
	return name;
}

/*
 * Print the BENCH line of s, with ratios against each baseline given (NULL
 * terminated; baselines with no values are left out).
 */
static inline void bench_report(const struct bench_series *s, const char *prefix, ...)
{
	char m[32], lo[32], hi[32], r[32];
	const struct bench_series *b;
	va_list ap;

	if (!s->n)
		return;
	printf("BENCH %s median=%s%s min=%s max=%s n=%d", s->name,
	       bench_fmt(m, sizeof(m), bench_median(s)), s->unit,
	       bench_fmt(lo, sizeof(lo), bench_min(s)), bench_fmt(hi, sizeof(hi), bench_max(s)),
	       s->n);
	va_start(ap, prefix);
	while ((b = va_arg(ap, const struct bench_series *)))
		if (b->n)
			printf(" ratio_vs_%s=%s", bench_short(b->name, prefix),
			       bench_fmt(r, sizeof(r), bench_ratio(s, b)));
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* A target verdict line. */
static inline void bench_target(const char *figure, bool measured, bool met, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void bench_target(const char *figure, bool measured, bool met, const char *fmt, ...)
{
	va_list ap;

	printf("TARGET %s %s ", figure, !measured ? "N/A" : met ? "MET" : "MISSED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void bench_skip(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void bench_skip(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("SKIPPED %s: ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* A short human table of every series of this program. */
static inline void bench_table(void)
{
	char m[32], lo[32], hi[32];

	printf("\n  %-44s %12s %12s %12s %4s\n", "figure", "median", "min", "max", "n");
	for (int i = 0; i < bench_nall; i++) {
		const struct bench_series *s = &bench_all[i];

		if (!s->n)
			continue;
		printf("  %-44s %10s%-2s %12s %12s %4d\n", s->name,
		       bench_fmt(m, sizeof(m), bench_median(s)), s->unit,
		       bench_fmt(lo, sizeof(lo), bench_min(s)),
		       bench_fmt(hi, sizeof(hi), bench_max(s)), s->n);
	}
	printf("  (%s: %.1f s)\n\n", bench_prog, (double)(bench_now_ns() - bench_t0) / 1e9);
	fflush(stdout);
}

static inline long bench_env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "%s: ignoring %s=%s (want %ld..%ld)\n", bench_prog, name, s, min,
			max);
		return def;
	}
	return v;
}

/* Interleaved rounds: BENCH_ROUNDS (default 11, at least 5). */
static inline int bench_rounds(void)
{
	return (int)bench_env_long("BENCH_ROUNDS", 11, 5, BENCH_MAX_ROUNDS);
}

/*
 * Program start: name it, line-buffer stdout, and (bench_init()) check for
 * root (netns, raw sockets, BPF): without it print SKIPPED and exit 0 (a
 * skipped benchmark is not a crash). bench_init_unprivileged() is for the
 * programs that need no privileges.
 */
static inline void bench_init_unprivileged(const char *prog)
{
	bench_prog = prog;
	bench_t0 = bench_now_ns();
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline void bench_init(const char *prog)
{
	bench_init_unprivileged(prog);
	if (geteuid() != 0) {
		bench_skip(prog, "needs root (network namespaces, raw sockets, BPF)");
		exit(0);
	}
}

/* Set an interface UP in the current netns. 0 or -errno. */
static inline int bench_if_up(const char *ifname)
{
	struct ifreq ifr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}

/*
 * Move the whole (single-threaded) process into a fresh network namespace
 * with lo up, so nothing we send leaves the machine or meets the host's
 * firewall. The namespace goes away with its last socket. 0 or -errno.
 */
static inline int bench_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	return bench_if_up("lo");
}

/* Raise RLIMIT_NOFILE to at least want. 0 or -errno. */
static inline int bench_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", bench_prog, what, strerror(err < 0 ? -err : err));
	exit(1);
}

/*
 * The textbook RFC 1071 (section 4.1) checksum: add 16-bit words one at a
 * time into a 32-bit accumulator, then fold. Words are read in host order,
 * which by the byte-order independence of the one's-complement sum (RFC 1071
 * section 2.B) yields the checksum in network order as stored in memory.
 * The baseline of the checksum figure, and the bench's own frame builder.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* One word at a time for real: keep GCC's -O2 vectoriser off this loop. */
__attribute__((optimize("no-tree-vectorize")))
#endif
static inline uint16_t
bench_naive_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint16_t w;

	while (len > 1) {
		memcpy(&w, p, sizeof(w));
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, 1);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * A counter of the "Tcp:" MIB of the current network namespace
 * (/proc/self/net/snmp, e.g. "InSegs", "OutRsts"), or -1. The benchmarks use
 * it to check that what they send is really received by the stack.
 */
static inline long long bench_tcp_mib(const char *field)
{
	char names[1024], values[1024], *n, *v, *sn, *sv;
	long long ret = -1;
	FILE *f;

	f = fopen("/proc/self/net/snmp", "re");
	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f)) {
		if (strncmp(names, "Tcp:", 4))
			continue;
		if (!fgets(values, sizeof(values), f))
			break;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(values, " \n", &sv);
		while (n && v) {
			if (!strcmp(n, field)) {
				ret = strtoll(v, NULL, 10);
				break;
			}
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	fclose(f);
	return ret;
}

#endif /* SOCCR_BENCH_H */
