/* test_sample.c - the sampler chain and the generation loop.
 *
 * Sampler: greedy is the argmax (lowest id on ties); top-k 1 is greedy;
 * a seed reproduces its draws; draw frequencies match softmax(l / T) within
 * a chi-square bound; penalties change logits exactly as documented; top-k,
 * top-p and min-p keep exactly the documented sets.
 * Generation (stories260K, greedy): the streamed text is the llama.cpp
 * reference, stop strings end it even when they span tokens, and no text
 * from a stop string on is ever passed to the callback. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "testutil.h"

static struct engine_sampler *new_sampler(uint32_t n_vocab, float temp, int32_t top_k,
					  float top_p, float min_p, uint64_t seed)
{
	struct engine_sampler_params p = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_sampler *s = NULL;

	p.temp = temp;
	p.top_k = top_k;
	p.top_p = top_p;
	p.min_p = min_p;
	p.seed = seed;
	if (engine_sampler_new(&s, n_vocab, &p) != 0)
		fail_msg("engine_sampler_new: %s", engine_errmsg());
	return s;
}

static uint64_t lcg = 12345;

static float frand(void)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((lcg >> 40) & 0xffffff) / 16777216.0f;
}

static void test_greedy_is_argmax(void **state)
{
	enum { V = 1000 };
	float *l = malloc(V * sizeof(float));
	struct engine_sampler *s = new_sampler(V, 0, 40, 0.95f, 0.05f, 1);
	(void)state;

	for (int row = 0; row < 50; row++) {
		int32_t best = 0, got;

		for (int i = 0; i < V; i++) {
			l[i] = frand() * 20 - 10;
			if (l[i] > l[best])
				best = i;
		}
		assert_int_equal(engine_sampler_sample(s, l, &got), 0);
		assert_int_equal(got, best);
	}
	/* ties: the lowest id */
	for (int i = 0; i < V; i++)
		l[i] = 1.0f;
	l[700] = l[300] = l[500] = 2.0f;
	{
		int32_t got;

		assert_int_equal(engine_sampler_sample(s, l, &got), 0);
		assert_int_equal(got, 300);
	}
	engine_sampler_free(s);
	free(l);
}

static void test_topk1_is_greedy(void **state)
{
	enum { V = 5000 };
	float *l = malloc(V * sizeof(float));
	struct engine_sampler *g = new_sampler(V, 0, 0, 1, 0, 1);
	struct engine_sampler *k = new_sampler(V, 1.5f, 1, 1, 0, 99);
	(void)state;

	for (int row = 0; row < 50; row++) {
		int32_t a, b;

		for (int i = 0; i < V; i++)
			l[i] = frand() * 4;
		assert_int_equal(engine_sampler_sample(g, l, &a), 0);
		assert_int_equal(engine_sampler_sample(k, l, &b), 0);
		assert_int_equal(a, b);
	}
	engine_sampler_free(g);
	engine_sampler_free(k);
	free(l);
}

static void draw_many(struct engine_sampler *s, const float *l, int32_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(engine_sampler_sample(s, l, &ids[i]), 0);
}

static void test_seed_reproduces(void **state)
{
	enum { V = 300, N = 2000 };
	float l[V];
	int32_t a[N], b[N], c[N];
	struct engine_sampler *s1 = new_sampler(V, 1.0f, 0, 1, 0, 42);
	struct engine_sampler *s2 = new_sampler(V, 1.0f, 0, 1, 0, 42);
	struct engine_sampler *s3 = new_sampler(V, 1.0f, 0, 1, 0, 43);
	int same = 0;
	(void)state;

	for (int i = 0; i < V; i++)
		l[i] = frand() * 3;
	draw_many(s1, l, a, N);
	draw_many(s2, l, b, N);
	draw_many(s3, l, c, N);
	assert_memory_equal(a, b, sizeof(a));
	for (int i = 0; i < N; i++)
		same += a[i] == c[i];
	assert_true(same < N / 10); /* another seed, another sequence */
	engine_sampler_reset(s1);
	draw_many(s1, l, c, N);
	assert_memory_equal(a, c, sizeof(a));
	engine_sampler_free(s1);
	engine_sampler_free(s2);
	engine_sampler_free(s3);
}

