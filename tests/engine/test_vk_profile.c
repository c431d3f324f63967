/* test_vk_profile.c - per-shader device time of the Vulkan backend
 * (engine/vk_prof.c) on a whole model (stories260K):
 *   - with profiling on, a prompt and greedy decode steps (replayed
 *     command buffers included) give non-zero time for the mat-vec and
 *     attention shaders, and every dispatch issued is counted once;
 *   - the logits are bit-identical to a run without profiling, which
 *     reports nothing;
 *   - HALO_VK_PROFILE=1 turns it on like the context parameter.
 * Skipped where no Vulkan device opens or its queue writes no timestamps. */
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

#define N_GEN 16

static struct engine_model *g_model;
static bool g_have_vk;

static struct engine_ctx_params params(bool profile)
{
	struct engine_ctx_params p = ENGINE_CTX_PARAMS_INIT;

	p.n_ctx = 128;
	p.n_batch = 32;
	p.backend = ENGINE_BACKEND_VULKAN;
	p.profile = profile;
	return p;
}

static struct engine_ctx *ctx_new(bool profile, bool must)
{
	return vks_ctx_new(g_model, params(profile), must);
}

static int setup(void **state)
{
	(void)state;
	return vks_setup(&g_model, &g_have_vk, params(false));
}

static int teardown(void **state)
{
	(void)state;
	engine_model_close(g_model);
	return 0;
}

/* A prompt, then N_GEN greedy steps; every step's logits into logits
 * ([N_GEN + 1][n_vocab]). */
static void decode(struct engine_ctx *c, float *logits)
{
	const struct tok_vocab *v = engine_model_vocab(g_model);
	const char *prompt = "Once upon a time, there was a little";
	size_t nv = engine_model_n_vocab(g_model);
	int32_t ids[64], id;
	size_t n_ids;

	assert_int_equal(tok_encode(v, prompt, strlen(prompt), true, false, ids, 64, &n_ids), 0);
	assert_int_equal(engine_decode(c, ids, n_ids), 0);
	for (int i = 0; i <= N_GEN; i++) {
		memcpy(logits + i * nv, engine_ctx_logits(c, NULL), nv * sizeof(float));
		if (i == N_GEN)
			break;
		id = tu_argmax(logits + i * nv, nv);
		assert_int_equal(engine_decode(c, &id, 1), 0);
	}
}

/* The row of the first shader whose name starts with `prefix`, or NULL. */
static const struct vk_prof_row *row_of(const struct vk_prof_row *rows, size_t n,
					const char *prefix)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(rows[i].shader, prefix, strlen(prefix)) == 0)
			return &rows[i];
	return NULL;
}

static void test_profile(void **state)
{
	size_t nv = engine_model_n_vocab(g_model), n;
	float *plain, *timed;
	struct vk_prof_row rows[64];
	const struct vk_prof_row *mv, *at;
	struct vk_stats s0, s1;
	struct engine_ctx *c;
	uint64_t calls = 0;
	double ms = 0;

	(void)state;
	if (!g_have_vk)
		skip();
	assert_non_null(plain = malloc((N_GEN + 1) * nv * sizeof(float)));
	assert_non_null(timed = malloc((N_GEN + 1) * nv * sizeof(float)));
	c = ctx_new(false, true);
	decode(c, plain);
	assert_int_equal(backend_vk_profile(c->be, rows, 64), 0);
	engine_ctx_free(c);

	c = ctx_new(true, true);
	backend_vk_stats(&s0);
	decode(c, timed);
	backend_vk_stats(&s1);
	n = backend_vk_profile(c->be, rows, 64);
	if (n == 0) {
		engine_ctx_free(c);
		free(plain);
		free(timed);
		print_message("  no timestamps on this device: skipping\n");
		skip();
	}
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		print_message("  %-24s %6llu calls %10.3f ms\n", rows[i].shader,
			      (unsigned long long)rows[i].calls, rows[i].ms);
		calls += rows[i].calls;
		ms += rows[i].ms;
		if (i > 0)
			assert_true(rows[i].ms <= rows[i - 1].ms);
	}
	assert_non_null(mv = row_of(rows, n, "matvec"));
	assert_non_null(at = row_of(rows, n, "attention"));
	assert_true(mv->calls > 0 && mv->ms > 0);
	assert_true(at->calls > 0 && at->ms > 0);
	/* each dispatch timed once, replayed chunks included */
	assert_int_equal(calls, s1.dispatches - s0.dispatches);
	assert_true(s1.replayed_chunks > s0.replayed_chunks);
	print_message("  %llu dispatches, %.3f ms on the device\n",
		      (unsigned long long)calls, ms);
	engine_ctx_free(c);  /* prints the table to stderr */
	assert_memory_equal(plain, timed, (N_GEN + 1) * nv * sizeof(float));
	free(plain);
	free(timed);
}

static void test_env_switch(void **state)
{
	struct vk_prof_row rows[64];
	struct engine_ctx *c;
	int32_t id = 1;
	size_t n;

	(void)state;
	if (!g_have_vk)
		skip();
	setenv("HALO_VK_PROFILE", "1", 1);
	c = ctx_new(false, true);
	unsetenv("HALO_VK_PROFILE");
	assert_int_equal(engine_decode(c, &id, 1), 0);
	if ((n = backend_vk_profile(c->be, rows, 64)) == 0) {
		engine_ctx_free(c);
		skip();
	}
	assert_true(row_of(rows, n < 64 ? n : 64, "matvec") != NULL);
	engine_ctx_free(c);
	setenv("HALO_VK_PROFILE", "0", 1);
	c = ctx_new(false, true);
	unsetenv("HALO_VK_PROFILE");
	assert_int_equal(engine_decode(c, &id, 1), 0);
	assert_int_equal(backend_vk_profile(c->be, rows, 64), 0);
	engine_ctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_env_switch),
	};

	return cmocka_run_group_tests_name("vk_profile", tests, setup, teardown);
}
