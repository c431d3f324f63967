/* cmd_bench.c - `halo-agent bench`: prompt and generation speed, the way
 * llama-bench measures them.
 *
 * pp<P>: one decode of a batch of P random valid ids into an empty cache.
 * tg<N>: N decodes of one random id each, from an empty cache.
 * With -d D both start from a cache holding D tokens instead (llama-bench's
 * depth: "tg128 @ d1024"), filled before each run and not timed; this is
 * where attention's share of the time shows.
 * Each test runs once to warm up, then -r times; t/s is reported as mean
 * and sample standard deviation over the repetitions.  For tg the achieved
 * memory bandwidth is the weight bytes read per token (engine_model_info's
 * bytes_per_token) times the tokens per second.  --json gives llama-bench's
 * record fields where they apply.  --profile: the Vulkan backend prints its
 * device time per shader, warm-up runs included, when the context is freed
 * at the end. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli_engine.h"

#define BENCH_MAX_REPS 1000u
#define BENCH_MAX_TOKENS 65536u

struct bench_result {
	char test[32];          /* "pp512" */
	uint32_t n_prompt, n_gen, n_depth;
	double *ts;             /* [reps] tokens per second */
	double *ns;             /* [reps] nanoseconds */
	double avg_ts, stddev_ts, avg_ns, stddev_ns;
	double gbs;             /* tg: weight bytes per token x t/s; pp: 0 */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mean_sd(const double *v, uint32_t n, double *mean, double *sd)
{
	double s = 0, q = 0;

	for (uint32_t i = 0; i < n; i++)
		s += v[i];
	*mean = n ? s / n : 0;
	for (uint32_t i = 0; i < n; i++)
		q += (v[i] - *mean) * (v[i] - *mean);
	*sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* One timed pass after `depth` untimed tokens (ids[0..depth), in batches):
 * pp decodes ids[depth..depth + n) at once, tg one at a time. */
static int bench_pass(struct engine_ctx *c, const int32_t *ids, uint32_t depth, uint32_t n,
		      bool tg, double *secs)
{
	double t0;

	engine_ctx_reset(c);
	if (depth && engine_decode(c, ids, depth) != 0)
		return -1;
	ids += depth;
	t0 = now_s();
	if (tg) {
		for (uint32_t i = 0; i < n; i++)
			if (engine_decode(c, ids + i, 1) != 0)
				return -1;
	} else if (engine_decode(c, ids, n) != 0) {
		return -1;
	}
	*secs = now_s() - t0;
	return 0;
}

static int run_test(struct engine_ctx *c, const int32_t *ids, uint32_t depth, uint32_t n,
		    bool tg, uint32_t reps, uint64_t bytes_per_token, struct bench_result *r)
{
	double secs;

	if (depth)
		snprintf(r->test, sizeof(r->test), "%s%u @ d%u", tg ? "tg" : "pp", n, depth);
	else
		snprintf(r->test, sizeof(r->test), "%s%u", tg ? "tg" : "pp", n);
	r->n_prompt = tg ? 0 : n;
	r->n_gen = tg ? n : 0;
	r->n_depth = depth;
	r->ts = calloc(reps, sizeof(double));
	r->ns = calloc(reps, sizeof(double));
	if (!r->ts || !r->ns)
		return cli_fail("bench: out of memory");
	/* warm-up: pages of the weights in, caches and thread pool up */
	if (bench_pass(c, ids, depth, tg ? 1 : n, tg, &secs) != 0)
		return cli_fail("bench: %s", engine_errmsg());
	for (uint32_t i = 0; i < reps; i++) {
		if (bench_pass(c, ids, depth, n, tg, &secs) != 0)
			return cli_fail("bench: %s", engine_errmsg());
		r->ns[i] = secs * 1e9;
		r->ts[i] = secs > 0 ? n / secs : 0;
	}
	mean_sd(r->ts, reps, &r->avg_ts, &r->stddev_ts);
	mean_sd(r->ns, reps, &r->avg_ns, &r->stddev_ns);
	r->gbs = tg ? (double)bytes_per_token * r->avg_ts / 1e9 : 0;
	return EXIT_OK;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void fmt_size(char *buf, size_t n, uint64_t v)
{
	if (v >= (1ull << 30))
		snprintf(buf, n, "%.2f GiB", (double)v / (1ull << 30));
	else
		snprintf(buf, n, "%.2f MiB", (double)v / (1ull << 20));
}

static void fmt_params(char *buf, size_t n, uint64_t v)
{
	if (v >= 1000000000ull)
		snprintf(buf, n, "%.2f B", (double)v / 1e9);
	else if (v >= 1000000ull)
		snprintf(buf, n, "%.2f M", (double)v / 1e6);
	else
		snprintf(buf, n, "%.2f K", (double)v / 1e3);
}

static json_t *record(const struct bench_result *r, const struct engine_model_info *mi,
		      const char *model, const char *backend, int threads, uint32_t reps,
		      long peak_rss_kb, double open_s)
{
	json_t *o = json_object(), *ts = json_array(), *ns = json_array();

	if (!o || !ts || !ns) {
		json_decref(o);
		json_decref(ts);
		json_decref(ns);
		return NULL;
	}
	for (uint32_t i = 0; i < reps; i++) {
		json_array_append_new(ts, json_real(r->ts[i]));
		json_array_append_new(ns, json_integer((json_int_t)r->ns[i]));
	}
	json_object_set_new(o, "model_filename", json_string(model));
	json_object_set_new(o, "model_type", json_string(mi->file_type_name));
	json_object_set_new(o, "model_size", json_integer((json_int_t)mi->tensor_bytes));
	json_object_set_new(o, "model_n_params", json_integer((json_int_t)mi->n_params));
	json_object_set_new(o, "backends", json_string(backend));
	json_object_set_new(o, "n_threads", json_integer(threads));
	json_object_set_new(o, "n_prompt", json_integer(r->n_prompt));
	json_object_set_new(o, "n_gen", json_integer(r->n_gen));
	json_object_set_new(o, "n_depth", json_integer(r->n_depth));
	json_object_set_new(o, "test", json_string(r->test));
	json_object_set_new(o, "avg_ns", json_integer((json_int_t)r->avg_ns));
	json_object_set_new(o, "stddev_ns", json_integer((json_int_t)r->stddev_ns));
	json_object_set_new(o, "avg_ts", json_real(r->avg_ts));
	json_object_set_new(o, "stddev_ts", json_real(r->stddev_ts));
	json_object_set_new(o, "samples_ns", ns);
	json_object_set_new(o, "samples_ts", ts);
	json_object_set_new(o, "bytes_per_token", json_integer((json_int_t)mi->bytes_per_token));
	json_object_set_new(o, "bandwidth_gbs", r->n_gen ? json_real(r->gbs) : json_null());
	json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)peak_rss_kb * 1024));
	json_object_set_new(o, "open_s", json_real(open_s));
	return o;
}

