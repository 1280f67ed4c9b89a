// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr-demo, the checkpoint and restore: nothing but the soccr tool's own
 * commands, run in the host they act on, as an operator would type them:
 *
 *   origin:       soccr lock attach; soccr lock add SERVICE CLIENT (each flow)
 *                 soccr save --pid ORIGIN -o IMAGE; soccr show IMAGE
 *   destination:  soccr lock add --attach --image IMAGE (before the address arrives)
 *                 soccr restore -i IMAGE --verify --no-unlock --fds-as-saved
 *                     --threads 4 -- soccr-demo --dest-server STATE
 *                 (four threads where the default would take one for so
 *                 few sockets: the path large restores take, verified)
 *   both:         soccr lock list (the drops); soccr lock del --image IMAGE,
 *                 soccr lock detach
 *
 * What the demo knows of the checkpoint comes from their output: the queues
 * saved (show), the segments the restore injected and their verdicts
 * (restore --verify), the packets the locks dropped (lock list).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soccr/image.h>

#include "demo.h"
#include "tns.h"

const char *demo_state_name(int state)
{
	return soccr_tcp_state_name((unsigned int)state);
}

const char *demo_fam_name(int fam)
{
	return fam == FAM_V4 ? "ipv4" : fam == FAM_V6 ? "ipv6" : "v4-mapped";
}

/* The connection whose service port is port, or NULL. */
static struct demo_conn *conn_of_port(struct demo *d, unsigned long port)
{
	for (int i = 0; i < d->nconns; i++)
		if (d->conns[i].port == port)
			return &d->conns[i];
	return NULL;
}

/* The port of an ADDR:PORT or [ADDR]:PORT word ending at end (exclusive). */
static unsigned long port_before(const char *start, const char *end)
{
	const char *colon = NULL;

	for (const char *p = start; p < end; p++)
		if (*p == ':')
			colon = p;
	return colon ? strtoul(colon + 1, NULL, 10) : 0;
}

/*
 * Lock every flow on the origin: its packets stop both ways (nothing the
 * client sends is acknowledged from here on, nothing the server writes
 * leaves), so what is written now stays in flight, in the queues the save
 * takes. The lock is attached first, to every UP device of the host.
 */
int demo_lock(struct demo *d)
{
	char a[64], b[64];

	if (demo_soccr(d, H_ORIGIN, NULL, 0, "lock attach"))
		return -1;
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		/* The flow as the client sees it (a v4-mapped server talks IPv4 on the wire). */
		tns_endpoint(&c->c_peer, a, sizeof(a));
		tns_endpoint(&c->c_local, b, sizeof(b));
		if (demo_soccr(d, H_ORIGIN, NULL, 0, "lock add %s %s", a, b))
			return -1;
	}
	return 0;
}

/* What `soccr show` says of each socket: its fd, state and queues. */
static int read_image(struct demo *d)
{
	static char out[65536];
	struct demo_conn *c = NULL;
	char *line, *save = NULL;
	struct stat st;
	int fd, n = 0;
	unsigned int v;
	char name[32];

	if (demo_soccr(d, H_ORIGIN, out, sizeof(out), "show %s", d->image))
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "socket %*u: fd %d,", &fd) == 1) {
			c = NULL;
			for (int i = 0; i < d->nconns; i++)
				if (d->conns[i].ofd == fd)
					c = &d->conns[i];
			if (c) {
				c->saved = true;
				n++;
			}
		} else if (c && sscanf(line, "state %31s", name) == 1) {
			if (strcmp(name, demo_state_name(c->state)))
				demo_conn_fail(c, "saved in %s", name);
		} else if (c && sscanf(line, "recv queue %u bytes", &v) == 1) {
			c->inq_len = v;
		} else if (c && sscanf(line, "send queue %u bytes", &v) == 1) {
			c->outq_len = v;
		}
	}
	if (!stat(d->image, &st))
		d->image_bytes = (uint64_t)st.st_size;
	return n;
}

/*
 * Save every socket of the origin server, live: `soccr save` locks their
 * flows (already locked: noted and left), puts the sockets in repair mode
 * and writes the image. The image must hold exactly the bytes in flight:
 * what the client wrote that the server never read, what the server wrote
 * that never reached the client.
 */
int demo_save(struct demo *d)
{
	int saved, failed = 0;

	snprintf(d->image, sizeof(d->image), "%s/origin.img", d->tmpdir);
	if (demo_soccr(d, H_ORIGIN, NULL, 0, "save --pid %d -o %s", (int)d->origin_pid, d->image))
		return -1;
	saved = read_image(d);
	if (saved < 0)
		return -1;
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (!c->saved) {
			demo_conn_fail(c, "not in the image");
		} else if (c->inq_len != c->sc.c_unread || c->outq_len != c->sc.s_mid) {
			demo_conn_fail(c, "image queues %u/%u bytes, %u/%u expected", c->inq_len,
				       c->outq_len, c->sc.c_unread, c->sc.s_mid);
		}
		failed += c->failed;
	}
	if (failed)
		demo_set_err("%d of %d sockets not saved as expected", failed, d->nconns);
	return failed ? -1 : 0;
}

/*
 * Lock the image's flows on the destination before the service address
 * arrives there, or its stack would answer the client's retransmissions
 * with resets.
 */
int demo_lock_dest(struct demo *d)
{
	return demo_soccr(d, H_DEST, NULL, 0, "lock add --attach --image %s", d->image) ? -1 : 0;
}

