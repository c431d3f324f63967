/* test_vk_ops.c - every op and shader variant of the Vulkan backend against
 * the CPU backend (the reference) on random inputs: every weight type, odd
 * sizes (rows not a multiple of any workgroup, widths not a multiple of 8
 * for float weights, 1, 2, 3, 7, 8, 9 and 33 tokens), an NMSE bound per
 * case, and guard rows around every output that must come back untouched.
 * Outputs are views one row into a larger buffer, so offsets that are not
 * multiples of the binding alignment are exercised too.
 * Skipped (not failed) where no Vulkan device can be opened. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend_vk.h"
#include "engine_int.h"
#include "model_int.h"

#define GUARD 0x7fc0dead

static struct engine_backend *g_cpu, *g_vk;
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static int g_cases;

static uint32_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (uint32_t)(g_rng >> 16);
}

static float frand(void)
{
	return (float)rnd() / 4294967296.0f * 2.0f - 1.0f;
}

/* A tensor on both backends: host data for the CPU, a device buffer with a
 * guard row before and after for Vulkan. */
struct pair {
	struct etensor c, v;    /* v is a view one row into vbuf */
	struct etensor vbuf;
	size_t bytes;           /* of the tensor itself */
};

static void pair_new(struct pair *p, enum quant_type type, int64_t width, int64_t rows,
		     const void *init)
{
	size_t nb1 = type == QT_I32 ? (size_t)width * 4 : quant_row_size(type, width);
	uint32_t *g;

	memset(p, 0, sizeof(*p));
	p->bytes = nb1 * (size_t)rows;
	p->c = (struct etensor){ .type = type, .ne = { width, rows, 1, 1 }, .nb1 = nb1,
				 .name = "test" };
	p->c.data = malloc(p->bytes + 64);
	assert_non_null(p->c.data);
	if (init)
		memcpy(p->c.data, init, p->bytes);
	else
		memset(p->c.data, 0, p->bytes);
	p->vbuf = p->c;
	p->vbuf.data = NULL;
	p->vbuf.ne[1] = rows + 2;
	assert_int_equal(g_vk->ops->tensor_alloc(g_vk, &p->vbuf), 0);
	g = malloc(nb1 * (size_t)(rows + 2));
	for (size_t i = 0; i < nb1 * (size_t)(rows + 2) / 4; i++)
		g[i] = GUARD;
	memcpy((char *)g + nb1, p->c.data, p->bytes);
	assert_int_equal(g_vk->ops->tensor_set(g_vk, &p->vbuf, g, 0, nb1 * (size_t)(rows + 2)), 0);
	free(g);
	p->v = etensor_rows_view(&p->vbuf, 1, rows);
}

static void pair_free(struct pair *p)
{
	free(p->c.data);
	g_vk->ops->tensor_free(g_vk, &p->vbuf);
}

static void fill_f32(float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = frand() * scale;
}

/* Random weights of any type: random bytes with valid, small f16 scales. */
static void *rand_weights(enum quant_type t, int64_t width, int64_t rows)
{
	size_t row = quant_row_size(t, width), n = row * (size_t)rows;
	const struct quant_traits *q = quant_traits_of(t);
	unsigned char *b = malloc(n + 4);
	struct { int d, m; } f = { -1, -1 };

	assert_non_null(b);
	if (!q->quantized) {
		float *tmp = malloc((size_t)width * sizeof(float));

		for (int64_t r = 0; r < rows; r++) {
			fill_f32(tmp, (size_t)width, 1.0f);
			q->from_float(tmp, b + (size_t)r * row, width);
		}
		free(tmp);
		return b;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)rnd();
	switch (t) {
	case QT_Q4_0: case QT_Q5_0: case QT_Q8_0: case QT_IQ4_NL: case QT_IQ4_XS:
		f.d = 0; break;
	case QT_Q4_1: case QT_Q5_1: case QT_Q4_K: case QT_Q5_K:
		f.d = 0; f.m = 2; break;
	case QT_Q2_K: f.d = 80; f.m = 82; break;
	case QT_Q3_K: f.d = 108; break;
	case QT_Q6_K: f.d = 208; break;
	default: fail_msg("type %d", (int)t);
	}
	for (size_t blk = 0; blk < n / q->type_size; blk++) {
		unsigned char *p = b + blk * q->type_size;
		uint16_t h = quant_f32_to_f16(0.01f + 0.02f * (float)(rnd() % 100) / 100.0f);

		memcpy(p + f.d, &h, 2);
		if (f.m >= 0) {
			h = quant_f32_to_f16(0.01f * (float)(rnd() % 100) / 100.0f);
			memcpy(p + f.m, &h, 2);
		}
	}
	return b;
}

