/* test_gguf.c - the GGUF reader, writer and engine_model_info.
 *
 * Real files: every model and vocab in $HALO_TESTDATA opens (the
 * big-endian vocab is refused), and their facts match testdata/README.md,
 * computed here from the README's shapes rather than from the reader.
 * Corrupt files: each is built byte by byte (rawf below) so that exactly one
 * field is wrong, and must fail with the right code and a message naming
 * the key or tensor.  The writer is checked by a round trip.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"

/* ==== helpers =========================================================== */

static char testdata[4096];

static const char *testdata_dir(void)
{
	const char *e = getenv("HALO_TESTDATA");
	const char *src = getenv("HALO_SRCDIR");

	if (testdata[0] != '\0')
		return testdata;
	if (e != NULL && *e != '\0')
		snprintf(testdata, sizeof(testdata), "%s", e);
	else if (src != NULL && *src != '\0')
		snprintf(testdata, sizeof(testdata), "%s/../shared/testdata", src);
	else {
		/* manual runs: this file is <root>/tests/engine/test_gguf.c */
		const char *f = __FILE__, *slash = strrchr(f, '/');
		int n = slash ? (int)(slash - f) : 1;

		snprintf(testdata, sizeof(testdata), "%.*s/../../../shared/testdata", n,
			 slash ? f : ".");
	}
	return testdata;
}

static char *data_path(const char *rel)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "%s/%s", testdata_dir(), rel);
	return buf;
}

static struct gguf_file *open_data(const char *rel)
{
	struct gguf_file *f = NULL;
	int rc = gguf_open(&f, data_path(rel));

	if (rc != 0)
		print_error("%s\n", engine_errmsg());
	assert_int_equal(rc, 0);
	assert_non_null(f);
	return f;
}

static void assert_msg(const char *sub)
{
	if (strstr(engine_errmsg(), sub) == NULL) {
		print_error("message \"%s\" lacks \"%s\"\n", engine_errmsg(), sub);
		fail();
	}
	assert_null(strchr(engine_errmsg(), '\n'));
}

/* Open a buffer that must fail with `code` and a message holding each of
 * the NULL-terminated substrings. */
static void expect_fail(const void *p, size_t n, int code, ...)
{
	struct gguf_file *f = (struct gguf_file *)0x1;
	const char *sub;
	va_list ap;
	int rc;

	rc = gguf_open_mem(&f, p, n, "bad.gguf");
	if (rc != code)
		print_error("rc %d, expected %d: %s\n", rc, code, engine_errmsg());
	assert_int_equal(rc, code);
	assert_null(f);
	assert_msg("bad.gguf: ");
	va_start(ap, code);
	while ((sub = va_arg(ap, const char *)) != NULL)
		assert_msg(sub);
	va_end(ap);
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Names of the *.gguf files in testdata/<sub>, sorted; NULL-terminated. */
static char **list_gguf(const char *sub, size_t *n)
{
	DIR *d = opendir(data_path(sub));
	struct dirent *e;
	char **v = NULL;

	*n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, ".gguf"))
			continue;
		v = realloc(v, (*n + 2) * sizeof(*v));
		assert_non_null(v);
		v[(*n)++] = strdup(e->d_name);
		v[*n] = NULL;
	}
	closedir(d);
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ==== a byte builder for hand-made files =============================== */

struct rawf {
	uint8_t *p;
	size_t len, cap;
	int version; /* 1: 32-bit counts and lengths */
};

static void rf_put(struct rawf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void rf_le(struct rawf *b, uint64_t v, unsigned n)
{
	uint8_t x[8];

	for (unsigned i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	rf_put(b, x, n);
}

static void rf_u32(struct rawf *b, uint32_t v) { rf_le(b, v, 4); }
static void rf_u64(struct rawf *b, uint64_t v) { rf_le(b, v, 8); }
static void rf_len(struct rawf *b, uint64_t v) { rf_le(b, v, b->version == 1 ? 4 : 8); }

static void rf_str(struct rawf *b, const char *s)
{
	rf_len(b, strlen(s));
	rf_put(b, s, strlen(s));
}

static void rf_header(struct rawf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	b->version = (int)version;
	rf_put(b, "GGUF", 4);
	rf_u32(b, version);
	rf_len(b, n_tensors);
	rf_len(b, n_kv);
}

static void rf_kv_str(struct rawf *b, const char *k, const char *v)
{
	rf_str(b, k);
	rf_u32(b, GGUF_VT_STRING);
	rf_str(b, v);
}

static void rf_kv_u32(struct rawf *b, const char *k, uint32_t v)
{
	rf_str(b, k);
	rf_u32(b, GGUF_VT_UINT32);
	rf_u32(b, v);
}

static void rf_pad(struct rawf *b, size_t a)
{
	while (b->len % a)
		rf_le(b, 0, 1);
}

/* A tensor info as written; dims are uint64 even when bogus. */
struct tinfo {
	const char *name;
	uint32_t n_dims;
	uint64_t ne[5];
	uint32_t type;
	uint64_t offset;
};

static void rf_tinfo(struct rawf *b, const struct tinfo *t)
{
	rf_str(b, t->name);
	rf_u32(b, t->n_dims);
	for (uint32_t d = 0; d < t->n_dims && d < 5; d++)
		rf_len(b, t->ne[d]);
	rf_u32(b, t->type);
	rf_u64(b, t->offset);
}

/* A complete little file: general.architecture, `n` tensors, padding to 32,
 * `data_len` bytes of data. */
static struct rawf build_tensors(const struct tinfo *ts, int n, size_t data_len)
{
	struct rawf b = { 0 };

	rf_header(&b, 3, (uint64_t)n, 1);
	rf_kv_str(&b, "general.architecture", "test");
	for (int i = 0; i < n; i++)
		rf_tinfo(&b, &ts[i]);
	rf_pad(&b, 32);
	for (size_t i = 0; i < data_len; i++)
		rf_le(&b, i & 0xff, 1);
	return b;
}

/* The base case: a [8] F32 at 0 and b [4,2] F32 at 32; 64 data bytes. */
static void base_tensors(struct tinfo t[2])
{
	struct tinfo a = { "a", 1, { 8 }, 0, 0 };
	struct tinfo b = { "b", 2, { 4, 2 }, 0, 32 };

	t[0] = a;
	t[1] = b;
}

/* ==== real files ======================================================== */

static void test_all_models_open(void **state)
{
	size_t n;
	char **names = list_gguf("models", &n);
	char rel[512];

	(void)state;
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		struct gguf_file *f;
		struct engine_model_info mi;
		uint64_t sum = 0;

		snprintf(rel, sizeof(rel), "models/%s", names[i]);
		f = open_data(rel);
		assert_true(gguf_tensor_count(f) > 0);
		assert_int_equal(gguf_alignment(f), 32);
		assert_int_equal(gguf_data_offset(f) % 32, 0);
		for (size_t j = 0; j < gguf_tensor_count(f); j++) {
			const struct gguf_tensor *t = gguf_tensor_at(f, j);

			assert_ptr_equal(gguf_tensor_find(f, t->name), t);
			assert_int_equal(t->nbytes, quant_row_size(t->type, t->ne[0]) *
							    (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]));
			assert_true(gguf_data_offset(f) + t->offset + t->nbytes <= gguf_file_size(f));
			sum += t->nbytes;
		}
		assert_int_equal(engine_model_info(&mi, f), 0);
		assert_true(mi.arch[0] != '\0');
		assert_int_equal(mi.tensor_bytes, sum);
		assert_true(mi.bytes_per_token > 0 && mi.bytes_per_token <= sum);
		assert_true(mi.vocab_size >= 512);
		/* every key is found through the index */
		for (size_t j = 0; j < gguf_kv_count(f); j++)
			assert_int_equal(gguf_find_key(f, gguf_kv_key(f, j)), (int64_t)j);
		gguf_close(f);
	}
	free_list(names);
}

