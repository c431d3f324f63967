/* ctx.c - an inference context: the backend, the KV cache and every buffer
 * of the forward pass, allocated once here; decode splits its input into
 * batches of at most n_batch tokens.
 *
 * Invariants:
 * 1. No allocation after engine_ctx_new(): buffers are sized for n_batch
 *    tokens and the cache for n_ctx positions.
 * 2. c->pos tokens are in the cache.  A decode that would pass n_ctx, or
 *    that carries an id outside the vocabulary, is refused before anything
 *    runs, so the cache is never left half-written by bad input.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_vk.h"
#include "model_int.h"

static int alloc_act(struct engine_ctx *c, struct etensor *t, enum quant_type type,
		     int64_t width, int64_t rows, const char *name)
{
	etensor_init2d(t, type, width, rows, NULL, name);
	return c->be->ops->tensor_alloc(c->be, t);
}

static void free_act(struct engine_ctx *c, struct etensor *t)
{
	if (t->data || t->bk)
		c->be->ops->tensor_free(c->be, t);
}

/* auto: a discrete or integrated Vulkan GPU when there is one, else the
 * CPU (a CPU-type Vulkan device such as lavapipe only when asked for).
 * vulkan: device p->device whatever its type, or a clear error. */
static int create_backend(struct engine_ctx *c, const struct engine_ctx_params *p)
{
	struct backend_vk_opts vo = { p->cache_dir, p->profile };

	switch (p->backend) {
	case ENGINE_BACKEND_AUTO:
		if (backend_vk_new(&c->be, p->device, false, &vo) == 0)
			return 0;
		engine_clearerr();
		return backend_cpu_new(&c->be, p->n_threads);
	case ENGINE_BACKEND_CPU:
		return backend_cpu_new(&c->be, p->n_threads);
	case ENGINE_BACKEND_VULKAN:
		return backend_vk_new(&c->be, p->device, true, &vo);
	}
	return engine_seterr(ENGINE_EINVAL, "unknown backend %d", (int)p->backend);
}

