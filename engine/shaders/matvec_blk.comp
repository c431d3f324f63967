#version 450
/* matvec_blk.comp - the mat-vec / small-batch product of quantized weights
 * on CPU-type devices (lavapipe): dst[c][r] = sum_k W[r][k] x[c][k]
 * (+ bias[r]) (+ res[c][r]) for NC token columns and NR rows per workgroup
 * of one subgroup, whose invocations take the rows' blocks in turn.
 *
 * The cost model is lavapipe's: arithmetic runs on all SIMD lanes at once,
 * but a load whose address differs between lanes costs a scalar load, a
 * bounds check and a branch per lane and per 32-bit word, and private
 * arrays indexed by constants live in registers or on the stack.  So:
 *   - each block is read once, as whole aligned words ((QB + 5) / 4 of
 *     them), realigned in registers when it starts at an odd half-word;
 *     deq8() of weights.glsl reads those registers (WORD below) at offsets
 *     the compiler folds: the loops over a block are unrolled (for
 *     batches only those over a 32-element chunk: see main());
 *   - each activation is loaded once per workgroup (not once per row) and
 *     serves the NR rows; the host has packed them as f16 beforehand (eight
 *     of them per uvec4 load), halving those loads;
 *   - the partial sums are reduced once, by subgroupAdd, at the end.
 * Rows past the last are computed as copies of it and not written, so the
 * subgroup stays whole for subgroupAdd.
 *
 * P: as matvec.comp (0 K (a multiple of 8), 1 rows, 2 w byte offset (even),
 *    3 row bytes, 4 x off and 5 x stride in words of two f16 (multiples of
 *    4), 6 dst off, 7 dst stride, 8 flags (1 bias, 2 res),
 *    9 bias off, 10 res off, 11 res stride, 12 columns <= NC: the shader
 *    computes NC, reading column 12 - 1 again for those past it). */
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 4;
layout(constant_id = 2) const uint NC = 1;
#define MAX_NR 8u
#define MAX_NC 4u

layout(std430, binding = 1) readonly buffer BW { uint W[]; };
layout(std430, binding = 2) readonly buffer BXH { uvec4 XH[]; }; /* f16 x */
layout(std430, binding = 3) buffer BD { float D[]; };
layout(std430, binding = 4) readonly buffer BB { float BIAS[]; };
layout(std430, binding = 5) buffer BR { float RES[]; };

/* the block deq8() reads, its byte 0 in the low byte of blk[0] */
uint blk[64];
#define WORD(i) blk[i]
#include "weights.glsl"
#define NW ((QB + 5u) / 4u)

/* Chunk ch (32 elements) of block i of the NR rows whose words are in wr:
 * acc[r][c] += its dot product with column c. */
void chunk(uint i, uint ch, uint xo4, uint xs4, const uint wr[MAX_NR][NW],
	   inout float acc[MAX_NR * MAX_NC])
{
	vec4 x[MAX_NC][8];

	[[unroll]] for (uint c = 0u; c < NC; c++)
		[[unroll]] for (uint k = 0u; k < 4u; k++) {
			const uvec4 h = XH[xo4 + min(c, P[12] - 1u) * xs4 +
					   (i * QK + 32u * ch) / 8u + k];

			x[c][2u * k] = vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
			x[c][2u * k + 1u] = vec4(unpackHalf2x16(h.z), unpackHalf2x16(h.w));
		}
	[[unroll]] for (uint r = 0u; r < NR; r++) {
		vec4 q[8];

		[[unroll]] for (uint k = 0u; k < NW; k++)
			blk[k] = wr[r][k];
		[[unroll]] for (uint cc = 0u; cc < QK / 32u; cc++)
			if (cc == ch)
				[[unroll]] for (uint j = 0u; j < 4u; j++)
					deq8(0u, 4u * cc + j, q[2u * j], q[2u * j + 1u]);
		[[unroll]] for (uint c = 0u; c < NC; c++) {
			float s0 = 0.0, s1 = 0.0;

			[[unroll]] for (uint k = 0u; k < 8u; k += 2u) {
				s0 += dot(q[k], x[c][k]);
				s1 += dot(q[k + 1u], x[c][k + 1u]);
			}
			acc[r * MAX_NC + c] += s0 + s1;
		}
	}
}

