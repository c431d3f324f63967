/* quant_r16_512.h - AVX-512 VNNI kernels of the row-interleaved layouts
 * (quant_r16.c has the layouts): 16 weight rows x 1..4 activation columns.
 *
 * Included by quant_avx512.c in its VNNI build only, after quant_tile512.h.
 *
 * Int32 lane r of every vector belongs to weight row r of the group.  A
 * step is 64 bytes of weights, 4 per row; its dpbusd takes the matching 4
 * activation bytes broadcast from memory (one instruction with its load),
 * so a step advances 16 rows by 4 elements and no row sum ever crosses
 * lanes.  Scale vectors (one value per row) are decoded once per block and
 * serve all columns.
 *
 * Nibbles.  Low nibbles are masked (& 0x0F); high nibbles are masked in
 * place (& 0xF0), i.e. 16 times their value, which dpbusd takes as well
 * (u8 operand), and their sums are divided by 16 (exact) once per block;
 * this saves a shift per step.  Likewise Q6_K's steps 32-47 are built 4
 * times their value.
 *
 * Offsets.  Q4_0 (q - 8) and Q8_0 (stored q + 128) need -bias * sum(a) per
 * block: xprep stores it next to the activation quants and it seeds the
 * accumulator.  Q6_K (q - 32) seeds each 16-element sub-block's accumulator
 * with -32 * bsum from the Q8_K activations.  Q4_K's mins meet the per-32
 * activation sums in a dpwssd.
 *
 * Ranges (|a| <= 127): a Q4_K sub-block sums 32 * 15 * 127 (x16 for high
 * nibbles), times a 6-bit scale, eight of them: < 2^28.  Q6_K: 16 * 32 *
 * 127 (x4), times |scale| <= 128, sixteen: < 2^28.  Q8_0: 32 * 255 * 127. */
#ifndef HALO_QUANT_R16_512_H
#define HALO_QUANT_R16_512_H

#include "quant_tile512.h"

#define R16_NC 4 /* largest column tile */
#ifndef R16_PF
#define R16_PF 2 /* blocks fetched ahead by a mat-vec */
#endif
#ifndef R16_PF32
#define R16_PF32 8 /* the same, 32-element types */
#endif
#define R16_UNROLL _Pragma("GCC unroll 16")

/* (a & c) | b, bitwise */
#define R16_SEL(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0xEC)

QG_INLINE __m512i r16_bc(const void *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

QG_INLINE __m512i r16_b8(int v)
{
	return _mm512_set1_epi8((char)v);
}

/* ==== 32-element types ================================================== */

/* A prepared activation block: -bias * sum(qs) and the scale. */
struct r16_x32 {
	int32_t nsa;
	float d;
	int8_t qs[32];
};

static size_t r16_xsize32(int64_t n)
{
	return (size_t)(n / 32) * sizeof(struct r16_x32);
}

static void r16_prep32(const void *a, void *x, int64_t n, int bias)
{
	const struct blk_q8_0 *b = a;
	struct r16_x32 *o = x;

	for (int64_t i = 0; i < n / 32; i++) {
		__m256i q = _mm256_loadu_si256((const __m256i *)b[i].qs);
		/* sum of (q + 128) as unsigned bytes, less 32 * 128 */
		__m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)),
					    _mm256_setzero_si256());
		__m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
		int32_t sum = (int32_t)(_mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1)) - 32 * 128;

		o[i].nsa = -bias * sum;
		o[i].d = quant_f16_to_f32(b[i].d);
		_mm256_storeu_si256((__m256i *)o[i].qs, q);
	}
}

static void r16_xp_q4_0(const void *a, void *x, int64_t n)
{
	r16_prep32(a, x, n, 8);
}

static void r16_xp_q8_0(const void *a, void *x, int64_t n)
{
	r16_prep32(a, x, n, 128);
}

