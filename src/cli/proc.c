// SPDX-License-Identifier: LGPL-2.1-or-later
/* Another process's sockets: its pidfd, copies of its fds, the list of its fd numbers. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"

int cli_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cli_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int cli_proc_fds(pid_t pid, int **fds, size_t *n)
{
	char path[64];
	struct dirent *e;
	size_t cap = 0;
	DIR *d;

	*fds = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *end;
		long v;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		v = strtol(e->d_name, &end, 10);
		if (*end || v < 0 || v > INT32_MAX)
			continue;
		if (*n == cap) {
			int *t = realloc(*fds, (cap = cap ? cap * 2 : 64) * sizeof(*t));

			if (!t) {
				closedir(d);
				free(*fds);
				*fds = NULL;
				*n = 0;
				return -ENOMEM;
			}
			*fds = t;
		}
		(*fds)[(*n)++] = (int)v;
	}
	closedir(d);
	qsort(*fds, *n, sizeof(**fds), cmp_int);
	return 0;
}
