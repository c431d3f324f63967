/* backend_vk_ops.c - the ops of struct engine_backend_ops on Vulkan: each
 * turns its tensors into bindings and parameters (layouts are documented
 * at the top of each shader in engine/shaders) and issues one or a few
 * dispatches.  Shapes and semantics are those of backend_cpu.c, the
 * reference the tests compare against.
 *
 * Mat-mul strategy: up to 8 tokens, the mat-vec shader with one column per
 * token (each weight read once for the whole batch); more, the tiled
 * shader.  Weights larger than one binding are split into windows of rows;
 * batches whose activations exceed one binding into slices of tokens.
 *
 * Attention strategy: one workgroup per (KV head, token, slice of up to 8
 * heads of the GQA group) walks every visible key.  When that is fewer
 * workgroups than the device wants (att_groups: decode with few KV heads)
 * and the batch sees ATT_SPLIT_MIN_KV keys or more, the keys it sees are
 * cut into chunks (flash-decoding): a workgroup per chunk writes partial
 * results to att_part, and attention_combine merges them.  The number of
 * chunk slots dispatched depends on the shape and the cache size only;
 * the number and width of the chunks, on the position (parameters): a
 * recorded decode step replays at the next position, except once, where
 * the context reaches ATT_SPLIT_MIN_KV and attention starts splitting. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend_vk_int.h"

#define MV_ROWS 2        /* rows per mat-vec workgroup */
#define MV_MAX_COLS 8
#define ROWS_MAX_COLS 16 /* matvec_rows.comp */
#define ROWS_WG 8
#define BLK_COLS 4       /* matvec_blk.comp: columns of a batch dispatch */
#define BLK_ROWS_1 8     /* its rows per workgroup, one column */
#define BLK_ROWS_N 4     /* the same, BLK_COLS columns */
#define ATT_MAXG 8       /* attention.comp MAXG, MAXQ, DPT */
#define ATT_MAXQ 2048
#define ATT_MAX_HD 256
#define ATT_SPLIT_MIN_KV 512   /* visible keys from which attention splits */
#define ATT_CHUNK 256          /* keys per chunk, unless the slots run out */
#define ATT_SPLIT_MAX 32       /* chunk slots per (KV head, token, head slice) */
#define ATT_SPLIT_TOKENS 8     /* larger batches have workgroups enough */

static const char *type_tag(enum quant_type t)
{
	switch (t) {
	case QT_F32: return "f32";
	case QT_F16: return "f16";
	case QT_BF16: return "bf16";
	case QT_Q4_0: return "q4_0";
	case QT_Q4_1: return "q4_1";
	case QT_Q5_0: return "q5_0";
	case QT_Q5_1: return "q5_1";
	case QT_Q8_0: return "q8_0";
	case QT_Q2_K: return "q2_k";
	case QT_Q3_K: return "q3_k";
	case QT_Q4_K: return "q4_k";
	case QT_Q5_K: return "q5_k";
	case QT_Q6_K: return "q6_k";
	case QT_IQ4_NL: return "iq4_nl";
	case QT_IQ4_XS: return "iq4_xs";
	default: return NULL;
	}
}

/* The types with a matvec_blk variant (engine/shaders/meson.build). */
static bool blk_type(enum quant_type t)
{
	switch (t) {
	case QT_Q4_0: case QT_Q4_1: case QT_Q5_0: case QT_Q5_1: case QT_Q8_0:
	case QT_Q2_K: case QT_Q3_K: case QT_Q4_K: case QT_Q5_K: case QT_Q6_K:
		return true;
	default:
		return false;
	}
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static size_t row_elems(const struct etensor *t)
{
	return t->nb1 / 4;
}

/* The largest byte span one binding can hold at any offset. */
static VkDeviceSize span(const struct vk_backend *vk)
{
	return vk->max_range - vk->align;
}

static bool usable(struct vk_backend *vk, enum quant_type t)
{
	if (type_tag(t) == NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "no shader for weight type %s", quant_type_name(t));
		vk_fail(vk, ENGINE_EUNSUPPORTED, msg);
		return false;
	}
	return true;
}

/* ---- mat-mul ----------------------------------------------------------------- */

/* Rows [0, n) of x (K wide, K % 8 == 0) as packed f16 into vk->xh, K / 2
 * words a row (kv_store.comp's f16 copy). */
static void to_f16(struct vk_backend *vk, const struct etensor *x, struct vk_buf *xb,
		   VkDeviceSize xo, uint32_t K, uint32_t n)
{
	struct vk_dispatch d = { 0 };
	uint32_t P[6], spec[3] = { 0 };

	P[0] = K;
	P[1] = vk_bind(vk, &d, 1, xb, xo, (VkDeviceSize)(n - 1) * x->nb1 + K * 4ull) / 4;
	P[2] = (uint32_t)row_elems(x);
	P[3] = vk_bind(vk, &d, 2, &vk->xh, 0, (VkDeviceSize)n * K * 2) / 4;
	P[4] = 0;
	P[5] = n;
	d.gx = (K / 2 + 255) / 256;
	d.gy = n;
	d.gz = 1;
	vk_issue(vk, "kv_store_f16", spec, &d, 1u << 2, P, 6);
}

