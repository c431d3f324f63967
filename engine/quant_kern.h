/* quant_kern.h - the CPU quant kernels, written once, compiled per ISA.
 *
 * This is a template, not an interface: quant_scalar.c, quant_avx2.c and
 * quant_avx512.c each define the ISA primitives listed below and then
 * include this file, which generates that instruction set's
 * `struct quant_kernels ISA_TABLE` (row to_float and vec_dot for every type).
 *
 * Design.  Every quant type is described by one decoder that unpacks a
 * block into small integers plus float scales:
 *
 *   32-element types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 IQ4_NL), struct kb32:
 *       w[j] = d * q[j]            (+ m for the types with a min)
 *   256-element types (Q2_K..Q6_K Q8_K IQ4_XS), struct kb256, e = 0..255:
 *       w[e] = (d * sc[e/16]) * q[e]   (- dmin * mn[e/16] for types with mins)
 *
 * One template per operation then does the rest for all types: to_float
 * applies the formula above (in exactly ggml's float operation order, so
 * the result is bit-identical: this is the reference dequantization), and
 * vec_dot multiplies the integers with the activation quants (Q8_0 for the
 * 32-element types, Q8_K for the 256-element ones) in integer arithmetic,
 * applying the scales per block.  Floating types (F32 F16 BF16) dot against
 * F32 activations through a widening load.
 *
 * The decoders are plain C; the compiler vectorizes them with each file's
 * -m flags.  Only the inner arithmetic is ISA-specific.  Primitives an ISA
 * file provides (static inline unless a macro):
 *
 *   ISA_NAME, ISA_TABLE           "avx2", quant_kernels_avx2
 *   float isa_f16(uint16_t h)     exact f16 -> f32
 *   void isa_nib_lut(const uint8_t *src, int nb, const int8_t tbl[16], int8_t *out)
 *        for j < nb (16 or 32): out[j] = tbl[src[j] & 15], out[nb+j] = tbl[src[j] >> 4]
 *   void isa_add_hbits32(int8_t q[32], uint32_t bits, int bias)
 *        q[j] = (q[j] | ((bits >> j) & 1) << 4) - bias for j < 32
 *   isa_vf, ISA_FW                a vector of ISA_FW floats, with
 *        isa_vf_zero(), isa_vf_fma(acc, x, y) = acc + x*y, isa_vf_hsum(v),
 *        isa_vf_store(float *p, v), and loads of ISA_FW elements i..i+FW-1
 *        widened to f32: isa_vf_f32(p, i), isa_vf_f16(p, i), isa_vf_bf16(p, i)
 *   isa_a32, isa_a32_zero(), isa_a32_hsum(acc)   the block-32 dot accumulator
 *   isa_a32 isa_dot32(isa_a32 acc, const int8_t q[32], const int8_t a[32],
 *                     float s, float sm, bool has_min)
 *        acc + (s * sum q[j]*a[j]) + (has_min ? sm * sum a[j] : 0), spread over lanes
 *   int32_t isa_dot256(const int8_t q[256], const int8_t a[256], const int16_t sc[16])
 *        sum over s < 16 of sc[s] * sum_{j<16} q[16s+j] * a[16s+j]
 *
 * Range contract of the integer kernels: q in [-128, 127], a in [-127, 127]
 * (from_float guarantees it for activations), |sc| <= 128; then a 16-bit
 * pair sum is at most 2*128*127 = 32512 and a superblock sum fits int32.
 */
#ifndef QUANT_KERN_TEMPLATE
#define QUANT_KERN_TEMPLATE
#else
#error "quant_kern.h is a template: include it once per translation unit"
#endif

#include <string.h>

#include "engine_int.h"

#if defined(__GNUC__)
#define QK_INLINE static inline __attribute__((always_inline))
#else
#define QK_INLINE static inline
#endif
#if defined(__GNUC__)
#define QK_UNUSED __attribute__((unused))
#else
#define QK_UNUSED
#endif

/* ==== decoders ========================================================== */

struct kb32 {
	int8_t q[32];
	float d, m;
};

struct kb256 {
	int8_t q[256];
	int16_t sc[16], mn[16];
	float d, dmin;
	int32_t msum; /* sum mn[s] * bsums[s], when the decoder was given bsums */
};

