#version 450
/* matvec.comp - dst[c][r] = sum_k W[r][k] x[c][k] (+ bias[r]) (+ res[c][r])
 * for NC token columns (1..8) at once, so a small batch reads each weight
 * once.  A workgroup computes NR rows; its invocations take the row's
 * 8-element units in turn and the partial sums are reduced over the
 * workgroup.  With MOE the matrix of column c is expert ids[c] of a
 * stacked [E][R][K] tensor (NC = 1, one column = one (token, slot)).
 *
 * P: 0 K, 1 rows, 2 w byte offset, 3 row bytes, 4 x off, 5 x stride,
 *    6 dst off, 7 dst stride, 8 flags (1 bias, 2 res), 9 bias off,
 *    10 res off, 11 res stride, 12 columns,
 *    MOE: 13 ids off, 14 slots k, 15 x per slot, 16 expert bytes,
 *         17 first expert row in the window, 18 end of it (flat rows),
 *         19 rows per expert */
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 2;
layout(constant_id = 2) const uint NC = 1;

layout(std430, binding = 1) readonly buffer BW { uint W[]; };
layout(std430, binding = 2) readonly buffer BX { float X[]; };
layout(std430, binding = 3) buffer BD { float D[]; };
layout(std430, binding = 4) readonly buffer BB { float BIAS[]; };
layout(std430, binding = 5) buffer BR { float RES[]; };
layout(std430, binding = 6) readonly buffer BI { int IDS[]; };

#include "weights.glsl"

#define RED_N (4 * 8)
#define RED_WG 64
#include "reduce.glsl"

void main()
{
	const uint K = P[0], nrows = P[1], tid = gl_LocalInvocationIndex;
	const uint WGS = gl_WorkGroupSize.x;
	uint r0 = WG_ID * NR, col = 0u, xo = P[4], wbase = P[2];
	float acc[RED_N];
	bool live = true;

	if (r0 >= nrows)
		return;
#ifndef MOE
	wbase += r0 * P[3];
#else
	/* y = (token t, slot s) */
	{
		uint c = gl_WorkGroupID.z, t = c / P[14];
		int e = IDS[P[13] + c];
		uint flat0 = uint(e) * P[19] + r0;

		col = c;
		xo += (P[15] != 0u ? c : t) * P[5];
		/* rows outside this window are another dispatch's */
		live = flat0 >= P[17] && flat0 < P[18];
		wbase += (flat0 - P[17]) * P[3];
	}
#endif
	if (!live)
		return;
	for (uint i = 0u; i < RED_N; i++)
		acc[i] = 0.0;
	const uint units = (K + 7u) / 8u;
	for (uint u = tid; u < units; u += WGS) {
		vec4 xa[8], xb[8];

		[[unroll]] for (uint c = 0u; c < NC; c++) {
			uint o = xo + c * P[5] + 8u * u;
#ifdef FLOAT_W
			float t[8];
			[[unroll]] for (uint i = 0u; i < 8u; i++)
				t[i] = 8u * u + i < K ? X[o + i] : 0.0;
			xa[c] = vec4(t[0], t[1], t[2], t[3]);
			xb[c] = vec4(t[4], t[5], t[6], t[7]);
#else
			xa[c] = vec4(X[o], X[o + 1u], X[o + 2u], X[o + 3u]);
			xb[c] = vec4(X[o + 4u], X[o + 5u], X[o + 6u], X[o + 7u]);
#endif
		}
		[[unroll]] for (uint r = 0u; r < NR; r++) {
			vec4 a, b;

			if (r0 + r >= nrows)
				break;
			load8(wbase + r * P[3], u, K, a, b);
			[[unroll]] for (uint c = 0u; c < NC; c++)
				acc[r * NC + c] += dot(a, xa[c]) + dot(b, xb[c]);
		}
	}
	reduce_sum(acc, NR * NC);
	/* the sums are in every invocation: each writes some outputs */
	for (uint i = tid; i < NR * NC; i += WGS) {
		uint r = i / NC, c = i % NC;
		uint row = r0 + r;

		if (row < nrows && c < P[12]) {
			float v = acc[i];
#ifdef MOE
			c = col;
#endif
			if ((P[8] & 1u) != 0u)
				v += BIAS[P[9] + row];
			if ((P[8] & 2u) != 0u)
				v += RES[P[10] + c * P[11] + row];
			D[P[6] + c * P[7] + row] = v;
		}
	}
}
