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

#include <soccr/image.h>
#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "cli.h"
#include "json.h"

#define MAX_DEVS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr lock [--pin-dir DIR] COMMAND\n"
		"\n"
		"  attach [--dev IFACE]... [--no-mark-count]\n"
		"                                 attach the lock at ingress+egress (tcx, else a\n"
		"                                 clsact filter; default: every UP interface of\n"
		"                                 this netns, lo included); --no-mark-count, when\n"
		"                                 the lock is made: marked packets pass at once,\n"
		"                                 uncounted (cheaper)\n"
		"  add [--attach] SADDR:SPORT DADDR:DPORT\n"
		"                                 lock a TCP flow (both directions); --attach:\n"
		"                                 attach the lock first if it is not\n"
		"  add [--attach] --image IMAGE   lock the flows of every connection in IMAGE (on\n"
		"                                 the host that will restore it, before its\n"
		"                                 addresses arrive); with --attach, the restore\n"
		"                                 detaches the lock once it has unlocked them\n"
		"  del SADDR:SPORT DADDR:DPORT    unlock it\n"
		"  del --image IMAGE              unlock the flows of IMAGE\n"
		"  list [--json]                  locked flows with drop/pass counters\n"
		"  status [--json]                where the lock is attached, what it holds, and\n"
		"                                 whether its objects agree (exit 1 if not, or none)\n"
		"  detach                         remove the lock of this netns\n"
		"\n"
		"One lock per network namespace, found on its devices: the commands act on the\n"
		"lock of the namespace they run in (ip netns exec, nsenter --net). add, del and\n"
		"list fail when no lock is attached there. --pin-dir DIR (or $SOCCR_PIN_DIR)\n"
		"names a lock pinned in DIR instead, to share one lock between namespaces.\n"
		"Addresses: 1.2.3.4:80 or [fd00::1]:80. Packets carrying mark %#x pass the lock.\n"
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

static void flow_ep(int family, const union soccr_inaddr *a, uint16_t port,
		    struct sockaddr_storage *out)
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
	*out = ss;
}

static int do_list(struct soccr_lock *lock, bool json)
{
	struct sc_json j = {0};
	struct soccr_lock_entry *e = NULL;
	size_t n = 0;
	int err = 0;

	err = soccr_lock_list(lock, &e, &n);
	if (err) {
		cli_err("lock list: %s", strerror(-err));
		return EXIT_FAIL;
	}
	if (json)
		sc_json_array(&j, NULL);
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage s, d;
		char src[64], dst[64];

		flow_ep(e[i].flow.family, &e[i].flow.saddr, e[i].flow.sport, &s);
		flow_ep(e[i].flow.family, &e[i].flow.daddr, e[i].flow.dport, &d);
		if (json) {
			sc_json_object(&j, NULL);
			sc_json_endpoint(&j, "src", e[i].flow.family, &e[i].flow.saddr,
					 e[i].flow.sport);
			sc_json_endpoint(&j, "dst", e[i].flow.family, &e[i].flow.daddr,
					 e[i].flow.dport);
			sc_json_uint(&j, "dropped_out", e[i].dropped[0]);
			sc_json_uint(&j, "dropped_in", e[i].dropped[1]);
			sc_json_uint(&j, "passed_out", e[i].passed[0]);
			sc_json_uint(&j, "passed_in", e[i].passed[1]);
			sc_json_end_object(&j);
		} else {
			cli_fmt_endpoint(&s, src, sizeof(src));
			cli_fmt_endpoint(&d, dst, sizeof(dst));
			printf("%s %s dropped_out=%" PRIu64 " dropped_in=%" PRIu64
			       " passed_out=%" PRIu64 " passed_in=%" PRIu64 "\n",
			       src, dst, e[i].dropped[0], e[i].dropped[1], e[i].passed[0],
			       e[i].passed[1]);
		}
	}
	free(e);
	if (json) {
		sc_json_end_array(&j);
		return cli_json_emit("lock list", &j);
	}
	return EXIT_OK;
}

