// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The image of one checkpointed TCP socket: encoding, strict decoding, files.
 *
 * Version 1 layout (all numbers little-endian; README "Image format"):
 *
 *   off  len  field
 *     0    8  magic "SOCCRIMG"
 *     8    2  version (1)
 *    10    2  header length (148)
 *    12    4  image flags (SOCCR_IMAGE_F_*)
 *    16    8  total length of the file, CRC included
 *    24    8  save time, ns since the epoch (CLOCK_REALTIME)
 *    32    4  socket data length (68)
 *    36    4  receive queue length (== inq_len)
 *    40    4  send queue length (== outq_len)
 *    44    2  family: 2 (AF_INET) or 10 (AF_INET6)
 *    46    2  local port
 *    48    2  peer port
 *    50    2  reserved, 0
 *    52   16  local address (network order; IPv4 in the first 4 bytes, rest 0)
 *    68   16  peer address
 *    84   64  hostname, NUL-terminated, NUL-padded
 *   148   68  struct libsoccr_sk_data: 17 uint32_t in CRIU's order
 *   216    r  receive queue bytes
 *   216+r  s  send queue bytes
 *   end-4  4  CRC-32 of every byte before it
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <soccr/image.h>

#include "internal.h"
#include "image/img.h"

/* Field offsets of the version 1 header. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 8,
	OFF_HDR_LEN = 10,
	OFF_FLAGS = 12,
	OFF_TOTAL = 16,
	OFF_TIME = 24,
	OFF_DATA_LEN = 32,
	OFF_RECVQ_LEN = 36,
	OFF_SENDQ_LEN = 40,
	OFF_FAMILY = 44,
	OFF_LPORT = 46,
	OFF_PPORT = 48,
	OFF_RESERVED = 50,
	OFF_LADDR = 52,
	OFF_PADDR = 68,
	OFF_HOSTNAME = 84,
};

_Static_assert(OFF_HOSTNAME + SOCCR_IMAGE_HOSTNAME_LEN == SOCCR_IMAGE_HDR_LEN, "header layout");
_Static_assert(sizeof(struct libsoccr_sk_data) == SOCCR_IMAGE_DATA_LEN, "17 uint32_t");

/* Address families as written on disk (Linux's numbers, fixed by the format). */
#define IMG_AF_INET 2
#define IMG_AF_INET6 10

/* TCPI_OPT_* bits the kernel defines today (timestamps ... TFO child). */
#define KNOWN_OPT_MASK 0xffu
/* RFC 7323 2.3: the shift count is at most 14. */
#define MAX_WSCALE 14
#define MAX_MSS 65535

/* Format a message into err, log it at debug level, and return code. */
int sc_img_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	/* Debug only: the caller gets the message and decides how to report it. */
	pr_dbg("image: %s", msg);
	return code;
}

uint32_t sc_img_crc(const void *buf, size_t len)
{
	/* len <= SOCCR_IMAGE_MAX_SIZE, so it fits zlib's uInt. */
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
}

uint16_t sc_img_addr_port(const union libsoccr_addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->v4.sin_port : a->v6.sin6_port);
}

static bool is_mapped(const union libsoccr_addr *a)
{
	return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr);
}

int sc_img_check_addr(const union libsoccr_addr *a, int family, const char *which, char *err,
		      size_t errlen)
{
	if (a->sa.sa_family != family)
		return sc_img_fail(-EINVAL, err, errlen, "%s address family %u differs from the socket's %d",
			    which, a->sa.sa_family, family);
	if (sc_img_addr_port(a) == 0)
		return sc_img_fail(-EINVAL, err, errlen, "%s port is 0", which);
	return 0;
}

int sc_img_check_hostname(const char h[SOCCR_IMAGE_HOSTNAME_LEN], char *err, size_t errlen)
{
	size_t n = strnlen(h, SOCCR_IMAGE_HOSTNAME_LEN);

	if (n == SOCCR_IMAGE_HOSTNAME_LEN)
		return sc_img_fail(-EINVAL, err, errlen, "hostname not NUL-terminated");
	for (size_t i = 0; i < n; i++)
		if (h[i] < 0x20 || h[i] > 0x7e)
			return sc_img_fail(-EINVAL, err, errlen,
					   "hostname has a non-printable byte at offset %zu", i);
	return 0;
}

