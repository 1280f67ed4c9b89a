// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault injection on the lock path: soccr_lock_open() (load and pin),
 * soccr_lock_attach() on a veth and on lo, soccr_lock_add(),
 * soccr_lock_add_batch() and soccr_lock_del(), run in that order (stopping
 * at the first error, as a caller would) in a fresh child process with the
 * N-th call of one interposed function failing (tests/fault/shim.c), for
 * every N until the sequence runs without reaching it, for every function.
 *
 * After each failure point the parent looks at what is left, with a handle
 * of its own and no fault armed:
 *  - the child did not crash (nor, in the SAN build, trip ASan/UBSan/LSan),
 *    and the API returned a negative errno only when a fault fired;
 *  - the lock is complete or absent: the program and the map are both
 *    pinned (and the program is a soccr lock that opens) or the program is
 *    not pinned; on every device both hooks carry our filter or neither,
 *    and a filter is always the pinned program; the devices attached before
 *    the failure are fully attached;
 *  - the flows locked are those added before the failure (an add or del
 *    that failed may or may not have taken effect; a failed batch leaves a
 *    subset of itself, as documented);
 *  - soccr_lock_detach() then removes everything: no filter, no pin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <execinfo.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "../fault/fault.h"
#include "tns.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NBATCH	      64
#define MAX_CALLS     100000

static const char *const funcs[] = {
	"socket",   "setsockopt", "getsockopt", "bind",	  "connect",  "send",
	"sendto",   "sendmsg",	  "sendmmsg",	"recv",	  "recvfrom", "recvmsg",
	"shutdown", "ioctl",	  "bpf",	"malloc", "calloc",   "realloc",
};

enum step { ST_OPEN, ST_ATTACH_VETH, ST_ATTACH_LO, ST_ADD, ST_BATCH, ST_DEL, ST_DONE };

static const char *const step_names[] = {"open",      "attach veth", "attach lo", "add",
					 "add_batch", "del",	     "done"};

static struct tns_pair pair;
static char pin_dir[64];
static struct soccr_flow flow0, batch[NBATCH];

struct result {
	int step; /* the step that failed, ST_DONE if none */
	int err;  /* its return value */
	unsigned long calls, fired;
	char log[256];
};

static char first_log[256];

static void log_cb(unsigned int level, const char *fmt, ...)
{
	va_list ap;

	fault_suspend(1);
	va_start(ap, fmt);
	if (!first_log[0] && level == SOCCR_LOG_ERR)
		vsnprintf(first_log, sizeof(first_log), fmt, ap);
	va_end(ap);
	if (getenv("SOCCR_TEST_DEBUG")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fault_suspend(0);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!getenv("SOCCR_TEST_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void on_crash(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);
	static const char msg[] = "child crashed; backtrace:\n";

	if (write(2, msg, sizeof(msg) - 1) > 0)
		backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the child: the lock path with one fault armed ------------------------------------ */

static void lock_path(const char *func, const char *spec, struct result *r)
{
	struct soccr_lock_opts opts = {.sz = sizeof(opts), .pin_dir = pin_dir};
	struct soccr_lock *lock = NULL;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->step = ST_OPEN;
	if (tns_enter(pair.nsfd[0]) || fault_arm(spec)) {
		r->err = -EIO;
		snprintf(r->log, sizeof(r->log), "child set-up");
		return;
	}
	first_log[0] = '\0';
	ret = soccr_lock_open(&opts, &lock);
	if (!ret) {
		r->step = ST_ATTACH_VETH;
		ret = soccr_lock_attach(lock, pair.ifname[0]);
	}
	if (!ret) {
		r->step = ST_ATTACH_LO;
		ret = soccr_lock_attach(lock, "lo");
	}
	if (!ret) {
		r->step = ST_ADD;
		ret = soccr_lock_add(lock, &flow0);
	}
	if (!ret) {
		r->step = ST_BATCH;
		ret = soccr_lock_add_batch(lock, batch, NBATCH);
		/* The batch returns the number of flows handled. */
		if (ret == NBATCH)
			ret = 0;
		else if (ret >= 0)
			ret = -ERANGE;
	}
	if (!ret) {
		r->step = ST_DEL;
		ret = soccr_lock_del(lock, &flow0);
	}
	if (!ret)
		r->step = ST_DONE;
	soccr_lock_close(lock);
	fault_disarm();
	r->err = ret;
	r->calls = fault_count(func);
	r->fired = fault_fired();
	snprintf(r->log, sizeof(r->log), "%s", first_log);
	r->log[strcspn(r->log, "\n")] = '\0';
}

static int run_child(const char *func, unsigned long n, struct result *r)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	char spec[64];
	int pfd[2], st;
	pid_t pid;
	ssize_t got;

	snprintf(spec, sizeof(spec), "%s:%lu", func, n);
	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct result res;

		/* cmocka's handlers would make a crashed child go on as the parent. */
		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			signal(sigs[i], on_crash);
		close(pfd[0]);
		lock_path(func, spec, &res);
		if (write(pfd[1], &res, sizeof(res)) != sizeof(res))
			_exit(99);
			/* _exit(): the parent's atexit handlers delete the namespaces. */
#ifdef __SANITIZE_ADDRESS__
		__lsan_do_leak_check();
#endif
		_exit(0);
	}
	close(pfd[1]);
	got = read(pfd[0], r, sizeof(*r));
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "FAIL %s: child %s %d\n", spec,
			WIFSIGNALED(st) ? "killed by signal" : "exited with",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return -1;
	}
	if (got != (ssize_t)sizeof(*r)) {
		fprintf(stderr, "FAIL %s: no report from the child\n", spec);
		return -1;
	}
	return 0;
}

