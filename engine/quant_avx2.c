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

#include "quant_kern.h"
