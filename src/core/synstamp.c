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
#include <fcntl.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
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
	struct bpf_link *link;
	struct soccr_bpf_env env;
	int err, fd = -1;

	sc_bpf_env_enter(&env, true);
	skel = soccr_synstamp__open_and_load();
	if (!skel) {
		err = -errno;
		goto fail;
	}
	link = bpf_program__attach_iter(skel->progs.soccr_synstamp, NULL);
	if (!link) {
		err = -errno;
		soccr_synstamp__destroy(skel);
		goto fail;
	}
	/* Our own descriptor keeps the link (and through it the program) alive. */
	fd = fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 0);
	err = fd < 0 ? -errno : 0;
	bpf_link__destroy(link);
	soccr_synstamp__destroy(skel);
	if (err)
		goto fail;
	sc_bpf_env_leave(&env);
	return fd;
fail:
	sc_bpf_env_leave(&env);
	err = err ? err : -EOPNOTSUPP;
	errno = -err;
	pr_dbg("SYN_SENT iterator (BPF iter/tcp, needs BTF and CAP_BPF): %m");
	return err;
}

/* Same network namespace as the calling thread? */
static bool same_netns(int nsfd)
{
	struct stat a, b;

	return !fstat(nsfd, &a) && !stat("/proc/thread-self/ns/net", &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

struct iter_in_ns {
	int link_fd, nsfd, ifd, err;
};

/* A thread of its own enters the namespace: the caller's thread stays where it is. */
static void *iter_thread(void *arg)
{
	struct iter_in_ns *t = arg;

	if (setns(t->nsfd, CLONE_NEWNET)) {
		t->err = -errno;
		return NULL;
	}
	t->ifd = bpf_iter_create(t->link_fd);
	if (t->ifd < 0)
		t->err = -errno;
	return NULL;
}

/*
 * An iterator over the TCP sockets of fd's network namespace (the namespace
 * of the thread that creates it); -errno on failure.
 */
static int iter_open(int link_fd, int fd)
{
	struct iter_in_ns t = {.link_fd = link_fd, .ifd = -1};
	pthread_t th;
	int ifd;

	t.nsfd = ioctl(fd, SIOCGSKNS);
	if (t.nsfd < 0 || same_netns(t.nsfd)) {
		/* Without SIOCGSKNS: the caller's namespace, the socket's in practice. */
		if (t.nsfd >= 0)
			close(t.nsfd);
		ifd = bpf_iter_create(link_fd);
		return ifd < 0 ? -errno : ifd;
	}
	t.err = -pthread_create(&th, NULL, iter_thread, &t);
	if (!t.err)
		pthread_join(th, NULL);
	close(t.nsfd);
	return t.err ? t.err : t.ifd;
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
