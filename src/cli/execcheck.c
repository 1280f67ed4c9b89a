// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Will execvp() of a command succeed? Asked before a restore hands its
 * socket over: once the socket is live and unlocked, a failed exec would end
 * the connection. access(X_OK) is not enough (root passes it for a
 * directory, and for a script whose interpreter is missing), so the file the
 * kernel would load is checked the way execve() uses it: a regular file with
 * an execute bit, and for a script ("#!") its interpreter, for an ELF
 * program its program interpreter (PT_INTERP), each checked the same way.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Linux follows at most this many "#!" interpreters (BINPRM_MAX_RECURSION). */
#define MAX_DEPTH 4

static int check_file(const char *path, int depth, char *why, size_t wlen);

/* The interpreter of an ELF program (PT_INTERP), if it has one. */
static int check_elf(int fd, const char *path, int depth, char *why, size_t wlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	char interp[256];

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return 0; /* 32-bit or odd: the kernel decides, we do not guess */
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		off_t off = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;

		if (pread(fd, &ph, sizeof(ph), off) != (ssize_t)sizeof(ph))
			break;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(interp) ||
		    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
			snprintf(why, wlen, "%s: unreadable program interpreter", path);
			return -1;
		}
		interp[ph.p_filesz] = '\0';
		return check_file(interp, depth + 1, why, wlen);
	}
	return 0;
}

/* The interpreter named on a "#!" line. */
static int check_script(const char *line, const char *path, int depth, char *why, size_t wlen)
{
	char interp[256];
	size_t n;

	line += 2;
	line += strspn(line, " \t");
	n = strcspn(line, " \t\n");
	if (n == 0 || n >= sizeof(interp)) {
		snprintf(why, wlen, "%s: no interpreter on its #! line", path);
		return -1;
	}
	memcpy(interp, line, n);
	interp[n] = '\0';
	return check_file(interp, depth + 1, why, wlen);
}

static int check_file(const char *path, int depth, char *why, size_t wlen)
{
	char head[256];
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	if (depth > MAX_DEPTH) {
		snprintf(why, wlen, "%s: too many interpreters", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, wlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111) || access(path, X_OK)) {
		snprintf(why, wlen, "%s: %s", path,
			 !S_ISREG(st.st_mode) ? "not a regular file" : "not executable");
		close(fd);
		return -1;
	}
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		head[n] = '\0';
		ret = check_script(head, path, depth, why, wlen);
	} else if (n >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG)) {
		ret = check_elf(fd, path, depth, why, wlen);
	}
	close(fd);
	return ret;
}

int cli_check_exec(const char *name, char *why, size_t wlen)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!*name) {
		snprintf(why, wlen, "empty command");
		return -1;
	}
	if (strchr(name, '/'))
		return check_file(name, 0, why, wlen);
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	/* As execvp(): the first PATH entry that has the name decides. */
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n == 0)
			snprintf(buf, sizeof(buf), "./%s", name);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (!access(buf, F_OK) && !check_file(buf, 0, why, wlen))
			return 0;
		path += n + (path[n] == ':');
	}
	if (!*why)
		snprintf(why, wlen, "%s: command not found", name);
	return -1;
}
