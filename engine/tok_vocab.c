/* tok_vocab.c - loading a tokenizer vocabulary from GGUF metadata.
 *
 * Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges} and the
 * special-id and add_* keys, applies llama.cpp's defaults per model kind,
 * builds the text -> id hash and the special-token match table, and hands
 * BPE-specific setup to tok_bpe.c.  Nothing points into the gguf_file
 * afterwards.
 */
#include <stdio.h>

#include "tok_int.h"

static const char *type_key_err = "tokenizer.ggml.token_type";

static int read_id(const struct gguf_file *f, const char *key, int32_t def,
		   int32_t n, int *err, int32_t *out)
{
	int64_t id = gguf_get_i64(f, key, def, err);

	*out = (id >= 0 && id < n) ? (int32_t)id : TOK_NULL;
	return 0;
}

static bool is_spec_type(uint8_t t)
{
	return t == TOK_TYPE_CONTROL || t == TOK_TYPE_USER_DEFINED || t == TOK_TYPE_UNKNOWN;
}

/* An open-addressing table of id + 1 over the tokens (all, or the special
 * ones); the first id with a given text keeps the slot. */
static int build_hash(struct tok_vocab *v, bool special, uint32_t **tab, uint32_t *mask)
{
	uint32_t size = 64, count = 0;

	for (int32_t id = 0; id < v->n; id++)
		count += !special || is_spec_type(v->tok[id].type);
	while (size < count * 2u)
		size <<= 1;
	*tab = calloc(size, sizeof(**tab));
	if (!*tab)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory (hash)");
	*mask = size - 1;
	for (int32_t id = 0; id < v->n; id++) {
		const struct tok_entry *t = &v->tok[id];
		uint32_t i = tok_hash(v->text + t->off, t->len) & *mask;
		if (special && !is_spec_type(t->type))
			continue;
		for (;;) {
			uint32_t e = (*tab)[i];
			if (!e) {
				(*tab)[i] = (uint32_t)id + 1;
				break;
			}
			const struct tok_entry *o = &v->tok[e - 1];
			if (o->len == t->len && !memcmp(v->text + o->off, v->text + t->off, t->len))
				break; /* the first one stays */
			i = (i + 1) & *mask;
		}
	}
	return 0;
}

static int cmp_u16_desc(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x < y) - (x > y);
}

/* For each first byte, the distinct lengths of special texts, descending. */
static int build_special(struct tok_vocab *v)
{
	uint32_t count[256] = {0};
	size_t total = 0;
	uint32_t fill[256];

	for (int32_t id = 0; id < v->n; id++) {
		const struct tok_entry *t = &v->tok[id];
		if (is_spec_type(t->type) && t->len > 0 &&
		    tok_lookup_special(v, tok_text(v, id), t->len) == id) {
			count[(unsigned char)v->text[t->off]]++;
			total++;
		}
	}
	v->spec_lens = malloc((total ? total : 1) * sizeof(*v->spec_lens));
	if (!v->spec_lens)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	v->spec_len_off[0] = 0;
	for (int b = 0; b < 256; b++) {
		v->spec_len_off[b + 1] = v->spec_len_off[b] + count[b];
		fill[b] = v->spec_len_off[b];
	}
	for (int32_t id = 0; id < v->n; id++) {
		const struct tok_entry *t = &v->tok[id];
		if (is_spec_type(t->type) && t->len > 0 &&
		    tok_lookup_special(v, tok_text(v, id), t->len) == id)
			v->spec_lens[fill[(unsigned char)v->text[t->off]]++] = (uint16_t)t->len;
	}
	/* sort each group descending and drop repeated lengths */
	for (int b = 0; b < 256; b++) {
		uint32_t lo = v->spec_len_off[b], hi = v->spec_len_off[b + 1];
		if (hi - lo > 1)
			qsort(v->spec_lens + lo, hi - lo, sizeof(uint16_t), cmp_u16_desc);
	}
	{
		uint32_t w = 0;
		uint32_t off[257];
		for (int b = 0; b < 256; b++) {
			uint32_t lo = v->spec_len_off[b], hi = v->spec_len_off[b + 1];
			off[b] = w;
			for (uint32_t i = lo; i < hi; i++)
				if (i == lo || v->spec_lens[i] != v->spec_lens[i - 1])
					v->spec_lens[w++] = v->spec_lens[i];
		}
		off[256] = w;
		memcpy(v->spec_len_off, off, sizeof(off));
	}
	v->has_spec = total > 0;
	return 0;
}

