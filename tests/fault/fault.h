/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fault injection seam (tests/fault/shim.c, built as
 * $O/tests/fault/libsoccr_fault.so): its control functions, and helpers for
 * test programs that load it.
 *
 * A test program calls fault_load(argv) first thing in main(): if the shim is
 * not in the process yet, the program re-executes itself with the shim in
 * LD_PRELOAD (for ASan builds with verify_asan_link_order=0, since the shim
 * then precedes the sanitizer runtime); once loaded, LD_PRELOAD is dropped
 * from the environment so that the commands the test runs do not get it.
 * Then fault_arm("setsockopt:3:EPERM") / fault_disarm() / fault_count().
 */
#ifndef SOCCR_TESTS_FAULT_H
#define SOCCR_TESTS_FAULT_H

/* ---- exported by the shim ------------------------------------------------------- */

/*
 * Reset the call counters and start counting; spec: "FUNC:N[:ERRNO|stop]",
 * comma-separated, or "" to count only. Returns 0 or -EINVAL.
 */
int soccr_fault_arm(const char *spec);
/* Stop counting and failing. */
void soccr_fault_disarm(void);
/* Calls of func counted since the last arm. */
unsigned long soccr_fault_count(const char *func);
/* Faults injected (or stops made) since the last arm. */
unsigned long soccr_fault_fired(void);
/* Nesting suspend (on = 1) / resume (on = 0) of counting, for the calling thread. */
void soccr_fault_suspend(int on);
/*
 * Let allocations called directly from these shared objects (comma-separated
 * file name prefixes: "libbpf,libelf") through, uncounted. Returns the number
 * of code ranges found.
 */
int soccr_fault_skip_alloc(const char *names);
/* Name of interposed function i (0, 1, ...), NULL past the last. */
const char *soccr_fault_func_name(int i);

/* ---- test-side helpers ------------------------------------------------------------- */

#ifndef SOCCR_FAULT_SHIM

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAULT_SHIM_NAME "libsoccr_fault.so"

struct fault_api {
	int (*arm)(const char *spec);
	void (*disarm)(void);
	unsigned long (*count)(const char *func);
	unsigned long (*fired)(void);
	void (*suspend)(int on);
	int (*skip_alloc)(const char *names);
};

static struct fault_api fault_api_;

static inline int fault_resolve_(void)
{
	fault_api_.arm = (int (*)(const char *))dlsym(RTLD_DEFAULT, "soccr_fault_arm");
	fault_api_.disarm = (void (*)(void))dlsym(RTLD_DEFAULT, "soccr_fault_disarm");
	fault_api_.count =
		(unsigned long (*)(const char *))dlsym(RTLD_DEFAULT, "soccr_fault_count");
	fault_api_.fired = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "soccr_fault_fired");
	fault_api_.suspend = (void (*)(int))dlsym(RTLD_DEFAULT, "soccr_fault_suspend");
	fault_api_.skip_alloc =
		(int (*)(const char *))dlsym(RTLD_DEFAULT, "soccr_fault_skip_alloc");
	return fault_api_.arm && fault_api_.disarm && fault_api_.count && fault_api_.fired &&
			       fault_api_.suspend && fault_api_.skip_alloc
		       ? 0
		       : -1;
}

/* The shim's path: $SOCCR_BUILD/tests/fault/, else next to this program's directory. */
static inline int fault_shim_path_(char *buf, size_t len)
{
	const char *build = getenv("SOCCR_BUILD");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (build && *build) {
		if (snprintf(buf, len, "%s/tests/fault/" FAULT_SHIM_NAME, build) < (int)len &&
		    !access(buf, R_OK))
			return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* $O/tests/integration/test_x -> $O/tests/fault/libsoccr_fault.so */
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (snprintf(buf, len, "%s/fault/" FAULT_SHIM_NAME, exe) >= (int)len)
		return -1;
	return access(buf, R_OK) ? -1 : 0;
}

/*
 * Make sure the shim is loaded (re-executing the program with it preloaded if
 * needed). Returns 0, or -1 with a message on stderr.
 */
static inline int fault_load(char **argv)
{
	char shim[PATH_MAX], env[PATH_MAX + 64];
	const char *asan = getenv("ASAN_OPTIONS"), *pre = getenv("LD_PRELOAD");

	if (!fault_resolve_()) {
		unsetenv("LD_PRELOAD");
		return 0;
	}
	if (getenv("SOCCR_FAULT_REEXEC")) {
		fprintf(stderr, "fault: %s is preloaded but its functions are not found\n",
			FAULT_SHIM_NAME);
		return -1;
	}
	if (fault_shim_path_(shim, sizeof(shim))) {
		fprintf(stderr, "fault: %s not found (build it with 'make tests')\n",
			FAULT_SHIM_NAME);
		return -1;
	}
	snprintf(env, sizeof(env), "%s%s%s", shim, pre && *pre ? ":" : "", pre && *pre ? pre : "");
	setenv("LD_PRELOAD", env, 1);
	/* ASan wants its runtime first in the list; the shim has to come before it. */
	snprintf(env, sizeof(env), "%s%sverify_asan_link_order=0", asan && *asan ? asan : "",
		 asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", env, 1);
	setenv("SOCCR_FAULT_REEXEC", "1", 1);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "fault: re-exec with %s: %s\n", shim, strerror(errno));
	return -1;
}

static inline int fault_arm(const char *spec)
{
	return fault_api_.arm(spec);
}

static inline void fault_disarm(void)
{
	fault_api_.disarm();
}

static inline unsigned long fault_count(const char *func)
{
	return fault_api_.count(func);
}

static inline unsigned long fault_fired(void)
{
	return fault_api_.fired();
}

static inline void fault_suspend(int on)
{
	fault_api_.suspend(on);
}

static inline int fault_skip_alloc(const char *names)
{
	return fault_api_.skip_alloc(names);
}

#endif /* !SOCCR_FAULT_SHIM */

#endif /* SOCCR_TESTS_FAULT_H */