static const struct {
	const char *file, *model;
	uint64_t tokens;
} vocabs[] = {
	{ "ggml-vocab-llama-spm.gguf", "llama", 32000 },
	{ "ggml-vocab-phi-3.gguf", "llama", 32064 },
	{ "ggml-vocab-llama-bpe.gguf", "gpt2", 128256 },
	{ "ggml-vocab-qwen2.gguf", "gpt2", 151936 },
	{ "ggml-vocab-gpt-2.gguf", "gpt2", 50257 },
	{ "ggml-vocab-deepseek-llm.gguf", "gpt2", 102400 },
	{ "ggml-vocab-falcon.gguf", "gpt2", 65024 },
	{ "ggml-vocab-starcoder.gguf", "gpt2", 49152 },
	{ "ggml-vocab-bert-bge.gguf", "bert", 30522 },
};

static void test_all_vocabs_open(void **state)
{
	size_t n, checked = 0;
	char **names = list_gguf("vocab", &n);
	char rel[512];

	(void)state;
	assert_true(n >= 10);
	for (size_t i = 0; i < n; i++) {
		struct gguf_file *f = NULL;
		struct engine_model_info mi;
		int64_t k;

		snprintf(rel, sizeof(rel), "vocab/%s", names[i]);
		if (strstr(names[i], "-be.") != NULL) {
			assert_int_equal(gguf_open(&f, data_path(rel)), ENGINE_EUNSUPPORTED);
			assert_null(f);
			assert_msg("big-endian");
			assert_msg(names[i]);
			continue;
		}
		f = open_data(rel);
		assert_int_equal(gguf_tensor_count(f), 0);
		assert_int_equal(engine_model_info(&mi, f), 0);
		k = gguf_find_key(f, "tokenizer.ggml.tokens");
		assert_true(k >= 0);
		assert_int_equal(gguf_kv_arr_type(f, (size_t)k), GGUF_VT_STRING);
		/* every token string can be read back */
		for (uint64_t j = 0; j < gguf_kv_arr_len(f, (size_t)k); j++)
			assert_non_null(gguf_arr_str(f, (size_t)k, j).ptr);
		assert_null(gguf_arr_str(f, (size_t)k, gguf_kv_arr_len(f, (size_t)k)).ptr);
		for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++) {
			if (strcmp(vocabs[v].file, names[i]) != 0)
				continue;
			assert_string_equal(mi.tokenizer_model, vocabs[v].model);
			assert_int_equal(mi.vocab_size, vocabs[v].tokens);
			checked++;
		}
		gguf_close(f);
	}
	assert_int_equal(checked, sizeof(vocabs) / sizeof(vocabs[0]));
	free_list(names);
}

/* stories260K (README 1): llama, n_embd 64, 5 layers, 8/4 heads, ffn 172,
 * 512 tokens, untied output, all F32. */
static void test_stories260k(void **state)
{
	struct gguf_file *f = open_data("models/stories260K.gguf");
	struct engine_model_info mi;
	const uint64_t E = 64, L = 5, H = 8, KV = 4, HD = 8, FF = 172, V = 512;
	uint64_t layer = E + E * H * HD + 2 * E * KV * HD + H * HD * E + E + 3 * E * FF;
	uint64_t params = V * E + E + V * E + L * layer;
	const struct gguf_tensor *t;
	int err = 0;

	(void)state;
	assert_int_equal(gguf_version(f), 3);
	assert_int_equal(engine_model_info(&mi, f), 0);
	assert_string_equal(mi.arch, "llama");
	assert_int_equal(mi.block_count, L);
	assert_int_equal(mi.embedding_length, E);
	assert_int_equal(mi.feed_forward_length, FF);
	assert_int_equal(mi.head_count, H);
	assert_int_equal(mi.head_count_kv, KV);
	assert_int_equal(mi.vocab_size, V);
	assert_string_equal(mi.tokenizer_model, "llama");
	assert_false(mi.has_chat_template);
	assert_int_equal(mi.n_tensors, 3 + 9 * L);
	assert_int_equal(mi.n_params, params);
	assert_int_equal(mi.types[QT_F32].n_tensors, mi.n_tensors);
	assert_int_equal(mi.types[QT_F32].n_bytes, 4 * params);
	assert_int_equal(mi.tensor_bytes, 4 * params);
	/* untied: one row of token_embd per token */
	assert_int_equal(mi.bytes_per_token, 4 * (params - V * E + E));
	assert_int_equal(mi.file_type, -1);

	t = gguf_tensor_find(f, "blk.4.ffn_down.weight");
	assert_non_null(t);
	assert_int_equal(t->n_dims, 2);
	assert_int_equal(t->ne[0], FF);
	assert_int_equal(t->ne[1], E);
	assert_int_equal(t->type, QT_F32);
	assert_null(gguf_tensor_find(f, "blk.5.ffn_down.weight"));
	assert_null(gguf_tensor_find(f, ""));

	assert_int_equal(gguf_get_u32(f, "llama.block_count", 0, &err), L);
	assert_float_equal(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", 0, &err),
			   1e-5, 1e-9);
	assert_int_equal(err, 0);
	{
		int64_t k = gguf_find_key(f, "tokenizer.ggml.tokens");
		struct gguf_str s = gguf_arr_str(f, (size_t)k, 1);

		assert_int_equal(s.len, 3);
		assert_memory_equal(s.ptr, "<s>", 3);
	}
	gguf_close(f);
}

