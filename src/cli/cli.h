/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The soccr tool: subcommands and shared helpers. */
#ifndef SOCCR_CLI_H
#define SOCCR_CLI_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Exit statuses of the CLI contract (docs/design.md, "The soccr tool"). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed at run time */
	EXIT_USAGE = 2,		/* usage error or invalid input */
	EXIT_VERIFY = 3,	/* an injected segment was not seen or not absorbed */
};

/* The exit-status lines of every --help: one table, the same as README's "Safety". */
#define CLI_EXIT_HELP                                                                      \
	CLI_GLOBAL_HELP                                                                    \
	"exit status: 0 ok, 1 failed at run time, 2 usage error or invalid input,\n"       \
	"3 verification failed (an injected segment not seen or not absorbed)\n"

/*
 * The options of every command (in any position before "--"): -j/--json,
 * -p/--pretty (indented JSON), -v/--verbose (library debug messages),
 * -q/--quiet (no progress or summary lines; errors are always printed),
 * -V/--version. Set by main() and cli_getopt().
 */
struct cli_global {
	bool json, pretty, verbose, quiet;
};
extern struct cli_global cli_g;

/* The global options' lines for every --help. */
#define CLI_GLOBAL_HELP                                                                    \
	"global options (anywhere): -j/--json, -p/--pretty, -v/--verbose, -q/--quiet,\n"    \
	"-V/--version; see soccr(8)\n"

/*
 * getopt_long() over the command's own options and the global ones (the
 * global ones are recorded in cli_g and skipped): returns what
 * getopt_long() returns for the command's options. shortopts may start
 * with '+' and ':' as for getopt_long(); it must not use j, p, v, q or V.
 * -V prints the version and exits.
 */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* "soccr VERSION (libsoccr VERSION)" on stdout. */
void cli_print_version(void);

/*
 * Print the compact JSON text (malloc()ed; freed here) on stdout with a
 * newline, indented with --pretty. NULL (out of memory) is reported for
 * cmd. EXIT_OK or EXIT_FAIL.
 */
int cli_json_print(const char *cmd, char *text);
struct sc_json;
/* The same for the document of j (taken from it). */
int cli_json_emit(const char *cmd, struct sc_json *j);

/*
 * An endpoint in every JSON document: "key": {"addr": "10.0.0.1", "port": 80}
 * (the address and the port apart, as `ip -j` keeps them; IPv6 without brackets).
 */
struct sockaddr;
void cli_json_endpoint(struct sc_json *j, const char *key, const struct sockaddr *sa);

/* What an image set holds, for save's and restore's summaries. */
struct soccr_image_set;
struct cli_counts {
	size_t sockets, conns, listeners;
	size_t per_state[12]; /* connections per TCP state (TCP_CLOSING is 11) */
};
void cli_count(const struct soccr_image_set *set, struct cli_counts *c);
/* "sockets", "connections", "listeners" and "states": {"STATE": n, ...} into j's object. */
void cli_counts_json(struct sc_json *j, const struct cli_counts *c);
/* "N connection(s) (STATE n, ...), M listener(s)" on f. */
void cli_counts_text(FILE *f, const struct cli_counts *c);

