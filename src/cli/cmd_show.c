// SPDX-License-Identifier: LGPL-2.1-or-later
/* soccr show IMAGE [--json]: print a checkpoint image. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <soccr/image.h>

#include "cli.h"

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
		   "Print a checkpoint image written by 'soccr save' ('-' reads standard input).\n"
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

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
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

static void print_text(const char *path, const struct soccr_image *img, size_t size)
{
	const struct libsoccr_sk_data *d = &img->data;
	char when[64], l[64], p[64];

	fmt_time(img->save_time_ns, when, sizeof(when));
	endpoint(&img->local, l, sizeof(l));
	endpoint(&img->peer, p, sizeof(p));
	printf("image       %s (%zu bytes, format version %u)\n", path, size, img->version);
	printf("saved       %s on host '%s'\n", when, img->hostname);
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

static void json_endpoint(const char *key, const union libsoccr_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->v4.sin_addr, host, sizeof(host));
		port = ntohs(a->v4.sin_port);
	} else {
		inet_ntop(AF_INET6, &a->v6.sin6_addr, host, sizeof(host));
		port = ntohs(a->v6.sin6_port);
	}
	printf("\"%s\":{\"addr\":\"%s\",\"port\":%u}", key, host, port);
}

static void print_json(const char *path, const struct soccr_image *img, size_t size)
{
	const struct libsoccr_sk_data *d = &img->data;
	char when[64];
	bool first = true;

	fmt_time(img->save_time_ns, when, sizeof(when));
	printf("{\"file\":");
	json_str(path);
	printf(",\"size\":%zu,\"version\":%u,\"flags\":[%s]", size, img->version,
	       img->flags & SOCCR_IMAGE_F_LOCKED ? "\"locked\"" : "");
	printf(",\"save_time\":\"%s\",\"save_time_ns\":%" PRIu64 ",\"hostname\":", when,
	       img->save_time_ns);
	json_str(img->hostname);
	printf(",\"family\":\"%s\",\"v4_mapped\":%s,", img->family == AF_INET ? "inet" : "inet6",
	       mapped(img) ? "true" : "false");
	json_endpoint("local", &img->local);
	putchar(',');
	json_endpoint("peer", &img->peer);
	printf(",\"state\":\"%s\",\"state_num\":%u", soccr_tcp_state_name(d->state), d->state);
	printf(",\"inq_len\":%u,\"inq_seq\":%u,\"outq_len\":%u,\"outq_seq\":%u,\"unsq_len\":%u",
	       d->inq_len, d->inq_seq, d->outq_len, d->outq_seq, d->unsq_len);
	printf(",\"opt_mask\":%u,\"options\":[", d->opt_mask);
	for (size_t i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if (d->opt_mask & opt_names[i].bit) {
			printf("%s\"%s\"", first ? "" : ",", opt_names[i].name);
			first = false;
		}
	printf("],\"mss_clamp\":%u,\"snd_wscale\":%u,\"rcv_wscale\":%u,\"timestamp\":%u",
	       d->mss_clamp, d->snd_wscale, d->rcv_wscale, d->timestamp);
	if (d->flags & SOCCR_FLAGS_WINDOW)
		printf(",\"window\":{\"snd_wl1\":%u,\"snd_wnd\":%u,\"max_window\":%u,"
		       "\"rcv_wnd\":%u,\"rcv_wup\":%u}}\n",
		       d->snd_wl1, d->snd_wnd, d->max_window, d->rcv_wnd, d->rcv_wup);
	else
		printf(",\"window\":null}\n");
}

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct soccr_image img;
	bool json = false;
	char err[512];
	int c, ret;

	opterr = 0;
	optind = 1;
	/* Options anywhere (GNU permutation): `soccr show IMAGE --json` works. */
	while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default:
			return cli_opt_other("show", c, argv, usage);
		}
	}
	if (argc - optind != 1) {
		cli_err("show: %s (try 'soccr show --help')",
			argc == optind ? "missing IMAGE" : "more than one IMAGE");
		return EXIT_USAGE;
	}
	cli_setup_log(false);
	ret = soccr_image_load(argv[optind], &img, err, sizeof(err));
	if (ret) {
		cli_err("show: %s", err);
		return cli_image_status(ret);
	}
	if (json)
		print_json(argv[optind], &img, SOCCR_IMAGE_MIN_SIZE + (size_t)img.data.inq_len +
						       img.data.outq_len);
	else
		print_text(argv[optind], &img, SOCCR_IMAGE_MIN_SIZE + (size_t)img.data.inq_len +
						       img.data.outq_len);
	soccr_image_free(&img);
	return EXIT_OK;
}