#if defined(DATA_A_Q4_K)
/* Batches of Q4_K, step p < 4 of block i: sub-blocks 2p and 2p + 1 (the low
 * and high nibbles of the same 32 bytes of qs).  The step's words are loaded
 * from W at an offset uniform in p, not picked from a block in registers,
 * so one loop body serves every step with no chain of ifs (lavapipe would
 * run all of them, masked).  hw: words 0-3 of each row's block (d, dmin,
 * the scales), w0 and odd: where the block starts. */
void pair_q4k(uint i, uint p, uint xo4, uint xs4, const uint hw[MAX_NR][4],
	      const uint w0[MAX_NR], const bool odd[MAX_NR],
	      inout float acc[MAX_NR * MAX_NC])
{
	const uint last = uint(W.length()) - 1u;
	vec4 x[MAX_NC][16];
	float sx[MAX_NC][2];

	[[unroll]] for (uint c = 0u; c < NC; c++) {
		vec4 s0 = vec4(0.0), s1 = vec4(0.0);

		[[unroll]] for (uint k = 0u; k < 8u; k++) {
			const uvec4 h = XH[xo4 + min(c, P[12] - 1u) * xs4 +
					   (i * QK + 64u * p) / 8u + k];

			x[c][2u * k] = vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
			x[c][2u * k + 1u] = vec4(unpackHalf2x16(h.z), unpackHalf2x16(h.w));
		}
		[[unroll]] for (uint k = 0u; k < 8u; k++) {
			s0 += x[c][k];
			s1 += x[c][8u + k];
		}
		sx[c][0] = dot(s0, vec4(1.0));
		sx[c][1] = dot(s1, vec4(1.0));
	}
	[[unroll]] for (uint r = 0u; r < NR; r++) {
		const uvec3 sc = uvec3(hw[r][1], hw[r][2], hw[r][3]);
		const vec2 dm = unpackHalf2x16(hw[r][0]);
		const vec2 sm0 = scale_min_k4w(sc, 2u * p), sm1 = scale_min_k4w(sc, 2u * p + 1u);
		const float ds0 = dm.x * sm0.x, ms0 = dm.y * sm0.y;
		const float ds1 = dm.x * sm1.x, ms1 = dm.y * sm1.y;
		uint raw[9];
		vec4 lo[8], hi[8];

		[[unroll]] for (uint k = 0u; k < 9u; k++)
			raw[k] = W[min(w0[r] + 4u + 8u * p + k, last)];
		[[unroll]] for (uint k = 0u; k < 8u; k++) {
			const uint q = odd[r] ? (raw[k] >> 16) | (raw[k + 1u] << 16) : raw[k];

			lo[k] = bytes4(q & 0x0F0F0F0Fu);
			hi[k] = bytes4((q >> 4) & 0x0F0F0F0Fu);
		}
		[[unroll]] for (uint c = 0u; c < NC; c++) {
			float s0 = 0.0, s1 = 0.0;

			[[unroll]] for (uint k = 0u; k < 8u; k++) {
				s0 += dot(lo[k], x[c][k]);
				s1 += dot(hi[k], x[c][8u + k]);
			}
			acc[r * MAX_NC + c] += ds0 * s0 - ms0 * sx[c][0] +
					       ds1 * s1 - ms1 * sx[c][1];
		}
	}
}
#endif

#if defined(DATA_A_Q6_K)
/* Batches of Q6_K, half h < 2 of block i (elements 128h..128h + 127: the
 * 64 bytes of ql and 32 of qh they share), loaded from W at an offset
 * uniform in h for the same reason as pair_q4k().  hw: the 16 scale bytes
 * and d (words 48-52 of the block, realigned); w0 and odd as there. */
