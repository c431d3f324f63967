/* forward.c - the transformer forward pass, written once for every
 * architecture and every backend.
 *
 * Per layer (llama family; the differences are flags, not copies):
 *   h   = rmsnorm(x) * attn_norm
 *   q,k,v = h Wq (+bq), h Wk (+bk), h Wv (+bv)
 *   q,k = rmsnorm per head * q_norm/k_norm          (qwen3, qwen3moe, gemma3)
 *   q,k = rope(q, k)      adjacent pairs (llama) or halves (qwen, gemma)
 *   cache <- k, v;  a = softmax(q K^T * scale + causal/window mask) V
 *   x   = x + a Wo        (gemma3: x + rmsnorm(a Wo) * post_attention_norm)
 *   h   = rmsnorm(x) * ffn_norm
 *   f   = (act(h Wgate) * h Wup) Wdown   act = SiLU, or GELU(tanh) for gemma3
 *         MoE: softmax router, top-k experts, weights renormalised
 *   x   = x + f           (gemma3: x + rmsnorm(f) * post_ffw_norm)
 * then logits = rmsnorm(x) * output_norm * Woutput (Woutput = token_embd when tied).
 *
 * The ops are issued to the backend in order; nothing here reads back an
 * intermediate result, so a GPU backend can record the whole pass.
 */
#include <string.h>

#include "model_int.h"

