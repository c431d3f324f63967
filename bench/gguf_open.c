/* gguf_open.c - how long gguf_open() takes on a big model file.
 *
 *   bench_gguf_open gen PATH [f16|q8_0]   write a TinyLlama-1.1B-shaped model
 *   bench_gguf_open time PATH [RUNS]      time gguf_open + gguf_close
 *
 * `gen` writes 22 layers of n_embd 2048, ffn 5632, 32 heads / 4 kv heads,
 * a 32000-token vocab (tokens, scores, types) and untied output; Q8_0 is
 * ~1.2 GB, F16 ~2.2 GB.  Weights are random but valid for the type (finite
 * f16 scales and values).  All tensors stream from one buffer the size of
 * the largest tensor, through the writer, so memory stays ~70-140 MB.
 *
 * `time` measures open+close "cold" (the file's pages dropped from the page
 * cache with POSIX_FADV_DONTNEED before each run; pages another process
 * holds may survive) and "warm" (right after a previous open), RUNS times
 * each (default 9), and prints median, min and max in ms.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A finite f16 with |x| in about [2^-10, 2^-4): exponent 5..10, random
 * mantissa and sign. */
static uint16_t rand_f16(void)
{
	uint64_t r = rng();

	return (uint16_t)((r & 0x8000) | ((5 + r % 6) << 10) | ((r >> 8) & 0x3ff));
}

/* n bytes of valid `type` data (n a multiple of the block bytes). */
static void fill(uint8_t *p, size_t n, enum quant_type type)
{
	if (type == QT_Q8_0) {
		for (size_t b = 0; b + 34 <= n; b += 34) {
			uint16_t d = rand_f16();
			uint64_t r = 0;

			memcpy(p + b, &d, 2);
			for (int i = 0; i < 32; i++) {
				if (i % 8 == 0)
					r = rng();
				p[b + 2 + i] = (uint8_t)(r >> (8 * (i % 8)));
			}
		}
	} else {
		for (size_t i = 0; i + 2 <= n; i += 2) {
			uint16_t h = rand_f16();

			memcpy(p + i, &h, 2);
		}
	}
}

static int fail(void)
{
	fprintf(stderr, "bench_gguf_open: %s\n", engine_errmsg());
	return 1;
}

static int gen(const char *path, enum quant_type wt)
{
	struct gguf_writer *w = NULL;
	char **toks = NULL, name[64];
	float *scores = NULL;
	int32_t *types = NULL;
	uint8_t *buf = NULL, *norm = NULL;
	size_t big = quant_row_size(wt, N_EMBD) * N_VOCAB;
	int rc = 1;

	toks = calloc(N_VOCAB, sizeof(*toks));
	scores = calloc(N_VOCAB, sizeof(*scores));
	types = calloc(N_VOCAB, sizeof(*types));
	buf = malloc(big);
	norm = malloc(N_EMBD * 4);
	if (!toks || !scores || !types || !buf || !norm) {
		fprintf(stderr, "bench_gguf_open: out of memory\n");
		goto out;
	}
	for (int i = 0; i < N_VOCAB; i++) {
		char t[32];

		snprintf(t, sizeof(t), "\xe2\x96\x81tok%d", i);
		if ((toks[i] = strdup(t)) == NULL)
			goto out;
		scores[i] = -(float)i;
		types[i] = 1;
	}
	fill(buf, big, wt);
	for (int i = 0; i < N_EMBD; i++) {
		float one = 1.0f;

		memcpy(norm + 4 * i, &one, 4);
	}

	if (gguf_writer_new(&w) != 0)
		goto err;
	if (gguf_writer_add_str(w, "general.architecture", "llama") ||
	    gguf_writer_add_str(w, "general.name", "bench-tinyllama-1.1b") ||
	    gguf_writer_add_u32(w, "general.file_type", wt == QT_Q8_0 ? 7 : 1) ||
	    gguf_writer_add_u32(w, "llama.context_length", 2048) ||
	    gguf_writer_add_u32(w, "llama.embedding_length", N_EMBD) ||
	    gguf_writer_add_u32(w, "llama.block_count", N_LAYER) ||
	    gguf_writer_add_u32(w, "llama.feed_forward_length", N_FF) ||
	    gguf_writer_add_u32(w, "llama.attention.head_count", N_HEAD) ||
	    gguf_writer_add_u32(w, "llama.attention.head_count_kv", N_HEAD_KV) ||
	    gguf_writer_add_u32(w, "llama.rope.dimension_count", HEAD_DIM) ||
	    gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) ||
	    gguf_writer_add_str(w, "tokenizer.ggml.model", "llama") ||
	    gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, N_VOCAB) ||
	    gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, N_VOCAB) ||
	    gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, N_VOCAB) ||
	    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
	    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2))
		goto err;

	{
		const int64_t emb[2] = { N_EMBD, N_VOCAB }, vec[1] = { N_EMBD };

		if (gguf_writer_add_tensor(w, "token_embd.weight", wt, 2, emb, buf) ||
		    gguf_writer_add_tensor(w, "output_norm.weight", QT_F32, 1, vec, norm) ||
		    gguf_writer_add_tensor(w, "output.weight", wt, 2, emb, buf))
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

			snprintf(name, sizeof(name), "blk.%d.%s.weight", l, mats[m].name);
			if (gguf_writer_add_tensor(w, name, wt, 2, ne, buf))
				goto err;
		}
	}
	if (gguf_writer_write(w, path) != 0)
		goto err;
	rc = 0;
	goto out;
