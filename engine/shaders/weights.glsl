/* weights.glsl - byte-addressed reads of GGUF blocks from the uint array W,
 * and deq8(): eight consecutive elements of one block as two vec4s.
 *
 * The quant type is chosen by one DATA_A_<TYPE> define; QK is the block's
 * element count and QB its byte size.  Float types (F32, F16, BF16) are
 * FLOAT_W with QK = 8 and are read element by element with a bound, so row
 * lengths need not be a multiple of anything.  The values follow the ggml
 * formats (engine/quant_kern.h documents each layout); only the order of
 * float operations may differ.
 *
 * Every word is read through WORD(i), W[i] unless the including shader
 * defines it: matvec_bcast.comp points it at a block held in registers. */

#ifndef WORD
#define WORD(i) W[i]
#endif

uint w8(uint b) { return (WORD(b >> 2) >> ((b & 3u) << 3)) & 0xFFu; }
uint w16(uint b) { return (WORD(b >> 2) >> ((b & 2u) << 3)) & 0xFFFFu; } /* b even */
float wf16(uint b) { return unpackHalf2x16(w16(b)).x; }
/* Four bytes at any byte offset. */
uint w32(uint b)
{
	uint s = (b & 3u) << 3, lo = WORD(b >> 2);

	return s == 0u ? lo : (lo >> s) | (WORD((b >> 2) + 1u) << (32u - s));
}
uvec2 w64(uint b) { return uvec2(w32(b), w32(b + 4u)); }
vec4 bytes4(uint v) { return vec4(uvec4(v, v >> 8, v >> 16, v >> 24) & 0xFFu); }
vec4 sbytes4(uint v)
{
	return vec4(bitfieldExtract(int(v), 0, 8), bitfieldExtract(int(v), 8, 8),
		    bitfieldExtract(int(v), 16, 8), bitfieldExtract(int(v), 24, 8));
}

#if defined(DATA_A_F32) || defined(DATA_A_F16) || defined(DATA_A_BF16)
#define FLOAT_W 1
#define QK 8u
#if defined(DATA_A_F32)
#define ESZ 4u
float wel(uint b) { return uintBitsToFloat(WORD(b >> 2)); }
#elif defined(DATA_A_F16)
#define ESZ 2u
float wel(uint b) { return wf16(b); }
#else
#define ESZ 2u
float wel(uint b) { return uintBitsToFloat(w16(b) << 16); }
#endif
/* Elements e0.. e0+7 of a row starting at byte rb, zero past n. */
void deq8f(uint rb, uint e0, uint n, out vec4 a, out vec4 b)
{
	float v[8];

	[[unroll]] for (uint i = 0u; i < 8u; i++)
		v[i] = e0 + i < n ? wel(rb + (e0 + i) * ESZ) : 0.0;
	a = vec4(v[0], v[1], v[2], v[3]);
	b = vec4(v[4], v[5], v[6], v[7]);
}
#else