/* One 16-row group x NC columns over nb blocks of bs bytes; Q4_0 when nib. */
QG_INLINE void r16_tile32(int64_t nb, const uint8_t *w, size_t bs, const struct r16_x32 *const *x,
			  float *out, size_t os, const int NC, const bool nib)
{
	__m512 acc[R16_NC];

	R16_UNROLL
	for (int c = 0; c < NC; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *p = w + (size_t)b * bs;

		if (NC == 1)
			for (size_t o = 0; o < bs; o += 64)
				_mm_prefetch((const char *)p + R16_PF32 * bs + o, _MM_HINT_T0);
		__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
		__m512i s[R16_NC], h[R16_NC];

		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			s[c] = _mm512_set1_epi32(x[c][b].nsa);
			h[c] = _mm512_setzero_si512();
		}
		if (nib) {
			R16_UNROLL
			for (int i = 0; i < 4; i++) {
				__m512i v = _mm512_loadu_si512((const void *)(p + 32 + 64 * i));
				__m512i lo = _mm512_and_si512(v, r16_b8(0x0F)), hi = _mm512_and_si512(v, r16_b8(0xF0));

				R16_UNROLL
				for (int c = 0; c < NC; c++) {
					s[c] = _mm512_dpbusd_epi32(s[c], lo, r16_bc(x[c][b].qs + 4 * i));
					h[c] = _mm512_dpbusd_epi32(h[c], hi, r16_bc(x[c][b].qs + 16 + 4 * i));
				}
			}
		} else {
			R16_UNROLL
			for (int i = 0; i < 8; i++) {
				__m512i v = _mm512_loadu_si512((const void *)(p + 32 + 64 * i));

				R16_UNROLL
				for (int c = 0; c < NC; c++) {
					if (i & 1)
						h[c] = _mm512_dpbusd_epi32(h[c], v, r16_bc(x[c][b].qs + 4 * i));
					else
						s[c] = _mm512_dpbusd_epi32(s[c], v, r16_bc(x[c][b].qs + 4 * i));
				}
			}
		}
		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			__m512i t = _mm512_add_epi32(s[c], nib ? _mm512_srai_epi32(h[c], 4) : h[c]);

			acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dw, _mm512_set1_ps(x[c][b].d)),
						 acc[c]);
		}
	}
	R16_UNROLL
	for (int c = 0; c < NC; c++)
		_mm512_storeu_ps(out + (size_t)c * os, acc[c]);
}

/* ==== Q4_K ============================================================== */

/* Decode a block's 6-bit scales and mins into bytes: t[0] byte 16q + r is
 * row r's sc_q, t[1] sc_{q+4}, t[2] m_q, t[3] m_{q+4}. */
QG_INLINE void r16_q4_k_scales(const uint8_t *p, uint8_t t[4][64])
{
	const __m512i m0f = r16_b8(0x0F), m30 = r16_b8(0x30);
	__m512i sl = _mm512_loadu_si512((const void *)(p + 64)), ml = _mm512_loadu_si512((const void *)(p + 128));
	__m512i h = _mm512_loadu_si512((const void *)(p + 192));

	_mm512_store_si512((void *)t[0], R16_SEL(sl, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), m0f));
	_mm512_store_si512((void *)t[1], R16_SEL(_mm512_srli_epi16(sl, 4),
						 _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), m0f));
	_mm512_store_si512((void *)t[2], R16_SEL(ml, _mm512_and_si512(h, m30), m0f));
	_mm512_store_si512((void *)t[3], R16_SEL(_mm512_srli_epi16(ml, 4),
						 _mm512_and_si512(_mm512_srli_epi16(h, 2), m30), m0f));
}

/* Sub-block j's scales (k = 0) or mins (k = 2) as int32 lanes. */
QG_INLINE __m512i r16_k4_vec(uint8_t t[4][64], int k, int j)
{
	return _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(t[k + j / 4] + 16 * (j % 4))));
}

