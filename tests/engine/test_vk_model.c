/* test_vk_model.c - the Vulkan backend on a whole model (stories260K):
 *   - greedy text equals the CPU backend's, token for token;
 *   - decode steps re-submit recorded command buffers instead of
 *     recording them again;
 *   - past 512 positions, where attention splits the keys into chunks,
 *     greedy steps still match the CPU and still replay;
 *   - 100 contexts created and freed leave device memory at its baseline;
 *   - with VK_LAYER_KHRONOS_validation on, a decode gives no message;
 *   - device top-k: the candidates a Vulkan context sends back are the row's
 *     best, and engine_generate gives the same text from them as from whole
 *     rows (greedy: the CPU's text);
 *   - a quantized model whose weights a CPU context repacked in place
 *     (quant_r16.c) uploads its rows as the file has them: Vulkan logits
 *     agree with the CPU's.
 * Skipped where no Vulkan device opens (the validation case also where the
 * layer is not installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend_vk.h"
#include "engine.h"
#include "model_int.h"
#include "testutil.h"
#include "vk_suite.h"

static struct engine_model *g_model;
static bool g_have_vk;

static struct engine_ctx_params params(enum engine_backend_kind kind, uint32_t n_ctx)
{
	struct engine_ctx_params p = ENGINE_CTX_PARAMS_INIT;

	p.n_ctx = n_ctx;
	p.n_batch = 64;
	p.n_threads = 2;
	p.backend = kind;
	return p;
}

static struct engine_ctx *ctx_new_n(enum engine_backend_kind kind, bool must, uint32_t n_ctx)
{
	return vks_ctx_new(g_model, params(kind, n_ctx), must);
}

static struct engine_ctx *ctx_new(enum engine_backend_kind kind, bool must)
{
	return ctx_new_n(kind, must, 256);
}

static int setup(void **state)
{
	(void)state;
	return vks_setup(&g_model, &g_have_vk, params(ENGINE_BACKEND_VULKAN, 256));
}

static int teardown(void **state)
{
	(void)state;
	engine_model_close(g_model);
	return 0;
}

/* Greedy continuation of a prompt: n ids into out. */
static void greedy(struct engine_ctx *c, int32_t *out, int n)
{
	const struct tok_vocab *v = engine_model_vocab(g_model);
	const char *prompt = "Once upon a time, there was a little";
	int32_t ids[64];
	size_t n_ids;

	assert_int_equal(tok_encode(v, prompt, strlen(prompt), true, false, ids, 64, &n_ids), 0);
	assert_int_equal(engine_decode(c, ids, n_ids), 0);
	for (int i = 0; i < n; i++) {
		out[i] = tu_argmax(engine_ctx_logits(c, NULL), engine_model_n_vocab(g_model));
		assert_int_equal(engine_decode(c, &out[i], 1), 0);
	}
}

static void test_after_cpu_repack(void **state)
{
	int32_t ids[10];
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	struct engine_model *saved = g_model, *m;
	struct engine_ctx *cc, *vc;
	char path[1024];
	double num = 0.0, den = 0.0;
	float *a;
	size_t nv;

	(void)state;
	if (!g_have_vk)
		skip();
	snprintf(path, sizeof(path), "%s/models/llama-tiny-Q4_K_M.gguf", tu_testdata());
	assert_int_equal(engine_model_open(&m, path, NULL), 0);
	g_model = m;
	nv = (size_t)engine_model_n_vocab(m);
	for (size_t i = 0; i < n; i++)
		ids[i] = (int32_t)((1 + 37 * i) % nv);
	assert_non_null(a = malloc(nv * sizeof(float)));
	cc = ctx_new(ENGINE_BACKEND_CPU, true);
	if (quant_r16_active())
		assert_true(m->n_r16 > 0);
	assert_int_equal(engine_decode(cc, ids, n), 0);
	memcpy(a, engine_ctx_logits(cc, NULL), nv * sizeof(float));
	/* mapped device memory, then the staging path (a discrete GPU's) */
	for (int staged = 0; staged < 2; staged++) {
		if (staged)
			setenv("HALO_VK_NO_ZEROCOPY", "1", 1);
		vc = ctx_new(ENGINE_BACKEND_VULKAN, true);
		unsetenv("HALO_VK_NO_ZEROCOPY");
		assert_int_equal(engine_decode(vc, ids, n), 0);
		num = den = 0.0;
		for (size_t i = 0; i < nv; i++) {
			double d = (double)engine_ctx_logits(vc, NULL)[i] - a[i];

			num += d * d;
			den += (double)a[i] * a[i];
		}
		print_message("  CPU (repacked) vs Vulkan%s logits: nmse %.3g\n",
			      staged ? " (staged upload)" : "", num / den);
		assert_true(num / den < 1e-3);
		engine_ctx_free(vc);
	}
	engine_ctx_free(cc);
	free(a);
	engine_model_close(m);
	g_model = saved;
}

