/* test_config.c - config.yaml parsing: documented keys, nesting, defaults,
 * unknown-key warnings with suggestions, and every error as
 * "path:line:col: message" with the caller's config left untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "testutil.h"

struct warnings {
	char text[8][512];
	int n;
};

static void collect(void *ud, const char *msg)
{
	struct warnings *w = ud;

	if (w->n < 8)
		snprintf(w->text[w->n++], sizeof(w->text[0]), "%s", msg);
}

/* Load `yaml` from a temp file into *cfg (initialised to defaults). */
static int load(const char *yaml, struct config *cfg, struct warnings *w,
		char *err, size_t errlen, char **path_out)
{
	char *dir = tu_mkdtemp("cfg"), *path;
	int rc;

	assert_true(asprintf(&path, "%s/config.yaml", dir) > 0);
	tu_write_file(path, yaml, strlen(yaml));
	config_init(cfg);
	memset(w, 0, sizeof(*w));
	err[0] = '\0';
	rc = config_load(cfg, path, true, collect, w, err, errlen);
	tu_rmtree(dir);
	free(dir);
	if (path_out)
		*path_out = path;
	else
		free(path);
	return rc;
}

static void test_defaults(void **state)
{
	struct config cfg;
	(void)state;

	config_init(&cfg);
	assert_string_equal(cfg.engine_backend, "auto");
	assert_int_equal(cfg.engine_threads, 0);
	assert_int_equal(cfg.engine_ctx_size, 4096);
	assert_string_equal(cfg.sandbox_network, "none");
	assert_string_equal(cfg.sandbox_approval, "ask");
	assert_int_equal(cfg.sandbox_timeout, 600);
	config_free(&cfg);
}

static void test_values_and_nesting(void **state)
{
	struct config cfg;
	struct warnings w;
	char err[512];
	(void)state;

	assert_int_equal(load("# my settings\n"
			      "data_dir: /srv/halo\n"
			      "engine:\n"
			      "  backend: vulkan\n"
			      "  threads: 6\n"
			      "  model: ~/models/q.gguf\n"
			      "sandbox: {network: host, approval: auto, timeout: 30}\n",
			      &cfg, &w, err, sizeof(err), NULL), 0);
	assert_int_equal(w.n, 0);
	assert_string_equal(cfg.data_dir, "/srv/halo");
	assert_string_equal(cfg.engine_backend, "vulkan");
	assert_int_equal(cfg.engine_threads, 6);
	assert_string_equal(cfg.engine_model, "~/models/q.gguf");
	assert_string_equal(cfg.sandbox_network, "host");
	assert_string_equal(cfg.sandbox_approval, "auto");
	assert_int_equal(cfg.sandbox_timeout, 30);
	assert_int_equal(cfg.engine_ctx_size, 4096); /* untouched default */
	config_free(&cfg);
}

