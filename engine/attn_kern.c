/* attn_kern.c - one tile of attention with online softmax, written with
 * GCC vector extensions (16 floats) so that one source serves every
 * instruction set: built three times (ATTN_SET = scalar, avx2, avx512) with
 * the set's -m flags, the compiler maps the 16-float vectors to 4 SSE, 2 AVX
 * or 1 AVX-512 register.
 *
 * For each query row i of the tile:
 *   s_j  = scale * q_i . k_j            (vectorised over keys: K transposed)
 *   mask s_j outside [lo_i, hi_i)
 *   m'   = max(m_i, max_j s_j);  c = exp(m_i - m')
 *   p_j  = exp(s_j - m')                 (vectorised polynomial exp)
 *   l_i  = l_i * c + sum_j p_j
 *   acc_i = acc_i * c + sum_j p_j v_j    (vectorised over the value width)
 *
 * load() fills a tile from the cache: F16 rows converted 16 values at a
 * time, K transposed in registers 16 x 16 (four rounds of two-source
 * shuffles) rather than by one scalar store per value, which cost more than
 * the tile itself.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#include "attn_kern.h"

typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

#define NV (ATTN_KT / 16)
/* The small fixed loops (tiles, rows, value chunks) fully unrolled at any
 * optimization level: their arrays then live in registers. */
#define ATTN_UNROLL _Pragma("GCC unroll 4")
#define ATTN_UNROLL16 _Pragma("GCC unroll 16")

