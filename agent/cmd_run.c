/* cmd_run.c - `halo-agent run`: generate text from a prompt.
 *
 * A thin client of engine_generate(): tokenizes the prompt (BOS as the
 * vocab asks, special-token text parsed), streams the generated text to
 * stdout as it comes (the engine hands over complete UTF-8 and holds back
 * what could start a stop string), and prints a one-line summary on
 * stderr.  With --json nothing is streamed; one object comes at the end. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_engine.h"

#define RUN_MAX_PROMPT ((size_t)16 << 20) /* -p / -f text */
#define RUN_MAX_TEXT ((size_t)64 << 20)   /* --json: generated text kept */

enum {
	OPT_TEMP = CLI_OPT_FIRST_FREE,
	OPT_TOP_K,
	OPT_TOP_P,
	OPT_MIN_P,
	OPT_REPEAT_PENALTY,
	OPT_REPEAT_LAST_N,
	OPT_PRESENCE_PENALTY,
	OPT_FREQUENCY_PENALTY,
	OPT_SEED,
	OPT_STOP,
	OPT_IGNORE_EOS,
};

/* What the callback gathers: streamed, or kept for --json. */
struct run_out {
	bool json;
	bool failed;            /* stdout could not be written */
	char *text;             /* --json */
	size_t len, cap;
	json_t *ids;            /* --json */
	bool ends_newline;      /* the last byte written was '\n' */
};

static int on_token(void *ud, int32_t id, const char *text, size_t len)
{
	struct run_out *o = ud;

	if (!o->json) {
		if (len && fwrite(text, 1, len, stdout) != len)
			o->failed = true;
		if (fflush(stdout) != 0)
			o->failed = true;
		if (len)
			o->ends_newline = text[len - 1] == '\n';
		return o->failed;
	}
	if (id != TOK_NULL && json_array_append_new(o->ids, json_integer(id)) != 0)
		return o->failed = true;
	if (o->len + len > RUN_MAX_TEXT)
		return o->failed = true;
	if (o->len + len + 1 > o->cap) {
		size_t nc = o->cap ? o->cap : 4096;
		char *nb;

		while (nc < o->len + len + 1)
			nc *= 2;
		if ((nb = realloc(o->text, nc)) == NULL)
			return o->failed = true;
		o->text = nb;
		o->cap = nc;
	}
	memcpy(o->text + o->len, text, len);
	o->len += len;
	return 0;
}

static const char *stop_name(enum engine_stop s)
{
	switch (s) {
	case ENGINE_STOP_LIMIT: return "limit";
	case ENGINE_STOP_EOG: return "eog";
	case ENGINE_STOP_STRING: return "stop_string";
	case ENGINE_STOP_CONTEXT: return "context_full";
	case ENGINE_STOP_CALLER: return "caller";
	}
	return "?";
}

