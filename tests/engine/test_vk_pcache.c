/* test_vk_pcache.c - the Vulkan backend's persistent pipeline cache
 * (engine/vk_pcache.c) on a whole model (stories260K):
 *   - the first context writes one 0600 file in a 0700 directory it
 *     creates; the second loads it, gives the same tokens and, having
 *     built nothing new, does not rewrite it;
 *   - a corrupt file (random bytes, truncated, empty, a flipped data byte,
 *     another device's UUID or another driver version with a correct
 *     checksum) is refused, the backend gives the same tokens, and the
 *     file is replaced by a good one;
 *   - HALO_VK_NO_PIPELINE_CACHE=1, an empty directory name, an unwritable
 *     directory and no HOME at all: no file, no error.
 * Skipped where no Vulkan device opens. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "backend_vk.h"
#include "engine.h"
#include "testutil.h"
#include "vk_suite.h"

#define N_GEN 12
#define HDR 32                        /* our file header; then the driver's data */

static struct engine_model *g_model;
static bool g_have_vk;
static int32_t g_ref[N_GEN];          /* greedy ids without a cache */

/* cache_dir as backend_vk_opts; `must`: fail the test when it does not open. */
static struct engine_ctx_params params(const char *cache_dir)
{
	struct engine_ctx_params p = ENGINE_CTX_PARAMS_INIT;

	p.n_ctx = 128;
	p.n_batch = 32;
	p.backend = ENGINE_BACKEND_VULKAN;
	p.cache_dir = cache_dir;
	return p;
}

static struct engine_ctx *ctx_new(const char *cache_dir, bool must)
{
	return vks_ctx_new(g_model, params(cache_dir), must);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* A fresh context in cache_dir, N_GEN greedy ids after a fixed prompt,
 * freed (which saves the cache).  *ms: context creation plus the first
 * prompt and step, where the pipelines are built. */
static void run_timed(const char *cache_dir, int32_t *out, double *ms)
{
	const struct tok_vocab *v = engine_model_vocab(g_model);
	const char *prompt = "Once upon a time";
	double t0 = now_ms();
	struct engine_ctx *c = ctx_new(cache_dir, true);
	int32_t ids[32];
	size_t n_ids;

	assert_int_equal(tok_encode(v, prompt, strlen(prompt), true, false, ids, 32, &n_ids), 0);
	assert_int_equal(engine_decode(c, ids, n_ids), 0);
	for (int i = 0; i < N_GEN; i++) {
		out[i] = tu_argmax(engine_ctx_logits(c, NULL), engine_model_n_vocab(g_model));
		assert_int_equal(engine_decode(c, &out[i], 1), 0);
		if (i == 0)
			*ms = now_ms() - t0;
	}
	engine_ctx_free(c);
}

static void run(const char *cache_dir, int32_t *out)
{
	double ms;

	run_timed(cache_dir, out, &ms);
}

static int setup(void **state)
{
	(void)state;
	if (vks_setup(&g_model, &g_have_vk, params("")) != 0)
		return -1;
	if (g_have_vk)
		run("", g_ref);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	engine_model_close(g_model);
	return 0;
}

/* The one *.pcache file in dir (malloc'd path), or NULL; fails on more. */
static char *find_cache(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *found = NULL;

	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 7 && strcmp(e->d_name + n - 7, ".pcache") == 0) {
			assert_null(found);
			assert_true(asprintf(&found, "%s/%s", dir, e->d_name) > 0);
		} else if (e->d_name[0] != '.') {
			fail_msg("unexpected file %s/%s (a temporary left behind?)", dir, e->d_name);
		}
	}
	closedir(d);
	return found;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Store the checksum of the data again after an edit (little-endian). */
static void reseal(unsigned char *f, size_t len)
{
	uint64_t h = fnv1a64(f + HDR, len - HDR);

	for (int i = 0; i < 8; i++)
		f[24 + i] = (unsigned char)(h >> (8 * i));
}

static void test_saved_then_loaded(void **state)
{
	char *tmp, *dir, *file;
	struct vk_stats s0, s1, s2;
	struct stat st;
	int32_t ids[N_GEN];
	unsigned char *f;
	size_t len;
	double cold, warm;

	(void)state;
	if (!g_have_vk)
		skip();
	tmp = tu_mkdtemp("pcache");
	assert_true(asprintf(&dir, "%s/a/b", tmp) > 0);
	backend_vk_stats(&s0);
	run_timed(dir, ids, &cold);
	backend_vk_stats(&s1);
	assert_memory_equal(ids, g_ref, sizeof(ids));
	assert_int_equal(s1.pcache_saved - s0.pcache_saved, 1);
	assert_int_equal(s1.pcache_loaded - s0.pcache_loaded, 0);
	assert_non_null(file = find_cache(dir));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(f = (unsigned char *)tu_read_file(file, &len));
	print_message("  %s: %zu bytes\n", strrchr(file, '/') + 1, len);
	assert_true(len >= HDR + 32);
	assert_memory_equal(f, "HALOVKPC", 8);
	free(f);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	run_timed(dir, ids, &warm);
	backend_vk_stats(&s2);
	/* informative only: MESA_SHADER_CACHE_DISABLE=true shows our part */
	print_message("  context + first step: %.1f ms without the file, %.1f ms with it\n",
		      cold, warm);
	assert_memory_equal(ids, g_ref, sizeof(ids));
	assert_int_equal(s2.pcache_loaded - s1.pcache_loaded, 1);
	assert_int_equal(s2.pcache_rejected - s1.pcache_rejected, 0);
	/* the same pipelines again: the driver's data is what was loaded */
	assert_int_equal(s2.pcache_saved - s1.pcache_saved, 0);
	free(file);
	free(dir);
	tu_rmtree(tmp);
	free(tmp);
}