void vk_op_matmul(struct engine_backend *be, struct etensor *dst,
		  const struct etensor *w, const struct etensor *x,
		  uint32_t n_tokens, const struct etensor *bias,
		  const struct etensor *res)
{
	struct vk_backend *vk = vkb(be);
	const uint32_t K = (uint32_t)w->ne[0], R = (uint32_t)etensor_rows(w);
	VkDeviceSize wo, xo, dof, bo = 0, ro = 0, widest;
	struct vk_buf *wb, *xb, *db, *bb = NULL, *rb = NULL;
	uint32_t rows_win, tok_win;
	bool blk;
	char name[40];

	if (vk->err || !usable(vk, w->type))
		return;
	if (bias && bias->data == NULL && bias->bk == NULL)
		bias = NULL;
	wb = vk_locate(vk, w, &wo);
	xb = vk_locate(vk, x, &xo);
	db = vk_locate(vk, dst, &dof);
	if (bias)
		bb = vk_locate(vk, bias, &bo);
	if (res)
		rb = vk_locate(vk, res, &ro);
	if (!wb || !xb || !db || (bias && !bb) || (res && !rb))
		return;
	/* the block kernel: quantized blocks at even bytes; it reads the
	 * activations from their f16 copy in xh (sized by reserve) */
	blk = vk->blk_kernel && blk_type(w->type) && wo % 2 == 0 && w->nb1 % 2 == 0 &&
	      K % 8 == 0 && (VkDeviceSize)n_tokens * K * 2 <= vk->xh.size &&
	      (VkDeviceSize)n_tokens * x->nb1 <= span(vk);
	if (blk)
		to_f16(vk, x, xb, xo, K, n_tokens);
	widest = x->nb1 > dst->nb1 ? x->nb1 : dst->nb1;
	rows_win = (uint32_t)(span(vk) / w->nb1);
	tok_win = (uint32_t)(span(vk) / widest);
	if (vk->rows_kernel && tok_win > ROWS_MAX_COLS)
		tok_win = ROWS_MAX_COLS;
	if (blk && tok_win > BLK_COLS)
		tok_win = BLK_COLS;
	if (rows_win == 0 || tok_win == 0) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "a row is larger than one binding");
		return;
	}
	for (uint32_t t0 = 0; t0 < n_tokens; t0 += tok_win) {
		uint32_t nt = n_tokens - t0 < tok_win ? n_tokens - t0 : tok_win;

		for (uint32_t r0 = 0; r0 < R; r0 += rows_win) {
			uint32_t nr = R - r0 < rows_win ? R - r0 : rows_win;
			struct vk_dispatch d = { 0 };
			uint32_t P[16] = { 0 };
			uint32_t spec[3] = { 0 };

			P[0] = K;
			P[1] = nr;
			P[2] = vk_bind(vk, &d, 1, wb, wo + (VkDeviceSize)r0 * w->nb1,
				       (VkDeviceSize)nr * w->nb1);
			P[3] = (uint32_t)w->nb1;
			if (blk) {
				P[4] = vk_bind(vk, &d, 2, &vk->xh, (VkDeviceSize)t0 * K * 2,
					       (VkDeviceSize)nt * K * 2) / 4;
				P[5] = K / 2;
			} else {
				P[4] = vk_bind(vk, &d, 2, xb, xo + (VkDeviceSize)t0 * x->nb1,
					       (VkDeviceSize)(nt - 1) * x->nb1 +
					       (VkDeviceSize)K * 4) / 4;
				P[5] = (uint32_t)row_elems(x);
			}
			P[6] = vk_bind(vk, &d, 3, db, dof + (VkDeviceSize)t0 * dst->nb1 + r0 * 4ull,
				       (VkDeviceSize)(nt - 1) * dst->nb1 + nr * 4ull) / 4;
			P[7] = (uint32_t)row_elems(dst);
			if (bb) {
				P[8] |= 1;
				P[9] = vk_bind(vk, &d, 4, bb, bo + r0 * 4ull, nr * 4ull) / 4;
			}
			if (rb) {
				P[8] |= 2;
				P[10] = vk_bind(vk, &d, 5, rb, ro + (VkDeviceSize)t0 * res->nb1 +
						r0 * 4ull, (VkDeviceSize)(nt - 1) * res->nb1 +
						nr * 4ull) / 4;
				P[11] = (uint32_t)row_elems(res);
			}
			P[12] = nt;
			if (blk) {
				/* two variants only (LLVM takes seconds to build
				 * each): one column, or BLK_COLS of which the
				 * shader ignores those past nt */
				snprintf(name, sizeof(name), "matvec_blk_%s", type_tag(w->type));
				spec[0] = vk->info.subgroup_size;
				spec[1] = nt == 1 ? BLK_ROWS_1 : BLK_ROWS_N;
				spec[2] = nt == 1 ? 1 : BLK_COLS;
				vk_groups(&d, (nr + spec[1] - 1) / spec[1]);
			} else if (vk->rows_kernel) {
				snprintf(name, sizeof(name), "matvec_rows_%s", type_tag(w->type));
				spec[0] = ROWS_WG;
				spec[2] = nt;
				vk_groups(&d, (nr + ROWS_WG - 1) / ROWS_WG);
			} else if (nt <= MV_MAX_COLS) {
				snprintf(name, sizeof(name), "matvec_%s%s", type_tag(w->type),
					 vk->subgroup ? "_sg" : "");
				spec[0] = vk->wg_matvec;
				spec[1] = MV_ROWS;
				spec[2] = nt;
				vk_groups(&d, (nr + MV_ROWS - 1) / MV_ROWS);
			} else {
				snprintf(name, sizeof(name), "matmul_%s", type_tag(w->type));
				d.gx = (nr + 63) / 64;
				d.gy = (nt + 63) / 64;
				d.gz = 1;
			}
			vk_issue(vk, name, spec, &d, 1u << 3, P, 16);
		}
	}
}

