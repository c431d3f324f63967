#version 450
/* topk.comp - the k largest finite values of one row of logits and their
 * ids, in the sampler's order (larger value first, lower id on ties), so
 * that only 2k words come back to the host instead of the whole row.
 * One workgroup; round r finds the first element in that order among those
 * strictly after round r-1's (a total order: no list of taken ids).  NaN
 * and infinities are skipped, as the sampler drops them; rounds with
 * nothing left write id -1.
 * OUT[r] = id (int bits), OUT[k + r] = value.
 * P: 0 n, 1 logits off, 2 k, 3 out off */
#include "common.glsl"

#define WGS 256u

layout(local_size_x = 256) in;

layout(std430, binding = 1) readonly buffer BL { float L[]; };
layout(std430, binding = 2) writeonly buffer BO { uint OUT[]; };

shared float sv[WGS];
shared int si[WGS];

/* a comes before b: larger value, or equal value and lower id; id -1
 * (nothing) comes after everything */
bool before(float av, int ai, float bv, int bi)
{
	if (ai < 0)
		return false;
	if (bi < 0)
		return true;
	return av > bv || (av == bv && ai < bi);
}

void main()
{
	const uint n = P[0], k = P[2], tid = gl_LocalInvocationIndex;
	float pv = 0.0;
	int pi = -1; /* the previous round's pick; -1: none yet */

	for (uint r = 0u; r < k; r++) {
		float bv = 0.0;
		int bi = -1;

		for (uint i = tid; i < n; i += WGS) {
			const float v = L[P[1] + i];

			if (isnan(v) || isinf(v))
				continue;
			/* strictly after the previous pick */
			if (pi >= 0 && !before(pv, pi, v, int(i)))
				continue;
			if (before(v, int(i), bv, bi)) {
				bv = v;
				bi = int(i);
			}
		}
		sv[tid] = bv;
		si[tid] = bi;
		barrier();
		for (uint s = WGS / 2u; s > 0u; s >>= 1) {
			if (tid < s && before(sv[tid + s], si[tid + s], sv[tid], si[tid])) {
				sv[tid] = sv[tid + s];
				si[tid] = si[tid + s];
			}
			barrier();
		}
		pv = sv[0];
		pi = si[0];
		barrier();
		if (tid == 0u) {
			OUT[P[3] + r] = uint(pi);
			OUT[P[3] + k + r] = floatBitsToUint(pi >= 0 ? pv : 0.0);
		}
		if (pi < 0) {
			/* nothing left: the remaining rounds are empty too */
			for (uint q = r + 1u + tid; q < k; q += WGS) {
				OUT[P[3] + q] = uint(-1);
				OUT[P[3] + k + q] = 0u;
			}
			return;
		}
	}
}
