// SPDX-License-Identifier: LGPL-2.1-or-later
/* The log callback shared by libsoccr_* and soccr_* functions. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static void (*log_fn)(unsigned int level, const char *fmt, ...);
static unsigned int log_level = SOCCR_LOG_ERR;

SOCCR_API void libsoccr_set_log(unsigned int level, void (*fn)(unsigned int level, const char *fmt, ...))
{
	log_level = level;
	log_fn = fn;
}

int sc_log_enabled(unsigned int level)
{
	return log_fn && level <= log_level;
}

void sc_log(unsigned int level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno;
	va_list ap;

	if (!sc_log_enabled(level))
		return;
	/*
	 * The callback has CRIU's variadic signature, so format here (%m needs
	 * the caller's errno, restored above) and hand it a plain "%s".
	 */
	va_start(ap, fmt);
	errno = saved;
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, "%s", line);
	errno = saved;
}
