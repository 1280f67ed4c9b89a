// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the image decoder. Any input is either rejected with an
 * error code and message, or accepted; an accepted image re-encodes to the
 * very same bytes (the format has one encoding per image).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <soccr/image.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct soccr_image img;
	char err[256];
	void *buf;
	size_t len;
	int ret;

	ret = soccr_image_decode(data, size, &img, err, sizeof(err));
	if (ret) {
		if (ret > 0 || !err[0])
			abort();
		return 0;
	}
	if (soccr_image_encode(&img, &buf, &len, err, sizeof(err)))
		abort();
	if (len != size || memcmp(buf, data, size))
		abort();
	free(buf);
	soccr_image_free(&img);
	return 0;
}
