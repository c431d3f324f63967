#version 450
/* rope.comp - rotate pairs of x [tokens][heads][head_dim] in place at the
 * positions pos[t]: (2i, 2i+1) in NORM mode, (i, i + n_dims/2) in NEOX
 * mode; theta = pos / pos_scale * base^(-2i/n_dims) / ff[i].  The angle is
 * reduced to [-pi, pi] before sin/cos (whose precision is only promised
 * there).  One invocation per (pair, head), y = token.
 * P: 0 tokens, 1 heads, 2 head_dim, 3 n_dims, 4 mode, 5 log2(base) (float),
 *    6 1/pos_scale (float), 7 has ff, 8 x off, 9 x stride, 10 pos off,
 *    11 ff off */
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 1) buffer BX { float X[]; };
layout(std430, binding = 2) readonly buffer BP { int POS[]; };
layout(std430, binding = 3) readonly buffer BF { float FF[]; };

void main()
{
	const uint half_d = P[3] / 2u, t = gl_WorkGroupID.y;
	const uint g = gl_GlobalInvocationID.x, i = g % half_d, h = g / half_d;

	if (h >= P[1] || t >= P[0])
		return;
	float p = float(POS[P[10] + t]) * P_F(6);
	float inv = exp2(-2.0 * float(i) / float(P[3]) * P_F(5));
	float theta = p * inv;

	if (P[7] != 0u)
		theta /= FF[P[11] + i];
	theta -= 6.283185307179586 * floor(theta / 6.283185307179586 + 0.5);
	float c = cos(theta), s = sin(theta);
	uint base = P[8] + t * P[9] + h * P[2];
	uint a = P[4] == 0u ? base + 2u * i : base + i;
	uint b = P[4] == 0u ? a + 1u : a + half_d;
	float x0 = X[a], x1 = X[b];

	X[a] = x0 * c - x1 * s;
	X[b] = x0 * s + x1 * c;
}
