// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr demo, the checkpoint and restore: the same library calls as
 * `soccr save` (pidfd_getfd() of the live process's socket, libsoccr_pause,
 * libsoccr_save) and `soccr restore` (libsoccr_set_addr/set_queue_bytes,
 * libsoccr_restore, libsoccr_resume), with the tc lock held on both hosts
 * from before the save until the restored sockets are ready.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "demo.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

const char *demo_state_name(int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",
		[TCP_SYN_RECV] = "SYN_RECV", [TCP_FIN_WAIT1] = "FIN_WAIT1",
		[TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
		[TCP_CLOSE] = "CLOSE", [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_LAST_ACK] = "LAST_ACK", [TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING",
	};

	if (state > 0 && state < (int)(sizeof(names) / sizeof(names[0])) && names[state])
		return names[state];
	return "?";
}

const char *demo_fam_name(int fam)
{
	return fam == FAM_V4 ? "ipv4" : fam == FAM_V6 ? "ipv6" : "v4-mapped";
}

static void flow_of(const struct demo_conn *c, struct soccr_flow *f)
{
	/* The flow as the server socket sees it: local = service, peer = client. */
	soccr_flow_from_sockaddr(f, (const struct sockaddr *)&c->c_peer,
				 (const struct sockaddr *)&c->c_local);
}

static int lock_host(struct demo *d, int which, const struct soccr_flow *flows, size_t n)
{
	struct soccr_lock_opts opts = { .sz = sizeof(opts), .pin_dir = d->pin_dir[which] };
	enum demo_host h = which ? H_DEST : H_ORIGIN;
	int rc;

	if (demo_enter(d, h))
		return -1;
	rc = soccr_lock_open(&opts, &d->lock[which]);
	if (rc) {
		demo_set_err("lock on %s: open: %s", which ? "destination" : "origin",
			     strerror(-rc));
		goto out;
	}
	rc = soccr_lock_attach_all(d->lock[which]);
	if (rc) {
		demo_set_err("lock on %s: attach: %s", which ? "destination" : "origin",
			     strerror(-rc));
		goto out;
	}
	rc = soccr_lock_add_batch(d->lock[which], flows, n);
	if (rc < 0) {
		demo_set_err("lock on %s: add: %s", which ? "destination" : "origin",
			     strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	if (demo_leave(d))
		rc = -1;
	return rc ? -1 : 0;
}

/*
 * Lock every flow on the origin (its packets stop both ways: nothing the
 * client sends is acknowledged from here on, nothing the server writes
 * leaves) and on the destination before the service address arrives there
 * (or its stack would answer the client's retransmissions with RSTs).
 */
int demo_lock(struct demo *d)
{
	struct soccr_flow flows[DEMO_MAX_CONNS];

	for (int i = 0; i < d->nconns; i++)
		flow_of(&d->conns[i], &flows[i]);
	if (lock_host(d, 0, flows, (size_t)d->nconns) || lock_host(d, 1, flows, (size_t)d->nconns))
		return -1;
	return 0;
}

static int pidfd_getfd_of(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Save one socket of the origin process; it stays paused (in repair mode). */
static int save_one(struct demo *d, int pidfd, struct demo_conn *c)
{
	struct libsoccr_sk *sk;
	union libsoccr_addr *a;
	int fd, rc;

	(void)d;
	fd = pidfd_getfd_of(pidfd, c->ofd);
	if (fd < 0) {
		demo_conn_fail(c, "pidfd_getfd(fd %d): %s", c->ofd, strerror(errno));
		return -1;
	}
	c->save_fd = fd;
	sk = libsoccr_pause(fd);
	if (!sk) {
		demo_conn_fail(c, "libsoccr_pause: %s", strerror(errno));
		return -1;
	}
	rc = libsoccr_save(sk, &c->data, sizeof(c->data));
	if (rc < 0) {
		demo_conn_fail(c, "libsoccr_save failed at step %d", rc);
		libsoccr_release(sk);
		return -1;
	}
	c->recvq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	c->sendq = libsoccr_get_queue_bytes(sk, TCP_SEND_QUEUE, SOCCR_MEM_EXCL);
	a = libsoccr_get_addr(sk, 1, 0);
	if (a)
		c->self = *a;
	a = libsoccr_get_addr(sk, 0, 0);
	if (a)
		c->peer = *a;
	/* Leave the socket in repair mode: when the origin dies, it goes silently. */
	libsoccr_release(sk);
	if ((c->data.inq_len && !c->recvq) || (c->data.outq_len && !c->sendq)) {
		demo_conn_fail(c, "libsoccr_save: queue contents missing");
		return -1;
	}
	if (!c->self.sa.sa_family || !c->peer.sa.sa_family) {
		demo_conn_fail(c, "libsoccr_get_addr: no address");
		return -1;
	}
	c->saved = true;
	return 0;
}

static void image_path(const struct demo *d, const struct demo_conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/conn-%02d.img", d->tmpdir, c->idx + 1);
}

/* The image `soccr save` would write, so the restore goes through the file format. */
static int write_image(struct demo *d, struct demo_conn *c)
{
	struct soccr_image img;
	struct timespec now;
	char path[128], err[256];
	struct stat st;
	int rc;

	memset(&img, 0, sizeof(img));
	img.flags = SOCCR_IMAGE_F_LOCKED;
	clock_gettime(CLOCK_REALTIME, &now);
	img.save_time_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	snprintf(img.hostname, sizeof(img.hostname), "%s", d->ns[H_ORIGIN]);
	img.family = c->fam == FAM_V4 ? AF_INET : AF_INET6;
	img.local = c->self;
	img.peer = c->peer;
	img.data = c->data;
	img.recvq = c->recvq;
	img.sendq = c->sendq;
	image_path(d, c, path, sizeof(path));
	rc = soccr_image_save(path, &img, err, sizeof(err));
	if (rc) {
		demo_conn_fail(c, "image: %s", err);
		return -1;
	}
	if (!stat(path, &st))
		d->images_bytes += (uint64_t)st.st_size;
	return 0;
}

int demo_save(struct demo *d)
{
	int pidfd, failed = 0;

	pidfd = (int)syscall(SYS_pidfd_open, d->origin_pid, 0);
	if (pidfd < 0) {
		demo_set_err("pidfd_open(%d): %m", (int)d->origin_pid);
		return -1;
	}
	for (int i = 0; i < d->nconns; i++)
		if (!d->conns[i].failed &&
		    (save_one(d, pidfd, &d->conns[i]) || write_image(d, &d->conns[i])))
			failed++;
	close(pidfd);
	if (failed)
		demo_set_err("%d of %d sockets could not be saved", failed, d->nconns);
	return failed ? -1 : 0;
}

static int queue_seq(int fd, int q, uint32_t *seq)
{
	socklen_t len = sizeof(*seq);
	int nq = TCP_NO_QUEUE;

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len))
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &nq, sizeof(nq));
	return 0;
}

/*
 * The head of the kernel's struct tcp_info up to tcpi_segs_in (Linux 4.2),
 * which the C library's copy of the struct does not reach.
 */
struct tcp_info_segs {
	uint8_t tcpi_state;
	uint8_t bytes[7];
	uint32_t u32s[24];	/* tcpi_rto .. tcpi_total_retrans */
	uint64_t u64s[4];	/* tcpi_pacing_rate .. tcpi_bytes_received */
	uint32_t tcpi_segs_out;
	uint32_t tcpi_segs_in;
};

/*
 * The verdict on what the library injected, read from the kernel: the
 * segments the new socket received (tcpi_segs_in: under the lock only
 * injected ones get through), and whether state and both sequence numbers
 * are now exactly the saved ones (a FIN in a queue counts in its sequence).
 */
static void judge(struct demo_conn *c, int fd)
{
	struct tcp_info_segs ti;
	socklen_t len = sizeof(ti);
	uint32_t rseq = 0, sseq = 0;
	bool match;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || len < sizeof(ti)) {
		demo_conn_fail(c, "TCP_INFO of the restored socket: %s", strerror(errno));
		c->verdict = VERDICT_NOT_ABSORBED;
		return;
	}
	c->injected = ti.tcpi_segs_in;
	if (c->data.state == TCP_SYN_SENT) {
		match = ti.tcpi_state == TCP_SYN_SENT;
	} else {
		match = ti.tcpi_state == c->data.state &&
			!queue_seq(fd, TCP_RECV_QUEUE, &rseq) && rseq == c->data.inq_seq &&
			!queue_seq(fd, TCP_SEND_QUEUE, &sseq) && sseq == c->data.outq_seq;
	}
	if (!c->injected)
		c->verdict = match ? VERDICT_NA : VERDICT_NOT_ABSORBED;
	else
		c->verdict = match ? VERDICT_ABSORBED : VERDICT_NOT_ABSORBED;
	if (!match)
		demo_conn_fail(c, "restored socket is %s, rcv_nxt %u (saved %u), write_seq %u (saved %u)",
			       demo_state_name(ti.tcpi_state), rseq, c->data.inq_seq, sseq,
			       c->data.outq_seq);
}