int forward_batch(struct engine_ctx *c, const int32_t *tokens, uint32_t n)
{
	const struct engine_model *m = c->m;
	const struct hparams *hp = &m->hp;
	const struct engine_backend_ops *ops = c->be->ops;
	struct engine_backend *be = c->be;
	struct ctx_bufs *b = &c->b;
	const enum act_kind act = hp->arch == ARCH_GEMMA3 ? ACT_GELU_TANH : ACT_SILU;
	const uint32_t k_used = hp->n_expert_used;
	struct etensor last, xn_last;
	uint32_t n_out;
	int rc;

	for (uint32_t i = 0; i < n; i++)
		c->pos_host[i] = (int32_t)(c->pos + i);
	if ((rc = ops->tensor_set(be, &b->ids, tokens, 0, n * sizeof(int32_t))) < 0 ||
	    (rc = ops->tensor_set(be, &b->pos, c->pos_host, 0, n * sizeof(int32_t))) < 0)
		return rc;

	ops->get_rows(be, &b->x, &m->tok_embd, &b->ids, n, hp->embd_scale);
	for (uint32_t il = 0; il < hp->n_layer; il++) {
		const struct layer *L = &m->layers[il];
		struct attn_params ap = {
			.n_tokens = n, .n_kv = c->pos + n, .pos0 = c->pos,
			.n_head = hp->n_head, .n_head_kv = hp->n_head_kv,
			.head_dim = hp->head_dim, .head_dim_v = hp->head_dim_v,
			.window = L->swa ? hp->swa_window : 0, .scale = hp->attn_scale,
		};

		/* attention */
		ops->rms_norm(be, &b->xn, &b->x, &L->attn_norm, n, hp->rms_eps);
		ops->matmul(be, &b->q, &L->wq, &b->xn, n, &L->bq, NULL);
		ops->matmul(be, &b->k, &L->wk, &b->xn, n, &L->bk, NULL);
		ops->matmul(be, &b->v, &L->wv, &b->xn, n, &L->bv, NULL);
		if (ops->rope_qkv) {
			const struct rope_params rp = {
				.n_head = hp->n_head, .n_head_kv = hp->n_head_kv,
				.head_dim = hp->head_dim, .head_dim_v = hp->head_dim_v,
				.n_dims = hp->rope_dims, .mode = hp->rope_mode,
				.base = L->rope_base, .pos_scale = hp->rope_scale,
				.freq_factors = &m->rope_freqs,
			};

			ops->rope_qkv(be, &b->q, &b->k, &b->v, &c->kcache[il], &c->vcache[il],
				      &b->pos, &rp, &L->q_norm, &L->k_norm, hp->rms_eps, c->pos, n);
		} else {
			if (L->q_norm.data) {
				ops->rms_norm(be, &b->q, &b->q, &L->q_norm, n * hp->n_head,
					      hp->rms_eps);
				ops->rms_norm(be, &b->k, &b->k, &L->k_norm, n * hp->n_head_kv,
					      hp->rms_eps);
			}
			ops->rope(be, &b->q, &b->pos, n, hp->n_head, hp->head_dim, hp->rope_dims,
				  hp->rope_mode, L->rope_base, hp->rope_scale, &m->rope_freqs);
			ops->rope(be, &b->k, &b->pos, n, hp->n_head_kv, hp->head_dim,
				  hp->rope_dims, hp->rope_mode, L->rope_base, hp->rope_scale,
				  &m->rope_freqs);
			ops->kv_store(be, &c->kcache[il], &c->vcache[il], &b->k, &b->v, c->pos, n);
		}
		ops->attention(be, &b->attn, &b->q, &c->kcache[il], &c->vcache[il], &ap);
		if (L->post_attn_norm.data) {
			ops->matmul(be, &b->tmp, &L->wo, &b->attn, n, NULL, NULL);
			ops->rms_norm(be, &b->tmp, &b->tmp, &L->post_attn_norm, n, hp->rms_eps);
			ops->add(be, &b->x, &b->x, &b->tmp, n);
		} else {
			ops->matmul(be, &b->x, &L->wo, &b->attn, n, NULL, &b->x);
		}

		/* feed-forward */
		ops->rms_norm(be, &b->xn, &b->x, &L->ffn_norm, n, hp->rms_eps);
		if (L->gate_inp.data) {
			ops->matmul(be, &b->router, &L->gate_inp, &b->xn, n, NULL, NULL);
			ops->moe_route(be, &b->moe_ids, &b->moe_w, &b->router, n,
				       hp->n_expert, k_used, hp->expert_norm_topk);
			ops->moe_matmul(be, &b->ffa, &L->gate_exps, &b->xn, &b->moe_ids, n,
					k_used, false);
			ops->moe_matmul(be, &b->ffb, &L->up_exps, &b->xn, &b->moe_ids, n,
					k_used, false);
			ops->glu(be, &b->ffa, &b->ffa, &b->ffb, n * k_used, act);
			ops->moe_matmul(be, &b->moe_out, &L->down_exps, &b->ffa, &b->moe_ids,
					n, k_used, true);
			ops->moe_combine(be, &b->x, &b->moe_out, &b->moe_w, n, k_used, &b->x);
		} else {
			ops->matmul(be, &b->ffa, &L->w_gate, &b->xn, n, NULL, NULL);
			ops->matmul(be, &b->ffb, &L->w_up, &b->xn, n, NULL, NULL);
			ops->glu(be, &b->ffa, &b->ffa, &b->ffb, n, act);
			if (L->post_ffw_norm.data) {
				ops->matmul(be, &b->tmp, &L->w_down, &b->ffa, n, NULL, NULL);
				ops->rms_norm(be, &b->tmp, &b->tmp, &L->post_ffw_norm, n,
					      hp->rms_eps);
				ops->add(be, &b->x, &b->x, &b->tmp, n);
			} else {
				ops->matmul(be, &b->x, &L->w_down, &b->ffa, n, NULL, &b->x);
			}
		}
	}

	/* Only the rows whose logits are wanted go through the output head. */
	n_out = c->logits_all ? n : 1;
	last = etensor_rows_view(&b->x, n - n_out, n_out);
	xn_last = etensor_rows_view(&b->xn, 0, n_out);
	ops->rms_norm(be, &xn_last, &last, &m->output_norm, n_out, hp->rms_eps);
	ops->matmul(be, &b->logits, &m->output, &xn_last, n_out, NULL, NULL);
	if (c->dev_k && n_out == 1) {
		/* only the candidates come back (engine_ctx_set_device_topk) */
		int32_t w[2 * ENGINE_TOPK_MAX];

		ops->top_k(be, &b->topk, &b->logits, c->dev_k);
		if ((rc = ops->sync(be)) < 0 ||
		    (rc = ops->tensor_get(be, &b->topk, w, 0, 2 * c->dev_k * sizeof(int32_t))) < 0)
			return rc;
		c->n_topk = 0;
		while (c->n_topk < c->dev_k && w[c->n_topk] >= 0) {
			c->topk_ids[c->n_topk] = w[c->n_topk];
			memcpy(&c->topk_vals[c->n_topk], &w[c->dev_k + c->n_topk], sizeof(float));
			c->n_topk++;
		}
		c->n_logit_rows = 0;
		return 0;
	}
	if ((rc = ops->sync(be)) < 0)
		return rc;
	rc = ops->tensor_get(be, &b->logits, c->logits, 0,
			     (size_t)n_out * hp->n_vocab * sizeof(float));
	if (rc < 0)
		return rc;
	c->n_logit_rows = n_out;
	return 0;
}
