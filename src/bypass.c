// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The injection bypass (bpf/bypass.bpf.c): loaded once per device that
 * injected segments leave through, attached at tc egress as a tcx link
 * (Linux 6.6+) placed before every other egress program.
 *
 * Lifetime: the link lives as long as its file descriptor, which only this
 * process holds (nothing is pinned). It is closed when the path cache drops
 * the device (src/route.c) or at library unload; if the process dies, the
 * kernel detaches it by itself, so a crash leaves nothing behind. It has no
 * tc handle or priority: tcx programs run before the classic clsact filters
 * (where the network lock lives), and the lock's own filters are untouched.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bypass.skel.h"
#include "repair.h"

/* UAPI values newer than the build host's headers may know (linux/bpf.h, 6.6). */
#define SOCCR_BPF_TCX_EGRESS 47
#define SOCCR_BPF_F_BEFORE   (1U << 3)

struct soccr_bypass_handle {
	struct soccr_bypass *skel;
	int link_fd;
	int ifindex;
};

int soccr_bypass_attach(int ifindex, const uint8_t mac[SOCCR_ETH_ALEN],
			struct soccr_bypass_handle **out)
{
	/* No MAC: lo, where IPv4 frames get an output route attached instead (bpf/bypass.bpf.c). */
	bool lo = !mac;
	struct bpf_program *prog;
	/* BPF_F_BEFORE with no relative program: in front of every tcx egress program. */
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = SOCCR_BPF_F_BEFORE);
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
		pr_perror("bypass: if %d: loading the program", ifindex);
		goto err;
	}
	b->link_fd = bpf_link_create(bpf_program__fd(prog), ifindex,
				     SOCCR_BPF_TCX_EGRESS, &lopts);
	if (b->link_fd < 0) {
		err = -errno;
		pr_perror("bypass: if %d: tcx egress attach (Linux 6.6+ needed)", ifindex);
		goto err;
	}
	pr_dbg("bypass: if %d: attached at tcx egress (link fd %d%s)", ifindex, b->link_fd,
	       lo ? ", loopback" : "");
	*out = b;
	return 0;
err:
	soccr_bypass_detach(b);
	return err < 0 ? err : -EINVAL;
}

void soccr_bypass_detach(struct soccr_bypass_handle *b)
{
	if (!b)
		return;
	if (b->link_fd >= 0) {
		close(b->link_fd);
		pr_dbg("bypass: if %d: detached", b->ifindex);
	}
	soccr_bypass__destroy(b->skel);
	free(b);
}
