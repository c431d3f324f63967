/* test_cli.c - end-to-end: run the built halo-agent in a temporary HOME and
 * check what a user sees: help, usage errors with suggestions, config
 * errors, doctor with and without a Vulkan device, status, migrations and
 * broken databases.  Facts doctor reports are compared with independent
 * readings of the same sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "testutil.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char *home;

static int setup(void **state)
{
	(void)state;
	home = tu_mkdtemp("home");
	chmod(home, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(home);
	free(home);
	return 0;
}

static void run(struct tu_run *r, const char *const *env, const char *const *argv)
{
	tu_run(r, home, env, false, argv);
}

/* Fail with what the program printed when the exit status is not `want`. */
#define assert_status(r, want) do { \
	if ((r).status != (want)) \
		fail_msg("exit status %d, want %d; stdout: %s; stderr: %s", \
			 (r).status, (want), (r).out, (r).err); \
} while (0)

/* Count the lines of s. */
static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("not JSON (%s at line %d): %s", e.text, e.line, text);
	return j;
}

static void test_help(void **state)
{
	struct tu_run r, r2;
	(void)state;

	run(&r, NULL, ARGS("help"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "Usage: halo-agent"));
	for (const char *const *c = ARGS("doctor", "status", "config", "help", "version"); *c; c++) {
		char want[64];

		snprintf(want, sizeof(want), "\n  %s ", *c);
		assert_non_null(strstr(r.out, want));
	}
	run(&r2, NULL, ARGS("--help"));
	assert_status(r2, 0);
	assert_string_equal(r.out, r2.out);
	tu_run_free(&r);
	tu_run_free(&r2);

	run(&r, NULL, ARGS("doctor", "--help"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "Usage: halo-agent doctor"));
	assert_non_null(strstr(r.out, "--json"));
	run(&r2, NULL, ARGS("help", "doctor"));
	assert_string_equal(r.out, r2.out);
	tu_run_free(&r);
	tu_run_free(&r2);

	/* Every command listed by help answers --help with its own usage. */
	run(&r, NULL, ARGS("help"));
	{
		char *line = r.out;

		line = strstr(line, "Commands:\n");
		assert_non_null(line);
		for (line = strchr(line, '\n') + 1; line && *line == ' ';
		     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			char name[32], want[64];

			assert_int_equal(sscanf(line, " %31s", name), 1);
			run(&r2, NULL, ARGS(name, "--help"));
			snprintf(want, sizeof(want), "Usage: halo-agent %s", name);
			if (r2.status != 0 || strncmp(r2.out, want, strlen(want)) != 0)
				fail_msg("'%s --help': status %d, output: %s%s", name, r2.status,
					 r2.out, r2.err);
			tu_run_free(&r2);
		}
	}
	tu_run_free(&r);

	run(&r, NULL, ARGS("--version"));
	assert_status(r, 0);
	assert_true(strncmp(r.out, "halo-agent ", 11) == 0);
	tu_run_free(&r);
}

static void test_usage_errors(void **state)
{
	struct tu_run r;
	(void)state;

	run(&r, NULL, ARGS("stauts"));
	assert_status(r, 2);
	assert_string_equal(r.err,
		"halo-agent: unknown command 'stauts' (did you mean 'status'?)\n");
	assert_string_equal(r.out, "");
	tu_run_free(&r);

	run(&r, NULL, ARGS("frobnicate"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "unknown command 'frobnicate'"));
	assert_int_equal(lines(r.err), 1);
	tu_run_free(&r);

	run(&r, NULL, ARGS("status", "--jsno"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "unknown option '--jsno' (did you mean '--json'?)"));
	tu_run_free(&r);

	run(&r, NULL, ARGS("doctor", "-x"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "unknown option '-x'"));
	tu_run_free(&r);

	run(&r, NULL, ARGS("status", "extra"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "unexpected argument 'extra'"));
	tu_run_free(&r);

	run(&r, NULL, ARGS(NULL));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "Usage: halo-agent"));
	tu_run_free(&r);

	run(&r, NULL, ARGS("--data-dir"));
	assert_status(r, 2);
	assert_non_null(strstr(r.err, "'--data-dir' needs a value"));
	tu_run_free(&r);
}

