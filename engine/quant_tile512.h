/* quant_tile512.h - register-tiled integer kernels for AVX-512: one template
 * for the gemm tile (and vec_dot, its 1 x 1 case) of the common weight types.
 *
 * Included by quant_avx512.c, which is compiled twice: without and with
 * QUANT_AVX512_VNNI (-mavx512vnni).  Only the two multiply-accumulate
 * primitives differ between the two.
 *
 * Design.  A weight row is decoded, straight into registers, into unsigned
 * bytes u (never stored and reloaded), 64 elements per zmm:
 *
 *   32-element types, two blocks per step, against Q8_0 activations a:
 *       q = u - BIAS, w = d * q (+ m):
 *       sum w*a*da = d*da * (sum u*a - BIAS * sum a) (+ m*da * sum a)
 *     Lanes 0-7 hold block b, lanes 8-15 block b+1; the activation side
 *     computes BIAS * sum a once per column (one dpbusd against a constant),
 *     and it seeds the accumulator of every row, so a (row, column) pair
 *     costs one dpbusd, one convert, one multiply and one FMA per 64
 *     elements.
 *   256-element types, four steps per superblock, against Q8_K:
 *       w = d * sc[s] * u - dm * mn[s]   (s: the 16-element sub-block)
 *     per step: maddubs(u, a) gives 16-bit pair sums, dpwssd multiplies them
 *     by the sub-block scales (one int16 lane per pair) and accumulates;
 *     the mins meet the activation's bsums (madd) once per superblock.
 *     Types whose offset is a multiple of the scale (Q6_K: q = u - 32) fold
 *     it into the mins, dm = d, so the term joins the integer sum.
 *
 * A tile of NR rows x NC columns (compile-time, <= QUANT_GEMM_NR x NC) keeps
 * its NR*NC float accumulators in registers; 32 zmm registers hold a 4 x 4
 * tile with its decoded rows.
 *
 * Range contract (quant_kern.h): a in [-127, 127].  maddubs(u, a) saturates
 * above 32767, so u <= 128 for any maddubs path; Q8_0 and IQ4_NL (u up to
 * 255) have tiles only with VNNI, whose dpbusd sums into 32 bits. */
#ifndef HALO_QUANT_TILE512_H
#define HALO_QUANT_TILE512_H

#include <string.h>

#include "quant_x86.h"

#define QG_NR QUANT_GEMM_NR
#define QG_NC QUANT_GEMM_NC
#define QG_INLINE static inline __attribute__((always_inline))

/* acc + sum of 4 u8*s8 products per int32 lane. */
QG_INLINE __m512i qg_dpbusd(__m512i acc, __m512i u, __m512i a)
{
#ifdef QUANT_AVX512_VNNI
	return _mm512_dpbusd_epi32(acc, u, a);
#else
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, a), _mm512_set1_epi16(1)));
#endif
}

/* acc + sum of 2 s16*s16 products per int32 lane. */
QG_INLINE __m512i qg_dpwssd(__m512i acc, __m512i p, __m512i s)
{
#ifdef QUANT_AVX512_VNNI
	return _mm512_dpwssd_epi32(acc, p, s);
#else
	return _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
#endif
}

/* Two f16 scales: lanes 0-7 the first, 8-15 the second. */
QG_INLINE __m512 qg_d2(uint16_t h0, uint16_t h1)
{
	return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(_cvtsh_ss(h0)), _mm512_set1_ps(_cvtsh_ss(h1)));
}

/* 32 bytes at p0 (and p1 when two) as one zmm. */
QG_INLINE __m512i qg_ld2x32(const void *p0, const void *p1, bool two)
{
	__m256i x = _mm256_loadu_si256((const __m256i *)p0);
	__m256i y = two ? _mm256_loadu_si256((const __m256i *)p1) : _mm256_setzero_si256();

	return _mm512_inserti64x4(_mm512_castsi256_si512(x), y, 1);
}

/* The nibbles of 16 bytes at p0 (and p1): 128-bit lanes lo(p0) hi(p0) lo(p1)
 * hi(p1), matching elements 0-15, 16-31 of each 32-element block. */
