// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr ps --pid PID [--json]: the TCP sockets of one process, as `ss -tn`
 * would show them for it, with their sequence numbers and what `soccr save
 * --pid` would do with each. Read-only: the sockets are looked at through
 * copies of the process's fds (pidfd_getfd) and TCP_INFO, the sequence
 * numbers read by a BPF TCP iterator (src/tcpseqs.h), one run per network
 * namespace for all the process's sockets there; nothing is paused or changed.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <soccr/image.h>

#include "cli.h"
#include "json.h"
#include "tcpseqs.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr ps [--pid] PID [--json]\n"
		"\n"
		"The TCP sockets of process PID, one line each: its fd, family, state, local\n"
		"and peer address, receive and send queue bytes (for a listener: connections\n"
		"waiting to be accepted, and the backlog), the next sequence number to send\n"
		"and to receive (- where unknown), and what 'soccr save --pid' does with it:\n"
		"save it, re-create it (a listener), or pass it over, and why. Read-only.\n"
		"\n"
		"      --pid PID  the process (or PID alone)\n"
		"  -j, --json     one JSON array instead of text\n"
		"  -h, --help     this help\n"
		"\n" CLI_EXIT_HELP);
}

struct row {
	int fd, family, state;
	bool mapped;
	struct sockaddr_storage local, peer;
	bool has_peer;
	unsigned int rq, sq;	/* queues, or accept queue and backlog for a listener */
	const char *verdict;	/* "save", "re-create", "pass over" */
	char why[96];
	int ns;		       /* index in struct netns_set, -1: no sequence numbers wanted */
	bool rcv_known;	       /* the receive side's numbers mean something (not SYN_SENT) */
	struct sc_tcp_seq seq; /* cookie in, numbers out (seq.found) */
};

/*
 * The network namespaces of the sockets, one descriptor each (SIOCGSKNS), for
 * the iterator; fd -1 (dev and ino 0) stands for ours, where SIOCGSKNS is
 * refused (no CAP_NET_ADMIN there): a socket of another namespace is then
 * not found, never mistaken for another (cookies are unique).
 */
struct netns_set {
	struct netns {
		dev_t dev;
		ino_t ino;
		int fd;
	} *ns;
	size_t n;
	int err; /* -ENOMEM: a namespace could not be added */
};

/* The index of fd's network namespace in set, added if new; -1 (and set->err) if none. */
static int netns_of(int fd, struct netns_set *set)
{
	struct stat st;
	int nsfd = ioctl(fd, SIOCGSKNS);

	if (nsfd >= 0 && fstat(nsfd, &st)) {
		close(nsfd);
		nsfd = -1;
	}
	if (nsfd < 0)
		memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < set->n; i++) {
		if (set->ns[i].dev == st.st_dev && set->ns[i].ino == st.st_ino) {
			if (nsfd >= 0)
				close(nsfd);
			return (int)i;
		}
	}
	if (!(set->n & (set->n + 1))) { /* 0, 1, 3, 7...: full */
		struct netns *more = realloc(set->ns, (set->n * 2 + 2) * sizeof(*more));

		if (!more) {
			if (nsfd >= 0)
				close(nsfd);
			if (!set->err)
				set->err = -ENOMEM;
			return -1;
		}
		set->ns = more;
	}
	set->ns[set->n].dev = st.st_dev;
	set->ns[set->n].ino = st.st_ino;
	set->ns[set->n].fd = nsfd;
	return (int)set->n++;
}

/*
 * The sequence numbers of rows[], one iterator run per namespace. Never fails
 * ps: where the iterator cannot run, the numbers stay unknown and -v says why.
 */
static void read_seqs(struct row *rows, size_t n, struct netns_set *set)
{
	struct sc_tcp_seq *seqs = calloc(n ? n : 1, sizeof(*seqs));
	int err = seqs ? set->err : -ENOMEM;

	for (size_t k = 0; seqs && k < set->n; k++) {
		int ret;

		for (size_t i = 0; i < n; i++)
			seqs[i].cookie = rows[i].ns == (int)k ? rows[i].seq.cookie : 0;
		ret = sc_tcp_seqs(set->ns[k].fd, seqs, n);
		if (ret < 0 && !err)
			err = ret;
		for (size_t i = 0; i < n; i++)
			if (rows[i].ns == (int)k && seqs[i].found)
				rows[i].seq = seqs[i];
	}
	free(seqs);
	if (err && cli_g.verbose)
		fprintf(stderr,
			"soccr: ps: sequence numbers not shown: the BPF TCP iterator could not run "
			"(it needs the kernel's BTF and CAP_BPF outside a user namespace): %s\n",
			strerror(-err));
}

static int get_int(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, opt, &v, &len) ? 0 : v;
}

