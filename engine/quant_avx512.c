/* quant_avx512.c - the AVX-512 (F + BW + VL) kernel set (quant_kernels_avx512).
 *
 * Compiled with the AVX2 flags plus -mavx512f -mavx512bw -mavx512vl; only
 * called after quant_cpu.c has seen all of them at run time.  The floating
 * dots use 512-bit registers; the integer kernels keep the 256-bit steps of
 * quant_x86.h: the decoders write 32-byte pieces, and a 512-bit version of
 * isa_dot256 (permute-expanded scales, two loads merged) measured slower. */
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

#include "quant_kern.h"
