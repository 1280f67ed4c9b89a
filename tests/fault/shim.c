// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault injection for tests: an LD_PRELOAD shim that makes the N-th call of
 * one chosen function fail with a chosen errno (or stop the process there).
 * Used only by tests; never linked into the library or the tool.
 *
 * Interposed: socket, setsockopt, getsockopt, bind, connect, send, sendto,
 * sendmsg, sendmmsg, recv, recvfrom, recvmsg, shutdown, ioctl, malloc, calloc, realloc, and
 * the bpf(2) system call (libbpf issues it with syscall(__NR_bpf, ...)).
 * Symbols from the test program, from libsoccr.a linked into it, and from
 * the shared libraries it loads (libbpf, libelf, libc's own internal
 * allocations) all resolve to the shim first, since a preloaded object comes
 * right after the executable in the lookup order.
 *
 * Driving it:
 *  - SOCCR_FAULT=FUNC:N[:ERR][,FUNC:N[:ERR]...] in the environment arms it at
 *    load time: the N-th call (from 1) of FUNC fails with errno ERR (a name
 *    such as EPERM, or a number; default per function), or with ERR "stop"
 *    the process stops itself (SIGSTOP) just before that call and performs
 *    it normally once continued. For driving programs such as `soccr`.
 *  - In-process, through the functions below (found with dlsym(), see
 *    tests/fault/fault.h): arm with a spec (counters reset), run the
 *    operation, disarm, read the call counts. Calls are counted only while
 *    armed and not suspended (the test's own code, e.g. a log callback,
 *    suspends it).
 *  - SOCCR_FAULT_VERBOSE=1 prints one line on stderr when a fault fires.
 *  - SOCCR_FAULT_SKIP_ALLOC=libbpf,libelf (or soccr_fault_skip_alloc()):
 *    allocations called directly from these shared objects are neither
 *    counted nor failed. Third-party code's own out-of-memory handling is
 *    not what the tests are about, and libbpf 1.1 crashes on some of it
 *    (see tests/fault/README.md); its system calls are still failed.
 */
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SOCCR_FAULT_SHIM
#include "fault.h"

#define MAX_RULES 8
#define MAX_SKIP  32

/* Each interposed function, with the errno it fails with unless told otherwise. */
#define FAULT_FUNCS(X)                                                                             \
	X(socket, EMFILE)                                                                          \
	X(setsockopt, ENOMEM)                                                                      \
	X(getsockopt, ENOMEM)                                                                      \
	X(bind, EADDRINUSE)                                                                        \
	X(connect, ENETUNREACH)                                                                    \
	X(send, ENOBUFS)                                                                           \
	X(sendto, ENOBUFS)                                                                         \
	X(sendmsg, ENOBUFS)                                                                        \
	X(sendmmsg, ENOBUFS)                                                                       \
	X(recv, ENOBUFS)                                                                           \
	X(recvfrom, ENOBUFS)                                                                       \
	X(recvmsg, ENOBUFS)                                                                        \
	X(shutdown, ENOMEM)                                                                        \
	X(ioctl, ENODEV)                                                                           \
	X(bpf, EPERM)                                                                              \
	X(malloc, ENOMEM)                                                                          \
	X(calloc, ENOMEM)                                                                          \
	X(realloc, ENOMEM)

/* clang-format off */
enum fn {
#define X(name, err) FN_##name,
	FAULT_FUNCS(X)
#undef X
	FN_COUNT
};
/* clang-format on */

static const char *const fn_names[FN_COUNT] = {
#define X(name, err) #name,
	FAULT_FUNCS(X)
#undef X
};

static const int fn_errno[FN_COUNT] = {
#define X(name, err) err,
	FAULT_FUNCS(X)
#undef X
};

struct rule {
	int fn;
	unsigned long nth;
	int err; /* 0: stop the process instead */
};

static struct rule rules[MAX_RULES];
static int nrules;
static bool armed;
static bool verbose;
static unsigned long counts[FN_COUNT];
static unsigned long fired;
static __thread int suspended;

/* Code ranges of the objects whose allocations are let through. */
static struct {
	uintptr_t lo, hi;
} skip[MAX_SKIP];
static int nskip;

/* ---- the real functions ------------------------------------------------------------ */

static int (*real_socket)(int, int, int);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static int (*real_shutdown)(int, int);
static int (*real_ioctl)(int, unsigned long, ...);
static long (*real_syscall)(long, ...);
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);

/*
 * dlsym() may allocate (its error state) before the real allocator is known:
 * such early requests are served from this static arena and never freed.
 */
static char early[4096] __attribute__((aligned(16)));
static size_t early_used;
static int resolving;

static void *early_alloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;

	if (early_used + need > sizeof(early))
		return NULL;
	early_used += need;
	return early + early_used - need;
}

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		static const char msg[] = "fault shim: a real function is missing\n";

		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing more to do */
		}
		abort();
	}
	return p;
}

