// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr lock: attach, add, delete, list or detach the tc network lock. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "cli.h"
#include "json.h"

#define MAX_DEVS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr lock [--pin-dir DIR] [-v] COMMAND\n"
		"\n"
		"  attach [--dev IFACE]... [--no-mark-count]\n"
		"                                 attach the lock at tc ingress+egress (default:\n"
		"                                 every UP interface of this netns, lo included);\n"
		"                                 --no-mark-count, when the lock is first made:\n"
		"                                 marked packets pass at once, uncounted (cheaper)\n"
		"  add SADDR:SPORT DADDR:DPORT    lock a TCP flow (both directions)\n"
		"  del SADDR:SPORT DADDR:DPORT    unlock it\n"
		"  list [--json]                  locked flows with drop/pass counters\n"
		"  detach                         remove our filters (this netns) and the pins\n"
		"\n"
		"Addresses: 1.2.3.4:80 or [fd00::1]:80. State is pinned under --pin-dir\n"
		"(default: $SOCCR_PIN_DIR, else " SOCCR_LOCK_PIN_DIR ").\n"
		"Packets carrying mark %#x pass the lock.\n"
		CLI_EXIT_HELP,
		SOCCR_MARK);
}

static bool debug;

static int flow_arg(const char *local, const char *peer, struct soccr_flow *flow)
{
	struct sockaddr_storage l, p;

	if (cli_parse_endpoint(local, &l)) {
		cli_err("lock: bad address '%s' (want 1.2.3.4:80 or [fd00::1]:80)", local);
		return -EINVAL;
	}
	if (cli_parse_endpoint(peer, &p)) {
		cli_err("lock: bad address '%s' (want 1.2.3.4:80 or [fd00::1]:80)", peer);
		return -EINVAL;
	}
	if (soccr_flow_from_sockaddr(flow, (struct sockaddr *)&l, (struct sockaddr *)&p)) {
		cli_err("lock: %s and %s are not of the same address family", local, peer);
		return -EINVAL;
	}
	return 0;
}

static void fmt_ep(int family, const union soccr_inaddr *a, uint16_t port, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = a->v4;
		sin->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a->v6;
		sin6->sin6_port = htons(port);
	}
	cli_fmt_endpoint(&ss, buf, len);
}

static int do_list(struct soccr_lock *lock, bool json)
{
	struct sc_json j = {0};
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;
	int err = 0;

	if (lock) {
		err = soccr_lock_list(lock, &e, &n);
		if (err) {
			cli_err("lock list: %s", strerror(-err));
			return EXIT_FAIL;
		}
	}
	if (json)
		sc_json_array(&j, NULL);
	for (size_t i = 0; i < n; i++) {
		char src[64], dst[64];

		fmt_ep(e[i].flow.family, &e[i].flow.saddr, e[i].flow.sport, src, sizeof(src));
		fmt_ep(e[i].flow.family, &e[i].flow.daddr, e[i].flow.dport, dst, sizeof(dst));
		if (json) {
			sc_json_object(&j, NULL);
			sc_json_string(&j, "src", src);
			sc_json_string(&j, "dst", dst);
			sc_json_uint(&j, "dropped_out", e[i].dropped[0]);
			sc_json_uint(&j, "dropped_in", e[i].dropped[1]);
			sc_json_uint(&j, "passed_out", e[i].passed[0]);
			sc_json_uint(&j, "passed_in", e[i].passed[1]);
			sc_json_end_object(&j);
		} else {
			printf("%s %s dropped_out=%" PRIu64 " dropped_in=%" PRIu64
			       " passed_out=%" PRIu64 " passed_in=%" PRIu64 "\n",
			       src, dst, e[i].dropped[0], e[i].dropped[1], e[i].passed[0],
			       e[i].passed[1]);
		}
	}
	if (json) {
		char *text;

		sc_json_end_array(&j);
		text = sc_json_take(&j);
		if (!text) {
			free(e);
			cli_err("lock list: out of memory");
			return EXIT_FAIL;
		}
		puts(text);
		free(text);
	}
	free(e);
	return EXIT_OK;
}

