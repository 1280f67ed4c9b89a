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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/restore.h>
#include <soccr/soccr.h>
#include <soccr/verify.h>

#include "cli.h"
#include "json.h"
#include "restore.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr restore -i IMAGE [--no-unlock] [--keep-lock] [--pin-dir DIR] [--verify]\n"
		"                     [--pcap FILE] [--fds-as-saved] [--threads N] [--json] [-q] [-v]\n"
		"                     [-- CMD [ARG]...]\n"
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
		"      --threads N    make the sockets on N threads (1 to 64; default: one per CPU\n"
		"                     this process may use, with at least 128 sockets each)\n"
		"  -j, --json         the summary as JSON (on stderr with CMD: stdout is CMD's)\n"
		"  -q, --quiet        no progress line, no summary (errors only)\n"
		"  -v, --verbose      library debug messages\n"
		"  -h, --help         this help\n"
		"\n"
		"with CMD, soccr exits with CMD's status once CMD ran.\n" CLI_EXIT_HELP);
}

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

static int resume_one(void *ctx, size_t i, unsigned int worker)
{
	struct golive *g = ctx;

	(void)worker;
	if (g->r[i].sk)
		libsoccr_resume(g->r[i].sk);
	g->r[i].sk = NULL;
	return 0;
}

void go_live(struct golive *g)
{
	struct soccr_flow *f = calloc(g->n ? g->n : 1, sizeof(*f));
	size_t nf = 0;
	int ret;

	for (size_t i = 0; i < g->n; i++)
		if (g->r[i].unlock && f)
			f[nf++] = g->r[i].flow;
	/* Repair mode off for all, on the threads that made them. */
	cli_par_for(g->n, g->threads, resume_one, g, NULL, NULL);
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
void settle(struct golive *g)
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

/* What the threads that make the sockets share (cli_par_for()). */
struct maker {
	struct golive *g;
	struct soccr_image_set *set;
	struct soccr_restore_opts *ropts; /* one per thread: each its own session */
	bool progress;
	size_t shown; /* the count the progress line shows */
};

/* Socket i made again: a listener listening, a connection restored in repair mode. */
static int make_one(void *ctx, size_t i, unsigned int worker)
{
	struct maker *m = ctx;
	struct rsock *r = &m->g->r[i];
	struct soccr_image *img = &m->set->socks[i].conn;
	int ret;

	if (r->k->kind == SOCCR_IMAGE_LISTEN) {
		r->reported = make_listener(r) != 0;
		return r->reported ? -1 : 0;
	}
	r->fd = socket(img->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (r->fd < 0) {
		cli_err("restore: socket: %m");
		r->reported = true;
		return -1;
	}
	r->sk = libsoccr_pause(r->fd);
	if (!r->sk) {
		cli_err("restore: libsoccr_pause: %s", cli_why(strerror(errno)));
		r->reported = true;
		return -1;
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
	ret = soccr_restore_ext(r->sk, &img->data, sizeof(img->data), &m->ropts[worker]);
	return ret < 0 ? ret : 0;
}

/* A progress line for long restores, on a terminal: every 256 sockets and the last. */
static void make_progress(void *ctx, size_t done)
{
	struct maker *m = ctx;

	if (!m->progress || (done / 256 == m->shown / 256 && done != m->set->n) ||
	    done == m->shown)
		return;
	m->shown = done;
	fprintf(stderr, "\rrestoring %zu/%zu sockets%s", done, m->set->n,
		done == m->set->n ? "\n" : "");
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
	enum {
		OPT_NO_UNLOCK = 256,
		OPT_PIN_DIR,
		OPT_VERIFY,
		OPT_PCAP,
		OPT_KEEP_LOCK,
		OPT_AS_SAVED,
		OPT_THREADS,
	};
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "no-unlock", no_argument, NULL, OPT_NO_UNLOCK },
		{ "keep-lock", no_argument, NULL, OPT_KEEP_LOCK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "fds-as-saved", no_argument, NULL, OPT_AS_SAVED },
		{ "threads", required_argument, NULL, OPT_THREADS },
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
	struct soccr_restore_opts ropts = {.sz = sizeof(ropts)}, *wopts = NULL;
	struct soccr_restore_observer obs;
	struct soccr_session **sessions = NULL;
	struct maker mk = {0};
	const char *threads_arg = NULL;
	uint64_t threads = 0;
	size_t failed = 0;

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
		case OPT_THREADS:
			if (cli_once("restore", "--threads", &threads_arg, optarg))
				return EXIT_USAGE;
			if (cli_parse_u64(optarg, 64, &threads) || !threads) {
				cli_err("restore: --threads: '%s' is not a number from 1 to 64",
					optarg);
				return EXIT_USAGE;
			}
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
		/* Called from every thread: the verifier takes its own lock. */
		soccr_verifier_observer(ver, &obs);
		ropts.observer = &obs;
	}
	/*
	 * Every socket made, connections still in repair mode; the first
	 * failure stops all. On several threads, each with a session of its
	 * own (the tool's restores take the AF_PACKET path, loading the bypass
	 * where it is needed).
	 */
	g.threads = cli_par_threads(set.n, (unsigned int)threads);
	sessions = calloc(g.threads, sizeof(*sessions));
	wopts = calloc(g.threads, sizeof(*wopts));
	if (!sessions || !wopts) {
		cli_err("restore: out of memory");
		goto out;
	}
	for (unsigned int k = 0; k < g.threads; k++) {
		ret = soccr_session_open(NULL, &sessions[k]);
		if (ret) {
			cli_err("restore: session: %s", cli_why(strerror(-ret)));
			goto out;
		}
		wopts[k] = ropts;
		wopts[k].session = sessions[k];
	}
	mk = (struct maker){.g = &g, .set = &set, .ropts = wopts, .progress = progress};
	ret = cli_par_for(set.n, g.threads, make_one, &mk, make_progress, &failed);
	if (ret && mk.shown && mk.shown != set.n)
		fputc('\n', stderr);
	reported = ret && g.r[failed].reported;
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
	for (unsigned int k = 0; sessions && k < g.threads; k++)
		soccr_session_close(sessions[k]);
	free(sessions);
	free(wopts);
	soccr_verifier_close(ver);
	soccr_lock_close(g.lock);
	soccr_image_set_free(&set);
	return status;
}