/* Pearson's chi-square of counts against probabilities p (n cells, N draws). */
static double chi2(const int *count, const double *p, int n, int N)
{
	double x = 0;

	for (int i = 0; i < n; i++) {
		double e = p[i] * N;

		if (p[i] == 0) {
			assert_int_equal(count[i], 0);
			continue;
		}
		x += (count[i] - e) * (count[i] - e) / e;
	}
	return x;
}

static void softmax_t(const float *l, int n, float t, double *p)
{
	double z = 0, m = -INFINITY;

	for (int i = 0; i < n; i++)
		if (l[i] > m)
			m = l[i];
	for (int i = 0; i < n; i++)
		z += p[i] = exp((l[i] - m) / t);
	for (int i = 0; i < n; i++)
		p[i] /= z;
}

/* 10 cells, 9 degrees of freedom: P(chi2 > 33.7) = 1e-4.  The seed is
 * fixed, so this is deterministic; the bound says the distribution is the
 * right one, not that we were lucky. */
#define CHI2_9DF_1E4 33.72

static void test_temperature_distribution(void **state)
{
	enum { V = 10, N = 200000 };
	const float l[V] = { 1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f, 2.2f, -0.5f, 1.2f, 0.3f };
	const float temps[] = { 1.0f, 0.5f, 2.0f };
	(void)state;

	for (size_t t = 0; t < sizeof(temps) / sizeof(temps[0]); t++) {
		struct engine_sampler *s = new_sampler(V, temps[t], 0, 1, 0, 7 + t);
		int count[V] = { 0 };
		double p[V], x;

		for (int i = 0; i < N; i++) {
			int32_t id;

			assert_int_equal(engine_sampler_sample(s, l, &id), 0);
			assert_true(id >= 0 && id < V);
			count[id]++;
		}
		softmax_t(l, V, temps[t], p);
		x = chi2(count, p, V, N);
		print_message("  temp %.1f: chi2 %.2f (9 df, bound %.2f)\n", temps[t], x,
			      CHI2_9DF_1E4);
		assert_true(x < CHI2_9DF_1E4);
		engine_sampler_free(s);
	}
}

/* top-k 4 at temperature 0.8: only the 4 largest, in proportion. */
static void test_topk_distribution(void **state)
{
	enum { V = 10, N = 100000 };
	const float l[V] = { 1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f, 2.2f, -0.5f, 1.2f, 0.3f };
	const int keep[4] = { 6, 1, 4, 8 };
	struct engine_sampler *s = new_sampler(V, 0.8f, 4, 1, 0, 3);
	float lk[4];
	double p4[4], p[V] = { 0 };
	int count[V] = { 0 };
	(void)state;

	for (int i = 0; i < 4; i++)
		lk[i] = l[keep[i]];
	softmax_t(lk, 4, 0.8f, p4);
	for (int i = 0; i < 4; i++)
		p[keep[i]] = p4[i];
	for (int i = 0; i < N; i++) {
		int32_t id;

		assert_int_equal(engine_sampler_sample(s, l, &id), 0);
		count[id]++;
	}
	/* 3 degrees of freedom: P(chi2 > 21.1) = 1e-4 */
	assert_true(chi2(count, p, V, N) < 21.1);
	engine_sampler_free(s);
}

static const struct engine_token_prob *cands(struct engine_sampler *s, const float *l,
					     size_t *n)
{
	const struct engine_token_prob *c;

	if (engine_sampler_candidates(s, l, &c, n) != 0)
		fail_msg("candidates: %s", engine_errmsg());
	return c;
}

