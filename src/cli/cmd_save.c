// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr save --pid PID [--fd FD]... -o IMAGE: checkpoint the TCP sockets of a
 * running process (every one, or those named), listeners included, into one
 * image (format version 2).
 *
 * The sockets are taken with pidfd_getfd(), so the target keeps its own fds.
 * Order matters: every connection's flow is locked first, in one batch (no
 * packet of any of them moves either way), then each socket goes into repair
 * mode and is read. The lock must be attached to the devices of the
 * sockets' network namespace, which is the target's, not necessarily ours:
 * so we join the target's netns (setns on the pidfd) before attaching. Only
 * the network namespace changes; the mount namespace (bpffs pins, the image
 * path) stays ours. Listeners are recorded (address, backlog, options), not
 * paused: a connection waiting in one's accept queue is refused (it has no
 * fd to save) unless --skip-in-flight.
 *
 * On success the source sockets are left in repair mode (libsoccr_release)
 * and the flows stay locked: the caller then kills the source process (a
 * socket closed in repair mode sends nothing, no FIN and no RST), and `soccr
 * restore` unlocks them once the new sockets are ready. On failure,
 * everything this run did is rolled back: the sockets it put in repair mode
 * leave it, the flows it locked are unlocked, a lock it attached goes; a
 * socket an earlier save left in repair mode, with its flow locked, stays so.
 */
#include <ctype.h>
#include <dirent.h>
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
#include "json.h"

/* fds picked with --fd, at most. */
#define MAX_PICKED 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr save --pid PID [--fd FD]... -o IMAGE [--skip-in-flight] [--no-lock]\n"
		"                  [--pin-dir DIR] [--json] [-q] [-v]\n"
		"\n"
		"Checkpoint the TCP sockets of process PID into IMAGE ('-': standard output):\n"
		"every one it holds, or those of the --fd options; listening sockets are saved\n"
		"too (address, backlog, options) and re-created by 'soccr restore'. Every\n"
		"connection's flow is locked first, in one batch, with the network lock of the\n"
		"process's network namespace (attached to its UP interfaces if it is not). The\n"
		"process's sockets stay in repair mode and the flows locked afterwards: kill\n"
		"the process, then 'soccr restore' the image (it unlocks the flows once the new\n"
		"sockets are ready). Stop the process first (kill -STOP) if it may be in the\n"
		"middle of reading or writing: bytes it has read but not handled are not in\n"
		"the sockets.\n"
		"\n"
		"      --pid PID        the process\n"
		"  -f, --fd FD          only this socket (repeat for several)\n"
		"  -o, --output IMAGE   the image file to write (atomically), '-' for stdout\n"
		"      --skip-in-flight save even if a listener has connections waiting to be\n"
		"                       accepted (they are lost when the process dies)\n"
		"      --no-lock        do not lock the flows (the caller stopped their packets)\n"
		"      --pin-dir DIR    a lock shared through DIR (default $SOCCR_PIN_DIR, else\n"
		"                       the network namespace's own lock, attached if needed)\n"
		"  -j, --json           the summary as JSON on stdout (not with -o -)\n"
		"  -q, --quiet          no progress line, no summary (errors only)\n"
		"  -v, --verbose        library debug messages\n"
		"  -h, --help           this help\n"
		"\n"
		"on failure every connection is left as it was.\n" CLI_EXIT_HELP);
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

/* One socket of the target, as found and then saved. */
struct item {
	int tfd;	/* its fd number in the target */
	int fd;		/* our fd to the same socket */
	int kind;	/* SOCCR_IMAGE_CONN or SOCCR_IMAGE_LISTEN */
	int family;
	int state;
	struct sockaddr_storage local, peer;
	struct soccr_image_listener li;
	struct soccr_flow flow;
	struct libsoccr_sk *sk;	/* paused by us */
	int was_repair;		/* in repair mode before us (an earlier save) */
	bool locked_before;	/* its flow was locked before us */
	bool added;		/* its flow was locked by us */
};

struct save {
	pid_t pid;
	int pidfd;
	bool explicit;	/* the fds were named with --fd */
	bool skip_in_flight, no_lock, json;
	const char *out;
	struct item *it;
	size_t n, cap;
	size_t skipped;
	struct soccr_lock *lock;
	bool progress;	/* a progress line on the terminal */
};

