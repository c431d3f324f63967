#version 450
/* rms_norm.comp - per row of width n: dst = x / sqrt(mean(x^2) + eps) * w,
 * one workgroup per row.  Rows are addressed by element (row r starts at
 * r * n), so per-head norms over wider rows work; dst may be x.
 * P: 0 n, 1 x off, 2 dst off, 3 w off, 4 eps (float), 5 rows */
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BX { float X[]; };
layout(std430, binding = 2) buffer BD { float D[]; };
layout(std430, binding = 3) readonly buffer BW { float WT[]; };

#define RED_N 1
#define RED_WG 64
#include "reduce.glsl"

void main()
{
	const uint n = P[0], r = WG_ID, tid = gl_LocalInvocationIndex;
	float ss[1];

	if (r >= P[5])
		return;
	const uint xo = P[1] + r * n, dofs = P[2] + r * n;
	ss[0] = 0.0;
	for (uint k = tid; k < n; k += 64u)
		ss[0] += X[xo + k] * X[xo + k];
	reduce_sum(ss, 1u);
	const float s = inversesqrt(ss[0] / float(n) + P_F(4));
	for (uint k = tid; k < n; k += 64u)
		D[dofs + k] = X[xo + k] * s * WT[P[3] + k];
}
