/* quant_gemv512.h - AVX-512 matrix-vector kernels (quant_gemv_fn): many
 * weight rows against one activation row, the token-generation product.
 *
 * Included by quant_avx512.c after quant_tile512.h (whose dpbusd / dpwssd
 * primitives it uses), so it is compiled with and without VNNI too.
 *
 * Design.  A mat-vec streams each weight byte once, so the cost per weight
 * block is what matters; everything that depends on the activation only is
 * hoisted out of the row loop into a small table built once per call (per
 * chunk of GV_KC elements, so the table is bounded and stays in L1):
 *
 *   32-element types, groups of 4 blocks (128 elements):
 *     a[2]    the activation quants of the group, 64 per zmm;
 *     init[2] -BIAS * (sum of the 4 activation quants of each int32 lane),
 *             the seed of the dpbusd, so the weights' offset costs nothing;
 *     da      lanes 4j..4j+3: block j's activation scale.
 *   Per row and group: two loads; the quants (and the f16 scales) are put in
 *   place with vpermw, whose word granularity suits the 18-byte Q4_0 block;
 *   two dpbusd; the two int32 vectors (8 lanes per block) are folded into one
 *   with 4 lanes per block (two shuffle_i32x4 and an add), so the float work
 *   (convert, scale, FMA) is done once per 4 blocks, not per block.
 *
 *   256-element types, per superblock:
 *     a[4]    the activation quants permuted into the order the weight
 *             decoder produces (Q4_K: low nibbles of 64 bytes, then high);
 *     s       Q4_K: the per-32 activation sums at int16 lanes 8..15 (they
 *             meet the mins); Q6_K: the 16 bsums (they meet the offset 32);
 *     da      the activation scale (Q4_K: lanes 0-7 +d, 8-15 -d).
 *   Per row: maddubs then dpwssd with the sub-block scales spread by vpermw;
 *   Q4_K packs its scale sum (lanes 0-7) and min sum (8-15) into one int32
 *   vector, so one convert and one FMA (by d*da | -dmin*da) finish it.
 *
 * Rows are done GV_NR at a time, sharing the activation loads.  A row's last
 * partial group is copied into a zeroed buffer first: the kernels never read
 * past a row's last block (the last row may end a mapping), and the missing
 * blocks have zero scales and zero activations.
 *
 * Range contract as quant_tile512.h: maddubs needs u <= 128 with |a| <= 127;
 * Q8_0 (u up to 255) has a kernel only with VNNI. */
#ifndef HALO_QUANT_GEMV512_H
#define HALO_QUANT_GEMV512_H

#include "quant_tile512.h"

/* The row and column loops of a tile must be unrolled for its accumulators
 * to live in registers; GCC does not do it on its own at -O2. */
#define GV_UNROLL _Pragma("GCC unroll 16")

#ifdef QUANT_AVX512_VNNI
#define GV_VNNI 1 /* dpbusd is one instruction, not three */
#else
#define GV_VNNI 0
#endif

#define GV_KC 8192 /* gemv activation elements per chunk: 64 groups, 32 superblocks */
#define GV_NR 2    /* gemv rows per pass */
#define GV_TR 4    /* largest xgemm tile, rows x columns (32-element types) */
#define GV_TC 4
#define GVK_TC 8   /* 256-element types: 1 row x GVK_TC columns */

/* ==== 32-element types ================================================= */

struct gv32_act {
	__m512i a[2], init[2];
	__m512 da;
};

/* Groups of up to 4 Q8_0 blocks; blocks past nb are zero.  nib: the order
 * of the nibble decoders (a[0] elements 0-15 of the four blocks, a[1]
 * elements 16-31; one seed, in init[0]); else the natural order (a[0]
 * blocks 0, 1 and a[1] blocks 2, 3, each with its seed). */
