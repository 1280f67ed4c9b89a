// SPDX-License-Identifier: LGPL-2.1-or-later
/* The running library's version (include/soccr/version.h). */
#include <soccr/version.h>

#include "internal.h"

SOCCR_API const char *soccr_version(void)
{
	return SOCCR_VERSION_STRING;
}
