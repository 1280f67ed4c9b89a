// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr-demo: live TCP connections, in every state and address family,
 * migrate from an origin host to a destination host while their client
 * keeps talking, checkpointed and restored by the soccr tool's own
 * commands; see demo.h for the parts. `make demo` runs it.
 *
 * Two processes: the guardian (the one the user started) only waits and
 * cleans up, by name, whatever is left when the worker ends, however it
 * ends (success, failure, crash, or a signal to the guardian, which then
 * kills the worker's whole process group first). The worker runs the demo
 * and is the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "tns.h"

#define NSTEPS 11
#define STATE_DEADLINE_MS 3000
#define FINISH_DEADLINE_MS 20000

/* The states demonstrated, in table order. */
static const int demo_states[] = {
	TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_CLOSE_WAIT,
	TCP_LAST_ACK,    TCP_CLOSING,   TCP_CLOSE,     TCP_SYN_SENT,
};

static int step_no;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr-demo [--soccr PATH] [--pcap FILE] [--synack-held] [-v]\n"
		"\n"
		"Migrate live TCP connections between two hosts, end to end, in private network\n"
		"namespaces (needs root, touches nothing outside them), with the soccr tool:\n"
		"  - a client, an origin and a destination host on one bridge;\n"
		"  - a server on the origin holds connections from the client in every state\n"
		"    (ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING, CLOSE,\n"
		"    SYN_SENT) and family (IPv4, IPv6, v4-mapped IPv6), with data in flight;\n"
		"  - soccr lock, soccr save from the live process, kill it, move the service\n"
		"    address, soccr restore --verify on the destination into a new server\n"
		"    process, soccr lock del;\n"
		"  - the client checks every byte both ways, EOF where the FIN was, no reset.\n"
		"\n"
		"  --soccr PATH    the soccr tool (default: $SOCCR, else the soccr beside this\n"
		"                  program, else soccr in PATH)\n"
		"  --pcap FILE     write the client-side capture to FILE\n"
		"  --synack-held   SYN_SENT with a half-open peer: the client's SYN-ACK is held\n"
		"                  back (the default; accepted for compatibility)\n"
		"  -v, --verbose   the soccr commands' debug log on stderr\n"
		"  -h, --help      this help\n"
		"\n"
		"Exit status 0 only if every connection made it, 1 if not, 2 on a usage error.\n");
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
	va_list ap;

	printf("[%d/%d] ", ++step_no, NSTEPS);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" ... ");
	fflush(stdout);
}

static void step_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step_ok(const char *fmt, ...)
{
	va_list ap;

	printf("ok");
	if (fmt && *fmt) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	printf("\n");
	fflush(stdout);
}

static int step_fail(void)
{
	printf("FAILED\n      %s\n", demo_err());
	fflush(stdout);
	return -1;
}

/*
 * What each connection carries. Streams written before the lock are
 * delivered; "mid" parts are in flight at the save (the server's held by
 * the client-side drop or written under the lock, the client's written
 * under the lock); "post" parts are written after the migration.
 */
static void script(struct demo_conn *c)
{
	struct demo_script *s = &c->sc;

	memset(s, 0, sizeof(*s));
	if (c->state != TCP_SYN_SENT) {
		s->s_pre = 4096;
		s->c_read = 1000;
		s->c_unread = 3000;
	}
	switch (c->state) {
	case TCP_ESTABLISHED:
		s->s_mid = 6000, s->c_mid = 1500, s->s_post = 3000;
		break;
	case TCP_FIN_WAIT1:
		s->s_mid = 6000, s->c_mid = 1500;
		break;
	case TCP_FIN_WAIT2:
		s->c_mid = 1500;
		break;
	case TCP_CLOSE_WAIT:
		s->s_mid = 6000, s->s_post = 3000;
		break;
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		s->s_mid = 6000;
		break;
	case TCP_SYN_SENT:
		s->s_post = 3000, s->c_post = 2000;
		break;
	}
	c->s_total = s->s_pre + s->s_mid + s->s_post;
	c->c_total = s->c_read + s->c_unread + s->c_mid + s->c_post;
}

