// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lock_add: the cost of locking (and unlocking) connections.
 *
 *   ours_single     soccr_lock_add() / soccr_lock_del(), one flow per call
 *                   (one BPF hash-map update covers both directions)
 *   ours_batch      soccr_lock_add_batch() / soccr_lock_del_batch()
 *   nft_ctx         CRIU's nftables path (criu/netfilter.c): per set element
 *                   a new libnftables context, nft_run_cmd_from_buffer("add
 *                   element inet CRIU conns4 { ... }"), nft_ctx_free; two
 *                   elements (one per direction) per connection
 *   nft_file        `nft -f FILE` adding every element in one command (fork
 *                   and exec included), for comparison with our batch
 *   rawmap_*        the kernel's floor for our batch: bpf_map_update_batch()
 *                   of the same number of 40-byte keys and values into a bare
 *                   hash map, created with BPF_F_NO_PREALLOC (as the lock's
 *                   map) and preallocated, to show where the time goes
 *
 *   memory          kernel memory of a lock (the memlock of its maps, as
 *                   `soccr lock status` reports it) holding 0, 100 and
 *                   10,000 flows: target <= 1 MiB at 100
 *   open_netns      soccr_lock_open() of the namespace's lock, found by
 *                   scanning its devices (attached on lo, as `lock attach`
 *                   does), against open_pinned: the same through a pin
 *
 * The nftables baselines run in a private network namespace holding a
 * CRIU-like table: set conns4 of ipv4_addr . inet_service . ipv4_addr .
 * inet_service, and input/output rules dropping what is in it unless marked
 * SOCCR_MARK. Our lock uses a private pin directory
 * /sys/fs/bpf/soccr-bench-<pid>, removed at exit.
 *
 * Env: BENCH_ROUNDS (11), BENCH_LOCK_N (flows for ours, 100000),
 * BENCH_LOCK_NFT_N (connections for nft_ctx, 200), BENCH_LOCK_FILE_N
 * (connections for nft_file, 10000).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <bpf/bpf.h>

#include <soccr/lock.h>
#include <soccr/soccr.h>

#include "bench.h"

#ifdef HAVE_LIBNFTABLES
#include <nftables/libnftables.h>
#endif

#define PREFIX	  "lock"
#define NFT_TABLE "inet CRIU"
#define NFT_SET	  "conns4"

static struct soccr_lock *lock;
static char pin_dir[64];

/* Remove our pins whatever way we leave (bench_die() exits). */
static void cleanup(void)
{
	if (lock) {
		soccr_lock_detach(lock);
		soccr_lock_close(lock);
		lock = NULL;
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Flow i: 10.1.x.y:sport -> 10.2.z.1:443, all distinct. */
static void make_flow(struct soccr_flow *f, long i)
{
	memset(f, 0, sizeof(*f));
	f->family = AF_INET;
	f->saddr.v4.s_addr = htonl(0x0a010000u | (uint32_t)(i / 50000) << 8 | 1);
	f->daddr.v4.s_addr = htonl(0x0a020001u);
	f->sport = (uint16_t)(10000 + i % 50000);
	f->dport = 443;
}

/* ---- ours -------------------------------------------------------------------------------- */

static void ours_single(const struct soccr_flow *flows, long n, double *add_ns, double *del_ns)
{
	uint64_t t0 = bench_now_ns();
	int err;

	for (long i = 0; i < n; i++)
		if ((err = soccr_lock_add(lock, &flows[i])))
			bench_die("soccr_lock_add", err);
	*add_ns = (double)(bench_now_ns() - t0) / (double)n;
	t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		if ((err = soccr_lock_del(lock, &flows[i])))
			bench_die("soccr_lock_del", err);
	*del_ns = (double)(bench_now_ns() - t0) / (double)n;
}

static void ours_batch(const struct soccr_flow *flows, long n, double *add_ns, double *del_ns)
{
	uint64_t t0 = bench_now_ns();
	int ret;

	ret = soccr_lock_add_batch(lock, flows, (size_t)n);
	if (ret != n)
		bench_die("soccr_lock_add_batch", ret < 0 ? ret : EIO);
	*add_ns = (double)(bench_now_ns() - t0) / (double)n;
	t0 = bench_now_ns();
	ret = soccr_lock_del_batch(lock, flows, (size_t)n);
	if (ret != n)
		bench_die("soccr_lock_del_batch", ret < 0 ? ret : EIO);
	*del_ns = (double)(bench_now_ns() - t0) / (double)n;
}

/* The lock must hold exactly n flows (checked once, outside the timed part). */
static void check_locked(long n)
{
	struct soccr_lock_entry *e = NULL;
	size_t got = 0;
	int err = soccr_lock_list(lock, &e, &got);

	free(e);
	if (err)
		bench_die("soccr_lock_list", err);
	if ((long)got != n) {
		fprintf(stderr, "%s: lock holds %zu flows, expected %ld\n", bench_prog, got, n);
		exit(1);
	}
}

/* ---- the kernel's floor: a bare hash map, batch update + delete ------------------------ */

#define RAW_KV 40 /* sizeof(struct soccr_lock_key) and of the value, as the lock's map */

static int rawmap_create(bool prealloc)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = prealloc ? 0 : BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "soccr_bench", RAW_KV, RAW_KV,
				SOCCR_LOCK_CAPACITY, &o);

	if (fd < 0)
		bench_die("bpf_map_create", errno);
	return fd;
}

/* ns per element for the batch add; the batch delete after it is not timed. */
static double rawmap_batch(int fd, const void *keys, const void *vals, long n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 cnt = (__u32)n;
	uint64_t t0 = bench_now_ns();
	double t;

	if (bpf_map_update_batch(fd, keys, vals, &cnt, &bo) || cnt != (__u32)n)
		bench_die("bpf_map_update_batch", errno);
	t = (double)(bench_now_ns() - t0) / (double)n;
	cnt = (__u32)n;
	if (bpf_map_delete_batch(fd, keys, &cnt, &bo))
		bench_die("bpf_map_delete_batch", errno);
	return t;
}

/* ---- nftables ---------------------------------------------------------------------------- */

/* "a . sport . b . dport" for one direction of flow f. */
static int nft_elem(char *buf, size_t len, const struct soccr_flow *f, bool in)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &f->saddr.v4, s, sizeof(s));
	inet_ntop(AF_INET, &f->daddr.v4, d, sizeof(d));
	if (in)
		return snprintf(buf, len, "%s . %u . %s . %u", d, f->dport, s, f->sport);
	return snprintf(buf, len, "%s . %u . %s . %u", s, f->sport, d, f->dport);
}

