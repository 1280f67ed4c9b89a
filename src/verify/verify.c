// SPDX-License-Identifier: LGPL-2.1-or-later
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
 */
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

/* ---- small helpers ----------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * elem);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void fkey_make(struct fkey *k, int family, const union soccr_inaddr *x, uint16_t px,
		      const union soccr_inaddr *y, uint16_t py)
{
	uint8_t ax[16] = {0}, ay[16] = {0};
	size_t l = addr_len(family);
	int c;

	memset(k, 0, sizeof(*k));
	memcpy(ax, x, l);
	memcpy(ay, y, l);
	c = memcmp(ax, ay, sizeof(ax));
	k->family = (uint8_t)family;
	if (c < 0 || (c == 0 && px <= py)) {
		memcpy(k->a, ax, 16);
		memcpy(k->b, ay, 16);
		k->pa = px;
		k->pb = py;
	} else {
		memcpy(k->a, ay, 16);
		memcpy(k->b, ax, 16);
		k->pa = py;
		k->pb = px;
	}
}

/* FNV-1a, good enough for a few thousand keys. */
static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t seg_hkey(const struct soccr_segment *s)
{
	uint32_t h = 2166136261u;
	size_t l = addr_len(s->family);

	h = hash_bytes(&s->src, l, h);
	h = hash_bytes(&s->dst, l, h);
	h = hash_bytes(&s->sport, sizeof(s->sport), h);
	h = hash_bytes(&s->dport, sizeof(s->dport), h);
	h = hash_bytes(&s->seq, sizeof(s->seq), h);
	h = hash_bytes(&s->ack, sizeof(s->ack), h);
	return hash_bytes(&s->flags, sizeof(s->flags), h);
}

static bool seg_same_key(const struct soccr_segment *a, const struct soccr_segment *b)
{
	size_t l = addr_len(a->family);

	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       a->seq == b->seq && a->ack == b->ack && a->flags == b->flags &&
	       !memcmp(&a->src, &b->src, l) && !memcmp(&a->dst, &b->dst, l);
}

static const char *state_name(int st)
{
	return soccr_tcp_state_name((unsigned int)st);
}

/* Append to a fixed buffer, "; "-separated. */
static void addf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 3 >= len)
		return;
	if (used) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* Append s at p (NUL-terminated, bounded by end); returns the new end of string. */
static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p + 1 < end)
		*p++ = *s++;
	if (p < end)
		*p = '\0';
	return p;
}

static char *put_u32(char *p, char *end, uint32_t v)
{
	char tmp[11];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && p + 1 < end)
		*p++ = tmp[--n];
	if (p < end)
		*p = '\0';
	return p;
}

static const char *fmt_ep(int family, const union soccr_inaddr *a, uint16_t port, char *buf,
			  size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	return buf;
}

/* ---- stack counters (hints only) --------------------------------------------------- */

/*
 * One named field of a "Proto: names" / "Proto: values" pair of lines in
 * the /proc/net file open as fd. The files are opened when the verifier is,
 * because a /proc/net file shows the netns it was opened in, whatever
 * namespace the reading thread is in by now.
 */
static long long mib_field(int fd, const char *proto, const char *field)
{
	char buf[16384], *names, *values, *end, *n, *v, *sn, *sv;
	size_t pl = strlen(proto);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	for (names = buf; names && *names;
	     names = strchr(names, '\n') ? strchr(names, '\n') + 1 : NULL) {
		if (strncmp(names, proto, pl) || names[pl] != ':')
			continue;
		end = strchr(names, '\n');
		if (!end)
			return -1;
		*end = '\0';
		values = end + 1;
		end = strchr(values, '\n');
		if (end)
			*end = '\0';
		n = strtok_r(names + pl + 1, " ", &sn);
		v = strtok_r(values + pl + 1, " ", &sv);
		for (; n && v; n = strtok_r(NULL, " ", &sn), v = strtok_r(NULL, " ", &sv))
			if (!strcmp(n, field))
				return strtoll(v, NULL, 10);
		return -1;
	}
	return -1;
}

static void mib_read(const struct soccr_verifier *v, struct mib *m)
{
	m->in_csum_errors = mib_field(v->snmp_fd, "Tcp", "InCsumErrors");
	m->rp_filter = mib_field(v->netstat_fd, "TcpExt", "IPReversePathFilter");
	m->paws = mib_field(v->netstat_fd, "TcpExt", "PAWSEstab");
	m->valid = true;
}

/* ---- the capture ------------------------------------------------------------------- */

static int filter_add_addr(char *buf, size_t len, size_t *used, int family, const void *addr,
			   bool first)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(family, addr, ip, sizeof(ip));
	n = snprintf(buf + *used, len - *used, "%shost %s", first ? "" : " or ", ip);
	if (n < 0 || (size_t)n >= len - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

/*
 * The filter text for the current flow set. Exact per-flow clauses up to
 * SOCCR_VERIFY_EXACT_FLOWS: classic BPF programs are limited to 4096
 * instructions and pcap_compile()'s optimiser grows fast with the number of
 * OR-ed clauses, so larger sets get the set of their addresses (user space
 * then matches 4-tuples).
 */
static int filter_text(struct soccr_verifier *v, char **out)
{
	size_t len = 256 + v->nflows * 200, used = 0;
	char *buf = malloc(len);
	int n;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	if (v->ifindex) {
		n = snprintf(buf + used, len - used, "ifindex %d and ", v->ifindex);
		used += (size_t)n;
	}
	if (!v->narrowed) {
		snprintf(buf + used, len - used, "tcp");
		*out = buf;
		return 0;
	}
	if (!v->nflows) {
		/* Nothing to verify yet: match nothing (compiled without the optimiser). */
		snprintf(buf + used, len - used, "tcp and not tcp");
		*out = buf;
		return 0;
	}
	n = snprintf(buf + used, len - used, "tcp and (");
	used += (size_t)n;
	if (v->nflows <= SOCCR_VERIFY_EXACT_FLOWS) {
		bool first = true;

		for (size_t i = 0; i < v->flow_cap; i++) {
			const struct fkey *k = &v->flows[i].k;
			char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

			if (!v->flows[i].used)
				continue;
			inet_ntop(k->family, k->a, a, sizeof(a));
			inet_ntop(k->family, k->b, b, sizeof(b));
			n = snprintf(buf + used, len - used,
				     "%s(host %s and host %s and port %u and port %u)",
				     first ? "" : " or ", a, b, k->pa, k->pb);
			used += (size_t)n;
			first = false;
		}
	} else {
		/* Distinct addresses, deduplicated by a linear scan of what is written. */
		uint8_t(*seen)[17] = calloc(MAX_FILTER_ADDRS, sizeof(*seen));
		size_t nseen = 0;
		bool too_many = false;

		if (!seen) {
			free(buf);
			return -ENOMEM;
		}
		for (size_t i = 0; i < v->flow_cap && !too_many; i++) {
			const struct fkey *k = &v->flows[i].k;

			if (!v->flows[i].used)
				continue;
			for (int side = 0; side < 2 && !too_many; side++) {
				uint8_t e[17];
				size_t j;

				e[0] = k->family;
				memcpy(e + 1, side ? k->b : k->a, 16);
				for (j = 0; j < nseen; j++)
					if (!memcmp(seen[j], e, sizeof(e)))
						break;
				if (j < nseen)
					continue;
				if (nseen == MAX_FILTER_ADDRS) {
					too_many = true;
					break;
				}
				memcpy(seen[nseen++], e, sizeof(e));
			}
		}
		if (too_many) {
			used -= strlen("tcp and (");
			snprintf(buf + used, len - used, "tcp");
			free(seen);
			*out = buf;
			return 0;
		}
		for (size_t j = 0; j < nseen; j++)
			if (filter_add_addr(buf, len, &used, seen[j][0], seen[j] + 1, j == 0)) {
				free(seen);
				free(buf);
				return -ENOSPC;
			}
		free(seen);
	}
	snprintf(buf + used, len - used, ")");
	*out = buf;
	return 0;
}

static int filter_apply(struct soccr_verifier *v)
{
	struct bpf_program prog;
	char *text = NULL;
	int err;

	if (!v->pc) {
		v->filter_dirty = false;
		return 0;
	}
	err = filter_text(v, &text);
	if (err)
		return err;
	/* The optimiser would reject the deliberately empty filter; others are small. */
	if (pcap_compile(v->pc, &prog, text, !(v->narrowed && !v->nflows), PCAP_NETMASK_UNKNOWN)) {
		pr_err("verify: pcap_compile '%.200s': %s", text, pcap_geterr(v->pc));
		free(text);
		return -EINVAL;
	}
	err = pcap_setfilter(v->pc, &prog) ? -EIO : 0;
	if (err)
		pr_err("verify: pcap_setfilter: %s", pcap_geterr(v->pc));
	else
		pr_dbg("verify: capture filter: %.300s", text);
	pcap_freecode(&prog);
	free(text);
	if (!err)
		v->filter_dirty = false;
	return err;
}

static int flow_find(const struct soccr_verifier *v, const struct fkey *k, size_t *slot)
{
	size_t mask, i;

	if (!v->flow_cap)
		return 0;
	mask = v->flow_cap - 1;
	for (i = hash_bytes(k, sizeof(*k), 2166136261u) & mask;; i = (i + 1) & mask) {
		if (!v->flows[i].used) {
			*slot = i;
			return 0;
		}
		if (!memcmp(&v->flows[i].k, k, sizeof(*k))) {
			*slot = i;
			return 1;
		}
	}
}

/* Add k to the flow set; 1 if it was new, 0 if present, or -ENOMEM. */
static int flow_add(struct soccr_verifier *v, const struct fkey *k)
{
	size_t slot;

	if ((v->nflows + 1) * 2 > v->flow_cap) {
		size_t cap = v->flow_cap ? v->flow_cap * 2 : 64;
		struct flowent *old = v->flows, *n = calloc(cap, sizeof(*n));
		size_t ocap = v->flow_cap;

		if (!n)
			return -ENOMEM;
		v->flows = n;
		v->flow_cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].used) {
				flow_find(v, &old[i].k, &slot);
				v->flows[slot] = old[i];
			}
		free(old);
	}
	if (flow_find(v, k, &slot))
		return 0;
	v->flows[slot].k = *k;
	v->flows[slot].used = true;
	v->nflows++;
	return 1;
}