static void init_conns(struct demo *d)
{
	int n = 0;

	for (size_t s = 0; s < sizeof(demo_states) / sizeof(demo_states[0]); s++)
		for (int fam = 0; fam < FAM_NR; fam++) {
			struct demo_conn *c = &d->conns[n];

			memset(c, 0, sizeof(*c));
			c->idx = n;
			c->state = demo_states[s];
			c->fam = fam;
			c->port = (uint16_t)(DEMO_PORT_BASE + n);
			c->seed_s = 0x5eed0000u + (uint32_t)n * 2;
			c->seed_c = 0x5eed0001u + (uint32_t)n * 2;
			c->cfd = c->lfd = c->ofd = -1;
			script(c);
			n++;
		}
	d->nconns = n;
}

static bool is(const struct demo_conn *c, int s1, int s2, int s3)
{
	return c->state == s1 || c->state == s2 || c->state == s3;
}

/* Pump the client until every connection's origin socket is in its state. */
static int wait_states(struct demo *d, int s1, int s2, int s3)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int pending = 0;

		for (int i = 0; i < d->nconns; i++) {
			struct demo_conn *c = &d->conns[i];

			if (c->failed || !is(c, s1, s2, s3))
				continue;
			if (demo_origin_cmd(d, OP_STATE, c, 0) < 0)
				return -1;
			if (c->o_state != c->state)
				pending++;
		}
		if (!pending)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    STATE_DEADLINE_MS)
			break;
		demo_client_pump(d, 10);
	}
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (!c->failed && is(c, s1, s2, s3) && c->o_state != c->state)
			demo_conn_fail(c, "origin socket stuck in %s", demo_state_name(c->o_state));
	}
	return 0;
}

static int client_shutdown(struct demo_conn *c)
{
	if (shutdown(c->cfd, SHUT_WR)) {
		demo_set_err("client shutdown (conn %d): %m", c->idx + 1);
		return -1;
	}
	return 0;
}

static int open_connections(struct demo *d)
{
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];
		int rc;

		if (c->state == TCP_SYN_SENT) {
			if (demo_enter(d, H_CLIENT))
				return -1;
			rc = demo_client_connect(d, c);
			if (demo_leave(d) || rc || demo_hold(d, c, true) ||
			    demo_origin_cmd(d, OP_CONNECT, c, 0) < 0)
				return -1;
			continue;
		}
		if (demo_origin_cmd(d, OP_LISTEN, c, 0) < 0 || demo_enter(d, H_CLIENT))
			return -1;
		rc = demo_client_connect(d, c);
		if (demo_leave(d) || rc || demo_origin_cmd(d, OP_ACCEPT, c, 0) < 0)
			return -1;
	}
	return demo_client_finish_connects(d);
}

