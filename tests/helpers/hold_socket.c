// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hold_socket ADDR: hold a TCP connection over ADDR (an IPv4 or IPv6
 * literal, both ends on this host) so that another process can inject into
 * it: listen on ADDR:0, connect to it, accept. Prints one line,
 *   server=ADDR:PORT client=ADDR:PORT rcv_nxt=N snd_nxt=M
 * with the accepted (server) socket's next sequence numbers (read in repair
 * mode, left with TCP_REPAIR_OFF_NO_WP so no window probe goes out), then
 * waits. On SIGTERM or SIGINT it prints "state=NAME" (the server socket's
 * TCP state) and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tns.h"

#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *state_name(int st)
{
	static const char *const names[] = {
		"?",	     "ESTABLISHED", "SYN_SENT",	  "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE",	    "CLOSE_WAIT", "LAST_ACK", "LISTEN",	   "CLOSING",
	};

	return st > 0 && st < (int)(sizeof(names) / sizeof(names[0])) ? names[st] : "?";
}

static int queue_seq(int fd, int q, uint32_t *seq)
{
	socklen_t len = sizeof(*seq);

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, sa, ca;
	socklen_t len;
	struct tcp_info ti;
	char sbuf[80], cbuf[80];
	uint32_t rcv = 0, snd = 0;
	int lfd, cfd, sfd, on = 1, off = TCP_REPAIR_OFF_NO_WP;

	if (argc != 2) {
		fprintf(stderr, "usage: hold_socket ADDR\n");
		return 2;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "hold_socket: '%s' is not an address\n", argv[1]);
		return 2;
	}
	sigset_t block, old;

	/* Blocked until sigsuspend(): a signal between the check and the wait is not lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	cfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || cfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) ||
	    connect(cfd, (struct sockaddr *)&sa, len)) {
		perror("hold_socket: connect");
		return 1;
	}
	sfd = accept(lfd, NULL, NULL);
	if (sfd < 0) {
		perror("hold_socket: accept");
		return 1;
	}
	len = sizeof(sa);
	getsockname(sfd, (struct sockaddr *)&sa, &len);
	len = sizeof(ca);
	getsockname(cfd, (struct sockaddr *)&ca, &len);
	if (setsockopt(sfd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ||
	    queue_seq(sfd, TCP_RECV_QUEUE, &rcv) || queue_seq(sfd, TCP_SEND_QUEUE, &snd) ||
	    setsockopt(sfd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off))) {
		perror("hold_socket: TCP_REPAIR");
		return 1;
	}
	tns_endpoint(&sa, sbuf, sizeof(sbuf));
	tns_endpoint(&ca, cbuf, sizeof(cbuf));
	printf("server=%s client=%s rcv_nxt=%u snd_nxt=%u\n", sbuf, cbuf, rcv, snd);
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	len = sizeof(ti);
	if (getsockopt(sfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return 1;
	printf("state=%s\n", state_name(ti.tcpi_state));
	return 0;
}