static double rate(size_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static int print_json(const struct run_out *o, const struct engine_gen_result *r,
		      const struct cli_engine_opts *eo, struct engine_ctx *c, uint64_t seed)
{
	json_t *root = json_object(), *text = json_stringn(o->text ? o->text : "", o->len);
	int rc = EXIT_OK;

	if (!root || !text) {
		json_decref(root);
		json_decref(text);
		return cli_fail("run: cannot represent the output as JSON");
	}
	json_object_set_new(root, "text", text);
	json_object_set(root, "tokens", o->ids);
	json_object_set_new(root, "n_prompt", json_integer((json_int_t)r->n_prompt));
	json_object_set_new(root, "n_gen", json_integer((json_int_t)r->n_gen));
	json_object_set_new(root, "t_prompt_s", json_real(r->t_prompt_s));
	json_object_set_new(root, "t_gen_s", json_real(r->t_gen_s));
	json_object_set_new(root, "prompt_tps", json_real(rate(r->n_prompt, r->t_prompt_s)));
	json_object_set_new(root, "gen_tps", json_real(rate(r->n_gen, r->t_gen_s)));
	json_object_set_new(root, "stop", json_string(stop_name(r->stop)));
	json_object_set_new(root, "seed", json_integer((json_int_t)(seed & INT64_MAX)));
	json_object_set_new(root, "model", json_string(eo->model));
	json_object_set_new(root, "backend", json_string(engine_ctx_backend(c)));
	json_object_set_new(root, "threads", json_integer(engine_ctx_threads(c)));
	json_object_set_new(root, "n_ctx", json_integer(engine_ctx_n_ctx(c)));
	if (json_dumpf(root, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		rc = cli_fail("run: cannot write output");
	json_decref(root);
	return rc;
}

int cmd_run(struct app *app, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "n-predict", required_argument, NULL, 'n' },
		{ "temp", required_argument, NULL, OPT_TEMP },
		{ "top-k", required_argument, NULL, OPT_TOP_K },
		{ "top-p", required_argument, NULL, OPT_TOP_P },
		{ "min-p", required_argument, NULL, OPT_MIN_P },
		{ "repeat-penalty", required_argument, NULL, OPT_REPEAT_PENALTY },
		{ "repeat-last-n", required_argument, NULL, OPT_REPEAT_LAST_N },
		{ "presence-penalty", required_argument, NULL, OPT_PRESENCE_PENALTY },
		{ "frequency-penalty", required_argument, NULL, OPT_FREQUENCY_PENALTY },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "stop", required_argument, NULL, OPT_STOP },
		{ "ignore-eos", no_argument, NULL, OPT_IGNORE_EOS },
		{ "ctx-size", required_argument, NULL, 'c' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, CLI_OPT_BACKEND },
		{ "device", required_argument, NULL, CLI_OPT_DEVICE },
		{ "kv-type", required_argument, NULL, CLI_OPT_KV_TYPE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_engine_opts eo;
	struct engine_sampler_params sp = ENGINE_SAMPLER_PARAMS_INIT;
	struct engine_gen_params gp = ENGINE_GEN_PARAMS_INIT;
	struct engine_gen_result res;
	struct run_out ro = { 0 };
	const char *prompt = NULL, *file = NULL;
	const char *stops[ENGINE_GEN_MAX_STOP + 1];
	size_t n_stop = 0, plen = 0, n_ids = 0;
	unsigned long long v;
	bool seed_set = false;
	struct engine_model *m = NULL;
	struct engine_ctx *c = NULL;
	struct engine_sampler *s = NULL;
	char *ptext = NULL;
	int32_t *ids = NULL;
	int opt, rc, t;

	cli_engine_opts_init(&eo, app);
	gp.n_predict = 256;
	while ((opt = cli_getopt(argc, argv, "m:p:f:n:c:b:t:", longopts)) != -1) {
		if ((t = cli_engine_opt(argv[0], opt, optarg, &eo)) < 0)
			return EXIT_USAGE;
		if (t > 0)
			continue;
		switch (opt) {
		case 'p': prompt = optarg; break;
		case 'f': file = optarg; break;
		case 'n':
			if (!cli_parse_u64(argv[0], "-n", optarg, &v))
				return EXIT_USAGE;
			if (v > (1u << 24))
				return cli_usage_error(argv[0], "-n %llu is larger than any context", v);
			gp.n_predict = (uint32_t)v;
			break;
		case OPT_TEMP:
			if (!cli_parse_float(argv[0], "--temp", optarg, 0, 100, &sp.temp))
				return EXIT_USAGE;
			break;
		case OPT_TOP_K:
			if (!cli_parse_u64(argv[0], "--top-k", optarg, &v))
				return EXIT_USAGE;
			sp.top_k = v > INT32_MAX ? INT32_MAX : (int32_t)v;
			break;
		case OPT_TOP_P:
			if (!cli_parse_float(argv[0], "--top-p", optarg, 0, 1, &sp.top_p))
				return EXIT_USAGE;
			break;
		case OPT_MIN_P:
			if (!cli_parse_float(argv[0], "--min-p", optarg, 0, 1, &sp.min_p))
				return EXIT_USAGE;
			break;
		case OPT_REPEAT_PENALTY:
			if (!cli_parse_float(argv[0], "--repeat-penalty", optarg, 0.01f, 100,
					     &sp.repeat_penalty))
				return EXIT_USAGE;
			break;
		case OPT_REPEAT_LAST_N:
			if (!cli_parse_u64(argv[0], "--repeat-last-n", optarg, &v))
				return EXIT_USAGE;
			if (v > ENGINE_SAMPLER_MAX_LAST_N)
				return cli_usage_error(argv[0], "--repeat-last-n is at most %u",
						       ENGINE_SAMPLER_MAX_LAST_N);
			sp.penalty_last_n = (uint32_t)v;
			break;
		case OPT_PRESENCE_PENALTY:
			if (!cli_parse_float(argv[0], "--presence-penalty", optarg, -100, 100,
					     &sp.presence_penalty))
				return EXIT_USAGE;
			break;
		case OPT_FREQUENCY_PENALTY:
			if (!cli_parse_float(argv[0], "--frequency-penalty", optarg, -100, 100,
					     &sp.frequency_penalty))
				return EXIT_USAGE;
			break;
		case OPT_SEED:
			if (!cli_parse_u64(argv[0], "--seed", optarg, &v))
				return EXIT_USAGE;
			sp.seed = v;
			seed_set = true;
			break;
		case OPT_STOP:
			if (n_stop == ENGINE_GEN_MAX_STOP)
				return cli_usage_error(argv[0], "at most %d --stop strings",
						       ENGINE_GEN_MAX_STOP);
			if (*optarg == '\0' || strlen(optarg) > ENGINE_GEN_MAX_STOP_LEN)
				return cli_usage_error(argv[0], "--stop needs 1 to %d bytes",
						       ENGINE_GEN_MAX_STOP_LEN);
			stops[n_stop++] = optarg;
			break;
		case OPT_IGNORE_EOS: gp.ignore_eog = true; break;
		default: return cli_help_or_usage(argv[0], opt);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s' (the prompt goes "
				       "after -p, quoted)", argv[optind]);
	if (!prompt == !file)
		return cli_usage_error(argv[0], "give the prompt with -p TEXT or -f FILE (one of them)");
	if (eo.model == NULL)
		return cli_usage_error(argv[0], "missing -m FILE.gguf (or set engine.model in the config)");
	stops[n_stop] = NULL;
	gp.stop = n_stop ? stops : NULL;
	if (!seed_set)
		sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (file) {
		if ((rc = cli_read_file(argv[0], file, RUN_MAX_PROMPT, &ptext, &plen)) != 0)
			return rc;
	} else if ((plen = strlen(prompt)) > RUN_MAX_PROMPT) {
		return cli_fail("run: the prompt is larger than %zu MiB", RUN_MAX_PROMPT >> 20);
	}

	if ((rc = cli_engine_open(argv[0], &eo, &m)) != 0)
		goto out;
	rc = EXIT_FAIL;
	if (tok_encode_alloc(&ids, &n_ids, engine_model_vocab(m), file ? ptext : prompt, plen,
			     true, true) != 0) {
		cli_fail("run: %s", engine_errmsg());
		goto out;
	}
	if (n_ids == 0) {
		cli_fail("run: the prompt gives no tokens");
		goto out;
	}
	if (eo.ctx_size && n_ids + gp.n_predict > eo.ctx_size) {
		cli_fail("run: %zu prompt tokens + %u to generate (-n) do not fit a context of "
			 "%u (raise --ctx-size or lower -n)", n_ids, gp.n_predict, eo.ctx_size);
		goto out;
	}
	if ((rc = cli_engine_ctx(argv[0], &eo, m, eo.ctx_size, eo.batch, false, &c)) != 0)
		goto out;
	rc = EXIT_FAIL;
	if (engine_sampler_new(&s, engine_model_n_vocab(m), &sp) != 0) {
		cli_fail("run: %s", engine_errmsg());
		goto out;
	}
	ro.json = app->json;
	if (ro.json && (ro.ids = json_array()) == NULL) {
		cli_fail("run: out of memory");
		goto out;
	}
	cli_debug(app, "run: %zu prompt tokens, backend %s, %d threads, n_ctx %u, seed %llu\n",
		  n_ids, engine_ctx_backend(c), engine_ctx_threads(c), engine_ctx_n_ctx(c),
		  (unsigned long long)sp.seed);
	if (engine_generate(&res, c, s, ids, n_ids, &gp, on_token, &ro) != 0) {
		if (!ro.json && !ro.ends_newline && res.n_gen)
			putchar('\n');
		cli_fail("run: %s", engine_errmsg());
		goto out;
	}
	if (ro.failed) {
		cli_fail("run: cannot write the output");
		goto out;
	}
	if (ro.json) {
		if ((rc = print_json(&ro, &res, &eo, c, sp.seed)) != 0)
			goto out;
	} else if (isatty(STDOUT_FILENO) && !ro.ends_newline) {
		putchar('\n'); /* leave the terminal's prompt on its own line */
		fflush(stdout);
	}
	cli_info(app, "run: prompt %zu tokens, generated %zu; prompt %.1f tok/s, "
		 "generation %.1f tok/s (stop: %s)\n", res.n_prompt, res.n_gen,
		 rate(res.n_prompt, res.t_prompt_s), rate(res.n_gen, res.t_gen_s),
		 stop_name(res.stop));
	rc = EXIT_OK;
out:
	json_decref(ro.ids);
	free(ro.text);
	free(ids);
	free(ptext);
	engine_sampler_free(s);
	engine_ctx_free(c);
	engine_model_close(m);
	return rc;
}
