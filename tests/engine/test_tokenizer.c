/* test_tokenizer.c - tokenizers against llama.cpp's published vectors.
 *
 * The reference: for every vocab in $HALO_TESTDATA/vocab with .inp/.out
 * files, each text encoded with add_special = false, parse_special = false
 * must give exactly the ids of the .out line (made by the Hugging Face
 * tokenizers).  Every mismatch is printed (vocab, case, text, expected,
 * got) before the test fails.  Then the properties: lossless round trips
 * where the tokenizer is lossless, a streaming decoder that never emits
 * broken UTF-8 and loses nothing, BOS/EOS/CLS/SEP when asked, special-token
 * parsing, and refusal of vocabs we cannot run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

#define SEP "\n__ggml_vocab_test__\n"
#define MAX_CASES 256

static const char *const vocabs[] = {
	"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2",
	"deepseek-llm", "falcon", "starcoder", "bert-bge",
};
#define N_VOCABS (sizeof(vocabs) / sizeof(vocabs[0]))

/* ==== helpers =========================================================== */

static const char *testdata(void)
{
	const char *e = getenv("HALO_TESTDATA");
	return e && *e ? e : "../shared/testdata";
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static struct tok_vocab *loaded[N_VOCABS];

static struct tok_vocab *load_path(const char *path)
{
	struct gguf_file *f = NULL;
	struct tok_vocab *v = NULL;
	int rc = gguf_open(&f, path);

	if (rc) {
		print_error("gguf_open(%s): %s\n", path, engine_errmsg());
		fail();
	}
	rc = tok_vocab_load(&v, f);
	gguf_close(f); /* the vocab must not need the file afterwards */
	if (rc) {
		print_error("tok_vocab_load(%s): %s\n", path, engine_errmsg());
		fail();
	}
	return v;
}

static struct tok_vocab *vocab(const char *name)
{
	for (size_t i = 0; i < N_VOCABS; i++) {
		if (strcmp(vocabs[i], name))
			continue;
		if (!loaded[i]) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/vocab/ggml-vocab-%s.gguf", testdata(), name);
			loaded[i] = load_path(path);
		}
		return loaded[i];
	}
	fail_msg("unknown vocab %s", name);
	return NULL;
}

static int teardown_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_VOCABS; i++) {
		tok_vocab_free(loaded[i]);
		loaded[i] = NULL;
	}
	return 0;
}

/* The test texts of a vocab: pointers into *buf (freed by the caller). */
struct cases {
	char *inp, *out;
	const char *text[MAX_CASES];
	size_t len[MAX_CASES];
	const char *expect[MAX_CASES]; /* NUL-terminated lines of .out */
	size_t n;
};

static void cases_load(struct cases *c, const char *name)
{
	char path[4096];
	size_t ilen, olen;
	char *p, *end, *line;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/vocab/ggml-vocab-%s.gguf.inp", testdata(), name);
	c->inp = read_all(path, &ilen);
	assert_non_null(c->inp);
	snprintf(path, sizeof(path), "%s/vocab/ggml-vocab-%s.gguf.out", testdata(), name);
	c->out = read_all(path, &olen);
	assert_non_null(c->out);
	p = c->inp;
	end = c->inp + ilen;
	while (p < end) {
		char *s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		assert_non_null(s); /* every text is followed by the separator */
		assert_true(c->n < MAX_CASES);
		c->text[c->n] = p;
		c->len[c->n] = (size_t)(s - p);
		c->n++;
		p = s + strlen(SEP);
	}
	line = c->out;
	for (size_t i = 0; i < c->n; i++) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = 0;
		c->expect[i] = line;
		line = nl + 1;
	}
}

static void cases_free(struct cases *c)
{
	free(c->inp);
	free(c->out);
}

static void ids_str(char *buf, size_t cap, const int32_t *ids, size_t n)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && o + 16 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, " %d", (int)ids[i]);
}

static void print_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n && i < 120; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			print_message("\\n");
		else if (c == '\t')
			print_message("\\t");
		else
			print_message("%c", c);
	}
	if (n > 120)
		print_message("...");
}

/* Whether s[0..n) is well-formed UTF-8. */
static bool utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t l;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			l = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			l = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			l = 4, cp = c & 0x07;
		else
			return false;
		if (i + l > n)
			return false;
		for (size_t k = 1; k < l; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + k] & 0x3F);
		}
		if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += l;
	}
	return true;
}

/* ==== the published vectors ============================================= */

