/* tokenizer.c - the tokenizer front: special-token splitting, dispatch to
 * the SPM / BPE / WPM encoders, ids back to text, streaming decoding.
 *
 * Special tokens: the text is scanned once, left to right; at each byte
 * the longest special text starting there wins (leftmost-longest, as the
 * Hugging Face added-token matcher does).  User-defined tokens always
 * match; control and unknown tokens only with parse_special.  The
 * candidates are found through a per-first-byte list of text lengths and
 * the vocab hash, so text without specials costs one table probe a byte.
 */
#include "tok_int.h"
#include "unicode.h"

/* ==== word cache ============================================================ */

void tok_wcache_init(struct tok_wcache *c, size_t text_len)
{
	uint32_t slots = 256;

	memset(c, 0, sizeof(*c));
	if (text_len < TOK_WC_MIN_TEXT || text_len > UINT32_MAX)
		return;
	while (slots < TOK_WC_MAX_SLOTS && slots < text_len / 4)
		slots <<= 1;
	c->slot = calloc(slots, sizeof(*c->slot)); /* NULL: just no cache */
	c->mask = slots - 1;
}

void tok_wcache_free(struct tok_wcache *c)
{
	free(c->slot);
	free(c->ids.v);
	memset(c, 0, sizeof(*c));
}

static uint32_t wc_find(const struct tok_wcache *c, const char *s, size_t lo, size_t n,
			uint32_t h, bool *hit)
{
	uint32_t i;

	for (i = h & c->mask; c->slot[i].wlen; i = (i + 1) & c->mask) {
		const struct tok_wslot *e = &c->slot[i];
		if (e->hash == h && e->wlen == n && !memcmp(s + e->woff, s + lo, n)) {
			*hit = true;
			return i;
		}
	}
	*hit = false;
	return i;
}

bool tok_wcache_get(struct tok_wcache *c, const char *s, size_t lo, size_t hi,
		    struct tok_ids *out)
{
	size_t n = hi - lo;
	bool hit;
	uint32_t i;

	if (!c->slot || n > TOK_WC_MAX_WORD)
		return false;
	i = wc_find(c, s, lo, n, tok_hash(s + lo, n), &hit);
	if (!hit)
		return false;
	for (uint32_t k = 0; k < c->slot[i].nids; k++)
		tok_ids_push(out, c->ids.v[c->slot[i].idoff + k]);
	return true;
}

void tok_wcache_put(struct tok_wcache *c, const char *s, size_t lo, size_t hi,
		    const struct tok_ids *out, size_t before)
{
	size_t n = hi - lo;
	uint32_t h, i;
	bool hit;

	if (!c->slot || n > TOK_WC_MAX_WORD || out->oom || c->ids.oom ||
	    c->used >= (c->mask + 1) / 4 * 3 || out->n - before > 0xFFFF)
		return;
	h = tok_hash(s + lo, n);
	i = wc_find(c, s, lo, n, h, &hit);
	if (hit)
		return;
	c->slot[i].hash = h;
	c->slot[i].woff = (uint32_t)lo;
	c->slot[i].wlen = (uint16_t)n;
	c->slot[i].nids = (uint16_t)(out->n - before);
	c->slot[i].idoff = (uint32_t)c->ids.n;
	for (size_t k = before; k < out->n; k++)
		tok_ids_push(&c->ids, out->v[k]);
	c->used++;
}

/* ==== encoding ============================================================= */

static int encode_fragment(const struct tok_vocab *v, const char *s, size_t n, bool first,
			   struct tok_ids *out)
{
	switch (v->kind) {
	case TOK_KIND_SPM:
		return tok_spm_encode(v, s, n, first, out);
	case TOK_KIND_BPE:
		return tok_bpe_encode(v, s, n, out);
	case TOK_KIND_WPM:
		return tok_wpm_encode(v, s, n, out);
	}
	return engine_seterr(ENGINE_EINVAL, "tokenizer: bad vocab kind");
}

/* The special token at s[0..n), or TOK_NULL; its length in *len. */
static int32_t match_special(const struct tok_vocab *v, const char *s, size_t n,
			     bool parse_special, size_t *len)
{
	unsigned char b = (unsigned char)s[0];

	for (uint32_t i = v->spec_len_off[b]; i < v->spec_len_off[b + 1]; i++) {
		size_t l = v->spec_lens[i];
		int32_t id;
		uint8_t t;
		if (l > n)
			continue;
		id = tok_lookup_special(v, s, l);
		if (id == TOK_NULL)
			continue;
		t = v->tok[id].type;
		if (t == TOK_TYPE_USER_DEFINED ||
		    (parse_special && (t == TOK_TYPE_CONTROL || t == TOK_TYPE_UNKNOWN))) {
			*len = l;
			return id;
		}
	}
	return TOK_NULL;
}

