/* generate.c - the generation loop: decode a prompt, then sample, stream
 * and feed back one id at a time until a stop condition (engine.h,
 * "generation").
 *
 * Stop strings are matched on the decoded text, so a stop string may span
 * tokens.  Text is released to the caller only when no stop string can
 * still begin inside it.
 *
 * Invariants:
 * 1. `pend` holds decoded text not yet released.  After each release it
 *    holds less than the longest stop string, and no stop string lies
 *    wholly inside it; so it never exceeds max stop length + one push of
 *    the streaming decoder, the size allocated up front.
 * 2. Buffers are allocated once per call, never per token.
 * 3. A generated id is fed back (decoded) only when generation goes on, so
 *    a stop costs no forward pass.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_int.h"

/* The largest top-k engine_generate lets the device pick (see there). */
#define DEVICE_K_MAX 8

struct gen_state {
	const char *const *stop;
	size_t n_stop, max_stop;
	char *pend;          /* [max_stop + dec_cap] */
	size_t n_pend;
	char *dec;           /* [dec_cap] one decoder push */
	size_t dec_cap;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The first occurrence of `needle` in hay[0..n), or NULL. */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/* Append n bytes of new text to g->pend and decide what to release: sets
 * *release to the bytes of pend that are final and returns true when a stop
 * string begins at *release (the rest is then dropped).  `old` is where the
 * new text starts; earlier bytes hold no complete stop string (invariant
 * 1), so the search starts where a match could end in the new text. */
static bool scan_stops(struct gen_state *g, size_t old, size_t *release)
{
	size_t n = g->n_pend, hit = n, hold = 0;
	bool found = false;

	for (size_t k = 0; k < g->n_stop; k++) {
		const char *s = g->stop[k];
		size_t m = strlen(s), from = old >= m - 1 ? old - (m - 1) : 0;
		const char *at = find_bytes(g->pend + from, n - from, s, m);

		if (at && (size_t)(at - g->pend) < hit) {
			hit = (size_t)(at - g->pend);
			found = true;
		}
	}
	if (found) {
		*release = hit;
		return true;
	}
	/* hold the longest tail that is a proper prefix of some stop string */
	for (size_t k = 0; k < g->n_stop; k++) {
		const char *s = g->stop[k];
		size_t m = strlen(s);

		for (size_t t = (m - 1 < n ? m - 1 : n); t > hold; t--)
			if (memcmp(g->pend + n - t, s, t) == 0) {
				hold = t;
				break;
			}
	}
	*release = n - hold;
	return false;
}

/* Release `len` bytes of pend to the callback with `id`; keep the rest
 * unless `drop`.  Returns the callback's answer. */
static int release(struct gen_state *g, size_t len, bool drop, int32_t id,
		   engine_gen_fn fn, void *ud)
{
	int r = fn ? fn(ud, id, g->pend, len) : 0;

	if (drop)
		g->n_pend = 0;
	else {
		memmove(g->pend, g->pend + len, g->n_pend - len);
		g->n_pend -= len;
	}
	return r;
}

static int check_params(const struct engine_gen_params *p, size_t *n_stop, size_t *max_stop)
{
	if (p->version != ENGINE_GEN_PARAMS_VERSION)
		return engine_seterr(ENGINE_EINVAL, "engine_gen_params version %u unknown",
				     p->version);
	*n_stop = *max_stop = 0;
	for (size_t i = 0; p->stop && p->stop[i]; i++) {
		size_t m = strlen(p->stop[i]);

		if (i >= ENGINE_GEN_MAX_STOP)
			return engine_seterr(ENGINE_EINVAL, "more than %d stop strings",
					     ENGINE_GEN_MAX_STOP);
		if (m == 0 || m > ENGINE_GEN_MAX_STOP_LEN)
			return engine_seterr(ENGINE_EINVAL, "stop string %zu: length %zu is "
					     "not in 1..%d", i + 1, m, ENGINE_GEN_MAX_STOP_LEN);
		if (m > *max_stop)
			*max_stop = m;
		*n_stop = i + 1;
	}
	return 0;
}

int engine_generate(struct engine_gen_result *out, struct engine_ctx *c,
		    struct engine_sampler *s, const int32_t *prompt, size_t n_prompt,
		    const struct engine_gen_params *params, engine_gen_fn fn, void *ud)
{
	struct engine_gen_params defaults = ENGINE_GEN_PARAMS_INIT;
	const struct tok_vocab *v = c->m->vocab;
	const uint32_t n_vocab = c->m->hp.n_vocab;
	struct gen_state g = { 0 };
	struct tok_decoder dec;
	uint32_t free_pos = c->n_ctx - c->pos;
	bool stopped = false;
	double t0, t1 = 0;
	uint32_t dev_k = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (params == NULL)
		params = &defaults;
	if ((rc = check_params(params, &g.n_stop, &g.max_stop)) < 0)
		return rc;
	g.stop = params->stop;
	if (n_prompt == 0)
		return engine_seterr(ENGINE_EINVAL, "the prompt is empty");
	if (n_prompt > free_pos ||
	    (params->n_predict && params->n_predict > free_pos - n_prompt))
		return engine_seterr(ENGINE_EINVAL,
			"%zu prompt tokens + %u to generate do not fit the %u free "
			"positions of the context (raise --ctx-size or lower -n)",
			n_prompt, params->n_predict, free_pos);
	if (engine_sampler_n_vocab(s) != n_vocab)
		return engine_seterr(ENGINE_EINVAL, "the sampler is for %u ids, the model has %u",
				     engine_sampler_n_vocab(s), n_vocab);

	g.dec_cap = tok_decoder_max_out(v);
	g.dec = malloc(g.dec_cap);
	g.pend = malloc(g.max_stop + g.dec_cap);
	if (g.dec == NULL || g.pend == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "out of memory");
		goto out;
	}
	tok_decoder_init(&dec, v, params->decode_flags);