static void seg_index_rebuild(struct soccr_verifier *v)
{
	size_t mask = v->nbuckets - 1;

	for (size_t i = 0; i < v->nbuckets; i++)
		v->buckets[i] = -1;
	for (size_t i = 0; i < v->nseg; i++) {
		struct seg *s = &v->segs[i];

		s->next = v->buckets[s->hkey & mask];
		v->buckets[s->hkey & mask] = (int)i;
	}
}

static int seg_index_add(struct soccr_verifier *v, size_t i)
{
	if (v->nseg * 2 > v->nbuckets) {
		size_t nb = v->nbuckets ? v->nbuckets * 2 : 256;
		int *b = realloc(v->buckets, nb * sizeof(*b));

		if (!b)
			return -ENOMEM;
		v->buckets = b;
		v->nbuckets = nb;
		seg_index_rebuild(v); /* includes i */
		return 0;
	}
	v->segs[i].next = v->buckets[v->segs[i].hkey & (v->nbuckets - 1)];
	v->buckets[v->segs[i].hkey & (v->nbuckets - 1)] = (int)i;
	return 0;
}

/* Interface name in the verifier's netns (if_indextoname() would use the thread's). */
static void dev_name(struct soccr_verifier *v, int ifindex, char name[IF_NAMESIZE])
{
	struct ifreq ifr;

	/* One ioctl per device and batch, not per segment. */
	if (ifindex == v->name_cache_idx) {
		memcpy(name, v->name_cache, IF_NAMESIZE);
		return;
	}
	name[0] = '\0';
	if (v->ctl_fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = ifindex;
	if (!ioctl(v->ctl_fd, SIOCGIFNAME, &ifr))
		snprintf(name, IF_NAMESIZE, "%s", ifr.ifr_name);
	v->name_cache_idx = ifindex;
	memcpy(v->name_cache, name, IF_NAMESIZE);
}

static void keep_obs(struct soccr_verifier *v, const struct pcap_pkthdr *h, const u_char *bytes)
{
	if (!v->dumper)
		return;
	if (grow((void **)&v->obs, &v->obs_cap, v->nobs + 1, sizeof(*v->obs)) ||
	    grow((void **)&v->obuf, &v->obuf_cap, v->obuf_len + h->caplen, 1))
		return; /* out of memory: the file misses a packet, the verdicts do not */
	v->obs[v->nobs].h = *h;
	v->obs[v->nobs].off = v->obuf_len;
	memcpy(v->obuf + v->obuf_len, bytes, h->caplen);
	v->obuf_len += h->caplen;
	v->nobs++;
}

/* One captured packet (DLT_LINUX_SLL2). */
static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct soccr_verifier *v = (struct soccr_verifier *)user;
	const struct sll2_header *sll = (const struct sll2_header *)bytes;
	struct soccr_segment s;
	struct fkey k;
	const u_char *l3;
	size_t l3len, slot;
	uint8_t pkttype;
	int ifindex, best = -1, differ = -1;

	if (h->caplen < SLL2_HDR_LEN)
		return;
	ifindex = (int)ntohl(sll->sll2_if_index);
	if (v->ifindex && ifindex != v->ifindex)
		return;
	pkttype = sll->sll2_pkttype;
	l3 = bytes + SLL2_HDR_LEN;
	l3len = h->caplen - SLL2_HDR_LEN;
	if (soccr_pkt_parse(l3, l3len, SOCCR_LINK_NONE, SOCCR_PARSE_NOCSUM, &s))
		return; /* not TCP, or truncated by the snap length */
	fkey_make(&k, s.family, &s.src, s.sport, &s.dst, s.dport);
	if (!flow_find(v, &k, &slot))
		return;
	keep_obs(v, h, bytes);
	if (!v->nbuckets)
		return;

	for (int i = v->buckets[seg_hkey(&s) & (v->nbuckets - 1)]; i >= 0; i = v->segs[i].next) {
		struct seg *g = &v->segs[i];
		const uint8_t *f = v->arena + g->frame_off;
		size_t glen = g->frame_len - g->l3_off;
		bool same;

		if ((size_t)i < v->judged || !seg_same_key(&g->vd.seg, &s))
			continue;
		same = glen == l3len && !memcmp(f + g->l3_off, l3, l3len);
		if (same && g->link == SOCCR_LINK_ETH) {
			/* The cooked header keeps the Ethernet type and the source address. */
			same = !memcmp(&sll->sll2_protocol, f + 12, 2) &&
			       (sll->sll2_halen != SOCCR_ETH_ALEN ||
				!memcmp(sll->sll2_addr, f + 6, SOCCR_ETH_ALEN));
		}
		if (!same) {
			if (differ < 0)
				differ = i;
			continue;
		}
		/* Duplicates of one frame: the first segment still missing this copy. */
		if (best < 0)
			best = i;
		if (pkttype == PACKET_OUTGOING ? !g->vd.seen_out : !g->vd.seen_in) {
			best = i;
			break;
		}
	}
	if (best >= 0) {
		struct seg *g = &v->segs[best];

		g->exact_seen = true;
		g->ip_csum_ok = s.ip_csum_ok;
		g->tcp_csum_ok = s.tcp_csum_ok;
		if (!s.ip_csum_ok || !s.tcp_csum_ok)
			g->csum_bad = true;
		if (pkttype == PACKET_OUTGOING) {
			g->vd.seen_out++;
		} else if (pkttype == PACKET_HOST) {
			if (!g->vd.seen_in++ && g->sent > 0 && v->pending_in)
				v->pending_in--;
		} else {
			g->vd.seen_other++;
		}
		if (!g->vd.ifindex) {
			g->vd.ifindex = ifindex;
			dev_name(v, ifindex, g->vd.ifname);
		}
	} else if (differ >= 0) {
		struct seg *g = &v->segs[differ];
		const uint8_t *f = v->arena + g->frame_off + g->l3_off;
		size_t glen = g->frame_len - g->l3_off, n = glen < l3len ? glen : l3len, o = 0;

		while (o < n && f[o] == l3[o])
			o++;
		if (!g->bytes_differ || o > g->diff_off)
			g->diff_off = o;
		g->bytes_differ = true;
	}
}

