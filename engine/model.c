/* model.c - open a GGUF model: hyperparameters from metadata only, every
 * tensor bound by name with its shape checked, the vocabulary loaded.
 *
 * A missing required key or tensor, or a tensor of the wrong shape or an
 * unsupported type, is an error naming it; nothing is guessed except the
 * defaults llama.cpp documents (rope base 10000, rope dims = head dim,
 * head dim = n_embd / n_head). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"

static const char *const arch_names[ARCH_COUNT] = {
	[ARCH_LLAMA] = "llama",
	[ARCH_QWEN2] = "qwen2",
	[ARCH_QWEN3] = "qwen3",
	[ARCH_QWEN3MOE] = "qwen3moe",
	[ARCH_GEMMA3] = "gemma3",
};

const char *engine_arch_name(int arch)
{
	return arch >= 0 && arch < ARCH_COUNT ? arch_names[arch] : "?";
}

/* Reads "<arch>.<suffix>" keys, collecting the first error. */
struct kv_reader {
	const struct gguf_file *f;
	const char *arch;
	const char *path;
	int err;
	char missing[160];
};

static void arch_key(const struct kv_reader *r, const char *suffix, char *buf,
		     size_t n)
{
	snprintf(buf, n, "%s.%s", r->arch, suffix);
}

static uint32_t kv_u32(struct kv_reader *r, const char *suffix, uint32_t def,
		       bool required)
{
	char key[160];
	int err = 0;
	uint32_t v;

	arch_key(r, suffix, key, sizeof(key));
	if (gguf_find_key(r->f, key) < 0) {
		if (required && r->missing[0] == '\0')
			snprintf(r->missing, sizeof(r->missing), "%s", key);
		return def;
	}
	v = gguf_get_u32(r->f, key, def, &err);
	if (err && r->err == 0)
		r->err = err;
	return v;
}

static float kv_f32(struct kv_reader *r, const char *suffix, float def)
{
	char key[160];
	int err = 0;
	float v;

	arch_key(r, suffix, key, sizeof(key));
	v = gguf_get_f32(r->f, key, def, &err);
	if (err && r->err == 0)
		r->err = err;
	return v;
}

