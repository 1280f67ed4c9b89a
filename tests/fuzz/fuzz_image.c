// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the image decoders (one socket, version 1; a set,
 * versions 1 and 2). Any input is either rejected with an error code and
 * message, or accepted; an accepted image or set re-encodes to the very
 * same bytes (the format has one encoding per image). Each input is
 * also tried with its last 4 bytes replaced by the right CRC, so the fuzzer
 * gets past the checksum to the field checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <soccr/image.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	uint32_t crc;

	one(data, size);
	if (size < SOCCR_IMAGE_MIN_SIZE)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), fixed, (uInt)(size - 4));
	for (int i = 0; i < 4; i++)
		fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	one(fixed, size);
	free(fixed);
	return 0;
}

static void set(const uint8_t *data, size_t size)
{
	struct soccr_image_set s;
	char err[256];
	void *buf;
	size_t len;
	int ret;

	ret = soccr_image_set_decode(data, size, &s, err, sizeof(err));
	if (ret) {
		if (ret > 0 || !err[0])
			abort();
		return;
	}
	if (!s.n || !s.socks)
		abort();
	if (s.version == SOCCR_IMAGE_SET_VERSION) {
		if (soccr_image_set_encode(&s, &buf, &len, err, sizeof(err)))
			abort();
		if (len != size || memcmp(buf, data, size))
			abort();
		free(buf);
	} else if (s.n != 1 || s.socks[0].kind != SOCCR_IMAGE_CONN) {
		abort();
	}
	soccr_image_set_free(&s);
}

static void one(const uint8_t *data, size_t size)
{
	struct soccr_image img;
	char err[256];
	void *buf;
	size_t len;
	int ret;

	set(data, size);
	ret = soccr_image_decode(data, size, &img, err, sizeof(err));
	if (ret) {
		if (ret > 0 || !err[0])
			abort();
		return;
	}
	if (soccr_image_encode(&img, &buf, &len, err, sizeof(err)))
		abort();
	if (len != size || memcmp(buf, data, size))
		abort();
	free(buf);
	soccr_image_free(&img);
}