void half_q6k(uint i, uint h, uint xo4, uint xs4, const uint hw[MAX_NR][5],
	      const uint w0[MAX_NR], const bool odd[MAX_NR],
	      inout float acc[MAX_NR * MAX_NC])
{
	const uint last = uint(W.length()) - 1u;
	vec4 x[MAX_NC][32];

	[[unroll]] for (uint c = 0u; c < NC; c++)
		[[unroll]] for (uint k = 0u; k < 16u; k++) {
			const uvec4 v = XH[xo4 + min(c, P[12] - 1u) * xs4 +
					   (i * QK + 128u * h) / 8u + k];

			x[c][2u * k] = vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
			x[c][2u * k + 1u] = vec4(unpackHalf2x16(v.z), unpackHalf2x16(v.w));
		}
	[[unroll]] for (uint r = 0u; r < NR; r++) {
		const float d = unpackHalf2x16(hw[r][4]).x;
		const uvec2 scw = h == 0u ? uvec2(hw[r][0], hw[r][1]) : uvec2(hw[r][2], hw[r][3]);
		const vec4 sc0 = sbytes4(scw.x) * d, sc1 = sbytes4(scw.y) * d;
		const float sc[8] = float[8](sc0.x, sc0.y, sc0.z, sc0.w, sc1.x, sc1.y, sc1.z, sc1.w);
		uint raw[25], ql[16], qh[8];

		[[unroll]] for (uint k = 0u; k < 16u; k++)
			raw[k] = W[min(w0[r] + 16u * h + k, last)];
		raw[16] = W[min(w0[r] + 16u * h + 16u, last)];
		[[unroll]] for (uint k = 0u; k < 16u; k++)
			ql[k] = odd[r] ? (raw[k] >> 16) | (raw[k + 1u] << 16) : raw[k];
		[[unroll]] for (uint k = 0u; k < 9u; k++)
			raw[16u + k] = W[min(w0[r] + 32u + 8u * h + k, last)];
		[[unroll]] for (uint k = 0u; k < 8u; k++)
			qh[k] = odd[r] ? (raw[16u + k] >> 16) | (raw[17u + k] << 16) : raw[16u + k];
		[[unroll]] for (uint qd = 0u; qd < 4u; qd++) {
			vec4 v[8];

			[[unroll]] for (uint k = 0u; k < 8u; k++) {
				const uint q = ((ql[8u * (qd & 1u) + k] >> (4u * (qd >> 1))) & 0x0F0F0F0Fu) |
					       (((qh[k] >> (2u * qd)) & 0x03030303u) << 4);

				v[k] = bytes4(q) - 32.0;
			}
			[[unroll]] for (uint c = 0u; c < NC; c++) {
				float s0 = 0.0, s1 = 0.0;

				[[unroll]] for (uint k = 0u; k < 4u; k++) {
					s0 += dot(v[k], x[c][8u * qd + k]);
					s1 += dot(v[4u + k], x[c][8u * qd + 4u + k]);
				}
				acc[r * MAX_NC + c] += sc[2u * qd] * s0 + sc[2u * qd + 1u] * s1;
			}
		}
	}
}
#endif