static void drain(struct soccr_verifier *v)
{
	if (!v->pc)
		return;
	while (pcap_dispatch(v->pc, -1, on_packet, (u_char *)v) > 0)
		;
	v->since_drain = 0;
}

/* ---- the socket side --------------------------------------------------------------- */

/*
 * TCP_INFO, and with queues set, for a socket in repair mode, TCP_QUEUE_SEQ
 * of the receive queue (and of the send queue with send set). Syscalls are
 * what this costs, so: TCP_REPAIR_QUEUE's getsockopt answers both "in repair
 * mode?" (-EINVAL if not) and "which queue is selected?", and the caller's
 * selection is put back only if changed.
 */
static int read_local(int fd, bool queues, bool send, struct soccr_verify_sock *out)
{
	struct soccr_tcp_info ti;
	socklen_t len = sizeof(ti);
	int q = 0, cur;

	memset(out, 0, sizeof(*out));
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	out->valid = 1;
	out->state = ti.base.tcpi_state;
	out->unacked = ti.base.tcpi_unacked;
	out->segs_in = ti.segs_in;
	out->bytes_received = ti.bytes_received;
	out->bytes_acked = ti.bytes_acked;
	if (!queues)
		return 0;
	len = sizeof(q);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, &len))
		return 0; /* not in repair mode */
	cur = q;
	if (cur != TCP_RECV_QUEUE) {
		cur = TCP_RECV_QUEUE;
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &cur, sizeof(cur)))
			return 0;
	}
	len = sizeof(out->rcv_nxt);
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &out->rcv_nxt, &len))
		goto restore;
	if (send) {
		cur = TCP_SEND_QUEUE;
		len = sizeof(out->write_seq);
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &cur, sizeof(cur)) ||
		    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &out->write_seq, &len))
			goto restore;
		out->have_write_seq = 1;
	}
	out->repair = 1;
restore:
	if (cur != q)
		setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	return 0;
}

static int read_diag(struct soccr_verifier *v, const struct soccr_segment *s,
		     struct soccr_verify_sock *out)
{
	struct soccr_tcp_info ti;
	int err;

	memset(out, 0, sizeof(*out));
	/* The segment comes from the peer: the local socket is its destination. */
	err = sc_diag_tcp(v->diag_fd, s->family, &s->dst, s->dport, &s->src, s->sport, &ti);
	if (err)
		return err;
	out->valid = 1;
	out->state = ti.base.tcpi_state;
	out->unacked = ti.base.tcpi_unacked;
	out->segs_in = ti.segs_in;
	out->bytes_received = ti.bytes_received;
	out->bytes_acked = ti.bytes_acked;
	return 0;
}

/*
 * The "after" view. precise: for a local socket in repair mode, read the
 * queue sequences too (four more syscalls); otherwise TCP_INFO alone, whose
 * bytes_received / bytes_acked deltas against the "before" view say the same
 * when nothing else moved the socket (tcp_rcv_nxt_update() and
 * tcp_snd_una_update() add exactly what rcv_nxt and snd_una advance by).
 */
static int read_sock(struct soccr_verifier *v, struct seg *g, bool precise,
		     struct soccr_verify_sock *out)
{
	if (g->fd >= 0)
		return read_local(g->fd, precise, g->vd.checks & SOCCR_VERIFY_CHECK_ACK, out);
	return read_diag(v, &g->vd.seg, out);
}

/* Sequence space a segment occupies (RFC 9293 3.4: SYN and FIN count one each). */
static uint32_t seg_space(const struct soccr_segment *s)
{
	return (uint32_t)s->payload_len + !!(s->flags & SOCCR_TCP_SYN) +
	       !!(s->flags & SOCCR_TCP_FIN);
}

/*
 * Derive checks and the expected state from the state before (RFC 9293
 * 3.10.7.4, as Linux's tcp_rcv_state_process() and tcp_fin() do it). A
 * socket whose FIN was acked and who then gets the peer's FIN goes to
 * TIME_WAIT, which a socket still held by its owner reports as CLOSE
 * (tcp_time_wait() hands over to a timewait socket and tcp_done()s it).
 */
static void derive(struct seg *g, unsigned int checks, int state)
{
	const struct soccr_segment *s = &g->vd.seg;
	const struct soccr_verify_sock *b = &g->vd.before;
	bool fin = s->flags & SOCCR_TCP_FIN, acks_more = false;

	if (!(checks & SOCCR_VERIFY_CHECK_AUTO)) {
		g->vd.checks = checks;
		g->vd.want_state = state;
		return;
	}
	g->vd.checks = 0;
	if (seg_space(s))
		g->vd.checks |= SOCCR_VERIFY_CHECK_RCV;
	if ((s->flags & SOCCR_TCP_ACK) && b->valid && b->unacked) {
		g->vd.checks |= SOCCR_VERIFY_CHECK_ACK;
		acks_more = true;
	}
	g->vd.want_state = state;
	if (state || !b->valid)
		return;
	switch (b->state) {
	case TCP_ESTABLISHED:
		g->vd.want_state = fin ? TCP_CLOSE_WAIT : TCP_ESTABLISHED;
		break;
	case TCP_FIN_WAIT1:
		if (fin)
			g->vd.want_state = acks_more ? TCP_CLOSE : TCP_CLOSING;
		else if (acks_more)
			g->vd.want_state = TCP_FIN_WAIT2;
		break;
	case TCP_FIN_WAIT2:
		g->vd.want_state = fin ? TCP_CLOSE : TCP_FIN_WAIT2;
		break;
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		if (acks_more)
			g->vd.want_state = TCP_CLOSE;
		break;
	case TCP_CLOSE_WAIT:
		if (!fin)
			g->vd.want_state = TCP_CLOSE_WAIT;
		break;
	default:
		break;
	}
}

/*
 * Judge the socket side from g->vd.after (and before, when read). Sets the
 * SEQUENCE/ACK/STATE/SOCKET/DELIVERY bits and the reason of the first
 * failure into why. Returns true if all checks pass.
 */
static bool sock_ok(struct seg *g, int read_err, char *why, size_t wlen)
{
	const struct soccr_segment *s = &g->vd.seg;
	const struct soccr_verify_sock *b = &g->vd.before, *a = &g->vd.after;
	unsigned int fail = 0;
	char ep[64];

	why[0] = '\0';
	g->vd.failed &= ~(SOCCR_VFAIL_SEQUENCE | SOCCR_VFAIL_ACK | SOCCR_VFAIL_STATE |
			  SOCCR_VFAIL_SOCKET | SOCCR_VFAIL_DELIVERY);
	if (read_err) {
		g->vd.failed |= SOCCR_VFAIL_SOCKET;
		if (g->fd >= 0)
			snprintf(why, wlen, "socket: fd %d: TCP_INFO: %s", g->fd,
				 strerror(-read_err));
		else if (read_err == -ENOENT)
			snprintf(why, wlen, "socket: no TCP socket %s <- %s (sock_diag)",
				 fmt_ep(s->family, &s->dst, s->dport, ep, sizeof(ep)),
				 fmt_ep(s->family, &s->src, s->sport, ep + 32, sizeof(ep) - 32));
		else
			snprintf(why, wlen, "socket: sock_diag: %s", strerror(-read_err));
		return false;
	}
	if (g->vd.checks & SOCCR_VERIFY_CHECK_RCV) {
		uint32_t want = s->seq + seg_space(s);

		if (a->repair) {
			if (a->rcv_nxt != want) {
				fail |= SOCCR_VFAIL_SEQUENCE;
				if (a->rcv_nxt != s->seq)
					addf(why, wlen,
					     "sequence: segment seq %u, socket rcv_nxt %u", s->seq,
					     a->rcv_nxt);
				else
					addf(why, wlen,
					     "sequence: rcv_nxt still %u, not advanced to %u",
					     a->rcv_nxt, want);
			}
		} else if (b->valid) {
			uint64_t got = a->bytes_received - b->bytes_received;

			if (got != seg_space(s)) {
				fail |= SOCCR_VFAIL_SEQUENCE;
				addf(why, wlen,
				     "sequence: receive side advanced by %llu, not %u (seq %u is "
				     "not the socket's rcv_nxt?)",
				     (unsigned long long)got, seg_space(s), s->seq);
			}
		}
	}
	if (g->vd.checks & SOCCR_VERIFY_CHECK_ACK) {
		bool ok = a->unacked == 0;

		if (a->have_write_seq)
			ok = ok && a->write_seq == s->ack;
		else if (b->valid && b->unacked)
			ok = ok && a->bytes_acked > b->bytes_acked;
		if (!ok) {
			fail |= SOCCR_VFAIL_ACK;
			if (a->have_write_seq)
				addf(why, wlen,
				     "acknowledgement: ack %u, socket write_seq %u, %u segment(s) "
				     "unacked",
				     s->ack, a->write_seq, a->unacked);
			else
				addf(why, wlen,
				     "acknowledgement: ack %u did not clear the %u unacked "
				     "segment(s)",
				     s->ack, a->unacked);
		}
	}
	if (g->vd.want_state && a->state != g->vd.want_state) {
		fail |= SOCCR_VFAIL_STATE;
		addf(why, wlen, "state: %s, expected %s", state_name(a->state),
		     state_name(g->vd.want_state));
	}
	if (fail && b->valid && a->segs_in == b->segs_in)
		fail |= SOCCR_VFAIL_DELIVERY;
	g->vd.failed |= fail;
	return !fail;
}

