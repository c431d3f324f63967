/* quant.c - the type-traits table of the ggml tensor types we read, exact
 * half/bfloat16 conversions, and the activation quantizers (from_float).
 *
 * Block layouts follow shared/docs/gguf-quants.md and the blk_* structs of
 * engine_int.h; sizes here are part of the GGUF format (a tensor's byte size
 * is rows * row_size).  The dequantizers and dot kernels live in the
 * quant_kern.h template; quant_cpu.c picks the kernel set and binds it into
 * this table through quant_traits_bind(). */
#include <math.h>
#include <string.h>

#include "quant_int.h"

/* ==== half / bfloat16 =================================================== */

static inline uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* Inf keeps its sign; a NaN keeps its payload (shifted up), with the quiet
 * bit set, as the F16C instruction does. */
float quant_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 31, mant = h & 0x3ff;

	if (exp == 0) /* zero or subnormal: mant * 2^-24, exact in f32 */
		return bits_f32(sign | f32_bits((float)mant * 0x1p-24f));
	if (exp == 31)
		return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
	return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Round to nearest even.  Results: |f| >= 65520 -> inf; below 2^-14 the
 * f16 subnormals (multiples of 2^-24), with 2^-25 itself rounding to 0. */
uint16_t quant_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	uint32_t e, mant, r, rem, half;
	int shift;

	x &= 0x7fffffffu;
	if (x > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
		return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
	if (x >= 0x477ff000u) /* 65520 and up, inf included */
		return (uint16_t)(sign | 0x7c00);
	e = x >> 23;
	if (e < 113) { /* below 2^-14: an f16 subnormal or zero */
		if (e < 102)
			return sign;
		mant = (x & 0x7fffffu) | 0x800000u;
		shift = 126 - (int)e; /* 14..24 */
		r = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++; /* may carry into the smallest normal: still right */
		return (uint16_t)(sign | r);
	}
	r = ((e - 112) << 10) | ((x >> 13) & 0x3ff);
	rem = x & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
		r++; /* a carry into the exponent is the correctly rounded value */
	return (uint16_t)(sign | r);
}

float quant_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t quant_f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);

	if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could make it inf */
		return (uint16_t)((x >> 16) | 0x40);
	return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

/* ==== from_float ======================================================== */

