// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr inject: build one TCP segment "from" a peer and send it through the
 * AF_PACKET injector, optionally N copies in one sendmmsg() batch, optionally
 * recording exactly the frames sent into a pcap file; with --verify, prove
 * its fate (libpcap capture + the receiving socket's view through
 * sock_diag, whichever process owns it) and record the capture instead.
 */
#include <errno.h>
#include <net/if.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <soccr/inject.h>
#include <soccr/lock.h>
#include <soccr/packet.h>
#include <soccr/soccr.h>
#include <soccr/verify.h>

#include "cli.h"
#include "json.h"

/* Defaults, as --help states them. */
#define DEF_FLAGS SOCCR_TCP_ACK
#define DEF_WIN	  65535
#define DEF_DEV	  "lo"
#define MAX_COUNT 65536 /* one buffer, n iovecs pointing at it */
/* Large enough for any frame the builder makes (libpcap's own default is 262144). */
#define PCAP_SNAPLEN 262144

static const struct {
	const char *name;
	uint8_t bit;
} flag_names[] = {
	{"fin", SOCCR_TCP_FIN}, {"syn", SOCCR_TCP_SYN}, {"rst", SOCCR_TCP_RST},
	{"psh", SOCCR_TCP_PSH}, {"ack", SOCCR_TCP_ACK}, {"urg", SOCCR_TCP_URG},
	{"ece", SOCCR_TCP_ECE}, {"cwr", SOCCR_TCP_CWR},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: soccr inject --src ADDR:PORT --dst ADDR:PORT --seq N --ack N [options]\n"
		"\n"
		"Build one TCP segment from --src (the peer) to --dst (the local socket) and send\n"
		"it through an AF_PACKET socket on --dev, so the local stack receives it as if it\n"
		"came from the peer. Addresses: 1.2.3.4:80 or [fd00::1]:80 (same family).\n"
		"\n"
		"  --src ADDR:PORT    source of the segment (the peer)            (required)\n"
		"  --dst ADDR:PORT    destination (the local socket)              (required)\n"
		"  --seq N            sequence number                             (required)\n"
		"  --ack N            acknowledgment number                       (required)\n"
		"  --flags LIST       comma-separated: fin,syn,rst,psh,ack,urg,ece,cwr, or none\n"
		"                     (default: ack, a pure ACK)\n"
		"  --win N            window field as on the wire, 0-65535 (default: %d)\n"
		"  --ttl N            IPv4 TTL / IPv6 hop limit, 1-255 (default: 64)\n"
		"  --data TEXT        payload bytes (default: none)\n"
		"  --dev IFACE        interface to send on (default: %s)\n"
		"  --dst-mac MAC      Ethernet destination (default: the device's own address,\n"
		"                     zeros on lo, so a tc redirect to ingress makes it local)\n"
		"  --count N          send N copies in one sendmmsg() batch, 1-%d (default: 1)\n"
		"  --pcap FILE        write exactly the frames sent to FILE (Ethernet or raw IP);\n"
		"                     with --verify: the capture of the flow around the segment\n"
		"                     (Linux cooked v2: direction and interface per packet)\n"
		"  --mark N           SO_MARK of the frames (default: 0x%x, passes the lock)\n"
		"  --no-mark          send without SO_MARK\n"
		"  --verify           prove the segment's fate: captured (libpcap) byte for byte\n"
		"                     with valid checksums, and taken by the socket --dst <- "
		"--src\n"
		"                     (found through sock_diag, any process): a report line on\n"
		"                     stderr: absorbed, not-absorbed or not-seen, and why\n"
		"  -j, --json         the report as JSON on stdout (with --verify: the verdict)\n"
		"  --timeout MS       with --verify: bound on each wait (default: 250)\n"
		"  -v, --verbose      debug log\n"
		"  -h, --help         this text\n"
		"\n"
		CLI_EXIT_HELP,
		DEF_WIN, DEF_DEV, MAX_COUNT, SOCCR_MARK);
}