static int drive_states(struct demo *d)
{
	struct demo_conn *c;
	int i;

	/* Data both ways; the server reads only part of what the client sends. */
	for (i = 0; i < d->nconns; i++) {
		c = &d->conns[i];
		if (c->state == TCP_SYN_SENT)
			continue;
		if (demo_origin_cmd(d, OP_WRITE, c, c->sc.s_pre) < 0 ||
		    demo_client_write(c, c->sc.c_read + c->sc.c_unread) ||
		    demo_origin_cmd(d, OP_READ, c, c->sc.c_read) < 0)
			return -1;
	}
	/* The peer's FIN first (CLOSE_WAIT and what follows it); our FIN, acked (FIN_WAIT2). */
	for (i = 0; i < d->nconns; i++) {
		c = &d->conns[i];
		if (is(c, TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSE) && client_shutdown(c))
			return -1;
		if (c->state == TCP_FIN_WAIT2 && demo_origin_cmd(d, OP_SHUTDOWN, c, 0) < 0)
			return -1;
	}
	if (wait_states(d, TCP_CLOSE_WAIT, TCP_FIN_WAIT2, -1))
		return -1;
	/* LAST_ACK and CLOSE pass through CLOSE_WAIT: wait for it by asking directly. */
	for (int tries = 0; tries < STATE_DEADLINE_MS / 10; tries++) {
		int pending = 0;

		for (i = 0; i < d->nconns; i++) {
			c = &d->conns[i];
			if (!is(c, TCP_LAST_ACK, TCP_CLOSE, -1))
				continue;
			if (demo_origin_cmd(d, OP_STATE, c, 0) < 0)
				return -1;
			pending += c->o_state != TCP_CLOSE_WAIT;
		}
		if (!pending)
			break;
		demo_client_pump(d, 10);
	}
	/*
	 * Our FIN unacknowledged: the client drops what the server sends on
	 * these flows from now on, so data and FIN stay in the server's send
	 * queue; for CLOSING the client's FIN then crosses ours.
	 */
	for (i = 0; i < d->nconns; i++) {
		c = &d->conns[i];
		if (is(c, TCP_FIN_WAIT1, TCP_LAST_ACK, TCP_CLOSING) && demo_hold(d, c, true))
			return -1;
	}
	for (i = 0; i < d->nconns; i++) {
		c = &d->conns[i];
		if (is(c, TCP_FIN_WAIT1, TCP_LAST_ACK, TCP_CLOSING) &&
		    (demo_origin_cmd(d, OP_WRITE, c, c->sc.s_mid) < 0 ||
		     demo_origin_cmd(d, OP_SHUTDOWN, c, 0) < 0))
			return -1;
		/* CLOSE: LAST_ACK whose FIN the client acknowledges at once. */
		if (c->state == TCP_CLOSE && demo_origin_cmd(d, OP_SHUTDOWN, c, 0) < 0)
			return -1;
	}
	for (i = 0; i < d->nconns; i++) {
		c = &d->conns[i];
		if (c->state == TCP_CLOSING && client_shutdown(c))
			return -1;
	}
	if (wait_states(d, TCP_FIN_WAIT1, TCP_LAST_ACK, TCP_CLOSING) ||
	    wait_states(d, TCP_CLOSE, TCP_SYN_SENT, TCP_ESTABLISHED))
		return -1;
	return 0;
}

static int in_flight(struct demo *d, uint64_t *s_bytes, uint64_t *c_bytes)
{
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (c->failed)
			continue;
		if (is(c, TCP_ESTABLISHED, TCP_CLOSE_WAIT, -1)) {
			if (demo_origin_cmd(d, OP_WRITE, c, c->sc.s_mid) < 0)
				return -1;
		}
		if (is(c, TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2)) {
			if (demo_client_write(c, c->sc.c_mid))
				return -1;
		}
		*s_bytes += c->sc.s_mid;
		*c_bytes += c->sc.c_mid;
	}
	/* Still where they were driven (nothing got through the lock). */
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (c->failed)
			continue;
		if (demo_origin_cmd(d, OP_STATE, c, 0) < 0)
			return -1;
		if (c->o_state != c->state)
			demo_conn_fail(c, "origin socket left %s for %s under the lock",
				       demo_state_name(c->state), demo_state_name(c->o_state));
	}
	return 0;
}

static int finish(struct demo *d)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		demo_client_pump(d, 20);
		if (!d->dest_done) {
			struct pollfd p = { .fd = d->dest_res, .events = POLLIN };

			/* The destination server reports once, when all its work is done. */
			if (poll(&p, 1, 0) > 0)
				demo_dest_collect(d, 1000);
		}
		if (demo_client_all_done(d) && d->dest_done)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    FINISH_DEADLINE_MS)
			break;
	}
	demo_dest_collect(d, 0);
	return -1;
}

