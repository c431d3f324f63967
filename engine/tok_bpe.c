/* tok_bpe.c - byte-level BPE (tokenizer.ggml.model = "gpt2").
 *
 * Encoding a fragment: the pre-tokenizer regexes (PCRE2, UTF + UCP, JIT
 * when available) cut it into words, applied one after another as
 * Hugging Face "Split(..., isolated)" steps: each regex cuts every piece
 * made so far into its matches and the gaps between them.  Each word's
 * bytes then map to the GPT-2 byte characters, one symbol per byte, and
 * the lowest-ranked adjacent pair is merged until no pair has a rank
 * (ties: leftmost first).  A binary heap of candidate pairs plus a doubly
 * linked symbol list keeps a word of n bytes at O(n log n); a stale heap
 * entry (a side already merged away) is recognised and skipped.
 *
 * Invalid UTF-8 in the text never matches a regex item (PCRE2's
 * MATCH_INVALID_UTF), so it stays in a gap piece and is encoded byte for
 * byte: the encoding is lossless for any input.
 */
#include "tok_int.h"

/* ==== pre-tokenizer table ================================================ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define RE_GPT4O "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+" \
	"[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" \
	"|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" \
	"|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

struct pre_def {
	const char *names; /* space-separated tokenizer.ggml.pre values */
	enum tok_pre pre;
	bool ignore_merges;
	bool add_bos;
	const char *re[TOK_MAX_REGEX];
};

