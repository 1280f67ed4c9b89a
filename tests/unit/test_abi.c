// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CRIU's libsoccr ABI, as programs built against CRIU's soccr.h see it: the
 * layout of struct libsoccr_sk_data and union libsoccr_addr, the constants,
 * and the function types (a mismatch is a compile error here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <soccr/soccr.h>

static void test_sk_data_is_17_u32_in_criu_order(void **state)
{
	static const size_t off[] = {
		offsetof(struct libsoccr_sk_data, state),
		offsetof(struct libsoccr_sk_data, inq_len),
		offsetof(struct libsoccr_sk_data, inq_seq),
		offsetof(struct libsoccr_sk_data, outq_len),
		offsetof(struct libsoccr_sk_data, outq_seq),
		offsetof(struct libsoccr_sk_data, unsq_len),
		offsetof(struct libsoccr_sk_data, opt_mask),
		offsetof(struct libsoccr_sk_data, mss_clamp),
		offsetof(struct libsoccr_sk_data, snd_wscale),
		offsetof(struct libsoccr_sk_data, rcv_wscale),
		offsetof(struct libsoccr_sk_data, timestamp),
		offsetof(struct libsoccr_sk_data, flags),
		offsetof(struct libsoccr_sk_data, snd_wl1),
		offsetof(struct libsoccr_sk_data, snd_wnd),
		offsetof(struct libsoccr_sk_data, max_window),
		offsetof(struct libsoccr_sk_data, rcv_wnd),
		offsetof(struct libsoccr_sk_data, rcv_wup),
	};
	struct libsoccr_sk_data d;

	(void)state;
	assert_int_equal(sizeof(d), 17 * sizeof(uint32_t));
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		assert_int_equal(off[i], i * sizeof(uint32_t));
	assert_int_equal(sizeof(d.state), sizeof(uint32_t));
	assert_int_equal(sizeof(d.rcv_wup), sizeof(uint32_t));
}

static void test_addr_union_overlays_the_sockaddrs(void **state)
{
	union libsoccr_addr a;

	(void)state;
	assert_int_equal(sizeof(a), sizeof(struct sockaddr_in6));
	assert_ptr_equal((void *)&a.sa, (void *)&a.v4);
	assert_ptr_equal((void *)&a.sa, (void *)&a.v6);
}

static void test_constants_have_criu_values(void **state)
{
	(void)state;
	assert_int_equal(SOCCR_MARK, 0xC114);
	assert_int_equal(SOCCR_LOG_ERR, 1);
	assert_int_equal(SOCCR_LOG_DBG, 2);
	assert_int_equal(SOCCR_FLAGS_WINDOW, 0x1);
	assert_int_equal(SOCCR_MEM_EXCL, 0x1);
	assert_int_equal(TCP_NO_QUEUE, 0);
	assert_int_equal(TCP_RECV_QUEUE, 1);
	assert_int_equal(TCP_SEND_QUEUE, 2);
	assert_int_equal(TCP_REPAIR_WINDOW, 29);
	assert_int_equal(TCP_TIMESTAMP, 24);
	assert_int_equal(sizeof(struct tcp_repair_window), 5 * sizeof(uint32_t));
	assert_int_equal(sizeof(struct tcp_repair_opt), 2 * sizeof(uint32_t));
}

/* The prototypes, as CRIU declares them: assigning to these types fails to compile otherwise. */
static void test_functions_have_criu_types(void **state)
{
	void (*set_log)(unsigned int, void (*)(unsigned int, const char *, ...)) = libsoccr_set_log;
	struct libsoccr_sk *(*pause_)(int) = libsoccr_pause;
	void (*resume)(struct libsoccr_sk *) = libsoccr_resume;
	void (*release)(struct libsoccr_sk *) = libsoccr_release;
	int (*save)(struct libsoccr_sk *, struct libsoccr_sk_data *, unsigned) = libsoccr_save;
	char *(*get_q)(struct libsoccr_sk *, int, unsigned) = libsoccr_get_queue_bytes;
	union libsoccr_addr *(*get_a)(struct libsoccr_sk *, int, unsigned) = libsoccr_get_addr;
	int (*set_q)(struct libsoccr_sk *, int, char *, unsigned) = libsoccr_set_queue_bytes;
	int (*set_a)(struct libsoccr_sk *, int, union libsoccr_addr *, unsigned) = libsoccr_set_addr;
	int (*restore)(struct libsoccr_sk *, struct libsoccr_sk_data *, unsigned) = libsoccr_restore;

	(void)state;
	assert_non_null(set_log);
	assert_non_null(pause_);
	assert_non_null(resume);
	assert_non_null(release);
	assert_non_null(save);
	assert_non_null(get_q);
	assert_non_null(get_a);
	assert_non_null(set_q);
	assert_non_null(set_a);
	assert_non_null(restore);
}

/* Without privileges: a non-socket fd is refused by pause, with errno set. */
static void test_pause_refuses_a_non_socket(void **state)
{
	(void)state;
	assert_null(libsoccr_pause(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sk_data_is_17_u32_in_criu_order),
		cmocka_unit_test(test_addr_union_overlays_the_sockaddrs),
		cmocka_unit_test(test_constants_have_criu_values),
		cmocka_unit_test(test_functions_have_criu_types),
		cmocka_unit_test(test_pause_refuses_a_non_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
