/* test_tools.c - the tools end to end: argument validation, approval, the
 * audit log, file tools in a workspace, http_get/download against a small
 * HTTP server of our own on 127.0.0.1 (allowed and denied hosts, a
 * redirect to a denied host, sha256 good and bad), and git_clone of a local
 * repository made here with libgit2 (pinned commit). */
#include <arpa/inet.h>
#include <errno.h>
#include <git2.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "testutil.h"
#include "tools.h"

static char *ws, *data;
static int port;

/* ---- a tiny HTTP/1.0 server -------------------------------------------------------- */

#define BODY "hello from the test server\n"
/* sha256 of BODY */
static char body_sha[65];

static void *serve(void *arg)
{
	int ls = *(int *)arg;

	for (;;) {
		char req[2048], path[512], hdr[1024];
		const char *body = NULL;
		char *big = NULL;
		size_t blen = 0;
		int c = accept(ls, NULL, NULL);
		ssize_t n;

		if (c < 0)
			break;
		n = read(c, req, sizeof(req) - 1);
		if (n <= 0 || sscanf(req, "GET %511s", path) != 1) {
			close(c);
			continue;
		}
		if (strcmp(path, "/hello") == 0) {
			body = BODY;
			blen = strlen(BODY);
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", blen);
		} else if (strcmp(path, "/big") == 0) {
			blen = 3u << 20;
			big = calloc(1, blen);
			body = big;
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\n\r\n");
		} else if (strcmp(path, "/to-hello") == 0) {
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 302 Found\r\nLocation: "
				 "http://127.0.0.1:%d/hello\r\nContent-Length: 0\r\n\r\n", port);
		} else if (strcmp(path, "/to-denied") == 0) {
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 302 Found\r\nLocation: "
				 "http://localhost:%d/hello\r\nContent-Length: 0\r\n\r\n", port);
		} else {
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		}
		if (write(c, hdr, strlen(hdr)) < 0 ||
		    (body && write(c, body, blen) < 0)) {
			/* client went away */
		}
		free(big);
		close(c);
	}
	return NULL;
}

static int group_setup(void **state)
{
	static int ls;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	pthread_t t;
	FILE *p;

	(void)state;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		return -1;
	port = ntohs(a.sin_port);
	pthread_create(&t, NULL, serve, &ls);
	pthread_detach(t);
	/* the reference digest, from an independent implementation */
	p = popen("printf 'hello from the test server\\n' | sha256sum", "r");
	if (p == NULL || fscanf(p, "%64s", body_sha) != 1)
		return -1;
	pclose(p);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	ws = tu_mkdtemp("tools-ws");
	data = tu_mkdtemp("tools-data");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(ws);
	tu_rmtree(data);
	free(ws);
	free(data);
	return 0;
}

static struct tools_ctx *ctx_with(enum tools_approval ap, tools_ask_fn ask, void *ud,
				  struct store *st, int64_t run)
{
	struct tools_ctx_opts o = TOOLS_CTX_OPTS_INIT;
	struct tools_ctx *c = NULL;

	o.policy.workspace = ws;
	o.policy.timeout_ms = 20000;
	o.hosts[o.n_hosts++] = "127.0.0.1";
	o.approval = ap;
	o.ask = ask;
	o.ask_ud = ud;
	o.skill = "demo";
	o.store = st;
	o.run_id = run;
	o.max_download = 1u << 20;
	if (tools_ctx_open(&c, &o) < 0)
		fail_msg("tools_ctx_open: %s", tools_errmsg());
	return c;
}

static int call(struct tools_ctx *c, const char *tool, const char *args,
		struct tools_result *r)
{
	return tools_call(c, tool, args, r);
}

static json_t *fields(const struct tools_result *r)
{
	json_t *j = json_loads(r->fields, 0, NULL);

	assert_non_null(j);
	return j;
}

/* ---- validation ------------------------------------------------------------------ */