void vk_op_moe_matmul(struct engine_backend *be, struct etensor *dst,
		      const struct etensor *w_exps, const struct etensor *x,
		      const struct etensor *ids, uint32_t n_tokens, uint32_t k,
		      bool x_per_slot)
{
	struct vk_backend *vk = vkb(be);
	const uint32_t K = (uint32_t)w_exps->ne[0], R = (uint32_t)w_exps->ne[1];
	const uint64_t flat = (uint64_t)R * w_exps->ne[2];
	const uint32_t cols = n_tokens * k, x_rows = x_per_slot ? cols : n_tokens;
	VkDeviceSize wo, xo, dof, io;
	struct vk_buf *wb, *xb, *db, *ib;
	uint64_t rows_win;
	char name[40];

	if (vk->err || !usable(vk, w_exps->type))
		return;
	wb = vk_locate(vk, w_exps, &wo);
	xb = vk_locate(vk, x, &xo);
	db = vk_locate(vk, dst, &dof);
	ib = vk_locate(vk, ids, &io);
	if (!wb || !xb || !db || !ib)
		return;
	rows_win = span(vk) / w_exps->nb1;
	if (vk->rows_kernel)
		snprintf(name, sizeof(name), "moe_rows_%s", type_tag(w_exps->type));
	else
		snprintf(name, sizeof(name), "moe_%s%s", type_tag(w_exps->type),
			 vk->subgroup ? "_sg" : "");
	for (uint64_t lo = 0; lo < flat; lo += rows_win) {
		uint64_t hi = flat - lo < rows_win ? flat : lo + rows_win;
		struct vk_dispatch d = { .gz = cols };
		uint32_t P[20] = { 0 };
		uint32_t spec[3] = { vk->wg_matvec, MV_ROWS, 1 };

		P[0] = K;
		P[1] = R;
		P[2] = vk_bind(vk, &d, 1, wb, wo + lo * w_exps->nb1, (hi - lo) * w_exps->nb1);
		P[3] = (uint32_t)w_exps->nb1;
		P[4] = vk_bind(vk, &d, 2, xb, xo, (VkDeviceSize)(x_rows - 1) * x->nb1 + K * 4ull) / 4;
		P[5] = (uint32_t)row_elems(x);
		P[6] = vk_bind(vk, &d, 3, db, dof, (VkDeviceSize)(cols - 1) * dst->nb1 + R * 4ull) / 4;
		P[7] = (uint32_t)row_elems(dst);
		P[12] = 1;
		P[13] = vk_bind(vk, &d, 6, ib, io, (VkDeviceSize)(n_tokens - 1) * ids->nb1 + k * 4ull) / 4;
		P[14] = k;
		P[15] = x_per_slot;
		P[16] = (uint32_t)(R * w_exps->nb1);
		P[17] = (uint32_t)lo;
		P[18] = (uint32_t)hi;
		P[19] = R;
		if (ids->nb1 != k * 4ull) {
			vk_fail(vk, ENGINE_EINVAL, "moe ids must be packed [tokens][k]");
			return;
		}
		if (vk->rows_kernel) {
			spec[0] = ROWS_WG;
			spec[1] = 0;
			vk_groups(&d, (R + ROWS_WG - 1) / ROWS_WG);
		} else {
			vk_groups(&d, (R + MV_ROWS - 1) / MV_ROWS);
		}
		vk_issue(vk, name, spec, &d, 1u << 3, P, 20);
	}
}

/* ---- get_rows, norms, element-wise ----------------------------------------------- */