/* Texts that end a turn in the chat formats we know of. */
static const char *const eot_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", NULL,
};
static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", NULL,
};

static int build_eog(struct tok_vocab *v)
{
	int32_t ids[32];
	size_t n = 0;

	if (v->eot == TOK_NULL) {
		for (int i = 0; eot_texts[i] && v->eot == TOK_NULL; i++) {
			int32_t id = tok_lookup_special(v, eot_texts[i], strlen(eot_texts[i]));
			if (id != TOK_NULL)
				v->eot = id;
		}
	}
	if (v->eos != TOK_NULL)
		ids[n++] = v->eos;
	if (v->eot != TOK_NULL)
		ids[n++] = v->eot;
	if (v->eom != TOK_NULL)
		ids[n++] = v->eom;
	for (int i = 0; eog_texts[i]; i++) {
		int32_t id = tok_lookup_special(v, eog_texts[i], strlen(eog_texts[i]));
		if (id != TOK_NULL)
			ids[n++] = id;
	}
	v->eog = malloc(n ? n * sizeof(int32_t) : 1);
	if (!v->eog)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < v->n_eog; j++)
			dup |= v->eog[j] == ids[i];
		if (!dup)
			v->eog[v->n_eog++] = ids[i];
	}
	return 0;
}

static bool str_eq(struct gguf_str s, const char *lit)
{
	return s.ptr && s.len == strlen(lit) && !memcmp(s.ptr, lit, s.len);
}

/* The length of the piece a token decodes to (an upper bound for BPE). */
static size_t piece_bound(const struct tok_vocab *v, int32_t id)
{
	const struct tok_entry *t = &v->tok[id];
	return t->len + 1; /* "▁" (3 bytes) -> ' ' only shrinks; WPM adds nothing */
}