static void test_validation(void **state)
{
	static const struct { const char *tool, *args, *msg; } cases[] = {
		{ "read_file", "{}", "missing required argument 'path'" },
		{ "read_file", "{\"path\": 3}", "argument 'path' must be a string, not an integer" },
		{ "read_file", "{\"path\": \"a\", \"mode\": 1}", "unknown argument 'mode' (expected: path, offset, max_bytes)" },
		{ "read_file", "[1]", "must be a JSON object, not an array" },
		{ "read_file", "{\"path\": \"a\\u0000b\"}", "is not allowed" },
		{ "read_file", "{\"path\": \"a\", \"max_bytes\": 0}", "'max_bytes' must be at least 1" },
		{ "shell", "{\"command\": \"true\", \"timeout\": \"5\"}", "'timeout' must be an integer, not a string" },
		{ "download", "{\"url\": \"x\", \"path\": \"y\", \"sha256\": \"zz\"}", "shorter than 64" },
		{ "write_file", "{\"path\": \"a\"", "are not JSON" },
		{ "no_such_tool", "{}", "no tool named 'no_such_tool'" },
	};
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, NULL, 0);
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tools_result r;
		int rc = call(c, cases[i].tool, cases[i].args, &r);

		assert_true(rc == TOOLS_EINVAL || rc == TOOLS_ENOTFOUND);
		if (strstr(r.text, cases[i].msg) == NULL)
			fail_msg("%s %s: '%s' lacks '%s'", cases[i].tool, cases[i].args, r.text,
				 cases[i].msg);
		assert_int_equal(r.exit_status, -1);
		tools_result_clear(&r);
	}
	for (size_t i = 0; tools_name(i); i++) {
		json_t *schema = json_loads(tools_schema(i), 0, NULL);

		assert_non_null(schema);
		assert_non_null(tools_description(i));
		json_decref(schema);
	}
	tools_ctx_close(c);
}

/* ---- file tools ---------------------------------------------------------------- */

static void test_file_tools(void **state)
{
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, NULL, 0);
	struct tools_result r;
	char path[PATH_MAX];
	json_t *f;
	(void)state;

	assert_int_equal(call(c, "write_file", "{\"path\": \"src/a/b.txt\", \"content\": "
			      "\"one two two\\n\", \"create_dirs\": true}", &r), 0);
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/src/a/b.txt", ws);
	{
		size_t len;
		char *s = tu_read_file(path, &len);

		assert_string_equal(s, "one two two\n");
		free(s);
	}
	assert_int_equal(call(c, "read_file", "{\"path\": \"src/a/b.txt\", \"offset\": 4, "
			      "\"max_bytes\": 3}", &r), 0);
	assert_string_equal(r.text, "two");
	f = fields(&r);
	assert_int_equal(json_integer_value(json_object_get(f, "size")), 12);
	assert_true(json_is_true(json_object_get(f, "truncated")));
	json_decref(f);
	tools_result_clear(&r);

	assert_int_equal(call(c, "edit_file", "{\"path\": \"src/a/b.txt\", \"old_string\": "
			      "\"two\", \"new_string\": \"2\"}", &r), TOOLS_EINVAL);
	assert_non_null(strstr(r.text, "occurs 2 times"));
	tools_result_clear(&r);
	assert_int_equal(call(c, "edit_file", "{\"path\": \"src/a/b.txt\", \"old_string\": "
			      "\"two\", \"new_string\": \"2\", \"replace_all\": true}", &r), 0);
	tools_result_clear(&r);
	assert_int_equal(call(c, "edit_file", "{\"path\": \"src/a/b.txt\", \"old_string\": "
			      "\"three\", \"new_string\": \"3\"}", &r), TOOLS_ENOTFOUND);
	tools_result_clear(&r);
	assert_int_equal(call(c, "read_file", "{\"path\": \"src/a/b.txt\"}", &r), 0);
	assert_string_equal(r.text, "one 2 2\n");
	tools_result_clear(&r);

	assert_int_equal(call(c, "list_dir", "{\"path\": \"src/a\"}", &r), 0);
	assert_string_equal(r.text, "b.txt\t8\n");
	tools_result_clear(&r);
	assert_int_equal(call(c, "write_file", "{\"path\": \"x/y\", \"content\": \"\"}", &r),
			 TOOLS_ENOTFOUND);
	tools_result_clear(&r);
	assert_int_equal(call(c, "read_file", "{\"path\": \"src\"}", &r), TOOLS_EINVAL);
	tools_result_clear(&r);
	tools_ctx_close(c);
}

