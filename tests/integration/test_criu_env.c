// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsoccr under CRIU's conditions: CRIU restores inside the task it
 * restores, often in a user namespace that owns the network namespace
 * (rootless containers, zdtm's `uns`), and then places the task's own
 * files at fixed descriptor numbers. So, for every state x family
 * (IPv4, IPv6, IPv4-mapped IPv6):
 *
 *  - around every CRIU-API call (pause, save, get_queue_bytes, get_addr,
 *    release; pause, set_addr, set_queue_bytes, restore, resume), the
 *    process keeps exactly its descriptors (numbers, targets, close-on-exec
 *    flags), threads, RLIMIT_MEMLOCK/RLIMIT_NOFILE and signal dispositions,
 *    and every descriptor that exists while a call runs (seen from its log
 *    callback) is close-on-exec;
 *  - after the restore, the next files opened get exactly the lowest free
 *    numbers, as CRIU expects, and dup2() puts the socket where CRIU wants;
 *  - the restored connection carries every byte both ways, with EOF exactly
 *    where a FIN was.
 *
 * Two runs of that matrix: as root in a private network namespace, and in a
 * child that made a user namespace and a network namespace it owns
 * (unshare(CLONE_NEWUSER | CLONE_NEWNET), as `unshare -Urn`), where no BPF
 * program can be loaded. Each run has peers on loopback addresses, on a
 * local non-loopback address, and in another network namespace behind a
 * veth pair with rp_filter 1 in ours (the "other host"); the user-namespace
 * run adds rp_filter 0. The root run also checks that no BPF program, tc
 * filter or bpffs pin appeared.
 *
 * As CRIU does, the network is locked from before the checkpoint until the
 * restored socket is resumed: an nftables table in our namespace drops
 * every packet in and out except those marked SOCCR_MARK (the injected
 * ones), so nothing the sockets send in between reaches the other end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soccr/soccr.h>

#include "tns.h"

#define WAIT_MS 6000
#define DATA_P	3000 /* bytes the peer wrote that we never read */
#define DATA_O	2000 /* bytes we wrote that the peer never read */
#define SEED_O	0x0a
#define SEED_P	0x0b
#define MAX_FDS 256

enum st { ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING, CLOSED, N_ST };
static const char *const st_name[] = {"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT",
				      "LAST_ACK",    "CLOSING",	  "CLOSE"};
static const int st_tcp[] = {TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_CLOSE_WAIT,
			     TCP_LAST_ACK,    TCP_CLOSING,   TCP_CLOSE};

/* Where the peer is: its address and ours (IPv4 and IPv6), and its namespace (-1: ours). */
struct where {
	const char *name;
	const char *ip4[2], *ip6[2]; /* [0] ours, [1] the peer's */
	int peer_nsfd;
};

/* ---- the process's state, before and after each call ------------------------------------ */

struct snap {
	int n;
	int fd[MAX_FDS];
	int cloexec[MAX_FDS];
	char target[MAX_FDS][64];
	int threads;
	struct rlimit memlock, nofile;
	struct sigaction sa[65];
};

static int threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int n = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void take(struct snap *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[64];

	assert_non_null(d);
	memset(s, 0, sizeof(*s));
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t l;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		assert_true(s->n < MAX_FDS);
		s->fd[s->n] = fd;
		s->cloexec[s->n] = fcntl(fd, F_GETFD) & FD_CLOEXEC;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		l = readlink(path, s->target[s->n], sizeof(s->target[0]) - 1);
		if (l > 0)
			s->target[s->n][l] = '\0';
		s->n++;
	}
	closedir(d);
	s->threads = threads();
	getrlimit(RLIMIT_MEMLOCK, &s->memlock);
	getrlimit(RLIMIT_NOFILE, &s->nofile);
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, NULL, &s->sa[sig]);
}

static const char *where_now, *call_now;

static void same(const struct snap *a, const struct snap *b)
{
	if (a->n != b->n)
		fail_msg("%s: %s: %d descriptors before, %d after", where_now, call_now, a->n, b->n);
	for (int i = 0; i < a->n; i++)
		if (a->fd[i] != b->fd[i] || a->cloexec[i] != b->cloexec[i] ||
		    strcmp(a->target[i], b->target[i]))
			fail_msg("%s: %s: fd %d (%s) became fd %d (%s)", where_now, call_now, a->fd[i],
				 a->target[i], b->fd[i], b->target[i]);
	if (a->threads != b->threads)
		fail_msg("%s: %s: %d threads, then %d", where_now, call_now, a->threads,
			 b->threads);
	if (memcmp(&a->memlock, &b->memlock, sizeof(a->memlock)) ||
	    memcmp(&a->nofile, &b->nofile, sizeof(a->nofile)))
		fail_msg("%s: %s: an rlimit changed", where_now, call_now);
	for (int sig = 1; sig < 65; sig++)
		if (a->sa[sig].sa_handler != b->sa[sig].sa_handler ||
		    a->sa[sig].sa_flags != b->sa[sig].sa_flags)
			fail_msg("%s: %s: signal %d's disposition changed", where_now, call_now, sig);
}

