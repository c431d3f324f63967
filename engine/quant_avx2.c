/* quant_avx2.c - the AVX2 + FMA + F16C kernel set (quant_kernels_avx2).
 *
 * Compiled with -mavx2 -mfma -mf16c (engine/meson.build); only called after
 * quant_cpu.c has seen those features at run time. */
#include "quant_x86.h"

#define ISA_NAME "avx2"
#define ISA_TABLE quant_kernels_avx2

typedef __m256 isa_vf;
#define ISA_FW 8

static inline isa_vf isa_vf_zero(void) { return _mm256_setzero_ps(); }
static inline isa_vf isa_vf_fma(isa_vf acc, isa_vf x, isa_vf y) { return _mm256_fmadd_ps(x, y, acc); }
static inline float isa_vf_hsum(isa_vf v) { return x86_hsum256(v); }
static inline void isa_vf_store(float *p, isa_vf v) { _mm256_storeu_ps(p, v); }
static inline isa_vf isa_vf_f32(const void *p, int64_t i) { return _mm256_loadu_ps((const float *)p + i); }

static inline isa_vf isa_vf_f16(const void *p, int64_t i)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
}

static inline isa_vf isa_vf_bf16(const void *p, int64_t i)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));

	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* 32 bytes (two 16-element sub-blocks) a step; the int16 pair sums of
 * sub-block 2k sit in the low 128-bit lane, those of 2k+1 in the high one. */
static inline int32_t isa_dot256(const int8_t *q, const int8_t *a, const int16_t *sc)
{
	__m256i acc = _mm256_setzero_si256();

	for (int k = 0; k < 8; k++) {
		__m256i vq = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
		__m256i va = _mm256_loadu_si256((const __m256i *)(a + 32 * k));
		__m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));

		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x86_mul_i8_pairs(vq, va), s));
	}
	__m128i r = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0x4e));
	r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xb1));
	return _mm_cvtsi128_si32(r);
}

#include "quant_kern.h"