/* ---- approval ------------------------------------------------------------------- */

struct asked {
	int n;
	enum tools_answer answer;
	char last[256];
};

static enum tools_answer ask_cb(void *ud, const char *tool, const char *summary,
				const char *policy)
{
	struct asked *a = ud;

	a->n++;
	snprintf(a->last, sizeof(a->last), "%s|%s", tool, summary);
	assert_non_null(strstr(policy, "\"network\":\"none\""));
	return a->answer;
}

static void test_approval(void **state)
{
	struct asked a = { 0, TOOLS_ANSWER_NO, "" };
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_ASK, ask_cb, &a, NULL, 0);
	struct tools_result r;
	(void)state;

	assert_int_equal(call(c, "shell", "{\"command\": \"echo hi\"}", &r), TOOLS_EDENIED);
	assert_string_equal(a.last, "shell|echo hi");
	tools_result_clear(&r);
	a.answer = TOOLS_ANSWER_YES;
	assert_int_equal(call(c, "shell", "{\"command\": \"echo hi\"}", &r), 0);
	assert_string_equal(r.text, "hi\n[exit 0]");
	tools_result_clear(&r);
	a.answer = TOOLS_ANSWER_ALWAYS;
	assert_int_equal(call(c, "shell", "{\"command\": \"exit 3\"}", &r), 0);
	assert_int_equal(r.exit_status, 3);
	tools_result_clear(&r);
	a.answer = TOOLS_ANSWER_NO; /* no longer asked: always for this skill */
	assert_int_equal(call(c, "shell", "{\"command\": \"true\"}", &r), 0);
	assert_int_equal(a.n, 3);
	tools_result_clear(&r);
	/* file tools need no approval */
	assert_int_equal(call(c, "list_dir", "{}", &r), 0);
	tools_result_clear(&r);
	tools_ctx_close(c);

	c = ctx_with(TOOLS_APPROVAL_DENY, NULL, NULL, NULL, 0);
	assert_int_equal(call(c, "shell", "{\"command\": \"true\"}", &r), TOOLS_EDENIED);
	assert_non_null(strstr(r.text, "deny"));
	tools_result_clear(&r);
	tools_ctx_close(c);
	c = ctx_with(TOOLS_APPROVAL_ASK, NULL, NULL, NULL, 0);
	assert_int_equal(call(c, "shell", "{\"command\": \"true\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	tools_ctx_close(c);
}

/* ---- audit log ------------------------------------------------------------------- */

static void test_audit_log(void **state)
{
	struct store *st = NULL;
	struct store_tool_call *calls = NULL;
	struct tools_ctx *c;
	struct tools_result r;
	int64_t run;
	size_t n = 0;
	(void)state;

	assert_int_equal(store_open(&st, data, NULL), 0);
	assert_int_equal(store_run_begin(st, "test", "audit", &run), 0);
	c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, st, run);
	assert_int_equal(call(c, "shell", "{\"command\": \"head -c 5000 /dev/zero\"}", &r), 0);
	tools_result_clear(&r);
	assert_int_equal(call(c, "read_file", "{\"path\": \"../x\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	tools_ctx_close(c);
	assert_int_equal(store_tool_call_list(st, run, &calls, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(calls[0].tool, "shell");
	assert_int_equal(calls[0].exit_status, 0);
	assert_int_equal(calls[0].out_bytes, 5000);
	assert_non_null(strstr(calls[0].policy, "\"layers\":\"userns,mountns"));
	assert_non_null(strstr(calls[0].args, "head -c 5000"));
	assert_string_equal(calls[1].tool, "read_file");
	assert_int_equal(calls[1].exit_status, -1);
	store_tool_calls_free(calls, n);
	store_close(st);
}

/* ---- streaming output and the transcript ------------------------------------------------ */

struct streams {
	char *buf[3];
	size_t len[3];
	int calls;
	bool bad_stream;
};

static void on_output(void *ud, int stream, const char *buf, size_t len)
{
	struct streams *s = ud;

	if (stream != 1 && stream != 2) {
		s->bad_stream = true;
		return;
	}
	s->buf[stream] = realloc(s->buf[stream], s->len[stream] + len + 1);
	assert_non_null(s->buf[stream]);
	memcpy(s->buf[stream] + s->len[stream], buf, len);
	s->len[stream] += len;
	s->buf[stream][s->len[stream]] = '\0';
	s->calls++;
}

static void streams_free(struct streams *s)
{
	free(s->buf[1]);
	free(s->buf[2]);
	memset(s, 0, sizeof(*s));
}

/* 300 numbered records on each stream, interleaved: 1500 bytes each */
#define CHATTY "i=0; while [ $i -lt 300 ]; do printf 'o%03d\\n' $i; " \
	"printf 'e%03d\\n' $i >&2; i=$((i+1)); done"

static char *expected_records(char tag)
{
	char *e = malloc(300 * 5 + 1);

	for (int i = 0; i < 300; i++)
		snprintf(e + i * 5, 6, "%c%03d\n", tag, i);
	return e;
}

static void test_stream_output(void **state)
{
	struct tools_sandbox_policy p = TOOLS_SANDBOX_POLICY_INIT;
	struct tools_exec_result r;
	struct streams s = { 0 };
	const char *argv[] = { "/bin/sh", "-c", CHATTY, NULL };
	char *eo = expected_records('o'), *ee = expected_records('e');
	(void)state;

	p.workspace = ws;
	p.timeout_ms = 20000;
	p.out_cap = 100; /* the callback sees past the cap */
	p.on_output = on_output;
	p.on_output_ud = &s;
	assert_int_equal(tools_sandbox_exec(&r, &p, argv), 0);
	assert_int_equal(r.exit_code, 0);
	assert_false(s.bad_stream);
	assert_int_equal(s.len[1], 1500);
	assert_int_equal(s.len[2], 1500);
	assert_memory_equal(s.buf[1], eo, 1500);
	assert_memory_equal(s.buf[2], ee, 1500);
	/* what was kept is the start of what was streamed */
	assert_int_equal(r.out_len, 100);
	assert_int_equal(r.out_total, 1500);
	assert_true(r.out_truncated);
	assert_memory_equal(r.out, eo, 100);
	assert_int_equal(r.err_len, 100);
	assert_int_equal(r.err_total, 1500);
	assert_true(r.err_truncated);
	assert_memory_equal(r.err, ee, 100);
	tools_exec_result_clear(&r);
	streams_free(&s);

	/* no callback: as before */
	p.on_output = NULL;
	assert_int_equal(tools_sandbox_exec(&r, &p, argv), 0);
	assert_int_equal(r.out_total, 1500);
	tools_exec_result_clear(&r);
	free(eo);
	free(ee);
}

/* The shell tool streams through the context's policy and logs its
 * captured output; a failing tool logs why. */
static void test_shell_transcript(void **state)
{
	struct tools_ctx_opts o = TOOLS_CTX_OPTS_INIT;
	struct store *st = NULL;
	struct store_tool_call *calls = NULL;
	struct tools_ctx *c = NULL;
	struct tools_result r;
	struct streams s = { 0 };
	char *eo = expected_records('o'), *ee = expected_records('e');
	char args[512];
	int64_t run;
	size_t n = 0;
	(void)state;

	assert_int_equal(store_open(&st, data, NULL), 0);
	assert_int_equal(store_run_begin(st, "install", "demo", &run), 0);
	o.policy.workspace = ws;
	o.policy.timeout_ms = 20000;
	o.policy.out_cap = 1000;
	o.policy.on_output = on_output;
	o.policy.on_output_ud = &s;
	o.approval = TOOLS_APPROVAL_AUTO;
	o.store = st;
	o.run_id = run;
	assert_int_equal(tools_ctx_open(&c, &o), 0);
	snprintf(args, sizeof(args), "{\"command\": \"%s\"}", CHATTY);
	assert_int_equal(tools_call(c, "shell", args, &r), 0);
	assert_int_equal(r.exit_status, 0);
	tools_result_clear(&r);
	assert_int_equal(s.len[1], 1500);
	assert_memory_equal(s.buf[1], eo, 1500);
	assert_int_equal(s.len[2], 1500);
	assert_memory_equal(s.buf[2], ee, 1500);
	assert_int_equal(tools_call(c, "shell", "{\"command\": \"echo bye; echo err >&2; "
				    "exit 4\"}", &r), 0);
	assert_int_equal(r.exit_status, 4);
	tools_result_clear(&r);
	assert_int_equal(tools_call(c, "read_file", "{\"path\": \"../x\"}", &r),
			 TOOLS_EDENIED);
	tools_result_clear(&r);
	tools_ctx_close(c);

	assert_int_equal(store_tool_call_list(st, run, &calls, &n), 0);
	assert_int_equal(n, 3);
	/* the captured (capped) output, exactly */
	assert_int_equal(calls[0].out_len, 1000);
	assert_memory_equal(calls[0].out, eo, 1000);
	assert_int_equal(calls[0].err_len, 1000);
	assert_memory_equal(calls[0].err, ee, 1000);
	assert_int_equal(calls[0].out_bytes, 3000);
	assert_true(calls[0].truncated);
	assert_string_equal(calls[0].error, "");
	assert_true(calls[0].started_at > 1700000000000);
	assert_string_equal(calls[1].out, "bye\n");
	assert_string_equal(calls[1].err, "err\n");
	assert_int_equal(calls[1].exit_status, 4);
	assert_string_equal(calls[2].tool, "read_file");
	assert_string_equal(calls[2].out, "");
	assert_non_null(strstr(calls[2].error, "outside the workspace"));
	assert_true(calls[2].started_at >= calls[0].started_at);
	store_tool_calls_free(calls, n);
	store_close(st);
	streams_free(&s);
	free(eo);
	free(ee);
}

/* ---- http ------------------------------------------------------------------------- */

static void test_http_get(void **state)
{
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, NULL, 0);
	struct tools_result r;
	char args[256];
	json_t *f;
	(void)state;

	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/hello\"}", port);
	assert_int_equal(call(c, "http_get", args, &r), 0);
	assert_string_equal(r.text, BODY);
	f = fields(&r);
	assert_string_equal(json_string_value(json_object_get(f, "sha256")), body_sha);
	json_decref(f);
	tools_result_clear(&r);

	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/to-hello\"}", port);
	assert_int_equal(call(c, "http_get", args, &r), 0);
	assert_string_equal(r.text, BODY);
	f = fields(&r);
	assert_int_equal(json_integer_value(json_object_get(f, "redirects")), 1);
	json_decref(f);
	tools_result_clear(&r);

	/* same server, but a name that is not on the list */
	snprintf(args, sizeof(args), "{\"url\": \"http://localhost:%d/hello\"}", port);
	assert_int_equal(call(c, "http_get", args, &r), TOOLS_EDENIED);
	assert_non_null(strstr(r.text, "host 'localhost' is not on the allow-list"));
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/to-denied\"}", port);
	assert_int_equal(call(c, "http_get", args, &r), TOOLS_EDENIED);
	assert_non_null(strstr(r.text, "host 'localhost' is not on the allow-list"));
	tools_result_clear(&r);
	assert_int_equal(call(c, "http_get", "{\"url\": \"file:///etc/passwd\"}", &r),
			 TOOLS_EDENIED);
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/nope\"}", port);
	assert_int_equal(call(c, "http_get", args, &r), TOOLS_EIO);
	assert_non_null(strstr(r.text, "HTTP 404"));
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/big\", \"max_bytes\": 1000}",
		 port);
	assert_int_equal(call(c, "http_get", args, &r), TOOLS_EINVAL);
	assert_non_null(strstr(r.text, "exceeds the 1000-byte limit"));
	tools_result_clear(&r);
	tools_ctx_close(c);
}

