/* gen_model.c - TinyLlama-1.1B-shaped llama models with random weights, for
 * scripts/bench-engine, and a model-open timer.
 *
 *   bench_gen_model gen OUT.gguf q4_0|q8_0|q4_k_m VOCAB.gguf
 *   bench_gen_model open FILE.gguf [RUNS]
 *
 * `gen` writes n_embd 2048, 22 layers, 32 heads / 4 KV heads (head_dim
 * 64), ffn 5632, untied output, with every tokenizer.* key copied from
 * VOCAB.gguf (which must have 32000 tokens, e.g. ggml-vocab-llama-spm).
 * Blocks are random but valid: f16 scales are normal numbers of a size that
 * gives weights of about 1/sqrt(fan_in), quants are uniform.  Layouts:
 *   q4_0    every matrix Q4_0, output Q6_K (as llama-quantize does)
 *   q8_0    every matrix Q8_0
 *   q4_k_m  Q4_K, except Q6_K for output and, in the layers llama.cpp's
 *           Q4_K_M picks, attn_v and ffn_down: the first eighth of the
 *           layers, the last eighth, and every third layer in between
 *           (for 22 layers: 0 1 4 7 10 13 16 19 20 21).
 * Tensors that share a type share one buffer (the writer streams it), so
 * memory stays near the largest tensor.
 *
 * `open` times engine_model_open + engine_model_close RUNS times (default
 * 9) after one untimed open that brings the file into the page cache, and
 * prints the median, min and max in ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

enum {
	N_EMBD = 2048,
	N_FF = 5632,
	N_LAYER = 22,
	N_HEAD = 32,
	N_HEAD_KV = 4,
	N_VOCAB = 32000,
	HEAD_DIM = N_EMBD / N_HEAD,
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A normal f16 of magnitude in [2^(e-15), 2^(e-13)) (biased exponent e or
 * e+1), random mantissa; positive when `pos`. */
static uint16_t rand_f16(int e, bool pos)
{
	uint64_t r = rng();

	return (uint16_t)((pos ? 0 : (r & 0x8000)) | ((uint64_t)(e + (int)(r >> 20 & 1)) << 10) |
			  ((r >> 8) & 0x3ff));
}

static void rand_bytes(uint8_t *p, size_t n)
{
	uint64_t r = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			r = rng();
		p[i] = (uint8_t)(r >> (8 * (i % 8)));
	}
}

/* Fill n bytes (whole blocks) of valid `type` data. */
static void fill(uint8_t *p, size_t n, enum quant_type type)
{
	size_t bs = quant_traits_of(type)->type_size;

	rand_bytes(p, n);
	for (size_t b = 0; b + bs <= n; b += bs) {
		uint8_t *q = p + b;
		uint16_t d, dmin;

		switch (type) {
		case QT_Q4_0: /* w = d (q - 8): |q - 8| ~ 4.6 -> d ~ 2^-8 */
			d = rand_f16(7, false);
			memcpy(q, &d, 2);
			break;
		case QT_Q8_0: /* w = d q, |q| ~ 73 -> d ~ 2^-12; q in [-127, 127] */
			d = rand_f16(3, false);
			memcpy(q, &d, 2);
			for (int i = 0; i < 32; i++)
				if (q[2 + i] == 0x80)
					q[2 + i] = 0x81;
			break;
		case QT_Q4_K: /* w = d sc q - dmin m, 6-bit sc/m, q 0..15 */
			d = rand_f16(3, true);
			dmin = rand_f16(3, true);
			memcpy(q, &d, 2);
			memcpy(q + 2, &dmin, 2);
			break;
		case QT_Q6_K: /* w = d sc (q - 32), sc int8 in [-32, 31] */
			d = rand_f16(3, false);
			memcpy(q + 208, &d, 2);
			for (int i = 0; i < 16; i++)
				q[192 + i] = (uint8_t)((int8_t)(q[192 + i] % 64) - 32);
			break;
		default:
			break;
		}
	}
}

static int fail(const char *what)
{
	fprintf(stderr, "bench_gen_model: %s: %s\n", what, engine_errmsg());
	return 1;
}

