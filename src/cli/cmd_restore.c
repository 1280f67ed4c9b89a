// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr restore -i IMAGE [-- CMD [ARG]...]: restore the checkpointed TCP
 * sockets of an image (one connection, or every socket of a process,
 * listeners included) in the current network namespace, then hand them to
 * CMD or report on them.
 *
 * All or nothing: every socket is made (connections restored still in
 * repair mode, listeners bound and listening) before any goes live; if one
 * fails, every one is closed (in repair mode: nothing on the wire), every
 * flow stays locked and the image can be restored again. The flows stay
 * locked (if the image says so) until the new sockets are out of repair
 * mode: only then are they unlocked, in one batch, so the peers never meet
 * a stack without their socket (which would answer with a RST).
 * The destination's devices must already carry the lock, holding the flow,
 * when the service address arrives there: the namespace's own lock (`soccr
 * lock add --attach` there), or a lock shared through a pin directory. An
 * `auto` lock (attached by `soccr save`) left without flows is detached.
 *
 * With CMD, the sockets become fds 3.. of a child running CMD, in the
 * image's order, with LISTEN_FDS=N, LISTEN_PID=<its pid> and LISTEN_FDNAMES
 * (systemd's socket activation convention; "fd<N>" names the socket the
 * saved process had as fd N), and soccr waits for it and exits with its
 * status; --fds-as-saved puts each at its original number instead. Without
 * CMD, soccr prints a report and exits, which closes the restored
 * connections normally.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/restore.h>
#include <soccr/soccr.h>
#include <soccr/verify.h>

#include "cli.h"
#include "json.h"

/* The first fd passed by socket activation (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr restore -i IMAGE [--no-unlock] [--keep-lock] [--pin-dir DIR] [--verify]\n"
		"                     [--pcap FILE] [--fds-as-saved] [--json] [-q] [-v] [-- CMD [ARG]...]\n"
		"\n"
		"Restore the TCP sockets saved in IMAGE ('-': standard input) in this network\n"
		"namespace (the local addresses must be configured here): connections, and\n"
		"listeners bound and listening again. All or nothing: if one socket cannot be\n"
		"made, none goes live, the flows stay locked and the image can be restored\n"
		"again. Flows locked at save are unlocked once every socket is ready. With CMD,\n"
		"the sockets are passed to CMD as fds 3.. in the image's order, with LISTEN_FDS,\n"
		"LISTEN_PID and LISTEN_FDNAMES set (systemd socket activation: \"fd5\" names the\n"
		"socket the saved process had as fd 5), and soccr exits with CMD's status;\n"
		"without CMD, a report is printed and the connections are closed normally when\n"
		"soccr exits.\n"
		"\n"
		"  -i, --image IMAGE  the image written by 'soccr save'\n"
		"      --no-unlock    leave the flows locked\n"
		"      --keep-lock    keep the lock attached, even when 'soccr save' attached it and\n"
		"                     no flow is left in it (by default it is then detached)\n"
		"      --pin-dir DIR  a lock shared through DIR (default $SOCCR_PIN_DIR, else\n"
		"                     this network namespace's own lock)\n"
		"      --verify       prove each segment the restore injects (half-closed states)\n"
		"                     was on the wire and absorbed; print the verdicts; exit 3 if not\n"
		"      --pcap FILE    write the capture of the flows during the restore to FILE\n"
		"      --fds-as-saved with CMD: each socket at the fd number it had when saved\n"
		"                     (3 or above), no LISTEN_* variables\n"
		"  -j, --json         the summary as JSON (on stderr with CMD: stdout is CMD's)\n"
		"  -q, --quiet        no progress line, no summary (errors only)\n"
		"  -v, --verbose      library debug messages\n"
		"  -h, --help         this help\n"
		"\n"
		"with CMD, soccr exits with CMD's status once CMD ran.\n" CLI_EXIT_HELP);
}

static pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Leave repair mode without the window probe TCP_REPAIR_OFF sends (4.17+). */
#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif

/* One socket of the image, made again. */
struct rsock {
	const struct soccr_image_sock *k;
	int fd;
	struct libsoccr_sk *sk;	/* a connection, in repair mode until it goes live */
	struct soccr_flow flow;
	bool unlock;		/* locked at save, to be unlocked once live */
};

/* What is left to do once the restored sockets may go live: repair off, unlock, report. */
struct golive {
	struct rsock *r;
	size_t n;
	struct soccr_lock *lock;
	const struct soccr_image_set *set;
	FILE *report;
	bool done, unlocked, unlock_failed, keep_lock, detached;
	bool untraced; /* CMD could not be stopped at its exec: it left repair mode itself */
};

static char *fmt_addr(const union libsoccr_addr *a, char *buf, size_t len);

/* The summary: one line (the connection's own for a single one), or JSON. */
static void report(const struct golive *g)
{
	const char *untraced = g->untraced ? "; handed over untraced (ptrace not allowed here)" : "";
	struct cli_counts c;

	/* Each socket is in its saved state (the restore is exact): the counts are the image's. */
	cli_count(g->set, &c);
	if (cli_g.json) {
		struct sc_json j = { 0 };

		sc_json_object(&j, NULL);
		cli_counts_json(&j, &c);
		sc_json_bool(&j, "unlocked", g->unlocked);
		sc_json_bool(&j, "lock_detached", g->detached);
		sc_json_bool(&j, "untraced", g->untraced);
		sc_json_end_object(&j);
		if (g->report == stdout) {
			cli_json_emit("restore", &j);
		} else {
			/* With CMD, stdout is the command's: the JSON goes to stderr, one line. */
			char *text = sc_json_take(&j);

			if (text)
				fprintf(g->report, "%s\n", text);
			free(text);
		}
		return;
	}
	if (cli_g.quiet)
		return;
	if (g->n == 1 && c.conns == 1) {
		/* One connection: its own line, as it always was. */
		const struct soccr_image *img = &g->r[0].k->conn;
		char l[64], p[64];

		fprintf(g->report,
			"restored %s -> %s %s: recv queue %u B, send queue %u B (%u unsent)%s%s\n",
			fmt_addr(&img->local, l, sizeof(l)), fmt_addr(&img->peer, p, sizeof(p)),
			soccr_tcp_state_name(img->data.state), img->data.inq_len, img->data.outq_len,
			img->data.unsq_len,
			g->detached ? "; flow unlocked, lock detached (no flow left)" :
			g->unlocked ? "; flow unlocked" :
			(img->flags & SOCCR_IMAGE_F_LOCKED) ? "; flow still locked" : "",
			untraced);
		fflush(g->report);
		return;
	}
	fprintf(g->report, "restored %zu socket%s: ", g->n, g->n == 1 ? "" : "s");
	cli_counts_text(g->report, &c);
	fprintf(g->report, "%s%s\n",
		g->detached ? "; flows unlocked, lock detached (no flow left)" :
		g->unlocked ? "; flows unlocked" : "", untraced);
	fflush(g->report);
}

/* Repair mode off for every socket, then the flows unlocked in one batch. */
static void go_live(struct golive *g)
{
	struct soccr_flow *f = calloc(g->n ? g->n : 1, sizeof(*f));
	size_t nf = 0;
	int ret;

	for (size_t i = 0; i < g->n; i++) {
		if (g->r[i].sk)
			libsoccr_resume(g->r[i].sk);
		g->r[i].sk = NULL;
		if (g->r[i].unlock && f)
			f[nf++] = g->r[i].flow;
	}
	g->done = true;
	if (g->lock && nf) {
		ret = soccr_lock_del_batch(g->lock, f, nf);
		if (ret < 0)
			ret = -ENOMEM;
		/*
		 * The sockets are live now: closing them would end the connections,
		 * so they go on; the failure shows in the exit status and the user
		 * unlocks by hand ('soccr lock del').
		 */
		g->unlock_failed = ret < 0;
		if (ret < 0)
			cli_err("restore: unlock the flows: %s (the connections are restored, their "
				"flows still locked)",
				cli_why(strerror(-ret)));
		else
			g->unlocked = true;
	} else if (g->lock && !f) {
		g->unlock_failed = true;
		cli_err("restore: out of memory: the flows stay locked");
	}
	free(f);
}

/*
 * After go_live() and once CMD runs: a lock that soccr save attached for its
 * own use goes with its last flow, then the report. The detach waits for an
 * RCU grace period per hook (tens of ms), which CMD need not wait for.
 */
static void settle(struct golive *g)
{
	if (g->lock && g->unlocked && !g->keep_lock) {
		int ret = soccr_lock_detach_idle(g->lock);

		g->detached = ret == 1;
		if (ret < 0)
			cli_err("restore: detach the idle lock: %s (the flows are unlocked)",
				cli_why(strerror(-ret)));
	}
	report(g);
}

/* Where the child puts socket i: 3 + i, or its saved number. */
static int target_fd(const struct golive *g, size_t i, bool as_saved)
{
	return as_saved ? g->r[i].k->fd : LISTEN_FDS_START + (int)i;
}

/*
 * The child: the sockets at their fds, systemd's variables, then CMD. Never
 * returns. Untraced, it leaves repair mode itself just before the exec, so
 * that CMD never sees a socket in repair mode, and goes back into it if the
 * exec fails: the flows are still locked meanwhile, so nothing of that
 * moment reaches a peer either way.
 */
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
		close(src[i]);
	}
	ret = 0;
out:
	free(src);
	free(order);
	free(owner);
	return ret;
}

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
static int run_cmd(struct golive *g, bool as_saved, char **cmd)
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
static char *fmt_addr(const union libsoccr_addr *a, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, a, sizeof(*a));
	return cli_fmt_endpoint(&ss, buf, len);
}

/*
 * Open the lock attached here and check every flow to unlock is locked
 * there. A flow missing from it means we are looking at another lock than
 * the one that holds it (another namespace's, another --pin-dir), and
 * "unlocking" it would leave the real entry in place: refuse before
 * touching anything. Returns 0, or an exit status after a message.
 */
static int open_lock(struct golive *g, const char *pin_dir)
{
	/* Only a lock that drops packets here: unlocking in another would be a silent no-op. */
	struct soccr_lock_opts lopts = { .sz = sizeof(lopts), .pin_dir = pin_dir,
					 .flags = SOCCR_LOCK_ATTACHED };
	struct soccr_flow *f = calloc(g->n ? g->n : 1, sizeof(*f));
	bool *held = calloc(g->n ? g->n : 1, sizeof(*held));
	size_t nf = 0, missing = 0;
	int ret;

	if (!f || !held) {
		free(f);
		free(held);
		cli_err("restore: out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->r[i].unlock)
			f[nf++] = g->r[i].flow;
	ret = soccr_lock_open(&lopts, &g->lock);
	if (ret == -ENOENT) {
		cli_err("restore: the image's flows were locked at save, and no lock is attached "
			"in this network namespace%s ('soccr lock status'; --no-unlock to go on)",
			pin_dir ? " with that --pin-dir" : "");
		ret = EXIT_FAIL;
		goto out;
	}
	if (!ret)
		ret = cli_lock_holds(g->lock, f, nf, held);
	if (ret) {
		cli_err("restore: open the lock: %s", cli_why(strerror(-ret)));
		ret = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < nf; i++)
		missing += !held[i];
	if (missing) {
		cli_err("restore: %s not locked in this network namespace's lock (restoring in "
			"another namespace than the lock's? --no-unlock to go on)",
			nf == 1 ? "the image's flow is" : "some of the image's flows are");
		ret = EXIT_FAIL;
	}
out:
	free(f);
	free(held);
	return ret;
}

/*
 * A verifier, with a pcap file if asked; the caller then limits its capture
 * to the image's flow. Returns 0 or a negative errno.
 */
static int open_verifier(const char *pcap, struct soccr_lock *lock, struct soccr_verifier **ver)
{
	struct soccr_verifier_opts vopts = { .sz = sizeof(vopts), .pcap_path = pcap, .lock = lock };

	return soccr_verifier_open(&vopts, ver);
}

/*
 * Collect the verdicts of the segments the restore injected (this also
 * writes the pcap file) and, with print, one line each. A restore that
 * injected nothing says why, so that an empty capture file is no surprise.
 * Returns the number not absorbed, or a negative errno.
 */
static int verdicts(struct soccr_verifier *ver, bool print, const char *pcap, FILE *f)
{
	int bad = soccr_verifier_collect(ver);
	size_t n = soccr_verifier_count(ver);
	char line[768];

	if (bad < 0)
		return bad;
	if (n == 0 && (print || pcap) && !cli_g.quiet) {
		fprintf(f, "verify: no segment injected: ESTABLISHED connections and listeners "
			   "need none%s%s%s\n",
			pcap ? " (" : "", pcap ? pcap : "", pcap ? " holds no injected segment)" : "");
		return 0;
	}
	if (!print)
		return bad;
	fprintf(f, "verify: %zu segment(s) injected, %zu absorbed\n", n, n - (size_t)bad);
	for (size_t i = 0; i < n; i++) {
		soccr_verdict_str(soccr_verifier_verdict(ver, i), line, sizeof(line));
		fprintf(f, "verify: %s\n", line);
	}
	return bad;
}

/* A listener made again: socket, its options, bind, listen. 0, or -1 after a message. */
static int make_listener(struct rsock *r)
{
	const struct soccr_image_listener *l = &r->k->listen;
	int one = 1, v6only = !!(l->opts & SOCCR_LISTEN_V6ONLY);
	char a[64];

	fmt_addr(&l->local, a, sizeof(a));
	r->fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (r->fd < 0) {
		cli_err("restore: listener %s: socket: %m", a);
		return -1;
	}
	if (((l->opts & SOCCR_LISTEN_REUSEADDR) &&
	     setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    ((l->opts & SOCCR_LISTEN_REUSEPORT) &&
	     setsockopt(r->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    (l->family == AF_INET6 &&
	     setsockopt(r->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) ||
	    ((l->opts & SOCCR_LISTEN_FREEBIND) &&
	     (l->family == AF_INET ? setsockopt(r->fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one))
				   : setsockopt(r->fd, IPPROTO_IPV6, IPV6_FREEBIND, &one,
						sizeof(one)))) ||
	    ((l->opts & SOCCR_LISTEN_TRANSPARENT) &&
	     (l->family == AF_INET
		      ? setsockopt(r->fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one))
		      : setsockopt(r->fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))))) {
		cli_err("restore: listener %s: socket options: %m", a);
		return -1;
	}
	if (bind(r->fd, &l->local.sa,
		 l->family == AF_INET ? sizeof(l->local.v4) : sizeof(l->local.v6))) {
		cli_err("restore: listener %s: bind: %m", a);
		return -1;
	}
	if (listen(r->fd, (int)l->backlog)) {
		cli_err("restore: listener %s: listen: %m", a);
		return -1;
	}
	return 0;
}

/* Room for n sockets and the child's copies of them: raise the soft fd limit if needed. */
static void fd_room(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= 2 * n + 64)
		return;
	rl.rlim_cur = rl.rlim_max < 2 * n + 64 ? rl.rlim_max : 2 * n + 64;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int cmd_restore(int argc, char **argv)
{
	enum { OPT_NO_UNLOCK = 256, OPT_PIN_DIR, OPT_VERIFY, OPT_PCAP, OPT_KEEP_LOCK, OPT_AS_SAVED };
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "no-unlock", no_argument, NULL, OPT_NO_UNLOCK },
		{ "keep-lock", no_argument, NULL, OPT_KEEP_LOCK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "fds-as-saved", no_argument, NULL, OPT_AS_SAVED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *pin_dir = NULL, *pcap = NULL;
	bool no_unlock = false, keep_lock = false, verify = false, progress;
	bool as_saved = false, reported = false, any_locked = false;
	struct golive g = {0};
	struct soccr_image_set set;
	struct soccr_flow *flows = NULL;
	size_t nflows = 0;
	int c, ret = 0, status = EXIT_FAIL, vbad;
	char err[512];
	char **cmd = NULL;
	struct soccr_verifier *ver = NULL;
	struct soccr_restore_opts ropts = {.sz = sizeof(ropts)};
	struct soccr_restore_observer obs;
	struct soccr_session *session = NULL;

	memset(&set, 0, sizeof(set));
	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	while ((c = cli_getopt(argc, argv, "+:i:h", longopts)) != -1) {
		switch (c) {
		case 'i':
			if (cli_once("restore", "-i", &path, optarg))
				return EXIT_USAGE;
			break;
		case OPT_KEEP_LOCK:
			keep_lock = true;
			break;
		case OPT_NO_UNLOCK:
			no_unlock = true;
			break;
		case OPT_AS_SAVED:
			as_saved = true;
			break;
		case OPT_PIN_DIR:
			if (cli_once("restore", "--pin-dir", &pin_dir, optarg))
				return EXIT_USAGE;
			break;
		case OPT_VERIFY:
			verify = true;
			break;
		case OPT_PCAP:
			if (cli_once("restore", "--pcap", &pcap, optarg))
				return EXIT_USAGE;
			break;
		default:
			return cli_opt_other("restore", c, argv, usage);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			cli_err("restore: unexpected argument '%s' (put the command after '--')",
				argv[optind]);
			return EXIT_USAGE;
		}
		cmd = argv + optind;
	}
	if (!path) {
		cli_err("restore: -i IMAGE is required (try 'soccr restore --help')");
		return EXIT_USAGE;
	}
	if (as_saved && !cmd) {
		cli_err("restore: --fds-as-saved goes with a command ('-- CMD')");
		return EXIT_USAGE;
	}
	if (cmd) {
		char why[512] = "";

		/* Before anything happens: a command that cannot run must not cost the connections. */
		if (cli_check_exec(cmd[0], why, sizeof(why))) {
			cli_err("restore: %s: cannot be run (%s)", cmd[0], why);
			return EXIT_USAGE;
		}
	}
	cli_setup_log_capture(cli_g.verbose);

	ret = soccr_image_set_load(path, &set, err, sizeof(err));
	if (ret) {
		cli_err("restore: %s", err);
		return cli_image_status(ret);
	}
	g.set = &set;
	g.n = set.n;
	g.keep_lock = keep_lock;
	/* With CMD, stdout belongs to it. */
	g.report = cmd ? stderr : stdout;
	/* A progress line for long restores, on a terminal. */
	progress = set.n >= 256 && isatty(STDERR_FILENO) && !cli_g.quiet && !cli_g.verbose;
	g.r = calloc(set.n, sizeof(*g.r));
	flows = calloc(set.n, sizeof(*flows));
	if (!g.r || !flows) {
		cli_err("restore: out of memory");
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		struct rsock *r = &g.r[i];

		r->k = &set.socks[i];
		r->fd = -1;
		if (r->k->kind != SOCCR_IMAGE_CONN)
			continue;
		if (soccr_flow_from_sockaddr(&r->flow, &r->k->conn.local.sa,
					     &r->k->conn.peer.sa)) {
			cli_err("restore: socket %zu: addresses of two families", i);
			status = EXIT_USAGE;
			goto out;
		}
		flows[nflows++] = r->flow;
		r->unlock = (r->k->conn.flags & SOCCR_IMAGE_F_LOCKED) && !no_unlock;
		any_locked |= r->unlock;
	}
	if (as_saved)
		for (size_t i = 0; i < set.n; i++) {
			if (set.socks[i].fd < LISTEN_FDS_START) {
				cli_err("restore: --fds-as-saved: socket %zu had fd %d, not 3 or above",
					i, (int)set.socks[i].fd);
				status = EXIT_USAGE;
				goto out;
			}
			for (size_t j = 0; j < i; j++)
				if (set.socks[j].fd == set.socks[i].fd) {
					cli_err("restore: --fds-as-saved: fd %d twice in the image",
						(int)set.socks[i].fd);
					status = EXIT_USAGE;
					goto out;
				}
		}
	fd_room(set.n);
	if (any_locked) {
		status = open_lock(&g, pin_dir);
		if (status)
			goto out;
		status = EXIT_FAIL;
	}
	if (verify || pcap) {
		/* Opened before anything is sent: the capture must see the first segment. */
		ret = open_verifier(pcap, g.lock, &ver);
		if (ret) {
			cli_err("restore: open the verifier: %s", cli_why(strerror(-ret)));
			goto out;
		}
		/* Limit the capture to these flows from the start (the kernel filter). */
		ret = nflows ? soccr_verifier_set_flows(ver, flows, nflows) : 0;
		if (ret) {
			cli_err("restore: capture filter: %s", cli_why(strerror(-ret)));
			goto out;
		}
		soccr_verifier_observer(ver, &obs);
		ropts.observer = &obs;
	}
	/* The tool's restores take the AF_PACKET path, loading the bypass where it is needed. */
	ret = soccr_session_open(NULL, &session);
	if (ret) {
		cli_err("restore: session: %s", cli_why(strerror(-ret)));
		goto out;
	}
	ropts.session = session;

	/* Every socket made, connections still in repair mode; the first failure stops all. */
	for (size_t i = 0; i < set.n && ret >= 0; i++) {
		struct rsock *r = &g.r[i];
		struct soccr_image *img = &set.socks[i].conn;

		if (r->k->kind == SOCCR_IMAGE_LISTEN) {
			ret = make_listener(r) ? -1 : 0;
			reported = ret < 0;
			continue;
		}
		r->fd = socket(img->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		if (r->fd < 0) {
			cli_err("restore: socket: %m");
			ret = -1;
			reported = true;
			break;
		}
		r->sk = libsoccr_pause(r->fd);
		if (!r->sk) {
			cli_err("restore: libsoccr_pause: %s", cli_why(strerror(errno)));
			ret = -1;
			reported = true;
			break;
		}
		/* Addresses by reference: the set outlives sk. Queues are handed over. */
		libsoccr_set_addr(r->sk, 1, &img->local, 0);
		libsoccr_set_addr(r->sk, 0, &img->peer, 0);
		if (img->recvq) {
			libsoccr_set_queue_bytes(r->sk, TCP_RECV_QUEUE, img->recvq, SOCCR_MEM_EXCL);
			img->recvq = NULL;
		}
		if (img->sendq) {
			libsoccr_set_queue_bytes(r->sk, TCP_SEND_QUEUE, img->sendq, SOCCR_MEM_EXCL);
			img->sendq = NULL;
		}
		ret = soccr_restore_ext(r->sk, &img->data, sizeof(img->data), &ropts);
		if (progress && ((i + 1) % 256 == 0 || i + 1 == set.n))
			fprintf(stderr, "\rrestoring %zu/%zu sockets%s", i + 1, set.n,
				i + 1 == set.n || ret < 0 ? "\n" : "");
	}
	if (ver) {
		vbad = verdicts(ver, verify, pcap, cli_g.json ? stderr : g.report);
		if (vbad < 0 && ret == 0) {
			cli_err("restore: --verify: collecting the verdicts failed: %s; "
				"nothing was sent to the peers", strerror(-vbad));
			ret = -ECANCELED;
			reported = true;
		} else if (verify && vbad > 0 && ret == 0) {
			cli_err("restore: --verify: %d injected segment(s) not proven absorbed; "
				"nothing was sent to the peers", vbad);
			status = EXIT_VERIFY;
			ret = -ENOLINK;
			reported = true;
		}
		soccr_verifier_close(ver);
		ver = NULL;
	}
	if (reported) {
		/* Reported above. */
	} else if (ret == -ENOLINK) {
		/* src/core/peer.c: an injected segment went out but the socket did not absorb it. */
		cli_err("restore: libsoccr_restore: an injected segment was not absorbed (%s); "
			"nothing was sent to the peers", cli_why("no detail"));
		status = EXIT_VERIFY;
	} else if (ret < 0) {
		cli_err("restore: libsoccr_restore: %s; nothing was sent to the peers",
			cli_why("failed"));
	}
	if (ret < 0) {
		if (set.n > 1)
			cli_err("restore: no socket went live: all were closed in repair mode, the "
				"flows stay locked, the image can be restored again");
		goto out;
	}
	if (cmd) {
		status = run_cmd(&g, as_saved, cmd);
	} else {
		go_live(&g);
		settle(&g);
		status = EXIT_OK;
	}
	if (g.unlock_failed)
		status = EXIT_FAIL;
out:
	/* Connections not live (CMD did not run, or a failure) close in repair mode: nothing sent. */
	for (size_t i = 0; g.r && i < g.n; i++) {
		if (g.r[i].sk)
			libsoccr_release(g.r[i].sk);
		if (g.r[i].fd >= 0)
			close(g.r[i].fd);
	}
	free(g.r);
	free(flows);
	soccr_session_close(session);
	soccr_verifier_close(ver);
	soccr_lock_close(g.lock);
	soccr_image_set_free(&set);
	return status;
}