/* restore --verify's lines: "verify: SRC > DST [FLAGS] seq N ack N: VERDICT: why". */
static void read_verdicts(struct demo *d, const char *log)
{
	char line[1024];
	FILE *f = fopen(log, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned int n, ok;
		char *gt, *br;
		struct demo_conn *c;

		if (sscanf(line, "verify: %u segment(s) injected, %u absorbed", &n, &ok) == 2) {
			d->seg_total = n;
			d->seg_absorbed = ok;
			continue;
		}
		if (strncmp(line, "verify: ", 8) || !(gt = strstr(line, " > ")) ||
		    !(br = strstr(gt + 3, " [")))
			continue;
		c = conn_of_port(d, port_before(gt + 3, br));
		if (!c)
			continue;
		c->injected++;
		if (strstr(br, ": absorbed: "))
			c->absorbed++;
	}
	fclose(f);
}

/* With -v: what soccr restore wrote (its debug log, the verdicts) on our stderr. */
static void copy_log(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

/*
 * Write what the destination server needs to carry on where the origin
 * server stopped (the application's state, which travels beside the
 * image), then run `soccr restore` in the destination with the server as
 * its command: the sockets are made, the injected segments verified, and
 * the server gets them at the fd numbers they had on the origin. The flows
 * stay locked (--no-unlock) until the server has reported what it found.
 */
int demo_restore(struct demo *d)
{
	char state[96], log[96];
	char *argv[16];
	int pfd[2], logfd, argc = 0, failed = 0;

	snprintf(state, sizeof(state), "%s/app.state", d->tmpdir);
	snprintf(log, sizeof(log), "%s/restore.log", d->tmpdir);
	if (demo_dest_state(d, state))
		return -1;
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		demo_set_err("%s: %m", log);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		demo_set_err("pipe: %m");
		close(logfd);
		return -1;
	}
	argv[argc++] = (char *)d->soccr;
	if (d->verbose)
		argv[argc++] = "-v";
	argv[argc++] = "restore";
	argv[argc++] = "-i";
	argv[argc++] = d->image;
	argv[argc++] = "--verify";
	argv[argc++] = "--no-unlock";
	argv[argc++] = "--fds-as-saved";
	argv[argc++] = "--threads";
	argv[argc++] = "4";
	argv[argc++] = "--";
	argv[argc++] = d->self;
	argv[argc++] = "--dest-server";
	argv[argc++] = state;
	argv[argc] = NULL;
	d->dest_pid = demo_spawn(d->nsfd[H_DEST], pfd[1], logfd, argv);
	close(pfd[1]);
	close(logfd);
	if (d->dest_pid < 0) {
		close(pfd[0]);
		d->dest_pid = 0;
		return -1;
	}
	d->dest_res = pfd[0];
	if (demo_dest_ready(d, 10000)) {
		/* The restore failed before its command ran: its last line says why. */
		char line[512], last[512] = "";
		FILE *f;

		demo_dest_collect(d, 0);
		f = fopen(log, "r");
		while (f && fgets(line, sizeof(line), f))
			if (line[0] != '\n')
				snprintf(last, sizeof(last), "%s", line);
		if (f)
			fclose(f);
		last[strcspn(last, "\n")] = '\0';
		demo_set_err("soccr restore (exit %d): %s", d->dest_status,
			     last[0] ? last : "no output");
		return -1;
	}
	read_verdicts(d, log);
	if (d->verbose)
		copy_log(log);
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		if (!c->restored) {
			if (c->saved)
				demo_conn_fail(c, "not restored");
			failed += c->saved;
			continue;
		}
		/*
		 * Under the lock only injected segments reach the new socket: the
		 * kernel's count must be the verifier's, every one absorbed, and the
		 * socket in the saved state.
		 */
		c->verdict = !c->injected ? VERDICT_NA : c->absorbed == c->injected ?
			     VERDICT_ABSORBED : VERDICT_NOT_ABSORBED;
		if (c->r_state != c->state)
			demo_conn_fail(c, "restored socket is %s", demo_state_name(c->r_state));
		else if (c->verdict == VERDICT_NOT_ABSORBED)
			demo_conn_fail(c, "%u of %u injected segments absorbed", c->absorbed,
				       c->injected);
		else if (c->segs_in != c->injected)
			demo_conn_fail(c, "the socket received %u segments, the verifier saw %u",
				       c->segs_in, c->injected);
	}
	if (failed)
		demo_set_err("%d sockets could not be restored", failed);
	return failed ? -1 : 0;
}

/* Add the drop counters of `soccr lock list` on host h to their connections. */
static int collect_drops(struct demo *d, enum demo_host h)
{
	static char out[16384];
	char *line, *save = NULL;

	if (demo_soccr(d, h, out, sizeof(out), "lock list"))
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "SRC DST dropped_out=N dropped_in=N passed_out=N passed_in=N" */
		char *sp = strchr(line, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
		unsigned long long out_n, in_n;
		struct demo_conn *c;

		if (!sp2 || sscanf(sp2, " dropped_out=%llu dropped_in=%llu", &out_n, &in_n) != 2)
			continue;
		c = conn_of_port(d, port_before(line, sp));
		if (!c)
			c = conn_of_port(d, port_before(sp + 1, sp2));
		if (c)
			c->lock_dropped += out_n + in_n;
	}
	return 0;
}

/*
 * Let the flows go on the destination (packets held back since the lock
 * now reach the restored sockets) and take the locks away from both hosts,
 * after reading what they dropped.
 */
int demo_unlock(struct demo *d)
{
	if (collect_drops(d, H_DEST) || collect_drops(d, H_ORIGIN) ||
	    demo_soccr(d, H_DEST, NULL, 0, "lock del --image %s", d->image) ||
	    demo_soccr(d, H_DEST, NULL, 0, "lock detach") ||
	    demo_soccr(d, H_ORIGIN, NULL, 0, "lock detach"))
		return -1;
	return 0;
}
