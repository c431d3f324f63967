#version 450
/* bandwidth.comp - read n vec4s (grid-strided) and write one sum per
 * workgroup, so the compiler cannot drop the reads: doctor's measure of
 * the memory bandwidth a device reaches.  P: 0 n vec4s */
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BS { vec4 S[]; };
layout(std430, binding = 2) writeonly buffer BD { float D[]; };

void main()
{
	const uint n = P[0], stride = gl_NumWorkGroups.x * 64u;
	vec4 a = vec4(0.0);

	for (uint i = gl_GlobalInvocationID.x; i < n; i += stride)
		a += S[i];
	if (a.x == 1234.5678)
		D[gl_WorkGroupID.x] = a.y + a.z + a.w;
}