void vk_op_get_rows(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *table, const struct etensor *ids,
		    uint32_t n, float scale)
{
	struct vk_backend *vk = vkb(be);
	const uint64_t rows = (uint64_t)etensor_rows(table);
	VkDeviceSize to, io, dof;
	struct vk_buf *tb, *ib, *db;
	uint64_t win;
	char name[40];

	if (vk->err || !usable(vk, table->type))
		return;
	tb = vk_locate(vk, table, &to);
	ib = vk_locate(vk, ids, &io);
	db = vk_locate(vk, dst, &dof);
	if (!tb || !ib || !db)
		return;
	win = span(vk) / table->nb1;
	snprintf(name, sizeof(name), "get_rows_%s", type_tag(table->type));
	for (uint64_t lo = 0; lo < rows; lo += win) {
		uint64_t hi = rows - lo < win ? rows : lo + win;
		struct vk_dispatch d = { 0 };
		uint32_t P[9], spec[3] = { 0 };

		P[0] = (uint32_t)table->ne[0];
		P[1] = vk_bind(vk, &d, 1, tb, to + lo * table->nb1, (hi - lo) * table->nb1);
		P[2] = (uint32_t)table->nb1;
		P[3] = vk_bind(vk, &d, 2, ib, io, n * 4ull) / 4;
		P[4] = vk_bind(vk, &d, 3, db, dof, (VkDeviceSize)n * dst->nb1) / 4;
		P[5] = (uint32_t)row_elems(dst);
		P[6] = (uint32_t)lo;
		P[7] = (uint32_t)hi;
		P[8] = fbits(scale);
		vk_groups(&d, n);
		vk_issue(vk, name, spec, &d, 1u << 3, P, 9);
	}
}

void vk_op_rms_norm(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *x, const struct etensor *w,
		    uint32_t n_rows, float eps)
{
	struct vk_backend *vk = vkb(be);
	const uint32_t W = (uint32_t)w->ne[0];
	VkDeviceSize xo, dof, wo;
	struct vk_buf *xb, *db, *wb;
	struct vk_dispatch d = { 0 };
	uint32_t P[6], spec[3] = { 0 };

	if (vk->err)
		return;
	xb = vk_locate(vk, x, &xo);
	db = vk_locate(vk, dst, &dof);
	wb = vk_locate(vk, w, &wo);
	if (!xb || !db || !wb)
		return;
	P[0] = W;
	P[1] = vk_bind(vk, &d, 1, xb, xo, (VkDeviceSize)n_rows * W * 4) / 4;
	P[2] = vk_bind(vk, &d, 2, db, dof, (VkDeviceSize)n_rows * W * 4) / 4;
	P[3] = vk_bind(vk, &d, 3, wb, wo, W * 4ull) / 4;
	P[4] = fbits(eps);
	P[5] = n_rows;
	vk_groups(&d, n_rows);
	vk_issue(vk, vk->subgroup ? "rms_norm_sg" : "rms_norm", spec, &d, 1u << 2, P, 6);
}

/* eltwise.comp: op 0 add, 1 silu-glu, 2 gelu-glu, 3 moe combine. */
static void eltwise(struct vk_backend *vk, uint32_t op, struct etensor *dst,
		    const struct etensor *a, const struct etensor *b,
		    const struct etensor *w, uint32_t rows, uint32_t k)
{
	const uint32_t n = (uint32_t)dst->ne[0];
	VkDeviceSize ao = 0, bo, dof, wo = 0;
	struct vk_buf *ab = NULL, *bb, *db, *wb = NULL;
	struct vk_dispatch d = { 0 };
	uint32_t P[13] = { 0 }, spec[3] = { 0 };
	uint32_t b_rows = op == 3 ? rows * k : rows;

	if (vk->err)
		return;
	if (a)
		ab = vk_locate(vk, a, &ao);
	bb = vk_locate(vk, b, &bo);
	db = vk_locate(vk, dst, &dof);
	if (w)
		wb = vk_locate(vk, w, &wo);
	if ((a && !ab) || !bb || !db || (w && !wb))
		return;
	P[0] = n;
	P[1] = op;
	if (ab) {
		P[2] = vk_bind(vk, &d, 1, ab, ao, (VkDeviceSize)(rows - 1) * a->nb1 + n * 4ull) / 4;
		P[3] = (uint32_t)row_elems(a);
	}
	P[4] = vk_bind(vk, &d, 2, bb, bo, (VkDeviceSize)(b_rows - 1) * b->nb1 + n * 4ull) / 4;
	P[5] = (uint32_t)row_elems(b);
	P[6] = vk_bind(vk, &d, 3, db, dof, (VkDeviceSize)(rows - 1) * dst->nb1 + n * 4ull) / 4;
	P[7] = (uint32_t)row_elems(dst);
	P[8] = rows;
	if (wb) {
		P[9] = vk_bind(vk, &d, 4, wb, wo, (VkDeviceSize)(rows - 1) * w->nb1 + k * 4ull) / 4;
		P[12] = (uint32_t)row_elems(w);
	}
	P[10] = k;
	P[11] = ab != NULL;
	d.gx = (n + 255) / 256;
	d.gy = rows < 65535 ? rows : 65535;
	d.gz = (rows + 65534) / 65535;
	if (d.gz == 0)
		d.gz = 1;
	if (d.gy == 0)
		d.gy = 1;
	vk_issue(vk, "eltwise", spec, &d, 1u << 3, P, 13);
}

void vk_op_add(struct engine_backend *be, struct etensor *dst,
	       const struct etensor *a, const struct etensor *b, uint32_t n_tokens)
{
	eltwise(vkb(be), 0, dst, a, b, NULL, n_tokens, 0);
}