QG_INLINE __m512i qg_nib2(const void *p0, const void *p1, bool two)
{
	__m128i x = _mm_loadu_si128((const __m128i *)p0);
	__m128i y = two ? _mm_loadu_si128((const __m128i *)p1) : _mm_setzero_si128();
	__m512i v = _mm512_castsi128_si512(x);

	v = _mm512_inserti32x4(v, x, 1);
	v = _mm512_inserti32x4(v, y, 2);
	v = _mm512_inserti32x4(v, y, 3);
	v = _mm512_mask_blend_epi64(0xcc, v, _mm512_srli_epi16(v, 4));
	return _mm512_and_si512(v, _mm512_set1_epi8(15));
}

/* ==== 32-element types ================================================= */

/* Row decoder: blocks b (and b+1 when two) as u, d (and m for types with
 * a min), per the lane layout above. */
struct qg_w32 {
	__m512i u;
	__m512 d, m;
};

QG_INLINE void qw_q4_0(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_q4_0 *p = (const struct blk_q4_0 *)x + b;

	o->u = qg_nib2(p[0].qs, p[1].qs, two);
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
}

QG_INLINE void qw_q4_1(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_q4_1 *p = (const struct blk_q4_1 *)x + b;

	o->u = qg_nib2(p[0].qs, p[1].qs, two);
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
	o->m = qg_d2(p[0].m, two ? p[1].m : 0);
}

/* Bit j of qh is bit 4 of element j: add 16 under a byte mask. */
QG_INLINE __m512i qg_hbit16(__m512i u, const uint8_t *qh0, const uint8_t *qh1, bool two)
{
	uint32_t h0, h1 = 0;

	memcpy(&h0, qh0, 4);
	if (two)
		memcpy(&h1, qh1, 4);
	return _mm512_mask_add_epi8(u, _cvtu64_mask64((uint64_t)h1 << 32 | h0), u, _mm512_set1_epi8(16));
}

QG_INLINE void qw_q5_0(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_q5_0 *p = (const struct blk_q5_0 *)x + b;

	o->u = qg_hbit16(qg_nib2(p[0].qs, p[1].qs, two), p[0].qh, p[1].qh, two);
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
}

QG_INLINE void qw_q5_1(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_q5_1 *p = (const struct blk_q5_1 *)x + b;

	o->u = qg_hbit16(qg_nib2(p[0].qs, p[1].qs, two), p[0].qh, p[1].qh, two);
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
	o->m = qg_d2(p[0].m, two ? p[1].m : 0);
}

QG_INLINE void qw_q8_0(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_q8_0 *p = (const struct blk_q8_0 *)x + b;

	o->u = _mm512_xor_si512(qg_ld2x32(p[0].qs, p[1].qs, two), _mm512_set1_epi8((char)0x80));
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
}

/* The IQ4 grid plus 128. */
QG_INLINE void qw_iq4_nl(const void *x, int64_t b, bool two, struct qg_w32 *o)
{
	const struct blk_iq4_nl *p = (const struct blk_iq4_nl *)x + b;
	const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
		1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166,
		(char)181, (char)197, (char)217, (char)241));

	o->u = _mm512_shuffle_epi8(lut, qg_nib2(p[0].qs, p[1].qs, two));
	o->d = qg_d2(p[0].d, two ? p[1].d : 0);
}

typedef void (*qg_w32_fn)(const void *x, int64_t b, bool two, struct qg_w32 *o);

/* One step (blocks b, b+1) of an NR x NC tile.  bias: the offset BIAS as
 * an unsigned byte (0: none). */
QG_INLINE void step32(const uint8_t *w, size_t ws, const uint8_t *a, size_t as, int64_t b,
		      bool two, const int NR, const int NC, qg_w32_fn dec, int bias, bool has_min,
		      __m512 acc[QG_NR][QG_NC])
{
	struct qg_w32 rw[QG_NR];

	for (int r = 0; r < NR; r++)
		dec(w + (size_t)r * ws, b, two, &rw[r]);
	for (int c = 0; c < NC; c++) {
		const struct blk_q8_0 *ab = (const struct blk_q8_0 *)(a + (size_t)c * as) + b;
		__m512i q = qg_ld2x32(ab[0].qs, ab[1].qs, two);
		__m512 da = qg_d2(ab[0].d, two ? ab[1].d : 0);
		__m512i init = _mm512_setzero_si512();
		__m512 sf = _mm512_setzero_ps();

		if (bias)
			init = _mm512_sub_epi32(init, qg_dpbusd(init, _mm512_set1_epi8((char)bias), q));
		if (has_min)
			sf = _mm512_mul_ps(da, _mm512_cvtepi32_ps(
				qg_dpbusd(_mm512_setzero_si512(), _mm512_set1_epi8(1), q)));
		for (int r = 0; r < NR; r++) {
			__m512i i = qg_dpbusd(init, rw[r].u, q);

			acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(rw[r].d, da), acc[r][c]);
			if (has_min)
				acc[r][c] = _mm512_fmadd_ps(rw[r].m, sf, acc[r][c]);
		}
	}
}