/* Copy every tokenizer.* key of v into w. */
static int copy_tokenizer(struct gguf_writer *w, const struct gguf_file *v)
{
	for (size_t i = 0; i < gguf_kv_count(v); i++) {
		const char *key = gguf_kv_key(v, i);
		enum gguf_vtype t = gguf_kv_type(v, i);
		int rc = 0;

		if (strncmp(key, "tokenizer.", 10) != 0)
			continue;
		if (t == GGUF_VT_STRING) {
			struct gguf_str s = gguf_get_str(v, key, NULL);

			rc = gguf_writer_add_strn(w, key, s.ptr ? s.ptr : "", s.len);
		} else if (t == GGUF_VT_ARRAY && gguf_kv_arr_type(v, i) == GGUF_VT_STRING) {
			uint64_t n = gguf_kv_arr_len(v, i);
			char **strs = calloc(n ? n : 1, sizeof(*strs));

			if (strs == NULL) {
				fprintf(stderr, "bench_gen_model: out of memory\n");
				return 1;
			}
			for (uint64_t k = 0; k < n && rc == 0; k++) {
				struct gguf_str s = gguf_arr_str(v, i, k);

				if ((strs[k] = strndup(s.ptr ? s.ptr : "", s.len)) == NULL)
					rc = -1;
			}
			if (rc == 0)
				rc = gguf_writer_add_arr_str(w, key, (const char *const *)strs, n);
			for (uint64_t k = 0; k < n; k++)
				free(strs[k]);
			free(strs);
		} else if (t == GGUF_VT_ARRAY) {
			rc = gguf_writer_add_arr(w, key, gguf_kv_arr_type(v, i), gguf_arr_data(v, i),
						 gguf_kv_arr_len(v, i));
		} else {
			union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
				int32_t i32; uint64_t u64; int64_t i64; float f32; double f64;
				bool b; } val;

			switch (t) {
			case GGUF_VT_UINT8: val.u8 = (uint8_t)gguf_get_u64(v, key, 0, NULL); break;
			case GGUF_VT_INT8: val.i8 = (int8_t)gguf_get_i64(v, key, 0, NULL); break;
			case GGUF_VT_UINT16: val.u16 = (uint16_t)gguf_get_u64(v, key, 0, NULL); break;
			case GGUF_VT_INT16: val.i16 = (int16_t)gguf_get_i64(v, key, 0, NULL); break;
			case GGUF_VT_UINT32: val.u32 = (uint32_t)gguf_get_u64(v, key, 0, NULL); break;
			case GGUF_VT_INT32: val.i32 = (int32_t)gguf_get_i64(v, key, 0, NULL); break;
			case GGUF_VT_UINT64: val.u64 = gguf_get_u64(v, key, 0, NULL); break;
			case GGUF_VT_INT64: val.i64 = gguf_get_i64(v, key, 0, NULL); break;
			case GGUF_VT_FLOAT32: val.f32 = gguf_get_f32(v, key, 0, NULL); break;
			case GGUF_VT_FLOAT64: val.f64 = gguf_get_f64(v, key, 0, NULL); break;
			case GGUF_VT_BOOL: val.b = gguf_get_bool(v, key, false, NULL); break;
			default: continue;
			}
			rc = gguf_writer_add_val(w, key, t, &val);
		}
		if (rc != 0)
			return fail(key);
	}
	return 0;
}

/* Q4_K_M's layers with more bits for attn_v and ffn_down. */
static bool more_bits(int il, int n)
{
	return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
}