void vk_op_glu(struct engine_backend *be, struct etensor *dst,
	       const struct etensor *gate, const struct etensor *up,
	       uint32_t n_tokens, enum act_kind act)
{
	eltwise(vkb(be), act == ACT_SILU ? 1 : 2, dst, gate, up, NULL, n_tokens, 0);
}

void vk_op_moe_combine(struct engine_backend *be, struct etensor *dst,
		       const struct etensor *y, const struct etensor *weights,
		       uint32_t n_tokens, uint32_t k, const struct etensor *res)
{
	eltwise(vkb(be), 3, dst, res, y, weights, n_tokens, k);
}

/* ---- rope, KV cache, attention, routing --------------------------------------------- */

void vk_op_rope(struct engine_backend *be, struct etensor *x,
		const struct etensor *pos, uint32_t n_tokens, uint32_t n_heads,
		uint32_t head_dim, uint32_t n_dims, enum rope_mode mode,
		float base, float pos_scale, const struct etensor *freq_factors)
{
	struct vk_backend *vk = vkb(be);
	VkDeviceSize xo, po, fo = 0;
	struct vk_buf *xb, *pb, *fb = NULL;
	struct vk_dispatch d = { 0 };
	uint32_t P[12] = { 0 }, spec[3] = { 0 };
	bool ff = freq_factors && (freq_factors->data || freq_factors->bk);

	if (vk->err || n_dims < 2)
		return;
	xb = vk_locate(vk, x, &xo);
	pb = vk_locate(vk, pos, &po);
	if (ff)
		fb = vk_locate(vk, freq_factors, &fo);
	if (!xb || !pb || (ff && !fb))
		return;
	P[0] = n_tokens;
	P[1] = n_heads;
	P[2] = head_dim;
	P[3] = n_dims;
	P[4] = mode == ROPE_NORM ? 0 : 1;
	P[5] = fbits((float)log2((double)base));
	P[6] = fbits((float)(1.0 / (pos_scale > 0 ? (double)pos_scale : 1.0)));
	P[7] = ff;
	P[8] = vk_bind(vk, &d, 1, xb, xo, (VkDeviceSize)(n_tokens - 1) * x->nb1 +
		       (VkDeviceSize)n_heads * head_dim * 4) / 4;
	P[9] = (uint32_t)row_elems(x);
	P[10] = vk_bind(vk, &d, 2, pb, po, n_tokens * 4ull) / 4;
	if (fb)
		P[11] = vk_bind(vk, &d, 3, fb, fo, n_dims / 2 * 4ull) / 4;
	d.gx = (n_heads * (n_dims / 2) + 63) / 64;
	d.gy = n_tokens;
	d.gz = 1;
	vk_issue(vk, "rope", spec, &d, 1u << 1, P, 12);
}

static void kv_copy(struct vk_backend *vk, struct etensor *cache, const struct etensor *src,
		    uint32_t pos0, uint32_t n_tokens)
{
	const uint32_t n = (uint32_t)cache->ne[0];
	const bool f16 = cache->type == QT_F16;
	VkDeviceSize co, so;
	struct vk_buf *cb, *sb;
	struct vk_dispatch d = { 0 };
	uint32_t P[6], spec[3] = { 0 };

	if (vk->err)
		return;
	if ((cache->type != QT_F16 && cache->type != QT_F32) || (f16 && n % 2)) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "KV cache rows must be F32, or F16 of even width");
		return;
	}
	cb = vk_locate(vk, cache, &co);
	sb = vk_locate(vk, src, &so);
	if (!cb || !sb)
		return;
	P[0] = n;
	P[1] = vk_bind(vk, &d, 1, sb, so, (VkDeviceSize)(n_tokens - 1) * src->nb1 + n * 4ull) / 4;
	P[2] = (uint32_t)row_elems(src);
	P[3] = vk_bind(vk, &d, 2, cb, co, (VkDeviceSize)etensor_rows(cache) * cache->nb1) / 4;
	P[4] = pos0;
	P[5] = n_tokens;
	d.gx = ((f16 ? n / 2 : n) + 255) / 256;
	d.gy = n_tokens;
	d.gz = 1;
	vk_issue(vk, f16 ? "kv_store_f16" : "kv_store_f32", spec, &d, 1u << 2, P, 6);
}

void vk_op_kv_store(struct engine_backend *be, struct etensor *kcache,
		    struct etensor *vcache, const struct etensor *k,
		    const struct etensor *v, uint32_t pos0, uint32_t n_tokens)
{
	kv_copy(vkb(be), kcache, k, pos0, n_tokens);
	kv_copy(vkb(be), vcache, v, pos0, n_tokens);
}