static const int8_t lut_u4[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const int8_t lut_s4[16] = { -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7 };
/* The IQ4 non-linear grid (kvalues_iq4nl of the format). */
static const int8_t lut_iq4[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
				    1, 13, 25, 38, 53, 69, 89, 113 };

QK_INLINE void dec_q4_0(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q4_0 *b = (const struct blk_q4_0 *)x + i;

	isa_nib_lut(b->qs, 16, lut_s4, o->q);
	o->d = isa_f16(b->d);
	o->m = 0.0f;
}

QK_INLINE void dec_q4_1(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q4_1 *b = (const struct blk_q4_1 *)x + i;

	isa_nib_lut(b->qs, 16, lut_u4, o->q);
	o->d = isa_f16(b->d);
	o->m = isa_f16(b->m);
}

/* Bit j of qh is bit 4 of element j. */
QK_INLINE void add_qh5(const uint8_t qh8[4], int8_t q[32], int bias)
{
	uint32_t qh;

	memcpy(&qh, qh8, 4);
	isa_add_hbits32(q, qh, bias);
}

QK_INLINE void dec_q5_0(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q5_0 *b = (const struct blk_q5_0 *)x + i;

	isa_nib_lut(b->qs, 16, lut_u4, o->q);
	add_qh5(b->qh, o->q, 16);
	o->d = isa_f16(b->d);
	o->m = 0.0f;
}

QK_INLINE void dec_q5_1(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q5_1 *b = (const struct blk_q5_1 *)x + i;

	isa_nib_lut(b->qs, 16, lut_u4, o->q);
	add_qh5(b->qh, o->q, 0);
	o->d = isa_f16(b->d);
	o->m = isa_f16(b->m);
}

QK_INLINE void dec_q8_0(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q8_0 *b = (const struct blk_q8_0 *)x + i;

	memcpy(o->q, b->qs, 32);
	o->d = isa_f16(b->d);
	o->m = 0.0f;
}

QK_INLINE void dec_q8_1(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_q8_1 *b = (const struct blk_q8_1 *)x + i;

	memcpy(o->q, b->qs, 32);
	o->d = isa_f16(b->d);
	o->m = 0.0f;
}

QK_INLINE void dec_iq4_nl(const void *x, int64_t i, struct kb32 *o)
{
	const struct blk_iq4_nl *b = (const struct blk_iq4_nl *)x + i;

	isa_nib_lut(b->qs, 16, lut_iq4, o->q);
	o->d = isa_f16(b->d);
	o->m = 0.0f;
}

/* Q2_K / Q3_K element e = 128h + 32j + k (h < 2, j < 4, k < 32) is bits
 * 2j..2j+1 of qs[32h + k]; its scale is entry e/16. */
QK_INLINE void dec_q2_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q2_k *b = (const struct blk_q2_k *)x + i;

	for (int h = 0; h < 2; h++)
		for (int j = 0; j < 4; j++)
			for (int k = 0; k < 32; k++)
				o->q[128 * h + 32 * j + k] = (int8_t)((b->qs[32 * h + k] >> (2 * j)) & 3);
	o->msum = 0;
	for (int s = 0; s < 16; s++) {
		o->sc[s] = b->scales[s] & 15;
		o->mn[s] = b->scales[s] >> 4;
		if (bsums)
			o->msum += o->mn[s] * bsums[s];
	}
	o->d = isa_f16(b->d);
	o->dmin = isa_f16(b->dmin);
}

/* Q3_K: as Q2_K, minus 4 where bit (4h + j) of hmask[k] is clear.  The 16
 * 6-bit scales: low nibble from byte s (s < 8) or the high nibble of byte
 * s-8; bits 4-5 from bits 2*(s/4) of byte 8 + s%4; stored offset by 32. */