int tok_vocab_load(struct tok_vocab **out, const struct gguf_file *f)
{
	struct tok_vocab *v = NULL;
	int err = 0, rc;
	struct gguf_str model, pre;
	int64_t kv_tok, kv_score, kv_type;
	uint64_t n, total = 0;

	*out = NULL;
	if (!f)
		return engine_seterr(ENGINE_EINVAL, "tokenizer: no file");
	model = gguf_get_str(f, "tokenizer.ggml.model", &err);
	pre = gguf_get_str(f, "tokenizer.ggml.pre", &err);
	if (err)
		return err;
	if (!model.ptr)
		return engine_seterr(ENGINE_ENOTFOUND, "tokenizer: no tokenizer.ggml.model key");
	v = calloc(1, sizeof(*v));
	if (!v)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	if (str_eq(model, "llama"))
		v->kind = TOK_KIND_SPM;
	else if (str_eq(model, "gpt2"))
		v->kind = TOK_KIND_BPE;
	else if (str_eq(model, "bert"))
		v->kind = TOK_KIND_WPM;
	else {
		rc = engine_seterr(ENGINE_EUNSUPPORTED, "tokenizer: model '%.*s' is not supported",
				   (int)(model.len > 64 ? 64 : model.len), model.ptr);
		goto fail;
	}
	if (pre.ptr && pre.len < sizeof(v->pre_name)) {
		memcpy(v->pre_name, pre.ptr, pre.len);
		v->pre_name[pre.len] = 0;
	} else if (pre.ptr) {
		rc = engine_seterr(ENGINE_EUNSUPPORTED, "tokenizer: pre-tokenizer name too long");
		goto fail;
	} else {
		strcpy(v->pre_name, "default");
	}

	kv_tok = gguf_find_key(f, "tokenizer.ggml.tokens");
	if (kv_tok < 0 || gguf_kv_type(f, (size_t)kv_tok) != GGUF_VT_ARRAY ||
	    gguf_kv_arr_type(f, (size_t)kv_tok) != GGUF_VT_STRING) {
		rc = engine_seterr(ENGINE_EFORMAT, "tokenizer: tokenizer.ggml.tokens missing or not a string array");
		goto fail;
	}
	n = gguf_kv_arr_len(f, (size_t)kv_tok);
	if (n == 0 || n > (1u << 24)) {
		rc = engine_seterr(ENGINE_EFORMAT, "tokenizer: %llu tokens", (unsigned long long)n);
		goto fail;
	}
	v->n = (int32_t)n;
	kv_score = gguf_find_key(f, "tokenizer.ggml.scores");
	kv_type = gguf_find_key(f, "tokenizer.ggml.token_type");
	if (kv_score >= 0 && (gguf_kv_type(f, (size_t)kv_score) != GGUF_VT_ARRAY ||
			      gguf_kv_arr_len(f, (size_t)kv_score) != n)) {
		rc = engine_seterr(ENGINE_EFORMAT, "tokenizer: tokenizer.ggml.scores has the wrong length");
		goto fail;
	}
	if (kv_type >= 0 && (gguf_kv_type(f, (size_t)kv_type) != GGUF_VT_ARRAY ||
			     gguf_kv_arr_len(f, (size_t)kv_type) != n)) {
		rc = engine_seterr(ENGINE_EFORMAT, "%s has the wrong length", type_key_err);
		goto fail;
	}

	v->tok = calloc(n, sizeof(*v->tok));
	if (!v->tok)
		goto oom;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = gguf_arr_str(f, (size_t)kv_tok, i);
		if (s.len > TOK_MAX_TOKEN_LEN) {
			rc = engine_seterr(ENGINE_EFORMAT, "tokenizer: token %llu is %llu bytes long",
					   (unsigned long long)i, (unsigned long long)s.len);
			goto fail;
		}
		total += s.len + 1;
	}
	if (total > UINT32_MAX) {
		rc = engine_seterr(ENGINE_EFORMAT, "tokenizer: token texts too large");
		goto fail;
	}
	v->text = malloc(total);
	if (!v->text)
		goto oom;
	total = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = gguf_arr_str(f, (size_t)kv_tok, i);
		struct tok_entry *t = &v->tok[i];
		if (s.len)
			memcpy(v->text + total, s.ptr, s.len);
		v->text[total + s.len] = 0;
		t->off = (uint32_t)total;
		t->len = (uint32_t)s.len;
		t->score = kv_score >= 0 ? (float)gguf_arr_float(f, (size_t)kv_score, i) : 0.0f;
		t->type = TOK_TYPE_NORMAL;
		if (kv_type >= 0) {
			int64_t ty = gguf_arr_int(f, (size_t)kv_type, i);
			t->type = (ty >= 0 && ty <= TOK_TYPE_BYTE) ? (uint8_t)ty : TOK_TYPE_NORMAL;
		}
		if (s.len > v->max_token_len)
			v->max_token_len = s.len;
		total += s.len + 1;
	}
	rc = build_hash(v, false, &v->hash, &v->hmask);
	if (!rc)
		rc = build_hash(v, true, &v->shash, &v->smask);
	if (rc)
		goto fail;

	/* llama.cpp's defaults per kind, then the file's keys */
	switch (v->kind) {
	case TOK_KIND_SPM:
		v->pre = TOK_PRE_NONE;
		v->add_bos = true;
		v->add_space_prefix = true;
		read_id(f, "tokenizer.ggml.bos_token_id", 1, v->n, &err, &v->bos);
		read_id(f, "tokenizer.ggml.eos_token_id", 2, v->n, &err, &v->eos);
		read_id(f, "tokenizer.ggml.unknown_token_id", 0, v->n, &err, &v->unk);
		read_id(f, "tokenizer.ggml.seperator_token_id", -1, v->n, &err, &v->sep);
		read_id(f, "tokenizer.ggml.padding_token_id", -1, v->n, &err, &v->pad);
		read_id(f, "tokenizer.ggml.mask_token_id", -1, v->n, &err, &v->mask);
		break;
	case TOK_KIND_BPE:
		read_id(f, "tokenizer.ggml.bos_token_id", 11, v->n, &err, &v->bos);
		read_id(f, "tokenizer.ggml.eos_token_id", 11, v->n, &err, &v->eos);
		read_id(f, "tokenizer.ggml.unknown_token_id", -1, v->n, &err, &v->unk);
		read_id(f, "tokenizer.ggml.seperator_token_id", -1, v->n, &err, &v->sep);
		read_id(f, "tokenizer.ggml.padding_token_id", -1, v->n, &err, &v->pad);
		read_id(f, "tokenizer.ggml.mask_token_id", -1, v->n, &err, &v->mask);
		rc = tok_bpe_setup(v, f); /* sets pre, add_bos, ignore_merges */
		if (rc)
			goto fail;
		break;
	case TOK_KIND_WPM:
		v->pre = TOK_PRE_NONE;
		v->add_bos = true;
		v->add_sep = true;
		read_id(f, "tokenizer.ggml.bos_token_id", 101, v->n, &err, &v->bos);
		read_id(f, "tokenizer.ggml.eos_token_id", -1, v->n, &err, &v->eos);
		read_id(f, "tokenizer.ggml.unknown_token_id", 100, v->n, &err, &v->unk);
		read_id(f, "tokenizer.ggml.seperator_token_id", 102, v->n, &err, &v->sep);
		read_id(f, "tokenizer.ggml.padding_token_id", 0, v->n, &err, &v->pad);
		read_id(f, "tokenizer.ggml.mask_token_id", 103, v->n, &err, &v->mask);
		break;
	}
	read_id(f, "tokenizer.ggml.eot_token_id", -1, v->n, &err, &v->eot);
	read_id(f, "tokenizer.ggml.eom_token_id", -1, v->n, &err, &v->eom);
	v->add_bos = gguf_get_bool(f, "tokenizer.ggml.add_bos_token", v->add_bos, &err);
	v->add_eos = gguf_get_bool(f, "tokenizer.ggml.add_eos_token", v->add_eos, &err);
	v->add_sep = gguf_get_bool(f, "tokenizer.ggml.add_sep_token", v->add_sep, &err);
	v->add_space_prefix = gguf_get_bool(f, "tokenizer.ggml.add_space_prefix",
					    v->add_space_prefix, &err);
	if (err) {
		rc = err;
		goto fail;
	}
	if ((v->add_bos && v->bos == TOK_NULL) || (v->add_eos && v->eos == TOK_NULL)) {
		/* asking for a token the vocab lacks: add nothing */
		if (v->bos == TOK_NULL)
			v->add_bos = false;
		if (v->eos == TOK_NULL)
			v->add_eos = false;
	}
	if (v->add_sep && v->sep == TOK_NULL)
		v->add_sep = false;

	for (int b = 0; b < 256; b++) {
		char hex[8];
		snprintf(hex, sizeof(hex), "<0x%02X>", b);
		v->byte_tok[b] = tok_lookup(v, hex, 6);
		if (v->byte_tok[b] != TOK_NULL && v->tok[v->byte_tok[b]].type != TOK_TYPE_BYTE)
			v->byte_tok[b] = TOK_NULL;
	}
	if (v->kind == TOK_KIND_SPM)
		v->spm_split_words = tok_spm_can_split(v);
	rc = build_special(v);
	if (rc)
		goto fail;
	rc = build_eog(v);
	if (rc)
		goto fail;
	for (int32_t id = 0; id < v->n; id++) {
		size_t b = piece_bound(v, id);
		if (b > v->max_piece)
			v->max_piece = b;
	}
	*out = v;
	return 0;
