/* model_int.h - model, context and backend structures shared by the files of
 * the inference engine (model.c, forward.c, ctx.c, backend_cpu*.c, and the
 * Vulkan backend later).
 *
 * The forward pass (forward.c) is written once, against the backend table
 * below; a backend implements each op for every tensor type it accepts.
 * Shapes follow GGUF: ne[0] is the row length (contiguous), ne[1] the number
 * of rows; activations are row-major [n_tokens][width] in F32.
 */
#ifndef HALO_MODEL_INT_H
#define HALO_MODEL_INT_H

#include <pthread.h>
#include <string.h>

#include "engine_int.h"

enum model_arch {
	ARCH_LLAMA = 0,
	ARCH_QWEN2,
	ARCH_QWEN3,
	ARCH_QWEN3MOE,
	ARCH_GEMMA3,
	ARCH_COUNT
};

enum rope_mode {
	ROPE_NORM = 0, /* adjacent pairs (2i, 2i+1): llama */
	ROPE_NEOX = 2, /* halves (i, i + n_dims/2): qwen, gemma */
};

/* A tensor: a weight inside the mapping, or an activation buffer. */
struct etensor {
	enum quant_type type;
	int64_t ne[4];      /* ne[0] = elements per row; unused dims are 1 */
	size_t nb1;         /* bytes per row (rows are contiguous) */
	void *data;         /* host memory (weights: inside the mmap) */
	void *bk;           /* backend-private handle (device buffer), or NULL */
	uint64_t bk_off;    /* offset inside bk */
	const char *name;   /* for messages; borrowed */
	/* Weights repacked in place into groups of 16 interleaved rows
	 * (quant_r16.c) for these kernels; NULL: row-major.  Only the CPU
	 * backend reads them as such; model_weight_copy() gives the rows. */
	const struct quant_r16_kernels *r16;
};

static inline int64_t etensor_rows(const struct etensor *t)
{
	return t->ne[1] * t->ne[2] * t->ne[3];
}

struct hparams {
	enum model_arch arch;
	uint32_t n_vocab;
	uint32_t n_embd;
	uint32_t n_layer;
	uint32_t n_head;
	uint32_t n_head_kv;
	uint32_t head_dim;      /* key/query head width */
	uint32_t head_dim_v;    /* value head width */
	uint32_t n_ff;
	uint32_t n_ctx_train;
	float rms_eps;
	/* RoPE */
	enum rope_mode rope_mode;
	uint32_t rope_dims;     /* rotated dims per head (<= head_dim) */
	float rope_base;
	float rope_base_swa;    /* gemma3 sliding-window layers */
	float rope_scale;       /* linear scaling: positions divided by this */
	/* MoE */
	uint32_t n_expert;
	uint32_t n_expert_used;
	uint32_t n_ff_exp;
	bool expert_norm_topk;  /* renormalise the top-k gate weights */
	/* gemma3 */
	uint32_t swa_window;    /* 0 = no sliding window */
	float embd_scale;       /* token embeddings multiplied by this (1 = none) */
	float attn_scale;       /* 1/sqrt(head_dim) unless the file says otherwise */
	bool tied_output;
};

struct layer {
	struct etensor attn_norm;            /* [n_embd] */
	struct etensor wq, wk, wv, wo;       /* [n_embd -> n_head*hd], ..., [n_head*hd_v -> n_embd] */
	struct etensor bq, bk, bv;           /* qwen2 biases (data NULL if absent) */
	struct etensor q_norm, k_norm;       /* qwen3/gemma3 per-head norms [head_dim] */
	struct etensor post_attn_norm;       /* gemma3 */
	struct etensor ffn_norm;
	struct etensor w_gate, w_up, w_down; /* dense FFN */
	struct etensor post_ffw_norm;        /* gemma3 */
	struct etensor gate_inp;             /* MoE router [n_embd -> n_expert] */
	struct etensor gate_exps, up_exps, down_exps; /* [.., .., n_expert] */
	bool swa;                            /* sliding-window attention layer */
	float rope_base;
};

struct engine_model {
	char *path;
	struct gguf_file *gguf;
	struct tok_vocab *vocab;
	struct hparams hp;
	struct etensor tok_embd;     /* [n_vocab rows of n_embd] */
	struct etensor output_norm;
	struct etensor output;       /* == tok_embd when tied */
	struct etensor rope_freqs;   /* llama3 frequency factors [rope_dims/2], data NULL if absent */
	struct layer *layers;
	uint64_t n_params;
	uint64_t weight_bytes;
	pthread_mutex_t prep_lock;   /* held while the CPU backend repacks */
	bool cpu_prepared;           /* repacking done (or not possible) */
	struct etensor **r16;        /* the repacked tensors */
	size_t n_r16;
};

/* Copy n bytes of tensor data starting at src, as the file has them: a
 * repacked tensor (src its data, n its size) is unpacked into dst. */
void model_weight_copy(const struct engine_model *m, const void *src, size_t n, void *dst);

/* The repacked tensor whose data starts at src, or NULL. */
const struct etensor *model_weight_repacked(const struct engine_model *m, const void *src);

