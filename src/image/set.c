// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A set of checkpointed sockets (every TCP socket of a process, listeners
 * included): format version 2, built around version 1 images.
 *
 *   off  len  field
 *     0    8  magic "SOCCRIMG"
 *     8    2  version (2)
 *    10    2  header length (112)
 *    12    4  set flags (none yet: 0)
 *    16    8  total length of the file, CRC included
 *    24    8  save time, ns since the epoch (CLOCK_REALTIME)
 *    32    4  pid of the saved process (0: unknown)
 *    36    4  socket count (1 .. SOCCR_IMAGE_SET_MAX_SOCKS)
 *    40   64  hostname, NUL-terminated, NUL-padded
 *   104    8  reserved, 0
 *   112       the records, one per socket:
 *               0  4  record length (16 + body)
 *               4  2  kind: 1 connection, 2 listener
 *               6  2  reserved, 0
 *               8  4  fd number in the saved process (int32, -1: unknown)
 *              12  4  reserved, 0
 *              16     body: a connection is a complete version 1 image;
 *                     a listener is 48 bytes:
 *                       0  2  family: 2 or 10
 *                       2  2  port (non-zero)
 *                       4 16  address (IPv4 in the first 4 bytes, rest 0)
 *                      20  4  backlog (1 .. 65535)
 *                      24  4  options (SOCCR_LISTEN_*)
 *                      28  4  connections pending at save (not in the image)
 *                      32 16  reserved, 0
 *   end-4  4  CRC-32 of every byte before it
 *
 * The offsets of magic, version and total length are those of version 1,
 * so that one reader tells them apart and bounds its read the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <soccr/image.h>

#include "image/img.h"

enum {
	S_MAGIC = 0,
	S_VERSION = 8,
	S_HDR_LEN = 10,
	S_FLAGS = 12,
	S_TOTAL = 16,
	S_TIME = 24,
	S_PID = 32,
	S_COUNT = 36,
	S_HOSTNAME = 40,
	S_RESERVED = 104,
};
_Static_assert(S_RESERVED + 8 == SOCCR_IMAGE_SET_HDR_LEN, "set header layout");

enum { R_LEN = 0, R_KIND = 4, R_RES1 = 6, R_FD = 8, R_RES2 = 12 };
enum { L_FAMILY = 0, L_PORT = 2, L_ADDR = 4, L_BACKLOG = 20, L_OPTS = 24, L_PENDING = 28,
       L_RESERVED = 32 };
_Static_assert(L_RESERVED + 16 == SOCCR_IMAGE_LISTEN_LEN, "listener layout");

#define MAX_BACKLOG 65535

static int check_listener(const struct soccr_image_listener *l, char *err, size_t errlen)
{
	int ret;

	if (l->family != AF_INET && l->family != AF_INET6)
		return sc_img_fail(-EINVAL, err, errlen, "listener: bad address family %d",
				   l->family);
	ret = sc_img_check_addr(&l->local, l->family, "listener", err, errlen);
	if (ret)
		return ret;
	if (!l->backlog || l->backlog > MAX_BACKLOG)
		return sc_img_fail(-EINVAL, err, errlen, "listener: backlog %u not in 1..%d",
				   l->backlog, MAX_BACKLOG);
	if (l->opts & ~(uint32_t)SOCCR_LISTEN_ALL)
		return sc_img_fail(-EINVAL, err, errlen, "listener: unknown options 0x%x", l->opts);
	if ((l->opts & SOCCR_LISTEN_V6ONLY) && l->family != AF_INET6)
		return sc_img_fail(-EINVAL, err, errlen, "listener: V6ONLY on an IPv4 socket");
	return 0;
}

