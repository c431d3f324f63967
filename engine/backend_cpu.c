/* backend_cpu.c - the CPU backend: the reference implementation of every op
 * in struct engine_backend_ops, and the fallback when there is no GPU.
 *
 * Each op packs its arguments into a job and runs it on the thread pool,
 * split by rows (mat-mul), rows of tokens (norms, element-wise) or
 * (token, head) pairs (attention).  Quantized weights are multiplied with
 * activations converted once per op to the weight type's vec_dot_type
 * (Q8_0 / Q8_K), as llama.cpp does; the kernels come from the quant traits
 * table, so every type the table has works here.
 *
 * Invariant: no allocation after cpu_reserve(); the quantized
 * activation scratch is sized there for the largest batch and width.
 */
#include <float.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn_kern.h"
#include "model_int.h"
#include "pool.h"

/* Attention work items are (KV head, block of ATTN_TQ queries): each item
 * converts every visible K and V row of its KV head once per tile of ATTN_KT
 * keys and uses it for ATTN_TQ tokens x the GQA group (attn_kern.c). */
#define ATTN_TQ 16
#define ATTN_MAX_HEAD 512
#define ATTN_MAX_GROUP 64
#define ATTN_MAX_ROWS (ATTN_TQ * ATTN_MAX_GROUP)
/* Batches of at most ATTN_SPLIT_TOKENS tokens seeing more than ATTN_CHUNK
 * keys split the keys into chunks (attn_split_run). */
#define ATTN_SPLIT_TOKENS 4
#define ATTN_CHUNK 256
/* Per thread, in floats: K tile transposed, V tile, and per query row the
 * running max, sum and accumulator (struct attn_rows). */
#define ATTN_SCRATCH (2 * ATTN_MAX_HEAD * ATTN_KT + \
		      ATTN_MAX_ROWS * (ATTN_MAX_HEAD + 2))
_Static_assert(ATTN_SCRATCH % 16 == 0 && ATTN_MAX_ROWS % 16 == 0 && ATTN_MAX_HEAD % 16 == 0,
	       "attention scratch parts keep 64-byte alignment");

struct cpu_backend {
	struct engine_backend base;
	struct pool *pool;
	void *qbuf;           /* activations converted to a vec_dot_type */
	size_t qbuf_size;
	void *xbuf;           /* the same prepared for xgemm (batches only) */
	size_t xbuf_size;
	float *attn_scratch;  /* n_threads * ATTN_SCRATCH floats */
	float *attn_part;     /* split attention's partial results */
	size_t attn_part_size; /* in floats */
	int err;              /* the first failed op since the last sync */
};

static struct cpu_backend *cpu(struct engine_backend *be)
{
	return (struct cpu_backend *)be;
}

static inline float *row_f32(const struct etensor *t, int64_t r)
{
	return (float *)((char *)t->data + (size_t)r * t->nb1);
}

/* Run a job split by pool_split over n_rows rows.  A single row (decode)
 * is one thread's share anyway: it runs here, without waking the pool and
 * waiting at its barrier, which decode would otherwise do ~250 times a
 * token for norms, ropes and activation conversions. */
static void cpu_run_rows(struct cpu_backend *c, pool_fn fn, void *job, int64_t n_rows)
{
	if (n_rows == 1)
		fn(job, 0, 1);
	else
		pool_run(c->pool, fn, job);
}

/* ---- memory ------------------------------------------------------------ */

static size_t tensor_bytes(const struct etensor *t)
{
	return t->nb1 * (size_t)etensor_rows(t);
}

