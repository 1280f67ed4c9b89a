// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr show: not implemented yet. */
#include "cli.h"

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("show: not implemented yet");
	return EXIT_FAIL;
}