/* The v1 file holds the same weights as stories260K.gguf, in another order. */
static void test_v1_same_as_v3(void **state)
{
	struct gguf_file *a = open_data("models/stories260K.gguf");
	struct gguf_file *b = open_data("models/tinyllamas-stories-260k-f32.gguf");
	int64_t ka, kb;

	(void)state;
	assert_int_equal(gguf_version(b), 1);
	assert_int_equal(gguf_tensor_count(a), gguf_tensor_count(b));
	for (size_t i = 0; i < gguf_tensor_count(a); i++) {
		const struct gguf_tensor *x = gguf_tensor_at(a, i);
		const struct gguf_tensor *y = gguf_tensor_find(b, x->name);

		assert_non_null(y);
		assert_int_equal(x->n_dims, y->n_dims);
		assert_memory_equal(x->ne, y->ne, sizeof(x->ne));
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->nbytes, y->nbytes);
		assert_memory_equal(x->data, y->data, (size_t)x->nbytes);
	}
	assert_int_equal(gguf_get_u32(b, "llama.context_length", 0, NULL), 512);
	assert_int_equal(gguf_get_str(b, "llama.tensor_data_layout", NULL).len > 0, 1);
	ka = gguf_find_key(a, "tokenizer.ggml.scores");
	kb = gguf_find_key(b, "tokenizer.ggml.scores");
	assert_true(ka >= 0 && kb >= 0);
	assert_int_equal(gguf_kv_arr_len(a, (size_t)ka), 512);
	assert_int_equal(gguf_kv_arr_len(b, (size_t)kb), 512);
	assert_memory_equal(gguf_arr_data(a, (size_t)ka), gguf_arr_data(b, (size_t)kb), 512 * 4);
	ka = gguf_find_key(a, "tokenizer.ggml.tokens");
	kb = gguf_find_key(b, "tokenizer.ggml.tokens");
	for (uint64_t j = 0; j < 512; j++) {
		struct gguf_str s = gguf_arr_str(a, (size_t)ka, j), t = gguf_arr_str(b, (size_t)kb, j);

		assert_int_equal(s.len, t.len);
		assert_memory_equal(s.ptr, t.ptr, (size_t)s.len);
	}
	gguf_close(a);
	gguf_close(b);
}

/* qwen3moe-tiny (README 1): 4 experts x ffn 256, 2 used, n_embd 256, 2
 * layers, 4/2 heads of 64, q/k norms, tied, 512 tokens. */
static void test_qwen3moe(void **state)
{
	const char *files[] = { "models/qwen3moe-tiny-F16.gguf", "models/qwen3moe-tiny-Q4_K_M.gguf" };
	const uint64_t E = 256, L = 2, H = 4, KV = 2, HD = 64, X = 4, FF = 256, V = 512;
	uint64_t attn = E * H * HD + 2 * E * KV * HD + H * HD * E;
	uint64_t norms = E + E + 2 * HD; /* attn_norm, ffn_norm, q_norm, k_norm */
	uint64_t experts = 3 * X * E * FF;
	uint64_t params = V * E + E + L * (attn + norms + E * X + experts);

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct gguf_file *f = open_data(files[i]);
		struct engine_model_info mi;
		const struct gguf_tensor *t;

		assert_int_equal(engine_model_info(&mi, f), 0);
		assert_string_equal(mi.arch, "qwen3moe");
		assert_int_equal(mi.expert_count, X);
		assert_int_equal(mi.expert_used_count, 2);
		assert_int_equal(mi.block_count, L);
		assert_int_equal(mi.n_params, params);
		assert_null(gguf_tensor_find(f, "output.weight")); /* tied */
		t = gguf_tensor_find(f, "blk.1.ffn_up_exps.weight");
		assert_non_null(t);
		assert_int_equal(t->n_dims, 3);
		assert_int_equal(t->ne[2], X);
		if (i == 0) {
			/* F16 matrices, F32 norms and router; tied: all of
			 * token_embd is read; half of the experts */
			uint64_t bpt = 2 * V * E + 4 * E +
				       L * (2 * attn + 4 * norms + 4 * E * X + 2 * experts / 2);

			assert_string_equal(mi.file_type_name, "MOSTLY_F16");
			assert_int_equal(mi.bytes_per_token, bpt);
			assert_int_equal(mi.types[QT_F16].n_elements, V * E + L * (attn + experts));
		} else {
			assert_string_equal(mi.file_type_name, "MOSTLY_Q4_K_M");
		}
		gguf_close(f);
	}
}

/* llama-tiny Q4_K_M (README 1): Q4_K, with Q6_K for output, blk.1 attn_v
 * and ffn_down; norms F32. */
static void test_model_info_types(void **state)
{
	struct gguf_file *f = open_data("models/llama-tiny-Q4_K_M.gguf");
	struct engine_model_info mi;

	(void)state;
	assert_int_equal(engine_model_info(&mi, f), 0);
	assert_int_equal(mi.file_type, 15);
	assert_string_equal(mi.file_type_name, "MOSTLY_Q4_K_M");
	assert_int_equal(mi.types[QT_Q6_K].n_tensors, 3);
	assert_int_equal(mi.types[QT_F32].n_tensors, 5);
	assert_int_equal(mi.types[QT_Q4_K].n_tensors, 13);
	assert_int_equal(mi.types[QT_Q4_K].n_bytes, mi.types[QT_Q4_K].n_elements / 256 * 144);
	assert_int_equal(mi.types[QT_Q6_K].n_bytes, mi.types[QT_Q6_K].n_elements / 256 * 210);
	assert_int_equal(mi.context_length, 2048);
	gguf_close(f);

	assert_string_equal(engine_file_type_name(0), "ALL_F32");
	assert_string_equal(engine_file_type_name(32), "MOSTLY_BF16");
	assert_null(engine_file_type_name(5));
	assert_null(engine_file_type_name(-1));
	assert_null(engine_file_type_name(1000));
}

