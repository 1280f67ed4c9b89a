/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soccr restore's two halves: cmd_restore.c makes the sockets again and
 * takes them live (go_live(), settle()); handover.c gives them to a command
 * (run_cmd()) in systemd's socket-activation way.
 */
#ifndef SOCCR_CLI_RESTORE_H
#define SOCCR_CLI_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

/* The first fd passed by socket activation (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

/* One socket of the image, made again. */
struct rsock {
	const struct soccr_image_sock *k;
	int fd;
	struct libsoccr_sk *sk;	/* a connection, in repair mode until it goes live */
	struct soccr_flow flow;
	bool unlock;		/* locked at save, to be unlocked once live */
	bool reported;		/* its failure was reported (not the library's) */
};

/* What is left to do once the restored sockets may go live: repair off, unlock, report. */
struct golive {
	struct rsock *r;
	size_t n;
	struct soccr_lock *lock;
	const struct soccr_image_set *set;
	FILE *report;
	bool done, unlocked, unlock_failed, keep_lock, detached;
	bool untraced; /* CMD could not be stopped at its exec: it left repair mode itself */
	unsigned int threads; /* the threads that make the sockets and take them live */
};


/* Repair mode off for every socket, then the flows unlocked in one batch. */
void go_live(struct golive *g);
/* After go_live() and once CMD runs: the idle lock detached, then the report. */
void settle(struct golive *g);
/*
 * Hand the sockets to CMD (fds 3.., or their saved numbers with as_saved)
 * and wait for it. Returns CMD's exit status, or EXIT_USAGE/EXIT_FAIL if it
 * did not run.
 */
int run_cmd(struct golive *g, bool as_saved, char **cmd);

#endif