static const struct {
	unsigned int bit;
	const char *code, *text;
} problems[] = {
	{SOCCR_LOCK_PB_PIN_ONLY, "pin_only", "pinned, but attached to no device of this netns"},
	{SOCCR_LOCK_PB_NO_PIN, "no_pin", "attached, but the pin dir does not hold it"},
	{SOCCR_LOCK_PB_PIN_OTHER, "pin_other", "the pinned program is not the attached one"},
	{SOCCR_LOCK_PB_LAYOUT, "layout", "made by another soccr version (layout differs)"},
	{SOCCR_LOCK_PB_MANY, "many", "more than one lock program attached in this netns"},
	{SOCCR_LOCK_PB_HALF, "half", "a device has the lock at one hook only"},
};

static void status_json(const struct soccr_lock_status *st)
{
	struct sc_json j = {0};

	sc_json_object(&j, NULL);
	sc_json_bool(&j, "found", st->found);
	sc_json_bool(&j, "healthy", st->found && !st->problems);
	sc_json_uint(&j, "netns_cookie", st->netns_cookie);
	sc_json_array(&j, "problems");
	for (size_t i = 0; i < ARRAY_SIZE(problems); i++)
		if (st->problems & problems[i].bit) {
			sc_json_object(&j, NULL);
			sc_json_string(&j, "code", problems[i].code);
			sc_json_string(&j, "text", problems[i].text);
			sc_json_end_object(&j);
		}
	sc_json_end_array(&j);
	if (st->found) {
		sc_json_uint(&j, "prog_id", st->prog_id);
		sc_json_uint(&j, "layout", st->layout);
		sc_json_uint(&j, "pass_mark", st->pass_mark);
		sc_json_bool(&j, "count_marked", !(st->flags & SOCCR_LOCK_NO_MARK_COUNT));
		sc_json_string(&j, "owner", st->flags & SOCCR_LOCK_AUTO ? "auto" : "user");
		sc_json_uint(&j, "flows", st->flows);
		sc_json_uint(&j, "slots", st->slots);
		sc_json_uint(&j, "capacity", st->capacity);
		sc_json_uint(&j, "memlock", st->memlock);
	}
	if (st->pin_dir[0]) {
		sc_json_string(&j, "pin_dir", st->pin_dir);
		sc_json_bool(&j, "pins_visible", st->pins_visible);
		sc_json_uint(&j, "pinned_prog_id", st->pinned_prog_id);
	} else {
		sc_json_null(&j, "pin_dir");
	}
	sc_json_array(&j, "hooks");
	for (size_t i = 0; i < st->nhooks; i++) {
		sc_json_object(&j, NULL);
		sc_json_string(&j, "dev", st->hooks[i].ifname);
		sc_json_uint(&j, "ifindex", (uint64_t)st->hooks[i].ifindex);
		sc_json_string(&j, "hook", st->hooks[i].egress ? "egress" : "ingress");
		sc_json_string(&j, "attach", st->hooks[i].tcx ? "tcx" : "clsact");
		sc_json_uint(&j, "prog_id", st->hooks[i].prog_id);
		sc_json_end_object(&j);
	}
	sc_json_end_array(&j);
	sc_json_end_object(&j);
	cli_json_emit("lock status", &j);
}

static void status_text(const struct soccr_lock_status *st)
{
	if (!st->found) {
		printf("no lock in this network namespace%s%s\n", st->pin_dir[0] ? " nor in " : "",
		       st->pin_dir);
		return;
	}
	printf("lock: prog id %u, layout %u, %s, pass mark %#x%s\n", st->prog_id, st->layout,
	       st->nhooks ? "attached" : "not attached", st->pass_mark,
	       st->flags & SOCCR_LOCK_NO_MARK_COUNT ? " (uncounted)" : "");
	printf("owner: %s\n", st->flags & SOCCR_LOCK_AUTO ?
	       "auto (soccr save attached it; detached with its last flow)" : "user");
	printf("flows: %zu (%zu slot%s, room for %zu), kernel memory %" PRIu64 " KiB\n",
	       st->flows, st->slots, st->slots == 1 ? "" : "s", st->capacity, st->memlock / 1024);
	for (size_t i = 0; i < st->nhooks; i++)
		printf("hook: %s %s %s prog id %u\n", st->hooks[i].ifname,
		       st->hooks[i].egress ? "egress" : "ingress", st->hooks[i].tcx ? "tcx" : "clsact",
		       st->hooks[i].prog_id);
	if (st->pin_dir[0])
		printf("pin: %s: %s\n", st->pin_dir,
		       !st->pins_visible ? "not visible here (no bpffs)" :
		       st->pinned_prog_id ? "holds the program" : "empty");
	else
		printf("pin: none (the namespace's lock)\n");
	for (size_t i = 0; i < ARRAY_SIZE(problems); i++)
		if (st->problems & problems[i].bit)
			printf("problem: %s: %s\n", problems[i].code, problems[i].text);
	if (st->problems)
		printf("repair: 'soccr lock detach' then 'soccr lock attach' (flows must be added "
		       "again)\n");
}

