// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * soccr_restore_ext() (<soccr/restore.h>): CLOSE_WAIT connections on the
 * loopback of a private namespace, restored
 *  - through a session: the first restore opens the path (descriptors held
 *    by the session), the next ones reuse it (no new descriptor), and
 *    soccr_session_close() gives every descriptor back;
 *  - with the path forced (raw IP socket, AF_PACKET with the bypass) and no
 *    session: nothing is left open;
 *  - with bad options: -EINVAL, the socket still in repair mode and
 *    restorable afterwards.
 * Every restore must leave the peer's FIN absorbed and the data readable,
 * then EOF, and what the restored socket writes must reach the peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <soccr/restore.h>
#include <soccr/soccr.h>

#include "tns.h"

#define WAIT_MS 3000

static struct tns_pair pair;

/* A CLOSE_WAIT connection saved and closed in repair mode, ready to be restored. */
struct saved {
	int family;
	int peer; /* the peer's socket (it sent "hello" and its FIN) */
	struct libsoccr_sk_data data;
	union libsoccr_addr *self, *other;
	char *inq;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static void make_close_wait(int family, struct saved *sv)
{
	struct sockaddr_storage ss;
	struct libsoccr_sk *sk;
	socklen_t len;
	int l, c, one = 1;

	memset(sv, 0, sizeof(*sv));
	sv->family = family;
	tns_loopback(family, &ss, &len);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(l, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	sv->peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sv->peer >= 0);
	close(l);
	assert_int_equal(tns_write_all(sv->peer, "hello", 5, WAIT_MS), 0);
	assert_int_equal(shutdown(sv->peer, SHUT_WR), 0);
	for (int i = 0; i < 300 && tns_tcp_state(c) != TCP_CLOSE_WAIT; i++)
		usleep(10000);
	assert_int_equal(tns_tcp_state(c), TCP_CLOSE_WAIT);

	sk = libsoccr_pause(c);
	assert_non_null(sk);
	assert_int_equal(libsoccr_save(sk, &sv->data, sizeof(sv->data)), sizeof(sv->data));
	assert_int_equal(sv->data.state, TCP_CLOSE_WAIT);
	assert_int_equal(sv->data.inq_len, 5);
	sv->self = libsoccr_get_addr(sk, 1, SOCCR_MEM_EXCL);
	sv->other = libsoccr_get_addr(sk, 0, SOCCR_MEM_EXCL);
	sv->inq = libsoccr_get_queue_bytes(sk, TCP_RECV_QUEUE, SOCCR_MEM_EXCL);
	assert_non_null(sv->self);
	assert_non_null(sv->other);
	assert_non_null(sv->inq);
	libsoccr_release(sk);
	close(c); /* in repair mode: nothing is sent */
}

/* A fresh socket, paused, with sv's addresses and queue (the handle owns them). */
static struct libsoccr_sk *prepare(struct saved *sv, int *fd)
{
	struct libsoccr_sk *sk;

