// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr inject: not implemented yet. */
#include "cli.h"

int cmd_inject(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("inject: not implemented yet");
	return EXIT_FAIL;
}
