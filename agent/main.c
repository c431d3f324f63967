/* main.c - halo-agent's entry point: global options, paths, config, and the
 * command table.
 *
 * Global options may stand before or after the command name (up to a "--"):
 *   --data-dir DIR, --config FILE, -v/--verbose, -q/--quiet, --json,
 *   -h/--help, --version.
 * Precedence of every path: flag > environment > config file > XDG default. */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "halo_config.h"

#define MAIN_USAGE \
	"Usage: halo-agent [global options] <command> [options]\n" \
	"\n" \
	"A local agent runtime: install skills in a sandbox, keep a knowledge base,\n" \
	"run monitors, all driven by an embedded LLM engine (GGUF, Vulkan or CPU).\n" \
	"\n" \
	"Global options (before or after the command):\n" \
	"  --data-dir DIR   where the database and workspaces live\n" \
	"                   (env HALO_AGENT_DATA_DIR; config data_dir;\n" \
	"                   default $XDG_DATA_HOME/halo-agent)\n" \
	"  --config FILE    config file (env HALO_AGENT_CONFIG;\n" \
	"                   default $XDG_CONFIG_HOME/halo-agent/config.yaml)\n" \
	"  --json           machine-readable output on stdout\n" \
	"  -v, --verbose    more detail on stderr (repeat for more)\n" \
	"  -q, --quiet      only errors on stderr\n" \
	"  -h, --help       this text; 'halo-agent <command> --help' for a command\n" \
	"  --version        print the version\n" \
	"\n" \
	"Exit status: 0 ok, 1 failure, 2 usage error.\n" \
	"\n" \
	"Commands:\n"