static int do_status(const struct soccr_lock_opts *opts, bool json)
{
	struct soccr_lock_status st = {.sz = sizeof(st)};
	int err = soccr_lock_status(opts, &st);

	if (err) {
		cli_err("lock status: %s", cli_why(strerror(-err)));
		return EXIT_FAIL;
	}
	if (json)
		status_json(&st);
	else
		status_text(&st);
	err = st.found && !st.problems ? EXIT_OK : EXIT_FAIL;
	soccr_lock_status_free(&st);
	return err;
}

/* The flows of an image's connections (as its restore will unlock them). 0 or an exit status. */
static int image_flows(const char *sub, const char *path, struct soccr_flow **flows, size_t *n)
{
	struct soccr_image_set set;
	char err[512];
	int ret = soccr_image_set_load(path, &set, err, sizeof(err));

	if (ret) {
		cli_err("lock %s --image: %s", sub, err);
		return cli_image_status(ret);
	}
	*n = 0;
	*flows = calloc(set.n ? set.n : 1, sizeof(**flows));
	if (!*flows) {
		soccr_image_set_free(&set);
		cli_err("lock %s --image: out of memory", sub);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct soccr_image *img = &set.socks[i].conn;

		if (set.socks[i].kind != SOCCR_IMAGE_CONN)
			continue;
		if (soccr_flow_from_sockaddr(&(*flows)[*n], &img->local.sa, &img->peer.sa)) {
			soccr_image_set_free(&set);
			free(*flows);
			*flows = NULL;
			cli_err("lock %s --image: socket %zu: addresses of two families", sub, i);
			return EXIT_USAGE;
		}
		(*n)++;
	}
	soccr_image_set_free(&set);
	return 0;
}

