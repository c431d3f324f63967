#version 450
/* matmul.comp - the prompt-batch matrix product, dst[t][r] = sum_k W[r][k]
 * x[t][k] (+ bias[r]) (+ res[t][r]), in 64 x 64 output tiles: each step
 * dequantizes a 64-row x 32-column slice of W and the matching 32 columns
 * of 64 tokens into shared memory (16 KiB, within the 32 KiB lavapipe
 * offers), and each of the 256 invocations accumulates a 4 x 4 block.
 * The weights are read once per 64 tokens instead of once per token.
 *
 * P: as matvec.comp (0 K, 1 rows, 2 w byte offset, 3 row bytes, 4 x off,
 *    5 x stride, 6 dst off, 7 dst stride, 8 flags, 9 bias off, 10 res off,
 *    11 res stride, 12 tokens). x = workgroup of rows, y = of tokens. */
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 1) readonly buffer BW { uint W[]; };
layout(std430, binding = 2) readonly buffer BX { float X[]; };
layout(std430, binding = 3) buffer BD { float D[]; };
layout(std430, binding = 4) readonly buffer BB { float BIAS[]; };
layout(std430, binding = 5) buffer BR { float RES[]; };

#include "weights.glsl"

#define BM 64u
#define BN 64u
#define BK 32u

shared float sa[BK * (BM + 1u)];  /* [k][row], padded */
shared float sb[BK * (BN + 1u)];  /* [k][token] */

void main()
{
	const uint K = P[0], nrows = P[1], ntok = P[12], tid = gl_LocalInvocationIndex;
	const uint row0 = gl_WorkGroupID.x * BM, tok0 = gl_WorkGroupID.y * BN;
	const uint tx = tid % 16u, ty = tid / 16u; /* tx: tokens, ty: rows */
	const uint lr = tid / 4u, lk = (tid % 4u) * 8u; /* loader: row/token, k */
	float acc[16];

	for (uint i = 0u; i < 16u; i++)
		acc[i] = 0.0;
	for (uint k0 = 0u; k0 < K; k0 += BK) {
		vec4 a = vec4(0.0), b = vec4(0.0);

		if (row0 + lr < nrows && k0 + lk < K)
			load8(P[2] + (row0 + lr) * P[3], (k0 + lk) / 8u, K, a, b);
		[[unroll]] for (uint i = 0u; i < 4u; i++) {
			sa[(lk + i) * (BM + 1u) + lr] = a[i];
			sa[(lk + 4u + i) * (BM + 1u) + lr] = b[i];
		}
		{
			uint t = tok0 + lr, o = P[4] + t * P[5] + k0 + lk;

			[[unroll]] for (uint i = 0u; i < 8u; i++)
				sb[(lk + i) * (BN + 1u) + lr] =
					t < ntok && k0 + lk + i < K ? X[o + i] : 0.0;
		}
		barrier();
		[[unroll]] for (uint kk = 0u; kk < BK; kk++) {
			vec4 av = vec4(sa[kk * (BM + 1u) + ty * 4u], sa[kk * (BM + 1u) + ty * 4u + 1u],
				       sa[kk * (BM + 1u) + ty * 4u + 2u], sa[kk * (BM + 1u) + ty * 4u + 3u]);
			vec4 bv = vec4(sb[kk * (BN + 1u) + tx * 4u], sb[kk * (BN + 1u) + tx * 4u + 1u],
				       sb[kk * (BN + 1u) + tx * 4u + 2u], sb[kk * (BN + 1u) + tx * 4u + 3u]);

			[[unroll]] for (uint i = 0u; i < 4u; i++)
				[[unroll]] for (uint j = 0u; j < 4u; j++)
					acc[i * 4u + j] += av[i] * bv[j];
		}
		barrier();
	}
	[[unroll]] for (uint i = 0u; i < 4u; i++) {
		uint row = row0 + ty * 4u + i;

		if (row >= nrows)
			break;
		[[unroll]] for (uint j = 0u; j < 4u; j++) {
			uint t = tok0 + tx * 4u + j;
			float v = acc[i * 4u + j];

			if (t >= ntok)
				break;
			if ((P[8] & 1u) != 0u)
				v += BIAS[P[9] + row];
			if ((P[8] & 2u) != 0u)
				v += RES[P[10] + t * P[11] + row];
			D[P[6] + t * P[7] + row] = v;
		}
	}
}