/* ---- open/close -------------------------------------------------------------------- */

static int copy_opts(const struct soccr_verifier_opts *in, struct soccr_verifier_opts *out)
{
	return sc_opts_copy(out, sizeof(*out), in, in ? in->sz : 0,
			       offsetof(struct soccr_verifier_opts, ifname) + sizeof(in->ifname));
}

static int open_capture(struct soccr_verifier *v, unsigned int buffer_kb)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int rc;

	/*
	 * "any": the only device offering DLT_LINUX_SLL2, whose per-packet
	 * direction and interface index tell lo's two copies apart; the
	 * filter's "ifindex N" narrows it to one device when asked.
	 */
	v->pc = pcap_create("any", errbuf);
	if (!v->pc) {
		pr_err("verify: pcap_create: %s", errbuf);
		return -EIO;
	}
	if (pcap_set_snaplen(v->pc, (int)(v->snaplen + SLL2_HDR_LEN)) ||
	    pcap_set_immediate_mode(v->pc, 1) ||
	    pcap_set_buffer_size(v->pc, (int)(buffer_kb * 1024))) {
		pr_err("verify: pcap setup: %s", pcap_geterr(v->pc));
		return -EIO;
	}
	rc = pcap_activate(v->pc);
	if (rc < 0) {
		pr_err("verify: pcap_activate: %s", pcap_geterr(v->pc));
		return rc == PCAP_ERROR_PERM_DENIED ? -EPERM : -EIO;
	}
	if (pcap_set_datalink(v->pc, DLT_LINUX_SLL2)) {
		pr_err("verify: pcap_set_datalink(LINUX_SLL2): %s", pcap_geterr(v->pc));
		return -EIO;
	}
	if (pcap_setnonblock(v->pc, 1, errbuf)) {
		pr_err("verify: pcap_setnonblock: %s", errbuf);
		return -EIO;
	}
	v->pfd = pcap_get_selectable_fd(v->pc);
	if (v->pfd < 0) {
		pr_err("verify: capture has no selectable fd");
		return -EIO;
	}
	return filter_apply(v);
}

SOCCR_API int soccr_verifier_open(const struct soccr_verifier_opts *opts,
				  struct soccr_verifier **out)
{
	struct soccr_verifier_opts o;
	struct soccr_verifier *v;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = copy_opts(opts, &o);
	if (err) {
		pr_err("verify: bad options (sz %zu)", opts ? opts->sz : (size_t)0);
		return err;
	}
	if ((o.ifname && (!*o.ifname || strlen(o.ifname) >= IF_NAMESIZE)) || o.ifindex < 0 ||
	    (o.flags & ~(SOCCR_VERIFY_NO_CAPTURE | SOCCR_VERIFY_NO_LINGER))) {
		pr_err("verify: bad options (interface or flags)");
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->mu, NULL);
	v->pfd = v->diag_fd = v->ctl_fd = v->snmp_fd = v->netstat_fd = -1;
	v->timeout_ms = o.timeout_ms ? o.timeout_ms : DEF_TIMEOUT_MS;
	v->snaplen = o.snaplen ? o.snaplen : DEF_SNAPLEN;
	v->linger_ms = (o.flags & SOCCR_VERIFY_NO_LINGER) ? 0
		       : o.linger_ms			  ? o.linger_ms
							  : DEF_LINGER_MS;
	v->lock = o.lock;
	/* Everything bound to a netns is opened now, in the caller's (see verify.h). */
	v->ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v->snmp_fd = open("/proc/thread-self/net/snmp", O_RDONLY | O_CLOEXEC);
	v->netstat_fd = open("/proc/thread-self/net/netstat", O_RDONLY | O_CLOEXEC);
	v->diag_fd = sc_diag_open();
	if (v->diag_fd < 0) {
		err = v->diag_fd;
		goto fail;
	}
	if (o.ifname) {
		v->ifindex = (int)if_nametoindex(o.ifname);
		if (!v->ifindex) {
			err = -ENODEV;
			pr_err("verify: interface %s: %s", o.ifname, strerror(ENODEV));
			goto fail;
		}
	} else {
		v->ifindex = o.ifindex;
	}
	if (v->ifindex && !if_indextoname((unsigned int)v->ifindex, v->ifname)) {
		err = -ENODEV;
		pr_err("verify: interface index %d: %s", v->ifindex, strerror(ENODEV));
		goto fail;
	}
	if (o.pcap_path) {
		if (o.flags & SOCCR_VERIFY_NO_CAPTURE) {
			pr_err("verify: a pcap file needs the capture");
			err = -EINVAL;
			goto fail;
		}
		v->dead = pcap_open_dead(DLT_LINUX_SLL2, (int)(v->snaplen + SLL2_HDR_LEN));
		if (!v->dead) {
			err = -ENOMEM;
			goto fail;
		}
		v->dumper = pcap_dump_open(v->dead, o.pcap_path);
		if (!v->dumper) {
			pr_err("verify: pcap file %s: %s", o.pcap_path, pcap_geterr(v->dead));
			err = -EIO;
			goto fail;
		}
	}
	/*
	 * All TCP until a flow set is given: a restore driven through the hook
	 * announces its flows only after each send, and user space matches
	 * 4-tuples anyway.
	 */
	v->narrowed = false;
	if (!(o.flags & SOCCR_VERIFY_NO_CAPTURE)) {
		err = open_capture(v, o.buffer_kb ? o.buffer_kb : DEF_BUFFER_KB);
		if (err)
			goto fail;
	}
	*out = v;
	return 0;
fail:
	soccr_verifier_close(v);
	return err;
}

