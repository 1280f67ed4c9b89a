// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsoccr end to end, for every TCP state x family (IPv4, IPv6, IPv4-mapped
 * IPv6) x rp_filter (0 and 1 in the namespace that restores).
 *
 * Layout: two tns pairs (ns a = the side we checkpoint, ns b = the peer);
 * pair 0 has rp_filter = 0 in ns a, pair 1 has rp_filter = 1 (strict). Each
 * case: a connection a <-> b, driven into the state with data queued both
 * ways, an nftables lock in ns a as CRIU sets it (drop the 4-tuple in input
 * and output unless meta mark 0xc114), libsoccr_pause/save/get_queue_bytes,
 * the original closed in repair mode, a new socket restored, the lock
 * removed; then every byte must arrive at both ends in order with EOF exactly
 * where a FIN was, both sockets must reach CLOSE, and a capture in ns b must
 * see no RST and no injected frame.
 *
 * Some cases wait for a retransmission timer after the restore (a FIN or SYN
 * the lock dropped), so the six runs of one state run in parallel, one
 * forked child each; a child reports what failed on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <soccr/lock.h>
#include <soccr/restore.h>
#include <soccr/soccr.h>

#include "tns.h"

#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif

#define SEED_A	0xa11ce
#define SEED_B	0xb0b
#define EXTRA	10000 /* bytes written after the restore, each way */
#define WAIT_MS 5000  /* generous: some cases wait for a 1 s retransmission */
#define NRUNS	6
#define RTO_FALLBACK_US                                                                            \
	3000000 /* TCP_TIMEOUT_FALLBACK: the RTO of a socket without an RTT sample */

enum scenario {
	SC_ESTABLISHED,
	SC_FIN_WAIT1_FULL, /* our FIN queued behind unsent data (peer window closed) */
	SC_FIN_WAIT1_SENT, /* our FIN sent, the lock dropped it: unacked */
	SC_FIN_WAIT2,
	SC_CLOSE_WAIT,
	SC_LAST_ACK_FULL,
	SC_LAST_ACK_SENT,
	SC_CLOSING_FULL,
	SC_CLOSING_SENT,
	SC_CLOSE,
	SC_SYN_SENT,
	SC_SYN_SENT_HALF_OPEN, /* the peer got the SYN, its SYN-ACKs are lost: it is in SYN_RECV */
	SC_BIG,		       /* ESTABLISHED with a 16 MiB send queue and a 4 MiB receive queue */
	SC_UNABSORBED,	       /* CLOSE_WAIT whose injected FIN a firewall rule drops */
};

static const struct {
	const char *name;
	int state;
} scen[] = {
	[SC_ESTABLISHED] = {"ESTABLISHED", TCP_ESTABLISHED},
	[SC_FIN_WAIT1_FULL] = {"FIN_WAIT1 (FIN unsent)", TCP_FIN_WAIT1},
	[SC_FIN_WAIT1_SENT] = {"FIN_WAIT1 (FIN sent)", TCP_FIN_WAIT1},
	[SC_FIN_WAIT2] = {"FIN_WAIT2", TCP_FIN_WAIT2},
	[SC_CLOSE_WAIT] = {"CLOSE_WAIT", TCP_CLOSE_WAIT},
	[SC_LAST_ACK_FULL] = {"LAST_ACK (FIN unsent)", TCP_LAST_ACK},
	[SC_LAST_ACK_SENT] = {"LAST_ACK (FIN sent)", TCP_LAST_ACK},
	[SC_CLOSING_FULL] = {"CLOSING (FIN unsent)", TCP_CLOSING},
	[SC_CLOSING_SENT] = {"CLOSING (FIN sent)", TCP_CLOSING},
	[SC_CLOSE] = {"CLOSE", TCP_CLOSE},
	[SC_SYN_SENT] = {"SYN_SENT", TCP_SYN_SENT},
	[SC_SYN_SENT_HALF_OPEN] = {"SYN_SENT (peer in SYN_RECV)", TCP_SYN_SENT},
	[SC_BIG] = {"ESTABLISHED (big queues)", TCP_ESTABLISHED},
	[SC_UNABSORBED] = {"CLOSE_WAIT (FIN dropped)", TCP_CLOSE_WAIT},
};

struct run {
	int family;
	bool mapped;
	int rp;	    /* index of the pair: its rp_filter value */
	bool local; /* the peer is in ns a too: the connection runs over lo */
	bool quiet; /* nothing in ns a may send a delayed ACK after the restore (alone in ns a) */
};

static const struct run runs[NRUNS] = {
	{AF_INET, false, 0, false, false},  {AF_INET6, false, 0, false, false},
	{AF_INET, true, 0, false, false},   {AF_INET, false, 1, false, false},
	{AF_INET6, false, 1, false, false}, {AF_INET, true, 1, false, false},
};

static struct tns_pair pairs[2];

/* One connection under test; a is the side we checkpoint (ns a), b the peer (ns b). */
struct conn {
	struct tns_pair *p;
	const struct run *r;
	enum scenario sc;
	char tag[80];
	int a, b, lfd;
	uint16_t aport, bport;
	uint64_t a_sent, b_sent; /* pattern offsets: bytes written by each side */
	bool a_fin, b_fin;
	bool locked_in, locked_out;
	struct soccr_lock *bpf_lock; /* the flow is in the eBPF lock too */
	pcap_t *cap;
	struct libsoccr_sk_data data;
};

#define FAIL(c, fmt, ...)                                                                          \
	do {                                                                                       \
		fprintf(stderr, "FAIL [%s] %s:%d: " fmt "\n", (c)->tag, __func__, __LINE__,        \
			##__VA_ARGS__);                                                            \
		return -1;                                                                         \
	} while (0)
#define CHECK(c, cond, fmt, ...)                                                                   \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAIL(c, fmt, ##__VA_ARGS__);                                               \
	} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * How restores inject (CRIU's way by default: libsoccr_restore(), nothing
 * kept), and a debug line the restore must log when the path needs the
 * bypass program (want_log, NULL: none).
 */
static enum soccr_inject_path restore_path = SOCCR_INJECT_AUTO;
static const char *want_log;
static bool saw_log;

static void log_cb(unsigned int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (want_log && strstr(line, want_log))
		saw_log = true;
	if (level > SOCCR_LOG_ERR && !getenv("SOCCR_TEST_DEBUG"))
		return;
	fputs(line, stderr);
}

/* ---- addresses, lock, capture ------------------------------------------------------- */

static const char *wire_ip(const struct conn *c, int side)
{
	if (c->r->local)
		side = 0;
	return c->r->family == AF_INET6 ? c->p->ip6[side] : c->p->ip4[side];
}

static const char *nft_fam(const struct conn *c)
{
	return c->r->family == AF_INET6 ? "ip6" : "ip";
}

