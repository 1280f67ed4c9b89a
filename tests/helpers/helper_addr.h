/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Address parsing shared by the test helper programs. */
#ifndef SOCCR_HELPER_ADDR_H
#define SOCCR_HELPER_ADDR_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* "1.2.3.4:80" or "[fd00::1]:80" (a test helper: no need for the CLI's strict parser). */
static inline int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (!colon || (n = (size_t)(colon - s)) >= sizeof(host) || n < 2)
		return -1;
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(colon + 1));
		return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		memcpy(host, s, n);
		host[n] = '\0';
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(colon + 1));
		return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
	}
}

#endif
