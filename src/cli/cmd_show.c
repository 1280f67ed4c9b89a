// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr show IMAGE [--json]: print a checkpoint image. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <soccr/image.h>

#include "cli.h"
#include "json.h"

/* TCPI_OPT_* of <linux/tcp.h>, named for printing. */
static const struct {
	uint32_t bit;
	const char *name;
} opt_names[] = {
	{ 0x01, "timestamps" }, { 0x02, "sack" },     { 0x04, "wscale" },	  { 0x08, "ecn" },
	{ 0x10, "ecn_seen" },	{ 0x20, "syn_data" }, { 0x40, "usec_ts" }, { 0x80, "tfo_child" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: soccr show IMAGE [--json]\n"
		   "\n"
		   "Print a checkpoint image written by 'soccr save' ('-' reads standard input):\n"
		   "every socket of it, connections and listeners.\n"
		   "\n"
		   "  -j, --json   one JSON object instead of text\n"
		   "  -h, --help   this help\n"
		   "\n"
		   CLI_EXIT_HELP);
}

static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	char day[32];

	if (!gmtime_r(&secs, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%s.%03" PRIu64 "Z", day, (ns / 1000000u) % 1000u);
}

static void endpoint(const union libsoccr_addr *a, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, a, sizeof(*a));
	cli_fmt_endpoint(&ss, buf, len);
}

static bool mapped(const struct soccr_image *img)
{
	return img->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&img->local.v6.sin6_addr);
}

