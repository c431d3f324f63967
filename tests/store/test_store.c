/* test_store.c - the store: open and migrate, registry and audit log, and
 * the failure paths (not a database, too new, failed migration, read-only),
 * each checked to leave the file exactly as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_int.h"
#include "testutil.h"

static char *db_path(const char *dir)
{
	char *p;

	assert_true(asprintf(&p, "%s/" STORE_DB_NAME, dir) > 0);
	return p;
}

/* Run one SQL query returning a single integer or text on a raw connection. */
static char *query_text(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char *res = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		res = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return res;
}

static void test_open_creates_and_migrates(void **state)
{
	char *dir = tu_mkdtemp("store"), *sub, *path, *v;
	struct store *st = NULL;
	struct stat sb;
	(void)state;

	assert_true(asprintf(&sub, "%s/a/b/halo", dir) > 0);
	assert_int_equal(store_open(&st, sub, NULL), 0);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_true(store_schema_latest() >= 1);
	path = db_path(sub);
	assert_string_equal(store_path(st), path);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700); /* private by default */
	store_close(st);

	v = query_text(path, "PRAGMA journal_mode");
	assert_string_equal(v, "wal");
	free(v);
	v = query_text(path, "PRAGMA user_version");
	assert_int_equal(atoi(v), store_schema_latest());
	free(v);

	/* Reopening is a no-op on the schema. */
	assert_int_equal(store_open(&st, sub, NULL), 0);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	store_close(st);
	free(path);
	free(sub);
	tu_rmtree(dir);
	free(dir);
}