static int get_int(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len))
		return 0;
	return v;
}

/* Options a listener is re-created with. */
static uint32_t listen_opts(int fd, int family)
{
	uint32_t o = 0;

	if (get_int(fd, SOL_SOCKET, SO_REUSEADDR))
		o |= SOCCR_LISTEN_REUSEADDR;
	if (get_int(fd, SOL_SOCKET, SO_REUSEPORT))
		o |= SOCCR_LISTEN_REUSEPORT;
	if (family == AF_INET6 && get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY))
		o |= SOCCR_LISTEN_V6ONLY;
	if (family == AF_INET ? get_int(fd, IPPROTO_IP, IP_FREEBIND)
			      : get_int(fd, IPPROTO_IPV6, IPV6_FREEBIND))
		o |= SOCCR_LISTEN_FREEBIND;
	if (family == AF_INET ? get_int(fd, IPPROTO_IP, IP_TRANSPARENT)
			      : get_int(fd, IPPROTO_IPV6, IPV6_TRANSPARENT))
		o |= SOCCR_LISTEN_TRANSPARENT;
	return o;
}

/*
 * Look at fd tfd of the target (our copy fd): a TCP connection or listener
 * to save (1), something to pass over (0: not a TCP socket, or one that is
 * neither connected nor listening, when the fds were not named), or an exit
 * status after a message (negative: -EXIT_*).
 */
static int classify(struct save *s, int fd, int tfd, struct item *it, struct stat *st)
{
	int domain, type, proto;
	struct tcp_info ti;
	socklen_t len;

	memset(it, 0, sizeof(*it));
	it->tfd = tfd;
	it->fd = fd;
	if (fstat(fd, st) || !S_ISSOCK(st->st_mode)) {
		if (!s->explicit)
			return 0;
		cli_err("save: fd %d of pid %d: not a socket", tfd, s->pid);
		return -EXIT_USAGE;
	}
	domain = get_int(fd, SOL_SOCKET, SO_DOMAIN);
	type = get_int(fd, SOL_SOCKET, SO_TYPE);
	proto = get_int(fd, SOL_SOCKET, SO_PROTOCOL);
	if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM ||
	    proto != IPPROTO_TCP) {
		if (!s->explicit)
			return 0;
		cli_err("save: fd %d of pid %d: not a TCP socket (domain %d, type %d, protocol %d)",
			tfd, s->pid, domain, type, proto);
		return -EXIT_USAGE;
	}
	memset(&ti, 0, sizeof(ti));
	len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		cli_err("save: fd %d of pid %d: TCP_INFO: %m", tfd, s->pid);
		return -EXIT_FAIL;
	}
	it->family = domain;
	it->state = ti.tcpi_state;
	len = sizeof(it->local);
	if (getsockname(fd, (struct sockaddr *)&it->local, &len)) {
		cli_err("save: fd %d of pid %d: getsockname: %m", tfd, s->pid);
		return -EXIT_FAIL;
	}
	if (ti.tcpi_state == TCP_LISTEN) {
		it->kind = SOCCR_IMAGE_LISTEN;
		it->li.family = domain;
		memcpy(&it->li.local, &it->local, sizeof(it->li.local));
		/* For a listener, TCP_INFO reports the backlog and the accept queue there. */
		it->li.backlog = ti.tcpi_sacked ? ti.tcpi_sacked : 1;
		it->li.pending = ti.tcpi_unacked;
		it->li.opts = listen_opts(fd, domain);
		return 1;
	}
	if (!soccr_image_state_supported(ti.tcpi_state)) {
		cli_err("save: fd %d of pid %d: state %s cannot be checkpointed", tfd, s->pid,
			soccr_tcp_state_name(ti.tcpi_state));
		return -EXIT_USAGE;
	}
	if (peer_name(fd, domain, &it->peer)) {
		if (!s->explicit && ti.tcpi_state == TCP_CLOSE)
			return 0; /* a socket never connected: nothing to move */
		cli_err("save: fd %d of pid %d: not connected: %m", tfd, s->pid);
		return -EXIT_USAGE;
	}
	it->kind = SOCCR_IMAGE_CONN;
	if (soccr_flow_from_sockaddr(&it->flow, (struct sockaddr *)&it->local,
				     (struct sockaddr *)&it->peer)) {
		cli_err("save: fd %d of pid %d: addresses of two families", tfd, s->pid);
		return -EXIT_USAGE;
	}
	it->was_repair = get_int(fd, IPPROTO_TCP, TCP_REPAIR);
	return 1;
}