int cmd_lock(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "dev", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-mark-count", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };
	const char *devs[MAX_DEVS], *sub, **args;
	struct soccr_lock *lock = NULL;
	int c, ndev = 0, nargs, err, ret = EXIT_FAIL;
	bool json = false;
	struct soccr_flow flow;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:d:jMvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			opts.pin_dir = optarg;
			break;
		case 'd':
			if (ndev == MAX_DEVS) {
				cli_err("lock: at most %d --dev options", MAX_DEVS);
				return EXIT_USAGE;
			}
			devs[ndev++] = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'M':
			opts.flags |= SOCCR_LOCK_NO_MARK_COUNT;
			break;
		case 'v':
			debug = true;
			break;
		default:
			return cli_opt_other("lock", c, argv, usage);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	sub = argv[optind];
	args = (const char **)argv + optind + 1;
	nargs = argc - optind - 1;

	if (ndev && strcmp(sub, "attach")) {
		cli_err("lock: --dev goes with 'attach' only");
		return EXIT_USAGE;
	}
	if (json && strcmp(sub, "list")) {
		cli_err("lock: --json goes with 'list' only");
		return EXIT_USAGE;
	}
	if ((opts.flags & SOCCR_LOCK_NO_MARK_COUNT) && strcmp(sub, "attach")) {
		cli_err("lock: --no-mark-count goes with 'attach' only (fixed when the lock is made)");
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "del")) {
		if (nargs != 2) {
			cli_err("lock %s: want SADDR:SPORT DADDR:DPORT", sub);
			return EXIT_USAGE;
		}
		if (flow_arg(args[0], args[1], &flow))
			return EXIT_USAGE;
	} else if (!strcmp(sub, "attach") || !strcmp(sub, "list") || !strcmp(sub, "detach")) {
		if (nargs) {
			cli_err("lock %s: unexpected argument '%s'", sub, args[0]);
			return EXIT_USAGE;
		}
	} else {
		cli_err("lock: unknown command '%s' (try 'soccr lock --help')", sub);
		return EXIT_USAGE;
	}

	if (opts.pin_dir && opts.pin_dir[0] != '/') {
		cli_err("lock: --pin-dir '%s': must be an absolute path on a bpffs", opts.pin_dir);
		return EXIT_USAGE;
	}
	/* A bad interface name is invalid input: say so before creating anything. */
	for (int i = 0; i < ndev; i++)
		if (!if_nametoindex(devs[i])) {
			cli_err("lock attach: interface '%s': %s", devs[i], strerror(errno));
			return EXIT_USAGE;
		}

	/* Also libbpf's messages, with -v or SOCCR_DEBUG=1. */
	cli_setup_log(debug);

	/* Reading or removing a lock must not create one. */
	if (!strcmp(sub, "list") || !strcmp(sub, "del"))
		opts.flags |= SOCCR_LOCK_NO_CREATE;
	err = soccr_lock_open(&opts, &lock);
	if (err == -ENOENT && (opts.flags & SOCCR_LOCK_NO_CREATE)) {
		/* No lock at all: nothing locked, nothing to delete. */
		if (!strcmp(sub, "list"))
			return do_list(NULL, json);
		return EXIT_OK;
	}
	if (err) {
		cli_err("lock %s: open the lock in %s: %s", sub,
			opts.pin_dir ? opts.pin_dir : "the default pin dir", strerror(-err));
		return EXIT_FAIL;
	}

	if (!strcmp(sub, "attach")) {
		err = 0;
		if (!ndev)
			err = soccr_lock_attach_all(lock);
		for (int i = 0; i < ndev && !err; i++)
			err = soccr_lock_attach(lock, devs[i]);
		if (err) {
			cli_err("lock attach: %s", strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "add")) {
		err = soccr_lock_add(lock, &flow);
		if (err) {
			cli_err("lock add %s %s: %s", args[0], args[1], strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "del")) {
		err = soccr_lock_del(lock, &flow);
		if (err) {
			cli_err("lock del %s %s: %s", args[0], args[1], strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "list")) {
		ret = do_list(lock, json);
		goto out;
	} else {
		err = soccr_lock_detach(lock);
		if (err) {
			cli_err("lock detach: %s", strerror(-err));
			goto out;
		}
	}
	ret = EXIT_OK;
out:
	soccr_lock_close(lock);
	return ret;
}
