// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The injection bypass (bpf/bypass.bpf.c): loaded once per device that
 * injected segments leave through, attached at tc egress as a tcx link
 * (Linux 6.6+) placed before every other egress program.
 *
 * Lifetime: the link lives as long as its file descriptor, which only this
 * process holds (nothing is pinned). It is closed at the end of the restore
 * that needed it, or, with a session, when the session drops the device or
 * is closed (src/path/session.c); if the process dies, the kernel detaches
 * it by itself, so a crash leaves nothing behind. It has no
 * tc handle or priority: tcx programs run before the classic clsact filters
 * (where the network lock lives), and the lock's own filters are untouched.
 *
 * Kernels without tcx (before 6.6, Debian 12's own 6.1 among them) get a
 * classic clsact egress filter instead, at a handle of its own behind the
 * lock's (the lock lets marked frames go on with TC_ACT_UNSPEC, so they
 * reach it; the program's verdicts mean the same in both hooks). Such a
 * filter outlives a crashed process; it only ever turns SOCCR_MARK frames
 * addressed to the device itself around, and `soccr lock detach` does not
 * touch it: `tc filter del dev DEV egress handle 0xc115 prio N bpf` does.
 * Each attacher has its own filter, at a priority of its own, and removes
 * only that one, so restores in several processes on one device never pull
 * the filter from under each other. A clsact qdisc this code had to create
 * is left in place (removing it would take every filter on it, the lock's
 * and other processes' too).
 * SOCCR_NO_TCX=1 in the environment forces this path (for tests).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bypass.skel.h"
#include "path/path.h"

/*
 * The classic tc filters of the fallback: handle 0xC115, behind the lock's
 * (0xC114, prio 1), each attacher at a priority of its own (from
 * BYPASS_TC_PRIO_MIN on, starting at one drawn from the pid), so that a
 * restore taking its filter away never takes another process's away.
 */
#define BYPASS_TC_HANDLE   0xC115
#define BYPASS_TC_PRIO_MIN 2
#define BYPASS_TC_PRIOS	   0x7000
#define BYPASS_TC_TRIES	   64

struct soccr_bypass_handle {
	struct soccr_bypass *skel;
	int link_fd;
	int ifindex;
	bool tc_filter; /* attached (by us) as a classic clsact filter */
	__u32 tc_prio;	/* at this priority */
};

static int tc_attach(struct soccr_bypass_handle *b, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = b->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = BYPASS_TC_HANDLE, .prog_fd = prog_fd);
	__u32 first = (__u32)getpid() % BYPASS_TC_PRIOS;
	bool created = true;
	int err;

	/* libbpf's message about an existing qdisc goes to our debug log (src/base/bpfenv.c). */
	err = bpf_tc_hook_create(&hook);
	if (err == -EEXIST) {
		created = false;
		err = 0;
	}
	if (err)
		return err;
	/* A priority nobody holds: another attacher's filter is theirs to remove. */
	for (int i = 0; i < BYPASS_TC_TRIES; i++) {
		o.priority = BYPASS_TC_PRIO_MIN + (first + (__u32)i) % BYPASS_TC_PRIOS;
		o.prog_id = 0;
		o.flags = 0;
		err = bpf_tc_attach(&hook, &o);
		if (err != -EEXIST)
			break;
	}
	if (!err) {
		b->tc_filter = true;
		b->tc_prio = o.priority;
		pr_dbg("bypass: if %d: clsact egress filter at prio %u", b->ifindex, o.priority);
	} else if (created) {
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}

static void tc_detach(struct soccr_bypass_handle *b)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = b->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = BYPASS_TC_HANDLE, .priority = b->tc_prio);

	/* The device or its clsact may be gone already (the lock removes an empty one). */
	bpf_tc_detach(&hook, &o);
}

static void bypass_detach(struct soccr_bypass_handle *b);

bool sc_bpf_denied(int err)
{
	/* What bpf(BPF_PROG_LOAD) answers without CAP_BPF/CAP_SYS_ADMIN in the initial namespace. */
	return err == -EPERM || err == -EACCES;
}