/* ---- backends --------------------------------------------------------- */

enum act_kind { ACT_SILU = 0, ACT_GELU_TANH = 1 };

struct engine_backend;

/* Attention of a batch of queries against the KV cache of one layer. */
struct attn_params {
	uint32_t n_tokens;   /* queries in the batch */
	uint32_t n_kv;       /* cache positions visible to the last query (pos0 + n_tokens) */
	uint32_t pos0;       /* position of the first query */
	uint32_t n_head, n_head_kv, head_dim, head_dim_v;
	uint32_t window;     /* 0 = full causal; else key p visible from q when q - p < window */
	float scale;
};

/* The rotation of a layer's q and k heads (and the v head width). */
struct rope_params {
	uint32_t n_head, n_head_kv, head_dim, head_dim_v;
	uint32_t n_dims;                    /* rotated dims per head */
	enum rope_mode mode;
	float base, pos_scale;
	const struct etensor *freq_factors; /* data and bk NULL: none */
};

/* The operations the forward pass needs.  Every op reads and writes F32
 * activations except where a weight type is named.  All pointers in the
 * tensors are those the backend gave out (tensor_alloc) or weights the
 * backend accepted (weights_prepare).  Ops are issued in order; a backend
 * may record them and run them at sync(). */
struct engine_backend_ops {
	const char *name;
	void (*free)(struct engine_backend *be);
	/* Make the model's weights usable (CPU: huge pages and, once per
	 * model, interleaved rows; GPU: upload). */
	int (*weights_prepare)(struct engine_backend *be, struct engine_model *m);
	/* Size internal scratch for batches of up to n_rows rows of up to
	 * `width` elements, and for attention up to attn's shape (at most
	 * attn->n_tokens queries over attn->n_kv cache positions; NULL: no
	 * attention).  Called once per context, before any op. */
	int (*reserve)(struct engine_backend *be, uint32_t n_rows, uint32_t width,
		       const struct attn_params *attn);
	/* Activation / cache storage, allocated once per context. */
	int (*tensor_alloc)(struct engine_backend *be, struct etensor *t);
	void (*tensor_free)(struct engine_backend *be, struct etensor *t);
	int (*tensor_set)(struct engine_backend *be, struct etensor *t,
			  const void *src, size_t off, size_t n);
	int (*tensor_get)(struct engine_backend *be, const struct etensor *t,
			  void *dst, size_t off, size_t n);

	/* dst[i] = table[ids[i]] as F32 rows (any table type), times scale. */
	void (*get_rows)(struct engine_backend *be, struct etensor *dst,
			 const struct etensor *table, const struct etensor *ids,
			 uint32_t n, float scale);
	/* Per row of width ne0: dst = x / sqrt(mean(x^2) + eps) * w.  Rows of
	 * w's width (w may be shorter than x's rows: per-head norms). */
	void (*rms_norm)(struct engine_backend *be, struct etensor *dst,
			 const struct etensor *x, const struct etensor *w,
			 uint32_t n_rows, float eps);
	/* dst[t][r] = sum_k W[r][k] * x[t][k] (+ bias[r]) (+ res[t][r]), for t <
	 * n_tokens.  W of any quant type. bias/res may be NULL. */
	void (*matmul)(struct engine_backend *be, struct etensor *dst,
		       const struct etensor *w, const struct etensor *x,
		       uint32_t n_tokens, const struct etensor *bias,
		       const struct etensor *res);
	/* dst = a + b elementwise over n_tokens rows. */
	void (*add)(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *a, const struct etensor *b,
		    uint32_t n_tokens);
	/* dst = act(gate) * up elementwise over n_tokens rows. */
	void (*glu)(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *gate, const struct etensor *up,
		    uint32_t n_tokens, enum act_kind act);
	/* Rotate x [n_tokens][n_heads][head_dim] in place at positions pos[] (I32). */
	void (*rope)(struct engine_backend *be, struct etensor *x,
		     const struct etensor *pos, uint32_t n_tokens, uint32_t n_heads,
		     uint32_t head_dim, uint32_t n_dims, enum rope_mode mode,
		     float base, float pos_scale, const struct etensor *freq_factors);
	/* Write k, v [n_tokens][n_head_kv*hd] into the cache rows pos0.. */
	void (*kv_store)(struct engine_backend *be, struct etensor *kcache,
			 struct etensor *vcache, const struct etensor *k,
			 const struct etensor *v, uint32_t pos0, uint32_t n_tokens);
	/* out [n_tokens][n_head*hd_v] = softmax(q k^T * scale + mask) v. */
	void (*attention)(struct engine_backend *be, struct etensor *out,
			  const struct etensor *q, const struct etensor *kcache,
			  const struct etensor *vcache, const struct attn_params *p);
	/* Optional (NULL: forward.c issues rms_norm, rope and kv_store one
	 * by one): the glue between the projections and attention in one
	 * pass over each head: q and k get the per-head norm (q_norm, k_norm
	 * where their data is set) and the rotation, k and v rows go to the
	 * caches at rows pos0..; q is updated in place, k and v only read. */
	void (*rope_qkv)(struct engine_backend *be, struct etensor *q,
			 const struct etensor *k, const struct etensor *v,
			 struct etensor *kcache, struct etensor *vcache,
			 const struct etensor *pos, const struct rope_params *rp,
			 const struct etensor *q_norm, const struct etensor *k_norm,
			 float eps, uint32_t pos0, uint32_t n_tokens);
	/* Optional (NULL: the host samples from the whole row): the k (<=
	 * ENGINE_TOPK_MAX) largest finite values of the logits row and their
	 * ids, in the sampler's order (larger first, lower id on ties), into
	 * out (I32 [2k]: the ids, then the values' bits); id -1 past the last
	 * finite value. */
	void (*top_k)(struct engine_backend *be, struct etensor *out,
		      const struct etensor *logits, uint32_t k);
	/* MoE: router logits [n_tokens][n_expert] -> the top-k expert ids (I32)
	 * and their weights (F32), [n_tokens][k] each. */
	void (*moe_route)(struct engine_backend *be, struct etensor *ids,
			  struct etensor *weights, const struct etensor *logits,
			  uint32_t n_tokens, uint32_t n_expert, uint32_t k, bool norm);
	/* For each token t and slot s: dst[t][s] = W[ids[t][s]] x[t] (x shared
	 * across slots when x has one row per token, else x[t][s]). */
	void (*moe_matmul)(struct engine_backend *be, struct etensor *dst,
			   const struct etensor *w_exps, const struct etensor *x,
			   const struct etensor *ids, uint32_t n_tokens, uint32_t k,
			   bool x_per_slot);
	/* dst[t] = sum_s weights[t][s] * y[t][s] (+ res[t]). */
	void (*moe_combine)(struct engine_backend *be, struct etensor *dst,
			    const struct etensor *y, const struct etensor *weights,
			    uint32_t n_tokens, uint32_t k, const struct etensor *res);
	/* Wait for everything issued. */
	int (*sync)(struct engine_backend *be);
};

