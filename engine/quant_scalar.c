/* quant_scalar.c - the portable C kernel set (always built, always usable).
 *
 * Defines the quant_kern.h primitives in plain C and instantiates the
 * templates as quant_kernels_scalar.  Its to_float is the reference
 * dequantization behind quant_traits.to_float. */
#include "engine_int.h"

#define ISA_NAME "scalar"
#define ISA_TABLE quant_kernels_scalar

static inline float isa_f16(uint16_t h)
{
	return quant_f16_to_f32(h);
}

static inline void isa_nib_lut(const uint8_t *src, int nb, const int8_t tbl[16], int8_t *out)
{
	for (int j = 0; j < nb; j++) {
		out[j] = tbl[src[j] & 15];
		out[nb + j] = tbl[src[j] >> 4];
	}
}

static inline void isa_add_hbits32(int8_t *q, uint32_t bits, int bias)
{
	for (int j = 0; j < 32; j++)
		q[j] = (int8_t)((q[j] | (int)(((bits >> j) & 1u) << 4)) - bias);
}

typedef float isa_vf;
#define ISA_FW 1

static inline isa_vf isa_vf_zero(void) { return 0.0f; }
static inline isa_vf isa_vf_fma(isa_vf acc, isa_vf x, isa_vf y) { return acc + x * y; }
static inline float isa_vf_hsum(isa_vf v) { return v; }
static inline void isa_vf_store(float *p, isa_vf v) { *p = v; }
static inline isa_vf isa_vf_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline isa_vf isa_vf_f16(const void *p, int64_t i) { return quant_f16_to_f32(((const uint16_t *)p)[i]); }
static inline isa_vf isa_vf_bf16(const void *p, int64_t i) { return quant_bf16_to_f32(((const uint16_t *)p)[i]); }

typedef float isa_a32;
static inline isa_a32 isa_a32_zero(void) { return 0.0f; }
static inline float isa_a32_hsum(isa_a32 acc) { return acc; }

static inline isa_a32 isa_dot32(isa_a32 acc, const int8_t *q, const int8_t *a, float s, float sm, bool has_min)
{
	int32_t sq = 0, sa = 0;

	for (int j = 0; j < 32; j++) {
		sq += q[j] * a[j];
		sa += a[j];
	}
	acc += s * (float)sq;
	if (has_min)
		acc += sm * (float)sa;
	return acc;
}

static inline int32_t isa_dot256(const int8_t *q, const int8_t *a, const int16_t *sc)
{
	int32_t sum = 0;

	for (int s = 0; s < 16; s++) {
		int32_t p = 0;

		for (int j = 0; j < 16; j++)
			p += q[16 * s + j] * a[16 * s + j];
		sum += sc[s] * p;
	}
	return sum;
}

#include "quant_kern.h"