static int read_hparams(struct engine_model *m, const char *arch)
{
	struct hparams *hp = &m->hp;
	struct kv_reader r = { m->gguf, arch, m->path, 0, "" };
	char key[160];

	memset(hp, 0, sizeof(*hp));
	hp->arch = ARCH_COUNT;
	for (int a = 0; a < ARCH_COUNT; a++)
		if (strcmp(arch, arch_names[a]) == 0)
			hp->arch = (enum model_arch)a;
	if (hp->arch == ARCH_COUNT)
		return engine_seterr(ENGINE_EUNSUPPORTED,
			"%s: architecture '%s' is not supported (supported: llama, qwen2, "
			"qwen3, qwen3moe, gemma3)", m->path, arch);

	hp->n_embd = kv_u32(&r, "embedding_length", 0, true);
	hp->n_layer = kv_u32(&r, "block_count", 0, true);
	hp->n_head = kv_u32(&r, "attention.head_count", 0, true);
	hp->n_head_kv = kv_u32(&r, "attention.head_count_kv", hp->n_head, false);
	hp->n_ff = kv_u32(&r, "feed_forward_length", 0, hp->arch != ARCH_QWEN3MOE);
	hp->n_ctx_train = kv_u32(&r, "context_length", 2048, false);
	hp->rms_eps = kv_f32(&r, "attention.layer_norm_rms_epsilon", 1e-5f);
	if (r.missing[0])
		return engine_seterr(ENGINE_EFORMAT, "%s: required key '%s' is missing",
				     m->path, r.missing);
	if (r.err)
		return r.err;
	if (hp->n_embd == 0 || hp->n_layer == 0 || hp->n_head == 0 ||
	    hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0 ||
	    hp->n_layer > 1024 || hp->n_embd > (1u << 20) || hp->n_head > 4096)
		return engine_seterr(ENGINE_EFORMAT,
			"%s: implausible hyperparameters (n_embd %u, block_count %u, "
			"head_count %u, head_count_kv %u)", m->path, hp->n_embd,
			hp->n_layer, hp->n_head, hp->n_head_kv);
	hp->head_dim = kv_u32(&r, "attention.key_length", hp->n_embd / hp->n_head, false);
	hp->head_dim_v = kv_u32(&r, "attention.value_length", hp->head_dim, false);
	hp->rope_dims = kv_u32(&r, "rope.dimension_count", hp->head_dim, false);
	hp->rope_base = kv_f32(&r, "rope.freq_base", 10000.0f);
	hp->rope_base_swa = kv_f32(&r, "rope.freq_base_swa", hp->rope_base);
	hp->rope_scale = 1.0f;
	arch_key(&r, "rope.scaling.type", key, sizeof(key));
	{
		struct gguf_str st = gguf_get_str(m->gguf, key, NULL);

		if (st.ptr && st.len == 6 && memcmp(st.ptr, "linear", 6) == 0) {
			float f = kv_f32(&r, "rope.scaling.factor", 1.0f);

			if (f > 0.0f)
				hp->rope_scale = f;
		}
	}
	hp->rope_mode = hp->arch == ARCH_LLAMA ? ROPE_NORM : ROPE_NEOX;
	if (hp->head_dim == 0 || hp->head_dim > 512 || hp->head_dim % 2 ||
	    hp->rope_dims > hp->head_dim || hp->rope_dims % 2 || hp->head_dim_v == 0 ||
	    hp->head_dim_v > 512 || hp->n_head / hp->n_head_kv > 64)
		return engine_seterr(ENGINE_EFORMAT,
			"%s: unsupported head sizes (key_length %u, value_length %u, "
			"rope.dimension_count %u, %u query heads per KV head; the engine "
			"supports head sizes up to 512 and groups up to 64)", m->path,
			hp->head_dim, hp->head_dim_v, hp->rope_dims,
			hp->n_head / hp->n_head_kv);
	if (!(hp->rms_eps > 0.0f) || !(hp->rope_base > 0.0f) || !(hp->rope_base_swa > 0.0f))
		return engine_seterr(ENGINE_EFORMAT,
			"%s: rms epsilon and rope bases must be positive", m->path);

	hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
	hp->embd_scale = 1.0f;
	if (hp->arch == ARCH_QWEN3MOE) {
		hp->n_expert = kv_u32(&r, "expert_count", 0, true);
		hp->n_expert_used = kv_u32(&r, "expert_used_count", 0, true);
		hp->n_ff_exp = kv_u32(&r, "expert_feed_forward_length", hp->n_ff, false);
		hp->expert_norm_topk = true;
		arch_key(&r, "expert_weights_norm", key, sizeof(key));
		hp->expert_norm_topk = gguf_get_bool(m->gguf, key, true, &r.err);
		if (r.missing[0])
			return engine_seterr(ENGINE_EFORMAT, "%s: required key '%s' is missing",
					     m->path, r.missing);
		if (hp->n_expert == 0 || hp->n_expert > 1024 || hp->n_expert_used == 0 ||
		    hp->n_expert_used > hp->n_expert)
			return engine_seterr(ENGINE_EFORMAT,
				"%s: bad expert counts (expert_count %u, expert_used_count %u)",
				m->path, hp->n_expert, hp->n_expert_used);
	}
	if (hp->arch == ARCH_GEMMA3) {
		hp->swa_window = kv_u32(&r, "attention.sliding_window", 0, false);
		hp->embd_scale = sqrtf((float)hp->n_embd);
	}
	return r.err;
}

/* ---- tensors ----------------------------------------------------------- */

/* Bind `name` with the given dims (-1 = any); NULL-data result when absent
 * and optional. */
static int bind(struct engine_model *m, struct etensor *t, const char *name,
		bool required, int64_t ne0, int64_t ne1, int64_t ne2)
{
	const struct gguf_tensor *g = gguf_tensor_find(m->gguf, name);
	const int64_t want[3] = { ne0, ne1, ne2 };
	const struct quant_traits *q;

	memset(t, 0, sizeof(*t));
	if (g == NULL) {
		if (required)
			return engine_seterr(ENGINE_EFORMAT, "%s: tensor '%s' is missing",
					     m->path, name);
		return 0;
	}
	for (int d = 0; d < 3; d++) {
		if (want[d] >= 0 && g->ne[d] != want[d])
			return engine_seterr(ENGINE_EFORMAT,
				"%s: tensor '%s' has shape [%lld, %lld, %lld], expected "
				"[%lld, %lld, %lld] from the metadata", m->path, name,
				(long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2],
				(long long)ne0, (long long)ne1, (long long)ne2);
	}
	if (g->ne[3] != 1 || (ne2 < 0 && g->ne[2] != 1))
		return engine_seterr(ENGINE_EFORMAT, "%s: tensor '%s' has too many "
				     "dimensions", m->path, name);
	q = quant_traits_of(g->type);
	if (q == NULL || q->vec_dot == NULL)
		return engine_seterr(ENGINE_EUNSUPPORTED,
			"%s: tensor '%s' has type %s, which has no CPU kernel", m->path,
			name, quant_type_name(g->type));
	t->type = g->type;
	memcpy(t->ne, g->ne, sizeof(t->ne));
	t->nb1 = quant_row_size(g->type, g->ne[0]);
	t->data = (void *)g->data;
	t->name = g->name;
	m->n_params += (uint64_t)(g->ne[0] * g->ne[1] * g->ne[2] * g->ne[3]);
	m->weight_bytes += g->nbytes;
	return 0;
}