void main()
{
	const uint K = P[0], nrows = P[1], nb = K / QK;
	const uint r0 = WG_ID * NR, xo4 = P[4] >> 2, xs4 = P[5] >> 2;
	const uint last = uint(W.length()) - 1u;
	float acc[MAX_NR * MAX_NC];

	if (r0 >= nrows)
		return;
	[[unroll]] for (uint i = 0u; i < MAX_NR * MAX_NC; i++)
		acc[i] = 0.0;
	for (uint i = gl_SubgroupInvocationID; i < nb; i += gl_SubgroupSize) {
		uint wr[MAX_NR][NW];

#if defined(DATA_A_Q4_K)
		if (NC > 1u) {
			uint hw[MAX_NR][4], w0[MAX_NR];
			bool odd[MAX_NR];

			[[unroll]] for (uint r = 0u; r < NR; r++) {
				const uint b = P[2] + min(r0 + r, nrows - 1u) * P[3] + i * QB;
				uint raw[5];

				w0[r] = b >> 2;
				odd[r] = (b & 2u) != 0u;
				[[unroll]] for (uint k = 0u; k < 5u; k++)
					raw[k] = W[min(w0[r] + k, last)];
				[[unroll]] for (uint k = 0u; k < 4u; k++)
					hw[r][k] = odd[r] ? (raw[k] >> 16) | (raw[k + 1u] << 16) : raw[k];
			}
			[[dont_unroll]] for (uint p = 0u; p < 4u; p++)
				pair_q4k(i, p, xo4, xs4, hw, w0, odd, acc);
			continue;
		}
#elif defined(DATA_A_Q6_K)
		if (NC > 1u) {
			uint hw[MAX_NR][5], w0[MAX_NR];
			bool odd[MAX_NR];

			[[unroll]] for (uint r = 0u; r < NR; r++) {
				const uint b = P[2] + min(r0 + r, nrows - 1u) * P[3] + i * QB;
				uint raw[6];

				w0[r] = b >> 2;
				odd[r] = (b & 2u) != 0u;
				[[unroll]] for (uint k = 0u; k < 6u; k++)
					raw[k] = W[min(w0[r] + 48u + k, last)];
				[[unroll]] for (uint k = 0u; k < 5u; k++)
					hw[r][k] = odd[r] ? (raw[k] >> 16) | (raw[k + 1u] << 16) : raw[k];
			}
			[[dont_unroll]] for (uint h = 0u; h < 2u; h++)
				half_q6k(i, h, xo4, xs4, hw, w0, odd, acc);
			continue;
		}
#endif

		/* the block of each row, realigned */
		[[unroll]] for (uint r = 0u; r < NR; r++) {
			const uint b = P[2] + min(r0 + r, nrows - 1u) * P[3] + i * QB;
			const uint w0 = b >> 2;
			const bool odd = (b & 2u) != 0u;
			uint raw[NW];

			[[unroll]] for (uint k = 0u; k < NW; k++)
				raw[k] = W[min(w0 + k, last)];
			[[unroll]] for (uint k = 0u; k + 1u < NW; k++)
				wr[r][k] = odd ? (raw[k] >> 16) | (raw[k + 1u] << 16) : raw[k];
			wr[r][NW - 1u] = odd ? raw[NW - 1u] >> 16 : raw[NW - 1u];
		}
		/* 32 elements at a time.  One column (decode): unrolled, so deq8
		 * offsets fold.  More: a loop (unrolled, with the activation
		 * loads of every column, it takes LLVM a minute to build), whose
		 * chunks pick deq8 offsets by a chain of ifs - which lavapipe runs
		 * all of, masked, so this costs ~2.5x the unrolled form on
		 * 256-element blocks. */
		if (NC == 1u) {
			[[unroll]] for (uint ch = 0u; ch < QK / 32u; ch++)
				chunk(i, ch, xo4, xs4, wr, acc);
		} else {
			[[dont_unroll]] for (uint ch = 0u; ch < QK / 32u; ch++)
				chunk(i, ch, xo4, xs4, wr, acc);
		}
	}
	[[unroll]] for (uint r = 0u; r < NR; r++)
		[[unroll]] for (uint c = 0u; c < NC; c++)
			acc[r * MAX_NC + c] = subgroupAdd(acc[r * MAX_NC + c]);
	if (!subgroupElect())
		return;
	[[unroll]] for (uint r = 0u; r < NR; r++) {
		const uint row = r0 + r;

		if (row >= nrows)
			break;
		[[unroll]] for (uint c = 0u; c < NC; c++) {
			float v = acc[r * MAX_NC + c];

			if (c >= P[12])
				break;
			if ((P[8] & 1u) != 0u)
				v += BIAS[P[9] + row];
			if ((P[8] & 2u) != 0u)
				v += RES[P[10] + c * P[11] + row];
			D[P[6] + c * P[7] + row] = v;
		}
	}
}