/* The lines of one connection, after its header. */
static void conn_text(const struct soccr_image *img)
{
	const struct libsoccr_sk_data *d = &img->data;
	char l[64], p[64];

	endpoint(&img->local, l, sizeof(l));
	endpoint(&img->peer, p, sizeof(p));
	printf("flags       %s\n", img->flags & SOCCR_IMAGE_F_LOCKED ?
		       "locked (restore unlocks the flow)" : "-");
	printf("family      %s%s\n", img->family == AF_INET ? "IPv4" : "IPv6",
	       mapped(img) ? " (v4-mapped)" : "");
	printf("local       %s\n", l);
	printf("peer        %s\n", p);
	printf("state       %s (%u)\n", soccr_tcp_state_name(d->state), d->state);
	printf("recv queue  %u bytes, rcv_nxt %u\n", d->inq_len, d->inq_seq);
	printf("send queue  %u bytes (%u never sent), write_seq %u\n", d->outq_len, d->unsq_len,
	       d->outq_seq);
	printf("options    ");
	for (size_t i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if (d->opt_mask & opt_names[i].bit)
			printf(" %s", opt_names[i].name);
	printf("%s\n", d->opt_mask ? "" : " -");
	printf("mss_clamp   %u\n", d->mss_clamp);
	printf("wscale      snd %u, rcv %u\n", d->snd_wscale, d->rcv_wscale);
	printf("timestamp   %u\n", d->timestamp);
	if (d->flags & SOCCR_FLAGS_WINDOW)
		printf("window      snd_wl1 %u, snd_wnd %u, max_window %u, rcv_wnd %u, rcv_wup %u\n",
		       d->snd_wl1, d->snd_wnd, d->max_window, d->rcv_wnd, d->rcv_wup);
	else
		printf("window      - (not saved)\n");
}

static const struct {
	uint32_t bit;
	const char *name;
} listen_opts[] = {
	{ SOCCR_LISTEN_REUSEADDR, "reuseaddr" }, { SOCCR_LISTEN_REUSEPORT, "reuseport" },
	{ SOCCR_LISTEN_V6ONLY, "v6only" },	 { SOCCR_LISTEN_FREEBIND, "freebind" },
	{ SOCCR_LISTEN_TRANSPARENT, "transparent" },
};

static void listen_text(const struct soccr_image_listener *li)
{
	char l[64];

	endpoint(&li->local, l, sizeof(l));
	printf("family      %s\n", li->family == AF_INET ? "IPv4" : "IPv6");
	printf("local       %s\n", l);
	printf("state       LISTEN, backlog %u\n", li->backlog);
	printf("options    ");
	for (size_t i = 0; i < sizeof(listen_opts) / sizeof(listen_opts[0]); i++)
		if (li->opts & listen_opts[i].bit)
			printf(" %s", listen_opts[i].name);
	printf("%s\n", li->opts ? "" : " -");
	printf("pending     %u connection(s) waiting to be accepted at save (not saved)\n",
	       li->pending);
}

static void print_text(const char *path, const struct soccr_image_set *set, size_t size)
{
	char when[64];

	fmt_time(set->save_time_ns, when, sizeof(when));
	if (set->version == 1) {
		printf("image       %s (%zu bytes, format version %u)\n", path, size, set->version);
		printf("saved       %s on host '%s'\n", when, set->hostname);
		conn_text(&set->socks[0].conn);
		return;
	}
	printf("image       %s (%zu bytes, format version %u, %zu socket%s)\n", path, size,
	       set->version, set->n, set->n == 1 ? "" : "s");
	printf("saved       %s on host '%s', pid %d\n", when, set->hostname, (int)set->pid);
	for (size_t i = 0; i < set->n; i++) {
		const struct soccr_image_sock *k = &set->socks[i];

		printf("\nsocket      %zu: fd %d, %s\n", i, (int)k->fd,
		       k->kind == SOCCR_IMAGE_CONN ? "connection" : "listener");
		if (k->kind == SOCCR_IMAGE_CONN)
			conn_text(&k->conn);
		else
			listen_text(&k->listen);
	}
}

/* The fields of one connection, into the open object. */
static void conn_json(struct sc_json *j, const struct soccr_image *img)
{
	const struct libsoccr_sk_data *d = &img->data;

	sc_json_string(j, "family", img->family == AF_INET ? "inet" : "inet6");
	sc_json_bool(j, "v4_mapped", mapped(img));
	cli_json_endpoint(j, "local", &img->local.sa);
	cli_json_endpoint(j, "peer", &img->peer.sa);
	sc_json_string(j, "state", soccr_tcp_state_name(d->state));
	sc_json_uint(j, "state_num", d->state);
	sc_json_uint(j, "inq_len", d->inq_len);
	sc_json_uint(j, "inq_seq", d->inq_seq);
	sc_json_uint(j, "outq_len", d->outq_len);
	sc_json_uint(j, "outq_seq", d->outq_seq);
	sc_json_uint(j, "unsq_len", d->unsq_len);
	sc_json_uint(j, "opt_mask", d->opt_mask);
	sc_json_array(j, "options");
	for (size_t i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if (d->opt_mask & opt_names[i].bit)
			sc_json_string(j, NULL, opt_names[i].name);
	sc_json_end_array(j);
	sc_json_uint(j, "mss_clamp", d->mss_clamp);
	sc_json_uint(j, "snd_wscale", d->snd_wscale);
	sc_json_uint(j, "rcv_wscale", d->rcv_wscale);
	sc_json_uint(j, "timestamp", d->timestamp);
	if (d->flags & SOCCR_FLAGS_WINDOW) {
		sc_json_object(j, "window");
		sc_json_uint(j, "snd_wl1", d->snd_wl1);
		sc_json_uint(j, "snd_wnd", d->snd_wnd);
		sc_json_uint(j, "max_window", d->max_window);
		sc_json_uint(j, "rcv_wnd", d->rcv_wnd);
		sc_json_uint(j, "rcv_wup", d->rcv_wup);
		sc_json_end_object(j);
	} else {
		sc_json_null(j, "window");
	}
}

static void flags_json(struct sc_json *j, uint32_t flags)
{
	sc_json_array(j, "flags");
	if (flags & SOCCR_IMAGE_F_LOCKED)
		sc_json_string(j, NULL, "locked");
	sc_json_end_array(j);
}

static void listen_json(struct sc_json *j, const struct soccr_image_listener *li)
{
	sc_json_string(j, "family", li->family == AF_INET ? "inet" : "inet6");
	cli_json_endpoint(j, "local", &li->local.sa);
	sc_json_string(j, "state", "LISTEN");
	sc_json_uint(j, "backlog", li->backlog);
	sc_json_array(j, "options");
	for (size_t i = 0; i < sizeof(listen_opts) / sizeof(listen_opts[0]); i++)
		if (li->opts & listen_opts[i].bit)
			sc_json_string(j, NULL, listen_opts[i].name);
	sc_json_end_array(j);
	sc_json_uint(j, "pending", li->pending);
}

static int print_json(const char *path, const struct soccr_image_set *set, size_t size)
{
	struct sc_json j = {0};
	char when[64];

	fmt_time(set->save_time_ns, when, sizeof(when));
	sc_json_object(&j, NULL);
	sc_json_string(&j, "file", path);
	sc_json_uint(&j, "size", size);
	sc_json_uint(&j, "version", set->version);
	/* One shape for every version: a version 1 image is a set of one, with no pid or fd. */
	sc_json_string(&j, "save_time", when);
	sc_json_uint(&j, "save_time_ns", set->save_time_ns);
	sc_json_string(&j, "hostname", set->hostname);
	if (set->version == 1)
		sc_json_null(&j, "pid");
	else
		sc_json_uint(&j, "pid", (uint64_t)set->pid);
	sc_json_array(&j, "sockets");
	for (size_t i = 0; i < set->n; i++) {
		const struct soccr_image_sock *k = &set->socks[i];

		sc_json_object(&j, NULL);
		sc_json_string(&j, "kind", k->kind == SOCCR_IMAGE_CONN ? "connection"
								       : "listener");
		if (k->fd >= 0)
			sc_json_uint(&j, "fd", (uint64_t)k->fd);
		else
			sc_json_null(&j, "fd");
		if (k->kind == SOCCR_IMAGE_CONN) {
			flags_json(&j, k->conn.flags);
			conn_json(&j, &k->conn);
		} else {
			listen_json(&j, &k->listen);
		}
		sc_json_end_object(&j);
	}
	sc_json_end_array(&j);
	sc_json_end_object(&j);
	return cli_json_emit("show", &j);
}

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct soccr_image_set set;
	char err[512];
	size_t size;
	int c, ret;

	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	/* Options anywhere (GNU permutation): `soccr show IMAGE --json` works. */
	while ((c = cli_getopt(argc, argv, ":h", longopts)) != -1)
		return cli_opt_other("show", c, argv, usage);
	if (argc - optind != 1) {
		cli_err("show: %s (try 'soccr show --help')",
			argc == optind ? "missing IMAGE" : "more than one IMAGE");
		return EXIT_USAGE;
	}
	cli_setup_log(cli_g.verbose);
	ret = soccr_image_set_load(argv[optind], &set, err, sizeof(err));
	if (ret) {
		cli_err("show: %s", err);
		return cli_image_status(ret);
	}
	size = set.version == 1 ? 0 : SOCCR_IMAGE_SET_HDR_LEN + SOCCR_IMAGE_CRC_LEN;
	for (size_t i = 0; i < set.n; i++) {
		const struct soccr_image_sock *k = &set.socks[i];

		size += set.version == 1 ? 0 : SOCCR_IMAGE_REC_HDR_LEN;
		size += k->kind == SOCCR_IMAGE_LISTEN
				? SOCCR_IMAGE_LISTEN_LEN
				: SOCCR_IMAGE_MIN_SIZE + (size_t)k->conn.data.inq_len +
					  k->conn.data.outq_len;
	}
	ret = EXIT_OK;
	if (cli_g.json)
		ret = print_json(argv[optind], &set, size);
	else
		print_text(argv[optind], &set, size);
	soccr_image_set_free(&set);
	return ret;
}