static const char nft_setup_cmds[] =
	"add table " NFT_TABLE "\n"
	"add set " NFT_TABLE " " NFT_SET
	" { type ipv4_addr . inet_service . ipv4_addr . inet_service ; }\n"
	"add chain " NFT_TABLE " input { type filter hook input priority 0 ; policy accept ; }\n"
	"add chain " NFT_TABLE " output { type filter hook output priority 0 ; policy accept ; }\n"
	"add rule " NFT_TABLE " input meta mark != 0xc114 "
	"ip saddr . tcp sport . ip daddr . tcp dport @" NFT_SET " drop\n"
	"add rule " NFT_TABLE " output meta mark != 0xc114 "
	"ip saddr . tcp sport . ip daddr . tcp dport @" NFT_SET " drop\n";

/* Run nft -f path in our namespace; returns its exit status (127: no nft). */
static int nft_file(const char *path)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp("nft", "nft", "-f", path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		bench_die("waitpid", errno);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int nft_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

/* The nft -f file adding both directions of n flows in one command. */
static int nft_write_elements(const char *path, const struct soccr_flow *flows, long n)
{
	FILE *f = fopen(path, "we");
	char e[128];

	if (!f)
		return -errno;
	fprintf(f, "add element " NFT_TABLE " " NFT_SET " {\n");
	for (long i = 0; i < n; i++)
		for (int in = 0; in < 2; in++) {
			nft_elem(e, sizeof(e), &flows[i], in);
			fprintf(f, "\t%s%s\n", e, i == n - 1 && in ? "" : ",");
		}
	fprintf(f, "}\n");
	return fclose(f) ? -errno : 0;
}

#ifdef HAVE_LIBNFTABLES
/* One element the CRIU way: a context of its own. */
static void nft_ctx_one(const struct soccr_flow *f, bool in)
{
	char cmd[256], e[128];
	struct nft_ctx *nft;

	nft_elem(e, sizeof(e), f, in);
	snprintf(cmd, sizeof(cmd), "add element " NFT_TABLE " " NFT_SET " { %s }", e);
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		bench_die("nft_ctx_new", ENOMEM);
	if (nft_run_cmd_from_buffer(nft, cmd)) {
		fprintf(stderr, "%s: nft: %s failed\n", bench_prog, cmd);
		exit(1);
	}
	nft_ctx_free(nft);
}

/* ns per connection (two elements). */
static double run_nft_ctx(const struct soccr_flow *flows, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++) {
		nft_ctx_one(&flows[i], true);
		nft_ctx_one(&flows[i], false);
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}
#endif

static void nft_flush(const char *tmp)
{
	if (nft_write_file(tmp, "flush set " NFT_TABLE " " NFT_SET "\n") || nft_file(tmp))
		bench_die("nft flush set", EIO);
}

/* Kernel memory of a fresh lock holding n flows, in KiB. */
static double lock_memory(const struct soccr_flow *flows, long n)
{
	struct soccr_lock_opts o = {.sz = sizeof(o)};
	struct soccr_lock_status st = {.sz = sizeof(st)};
	struct soccr_lock *l;
	char dir[80];
	int err;

	snprintf(dir, sizeof(dir), "%s-mem", pin_dir);
	o.pin_dir = dir;
	err = soccr_lock_open(&o, &l);
	if (err)
		bench_die("soccr_lock_open (memory)", err);
	if (n && soccr_lock_add_batch(l, flows, (size_t)n) != n)
		bench_die("soccr_lock_add_batch (memory)", EIO);
	err = soccr_lock_status(&o, &st);
	if (err)
		bench_die("soccr_lock_status", err);
	if (st.flows != (size_t)n)
		bench_die("soccr_lock_status: flows", EIO);
	soccr_lock_status_free(&st);
	soccr_lock_detach(l);
	soccr_lock_close(l);
	return (double)st.memlock / 1024;
}

/* soccr_lock_open() of the namespace's attached lock (opts NULL) or of a pinned one, in us. */
static double open_time(const struct soccr_lock_opts *o)
{
	struct soccr_lock *l;
	uint64_t t0 = bench_now_ns();
	int err = soccr_lock_open(o, &l);

	if (err)
		bench_die("soccr_lock_open (timed)", err);
	t0 = bench_now_ns() - t0;
	soccr_lock_close(l);
	return (double)t0 / 1e3;
}

int main(void)
{
	struct bench_series *s_add1, *s_del1, *s_addb, *s_delb, *s_ctx, *s_ctx_elem, *s_file;
	struct bench_series *s_raw_np, *s_raw_pre;
	int raw_np, raw_pre;
	uint8_t *raw_keys, *raw_vals;
	struct soccr_lock_opts lopts = {.sz = sizeof(lopts)};
	char tmpdir[] = "/tmp/soccr-bench-XXXXXX", f_setup[64], f_elems[64], f_flush[64];
	struct soccr_flow *flows;
	long n, nft_n, file_n;
	bool have_nft;
	int rounds, err;

	bench_init("bench_lock");
	rounds = bench_rounds();
	n = bench_env_long("BENCH_LOCK_N", 100000, 100, SOCCR_LOCK_CAPACITY);
	nft_n = bench_env_long("BENCH_LOCK_NFT_N", 200, 10, 100000);
	file_n = bench_env_long("BENCH_LOCK_FILE_N", 10000, 10, 1000000);

	err = bench_netns();
	if (err)
		bench_die("private network namespace", err);

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/soccr-bench-%d", (int)getpid());
	lopts.pin_dir = pin_dir;
	atexit(cleanup);
	/* SIGPIPE too: `make bench | head` must not leave pins behind. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal);
	err = soccr_lock_open(&lopts, &lock);
	if (err)
		bench_die("soccr_lock_open", err);

	flows = calloc((size_t)(n > file_n ? n : file_n), sizeof(*flows));
	if (!flows)
		bench_die("calloc", ENOMEM);
	for (long i = 0; i < (n > file_n ? n : file_n); i++)
		make_flow(&flows[i], i);

	raw_np = rawmap_create(false);
	raw_pre = rawmap_create(true);
	raw_keys = calloc((size_t)n, RAW_KV);
	raw_vals = calloc((size_t)n, RAW_KV);
	if (!raw_keys || !raw_vals)
		bench_die("calloc", ENOMEM);
	for (long i = 0; i < n; i++)
		memcpy(raw_keys + i * RAW_KV, &flows[i],
		       sizeof(flows[i]) < RAW_KV ? sizeof(flows[i]) : RAW_KV);

	if (!mkdtemp(tmpdir))
		bench_die("mkdtemp", errno);
	snprintf(f_setup, sizeof(f_setup), "%s/setup.nft", tmpdir);
	snprintf(f_elems, sizeof(f_elems), "%s/elements.nft", tmpdir);
	snprintf(f_flush, sizeof(f_flush), "%s/flush.nft", tmpdir);
	have_nft = !nft_write_file(f_setup, nft_setup_cmds) && !nft_file(f_setup) &&
		   !nft_write_elements(f_elems, flows, file_n);
	if (!have_nft)
		bench_skip(PREFIX "_add_nft", "the nft tool failed or is missing (nftables)");
#ifndef HAVE_LIBNFTABLES
	bench_skip(PREFIX "_add_nft_ctx", "libnftables not found at build time (libnftables-dev)");
#endif

	s_add1 = bench_series(PREFIX "_add_ours_single", "us");
	s_del1 = bench_series(PREFIX "_del_ours_single", "us");
	s_addb = bench_series(PREFIX "_add_ours_batch", "us");
	s_delb = bench_series(PREFIX "_del_ours_batch", "us");
	s_ctx = bench_series(PREFIX "_add_nft_ctx_per_conn", "us");
	s_ctx_elem = bench_series(PREFIX "_add_nft_ctx_per_element", "us");
	s_file = bench_series(PREFIX "_add_nft_file_per_conn", "us");
	s_raw_np = bench_series(PREFIX "_add_rawmap_batch_noprealloc", "us");
	s_raw_pre = bench_series(PREFIX "_add_rawmap_batch_prealloc", "us");

	for (int r = 0; r <= rounds; r++) {
		for (int k = 0; k < 5; k++) {
			double a, d;

			switch ((k + r) % 5) {
			case 0:
				ours_single(flows, n, &a, &d);
				if (!r)
					break;
				bench_add(s_add1, a / 1e3);
				bench_add(s_del1, d / 1e3);
				break;
			case 1:
				ours_batch(flows, n, &a, &d);
				if (!r) {
					/* Once: the batch really locks n flows. */
					if (soccr_lock_add_batch(lock, flows, (size_t)n) != n)
						bench_die("soccr_lock_add_batch", EIO);
					check_locked(n);
					if (soccr_lock_del_batch(lock, flows, (size_t)n) != n)
						bench_die("soccr_lock_del_batch", EIO);
					check_locked(0);
					break;
				}
				bench_add(s_addb, a / 1e3);
				bench_add(s_delb, d / 1e3);
				break;
			case 2:
#ifdef HAVE_LIBNFTABLES
				if (!have_nft)
					break;
				a = run_nft_ctx(flows, nft_n);
				nft_flush(f_flush);
				if (!r)
					break;
				bench_add(s_ctx, a / 1e3);
				bench_add(s_ctx_elem, a / 2e3);
#endif
				break;
			case 3:
				if (!have_nft)
					break;
				{
					uint64_t t0 = bench_now_ns();

					if (nft_file(f_elems))
						bench_die("nft -f (elements)", EIO);
					a = (double)(bench_now_ns() - t0) / (double)file_n;
				}
				nft_flush(f_flush);
				if (r)
					bench_add(s_file, a / 1e3);
				break;
			case 4:
				a = rawmap_batch(raw_np, raw_keys, raw_vals, n);
				d = rawmap_batch(raw_pre, raw_keys, raw_vals, n);
				if (!r)
					break;
				bench_add(s_raw_np, a / 1e3);
				bench_add(s_raw_pre, d / 1e3);
				break;
			}
		}
	}

	bench_report(s_add1, PREFIX, s_ctx, s_file, NULL);
	bench_report(s_del1, PREFIX, NULL);
	bench_report(s_addb, PREFIX, s_ctx, s_file, s_add1, NULL);
	bench_report(s_delb, PREFIX, s_del1, NULL);
	bench_report(s_ctx, PREFIX, NULL);
	bench_report(s_ctx_elem, PREFIX, NULL);
	bench_report(s_file, PREFIX, s_ctx, NULL);
	bench_report(s_raw_np, PREFIX, NULL);
	bench_report(s_raw_pre, PREFIX, s_raw_np, NULL);
	{
		double rs = bench_ratio(s_add1, s_ctx), rb = bench_ratio(s_addb, s_ctx);

		bench_target(PREFIX "_add_ours_single", s_ctx->n, rs > 0 && 1 / rs >= 100,
			     ">= 100x faster per connection than CRIU's libnftables path: %.0fx",
			     rs > 0 ? 1 / rs : 0);
		bench_target(PREFIX "_add_ours_batch", s_ctx->n, rb > 0 && 1 / rb >= 100,
			     ">= 100x faster per connection than CRIU's libnftables path: %.0fx",
			     rb > 0 ? 1 / rb : 0);
		bench_target(PREFIX "_add_ours_batch", true, bench_median(s_addb) <= 1,
			     "batch < 1 us/flow: %.3f us", bench_median(s_addb));
	}

	{
		struct bench_series *m0 = bench_series(PREFIX "_memory_empty", "KiB");
		struct bench_series *m100 = bench_series(PREFIX "_memory_100_flows", "KiB");
		struct bench_series *m10k = bench_series(PREFIX "_memory_10000_flows", "KiB");
		struct bench_series *o_ns = bench_series(PREFIX "_open_netns", "us");
		struct bench_series *o_pin = bench_series(PREFIX "_open_pinned", "us");
		struct soccr_lock_opts no = {.sz = sizeof(no), .flags = SOCCR_LOCK_ATTACHED};

		bench_add(m0, lock_memory(flows, 0));
		bench_add(m100, lock_memory(flows, 100));
		bench_add(m10k, lock_memory(flows, n < 10000 ? n : 10000));
		bench_report(m0, PREFIX, NULL);
		bench_report(m100, PREFIX, NULL);
		bench_report(m10k, PREFIX, NULL);
		bench_target(PREFIX "_memory_100_flows", true, bench_median(m100) <= 1024,
			     "a lock holding 100 flows <= 1 MiB of kernel memory: %.0f KiB",
			     bench_median(m100));
		/* The bench's lock, attached on lo of this private namespace. */
		err = soccr_lock_attach(lock, "lo");
		if (err)
			bench_die("soccr_lock_attach", err);
		unsetenv("SOCCR_PIN_DIR");
		for (int r = 0; r <= rounds; r++) {
			double a = open_time(&no), b = open_time(&lopts);

			if (r) {
				bench_add(o_ns, a);
				bench_add(o_pin, b);
			}
		}
		bench_report(o_ns, PREFIX, o_pin, NULL);
		bench_report(o_pin, PREFIX, NULL);
	}

	close(raw_np);
	close(raw_pre);
	free(raw_keys);
	free(raw_vals);
	unlink(f_setup);
	unlink(f_elems);
	unlink(f_flush);
	rmdir(tmpdir);
	free(flows);
	cleanup();
	bench_table();
	return 0;
}