QG_INLINE void tile32(int64_t n, const void *w, size_t ws, const void *a, size_t as, float *out,
		      size_t os, const int NR, const int NC, qg_w32_fn dec, int bias, bool has_min)
{
	const int64_t nb = n / 32;
	__m512 acc[QG_NR][QG_NC];
	int64_t b = 0;

	for (int r = 0; r < NR; r++)
		for (int c = 0; c < NC; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (; b + 2 <= nb; b += 2)
		step32(w, ws, a, as, b, true, NR, NC, dec, bias, has_min, acc);
	if (b < nb)
		step32(w, ws, a, as, b, false, NR, NC, dec, bias, has_min, acc);
	for (int r = 0; r < NR; r++)
		for (int c = 0; c < NC; c++)
			out[(size_t)c * os + r] = _mm512_reduce_add_ps(acc[r][c]);
}

/* ==== 256-element types ================================================ */

/* A decoded superblock row: step k covers elements 64k..64k+63; sc[k] holds
 * one int16 scale per maddubs pair; mn the 16 per-16 mins (bsums order). */
struct qg_w256 {
	__m512i u[4], sc[4];
	__m256i mn;
	float d, dm;
};

/* int16 lane j of step k's scale vector is scale[idx(k, j)]. */
static const int16_t qg_idx32[4][32] __attribute__((aligned(64))) = {
#define I32(k) { 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, 2*k, \
		 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, \
		 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1, 2*k+1 }
	I32(0), I32(1), I32(2), I32(3),
#undef I32
};
static const int16_t qg_idx16[4][32] __attribute__((aligned(64))) = {
#define I16(k) { 4*k, 4*k, 4*k, 4*k, 4*k, 4*k, 4*k, 4*k, 4*k+1, 4*k+1, 4*k+1, 4*k+1, \
		 4*k+1, 4*k+1, 4*k+1, 4*k+1, 4*k+2, 4*k+2, 4*k+2, 4*k+2, 4*k+2, 4*k+2, \
		 4*k+2, 4*k+2, 4*k+3, 4*k+3, 4*k+3, 4*k+3, 4*k+3, 4*k+3, 4*k+3, 4*k+3 }
	I16(0), I16(1), I16(2), I16(3),
#undef I16
};
/* Per-32 mins at lanes 8..15 of a 16-lane vector, each repeated for the two
 * bsums of its sub-block. */
static const int16_t qg_idx_mn[16] __attribute__((aligned(32))) = {
	8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15
};

QG_INLINE __m512i qg_idx(const int16_t *p)
{
	return _mm512_load_si512((const void *)p);
}

/* Q4_K / Q5_K scales: 8 six-bit (sc, mn) pairs packed in 12 bytes, unpacked
 * four at a time in 32-bit words; lanes 0-7 sc, 8-15 mn. */
QG_INLINE __m256i qg_scales_k4(const uint8_t s[12])
{
	uint32_t u0, u1, u2;

	memcpy(&u0, s, 4);
	memcpy(&u1, s + 4, 4);
	memcpy(&u2, s + 8, 4);
	return _mm256_cvtepu8_epi16(_mm_setr_epi32(
		(int)(u0 & 0x3f3f3f3fu), (int)((u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4),
		(int)(u1 & 0x3f3f3f3fu), (int)(((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4)));
}

QG_INLINE void qg_k4_common(const uint8_t s[12], uint16_t d, uint16_t dmin, struct qg_w256 *o)
{
	__m256i sm = qg_scales_k4(s);
	__m512i sm5 = _mm512_castsi256_si512(sm);

	for (int k = 0; k < 4; k++)
		o->sc[k] = _mm512_permutexvar_epi16(qg_idx(qg_idx32[k]), sm5);
	o->mn = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)qg_idx_mn), sm);
	o->d = _cvtsh_ss(d);
	o->dm = -_cvtsh_ss(dmin);
}