err:
	rc = fail();
out:
	gguf_writer_free(w);
	for (int i = 0; toks && i < N_VOCAB; i++)
		free(toks[i]);
	free(toks);
	free(scores);
	free(types);
	free(buf);
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

static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* One open+close in ms; -1 on error. */
static double time_open(const char *path)
{
	struct gguf_file *f = NULL;
	double t0 = now_ms(), t;

	if (gguf_open(&f, path) != 0)
		return -1;
	gguf_close(f);
	t = now_ms() - t0;
	return t;
}

static int timeit(const char *path, int runs)
{
	double cold[64], warm[64];
	struct gguf_file *f = NULL;
	struct engine_model_info mi;

	if (runs < 1 || runs > 64)
		runs = 9;
	if (gguf_open(&f, path) != 0 || engine_model_info(&mi, f) != 0)
		return fail();
	printf("file: %s\n", path);
	printf("size: %.1f MiB, %zu tensors, %zu keys, %llu params, vocab %llu\n",
	       (double)gguf_file_size(f) / (1 << 20), gguf_tensor_count(f), gguf_kv_count(f),
	       (unsigned long long)mi.n_params, (unsigned long long)mi.vocab_size);
	gguf_close(f);
	for (int i = 0; i < runs; i++) {
		drop_cache(path);
		if ((cold[i] = time_open(path)) < 0)
			return fail();
		if ((warm[i] = time_open(path)) < 0)
			return fail();
	}
	qsort(cold, (size_t)runs, sizeof(double), cmp_double);
	qsort(warm, (size_t)runs, sizeof(double), cmp_double);
	printf("gguf_open+close cold: median %.3f ms (min %.3f, max %.3f, %d runs)\n",
	       cold[runs / 2], cold[0], cold[runs - 1], runs);
	printf("gguf_open+close warm: median %.3f ms (min %.3f, max %.3f, %d runs)\n",
	       warm[runs / 2], warm[0], warm[runs - 1], runs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "gen") == 0) {
		enum quant_type t = QT_Q8_0;

		if (argc >= 4 && strcmp(argv[3], "f16") == 0)
			t = QT_F16;
		else if (argc >= 4 && strcmp(argv[3], "q8_0") != 0) {
			fprintf(stderr, "bench_gguf_open: type is f16 or q8_0\n");
			return 2;
		}
		return gen(argv[2], t);
	}
	if (argc >= 3 && strcmp(argv[1], "time") == 0)
		return timeit(argv[2], argc >= 4 ? atoi(argv[3]) : 9);
	fprintf(stderr, "usage: bench_gguf_open gen PATH [f16|q8_0]\n"
			"       bench_gguf_open time PATH [RUNS]\n");
	return 2;
}