int cmd_lock(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "dev", required_argument, NULL, 'd' },
		{ "no-mark-count", no_argument, NULL, 'M' },
		{ "attach", no_argument, NULL, 'A' },
		{ "image", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct soccr_lock_opts opts = { .sz = sizeof(opts) };
	const char *devs[MAX_DEVS], *sub, **args;
	struct soccr_lock *lock = NULL;
	int c, ndev = 0, nargs, err, ret = EXIT_FAIL;
	bool json = false, and_attach = false;
	struct soccr_flow *flows = NULL;
	const char *image = NULL;
	size_t nflows = 0;
	struct soccr_flow flow;

	optind = 0; /* glibc: start afresh, whatever main() parsed */
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", longopts)) != -1) {
		switch (c) {
		case 'P':
			opts.pin_dir = optarg;
			break;
		case 'd':
			if (ndev == MAX_DEVS) {
				cli_err("lock: at most %d --dev options", MAX_DEVS);
				return EXIT_USAGE;
			}
			devs[ndev++] = optarg;
			break;
		case 'M':
			opts.flags |= SOCCR_LOCK_NO_MARK_COUNT;
			break;
		case 'A':
			and_attach = true;
			break;
		case 'I':
			if (cli_once("lock", "--image", &image, optarg))
				return EXIT_USAGE;
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
	json = cli_g.json;
	debug = cli_g.verbose;
	if (and_attach && strcmp(sub, "add")) {
		cli_err("lock: --attach goes with 'add' only");
		return EXIT_USAGE;
	}
	if ((opts.flags & SOCCR_LOCK_NO_MARK_COUNT) && strcmp(sub, "attach")) {
		cli_err("lock: --no-mark-count goes with 'attach' only (fixed when the lock is made)");
		return EXIT_USAGE;
	}
	if (image && strcmp(sub, "add") && strcmp(sub, "del")) {
		cli_err("lock: --image goes with 'add' and 'del' only");
		return EXIT_USAGE;
	}
	if (image) {
		if (nargs) {
			cli_err("lock %s --image: no flow arguments with an image", sub);
			return EXIT_USAGE;
		}
	} else if (!strcmp(sub, "add") || !strcmp(sub, "del")) {
		if (nargs != 2) {
			cli_err("lock %s: want SADDR:SPORT DADDR:DPORT", sub);
			return EXIT_USAGE;
		}
		if (flow_arg(args[0], args[1], &flow))
			return EXIT_USAGE;
	} else if (!strcmp(sub, "attach") || !strcmp(sub, "list") || !strcmp(sub, "detach") ||
		   !strcmp(sub, "status")) {
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
	if (image) {
		err = image_flows(sub, image, &flows, &nflows);
		if (err)
			return err;
		/* Held for a restore: that restore detaches the lock it emptied, as save's. */
		if (and_attach)
			opts.flags |= SOCCR_LOCK_AUTO;
	}

	if (!strcmp(sub, "status"))
		return do_status(&opts, json);
	if (!strcmp(sub, "detach")) {
		/* Without a handle: a lock of another layout or a doubled one goes too. */
		err = soccr_lock_detach_netns(&opts);
		if (err) {
			cli_err("lock detach: %s", cli_why(strerror(-err)));
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	/*
	 * Reading or removing flows must neither create a lock nor act on one
	 * that drops nothing here (a silent no-op): the namespace's lock must be
	 * attached; a named pin dir's lock must exist.
	 */
	if (strcmp(sub, "attach") && !and_attach)
		opts.flags |= opts.pin_dir || getenv("SOCCR_PIN_DIR") ? SOCCR_LOCK_NO_CREATE
								    : SOCCR_LOCK_ATTACHED;
	err = soccr_lock_open(&opts, &lock);
	if (err == -ENOENT && (opts.flags & (SOCCR_LOCK_NO_CREATE | SOCCR_LOCK_ATTACHED))) {
		if (opts.flags & SOCCR_LOCK_ATTACHED)
			cli_err("lock %s: no lock is attached in this network namespace: run "
				"'soccr lock attach' first%s", sub,
				!strcmp(sub, "add") ? " (or 'soccr lock add --attach')" : "");
		else
			cli_err("lock %s: no lock pinned in %s: run 'soccr lock --pin-dir %s attach' "
				"first", sub, opts.pin_dir ? opts.pin_dir : getenv("SOCCR_PIN_DIR"),
				opts.pin_dir ? opts.pin_dir : getenv("SOCCR_PIN_DIR"));
		return EXIT_FAIL;
	}
	if (err) {
		cli_err("lock %s: open the lock: %s", sub, cli_why(strerror(-err)));
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
	} else if (!strcmp(sub, "add") && image) {
		err = nflows ? soccr_lock_add_batch(lock, flows, nflows) : 0;
		if (err < 0) {
			cli_err("lock add --image %s: %s", image, strerror(-err));
			goto out;
		}
		err = and_attach ? soccr_lock_attach_all(lock) : 0;
		if (err) {
			cli_err("lock add --attach: %s (the flows are in the lock)", strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "del") && image) {
		err = nflows ? soccr_lock_del_batch(lock, flows, nflows) : 0;
		if (err < 0) {
			cli_err("lock del --image %s: %s", image, strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "add")) {
		err = soccr_lock_add(lock, &flow);
		if (err) {
			cli_err("lock add %s %s: %s", args[0], args[1], strerror(-err));
			goto out;
		}
		/* Flow first, then the attach (a racing idle-detach sees the flow). */
		err = and_attach ? soccr_lock_attach_all(lock) : 0;
		if (err) {
			cli_err("lock add --attach: %s (the flow is in the lock)", strerror(-err));
			goto out;
		}
	} else if (!strcmp(sub, "del")) {
		err = soccr_lock_del(lock, &flow);
		if (err) {
			cli_err("lock del %s %s: %s", args[0], args[1], strerror(-err));
			goto out;
		}
	} else {
		ret = do_list(lock, json);
		goto out;
	}
	ret = EXIT_OK;
out:
	soccr_lock_close(lock);
	free(flows);
	return ret;
}