/*
 * With bpf_lock_mode, a full lock is our eBPF tc lock (<soccr/lock.h>),
 * attached in ns a on the veth and lo, pinned in bpf_pin_dir; partial locks
 * (one direction, used to hold a FIN back) stay nftables rules.
 */
static bool bpf_lock_mode;
static char bpf_pin_dir[64];

static int bpf_lock_open(struct soccr_lock **lock)
{
	struct soccr_lock_opts o = {.sz = sizeof(o), .pin_dir = bpf_pin_dir};

	return soccr_lock_open(&o, lock);
}

static int bpf_flow(const struct conn *c, struct soccr_flow *f)
{
	int fam = c->r->family;

	memset(f, 0, sizeof(*f));
	f->family = fam;
	f->sport = c->aport;
	f->dport = c->bport;
	if (inet_pton(fam, wire_ip(c, 0), &f->saddr) != 1 ||
	    inet_pton(fam, wire_ip(c, 1), &f->daddr) != 1)
		return -EINVAL;
	return 0;
}

static int bpf_lock_flow(struct conn *c)
{
	struct soccr_flow f;

	if (bpf_flow(c, &f) || bpf_lock_open(&c->bpf_lock))
		return -1;
	if (soccr_lock_add(c->bpf_lock, &f)) {
		soccr_lock_close(c->bpf_lock);
		c->bpf_lock = NULL;
		return -1;
	}
	return 0;
}

/* CRIU's lock: the 4-tuple dropped both ways in ns a unless it carries SOCCR_MARK. */
static int lock_flow(struct conn *c, bool in, bool out)
{
	const char *f = nft_fam(c);
	int rc = 0;

	if (bpf_lock_mode && in && out) {
		if (!c->bpf_lock && bpf_lock_flow(c))
			return -1;
		return 0;
	}

	if (!c->locked_in && !c->locked_out)
		rc |= tns_sh(c->p->ns[0],
			     "nft \"add table inet lk%u; "
			     "add chain inet lk%u i { type filter hook input priority -10; }; "
			     "add chain inet lk%u o { type filter hook output priority -10; }\"",
			     c->aport, c->aport, c->aport);
	if (out && !c->locked_out) {
		rc |= tns_sh(c->p->ns[0],
			     "nft add rule inet lk%u o %s saddr %s %s daddr %s tcp sport %u "
			     "tcp dport %u meta mark != 0xc114 drop",
			     c->aport, f, wire_ip(c, 0), f, wire_ip(c, 1), c->aport, c->bport);
		c->locked_out = true;
	}
	if (in && !c->locked_in) {
		rc |= tns_sh(c->p->ns[0],
			     "nft add rule inet lk%u i %s saddr %s %s daddr %s tcp sport %u "
			     "tcp dport %u meta mark != 0xc114 drop",
			     c->aport, f, wire_ip(c, 1), f, wire_ip(c, 0), c->bport, c->aport);
		c->locked_in = true;
	}
	return rc ? -1 : 0;
}

static void unlock_flow(struct conn *c)
{
	struct soccr_flow f;

	if (c->bpf_lock) {
		if (!bpf_flow(c, &f))
			soccr_lock_del(c->bpf_lock, &f);
		soccr_lock_close(c->bpf_lock);
		c->bpf_lock = NULL;
	}
	if (c->locked_in || c->locked_out)
		tns_sh(c->p->ns[0], "nft delete table inet lk%u", c->aport);
	c->locked_in = c->locked_out = false;
}

static int mac_of(struct tns_pair *p, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "ip netns exec %s cat /sys/class/net/%s/address", p->ns[0],
		 p->ifname[0]);
	f = popen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		pclose(f);
		return -1;
	}
	pclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * Capture in ns b: RSTs of this flow (either way), and frames whose source
 * and destination MAC are both a's own (what an injected frame looks like,
 * should one ever leave ns a instead of being turned around to its ingress).
 */
static int capture_start(struct conn *c)
{
	char err[PCAP_ERRBUF_SIZE], filter[512], mac[32];
	struct bpf_program prog;
	int ret = -1;

	if (mac_of(c->p, mac, sizeof(mac)))
		FAIL(c, "no MAC for %s", c->p->ifname[0]);
	snprintf(filter, sizeof(filter),
		 "(tcp port %u and ((ip and tcp[13] & 4 != 0) or (ip6 and ip6[6] == 6 and "
		 "ip6[53] & 4 != 0)))",
		 c->aport);
	/* Over lo every frame has zero MACs: only RSTs are looked for there. */
	if (!c->r->local)
		snprintf(filter + strlen(filter), sizeof(filter) - strlen(filter),
			 " or (ether src %s and ether dst %s)", mac, mac);
	if (tns_enter(c->p->nsfd[c->r->local ? 0 : 1]))
		FAIL(c, "enter the peer's ns");
	c->cap = pcap_create(c->r->local ? "lo" : c->p->ifname[1], err);
	if (!c->cap)
		goto out;
	if (pcap_set_immediate_mode(c->cap, 1) || pcap_set_snaplen(c->cap, 128) ||
	    pcap_activate(c->cap) < 0 || pcap_compile(c->cap, &prog, filter, 1, 0) < 0)
		goto out;
	if (pcap_setfilter(c->cap, &prog) < 0 || pcap_setnonblock(c->cap, 1, err) < 0) {
		pcap_freecode(&prog);
		goto out;
	}
	pcap_freecode(&prog);
	ret = 0;
out:
	tns_leave();
	if (ret)
		FAIL(c, "capture: %s", c->cap ? pcap_geterr(c->cap) : err);
	return 0;
}

static void count_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)h;
	(void)bytes;
	(*(int *)user)++;
}

static int capture_count(struct conn *c)
{
	int n = 0;

	while (pcap_dispatch(c->cap, -1, count_cb, (u_char *)&n) > 0)
		;
	return n;
}

/* ---- data ------------------------------------------------------------------------- */

static int push(struct conn *c, int fd, uint64_t *off, uint32_t seed, size_t len)
{
	char buf[16384];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		tns_pattern(buf, n, *off, seed);
		if (tns_write_all(fd, buf, n, WAIT_MS))
			FAIL(c, "write %zu bytes: %s", n, strerror(errno));
		*off += n;
		len -= n;
	}
	return 0;
}

/* Write until the socket takes no more (peer not reading, its window closed). */
static int fill(struct conn *c, int fd, uint64_t *off, uint32_t seed)
{
	char buf[16384];
	int idle = 0;

	while (idle < 3) {
		ssize_t n;

		tns_pattern(buf, sizeof(buf), *off, seed);
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			*off += (uint64_t)n;
			idle = 0;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			FAIL(c, "fill: %s", strerror(errno));
		idle++;
		usleep(20000);
	}
	return 0;
}

static int outq(int fd, unsigned long req)
{
	int v = -1;

	ioctl(fd, req, &v);
	return v;
}

