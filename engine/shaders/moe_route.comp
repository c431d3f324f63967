#version 450
/* moe_route.comp - per token: softmax over the router logits, the top k
 * experts (ties to the lower id) and their probabilities, renormalised to
 * sum 1 when P7 is set.  One invocation per token; k <= 32.
 * P: 0 tokens, 1 experts, 2 k, 3 logits off, 4 logits stride, 5 ids off,
 *    6 weights off, 7 norm, 8 ids stride, 9 weights stride */
#include "common.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BL { float L[]; };
layout(std430, binding = 2) writeonly buffer BI { int IDS[]; };
layout(std430, binding = 3) writeonly buffer BW { float WO[]; };

void main()
{
	const uint t = gl_GlobalInvocationID.x, ne = P[1], k = P[2];
	const uint lo = P[3] + t * P[4];
	float mx = -3.0e38, sum = 0.0, wsum = 0.0;
	int ids[32];
	float w[32];

	if (t >= P[0])
		return;
	for (uint e = 0u; e < ne; e++)
		mx = max(mx, L[lo + e]);
	for (uint e = 0u; e < ne; e++)
		sum += exp(L[lo + e] - mx);
	for (uint s = 0u; s < k; s++) {
		int best = -1;
		float bv = 0.0;

		for (uint e = 0u; e < ne; e++) {
			bool taken = false;

			for (uint u = 0u; u < s; u++)
				taken = taken || ids[u] == int(e);
			if (!taken && (best < 0 || L[lo + e] > bv)) {
				best = int(e);
				bv = L[lo + e];
			}
		}
		ids[s] = best;
		w[s] = exp(bv - mx) / sum;
		wsum += w[s];
	}
	for (uint s = 0u; s < k; s++) {
		IDS[P[5] + t * P[8] + s] = ids[s];
		WO[P[6] + t * P[9] + s] = P[7] != 0u ? w[s] / wsum : w[s];
	}
}
