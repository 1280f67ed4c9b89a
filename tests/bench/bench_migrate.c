// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * migrate_10k: a whole server process moved by the CLI.
 *
 * Set-up (not timed), per round: two network namespaces joined by a veth
 * pair (tests/lib/tns.h); in side a a holder process listens and accepts N
 * connections from side b, writes 64 bytes to each and reads nothing; the
 * clients write 32 bytes each and read nothing, and every third client
 * shuts down its side: the holder's sockets are ESTABLISHED or CLOSE_WAIT,
 * with data in flight both ways, plus the listener.
 *
 *   save     `soccr save --pid HOLDER -o IMAGE` (exec'd, wall time): one lock
 *            batch for the N flows, every socket paused and read, the image
 *            written
 *   restore  after the holder is killed (its sockets close in repair mode),
 *            `soccr restore -i IMAGE -- sh -c 'echo running >&2; exec sleep
 *            600'` in side a (exec'd): from the exec to the report line,
 *            printed once every socket is live and handed over and the idle
 *            lock detached; the new owner and its sockets then go, untimed
 *   handover the same restore, from the exec to the moment the command runs
 *            with every socket live and unlocked (its "running" line; a
 *            shell's start, ~1 ms, included)
 *   restore_1thread, handover_1thread
 *            the same with `restore --threads 1` (by default soccr restore
 *            makes the sockets on one thread per CPU): every other round
 *   floor    the same N connections from the same image, restored in-process
 *            with the bare TCP_REPAIR sequence of an ESTABLISHED socket
 *            (socket, repair on, both queue sequences, bind, connect,
 *            TCP_REPAIR_OPTIONS, TCP_REPAIR_WINDOW, repair off), then closed
 *            (an abortive close under the lock, not timed)
 *
 * The floor runs on one thread, in every round.
 *
 * Targets (issue "Migrate a whole server"): restore <= 1.5x floor; save +
 * restore of 10,000 under 1 s. Memory: the largest RSS of the two commands
 * (getrusage, RUSAGE_CHILDREN) and the image size.
 *
 * Env: BENCH_ROUNDS (11, here: rounds 3..), BENCH_MIGRATE_N (10000),
 * BENCH_MIGRATE_HALF_EVERY (3: every third client shuts down; 0: none, all
 * ESTABLISHED, to see what the half-closed restores cost).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <soccr/image.h>
#include <soccr/soccr.h>

#include "bench.h"
#include "tns.h"

#define PREFIX "migrate"
#define PORT   7400

#ifndef TCPOPT_MAXSEG
#define TCPOPT_MAXSEG 2
#endif
#ifndef TCPOPT_WINDOW
#define TCPOPT_WINDOW 3
#endif

static struct tns_pair pair;
static pid_t holder = -1;
static char dir[] = "/tmp/soccr-bench-migrate-XXXXXX", img[96];

static void cleanup(void)
{
	if (holder > 0)
		kill(holder, SIGKILL);
	tns_pair_cleanup(&pair);
	unlink(img);
	rmdir(dir);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1);
}

static const char *soccr_bin(void)
{
	static char path[512];
	const char *s = getenv("SOCCR");

	if (s && *s)
		return s;
	snprintf(path, sizeof(path), "%s/soccr", getenv("SOCCR_BUILD") ? getenv("SOCCR_BUILD")
									 : "build");
	return path;
}

/* The holder: listen in side a, accept n, greet each, read nothing; ready on fd w. */
static void hold(int n, int w)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64] = {0};
	int lfd, one = 1;

	if (tns_enter(pair.nsfd[0]))
		_exit(2);
	tns_addr(&pair, 0, AF_INET, PORT, &ss, &len);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 4096))
		_exit(3);
	if (write(w, "L", 1) != 1)
		_exit(4);
	for (int i = 0; i < n; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf))
			_exit(5);
	}
	if (write(w, "R", 1) != 1)
		_exit(6);
	for (;;)
		pause();
}