	*fd = socket(sv->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	sk = libsoccr_pause(*fd);
	assert_non_null(sk);
	assert_int_equal(libsoccr_set_addr(sk, 1, sv->self, SOCCR_MEM_EXCL), 0);
	assert_int_equal(libsoccr_set_addr(sk, 0, sv->other, SOCCR_MEM_EXCL), 0);
	assert_int_equal(libsoccr_set_queue_bytes(sk, TCP_RECV_QUEUE, sv->inq, SOCCR_MEM_EXCL), 0);
	sv->self = sv->other = NULL;
	sv->inq = NULL;
	return sk;
}

/* The restored connection works: data, then EOF; our bytes and FIN reach the peer. */
static void check_restored(struct saved *sv, int fd)
{
	char buf[8] = {0};

	assert_int_equal(tns_tcp_state(fd), TCP_CLOSE_WAIT);
	assert_int_equal(tns_read_all(fd, buf, 5, WAIT_MS), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(tns_write_all(fd, "bye", 3, WAIT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(tns_read_all(sv->peer, buf, 3, WAIT_MS), 0);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(tns_read_all(sv->peer, buf, 1, WAIT_MS), -EPIPE);
	close(fd);
	close(sv->peer);
}

static void restore_one(int family, const struct soccr_restore_opts *o)
{
	struct libsoccr_sk *sk;
	struct saved sv;
	int fd;

	make_close_wait(family, &sv);
	sk = prepare(&sv, &fd);
	assert_int_equal(soccr_restore_ext(sk, &sv.data, sizeof(sv.data), o), 0);
	libsoccr_resume(sk);
	check_restored(&sv, fd);
}

static void test_session_keeps_the_path_and_gives_it_back(void **state)
{
	static const int fams[] = {AF_INET, AF_INET6};

	(void)state;
	for (size_t f = 0; f < 2; f++) {
		struct soccr_session *s = NULL;
		struct soccr_restore_opts o = {.sz = sizeof(o)};
		int base, held;

		base = count_fds();
		assert_int_equal(soccr_session_open(NULL, &s), 0);
		assert_int_equal(count_fds(), base); /* opens nothing yet */
		o.session = s;
		restore_one(fams[f], &o);
		held = count_fds();
		assert_true(held > base);
		for (int i = 0; i < 3; i++) {
			restore_one(fams[f], &o);
			assert_int_equal(count_fds(), held);
		}
		soccr_session_close(s);
		assert_int_equal(count_fds(), base);
	}
}

static void test_forced_paths_without_session_leave_nothing(void **state)
{
	static const enum soccr_inject_path paths[] = {SOCCR_INJECT_RAW, SOCCR_INJECT_PACKET,
						       SOCCR_INJECT_AUTO};

	(void)state;
	for (size_t p = 0; p < 3; p++) {
		for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
			struct soccr_restore_opts o = {.sz = sizeof(o), .path = paths[p]};
			int base = count_fds();

			restore_one(family, &o);
			assert_int_equal(count_fds(), base);
		}
	}
}

static void test_bad_options_are_einval_and_leave_the_socket_restorable(void **state)
{
	struct soccr_restore_opts o = {.sz = sizeof(o)};
	struct soccr_restore_observer obs = {.sz = 4};
	struct libsoccr_sk *sk;
	struct saved sv;
	socklen_t len = sizeof(int);
	int fd, on = 0;

	(void)state;
	make_close_wait(AF_INET, &sv);
	sk = prepare(&sv, &fd);
	o.sz = 4;
	assert_int_equal(soccr_restore_ext(sk, &sv.data, sizeof(sv.data), &o), -EINVAL);
	o.sz = sizeof(o);
	o.path = (enum soccr_inject_path)7;
	assert_int_equal(soccr_restore_ext(sk, &sv.data, sizeof(sv.data), &o), -EINVAL);
	o.path = SOCCR_INJECT_AUTO;
	o.observer = &obs;
	assert_int_equal(soccr_restore_ext(sk, &sv.data, sizeof(sv.data), &o), -EINVAL);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, &len), 0);
	assert_int_equal(on, 1);
	assert_int_equal(tns_tcp_state(fd), TCP_CLOSE);
	/* Untouched: the same handle restores now. */
	assert_int_equal(soccr_restore_ext(sk, &sv.data, sizeof(sv.data), NULL), 0);
	libsoccr_resume(sk);
	check_restored(&sv, fd);
}

/*
 * A checkpoint taken while out-of-order data was queued can hold an snd_wl1
 * beyond rcv_nxt + rcv_wnd (and the kernel refuses such a window): the
 * restore takes it back to rcv_nxt instead of failing, and the connection
 * works.
 */
static void test_window_from_out_of_order_data_restores(void **state)
{
	struct libsoccr_sk *sk;
	struct saved sv;
	int fd;

	(void)state;
	make_close_wait(AF_INET, &sv);
	assert_true(sv.data.flags & SOCCR_FLAGS_WINDOW);
	sv.data.snd_wl1 = sv.data.inq_seq + sv.data.rcv_wnd + 300000;
	sv.data.rcv_wup = sv.data.inq_seq + 10;
	sk = prepare(&sv, &fd);
	assert_int_equal(libsoccr_restore(sk, &sv.data, sizeof(sv.data)), 0);
	libsoccr_resume(sk);
	check_restored(&sv, fd);
}

static int sentinel_calls;

static int sentinel_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	sentinel_calls++;
	return 0;
}

/*
 * A restore that loads the bypass program (AF_PACKET forced, IPv4 over lo)
 * leaves the caller's libbpf print callback and RLIMIT_MEMLOCK as they were,
 * and libbpf's messages meanwhile went to our log, not to the caller's callback.
 */
static void test_libbpf_callback_and_memlock_are_left_as_they_were(void **state)
{
	struct soccr_restore_opts o = {.sz = sizeof(o), .path = SOCCR_INJECT_PACKET};
	struct rlimit set = {.rlim_cur = 8 << 20, .rlim_max = RLIM_INFINITY}, now;
	libbpf_print_fn_t prev;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &now), 0);
	set.rlim_max = now.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &set), 0);
	prev = libbpf_set_print(sentinel_print);
	sentinel_calls = 0;
	restore_one(AF_INET, &o);
	assert_ptr_equal(libbpf_set_print(prev), sentinel_print);
	assert_int_equal(sentinel_calls, 0);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &now), 0);
	assert_int_equal(now.rlim_cur, set.rlim_cur);
	assert_int_equal(now.rlim_max, set.rlim_max);
}

static int setup(void **state)
{
	(void)state;
	if (tns_pair_setup(&pair) || tns_enter(pair.nsfd[0]))
		return -1;
	if (getenv("SOCCR_TEST_DEBUG"))
		libsoccr_set_log(SOCCR_LOG_DBG, tns_log_stderr);
	else
		libsoccr_set_log(SOCCR_LOG_ERR, tns_log_stderr);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tns_leave();
	tns_pair_cleanup(&pair);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_keeps_the_path_and_gives_it_back),
		cmocka_unit_test(test_forced_paths_without_session_leave_nothing),
		cmocka_unit_test(test_bad_options_are_einval_and_leave_the_socket_restorable),
		cmocka_unit_test(test_libbpf_callback_and_memlock_are_left_as_they_were),
		cmocka_unit_test(test_window_from_out_of_order_data_restores),
	};

	tns_require_root();
	return cmocka_run_group_tests(tests, setup, teardown);
}