static void test_empty_and_missing(void **state)
{
	struct config cfg;
	struct warnings w;
	char err[512];
	(void)state;

	assert_int_equal(load("", &cfg, &w, err, sizeof(err), NULL), 0);
	assert_string_equal(cfg.engine_backend, "auto");
	config_free(&cfg);
	assert_int_equal(load("# only a comment\n", &cfg, &w, err, sizeof(err), NULL), 0);
	config_free(&cfg);

	config_init(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/halo/config.yaml", false,
				     NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(config_load(&cfg, "/nonexistent/halo/config.yaml", true,
				     NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/halo/config.yaml: cannot read config"));
	config_free(&cfg);
}

static void test_unknown_keys_warn(void **state)
{
	struct config cfg;
	struct warnings w;
	char err[512], *path, want[600];
	(void)state;

	assert_int_equal(load("engine:\n  thread: 4\n  backend: cpu\ncolour: blue\n",
			      &cfg, &w, err, sizeof(err), &path), 0);
	assert_int_equal(w.n, 2);
	snprintf(want, sizeof(want), "%s:2:3: warning: unknown key 'engine.thread' "
		 "(did you mean 'engine.threads'?)", path);
	assert_string_equal(w.text[0], want);
	assert_non_null(strstr(w.text[1], ":4:1: warning: unknown key 'colour'"));
	assert_string_equal(cfg.engine_backend, "cpu"); /* the rest still applies */
	free(path);
	config_free(&cfg);
}

/* Each malformed file: the error names path:line:col and the problem, and
 * the config passed in keeps its previous values. */
static void test_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *where; /* ":line:col: " */
		const char *what;
	} cases[] = {
		{ "engine:\n  threads: [1, 2\n", ":3:1: ", "" },
		{ "engine:\n  threads: -3\n", ":2:12: ", "key 'engine.threads': expected a non-negative integer, got '-3'" },
		{ "engine:\n  threads: many\n", ":2:12: ", "expected a non-negative integer, got 'many'" },
		{ "engine:\n  backend: cuda\n", ":2:12: ", "invalid value 'cuda' (expected one of auto|cpu|vulkan)" },
		{ "engine: cpu\n", ":1:9: ", "key 'engine': expected a mapping of settings" },
		{ "sandbox:\n  timeout: {a: 1}\n", ":2:12: ", "expected a single value, not a mapping" },
		{ "- a\n- b\n", ":1:1: ", "the top level must be a mapping" },
		{ "data_dir: ''\n", ":1:11: ", "key 'data_dir': empty path" },
		{ "engine:\n\tthreads: 2\n", ":2:1: ", "" },
		{ "a: 'unterminated\n", ":2:1: ", "" },
		{ "engine: {threads: 2}\nengine: [\n", ":3:1: ", "" },
		/* the user's text is quoted, control characters and all: one line */
		{ "engine:\n  backend: \"a\\nb\"\n", ":2:12: ", "invalid value 'a?b'" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct warnings w;
		char err[512], *path, want[600];

		assert_int_equal(load(cases[i].yaml, &cfg, &w, err, sizeof(err), &path), -1);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, cases[i].what) == NULL)
			fail_msg("case %zu: got \"%s\", want prefix \"%s\" and \"%s\"", i,
				 err, want, cases[i].what);
		assert_null(strchr(err, '\n')); /* one line */
		assert_string_equal(cfg.engine_backend, "auto");
		assert_int_equal(cfg.engine_threads, 0);
		free(path);
		config_free(&cfg);
	}
}

static void test_size_bound(void **state)
{
	size_t n = (1u << 20) + 10;
	char *big = malloc(n + 1), err[512];
	struct config cfg;
	struct warnings w;
	(void)state;

	memset(big, '#', n);
	big[n] = '\0';
	assert_int_equal(load(big, &cfg, &w, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "larger than 1 MiB"));
	config_free(&cfg);
	free(big);
}

/* Deep flow nesting is refused before libyaml's loader sees it: "[[[[..."
 * used to cost the square of its depth (100 KB took over a minute). */
static void test_nesting_bound(void **state)
{
	size_t n = 100000;
	char *deep = malloc(n + 4), err[512];
	struct config cfg;
	struct warnings w;
	(void)state;

	memcpy(deep, "a: ", 3);
	memset(deep + 3, '[', n);
	deep[n + 3] = '\0';
	/* refused at the ninth level (column 12), not after reading them all */
	assert_int_equal(load(deep, &cfg, &w, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, ":1:12: nested more than 8 levels deep"));
	config_free(&cfg);
	free(deep);
}

static void test_suggest(void **state)
{
	static const char *const names[] = { "doctor", "status", "config", "help", NULL };
	(void)state;

	assert_string_equal(cli_suggest("stauts", names), "status");
	assert_string_equal(cli_suggest("docter", names), "doctor");
	assert_string_equal(cli_suggest("stat", names), "status");
	assert_null(cli_suggest("frobnicate", names));
	assert_null(cli_suggest("x", names));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_nesting),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_unknown_keys_warn),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_nesting_bound),
		cmocka_unit_test(test_suggest),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