static int bypass_attach(int ifindex, const uint8_t mac[SOCCR_ETH_ALEN], bool quiet,
			 struct soccr_bypass_handle **out)
{
	/* No MAC: lo, where IPv4 frames get an output route attached instead (bpf/bypass.bpf.c). */
	bool lo = !mac;
	struct bpf_program *prog;
	/* BPF_F_BEFORE with no relative program: in front of every tcx egress program. */
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = SC_BPF_F_BEFORE);
	struct soccr_bypass_handle *b;
	int err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->link_fd = -1;
	b->ifindex = ifindex;
	b->skel = soccr_bypass__open();
	if (!b->skel) {
		err = -errno;
		pr_perror("bypass: if %d: opening the BPF object", ifindex);
		goto err;
	}
	b->skel->rodata->pass_mark = SOCCR_MARK;
	if (!lo)
		memcpy((void *)b->skel->rodata->own_mac, mac, SOCCR_ETH_ALEN);
	prog = lo ? b->skel->progs.soccr_bypass_lo : b->skel->progs.soccr_bypass;
	bpf_program__set_autoload(lo ? b->skel->progs.soccr_bypass : b->skel->progs.soccr_bypass_lo,
				  false);
	err = soccr_bypass__load(b->skel);
	if (err) {
		errno = -err;
		if (quiet && sc_bpf_denied(err))
			pr_dbg("bypass: if %d: loading the program: %m", ifindex);
		else
			pr_perror("bypass: if %d: loading the program", ifindex);
		goto err;
	}
	if (sc_tcx_forced_off()) {
		err = -EOPNOTSUPP;
	} else {
		b->link_fd = bpf_link_create(bpf_program__fd(prog), ifindex, SC_BPF_TCX_EGRESS,
					     &lopts);
		err = b->link_fd < 0 ? -errno : 0;
	}
	if (err) {
		if (!sc_tcx_unavailable(err)) {
			pr_perror("bypass: if %d: tcx egress attach", ifindex);
			goto err;
		}
		pr_dbg("bypass: if %d: no tcx (%s): classic clsact egress filter", ifindex,
		       strerror(-err));
		err = tc_attach(b, bpf_program__fd(prog));
		if (err) {
			errno = -err;
			pr_perror("bypass: if %d: clsact egress attach", ifindex);
			goto err;
		}
		pr_dbg("bypass: if %d: attached at clsact egress%s", ifindex,
		       lo ? " (loopback)" : "");
		*out = b;
		return 0;
	}
	pr_dbg("bypass: if %d: attached at tcx egress (link fd %d%s)", ifindex, b->link_fd,
	       lo ? ", loopback" : "");
	*out = b;
	return 0;
err:
	bypass_detach(b);
	return err < 0 ? err : -EINVAL;
}

int sc_bypass_attach(int ifindex, const uint8_t mac[SOCCR_ETH_ALEN], bool quiet,
			struct soccr_bypass_handle **out)
{
	struct soccr_bpf_env env;
	int err;

	sc_bpf_env_enter(&env, quiet);
	err = bypass_attach(ifindex, mac, quiet, out);
	sc_bpf_env_leave(&env);
	return err;
}

static void bypass_detach(struct soccr_bypass_handle *b)
{
	if (b->link_fd >= 0) {
		close(b->link_fd);
		pr_dbg("bypass: if %d: detached", b->ifindex);
	}
	if (b->tc_filter) {
		tc_detach(b);
		pr_dbg("bypass: if %d: clsact filter removed", b->ifindex);
	}
	soccr_bypass__destroy(b->skel);
	free(b);
}

void sc_bypass_detach(struct soccr_bypass_handle *b)
{
	struct soccr_bpf_env env;

	if (!b)
		return;
	sc_bpf_env_enter(&env, true);
	bypass_detach(b);
	sc_bpf_env_leave(&env);
}