static void test_download(void **state)
{
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, NULL, 0);
	struct tools_result r;
	char args[512], path[PATH_MAX], bad[65];
	size_t len;
	char *s;
	(void)state;

	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/to-hello\", \"path\": "
		 "\"dl/hello.txt\", \"sha256\": \"%s\"}", port, body_sha);
	assert_int_equal(call(c, "download", args, &r), 0);
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/dl/hello.txt", ws);
	s = tu_read_file(path, &len);
	assert_string_equal(s, BODY);
	free(s);

	memset(bad, '0', 64);
	bad[64] = '\0';
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/hello\", \"path\": "
		 "\"dl/bad.txt\", \"sha256\": \"%s\"}", port, bad);
	assert_int_equal(call(c, "download", args, &r), TOOLS_ECHECKSUM);
	assert_non_null(strstr(r.text, "sha256 mismatch"));
	assert_non_null(strstr(r.text, body_sha));
	assert_non_null(strstr(r.text, "partial file was removed"));
	tools_result_clear(&r);
	assert_int_equal(call(c, "list_dir", "{\"path\": \"dl\"}", &r), 0);
	assert_string_equal(r.text, "hello.txt\t27\n"); /* no bad.txt, no temp file */
	tools_result_clear(&r);
	/* atomic: a file already there stays whole when the new one is refused */
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/hello\", \"path\": "
		 "\"dl/hello.txt\", \"sha256\": \"%s\"}", port, bad);
	assert_int_equal(call(c, "download", args, &r), TOOLS_ECHECKSUM);
	tools_result_clear(&r);
	s = tu_read_file(path, &len);
	assert_string_equal(s, BODY);
	free(s);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/big\", \"path\": "
		 "\"dl/hello.txt\"}", port);
	assert_int_equal(call(c, "download", args, &r), TOOLS_EINVAL); /* over max_download */
	tools_result_clear(&r);
	s = tu_read_file(path, &len);
	assert_string_equal(s, BODY);
	free(s);

	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/big\", \"path\": "
		 "\"dl/big\"}", port);
	assert_int_equal(call(c, "download", args, &r), TOOLS_EINVAL);
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/to-denied\", \"path\": "
		 "\"dl/x\"}", port);
	assert_int_equal(call(c, "download", args, &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"http://127.0.0.1:%d/hello\", \"path\": "
		 "\"../escape\"}", port);
	assert_int_equal(call(c, "download", args, &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	assert_int_equal(call(c, "list_dir", "{\"path\": \"dl\"}", &r), 0);
	assert_string_equal(r.text, "hello.txt\t27\n");
	tools_result_clear(&r);
	tools_ctx_close(c);
}

/* ---- git ------------------------------------------------------------------------- */

static void commit_file(git_repository *repo, const char *dir, const char *content,
			git_oid *out)
{
	char path[PATH_MAX];
	git_index *idx;
	git_oid tree_id, parent_id;
	git_tree *tree;
	git_signature *sig;
	git_commit *parent = NULL;

	snprintf(path, sizeof(path), "%s/README", dir);
	tu_write_file(path, content, strlen(content));
	assert_int_equal(git_repository_index(&idx, repo), 0);
	assert_int_equal(git_index_add_bypath(idx, "README"), 0);
	assert_int_equal(git_index_write(idx), 0);
	assert_int_equal(git_index_write_tree(&tree_id, idx), 0);
	assert_int_equal(git_tree_lookup(&tree, repo, &tree_id), 0);
	assert_int_equal(git_signature_new(&sig, "t", "t@example.org", 1700000000, 0), 0);
	if (git_reference_name_to_id(&parent_id, repo, "HEAD") == 0)
		assert_int_equal(git_commit_lookup(&parent, repo, &parent_id), 0);
	assert_int_equal(git_commit_create_v(out, repo, "HEAD", sig, sig, NULL, content, tree,
					     parent ? 1 : 0, parent), 0);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
}

static void test_git_clone(void **state)
{
	struct tools_ctx *c = ctx_with(TOOLS_APPROVAL_AUTO, NULL, NULL, NULL, 0);
	git_repository *repo;
	git_oid first, second;
	char src[PATH_MAX], args[PATH_MAX * 2], hex[41], path[PATH_MAX];
	struct tools_result r;
	size_t len;
	char *s;
	(void)state;

	git_libgit2_init();
	snprintf(src, sizeof(src), "%s/repo", data);
	assert_int_equal(git_repository_init(&repo, src, 0), 0);
	commit_file(repo, src, "first\n", &first);
	commit_file(repo, src, "second\n", &second);
	git_repository_free(repo);

	snprintf(args, sizeof(args), "{\"url\": \"%s\", \"path\": \"clone1\"}", src);
	assert_int_equal(call(c, "git_clone", args, &r), 0);
	git_oid_tostr(hex, sizeof(hex), &second);
	assert_non_null(strstr(r.fields, hex));
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/clone1/README", ws);
	s = tu_read_file(path, &len);
	assert_string_equal(s, "second\n");
	free(s);

	git_oid_tostr(hex, sizeof(hex), &first);
	snprintf(args, sizeof(args), "{\"url\": \"%s\", \"path\": \"clone2\", \"commit\": "
		 "\"%s\"}", src, hex);
	assert_int_equal(call(c, "git_clone", args, &r), 0);
	assert_non_null(strstr(r.fields, hex));
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/clone2/README", ws);
	s = tu_read_file(path, &len);
	assert_string_equal(s, "first\n");
	free(s);

	snprintf(args, sizeof(args), "{\"url\": \"%s\", \"path\": \"clone3\", \"commit\": "
		 "\"deadbeefdeadbeefdeadbeefdeadbeefdeadbeef\"}", src);
	assert_int_equal(call(c, "git_clone", args, &r), TOOLS_ENOTFOUND);
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/clone3", ws);
	assert_int_equal(access(path, F_OK), -1); /* the failed clone is gone */

	assert_int_equal(call(c, "git_clone", "{\"url\": \"https://example.org/x.git\", "
			      "\"path\": \"c4\"}", &r), TOOLS_EDENIED);
	assert_non_null(strstr(r.text, "example.org"));
	tools_result_clear(&r);
	assert_int_equal(call(c, "git_clone", "{\"url\": \"git@example.org:x/y.git\", "
			      "\"path\": \"c4\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"%s\", \"path\": \"clone1\"}", src);
	assert_int_equal(call(c, "git_clone", args, &r), TOOLS_EINVAL); /* exists */
	tools_result_clear(&r);
	snprintf(args, sizeof(args), "{\"url\": \"%s\", \"path\": \"../c5\"}", src);
	assert_int_equal(call(c, "git_clone", args, &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	/* a file:// URL is a local repository too */
	snprintf(args, sizeof(args), "{\"url\": \"file://%s\", \"path\": \"clone6\"}", src);
	assert_int_equal(call(c, "git_clone", args, &r), 0);
	git_oid_tostr(hex, sizeof(hex), &second);
	assert_non_null(strstr(r.fields, hex));
	tools_result_clear(&r);
	snprintf(path, sizeof(path), "%s/clone6/README", ws);
	s = tu_read_file(path, &len);
	assert_string_equal(s, "second\n");
	free(s);
	git_libgit2_shutdown();
	tools_ctx_close(c);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_tools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shell_transcript, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_download, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_clone, setup, teardown),
	};

	return cmocka_run_group_tests_name("tools", tests, group_setup, NULL);
}