struct ids {
	int32_t id[64];
	int n;
};

static int collect(void *ud, int32_t id, const char *text, size_t len)
{
	struct ids *o = ud;

	(void)text;
	(void)len;
	if (id != TOK_NULL && o->n < 64) /* not the final flush */
		o->id[o->n++] = id;
	return 0;
}

/* engine_generate's ids on a fresh context of `kind` with these chains. */
static struct ids gen(enum engine_backend_kind kind, float temp, bool host)
{
	struct engine_sampler_params sp = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_gen_params gp = ENGINE_GEN_PARAMS_INIT;
	const struct tok_vocab *v = engine_model_vocab(g_model);
	struct engine_gen_result r;
	struct engine_sampler *s;
	struct engine_ctx *c = ctx_new(kind, true);
	struct ids o = { .n = 0 };
	int32_t ids[64];
	size_t n_ids;

	sp.temp = temp;
	sp.top_k = 6; /* within what engine_generate lets the device pick */
	sp.seed = 11;
	gp.n_predict = 48;
	gp.ignore_eog = true;
	assert_int_equal(tok_encode(v, "Once upon a time", 16, true, false, ids, 64, &n_ids), 0);
	assert_int_equal(engine_sampler_new(&s, engine_model_n_vocab(g_model), &sp), 0);
	if (host)
		setenv("HALO_HOST_SAMPLING", "1", 1);
	assert_int_equal(engine_generate(&r, c, s, ids, n_ids, &gp, collect, &o), 0);
	unsetenv("HALO_HOST_SAMPLING");
	engine_sampler_free(s);
	engine_ctx_free(c);
	return o;
}

static void test_device_topk(void **state)
{
	static const int32_t prompt[] = { 1, 20, 35, 100, 7 };
	const size_t nv = (size_t)engine_model_n_vocab(g_model);
	struct engine_ctx *a, *b, *cpu;
	const int32_t *ids;
	const float *vals, *l;
	struct ids x, y;
	size_t rows, n;

	(void)state;
	if (!g_have_vk)
		skip();
	cpu = ctx_new(ENGINE_BACKEND_CPU, true);
	assert_int_equal(engine_ctx_set_device_topk(cpu, 5), ENGINE_EUNSUPPORTED);
	engine_ctx_free(cpu);
	a = ctx_new(ENGINE_BACKEND_VULKAN, true);
	b = ctx_new(ENGINE_BACKEND_VULKAN, true);
	assert_int_equal(engine_ctx_set_device_topk(b, ENGINE_TOPK_MAX + 1), ENGINE_EINVAL);
	assert_int_equal(engine_ctx_set_device_topk(b, 5), 0);
	assert_int_equal(engine_decode(a, prompt, 5), 0);
	assert_int_equal(engine_decode(b, prompt, 5), 0);
	l = engine_ctx_logits(a, &rows);
	assert_int_equal(rows, 1);
	n = engine_ctx_topk(b, &ids, &vals);
	assert_int_equal(n, 5);
	engine_ctx_logits(b, &rows);
	assert_int_equal(rows, 0);
	for (size_t r = 0; r < n; r++) {
		size_t best = nv;

		for (size_t i = 0; i < nv; i++) {
			bool taken = false;

			for (size_t t = 0; t < r; t++)
				taken = taken || ids[t] == (int32_t)i;
			if (!taken && (best == nv || l[i] > l[best]))
				best = i;
		}
		assert_int_equal(ids[r], (int32_t)best);
		assert_true(vals[r] == l[best]);
	}
	engine_ctx_free(a);
	engine_ctx_free(b);
	/* greedy from candidates = the CPU's text; sampled = whole rows */
	x = gen(ENGINE_BACKEND_VULKAN, 0.0f, false);
	y = gen(ENGINE_BACKEND_CPU, 0.0f, false);
	assert_int_equal(x.n, 48);
	assert_memory_equal(x.id, y.id, sizeof(int32_t) * 48);
	x = gen(ENGINE_BACKEND_VULKAN, 0.9f, false);
	y = gen(ENGINE_BACKEND_VULKAN, 0.9f, true);
	assert_int_equal(x.n, 48);
	assert_memory_equal(x.id, y.id, sizeof(int32_t) * 48);
}