#if defined(DATA_A_IQ4_NL) || defined(DATA_A_IQ4_XS)
const float IQ4_GRID[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0,
	-10.0, 1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
vec4 iq4v(uint v)
{
	return vec4(IQ4_GRID[v & 15u], IQ4_GRID[(v >> 8) & 15u], IQ4_GRID[(v >> 16) & 15u],
		    IQ4_GRID[(v >> 24) & 15u]);
}
#endif

/* The nibbles of elements 8j..8j+7 in 32-element blocks whose qs starts
 * at byte q: elements 0-15 are low nibbles of qs[0..15], 16-31 high ones. */
uvec2 nib8(uint q, uint j)
{
	return (w64(q + 8u * (j & 1u)) >> (4u * (j >> 1))) & 0x0F0F0F0Fu;
}
/* Bits e0..e0+7 of a 32-bit qh word, one per byte. */
uvec2 hbits8(uint qh, uint e0)
{
	uint h = (qh >> e0) & 0xFFu;
	uint lo = (h & 1u) | ((h & 2u) << 7) | ((h & 4u) << 14) | ((h & 8u) << 21);
	uint hi = ((h >> 4) & 1u) | ((h & 32u) << 3) | ((h & 64u) << 10) | ((h & 128u) << 17);

	return uvec2(lo, hi);
}

#if defined(DATA_A_Q4_0)
#define QK 32u
#define QB 18u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	float d = wf16(bo);
	uvec2 q = nib8(bo + 2u, j);

	a = (bytes4(q.x) - 8.0) * d;
	b = (bytes4(q.y) - 8.0) * d;
}
#elif defined(DATA_A_Q4_1)
#define QK 32u
#define QB 20u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	vec2 dm = unpackHalf2x16(WORD(bo >> 2) >> ((bo & 2u) << 3) | (w16(bo + 2u) << 16));
	uvec2 q = nib8(bo + 4u, j);

	a = bytes4(q.x) * dm.x + dm.y;
	b = bytes4(q.y) * dm.x + dm.y;
}
#elif defined(DATA_A_Q5_0)
#define QK 32u
#define QB 22u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	float d = wf16(bo);
	uvec2 q = nib8(bo + 6u, j) | (hbits8(w32(bo + 2u), 8u * j) << 4);

	a = (bytes4(q.x) - 16.0) * d;
	b = (bytes4(q.y) - 16.0) * d;
}
#elif defined(DATA_A_Q5_1)
#define QK 32u
#define QB 24u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	float d = wf16(bo), m = wf16(bo + 2u);
	uvec2 q = nib8(bo + 8u, j) | (hbits8(w32(bo + 4u), 8u * j) << 4);

	a = bytes4(q.x) * d + m;
	b = bytes4(q.y) * d + m;
}
#elif defined(DATA_A_Q8_0)
#define QK 32u
#define QB 34u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	float d = wf16(bo);
	uvec2 q = w64(bo + 2u + 8u * j);

	a = sbytes4(q.x) * d;
	b = sbytes4(q.y) * d;
}
#elif defined(DATA_A_IQ4_NL)
#define QK 32u
#define QB 18u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	float d = wf16(bo);
	uvec2 q = nib8(bo + 2u, j);

	a = iq4v(q.x) * d;
	b = iq4v(q.y) * d;
}
#elif defined(DATA_A_Q2_K)
#define QK 256u
#define QB 84u
/* element e = 128h + 32jj + k: bits 2jj of qs[32h + k]; scale byte e/16 */
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	uint h = j >> 4, jj = (j >> 2) & 3u, k0 = (j & 3u) * 8u;
	uvec2 q = (w64(bo + 16u + 32u * h + k0) >> (2u * jj)) & 0x03030303u;
	uint s = w8(bo + (j >> 1));
	vec2 dm = unpackHalf2x16(WORD((bo + 80u) >> 2) >> (((bo + 80u) & 2u) << 3) |
				 (w16(bo + 82u) << 16));
	float ds = dm.x * float(s & 15u), ms = dm.y * float(s >> 4);

	a = bytes4(q.x) * ds - ms;
	b = bytes4(q.y) * ds - ms;
}
#elif defined(DATA_A_Q3_K)
#define QK 256u
#define QB 110u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	uint h = j >> 4, jj = (j >> 2) & 3u, k0 = (j & 3u) * 8u, s = j >> 1;
	uvec2 q = (w64(bo + 32u + 32u * h + k0) >> (2u * jj)) & 0x03030303u;
	uvec2 hm = (w64(bo + k0) >> (4u * h + jj)) & 0x01010101u;
	uint lo = s < 8u ? w8(bo + 96u + s) & 15u : w8(bo + 96u + s - 8u) >> 4;
	uint hi = (w8(bo + 104u + (s & 3u)) >> (2u * (s >> 2))) & 3u;
	float ds = wf16(bo + 108u) * float(int(lo | (hi << 4)) - 32);

	a = (bytes4(q.x) - 4.0 + 4.0 * bytes4(hm.x)) * ds;
	b = (bytes4(q.y) - 4.0 + 4.0 * bytes4(hm.y)) * ds;
}
#elif defined(DATA_A_Q4_K) || defined(DATA_A_Q5_K)
#define QK 256u
/* The 6-bit (scale, min) of sub-block sb < 8, from the 12 bytes at sc. */
vec2 scale_min_k4(uint sc, uint sb)
{
	if (sb < 4u)
		return vec2(float(w8(sc + sb) & 63u), float(w8(sc + sb + 4u) & 63u));
	return vec2(float((w8(sc + sb + 4u) & 15u) | ((w8(sc + sb - 4u) >> 6) << 4)),
		    float((w8(sc + sb + 4u) >> 4) | ((w8(sc + sb) >> 6) << 4)));
}
/* The same from the scale words held in registers (bytes 4..15 of the
 * block: s.x bytes 0-3, ...), for any sb < 8 without branches. */
