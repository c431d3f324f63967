/* pool.h - a fixed thread pool for the CPU backend (see pool.c). */
#ifndef HALO_POOL_H
#define HALO_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct pool;

/* fn runs once on each of nth threads with ith = 0..nth-1. */
typedef void (*pool_fn)(void *arg, int ith, int nth);

/* n_threads >= 1, including the calling thread.  Returns 0 or -1. */
int pool_new(struct pool **out, int n_threads);
void pool_free(struct pool *p); /* accepts NULL */
int pool_size(const struct pool *p);

/* Run fn on every thread and wait for all of them. */
void pool_run(struct pool *p, pool_fn fn, void *arg);

/* The share [*lo, *hi) of n items for thread ith of nth. */
static inline void pool_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
	int64_t per = (n + nth - 1) / nth;

	*lo = per * ith < n ? per * ith : n;
	*hi = *lo + per < n ? *lo + per : n;
}

#endif