static void test_config_errors(void **state)
{
	static const char bad[] = "engine:\n  threads: lots\n";
	char *dir = tu_mkdtemp("cfg"), *path, *env, *back, want[512];
	struct tu_run r;
	size_t len;
	(void)state;

	assert_true(asprintf(&path, "%s/c.yaml", dir) > 0);
	tu_write_file(path, bad, sizeof(bad) - 1);
	run(&r, NULL, ARGS("--config", path, "status"));
	assert_status(r, 1);
	snprintf(want, sizeof(want), "halo-agent: %s:2:12: key 'engine.threads': "
		 "expected a non-negative integer, got 'lots'\n", path);
	assert_string_equal(r.err, want);
	tu_run_free(&r);

	/* The same through the environment; the file is not rewritten. */
	assert_true(asprintf(&env, "HALO_AGENT_CONFIG=%s", path) > 0);
	run(&r, ARGS(env), ARGS("config"));
	assert_status(r, 1);
	assert_string_equal(r.err, want);
	back = tu_read_file(path, &len);
	assert_int_equal(len, sizeof(bad) - 1);
	assert_memory_equal(back, bad, len);
	free(back);
	tu_run_free(&r);

	/* A missing explicit config is an error; unknown keys only warn. */
	run(&r, NULL, ARGS("--config", "/nonexistent/c.yaml", "config"));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "/nonexistent/c.yaml: cannot read config"));
	tu_run_free(&r);

	{
		static const char warn_yaml[] = "engine:\n  treads: 3\n  backend: cpu\n";

		tu_write_file(path, warn_yaml, sizeof(warn_yaml) - 1);
	}
	run(&r, ARGS(env), ARGS("config", "--json"));
	assert_status(r, 0);
	assert_non_null(strstr(r.err, ":2:3: warning: unknown key 'engine.treads' "
			       "(did you mean 'engine.threads'?)"));
	{
		json_t *j = parse_json(r.out);

		assert_string_equal(json_string_value(json_object_get(
			json_object_get(j, "values"), "engine.backend")), "cpu");
		json_decref(j);
	}
	tu_run_free(&r);
	/* -q silences the warning. */
	run(&r, ARGS(env), ARGS("-q", "config"));
	assert_status(r, 0);
	assert_string_equal(r.err, "");
	tu_run_free(&r);
	free(env);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

/* The default config file under XDG_CONFIG_HOME is read. */
static void test_config_xdg_default(void **state)
{
	char *dir, *path, *data;
	struct tu_run r;
	json_t *j;
	(void)state;

	assert_true(asprintf(&dir, "%s/.config/halo-agent", home) > 0);
	assert_true(asprintf(&data, "%s/from-config", home) > 0);
	{
		char *parent;

		assert_true(asprintf(&parent, "%s/.config", home) > 0);
		mkdir(parent, 0700);
		free(parent);
		assert_int_equal(mkdir(dir, 0700), 0);
	}
	assert_true(asprintf(&path, "%s/config.yaml", dir) > 0);
	{
		char *yaml;

		assert_true(asprintf(&yaml, "data_dir: %s\n", data) > 0);
		tu_write_file(path, yaml, strlen(yaml));
		free(yaml);
	}
	run(&r, NULL, ARGS("status", "--json"));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "data_dir")), data);
	assert_string_equal(json_string_value(json_object_get(j, "config")), path);
	json_decref(j);
	tu_run_free(&r);
	unlink(path);
	free(path);
	free(data);
	free(dir);
}

static uint64_t meminfo_total(void)
{
	char *m = tu_read_file("/proc/meminfo", NULL), *p;
	uint64_t v;

	p = strstr(m, "MemTotal:");
	assert_non_null(p);
	v = strtoull(p + 9, NULL, 10) * 1024;
	free(m);
	return v;
}

