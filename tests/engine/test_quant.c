/* test_quant.c - quant formats against ggml's own dequantization, and the
 * exact half / bfloat16 conversions and activation quantizers.
 *
 * dequant/ holds raw rows of every ggml type with ggml's float output: the
 * scalar to_float (and every ISA's to_float_fast) must match bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/npy.h"
#include "common/testutil.h"
#include "engine.h"

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static struct tu_rng rng = { 0x9e3779b97f4a7c15ull };

/* $HALO_TESTDATA/rel in a static buffer. */
static const char *tpath(const char *rel)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", tu_testdata(), rel);
	return buf;
}

/* ---- index.json: a flat object of objects; read the few integer fields we
 * need without a JSON library (the file is ours and simple). */
static long json_int_after(const char *obj, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static void test_dequant_reference(void **state)
{
	size_t isize = 0, n_entries = 0, n_tested = 0;
	char *index;
	const char *p;
	struct engine_cpu_caps caps;

	(void)state;
	engine_cpu_caps_get(&caps);
	index = tu_read_file(tpath("dequant/index.json"), &isize);
	assert_non_null(index);
	for (p = index; (p = strstr(p, "\"raw\":")) != NULL; p++)
		n_entries++;

	for (int t = 0; t < QT_COUNT; t++) {
		const struct quant_traits *q = quant_traits_of((enum quant_type)t);
		char key[32], rel[64], err[256];
		const char *obj;
		struct npy *ref = NULL;
		size_t rsize = 0, row_bytes;
		uint8_t *raw;
		float *out;
		long rows, ne0;

		if (q == NULL)
			continue;
		snprintf(key, sizeof(key), "\"%s\": {", q->name);
		obj = strstr(index, key);
		if (obj == NULL)
			continue;
		assert_int_equal(json_int_after(obj, "ggml_type_id"), t);
		rows = json_int_after(obj, "rows");
		ne0 = json_int_after(obj, "row_length");
		row_bytes = quant_row_size((enum quant_type)t, ne0);
		assert_int_equal((long)row_bytes, json_int_after(obj, "bytes_per_row"));

		snprintf(rel, sizeof(rel), "dequant/%s.raw", q->name);
		raw = (uint8_t *)tu_read_file(tpath(rel), &rsize);
		assert_non_null(raw);
		assert_int_equal(rsize, row_bytes * (size_t)rows);
		snprintf(rel, sizeof(rel), "dequant/%s.npy", q->name);
		if (npy_load(&ref, tpath(rel), err, sizeof(err)) != 0)
			fail_msg("%s", err);
		assert_string_equal(ref->descr, "<f4");
		assert_int_equal(ref->ndim, 2);
		assert_int_equal(ref->shape[0], rows);
		assert_int_equal(ref->shape[1], ne0);

		out = malloc((size_t)(rows * ne0) * sizeof(float));
		assert_non_null(out);
		/* the reference path, then every kernel set's fast path */
		for (int isa = -1; isa <= (int)caps.best; isa++) {
			quant_to_float_fn fn;

			if (isa >= 0)
				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
			fn = isa < 0 ? q->to_float : q->to_float_fast;
			memset(out, 0xff, (size_t)(rows * ne0) * sizeof(float));
			for (long r = 0; r < rows; r++)
				fn(raw + (size_t)r * row_bytes, out + r * ne0, ne0);
			if (memcmp(out, ref->data, (size_t)(rows * ne0) * sizeof(float)) != 0) {
				for (long i = 0; i < rows * ne0; i++)
					if (f2u(out[i]) != f2u(((float *)ref->data)[i]))
						fail_msg("%s (%s): element %ld: %a != %a", q->name,
							 isa < 0 ? "reference" : engine_isa_name((enum engine_isa)isa),
							 i, (double)out[i], (double)((float *)ref->data)[i]);
			}
		}
		assert_int_equal(engine_cpu_set_isa(caps.active), 0);
		free(out);
		free(raw);
		npy_free(ref);
		n_tested++;
	}
	/* every entry of the index names a type we know */
	assert_int_equal(n_tested, n_entries);
	assert_true(n_tested >= 14);
	free(index);
}

static void test_traits_table(void **state)
{
	int n = 0;

	(void)state;
	for (int t = 0; t < QT_COUNT; t++) {
		const struct quant_traits *q = quant_traits_of((enum quant_type)t);

		if (q == NULL) {
			assert_string_equal(quant_type_name((enum quant_type)t), "?");
			continue;
		}
		n++;
		assert_non_null(q->to_float);
		assert_non_null(q->to_float_fast);
		assert_int_equal(quant_row_size((enum quant_type)t, 256 * 3), 3 * 256 / q->block_size * q->type_size);
		if (q->block_size > 1)
			assert_int_equal(quant_row_size((enum quant_type)t, q->block_size + 1), 0);
		if (t != QT_Q8_1 && t != QT_Q8_K) {
			const struct quant_traits *a = quant_traits_of(q->vec_dot_type);

			assert_non_null(q->vec_dot);
			assert_non_null(a);
			assert_non_null(a->from_float);
			assert_int_equal(256 % a->block_size, 0);
		}
	}
	assert_int_equal(n, 17);
	assert_null(quant_traits_of((enum quant_type)QT_COUNT));
	assert_null(quant_traits_of((enum quant_type)-1));
	assert_int_equal(quant_row_size(QT_Q4_K, -256), 0);
}

/* ---- half ---------------------------------------------------------------- */

static void test_f16_values(void **state)
{
	static const struct {
		float f;
		uint16_t h;
	} cases[] = {
		{ 0.0f, 0x0000 }, { -0.0f, 0x8000 }, { 1.0f, 0x3c00 }, { -2.0f, 0xc000 },
		{ 65504.0f, 0x7bff }, { 65519.99f, 0x7bff }, { 65520.0f, 0x7c00 }, { 1e10f, 0x7c00 },
		{ -1e10f, 0xfc00 }, { 0x1p-14f, 0x0400 }, { 0x1p-24f, 0x0001 }, { 0x1p-25f, 0x0000 },
		{ 0x1.000002p-25f, 0x0001 }, { 0x3p-25f, 0x0002 }, { 0x5p-25f, 0x0002 },
		{ 0x1.ff8p-15f, 0x03ff }, { 0x1.ffcp-15f, 0x0400 }, /* a tie carries into the normals */
		{ 0x1.ffbp-15f, 0x03ff }, { 0x1.ffdp-15f, 0x0400 },
		{ 1.0f + 0x1p-11f, 0x3c00 }, { 1.0f + 0x3p-11f, 0x3c02 }, /* ties to even */
		{ 0x1.002002p+0f, 0x3c01 }, { 0x1p-26f, 0x0000 }, { -0x1p-24f, 0x8001 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t h = quant_f32_to_f16(cases[i].f);

		if (h != cases[i].h)
			fail_msg("f32 %a -> f16 %04x, want %04x", (double)cases[i].f, h, cases[i].h);
	}
	assert_int_equal(quant_f32_to_f16(INFINITY), 0x7c00);
	assert_int_equal(quant_f32_to_f16(-INFINITY), 0xfc00);
	assert_true((quant_f32_to_f16(NAN) & 0x7fff) > 0x7c00);
	assert_true((quant_f32_to_f16(u2f(0x7f800001u)) & 0x7fff) > 0x7c00); /* tiny payload stays NaN */
	assert_true(isnan(quant_f16_to_f32(0x7e00)));
	assert_true(isnan(quant_f16_to_f32(0x7c01)));
	assert_true(isinf(quant_f16_to_f32(0x7c00)));
	assert_true(quant_f16_to_f32(0x0001) == 0x1p-24f);
	assert_true(quant_f16_to_f32(0x83ff) == -0x1.ff8p-15f);
	assert_true(quant_f16_to_f32(0x7bff) == 65504.0f);

	/* every half survives the round trip; values are monotonic */
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = quant_f16_to_f32((uint16_t)h);

		if (isnan(f))
			continue;
		if (quant_f32_to_f16(f) != h)
			fail_msg("f16 %04x round trip -> %04x", h, quant_f32_to_f16(f));
		if (h > 0 && h < 0x7c00)
			assert_true(f > quant_f16_to_f32((uint16_t)(h - 1)));
	}
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("f16c"))) static float hw_h2f(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) static uint16_t hw_f2h(float f) { return (uint16_t)_cvtss_sh(f, 0); }