enum corruption { C_RANDOM, C_TRUNCATED, C_EMPTY, C_FLIPPED, C_UUID, C_DRIVER, C_N };

static const char *const corruption_names[C_N] = {
	"random bytes", "truncated", "empty", "a flipped data byte",
	"another UUID (sealed)", "another driver version (sealed)",
};

static void test_corrupt_files(void **state)
{
	char *dir;
	unsigned char *good;
	size_t good_len;
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	(void)state;
	if (!g_have_vk)
		skip();
	dir = tu_mkdtemp("pcache-bad");
	{
		int32_t ids[N_GEN];
		char *file;

		run(dir, ids);
		assert_non_null(file = find_cache(dir));
		assert_non_null(good = (unsigned char *)tu_read_file(file, &good_len));
		free(file);
	}
	for (int k = 0; k < C_N; k++) {
		unsigned char *f = malloc(good_len);
		size_t len = good_len;
		char *file = find_cache(dir);
		struct vk_stats s0, s1;
		int32_t ids[N_GEN];
		unsigned char *after;
		size_t after_len;

		assert_non_null(f);
		memcpy(f, good, good_len);
		switch ((enum corruption)k) {
		case C_RANDOM:
			for (size_t i = 0; i < len; i++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				f[i] = (unsigned char)rng;
			}
			break;
		case C_TRUNCATED: len = good_len - 1; break;
		case C_EMPTY: len = 0; break;
		case C_FLIPPED: f[len - 1] ^= 0x40; break;
		case C_UUID:
			f[HDR + 16] ^= 0xff;
			reseal(f, len);
			break;
		case C_DRIVER:
			f[12] ^= 0x01;
			reseal(f, len);
			break;
		case C_N: break;
		}
		tu_write_file(file, (const char *)f, len);
		backend_vk_stats(&s0);
		run(dir, ids);
		backend_vk_stats(&s1);
		print_message("  %-32s refused %llu, loaded %llu, saved %llu\n",
			      corruption_names[k],
			      (unsigned long long)(s1.pcache_rejected - s0.pcache_rejected),
			      (unsigned long long)(s1.pcache_loaded - s0.pcache_loaded),
			      (unsigned long long)(s1.pcache_saved - s0.pcache_saved));
		assert_memory_equal(ids, g_ref, sizeof(ids));
		assert_int_equal(s1.pcache_rejected - s0.pcache_rejected, 1);
		assert_int_equal(s1.pcache_loaded - s0.pcache_loaded, 0);
		/* replaced by the driver's data, which loads again */
		assert_int_equal(s1.pcache_saved - s0.pcache_saved, 1);
		assert_non_null(after = (unsigned char *)tu_read_file(file, &after_len));
		assert_int_equal(after_len, good_len);
		assert_memory_equal(after, good, good_len);
		free(after);
		free(file);
		free(f);
	}
	free(good);
	tu_rmtree(dir);
	free(dir);
}

/* No file and no error where there is no cache to use. */
static void test_no_cache(void **state)
{
	char *tmp, *blocked, *sub;
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
	char *saved_home = home ? strdup(home) : NULL, *saved_xdg = xdg ? strdup(xdg) : NULL;
	struct vk_stats s0, s1;
	int32_t ids[N_GEN];

	(void)state;
	if (!g_have_vk)
		skip();
	tmp = tu_mkdtemp("pcache-none");
	backend_vk_stats(&s0);

	setenv("HALO_VK_NO_PIPELINE_CACHE", "1", 1);
	run(tmp, ids);
	unsetenv("HALO_VK_NO_PIPELINE_CACHE");
	assert_memory_equal(ids, g_ref, sizeof(ids));
	assert_null(find_cache(tmp));

	/* a directory below a plain file cannot be made, even by root */
	assert_true(asprintf(&blocked, "%s/file", tmp) > 0);
	tu_write_file(blocked, "x", 1);
	assert_true(asprintf(&sub, "%s/vulkan", blocked) > 0);
	run(sub, ids);
	assert_memory_equal(ids, g_ref, sizeof(ids));

	unsetenv("HOME");
	unsetenv("XDG_CACHE_HOME");
	run(NULL, ids);
	assert_memory_equal(ids, g_ref, sizeof(ids));
	if (saved_home)
		setenv("HOME", saved_home, 1);
	if (saved_xdg)
		setenv("XDG_CACHE_HOME", saved_xdg, 1);

	backend_vk_stats(&s1);
	assert_int_equal(s1.pcache_saved, s0.pcache_saved);
	assert_int_equal(s1.pcache_loaded, s0.pcache_loaded);
	free(saved_home);
	free(saved_xdg);
	free(sub);
	free(blocked);
	tu_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_saved_then_loaded),
		cmocka_unit_test(test_corrupt_files),
		cmocka_unit_test(test_no_cache),
	};

	return cmocka_run_group_tests_name("vk_pcache", tests, setup, teardown);
}
