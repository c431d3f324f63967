#version 450
/* attention.comp - out = softmax(q K^T * scale + mask) V for one query
 * token and up to MAXG query heads of one KV head (the GQA group, so each
 * K and V row is read once for the whole group), with an online softmax
 * over tiles of 64 keys: no n_kv-sized buffer.
 *   phase 1: invocation j scores key kp0 + j against every head of the group
 *   phase 2: invocation g < heads updates head g's running max and sum
 *   phase 3: invocations over the value dims rescale and add p * V
 * x = KV head, y = token, z = slice of MAXG heads of the group.  Key p is
 * visible from query position q when p <= q and (no window or q - p < window).
 * The position of query t is pos0 + t; pos0 comes from the parameters, so
 * a recorded pass can be re-run at another position.
 *
 * SPLIT (long contexts, few workgroups): the keys [kv0, pos0 + tokens)
 * are cut into A chunks of ck keys (chunk c from kv0 + c * ck), and the
 * workgroup walks only the visible keys of its chunk.  z = slot * slices
 * + slice over S >= A slots, sized for the whole cache at record time;
 * slot s runs chunk s * A / S when that differs from slot s + 1's, so the
 * A chunks of this position spread evenly over the S slots (CPU devices
 * hand each thread a contiguous range of workgroups) and the other slots
 * return at once.  Instead of the output it writes, per head h of its
 * slice, record ((t * n_head + h) * S + c) * (head_dim_v + 2) of the
 * partials: the running max m, the sum l and the unnormalized accumulator
 * (m = -1e30 and l = 0 where no key of the chunk is visible to the
 * token); attention_combine.comp merges them.
 * P: 0 tokens, 1 pos0, 2 group (= n_head / n_head_kv), 3 head_dim,
 *    4 head_dim_v, 5 window, 6 scale (float), 7 q off, 8 q stride,
 *    9 k off (words), 10 k row elements, 11 v off, 12 v row elements,
 *    13 out off (SPLIT: partials off), 14 out stride,
 *    SPLIT: 15 chunk keys ck, 16 slots S, 17 chunks A, 18 kv0 */
#include "common.glsl"

#define WGS 64u
#define MAXG 8u
#define MAXQ 2048u   /* MAXG * head_dim floats of queries */
#define DPT 4u       /* value dims per invocation: head_dim_v <= 256 */

layout(local_size_x = 64) in;

layout(std430, binding = 1) readonly buffer BQ { float Q[]; };
layout(std430, binding = 2) readonly buffer BK { uint KC[]; };
layout(std430, binding = 3) readonly buffer BV { uint VC[]; };
layout(std430, binding = 4) writeonly buffer BO { float O[]; };

shared float qs[MAXQ];
shared float ps[MAXG * WGS];
shared float corr_s[MAXG], l_s[MAXG];

#ifdef KV_F16
float kel(uint e) { return unpackHalf2x16(KC[e >> 1])[e & 1u]; }
float vel(uint e) { return unpackHalf2x16(VC[e >> 1])[e & 1u]; }
#define KBASE(x) (2u * (x))
#else
float kel(uint e) { return uintBitsToFloat(KC[e]); }
float vel(uint e) { return uintBitsToFloat(VC[e]); }
#define KBASE(x) (x)
#endif