/* Call in the destination namespace. */
static int restore_one(struct demo *d, struct demo_conn *c)
{
	struct libsoccr_sk_data data;
	struct soccr_image img;
	struct libsoccr_sk *sk;
	char path[128], err[256];
	int fd, rc;

	image_path(d, c, path, sizeof(path));
	rc = soccr_image_load(path, &img, err, sizeof(err));
	if (rc) {
		demo_conn_fail(c, "image: %s", err);
		return -1;
	}
	/* What came back from the file is what was saved, to the byte. */
	if (memcmp(&img.data, &c->data, sizeof(img.data)) ||
	    memcmp(&img.local, &c->self, sizeof(img.local)) ||
	    memcmp(&img.peer, &c->peer, sizeof(img.peer)) ||
	    (img.data.inq_len && memcmp(img.recvq, c->recvq, img.data.inq_len)) ||
	    (img.data.outq_len && memcmp(img.sendq, c->sendq, img.data.outq_len))) {
		demo_conn_fail(c, "image %s differs from what was saved", path);
		soccr_image_free(&img);
		return -1;
	}
	data = img.data;
	fd = socket(img.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		demo_conn_fail(c, "socket: %s", strerror(errno));
		soccr_image_free(&img);
		return -1;
	}
	sk = libsoccr_pause(fd);
	if (!sk) {
		demo_conn_fail(c, "libsoccr_pause: %s", strerror(errno));
		soccr_image_free(&img);
		close(fd);
		return -1;
	}
	/* Without SOCCR_MEM_EXCL the library keeps pointers: c->self/peer outlive sk. */
	libsoccr_set_addr(sk, 1, &c->self, 0);
	libsoccr_set_addr(sk, 0, &c->peer, 0);
	/* With SOCCR_MEM_EXCL the queues become the library's. */
	if (img.recvq)
		libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, img.recvq, SOCCR_MEM_EXCL);
	if (img.sendq)
		libsoccr_set_queue_bytes(sk, TCP_SEND_QUEUE, img.sendq, SOCCR_MEM_EXCL);
	img.recvq = img.sendq = NULL;
	soccr_image_free(&img);
	rc = libsoccr_restore(sk, &data, sizeof(data));
	if (rc < 0) {
		demo_conn_fail(c, "libsoccr_restore failed (%d)", rc);
		libsoccr_release(sk);
		close(fd);
		return -1;
	}
	judge(c, fd);
	libsoccr_resume(sk);
	c->rfd = fd;
	c->restored = true;
	return 0;
}

