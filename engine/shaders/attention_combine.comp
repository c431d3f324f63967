#version 450
/* attention_combine.comp - the second pass of split attention
 * (attention.comp, SPLIT): per query head and token, merge the partial
 * results (m_c, l_c, acc_c) of the A key chunks into
 *   m = max m_c,  l = sum l_c e^(m_c - m),  out = sum acc_c e^(m_c - m) / l.
 * A chunk with no key visible to the token (l_c = 0) adds nothing, and
 * its m_c (-1e30) does not enter m; the token's own key is visible, so
 * some chunk has l_c > 0.
 * x = query head, y = token.
 * P: 0 tokens, 1 n_head, 2 head_dim_v, 3 chunks A, 4 record slots S,
 *    5 partials off, 6 out off, 7 out stride */
#include "common.glsl"

#define WGS 64u
#define DPT 4u       /* value dims per invocation: head_dim_v <= 256 */

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BP { float PA[]; };
layout(std430, binding = 2) writeonly buffer BO { float O[]; };

void main()
{
	const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationIndex;
	const uint hdv = P[2], rec = hdv + 2u;
	const uint rec0 = P[5] + (t * P[1] + h) * P[4] * rec;
	float m = -1e30, l = 0.0;
	float acc[DPT];

	if (t >= P[0])
		return;
	for (uint c = 0u; c < P[3]; c++)
		if (PA[rec0 + c * rec + 1u] != 0.0) /* NaN included: it must show, as unsplit */
			m = max(m, PA[rec0 + c * rec]);
	for (uint i = 0u; i < DPT; i++)
		acc[i] = 0.0;
	for (uint c = 0u; c < P[3]; c++) {
		const uint r = rec0 + c * rec;
		const float lc = PA[r + 1u];
		float w;

		if (lc == 0.0) /* an empty chunk */
			continue;
		w = exp(PA[r] - m);
		l += lc * w;
		for (uint i = 0u; i < DPT; i++) {
			const uint d = tid + i * WGS;

			if (d < hdv)
				acc[i] += PA[r + 2u + d] * w;
		}
	}
	for (uint i = 0u; i < DPT; i++) {
		const uint d = tid + i * WGS;

		if (d >= hdv)
			break;
		O[P[6] + t * P[7] + h * hdv + d] = acc[i] / l;
	}
}