/*
 * Run soccr with argv in namespace nsfd (-1: ours): its wall time in ms, or
 * < 0 on a failure. until_report: the time until the report line `soccr
 * restore -- CMD` prints on stderr once every socket is handed over and the
 * idle lock detached, which must start with "restored "; its command is then
 * stopped (soccr passes the signal on) and reaped, untimed. With t_cmd, the
 * command's own "running" line, printed as it starts, is awaited too, before
 * or after the report (the two race): *t_cmd gets its time, the hand-over.
 */
static double run_soccr(int nsfd, char *const argv[], bool until_report, double *t_cmd)
{
	uint64_t t0 = bench_now_ns(), t = 0;
	char line[512] = "", report[512] = "";
	int p[2], st;
	size_t got = 0;
	pid_t pid;

	if (pipe(p))
		bench_die("pipe", errno);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		if (nsfd >= 0 && tns_enter(nsfd))
			_exit(120);
		dup2(null, STDOUT_FILENO);
		if (until_report)
			dup2(p[1], STDERR_FILENO);
		execv(soccr_bin(), argv);
		_exit(121);
	}
	close(p[1]);
	while (until_report && got < sizeof(line) - 1) {
		ssize_t n = read(p[0], line + got, 1);

		if (n <= 0)
			break;
		if (line[got++] != '\n')
			continue;
		if (t_cmd && got == 8 && !strncmp(line, "running\n", 8)) {
			*t_cmd = (double)(bench_now_ns() - t0) / 1e6;
			got = 0;
		} else if (!t) {
			t = bench_now_ns() - t0;
			if (strncmp(line, "restored ", 9))
				break;
			memcpy(report, line, got);
			report[got] = '\0';
			got = 0;
		} else {
			got = 0; /* anything else the command prints */
		}
		if (t && (!t_cmd || *t_cmd >= 0))
			break;
	}
	line[got] = '\0';
	if (until_report)
		kill(pid, SIGTERM);
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (!until_report) {
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "%s: soccr %s: status 0x%x\n", bench_prog, argv[1], st);
			return -1;
		}
		t = bench_now_ns() - t0;
	} else if (!t || strncmp(report, "restored ", 9) || (t_cmd && *t_cmd < 0)) {
		fprintf(stderr, "%s: soccr %s: %s%s\n", bench_prog, argv[1], report[0] ? report : line,
			t_cmd && *t_cmd < 0 ? " (the command's \"running\" line never came)" : "");
		return -1;
	}
	return (double)t / 1e6;
}

static int repair(int fd, int on)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
}

/* The bare ESTABLISHED restore of one connection of the image; the fd, or -1. */
static int floor_one(const struct soccr_image *im)
{
	const struct libsoccr_sk_data *d = &im->data;
	struct tcp_repair_opt opts[2] = {{TCPOPT_MAXSEG, d->mss_clamp},
					 {TCPOPT_WINDOW, d->snd_wscale | d->rcv_wscale << 16}};
	struct tcp_repair_window w = {.snd_wl1 = d->snd_wl1, .snd_wnd = d->snd_wnd,
				      .max_window = d->max_window, .rcv_wnd = d->rcv_wnd,
				      .rcv_wup = d->rcv_wup};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), q;

	if (fd < 0 || repair(fd, 1))
		return -1;
	q = TCP_RECV_QUEUE;
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &d->inq_seq, sizeof(d->inq_seq));
	q = TCP_SEND_QUEUE;
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &d->outq_seq, sizeof(d->outq_seq));
	if (bind(fd, &im->local.sa, sizeof(im->local.v4)) ||
	    connect(fd, &im->peer.sa, sizeof(im->peer.v4)))
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, sizeof(opts));
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w));
	if (repair(fd, 0))
		return -1;
	return fd;
}