/*
 * Wait until nothing fd sent is unacknowledged (what is left is unsent), or
 * until what is in flight has not moved for STALL_MS while the peer holds
 * unread data: the peer's receive queue was pruned under memory pressure
 * (small buffers, small segments) and dropped bytes it had let in; with its
 * window closed and nobody reading, they stay unacked for good. That is a
 * state a checkpoint must handle too (sent-unacked data in the send queue),
 * so it is taken as quiet rather than waited out.
 */
#define STALL_MS 1000
static int quiesce(struct conn *c, int fd)
{
	uint64_t end = now_ms() + WAIT_MS, since = now_ms();
	int peer = fd == c->a ? c->b : c->a;
	int flight = -1, pinq = -1;

	while (outq(fd, SIOCOUTQ) != outq(fd, SIOCOUTQNSD)) {
		int f = outq(fd, SIOCOUTQ) - outq(fd, SIOCOUTQNSD), q = outq(peer, SIOCINQ);

		if (f != flight || q != pinq) {
			flight = f;
			pinq = q;
			since = now_ms();
		} else if (q > 0 && now_ms() - since >= STALL_MS) {
			fprintf(stderr, "# [%s] fd %d: %d bytes stay in flight behind a closed window "
					"(peer holds %d unread): checkpointed so\n",
				c->tag, fd, f, q);
			return 0;
		}
		if (now_ms() > end)
			FAIL(c, "fd %d: sent data stays unacked (outq %d, unsent %d)", fd,
			     outq(fd, SIOCOUTQ), outq(fd, SIOCOUTQNSD));
		usleep(2000);
	}
	return 0;
}

static int wait_state(struct conn *c, int fd, int state)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (tns_tcp_state(fd) != state) {
		if (now_ms() > end)
			FAIL(c, "fd %d: state %d, waited for %d", fd, tns_tcp_state(fd), state);
		usleep(1000);
	}
	return 0;
}

/* One direction of the final exchange. */
struct dir {
	int wfd, rfd;
	uint64_t *woff; /* writer's pattern offset */
	uint64_t wend;	/* write until this offset, then shut down (unless done) */
	bool *wfin;
	uint64_t roff; /* reader's offset */
	bool eof;
	uint32_t seed;
	const char *name;
};

static int step_dir(struct conn *c, struct dir *d, short rev, short wev)
{
	char buf[65536], want[65536];
	ssize_t n;

	if ((wev & POLLOUT) && !*d->wfin) {
		size_t len = d->wend - *d->woff > sizeof(buf) ? sizeof(buf) : d->wend - *d->woff;

		if (len) {
			tns_pattern(buf, len, *d->woff, d->seed);
			n = send(d->wfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				FAIL(c, "%s: write: %s", d->name, strerror(errno));
			if (n > 0)
				*d->woff += (uint64_t)n;
		}
		if (*d->woff == d->wend) {
			if (shutdown(d->wfd, SHUT_WR))
				FAIL(c, "%s: shutdown: %s", d->name, strerror(errno));
			*d->wfin = true;
		}
	}
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(d->rfd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			FAIL(c, "%s: read at %llu: %s", d->name, (unsigned long long)d->roff,
			     strerror(errno));
		if (n == 0) {
			CHECK(c, *d->wfin && d->roff == *d->woff,
			      "%s: EOF at %llu, %llu bytes written, FIN %s", d->name,
			      (unsigned long long)d->roff, (unsigned long long)*d->woff,
			      *d->wfin ? "sent" : "not sent");
			d->eof = true;
		}
		if (n > 0) {
			tns_pattern(want, (size_t)n, d->roff, d->seed);
			CHECK(c, d->roff + (uint64_t)n <= *d->woff,
			      "%s: %zd bytes at %llu, beyond the %llu written", d->name, n,
			      (unsigned long long)d->roff, (unsigned long long)*d->woff);
			CHECK(c, !memcmp(buf, want, (size_t)n), "%s: data differs at %llu..+%zd",
			      d->name, (unsigned long long)d->roff, n);
			d->roff += (uint64_t)n;
		}
	}
	return 0;
}

/*
 * Both ways at once: whatever was queued arrives, EXTRA more bytes are
 * written where the side had not shut down, then FIN; each reader must see
 * exactly the writer's stream, then EOF.
 */
static int exchange(struct conn *c)
{
	struct dir d[2] = {
		{c->a, c->b, &c->a_sent, c->a_sent + (c->a_fin ? 0 : EXTRA), &c->a_fin, 0, false,
		 SEED_A, "a->b"},
		{c->b, c->a, &c->b_sent, c->b_sent + (c->b_fin ? 0 : EXTRA), &c->b_fin, 0, false,
		 SEED_B, "b->a"},
	};
	uint64_t end = now_ms() + WAIT_MS, last = 0;

	while (!d[0].eof || !d[1].eof) {
		struct pollfd pfd[2] = {{.fd = c->a, .events = POLLIN},
					{.fd = c->b, .events = POLLIN}};
		uint64_t progress = d[0].roff + d[1].roff;

		if (!c->a_fin)
			pfd[0].events |= POLLOUT;
		if (!c->b_fin)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, 100) < 0)
			FAIL(c, "poll: %s", strerror(errno));
		if (step_dir(c, &d[0], pfd[1].revents, pfd[0].revents) ||
		    step_dir(c, &d[1], pfd[0].revents, pfd[1].revents))
			return -1;
		if (progress != last) {
			last = progress;
			end = now_ms() + WAIT_MS;
		}
		if (now_ms() > end)
			FAIL(c, "stalled: a->b %llu/%llu%s, b->a %llu/%llu%s; states a %d b %d",
			     (unsigned long long)d[0].roff, (unsigned long long)c->a_sent,
			     d[0].eof ? " EOF" : "", (unsigned long long)d[1].roff,
			     (unsigned long long)c->b_sent, d[1].eof ? " EOF" : "",
			     tns_tcp_state(c->a), tns_tcp_state(c->b));
	}
	if (wait_state(c, c->a, TCP_CLOSE) || wait_state(c, c->b, TCP_CLOSE))
		return -1;
	return 0;
}

/* ---- connections in each state ------------------------------------------------------- */

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		 : getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Both ends in ns a, to a's own address: the route to the peer is local (lo). */
static int connect_local(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd;

	if (tns_enter(c->p->nsfd[0]))
		FAIL(c, "enter a");
	tns_addr(c->p, 0, c->r->family, 0, &ss, &len);
	lfd = socket(c->r->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1))
		FAIL(c, "listener: %s", strerror(errno));
	tns_addr(c->p, 0, c->r->family, port_of(lfd, false), &ss, &len);
	c->a = socket(c->r->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->a < 0 || connect(c->a, (struct sockaddr *)&ss, len))
		FAIL(c, "connect: %s", strerror(errno));
	c->b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	tns_leave();
	CHECK(c, c->b >= 0, "accept: %s", strerror(errno));
	c->aport = port_of(c->a, false);
	c->bport = port_of(c->a, true);
	return 0;
}