static int print_results(struct app *app, const struct bench_result *res, size_t n_res,
			 const struct engine_model_info *mi, const char *model,
			 struct engine_ctx *c, uint32_t reps, double open_s)
{
	const char *backend = engine_ctx_backend(c);
	int threads = engine_ctx_threads(c);
	struct rusage ru;
	char size[32], params[32];
	int rc = EXIT_OK;

	getrusage(RUSAGE_SELF, &ru);
	if (app->json) {
		json_t *list = json_array();

		if (!list)
			return cli_fail("bench: out of memory");
		for (size_t i = 0; i < n_res; i++) {
			json_t *o = record(&res[i], mi, base_name(model), backend, threads, reps,
					   ru.ru_maxrss, open_s);

			if (!o || json_array_append_new(list, o) != 0) {
				json_decref(list);
				return cli_fail("bench: out of memory");
			}
		}
		if (json_dumpf(list, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF)
			rc = cli_fail("bench: cannot write output");
		json_decref(list);
		return rc;
	}
	fmt_size(size, sizeof(size), mi->tensor_bytes);
	fmt_params(params, sizeof(params), mi->n_params);
	printf("| %-30s | %10s | %8s | %-7s | %7s | %14s | %18s | %8s |\n", "model", "size",
	       "params", "backend", "threads", "test", "t/s", "GB/s");
	printf("| %.30s | %.10s | %.8s | %.7s | %.7s | %.14s | %.18s | %.8s |\n",
	       "------------------------------", "---------:", "-------:", "-------",
	       "------:", "-------------:", "-----------------:", "-------:");
	for (size_t i = 0; i < n_res; i++) {
		char tps[40], gbs[16] = "";

		snprintf(tps, sizeof(tps), "%.2f ± %.2f", res[i].avg_ts, res[i].stddev_ts);
		if (res[i].n_gen)
			snprintf(gbs, sizeof(gbs), "%.2f", res[i].gbs);
		printf("| %-30.30s | %10s | %8s | %-7s | %7d | %14s | %19s | %8s |\n",
		       base_name(model), size, params, backend, threads, res[i].test, tps, gbs);
	}
	cli_info(app, "bench: open %.1f ms, peak RSS %.1f MiB, %u repetitions, %.1f MiB "
		 "read per token\n", open_s * 1e3, ru.ru_maxrss / 1024.0, reps,
		 (double)mi->bytes_per_token / (1 << 20));
	return fflush(stdout) == 0 ? EXIT_OK : cli_fail("bench: cannot write output");
}

int cmd_bench(struct app *app, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "n-prompt", required_argument, NULL, 'p' },
		{ "n-gen", required_argument, NULL, 'n' },
		{ "repetitions", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, CLI_OPT_BACKEND },
		{ "device", required_argument, NULL, CLI_OPT_DEVICE },
		{ "kv-type", required_argument, NULL, CLI_OPT_KV_TYPE },
		{ "profile", no_argument, NULL, CLI_OPT_FIRST_FREE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_engine_opts eo;
	unsigned long long n_prompt = 512, n_gen = 128, reps = 3, depth = 0, n_ids, v;
	struct engine_model_info mi;
	struct bench_result res[2];
	size_t n_res = 0;
	struct engine_model *m = NULL;
	struct engine_ctx *c = NULL;
	int32_t *ids = NULL;
	uint64_t rng = 0x853c49e6748fea9bull;
	double t0, open_s;
	int opt, rc, t;

	memset(res, 0, sizeof(res));
	cli_engine_opts_init(&eo, app);
	while ((opt = cli_getopt(argc, argv, "m:p:n:r:d:t:", longopts)) != -1) {
		if ((t = cli_engine_opt(argv[0], opt, optarg, &eo)) < 0)
			return EXIT_USAGE;
		if (t > 0)
			continue;
		switch (opt) {
		case 'p':
		case 'n':
		case 'r':
		case 'd': {
			const char name[3] = { '-', (char)opt, 0 };

			if (!cli_parse_u64(argv[0], name, optarg, &v))
				return EXIT_USAGE;
			if (v > (opt == 'r' ? BENCH_MAX_REPS : BENCH_MAX_TOKENS))
				return cli_usage_error(argv[0], "-%c %llu is larger than %u", opt, v,
						       opt == 'r' ? BENCH_MAX_REPS : BENCH_MAX_TOKENS);
			*(opt == 'p' ? &n_prompt : opt == 'n' ? &n_gen : opt == 'd' ? &depth : &reps) = v;
			break;
		}
		case CLI_OPT_FIRST_FREE:
			eo.profile = true;
			break;
		default: return cli_help_or_usage(argv[0], opt);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (reps == 0)
		return cli_usage_error(argv[0], "-r must be at least 1");
	if (n_prompt == 0 && n_gen == 0)
		return cli_usage_error(argv[0], "nothing to measure: -p and -n are both 0");

	t0 = now_s();
	if ((rc = cli_engine_open(argv[0], &eo, &m)) != 0)
		goto out;
	open_s = now_s() - t0;
	rc = EXIT_FAIL;
	if (engine_model_info(&mi, engine_model_gguf(m)) != 0) {
		cli_fail("bench: %s", engine_errmsg());
		goto out;
	}
	n_ids = depth + (n_prompt > n_gen ? n_prompt : n_gen);
	if ((rc = cli_engine_ctx(argv[0], &eo, m, (uint32_t)n_ids,
				 n_prompt ? (uint32_t)n_prompt : depth ? 512 : 1, false, &c)) != 0)
		goto out;
	rc = EXIT_FAIL;
	ids = malloc(n_ids * sizeof(*ids));
	if (ids == NULL) {
		cli_fail("bench: out of memory");
		goto out;
	}
	/* random valid ids (xorshift64), the same every run */
	for (unsigned long long i = 0; i < n_ids; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		ids[i] = (int32_t)(rng % engine_model_n_vocab(m));
	}
	if (n_prompt && (rc = run_test(c, ids, (uint32_t)depth, (uint32_t)n_prompt, false,
				       (uint32_t)reps, mi.bytes_per_token, &res[n_res++])) != 0)
		goto out;
	if (n_gen && (rc = run_test(c, ids, (uint32_t)depth, (uint32_t)n_gen, true, (uint32_t)reps,
				    mi.bytes_per_token, &res[n_res++])) != 0)
		goto out;
	rc = print_results(app, res, n_res, &mi, eo.model, c, (uint32_t)reps, open_s);
out:
	for (size_t i = 0; i < 2; i++) {
		free(res[i].ts);
		free(res[i].ns);
	}
	free(ids);
	engine_ctx_free(c);
	engine_model_close(m);
	return rc;
}