/* ---- the parent: what the failure left ------------------------------------------------- */

static bool pinned(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return !stat(path, &st);
}

/*
 * The lock program on a hook of ifindex (ns a): our classic filter's, or the
 * one tcx program (BPF_PROG_QUERY, 46/47: BPF_TCX_INGRESS/EGRESS); 0 if none,
 * -1 on error or if there are two.
 */
static long filter_prog(int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = SOCCR_LOCK_TC_HANDLE,
			    .priority = SOCCR_LOCK_TC_PRIO);
	LIBBPF_OPTS(bpf_prog_query_opts, qo);
	__u32 ids[8];
	long classic;
	int err;

	err = bpf_tc_query(&hook, &o);
	if (err == -ENOENT || err == -EINVAL)
		classic = 0; /* no such filter, or no clsact qdisc at all */
	else if (err)
		return -1;
	else
		classic = o.prog_id;
	qo.prog_ids = ids;
	qo.prog_cnt = 8;
	if (bpf_prog_query_opts(ifindex, point == BPF_TC_INGRESS ? 46 : 47, &qo))
		qo.prog_cnt = 0;
	if (qo.prog_cnt + !!classic > 1)
		return -1;
	return classic ? classic : qo.prog_cnt ? (long)ids[0] : 0;
}

static bool same_flow(const struct soccr_flow *a, const struct soccr_flow *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(&a->saddr, &b->saddr, alen) && !memcmp(&a->daddr, &b->daddr, alen);
}