	/* Where the chain needs only a row's best k logits and the backend
	 * can pick them (a GPU), only those come back each token.  The device
	 * takes k passes over the row, so beyond a few copying the row back
	 * is cheaper (lavapipe: 1.9 ms for k = 40 of 32000 logits).
	 * HALO_HOST_SAMPLING=1 keeps the whole row (for comparisons). */
	{
		const char *host = getenv("HALO_HOST_SAMPLING");
		uint32_t k = host && host[0] == '1' ? 0 : engine_sampler_device_k(s);

		if (k && k <= DEVICE_K_MAX && c->be->ops->top_k && engine_ctx_set_device_topk(c, k) == 0)
			dev_k = k;
	}
	t0 = now_s();
	if ((rc = engine_decode(c, prompt, n_prompt)) < 0)
		goto out;
	t1 = now_s();
	out->n_prompt = n_prompt;
	out->t_prompt_s = t1 - t0;
	for (size_t i = 0; i < n_prompt; i++)
		engine_sampler_accept(s, prompt[i]);

	for (;;) {
		size_t rows, n, old, rel;
		const float *logits = engine_ctx_logits(c, &rows);
		int32_t id;
		bool hit;

		if (dev_k) {
			const int32_t *ids;
			const float *vals;
			size_t nk = engine_ctx_topk(c, &ids, &vals);

			rc = engine_sampler_sample_top(s, ids, vals, nk, &id);
		} else {
			rc = engine_sampler_sample(s, logits + (rows - 1) * (size_t)n_vocab, &id);
		}
		if (rc < 0)
			goto out;
		if (!params->ignore_eog && tok_is_eog(v, id)) {
			out->stop = ENGINE_STOP_EOG;
			break;
		}
		engine_sampler_accept(s, id);
		out->n_gen++;
		if ((rc = tok_decoder_push(&dec, id, g.dec, g.dec_cap, &n)) < 0)
			goto out;
		old = g.n_pend;
		memcpy(g.pend + old, g.dec, n);
		g.n_pend += n;
		hit = scan_stops(&g, old, &rel);
		if (release(&g, rel, hit, id, fn, ud) != 0) {
			out->stop = ENGINE_STOP_CALLER;
			stopped = true;
			break;
		}
		if (hit) {
			out->stop = ENGINE_STOP_STRING;
			stopped = true;
			break;
		}
		if (params->n_predict && out->n_gen >= params->n_predict) {
			out->stop = ENGINE_STOP_LIMIT;
			break;
		}
		if (c->pos >= c->n_ctx) {
			out->stop = ENGINE_STOP_CONTEXT;
			break;
		}
		if ((rc = engine_decode(c, &id, 1)) < 0)
			goto out;
	}
	if (!stopped) {
		size_t n, old = g.n_pend, rel;
		bool hit;

		if ((rc = tok_decoder_flush(&dec, g.dec, g.dec_cap, &n)) < 0)
			goto out;
		memcpy(g.pend + old, g.dec, n);
		g.n_pend += n;
		hit = scan_stops(&g, old, &rel);
		if (hit)
			out->stop = ENGINE_STOP_STRING;
		else
			rel = g.n_pend; /* the end: nothing more can complete a stop */
		release(&g, rel, true, TOK_NULL, fn, ud);
	}
	rc = 0;
out:
	if (out->n_prompt)
		out->t_gen_s = now_s() - t1;
	if (dev_k)
		engine_ctx_set_device_topk(c, 0);
	free(g.dec);
	free(g.pend);
	return rc;
}
