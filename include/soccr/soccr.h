/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoccr: checkpoint and restore of TCP sockets with TCP_REPAIR.
 *
 * Source- and ABI-compatible with CRIU's libsoccr: same functions, same
 * struct libsoccr_sk_data layout, same constants and return conventions.
 * Extensions of this implementation live in their own headers
 * (<soccr/packet.h>, <soccr/inject.h>, <soccr/lock.h>, ...).
 *
 * This header is self-contained: it needs no generated configuration.
 */
#ifndef SOCCR_SOCCR_H
#define SOCCR_SOCCR_H

#include <netinet/in.h>		/* struct sockaddr_in, struct sockaddr_in6 */
#include <netinet/tcp.h>	/* TCP_REPAIR_*, struct tcp_repair_* where libc has them */
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Packets carrying this mark (SO_MARK / skb->mark) pass the network lock. */
#define SOCCR_MARK 0xC114

/*
 * Older C libraries lack the TCP repair declarations. glibc and musl add
 * struct tcp_repair_window together with the TCP_REPAIR_WINDOW macro, and
 * struct tcp_repair_opt with the TCP_{NO,RECV,SEND}_QUEUE enum together with
 * TCP_REPAIR_OPTIONS, so the macros tell whether the types exist.
 */
#ifndef TCP_REPAIR_WINDOW
#define TCP_REPAIR_WINDOW 29
struct tcp_repair_window {
	uint32_t snd_wl1;
	uint32_t snd_wnd;
	uint32_t max_window;
	uint32_t rcv_wnd;
	uint32_t rcv_wup;
};
#endif

#ifndef TCP_REPAIR_OPTIONS
#define TCP_REPAIR_OPTIONS 22
struct tcp_repair_opt {
	uint32_t opt_code;
	uint32_t opt_val;
};

enum {
	TCP_NO_QUEUE,
	TCP_RECV_QUEUE,
	TCP_SEND_QUEUE,
	TCP_QUEUES_NR,
};
#endif

#ifndef TCP_TIMESTAMP
#define TCP_TIMESTAMP 24
#endif

/* Log levels for libsoccr_set_log(). */
#define SOCCR_LOG_ERR 1
#define SOCCR_LOG_DBG 2

/*
 * Set the log callback and the highest level passed to it. With no callback
 * (the default) the library prints nothing. The callback may be called from
 * any libsoccr function; errno is preserved across it.
 */
void libsoccr_set_log(unsigned int level, void (*fn)(unsigned int level, const char *fmt, ...));

/* Opaque handle on one socket being checkpointed or restored. */
struct libsoccr_sk;

union libsoccr_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/*
 * What libsoccr_save() reads from a socket and libsoccr_restore() needs back.
 * The layout is CRIU's: 17 uint32_t fields, in this order.
 */
struct libsoccr_sk_data {
	uint32_t state;		/* TCP_ESTABLISHED, TCP_FIN_WAIT1, ... */
	uint32_t inq_len;	/* unread bytes in the receive queue */
	uint32_t inq_seq;	/* sequence number after the receive queue (rcv_nxt) */
	uint32_t outq_len;	/* bytes in the send queue (sent-unacked + unsent) */
	uint32_t outq_seq;	/* sequence number after the send queue (write_seq) */
	uint32_t unsq_len;	/* part of outq_len never sent */
	uint32_t opt_mask;	/* TCPI_OPT_* negotiated options */
	uint32_t mss_clamp;
	uint32_t snd_wscale;
	uint32_t rcv_wscale;
	uint32_t timestamp;	/* TCP_TIMESTAMP at save time */

	uint32_t flags;		/* SOCCR_FLAGS_*: which of the fields below are valid */
	uint32_t snd_wl1;
	uint32_t snd_wnd;
	uint32_t max_window;
	uint32_t rcv_wnd;
	uint32_t rcv_wup;
};

/* snd_wl1, snd_wnd, max_window, rcv_wnd and rcv_wup are valid. */
#define SOCCR_FLAGS_WINDOW 0x1

