/* reduce.glsl - sum N values per invocation over the workgroup.
 * With USE_SUBGROUP: subgroupAdd, then shared memory across subgroups
 * only when the workgroup has more than one; without: a shared-memory
 * tree.  Needs RED_N (values per invocation) and RED_WG (workgroup size)
 * defined, and must be called in uniform control flow.  Result valid in
 * every invocation. */
#ifdef USE_SUBGROUP
shared float red_sh[RED_N * 64];
void reduce_sum(inout float v[RED_N], const uint n)
{
	[[unroll]] for (uint i = 0u; i < n; i++)
		v[i] = subgroupAdd(v[i]);
	if (gl_NumSubgroups == 1u)
		return;
	if (gl_SubgroupInvocationID == 0u)
		[[unroll]] for (uint i = 0u; i < n; i++)
			red_sh[i * 64u + gl_SubgroupID] = v[i];
	barrier();
	[[unroll]] for (uint i = 0u; i < n; i++) {
		float s = 0.0;

		for (uint g = 0u; g < gl_NumSubgroups; g++)
			s += red_sh[i * 64u + g];
		v[i] = s;
	}
	barrier();
}
#else
shared float red_sh[RED_N * RED_WG];
void reduce_sum(inout float v[RED_N], const uint n)
{
	uint t = gl_LocalInvocationIndex;

	[[unroll]] for (uint i = 0u; i < n; i++)
		red_sh[i * RED_WG + t] = v[i];
	barrier();
	for (uint s = RED_WG / 2u; s > 0u; s >>= 1) {
		if (t < s)
			[[unroll]] for (uint i = 0u; i < n; i++)
				red_sh[i * RED_WG + t] += red_sh[i * RED_WG + t + s];
		barrier();
	}
	[[unroll]] for (uint i = 0u; i < n; i++)
		v[i] = red_sh[i * RED_WG];
	barrier();
}
#endif
