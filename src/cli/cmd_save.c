// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr save --pid PID --fd FD -o IMAGE: checkpoint a live TCP socket of a
 * running process.
 *
 * The socket is taken with pidfd_getfd(), so the target keeps its own fd to
 * the same socket. Order matters: the flow is locked first (no packet of it
 * moves either way), then the socket goes into repair mode and is read. The
 * lock must be attached to the devices of the socket's network namespace,
 * which is the target's, not necessarily ours: so we join the target's netns
 * (setns on the pidfd) before attaching. Only the network namespace changes;
 * the mount namespace (bpffs pins, the image path) stays ours.
 *
 * On success the source socket is left in repair mode (libsoccr_release) and
 * the flow stays locked: the caller then kills the source process (a socket
 * closed in repair mode sends nothing, no FIN and no RST), and `soccr
 * restore` unlocks the flow once the new socket is ready. On failure after
 * the lock, everything is rolled back: the socket leaves repair mode and the
 * flow is unlocked, so the connection goes on in the source process.
 */
#include <errno.h>
#include <libgen.h>
#include <getopt.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr save --pid PID --fd FD -o IMAGE [--no-lock] [--pin-dir DIR] [-v]\n"
		"\n"
		"Checkpoint the TCP socket FD of process PID into IMAGE. The flow is locked\n"
		"with the tc lock (attached to every UP interface of the process's network\n"
		"namespace) before the socket goes into repair mode. Afterwards the process's\n"
		"socket stays in repair mode and the flow stays locked: kill the process, then\n"
		"'soccr restore' the image (it unlocks the flow once the new socket is ready).\n"
		"If the process may be in the middle of reading or writing the socket, stop it\n"
		"first (kill -STOP): bytes it has read but not handled are not in the socket.\n"
		"\n"
		"  -p, --pid PID      the process holding the socket\n"
		"  -f, --fd FD        its file descriptor number for the socket\n"
		"  -o, --output IMAGE the image file to write (atomically)\n"
		"      --no-lock      do not lock the flow (the caller already stopped its packets)\n"
		"      --pin-dir DIR  a lock shared through DIR (default $SOCCR_PIN_DIR, else\n"
		"                     the network namespace's own lock, attached if needed)\n"
		"  -v, --verbose      library debug messages\n"
		"  -h, --help         this help\n"
		"\n"
		"on failure the connection is left as it was.\n" CLI_EXIT_HELP);
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Check fd is a connected TCP socket in a state we can restore. Returns an exit status. */
static int check_socket(int fd, pid_t pid, int tfd, int *family)
{
	int domain = 0, type = 0, proto = 0;
	struct tcp_info ti;
	socklen_t len;
	struct stat st;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode)) {
		cli_err("save: fd %d of pid %d: not a socket", tfd, pid);
		return EXIT_USAGE;
	}
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM ||
	    proto != IPPROTO_TCP) {
		cli_err("save: fd %d of pid %d: not a TCP socket (domain %d, type %d, protocol %d)",
			tfd, pid, domain, type, proto);
		return EXIT_USAGE;
	}
	memset(&ti, 0, sizeof(ti));
	len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		cli_err("save: fd %d of pid %d: TCP_INFO: %m", tfd, pid);
		return EXIT_FAIL;
	}
	if (!soccr_image_state_supported(ti.tcpi_state)) {
		cli_err("save: fd %d of pid %d: state %s cannot be checkpointed", tfd, pid,
			soccr_tcp_state_name(ti.tcpi_state));
		return EXIT_USAGE;
	}
	*family = domain;
	return EXIT_OK;
}

/* Printable hostname for the image; the format allows printable ASCII only. */
static void image_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len - 1))
		snprintf(buf, len, "?");
	buf[len - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

/*
 * The peer's address. getpeername() says ENOTCONN in SYN_SENT and CLOSE,
 * SO_PEERNAME answers there too (it wants exactly the address length).
 */
static int peer_name(int fd, int family, struct sockaddr_storage *peer)
{
	socklen_t len = sizeof(*peer);

	memset(peer, 0, sizeof(*peer));
	if (!getpeername(fd, (struct sockaddr *)peer, &len))
		return 0;
	if (errno != ENOTCONN)
		return -1;
	len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERNAME, peer, &len))
		return -1;
	return peer->ss_family == AF_INET || peer->ss_family == AF_INET6 ? 0 : -1;
}