static json_t *doctor_json(const char *const *env, struct tu_run *r)
{
	run(r, env, ARGS("doctor", "--json"));
	assert_status(*r, 0);
	return parse_json(r->out);
}

static bool any_finding(json_t *j, const char *area, const char *needle)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(j, "findings"), i, f) {
		if (strcmp(json_string_value(json_object_get(f, "area")), area) == 0 &&
		    strstr(json_string_value(json_object_get(f, "message")), needle))
			return true;
	}
	return false;
}

static void test_doctor_system(void **state)
{
	struct tu_run r;
	struct utsname u;
	json_t *j, *sys, *sb;
	(void)state;

	j = doctor_json(NULL, &r);
	sys = json_object_get(j, "system");
	assert_int_equal(uname(&u), 0);
	assert_string_equal(json_string_value(json_object_get(sys, "kernel")), u.release);
	assert_string_equal(json_string_value(json_object_get(sys, "arch")), u.machine);
	assert_int_equal(json_integer_value(json_object_get(sys, "cpu_count")),
			 sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(json_integer_value(json_object_get(sys, "mem_total")), meminfo_total());
	assert_true(json_integer_value(json_object_get(sys, "disk_free")) > 0);
	sb = json_object_get(j, "sandbox");
	assert_non_null(json_object_get(sb, "landlock_abi"));
	assert_true(json_is_boolean(json_object_get(sb, "user_namespaces")));
	assert_true(any_finding(j, "sandbox", "seccomp"));
	json_decref(j);
	tu_run_free(&r);

	/* The human form has one line per finding. */
	run(&r, NULL, ARGS("doctor"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "] memory "));
	assert_non_null(strstr(r.out, "] vulkan "));
	tu_run_free(&r);
}

/* lavapipe (mesa-vulkan-drivers, installed by scripts/bootstrap) is a CPU
 * Vulkan device: doctor lists it and says auto will not pick it. */
static void test_doctor_vulkan_lavapipe(void **state)
{
	struct tu_run r;
	json_t *j, *vk, *dev = NULL, *d;
	size_t i;
	(void)state;

	j = doctor_json(NULL, &r);
	vk = json_object_get(j, "vulkan");
	assert_true(json_is_true(json_object_get(vk, "loader")));
	json_array_foreach(json_object_get(vk, "devices"), i, d)
		if (strstr(json_string_value(json_object_get(d, "name")), "llvmpipe"))
			dev = d;
	if (dev == NULL)
		fail_msg("no llvmpipe device in doctor's report (is mesa-vulkan-drivers "
			 "installed? run scripts/bootstrap): %s", r.out);
	assert_string_equal(json_string_value(json_object_get(dev, "type")), "cpu");
	assert_true(json_integer_value(json_object_get(dev, "subgroup_size")) >= 4);
	assert_true(json_integer_value(json_object_get(dev, "max_shared_memory")) >= 16384);
	assert_true(json_integer_value(json_object_get(dev, "max_storage_buffer_range")) >= (1 << 27));
	assert_true(json_array_size(json_object_get(dev, "heaps")) >= 1);
	assert_true(json_is_true(json_object_get(dev, "storage_16bit")));
	assert_string_not_equal(json_string_value(json_object_get(dev, "driver")), "");
	assert_true(any_finding(j, "vulkan", "never picked by auto"));
	json_decref(j);
	tu_run_free(&r);
}

static void test_doctor_without_vulkan(void **state)
{
	struct tu_run r;
	json_t *j, *vk;
	(void)state;

	/* A loader with no driver to load. */
	j = doctor_json(ARGS("VK_ICD_FILENAMES=/nonexistent/icd.json",
			     "VK_DRIVER_FILES=/nonexistent/icd.json"), &r);
	vk = json_object_get(j, "vulkan");
	assert_int_equal(json_array_size(json_object_get(vk, "devices")), 0);
	assert_true(any_finding(j, "vulkan", "the engine will use the CPU backend"));
	json_decref(j);
	tu_run_free(&r);

	/* No loader at all. */
	j = doctor_json(ARGS("HALO_VK_LOADER=/nonexistent/libvulkan.so.1"), &r);
	vk = json_object_get(j, "vulkan");
	assert_true(json_is_false(json_object_get(vk, "loader")));
	assert_true(any_finding(j, "vulkan", "Vulkan loader not found"));
	assert_true(any_finding(j, "vulkan", "CPU backend"));
	json_decref(j);
	tu_run_free(&r);
}

static void test_status_and_migrations(void **state)
{
	char *data, *db;
	struct tu_run r;
	json_t *j, *t;
	sqlite3 *h;
	sqlite3_stmt *s;
	int latest;
	(void)state;

	assert_true(asprintf(&data, "%s/d1", home) > 0);
	run(&r, NULL, ARGS("status", "--json", "--data-dir", data));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "data_dir")), data);
	latest = (int)json_integer_value(json_object_get(j, "schema_latest"));
	assert_true(latest >= 1);
	assert_int_equal(json_integer_value(json_object_get(j, "schema_version")), latest);
	t = json_object_get(j, "tables");
	assert_int_equal(json_integer_value(json_object_get(t, "skills")), 0);
	assert_int_equal(json_integer_value(json_object_get(t, "runs")), 0);
	assert_int_equal(json_integer_value(json_object_get(t, "tool_calls")), 0);
	json_decref(j);
	tu_run_free(&r);

	/* The database really is at that version, in WAL mode. */
	assert_true(asprintf(&db, "%s/halo.db", data) > 0);
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), latest);
	sqlite3_finalize(s);
	sqlite3_close(h);

	/* Human output, and the XDG default when nothing overrides it. */
	run(&r, NULL, ARGS("status"));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "/.local/share/halo-agent/halo.db"));
	assert_non_null(strstr(r.out, "schema version:"));
	tu_run_free(&r);
	free(db);
	free(data);
}

