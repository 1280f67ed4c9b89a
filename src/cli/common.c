// SPDX-License-Identifier: LGPL-2.1-or-later
/* Helpers shared by the soccr subcommands. */
#include <getopt.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <soccr/image.h>
#include <soccr/soccr.h>
#include <soccr/version.h>

#include "cli.h"
#include "json.h"

struct cli_global cli_g;

/* The options every command takes, anywhere before a "--". */
static const struct option global_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "pretty", no_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
};
#define GLOBAL_SHORT "jpvqV"
#define NGLOBAL (sizeof(global_longopts) / sizeof(global_longopts[0]))
#define MAX_LONGOPTS 48

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	static struct option all[MAX_LONGOPTS + NGLOBAL + 1];
	static char all_short[64];
	size_t n = 0, lead;
	int c;

	while (longopts && longopts[n].name && n < MAX_LONGOPTS) {
		all[n] = longopts[n];
		n++;
	}
	memcpy(&all[n], global_longopts, sizeof(global_longopts));
	memset(&all[n + NGLOBAL], 0, sizeof(all[0]));
	/* The leading '+' (stop at the first operand) and ':' stay in front. */
	lead = strspn(shortopts, "+:");
	snprintf(all_short, sizeof(all_short), "%.*s" GLOBAL_SHORT "%s", (int)lead, shortopts,
		 shortopts + lead);
	for (;;) {
		c = getopt_long(argc, argv, all_short, all, NULL);
		switch (c) {
		case 'p':
			cli_g.pretty = true;
			cli_g.json = true; /* --pretty is JSON, indented */
			continue;
		case 'j':
			cli_g.json = true;
			continue;
		case 'v':
			cli_g.verbose = true;
			continue;
		case 'q':
			cli_g.quiet = true;
			continue;
		case 'V':
			cli_print_version();
			exit(EXIT_OK);
		default:
			return c;
		}
	}
}

void cli_print_version(void)
{
	printf("soccr %s (libsoccr %s)\n", SOCCR_VERSION_STRING, soccr_version());
}

/* text, a compact JSON document, on stdout: as it is, or indented two spaces a level. */
static void print_json(const char *text)
{
	bool in_str = false, esc = false;
	int depth = 0;

	if (!cli_g.pretty) {
		puts(text);
		return;
	}
	for (const char *p = text; *p; p++) {
		char ch = *p;

		if (in_str) {
			putchar(ch);
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = true;
			putchar(ch);
			break;
		case '{':
		case '[':
			/* An empty container stays on its line. */
			if (p[1] == (ch == '{' ? '}' : ']')) {
				printf("%c%c", ch, p[1]);
				p++;
				break;
			}
			printf("%c\n%*s", ch, 2 * ++depth, "");
			break;
		case '}':
		case ']':
			printf("\n%*s%c", 2 * --depth, "", ch);
			break;
		case ',':
			printf(",\n%*s", 2 * depth, "");
			break;
		case ':':
			fputs(": ", stdout);
			break;
		default:
			putchar(ch);
		}
	}
	putchar('\n');
}

int cli_json_print(const char *cmd, char *text)
{
	if (!text) {
		cli_err("%s: out of memory", cmd);
		return EXIT_FAIL;
	}
	print_json(text);
	free(text);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}

