// SPDX-License-Identifier: LGPL-2.1-or-later
/* The libsoccr handle: pause, resume, release, and the buffers and addresses it holds. */
#include "core/sk.h"

const char *sc_state_name(int st)
{
	return soccr_tcp_state_name((unsigned int)st);
}

int sc_repair_set(int fd, int val)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &val, sizeof(val))) {
		pr_perror("sk %d: TCP_REPAIR %d", fd, val);
		return -1;
	}
	pr_dbg("sk %d: TCP_REPAIR %d", fd, val);
	return 0;
}

int sc_set_repair_queue(int fd, int queue)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue))) {
		pr_perror("sk %d: TCP_REPAIR_QUEUE %d", fd, queue);
		return -1;
	}
	return 0;
}

const char *sc_queue_name(int q)
{
	return q == TCP_RECV_QUEUE ? "recv" : q == TCP_SEND_QUEUE ? "send" : "none";
}

SOCCR_API struct libsoccr_sk *libsoccr_pause(int fd)
{
	struct libsoccr_sk *sk;

	sk = calloc(1, sizeof(*sk));
	if (!sk) {
		pr_perror("sk %d: pause: allocating the handle", fd);
		return NULL;
	}
	if (sc_repair_set(fd, 1)) {
		free(sk);
		return NULL;
	}
	sk->fd = fd;
	return sk;
}

SOCCR_API void libsoccr_release(struct libsoccr_sk *sk)
{
	if (!sk)
		return;
	if (sk->flags & SK_FREE_RQ)
		free(sk->recv_queue);
	if (sk->flags & SK_FREE_SQ)
		free(sk->send_queue);
	if (sk->flags & SK_FREE_SA)
		free(sk->src_addr);
	if (sk->flags & SK_FREE_DA)
		free(sk->dst_addr);
	free(sk);
}

SOCCR_API void libsoccr_resume(struct libsoccr_sk *sk)
{
	if (!sk)
		return;
	/* TCP_REPAIR_OFF: the kernel sends a window probe, which makes the peer answer at once. */
	sc_repair_set(sk->fd, 0);
	libsoccr_release(sk);
}

SOCCR_API char *libsoccr_get_queue_bytes(struct libsoccr_sk *sk, int queue_id, unsigned flags)
{
	char **p, *ret;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return NULL;
	switch (queue_id) {
	case TCP_RECV_QUEUE:
		p = &sk->recv_queue;
		break;
	case TCP_SEND_QUEUE:
		p = &sk->send_queue;
		break;
	default:
		return NULL;
	}
	ret = *p;
	if (flags & SOCCR_MEM_EXCL) {
		*p = NULL;
		sk->flags &= ~(queue_id == TCP_RECV_QUEUE ? SK_FREE_RQ : SK_FREE_SQ);
	}
	return ret;
}

SOCCR_API union libsoccr_addr *libsoccr_get_addr(struct libsoccr_sk *sk, int self, unsigned flags)
{
	union libsoccr_addr **p, *ret;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return NULL;
	p = self ? &sk->src_addr : &sk->dst_addr;
	ret = *p;
	if (!ret)
		return NULL;
	if (flags & SOCCR_MEM_EXCL) {
		unsigned int own = self ? SK_FREE_SA : SK_FREE_DA;

		/*
		 * The caller owns what it gets: hand over our copy, or a copy
		 * of the caller's own buffer given without SOCCR_MEM_EXCL.
		 */
		if (!(sk->flags & own)) {
			ret = malloc(sizeof(*ret));
			if (!ret)
				return NULL;
			memcpy(ret, *p, sizeof(*ret));
		}
		*p = NULL;
		sk->flags &= ~own;
	}
	return ret;
}

/* Hand buffer v to the handle's slot p, owned (freed later) with SOCCR_MEM_EXCL. */
static void set_owned(struct libsoccr_sk *sk, void **p, void *v, unsigned int own,
		      unsigned int flags)
{
	if ((sk->flags & own) && *p != v)
		free(*p);
	*p = v;
	if (flags & SOCCR_MEM_EXCL)
		sk->flags |= own;
	else
		sk->flags &= ~own;
}

SOCCR_API int libsoccr_set_queue_bytes(struct libsoccr_sk *sk, int queue_id, char *bytes,
				       unsigned flags)
{
	char **p;
	unsigned int own;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return -1;
	switch (queue_id) {
	case TCP_RECV_QUEUE:
		p = &sk->recv_queue;
		own = SK_FREE_RQ;
		break;
	case TCP_SEND_QUEUE:
		p = &sk->send_queue;
		own = SK_FREE_SQ;
		break;
	default:
		return -1;
	}
	set_owned(sk, (void **)p, bytes, own, flags);
	return 0;
}

SOCCR_API int libsoccr_set_addr(struct libsoccr_sk *sk, int self, union libsoccr_addr *addr,
				unsigned flags)
{
	union libsoccr_addr **p;
	unsigned int own;

	if (!sk || (flags & ~SOCCR_MEM_EXCL))
		return -1;
	p = self ? &sk->src_addr : &sk->dst_addr;
	own = self ? SK_FREE_SA : SK_FREE_DA;
	set_owned(sk, (void **)p, addr, own, flags);
	return 0;
}