static void test_status_env_data_dir(void **state)
{
	char *data, *env;
	struct tu_run r;
	json_t *j;
	(void)state;

	assert_true(asprintf(&data, "%s/from-env", home) > 0);
	assert_true(asprintf(&env, "HALO_AGENT_DATA_DIR=%s", data) > 0);
	run(&r, ARGS(env), ARGS("--json", "status"));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "data_dir")), data);
	json_decref(j);
	tu_run_free(&r);
	/* The flag beats the environment. */
	run(&r, ARGS(env), ARGS("status", "--json", "--data-dir", home));
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "data_dir")), home);
	json_decref(j);
	tu_run_free(&r);
	free(env);
	free(data);
}

static void test_status_corrupt_database(void **state)
{
	static const char junk[] = "\x7f" "ELF not a database at all";
	char *data, *db, *back;
	struct tu_run r;
	size_t len;
	(void)state;

	assert_true(asprintf(&data, "%s/corrupt", home) > 0);
	assert_true(asprintf(&db, "%s/halo.db", data) > 0);
	assert_int_equal(mkdir(data, 0700), 0);
	tu_write_file(db, junk, sizeof(junk) - 1);
	run(&r, NULL, ARGS("status", "--data-dir", data));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "not a SQLite database"));
	assert_non_null(strstr(r.err, db));
	assert_int_equal(lines(r.err), 1);
	back = tu_read_file(db, &len);
	assert_int_equal(len, sizeof(junk) - 1);
	assert_memory_equal(back, junk, len);
	free(back);
	tu_run_free(&r);
	free(db);
	free(data);
}

