/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one JSON writer (src/base/json.c), for the verifier's report and the
 * tool's --json output. Compact: no spaces, no newlines. Errors (memory)
 * are sticky and reported once, by sc_json_take(). Never installed.
 *
 *	struct sc_json j = {0};
 *	sc_json_object(&j, NULL);
 *	sc_json_string(&j, "state", "ESTABLISHED");
 *	sc_json_array(&j, "options");
 *	sc_json_string(&j, NULL, "sack");
 *	sc_json_end_array(&j);
 *	sc_json_end_object(&j);
 *	char *text = sc_json_take(&j);		// {"state":"ESTABLISHED","options":["sack"]}
 */
#ifndef SOCCR_JSON_H
#define SOCCR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define SC_JSON_MAX_DEPTH 16

struct sc_json {
	char *buf;
	size_t len, cap;
	bool oom;
	int depth;
	unsigned int count[SC_JSON_MAX_DEPTH]; /* items so far at each open level */
};

/* key: the member name inside an object, NULL inside an array or at the top. */
SOCCR_PRIVATE_API void sc_json_object(struct sc_json *j, const char *key);
SOCCR_PRIVATE_API void sc_json_array(struct sc_json *j, const char *key);
SOCCR_PRIVATE_API void sc_json_end_object(struct sc_json *j);
SOCCR_PRIVATE_API void sc_json_end_array(struct sc_json *j);
SOCCR_PRIVATE_API void sc_json_string(struct sc_json *j, const char *key, const char *v);
SOCCR_PRIVATE_API void sc_json_uint(struct sc_json *j, const char *key, uint64_t v);
SOCCR_PRIVATE_API void sc_json_bool(struct sc_json *j, const char *key, bool v);
SOCCR_PRIVATE_API void sc_json_null(struct sc_json *j, const char *key);

/*
 * An endpoint, the same in every document: "key": {"addr": "10.0.0.1", "port": 80}
 * (address and port apart, as `ip -j` keeps them; IPv6 without brackets).
 * addr: a struct in_addr or in6_addr; port in host order.
 */
SOCCR_PRIVATE_API void sc_json_endpoint(struct sc_json *j, const char *key, int family,
					const void *addr, uint16_t port);

/* The text (malloc()ed, the caller frees), or NULL if memory ran out; j is reset. */
SOCCR_PRIVATE_API char *sc_json_take(struct sc_json *j);

#endif /* SOCCR_JSON_H */