SOCCR_API int soccr_image_validate(const struct soccr_image *img, char *err, size_t errlen)
{
	const struct libsoccr_sk_data *d;
	int ret;

	if (!img)
		return sc_img_fail(-EINVAL, err, errlen, "no image");
	d = &img->data;
	if (img->flags & ~SOCCR_IMAGE_F_ALL)
		return sc_img_fail(-EINVAL, err, errlen, "unknown image flags 0x%x", img->flags);
	ret = sc_img_check_hostname(img->hostname, err, errlen);
	if (ret)
		return ret;
	if (img->family != AF_INET && img->family != AF_INET6)
		return sc_img_fail(-EINVAL, err, errlen, "bad address family %d", img->family);
	ret = sc_img_check_addr(&img->local, img->family, "local", err, errlen);
	if (ret)
		return ret;
	ret = sc_img_check_addr(&img->peer, img->family, "peer", err, errlen);
	if (ret)
		return ret;
	if (is_mapped(&img->local) != is_mapped(&img->peer))
		return sc_img_fail(-EINVAL, err, errlen,
			    "one address is v4-mapped and the other is not");
	if (!soccr_image_state_supported(d->state))
		return sc_img_fail(-EINVAL, err, errlen, "unsupported TCP state %u (%s)", d->state,
			    soccr_tcp_state_name(d->state));
	if (d->unsq_len > d->outq_len)
		return sc_img_fail(-EINVAL, err, errlen, "unsq_len %u exceeds outq_len %u", d->unsq_len,
			    d->outq_len);
	if (d->snd_wscale > MAX_WSCALE || d->rcv_wscale > MAX_WSCALE)
		return sc_img_fail(-EINVAL, err, errlen, "window scale %u/%u above %d", d->snd_wscale,
			    d->rcv_wscale, MAX_WSCALE);
	if (d->mss_clamp > MAX_MSS)
		return sc_img_fail(-EINVAL, err, errlen, "mss_clamp %u above %d", d->mss_clamp, MAX_MSS);
	if (d->opt_mask & ~KNOWN_OPT_MASK)
		return sc_img_fail(-EINVAL, err, errlen, "unknown TCP options 0x%x", d->opt_mask);
	if (d->flags & ~SOCCR_FLAGS_WINDOW)
		return sc_img_fail(-EINVAL, err, errlen, "unknown socket data flags 0x%x", d->flags);
	if ((uint64_t)d->inq_len + d->outq_len > SOCCR_IMAGE_MAX_SIZE - SOCCR_IMAGE_MIN_SIZE)
		return sc_img_fail(-EINVAL, err, errlen, "queues of %u + %u bytes exceed the %u-byte limit",
			    d->inq_len, d->outq_len, SOCCR_IMAGE_MAX_SIZE);
	if (d->inq_len && !img->recvq)
		return sc_img_fail(-EINVAL, err, errlen, "receive queue of %u bytes missing", d->inq_len);
	if (d->outq_len && !img->sendq)
		return sc_img_fail(-EINVAL, err, errlen, "send queue of %u bytes missing", d->outq_len);
	return 0;
}

/* The 17 fields, in CRIU's order, for the on-disk array. */
static void data_to_words(const struct libsoccr_sk_data *d, uint32_t w[17])
{
	const uint32_t v[17] = {
		d->state, d->inq_len, d->inq_seq, d->outq_len, d->outq_seq, d->unsq_len,
		d->opt_mask, d->mss_clamp, d->snd_wscale, d->rcv_wscale, d->timestamp,
		d->flags, d->snd_wl1, d->snd_wnd, d->max_window, d->rcv_wnd, d->rcv_wup,
	};

	memcpy(w, v, sizeof(v));
}

static void words_to_data(const uint32_t w[17], struct libsoccr_sk_data *d)
{
	d->state = w[0];
	d->inq_len = w[1];
	d->inq_seq = w[2];
	d->outq_len = w[3];
	d->outq_seq = w[4];
	d->unsq_len = w[5];
	d->opt_mask = w[6];
	d->mss_clamp = w[7];
	d->snd_wscale = w[8];
	d->rcv_wscale = w[9];
	d->timestamp = w[10];
	d->flags = w[11];
	d->snd_wl1 = w[12];
	d->snd_wnd = w[13];
	d->max_window = w[14];
	d->rcv_wnd = w[15];
	d->rcv_wup = w[16];
}

