/* test_run.c - end-to-end: `halo-agent run`, `eval` and `bench` on the real
 * test models, against llama.cpp's references (testdata README 2-3).
 *
 *   run --temp 0 on stories260K (GGUF v3 and the v1 copy) prints exactly
 *   llama.cpp's 100 greedy tokens' text, and --json gives the same ids;
 *   eval's .npy (batch and --one-by-one) matches seq1.logits / seq1.step of
 *   llama-tiny-F32 within ref.json's tolerance, with the same header bytes;
 *   bench --json parses with positive speeds; and the error cases a user
 *   meets print one clear line and exit 1 or 2, never crash. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "npy.h"
#include "testutil.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char *home;

static int setup(void **state)
{
	(void)state;
	home = tu_mkdtemp("run");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(home);
	free(home);
	return 0;
}

static char *td(const char *rel)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", tu_testdata(), rel) > 0);
	return p;
}

static char *in_home(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", home, name) > 0);
	return p;
}

static void run(struct tu_run *r, const char *const *argv)
{
	tu_run(r, home, NULL, false, argv);
}

#define assert_status(r, want) do { \
	if ((r).status != (want)) \
		fail_msg("exit status %d, want %d; stdout: %.2000s; stderr: %.2000s", \
			 (r).status, (want), (r).out, (r).err); \
} while (0)

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("not JSON (%s at line %d): %.2000s", e.text, e.line, text);
	return j;
}

/* ---- run ---------------------------------------------------------------- */

static void check_greedy(const char *model_rel)
{
	char *model = td(model_rel), *ref_path = td("ref/stories260K/prompt.gen.txt");
	char *ids_path = td("ref/stories260K/prompt.txt");
	char *ref = tu_read_file(ref_path, NULL), *ids = tu_read_file(ids_path, NULL), *s;
	struct tu_run r;
	json_t *j, *toks;
	size_t i;

	assert_non_null(ref);
	assert_non_null(ids);
	/* streamed text: exactly llama_detokenize of the 100 generated ids (it
	 * continues the prompt, which is not echoed) */
	run(&r, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "100", "--temp", "0",
		     "--threads", "2"));
	assert_status(r, 0);
	if (strcmp(r.out, ref) != 0)
		fail_msg("%s: text differs:\n got: %s\nwant: %s", model_rel, r.out, ref);
	assert_non_null(strstr(r.err, "prompt 5 tokens, generated 100"));
	assert_non_null(strstr(r.err, "tok/s"));
	tu_run_free(&r);

	run(&r, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "100", "--temp", "0",
		     "--json"));
	assert_status(r, 0);
	j = parse_json(r.out);
	toks = json_object_get(j, "tokens");
	assert_int_equal(json_array_size(toks), 100);
	s = strchr(ids, '\n') + 1; /* line 2: the generated ids */
	for (i = 0; i < 100; i++) {
		long want = strtol(s, &s, 10);

		if (json_integer_value(json_array_get(toks, i)) != want)
			fail_msg("%s: id %zu is %lld, want %ld", model_rel, i,
				 (long long)json_integer_value(json_array_get(toks, i)), want);
	}
	assert_string_equal(json_string_value(json_object_get(j, "text")), ref);
	assert_int_equal(json_integer_value(json_object_get(j, "n_prompt")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "n_gen")), 100);
	assert_string_equal(json_string_value(json_object_get(j, "stop")), "limit");
	assert_true(json_number_value(json_object_get(j, "gen_tps")) > 0);
	json_decref(j);
	tu_run_free(&r);
	free(model);
	free(ref_path);
	free(ids_path);
	free(ref);
	free(ids);
}

static void test_run_greedy_v3(void **state)
{
	(void)state;
	check_greedy("models/stories260K.gguf");
}

static void test_run_greedy_v1(void **state)
{
	(void)state;
	check_greedy("models/tinyllamas-stories-260k-f32.gguf");
}

/* --stop ends the text right before the string, even across tokens;
 * a seed reproduces sampled text and another seed changes it. */
