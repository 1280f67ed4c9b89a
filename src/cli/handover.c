// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr restore -- CMD: the restored sockets handed to a command. The child
 * places them at fds 3.. (or their saved numbers), sets systemd's
 * LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, and execs CMD; the parent takes
 * the sockets live only once the exec succeeded (the child is traced and
 * stops right after it), then lets CMD go, forwards signals to it and
 * returns its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "restore.h"

/* Leave repair mode without the window probe TCP_REPAIR_OFF sends (4.17+). */
#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif

static pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Where the child puts socket i: 3 + i, or its saved number. */
static int target_fd(const struct golive *g, size_t i, bool as_saved)
{
	return as_saved ? g->r[i].k->fd : LISTEN_FDS_START + (int)i;
}

/*
 * Move every socket to its target fd, in increasing target order, with no
 * more fds open at any time than there are sockets (a 10,000-socket
 * hand-over must fit under RLIMIT_NOFILE, which bounds fd numbers, not
 * counts): a socket already at its target stays; a later socket sitting on
 * the target is moved out of the way first (above every target). 0 or -1.
 */
static int place_fds(const struct golive *g, bool as_saved, int top)
{
	int *src = calloc(g->n ? g->n : 1, sizeof(*src)), *owner = NULL, maxfd = top, ret = -1;
	size_t *order = calloc(g->n ? g->n : 1, sizeof(*order));

	if (!src || !order)
		goto out;
	for (size_t i = 0; i < g->n; i++) {
		src[i] = g->r[i].fd;
		order[i] = i;
		if (src[i] > maxfd)
			maxfd = src[i];
	}
	/* Targets ascend with the index, except --fds-as-saved: sort by target then. */
	for (size_t i = 1; as_saved && i < g->n; i++)
		for (size_t j = i; j > 0 && target_fd(g, order[j], true) <
						  target_fd(g, order[j - 1], true); j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	/* owner[fd]: the index of the not yet placed socket that fd number holds, or -1. */
	owner = malloc(((size_t)maxfd + 1) * sizeof(*owner));
	if (!owner)
		goto out;
	for (int f = 0; f <= maxfd; f++)
		owner[f] = -1;
	for (size_t i = 0; i < g->n; i++)
		owner[src[i]] = (int)i;
	for (size_t k = 0; k < g->n; k++) {
		size_t i = order[k];
		int t = target_fd(g, i, as_saved), j = t <= maxfd ? owner[t] : -1;

		if (src[i] == t) {
			if (fcntl(t, F_SETFD, 0))
				goto out;
			owner[t] = -1;
			continue;
		}
		if (j >= 0) {
			/* Another socket still to place holds the target: out of the way. */
			int nf = fcntl(t, F_DUPFD_CLOEXEC, top);

			if (nf < 0)
				goto out;
			src[j] = nf;
			owner[t] = -1;
			if (nf <= maxfd)
				owner[nf] = j;
		}
		if (dup2(src[i], t) < 0)
			goto out;
		if (src[i] <= maxfd)
			owner[src[i]] = -1;
		/*
		 * Only numbers at or above top are ever taken again (by the moves
		 * out of the way): the copy below goes at the exec (close-on-exec),
		 * a system call less per socket.
		 */
		if (src[i] >= top)
			close(src[i]);
	}
	ret = 0;
out:
	free(src);
	free(order);
	free(owner);
	return ret;
}

/*
 * The child: the sockets at their fds, systemd's variables, then CMD. Never
 * returns. Untraced, it leaves repair mode itself just before the exec, so
 * that CMD never sees a socket in repair mode, and goes back into it if the
 * exec fails: the flows are still locked meanwhile, so nothing of that
 * moment reaches a peer either way.
 */
static void child_exec(const struct golive *g, bool as_saved, char **cmd, int status_fd,
		       const char *names)
{
	int werr, off = TCP_REPAIR_OFF_NO_WP, on = 1, top = LISTEN_FDS_START;
	char num[16], mode;

	/* Stopped by the kernel right after a successful exec, until the parent lets go. */
	mode = ptrace(PTRACE_TRACEME, 0, NULL, NULL) ? 'U' : 'T';
	for (size_t i = 0; i < g->n; i++)
		if (target_fd(g, i, as_saved) + 1 > top)
			top = target_fd(g, i, as_saved) + 1;
	/* The status pipe out of the way of the targets first. */
	if (status_fd < top) {
		status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, top);
		if (status_fd < 0)
			_exit(127);
	}
	if (write(status_fd, &mode, 1) != 1)
		_exit(127);
	if (place_fds(g, as_saved, top))
		goto fail;
	if (!as_saved) {
		snprintf(num, sizeof(num), "%d", (int)getpid());
		if (setenv("LISTEN_PID", num, 1))
			goto fail;
		snprintf(num, sizeof(num), "%zu", g->n);
		if (setenv("LISTEN_FDS", num, 1) || setenv("LISTEN_FDNAMES", names, 1))
			goto fail;
	}
	for (size_t i = 0; mode == 'U' && i < g->n; i++)
		if (g->r[i].sk && setsockopt(target_fd(g, i, as_saved), IPPROTO_TCP, TCP_REPAIR,
					     &off, sizeof(off)))
			goto fail;
	execvp(cmd[0], cmd);
	werr = errno;
	for (size_t i = 0; mode == 'U' && i < g->n; i++) {
		int t = target_fd(g, i, as_saved);

		if (g->r[i].sk && setsockopt(t, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on))) {
			/*
			 * The kernel lets only ESTABLISHED and CLOSE sockets into repair
			 * mode. Any other state is closed with a reset instead, which the
			 * lock drops: no FIN, no orphan holding the 4-tuple against the
			 * next restore of the image.
			 */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
	}
	errno = werr;
fail:
	werr = errno;
	if (write(status_fd, &werr, sizeof(werr)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Run CMD with the restored sockets (connections still in repair mode, their
 * flows still locked) at their fds, and let them go live only once CMD
 * really runs: the child is traced (PTRACE_TRACEME), so the kernel stops it
 * right after a successful exec, before CMD's first instruction; the parent
 * then turns repair mode off and unlocks (go_live()), and lets it go. A
 * failed exec is reported through a close-on-exec pipe: the sockets are then
 * closed still in repair mode (nothing on the wire), the flows stay locked,
 * exit 2, and the image can be restored again. Where tracing is not allowed
 * (seccomp, Yama), the child leaves repair mode itself right before its exec
 * (and re-enters it if the exec fails, or, in a state the kernel does not
 * let into repair mode, makes the close a reset the lock drops), and the
 * pipe's EOF at exec time tells the parent to unlock; CMD may then run for
 * a moment with its flows still locked (what it sends is dropped and
 * retransmitted), never with a socket in repair mode.
 * Returns CMD's exit status, or EXIT_USAGE/EXIT_FAIL if it did not run.
 */
int run_cmd(struct golive *g, bool as_saved, char **cmd)
{
	struct sigaction sa;
	int pipefd[2], st, werr = 0;
	char mode = 'U', *names;
	size_t nlen = 16 * g->n + 1;
	ssize_t n;
	pid_t pid;

	/* LISTEN_FDNAMES: "fd<N>" per socket (its saved number), "soccr" when unknown; ':' between. */
	names = calloc(1, nlen);
	if (!names) {
		cli_err("restore: out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < g->n; i++) {
		size_t at = strlen(names);

		if (g->r[i].k->fd >= 0)
			snprintf(names + at, nlen - at, "%sfd%d", i ? ":" : "", (int)g->r[i].k->fd);
		else
			snprintf(names + at, nlen - at, "%ssoccr", i ? ":" : "");
	}
	if (pipe2(pipefd, O_CLOEXEC)) {
		cli_err("restore: pipe: %m");
		free(names);
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("restore: fork: %m");
		close(pipefd[0]);
		close(pipefd[1]);
		free(names);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(g, as_saved, cmd, pipefd[1], names);
	}
	free(names);
	close(pipefd[1]);
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	do
		n = read(pipefd[0], &mode, 1);
	while (n < 0 && errno == EINTR);
	do
		n = read(pipefd[0], &werr, sizeof(werr));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(werr)) {
		/* The exec failed: nothing went live. */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		cli_err("restore: exec %s: %s (the sockets were closed in repair mode, nothing "
			"was sent; the flows stay locked and the image can be restored again)",
			cmd[0], strerror(werr));
		return EXIT_USAGE;
	}
	if (mode == 'T') {
		/*
		 * Wait for the SIGTRAP stop that follows the exec, then let CMD go
		 * with live sockets. A signal that reached the child meanwhile is
		 * passed on to it.
		 */
		for (;;) {
			while (waitpid(pid, &st, 0) < 0)
				if (errno != EINTR) {
					cli_err("restore: waitpid: %m");
					return EXIT_FAIL;
				}
			if (!WIFSTOPPED(st) || WSTOPSIG(st) == SIGTRAP)
				break;
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(st));
		}
		if (WIFSTOPPED(st)) {
			go_live(g);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			settle(g);
		} else {
			cli_err("restore: %s ended before it ran (status 0x%x); the sockets were "
				"closed in repair mode, nothing was sent",
				cmd[0], st);
			return EXIT_FAIL;
		}
	} else {
		g->untraced = true;
		go_live(g);
		settle(g);
	}
	/* CMD has them: ours go. */
	for (size_t i = 0; i < g->n; i++) {
		close(g->r[i].fd);
		g->r[i].fd = -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			cli_err("restore: waitpid: %m");
			return EXIT_FAIL;
		}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* Format an image address (only 4-byte aligned, so copied into a real sockaddr_storage). */