void vk_op_top_k(struct engine_backend *be, struct etensor *out, const struct etensor *logits,
		 uint32_t k)
{
	struct vk_backend *vk = vkb(be);
	const uint32_t n = (uint32_t)logits->ne[0];
	VkDeviceSize lo, oo;
	struct vk_buf *lb, *ob;
	struct vk_dispatch d = { 0 };
	uint32_t P[4], spec[3] = { 0 };

	if (vk->err || k == 0)
		return;
	if (k > ENGINE_TOPK_MAX || out->ne[0] < 2 * (int64_t)k) {
		vk_fail(vk, ENGINE_EINVAL, "top-k: k above the output's room");
		return;
	}
	lb = vk_locate(vk, logits, &lo);
	ob = vk_locate(vk, out, &oo);
	if (!lb || !ob)
		return;
	P[0] = n;
	P[1] = vk_bind(vk, &d, 1, lb, lo, n * 4ull) / 4;
	P[2] = k;
	P[3] = vk_bind(vk, &d, 2, ob, oo, 2ull * k * 4) / 4;
	d.gx = d.gy = d.gz = 1;
	vk_issue(vk, "topk", spec, &d, 1u << 2, P, 4);
}

/* rope_fused.comp over x's heads (q in place), or with kc: x's k heads and
 * v's heads into the caches (STORE). */
static void rope_fused(struct vk_backend *vk, struct etensor *x, const struct etensor *v,
		       struct etensor *kc, struct etensor *vc, const struct etensor *pos,
		       const struct rope_params *rp, uint32_t heads, const struct etensor *norm,
		       float eps, uint32_t pos0, uint32_t n_tokens)
{
	const bool ff = rp->freq_factors && (rp->freq_factors->data || rp->freq_factors->bk);
	const bool nrm = norm && (norm->data || norm->bk), f16 = kc && kc->type == QT_F16;
	VkDeviceSize xo, po, fo = 0, no = 0, vo = 0, kco = 0, vco = 0;
	struct vk_buf *xb, *pb, *fb = NULL, *nb = NULL, *vb = NULL, *kcb = NULL, *vcb = NULL;
	struct vk_dispatch d = { 0 };
	uint32_t P[21] = { 0 }, spec[3] = { 0 };
	const char *name = kc ? (f16 ? "rope_kv_f16" : "rope_kv_f32") : "rope_q";

	if (vk->err)
		return;
	xb = vk_locate(vk, x, &xo);
	pb = vk_locate(vk, pos, &po);
	if (ff)
		fb = vk_locate(vk, rp->freq_factors, &fo);
	if (nrm)
		nb = vk_locate(vk, norm, &no);
	if (kc) {
		vb = vk_locate(vk, v, &vo);
		kcb = vk_locate(vk, kc, &kco);
		vcb = vk_locate(vk, vc, &vco);
	}
	if (!xb || !pb || (ff && !fb) || (nrm && !nb) || (kc && (!vb || !kcb || !vcb)))
		return;
	P[0] = n_tokens;
	P[1] = heads;
	P[2] = rp->head_dim;
	P[3] = rp->n_dims;
	P[4] = rp->mode == ROPE_NORM ? 0 : 1;
	P[5] = fbits((float)log2((double)rp->base));
	P[6] = fbits((float)(1.0 / (rp->pos_scale > 0 ? (double)rp->pos_scale : 1.0)));
	P[7] = ff;
	P[8] = vk_bind(vk, &d, 1, xb, xo, (VkDeviceSize)(n_tokens - 1) * x->nb1 +
		       (VkDeviceSize)heads * rp->head_dim * 4) / 4;
	P[9] = (uint32_t)row_elems(x);
	P[10] = vk_bind(vk, &d, 3, pb, po, n_tokens * 4ull) / 4;
	if (fb)
		P[11] = vk_bind(vk, &d, 4, fb, fo, rp->n_dims / 2 * 4ull) / 4;
	P[12] = nrm;
	if (nb)
		P[13] = vk_bind(vk, &d, 5, nb, no, rp->head_dim * 4ull) / 4;
	P[14] = fbits(eps);
	if (kc) {
		P[15] = vk_bind(vk, &d, 2, vb, vo, (VkDeviceSize)(n_tokens - 1) * v->nb1 +
				(VkDeviceSize)heads * rp->head_dim_v * 4) / 4;
		P[16] = (uint32_t)row_elems(v);
		P[17] = rp->head_dim_v;
		P[18] = vk_bind(vk, &d, 6, kcb, kco, (VkDeviceSize)etensor_rows(kc) * kc->nb1) / 4;
		P[19] = vk_bind(vk, &d, 7, vcb, vco, (VkDeviceSize)etensor_rows(vc) * vc->nb1) / 4;
		P[20] = pos0;
	}
	d.gx = kc ? 2 * heads : heads;
	d.gy = n_tokens;
	d.gz = 1;
	vk_issue(vk, name, spec, &d, kc ? (1u << 6) | (1u << 7) : 1u << 1, P, 21);
}

