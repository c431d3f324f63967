/* cmd_eval.c - `halo-agent eval`: the logits of an exact id sequence.
 *
 * Feeds the ids as given (no BOS added) in one batch, or one per decode
 * through the KV cache with --one-by-one, and writes the logits of every
 * position as a float32 [n_tokens, n_vocab] .npy (atomically), or prints
 * the argmax of each position.  This is how the engine is compared with
 * reference logits from outside the test suite. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli_engine.h"

#define EVAL_MAX_TOKENS 65536u
#define EVAL_MAX_LOGIT_BYTES ((uint64_t)4 << 30) /* the [n_tokens, n_vocab] matrix */

enum {
	OPT_TOKENS = CLI_OPT_FIRST_FREE,
	OPT_ONE_BY_ONE,
	OPT_LOGITS,
};

/* Parse "1,15,27" (commas and/or blanks) into *out (malloc'ed). */
static int parse_tokens(const char *cmd, const char *s, int32_t **out, size_t *n_out)
{
	size_t n = 0, cap = 0;
	int32_t *ids = NULL;
	const char *p = s;

	*out = NULL;
	*n_out = 0;
	for (;;) {
		char *end;
		long long v;

		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		if (*p < '0' || *p > '9') {
			free(ids);
			return cli_usage_error(cmd, "--tokens: '%.20s' is not a token id "
					       "(give ids like 1,15,27)", p);
		}
		v = strtoll(p, &end, 10);
		if (v > INT32_MAX || (*end && *end != ',' && *end != ' ' && *end != '\t' &&
				      *end != '\n')) {
			free(ids);
			return cli_usage_error(cmd, "--tokens: '%.20s' is not a token id "
					       "(give ids like 1,15,27)", p);
		}
		if (n == EVAL_MAX_TOKENS) {
			free(ids);
			return cli_usage_error(cmd, "--tokens: more than %u ids", EVAL_MAX_TOKENS);
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			int32_t *ni = realloc(ids, nc * sizeof(*ids));

			if (ni == NULL) {
				free(ids);
				return cli_fail("%s: out of memory", cmd);
			}
			ids = ni;
			cap = nc;
		}
		ids[n++] = (int32_t)v;
		p = end;
	}
	if (n == 0) {
		free(ids);
		return cli_usage_error(cmd, "--tokens: no ids given");
	}
	*out = ids;
	*n_out = n;
	return EXIT_OK;
}

static int32_t argmax(const float *v, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return (int32_t)best;
}