static void gv32_prep(const struct blk_q8_0 *ab, int64_t nb, int bias, bool nib, struct gv32_act *o)
{
	const __m512i idx4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
	const __m512i bv = _mm512_set1_epi8((char)bias);

	for (int64_t g = 0; 4 * g < nb; g++) {
		const struct blk_q8_0 *b = ab + 4 * g;
		int m = nb - 4 * g < 4 ? (int)(nb - 4 * g) : 4;
		uint8_t q[128] __attribute__((aligned(64)));
		uint16_t d[8] = { 0 };

		memset(q, 0, sizeof(q));
		for (int j = 0; j < m; j++) {
			if (nib) {
				memcpy(q + 16 * j, b[j].qs, 16);
				memcpy(q + 64 + 16 * j, b[j].qs + 16, 16);
			} else {
				memcpy(q + 32 * j, b[j].qs, 32);
			}
			d[j] = b[j].d;
		}
		GV_UNROLL
		for (int h = 0; h < 2; h++)
			o[g].a[h] = _mm512_load_si512((const void *)(q + 64 * h));
		if (nib) {
			o[g].init[0] = qg_dpbusd(qg_dpbusd(_mm512_setzero_si512(), bv, o[g].a[0]), bv, o[g].a[1]);
			o[g].init[1] = _mm512_setzero_si512();
		} else {
			GV_UNROLL
			for (int h = 0; h < 2; h++)
				o[g].init[h] = qg_dpbusd(_mm512_setzero_si512(), bv, o[g].a[h]);
		}
		GV_UNROLL
		for (int h = 0; h < 2; h++)
			o[g].init[h] = _mm512_sub_epi32(_mm512_setzero_si512(), o[g].init[h]);
		o[g].da = _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(
			_mm_cvtph_ps(_mm_loadu_si128((const __m128i *)d))));
	}
}

/* Fold X (blocks 0, 1: 8 lanes each) and Y (blocks 2, 3) into 4 lanes per
 * block, block j at lanes 4j..4j+3. */
QG_INLINE __m512i gv_fold(__m512i x, __m512i y)
{
	return _mm512_add_epi32(_mm512_shuffle_i32x4(x, y, 0x88), _mm512_shuffle_i32x4(x, y, 0xdd));
}

/* vpermw indexes, word lanes 0-15: the word of block j's scale at lanes
 * 4j..4j+3, for Q4_0 (bytes 0..63) and Q8_0 (bytes 0..63, then 68..131). */
static const int16_t gv_idx32[2][32] __attribute__((aligned(64))) = {
	{ 0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27 },
	{ 0, 0, 0, 0, 17, 17, 17, 17, 32, 32, 32, 32, 49, 49, 49, 49 },
};

/* A decoded group of one weight row: the unsigned quants against a[0] and
 * a[1], and the four block scales at lanes 4j..4j+3. */
struct gv32_w {
	__m512i u[2];
	__m512 dw;
};

/* Q4_0 group (72 bytes) at p: the 16 quant bytes of block j into 128-bit
 * lane j (loads and inserts: no shuffle port), low nibbles against a[0],
 * high ones against a[1], so each lane sums within its block. */
QG_INLINE void xw_q4_0(const uint8_t *p, struct gv32_w *o)
{
	const __m512i m15 = _mm512_set1_epi8(15);
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + 2)));

	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 20)), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 38)), 2);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 56)), 3);
	o->u[0] = _mm512_and_si512(v, m15);
	o->u[1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
	o->dw = _mm512_cvtph_ps(_mm512_castsi512_si256(
		_mm512_permutexvar_epi16(qg_idx(gv_idx32[0]), _mm512_loadu_si512((const void *)p))));
}

QG_INLINE __m512i xd_q4_0(const struct gv32_w *w, const struct gv32_act *x)
{
	return qg_dpbusd(qg_dpbusd(x->init[0], w->u[0], x->a[0]), w->u[1], x->a[1]);
}

/* Q8_0 group (136 bytes) at p: quants as 32-byte loads, made unsigned; the
 * scales at words 0 and 17 of bytes 0..63 and of bytes 68..131. */