/* Compare the Vulkan result with the CPU's; check the guard rows. */
static void check(const char *what, struct pair *p, double tol)
{
	size_t nb1 = p->c.nb1, rows = (size_t)p->c.ne[1];
	uint32_t *all = malloc(nb1 * (rows + 2));
	const float *ref = p->c.data, *got;
	double se = 0, sr = 0;

	assert_int_equal(g_vk->ops->sync(g_vk), 0);
	assert_int_equal(g_vk->ops->tensor_get(g_vk, &p->vbuf, all, 0, nb1 * (rows + 2)), 0);
	for (size_t i = 0; i < nb1 / 4; i++)
		if (all[i] != GUARD || all[nb1 * (rows + 1) / 4 + i] != GUARD)
			fail_msg("%s: guard row overwritten at word %zu", what, i);
	got = (const float *)((char *)all + nb1);
	if (p->c.type == QT_I32) {
		if (memcmp(got, ref, p->bytes) != 0)
			fail_msg("%s: integer results differ", what);
	} else {
		for (size_t i = 0; i < p->bytes / 4; i++) {
			double d = (double)got[i] - ref[i];

			if (isnan(got[i]) || isinf(got[i]))
				fail_msg("%s: element %zu is %g", what, i, got[i]);
			se += d * d;
			sr += (double)ref[i] * ref[i];
		}
		if (getenv("VK_TEST_VERBOSE"))
			print_message("  %-60s nmse %.3g\n", what, sr > 0 ? se / sr : se);
		if (sr > 0 && se / sr > tol && !getenv("VK_TEST_VERBOSE"))
			fail_msg("%s: nmse %.3g > %.3g", what, se / sr, tol);
	}
	g_cases++;
	free(all);
}