static int connect_pair(struct conn *c)
{
	int ret;

	if (c->r->local)
		return connect_local(c);
	ret = tns_tcp_connect(c->p, c->r->family, c->r->mapped, &c->a, &c->b);

	if (ret)
		FAIL(c, "connect: %s", strerror(-ret));
	c->aport = port_of(c->a, false);
	c->bport = port_of(c->a, true);
	return 0;
}

/* SYN_SENT: the lock is in place before connect(), so the SYN never gets through. */
static int prepare_syn_sent(struct conn *c)
{
	struct sockaddr_storage la, pa, any = {0};
	socklen_t llen, plen;
	int one = 1, zero = 0, fam = c->r->mapped ? AF_INET6 : c->r->family;

	if (tns_enter(c->p->nsfd[1]))
		FAIL(c, "enter b");
	c->lfd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(c->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	tns_addr(c->p, 1, c->r->family, 0, &pa, &plen);
	if (c->r->mapped) {
		setsockopt(c->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		((struct sockaddr_in6 *)&any)->sin6_family = AF_INET6;
		if (bind(c->lfd, (struct sockaddr *)&any, sizeof(struct sockaddr_in6)))
			FAIL(c, "bind listener: %s", strerror(errno));
	} else if (bind(c->lfd, (struct sockaddr *)&pa, plen)) {
		FAIL(c, "bind listener: %s", strerror(errno));
	}
	if (listen(c->lfd, 4))
		FAIL(c, "listen: %s", strerror(errno));
	c->bport = port_of(c->lfd, false);
	tns_leave();

	tns_addr(c->p, 0, c->r->family, 0, &la, &llen);
	tns_addr(c->p, 1, c->r->family, c->bport, &pa, &plen);
	if (c->sc == SC_SYN_SENT_HALF_OPEN &&
	    tns_sh(c->p->ns[1],
		   "nft \"add table inet hs%u; add chain inet hs%u o { type filter hook output "
		   "priority 0; }; add rule inet hs%u o tcp sport %u drop\"",
		   c->bport, c->bport, c->bport, c->bport))
		FAIL(c, "holding the peer's SYN-ACKs");
	if (c->r->mapped) {
		/* ::ffff:a.b.c.d forms of both. */
		struct sockaddr_storage *v[2] = {&la, &pa};

		for (int i = 0; i < 2; i++) {
			struct sockaddr_in sin = *(struct sockaddr_in *)v[i];
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)v[i];

			memset(v[i], 0, sizeof(*v[i]));
			s6->sin6_family = AF_INET6;
			s6->sin6_port = sin.sin_port;
			s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
		}
		llen = plen = sizeof(struct sockaddr_in6);
	}
	if (tns_enter(c->p->nsfd[0]))
		FAIL(c, "enter a");
	c->a = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->a < 0 || bind(c->a, (struct sockaddr *)&la, llen))
		FAIL(c, "bind client: %s", strerror(errno));
	c->aport = port_of(c->a, false);
	if (c->sc != SC_SYN_SENT_HALF_OPEN && lock_flow(c, true, true))
		FAIL(c, "lock");
	if (!connect(c->a, (struct sockaddr *)&pa, plen) || errno != EINPROGRESS)
		FAIL(c, "connect: expected EINPROGRESS: %s", strerror(errno));
	tns_leave();
	if (c->sc == SC_SYN_SENT_HALF_OPEN) {
		/* The SYN got through: the peer answers (its SYN-ACK is dropped) and waits. */
		uint64_t end = now_ms() + WAIT_MS;

		while (tns_sh(c->p->ns[1], "ss -Htn state syn-recv sport = :%u | grep -q .",
			      c->bport)) {
			if (now_ms() > end)
				FAIL(c, "the peer never got to SYN_RECV");
			usleep(5000);
		}
	}
	return wait_state(c, c->a, TCP_SYN_SENT);
}