static int cpu_tensor_alloc(struct engine_backend *be, struct etensor *t)
{
	size_t n = tensor_bytes(t);

	(void)be;
	t->data = aligned_alloc(64, (n + 63) & ~(size_t)63);
	if (t->data == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory for a %zu-byte buffer", n);
	memset(t->data, 0, n);
	return 0;
}

static void cpu_tensor_free(struct engine_backend *be, struct etensor *t)
{
	(void)be;
	free(t->data);
	t->data = NULL;
}

static int cpu_tensor_set(struct engine_backend *be, struct etensor *t,
			  const void *src, size_t off, size_t n)
{
	(void)be;
	memcpy((char *)t->data + off, src, n);
	return 0;
}

static int cpu_tensor_get(struct engine_backend *be, const struct etensor *t,
			  void *dst, size_t off, size_t n)
{
	(void)be;
	memcpy(dst, (const char *)t->data + off, n);
	return 0;
}

/* ---- weights -------------------------------------------------------------- */

struct repack_job {
	struct etensor *t;
	uint8_t *tmp; /* a group's bytes per thread */
	size_t tmp_size;
};

static void repack_run(void *arg, int ith, int nth)
{
	struct repack_job *j = arg;
	struct etensor *t = j->t;
	int64_t lo, hi;

	pool_split(etensor_rows(t) / QUANT_R16_ROWS, ith, nth, &lo, &hi);
	quant_r16_pack_groups(t->type, t->ne[0], t->data, lo, hi, j->tmp + (size_t)ith * j->tmp_size);
}

static bool repackable(const struct quant_r16_kernels *k, const struct etensor *t)
{
	return t->data && quant_r16_layout(t->type) && k->mm[t->type] && t->ne[2] == 1 && t->ne[3] == 1 &&
	       t->ne[1] % QUANT_R16_ROWS == 0 && t->nb1 == quant_row_size(t->type, t->ne[0]);
}

/* Repack the matrices every token streams (not the token embeddings, which
 * get_rows reads by row, nor the experts) into interleaved groups, in
 * place, once per model.  Every CPU context prepares under the model's
 * lock, so none runs before the layout is final.  Rewritten pages of the
 * private file mapping become anonymous memory the kernel cannot drop, so
 * (as for the huge-page move) only a model that fits twice in the memory
 * available is repacked.  Nothing is flagged before every group of every
 * tensor is done; nothing can fail once the first group is rewritten. */
static void repack_weights(struct cpu_backend *c, struct engine_model *m)
{
	const struct quant_r16_kernels *k = quant_r16_active();
	struct etensor *list[8];
	struct repack_job j = { 0 };
	size_t n = 0, cap = (size_t)m->hp.n_layer * 7 + 1;

	if (k == NULL || !gguf_data_fits_twice(m->gguf) ||
	    (m->r16 = calloc(cap, sizeof(*m->r16))) == NULL)
		return;
	for (uint32_t il = 0; il <= m->hp.n_layer; il++) {
		struct layer *L = il < m->hp.n_layer ? &m->layers[il] : NULL;
		size_t nl = 0;

		if (L) {
			list[nl++] = &L->wq, list[nl++] = &L->wk, list[nl++] = &L->wv, list[nl++] = &L->wo;
			list[nl++] = &L->w_gate, list[nl++] = &L->w_up, list[nl++] = &L->w_down;
		} else if (!m->hp.tied_output && m->output.data != m->tok_embd.data) {
			list[nl++] = &m->output;
		}
		for (size_t i = 0; i < nl; i++) {
			if (!repackable(k, list[i]))
				continue;
			m->r16[n++] = list[i];
			if (QUANT_R16_ROWS * list[i]->nb1 > j.tmp_size)
				j.tmp_size = QUANT_R16_ROWS * list[i]->nb1;
		}
	}
	if (n == 0 || (j.tmp = malloc((size_t)c->base.n_threads * j.tmp_size)) == NULL ||
	    gguf_data_writable(m->gguf, true) != 0) {
		free(j.tmp);
		free(m->r16);
		m->r16 = NULL;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		j.t = m->r16[i];
		pool_run(c->pool, repack_run, &j);
	}
	for (size_t i = 0; i < n; i++)
		m->r16[i]->r16 = k;
	m->n_r16 = n;
	gguf_data_writable(m->gguf, false);
	free(j.tmp);
}

static int cpu_weights_prepare(struct engine_backend *be, struct engine_model *m)
{
	pthread_mutex_lock(&m->prep_lock);
	if (!m->cpu_prepared) {
		gguf_data_hugepages(m->gguf); /* the mapping is the weights, in huge pages */
		repack_weights(cpu(be), m);
		m->cpu_prepared = true;
	}
	pthread_mutex_unlock(&m->prep_lock);
	return 0;
}

static int cpu_reserve(struct engine_backend *be, uint32_t n_rows, uint32_t width,
		       const struct attn_params *attn)
{
	struct cpu_backend *c = cpu(be);
	/* Q8_K is the largest activation format per element (292 B / 256). */
	size_t need = (size_t)n_rows * (((size_t)width + 255) / 256) * 292 + 64;

	if (need < (size_t)n_rows * width * sizeof(float))
		need = (size_t)n_rows * width * sizeof(float);
	if (attn && attn->n_kv > ATTN_CHUNK) {
		/* split attention's partials for the largest split batch */
		size_t part = (size_t)((attn->n_kv + ATTN_CHUNK - 1) / ATTN_CHUNK) *
			      (attn->n_tokens < ATTN_SPLIT_TOKENS ? attn->n_tokens : ATTN_SPLIT_TOKENS) *
			      attn->n_head * (attn->head_dim_v + 2);

		if (part > c->attn_part_size) {
			free(c->attn_part);
			c->attn_part = malloc(part * sizeof(float));
			c->attn_part_size = c->attn_part ? part : 0;
			if (c->attn_part == NULL)
				return engine_seterr(ENGINE_ENOMEM, "out of memory for attention scratch");
		}
	}
	if (c->attn_scratch == NULL) {
		/* 64-byte aligned, as every tile vector in it is (ATTN_SCRATCH and
		 * its parts are multiples of 16 floats): a vector across two cache
		 * lines costs two loads */
		c->attn_scratch = aligned_alloc(64, (size_t)be->n_threads * ATTN_SCRATCH * sizeof(float));
		if (c->attn_scratch == NULL)
			return engine_seterr(ENGINE_ENOMEM, "out of memory for scratch");
	}
	{
		/* the largest prepared row of any type with xgemm (batches) or
		 * with interleaved kernels that prepare theirs (any batch) */
		const struct quant_r16_kernels *rk = quant_r16_built();
		int64_t wr = ((int64_t)width + 255) / 256 * 256;
		size_t xrow = 0;

		for (int t = 0; t < QT_COUNT; t++) {
			const struct quant_traits *q = quant_traits_of((enum quant_type)t);

			if (n_rows > 1 && q && q->xsize && q->xsize(wr) > xrow)
				xrow = q->xsize(wr);
			if (rk && rk->xsize[t] && rk->xsize[t](wr) > xrow)
				xrow = rk->xsize[t](wr);
		}
		if ((size_t)n_rows * xrow > c->xbuf_size) {
			free(c->xbuf);
			c->xbuf = aligned_alloc(64, (size_t)n_rows * xrow);
			c->xbuf_size = c->xbuf ? (size_t)n_rows * xrow : 0;
			if (c->xbuf == NULL)
				return engine_seterr(ENGINE_ENOMEM, "out of memory for scratch");
		}
	}
	if (need <= c->qbuf_size)
		return 0;
	free(c->qbuf);
	c->qbuf = aligned_alloc(64, (need + 63) & ~(size_t)63);
	c->qbuf_size = c->qbuf ? need : 0;
	return c->qbuf ? 0 : engine_seterr(ENGINE_ENOMEM, "out of memory for scratch");
}

/* ---- activation conversion ---------------------------------------------- */

struct convert_job {
	const struct etensor *x;
	int64_t n_rows;
	int64_t width;
	quant_from_float_fn from_float;
	void *out;
	size_t out_row;
	quant_xprep_fn xprep; /* then prepare each converted row; NULL: don't */
	void *xout;
	size_t xout_row;
};

static void convert_run(void *arg, int ith, int nth)
{
	struct convert_job *j = arg;
	int64_t lo, hi;

	pool_split(j->n_rows, ith, nth, &lo, &hi);
	for (int64_t r = lo; r < hi; r++) {
		char *q = (char *)j->out + (size_t)r * j->out_row;

		j->from_float(row_f32(j->x, r), q, j->width);
		if (j->xprep)
			j->xprep(q, (char *)j->xout + (size_t)r * j->xout_row, j->width);
	}
}

/* Convert n_rows rows of x (width w) to `type`; returns the converted rows
 * (or x itself for F32) and their stride.  With xprep: also prepare them
 * (for an xgemm) into c->xbuf, rows *xstride apart. */
static const void *convert_rows(struct cpu_backend *c, const struct etensor *x,
				int64_t n_rows, int64_t w, enum quant_type type,
				size_t *stride, quant_xprep_fn xprep, size_t *xstride)
{
	const struct quant_traits *vt = quant_traits_of(type);
	struct convert_job j;

	if (type == QT_F32) {
		*stride = x->nb1;
		return x->data;
	}
	j = (struct convert_job){ x, n_rows, w, vt->from_float, c->qbuf,
				  quant_row_size(type, w), NULL, NULL, 0 };
	if (xprep) {
		j.xprep = xprep;
		j.xout = c->xbuf;
		j.xout_row = *xstride;
	}
	cpu_run_rows(c, convert_run, &j, n_rows);
	*stride = j.out_row;
	return c->qbuf;
}

/* ---- matmul ------------------------------------------------------------ */

struct matmul_job {
	struct etensor *dst;
	const struct etensor *w;
	const void *xq;
	size_t xq_stride;
	int64_t n_tokens;
	const struct etensor *bias, *res;
	quant_gemm_fn gemm;
	quant_gemv_fn gemv; /* one token and the type has one; else NULL */
	quant_xgemm_fn xgemm; /* a batch on prepared rows (xq, xq_stride) */
	int nr, nc; /* the type's largest gemm tile, <= QUANT_GEMM_NR x NC */
	int64_t rows_per_block; /* MM_ROW_BLOCK, or MM_XROWS for xgemm */
	_Atomic int64_t next; /* next block of rows_per_block rows to claim */
};

/* Weight rows per cache block of a batched product: a block (64 rows of a
 * 2048-wide Q8_0 matrix are 139 KB) stays in L2 while every token's
 * activations pass it, tile by tile. */
#define MM_ROW_BLOCK 64
/* xgemm: rows per claimed block, and tokens per call (MM_ROW_BLOCK rows):
 * the block's weights (256 rows of a 2048-wide Q4_K matrix are 295 KB)
 * stay in L2 while all tokens pass, 16 at a time, their prepared rows (a
 * few KB each) read once per block from L3. */
#define MM_XROWS 256
#define MM_XTOK 16

/* Store a tile computed into tmp (tmp[c][r]): out(t0 + c, r0 + r) =
 * tmp + bias + res.  res may be dst itself (a residual added in place), so
 * it is read before the store. */
static void matmul_store(const struct matmul_job *j, const float *tmp, size_t ld, int64_t r0,
			 int nr, int64_t t0, int nc)
{
	const float *bias = j->bias ? (const float *)j->bias->data + r0 : NULL;

	for (int c = 0; c < nc; c++) {
		float *out = row_f32(j->dst, t0 + c) + r0;
		const float *res = j->res ? row_f32(j->res, t0 + c) + r0 : NULL;

		for (int r = 0; r < nr; r++) {
			float v = tmp[(size_t)c * ld + r];

			if (bias)
				v += bias[r];
			if (res)
				v += res[r];
			out[r] = v;
		}
	}
}

/* One token: a streaming mat-vec, one gemv call per row block where the
 * type has one (it hoists the activation-only work out of its row loop),
 * else gemm tiles of nr rows sharing the activation loads.  A batch: per
 * row block, token tiles of nc columns by row tiles of nr rows, each tile
 * computed in registers. */
/* Threads claim blocks of MM_ROW_BLOCK rows one at a time, so a thread
 * that the OS preempts (a busy machine) delays only the block it holds,
 * not a fixed half of the matrix. */
static void matmul_run(void *arg, int ith, int nth)
{
	struct matmul_job *j = arg;
	const int64_t K = j->w->ne[0], R = j->w->ne[1], T = j->n_tokens;
	const int64_t rb = j->rows_per_block, n_blocks = (R + rb - 1) / rb;
	const size_t ws = j->w->nb1;
	const char *w = j->w->data, *x = j->xq;
	int64_t blk;

	(void)ith;
	(void)nth;
	while ((blk = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n_blocks) {
		int64_t b0 = blk * rb;
		int64_t b1 = b0 + rb < R ? b0 + rb : R;

		if (j->gemv) {
			float tmp[MM_ROW_BLOCK];

			j->gemv(K, b1 - b0, w + (size_t)b0 * ws, ws, x, tmp);
			matmul_store(j, tmp, MM_ROW_BLOCK, b0, (int)(b1 - b0), 0, 1);
			continue;
		}
		if (j->xgemm) {
			for (int64_t t0 = 0; t0 < T; t0 += MM_XTOK) {
				int nc = T - t0 < MM_XTOK ? (int)(T - t0) : MM_XTOK;

				for (int64_t r0 = b0; r0 < b1; r0 += MM_ROW_BLOCK) {
					int nr = b1 - r0 < MM_ROW_BLOCK ? (int)(b1 - r0) : MM_ROW_BLOCK;
					float tmp[MM_XTOK * MM_ROW_BLOCK];

					j->xgemm(K, nr, nc, w + (size_t)r0 * ws, ws,
						 x + (size_t)t0 * j->xq_stride, j->xq_stride, tmp, MM_ROW_BLOCK);
					matmul_store(j, tmp, MM_ROW_BLOCK, r0, nr, t0, nc);
				}
			}
			continue;
		}
		for (int64_t t0 = 0; t0 < T; t0 += j->nc) {
			int nc = T - t0 < j->nc ? (int)(T - t0) : j->nc;

			for (int64_t r = b0; r < b1; r += j->nr) {
				int nr = b1 - r < j->nr ? (int)(b1 - r) : j->nr;
				float tmp[QUANT_GEMM_NC * QUANT_GEMM_NR];

				j->gemm(K, nr, nc, w + (size_t)r * ws, ws, x + (size_t)t0 * j->xq_stride,
					j->xq_stride, tmp, QUANT_GEMM_NR);
				matmul_store(j, tmp, QUANT_GEMM_NR, r, nr, t0, nc);
			}
		}
	}
}

static void cpu_matmul(struct engine_backend *be, struct etensor *dst,
		       const struct etensor *w, const struct etensor *x,
		       uint32_t n_tokens, const struct etensor *bias,
		       const struct etensor *res)
{
	struct cpu_backend *c = cpu(be);
	const struct quant_traits *q = quant_traits_of(w->type);
	const struct quant_r16_kernels *rk = w->r16;
	struct matmul_job j;
	quant_xsize_fn xsize = rk ? rk->xsize[w->type] : n_tokens > 1 ? q->xsize : NULL;
	quant_xprep_fn xprep = rk ? rk->xprep[w->type] : q->xprep;
	/* prepared rows: an xgemm batch, or interleaved kernels that want them */
	bool xp = xsize && (size_t)n_tokens * xsize(w->ne[0]) <= c->xbuf_size;
	bool xg = rk || (n_tokens > 1 && q->xgemm && xp);
	size_t xs;
	const void *xq;

	if (rk && xsize && !xp) {
		/* more rows than reserved: the repacked weights have no other
		 * kernel; the pass fails at sync */
		if (c->err == 0)
			c->err = engine_seterr(ENGINE_EINVAL, "cpu: %s: matmul of %u rows above the "
					       "reserved batch", w->name, n_tokens);
		return;
	}
	xs = xp ? xsize(w->ne[0]) : 0;
	xq = convert_rows(c, x, n_tokens, w->ne[0], q->vec_dot_type, &j.xq_stride, xp ? xprep : NULL, &xs);
	j.xq = xp ? c->xbuf : xq;
	j.xq_stride = xp ? xs : j.xq_stride;
	j.xgemm = rk ? rk->mm[w->type] : xg ? q->xgemm : NULL;
	j.dst = dst;
	j.w = w;
	j.n_tokens = n_tokens;
	j.bias = bias && bias->data ? bias : NULL;
	j.res = res;
	j.gemm = q->gemm;
	j.gemv = n_tokens == 1 && !rk ? q->gemv : NULL;
	j.nr = q->gemm_nr;
	j.nc = q->gemm_nc;
	j.rows_per_block = xg && n_tokens > 1 ? MM_XROWS : MM_ROW_BLOCK;
	atomic_init(&j.next, 0);
	pool_run(c->pool, matmul_run, &j);
}

/* ---- get_rows ---------------------------------------------------------- */

struct get_rows_job {
	struct etensor *dst;
	const struct etensor *table;
	const int32_t *ids;
	int64_t n;
	float scale;
	quant_to_float_fn to_float;
};

static void get_rows_run(void *arg, int ith, int nth)
{
	struct get_rows_job *j = arg;
	const int64_t W = j->table->ne[0];
	int64_t lo, hi;

	pool_split(j->n, ith, nth, &lo, &hi);
	for (int64_t i = lo; i < hi; i++) {
		float *out = row_f32(j->dst, i);

		j->to_float((const char *)j->table->data + (size_t)j->ids[i] * j->table->nb1,
			    out, W);
		if (j->scale != 1.0f)
			for (int64_t k = 0; k < W; k++)
				out[k] *= j->scale;
	}
}

static void cpu_get_rows(struct engine_backend *be, struct etensor *dst,
			 const struct etensor *table, const struct etensor *ids,
			 uint32_t n, float scale)
{
	const struct quant_traits *q = quant_traits_of(table->type);
	struct get_rows_job j = { dst, table, ids->data, n, scale,
				  q->to_float_fast ? q->to_float_fast : q->to_float };

	cpu_run_rows(cpu(be), get_rows_run, &j, n);
}

/* ---- rms_norm ---------------------------------------------------------- */

struct norm_job {
	struct etensor *dst;
	const struct etensor *x, *w;
	int64_t n_rows;
	float eps;
};

static void norm_run(void *arg, int ith, int nth)
{
	struct norm_job *j = arg;
	const int64_t W = j->w->ne[0];
	const float *wt = j->w->data;
	int64_t lo, hi;

	pool_split(j->n_rows, ith, nth, &lo, &hi);
	for (int64_t r = lo; r < hi; r++) {
		/* Rows of width W inside tensors whose rows may be wider
		 * (per-head norms): address by element. */
		const float *x = (const float *)j->x->data + r * W;
		float *y = (float *)j->dst->data + r * W;
		double ss = 0.0;
		float s;

		for (int64_t k = 0; k < W; k++)
			ss += (double)x[k] * x[k];
		s = (float)(1.0 / sqrt(ss / (double)W + (double)j->eps));
		for (int64_t k = 0; k < W; k++)
			y[k] = x[k] * s * wt[k];
	}
}

static void cpu_rms_norm(struct engine_backend *be, struct etensor *dst,
			 const struct etensor *x, const struct etensor *w,
			 uint32_t n_rows, float eps)
{
	struct norm_job j = { dst, x, w, n_rows, eps };

	cpu_run_rows(cpu(be), norm_run, &j, n_rows);
}

/* ---- element-wise -------------------------------------------------------- */

struct ew_job {
	struct etensor *dst;
	const struct etensor *a, *b;
	int64_t n_rows;
	enum act_kind act;
	int op; /* 0 add, 1 glu */
};

static inline float gelu_tanh(float x)
{
	const float c = 0.7978845608028654f; /* sqrt(2/pi) */

	return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

static void ew_run(void *arg, int ith, int nth)
{
	struct ew_job *j = arg;
	const int64_t W = j->dst->ne[0];
	int64_t lo, hi;

	pool_split(j->n_rows, ith, nth, &lo, &hi);
	for (int64_t r = lo; r < hi; r++) {
		float *y = row_f32(j->dst, r);
		const float *a = row_f32(j->a, r), *b = row_f32(j->b, r);

		if (j->op == 0) {
			for (int64_t k = 0; k < W; k++)
				y[k] = a[k] + b[k];
		} else if (j->act == ACT_SILU) {
			for (int64_t k = 0; k < W; k++)
				y[k] = a[k] / (1.0f + expf(-a[k])) * b[k];
		} else {
			for (int64_t k = 0; k < W; k++)
				y[k] = gelu_tanh(a[k]) * b[k];
		}
	}
}

static void cpu_add(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *a, const struct etensor *b,
		    uint32_t n_tokens)
{
	struct ew_job j = { dst, a, b, n_tokens, ACT_SILU, 0 };

	cpu_run_rows(cpu(be), ew_run, &j, n_tokens);
}

static void cpu_glu(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *gate, const struct etensor *up,
		    uint32_t n_tokens, enum act_kind act)
{
	struct ew_job j = { dst, gate, up, n_tokens, act, 1 };

	cpu_run_rows(cpu(be), ew_run, &j, n_tokens);
}

/* ---- rope -------------------------------------------------------------- */

struct rope_job {
	struct etensor *x;
	const int32_t *pos;
	int64_t n_tokens, n_heads, head_dim, n_dims;
	enum rope_mode mode;
	double base, pos_scale;
	const float *ff;
};

#define ROPE_MAX_DIMS 1024

static void rope_run(void *arg, int ith, int nth)
{
	struct rope_job *j = arg;
	const int64_t half = j->n_dims / 2;
	float cs[ROPE_MAX_DIMS / 2], sn[ROPE_MAX_DIMS / 2];
	int64_t lo, hi;

	pool_split(j->n_tokens, ith, nth, &lo, &hi);
	for (int64_t t = lo; t < hi; t++) {
		double p = (double)j->pos[t] / j->pos_scale;

		for (int64_t i = 0; i < half; i++) {
			double theta = p * pow(j->base, -2.0 * (double)i / (double)j->n_dims);

			if (j->ff)
				theta /= j->ff[i];
			cs[i] = (float)cos(theta);
			sn[i] = (float)sin(theta);
		}
		for (int64_t h = 0; h < j->n_heads; h++) {
			float *v = (float *)((char *)j->x->data + (size_t)t * j->x->nb1) +
				   h * j->head_dim;

			for (int64_t i = 0; i < half; i++) {
				int64_t a = j->mode == ROPE_NORM ? 2 * i : i;
				int64_t b = j->mode == ROPE_NORM ? 2 * i + 1 : i + half;
				float x0 = v[a], x1 = v[b];

				v[a] = x0 * cs[i] - x1 * sn[i];
				v[b] = x0 * sn[i] + x1 * cs[i];
			}
		}
	}
}

static void cpu_rope(struct engine_backend *be, struct etensor *x,
		     const struct etensor *pos, uint32_t n_tokens, uint32_t n_heads,
		     uint32_t head_dim, uint32_t n_dims, enum rope_mode mode,
		     float base, float pos_scale, const struct etensor *freq_factors)
{
	struct rope_job j = { x, pos->data, n_tokens, n_heads, head_dim,
			      n_dims < ROPE_MAX_DIMS ? n_dims : ROPE_MAX_DIMS, mode,
			      base, pos_scale > 0 ? pos_scale : 1.0,
			      freq_factors && freq_factors->data ? freq_factors->data : NULL };

	cpu_run_rows(cpu(be), rope_run, &j, n_tokens);
}

/* ---- KV cache -------------------------------------------------------------- */

static void cpu_kv_store(struct engine_backend *be, struct etensor *kc,
			 struct etensor *vc, const struct etensor *k,
			 const struct etensor *v, uint32_t pos0, uint32_t n_tokens)
{
	const struct quant_traits *q = quant_traits_of(kc->type);

	(void)be;
	for (uint32_t t = 0; t < n_tokens; t++) {
		q->from_float(row_f32(k, t), (char *)kc->data + (size_t)(pos0 + t) * kc->nb1,
			      kc->ne[0]);
		q->from_float(row_f32(v, t), (char *)vc->data + (size_t)(pos0 + t) * vc->nb1,
			      vc->ne[0]);
	}
}

/* ---- attention ----------------------------------------------------------- */

struct attn_job {
	struct etensor *out;
	const struct etensor *q, *kc, *vc;
	const struct attn_params *p;
	float *scratch;          /* per thread: ATTN_SCRATCH floats */
	const struct attn_kern *kern;
	float *part;             /* split: [chunk][token][head] max, sum, acc[hdv] */
	int64_t n_chunks;        /* split: chunks of ATTN_CHUNK keys; 0: not split */
	_Atomic int64_t next;    /* next work item to claim */
};

/* A thread's part of the scratch: the tile, and per query row the running
 * max, sum of exponentials and weighted sum of values (acc[row][hdv]). */
struct attn_rows {
	float *kt, *vt, *mx, *sum, *acc;
};

static struct attn_rows attn_rows_of(const struct attn_job *j, int ith)
{
	struct attn_rows r;

	r.kt = j->scratch + (size_t)ith * ATTN_SCRATCH;
	r.vt = r.kt + (size_t)ATTN_MAX_HEAD * ATTN_KT;
	r.mx = r.vt + (size_t)ATTN_MAX_HEAD * ATTN_KT;
	r.sum = r.mx + ATTN_MAX_ROWS;
	r.acc = r.sum + ATTN_MAX_ROWS;
	return r;
}

/* Keys [kb, ke) of KV head kvh against the query rows of tokens [t0, t1)
 * (token-major, then the GQA group), into the thread's rows (attn_rows).
 * Returns the number of rows. */
static uint32_t attn_span(const struct attn_job *j, int ith, uint32_t kvh, uint32_t t0, uint32_t t1,
			  uint32_t kb, uint32_t ke)
{
	const struct attn_params *p = j->p;
	const uint32_t group = p->n_head / p->n_head_kv, nq = (t1 - t0) * group;
	const size_t esz = j->kc->type == QT_F16 ? 2 : 4;
	const struct attn_rows s = attn_rows_of(j, ith);
	const float *qrow[ATTN_MAX_ROWS];
	int lo[ATTN_MAX_ROWS], hi[ATTN_MAX_ROWS];
	struct attn_tile_args ta = {
		.nq = (int)nq, .hd = (int)p->head_dim, .hdv = (int)p->head_dim_v,
		.q = qrow, .kt = s.kt, .v = s.vt, .lo = lo, .hi = hi, .scale = p->scale,
		.m = s.mx, .l = s.sum, .acc = s.acc,
	};

	for (uint32_t i = 0; i < nq; i++) {
		uint32_t t = t0 + i / group, h = kvh * group + i % group;

		qrow[i] = (const float *)((const char *)j->q->data + (size_t)t * j->q->nb1) +
			  (size_t)h * p->head_dim;
		s.mx[i] = -INFINITY;
		s.sum[i] = 0.0f;
	}
	memset(s.acc, 0, (size_t)nq * p->head_dim_v * sizeof(float));
	for (uint32_t k0 = kb; k0 < ke; k0 += ATTN_KT) {
		int nk = ke - k0 < ATTN_KT ? (int)(ke - k0) : ATTN_KT;
		const struct attn_load_args la = {
			.nk = nk, .hd = (int)p->head_dim, .hdv = (int)p->head_dim_v,
			.f16 = j->kc->type == QT_F16,
			.k = (const char *)j->kc->data + (size_t)k0 * j->kc->nb1 + (size_t)kvh * p->head_dim * esz,
			.v = (const char *)j->vc->data + (size_t)k0 * j->vc->nb1 + (size_t)kvh * p->head_dim_v * esz,
			.k_stride = j->kc->nb1, .v_stride = j->vc->nb1, .kt = s.kt, .vt = s.vt,
		};

		j->kern->load(&la);
		for (uint32_t i = 0; i < nq; i++) {
			/* causal: keys <= qpos; window: qpos - key < window */
			uint32_t qpos = p->pos0 + t0 + i / group;
			uint32_t kmin = p->window && qpos + 1 > p->window ? qpos + 1 - p->window : 0;
			int64_t l = (int64_t)kmin - k0, h = (int64_t)qpos + 1 - k0;

			lo[i] = l < 0 ? 0 : (int)l;
			hi[i] = h > nk ? nk : (h < 0 ? 0 : (int)h);
		}
		ta.nk = nk;
		j->kern->tile(&ta);
	}
	return nq;
}

/* The keys visible to any query of tokens [t0, t1): [first, last]. */
static void attn_keys(const struct attn_params *p, uint32_t t0, uint32_t t1, uint32_t *first,
		      uint32_t *last)
{
	*first = p->window && p->pos0 + t0 + 1 > p->window ? p->pos0 + t0 + 1 - p->window : 0;
	*last = p->pos0 + t1 - 1;
}

/* Items (KV head, block of ATTN_TQ tokens), each over all its keys. */
static void attn_run(void *arg, int ith, int nth)
{
	struct attn_job *j = arg;
	const struct attn_params *p = j->p;
	const uint32_t group = p->n_head / p->n_head_kv;
	const int64_t n_blocks = (p->n_tokens + ATTN_TQ - 1) / ATTN_TQ;
	const struct attn_rows s = attn_rows_of(j, ith);
	int64_t item;

	(void)nth;
	while ((item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) <
	       (int64_t)p->n_head_kv * n_blocks) {
		uint32_t kvh = (uint32_t)(item / n_blocks);
		uint32_t t0 = (uint32_t)(item % n_blocks) * ATTN_TQ;
		uint32_t t1 = t0 + ATTN_TQ < p->n_tokens ? t0 + ATTN_TQ : p->n_tokens;
		uint32_t first, last, nq;

		attn_keys(p, t0, t1, &first, &last);
		nq = attn_span(j, ith, kvh, t0, t1, first, last + 1);
		for (uint32_t i = 0; i < nq; i++) {
			uint32_t t = t0 + i / group, h = kvh * group + i % group;
			float *o = (float *)((char *)j->out->data + (size_t)t * j->out->nb1) +
				   (size_t)h * p->head_dim_v;
			float inv = 1.0f / s.sum[i];

			for (uint32_t d = 0; d < p->head_dim_v; d++)
				o[d] = s.acc[(size_t)i * p->head_dim_v + d] * inv;
		}
	}
}

/* Few tokens over many keys (decode): items are chunks of ATTN_CHUNK keys,
 * each over every KV head, so a thread streams whole cache rows of its own
 * stretch and every thread has work whatever the number of KV heads.  Each
 * writes per query row its partial max, sum and accumulator (part); then
 * attn_combine_run merges the chunks. */
static void attn_split_run(void *arg, int ith, int nth)
{
	struct attn_job *j = arg;
	const struct attn_params *p = j->p;
	const uint32_t group = p->n_head / p->n_head_kv, hdv = p->head_dim_v;
	const struct attn_rows s = attn_rows_of(j, ith);
	uint32_t first, last;
	int64_t c;

	(void)nth;
	attn_keys(p, 0, p->n_tokens, &first, &last);
	while ((c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n_chunks) {
		uint32_t kb = first + (uint32_t)c * ATTN_CHUNK;
		uint32_t ke = last + 1 - kb > ATTN_CHUNK ? kb + ATTN_CHUNK : last + 1;

		for (uint32_t kvh = 0; kvh < p->n_head_kv; kvh++) {
			uint32_t nq = attn_span(j, ith, kvh, 0, p->n_tokens, kb, ke);

			for (uint32_t i = 0; i < nq; i++) {
				uint32_t t = i / group, h = kvh * group + i % group;
				float *o = j->part + (((size_t)c * p->n_tokens + t) * p->n_head + h) * (hdv + 2);

				o[0] = s.mx[i];
				o[1] = s.sum[i];
				memcpy(o + 2, s.acc + (size_t)i * hdv, hdv * sizeof(float));
			}
		}
	}
}

/* out = sum_c acc_c e^(m_c - M) / sum_c l_c e^(m_c - M), M = max_c m_c, per
 * query row; chunks with no visible key (m_c = -inf) add nothing. */
static void attn_combine_run(void *arg, int ith, int nth)
{
	struct attn_job *j = arg;
	const struct attn_params *p = j->p;
	const uint32_t hdv = p->head_dim_v, rows = p->n_tokens * p->n_head;
	const size_t stride = (size_t)rows * (hdv + 2);

	for (uint32_t r = rows * (uint32_t)ith / (uint32_t)nth; r < rows * (uint32_t)(ith + 1) / (uint32_t)nth; r++) {
		const float *part = j->part + (size_t)r * (hdv + 2);
		float *o = (float *)((char *)j->out->data + (size_t)(r / p->n_head) * j->out->nb1) +
			   (size_t)(r % p->n_head) * hdv;
		float m = -INFINITY, l = 0.0f;

		for (int64_t c = 0; c < j->n_chunks; c++)
			m = part[c * stride] > m ? part[c * stride] : m;
		for (uint32_t d = 0; d < hdv; d++)
			o[d] = 0.0f;
		for (int64_t c = 0; c < j->n_chunks; c++) {
			const float *pc = part + c * stride;
			float w;

			if (pc[0] == -INFINITY)
				continue;
			w = expf(pc[0] - m);
			l += pc[1] * w;
			for (uint32_t d = 0; d < hdv; d++)
				o[d] += pc[2 + d] * w;
		}
		for (uint32_t d = 0; d < hdv; d++)
			o[d] /= l;
	}
}

static void cpu_attention(struct engine_backend *be, struct etensor *out,
			  const struct etensor *q, const struct etensor *kc,
			  const struct etensor *vc, const struct attn_params *p)
{
	struct cpu_backend *c = cpu(be);
	struct engine_cpu_caps caps;
	struct attn_job j = { out, q, kc, vc, p, c->attn_scratch, NULL, c->attn_part, 0, 0 };
	uint32_t first, last;

	if ((kc->type != QT_F16 && kc->type != QT_F32) || vc->type != kc->type) {
		if (c->err == 0)
			c->err = engine_seterr(ENGINE_EINVAL, "cpu: attention: KV cache of type %s/%s "
					       "(F16 or F32 only)", quant_traits_of(kc->type)->name,
					       quant_traits_of(vc->type)->name);
		return;
	}
	engine_cpu_caps_get(&caps);
	j.kern = attn_kern_for(caps.active);
	atomic_init(&j.next, 0);
	attn_keys(p, 0, p->n_tokens, &first, &last);
	if (p->n_tokens <= ATTN_SPLIT_TOKENS && last + 1 - first > ATTN_CHUNK) {
		j.n_chunks = (last + 1 - first + ATTN_CHUNK - 1) / ATTN_CHUNK;
		if ((size_t)j.n_chunks * p->n_tokens * p->n_head * (p->head_dim_v + 2) > c->attn_part_size)
			j.n_chunks = 0; /* beyond the reserved shape: the unsplit path */
	}
	if (j.n_chunks == 0) {
		pool_run(c->pool, attn_run, &j);
		return;
	}
	pool_run(c->pool, attn_split_run, &j);
	pool_run(c->pool, attn_combine_run, &j);
}

/* ---- MoE ------------------------------------------------------------------ */

static void cpu_moe_route(struct engine_backend *be, struct etensor *ids,
			  struct etensor *weights, const struct etensor *logits,
			  uint32_t n_tokens, uint32_t n_expert, uint32_t k, bool norm)
{
	(void)be;
	for (uint32_t t = 0; t < n_tokens; t++) {
		const float *lg = row_f32(logits, t);
		int32_t *id = (int32_t *)((char *)ids->data + (size_t)t * ids->nb1);
		float *w = row_f32(weights, t);
		float mx = -FLT_MAX, sum = 0.0f, wsum = 0.0f;
		float prob[1024];

		for (uint32_t e = 0; e < n_expert; e++)
			mx = lg[e] > mx ? lg[e] : mx;
		for (uint32_t e = 0; e < n_expert; e++)
			sum += prob[e] = expf(lg[e] - mx);
		for (uint32_t e = 0; e < n_expert; e++)
			prob[e] /= sum;
		/* Top-k by selection: k is small.  Ties go to the lower id. */
		for (uint32_t s = 0; s < k; s++) {
			int32_t best = -1;

			for (uint32_t e = 0; e < n_expert; e++) {
				bool taken = false;

				for (uint32_t u = 0; u < s; u++)
					taken |= id[u] == (int32_t)e;
				if (!taken && (best < 0 || prob[e] > prob[best]))
					best = (int32_t)e;
			}
			id[s] = best;
			w[s] = prob[best];
			wsum += w[s];
		}
		if (norm)
			for (uint32_t s = 0; s < k; s++)
				w[s] /= wsum;
	}
}

struct moe_job {
	struct etensor *dst;
	const struct etensor *w;
	const void *xq;
	size_t xq_stride;
	const struct etensor *ids;
	int64_t n_tokens, k;
	bool x_per_slot;
	quant_gemm_fn gemm;
	quant_gemv_fn gemv; /* NULL: gemm tiles of nr rows */
	int nr;
};

/* Every (token, slot) has its own expert, so each is a mat-vec over the
 * thread's rows, nr rows per gemm call. */
static void moe_run(void *arg, int ith, int nth)
{
	struct moe_job *j = arg;
	const int64_t K = j->w->ne[0], R = j->w->ne[1];
	const size_t expert_bytes = (size_t)R * j->w->nb1;
	int64_t lo, hi;

	pool_split((R + j->nr - 1) / j->nr, ith, nth, &lo, &hi);
	lo *= j->nr;
	hi = hi * j->nr < R ? hi * j->nr : R;
	for (int64_t t = 0; t < j->n_tokens; t++) {
		const int32_t *id = (const int32_t *)((const char *)j->ids->data +
						      (size_t)t * j->ids->nb1);

		for (int64_t s = 0; s < j->k; s++) {
			const char *we = (const char *)j->w->data + (size_t)id[s] * expert_bytes;
			const char *xr = (const char *)j->xq +
				(size_t)(j->x_per_slot ? t * j->k + s : t) * j->xq_stride;
			float *out = row_f32(j->dst, t * j->k + s);

			if (j->gemv) {
				if (hi > lo)
					j->gemv(K, hi - lo, we + (size_t)lo * j->w->nb1, j->w->nb1, xr, out + lo);
				continue;
			}
			for (int64_t r = lo; r < hi; r += j->nr) {
				int nr = hi - r < j->nr ? (int)(hi - r) : j->nr;

				j->gemm(K, nr, 1, we + (size_t)r * j->w->nb1, j->w->nb1, xr, 0, out + r, 0);
			}
		}
	}
}

static void cpu_moe_matmul(struct engine_backend *be, struct etensor *dst,
			   const struct etensor *w_exps, const struct etensor *x,
			   const struct etensor *ids, uint32_t n_tokens, uint32_t k,
			   bool x_per_slot)
{
	struct cpu_backend *c = cpu(be);
	const struct quant_traits *q = quant_traits_of(w_exps->type);
	struct moe_job j;

	j.xq = convert_rows(c, x, x_per_slot ? (int64_t)n_tokens * k : n_tokens,
			    w_exps->ne[0], q->vec_dot_type, &j.xq_stride, NULL, NULL);
	j.dst = dst;
	j.w = w_exps;
	j.ids = ids;
	j.n_tokens = n_tokens;
	j.k = k;
	j.x_per_slot = x_per_slot;
	j.gemm = q->gemm;
	j.gemv = q->gemv;
	j.nr = q->gemm_nr;
	pool_run(c->pool, moe_run, &j);
}

static void cpu_moe_combine(struct engine_backend *be, struct etensor *dst,
			    const struct etensor *y, const struct etensor *weights,
			    uint32_t n_tokens, uint32_t k, const struct etensor *res)
{
	const int64_t W = dst->ne[0];

	(void)be;
	for (uint32_t t = 0; t < n_tokens; t++) {
		float *o = row_f32(dst, t);
		const float *w = row_f32(weights, t);
		const float *r = res ? row_f32(res, t) : NULL;

		for (int64_t d = 0; d < W; d++) {
			float v = r ? r[d] : 0.0f;

			for (uint32_t s = 0; s < k; s++)
				v += w[s] * row_f32(y, (int64_t)t * k + s)[d];
			o[d] = v;
		}
	}
}

static int cpu_sync(struct engine_backend *be)
{
	struct cpu_backend *c = cpu(be);
	int rc = c->err;

	c->err = 0;
	return rc;
}

static void cpu_free(struct engine_backend *be)
{
	struct cpu_backend *c = cpu(be);

	if (c == NULL)
		return;
	pool_free(c->pool);
	free(c->qbuf);
	free(c->xbuf);
	free(c->attn_scratch);
	free(c->attn_part);
	free(c);
}

static const struct engine_backend_ops cpu_ops = {
	.name = "CPU",
	.free = cpu_free,
	.weights_prepare = cpu_weights_prepare,
	.reserve = cpu_reserve,
	.tensor_alloc = cpu_tensor_alloc,
	.tensor_free = cpu_tensor_free,
	.tensor_set = cpu_tensor_set,
	.tensor_get = cpu_tensor_get,
	.get_rows = cpu_get_rows,
	.rms_norm = cpu_rms_norm,
	.matmul = cpu_matmul,
	.add = cpu_add,
	.glu = cpu_glu,
	.rope = cpu_rope,
	.kv_store = cpu_kv_store,
	.attention = cpu_attention,
	.moe_route = cpu_moe_route,
	.moe_matmul = cpu_moe_matmul,
	.moe_combine = cpu_moe_combine,
	.sync = cpu_sync,
};

int backend_cpu_new(struct engine_backend **out, int n_threads)
{
	struct cpu_backend *c;

	*out = NULL;
	if (n_threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		n_threads = n > 0 ? (int)n : 1;
	}
	if (n_threads > 256)
		n_threads = 256;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	if (pool_new(&c->pool, n_threads) < 0) {
		free(c);
		return engine_seterr(ENGINE_ENOMEM, "cannot start %d threads", n_threads);
	}
	c->base.ops = &cpu_ops;
	c->base.n_threads = n_threads;
	*out = &c->base;
	return 0;
}
