/* matmul.c - the CPU backend's matmul as the forward pass calls it: weight
 * matrices of TinyLlama's shapes (2048 x 2048: attention; 5632 x 2048: FFN
 * up/gate) in Q4_0, Q8_0, Q4_K and Q6_K, for one token (decode: a mat-vec,
 * reported as GB/s of weight bytes) and a 512-token batch (prefill: a
 * gemm, reported as GFLOP/s, 2 * rows * cols * tokens), on 1 and 2 threads.
 * Activation quantization is inside the timed call, as in the model.
 * Each figure is the median of -r runs of at least -t seconds each.
 * With -w MB, the mat-vec cycles through copies of the matrix filling at
 * least MB megabytes, so its weights stream from DRAM as a model's do
 * (a 2048 x 2048 matrix alone fits in the last-level cache).
 *
 * -s ROWSxCOLS replaces the two shapes (up to 4 of them): a matrix that fits
 * in L2 shows a kernel's compute rate apart from DRAM.
 *
 * -p 0 times the mat-vec only.  -i repacks the weights into the interleaved
 * groups of 16 rows the CPU backend uses where it has their kernels
 * (quant_r16.c), as context creation does for a model.  The weights live in
 * 2 MiB pages where the kernel gives them, as a model's do.
 *
 * usage: bench_matmul [-t SECONDS] [-r RUNS] [-p TOKENS] [-w MB] [-s RxC]... [-i] [TYPE...] */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_util.h"
