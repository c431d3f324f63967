/* tok_int.h - what the tokenizer files share (private to the engine).
 *
 * tok_vocab.c loads a vocabulary into struct tok_vocab; tok_spm.c,
 * tok_bpe.c and tok_wpm.c each encode one plain-text fragment for their
 * model kind; tokenizer.c splits the input on special tokens, dispatches,
 * and turns ids back into text.
 *
 * Invariants of a loaded vocab:
 *  1. It never changes after tok_vocab_load(): encoders keep their scratch
 *     in a per-call struct tok_ids / local arrays, so calls may run in
 *     parallel.
 *  2. Every token text lives in `text` (NUL-terminated); `tok[i]` points
 *     into it.  When a vocab repeats a text (deepseek's added tokens "ø"
 *     beside the byte-level "ø"), the main hash finds the *first* id, the
 *     model's own entry, as Hugging Face's model vocab does; the special
 *     hash holds only control / user-defined / unknown tokens.
 *  3. BPE merges are kept only when both halves and their concatenation
 *     are tokens, so BPE works on ids, never on strings.
 */
#ifndef HALO_TOK_INT_H
#define HALO_TOK_INT_H

#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define TOK_MAX_REGEX 6   /* pre-tokenizer regexes applied in sequence */
#define TOK_MAX_TOKEN_LEN 4096 /* longer vocab entries are a format error */

enum tok_pre {
	TOK_PRE_NONE = 0,   /* SPM and WPM */
	TOK_PRE_DEFAULT,    /* BPE with "default" or no pre key */
	TOK_PRE_GPT2,
	TOK_PRE_LLAMA3,
	TOK_PRE_QWEN2,
	TOK_PRE_DEEPSEEK_LLM,
	TOK_PRE_DEEPSEEK_CODER,
	TOK_PRE_FALCON,
	TOK_PRE_STARCODER,
	TOK_PRE_MPT,
	TOK_PRE_BLOOM,
	TOK_PRE_CHATGLM4,
	TOK_PRE_GPT4O,
};

struct tok_entry {
	uint32_t off;  /* into vocab->text */
	uint32_t len;
	float score;   /* SPM merge priority */
	uint8_t type;  /* enum tok_type */
};

/* Key (left id, right id) -> merge rank and resulting id. */
struct tok_merge {
	uint64_t key;  /* (uint64_t)left << 32 | right; 0 marks an empty slot */
	uint32_t rank;
	int32_t id;
};

struct tok_vocab {
	enum tok_kind kind;
	enum tok_pre pre;
	char pre_name[64];
	int32_t n;
	char *text;               /* all token texts, each NUL-terminated */
	struct tok_entry *tok;    /* (n) */
	uint32_t *hash;           /* (hmask + 1) slots: id + 1, 0 = empty */
	uint32_t hmask;
	uint32_t *shash;          /* the same for special tokens only */
	uint32_t smask;

	int32_t bos, eos, eot, eom, unk, pad, sep, mask;
	bool add_bos, add_eos, add_sep;
	bool add_space_prefix;    /* SPM: "▁" before the first word */
	bool spm_split_words;     /* SPM: no token has "▁" after another char */
	bool ignore_merges;       /* BPE: a whole word that is a token wins */
	int32_t *eog;             /* (n_eog) end-of-generation ids */
	size_t n_eog;
	size_t max_token_len;
	size_t max_piece;

	/* Special/user-defined token matching: for each first byte, the
	 * distinct lengths of candidate texts, longest first. */
	uint32_t spec_len_off[257];
	uint16_t *spec_lens;
	bool has_spec;

	/* SPM: <0xXX> ids (TOK_NULL where absent). */
	int32_t byte_tok[256];

	/* BPE */
	int32_t bytechar_tok[256];  /* id of the one-char token for each byte */
	char bytechar[256][3];      /* byte -> its UTF-8 char (NUL-terminated) */
	int16_t unbyte[0x180];      /* code point -> byte, -1 if not a byte char */
	struct tok_merge *merges;   /* (mmask + 1) slots */
	uint64_t mmask;
	pcre2_code *re[TOK_MAX_REGEX];
	int n_re;
};

/* A growable id array with a sticky allocation failure. */
struct tok_ids {
	int32_t *v;
	size_t n, cap;
	bool oom;
};

static inline void tok_ids_push(struct tok_ids *a, int32_t id)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		int32_t *nv;
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
	a->v[a->n++] = id;
}

