/* cmd_exec.c - `halo-agent exec`: run one command through the sandbox, as
 * a human would ask for it, and record it in the audit log.
 *
 * The defaults come from the config (sandbox.network, sandbox.timeout,
 * sandbox.memory).  --allow-unsandboxed exists only here, on the command
 * line: nothing the model produces reaches it.  A degraded sandbox is
 * announced on stderr even under -q. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"
#include "tools.h"

enum {
	OPT_WORKSPACE = 1000, OPT_NETWORK, OPT_RO, OPT_RW, OPT_TIMEOUT,
	OPT_MEMORY, OPT_UNSANDBOXED, OPT_OUTPUT_CAP, OPT_ENV,
};

static json_t *argv_json(char **argv, int argc)
{
	json_t *a = json_array();

	for (int i = 0; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

/* The audit log: one run with one "shell" tool call, with its captured
 * output (or, when it could not run, tools_errmsg()).  A log that cannot
 * be written is reported but does not stop the command. */
static void audit(struct app *app, const struct tools_sandbox_policy *p,
		  const struct tools_exec_result *r, char **cmd, int ncmd, int status)
{
	struct store *st = NULL;
	struct store_tool_call c = { 0 };
	json_t *args = json_object();
	char subject[256] = "", error[512] = "";
	int64_t run_id = 0;

	if (r == NULL)
		snprintf(error, sizeof(error), "%s", tools_errmsg());

	for (int i = 0; i < ncmd && strlen(subject) < sizeof(subject) - 2; i++)
		snprintf(subject + strlen(subject), sizeof(subject) - strlen(subject),
			 "%s%s", i ? " " : "", cmd[i]);
	json_object_set_new(args, "argv", argv_json(cmd, ncmd));
	if (store_open(&st, app->data_dir, NULL) < 0 ||
	    store_run_begin(st, "exec", subject, &run_id) < 0) {
		fprintf(stderr, "halo-agent: warning: not recorded in the audit log: %s\n",
			store_errmsg());
		goto out;
	}
	c.run_id = run_id;
	c.tool = "shell";
	c.args = json_dumps(args, JSON_COMPACT);
	c.policy = tools_sandbox_policy_json(p, r);
	c.exit_status = status;
	c.duration_ms = r ? r->duration_us / 1000 : 0;
	c.out_bytes = r ? (int64_t)(r->out_total + r->err_total) : 0;
	c.truncated = r && (r->out_truncated || r->err_truncated);
	if (r && r->out_len) {
		c.out = r->out;
		c.out_len = r->out_len;
	}
	if (r && r->err_len) {
		c.err = r->err;
		c.err_len = r->err_len;
	}
	c.error = error;
	if (store_tool_call_add(st, &c, NULL) < 0 || store_run_end(st, run_id, status) < 0)
		fprintf(stderr, "halo-agent: warning: audit log: %s\n", store_errmsg());
	free(c.args);
	free(c.policy);
out:
	json_decref(args);
	store_close(st);
}

