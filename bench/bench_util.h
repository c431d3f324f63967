/* bench_util.h - what the kernel benchmarks share: a fast PRNG, a clock,
 * and random weight blocks that are valid for their type. */
#ifndef HALO_BENCH_UTIL_H
#define HALO_BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n elements of random blocks whose values are finite and below 1e3 (no
 * inf/NaN or subnormal-heavy scales to distort the timing). */
static void fill(const struct quant_traits *q, uint8_t *p, int64_t n)
{
	float y[256];

	if (!q->quantized) {
		float *x = malloc((size_t)n * sizeof(float));

		for (int64_t i = 0; i < n; i++)
			x[i] = (float)rnd32() / 4294967296.0f - 0.5f;
		q->from_float(x, p, n);
		free(x);
		return;
	}
	for (int64_t b = 0; b < n / q->block_size; b++) {
		uint8_t *blk = p + (size_t)b * q->type_size;
		int ok;

		do {
			ok = 1;
			for (size_t i = 0; i < q->type_size; i++)
				blk[i] = (uint8_t)rnd32();
			q->to_float(blk, y, q->block_size);
			for (int64_t i = 0; i < q->block_size; i++)
				if (!(fabsf(y[i]) < 1e3f) || (y[i] != 0.0f && fabsf(y[i]) < 1e-6f))
					ok = 0;
		} while (!ok);
	}
}

#endif
