/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The version of soccr: the one place it is written (the build reads it from
 * here for the package and the .pc files).
 *
 * SOCCR_VERSION_* describe the headers a program was compiled with;
 * soccr_version() the library it runs with. The ABI is that of the SONAME
 * (libsoccr.so.1): it changes only with the major number of the library's
 * file name, never with these.
 */
#ifndef SOCCR_VERSION_H
#define SOCCR_VERSION_H

#define SOCCR_VERSION_MAJOR 0
#define SOCCR_VERSION_MINOR 1
#define SOCCR_VERSION_PATCH 0
#define SOCCR_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR.PATCH" of the running library. */
const char *soccr_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_VERSION_H */
