// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Work on many sockets on several CPUs: restore's per-socket steps are
 * independent system calls on sockets of their own, so they scale with the
 * CPUs (the kernel takes per-socket and per-bucket locks only).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cli.h"

/*
 * Indices are handed out in runs (one atomic add per run) of up to this
 * many, smaller when there are few indices, so that every thread gets some.
 */
#define PAR_RUN 32
/* Fewer sockets than this per thread are not worth a thread. */
#define PAR_MIN_PER_THREAD 128
#define PAR_MAX_THREADS	   64

struct par {
	size_t n, run;
	int (*fn)(void *ctx, size_t i, unsigned int worker);
	void *ctx;
	atomic_size_t next, done;
	atomic_bool stop;
	pthread_mutex_t mu;
	int ret; /* the first failure's */
	size_t failed;
};

static void par_fail(struct par *p, size_t i, int ret)
{
	pthread_mutex_lock(&p->mu);
	if (!p->ret) {
		p->ret = ret;
		p->failed = i;
	}
	pthread_mutex_unlock(&p->mu);
	atomic_store(&p->stop, true);
}

/* One run of indices; false once there is nothing left to do. */
static bool par_run(struct par *p, unsigned int worker)
{
	size_t lo = atomic_fetch_add(&p->next, p->run), hi;

	if (lo >= p->n || atomic_load(&p->stop))
		return false;
	hi = lo + p->run < p->n ? lo + p->run : p->n;
	for (size_t i = lo; i < hi; i++) {
		int ret;

		if (atomic_load(&p->stop))
			return false;
		ret = p->fn(p->ctx, i, worker);
		if (ret) {
			par_fail(p, i, ret);
			return false;
		}
		atomic_fetch_add(&p->done, 1);
	}
	return true;
}

struct par_worker {
	struct par *p;
	unsigned int id;
};

static void *par_thread(void *arg)
{
	struct par_worker *w = arg;

	while (par_run(w->p, w->id))
		;
	return NULL;
}

unsigned int cli_par_threads(size_t n, unsigned int asked)
{
	unsigned int cpus = 1, t;
	cpu_set_t set;

	if (asked)
		return asked;
	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		cpus = (unsigned int)CPU_COUNT(&set);
	t = n / PAR_MIN_PER_THREAD > cpus ? cpus : (unsigned int)(n / PAR_MIN_PER_THREAD);
	if (t > PAR_MAX_THREADS)
		t = PAR_MAX_THREADS;
	return t ? t : 1;
}

int cli_par_for(size_t n, unsigned int threads, int (*fn)(void *ctx, size_t i, unsigned int worker),
		void *ctx, void (*progress)(void *ctx, size_t done), size_t *failed)
{
	struct par p = {.n = n, .fn = fn, .ctx = ctx};
	struct par_worker *w = NULL;
	pthread_t *tid = NULL;
	unsigned int started = 0;

	if (!threads)
		threads = 1;
	p.run = n / (threads * 8);
	p.run = p.run > PAR_RUN ? PAR_RUN : p.run ? p.run : 1;
	atomic_init(&p.next, 0);
	atomic_init(&p.done, 0);
	atomic_init(&p.stop, false);
	pthread_mutex_init(&p.mu, NULL);
	if (threads > 1) {
		tid = calloc(threads, sizeof(*tid));
		w = calloc(threads, sizeof(*w));
	}
	/* Worker 0 is the caller; a thread that cannot start leaves its share to the others. */
	for (unsigned int k = 1; tid && w && k < threads; k++) {
		w[k] = (struct par_worker){.p = &p, .id = k};
		if (pthread_create(&tid[started], NULL, par_thread, &w[k]))
			break;
		started++;
	}
	while (par_run(&p, 0))
		if (progress)
			progress(ctx, atomic_load(&p.done));
	for (unsigned int k = 0; k < started; k++)
		pthread_join(tid[k], NULL);
	if (progress && !p.ret)
		progress(ctx, atomic_load(&p.done));
	free(tid);
	free(w);
	pthread_mutex_destroy(&p.mu);
	if (failed)
		*failed = p.failed;
	return p.ret;
}