void vk_op_rope_qkv(struct engine_backend *be, struct etensor *q, const struct etensor *k,
		    const struct etensor *v, struct etensor *kcache, struct etensor *vcache,
		    const struct etensor *pos, const struct rope_params *rp,
		    const struct etensor *q_norm, const struct etensor *k_norm, float eps,
		    uint32_t pos0, uint32_t n_tokens)
{
	struct vk_backend *vk = vkb(be);
	const bool f16 = kcache->type == QT_F16;

	if (vk->err)
		return;
	if (rp->head_dim > 256 || rp->head_dim_v > 256 || rp->n_dims > rp->head_dim || rp->n_dims < 2 ||
	    kcache->type != vcache->type || (kcache->type != QT_F16 && kcache->type != QT_F32) ||
	    (f16 && (rp->head_dim % 2 || rp->head_dim_v % 2))) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "rope: head size above 256, rotated dims outside "
			"2..head size, odd F16 heads, or caches not both F16 or F32");
		return;
	}
	rope_fused(vk, q, NULL, NULL, NULL, pos, rp, rp->n_head, q_norm, eps, pos0, n_tokens);
	rope_fused(vk, (struct etensor *)k, v, kcache, vcache, pos, rp, rp->n_head_kv, k_norm, eps,
		   pos0, n_tokens);
}

/* Chunk slots per (KV head, token, head slice) of split attention over a
 * cache of n_ctx positions, for a shape of `groups` unsplit workgroups; 0:
 * never split.  From the cache size, not the position, so that it holds
 * for every step a recorded pass is replayed at. */
static uint32_t att_slots(const struct vk_backend *vk, uint32_t n_ctx, uint32_t n_tokens,
			  uint32_t groups)
{
	uint32_t s = (vk->att_groups + groups - 1) / groups;
	uint32_t by_ctx = (n_ctx + ATT_CHUNK - 1) / ATT_CHUNK;

	if (n_tokens > ATT_SPLIT_TOKENS || n_ctx < ATT_SPLIT_MIN_KV)
		return 0;
	if (s > by_ctx)
		s = by_ctx;
	if (s > ATT_SPLIT_MAX)
		s = ATT_SPLIT_MAX;
	return s >= 2 ? s : 0;
}

static VkDeviceSize att_part_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t hdv,
				   uint32_t slots)
{
	return (VkDeviceSize)n_tokens * n_head * slots * (hdv + 2) * 4;
}

VkDeviceSize vk_attention_scratch(const struct vk_backend *vk, const struct attn_params *a)
{
	const uint32_t group = a->n_head_kv ? a->n_head / a->n_head_kv : 0;
	const uint32_t slices = (group + ATT_MAXG - 1) / ATT_MAXG;
	VkDeviceSize most = 0;

	for (uint32_t n = 1; n <= a->n_tokens && n <= ATT_SPLIT_TOKENS && slices; n++) {
		uint32_t s = att_slots(vk, a->n_kv, n, a->n_head_kv * n * slices);
		VkDeviceSize b = att_part_bytes(n, a->n_head, a->head_dim_v, s);

		if (b > most)
			most = b;
	}
	return most;
}

/* The second pass of split attention: the partials of `chunks` chunks
 * (records of `slots`) into out. */
static void att_combine(struct vk_backend *vk, struct etensor *out, struct vk_buf *ob,
			VkDeviceSize oo, const struct attn_params *p, uint32_t chunks,
			uint32_t slots)
{
	struct vk_dispatch d = { 0 };
	uint32_t P[8], spec[3] = { 0 };

	P[0] = p->n_tokens;
	P[1] = p->n_head;
	P[2] = p->head_dim_v;
	P[3] = chunks;
	P[4] = slots;
	P[5] = vk_bind(vk, &d, 1, &vk->att_part, 0, att_part_bytes(p->n_tokens, p->n_head,
					p->head_dim_v, slots)) / 4;
	P[6] = vk_bind(vk, &d, 2, ob, oo, (VkDeviceSize)(p->n_tokens - 1) * out->nb1 +
		       (VkDeviceSize)p->n_head * p->head_dim_v * 4) / 4;
	P[7] = (uint32_t)row_elems(out);
	d.gx = p->n_head;
	d.gy = p->n_tokens;
	d.gz = 1;
	vk_issue(vk, "attention_combine", spec, &d, 1u << 2, P, 8);
}