static void resolve(void)
{
	if (real_realloc)
		return;
	resolving = 1;
	real_malloc = next("malloc");
	real_calloc = next("calloc");
	real_socket = next("socket");
	real_setsockopt = next("setsockopt");
	real_getsockopt = next("getsockopt");
	real_bind = next("bind");
	real_connect = next("connect");
	real_send = next("send");
	real_sendto = next("sendto");
	real_sendmsg = next("sendmsg");
	real_sendmmsg = next("sendmmsg");
	real_recv = next("recv");
	real_recvfrom = next("recvfrom");
	real_recvmsg = next("recvmsg");
	real_shutdown = next("shutdown");
	real_ioctl = next("ioctl");
	real_syscall = next("syscall");
	real_realloc = next("realloc");
	resolving = 0;
}

/* ---- rules ------------------------------------------------------------------------- */

static int parse_rule(const char *s, size_t len, struct rule *r)
{
	char buf[64], *name, *nth, *err, *end;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	name = buf;
	nth = strchr(name, ':');
	if (!nth)
		return -1;
	*nth++ = '\0';
	err = strchr(nth, ':');
	if (err)
		*err++ = '\0';
	r->fn = -1;
	for (int i = 0; i < FN_COUNT; i++)
		if (!strcmp(name, fn_names[i]))
			r->fn = i;
	if (r->fn < 0)
		return -1;
	r->nth = strtoul(nth, &end, 10);
	if (*end || !r->nth)
		return -1;
	r->err = fn_errno[r->fn];
	if (!err || !*err)
		return 0;
	if (!strcmp(err, "stop")) {
		r->err = 0;
		return 0;
	}
	/* An errno name (glibc knows them all), else a number. */
	for (int e = 1; e < 4096; e++) {
		const char *en = strerrorname_np(e);

		if (en && !strcmp(err, en)) {
			r->err = e;
			return 0;
		}
	}
	r->err = (int)strtol(err, &end, 10);
	return *end || r->err <= 0 ? -1 : 0;
}

int soccr_fault_arm(const char *spec)
{
	struct rule nr[MAX_RULES];
	int n = 0;

	resolve();
	while (spec && *spec) {
		size_t len = strcspn(spec, ",");

		if (n == MAX_RULES || parse_rule(spec, len, &nr[n]))
			return -EINVAL;
		n++;
		spec += len;
		if (*spec == ',')
			spec++;
	}
	__atomic_store_n(&armed, false, __ATOMIC_SEQ_CST);
	memcpy(rules, nr, sizeof(nr[0]) * (size_t)n);
	nrules = n;
	memset(counts, 0, sizeof(counts));
	fired = 0;
	__atomic_store_n(&armed, true, __ATOMIC_SEQ_CST);
	return 0;
}

void soccr_fault_disarm(void)
{
	__atomic_store_n(&armed, false, __ATOMIC_SEQ_CST);
}

unsigned long soccr_fault_count(const char *func)
{
	for (int i = 0; i < FN_COUNT; i++)
		if (!strcmp(func, fn_names[i]))
			return __atomic_load_n(&counts[i], __ATOMIC_SEQ_CST);
	return 0;
}

unsigned long soccr_fault_fired(void)
{
	return __atomic_load_n(&fired, __ATOMIC_SEQ_CST);
}

void soccr_fault_suspend(int on)
{
	suspended += on ? 1 : -1;
}

const char *soccr_fault_func_name(int i)
{
	return i >= 0 && i < FN_COUNT ? fn_names[i] : NULL;
}

static void say(const char *fn, unsigned long nth, int err)
{
	char line[128];
	int n;

	if (!verbose)
		return;
	if (err)
		n = snprintf(line, sizeof(line), "fault: %s call #%lu fails with errno %d (%s)\n",
			     fn, nth, err, strerrorname_np(err));
	else
		n = snprintf(line, sizeof(line), "fault: %s call #%lu: stopping pid %d\n", fn, nth,
			     (int)getpid());
	if (n > 0 && write(2, line, (size_t)n) < 0) {
		/* stderr gone: nothing to report to */
	}
}

struct skip_ctx {
	const char *names;
	int n;
};

static bool name_listed(const char *obj, const char *names)
{
	const char *base = strrchr(obj, '/');

	base = base ? base + 1 : obj;
	while (*names) {
		size_t len = strcspn(names, ",");

		if (len && !strncmp(base, names, len))
			return true;
		names += len;
		if (*names == ',')
			names++;
	}
	return false;
}

static int skip_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct skip_ctx *ctx = data;

	(void)size;
	if (!info->dlpi_name || !*info->dlpi_name || !name_listed(info->dlpi_name, ctx->names))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && ctx->n < MAX_SKIP; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		skip[ctx->n].lo = info->dlpi_addr + ph->p_vaddr;
		skip[ctx->n].hi = skip[ctx->n].lo + ph->p_memsz;
		ctx->n++;
	}
	return 0;
}