vec2 scale_min_k4w(uvec3 s, uint sb)
{
	const uint sh = (sb & 3u) << 3;
	const uint b0 = (s.x >> sh) & 255u, b1 = (s.y >> sh) & 255u, b2 = (s.z >> sh) & 255u;
	const bool lo = sb < 4u;

	return vec2(float(lo ? b0 & 63u : (b2 & 15u) | ((b0 >> 6) << 4)),
		    float(lo ? b1 & 63u : (b2 >> 4) | ((b1 >> 6) << 4)));
}
#if defined(DATA_A_Q4_K)
#define QB 144u
#define QS_OFF 16u
#else
#define QB 176u
#define QS_OFF 48u
#endif
/* chunk c < 4: element 64c + l is the low nibble of qs[32c + l] for l < 32,
 * the high one of qs[32c + l - 32] above; Q5_K adds bit 2c (2c+1) of qh[l]. */
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	uint c = j >> 3, l0 = (j & 7u) * 8u, hi = l0 >> 5;
	uvec2 q = (w64(bo + QS_OFF + 32u * c + (l0 & 31u)) >> (4u * hi)) & 0x0F0F0F0Fu;
	vec2 dm = unpackHalf2x16(WORD(bo >> 2) >> ((bo & 2u) << 3) | (w16(bo + 2u) << 16));
	vec2 sm = scale_min_k4(bo + 4u, j >> 2);
	float ds = dm.x * sm.x, ms = dm.y * sm.y;

#if defined(DATA_A_Q5_K)
	q |= ((w64(bo + 16u + (l0 & 31u)) >> (2u * c + hi)) & 0x01010101u) << 4;
#endif
	a = bytes4(q.x) * ds - ms;
	b = bytes4(q.y) * ds - ms;
}
#elif defined(DATA_A_Q6_K)
#define QK 256u
#define QB 210u
/* half h, quarter qd, l < 32: low 4 bits from ql[64h + 32(qd&1) + l] (high
 * nibble for qd >= 2), bits 4-5 from qh[32h + l] >> 2qd; minus 32. */
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	uint h = j >> 4, qd = (j >> 2) & 3u, l0 = (j & 3u) * 8u;
	uvec2 ql = (w64(bo + 64u * h + 32u * (qd & 1u) + l0) >> (4u * (qd >> 1))) & 0x0F0F0F0Fu;
	uvec2 qh = (w64(bo + 128u + 32u * h + l0) >> (2u * qd)) & 0x03030303u;
	uvec2 q = ql | (qh << 4);
	float ds = wf16(bo + 208u) * float(bitfieldExtract(int(w8(bo + 192u + (j >> 1))), 0, 8));

	a = (bytes4(q.x) - 32.0) * ds;
	b = (bytes4(q.y) - 32.0) * ds;
}
#elif defined(DATA_A_IQ4_XS)
#define QK 256u
#define QB 136u
void deq8(uint bo, uint j, out vec4 a, out vec4 b)
{
	uint ib = j >> 2, jj = j & 3u;
	uvec2 q = (w64(bo + 8u + 16u * ib + 8u * (jj & 1u)) >> (4u * (jj >> 1))) & 0x0F0F0F0Fu;
	uint ls = ((w8(bo + 4u + (ib >> 1)) >> (4u * (ib & 1u))) & 15u) |
		  (((w16(bo + 2u) >> (2u * ib)) & 3u) << 4);
	float ds = wf16(bo) * float(int(ls) - 32);

	a = iq4v(q.x) * ds;
	b = iq4v(q.y) * ds;
}
#else
#error "no DATA_A_<type> defined"
#endif
#endif

/* Elements 8u..8u+7 of the row starting at byte rb (n = row length). */
void load8(uint rb, uint u, uint n, out vec4 a, out vec4 b)
{
#ifdef FLOAT_W
	deq8f(rb, 8u * u, n, a, b);
#else
	deq8(rb + (u / (QK / 8u)) * QB, u % (QK / 8u), a, b);
#endif
}