const struct cmd cli_commands[] = {
	{ "help", "Show help for halo-agent or one command",
	  "Usage: halo-agent help [COMMAND]\n"
	  "\n"
	  "Without a command, list all commands; with one, print its full help\n"
	  "(the same as 'halo-agent COMMAND --help').\n",
	  cmd_help },
	{ "version", "Print the version",
	  "Usage: halo-agent version [--json]\n"
	  "\n"
	  "Print the program version (also: halo-agent --version).\n",
	  cmd_version },
	{ "doctor", "Check this machine: OS, CPU, memory, sandbox, Vulkan",
	  "Usage: halo-agent doctor [-m FILE.gguf] [--json]\n"
	  "\n"
	  "Report what halo-agent finds on this machine and what it means:\n"
	  "  system   OS, distro, kernel, CPU model and SIMD features, memory,\n"
	  "           free disk in the data dir, measured memory read bandwidth\n"
	  "  sandbox  unprivileged user namespaces, Landlock ABI, seccomp\n"
	  "  vulkan   the loader, and every physical device: name, type, driver,\n"
	  "           API version, memory heaps, subgroup size, shared memory,\n"
	  "           max storage buffer range, measured read bandwidth\n"
	  "  model    with -m: the bytes a token reads from the model, and the\n"
	  "           tok/s ceiling that bandwidth allows on the CPU and on each\n"
	  "           device (the roofline of token generation)\n"
	  "Each finding says what it means for you (for example which backend the\n"
	  "engine will use).  Exit status 0 unless the data dir is unusable.\n"
	  "\n"
	  "Options:\n"
	  "  -m, --model FILE  also report the roofline for this GGUF model\n"
	  "  --json            one JSON object with every finding\n",
	  cmd_doctor },
	{ "status", "Show the data dir, database and table counts",
	  "Usage: halo-agent status [--json]\n"
	  "\n"
	  "Open (creating if needed) the database in the data dir, apply pending\n"
	  "migrations, and print: data dir, database path, schema version, and the\n"
	  "number of rows in each table.\n"
	  "\n"
	  "Options:\n"
	  "  --json     print one JSON object\n",
	  cmd_status },
	{ "config", "Show the configuration and where it comes from",
	  "Usage: halo-agent config [show|path|keys] [--json]\n"
	  "\n"
	  "  show   every setting with its effective value (default)\n"
	  "  path   the config file in use\n"
	  "  keys   every documented key, its type, default and meaning\n"
	  "\n"
	  "The file is YAML; sections nest (engine: {threads: 4}).  Unknown keys are\n"
	  "warned about; a malformed file is an error and nothing is used.\n",
	  cmd_config },
	{ "model", "Inspect a GGUF model file",
	  "Usage: halo-agent model info FILE.gguf [--json]\n"
	  "\n"
	  "Open and validate a GGUF model (v1-v3, little-endian) and print what it\n"
	  "declares: architecture, name, file type, parameter count, context and\n"
	  "embedding length, blocks, heads, experts, tokenizer and vocab size, chat\n"
	  "template, the weight bytes read per generated token, and tensor counts\n"
	  "and bytes per type.  A malformed file is an error naming the key or\n"
	  "tensor at fault.\n"
	  "\n"
	  "Options:\n"
	  "  --json     print one JSON object\n",
	  cmd_model },
	{ "tokenize", "Turn text into token ids with a model's vocabulary",
	  "Usage: halo-agent tokenize -m FILE.gguf (TEXT | -f FILE) [--ids] [--raw] [--json]\n"
	  "\n"
	  "Encode TEXT (or the bytes of FILE, '-' for stdin, at most 64 MiB) with the\n"
	  "tokenizer stored in a GGUF file (SPM, BPE or WordPiece) and print one\n"
	  "line per token: the id, a tab, and its text (control characters escaped).\n"
	  "By default BOS/EOS are added as the vocab asks and special-token text\n"
	  "such as <|eot_id|> becomes that token.\n"
	  "\n"
	  "Options:\n"
	  "  -m, --model FILE  the GGUF file (a model or a vocab-only file)\n"
	  "  -f, --file FILE   read the text from FILE ('-' = stdin), byte for byte\n"
	  "  --ids             print only the ids, each as a space and the number\n"
	  "  --raw             add no BOS/EOS, treat special-token text as text\n"
	  "  --json            {\"tokens\":[{\"id\":..,\"piece\":\"..\"}],\"n_tokens\":..}\n",
	  cmd_tokenize },
	{ "run", "Generate text from a prompt with a GGUF model",
	  "Usage: halo-agent run -m FILE.gguf (-p TEXT | -f FILE) [options] [--json]\n"
	  "\n"
	  "Tokenize the prompt (BOS added as the vocab asks, special-token text such\n"
	  "as <|im_start|> parsed), generate up to N tokens and stream the text to\n"
	  "stdout as it comes (the prompt is not echoed).  Generation stops at N\n"
	  "tokens, at the model's end-of-generation token, or before a --stop\n"
	  "string.  A summary goes to stderr: prompt and generated token counts and\n"
	  "their speeds in tokens per second.\n"
	  "\n"
	  "Options:\n"
	  "  -m, --model FILE        the GGUF model (default: config engine.model)\n"
	  "  -p, --prompt TEXT       the prompt\n"
	  "  -f, --file FILE         read the prompt from FILE ('-' = stdin, <= 16 MiB)\n"
	  "  -n, --n-predict N       tokens to generate at most (default 256;\n"
	  "                          0 = until end of generation or a full context)\n"
	  "  --temp T                temperature; 0 = greedy (default 0.8)\n"
	  "  --top-k K               keep the K most likely tokens; 0 = off (default 40)\n"
	  "  --top-p P               keep the smallest set with probability >= P;\n"
	  "                          1 = off (default 0.95)\n"
	  "  --min-p P               drop tokens below P x the top probability;\n"
	  "                          0 = off (default 0.05)\n"
	  "  --repeat-penalty R      divide positive / multiply negative logits of\n"
	  "                          recent tokens by R; 1 = off (default 1)\n"
	  "  --repeat-last-n N       how many recent tokens the penalties see\n"
	  "                          (default 64; 0 = off)\n"
	  "  --presence-penalty P    subtract P from the logit of each recent token\n"
	  "                          (default 0)\n"
	  "  --frequency-penalty F   subtract F x its count (default 0)\n"
	  "  --seed S                random seed; the same seed gives the same text\n"
	  "                          (default: from the clock)\n"
	  "  --stop STR              stop before STR appears (repeatable, up to 16)\n"
	  "  --ignore-eos            go on past end-of-generation tokens\n"
	  "  -c, --ctx-size N        context positions (default: config engine.ctx_size);\n"
	  "                          prompt + N must fit\n"
	  "  -b, --batch-size N      prompt tokens per forward pass (default 512)\n"
	  "  -t, --threads N         CPU threads (default: config engine.threads;\n"
	  "                          0 = one per core)\n"
	  "  --backend B             auto, cpu or vulkan (default: config engine.backend)\n"
	  "  --device N              Vulkan device index (default: config engine.device)\n"
	  "  --kv-type T             KV cache type: f16 (default) or f32\n"
	  "  --json                  no streaming; print one object at the end:\n"
	  "                          text, tokens (ids), n_prompt, n_gen, t_prompt_s,\n"
	  "                          t_gen_s, prompt_tps, gen_tps, stop, seed, ...\n",
	  cmd_run },
	{ "eval", "Compute the logits of exact token ids",
	  "Usage: halo-agent eval -m FILE.gguf --tokens ID,ID,... [options] [--json]\n"
	  "\n"
	  "Feed the ids exactly as given (no BOS added) and keep the logits of every\n"
	  "position.  With --logits they are written as a float32 NumPy file of\n"
	  "shape [n_tokens, n_vocab] (format 1.0, data at offset 128 or a multiple\n"
	  "of 64), atomically: a failure leaves no file.  Otherwise print, per\n"
	  "position, the id, the argmax and its logit.\n"
	  "\n"
	  "Options:\n"
	  "  -m, --model FILE    the GGUF model (default: config engine.model)\n"
	  "  --tokens IDS        ids separated by commas or blanks (at most 65536)\n"
	  "  --one-by-one        one decode per token through the KV cache\n"
	  "                      (default: all ids in one batch)\n"
	  "  --logits OUT.npy    write the logits there\n"
	  "  -t, --threads N     CPU threads (default: config engine.threads)\n"
	  "  --backend B         auto, cpu or vulkan (default: config engine.backend)\n"
	  "  --device N          Vulkan device index\n"
	  "  --kv-type T         KV cache type: f16 (default) or f32\n"
	  "  --json              {\"n_tokens\", \"n_vocab\", \"mode\", \"logits_file\",\n"
	  "                      \"positions\": [{\"pos\", \"id\", \"argmax\", \"logit\"}]}\n",
	  cmd_eval },
	{ "bench", "Measure prompt and generation speed (like llama-bench)",
	  "Usage: halo-agent bench -m FILE.gguf [-p 512] [-n 128] [-r 3] [options] [--json]\n"
	  "\n"
	  "Two tests, each run once to warm up and then R times:\n"
	  "  ppP  one decode of a batch of P random valid ids into an empty cache\n"
	  "  tgN  N decodes of one id each, from an empty cache\n"
	  "With -d D both start from D tokens already in the cache instead\n"
	  "(\"tg128 @ d1024\"; filled before each run, not timed): attention's cost.\n"
	  "Prints a table: model file, size, parameters, backend, threads, test,\n"
	  "tokens per second (mean ± standard deviation) and, for tg, the memory\n"
	  "bandwidth achieved: the weight bytes read per token x tokens per second.\n"
	  "\n"
	  "Options:\n"
	  "  -m, --model FILE        the GGUF model (default: config engine.model)\n"
	  "  -p, --n-prompt P        prompt batch size; 0 skips pp (default 512)\n"
	  "  -n, --n-gen N           generated tokens; 0 skips tg (default 128)\n"
	  "  -r, --repetitions R     timed runs per test (default 3)\n"
	  "  -d, --depth D           tokens in the cache before each test (default 0)\n"
	  "  -t, --threads N         CPU threads (default: config engine.threads)\n"
	  "  --backend B             auto, cpu or vulkan (default: config engine.backend)\n"
	  "  --device N              Vulkan device index\n"
	  "  --kv-type T             KV cache type: f16 (default) or f32\n"
	  "  --profile               Vulkan: device time per shader over all runs,\n"
	  "                          a table on stderr at the end (= HALO_VK_PROFILE=1)\n"
	  "  --json                  a list of records with llama-bench's fields\n"
	  "                          (model_filename, model_size, model_n_params,\n"
	  "                          backends, n_threads, n_prompt, n_gen, n_depth,\n"
	  "                          avg_ts, stddev_ts, samples_ts, ...) plus\n"
	  "                          bandwidth_gbs, bytes_per_token, peak_rss_bytes\n"
	  "                          and open_s\n",
	  cmd_bench },
	{ "exec", "Run one command in the sandbox",
	  "Usage: halo-agent exec [options] [--json] -- COMMAND [ARGS...]\n"
	  "\n"
	  "Run COMMAND (searched in PATH inside the sandbox) with the workspace as\n"
	  "its read-write working directory, system paths read-only, the home\n"
	  "directory invisible, a cleared environment and limits; record it in the\n"
	  "audit log ('halo-agent runs').  Layers: user, mount, pid, ipc, uts and\n"
	  "(network none) net namespaces; no_new_privs and no capabilities;\n"
	  "Landlock; seccomp; rlimits.  Missing layers are named in a WARNING;\n"
	  "with no filesystem confinement at all nothing runs.\n"
	  "\n"
	  "Options:\n"
	  "  --workspace DIR      the read-write working directory (default: .)\n"
	  "  --network none|host  network (default: config sandbox.network)\n"
	  "  --ro PATH            also visible, read-only (repeatable)\n"
	  "  --rw PATH            also visible, read-write (repeatable)\n"
	  "  --env NAME=VALUE     set in the command's environment (repeatable)\n"
	  "  --timeout S          wall-clock limit; the whole process tree is killed\n"
	  "                       (default: config sandbox.timeout)\n"
	  "  --memory BYTES       address-space limit (default: config sandbox.memory)\n"
	  "  --output-cap BYTES   stdout and stderr kept, each (default 1 MiB); the\n"
	  "                       rest is counted and marked truncated\n"
	  "  --allow-unsandboxed  run with no sandbox at all (limits only); for a\n"
	  "                       human at the keyboard, never for the model\n"
	  "  --json               {exit_status, signal, timed_out, duration_ms, stdout,\n"
	  "                       stderr, stdout_bytes, stderr_bytes, *_truncated,\n"
	  "                       layers, landlock_abi, sandboxed, notice}\n"
	  "\n"
	  "Exit status: the command's; 128+N if signal N ended it; 124 at the\n"
	  "timeout; 1 if the sandbox could not be set up.\n",
	  cmd_exec },
	{ "runs", "List the audit log: runs and their tool calls",
	  "Usage: halo-agent runs [list] [-n N] [--json]\n"
	  "       halo-agent runs show ID [--json]\n"
	  "\n"
	  "  list   the most recent runs first (default 20): id, kind, start time,\n"
	  "         duration, exit status, subject\n"
	  "  show   one run and every tool call in it: tool, arguments, policy and\n"
	  "         sandbox layers, exit status, duration, output bytes, truncation\n"
	  "\n"
	  "Options:\n"
	  "  -n, --limit N   list at most N runs (default 20)\n"
	  "  --json          print JSON\n",
	  cmd_runs },
	{ "install", "Install something by following a Markdown install skill",
	  "Usage: halo-agent install PATH|DIR|GIT-URL|URL [options]\n"
	  "\n"
	  "Follow an install skill instead of an install script: an Agent Skills\n"
	  "folder (SKILL.md with front matter), or a plain install document\n"
	  "(README.md / INSTALL.md / install.md).  The document is read into a plan\n"
	  "(docs/SKILLS.md describes the format): the steps for this machine are\n"
	  "chosen (OS, distro, architecture, package managers), required packages\n"
	  "and commands are checked, and if the Verify section already passes\n"
	  "nothing runs.  Each step then runs in the sandbox (the workspace and\n"
	  "the prefix writable, no network: downloads are the skill's ```fetch\n"
	  "steps, to its declared hosts, checked against their sha256), with its\n"
	  "output streamed; then Verify runs, and the skill is registered with the\n"
	  "files it created under the prefix.  A failing step stops the install:\n"
	  "what it created under the prefix is removed, and the message names the\n"
	  "command, its exit status, its line in the document and the end of its\n"
	  "error output.  Everything is in the transcript: halo-agent runs show ID.\n"
	  "\n"
	  "Sources: a file or folder; a git URL (cloned with libgit2: https://,\n"
	  "file://, a local repository); an http(s) URL ending in .md.\n"
	  "\n"
	  "Options:\n"
	  "  -n, --dry-run      print the plan (every step, in or out, and why) and\n"
	  "                     change nothing\n"
	  "  -y, --yes          approve every step (default: config sandbox.approval;\n"
	  "                     'ask' shows each step and asks on the terminal)\n"
	  "  --prefix DIR       where to install (default: the skill's\n"
	  "                     metadata.halo-prefix, else ~/.local)\n"
	  "  --set NAME=VALUE   a variable the skill uses, over its metadata.halo-vars\n"
	  "                     (repeatable); steps also see PREFIX, SKILL_DIR, WORKSPACE\n"
	  "  --force            run the install steps even if Verify already passes\n"
	  "  --timeout S        wall-clock limit per command (default: sandbox.timeout)\n"
	  "  --json             the plan (with --dry-run) or the result as JSON\n"
	  "\n"
	  "Exit status: 0 installed (or already), 1 failed or refused, 2 usage.\n",
	  cmd_install },
	{ "skills", "List, show, verify or remove installed skills",
	  "Usage: halo-agent skills [list] [--json]\n"
	  "       halo-agent skills show NAME [--json]\n"
	  "       halo-agent skills verify NAME [--json]\n"
	  "       halo-agent skills remove NAME [--yes] [--json]\n"
	  "\n"
	  "  list    installed skills: name, version, status, when, source\n"
	  "  show    one skill: source, sha256 of its document, prefix, and the\n"
	  "          files its install created\n"
	  "  verify  run its Verify section again (in the sandbox) and record the\n"
	  "          result; exit status 1 when it fails\n"
	  "  remove  run its Uninstall section if it has one, else delete the files\n"
	  "          its install created under the prefix (only those, and only\n"
	  "          when unchanged since); then forget it\n"
	  "\n"
	  "Options:\n"
	  "  -y, --yes   approve the Uninstall steps without asking\n"
	  "  --json      print JSON\n",
	  cmd_skills },
	{ NULL, NULL, NULL, NULL },
};