static int add_item(struct save *s, const struct item *it)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct item *t = realloc(s->it, cap * sizeof(*t));

		if (!t) {
			cli_err("save: out of memory");
			return -EXIT_FAIL;
		}
		s->it = t;
		s->cap = cap;
	}
	s->it[s->n++] = *it;
	return 0;
}

/*
 * The inodes of the sockets taken so far, to save a socket held under two
 * fds (dup()) once: a set with open addressing, room for every fd of the
 * target twice over (a list searched from the start made 10,000 sockets
 * cost 50 million comparisons).
 */
struct inoset {
	ino_t *ino;
	bool *used;
	size_t mask;
};

static int inoset_init(struct inoset *set, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	set->ino = calloc(cap, sizeof(*set->ino));
	set->used = calloc(cap, sizeof(*set->used));
	set->mask = cap - 1;
	return set->ino && set->used ? 0 : -ENOMEM;
}

static void inoset_free(struct inoset *set)
{
	free(set->ino);
	free(set->used);
}

/* Add ino; false if it was there already. */
static bool inoset_add(struct inoset *set, ino_t ino)
{
	size_t i = (size_t)(((uint64_t)ino * 0x9e3779b97f4a7c15ULL) >> 32) & set->mask;

	for (; set->used[i]; i = (i + 1) & set->mask)
		if (set->ino[i] == ino)
			return false;
	set->used[i] = true;
	set->ino[i] = ino;
	return true;
}

/* Take fd tfd of the target; 0, or -EXIT_* after a message. */
static int take(struct save *s, int tfd, struct inoset *seen)
{
	struct item it;
	struct stat st;
	int fd, ret;

	fd = cli_pidfd_getfd(s->pidfd, tfd);
	if (fd < 0) {
		if (!s->explicit && errno == EBADF)
			return 0; /* closed meanwhile */
		cli_err("save: fd %d of pid %d: %s", tfd, s->pid,
			errno == EBADF ? "no such file descriptor" : strerror(errno));
		return errno == EBADF ? -EXIT_USAGE : -EXIT_FAIL;
	}
	ret = classify(s, fd, tfd, &it, &st);
	if (ret <= 0) {
		close(fd);
		s->skipped += ret == 0;
		return ret;
	}
	/* The same socket under two fds (dup()): saved once, under the first. */
	if (!inoset_add(seen, st.st_ino)) {
		close(fd);
		s->skipped++;
		return 0;
	}
	ret = add_item(s, &it);
	if (ret)
		close(fd);
	return ret;
}

/*
 * Lock every connection's flow in one batch (those already locked, by an
 * earlier save, are noted and left), then attach the lock: flows first, so
 * that a restore's idle-detach meanwhile sees them. 0 or -EXIT_*.
 */
static int lock_all(struct save *s, struct soccr_lock_opts *lopts)
{
	struct soccr_flow *flows = calloc(s->n, sizeof(*flows)), *add = NULL;
	bool *held = calloc(s->n, sizeof(*held));
	size_t nf = 0, nadd = 0;
	int ret;

	if (!flows || !held) {
		ret = -ENOMEM;
		goto out;
	}
	if (setns(s->pidfd, CLONE_NEWNET)) {
		cli_err("save: join the network namespace of pid %d: %m", s->pid);
		free(flows);
		free(held);
		return -EXIT_FAIL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->it[i].kind == SOCCR_IMAGE_CONN)
			flows[nf++] = s->it[i].flow;
	ret = soccr_lock_open(lopts, &s->lock);
	if (!ret)
		ret = cli_lock_holds(s->lock, flows, nf, held);
	if (ret)
		goto out;
	/* Those an earlier save locked are noted and left alone; held[] and flows[] are reused. */
	add = flows;
	for (size_t i = 0, k = 0; i < s->n; i++) {
		struct item *it = &s->it[i];

		if (it->kind != SOCCR_IMAGE_CONN)
			continue;
		it->locked_before = held[k++];
		if (!it->locked_before)
			add[nadd++] = it->flow;
	}
	ret = nadd ? soccr_lock_add_batch(s->lock, add, nadd) : 0;
	/*
	 * Ours to unlock on a failure, even after a batch that failed part-way
	 * (it is not rolled back, and deleting a flow that is not there is no
	 * error).
	 */
	for (size_t i = 0; i < s->n; i++)
		s->it[i].added = s->it[i].kind == SOCCR_IMAGE_CONN && !s->it[i].locked_before;
	if (ret >= 0)
		ret = soccr_lock_attach_all(s->lock);
out:
	free(flows);
	free(held);
	if (ret < 0) {
		cli_err("save: lock the flows: %s", cli_why(strerror(-ret)));
		return -EXIT_FAIL;
	}
	return 0;
}

