// SPDX-License-Identifier: LGPL-2.1-or-later
/* Small helpers of the verifier: time, growth, flow keys, hashing, text. */
#include "verify/vf.h"

/* ---- small helpers ----------------------------------------------------------------- */

uint64_t vf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int vf_grow(void **p, size_t *cap, size_t need, size_t elem)
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

size_t vf_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

void vf_fkey_make(struct fkey *k, int family, const union soccr_inaddr *x, uint16_t px,
		  const union soccr_inaddr *y, uint16_t py)
{
	uint8_t ax[16] = {0}, ay[16] = {0};
	size_t l = vf_addr_len(family);
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
uint32_t vf_hash_bytes(const void *p, size_t n, uint32_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

uint32_t vf_seg_hkey(const struct soccr_segment *s)
{
	uint32_t h = 2166136261u;
	size_t l = vf_addr_len(s->family);

	h = vf_hash_bytes(&s->src, l, h);
	h = vf_hash_bytes(&s->dst, l, h);
	h = vf_hash_bytes(&s->sport, sizeof(s->sport), h);
	h = vf_hash_bytes(&s->dport, sizeof(s->dport), h);
	h = vf_hash_bytes(&s->seq, sizeof(s->seq), h);
	h = vf_hash_bytes(&s->ack, sizeof(s->ack), h);
	return vf_hash_bytes(&s->flags, sizeof(s->flags), h);
}

bool vf_seg_same_key(const struct soccr_segment *a, const struct soccr_segment *b)
{
	size_t l = vf_addr_len(a->family);

	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       a->seq == b->seq && a->ack == b->ack && a->flags == b->flags &&
	       !memcmp(&a->src, &b->src, l) && !memcmp(&a->dst, &b->dst, l);
}

const char *vf_state_name(int st)
{
	return soccr_tcp_state_name((unsigned int)st);
}

/* Append to a fixed buffer, "; "-separated. */
void vf_addf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vf_addf(char *buf, size_t len, const char *fmt, ...)
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
char *vf_put_str(char *p, char *end, const char *s)
{
	while (*s && p + 1 < end)
		*p++ = *s++;
	if (p < end)
		*p = '\0';
	return p;
}

char *vf_put_u32(char *p, char *end, uint32_t v)
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

const char *vf_fmt_ep(int family, const union soccr_inaddr *a, uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	return buf;
}