static int check_set(const struct soccr_image_set *set, char *err, size_t errlen)
{
	int ret;

	if (!set || !set->socks)
		return sc_img_fail(-EINVAL, err, errlen, "no image set");
	if (set->flags)
		return sc_img_fail(-EINVAL, err, errlen, "unknown set flags 0x%x", set->flags);
	if (!set->n || set->n > SOCCR_IMAGE_SET_MAX_SOCKS)
		return sc_img_fail(-EINVAL, err, errlen, "%zu sockets: want 1..%u", set->n,
				   SOCCR_IMAGE_SET_MAX_SOCKS);
	if (set->pid < 0)
		return sc_img_fail(-EINVAL, err, errlen, "negative pid %d", (int)set->pid);
	ret = sc_img_check_hostname(set->hostname, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < set->n; i++) {
		const struct soccr_image_sock *k = &set->socks[i];
		char msg[200];

		if (k->fd < -1)
			return sc_img_fail(-EINVAL, err, errlen, "socket %zu: fd %d", i, (int)k->fd);
		if (k->kind == SOCCR_IMAGE_CONN)
			ret = soccr_image_validate(&k->conn, msg, sizeof(msg));
		else if (k->kind == SOCCR_IMAGE_LISTEN)
			ret = check_listener(&k->listen, msg, sizeof(msg));
		else
			ret = sc_img_fail(-EINVAL, msg, sizeof(msg), "unknown kind %u", k->kind);
		if (ret)
			return sc_img_fail(ret, err, errlen, "socket %zu: %s", i, msg);
	}
	return 0;
}

SOCCR_API int soccr_image_set_encode(const struct soccr_image_set *set, void **buf, size_t *len,
				     char *err, size_t errlen)
{
	void **conn = NULL;
	size_t *clen = NULL, total = SOCCR_IMAGE_SET_HDR_LEN + SOCCR_IMAGE_CRC_LEN, i;
	unsigned char *b = NULL, *p;
	int ret;

	if (!buf || !len)
		return sc_img_fail(-EINVAL, err, errlen, "no output buffer");
	ret = check_set(set, err, errlen);
	if (ret)
		return ret;
	conn = calloc(set->n, sizeof(*conn));
	clen = calloc(set->n, sizeof(*clen));
	if (!conn || !clen) {
		ret = sc_img_fail(-ENOMEM, err, errlen, "out of memory for %zu sockets", set->n);
		goto out;
	}
	for (i = 0; i < set->n; i++) {
		const struct soccr_image_sock *k = &set->socks[i];

		if (k->kind == SOCCR_IMAGE_CONN) {
			ret = soccr_image_encode(&k->conn, &conn[i], &clen[i], err, errlen);
			if (ret)
				goto out;
		} else {
			clen[i] = SOCCR_IMAGE_LISTEN_LEN;
		}
		total += SOCCR_IMAGE_REC_HDR_LEN + clen[i];
		if (total > SOCCR_IMAGE_MAX_SIZE) {
			ret = sc_img_fail(-EFBIG, err, errlen, "the set exceeds %u bytes",
					  SOCCR_IMAGE_MAX_SIZE);
			goto out;
		}
	}
	b = calloc(1, total);
	if (!b) {
		ret = sc_img_fail(-ENOMEM, err, errlen, "out of memory for a %zu-byte image", total);
		goto out;
	}
	memcpy(b + S_MAGIC, SOCCR_IMAGE_MAGIC, SOCCR_IMAGE_MAGIC_LEN);
	put16(b + S_VERSION, SOCCR_IMAGE_SET_VERSION);
	put16(b + S_HDR_LEN, SOCCR_IMAGE_SET_HDR_LEN);
	put32(b + S_FLAGS, set->flags);
	put64(b + S_TOTAL, total);
	put64(b + S_TIME, set->save_time_ns);
	put32(b + S_PID, (uint32_t)set->pid);
	put32(b + S_COUNT, (uint32_t)set->n);
	strncpy((char *)b + S_HOSTNAME, set->hostname, SOCCR_IMAGE_HOSTNAME_LEN);
	p = b + SOCCR_IMAGE_SET_HDR_LEN;
	for (i = 0; i < set->n; i++) {
		const struct soccr_image_sock *k = &set->socks[i];

		put32(p + R_LEN, (uint32_t)(SOCCR_IMAGE_REC_HDR_LEN + clen[i]));
		put16(p + R_KIND, (uint16_t)k->kind);
		put32(p + R_FD, (uint32_t)k->fd);
		p += SOCCR_IMAGE_REC_HDR_LEN;
		if (k->kind == SOCCR_IMAGE_CONN) {
			memcpy(p, conn[i], clen[i]);
		} else {
			const struct soccr_image_listener *l = &k->listen;

			put16(p + L_FAMILY, l->family == AF_INET ? 2 : 10);
			put16(p + L_PORT, sc_img_addr_port(&l->local));
			sc_img_put_addr(p + L_ADDR, &l->local);
			put32(p + L_BACKLOG, l->backlog);
			put32(p + L_OPTS, l->opts);
			put32(p + L_PENDING, l->pending);
		}
		p += clen[i];
	}
	put32(p, sc_img_crc(b, total - SOCCR_IMAGE_CRC_LEN));
	*buf = b;
	*len = total;
	b = NULL;
	ret = 0;
out:
	for (i = 0; conn && i < set->n; i++)
		free(conn[i]);
	free(conn);
	free(clen);
	free(b);
	return ret;
}

