/* gguf_info.c - what a model file declares, summed up (engine_model_info).
 *
 * Reads only through the public GGUF accessors, so every number here comes
 * from a file gguf_open() has already validated.  Hyperparameter keys are
 * "<arch>.<name>" (../shared/docs/gguf-quants.md, 2.3); counts may be any
 * integer type or, in some models, a per-layer array of them.
 */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

/* llama.cpp's llama_ftype values, as stored in general.file_type. */
static const char *const file_type_names[] = {
	[0] = "ALL_F32",
	[1] = "MOSTLY_F16",
	[2] = "MOSTLY_Q4_0",
	[3] = "MOSTLY_Q4_1",
	[4] = "MOSTLY_Q4_1_SOME_F16",
	[7] = "MOSTLY_Q8_0",
	[8] = "MOSTLY_Q5_0",
	[9] = "MOSTLY_Q5_1",
	[10] = "MOSTLY_Q2_K",
	[11] = "MOSTLY_Q3_K_S",
	[12] = "MOSTLY_Q3_K_M",
	[13] = "MOSTLY_Q3_K_L",
	[14] = "MOSTLY_Q4_K_S",
	[15] = "MOSTLY_Q4_K_M",
	[16] = "MOSTLY_Q5_K_S",
	[17] = "MOSTLY_Q5_K_M",
	[18] = "MOSTLY_Q6_K",
	[19] = "MOSTLY_IQ2_XXS",
	[20] = "MOSTLY_IQ2_XS",
	[21] = "MOSTLY_Q2_K_S",
	[22] = "MOSTLY_IQ3_XS",
	[23] = "MOSTLY_IQ3_XXS",
	[24] = "MOSTLY_IQ1_S",
	[25] = "MOSTLY_IQ4_NL",
	[26] = "MOSTLY_IQ3_S",
	[27] = "MOSTLY_IQ3_M",
	[28] = "MOSTLY_IQ2_S",
	[29] = "MOSTLY_IQ2_M",
	[30] = "MOSTLY_IQ4_XS",
	[31] = "MOSTLY_IQ1_M",
	[32] = "MOSTLY_BF16",
	[36] = "MOSTLY_TQ1_0",
	[37] = "MOSTLY_TQ2_0",
	[38] = "MOSTLY_MXFP4_MOE",
};

const char *engine_file_type_name(int64_t file_type)
{
	if (file_type < 0 ||
	    file_type >= (int64_t)(sizeof(file_type_names) / sizeof(file_type_names[0])))
		return NULL;
	return file_type_names[file_type];
}

/* Copy a file string into dst (size n), NUL-terminated, control bytes as '?'. */
static void copy_str(char *dst, size_t n, struct gguf_str s)
{
	size_t len = s.len < n - 1 ? (size_t)s.len : n - 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[len] = '\0';
}

/* A count: an unsigned integer key, or the largest element of an integer
 * array key (per-layer values).  Absent: 0. */
static uint64_t get_count(const struct gguf_file *f, const char *arch, const char *suffix,
			  int *err)
{
	char key[192];
	int64_t i;
	uint64_t best = 0;

	snprintf(key, sizeof(key), "%s.%s", arch, suffix);
	if ((i = gguf_find_key(f, key)) < 0)
		return 0;
	if (gguf_kv_type(f, (size_t)i) != GGUF_VT_ARRAY)
		return gguf_get_u64(f, key, 0, err);
	switch (gguf_kv_arr_type(f, (size_t)i)) {
	case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_UINT16: case GGUF_VT_INT16:
	case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_UINT64: case GGUF_VT_INT64:
		break;
	default:
		*err = engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is an array of %s, expected integers",
				     gguf_name(f), key, gguf_vtype_name(gguf_kv_arr_type(f, (size_t)i)));
		return 0;
	}
	for (uint64_t j = 0; j < gguf_kv_arr_len(f, (size_t)i); j++) {
		int64_t v = gguf_arr_int(f, (size_t)i, j);

		if (v > 0 && (uint64_t)v > best)
			best = (uint64_t)v;
	}
	return best;
}

