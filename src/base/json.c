// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one JSON writer behind every --json of the tool and the verifier's
 * report (src/json.h): compact output into a growing buffer, commas and
 * escapes handled here, so that no caller writes JSON punctuation itself.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void put(struct sc_json *j, const char *s, size_t n)
{
	if (j->oom)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		char *p;

		while (cap < j->len + n + 1)
			cap *= 2;
		p = realloc(j->buf, cap);
		if (!p) {
			j->oom = true;
			return;
		}
		j->buf = p;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putf(struct sc_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct sc_json *j, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(j, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A string: quotes and backslashes escaped, control bytes and DEL as \u00XX. */
static void put_string(struct sc_json *j, const char *s)
{
	put(j, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			put(j, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			putf(j, "\\u%04x", c);
		} else {
			put(j, (const char *)s, 1);
		}
	}
	put(j, "\"", 1);
}

/* The comma before an item, and its key inside an object. */
static void item(struct sc_json *j, const char *key)
{
	if (j->depth > 0 && j->depth <= SC_JSON_MAX_DEPTH && j->count[j->depth - 1]++)
		put(j, ",", 1);
	if (key) {
		put_string(j, key);
		put(j, ":", 1);
	}
}

static void json_open(struct sc_json *j, const char *key, char c)
{
	item(j, key);
	put(j, &c, 1);
	if (j->depth < SC_JSON_MAX_DEPTH)
		j->count[j->depth] = 0;
	j->depth++;
}

static void json_close(struct sc_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	put(j, &c, 1);
}

void sc_json_object(struct sc_json *j, const char *key)
{
	json_open(j, key, '{');
}

void sc_json_array(struct sc_json *j, const char *key)
{
	json_open(j, key, '[');
}

void sc_json_end_object(struct sc_json *j)
{
	json_close(j, '}');
}

void sc_json_end_array(struct sc_json *j)
{
	json_close(j, ']');
}

void sc_json_string(struct sc_json *j, const char *key, const char *v)
{
	item(j, key);
	put_string(j, v);
}

void sc_json_uint(struct sc_json *j, const char *key, uint64_t v)
{
	item(j, key);
	putf(j, "%" PRIu64, v);
}

void sc_json_bool(struct sc_json *j, const char *key, bool v)
{
	item(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void sc_json_null(struct sc_json *j, const char *key)
{
	item(j, key);
	put(j, "null", 4);
}

void sc_json_endpoint(struct sc_json *j, const char *key, int family, const void *addr,
		      uint16_t port)
{
	char host[INET6_ADDRSTRLEN];

	if ((family != AF_INET && family != AF_INET6) || !inet_ntop(family, addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	sc_json_object(j, key);
	sc_json_string(j, "addr", host);
	sc_json_uint(j, "port", port);
	sc_json_end_object(j);
}

char *sc_json_take(struct sc_json *j)
{
	char *s = j->oom ? NULL : j->buf;

	if (j->oom)
		free(j->buf);
	else if (!s)
		s = calloc(1, 1);
	memset(j, 0, sizeof(*j));
	return s;
}