static int decode_listener(const unsigned char *p, struct soccr_image_listener *l, char *err,
			   size_t errlen)
{
	unsigned int fam = get16(p + L_FAMILY);
	int ret;

	memset(l, 0, sizeof(*l));
	for (int i = L_RESERVED; i < SOCCR_IMAGE_LISTEN_LEN; i++)
		if (p[i])
			return sc_img_fail(-EINVAL, err, errlen, "listener: reserved bytes not zero");
	if (fam != 2 && fam != 10)
		return sc_img_fail(-EINVAL, err, errlen, "listener: bad address family %u", fam);
	l->family = fam == 2 ? AF_INET : AF_INET6;
	ret = sc_img_get_addr(&l->local, l->family, p + L_ADDR, get16(p + L_PORT), "listener", err,
			      errlen);
	if (ret)
		return ret;
	l->backlog = get32(p + L_BACKLOG);
	l->opts = get32(p + L_OPTS);
	l->pending = get32(p + L_PENDING);
	return check_listener(l, err, errlen);
}

/* A version 1 file: a set of one connection. */
static int decode_v1(const void *buf, size_t len, struct soccr_image_set *set, char *err,
		     size_t errlen)
{
	struct soccr_image_sock *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return sc_img_fail(-ENOMEM, err, errlen, "out of memory");
	ret = soccr_image_decode(buf, len, &k->conn, err, errlen);
	if (ret) {
		free(k);
		return ret;
	}
	k->kind = SOCCR_IMAGE_CONN;
	k->fd = -1;
	set->version = k->conn.version;
	set->save_time_ns = k->conn.save_time_ns;
	memcpy(set->hostname, k->conn.hostname, sizeof(set->hostname));
	set->n = 1;
	set->socks = k;
	return 0;
}