static inline v16f vload(const float *p)
{
	v16f v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void vstore(float *p, v16f v)
{
	memcpy(p, &v, sizeof(v));
}

/* exp(x) for x <= 0 (softmax arguments), relative error ~2e-7; x below
 * -87 gives ~0.  Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then a
 * degree-6 polynomial, then scale by 2^n through the exponent bits. */
static inline v16f vexp_neg(v16f x)
{
	const v16f lo = (v16f){ 0 } - 87.0f;
	const v16i below = x < lo; /* -inf included */
	v16f t, r, p, sc;
	v16i n, bits;

	x = (v16f)((below & (v16i)lo) | (~below & (v16i)x));
	t = x * 1.44269504088896341f - 0.5f;          /* round to nearest, x <= 0 */
	n = __builtin_convertvector(t, v16i);         /* truncates toward zero */
	r = x - __builtin_convertvector(n, v16f) * 0.693359375f;
	r = r - __builtin_convertvector(n, v16f) * -2.12194440e-4f;
	p = (v16f){ 0 } + 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	bits = (n + 127) << 23;
	memcpy(&sc, &bits, sizeof(sc));
	return p * sc;
}

/* Horizontal max and sum of 16 lanes: four halvings.  Shuffles are
 * __builtin_shufflevector with literal lanes, which GCC (12+) and clang
 * both have. */
#define HALF8(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)
#define HALF4(v) __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)
#define HALF2(v) __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
#define HALF1(v) __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)

static inline v16f vmax(v16f a, v16f b)
{
	return (v16f)(((v16i)(a > b) & (v16i)a) | (~(v16i)(a > b) & (v16i)b));
}

static inline float hmax16(v16f v)
{
	v = vmax(v, HALF8(v));
	v = vmax(v, HALF4(v));
	v = vmax(v, HALF2(v));
	v = vmax(v, HALF1(v));
	return v[0];
}

static inline float hsum16(v16f v)
{
	v += HALF8(v);
	v += HALF4(v);
	v += HALF2(v);
	v += HALF1(v);
	return v[0];
}

/* Query rows i0 .. i0 + R - 1 (R = 1 or 2) of a tile; paired rows share
 * [lo, hi), as a GQA group's rows of one token do.  A pair reads each key
 * and value vector once for both rows and runs twice the independent FMA
 * chains; each row's arithmetic is exactly that of the row alone. */
static inline __attribute__((always_inline)) void rows(const struct attn_tile_args *a, int i0,
								const int R)
{
	const v16i lane = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	const int lo = a->lo[i0], hi = a->hi[i0];
	const float *q[2];
	float *acc[2], pj[2][ATTN_KT] __attribute__((aligned(64))), corr[2];
	v16f s[2][NV];

	ATTN_UNROLL
	for (int r = 0; r < R; r++) {
		q[r] = a->q[i0 + r];
		acc[r] = a->acc + (size_t)(i0 + r) * a->hdv;
		ATTN_UNROLL
		for (int c = 0; c < NV; c++)
			s[r][c] = (v16f){ 0 };
	}
	for (int d = 0; d < a->hd; d++) {
		const float *kr = a->kt + (size_t)d * ATTN_KT;

		ATTN_UNROLL
		for (int c = 0; c < NV; c++) {
			v16f k = vload(kr + 16 * c);

			ATTN_UNROLL
			for (int r = 0; r < R; r++)
				s[r][c] += q[r][d] * k;
		}
	}
	ATTN_UNROLL
	for (int r = 0; r < R; r++) {
		const int i = i0 + r;
		v16f mx = (v16f){ 0 } - INFINITY, vs = (v16f){ 0 };
		float mt, mnew, sum;

		ATTN_UNROLL
		for (int c = 0; c < NV; c++) {
			v16i j = lane + 16 * c;
			v16i in = (j >= lo) & (j < hi);

			s[r][c] *= a->scale;
			/* masked lanes become -inf */
			s[r][c] = (v16f)((in & (v16i)s[r][c]) | (~in & (v16i)mx));
			mx = vmax(s[r][c], mx);
		}
		mt = hmax16(mx);
		mnew = mt > a->m[i] ? mt : a->m[i];
		corr[r] = a->m[i] == -INFINITY ? 0.0f : expf(a->m[i] - mnew);
		ATTN_UNROLL
		for (int c = 0; c < NV; c++) {
			v16i j = lane + 16 * c;
			v16i in = (j >= lo) & (j < hi);
			v16f p = (v16f)(in & (v16i)vexp_neg(s[r][c] - mnew));

			vstore(pj[r] + 16 * c, p);
			vs += p;
		}
		sum = hsum16(vs);
		a->l[i] = a->l[i] * corr[r] + sum;
		a->m[i] = mnew;
	}
	{
		int d = 0;

		/* Four value chunks at a time: four independent FMA chains a row. */
		for (; d + 64 <= a->hdv; d += 64) {
			v16f o[2][4];

			ATTN_UNROLL
			for (int r = 0; r < R; r++)
				ATTN_UNROLL
				for (int u = 0; u < 4; u++)
					o[r][u] = vload(acc[r] + d + 16 * u) * corr[r];
			for (int j = lo; j < hi; j++) {
				const float *vr = a->v + (size_t)j * a->hdv + d;

				ATTN_UNROLL
				for (int u = 0; u < 4; u++) {
					v16f v = vload(vr + 16 * u);

					ATTN_UNROLL
					for (int r = 0; r < R; r++)
						o[r][u] += pj[r][j] * v;
				}
			}
			ATTN_UNROLL
			for (int r = 0; r < R; r++)
				ATTN_UNROLL
				for (int u = 0; u < 4; u++)
					vstore(acc[r] + d + 16 * u, o[r][u]);
		}
		for (; d + 16 <= a->hdv; d += 16)
			ATTN_UNROLL
			for (int r = 0; r < R; r++) {
				v16f o = vload(acc[r] + d) * corr[r];

				for (int j = lo; j < hi; j++)
					o += pj[r][j] * vload(a->v + (size_t)j * a->hdv + d);
				vstore(acc[r] + d, o);
			}
		for (; d < a->hdv; d++)
			ATTN_UNROLL
			for (int r = 0; r < R; r++) {
				float o = acc[r][d] * corr[r];

				for (int j = lo; j < hi; j++)
					o += pj[r][j] * a->v[(size_t)j * a->hdv + d];
				acc[r][d] = o;
			}
	}
}

static void tile(const struct attn_tile_args *a)
{
	for (int i = 0; i < a->nq;) {
		if (a->lo[i] >= a->hi[i]) {
			i++;
		} else if (i + 1 < a->nq && a->lo[i + 1] == a->lo[i] && a->hi[i + 1] == a->hi[i]) {
			rows(a, i, 2);
			i += 2;
		} else {
			rows(a, i, 1);
			i++;
		}
	}
}

/* ---- loading a tile ------------------------------------------------------ */

static inline float ld1(const void *row, int i, bool f16)
{
	uint16_t h;

	if (!f16)
		return ((const float *)row)[i];
	memcpy(&h, (const char *)row + 2 * (size_t)i, 2);
	return quant_f16_to_f32(h);
}

/* 16 values of a row as floats. */
static inline v16f ld16(const void *p, bool f16)
{
	if (!f16)
		return vload(p);
#if defined(__AVX512F__)
	{
		__m512 f = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
		v16f r;

		memcpy(&r, &f, sizeof(r));
		return r;
	}
#elif defined(__F16C__)
	{
		__m256 f0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
		__m256 f1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p + 1));
		v16f r;

		memcpy(&r, &f0, 32);
		memcpy((char *)&r + 32, &f1, 32);
		return r;
	}
