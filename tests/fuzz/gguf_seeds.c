/* gguf_seeds.c - write small valid GGUF files for the fuzzer's seed corpus.
 *
 * The testdata models are too big to fuzz whole; these exercise every value
 * type, string and numeric arrays, several tensor types and dims, a
 * non-default alignment and an MoE-shaped model, in a few KiB each.
 * Usage: gguf_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static int fail(void)
{
	fprintf(stderr, "gguf_seeds: %s\n", engine_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t data[4096];
	const char *toks[] = { "<unk>", "<s>", "</s>", "a", "b", "\xe2\x96\x81the" };
	const float scores[] = { 0, 0, 0, -1, -2, -3 };
	const int32_t ttype[] = { 2, 3, 3, 1, 1, 1 };
	const uint32_t heads[] = { 4, 2 };
	const int64_t ne_emb[2] = { 32, 6 }, ne_norm[1] = { 32 }, ne_mat[2] = { 32, 32 };
	const int64_t ne_exp[3] = { 32, 8, 4 }, ne_k[2] = { 256, 2 };
	char path[4096];
	int8_t i8 = -3;
	int16_t i16 = -300;
	uint16_t u16 = 300;
	int64_t i64 = -1;
	double f64 = 0.25;
	uint8_t u8 = 7;

	if (argc != 2) {
		fprintf(stderr, "usage: gguf_seeds DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);

	for (int v = 0; v < 3; v++) {
		struct gguf_writer *w;
		const char *arch = v == 2 ? "qwen3moe" : "llama";
		char key[128];

		if (gguf_writer_new(&w) != 0)
			return fail();
		if (v == 1 && gguf_writer_set_alignment(w, 64) != 0)
			return fail();
		gguf_writer_add_str(w, "general.architecture", arch);
		gguf_writer_add_str(w, "general.name", "seed");
		gguf_writer_add_u32(w, "general.file_type", (uint32_t)(v == 0 ? 0 : 15));
		snprintf(key, sizeof(key), "%s.context_length", arch);
		gguf_writer_add_u32(w, key, 128);
		snprintf(key, sizeof(key), "%s.embedding_length", arch);
		gguf_writer_add_u64(w, key, 32);
		snprintf(key, sizeof(key), "%s.block_count", arch);
		gguf_writer_add_u32(w, key, 1);
		snprintf(key, sizeof(key), "%s.attention.head_count", arch);
		gguf_writer_add_arr(w, key, GGUF_VT_UINT32, heads, 2);
		snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", arch);
		gguf_writer_add_f32(w, key, 1e-5f);
		if (v == 2) {
			snprintf(key, sizeof(key), "%s.expert_count", arch);
			gguf_writer_add_u32(w, key, 4);
			snprintf(key, sizeof(key), "%s.expert_used_count", arch);
			gguf_writer_add_u32(w, key, 2);
		}
		gguf_writer_add_val(w, "x.u8", GGUF_VT_UINT8, &u8);
		gguf_writer_add_val(w, "x.i8", GGUF_VT_INT8, &i8);
		gguf_writer_add_val(w, "x.u16", GGUF_VT_UINT16, &u16);
		gguf_writer_add_val(w, "x.i16", GGUF_VT_INT16, &i16);
		gguf_writer_add_i32(w, "x.i32", -5);
		gguf_writer_add_val(w, "x.i64", GGUF_VT_INT64, &i64);
		gguf_writer_add_val(w, "x.f64", GGUF_VT_FLOAT64, &f64);
		gguf_writer_add_bool(w, "x.bool", true);
		gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
		gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
		gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 6);
		gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, ttype, 6);
		gguf_writer_add_str(w, "tokenizer.chat_template", "{{ messages }}");
		gguf_writer_add_tensor(w, "token_embd.weight", v == 0 ? QT_F32 : QT_Q8_0, 2, ne_emb, data);
		gguf_writer_add_tensor(w, "output_norm.weight", QT_F32, 1, ne_norm, data);
		if (v == 2) {
			gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight", QT_Q4_0, 3, ne_exp, data);
		} else {
			gguf_writer_add_tensor(w, "blk.0.attn_q.weight", QT_F16, 2, ne_mat, data);
			gguf_writer_add_tensor(w, "output.weight", QT_Q4_K, 2, ne_k, data);
		}
		snprintf(path, sizeof(path), "%s/seed-%d.gguf", argv[1], v);
		if (gguf_writer_write(w, path) != 0)
			return fail();
		gguf_writer_free(w);
	}
	return 0;
}