/* ==== hand-made corrupt files =========================================== */

static void test_bad_header(void **state)
{
	struct rawf b = { 0 };
	uint8_t small[8] = { 'G', 'G', 'U', 'F', 3, 0 };

	(void)state;
	expect_fail(small, 6, ENGINE_EFORMAT, "too small", "header", NULL);
	expect_fail(small, 0, ENGINE_EFORMAT, "too small", NULL);

	rf_header(&b, 3, 0, 0);
	memcpy(b.p, "GGUG", 4);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "bad magic", "not a GGUF file", NULL);
	memcpy(b.p, "GGUF", 4);

	/* truncated right after the version */
	expect_fail(b.p, 12, ENGINE_EFORMAT, "truncated", "tensor count", NULL);

	b.p[4] = 0;
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "bad version 0", NULL);
	b.p[4] = 4;
	expect_fail(b.p, b.len, ENGINE_EUNSUPPORTED, "version 4", NULL);
	b.p[4] = 0xff;
	b.p[7] = 0x7f;
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "version", NULL);
	/* a byte-swapped version is a big-endian file */
	b.p[4] = 0;
	b.p[7] = 3;
	expect_fail(b.p, b.len, ENGINE_EUNSUPPORTED, "big-endian", NULL);
	free(b.p);
}

static void test_bad_counts(void **state)
{
	struct rawf b = { 0 };

	(void)state;
	rf_header(&b, 3, 0, UINT64_MAX / 2);
	rf_kv_str(&b, "general.architecture", "test");
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "metadata kv count", "does not fit", NULL);
	free(b.p);

	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 1ull << 40, 1);
	rf_kv_str(&b, "general.architecture", "test");
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "tensor count", "does not fit", NULL);
	free(b.p);

	/* v1: 32-bit counts */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 1, 0, 0xffffffffu);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "metadata kv count", NULL);
	free(b.p);
}

static void test_bad_strings(void **state)
{
	struct rawf b = { 0 };

	(void)state;
	/* huge string length in a value */
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "general.name");
	rf_u32(&b, GGUF_VT_STRING);
	rf_u64(&b, UINT64_MAX - 3);
	rf_put(&b, "abc", 3);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "string value length", "key 'general.name'", NULL);
	free(b.p);

	/* truncated in the middle of a string */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_kv_str(&b, "general.name", "a long enough name");
	expect_fail(b.p, b.len - 5, ENGINE_EFORMAT, "exceeds", "key 'general.name'", NULL);
	/* ... and in the middle of the key */
	expect_fail(b.p, 24 + 8 + 6, ENGINE_EFORMAT, "key length 12 exceeds the 6 bytes left",
		    "kv 0", NULL);
	free(b.p);

	/* empty key; key with a NUL; key too long */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_kv_u32(&b, "", 1);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "empty key", NULL);
	free(b.p);

	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_u64(&b, 5);
	rf_put(&b, "ab\0cd", 5);
	rf_u32(&b, GGUF_VT_UINT8);
	rf_le(&b, 1, 1);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "NUL byte", "key 'ab?cd'", NULL);
	free(b.p);

	{
		char *k = malloc(70000);

		memset(k, 'k', 69999);
		k[69999] = '\0';
		memset(&b, 0, sizeof(b));
		rf_header(&b, 3, 0, 1);
		rf_kv_u32(&b, k, 1);
		expect_fail(b.p, b.len, ENGINE_EFORMAT, "key is 69999 bytes long", "kkk...'", NULL);
		free(b.p);
		free(k);
	}
}

static void test_bad_values(void **state)
{
	struct rawf b = { 0 };

	(void)state;
	/* unknown value type */
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.type");
	rf_u32(&b, 13);
	rf_u32(&b, 0);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "unknown value type 13", "key 'x.type'", NULL);
	free(b.p);

	/* bool that is not 0/1 */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.flag");
	rf_u32(&b, GGUF_VT_BOOL);
	rf_le(&b, 2, 1);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "bool value 2", "key 'x.flag'", NULL);
	free(b.p);

	/* array: unknown element type */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.arr");
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u32(&b, 77);
	rf_u64(&b, 0);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "unknown array element type 77", "key 'x.arr'", NULL);
	free(b.p);

	/* array: more elements than bytes */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.arr");
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u32(&b, GGUF_VT_UINT32);
	rf_u64(&b, 1ull << 61);
	rf_u32(&b, 7);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "does not fit", "key 'x.arr'", NULL);
	free(b.p);

	/* array of strings: a huge count */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "tokenizer.ggml.tokens");
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u32(&b, GGUF_VT_STRING);
	rf_u64(&b, UINT64_MAX);
	rf_str(&b, "a");
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "does not fit", "key 'tokenizer.ggml.tokens'", NULL);
	free(b.p);

	/* bool array with a bad element */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.bools");
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u32(&b, GGUF_VT_BOOL);
	rf_u64(&b, 3);
	rf_le(&b, 0x000301, 3);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "bool array element 1 is 3", "key 'x.bools'", NULL);
	free(b.p);
}

static void nested(struct rawf *b, int depth)
{
	/* an array of one array of one ... of one uint8 */
	rf_u32(b, depth > 0 ? GGUF_VT_ARRAY : GGUF_VT_UINT8);
	rf_u64(b, 1);
	if (depth > 0)
		nested(b, depth - 1);
	else
		rf_le(b, 1, 1);
}

static void test_nested_arrays(void **state)
{
	struct rawf b = { 0 };
	struct gguf_file *f = NULL;

	(void)state;
	/* 8 levels of arrays are accepted */
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.nest");
	rf_u32(&b, GGUF_VT_ARRAY);
	nested(&b, 7);
	assert_int_equal(gguf_open_mem(&f, b.p, b.len, "ok.gguf"), 0);
	assert_int_equal(gguf_kv_arr_type(f, 0), GGUF_VT_ARRAY);
	assert_int_equal(gguf_kv_arr_len(f, 0), 1);
	assert_null(gguf_arr_data(f, 0));
	assert_int_equal(gguf_arr_int(f, 0, 0), 0);
	gguf_close(f);
	free(b.p);

	/* 9 are not */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.nest");
	rf_u32(&b, GGUF_VT_ARRAY);
	nested(&b, 8);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "nested deeper than 8", "key 'x.nest'", NULL);
	free(b.p);

	/* a nested array whose inner count lies */
	memset(&b, 0, sizeof(b));
	rf_header(&b, 3, 0, 1);
	rf_str(&b, "x.nest");
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u32(&b, GGUF_VT_ARRAY);
	rf_u64(&b, 1);
	rf_u32(&b, GGUF_VT_INT16);
	rf_u64(&b, 1000);
	rf_le(&b, 0, 2);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "does not fit", "key 'x.nest'", NULL);
	free(b.p);
}

