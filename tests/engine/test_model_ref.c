/* test_model_ref.c - every model in testdata/models against llama.cpp's
 * reference outputs in testdata/ref (README sections 2-3):
 *   seq1 in one batch, seq1 one token at a time through the KV cache, seq2
 *   (200 tokens) in one batch, each within the tolerance in ref.json; and
 *   greedy decoding: all 32 ids for float files, for quantized files ids up
 *   to the first low-margin step, then teacher-forced logits of the
 *   reference's top ids.
 * The GGUF v1 copy of stories260K must reproduce stories260K's references.
 * HALO_TEST_BACKEND=vulkan runs the same checks on the Vulkan backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine.h"
#include "npy.h"
#include "testutil.h"

struct tol {
	double nmse_max, max_abs, logit_std;
	double row_nmse_max, row_frac; /* MoE: per-row bound met by a fraction */
	bool quant;
};

struct ref {
	const char *dir;         /* name of the ref folder */
	struct tol tol;
	int32_t seq1[16];
	int32_t *seq2;
	size_t n_seq2;
	int32_t greedy[32];
	double margin[32];
	int32_t top_id[32][8];
	float top_logit[32][8];
};

static char *path_of(const char *a, const char *b, const char *c)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s%s", a, b, c ? c : "") > 0);
	return p;
}

static void load_ref(struct ref *r, const char *dir)
{
	char *base = path_of(tu_testdata(), "ref/", dir), *p;
	json_error_t je;
	json_t *j, *tol, *a;
	size_t i, n;
	char *text;

	memset(r, 0, sizeof(*r));
	r->dir = dir;
	p = path_of(base, "/ref.json", NULL);
	j = json_load_file(p, 0, &je);
	if (j == NULL)
		fail_msg("%s: %s", p, je.text);
	free(p);
	tol = json_object_get(j, "tolerance");
	r->tol.nmse_max = json_real_value(json_object_get(tol, "nmse_max"));
	r->tol.max_abs = json_number_value(json_object_get(tol, "max_abs"));
	r->tol.row_nmse_max = json_number_value(json_object_get(tol, "per_position_nmse_max"));
	r->tol.row_frac = json_number_value(json_object_get(tol, "per_position_min_pass_fraction"));
	r->tol.quant = strncmp(json_string_value(json_object_get(tol, "category")), "quant", 5) == 0;
	r->tol.logit_std = json_number_value(json_object_get(j, "logit_std"));
	assert_true(r->tol.nmse_max > 0 && r->tol.max_abs > 0 && r->tol.logit_std > 0);
	json_array_foreach(json_object_get(j, "seq1"), i, a)
		r->seq1[i] = (int32_t)json_integer_value(a);
	assert_int_equal(i, 16);
	n = json_array_size(json_object_get(j, "seq2"));
	r->seq2 = calloc(n, sizeof(int32_t));
	json_array_foreach(json_object_get(j, "seq2"), i, a)
		r->seq2[i] = (int32_t)json_integer_value(a);
	r->n_seq2 = n;
	json_decref(j);

	/* greedy.txt: "id margin" lines; greedy.top.txt: 8 "id logit" pairs */
	p = path_of(base, "/greedy.txt", NULL);
	text = tu_read_file(p, NULL);
	assert_non_null(text);
	{
		char *s = text;

		for (int k = 0; k < 32; k++) {
			r->greedy[k] = (int32_t)strtol(s, &s, 10);
			r->margin[k] = strtod(s, &s);
		}
	}
	free(text);
	free(p);
	p = path_of(base, "/greedy.top.txt", NULL);
	text = tu_read_file(p, NULL);
	assert_non_null(text);
	{
		char *s = text;

		for (int k = 0; k < 32; k++)
			for (int t = 0; t < 8; t++) {
				r->top_id[k][t] = (int32_t)strtol(s, &s, 10);
				r->top_logit[k][t] = strtof(s, &s);
			}
	}
	free(text);
	free(p);
	free(base);
}

static struct npy *load_npy(const char *dir, const char *file)
{
	char *p = path_of(tu_testdata(), "ref/", dir), *q = path_of(p, "/", file);
	char err[256];
	struct npy *a = NULL;