/* Each subcommand gets argv starting at its own name. */
int cmd_ps(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_version(int argc, char **argv);

/*
 * Whether execvp(name) would load a program (src/cli/execcheck.c): 0, or -1
 * with why filled. Checked before a socket is handed over.
 */
int cli_check_exec(const char *name, char *why, size_t wlen);

/*
 * The exit status for a soccr_image_load() error, the same in every
 * command: a file that cannot be read (missing, no permission, I/O, memory)
 * is a run-time failure, EXIT_FAIL; one that is not a valid image (magic,
 * version, lengths, CRC, a FIFO or device) is invalid input, EXIT_USAGE.
 */
int cli_image_status(int err);

/*
 * For an option that takes one value: store val in *slot, or, if it was
 * given already, say so and return EXIT_USAGE (0 otherwise). The last of
 * two values silently winning hides typos.
 */
int cli_once(const char *cmd, const char *opt, const char **slot, const char *val);

/* "soccr: <what failed>: <why>" on stderr, one line. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The one message for a getopt_long() error of subcommand cmd (c is what
 * getopt returned: ':' for a missing value, else an unknown option; the
 * optstring starts with ':'), on stderr. Returns EXIT_USAGE.
 */
int cli_opt_error(const char *cmd, int c, char **argv);

/* The same, and -h / --help ('h'): usage on stdout, EXIT_OK. */
int cli_opt_other(const char *cmd, int c, char **argv, void (*usage)(FILE *f));

/* Set libsoccr's log callback to stderr: errors always, debug with -v / SOCCR_DEBUG=1. */
void cli_setup_log(bool verbose);

/*
 * Parse "1.2.3.4:80" or "[fd00::1]:80" into ss (AF_INET or AF_INET6, port
 * set). Returns 0, or -EINVAL with nothing written on any malformed input.
 */
int cli_parse_endpoint(const char *s, struct sockaddr_storage *ss);

/* Format ss as "1.2.3.4:80" / "[fd00::1]:80". Returns buf. */
char *cli_fmt_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len);

/*
 * Parse an unsigned integer no larger than max: decimal (leading zeros are
 * still decimal, never octal), or hexadecimal after 0x. Returns 0 or -EINVAL.
 */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * Like cli_setup_log(), but library error lines are kept (the first one since
 * the last cli_lib_error_clear()) instead of printed, so a command can fold
 * the cause into its own one-line error. With -v / SOCCR_DEBUG=1 everything
 * is printed as well.
 */
void cli_setup_log_capture(bool verbose);
/* The first library error line captured (no newline), or NULL. */
const char *cli_lib_error(void);
void cli_lib_error_clear(void);

/*
 * libbpf prints through a process-wide callback, which belongs to the host
 * program (here, the tool): its warnings and errors with -v, nothing else.
 */
void cli_libbpf_verbose(bool verbose);

/* The library's own first error line if it logged one (it names the step), else fallback. */
const char *cli_why(const char *fallback);

/*
 * Open the --pcap file of cmd as a private file (created 0600, never through
 * a symbolic link, only a regular file of ours; src/base/file.c) and start
 * a capture file in it for pc. NULL after one error line.
 */
struct pcap;
struct pcap_dumper;
struct pcap_dumper *cli_pcap_create(struct pcap *pc, const char *cmd, const char *path);

/* pidfd_open(2) and pidfd_getfd(2) (src/cli/proc.c): -1 and errno on failure. */
int cli_pidfd_open(pid_t pid);
int cli_pidfd_getfd(int pidfd, int fd);
/* The fd numbers process pid has open, sorted, in a malloc()ed array. 0 or -errno. */
int cli_proc_fds(pid_t pid, int **fds, size_t *n);

struct soccr_lock;
struct soccr_flow;
/*
 * Which of flows[0..n) lock holds (in either orientation): held[i]. One
 * listing of the lock, sorted (src/cli/flowset.c). 0 or a negative errno.
 */
int cli_lock_holds(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n, bool *held);

/*
 * How many threads for n sockets (src/cli/par.c): asked if not 0, else one
 * per CPU this process may run on, with at least 128 sockets each.
 */
unsigned int cli_par_threads(size_t n, unsigned int asked);
/*
 * fn(ctx, i, worker) for every i in [0, n), on up to threads threads (the
 * caller's is worker 0; the others are numbered 1..threads-1). The first
 * fn that returns non-zero stops it all (the other threads finish the index
 * they are on and start no other): that value is returned and its index
 * stored in *failed. progress(ctx, done), if given, is called in
 * the caller's thread. Returns 0 when every fn returned 0.
 */
int cli_par_for(size_t n, unsigned int threads, int (*fn)(void *ctx, size_t i, unsigned int worker),
		void *ctx, void (*progress)(void *ctx, size_t done), size_t *failed);

#endif /* SOCCR_CLI_H */