static void test_duplicate_key(void **state)
{
	struct rawf b = { 0 };

	(void)state;
	rf_header(&b, 3, 0, 3);
	rf_kv_u32(&b, "dup.key", 1);
	rf_kv_str(&b, "general.architecture", "llama");
	rf_kv_u32(&b, "dup.key", 2);
	expect_fail(b.p, b.len, ENGINE_EFORMAT, "duplicate key 'dup.key'", NULL);
	free(b.p);
}

static void test_bad_alignment(void **state)
{
	const uint32_t bad[] = { 0, 3, 48, 1u << 31 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rawf b = { 0 };
		char want[64];

		rf_header(&b, 3, 0, 1);
		rf_kv_u32(&b, "general.alignment", bad[i]);
		snprintf(want, sizeof(want), "alignment %u is not a power of two", bad[i]);
		expect_fail(b.p, b.len, ENGINE_EFORMAT, want, "key 'general.alignment'", NULL);
		free(b.p);
	}
	{
		struct rawf b = { 0 };

		rf_header(&b, 3, 0, 1);
		rf_kv_str(&b, "general.alignment", "32");
		expect_fail(b.p, b.len, ENGINE_EFORMAT, "key 'general.alignment' is a string", NULL);
		free(b.p);
	}
}

/* One tensor field wrong at a time, from a valid base. */
static void test_bad_tensors(void **state)
{
	struct tinfo t[2];
	struct rawf b;
	struct gguf_file *f = NULL;

	(void)state;
	base_tensors(t);
	b = build_tensors(t, 2, 64);
	assert_int_equal(gguf_open_mem(&f, b.p, b.len, "base.gguf"), 0);
	assert_int_equal(gguf_tensor_count(f), 2);
	assert_int_equal(gguf_tensor_find(f, "b")->nbytes, 32);
	gguf_close(f);
	/* one byte short: b ends past EOF */
	expect_fail(b.p, b.len - 1, ENGINE_EFORMAT, "past the end", "tensor 'b'", NULL);
	free(b.p);

#define BAD(field_set, code, ...)                                  \
	do {                                                       \
		base_tensors(t);                                   \
		field_set;                                         \
		b = build_tensors(t, 2, 64);                       \
		expect_fail(b.p, b.len, code, __VA_ARGS__, NULL);  \
		free(b.p);                                         \
	} while (0)

	BAD(t[1].n_dims = 0, ENGINE_EFORMAT, "n_dims 0 is not in 1..4", "tensor 'b'");
	BAD((t[1].n_dims = 5, t[1].ne[2] = t[1].ne[3] = t[1].ne[4] = 1), ENGINE_EFORMAT,
	    "n_dims 5", "tensor 'b'");
	BAD(t[1].ne[1] = 0, ENGINE_EFORMAT, "dimension 1 is 0, not positive", "tensor 'b'");
	BAD(t[0].ne[0] = UINT64_MAX, ENGINE_EFORMAT, "dimension 0 is -1, not positive",
	    "tensor 'a'");
	BAD((t[1].ne[0] = 1ull << 32, t[1].ne[1] = 1ull << 32), ENGINE_EFORMAT,
	    "element count overflows", "tensor 'b'");
	BAD((t[1].n_dims = 4, t[1].ne[0] = 1ull << 20, t[1].ne[1] = 1ull << 20,
	     t[1].ne[2] = 1ull << 20, t[1].ne[3] = 2), ENGINE_EFORMAT, "overflows", "tensor 'b'");
	/* 2^61 elements of F32 is 2^63 bytes */
	BAD((t[1].ne[0] = 1ull << 31, t[1].ne[1] = 1ull << 30), ENGINE_EFORMAT,
	    "byte size overflows", "tensor 'b'");
	BAD(t[0].type = 99, ENGINE_EFORMAT, "unknown tensor type 99", "tensor 'a'");
	BAD(t[0].type = 31, ENGINE_EFORMAT, "unknown tensor type 31", "tensor 'a'");
	BAD(t[0].type = 16, ENGINE_EUNSUPPORTED, "IQ2_XXS (16) is not supported", "tensor 'a'");
	BAD((t[1].type = QT_Q4_0, t[1].ne[0] = 48, t[1].ne[1] = 1), ENGINE_EFORMAT,
	    "ne[0] 48 is not a multiple of the Q4_0 block size 32", "tensor 'b'");
	BAD(t[1].offset = 16, ENGINE_EFORMAT, "offset 16 is not a multiple of the alignment 32",
	    "tensor 'b'");
	BAD(t[1].offset = 0, ENGINE_EFORMAT, "overlaps tensor", "tensor 'b'");
	BAD((t[0].ne[0] = 16, t[1].offset = 32), ENGINE_EFORMAT, "overlaps tensor 'a'",
	    "tensor 'b'");
	BAD(t[1].offset = 64, ENGINE_EFORMAT, "past the end", "tensor 'b'");
	BAD(t[1].offset = UINT64_MAX - 31, ENGINE_EFORMAT, "past the end", "tensor 'b'");
	BAD(t[1].name = "a", ENGINE_EFORMAT, "duplicate tensor name", "tensor 'a'");
	BAD(t[1].name = "", ENGINE_EFORMAT, "empty tensor name");
	BAD((t[1].name = "a\nb", t[1].offset = 64), ENGINE_EFORMAT, "tensor 'a?b'", "past the end");
#undef BAD

	/* a tensor info cut off in the middle */
	base_tensors(t);
	b = build_tensors(t, 1, 32);
	expect_fail(b.p, 24 + 8 + 20 + 4 + 8 + 4 + 8 + 1 + 4 + 8 + 1, ENGINE_EFORMAT,
		    "truncated: tensor type needs 4 bytes, 1 left", "tensor 'a'", NULL);
	free(b.p);
}