int demo_restore(struct demo *d)
{
	int failed = 0;

	if (demo_enter(d, H_DEST))
		return -1;
	for (int i = 0; i < d->nconns; i++)
		if (d->conns[i].saved && restore_one(d, &d->conns[i]))
			failed++;
	if (demo_leave(d))
		return -1;
	if (failed)
		demo_set_err("%d sockets could not be restored", failed);
	return failed ? -1 : 0;
}

static void collect_drops(struct demo *d, struct soccr_lock *lock)
{
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;

	if (soccr_lock_list(lock, &e, &n))
		return;
	for (size_t k = 0; k < n; k++)
		for (int i = 0; i < d->nconns; i++) {
			struct soccr_flow f;

			flow_of(&d->conns[i], &f);
			if (f.family == e[k].flow.family && f.sport == e[k].flow.sport &&
			    f.dport == e[k].flow.dport &&
			    !memcmp(&f.saddr, &e[k].flow.saddr, sizeof(f.saddr)) &&
			    !memcmp(&f.daddr, &e[k].flow.daddr, sizeof(f.daddr)))
				d->conns[i].lock_dropped += e[k].dropped[0] + e[k].dropped[1];
		}
	free(e);
}

/* Let the flows go: packets held back since the lock now get through. */
int demo_unlock(struct demo *d)
{
	struct soccr_flow flows[DEMO_MAX_CONNS];
	int rc = 0;

	for (int i = 0; i < d->nconns; i++)
		flow_of(&d->conns[i], &flows[i]);
	for (int w = 1; w >= 0; w--) {
		if (!d->lock[w])
			continue;
		collect_drops(d, d->lock[w]);
		int r = soccr_lock_del_batch(d->lock[w], flows, (size_t)d->nconns);

		if (r < 0) {
			demo_set_err("unlock on %s: %s", w ? "destination" : "origin", strerror(-r));
			rc = -1;
		}
	}
	return rc;
}

/* Remove the locks' tc filters and pinned objects. */
void demo_lock_cleanup(struct demo *d)
{
	for (int w = 0; w < 2; w++) {
		if (!d->lock[w])
			continue;
		if (!demo_enter(d, w ? H_DEST : H_ORIGIN)) {
			soccr_lock_detach(d->lock[w]);
			demo_leave(d);
		}
		soccr_lock_close(d->lock[w]);
		d->lock[w] = NULL;
	}
}

void demo_ckpt_free(struct demo *d)
{
	for (int i = 0; i < d->nconns; i++) {
		struct demo_conn *c = &d->conns[i];

		free(c->recvq);
		free(c->sendq);
		c->recvq = c->sendq = NULL;
		if (c->save_fd >= 0)
			close(c->save_fd);
		c->save_fd = -1;
		if (c->rfd >= 0)
			close(c->rfd);
		c->rfd = -1;
	}
}
