#version 450
/* matvec_rows.comp - the mat-vec / small-batch product for CPU-type devices
 * (lavapipe): one invocation per weight row, looping over the whole row,
 * NC token columns at once (1..16).  All invocations read the same
 * activation element at the same time, which a CPU implementation loads
 * once for the whole SIMD vector instead of gathering it per lane, and no
 * reduction is needed.  (On a GPU these row-strided weight reads would not
 * coalesce: GPUs take matvec.comp.)  Parameters as matvec.comp, MOE too. */
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint NC = 1;

layout(std430, binding = 1) readonly buffer BW { uint W[]; };
layout(std430, binding = 2) readonly buffer BX { float X[]; };
layout(std430, binding = 2) readonly buffer BX4 { vec4 X4[]; }; /* the same, 16-byte aligned */
layout(std430, binding = 3) buffer BD { float D[]; };
layout(std430, binding = 4) readonly buffer BB { float BIAS[]; };
layout(std430, binding = 5) buffer BR { float RES[]; };
layout(std430, binding = 6) readonly buffer BI { int IDS[]; };

#include "weights.glsl"

void main()
{
	const uint K = P[0], nrows = P[1];
	const uint row = WG_ID * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
	uint col = 0u, xo = P[4], wb = P[2];
	float acc[16];

	if (row >= nrows)
		return;
#ifdef MOE
	{
		uint c = gl_WorkGroupID.z, t = c / P[14];
		uint fr = uint(IDS[P[13] + c]) * P[19] + row;

		col = c;
		xo += (P[15] != 0u ? c : t) * P[5];
		if (fr < P[17] || fr >= P[18])
			return;
		wb += (fr - P[17]) * P[3];
	}
#else
	wb += row * P[3];
#endif
	/* whole vec4 reads of x when its offsets allow */
	const bool x4 = (xo & 3u) == 0u && (P[5] & 3u) == 0u;

	[[unroll]] for (uint c = 0u; c < NC; c++)
		acc[c] = 0.0;
	for (uint u = 0u; u < (K + 7u) / 8u; u++) {
		vec4 a, b;

		load8(wb, u, K, a, b);
		[[unroll]] for (uint c = 0u; c < NC; c++) {
			uint o = xo + c * P[5] + 8u * u;
#ifdef FLOAT_W
			float t[8];
			[[unroll]] for (uint i = 0u; i < 8u; i++)
				t[i] = 8u * u + i < K ? X[o + i] : 0.0;
			acc[c] += dot(a, vec4(t[0], t[1], t[2], t[3])) +
				  dot(b, vec4(t[4], t[5], t[6], t[7]));
#else
			if (x4)
				acc[c] += dot(a, X4[o >> 2]) + dot(b, X4[(o >> 2) + 1u]);
			else
				acc[c] += dot(a, vec4(X[o], X[o + 1u], X[o + 2u], X[o + 3u])) +
					  dot(b, vec4(X[o + 4u], X[o + 5u], X[o + 6u], X[o + 7u]));
#endif
		}
	}
	[[unroll]] for (uint c = 0u; c < NC; c++) {
		uint cc = c;
		float v = acc[c];

		if (c >= P[12])
			break;
#ifdef MOE
		cc = col;
#endif
		if ((P[8] & 1u) != 0u)
			v += BIAS[P[9] + row];
		if ((P[8] & 2u) != 0u)
			v += RES[P[10] + cc * P[11] + row];
		D[P[6] + cc * P[7] + row] = v;
	}
}