/* The final verdict on each connection, from every check made. */
static void judge_all(struct demo *d)
{
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (c->failed)
			continue;
		if (c->restored && !c->d_ok)
			demo_conn_fail(c, "%s", c->d_why[0] ? c->d_why :
				       "the destination server reported nothing");
		else if (!c->c_eof)
			demo_conn_fail(c, "client: no EOF after %llu of %llu bytes",
				       (unsigned long long)c->c_rcvd, (unsigned long long)c->s_total);
		else if (c->c_rcvd != c->s_total)
			demo_conn_fail(c, "client: %llu of %llu bytes", (unsigned long long)c->c_rcvd,
				       (unsigned long long)c->s_total);
		else if (c->rst)
			demo_conn_fail(c, "%u RST on the client's wire", c->rst);
	}
}

static int print_table(struct demo *d)
{
	static const char *const verdicts[] = { "n.a.", "absorbed", "NOT absorbed" };
	uint64_t s_bytes = 0, drops = 0;
	unsigned int rst = 0;
	int ok = 0;

	printf("\n  #  %-11s  %-9s  %6s  %6s  %8s  %-12s  %s\n", "state", "family", "recv-q",
	       "send-q", "injected", "verdict", "result");
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];
		char rq[16] = "-", sq[16] = "-", inj[16] = "-";

		if (c->saved) {
			snprintf(rq, sizeof(rq), "%u", c->inq_len);
			snprintf(sq, sizeof(sq), "%u", c->outq_len);
		}
		if (c->restored)
			snprintf(inj, sizeof(inj), "%u", c->injected);
		printf(" %2d  %-11s  %-9s  %6s  %6s  %8s  %-12s  %s%s\n", i + 1,
		       demo_state_name(c->state), demo_fam_name(c->fam), rq, sq, inj,
		       c->restored ? verdicts[c->verdict] : "-", c->failed ? "FAIL: " : "OK",
		       c->failed ? c->why : "");
		ok += !c->failed;
		s_bytes += c->c_rcvd;
		drops += c->lock_dropped;
		rst += c->rst;
	}
	printf("\n%d of %d connections OK. The client received %llu bytes, all checked; "
	       "%llu packets dropped by the locks while held;\n"
	       "%u RST on the client's wire (%llu packets captured, %llu RST on other flows).\n",
	       ok, d->nconns, (unsigned long long)s_bytes, (unsigned long long)drops, rst,
	       (unsigned long long)d->pkts, (unsigned long long)d->other_rst);
	return ok == d->nconns && !d->other_rst ? 0 : -1;
}

