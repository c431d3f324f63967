#version 450
/* rope_fused.comp - the glue between the q/k/v projections and attention,
 * one pass per head row instead of a norm, a rope and a cache copy each
 * reading and writing the rows again:
 *   without STORE (q): [rmsnorm * w per head,] rope, in place;
 *   STORE (k, v): k heads [rmsnorm * w,] rope, written to the K cache at row
 *     pos0 + t; v heads copied to the V cache (F16 with KV_F16, else F32).
 * The norm and the rotation are those of rms_norm.comp and rope.comp, so
 * results match the unfused ops.  One workgroup per (head row, token):
 * x = head row (STORE: the k heads, then the v heads), y = token.
 * Dims from n_dims to head_dim are not rotated.
 * P: 0 tokens, 1 heads, 2 head_dim, 3 n_dims, 4 mode, 5 log2(base) (float),
 *    6 1/pos_scale (float), 7 has ff, 8 x off, 9 x stride, 10 pos off,
 *    11 ff off, 12 has norm, 13 norm off, 14 eps (float),
 *    STORE: 15 v off, 16 v stride, 17 v head_dim, 18 k cache off (words),
 *    19 v cache off (words), 20 pos0 */
#include "common.glsl"

#define WGS 64u
#define MAXD 256u

layout(local_size_x = 64) in;

layout(std430, binding = 1) buffer BX { float X[]; };
layout(std430, binding = 2) readonly buffer BV { float V[]; };
layout(std430, binding = 3) readonly buffer BP { int POS[]; };
layout(std430, binding = 4) readonly buffer BF { float FF[]; };
layout(std430, binding = 5) readonly buffer BN { float NW[]; };
layout(std430, binding = 6) writeonly buffer BKC { uint KC[]; };
layout(std430, binding = 7) writeonly buffer BVC { uint VC[]; };

#define RED_N 1
#define RED_WG 64
#include "reduce.glsl"

shared float row[MAXD];

/* element k of the output head row: to X in place, or to the (F32) K
 * cache row starting at element erow */
void put(uint base, uint erow, uint k, float v)
{
#ifdef STORE
	KC[P[18] + erow + k] = floatBitsToUint(v);
#else
	X[base + k] = v;
#endif
}

void main()
{
	const uint t = gl_WorkGroupID.y, hr = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex;
	const uint hd = P[2], half_d = P[3] / 2u;

	if (t >= P[0])
		return;
#ifdef STORE
	if (hr >= P[1]) {
		/* v head hr - heads: a plain copy into its cache row */
		const uint h = hr - P[1], hv = P[17];

		if (h >= P[1])
			return;
		const uint src = P[15] + t * P[16] + h * hv;
		const uint dst = (P[20] + t) * P[1] * hv + h * hv;
#ifdef KV_F16
		for (uint k = 2u * tid; k < hv; k += 2u * WGS)
			VC[P[19] + (dst + k) / 2u] = packHalf2x16(vec2(V[src + k], V[src + k + 1u]));
#else
		for (uint k = tid; k < hv; k += WGS)
			VC[P[19] + dst + k] = floatBitsToUint(V[src + k]);
#endif
		return;
	}
#endif
	const uint base = P[8] + t * P[9] + hr * hd;
	float ss[1];

	ss[0] = 0.0;
	for (uint k = tid; k < hd; k += WGS) {
		float x = X[base + k];

		row[k] = x;
		ss[0] += x * x;
	}
	if (P[12] != 0u) {
		reduce_sum(ss, 1u);
		const float s = inversesqrt(ss[0] / float(hd) + P_F(14));

		for (uint k = tid; k < hd; k += WGS)
			row[k] = row[k] * s * NW[P[13] + k];
	}
	barrier();

	const float p = float(POS[P[10] + t]) * P_F(6);
#ifdef STORE
	const uint erow = (P[20] + t) * P[1] * hd + hr * hd;
#else
	const uint erow = 0u;
#endif
	/* the rotated pairs, then the dims past n_dims as they are */
	for (uint i = tid; i < half_d; i += WGS) {
		float theta = p * exp2(-2.0 * float(i) / float(P[3]) * P_F(5));

		if (P[7] != 0u)
			theta /= FF[P[11] + i];
		theta -= 6.283185307179586 * floor(theta / 6.283185307179586 + 0.5);
		const float c = cos(theta), s = sin(theta);
		const uint a = P[4] == 0u ? 2u * i : i;
		const uint b = P[4] == 0u ? a + 1u : a + half_d;
		const float x0 = row[a], x1 = row[b];
		const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
#if defined(STORE) && defined(KV_F16)
		row[a] = y0;
		row[b] = y1;
#else
		put(base, erow, a, y0);
		put(base, erow, b, y1);
#endif
	}
#if defined(STORE) && defined(KV_F16)
	barrier();
	for (uint k = 2u * tid; k < hd; k += 2u * WGS)
		KC[P[18] + (erow + k) / 2u] = packHalf2x16(vec2(row[k], row[k + 1u]));
#else
	for (uint k = 2u * half_d + tid; k < hd; k += WGS)
		put(base, erow, k, row[k]);
#endif
}
