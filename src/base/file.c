// SPDX-License-Identifier: LGPL-2.1-or-later
/* Output files the library and the tool write for the user (pcap captures). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

FILE *sc_create_private(const char *path, int *err)
{
	struct stat st;
	FILE *f;
	int fd;

	/*
	 * Never through a symbolic link (O_NOFOLLOW on the last component),
	 * never truncating before the checks, never blocking on a FIFO.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = errno == ELOOP ? -ELOOP : -errno;
		return NULL;
	}
	if (fstat(fd, &st)) {
		*err = -errno;
		goto fail;
	}
	/* Only a regular file of our own: not a device (/dev/full), not someone else's file. */
	if (!S_ISREG(st.st_mode)) {
		*err = -EINVAL;
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		*err = -EPERM;
		goto fail;
	}
	/* It may carry payload bytes: private, as a new one would be. */
	if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700)) {
		*err = -errno;
		goto fail;
	}
	if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0)) {
		*err = -errno;
		goto fail;
	}
	f = fdopen(fd, "w");
	if (!f) {
		*err = -errno;
		goto fail;
	}
	return f;
fail:
	close(fd);
	return NULL;
}

const char *sc_create_private_why(int err)
{
	switch (err) {
	case -ELOOP:
		return "a symbolic link (refused: give the file itself)";
	case -EINVAL:
		return "not a regular file";
	case -EPERM:
		return "belongs to another user (refused)";
	default:
		return NULL;
	}
}
