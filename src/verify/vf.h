/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verifier: libpcap evidence that each injected frame crossed the
 * capture point byte for byte, and socket-side evidence (TCP_INFO,
 * TCP_QUEUE_SEQ, sock_diag) that the socket took it. See <soccr/verify.h>
 * for where the capture point sits and what each verdict means.
 *
 * Matching: each registered segment is hashed by (4-tuple, seq, ack,
 * flags); a captured packet of a verified flow is parsed, looked up by the
 * same key and compared byte for byte with the frame as built. Copies are
 * counted per direction from the cooked header's packet type, so lo's two
 * copies of every frame (outgoing, then looped back in) are told apart
 * from two injections of the same frame.
 *
 * This header is private to the verifier (the files of src/verify/): its
 * state, and the functions those files share. Never installed.
 */
#ifndef SOCCR_VERIFY_VF_H
#define SOCCR_VERIFY_VF_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <pcap/sll.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <soccr/image.h>
#include <soccr/verify.h>

#include "diag.h"

#define DEF_TIMEOUT_MS 250
#define DEF_SNAPLEN    2048
#define DEF_BUFFER_KB  8192
/*
 * With a pcap file, how long to keep capturing after the last segment was
 * seen, so that the socket's answers are in the file: an ACK of a FIN is
 * delayed (tcp_fin() enters pingpong mode), by TCP_DELACK_MIN = 40 ms at least.
 */
#define DEF_LINGER_MS 100
/* Above this many distinct addresses the coarse filter is just "tcp". */
#define MAX_FILTER_ADDRS 64
/* Drain the capture ring every so many sends, so a big batch cannot overflow it. */
#define DRAIN_EVERY 128
/* Pause between two socket-side checks while waiting for the receive path. */
#define RECHECK_US 500

#define TCPF(s) (1u << (s))

/* A flow key independent of the direction: the two endpoints in a fixed order. */
struct fkey {
	uint8_t family;
	uint8_t a[16], b[16];
	uint16_t pa, pb;
};

struct seg {
	struct soccr_verdict vd;
	size_t frame_off; /* in v->arena */
	uint32_t frame_len, l3_off;
	enum soccr_link link;
	int fd;		/* -1: sock_diag by the 4-tuple */
	int sent;	/* 0 not reported, 1 sent, -1 send failed */
	bool sock_done; /* the socket side is judged */
	bool judged;
	bool exact_seen;   /* at least one byte-exact copy */
	bool bytes_differ; /* a same-key copy with other bytes */
	size_t diff_off;
	bool csum_bad;
	bool ip_csum_ok, tcp_csum_ok;
	bool flow_late;	   /* its flow joined the filter after the send */
	bool precise;	   /* always read the queue sequences */
	int read_err;	   /* last socket read: 0 or a negative errno */
	struct timeval ts; /* when registered */
	uint32_t hkey;
	int next; /* hash chain */
};

struct flowent {
	struct fkey k;
	bool used;
};

struct obs {
	struct pcap_pkthdr h;
	size_t off; /* in v->obuf */
};

struct mib {
	long long in_csum_errors, rp_filter, paws;
	bool valid;
};

struct soccr_verifier {
	pthread_mutex_t mu;
	pcap_t *pc;
	int pfd;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	char *pcap_path;
	int ifindex;
	char ifname[IF_NAMESIZE];
	unsigned int timeout_ms, snaplen, linger_ms;
	struct soccr_lock *lock;
	int diag_fd;
	int ctl_fd;		      /* ioctl socket for device flags */
	int snmp_fd, netstat_fd;      /* /proc/net/{snmp,netstat} of our netns */
	int name_cache_idx;	      /* last ifindex -> name looked up (a device can be renamed: */
	char name_cache[IF_NAMESIZE]; /* the cache is dropped at every collect) */

	struct seg *segs;
	size_t nseg, seg_cap;
	size_t judged;	   /* segs[0..judged) have final verdicts */
	size_t viewed;	   /* segs[judged..viewed) all have their socket view */
	size_t pending_in; /* sent segments not yet seen entering the stack */
	unsigned int since_drain;

	unsigned char *arena;
	size_t arena_len, arena_cap;

	int *buckets;
	size_t nbuckets; /* power of two */