static void test_vectors(void **state)
{
	size_t failures = 0;

	(void)state;
	for (size_t vi = 0; vi < N_VOCABS; vi++) {
		struct tok_vocab *v = vocab(vocabs[vi]);
		struct cases c;
		size_t pass = 0;

		cases_load(&c, vocabs[vi]);
		for (size_t i = 0; i < c.n; i++) {
			int32_t ids[4096];
			char got[65536];
			size_t n;
			int rc = tok_encode(v, c.text[i], c.len[i], false, false, ids, 4096, &n);
			if (rc == 0)
				ids_str(got, sizeof(got), ids, n);
			else
				snprintf(got, sizeof(got), "error %d: %s", rc, engine_errmsg());
			if (!strcmp(got, c.expect[i])) {
				pass++;
				continue;
			}
			failures++;
			print_message("MISMATCH %s case %zu text \"", vocabs[vi], i);
			print_text(c.text[i], c.len[i]);
			print_message("\"\n  expected:%s\n  got:     %s\n", c.expect[i], got);
		}
		print_message("vocab %-13s %zu/%zu\n", vocabs[vi], pass, c.n);
		assert_int_equal(c.n, 46);
		cases_free(&c);
	}
	assert_int_equal(failures, 0);
}

/* ==== round trips and streaming ========================================= */

/* Texts beyond the vectors: invalid UTF-8, lone continuation bytes, a
 * truncated sequence at the end, control bytes, a long run of spaces. */
static const char *const extra[] = {
	"caf\xc3\xa9 \xff\xfe bad \x80\x80 end",
	"trunc \xe2\x82",
	"\x01\x02\x1b[0m tabs\t\tand\r\nCRLF",
	"                                                                x",
	"emoji \xf0\x9f\xa6\x99\xf0\x9f\x98\x81 and \xe4\xb8\xad\xe6\x96\x87",
};

/* Whether every byte has a token: <0xXX> for SPM, GPT-2's byte character
 * (printable Latin-1 as itself, the rest from U+0100 up) for BPE. */
static bool all_bytes(struct tok_vocab *v)
{
	int next = 256;

	for (int b = 0; b < 256; b++) {
		char t[8];
		size_t n;
		if (tok_vocab_kind(v) == TOK_KIND_SPM) {
			n = (size_t)snprintf(t, sizeof(t), "<0x%02X>", b);
		} else {
			bool pr = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
			int cp = pr ? b : next++;
			if (cp < 0x80) {
				t[0] = (char)cp;
				n = 1;
			} else {
				t[0] = (char)(0xC0 | (cp >> 6));
				t[1] = (char)(0x80 | (cp & 0x3F));
				n = 2;
			}
		}
		if (tok_token_type(v, tok_find(v, t, n)) != (tok_vocab_kind(v) == TOK_KIND_SPM ?
							       TOK_TYPE_BYTE : TOK_TYPE_NORMAL))
			return false;
	}
	return true;
}

static void check_roundtrip(struct tok_vocab *v, const char *name, const char *s, size_t n)
{
	int32_t *ids;
	size_t nid;
	char *dec = malloc(n * 4 + 64);
	long dl;

	assert_non_null(dec);
	assert_int_equal(tok_encode_alloc(&ids, &nid, v, s, n, false, false), 0);
	dl = tok_decode(v, ids, nid, 0, dec, n * 4 + 64);
	if (dl != (long)n || memcmp(dec, s, n)) {
		print_message("ROUNDTRIP %s: \"", name);
		print_text(s, n);
		print_message("\" -> \"");
		print_text(dec, dl > 0 ? (size_t)dl : 0);
		print_message("\"\n");
		fail();
	}
	free(ids);
	free(dec);
}

static void test_roundtrip(void **state)
{
	/* WPM lowercases and drops spaces: not lossless, left out. */
	static const char *const lossless[] = {
		"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2",
		"deepseek-llm", "falcon", "starcoder",
	};

	(void)state;
	for (size_t vi = 0; vi < sizeof(lossless) / sizeof(lossless[0]); vi++) {
		struct tok_vocab *v = vocab(lossless[vi]);
		struct cases c;
		cases_load(&c, lossless[vi]);
		for (size_t i = 0; i < c.n; i++)
			check_roundtrip(v, lossless[vi], c.text[i], c.len[i]);
		for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
			/* some BPE vocabs lack tokens for bytes that never occur in
			 * UTF-8 (C0, C1, F5..FF): lossless for valid UTF-8 only */
			if (!all_bytes(v) && !utf8_ok(extra[i], strlen(extra[i])))
				continue;
			check_roundtrip(v, lossless[vi], extra[i], strlen(extra[i]));
		}
		cases_free(&c);
	}
}