static int setup(void **state)
{
	const char *dev = getenv("HALO_VK_DEVICE");
	/* the largest attention of the tests: 32 heads of 256 in one group */
	const struct attn_params big = { .n_tokens = 64, .n_kv = 4096, .n_head = 32,
					 .n_head_kv = 1, .head_dim = 256, .head_dim_v = 256 };

	(void)state;
	/* split attention as on GPUs, so the same cases split on every device */
	setenv("HALO_VK_ATT_GROUPS", "128", 1);
	if (backend_vk_new(&g_vk, dev ? atoi(dev) : 0, true, NULL) != 0) {
		print_message("no Vulkan device (%s): skipping\n", engine_errmsg());
		g_vk = NULL;
		return 0;
	}
	assert_int_equal(backend_cpu_new(&g_cpu, 2), 0);
	assert_int_equal(g_cpu->ops->reserve(g_cpu, 64 * 8, 4096, &big), 0);
	assert_int_equal(g_vk->ops->reserve(g_vk, 64 * 8, 4096, &big), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (g_cpu)
		g_cpu->ops->free(g_cpu);
	if (g_vk)
		g_vk->ops->free(g_vk);
	print_message("  %d cases compared\n", g_cases);
	return 0;
}

#define NEED_VK() do { if (g_vk == NULL) skip(); } while (0)

static const enum quant_type all_types[] = {
	QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q8_0,
	QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_IQ4_NL, QT_IQ4_XS,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

static void one_matmul(enum quant_type t, int64_t K, int64_t R, uint32_t n, bool bias, bool res)
{
	const struct quant_traits *q = quant_traits_of(t);
	struct pair w, x, d, b, r;
	float *xs = malloc((size_t)K * n * 4), *bs = malloc((size_t)R * 4);
	float *rs = malloc((size_t)R * n * 4);
	void *wd = rand_weights(t, K, R);
	char what[96];

	fill_f32(xs, (size_t)K * n, 1.0f);
	fill_f32(bs, (size_t)R, 1.0f);
	fill_f32(rs, (size_t)R * n, 1.0f);
	pair_new(&w, t, K, R, wd);
	pair_new(&x, QT_F32, K, n, xs);
	pair_new(&d, QT_F32, R, n, NULL);
	pair_new(&b, QT_F32, R, 1, bs);
	pair_new(&r, QT_F32, R, n, rs);
	g_cpu->ops->matmul(g_cpu, &d.c, &w.c, &x.c, n, bias ? &b.c : NULL, res ? &r.c : NULL);
	g_vk->ops->matmul(g_vk, &d.v, &w.v, &x.v, n, bias ? &b.v : NULL, res ? &r.v : NULL);
	snprintf(what, sizeof(what), "matmul %s K=%lld R=%lld n=%u%s%s", q->name,
		 (long long)K, (long long)R, n, bias ? " +bias" : "", res ? " +res" : "");
	/* the CPU rounds activations to 8 bits for quantized weights */
	check(what, &d, q->quantized ? 2e-3 : 1e-9);
	pair_free(&w);
	pair_free(&x);
	pair_free(&d);
	pair_free(&b);
	pair_free(&r);
	free(xs);
	free(bs);
	free(rs);
	free(wd);
}

static void test_matmul(void **state)
{
	static const uint32_t ns[] = { 1, 2, 3, 7, 8, 9, 33, 70 };

	(void)state;
	NEED_VK();
	for (size_t i = 0; i < N_TYPES; i++) {
		enum quant_type t = all_types[i];
		int64_t K = quant_traits_of(t)->block_size == 256 ? 512 :
			    quant_traits_of(t)->quantized ? 96 : 101;

		for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
			one_matmul(t, K, 67, ns[k], k == 2, k == 3 || k == 6);
	}
}

/* Rows of more blocks than a subgroup has invocations, an odd number of
 * them (matvec_blk.comp gives each invocation blocks in turn), rows not a
 * multiple of its rows per workgroup, batches of 1 and 5 (a whole window
 * and a partial one). */
static void test_matmul_long(void **state)
{
	(void)state;
	NEED_VK();
	for (size_t i = 0; i < N_TYPES; i++) {
		enum quant_type t = all_types[i];
		const struct quant_traits *q = quant_traits_of(t);

		if (!q->quantized)
			continue;
		one_matmul(t, q->block_size == 256 ? 11 * 256 : 37 * 32, 29, 1, false, true);
		one_matmul(t, q->block_size == 256 ? 11 * 256 : 37 * 32, 29, 5, true, false);
	}
}

static void test_get_rows(void **state)
{
	(void)state;
	NEED_VK();
	for (size_t i = 0; i < N_TYPES; i++) {
		enum quant_type t = all_types[i];
		int64_t W = quant_traits_of(t)->block_size == 256 ? 256 :
			    quant_traits_of(t)->quantized ? 64 : 45;
		void *td = rand_weights(t, W, 50);
		int32_t ids[7] = { 3, 0, 49, 3, 17, 22, 8 };
		struct pair tb, id, d;
		char what[64];

		pair_new(&tb, t, W, 50, td);
		pair_new(&id, QT_I32, 7, 1, ids);
		pair_new(&d, QT_F32, W, 7, NULL);
		g_cpu->ops->get_rows(g_cpu, &d.c, &tb.c, &id.c, 7, 1.5f);
		g_vk->ops->get_rows(g_vk, &d.v, &tb.v, &id.v, 7, 1.5f);
		snprintf(what, sizeof(what), "get_rows %s", quant_type_name(t));
		check(what, &d, 1e-12);
		pair_free(&tb);
		pair_free(&id);
		pair_free(&d);
		free(td);
	}
}

static void test_norm_eltwise(void **state)
{
	static const uint32_t ns[] = { 1, 3, 33 };

	(void)state;
	NEED_VK();
	for (size_t k = 0; k < 3; k++) {
		uint32_t n = ns[k];
		const int64_t W = 88, H = 4, HD = 22; /* per-head norms: 4 heads of 22 */
		float *a = malloc(W * n * 4), *b = malloc(W * n * 4), *w = malloc(W * 4);
		struct pair pa, pb, pw, pd, ph;

		fill_f32(a, W * n, 3.0f);
		fill_f32(b, W * n, 3.0f);
		fill_f32(w, W, 1.0f);
		pair_new(&pa, QT_F32, W, n, a);
		pair_new(&pb, QT_F32, W, n, b);
		pair_new(&pw, QT_F32, W, 1, w);
		pair_new(&pd, QT_F32, W, n, NULL);
		pair_new(&ph, QT_F32, HD, 1, w);

		g_cpu->ops->rms_norm(g_cpu, &pd.c, &pa.c, &pw.c, n, 1e-5f);
		g_vk->ops->rms_norm(g_vk, &pd.v, &pa.v, &pw.v, n, 1e-5f);
		check("rms_norm", &pd, 1e-10);
		/* in place, per head */
		g_cpu->ops->rms_norm(g_cpu, &pa.c, &pa.c, &ph.c, n * H, 1e-6f);
		g_vk->ops->rms_norm(g_vk, &pa.v, &pa.v, &ph.v, n * H, 1e-6f);
		check("rms_norm per head, in place", &pa, 1e-10);
		g_cpu->ops->add(g_cpu, &pd.c, &pa.c, &pb.c, n);
		g_vk->ops->add(g_vk, &pd.v, &pa.v, &pb.v, n);
		check("add", &pd, 1e-12);
		g_cpu->ops->glu(g_cpu, &pd.c, &pa.c, &pb.c, n, ACT_SILU);
		g_vk->ops->glu(g_vk, &pd.v, &pa.v, &pb.v, n, ACT_SILU);
		check("glu silu", &pd, 1e-10);
		g_cpu->ops->glu(g_cpu, &pa.c, &pa.c, &pb.c, n, ACT_GELU_TANH);
		g_vk->ops->glu(g_vk, &pa.v, &pa.v, &pb.v, n, ACT_GELU_TANH);
		check("glu gelu, in place", &pa, 1e-10);
		pair_free(&pa);
		pair_free(&pb);
		pair_free(&pw);
		pair_free(&pd);
		pair_free(&ph);
		free(a);
		free(b);
		free(w);
	}
}

static void test_rope(void **state)
{
	static const uint32_t ns[] = { 1, 2, 7, 33 };

	(void)state;
	NEED_VK();
	for (int mode = 0; mode < 2; mode++)
		for (size_t k = 0; k < 4; k++) {
			const uint32_t n = ns[k], H = 3, HD = 32, ND = k == 2 ? 24 : 32;
			float *x = malloc(H * HD * n * 4), ff[16];
			int32_t pos[33];
			struct pair px, pp, pf;
			bool use_ff = k % 2 == 1;
			char what[64];

			fill_f32(x, H * HD * n, 2.0f);
			for (uint32_t i = 0; i < n; i++)
				pos[i] = (int32_t)(k == 3 ? 400 + 3 * i : i + 5);
			for (int i = 0; i < 16; i++)
				ff[i] = 1.0f + (float)i * 0.5f;
			pair_new(&px, QT_F32, H * HD, n, x);
			pair_new(&pp, QT_I32, n, 1, pos);
			pair_new(&pf, QT_F32, ND / 2, 1, ff);
			g_cpu->ops->rope(g_cpu, &px.c, &pp.c, n, H, HD, ND,
					 mode ? ROPE_NEOX : ROPE_NORM, 10000.0f,
					 k == 1 ? 4.0f : 1.0f, use_ff ? &pf.c : NULL);
			g_vk->ops->rope(g_vk, &px.v, &pp.v, n, H, HD, ND,
					mode ? ROPE_NEOX : ROPE_NORM, 10000.0f,
					k == 1 ? 4.0f : 1.0f, use_ff ? &pf.v : NULL);
			snprintf(what, sizeof(what), "rope %s n=%u dims=%u%s", mode ? "neox" : "norm",
				 n, ND, use_ff ? " ff" : "");
			check(what, &px, 1e-9);
			pair_free(&px);
			pair_free(&pp);
			pair_free(&pf);
			free(x);
		}
}

/* The fused glue (rope_qkv: per-head norms, rope, cache stores) against the
 * CPU's ops one by one.  F16 caches are compared as raw words (a rounding
 * flip of the high half is a relative 2^-7 on the word). */
static void one_rope_qkv(enum rope_mode mode, bool norms, enum quant_type kvt, uint32_t H,
			 uint32_t Hkv, uint32_t HD, uint32_t ND, uint32_t n, uint32_t pos0, bool use_ff)
{
	const uint32_t n_ctx = 40;
	const float eps = 1e-6f;
	float *q = malloc((size_t)H * HD * n * 4), *k = malloc((size_t)Hkv * HD * n * 4);
	float *v = malloc((size_t)Hkv * HD * n * 4), qw[256], kw[256], ff[128];
	int32_t pos[8];
	struct pair pq, pk, pv, kc, vc, pp, pf, pqn, pkn;
	struct rope_params rp = { H, Hkv, HD, HD, ND, mode, 10000.0f, 1.0f, NULL };
	char what[128];

	assert_true(n <= 8 && pos0 + n <= n_ctx && HD <= 256);
	fill_f32(q, (size_t)H * HD * n, 3.0f);
	fill_f32(k, (size_t)Hkv * HD * n, 3.0f);
	fill_f32(v, (size_t)Hkv * HD * n, 1.0f);
	for (uint32_t i = 0; i < HD; i++) {
		qw[i] = 0.5f + frand();
		kw[i] = 0.5f + frand();
	}
	for (uint32_t i = 0; i < 128; i++)
		ff[i] = 1.0f + (float)i * 0.25f;
	for (uint32_t i = 0; i < n; i++)
		pos[i] = (int32_t)(pos0 + i);
	pair_new(&pq, QT_F32, H * HD, n, q);
	pair_new(&pk, QT_F32, Hkv * HD, n, k);
	pair_new(&pv, QT_F32, Hkv * HD, n, v);
	pair_new(&kc, kvt, Hkv * HD, n_ctx, NULL);
	pair_new(&vc, kvt, Hkv * HD, n_ctx, NULL);
	pair_new(&pp, QT_I32, n, 1, pos);
	pair_new(&pf, QT_F32, ND / 2, 1, ff);
	pair_new(&pqn, QT_F32, HD, 1, qw);
	pair_new(&pkn, QT_F32, HD, 1, kw);
	if (norms) {
		g_cpu->ops->rms_norm(g_cpu, &pq.c, &pq.c, &pqn.c, n * H, eps);
		g_cpu->ops->rms_norm(g_cpu, &pk.c, &pk.c, &pkn.c, n * Hkv, eps);
	}
	g_cpu->ops->rope(g_cpu, &pq.c, &pp.c, n, H, HD, ND, mode, 10000.0f, 1.0f, use_ff ? &pf.c : NULL);
	g_cpu->ops->rope(g_cpu, &pk.c, &pp.c, n, Hkv, HD, ND, mode, 10000.0f, 1.0f, use_ff ? &pf.c : NULL);
	g_cpu->ops->kv_store(g_cpu, &kc.c, &vc.c, &pk.c, &pv.c, pos0, n);
	rp.freq_factors = use_ff ? &pf.v : NULL;
	g_vk->ops->rope_qkv(g_vk, &pq.v, &pk.v, &pv.v, &kc.v, &vc.v, &pp.v, &rp,
			    norms ? &pqn.v : NULL, norms ? &pkn.v : NULL, eps, pos0, n);
	snprintf(what, sizeof(what), "rope_qkv %s%s %s heads %u/%u hd %u dims %u n %u pos0 %u%s",
		 mode == ROPE_NORM ? "norm" : "neox", norms ? " +qk norms" : "", quant_type_name(kvt),
		 H, Hkv, HD, ND, n, pos0, use_ff ? " ff" : "");
	check(what, &pq, 1e-9);
	check(what, &kc, kvt == QT_F16 ? 1e-5 : 1e-9);
	check(what, &vc, 1e-12);
	pair_free(&pq);
	pair_free(&pk);
	pair_free(&pv);
	pair_free(&kc);
	pair_free(&vc);
	pair_free(&pp);
	pair_free(&pf);
	pair_free(&pqn);
	pair_free(&pkn);
	free(q);
	free(k);
	free(v);
}

static void test_rope_qkv(void **state)
{
	(void)state;
	NEED_VK();
	one_rope_qkv(ROPE_NORM, false, QT_F32, 4, 2, 32, 32, 1, 0, false);  /* llama */
	one_rope_qkv(ROPE_NEOX, true, QT_F16, 6, 3, 64, 48, 3, 5, true);    /* partial, ff */
	one_rope_qkv(ROPE_NEOX, true, QT_F32, 2, 1, 128, 128, 7, 20, false); /* qwen3 */
	one_rope_qkv(ROPE_NORM, false, QT_F16, 8, 8, 256, 256, 2, 1, true);  /* widest head */
	one_rope_qkv(ROPE_NORM, true, QT_F16, 3, 1, 16, 8, 1, 39, false);    /* last cache row */
}

/* topk.comp against a plain selection: the k largest finite values, ties
 * to the lower id, -1 past the finite ones; the words past 2k untouched. */
static void one_top_k(uint32_t n, uint32_t k, uint32_t n_finite)
{
	float *l = malloc(n * sizeof(float));
	int32_t want[2 * ENGINE_TOPK_MAX], got[2 * ENGINE_TOPK_MAX + 8];
	struct pair pl, po;
	bool *taken = calloc(n, 1);

	assert_true(l && taken);
	for (uint32_t i = 0; i < n; i++)
		l[i] = (float)(int)(frand() * 200.0f) * 0.125f; /* ties */
	for (uint32_t i = n_finite; i < n; i++) /* the rest NaN and infinities */
		l[(i * 7919u) % n] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
	for (uint32_t r = 0; r < k; r++) {
		int32_t best = -1;

		for (uint32_t i = 0; i < n; i++)
			if (isfinite(l[i]) && !taken[i] && (best < 0 || l[i] > l[best]))
				best = (int32_t)i;
		want[r] = best;
		want[k + r] = 0;
		if (best >= 0) {
			taken[best] = true;
			memcpy(&want[k + r], &l[best], 4);
		}
	}
	pair_new(&pl, QT_F32, n, 1, l);
	pair_new(&po, QT_I32, 2 * ENGINE_TOPK_MAX + 8, 1, NULL);
	g_vk->ops->top_k(g_vk, &po.v, &pl.v, k);
	assert_int_equal(g_vk->ops->sync(g_vk), 0);
	assert_int_equal(g_vk->ops->tensor_get(g_vk, &po.v, got, 0, sizeof(got)), 0);
	for (uint32_t r = 0; r < 2 * k; r++)
		if (got[r] != want[r])
			fail_msg("top_k n %u k %u (%u finite): word %u is %d, want %d", n, k, n_finite, r,
				 got[r], want[r]);
	for (uint32_t r = 2 * k; r < 2 * ENGINE_TOPK_MAX + 8; r++)
		if (got[r] != 0)
			fail_msg("top_k n %u k %u: wrote word %u past its output", n, k, r);
	g_cases++;
	pair_free(&pl);
	pair_free(&po);
	free(l);
	free(taken);
}

static void test_top_k(void **state)
{
	(void)state;
	NEED_VK();
	one_top_k(32000, 1, 31990);  /* greedy over a real vocab */
	one_top_k(32000, 40, 31000);
	one_top_k(32000, 64, 32000);
	one_top_k(1000, 7, 1000);
	one_top_k(77, 64, 5);        /* fewer finite values than k */
	one_top_k(300, 3, 0);        /* none */
}

/* kv_store then attention, against a cache already holding pos0 rows. */

/* kv_store then attention, against a cache of n_ctx rows already holding
 * pos0; `split`: the Vulkan backend must take the split (two-pass) path. */
static void one_attention(enum quant_type kvt, uint32_t n_head, uint32_t n_kv,
			  uint32_t hd, uint32_t pos0, uint32_t n, uint32_t window,
			  uint32_t n_ctx, bool split)
{
	struct vk_stats s0, s1;
	float *q = malloc((size_t)n_head * hd * n * 4), *k = malloc((size_t)n_kv * hd * n_ctx * 4);
	float *v = malloc((size_t)n_kv * hd * n_ctx * 4);
	struct pair pq, pk, pv, kc, vc, po, pk0, pv0;
	struct attn_params ap = { n, pos0 + n, pos0, n_head, n_kv, hd, hd, window,
				  1.0f / sqrtf((float)hd) };
	char what[96];

	fill_f32(q, (size_t)n_head * hd * n, 1.0f);
	fill_f32(k, (size_t)n_kv * hd * n_ctx, 1.0f);
	fill_f32(v, (size_t)n_kv * hd * n_ctx, 1.0f);
	pair_new(&pq, QT_F32, n_head * hd, n, q);
	pair_new(&pk0, QT_F32, n_kv * hd, pos0 ? pos0 : 1, k);
	pair_new(&pv0, QT_F32, n_kv * hd, pos0 ? pos0 : 1, v);
	pair_new(&pk, QT_F32, n_kv * hd, n, k + (size_t)pos0 * n_kv * hd);
	pair_new(&pv, QT_F32, n_kv * hd, n, v + (size_t)pos0 * n_kv * hd);
	pair_new(&kc, kvt, n_kv * hd, n_ctx, NULL);
	pair_new(&vc, kvt, n_kv * hd, n_ctx, NULL);
	pair_new(&po, QT_F32, n_head * hd, n, NULL);
	if (pos0) {
		g_cpu->ops->kv_store(g_cpu, &kc.c, &vc.c, &pk0.c, &pv0.c, 0, pos0);
		g_vk->ops->kv_store(g_vk, &kc.v, &vc.v, &pk0.v, &pv0.v, 0, pos0);
	}
	g_cpu->ops->kv_store(g_cpu, &kc.c, &vc.c, &pk.c, &pv.c, pos0, n);
	g_vk->ops->kv_store(g_vk, &kc.v, &vc.v, &pk.v, &pv.v, pos0, n);
	snprintf(what, sizeof(what), "kv_store %s", quant_type_name(kvt));
	check(what, &kc, 1e-12);
	g_cpu->ops->attention(g_cpu, &po.c, &pq.c, &kc.c, &vc.c, &ap);
	backend_vk_stats(&s0);
	g_vk->ops->attention(g_vk, &po.v, &pq.v, &kc.v, &vc.v, &ap);
	backend_vk_stats(&s1);
	snprintf(what, sizeof(what), "attention %s heads %u/%u hd %u pos0 %u n %u window %u%s",
		 quant_type_name(kvt), n_head, n_kv, hd, pos0, n, window, split ? " split" : "");
	/* split: the chunks' pass and the combining one */
	if (s1.dispatches - s0.dispatches != (split ? 2u : 1u))
		fail_msg("%s: %llu dispatches", what,
			 (unsigned long long)(s1.dispatches - s0.dispatches));
	check(what, &po, 1e-9);
	pair_free(&pq);
	pair_free(&pk);
	pair_free(&pv);
	pair_free(&pk0);
	pair_free(&pv0);
	pair_free(&kc);
	pair_free(&vc);
	pair_free(&po);
	free(q);
	free(k);
	free(v);
}

static void test_attention(void **state)
{
	(void)state;
	NEED_VK();
	one_attention(QT_F32, 4, 4, 16, 0, 1, 0, 80, false);
	one_attention(QT_F16, 8, 2, 32, 0, 7, 0, 80, false);
	one_attention(QT_F16, 8, 2, 32, 9, 1, 0, 80, false);
	one_attention(QT_F32, 12, 1, 64, 5, 3, 0, 80, false);  /* group of 12: two slices */
	one_attention(QT_F16, 4, 2, 64, 10, 33, 8, 80, false); /* sliding window */
	one_attention(QT_F32, 2, 1, 128, 70, 2, 0, 80, false); /* two key tiles */
}

/* Long contexts with few workgroups: the visible keys cut into chunks of
 * about 256 (backend_vk_ops.c), partials merged by a second pass.  The
 * counts of visible keys are not multiples of 256 unless said. */
static void test_attention_split(void **state)
{
	(void)state;
	NEED_VK();
	/* TinyLlama decode: 8 chunks spread over 16 slots */
	one_attention(QT_F16, 32, 4, 64, 2000, 1, 0, 4096, true);
	one_attention(QT_F32, 4, 1, 128, 1000, 3, 0, 1016, true);  /* group of 4 */
	one_attention(QT_F16, 12, 1, 64, 3000, 1, 0, 3013, true);  /* group of 12: two slices */
	one_attention(QT_F32, 2, 2, 64, 1500, 3, 0, 1516, true);   /* group of 1 */
	one_attention(QT_F16, 8, 2, 128, 2047, 1, 0, 2060, true);  /* 2048 keys: 8 x 256 */
	one_attention(QT_F16, 16, 16, 64, 3000, 1, 0, 3013, true); /* 8 slots: chunks of 376 */
	one_attention(QT_F32, 4, 4, 64, 511, 1, 0, 600, true);     /* 512 keys: the least split */
	one_attention(QT_F32, 4, 4, 64, 510, 1, 0, 600, false);    /* 511: not split */
	/* sliding windows: chunks over the window only; a short one never splits */
	one_attention(QT_F16, 8, 2, 64, 1290, 3, 100, 1400, false);
	one_attention(QT_F32, 8, 2, 128, 2500, 2, 700, 2600, true);
	one_attention(QT_F16, 4, 4, 64, 1500, 8, 600, 1600, true);
	one_attention(QT_F16, 4, 4, 64, 600, 8, 0, 700, true);     /* the largest split batch */
	one_attention(QT_F16, 4, 4, 64, 600, 9, 0, 700, false);    /* larger: not split */
}

/* A decode loop as the model runs it: one token stored and attended at
 * each position with the same tensors, so each step replays the command
 * buffer recorded by the step before (only the parameters change), across
 * the position where attention starts splitting and across chunk widths. */
static void test_attention_replay(void **state)
{
	/* 32 KV heads: 4 slots; 2 to 4 chunks of 256 keys or less */
	const uint32_t n_head = 32, n_kv = 32, hd = 64, n_ctx = 1200, start = 500, steps = 24;
	const uint32_t w = n_kv * hd;
	float *k = malloc((size_t)w * n_ctx * 4), *v = malloc((size_t)w * n_ctx * 4);
	float *q = malloc((size_t)n_head * hd * 4);
	struct pair pq, pk, pv, pk0, pv0, kc, vc, po;
	struct vk_stats s0, s1;
	char what[96];

	(void)state;
	NEED_VK();
	fill_f32(k, (size_t)w * n_ctx, 1.0f);
	fill_f32(v, (size_t)w * n_ctx, 1.0f);
	pair_new(&pk0, QT_F32, w, start, k);
	pair_new(&pv0, QT_F32, w, start, v);
	pair_new(&pq, QT_F32, n_head * hd, 1, NULL);
	pair_new(&pk, QT_F32, w, 1, NULL);
	pair_new(&pv, QT_F32, w, 1, NULL);
	pair_new(&kc, QT_F16, w, n_ctx, NULL);
	pair_new(&vc, QT_F16, w, n_ctx, NULL);
	pair_new(&po, QT_F32, n_head * hd, 1, NULL);
	g_cpu->ops->kv_store(g_cpu, &kc.c, &vc.c, &pk0.c, &pv0.c, 0, start);
	g_vk->ops->kv_store(g_vk, &kc.v, &vc.v, &pk0.v, &pv0.v, 0, start);
	assert_int_equal(g_vk->ops->sync(g_vk), 0);
	backend_vk_stats(&s0);
	for (uint32_t i = 0; i < steps; i++) {
		/* 500..510: whole; 511..: split */
		uint32_t pos = i < 14 ? start + i : start + 13 + (i - 13) * 53;
		struct attn_params ap = { 1, pos + 1, pos, n_head, n_kv, hd, hd, 0,
					  1.0f / sqrtf((float)hd) };
		struct pair *src[] = { &pq, &pk, &pv };
		const float *from[] = { NULL, k + (size_t)pos * w, v + (size_t)pos * w };

		fill_f32(q, (size_t)n_head * hd, 1.0f);
		from[0] = q;
		for (int j = 0; j < 3; j++) {
			memcpy(src[j]->c.data, from[j], src[j]->bytes);
			assert_int_equal(g_vk->ops->tensor_set(g_vk, &src[j]->v, from[j], 0,
							       src[j]->bytes), 0);
		}
		g_cpu->ops->kv_store(g_cpu, &kc.c, &vc.c, &pk.c, &pv.c, pos, 1);
		g_vk->ops->kv_store(g_vk, &kc.v, &vc.v, &pk.v, &pv.v, pos, 1);
		g_cpu->ops->attention(g_cpu, &po.c, &pq.c, &kc.c, &vc.c, &ap);
		g_vk->ops->attention(g_vk, &po.v, &pq.v, &kc.v, &vc.v, &ap);
		snprintf(what, sizeof(what), "attention replayed at %u", pos);
		check(what, &po, 1e-9);
	}
	backend_vk_stats(&s1);
	print_message("  %llu of %u steps recorded, %llu replayed\n",
		      (unsigned long long)(s1.recorded_chunks - s0.recorded_chunks), steps,
		      (unsigned long long)(s1.replayed_chunks - s0.replayed_chunks));
	/* recorded: the first step, the switch to the split path and the step
	 * after it (whose barriers now follow a split pass), one to spare */
	assert_true(s1.recorded_chunks - s0.recorded_chunks <= 4);
	assert_true(s1.replayed_chunks - s0.replayed_chunks >= steps - 4);
	pair_free(&pq);
	pair_free(&pk);
	pair_free(&pv);
	pair_free(&pk0);
	pair_free(&pv0);
	pair_free(&kc);
	pair_free(&vc);
	pair_free(&po);
	free(q);
	free(k);
	free(v);
}

static void test_moe(void **state)
{
	static const uint32_t ns[] = { 1, 3 };

	(void)state;
	NEED_VK();
	for (size_t i = 0; i < N_TYPES; i += 3)
		for (size_t kn = 0; kn < 2; kn++) {
			enum quant_type t = all_types[i];
			const uint32_t n = ns[kn], E = 6, k = 2, F = 40;
			const int64_t K = quant_traits_of(t)->block_size == 256 ? 256 : 64;
			float *x = malloc(K * n * 4), *lg = malloc(E * n * 4);
			float *y = malloc(K * n * k * 4);
			void *wd = rand_weights(t, K, F * E), *wd2 = rand_weights(t, K, F * E);
			struct pair px, pl, pid, pw, pe, pd, py, pc, pr, pe2, pd2;
			char what[64];

			fill_f32(x, K * n, 1.0f);
			fill_f32(lg, E * n, 2.0f);
			fill_f32(y, K * n * k, 1.0f);
			pair_new(&px, QT_F32, K, n, x);
			pair_new(&pl, QT_F32, E, n, lg);
			pair_new(&pid, QT_I32, k, n, NULL);
			pair_new(&pw, QT_F32, k, n, NULL);
			pair_new(&pe, t, K, F * E, wd);
			pe.c.ne[1] = pe.v.ne[1] = F;
			pe.c.ne[2] = pe.v.ne[2] = E;
			pair_new(&pe2, t, K, F * E, wd2);
			pe2.c.ne[1] = pe2.v.ne[1] = F;
			pe2.c.ne[2] = pe2.v.ne[2] = E;
			pair_new(&pd, QT_F32, F, n * k, NULL);
			pair_new(&pd2, QT_F32, F, n * k, NULL);
			pair_new(&py, QT_F32, K, n * k, y);
			pair_new(&pc, QT_F32, K, n, NULL);
			pair_new(&pr, QT_F32, K, n, x);

			g_cpu->ops->moe_route(g_cpu, &pid.c, &pw.c, &pl.c, n, E, k, kn == 0);
			g_vk->ops->moe_route(g_vk, &pid.v, &pw.v, &pl.v, n, E, k, kn == 0);
			check("moe_route ids", &pid, 0);
			check("moe_route weights", &pw, 1e-10);
			g_cpu->ops->moe_matmul(g_cpu, &pd.c, &pe.c, &px.c, &pid.c, n, k, false);
			g_vk->ops->moe_matmul(g_vk, &pd.v, &pe.v, &px.v, &pid.v, n, k, false);
			snprintf(what, sizeof(what), "moe_matmul %s n=%u", quant_type_name(t), n);
			check(what, &pd, quant_traits_of(t)->quantized ? 2e-3 : 1e-9);
			/* x per slot: the down projection's shape */
			pe2.c.ne[0] = pe2.v.ne[0] = K;
			g_cpu->ops->moe_matmul(g_cpu, &pd2.c, &pe2.c, &py.c, &pid.c, n, k, true);
			g_vk->ops->moe_matmul(g_vk, &pd2.v, &pe2.v, &py.v, &pid.v, n, k, true);
			snprintf(what, sizeof(what), "moe_matmul per slot %s n=%u", quant_type_name(t), n);
			check(what, &pd2, quant_traits_of(t)->quantized ? 2e-3 : 1e-9);
			g_cpu->ops->moe_combine(g_cpu, &pc.c, &py.c, &pw.c, n, k, kn ? &pr.c : NULL);
			g_vk->ops->moe_combine(g_vk, &pc.v, &py.v, &pw.v, n, k, kn ? &pr.v : NULL);
			check("moe_combine", &pc, 1e-10);
			pair_free(&px);
			pair_free(&pl);
			pair_free(&pid);
			pair_free(&pw);
			pair_free(&pe);
			pair_free(&pe2);
			pair_free(&pd);
			pair_free(&pd2);
			pair_free(&py);
			pair_free(&pc);
			pair_free(&pr);
			free(x);
			free(lg);
			free(y);
			free(wd);
			free(wd2);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_matmul_long),
		cmocka_unit_test(test_get_rows),
		cmocka_unit_test(test_norm_eltwise),
		cmocka_unit_test(test_rope),
		cmocka_unit_test(test_rope_qkv),
		cmocka_unit_test(test_top_k),
		cmocka_unit_test(test_attention),
		cmocka_unit_test(test_attention_split),
		cmocka_unit_test(test_attention_replay),
		cmocka_unit_test(test_moe),
	};

	return cmocka_run_group_tests_name("vk_ops", tests, setup, teardown);
}