int soccr_fault_skip_alloc(const char *names)
{
	struct skip_ctx ctx = {.names = names ? names : "", .n = 0};

	nskip = 0;
	if (names && *names)
		dl_iterate_phdr(skip_cb, &ctx);
	nskip = ctx.n;
	return nskip;
}

static bool skipped(const void *caller)
{
	uintptr_t a = (uintptr_t)caller;

	for (int i = 0; i < nskip; i++)
		if (a >= skip[i].lo && a < skip[i].hi)
			return true;
	return false;
}

/*
 * Count a call of fn; returns the errno to fail it with, or 0 to perform it.
 * errno is left alone unless the call fails here.
 */
static int hit(enum fn fn)
{
	unsigned long nth;

	if (!__atomic_load_n(&armed, __ATOMIC_RELAXED) || suspended)
		return 0;
	nth = __atomic_add_fetch(&counts[fn], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < nrules; i++) {
		if (rules[i].fn != (int)fn || rules[i].nth != nth)
			continue;
		__atomic_add_fetch(&fired, 1, __ATOMIC_SEQ_CST);
		say(fn_names[fn], nth, rules[i].err);
		if (!rules[i].err) {
			int saved = errno;

			raise(SIGSTOP);
			errno = saved;
			return 0;
		}
		return rules[i].err;
	}
	return 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *spec = getenv("SOCCR_FAULT");
	const char *v = getenv("SOCCR_FAULT_VERBOSE");

	resolve();
	verbose = v && *v && strcmp(v, "0");
	soccr_fault_skip_alloc(getenv("SOCCR_FAULT_SKIP_ALLOC"));
	if (spec && *spec && soccr_fault_arm(spec)) {
		fprintf(stderr, "fault shim: bad SOCCR_FAULT '%s' (want FUNC:N[:ERRNO|stop],...)\n",
			spec);
		exit(2);
	}
}

/* ---- interposed functions ---------------------------------------------------------- */

#define FAIL_WITH(fn, ret)                                                                         \
	do {                                                                                       \
		int e_ = hit(FN_##fn);                                                             \
		if (e_) {                                                                          \
			errno = e_;                                                                \
			return ret;                                                                \
		}                                                                                  \
	} while (0)

int socket(int domain, int type, int protocol)
{
	resolve();
	FAIL_WITH(socket, -1);
	return real_socket(domain, type, protocol);
}

int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	resolve();
	FAIL_WITH(setsockopt, -1);
	return real_setsockopt(fd, level, opt, val, len);
}

int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	resolve();
	FAIL_WITH(getsockopt, -1);
	return real_getsockopt(fd, level, opt, val, len);
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	resolve();
	FAIL_WITH(bind, -1);
	return real_bind(fd, sa, len);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	resolve();
	FAIL_WITH(connect, -1);
	return real_connect(fd, sa, len);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	resolve();
	FAIL_WITH(send, -1);
	return real_send(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
	       socklen_t alen)
{
	resolve();
	FAIL_WITH(sendto, -1);
	return real_sendto(fd, buf, len, flags, sa, alen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	resolve();
	FAIL_WITH(sendmsg, -1);
	return real_sendmsg(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	resolve();
	FAIL_WITH(sendmmsg, -1);
	return real_sendmmsg(fd, vec, n, flags);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	resolve();
	FAIL_WITH(recv, -1);
	return real_recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa, socklen_t *alen)
{
	resolve();
	FAIL_WITH(recvfrom, -1);
	return real_recvfrom(fd, buf, len, flags, sa, alen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	resolve();
	FAIL_WITH(recvmsg, -1);
	return real_recvmsg(fd, msg, flags);
}

int shutdown(int fd, int how)
{
	resolve();
	FAIL_WITH(shutdown, -1);
	return real_shutdown(fd, how);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	resolve();
	FAIL_WITH(ioctl, -1);
	return real_ioctl(fd, req, arg);
}

/*
 * syscall(2) takes up to six arguments after the number; they are passed on
 * as they came (on x86-64 reading unused ones only reads spare registers or
 * the caller's stack). Only bpf(2) is counted.
 */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	resolve();
	if (nr == SYS_bpf)
		FAIL_WITH(bpf, -1);
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

void *malloc(size_t n)
{
	if (!real_malloc) {
		if (resolving)
			return early_alloc(n);
		resolve();
	}
	if (nskip && skipped(__builtin_return_address(0)))
		return real_malloc(n);
	FAIL_WITH(malloc, NULL);
	return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (!real_calloc) {
		if (resolving)
			return early_alloc(n * size); /* the arena is zeroed */
		resolve();
	}
	if (nskip && skipped(__builtin_return_address(0)))
		return real_calloc(n, size);
	FAIL_WITH(calloc, NULL);
	return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (!real_realloc) {
		if (resolving)
			return NULL;
		resolve();
	}
	if (nskip && skipped(__builtin_return_address(0)))
		return real_realloc(p, n);
	FAIL_WITH(realloc, NULL);
	return real_realloc(p, n);
}
