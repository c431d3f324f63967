/* tok_wpm.c - WordPiece (tokenizer.ggml.model = "bert").
 *
 * Normalisation and pre-tokenization as the Hugging Face BertNormalizer and
 * BertPreTokenizer do for uncased models: drop NUL, U+FFFD and "other"
 * characters (Cc, Cf, Co, Cs, Cn, except \t \n \r), turn whitespace into
 * word breaks, put every CJK ideograph and every punctuation character
 * (ASCII punctuation or a Unicode P* category) in a word of its own,
 * strip accents (NFD, drop Mn) and lowercase.
 *
 * Each word is then matched greedily longest-first.  llama.cpp's GGUF
 * conversion stores word-initial pieces with a "▁" prefix and
 * continuation pieces ("##ing") bare, so the first piece is looked up as
 * "▁" + prefix and the others as they are.  A word longer than 100
 * characters, or one with a position nothing matches, becomes [UNK].
 */
#include "tok_int.h"
#include "unicode.h"

#define WPM_MAX_WORD_CHARS 100

static bool is_cjk(uint32_t c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
	       (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
	       (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_punct(uint32_t c)
{
	enum uni_cat k;

	if (c < 0x80)
		return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
		       (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
	k = uni_category(c);
	return k >= UNI_PC && k <= UNI_PO;
}

static bool is_other(uint32_t c)
{
	enum uni_cat k;

	if (c == '\t' || c == '\n' || c == '\r')
		return false;
	k = uni_category(c);
	return k == UNI_CC || k == UNI_CF || k == UNI_CO || k == UNI_CS || k == UNI_CN;
}

/* Greedy longest-match of one normalised word w[0..n) (UTF-8). */
static void wpm_word(const struct tok_vocab *v, const char *buf, const char *w, size_t n,
		     size_t nchars, struct tok_ids *out)
{
	size_t mark = out->n, i = 0;

	if (nchars > WPM_MAX_WORD_CHARS)
		goto unk;
	while (i < n) {
		size_t j = n, lim = v->max_token_len;
		int32_t id = TOK_NULL;
		if (j - i > lim)
			j = i + lim;
		for (; j > i; j--) {
			if (j < n && (w[j] & 0xC0) == 0x80)
				continue; /* not a character boundary */
			if (i == 0) {
				id = tok_lookup(v, buf, j + 3); /* buf = "▁" w */
			} else {
				id = tok_lookup(v, w + i, j - i);
			}
			if (id != TOK_NULL)
				break;
		}
		if (id == TOK_NULL)
			goto unk;
		tok_ids_push(out, id);
		i = j;
	}
	return;
unk:
	out->n = mark;
	if (v->unk != TOK_NULL)
		tok_ids_push(out, v->unk);
}

/* The word being built: bytes beyond the character limit are not kept
 * (such a word is [UNK] whatever they are), so it never outgrows buf. */
struct wbuf {
	char b[3 + 4 * (WPM_MAX_WORD_CHARS + 1)]; /* "▁" + the word */
	size_t len, chars;
};

static void word_flush(const struct tok_vocab *v, struct wbuf *w, struct tok_ids *out)
{
	if (w->chars)
		wpm_word(v, w->b, w->b + 3, w->len, w->chars, out);
	w->len = w->chars = 0;
}

static void word_add(struct wbuf *w, uint32_t c)
{
	if (w->chars++ <= WPM_MAX_WORD_CHARS)
		w->len += uni_encode(c, w->b + 3 + w->len);
}

int tok_wpm_encode(const struct tok_vocab *v, const char *s, size_t n, struct tok_ids *out)
{
	const unsigned char *u = (const unsigned char *)s;
	struct wbuf w;

	memcpy(w.b, "\xE2\x96\x81", 3);
	w.len = w.chars = 0;
	for (size_t i = 0; i < n;) {
		uint32_t c, st[UNI_MAP_MAX], lo[UNI_MAP_MAX];
		size_t ns;
		i += uni_decode(u + i, n - i, &c);
		if (c == UNI_INVALID || c == 0 || c == 0xFFFD || is_other(c))
			continue;
		if (uni_is_whitespace(c)) {
			word_flush(v, &w, out);
			continue;
		}
		if (is_cjk(c)) {
			word_flush(v, &w, out);
			word_add(&w, c);
			word_flush(v, &w, out);
			continue;
		}
		ns = uni_strip_accents(c, st);
		for (size_t k = 0; k < ns; k++) {
			size_t nl = uni_tolower(st[k], lo);
			for (size_t q = 0; q < nl; q++) {
				if (uni_is_whitespace(lo[q])) {
					word_flush(v, &w, out);
				} else if (is_punct(lo[q])) {
					word_flush(v, &w, out);
					word_add(&w, lo[q]);
					word_flush(v, &w, out);
				} else {
					word_add(&w, lo[q]);
				}
			}
		}
	}
	word_flush(v, &w, out);
	return 0;
}