SOCCR_API void soccr_verifier_close(struct soccr_verifier *v)
{
	if (!v)
		return;
	if (v->dumper)
		pcap_dump_close(v->dumper);
	if (v->dead)
		pcap_close(v->dead);
	if (v->pc)
		pcap_close(v->pc);
	if (v->diag_fd >= 0)
		close(v->diag_fd);
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	if (v->snmp_fd >= 0)
		close(v->snmp_fd);
	if (v->netstat_fd >= 0)
		close(v->netstat_fd);
	free(v->segs);
	free(v->arena);
	free(v->buckets);
	free(v->flows);
	free(v->obs);
	free(v->obuf);
	free(v->lock_before);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* ---- batches ----------------------------------------------------------------------- */

static void lock_snapshot(struct soccr_verifier *v)
{
	if (!v->lock || v->lock_snap)
		return;
	free(v->lock_before);
	v->lock_before = NULL;
	v->nlock_before = 0;
	if (soccr_lock_list(v->lock, &v->lock_before, &v->nlock_before))
		v->nlock_before = 0;
	v->lock_snap = true;
}

/* Start-of-batch baselines for the hints. */
static void batch_baselines(struct soccr_verifier *v)
{
	struct pcap_stat st;

	if (v->lock_snap)
		return;
	lock_snapshot(v);
	v->lock_snap = true;
	mib_read(v, &v->mib_before);
	if (v->pc && !pcap_stats(v->pc, &st))
		v->pcap_drops_before = st.ps_drop;
}

SOCCR_API int soccr_verifier_set_flows(struct soccr_verifier *v, const struct soccr_flow *flows,
				       size_t n)
{
	int err = 0;

	if (!v || (n && !flows))
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	/* Packets of the previous flow set still in the ring belong to it: match them first. */
	drain(v);
	if (v->flows)
		memset(v->flows, 0, v->flow_cap * sizeof(*v->flows));
	v->nflows = 0;
	v->narrowed = n || flows;
	for (size_t i = 0; i < n; i++) {
		struct fkey k;

		if (flows[i].family != AF_INET && flows[i].family != AF_INET6) {
			err = -EINVAL;
			goto out;
		}
		fkey_make(&k, flows[i].family, &flows[i].saddr, flows[i].sport, &flows[i].daddr,
			  flows[i].dport);
		err = flow_add(v, &k);
		if (err < 0)
			goto out;
		err = 0;
	}
	/* Segments still being judged keep their flows. */
	for (size_t i = v->judged; i < v->nseg; i++) {
		const struct soccr_segment *s = &v->segs[i].vd.seg;
		struct fkey k;

		fkey_make(&k, s->family, &s->src, s->sport, &s->dst, s->dport);
		if (flow_add(v, &k) < 0) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = filter_apply(v);
	batch_baselines(v);
out:
	pthread_mutex_unlock(&v->mu);
	return err;
}

static int expect_locked(struct soccr_verifier *v, const void *frame, size_t len,
			 enum soccr_link link, int ifindex, int fd, unsigned int checks, int state,
			 bool before)
{
	struct soccr_segment s;
	struct seg *g;
	struct fkey k;
	size_t i;
	int err;

	err = soccr_pkt_parse(frame, len, link, SOCCR_PARSE_NOCSUM, &s);
	if (err) {
		pr_err("verify: the frame to verify does not parse: %s", strerror(-err));
		return err;
	}
	if (grow((void **)&v->segs, &v->seg_cap, v->nseg + 1, sizeof(*v->segs)) ||
	    grow((void **)&v->arena, &v->arena_cap, v->arena_len + len, 1))
		return -ENOMEM;
	if (!v->nseg || v->judged == v->nseg)
		batch_baselines(v);
	i = v->nseg;
	g = &v->segs[i];
	memset(g, 0, sizeof(*g));
	memcpy(v->arena + v->arena_len, frame, len);
	g->frame_off = v->arena_len;
	g->frame_len = (uint32_t)len;
	g->l3_off = (uint32_t)s.l3_off;
	g->link = link;
	g->fd = fd;
	g->hkey = seg_hkey(&s);
	gettimeofday(&g->ts, NULL);
	s.payload = NULL;
	g->vd.seg = s;
	g->vd.ifindex = ifindex;
	g->ip_csum_ok = s.ip_csum_ok;
	g->tcp_csum_ok = s.tcp_csum_ok;
	if (ifindex)
		dev_name(v, ifindex, g->vd.ifname);
	if (before) {
		/* Repair-mode queues are read afterwards only: the segment itself says where
		 * rcv_nxt must be. */
		if (fd >= 0)
			read_local(fd, false, false, &g->vd.before);
		else if (read_diag(v, &s, &g->vd.before))
			memset(&g->vd.before, 0, sizeof(g->vd.before));
	}
	derive(g, checks ? checks : SOCCR_VERIFY_CHECK_AUTO, state);
	v->arena_len += len;
	v->nseg++;
	err = seg_index_add(v, i);
	if (err) {
		v->nseg--;
		return err;
	}
	fkey_make(&k, s.family, &s.src, s.sport, &s.dst, s.dport);
	err = flow_add(v, &k);
	if (err < 0)
		return err;
	if (err > 0 && v->narrowed) {
		err = filter_apply(v);
		if (err)
			return err;
	}
	if (v->snaplen < len - s.l3_off)
		pr_dbg("verify: frame of %zu bytes above the snap length %u: it will not be "
		       "matched",
		       len, v->snaplen);
	return (int)i;
}

SOCCR_API int soccr_verifier_expect(struct soccr_verifier *v, const void *frame, size_t len,
				    enum soccr_link link, int ifindex,
				    const struct soccr_verify_expect *exp)
{
	struct soccr_verify_expect e = {.sz = sizeof(e), .fd = -1};
	int ret;

	if (!v || !frame || (link != SOCCR_LINK_NONE && link != SOCCR_LINK_ETH) || ifindex < 0)
		return -EINVAL;
	if (exp) {
		if (exp->sz < offsetof(struct soccr_verify_expect, checks) + sizeof(exp->checks))
			return -EINVAL;
		e.fd = exp->fd;
		e.state = exp->state;
		e.checks = exp->checks;
	}
	if (e.checks & ~(SOCCR_VERIFY_CHECK_RCV | SOCCR_VERIFY_CHECK_ACK | SOCCR_VERIFY_CHECK_AUTO |
			 SOCCR_VERIFY_PRECISE))
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	ret = expect_locked(v, frame, len, link, ifindex, e.fd < 0 ? -1 : e.fd,
			    e.checks & ~SOCCR_VERIFY_PRECISE, e.state, true);
	if (ret >= 0)
		v->segs[ret].precise = e.checks & SOCCR_VERIFY_PRECISE;
	pthread_mutex_unlock(&v->mu);
	return ret;
}

static void sent_locked(struct soccr_verifier *v, struct seg *g, int err)
{
	if (g->sent)
		return;
	g->sent = err ? -1 : 1;
	g->vd.send_err = err;
	if (!err && !g->vd.seen_in)
		v->pending_in++;
	if (v->pc && ++v->since_drain >= DRAIN_EVERY)
		drain(v);
}

SOCCR_API int soccr_verifier_sent(struct soccr_verifier *v, int id, int err)
{
	if (!v || id < 0 || err > 0)
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	if ((size_t)id >= v->nseg || (size_t)id < v->judged) {
		pthread_mutex_unlock(&v->mu);
		return -EINVAL;
	}
	sent_locked(v, &v->segs[id], err);
	pthread_mutex_unlock(&v->mu);
	return 0;
}

/* Wait (bounded) until every sent segment was seen entering the stack. */
static void wait_wire(struct soccr_verifier *v, uint64_t deadline)
{
	drain(v);
	while (v->pending_in) {
		uint64_t now = now_ms();
		struct pollfd pfd = {.fd = v->pfd, .events = POLLIN};

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		drain(v);
	}
}

/* Keep draining the capture until the deadline (context for the pcap file). */
static void linger(struct soccr_verifier *v, uint64_t deadline)
{
	for (uint64_t now = now_ms(); now < deadline; now = now_ms()) {
		struct pollfd pfd = {.fd = v->pfd, .events = POLLIN};

		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		drain(v);
	}
}

/* Judge the socket side of segs[from..nseg) matching fd (-2: all), retrying until deadline. */
static void judge_socks(struct soccr_verifier *v, size_t from, int fd, uint64_t deadline)
{
	char why[192];

	for (;;) {
		bool again = false;

		for (size_t i = from; i < v->nseg; i++) {
			struct seg *g = &v->segs[i];
			int err;

			if (g->sock_done || (fd != -2 && g->fd != fd))
				continue;
			/*
			 * The cheap view first when there is a "before" to compare
			 * with; the queue sequences when it does not pass (a precise
			 * verdict, and the numbers for the reason) or there is none.
			 */
			err = read_sock(v, g, g->precise || !g->vd.before.valid, &g->vd.after);
			if (!err && g->vd.before.valid && g->fd >= 0 &&
			    !sock_ok(g, 0, why, sizeof(why)))
				err = read_sock(v, g, true, &g->vd.after);
			g->read_err = err;
			if (sock_ok(g, err, why, sizeof(why)) || err) {
				g->sock_done = true;
				continue;
			}
			/*
			 * Worth waiting only if the frame can still arrive: it was
			 * sent and either seen entering the stack or not captured.
			 */
			if (g->sent > 0 && (g->vd.seen_in || !v->pc))
				again = true;
		}
		if (!again || now_ms() >= deadline)
			break;
		usleep(RECHECK_US);
	}
	for (size_t i = from; i < v->nseg; i++)
		if (fd == -2 || v->segs[i].fd == fd)
			v->segs[i].sock_done = true;
}

static bool lock_counters(const struct soccr_lock_entry *e, size_t n, const struct seg *g,
			  uint64_t *drop, uint64_t *pass)
{
	const struct soccr_segment *s = &g->vd.seg;
	size_t l = addr_len(s->family);

	for (size_t i = 0; i < n; i++) {
		const struct soccr_flow *f = &e[i].flow;
		int dir;

		if (f->family != s->family)
			continue;
		/* Our segment goes peer -> local; the entry's [1] is daddr -> saddr. */
		if (!memcmp(&f->saddr, &s->dst, l) && !memcmp(&f->daddr, &s->src, l) &&
		    f->sport == s->dport && f->dport == s->sport)
			dir = 1;
		else if (!memcmp(&f->saddr, &s->src, l) && !memcmp(&f->daddr, &s->dst, l) &&
			 f->sport == s->sport && f->dport == s->dport)
			dir = 0;
		else
			continue;
		*drop = e[i].dropped[dir];
		*pass = e[i].passed[dir];
		return true;
	}
	return false;
}

static int dev_flags(struct soccr_verifier *v, const char *ifname)
{
	struct ifreq ifr;

	if (v->ctl_fd < 0 || !ifname[0])
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(v->ctl_fd, SIOCGIFFLAGS, &ifr))
		return -1;
	return ifr.ifr_flags;
}

/* Compose the verdict of g; ends with the hint. */
static void verdict(struct soccr_verifier *v, struct seg *g, const struct soccr_lock_entry *la,
		    size_t nla, const struct mib *ma, unsigned int drops)
{
	struct soccr_verdict *vd = &g->vd;
	char why[192];
	bool sock_pass;
	uint64_t d0 = 0, p0 = 0, d1 = 0, p1 = 0;
	int fl;

	vd->reason[0] = vd->hint[0] = '\0';
	/* Re-run the judgement on the final views to get the reason text. */
	sock_pass = sock_ok(g, g->read_err, why, sizeof(why));
	if (g->sent < 0) {
		vd->kind = SOCCR_VERDICT_NOT_SEEN;
		vd->failed |= SOCCR_VFAIL_SEND | SOCCR_VFAIL_WIRE;
		snprintf(vd->reason, sizeof(vd->reason), "send failed: %s",
			 strerror(-vd->send_err));
	} else if (v->pc && !g->exact_seen && !g->bytes_differ) {
		vd->kind = SOCCR_VERDICT_NOT_SEEN;
		vd->failed |= SOCCR_VFAIL_WIRE;
		snprintf(vd->reason, sizeof(vd->reason), "not captured within %u ms%s",
			 v->timeout_ms, g->sent ? "" : " (its send was never reported)");
		if (g->flow_late)
			addf(vd->hint, sizeof(vd->hint),
			     "its flow joined the capture filter after the send");
	} else if (v->pc && !g->exact_seen) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		vd->failed |= SOCCR_VFAIL_BYTES;
		snprintf(vd->reason, sizeof(vd->reason),
			 "bytes: captured, but differing from the frame built at IP offset %zu",
			 g->diff_off);
	} else if (g->csum_bad) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		vd->failed |= SOCCR_VFAIL_CHECKSUM;
		snprintf(vd->reason, sizeof(vd->reason),
			 "checksum: %s checksum invalid on the wire",
			 !g->ip_csum_ok ? "IPv4 header" : "TCP");
	} else if (!sock_pass) {
		vd->kind = SOCCR_VERDICT_NOT_ABSORBED;
		snprintf(vd->reason, sizeof(vd->reason), "%s", why);
	} else {
		char *p = vd->reason, *end = vd->reason + sizeof(vd->reason);

		/* The common case, for every socket of a batch: no printf. */
		vd->kind = SOCCR_VERDICT_ABSORBED;
		vd->failed = 0;
		if (vd->before.valid && vd->before.state != vd->after.state) {
			p = put_str(p, end, state_name(vd->before.state));
			p = put_str(p, end, " -> ");
		} else {
			p = put_str(p, end, "state ");
		}
		p = put_str(p, end, state_name(vd->after.state));
		if (vd->after.repair && (vd->checks & SOCCR_VERIFY_CHECK_RCV)) {
			p = put_str(p, end, "; rcv_nxt ");
			p = put_u32(p, end, vd->after.rcv_nxt);
		}
		if (vd->after.have_write_seq && (vd->checks & SOCCR_VERIFY_CHECK_ACK)) {
			p = put_str(p, end, "; acked up to ");
			p = put_u32(p, end, vd->after.write_seq);
		}
	}
	if (v->pc) {
		char *p = vd->hint + strlen(vd->hint), *end = vd->hint + sizeof(vd->hint);

		if (p != vd->hint)
			p = put_str(p, end, "; ");
		p = put_str(p, end, "seen out ");
		p = put_u32(p, end, vd->seen_out);
		p = put_str(p, end, ", in ");
		p = put_u32(p, end, vd->seen_in);
		if (vd->seen_other) {
			p = put_str(p, end, ", otherhost ");
			p = put_u32(p, end, vd->seen_other);
		}
		if (vd->ifname[0]) {
			p = put_str(p, end, " on ");
			p = put_str(p, end, vd->ifname);
		}
	}
	if (vd->kind == SOCCR_VERDICT_ABSORBED)
		return;

	/* Hints: what else we know about where it went. */
	if (vd->ifname[0]) {
		fl = dev_flags(v, vd->ifname);
		if (fl >= 0 && !(fl & IFF_UP))
			addf(vd->hint, sizeof(vd->hint), "device %s is down", vd->ifname);
	} else if (vd->ifindex) {
		addf(vd->hint, sizeof(vd->hint), "device index %d no longer exists", vd->ifindex);
	}
	if (la && lock_counters(la, nla, g, &d1, &p1)) {
		if (v->nlock_before)
			lock_counters(v->lock_before, v->nlock_before, g, &d0, &p0);
		if (d1 > d0)
			addf(vd->hint, sizeof(vd->hint),
			     "the lock dropped %llu packet(s) of this flow toward the socket (%s)",
			     (unsigned long long)(d1 - d0),
			     vd->seen_in ? "at tc ingress, after the capture point"
					 : "unmarked: at tc egress, before the capture point");
		else
			addf(vd->hint, sizeof(vd->hint), "flow locked: %llu dropped, %llu passed",
			     (unsigned long long)d1, (unsigned long long)p1);
	}
	if (ma && ma->valid && v->mib_before.valid) {
		if (ma->in_csum_errors > v->mib_before.in_csum_errors)
			addf(vd->hint, sizeof(vd->hint), "Tcp InCsumErrors +%lld",
			     ma->in_csum_errors - v->mib_before.in_csum_errors);
		if (ma->rp_filter > v->mib_before.rp_filter)
			addf(vd->hint, sizeof(vd->hint), "IPReversePathFilter +%lld (rp_filter)",
			     ma->rp_filter - v->mib_before.rp_filter);
		if (ma->paws > v->mib_before.paws)
			addf(vd->hint, sizeof(vd->hint), "PAWSEstab +%lld (timestamp)",
			     ma->paws - v->mib_before.paws);
	}
	if (drops > v->pcap_drops_before)
		addf(vd->hint, sizeof(vd->hint), "the capture dropped %u packet(s)",
		     drops - v->pcap_drops_before);
	if (vd->kind == SOCCR_VERDICT_NOT_ABSORBED) {
		if (vd->failed & SOCCR_VFAIL_DELIVERY)
			addf(vd->hint, sizeof(vd->hint),
			     "never reached the socket (segs_in unchanged): dropped after the "
			     "capture point (lock at ingress, firewall, rp_filter, checksum)");
		else if (!vd->before.valid && vd->after.repair &&
			 (vd->checks & SOCCR_VERIFY_CHECK_RCV) && vd->after.rcv_nxt == vd->seg.seq)
			/*
			 * No "before" view (the restore hook), but the socket waits for
			 * exactly this sequence number: TCP would have taken it.
			 */
			addf(vd->hint, sizeof(vd->hint),
			     "its seq is the socket's rcv_nxt, yet it was not taken: dropped after "
			     "the capture point (firewall, lock at ingress, rp_filter) or an "
			     "unacceptable ack");
		else if (vd->failed & (SOCCR_VFAIL_SEQUENCE | SOCCR_VFAIL_ACK))
			addf(vd->hint, sizeof(vd->hint), "wrong seq/ack for the socket");
		if (vd->seen_out && !vd->seen_in && !vd->seen_other)
			addf(vd->hint, sizeof(vd->hint),
			     "transmitted but never received: nothing turned it back to ingress");
		if (vd->seen_other && !vd->seen_in)
			addf(vd->hint, sizeof(vd->hint),
			     "received as not for this host: wrong destination MAC");
	}
}