/* While a call runs: every descriptor that was not there before must be close-on-exec. */
static struct snap during_base;
static int during_bad;

static void log_cb(unsigned int level, const char *fmt, ...)
{
	struct snap now;
	va_list ap;

	if (level == SOCCR_LOG_ERR || getenv("SOCCR_TEST_DEBUG")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	take(&now);
	for (int i = 0; i < now.n; i++) {
		bool old = false;

		for (int j = 0; j < during_base.n && !old; j++)
			old = during_base.fd[j] == now.fd[i];
		if (!old && !now.cloexec[i]) {
			fprintf(stderr, "%s: %s: fd %d (%s) open without O_CLOEXEC\n", where_now,
				call_now, now.fd[i], now.target[i]);
			during_bad++;
		}
	}
}

/* Run one CRIU-API call between two snapshots. */
#define CALL(name, expr)                                                                   \
	({                                                                                 \
		struct snap b_, a_;                                                        \
		call_now = name;                                                           \
		take(&b_);                                                                 \
		during_base = b_;                                                          \
		__auto_type r_ = (expr);                                                   \
		take(&a_);                                                                 \
		same(&b_, &a_);                                                            \
		r_;                                                                        \
	})

/* ---- connections in every state -------------------------------------------------------- */

struct conn {
	int ours, peer;
	size_t o_written; /* bytes we wrote (all of it ends up at the peer) */
};

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -errno : ti.tcpi_state;
}

static bool wait_state(int fd, int want)
{
	for (int i = 0; i < 500; i++) {
		if (tcp_state(fd) == want)
			return true;
		usleep(2000);
	}
	return tcp_state(fd) == want;
}

static void fill(int fd, size_t off, size_t len, uint32_t seed)
{
	char buf[4096];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		tns_pattern(buf, n, off, seed);
		assert_int_equal(tns_write_all(fd, buf, n, WAIT_MS), 0);
		off += n;
		len -= n;
	}
}

static void expect(int fd, size_t off, size_t len, uint32_t seed)
{
	char got[4096], want[4096];

	while (len) {
		size_t n = len < sizeof(got) ? len : sizeof(got);

		if (tns_read_all(fd, got, n, WAIT_MS))
			fail_msg("%s: %zu bytes at %zu did not arrive", where_now, n, off);
		tns_pattern(want, n, off, seed);
		if (memcmp(got, want, n))
			fail_msg("%s: bytes at %zu differ", where_now, off);
		off += n;
		len -= n;
	}
}

/* Write until the peer's window and our send buffer are full (the peer reads nothing). */
static size_t stuff(int fd, size_t off)
{
	char buf[4096];
	size_t n = 0;
	ssize_t w;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int idle = 0; idle < 20;) {
		tns_pattern(buf, sizeof(buf), off + n, SEED_O);
		w = write(fd, buf, sizeof(buf));
		if (w > 0) {
			n += (size_t)w;
			idle = 0;
		} else {
			idle++;
			usleep(5000);
		}
	}
	fcntl(fd, F_SETFL, 0);
	return n;
}

static void sockaddr_of(int family, const char *ip, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
		*len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		char mapped[64];

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		if (!strchr(ip, ':')) {
			snprintf(mapped, sizeof(mapped), "::ffff:%s", ip);
			ip = mapped;
		}
		assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
		*len = sizeof(*s);
	}
}