static int encode_all(const struct tok_vocab *v, const char *text, size_t len,
		      bool add_special, bool parse_special, struct tok_ids *ids)
{
	size_t start = 0, pos = 0;
	bool first = true;
	int rc = 0;

	if (len > TOK_MAX_TEXT)
		return engine_seterr(ENGINE_EINVAL, "tokenizer: text of %zu bytes is too long", len);
	if (add_special && v->add_bos)
		tok_ids_push(ids, v->bos);
	while (v->has_spec && pos < len) {
		unsigned char b = (unsigned char)text[pos];
		size_t sl;
		int32_t id;
		if (v->spec_len_off[b] == v->spec_len_off[b + 1]) {
			pos++;
			continue;
		}
		id = match_special(v, text + pos, len - pos, parse_special, &sl);
		if (id == TOK_NULL) {
			pos++;
			continue;
		}
		if (pos > start) {
			rc = encode_fragment(v, text + start, pos - start, first, ids);
			if (rc)
				return rc;
		}
		tok_ids_push(ids, id);
		first = true;
		pos += sl;
		start = pos;
	}
	if (len > start) {
		rc = encode_fragment(v, text + start, len - start, first, ids);
		if (rc)
			return rc;
	}
	if (add_special && v->add_eos)
		tok_ids_push(ids, v->eos);
	if (add_special && v->add_sep)
		tok_ids_push(ids, v->sep);
	if (ids->oom)
		return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	return 0;
}

int tok_encode(const struct tok_vocab *v, const char *text, size_t len,
	       bool add_special, bool parse_special,
	       int32_t *out, size_t cap, size_t *n_out)
{
	struct tok_ids ids = {0};
	int rc;

	*n_out = 0;
	if (!v || (!text && len))
		return engine_seterr(ENGINE_EINVAL, "tokenizer: no vocab or text");
	rc = encode_all(v, text, len, add_special, parse_special, &ids);
	if (!rc) {
		*n_out = ids.n;
		if (ids.n)
			memcpy(out, ids.v, (ids.n < cap ? ids.n : cap) * sizeof(int32_t));
		if (ids.n > cap)
			rc = engine_seterr(ENGINE_EINVAL, "tokenizer: %zu ids do not fit in %zu",
					   ids.n, cap);
	}
	free(ids.v);
	return rc;
}

int tok_encode_alloc(int32_t **out, size_t *n_out, const struct tok_vocab *v,
		     const char *text, size_t len, bool add_special, bool parse_special)
{
	struct tok_ids ids = {0};
	int rc;

	*out = NULL;
	*n_out = 0;
	if (!v || (!text && len))
		return engine_seterr(ENGINE_EINVAL, "tokenizer: no vocab or text");
	rc = encode_all(v, text, len, add_special, parse_special, &ids);
	if (rc) {
		free(ids.v);
		return rc;
	}
	if (!ids.v) {
		ids.v = malloc(sizeof(int32_t)); /* a valid pointer even for 0 ids */
		if (!ids.v)
			return engine_seterr(ENGINE_ENOMEM, "tokenizer: out of memory");
	}
	*out = ids.v;
	*n_out = ids.n;
	return 0;
}

/* ==== ids to text ============================================================ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Write the piece into buf (always large enough: tok_max_piece). */
static size_t piece(const struct tok_vocab *v, int32_t id, bool special, char *buf)
{
	const struct tok_entry *t = &v->tok[id];
	const char *s = v->text + t->off;
	size_t n = 0;

	switch (t->type) {
	case TOK_TYPE_CONTROL:
		if (!special)
			return 0;
		memcpy(buf, s, t->len);
		return t->len;
	case TOK_TYPE_USER_DEFINED:
		memcpy(buf, s, t->len);
		return t->len;
	case TOK_TYPE_BYTE:
		if (t->len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' &&
		    hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
			buf[0] = (char)(hexval(s[3]) * 16 + hexval(s[4]));
			return 1;
		}
		break;
	default:
		break;
	}
	if (v->kind == TOK_KIND_BPE && t->type != TOK_TYPE_UNKNOWN) {
		const unsigned char *u = (const unsigned char *)s;
		for (size_t i = 0; i < t->len;) {
			uint32_t cp;
			size_t l = uni_decode(u + i, t->len - i, &cp);
			if (cp != UNI_INVALID && cp < 0x180 && v->unbyte[cp] >= 0)
				buf[n++] = (char)v->unbyte[cp];
			else {
				memcpy(buf + n, s + i, l);
				n += l;
			}
			i += l;
		}
		return n;
	}
	/* SPM and WPM: "▁" stands for a space */
	for (size_t i = 0; i < t->len;) {
		if (i + 3 <= t->len && !memcmp(s + i, "\xE2\x96\x81", 3)) {
			buf[n++] = ' ';
			i += 3;
		} else {
			buf[n++] = s[i++];
		}
	}
	return n;
}

long tok_token_to_piece(const struct tok_vocab *v, int32_t id, bool special,
			char *buf, size_t cap)
{
	char tmp[TOK_MAX_TOKEN_LEN + 8];
	size_t n;

	if (!v || id < 0 || id >= v->n)
		return -1;
	n = piece(v, id, special, tmp);
	if (n <= cap)
		memcpy(buf, tmp, n);
	return (long)n;
}