static void test_penalties_exact(void **state)
{
	enum { V = 8 };
	const float l[V] = { 1.0f, -2.0f, 3.0f, 2.0f, 0.0f, -1.0f, 0.5f, 4.0f };
	struct engine_sampler_params p = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_sampler *s;
	const struct engine_token_prob *c;
	float want[V];
	size_t n;
	(void)state;

	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0;
	p.repeat_penalty = 1.5f;
	p.frequency_penalty = 0.25f;
	p.presence_penalty = 0.5f;
	p.penalty_last_n = 4;
	assert_int_equal(engine_sampler_new(&s, V, &p), 0);
	/* history 0 3 3 5 1 -> the window of 4 is 3 3 5 1 */
	engine_sampler_accept(s, 0);
	engine_sampler_accept(s, 3);
	engine_sampler_accept(s, 3);
	engine_sampler_accept(s, 5);
	engine_sampler_accept(s, 1);
	engine_sampler_accept(s, 9999); /* outside the vocabulary: ignored */
	memcpy(want, l, sizeof(want));
	want[3] = 2.0f / 1.5f - (2 * 0.25f + 0.5f);
	want[5] = -1.0f * 1.5f - (0.25f + 0.5f);
	want[1] = -2.0f * 1.5f - (0.25f + 0.5f);
	c = cands(s, l, &n);
	assert_int_equal(n, V);
	for (size_t i = 0; i < n; i++) {
		assert_true(i == 0 || c[i - 1].logit >= c[i].logit);
		if (c[i].logit != want[c[i].id])
			fail_msg("id %d: logit %.9g, want %.9g", c[i].id, c[i].logit,
				 want[c[i].id]);
	}
	/* the logits themselves are not modified, and twice gives the same */
	c = cands(s, l, &n);
	for (size_t i = 0; i < n; i++)
		assert_true(c[i].logit == want[c[i].id]);
	/* greedy sees the penalties: 7 stays on top; with 7 in the window and
	 * a strong penalty, 2 wins */
	engine_sampler_free(s);
	p.temp = 0;
	p.repeat_penalty = 4.0f;
	p.frequency_penalty = 0;
	p.presence_penalty = 0;
	assert_int_equal(engine_sampler_new(&s, V, &p), 0);
	engine_sampler_accept(s, 7);
	{
		int32_t id;

		assert_int_equal(engine_sampler_sample(s, l, &id), 0);
		assert_int_equal(id, 2); /* 4/4 = 1 < 3 */
	}
	engine_sampler_free(s);
}

static void test_topp_minp_sets(void **state)
{
	enum { V = 5 };
	/* probabilities 0.5 0.2 0.15 0.1 0.05, shuffled over ids */
	const double pr[V] = { 0.1, 0.5, 0.05, 0.2, 0.15 };
	float l[V];
	size_t n;
	const struct engine_token_prob *c;
	struct engine_sampler *s;
	(void)state;

	for (int i = 0; i < V; i++)
		l[i] = (float)log(pr[i]);
	/* top-p 0.6: 0.5 is short, 0.5 + 0.2 reaches it: ids 1 3 */
	s = new_sampler(V, 1, 0, 0.6f, 0, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].id, 1);
	assert_int_equal(c[1].id, 3);
	assert_float_equal(c[0].p, 0.5 / 0.7, 1e-6);
	engine_sampler_free(s);
	/* top-p 0.8: 0.85 needed -> ids 1 3 4 */
	s = new_sampler(V, 1, 0, 0.8f, 0, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 3);
	assert_int_equal(c[2].id, 4);
	engine_sampler_free(s);
	/* top-p 0: the top one */
	s = new_sampler(V, 1, 0, 0.0f, 0, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].id, 1);
	engine_sampler_free(s);
	/* min-p 0.3: p >= 0.15 -> ids 1 3 4; 0.31 -> 1 3 */
	s = new_sampler(V, 1, 0, 1, 0.29f, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 3);
	engine_sampler_free(s);
	s = new_sampler(V, 1, 0, 1, 0.31f, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 2);
	assert_int_equal(c[1].id, 3);
	engine_sampler_free(s);
	/* top-k 4 then top-p 0.9 renormalised over the 4 (sum 0.95):
	 * 0.5+0.2+0.15 = 0.85 < 0.855, so all 4 */
	s = new_sampler(V, 1, 4, 0.9f, 0, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 4);
	engine_sampler_free(s);
	/* top-k 3 then min-p 0.35: 0.2/0.5 = 0.4 kept, 0.15/0.5 = 0.3 not */
	s = new_sampler(V, 1, 3, 1, 0.35f, 1);
	c = cands(s, l, &n);
	assert_int_equal(n, 2);
	engine_sampler_free(s);
}

/* A flat distribution over many ids goes through the top-p growth path:
 * top-p 0.9 of 5000 equal logits keeps exactly the 4500 lowest ids. */
static void test_topp_large(void **state)
{
	enum { V = 5000 };
	float *l = malloc(V * sizeof(float));
	struct engine_sampler *s = new_sampler(V, 1, 0, 0.9f, 0, 1);
	const struct engine_token_prob *c;
	size_t n;
	(void)state;

	for (int i = 0; i < V; i++)
		l[i] = 0.25f;
	c = cands(s, l, &n);
	assert_int_equal(n, 4500);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c[i].id, (int32_t)i);
	engine_sampler_free(s);
	free(l);
}