void sc_img_put_addr(unsigned char *p, const union libsoccr_addr *a)
{
	memset(p, 0, 16);
	if (a->sa.sa_family == AF_INET)
		memcpy(p, &a->v4.sin_addr, 4);
	else
		memcpy(p, &a->v6.sin6_addr, 16);
}

SOCCR_API int soccr_image_encode(const struct soccr_image *img, void **buf, size_t *len,
				 char *err, size_t errlen)
{
	const struct libsoccr_sk_data *d;
	unsigned char *p, *b;
	uint32_t w[17];
	size_t total;
	int ret;

	if (!buf || !len)
		return sc_img_fail(-EINVAL, err, errlen, "no output buffer");
	ret = soccr_image_validate(img, err, errlen);
	if (ret)
		return ret;
	d = &img->data;
	/* validate() bounded inq_len + outq_len, so this cannot overflow. */
	total = SOCCR_IMAGE_MIN_SIZE + (size_t)d->inq_len + d->outq_len;
	b = calloc(1, total);
	if (!b)
		return sc_img_fail(-ENOMEM, err, errlen, "out of memory for a %zu-byte image", total);

	memcpy(b + OFF_MAGIC, SOCCR_IMAGE_MAGIC, SOCCR_IMAGE_MAGIC_LEN);
	put16(b + OFF_VERSION, SOCCR_IMAGE_VERSION);
	put16(b + OFF_HDR_LEN, SOCCR_IMAGE_HDR_LEN);
	put32(b + OFF_FLAGS, img->flags);
	put64(b + OFF_TOTAL, total);
	put64(b + OFF_TIME, img->save_time_ns);
	put32(b + OFF_DATA_LEN, SOCCR_IMAGE_DATA_LEN);
	put32(b + OFF_RECVQ_LEN, d->inq_len);
	put32(b + OFF_SENDQ_LEN, d->outq_len);
	put16(b + OFF_FAMILY, img->family == AF_INET ? IMG_AF_INET : IMG_AF_INET6);
	put16(b + OFF_LPORT, sc_img_addr_port(&img->local));
	put16(b + OFF_PPORT, sc_img_addr_port(&img->peer));
	sc_img_put_addr(b + OFF_LADDR, &img->local);
	sc_img_put_addr(b + OFF_PADDR, &img->peer);
	/* validate() checked the NUL; strncpy pads the rest with zeros as the format wants. */
	strncpy((char *)b + OFF_HOSTNAME, img->hostname, SOCCR_IMAGE_HOSTNAME_LEN);

	p = b + SOCCR_IMAGE_HDR_LEN;
	data_to_words(d, w);
	for (int i = 0; i < 17; i++, p += 4)
		put32(p, w[i]);
	if (d->inq_len)
		memcpy(p, img->recvq, d->inq_len);
	p += d->inq_len;
	if (d->outq_len)
		memcpy(p, img->sendq, d->outq_len);
	p += d->outq_len;
	put32(p, sc_img_crc(b, total - SOCCR_IMAGE_CRC_LEN));

	*buf = b;
	*len = total;
	return 0;
}

int sc_img_get_addr(union libsoccr_addr *a, int family, const unsigned char *p, uint16_t port,
		    const char *which, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		for (int i = 4; i < 16; i++)
			if (p[i])
				return sc_img_fail(-EINVAL, err, errlen,
					    "%s IPv4 address has non-zero padding", which);
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = htons(port);
		memcpy(&a->v4.sin_addr, p, 4);
	} else {
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_port = htons(port);
		memcpy(&a->v6.sin6_addr, p, 16);
	}
	return 0;
}

