/* quant_r16.c - the row-interleaved ("R16") weight layouts: pack and unpack.
 *
 * Why.  A mat-vec over a row-major quant matrix works one row at a time:
 * each row's dot product ends in a horizontal sum, and every block's scales
 * are decoded for that row alone.  Interleaving 16 rows block by block puts
 * one row in each int32 lane of a 512-bit register: dpbusd against four
 * activation bytes broadcast to all lanes advances 16 rows at once, the
 * per-row sums never leave their lanes, and a scale vector serves 16 rows.
 * The same layout serves batches (one weight decode, many columns).
 *
 * The layouts have exactly the size of the 16 rows they replace, so a
 * tensor is repacked in place, group by group (16 rows are contiguous), and
 * every tensor keeps its address and size.  A group of 16 rows of n
 * elements holds n / block_size "blocks of 16", each sizeof(block) * 16
 * bytes, in the order of the rows' blocks.  In each, for row r (0..15):
 *
 *   Q4_0 (288 B)  d[16] f16 | 4 steps of 64 B: step i, bytes 4r..4r+3 =
 *                 row r's qs[4i..4i+3] (low nibbles: elements 4i..4i+3,
 *                 high nibbles: 16+4i..16+4i+3).
 *   Q8_0 (544 B)  d[16] f16 | 8 steps of 64 B: step i, bytes 4r..4r+3 =
 *                 row r's qs[4i..4i+3] + 128 (unsigned, for dpbusd).
 *   Q4_K (2304 B) d[16] | dmin[16] (f16) | SL[64] | ML[64] | H[64] | qs:
 *                 sub-block j's 6-bit scale sc and min m; for q < 4 byte
 *                 16q + r of SL is sc_q & 15 | (sc_{q+4} & 15) << 4, ML the
 *                 same of the mins, H holds their high two bits: sc_q at
 *                 bits 0-1, sc_{q+4} 2-3, m_q 4-5, m_{q+4} 6-7.  qs: for
 *                 chunk c < 4 and step i < 8, 64 B at 512c + 64i: bytes
 *                 4r..4r+3 = row r's qs[32c+4i..+3] (low nibbles: elements
 *                 64c+4i.., sub-block 2c; high: 64c+32+4i.., sub-block 2c+1).
 *   Q6_K (3360 B) d[16] f16 | scales[16 sub-blocks][16 rows] int8 |
 *                 V[32] | H[16], 64 B each, element e of row r as the 6-bit
 *                 u = q + 32 in 4-element steps s = e / 4 (bytes 4r + e % 4):
 *                 V_z low nibbles: low 4 bits of step z, high nibbles: step
 *                 z + 32; H_y bits 0-1: high 2 bits of step y + 16, 2-3:
 *                 step y + 48, 4-5: step y, 6-7: step y + 32.
 *
 * Only whole groups are repacked; the kernels are in quant_r16_512.h. */
#include <string.h>

#include "quant_int.h"

#define R16 QUANT_R16_ROWS

bool quant_r16_layout(enum quant_type t)
{
	return t == QT_Q4_0 || t == QT_Q8_0 || t == QT_Q4_K || t == QT_Q6_K;
}

/* ---- Q4_K scales ---------------------------------------------------------- */

static void k4_scales_get(const uint8_t s[12], uint8_t sc[8], uint8_t m[8])
{
	for (int j = 0; j < 4; j++) {
		sc[j] = s[j] & 63;
		m[j] = s[j + 4] & 63;
		sc[j + 4] = (uint8_t)((s[j + 8] & 15) | ((s[j] >> 6) << 4));
		m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
	}
}

