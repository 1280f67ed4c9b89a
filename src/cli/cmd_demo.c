// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr demo: not implemented yet. */
#include "cli.h"

int cmd_demo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("demo: not implemented yet");
	return EXIT_FAIL;
}