/* Pause and read connection it into its image. 0 or -EXIT_FAIL after a message. */
static int save_one(struct item *it, struct soccr_image *img)
{
	union libsoccr_addr *a;
	int ret;

	it->sk = libsoccr_pause(it->fd);
	if (!it->sk) {
		cli_err("save: fd %d: libsoccr_pause: %s", it->tfd, cli_why(strerror(errno)));
		return -EXIT_FAIL;
	}
	ret = libsoccr_save(it->sk, &img->data, sizeof(img->data));
	if (ret < 0) {
		cli_err("save: fd %d: libsoccr_save: step %d (%s): %s", it->tfd, -ret,
			ret == -2 ? "state or queue sizes" : ret == -3 ? "TCP options" :
			ret == -4 ? "window" : ret == -5 ? "receive queue" :
			ret == -6 ? "send queue" : "arguments",
			cli_why("failed"));
		return -EXIT_FAIL;
	}
	img->family = it->family;
	a = libsoccr_get_addr(it->sk, 1, 0);
	memcpy(&img->local, a ? (void *)a : (void *)&it->local, sizeof(img->local));
	a = libsoccr_get_addr(it->sk, 0, 0);
	memcpy(&img->peer, a ? (void *)a : (void *)&it->peer, sizeof(img->peer));
	/* The image takes the queue buffers over (SOCCR_MEM_EXCL: ours to free). */
	if (img->data.inq_len)
		img->recvq = libsoccr_get_queue_bytes(it->sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	if (img->data.outq_len)
		img->sendq = libsoccr_get_queue_bytes(it->sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	return 0;
}

/*
 * Undo what this run did, and only that: the connections go on in the
 * source process, unless an earlier save had already put them in repair
 * mode and locked them (that image stays restorable).
 */
static void roll_back(struct save *s)
{
	struct soccr_flow *f = calloc(s->n ? s->n : 1, sizeof(*f));
	size_t nf = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct item *it = &s->it[i];

		if (it->sk && !it->was_repair)
			libsoccr_resume(it->sk);
		else if (it->sk)
			libsoccr_release(it->sk);
		it->sk = NULL;
		if (it->added && f)
			f[nf++] = it->flow;
	}
	if (nf && soccr_lock_del_batch(s->lock, f, nf) < 0)
		cli_err("save: unlock the flows after the failure: they stay locked");
	else if (nf)
		soccr_lock_detach_idle(s->lock); /* a lock this save attached, now empty */
	free(f);
}

static void progress(const struct save *s, size_t done, const char *what)
{
	if (s->progress && (done % 256 == 0 || done == s->n))
		fprintf(stderr, "\r%s %zu/%zu sockets%s", what, done, s->n,
			done == s->n ? "\n" : "");
}

/* The report: one line (the connection's own for a single one), or JSON. */
static void report(const struct save *s, const struct soccr_image_set *set, bool locked)
{
	FILE *f = strcmp(s->out, "-") ? stdout : stderr;
	struct cli_counts c;

	cli_count(set, &c);
	if (s->json) {
		struct sc_json j = {0};

		sc_json_object(&j, NULL);
		sc_json_uint(&j, "pid", (uint64_t)s->pid);
		sc_json_string(&j, "image", s->out);
		cli_counts_json(&j, &c);
		sc_json_uint(&j, "passed_over", s->skipped);
		sc_json_bool(&j, "locked", locked);
		sc_json_end_object(&j);
		cli_json_emit("save", &j);
		return;
	}
	if (cli_g.quiet)
		return;
	if (set->n == 1 && c.conns == 1) {
		const struct soccr_image *img = &set->socks[0].conn;
		char l[64], p[64];

		fprintf(f, "saved %s -> %s %s to %s: recv queue %u B, send queue %u B (%u unsent)%s\n",
			cli_fmt_endpoint((struct sockaddr_storage *)&s->it[0].local, l, sizeof(l)),
			cli_fmt_endpoint((struct sockaddr_storage *)&s->it[0].peer, p, sizeof(p)),
			soccr_tcp_state_name(img->data.state), s->out, img->data.inq_len,
			img->data.outq_len, img->data.unsq_len, locked ? "; flow locked" : "");
		return;
	}
	fprintf(f, "saved %zu socket%s of pid %d to %s: ", set->n, set->n == 1 ? "" : "s",
		(int)s->pid, s->out);
	cli_counts_text(f, &c);
	fprintf(f, "%s\n", locked && c.conns ? "; flows locked" : "");
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
	enum { OPT_NO_LOCK = 256, OPT_PIN_DIR, OPT_SKIP };
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'P' },
		{ "fd", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "skip-in-flight", no_argument, NULL, OPT_SKIP },
		{ "no-lock", no_argument, NULL, OPT_NO_LOCK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* SOCCR_LOCK_AUTO: a lock this save attaches goes again with its last flow (restore). */
	struct soccr_lock_opts lopts = { .sz = sizeof(lopts), .flags = SOCCR_LOCK_AUTO };
	struct save s = { .pidfd = -1 };
	struct soccr_image_set set;
	const char *pid_arg = NULL;
	int *picked = NULL, *fds = NULL, c, ret, status = EXIT_FAIL;
	size_t npicked = 0, nfds = 0, conns = 0;
	struct inoset seen = {0};
	bool locked = false;
	uint64_t pid = 0, v;
	struct timespec now;
	char err[512];

	memset(&set, 0, sizeof(set));
	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	while ((c = cli_getopt(argc, argv, ":f:o:h", longopts)) != -1) {
		switch (c) {
		case 'P':
			if (cli_once("save", "--pid", &pid_arg, optarg) ||
			    parse_int_opt("--pid", optarg, INT32_MAX, &pid))
				return EXIT_USAGE;
			if (!pid) {
				cli_err("save: --pid: invalid value '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (parse_int_opt("--fd", optarg, INT32_MAX, &v))
				goto usage;
			for (size_t i = 0; i < npicked; i++)
				if (picked[i] == (int)v) {
					cli_err("save: --fd %d given twice", (int)v);
					goto usage;
				}
			if (npicked == MAX_PICKED) {
				cli_err("save: at most %d --fd options", MAX_PICKED);
				goto usage;
			}
			if (!picked && !(picked = calloc(MAX_PICKED, sizeof(*picked)))) {
				cli_err("save: out of memory");
				return EXIT_FAIL;
			}
			picked[npicked++] = (int)v;
			break;
		case 'o':
			if (cli_once("save", "-o", &s.out, optarg))
				goto usage;
			break;
		case OPT_SKIP:
			s.skip_in_flight = true;
			break;
		case OPT_NO_LOCK:
			s.no_lock = true;
			break;
		case OPT_PIN_DIR:
			if (cli_once("save", "--pin-dir", &lopts.pin_dir, optarg))
				goto usage;
			break;
		default:
			free(picked);
			return cli_opt_other("save", c, argv, usage);
		}
	}
	if (optind < argc) {
		cli_err("save: unexpected argument '%s' (try 'soccr save --help')", argv[optind]);
		goto usage;
	}
	if (!pid || !s.out || !*s.out) {
		cli_err("save: --pid and -o are required (try 'soccr save --help')");
		goto usage;
	}
	s.json = cli_g.json;
	if (s.json && !strcmp(s.out, "-")) {
		cli_err("save: --json writes to stdout, where -o - writes the image");
		goto usage;
	}
	s.pid = (pid_t)pid;
	s.explicit = npicked > 0;
	s.progress = isatty(STDERR_FILENO) && !cli_g.verbose && !cli_g.quiet;
	cli_setup_log_capture(cli_g.verbose);

	s.pidfd = cli_pidfd_open(s.pid);
	if (s.pidfd < 0) {
		cli_err("save: pid %d: %m", s.pid);
		status = errno == ESRCH ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (!s.explicit) {
		ret = cli_proc_fds(s.pid, &fds, &nfds);
		if (ret) {
			cli_err("save: the fds of pid %d: %s", s.pid, strerror(-ret));
			goto out;
		}
	}
	if (inoset_init(&seen, s.explicit ? npicked : nfds)) {
		cli_err("save: out of memory");
		goto out;
	}
	for (size_t i = 0; i < (s.explicit ? npicked : nfds); i++) {
		ret = take(&s, s.explicit ? picked[i] : fds[i], &seen);
		if (ret) {
			status = -ret;
			goto out;
		}
	}
	if (!s.n) {
		cli_err("save: pid %d holds no TCP socket to save", s.pid);
		status = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct item *it = &s.it[i];

		conns += it->kind == SOCCR_IMAGE_CONN;
		if (it->kind == SOCCR_IMAGE_LISTEN && it->li.pending && !s.skip_in_flight) {
			char l[64];

			cli_err("save: listener fd %d (%s) of pid %d has %u connection(s) waiting to "
				"be accepted, which have no fd to save: accept them first, or "
				"--skip-in-flight (nothing was done)",
				it->tfd, cli_fmt_endpoint((struct sockaddr_storage *)&it->local, l,
							  sizeof(l)),
				s.pid, it->li.pending);
			goto out;
		}
	}
	/* A path that cannot take the image fails now, before any flow is touched. */
	if (strcmp(s.out, "-")) {
		status = check_output(s.out);
		if (status != EXIT_OK)
			goto out;
		status = EXIT_FAIL;
	}

	if (!s.no_lock && conns) {
		ret = lock_all(&s, &lopts);
		if (ret) {
			roll_back(&s);
			goto out;
		}
		locked = true;
	}

	set.socks = calloc(s.n, sizeof(*set.socks));
	if (!set.socks) {
		cli_err("save: out of memory");
		roll_back(&s);
		goto out;
	}
	set.n = s.n;
	set.pid = s.pid;
	clock_gettime(CLOCK_REALTIME, &now);
	set.save_time_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	image_hostname(set.hostname, sizeof(set.hostname));
	for (size_t i = 0; i < s.n; i++) {
		struct soccr_image_sock *k = &set.socks[i];
		struct item *it = &s.it[i];

		k->kind = (uint32_t)it->kind;
		k->fd = it->tfd;
		if (it->kind == SOCCR_IMAGE_LISTEN) {
			k->listen = it->li;
		} else {
			if (save_one(it, &k->conn)) {
				roll_back(&s);
				goto out;
			}
			k->conn.save_time_ns = set.save_time_ns;
			memcpy(k->conn.hostname, set.hostname, sizeof(k->conn.hostname));
			k->conn.flags = locked || it->locked_before ? SOCCR_IMAGE_F_LOCKED : 0;
		}
		progress(&s, i + 1, "saved");
	}
	ret = soccr_image_set_save(s.out, &set, err, sizeof(err));
	if (ret) {
		cli_err("save: %s", err);
		roll_back(&s);
		goto out;
	}
	/* Leave the source sockets in repair mode: closing them then sends nothing. */
	for (size_t i = 0; i < s.n; i++) {
		libsoccr_release(s.it[i].sk);
		s.it[i].sk = NULL;
	}
	status = EXIT_OK;
	report(&s, &set, locked);
	goto out;
usage:
	free(picked);
	return EXIT_USAGE;
out:
	for (size_t i = 0; i < s.n; i++)
		close(s.it[i].fd);
	free(s.it);
	soccr_lock_close(s.lock);
	soccr_image_set_free(&set);
	free(picked);
	free(fds);
	inoset_free(&seen);
	if (s.pidfd >= 0)
		close(s.pidfd);
	return status;
}
