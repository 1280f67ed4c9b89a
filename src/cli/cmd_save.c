// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr save: not implemented yet. */
#include "cli.h"

int cmd_save(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("save: not implemented yet");
	return EXIT_FAIL;
}
