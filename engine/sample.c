/* sample.c - the sampler chain: penalties, greedy, top-k, top-p, min-p,
 * temperature, and a seeded draw (the contract is in engine.h, "sampling").
 *
 * Invariants:
 * 1. Nothing is allocated after engine_sampler_new(): the candidate array
 *    and the per-id counts are n_vocab long, the history ring
 *    penalty_last_n long.
 * 2. s->count is all zero between calls (penalties count the window into it
 *    and clear what they counted).
 * 3. The order of candidates depends only on the logits and the history,
 *    never on the random state, so one seed gives one token sequence.
 *    "Before" is: larger logit first, then lower id.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* The first top-p attempt sorts this many candidates; more when the mass
 * is spread wider. */
#define TOPP_FIRST 256

struct engine_sampler {
	struct engine_sampler_params p;
	uint32_t n_vocab;
	struct engine_token_prob *cand; /* [n_vocab] */
	uint32_t *count;                /* [n_vocab], zero between calls */
	int32_t *hist;                  /* ring [penalty_last_n] */
	uint32_t hist_len, hist_head;   /* ids held; next slot to write */
	uint64_t rng[4];                /* xoshiro256** state */
};

/* ---- random numbers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t *s)
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rand01(struct engine_sampler *s)
{
	return (double)(xoshiro_next(s->rng) >> 11) * 0x1.0p-53;
}

static void seed_rng(struct engine_sampler *s)
{
	uint64_t x = s->p.seed;

	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x); /* four outputs of a bijection: never all zero */
}

/* ---- lifecycle --------------------------------------------------------- */

int engine_sampler_new(struct engine_sampler **out, uint32_t n_vocab,
		       const struct engine_sampler_params *params)
{
	struct engine_sampler_params defaults = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_sampler *s;

	*out = NULL;
	if (params == NULL)
		params = &defaults;
	if (params->version != ENGINE_SAMPLER_PARAMS_VERSION)
		return engine_seterr(ENGINE_EINVAL, "engine_sampler_params version %u unknown",
				     params->version);
	if (n_vocab == 0 || n_vocab > INT32_MAX)
		return engine_seterr(ENGINE_EINVAL, "sampler: bad vocabulary size %u", n_vocab);
	if (!isfinite(params->temp))
		return engine_seterr(ENGINE_EINVAL, "sampler: temperature must be a number");
	if (!isfinite(params->top_p) || params->top_p < 0)
		return engine_seterr(ENGINE_EINVAL, "sampler: top-p must be >= 0");
	if (!isfinite(params->min_p) || params->min_p < 0 || params->min_p > 1)
		return engine_seterr(ENGINE_EINVAL, "sampler: min-p must be in [0, 1]");
	if (!isfinite(params->repeat_penalty) || params->repeat_penalty <= 0)
		return engine_seterr(ENGINE_EINVAL, "sampler: repeat penalty must be > 0");
	if (!isfinite(params->frequency_penalty) || !isfinite(params->presence_penalty))
		return engine_seterr(ENGINE_EINVAL, "sampler: penalties must be numbers");
	if (params->penalty_last_n > ENGINE_SAMPLER_MAX_LAST_N)
		return engine_seterr(ENGINE_EINVAL, "sampler: penalty window %u is larger than %u",
				     params->penalty_last_n, ENGINE_SAMPLER_MAX_LAST_N);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto nomem;
	s->p = *params;
	s->n_vocab = n_vocab;
	s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
	s->count = calloc(n_vocab, sizeof(*s->count));
	s->hist = malloc((params->penalty_last_n ? params->penalty_last_n : 1) *
			 sizeof(*s->hist));
	if (s->cand == NULL || s->count == NULL || s->hist == NULL)
		goto nomem;
	seed_rng(s);
	*out = s;
	return 0;
nomem:
	engine_sampler_free(s);
	return engine_seterr(ENGINE_ENOMEM, "sampler: out of memory");
}

void engine_sampler_free(struct engine_sampler *s)
{
	if (s == NULL)
		return;
	free(s->cand);
	free(s->count);
	free(s->hist);
	free(s);
}

uint32_t engine_sampler_n_vocab(const struct engine_sampler *s)
{
	return s->n_vocab;
}

void engine_sampler_reset(struct engine_sampler *s)
{
	s->hist_len = s->hist_head = 0;
	seed_rng(s);
}

void engine_sampler_accept(struct engine_sampler *s, int32_t id)
{
	uint32_t cap = s->p.penalty_last_n;

	if (cap == 0 || id < 0 || (uint32_t)id >= s->n_vocab)
		return;
	s->hist[s->hist_head] = id;
	s->hist_head = (s->hist_head + 1) % cap;
	if (s->hist_len < cap)
		s->hist_len++;
}

/* ---- ordering ---------------------------------------------------------- */

