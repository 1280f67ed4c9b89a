// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * BPF iterators (src/core/synstamp.c, src/core/tcpseq.c): a program's
 * iterator link kept by a descriptor of our own, and an iterator created in
 * another network namespace without moving the caller's thread. Nothing is
 * pinned; every descriptor is O_CLOEXEC (bpf_iter_create() sets it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

int sc_iter_link_fd(struct bpf_program *prog)
{
	struct bpf_link *link;
	int fd, err;

	link = bpf_program__attach_iter(prog, NULL);
	if (!link)
		return errno ? -errno : -EOPNOTSUPP;
	/* Our own descriptor keeps the link (and through it the program) alive. */
	fd = fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 0);
	err = fd < 0 ? -errno : 0;
	bpf_link__destroy(link);
	return err ? err : fd;
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

int sc_iter_create_in(int link_fd, int nsfd)
{
	struct iter_in_ns t = {.link_fd = link_fd, .nsfd = nsfd, .ifd = -1};
	pthread_t th;
	int ifd;

	if (nsfd < 0 || same_netns(nsfd)) {
		ifd = bpf_iter_create(link_fd);
		return ifd < 0 ? -errno : ifd;
	}
	t.err = -pthread_create(&th, NULL, iter_thread, &t);
	if (!t.err)
		pthread_join(th, NULL);
	return t.err ? t.err : t.ifd;
}
