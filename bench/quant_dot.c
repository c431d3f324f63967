/* quant_dot.c - throughput of the quant vec_dot kernels, per type and per
 * kernel set this CPU runs.
 *
 * A matrix-vector product shape: ROWS weight rows of N elements each (4096 x
 * 4096 by default) against one activation row in the type's vec_dot_type,
 * one thread.  Prints GB/s of weight bytes read (the figure that matters for
 * token generation, which streams every weight once per token) and the time
 * per full matrix.  Weights are random bytes with finite block values, as in
 * test_quant_kernels.
 *
 * Each type is timed through vec_dot (row by row) and, where the kernel set
 * has one, through gemv (the mat-vec kernel the backend uses for one token).
 *
 * usage: bench_quant_dot [-n N] [-r ROWS] [-t SECONDS] [TYPE...] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"


#define BENCH_GEMV_ROWS 64 /* rows per gemv call: the backend's row block */

static const enum quant_type all_types[] = {
	QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_IQ4_NL,
	QT_Q6_K, QT_Q5_K, QT_Q4_K, QT_Q3_K, QT_Q2_K, QT_IQ4_XS,
};

int main(int argc, char **argv)
{
	int64_t n = 4096, rows = 4096;
	double min_time = 0.3;
	const char *want[64];
	int n_want = 0;
	struct engine_cpu_caps caps;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = atoll(argv[++i]);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			rows = atoll(argv[++i]);
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			min_time = atof(argv[++i]);
		else if (argv[i][0] != '-' && n_want < 64)
			want[n_want++] = argv[i];
		else {
			fprintf(stderr, "usage: %s [-n N] [-r ROWS] [-t SECONDS] [TYPE...]\n", argv[0]);
			return 2;
		}
	}
	if (n <= 0 || n % 256 != 0 || rows <= 0) {
		fprintf(stderr, "N must be a positive multiple of 256, ROWS positive\n");
		return 2;
	}
	engine_cpu_caps_get(&caps);
	printf("# %lld x %lld, 1 thread; best kernel set %s; GB/s of weight bytes\n",
	       (long long)rows, (long long)n, engine_isa_name(caps.best));
	printf("%-7s %-7s %-7s %10s %10s %9s\n", "type", "isa", "kernel", "MB", "ms/matrix", "GB/s");
	for (size_t ti = 0; ti < sizeof(all_types) / sizeof(all_types[0]); ti++) {
		const struct quant_traits *q = quant_traits_of(all_types[ti]);
		const struct quant_traits *qa;
		size_t rs, as;
		uint8_t *w, *a;
		float *x, *out;
		int selected = n_want == 0;

		for (int k = 0; k < n_want; k++)
			selected |= strcmp(want[k], q->name) == 0;
		if (!selected)
			continue;
		qa = quant_traits_of(q->vec_dot_type);
		rs = quant_row_size(all_types[ti], n);
		as = quant_row_size(q->vec_dot_type, n);
		w = malloc(rs * (size_t)rows);
		a = aligned_alloc(64, (as + 63) / 64 * 64);
		x = malloc((size_t)n * sizeof(float));
		out = malloc((size_t)rows * sizeof(float));
		if (w == NULL || a == NULL || x == NULL || out == NULL) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
		for (int64_t r = 0; r < rows; r++)
			fill(q, w + (size_t)r * rs, n);
		for (int64_t i = 0; i < n; i++)
			x[i] = (float)rnd32() / 4294967296.0f - 0.5f;
		qa->from_float(x, a, n);
		/* kernel 0: vec_dot row by row; 1: gemv in calls of BENCH_GEMV_ROWS
		 * rows (as the backend's mat-vec), where the set has one */
		for (int kern = 0; kern < 2; kern++)
			for (int isa = 0; isa <= (int)caps.best; isa++) {
				double t0, dt;
				int iters = 0;

				engine_cpu_set_isa((enum engine_isa)isa);
				if (kern == 1 && q->gemv == NULL)
					continue;
				t0 = now();
				do { /* the first pass warms up */
					if (iters == 1)
						t0 = now();
					for (int64_t r = 0; r < rows; r += BENCH_GEMV_ROWS)
						if (kern == 1)
							q->gemv(n, rows - r < BENCH_GEMV_ROWS ? rows - r : BENCH_GEMV_ROWS,
								w + (size_t)r * rs, rs, a, out + r);
						else
							for (int64_t k = r; k < r + BENCH_GEMV_ROWS && k < rows; k++)
								out[k] = q->vec_dot(n, w + (size_t)k * rs, a);
					iters++;
					dt = now() - t0;
				} while (iters < 2 || dt < min_time);
				iters--;
				printf("%-7s %-7s %-7s %10.1f %10.3f %9.2f\n", q->name,
				       engine_isa_name((enum engine_isa)isa), kern ? "gemv" : "vec_dot",
				       (double)(rs * (size_t)rows) / 1e6, 1e3 * dt / iters,
				       (double)(rs * (size_t)rows) * iters / dt / 1e9);
				fflush(stdout);
			}
		engine_cpu_set_isa(caps.active);
		free(w);
		free(a);
		free(x);
		free(out);
	}
	return 0;
}