/* A listener of the peer's, in its namespace (the thread visits it). */
static int peer_listen(const struct where *w, int family, const char *ip, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, one = 1, small = 4096, self = -1;

	if (w->peer_nsfd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		assert_int_equal(setns(w->peer_nsfd, CLONE_NEWNET), 0);
	}
	sockaddr_of(family, ip, 0, &ss, &len);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A small window: our FIN can be held behind unsent data. */
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(bind(l, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (self >= 0) {
		assert_int_equal(setns(self, CLONE_NEWNET), 0);
		close(self);
	}
	return l;
}

/* fam: AF_INET, AF_INET6, or 0 for IPv4-mapped (AF_INET6 to ::ffff:a.b.c.d). */
static void make(const struct where *w, int fam, enum st st, struct conn *c)
{
	int family = fam ? fam : AF_INET6;
	const char *lip = fam == AF_INET6 ? w->ip6[0] : w->ip4[0];
	const char *pip = fam == AF_INET6 ? w->ip6[1] : w->ip4[1];
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int l;

	memset(c, 0, sizeof(*c));
	l = peer_listen(w, fam ? fam : AF_INET, pip, &port);
	c->ours = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* A send queue that a user namespace can restore (no SO_SNDBUFFORCE there). */
	setsockopt(c->ours, SOL_SOCKET, SO_SNDBUF, &(int){65536}, sizeof(int));
	sockaddr_of(family, lip, 0, &ss, &len);
	assert_int_equal(bind(c->ours, (struct sockaddr *)&ss, len), 0);
	sockaddr_of(family, pip, port, &ss, &len);
	assert_int_equal(connect(c->ours, (struct sockaddr *)&ss, len), 0);
	c->peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c->peer >= 0);
	close(l);
	fill(c->peer, 0, DATA_P, SEED_P);
	fill(c->ours, 0, DATA_O, SEED_O);
	c->o_written = DATA_O;
	if (st == FIN_WAIT1 || st == LAST_ACK || st == CLOSING) {
		if (st == LAST_ACK) {
			shutdown(c->peer, SHUT_WR);
			assert_true(wait_state(c->ours, TCP_CLOSE_WAIT));
		}
		c->o_written += stuff(c->ours, c->o_written);
		shutdown(c->ours, SHUT_WR);
		if (st == CLOSING)
			shutdown(c->peer, SHUT_WR);
	} else if (st == FIN_WAIT2 || st == CLOSED) {
		shutdown(c->ours, SHUT_WR);
		assert_true(wait_state(c->ours, TCP_FIN_WAIT2));
		if (st == CLOSED)
			shutdown(c->peer, SHUT_WR);
	} else if (st == CLOSE_WAIT) {
		shutdown(c->peer, SHUT_WR);
		/* Our ACK of the peer's FIN must be out before we close silently. */
		assert_true(wait_state(c->peer, TCP_FIN_WAIT2));
	}
	if (!wait_state(c->ours, st_tcp[st]))
		fail_msg("%s: state %d, want %s", where_now, tcp_state(c->ours), st_name[st]);
}

/* ---- checkpoint, restore, check ---------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CRIU's kind of lock (nftables, SOCCR_MARK passes), for our whole namespace. */
static void lock_net(bool on)
{
	if (on)
		assert_int_equal(sh("nft -f - <<'EOF'\n"
				    "table inet soccr_criu_env {\n"
				    " chain i { type filter hook input priority -200; meta mark != 0xc114 drop; }\n"
				    " chain o { type filter hook output priority -200; meta mark != 0xc114 drop; }\n"
				    "}\nEOF"),
				 0);
	else
		assert_int_equal(sh("nft delete table inet soccr_criu_env"), 0);
}

static void one(const struct where *w, int fam, enum st st)
{
	struct libsoccr_sk_data d;
	union libsoccr_addr *self, *peer;
	struct libsoccr_sk *sk;
	struct snap before, after;
	char *inq, *outq, tag[128];
	struct conn c;
	int fd, ret, fresh[3];
	bool peer_fin = st == CLOSE_WAIT || st == LAST_ACK || st == CLOSING || st == CLOSED;
	bool our_fin = st != ESTABLISHED && st != CLOSE_WAIT;

	snprintf(tag, sizeof(tag), "%s %s %s", w->name,
		 fam == AF_INET ? "v4" : fam == AF_INET6 ? "v6" : "v4-mapped", st_name[st]);
	where_now = tag;
	make(w, fam, st, &c);
	during_bad = 0;
	lock_net(true);

	sk = CALL("pause", libsoccr_pause(c.ours));
	assert_non_null(sk);
	ret = CALL("save", libsoccr_save(sk, &d, sizeof(d)));
	assert_int_equal(ret, sizeof(d));
	assert_int_equal(d.state, st_tcp[st]);
	inq = CALL("get_queue_bytes", libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL));
	outq = CALL("get_queue_bytes", libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL));
	self = CALL("get_addr", libsoccr_get_addr(sk, 1, SOCCR_MEM_EXCL));
	peer = CALL("get_addr", libsoccr_get_addr(sk, 0, SOCCR_MEM_EXCL));
	assert_non_null(self);
	assert_non_null(peer);
	CALL("release", (libsoccr_release(sk), 0));
	close(c.ours); /* in repair mode: nothing is sent */

	fd = socket(self->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	take(&before);
	sk = CALL("pause", libsoccr_pause(fd));
	assert_non_null(sk);
	CALL("set_addr", libsoccr_set_addr(sk, 1, self, SOCCR_MEM_EXCL));
	CALL("set_addr", libsoccr_set_addr(sk, 0, peer, SOCCR_MEM_EXCL));
	if (inq)
		CALL("set_queue_bytes", libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, inq, SOCCR_MEM_EXCL));
	if (outq)
		CALL("set_queue_bytes", libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, outq, SOCCR_MEM_EXCL));
	ret = CALL("restore", libsoccr_restore(sk, &d, sizeof(d)));
	if (ret)
		fail_msg("%s: libsoccr_restore returned %d", tag, ret);
	CALL("resume", (libsoccr_resume(sk), 0));
	lock_net(false);
	assert_int_equal(during_bad, 0);
	take(&after);
	call_now = "the whole restore";
	same(&before, &after);

	/* CRIU then opens the task's files: they get the lowest free numbers. */
	for (int i = 0; i < 3; i++) {
		int want = 0;

		for (bool used = true; used; want += used) {
			used = want == fd;
			for (int j = 0; j < after.n && !used; j++)
				used = after.fd[j] == want;
			for (int j = 0; j < i && !used; j++)
				used = fresh[j] == want;
		}
		fresh[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fresh[i] != want)
			fail_msg("%s: the next file got fd %d, not %d", tag, fresh[i], want);
	}
	/* ... and the socket goes where the task had it. */
	assert_int_equal(dup2(fd, fresh[1]), fresh[1]);
	close(fd);
	fd = fresh[1];
	close(fresh[0]);
	close(fresh[2]);

	/* Every byte, both ways, EOF where a FIN was. */
	expect(fd, 0, DATA_P, SEED_P);
	if (peer_fin) {
		char b;

		assert_int_equal(read(fd, &b, 1), 0);
	} else {
		fill(c.peer, DATA_P, 100, SEED_P);
		expect(fd, DATA_P, 100, SEED_P);
	}
	expect(c.peer, 0, c.o_written, SEED_O);
	if (our_fin) {
		char b;

		assert_int_equal(tns_read_all(c.peer, &b, 1, WAIT_MS), -EPIPE);
	} else {
		fill(fd, c.o_written, 100, SEED_O);
		expect(c.peer, c.o_written, 100, SEED_O);
	}
	close(fd);
	close(c.peer);
}