QG_INLINE void xw_q8_0(const uint8_t *p, struct gv32_w *o)
{
	const __m512i sgn = _mm512_set1_epi8((char)0x80);
	__m512i d = _mm512_permutex2var_epi16(_mm512_loadu_si512((const void *)p), qg_idx(gv_idx32[1]),
					      _mm512_loadu_si512((const void *)(p + 68)));

	o->u[0] = _mm512_xor_si512(qg_ld2x32(p + 2, p + 36, true), sgn);
	o->u[1] = _mm512_xor_si512(qg_ld2x32(p + 70, p + 104, true), sgn);
	o->dw = _mm512_cvtph_ps(_mm512_castsi512_si256(d));
}

QG_INLINE __m512i xd_q8_0(const struct gv32_w *w, const struct gv32_act *x)
{
	return gv_fold(qg_dpbusd(x->init[0], w->u[0], x->a[0]), qg_dpbusd(x->init[1], w->u[1], x->a[1]));
}

typedef void (*xw32_fn)(const uint8_t *p, struct gv32_w *o);
typedef __m512i (*xd32_fn)(const struct gv32_w *w, const struct gv32_act *x);

/* An NR x NC tile: rows w + r * ws (nb blocks of bs bytes) against the
 * tables x + c * xs; out[c * os + r] = dot (+= when add).  A row's last
 * partial group is decoded from a zeroed copy.  pf: prefetch the next NR
 * rows (a streaming mat-vec; the hardware prefetcher alone leaves DRAM
 * bandwidth unused). */
QG_INLINE void tile32x(const uint8_t *w, size_t ws, int64_t nb, size_t bs, const struct gv32_act *x,
		       size_t xs, float *out, size_t os, bool add, bool pf, const int NR, const int NC,
		       xw32_fn dec, xd32_fn dot)
{
	const int64_t nfull = nb / 4, ng = (nb + 3) / 4;
	__m512 acc[GV_TR][GV_TC];

	GV_UNROLL
	for (int r = 0; r < NR; r++)
		GV_UNROLL
		for (int c = 0; c < NC; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int64_t g = 0; g < ng; g++) {
		struct gv32_w rw[GV_TR];

		GV_UNROLL
		for (int r = 0; r < NR; r++) {
			const uint8_t *p = w + (size_t)r * ws + (size_t)g * 4 * bs;

			if (g < nfull) {
				if (pf)
					for (size_t o = 0; o < 4 * bs; o += 64)
						_mm_prefetch((const char *)p + NR * ws + o, _MM_HINT_T0);
				dec(p, &rw[r]);
			} else {
				uint8_t tail[4 * 34] __attribute__((aligned(64)));

				memset(tail, 0, sizeof(tail));
				memcpy(tail, p, (size_t)(nb - 4 * nfull) * bs);
				dec(tail, &rw[r]);
			}
		}
		GV_UNROLL
		for (int c = 0; c < NC; c++) {
			const struct gv32_act *xa = x + (size_t)c * xs + g;

			GV_UNROLL
			for (int r = 0; r < NR; r++)
				acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot(&rw[r], xa)),
							    _mm512_mul_ps(rw[r].dw, xa->da), acc[r][c]);
		}
	}
	GV_UNROLL
	for (int r = 0; r < NR; r++)
		GV_UNROLL
		for (int c = 0; c < NC; c++)
			out[(size_t)c * os + r] = (add ? out[(size_t)c * os + r] : 0.0f) +
						  _mm512_reduce_add_ps(acc[r][c]);
}

QG_INLINE void gv32(int64_t n, int64_t nr, const void *w, size_t ws, const void *a, float *out,
		    size_t bs, int bias, bool nib, xw32_fn dec, xd32_fn dot)
{
	struct gv32_act act[GV_KC / 128];

	for (int64_t k0 = 0; k0 < n; k0 += GV_KC) {
		int64_t nb = (n - k0 < GV_KC ? n - k0 : GV_KC) / 32;
		const uint8_t *wk = (const uint8_t *)w + (size_t)(k0 / 32) * bs;
		int64_t r = 0;

		gv32_prep((const struct blk_q8_0 *)a + k0 / 32, nb, bias, nib, act);
		for (; r + GV_NR <= nr; r += GV_NR)
			tile32x(wk + (size_t)r * ws, ws, nb, bs, act, 0, out + r, 0, k0 > 0, true, GV_NR, 1, dec, dot);
		for (; r < nr; r++)
			tile32x(wk + (size_t)r * ws, ws, nb, bs, act, 0, out + r, 0, k0 > 0, true, 1, 1, dec, dot);
	}
}

