// SPDX-License-Identifier: LGPL-2.1-or-later
/* Stack counters (/proc/net/snmp, netstat): hints in verdicts only. */
#include "verify/vf.h"

/* ---- stack counters (hints only) --------------------------------------------------- */

/*
 * One named field of a "Proto: names" / "Proto: values" pair of lines in
 * the /proc/net file open as fd. The files are opened when the verifier is,
 * because a /proc/net file shows the netns it was opened in, whatever
 * namespace the reading thread is in by now.
 */
static long long mib_field(int fd, const char *proto, const char *field)
{
	char buf[16384], *names, *values, *end, *n, *v, *sn, *sv;
	size_t pl = strlen(proto);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	for (names = buf; names && *names;
	     names = strchr(names, '\n') ? strchr(names, '\n') + 1 : NULL) {
		if (strncmp(names, proto, pl) || names[pl] != ':')
			continue;
		end = strchr(names, '\n');
		if (!end)
			return -1;
		*end = '\0';
		values = end + 1;
		end = strchr(values, '\n');
		if (end)
			*end = '\0';
		n = strtok_r(names + pl + 1, " ", &sn);
		v = strtok_r(values + pl + 1, " ", &sv);
		for (; n && v; n = strtok_r(NULL, " ", &sn), v = strtok_r(NULL, " ", &sv))
			if (!strcmp(n, field))
				return strtoll(v, NULL, 10);
		return -1;
	}
	return -1;
}

void vf_mib_read(const struct soccr_verifier *v, struct mib *m)
{
	m->in_csum_errors = mib_field(v->snmp_fd, "Tcp", "InCsumErrors");
	m->rp_filter = mib_field(v->netstat_fd, "TcpExt", "IPReversePathFilter");
	m->paws = mib_field(v->netstat_fd, "TcpExt", "PAWSEstab");
	m->valid = true;
}
