/* test_quant_models.c - every tensor of the quantized llama-tiny files,
 * dequantized, against the same tensor of llama-tiny-F32.gguf.
 *
 * llama-quantize made each file from the F32 master, so the difference is
 * the format's own quantization error: nmse = sum (y - ref)^2 / sum ref^2 per
 * tensor, bounded per type.  The bounds are about 2x the largest value seen
 * over these files (measured below the table), so a drifting quantizer is
 * tolerated but a wrong decoder is not: with each block's halves swapped (a
 * nibble-order bug; nmse ~2) or the scale doubled (nmse >= 1), every tensor
 * must exceed 5x its bound, which the test also checks.  Subtler decoder
 * bugs are test_quant's job (bit-exact against ggml's dequant/ data). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "engine.h"

/* Per-tensor nmse bound = about 2x the largest seen over these files
 * (llama.cpp v0.5.0 quantizer; the worst tensor is usually token_embd). */
static const struct {
	enum quant_type t;
	double bound;
} bounds[] = {
	{ QT_F16, 1e-7 },      /* seen 4.4e-8 */
	{ QT_BF16, 6e-6 },     /* seen 2.8e-6 */
	{ QT_Q8_0, 6e-5 },     /* seen 2.9e-5 */
	{ QT_Q6_K, 7e-4 },     /* seen 3.2e-4 */
	{ QT_Q5_K, 3e-3 },     /* seen 1.3e-3 */
	{ QT_Q5_0, 4e-3 },     /* seen 1.9e-3 */
	{ QT_Q4_K, 1.1e-2 },   /* seen 5.1e-3 */
	{ QT_Q4_0, 1.5e-2 },   /* seen 7.5e-3 */
	{ QT_IQ4_XS, 1.2e-2 }, /* seen 6.0e-3 */
	{ QT_Q3_K, 4.5e-2 },   /* seen 2.3e-2 */
	{ QT_Q2_K, 1.8e-1 },   /* seen 8.8e-2 */
};

static double bound_of(enum quant_type t)
{
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		if (bounds[i].t == t)
			return bounds[i].bound;
	return -1.0;
}

static const char *const files[] = {
	"F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K", "IQ4_XS",
};

static struct gguf_file *open_model(const char *type)
{
	char path[4096];
	struct gguf_file *f = NULL;

	snprintf(path, sizeof(path), "%s/models/llama-tiny-%s.gguf", tu_testdata(), type);
	if (gguf_open(&f, path) != 0)
		fail_msg("%s: %s", path, engine_errmsg());
	return f;
}

/* nmse of y against ref over n values. */
static double nmse(const float *y, const float *ref, int64_t n)
{
	double num = 0.0, den = 0.0;

	for (int64_t i = 0; i < n; i++) {
		double d = (double)y[i] - ref[i];

		num += d * d;
		den += (double)ref[i] * ref[i];
	}
	return den > 0.0 ? num / den : num;
}

/* Swap the two halves of every block of bs values (bs >= 2; for float
 * types a 32-element group). */
static void swap_halves(float *y, int64_t n, int64_t bs)
{
	for (int64_t b = 0; b + bs <= n; b += bs)
		for (int64_t j = 0; j < bs / 2; j++) {
			float t = y[b + j];

			y[b + j] = y[b + bs / 2 + j];
			y[b + bs / 2 + j] = t;
		}
}

static void test_models_vs_f32(void **state)
{
	struct gguf_file *ref = open_model("F32");
	double worst[QT_COUNT] = { 0 };
	int n_checked = 0;

	(void)state;
	for (size_t fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
		struct gguf_file *f = open_model(files[fi]);

		for (size_t ti = 0; ti < gguf_tensor_count(f); ti++) {
			const struct gguf_tensor *t = gguf_tensor_at(f, ti);
			const struct gguf_tensor *r = gguf_tensor_find(ref, t->name);
			const struct quant_traits *q = quant_traits_of(t->type);
			int64_t ne0 = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3], n = ne0 * rows;
			size_t rs;
			float *y;
			double e, bound, e_swap, e_scale;

			assert_non_null(r);
			assert_non_null(q);
			assert_int_equal(r->type, QT_F32);
			assert_memory_equal(t->ne, r->ne, sizeof(t->ne));
			if (t->type == QT_F32)
				continue; /* norms stay F32: nothing to compare */
			bound = bound_of(t->type);
			if (bound < 0)
				fail_msg("%s %s: no bound for type %s", files[fi], t->name, q->name);
			rs = quant_row_size(t->type, ne0);
			assert_int_equal((uint64_t)rs * (uint64_t)rows, t->nbytes);
			y = malloc((size_t)n * sizeof(float));
			assert_non_null(y);
			for (int64_t row = 0; row < rows; row++)
				q->to_float((const uint8_t *)t->data + (size_t)row * rs, y + row * ne0, ne0);
			e = nmse(y, r->data, n);
			if (e > worst[t->type])
				worst[t->type] = e;
			if (!(e <= bound))
				fail_msg("%s %s (%s): nmse %.3g > %.3g", files[fi], t->name, q->name, e, bound);

			/* the bound must catch an ordering bug and a scale bug */
			swap_halves(y, n, q->block_size > 1 ? q->block_size : 32);
			e_swap = nmse(y, r->data, n);
			swap_halves(y, n, q->block_size > 1 ? q->block_size : 32);
			for (int64_t i = 0; i < n; i++)
				y[i] *= 2.0f;
			e_scale = nmse(y, r->data, n);
			if (!(e_swap > 5 * bound && e_scale > 5 * bound))
				fail_msg("%s %s: mutants not caught (swap %.3g, scale %.3g, bound %.3g)",
					 files[fi], t->name, e_swap, e_scale, bound);
			free(y);
			n_checked++;
		}
		gguf_close(f);
	}
	gguf_close(ref);
	for (int t = 0; t < QT_COUNT; t++)
		if (worst[t] > 0)
			print_message("%-7s worst tensor nmse %.3g (bound %.3g)\n",
				      quant_type_name((enum quant_type)t), worst[t], bound_of((enum quant_type)t));
	assert_true(n_checked >= 11 * 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_models_vs_f32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