QG_INLINE void r16_tile_q4_k(int64_t ns, const uint8_t *w, const struct blk_q8_k *const *x, float *out,
			     size_t os, const int NC)
{
	__m512 acc[R16_NC];

	R16_UNROLL
	for (int c = 0; c < NC; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t i = 0; i < ns; i++) {
		const uint8_t *p = w + (size_t)i * 2304;

		if (NC == 1) /* a streaming mat-vec: fetch ahead of the hardware prefetcher */
			for (int o = 0; o < 2304; o += 64)
				_mm_prefetch((const char *)p + R16_PF * 2304 + o, _MM_HINT_T0);
		__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
		__m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));
		__m512i s[R16_NC], s16[R16_NC], m[R16_NC];
		int32_t b32[R16_NC][8] __attribute__((aligned(32)));
		uint8_t t[4][64] __attribute__((aligned(64)));

		r16_q4_k_scales(p, t);
		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			/* per-32 activation sums as int32 (each fits int16) */
			__m256i bs = _mm256_loadu_si256((const __m256i *)x[c][i].bsums);

			_mm256_store_si256((__m256i *)b32[c], _mm256_madd_epi16(bs, _mm256_set1_epi16(1)));
			s[c] = s16[c] = m[c] = _mm512_setzero_si512();
		}
		R16_UNROLL
		for (int ch = 0; ch < 4; ch++) {
			__m512i lo[R16_NC], hi[R16_NC];

			R16_UNROLL
			for (int c = 0; c < NC; c++)
				lo[c] = hi[c] = _mm512_setzero_si512();
			R16_UNROLL
			for (int st = 0; st < 8; st++) {
				__m512i v = _mm512_loadu_si512((const void *)(p + 256 + 512 * ch + 64 * st));
				__m512i vl = _mm512_and_si512(v, r16_b8(0x0F)), vh = _mm512_and_si512(v, r16_b8(0xF0));

				R16_UNROLL
				for (int c = 0; c < NC; c++) {
					const int8_t *a = x[c][i].qs + 64 * ch + 4 * st;

					lo[c] = _mm512_dpbusd_epi32(lo[c], vl, r16_bc(a));
					hi[c] = _mm512_dpbusd_epi32(hi[c], vh, r16_bc(a + 32));
				}
			}
			__m512i sc0 = r16_k4_vec(t, 0, 2 * ch), sc1 = r16_k4_vec(t, 0, 2 * ch + 1);
			__m512i mn0 = r16_k4_vec(t, 2, 2 * ch), mn1 = r16_k4_vec(t, 2, 2 * ch + 1);

			R16_UNROLL
			for (int c = 0; c < NC; c++) {
				s[c] = _mm512_add_epi32(s[c], _mm512_mullo_epi32(lo[c], sc0));
				s16[c] = _mm512_add_epi32(s16[c], _mm512_mullo_epi32(hi[c], sc1));
				/* mins: the int16 low half of the broadcast sum meets the
				 * zero-extended min (high half 0) */
				m[c] = _mm512_dpwssd_epi32(m[c], mn0, _mm512_set1_epi32(b32[c][2 * ch]));
				m[c] = _mm512_dpwssd_epi32(m[c], mn1, _mm512_set1_epi32(b32[c][2 * ch + 1]));
			}
		}
		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			__m512 da = _mm512_set1_ps(x[c][i].d);
			__m512i t = _mm512_add_epi32(s[c], _mm512_srai_epi32(s16[c], 4));

			acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dw, da), acc[c]);
			acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m[c]), _mm512_mul_ps(dm, da), acc[c]);
		}
	}
	R16_UNROLL
	for (int c = 0; c < NC; c++)
		_mm512_storeu_ps(out + (size_t)c * os, acc[c]);
}

/* ==== Q6_K ============================================================== */

QG_INLINE void r16_tile_q6_k(int64_t ns, const uint8_t *w, const struct blk_q8_k *const *x, float *out,
			     size_t os, const int NC)
{
	const __m512i m0f = r16_b8(0x0F), m30 = r16_b8(0x30), m3c = r16_b8(0x3C), mc0 = r16_b8(0xC0);
	__m512 acc[R16_NC];

	R16_UNROLL
	for (int c = 0; c < NC; c++)
		acc[c] = _mm512_setzero_ps();
	for (int64_t i = 0; i < ns; i++) {
		const uint8_t *p = w + (size_t)i * 3360, *v = p + 288, *hp = p + 2336;

		if (NC == 1)
			for (int o = 0; o < 3360; o += 64)
				_mm_prefetch((const char *)p + R16_PF * 3360 + o, _MM_HINT_T0);
		__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
		__m512i s[R16_NC], s4[R16_NC];
		int32_t init[R16_NC][16] __attribute__((aligned(64)));

		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			__m512i b = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)x[c][i].bsums));

			_mm512_store_si512((void *)init[c], _mm512_sub_epi32(_mm512_setzero_si512(),
									 _mm512_slli_epi32(b, 5)));
			s[c] = s4[c] = _mm512_setzero_si512();
		}
		R16_UNROLL
		for (int g = 0; g < 4; g++) {
			/* sub-blocks g, 4 + g, 8 + g (x4), 12 + g */
			__m512i a0[R16_NC], a1[R16_NC], a2[R16_NC], a3[R16_NC];

			R16_UNROLL
			for (int c = 0; c < NC; c++) {
				a0[c] = _mm512_set1_epi32(init[c][g]);
				a1[c] = _mm512_set1_epi32(init[c][4 + g]);
				a2[c] = _mm512_set1_epi32(4 * init[c][8 + g]);
				a3[c] = _mm512_set1_epi32(init[c][12 + g]);
			}
			R16_UNROLL
			for (int y = 4 * g; y < 4 * g + 4; y++) {
				__m512i h = _mm512_loadu_si512((const void *)(hp + 64 * y));
				__m512i va = _mm512_loadu_si512((const void *)(v + 64 * y));
				__m512i vb = _mm512_loadu_si512((const void *)(v + 64 * (y + 16)));
				__m512i u0 = R16_SEL(va, _mm512_and_si512(h, m30), m0f);
				__m512i u1 = R16_SEL(vb, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), m0f);
				__m512i u2 = R16_SEL(_mm512_srli_epi16(va, 2), _mm512_and_si512(h, mc0), m3c);
				__m512i u3 = R16_SEL(_mm512_srli_epi16(vb, 4),
						     _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), m0f);

				R16_UNROLL
				for (int c = 0; c < NC; c++) {
					const int8_t *a = x[c][i].qs + 4 * y;

					a0[c] = _mm512_dpbusd_epi32(a0[c], u0, r16_bc(a));
					a1[c] = _mm512_dpbusd_epi32(a1[c], u1, r16_bc(a + 64));
					a2[c] = _mm512_dpbusd_epi32(a2[c], u2, r16_bc(a + 128));
					a3[c] = _mm512_dpbusd_epi32(a3[c], u3, r16_bc(a + 192));
				}
			}
			{
				const int8_t *sc = (const int8_t *)p + 32;
				__m512i c0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * g)));
				__m512i c1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * (4 + g))));
				__m512i c2 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * (8 + g))));
				__m512i c3 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * (12 + g))));

				R16_UNROLL
				for (int c = 0; c < NC; c++) {
					s[c] = _mm512_add_epi32(s[c], _mm512_mullo_epi32(a0[c], c0));
					s[c] = _mm512_add_epi32(s[c], _mm512_mullo_epi32(a1[c], c1));
					s[c] = _mm512_add_epi32(s[c], _mm512_mullo_epi32(a3[c], c3));
					s4[c] = _mm512_add_epi32(s4[c], _mm512_mullo_epi32(a2[c], c2));
				}
			}
		}
		R16_UNROLL
		for (int c = 0; c < NC; c++) {
			__m512i t = _mm512_add_epi32(s[c], _mm512_srai_epi32(s4[c], 2));

			acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dw, _mm512_set1_ps(x[c][i].d)),
						 acc[c]);
		}
	}
	R16_UNROLL
	for (int c = 0; c < NC; c++)
		_mm512_storeu_ps(out + (size_t)c * os, acc[c]);
}

