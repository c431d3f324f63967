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

/* Nibble split + 16-entry table lookup with pshufb.  The output is written
 * with 32-byte stores only: the dot kernels read it back with 32-byte loads
 * at the same offsets, which the CPU forwards from the store buffer (a load
 * spanning two smaller stores would stall until they retire). */
static inline void isa_nib_lut(const uint8_t *src, int nb, const int8_t tbl[16], int8_t *out)
{
	const __m128i t = _mm_loadu_si128((const __m128i *)tbl);
	const __m128i m4 = _mm_set1_epi8(15);

	if (nb == 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)src);
		__m128i lo = _mm_shuffle_epi8(t, _mm_and_si128(v, m4));
		__m128i hi = _mm_shuffle_epi8(t, _mm_and_si128(_mm_srli_epi16(v, 4), m4));

		_mm256_storeu_si256((__m256i *)out, _mm256_set_m128i(hi, lo));
	} else { /* nb == 32 */
		const __m256i t2 = _mm256_broadcastsi128_si256(t);
		const __m256i m = _mm256_set1_epi8(15);
		__m256i v = _mm256_loadu_si256((const __m256i *)src);

		_mm256_storeu_si256((__m256i *)out, _mm256_shuffle_epi8(t2, _mm256_and_si256(v, m)));
		_mm256_storeu_si256((__m256i *)(out + 32),
				    _mm256_shuffle_epi8(t2, _mm256_and_si256(_mm256_srli_epi16(v, 4), m)));
	}
}

/* q[j] = (q[j] | bit j of bits << 4) - bias for j < 32, one 32-byte load and
 * store: broadcast the bytes of `bits`, pick bit j%8 of byte j/8, compare. */
static inline void isa_add_hbits32(int8_t *q, uint32_t bits, int bias)
{
	const __m256i sel = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll,
					      0x0101010101010101ll, 0x0000000000000000ll);
	const __m256i bitmask = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	__m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), sel);
	__m256i h = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(b, bitmask), bitmask),
				     _mm256_set1_epi8(16));
	__m256i v = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)q), h);

	_mm256_storeu_si256((__m256i *)q, _mm256_sub_epi8(v, _mm256_set1_epi8((char)bias)));
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

#endif