#define BAD(fmt, ...)                                                                              \
	do {                                                                                       \
		fprintf(stderr, "FAIL %s:%lu (failed at %s: %s; log: %s): " fmt "\n", func, n,     \
			step_names[r->step], strerror(-r->err), r->log, ##__VA_ARGS__);            \
		goto out;                                                                          \
	} while (0)

static int check_left(const char *func, unsigned long n, const struct result *r)
{
	struct soccr_lock_opts opts = {
		.sz = sizeof(opts), .pin_dir = pin_dir, .flags = SOCCR_LOCK_NO_CREATE};
	const char *devs[2] = {pair.ifname[0], "lo"};
	struct soccr_lock *lock = NULL;
	struct soccr_lock_entry *e = NULL;
	struct bpf_prog_info info;
	__u32 ilen = sizeof(info);
	long prog_id = 0;
	size_t cnt = 0;
	int ret = -1, err;

	if (tns_enter(pair.nsfd[0]))
		return -1;
	/* Complete or absent: the program pinned (its maps with it), and it opens; or not pinned. */
	err = soccr_lock_open(&opts, &lock);
	if (pinned("prog")) {
		if (err)
			BAD("the program is pinned but the lock does not open: %s", strerror(-err));
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(soccr_lock_prog_fd(lock), &info, &ilen))
			BAD("no info on the pinned program");
		prog_id = info.id;
	} else if (err != -ENOENT) {
		BAD("no program pinned, and opening says %s, not ENOENT", strerror(-err));
	}
	if (r->step > ST_OPEN && !prog_id)
		BAD("opened, but the program is not pinned any more");

	/* Every device: both hooks or neither, with the pinned program; attached ones both. */
	for (int d = 0; d < 2; d++) {
		int ifindex = (int)if_nametoindex(devs[d]);
		long in = filter_prog(ifindex, BPF_TC_INGRESS),
		     eg = filter_prog(ifindex, BPF_TC_EGRESS);
		bool attached = r->step > (d ? ST_ATTACH_LO : ST_ATTACH_VETH);

		if (in < 0 || eg < 0)
			BAD("%s: cannot read the hooks, or two programs on one", devs[d]);
		if (!!in != !!eg)
			BAD("%s: half attached (ingress prog %ld, egress prog %ld)", devs[d], in,
			    eg);
		if (in && (in != prog_id || eg != prog_id))
			BAD("%s: filter runs prog %ld/%ld, the pinned lock is %ld", devs[d], in, eg,
			    prog_id);
		if (attached && !in)
			BAD("%s: attach succeeded but no filter is there", devs[d]);
	}

	/* The flows: those added before the failure, maybe the failed one(s), nothing else. */
	if (lock) {
		bool has0 = false;
		size_t nb = 0;

		err = soccr_lock_list(lock, &e, &cnt);
		if (err)
			BAD("list: %s", strerror(-err));
		for (size_t i = 0; i < cnt; i++) {
			bool known = false;

			if (same_flow(&e[i].flow, &flow0)) {
				has0 = known = true;
			}
			for (int b = 0; b < NBATCH && !known; b++)
				if (same_flow(&e[i].flow, &batch[b])) {
					known = true;
					nb++;
				}
			if (!known)
				BAD("a flow nobody added is locked");
		}
		if (r->step > ST_ADD && r->step < ST_DEL && !has0)
			BAD("the flow added before the failure is missing");
		if (r->step == ST_DONE && has0)
			BAD("the flow deleted is still locked");
		if (r->step > ST_BATCH && nb != NBATCH)
			BAD("%zu of the %d batch flows locked", nb, NBATCH);
		if (r->step < ST_ADD && cnt)
			BAD("%zu flows locked before any add", cnt);
	}
	ret = 0;
out:
	free(e);
	soccr_lock_close(lock);
	tns_leave();
	return ret;
}

/* Remove everything, as `soccr lock detach` would, and check nothing is left. */
static int clean_up(void)
{
	struct soccr_lock_opts opts = {.sz = sizeof(opts), .pin_dir = pin_dir};
	const char *devs[2] = {pair.ifname[0], "lo"};
	struct soccr_lock *lock = NULL;
	int err, ret = -1;

	if (tns_enter(pair.nsfd[0]))
		return -1;
	/* Opening creates the lock if the failure left none: detach must cope with both. */
	err = soccr_lock_open(&opts, &lock);
	if (!err)
		err = soccr_lock_detach(lock);
	soccr_lock_close(lock);
	if (err) {
		fprintf(stderr, "FAIL: detach after the failure: %s\n", strerror(-err));
		goto out;
	}
	for (int d = 0; d < 2; d++) {
		int ifindex = (int)if_nametoindex(devs[d]);

		if (filter_prog(ifindex, BPF_TC_INGRESS) || filter_prog(ifindex, BPF_TC_EGRESS)) {
			fprintf(stderr, "FAIL: a filter is left on %s after detach\n", devs[d]);
			goto out;
		}
	}
	if (pinned("prog") || pinned("flows") || !access(pin_dir, F_OK)) {
		fprintf(stderr, "FAIL: pins left in %s after detach\n", pin_dir);
		goto out;
	}
	ret = 0;
out:
	tns_leave();
	return ret;
}

