/* test_attention.c - the CPU backend's attention against a naive reference,
 * on every instruction set this CPU and build have (scalar, AVX2, AVX-512:
 * each has its own tile loader and kernel, attn_kern.c).
 *
 * Oracle: per query row, softmax(scale * q . k) . v over the visible keys
 * (causal, and the sliding window where one is set), in double, from the
 * cache's own values (F16 rows converted with the scalar quant_f16_to_f32),
 * so the only differences are float rounding: |got - ref| <= 1e-5 with
 * every q, k, v in [-1, 1).  Cases: decode one token deep in the cache
 * (32 key tiles, the last one partial) and up to 4 tokens over more than
 * 256 keys (split into chunks of keys, then merged: chunks some rows see
 * no key of, windows starting mid-chunk), batches whose tokens' rows sit
 * next to each other with different visible ranges, GQA groups of 1, 3, 8
 * and 12, head widths that are not multiples of 16 (the loader's scalar
 * columns), value heads narrower than key heads, windows, F16 and F32
 * caches, 1 to 3 threads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_int.h"
#include "testutil.h"

#define TOL 1e-5

static struct tu_rng rng = { 0x243f6a8885a308d3ull };

struct acase {
	enum quant_type kvt;
	uint32_t n_head, n_kv, hd, hdv, pos0, n, window;
};

/* reserve_kv: the cache size the backend is reserved for (0: the case's);
 * smaller, attention must not use the split path's buffers. */
static void one_case(struct engine_backend *be, const struct acase *c, const char *isa, int nt,
		     uint32_t reserve_kv)
{
	const uint32_t n_ctx = c->pos0 + c->n, group = c->n_head / c->n_kv;
	const size_t qw = (size_t)c->n_head * c->hd, ow = (size_t)c->n_head * c->hdv;
	const size_t kw = (size_t)c->n_kv * c->hd, vw = (size_t)c->n_kv * c->hdv;
	const struct quant_traits *q = quant_traits_of(c->kvt);
	float *qx = malloc(qw * c->n * sizeof(float)), *out = malloc(ow * c->n * sizeof(float));
	float *kf = malloc(kw * n_ctx * sizeof(float)), *vf = malloc(vw * n_ctx * sizeof(float));
	char *kc = malloc(quant_row_size(c->kvt, (int64_t)kw) * n_ctx);
	char *vc = malloc(quant_row_size(c->kvt, (int64_t)vw) * n_ctx);
	double *s = malloc(n_ctx * sizeof(double));
	struct etensor tq, to, tk, tv;
	struct attn_params ap = { c->n, n_ctx, c->pos0, c->n_head, c->n_kv, c->hd, c->hdv, c->window,
				  1.0f / sqrtf((float)c->hd) };
	double worst = 0;

	assert_true(qx && out && kf && vf && kc && vc && s);
	for (size_t i = 0; i < qw * c->n; i++)
		qx[i] = tu_rndf(&rng);
	/* the cache rows, and the values they hold read back */
	etensor_init2d(&tk, c->kvt, (int64_t)kw, n_ctx, kc, "k");
	etensor_init2d(&tv, c->kvt, (int64_t)vw, n_ctx, vc, "v");
	for (uint32_t p = 0; p < n_ctx; p++) {
		for (size_t i = 0; i < kw; i++)
			kf[p * kw + i] = tu_rndf(&rng);
		for (size_t i = 0; i < vw; i++)
			vf[p * vw + i] = tu_rndf(&rng);
		q->from_float(kf + p * kw, kc + p * tk.nb1, (int64_t)kw);
		q->from_float(vf + p * vw, vc + p * tv.nb1, (int64_t)vw);
		for (size_t i = 0; i < kw; i++)
			kf[p * kw + i] = c->kvt == QT_F16 ? quant_f16_to_f32(((uint16_t *)(kc + p * tk.nb1))[i])
							  : ((float *)(kc + p * tk.nb1))[i];
		for (size_t i = 0; i < vw; i++)
			vf[p * vw + i] = c->kvt == QT_F16 ? quant_f16_to_f32(((uint16_t *)(vc + p * tv.nb1))[i])
							  : ((float *)(vc + p * tv.nb1))[i];
	}
	etensor_init2d(&tq, QT_F32, (int64_t)qw, c->n, qx, "q");
	etensor_init2d(&to, QT_F32, (int64_t)ow, c->n, out, "out");
	memset(out, 0xff, ow * c->n * sizeof(float)); /* NaN: every value must be written */
	{
		struct attn_params rp = ap;

		rp.n_kv = reserve_kv ? reserve_kv : n_ctx;
		assert_int_equal(be->ops->reserve(be, c->n, (uint32_t)(qw > ow ? qw : ow), &rp), 0);
	}
	be->ops->attention(be, &to, &tq, &tk, &tv, &ap);
	assert_int_equal(be->ops->sync(be), 0);

	for (uint32_t t = 0; t < c->n; t++) {
		const uint32_t pos = c->pos0 + t;
		const uint32_t kmin = c->window && pos + 1 > c->window ? pos + 1 - c->window : 0;

		for (uint32_t h = 0; h < c->n_head; h++) {
			const float *qr = qx + t * qw + (size_t)h * c->hd;
			const uint32_t kh = h / group;
			double mx = -INFINITY, sum = 0;

			for (uint32_t p = kmin; p <= pos; p++) {
				const float *kr = kf + p * kw + (size_t)kh * c->hd;
				double d = 0;

				for (uint32_t i = 0; i < c->hd; i++)
					d += (double)qr[i] * kr[i];
				s[p] = d * ap.scale;
				mx = s[p] > mx ? s[p] : mx;
			}
			for (uint32_t p = kmin; p <= pos; p++)
				sum += s[p] = exp(s[p] - mx);
			for (uint32_t i = 0; i < c->hdv; i++) {
				double ref = 0, got = out[t * ow + (size_t)h * c->hdv + i], e;

				for (uint32_t p = kmin; p <= pos; p++)
					ref += s[p] * vf[p * vw + (size_t)kh * c->hdv + i];
				ref /= sum;
				e = fabs(got - ref);
				if (!(e <= TOL))
					fail_msg("%s, %d threads, %s heads %u/%u hd %u/%u pos0 %u n %u window %u: "
						 "token %u head %u [%u]: %.7f, reference %.7f", isa, nt,
						 quant_type_name(c->kvt), c->n_head, c->n_kv, c->hd, c->hdv, c->pos0,
						 c->n, c->window, t, h, i, got, ref);
				worst = e > worst ? e : worst;
			}
		}
	}
	print_message("  %-6s %d thr  %s heads %2u/%u hd %3u/%3u pos0 %4u n %2u window %2u: max |d| %.2g\n",
		      isa, nt, quant_type_name(c->kvt), c->n_head, c->n_kv, c->hd, c->hdv, c->pos0, c->n,
		      c->window, worst);
	free(qx);
	free(out);
	free(kf);
	free(vf);
	free(kc);
	free(vc);
	free(s);
}