	if (npy_load(&a, q, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(p);
	free(q);
	return a;
}

/* Compare rows x rows of logits; fail with the figures when out of bounds. */
static void compare(const char *model, const char *what, const float *got,
		    const float *ref, size_t rows, size_t V, const struct tol *t)
{
	double se = 0, sr = 0, maxabs = 0;
	size_t rows_ok = 0;

	for (size_t r = 0; r < rows; r++) {
		double rse = 0, rsr = 0;

		for (size_t k = 0; k < V; k++) {
			double d = (double)got[r * V + k] - ref[r * V + k];

			rse += d * d;
			rsr += (double)ref[r * V + k] * ref[r * V + k];
			if (d < 0)
				d = -d;
			if (d > maxabs)
				maxabs = d;
		}
		se += rse;
		sr += rsr;
		if (t->row_nmse_max > 0 && rse / rsr <= t->row_nmse_max)
			rows_ok++;
	}
	print_message("  %-28s %-11s nmse %.3g (max %.3g)  max|d| %.4g (max %.4g)\n",
		      model, what, se / sr, t->nmse_max, maxabs, t->max_abs);
	if (!(se / sr <= t->nmse_max) || !(maxabs <= t->max_abs))
		fail_msg("%s %s: nmse %.4g (max %.4g), max|d| %.4g (max %.4g)", model,
			 what, se / sr, t->nmse_max, maxabs, t->max_abs);
	if (t->row_nmse_max > 0 && (double)rows_ok < t->row_frac * (double)rows)
		fail_msg("%s %s: only %zu of %zu rows have nmse <= %.4g", model, what,
			 rows_ok, rows, t->row_nmse_max);
}

/* n_batch 1 is what `eval --one-by-one` and `bench -p 0` use: scratch
 * sized for one row only. */
static struct engine_ctx *new_ctx_b(struct engine_model *m, bool all, uint32_t n_batch)
{
	struct engine_ctx_params p = ENGINE_CTX_PARAMS_INIT;
	const char *be = getenv("HALO_TEST_BACKEND");
	struct engine_ctx *c;

	p.n_ctx = 512;
	p.n_batch = n_batch;
	p.n_threads = 2;
	p.logits_all = all;
	p.backend = be && strcmp(be, "vulkan") == 0 ? ENGINE_BACKEND_VULKAN : ENGINE_BACKEND_CPU;
	if (engine_ctx_new(&c, m, &p) != 0)
		fail_msg("engine_ctx_new: %s", engine_errmsg());
	return c;
}

static struct engine_ctx *new_ctx(struct engine_model *m, bool all)
{
	return new_ctx_b(m, all, 512);
}

static void check_model(const char *file, const char *refdir)
{
	char *mp = path_of(tu_testdata(), "models/", file);
	struct engine_model *m;
	struct engine_ctx *c;
	struct ref r;
	struct npy *a;
	size_t rows, V;
	const float *lg;
	float *buf;
	int first_low = 32;

	load_ref(&r, refdir);
	if (engine_model_open(&m, mp, NULL) != 0)
		fail_msg("%s", engine_errmsg());
	V = engine_model_n_vocab(m);

	/* seq1, one batch */
	c = new_ctx(m, true);
	assert_int_equal(engine_decode(c, r.seq1, 16), 0);
	lg = engine_ctx_logits(c, &rows);
	assert_int_equal(rows, 16);
	a = load_npy(refdir, "seq1.logits.npy");
	assert_int_equal(a->shape[0] * a->shape[1], 16 * V);
	compare(file, "seq1 batch", lg, a->data, 16, V, &r.tol);
	npy_free(a);

	/* seq1, one token per decode, in a context of one-token batches */
	engine_ctx_free(c);
	c = new_ctx_b(m, true, 1);
	buf = malloc(16 * V * sizeof(float));
	for (int i = 0; i < 16; i++) {
		assert_int_equal(engine_decode(c, &r.seq1[i], 1), 0);
		lg = engine_ctx_logits(c, &rows);
		assert_int_equal(rows, 1);
		memcpy(buf + (size_t)i * V, lg, V * sizeof(float));
	}
	a = load_npy(refdir, "seq1.step.npy");
	compare(file, "seq1 step", buf + (16 - (size_t)a->shape[0]) * V, a->data,
		(size_t)a->shape[0], V, &r.tol);
	npy_free(a);

	/* seq2, one batch of 200, rows 0, 63, 127, 199 */
	engine_ctx_free(c);
	c = new_ctx(m, true);
	assert_int_equal(engine_decode(c, r.seq2, r.n_seq2), 0);
	lg = engine_ctx_logits(c, &rows);
	assert_int_equal(rows, r.n_seq2);
	{
		const size_t at[4] = { 0, 63, 127, 199 };

		for (int i = 0; i < 4; i++)
			memcpy(buf + (size_t)i * V, lg + at[i] * V, V * sizeof(float));
	}
	a = load_npy(refdir, "seq2.logits.npy");
	compare(file, "seq2 batch", buf, a->data, 4, V, &r.tol);
	npy_free(a);
	engine_ctx_free(c);

	/* greedy: 32 steps after seq1 */
	c = new_ctx(m, false);
	assert_int_equal(engine_decode(c, r.seq1, 16), 0);
	if (r.tol.quant)
		for (int k = 0; k < 32; k++)
			if (r.margin[k] < 0.35 * r.tol.logit_std) {
				first_low = k;
				break;
			}
	for (int k = 0; k < 32; k++) {
		lg = engine_ctx_logits(c, NULL);
		if (k < first_low) {
			if (tu_argmax(lg, V) != r.greedy[k])
				fail_msg("%s: greedy step %d: got id %d, llama.cpp %d (margin %.3g)",
					 file, k, tu_argmax(lg, V), r.greedy[k], r.margin[k]);
		} else {
			for (int t = 0; t < 8; t++) {
				double d = lg[r.top_id[k][t]] - r.top_logit[k][t];

				if (d > r.tol.max_abs || d < -r.tol.max_abs)
					fail_msg("%s: teacher-forced step %d, id %d: %.4f vs %.4f",
						 file, k, r.top_id[k][t], lg[r.top_id[k][t]],
						 r.top_logit[k][t]);
			}
		}
		/* Feed the reference's id: identical to ours while they agree. */
		assert_int_equal(engine_decode(c, &r.greedy[k], 1), 0);
	}
	print_message("  %-28s greedy      %d ids compared, %d teacher-forced\n", file,
		      first_low, 32 - first_low);
	engine_ctx_free(c);
	engine_model_close(m);
	free(buf);
	free(r.seq2);
	free(mp);
}

#define MODEL_TEST(fn, file, ref) \
	static void fn(void **state) { (void)state; check_model(file, ref); }

MODEL_TEST(test_stories260k, "stories260K.gguf", "stories260K")
MODEL_TEST(test_stories260k_v1, "tinyllamas-stories-260k-f32.gguf", "stories260K")
MODEL_TEST(test_llama2_tiny_random, "llama-2-tiny-random.gguf", "llama-2-tiny-random")
MODEL_TEST(test_llama_f32, "llama-tiny-F32.gguf", "llama-tiny-F32")
MODEL_TEST(test_llama_f16, "llama-tiny-F16.gguf", "llama-tiny-F16")
MODEL_TEST(test_llama_bf16, "llama-tiny-BF16.gguf", "llama-tiny-BF16")
MODEL_TEST(test_llama_q8_0, "llama-tiny-Q8_0.gguf", "llama-tiny-Q8_0")
MODEL_TEST(test_llama_q6_k, "llama-tiny-Q6_K.gguf", "llama-tiny-Q6_K")
MODEL_TEST(test_llama_q5_k_m, "llama-tiny-Q5_K_M.gguf", "llama-tiny-Q5_K_M")
MODEL_TEST(test_llama_q5_0, "llama-tiny-Q5_0.gguf", "llama-tiny-Q5_0")
MODEL_TEST(test_llama_q4_k_m, "llama-tiny-Q4_K_M.gguf", "llama-tiny-Q4_K_M")
MODEL_TEST(test_llama_q4_0, "llama-tiny-Q4_0.gguf", "llama-tiny-Q4_0")
MODEL_TEST(test_llama_q3_k_m, "llama-tiny-Q3_K_M.gguf", "llama-tiny-Q3_K_M")
MODEL_TEST(test_llama_q2_k, "llama-tiny-Q2_K.gguf", "llama-tiny-Q2_K")
MODEL_TEST(test_llama_iq4_xs, "llama-tiny-IQ4_XS.gguf", "llama-tiny-IQ4_XS")
MODEL_TEST(test_qwen2_f16, "qwen2-tiny-F16.gguf", "qwen2-tiny-F16")
MODEL_TEST(test_qwen3_f16, "qwen3-tiny-F16.gguf", "qwen3-tiny-F16")
MODEL_TEST(test_qwen3moe_f16, "qwen3moe-tiny-F16.gguf", "qwen3moe-tiny-F16")
MODEL_TEST(test_qwen3moe_q4_k_m, "qwen3moe-tiny-Q4_K_M.gguf", "qwen3moe-tiny-Q4_K_M")
MODEL_TEST(test_gemma3_f16, "gemma3-tiny-F16.gguf", "gemma3-tiny-F16")

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stories260k),
		cmocka_unit_test(test_stories260k_v1),
		cmocka_unit_test(test_llama2_tiny_random),
		cmocka_unit_test(test_llama_f32),
		cmocka_unit_test(test_llama_f16),
		cmocka_unit_test(test_llama_bf16),
		cmocka_unit_test(test_llama_q8_0),
		cmocka_unit_test(test_llama_q6_k),
		cmocka_unit_test(test_llama_q5_k_m),
		cmocka_unit_test(test_llama_q5_0),
		cmocka_unit_test(test_llama_q4_k_m),
		cmocka_unit_test(test_llama_q4_0),
		cmocka_unit_test(test_llama_q3_k_m),
		cmocka_unit_test(test_llama_q2_k),
		cmocka_unit_test(test_llama_iq4_xs),
		cmocka_unit_test(test_qwen2_f16),
		cmocka_unit_test(test_qwen3_f16),
		cmocka_unit_test(test_qwen3moe_f16),
		cmocka_unit_test(test_qwen3moe_q4_k_m),
		cmocka_unit_test(test_gemma3_f16),
	};

	return cmocka_run_group_tests_name("model_ref", tests, NULL, NULL);
}