QK_INLINE void dec_q3_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q3_k *b = (const struct blk_q3_k *)x + i;
	(void)bsums;

	for (int h = 0; h < 2; h++)
		for (int j = 0; j < 4; j++)
			for (int k = 0; k < 32; k++) {
				int v = (b->qs[32 * h + k] >> (2 * j)) & 3;
				int hb = (b->hmask[k] >> (4 * h + j)) & 1;

				o->q[128 * h + 32 * j + k] = (int8_t)(v - (hb ? 0 : 4));
			}
	for (int s = 0; s < 16; s++) {
		int lo = s < 8 ? b->scales[s] & 15 : b->scales[s - 8] >> 4;
		int hi = (b->scales[8 + s % 4] >> (2 * (s / 4))) & 3;

		o->sc[s] = (int16_t)((lo | hi << 4) - 32);
		o->mn[s] = 0;
	}
	o->d = isa_f16(b->d);
	o->dmin = 0.0f;
}

/* The 6-bit (scale, min) pair j < 8 of Q4_K / Q5_K, applying to elements
 * 32j..32j+31 (the format's get_scale_min_k4). */
QK_INLINE void scale_min_k4(const uint8_t s[12], int j, int16_t *sc, int16_t *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (int16_t)((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
		*m = (int16_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
	}
}

/* The mins' dot with the activation sums is taken here, from registers: a
 * vector load of mn[] right after these small stores would wait for them
 * to retire (no store forwarding), which costs more than the whole dot. */
QK_INLINE void scales_k4(const uint8_t s[12], struct kb256 *o, const int16_t *bsums)
{
	o->msum = 0;
	for (int j = 0; j < 8; j++) {
		int16_t sc, m;

		scale_min_k4(s, j, &sc, &m);
		o->sc[2 * j] = o->sc[2 * j + 1] = sc;
		o->mn[2 * j] = o->mn[2 * j + 1] = m;
		if (bsums)
			o->msum += m * (bsums[2 * j] + bsums[2 * j + 1]);
	}
}

/* Q4_K chunk c < 4: elements 64c+l are the low nibbles of qs[32c+l], 64c+32+l
 * the high ones. */
QK_INLINE void dec_q4_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q4_k *b = (const struct blk_q4_k *)x + i;

	for (int c = 0; c < 4; c++)
		isa_nib_lut(b->qs + 32 * c, 32, lut_u4, o->q + 64 * c);
	scales_k4(b->scales, o, bsums);
	o->d = isa_f16(b->d);
	o->dmin = isa_f16(b->dmin);
}

/* Q5_K: Q4_K plus 16 where bit 2c (low nibble) / 2c+1 (high) of qh[l] is set. */
QK_INLINE void dec_q5_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q5_k *b = (const struct blk_q5_k *)x + i;

	for (int c = 0; c < 4; c++) {
		isa_nib_lut(b->qs + 32 * c, 32, lut_u4, o->q + 64 * c);
		for (int l = 0; l < 32; l++) {
			o->q[64 * c + l] |= (int8_t)(((b->qh[l] >> (2 * c)) & 1) << 4);
			o->q[64 * c + 32 + l] |= (int8_t)(((b->qh[l] >> (2 * c + 1)) & 1) << 4);
		}
	}
	scales_k4(b->scales, o, bsums);
	o->d = isa_f16(b->d);
	o->dmin = isa_f16(b->dmin);
}

/* Q6_K half h < 2 (128 elements), l < 32: four 6-bit values from the nibbles
 * of ql[64h + l], ql[64h + 32 + l] and bit pairs of qh[32h + l]; offset 32.
 * Element e's scale is the int8 scales[e/16]. */