/* Push ids one at a time: every chunk is valid UTF-8, and the chunks plus
 * the flush equal the whole decode (which is valid UTF-8 here). */
static void check_stream(struct tok_vocab *v, const char *s, size_t n)
{
	int32_t *ids;
	size_t nid, cap = tok_decoder_max_out(v), total = 0;
	char *chunk = malloc(cap), *all = malloc(n * 4 + 64), *ref = malloc(n * 4 + 64);
	struct tok_decoder d;
	long rl;

	assert_non_null(chunk);
	assert_non_null(all);
	assert_non_null(ref);
	assert_int_equal(tok_encode_alloc(&ids, &nid, v, s, n, false, false), 0);
	rl = tok_decode(v, ids, nid, 0, ref, n * 4 + 64);
	assert_true(rl >= 0);
	tok_decoder_init(&d, v, 0);
	for (size_t i = 0; i <= nid; i++) {
		size_t cl;
		if (i < nid)
			assert_int_equal(tok_decoder_push(&d, ids[i], chunk, cap, &cl), 0);
		else
			assert_int_equal(tok_decoder_flush(&d, chunk, cap, &cl), 0);
		assert_true(utf8_ok(chunk, cl));
		memcpy(all + total, chunk, cl);
		total += cl;
	}
	if (utf8_ok(ref, (size_t)rl)) {
		assert_int_equal(total, (size_t)rl);
		assert_memory_equal(all, ref, total);
	}
	free(ids);
	free(chunk);
	free(all);
	free(ref);
}

static void test_stream(void **state)
{
	(void)state;
	for (size_t vi = 0; vi < N_VOCABS; vi++) {
		struct tok_vocab *v = vocab(vocabs[vi]);
		struct cases c;
		cases_load(&c, vocabs[vi]);
		for (size_t i = 0; i < c.n; i++)
			check_stream(v, c.text[i], c.len[i]);
		for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
			check_stream(v, extra[i], strlen(extra[i]));
		cases_free(&c);
	}
}

/* A character split over byte-fallback tokens comes out only when whole;
 * a truncated one comes out as U+FFFD at the flush. */