static void test_greedy_text(void **state)
{
	const struct tok_vocab *v = engine_model_vocab(g_model);
	int32_t a[100], b[100];
	char ta[2048], tb[2048];
	struct engine_ctx *c;
	struct vk_stats s0, s1;

	(void)state;
	if (!g_have_vk)
		skip();
	c = ctx_new(ENGINE_BACKEND_CPU, true);
	greedy(c, a, 100);
	engine_ctx_free(c);
	c = ctx_new(ENGINE_BACKEND_VULKAN, true);
	assert_string_equal(engine_ctx_backend(c), "Vulkan");
	backend_vk_stats(&s0);
	greedy(c, b, 100);
	backend_vk_stats(&s1);
	engine_ctx_free(c);
	assert_true(tok_decode(v, a, 100, 0, ta, sizeof(ta)) > 0);
	assert_true(tok_decode(v, b, 100, 0, tb, sizeof(tb)) > 0);
	print_message("  CPU:    %s\n  Vulkan: %s\n", ta, tb);
	assert_string_equal(ta, tb);
	assert_memory_equal(a, b, sizeof(a));
	/* 100 one-token steps of the same shape: recorded once, then replayed */
	print_message("  %llu chunks recorded, %llu replayed, %llu submits for 100 steps + prompt\n",
		      (unsigned long long)(s1.recorded_chunks - s0.recorded_chunks),
		      (unsigned long long)(s1.replayed_chunks - s0.replayed_chunks),
		      (unsigned long long)(s1.submits - s0.submits));
	assert_true(s1.replayed_chunks - s0.replayed_chunks >= 90);
}

/* A 600-id prompt (batches of 64: attention not split), then one-token
 * steps over 601..616 visible keys, split as on GPUs: the same greedy ids
 * as the CPU, logits close, the steps replayed. */