/* Step k: the low nibbles of qs[32k..] then the high ones. */
QG_INLINE __m512i qg_nib32(const uint8_t *qs)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)qs);
	__m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);

	return _mm512_and_si512(x, _mm512_set1_epi8(15));
}

QG_INLINE void qw_q4_k(const void *x, int64_t i, struct qg_w256 *o)
{
	const struct blk_q4_k *b = (const struct blk_q4_k *)x + i;

	for (int k = 0; k < 4; k++)
		o->u[k] = qg_nib32(b->qs + 32 * k);
	qg_k4_common(b->scales, b->d, b->dmin, o);
}

/* Q5_K: bit 2k of qh[l] is bit 4 of element 64k + l, bit 2k+1 that of
 * 64k + 32 + l. */
QG_INLINE void qw_q5_k(const void *x, int64_t i, struct qg_w256 *o)
{
	const struct blk_q5_k *b = (const struct blk_q5_k *)x + i;
	__m256i h = _mm256_loadu_si256((const __m256i *)b->qh);
	__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 1), 1);
	const __m512i one = _mm512_set1_epi8(1);

	for (int k = 0; k < 4; k++) {
		__m512i hb = _mm512_and_si512(_mm512_srli_epi16(hh, 2 * k), one);

		o->u[k] = _mm512_or_si512(qg_nib32(b->qs + 32 * k), _mm512_slli_epi16(hb, 4));
	}
	qg_k4_common(b->scales, b->d, b->dmin, o);
}

/* Q6_K half h: ql[64h..64h+63] low nibbles are elements 128h + 0..63, high
 * nibbles 128h + 64..127; the two high bits come from qh[32h + l] bits
 * (0,1) (2,3) (4,5) (6,7) for the four 32-element quarters. */
QG_INLINE void qw_q6_k(const void *x, int64_t i, struct qg_w256 *o)
{
	const struct blk_q6_k *b = (const struct blk_q6_k *)x + i;
	const __m512i m15 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3);
	__m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));

	for (int h = 0; h < 2; h++) {
		__m512i l = _mm512_loadu_si512((const void *)(b->ql + 64 * h));
		__m256i q = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
		__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);

		o->u[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m15),
					      _mm512_slli_epi16(_mm512_and_si512(hh, m3), 4));
		o->u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m15),
						  _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hh, 4), m3), 4));
	}
	for (int k = 0; k < 4; k++)
		o->sc[k] = _mm512_permutexvar_epi16(qg_idx(qg_idx16[k]), _mm512_castsi256_si512(sc));
	o->mn = _mm256_slli_epi16(sc, 5); /* 32 * sc: the offset, folded */
	o->d = o->dm = _cvtsh_ss(b->d);
}

typedef void (*qg_w256_fn)(const void *x, int64_t i, struct qg_w256 *o);

/* fold: dm == d (offset types), so the mins join the integer sum. */
QG_INLINE void tile256(int64_t n, const void *w, size_t ws, const void *a, size_t as, float *out,
		       size_t os, const int NR, const int NC, qg_w256_fn dec, bool fold)
{
	__m512 acc[QG_NR][QG_NC];

	for (int r = 0; r < NR; r++)
		for (int c = 0; c < NC; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int64_t i = 0; i < n / 256; i++) {
		struct qg_w256 rw[QG_NR];

		for (int r = 0; r < NR; r++)
			dec((const uint8_t *)w + (size_t)r * ws, i, &rw[r]);
		for (int c = 0; c < NC; c++) {
			const struct blk_q8_k *ab = (const struct blk_q8_k *)((const uint8_t *)a + (size_t)c * as) + i;
			__m256i bs = _mm256_loadu_si256((const __m256i *)ab->bsums);
			__m512i acci[QG_NR];

			for (int r = 0; r < NR; r++) {
				acci[r] = _mm512_setzero_si512();
				if (fold)
					acci[r] = _mm512_zextsi256_si512(_mm256_sub_epi32(
						_mm256_setzero_si256(), _mm256_madd_epi16(rw[r].mn, bs)));
			}
			for (int k = 0; k < 4; k++) {
				__m512i q = _mm512_loadu_si512((const void *)(ab->qs + 64 * k));

				for (int r = 0; r < NR; r++)
					acci[r] = qg_dpwssd(acci[r], _mm512_maddubs_epi16(rw[r].u[k], q), rw[r].sc[k]);
			}
			for (int r = 0; r < NR; r++) {
				acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acci[r]),
							    _mm512_set1_ps(rw[r].d * ab->d), acc[r][c]);
				if (!fold) {
					__m256 m = _mm256_cvtepi32_ps(_mm256_madd_epi16(rw[r].mn, bs));

					acc[r][c] = _mm512_fmadd_ps(_mm512_zextps256_ps512(m),
								    _mm512_set1_ps(rw[r].dm * ab->d), acc[r][c]);
				}
			}
		}
	}
	for (int r = 0; r < NR; r++)
		for (int c = 0; c < NC; c++)
			out[(size_t)c * os + r] = _mm512_reduce_add_ps(acc[r][c]);
}

