// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr restore -i IMAGE [-- CMD [ARG]...]: restore a checkpointed TCP socket
 * in the current network namespace, then hand it to CMD or report on it.
 *
 * The flow stays locked (if the image says it was locked at save) until the
 * new socket is out of repair mode: only then is it unlocked, so the peer
 * never meets a stack without the socket (which would answer with a RST).
 * The destination's devices must already carry the lock, holding the flow,
 * when the service address arrives there: the namespace's own lock (`soccr
 * lock add --attach` there), or a lock shared through a pin directory. An
 * `auto` lock (attached by `soccr save`) left without flows is detached.
 *
 * With CMD, the socket becomes fd 3 of a child running CMD, with
 * LISTEN_FDS=1 and LISTEN_PID=<its pid> (systemd's socket activation
 * convention; LISTEN_PID is set in the child after fork, before exec), and
 * soccr waits for it and exits with its status. Without CMD, soccr prints a
 * one-line report and exits, which closes the restored connection normally.
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

/* The first fd passed by socket activation (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr restore -i IMAGE [--no-unlock] [--keep-lock] [--pin-dir DIR] [--verify]\n"
		"                     [--pcap FILE] [-v] [-- CMD [ARG]...]\n"
		"\n"
		"Restore the TCP connection saved in IMAGE in this network namespace (the local\n"
		"address must be configured here). If it was locked at save, the flow is unlocked\n"
		"once the socket is ready. With CMD, the socket is passed to CMD as fd 3 with\n"
		"LISTEN_FDS=1 and LISTEN_PID set (systemd socket activation) and soccr exits with\n"
		"CMD's status; without CMD, a one-line report is printed and the connection is\n"
		"closed normally when soccr exits.\n"
		"\n"
		"  -i, --image IMAGE  the image written by 'soccr save'\n"
		"      --no-unlock    leave the flow locked\n"
		"      --keep-lock    keep the lock attached, even when 'soccr save' attached it and\n"
		"                     no flow is left in it (by default it is then detached)\n"
		"      --pin-dir DIR  a lock shared through DIR (default $SOCCR_PIN_DIR, else\n"
		"                     this network namespace's own lock)\n"
		"      --verify       prove each segment the restore injects (half-closed states)\n"
		"                     was on the wire and absorbed; print the verdicts; exit 3 if not\n"
		"      --pcap FILE    write the capture of the flow during the restore to FILE\n"
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

/* What is left to do once the restored socket may go live: repair off, unlock, report. */
struct golive {
	struct libsoccr_sk *sk;
	struct soccr_lock *lock;
	struct soccr_flow flow;
	int fd; /* the restored socket (the handle's) */
	const struct soccr_image *img;
	FILE *report;
	bool done, unlocked, unlock_failed, keep_lock, detached;
	bool untraced; /* CMD could not be stopped at its exec: it left repair mode itself */
};

static char *fmt_addr(const union libsoccr_addr *a, char *buf, size_t len);

static void go_live(struct golive *g)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char l[64], p[64];
	int ret;

	libsoccr_resume(g->sk);
	g->sk = NULL;
	g->done = true;
	if (g->lock) {
		ret = soccr_lock_del(g->lock, &g->flow);
		/*
		 * The socket is live now: closing it would end the connection, so
		 * it still goes on; the failure shows in the exit status and the
		 * user unlocks by hand ('soccr lock del').
		 */
		g->unlock_failed = ret != 0;
		if (ret)
			cli_err("restore: unlock the flow: %s (the connection is restored, its flow "
				"still locked)",
				cli_why(strerror(-ret)));
		else
			g->unlocked = true;
		/* A lock that soccr save attached for its own use goes with its last flow. */
		if (g->unlocked && !g->keep_lock) {
			ret = soccr_lock_detach_idle(g->lock);
			g->detached = ret == 1;
			if (ret < 0)
				cli_err("restore: detach the idle lock: %s (the flow is unlocked)",
					cli_why(strerror(-ret)));
		}
	}
	memset(&ti, 0, sizeof(ti));
	getsockopt(g->fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	fprintf(g->report, "restored %s -> %s %s: recv queue %u B, send queue %u B (%u unsent)%s%s\n",
		fmt_addr(&g->img->local, l, sizeof(l)), fmt_addr(&g->img->peer, p, sizeof(p)),
		soccr_tcp_state_name(ti.tcpi_state), g->img->data.inq_len, g->img->data.outq_len,
		g->img->data.unsq_len,
		g->detached ? "; flow unlocked, lock detached (no flow left)" :
		g->unlocked ? "; flow unlocked" :
		(g->img->flags & SOCCR_IMAGE_F_LOCKED) ? "; flow still locked" : "",
		g->untraced ? "; handed over untraced (ptrace not allowed here)" : "");
	fflush(g->report);
}

/* Leave repair mode without the window probe TCP_REPAIR_OFF sends (4.17+). */
#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif

/*
 * The child: the socket as fd 3, systemd's variables, then CMD. Never
 * returns. Untraced, it leaves repair mode itself just before the exec, so
 * that CMD never sees the socket in repair mode, and goes back into it if
 * the exec fails: the flow is still locked meanwhile, so nothing of that
 * moment reaches the peer either way.
 */
static void child_exec(int sk, char **cmd, int status_fd)
{
	char num[16], mode;
	int werr, off = TCP_REPAIR_OFF_NO_WP, on = 1;

	/* Stopped by the kernel right after a successful exec, until the parent lets go. */
	mode = ptrace(PTRACE_TRACEME, 0, NULL, NULL) ? 'U' : 'T';
	if (write(status_fd, &mode, 1) != 1)
		_exit(127);
	if (sk == LISTEN_FDS_START) {
		if (fcntl(sk, F_SETFD, 0))
			goto fail;
	} else if (dup2(sk, LISTEN_FDS_START) < 0) {
		goto fail;
	}
	snprintf(num, sizeof(num), "%d", (int)getpid());
	if (setenv("LISTEN_PID", num, 1) || setenv("LISTEN_FDS", "1", 1) ||
	    setenv("LISTEN_FDNAMES", "soccr", 1))
		goto fail;
	if (mode == 'U' &&
	    setsockopt(LISTEN_FDS_START, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)))
		goto fail;
	execvp(cmd[0], cmd);
	werr = errno;
	if (mode == 'U' &&
	    setsockopt(LISTEN_FDS_START, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on))) {
		/*
		 * The kernel lets only ESTABLISHED and CLOSE sockets into repair
		 * mode. Any other state is closed with a reset instead, which the
		 * lock drops: no FIN, no orphan holding the 4-tuple against the
		 * next restore of the image.
		 */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(LISTEN_FDS_START, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	errno = werr;
fail:
	werr = errno;
	if (write(status_fd, &werr, sizeof(werr)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Run CMD with the restored socket sk (still in repair mode, its flow still
 * locked) as fd 3, and let the socket go live only once CMD really runs:
 * the child is traced (PTRACE_TRACEME), so the kernel stops it right after
 * a successful exec, before CMD's first instruction; the parent then turns
 * repair mode off and unlocks (go_live()), and lets it go. A failed exec is
 * reported through a close-on-exec pipe: the socket is then closed still in
 * repair mode (nothing on the wire), the flow stays locked, exit 2, and the
 * image can be restored again. Where tracing is not allowed (seccomp,
 * Yama), the child leaves repair mode itself right before its exec (and
 * re-enters it if the exec fails, or, in a state the kernel does not let
 * into repair mode, makes the close a reset the lock drops), and the pipe's
 * EOF at exec time tells
 * the parent to unlock; CMD may then run for a moment with its flow still
 * locked (what it sends is dropped and retransmitted), never with the
 * socket in repair mode.
 * Returns CMD's exit status, or EXIT_USAGE/EXIT_FAIL if it did not run.
 */
static int run_cmd(int sk, char **cmd, struct golive *g)
{
	struct sigaction sa;
	int pipefd[2], hi[2], st, werr = 0;
	char mode = 'U';
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC)) {
		cli_err("restore: pipe: %m");
		return EXIT_FAIL;
	}
	/* Keep the status pipe clear of fd 3, which the child overwrites. */
	hi[0] = fcntl(pipefd[0], F_DUPFD_CLOEXEC, 10);
	hi[1] = fcntl(pipefd[1], F_DUPFD_CLOEXEC, 10);
	close(pipefd[0]);
	close(pipefd[1]);
	if (hi[0] < 0 || hi[1] < 0) {
		cli_err("restore: fcntl: %m");
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_err("restore: fork: %m");
		close(hi[0]);
		close(hi[1]);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(hi[0]);
		child_exec(sk, cmd, hi[1]);
	}
	close(hi[1]);
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	do
		n = read(hi[0], &mode, 1);
	while (n < 0 && errno == EINTR);
	do
		n = read(hi[0], &werr, sizeof(werr));
	while (n < 0 && errno == EINTR);
	close(hi[0]);
	if (n == (ssize_t)sizeof(werr)) {
		/* The exec failed: nothing went live. */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		cli_err("restore: exec %s: %s (the socket was closed in repair mode, nothing was "
			"sent; the flow stays locked and the image can be restored again)",
			cmd[0], strerror(werr));
		return EXIT_USAGE;
	}
	if (mode == 'T') {
		/*
		 * Wait for the SIGTRAP stop that follows the exec, then let CMD go
		 * with a live socket. A signal that reached the child meanwhile is
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
		} else {
			cli_err("restore: %s ended before it ran (status 0x%x); the socket was closed "
				"in repair mode, nothing was sent",
				cmd[0], st);
			return EXIT_FAIL;
		}
	} else {
		g->untraced = true;
		go_live(g);
	}
	close(sk);
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

static bool same_flow(const struct soccr_flow *a, const struct soccr_flow *b)
{
	size_t alen = a->family == AF_INET ? sizeof(a->saddr.v4) : sizeof(a->saddr.v6);

	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(&a->saddr, &b->saddr, alen) && !memcmp(&a->daddr, &b->daddr, alen);
}

/*
 * Open the lock attached here and check the image's flow is locked there. A
 * flow missing from it means we are looking at another lock than the one
 * that holds the flow (another namespace's, another --pin-dir), and
 * "unlocking" it would leave the real entry in place: refuse before
 * touching anything. Returns 0, or an exit status after a message.
 */
static int open_lock(const struct soccr_image *img, const char *pin_dir, struct soccr_lock **lock,
		     struct soccr_flow *flow)
{
	/* Only a lock that drops packets here: unlocking in another would be a silent no-op. */
	struct soccr_lock_opts lopts = { .sz = sizeof(lopts), .pin_dir = pin_dir,
					 .flags = SOCCR_LOCK_ATTACHED };
	struct soccr_lock_entry *e = NULL;
	bool found = false;
	size_t n = 0;
	int ret;

	ret = soccr_flow_from_sockaddr(flow, &img->local.sa, &img->peer.sa);
	if (ret) {
		cli_err("restore: flow of the image: %s", strerror(-ret));
		return EXIT_USAGE;
	}
	ret = soccr_lock_open(&lopts, lock);
	if (ret == -ENOENT) {
		cli_err("restore: the image's flow was locked at save, and no lock is attached in "
			"this network namespace%s ('soccr lock status'; --no-unlock to go on)",
			pin_dir ? " with that --pin-dir" : "");
		return EXIT_FAIL;
	}
	if (!ret)
		ret = soccr_lock_list(*lock, &e, &n);
	if (ret) {
		cli_err("restore: open the lock: %s", cli_why(strerror(-ret)));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n && !found; i++)
		found = same_flow(&e[i].flow, flow);
	free(e);
	if (!found) {
		cli_err("restore: the image's flow is not locked in this network namespace's lock "
			"(restoring in another namespace than the lock's? --no-unlock to go on)");
		return EXIT_FAIL;
	}
	return 0;
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
 * writes the pcap file) and, with print, one line each. Returns the number
 * not absorbed, or a negative errno.
 */
static int verdicts(struct soccr_verifier *ver, bool print, FILE *f)
{
	int bad = soccr_verifier_collect(ver);
	size_t n = soccr_verifier_count(ver);
	char line[768];

	if (bad < 0 || !print)
		return bad;
	fprintf(f, "verify: %zu segment(s) injected, %zu absorbed\n", n, n - (size_t)bad);
	for (size_t i = 0; i < n; i++) {
		soccr_verdict_str(soccr_verifier_verdict(ver, i), line, sizeof(line));
		fprintf(f, "verify: %s\n", line);
	}
	return bad;
}

int cmd_restore(int argc, char **argv)
{
	enum { OPT_NO_UNLOCK = 256, OPT_PIN_DIR, OPT_VERIFY, OPT_PCAP, OPT_KEEP_LOCK };
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "no-unlock", no_argument, NULL, OPT_NO_UNLOCK },
		{ "keep-lock", no_argument, NULL, OPT_KEEP_LOCK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *pin_dir = NULL, *pcap = NULL;
	bool no_unlock = false, keep_lock = false, verify = false, verbose = false;
	bool unlock_failed = false;
	struct golive g = {0};
	struct soccr_lock *lock = NULL;
	struct libsoccr_sk *sk = NULL;
	struct soccr_flow flow;
	struct soccr_image img;
	int fd = -1, c, ret, status = EXIT_FAIL;
	char err[512];
	char **cmd = NULL;
	struct soccr_verifier *ver = NULL;
	struct soccr_restore_opts ropts = {.sz = sizeof(ropts)};
	struct soccr_restore_observer obs;
	struct soccr_session *session = NULL;
	FILE *report = stdout;
	bool reported = false;
	int vbad;

	memset(&img, 0, sizeof(img));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:i:vh", longopts, NULL)) != -1) {
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
		case 'v':
			verbose = true;
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
	if (cmd) {
		char why[512] = "";

		/* Before anything happens: a command that cannot run must not cost the connection. */
		if (cli_check_exec(cmd[0], why, sizeof(why))) {
			cli_err("restore: %s: cannot be run (%s)", cmd[0], why);
			return EXIT_USAGE;
		}
	}
	cli_setup_log_capture(verbose);

	ret = soccr_image_load(path, &img, err, sizeof(err));
	if (ret) {
		cli_err("restore: %s", err);
		return cli_image_status(ret);
	}

	if ((img.flags & SOCCR_IMAGE_F_LOCKED) && !no_unlock) {
		status = open_lock(&img, pin_dir, &lock, &flow);
		if (status)
			goto out;
		status = EXIT_FAIL;
	}
	/* With CMD, stdout belongs to it. */
	report = cmd ? stderr : stdout;
	if (verify || pcap) {
		/* Opened before anything is sent: the capture must see the first segment. */
		ret = open_verifier(pcap, lock, &ver);
		if (ret) {
			cli_err("restore: open the verifier: %s", cli_why(strerror(-ret)));
			goto out;
		}
		/* Limit the capture to this flow from the start (the kernel filter). */
		if (!soccr_flow_from_sockaddr(&flow, &img.local.sa, &img.peer.sa)) {
			ret = soccr_verifier_set_flows(ver, &flow, 1);
			if (ret) {
				cli_err("restore: capture filter: %s", cli_why(strerror(-ret)));
				goto out;
			}
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

	fd = socket(img.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		cli_err("restore: socket: %m");
		goto out;
	}
	sk = libsoccr_pause(fd);
	if (!sk) {
		cli_err("restore: libsoccr_pause: %s", cli_why(strerror(errno)));
		goto out;
	}
	/* Addresses by reference: img outlives sk. Queues are handed over. */
	libsoccr_set_addr(sk, 1, &img.local, 0);
	libsoccr_set_addr(sk, 0, &img.peer, 0);
	if (img.recvq) {
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, img.recvq, SOCCR_MEM_EXCL);
		img.recvq = NULL;
	}
	if (img.sendq) {
		libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, img.sendq, SOCCR_MEM_EXCL);
		img.sendq = NULL;
	}
	ret = soccr_restore_ext(sk, &img.data, sizeof(img.data), &ropts);
	if (ver) {
		vbad = verdicts(ver, verify, report);
		if (vbad < 0 && ret == 0) {
			cli_err("restore: --verify: collecting the verdicts failed: %s; "
				"nothing was sent to the peer", strerror(-vbad));
			ret = -ECANCELED;
			reported = true;
		} else if (verify && vbad > 0 && ret == 0) {
			cli_err("restore: --verify: %d injected segment(s) not proven absorbed; "
				"nothing was sent to the peer", vbad);
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
			"nothing was sent to the peer", cli_why("no detail"));
		status = EXIT_VERIFY;
	} else if (ret < 0) {
		cli_err("restore: libsoccr_restore: %s; nothing was sent to the peer",
			cli_why("failed"));
	}
	if (ret < 0) {
		/* Closing a socket still in repair mode sends nothing. */
		libsoccr_release(sk);
		sk = NULL;
		goto out;
	}
	g.sk = sk;
	g.fd = fd;
	g.lock = lock;
	g.keep_lock = keep_lock;
	g.flow = flow;
	g.img = &img;
	g.report = report;
	sk = NULL;
	if (cmd) {
		status = run_cmd(fd, cmd, &g);
		if (!g.done) {
			/* CMD did not run: the socket goes still in repair mode, the flow stays locked. */
			libsoccr_release(g.sk);
			g.sk = NULL;
		} else {
			fd = -1; /* closed by run_cmd() once CMD had it */
		}
	} else {
		go_live(&g);
		status = EXIT_OK;
	}
	unlock_failed = g.unlock_failed;
	if (unlock_failed)
		status = EXIT_FAIL;
out:
	soccr_session_close(session);
	soccr_verifier_close(ver);
	soccr_lock_close(lock);
	if (fd >= 0)
		close(fd);
	soccr_image_free(&img);
	return status;
}