QK_INLINE void dec_q6_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q6_k *b = (const struct blk_q6_k *)x + i;
	(void)bsums;

	for (int h = 0; h < 2; h++) {
		const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
		int8_t *q = o->q + 128 * h;

		for (int l = 0; l < 32; l++) {
			q[l] = (int8_t)(((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32);
			q[l + 32] = (int8_t)(((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
			q[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
			q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
		}
	}
	for (int s = 0; s < 16; s++) {
		o->sc[s] = b->scales[s];
		o->mn[s] = 0;
	}
	o->d = isa_f16(b->d);
	o->dmin = 0.0f;
}

QK_INLINE void dec_q8_k(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_q8_k *b = (const struct blk_q8_k *)x + i;
	(void)bsums;

	memcpy(o->q, b->qs, 256);
	for (int s = 0; s < 16; s++) {
		o->sc[s] = 1;
		o->mn[s] = 0;
	}
	o->d = b->d;
	o->dmin = 0.0f;
}

/* IQ4_XS sub-block ib < 8 (32 elements): the IQ4_NL grid over the nibbles of
 * qs[16ib..], scale = 6-bit (4 low bits from scales_l, 2 from scales_h) - 32. */
QK_INLINE void dec_iq4_xs(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums)
{
	const struct blk_iq4_xs *b = (const struct blk_iq4_xs *)x + i;
	(void)bsums;

	for (int ib = 0; ib < 8; ib++) {
		int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) |
			 (((b->scales_h >> (2 * ib)) & 3) << 4);

		isa_nib_lut(b->qs + 16 * ib, 16, lut_iq4, o->q + 32 * ib);
		o->sc[2 * ib] = o->sc[2 * ib + 1] = (int16_t)(ls - 32);
		o->mn[2 * ib] = o->mn[2 * ib + 1] = 0;
	}
	o->d = isa_f16(b->d);
	o->dmin = 0.0f;
}

/* ==== templates ========================================================= */

typedef void (*dec32_fn)(const void *x, int64_t i, struct kb32 *o);
typedef void (*dec256_fn)(const void *x, int64_t i, struct kb256 *o, const int16_t *bsums);

/* y = d*q (+ m): for types without a min no "+ 0" is added, which would
 * turn a -0 into +0 and break bit equality with ggml. */
QK_INLINE void to_float32(const void *x, float *y, int64_t n, dec32_fn dec, bool has_min)
{
	struct kb32 b;

	for (int64_t i = 0; i < n / 32; i++) {
		dec(x, i, &b);
		for (int j = 0; j < 32; j++)
			y[32 * i + j] = has_min ? (float)b.q[j] * b.d + b.m : (float)b.q[j] * b.d;
	}
}

QK_INLINE void to_float256(const void *x, float *y, int64_t n, dec256_fn dec, bool has_min)
{
	struct kb256 b;

	for (int64_t i = 0; i < n / 256; i++) {
		dec(x, i, &b, NULL);
		for (int s = 0; s < 16; s++) {
			float ds = b.d * (float)b.sc[s], ms = b.dmin * (float)b.mn[s];
			float *o = y + 256 * i + 16 * s;

			for (int j = 0; j < 16; j++)
				o[j] = has_min ? ds * (float)b.q[16 * s + j] - ms
					       : ds * (float)b.q[16 * s + j];
		}
	}
}

/* Weights of a 32-element type against Q8_0 activations. */
QK_INLINE float dot32(int64_t n, const void *w, const void *a, dec32_fn dec, bool has_min)
{
	const struct blk_q8_0 *ab = a;
	isa_a32 acc = isa_a32_zero();
	struct kb32 b;

	for (int64_t i = 0; i < n / 32; i++) {
		float da = isa_f16(ab[i].d);

		dec(w, i, &b);
		acc = isa_dot32(acc, b.q, ab[i].qs, b.d * da, b.m * da, has_min);
	}
	return isa_a32_hsum(acc);
}

/* Weights of a 256-element type against Q8_K activations; the mins use the
 * activation's per-16 sums. */
QK_INLINE float dot256(int64_t n, const void *w, const void *a, dec256_fn dec, bool has_min)
{
	const struct blk_q8_k *ab = a;
	struct kb256 b;
	float sum = 0.0f;

	for (int64_t i = 0; i < n / 256; i++) {
		float r;

		dec(w, i, &b, ab[i].bsums);
		r = b.d * (float)isa_dot256(b.q, ab[i].qs, b.sc);
		if (has_min)
			r -= b.dmin * (float)b.msum;
		sum += ab[i].d * r;
	}
	return sum;
}

typedef isa_vf (*loadf_fn)(const void *p, int64_t i);

/* Scalar f16/bf16/f32 reads for the tails of the float templates. */
static inline float ld1_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline float ld1_f16(const void *p, int64_t i) { return isa_f16(((const uint16_t *)p)[i]); }
static inline float ld1_bf16(const void *p, int64_t i) { return quant_bf16_to_f32(((const uint16_t *)p)[i]); }

/* Floating weights against F32 activations; four accumulators hide the FMA
 * latency. */
QK_INLINE float dotf(int64_t n, const void *w, const void *a, loadf_fn ld, float (*ld1)(const void *, int64_t))
{
	isa_vf s0 = isa_vf_zero(), s1 = isa_vf_zero(), s2 = isa_vf_zero(), s3 = isa_vf_zero();
	int64_t i = 0;
	float sum;

	for (; i + 4 * ISA_FW <= n; i += 4 * ISA_FW) {
		s0 = isa_vf_fma(s0, ld(w, i), isa_vf_f32(a, i));
		s1 = isa_vf_fma(s1, ld(w, i + ISA_FW), isa_vf_f32(a, i + ISA_FW));
		s2 = isa_vf_fma(s2, ld(w, i + 2 * ISA_FW), isa_vf_f32(a, i + 2 * ISA_FW));
		s3 = isa_vf_fma(s3, ld(w, i + 3 * ISA_FW), isa_vf_f32(a, i + 3 * ISA_FW));
	}
	for (; i + ISA_FW <= n; i += ISA_FW)
		s0 = isa_vf_fma(s0, ld(w, i), isa_vf_f32(a, i));
	sum = isa_vf_hsum(s0) + isa_vf_hsum(s1) + isa_vf_hsum(s2) + isa_vf_hsum(s3);
	for (; i < n; i++)
		sum += ld1(w, i) * ((const float *)a)[i];
	return sum;
}

QK_INLINE void to_floatf(const void *x, float *y, int64_t n, loadf_fn ld, float (*ld1)(const void *, int64_t))
{
	int64_t i = 0;

	for (; i + ISA_FW <= n; i += ISA_FW)
		isa_vf_store(y + i, ld(x, i));
	for (; i < n; i++)
		y[i] = ld1(x, i);
}

/* ==== instantiation ===================================================== */

#define QK_TF32(T, HAS_MIN)                                                       \
	static void tf_##T(const void *x, float *y, int64_t n)                        \
	{                                                                             \
		to_float32(x, y, n, dec_##T, HAS_MIN);                                \
	}
/* The gemm of a type without a register-tiled kernel: vec_dot per pair. */
#define QK_GEMM_GENERIC(T)                                                        \
	QK_UNUSED static void gg_##T(int64_t n, int nr, int nc, const void *w,      \
				     size_t ws, const void *a, size_t as, float *out, \
				     size_t os)                                       \
	{                                                                             \
		for (int c = 0; c < nc; c++)                                          \
			for (int r = 0; r < nr; r++)                                  \
				out[(size_t)c * os + r] = vd_##T(n, (const char *)w + (size_t)r * ws, \
								 (const char *)a + (size_t)c * as); \
	}
#define QK_DEF32(T, HAS_MIN)                                                      \
	QK_TF32(T, HAS_MIN)                                                       \
	QK_UNUSED static float vd_##T(int64_t n, const void *w, const void *a)        \
	{                                                                             \
		return dot32(n, w, a, dec_##T, HAS_MIN);                              \
	}                                                                             \
	QK_GEMM_GENERIC(T)

#define QK_TF256(T, HAS_MIN)                                                      \
	static void tf_##T(const void *x, float *y, int64_t n)                        \
	{                                                                             \
		to_float256(x, y, n, dec_##T, HAS_MIN);                               \
	}
#define QK_DEF256(T, HAS_MIN)                                                     \
	QK_TF256(T, HAS_MIN)                                                      \
	QK_UNUSED static float vd_##T(int64_t n, const void *w, const void *a)        \
	{                                                                             \
		return dot256(n, w, a, dec_##T, HAS_MIN);                             \
	}                                                                             \
	QK_GEMM_GENERIC(T)

#define QK_DEFF(T)                                                                \
	static void tf_##T(const void *x, float *y, int64_t n)                        \
	{                                                                             \
		to_floatf(x, y, n, isa_vf_##T, ld1_##T);                              \
	}                                                                             \
	static float vd_##T(int64_t n, const void *w, const void *a)                  \
	{                                                                             \
		return dotf(n, w, a, isa_vf_##T, ld1_##T);                            \
	}                                                                             \
	QK_GEMM_GENERIC(T)

QK_DEFF(f32)
QK_DEFF(f16)
QK_DEFF(bf16)
QK_DEF32(q4_0, false)
QK_DEF32(q4_1, true)
QK_DEF32(q5_0, false)
QK_DEF32(q5_1, true)
QK_DEF32(q8_0, false)
QK_TF32(q8_1, false) /* activation formats: no weight kernel */
QK_DEF32(iq4_nl, false)
QK_DEF256(q2_k, true)
QK_DEF256(q3_k, false)
QK_DEF256(q4_k, true)
QK_DEF256(q5_k, true)
QK_DEF256(q6_k, false)
QK_TF256(q8_k, false)
QK_DEF256(iq4_xs, false)

/* A kernel set with its own register-tiled kernel for type t defines
 * QK_TILED_<t> as the name stem s of its s_vd / s_gemm functions before it
 * includes this file; the other types take the templates above. */
#define QK_CAT_(a, b) a##b
#define QK_CAT(a, b) QK_CAT_(a, b)
#ifdef QK_TILED_q4_0
#define QK_VD_q4_0 QK_CAT(QK_TILED_q4_0, _vd)
#define QK_GM_q4_0 QK_CAT(QK_TILED_q4_0, _gemm)
#else
#define QK_VD_q4_0 vd_q4_0
#define QK_GM_q4_0 gg_q4_0
#endif
#ifdef QK_TILED_q4_1
#define QK_VD_q4_1 QK_CAT(QK_TILED_q4_1, _vd)
#define QK_GM_q4_1 QK_CAT(QK_TILED_q4_1, _gemm)
#else
#define QK_VD_q4_1 vd_q4_1
#define QK_GM_q4_1 gg_q4_1
#endif
#ifdef QK_TILED_q5_0
#define QK_VD_q5_0 QK_CAT(QK_TILED_q5_0, _vd)
#define QK_GM_q5_0 QK_CAT(QK_TILED_q5_0, _gemm)
#else
#define QK_VD_q5_0 vd_q5_0
#define QK_GM_q5_0 gg_q5_0
#endif
#ifdef QK_TILED_q5_1
#define QK_VD_q5_1 QK_CAT(QK_TILED_q5_1, _vd)
#define QK_GM_q5_1 QK_CAT(QK_TILED_q5_1, _gemm)
#else
#define QK_VD_q5_1 vd_q5_1
#define QK_GM_q5_1 gg_q5_1
#endif
#ifdef QK_TILED_q8_0
#define QK_VD_q8_0 QK_CAT(QK_TILED_q8_0, _vd)
#define QK_GM_q8_0 QK_CAT(QK_TILED_q8_0, _gemm)
#else
#define QK_VD_q8_0 vd_q8_0
#define QK_GM_q8_0 gg_q8_0
#endif
#ifdef QK_TILED_iq4_nl
#define QK_VD_iq4_nl QK_CAT(QK_TILED_iq4_nl, _vd)
#define QK_GM_iq4_nl QK_CAT(QK_TILED_iq4_nl, _gemm)
#else
#define QK_VD_iq4_nl vd_iq4_nl
#define QK_GM_iq4_nl gg_iq4_nl
#endif
#ifdef QK_TILED_q2_k
#define QK_VD_q2_k QK_CAT(QK_TILED_q2_k, _vd)
#define QK_GM_q2_k QK_CAT(QK_TILED_q2_k, _gemm)
#else
#define QK_VD_q2_k vd_q2_k
#define QK_GM_q2_k gg_q2_k
#endif
#ifdef QK_TILED_q3_k
#define QK_VD_q3_k QK_CAT(QK_TILED_q3_k, _vd)
#define QK_GM_q3_k QK_CAT(QK_TILED_q3_k, _gemm)
#else
#define QK_VD_q3_k vd_q3_k
#define QK_GM_q3_k gg_q3_k
#endif
#ifdef QK_TILED_q4_k
#define QK_VD_q4_k QK_CAT(QK_TILED_q4_k, _vd)
#define QK_GM_q4_k QK_CAT(QK_TILED_q4_k, _gemm)
#else
#define QK_VD_q4_k vd_q4_k
#define QK_GM_q4_k gg_q4_k
#endif
#ifdef QK_TILED_q5_k
#define QK_VD_q5_k QK_CAT(QK_TILED_q5_k, _vd)
#define QK_GM_q5_k QK_CAT(QK_TILED_q5_k, _gemm)
#else
#define QK_VD_q5_k vd_q5_k
#define QK_GM_q5_k gg_q5_k
#endif
#ifdef QK_TILED_q6_k
#define QK_VD_q6_k QK_CAT(QK_TILED_q6_k, _vd)
#define QK_GM_q6_k QK_CAT(QK_TILED_q6_k, _gemm)
#else
#define QK_VD_q6_k vd_q6_k
#define QK_GM_q6_k gg_q6_k
#endif
#ifdef QK_TILED_iq4_xs
#define QK_VD_iq4_xs QK_CAT(QK_TILED_iq4_xs, _vd)
#define QK_GM_iq4_xs QK_CAT(QK_TILED_iq4_xs, _gemm)
#else
#define QK_VD_iq4_xs vd_iq4_xs
#define QK_GM_iq4_xs gg_iq4_xs
#endif
#ifndef QK_FROM_q8_0
#define QK_FROM_q8_0 NULL
#endif
#ifndef QK_FROM_q8_k
#define QK_FROM_q8_k NULL
#endif

const struct quant_kernels ISA_TABLE = {
	.isa = ISA_NAME,
	.to_float = {
		[QT_F32] = tf_f32, [QT_F16] = tf_f16, [QT_BF16] = tf_bf16,
		[QT_Q4_0] = tf_q4_0, [QT_Q4_1] = tf_q4_1, [QT_Q5_0] = tf_q5_0,
		[QT_Q5_1] = tf_q5_1, [QT_Q8_0] = tf_q8_0, [QT_Q8_1] = tf_q8_1,
		[QT_IQ4_NL] = tf_iq4_nl, [QT_Q2_K] = tf_q2_k, [QT_Q3_K] = tf_q3_k,
		[QT_Q4_K] = tf_q4_k, [QT_Q5_K] = tf_q5_k, [QT_Q6_K] = tf_q6_k,
		[QT_Q8_K] = tf_q8_k, [QT_IQ4_XS] = tf_iq4_xs,
	},
	.vec_dot = {
		[QT_F32] = vd_f32, [QT_F16] = vd_f16, [QT_BF16] = vd_bf16,
		[QT_Q4_0] = QK_VD_q4_0, [QT_Q4_1] = QK_VD_q4_1, [QT_Q5_0] = QK_VD_q5_0,
		[QT_Q5_1] = QK_VD_q5_1, [QT_Q8_0] = QK_VD_q8_0, [QT_IQ4_NL] = QK_VD_iq4_nl,
		[QT_Q2_K] = QK_VD_q2_k, [QT_Q3_K] = QK_VD_q3_k, [QT_Q4_K] = QK_VD_q4_k,
		[QT_Q5_K] = QK_VD_q5_k, [QT_Q6_K] = QK_VD_q6_k, [QT_IQ4_XS] = QK_VD_iq4_xs,
	},
	.gemm = {
		[QT_F32] = gg_f32, [QT_F16] = gg_f16, [QT_BF16] = gg_bf16,
		[QT_Q4_0] = QK_GM_q4_0, [QT_Q4_1] = QK_GM_q4_1, [QT_Q5_0] = QK_GM_q5_0,
		[QT_Q5_1] = QK_GM_q5_1, [QT_Q8_0] = QK_GM_q8_0, [QT_IQ4_NL] = QK_GM_iq4_nl,
		[QT_Q2_K] = QK_GM_q2_k, [QT_Q3_K] = QK_GM_q3_k, [QT_Q4_K] = QK_GM_q4_k,
		[QT_Q5_K] = QK_GM_q5_k, [QT_Q6_K] = QK_GM_q6_k, [QT_IQ4_XS] = QK_GM_iq4_xs,
	},
	.from_float = { [QT_Q8_0] = QK_FROM_q8_0, [QT_Q8_K] = QK_FROM_q8_k },
};