static void test_stream_holds_partial(void **state)
{
	struct tok_vocab *v = vocab("llama-spm");
	struct tok_decoder d;
	char out[256];
	size_t n;
	int32_t b[4];
	const unsigned char llama[4] = {0xF0, 0x9F, 0xA6, 0x99}; /* U+1F999 */

	(void)state;
	assert_true(tok_decoder_max_out(v) <= sizeof(out));
	for (int i = 0; i < 4; i++) {
		char hex[8];
		snprintf(hex, sizeof(hex), "<0x%02X>", llama[i]);
		b[i] = tok_find(v, hex, 6);
		assert_int_not_equal(b[i], TOK_NULL);
	}
	tok_decoder_init(&d, v, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tok_decoder_push(&d, b[i], out, sizeof(out), &n), 0);
		assert_int_equal(n, 0);
	}
	assert_int_equal(tok_decoder_push(&d, b[3], out, sizeof(out), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, llama, 4);
	/* two bytes of it, then a normal token: U+FFFD, then the token */
	tok_decoder_init(&d, v, 0);
	assert_int_equal(tok_decoder_push(&d, b[0], out, sizeof(out), &n), 0);
	assert_int_equal(tok_decoder_push(&d, b[1], out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tok_decoder_push(&d, tok_find(v, "\xe2\x96\x81the", 6), out,
					  sizeof(out), &n), 0);
	assert_true(utf8_ok(out, n));
	assert_int_equal(n, 3 + 4);
	assert_memory_equal(out, "\xef\xbf\xbd the", 7);
	/* truncated at the end */
	tok_decoder_init(&d, v, 0);
	assert_int_equal(tok_decoder_push(&d, b[0], out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tok_decoder_flush(&d, out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	/* a buffer below the bound is refused */
	tok_decoder_init(&d, v, 0);
	assert_int_equal(tok_decoder_push(&d, b[0], out, 2, &n), ENGINE_EINVAL);
}

/* ==== special tokens ====================================================== */

static void expect_ids(struct tok_vocab *v, const char *text, bool add, bool parse,
		       const int32_t *want, size_t nwant)
{
	int32_t ids[256];
	size_t n;

	assert_int_equal(tok_encode(v, text, strlen(text), add, parse, ids, 256, &n), 0);
	if (n != nwant || memcmp(ids, want, n * sizeof(int32_t))) {
		char a[2048], b[2048];
		ids_str(a, sizeof(a), want, nwant);
		ids_str(b, sizeof(b), ids, n);
		fail_msg("\"%s\" add=%d parse=%d: want%s got%s", text, add, parse, a, b);
	}
}

static void test_bos_eos(void **state)
{
	struct tok_vocab *spm = vocab("llama-spm"), *bpe = vocab("llama-bpe");
	struct tok_vocab *gpt2 = vocab("gpt-2"), *bert = vocab("bert-bge");
	int32_t ids[64];
	size_t n;

	(void)state;
	assert_int_equal(tok_bos(spm), 1);
	assert_int_equal(tok_eos(spm), 2);
	assert_int_equal(tok_unk(spm), 0);
	assert_true(tok_add_bos(spm));
	assert_false(tok_add_eos(spm));
	assert_int_equal(tok_n_vocab(spm), 32000);
	assert_int_equal(tok_vocab_kind(spm), TOK_KIND_SPM);
	assert_int_equal(tok_vocab_kind(bpe), TOK_KIND_BPE);
	assert_int_equal(tok_vocab_kind(bert), TOK_KIND_WPM);
	assert_string_equal(tok_vocab_pre(bpe), "llama-bpe");
	{ const int32_t w[] = {1, 15043, 3186}; expect_ids(spm, "Hello world", true, false, w, 3); }
	{ const int32_t w[] = {15043, 3186}; expect_ids(spm, "Hello world", false, false, w, 2); }
	{ const int32_t w[] = {1}; expect_ids(spm, "", true, false, w, 1); }
	/* llama3: BOS by default; gpt-2: none */
	assert_int_equal(tok_bos(bpe), 128000);
	assert_true(tok_add_bos(bpe));
	{ const int32_t w[] = {128000, 9906, 1917}; expect_ids(bpe, "Hello world", true, false, w, 3); }
	assert_false(tok_add_bos(gpt2));
	{ const int32_t w[] = {15496, 995}; expect_ids(gpt2, "Hello world", true, false, w, 2); }
	/* BERT: [CLS] ... [SEP] */
	{ const int32_t w[] = {101, 7592, 2088, 102}; expect_ids(bert, "Hello world", true, false, w, 4); }
	/* end of generation */
	assert_true(tok_is_eog(spm, 2));
	assert_false(tok_is_eog(spm, 1));
	assert_true(tok_is_eog(bpe, tok_find(bpe, "<|eot_id|>", 10)));
	assert_true(tok_is_eog(bpe, tok_eos(bpe)));
	assert_true(tok_is_eog(vocab("qwen2"), tok_find(vocab("qwen2"), "<|im_end|>", 10)));
	assert_false(tok_is_eog(bpe, 9906));
	/* cap too small: the needed count comes back */
	assert_int_equal(tok_encode(spm, "Hello world", 11, true, false, ids, 2, &n), ENGINE_EINVAL);
	assert_int_equal(n, 3);
	/* out-of-range ids */
	assert_int_equal(tok_token_type(spm, -1), TOK_TYPE_UNDEFINED);
	assert_int_equal(tok_token_type(spm, 32000), TOK_TYPE_UNDEFINED);
	assert_true(tok_token_to_piece(spm, 32000, false, (char *)ids, sizeof(ids)) < 0);
}

static void test_special(void **state)
{
	struct tok_vocab *bpe = vocab("llama-bpe"), *spm = vocab("phi-3");
	struct tok_vocab *qwen = vocab("qwen2");
	int32_t eot = tok_find(bpe, "<|eot_id|>", 10);
	int32_t *ids;
	size_t n;
	char piece[64];
	long pl;

	(void)state;
	assert_int_equal(eot, 128009);
	assert_int_equal(tok_token_type(bpe, eot), TOK_TYPE_CONTROL);
	{ const int32_t w[] = {9906, 128009, 14957}; expect_ids(bpe, "Hello<|eot_id|>world", false, true, w, 3); }
	/* not parsed: plain text, several tokens, never the control id */
	assert_int_equal(tok_encode_alloc(&ids, &n, bpe, "Hello<|eot_id|>world", 20, false, false), 0);
	assert_true(n > 3);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(ids[i], eot);
	free(ids);
	/* longest match wins where texts overlap */
	{ const int32_t w[] = {128006, 882, 128007}; expect_ids(bpe, "<|start_header_id|>user<|end_header_id|>", false, true, w, 3); }
	/* a control token renders only with special */
	assert_int_equal(tok_token_to_piece(bpe, eot, false, piece, sizeof(piece)), 0);
	pl = tok_token_to_piece(bpe, eot, true, piece, sizeof(piece));
	assert_int_equal(pl, 10);
	assert_memory_equal(piece, "<|eot_id|>", 10);
	/* SPM: a space prefix follows a special token, as llama.cpp does */
	{
		int32_t end = tok_find(spm, "<|end|>", 7);
		int32_t hello = tok_find(spm, "\xe2\x96\x81Hello", 8);
		const int32_t w[] = {1, hello, end, hello};
		assert_int_not_equal(end, TOK_NULL);
		expect_ids(spm, "Hello<|end|>Hello", true, true, w, 4);
	}
	/* user-defined tokens match even without parse_special (HF added tokens) */
	{
		int32_t pad = tok_find(qwen, "[PAD151646]", 11);
		assert_int_equal(tok_token_type(qwen, pad), TOK_TYPE_USER_DEFINED);
		assert_int_equal(tok_encode_alloc(&ids, &n, qwen, "a[PAD151646]b", 13, false, false), 0);
		assert_int_equal(n, 3);
		assert_int_equal(ids[1], pad);
		free(ids);
	}
	/* round trip of a parsed special with the special flag */
	{
		static const char t[] = "Hi<|eot_id|>there";
		char buf[64];
		assert_int_equal(tok_encode_alloc(&ids, &n, bpe, t, strlen(t), false, true), 0);
		assert_int_equal(tok_decode(bpe, ids, n, TOK_DECODE_SPECIAL, buf, sizeof(buf)), (long)strlen(t));
		assert_string_equal(buf, t);
		assert_int_equal(tok_decode(bpe, ids, n, 0, buf, sizeof(buf)), 7);
		assert_string_equal(buf, "Hithere");
		free(ids);
	}
}

/* stories260K: the prompt the llama.cpp reference used (testdata README). */
static void test_stories_prompt(void **state)
{
	char path[4096];
	struct tok_vocab *v;
	const int32_t want[] = {1, 403, 407, 261, 378};

	(void)state;
	snprintf(path, sizeof(path), "%s/models/stories260K.gguf", testdata());
	v = load_path(path);
	expect_ids(v, "Once upon a time", true, true, want, 5);
	tok_vocab_free(v);
}

/* ==== refusals ============================================================ */

static struct gguf_file *mem_vocab(void **buf, const char *model, const char *pre,
				   bool with_merges)
{
	struct gguf_writer *w;
	struct gguf_file *f;
	const char *toks[] = {"a", "b", "ab"};
	const char *merges[] = {"a b"};
	size_t size;

	assert_int_equal(gguf_writer_new(&w), 0);
	assert_int_equal(gguf_writer_add_str(w, "tokenizer.ggml.model", model), 0);
	if (pre)
		assert_int_equal(gguf_writer_add_str(w, "tokenizer.ggml.pre", pre), 0);
	assert_int_equal(gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
	if (with_merges)
		assert_int_equal(gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 1), 0);
	assert_int_equal(gguf_writer_write_mem(w, buf, &size), 0);
	gguf_writer_free(w);
	assert_int_equal(gguf_open_mem(&f, *buf, size, "mem"), 0);
	return f;
}

static void test_refusals(void **state)
{
	struct tok_vocab *v = (struct tok_vocab *)1;
	struct gguf_file *f;
	void *buf;

	(void)state;
	f = mem_vocab(&buf, "rwkv", NULL, false);
	assert_int_equal(tok_vocab_load(&v, f), ENGINE_EUNSUPPORTED);
	assert_null(v);
	assert_non_null(strstr(engine_errmsg(), "rwkv"));
	gguf_close(f);
	free(buf);

	f = mem_vocab(&buf, "gpt2", "no-such-pre", true);
	assert_int_equal(tok_vocab_load(&v, f), ENGINE_EUNSUPPORTED);
	assert_non_null(strstr(engine_errmsg(), "no-such-pre"));
	gguf_close(f);
	free(buf);

	f = mem_vocab(&buf, "gpt2", "gpt-2", false);
	assert_int_equal(tok_vocab_load(&v, f), ENGINE_EFORMAT);
	assert_non_null(strstr(engine_errmsg(), "merges"));
	gguf_close(f);
	free(buf);

	/* a tiny but complete BPE vocab works: "ab" merges */
	f = mem_vocab(&buf, "gpt2", "gpt-2", true);
	assert_int_equal(tok_vocab_load(&v, f), 0);
	gguf_close(f);
	free(buf);
	{ const int32_t w[] = {2, 0}; expect_ids(v, "aba", false, false, w, 2); }
	tok_vocab_free(v);
	tok_vocab_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_holds_partial),
		cmocka_unit_test(test_bos_eos),
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_stories_prompt),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests_name("tokenizer", tests, NULL, teardown_all);
}
