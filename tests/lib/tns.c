// SPDX-License-Identifier: LGPL-2.1-or-later
/* Test namespaces: see tns.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "tns.h"

#define MAX_NS 64

static char created[MAX_NS][32];
static int orig_ns = -1;
static int counter;
static bool hooks_installed;
static pid_t owner;

static void forget(const char *name)
{
	for (int i = 0; i < MAX_NS; i++)
		if (!strcmp(created[i], name))
			created[i][0] = '\0';
}

static void remember(const char *name)
{
	for (int i = 0; i < MAX_NS; i++)
		if (!created[i][0]) {
			snprintf(created[i], sizeof(created[i]), "%s", name);
			return;
		}
}

static void del_all(void)
{
	char cmd[128];

	/* A forked child inherits the hooks and the list: the namespaces are its parent's. */
	if (getpid() != owner)
		return;

	for (int i = 0; i < MAX_NS; i++)
		if (created[i][0]) {
			snprintf(cmd, sizeof(cmd), "ip netns del %.31s 2>/dev/null", created[i]);
			if (system(cmd)) {
				/* already gone */
			}
			created[i][0] = '\0';
		}
}

static void on_signal(int sig)
{
	del_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_hooks(void)
{
	if (hooks_installed)
		return;
	hooks_installed = true;
	owner = getpid();
	atexit(del_all);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
}

void tns_require_root(void)
{
	const char *req = getenv("SOCCR_REQUIRE_ROOT");

	if (geteuid() == 0)
		return;
	fprintf(stderr, "\n!!! SKIPPED: this test needs root (network namespaces, TCP_REPAIR)\n\n");
	if (req && !strcmp(req, "1"))
		exit(1);
	exit(77);
}

int tns_sh(const char *ns, const char *fmt, ...)
{
	char cmd[2048], full[2200];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (ns)
		snprintf(full, sizeof(full), "ip netns exec %s sh -c '%s'", ns, cmd);
	else
		snprintf(full, sizeof(full), "%s", cmd);
	rc = system(full);
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

int tns_enter(int nsfd)
{
	if (orig_ns < 0) {
		orig_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (orig_ns < 0)
			return -errno;
	}
	if (setns(nsfd, CLONE_NEWNET))
		return -errno;
	return 0;
}

int tns_leave(void)
{
	if (orig_ns < 0)
		return 0;
	if (setns(orig_ns, CLONE_NEWNET))
		return -errno;
	return 0;
}

int tns_pair_setup(struct tns_pair *p)
{
	int idx = counter++;
	/* Per-process subnet: 10.<x>.<y>.0/24 from the pid and the index. */
	unsigned int x = 100 + ((unsigned int)getpid() % 100), y = (unsigned int)idx % 250 + 1;
	char path[64];

	install_hooks();
	memset(p, 0, sizeof(*p));
	p->nsfd[0] = p->nsfd[1] = -1;
	for (int s = 0; s < 2; s++) {
		snprintf(p->ns[s], sizeof(p->ns[s]), "soccr-%d-%d%c", (int)getpid(), idx, "ab"[s]);
		snprintf(p->ifname[s], sizeof(p->ifname[s]), "s%c%d", "ab"[s], idx);
		snprintf(p->ip4[s], sizeof(p->ip4[s]), "10.%u.%u.%d", x, y, s + 1);
		snprintf(p->ip6[s], sizeof(p->ip6[s]), "fd00:%x:%x::%d", x, y, s + 1);
		if (tns_sh(NULL, "ip netns add %s", p->ns[s]))
			goto fail;
		remember(p->ns[s]);
	}
	p->up = true;
	if (tns_sh(NULL, "ip link add %s netns %s type veth peer name %s netns %s", p->ifname[0],
		   p->ns[0], p->ifname[1], p->ns[1]))
		goto fail;
	for (int s = 0; s < 2; s++) {
		if (tns_sh(p->ns[s],
			   "ip link set lo up && ip link set %s up && "
			   "ip addr add %s/24 dev %s && ip addr add %s/64 dev %s nodad",
			   p->ifname[s], p->ip4[s], p->ifname[s], p->ip6[s], p->ifname[s]))
			goto fail;
		snprintf(path, sizeof(path), "/var/run/netns/%s", p->ns[s]);
		p->nsfd[s] = open(path, O_RDONLY | O_CLOEXEC);
		if (p->nsfd[s] < 0)
			goto fail;
		if (tns_enter(p->nsfd[s]))
			goto fail;
		p->ifindex[s] = (int)if_nametoindex(p->ifname[s]);
		tns_leave();
	}
	/* Wait until the veth carrier is up on both sides (IPv6 needs it to send). */
	for (int i = 0; i < 200; i++) {
		if (!tns_sh(p->ns[0], "ip -o link show %s | grep -q LOWER_UP", p->ifname[0]) &&
		    !tns_sh(p->ns[1], "ip -o link show %s | grep -q LOWER_UP", p->ifname[1]))
			return 0;
		usleep(10000);
	}
fail:
	tns_pair_cleanup(p);
	return -EIO;
}

void tns_pair_cleanup(struct tns_pair *p)
{
	for (int s = 0; s < 2; s++) {
		if (p->nsfd[s] >= 0 && p->up)
			close(p->nsfd[s]);
		p->nsfd[s] = -1;
		if (p->ns[s][0]) {
			tns_sh(NULL, "ip netns del %s 2>/dev/null", p->ns[s]);
			forget(p->ns[s]);
			p->ns[s][0] = '\0';
		}
	}
	p->up = false;
}

void tns_addr(const struct tns_pair *p, int side, int family, uint16_t port,
	      struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, p->ip4[side], &sin->sin_addr);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, p->ip6[side], &sin6->sin6_addr);
		*len = sizeof(*sin6);
	}
}

