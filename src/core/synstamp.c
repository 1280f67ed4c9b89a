// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The TSval of a SYN_SENT socket's first SYN, for libsoccr_save() (see
 * bpf/synstamp.bpf.c for why it is needed and why a BPF iterator reads it).
 *
 * The program is loaded and its iterator link made for each look-up (CO-RE
 * relocation parses the kernel's BTF, which costs milliseconds, but only a
 * SYN_SENT checkpoint pays it), an iterator is created in the socket's
 * network namespace, the records of its SYN_SENT sockets are read, and
 * everything is closed again: nothing stays in the caller, nothing is
 * pinned. Where no program can be loaded (a user namespace) the save goes
 * on without the TSval, as CRIU's does.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "core/core.h"
#include "bpf/synstamp.h"
#include "synstamp.skel.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif

/* The iterator link's fd (O_CLOEXEC), or -errno. */
static int synstamp_load(void)
{
	struct soccr_synstamp *skel;
	struct soccr_bpf_env env;
	int fd;

	sc_bpf_env_enter(&env, true);
	skel = soccr_synstamp__open_and_load();
	if (!skel)
		fd = errno ? -errno : -EOPNOTSUPP;
	else
		fd = sc_iter_link_fd(skel->progs.soccr_synstamp);
	soccr_synstamp__destroy(skel);
	sc_bpf_env_leave(&env);
	if (fd < 0) {
		errno = -fd;
		pr_dbg("SYN_SENT iterator (BPF iter/tcp, needs BTF and CAP_BPF): %m");
	}
	return fd;
}

/*
 * An iterator over the TCP sockets of fd's network namespace; -errno on
 * failure. Without SIOCGSKNS: the caller's namespace, the socket's in practice.
 */
static int iter_open(int link_fd, int fd)
{
	int nsfd = ioctl(fd, SIOCGSKNS), ifd;

	ifd = sc_iter_create_in(link_fd, nsfd);
	if (nsfd >= 0)
		close(nsfd);
	return ifd;
}

int sc_syn_first_tsval(int fd, uint32_t *tsval)
{
	struct soccr_synstamp_rec r;
	socklen_t len = sizeof(uint64_t);
	uint64_t cookie;
	int ifd, ret, link_fd;
	ssize_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		return -errno;
	link_fd = synstamp_load();
	if (link_fd < 0)
		return link_fd;
	ifd = iter_open(link_fd, fd);
	if (ifd < 0) {
		ret = ifd;
		errno = -ret;
		pr_perror("sk %d: SYN_SENT iterator", fd);
		goto out;
	}
	ret = -ENOENT;
	while ((n = read(ifd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		if (r.cookie == cookie) {
			*tsval = r.retrans_stamp + r.tsoffset;
			ret = 0;
			break;
		}
	}
	if (n < 0) {
		ret = -errno;
		pr_perror("sk %d: reading the SYN_SENT iterator", fd);
	}
	close(ifd);
out:
	close(link_fd);
	return ret;
}
