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
 */
#include <math.h>
#include <string.h>

#include "attn_kern.h"

typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

#define NV (ATTN_KT / 16)

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

static void tile(const struct attn_tile_args *a)
{
	const v16i lane = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

	for (int i = 0; i < a->nq; i++) {
		const float *q = a->q[i];
		float *acc = a->acc + (size_t)i * a->hdv;
		v16f s[NV], p[NV], mx;
		float mt = -INFINITY, mnew, corr, sum = 0.0f, pj[ATTN_KT];
		const int lo = a->lo[i], hi = a->hi[i];

		if (lo >= hi)
			continue;
		for (int c = 0; c < NV; c++)
			s[c] = (v16f){ 0 };
		for (int d = 0; d < a->hd; d++) {
			const float *kr = a->kt + (size_t)d * ATTN_KT;
			const float qd = q[d];

			for (int c = 0; c < NV; c++)
				s[c] += qd * vload(kr + 16 * c);
		}
		mx = (v16f){ 0 } - INFINITY;
		for (int c = 0; c < NV; c++) {
			v16i j = lane + 16 * c;
			v16i in = (j >= lo) & (j < hi);

			s[c] *= a->scale;
			/* masked lanes become -inf */
			s[c] = (v16f)((in & (v16i)s[c]) | (~in & (v16i)mx));
			mx = (v16f)(((v16i)(s[c] > mx) & (v16i)s[c]) | (~(v16i)(s[c] > mx) & (v16i)mx));
		}
		for (int k = 0; k < 16; k++)
			mt = mx[k] > mt ? mx[k] : mt;
		mnew = mt > a->m[i] ? mt : a->m[i];
		corr = a->m[i] == -INFINITY ? 0.0f : expf(a->m[i] - mnew);
		for (int c = 0; c < NV; c++) {
			v16i j = lane + 16 * c;
			v16i in = (j >= lo) & (j < hi);

			p[c] = vexp_neg(s[c] - mnew);
			p[c] = (v16f)(in & (v16i)p[c]);
			vstore(pj + 16 * c, p[c]);
		}
		for (int j = lo; j < hi; j++)
			sum += pj[j];
		a->l[i] = a->l[i] * corr + sum;
		a->m[i] = mnew;
		{
			int d = 0;

			/* Four value chunks at a time: four independent FMA chains. */
			for (; d + 64 <= a->hdv; d += 64) {
				v16f o0 = vload(acc + d) * corr, o1 = vload(acc + d + 16) * corr;
				v16f o2 = vload(acc + d + 32) * corr, o3 = vload(acc + d + 48) * corr;

				for (int j = lo; j < hi; j++) {
					const float *vr = a->v + (size_t)j * a->hdv + d;
					const float w = pj[j];

					o0 += w * vload(vr);
					o1 += w * vload(vr + 16);
					o2 += w * vload(vr + 32);
					o3 += w * vload(vr + 48);
				}
				vstore(acc + d, o0);
				vstore(acc + d + 16, o1);
				vstore(acc + d + 32, o2);
				vstore(acc + d + 48, o3);
			}
			for (; d + 16 <= a->hdv; d += 16) {
				v16f o = vload(acc + d) * corr;

				for (int j = lo; j < hi; j++)
					o += pj[j] * vload(a->v + (size_t)j * a->hdv + d);
				vstore(acc + d, o);
			}
			for (; d < a->hdv; d++) {
				float o = acc[d] * corr;

				for (int j = lo; j < hi; j++)
					o += pj[j] * a->v[(size_t)j * a->hdv + d];
				acc[d] = o;
			}
		}
	}
}

#define KERN_NAME2(set) attn_kern_##set
#define KERN_NAME(set) KERN_NAME2(set)
#define STR2(x) #x
#define STR(x) STR2(x)

const struct attn_kern KERN_NAME(ATTN_SET) = { STR(ATTN_SET), tile };