/* Turn a v4 sockaddr into its ::ffff:a.b.c.d form. */
static void to_mapped(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in sin = *(struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin.sin_port;
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
	*len = sizeof(*sin6);
}

int tns_tcp_connect(struct tns_pair *p, int family, bool mapped, int *client_fd, int *server_fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = -1, cfd = -1, sfd = -1, one = 1, err;

	if (tns_enter(p->nsfd[1]))
		return -errno;
	/* A mapped client needs a v6 listener that accepts v4 (dual stack). */
	tns_addr(p, 1, family, 0, &ss, &len);
	if (mapped) {
		struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
		int zero = 0;

		lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			goto err;
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&any, sizeof(any)))
			goto err;
	} else {
		lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			goto err;
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len))
			goto err;
	}
	if (listen(lfd, 16))
		goto err;
	{
		struct sockaddr_storage bound;
		socklen_t blen = sizeof(bound);

		if (getsockname(lfd, (struct sockaddr *)&bound, &blen))
			goto err;
		tns_addr(p, 1, family, ntohs(((struct sockaddr_in *)&bound)->sin_port), &ss, &len);
		if (family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port =
				((struct sockaddr_in6 *)&bound)->sin6_port;
	}
	if (mapped)
		to_mapped(&ss, &len);
	if (tns_enter(p->nsfd[0]))
		goto err;
	cfd = socket(mapped ? AF_INET6 : family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		goto err;
	if (connect(cfd, (struct sockaddr *)&ss, len))
		goto err;
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sfd < 0)
		goto err;
	close(lfd);
	tns_leave();
	*client_fd = cfd;
	*server_fd = sfd;
	return 0;
err:
	err = -errno;
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	tns_leave();
	return err ? err : -EIO;
}

int tns_tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_state;
}

int tns_repair(int fd, int on)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		return -errno;
	return 0;
}

int tns_queue_seq(int fd, int queue, uint32_t *seq)
{
	socklen_t len = sizeof(*seq);

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)))
		return -errno;
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len))
		return -errno;
	return 0;
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int rc = poll(&pfd, 1, timeout_ms);

	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int tns_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *b = buf;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			if (wait_fd(fd, POLLOUT, timeout_ms))
				return -ETIMEDOUT;
			continue;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int tns_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	char *b = buf;

	while (len) {
		ssize_t n = recv(fd, b, len, MSG_DONTWAIT);

		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			if (wait_fd(fd, POLLIN, timeout_ms))
				return -ETIMEDOUT;
			continue;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

void tns_pattern(void *buf, size_t len, uint64_t off, uint32_t seed)
{
	unsigned char *b = buf;

	/* Byte i of the stream depends on its absolute offset, so any shift shows. */
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint32_t v = (uint32_t)(o * 2654435761u) ^ seed ^ (uint32_t)(o >> 13);

		b[i] = (unsigned char)(v ^ (v >> 8) ^ (v >> 16));
	}
}

void tns_lock_teardown(struct tns_pair *p, struct soccr_lock **lock, const char *pin_dir)
{
	char path[128];

	if (*lock) {
		if (p->up && !tns_enter(p->nsfd[0]))
			soccr_lock_detach(*lock);
		tns_leave();
		soccr_lock_close(*lock);
		*lock = NULL;
	}
	/* In case the detach did not get that far (nothing to do before setup named it). */
	if (!pin_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/flows", pin_dir);
	unlink(path);
	rmdir(pin_dir);
}

int tns_lock_setup(struct tns_pair *p, const char *tag, struct soccr_lock **lock, char *pin_dir,
		   size_t len)
{
	struct soccr_lock_opts opts = {.sz = sizeof(opts), .pin_dir = pin_dir};
	int err;

	*lock = NULL;
	snprintf(pin_dir, len, "/sys/fs/bpf/soccr-test-%d-%s", (int)getpid(), tag);
	if (soccr_lock_open(&opts, lock))
		goto fail;
	if (tns_enter(p->nsfd[0]))
		goto fail;
	err = soccr_lock_attach(*lock, p->ifname[0]) || soccr_lock_attach(*lock, "lo");
	tns_leave();
	if (!err)
		return 0;
fail:
	tns_lock_teardown(p, lock, pin_dir);
	return -1;
}

void tns_log_stderr(unsigned int level, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void tns_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	}
}

void tns_loopback(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_addr = in6addr_loopback;
		*len = sizeof(*s);
	}
}