/* A per-call cache of encoded words (tokenizer.c): text repeats its words
 * and merging is the expensive part.  Bounded (TOK_WC_MAX_SLOTS entries,
 * words of up to TOK_WC_MAX_WORD bytes); one per encode call keeps the
 * vocab immutable.  Words are identified by their span of the fragment. */
#define TOK_WC_MAX_SLOTS 8192u
#define TOK_WC_MAX_WORD 64u
#define TOK_WC_MIN_TEXT 256u /* shorter fragments get no cache */

struct tok_wslot {
	uint32_t hash;
	uint32_t woff;   /* the word in the fragment */
	uint16_t wlen;   /* 0 = empty slot */
	uint16_t nids;
	uint32_t idoff;  /* into tok_wcache.ids */
};

struct tok_wcache {
	struct tok_wslot *slot; /* NULL: caching off */
	uint32_t mask, used;
	struct tok_ids ids;
};

void tok_wcache_init(struct tok_wcache *c, size_t text_len);
void tok_wcache_free(struct tok_wcache *c);
/* On a hit, append the word's ids to out and return true. */
bool tok_wcache_get(struct tok_wcache *c, const char *s, size_t lo, size_t hi,
		    struct tok_ids *out);
/* Remember out->v[before..out->n) as the ids of s[lo..hi). */
void tok_wcache_put(struct tok_wcache *c, const char *s, size_t lo, size_t hi,
		    const struct tok_ids *out, size_t before);

/* 64-bit FNV-1a folded; cheap and good enough for token texts. */
static inline uint32_t tok_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static inline const char *tok_text(const struct tok_vocab *v, int32_t id)
{
	return v->text + v->tok[id].off;
}

static inline int32_t tok_hash_find(const struct tok_vocab *v, const uint32_t *tab,
				    uint32_t mask, const char *s, size_t n)
{
	uint32_t i = tok_hash(s, n) & mask;

	for (;;) {
		uint32_t e = tab[i];
		if (!e)
			return TOK_NULL;
		const struct tok_entry *t = &v->tok[e - 1];
		if (t->len == n && memcmp(v->text + t->off, s, n) == 0)
			return (int32_t)(e - 1);
		i = (i + 1) & mask;
	}
}

/* Lookup of an exact text; TOK_NULL if absent. */
static inline int32_t tok_lookup(const struct tok_vocab *v, const char *s, size_t n)
{
	return tok_hash_find(v, v->hash, v->hmask, s, n);
}

/* Lookup among control, user-defined and unknown tokens only. */
static inline int32_t tok_lookup_special(const struct tok_vocab *v, const char *s, size_t n)
{
	return tok_hash_find(v, v->shash, v->smask, s, n);
}

/* Encoders of one plain-text fragment (no special tokens inside).
 * `first` is true for the first text fragment or one right after a
 * special token (SPM adds its space prefix there). */
int tok_spm_encode(const struct tok_vocab *v, const char *s, size_t n, bool first,
		   struct tok_ids *out);
/* Whether merges can never cross the start of a "▁" run (tok_spm.c). */
bool tok_spm_can_split(const struct tok_vocab *v);
int tok_bpe_encode(const struct tok_vocab *v, const char *s, size_t n,
		   struct tok_ids *out);
int tok_wpm_encode(const struct tok_vocab *v, const char *s, size_t n,
		   struct tok_ids *out);

/* BPE setup (tok_bpe.c): byte tables, merges, regexes; teardown frees
 * what setup made. */
int tok_bpe_setup(struct tok_vocab *v, const struct gguf_file *f);
void tok_bpe_teardown(struct tok_vocab *v);


/* ---- merge candidates (SPM and BPE encoders) ------------------------------ */

/* A candidate merge of adjacent symbols (left, right).  `prio` orders the
 * heap, smallest first (BPE: the merge rank; SPM: minus the token score);
 * ties go to the leftmost pair.  a and b let the encoder recognise a stale
 * entry (BPE: the two symbols' ids; SPM: their joint length). */
struct tok_cand {
	float prio;
	int32_t left, right;
	int32_t a, b;
};

struct tok_heap {
	struct tok_cand *v;
	size_t n, cap;
};

/* Push (growing the heap; ENGINE_ENOMEM if that fails) and pop the first. */
int tok_heap_push(struct tok_heap *h, struct tok_cand c);
struct tok_cand tok_heap_pop(struct tok_heap *h);

#endif
