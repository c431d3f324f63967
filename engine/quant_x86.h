/* quant_x86.h - quant_kern.h primitives shared by the AVX2 and AVX-512 kernel
 * sets (both files are compiled with at least AVX2 + FMA + F16C). */
#ifndef HALO_QUANT_X86_H
#define HALO_QUANT_X86_H

#include <immintrin.h>

#include "engine_int.h"

static inline float isa_f16(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* Nibble split + 16-entry table lookup with pshufb, 16 source bytes a step. */
static inline void isa_nib_lut(const uint8_t *src, int nb, const int8_t tbl[16], int8_t *out)
{
	const __m128i t = _mm_loadu_si128((const __m128i *)tbl);
	const __m128i m4 = _mm_set1_epi8(15);

	for (int k = 0; k < nb; k += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(src + k));
		__m128i lo = _mm_and_si128(v, m4);
		__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);

		_mm_storeu_si128((__m128i *)(out + k), _mm_shuffle_epi8(t, lo));
		_mm_storeu_si128((__m128i *)(out + nb + k), _mm_shuffle_epi8(t, hi));
	}
}

static inline float x86_hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* Signed x signed int8 products summed in pairs to int16: maddubs wants an
 * unsigned first operand, so use |q| and move q's sign onto a.  |q| may be
 * 128 (q = -128), still exact as unsigned; |a| <= 127 by contract. */
static inline __m256i x86_mul_i8_pairs(__m256i q, __m256i a)
{
	return _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
}

typedef __m256 isa_a32;
static inline isa_a32 isa_a32_zero(void) { return _mm256_setzero_ps(); }
static inline float isa_a32_hsum(isa_a32 acc) { return x86_hsum256(acc); }

static inline isa_a32 isa_dot32(isa_a32 acc, const int8_t *q, const int8_t *a, float s, float sm, bool has_min)
{
	const __m256i ones16 = _mm256_set1_epi16(1);
	__m256i vq = _mm256_loadu_si256((const __m256i *)q);
	__m256i va = _mm256_loadu_si256((const __m256i *)a);
	__m256i p = _mm256_madd_epi16(x86_mul_i8_pairs(vq, va), ones16);

	acc = _mm256_fmadd_ps(_mm256_set1_ps(s), _mm256_cvtepi32_ps(p), acc);
	if (has_min) {
		__m256i sa = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), va), ones16);

		acc = _mm256_fmadd_ps(_mm256_set1_ps(sm), _mm256_cvtepi32_ps(sa), acc);
	}
	return acc;
}

#endif