static int gen(const char *path, const char *kind, const char *vocab_path)
{
	enum quant_type wt, out_t;
	bool kquant = strcmp(kind, "q4_k_m") == 0;
	struct gguf_file *v = NULL;
	struct gguf_writer *w = NULL;
	uint8_t *buf[QT_COUNT] = { 0 };
	float *norm = NULL;
	uint32_t ftype;
	char name[64];
	int rc = 1;

	if (strcmp(kind, "q4_0") == 0)
		wt = QT_Q4_0, out_t = QT_Q6_K, ftype = 2;
	else if (strcmp(kind, "q8_0") == 0)
		wt = QT_Q8_0, out_t = QT_Q8_0, ftype = 7;
	else if (kquant)
		wt = QT_Q4_K, out_t = QT_Q6_K, ftype = 15;
	else {
		fprintf(stderr, "bench_gen_model: unknown type '%s' (q4_0, q8_0, q4_k_m)\n", kind);
		return 2;
	}
	if (gguf_open(&v, vocab_path) != 0)
		return fail(vocab_path);
	{
		int64_t k = gguf_find_key(v, "tokenizer.ggml.tokens");

		if (k < 0 || gguf_kv_arr_len(v, (size_t)k) != N_VOCAB) {
			fprintf(stderr, "bench_gen_model: %s: needs exactly %d tokens\n",
				vocab_path, N_VOCAB);
			goto out;
		}
	}
	/* one buffer per type, as large as the largest tensor of that type */
	{
		enum quant_type types[2] = { wt, out_t };

		for (int i = 0; i < 2; i++) {
			size_t sz = quant_row_size(types[i], N_EMBD) * N_VOCAB;

			if (quant_row_size(types[i], N_FF) * N_EMBD > sz)
				sz = quant_row_size(types[i], N_FF) * N_EMBD;
			if (buf[types[i]])
				continue;
			if ((buf[types[i]] = malloc(sz)) == NULL)
				goto nomem;
			fill(buf[types[i]], sz, types[i]);
		}
	}
	if ((norm = malloc(N_EMBD * sizeof(float))) == NULL)
		goto nomem;
	for (int i = 0; i < N_EMBD; i++)
		norm[i] = 1.0f + 0.1f * ((float)(rng() % 2001) / 1000.0f - 1.0f);

	if (gguf_writer_new(&w) != 0)
		goto err;
	if (gguf_writer_add_str(w, "general.architecture", "llama") ||
	    gguf_writer_add_str(w, "general.name", "bench-tinyllama-1.1b") ||
	    gguf_writer_add_u32(w, "general.file_type", ftype) ||
	    gguf_writer_add_u32(w, "llama.context_length", 2048) ||
	    gguf_writer_add_u32(w, "llama.embedding_length", N_EMBD) ||
	    gguf_writer_add_u32(w, "llama.block_count", N_LAYER) ||
	    gguf_writer_add_u32(w, "llama.feed_forward_length", N_FF) ||
	    gguf_writer_add_u32(w, "llama.attention.head_count", N_HEAD) ||
	    gguf_writer_add_u32(w, "llama.attention.head_count_kv", N_HEAD_KV) ||
	    gguf_writer_add_u32(w, "llama.rope.dimension_count", HEAD_DIM) ||
	    gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f) ||
	    gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f))
		goto err;
	if (copy_tokenizer(w, v) != 0)
		goto out;
	{
		const int64_t emb[2] = { N_EMBD, N_VOCAB }, vec[1] = { N_EMBD };

		if (gguf_writer_add_tensor(w, "token_embd.weight", wt, 2, emb, buf[wt]) ||
		    gguf_writer_add_tensor(w, "output_norm.weight", QT_F32, 1, vec, norm) ||
		    gguf_writer_add_tensor(w, "output.weight", out_t, 2, emb, buf[out_t]))
			goto err;
	}
	for (int l = 0; l < N_LAYER; l++) {
		static const struct {
			const char *name;
			int64_t ne0, ne1;
		} mats[] = {
			{ "attn_q", N_EMBD, N_EMBD },
			{ "attn_k", N_EMBD, N_HEAD_KV * HEAD_DIM },
			{ "attn_v", N_EMBD, N_HEAD_KV * HEAD_DIM },
			{ "attn_output", N_EMBD, N_EMBD },
			{ "ffn_gate", N_EMBD, N_FF },
			{ "ffn_up", N_EMBD, N_FF },
			{ "ffn_down", N_FF, N_EMBD },
		};
		const int64_t vec[1] = { N_EMBD };

		snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
		if (gguf_writer_add_tensor(w, name, QT_F32, 1, vec, norm))
			goto err;
		snprintf(name, sizeof(name), "blk.%d.ffn_norm.weight", l);
		if (gguf_writer_add_tensor(w, name, QT_F32, 1, vec, norm))
			goto err;
		for (size_t m = 0; m < sizeof(mats) / sizeof(mats[0]); m++) {
			const int64_t ne[2] = { mats[m].ne0, mats[m].ne1 };
			enum quant_type t = wt;

			if (kquant && more_bits(l, N_LAYER) &&
			    (strcmp(mats[m].name, "attn_v") == 0 ||
			     strcmp(mats[m].name, "ffn_down") == 0))
				t = QT_Q6_K;
			snprintf(name, sizeof(name), "blk.%d.%s.weight", l, mats[m].name);
			if (gguf_writer_add_tensor(w, name, t, 2, ne, buf[t]))
				goto err;
		}
	}
	if (gguf_writer_write(w, path) != 0)
		goto err;
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "bench_gen_model: out of memory\n");
	goto out;
err:
	rc = fail(path);
out:
	gguf_writer_free(w);
	gguf_close(v);
	for (int i = 0; i < QT_COUNT; i++)
		free(buf[i]);
	free(norm);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int time_open(const char *path, int runs)
{
	double t[101];
	struct engine_model *m = NULL;

	if (runs < 1 || runs > 101)
		runs = 9;
	if (engine_model_open(&m, path, NULL) != 0) /* page cache warm-up */
		return fail(path);
	engine_model_close(m);
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();

		if (engine_model_open(&m, path, NULL) != 0)
			return fail(path);
		engine_model_close(m);
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	printf("open %s: median %.2f ms, min %.2f, max %.2f (%d runs, warm page cache)\n",
	       path, t[runs / 2], t[0], t[runs - 1], runs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], argv[3], argv[4]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "open") == 0)
		return time_open(argv[2], argc == 4 ? atoi(argv[3]) : 9);
	fprintf(stderr, "usage: bench_gen_model gen OUT.gguf q4_0|q8_0|q4_k_m VOCAB.gguf\n"
		"       bench_gen_model open FILE.gguf [RUNS]\n");
	return 2;
}