/* A v1 file with 32-bit lengths and dims, and alignment 64. */
static void test_v1_and_alignment(void **state)
{
	struct rawf b = { 0 };
	struct tinfo t = { "w", 2, { 32, 2 }, QT_Q8_0, 0 };
	struct gguf_file *f = NULL;

	(void)state;
	rf_header(&b, 1, 1, 2);
	rf_kv_str(&b, "general.architecture", "llama");
	rf_kv_u32(&b, "general.alignment", 64);
	rf_tinfo(&b, &t);
	rf_pad(&b, 64);
	for (int i = 0; i < 68; i++)
		rf_le(&b, (uint64_t)i, 1);
	assert_int_equal(gguf_open_mem(&f, b.p, b.len, "v1.gguf"), 0);
	assert_int_equal(gguf_version(f), 1);
	assert_int_equal(gguf_alignment(f), 64);
	assert_int_equal(gguf_data_offset(f) % 64, 0);
	assert_int_equal(gguf_tensor_at(f, 0)->nbytes, 68);
	assert_int_equal(((const uint8_t *)gguf_tensor_at(f, 0)->data)[67], 67);
	assert_int_equal(gguf_get_str(f, "general.architecture", NULL).len, 5);
	assert_string_equal(gguf_name(f), "v1.gguf");
	gguf_close(f);
	free(b.p);
}

/* Every prefix of a valid file fails cleanly; no byte flip crashes. */
static void test_truncations_and_flips(void **state)
{
	struct gguf_writer *w;
	void *buf;
	size_t n;
	uint8_t *p;
	static const float data[64];
	const int64_t ne[2] = { 32, 2 };
	const char *toks[] = { "a", "bb", "ccc" };

	(void)state;
	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_add_str(w, "general.architecture", "llama"), 0);
	assert_int_equal(gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "x", QT_F32, 2, ne, data), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "y", QT_Q8_0, 2, ne, NULL), 0);
	assert_int_equal(gguf_writer_write_mem(w, &buf, &n), 0);
	gguf_writer_free(w);
	for (size_t len = 0; len < n; len++) {
		struct gguf_file *f = NULL;

		assert_true(gguf_open_mem(&f, buf, len, "cut.gguf") < 0);
		assert_null(f);
	}
	p = malloc(n);
	for (size_t i = 0; i < n && i < 400; i++)
		for (int bit = 0; bit < 8; bit++) {
			struct gguf_file *f = NULL;
			struct engine_model_info mi;

			memcpy(p, buf, n);
			p[i] ^= (uint8_t)(1u << bit);
			if (gguf_open_mem(&f, p, n, "flip.gguf") == 0) {
				engine_model_info(&mi, f);
				gguf_close(f);
			}
		}
	free(p);
	free(buf);
}

/* ==== writer ============================================================ */

