/* quant_avx512.c - the AVX-512 (F + BW + VL) kernel set (quant_kernels_avx512).
 *
 * Compiled with the AVX2 flags plus -mavx512f -mavx512bw -mavx512vl; only
 * called after quant_cpu.c has seen all of them at run time.  Floating dots
 * and the 256-element types use 512-bit registers; the 32-element types keep
 * the 256-bit block step of quant_x86.h (one block is 32 bytes). */
#include "quant_x86.h"

#define ISA_NAME "avx512"
#define ISA_TABLE quant_kernels_avx512

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

/* 64 bytes (four sub-blocks) a step.  The 32 int16 pair sums of step k
 * belong to sub-blocks 4k + lane/8; the scale of each lane is picked from
 * sc[] with one permute. */
static inline int32_t isa_dot256(const int8_t *q, const int8_t *a, const int16_t *sc)
{
	const __m512i zero = _mm512_setzero_si512();
	const __m512i scv = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)sc));
	__m512i idx = _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
							 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,
							 7, 6, 5, 4, 3, 2, 1, 0), 3);
	__m512i acc = zero;

	for (int k = 0; k < 4; k++) {
		__m512i vq = _mm512_loadu_si512((const void *)(q + 64 * k));
		__m512i va = _mm512_loadu_si512((const void *)(a + 64 * k));
		__mmask64 neg = _mm512_movepi8_mask(vq);
		__m512i sa = _mm512_mask_sub_epi8(va, neg, zero, va);
		__m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(vq), sa);
		__m512i s = _mm512_permutexvar_epi16(idx, scv);

		acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
		idx = _mm512_add_epi16(idx, _mm512_set1_epi16(4));
	}
	return _mm512_reduce_add_epi32(acc);
}

#include "quant_kern.h"