static int run(struct demo *d)
{
	uint64_t s_mid = 0, c_mid = 0;
	int rc = -1, saved = 0, restored = 0;

	printf("soccr-demo: live TCP connections migrate between hosts (namespaces soccr-demo-%d-*,\n"
	       "  files in %s, checkpoints by %s)\n"
	       "  client " DEMO_NET4 "%d " DEMO_NET6 "%d, origin " DEMO_NET4 "%d " DEMO_NET6
	       "%d, destination " DEMO_NET4 "%d " DEMO_NET6 "%d;\n"
	       "  service address " DEMO_NET4 "%d " DEMO_NET6 "%d starts on the origin\n",
	       (int)d->gpid, d->tmpdir, d->soccr, DEMO_CLIENT_HOST, DEMO_CLIENT_HOST,
	       DEMO_ORIGIN_HOST, DEMO_ORIGIN_HOST, DEMO_DEST_HOST, DEMO_DEST_HOST, DEMO_SVC_HOST,
	       DEMO_SVC_HOST);

	step("building the network: 4 namespaces, a bridge, 3 hosts");
	if (demo_topology(d) || demo_hold_setup(d) || demo_capture_open(d))
		return step_fail();
	step_ok("capturing on the client's eth0");

	init_conns(d);
	step("opening %d connections: %zu states x ipv4/ipv6/v4-mapped", d->nconns,
	     sizeof(demo_states) / sizeof(demo_states[0]));
	if (demo_origin_start(d) || open_connections(d))
		return step_fail();
	step_ok("origin server pid %d", (int)d->origin_pid);

	step("driving them into their states, data both ways");
	if (drive_states(d))
		return step_fail();
	int stuck = 0;

	for (int i = 0; i < d->nconns; i++)
		stuck += d->conns[i].failed;
	if (stuck)
		printf("%d connections did not get there\n", stuck);
	else
		step_ok("client-side drops hold back the server's FIN where it must stay unacked");

	step("locking %d flows on the origin (soccr lock attach, soccr lock add)", d->nconns);
	if (demo_lock(d))
		return step_fail();
	step_ok(NULL);

	step("writing data in flight under the lock");
	if (in_flight(d, &s_mid, &c_mid))
		return step_fail();
	step_ok("%llu bytes server->client, %llu bytes client->server", (unsigned long long)s_mid,
		(unsigned long long)c_mid);

	step("saving the sockets of origin pid %d (soccr save, soccr show)", (int)d->origin_pid);
	rc = demo_save(d);
	for (int i = 0; i < d->nconns; i++)
		saved += d->conns[i].saved;
	if (rc)
		printf("%d saved; %s\n", saved, demo_err());
	else
		step_ok("%d sockets in %s, %llu bytes; queues as expected", saved, d->image,
			(unsigned long long)d->image_bytes);

	step("killing the origin server (its sockets are in repair mode: no FIN, no RST)");
	demo_origin_kill(d);
	step_ok(NULL);

	step("locking the flows on the destination (soccr lock add --attach --image), "
	     "moving the service address there");
	if (demo_lock_dest(d) || demo_move_service(d))
		return step_fail();
	step_ok("%s", d->neigh_how);

	step("restoring %d sockets on the destination (soccr restore --verify -- soccr-demo "
	     "--dest-server)", saved);
	rc = demo_restore(d);
	for (int i = 0; i < d->nconns; i++)
		restored += d->conns[i].restored;
	if (!restored)
		return step_fail();
	if (rc)
		printf("%d restored; %s\n", restored, demo_err());
	else
		step_ok("%d restored, %u segments injected, %u absorbed; handed to the destination "
			"server", restored, d->seg_total, d->seg_absorbed);

	step("unlocking: held packets flow again, to the destination (soccr lock del --image)");
	rc = demo_unlock(d);
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (is(c, TCP_FIN_WAIT1, TCP_LAST_ACK, TCP_CLOSING) || c->state == TCP_SYN_SENT)
			rc |= demo_hold(d, c, false);
	}
	d->migrated = true;
	if (rc)
		return step_fail();
	step_ok("client-side drops removed too; locks detached");

	step("client and destination server finish their streams");
	if (finish(d))
		printf("timed out\n");
	else
		step_ok(NULL);
	demo_capture_close(d);
	judge_all(d);
	return print_table(d);
}