/* Tiles of GV_TR or 1 rows x 1..GV_TC columns over prepared rows (xs bytes
 * apart); few shapes, to keep the compile time of this file bounded. */
#define GV_CASES32(NRV, NCV, ...)                                                               \
	switch ((NRV == GV_TR) * GV_TC + (NCV - 1)) {                                           \
	case 0: tile32x(__VA_ARGS__, 1, 1, dec, dot); break;                                    \
	case 1: tile32x(__VA_ARGS__, 1, 2, dec, dot); break;                                    \
	case 2: tile32x(__VA_ARGS__, 1, 3, dec, dot); break;                                    \
	case 3: tile32x(__VA_ARGS__, 1, 4, dec, dot); break;                                    \
	case 4: tile32x(__VA_ARGS__, GV_TR, 1, dec, dot); break;                                \
	case 5: tile32x(__VA_ARGS__, GV_TR, 2, dec, dot); break;                                \
	case 6: tile32x(__VA_ARGS__, GV_TR, 3, dec, dot); break;                                \
	default: tile32x(__VA_ARGS__, GV_TR, 4, dec, dot); break;                               \
	}

QG_INLINE void xg32(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws, const void *x,
		    size_t xs, float *out, size_t os, size_t bs, xw32_fn dec, xd32_fn dot)
{
	const int64_t nb = n / 32;
	const size_t xg = xs / sizeof(struct gv32_act);

	for (int64_t c = 0; c < nc; c += GV_TC)
		for (int64_t r = 0; r < nr;) {
			int tr = nr - r < GV_TR ? 1 : GV_TR;
			int tc = nc - c < GV_TC ? (int)(nc - c) : GV_TC;

			GV_CASES32(tr, tc, (const uint8_t *)w + (size_t)r * ws, ws, nb, bs,
				   (const struct gv32_act *)x + (size_t)c * xg, xg, out + (size_t)c * os + r, os,
				   false, false)
			r += tr;
		}
}

/* ==== 256-element types ================================================ */

struct gvk_act {
	__m512i a[4];
	__m512i s;
	__m512 da;
};

/* Q4_K element order: step k < 4 holds the low (k even) or high (k odd)
 * nibbles of qs[64(k/2) .. +63], i.e. elements 128(k/2) + 32(k%2) + l and
 * 128(k/2) + 64 + 32(k%2) + l for l < 32.  s: the per-32 sums at int16
 * lanes 16..23 (where gv_q4_k puts the mins). */
static void gvk_prep_q4_k(const struct blk_q8_k *ab, int64_t ns, struct gvk_act *o)
{
	for (int64_t i = 0; i < ns; i++) {
		const int8_t *q = ab[i].qs;
		int16_t s16[32] __attribute__((aligned(64))) = { 0 };

		GV_UNROLL
		for (int k = 0; k < 4; k++)
			o[i].a[k] = qg_ld2x32(q + 128 * (k / 2) + 32 * (k % 2), q + 128 * (k / 2) + 64 + 32 * (k % 2), true);
		for (int j = 0; j < 8; j++)
			s16[16 + j] = (int16_t)(ab[i].bsums[2 * j] + ab[i].bsums[2 * j + 1]);
		o[i].s = _mm512_load_si512((const void *)s16);
		o[i].da = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(ab[i].d), _mm512_set1_ps(-ab[i].d));
	}
}

/* Q6_K: natural order; s: the 16 bsums in the low half. */
static void gvk_prep_q6_k(const struct blk_q8_k *ab, int64_t ns, struct gvk_act *o)
{
	for (int64_t i = 0; i < ns; i++) {
		GV_UNROLL
		for (int k = 0; k < 4; k++)
			o[i].a[k] = _mm512_loadu_si512((const void *)(ab[i].qs + 64 * k));
		o[i].s = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)ab[i].bsums));
		o[i].da = _mm512_set1_ps(ab[i].d);
	}
}