#else
	{
		float t[16];

		for (int i = 0; i < 16; i++)
			t[i] = ld1(p, i, true);
		return vload(t);
	}
#endif
}

/* The rounds of the 16 x 16 transpose: round b swaps bit b of the row and
 * the lane index between rows r and r + b (r without bit b); LO is row r's
 * new lanes, HI row r + b's, from the pair (x[r], x[r + b]). */
#define TR8_LO 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define TR8_HI 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define TR4_LO 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define TR4_HI 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define TR2_LO 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define TR2_HI 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define TR1_LO 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define TR1_HI 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define TR_ROUND(x, B, LO, HI)								\
	ATTN_UNROLL16									\
	for (int r = 0; r < 16; r++)							\
		if (!(r & (B))) {							\
			v16f x0 = (x)[r], x1 = (x)[r + (B)];				\
											\
			(x)[r] = __builtin_shufflevector(x0, x1, LO);			\
			(x)[r + (B)] = __builtin_shufflevector(x0, x1, HI);		\
		}

static inline void transpose16(v16f x[16])
{
	TR_ROUND(x, 8, TR8_LO, TR8_HI)
	TR_ROUND(x, 4, TR4_LO, TR4_HI)
	TR_ROUND(x, 2, TR2_LO, TR2_HI)
	TR_ROUND(x, 1, TR1_LO, TR1_HI)
}

static void load(const struct attn_load_args *a)
{
	const size_t esz = a->f16 ? 2 : 4;
	const char *k = a->k, *v = a->v;
	int d0 = 0;

	for (; d0 + 16 <= a->hd; d0 += 16)
		for (int r0 = 0; r0 < ATTN_KT; r0 += 16) {
			v16f x[16];

			ATTN_UNROLL16
			for (int r = 0; r < 16; r++)
				x[r] = r0 + r < a->nk ? ld16(k + (size_t)(r0 + r) * a->k_stride + d0 * esz, a->f16)
						      : (v16f){ 0 };
			if (r0 < a->nk)
				transpose16(x);
			ATTN_UNROLL16
			for (int d = 0; d < 16; d++)
				vstore(a->kt + (size_t)(d0 + d) * ATTN_KT + r0, x[d]);
		}
	for (; d0 < a->hd; d0++)
		for (int r = 0; r < ATTN_KT; r++)
			a->kt[(size_t)d0 * ATTN_KT + r] = r < a->nk ? ld1(k + (size_t)r * a->k_stride, d0, a->f16) : 0.0f;
	for (int r = 0; r < a->nk; r++) {
		const char *src = v + (size_t)r * a->v_stride;
		float *dst = a->vt + (size_t)r * a->hdv;
		int d = 0;

		for (; d + 16 <= a->hdv; d += 16)
			vstore(dst + d, ld16(src + d * esz, a->f16));
		for (; d < a->hdv; d++)
			dst[d] = ld1(src, d, a->f16);
	}
}

#define KERN_NAME2(set) attn_kern_##set
#define KERN_NAME(set) KERN_NAME2(set)
#define STR2(x) #x
#define STR(x) STR2(x)

const struct attn_kern KERN_NAME(ATTN_SET) = { STR(ATTN_SET), tile, load };
