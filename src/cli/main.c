// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr: checkpoint and restore live TCP connections. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{ "ps", cmd_ps, "the TCP sockets of a process, and whether each can be saved" },
	{ "lock", cmd_lock, "attach, add, delete, list, detach or inspect the network lock" },
	{ "inject", cmd_inject, "send a hand-built TCP segment from a peer's address" },
	{ "save", cmd_save, "checkpoint the TCP sockets of a running process into an image" },
	{ "restore", cmd_restore, "restore the sockets of an image (and hand them to a command)" },
	{ "show", cmd_show, "print an image" },
	{ "version", cmd_version, "versions of the tool and library, and the kernel's features" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: soccr [global options] <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nglobal options, before or after the command:\n"
		   "  -j, --json      JSON on standard output\n"
		   "  -p, --pretty    JSON, indented (implies --json)\n"
		   "  -v, --verbose   library debug messages on standard error\n"
		   "  -q, --quiet     no progress or summary lines (errors are always printed)\n"
		   "  -V, --version   print the version and exit\n"
		   "  -h, --help      this help\n"
		   "\n'soccr <command> --help' for a command's options; soccr(8) for all.\n"
		   "exit status: 0 ok, 1 failed at run time, 2 usage error or invalid input,\n"
		   "3 verification failed (an injected segment not seen or not absorbed)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* The global options before the command; the command's parser takes those after it. */
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "+:h", longopts)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		}
		cli_err("unknown option '%s' before the command (try 'soccr --help')",
			argv[optind - 1]);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	/* Each command parses its own argv from the start (0: glibc starts afresh). */
	optind = 0;
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(argc, argv);
	cli_err("unknown command '%s' (try 'soccr --help')", argv[0]);
	return EXIT_USAGE;
}