static void matrix(const struct where *w)
{
	static const int fams[] = {AF_INET, AF_INET6, 0};

	for (size_t f = 0; f < 3; f++) {
		if (fams[f] == AF_INET6 && !w->ip6[0])
			continue;
		for (int st = 0; st < N_ST; st++)
			one(w, fams[f], (enum st)st);
	}
}

/* ---- the places: loopback, a local address, another namespace behind a veth ----------------- */

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void set_rp_filter(int v)
{
	assert_int_equal(sh("for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo %d > $f; done", v),
			 0);
}

/*
 * In the calling process's (fresh) network namespace: lo up, and a second
 * namespace joined by a veth pair (its fd returned), whose near end's
 * addresses are also the "local address" peers. Made with ip(8) from
 * inside, which works with the capabilities a user namespace gives over its
 * own network namespace.
 */
static int places(void)
{
	int self, other;
	char path[64];

	assert_int_equal(sh("ip link set lo up"), 0);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	other = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(self);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), other);
	assert_int_equal(sh("ip link add sv0 type veth peer name sv1 netns %s && "
			    "ip link set sv0 up && ip addr add 10.67.0.1/24 dev sv0 && "
			    "ip addr add fd67::1/64 dev sv0 nodad && "
			    "nsenter --net=%s sh -c 'ip link set lo up && ip link set sv1 up && "
			    "ip addr add 10.67.0.2/24 dev sv1 && ip addr add fd67::2/64 dev sv1 nodad'",
			    path, path),
		 0);
	/* Both ends answer neighbour solicitation before the first connect. */
	sh("ping -c1 -W2 10.67.0.2 >/dev/null 2>&1; ping -6 -c1 -W2 fd67::2 >/dev/null 2>&1");
	return other;
}