/* One fd of the target: 1 and *r for a TCP socket, 0 for anything else. */
static int look(int fd, int tfd, struct row *r, struct netns_set *set)
{
	struct tcp_info ti;
	socklen_t len;
	struct stat st;
	int v;

	memset(r, 0, sizeof(*r));
	r->fd = tfd;
	r->ns = -1;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return 0;
	r->family = get_int(fd, SOL_SOCKET, SO_DOMAIN);
	if ((r->family != AF_INET && r->family != AF_INET6) ||
	    get_int(fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM ||
	    get_int(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP)
		return 0;
	memset(&ti, 0, sizeof(ti));
	len = sizeof(ti);
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	r->state = ti.tcpi_state;
	len = sizeof(r->local);
	getsockname(fd, (struct sockaddr *)&r->local, &len);
	len = sizeof(r->peer);
	r->has_peer = !getpeername(fd, (struct sockaddr *)&r->peer, &len);
	if (!r->has_peer) {
		/* SYN_SENT and CLOSE answer SO_PEERNAME, not getpeername(). */
		len = r->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		r->has_peer = !getsockopt(fd, SOL_SOCKET, SO_PEERNAME, &r->peer, &len) &&
			      (r->peer.ss_family == AF_INET || r->peer.ss_family == AF_INET6);
	}
	r->mapped = r->family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&r->local)->sin6_addr);
	if (r->state == TCP_LISTEN) {
		/* For a listener TCP_INFO holds the accept queue and the backlog there. */
		r->rq = ti.tcpi_unacked;
		r->sq = ti.tcpi_sacked;
		r->verdict = "re-create";
		if (r->rq)
			snprintf(r->why, sizeof(r->why),
				 "%u connection(s) waiting to be accepted: save refuses, "
				 "or --skip-in-flight", r->rq);
		else
			snprintf(r->why, sizeof(r->why), "listener: bound and listening again");
		return 1;
	}
	if (!ioctl(fd, SIOCINQ, &v))
		r->rq = (unsigned int)v;
	if (!ioctl(fd, SIOCOUTQ, &v))
		r->sq = (unsigned int)v;
	if (!soccr_image_state_supported((unsigned int)r->state)) {
		r->verdict = "pass over";
		snprintf(r->why, sizeof(r->why), "state %s cannot be checkpointed",
			 soccr_tcp_state_name((unsigned int)r->state));
	} else if (!r->has_peer) {
		r->verdict = "pass over";
		snprintf(r->why, sizeof(r->why), "never connected");
	} else {
		r->verdict = "save";
		snprintf(r->why, sizeof(r->why), "%s", get_int(fd, IPPROTO_TCP, TCP_REPAIR)
				 ? "in repair mode (saved already?)" : "connection");
	}
	/* Sequence numbers for a socket that was connected (a SYN_SENT one has sent only). */
	len = sizeof(r->seq.cookie);
	if (r->has_peer && !getsockopt(fd, SOL_SOCKET, SO_COOKIE, &r->seq.cookie, &len)) {
		r->ns = netns_of(fd, set);
		r->rcv_known = r->state != TCP_SYN_SENT;
	}
	return 1;
}

static const char *family_name(const struct row *r)
{
	return r->family == AF_INET ? "inet" : r->mapped ? "inet6 (v4-mapped)" : "inet6";
}

static void text(const struct row *rows, size_t n)
{
	int wl = 5, wp = 4; /* "LOCAL", "PEER" */

	/* Columns as wide as their longest address. */
	for (size_t i = 0; i < n; i++) {
		char b[64];

		cli_fmt_endpoint(&rows[i].local, b, sizeof(b));
		wl = (int)strlen(b) > wl ? (int)strlen(b) : wl;
		if (rows[i].has_peer) {
			cli_fmt_endpoint(&rows[i].peer, b, sizeof(b));
			wp = (int)strlen(b) > wp ? (int)strlen(b) : wp;
		}
	}
	printf("%-4s %-17s %-11s %-*s %-*s %7s %7s %10s %10s  %s\n", "FD", "FAMILY", "STATE", wl,
	       "LOCAL", wp, "PEER", "RECV-Q", "SEND-Q", "SND.NXT", "RCV.NXT", "SAVE");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char l[64], p[64] = "*", snd[16] = "-", rcv[16] = "-";

		cli_fmt_endpoint(&r->local, l, sizeof(l));
		if (r->has_peer)
			cli_fmt_endpoint(&r->peer, p, sizeof(p));
		if (r->seq.found) {
			snprintf(snd, sizeof(snd), "%u", r->seq.snd_nxt);
			if (r->rcv_known)
				snprintf(rcv, sizeof(rcv), "%u", r->seq.rcv_nxt);
		}
		printf("%-4d %-17s %-11s %-*s %-*s %7u %7u %10s %10s  %s: %s\n", r->fd,
		       family_name(r),
		       r->state == TCP_LISTEN ? "LISTEN" : soccr_tcp_state_name((unsigned)r->state),
		       wl, l, wp, p, r->rq, r->sq, snd, rcv, r->verdict, r->why);
	}
}