/* top-k keeps the k largest (ids break ties), for many k, including
 * inputs with many equal logits. */
static void test_topk_sets(void **state)
{
	enum { V = 3000 };
	float *l = malloc(V * sizeof(float));
	int32_t *order = malloc(V * sizeof(int32_t));
	(void)state;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < V; i++)
			l[i] = round ? (float)(int)(frand() * 10) : frand();
		/* reference order by insertion sort (larger first, then lower id) */
		for (int i = 0; i < V; i++) {
			int j = i;

			while (j > 0 && (l[order[j - 1]] < l[i] ||
					 (l[order[j - 1]] == l[i] && order[j - 1] > i))) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = i;
		}
		for (int k = 1; k <= V; k = k * 3 + 1) {
			struct engine_sampler *s = new_sampler(V, 1, k, 1, 0, 1);
			const struct engine_token_prob *c;
			size_t n;

			c = cands(s, l, &n);
			assert_int_equal(n, (size_t)k);
			for (int i = 0; i < k; i++)
				if (c[i].id != order[i])
					fail_msg("round %d k %d: rank %d is id %d, want %d",
						 round, k, i, c[i].id, order[i]);
			engine_sampler_free(s);
		}
	}
	free(l);
	free(order);
}

/* The chain from a row's device_k best candidates (what a GPU sends back)
 * gives the same ids, draw for draw, as from the whole row: greedy and
 * top-k chains with top-p, min-p and temperature, rows with ties, NaN and
 * infinities.  A chain that needs the whole row (penalties, no top-k)
 * says so with device_k 0. */
static void test_sample_top_equals_row(void **state)
{
	static const struct { float temp; int32_t k; float top_p, min_p; } ch[] = {
		{ 0.0f, 40, 1.0f, 0.0f }, { 0.8f, 40, 0.95f, 0.05f }, { 1.5f, 5, 1.0f, 0.0f },
		{ 0.7f, 64, 0.5f, 0.0f }, { 1.0f, 1, 1.0f, 0.0f }, { 0.9f, 20, 1.0f, 0.3f },
	};
	const uint32_t n = 1000;
	float l[1000];
	int32_t ids[ENGINE_TOPK_MAX];
	float vals[ENGINE_TOPK_MAX];

	(void)state;
	for (size_t ci = 0; ci < sizeof(ch) / sizeof(ch[0]); ci++) {
		struct engine_sampler *a = new_sampler(n, ch[ci].temp, ch[ci].k, ch[ci].top_p, ch[ci].min_p, 99);
		struct engine_sampler *b = new_sampler(n, ch[ci].temp, ch[ci].k, ch[ci].top_p, ch[ci].min_p, 99);
		uint32_t k = engine_sampler_device_k(a);

		assert_int_equal(k, ch[ci].temp <= 0 ? 1u : (uint32_t)ch[ci].k);
		for (int step = 0; step < 200; step++) {
			size_t m = 0;
			int32_t x, y;

			for (uint32_t i = 0; i < n; i++)
				l[i] = (float)(int)(frand() * 40.0f) * 0.25f; /* many ties */
			l[step % n] = NAN;
			l[(step * 7 + 3) % n] = INFINITY;
			if (step % 10 == 9) /* fewer finite logits than top-k keeps */
				for (uint32_t i = 0; i < n; i++)
					if (i % 331 != 5)
						l[i] = NAN;
			/* the k best finite, in the sampler's order, as the device picks them */
			for (uint32_t r = 0; r < k; r++) {
				int32_t best = -1;

				for (uint32_t i = 0; i < n; i++) {
					bool taken = false;

					if (!isfinite(l[i]))
						continue;
					for (size_t t = 0; t < m; t++)
						taken = taken || ids[t] == (int32_t)i;
					if (!taken && (best < 0 || l[i] > l[best]))
						best = (int32_t)i;
				}
				if (best < 0) /* fewer finite values than k: the device stops there */
					break;
				ids[m] = best;
				vals[m++] = l[best];
			}
			assert_int_equal(engine_sampler_sample(a, l, &x), 0);
			assert_int_equal(engine_sampler_sample_top(b, ids, vals, m, &y), 0);
			if (x != y)
				fail_msg("chain %zu step %d: whole row %d, candidates %d", ci, step, x, y);
		}
		engine_sampler_free(a);
		engine_sampler_free(b);
	}
	{
		struct engine_sampler_params p = ENGINE_SAMPLER_PARAMS_INIT;
		struct engine_sampler *s;

		p.repeat_penalty = 1.1f;
		p.penalty_last_n = 64;
		assert_int_equal(engine_sampler_new(&s, n, &p), 0);
		assert_int_equal(engine_sampler_device_k(s), 0);
		engine_sampler_free(s);
		p = (struct engine_sampler_params)ENGINE_SAMPLER_PARAMS_INIT;
		p.temp = 0.8f;
		p.top_k = 0;
		assert_int_equal(engine_sampler_new(&s, n, &p), 0);
		assert_int_equal(engine_sampler_device_k(s), 0);
		engine_sampler_free(s);
	}
}

