/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Declarations shared by the library's source files; never installed. */
#ifndef SOCCR_INTERNAL_H
#define SOCCR_INTERNAL_H

#include <errno.h>
#include <stddef.h>

#include <soccr/soccr.h>

/* Symbols shared between library files but not exported. */
#define SOCCR_HIDDEN __attribute__((visibility("hidden")))
/* Exported API (the version script has the final say). */
#define SOCCR_API __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Logging through the callback set by libsoccr_set_log(); nothing is printed
 * without one. errno is preserved. Lines name the object and the step:
 * "sk 7: TCP_QUEUE_SEQ (recv): Invalid argument".
 */
SOCCR_HIDDEN void soccr_log(unsigned int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
SOCCR_HIDDEN int soccr_log_enabled(unsigned int level);

#define pr_err(fmt, ...) soccr_log(SOCCR_LOG_ERR, fmt "\n", ##__VA_ARGS__)
#define pr_dbg(fmt, ...) soccr_log(SOCCR_LOG_DBG, fmt "\n", ##__VA_ARGS__)
/* Error line ending with the text of the current errno. */
#define pr_perror(fmt, ...) soccr_log(SOCCR_LOG_ERR, fmt ": %m\n", ##__VA_ARGS__)

/*
 * Copy an options struct that starts with size_t sz (libbpf's convention):
 * in may be NULL (all defaults); a shorter struct leaves the newer fields
 * zero; a longer one must have zeros beyond what we know; in_sz below min_sz
 * is refused. Returns 0 or -EINVAL.
 */
SOCCR_HIDDEN int soccr_opts_copy(void *out, size_t out_sz, const void *in, size_t in_sz,
				 size_t min_sz);

/* 1 if the device has a clsact qdisc, 0 if not, or a negative errno (src/lock.c). */
SOCCR_HIDDEN int soccr_has_clsact(int ifindex);

#endif /* SOCCR_INTERNAL_H */