static void test_table_counts(void **state)
{
	char *dir = tu_mkdtemp("store");
	struct store *st;
	struct store_count *c;
	size_t n;
	int seen = 0;
	(void)state;

	assert_int_equal(store_open(&st, dir, NULL), 0);
	assert_int_equal(store_table_counts(st, &c, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].table, "skills") == 0 || strcmp(c[i].table, "runs") == 0 ||
		    strcmp(c[i].table, "tool_calls") == 0) {
			assert_int_equal(c[i].rows, 0);
			seen++;
		}
	}
	assert_int_equal(seen, 3);
	store_counts_free(c, n);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static void test_skills_registry(void **state)
{
	char *dir = tu_mkdtemp("store");
	struct store *st;
	struct store_skill s = { "hello", "1.0", "/src/hello.md", "ab12",
				 STORE_SKILL_INSTALLED, 1700000000,
				 "[\"bin/hello\"]" };
	struct store_skill got, *list;
	size_t n;
	(void)state;

	assert_int_equal(store_open(&st, dir, NULL), 0);
	assert_int_equal(store_skill_put(st, &s), 0);
	s.name = "abc";
	s.status = STORE_SKILL_FAILED;
	assert_int_equal(store_skill_put(st, &s), 0);

	assert_int_equal(store_skill_get(st, "hello", &got), 0);
	assert_string_equal(got.version, "1.0");
	assert_string_equal(got.source, "/src/hello.md");
	assert_string_equal(got.content_hash, "ab12");
	assert_string_equal(got.manifest, "[\"bin/hello\"]");
	assert_int_equal(got.status, STORE_SKILL_INSTALLED);
	assert_int_equal(got.installed_at, 1700000000);
	store_skill_clear(&got);

	/* Put again replaces. */
	s.name = "hello";
	s.version = "2.0";
	s.status = STORE_SKILL_REMOVED;
	assert_int_equal(store_skill_put(st, &s), 0);
	assert_int_equal(store_skill_get(st, "hello", &got), 0);
	assert_string_equal(got.version, "2.0");
	assert_int_equal(got.status, STORE_SKILL_REMOVED);
	store_skill_clear(&got);

	assert_int_equal(store_skill_list(st, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "abc"); /* ordered by name */
	assert_int_equal(list[0].status, STORE_SKILL_FAILED);
	assert_string_equal(list[1].name, "hello");
	store_skills_free(list, n);

	assert_int_equal(store_skill_delete(st, "abc"), 0);
	assert_int_equal(store_skill_delete(st, "abc"), STORE_ENOTFOUND);
	assert_int_equal(store_skill_get(st, "abc", &got), STORE_ENOTFOUND);
	assert_non_null(strstr(store_errmsg(), "abc"));
	s.name = "";
	assert_int_equal(store_skill_put(st, &s), STORE_EINVAL);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static void test_audit_log(void **state)
{
	char *dir = tu_mkdtemp("store");
	struct store *st;
	struct store_tool_call c = { 0 }, *calls;
	struct store_run *runs;
	int64_t r1, r2, cid;
	size_t n;
	(void)state;

	assert_int_equal(store_open(&st, dir, NULL), 0);
	assert_int_equal(store_run_begin(st, "install", "hello", &r1), 0);
	assert_int_equal(store_run_begin(st, "exec", "", &r2), 0);
	assert_true(r2 > r1);
	c.run_id = r1;
	c.tool = "shell";
	c.args = "{\"cmd\":\"make\"}";
	c.policy = "{\"network\":\"none\"}";
	c.exit_status = 2;
	c.duration_ms = 1234;
	c.out_bytes = 1 << 20;
	c.truncated = true;
	assert_int_equal(store_tool_call_add(st, &c, &cid), 0);
	assert_int_equal(store_run_end(st, r1, 2), 0);
	assert_int_equal(store_run_end(st, 999, 0), STORE_ENOTFOUND);

	/* A tool call must belong to a run (foreign keys are on). */
	c.run_id = 999;
	assert_int_not_equal(store_tool_call_add(st, &c, NULL), 0);

	assert_int_equal(store_run_list(st, 10, &runs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].id, r2); /* newest first */
	assert_int_equal(runs[0].exit_status, -1);
	assert_int_equal(runs[0].ended_at, 0);
	assert_string_equal(runs[1].kind, "install");
	assert_string_equal(runs[1].subject, "hello");
	assert_int_equal(runs[1].exit_status, 2);
	assert_true(runs[1].ended_at >= runs[1].started_at);
	store_runs_free(runs, n);

	assert_int_equal(store_tool_call_list(st, r1, &calls, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(calls[0].id, cid);
	assert_string_equal(calls[0].tool, "shell");
	assert_string_equal(calls[0].args, "{\"cmd\":\"make\"}");
	assert_string_equal(calls[0].policy, "{\"network\":\"none\"}");
	assert_int_equal(calls[0].exit_status, 2);
	assert_int_equal(calls[0].duration_ms, 1234);
	assert_int_equal(calls[0].out_bytes, 1 << 20);
	assert_true(calls[0].truncated);
	/* no transcript given: empty, never NULL; the start is derived */
	assert_string_equal(calls[0].out, "");
	assert_int_equal(calls[0].out_len, 0);
	assert_string_equal(calls[0].err, "");
	assert_string_equal(calls[0].error, "");
	assert_true(calls[0].started_at > 0);
	store_tool_calls_free(calls, n);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* Schema 2: a call's output comes back byte for byte (NULs and invalid
 * UTF-8 included), with its error and start time. */
static void test_transcript(void **state)
{
	static const char bin[] = "a\0b\xff\xfe\n"; /* 6 bytes */
	char *dir = tu_mkdtemp("store");
	struct store *st;
	struct store_tool_call c = { 0 }, *calls;
	int64_t run;
	size_t n;
	(void)state;

	assert_int_equal(store_open(&st, dir, NULL), 0);
	assert_int_equal(store_run_begin(st, "install", "x", &run), 0);
	c.run_id = run;
	c.tool = "shell";
	c.out = "hello\nworld\n";            /* length by strlen */
	c.err = (char *)bin;
	c.err_len = sizeof(bin) - 1;
	c.started_at = 1700000000123;
	assert_int_equal(store_tool_call_add(st, &c, NULL), 0);
	memset(&c, 0, sizeof(c));
	c.run_id = run;
	c.tool = "download";
	c.exit_status = -1;
	c.error = "sha256 mismatch for http://x/y";
	assert_int_equal(store_tool_call_add(st, &c, NULL), 0);

	assert_int_equal(store_tool_call_list(st, run, &calls, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(calls[0].out, "hello\nworld\n");
	assert_int_equal(calls[0].out_len, 12);
	assert_int_equal(calls[0].err_len, 6);
	assert_memory_equal(calls[0].err, bin, 6);
	assert_int_equal(calls[0].err[6], 0);
	assert_int_equal(calls[0].started_at, 1700000000123);
	assert_string_equal(calls[0].error, "");
	assert_string_equal(calls[1].error, "sha256 mismatch for http://x/y");
	assert_string_equal(calls[1].out, "");
	assert_int_equal(calls[1].exit_status, -1);
	store_tool_calls_free(calls, n);
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

/* A database written by a schema-1 build migrates to the latest with its
 * rows intact; the new columns read as empty. */
static void test_migrate_from_v1(void **state)
{
	char *dir = tu_mkdtemp("store"), *path = db_path(dir), *v;
	struct store *st;
	struct store_tool_call *calls;
	sqlite3 *db;
	size_t n;
	(void)state;

	assert_int_equal(store_open_with(&st, dir, NULL, store_migrations, 1), 0);
	assert_int_equal(store_schema_version(st), 1);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO runs (id, kind, subject, started_at, ended_at, exit_status) "
		"VALUES (7, 'exec', 'make', 1000, 2000, 0);"
		"INSERT INTO tool_calls (id, run_id, tool, args, policy, exit_status, "
		"duration_ms, out_bytes, truncated) VALUES (3, 7, 'shell', "
		"'{\"argv\":[\"make\"]}', '{}', 0, 1000, 42, 1);", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(&st, dir, NULL), 0);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_true(store_schema_latest() >= 2);
	assert_int_equal(store_tool_call_list(st, 7, &calls, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(calls[0].id, 3);
	assert_string_equal(calls[0].args, "{\"argv\":[\"make\"]}");
	assert_int_equal(calls[0].out_bytes, 42);
	assert_true(calls[0].truncated);
	assert_string_equal(calls[0].out, "");
	assert_string_equal(calls[0].err, "");
	assert_string_equal(calls[0].error, "");
	assert_int_equal(calls[0].started_at, 0);
	store_tool_calls_free(calls, n);
	store_close(st);
	v = query_text(path, "PRAGMA user_version");
	assert_int_equal(atoi(v), store_schema_latest());
	free(v);
	v = query_text(path, "SELECT group_concat(name) FROM pragma_table_info('tool_calls')");
	assert_non_null(strstr(v, "stdout,stderr,error,started_at"));
	free(v);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void test_not_a_database(void **state)
{
	static const char junk[] = "this is my diary, not a database\n";
	char *dir = tu_mkdtemp("store"), *path = db_path(dir), *back;
	struct store *st = (struct store *)1;
	size_t len;
	(void)state;

	tu_write_file(path, junk, sizeof(junk) - 1);
	assert_int_equal(store_open(&st, dir, NULL), STORE_ENOTDB);
	assert_null(st);
	assert_non_null(strstr(store_errmsg(), "not a SQLite database"));
	assert_non_null(strstr(store_errmsg(), path));
	back = tu_read_file(path, &len);
	assert_int_equal(len, sizeof(junk) - 1);
	assert_memory_equal(back, junk, len);
	free(back);
	/* No WAL or journal files were left beside it. */
	assert_true(asprintf(&back, "%s-wal", path) > 0);
	assert_int_equal(access(back, F_OK), -1);
	free(back);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void test_newer_schema_untouched(void **state)
{
	char *dir = tu_mkdtemp("store"), *path = db_path(dir), *before, *after;
	size_t lb, la;
	sqlite3 *db;
	struct store *st;
	(void)state;

	/* A database written by a future halo-agent, in rollback-journal mode. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 999;",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	before = tu_read_file(path, &lb);

	assert_int_equal(store_open(&st, dir, NULL), STORE_ETOONEW);
	assert_non_null(strstr(store_errmsg(), "999"));
	assert_non_null(strstr(store_errmsg(), "upgrade halo-agent"));
	after = tu_read_file(path, &la);
	assert_int_equal(la, lb);
	assert_memory_equal(after, before, la); /* not even switched to WAL */
	free(before);
	free(after);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void test_failed_migration_rolls_back(void **state)
{
	const struct store_migration bad[] = {
		store_migrations[0],
		{ 2, "add widgets", "CREATE TABLE widgets(a); INSERT INTO nosuch VALUES (1);" },
	};
	char *dir = tu_mkdtemp("store"), *path = db_path(dir), *v;
	struct store *st;
	(void)state;

	assert_int_equal(store_open_with(&st, dir, NULL, bad, 2), STORE_EMIGRATE);
	assert_non_null(strstr(store_errmsg(), "migration 2 (add widgets) failed"));
	assert_non_null(strstr(store_errmsg(), "nosuch"));
	assert_non_null(strstr(store_errmsg(), "stays at schema version 1"));
	v = query_text(path, "PRAGMA user_version");
	assert_string_equal(v, "1");
	free(v);
	/* The half of migration 2 that ran is gone with the transaction. */
	v = query_text(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'widgets'");
	assert_string_equal(v, "0");
	free(v);
	/* The good schema still opens. */
	assert_int_equal(store_open(&st, dir, NULL), 0);
	store_close(st);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void test_readonly_data_dir(void **state)
{
	char *dir = tu_mkdtemp("store"), *sub;
	struct store *st;
	int status;
	pid_t pid;
	(void)state;

	assert_true(asprintf(&sub, "%s/data", dir) > 0);
	assert_int_equal(store_open(&st, sub, NULL), 0);
	store_close(st);
	/* Root ignores permissions: check as an unprivileged user. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(sub, 0555), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, 65534), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(10);
		if (store_open(&st, sub, NULL) != STORE_EREADONLY)
			_exit(11);
		if (strstr(store_errmsg(), "not writable") == NULL)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(sub);
	tu_rmtree(dir);
	free(dir);
}

static void test_open_without_create(void **state)
{
	struct store_opts o = STORE_OPTS_INIT;
	char *dir = tu_mkdtemp("store");
	struct store *st;
	(void)state;

	o.create = false;
	assert_int_equal(store_open(&st, dir, &o), STORE_ENOTFOUND);
	o.version = 99;
	assert_int_equal(store_open(&st, dir, &o), STORE_EINVAL);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_and_migrates),
		cmocka_unit_test(test_table_counts),
		cmocka_unit_test(test_skills_registry),
		cmocka_unit_test(test_audit_log),
		cmocka_unit_test(test_transcript),
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_newer_schema_untouched),
		cmocka_unit_test(test_failed_migration_rolls_back),
		cmocka_unit_test(test_readonly_data_dir),
		cmocka_unit_test(test_open_without_create),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