static void test_long_context(void **state)
{
	enum { PROMPT = 600, STEPS = 16 };
	const size_t nv = (size_t)engine_model_n_vocab(g_model);
	int32_t *ids = malloc(PROMPT * sizeof(int32_t)), a[STEPS], b[STEPS];
	float *la = malloc(nv * sizeof(float));
	double num = 0.0, den = 0.0;
	struct engine_ctx *c;
	struct vk_stats s0, s1;

	(void)state;
	if (!g_have_vk)
		skip();
	assert_non_null(ids);
	assert_non_null(la);
	for (int i = 0; i < PROMPT; i++)
		ids[i] = (int32_t)(1 + (37 * i + i * i) % (nv - 1));
	c = ctx_new_n(ENGINE_BACKEND_CPU, true, 1024);
	assert_int_equal(engine_decode(c, ids, PROMPT), 0);
	for (int i = 0; i < STEPS; i++) {
		a[i] = tu_argmax(engine_ctx_logits(c, NULL), nv);
		assert_int_equal(engine_decode(c, &a[i], 1), 0);
	}
	memcpy(la, engine_ctx_logits(c, NULL), nv * sizeof(float));
	engine_ctx_free(c);
	setenv("HALO_VK_ATT_GROUPS", "128", 1);
	c = ctx_new_n(ENGINE_BACKEND_VULKAN, true, 1024);
	unsetenv("HALO_VK_ATT_GROUPS");
	assert_int_equal(engine_decode(c, ids, PROMPT), 0);
	backend_vk_stats(&s0);
	for (int i = 0; i < STEPS; i++) {
		b[i] = tu_argmax(engine_ctx_logits(c, NULL), nv);
		assert_int_equal(engine_decode(c, &b[i], 1), 0);
	}
	backend_vk_stats(&s1);
	for (size_t i = 0; i < nv; i++) {
		double d = (double)engine_ctx_logits(c, NULL)[i] - la[i];

		num += d * d;
		den += (double)la[i] * la[i];
	}
	engine_ctx_free(c);
	print_message("  %d steps at 601..616 keys: logits nmse %.3g, %llu dispatches a step, "
		      "%llu chunks recorded, %llu replayed\n", STEPS, num / den,
		      (unsigned long long)(s1.dispatches - s0.dispatches) / STEPS,
		      (unsigned long long)(s1.recorded_chunks - s0.recorded_chunks),
		      (unsigned long long)(s1.replayed_chunks - s0.replayed_chunks));
	assert_memory_equal(a, b, sizeof(a));
	assert_true(num / den < 1e-6);
	assert_true(s1.replayed_chunks - s0.replayed_chunks >= STEPS - 2);
	free(ids);
	free(la);
}

static void test_no_leaks(void **state)
{
	struct vk_stats base, s;
	int32_t tok = 1;

	(void)state;
	if (!g_have_vk)
		skip();
	backend_vk_stats(&base);
	for (int i = 0; i < 100; i++) {
		struct engine_ctx *c = ctx_new(ENGINE_BACKEND_VULKAN, true);

		if (i % 10 == 0)
			assert_int_equal(engine_decode(c, &tok, 1), 0);
		backend_vk_stats(&s);
		assert_true(s.live_bytes > base.live_bytes);
		engine_ctx_free(c);
		backend_vk_stats(&s);
		if (s.live_bytes != base.live_bytes || s.live_allocs != base.live_allocs)
			fail_msg("context %d: %llu bytes in %llu allocations still live "
				 "(baseline %llu in %llu)", i, (unsigned long long)s.live_bytes,
				 (unsigned long long)s.live_allocs,
				 (unsigned long long)base.live_bytes,
				 (unsigned long long)base.live_allocs);
	}
}

static void test_validation(void **state)
{
	struct vk_stats s0, s1;
	struct engine_ctx *c;
	int32_t out[8];

	(void)state;
	if (!g_have_vk)
		skip();
	setenv("HALO_VK_VALIDATE", "1", 1);
	c = ctx_new(ENGINE_BACKEND_VULKAN, false);
	if (c == NULL) {
		print_message("  %s: skipping\n", engine_errmsg());
		unsetenv("HALO_VK_VALIDATE");
		skip();
	}
	backend_vk_stats(&s0);
	greedy(c, out, 8);
	engine_ctx_free(c);
	unsetenv("HALO_VK_VALIDATE");
	backend_vk_stats(&s1);
	assert_int_equal(s1.validation_msgs, s0.validation_msgs);
	assert_int_equal(s1.validation_msgs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_after_cpu_repack),
		cmocka_unit_test(test_device_topk),
		cmocka_unit_test(test_greedy_text),
		cmocka_unit_test(test_long_context),
		cmocka_unit_test(test_no_leaks),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests_name("vk_model", tests, setup, teardown);
}