oom:
	rc = engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
fail:
	tok_vocab_free(v);
	return rc;
}

void tok_vocab_free(struct tok_vocab *v)
{
	if (!v)
		return;
	tok_bpe_teardown(v);
	free(v->eog);
	free(v->spec_lens);
	free(v->hash);
	free(v->shash);
	free(v->text);
	free(v->tok);
	free(v);
}

enum tok_kind tok_vocab_kind(const struct tok_vocab *v) { return v->kind; }
const char *tok_vocab_pre(const struct tok_vocab *v) { return v->pre_name; }
int32_t tok_n_vocab(const struct tok_vocab *v) { return v->n; }
int32_t tok_bos(const struct tok_vocab *v) { return v->bos; }
int32_t tok_eos(const struct tok_vocab *v) { return v->eos; }
int32_t tok_eot(const struct tok_vocab *v) { return v->eot; }
int32_t tok_unk(const struct tok_vocab *v) { return v->unk; }
int32_t tok_pad(const struct tok_vocab *v) { return v->pad; }
int32_t tok_sep(const struct tok_vocab *v) { return v->sep; }
bool tok_add_bos(const struct tok_vocab *v) { return v->add_bos; }
bool tok_add_eos(const struct tok_vocab *v) { return v->add_eos; }
size_t tok_max_piece(const struct tok_vocab *v) { return v->max_piece; }

bool tok_is_eog(const struct tok_vocab *v, int32_t id)
{
	if (id == TOK_NULL)
		return false;
	for (size_t i = 0; i < v->n_eog; i++)
		if (v->eog[i] == id)
			return true;
	return false;
}

enum tok_type tok_token_type(const struct tok_vocab *v, int32_t id)
{
	if (id < 0 || id >= v->n)
		return TOK_TYPE_UNDEFINED;
	return (enum tok_type)v->tok[id].type;
}

const char *tok_token_text(const struct tok_vocab *v, int32_t id, size_t *len)
{
	if (id < 0 || id >= v->n) {
		if (len)
			*len = 0;
		return "";
	}
	if (len)
		*len = v->tok[id].len;
	return tok_text(v, id);
}

int32_t tok_find(const struct tok_vocab *v, const char *text, size_t len)
{
	return tok_lookup(v, text, len);
}
