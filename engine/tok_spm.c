/* tok_spm.c - SentencePiece BPE (tokenizer.ggml.model = "llama").
 *
 * As llama.cpp runs it: spaces become U+2581 ("▁"), one more is put in
 * front of a fragment that starts the text or follows a special token
 * (add_space_prefix), the fragment is cut into UTF-8 characters, and the
 * adjacent pair whose concatenation is the highest-scoring vocabulary
 * entry is merged until none is (ties: leftmost).  A final symbol that is
 * not a token falls back to its bytes as <0xXX> tokens, or to unk.
 *
 * Symbols are spans of the escaped text, so a candidate pair is looked up
 * by hashing the bytes in place; nothing is copied per pair.
 */
#include "tok_int.h"
#include "unicode.h"

struct ssym {
	uint32_t off, len; /* span of the escaped text; len 0 once merged away */
	int32_t prev, next;
};

struct swork {
	struct ssym *sym;
	struct tok_heap heap;
	const char *text;
};

static bool is_ws(const char *p)
{
	return p[0] == '\xE2' && p[1] == '\x96' && p[2] == '\x81';
}

/* Merges only make normal, user-defined and unused entries (never control,
 * unknown or byte tokens), as SentencePiece does. */
static bool mergeable(uint8_t type)
{
	return type == TOK_TYPE_NORMAL || type == TOK_TYPE_USER_DEFINED || type == TOK_TYPE_UNUSED;
}

bool tok_spm_can_split(const struct tok_vocab *v)
{
	for (int32_t id = 0; id < v->n; id++) {
		const char *t = tok_text(v, id);
		uint32_t len = v->tok[id].len;
		if (!mergeable(v->tok[id].type))
			continue;
		for (uint32_t p = 1; p + 3 <= len; p++)
			if (is_ws(t + p) && !(p >= 3 && is_ws(t + p - 3)))
				return false;
	}
	return true;
}

static int try_pair(const struct tok_vocab *v, struct swork *w, int32_t l, int32_t r)
{
	struct tok_cand p;
	int32_t id;
	uint32_t len;

	if (l < 0 || r < 0)
		return 0;
	len = w->sym[l].len + w->sym[r].len;
	id = tok_lookup(v, w->text + w->sym[l].off, len);
	if (id == TOK_NULL || !mergeable(v->tok[id].type))
		return 0;
	p.prio = -v->tok[id].score; /* the highest score merges first */
	p.left = l;
	p.right = r;
	p.a = (int32_t)len;
	p.b = 0;
	return tok_heap_push(&w->heap, p);
}

static void emit(const struct tok_vocab *v, const char *s, size_t n, struct tok_ids *out)
{
	int32_t id = tok_lookup(v, s, n);

	if (id != TOK_NULL) {
		tok_ids_push(out, id);
		return;
	}
	if (v->byte_tok[0] == TOK_NULL) { /* no byte fallback in this vocab */
		if (v->unk != TOK_NULL)
			tok_ids_push(out, v->unk);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t b = v->byte_tok[(unsigned char)s[i]];
		tok_ids_push(out, b != TOK_NULL ? b : v->unk);
	}
}

/* Merge the symbols of esc[lo..hi) and emit them. */
static int spm_word(const struct tok_vocab *v, struct swork *w, size_t lo, size_t hi,
		    struct tok_ids *out)
{
	const char *esc = w->text;
	size_t nsym = 0;
	int rc = 0;

	for (size_t i = lo; i < hi;) {
		size_t l = uni_len((const unsigned char *)esc + i, hi - i);
		w->sym[nsym].off = (uint32_t)i;
		w->sym[nsym].len = (uint32_t)l;
		w->sym[nsym].prev = (int32_t)nsym - 1;
		w->sym[nsym].next = i + l < hi ? (int32_t)nsym + 1 : -1;
		nsym++;
		i += l;
	}
	w->heap.n = 0;
	for (size_t i = 1; i < nsym && !rc; i++)
		rc = try_pair(v, w, (int32_t)i - 1, (int32_t)i);
	while (w->heap.n && !rc) {
		struct tok_cand p = tok_heap_pop(&w->heap);
		struct ssym *l = &w->sym[p.left], *r = &w->sym[p.right];
		if (!l->len || !r->len || l->next != p.right || l->len + r->len != (uint32_t)p.a)
			continue; /* stale */
		l->len += r->len;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = p.left;
		rc = try_pair(v, w, l->prev, p.left);
		if (!rc)
			rc = try_pair(v, w, p.left, l->next);
	}
	if (!rc && nsym)
		for (int32_t i = 0; i >= 0; i = w->sym[i].next)
			emit(v, esc + w->sym[i].off, w->sym[i].len, out);
	return rc;
}

static int spm_word_cached(const struct tok_vocab *v, struct swork *w, struct tok_wcache *c,
			   size_t lo, size_t hi, struct tok_ids *out)
{
	size_t before = out->n;
	int rc;

	if (tok_wcache_get(c, w->text, lo, hi, out))
		return 0;
	rc = spm_word(v, w, lo, hi, out);
	if (!rc)
		tok_wcache_put(c, w->text, lo, hi, out, before);
	return rc;
}

int tok_spm_encode(const struct tok_vocab *v, const char *s, size_t n, bool first,
		   struct tok_ids *out)
{
	static const char ws[3] = {'\xE2', '\x96', '\x81'}; /* U+2581 */
	struct swork w = {0};
	struct tok_wcache c;
	char *esc = NULL;
	size_t m = 0, spaces = 0, lo = 0;
	int rc = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		spaces += s[i] == ' ';
	/* escaped length: every space grows by 2, plus an optional prefix */
	esc = malloc(n + 2 * spaces + 3);
	w.sym = malloc((n + 2 * spaces + 3) * sizeof(*w.sym));
	if (!esc || !w.sym) {
		rc = ENGINE_ENOMEM;
		goto out;
	}
	if (first && v->add_space_prefix) {
		memcpy(esc, ws, 3);
		m = 3;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ') {
			memcpy(esc + m, ws, 3);
			m += 3;
		} else {
			esc[m++] = s[i];
		}
	}
	w.text = esc;
	tok_wcache_init(&c, v->spm_split_words ? m : 0);
	/* Where no token has "▁" after another character, no merge can cross
	 * the start of a "▁" run: merging word by word then gives the same
	 * result with small heaps. */
	if (v->spm_split_words) {
		for (size_t i = 1; i + 3 <= m && !rc; i++) {
			if (is_ws(esc + i) && !(i >= 3 && is_ws(esc + i - 3))) {
				rc = spm_word_cached(v, &w, &c, lo, i, out);
				lo = i;
			}
		}
	}
	if (!rc)
		rc = spm_word_cached(v, &w, &c, lo, m, out);
	tok_wcache_free(&c);
out:
	if (rc == ENGINE_ENOMEM)
		rc = engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	free(esc);
	free(w.sym);
	free(w.heap.v);
	return rc;
}
