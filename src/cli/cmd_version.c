// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr version: the tool's and the library's versions, and what this kernel
 * and this process can do for soccr, each probed for real (nothing is
 * inferred from the kernel's version number).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <soccr/version.h>

#include "cli.h"
#include "internal.h"
#include "json.h"

enum probe { NO, YES, UNKNOWN };

struct feature {
	const char *key, *label;
	enum probe v;
	char why[96];
};

/* TCP_REPAIR on a fresh socket: what soccr save and restore need (CAP_NET_ADMIN). */
static void probe_repair(struct feature *f)
{
	int on = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		f->v = UNKNOWN;
		snprintf(f->why, sizeof(f->why), "no TCP socket: %s", strerror(errno));
		return;
	}
	f->v = setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ? NO : YES;
	if (f->v == NO)
		snprintf(f->why, sizeof(f->why), "%s (needs CAP_NET_ADMIN)", strerror(errno));
	close(fd);
}

/* A tc classifier can be loaded: the lock and the bypass need one. */
static void probe_sched_cls(struct feature *f)
{
	int r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL);

	f->v = r == 1 ? YES : NO;
	if (r != 1)
		snprintf(f->why, sizeof(f->why), "%s (needs CAP_BPF and CAP_NET_ADMIN in the "
			 "initial user namespace)", r < 0 ? strerror(-r) : "refused");
}

/* tcx (Linux 6.6): a query of lo's tcx ingress hook works where the kernel has it. */
static void probe_tcx(struct feature *f)
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	unsigned int lo = if_nametoindex("lo");

	if (!lo || !bpf_prog_query_opts((int)lo, SC_BPF_TCX_INGRESS, &q)) {
		f->v = lo ? YES : UNKNOWN;
		if (!lo)
			snprintf(f->why, sizeof(f->why), "no lo device here");
	} else if (errno == EPERM || errno == EACCES) {
		f->v = UNKNOWN;
		snprintf(f->why, sizeof(f->why), "cannot ask: %s", strerror(errno));
	} else {
		f->v = NO;
		snprintf(f->why, sizeof(f->why), "classic clsact filters are used instead");
	}
	if (f->v == YES && sc_tcx_forced_off())
		snprintf(f->why, sizeof(f->why), "not used: SOCCR_NO_TCX is set");
}

static void probe_btf(struct feature *f)
{
	f->v = access("/sys/kernel/btf/vmlinux", R_OK) ? NO : YES;
	if (f->v == NO)
		snprintf(f->why, sizeof(f->why), "/sys/kernel/btf/vmlinux: %s", strerror(errno));
}

/* A bpffs at /sys/fs/bpf: only needed for --pin-dir. */
static void probe_bpffs(struct feature *f)
{
	struct statfs st;

	f->v = !statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC ? YES : NO;
	if (f->v == NO)
		snprintf(f->why, sizeof(f->why), "no bpffs at /sys/fs/bpf (only --pin-dir needs one)");
}

/* In a user namespace other than the initial one (rootless containers): uid_map is partial. */
static void probe_userns(struct feature *f)
{
	unsigned long inside, outside, count;
	FILE *m = fopen("/proc/self/uid_map", "re");
	int n;

	f->v = UNKNOWN;
	if (!m)
		return;
	n = fscanf(m, "%lu %lu %lu", &inside, &outside, &count);
	fclose(m);
	if (n == 3)
		f->v = inside == 0 && outside == 0 && count == 4294967295UL ? NO : YES;
	if (f->v == YES)
		snprintf(f->why, sizeof(f->why), "segments go through a raw IP socket, no lock");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: soccr version [--json]\n"
		   "\n"
		   "The versions of the tool and of the libsoccr it runs with, the kernel, and\n"
		   "what soccr can use here, each probed: TCP_REPAIR, tc BPF programs, tcx,\n"
		   "BTF, a bpffs, and whether this is a user namespace.\n"
		   "\n"
		   "  -j, --json   one JSON object\n"
		   "  -h, --help   this help\n"
		   "\n" CLI_EXIT_HELP);
}

static const char *probe_name(enum probe p)
{
	return p == YES ? "yes" : p == NO ? "no" : "unknown";
}

static void print_feature(const struct feature *f)
{
	printf("  %-16s %s%s%s\n", f->label, probe_name(f->v), f->why[0] ? ": " : "", f->why);
}

int cmd_version(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct feature fs[] = {
		{ "tcp_repair", "TCP_REPAIR", UNKNOWN, "" },
		{ "bpf_sched_cls", "tc BPF programs", UNKNOWN, "" },
		{ "tcx", "tcx", UNKNOWN, "" },
		{ "btf", "kernel BTF", UNKNOWN, "" },
		{ "bpffs", "bpffs", UNKNOWN, "" },
	};
	void (*probes[])(struct feature *) = { probe_repair, probe_sched_cls, probe_tcx,
					       probe_btf, probe_bpffs };
	struct feature userns = { "user_namespace", "user namespace", UNKNOWN, "" };
	struct utsname u;
	int c;

	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	while ((c = cli_getopt(argc, argv, ":h", longopts)) != -1)
		return cli_opt_other("version", c, argv, usage);
	if (optind < argc) {
		cli_err("version: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	cli_libbpf_verbose(cli_g.verbose);
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		probes[i](&fs[i]);
	probe_userns(&userns);

	if (cli_g.json) {
		struct sc_json j = { 0 };

		sc_json_object(&j, NULL);
		sc_json_string(&j, "version", SOCCR_VERSION_STRING);
		sc_json_string(&j, "library", soccr_version());
		sc_json_string(&j, "kernel", u.release);
		sc_json_object(&j, "features");
		for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
			sc_json_object(&j, fs[i].key);
			if (fs[i].v == UNKNOWN)
				sc_json_null(&j, "available");
			else
				sc_json_bool(&j, "available", fs[i].v == YES);
			if (fs[i].why[0])
				sc_json_string(&j, "why", fs[i].why);
			sc_json_end_object(&j);
		}
		sc_json_end_object(&j);
		/* Not a feature: whether this process runs in a user namespace. */
		if (userns.v == UNKNOWN)
			sc_json_null(&j, userns.key);
		else
			sc_json_bool(&j, userns.key, userns.v == YES);
		sc_json_end_object(&j);
		return cli_json_emit("version", &j);
	}
	cli_print_version();
	printf("kernel %s\n", u.release);
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		print_feature(&fs[i]);
	print_feature(&userns);
	return EXIT_OK;
}