/* Write the batch's captured packets and the never-seen frames, in time order. */
static void write_pcap(struct soccr_verifier *v, size_t from)
{
	size_t o = 0, i = from;

	if (!v->dumper)
		return;
	while (o < v->nobs || i < v->nseg) {
		struct seg *g = NULL;

		while (i < v->nseg && v->segs[i].exact_seen)
			i++;
		if (i < v->nseg)
			g = &v->segs[i];
		if (o < v->nobs && (!g || timercmp(&v->obs[o].h.ts, &g->ts, <))) {
			pcap_dump((u_char *)v->dumper, &v->obs[o].h, v->obuf + v->obs[o].off);
			o++;
		} else if (g) {
			/* As built, as an outgoing packet of its device. */
			unsigned char rec[SLL2_HDR_LEN + DEF_SNAPLEN];
			struct sll2_header *h = (struct sll2_header *)rec;
			const uint8_t *f = v->arena + g->frame_off;
			size_t l3 = g->frame_len - g->l3_off;
			struct pcap_pkthdr ph;

			memset(h, 0, sizeof(*h));
			h->sll2_protocol = htons(g->vd.seg.family == AF_INET ? 0x0800 : 0x86dd);
			h->sll2_if_index = htonl((uint32_t)g->vd.ifindex);
			h->sll2_hatype = htons(g->link == SOCCR_LINK_ETH ? 1 : 0xfffe);
			h->sll2_pkttype = PACKET_OUTGOING;
			if (g->link == SOCCR_LINK_ETH) {
				h->sll2_halen = SOCCR_ETH_ALEN;
				memcpy(h->sll2_addr, f + 6, SOCCR_ETH_ALEN);
			}
			ph.ts = g->ts;
			ph.len = (bpf_u_int32)(SLL2_HDR_LEN + l3);
			if (l3 > DEF_SNAPLEN)
				l3 = DEF_SNAPLEN;
			ph.caplen = (bpf_u_int32)(SLL2_HDR_LEN + l3);
			memcpy(rec + SLL2_HDR_LEN, f + g->l3_off, l3);
			pcap_dump((u_char *)v->dumper, &ph, rec);
			i++;
		}
	}
	if (pcap_dump_flush(v->dumper))
		pr_err("verify: writing the pcap file failed");
	v->nobs = 0;
	v->obuf_len = 0;
}