static int worker(struct demo *d)
{
	int rc = run(d);

	/* Cleanup, in the order the pieces depend on each other. */
	demo_origin_kill(d);
	if (d->dest_pid > 0)
		demo_dest_collect(d, 0);
	demo_capture_close(d);
	for (int i = 0; i < d->nconns; i++) {
		if (d->conns[i].cfd >= 0)
			close(d->conns[i].cfd);
		if (d->conns[i].lfd >= 0)
			close(d->conns[i].lfd);
	}
	/* The locks go with the namespaces' devices: the tool pins nothing. */
	demo_teardown(d);
	printf("cleaned up: namespaces, locks and files removed\n");
	fflush(stdout);
	return rc ? 1 : 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The soccr tool: --soccr, $SOCCR, the one beside this program, or soccr in PATH. */
static const char *find_soccr(const char *opt, const char *self, char *buf, size_t len)
{
	const char *env = getenv("SOCCR");
	char *slash;

	if (opt)
		return opt;
	if (env && *env)
		return env;
	snprintf(buf, len, "%s", self);
	slash = strrchr(buf, '/');
	if (slash && (size_t)(slash - buf) + sizeof("/soccr") <= len) {
		strcpy(slash, "/soccr");
		if (!access(buf, X_OK))
			return buf;
	}
	return "soccr";
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "soccr-demo: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try 'soccr-demo --help')\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "soccr", required_argument, NULL, 'S' },
		{ "pcap", required_argument, NULL, 'P' },
		{ "synack-held", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "dest-server", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	static char soccr_buf[512];
	struct sigaction sa = { .sa_handler = on_signal };
	const char *soccr_opt = NULL;
	struct demo *d;
	int opt, status;
	ssize_t n;
	pid_t pid;

	opterr = 0;
	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "soccr-demo: out of memory\n");
		return 1;
	}
	/* No fds yet (calloc's 0 would be stdin to the cleanup). */
	d->origin_ctl = d->dest_res = -1;
	/* SYN_SENT against a half-open peer (libsoccr keeps the first SYN's timestamp). */
	d->syn_hold_synack = true;
	while ((opt = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			soccr_opt = optarg;
			break;
		case 'P':
			d->pcap_path = optarg;
			break;
		case 's':
			d->syn_hold_synack = true;
			break;
		case 'v':
			d->verbose = true;
			break;
		case 'h':
			usage(stdout);
			free(d);
			return 0;
		case 'D':
			/* The destination server, as `soccr restore -- CMD` runs it. */
			free(d);
			return demo_dest_main(optarg);
		case ':':
			free(d);
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			free(d);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(d);
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (geteuid() != 0) {
		fprintf(stderr, "soccr-demo: needs root (network namespaces, TCP_REPAIR, eBPF)\n");
		free(d);
		return 1;
	}
	n = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(d->self) - 1) {
		fprintf(stderr, "soccr-demo: /proc/self/exe: cannot read this program's path\n");
		free(d);
		return 1;
	}
	d->self[n] = '\0';
	d->soccr = find_soccr(soccr_opt, d->self, soccr_buf, sizeof(soccr_buf));
	demo_names(d, getpid());
	demo_leftovers(d->gpid, NULL);	/* a previous owner of this pid */
	/* A name nobody can guess or prepare: mkdtemp() makes it, 0700. */
	snprintf(d->tmpdir, sizeof(d->tmpdir), "/tmp/soccr-demo-XXXXXX");
	if (!mkdtemp(d->tmpdir)) {
		fprintf(stderr, "soccr-demo: %s: %m\n", d->tmpdir);
		free(d);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "soccr-demo: fork: %m\n");
		demo_leftovers(d->gpid, d->tmpdir);
		free(d);
		return 1;
	}
	if (pid == 0) {
		int rc;

		/* Its own process group: the guardian kills it with all its children at once. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		rc = worker(d);
		free(d);
		/* exit(), not _exit(): sanitizer builds check the worker for leaks too. */
		exit(rc);
	}
	setpgid(pid, pid);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
		if (got_signal) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
	}
	/* Whatever the worker left (it is gone, and so is its process group's work). */
	kill(-pid, SIGKILL);
	demo_leftovers(d->gpid, d->tmpdir);
	free(d);
	if (got_signal) {
		fprintf(stderr, "soccr-demo: interrupted by signal %d; namespaces, locks and files "
				"removed\n", (int)got_signal);
		return 1;
	}
	if (status == -1 || !WIFEXITED(status)) {
		fprintf(stderr, "soccr-demo: the demo process died (%s); namespaces, locks and files "
				"removed\n",
			status != -1 && WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
		return 1;
	}
	return WEXITSTATUS(status) == 0 ? 0 : 1;
}