int cmd_exec(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workspace", required_argument, NULL, OPT_WORKSPACE },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "ro", required_argument, NULL, OPT_RO },
		{ "rw", required_argument, NULL, OPT_RW },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "output-cap", required_argument, NULL, OPT_OUTPUT_CAP },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "allow-unsandboxed", no_argument, NULL, OPT_UNSANDBOXED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tools_sandbox_policy p = TOOLS_SANDBOX_POLICY_INIT;
	struct tools_exec_result r = { 0 };
	unsigned long long v;
	char cwd[PATH_MAX], layers[256];
	const char *network = app->cfg.sandbox_network;
	unsigned long long timeout_s = app->cfg.sandbox_timeout;
	int opt, rc, status;

	p.memory = app->cfg.sandbox_memory;
	while ((opt = cli_getopt(argc, argv, "+", opts)) != -1) {
		switch (opt) {
		case OPT_WORKSPACE:
			p.workspace = optarg;
			break;
		case OPT_NETWORK:
			network = optarg;
			break;
		case OPT_RO:
		case OPT_RW:
			if ((opt == OPT_RO ? p.n_ro : p.n_rw) >= TOOLS_SANDBOX_MAX_PATHS)
				return cli_usage_error(argv[0], "at most %d --ro and %d --rw paths",
						       TOOLS_SANDBOX_MAX_PATHS,
						       TOOLS_SANDBOX_MAX_PATHS);
			if (opt == OPT_RO)
				p.ro[p.n_ro++] = optarg;
			else
				p.rw[p.n_rw++] = optarg;
			break;
		case OPT_ENV:
			if (p.n_env >= TOOLS_SANDBOX_MAX_ENV || strchr(optarg, '=') == NULL)
				return cli_usage_error(argv[0], "--env wants NAME=VALUE "
						       "(at most %d)", TOOLS_SANDBOX_MAX_ENV);
			p.env[p.n_env++] = optarg;
			break;
		case OPT_TIMEOUT:
			if (!cli_parse_timeout(argv[0], optarg, &timeout_s))
				return EXIT_USAGE;
			break;
		case OPT_MEMORY:
			if (!cli_parse_u64(argv[0], "--memory", optarg, &v))
				return EXIT_USAGE;
			if (v < (16ull << 20))
				return cli_usage_error(argv[0], "--memory must be at least 16777216 bytes");
			p.memory = v;
			break;
		case OPT_OUTPUT_CAP:
			if (!cli_parse_u64(argv[0], "--output-cap", optarg, &v))
				return EXIT_USAGE;
			if (v == 0 || v > (256ull << 20))
				return cli_usage_error(argv[0], "--output-cap must be 1..268435456");
			p.out_cap = (size_t)v;
			break;
		case OPT_UNSANDBOXED:
			p.allow_unsandboxed = true;
			break;
		default:
			return cli_help_or_usage(argv[0], opt);
		}
	}
	if (optind >= argc)
		return cli_usage_error(argv[0], "no command given (put it after --)");
	if (network == NULL || strcmp(network, "none") == 0)
		p.network = TOOLS_NET_NONE;
	else if (strcmp(network, "host") == 0)
		p.network = TOOLS_NET_HOST;
	else
		return cli_usage_error(argv[0], "--network must be none or host, not '%s'",
				       network);
	if (p.workspace == NULL) {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return cli_fail("cannot read the current directory");
		p.workspace = cwd;
	}
	p.timeout_ms = (timeout_s ? timeout_s : 600) * 1000;

	rc = tools_sandbox_exec(&r, &p, (const char *const *)argv + optind);
	if (rc < 0) {
		audit(app, &p, NULL, argv + optind, argc - optind, -1);
		return cli_fail("%s", tools_errmsg());
	}
	if (r.timed_out)
		status = 124;
	else if (r.signal)
		status = 128 + r.signal;
	else
		status = r.exit_code;
	audit(app, &p, &r, argv + optind, argc - optind, status);
	tools_layers_str(r.layers, layers, sizeof(layers));
	if (app->json) {
		json_t *o = json_object();

		json_object_set_new(o, "exit_status", json_integer(r.exit_code));
		json_object_set_new(o, "signal", json_integer(r.signal));
		json_object_set_new(o, "timed_out", json_boolean(r.timed_out));
		json_object_set_new(o, "duration_ms", json_real((double)r.duration_us / 1000.0));
		json_object_set_new(o, "stdout", json_stringn_nocheck(r.out, r.out_len));
		json_object_set_new(o, "stderr", json_stringn_nocheck(r.err, r.err_len));
		json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)r.out_total));
		json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)r.err_total));
		json_object_set_new(o, "stdout_truncated", json_boolean(r.out_truncated));
		json_object_set_new(o, "stderr_truncated", json_boolean(r.err_truncated));
		json_object_set_new(o, "layers", json_string(layers));
		json_object_set_new(o, "landlock_abi", json_integer(r.landlock_abi));
		json_object_set_new(o, "sandboxed", json_boolean(!p.allow_unsandboxed));
		json_object_set_new(o, "notice", json_string(r.notice));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		putchar('\n');
		json_decref(o);
	} else {
		fwrite(r.out, 1, r.out_len, stdout);
		fflush(stdout);
		fwrite(r.err, 1, r.err_len, stderr);
	}
	/* loud even under -q: a weaker sandbox than asked for */
	if (r.notice[0])
		fprintf(stderr, "halo-agent: WARNING: %s\n", r.notice);
	if (!app->json) {
		if (r.out_truncated || r.err_truncated)
			fprintf(stderr, "halo-agent: output truncated: kept %zu of %llu "
				"stdout bytes, %zu of %llu stderr bytes\n", r.out_len,
				(unsigned long long)r.out_total, r.err_len,
				(unsigned long long)r.err_total);
		if (r.timed_out)
			fprintf(stderr, "halo-agent: killed at the %llu s timeout\n",
				(unsigned long long)(p.timeout_ms / 1000));
		cli_debug(app, "sandbox layers: %s (Landlock ABI %d); %.1f ms\n", layers,
			  r.landlock_abi, (double)r.duration_us / 1000.0);
	}
	tools_exec_result_clear(&r);
	return status;
}