static int parse_flags(const char *s, uint8_t *out)
{
	char buf[128], *tok, *save = NULL;
	uint8_t f = 0;

	if (!s || !*s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	if (!strcasecmp(s, "none")) {
		*out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (!strcasecmp(tok, flag_names[i].name))
				break;
		if (i == sizeof(flag_names) / sizeof(flag_names[0]))
			return -EINVAL;
		f |= flag_names[i].bit;
	}
	/* "fin,,ack" or a trailing comma: strtok_r hides empty tokens, be strict. */
	if (strstr(s, ",,") || s[0] == ',' || s[strlen(s) - 1] == ',')
		return -EINVAL;
	*out = f;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[SOCCR_ETH_ALEN])
{
	unsigned int b[SOCCR_ETH_ALEN];
	char end;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != SOCCR_ETH_ALEN)
		return -EINVAL;
	for (int i = 0; i < SOCCR_ETH_ALEN; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static void copy_addr(const struct sockaddr_storage *ss, union soccr_inaddr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		a->v4 = sin->sin_addr;
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		a->v6 = sin6->sin6_addr;
		*port = ntohs(sin6->sin6_port);
	}
}

/*
 * Write the n frames that were sent, all with the same timestamp. Returns 0
 * or -1 (message printed).
 */
static int write_pcap(pcap_dumper_t *d, const char *path, const void *frame, size_t len,
		      unsigned int n)
{
	struct pcap_pkthdr h;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	memset(&h, 0, sizeof(h));
	h.ts = tv;
	h.caplen = (bpf_u_int32)len;
	h.len = (bpf_u_int32)len;
	for (unsigned int i = 0; i < n; i++)
		pcap_dump((u_char *)d, &h, frame);
	if (pcap_dump_flush(d)) {
		cli_err("inject: --pcap %s: write failed", path);
		return -1;
	}
	return 0;
}

/*
 * Collect the verdict, print the report line on stderr (and the JSON on
 * stdout). Returns the exit status: 0 absorbed, 3 not, 1 on failure.
 */
static int report(struct soccr_verifier *ver, bool json)
{
	char line[768], *text = NULL;
	int bad = soccr_verifier_collect(ver);

	if (bad < 0) {
		cli_err("inject: --verify: collecting the verdict failed: %s", strerror(-bad));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < soccr_verifier_count(ver); i++) {
		soccr_verdict_str(soccr_verifier_verdict(ver, i), line, sizeof(line));
		fprintf(stderr, "verify: %s\n", line);
	}
	if (json) {
		if (soccr_verifier_json(ver, &text)) {
			cli_err("inject: --json: out of memory");
			return EXIT_FAIL;
		}
		if (cli_json_print("inject", text))
			return EXIT_FAIL;
	}
	return bad ? EXIT_VERIFY : EXIT_OK;
}

enum {
	OPT_SRC = 256,
	OPT_DST,
	OPT_SEQ,
	OPT_ACK,
	OPT_FLAGS,
	OPT_WIN,
	OPT_DEV,
	OPT_COUNT,
	OPT_PCAP,
	OPT_VERIFY,
	OPT_NO_MARK,
	OPT_MARK,
	OPT_DST_MAC,
	OPT_TTL,
	OPT_DATA,
	OPT_TIMEOUT,
};

static const struct option long_opts[] = {
	{"src", required_argument, NULL, OPT_SRC},
	{"dst", required_argument, NULL, OPT_DST},
	{"seq", required_argument, NULL, OPT_SEQ},
	{"ack", required_argument, NULL, OPT_ACK},
	{"flags", required_argument, NULL, OPT_FLAGS},
	{"win", required_argument, NULL, OPT_WIN},
	{"dev", required_argument, NULL, OPT_DEV},
	{"count", required_argument, NULL, OPT_COUNT},
	{"pcap", required_argument, NULL, OPT_PCAP},
	{"verify", no_argument, NULL, OPT_VERIFY},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"no-mark", no_argument, NULL, OPT_NO_MARK},
	{"mark", required_argument, NULL, OPT_MARK},
	{"dst-mac", required_argument, NULL, OPT_DST_MAC},
	{"ttl", required_argument, NULL, OPT_TTL},
	{"data", required_argument, NULL, OPT_DATA},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_inject(int argc, char **argv)
{
	struct sockaddr_storage src, dst;
	struct soccr_injector_opts iopts = {.sz = sizeof(iopts)};
	struct soccr_injector *inj = NULL;
	struct soccr_segment seg;
	struct iovec *iov = NULL;
	pcap_dumper_t *dumper = NULL;
	pcap_t *pc = NULL;
	const char *pcap_path = NULL, *dev = DEF_DEV, *data = NULL;
	uint8_t flags = DEF_FLAGS, dst_mac[SOCCR_ETH_ALEN];
	uint64_t v, seq = 0, ack = 0, win = DEF_WIN, count = 1, ttl = 64, mark = 0;
	bool have_src = false, have_dst = false, have_seq = false, have_ack = false;
	bool have_mark = false, have_dst_mac = false, no_mark = false, verify = false;
	bool json;
	struct soccr_verifier *ver = NULL;
	struct soccr_lock *lock = NULL;
	uint64_t timeout_ms = 0;
	int vid = -1;
	char line[256];
	void *frame = NULL;
	ssize_t len;
	int c, rc = EXIT_FAIL, sent;

	opterr = 0;
	optind = 0; /* glibc: start afresh, whatever main() parsed */
	while ((c = cli_getopt(argc, argv, ":h", long_opts)) != -1) {
		switch (c) {
		case OPT_SRC:
		case OPT_DST:
			if (cli_parse_endpoint(optarg, c == OPT_SRC ? &src : &dst)) {
				cli_err("inject: --%s '%s': not ADDR:PORT (1.2.3.4:80 or "
					"[fd00::1]:80)",
					c == OPT_SRC ? "src" : "dst", optarg);
				return EXIT_USAGE;
			}
			*(c == OPT_SRC ? &have_src : &have_dst) = true;
			break;
		case OPT_SEQ:
		case OPT_ACK:
			if (cli_parse_u64(optarg, UINT32_MAX, &v)) {
				cli_err("inject: --%s '%s': not a 32-bit unsigned number",
					c == OPT_SEQ ? "seq" : "ack", optarg);
				return EXIT_USAGE;
			}
			if (c == OPT_SEQ) {
				seq = v;
				have_seq = true;
			} else {
				ack = v;
				have_ack = true;
			}
			break;
		case OPT_FLAGS:
			if (parse_flags(optarg, &flags)) {
				cli_err("inject: --flags '%s': expected a comma-separated list of "
					"fin,syn,rst,psh,ack,urg,ece,cwr (or none)",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_WIN:
			if (cli_parse_u64(optarg, UINT16_MAX, &win)) {
				cli_err("inject: --win '%s': not a number in 0-65535", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_TTL:
			if (cli_parse_u64(optarg, 255, &ttl) || !ttl) {
				cli_err("inject: --ttl '%s': not a number in 1-255", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_COUNT:
			if (cli_parse_u64(optarg, MAX_COUNT, &count) || !count) {
				cli_err("inject: --count '%s': not a number in 1-%d", optarg,
					MAX_COUNT);
				return EXIT_USAGE;
			}
			break;
		case OPT_MARK:
			if (cli_parse_u64(optarg, UINT32_MAX, &mark) || !mark) {
				cli_err("inject: --mark '%s': not a non-zero 32-bit number",
					optarg);
				return EXIT_USAGE;
			}
			have_mark = true;
			break;
		case OPT_DST_MAC:
			if (parse_mac(optarg, dst_mac)) {
				cli_err("inject: --dst-mac '%s': not a MAC address "
					"(aa:bb:cc:dd:ee:ff)",
					optarg);
				return EXIT_USAGE;
			}
			have_dst_mac = true;
			break;
		case OPT_DEV:
			/* As `lock attach --dev`: an impossible name is invalid input, not a failure. */
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE) {
				cli_err("inject: --dev: invalid interface name '%s'", optarg);
				return EXIT_USAGE;
			}
			dev = optarg;
			break;
		case OPT_PCAP:
			pcap_path = optarg;
			break;
		case OPT_DATA:
			data = optarg;
			break;
		case OPT_VERIFY:
			verify = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_u64(optarg, 60000, &timeout_ms) || !timeout_ms) {
				cli_err("inject: --timeout '%s': not a number of ms in 1-60000",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_NO_MARK:
			no_mark = true;
			break;
		default:
			return cli_opt_other("inject", c, argv, usage);
		}
	}
	if (optind < argc) {
		cli_err("inject: unexpected argument '%s' (try 'soccr inject --help')",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (!have_src || !have_dst || !have_seq || !have_ack) {
		cli_err("inject: missing %s (try 'soccr inject --help')", !have_src   ? "--src"
									  : !have_dst ? "--dst"
									  : !have_seq ? "--seq"
										      : "--ack");
		return EXIT_USAGE;
	}
	if (src.ss_family != dst.ss_family) {
		cli_err("inject: --src and --dst are of different address families");
		return EXIT_USAGE;
	}
	if (have_mark && no_mark) {
		cli_err("inject: --mark and --no-mark exclude each other");
		return EXIT_USAGE;
	}
	if (timeout_ms && !verify) {
		cli_err("inject: --timeout needs --verify");
		return EXIT_USAGE;
	}
	json = cli_g.json;
	if (verify && count != 1) {
		/* Copies after the first cannot be absorbed: one segment, one verdict. */
		cli_err("inject: --verify checks one segment: --count must be 1");
		return EXIT_USAGE;
	}

	cli_setup_log(cli_g.verbose);

	memset(&seg, 0, sizeof(seg));
	seg.family = src.ss_family;
	copy_addr(&src, &seg.src, &seg.sport);
	copy_addr(&dst, &seg.dst, &seg.dport);
	seg.seq = (uint32_t)seq;
	seg.ack = (uint32_t)ack;
	seg.flags = flags;
	seg.window = (uint16_t)win;
	seg.ttl = (uint8_t)ttl;
	/* Like the Linux stack: DF set, so the IP ID carries no meaning (RFC 6864). */
	seg.df = true;
	if (data) {
		seg.payload = data;
		seg.payload_len = strlen(data);
	}

	iopts.ifname = dev;
	iopts.mark = (uint32_t)mark;
	iopts.no_mark = no_mark;
	if (soccr_injector_open(&iopts, &inj))
		goto out; /* the library logged "inject IFACE: step: why" */

	if (soccr_injector_link(inj) == SOCCR_LINK_ETH) {
		/*
		 * Source and destination both the device's own address (zeros on
		 * lo): redirected to the device's ingress by a tc program, such a
		 * frame is PACKET_HOST, i.e. for this host.
		 */
		soccr_injector_hwaddr(inj, seg.eth_src);
		memcpy(seg.eth_dst, have_dst_mac ? dst_mac : seg.eth_src, SOCCR_ETH_ALEN);
	} else if (have_dst_mac) {
		cli_err("inject: --dst-mac: %s has no link-layer header", dev);
		rc = EXIT_USAGE;
		goto out;
	}

	len = soccr_pkt_len(&seg, soccr_injector_link(inj));
	if (len < 0) {
		cli_err("inject: cannot build the segment: %s", strerror((int)-len));
		rc = EXIT_USAGE;
		goto out;
	}
	frame = malloc((size_t)len);
	iov = calloc(count, sizeof(*iov));
	if (!frame || !iov) {
		cli_err("inject: out of memory");
		goto out;
	}
	len = soccr_pkt_build(&seg, soccr_injector_link(inj), frame, (size_t)len);
	if (len < 0) {
		cli_err("inject: cannot build the segment: %s", strerror((int)-len));
		rc = EXIT_USAGE;
		goto out;
	}

	if (verify) {
		struct soccr_verifier_opts vopts = {.sz = sizeof(vopts)};
		struct soccr_lock_opts lopts = {.sz = sizeof(lopts), .flags = SOCCR_LOCK_NO_CREATE};
		struct soccr_verify_expect exp = {.sz = sizeof(exp), .fd = -1};
		struct soccr_flow flow = {.family = seg.family};
		int err;

		/* A lock, if there is one, explains drops; its absence is no error. */
		if (soccr_lock_open(&lopts, &lock))
			lock = NULL;
		vopts.ifname = soccr_injector_ifname(inj);
		vopts.pcap_path = pcap_path;
		vopts.lock = lock;
		vopts.timeout_ms = (unsigned int)timeout_ms;
		if ((size_t)len + 64 > 2048)
			vopts.snaplen = (unsigned int)len + 64;
		/* The capture opens before the send: that is the point. */
		err = soccr_verifier_open(&vopts, &ver);
		if (err) {
			cli_err("inject: --verify: cannot open the capture: %s", strerror(-err));
			goto out;
		}
		/* The segment goes from the peer (--src) to the local socket (--dst). */
		flow.saddr = seg.dst;
		flow.sport = seg.dport;
		flow.daddr = seg.src;
		flow.dport = seg.sport;
		err = soccr_verifier_set_flows(ver, &flow, 1);
		if (!err) {
			vid = soccr_verifier_expect(ver, frame, (size_t)len,
						    soccr_injector_link(inj),
						    soccr_injector_ifindex(inj), &exp);
			err = vid < 0 ? vid : 0;
		}
		if (err) {
			cli_err("inject: --verify: %s", strerror(-err));
			goto out;
		}
	}

	/* Open the capture file first: an unwritable path must not cost a send. */
	if (pcap_path && !verify) {
		pc = pcap_open_dead(soccr_injector_link(inj) == SOCCR_LINK_ETH ? DLT_EN10MB
									       : DLT_RAW,
				    PCAP_SNAPLEN);
		if (!pc) {
			cli_err("inject: --pcap: pcap_open_dead failed");
			goto out;
		}
		dumper = cli_pcap_create(pc, "inject", pcap_path);
		if (!dumper)
			goto out;
	}

	for (uint64_t i = 0; i < count; i++) {
		iov[i].iov_base = frame;
		iov[i].iov_len = (size_t)len;
	}
	if (count == 1) {
		int err = soccr_injector_send(inj, frame, (size_t)len);

		sent = err ? -1 : 1;
		if (ver)
			soccr_verifier_sent(ver, vid, err);
	} else {
		sent = soccr_injector_send_batch(inj, iov, (unsigned int)count);
	}
	if (dumper && sent > 0 &&
	    write_pcap(dumper, pcap_path, frame, (size_t)len, (unsigned int)sent))
		goto out;
	if (ver) {
		rc = report(ver, json);
		if (sent > 0)
			fprintf(json ? stderr : stdout, "sent 1 frame (%zd bytes) on %s\n", len,
				soccr_injector_ifname(inj));
		goto out;
	}
	if (sent < 0)
		goto out; /* logged by the library */
	soccr_segment_str(&seg, line, sizeof(line));
	if ((uint64_t)sent != count) {
		cli_err("inject %s: only %d of %llu frames sent", soccr_injector_ifname(inj), sent,
			(unsigned long long)count);
		goto out;
	}
	if (json) {
		struct sc_json j = { 0 };

		sc_json_object(&j, NULL);
		sc_json_uint(&j, "frames", (uint64_t)sent);
		sc_json_uint(&j, "bytes", (uint64_t)len);
		sc_json_string(&j, "dev", soccr_injector_ifname(inj));
		sc_json_string(&j, "segment", line);
		sc_json_end_object(&j);
		rc = cli_json_emit("inject", &j);
		goto out;
	}
	if (!cli_g.quiet)
		printf("sent %d frame%s (%zd bytes) on %s: %s\n", sent, sent == 1 ? "" : "s", len,
		       soccr_injector_ifname(inj), line);
	rc = EXIT_OK;
out:
	soccr_verifier_close(ver);
	soccr_lock_close(lock);
	if (dumper)
		pcap_dump_close(dumper);
	if (pc)
		pcap_close(pc);
	free(iov);
	free(frame);
	soccr_injector_close(inj);
	return rc;
}