/* Byte tables of the Q4_K scale unpacking, per 128-bit lane (all four lanes
 * the same): gather (P) and high-bit (Q) sources, the 6-/4-bit masks; then
 * the pshufb indexes that spread the unpacked bytes [sc0..7, mn0..7] into
 * int16 vectors: step k's scales (sub-blocks a_k at lanes 0-1, a_k + 2 at
 * lanes 2-3), and the mins at lane 2; last, the packed order's scales
 * (see xd_q4_k): sub-blocks 0, 1 | 2, 3 and 4, 5 | 6, 7, four words each. */
#define GV_X 0x80 /* pshufb: zero */
#define GV_L4(...) { __VA_ARGS__, __VA_ARGS__, __VA_ARGS__, __VA_ARGS__ }
#define GV_SC(a, b) { a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, \
		      a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, a, GV_X, \
		      b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, \
		      b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X, b, GV_X }
#define GV_W4(a) a, GV_X, a, GV_X, a, GV_X, a, GV_X
#define GV_SP(a, b, c, d) { GV_W4(a), GV_W4(b), GV_W4(a), GV_W4(b), GV_W4(c), GV_W4(d), GV_W4(c), GV_W4(d) }
static const uint8_t gv_k4_tab[10][64] __attribute__((aligned(64))) = {
	GV_L4(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11),
	GV_L4(GV_X, GV_X, GV_X, GV_X, 0, 1, 2, 3, GV_X, GV_X, GV_X, GV_X, 4, 5, 6, 7),
	GV_L4(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15),
	GV_SC(0, 2), GV_SC(1, 3), GV_SC(4, 6), GV_SC(5, 7),
	{ GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X,
	  GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X,
	  8, GV_X, 9, GV_X, 10, GV_X, 11, GV_X, 12, GV_X, 13, GV_X, 14, GV_X, 15, GV_X,
	  GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X, GV_X },
	GV_SP(0, 1, 2, 3), GV_SP(4, 5, 6, 7),
};
#undef GV_SP
#undef GV_W4
#undef GV_SC
#undef GV_L4
#undef GV_X

static const uint8_t gv_dd_tab[32] __attribute__((aligned(32))) = {
	0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
};

QG_INLINE __m512i gv_tab(int i)
{
	return _mm512_load_si512((const void *)gv_k4_tab[i]);
}

/* The 8 (scale, min) pairs of a Q4_K / Q5_K superblock as bytes
 * [sc0..7, mn0..7], in every 128-bit lane (format: scale_min_k4 of
 * quant_kern.h).  Reads 16 bytes at s (12 scale bytes, then quants). */
QG_INLINE __m512i gv_scales_k4(const uint8_t *s)
{
	__m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)s));
	__m512i p = _mm512_shuffle_epi8(v, gv_tab(0)), q = _mm512_shuffle_epi8(v, gv_tab(1));

	p = _mm512_and_si512(_mm512_mask_srli_epi16(p, 0xc0c0c0c0u, p, 4), gv_tab(2));
	q = _mm512_and_si512(_mm512_srli_epi16(q, 2), _mm512_set1_epi8(0x30));
	return _mm512_or_si512(p, q);
}

/* A decoded superblock of one weight row: the quants of the four steps,
 * their int16 scale vectors, the mins (Q4_K: int16 lanes 16..23) or the
 * scales (Q6_K: 16 int16 in the low half), and the float scale(s). */
struct gvk_w {
	__m512i u[4], sc[4], mn;
	__m512 dd;
};

