// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Around every libbpf call of the library: libbpf's messages go to our log
 * callback (libsoccr_set_log()) instead of stderr, and what libbpf may
 * change process-wide is put back afterwards: its print callback (the
 * caller's own, if it set one) and RLIMIT_MEMLOCK (libbpf raises it on
 * kernels that charge BPF memory to it, and says so when it cannot).
 *
 * libbpf's print callback is one per process: while a library call loads
 * a program, messages of the caller's own libbpf calls in other threads
 * come to our log too. Nothing else can be done with libbpf 1.1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <bpf/libbpf.h>

#include "internal.h"

/* Whether libbpf's warnings are errors for the caller (no fallback) or only debug lines. */
static __thread bool bpf_quiet;

static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	unsigned int ours = level == LIBBPF_WARN && !bpf_quiet ? SOCCR_LOG_ERR : SOCCR_LOG_DBG;
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG || !sc_log_enabled(ours))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* libbpf's lines name it already ("libbpf: ..."). */
	sc_log(ours, "%s%s\n", ours == SOCCR_LOG_ERR ? "Error (libbpf): " : "", line);
	return 0;
}

void sc_bpf_env_enter(struct soccr_bpf_env *env, bool quiet)
{
	memset(env, 0, sizeof(*env));
	env->have_memlock = !getrlimit(RLIMIT_MEMLOCK, &env->memlock);
	env->quiet = bpf_quiet;
	bpf_quiet = quiet;
	env->print = (void *)libbpf_set_print(bpf_print);
}

void sc_bpf_env_leave(struct soccr_bpf_env *env)
{
	struct rlimit now;

	libbpf_set_print((libbpf_print_fn_t)env->print);
	bpf_quiet = env->quiet;
	if (env->have_memlock && !getrlimit(RLIMIT_MEMLOCK, &now) &&
	    (now.rlim_cur != env->memlock.rlim_cur || now.rlim_max != env->memlock.rlim_max))
		setrlimit(RLIMIT_MEMLOCK, &env->memlock);
}

bool sc_tcx_forced_off(void)
{
	const char *env = secure_getenv("SOCCR_NO_TCX");

	return env && *env && strcmp(env, "0");
}

bool sc_tcx_unavailable(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -E2BIG;
}