static void lock_path_fails_cleanly(bool classic)
{
	unsigned long points = 0, per_step[ST_DONE + 1] = {0};
	char calls[1024] = "", steps[256] = "";

	if (classic)
		assert_int_equal(setenv("SOCCR_NO_TCX", "1", 1), 0);
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++) {
		unsigned long n;
		struct result r;

		for (n = 1; n <= MAX_CALLS; n++) {
			assert_int_equal(run_child(funcs[i], n, &r), 0);
			if (r.step != ST_DONE && !r.fired) {
				fprintf(stderr, "FAIL %s:%lu: %s failed without a fault: %s (%s)\n",
					funcs[i], n, step_names[r.step], strerror(-r.err), r.log);
				fail();
			}
			if (r.step != ST_DONE && r.err >= 0) {
				fprintf(stderr, "FAIL %s:%lu: %s returned %d\n", funcs[i], n,
					step_names[r.step], r.err);
				fail();
			}
			assert_int_equal(check_left(funcs[i], n, &r), 0);
			assert_int_equal(clean_up(), 0);
			if (!r.fired)
				break;
			points++;
			per_step[r.step]++;
		}
		assert_true(n <= MAX_CALLS);
		if (r.calls)
			snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), " %s=%lu",
				 funcs[i], r.calls);
	}
	for (int s = 0; s <= ST_DONE; s++)
		snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%s%s %lu",
			 s ? ", " : "", step_names[s], per_step[s]);
	printf("# lock path (%s): %lu failure points injected (failed at: %s); calls per run:%s\n",
	       classic ? "clsact" : "tcx", points, steps, calls);
	unsetenv("SOCCR_NO_TCX");
}

static void test_lock_path_fails_cleanly_at_every_call_tcx(void **state)
{
	(void)state;
	lock_path_fails_cleanly(false);
}

static void test_lock_path_fails_cleanly_at_every_call_clsact(void **state)
{
	(void)state;
	lock_path_fails_cleanly(true);
}

static void flows_init(void)
{
	flow0.family = AF_INET;
	inet_pton(AF_INET, pair.ip4[0], &flow0.saddr.v4);
	inet_pton(AF_INET, pair.ip4[1], &flow0.daddr.v4);
	flow0.sport = 40000;
	flow0.dport = 443;
	for (int i = 0; i < NBATCH; i++) {
		struct soccr_flow *f = &batch[i];

		f->family = i % 2 ? AF_INET6 : AF_INET;
		if (f->family == AF_INET) {
			inet_pton(AF_INET, pair.ip4[0], &f->saddr.v4);
			inet_pton(AF_INET, pair.ip4[1], &f->daddr.v4);
		} else {
			inet_pton(AF_INET6, pair.ip6[0], &f->saddr.v6);
			inet_pton(AF_INET6, pair.ip6[1], &f->daddr.v6);
		}
		f->sport = (uint16_t)(41000 + i);
		f->dport = 80;
	}
}

static int group_setup(void **state)
{
	(void)state;
	if (tns_pair_setup(&pair))
		return -1;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-test-%d-flock", (int)getpid());
	flows_init();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	clean_up();
	tns_pair_cleanup(&pair);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_path_fails_cleanly_at_every_call_tcx),
		cmocka_unit_test(test_lock_path_fails_cleanly_at_every_call_clsact),
	};

	(void)argc;
	tns_require_root();
	if (fault_load(argv))
		return 1;
	/* libbpf's and libelf's own out-of-memory paths are theirs (tests/fault/README.md). */
	if (fault_skip_alloc("libbpf.so,libelf.so") <= 0) {
		fprintf(stderr, "fault: libbpf/libelf code not found\n");
		return 1;
	}
	libsoccr_set_log(SOCCR_LOG_ERR, log_cb);
	libbpf_set_print(libbpf_quiet);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