	struct flowent *flows; /* open addressing set of fkeys */
	size_t nflows, flow_cap;
	bool narrowed; /* a flow set was given: the filter lists flows */
	bool filter_dirty;

	struct obs *obs;
	size_t nobs, obs_cap;
	unsigned char *obuf;
	size_t obuf_len, obuf_cap;

	struct soccr_lock_entry *lock_before;
	size_t nlock_before;
	bool lock_snap;
	struct mib mib_before;
	unsigned int pcap_drops_before;
	char *scratch; /* filter text */
};

SOCCR_HIDDEN void vf_addf(char *buf, size_t len, const char *fmt, ...);
SOCCR_HIDDEN size_t vf_addr_len(int family);
SOCCR_HIDDEN void vf_derive(struct seg *g, unsigned int checks, int state);
SOCCR_HIDDEN void vf_dev_name(struct soccr_verifier *v, int ifindex, char name[IF_NAMESIZE]);
SOCCR_HIDDEN void vf_drain(struct soccr_verifier *v);
SOCCR_HIDDEN int vf_expect_locked(struct soccr_verifier *v, const void *frame, size_t len,
				  enum soccr_link link, int ifindex, int fd, unsigned int checks,
				  int state, bool before);
SOCCR_HIDDEN int vf_filter_apply(struct soccr_verifier *v);
SOCCR_HIDDEN void vf_fkey_make(struct fkey *k, int family, const union soccr_inaddr *x, uint16_t px,
			       const union soccr_inaddr *y, uint16_t py);
SOCCR_HIDDEN void vf_flags_str(uint8_t f, char *buf);
SOCCR_HIDDEN int vf_flow_add(struct soccr_verifier *v, const struct fkey *k);
SOCCR_HIDDEN void vf_flow_str(const struct soccr_segment *s, char *buf, size_t len);
SOCCR_HIDDEN const char *vf_fmt_ep(int family, const union soccr_inaddr *a, uint16_t port,
				   char *buf, size_t len);
SOCCR_HIDDEN int vf_grow(void **p, size_t *cap, size_t need, size_t elem);
SOCCR_HIDDEN uint32_t vf_hash_bytes(const void *p, size_t n, uint32_t h);
SOCCR_HIDDEN void vf_judge_socks(struct soccr_verifier *v, size_t from, int fd, uint64_t deadline);
SOCCR_HIDDEN void vf_linger(struct soccr_verifier *v, uint64_t deadline);
SOCCR_HIDDEN void vf_mib_read(const struct soccr_verifier *v, struct mib *m);
SOCCR_HIDDEN uint64_t vf_now_ms(void);
SOCCR_HIDDEN char *vf_put_str(char *p, char *end, const char *s);
SOCCR_HIDDEN char *vf_put_u32(char *p, char *end, uint32_t v);
SOCCR_HIDDEN int vf_read_diag(struct soccr_verifier *v, const struct soccr_segment *s,
			      struct soccr_verify_sock *out);
SOCCR_HIDDEN int vf_read_local(int fd, bool queues, bool send, struct soccr_verify_sock *out);
SOCCR_HIDDEN int vf_read_sock(struct soccr_verifier *v, struct seg *g, bool precise,
			      struct soccr_verify_sock *out);
SOCCR_HIDDEN uint32_t vf_seg_hkey(const struct soccr_segment *s);
SOCCR_HIDDEN int vf_seg_index_add(struct soccr_verifier *v, size_t i);
SOCCR_HIDDEN bool vf_seg_same_key(const struct soccr_segment *a, const struct soccr_segment *b);
SOCCR_HIDDEN void vf_sent_locked(struct soccr_verifier *v, struct seg *g, int err);
SOCCR_HIDDEN bool vf_sock_ok(struct seg *g, int read_err, char *why, size_t wlen);
SOCCR_HIDDEN const char *vf_state_name(int st);
SOCCR_HIDDEN void vf_verdict(struct soccr_verifier *v, struct seg *g,
			     const struct soccr_lock_entry *la, size_t nla, const struct mib *ma,
			     unsigned int drops);
SOCCR_HIDDEN void vf_wait_wire(struct soccr_verifier *v, uint64_t deadline);
SOCCR_HIDDEN void vf_write_pcap(struct soccr_verifier *v, size_t from);

#endif /* SOCCR_VERIFY_VF_H */