static void test_writer_roundtrip(void **state)
{
	struct gguf_writer *w;
	struct gguf_file *f = NULL;
	void *buf;
	size_t n;
	uint8_t u8 = 200;
	int8_t i8 = -100;
	uint16_t u16 = 60000;
	int16_t i16 = -30000;
	int64_t i64 = -5000000000ll;
	double f64 = 2.5e100;
	const int32_t ia[] = { -1, 0, 7, INT32_MAX };
	const bool ba[] = { true, false, true };
	const double da[] = { 0.5, -1e300 };
	const char *sa[] = { "", "hello", "wörld" };
	float f32data[64 * 3];
	uint8_t q8[2 * 34], q4k[144];
	const int64_t ne_f32[3] = { 64, 1, 3 }, ne_q8[2] = { 32, 2 }, ne_q4k[1] = { 256 };
	int err = 0;
	int64_t k;

	(void)state;
	for (int i = 0; i < 64 * 3; i++)
		f32data[i] = (float)i * 0.25f;
	for (size_t i = 0; i < sizeof(q8); i++)
		q8[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(q4k); i++)
		q4k[i] = (uint8_t)(255 - i);

	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_set_alignment(w, 64), 0);
	assert_int_equal(gguf_writer_add_str(w, "general.architecture", "llama"), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.u8", GGUF_VT_UINT8, &u8), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.i8", GGUF_VT_INT8, &i8), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.u16", GGUF_VT_UINT16, &u16), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.i16", GGUF_VT_INT16, &i16), 0);
	assert_int_equal(gguf_writer_add_u32(w, "t.u32", 4000000000u), 0);
	assert_int_equal(gguf_writer_add_i32(w, "t.i32", -7), 0);
	assert_int_equal(gguf_writer_add_f32(w, "t.f32", 1.5f), 0);
	assert_int_equal(gguf_writer_add_bool(w, "t.bool", true), 0);
	assert_int_equal(gguf_writer_add_u64(w, "t.u64", UINT64_MAX), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.i64", GGUF_VT_INT64, &i64), 0);
	assert_int_equal(gguf_writer_add_val(w, "t.f64", GGUF_VT_FLOAT64, &f64), 0);
	assert_int_equal(gguf_writer_add_strn(w, "t.bin", "a\0b", 3), 0);
	assert_int_equal(gguf_writer_add_arr(w, "t.ia", GGUF_VT_INT32, ia, 4), 0);
	assert_int_equal(gguf_writer_add_arr(w, "t.ba", GGUF_VT_BOOL, ba, 3), 0);
	assert_int_equal(gguf_writer_add_arr(w, "t.da", GGUF_VT_FLOAT64, da, 2), 0);
	assert_int_equal(gguf_writer_add_arr(w, "t.empty", GGUF_VT_UINT8, NULL, 0), 0);
	assert_int_equal(gguf_writer_add_arr_str(w, "t.sa", sa, 3), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "f32", QT_F32, 3, ne_f32, f32data), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "q8", QT_Q8_0, 2, ne_q8, q8), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "q4k", QT_Q4_K, 1, ne_q4k, q4k), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "zeros", QT_F16, 1, ne_q4k, NULL), 0);
	/* refused by the writer */
	assert_int_equal(gguf_writer_add_tensor(w, "bad", QT_Q4_K, 1, ne_q8, q4k), ENGINE_EINVAL);
	assert_int_equal(gguf_writer_add_tensor(w, "bad", (enum quant_type)99, 1, ne_q8, q4k),
			 ENGINE_EINVAL);
	assert_int_equal(gguf_writer_add_val(w, "bad", GGUF_VT_STRING, "x"), ENGINE_EINVAL);
	assert_int_equal(gguf_writer_set_alignment(w, 12), ENGINE_EINVAL);
	assert_int_equal(gguf_writer_write_mem(w, &buf, &n), 0);
	gguf_writer_free(w);

	assert_int_equal(gguf_open_mem(&f, buf, n, "rt.gguf"), 0);
	assert_int_equal(gguf_version(f), 3);
	assert_int_equal(gguf_alignment(f), 64);
	assert_int_equal(gguf_kv_count(f), 19);
	assert_string_equal(gguf_kv_key(f, 0), "general.alignment");
	assert_int_equal(gguf_get_u64(f, "t.u8", 0, &err), 200);
	assert_int_equal(gguf_get_i64(f, "t.i8", 0, &err), -100);
	assert_int_equal(gguf_get_u32(f, "t.u16", 0, &err), 60000);
	assert_int_equal(gguf_get_i64(f, "t.i16", 0, &err), -30000);
	assert_int_equal(gguf_get_u32(f, "t.u32", 0, &err), 4000000000u);
	assert_int_equal(gguf_get_i64(f, "t.i32", 0, &err), -7);
	assert_float_equal(gguf_get_f32(f, "t.f32", 0, &err), 1.5, 0);
	assert_true(gguf_get_bool(f, "t.bool", false, &err));
	assert_true(gguf_get_u64(f, "t.u64", 0, &err) == UINT64_MAX);
	assert_true(gguf_get_i64(f, "t.i64", 0, &err) == i64);
	assert_true(gguf_get_f64(f, "t.f64", 0, &err) == f64);
	assert_true(gguf_get_f64(f, "t.i16", 0, &err) == -30000.0);
	assert_int_equal(gguf_get_str(f, "t.bin", &err).len, 3);
	assert_memory_equal(gguf_get_str(f, "t.bin", &err).ptr, "a\0b", 3);
	assert_int_equal(err, 0);

	k = gguf_find_key(f, "t.ia");
	assert_int_equal(gguf_kv_type(f, (size_t)k), GGUF_VT_ARRAY);
	assert_int_equal(gguf_kv_arr_type(f, (size_t)k), GGUF_VT_INT32);
	assert_int_equal(gguf_kv_arr_len(f, (size_t)k), 4);
	assert_int_equal(gguf_arr_int(f, (size_t)k, 0), -1);
	assert_int_equal(gguf_arr_int(f, (size_t)k, 3), INT32_MAX);
	assert_int_equal(gguf_arr_int(f, (size_t)k, 4), 0);
	assert_float_equal(gguf_arr_float(f, (size_t)k, 2), 7.0, 0);
	assert_null(gguf_arr_str(f, (size_t)k, 0).ptr);
	assert_memory_equal(gguf_arr_data(f, (size_t)k), ia, sizeof(ia));
	k = gguf_find_key(f, "t.ba");
	assert_int_equal(gguf_arr_int(f, (size_t)k, 0), 1);
	assert_int_equal(gguf_arr_int(f, (size_t)k, 1), 0);
	k = gguf_find_key(f, "t.da");
	assert_true(gguf_arr_float(f, (size_t)k, 1) == -1e300);
	assert_int_equal(gguf_arr_int(f, (size_t)k, 1), 0);
	k = gguf_find_key(f, "t.empty");
	assert_int_equal(gguf_kv_arr_len(f, (size_t)k), 0);
	k = gguf_find_key(f, "t.sa");
	assert_int_equal(gguf_kv_arr_type(f, (size_t)k), GGUF_VT_STRING);
	assert_null(gguf_arr_data(f, (size_t)k));
	assert_int_equal(gguf_arr_str(f, (size_t)k, 0).len, 0);
	assert_int_equal(gguf_arr_str(f, (size_t)k, 2).len, strlen("wörld"));
	assert_memory_equal(gguf_arr_str(f, (size_t)k, 1).ptr, "hello", 5);
	/* a scalar is not an array */
	assert_null(gguf_arr_str(f, (size_t)gguf_find_key(f, "t.u8"), 0).ptr);
	assert_int_equal(gguf_find_key(f, "t.nope"), -1);
	assert_int_equal(gguf_find_key(f, NULL), -1);

	assert_int_equal(gguf_tensor_count(f), 4);
	{
		const struct gguf_tensor *t = gguf_tensor_find(f, "f32");

		assert_int_equal(t->n_dims, 3);
		assert_int_equal(t->ne[2], 3);
		assert_int_equal(t->ne[3], 1);
		assert_int_equal(t->nbytes, sizeof(f32data));
		assert_memory_equal(t->data, f32data, sizeof(f32data));
		assert_int_equal(t->offset % 64, 0);
		t = gguf_tensor_find(f, "q8");
		assert_int_equal(t->type, QT_Q8_0);
		assert_int_equal(t->nbytes, sizeof(q8));
		assert_memory_equal(t->data, q8, sizeof(q8));
		assert_int_equal(t->offset % 64, 0);
		t = gguf_tensor_find(f, "q4k");
		assert_int_equal(t->nbytes, sizeof(q4k));
		assert_memory_equal(t->data, q4k, sizeof(q4k));
		t = gguf_tensor_find(f, "zeros");
		assert_int_equal(t->nbytes, 512);
		for (int i = 0; i < 512; i++)
			assert_int_equal(((const uint8_t *)t->data)[i], 0);
	}
	gguf_close(f);
	free(buf);
}