/* Small buffers, so that "the peer does not read" closes its window quickly. */
static void small_buffers(struct conn *c)
{
	int snd = 64 * 1024, rcv = 32 * 1024;

	setsockopt(c->a, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	setsockopt(c->b, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

static int prepare(struct conn *c)
{
	switch (c->sc) {
	case SC_SYN_SENT:
	case SC_SYN_SENT_HALF_OPEN:
		return prepare_syn_sent(c);
	default:
		break;
	}
	if (connect_pair(c))
		return -1;
	switch (c->sc) {
	case SC_ESTABLISHED:
		/* Some of a's data waits unsent behind b's closed window; b's waits in a. */
		small_buffers(c);
		if (push(c, c->b, &c->b_sent, SEED_B, 30000) || fill(c, c->a, &c->a_sent, SEED_A) ||
		    quiesce(c, c->a) || quiesce(c, c->b))
			return -1;
		break;
	case SC_FIN_WAIT1_FULL:
		small_buffers(c);
		if (push(c, c->b, &c->b_sent, SEED_B, 30000) || fill(c, c->a, &c->a_sent, SEED_A) ||
		    quiesce(c, c->a) || quiesce(c, c->b))
			return -1;
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		break;
	case SC_FIN_WAIT1_SENT:
		/* Data and FIN sent while locked: both sent, never acked. */
		if (push(c, c->a, &c->a_sent, SEED_A, 20000) ||
		    push(c, c->b, &c->b_sent, SEED_B, 30000) || quiesce(c, c->a) ||
		    quiesce(c, c->b) || lock_flow(c, true, true) ||
		    push(c, c->a, &c->a_sent, SEED_A, 5000))
			return -1;
		usleep(10000);
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		break;
	case SC_FIN_WAIT2:
		if (push(c, c->a, &c->a_sent, SEED_A, 20000) ||
		    push(c, c->b, &c->b_sent, SEED_B, 30000) || quiesce(c, c->b))
			return -1;
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		if (wait_state(c, c->a, TCP_FIN_WAIT2))
			return -1;
		break;
	case SC_BIG: {
		/* a: 12 MiB asked = 24 MiB of send buffer, 8 MiB asked = 16 MiB of receive buffer.
		 */
		int snd = 12 << 20, rcv = 8 << 20, small = 64 * 1024;

		if (setsockopt(c->a, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) ||
		    setsockopt(c->a, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) ||
		    setsockopt(c->b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)))
			FAIL(c, "buffers: %s", strerror(errno));
		if (push(c, c->b, &c->b_sent, SEED_B, 4 << 20) ||
		    fill(c, c->a, &c->a_sent, SEED_A) || quiesce(c, c->a) || quiesce(c, c->b))
			return -1;
		break;
	}
	case SC_UNABSORBED:
	case SC_CLOSE_WAIT:
		small_buffers(c);
		if (push(c, c->b, &c->b_sent, SEED_B, 30000))
			return -1;
		shutdown(c->b, SHUT_WR);
		c->b_fin = true;
		if (fill(c, c->a, &c->a_sent, SEED_A) || quiesce(c, c->a) ||
		    wait_state(c, c->a, TCP_CLOSE_WAIT))
			return -1;
		break;
	case SC_LAST_ACK_FULL:
	case SC_LAST_ACK_SENT:
		if (c->sc == SC_LAST_ACK_FULL)
			small_buffers(c);
		if (push(c, c->b, &c->b_sent, SEED_B, 30000))
			return -1;
		shutdown(c->b, SHUT_WR);
		c->b_fin = true;
		if (wait_state(c, c->a, TCP_CLOSE_WAIT))
			return -1;
		if (c->sc == SC_LAST_ACK_FULL) {
			if (fill(c, c->a, &c->a_sent, SEED_A) || quiesce(c, c->a))
				return -1;
		} else if (push(c, c->a, &c->a_sent, SEED_A, 20000) || quiesce(c, c->a) ||
			   lock_flow(c, true, true)) {
			return -1;
		}
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		break;
	case SC_CLOSING_FULL:
		small_buffers(c);
		if (fill(c, c->a, &c->a_sent, SEED_A) || quiesce(c, c->a))
			return -1;
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		if (push(c, c->b, &c->b_sent, SEED_B, 30000))
			return -1;
		shutdown(c->b, SHUT_WR);
		c->b_fin = true;
		if (wait_state(c, c->a, TCP_CLOSING))
			return -1;
		break;
	case SC_CLOSING_SENT:
		/* a's FIN is dropped on its way out; b's FIN still comes in. */
		if (push(c, c->a, &c->a_sent, SEED_A, 20000) ||
		    push(c, c->b, &c->b_sent, SEED_B, 30000) || quiesce(c, c->a) ||
		    quiesce(c, c->b) || lock_flow(c, false, true))
			return -1;
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		shutdown(c->b, SHUT_WR);
		c->b_fin = true;
		if (wait_state(c, c->a, TCP_CLOSING))
			return -1;
		break;
	case SC_CLOSE:
		if (push(c, c->b, &c->b_sent, SEED_B, 30000))
			return -1;
		shutdown(c->b, SHUT_WR);
		c->b_fin = true;
		if (wait_state(c, c->a, TCP_CLOSE_WAIT) || push(c, c->a, &c->a_sent, SEED_A, 20000))
			return -1;
		shutdown(c->a, SHUT_WR);
		c->a_fin = true;
		if (wait_state(c, c->a, TCP_CLOSE))
			return -1;
		break;
	default:
		FAIL(c, "unknown scenario");
	}
	return 0;
}

/* ---- checkpoint and restore ------------------------------------------------------- */

/* A TcpExt counter of a network namespace (nstat, absolute, history untouched); -1 on error. */
static long long ns_counter(const char *ns, const char *name)
{
	char cmd[160], line[256], key[64];
	long long v = -1, n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s nstat -asz %s 2>/dev/null", ns, name);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &n) == 2 && !strcmp(key, name))
			v = n;
	pclose(f);
	return v;
}

static int checkpoint_restore(struct conn *c)
{
	struct libsoccr_sk_data *d = &c->data;
	union libsoccr_addr *la, *pa;
	struct libsoccr_sk *sk;
	char *rq, *sq;
	int ret, fd;
	uint32_t seq;
	long long delacks = 0;

	if (tns_enter(c->p->nsfd[0]))
		FAIL(c, "enter a");
	sk = libsoccr_pause(c->a);
	CHECK(c, sk, "pause: %s", strerror(errno));
	ret = libsoccr_save(sk, d, sizeof(*d));
	CHECK(c, ret == (int)sizeof(*d), "save returned %d", ret);
	CHECK(c, (int)d->state == scen[c->sc].state, "saved state %u, expected %d", d->state,
	      scen[c->sc].state);
	if (c->sc == SC_BIG)
		CHECK(c, d->outq_len >= 16u << 20 && d->inq_len >= 4u << 20,
		      "queues too small for the test: send %u, receive %u", d->outq_len,
		      d->inq_len);
	rq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	sq = libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	CHECK(c, !!rq == !!d->inq_len && !!sq == !!d->outq_len, "queues: inq %u %p outq %u %p",
	      d->inq_len, (void *)rq, d->outq_len, (void *)sq);
	la = libsoccr_get_addr(sk, 1, SOCCR_MEM_EXCL);
	pa = libsoccr_get_addr(sk, 0, SOCCR_MEM_EXCL);
	CHECK(c, la && pa, "no addresses");
	CHECK(c, ntohs(la->v4.sin_port) == c->aport && ntohs(pa->v4.sin_port) == c->bport,
	      "addresses: ports %u %u", ntohs(la->v4.sin_port), ntohs(pa->v4.sin_port));
	/* Closing in repair mode sends nothing (no FIN, no RST). */
	close(c->a);
	c->a = -1;
	libsoccr_release(sk);

	fd = socket(la->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c, fd >= 0, "socket: %s", strerror(errno));
	c->a = fd;
	sk = libsoccr_pause(fd);
	CHECK(c, sk, "pause new: %s", strerror(errno));
	if (c->r->quiet) {
		delacks = ns_counter(c->p->ns[0], "TcpExtDelayedACKs");
		CHECK(c, delacks >= 0, "nstat TcpExtDelayedACKs");
	}
	libsoccr_set_addr(sk, 1, la, SOCCR_MEM_EXCL);
	libsoccr_set_addr(sk, 0, pa, SOCCR_MEM_EXCL);
	if (rq)
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, rq, SOCCR_MEM_EXCL);
	if (sq)
		libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, sq, SOCCR_MEM_EXCL);
	if (restore_path == SOCCR_INJECT_AUTO) {
		ret = libsoccr_restore(sk, d, sizeof(*d));
	} else {
		struct soccr_restore_opts ro = {.sz = sizeof(ro), .path = restore_path};

		saw_log = false;
		ret = soccr_restore_ext(sk, d, sizeof(*d), &ro);
		CHECK(c, ret || !want_log || c->r->family != AF_INET || (c->r->rp != 1 && !c->r->local) ||
			      saw_log,
		      "the restore never logged '%s'", want_log);
	}
	if (c->sc == SC_UNABSORBED) {
		/* The failed restore leaves the socket in repair mode: closing it sends nothing. */
		libsoccr_release(sk);
		tns_leave();
		CHECK(c, ret == -ENOLINK, "restore returned %d, expected -ENOLINK", ret);
		return 0;
	}
	if (ret) {
		libsoccr_release(sk);
		FAIL(c, "restore returned %d", ret);
	}
	CHECK(c, tns_tcp_state(fd) == (int)d->state, "restored state %d, saved %u",
	      tns_tcp_state(fd), d->state);
	if (d->state != TCP_SYN_SENT) {
		CHECK(c, !tns_queue_seq(fd, TCP_RECV_QUEUE, &seq) && seq == d->inq_seq,
		      "rcv_nxt %u, saved %u", seq, d->inq_seq);
		CHECK(c, !tns_queue_seq(fd, TCP_SEND_QUEUE, &seq) && seq == d->outq_seq,
		      "write_seq %u, saved %u", seq, d->outq_seq);
	}
	if (d->state == TCP_FIN_WAIT1 || d->state == TCP_LAST_ACK || d->state == TCP_CLOSING ||
	    (d->state == TCP_CLOSE_WAIT && d->outq_len)) {
		/*
		 * Something to (re)send once unlocked: the RTO must come from an
		 * RTT sample, as the original's did, not be the 3 s fallback of a
		 * socket that never timed a segment (the restored one would wait
		 * that long after the unlock). ESTABLISHED keeps the fallback: its
		 * restore injects nothing.
		 */
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);

		CHECK(c, !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), "TCP_INFO");
		CHECK(c, ti.tcpi_rtt && ti.tcpi_rto < RTO_FALLBACK_US,
		      "RTO %u us, RTT %u us: no RTT sample, the retransmission timer is the 3 s "
		      "fallback",
		      ti.tcpi_rto, ti.tcpi_rtt);
	}
	if (d->state != TCP_SYN_SENT && d->state != TCP_CLOSE) {
		struct tcp_repair_window w;
		socklen_t wl = sizeof(w);

		CHECK(c, !getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &wl), "window");
		CHECK(c,
		      w.snd_wnd == d->snd_wnd && w.rcv_wnd == d->rcv_wnd &&
			      w.max_window == d->max_window && w.rcv_wup == d->rcv_wup,
		      "window snd %u/%u rcv %u/%u max %u/%u wup %u/%u", w.snd_wnd, d->snd_wnd,
		      w.rcv_wnd, d->rcv_wnd, w.max_window, d->max_window, w.rcv_wup, d->rcv_wup);
	}
	libsoccr_resume(sk);
	tns_leave();
	if (c->r->quiet) {
		/*
		 * Still locked. A delayed ACK the restore left scheduled would
		 * fire within a tick or two, and without the lock it would have
		 * reached the peer after the unlock (a stray ACK, answered with
		 * an RST by a peer that has closed since).
		 */
		long long now;

		usleep(60000);
		now = ns_counter(c->p->ns[0], "TcpExtDelayedACKs");
		CHECK(c, now == delacks,
		      "the restore left %lld ACK(s) to the delayed-ACK timer (TcpExtDelayedACKs): "
		      "without the lock in place it can reach the peer after the unlock",
		      now - delacks);
	}
	return 0;
}