static bool is_expert_tensor(const char *name)
{
	return strstr(name, "_exps.") != NULL;
}

/* bytes * num / den without overflow (num <= den). */
static uint64_t scale_bytes(uint64_t bytes, uint64_t num, uint64_t den)
{
	return bytes / den * num + bytes % den * num / den;
}

int engine_model_info(struct engine_model_info *out, const struct gguf_file *f)
{
	const struct gguf_tensor *embd, *output;
	int err = 0;
	int64_t k;

	if (out == NULL || f == NULL)
		return engine_seterr(ENGINE_EINVAL, "engine_model_info: NULL argument");
	memset(out, 0, sizeof(*out));
	out->gguf_version = gguf_version(f);
	out->file_size = gguf_file_size(f);
	out->n_tensors = gguf_tensor_count(f);

	copy_str(out->arch, sizeof(out->arch), gguf_get_str(f, "general.architecture", &err));
	copy_str(out->name, sizeof(out->name), gguf_get_str(f, "general.name", &err));
	out->file_type = gguf_get_i64(f, "general.file_type", -1, &err);
	out->file_type_name = engine_file_type_name(out->file_type);
	if (out->file_type_name == NULL)
		out->file_type_name = "";

	if (out->arch[0] != '\0') {
		const char *a = out->arch;

		out->context_length = get_count(f, a, "context_length", &err);
		out->embedding_length = get_count(f, a, "embedding_length", &err);
		out->block_count = get_count(f, a, "block_count", &err);
		out->feed_forward_length = get_count(f, a, "feed_forward_length", &err);
		out->head_count = get_count(f, a, "attention.head_count", &err);
		out->head_count_kv = get_count(f, a, "attention.head_count_kv", &err);
		out->expert_count = get_count(f, a, "expert_count", &err);
		out->expert_used_count = get_count(f, a, "expert_used_count", &err);
	}

	copy_str(out->tokenizer_model, sizeof(out->tokenizer_model),
		 gguf_get_str(f, "tokenizer.ggml.model", &err));
	if ((k = gguf_find_key(f, "tokenizer.ggml.tokens")) >= 0) {
		if (gguf_kv_type(f, (size_t)k) == GGUF_VT_ARRAY)
			out->vocab_size = gguf_kv_arr_len(f, (size_t)k);
		else
			err = engine_seterr(ENGINE_EFORMAT,
					    "%s: key 'tokenizer.ggml.tokens' is a %s, expected an array",
					    gguf_name(f), gguf_vtype_name(gguf_kv_type(f, (size_t)k)));
	}
	out->has_chat_template = gguf_find_key(f, "tokenizer.chat_template") >= 0;
	if (err != 0)
		return err;

	/* sums: each term <= file size, so no sum can overflow */
	embd = gguf_tensor_find(f, "token_embd.weight");
	output = gguf_tensor_find(f, "output.weight");
	for (size_t i = 0; i < out->n_tensors; i++) {
		const struct gguf_tensor *t = gguf_tensor_at(f, i);
		uint64_t nel = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] *
			       (uint64_t)t->ne[3];
		struct engine_model_type_stat *s = &out->types[t->type];

		out->n_params += nel;
		out->tensor_bytes += t->nbytes;
		s->n_tensors++;
		s->n_elements += nel;
		s->n_bytes += t->nbytes;

		if (t == embd && output != NULL)
			out->bytes_per_token += quant_row_size(t->type, t->ne[0]);
		else if (is_expert_tensor(t->name) && out->expert_count > 0 &&
			 out->expert_used_count <= out->expert_count)
			out->bytes_per_token += scale_bytes(t->nbytes, out->expert_used_count,
							    out->expert_count);
		else
			out->bytes_per_token += t->nbytes;
	}
	return 0;
}