/* ==== instantiation ===================================================== */

/* Every (nr, nc) up to 4 x 4 as its own fully unrolled kernel. */
#define QG_CASES(KERN, ...)                                                                     \
	switch ((nr - 1) * 4 + (nc - 1)) {                                                       \
	case 0: KERN(n, w, ws, a, as, out, os, 1, 1, __VA_ARGS__); break;                      \
	case 1: KERN(n, w, ws, a, as, out, os, 1, 2, __VA_ARGS__); break;                      \
	case 2: KERN(n, w, ws, a, as, out, os, 1, 3, __VA_ARGS__); break;                      \
	case 3: KERN(n, w, ws, a, as, out, os, 1, 4, __VA_ARGS__); break;                      \
	case 4: KERN(n, w, ws, a, as, out, os, 2, 1, __VA_ARGS__); break;                      \
	case 5: KERN(n, w, ws, a, as, out, os, 2, 2, __VA_ARGS__); break;                      \
	case 6: KERN(n, w, ws, a, as, out, os, 2, 3, __VA_ARGS__); break;                      \
	case 7: KERN(n, w, ws, a, as, out, os, 2, 4, __VA_ARGS__); break;                      \
	case 8: KERN(n, w, ws, a, as, out, os, 3, 1, __VA_ARGS__); break;                      \
	case 9: KERN(n, w, ws, a, as, out, os, 3, 2, __VA_ARGS__); break;                      \
	case 10: KERN(n, w, ws, a, as, out, os, 3, 3, __VA_ARGS__); break;                     \
	case 11: KERN(n, w, ws, a, as, out, os, 3, 4, __VA_ARGS__); break;                     \
	case 12: KERN(n, w, ws, a, as, out, os, 4, 1, __VA_ARGS__); break;                     \
	case 13: KERN(n, w, ws, a, as, out, os, 4, 2, __VA_ARGS__); break;                     \
	case 14: KERN(n, w, ws, a, as, out, os, 4, 3, __VA_ARGS__); break;                     \
	default: KERN(n, w, ws, a, as, out, os, 4, 4, __VA_ARGS__); break;                     \
	}

#define QG_DEF(T, KERN, ...)                                                                    \
	static void qg_##T##_gemm(int64_t n, int nr, int nc, const void *w, size_t ws, const void *a,  \
			   size_t as, float *out, size_t os)                                     \
	{                                                                                        \
		QG_CASES(KERN, qw_##T, __VA_ARGS__)                                             \
	}                                                                                        \
	static float qg_##T##_vd(int64_t n, const void *w, const void *a)                             \
	{                                                                                        \
		float r;                                                                         \
		KERN(n, w, 0, a, 0, &r, 0, 1, 1, qw_##T, __VA_ARGS__);                          \
		return r;                                                                        \
	}

QG_DEF(q4_0, tile32, 8, false)
QG_DEF(q4_1, tile32, 0, true)
QG_DEF(q5_0, tile32, 16, false)
QG_DEF(q5_1, tile32, 0, true)
QG_DEF(q4_k, tile256, false)
QG_DEF(q5_k, tile256, false)
QG_DEF(q6_k, tile256, true)
#ifdef QUANT_AVX512_VNNI
QG_DEF(q8_0, tile32, 128, false)
QG_DEF(iq4_nl, tile32, 128, false)
#endif

#endif