void main()
{
	const uint kvh = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationIndex;
	const uint group = P[2], hd = P[3], hdv = P[4], window = P[5];
#ifdef SPLIT
	const uint slices = (group + MAXG - 1u) / MAXG;
	const uint slot = gl_WorkGroupID.z / slices;
	const uint chunk = slot * P[17] / P[16];
	const uint c0 = P[18] + chunk * P[15];   /* the chunk's first key */
	const uint g0 = gl_WorkGroupID.z % slices * MAXG;
#else
	const uint g0 = gl_WorkGroupID.z * MAXG;
#endif
	const uint ng = min(MAXG, group - g0);
	const uint qpos = P[1] + t;
	/* the keys [first, end) */
#ifdef SPLIT
	const uint first = max(window != 0u && qpos + 1u > window ? qpos + 1u - window : 0u, c0);
	const uint end = max(first, min(qpos + 1u, c0 + P[15]));
#else
	const uint first = window != 0u && qpos + 1u > window ? qpos + 1u - window : 0u;
	const uint end = qpos + 1u;
#endif
	const float scale = P_F(6);
	/* element offsets of this KV head inside the cache rows (halves for F16) */
	const uint kb = KBASE(P[9]) + kvh * hd, vb = KBASE(P[11]) + kvh * hdv;
	float acc[MAXG * DPT];
	float m_run = -1e30, l_run = 0.0;   /* of head tid, tid < ng */

	if (t >= P[0])
		return;
#ifdef SPLIT
	if ((slot + 1u) * P[17] / P[16] == chunk)
		return;   /* another slot runs this chunk */
#endif
	for (uint i = tid; i < ng * hd; i += WGS) {
		uint g = i / hd, d = i % hd, h = kvh * group + g0 + g;

		qs[i] = Q[P[7] + t * P[8] + h * hd + d] * scale;
	}
	for (uint i = 0u; i < MAXG * DPT; i++)
		acc[i] = 0.0;
	barrier();
	for (uint kp0 = first; kp0 < end; kp0 += WGS) {
		const uint nk = min(WGS, end - kp0);

		/* phase 1 */
		if (tid < nk) {
			const uint ko = kb + (kp0 + tid) * P[10];

			for (uint g = 0u; g < ng; g++) {
				float s = 0.0;

				for (uint d = 0u; d < hd; d++)
					s += qs[g * hd + d] * kel(ko + d);
				ps[g * WGS + tid] = s;
			}
		}
		barrier();
		/* phase 2 */
		if (tid < ng) {
			float mx = m_run, sum = 0.0;

			for (uint j = 0u; j < nk; j++)
				mx = max(mx, ps[tid * WGS + j]);
			for (uint j = 0u; j < nk; j++) {
				float p = exp(ps[tid * WGS + j] - mx);

				ps[tid * WGS + j] = p;
				sum += p;
			}
			corr_s[tid] = exp(m_run - mx);
			l_run = l_run * corr_s[tid] + sum;
			m_run = mx;
		}
		barrier();
		/* phase 3 */
		for (uint i = 0u; i < DPT; i++) {
			const uint d = tid + i * WGS;

			if (d >= hdv)
				break;
			for (uint g = 0u; g < ng; g++) {
				float a = acc[g * DPT + i] * corr_s[g];

				for (uint j = 0u; j < nk; j++)
					a += ps[g * WGS + j] * vel(vb + (kp0 + j) * P[12] + d);
				acc[g * DPT + i] = a;
			}
		}
		barrier();
	}
#ifdef SPLIT
	const uint n_head = gl_NumWorkGroups.x * group;
	const uint rec0 = P[13] + ((t * n_head + kvh * group + g0) * P[16] + chunk) * (hdv + 2u);
	const uint hstride = P[16] * (hdv + 2u);  /* from one head's record to the next's */

	if (tid < ng) {
		O[rec0 + tid * hstride] = m_run;
		O[rec0 + tid * hstride + 1u] = l_run;
	}
	for (uint i = 0u; i < DPT; i++) {
		const uint d = tid + i * WGS;

		if (d >= hdv)
			break;
		for (uint g = 0u; g < ng; g++)
			O[rec0 + g * hstride + 2u + d] = acc[g * DPT + i];
	}
#else
	if (tid < ng)
		l_s[tid] = l_run;
	barrier();
	for (uint i = 0u; i < DPT; i++) {
		const uint d = tid + i * WGS;

		if (d >= hdv)
			break;
		for (uint g = 0u; g < ng; g++) {
			uint h = kvh * group + g0 + g;

			O[P[13] + t * P[14] + h * hdv + d] = acc[g * DPT + i] / l_s[g];
		}
	}
#endif
}
