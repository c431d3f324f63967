/* membw.c - the machine's streaming read bandwidth, the ceiling of token
 * generation (each token reads every weight once).
 *
 *   bench_membw [THREADS [MB_PER_THREAD]]
 *
 * Each thread sums its own buffer (2 MiB pages where the kernel gives them,
 * as the CPU backend's weights are) three times; prints GB/s over the wall
 * time of all threads.  The buffers are far larger than any cache. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef uint64_t v8u64 __attribute__((vector_size(64)));

struct arg {
	const v8u64 *p;
	size_t n; /* vectors */
	uint64_t sum;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Built for the widest loads the CPU has (an ifunc picks the clone): with
 * 16-byte SSE2 loads one core cannot keep enough lines in flight. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void *reader(void *v)
{
	struct arg *a = v;
	v8u64 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };

	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i + 4 <= a->n; i += 4) {
			s0 += a->p[i];
			s1 += a->p[i + 1];
			s2 += a->p[i + 2];
			s3 += a->p[i + 3];
		}
	s0 += s1 + s2 + s3;
	for (int k = 0; k < 8; k++)
		a->sum += s0[k];
	return NULL;
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? atoi(argv[1]) : 1;
	size_t mb = argc > 2 ? (size_t)atol(argv[2]) : 512, bytes = mb << 20;
	pthread_t th[64];
	struct arg a[64];
	double t0, dt;
	uint64_t sink = 0;

	if (nt < 1 || nt > 64 || mb < 16) {
		fprintf(stderr, "usage: bench_membw [THREADS (1-64) [MB_PER_THREAD (>= 16)]]\n");
		return 2;
	}
	for (int t = 0; t < nt; t++) {
		void *p = aligned_alloc((size_t)2 << 20, bytes);

		if (p == NULL) {
			fprintf(stderr, "bench_membw: out of memory for %zu MB\n", mb);
			return 1;
		}
		madvise(p, bytes, MADV_HUGEPAGE);
		memset(p, t + 1, bytes);
		a[t] = (struct arg){ p, bytes / sizeof(v8u64), 0 };
	}
	t0 = now();
	for (int t = 0; t < nt; t++)
		if (pthread_create(&th[t], NULL, reader, &a[t]) != 0) {
			fprintf(stderr, "bench_membw: cannot start thread %d\n", t);
			return 1;
		}
	for (int t = 0; t < nt; t++) {
		pthread_join(th[t], NULL);
		sink += a[t].sum;
	}
	dt = now() - t0;
	printf("read bandwidth, %d thread%s: %.1f GB/s%s\n", nt, nt > 1 ? "s" : "",
	       3.0 * (double)bytes * nt / dt / 1e9, sink == 0 ? " " : "");
	for (int t = 0; t < nt; t++)
		free((void *)a[t].p);
	return 0;
}