static int run_case(enum scenario sc, const struct run *r)
{
	struct conn conn = {.p = &pairs[r->rp], .r = r, .sc = sc, .a = -1, .b = -1, .lfd = -1};
	struct conn *c = &conn;
	int n;

	snprintf(c->tag, sizeof(c->tag), "%s %s rp_filter=%d%s", scen[sc].name,
		 r->mapped		? "v4-mapped"
		 : r->family == AF_INET ? "v4"
					: "v6",
		 r->rp, r->local ? " same host" : "");
	libsoccr_set_log(SOCCR_LOG_DBG, log_cb);
	if (prepare(c))
		return 1;
	if (capture_start(c))
		return 1;
	if (lock_flow(c, true, true))
		return 1;
	if (sc == SC_UNABSORBED &&
	    tns_sh(c->p->ns[0],
		   "nft add rule inet lk%u i %s saddr %s tcp sport %u meta mark 0xc114 drop",
		   c->aport, nft_fam(c), wire_ip(c, 1), c->bport))
		FAIL(c, "extra rule");
	if (checkpoint_restore(c))
		return 1;
	unlock_flow(c);
	if (sc == SC_UNABSORBED) {
		/* The peer sees nothing of it: no RST, no FIN, its side stays as it was. */
		close(c->a);
		usleep(50000);
		CHECK(c, capture_count(c) == 0, "RST or injected frame seen by the peer");
		CHECK(c, tns_tcp_state(c->b) == TCP_FIN_WAIT2, "peer state %d",
		      tns_tcp_state(c->b));
		pcap_close(c->cap);
		close(c->b);
		return 0;
	}
	if (sc == SC_SYN_SENT_HALF_OPEN &&
	    tns_sh(c->p->ns[1], "nft delete table inet hs%u", c->bport))
		FAIL(c, "releasing the peer's SYN-ACKs");
	if (sc == SC_SYN_SENT || sc == SC_SYN_SENT_HALF_OPEN) {
		struct pollfd pfd = {.fd = c->lfd, .events = POLLIN};

		CHECK(c, poll(&pfd, 1, WAIT_MS) == 1, "no connection after the SYN_SENT restore");
		c->b = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		CHECK(c, c->b >= 0, "accept: %s", strerror(errno));
		CHECK(c, !wait_state(c, c->a, TCP_ESTABLISHED), "not established");
	}
	if (exchange(c))
		return 1;
	n = capture_count(c);
	CHECK(c, n == 0, "%d RST or injected frames seen in ns b", n);
	pcap_close(c->cap);
	close(c->a);
	close(c->b);
	if (c->lfd >= 0)
		close(c->lfd);
	return 0;
}

