// SPDX-License-Identifier: LGPL-2.1-or-later
/* The test-namespace helpers themselves: pairs come up, connect, carry data, go away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tns.h"

static int setup(void **state)
{
	static struct tns_pair p;

	if (tns_pair_setup(&p))
		return -1;
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	tns_pair_cleanup(*state);
	return 0;
}

static void connect_and_echo(struct tns_pair *p, int family, bool mapped)
{
	char out[4096], in[4096];
	int c, s;

	assert_int_equal(tns_tcp_connect(p, family, mapped, &c, &s), 0);
	assert_int_equal(tns_tcp_state(c), TCP_ESTABLISHED);
	tns_pattern(out, sizeof(out), 0, 7);
	assert_int_equal(tns_write_all(c, out, sizeof(out), 2000), 0);
	assert_int_equal(tns_read_all(s, in, sizeof(in), 2000), 0);
	assert_memory_equal(in, out, sizeof(out));
	close(c);
	close(s);
}

static void test_pair_connects_v4(void **state)
{
	connect_and_echo(*state, AF_INET, false);
}

static void test_pair_connects_v6(void **state)
{
	connect_and_echo(*state, AF_INET6, false);
}

static void test_pair_connects_mapped(void **state)
{
	connect_and_echo(*state, AF_INET, true);
}

static void test_cleanup_removes_namespaces(void **state)
{
	struct tns_pair q;
	char ns0[32];

	(void)state;
	assert_int_equal(tns_pair_setup(&q), 0);
	snprintf(ns0, sizeof(ns0), "%s", q.ns[0]);
	assert_int_equal(tns_sh(NULL, "ip netns list | grep -q '^%s'", ns0), 0);
	tns_pair_cleanup(&q);
	assert_int_not_equal(tns_sh(NULL, "ip netns list | grep -q '^%s'", ns0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_connects_v4),
		cmocka_unit_test(test_pair_connects_v6),
		cmocka_unit_test(test_pair_connects_mapped),
		cmocka_unit_test(test_cleanup_removes_namespaces),
	};

	tns_require_root();
	return cmocka_run_group_tests(tests, setup, teardown);
}