static const struct pre_def pre_defs[] = {
	{"default", TOK_PRE_DEFAULT, false, false,
	 {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
	{"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2",
	 TOK_PRE_LLAMA3, true, true, {RE_LLAMA3}},
	{"dbrx smaug-bpe chatglm-bpe", TOK_PRE_LLAMA3, false, false, {RE_LLAMA3}},
	{"tekken", TOK_PRE_LLAMA3, true, true, {RE_TEKKEN}},
	{"qwen2 deepseek-r1-qwen stablelm2 megrez hunyuan", TOK_PRE_QWEN2, false, false, {RE_QWEN2}},
	{"deepseek-llm", TOK_PRE_DEEPSEEK_LLM, false, false,
	 {"[\\r\\n]",
	  "\\s?[\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}"
	  "\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}-\\x{377}"
	  "\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}"
	  "\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"
	  "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
	  "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
	  "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}"
	  "\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}"
	  "\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}"
	  "\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
	  "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"
	  "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"
	  "\\x{214E}\\x{2183}-\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
	  "\\x{2CF2}-\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
	  "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
	  "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
	  "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
	  "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
	  "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
	  "\\s+$",
	  RE_CJK,
	  "\\p{N}+"}},
	{"deepseek-coder", TOK_PRE_DEEPSEEK_CODER, false, false,
	 {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}},
	{"falcon", TOK_PRE_FALCON, false, false,
	 {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
	{"starcoder refact command-r smollm codeshell exaone minerva-7b", TOK_PRE_STARCODER,
	 false, false, {"\\p{N}", RE_GPT2}},
	{"mpt olmo jais trillion", TOK_PRE_MPT, false, false, {RE_GPT2}},
	{"gpt-2 phi-2 jina-es jina-de gigachat jina-v1-en jina-v2-es jina-v2-de jina-v2-code roberta-bpe",
	 TOK_PRE_GPT2, false, false, {RE_GPT2}},
	{"poro-chat bloom gpt3-finnish", TOK_PRE_BLOOM, false, false,
	 {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"}},
	{"gpt-4o llama4", TOK_PRE_GPT4O, false, false, {RE_GPT4O}},
};

static bool name_in(const char *names, const char *name)
{
	size_t n = strlen(name);
	const char *p = names;

	while (*p) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !memcmp(p, name, n))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* ==== setup ============================================================== */

/* GPT-2's byte <-> unicode table: printable Latin-1 bytes stand for
 * themselves, the other 68 bytes take the code points 256, 257, ... */
static void setup_bytes(struct tok_vocab *v)
{
	int next = 256;

	for (int i = 0; i < 0x180; i++)
		v->unbyte[i] = -1;
	for (int b = 0; b < 256; b++) {
		bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
		uint32_t cp = printable ? (uint32_t)b : (uint32_t)next++;
		char *o = v->bytechar[b];
		if (cp < 0x80) {
			o[0] = (char)cp;
			o[1] = 0;
		} else {
			o[0] = (char)(0xC0 | (cp >> 6));
			o[1] = (char)(0x80 | (cp & 0x3F));
			o[2] = 0;
		}
		v->unbyte[cp] = (int16_t)b;
		v->bytechar_tok[b] = tok_lookup(v, o, strlen(o));
	}
}

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static int setup_merges(struct tok_vocab *v, const struct gguf_file *f)
{
	int64_t kv = gguf_find_key(f, "tokenizer.ggml.merges");
	uint64_t n, size = 1024;

	if (kv < 0)
		return engine_seterr(ENGINE_EFORMAT, "tokenizer: BPE vocab without tokenizer.ggml.merges");
	if (gguf_kv_type(f, (size_t)kv) != GGUF_VT_ARRAY ||
	    gguf_kv_arr_type(f, (size_t)kv) != GGUF_VT_STRING)
		return engine_seterr(ENGINE_EFORMAT, "tokenizer: tokenizer.ggml.merges is not a string array");
	n = gguf_kv_arr_len(f, (size_t)kv);
	if (n > (1u << 24))
		return engine_seterr(ENGINE_EFORMAT, "tokenizer: %llu merges", (unsigned long long)n);
	while (size < n * 2)
		size <<= 1;
	v->merges = calloc(size, sizeof(*v->merges));
	if (!v->merges)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory (merges)");
	v->mmask = size - 1;
	for (uint64_t r = 0; r < n; r++) {
		struct gguf_str s = gguf_arr_str(f, (size_t)kv, r);
		const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
		char buf[2 * TOK_MAX_TOKEN_LEN];
		int32_t l, rt, m;
		size_t ll, rl;
		uint64_t key, i;

		if (!sp)
			return engine_seterr(ENGINE_EFORMAT, "tokenizer: merge %llu has no space",
					     (unsigned long long)r);
		ll = (size_t)(sp - s.ptr);
		rl = s.len - ll - 1;
		if (ll + rl > sizeof(buf))
			continue;
		l = tok_lookup(v, s.ptr, ll);
		rt = tok_lookup(v, sp + 1, rl);
		memcpy(buf, s.ptr, ll);
		memcpy(buf + ll, sp + 1, rl);
		m = tok_lookup(v, buf, ll + rl);
		if (l == TOK_NULL || rt == TOK_NULL || m == TOK_NULL)
			continue; /* cannot take part in an id-level merge */
		key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)rt) + 1; /* never 0 */
		for (i = mix64(key) & v->mmask; v->merges[i].key; i = (i + 1) & v->mmask)
			if (v->merges[i].key == key)
				break;
		if (v->merges[i].key == key)
			continue; /* the first (lowest) rank stays */
		v->merges[i].key = key;
		v->merges[i].rank = (uint32_t)r;
		v->merges[i].id = m;
	}
	return 0;
}

static const struct tok_merge *merge_find(const struct tok_vocab *v, int32_t l, int32_t r)
{
	uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;

	for (uint64_t i = mix64(key) & v->mmask; v->merges[i].key; i = (i + 1) & v->mmask)
		if (v->merges[i].key == key)
			return &v->merges[i];
	return NULL;
}

int tok_bpe_setup(struct tok_vocab *v, const struct gguf_file *f)
{
	const struct pre_def *d = NULL;
	int rc;

	for (size_t i = 0; i < sizeof(pre_defs) / sizeof(pre_defs[0]); i++)
		if (name_in(pre_defs[i].names, v->pre_name)) {
			d = &pre_defs[i];
			break;
		}
	if (!d)
		return engine_seterr(ENGINE_EUNSUPPORTED,
				     "tokenizer: pre-tokenizer '%s' is not supported", v->pre_name);
	v->pre = d->pre;
	v->ignore_merges = d->ignore_merges;
	v->add_bos = d->add_bos;
	setup_bytes(v);
	rc = setup_merges(v, f);
	if (rc)
		return rc;
	for (int i = 0; i < TOK_MAX_REGEX && d->re[i]; i++) {
		int ec;
		PCRE2_SIZE eo;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED,
					       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
					       &ec, &eo, NULL);
		if (!re) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			return engine_seterr(ENGINE_EUNSUPPORTED,
					     "tokenizer: pre-tokenizer '%s' regex %d at %zu: %s",
					     v->pre_name, i, (size_t)eo, (const char *)msg);
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
		v->re[v->n_re++] = re;
	}
	return 0;
}

void tok_bpe_teardown(struct tok_vocab *v)
{
	for (int i = 0; i < v->n_re; i++)
		pcre2_code_free(v->re[i]);
	v->n_re = 0;
	free(v->merges);
	v->merges = NULL;
}

/* ==== pre-tokenization ===================================================== */

struct span {
	size_t lo, hi;
};

struct spans {
	struct span *v;
	size_t n, cap;
	bool oom;
};

static void spans_push(struct spans *a, size_t lo, size_t hi)
{
	if (lo >= hi)
		return;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		struct span *nv;
		if (a->oom)
			return;
		nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv) {
			a->oom = true;
			return;
		}
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n].lo = lo;
	a->v[a->n].hi = hi;
	a->n++;
}

/* Cut s[lo..hi) by re into matches and gaps, appended to out. */
static int split_span(const pcre2_code *re, pcre2_match_data *md, const char *s,
		      size_t lo, size_t hi, struct spans *out)
{
	PCRE2_SPTR subj = (PCRE2_SPTR)(s + lo);
	size_t len = hi - lo, pos = 0, gap = 0;

	while (pos < len) {
		int rc = pcre2_match(re, subj, len, pos, 0, md, NULL);
		PCRE2_SIZE *ov;
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return engine_seterr(ENGINE_EFORMAT, "tokenizer: regex match failed (%d)", rc);
		ov = pcre2_get_ovector_pointer(md);
		if (ov[1] <= ov[0]) { /* empty match: step over one byte */
			pos = ov[0] + 1;
			continue;
		}
		spans_push(out, lo + gap, lo + ov[0]);
		spans_push(out, lo + ov[0], lo + ov[1]);
		gap = pos = ov[1];
	}
	spans_push(out, lo + gap, hi);
	return 0;
}

/* ==== merging ============================================================= */

struct bsym {
	int32_t id;     /* TOK_NULL: a byte char with no token */
	int32_t prev, next;
	uint32_t len;   /* bytes of the word it covers; 0 once merged away */
};

struct bwork {
	struct bsym *sym;
	struct tok_heap heap;
	size_t cap_sym;
	char *mapped;
	size_t cap_mapped;
};

static int try_pair(const struct tok_vocab *v, struct bwork *w, int32_t l, int32_t r)
{
	const struct tok_merge *m;
	struct tok_cand p;

	if (l < 0 || r < 0 || w->sym[l].id < 0 || w->sym[r].id < 0)
		return 0;
	m = merge_find(v, w->sym[l].id, w->sym[r].id);
	if (!m)
		return 0;
	p.prio = (float)m->rank;
	p.left = l;
	p.right = r;
	p.a = w->sym[l].id;
	p.b = w->sym[r].id;
	return tok_heap_push(&w->heap, p);
}

static int bpe_word(const struct tok_vocab *v, struct bwork *w, const unsigned char *s,
		    size_t n, struct tok_ids *out)
{
	int rc;

	if (n > w->cap_sym) {
		struct bsym *ns = realloc(w->sym, n * sizeof(*ns));
		if (!ns)
			return ENGINE_ENOMEM;
		w->sym = ns;
		w->cap_sym = n;
	}
	if (v->ignore_merges || n == 1) {
		size_t m = 0;
		int32_t id;
		if (2 * n > w->cap_mapped) {
			char *nm = realloc(w->mapped, 2 * n);
			if (!nm)
				return ENGINE_ENOMEM;
			w->mapped = nm;
			w->cap_mapped = 2 * n;
		}
		for (size_t i = 0; i < n; i++) {
			const char *c = v->bytechar[s[i]];
			w->mapped[m++] = c[0];
			if (c[1])
				w->mapped[m++] = c[1];
		}
		id = tok_lookup(v, w->mapped, m);
		if (id != TOK_NULL) {
			tok_ids_push(out, id);
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		w->sym[i].id = v->bytechar_tok[s[i]];
		w->sym[i].prev = (int32_t)i - 1;
		w->sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
		w->sym[i].len = 1;
	}
	w->heap.n = 0;
	for (size_t i = 1; i < n; i++) {
		rc = try_pair(v, w, (int32_t)i - 1, (int32_t)i);
		if (rc)
			return rc;
	}
	while (w->heap.n) {
		struct tok_cand p = tok_heap_pop(&w->heap);
		struct bsym *l = &w->sym[p.left], *r = &w->sym[p.right];
		const struct tok_merge *m;
		if (!l->len || !r->len || l->next != p.right || l->id != p.a || r->id != p.b)
			continue; /* stale */
		m = merge_find(v, l->id, r->id);
		l->id = m->id;
		l->len += r->len;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = p.left;
		rc = try_pair(v, w, l->prev, p.left);
		if (!rc)
			rc = try_pair(v, w, p.left, l->next);
		if (rc)
			return rc;
	}
	for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
		if (w->sym[i].id >= 0)
			tok_ids_push(out, w->sym[i].id);
		else if (v->unk != TOK_NULL)
			tok_ids_push(out, v->unk);
	}
	return 0;
}

static int word_cached(const struct tok_vocab *v, struct bwork *w, struct tok_wcache *c,
		       const char *s, size_t lo, size_t hi, struct tok_ids *out)
{
	size_t before;
	int rc;

	if (tok_wcache_get(c, s, lo, hi, out))
		return 0;
	before = out->n;
	rc = bpe_word(v, w, (const unsigned char *)s + lo, hi - lo, out);
	if (!rc)
		tok_wcache_put(c, s, lo, hi, out, before);
	return rc;
}

int tok_bpe_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_ids *out)
{
	struct spans a = {0}, b = {0};
	struct bwork w = {0};
	struct tok_wcache c;
	pcre2_match_data *md = NULL;
	int rc = 0;

	if (!n)
		return 0;
	md = pcre2_match_data_create(4, NULL);
	if (!md)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	tok_wcache_init(&c, n);
	spans_push(&a, 0, n);
	for (int r = 0; r < v->n_re && !rc; r++) {
		struct spans t;
		b.n = 0;
		for (size_t i = 0; i < a.n && !rc; i++)
			rc = split_span(v->re[r], md, s, a.v[i].lo, a.v[i].hi, &b);
		t = a;
		a = b;
		b = t;
		if (a.oom || b.oom)
			rc = ENGINE_ENOMEM;
	}
	for (size_t i = 0; i < a.n && !rc; i++)
		rc = word_cached(v, &w, &c, s, a.v[i].lo, a.v[i].hi, out);
	if (!rc && (c.ids.oom || out->oom))
		rc = ENGINE_ENOMEM;
	if (rc == ENGINE_ENOMEM)
		rc = engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	pcre2_match_data_free(md);
	free(a.v);
	free(b.v);
	free(w.sym);
	free(w.heap.v);
	free(w.mapped);
	tok_wcache_free(&c);
	return rc;
}