static void test_attention_cpu(void **state)
{
	static const struct acase cases[] = {
		{ QT_F16, 8, 1, 64, 64, 2047, 1, 0 },   /* decode, 32 tiles */
		{ QT_F32, 8, 2, 64, 64, 130, 1, 0 },    /* decode, a 3-key last tile */
		{ QT_F16, 4, 4, 40, 40, 70, 3, 0 },     /* 40 = 32 + 8 scalar columns */
		{ QT_F16, 12, 1, 128, 128, 5, 17, 0 },  /* group of 12, two token blocks */
		{ QT_F32, 6, 2, 16, 16, 0, 20, 8 },     /* group of 3, window */
		{ QT_F16, 2, 1, 80, 48, 64, 2, 0 },     /* values narrower; a tile starts at pos0 */
		{ QT_F16, 16, 2, 64, 64, 300, 1, 100 }, /* decode in a window */
		{ QT_F32, 8, 4, 64, 64, 1000, 3, 0 },   /* 3 tokens, 4 chunks */
		{ QT_F16, 4, 1, 32, 32, 254, 3, 0 },    /* a 1-key last chunk only token 2 sees */
		{ QT_F16, 8, 2, 64, 32, 2000, 4, 700 }, /* window: chunks from key 1301 */
		{ QT_F16, 6, 6, 16, 16, 600, 1, 0 },    /* 6 KV heads, 3 chunks */
	};
	struct engine_cpu_caps caps;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (int isa = 0; isa <= (int)caps.best; isa++) {
		assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
		for (int nt = 1; nt <= 3; nt++) {
			struct engine_backend *be;

			assert_int_equal(backend_cpu_new(&be, nt), 0);
			for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
				one_case(be, &cases[i], engine_isa_name((enum engine_isa)isa), nt, 0);
			be->ops->free(be);
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
}

/* A backend reserved for a short cache, then asked for a long one. */
static void test_attention_unreserved(void **state)
{
	static const struct acase c = { QT_F16, 8, 2, 64, 64, 1500, 2, 0 };
	struct engine_backend *be;

	(void)state;
	assert_int_equal(backend_cpu_new(&be, 2), 0);
	one_case(be, &c, "active", 2, 100);
	be->ops->free(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attention_cpu),
		cmocka_unit_test(test_attention_unreserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