/* Q4_K: dd = d at lanes 0-7, dmin at 8-15. */
QG_INLINE void xw_q4_k(const uint8_t *p, struct gvk_w *o)
{
	const struct blk_q4_k *b = (const struct blk_q4_k *)p;
	const __m512i m15 = _mm512_set1_epi8(15);
	__m512i sm = gv_scales_k4(b->scales);
	__m512i q0 = _mm512_loadu_si512((const void *)b->qs), q1 = _mm512_loadu_si512((const void *)(b->qs + 64));
	int32_t dm;

	o->u[0] = _mm512_and_si512(q0, m15);
	o->u[1] = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m15);
	o->u[2] = _mm512_and_si512(q1, m15);
	o->u[3] = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m15);
	GV_UNROLL
	for (int k = 0; k < (GV_VNNI ? 2 : 4); k++)
		o->sc[k] = _mm512_shuffle_epi8(sm, gv_tab((GV_VNNI ? 8 : 3) + k));
	o->mn = _mm512_shuffle_epi8(sm, gv_tab(7));
	memcpy(&dm, p, 4);
	o->dd = _mm512_cvtph_ps(_mm256_shuffle_epi8(_mm256_set1_epi32(dm),
						    _mm256_load_si256((const __m256i *)gv_dd_tab)));
}

/* Lanes 0-7: the scale sums (times d * da); lanes 8-15: the min sums
 * (times -dmin * da), so one convert and one FMA finish the superblock.
 * With VNNI the steps are dpbusd into int32 sums of 4 products (at most
 * 4 * 15 * 127 in magnitude, so they fit int16); two steps are packed into
 * one int16 vector and meet their scales in one dpwssd: 2 scale vectors
 * and 6 multiplies per superblock instead of 4 and 8. */
/* The scaled integer dot of a superblock's four steps, shared by Q4_K and
 * Q6_K: 4 products of u < 64 with int8 sum to at most 4 * 63 * 127, so
 * with VNNI two dpbusd steps pack into one int16 vector for one dpwssd. */
QG_INLINE __m512i xd_steps(const struct gvk_w *w, const struct gvk_act *x)
{
	__m512i i32 = _mm512_setzero_si512();

	if (GV_VNNI) {
		GV_UNROLL
		for (int h = 0; h < 2; h++) {
			__m512i p0 = qg_dpbusd(_mm512_setzero_si512(), w->u[2 * h], x->a[2 * h]);
			__m512i p1 = qg_dpbusd(_mm512_setzero_si512(), w->u[2 * h + 1], x->a[2 * h + 1]);

			i32 = qg_dpwssd(i32, _mm512_packs_epi32(p0, p1), w->sc[h]);
		}
	} else {
		GV_UNROLL
		for (int k = 0; k < 4; k++)
			i32 = qg_dpwssd(i32, _mm512_maddubs_epi16(w->u[k], x->a[k]), w->sc[k]);
	}
	return i32;
}

QG_INLINE __m512 xd_q4_k(const struct gvk_w *w, const struct gvk_act *x, __m512 acc)
{
	__m512i i32 = xd_steps(w, x), z;

	z = _mm512_madd_epi16(w->mn, x->s);
	z = _mm512_mask_blend_epi32(0xff00, _mm512_castsi256_si512(_mm256_add_epi32(
		_mm512_castsi512_si256(i32), _mm512_extracti64x4_epi64(i32, 1))), z);
	return _mm512_fmadd_ps(_mm512_cvtepi32_ps(z), _mm512_mul_ps(w->dd, x->da), acc);
}

/* vpermw indexes of the Q6_K scales in the packed order of xd_q6_k: in
 * 128-bit lane L, four words of step 2h's sub-block L, then four of step
 * 2h + 1's (16-element sub-blocks 8h + L and 8h + 4 + L). */
#define GV_Q6(h, L) 8*h+L, 8*h+L, 8*h+L, 8*h+L, 8*h+4+L, 8*h+4+L, 8*h+4+L, 8*h+4+L
static const int16_t gv_idx6[2][32] __attribute__((aligned(64))) = {
	{ GV_Q6(0, 0), GV_Q6(0, 1), GV_Q6(0, 2), GV_Q6(0, 3) },
	{ GV_Q6(1, 0), GV_Q6(1, 1), GV_Q6(1, 2), GV_Q6(1, 3) },
};
#undef GV_Q6