/* The image's directory exists and takes a new file; the path is not a directory. */
static int check_output(const char *out)
{
	char *copy = strdup(out), *dir;
	struct stat st;
	int status = EXIT_OK;

	if (!copy) {
		cli_err("save: out of memory");
		return EXIT_FAIL;
	}
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK)) {
		cli_err("save: %s: %s (nothing was done)", out, strerror(errno));
		status = EXIT_FAIL;
	} else if (!stat(out, &st) && S_ISDIR(st.st_mode)) {
		cli_err("save: %s: is a directory (nothing was done)", out);
		status = EXIT_USAGE;
	}
	free(copy);
	return status;
}

/* a's endpoints are b's, in this orientation (swap: b's reversed). */
static bool same_ends(const struct soccr_flow *a, const struct soccr_flow *b, bool swap)
{
	size_t alen = a->family == AF_INET ? 4 : 16;
	const union soccr_inaddr *bs = swap ? &b->daddr : &b->saddr;
	const union soccr_inaddr *bd = swap ? &b->saddr : &b->daddr;

	return a->family == b->family && a->sport == (swap ? b->dport : b->sport) &&
	       a->dport == (swap ? b->sport : b->dport) && !memcmp(&a->saddr, bs, alen) &&
	       !memcmp(&a->daddr, bd, alen);
}

/* Whether flow is in the lock already (an earlier save of the same socket). */
static bool flow_locked(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;
	bool found = false;

	if (soccr_lock_list(lock, &e, &n))
		return false;
	/* The lock lists a flow in either orientation. */
	for (size_t i = 0; i < n && !found; i++)
		found = same_ends(&e[i].flow, flow, false) || same_ends(&e[i].flow, flow, true);
	free(e);
	return found;
}

static int parse_int_opt(const char *name, const char *s, uint64_t max, uint64_t *v)
{
	if (cli_parse_u64(s, max, v)) {
		cli_err("save: %s: invalid value '%s'", name, s);
		return -1;
	}
	return 0;
}