SOCCR_API int soccr_verifier_collect(struct soccr_verifier *v)
{
	struct soccr_lock_entry *la = NULL;
	struct pcap_stat st;
	struct mib ma = {0};
	size_t nla = 0, from;
	unsigned int drops = 0;
	int bad = 0;
	bool any_bad = false;

	if (!v)
		return -EINVAL;
	pthread_mutex_lock(&v->mu);
	from = v->judged;
	if (v->pc) {
		wait_wire(v, now_ms() + v->timeout_ms);
		if (v->dumper && v->linger_ms)
			linger(v, now_ms() + v->linger_ms);
	}
	judge_socks(v, from, -2, now_ms() + v->timeout_ms);
	/* Hint sources, read only when something went wrong. */
	for (size_t i = from; i < v->nseg && !any_bad; i++) {
		struct seg *g = &v->segs[i];
		char why[192];

		if (g->sent < 0 || (v->pc && (!g->exact_seen || g->csum_bad)) ||
		    !sock_ok(g, g->read_err, why, sizeof(why)))
			any_bad = true;
	}
	if (v->pc && sc_log_enabled(SOCCR_LOG_DBG) && !pcap_stats(v->pc, &st))
		pr_dbg("verify: batch of %zu segments: capture received %u, dropped %u (since "
		       "open)",
		       v->nseg - from, st.ps_recv, st.ps_drop);
	if (any_bad) {
		if (v->lock && soccr_lock_list(v->lock, &la, &nla))
			nla = 0;
		mib_read(v, &ma);
		if (v->pc && !pcap_stats(v->pc, &st))
			drops = st.ps_drop;
	}
	for (size_t i = from; i < v->nseg; i++) {
		struct seg *g = &v->segs[i];

		verdict(v, g, la, nla, &ma, drops);
		g->judged = true;
		if (g->vd.kind != SOCCR_VERDICT_ABSORBED)
			bad++;
	}
	write_pcap(v, from);
	v->name_cache_idx = 0;
	v->judged = v->nseg;
	v->pending_in = 0;
	v->lock_snap = false;
	free(la);
	/*
	 * The batch is over: empty the flow set, so that nothing piles up in the
	 * ring until the next batch (connection set-up and tear-down traffic
	 * would otherwise fill it and cost the next batch its processing).
	 */
	if (v->pc && v->narrowed && v->nflows) {
		memset(v->flows, 0, v->flow_cap * sizeof(*v->flows));
		v->nflows = 0;
		filter_apply(v);
	}
	pthread_mutex_unlock(&v->mu);
	return bad;
}

SOCCR_API size_t soccr_verifier_count(const struct soccr_verifier *v)
{
	return v ? v->nseg : 0;
}

SOCCR_API const struct soccr_verdict *soccr_verifier_verdict(const struct soccr_verifier *v,
							     size_t i)
{
	if (!v || i >= v->nseg)
		return NULL;
	return &v->segs[i].vd;
}

SOCCR_API void soccr_verifier_reset(struct soccr_verifier *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	v->nseg = v->judged = v->pending_in = 0;
	v->arena_len = 0;
	v->nobs = v->obuf_len = 0;
	for (size_t i = 0; i < v->nbuckets; i++)
		v->buckets[i] = -1;
	v->lock_snap = false;
	pthread_mutex_unlock(&v->mu);
}

SOCCR_API const char *soccr_verdict_name(enum soccr_verdict_kind kind)
{
	switch (kind) {
	case SOCCR_VERDICT_ABSORBED:
		return "absorbed";
	case SOCCR_VERDICT_NOT_ABSORBED:
		return "not-absorbed";
	case SOCCR_VERDICT_NOT_SEEN:
		return "not-seen";
	default:
		return "pending";
	}
}

static void flags_str(uint8_t f, char *buf)
{
	static const char letters[] = "FSRPAUEC";
	int n = 0;

	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			buf[n++] = letters[i];
	if (!n)
		buf[n++] = '.';
	buf[n] = '\0';
}

static void flow_str(const struct soccr_segment *s, char *buf, size_t len)
{
	char a[64], b[64];

	snprintf(buf, len, "%s > %s", fmt_ep(s->family, &s->src, s->sport, a, sizeof(a)),
		 fmt_ep(s->family, &s->dst, s->dport, b, sizeof(b)));
}

