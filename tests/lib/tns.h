/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test namespaces: two network namespaces joined by a veth pair, TCP
 * connections between them, and helpers to run code inside one of them.
 *
 * Layout of a pair (N = a per-process index so parallel tests never clash):
 *   ns "soccr-<pid>-<N>a": veth "sa<N>" 10.<x>.<y>.1/24 fd00:<x>:<y>::1/64
 *   ns "soccr-<pid>-<N>b": veth "sb<N>" 10.<x>.<y>.2/24 fd00:<x>:<y>::2/64
 * Every namespace created is deleted by tns_pair_cleanup() and, as a last
 * resort, at process exit and on SIGINT/SIGTERM.
 */
#ifndef SOCCR_TESTS_TNS_H
#define SOCCR_TESTS_TNS_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct tns_pair {
	char ns[2][32];			/* namespace names: [0] = a, [1] = b */
	int nsfd[2];			/* open namespace fds */
	char ifname[2][16];		/* veth inside each namespace */
	int ifindex[2];
	char ip4[2][INET_ADDRSTRLEN];	/* "10.x.y.1", "10.x.y.2" */
	char ip6[2][INET6_ADDRSTRLEN];	/* "fd00:x:y::1", ... */
	bool up;
};

/*
 * Root check for integration tests. Returns true if running as root.
 * Otherwise prints SKIPPED loudly and, with SOCCR_REQUIRE_ROOT=1, exits 1;
 * else exits 77 (the suite runner's "skipped").
 */
void tns_require_root(void);

/* Create the two namespaces, the veth pair, addresses, lo up. 0 or -errno. */
int tns_pair_setup(struct tns_pair *p);
/* Delete everything tns_pair_setup() created. Safe to call twice. */
void tns_pair_cleanup(struct tns_pair *p);

/* Move the calling thread into namespace fd (or back with tns_leave()). 0 or -errno. */
int tns_enter(int nsfd);
int tns_leave(void);

/* Run a shell command (printf-style), optionally inside namespace ns (NULL: current). Returns its exit status, -1 on error. */
int tns_sh(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill ss with side's address (0 = a, 1 = b) for family, and port. */
void tns_addr(const struct tns_pair *p, int side, int family, uint16_t port,
	      struct sockaddr_storage *ss, socklen_t *len);

/*
 * A connected TCP pair: a listener in side b (port 0: any), a client socket
 * created in side a, connected, and the accepted socket. family is AF_INET
 * or AF_INET6. mapped: the client is an AF_INET6 socket talking to the v4
 * address as ::ffff:a.b.c.d. Returns 0 and fds (client in a, server in b),
 * or -errno.
 */
int tns_tcp_connect(struct tns_pair *p, int family, bool mapped, int *client_fd, int *server_fd);

/* ss as ADDR:PORT or [ADDR]:PORT (the soccr tool's form) into buf. */
void tns_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len);

/* The loopback address of family (127.0.0.1 or ::1), port 0, into ss. */
void tns_loopback(int family, struct sockaddr_storage *ss, socklen_t *len);

/* TCP_INFO state of fd (TCP_ESTABLISHED, ...), or -errno. */
int tns_tcp_state(int fd);

/* TCP_REPAIR on/off on fd. 0 or -errno. */
int tns_repair(int fd, int on);

/* Read the sequence number of a queue of a repaired socket (TCP_RECV_QUEUE/TCP_SEND_QUEUE). */
int tns_queue_seq(int fd, int queue, uint32_t *seq);

/* Write/read exactly len bytes (with a poll timeout of timeout_ms per step). 0 or -errno. */
int tns_write_all(int fd, const void *buf, size_t len, int timeout_ms);
int tns_read_all(int fd, void *buf, size_t len, int timeout_ms);

/* Fill buf with the deterministic pattern of a stream starting at offset off, seeded. */
void tns_pattern(void *buf, size_t len, uint64_t off, uint32_t seed);

/*
 * Remove directory path and everything in it, if it is a directory (not a
 * link) owned by us: every step relative to an open directory, links
 * removed and never followed, subdirectories entered only if still ours
 * when opened; nothing outside the tree is touched, whatever is swapped in
 * while this runs (tests/lib/rmtree.c).
 */
void tns_rm_tree(const char *path);

/* A libsoccr_set_log() callback that prints every line to stderr. */
void tns_log_stderr(unsigned int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct soccr_lock;

/*
 * Our eBPF lock for a test: pinned in a private directory
 * /sys/fs/bpf/soccr-test-<pid>-<tag> (written to pin_dir), attached in
 * side a of p on its veth and lo. Returns 0 or -1 (with nothing left behind).
 */
int tns_lock_setup(struct tns_pair *p, const char *tag, struct soccr_lock **lock, char *pin_dir,
		   size_t len);
/* Detach it from side a, close it, and remove the pins, whatever state it is in. */
void tns_lock_teardown(struct tns_pair *p, struct soccr_lock **lock, const char *pin_dir);

#endif