/* Q6_K: the tile decoder's order (natural); the offset 32 meets the bsums. */
QG_INLINE void xw_q6_k(const uint8_t *p, struct gvk_w *o)
{
	const struct blk_q6_k *b = (const struct blk_q6_k *)p;
	const __m512i m15 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3);
	__m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
	__m512i sc5 = _mm512_castsi256_si512(sc);

	GV_UNROLL
	for (int h = 0; h < 2; h++) {
		__m512i l = _mm512_loadu_si512((const void *)(b->ql + 64 * h));
		__m256i q = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
		__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);

		o->u[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m15),
					      _mm512_slli_epi16(_mm512_and_si512(hh, m3), 4));
		o->u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m15),
						  _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hh, 4), m3), 4));
	}
	GV_UNROLL
	for (int k = 0; k < (GV_VNNI ? 2 : 4); k++)
		o->sc[k] = _mm512_permutexvar_epi16(qg_idx(GV_VNNI ? gv_idx6[k] : qg_idx16[k]), sc5);
	o->mn = _mm512_zextsi256_si512(sc);
	o->dd = _mm512_cvtph_ps(_mm256_set1_epi16((short)b->d));
}

QG_INLINE __m512 xd_q6_k(const struct gvk_w *w, const struct gvk_act *x, __m512 acc)
{
	__m512i i32 = xd_steps(w, x);
	__m256i off = _mm256_slli_epi32(_mm256_madd_epi16(_mm512_castsi512_si256(w->mn),
							  _mm512_castsi512_si256(x->s)), 5);

	i32 = _mm512_sub_epi32(i32, _mm512_zextsi256_si512(off));
	return _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), _mm512_mul_ps(w->dd, x->da), acc);
}

typedef void (*xwk_fn)(const uint8_t *p, struct gvk_w *o);
typedef __m512 (*xdk_fn)(const struct gvk_w *w, const struct gvk_act *x, __m512 acc);
typedef void (*gvk_prep_fn)(const struct blk_q8_k *ab, int64_t ns, struct gvk_act *o);

/* NR x NC tile, as tile32x: superblocks are never partial. */
QG_INLINE void tilekx(const uint8_t *w, size_t ws, int64_t ns, size_t bs, const struct gvk_act *x,
		      size_t xs, float *out, size_t os, bool add, bool pf, const int NR, const int NC,
		      xwk_fn dec, xdk_fn dot)
{
	__m512 acc[GV_NR][GVK_TC];

	GV_UNROLL
	for (int r = 0; r < NR; r++)
		GV_UNROLL
		for (int c = 0; c < NC; c++)
			acc[r][c] = _mm512_setzero_ps();
	for (int64_t i = 0; i < ns; i++)
		GV_UNROLL
		for (int r = 0; r < NR; r++) {
			const uint8_t *p = w + (size_t)r * ws + (size_t)i * bs;
			struct gvk_w rw;

			if (pf)
				for (size_t o = 0; o < bs; o += 64)
					_mm_prefetch((const char *)p + NR * ws + o, _MM_HINT_T0);
			dec(p, &rw);
			GV_UNROLL
			for (int c = 0; c < NC; c++)
				acc[r][c] = dot(&rw, x + (size_t)c * xs + i, acc[r][c]);
		}
	GV_UNROLL
	for (int r = 0; r < NR; r++)
		GV_UNROLL
		for (int c = 0; c < NC; c++)
			out[(size_t)c * os + r] = (add ? out[(size_t)c * os + r] : 0.0f) +
						  _mm512_reduce_add_ps(acc[r][c]);
}

QG_INLINE void gvk(int64_t n, int64_t nr, const void *w, size_t ws, const void *a, float *out,
		   size_t bs, gvk_prep_fn prep, xwk_fn dec, xdk_fn dot)
{
	struct gvk_act act[GV_KC / 256];

	for (int64_t k0 = 0; k0 < n; k0 += GV_KC) {
		int64_t ns = (n - k0 < GV_KC ? n - k0 : GV_KC) / 256;
		const uint8_t *wk = (const uint8_t *)w + (size_t)(k0 / 256) * bs;
		int64_t r = 0;

		prep((const struct blk_q8_k *)a + k0 / 256, ns, act);
		for (; r + GV_NR <= nr; r += GV_NR)
			tilekx(wk + (size_t)r * ws, ws, ns, bs, act, 0, out + r, 0, k0 > 0, true, GV_NR, 1, dec, dot);
		for (; r < nr; r++)
			tilekx(wk + (size_t)r * ws, ws, ns, bs, act, 0, out + r, 0, k0 > 0, true, 1, 1, dec, dot);
	}
}

