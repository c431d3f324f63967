/* cmd_runs.c - `halo-agent runs`: read the audit log (store's runs and
 * tool_calls tables); never writes.  `runs show ID` is a run's transcript:
 * each call's command, exit status, duration, error and captured output. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "store.h"

/* store has no lookup by id; a run is found among the most recent ones. */
#define RUNS_SHOW_SCAN 100000

static void fmt_time(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL)
		snprintf(buf, cap, "-");
	else
		strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static json_t *run_json(const struct store_run *r)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:I, s:i}", "id", (json_int_t)r->id,
			 "kind", r->kind ? r->kind : "", "subject", r->subject ? r->subject : "",
			 "started_at", (json_int_t)r->started_at, "ended_at",
			 (json_int_t)r->ended_at, "exit_status", r->exit_status);
}

static json_t *parsed_or_string(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	return j ? j : json_string(text ? text : "");
}

/* Output as a JSON string: bytes that are not UTF-8 become U+FFFD (a
 * command may print anything; JSON strings are Unicode). */
static json_t *bytes_json(const char *p, size_t len)
{
	json_t *j = json_stringn(p, len);
	const unsigned char *b = (const unsigned char *)p;
	char *fixed;
	size_t o = 0;

	if (j || (fixed = malloc(len * 3 + 1)) == NULL)
		return j ? j : json_string("");
	for (size_t i = 0; i < len;) {
		size_t n = b[i] < 0x80 ? 1 : (b[i] & 0xe0) == 0xc0 ? 2 :
			   (b[i] & 0xf0) == 0xe0 ? 3 : (b[i] & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0 && i + n <= len;

		for (size_t k = 1; ok && k < n; k++)
			ok = (b[i + k] & 0xc0) == 0x80;
		/* overlong forms, surrogates and > U+10FFFF are refused too */
		if (ok && n == 2)
			ok = b[i] >= 0xc2;
		if (ok && n == 3)
			ok = !(b[i] == 0xe0 && b[i + 1] < 0xa0) && !(b[i] == 0xed && b[i + 1] >= 0xa0);
		if (ok && n == 4)
			ok = b[i] <= 0xf4 && !(b[i] == 0xf0 && b[i + 1] < 0x90) &&
			     !(b[i] == 0xf4 && b[i + 1] >= 0x90);
		if (ok) {
			memcpy(fixed + o, b + i, n);
			o += n;
			i += n;
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j ? j : json_string("");
}

/* What a call ran, as one line: the shell tool's command, exec's argv
 * joined; NULL for other tools (their args say it). */
static char *call_command(const struct store_tool_call *c)
{
	json_t *a = c->args ? json_loads(c->args, 0, NULL) : NULL, *v;
	char *s = NULL;
	size_t i;

	if (json_is_string(json_object_get(a, "command"))) {
		s = strdup(json_string_value(json_object_get(a, "command")));
	} else if (json_is_array(json_object_get(a, "argv"))) {
		size_t len = 0;

		json_array_foreach(json_object_get(a, "argv"), i, v)
			len += json_string_length(v) + 1;
		if ((s = malloc(len + 1)) != NULL) {
			s[0] = '\0';
			json_array_foreach(json_object_get(a, "argv"), i, v) {
				if (i)
					strcat(s, " ");
				strcat(s, json_string_value(v) ? json_string_value(v) : "");
			}
		}
	}
	json_decref(a);
	return s;
}

/* Captured output, each line indented under its heading. */
static void print_output(const char *what, const char *p, size_t len)
{
	bool bol = true;

	if (len == 0)
		return;
	printf("    %s:\n", what);
	for (size_t i = 0; i < len; i++) {
		if (bol)
			fputs("      ", stdout);
		putchar(p[i]);
		bol = p[i] == '\n';
	}
	if (!bol)
		putchar('\n');
}

static int runs_list(struct app *app, struct store *st, size_t limit)
{
	struct store_run *runs = NULL;
	size_t n = 0;

	if (store_run_list(st, limit, &runs, &n) < 0)
		return cli_fail("%s", store_errmsg());
	if (app->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, run_json(&runs[i]));
		json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(a);
	} else if (n == 0) {
		printf("no runs recorded\n");
	} else {
		printf("%6s  %-8s  %-19s  %9s  %6s  %s\n", "ID", "KIND", "STARTED",
		       "DURATION", "EXIT", "SUBJECT");
		for (size_t i = 0; i < n; i++) {
			char t[32], dur[32];

			fmt_time(runs[i].started_at, t, sizeof(t));
			if (runs[i].ended_at)
				snprintf(dur, sizeof(dur), "%.3fs",
					 (double)(runs[i].ended_at - runs[i].started_at) / 1000.0);
			else
				snprintf(dur, sizeof(dur), "running");
			printf("%6lld  %-8.8s  %-19s  %9s  %6d  %.60s\n", (long long)runs[i].id,
			       runs[i].kind, t, dur, runs[i].exit_status, runs[i].subject);
		}
	}
	store_runs_free(runs, n);
	return EXIT_OK;
}

static int runs_show(struct app *app, struct store *st, int64_t id)
{
	struct store_run *runs = NULL, *r = NULL;
	struct store_tool_call *calls = NULL;
	size_t n = 0, nc = 0;
	int rc = EXIT_FAIL;

	if (store_run_list(st, RUNS_SHOW_SCAN, &runs, &n) < 0)
		return cli_fail("%s", store_errmsg());
	for (size_t i = 0; i < n && r == NULL; i++)
		if (runs[i].id == id)
			r = &runs[i];
	if (r == NULL) {
		cli_fail("no run with id %lld ('halo-agent runs' lists them)", (long long)id);
		goto out;
	}
	if (store_tool_call_list(st, id, &calls, &nc) < 0) {
		cli_fail("%s", store_errmsg());
		goto out;
	}
	if (app->json) {
		json_t *o = run_json(r), *a = json_array();

		for (size_t i = 0; i < nc; i++) {
			char *cmd = call_command(&calls[i]);

			json_array_append_new(a, json_pack(
				"{s:I, s:s, s:o, s:o, s:o, s:i, s:I, s:I, s:I, s:b, s:o, s:o, s:o}",
				"id", (json_int_t)calls[i].id, "tool", calls[i].tool,
				"command", cmd ? json_string(cmd) : json_null(),
				"args", parsed_or_string(calls[i].args),
				"policy", parsed_or_string(calls[i].policy),
				"exit_status", calls[i].exit_status,
				"started_at", (json_int_t)calls[i].started_at,
				"duration_ms", (json_int_t)calls[i].duration_ms,
				"out_bytes", (json_int_t)calls[i].out_bytes,
				"truncated", calls[i].truncated,
				"stdout", bytes_json(calls[i].out, calls[i].out_len),
				"stderr", bytes_json(calls[i].err, calls[i].err_len),
				"error", bytes_json(calls[i].error, strlen(calls[i].error))));
			free(cmd);
		}
		json_object_set_new(o, "tool_calls", a);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		char t0[32], t1[32];

		fmt_time(r->started_at, t0, sizeof(t0));
		fmt_time(r->ended_at, t1, sizeof(t1));
		printf("run %lld: %s %s\n", (long long)r->id, r->kind, r->subject);
		printf("  started:  %s\n  ended:    %s\n  exit:     %d\n", t0,
		       r->ended_at ? t1 : "(running)", r->exit_status);
		for (size_t i = 0; i < nc; i++) {
			char *cmd = call_command(&calls[i]), ts[32];

			fmt_time(calls[i].started_at, ts, sizeof(ts));
			printf("  tool call %lld: %s   started: %s\n", (long long)calls[i].id,
			       calls[i].tool, ts);
			if (cmd)
				printf("    command:   %s\n", cmd);
			else
				printf("    args:      %s\n", calls[i].args);
			printf("    policy:    %s\n", calls[i].policy);
			printf("    exit:      %d   duration: %lld ms   output: %lld bytes%s\n",
			       calls[i].exit_status, (long long)calls[i].duration_ms,
			       (long long)calls[i].out_bytes,
			       calls[i].truncated ? " (truncated)" : "");
			if (calls[i].error && calls[i].error[0])
				printf("    error:     %s\n", calls[i].error);
			print_output("stdout", calls[i].out, calls[i].out_len);
			print_output("stderr", calls[i].err, calls[i].err_len);
			free(cmd);
		}
	}
	rc = EXIT_OK;
out:
	store_tool_calls_free(calls, nc);
	store_runs_free(runs, n);
	return rc;
}

int cmd_runs(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long limit = 20, id;
	struct store *st = NULL;
	const char *sub = "list";
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "n:", opts)) != -1) {
		if (opt == 'n') {
			if (!cli_parse_u64(argv[0], "--limit", optarg, &limit))
				return EXIT_USAGE;
			if (limit == 0 || limit > RUNS_SHOW_SCAN)
				return cli_usage_error(argv[0], "--limit must be 1..%d", RUNS_SHOW_SCAN);
			continue;
		}
		return cli_help_or_usage(argv[0], opt);
	}
	if (optind < argc)
		sub = argv[optind++];
	if (strcmp(sub, "list") == 0) {
		if (optind < argc)
			return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	} else if (strcmp(sub, "show") == 0) {
		if (optind >= argc)
			return cli_usage_error(argv[0], "show needs a run ID");
		if (!cli_parse_u64(argv[0], "ID", argv[optind], &id))
			return EXIT_USAGE;
		if (optind + 1 < argc)
			return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind + 1]);
	} else {
		return cli_usage_error(argv[0], "unknown subcommand '%s' (list or show)", sub);
	}
	if (store_open(&st, app->data_dir, NULL) < 0)
		return cli_fail("%s", store_errmsg());
	rc = strcmp(sub, "list") == 0 ? runs_list(app, st, (size_t)limit)
				       : runs_show(app, st, (int64_t)id);
	store_close(st);
	return rc;
}
