#version 450
/* eltwise.comp - element-wise ops over rows of width n:
 *   op 0: dst = a + b
 *   op 1: dst = silu(a) * b          op 2: dst = gelu_tanh(a) * b
 *   op 3: dst[t] = sum_s w[t][s] * b[t*k + s] (+ a[t] when P11 & 1)
 *         (MoE combine; k = P10, w at P9 with stride P12)
 * dst may alias a.  x = element / 256, y = row.
 * P: 0 n, 1 op, 2 a off, 3 a stride, 4 b off, 5 b stride, 6 dst off,
 *    7 dst stride, 8 rows, 9 w off, 10 k, 11 flags, 12 w stride */
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 1) buffer BA { float A[]; };
layout(std430, binding = 2) readonly buffer BB { float B[]; };
layout(std430, binding = 3) buffer BD { float D[]; };
layout(std430, binding = 4) readonly buffer BW { float WS[]; };

void main()
{
	const uint k = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
	const uint op = P[1];
	float v;

	if (k >= P[0] || t >= P[8])
		return;
	if (op == 3u) {
		v = (P[11] & 1u) != 0u ? A[P[2] + t * P[3] + k] : 0.0;
		for (uint s = 0u; s < P[10]; s++)
			v += WS[P[9] + t * P[12] + s] * B[P[4] + (t * P[10] + s) * P[5] + k];
	} else {
		float a = A[P[2] + t * P[3] + k], b = B[P[4] + t * P[5] + k];

		if (op == 0u) {
			v = a + b;
		} else if (op == 1u) {
			v = a / (1.0 + exp(-a)) * b;
		} else {
			/* tanh(y) = 1 - 2 / (exp(2y) + 1): no overflow for large |y| */
			float y = 0.7978845608028654 * (a + 0.044715 * a * a * a);
			float th = 1.0 - 2.0 / (exp(2.0 * y) + 1.0);

			v = 0.5 * a * (1.0 + th) * b;
		}
	}
	D[P[6] + t * P[7] + k] = v;
}