/* Our conversions against the F16C instructions, all halfs and a wide
 * sample of floats (every exponent, random mantissas, near-halfway bits). */
static void test_f16_hardware(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("f16c"))
		skip();
	for (uint32_t h = 0; h < 0x10000; h++) {
		float a = quant_f16_to_f32((uint16_t)h), b = hw_h2f((uint16_t)h);

		if (f2u(a) != f2u(b))
			fail_msg("f16 %04x: %08x != hw %08x", h, f2u(a), f2u(b));
	}
	for (uint32_t i = 0; i < (1u << 22); i++) {
		uint32_t u = tu_rnd32(&rng) ^ (tu_rnd32(&rng) << 16);
		float f;

		if (i & 1)
			u = (u & 0xffffe000u) | ((i & 2) ? 0x1000 : 0x0fff); /* next to a tie */
		f = u2f(u);
		if (isnan(f))
			continue;
		if (quant_f32_to_f16(f) != hw_f2h(f))
			fail_msg("f32 %08x: %04x != hw %04x", u, quant_f32_to_f16(f), hw_f2h(f));
	}
}
#else
static void test_f16_hardware(void **state)
{
	(void)state;
	skip();
}
#endif

static void test_bf16_values(void **state)
{
	(void)state;
	assert_int_equal(quant_f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(quant_f32_to_bf16(u2f(0x3f808000u)), 0x3f80); /* tie, even stays */
	assert_int_equal(quant_f32_to_bf16(u2f(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
	assert_int_equal(quant_f32_to_bf16(u2f(0x3f808001u)), 0x3f81);
	assert_int_equal(quant_f32_to_bf16(u2f(0x3f807fffu)), 0x3f80);
	assert_int_equal(quant_f32_to_bf16(u2f(0x7f7fffffu)), 0x7f80); /* max float overflows */
	assert_int_equal(quant_f32_to_bf16(INFINITY), 0x7f80);
	assert_int_equal(quant_f32_to_bf16(-0.0f), 0x8000);
	assert_int_equal(quant_f32_to_bf16(u2f(0x00000001u)), 0x0000); /* subnormal rounds down */
	assert_int_equal(quant_f32_to_bf16(u2f(0x00018000u)), 0x0002);
	assert_true(isnan(quant_bf16_to_f32(quant_f32_to_bf16(u2f(0x7f800001u)))));
	assert_true(isnan(quant_bf16_to_f32(quant_f32_to_bf16(u2f(0xffffffffu)))));
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = quant_bf16_to_f32((uint16_t)h);

		assert_int_equal(f2u(f), h << 16);
		if (!isnan(f))
			assert_int_equal(quant_f32_to_bf16(f), h);
	}
}

/* ---- activation quantizers ------------------------------------------- */

/* Quantize then dequantize random rows (several magnitudes, zeros, one
 * spike).  Per element |x - y| <= 0.5 d (rounding) plus, for f16 scales, the
 * scale's own rounding 127 * |d - f16(d)| <= 127 * max(2^-11 d, 2^-25). */
static void check_roundtrip(enum quant_type t, double tol_in_d, double abs_tol)
{
	const struct quant_traits *q = quant_traits_of(t);
	const int64_t n = 1024;
	float x[1024], y[1024];
	uint8_t buf[4096];
	int bs = (int)q->block_size;

	assert_non_null(q->from_float);
	assert_true(quant_row_size(t, n) <= sizeof(buf));
	for (int round = 0; round < 8; round++) {
		float scale = round == 0 ? 0.0f : powf(10.0f, (float)(round - 4));

		for (int64_t i = 0; i < n; i++)
			x[i] = tu_rndf(&rng) * scale;
		x[37] *= 50.0f;
		q->from_float(x, buf, n);
		q->to_float(buf, y, n);
		for (int64_t b = 0; b < n / bs; b++) {
			float amax = 0.0f;

			for (int j = 0; j < bs; j++)
				amax = fmaxf(amax, fabsf(x[b * bs + j]));
			for (int j = 0; j < bs; j++) {
				double err = fabs((double)x[b * bs + j] - y[b * bs + j]);

				if (err > tol_in_d * amax / 127.0 + abs_tol)
					fail_msg("%s round %d elt %lld: %g -> %g (amax %g)", q->name, round,
						 (long long)(b * bs + j), (double)x[b * bs + j],
						 (double)y[b * bs + j], (double)amax);
			}
		}
	}
}

static void test_q8_roundtrip(void **state)
{
	(void)state;
	/* an f16 scale below 2^-14 is subnormal: absolute error up to 2^-25 */
	check_roundtrip(QT_Q8_0, 0.5 + 127.0 / 2048.0 + 1e-6, 127 * 0x1p-25);
	check_roundtrip(QT_Q8_1, 0.5 + 127.0 / 2048.0 + 1e-6, 127 * 0x1p-25);
	check_roundtrip(QT_Q8_K, 0.5 + 1e-5, 0.0);
	/* one-element blocks: relative 2^-11 (f16) / 2^-8 (bf16); f16 subnormals
	 * are 2^-24 apart */
	check_roundtrip(QT_F16, 127.0 / 2048.0, 0x1p-25);
	check_roundtrip(QT_BF16, 127.0 / 256.0, 0.0);
	check_roundtrip(QT_F32, 0.0, 0.0);
}

/* The contracts the integer kernels rely on: quants in [-127, 127]; Q8_K
 * bsums are the sums of 16; Q8_1 s = d * sum(q). */
static void test_q8_contracts(void **state)
{
	float x[512];
	struct {
		float d;
		int8_t qs[256];
		int16_t bsums[16];
	} k[2];
	struct {
		uint16_t d, s;
		int8_t qs[32];
	} b1[16];

	(void)state;
	_Static_assert(sizeof(k[0]) == 292, "q8_k");
	for (int i = 0; i < 512; i++)
		x[i] = tu_rndf(&rng) * (i % 3 ? 1.0f : -3.0f);
	x[5] = -1000.0f; /* the extreme maps to exactly -127 */
	quant_traits_of(QT_Q8_K)->from_float(x, k, 512);
	for (int b = 0; b < 2; b++)
		for (int s = 0; s < 16; s++) {
			int sum = 0;

			for (int j = 0; j < 16; j++) {
				assert_true(k[b].qs[16 * s + j] >= -127);
				sum += k[b].qs[16 * s + j];
			}
			assert_int_equal(sum, k[b].bsums[s]);
		}
	assert_int_equal(k[0].qs[5], -127);
	quant_traits_of(QT_Q8_1)->from_float(x, b1, 512);
	for (int b = 0; b < 16; b++) {
		int sum = 0;

		for (int j = 0; j < 32; j++) {
			assert_true(b1[b].qs[j] >= -127);
			sum += b1[b].qs[j];
		}
		assert_true(fabsf(quant_f16_to_f32(b1[b].s) - quant_f16_to_f32(b1[b].d) * (float)sum) <=
			    fabsf(quant_f16_to_f32(b1[b].d) * (float)sum) * 2e-3f + 1e-6f);
	}
}

static void test_cpu_caps(void **state)
{
	struct engine_cpu_caps c;

	(void)state;
	engine_cpu_caps_get(&c);
	assert_true(c.active <= c.best);
	assert_int_equal(engine_cpu_set_isa(ENGINE_ISA_SCALAR), 0);
	engine_cpu_caps_get(&c);
	assert_int_equal(c.active, ENGINE_ISA_SCALAR);
	assert_true(quant_traits_of(QT_Q4_0)->vec_dot != NULL);
	if (c.best < ENGINE_ISA_AVX512)
		assert_int_equal(engine_cpu_set_isa(ENGINE_ISA_AVX512), ENGINE_EUNSUPPORTED);
	assert_int_equal(engine_cpu_set_isa(ENGINE_ISA_COUNT), ENGINE_EUNSUPPORTED);
	assert_int_equal(engine_cpu_set_isa(c.best), 0);
	assert_string_equal(engine_isa_name(ENGINE_ISA_AVX2), "avx2");
	assert_string_equal(engine_isa_name(ENGINE_ISA_COUNT), "?");
	if (c.avx512f && c.avx512bw && c.avx512vl && c.avx2 && c.fma && c.f16c)
		assert_int_equal(c.best, ENGINE_ISA_AVX512); /* x86 builds carry every set */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traits_table),
		cmocka_unit_test(test_dequant_reference),
		cmocka_unit_test(test_f16_values),
		cmocka_unit_test(test_f16_hardware),
		cmocka_unit_test(test_bf16_values),
		cmocka_unit_test(test_q8_roundtrip),
		cmocka_unit_test(test_q8_contracts),
		cmocka_unit_test(test_cpu_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
