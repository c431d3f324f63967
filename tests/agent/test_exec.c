/* test_exec.c - `halo-agent exec` and `halo-agent runs` end to end: the
 * built binary in a temporary HOME, as the caller and (when root) as uid
 * 65534: the JSON report, limits from the command line and the config,
 * usage errors, the audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char *home, *ws;

static int setup(void **state)
{
	(void)state;
	home = tu_mkdtemp("exec-home");
	ws = tu_mkdtemp("exec-ws");
	chmod(home, 0777);
	chmod(ws, 0777);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(home);
	tu_rmtree(ws);
	free(home);
	free(ws);
	return 0;
}

#define assert_status(r, want) do { \
	if ((r).status != (want)) \
		fail_msg("exit status %d, want %d; stdout: %s; stderr: %s", \
			 (r).status, (want), (r).out, (r).err); \
} while (0)

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("not JSON (%s): %s", e.text, text);
	return j;
}

static void exec_json(bool nobody)
{
	struct tu_run r;
	json_t *j;
	const char *layers;

	tu_run(&r, home, NULL, nobody, ARGS("--json", "exec", "--workspace", ws, "--timeout", "30",
		"--", "sh", "-c", "echo out; echo err >&2; touch made; exit 7"));
	assert_status(r, 7);
	j = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "exit_status")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "signal")), 0);
	assert_false(json_is_true(json_object_get(j, "timed_out")));
	assert_string_equal(json_string_value(json_object_get(j, "stdout")), "out\n");
	assert_string_equal(json_string_value(json_object_get(j, "stderr")), "err\n");
	assert_int_equal(json_integer_value(json_object_get(j, "stdout_bytes")), 4);
	assert_false(json_is_true(json_object_get(j, "stdout_truncated")));
	layers = json_string_value(json_object_get(j, "layers"));
	assert_non_null(strstr(layers, "userns,mountns,pidns,ipcns,netns,nnp+caps,landlock-fs"));
	assert_non_null(strstr(layers, "seccomp,rlimits"));
	assert_true(json_real_value(json_object_get(j, "duration_ms")) > 0);
	assert_true(json_is_true(json_object_get(j, "sandboxed")));
	json_decref(j);
	tu_run_free(&r);
}

static void test_exec_json(void **state)
{
	(void)state;
	exec_json(false);
}

static void test_exec_json_nobody(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	exec_json(true);
}

static void test_exec_limits(void **state)
{
	struct tu_run r;
	json_t *j;
	char cfg[4200], cfgarg[4300];
	(void)state;

	tu_run(&r, home, NULL, false, ARGS("--json", "exec", "--workspace", ws, "--timeout", "1",
		"--output-cap", "1000", "--", "sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a; sleep 100"));
	assert_status(r, 124);
	j = parse(r.out);
	assert_true(json_is_true(json_object_get(j, "timed_out")));
	assert_int_equal(json_integer_value(json_object_get(j, "stdout_bytes")), 5000);
	assert_true(json_is_true(json_object_get(j, "stdout_truncated")));
	json_decref(j);
	tu_run_free(&r);

	/* sandbox.network from the config; --network overrides it */
	snprintf(cfg, sizeof(cfg), "%s/config.yaml", home);
	{
		static const char text[] = "sandbox:\n  network: host\n  memory: 268435456\n";

		tu_write_file(cfg, text, sizeof(text) - 1);
	}
	snprintf(cfgarg, sizeof(cfgarg), "--config=%s", cfg);
	tu_run(&r, home, NULL, false, ARGS(cfgarg, "--json", "exec", "--workspace", ws, "--",
					   "true"));
	assert_status(r, 0);
	assert_null(strstr(r.out, "netns"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS(cfgarg, "--json", "exec", "--network", "none",
					   "--workspace", ws, "--", "true"));
	assert_non_null(strstr(r.out, "netns"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS(cfgarg, "exec", "--workspace", ws, "--", "sh", "-c",
					   "ulimit -v"));
	assert_status(r, 0);
	assert_string_equal(r.out, "262144\n");
	tu_run_free(&r);
}

static void test_exec_errors(void **state)
{
	struct tu_run r;
	(void)state;

	tu_run(&r, home, NULL, false, ARGS("exec", "--workspace", ws));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "no command given"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("exec", "--network", "wifi", "--", "true"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "--network must be none or host"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("exec", "--workspace", "/proc", "--", "true"));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "may not be /, or in /proc"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("exec", "--workspace", ws, "--", "no-such-cmd-x"));
	assert_status(r, 127);
	assert_non_null(strstr(r.err, "no-such-cmd-x: No such file or directory"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("exec", "--workspace", ws, "--allow-unsandboxed",
					   "--", "true"));
	assert_status(r, 0);
	assert_non_null(strstr(r.err, "WARNING: UNSANDBOXED"));
	tu_run_free(&r);
}

static void test_runs(void **state)
{
	struct tu_run r;
	json_t *j, *calls;
	char id[32];
	(void)state;

	tu_run(&r, home, NULL, false, ARGS("exec", "--workspace", ws, "--", "sh", "-c",
					   "echo audited; printf 'warn\\377\\n' >&2; exit 3"));
	assert_status(r, 3);
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("--json", "runs"));
	assert_status(r, 0);
	j = parse(r.out);
	assert_true(json_array_size(j) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "kind")),
			    "exec");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "subject")),
			    "sh -c echo audited; printf 'warn\\377\\n' >&2; exit 3");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "exit_status")), 3);
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(
		json_object_get(json_array_get(j, 0), "id")));
	json_decref(j);
	tu_run_free(&r);

	tu_run(&r, home, NULL, false, ARGS("--json", "runs", "show", id));
	assert_status(r, 0);
	j = parse(r.out);
	calls = json_object_get(j, "tool_calls");
	assert_int_equal(json_array_size(calls), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "tool")),
			    "shell");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(calls, 0),
							    "out_bytes")), 8 + 6);
	/* the transcript: what ran, how it ended, what it printed (a byte that
	 * is not UTF-8 comes out as U+FFFD) */
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							      "command")),
			    "sh -c echo audited; printf 'warn\\377\\n' >&2; exit 3");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(calls, 0),
							    "exit_status")), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							      "stdout")), "audited\n");
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							      "stderr")), "warn\xef\xbf\xbd\n");
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							      "error")), "");
	assert_true(json_integer_value(json_object_get(json_array_get(calls, 0),
						       "started_at")) > 1700000000000);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(
		json_array_get(calls, 0), "policy"), "layers")), "seccomp"));
	json_decref(j);
	tu_run_free(&r);

	tu_run(&r, home, NULL, false, ARGS("runs", "show", id));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "tool call"));
	assert_non_null(strstr(r.out, "\"network\":\"none\""));
	assert_non_null(strstr(r.out, "command:   sh -c echo audited;"));
	assert_non_null(strstr(r.out, "exit:      3"));
	assert_non_null(strstr(r.out, "    stdout:\n      audited\n"));
	assert_non_null(strstr(r.out, "    stderr:\n      warn\377\n"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("runs", "show", "999999"));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "no run with id 999999"));
	tu_run_free(&r);
	tu_run(&r, home, NULL, false, ARGS("runs", "list"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "sh -c echo audited"));
	tu_run_free(&r);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_json_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
	};

	return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