void vk_op_attention(struct engine_backend *be, struct etensor *out,
		     const struct etensor *q, const struct etensor *kc,
		     const struct etensor *vc, const struct attn_params *p)
{
	struct vk_backend *vk = vkb(be);
	const uint32_t group = p->n_head / p->n_head_kv;
	const uint32_t gslice = group < ATT_MAXG ? group : ATT_MAXG;
	const uint32_t slices = (group + ATT_MAXG - 1) / ATT_MAXG;
	/* the keys visible to some query of the batch: [kv0, n_kv) */
	const uint32_t n_kv = p->pos0 + p->n_tokens;
	const uint32_t kv0 = p->window && p->pos0 + 1 > p->window ? p->pos0 + 1 - p->window : 0;
	VkDeviceSize qo, ko, vo, oo;
	struct vk_buf *qb, *kb, *vb, *ob;
	struct vk_dispatch d = { 0 };
	uint32_t P[19] = { 0 }, spec[3] = { 0 }, slots;

	if (vk->err)
		return;
	if (p->head_dim > ATT_MAX_HD || p->head_dim_v > ATT_MAX_HD ||
	    gslice * p->head_dim > ATT_MAXQ || kc->type != vc->type ||
	    (kc->type != QT_F16 && kc->type != QT_F32)) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "attention: head size above 256 or KV type");
		return;
	}
	qb = vk_locate(vk, q, &qo);
	kb = vk_locate(vk, kc, &ko);
	vb = vk_locate(vk, vc, &vo);
	ob = vk_locate(vk, out, &oo);
	if (!qb || !kb || !vb || !ob)
		return;
	P[0] = p->n_tokens;
	P[1] = p->pos0;
	P[2] = group;
	P[3] = p->head_dim;
	P[4] = p->head_dim_v;
	P[5] = p->window;
	P[6] = fbits(p->scale);
	P[7] = vk_bind(vk, &d, 1, qb, qo, (VkDeviceSize)(p->n_tokens - 1) * q->nb1 +
		       (VkDeviceSize)p->n_head * p->head_dim * 4) / 4;
	P[8] = (uint32_t)row_elems(q);
	P[9] = vk_bind(vk, &d, 2, kb, ko, (VkDeviceSize)etensor_rows(kc) * kc->nb1) / 4;
	P[10] = (uint32_t)kc->ne[0];
	P[11] = vk_bind(vk, &d, 3, vb, vo, (VkDeviceSize)etensor_rows(vc) * vc->nb1) / 4;
	P[12] = (uint32_t)vc->ne[0];
	d.gx = p->n_head_kv;
	d.gy = p->n_tokens;
	slots = att_slots(vk, (uint32_t)etensor_rows(kc), p->n_tokens,
			  p->n_head_kv * p->n_tokens * slices);
	if (slots && n_kv - kv0 >= ATT_SPLIT_MIN_KV &&
	    att_part_bytes(p->n_tokens, p->n_head, p->head_dim_v, slots) <= vk->att_part.size) {
		/* chunks of about ATT_CHUNK keys, fewer and wider when the
		 * slots run out */
		uint32_t chunks = (n_kv - kv0 + ATT_CHUNK - 1) / ATT_CHUNK;

		if (chunks > slots)
			chunks = slots;
		P[13] = vk_bind(vk, &d, 4, &vk->att_part, 0, att_part_bytes(p->n_tokens,
				p->n_head, p->head_dim_v, slots)) / 4;
		P[15] = (n_kv - kv0 + chunks - 1) / chunks;
		P[16] = slots;
		P[17] = chunks;
		P[18] = kv0;
		d.gz = slices * slots;
		vk_issue(vk, kc->type == QT_F16 ? "attention_split_f16" : "attention_split_f32",
			 spec, &d, 1u << 4, P, 19);
		att_combine(vk, out, ob, oo, p, chunks, slots);
		return;
	}
	P[13] = vk_bind(vk, &d, 4, ob, oo, (VkDeviceSize)(p->n_tokens - 1) * out->nb1 +
			(VkDeviceSize)p->n_head * p->head_dim_v * 4) / 4;
	P[14] = (uint32_t)row_elems(out);
	d.gz = slices;
	vk_issue(vk, kc->type == QT_F16 ? "attention_f16" : "attention_f32", spec, &d,
		 1u << 4, P, 15);
}

void vk_op_moe_route(struct engine_backend *be, struct etensor *ids,
		     struct etensor *weights, const struct etensor *logits,
		     uint32_t n_tokens, uint32_t n_expert, uint32_t k, bool norm)
{
	struct vk_backend *vk = vkb(be);
	VkDeviceSize io, wo, lo;
	struct vk_buf *ib, *wb, *lb;
	struct vk_dispatch d = { 0 };
	uint32_t P[10], spec[3] = { 0 };

	if (vk->err)
		return;
	if (k > 32 || k > n_expert) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "moe_route: more than 32 experts per token");
		return;
	}
	ib = vk_locate(vk, ids, &io);
	wb = vk_locate(vk, weights, &wo);
	lb = vk_locate(vk, logits, &lo);
	if (!ib || !wb || !lb)
		return;
	P[0] = n_tokens;
	P[1] = n_expert;
	P[2] = k;
	P[3] = vk_bind(vk, &d, 1, lb, lo, (VkDeviceSize)(n_tokens - 1) * logits->nb1 +
		       n_expert * 4ull) / 4;
	P[4] = (uint32_t)row_elems(logits);
	P[5] = vk_bind(vk, &d, 2, ib, io, (VkDeviceSize)(n_tokens - 1) * ids->nb1 + k * 4ull) / 4;
	P[6] = vk_bind(vk, &d, 3, wb, wo, (VkDeviceSize)(n_tokens - 1) * weights->nb1 +
		       k * 4ull) / 4;
	P[7] = norm;
	P[8] = (uint32_t)row_elems(ids);
	P[9] = (uint32_t)row_elems(weights);
	vk_groups(&d, (n_tokens + 63) / 64);
	vk_issue(vk, "moe_route", spec, &d, (1u << 2) | (1u << 3), P, 10);
}