static void from_f32(const float *src, void *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

static void from_f16(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;

	for (int64_t i = 0; i < n; i++)
		y[i] = quant_f32_to_f16(src[i]);
}

static void from_bf16(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;

	for (int64_t i = 0; i < n; i++)
		y[i] = quant_f32_to_bf16(src[i]);
}

/* Symmetric 8-bit quantization of k values: q = round(x / d) with
 * d = max|x| / 127, so every q lies in [-127, 127] (the contract of the
 * integer kernels).  Returns d; writes sum(q) to *qsum. */
static float quant_sym8(const float *x, int8_t *q, int k, int32_t *qsum)
{
	float amax = 0.0f, d, id;
	int32_t sum = 0;

	for (int j = 0; j < k; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	d = amax / 127.0f;
	id = d != 0.0f ? 1.0f / d : 0.0f;
	for (int j = 0; j < k; j++) {
		float v = roundf(x[j] * id);

		v = fminf(fmaxf(v, -127.0f), 127.0f);
		q[j] = (int8_t)v;
		sum += q[j];
	}
	*qsum = sum;
	return d;
}

static void from_q8_0(const float *src, void *dst, int64_t n)
{
	struct blk_q8_0 *y = dst;
	int32_t sum;

	for (int64_t i = 0; i < n / 32; i++)
		y[i].d = quant_f32_to_f16(quant_sym8(src + 32 * i, y[i].qs, 32, &sum));
}

static void from_q8_1(const float *src, void *dst, int64_t n)
{
	struct blk_q8_1 *y = dst;
	int32_t sum;

	for (int64_t i = 0; i < n / 32; i++) {
		float d = quant_sym8(src + 32 * i, y[i].qs, 32, &sum);

		y[i].d = quant_f32_to_f16(d);
		y[i].s = quant_f32_to_f16(d * (float)sum);
	}
}

/* Q8_K keeps d in f32 and the per-16 sums the K-quant kernels need for
 * their mins. */
static void from_q8_k(const float *src, void *dst, int64_t n)
{
	struct blk_q8_k *y = dst;
	int32_t sum;

	for (int64_t i = 0; i < n / 256; i++) {
		y[i].d = quant_sym8(src + 256 * i, y[i].qs, 256, &sum);
		for (int s = 0; s < 16; s++) {
			int32_t bs = 0;

			for (int j = 0; j < 16; j++)
				bs += y[i].qs[16 * s + j];
			y[i].bsums[s] = (int16_t)bs;
		}
	}
}

/* ==== traits ============================================================ */

/* The static part of each entry; to_float, to_float_fast, vec_dot, gemm
 * (and from_float where a kernel set has its own) are filled by
 * quant_traits_bind() before quant_traits_of() returns. */
#define T(name, bs, ts, q, ff, vdt) { name, bs, ts, q, NULL, ff, NULL, vdt, NULL, NULL, 0, 0 }
static struct quant_traits traits[QT_COUNT] = {
	[QT_F32] = T("F32", 1, 4, false, from_f32, QT_F32),
	[QT_F16] = T("F16", 1, 2, false, from_f16, QT_F32),
	[QT_BF16] = T("BF16", 1, 2, false, from_bf16, QT_F32),
	[QT_Q4_0] = T("Q4_0", 32, 2 + 16, true, NULL, QT_Q8_0),
	[QT_Q4_1] = T("Q4_1", 32, 2 + 2 + 16, true, NULL, QT_Q8_0),
	[QT_Q5_0] = T("Q5_0", 32, 2 + 4 + 16, true, NULL, QT_Q8_0),
	[QT_Q5_1] = T("Q5_1", 32, 2 + 2 + 4 + 16, true, NULL, QT_Q8_0),
	[QT_Q8_0] = T("Q8_0", 32, 2 + 32, true, from_q8_0, QT_Q8_0),
	[QT_Q8_1] = T("Q8_1", 32, 4 + 32, true, from_q8_1, QT_Q8_1),
	[QT_Q2_K] = T("Q2_K", 256, 16 + 64 + 2 + 2, true, NULL, QT_Q8_K),
	[QT_Q3_K] = T("Q3_K", 256, 32 + 64 + 12 + 2, true, NULL, QT_Q8_K),
	[QT_Q4_K] = T("Q4_K", 256, 2 + 2 + 12 + 128, true, NULL, QT_Q8_K),
	[QT_Q5_K] = T("Q5_K", 256, 2 + 2 + 12 + 32 + 128, true, NULL, QT_Q8_K),
	[QT_Q6_K] = T("Q6_K", 256, 128 + 64 + 16 + 2, true, NULL, QT_Q8_K),
	[QT_Q8_K] = T("Q8_K", 256, 4 + 256 + 16 * 2, true, from_q8_k, QT_Q8_K),
	[QT_IQ4_NL] = T("IQ4_NL", 32, 2 + 16, true, NULL, QT_Q8_0),
	[QT_IQ4_XS] = T("IQ4_XS", 256, 2 + 2 + 4 + 128, true, NULL, QT_Q8_K),
};
#undef T

/* The portable from_float of each type, saved before the first bind may
 * replace it with a kernel set's (same results, faster). */
static quant_from_float_fn from_float_ref[QT_COUNT];

void quant_traits_bind(const struct quant_kernels *k)
{
	const struct quant_xkernels *x = quant_xkernels_of(k);
	static bool saved;

	if (!saved) {
		for (int t = 0; t < QT_COUNT; t++)
			from_float_ref[t] = traits[t].from_float;
		saved = true;
	}
	for (int t = 0; t < QT_COUNT; t++) {
		if (traits[t].name == NULL)
			continue;
		traits[t].to_float = quant_kernels_scalar.to_float[t];
		traits[t].to_float_fast = k->to_float[t] ? k->to_float[t] : traits[t].to_float;
		traits[t].vec_dot = k->vec_dot[t];
		traits[t].gemm = k->gemm[t];
		traits[t].gemm_nr = QUANT_GEMM_NR;
		traits[t].gemm_nc = QUANT_GEMM_NC;
		traits[t].gemv = x ? x->gemv[t] : NULL;
		traits[t].xsize = x ? x->xsize[t] : NULL;
		traits[t].xprep = x ? x->xprep[t] : NULL;
		traits[t].xgemm = x ? x->xgemm[t] : NULL;
		traits[t].from_float = k->from_float[t] ? k->from_float[t] : from_float_ref[t];
	}
}

const struct quant_traits *quant_traits_of(enum quant_type t)
{
	if ((unsigned)t >= QT_COUNT || traits[t].name == NULL)
		return NULL;
	quant_cpu_init();
	return &traits[t];
}

size_t quant_row_size(enum quant_type t, int64_t n)
{
	const struct quant_traits *q = quant_traits_of(t);

	if (q == NULL || n < 0 || n % q->block_size != 0)
		return 0;
	return (size_t)(n / q->block_size) * q->type_size;
}

const char *quant_type_name(enum quant_type t)
{
	const struct quant_traits *q = quant_traits_of(t);

	return q ? q->name : "?";
}
