/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the image codecs share (src/image/image.c: one socket, version 1;
 * src/image/set.c: a set of sockets, version 2): little-endian fields,
 * error messages, CRC, and reading and writing files. Never installed.
 */
#ifndef SOCCR_IMAGE_IMG_H
#define SOCCR_IMAGE_IMG_H

#include <stddef.h>
#include <stdint.h>

#include <soccr/image.h>

#include "internal.h"

static inline void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Format a message into err (may be NULL), log it at debug level, return code. */
SOCCR_HIDDEN int sc_img_fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* CRC-32 (zlib's) of len <= SOCCR_IMAGE_MAX_SIZE bytes. */
SOCCR_HIDDEN uint32_t sc_img_crc(const void *buf, size_t len);
/*
 * Read the image file at path ("-": stdin) into a malloc()ed buffer: only a
 * regular file (or stdin), refused before reading if larger than the limit,
 * and never more than the total length its header announces (plus one byte,
 * so that trailing bytes are seen). Messages start with the path.
 */
SOCCR_HIDDEN int sc_img_read_file(const char *path, unsigned char **buf, size_t *len, char *err,
				  size_t errlen);
/* A decoder of a file's bytes into out (soccr_image_decode(), soccr_image_set_decode()). */
typedef int (*sc_img_decode_fn)(const void *buf, size_t len, void *out, char *err, size_t errlen);
/* Read path (sc_img_read_file()) and decode it; messages start with the path. */
SOCCR_HIDDEN int sc_img_load(const char *path, sc_img_decode_fn decode, void *out, char *err,
			     size_t errlen);
/* An encoder into a malloc()ed buffer (soccr_image_encode(), soccr_image_set_encode()). */
typedef int (*sc_img_encode_fn)(const void *in, void **buf, size_t *len, char *err,
				size_t errlen);
/* Encode in and write it to path (sc_img_write_file()); nothing written on an error. */
SOCCR_HIDDEN int sc_img_save(const char *path, sc_img_encode_fn encode, const void *in, char *err,
			     size_t errlen);
/*
 * Write len bytes to path atomically (a temporary file in the same
 * directory, fsync(), rename()), or to stdout for "-".
 */
SOCCR_HIDDEN int sc_img_write_file(const char *path, const void *buf, size_t len, char *err,
				   size_t errlen);

/* The port of an address (host order). */
SOCCR_HIDDEN uint16_t sc_img_addr_port(const union libsoccr_addr *a);
/* Address a of the given family with a non-zero port; which names it in the message. */
SOCCR_HIDDEN int sc_img_check_addr(const union libsoccr_addr *a, int family, const char *which,
				   char *err, size_t errlen);
/* A hostname field: NUL-terminated, printable ASCII. */
SOCCR_HIDDEN int sc_img_check_hostname(const char h[SOCCR_IMAGE_HOSTNAME_LEN], char *err,
				       size_t errlen);
/* 16 address bytes on disk (IPv4 in the first 4, the rest 0) from / into a. */
SOCCR_HIDDEN void sc_img_put_addr(unsigned char *p, const union libsoccr_addr *a);
SOCCR_HIDDEN int sc_img_get_addr(union libsoccr_addr *a, int family, const unsigned char *p,
				 uint16_t port, const char *which, char *err, size_t errlen);

#endif /* SOCCR_IMAGE_IMG_H */
