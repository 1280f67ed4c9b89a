// SPDX-License-Identifier: LGPL-2.1-or-later
/* Removing a directory tree of ours without ever following a link out of it. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tns.h"

/*
 * Remove what directory dfd holds, then nothing else: every step is relative
 * to an open directory (openat/unlinkat), symbolic links are removed, never
 * followed, and a subdirectory is entered only if it is still a directory of
 * ours when opened (O_NOFOLLOW), so swapping a path for a link elsewhere
 * while this runs cannot make it delete anything outside.
 */
static void rm_under(int dfd, int depth)
{
	struct dirent *e;
	DIR *dir;

	if (depth > 16)
		return;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return;
	}
	while ((e = readdir(dir))) {
		struct stat st;
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			unlinkat(dirfd(dir), e->d_name, 0);
			continue;
		}
		sub = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		if (!fstat(sub, &st) && st.st_uid == geteuid())
			rm_under(sub, depth + 1);
		else
			close(sub);
		unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR);
	}
	closedir(dir);
}

void tns_rm_tree(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_uid != geteuid()) {
		close(fd);
		return;
	}
	rm_under(fd, 0);
	rmdir(path);
}

