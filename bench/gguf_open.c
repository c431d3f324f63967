/* gguf_open.c - how long gguf_open() takes on a big model file.
 *
 *   bench_gguf_open time PATH [RUNS]      time gguf_open + gguf_close
 *
 * (bench_gen_model writes the TinyLlama-1.1B-shaped files it is run on.)
 * `time` measures open+close "cold" (the file's pages dropped from the page
 * cache with POSIX_FADV_DONTNEED before each run; pages another process
 * holds may survive) and "warm" (right after a previous open), RUNS times
 * each (default 9), and prints median, min and max in ms.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* One open+close in ms; -1 on error. */
static double time_open(const char *path)
{
	struct gguf_file *f = NULL;
	double t0 = now_ms(), t;

	if (gguf_open(&f, path) != 0)
		return -1;
	gguf_close(f);
	t = now_ms() - t0;
	return t;
}

static int fail(void)
{
	fprintf(stderr, "bench_gguf_open: %s\n", engine_errmsg());
	return 1;
}

static int timeit(const char *path, int runs)
{
	double cold[64], warm[64];
	struct gguf_file *f = NULL;
	struct engine_model_info mi;

	if (runs < 1 || runs > 64)
		runs = 9;
	if (gguf_open(&f, path) != 0 || engine_model_info(&mi, f) != 0)
		return fail();
	printf("file: %s\n", path);
	printf("size: %.1f MiB, %zu tensors, %zu keys, %llu params, vocab %llu\n",
	       (double)gguf_file_size(f) / (1 << 20), gguf_tensor_count(f), gguf_kv_count(f),
	       (unsigned long long)mi.n_params, (unsigned long long)mi.vocab_size);
	gguf_close(f);
	for (int i = 0; i < runs; i++) {
		drop_cache(path);
		if ((cold[i] = time_open(path)) < 0)
			return fail();
		if ((warm[i] = time_open(path)) < 0)
			return fail();
	}
	qsort(cold, (size_t)runs, sizeof(double), cmp_double);
	qsort(warm, (size_t)runs, sizeof(double), cmp_double);
	printf("gguf_open+close cold: median %.3f ms (min %.3f, max %.3f, %d runs)\n",
	       cold[runs / 2], cold[0], cold[runs - 1], runs);
	printf("gguf_open+close warm: median %.3f ms (min %.3f, max %.3f, %d runs)\n",
	       warm[runs / 2], warm[0], warm[runs - 1], runs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "time") == 0)
		return timeit(argv[2], argc >= 4 ? atoi(argv[3]) : 9);
	fprintf(stderr, "usage: bench_gguf_open time PATH [RUNS]\n");
	return 2;
}