/* Norm weights and biases must be F32 (as every converter writes them). */
static int require_f32(struct engine_model *m, const struct etensor *t)
{
	if (t->data && t->type != QT_F32)
		return engine_seterr(ENGINE_EUNSUPPORTED, "%s: tensor '%s' is %s; norm "
				     "weights and biases must be F32", m->path, t->name,
				     quant_type_name(t->type));
	return 0;
}

static int bind_layer(struct engine_model *m, uint32_t il, struct layer *L)
{
	const struct hparams *hp = &m->hp;
	const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim;
	const int64_t K = (int64_t)hp->n_head_kv * hp->head_dim;
	const int64_t V = (int64_t)hp->n_head_kv * hp->head_dim_v;
	const int64_t O = (int64_t)hp->n_head * hp->head_dim_v;
	bool qk_norm = hp->arch == ARCH_QWEN3 || hp->arch == ARCH_QWEN3MOE ||
		       hp->arch == ARCH_GEMMA3;
	bool gemma = hp->arch == ARCH_GEMMA3;
	char n[96];
	int rc = 0;

#define B(field, suffix, req, a, b, c) do { \
	snprintf(n, sizeof(n), "blk.%u.%s", il, suffix); \
	if ((rc = bind(m, &L->field, n, req, a, b, c)) < 0) \
		return rc; \
} while (0)
	B(attn_norm, "attn_norm.weight", true, E, 1, -1);
	B(wq, "attn_q.weight", true, E, Q, -1);
	B(wk, "attn_k.weight", true, E, K, -1);
	B(wv, "attn_v.weight", true, E, V, -1);
	B(wo, "attn_output.weight", true, O, E, -1);
	B(bq, "attn_q.bias", hp->arch == ARCH_QWEN2, Q, 1, -1);
	B(bk, "attn_k.bias", hp->arch == ARCH_QWEN2, K, 1, -1);
	B(bv, "attn_v.bias", hp->arch == ARCH_QWEN2, V, 1, -1);
	B(q_norm, "attn_q_norm.weight", qk_norm, hp->head_dim, 1, -1);
	B(k_norm, "attn_k_norm.weight", qk_norm, hp->head_dim, 1, -1);
	B(post_attn_norm, "post_attention_norm.weight", gemma, E, 1, -1);
	B(ffn_norm, "ffn_norm.weight", true, E, 1, -1);
	B(post_ffw_norm, "post_ffw_norm.weight", gemma, E, 1, -1);
	if (hp->arch == ARCH_QWEN3MOE) {
		const int64_t F = hp->n_ff_exp, X = hp->n_expert;

		B(gate_inp, "ffn_gate_inp.weight", true, E, X, -1);
		B(gate_exps, "ffn_gate_exps.weight", true, E, F, X);
		B(up_exps, "ffn_up_exps.weight", true, E, F, X);
		B(down_exps, "ffn_down_exps.weight", true, F, E, X);
	} else {
		B(w_gate, "ffn_gate.weight", true, E, hp->n_ff, -1);
		B(w_up, "ffn_up.weight", true, E, hp->n_ff, -1);
		B(w_down, "ffn_down.weight", true, hp->n_ff, E, -1);
	}
#undef B
	if ((rc = require_f32(m, &L->attn_norm)) < 0 || (rc = require_f32(m, &L->bq)) < 0 ||
	    (rc = require_f32(m, &L->bk)) < 0 || (rc = require_f32(m, &L->bv)) < 0 ||
	    (rc = require_f32(m, &L->q_norm)) < 0 || (rc = require_f32(m, &L->k_norm)) < 0 ||
	    (rc = require_f32(m, &L->post_attn_norm)) < 0 ||
	    (rc = require_f32(m, &L->ffn_norm)) < 0 ||
	    (rc = require_f32(m, &L->post_ffw_norm)) < 0 ||
	    (rc = require_f32(m, &L->gate_inp)) < 0)
		return rc;
	L->rope_base = hp->rope_base;
	return 0;
}

/* gemma3: which layers use the sliding window.  The pattern array (bools)
 * repeats over the layers; without it, llama.cpp's default is 5 sliding
 * layers then one global. */
static int read_swa_pattern(struct engine_model *m)
{
	struct hparams *hp = &m->hp;
	char key[160];
	int64_t kv;
	uint64_t n;

	if (hp->arch != ARCH_GEMMA3 || hp->swa_window == 0)
		return 0;
	snprintf(key, sizeof(key), "%s.attention.sliding_window_pattern",
		 arch_names[hp->arch]);
	kv = gguf_find_key(m->gguf, key);
	n = kv >= 0 ? gguf_kv_arr_len(m->gguf, (size_t)kv) : 0;
	if (kv >= 0 && (gguf_kv_type(m->gguf, (size_t)kv) != GGUF_VT_ARRAY || n == 0))
		return engine_seterr(ENGINE_EFORMAT, "%s: key '%s' must be a non-empty "
				     "array", m->path, key);
	for (uint32_t il = 0; il < hp->n_layer; il++) {
		bool swa = kv >= 0 ? gguf_arr_int(m->gguf, (size_t)kv, il % n) != 0
				   : (il + 1) % 6 != 0;

		m->layers[il].swa = swa;
		if (swa)
			m->layers[il].rope_base = hp->rope_base_swa;
	}
	return 0;
}