static int print_summary(struct app *app, const int32_t *ids, size_t n, const float *lg,
			 size_t n_vocab, const char *npy, bool one_by_one)
{
	json_t *root = NULL, *arr = NULL;
	int rc = EXIT_OK;

	if (!app->json) {
		if (npy) {
			cli_info(app, "eval: %zu x %zu logits written to %s\n", n, n_vocab, npy);
			return EXIT_OK;
		}
		printf("pos\tid\targmax\tlogit\n");
		for (size_t i = 0; i < n; i++) {
			const float *row = lg + i * n_vocab;
			int32_t a = argmax(row, n_vocab);

			printf("%zu\t%d\t%d\t%.6f\n", i, (int)ids[i], (int)a, (double)row[a]);
		}
		return fflush(stdout) == 0 ? EXIT_OK : cli_fail("eval: cannot write output");
	}
	root = json_object();
	arr = json_array();
	if (!root || !arr) {
		rc = cli_fail("eval: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const float *row = lg + i * n_vocab;
		int32_t a = argmax(row, n_vocab);
		json_t *o = json_object();

		json_object_set_new(o, "pos", json_integer((json_int_t)i));
		json_object_set_new(o, "id", json_integer(ids[i]));
		json_object_set_new(o, "argmax", json_integer(a));
		json_object_set_new(o, "logit", json_real(row[a]));
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "n_tokens", json_integer((json_int_t)n));
	json_object_set_new(root, "n_vocab", json_integer((json_int_t)n_vocab));
	json_object_set_new(root, "mode", json_string(one_by_one ? "one-by-one" : "batch"));
	json_object_set_new(root, "logits_file", npy ? json_string(npy) : json_null());
	json_object_set_new(root, "positions", arr);
	arr = NULL;
	if (json_dumpf(root, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		rc = cli_fail("eval: cannot write output");
out:
	json_decref(arr);
	json_decref(root);
	return rc;
}

int cmd_eval(struct app *app, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "one-by-one", no_argument, NULL, OPT_ONE_BY_ONE },
		{ "logits", required_argument, NULL, OPT_LOGITS },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, CLI_OPT_BACKEND },
		{ "device", required_argument, NULL, CLI_OPT_DEVICE },
		{ "kv-type", required_argument, NULL, CLI_OPT_KV_TYPE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_engine_opts eo;
	const char *tokens = NULL, *npy = NULL;
	bool one_by_one = false;
	struct engine_model *m = NULL;
	struct engine_ctx *c = NULL;
	int32_t *ids = NULL;
	float *lg = NULL;
	size_t n = 0, n_vocab;
	int opt, rc, t;

	cli_engine_opts_init(&eo, app);
	while ((opt = cli_getopt(argc, argv, "m:t:", longopts)) != -1) {
		if ((t = cli_engine_opt(argv[0], opt, optarg, &eo)) < 0)
			return EXIT_USAGE;
		if (t > 0)
			continue;
		switch (opt) {
		case OPT_TOKENS: tokens = optarg; break;
		case OPT_ONE_BY_ONE: one_by_one = true; break;
		case OPT_LOGITS: npy = optarg; break;
		default: return cli_help_or_usage(argv[0], opt);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (tokens == NULL)
		return cli_usage_error(argv[0], "missing --tokens ID,ID,...");
	if (eo.model == NULL)
		return cli_usage_error(argv[0], "missing -m FILE.gguf (or set engine.model in the config)");
	if ((rc = parse_tokens(argv[0], tokens, &ids, &n)) != 0)
		return rc;
	if ((rc = cli_engine_open(argv[0], &eo, &m)) != 0)
		goto out;
	rc = EXIT_FAIL;
	n_vocab = engine_model_n_vocab(m);
	for (size_t i = 0; i < n; i++)
		if ((uint32_t)ids[i] >= n_vocab) {
			cli_fail("eval: token id %d (position %zu) is outside the vocabulary "
				 "(0..%zu)", (int)ids[i], i, n_vocab - 1);
			goto out;
		}
	if ((uint64_t)n * n_vocab * sizeof(float) > EVAL_MAX_LOGIT_BYTES) {
		cli_fail("eval: %zu positions x %zu logits is more than %llu GiB; give fewer ids",
			 n, n_vocab, (unsigned long long)(EVAL_MAX_LOGIT_BYTES >> 30));
		goto out;
	}
	/* one batch of all n with every row kept, or n decodes of one */
	if ((rc = cli_engine_ctx(argv[0], &eo, m, (uint32_t)n, one_by_one ? 1 : (uint32_t)n,
				 !one_by_one, &c)) != 0)
		goto out;
	rc = EXIT_FAIL;
	if ((lg = malloc(n * n_vocab * sizeof(float))) == NULL) {
		cli_fail("eval: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i += one_by_one ? 1 : n) {
		size_t k = one_by_one ? 1 : n, rows;
		const float *out;

		if (engine_decode(c, ids + i, k) != 0) {
			cli_fail("eval: %s", engine_errmsg());
			goto out;
		}
		out = engine_ctx_logits(c, &rows);
		if (rows != k) {
			cli_fail("eval: the engine returned %zu rows of logits, expected %zu", rows, k);
			goto out;
		}
		memcpy(lg + i * n_vocab, out, k * n_vocab * sizeof(float));
	}
	if (npy && cli_npy_write(npy, lg, n, n_vocab) != 0) {
		cli_fail("eval: %s: %s", npy, strerror(errno));
		goto out;
	}
	rc = print_summary(app, ids, n, lg, n_vocab, npy, one_by_one);
out:
	free(lg);
	free(ids);
	engine_ctx_free(c);
	engine_model_close(m);
	return rc;
}