static void k4_scales_put(uint8_t s[12], const uint8_t sc[8], const uint8_t m[8])
{
	for (int j = 0; j < 4; j++) {
		s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
		s[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
		s[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
	}
}

/* ---- Q6_K elements -------------------------------------------------------- */

/* The 6-bit u of the 256 elements of a block, and back. */
static void q6_get(const struct blk_q6_k *b, uint8_t u[256])
{
	for (int n = 0; n < 2; n++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *ql = b->ql + 64 * n, h = b->qh[32 * n + l];
			uint8_t *o = u + 128 * n + l;

			o[0] = (uint8_t)((ql[l] & 15) | (h & 3) << 4);
			o[32] = (uint8_t)((ql[l + 32] & 15) | ((h >> 2) & 3) << 4);
			o[64] = (uint8_t)((ql[l] >> 4) | ((h >> 4) & 3) << 4);
			o[96] = (uint8_t)((ql[l + 32] >> 4) | (h >> 6) << 4);
		}
}

static void q6_put(struct blk_q6_k *b, const uint8_t u[256])
{
	for (int n = 0; n < 2; n++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *o = u + 128 * n + l;

			b->ql[64 * n + l] = (uint8_t)((o[0] & 15) | (o[64] & 15) << 4);
			b->ql[64 * n + l + 32] = (uint8_t)((o[32] & 15) | (o[96] & 15) << 4);
			b->qh[32 * n + l] = (uint8_t)(o[0] >> 4 | (o[32] >> 4) << 2 | (o[64] >> 4) << 4 |
						      (o[96] >> 4) << 6);
		}
}

/* ---- one block of 16 rows ------------------------------------------------- */

/* rows[r]: row r's block; o: the interleaved block.  pack: rows -> o. */
static void blk_q4_0(uint8_t *o, uint8_t *const rows[R16], bool pack)
{
	for (int r = 0; r < R16; r++) {
		struct blk_q4_0 *b = (struct blk_q4_0 *)rows[r];

		if (pack)
			memcpy(o + 2 * r, &b->d, 2);
		else
			memcpy(&b->d, o + 2 * r, 2);
		for (int i = 0; i < 4; i++) {
			if (pack)
				memcpy(o + 32 + 64 * i + 4 * r, b->qs + 4 * i, 4);
			else
				memcpy(b->qs + 4 * i, o + 32 + 64 * i + 4 * r, 4);
		}
	}
}

static void blk_q8_0(uint8_t *o, uint8_t *const rows[R16], bool pack)
{
	for (int r = 0; r < R16; r++) {
		struct blk_q8_0 *b = (struct blk_q8_0 *)rows[r];

		if (pack)
			memcpy(o + 2 * r, &b->d, 2);
		else
			memcpy(&b->d, o + 2 * r, 2);
		for (int i = 0; i < 32; i++) {
			uint8_t *p = o + 32 + 64 * (i / 4) + 4 * r + i % 4;

			if (pack)
				*p = (uint8_t)(b->qs[i] ^ 0x80);
			else
				b->qs[i] = (int8_t)(*p ^ 0x80);
		}
	}
}

static void blk_q4_k(uint8_t *o, uint8_t *const rows[R16], bool pack)
{
	uint8_t *sl = o + 64, *ml = o + 128, *h = o + 192, *qs = o + 256;

	for (int r = 0; r < R16; r++) {
		struct blk_q4_k *b = (struct blk_q4_k *)rows[r];
		uint8_t sc[8], m[8];

		if (pack) {
			memcpy(o + 2 * r, &b->d, 2);
			memcpy(o + 32 + 2 * r, &b->dmin, 2);
			k4_scales_get(b->scales, sc, m);
			for (int q = 0; q < 4; q++) {
				sl[16 * q + r] = (uint8_t)((sc[q] & 15) | (sc[q + 4] & 15) << 4);
				ml[16 * q + r] = (uint8_t)((m[q] & 15) | (m[q + 4] & 15) << 4);
				h[16 * q + r] = (uint8_t)(sc[q] >> 4 | (sc[q + 4] >> 4) << 2 |
							  (m[q] >> 4) << 4 | (m[q + 4] >> 4) << 6);
			}
		} else {
			memcpy(&b->d, o + 2 * r, 2);
			memcpy(&b->dmin, o + 32 + 2 * r, 2);
			for (int q = 0; q < 4; q++) {
				uint8_t hb = h[16 * q + r];

				sc[q] = (uint8_t)((sl[16 * q + r] & 15) | (hb & 3) << 4);
				sc[q + 4] = (uint8_t)((sl[16 * q + r] >> 4) | ((hb >> 2) & 3) << 4);
				m[q] = (uint8_t)((ml[16 * q + r] & 15) | ((hb >> 4) & 3) << 4);
				m[q + 4] = (uint8_t)((ml[16 * q + r] >> 4) | (hb >> 6) << 4);
			}
			k4_scales_put(b->scales, sc, m);
		}
		for (int c = 0; c < 4; c++)
			for (int i = 0; i < 8; i++) {
				uint8_t *p = qs + 512 * c + 64 * i + 4 * r;

				if (pack)
					memcpy(p, b->qs + 32 * c + 4 * i, 4);
				else
					memcpy(b->qs + 32 * c + 4 * i, p, 4);
			}
	}
}

static void blk_q6_k(uint8_t *o, uint8_t *const rows[R16], bool pack)
{
	uint8_t *sc = o + 32, *v = o + 288, *h = o + 2336;

	for (int r = 0; r < R16; r++) {
		struct blk_q6_k *b = (struct blk_q6_k *)rows[r];
		uint8_t u[256];

		if (pack) {
			memcpy(o + 2 * r, &b->d, 2);
			for (int j = 0; j < 16; j++)
				sc[16 * j + r] = (uint8_t)b->scales[j];
			q6_get(b, u);
			/* V_z: steps z and z + 32; H_y: steps y + 16, y + 48, y, y + 32 */
			for (int z = 0; z < 32; z++)
				for (int t = 0; t < 4; t++)
					v[64 * z + 4 * r + t] = (uint8_t)((u[4 * z + t] & 15) |
									  (u[128 + 4 * z + t] & 15) << 4);
			for (int y = 0; y < 16; y++)
				for (int t = 0; t < 4; t++)
					h[64 * y + 4 * r + t] = (uint8_t)(u[64 + 4 * y + t] >> 4 |
									  (u[192 + 4 * y + t] >> 4) << 2 |
									  (u[4 * y + t] >> 4) << 4 |
									  (u[128 + 4 * y + t] >> 4) << 6);
			continue;
		}
		memcpy(&b->d, o + 2 * r, 2);
		for (int j = 0; j < 16; j++)
			b->scales[j] = (int8_t)sc[16 * j + r];
		for (int z = 0; z < 32; z++)
			for (int t = 0; t < 4; t++) {
				uint8_t x = v[64 * z + 4 * r + t];

				u[4 * z + t] = x & 15;
				u[128 + 4 * z + t] = x >> 4;
			}
		for (int y = 0; y < 16; y++)
			for (int t = 0; t < 4; t++) {
				uint8_t x = h[64 * y + 4 * r + t];

				u[64 + 4 * y + t] |= (uint8_t)((x & 3) << 4);
				u[192 + 4 * y + t] |= (uint8_t)(((x >> 2) & 3) << 4);
				u[4 * y + t] |= (uint8_t)(((x >> 4) & 3) << 4);
				u[128 + 4 * y + t] |= (uint8_t)((x >> 6) << 4);
			}
		q6_put(b, u);
	}
}

/* ---- groups --------------------------------------------------------------- */

typedef void (*blk_fn)(uint8_t *o, uint8_t *const rows[R16], bool pack);

static blk_fn blk_of(enum quant_type t)
{
	switch (t) {
	case QT_Q4_0: return blk_q4_0;
	case QT_Q8_0: return blk_q8_0;
	case QT_Q4_K: return blk_q4_k;
	case QT_Q6_K: return blk_q6_k;
	default: return NULL;
	}
}

/* rm: 16 row-major rows (row size rs); il: the interleaved group. */
static void group(enum quant_type t, int64_t n, uint8_t *rm, uint8_t *il, bool pack)
{
	const struct quant_traits *q = quant_traits_of(t);
	blk_fn f = blk_of(t);
	size_t bs = q->type_size, rs = quant_row_size(t, n);

	for (int64_t i = 0; i < n / q->block_size; i++) {
		uint8_t *rows[R16];

		for (int r = 0; r < R16; r++)
			rows[r] = rm + (size_t)r * rs + (size_t)i * bs;
		f(il + (size_t)i * R16 * bs, rows, pack);
	}
}

void quant_r16_pack(enum quant_type t, int64_t n, const void *src, void *dst)
{
	group(t, n, (uint8_t *)(uintptr_t)src, dst, true);
}

void quant_r16_unpack(enum quant_type t, int64_t n, const void *src, void *dst)
{
	group(t, n, dst, (uint8_t *)(uintptr_t)src, false);
}

void quant_r16_pack_groups(enum quant_type t, int64_t n, void *data, int64_t g0, int64_t g1, void *tmp)
{
	const size_t gs = R16 * quant_row_size(t, n);

	for (int64_t g = g0; g < g1; g++) {
		uint8_t *p = (uint8_t *)data + (size_t)g * gs;

		memcpy(tmp, p, gs);
		quant_r16_pack(t, n, tmp, p);
	}
}
