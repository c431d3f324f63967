#version 450
/* get_rows.comp - dst[i] = table[ids[i]] * scale as F32, one workgroup per
 * id.  Rows outside [P6, P7) belong to another window of a table larger
 * than one binding (the host dispatches once per window).
 * P: 0 width, 1 w byte offset (of row P6), 2 row bytes, 3 ids off,
 *    4 dst off, 5 dst stride, 6 first row, 7 end row, 8 scale (float) */
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BW { uint W[]; };
layout(std430, binding = 2) readonly buffer BI { int IDS[]; };
layout(std430, binding = 3) writeonly buffer BD { float D[]; };

#include "weights.glsl"

void main()
{
	const uint n = P[0], i = WG_ID;
	const uint id = uint(IDS[P[3] + i]);
	const float scale = P_F(8);

	if (id < P[6] || id >= P[7])
		return;
	const uint rb = P[1] + (id - P[6]) * P[2], o = P[4] + i * P[5];
	for (uint u = gl_LocalInvocationIndex; u < (n + 7u) / 8u; u += 64u) {
		vec4 a, b;

		load8(rb, u, n, a, b);
		[[unroll]] for (uint k = 0u; k < 8u; k++)
			if (8u * u + k < n)
				D[o + 8u * u + k] = (k < 4u ? a[k] : b[k - 4u]) * scale;
	}
}
