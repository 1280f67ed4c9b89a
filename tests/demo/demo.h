/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soccr-demo: live TCP connections in every state migrate from an "origin"
 * host to a "destination" host while a "client" host keeps talking to them.
 * Hosts are network namespaces joined by a bridge in a fourth one. Every
 * checkpoint step is the soccr tool's own command (lock, save, show,
 * restore --verify, lock list/del/detach); this program is the network, the
 * applications and the checks around them.
 *
 *   main.c   options, the guardian process (cleanup on every exit path),
 *            the steps in order, the final table
 *   net.c    namespaces, topology, commands run inside them (the soccr tool
 *            too), the client-side packet holds (nftables), neighbour
 *            announcements
 *   app.c    the applications: the client (in the demo process), the origin
 *            server (a child process) and the destination server (this
 *            program again, run by `soccr restore -- CMD` with the restored
 *            sockets), the deterministic byte patterns, the client's capture
 *   ckpt.c   the checkpoint through the soccr tool: lock, save, show,
 *            restore, unlock, and what their output says
 */
#ifndef SOCCR_TESTS_DEMO_H
#define SOCCR_TESTS_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
/* Addresses of the demo network (private to its namespaces). */
#define DEMO_NET4 "10.199.0."
#define DEMO_NET6 "fd99::"
#define DEMO_CLIENT_HOST 1
#define DEMO_ORIGIN_HOST 2
#define DEMO_DEST_HOST 3
#define DEMO_SVC_HOST 10	/* the service address: moves from origin to destination */
#define DEMO_MAC_FMT "02:99:00:00:00:%02x"
#define DEMO_PORT_BASE 7000	/* connection i uses server port DEMO_PORT_BASE + i */

enum demo_host { H_SWITCH, H_CLIENT, H_ORIGIN, H_DEST, H_NR };

enum demo_fam { FAM_V4, FAM_V6, FAM_MAPPED, FAM_NR };

#define DEMO_MAX_CONNS 32
#define DEMO_WHY_LEN 96

/* Bytes of each part of the two streams of one connection (see demo_app.c). */
struct demo_script {
	uint32_t s_pre;		/* server -> client before the lock, delivered */
	uint32_t s_mid;		/* server -> client in flight at save (held or locked) */
	uint32_t s_post;	/* server -> client written by the destination server */
	uint32_t c_read;	/* client -> server, read by the origin server */
	uint32_t c_unread;	/* client -> server, left in the origin's receive queue */
	uint32_t c_mid;		/* client -> server written while locked (in flight) */
	uint32_t c_post;	/* client -> server written after the migration */
};

struct demo_conn {
	int idx;
	int state;			/* TCP state the origin socket is driven into */
	int fam;
	uint16_t port;			/* server port; SYN_SENT: the client's listening port too */
	uint32_t seed_s, seed_c;	/* pattern seeds server->client, client->server */
	struct demo_script sc;
	uint64_t s_total, c_total;

	/* The client, in the demo process. */
	int cfd;			/* connected socket */
	int lfd;			/* SYN_SENT: the client's listening socket */
	uint64_t c_sent, c_rcvd;
	bool c_eof, c_closed, c_failed;
	struct sockaddr_storage c_local, c_peer;	/* as the client sees the flow */

	/* The origin server's application state, mirrored from its replies. */
	int ofd;			/* fd number in the origin process */
	uint64_t o_read, o_written;
	bool o_shut;
	int o_state;			/* last TCP state it reported */

	/* Checkpoint (from `soccr show` of the image). */
	bool saved;
	uint32_t inq_len, outq_len;

	/* Restore. */
	bool restored;
	int r_state;			/* the restored socket's state, under the lock */
	unsigned int segs_in;		/* segments it received under the lock (the kernel's count) */
	unsigned int injected;		/* segments `soccr restore --verify` saw injected */
	unsigned int absorbed;		/* ... and proved absorbed */
	int verdict;			/* VERDICT_* */