static void test_status_newer_database(void **state)
{
	char *data, *db;
	struct tu_run r;
	sqlite3 *h;
	(void)state;

	assert_true(asprintf(&data, "%s/newer", home) > 0);
	assert_true(asprintf(&db, "%s/halo.db", data) > 0);
	assert_int_equal(mkdir(data, 0700), 0);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 4242", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	run(&r, NULL, ARGS("status", "--data-dir", data));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "schema version 4242 is newer"));
	tu_run_free(&r);
	free(db);
	free(data);
}

static void test_status_readonly_data_dir(void **state)
{
	char *data;
	struct tu_run r;
	(void)state;

	assert_true(asprintf(&data, "%s/ro", home) > 0);
	assert_int_equal(mkdir(data, 0555), 0);
	chmod(data, 0555);
	if (geteuid() == 0) {
		assert_int_equal(chown(home, 65534, 65534), 0);
		assert_int_equal(chown(data, 65534, 65534), 0);
	}
	tu_run(&r, home, ARGS("XDG_CONFIG_HOME=/nonexistent"), true,
	       ARGS("status", "--data-dir", data));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "not writable"));
	assert_non_null(strstr(r.err, "--data-dir"));
	/* Nothing was created there. */
	{
		char *db;

		assert_true(asprintf(&db, "%s/halo.db", data) > 0);
		assert_int_equal(access(db, F_OK), -1);
		free(db);
	}
	tu_run_free(&r);
	if (geteuid() == 0)
		assert_int_equal(chown(home, 0, 0), 0);
	free(data);
}

/* model info: facts computed here from the README's shapes of stories260K
 * (n_embd 64, 5 layers, 8/4 heads of 8, ffn 172, 512-token vocab, untied). */
static void test_model_info(void **state)
{
	const long long E = 64, L = 5, Q = 64, KV = 32, F = 172, V = 512;
	const long long params = 2 * V * E + E + L * (E * Q + 2 * E * KV + Q * E + 2 * E + 3 * E * F);
	const long long bytes = params * 4;
	char *model;
	struct tu_run r;
	json_t *j;
	(void)state;

	assert_true(asprintf(&model, "%s/models/stories260K.gguf", tu_testdata()) > 0);
	run(&r, NULL, ARGS("model", "info", model, "--json"));
	assert_status(r, 0);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "architecture")), "llama");
	assert_int_equal(json_integer_value(json_object_get(j, "block_count")), L);
	assert_int_equal(json_integer_value(json_object_get(j, "embedding_length")), E);
	assert_int_equal(json_integer_value(json_object_get(j, "vocab_size")), V);
	assert_int_equal(json_integer_value(json_object_get(j, "parameters")), params);
	assert_int_equal(json_integer_value(json_object_get(j, "tensor_bytes")), bytes);
	/* one row of token_embd is read per token, the rest of it never */
	assert_int_equal(json_integer_value(json_object_get(j, "bytes_per_token")),
			 bytes - V * E * 4 + E * 4);
	assert_true(json_is_false(json_object_get(j, "chat_template")));
	json_decref(j);
	tu_run_free(&r);

	run(&r, NULL, ARGS("model", "info", model));
	assert_status(r, 0);
	assert_non_null(strstr(r.out, "architecture:"));
	assert_non_null(strstr(r.out, "bytes per token:"));
	tu_run_free(&r);

	run(&r, NULL, ARGS("model", "info", "/etc/os-release"));
	assert_status(r, 1);
	assert_non_null(strstr(r.err, "not a GGUF file"));
	assert_int_equal(lines(r.err), 1);
	tu_run_free(&r);
	free(model);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_xdg_default),
		cmocka_unit_test(test_doctor_system),
		cmocka_unit_test(test_doctor_vulkan_lavapipe),
		cmocka_unit_test(test_doctor_without_vulkan),
		cmocka_unit_test(test_status_and_migrations),
		cmocka_unit_test(test_status_env_data_dir),
		cmocka_unit_test(test_status_corrupt_database),
		cmocka_unit_test(test_status_newer_database),
		cmocka_unit_test(test_status_readonly_data_dir),
		cmocka_unit_test(test_model_info),
	};

	return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
