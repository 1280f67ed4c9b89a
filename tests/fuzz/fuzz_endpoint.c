// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the CLI's parsers of what users type. The address parser
 * ("1.2.3.4:80", "[fd00::1]:80"): whatever it accepts formats back into a
 * string that parses to the same address; whatever it rejects leaves the
 * output untouched. The number parser (decimal, or 0x hexadecimal): what it
 * accepts is within the bound and prints back (in decimal) to the same
 * value; a leading zero never makes it octal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void number(const char *s)
{
	uint64_t v = 12345, again, max = 0xffffffffULL;
	char text[32];

	if (cli_parse_u64(s, max, &v)) {
		if (v != 12345)
			abort();
		return;
	}
	if (v > max)
		abort();
	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	if (cli_parse_u64(text, max, &again) || again != v)
		abort();
	/* Decimal digits only (after optional zeros): the value is their decimal reading. */
	if (s[0] >= '0' && s[0] <= '9' && s[1] != 'x' && s[1] != 'X' &&
	    strtoull(s, NULL, 10) != v)
		abort();
}

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
	number(s);
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
