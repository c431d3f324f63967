/* pool.c - the CPU backend's thread pool: run one function on N threads
 * (the caller is thread 0) and return when all are done.
 *
 * Design notes (invariants):
 * 1. A job is published by bumping `gen` (release); workers that see a new
 *    generation run fn(arg, ith, nth) and bump `done` (release).  The caller
 *    runs its share, then waits until done == nth - 1.  So memory written by
 *    a job is visible to the caller when pool_run returns, and to every
 *    worker in the next job.
 * 2. Workers spin briefly (decode issues hundreds of small jobs per token,
 *    a futex round trip would dominate), then sleep on `gen` with a futex so
 *    an idle pool costs no CPU.  `sleepers` tells the caller whether a wake
 *    is needed.  The caller, waiting for workers, yields its core after a
 *    short spin: on a busy machine the worker it waits for may need it.
 * 3. Jobs never allocate; nothing here allocates after pool_new.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool.h"

/* Pauses a worker spins before it sleeps (about 100 us), and the caller
 * before it starts yielding its core to a worker the OS has not run. */
#define SPIN_ROUNDS 2000
#define WAIT_SPINS 2000

struct pool {
	int n;                     /* threads including the caller */
	pthread_t *threads;
	_Atomic uint32_t gen;      /* job generation (futex word) */
	_Atomic int done;          /* workers finished with the current job */
	_Atomic int sleepers;      /* workers in futex wait */
	_Atomic bool quit;
	pool_fn fn;
	void *arg;
};

struct worker_arg {
	struct pool *p;
	int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void *worker(void *argp)
{
	struct worker_arg *wa = argp;
	struct pool *p = wa->p;
	int ith = wa->ith;
	uint32_t last = 0;

	free(wa);
	for (;;) {
		uint32_t g;
		int spins = 0;

		while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == last) {
			if (++spins < SPIN_ROUNDS) {
				cpu_relax();
				continue;
			}
			atomic_fetch_add(&p->sleepers, 1);
			if (atomic_load_explicit(&p->gen, memory_order_acquire) == last)
				futex_wait(&p->gen, last);
			atomic_fetch_sub(&p->sleepers, 1);
			spins = 0;
		}
		last = g;
		if (atomic_load(&p->quit))
			break;
		p->fn(p->arg, ith, p->n);
		atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
	}
	return NULL;
}

int pool_new(struct pool **out, int n_threads)
{
	struct pool *p;

	*out = NULL;
	if (n_threads < 1)
		n_threads = 1;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->n = n_threads;
	p->threads = calloc((size_t)n_threads, sizeof(*p->threads));
	if (p->threads == NULL) {
		free(p);
		return -1;
	}
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (wa == NULL) {
			p->n = i;
			pool_free(p);
			return -1;
		}
		wa->p = p;
		wa->ith = i;
		if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			p->n = i;
			pool_free(p);
			return -1;
		}
	}
	*out = p;
	return 0;
}

void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->quit, true);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	futex_wake_all(&p->gen);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p);
}

int pool_size(const struct pool *p)
{
	return p->n;
}

void pool_run(struct pool *p, pool_fn fn, void *arg)
{
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	/* seq_cst on both sides: a worker increments sleepers and then re-reads
	 * gen; we bump gen and then read sleepers.  One of us sees the other. */
	atomic_fetch_add(&p->gen, 1);
	if (atomic_load(&p->sleepers) > 0)
		futex_wake_all(&p->gen);
	fn(arg, 0, p->n);
	for (int spins = 0;
	     atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1; spins++) {
		if (spins < WAIT_SPINS)
			cpu_relax();
		else
			sched_yield();
	}
}