SOCCR_API int soccr_image_set_decode(const void *buf, size_t len, struct soccr_image_set *set,
				     char *err, size_t errlen)
{
	const unsigned char *b = buf, *p;
	struct soccr_image_set s;
	uint64_t total;
	uint32_t count, stored, crc;
	size_t left, i = 0;
	int ret;

	if (!set || (!buf && len))
		return sc_img_fail(-EINVAL, err, errlen, "no image buffer");
	memset(set, 0, sizeof(*set));
	if (len && memcmp(b, SOCCR_IMAGE_MAGIC,
			  len < SOCCR_IMAGE_MAGIC_LEN ? len : SOCCR_IMAGE_MAGIC_LEN))
		return sc_img_fail(-EILSEQ, err, errlen, "bad magic: not a soccr image");
	/* Too short to tell the version: the version 1 decoder names what is missing. */
	if (len < S_VERSION + 2 || get16(b + S_VERSION) == 1)
		return decode_v1(buf, len, set, err, errlen);
	if (len < SOCCR_IMAGE_SET_HDR_LEN)
		return sc_img_fail(-ENODATA, err, errlen,
				   "truncated: file has %zu bytes, shorter than a header", len);
	if (get16(b + S_VERSION) != SOCCR_IMAGE_SET_VERSION)
		return sc_img_fail(-EPROTONOSUPPORT, err, errlen,
				   "unsupported version %u (this build reads versions 1 and %d)",
				   get16(b + S_VERSION), SOCCR_IMAGE_SET_VERSION);
	if (get16(b + S_HDR_LEN) != SOCCR_IMAGE_SET_HDR_LEN)
		return sc_img_fail(-EPROTO, err, errlen, "header length %u, want %d",
				   get16(b + S_HDR_LEN), SOCCR_IMAGE_SET_HDR_LEN);
	total = get64(b + S_TOTAL);
	if (total > SOCCR_IMAGE_MAX_SIZE)
		return sc_img_fail(-EFBIG, err, errlen, "announced length %llu above the limit %u",
				   (unsigned long long)total, SOCCR_IMAGE_MAX_SIZE);
	if (len < total)
		return sc_img_fail(-ENODATA, err, errlen,
				   "truncated: header says %llu bytes, file has %zu",
				   (unsigned long long)total, len);
	if (len > total)
		return sc_img_fail(-EOVERFLOW, err, errlen, "%zu trailing bytes after %llu",
				   len - (size_t)total, (unsigned long long)total);
	if (total < SOCCR_IMAGE_SET_HDR_LEN + SOCCR_IMAGE_CRC_LEN)
		return sc_img_fail(-ERANGE, err, errlen, "total length %llu below the header's",
				   (unsigned long long)total);
	stored = get32(b + total - SOCCR_IMAGE_CRC_LEN);
	crc = sc_img_crc(b, (size_t)total - SOCCR_IMAGE_CRC_LEN);
	if (stored != crc)
		return sc_img_fail(-EBADMSG, err, errlen, "bad CRC: stored 0x%08x, computed 0x%08x",
				   stored, crc);
	memset(&s, 0, sizeof(s));
	s.version = SOCCR_IMAGE_SET_VERSION;
	s.flags = get32(b + S_FLAGS);
	s.save_time_ns = get64(b + S_TIME);
	s.pid = (int32_t)get32(b + S_PID);
	count = get32(b + S_COUNT);
	memcpy(s.hostname, b + S_HOSTNAME, SOCCR_IMAGE_HOSTNAME_LEN);
	for (size_t k = strnlen(s.hostname, SOCCR_IMAGE_HOSTNAME_LEN); k < SOCCR_IMAGE_HOSTNAME_LEN;
	     k++)
		if (s.hostname[k])
			return sc_img_fail(-EINVAL, err, errlen, "bytes after the hostname's end");
	for (int k = S_RESERVED; k < SOCCR_IMAGE_SET_HDR_LEN; k++)
		if (b[k])
			return sc_img_fail(-EINVAL, err, errlen, "reserved header bytes not zero");
	if (s.flags)
		return sc_img_fail(-EINVAL, err, errlen, "unknown set flags 0x%x", s.flags);
	if (!count || count > SOCCR_IMAGE_SET_MAX_SOCKS)
		return sc_img_fail(-EINVAL, err, errlen, "%u sockets: want 1..%u", count,
				   SOCCR_IMAGE_SET_MAX_SOCKS);
	/* Every record takes at least its header: a count the file cannot hold is refused first. */
	left = (size_t)total - SOCCR_IMAGE_SET_HDR_LEN - SOCCR_IMAGE_CRC_LEN;
	if ((uint64_t)count * SOCCR_IMAGE_REC_HDR_LEN > left)
		return sc_img_fail(-ERANGE, err, errlen, "%u sockets do not fit in %zu bytes", count,
				   left);
	s.socks = calloc(count, sizeof(*s.socks));
	if (!s.socks)
		return sc_img_fail(-ENOMEM, err, errlen, "out of memory for %u sockets", count);
	s.n = count;
	p = b + SOCCR_IMAGE_SET_HDR_LEN;
	for (i = 0; i < count; i++) {
		struct soccr_image_sock *k = &s.socks[i];
		uint32_t rlen;
		char msg[200];

		if (left < SOCCR_IMAGE_REC_HDR_LEN) {
			ret = sc_img_fail(-ERANGE, err, errlen, "socket %zu: no room for its record", i);
			goto fail;
		}
		rlen = get32(p + R_LEN);
		if (rlen < SOCCR_IMAGE_REC_HDR_LEN || rlen > left) {
			ret = sc_img_fail(-ERANGE, err, errlen,
					  "socket %zu: record length %u, %zu bytes left", i, rlen,
					  left);
			goto fail;
		}
		if (get16(p + R_RES1) || get32(p + R_RES2)) {
			ret = sc_img_fail(-EINVAL, err, errlen,
					  "socket %zu: reserved record bytes not zero", i);
			goto fail;
		}
		k->kind = get16(p + R_KIND);
		k->fd = (int32_t)get32(p + R_FD);
		if (k->fd < -1) {
			ret = sc_img_fail(-EINVAL, err, errlen, "socket %zu: fd %d", i, (int)k->fd);
			goto fail;
		}
		if (k->kind == SOCCR_IMAGE_CONN) {
			ret = soccr_image_decode(p + SOCCR_IMAGE_REC_HDR_LEN,
						 rlen - SOCCR_IMAGE_REC_HDR_LEN, &k->conn, msg,
						 sizeof(msg));
		} else if (k->kind == SOCCR_IMAGE_LISTEN) {
			ret = rlen != SOCCR_IMAGE_REC_HDR_LEN + SOCCR_IMAGE_LISTEN_LEN
				      ? sc_img_fail(-EPROTO, msg, sizeof(msg),
						    "listener record of %u bytes, want %d", rlen,
						    SOCCR_IMAGE_REC_HDR_LEN + SOCCR_IMAGE_LISTEN_LEN)
				      : decode_listener(p + SOCCR_IMAGE_REC_HDR_LEN, &k->listen, msg,
							sizeof(msg));
		} else {
			ret = sc_img_fail(-EINVAL, msg, sizeof(msg), "unknown kind %u", k->kind);
		}
		if (ret) {
			/* This record holds nothing to free; the earlier ones are freed below. */
			k->kind = 0;
			sc_img_fail(ret, err, errlen, "socket %zu: %s", i, msg);
			goto fail;
		}
		p += rlen;
		left -= rlen;
	}
	if (left) {
		ret = sc_img_fail(-ERANGE, err, errlen, "%zu bytes after the last record", left);
		goto fail;
	}
	*set = s;
	return 0;
fail:
	soccr_image_set_free(&s);
	return ret;
}

static int decode_set(const void *buf, size_t len, void *out, char *err, size_t errlen)
{
	return soccr_image_set_decode(buf, len, out, err, errlen);
}

SOCCR_API int soccr_image_set_load(const char *path, struct soccr_image_set *set, char *err,
				   size_t errlen)
{
	if (!path || !set)
		return sc_img_fail(-EINVAL, err, errlen, "no image path");
	memset(set, 0, sizeof(*set));
	return sc_img_load(path, decode_set, set, err, errlen);
}

static int encode_set(const void *in, void **buf, size_t *len, char *err, size_t errlen)
{
	return soccr_image_set_encode(in, buf, len, err, errlen);
}

SOCCR_API int soccr_image_set_save(const char *path, const struct soccr_image_set *set, char *err,
				   size_t errlen)
{
	return sc_img_save(path, encode_set, set, err, errlen);
}

SOCCR_API void soccr_image_set_free(struct soccr_image_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; set->socks && i < set->n; i++)
		if (set->socks[i].kind == SOCCR_IMAGE_CONN)
			soccr_image_free(&set->socks[i].conn);
	free(set->socks);
	memset(set, 0, sizeof(*set));
}