static void test_writer_file(void **state)
{
	char dir[] = "/tmp/test_gguf.XXXXXX", path[256];
	struct gguf_writer *w;
	struct gguf_file *f = NULL;
	const int64_t ne[1] = { 32 };
	float x[32] = { 1.0f };
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.gguf", dir);
	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_add_str(w, "general.architecture", "llama"), 0);
	assert_int_equal(gguf_writer_add_tensor(w, "x", QT_F32, 1, ne, x), 0);
	assert_int_equal(gguf_writer_write(w, path), 0);
	/* writing again replaces the file */
	assert_int_equal(gguf_writer_write(w, path), 0);
	gguf_writer_free(w);
	assert_int_equal(gguf_open(&f, path), 0);
	assert_float_equal(((const float *)gguf_tensor_find(f, "x")->data)[0], 1.0, 0);
	gguf_close(f);
	/* no temporary file is left behind */
	d = opendir(dir);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			files++;
	closedir(d);
	assert_int_equal(files, 1);

	/* an unwritable place fails with EIO and a message */
	assert_int_equal(gguf_writer_new(&w), 0);
	snprintf(path, sizeof(path), "%s/no/such/dir/m.gguf", dir);
	assert_int_equal(gguf_writer_write(w, path), ENGINE_EIO);
	assert_msg("no/such/dir");
	gguf_writer_free(w);

	snprintf(path, sizeof(path), "%s/m.gguf", dir);
	unlink(path);
	assert_int_equal(gguf_open(&f, path), ENGINE_EIO);
	assert_msg("cannot open");
	assert_int_equal(gguf_open(&f, dir), ENGINE_EIO);
	assert_msg("not a regular file");
	rmdir(dir);
}

/* Getter type errors name the key; *err is untouched on success. */
static void test_getters(void **state)
{
	struct gguf_file *f = open_data("models/llama-tiny-Q4_K_M.gguf");
	int err = 0;

	(void)state;
	assert_int_equal(gguf_get_u32(f, "missing.key", 42, &err), 42);
	assert_int_equal(err, 0);
	assert_null(gguf_get_str(f, "missing.key", &err).ptr);
	assert_int_equal(err, 0);
	assert_int_equal(gguf_get_u32(f, "general.architecture", 7, &err), 7);
	assert_int_equal(err, ENGINE_EFORMAT);
	assert_msg("key 'general.architecture' is a string, expected an integer");
	assert_msg("llama-tiny-Q4_K_M.gguf");
	err = 0;
	assert_null(gguf_get_str(f, "llama.block_count", &err).ptr);
	assert_int_equal(err, ENGINE_EFORMAT);
	assert_msg("key 'llama.block_count' is a uint32, expected a string");
	err = 0;
	assert_false(gguf_get_bool(f, "llama.block_count", false, &err));
	assert_int_equal(err, ENGINE_EFORMAT);
	err = 0;
	assert_true(gguf_get_f64(f, "tokenizer.ggml.tokens", 1.0, &err) == 1.0);
	assert_int_equal(err, ENGINE_EFORMAT);
	assert_msg("is a array");
	/* NULL err is allowed */
	assert_int_equal(gguf_get_u64(f, "general.architecture", 3, NULL), 3);
	gguf_close(f);

	{
		struct rawf b = { 0 };

		rf_header(&b, 3, 0, 2);
		rf_str(&b, "neg");
		rf_u32(&b, GGUF_VT_INT32);
		rf_u32(&b, (uint32_t)-5);
		rf_str(&b, "big");
		rf_u32(&b, GGUF_VT_UINT64);
		rf_u64(&b, 1ull << 40);
		assert_int_equal(gguf_open_mem(&f, b.p, b.len, "g.gguf"), 0);
		err = 0;
		assert_int_equal(gguf_get_u64(f, "neg", 9, &err), 9);
		assert_int_equal(err, ENGINE_EFORMAT);
		assert_msg("key 'neg' is -5, does not fit uint64");
		err = 0;
		assert_int_equal(gguf_get_u32(f, "big", 9, &err), 9);
		assert_int_equal(err, ENGINE_EFORMAT);
		assert_msg("key 'big' is 1099511627776, does not fit uint32");
		err = 0;
		assert_int_equal(gguf_get_i64(f, "neg", 0, &err), -5);
		assert_true(gguf_get_u64(f, "big", 0, &err) == 1ull << 40);
		assert_int_equal(err, 0);
		gguf_close(f);
		free(b.p);
	}
	gguf_close(NULL);
	assert_int_equal(gguf_open_mem(NULL, "", 0, NULL), ENGINE_EINVAL);
}

/* Model info over per-layer arrays and a bad tokens key. */
static void test_model_info_edge(void **state)
{
	struct gguf_writer *w;
	struct gguf_file *f = NULL;
	struct engine_model_info mi;
	const uint32_t heads[] = { 4, 8, 2 };
	void *buf;
	size_t n;

	(void)state;
	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_add_str(w, "general.architecture", "x\ny"), 0);
	assert_int_equal(gguf_writer_add_arr(w, "x\ny.attention.head_count", GGUF_VT_UINT32, heads, 3), 0);
	assert_int_equal(gguf_writer_add_u32(w, "tokenizer.ggml.tokens", 5), 0);
	assert_int_equal(gguf_writer_write_mem(w, &buf, &n), 0);
	gguf_writer_free(w);
	assert_int_equal(gguf_open_mem(&f, buf, n, "mi.gguf"), 0);
	assert_int_equal(engine_model_info(&mi, f), ENGINE_EFORMAT);
	assert_msg("key 'tokenizer.ggml.tokens' is a uint32, expected an array");
	assert_string_equal(mi.arch, "x?y");
	gguf_close(f);
	free(buf);

	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_add_str(w, "general.architecture", "x"), 0);
	assert_int_equal(gguf_writer_add_arr(w, "x.attention.head_count", GGUF_VT_UINT32, heads, 3), 0);
	assert_int_equal(gguf_writer_add_str(w, "tokenizer.chat_template", "{{x}}"), 0);
	assert_int_equal(gguf_writer_write_mem(w, &buf, &n), 0);
	gguf_writer_free(w);
	assert_int_equal(gguf_open_mem(&f, buf, n, "mi.gguf"), 0);
	assert_int_equal(engine_model_info(&mi, f), 0);
	assert_int_equal(mi.head_count, 8);
	assert_true(mi.has_chat_template);
	assert_int_equal(mi.n_tensors, 0);
	assert_int_equal(mi.bytes_per_token, 0);
	gguf_close(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_models_open),
		cmocka_unit_test(test_all_vocabs_open),
		cmocka_unit_test(test_stories260k),
		cmocka_unit_test(test_v1_same_as_v3),
		cmocka_unit_test(test_qwen3moe),
		cmocka_unit_test(test_model_info_types),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_counts),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_nested_arrays),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_bad_alignment),
		cmocka_unit_test(test_bad_tensors),
		cmocka_unit_test(test_v1_and_alignment),
		cmocka_unit_test(test_truncations_and_flips),
		cmocka_unit_test(test_writer_roundtrip),
		cmocka_unit_test(test_writer_file),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_model_info_edge),
	};

	return cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
}
