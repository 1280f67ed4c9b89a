// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the CLI's address parser ("1.2.3.4:80", "[fd00::1]:80").
 * Whatever it accepts formats back into a string that parses to the same
 * address; whatever it rejects leaves the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss, again, untouched;
	char text[128];
	char *s;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&ss, 0x5a, sizeof(ss));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (cli_parse_endpoint(s, &ss)) {
		if (memcmp(&ss, &untouched, sizeof(ss)))
			abort();
		free(s);
		return 0;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		abort();
	cli_fmt_endpoint(&ss, text, sizeof(text));
	if (cli_parse_endpoint(text, &again) || memcmp(&ss, &again, sizeof(ss)))
		abort();
	free(s);
	return 0;
}