static void test_bad_input(void **state)
{
	struct engine_sampler_params p = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_sampler *s = NULL;
	float l[4] = { NAN, -INFINITY, NAN, INFINITY };
	int32_t id;
	(void)state;

	assert_int_equal(engine_sampler_new(&s, 0, NULL), ENGINE_EINVAL);
	p.repeat_penalty = 0;
	assert_int_equal(engine_sampler_new(&s, 4, &p), ENGINE_EINVAL);
	p.repeat_penalty = 1;
	p.min_p = 1.5f;
	assert_int_equal(engine_sampler_new(&s, 4, &p), ENGINE_EINVAL);
	p.min_p = 0;
	p.temp = NAN;
	assert_int_equal(engine_sampler_new(&s, 4, &p), ENGINE_EINVAL);
	p.temp = 1;
	p.penalty_last_n = ENGINE_SAMPLER_MAX_LAST_N + 1;
	assert_int_equal(engine_sampler_new(&s, 4, &p), ENGINE_EINVAL);
	p.version = 99;
	assert_int_equal(engine_sampler_new(&s, 4, &p), ENGINE_EINVAL);
	assert_null(s);
	s = new_sampler(4, 1, 0, 1, 0, 1);
	assert_int_equal(engine_sampler_sample(s, l, &id), ENGINE_EINVAL);
	l[1] = -3; /* one finite logit: that one */
	assert_int_equal(engine_sampler_sample(s, l, &id), 0);
	assert_int_equal(id, 1);
	engine_sampler_free(s);
	engine_sampler_free(NULL);
}

/* ---- generation ------------------------------------------------------- */

struct collect {
	char text[8192];
	size_t len;
	int32_t ids[256];
	size_t n_ids;
	int n_final;
	const char *stop;   /* text that must never be passed */
};

static int on_token(void *ud, int32_t id, const char *text, size_t len)
{
	struct collect *c = ud;

	if (id == TOK_NULL)
		c->n_final++;
	else if (c->n_ids < 256)
		c->ids[c->n_ids++] = id;
	assert_true(c->len + len < sizeof(c->text));
	memcpy(c->text + c->len, text, len);
	c->len += len;
	c->text[c->len] = 0;
	if (c->stop)
		assert_null(strstr(c->text, c->stop));
	return 0;
}

static char *ref_text;
static int32_t ref_ids[100];

static void load_gen_ref(void)
{
	char path[4096], *s, *txt;

	snprintf(path, sizeof(path), "%s/ref/stories260K/prompt.gen.txt", tu_testdata());
	ref_text = tu_read_file(path, NULL);
	assert_non_null(ref_text);
	snprintf(path, sizeof(path), "%s/ref/stories260K/prompt.txt", tu_testdata());
	txt = tu_read_file(path, NULL);
	assert_non_null(txt);
	s = strchr(txt, '\n') + 1;
	for (int i = 0; i < 100; i++)
		ref_ids[i] = (int32_t)strtol(s, &s, 10);
	free(txt);
}

