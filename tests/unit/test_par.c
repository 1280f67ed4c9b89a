// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli_par_for(), which soccr restore makes its sockets with: every index
 * exactly once, on the threads asked for; the first failure stops all and
 * is the one returned; progress only in the caller's thread, never going
 * back, ending at n; cli_par_threads()'s choice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/cli/par.c"

#define N 5000

struct rec {
	atomic_int ran[N];
	atomic_uint workers; /* bit per worker id seen */
	pthread_t caller;
	atomic_int not_caller; /* indices run on a thread that is not the caller's */
	size_t fail_at;
	int fail_with;
	size_t last_done;
	int progress_calls, progress_back, progress_elsewhere;
	unsigned int delay_us;
};

static int record(void *ctx, size_t i, unsigned int worker)
{
	struct rec *r = ctx;

	atomic_fetch_add(&r->ran[i], 1);
	atomic_fetch_or(&r->workers, 1u << worker);
	if (!pthread_equal(pthread_self(), r->caller))
		atomic_fetch_add(&r->not_caller, 1);
	if (r->delay_us)
		usleep(r->delay_us);
	return r->fail_with && i == r->fail_at ? r->fail_with : 0;
}

static void progress(void *ctx, size_t done)
{
	struct rec *r = ctx;

	r->progress_calls++;
	if (done < r->last_done)
		r->progress_back++;
	if (!pthread_equal(pthread_self(), r->caller))
		r->progress_elsewhere++;
	r->last_done = done;
}

static struct rec *new_rec(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->caller = pthread_self();
	return r;
}

static void test_every_index_once_on_every_thread(void **state)
{
	struct rec *r = new_rec();
	size_t failed = 12345;

	(void)state;
	assert_int_equal(cli_par_for(N, 4, record, r, progress, &failed), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(atomic_load(&r->ran[i]), 1);
	/* Workers 0..3 only (which of them got work is the scheduler's business). */
	assert_int_equal(atomic_load(&r->workers) & ~0xfu, 0);
	assert_int_equal(r->progress_back, 0);
	assert_int_equal(r->progress_elsewhere, 0);
	assert_int_equal(r->last_done, N);
	free(r);
}

/* A few indices still reach every thread (runs shrink with n). */
static void test_few_indices_spread(void **state)
{
	struct rec *r = new_rec();

	(void)state;
	r->delay_us = 20000; /* each index long enough for the other threads to start */
	assert_int_equal(cli_par_for(6, 3, record, r, NULL, NULL), 0);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(atomic_load(&r->ran[i]), 1);
	assert_true(atomic_load(&r->not_caller) > 0);
	free(r);
}

static void test_one_thread_is_the_caller(void **state)
{
	struct rec *r = new_rec();

	(void)state;
	assert_int_equal(cli_par_for(N, 1, record, r, progress, NULL), 0);
	assert_int_equal(atomic_load(&r->not_caller), 0);
	assert_int_equal(atomic_load(&r->workers), 1u);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(atomic_load(&r->ran[i]), 1);
	assert_int_equal(r->last_done, N);
	free(r);
}

static void test_first_failure_stops_all(void **state)
{
	struct rec *r = new_rec();
	size_t failed = 0, ran = 0;

	(void)state;
	r->fail_at = 10;
	r->fail_with = -7;
	r->delay_us = 200;
	assert_int_equal(cli_par_for(N, 2, record, r, progress, &failed), -7);
	assert_int_equal(failed, 10);
	for (size_t i = 0; i < N; i++) {
		assert_true(atomic_load(&r->ran[i]) <= 1);
		ran += (size_t)atomic_load(&r->ran[i]);
	}
	assert_int_equal(atomic_load(&r->ran[10]), 1);
	/* The other thread stopped at its next index: far from all of them ran. */
	assert_true(ran < N / 2);
	/* No final "all done" progress after a failure. */
	assert_true(r->last_done < N);
	free(r);
}

static void test_empty(void **state)
{
	struct rec *r = new_rec();

	(void)state;
	assert_int_equal(cli_par_for(0, 4, record, r, NULL, NULL), 0);
	assert_int_equal(atomic_load(&r->workers), 0);
	free(r);
}

static void test_thread_count(void **state)
{
	cpu_set_t set;
	unsigned int cpus;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	cpus = (unsigned int)CPU_COUNT(&set);
	assert_int_equal(cli_par_threads(10, 5), 5);
	assert_int_equal(cli_par_threads(10, 0), 1);
	assert_int_equal(cli_par_threads(255, 0), 1);
	assert_int_equal(cli_par_threads(1000000, 0), cpus > 64 ? 64 : cpus);
	assert_int_equal(cli_par_threads(256, 0), cpus >= 2 ? 2 : 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_index_once_on_every_thread),
		cmocka_unit_test(test_few_indices_spread),
		cmocka_unit_test(test_one_thread_is_the_caller),
		cmocka_unit_test(test_first_failure_stops_all),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_thread_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
