// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr: checkpoint and restore live TCP connections. */
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
	{ "demo", cmd_demo, "end-to-end migration in private network namespaces" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: soccr <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'soccr <command> --help' for a command's options.\n"
		   CLI_EXIT_HELP);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	cli_err("unknown command '%s' (try 'soccr --help')", argv[1]);
	return EXIT_USAGE;
}