static double floor_restore(const struct soccr_image_set *set, int *fds)
{
	uint64_t t0;
	size_t n = 0;

	if (tns_enter(pair.nsfd[0]))
		bench_die("enter side a", errno);
	t0 = bench_now_ns();
	for (size_t i = 0; i < set->n; i++)
		if (set->socks[i].kind == SOCCR_IMAGE_CONN) {
			fds[n] = floor_one(&set->socks[i].conn);
			if (fds[n++] < 0)
				bench_die("floor restore", errno);
		}
	t0 = bench_now_ns() - t0;
	/* Gone again, silently for the peers: an abortive close, its RST held by the lock. */
	for (size_t i = 0; i < n; i++) {
		struct linger lg = {1, 0};

		setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[i]);
	}
	tns_leave();
	return (double)t0 / 1e6;
}

/* In a child of its own: our fds already hold the clients, the limit holds no more. */
static double floor_round(const struct soccr_image_set *set, int *fds, const int *cli, int ncli)
{
	double t = -1;
	int p[2], st;
	pid_t pid;

	if (pipe(p))
		bench_die("pipe", errno);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (!pid) {
		/* The clients stay open in the parent; here they would only take room. */
		for (int i = 0; i < ncli; i++)
			close(cli[i]);
		t = floor_restore(set, fds);
		_exit(write(p[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &t, sizeof(t)) != sizeof(t))
		t = -1;
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || t < 0)
		bench_die("floor round", EIO);
	return t;
}

int main(void)
{
	struct bench_series *s_save, *s_rst, *s_hand, *s_floor, *s_total, *s_rss, *s_img;
	struct bench_series *s_rst1, *s_hand1;
	int n, rounds, err, half_every, *cli, *ffds;
	struct rusage ru;

	bench_init("bench_migrate");
	rounds = bench_rounds() < 3 ? bench_rounds() : 3;
	n = (int)bench_env_long("BENCH_MIGRATE_N", 10000, 10, 100000);
	half_every = (int)bench_env_long("BENCH_MIGRATE_HALF_EVERY", 3, 0, 1000);
	/* The clients here, the floor's sockets in a child: each n and a little. */
	err = bench_nofile((rlim_t)(n + 256));
	if (err)
		bench_die("RLIMIT_NOFILE", -err);
	if (!mkdtemp(dir))
		bench_die("mkdtemp", errno);
	snprintf(img, sizeof(img), "%s/srv.img", dir);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (tns_pair_setup(&pair))
		bench_die("namespaces", EIO);
	cli = calloc((size_t)n, sizeof(*cli));
	ffds = calloc((size_t)n, sizeof(*ffds));
	if (!cli || !ffds)
		bench_die("calloc", ENOMEM);
	s_save = bench_series(PREFIX "_10k_save", "ms");
	s_rst = bench_series(PREFIX "_10k_restore", "ms");
	s_hand = bench_series(PREFIX "_10k_handover", "ms");
	s_rst1 = bench_series(PREFIX "_10k_restore_1thread", "ms");
	s_hand1 = bench_series(PREFIX "_10k_handover_1thread", "ms");
	s_floor = bench_series(PREFIX "_10k_floor", "ms");
	s_total = bench_series(PREFIX "_10k_save_restore", "ms");
	s_rss = bench_series(PREFIX "_10k_max_rss", "MiB");
	s_img = bench_series(PREFIX "_10k_image", "MiB");

	/* Round 0 warms up; then the default restore and --threads 1 take turns. */
	for (int r = 0; r <= 2 * rounds; r++) {
		struct sockaddr_storage ss;
		struct soccr_image_set set;
		char pidbuf[16], msg[256], c;
		bool one = r && r % 2 == 0;
		char *save_argv[] = {"soccr", "save", "--pid", pidbuf, "-o", img, NULL};
		char *rst_argv[] = {"soccr", "restore", "-i", img, "--", "/bin/sh", "-c",
				    "echo running >&2; exec sleep 600", NULL};
		char *rst1_argv[] = {"soccr", "restore", "-i", img, "--threads", "1", "--",
				     "/bin/sh", "-c", "echo running >&2; exec sleep 600", NULL};
		double ts, tr, tf, th = -1;
		socklen_t len;
		int p[2];
		struct stat st;

		if (pipe(p))
			bench_die("pipe", errno);
		holder = fork();
		if (holder < 0)
			bench_die("fork", errno);
		if (!holder) {
			close(p[0]);
			hold(n, p[1]);
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 1 || c != 'L')
			bench_die("holder listening", EIO);
		if (tns_enter(pair.nsfd[1]))
			bench_die("enter side b", errno);
		tns_addr(&pair, 0, AF_INET, PORT, &ss, &len);
		for (int i = 0; i < n; i++) {
			char buf[32] = {0};

			cli[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&ss, len) ||
			    write(cli[i], buf, sizeof(buf)) != sizeof(buf))
				bench_die("client", errno);
			if (half_every && i % half_every == half_every - 1)
				shutdown(cli[i], SHUT_WR);
		}
		tns_leave();
		if (read(p[0], &c, 1) != 1 || c != 'R')
			bench_die("holder ready", EIO);
		close(p[0]);
		/* The clients' FINs and bytes are in: a moment for the last ones to land. */
		usleep(200000);
		kill(holder, SIGSTOP);

		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)holder);
		ts = run_soccr(-1, save_argv, false, NULL);
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
		holder = -1;
		if (ts < 0)
			bench_die("soccr save", EIO);
		if (soccr_image_set_load(img, &set, msg, sizeof(msg)))
			bench_die(msg, EIO);
		tf = floor_round(&set, ffds, cli, n);
		soccr_image_set_free(&set);
		tr = run_soccr(pair.nsfd[0], one ? rst1_argv : rst_argv, true, &th);
		if (tr < 0 || th < 0)
			bench_die("soccr restore", EIO);
		if (one) {
			bench_add(s_rst1, tr);
			bench_add(s_hand1, th);
			bench_add(s_floor, tf);
		} else if (r) {
			bench_add(s_save, ts);
			bench_add(s_rst, tr);
			bench_add(s_hand, th);
			bench_add(s_floor, tf);
			bench_add(s_total, ts + tr);
			if (!stat(img, &st))
				bench_add(s_img, (double)st.st_size / (1 << 20));
		}
		for (int i = 0; i < n; i++) {
			struct linger lg = {1, 0};

			setsockopt(cli[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(cli[i]);
		}
		unlink(img);
		/* The peers' RSTs and the restored sockets' closes settle before the next round. */
		usleep(300000);
	}
	if (!getrusage(RUSAGE_CHILDREN, &ru))
		bench_add(s_rss, (double)ru.ru_maxrss / 1024);
	bench_report(s_save, PREFIX, NULL);
	bench_report(s_rst, PREFIX, s_floor, NULL);
	bench_report(s_hand, PREFIX, s_floor, NULL);
	bench_report(s_rst1, PREFIX, s_floor, NULL);
	bench_report(s_hand1, PREFIX, s_floor, NULL);
	bench_report(s_floor, PREFIX, NULL);
	bench_report(s_total, PREFIX, NULL);
	bench_report(s_rss, PREFIX, NULL);
	bench_report(s_img, PREFIX, NULL);
	{
		double ratio = bench_ratio(s_rst, s_floor);

		bench_target(PREFIX "_10k_restore", true, ratio > 0 && ratio <= 1.5,
			     "restore of %d sockets by the CLI <= 1.5x the bare TCP_REPAIR floor: %.2fx",
			     n, ratio);
		bench_target(PREFIX "_10k_save_restore", true, bench_median(s_total) < 1000,
			     "save + restore of %d sockets by the CLI under 1 s: %.0f ms", n,
			     bench_median(s_total));
	}
	free(cli);
	free(ffds);
	bench_table();
	return 0;
}
