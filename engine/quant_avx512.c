/* quant_avx512.c - the AVX-512 (F + BW + VL) kernel sets
 * (quant_kernels_avx512, and quant_kernels_avx512vnni when compiled with
 * QUANT_AVX512_VNNI and -mavx512vnni).
 *
 * Compiled with the AVX2 flags plus -mavx512f -mavx512bw -mavx512vl; only
 * called after quant_cpu.c has seen all of them (and VNNI for the second
 * build) at run time.  The floating dots use 512-bit registers.  The common
 * integer types take the register-tiled kernels of quant_tile512.h for both
 * vec_dot and gemm, and the mat-vec kernels of quant_gemv512.h (table
 * quant_xkernels_avx512[vnni]); the rest keep quant_kern.h's 256-bit decoders. */
#include "quant_gemv512.h"
#include "quant_int.h"
#ifdef QUANT_AVX512_VNNI
#include "quant_r16_512.h"

const struct quant_r16_kernels quant_r16_avx512vnni = {
	.mm = { [QT_Q4_0] = r16_mm_q4_0, [QT_Q8_0] = r16_mm_q8_0, [QT_Q4_K] = r16_mm_q4_k, [QT_Q6_K] = r16_mm_q6_k },
	.xsize = { [QT_Q4_0] = r16_xsize32, [QT_Q8_0] = r16_xsize32 },
	.xprep = { [QT_Q4_0] = r16_xp_q4_0, [QT_Q8_0] = r16_xp_q8_0 },
};
#endif

#define ISA_NAME "avx512"
#ifdef QUANT_AVX512_VNNI
#define ISA_TABLE quant_kernels_avx512vnni
#define ISA_XKERN quant_xkernels_avx512vnni
#define QK_TILED_q8_0 qg_q8_0
#define QK_TILED_iq4_nl qg_iq4_nl
#else
#define ISA_TABLE quant_kernels_avx512
#define ISA_XKERN quant_xkernels_avx512
#endif

#define GV_SET(T, t, XS) \
	.gemv[QT_##T] = gv_##t##_run, .xsize[QT_##T] = XS, .xprep[QT_##T] = xp_##t, \
	.xgemm[QT_##T] = xg_##t
const struct quant_xkernels ISA_XKERN = {
	GV_SET(Q4_0, q4_0, xs32),
	GV_SET(Q4_K, q4_k, xsk),
	GV_SET(Q6_K, q6_k, xsk),
#ifdef QUANT_AVX512_VNNI
	GV_SET(Q8_0, q8_0, xs32),
#endif
};
#undef GV_SET
#define QK_TILED_q4_0 qg_q4_0
#define QK_TILED_q4_1 qg_q4_1
#define QK_TILED_q5_0 qg_q5_0
#define QK_TILED_q5_1 qg_q5_1
#define QK_TILED_q4_k qg_q4_k
#define QK_TILED_q5_k qg_q5_k
#define QK_TILED_q6_k qg_q6_k

typedef __m512 isa_vf;
#define ISA_FW 16

static inline isa_vf isa_vf_zero(void) { return _mm512_setzero_ps(); }
static inline isa_vf isa_vf_fma(isa_vf acc, isa_vf x, isa_vf y) { return _mm512_fmadd_ps(x, y, acc); }
static inline float isa_vf_hsum(isa_vf v) { return _mm512_reduce_add_ps(v); }
static inline void isa_vf_store(float *p, isa_vf v) { _mm512_storeu_ps(p, v); }
static inline isa_vf isa_vf_f32(const void *p, int64_t i) { return _mm512_loadu_ps((const float *)p + i); }

static inline isa_vf isa_vf_f16(const void *p, int64_t i)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
}

static inline isa_vf isa_vf_bf16(const void *p, int64_t i)
{
	__m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));

	return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* ---- activation quantizers ---------------------------------------------
 * The same results as quant.c's from_float bit for bit: d = amax / 127,
 * q = roundf(x * (1 / d)) clamped to [-127, 127].  roundf rounds half away
 * from zero: truncate, then step away from zero where the dropped fraction
 * (exact in float) is at least one half. */

static inline __m512i q8_round16(__m512 x, __m512 id)
{
	const __m512 lim = _mm512_set1_ps(127.0f);
	__m512 v = _mm512_mul_ps(x, id);
	__m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m512 fr = _mm512_abs_ps(_mm512_sub_ps(v, t));
	__mmask16 up = _mm512_cmp_ps_mask(fr, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
	__mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);

	t = _mm512_mask_add_ps(t, up & ~neg, t, _mm512_set1_ps(1.0f));
	t = _mm512_mask_sub_ps(t, up & neg, t, _mm512_set1_ps(1.0f));
	t = _mm512_min_ps(_mm512_max_ps(t, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
	return _mm512_cvtps_epi32(t);
}

static inline float q8_inv(float d)
{
	return d != 0.0f ? 1.0f / d : 0.0f;
}

static void ff_q8_0(const float *src, void *dst, int64_t n)
{
	struct blk_q8_0 *y = dst;

	for (int64_t i = 0; i < n / 32; i++) {
		__m512 x0 = _mm512_loadu_ps(src + 32 * i), x1 = _mm512_loadu_ps(src + 32 * i + 16);
		float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
		float d = amax / 127.0f;
		__m512 id = _mm512_set1_ps(q8_inv(d));

		_mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(q8_round16(x0, id)));
		_mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(q8_round16(x1, id)));
		y[i].d = quant_f32_to_f16(d);
	}
}

static void ff_q8_k(const float *src, void *dst, int64_t n)
{
	struct blk_q8_k *y = dst;

	for (int64_t i = 0; i < n / 256; i++) {
		const float *x = src + 256 * i;
		__m512 m = _mm512_setzero_ps();
		__m512 id;
		float d;

		for (int s = 0; s < 16; s++)
			m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * s)));
		d = _mm512_reduce_max_ps(m) / 127.0f;
		id = _mm512_set1_ps(q8_inv(d));
		for (int s = 0; s < 16; s++) {
			__m512i q = q8_round16(_mm512_loadu_ps(x + 16 * s), id);

			_mm_storeu_si128((__m128i *)(y[i].qs + 16 * s), _mm512_cvtsepi32_epi8(q));
			y[i].bsums[s] = (int16_t)_mm512_reduce_add_epi32(q);
		}
		y[i].d = d;
	}
}

#define QK_FROM_q8_0 ff_q8_0
#define QK_FROM_q8_k ff_q8_k

#include "quant_kern.h"