SOCCR_API int soccr_image_decode(const void *buf, size_t len, struct soccr_image *img, char *err,
				 size_t errlen)
{
	const unsigned char *b = buf;
	struct soccr_image im;
	uint32_t w[17], stored, crc, data_len, rlen, slen;
	uint64_t total, sections;
	unsigned int version, hdr_len, fam;
	int ret;

	if (!img || (!buf && len))
		return sc_img_fail(-EINVAL, err, errlen, "no image buffer");
	memset(img, 0, sizeof(*img));

	/* A short file that does not even start like an image is not one: say so first. */
	if (len && memcmp(b, SOCCR_IMAGE_MAGIC,
			  len < SOCCR_IMAGE_MAGIC_LEN ? len : SOCCR_IMAGE_MAGIC_LEN))
		return sc_img_fail(-EILSEQ, err, errlen, "bad magic: not a soccr image");
	if (len < OFF_HDR_LEN + 2)
		return sc_img_fail(-ENODATA, err, errlen,
			    "truncated: file has %zu bytes, the header alone is %d", len,
			    SOCCR_IMAGE_HDR_LEN);
	version = get16(b + OFF_VERSION);
	if (version != SOCCR_IMAGE_VERSION)
		return sc_img_fail(-EPROTONOSUPPORT, err, errlen,
			    "unsupported version %u (this build reads version %d)", version,
			    SOCCR_IMAGE_VERSION);
	hdr_len = get16(b + OFF_HDR_LEN);
	if (hdr_len != SOCCR_IMAGE_HDR_LEN)
		return sc_img_fail(-EPROTO, err, errlen, "bad header length %u (version %d has %d)",
			    hdr_len, SOCCR_IMAGE_VERSION, SOCCR_IMAGE_HDR_LEN);
	if (len < SOCCR_IMAGE_HDR_LEN)
		return sc_img_fail(-ENODATA, err, errlen,
			    "truncated: file has %zu bytes, the header alone is %d", len,
			    SOCCR_IMAGE_HDR_LEN);
	total = get64(b + OFF_TOTAL);
	if (total > SOCCR_IMAGE_MAX_SIZE)
		return sc_img_fail(-EFBIG, err, errlen, "too large: header says %" PRIu64
			    " bytes, the limit is %u", total, SOCCR_IMAGE_MAX_SIZE);
	if (total > len)
		return sc_img_fail(-ENODATA, err, errlen,
			    "truncated: header says %" PRIu64 " bytes, file has %zu", total, len);
	if (total < len)
		return sc_img_fail(-EOVERFLOW, err, errlen,
			    "trailing data: header says %" PRIu64 " bytes, file has %zu", total,
			    len);
	if (total < SOCCR_IMAGE_MIN_SIZE)
		return sc_img_fail(-ERANGE, err, errlen,
			    "total length %" PRIu64 " is below the minimum %d", total,
			    SOCCR_IMAGE_MIN_SIZE);
	stored = get32(b + total - SOCCR_IMAGE_CRC_LEN);
	crc = sc_img_crc(b, total - SOCCR_IMAGE_CRC_LEN);
	if (stored != crc)
		return sc_img_fail(-EBADMSG, err, errlen, "bad CRC: stored 0x%08x, computed 0x%08x",
			    stored, crc);

	data_len = get32(b + OFF_DATA_LEN);
	if (data_len != SOCCR_IMAGE_DATA_LEN)
		return sc_img_fail(-EPROTO, err, errlen, "bad socket data length %u (version %d has %d)",
			    data_len, SOCCR_IMAGE_VERSION, SOCCR_IMAGE_DATA_LEN);
	rlen = get32(b + OFF_RECVQ_LEN);
	slen = get32(b + OFF_SENDQ_LEN);
	sections = (uint64_t)SOCCR_IMAGE_MIN_SIZE + rlen + slen;
	if (sections != total)
		return sc_img_fail(-ERANGE, err, errlen,
			    "lengths do not add up: %d + %u + %u bytes of queues + %d != %" PRIu64,
			    SOCCR_IMAGE_HDR_LEN + SOCCR_IMAGE_DATA_LEN, rlen, slen,
			    SOCCR_IMAGE_CRC_LEN, total);

	memset(&im, 0, sizeof(im));
	im.version = version;
	im.flags = get32(b + OFF_FLAGS);
	im.save_time_ns = get64(b + OFF_TIME);
	if (get16(b + OFF_RESERVED))
		return sc_img_fail(-EINVAL, err, errlen, "reserved field is 0x%04x, not 0",
			    get16(b + OFF_RESERVED));
	fam = get16(b + OFF_FAMILY);
	if (fam == IMG_AF_INET)
		im.family = AF_INET;
	else if (fam == IMG_AF_INET6)
		im.family = AF_INET6;
	else
		return sc_img_fail(-EINVAL, err, errlen, "bad address family %u", fam);
	ret = sc_img_get_addr(&im.local, im.family, b + OFF_LADDR, get16(b + OFF_LPORT), "local", err,
		       errlen);
	if (ret)
		return ret;
	ret = sc_img_get_addr(&im.peer, im.family, b + OFF_PADDR, get16(b + OFF_PPORT), "peer", err,
		       errlen);
	if (ret)
		return ret;
	memcpy(im.hostname, b + OFF_HOSTNAME, SOCCR_IMAGE_HOSTNAME_LEN);
	/* One encoding per image: everything after the hostname's NUL is zero. */
	for (size_t i = strnlen(im.hostname, SOCCR_IMAGE_HOSTNAME_LEN);
	     i < SOCCR_IMAGE_HOSTNAME_LEN; i++)
		if (im.hostname[i])
			return sc_img_fail(-EINVAL, err, errlen, "hostname has non-zero padding");

	for (int i = 0; i < 17; i++)
		w[i] = get32(b + SOCCR_IMAGE_HDR_LEN + 4 * i);
	words_to_data(w, &im.data);
	if (rlen != im.data.inq_len)
		return sc_img_fail(-EINVAL, err, errlen, "receive queue length %u differs from inq_len %u",
			    rlen, im.data.inq_len);
	if (slen != im.data.outq_len)
		return sc_img_fail(-EINVAL, err, errlen, "send queue length %u differs from outq_len %u",
			    slen, im.data.outq_len);
	/* Placeholders so validate() sees the queues as present; replaced below. */
	im.recvq = rlen ? (char *)b : NULL;
	im.sendq = slen ? (char *)b : NULL;
	ret = soccr_image_validate(&im, err, errlen);
	if (ret)
		return ret;

	im.recvq = NULL;
	im.sendq = NULL;
	/* Both lengths were checked against the real input size above. */
	if (rlen) {
		im.recvq = malloc(rlen);
		if (!im.recvq)
			goto nomem;
		memcpy(im.recvq, b + SOCCR_IMAGE_HDR_LEN + SOCCR_IMAGE_DATA_LEN, rlen);
	}
	if (slen) {
		im.sendq = malloc(slen);
		if (!im.sendq)
			goto nomem;
		memcpy(im.sendq, b + SOCCR_IMAGE_HDR_LEN + SOCCR_IMAGE_DATA_LEN + rlen, slen);
	}
	*img = im;
	return 0;
nomem:
	free(im.recvq);
	free(im.sendq);
	return sc_img_fail(-ENOMEM, err, errlen, "out of memory for queues of %u + %u bytes", rlen, slen);
}