/* With LeakSanitizer (make SAN=1), a child checks itself: _exit() skips the exit-time check. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int child_exit_code(int rc)
{
	if (!rc && __lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
		rc = 1;
	return rc;
}

/* Runs of one scenario in parallel, a child each; every one must pass. */
static void run_some(enum scenario sc, const struct run *rs, int n)
{
	pid_t pid[NRUNS];
	int failed = 0;

	fflush(NULL);
	for (int i = 0; i < n; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (!pid[i])
			_exit(child_exit_code(run_case(sc, &rs[i])));
	}
	for (int i = 0; i < n; i++) {
		int st = 0;

		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "run %d of %s failed (status %#x)\n", i, scen[sc].name, st);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void run_matrix(enum scenario sc)
{
	run_some(sc, runs, NRUNS);
}

#define MATRIX_TEST(fn, sc)                                                                        \
	static void fn(void **state)                                                               \
	{                                                                                          \
		(void)state;                                                                       \
		run_matrix(sc);                                                                    \
	}

MATRIX_TEST(test_established_restores_both_queues, SC_ESTABLISHED)
MATRIX_TEST(test_fin_wait1_restores_fin_queued_behind_unsent_data, SC_FIN_WAIT1_FULL)
MATRIX_TEST(test_fin_wait1_restores_sent_unacked_data_and_fin, SC_FIN_WAIT1_SENT)
MATRIX_TEST(test_fin_wait2_restores_acked_fin, SC_FIN_WAIT2)
MATRIX_TEST(test_close_wait_restores_peer_fin, SC_CLOSE_WAIT)
MATRIX_TEST(test_last_ack_restores_both_fins_ours_unsent, SC_LAST_ACK_FULL)
MATRIX_TEST(test_last_ack_restores_both_fins_ours_sent, SC_LAST_ACK_SENT)
MATRIX_TEST(test_closing_restores_both_fins_ours_unsent, SC_CLOSING_FULL)
MATRIX_TEST(test_closing_restores_both_fins_ours_sent, SC_CLOSING_SENT)
MATRIX_TEST(test_close_restores_finished_connection, SC_CLOSE)
MATRIX_TEST(test_syn_sent_reissues_connect, SC_SYN_SENT)
/*
 * The peer's retransmitted SYN-ACKs echo the first SYN's TSval: the restored
 * socket must take them (no PAWS reset): the capture in ns b sees no RST.
 */
MATRIX_TEST(test_syn_sent_with_half_open_peer_completes_without_reset, SC_SYN_SENT_HALF_OPEN)

/* The lock attached in ns a of both pairs (veth and lo), or removed again. */
static int bpf_lock_setup(bool attach)
{
	struct soccr_lock *lock;
	int rc = 0;

	if (bpf_lock_open(&lock))
		return -1;
	for (int i = 0; i < 2 && !rc; i++) {
		if (tns_enter(pairs[i].nsfd[0]))
			rc = -1;
		else if (attach)
			rc = soccr_lock_attach(lock, pairs[i].ifname[0]) ||
			     soccr_lock_attach(lock, "lo");
		else
			rc = soccr_lock_detach(lock);
		tns_leave();
	}
	soccr_lock_close(lock);
	return rc ? -1 : 0;
}

/*
 * The same states with our eBPF tc lock instead of nftables (what `soccr
 * save`/`restore` and the demo use): marked injected segments pass it, the
 * rest of the flow is held both ways.
 */
static void test_every_state_restores_under_the_ebpf_lock(void **state)
{
	static const enum scenario scs[] = {
		SC_ESTABLISHED, SC_FIN_WAIT1_SENT, SC_FIN_WAIT2,   SC_CLOSE_WAIT,
		SC_LAST_ACK_SENT, SC_CLOSING_SENT, SC_CLOSE,	   SC_SYN_SENT,
	};

	(void)state;
	assert_int_equal(bpf_lock_setup(true), 0);
	bpf_lock_mode = true;
	for (size_t i = 0; i < sizeof(scs) / sizeof(scs[0]); i++)
		run_some(scs[i], runs, NRUNS);
	bpf_lock_mode = false;
	assert_int_equal(bpf_lock_setup(false), 0);
}

/*
 * Kernels before 6.6 have no tcx: the bypass is then a classic clsact egress
 * filter (SOCCR_NO_TCX=1 takes that path here). The FIN states restore the
 * same way, through AF_PACKET only (SOCCR_INJECT_PACKET), to a remote peer
 * and over lo; the filter is the one used where IPv4 needs the program, and
 * each restore takes its filter away again when it returns.
 */
static void test_fin_states_restore_with_the_classic_tc_bypass(void **state)
{
	static const struct run local[] = {
		{AF_INET, false, 1, true, false},
		{AF_INET6, false, 0, true, false},
	};

	(void)state;
	setenv("SOCCR_NO_TCX", "1", 1);
	restore_path = SOCCR_INJECT_PACKET;
	want_log = "attached at clsact egress";
	run_some(SC_CLOSE, runs, NRUNS);
	run_some(SC_LAST_ACK_SENT, runs, NRUNS);
	run_some(SC_CLOSE, local, 2);
	restore_path = SOCCR_INJECT_AUTO;
	want_log = NULL;
	unsetenv("SOCCR_NO_TCX");
	for (int i = 0; i < 2; i++) {
		/* Nothing stays behind a restore without a session. */
		assert_int_equal(tns_sh(pairs[i].ns[0],
					"tc filter show dev %s egress | grep -q \"handle 0xc115\" || "
					"tc filter show dev lo egress | grep -q \"handle 0xc115\"",
					pairs[i].ifname[0]),
				 1);
		tns_sh(pairs[i].ns[0], "{ tc filter del dev %s egress handle 0xc115 bpf; "
				       "tc filter del dev lo egress handle 0xc115 bpf; } 2>/dev/null; true",
		       pairs[i].ifname[0]);
	}
}

/* Peer on the same host: the segments go through lo, strict rp_filter or not. */
static void test_fin_states_restore_with_peer_on_same_host(void **state)
{
	static const struct run local[] = {
		{AF_INET, false, 1, true, false},
		{AF_INET6, false, 1, true, false},
		{AF_INET, false, 0, true, false},
		{AF_INET6, false, 0, true, false},
	};

	(void)state;
	run_some(SC_CLOSE, local, 4);
	run_some(SC_CLOSING_SENT, local, 2);
}

/*
 * The peer's FIN, injected, makes TCP schedule a delayed ACK. Nothing of it
 * may be left for the timer once the restore returns: one run at a time, so
 * that the namespace's counter of delayed ACKs is this socket's.
 */
static void test_injected_fin_leaves_no_delayed_ack_pending(void **state)
{
	static const struct run r[] = {{AF_INET, false, 0, false, true},
				       {AF_INET6, false, 1, false, true}};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		run_some(SC_CLOSE_WAIT, &r[i], 1);
		run_some(SC_LAST_ACK_SENT, &r[i], 1);
	}
}

static void test_big_queues_restore_intact(void **state)
{
	static const struct run big[] = {{AF_INET, false, 0, false, false},
					 {AF_INET6, false, 1, false, false}};

	(void)state;
	run_some(SC_BIG, big, 2);
}

static void test_unabsorbed_fin_fails_restore_with_enolink(void **state)
{
	static const struct run r[] = {{AF_INET, false, 1, false, false},
				       {AF_INET6, false, 0, false, false}};

	(void)state;
	run_some(SC_UNABSORBED, r, 2);
}

/* ---- refused input, logging ---------------------------------------------------------- */

static char log_buf[4096];

static void log_capture(unsigned int level, const char *fmt, ...)
{
	size_t used = strlen(log_buf);
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(log_buf + used, sizeof(log_buf) - used, fmt, ap);
	va_end(ap);
}

