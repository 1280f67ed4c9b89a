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
/* Exported for libsoccr-verify only, under the LIBSOCCR_PRIVATE version node. */
#define SOCCR_PRIVATE_API __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Logging through the callback set by libsoccr_set_log(); nothing is printed
 * without one. errno is preserved. Lines name the object and the step:
 * "sk 7: TCP_QUEUE_SEQ (recv): Invalid argument". Error lines start as
 * CRIU's own libsoccr starts them, "Error (file:line): ", which CRIU's logs
 * and its test suite look for; they are logged at SOCCR_LOG_ERR.
 */
SOCCR_PRIVATE_API void sc_log(unsigned int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
SOCCR_PRIVATE_API int sc_log_enabled(unsigned int level);

#define pr_err(fmt, ...)                                                                   \
	sc_log(SOCCR_LOG_ERR, "Error (%s:%d): " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_dbg(fmt, ...) sc_log(SOCCR_LOG_DBG, fmt "\n", ##__VA_ARGS__)
/* Error line ending with the text of the current errno. */
#define pr_perror(fmt, ...)                                                                \
	sc_log(SOCCR_LOG_ERR, "Error (%s:%d): " fmt ": %m\n", __FILE__, __LINE__,        \
		  ##__VA_ARGS__)

/*
 * Copy an options struct that starts with size_t sz (libbpf's convention):
 * in may be NULL (all defaults); a shorter struct leaves the newer fields
 * zero; a longer one must have zeros beyond what we know; in_sz below min_sz
 * is refused. Returns 0 or -EINVAL.
 */
SOCCR_PRIVATE_API int sc_opts_copy(void *out, size_t out_sz, const void *in, size_t in_sz,
				 size_t min_sz);

/*
 * Bracket every libbpf use (src/base/bpfenv.c): libbpf's messages go to
 * our log, at debug level if quiet (a failure there has a fallback), and
 * libbpf's print callback and RLIMIT_MEMLOCK are as they were afterwards.
 */
#include <stdbool.h>
#include <sys/resource.h>
struct soccr_bpf_env {
	void *print;
	bool quiet;
	bool have_memlock;
	struct rlimit memlock;
};
SOCCR_HIDDEN void sc_bpf_env_enter(struct soccr_bpf_env *env, bool quiet);
SOCCR_HIDDEN void sc_bpf_env_leave(struct soccr_bpf_env *env);

/*
 * BPF iterators (src/base/iter.c). sc_iter_link_fd(): the iterator link of
 * a loaded program as an O_CLOEXEC descriptor of our own (the skeleton can be
 * destroyed), or -errno; call it between sc_bpf_env_enter() and _leave().
 * sc_iter_create_in(): an iterator (a readable fd, O_CLOEXEC) created in the
 * network namespace nsfd (-1: the caller's), which is what a TCP iterator
 * walks; a helper thread enters the namespace and is joined. -errno on failure.
 */
struct bpf_program;
SOCCR_HIDDEN int sc_iter_link_fd(struct bpf_program *prog);
SOCCR_HIDDEN int sc_iter_create_in(int link_fd, int nsfd);

/* UAPI values newer than the build host's headers may know (linux/bpf.h, 6.6). */
#define SC_BPF_TCX_INGRESS 46
#define SC_BPF_TCX_EGRESS  47
#define SC_BPF_F_BEFORE	   (1U << 3)
/* SOCCR_NO_TCX=1 (secure_getenv): use the classic clsact filters even where tcx exists. */
SOCCR_HIDDEN bool sc_tcx_forced_off(void);
/* What a kernel without tcx answers to a BPF_TCX_* attach type. */
SOCCR_HIDDEN bool sc_tcx_unavailable(int err);

/*
 * Open path for writing a file for the user (a pcap capture): created 0600,
 * never through a symbolic link, only a regular file the caller owns
 * (made 0600 if it was wider), truncated only after those checks (src/base/file.c).
 * Returns the stream, or NULL with *err a negative errno: -ELOOP (symbolic
 * link), -EINVAL (not a regular file), -EPERM (another user's), or open's.
 */
#include <stdio.h>
SOCCR_PRIVATE_API FILE *sc_create_private(const char *path, int *err);
/* Words for those refusals (NULL for open's own errors: use strerror()). */
SOCCR_PRIVATE_API const char *sc_create_private_why(int err);

#endif /* SOCCR_INTERNAL_H */