const struct cmd *cli_find_command(const char *name)
{
	for (const struct cmd *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_main_usage(FILE *f)
{
	fputs(MAIN_USAGE, f);
	for (const struct cmd *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
}

int cmd_help(struct app *app, int argc, char **argv)
{
	const struct cmd *c;
	int opt;

	(void)app;
	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return cli_help_or_usage(argv[0], opt);
	if (optind >= argc) {
		print_main_usage(stdout);
		return EXIT_OK;
	}
	c = cli_find_command(argv[optind]);
	if (c == NULL)
		return cli_usage_error("help", "unknown command '%s'", argv[optind]);
	fputs(c->usage, stdout);
	return EXIT_OK;
}

int cmd_version(struct app *app, int argc, char **argv)
{
	int opt;

	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return cli_help_or_usage(argv[0], opt);
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (app->json)
		printf("{\"name\": \"halo-agent\", \"version\": \"%s\"}\n", HALO_VERSION);
	else
		printf("halo-agent %s\n", HALO_VERSION);
	return EXIT_OK;
}

/* ---- paths ------------------------------------------------------------- */

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* $XDG_<var> if set and absolute, else $HOME/<fallback>, + "/halo-agent". */
static char *xdg_path(const char *var, const char *fallback)
{
	const char *x = getenv(var);
	char *p = NULL;

	if (x && x[0] == '/')
		return asprintf(&p, "%s/halo-agent", x) < 0 ? NULL : p;
	return asprintf(&p, "%s/%s/halo-agent", home_dir(), fallback) < 0 ? NULL : p;
}

static void print_warning(void *ud, const char *msg)
{
	const struct app *app = ud;

	if (!app->quiet)
		fprintf(stderr, "halo-agent: %s\n", msg);
}

/* ---- global options ---------------------------------------------------- */

struct globals {
	const char *data_dir;
	const char *config;
	bool help, version;
};

/* Take the global options out of argv (in place), leaving the command and
 * its own arguments.  Returns the new argc, or -1 after a usage error. */
static int take_globals(int argc, char **argv, struct app *app,
			struct globals *g)
{
	int out = 1;
	bool dashdash = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dest = NULL;

		if (dashdash || a[0] != '-') {
			argv[out++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			argv[out++] = argv[i];
			continue;
		}
		if (strcmp(a, "--data-dir") == 0 || strncmp(a, "--data-dir=", 11) == 0)
			dest = &g->data_dir;
		else if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0)
			dest = &g->config;
		if (dest) {
			const char *eq = strchr(a, '=');

			if (eq) {
				*dest = eq + 1;
			} else if (i + 1 < argc) {
				*dest = argv[++i];
			} else {
				fprintf(stderr, "halo-agent: option '%s' needs a value\n", a);
				return -1;
			}
			if (**dest == '\0') {
				fprintf(stderr, "halo-agent: option '%s' needs a non-empty value\n", a);
				return -1;
			}
			continue;
		}
		if (strcmp(a, "--verbose") == 0)
			app->verbose++;
		else if (strspn(a + 1, "v") == strlen(a + 1) && a[1] == 'v')
			app->verbose += (int)strlen(a + 1);
		else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			app->quiet = true;
		else if (strcmp(a, "--json") == 0)
			app->json = true;
		else if (strcmp(a, "--version") == 0 && out == 1)
			g->version = true;
		else if ((strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) && out == 1)
			g->help = true;
		else if (out == 1) {
			fprintf(stderr, "halo-agent: unknown global option '%s'\n"
				"Try 'halo-agent --help' for more information.\n", a);
			return -1;
		} else {
			argv[out++] = argv[i]; /* the command's own option */
		}
	}
	argv[out] = NULL;
	return out;
}

static int resolve_paths(struct app *app, const struct globals *g,
			 char **owned_config, char **owned_data)
{
	const char *env_cfg = getenv("HALO_AGENT_CONFIG");
	const char *env_data = getenv("HALO_AGENT_DATA_DIR");
	bool explicit_cfg = g->config || (env_cfg && *env_cfg);
	char err[1024];

	if (g->config)
		app->config_path = g->config;
	else if (env_cfg && *env_cfg)
		app->config_path = env_cfg;
	else {
		char *dir = xdg_path("XDG_CONFIG_HOME", ".config");

		if (dir == NULL || asprintf(owned_config, "%s/config.yaml", dir) < 0) {
			free(dir);
			return cli_fail("out of memory");
		}
		free(dir);
		app->config_path = *owned_config;
	}
	config_init(&app->cfg);
	if (config_load(&app->cfg, app->config_path, explicit_cfg, print_warning,
			app, err, sizeof(err)) < 0)
		return cli_fail("%s", err);

	if (g->data_dir)
		app->data_dir = g->data_dir;
	else if (env_data && *env_data)
		app->data_dir = env_data;
	else if (app->cfg.data_dir && *app->cfg.data_dir)
		app->data_dir = app->cfg.data_dir;
	else {
		*owned_data = xdg_path("XDG_DATA_HOME", ".local/share");
		if (*owned_data == NULL)
			return cli_fail("out of memory");
		app->data_dir = *owned_data;
	}
	/* Relative to where the command started, made absolute once: the
	 * sandbox and the workspaces under it need absolute paths. */
	if (app->data_dir[0] != '/') {
		char cwd[PATH_MAX];
		char *abs;

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return cli_fail("cannot read the current directory");
		abs = malloc(strlen(cwd) + strlen(app->data_dir) + 2);
		if (abs == NULL)
			return cli_fail("out of memory");
		sprintf(abs, "%s/%s", cwd, app->data_dir);
		free(*owned_data);
		*owned_data = abs;
		app->data_dir = abs;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct app app = { 0 };
	struct globals g = { 0 };
	const struct cmd *cmd;
	char *owned_config = NULL, *owned_data = NULL;
	int rc;

	argc = take_globals(argc, argv, &app, &g);
	if (argc < 0)
		return EXIT_USAGE;
	if (g.version) {
		printf("halo-agent %s\n", HALO_VERSION);
		return EXIT_OK;
	}
	if (g.help || argc < 2) {
		print_main_usage(g.help ? stdout : stderr);
		return g.help ? EXIT_OK : EXIT_USAGE;
	}
	cmd = cli_find_command(argv[1]);
	if (cmd == NULL) {
		const char *names[64];
		size_t n = 0;
		const char *sug;

		for (const struct cmd *c = cli_commands; c->name && n < 63; c++)
			names[n++] = c->name;
		names[n] = NULL;
		sug = cli_suggest(argv[1], names);
		if (sug)
			fprintf(stderr, "halo-agent: unknown command '%s' (did you mean '%s'?)\n",
				argv[1], sug);
		else
			fprintf(stderr, "halo-agent: unknown command '%s'; "
				"'halo-agent help' lists the commands\n", argv[1]);
		return EXIT_USAGE;
	}
	rc = resolve_paths(&app, &g, &owned_config, &owned_data);
	if (rc == EXIT_OK) {
		optind = 1;
		rc = cmd->run(&app, argc - 1, argv + 1);
	}
	config_free(&app.cfg);
	free(owned_config);
	free(owned_data);
	return rc;
}