/* ==== drivers =========================================================== */

/* quant_xgemm_fn over interleaved groups: rows r < nr (a multiple of 16),
 * w at a group's start, ws the row size (a group is 16 * ws bytes),
 * columns x + c * xs.  Column tiles of 4, then 2, then 1. */
#define R16_DRIVER(NAME, XT, TILE, ...)                                                              \
	static void NAME(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws, const void *x,     \
			 size_t xs, float *out, size_t os)                                               \
	{                                                                                            \
		for (int64_t c = 0; c < nc;) {                                                       \
			int tc = nc - c >= 4 ? 4 : nc - c >= 2 ? 2 : 1;                                  \
			const XT *xc[R16_NC];                                                            \
                                                                                                     \
			for (int k = 0; k < tc; k++)                                                     \
				xc[k] = (const XT *)((const char *)x + (size_t)(c + k) * xs);            \
			for (int64_t g = 0; g < nr / 16; g++) {                                          \
				const uint8_t *wg = (const uint8_t *)w + (size_t)g * 16 * ws;            \
				float *o = out + (size_t)c * os + 16 * g;                                \
                                                                                                     \
				if (tc == 4)                                                             \
					TILE(__VA_ARGS__, 4);                                            \
				else if (tc == 2)                                                        \
					TILE(__VA_ARGS__, 2);                                            \
				else                                                                     \
					TILE(__VA_ARGS__, 1);                                            \
			}                                                                                \
			c += tc;                                                                         \
		}                                                                                    \
	}

#define R16_TQ4_0(nb, NC) r16_tile32(nb, wg, 16 * sizeof(struct blk_q4_0), xc, o, os, NC, true)
#define R16_TQ8_0(nb, NC) r16_tile32(nb, wg, 16 * sizeof(struct blk_q8_0), xc, o, os, NC, false)
#define R16_TQ4_K(ns, NC) r16_tile_q4_k(ns, wg, xc, o, os, NC)
#define R16_TQ6_K(ns, NC) r16_tile_q6_k(ns, wg, xc, o, os, NC)

R16_DRIVER(r16_mm_q4_0, struct r16_x32, R16_TQ4_0, n / 32)
R16_DRIVER(r16_mm_q8_0, struct r16_x32, R16_TQ8_0, n / 32)
R16_DRIVER(r16_mm_q4_k, struct blk_q8_k, R16_TQ4_K, n / 256)
R16_DRIVER(r16_mm_q6_k, struct blk_q8_k, R16_TQ6_K, n / 256)

#endif
