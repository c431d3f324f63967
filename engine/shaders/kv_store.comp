#version 450
/* kv_store.comp - copy k or v rows [tokens][n] (F32) into cache rows
 * pos0.. as F16 (KV_F16: two halves per word, n even) or F32.
 * x = element (pair for F16), y = token.
 * P: 0 n, 1 src off, 2 src stride, 3 cache off, 4 pos0, 5 tokens */
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 1) readonly buffer BS { float S[]; };
layout(std430, binding = 2) writeonly buffer BC { uint C[]; };

void main()
{
	const uint t = gl_WorkGroupID.y, n = P[0];
	const uint s = P[1] + t * P[2];

	if (t >= P[5])
		return;
#ifdef KV_F16
	const uint k = 2u * gl_GlobalInvocationID.x;

	if (k >= n)
		return;
	C[P[3] + ((P[4] + t) * n + k) / 2u] = packHalf2x16(vec2(S[s + k], S[s + k + 1u]));
#else
	const uint k = gl_GlobalInvocationID.x;

	if (k >= n)
		return;
	C[P[3] + (P[4] + t) * n + k] = floatBitsToUint(S[s + k]);
#endif
}