int engine_model_open(struct engine_model **out, const char *path,
		      const struct engine_model_opts *opts)
{
	struct engine_model *m;
	struct gguf_str arch;
	char archbuf[64];
	int rc;

	(void)opts;
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL) {
		free(m);
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&m->prep_lock, NULL);
	if ((rc = gguf_open(&m->gguf, path)) < 0)
		goto fail;
	arch = gguf_get_str(m->gguf, "general.architecture", &rc);
	if (rc < 0)
		goto fail;
	if (arch.ptr == NULL || arch.len == 0 || arch.len >= sizeof(archbuf)) {
		rc = engine_seterr(ENGINE_EFORMAT, "%s: key 'general.architecture' is "
				   "missing or empty", path);
		goto fail;
	}
	memcpy(archbuf, arch.ptr, arch.len);
	archbuf[arch.len] = '\0';
	if ((rc = read_hparams(m, archbuf)) < 0)
		goto fail;
	if ((rc = tok_vocab_load(&m->vocab, m->gguf)) < 0)
		goto fail;
	m->hp.n_vocab = (uint32_t)tok_n_vocab(m->vocab);

	if ((rc = bind(m, &m->tok_embd, "token_embd.weight", true, m->hp.n_embd,
		       m->hp.n_vocab, -1)) < 0 ||
	    (rc = bind(m, &m->output_norm, "output_norm.weight", true, m->hp.n_embd,
		       1, -1)) < 0 ||
	    (rc = require_f32(m, &m->output_norm)) < 0 ||
	    (rc = bind(m, &m->output, "output.weight", false, m->hp.n_embd,
		       m->hp.n_vocab, -1)) < 0 ||
	    (rc = bind(m, &m->rope_freqs, "rope_freqs.weight", false,
		       m->hp.rope_dims / 2, 1, -1)) < 0 ||
	    (rc = require_f32(m, &m->rope_freqs)) < 0)
		goto fail;
	if (m->output.data == NULL) {
		m->output = m->tok_embd;
		m->hp.tied_output = true;
	}
	m->layers = calloc(m->hp.n_layer, sizeof(*m->layers));
	if (m->layers == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t il = 0; il < m->hp.n_layer; il++)
		if ((rc = bind_layer(m, il, &m->layers[il])) < 0)
			goto fail;
	if ((rc = read_swa_pattern(m)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	engine_model_close(m);
	return rc;
}

void engine_model_close(struct engine_model *m)
{
	if (m == NULL)
		return;
	free(m->layers);
	free(m->r16);
	tok_vocab_free(m->vocab);
	gguf_close(m->gguf);
	pthread_mutex_destroy(&m->prep_lock);
	free(m->path);
	free(m);
}

const struct etensor *model_weight_repacked(const struct engine_model *m, const void *src)
{
	for (size_t i = 0; i < m->n_r16; i++)
		if (m->r16[i]->data == src)
			return m->r16[i];
	return NULL;
}

void model_weight_copy(const struct engine_model *m, const void *src, size_t n, void *dst)
{
	for (size_t i = 0; i < m->n_r16; i++) {
		const struct etensor *t = m->r16[i];
		size_t gs = QUANT_R16_ROWS * t->nb1;

		if (t->data == src && (size_t)etensor_rows(t) * t->nb1 == n) {
			for (size_t o = 0; o < n; o += gs)
				quant_r16_unpack(t->type, t->ne[0], (const char *)src + o, (char *)dst + o);
			return;
		}
	}
	memcpy(dst, src, n);
}

const struct tok_vocab *engine_model_vocab(const struct engine_model *m)
{
	return m->vocab;
}

uint32_t engine_model_n_vocab(const struct engine_model *m)
{
	return m->hp.n_vocab;
}

uint32_t engine_model_n_ctx_train(const struct engine_model *m)
{
	return m->hp.n_ctx_train;
}

uint64_t engine_model_n_params(const struct engine_model *m)
{
	return m->n_params;
}

uint64_t engine_model_size(const struct engine_model *m)
{
	return m->weight_bytes;
}

const char *engine_model_arch(const struct engine_model *m)
{
	return arch_names[m->hp.arch];
}

const struct gguf_file *engine_model_gguf(const struct engine_model *m)
{
	return m->gguf;
}