/* Each row decoded once per GVK_TC columns (its 10 vectors stay in
 * registers next to the GVK_TC accumulators); narrower edges in halves. */
QG_INLINE void xgk(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws, const void *x,
		   size_t xs, float *out, size_t os, size_t bs, xwk_fn dec, xdk_fn dot)
{
	const int64_t ns = n / 256;
	const size_t xg = xs / sizeof(struct gvk_act);

	for (int64_t c = 0; c < nc;) {
		int64_t left = nc - c;
		int tc = left >= GVK_TC ? GVK_TC : left >= 4 ? 4 : left >= 2 ? 2 : 1;

		for (int64_t r = 0; r < nr; r++) {
			const uint8_t *wr = (const uint8_t *)w + (size_t)r * ws;
			const struct gvk_act *xc = (const struct gvk_act *)x + (size_t)c * xg;
			float *o = out + (size_t)c * os + r;

			if (tc == GVK_TC)
				tilekx(wr, ws, ns, bs, xc, xg, o, os, false, false, 1, GVK_TC, dec, dot);
			else if (tc == 4)
				tilekx(wr, ws, ns, bs, xc, xg, o, os, false, false, 1, 4, dec, dot);
			else if (tc == 2)
				tilekx(wr, ws, ns, bs, xc, xg, o, os, false, false, 1, 2, dec, dot);
			else
				tilekx(wr, ws, ns, bs, xc, xg, o, os, false, false, 1, 1, dec, dot);
		}
		c += tc;
	}
}

/* ==== instantiation ===================================================== */

/* Prepared activation rows: the tables above for a whole row. */
static size_t xs32(int64_t n)
{
	return (size_t)((n / 32 + 3) / 4) * sizeof(struct gv32_act);
}

static size_t xsk(int64_t n)
{
	return (size_t)(n / 256) * sizeof(struct gvk_act);
}

#define GV_DEF32(T, BIAS, NIB)                                                                  \
	static void gv_##T##_run(int64_t n, int64_t nr, const void *w, size_t ws, const void *a,     \
				 float *out)                                                     \
	{                                                                                       \
		gv32(n, nr, w, ws, a, out, sizeof(struct blk_##T), BIAS, NIB, xw_##T, xd_##T);  \
	}                                                                                       \
	static void xp_##T(const void *a, void *x, int64_t n)                                   \
	{                                                                                       \
		gv32_prep(a, n / 32, BIAS, NIB, x);                                             \
	}                                                                                       \
	static void xg_##T(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws,         \
			   const void *x, size_t xs, float *out, size_t os)                     \
	{                                                                                       \
		xg32(n, nr, nc, w, ws, x, xs, out, os, sizeof(struct blk_##T), xw_##T, xd_##T); \
	}

#define GV_DEFK(T)                                                                              \
	static void gv_##T##_run(int64_t n, int64_t nr, const void *w, size_t ws, const void *a,     \
				 float *out)                                                     \
	{                                                                                       \
		gvk(n, nr, w, ws, a, out, sizeof(struct blk_##T), gvk_prep_##T, xw_##T, xd_##T); \
	}                                                                                       \
	static void xp_##T(const void *a, void *x, int64_t n)                                   \
	{                                                                                       \
		gvk_prep_##T(a, n / 256, x);                                                    \
	}                                                                                       \
	static void xg_##T(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws,         \
			   const void *x, size_t xs, float *out, size_t os)                     \
	{                                                                                       \
		xgk(n, nr, nc, w, ws, x, xs, out, os, sizeof(struct blk_##T), xw_##T, xd_##T);  \
	}

GV_DEF32(q4_0, 8, true)
GV_DEFK(q4_k)
GV_DEFK(q6_k)
#ifdef QUANT_AVX512_VNNI
GV_DEF32(q8_0, 128, false)
#endif

#endif