/* What is read before anything else: the fixed header, which holds the total length. */
#define PREFIX_LEN SOCCR_IMAGE_HDR_LEN

/*
 * Read an image: its header, then no more than the total length it
 * announce (and one byte past it, so that trailing bytes are seen). Bad
 * magic or a length beyond the limit stops after the prefix; decoding the
 * prefix then gives the precise error.
 */
static int read_announced(int fd, unsigned char **out, size_t *outlen)
{
	unsigned char pre[PREFIX_LEN], *b;
	size_t got = 0, cap;
	uint64_t total = 0;
	ssize_t n;

	while (got < sizeof(pre)) {
		n = read(fd, pre + got, sizeof(pre) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == sizeof(pre))
		total = get64(pre + OFF_TOTAL);
	/* Not worth reading on: decoding the prefix alone says what is wrong. */
	if (got < sizeof(pre) || memcmp(pre, SOCCR_IMAGE_MAGIC, SOCCR_IMAGE_MAGIC_LEN) ||
	    total > SOCCR_IMAGE_MAX_SIZE || total < sizeof(pre))
		cap = got;
	else
		cap = (size_t)total + 1;
	b = malloc(cap ? cap : 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, pre, got);
	while (got < cap) {
		n = read(fd, b + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(b);
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*out = b;
	*outlen = got;
	return 0;
}

int sc_img_read_file(const char *path, unsigned char **buf, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO must not block the open; it is refused just below. */
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
			       : dup(STDIN_FILENO);
	if (fd < 0)
		return sc_img_fail(-errno, err, errlen, "%s: %m", path);
	if (fstat(fd, &st)) {
		ret = sc_img_fail(-errno, err, errlen, "%s: %m", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = sc_img_fail(-EISDIR, err, errlen, "%s: is a directory", path);
		goto out;
	}
	/* A device or a FIFO would never end, or never start: only stdin may be a stream. */
	if (!S_ISREG(st.st_mode) && strcmp(path, "-")) {
		ret = sc_img_fail(-EINVAL, err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && fcntl(fd, F_SETFL, 0)) {
		ret = sc_img_fail(-errno, err, errlen, "%s: %m", path);
		goto out;
	}
	/* Refuse a huge file before reading a byte of it. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > SOCCR_IMAGE_MAX_SIZE) {
		ret = sc_img_fail(-EFBIG, err, errlen,
				  "%s: too large: file has %jd bytes, the limit is %u", path,
				  (intmax_t)st.st_size, SOCCR_IMAGE_MAX_SIZE);
		goto out;
	}
	ret = read_announced(fd, buf, len);
	if (ret) {
		errno = -ret;
		ret = sc_img_fail(ret, err, errlen, "%s: read: %m", path);
	}
out:
	close(fd);
	return ret;
}

int sc_img_load(const char *path, sc_img_decode_fn decode, void *out, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	char msg[256];
	size_t len = 0;
	int ret;

	ret = sc_img_read_file(path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = decode(buf, len, out, msg, sizeof(msg));
	if (ret)
		sc_img_fail(ret, err, errlen, "%s: %s", path, msg);
	free(buf);
	return ret;
}

static int decode_one(const void *buf, size_t len, void *out, char *err, size_t errlen)
{
	return soccr_image_decode(buf, len, out, err, errlen);
}

SOCCR_API int soccr_image_load(const char *path, struct soccr_image *img, char *err,
			       size_t errlen)
{
	if (!path || !img)
		return sc_img_fail(-EINVAL, err, errlen, "no image path");
	memset(img, 0, sizeof(*img));
	return sc_img_load(path, decode_one, img, err, errlen);
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sc_img_write_file(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
	char *tmp = NULL;
	int fd = -1, ret;

	if (!strcmp(path, "-")) {
		ret = write_all(STDOUT_FILENO, buf, len);
		if (ret) {
			errno = -ret;
			return sc_img_fail(ret, err, errlen, "stdout: write: %m");
		}
		return 0;
	}
	/* A temporary in the same directory, so rename() is atomic. */
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return sc_img_fail(-ENOMEM, err, errlen, "%s: out of memory", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = sc_img_fail(-errno, err, errlen, "%s: create: %m", tmp);
		goto out;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		errno = -ret;
		ret = sc_img_fail(ret, err, errlen, "%s: write: %m", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		ret = sc_img_fail(-errno, err, errlen, "%s: rename: %m", path);
		unlink(tmp);
	}
out:
	free(tmp);
	return ret;
}

int sc_img_save(const char *path, sc_img_encode_fn encode, const void *in, char *err,
		size_t errlen)
{
	void *buf = NULL;
	size_t len;
	int ret;

	if (!path || !*path)
		return sc_img_fail(-EINVAL, err, errlen, "no image path");
	ret = encode(in, &buf, &len, err, errlen);
	if (!ret)
		ret = sc_img_write_file(path, buf, len, err, errlen);
	free(buf);
	return ret;
}

static int encode_one(const void *in, void **buf, size_t *len, char *err, size_t errlen)
{
	return soccr_image_encode(in, buf, len, err, errlen);
}

SOCCR_API int soccr_image_save(const char *path, const struct soccr_image *img, char *err,
			       size_t errlen)
{
	return sc_img_save(path, encode_one, img, err, errlen);
}

SOCCR_API void soccr_image_free(struct soccr_image *img)
{
	if (!img)
		return;
	free(img->recvq);
	free(img->sendq);
	memset(img, 0, sizeof(*img));
}