/* Whether the first space of the first piece goes (SPM's dummy prefix). */
static bool strips_space(const struct tok_vocab *v, unsigned flags)
{
	return v->kind != TOK_KIND_BPE && (v->add_space_prefix || v->kind == TOK_KIND_WPM) &&
	       !(flags & TOK_DECODE_KEEP_SPACE);
}

long tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n,
		unsigned flags, char *buf, size_t cap)
{
	char tmp[TOK_MAX_TOKEN_LEN + 8];
	size_t total = 0;
	bool started = false;

	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *p = tmp;
		if (ids[i] < 0 || ids[i] >= v->n)
			return -1;
		l = piece(v, ids[i], flags & TOK_DECODE_SPECIAL, tmp);
		if (!l)
			continue;
		if (!started && strips_space(v, flags) && p[0] == ' ') {
			p++;
			l--;
		}
		started = true;
		if (total + l < cap)
			memcpy(buf + total, p, l);
		total += l;
	}
	if (total < cap)
		buf[total] = 0;
	return (long)total;
}

/* ==== streaming decoder ======================================================= */

void tok_decoder_init(struct tok_decoder *d, const struct tok_vocab *v, unsigned flags)
{
	memset(d, 0, sizeof(*d));
	d->vocab = v;
	d->flags = flags;
}

size_t tok_decoder_max_out(const struct tok_vocab *v)
{
	return 3 * (v->max_piece + 4) + 1;
}

/* Emit s[0..n) with bad bytes as U+FFFD and an incomplete tail held. */
static size_t sanitize(struct tok_decoder *d, const unsigned char *s, size_t n, char *out)
{
	size_t o = 0;

	while (n) {
		bool bad;
		size_t ok = uni_valid_prefix(s, n, &bad);
		memcpy(out + o, s, ok);
		o += ok;
		s += ok;
		n -= ok;
		if (!n)
			break;
		if (!bad) { /* a sequence still missing its last bytes */
			memcpy(d->held, s, n);
			d->n_held = (unsigned char)n;
			break;
		}
		memcpy(out + o, "\xEF\xBF\xBD", 3);
		o += 3;
		ok = uni_bad_len(s, n);
		s += ok;
		n -= ok;
	}
	return o;
}

int tok_decoder_push(struct tok_decoder *d, int32_t id, char *out, size_t cap, size_t *n_out)
{
	const struct tok_vocab *v = d->vocab;
	unsigned char tmp[TOK_MAX_TOKEN_LEN + 16];
	size_t l, h = d->n_held;
	unsigned char *p;

	*n_out = 0;
	if (id < 0 || id >= v->n)
		return engine_seterr(ENGINE_EINVAL, "tokenizer: token id %d out of range", (int)id);
	if (cap < tok_decoder_max_out(v))
		return engine_seterr(ENGINE_EINVAL, "tokenizer: decoder buffer too small");
	memcpy(tmp, d->held, h);
	l = piece(v, id, d->flags & TOK_DECODE_SPECIAL, (char *)tmp + h);
	if (!l)
		return 0;
	p = tmp + h;
	if (!d->started && strips_space(v, d->flags) && p[0] == ' ') {
		memmove(p, p + 1, l - 1);
		l--;
	}
	d->started = true;
	d->n_held = 0;
	*n_out = sanitize(d, tmp, h + l, out);
	return 0;
}

int tok_decoder_flush(struct tok_decoder *d, char *out, size_t cap, size_t *n_out)
{
	*n_out = 0;
	if (d->n_held) {
		if (cap < 3)
			return engine_seterr(ENGINE_EINVAL, "tokenizer: decoder buffer too small");
		memcpy(out, "\xEF\xBF\xBD", 3);
		*n_out = 3;
	}
	tok_decoder_init(d, d->vocab, d->flags);
	return 0;
}

/* ---- the merge-candidate heap ---------------------------------------------- */

static bool cand_less(const struct tok_cand *x, const struct tok_cand *y)
{
	return x->prio < y->prio || (x->prio == y->prio && x->left < y->left);
}

int tok_heap_push(struct tok_heap *h, struct tok_cand c)
{
	size_t i;

	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct tok_cand *nv = realloc(h->v, nc * sizeof(*nv));

		if (!nv)
			return ENGINE_ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	for (i = h->n++; i > 0; i = (i - 1) / 2) {
		if (!cand_less(&c, &h->v[(i - 1) / 2]))
			break;
		h->v[i] = h->v[(i - 1) / 2];
	}
	h->v[i] = c;
	return 0;
}

struct tok_cand tok_heap_pop(struct tok_heap *h)
{
	struct tok_cand top = h->v[0], last = h->v[--h->n];
	size_t i = 0, n = h->n;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && cand_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!cand_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (n)
		h->v[i] = last;
	return top;
}
