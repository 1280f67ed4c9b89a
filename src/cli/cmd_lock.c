// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr lock: not implemented yet. */
#include "cli.h"

int cmd_lock(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("lock: not implemented yet");
	return EXIT_FAIL;
}