	/* Results. */
	uint64_t lock_dropped;		/* packets the locks dropped for this flow */
	unsigned int rst;		/* RST segments of this flow on the client's wire */
	bool d_ok;			/* the destination server's checks passed */
	char d_why[DEMO_WHY_LEN];
	bool failed;
	char why[DEMO_WHY_LEN];
};

enum { VERDICT_NA, VERDICT_ABSORBED, VERDICT_NOT_ABSORBED };

struct demo {
	pid_t gpid;			/* the guardian's pid: part of every name */
	char ns[H_NR][40];		/* namespace names */
	int nsfd[H_NR];
	char tmpdir[64];		/* the image, the state handed to the destination */
	char image[96];			/* the image `soccr save` writes */
	const char *soccr;		/* the soccr tool */
	char self[256];			/* this program, run again as the destination server */
	const char *pcap_path;
	bool verbose;

	struct demo_conn conns[DEMO_MAX_CONNS];
	int nconns;
	bool migrated;			/* the client may close once its streams are done */
	bool syn_hold_synack;		/* SYN_SENT: hold the client's SYN-ACK, not the SYN */

	pid_t origin_pid;
	int origin_ctl;			/* command socket to the origin server */
	pid_t dest_pid;			/* `soccr restore -- soccr-demo --dest-server` */
	int dest_res;			/* its standard output: the destination server's reports */
	bool dest_done;
	int dest_status;		/* soccr restore's exit status */
	unsigned int seg_total, seg_absorbed;	/* restore --verify's summary */

	void *pcap;			/* pcap_t * on the client's eth0 */
	void *dumper;			/* pcap_dumper_t * for --pcap */
	uint64_t pkts, other_rst;
	uint64_t image_bytes;
	char neigh_how[256];
};

/* net.c */
void demo_names(struct demo *d, pid_t gpid);
int demo_topology(struct demo *d);
void demo_teardown(struct demo *d);
int demo_enter(struct demo *d, enum demo_host h);
int demo_leave(struct demo *d);
int demo_spawn(int nsfd, int out_fd, int err_fd, char **argv);
int demo_run(int nsfd, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int demo_soccr(struct demo *d, enum demo_host h, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int demo_hold_setup(struct demo *d);
int demo_hold(struct demo *d, const struct demo_conn *c, bool on);
int demo_move_service(struct demo *d);
void demo_leftovers(pid_t gpid, const char *tmpdir);
void demo_svc_addr(int fam, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
void demo_host_addr(int fam, int host, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len);
const char *demo_err(void);
void demo_set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* app.c */
int demo_origin_start(struct demo *d);
int demo_origin_cmd(struct demo *d, int op, struct demo_conn *c, uint32_t len);
void demo_origin_kill(struct demo *d);
int demo_client_connect(struct demo *d, struct demo_conn *c);
int demo_client_write(struct demo_conn *c, uint64_t len);
int demo_client_finish_connects(struct demo *d);
void demo_client_pump(struct demo *d, int timeout_ms);
bool demo_client_all_done(const struct demo *d);
int demo_dest_state(const struct demo *d, const char *path);
int demo_dest_main(const char *state_path);
int demo_dest_ready(struct demo *d, int timeout_ms);
void demo_dest_collect(struct demo *d, int timeout_ms);
int demo_capture_open(struct demo *d);
void demo_capture_close(struct demo *d);
void demo_conn_fail(struct demo_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

enum { OP_LISTEN, OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, OP_SHUTDOWN, OP_STATE };

/* ckpt.c */
int demo_lock(struct demo *d);
int demo_save(struct demo *d);
int demo_lock_dest(struct demo *d);
int demo_restore(struct demo *d);
int demo_unlock(struct demo *d);

const char *demo_state_name(int state);
const char *demo_fam_name(int fam);

#endif /* SOCCR_TESTS_DEMO_H */
