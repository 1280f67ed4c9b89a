// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The sequence numbers of live sockets (src/tcpseqs.h), for `soccr ps`: a BPF
 * TCP iterator (bpf/tcpseq.bpf.c) reads snd_una, snd_nxt, write_seq,
 * rcv_nxt and copied_seq of every full, non-listening socket of a network
 * namespace in one run, and the records are matched to the caller's sockets
 * by cookie. As for the SYN_SENT iterator (synstamp.c) the program is loaded
 * for the call and everything is closed before it returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "tcpseqs.h"
#include "bpf/tcpseq.h"
#include "tcpseq.skel.h"

/* The iterator link's fd (O_CLOEXEC), or -errno. */
static int tcpseq_load(void)
{
	struct soccr_tcpseq *skel;
	struct soccr_bpf_env env;
	int fd;

	sc_bpf_env_enter(&env, true);
	skel = soccr_tcpseq__open_and_load();
	if (!skel)
		fd = errno ? -errno : -EOPNOTSUPP;
	else
		fd = sc_iter_link_fd(skel->progs.soccr_tcpseq);
	soccr_tcpseq__destroy(skel);
	sc_bpf_env_leave(&env);
	if (fd < 0) {
		errno = -fd;
		pr_dbg("sequence number iterator (BPF iter/tcp, needs BTF and CAP_BPF): %m");
	}
	return fd;
}

static int by_cookie(const void *a, const void *b, void *arg)
{
	const struct sc_tcp_seq *seqs = arg;
	uint64_t x = seqs[*(const size_t *)a].cookie, y = seqs[*(const size_t *)b].cookie;

	return x < y ? -1 : x > y;
}

/* The first position in idx[] (sorted by cookie) whose entry's cookie is c, or n. */
static size_t find(const struct sc_tcp_seq *seqs, const size_t *idx, size_t n, uint64_t c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (seqs[idx[mid]].cookie < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && seqs[idx[lo]].cookie == c ? lo : n;
}

int sc_tcp_seqs(int nsfd, struct sc_tcp_seq *seqs, size_t n)
{
	struct soccr_tcpseq_rec recs[128];
	size_t *idx, have = 0;
	int link_fd, ifd, found = 0, ret = 0;
	ssize_t got;

	if (!n)
		return 0;
	idx = malloc(n * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), by_cookie, seqs);
	link_fd = tcpseq_load();
	if (link_fd < 0) {
		free(idx);
		return link_fd;
	}
	ifd = sc_iter_create_in(link_fd, nsfd);
	close(link_fd);
	if (ifd < 0) {
		errno = -ifd;
		pr_dbg("sequence number iterator: %m");
		free(idx);
		return ifd;
	}
	/* Records are written whole, but a read may end inside one: keep the rest. */
	while ((got = read(ifd, (char *)recs + have, sizeof(recs) - have)) > 0) {
		size_t whole;

		have += (size_t)got;
		whole = have / sizeof(recs[0]);
		for (size_t i = 0; i < whole; i++) {
			const struct soccr_tcpseq_rec *r = &recs[i];

			/* Every entry of the socket: a process may hold it under several fds. */
			for (size_t k = r->cookie ? find(seqs, idx, n, r->cookie) : n;
			     k < n && seqs[idx[k]].cookie == r->cookie; k++) {
				struct sc_tcp_seq *s = &seqs[idx[k]];

				found += !s->found;
				s->found = true;
				s->snd_una = r->snd_una;
				s->snd_nxt = r->snd_nxt;
				s->write_seq = r->write_seq;
				s->rcv_nxt = r->rcv_nxt;
				s->copied_seq = r->copied_seq;
			}
		}
		have -= whole * sizeof(recs[0]);
		memmove(recs, (char *)recs + whole * sizeof(recs[0]), have);
	}
	if (got < 0) {
		ret = -errno;
		pr_perror("reading the sequence number iterator");
	}
	close(ifd);
	free(idx);
	return ret ? ret : found;
}
