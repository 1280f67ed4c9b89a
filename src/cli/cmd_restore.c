// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr restore: not implemented yet. */
#include "cli.h"

int cmd_restore(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("restore: not implemented yet");
	return EXIT_FAIL;
}