int engine_ctx_new(struct engine_ctx **out, struct engine_model *m,
		   const struct engine_ctx_params *params)
{
	struct engine_ctx_params defaults = ENGINE_CTX_PARAMS_INIT, v1;
	const struct hparams *hp = &m->hp;
	struct engine_ctx *c;
	struct ctx_bufs *b;
	enum quant_type kvt;
	int64_t B, K, E, Fw, Frows, width;
	struct attn_params attn;
	int rc;

	*out = NULL;
	if (params == NULL)
		params = &defaults;
	if (params->version == 1) {
		/* a version-1 struct ends before cache_dir */
		v1 = defaults;
		memcpy(&v1, params, offsetof(struct engine_ctx_params, cache_dir));
		v1.version = ENGINE_CTX_PARAMS_VERSION;
		params = &v1;
	}
	if (params->version != ENGINE_CTX_PARAMS_VERSION)
		return engine_seterr(ENGINE_EINVAL, "engine_ctx_params version %u unknown",
				     params->version);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	c->m = m;
	c->n_ctx = params->n_ctx ? params->n_ctx
		 : (hp->n_ctx_train && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
	c->n_batch = params->n_batch ? params->n_batch : 512;
	if (c->n_batch > c->n_ctx)
		c->n_batch = c->n_ctx;
	c->logits_all = params->logits_all;
	if (c->n_ctx > (1u << 24)) {
		rc = engine_seterr(ENGINE_EINVAL, "context size %u is too large", c->n_ctx);
		goto fail;
	}
	if ((rc = create_backend(c, params)) < 0)
		goto fail;
	if ((rc = c->be->ops->weights_prepare(c->be, m)) < 0)
		goto fail;

	B = c->n_batch;
	K = hp->n_expert_used ? hp->n_expert_used : 1;
	E = hp->n_embd;
	Fw = hp->n_expert ? hp->n_ff_exp : hp->n_ff;
	Frows = B * K;
	b = &c->b;
	if ((rc = alloc_act(c, &b->ids, QT_I32, B, 1, "ids")) < 0 ||
	    (rc = alloc_act(c, &b->pos, QT_I32, B, 1, "pos")) < 0 ||
	    (rc = alloc_act(c, &b->x, QT_F32, E, B, "x")) < 0 ||
	    (rc = alloc_act(c, &b->xn, QT_F32, E, B, "xn")) < 0 ||
	    (rc = alloc_act(c, &b->tmp, QT_F32, E, B, "tmp")) < 0 ||
	    (rc = alloc_act(c, &b->q, QT_F32, (int64_t)hp->n_head * hp->head_dim, B, "q")) < 0 ||
	    (rc = alloc_act(c, &b->k, QT_F32, (int64_t)hp->n_head_kv * hp->head_dim, B, "k")) < 0 ||
	    (rc = alloc_act(c, &b->v, QT_F32, (int64_t)hp->n_head_kv * hp->head_dim_v, B, "v")) < 0 ||
	    (rc = alloc_act(c, &b->attn, QT_F32, (int64_t)hp->n_head * hp->head_dim_v, B, "attn")) < 0 ||
	    (rc = alloc_act(c, &b->ffa, QT_F32, Fw, Frows, "ffa")) < 0 ||
	    (rc = alloc_act(c, &b->ffb, QT_F32, Fw, Frows, "ffb")) < 0 ||
	    (rc = alloc_act(c, &b->logits, QT_F32, hp->n_vocab, c->logits_all ? B : 1,
			    "logits")) < 0 ||
	    (rc = alloc_act(c, &b->topk, QT_I32, 2 * ENGINE_TOPK_MAX, 1, "topk")) < 0)
		goto fail;
	if (hp->n_expert &&
	    ((rc = alloc_act(c, &b->moe_out, QT_F32, E, Frows, "moe_out")) < 0 ||
	     (rc = alloc_act(c, &b->router, QT_F32, hp->n_expert, B, "router")) < 0 ||
	     (rc = alloc_act(c, &b->moe_w, QT_F32, K, B, "moe_w")) < 0 ||
	     (rc = alloc_act(c, &b->moe_ids, QT_I32, K, B, "moe_ids")) < 0))
		goto fail;

	width = E;
	if (Fw > width)
		width = Fw;
	if ((int64_t)hp->n_head * hp->head_dim_v > width)
		width = (int64_t)hp->n_head * hp->head_dim_v;
	attn = (struct attn_params){ .n_tokens = c->n_batch, .n_kv = c->n_ctx,
				     .n_head = hp->n_head, .n_head_kv = hp->n_head_kv,
				     .head_dim = hp->head_dim, .head_dim_v = hp->head_dim_v };
	if ((rc = c->be->ops->reserve(c->be, (uint32_t)Frows, (uint32_t)width, &attn)) < 0)
		goto fail;

	kvt = params->kv_type == ENGINE_KV_F32 ? QT_F32 : QT_F16;
	c->kcache = calloc(hp->n_layer, sizeof(*c->kcache));
	c->vcache = calloc(hp->n_layer, sizeof(*c->vcache));
	if (c->kcache == NULL || c->vcache == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t il = 0; il < hp->n_layer; il++) {
		if ((rc = alloc_act(c, &c->kcache[il], kvt,
				    (int64_t)hp->n_head_kv * hp->head_dim, c->n_ctx,
				    "k cache")) < 0 ||
		    (rc = alloc_act(c, &c->vcache[il], kvt,
				    (int64_t)hp->n_head_kv * hp->head_dim_v, c->n_ctx,
				    "v cache")) < 0) {
			engine_seterr(rc, "out of memory for the KV cache (%u positions); "
				      "use a smaller --ctx-size", c->n_ctx);
			goto fail;
		}
	}
	c->logits = malloc((size_t)(c->logits_all ? B : 1) * hp->n_vocab * sizeof(float));
	c->pos_host = malloc((size_t)B * sizeof(int32_t));
	if (c->logits == NULL || c->pos_host == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "out of memory");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	engine_ctx_free(c);
	return rc;
}

void engine_ctx_free(struct engine_ctx *c)
{
	struct ctx_bufs *b;

	if (c == NULL)
		return;
	b = &c->b;
	if (c->be) {
		struct etensor *all[] = { &b->ids, &b->pos, &b->x, &b->xn, &b->tmp, &b->q,
					  &b->k, &b->v, &b->attn, &b->ffa, &b->ffb,
					  &b->moe_out, &b->router, &b->moe_w, &b->moe_ids,
					  &b->logits, &b->topk };

		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			free_act(c, all[i]);
		for (uint32_t il = 0; c->kcache && il < c->m->hp.n_layer; il++) {
			free_act(c, &c->kcache[il]);
			free_act(c, &c->vcache[il]);
		}
		c->be->ops->free(c->be);
	}
	free(c->kcache);
	free(c->vcache);
	free(c->logits);
	free(c->pos_host);
	free(c);
}

int engine_decode(struct engine_ctx *c, const int32_t *tokens, size_t n)
{
	const int32_t n_vocab = (int32_t)c->m->hp.n_vocab;
	int rc;

	if (n == 0)
		return engine_seterr(ENGINE_EINVAL, "nothing to decode");
	if (n > c->n_ctx - c->pos)
		return engine_seterr(ENGINE_EINVAL,
			"context full: %u of %u positions used, %zu more requested "
			"(raise --ctx-size)", c->pos, c->n_ctx, n);
	if (c->logits_all && n > c->n_batch)
		return engine_seterr(ENGINE_EINVAL,
			"with all logits kept, at most %u tokens per decode (the batch size)",
			c->n_batch);
	for (size_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= n_vocab)
			return engine_seterr(ENGINE_EINVAL,
				"token id %d at index %zu is outside the vocabulary (0..%d)",
				tokens[i], i, n_vocab - 1);
	for (size_t done = 0; done < n;) {
		uint32_t chunk = n - done > c->n_batch ? c->n_batch : (uint32_t)(n - done);

		if ((rc = forward_batch(c, tokens + done, chunk)) < 0)
			return rc;
		c->pos += chunk;
		done += chunk;
	}
	return 0;
}

const float *engine_ctx_logits(const struct engine_ctx *c, size_t *n_rows)
{
	if (n_rows)
		*n_rows = c->n_logit_rows;
	return c->logits;
}

int engine_ctx_set_device_topk(struct engine_ctx *c, uint32_t k)
{
	if (k > ENGINE_TOPK_MAX)
		return engine_seterr(ENGINE_EINVAL, "device top-k: %u is above %d", k,
				     ENGINE_TOPK_MAX);
	if (k && (c->be->ops->top_k == NULL || c->logits_all))
		return engine_seterr(ENGINE_EUNSUPPORTED, "device top-k: not with the %s backend%s",
				     c->be->ops->name, c->logits_all ? " and every row's logits" : "");
	c->dev_k = k;
	c->n_topk = 0;
	return 0;
}

size_t engine_ctx_topk(const struct engine_ctx *c, const int32_t **ids, const float **vals)
{
	*ids = c->topk_ids;
	*vals = c->topk_vals;
	return c->n_topk;
}

uint32_t engine_ctx_pos(const struct engine_ctx *c)
{
	return c->pos;
}

uint32_t engine_ctx_n_ctx(const struct engine_ctx *c)
{
	return c->n_ctx;
}

const char *engine_ctx_backend(const struct engine_ctx *c)
{
	return c->be->ops->name;
}

int engine_ctx_threads(const struct engine_ctx *c)
{
	return c->be->n_threads;
}

void engine_ctx_reset(struct engine_ctx *c)
{
	c->pos = 0;
	c->n_logit_rows = 0;
}

int engine_ctx_truncate(struct engine_ctx *c, uint32_t pos)
{
	if (pos > c->pos)
		return engine_seterr(ENGINE_EINVAL, "cannot truncate to %u: only %u "
				     "positions are in the cache", pos, c->pos);
	c->pos = pos;
	return 0;
}