#include "model_int.h"


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const enum quant_type types[] = { QT_Q4_0, QT_Q8_0, QT_Q4_K, QT_Q6_K };
	int64_t shapes[4][2] = { { 2048, 2048 }, { 5632, 2048 } }; /* rows, cols */
	int n_shapes = 2, n_set = 0;
	double min_time = 0.3;
	int runs = 5, n_batch = 512;
	size_t pool_mb = 0;
	bool r16 = false;
	const char *want[16];
	int n_want = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			min_time = atof(argv[++i]);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			n_batch = atoi(argv[++i]);
		else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
			pool_mb = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc && n_set < 4) {
			long long r, k;

			if (sscanf(argv[++i], "%lldx%lld", &r, &k) != 2 || r < 16 || r > 65536 || r % 16 ||
			    k < 256 || k > 65536 || k % 256) {
				fprintf(stderr, "-s %s: want ROWSxCOLS, rows a multiple of 16, cols of 256\n", argv[i]);
				return 2;
			}
			shapes[n_set][0] = r;
			shapes[n_set][1] = k;
			n_shapes = ++n_set;
		} else if (strcmp(argv[i], "-i") == 0)
			r16 = true;
		else if (argv[i][0] != '-' && n_want < 16)
			want[n_want++] = argv[i];
		else {
			fprintf(stderr, "usage: %s [-t SECONDS] [-r RUNS] [-p TOKENS] [-w MB] [-s RxC]... [-i] [TYPE...]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 99 || (n_batch < 2 && n_batch != 0) || n_batch > 4096 || pool_mb > 16384) {
		fprintf(stderr, "RUNS in 1..99, TOKENS 0 (no batch) or 2..4096, MB <= 16384\n");
		return 2;
	}
	if (r16 && quant_r16_active() == NULL) {
		fprintf(stderr, "-i: this CPU's kernel set has no interleaved kernels\n");
		return 2;
	}
	printf("# CPU matmul, median of %d runs; tg: GB/s of weights (1 token%s), pp: GFLOP/s (%d tokens)%s\n",
	       runs, pool_mb ? ", from DRAM" : "", n_batch, r16 ? ", interleaved rows" : "");
	printf("%-6s %-11s %3s %10s %10s\n", "type", "shape", "thr", "tg GB/s", "pp GFLOP/s");
	for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
		const struct quant_traits *q = quant_traits_of(types[ti]);
		int selected = n_want == 0;

		for (int k = 0; k < n_want; k++)
			selected |= strcasecmp(want[k], q->name) == 0;
		if (!selected)
			continue;
		for (int si = 0; si < n_shapes; si++) {
			const int64_t R = shapes[si][0], K = shapes[si][1];
			size_t wbytes = quant_row_size(types[ti], K) * (size_t)R;
			size_t wstride = (wbytes + 63) / 64 * 64;
			size_t copies = pool_mb * 1000000 / wstride + 1;
			size_t wall = (wstride * copies + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
			uint8_t *w = aligned_alloc((size_t)2 << 20, wall);
			int64_t T_max = n_batch ? n_batch : 1;
			float *x = malloc(sizeof(float) * (size_t)(K * T_max));
			float *y = malloc(sizeof(float) * (size_t)(R * T_max));
			struct etensor tw, tx, ty;

			if (w == NULL || x == NULL || y == NULL) {
				fprintf(stderr, "out of memory\n");
				return 1;
			}
			madvise(w, wall, MADV_HUGEPAGE);
			fill(q, w, (int64_t)(wbytes / q->type_size) * q->block_size);
			if (r16 && quant_r16_layout(types[ti])) {
				uint8_t *tmp = malloc(QUANT_R16_ROWS * quant_row_size(types[ti], K));

				if (tmp == NULL) {
					fprintf(stderr, "out of memory\n");
					return 1;
				}
				quant_r16_pack_groups(types[ti], K, w, 0, R / QUANT_R16_ROWS, tmp);
				free(tmp);
			}
			for (size_t i = 1; i < copies; i++)
				memcpy(w + i * wstride, w, wbytes);
			for (int64_t i = 0; i < K * T_max; i++)
				x[i] = (float)rnd32() / 4294967296.0f - 0.5f;
			etensor_init2d(&tw, types[ti], K, R, w, "bench");
			if (r16 && quant_r16_layout(types[ti]))
				tw.r16 = quant_r16_active();
			etensor_init2d(&tx, QT_F32, K, T_max, x, "bench");
			etensor_init2d(&ty, QT_F32, R, T_max, y, "bench");
			for (int nt = 1; nt <= 2; nt++) {
				struct engine_backend *be;
				double res[2];

				if (backend_cpu_new(&be, nt) < 0 || be->ops->reserve(be, (uint32_t)T_max, (uint32_t)K, NULL) < 0) {
					fprintf(stderr, "backend: %s\n", engine_errmsg());
					return 1;
				}
				res[1] = 0.0;
				for (int mode = 0; mode < (n_batch ? 2 : 1); mode++) {
					uint32_t T = mode == 0 ? 1 : (uint32_t)n_batch;
					size_t ncopy = mode == 0 ? copies : 1, ci = 0;
					double per[99];

					be->ops->matmul(be, &ty, &tw, &tx, T, NULL, NULL); /* warm up */
					for (int r = 0; r < runs; r++) {
						double t0 = now(), dt;
						int iters = 0;

						do {
							tw.data = w + ci * wstride;
							ci = ci + 1 < ncopy ? ci + 1 : 0;
							be->ops->matmul(be, &ty, &tw, &tx, T, NULL, NULL);
							iters++;
							dt = now() - t0;
						} while (dt < min_time);
						per[r] = dt / iters;
					}
					qsort(per, (size_t)runs, sizeof(double), cmp_double);
					res[mode] = mode == 0 ? (double)wbytes / per[runs / 2] / 1e9
							      : 2.0 * (double)R * (double)K * T / per[runs / 2] / 1e9;
				}
				printf("%-6s %5lldx%-5lld %3d %10.2f %10.1f\n", q->name, (long long)R, (long long)K,
				       nt, res[0], res[1]);
				fflush(stdout);
				be->ops->free(be);
			}
			free(w);
			free(x);
			free(y);
		}
	}
	return 0;
}