void cli_json_endpoint(struct sc_json *j, const char *key, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		sc_json_endpoint(j, key, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
				 ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	else
		sc_json_endpoint(j, key, sa->sa_family, &((const struct sockaddr_in *)sa)->sin_addr,
				 ntohs(((const struct sockaddr_in *)sa)->sin_port));
}

int cli_json_emit(const char *cmd, struct sc_json *j)
{
	return cli_json_print(cmd, sc_json_take(j));
}

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("soccr: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The library's error lines start with CRIU's "Error (file:line): "; the tool says it its way. */
static const char *without_origin(const char *line)
{
	const char *end;

	if (strncmp(line, "Error (", 7) || !(end = strstr(line, "): ")))
		return line;
	return end + 3;
}

static void log_stderr(unsigned int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soccr: %s: %s", level == SOCCR_LOG_ERR ? "error" : "debug",
		without_origin(line));
}

/* -v, or SOCCR_DEBUG set to anything but 0. */
static bool debug_wanted(bool verbose)
{
	const char *env = getenv("SOCCR_DEBUG");

	return verbose || (env && *env && strcmp(env, "0"));
}

void cli_setup_log(bool verbose)
{
	verbose = debug_wanted(verbose);
	libsoccr_set_log(verbose ? SOCCR_LOG_DBG : SOCCR_LOG_ERR, log_stderr);
	cli_libbpf_verbose(verbose);
}

static char lib_err[512];
static bool capture_verbose;

/* restore's threads report through the one callback. */
static pthread_mutex_t lib_err_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_capture(unsigned int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	pthread_mutex_lock(&lib_err_mu);
	if (level == SOCCR_LOG_ERR && !lib_err[0])
		snprintf(lib_err, sizeof(lib_err), "%s", without_origin(line));
	pthread_mutex_unlock(&lib_err_mu);
	if (capture_verbose)
		fprintf(stderr, "soccr: %s: %s\n", level == SOCCR_LOG_ERR ? "error" : "debug",
			without_origin(line));
}

void cli_setup_log_capture(bool verbose)
{
	verbose = debug_wanted(verbose);
	capture_verbose = verbose;
	lib_err[0] = '\0';
	libsoccr_set_log(verbose ? SOCCR_LOG_DBG : SOCCR_LOG_ERR, log_capture);
	cli_libbpf_verbose(verbose);
}

const char *cli_lib_error(void)
{
	return lib_err[0] ? lib_err : NULL;
}

void cli_lib_error_clear(void)
{
	lib_err[0] = '\0';
}

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	int base = 10;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	/* Decimal, or hexadecimal with 0x: a leading 0 is not octal ("010" is ten). */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s || *s == '-' || *s == '+' || *s == ' ')
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *close;
	struct sockaddr_storage tmp;
	uint64_t p;
	size_t n;

	if (!s)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;

		close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		port = close + 2;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;

		close = strrchr(s, ':');
		if (!close)
			return -EINVAL;
		n = (size_t)(close - s);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		port = close + 1;
	}
	/* Only plain decimal ports, 0..65535. */
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return -EINVAL;
	/* Port 0 is no TCP endpoint (images refuse it too). */
	if (cli_parse_u64(port, 65535, &p) || p == 0)
		return -EINVAL;
	if (tmp.ss_family == AF_INET)
		((struct sockaddr_in *)&tmp)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)&tmp)->sin6_port = htons((uint16_t)p);
	*ss = tmp;
	return 0;
}

char *cli_fmt_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

/* libbpf's own messages: warnings and errors with -v, nothing otherwise. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void cli_libbpf_verbose(bool verbose)
{
	libbpf_set_print(verbose ? libbpf_log : NULL);
}

const char *cli_why(const char *fallback)
{
	const char *e = cli_lib_error();

	return e ? e : fallback;
}

int cli_opt_error(const char *cmd, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		cli_err("%s: option '%s' needs a value (try 'soccr %s --help')", cmd, opt, cmd);
	else
		cli_err("%s: unknown option '%s' (try 'soccr %s --help')", cmd, opt, cmd);
	return EXIT_USAGE;
}

int cli_opt_other(const char *cmd, int c, char **argv, void (*usage)(FILE *f))
{
	if (c != 'h')
		return cli_opt_error(cmd, c, argv);
	usage(stdout);
	return EXIT_OK;
}

int cli_image_status(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
	case -EACCES:
	case -EPERM:
	case -EIO:
	case -ENOMEM:
	case -ELOOP:
		return EXIT_FAIL;
	default:
		return EXIT_USAGE;
	}
}

int cli_once(const char *cmd, const char *opt, const char **slot, const char *val)
{
	if (*slot) {
		cli_err("%s: %s given twice ('%s', then '%s')", cmd, opt, *slot, val);
		return EXIT_USAGE;
	}
	*slot = val;
	return 0;
}

void cli_count(const struct soccr_image_set *set, struct cli_counts *c)
{
	_Static_assert(sizeof(c->per_state) / sizeof(c->per_state[0]) == TCP_CLOSING + 1,
		       "one counter per TCP state");
	*c = (struct cli_counts){ .sockets = set->n };
	for (size_t i = 0; i < set->n; i++) {
		if (set->socks[i].kind == SOCCR_IMAGE_LISTEN) {
			c->listeners++;
			continue;
		}
		c->conns++;
		if (set->socks[i].conn.data.state <= TCP_CLOSING)
			c->per_state[set->socks[i].conn.data.state]++;
	}
}

void cli_counts_json(struct sc_json *j, const struct cli_counts *c)
{
	sc_json_uint(j, "sockets", c->sockets);
	sc_json_uint(j, "connections", c->conns);
	sc_json_uint(j, "listeners", c->listeners);
	sc_json_object(j, "states");
	for (unsigned int st = 0; st <= TCP_CLOSING; st++)
		if (c->per_state[st])
			sc_json_uint(j, soccr_tcp_state_name(st), c->per_state[st]);
	sc_json_end_object(j);
}

void cli_counts_text(FILE *f, const struct cli_counts *c)
{
	const char *sep = " (";

	fprintf(f, "%zu connection%s", c->conns, c->conns == 1 ? "" : "s");
	for (unsigned int st = 0; st <= TCP_CLOSING; st++)
		if (c->per_state[st]) {
			fprintf(f, "%s%s %zu", sep, soccr_tcp_state_name(st), c->per_state[st]);
			sep = ", ";
		}
	fprintf(f, "%s, %zu listener%s", c->conns ? ")" : "", c->listeners,
		c->listeners == 1 ? "" : "s");
}
