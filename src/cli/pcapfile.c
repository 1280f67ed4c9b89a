// SPDX-License-Identifier: LGPL-2.1-or-later
/* The --pcap files the tool writes: private files (src/base/file.c). */
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cli.h"
#include "internal.h"

struct pcap_dumper *cli_pcap_create(struct pcap *pc, const char *cmd, const char *path)
{
	pcap_dumper_t *d;
	const char *why;
	int err;
	FILE *f = sc_create_private(path, &err);

	if (!f) {
		why = sc_create_private_why(err);
		cli_err("%s: --pcap %s: %s", cmd, path, why ? why : strerror(-err));
		return NULL;
	}
	d = pcap_dump_fopen(pc, f);
	if (!d) {
		cli_err("%s: --pcap %s: %s", cmd, path, pcap_geterr(pc));
		fclose(f);
	}
	return d;
}