int cmd_save(int argc, char **argv)
{
	enum { OPT_NO_LOCK = 256, OPT_PIN_DIR };
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-lock", no_argument, NULL, OPT_NO_LOCK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* SOCCR_LOCK_AUTO: a lock this save attaches goes again with its last flow (restore). */
	struct soccr_lock_opts lopts = { .sz = sizeof(lopts), .flags = SOCCR_LOCK_AUTO };
	struct sockaddr_storage local, peer;
	struct libsoccr_sk *sk = NULL;
	struct soccr_lock *lock = NULL;
	struct soccr_image img;
	struct soccr_flow flow;
	union libsoccr_addr *a;
	const char *out = NULL, *pid_arg = NULL, *fd_arg = NULL;
	bool no_lock = false, verbose = false, locked = false, was_locked = false;
	int was_repair = 0;
	uint64_t pid = 0, tfd = 0;
	bool have_pid = false, have_fd = false;
	int pidfd = -1, fd = -1, family = 0, c, ret, status = EXIT_FAIL;
	char err[512], l[64], p[64];
	struct timespec now;
	socklen_t len;

	memset(&img, 0, sizeof(img));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:f:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_once("save", "--pid", &pid_arg, optarg) ||
			    parse_int_opt("--pid", optarg, INT32_MAX, &pid))
				return EXIT_USAGE;
			have_pid = pid > 0;
			if (!have_pid) {
				cli_err("save: --pid: invalid value '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (cli_once("save", "--fd", &fd_arg, optarg) ||
			    parse_int_opt("--fd", optarg, INT32_MAX, &tfd))
				return EXIT_USAGE;
			have_fd = true;
			break;
		case 'o':
			if (cli_once("save", "-o", &out, optarg))
				return EXIT_USAGE;
			break;
		case OPT_NO_LOCK:
			no_lock = true;
			break;
		case OPT_PIN_DIR:
			if (cli_once("save", "--pin-dir", &lopts.pin_dir, optarg))
				return EXIT_USAGE;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return cli_opt_other("save", c, argv, usage);
		}
	}
	if (optind < argc) {
		cli_err("save: unexpected argument '%s' (try 'soccr save --help')", argv[optind]);
		return EXIT_USAGE;
	}
	if (!have_pid || !have_fd || !out || !*out) {
		cli_err("save: --pid, --fd and -o are required (try 'soccr save --help')");
		return EXIT_USAGE;
	}
	cli_setup_log_capture(verbose);

	pidfd = pidfd_open((pid_t)pid);
	if (pidfd < 0) {
		cli_err("save: pid %d: %m", (int)pid);
		return errno == ESRCH ? EXIT_USAGE : EXIT_FAIL;
	}
	fd = pidfd_getfd(pidfd, (int)tfd);
	if (fd < 0) {
		status = errno == EBADF ? EXIT_USAGE : EXIT_FAIL;
		cli_err("save: fd %d of pid %d: %s", (int)tfd, (int)pid,
			errno == EBADF ? "no such file descriptor" : strerror(errno));
		goto out;
	}
	status = check_socket(fd, (pid_t)pid, (int)tfd, &family);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len)) {
		cli_err("save: getsockname: %m");
		goto out;
	}
	if (peer_name(fd, family, &peer)) {
		cli_err("save: fd %d of pid %d: not connected: %m", (int)tfd, (int)pid);
		status = EXIT_USAGE;
		goto out;
	}

	/* A path that cannot take the image fails now, before the flow is touched. */
	status = check_output(out);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	/* What was so before us stays so if we fail (an earlier save of the same socket). */
	len = sizeof(int);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &was_repair, &len))
		was_repair = 0;

	if (!no_lock) {
		/* The lock belongs on the devices of the socket's netns: the target's. */
		if (setns(pidfd, CLONE_NEWNET)) {
			cli_err("save: join the network namespace of pid %d: %m", (int)pid);
			goto out;
		}
		ret = soccr_flow_from_sockaddr(&flow, (struct sockaddr *)&local,
					       (struct sockaddr *)&peer);
		if (!ret)
			ret = soccr_lock_open(&lopts, &lock);
		if (!ret)
			was_locked = flow_locked(lock, &flow);
		/* The flow first, then the attach: a restore's idle-detach in between sees it. */
		if (!ret)
			ret = soccr_lock_add(lock, &flow);
		locked = !ret && !was_locked;
		if (!ret)
			ret = soccr_lock_attach_all(lock);
		if (ret) {
			cli_err("save: lock the flow: %s", cli_why(strerror(-ret)));
			goto out;
		}
	}

	sk = libsoccr_pause(fd);
	if (!sk) {
		cli_err("save: libsoccr_pause: %s", cli_why(strerror(errno)));
		goto out;
	}
	ret = libsoccr_save(sk, &img.data, sizeof(img.data));
	if (ret < 0) {
		cli_err("save: libsoccr_save: step %d (%s): %s", -ret,
			ret == -2 ? "state or queue sizes" : ret == -3 ? "TCP options" :
			ret == -4 ? "window" : ret == -5 ? "receive queue" :
			ret == -6 ? "send queue" : "arguments",
			cli_why("failed"));
		goto out;
	}
	img.family = family;
	a = libsoccr_get_addr(sk, 1, 0);
	memcpy(&img.local, a ? (void *)a : (void *)&local, sizeof(img.local));
	a = libsoccr_get_addr(sk, 0, 0);
	memcpy(&img.peer, a ? (void *)a : (void *)&peer, sizeof(img.peer));
	/* The image takes the queue buffers over (SOCCR_MEM_EXCL: ours to free). */
	if (img.data.inq_len)
		img.recvq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	if (img.data.outq_len)
		img.sendq = libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	img.flags = locked || was_locked ? SOCCR_IMAGE_F_LOCKED : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	img.save_time_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	image_hostname(img.hostname, sizeof(img.hostname));

	ret = soccr_image_save(out, &img, err, sizeof(err));
	if (ret) {
		cli_err("save: %s", err);
		goto out;
	}
	/* Leave the source socket in repair mode: closing it then sends nothing. */
	libsoccr_release(sk);
	sk = NULL;
	locked = false;
	status = EXIT_OK;
	printf("saved %s -> %s %s to %s: recv queue %u B, send queue %u B (%u unsent)%s\n",
	       cli_fmt_endpoint((struct sockaddr_storage *)&local, l, sizeof(l)),
	       cli_fmt_endpoint((struct sockaddr_storage *)&peer, p, sizeof(p)),
	       soccr_tcp_state_name(img.data.state), out, img.data.inq_len, img.data.outq_len,
	       img.data.unsq_len,
	       img.flags & SOCCR_IMAGE_F_LOCKED ? "; flow locked" : "");
out:
	/*
	 * Roll back on failure what this run did, and only that: the connection
	 * goes on in the source process, unless an earlier save had already
	 * put it in repair mode and locked it (that image stays restorable).
	 */
	if (sk && !was_repair)
		libsoccr_resume(sk);
	else if (sk)
		libsoccr_release(sk);
	if (locked && soccr_lock_del(lock, &flow))
		cli_err("save: unlock the flow after the failure: the flow stays locked");
	else if (locked)
		soccr_lock_detach_idle(lock); /* a lock this save attached, now empty */
	soccr_lock_close(lock);
	soccr_image_free(&img);
	if (fd >= 0)
		close(fd);
	close(pidfd);
	return status;
}