/* A sequence number, or null where it is not known. */
static void seq_json(struct sc_json *j, const char *key, bool known, uint32_t v)
{
	if (known)
		sc_json_uint(j, key, v);
	else
		sc_json_null(j, key);
}

static int json(const struct row *rows, size_t n)
{
	struct sc_json j = {0};

	sc_json_array(&j, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		sc_json_object(&j, NULL);
		sc_json_uint(&j, "fd", (uint64_t)r->fd);
		sc_json_string(&j, "family", r->family == AF_INET ? "inet" : "inet6");
		sc_json_bool(&j, "v4_mapped", r->mapped);
		sc_json_string(&j, "state", r->state == TCP_LISTEN
						    ? "LISTEN"
						    : soccr_tcp_state_name((unsigned)r->state));
		cli_json_endpoint(&j, "local", (struct sockaddr *)&r->local);
		if (r->has_peer)
			cli_json_endpoint(&j, "peer", (struct sockaddr *)&r->peer);
		else
			sc_json_null(&j, "peer");
		if (r->state == TCP_LISTEN) {
			sc_json_uint(&j, "accept_queue", r->rq);
			sc_json_uint(&j, "backlog", r->sq);
		} else {
			sc_json_uint(&j, "recv_q", r->rq);
			sc_json_uint(&j, "send_q", r->sq);
			seq_json(&j, "snd_una", r->seq.found, r->seq.snd_una);
			seq_json(&j, "snd_nxt", r->seq.found, r->seq.snd_nxt);
			seq_json(&j, "write_seq", r->seq.found, r->seq.write_seq);
			seq_json(&j, "rcv_nxt", r->seq.found && r->rcv_known, r->seq.rcv_nxt);
			seq_json(&j, "copied_seq", r->seq.found && r->rcv_known, r->seq.copied_seq);
		}
		sc_json_string(&j, "save", r->verdict);
		sc_json_string(&j, "why", r->why);
		sc_json_end_object(&j);
	}
	sc_json_end_array(&j);
	return cli_json_emit("ps", &j);
}

int cmd_ps(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pid_arg = NULL;
	struct netns_set nss = {.n = 0};
	struct row *rows = NULL;
	int *fds = NULL, pidfd, c, ret, status = EXIT_FAIL;
	size_t nfds = 0, n = 0;
	uint64_t pid = 0;

	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	while ((c = cli_getopt(argc, argv, ":h", longopts)) != -1) {
		switch (c) {
		case 'P':
			if (cli_once("ps", "--pid", &pid_arg, optarg))
				return EXIT_USAGE;
			break;
		default:
			return cli_opt_other("ps", c, argv, usage);
		}
	}
	/* soccr ps PID, as soccr ps --pid PID. */
	if (optind < argc && cli_once("ps", "the pid", &pid_arg, argv[optind++]))
		return EXIT_USAGE;
	if (optind < argc || !pid_arg) {
		cli_err("ps: %s (try 'soccr ps --help')",
			optind < argc ? "unexpected argument" : "--pid is required");
		return EXIT_USAGE;
	}
	if (cli_parse_u64(pid_arg, INT32_MAX, &pid) || !pid) {
		cli_err("ps: --pid: invalid value '%s'", pid_arg);
		return EXIT_USAGE;
	}
	pidfd = cli_pidfd_open((pid_t)pid);
	if (pidfd < 0) {
		cli_err("ps: pid %d: %m", (int)pid);
		return errno == ESRCH ? EXIT_USAGE : EXIT_FAIL;
	}
	ret = cli_proc_fds((pid_t)pid, &fds, &nfds);
	if (ret) {
		cli_err("ps: the fds of pid %d: %s", (int)pid, strerror(-ret));
		goto out;
	}
	rows = calloc(nfds ? nfds : 1, sizeof(*rows));
	if (!rows) {
		cli_err("ps: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nfds; i++) {
		int fd = cli_pidfd_getfd(pidfd, fds[i]);

		if (fd < 0) {
			if (errno == EBADF)
				continue; /* closed meanwhile */
			cli_err("ps: fd %d of pid %d: %m", fds[i], (int)pid);
			goto out;
		}
		n += look(fd, fds[i], &rows[n], &nss);
		close(fd);
	}
	read_seqs(rows, n, &nss);
	if (cli_g.json) {
		status = json(rows, n);
	} else {
		text(rows, n);
		status = EXIT_OK;
	}
out:
	for (size_t k = 0; k < nss.n; k++)
		if (nss.ns[k].fd >= 0)
			close(nss.ns[k].fd);
	free(nss.ns);
	free(rows);
	free(fds);
	close(pidfd);
	return status;
}