/*
 * Put the socket fd into repair mode and return a handle for the calls
 * below, or NULL on error (errno set). The caller must already have stopped
 * the flow's packets both ways (the network lock) except SOCCR_MARK ones.
 */
struct libsoccr_sk *libsoccr_pause(int fd);

/* Take the socket out of repair mode and free the handle and its buffers. */
void libsoccr_resume(struct libsoccr_sk *sk);

/* Like libsoccr_resume(), but leave the socket in repair mode. */
void libsoccr_release(struct libsoccr_sk *sk);

/*
 * Memory handed over with this flag belongs to the receiver: buffers taken
 * from the library are the caller's to free(), buffers given to it are
 * free()d by the library in libsoccr_resume()/libsoccr_release().
 */
#define SOCCR_MEM_EXCL 0x1

/*
 * Checkpoint: fill data (data_size bytes available) from the paused socket
 * and read both queues into the handle. Returns the number of bytes of data
 * filled, or a negative step code, as CRIU's: -1 bad arguments, -2 socket
 * state (LISTEN, SYN_RECV, TIME_WAIT are refused) or queue sizes, -3 TCP
 * options, -4 window, -5 receive queue, -6 send queue.
 */
int libsoccr_save(struct libsoccr_sk *sk, struct libsoccr_sk_data *data, unsigned data_size);

/*
 * The queue contents read by libsoccr_save(): TCP_RECV_QUEUE (inq_len bytes)
 * or TCP_SEND_QUEUE (outq_len bytes); NULL for other queues or when empty.
 * With SOCCR_MEM_EXCL the caller owns the buffer; otherwise it stays valid
 * until libsoccr_resume()/libsoccr_release().
 */
char *libsoccr_get_queue_bytes(struct libsoccr_sk *sk, int queue_id, unsigned flags);

/*
 * The socket's own address (self != 0) or its peer's (self == 0), as read
 * by libsoccr_save() or given by libsoccr_set_addr(); NULL if unknown.
 * Ownership follows SOCCR_MEM_EXCL as for the queues.
 */
union libsoccr_addr *libsoccr_get_addr(struct libsoccr_sk *sk, int self, unsigned flags);

/*
 * Restore: hand the library the queue contents to put back. With
 * SOCCR_MEM_EXCL the library takes the buffer and free()s it later.
 * Returns 0, or -1 for a queue other than TCP_RECV_QUEUE/TCP_SEND_QUEUE.
 *
 * There is no length (CRIU's ABI): libsoccr_restore() reads exactly
 * data->inq_len bytes of the receive-queue buffer and data->outq_len bytes
 * of the send-queue buffer, so each buffer must hold at least that many
 * bytes; a NULL buffer with a non-zero length makes the restore fail (-1).
 * The soccr tool passes buffers that came out of an image whose queue
 * lengths were checked against those fields when it was loaded.
 */
int libsoccr_set_queue_bytes(struct libsoccr_sk *sk, int queue_id, char *bytes, unsigned flags);

/* Restore: the local (self != 0) or peer (self == 0) address. Returns 0. */
int libsoccr_set_addr(struct libsoccr_sk *sk, int self, union libsoccr_addr *addr, unsigned flags);

/*
 * Restore the connection described by data onto the paused fresh socket:
 * bind, sequence numbers, connect, options, queues, window, and for
 * half-closed states the FIN bookkeeping (segments from the peer are
 * injected with SOCCR_MARK and checked to be absorbed). Returns 0, or a
 * negative value on error (the socket stays in repair mode; nothing was
 * sent to the peer): -1 as CRIU for a failed step (the log says which),
 * -ENOLINK (-67) if an injected segment was sent but not absorbed (dropped
 * by a firewall that does not accept SOCCR_MARK, or refused by TCP), and
 * another negative errno if no injection path to the peer could be set up.
 */
int libsoccr_restore(struct libsoccr_sk *sk, struct libsoccr_sk_data *data, unsigned data_size);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_SOCCR_H */