struct engine_backend {
	const struct engine_backend_ops *ops;
	int n_threads;
};

/* Buffers of one context; every activation is [n_batch rows][width]. */
struct ctx_bufs {
	struct etensor ids, pos;          /* I32 [n_batch] */
	struct etensor x, xn, tmp;        /* [n_embd] */
	struct etensor q, k, v, attn;     /* [n_head*hd], [n_kv*hd], [n_kv*hd_v], [n_head*hd_v] */
	struct etensor ffa, ffb;          /* dense: [n_ff]; MoE: [n_batch*k rows][n_ff_exp] */
	struct etensor moe_out;           /* [n_batch*k rows][n_embd] */
	struct etensor router, moe_w;     /* [n_expert], [k] */
	struct etensor moe_ids;           /* I32 [k] */
	struct etensor logits;            /* [n_batch or 1][n_vocab] */
	struct etensor topk;              /* I32 [2 * ENGINE_TOPK_MAX] */
};

struct engine_ctx {
	struct engine_model *m;
	struct engine_backend *be;
	uint32_t n_ctx, n_batch, pos;
	bool logits_all;
	struct etensor *kcache, *vcache;  /* per layer [n_ctx][n_kv*hd] */
	struct ctx_bufs b;
	float *logits;                    /* host copy: [logits rows][n_vocab] */
	int32_t *pos_host;                /* [n_batch] positions of the next batch */
	size_t n_logit_rows;
	uint32_t dev_k;                   /* > 0: the backend picks the top dev_k */
	int32_t topk_ids[ENGINE_TOPK_MAX];
	float topk_vals[ENGINE_TOPK_MAX];
	size_t n_topk;                    /* candidates of the last pass (dev_k) */
};

/* One forward pass of n <= n_batch tokens at positions c->pos.. (forward.c).
 * Leaves the logits of the last token (or all n) in c->b.logits. */
int forward_batch(struct engine_ctx *c, const int32_t *tokens, uint32_t n);

/* Tensor types the engine uses internally that are not in the quant
 * table (ggml's id for I32). */
#define QT_I32 ((enum quant_type)26)

/* t as a matrix of `rows` rows of `width` elements of `type` (F32, I32 or a
 * quant type; rows packed) at data (NULL: not yet allocated). */
static inline void etensor_init2d(struct etensor *t, enum quant_type type, int64_t width, int64_t rows,
				  void *data, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->ne[0] = width;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->nb1 = type == QT_I32 ? (size_t)width * sizeof(int32_t) : quant_row_size(type, width);
	t->data = data;
	t->name = name;
}

/* A view of rows [row0, row0 + n) of t. */
static inline struct etensor etensor_rows_view(const struct etensor *t,
					       int64_t row0, int64_t n)
{
	struct etensor v = *t;

	v.ne[1] = n;
	v.ne[2] = v.ne[3] = 1;
	if (v.data)
		v.data = (char *)v.data + (size_t)row0 * t->nb1;
	v.bk_off += (uint64_t)row0 * t->nb1;
	return v;
}

/* The CPU backend (backend_cpu.c): n_threads <= 0 means one per core. */
int backend_cpu_new(struct engine_backend **out, int n_threads);

#endif