static void run_all(bool userns)
{
	int other = places();
	struct where lo = {"loopback", {"127.0.0.1", "127.0.0.1"}, {"::1", "::1"}, -1};
	struct where local = {"local address", {"10.67.0.1", "10.67.0.1"}, {"fd67::1", "fd67::1"}, -1};
	struct where remote = {"other namespace", {"10.67.0.1", "10.67.0.2"}, {"fd67::1", "fd67::2"},
			       other};

	libsoccr_set_log(SOCCR_LOG_DBG, log_cb);
	set_rp_filter(1);
	matrix(&lo);
	matrix(&local);
	matrix(&remote);
	if (userns) {
		set_rp_filter(0);
		remote.name = "other namespace, rp_filter 0";
		matrix(&remote);
	}
	libsoccr_set_log(0, NULL);
	close(other);
}

/*
 * The soccr BPF programs loaded on the host and the soccr pins under
 * /sys/fs/bpf, as one line of text (compared before and after: other tests'
 * namespaces may linger a while with their own).
 */
static char *bpf_objects(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = popen("{ bpftool prog show 2>/dev/null | grep soccr | cut -d: -f1; "
			"ls /sys/fs/bpf 2>/dev/null | grep soccr; } | tr '\\n' ' '", "r");

	assert_non_null(f);
	if (getline(&out, &len, f) < 0) {
		free(out);
		out = strdup("");
	}
	pclose(f);
	assert_non_null(out);
	return out;
}

/* The first word of after (space-separated) that before lacks, or NULL. */
static const char *new_object(const char *before, const char *after)
{
	static char word[128];
	const char *p = after;

	while (*p) {
		size_t n = strcspn(p, " ");
		char pad[130];

		if (n && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			snprintf(pad, sizeof(pad), " %s ", word);
			/* before is " "-terminated: match whole words. */
			if (strncmp(before, pad + 1, n + 1) && !strstr(before, pad))
				return word;
		}
		p += n;
		p += strspn(p, " ");
	}
	return NULL;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		_exit(4);
	}
	close(fd);
}

/*
 * The matrix runs in a child of its own, in namespaces that go away with
 * it: this program again (cmocka in it reports its own failures), after
 * unshare(); userns: as `unshare -Urn`, root of a user namespace that owns a
 * new network namespace. Returns the child's exit status.
 */
static int run_child(bool userns)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		uid_t uid = getuid();
		gid_t gid = getgid();
		char map[64];

		if (unshare(CLONE_NEWNET | (userns ? CLONE_NEWUSER : 0))) {
			fprintf(stderr, "unshare: %s\n", strerror(errno));
			_exit(3);
		}
		if (userns) {
			write_file("/proc/self/setgroups", "deny");
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
			write_file("/proc/self/uid_map", map);
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
			write_file("/proc/self/gid_map", map);
		}
		setenv("SOCCR_CRIU_ENV_CHILD", userns ? "userns" : "root", 1);
		execl("/proc/self/exe", "test_criu_env", (char *)NULL);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_criu_api_as_root_leaves_nothing_behind(void **state)
{
	char *before, *after = NULL;

	(void)state;
	before = bpf_objects();
	assert_int_equal(run_child(false), 0);
	/*
	 * The child's namespace is gone, and everything of its with it. Other
	 * processes of the host (a parallel test, a user's soccr) may hold soccr
	 * programs of their own for a moment: wait up to 5 s for any object
	 * that was not there before to go.
	 */
	for (int i = 0; i < 50; i++) {
		free(after);
		after = bpf_objects();
		if (!new_object(before, after))
			break;
		usleep(100000);
	}
	if (new_object(before, after))
		fail_msg("left behind: %s (before: '%s', after: '%s')", new_object(before, after),
			 before, after);
	free(before);
	free(after);
}

static void test_criu_api_in_a_user_namespace(void **state)
{
	int st;

	(void)state;
	st = run_child(true);
	if (st == 3)
		fail_msg("this kernel refuses unprivileged user namespaces: the CRIU `uns` case "
			 "cannot be tested here");
	assert_int_equal(st, 0);
}

static void test_matrix(void **state)
{
	(void)state;
	run_all(!strcmp(getenv("SOCCR_CRIU_ENV_CHILD"), "userns"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_criu_api_as_root_leaves_nothing_behind),
		cmocka_unit_test(test_criu_api_in_a_user_namespace),
	};
	const struct CMUnitTest child[] = {
		cmocka_unit_test(test_matrix),
	};

	if (getenv("SOCCR_CRIU_ENV_CHILD"))
		return cmocka_run_group_tests(child, NULL, NULL);
	tns_require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