static void generate(struct collect *col, struct engine_gen_result *res, const char *stop,
		     uint32_t n_predict, uint32_t n_ctx, int want_rc)
{
	char path[4096];
	struct engine_model *m = NULL;
	struct engine_ctx *c = NULL;
	struct engine_sampler *s = new_sampler(512, 0, 40, 0.95f, 0.05f, 1);
	struct engine_ctx_params cp = ENGINE_CTX_PARAMS_INIT;
	struct engine_gen_params gp = ENGINE_GEN_PARAMS_INIT;
	const char *stops[] = { stop, NULL };
	int32_t *ids = NULL;
	size_t n = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/models/stories260K.gguf", tu_testdata());
	if (engine_model_open(&m, path, NULL) != 0)
		fail_msg("%s", engine_errmsg());
	cp.backend = ENGINE_BACKEND_CPU;
	cp.n_threads = 2;
	cp.n_ctx = n_ctx;
	assert_int_equal(engine_ctx_new(&c, m, &cp), 0);
	assert_int_equal(tok_encode_alloc(&ids, &n, engine_model_vocab(m), "Once upon a time",
					  16, true, true), 0);
	assert_int_equal(n, 5);
	gp.n_predict = n_predict;
	gp.stop = stop ? stops : NULL;
	memset(col, 0, sizeof(*col));
	col->stop = stop;
	rc = engine_generate(res, c, s, ids, n, &gp, on_token, col);
	if (rc != want_rc)
		fail_msg("engine_generate: %d, want %d: %s", rc, want_rc, engine_errmsg());
	free(ids);
	engine_sampler_free(s);
	engine_ctx_free(c);
	engine_model_close(m);
}

static void test_generate_reference(void **state)
{
	struct collect col;
	struct engine_gen_result r;
	(void)state;

	load_gen_ref();
	generate(&col, &r, NULL, 100, 256, 0);
	assert_int_equal(r.n_prompt, 5);
	assert_int_equal(r.n_gen, 100);
	assert_int_equal(r.stop, ENGINE_STOP_LIMIT);
	assert_int_equal(col.n_ids, 100);
	assert_memory_equal(col.ids, ref_ids, sizeof(ref_ids));
	assert_string_equal(col.text, ref_text);
	assert_int_equal(col.n_final, 1);
	assert_true(r.t_prompt_s > 0 && r.t_gen_s > 0);
}

/* Stop strings that span tokens: the text ends right before them. */
static void test_generate_stop(void **state)
{
	static const char *const stops[] = { "Lily. She", " big, r", "ball", "n't kno" };
	(void)state;

	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		struct collect col;
		struct engine_gen_result r;
		const char *at = strstr(ref_text, stops[i]);

		assert_non_null(at);
		generate(&col, &r, stops[i], 100, 256, 0);
		assert_int_equal(r.stop, ENGINE_STOP_STRING);
		assert_int_equal(col.len, (size_t)(at - ref_text));
		assert_memory_equal(col.text, ref_text, col.len);
		assert_int_equal(col.n_final, 0);
		assert_true(r.n_gen < 100);
	}
}

static void test_generate_limits(void **state)
{
	struct collect col;
	struct engine_gen_result r;
	(void)state;

	/* 5 + 100 do not fit 64 positions: refused before anything runs */
	generate(&col, &r, NULL, 100, 64, ENGINE_EINVAL);
	assert_int_equal(r.n_gen, 0);
	assert_non_null(strstr(engine_errmsg(), "ctx-size"));
	/* n_predict 0: until the context is full (the last id is not fed back) */
	generate(&col, &r, NULL, 0, 64, 0);
	assert_int_equal(r.stop, ENGINE_STOP_CONTEXT);
	assert_int_equal(r.n_gen, 64 - 5 + 1);
	assert_memory_equal(col.ids, ref_ids, 60 * sizeof(int32_t));
	/* a stop string that never appears: everything comes out at the end */
	generate(&col, &r, "zzzz", 100, 256, 0);
	assert_int_equal(r.stop, ENGINE_STOP_LIMIT);
	assert_string_equal(col.text, ref_text);
}

static int teardown_ref(void **state)
{
	(void)state;
	free(ref_text);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_is_argmax),
		cmocka_unit_test(test_topk1_is_greedy),
		cmocka_unit_test(test_seed_reproduces),
		cmocka_unit_test(test_temperature_distribution),
		cmocka_unit_test(test_topk_distribution),
		cmocka_unit_test(test_penalties_exact),
		cmocka_unit_test(test_topp_minp_sets),
		cmocka_unit_test(test_topp_large),
		cmocka_unit_test(test_topk_sets),
		cmocka_unit_test(test_sample_top_equals_row),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_generate_reference),
		cmocka_unit_test(test_generate_stop),
		cmocka_unit_test(test_generate_limits),
	};

	return cmocka_run_group_tests_name("sample", tests, NULL, teardown_ref);
}