static void test_non_socket_fd_is_refused_with_a_log_line(void **state)
{
	int pfd[2];
	char want[128];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	log_buf[0] = '\0';
	libsoccr_set_log(SOCCR_LOG_ERR, log_capture);
	assert_null(libsoccr_pause(pfd[0]));
	assert_int_equal(errno, ENOTSOCK);
	/* As CRIU's own library writes its errors: "Error (file:line): " first. */
	snprintf(want, sizeof(want), "): sk %d: TCP_REPAIR 1: %s\n", pfd[0], strerror(ENOTSOCK));
	assert_memory_equal(log_buf, "Error (src/core/handle.c:", 25);
	assert_non_null(strstr(log_buf, want));
	assert_string_equal(strstr(log_buf, want), want);
	assert_null(libsoccr_pause(-1));
	libsoccr_set_log(0, NULL);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_listen_socket_and_bad_arguments_are_refused(void **state)
{
	struct libsoccr_sk_data d = {0};
	union libsoccr_addr a = {.v4 = {.sin_family = AF_INET,
					.sin_port = htons(1),
					.sin_addr = {htonl(INADDR_LOOPBACK)}}};
	union libsoccr_addr b = a;
	struct libsoccr_sk *sk;
	int lfd, fd;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	b.v4.sin_port = 0;
	assert_int_equal(bind(lfd, &b.sa, sizeof(b.v4)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	/* The kernel refuses TCP_REPAIR on a listener. */
	assert_null(libsoccr_pause(lfd));
	close(lfd);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	sk = libsoccr_pause(fd);
	assert_non_null(sk);
	/* data_size smaller than CRIU's 17 fields, or no data. */
	assert_int_equal(libsoccr_save(sk, &d, 16), -1);
	assert_int_equal(libsoccr_save(sk, NULL, sizeof(d)), -1);
	assert_int_equal(libsoccr_restore(sk, &d, 16), -1);
	/* No addresses set. */
	d.state = TCP_ESTABLISHED;
	assert_int_equal(libsoccr_restore(sk, &d, sizeof(d)), -1);
	assert_int_equal(libsoccr_set_addr(sk, 1, &a, 0), 0);
	assert_int_equal(libsoccr_set_addr(sk, 0, &b, 0), 0);
	/* States we do not restore. */
	d.state = TCP_LISTEN;
	assert_int_equal(libsoccr_restore(sk, &d, sizeof(d)), -1);
	d.state = TCP_TIME_WAIT;
	assert_int_equal(libsoccr_restore(sk, &d, sizeof(d)), -1);
	d.state = 99;
	assert_int_equal(libsoccr_restore(sk, &d, sizeof(d)), -1);
	/* Queues other than send/receive, flags other than SOCCR_MEM_EXCL. */
	assert_int_equal(libsoccr_set_queue_bytes(sk, TCP_NO_QUEUE, NULL, 0), -1);
	assert_int_equal(libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, NULL, 0x100), -1);
	assert_null(libsoccr_get_queue_bytes(sk, TCP_NO_QUEUE, 0));
	assert_null(libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, 0x100));
	/* Addresses given without SOCCR_MEM_EXCL stay the caller's: a MEM_EXCL get copies. */
	{
		union libsoccr_addr *got = libsoccr_get_addr(sk, 1, 0);

		assert_ptr_equal(got, &a);
		got = libsoccr_get_addr(sk, 1, SOCCR_MEM_EXCL);
		assert_non_null(got);
		assert_ptr_not_equal(got, &a);
		assert_memory_equal(got, &a, sizeof(a));
		free(got);
		assert_null(libsoccr_get_addr(sk, 1, 0));
	}
	libsoccr_release(sk);
	close(fd);
}

/* A socket closed before checkpoint (CLOSE, never connected) has no peer: save still works. */
static void test_save_of_unconnected_socket_reports_no_data(void **state)
{
	struct libsoccr_sk_data d;
	struct libsoccr_sk *sk;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	sk = libsoccr_pause(fd);
	assert_non_null(sk);
	assert_int_equal(libsoccr_save(sk, &d, sizeof(d)), (int)sizeof(d));
	assert_int_equal(d.state, TCP_CLOSE);
	assert_int_equal(d.inq_len, 0);
	assert_int_equal(d.outq_len, 0);
	assert_null(libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, 0));
	libsoccr_release(sk);
	close(fd);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(bpf_pin_dir, sizeof(bpf_pin_dir), "/sys/fs/bpf/soccr-test-%d-states", (int)getpid());
	for (int i = 0; i < 2; i++) {
		if (tns_pair_setup(&pairs[i]))
			return -1;
		if (tns_sh(pairs[i].ns[0],
			   "sysctl -qw net.ipv4.conf.all.rp_filter=%d "
			   "net.ipv4.conf.default.rp_filter=%d "
			   "net.ipv4.conf.%s.rp_filter=%d net.ipv4.conf.lo.rp_filter=%d",
			   i, i, pairs[i].ifname[0], i, i))
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	struct soccr_lock_opts o = {.sz = sizeof(o), .pin_dir = bpf_pin_dir,
				    .flags = SOCCR_LOCK_NO_CREATE};
	struct soccr_lock *lock;

	(void)state;
	/* A failed eBPF-lock test may have left the lock attached: remove it, pins included. */
	if (!soccr_lock_open(&o, &lock)) {
		for (int i = 0; i < 2; i++)
			if (pairs[i].up && !tns_enter(pairs[i].nsfd[0])) {
				soccr_lock_detach(lock);
				tns_leave();
			}
		soccr_lock_close(lock);
	}
	for (int i = 0; i < 2; i++)
		tns_pair_cleanup(&pairs[i]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established_restores_both_queues),
		cmocka_unit_test(test_fin_wait1_restores_fin_queued_behind_unsent_data),
		cmocka_unit_test(test_fin_wait1_restores_sent_unacked_data_and_fin),
		cmocka_unit_test(test_fin_wait2_restores_acked_fin),
		cmocka_unit_test(test_close_wait_restores_peer_fin),
		cmocka_unit_test(test_last_ack_restores_both_fins_ours_unsent),
		cmocka_unit_test(test_last_ack_restores_both_fins_ours_sent),
		cmocka_unit_test(test_closing_restores_both_fins_ours_unsent),
		cmocka_unit_test(test_closing_restores_both_fins_ours_sent),
		cmocka_unit_test(test_close_restores_finished_connection),
		cmocka_unit_test(test_syn_sent_reissues_connect),
		cmocka_unit_test(test_syn_sent_with_half_open_peer_completes_without_reset),
		cmocka_unit_test(test_every_state_restores_under_the_ebpf_lock),
		cmocka_unit_test(test_fin_states_restore_with_the_classic_tc_bypass),
		cmocka_unit_test(test_fin_states_restore_with_peer_on_same_host),
		cmocka_unit_test(test_injected_fin_leaves_no_delayed_ack_pending),
		cmocka_unit_test(test_big_queues_restore_intact),
		cmocka_unit_test(test_unabsorbed_fin_fails_restore_with_enolink),
		cmocka_unit_test(test_non_socket_fd_is_refused_with_a_log_line),
		cmocka_unit_test(test_listen_socket_and_bad_arguments_are_refused),
		cmocka_unit_test(test_save_of_unconnected_socket_reports_no_data),
	};

	tns_require_root();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