static bool before(const struct engine_token_prob *a, const struct engine_token_prob *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void swap(struct engine_token_prob *a, struct engine_token_prob *b)
{
	struct engine_token_prob t = *a;

	*a = *b;
	*b = t;
}

/* Restore the heap below node i of c[0..n): the root is the one that
 * comes last in "before" order. */
static void sift_down(struct engine_token_prob *c, size_t i, size_t n)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && before(&c[m], &c[l]))
			m = l;
		if (l + 1 < n && before(&c[m], &c[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		swap(&c[i], &c[m]);
		i = m;
	}
}

/* Sort c[0..n) into "before" order in place.  A heapsort: glibc's qsort
 * may malloc a merge buffer, and sampling allocates nothing (invariant 1). */
static void sort_cands(struct engine_token_prob *c, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(c, i, n);
	for (size_t end = n; end > 1; end--) {
		swap(&c[0], &c[end - 1]);
		sift_down(c, 0, end - 1);
	}
}

/* Rearrange c[0..n) so that c[0..m) are the m first in "before" order,
 * sorted (0 < m <= n).  Quickselect with a median-of-three pivot; keys are
 * distinct (ids break ties), so every round shrinks the range. */
static void select_top(struct engine_token_prob *c, size_t n, size_t m)
{
	size_t lo = 0, hi = n; /* the m-th element lies in [lo, hi) */

	while (hi - lo > 16 && lo < m && m < hi) {
		size_t mid = lo + (hi - lo) / 2, i, store;

		if (before(&c[hi - 1], &c[lo]))
			swap(&c[lo], &c[hi - 1]);
		if (before(&c[mid], &c[lo]))
			swap(&c[mid], &c[lo]);
		if (before(&c[hi - 1], &c[mid]))
			swap(&c[mid], &c[hi - 1]);
		/* pivot (the median) to hi-1, partition [lo, hi-1) */
		swap(&c[mid], &c[hi - 1]);
		store = lo;
		for (i = lo; i < hi - 1; i++)
			if (before(&c[i], &c[hi - 1]))
				swap(&c[i], &c[store++]);
		swap(&c[store], &c[hi - 1]);
		if (store + 1 == m || store == m)
			break;
		if (store < m)
			lo = store + 1;
		else
			hi = store;
	}
	/* a short range still straddling m: sorting it places the m-th */
	if (lo < m && m < hi)
		sort_cands(c + lo, hi - lo);
	sort_cands(c, m);
}

/* ---- the chain --------------------------------------------------------- */

static void apply_penalties(struct engine_sampler *s)
{
	const struct engine_sampler_params *p = &s->p;

	if (s->hist_len == 0 ||
	    (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f &&
	     p->presence_penalty == 0.0f))
		return;
	for (uint32_t i = 0; i < s->hist_len; i++)
		s->count[s->hist[i]]++;
	/* the ring's order does not matter; each distinct id once (invariant 2) */
	for (uint32_t i = 0; i < s->hist_len; i++) {
		int32_t id = s->hist[i];
		uint32_t c = s->count[id];
		float *l = &s->cand[id].logit;

		if (c == 0)
			continue;
		*l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
		*l -= (float)c * p->frequency_penalty + p->presence_penalty;
		s->count[id] = 0;
	}
}

static int filter_chain(struct engine_sampler *s, size_t n, bool need_sorted, size_t *n_out,
			bool *sorted);

/* Run steps 1-5 into s->cand[0..*n_out).  *sorted tells whether they are
 * in "before" order; with need_sorted they always are. */
static int run_chain(struct engine_sampler *s, const float *logits, bool need_sorted,
		     size_t *n_out, bool *sorted)
{
	struct engine_token_prob *c = s->cand;
	size_t n = 0;

	for (uint32_t i = 0; i < s->n_vocab; i++) {
		c[i].id = (int32_t)i;
		c[i].logit = logits[i];
		c[i].p = 0;
	}
	apply_penalties(s);
	/* drop NaN and infinities: a logit the softmax cannot weigh */
	for (uint32_t i = 0; i < s->n_vocab; i++)
		if (isfinite(c[i].logit))
			c[n++] = c[i];
	*sorted = false;
	return filter_chain(s, n, need_sorted, n_out, sorted);
}

/* Steps 2-5 over the n finite candidates s->cand[0..n). */
static int filter_chain(struct engine_sampler *s, size_t n, bool need_sorted, size_t *n_out,
			bool *sorted)
{
	const struct engine_sampler_params *p = &s->p;
	struct engine_token_prob *c = s->cand;
	size_t best = 0;

	if (n == 0)
		return engine_seterr(ENGINE_EINVAL, "sampler: no finite logit");
	if (p->temp <= 0) {
		for (size_t i = 1; i < n; i++)
			if (before(&c[i], &c[best]))
				best = i;
		c[0] = c[best];
		*n_out = 1;
		*sorted = true;
		return 0;
	}
	if (p->top_k > 0 && (size_t)p->top_k < n) {
		select_top(c, n, (size_t)p->top_k);
		n = (size_t)p->top_k;
		*sorted = true;
	} else if (p->top_k > 0 && !*sorted) {
		/* top-k keeps them all: still in its order, so that a draw from
		 * a device's candidates (always sorted) picks the same id */
		sort_cands(c, n);
		*sorted = true;
	}
	if (p->top_p < 1.0f && n > 1) {
		double z = 0, cum = 0, lmax = -INFINITY, target;
		size_t have = *sorted ? n : 0, i = 0;

		for (size_t j = 0; j < n; j++)
			if (c[j].logit > lmax)
				lmax = c[j].logit;
		for (size_t j = 0; j < n; j++)
			z += exp(c[j].logit - lmax);
		target = (double)p->top_p * z;
		for (;;) {
			if (i == have) {
				size_t want = have ? have * 4 : TOPP_FIRST;

				if (want > n)
					want = n;
				select_top(c + have, n - have, want - have);
				have = want;
			}
			cum += exp(c[i].logit - lmax);
			i++;
			if (cum >= target || i == n)
				break;
		}
		n = i;
		*sorted = true;
	}
	if (p->min_p > 0 && n > 1) {
		float lmax = -INFINITY, cut;
		size_t k = 0;

		for (size_t j = 0; j < n; j++)
			if (c[j].logit > lmax)
				lmax = c[j].logit;
		/* p_j >= min_p * p_max  <=>  l_j >= l_max + log(min_p) */
		cut = lmax + logf(p->min_p);
		for (size_t j = 0; j < n; j++)
			if (c[j].logit >= cut)
				c[k++] = c[j];
		n = k; /* the maximum always stays; compaction keeps the order */
	}
	if (need_sorted && !*sorted) {
		sort_cands(c, n);
		*sorted = true;
	}
	*n_out = n;
	return 0;
}

int engine_sampler_candidates(struct engine_sampler *s, const float *logits,
			      const struct engine_token_prob **out, size_t *n_out)
{
	struct engine_token_prob *c = s->cand;
	double z = 0;
	size_t n;
	bool sorted;
	int rc;

	*out = NULL;
	*n_out = 0;
	if ((rc = run_chain(s, logits, true, &n, &sorted)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		z += exp((double)c[i].logit - c[0].logit);
	for (size_t i = 0; i < n; i++)
		c[i].p = (float)(exp((double)c[i].logit - c[0].logit) / z);
	*out = c;
	*n_out = n;
	return 0;
}

static int draw(struct engine_sampler *s, size_t n, int32_t *out);

int engine_sampler_sample(struct engine_sampler *s, const float *logits, int32_t *out)
{
	size_t n;
	bool sorted;
	int rc;

	*out = TOK_NULL;
	if ((rc = run_chain(s, logits, false, &n, &sorted)) < 0)
		return rc;
	return draw(s, n, out);
}

uint32_t engine_sampler_device_k(const struct engine_sampler *s)
{
	const struct engine_sampler_params *p = &s->p;

	/* penalties move logits before any selection */
	if (p->penalty_last_n != 0 && (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f ||
				       p->presence_penalty != 0.0f))
		return 0;
	if (p->temp <= 0)
		return 1;
	return p->top_k > 0 && p->top_k <= ENGINE_TOPK_MAX ? (uint32_t)p->top_k : 0;
}

int engine_sampler_sample_top(struct engine_sampler *s, const int32_t *ids, const float *vals,
			      size_t n, int32_t *out)
{
	struct engine_token_prob *c = s->cand;
	size_t m = 0, k = 0;
	bool sorted = true;
	int rc;

	*out = TOK_NULL;
	if (n > s->n_vocab)
		return engine_seterr(ENGINE_EINVAL, "sampler: %zu candidates for %u ids", n, s->n_vocab);
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && (uint32_t)ids[i] < s->n_vocab && isfinite(vals[i]))
			c[m++] = (struct engine_token_prob){ ids[i], vals[i], 0 };
	/* the order the whole-row chain would have after its top-k */
	sort_cands(c, m);
	if ((rc = filter_chain(s, m, false, &k, &sorted)) < 0)
		return rc;
	return draw(s, k, out);
}

/* Step 6 over s->cand[0..n): a draw from softmax(l / temp). */
static int draw(struct engine_sampler *s, size_t n, int32_t *out)
{
	struct engine_token_prob *c = s->cand;
	double lmax = -INFINITY, z = 0, u;
	size_t i;

	if (n == 1) {
		*out = c[0].id;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (c[i].logit > lmax)
			lmax = c[i].logit;
	for (i = 0; i < n; i++) {
		c[i].p = (float)exp((c[i].logit - lmax) / s->p.temp);
		z += c[i].p;
	}
	u = rand01(s) * z;
	for (i = 0; i + 1 < n; i++) {
		u -= c[i].p;
		if (u < 0)
			break;
	}
	*out = c[i].id;
	return 0;
}