SOCCR_API int soccr_verdict_str(const struct soccr_verdict *vd, char *buf, size_t len)
{
	char flow[160], fl[9];

	if (!vd || !buf)
		return -EINVAL;
	flow_str(&vd->seg, flow, sizeof(flow));
	flags_str(vd->seg.flags, fl);
	return snprintf(buf, len, "%s [%s] seq %u ack %u: %s: %s%s%s%s", flow, fl, vd->seg.seq,
			vd->seg.ack, soccr_verdict_name(vd->kind), vd->reason,
			vd->hint[0] ? " (" : "", vd->hint, vd->hint[0] ? ")" : "");
}

/* ---- JSON -------------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if (grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1)) {
			b->oom = true;
			return;
		}
	}
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "\"");
}

static const char *const fail_names[] = {
	"send",	 "wire",   "bytes",    "checksum", "sequence", "acknowledgement",
	"state", "socket", "delivery",
};

static void sb_sock(struct sbuf *b, const char *name, const struct soccr_verify_sock *s)
{
	if (!s->valid) {
		sb_printf(b, ",\"%s\":null", name);
		return;
	}
	sb_printf(b,
		  ",\"%s\":{\"state\":\"%s\",\"segs_in\":%u,\"bytes_received\":%llu,"
		  "\"bytes_acked\":%llu,\"unacked\":%u",
		  name, state_name(s->state), s->segs_in, (unsigned long long)s->bytes_received,
		  (unsigned long long)s->bytes_acked, s->unacked);
	if (s->repair)
		sb_printf(b, ",\"rcv_nxt\":%u", s->rcv_nxt);
	if (s->have_write_seq)
		sb_printf(b, ",\"write_seq\":%u", s->write_seq);
	sb_printf(b, "}");
}

SOCCR_API int soccr_verifier_json(const struct soccr_verifier *v, char **out)
{
	struct sbuf b = {0};
	size_t count[4] = {0};

	if (!v || !out)
		return -EINVAL;
	*out = NULL;
	sb_printf(&b, "{\"segments\":[");
	for (size_t i = 0; i < v->nseg; i++) {
		const struct soccr_verdict *vd = &v->segs[i].vd;
		char flow[160], fl[9];
		bool first = true;

		count[vd->kind]++;
		flow_str(&vd->seg, flow, sizeof(flow));
		flags_str(vd->seg.flags, fl);
		sb_printf(&b, "%s{\"flow\":", i ? "," : "");
		sb_str(&b, flow);
		sb_printf(&b, ",\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,\"len\":%zu,\"dev\":", fl,
			  vd->seg.seq, vd->seg.ack, vd->seg.payload_len);
		sb_str(&b, vd->ifname);
		sb_printf(&b, ",\"verdict\":\"%s\",\"reason\":", soccr_verdict_name(vd->kind));
		sb_str(&b, vd->reason);
		sb_printf(&b, ",\"hint\":");
		sb_str(&b, vd->hint);
		sb_printf(&b, ",\"failed\":[");
		for (size_t k = 0; k < ARRAY_SIZE(fail_names); k++)
			if (vd->failed & (1u << k)) {
				sb_printf(&b, "%s\"%s\"", first ? "" : ",", fail_names[k]);
				first = false;
			}
		sb_printf(&b, "],\"seen\":{\"out\":%u,\"in\":%u,\"otherhost\":%u}", vd->seen_out,
			  vd->seen_in, vd->seen_other);
		if (vd->want_state)
			sb_printf(&b, ",\"expected_state\":\"%s\"", state_name(vd->want_state));
		sb_sock(&b, "before", &vd->before);
		sb_sock(&b, "after", &vd->after);
		sb_printf(&b, "}");
	}
	sb_printf(&b, "],\"absorbed\":%zu,\"not_absorbed\":%zu,\"not_seen\":%zu,\"pending\":%zu}",
		  count[SOCCR_VERDICT_ABSORBED], count[SOCCR_VERDICT_NOT_ABSORBED],
		  count[SOCCR_VERDICT_NOT_SEEN], count[SOCCR_VERDICT_PENDING]);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	return 0;
}

/* ---- the restore observer (soccr_restore_ext()) -------------------------------------- */

/* One injected frame (link framing, device, receiving socket, what it must show, send result). */
static void observe_frame(struct soccr_verifier *v, const void *frame, size_t len,
			  enum soccr_link link, int ifindex, int fd,
			  const struct soccr_restore_expect *exp, int send_err)
{
	unsigned int checks = 0;
	size_t nflows;
	int id;

	if (!frame)
		return;
	if (exp) {
		checks = (exp->check_rcv ? SOCCR_VERIFY_CHECK_RCV : 0) |
			 (exp->check_ack ? SOCCR_VERIFY_CHECK_ACK : 0);
		/* Nothing stated: derive (without a "before" view, only the receive check). */
		if (!checks && !exp->state)
			checks = SOCCR_VERIFY_CHECK_AUTO;
	}
	pthread_mutex_lock(&v->mu);
	nflows = v->nflows;
	id = expect_locked(v, frame, len, link, ifindex, fd,
			   checks ? checks : SOCCR_VERIFY_CHECK_AUTO, exp ? exp->state : 0, false);
	if (id >= 0) {
		/* A flow the caller did not announce entered the filter only now. */
		if (v->narrowed && v->nflows > nflows)
			v->segs[id].flow_late = true;
		sent_locked(v, &v->segs[id], send_err);
	}
	pthread_mutex_unlock(&v->mu);
}

static void observe_segment(void *ctx, int fd, const struct soccr_segment *seg,
			    enum soccr_link link, int ifindex, const struct soccr_restore_expect *exp,
			    int send_err)
{
	uint8_t frame[SOCCR_ETH_HLEN + 60 + 60 + 512];
	ssize_t n;

	if (!seg)
		return;
	n = soccr_pkt_build(seg, link, frame, sizeof(frame));
	if (n < 0) {
		pr_dbg("verify: observer: segment not rebuilt (%s): not verified", strerror((int)-n));
		return;
	}
	observe_frame(ctx, frame, (size_t)n, link, ifindex, fd, exp, send_err);
}

/*
 * Where the segments still waiting for their socket side start: a restore
 * reports its segments and then their view, so only the tail of the batch
 * is pending; scanning it backwards keeps a batch of n restores O(n). A
 * segment left behind (its view never reported) is judged by collect().
 */
static size_t pending_from(const struct soccr_verifier *v)
{
	size_t i = v->nseg;

	while (i > v->judged && !v->segs[i - 1].sock_done)
		i--;
	return i;
}

static void observe_view(void *ctx, int fd, const struct soccr_restore_view *view)
{
	struct soccr_verifier *v = ctx;

	if (!view)
		return;
	pthread_mutex_lock(&v->mu);
	for (size_t i = pending_from(v); i < v->nseg; i++) {
		struct seg *g = &v->segs[i];
		struct soccr_verify_sock *a = &g->vd.after;

		if (g->fd != fd || g->sock_done)
			continue;
		memset(a, 0, sizeof(*a));
		a->valid = 1;
		a->state = view->state;
		a->repair = view->have_rcv_nxt;
		a->rcv_nxt = view->rcv_nxt;
		/* SIOCOUTQ bytes: only whether anything is left unacknowledged matters here. */
		a->unacked = view->have_outq && view->outq > 0 ? 1 : 0;
		g->read_err = 0;
		g->sock_done = true;
	}
	pthread_mutex_unlock(&v->mu);
}

SOCCR_API int soccr_verifier_observer(struct soccr_verifier *v, struct soccr_restore_observer *obs)
{
	if (!v || !obs)
		return -EINVAL;
	memset(obs, 0, sizeof(*obs));
	obs->sz = sizeof(*obs);
	obs->segment = observe_segment;
	obs->view = observe_view;
	obs->ctx = v;
	return 0;
}

SOCCR_API void soccr_verifier_sock_done(struct soccr_verifier *v, int fd)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->mu);
	/* The segments sent are usually processed by now; give the capture a look first. */
	drain(v);
	judge_socks(v, pending_from(v), fd, now_ms() + v->timeout_ms);
	pthread_mutex_unlock(&v->mu);
}