static void test_run_stop_and_seed(void **state)
{
	char *model = td("models/stories260K.gguf");
	struct tu_run a, b, c;
	(void)state;

	run(&a, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "100", "--temp", "0",
		     "--stop", "girl named", "--stop", "zzz"));
	assert_status(a, 0);
	assert_string_equal(a.out, ", there was a little ");
	assert_non_null(strstr(a.err, "stop: stop_string"));
	tu_run_free(&a);

	run(&a, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "60", "--temp", "1.0",
		     "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "1234"));
	run(&b, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "60", "--temp", "1.0",
		     "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "1234"));
	run(&c, ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "60", "--temp", "1.0",
		     "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "99"));
	assert_status(a, 0);
	assert_status(b, 0);
	assert_status(c, 0);
	assert_string_equal(a.out, b.out);
	assert_string_not_equal(a.out, c.out);
	tu_run_free(&a);
	tu_run_free(&b);
	tu_run_free(&c);
	free(model);
}

/* ---- eval --------------------------------------------------------------- */

#define SEQ1 "1,15,27,300,5,99,400,7,123,256,511,3,42,77,200,10"

static void compare_npy(const char *got_path, const char *ref_rel, double nmse_max,
			double max_abs)
{
	char *ref_path = td(ref_rel), err[256];
	struct npy *g = NULL, *r = NULL;
	char *gb, *rb;
	size_t gl, rl;
	double se = 0, sr = 0, maxd = 0;

	if (npy_load(&g, got_path, err, sizeof(err)) != 0)
		fail_msg("%s: %s", got_path, err);
	if (npy_load(&r, ref_path, err, sizeof(err)) != 0)
		fail_msg("%s: %s", ref_path, err);
	assert_string_equal(g->descr, "<f4");
	assert_int_equal(g->ndim, 2);
	assert_int_equal(g->shape[0], r->shape[0]);
	assert_int_equal(g->shape[1], r->shape[1]);
	for (size_t i = 0; i < r->count; i++) {
		double a = ((float *)g->data)[i], b = ((float *)r->data)[i];
		double d = a - b < 0 ? b - a : a - b;

		se += (a - b) * (a - b);
		sr += b * b;
		if (d > maxd)
			maxd = d;
	}
	print_message("  %-28s nmse %.3g (max %.3g)  max|d| %.4g (max %.4g)\n", ref_rel,
		      se / sr, nmse_max, maxd, max_abs);
	assert_true(se / sr <= nmse_max);
	assert_true(maxd <= max_abs);
	/* the same header bytes as numpy's (data at offset 128) */
	gb = tu_read_file(got_path, &gl);
	rb = tu_read_file(ref_path, &rl);
	assert_int_equal(gl, rl);
	assert_memory_equal(gb, rb, 128);
	free(gb);
	free(rb);
	npy_free(g);
	npy_free(r);
	free(ref_path);
}

static void test_eval_logits(void **state)
{
	char *model = td("models/llama-tiny-F32.gguf"), *refj = td("ref/llama-tiny-F32/ref.json");
	char *out = in_home("seq1.npy"), *out2 = in_home("seq1.step.npy");
	json_error_t je;
	json_t *j = json_load_file(refj, 0, &je), *tol;
	double nmse_max, max_abs;
	struct tu_run r;
	(void)state;

	assert_non_null(j);
	tol = json_object_get(j, "tolerance");
	nmse_max = json_number_value(json_object_get(tol, "nmse_max"));
	max_abs = json_number_value(json_object_get(tol, "max_abs"));
	assert_true(nmse_max > 0 && max_abs > 0);

	run(&r, ARGS("eval", "-m", model, "--tokens", SEQ1, "--logits", out, "--threads", "2"));
	assert_status(r, 0);
	tu_run_free(&r);
	compare_npy(out, "ref/llama-tiny-F32/seq1.logits.npy", nmse_max, max_abs);

	run(&r, ARGS("eval", "-m", model, "--tokens", SEQ1, "--one-by-one", "--logits", out2));
	assert_status(r, 0);
	tu_run_free(&r);
	compare_npy(out2, "ref/llama-tiny-F32/seq1.step.npy", nmse_max, max_abs);

	/* without --logits: one line per position, or JSON */
	run(&r, ARGS("eval", "-m", model, "--tokens", "1 15 27", "--json"));
	assert_status(r, 0);
	{
		json_t *o = parse_json(r.out);

		assert_int_equal(json_integer_value(json_object_get(o, "n_tokens")), 3);
		assert_int_equal(json_integer_value(json_object_get(o, "n_vocab")), 512);
		assert_int_equal(json_array_size(json_object_get(o, "positions")), 3);
		json_decref(o);
	}
	tu_run_free(&r);
	json_decref(j);
	free(model);
	free(refj);
	free(out);
	free(out2);
}

/* ---- bench -------------------------------------------------------------- */

static void test_bench_json(void **state)
{
	char *model = td("models/stories260K.gguf");
	struct tu_run r;
	json_t *j, *rec;
	size_t i;
	(void)state;

	run(&r, ARGS("bench", "-m", model, "-p", "16", "-n", "8", "-r", "2", "--threads", "1",
		     "--json"));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 2);
	json_array_foreach(j, i, rec) {
		assert_true(json_number_value(json_object_get(rec, "avg_ts")) > 0);
		assert_true(json_is_number(json_object_get(rec, "stddev_ts")));
		assert_int_equal(json_array_size(json_object_get(rec, "samples_ts")), 2);
		assert_string_equal(json_string_value(json_object_get(rec, "model_filename")),
				    "stories260K.gguf");
		assert_int_equal(json_integer_value(json_object_get(rec, "model_n_params")),
				 292800);
		assert_true(json_integer_value(json_object_get(rec, "model_size")) > 1000000);
		assert_int_equal(json_integer_value(json_object_get(rec, "n_threads")), 1);
		assert_int_equal(json_integer_value(json_object_get(rec, "n_depth")), 0);
	}
	rec = json_array_get(j, 0);
	assert_int_equal(json_integer_value(json_object_get(rec, "n_prompt")), 16);
	assert_int_equal(json_integer_value(json_object_get(rec, "n_gen")), 0);
	rec = json_array_get(j, 1);
	assert_int_equal(json_integer_value(json_object_get(rec, "n_gen")), 8);
	assert_true(json_number_value(json_object_get(rec, "bandwidth_gbs")) > 0);
	json_decref(j);
	tu_run_free(&r);

	/* at depth: the tests are named and recorded as llama-bench does */
	run(&r, ARGS("bench", "-m", model, "-p", "8", "-n", "4", "-d", "40", "-r", "1", "--json"));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_int_equal(json_array_size(j), 2);
	json_array_foreach(j, i, rec) {
		assert_int_equal(json_integer_value(json_object_get(rec, "n_depth")), 40);
		assert_string_equal(json_string_value(json_object_get(rec, "test")),
				    i == 0 ? "pp8 @ d40" : "tg4 @ d40");
	}
	json_decref(j);
	tu_run_free(&r);

	/* the table */
	run(&r, ARGS("bench", "-m", model, "-p", "8", "-n", "4", "-r", "1"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, " pp8 |"));
	assert_non_null(strstr(r.out, " tg4 |"));
	tu_run_free(&r);
	free(model);
}

/* ---- errors ------------------------------------------------------------- */

/* Exit `status`, `want` in stderr, nothing on stdout, no crash. */
static void expect_error(const char *const *argv, int status, const char *want)
{
	struct tu_run r;

	run(&r, argv);
	assert_status(r, status);
	if (strstr(r.err, want) == NULL)
		fail_msg("stderr lacks '%s': %s", want, r.err);
	assert_string_equal(r.out, "");
	tu_run_free(&r);
}

static void test_errors(void **state)
{
	char *model = td("models/stories260K.gguf"), *tiny = td("models/llama-tiny-F32.gguf");
	char *missing = in_home("nope.gguf"), *notgguf = in_home("text.gguf");
	char *npy = in_home("bad.npy"), *nodir = in_home("no/such/dir/x.npy");
	(void)state;

	tu_write_file(notgguf, "this is not a model\n", 20);
	expect_error(ARGS("run", "-m", missing, "-p", "hi"), 1, "nope.gguf");
	expect_error(ARGS("eval", "-m", missing, "--tokens", "1"), 1, "nope.gguf");
	expect_error(ARGS("bench", "-m", missing), 1, "nope.gguf");
	expect_error(ARGS("run", "-m", notgguf, "-p", "hi"), 1, "text.gguf");
	expect_error(ARGS("run", "-p", "hi"), 2, "missing -m");
	expect_error(ARGS("run", "-m", model), 2, "-p TEXT or -f FILE");
	expect_error(ARGS("eval", "-m", tiny, "--tokens", "1,x,3"), 2, "'x,3' is not a token id");
	expect_error(ARGS("eval", "-m", tiny, "--tokens", "1,-5"), 2, "is not a token id");
	expect_error(ARGS("eval", "-m", tiny, "--tokens", ","), 2, "no ids");
	expect_error(ARGS("eval", "-m", tiny, "--tokens", "1,512", "--logits", npy), 1,
		     "token id 512 (position 1) is outside the vocabulary (0..511)");
	assert_int_not_equal(access(npy, F_OK), 0); /* nothing written */
	expect_error(ARGS("eval", "-m", tiny, "--tokens", "1,2", "--logits", nodir), 1,
		     "no/such/dir/x.npy");
	expect_error(ARGS("run", "-m", model, "-p", "Once upon a time", "-n", "100",
			  "--ctx-size", "64"), 1, "raise --ctx-size or lower -n");
	expect_error(ARGS("run", "-m", model, "-p", "hi", "--top_k", "5"), 2,
		     "did you mean '--top-k'?");
	expect_error(ARGS("run", "-m", model, "-p", "hi", "--top-p", "1.5"), 2, "--top-p");
	expect_error(ARGS("run", "-m", model, "-p", "hi", "--backend", "gpu"), 2,
		     "auto, cpu or vulkan");
	expect_error(ARGS("bench", "-m", model, "--n-prompts", "2"), 2, "did you mean '--n-prompt'?");
	expect_error(ARGS("bench", "-m", model, "-r", "0"), 2, "-r must be at least 1");
	/* a successful write leaves the file and no temporary beside it */
	{
		struct tu_run r;
		struct dirent *e;
		DIR *d;

		run(&r, ARGS("eval", "-m", tiny, "--tokens", "1,2", "--logits", npy));
		assert_status(r, 0);
		tu_run_free(&r);
		assert_int_equal(access(npy, F_OK), 0);
		d = opendir(home);
		assert_non_null(d);
		while ((e = readdir(d)) != NULL)
			if (strstr(e->d_name, ".tmp."))
				fail_msg("temporary file left: %s", e->d_name);
		closedir(d);
	}
	free(model);
	free(tiny);
	free(missing);
	free(notgguf);
	free(npy);
	free(nodir);
}

static void test_help(void **state)
{
	static const char *const cmds[] = { "run", "eval", "bench" };
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		struct tu_run r;

		run(&r, ARGS(cmds[i], "--help"));
		assert_status(r, 0);
		assert_non_null(strstr(r.out, "Usage: halo-agent "));
		assert_non_null(strstr(r.out, "--threads"));
		assert_non_null(strstr(r.out, "--json"));
		tu_run_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_greedy_v3),
		cmocka_unit_test(test_run_greedy_v1),
		cmocka_unit_test(test_run_stop_and_seed),
		cmocka_unit_test(test_eval_logits),
		cmocka_unit_test(test_bench_json),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests_name("run", tests, setup, teardown);
}
